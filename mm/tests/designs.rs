//! The seeds' designs beside mainline (`hotplug_lab.design=`), each pinned to the figures
//! its seed quotes: rfc-2018 (seed 000), v3-2019 (seed 001), legacy-64m and section-only
//! (seed 004).

mod common;

use common::boot;
use mm::cmdline::OnlineType;
use mm::{AddOptions, BootSpec, Errno, Machine, MemmapLocation, MemremapOptions, NamespaceMode};

const MIB: u64 = 1 << 20;
const GIB: u64 = 1 << 30;

fn field(m: &Machine, phys: u64, name: &str) -> u64 {
    let h = m.vmemmap_head(phys).unwrap();
    h.fields.iter().find(|(k, _)| *k == name).unwrap().1
}

/// x86_64's VMEMMAP_START with 4-level paging (arch/x86/include/asm/pgtable_64_types.h,
/// __VMEMMAP_BASE_L4), where seed 000's addresses live.
const VMEMMAP_START: u64 = 0xffff_ea00_0000_0000;

/// Seed 000: "We add 10GB: (ffffea0004000000 - ffffea000427ffc0) ffffea0004000000 will
/// have a refcount of 80", and removal defers vmemmap_free() to the last section, then
/// frees backwards.
#[test]
fn rfc_2018_ten_gib_refcount_80_and_backwards_removal() {
    let mut m = boot(
        "x86_64",
        2 * GIB,
        "memhp_default_state=offline hotplug_lab.design=rfc-2018",
    );
    assert_eq!(m.design(), "rfc-2018");
    let start = 4 * GIB;
    let r = m
        .add_memory(start, 10 * GIB, &AddOptions::default())
        .unwrap();
    m.check().unwrap();
    assert!(r.memmap_on_memory);
    // 10 GiB of 4 KiB pages, 64 bytes each: 160 MiB of memmap, 40960 pages, taken from the
    // range itself and nothing from RAM.
    assert_eq!(r.memmap_altmap_pages, 40960);
    assert_eq!(r.memmap_buddy_pages, 0);
    let head = m.vmemmap_head(start).unwrap();
    assert_eq!(VMEMMAP_START + head.pfn * 64, 0xffff_ea00_0400_0000);
    // The vmemmap pages are pfns head.pfn .. head.pfn + 40959; the struct page of the last.
    assert_eq!(
        VMEMMAP_START + (head.pfn + 40960 - 1) * 64,
        0xffff_ea00_0427_ffc0
    );
    assert_eq!(field(&m, start, "refcount"), 80);
    // The first block is all memmap, the second a quarter.
    let b0 = m.blocks()[&mm::units::BlockId(32)].clone();
    assert_eq!(b0.nr_vmemmap_pages(), 32768);
    assert_eq!(m.blocks()[&mm::units::BlockId(33)].nr_vmemmap_pages(), 8192);
    m.online(start, 10 * GIB, OnlineType::OnlineMovable)
        .unwrap();
    m.check().unwrap();
    m.offline(start, 10 * GIB).unwrap();
    // Removing the last 2 GiB first drops the count but frees nothing.
    m.remove_memory(start + 8 * GIB, 2 * GIB).unwrap();
    m.check().unwrap();
    assert_eq!(field(&m, start, "refcount"), 64);
    assert_eq!(m.vmstat().memmap_altmap, 40960 - 16 * 512);
    assert!(m.vmemmap().counters().pmd_leaves >= 80);
    // A hot-add over the removed part waits for the memmap to go.
    let e = m
        .add_memory(start + 8 * GIB, 2 * GIB, &AddOptions::default())
        .unwrap_err();
    assert_eq!(e.errno(), Errno::EBUSY);
    m.remove_memory(start, 8 * GIB).unwrap();
    m.check().unwrap();
    // Sections 32..=111: freed from the last to the first once the count reached zero,
    // whatever order the sections were removed in.
    assert!(m.dmesg().iter().any(|l| l.ends_with(
        "rfc-2018: the last section is gone: vmemmap_free() for sections 111 down to 32 \
         (80 calls, last to first)"
    )));
    assert_eq!(m.vmstat().nr_memmap_pages(), 0);
    assert!(m.vmemmap_head(start).is_err());
    // The DIMM's static memory group goes with its last block, as in mainline.
    assert!(m.groups().is_empty(), "{:?}", m.groups());
}

/// Seed 000: s390 vetoes MHP_MEMMAP_FROM_RANGE, its memory being accessible only once
/// onlined; the memmap comes from RAM.
#[test]
fn rfc_2018_s390_veto() {
    let mut m = boot(
        "s390",
        4 * GIB,
        "memhp_default_state=offline hotplug_lab.design=rfc-2018",
    );
    let start = m.boot_info().hotplug_base;
    let r = m.add_memory(start, GIB, &AddOptions::default()).unwrap();
    assert!(!r.memmap_on_memory);
    assert!(r
        .memmap_on_memory_refused
        .unwrap()
        .contains("accessible only during memory online"));
    assert_eq!(r.memmap_buddy_pages, 4096);
}

/// Seed 001: "When hot-add 1GB on x86_64: head->vmemmap_pages = 4096,
/// head->vmemmap_sections = 8", and check_hotplug_granularity() refuses a remove that does
/// not match the add.
#[test]
fn v3_2019_head_layout_and_granularity() {
    let mut m = boot(
        "x86_64",
        2 * GIB,
        "memhp_default_state=offline hotplug_lab.design=v3-2019",
    );
    let start = 4 * GIB;
    m.add_memory(start, GIB, &AddOptions::default()).unwrap();
    m.check().unwrap();
    let head = m.vmemmap_head(start + 512 * MIB).unwrap();
    assert_eq!(head.pfn, start >> 12);
    assert_eq!(field(&m, start, "vmemmap_pages"), 4096);
    assert_eq!(field(&m, start, "vmemmap_sections"), 8);
    // The first block holds only vmemmap pages: onlining and offlining it has nothing to
    // isolate or migrate.
    assert_eq!(m.blocks()[&mm::units::BlockId(32)].nr_vmemmap_pages(), 4096);
    m.online(start, GIB, OnlineType::OnlineMovable).unwrap();
    m.offline(start, GIB).unwrap();
    let before = m.state_hash();
    for (s, n) in [(start, 128 * MIB), (start + 128 * MIB, 896 * MIB)] {
        let e = m.remove_memory(s, n).unwrap_err();
        assert_eq!(e.errno(), Errno::EINVAL);
        assert!(e.to_string().contains("check_hotplug_granularity"), "{e}");
        assert_eq!(m.state_hash(), before);
    }
    m.remove_memory(start, GIB).unwrap();
    m.check().unwrap();
    assert_eq!(m.vmstat().nr_memmap_pages(), 0);
}

/// Seed 004: `memmap=0xfc000000!8G` makes a namespace that is 64 MiB but not 128 MiB
/// aligned at its end. Before sub-sections it failed with the quoted "mixed region"
/// warning; with 64 MiB activation units it works, while one that is only 2 MiB aligned
/// fails; mainline's 2 MiB sub-sections take both. The check is devm_memremap_pages() in
/// kernel/memremap.c before 5.3: the range aligned to the unit (start rounded down, size
/// rounded up) is asked region_intersects() against System RAM, and REGION_MIXED warns
/// "%s attempted on mixed region %pr" and returns -ENXIO.
#[test]
fn legacy_designs_and_the_mixed_region() {
    let o = MemremapOptions {
        map: Some(MemmapLocation::Mem),
        mode: Some(NamespaceMode::FsDax),
        align: None,
        node: None,
    };
    let try_map = |design: &str, size: u64| {
        let mut m = boot(
            "x86_64",
            16 * GIB,
            &format!("memmap={size:#x}!8G hotplug_lab.design={design}"),
        );
        let r = m.memremap_pages(8 * GIB, size, &o);
        if r.is_ok() {
            m.check().unwrap();
        }
        (r, m)
    };
    for design in ["mainline", "legacy-64m"] {
        assert!(try_map(design, 0xfc00_0000).0.is_ok(), "{design}");
    }
    let (r, m) = try_map("section-only", 0xfc00_0000);
    let e = r.unwrap_err();
    assert_eq!(e.errno(), Errno::ENXIO);
    assert!(m.dmesg().iter().any(|l| l.contains(
        "devm_memremap_pages attempted on mixed region [mem 0x200000000-0x2fbffffff flags 0x200]"
    )));
    // 2 MiB aligned: 4030 MiB.
    assert!(try_map("mainline", 0xfbe0_0000).0.is_ok());
    let e = try_map("legacy-64m", 0xfbe0_0000).0.unwrap_err();
    assert_eq!(e.errno(), Errno::ENXIO);
}

#[test]
fn unknown_design_is_refused() {
    let mut spec = BootSpec::new(arch::Target::parse("x86_64", "").unwrap());
    spec.cmdline = "hotplug_lab.design=rfc-2019".into();
    let e = Machine::boot(&spec).unwrap_err();
    assert_eq!(e.errno(), Errno::EINVAL);
    assert!(e
        .to_string()
        .contains("mainline, rfc-2018, v3-2019, legacy-64m, section-only"));
}

/// Mainline's head is the memory block's own count.
#[test]
fn mainline_head_is_the_block_count() {
    let mut m = boot(
        "x86_64",
        2 * GIB,
        "memhp_default_state=offline memory_hotplug.memmap_on_memory=1",
    );
    m.add_memory(4 * GIB, GIB, &AddOptions::default()).unwrap();
    assert_eq!(field(&m, 4 * GIB + 128 * MIB, "nr_vmemmap_pages"), 512);
    assert_eq!(
        m.vmemmap_head(4 * GIB + 128 * MIB).unwrap().pfn,
        (4 * GIB + 128 * MIB) >> 12
    );
}
