//! `hotplug-lab archs`: every architecture's parameters side by side, the way each backend
//! and a default 2 GiB QEMU guest of it see them.

use arch::{human, Target};
use mm::{BootSpec, Machine};
use std::fmt::Write;

/// One row of the table: a label and a value per architecture.
struct Row {
    label: &'static str,
    values: Vec<String>,
}

fn boot(t: &Target, cmdline: &str) -> Option<Machine> {
    let mut spec = BootSpec::new(*t);
    spec.cmdline = cmdline.to_string();
    Machine::boot(&spec).ok()
}

/// What memmap_on_memory does with the default block size: with `=1`, and with `force`.
fn memmap_on_memory(a: &Target) -> String {
    if !a.arch().memmap_on_memory_enable(a.kernel) {
        return "no (not selected)".to_string();
    }
    let one =
        boot(a, "memory_hotplug.memmap_on_memory=1").map(|m| m.mhp_supports_memmap_on_memory());
    let force = boot(a, "memory_hotplug.memmap_on_memory=force").map(|m| {
        (
            m.mhp_supports_memmap_on_memory(),
            m.memmap_on_memory_waste(),
        )
    });
    match (one, force) {
        (Some(Ok(())), _) => "yes".to_string(),
        (_, Some((Ok(()), waste))) => format!("force (wastes {waste}/block)"),
        (_, Some((Err(e), _))) if e.contains("radix") => "no (radix only)".to_string(),
        (_, Some((Err(e), _))) if e.contains("whole memory block") => {
            "no (pageblock = block)".to_string()
        }
        (_, Some((Err(e), _))) if e.contains("PMD_SIZE") => "no (not whole PMDs)".to_string(),
        _ => "no".to_string(),
    }
}

/// The low-zone boundaries the arch sets (for RAM from its usual start to far above 4G).
fn zones(a: &Target, m: Option<&Machine>) -> String {
    let start = m.and_then(|m| m.boot_info().ram.first()).map_or(0, |r| r.0);
    let l = a.arch().zone_limits(start, 1 << 40);
    let mut v = Vec::new();
    let mut below = 0;
    if let Some(d) = l.dma {
        v.push(format!("DMA<{}", human(d)));
        below = d;
    }
    if let Some(d) = l.dma32.filter(|&d| d > below) {
        v.push(format!("DMA32<{}", human(d)));
    }
    if v.is_empty() {
        "Normal only".to_string()
    } else {
        v.join(" ")
    }
}

/// The rows of the table for `archs`, and a default 2 GiB guest of each.
fn rows(archs: &[Target], machines: &[Option<Machine>]) -> Vec<Row> {
    let col = |f: &dyn Fn(&Target, Option<&Machine>) -> String| -> Vec<String> {
        archs
            .iter()
            .zip(machines)
            .map(|(a, m)| f(a, m.as_ref()))
            .collect()
    };
    vec![
        Row {
            label: "page size",
            values: col(&|a, _| human(a.geometry.page_size)),
        },
        Row {
            label: "PMD / PUD",
            values: col(&|a, _| {
                format!(
                    "{} / {}",
                    human(a.geometry.pmd_size),
                    human(a.geometry.pud_size)
                )
            }),
        },
        Row {
            label: "SECTION_SIZE_BITS",
            values: col(&|a, _| {
                format!(
                    "{} ({})",
                    a.geometry.section_size_bits,
                    human(a.geometry.section_size)
                )
            }),
        },
        Row {
            label: "sub-sections/section",
            values: col(&|a, _| a.geometry.subsections_per_section.to_string()),
        },
        Row {
            label: "MAX_PHYSMEM_BITS",
            values: col(&|a, _| a.geometry.max_physmem_bits.to_string()),
        },
        Row {
            label: "struct page",
            values: col(&|a, _| format!("{} B", a.geometry.struct_page_size)),
        },
        Row {
            label: "memmap per section",
            values: col(&|a, _| human(a.geometry.section_memmap_bytes)),
        },
        Row {
            label: "pageblock order",
            values: col(&|a, _| {
                format!(
                    "{} ({})",
                    a.geometry.pageblock_order,
                    human(a.geometry.pageblock_nr_pages * a.geometry.page_size)
                )
            }),
        },
        Row {
            label: "MAX_PAGE_ORDER",
            values: col(&|a, _| a.geometry.max_page_order.to_string()),
        },
        Row {
            label: "low zones",
            values: col(&|a, m| zones(a, m)),
        },
        Row {
            label: "block on a 2 GiB guest",
            values: col(&|_, m| m.map(|m| human(m.block_size())).unwrap_or_default()),
        },
        Row {
            label: "vmemmap mapping",
            values: col(&|a, _| short_mapping(a)),
        },
        Row {
            label: "memmap_on_memory",
            values: col(&|a, _| memmap_on_memory(a)),
        },
        Row {
            label: "HugeTLB vmemmap opt.",
            values: col(&|a, _| yes_no(a.arch().hugetlb_vmemmap_optimize())),
        },
        Row {
            label: "ZONE_DEVICE",
            values: col(&|a, _| {
                if a.zone_device() {
                    format!("yes, from {}", human(a.arch().memremap_compat_align()))
                } else {
                    "no".to_string()
                }
            }),
        },
        Row {
            label: "device-dax aligns",
            values: col(&|a, _| {
                let v: Vec<String> = a.dax_alignments().iter().map(|x| human(*x)).collect();
                if v.is_empty() {
                    "-".to_string()
                } else {
                    v.join(" ")
                }
            }),
        },
        Row {
            label: "device-dax dedup",
            values: col(&|a, _| {
                // __vmemmap_can_optimize(): a compound page must need more than
                // VMEMMAP_RESERVE_NR (2) vmemmap pages.
                let g = &a.geometry;
                let gains = a.dax_alignments().iter().any(|al| {
                    (al / g.page_size) * g.struct_page_size / g.page_size
                        > mm::sparse::VMEMMAP_RESERVE_NR
                });
                match (a.arch().dax_vmemmap_optimize(a.kernel), gains) {
                    (true, true) => "yes".to_string(),
                    (true, false) => "selected, never gains".to_string(),
                    _ => "no".to_string(),
                }
            }),
        },
        Row {
            label: "virtio-mem",
            values: col(&|a, _| {
                if a.arch().virtio_mem(a.kernel) {
                    "yes".to_string()
                } else {
                    "no (Kconfig)".to_string()
                }
            }),
        },
        Row {
            label: "huge page sizes",
            values: col(&|a, _| {
                // Sizes that need a CPU feature (x86's 1G needs GBPAGES) are marked.
                let bare = a.arch().cpu_hugepage_sizes(&arch::CpuFeatures {
                    gbpages: false,
                    direct_gbpages: false,
                });
                a.arch()
                    .hugepage_sizes()
                    .iter()
                    .map(|s| {
                        if bare.contains(s) {
                            human(*s)
                        } else {
                            format!("{} (GBPAGES)", human(*s))
                        }
                    })
                    .collect::<Vec<_>>()
                    .join(" ")
            }),
        },
        Row {
            label: "RAM on a 2 GiB guest",
            values: col(&|_, m| m.map(ram_ranges).unwrap_or_default()),
        },
        Row {
            label: "hot-plug from",
            values: col(&|_, m| {
                m.map(|m| human(m.boot_info().hotplug_base))
                    .unwrap_or_default()
            }),
        },
        Row {
            label: "m.plug drivers",
            values: col(&|a, _| short_driver(a)),
        },
    ]
}

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Architectures to show (any name --arch takes, all, every) [default: every]
    names: Vec<String>,
    /// One JSON array of objects, one per architecture, with sizes in bytes.
    #[arg(long)]
    json: bool,
}

pub fn command(a: Args) -> std::process::ExitCode {
    let archs = match pick(&a.names) {
        Ok(t) => t,
        Err(e) => {
            crate::output::warn(&format!("hotplug-lab archs: {e}"));
            return std::process::ExitCode::from(2);
        }
    };
    let text = if a.json {
        format!(
            "{}\n",
            serde_json::to_string_pretty(&json(&archs)).unwrap_or_default()
        )
    } else {
        layout(&archs, width())
    };
    crate::output::emit_or_fail("archs", &text, std::process::ExitCode::SUCCESS)
}

/// The configurations `names` picks (every one when empty), on the default version.
pub fn pick(names: &[String]) -> Result<Vec<Target>, String> {
    let configs: Vec<&'static arch::Config> = if names.is_empty() {
        arch::CONFIGS.iter().collect()
    } else {
        super::arch_list(&names.join(","))?
    };
    Ok(configs
        .into_iter()
        .map(|c| Target::new(c, arch::default_kernel()))
        .collect())
}

/// The width to lay the table out for: $COLUMNS, else the terminal's, else 100.
pub fn width() -> usize {
    if let Some(c) = std::env::var("COLUMNS").ok().and_then(|c| c.parse().ok()) {
        return c;
    }
    use std::io::IsTerminal;
    if std::io::stdout().is_terminal() {
        if let Ok((w, _)) = crossterm::terminal::size() {
            return w as usize;
        }
    }
    100
}

/// Every architecture's parameters, side by side (the whole table, however wide).
pub fn table() -> String {
    layout(&pick(&[]).unwrap_or_default(), usize::MAX)
}

/// The parameters of `archs` laid out for `width` columns: side by side as far as they fit,
/// in as many tables as it takes, and the per-arch notes wrapped.
pub fn layout(archs: &[Target], width: usize) -> String {
    let machines: Vec<Option<Machine>> = archs.iter().map(|a| boot(a, "")).collect();
    let rows = rows(archs, &machines);
    let label_w = rows.iter().map(|r| r.label.len()).max().unwrap_or(0);
    let widths: Vec<usize> = (0..archs.len())
        .map(|i| {
            rows.iter()
                .map(|r| r.values[i].len())
                .chain([archs[i].name().len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    // Split the columns into groups that fit (at least one per group).
    let mut groups: Vec<Vec<usize>> = Vec::new();
    let mut used = label_w;
    for (i, w) in widths.iter().enumerate() {
        match groups.last_mut() {
            Some(g) if used + 2 + w <= width => g.push(i),
            _ => {
                groups.push(vec![i]);
                used = label_w;
            }
        }
        used += 2 + w;
    }
    let mut out = String::new();
    for (n, g) in groups.iter().enumerate() {
        if n > 0 {
            out.push('\n');
        }
        let _ = write!(out, "{:label_w$}", "");
        for &i in g {
            let _ = write!(out, "  {:<w$}", archs[i].name(), w = widths[i]);
        }
        out.truncate(out.trim_end().len());
        out.push('\n');
        for r in &rows {
            let _ = write!(out, "{:label_w$}", r.label);
            for &i in g {
                let _ = write!(out, "  {:<w$}", r.values[i], w = widths[i]);
            }
            out.truncate(out.trim_end().len());
            out.push('\n');
        }
    }
    out.push_str("\nHow each arch picks its block size and maps the vmemmap:\n");
    let name_w = archs
        .iter()
        .map(|a| a.name().len())
        .max()
        .unwrap_or(0)
        .max(13);
    for (a, m) in archs.iter().zip(&machines) {
        let how = m
            .as_ref()
            .map(|m| m.boot_info().block_size_how.clone())
            .unwrap_or_default();
        let lines = [
            a.config.description.to_string(),
            format!("block size: {how}"),
            format!(
                "vmemmap: {}; altmap: {}",
                a.arch().vmemmap_mapping(a),
                a.arch().vmemmap_uses_altmap()
            ),
            format!(
                "m.plug: {}{}",
                a.arch()
                    .hotplug_driver(a.kernel)
                    .drivers
                    .iter()
                    .map(|d| format!("{} = {}", d.name(), d.title()))
                    .collect::<Vec<_>>()
                    .join(", "),
                if a.arch().hotplug_driver(a.kernel).drivers == [arch::PlatformDriver::Sclp] {
                    "; no s390 driver calls remove_memory()"
                } else {
                    ""
                }
            ),
        ];
        for (k, l) in lines.iter().enumerate() {
            let name = if k == 0 { a.name() } else { "" };
            for (j, piece) in wrap(l, width.saturating_sub(name_w + 5).max(20))
                .iter()
                .enumerate()
            {
                let lead = if j == 0 { "" } else { "  " };
                let _ = writeln!(
                    out,
                    "  {:<name_w$} {lead}{piece}",
                    if j == 0 { name } else { "" }
                );
            }
        }
    }
    out
}

/// `text` in lines of at most `width` characters, broken at spaces (and inside a word
/// longer than a line).
fn wrap(text: &str, width: usize) -> Vec<String> {
    let width = width.max(1);
    let mut out = Vec::new();
    let mut line = String::new();
    let mut words: Vec<String> = Vec::new();
    for w in text.split(' ') {
        let chars: Vec<char> = w.chars().collect();
        words.extend(chars.chunks(width).map(|c| c.iter().collect::<String>()));
    }
    for word in &words {
        if !line.is_empty() && line.len() + 1 + word.len() > width {
            out.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    out.push(line);
    out
}

/// The same facts as one JSON array of objects, one per architecture, with numbers as
/// numbers (bytes) and the notes whole.
pub fn json(archs: &[Target]) -> serde_json::Value {
    use serde_json::json;
    let v: Vec<serde_json::Value> = archs
        .iter()
        .map(|a| {
            let m = boot(a, "");
            let g = &a.geometry;
            json!({
                "name": a.name(),
                "description": a.config.description,
                "page_size": g.page_size,
                "pmd_size": g.pmd_size,
                "pud_size": g.pud_size,
                "section_size_bits": g.section_size_bits,
                "section_size": g.section_size,
                "subsections_per_section": g.subsections_per_section,
                "max_physmem_bits": g.max_physmem_bits,
                "struct_page_size": g.struct_page_size,
                "section_memmap_bytes": g.section_memmap_bytes,
                "pageblock_order": g.pageblock_order,
                "pageblock_bytes": g.pageblock_nr_pages * g.page_size,
                "max_page_order": g.max_page_order,
                "low_zones": zones(a, m.as_ref()),
                "memory_block_size_2g_guest": m.as_ref().map(|m| m.block_size()),
                "block_size_how": m.as_ref().map(|m| m.boot_info().block_size_how.clone()),
                "vmemmap_mapping": a.arch().vmemmap_mapping(a),
                "vmemmap_uses_altmap": a.arch().vmemmap_uses_altmap(),
                "memmap_on_memory": memmap_on_memory(a),
                "hugetlb_vmemmap_optimize": a.arch().hugetlb_vmemmap_optimize(),
                "zone_device": a.zone_device(),
                "memremap_compat_align": a.zone_device().then(|| a.arch().memremap_compat_align()),
                "dax_alignments": a.dax_alignments(),
                "hugepage_sizes": a.arch().hugepage_sizes(),
                "ram_2g_guest": m.as_ref().map(|m| m.boot_info().ram.clone()),
                "hotplug_base_2g_guest": m.as_ref().map(|m| m.boot_info().hotplug_base),
                "hotplug_driver": a.arch().hotplug_driver(a.kernel).name(),
                "platform_drivers": a.arch().hotplug_driver(a.kernel).drivers.iter().map(|d| d.name()).collect::<Vec<_>>(),
                "virtio_mem": a.arch().virtio_mem(a.kernel),
            })
        })
        .collect();
    serde_json::Value::Array(v)
}

fn yes_no(b: bool) -> String {
    if b { "yes" } else { "no" }.to_string()
}

fn short_mapping(a: &Target) -> String {
    let m = a.arch().vmemmap_mapping(a);
    let m = m.as_str();
    if m.starts_with("PMD leaves (2M) per section") {
        "PMD leaves"
    } else if m.starts_with("PMD leaves (2M) for full") {
        "PMD (full sections)"
    } else if m.starts_with("base pages") {
        "base pages"
    } else if m.starts_with("PMD leaves (2M) where") {
        "PMD where aligned"
    } else if m.starts_with("bolted") {
        "bolted 16M (hash)"
    } else {
        "1M frames"
    }
    .to_string()
}

fn short_driver(a: &Target) -> String {
    let names: Vec<&str> = a
        .arch()
        .hotplug_driver(a.kernel)
        .drivers
        .iter()
        .map(|d| d.name())
        .collect();
    names.join(", ")
}

fn ram_ranges(m: &Machine) -> String {
    let r = &m.boot_info().ram;
    let (s, e) = (r.first().map_or(0, |x| x.0), r.last().map_or(0, |x| x.1));
    format!(
        "{}-{}",
        human(s & !0xfffff),
        human(e.next_multiple_of(1 << 20))
    )
}
