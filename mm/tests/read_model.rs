//! The read model (mm::read) agrees with the state it is read from: the memmap extents of
//! every section add up to the vmemmap's own backing counters, origin by origin; blocks say
//! what their sysfs files say; the address map covers the address space without gaps; the
//! totals are the stats.

mod common;

use common::boot;
use mm::read::{RegionKind, SectionKind, Shared};
use mm::vmemmap::Origin;
use mm::{AddOptions, Machine, MemmapLocation, MemremapOptions, NamespaceMode};

const MIB: u64 = 1 << 20;
const GIB: u64 = 1 << 30;

/// A machine with every origin of struct pages and both kinds of sharing: boot memory, a
/// hot-added block with its memmap on itself, one with its memmap in RAM, two device-dax
/// namespaces with 2M compound pages (map=dev, and map=mem, which deduplicates where the
/// arch selects ARCH_WANT_OPTIMIZE_DAX_VMEMMAP), and HugeTLB pages with HVO (where it
/// selects ARCH_WANT_OPTIMIZE_HUGETLB_VMEMMAP).
fn busy_machine(arch: &str) -> Machine {
    let mut m = boot(arch, 8 * GIB, "hugetlb_free_vmemmap=on");
    let base = m.boot_info().hotplug_base;
    let bs = m.block_size();
    let with = |on| AddOptions {
        memmap_on_memory: Some(on),
        ..AddOptions::default()
    };
    m.add_memory(base, 2 * bs, &with(true)).unwrap();
    m.add_memory(base + 2 * bs, 2 * bs, &with(false)).unwrap();
    if m.target().zone_device() {
        for (i, map) in [MemmapLocation::Dev, MemmapLocation::Mem]
            .into_iter()
            .enumerate()
        {
            let opts = MemremapOptions {
                map: Some(map),
                mode: Some(NamespaceMode::DevDax),
                align: Some(2 * MIB),
                node: None,
            };
            m.memremap_pages(base + (16 + 4 * i as u64) * GIB, 2 * GIB, &opts)
                .unwrap();
        }
    }
    m.write("/proc/sys/vm/nr_hugepages", "64").unwrap();
    m.check().unwrap();
    m
}

#[test]
fn the_memmap_extents_add_up_to_the_vmemmap_counters() {
    for arch in ["x86_64", "arm64", "powerpc", "s390"] {
        let m = busy_machine(arch);
        let (first, _) = m.sections().present().next().unwrap();
        let (last, _) = m.sections().present().last().unwrap();
        let ss = m.geometry().section_size;
        let (lo, hi) = (first.0 * ss, (last.0 + 1) * ss);
        let mut by_origin = [0u64; 4];
        let mut shared = 0;
        for e in m.memmap_extents(lo, hi - lo) {
            let i = Origin::ALL
                .iter()
                .position(|o| o.name() == e.origin)
                .unwrap();
            by_origin[i] += e.backing_pages;
            assert!(e.backing_pages <= e.vmemmap_pages, "{arch}: {e:?}");
            assert!(e.first_pfn < e.end_pfn, "{arch}: {e:?}");
            if let Shared::Dedup { .. } = e.sharing {
                shared += 1;
            }
        }
        for (i, o) in Origin::ALL.iter().enumerate() {
            assert_eq!(
                by_origin[i],
                m.vmemmap().counters().backing(*o),
                "{arch}: {} pages",
                o.name()
            );
        }
        // arch/x86/Kconfig selects both optimisations on 6.12; arm64 neither.
        assert_eq!(shared > 0, arch == "x86_64", "{arch}: shared vmemmap pages");
        // Each present section's own extents cover its struct pages, no more: a vmemmap
        // page holds the struct pages of several 16M sections on powerpc's 64K pages.
        let g = m.geometry();
        for (nr, _) in m.sections().present() {
            let s = m.section_view(nr.0).unwrap();
            let mapped: u64 = s.memmap.iter().map(|e| e.vmemmap_pages).sum();
            let need = (g.pages_per_section * g.struct_page_size).div_ceil(g.page_size);
            assert!(
                mapped >= need.min(1) && mapped <= need + 1,
                "{arch} {nr:?}: {mapped}"
            );
        }
    }
}

#[test]
fn blocks_say_what_their_sysfs_files_say() {
    let m = busy_machine("x86_64");
    let sysfs = |id: u64, f: &str| {
        m.read(&format!("/sys/devices/system/memory/memory{id}/{f}"))
            .unwrap()
            .trim()
            .to_string()
    };
    for &id in m.blocks().keys() {
        let b = m.block_view(id.0).unwrap();
        assert_eq!(b.phys_index, sysfs(id.0, "phys_index"));
        assert_eq!(b.state, sysfs(id.0, "state"));
        assert_eq!(b.valid_zones, sysfs(id.0, "valid_zones"));
        assert_eq!(b.nr_vmemmap_pages > 0, b.altmap.is_some());
        // A block's memmap is mapped by at least one table of the lowest level that PMD
        // leaves need (a PMD table on x86_64).
        assert!(b.page_tables.iter().any(|t| t.tables > 0), "{b:?}");
    }
    assert!(m.block_view(1 << 40).is_none());
}

#[test]
fn the_address_map_covers_the_address_space() {
    for arch in ["x86_64", "arm64", "powerpc", "s390"] {
        let m = busy_machine(arch);
        let a = m.address_map();
        let mut at = 0;
        for r in &a.regions {
            assert_eq!(r.start, at, "{arch}: {a:?}");
            assert!(r.end > r.start, "{arch}: {r:?}");
            at = r.end;
        }
        let ram: u64 = a
            .regions
            .iter()
            .filter(|r| r.kind == RegionKind::Ram)
            .map(|r| r.end - r.start)
            .sum();
        // Boot RAM plus the four hot-added blocks (the iomem top level may hold reserved
        // children inside System RAM, which count as RAM here).
        let boot: u64 = m.boot_info().ram.iter().map(|(s, e)| e - s).sum();
        assert!(ram >= boot + 4 * m.block_size(), "{arch}: {ram:#x}");
        assert_eq!(
            a.regions.iter().any(|r| r.kind == RegionKind::Device),
            m.target().zone_device(),
            "{arch}: the namespaces"
        );
        assert!(a.pluggable_end > a.hotplug_base);
    }
}

#[test]
fn the_map_and_the_totals_are_the_machines() {
    let m = busy_machine("x86_64");
    let v = mm::read::MapView::of(&m);
    let t = m.totals();
    assert_eq!(t.mem_total_kb, m.mem_total_kb());
    assert_eq!(t.blocks, m.blocks().len() as u64);
    assert_eq!(t.pgmaps, 2);
    assert!(t.saved_dedup_pages > 0 && t.hvo_freed_pages > 0);
    let present: u64 = v.runs.iter().map(|r| r.end - r.start).sum();
    assert_eq!(present, t.sections_present);
    let kinds: Vec<SectionKind> = v.runs.iter().map(|r| r.key.kind).collect();
    for k in [SectionKind::Boot, SectionKind::Device] {
        assert!(kinds.contains(&k), "{k:?} in {kinds:?}");
    }
    assert!(v.runs.iter().any(|r| r.key.vmemmap), "the altmap block");
    let o = m.overview();
    assert_eq!((o.arch, o.kernel), ("x86_64", "6.12"));
    assert_eq!(o.sections, v.runs);
    assert_eq!(o.devices.len(), 0);
}
