//! What to tell a user whose call Rhai could not resolve: the API's own signatures from
//! help(), "did you mean" for near misses, `m.` when it is missing, and that properties are
//! read without `()`.

use super::help;

/// The machine's properties (registered getters; `help("arch")` lists them).
pub const PROPERTIES: [&str; 11] = [
    "arch",
    "design",
    "hotplug_driver",
    "page_size",
    "section_size",
    "block_size",
    "hotplug_base",
    "boot_ram",
    "boot_ram_end",
    "pmd_size",
    "dax_alignments",
];

/// Every name of the API, functions and properties.
fn api_names() -> impl Iterator<Item = &'static str> {
    help::DOCS
        .iter()
        .flat_map(|d| d.name.split(' '))
        .chain(PROPERTIES)
}

/// The API name `name` is probably a misspelling of.
pub fn did_you_mean(name: &str) -> Option<&'static str> {
    // No API name is near a name this long (and comparing costs its length squared).
    if name.len() > 64 {
        return None;
    }
    api_names()
        .filter(|n| *n != name)
        .map(|n| (strsim::levenshtein(name, n), n))
        .filter(|&(d, n)| d <= 2.max(n.len() / 4))
        .min()
        .map(|(_, n)| n)
}

/// A Rhai type name as a script writer knows it.
fn type_name(t: &str) -> &str {
    match t.trim() {
        "i64" | "i32" | "u64" | "usize" => "integer",
        "f64" | "f32" => "float",
        "bool" => "bool",
        "char" => "char",
        "()" => "()",
        t if t.contains("ImmutableString") || t == "&str" || t == "String" => "string",
        t if t.ends_with("Map") => "map",
        t if t.ends_with("Array") || t.contains("Vec<Dynamic>") => "array",
        t if t.contains("FnPtr") => "function",
        t if t.contains("Range") => "range",
        "Machine" => "Machine",
        t => t,
    }
}

/// The message for Rhai's "Function not found: NAME (ARG TYPES)".
pub fn function_not_found(signature: &str) -> String {
    let (name, args) = match signature.split_once(" (") {
        Some((n, a)) => (n.trim(), a.trim_end_matches(')')),
        None => (signature.trim(), ""),
    };
    let types: Vec<&str> = if args.is_empty() {
        Vec::new()
    } else {
        args.split(", ").map(type_name).collect()
    };
    let on_machine = types.first() == Some(&"Machine");
    if PROPERTIES.contains(&name) && on_machine && types.len() == 1 {
        return format!("{name} is a property: properties are read without () (m.{name})");
    }
    if let Some(doc) = help::DOCS
        .iter()
        .find(|d| d.name.split(' ').any(|n| n == name))
    {
        let method = doc.signature.starts_with("m.");
        if method && !on_machine {
            return format!(
                "{name} is called on a machine: {} (with `let m = boot(ARCH, CMDLINE);` first)",
                doc.signature
            );
        }
        let given = if method { &types[1..] } else { &types[..] };
        return format!(
            "{name} does not take ({}): {} (help(\"{name}\") explains it)",
            given.join(", "),
            doc.signature
        );
    }
    // The kernel's online types are what m.online() writes, not functions.
    if let Some(t) = ["online_movable", "online_kernel"]
        .into_iter()
        .find(|t| *t == name)
    {
        return format!(
            "no function {name}: {t} is an online type, m.online's third argument: \
             m.online(start, size, \"{t}\")"
        );
    }
    match did_you_mean(name) {
        Some(n) => format!(
            "no function {name} ({}): did you mean {n}? help() lists the API",
            types.join(", ")
        ),
        None => format!("no function {name} ({})", types.join(", ")),
    }
}

/// The message for an unknown property of a machine, or of a map.
pub fn property_not_found(name: &str, on_machine: bool) -> String {
    let name = &*mm::error::clip(name);
    let hint = match did_you_mean(name) {
        Some(n) if on_machine && PROPERTIES.contains(&n) => format!(": did you mean m.{n}?"),
        Some(n) if on_machine => format!(": did you mean m.{n}(...)?"),
        _ => String::new(),
    };
    if on_machine {
        format!("a machine has no property {name}{hint} (help(\"arch\") lists its properties)")
    } else if PROPERTIES.contains(&name) {
        // A machine's property asked of something else: most often `m` is no longer one.
        format!(
            "no property {name}: this value is not a machine (is m still one? \
             m = boot(ARCH, CMDLINE) makes one)"
        )
    } else {
        format!("no property {name}: not a key of this map, nor a property of this value")
    }
}

/// The message for an unknown variable.
pub fn variable_not_found(name: &str) -> String {
    let name = &*mm::error::clip(name);
    if name == "m" {
        return "no variable m: a script boots its own machine, `let m = boot(ARCH, \
                CMDLINE);` (the REPL and the UI bind m for you)"
            .to_string();
    }
    match did_you_mean(name) {
        Some(n) => format!("no variable {name}: did you mean {n}?"),
        None => format!("no variable {name}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hints() {
        assert!(function_not_found("add_memroy (Machine, i64, i64)")
            .contains("did you mean add_memory?"));
        let s =
            function_not_found("add_memory (Machine, i64, &str | ImmutableString | String, i64)");
        assert!(
            s.starts_with(
                "add_memory does not take (integer, string, integer): m.add_memory(start, size)"
            ),
            "{s}"
        );
        assert!(function_not_found("add_memory (i64, i64)").contains("is called on a machine"));
        assert!(function_not_found("arch (Machine)").contains("properties are read without ()"));
        assert_eq!(
            function_not_found("frobnicate (i64)"),
            "no function frobnicate (integer)"
        );
        assert!(property_not_found("arhc", true).contains("did you mean m.arch?"));
        assert!(function_not_found("online_movable (Machine, i64, i64)")
            .contains("m.online(start, size, \"online_movable\")"));
        assert!(variable_not_found("m").contains("let m = boot(ARCH, CMDLINE);"));
    }
}
