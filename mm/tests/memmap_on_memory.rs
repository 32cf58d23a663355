//! memmap_on_memory on every architecture, with the seeds' figures (seed 000: "~2MB per
//! 128MB memory section"; seed 001: "hot-add 1GB on x86_64: vmemmap_pages = 4096") and the
//! rules of mm/memory_hotplug.c mhp_supports_memmap_on_memory().

use mm::cmdline::OnlineType;
use mm::{AddOptions, BootSpec, Machine};

const MIB: u64 = 1 << 20;
const GIB: u64 = 1 << 30;

fn boot(arch: &str, cmdline: &str) -> Machine {
    let mut spec = BootSpec::new(arch::Target::parse(arch, "").unwrap());
    spec.cmdline = cmdline.to_string();
    let m = Machine::boot(&spec).unwrap();
    m.check().unwrap();
    m
}

fn hotplug_base(m: &Machine) -> u64 {
    m.boot_info().hotplug_base
}

#[test]
fn x86_1g_with_memmap_on_memory_takes_512_pages_at_the_start_of_each_block() {
    let mut m = boot(
        "x86_64",
        "memory_hotplug.memmap_on_memory=1 memhp_default_state=offline",
    );
    let free0 = m.mem_free_kb();
    let r = m.add_memory(4 * GIB, GIB, &AddOptions::default()).unwrap();
    m.check().unwrap();
    // 1 GiB = 8 sections of 32768 pages; each section's memmap is 32768 x 64 B = 2 MiB =
    // 512 pages; mainline puts each block's 512 at the start of that 128 MiB block.
    assert!(r.memmap_on_memory);
    assert_eq!(r.blocks.len(), 8);
    assert_eq!(r.memmap_altmap_pages, 8 * 512);
    assert_eq!(m.stat("vmemmap_backing_altmap_pages"), Some(4096));
    for id in &r.blocks {
        let b = &m.blocks()[id];
        let a = b.vmem_altmap(m.units().pages_per_block()).unwrap();
        assert_eq!(a.base_pfn, m.units().block_start(*id) >> 12);
        assert_eq!((a.free, a.alloc, a.reserve, a.align), (512, 512, 0, 0));
        // The block's vmemmap is one PMD leaf backed by its own first 2 MiB.
        let va = a.base_pfn * 64 / 4096;
        let (_, _, map) = m.vmemmap().lookup(va).unwrap();
        assert_eq!(map.level, mm::vmemmap::Level::Pmd);
        assert_eq!(map.origin, mm::vmemmap::Origin::Altmap);
    }
    // Nothing came from existing memory: MemFree does not move, MemTotal neither (offline).
    assert_eq!(m.mem_free_kb(), free0);
    // Onlining: present grows by all 262144 pages, managed by 262144 - 4096 (the vmemmap
    // pages are never given to the buddy; memory_block_online()).
    let total0 = m.mem_total_kb();
    m.online(4 * GIB, GIB, OnlineType::OnlineMovable).unwrap();
    m.check().unwrap();
    assert_eq!(m.mem_total_kb() - total0, (262144 - 4096) * 4);
    assert_eq!(m.mem_free_kb() - free0, (262144 - 4096) * 4);
    let z = m.nodes()[0].zone(arch::ZoneType::Movable).unwrap();
    assert_eq!((z.present_pages, z.managed_pages), (262144, 258048));
}

#[test]
fn x86_without_memmap_on_memory_takes_16m_of_existing_memory() {
    let mut m = boot("x86_64", "memhp_default_state=offline");
    let (free0, total0) = (m.mem_free_kb(), m.mem_total_kb());
    let r = m.add_memory(4 * GIB, GIB, &AddOptions::default()).unwrap();
    assert!(!r.memmap_on_memory);
    assert!(r
        .memmap_on_memory_refused
        .unwrap()
        .contains("memory_hotplug.memmap_on_memory is off"));
    assert_eq!(r.memmap_buddy_pages, 4096);
    // 16 MiB of struct pages from the buddy; the vmemmap of 4-5 GiB lies in the PMD table
    // the boot memmap already uses, so no page-table page is needed.
    assert_eq!(r.pagetable_pages, 0);
    assert_eq!(free0 - m.mem_free_kb(), 16 * 1024);
    assert_eq!(m.mem_total_kb(), total0);
    m.online(4 * GIB, GIB, OnlineType::Online).unwrap();
    assert_eq!(m.mem_total_kb() - total0, 1 << 20);
    assert_eq!(m.mem_free_kb() + 16 * 1024 - free0, 1 << 20);
    m.offline(4 * GIB, GIB).unwrap();
    m.remove_memory(4 * GIB, GIB).unwrap();
    m.check().unwrap();
    assert_eq!((m.mem_free_kb(), m.mem_total_kb()), (free0, total0));
}

#[test]
fn x86_10g_is_80_sections() {
    // Seed 000: "We add 10GB ... refcount of 80" - 80 sections.
    let mut m = boot(
        "x86_64",
        "memory_hotplug.memmap_on_memory=1 memhp_default_state=offline",
    );
    let present0 = m.stat("sections_present").unwrap();
    let r = m
        .add_memory(4 * GIB, 10 * GIB, &AddOptions::default())
        .unwrap();
    m.check().unwrap();
    assert_eq!(m.stat("sections_present").unwrap() - present0, 80);
    assert_eq!(r.blocks.len(), 80);
    assert_eq!(r.memmap_altmap_pages, 80 * 512);
    // Without memmap_on_memory the same add takes 160 MiB of existing memory.
    let mut m = boot("x86_64", "memhp_default_state=offline");
    let free0 = m.mem_free_kb();
    let r = m
        .add_memory(4 * GIB, 10 * GIB, &AddOptions::default())
        .unwrap();
    assert_eq!(r.memmap_buddy_pages, 80 * 512);
    assert_eq!(free0 - m.mem_free_kb(), 160 * 1024);
}

#[test]
fn arm64_64k_and_powerpc_hash_refuse_and_say_why() {
    // arm64 64K: a 512 MiB block has 8192 pages whose memmap is 512 KiB = 8 pages; the
    // pageblock is 8192 pages, so the count is not pageblock aligned; with force it becomes
    // the whole block. The memmap then comes from existing memory, as the kernel does.
    let mut m = boot(
        "arm64-64k",
        "memory_hotplug.memmap_on_memory=1 memhp_default_state=offline",
    );
    let r = m
        .add_memory(hotplug_base(&m), 512 * MIB, &AddOptions::default())
        .unwrap();
    assert!(!r.memmap_on_memory);
    let why = r.memmap_on_memory_refused.unwrap();
    assert!(
        why.contains("8 vmemmap pages are not a multiple of pageblock_nr_pages (8192)"),
        "{why}"
    );
    assert_eq!((r.memmap_buddy_pages, r.memmap_altmap_pages), (8, 0));
    let mut m = boot(
        "arm64-64k",
        "memory_hotplug.memmap_on_memory=force memhp_default_state=offline",
    );
    let r = m
        .add_memory(hotplug_base(&m), 512 * MIB, &AddOptions::default())
        .unwrap();
    assert!(r
        .memmap_on_memory_refused
        .unwrap()
        .contains("fill the whole memory block"));
    // arm64 16K with force: 2048 pages of 8192 pass the pageblock rule, then the generic arch
    // rule refuses 512 KiB of vmemmap against a 32 MiB PMD.
    let mut m = boot(
        "arm64-16k",
        "memory_hotplug.memmap_on_memory=force memhp_default_state=offline",
    );
    let r = m
        .add_memory(hotplug_base(&m), 128 * MIB, &AddOptions::default())
        .unwrap();
    let why = r.memmap_on_memory_refused.unwrap();
    assert!(
        why.contains("512K") && why.contains("PMD_SIZE (32M)"),
        "{why}"
    );
    // powerpc hash: the arch override accepts only radix.
    let mut m = boot("powerpc-hash", "memory_hotplug.memmap_on_memory=force");
    let r = m
        .add_memory(hotplug_base(&m), 256 * MIB, &AddOptions::default())
        .unwrap();
    assert!(!r.memmap_on_memory);
    assert!(r
        .memmap_on_memory_refused
        .unwrap()
        .contains("accepts only radix"));
    m.check().unwrap();
}

#[test]
fn powerpc_radix_needs_force_and_wastes_28_pages_per_lmb() {
    // A 256 MiB LMB of 64 KiB pages: 4096 pages, memmap 256 KiB = 4 pages; pageblock_order 5
    // (2 MiB, 32 pages) - not aligned, so memmap_on_memory=1 is refused ...
    let mut m = boot("powerpc", "memory_hotplug.memmap_on_memory=1");
    let r = m
        .add_memory(hotplug_base(&m), 256 * MIB, &AddOptions::default())
        .unwrap();
    assert!(r
        .memmap_on_memory_refused
        .unwrap()
        .contains("4 vmemmap pages are not a multiple of pageblock_nr_pages (32)"));
    // ... and force rounds 4 up to 32, wasting 28 (mm/memory_hotplug.c set_memmap_mode()).
    let mut m = boot("powerpc", "memory_hotplug.memmap_on_memory=force");
    assert!(m
        .dmesg()
        .iter()
        .any(|l| l.ends_with("Memory hotplug will waste 28 pages in each memory block")));
    let unmanaged = |m: &Machine| {
        let z = m.nodes()[0].zone(arch::ZoneType::Normal).unwrap();
        z.present_pages - z.managed_pages
    };
    let before = unmanaged(&m);
    let r = m
        .add_memory(hotplug_base(&m), 256 * MIB, &AddOptions::default())
        .unwrap();
    assert!(r.memmap_on_memory);
    let b = &m.blocks()[&r.blocks[0]];
    let a = b.vmem_altmap(m.units().pages_per_block()).unwrap();
    assert_eq!((a.free, a.alloc), (32, 4));
    // pseries DLPAR onlines the LMB itself; the 32 reserved pages stay out of the buddy.
    assert_eq!(b.state, mm::memory_block::BlockState::Online);
    assert_eq!(unmanaged(&m) - before, 32);
    m.check().unwrap();
}

#[test]
fn s390_accepts_with_the_memmap_initialised_at_online() {
    // A 256 MiB block (sclp.rzm 1 MiB < section): 65536 pages, memmap 4 MiB = 1024 pages =
    // four 1 MiB segments, pageblock 256: supported. The SCLP driver adds standby memory with
    // MHP_MEMMAP_ON_MEMORY | MHP_OFFLINE_INACCESSIBLE.
    let mut spec = mm::BootSpec::new(arch::Target::parse("s390", "").unwrap());
    spec.cmdline = "memory_hotplug.memmap_on_memory=1".to_string();
    spec.standby = Some(256 * MIB);
    let mut m = mm::Machine::boot(&spec).unwrap();
    m.check().unwrap();
    let base = hotplug_base(&m);
    let id = m.units().block_of_phys(base);
    let b = &m.blocks()[&id];
    assert_eq!(b.nr_vmemmap_pages(), 1024);
    assert!(b.inaccessible && b.altmap.is_some());
    assert_eq!(m.stat("vmemmap_pmd_mappings").unwrap() - 8 * 4, 4);
    m.online(base, 256 * MIB, OnlineType::OnlineMovable)
        .unwrap();
    assert!(!m.blocks()[&id].inaccessible);
    m.offline(base, 256 * MIB).unwrap();
    assert!(m.blocks()[&id].inaccessible);
    // add_memory() itself (no s390 driver calls it) adds accessible memory.
    let more = base + 256 * MIB;
    let r = m
        .add_memory(more, 256 * MIB, &AddOptions::default())
        .unwrap();
    assert!(r.memmap_on_memory);
    assert!(!m.blocks()[&r.blocks[0]].inaccessible);
    m.check().unwrap();
}
