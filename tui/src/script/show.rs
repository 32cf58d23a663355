//! How values read to people: physical addresses in hex as the kernel prints them, sizes
//! with their unit beside them, runs of blocks as lsmem writes them, and a REPL's result in
//! one short line (the whole of it in `ans`). Values stay what they are: only the text knows
//! which fields are addresses.

use super::api::BlockRun;
use rhai::{Dynamic, Map};

/// The REPL variable that holds the last result shown.
pub const ANS: &str = "ans";

/// Fields and properties that hold a physical address.
const ADDRESSES: [&str; 6] = [
    "start",
    "end",
    "hotplug_base",
    "boot_ram_end",
    "base",
    "addr",
];

/// Whether a field or property of this name holds a physical address.
pub fn is_address(name: &str) -> bool {
    ADDRESSES.contains(&name)
}

/// Whether it holds a size in bytes.
fn is_size(name: &str) -> bool {
    name == "size" || name.ends_with("_size") || name == "boot_ram" || name == "align"
}

/// An integer field as people read it: an address in hex, a size as `128M`.
pub fn field(name: &str, v: i64) -> String {
    match u64::try_from(v) {
        Ok(u) if is_address(name) => format!("{u:#x}"),
        Ok(u) if is_size(name) && u > 0 => arch::human(u),
        _ => v.to_string(),
    }
}

/// The longest a REPL's result line is before it is cut.
const LINE: usize = 160;

/// A REPL's echo of the value of `src`: scalars as they are (an address or a size read
/// from a property also in hex or with its unit), maps and arrays in one short line.
pub fn echo(src: &str, v: &Dynamic) -> String {
    if let Ok(i) = v.as_int() {
        // `m.hotplug_base`, `r.start`: the name the input ends with says what it is
        // (`r.blocks.start` is a block id).
        let tail: Vec<&str> = src
            .trim()
            .trim_end_matches(';')
            .rsplit('.')
            .take(2)
            .map(str::trim)
            .collect();
        if let Some(&name) = tail.first() {
            let plain = name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if plain && tail.len() == 2 && !tail[1].ends_with("blocks") {
                let shown = field(name, i);
                if shown != i.to_string() {
                    return format!("{shown} ({i})");
                }
            }
        }
        return i.to_string();
    }
    if let Some(m) = v.read_lock::<Map>() {
        // As many whole fields as fit the line.
        let mut out = String::from("#{");
        let mut whole = true;
        for (i, (f, w)) in fields(&m, 0).into_iter().enumerate() {
            let sep = if i == 0 { "" } else { ", " };
            if out.chars().count() + sep.len() + f.chars().count() > LINE {
                return format!("{out}, …}} (print({ANS}) shows it whole)");
            }
            out.push_str(sep);
            out.push_str(&f);
            whole &= w;
        }
        out.push('}');
        if !whole {
            out.push_str(&format!(" (print({ANS}) shows it whole)"));
        }
        return out;
    }
    if v.is::<rhai::Array>() {
        let mut out = String::new();
        let whole = short(v, None, &mut out, 0);
        if !whole || out.chars().count() > LINE {
            let cut: String = out.chars().take(LINE).collect();
            return format!("{cut} … (print({ANS}) shows it whole)");
        }
        return out;
    }
    v.to_string()
}

/// A map's fields, each as `key: value` and whether it is whole: the fields that say what
/// it is first, then numbers and flags, then lists, then text (reasons, names); nothing
/// for ().
fn fields(m: &Map, depth: usize) -> Vec<(String, bool)> {
    let lead = [
        "id", "nr", "start", "size", "blocks", "state", "zone", "first", "count",
    ];
    let rank = |x: &Dynamic| {
        if x.is_string() {
            2
        } else if x.is::<rhai::Array>() || x.is::<Map>() {
            1
        } else {
            0
        }
    };
    let mut rest: Vec<(usize, &str)> = m
        .iter()
        .filter(|(k, _)| !lead.contains(&k.as_str()))
        .map(|(k, x)| (rank(x), k.as_str()))
        .collect();
    rest.sort();
    lead.iter()
        .copied()
        .filter(|k| m.contains_key(*k))
        .chain(rest.into_iter().map(|(_, k)| k))
        .filter(|k| !m[*k].is_unit())
        .map(|k| {
            let mut text = format!("{k}: ");
            let whole = short(&m[k], Some(k), &mut text, depth + 1);
            (text, whole)
        })
        .collect()
}

/// Write `v` shortly into `out`; false when something was left out.
fn short(v: &Dynamic, key: Option<&str>, out: &mut String, depth: usize) -> bool {
    if out.len() > LINE * 2 {
        return false;
    }
    if let Ok(i) = v.as_int() {
        out.push_str(&key.map_or_else(|| i.to_string(), |k| field(k, i)));
        return true;
    }
    if let Some(r) = v.read_lock::<BlockRun>() {
        out.push_str(&r.to_string());
        return true;
    }
    if let Some(s) = v.read_lock::<rhai::ImmutableString>() {
        let clipped: String = s.chars().take(40).collect();
        let more = clipped.len() < s.len();
        out.push_str(&format!("{clipped:?}"));
        if more {
            out.push('…');
        }
        return !more;
    }
    if let Some(a) = v.read_lock::<rhai::Array>() {
        // A device's blocks, as lsmem writes runs of them: "32-39,48".
        if key == Some("blocks") && !a.is_empty() {
            if let Some(ids) = a
                .iter()
                .map(|x| x.as_int().ok())
                .collect::<Option<Vec<_>>>()
            {
                out.push_str(&block_runs(&ids));
                return true;
            }
        }
        out.push('[');
        let mut whole = true;
        let show = if depth > 0 { 3 } else { 8 };
        for (i, x) in a.iter().take(show).enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            whole &= short(x, None, out, depth + 1);
        }
        if a.len() > show {
            out.push_str(&format!(", … {} more", a.len() - show));
            whole = false;
        }
        out.push(']');
        return whole;
    }
    if let Some(m) = v.read_lock::<Map>() {
        if depth > 1 {
            out.push_str("#{…}");
            return m.is_empty();
        }
        let fields = fields(&m, depth);
        out.push_str("#{");
        out.push_str(
            &fields
                .iter()
                .map(|f| f.0.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        );
        out.push('}');
        return fields.iter().all(|f| f.1);
    }
    out.push_str(&v.to_string());
    true
}

/// Block numbers as lsmem writes runs of them: "32-39,48" (ascending runs of consecutive
/// numbers; the numbers in the order given).
fn block_runs(ids: &[i64]) -> String {
    let mut runs: Vec<String> = Vec::new();
    let mut i = 0;
    while i < ids.len() {
        let mut j = i;
        while j + 1 < ids.len() && ids[j + 1] == ids[j].wrapping_add(1) {
            j += 1;
        }
        runs.push(if i == j {
            ids[i].to_string()
        } else {
            format!("{}-{}", ids[i], ids[j])
        });
        i = j + 1;
    }
    runs.join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_device_s_blocks_as_runs() {
        assert_eq!(block_runs(&[32, 33, 34, 35, 36, 37, 38, 39]), "32-39");
        assert_eq!(block_runs(&[8, 9, 11]), "8-9,11");
        assert_eq!(block_runs(&[5]), "5");
    }

    #[test]
    fn addresses_in_hex_sizes_with_units() {
        assert_eq!(field("start", 4 << 30), "0x100000000");
        assert_eq!(field("hotplug_base", 4 << 30), "0x100000000");
        assert_eq!(field("size", 1 << 30), "1G");
        assert_eq!(field("nid", 3), "3");
        let v = Dynamic::from(4i64 << 30);
        assert_eq!(echo("m.hotplug_base", &v), "0x100000000 (4294967296)");
        assert_eq!(
            echo("m.block_size;", &Dynamic::from(128i64 << 20)),
            "128M (134217728)"
        );
        // A block id is not an address, and an expression is not a property.
        assert_eq!(echo("r.blocks.start", &Dynamic::from(32i64)), "32");
        assert_eq!(echo("m.hotplug_base / GiB", &Dynamic::from(4i64)), "4");
    }

    #[test]
    fn a_result_is_one_short_line() {
        let mut m = Map::new();
        m.insert("start".into(), Dynamic::from(4i64 << 30));
        m.insert("size".into(), Dynamic::from(1i64 << 30));
        m.insert(
            "blocks".into(),
            Dynamic::from(BlockRun { start: 32, end: 40 }),
        );
        m.insert("memmap_buddy_pages".into(), Dynamic::from(4096i64));
        m.insert("memmap_on_memory_refused".into(), Dynamic::UNIT);
        m.insert("onlined".into(), Dynamic::from(rhai::Array::new()));
        assert_eq!(
            echo("", &Dynamic::from(m)),
            "#{start: 0x100000000, size: 1G, blocks: 32-39, memmap_buddy_pages: 4096, onlined: []}"
        );
        let long: rhai::Array = (0..100).map(|i| Dynamic::from(i as i64)).collect();
        let e = echo("", &Dynamic::from(long));
        assert!(e.starts_with("[0, 1, 2, 3, 4, 5, 6, 7, … 92 more]"), "{e}");
        assert!(e.ends_with("(print(ans) shows it whole)"), "{e}");
    }
}
