//! ZONE_DEVICE memory: persistent-memory namespaces mapped with memremap_pages(), sub-section
//! activation, map=mem/map=dev and device-dax compound pages, against the real kernel
//! (tests/fixtures/oracle-x86_64-pmem16.txt) and the figures of seeds 003 and 004.

mod common;

use common::{boot, load, model_zones};
use mm::{Errno, Machine, MemmapLocation as Map, MemremapOptions, NamespaceMode as Mode};

const MIB: u64 = 1 << 20;
const GIB: u64 = 1 << 30;
const TIB: u64 = 1 << 40;

fn opts(map: Map, mode: Mode, align: Option<u64>) -> MemremapOptions {
    MemremapOptions {
        map: Some(map),
        mode: Some(mode),
        align,
        node: None,
    }
}

/// Seed 004's example on Linux 6.12: `memmap=0xfc000000!8G` on a 16 GiB q35 guest makes
/// 4032 MiB of legacy pmem at 8 GiB whose last 64 MiB share section 95 with System RAM. The
/// nd_pmem driver maps it in "memory" mode (struct pages in RAM) without error; the shared
/// early section reuses its boot memmap, so nr_memmap_pages grows by 3968 MiB worth only.
#[test]
fn legacy_pmem_in_a_shared_section_matches_the_real_kernel() {
    let (snaps, _) = load("oracle-x86_64-pmem16.txt");
    let (before, after) = (&snaps["boot"], &snaps["pmem"]);
    let mut m = boot(
        "x86_64",
        16 * GIB,
        "console=ttyS0 panic=-1 oracle=pmem memmap=0xfc000000!8G",
    );
    let iomem = m.read("/proc/iomem").unwrap();
    assert!(iomem.contains("200000000-2fbffffff : Persistent Memory (legacy)\n"));
    for l in before
        .lines("iomem")
        .iter()
        .filter(|l| l.ends_with("System RAM"))
    {
        assert!(
            iomem.contains(&format!("{l}\n")),
            "{l} missing from\n{iomem}"
        );
    }
    // 97 present sections (16 + 32 + 49, section 95 half RAM) x 512 boot memmap pages.
    assert_eq!(
        m.vmstat().nr_memmap_boot_pages,
        before.vmstat("nr_memmap_boot_pages")
    );
    let total_before = m.mem_total_kb();
    let id = m
        .memremap_pages(8 * GIB, 0xfc00_0000, &opts(Map::Mem, Mode::FsDax, None))
        .unwrap();
    m.check().unwrap();
    assert_eq!(
        m.vmstat().nr_memmap_pages(),
        after.vmstat("nr_memmap_pages")
    );
    assert_eq!(after.vmstat("nr_memmap_pages"), 15872);
    assert_eq!(
        m.vmstat().nr_memmap_boot_pages,
        after.vmstat("nr_memmap_boot_pages")
    );
    // ZONE_DEVICE spans the namespace; nothing in it is present or managed.
    let z = model_zones(&m);
    let real = after.zones();
    assert_eq!(z["Device"], real["Device"]);
    assert_eq!(real["Device"].0, 1032192);
    for name in ["DMA", "Normal"] {
        assert_eq!(
            (z[name].0, z[name].1),
            (real[name].0, real[name].1),
            "{name}"
        );
    }
    // MemTotal does not move: ZONE_DEVICE pages are never managed.
    assert_eq!(after.meminfo_kb("MemTotal"), before.meminfo_kb("MemTotal"));
    assert_eq!(m.mem_total_kb(), total_before);
    let iomem = m.read("/proc/iomem").unwrap();
    let real_ns: Vec<&String> = after
        .lines("iomem")
        .iter()
        .filter(|l| l.contains("namespace"))
        .collect();
    assert_eq!(real_ns.len(), 1);
    assert!(
        iomem.contains(&format!("{}\n", real_ns[0])),
        "{} missing from\n{iomem}",
        real_ns[0]
    );
    let p = &m.pgmaps()[&id];
    assert_eq!(p.memmap_pages, 15872);
    assert_eq!(p.memmap_buddy_pages, 15872);
    assert_eq!(p.memmap_device_pages, 0);
    // Section 95 is tainted: it holds both System RAM and ZONE_DEVICE pages.
    assert!(m
        .sections()
        .state(mm::units::SectionNr(95))
        .zone_device_tainted());
}

/// A 1 TiB device-dax namespace at 1 TiB on x86_64, its struct pages in System RAM.
fn devdax_1t(align: u64) -> (Machine, mm::memremap::DevPagemap, u64, u64) {
    let mut m = boot("x86_64", 32 * GIB, "");
    let tables = m.vmemmap().table_pages();
    let leaves = m.vmemmap().counters().pmd_leaves;
    let id = m
        .memremap_pages(TIB, TIB, &opts(Map::Mem, Mode::DevDax, Some(align)))
        .unwrap();
    m.check().unwrap();
    let p = m.pgmaps()[&id].clone();
    let new_tables = m.vmemmap().table_pages() - tables;
    let new_leaves = m.vmemmap().counters().pmd_leaves - leaves;
    (m, p, new_tables, new_leaves)
}

/// Seed 003 (the compound devmap cover letter): per 1 TiB of device-dax, "16G of struct
/// pages fully populated, 4G instead of 16G with 2M pages, 40MB with 1G pages".
#[test]
fn seed_003_devdax_struct_page_cost_per_tib() {
    const PAGE: u64 = 4096;
    // Base pages (4K alignment): every struct page has its own vmemmap page.
    let (_, p, tables, leaves) = devdax_1t(4 << 10);
    assert!(!p.vmemmap_optimized);
    assert_eq!(p.memmap_pages * PAGE, 16 * GIB);
    // Full sections are mapped with 2 MiB PMD leaves: 8192 of them, no PTE tables; the
    // 16 GiB of vmemmap needs 16 PMD tables (1 GiB of vmemmap each).
    assert_eq!(leaves, 8192);
    assert_eq!(tables, 16);

    // 2 MiB compound pages: 8 vmemmap pages each, VMEMMAP_RESERVE_NR = 2 kept (mm.h), the
    // other 6 map the second one. 4 GiB of struct pages, plus the PTE tables now needed:
    // 16 GiB of vmemmap / 2 MiB per PTE table = 8192 tables = 32 MiB, and 16 PMD tables.
    let (_, p, tables, leaves) = devdax_1t(2 * MIB);
    assert!(p.vmemmap_optimized);
    assert_eq!(p.memmap_pages * PAGE, 4 * GIB);
    assert_eq!(p.memmap_buddy_pages, TIB / (2 * MIB) * 2);
    assert_eq!(tables, 8192 + 16);
    assert_eq!(leaves, 0);

    // 1 GiB compound pages: 4096 vmemmap pages each, 2 kept: 2048 pages = 8 MiB of struct
    // pages; the 8192 PTE tables (32 MiB) still map all 16 GiB of vmemmap: the "40MB".
    let (_, p, tables, _) = devdax_1t(GIB);
    assert!(p.vmemmap_optimized);
    assert_eq!(p.memmap_pages * PAGE, 8 * MIB);
    assert_eq!(p.memmap_buddy_pages, 2048);
    assert_eq!(tables - 16, 8192);
    assert_eq!((p.memmap_pages + tables - 16) * PAGE, 40 * MIB);
}

/// Seed 003: "2M hpage -> save 6 vmemmap pages; 1G hpage -> save 4094" for device-dax
/// compound pages, compared with the same namespace in fsdax mode (base pages). Each
/// namespace holds two compound pages: the first carries the info block (the data starts
/// at the next `align` boundary), but memremap_pages() maps the whole namespace.
#[test]
fn devmap_compound_pages_save_6_and_4094_vmemmap_pages() {
    for (align, saved) in [(2 * MIB, 6), (GIB, 4094)] {
        let mut m = boot("x86_64", 8 * GIB, "");
        let dax = m
            .memremap_pages(
                64 * GIB,
                2 * align,
                &opts(Map::Mem, Mode::DevDax, Some(align)),
            )
            .unwrap();
        let fs = m
            .memremap_pages(
                64 * GIB + 2 * align,
                2 * align,
                &opts(Map::Mem, Mode::FsDax, Some(align)),
            )
            .unwrap();
        m.check().unwrap();
        let (d, f) = (&m.pgmaps()[&dax], &m.pgmaps()[&fs]);
        assert_eq!(d.vmemmap_shift, (align / 4096).trailing_zeros());
        assert_eq!(f.vmemmap_shift, 0);
        assert_eq!(d.data_offset, align);
        assert_eq!(
            f.memmap_pages - d.memmap_pages,
            2 * saved,
            "align {align:#x}"
        );
        assert_eq!(d.memmap_pages, 2 * mm::sparse::VMEMMAP_RESERVE_NR);
    }
}

/// What a full map/unmap cycle must give back: everything but the ZONE_DEVICE span, which
/// the kernel never shrinks (remove_pfn_range_from_zone() returns early for it).
fn footprint(
    m: &Machine,
) -> (
    mm::machine::VmStat,
    mm::vmemmap::VmemmapCounters,
    String,
    u64,
    u64,
) {
    (
        *m.vmstat(),
        *m.vmemmap().counters(),
        m.read("/proc/iomem").unwrap(),
        m.mem_free_kb(),
        m.kernel_free_pages(),
    )
}

/// Seed 004's namespace, 4032 MiB at 8 GiB, maps, unmaps and maps again, with its struct
/// pages in RAM and in the device; pfn_valid() follows the sub-section map.
#[test]
fn seed_004_namespace_maps_unmaps_and_maps_again() {
    for map in [Map::Mem, Map::Dev] {
        let mut m = boot("x86_64", 16 * GIB, "memmap=0xfc000000!8G");
        let before = footprint(&m);
        let o = opts(map, Mode::FsDax, None);
        let id = m.memremap_pages(8 * GIB, 0xfc00_0000, &o).unwrap();
        let mapped = footprint(&m);
        let p = m.pgmaps()[&id].clone();
        assert_eq!(p.memmap_pages, 15872, "{map:?}");
        match map {
            Map::Mem => assert_eq!(p.memmap_buddy_pages, 15872),
            Map::Dev => {
                // The altmap holds 31 full sections' PMD leaves; the first is aligned to
                // 512 pfns past the 2-page info block, wasting 510 (altmap_alloc_block_buf).
                let a = p.altmap.unwrap();
                assert_eq!((a.reserve, a.alloc, a.align), (2, 15872, 510));
                assert_eq!(a.free, (p.data_offset >> 12) - 2);
                assert_eq!(p.memmap_device_pages, 15872);
                assert_eq!(p.memmap_buddy_pages, 0);
                assert_eq!(m.stat("memmap_device_pages"), Some(15872));
            }
        }
        m.memunmap_pages(id).unwrap();
        m.check().unwrap();
        assert_eq!(
            footprint(&m),
            before,
            "{map:?}: unmapping gives everything back"
        );
        let id = m.memremap_pages(8 * GIB, 0xfc00_0000, &o).unwrap();
        assert_eq!(footprint(&m), mapped, "{map:?}: mapped again");
        assert_eq!(m.pgmaps()[&id].memmap_pages, 15872);
    }
}

/// The same namespace at 16 GiB, where no boot section is shared: with map=dev the full
/// sections' memmap comes from the device, and the last half section (64 MiB = 32
/// sub-sections x 8 pages) is mapped with base pages from RAM, as x86's vmemmap_populate()
/// does for anything smaller than a section.
#[test]
fn partial_section_memmap_comes_from_ram_on_x86() {
    let mut m = boot("x86_64", 8 * GIB, "");
    let id = m
        .memremap_pages(16 * GIB, 0xfc00_0000, &opts(Map::Dev, Mode::FsDax, None))
        .unwrap();
    m.check().unwrap();
    let p = &m.pgmaps()[&id];
    assert_eq!(p.memmap_device_pages, 15872);
    assert_eq!(p.memmap_buddy_pages, 256);
    assert_eq!(p.memmap_pages, 15872 + 256);
}

#[test]
fn pfn_valid_follows_the_active_sub_sections() {
    let mut m = boot("x86_64", 4 * GIB, "");
    let base = 64 * GIB;
    let pfn = |a: u64| a >> 12;
    m.memremap_pages(
        base + 2 * MIB,
        4 * MIB,
        &opts(Map::Mem, Mode::FsDax, Some(2 * MIB)),
    )
    .unwrap();
    m.memremap_pages(
        base + 8 * MIB,
        4 * MIB,
        &opts(Map::Mem, Mode::FsDax, Some(2 * MIB)),
    )
    .unwrap();
    let active = |a: u64| (2 * MIB..6 * MIB).contains(&a) || (8 * MIB..12 * MIB).contains(&a);
    for off in (0..16 * MIB).step_by((MIB / 2) as usize) {
        assert_eq!(m.pfn_valid(pfn(base + off)), active(off), "offset {off:#x}");
    }
    let s = m.sections().state(mm::units::SectionNr(base >> 27));
    let usage = s.usage.unwrap();
    assert_eq!(usage.count(), 4);
    assert!(s.zone_device_tainted());
}

#[test]
fn misaligned_overlapping_and_ram_namespaces_fail_and_change_nothing() {
    let mut m = boot("x86_64", 4 * GIB, "");
    m.memremap_pages(64 * GIB, GIB, &opts(Map::Dev, Mode::DevDax, None))
        .unwrap();
    let hash = m.state_hash();
    let cases: [(u64, u64, MemremapOptions, Errno); 6] = [
        // Not on a 2 MiB sub-section boundary (memremap_compat_align()).
        (
            80 * GIB + MIB,
            GIB,
            opts(Map::Dev, Mode::DevDax, None),
            Errno::EINVAL,
        ),
        // Overlaps the first namespace: its driver cannot claim the range.
        (
            64 * GIB + 512 * MIB,
            GIB,
            opts(Map::Mem, Mode::DevDax, None),
            Errno::EBUSY,
        ),
        // System RAM.
        (
            4 * GIB,
            GIB,
            opts(Map::Mem, Mode::FsDax, None),
            Errno::ENXIO,
        ),
        // 3 MiB is neither PAGE_SIZE, PMD_SIZE nor PUD_SIZE.
        (
            96 * GIB,
            GIB,
            opts(Map::Mem, Mode::DevDax, Some(3 * MIB)),
            Errno::EINVAL,
        ),
        // Beyond MAX_PHYSMEM_BITS (46).
        (
            64 * TIB,
            GIB,
            opts(Map::Mem, Mode::FsDax, None),
            Errno::EINVAL,
        ),
        // Smaller than its own alignment.
        (
            96 * GIB,
            2 * MIB,
            opts(Map::Mem, Mode::DevDax, Some(GIB)),
            Errno::ENXIO,
        ),
    ];
    for (start, size, o, errno) in cases {
        let e = m.memremap_pages(start, size, &o).unwrap_err();
        assert_eq!(e.errno(), errno, "{start:#x}+{size:#x}: {e}");
        assert!(!e.reason().is_empty());
        assert_eq!(m.state_hash(), hash, "{e} changed the machine");
    }
    let e = m.memunmap_pages(7).unwrap_err();
    assert_eq!(e.errno(), Errno::EINVAL);
}

#[test]
fn arch_refusals() {
    // s390 has no ZONE_DEVICE (no ARCH_HAS_PTE_DEVMAP).
    let mut s = boot("s390", 4 * GIB, "");
    let e = s
        .memremap_pages(64 * GIB, GIB, &MemremapOptions::default())
        .unwrap_err();
    assert_eq!(e.errno(), Errno::EOPNOTSUPP);
    // arm64 has no PUD THP: 1 GiB alignment is refused; 2 MiB compound pages are built but
    // not deduplicated (no ARCH_WANT_OPTIMIZE_DAX_VMEMMAP), so they cost the full memmap.
    let mut a = boot("arm64", 4 * GIB, "");
    let e = a
        .memremap_pages(64 * GIB, GIB, &opts(Map::Mem, Mode::DevDax, Some(GIB)))
        .unwrap_err();
    assert_eq!(e.errno(), Errno::EINVAL);
    assert!(e.reason().contains("4K, 2M"), "{e}");
    let id = a
        .memremap_pages(64 * GIB, GIB, &opts(Map::Mem, Mode::DevDax, Some(2 * MIB)))
        .unwrap();
    let p = &a.pgmaps()[&id];
    assert_eq!(p.vmemmap_shift, 9);
    assert!(!p.vmemmap_optimized);
    assert_eq!(p.memmap_pages, 4096);
    // powerpc radix selects the optimisation, but a 2 MiB compound page's 32 struct pages
    // fill 2 KiB, less than one 64 KiB vmemmap page: nothing to share (VMEMMAP_RESERVE_NR).
    let mut p = boot("powerpc", 4 * GIB, "");
    let id = p
        .memremap_pages(64 * GIB, GIB, &opts(Map::Mem, Mode::DevDax, Some(2 * MIB)))
        .unwrap();
    assert!(!p.pgmaps()[&id].vmemmap_optimized);
    // The hash MMU maps the linear map with 16 MiB pages: namespaces align to 16 MiB.
    let mut h = boot("powerpc-hash", 4 * GIB, "");
    let e = h
        .memremap_pages(
            64 * GIB + 2 * MIB,
            GIB,
            &opts(Map::Mem, Mode::FsDax, Some(64 << 10)),
        )
        .unwrap_err();
    assert_eq!(e.errno(), Errno::EINVAL);
    assert!(e.reason().contains("0x1000000"), "{e}");
}

/// Compound pages are laid out from the start of the pgmap's range, not from physical 1 GiB
/// boundaries (reuse_compound_section() in mm/sparse-vmemmap.c measures from the range
/// start): a 1 GiB-aligned devdax namespace that starts 128 MiB into a gigabyte keeps 2
/// vmemmap pages for each of its 4 compound pages. nr_memmap_pages does not see that:
/// section_nr_vmemmap_pages() counts VMEMMAP_RESERVE_NR for each section that starts on a
/// physical 1 GiB boundary, of which the range has 3. The model keeps both, as the kernel.
#[test]
fn compound_pages_start_at_the_range_start() {
    let mut m = boot("x86_64", 8 * GIB, "");
    let before = m.vmemmap().counters().backing(mm::vmemmap::Origin::Buddy);
    let id = m
        .memremap_pages(
            64 * GIB + 128 * MIB,
            4 * GIB,
            &opts(Map::Mem, Mode::DevDax, Some(GIB)),
        )
        .unwrap();
    m.check().unwrap();
    let p = &m.pgmaps()[&id];
    // 4 GiB from a 128 MiB offset: end_trunc cuts the last 128 MiB to keep the end aligned.
    assert_eq!(p.end_trunc, 128 * MIB);
    let compounds = (p.size() / GIB) + u64::from(!p.size().is_multiple_of(GIB));
    let backing = m.vmemmap().counters().backing(mm::vmemmap::Origin::Buddy) - before;
    assert_eq!(compounds, 4);
    assert_eq!(backing, 2 * compounds);
    assert_eq!(p.memmap_pages, 2 * 3);
    assert_eq!(m.vmstat().nr_memmap_pages(), 6);
}

/// A memmap allocation failure part way through leaves nothing behind: the sections
/// activated before it are deactivated again and the resources released.
#[test]
fn failed_memmap_allocation_rolls_back() {
    let mut m = boot("x86_64", 4 * GIB, "");
    let hash = m.state_hash();
    let iomem = m.read("/proc/iomem").unwrap();
    // The first (partial) section's base pages succeed; the full sections after it fail.
    let start = 64 * GIB + 64 * MIB;
    m.inject_fault_after("memmap_alloc", 1, 1_000_000).unwrap();
    let e = m
        .memremap_pages(start, 4 * GIB, &opts(Map::Mem, Mode::FsDax, None))
        .unwrap_err();
    assert_eq!(e.errno(), Errno::ENOMEM, "{e}");
    assert_eq!(m.state_hash(), hash);
    assert_eq!(m.read("/proc/iomem").unwrap(), iomem);
    m.inject_fault("memmap_alloc", 0).unwrap();
    m.memremap_pages(start, 4 * GIB, &opts(Map::Mem, Mode::FsDax, None))
        .unwrap();
    m.check().unwrap();
}

/// powerpc book3s64 selects HAVE_ARCH_TRANSPARENT_HUGEPAGE_PUD (PPC_THP in
/// platforms/Kconfig.cputype) and radix has 1 GiB pages at the PUD level
/// (radix__has_transparent_pud_hugepage()): device-dax takes 1 GiB alignment there, not on
/// hash. With 64 KiB pages a 1 GiB compound page's struct pages take 16 vmemmap pages, of
/// which radix's vmemmap_populate_compound_pages() (arch/powerpc/mm/book3s64/radix_pgtable.c)
/// keeps VMEMMAP_RESERVE_NR (2) and maps the rest to the second; four 16 MiB sections share
/// each vmemmap page, and the first section to touch a page maps it.
#[test]
fn powerpc_radix_takes_1g_device_dax_alignment() {
    use mm::{MemmapLocation, MemremapOptions, NamespaceMode};
    const GIB: u64 = 1 << 30;
    assert!(arch::Target::parse("powerpc", "")
        .unwrap()
        .dax_alignments()
        .contains(&GIB));
    assert!(!arch::Target::parse("powerpc-hash", "")
        .unwrap()
        .dax_alignments()
        .contains(&GIB));
    let mut spec = mm::BootSpec::new(arch::Target::parse("powerpc", "").unwrap());
    spec.ram = Some(4 * GIB);
    let mut m = mm::Machine::boot(&spec).unwrap();
    let before = m.vmstat().nr_memmap_pages();
    let opts = MemremapOptions {
        mode: Some(NamespaceMode::DevDax),
        align: Some(GIB),
        map: Some(MemmapLocation::Mem),
        ..Default::default()
    };
    let backing = |m: &mm::Machine| {
        m.stats()
            .into_iter()
            .find(|(k, _)| *k == "vmemmap_backing_buddy_pages")
            .unwrap()
            .1
    };
    let free = backing(&m);
    let id = m.memremap_pages(64 * GIB, 16 * GIB, &opts).unwrap();
    // section_nr_vmemmap_pages() (mm/sparse.c): VMEMMAP_RESERVE_NR for the section that
    // starts each compound page, nothing for the other 63: 16 x 2.
    assert_eq!(m.vmstat().nr_memmap_pages() - before, 32);
    assert_eq!(backing(&m) - free, 32);
    m.check().unwrap();
    m.memunmap_pages(id).unwrap();
    assert_eq!(m.vmstat().nr_memmap_pages(), before);
    assert_eq!(backing(&m), free);
    m.check().unwrap();
}
