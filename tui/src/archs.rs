//! `hotplug-lab archs`: every architecture's parameters side by side, the way each backend
//! and a default 2 GiB QEMU guest of it see them.

use arch::{human, Arch};
use mm::{BootSpec, Machine};
use std::fmt::Write;

/// One row of the table: a label and a value per architecture.
struct Row {
    label: &'static str,
    values: Vec<String>,
}

fn boot(a: &dyn Arch, cmdline: &str) -> Option<Machine> {
    let mut spec = BootSpec::new(a.name());
    spec.cmdline = cmdline.to_string();
    Machine::boot(&spec).ok()
}

/// What memmap_on_memory does with the default block size: with `=1`, and with `force`.
fn memmap_on_memory(a: &dyn Arch) -> String {
    if !a.memmap_on_memory_enable() {
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
fn zones(a: &dyn Arch, m: Option<&Machine>) -> String {
    let start = m.and_then(|m| m.boot_info().ram.first()).map_or(0, |r| r.0);
    let l = a.zone_limits(start, 1 << 40);
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

/// The table as text.
pub fn table() -> String {
    let archs: Vec<&'static dyn Arch> = arch::NAMES
        .iter()
        .filter_map(|n| arch::lookup(n).ok())
        .collect();
    let machines: Vec<Option<Machine>> = archs.iter().map(|a| boot(*a, "")).collect();
    let col = |f: &dyn Fn(&dyn Arch, Option<&Machine>) -> String| -> Vec<String> {
        archs
            .iter()
            .zip(&machines)
            .map(|(a, m)| f(*a, m.as_ref()))
            .collect()
    };
    let rows = vec![
        Row {
            label: "page size",
            values: col(&|a, _| human(a.geometry().page_size)),
        },
        Row {
            label: "PMD / PUD",
            values: col(&|a, _| {
                format!(
                    "{} / {}",
                    human(a.geometry().pmd_size),
                    human(a.geometry().pud_size)
                )
            }),
        },
        Row {
            label: "SECTION_SIZE_BITS",
            values: col(&|a, _| {
                format!(
                    "{} ({})",
                    a.geometry().section_size_bits,
                    human(a.geometry().section_size)
                )
            }),
        },
        Row {
            label: "sub-sections/section",
            values: col(&|a, _| a.geometry().subsections_per_section.to_string()),
        },
        Row {
            label: "MAX_PHYSMEM_BITS",
            values: col(&|a, _| a.geometry().max_physmem_bits.to_string()),
        },
        Row {
            label: "struct page",
            values: col(&|a, _| format!("{} B", a.geometry().struct_page_size)),
        },
        Row {
            label: "memmap per section",
            values: col(&|a, _| human(a.geometry().section_memmap_bytes)),
        },
        Row {
            label: "pageblock order",
            values: col(&|a, _| {
                format!(
                    "{} ({})",
                    a.geometry().pageblock_order,
                    human(a.geometry().pageblock_nr_pages * a.geometry().page_size)
                )
            }),
        },
        Row {
            label: "MAX_PAGE_ORDER",
            values: col(&|a, _| a.geometry().max_page_order.to_string()),
        },
        Row {
            label: "low zones",
            values: col(&|a, m| zones(a, m)),
        },
        Row {
            label: "memory block (2G)",
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
            values: col(&|a, _| yes_no(a.hugetlb_vmemmap_optimize())),
        },
        Row {
            label: "ZONE_DEVICE",
            values: col(&|a, _| {
                if a.zone_device() {
                    format!("yes, from {}", human(a.memremap_compat_align()))
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
                let g = a.geometry();
                let gains = a.dax_alignments().iter().any(|al| {
                    (al / g.page_size) * g.struct_page_size / g.page_size
                        > mm::sparse::VMEMMAP_RESERVE_NR
                });
                match (a.dax_vmemmap_optimize(), gains) {
                    (true, true) => "yes".to_string(),
                    (true, false) => "selected, never gains".to_string(),
                    _ => "no".to_string(),
                }
            }),
        },
        Row {
            label: "huge page sizes",
            values: col(&|a, _| {
                a.hugepage_sizes()
                    .iter()
                    .map(|s| human(*s))
                    .collect::<Vec<_>>()
                    .join(" ")
            }),
        },
        Row {
            label: "RAM (2G guest)",
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
            label: "hot-add driver",
            values: col(&|a, _| short_driver(a)),
        },
    ];
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
    let mut out = String::new();
    let _ = write!(out, "{:label_w$}", "");
    for (a, w) in archs.iter().zip(&widths) {
        let _ = write!(out, "  {:<w$}", a.name());
    }
    out.truncate(out.trim_end().len());
    out.push('\n');
    for r in &rows {
        let _ = write!(out, "{:label_w$}", r.label);
        for (v, w) in r.values.iter().zip(&widths) {
            let _ = write!(out, "  {v:<w$}");
        }
        out.truncate(out.trim_end().len());
        out.push('\n');
    }
    out.push_str("\nHow each arch decides the memory block size and maps the vmemmap:\n");
    for (a, m) in archs.iter().zip(&machines) {
        let how = m
            .as_ref()
            .map(|m| m.boot_info().block_size_how.clone())
            .unwrap_or_default();
        let _ = writeln!(out, "  {:<13} {}", a.name(), a.description());
        let _ = writeln!(out, "  {:<13} block size: {how}", "");
        let _ = writeln!(
            out,
            "  {:<13} vmemmap: {}; altmap: {}",
            "",
            a.vmemmap_mapping(),
            a.vmemmap_uses_altmap()
        );
        let _ = writeln!(out, "  {:<13} hot-add: {}", "", a.hotplug_driver().name);
    }
    out
}

fn yes_no(b: bool) -> String {
    if b { "yes" } else { "no" }.to_string()
}

fn short_mapping(a: &dyn Arch) -> String {
    let m = a.vmemmap_mapping();
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

fn short_driver(a: &dyn Arch) -> String {
    let d = a.hotplug_driver().name;
    d.split(" (").next().unwrap_or(d).to_string()
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
