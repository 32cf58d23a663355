//! Every refusal the kernel makes, with its errno, and proof that a failed call leaves the
//! whole machine as it was (the state hash covers sections, vmemmap, zones, blocks, iomem,
//! counters).

use mm::cmdline::OnlineType;
use mm::{AddOptions, BootSpec, Errno, Machine, MmError};

const MIB: u64 = 1 << 20;
const GIB: u64 = 1 << 30;

fn boot(arch: &str, cmdline: &str, ram: Option<u64>) -> Machine {
    let mut spec = BootSpec::new(arch::Target::parse(arch, "").unwrap());
    spec.cmdline = cmdline.to_string();
    spec.ram = ram;
    Machine::boot(&spec).unwrap()
}

/// Run a call that must fail with `errno`; the machine must not change.
fn fails(
    m: &mut Machine,
    errno: Errno,
    f: impl FnOnce(&mut Machine) -> Result<(), MmError>,
) -> String {
    let before = m.state_hash();
    let e = f(m).expect_err("the call should fail");
    assert_eq!(e.errno(), errno, "{e}");
    assert_eq!(
        m.state_hash(),
        before,
        "a failed call changed the machine: {e}"
    );
    m.check().unwrap();
    e.to_string()
}

#[test]
fn add_memory_refusals() {
    let mut m = boot("x86_64", "memhp_default_state=offline", None);
    // check_hotplug_memory_range(): the kernel's own message.
    let e = fails(&mut m, Errno::EINVAL, |m| {
        m.add_memory(4 * GIB + 4096, GIB, &AddOptions::default())
            .map(|_| ())
    });
    assert!(
        e.contains(
            "Block size [0x8000000] unaligned hotplug range: start 0x100001000, size 0x40000000"
        ),
        "{e}"
    );
    assert!(
        e.ends_with("(start and size are whole 128 MiB memory blocks)"),
        "the error says what would do: {e}"
    );
    let last = m.dmesg().last().unwrap().clone();
    assert!(last.contains("Block size [0x8000000] unaligned hotplug range"));
    assert!(
        last.ends_with("size 0x40000000"),
        "dmesg has the kernel's line only: {last}"
    );
    fails(&mut m, Errno::EINVAL, |m| {
        m.add_memory(4 * GIB, 64 * MIB, &AddOptions::default())
            .map(|_| ())
    });
    fails(&mut m, Errno::EINVAL, |m| {
        m.add_memory(4 * GIB, 0, &AddOptions::default()).map(|_| ())
    });
    fails(&mut m, Errno::EINVAL, |m| {
        m.add_memory(u64::MAX - 4095, GIB, &AddOptions::default())
            .map(|_| ())
    });
    // register_memory_resource(): beyond MAX_PHYSMEM_BITS (46 on 4-level x86) is -E2BIG.
    let e = fails(&mut m, Errno::E2BIG, |m| {
        m.add_memory(1 << 46, GIB, &AddOptions::default())
            .map(|_| ())
    });
    assert!(
        e.contains("exceeds the maximum addressable range [0x0-0x3fffffffffff]"),
        "{e}"
    );
    // Overlapping boot RAM or an earlier add: the resource request fails, -EEXIST.
    fails(&mut m, Errno::EEXIST, |m| {
        m.add_memory(GIB, GIB, &AddOptions::default()).map(|_| ())
    });
    m.add_memory(4 * GIB, GIB, &AddOptions::default()).unwrap();
    fails(&mut m, Errno::EEXIST, |m| {
        m.add_memory(4 * GIB + 512 * MIB, GIB, &AddOptions::default())
            .map(|_| ())
    });
    // A node that is not possible.
    let opts = AddOptions {
        node: Some(3),
        ..AddOptions::default()
    };
    let e = fails(&mut m, Errno::EINVAL, |m| {
        m.add_memory(8 * GIB, GIB, &opts).map(|_| ())
    });
    assert!(e.contains("node 3 was absent from the node_possible_map"));
}

#[test]
fn out_of_memory_for_the_memmap_changes_nothing() {
    // A 512 MiB guest cannot hold the 1 GiB of struct pages 64 GiB of memory needs.
    let mut m = boot("x86_64", "memhp_default_state=offline", Some(512 * MIB));
    let e = fails(&mut m, Errno::ENOMEM, |m| {
        m.add_memory(4 * GIB, 64 * GIB, &AddOptions::default())
            .map(|_| ())
    });
    assert!(e.contains("vmemmap alloc failure"), "{e}");
    // With memmap_on_memory nothing comes from existing memory.
    let mut m = boot(
        "x86_64",
        "memhp_default_state=offline memory_hotplug.memmap_on_memory=1",
        Some(512 * MIB),
    );
    m.add_memory(4 * GIB, 64 * GIB, &AddOptions::default())
        .unwrap();
    m.check().unwrap();
}

#[test]
fn injected_faults_roll_back() {
    let mut m = boot("x86_64", "memhp_default_state=offline", None);
    // One failed PMD-sized allocation: vmemmap_populate_hugepages() falls back to base pages
    // for that PMD (no altmap), so the add still succeeds with 512 PTEs and a PTE table.
    m.inject_fault("memmap_alloc", 1).unwrap();
    m.add_memory(4 * GIB, GIB, &AddOptions::default()).unwrap();
    assert!(!m.faults().memmap_alloc.armed(), "the fault was consumed");
    assert_eq!(m.stat("vmemmap_pte_mappings"), Some(512));
    assert_eq!(m.stat("vmemmap_pmd_mappings"), Some(16 + 7));
    m.check().unwrap();
    // Two: the base-page fallback fails too, -ENOMEM, and the add is undone.
    m.inject_fault("memmap_alloc", 2).unwrap();
    fails(&mut m, Errno::ENOMEM, |m| {
        m.add_memory(8 * GIB, GIB, &AddOptions::default())
            .map(|_| ())
    });
    let mut m = boot(
        "x86_64",
        "memhp_default_state=offline memory_hotplug.memmap_on_memory=1",
        None,
    );
    m.add_memory(4 * GIB, GIB, &AddOptions::default()).unwrap();
    // The fifth block's altmap allocation fails: the four blocks added before it go too.
    m.inject_fault_after("altmap_alloc", 4, 1).unwrap();
    fails(&mut m, Errno::ENOMEM, |m| {
        m.add_memory(8 * GIB, GIB, &AddOptions::default())
            .map(|_| ())
    });
    assert!(!m.faults().altmap_alloc.armed());
    m.inject_fault("going_online", 1).unwrap();
    fails(&mut m, Errno::EPERM, |m| {
        m.online(4 * GIB, GIB, OnlineType::Online).map(|_| ())
    });
    m.online(4 * GIB, GIB, OnlineType::Online).unwrap();
    m.inject_fault("going_offline", 1).unwrap();
    fails(&mut m, Errno::EPERM, |m| m.offline(4 * GIB, GIB));
    assert!(m.inject_fault("nowhere", 1).is_err());
}

#[test]
fn online_offline_refusals() {
    let mut m = boot("x86_64", "", None);
    // Auto-onlined memory cannot be onlined again: device_online() returns 1, -EINVAL.
    m.add_memory(4 * GIB, GIB, &AddOptions::default()).unwrap();
    let e = fails(&mut m, Errno::EINVAL, |m| {
        m.online(4 * GIB, GIB, OnlineType::OnlineMovable)
            .map(|_| ())
    });
    assert!(e.contains("auto_online_blocks is \"online\""), "{e}");
    // memory0 spans ZONE_DMA and ZONE_DMA32: no zone, so memory_block_offline() says -EINVAL.
    fails(&mut m, Errno::EINVAL, |m| m.offline(0, 128 * MIB));
    // memory15 ends in the 132 KiB SeaBIOS keeps: offline_pages() refuses memory holes.
    let e = fails(&mut m, Errno::EINVAL, |m| {
        m.offline(15 * 128 * MIB, 128 * MIB)
    });
    assert!(e.contains("failed due to memory holes"), "{e}");
    // Unmovable allocations in a kernel zone make offlining fail with -EBUSY.
    m.set_block_allocations(mm::units::BlockId(33), 100, 0)
        .unwrap();
    let e = fails(&mut m, Errno::EBUSY, |m| m.offline(4 * GIB, GIB));
    assert!(
        e.contains(
            "memory offlining [mem 0x108000000-0x10fffffff] failed due to failure to isolate range"
        ),
        "{e}"
    );
    // With 4 GiB the boot memmap sits at the top of 4-6 GiB: memory47 holds memblock
    // reservations (PageReserved), so isolation fails.
    let mut big = boot("x86_64", "", Some(4 * GIB));
    let e = fails(&mut big, Errno::EBUSY, |m| {
        m.offline(47 * 128 * MIB, 128 * MIB)
    });
    assert!(
        e.contains("failure to isolate range") && e.contains("reserved by memblock"),
        "{e}"
    );
    big.offline(46 * 128 * MIB, 128 * MIB).unwrap();
    big.check().unwrap();
    // A block without memory: no sysfs file.
    fails(&mut m, Errno::ENOENT, |m| m.offline(64 * GIB, 128 * MIB));
    fails(&mut m, Errno::EINVAL, |m| {
        m.online(4 * GIB + 4096, 128 * MIB, OnlineType::Online)
            .map(|_| ())
    });
    // Movable allocations migrate away; unmovable ones in ZONE_MOVABLE are pinned.
    m.add_memory(8 * GIB, GIB, &AddOptions::default()).unwrap();
    m.offline(8 * GIB, GIB).unwrap();
    m.online(8 * GIB, GIB, OnlineType::OnlineMovable).unwrap();
    m.set_block_allocations(mm::units::BlockId(64), 0, 1000)
        .unwrap();
    m.set_block_allocations(mm::units::BlockId(65), 10, 0)
        .unwrap();
    fails(&mut m, Errno::EINTR, |m| m.offline(8 * GIB, GIB));
    m.offline(8 * GIB, 128 * MIB).unwrap();
    m.check().unwrap();
}

#[test]
fn remove_refusals() {
    let mut m = boot(
        "x86_64",
        "memhp_default_state=offline memory_hotplug.memmap_on_memory=1",
        None,
    );
    m.add_memory(4 * GIB, GIB, &AddOptions::default()).unwrap();
    m.add_memory(
        5 * GIB,
        GIB,
        &AddOptions {
            memmap_on_memory: Some(false),
            ..AddOptions::default()
        },
    )
    .unwrap();
    m.online(4 * GIB, 128 * MIB, OnlineType::Online).unwrap();
    // try_remove_memory(): an online block makes it -EBUSY, with the kernel's warning.
    let e = fails(&mut m, Errno::EBUSY, |m| m.remove_memory(4 * GIB, GIB));
    assert!(e.contains("removing memory fails, because memory [0x0000000100000000-0x0000000107ffffff] is onlined"), "{e}");
    m.offline(4 * GIB, 128 * MIB).unwrap();
    // Some blocks with altmaps and some without: WARN and -EINVAL.
    fails(&mut m, Errno::EINVAL, |m| m.remove_memory(4 * GIB, 2 * GIB));
    // Boot memory and ranges that were never added.
    fails(&mut m, Errno::EINVAL, |m| m.remove_memory(0, 128 * MIB));
    fails(&mut m, Errno::EINVAL, |m| m.remove_memory(16 * GIB, GIB));
    fails(&mut m, Errno::EINVAL, |m| {
        m.remove_memory(4 * GIB, 100 * MIB)
    });
    // Removing at a finer granularity than the add is fine in mainline (per block).
    m.remove_memory(4 * GIB + 512 * MIB, 512 * MIB).unwrap();
    m.remove_memory(4 * GIB, 512 * MIB).unwrap();
    m.remove_memory(5 * GIB, GIB).unwrap();
    m.check().unwrap();
}

/// s390 removes a run of blocks as one resource: refused for boot memory, its one System
/// RAM line stays one (it came back split per block).
#[test]
fn a_refused_s390_removal_leaves_iomem_whole() {
    let mut m = boot("s390", "", Some(4 * GIB));
    let iomem = m.read("/proc/iomem").unwrap();
    assert_eq!(iomem.matches("System RAM").count(), 1, "{iomem}");
    let e = fails(&mut m, Errno::EINVAL, |m| m.remove_memory(0, 4 * GIB));
    assert!(e.contains("memory0 is boot memory"), "{e}");
    assert_eq!(m.read("/proc/iomem").unwrap(), iomem);
}

#[test]
fn sysfs_writes() {
    let mut m = boot("x86_64", "memhp_default_state=offline", None);
    m.add_memory(4 * GIB, GIB, &AddOptions::default()).unwrap();
    let st = "/sys/devices/system/memory/memory32/state";
    fails(&mut m, Errno::EINVAL, |m| m.write(st, "sideways"));
    m.write(st, "online_movable\n").unwrap();
    assert_eq!(m.read(st).unwrap(), "online\n");
    assert_eq!(
        m.read("/sys/devices/system/memory/memory32/valid_zones")
            .unwrap(),
        "Movable\n"
    );
    // memory33 is offline next to a ZONE_MOVABLE block, but only a zone that spans the range
    // counts (default_zone_for_pfn()): Normal stays the default.
    assert_eq!(
        m.read("/sys/devices/system/memory/memory33/valid_zones")
            .unwrap(),
        "Normal Movable\n"
    );
    // Between two Movable blocks the zone spans it: Movable becomes the default.
    m.write(
        "/sys/devices/system/memory/memory34/state",
        "online_movable",
    )
    .unwrap();
    assert_eq!(
        m.read("/sys/devices/system/memory/memory33/valid_zones")
            .unwrap(),
        "Movable Normal\n"
    );
    // The parameter is 0444 (mm/memory_hotplug.c): kernfs refuses to open it for writing.
    fails(&mut m, Errno::EACCES, |m| {
        m.write(
            "/sys/module/memory_hotplug/parameters/memmap_on_memory",
            "1",
        )
    });
    // A /proc seq file without proc_write opens, and the write fails (fs/proc/inode.c).
    fails(&mut m, Errno::EIO, |m| m.write("/proc/meminfo", "1"));
    fails(&mut m, Errno::ENOENT, |m| {
        m.write("/sys/devices/system/memory/memory99/state", "online")
    });
    fails(&mut m, Errno::ENOENT, |m| {
        m.read("/sys/devices/system/memory/memory033/state")
            .map(|_| ())
    });
    fails(&mut m, Errno::EINVAL, |m| {
        m.write("/sys/devices/system/memory/auto_online_blocks", "yes")
    });
    m.write(
        "/sys/devices/system/memory/auto_online_blocks",
        "online_movable",
    )
    .unwrap();
    m.add_memory(8 * GIB, 128 * MIB, &AddOptions::default())
        .unwrap();
    assert_eq!(
        m.read("/sys/devices/system/memory/memory64/valid_zones")
            .unwrap(),
        "Movable\n"
    );
    m.check().unwrap();
}

#[test]
fn memmap_of_later_adds_pins_hot_added_normal_memory() {
    // A 2 GiB guest has only ZONE_DMA32. Onlined hot-added memory becomes ZONE_NORMAL, the
    // first zone a GFP_KERNEL allocation tries: the memmap of the next DIMM is taken from
    // it, and the block holding that memmap can no longer be offlined (the real guest of
    // tests/fixtures/oracle-x86_64-dimm1g.txt could not offline memory32 either).
    let mut m = boot("x86_64", "", None);
    m.add_memory(4 * GIB, GIB, &AddOptions::default()).unwrap();
    let dma32_free = m.nodes()[0]
        .zone(arch::ZoneType::Dma32)
        .unwrap()
        .free_pages();
    m.add_memory(5 * GIB, GIB, &AddOptions::default()).unwrap();
    let z = m.nodes()[0].zone(arch::ZoneType::Normal).unwrap();
    assert_eq!(
        z.kernel_pages, 4096,
        "the second DIMM's memmap came from ZONE_NORMAL"
    );
    assert_eq!(
        m.nodes()[0]
            .zone(arch::ZoneType::Dma32)
            .unwrap()
            .free_pages(),
        dma32_free
    );
    assert_eq!(m.kernel_pages_on_block(mm::units::BlockId(32)), 4096);
    let e = fails(&mut m, Errno::EBUSY, |m| m.offline(4 * GIB, 128 * MIB));
    assert!(e.contains("4096 pages of kernel allocations"), "{e}");
    m.offline(4 * GIB + 128 * MIB, 128 * MIB).unwrap();
    // Removing the second DIMM frees its memmap, and memory32 can go.
    m.offline(5 * GIB, GIB).unwrap();
    m.remove_memory(5 * GIB, GIB).unwrap();
    m.offline(4 * GIB, 128 * MIB).unwrap();
    m.check().unwrap();
}

/// Each fault point on each operation that reaches it, on every architecture, striking the
/// first, second or third call: the operation fails with the kernel's errno and rolls back
/// completely, or (where the kernel carries on) succeeds in the kernel's degraded way.
#[test]
fn fault_injection_matrix() {
    use mm::{MemmapLocation, MemremapOptions, NamespaceMode};
    for arch in arch::Config::names() {
        for skip in 0..3u32 {
            // going_online: writing "online" to four blocks.
            let mut m = boot(arch, "memhp_default_state=offline", Some(4 * GIB));
            let bs = m.block_size();
            let base = m.boot_info().hotplug_base.next_multiple_of(bs);
            let add = m.add_memory(base, 4 * bs, &AddOptions::default());
            if add.is_err() {
                continue;
            }
            // pseries DLPAR onlines what it adds itself.
            if m.blocks()[&m.units().block_of_phys(base)].state.name() == "online" {
                m.offline(base, 4 * bs).unwrap();
            }
            m.inject_fault_after("going_online", skip, 1).unwrap();
            fails(&mut m, Errno::EPERM, |m| {
                m.online(base, 4 * bs, OnlineType::OnlineMovable)
                    .map(|_| ())
            });
            assert!(!m.faults().going_online.armed(), "{arch}: consumed");
            m.online(base, 4 * bs, OnlineType::OnlineMovable).unwrap();
            // going_offline: writing "offline" to them.
            m.inject_fault_after("going_offline", skip, 1).unwrap();
            fails(&mut m, Errno::EPERM, |m| m.offline(base, 4 * bs));
            m.offline(base, 4 * bs).unwrap();
            m.remove_memory(base, 4 * bs).unwrap();
            m.check().unwrap();

            // memmap_alloc: a hot-add whose memmap comes from the buddy. Every allocation
            // failing from the `skip`th on makes it fail (-ENOMEM), undone completely.
            m.inject_fault_after("memmap_alloc", skip, 1_000_000)
                .unwrap();
            let before = m.state_hash();
            // add_memory() itself fails with the allocation's -ENOMEM on every arch; pseries
            // DLPAR reports any failed add as -EINVAL (hotplug-memory.c
            // dlpar_memory_add_by_ic()), the reason carrying the ENOMEM.
            let dlpar = m.platform_drivers().contains(&arch::PlatformDriver::Dlpar);
            if dlpar {
                let o = mm::platform::PlugOptions {
                    start: Some(base),
                    ..Default::default()
                };
                match m.plug(8 * bs, &o) {
                    Err(e) => {
                        assert_eq!(e.errno(), Errno::EINVAL, "{arch}: {e}");
                        assert!(e.to_string().contains("ENOMEM"), "{arch}: {e}");
                        assert_eq!(m.state_hash(), before, "{arch}: {e}");
                    }
                    // Few enough populate calls that the failures come after it.
                    Ok(d) => {
                        m.inject_fault("memmap_alloc", 0).unwrap();
                        m.unplug(d.driver, d.id).unwrap();
                        m.inject_fault_after("memmap_alloc", skip, 1_000_000)
                            .unwrap();
                    }
                }
            }
            let before = m.state_hash();
            match m.add_memory(base, 8 * bs, &AddOptions::default()) {
                Err(e) => {
                    assert_eq!(e.errno(), Errno::ENOMEM, "{arch}: {e}");
                    assert!(e.to_string().contains("ENOMEM"), "{arch}: {e}");
                    assert_eq!(m.state_hash(), before, "{arch}: {e}");
                }
                // Few enough populate calls that the failures come after it.
                Ok(_) => {
                    m.check().unwrap();
                }
            }
            m.inject_fault("memmap_alloc", 0).unwrap();
            m.check().unwrap();

            // altmap_alloc: memmap_on_memory's per-block altmaps, where the arch has it.
            let mut m = boot(
                arch,
                "memhp_default_state=offline memory_hotplug.memmap_on_memory=1",
                Some(4 * GIB),
            );
            if m.mhp_supports_memmap_on_memory().is_ok() {
                m.inject_fault_after("altmap_alloc", skip, 1).unwrap();
                if arch.starts_with("powerpc") {
                    // radix__vmemmap_populate() falls back to RAM when the altmap fails.
                    m.add_memory(base, 4 * bs, &AddOptions::default()).unwrap();
                    assert!(m.stat("memmap_buddy_pages").unwrap() > 0, "{arch}");
                    m.check().unwrap();
                } else if arch == "s390" {
                    // modify_pmd_table() falls back from a 1M frame to a page table whose
                    // pages come from the altmap one by one (arch/s390/mm/vmem.c).
                    let r = m.add_memory(base, 4 * bs, &AddOptions::default()).unwrap();
                    assert_eq!(r.memmap_buddy_pages, 0);
                    assert_eq!(
                        m.stat("vmemmap_pte_mappings"),
                        Some(256),
                        "one segment in PTEs"
                    );
                    m.check().unwrap();
                } else {
                    fails(&mut m, Errno::ENOMEM, |m| {
                        m.add_memory(base, 4 * bs, &AddOptions::default())
                            .map(|_| ())
                    });
                    m.inject_fault("altmap_alloc", 0).unwrap();
                    m.add_memory(base, 4 * bs, &AddOptions::default()).unwrap();
                }
            }

            // ZONE_DEVICE: a map=dev namespace's altmap, and a map=mem one's memmap.
            let mut m = boot(arch, "", Some(4 * GIB));
            if !m.target().zone_device() {
                continue;
            }
            let ns = base + 64 * bs;
            let size = 4 * bs.max(m.geometry().section_size);
            for (point, map) in [
                ("altmap_alloc", MemmapLocation::Dev),
                ("memmap_alloc", MemmapLocation::Mem),
            ] {
                m.inject_fault_after(point, skip, 1_000_000).unwrap();
                let o = MemremapOptions {
                    map: Some(map),
                    mode: Some(NamespaceMode::FsDax),
                    align: Some(m.geometry().page_size),
                    node: None,
                };
                let before = m.state_hash();
                match m.memremap_pages(ns, size, &o) {
                    Err(e) => {
                        assert_eq!(e.errno(), Errno::ENOMEM, "{arch} {point}: {e}");
                        assert_eq!(m.state_hash(), before, "{arch} {point}");
                    }
                    Ok(id) => {
                        // powerpc's populate falls back to RAM when the altmap fails.
                        m.check().unwrap();
                        m.inject_fault(point, 0).unwrap();
                        m.memunmap_pages(id).unwrap();
                    }
                }
                m.inject_fault(point, 0).unwrap();
                m.check().unwrap();
            }
        }
    }
}

/// The state is one type: the hash, the diff and the rollback see the same fields.
#[test]
fn state_diff_names_what_changed_and_a_failure_changes_nothing() {
    let mut m = Machine::boot(&BootSpec::new(arch::Target::parse("x86_64", "").unwrap())).unwrap();
    let before = m.clone();
    m.write("/sys/devices/system/memory/auto_online_blocks", "offline")
        .unwrap();
    assert_eq!(m.state_diff(&before), vec!["settings"]);
    assert_ne!(m.state_hash(), before.state_hash());
    let base = m.boot_info().hotplug_base;
    // A DIMM: the ACPI driver's static memory group, and the device, are state too.
    m.plug(1 << 30, &Default::default()).unwrap();
    let diff = m.state_diff(&before);
    for f in [
        "settings", "sections", "vmemmap", "nodes", "blocks", "iomem", "groups", "devices",
    ] {
        assert!(diff.contains(&f), "{f} not in {diff:?}");
    }
    // A failing add (overlapping what is there) leaves every field as it was.
    let added = m.clone();
    let e = m
        .add_memory(base, 1 << 30, &Default::default())
        .unwrap_err();
    assert_eq!(e.errno(), Errno::EEXIST);
    assert!(
        m.state_diff(&added).is_empty(),
        "{:?}",
        m.state_diff(&added)
    );
    assert_eq!(m.state_hash(), added.state_hash());
}

/// vmemmap_populate_hugepages() allocates each PMD apart (vmemmap_alloc_block_buf()), so an
/// injected failure of the second allocation strikes the second section's PMD, which falls
/// back to base pages (mm/sparse-vmemmap.c), however many sections the model populates
/// through one call.
#[test]
fn an_injected_memmap_failure_counts_each_pmd() {
    let mut m = Machine::boot(&BootSpec::new(arch::Target::parse("x86_64", "").unwrap())).unwrap();
    let base = m.boot_info().hotplug_base;
    let (pmds, ptes) = (
        m.stat("vmemmap_pmd_mappings").unwrap(),
        m.stat("vmemmap_pte_mappings").unwrap(),
    );
    m.inject_fault_after("memmap_alloc", 1, 1).unwrap();
    let opts = AddOptions {
        memmap_on_memory: Some(false),
        ..AddOptions::default()
    };
    m.add_memory(base, 2 << 27, &opts).unwrap();
    assert_eq!(m.stat("vmemmap_pmd_mappings").unwrap(), pmds + 1);
    // The second section's 2 MiB of struct pages in 4 KiB pages.
    assert_eq!(m.stat("vmemmap_pte_mappings").unwrap(), ptes + 512);
    m.check().unwrap();
}

/// A PMD-sized vmemmap block that cannot be had falls back to base pages
/// (mm/sparse-vmemmap.c vmemmap_populate_hugepages()): what the zones charge is what the
/// vmemmap holds, then and after the unmap (a page table was charged twice).
#[test]
fn a_failed_pmd_falls_back_without_a_leak() {
    let mut m = boot("x86_64", "", Some(4 * GIB));
    let free = m.kernel_free_pages();
    m.inject_fault("memmap_alloc", 1).unwrap();
    let id = m
        .memremap_pages(
            (1 << 40) + 128 * MIB,
            130 * MIB,
            &mm::MemremapOptions {
                map: Some(mm::MemmapLocation::Mem),
                ..Default::default()
            },
        )
        .unwrap();
    m.check().unwrap();
    m.memunmap_pages(id).unwrap();
    m.check().unwrap();
    assert_eq!(m.kernel_free_pages(), free);
}
