//! `hotplug-lab kernels`: the modelled kernel versions and what differs between them.

use arch::{Kernel, DIFFERENCES, KERNELS};

/// The listing laid out for the terminal's width (see [`listing_for`]).
pub fn listing() -> String {
    listing_for(super::archs::width())
}

/// The listing: each version and what it was checked against, then one row per difference
/// with each version's value and where the kernel decides it: a table when it fits in
/// `width` columns, else each difference with one version per line; long lines wrapped.
pub fn listing_for(width: usize) -> String {
    let wrap = |text: &str, indent: usize, hang: usize| -> String {
        let room = width.saturating_sub(indent).max(20);
        crate::ui::render::wrap_hanging(text, room, hang)
            .into_iter()
            .map(|l| format!("{}{l}\n", " ".repeat(indent)))
            .collect()
    };
    let mut out = String::new();
    // Oldest first, whichever is the default.
    let mut kernels: Vec<&'static Kernel> = KERNELS.to_vec();
    kernels.sort_by_key(|k| k.version);
    for k in &kernels {
        let default = if std::ptr::eq(*k, arch::default_kernel()) {
            " (default)"
        } else {
            ""
        };
        out.push_str(&wrap(
            &format!(
                "Linux {}{default}: checked against {}",
                k.name, k.checked_against
            ),
            0,
            4,
        ));
    }
    out.push_str("\nWhat differs:\n");
    let mut rows: Vec<(String, Vec<String>, String)> = DIFFERENCES
        .iter()
        .map(|d| {
            (
                d.what.to_string(),
                kernels.iter().map(|k| (d.value)(k)).collect(),
                d.source.to_string(),
            )
        })
        .collect();
    let archs_where = |has: &dyn Fn(&arch::Config, &Kernel) -> bool| -> Vec<String> {
        kernels
            .iter()
            .map(|k| {
                let names: Vec<&str> = arch::Config::one_per_family()
                    .filter(|c| has(c, k))
                    .map(|c| c.name)
                    .collect();
                if names.is_empty() {
                    "none".to_string()
                } else {
                    names.join(" ")
                }
            })
            .collect()
    };
    let per_arch = |f: &dyn Fn(&arch::Config, &Kernel) -> Option<String>| -> Vec<String> {
        kernels
            .iter()
            .map(|k| {
                let v: Vec<String> = arch::Config::one_per_family()
                    .filter_map(|c| f(c, k).map(|v| format!("{} {v}", c.name)))
                    .collect();
                v.join(", ")
            })
            .collect()
    };
    rows.push((
        "hot-added memory onlined by default (Debian's config)".to_string(),
        archs_where(&|c, k| c.arch.default_online(k)),
        "mm/Kconfig MHP_DEFAULT_ONLINE_TYPE_* (6.12 on), MEMORY_HOTPLUG_DEFAULT_ONLINE (6.1)"
            .to_string(),
    ));
    rows.push((
        "section size".to_string(),
        per_arch(&|c, k| Some(arch::human(1u64 << c.arch.params(k).section_size_bits))),
        "arch/*/include/asm/sparsemem.h SECTION_SIZE_BITS (s390: 28, then 27 from 6.13)"
            .to_string(),
    ));
    rows.push((
        "ZONE_DEVICE (Debian's config)".to_string(),
        archs_where(&|c, k| c.arch.zone_device(k)),
        "Debian's configs: CONFIG_ZONE_DEVICE; mm/memremap.c memremap_pages()".to_string(),
    ));
    rows.push((
        "CMA built; its default area (Debian's config)".to_string(),
        per_arch(&|c, k| {
            c.arch.cma(k).map(|cma| match cma.dma {
                Some(0) | None => "0".to_string(),
                Some(n) => arch::human(n),
            })
        }),
        "Debian's configs: CMA, DMA_CMA, CMA_SIZE_MBYTES (kernel/dma/contiguous.c)".to_string(),
    ));
    rows.push((
        "virtio-mem (Debian's config)".to_string(),
        archs_where(&|c, k| c.arch.virtio_mem(k)),
        "Debian's configs: CONFIG_VIRTIO_MEM".to_string(),
    ));
    rows.push((
        "memmap_on_memory on the architecture".to_string(),
        archs_where(&|c, k| c.arch.memmap_on_memory_enable(k)),
        "arch/*/Kconfig: ARCH_MHP_MEMMAP_ON_MEMORY_ENABLE".to_string(),
    ));
    rows.push((
        "device-dax vmemmap deduplication on the architecture".to_string(),
        archs_where(&|c, k| c.arch.zone_device(k) && c.arch.dax_vmemmap_optimize(k)),
        "include/linux/mm.h vmemmap_can_optimize(): ARCH_WANT_OPTIMIZE_DAX_VMEMMAP (6.12), \
         ARCH_WANT_HUGETLB_PAGE_OPTIMIZE_VMEMMAP (6.1)"
            .to_string(),
    ));
    rows.push((
        "1 GiB (PUD) device-dax alignment on the architecture".to_string(),
        archs_where(&|c, k| c.arch.zone_device(k) && c.arch.has_transparent_pud_hugepage(k)),
        "drivers/dax/dax-private.h dax_align_valid(): HAVE_ARCH_TRANSPARENT_HUGEPAGE_PUD"
            .to_string(),
    ));
    let header: Vec<String> = kernels.iter().map(|k| k.name.to_string()).collect();
    let w0 = rows.iter().map(|r| r.0.len()).max().unwrap_or(0);
    let widths: Vec<usize> = (0..kernels.len())
        .map(|i| {
            rows.iter()
                .map(|r| r.1[i].len())
                .chain([header[i].len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let table_width = 2 + w0 + widths.iter().map(|w| w + 2).sum::<usize>();
    if table_width > width {
        // One difference at a time, one version per line.
        let vw = header.iter().map(String::len).max().unwrap_or(0);
        for (what, vals, source) in rows {
            out.push_str(&wrap(&what, 2, 2));
            for (h, v) in header.iter().zip(&vals) {
                out.push_str(&wrap(&format!("{h:<vw$}  {v}"), 6, vw + 2));
            }
            out.push_str(&wrap(&format!("({source})"), 6, 1));
        }
    } else {
        table(&mut out, &header, &widths, w0, rows, &wrap);
    }
    out.push_str("\nWhat changed that the model does not do:\n");
    for n in arch::NOT_MODELLED {
        out.push_str(&wrap(
            &format!("{} {} ({})", n.kernel, n.what, n.source),
            2,
            4,
        ));
        out.push_str(&wrap(n.why, 6, 0));
    }
    out
}

/// The differences as a table: a column per version, each source on the line below.
fn table(
    out: &mut String,
    header: &[String],
    widths: &[usize],
    w0: usize,
    rows: Vec<(String, Vec<String>, String)>,
    wrap: &dyn Fn(&str, usize, usize) -> String,
) {
    let mut line = format!("  {:<w0$}", "");
    for (h, w) in header.iter().zip(widths) {
        line.push_str(&format!("  {h:<w$}"));
    }
    out.push_str(line.trim_end());
    out.push('\n');
    for (what, vals, source) in rows {
        let mut line = format!("  {what:<w0$}");
        for (v, w) in vals.iter().zip(widths) {
            line.push_str(&format!("  {v:<w$}"));
        }
        out.push_str(line.trim_end());
        out.push('\n');
        out.push_str(&wrap(&format!("({source})"), w0 + 4, 1));
    }
}

#[cfg(test)]
mod tests {
    /// In a narrow terminal no line is wider than it, and every fact is still there.
    #[test]
    fn a_narrow_terminal_gets_no_line_wider_than_it() {
        let t = super::listing_for(80);
        let long: Vec<&str> = t.lines().filter(|l| l.chars().count() > 80).collect();
        assert!(long.is_empty(), "{long:#?}");
        for d in arch::DIFFERENCES {
            assert!(t.contains(d.what), "{t}");
        }
        let row = t.find("memmap_on_memory on the architecture").unwrap();
        assert!(
            t[row..].lines().nth(1).unwrap().trim() == "6.1   x86_64 arm64",
            "{}",
            &t[row..]
        );
    }

    #[test]
    fn lists_every_version_and_difference() {
        let t = super::listing_for(usize::MAX);
        assert!(t.contains("Linux 6.12 (default)"), "{t}");
        assert!(t.contains("Linux 6.1: checked against"), "{t}");
        for d in arch::DIFFERENCES {
            assert!(t.contains(d.what), "{t}");
        }
        // 6.1 has memmap_on_memory on x86_64 and arm64 only.
        let row = t
            .lines()
            .find(|l| l.contains("memmap_on_memory on the architecture"))
            .unwrap();
        let cols: Vec<&str> = row
            .split("  ")
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .collect();
        assert_eq!(
            cols[1..],
            [
                "x86_64 arm64",
                "x86_64 arm64 powerpc s390",
                "x86_64 arm64 powerpc s390"
            ],
            "{row}"
        );
        // Device-dax dedup and 1 GiB alignment came to powerpc after 6.1
        // (arch/powerpc/Kconfig, platforms/Kconfig.cputype).
        for what in [
            "device-dax vmemmap deduplication",
            "1 GiB (PUD) device-dax alignment",
        ] {
            let row = t.lines().find(|l| l.contains(what)).unwrap();
            let cols: Vec<&str> = row
                .split("  ")
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .collect();
            assert_eq!(
                cols[1..],
                ["x86_64", "x86_64 powerpc", "x86_64 powerpc"],
                "{row}"
            );
        }
    }
}
