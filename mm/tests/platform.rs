//! The platforms' memory hot-plug drivers (`plug`, `unplug`) and the kernel's own calls
//! they are built on, against the drivers' source and real guests: an ACPI DIMM ejected
//! while online (tests/fixtures/oracle-x86_64-6.12-eject-*.txt), pseries DLPAR by count,
//! index and indexed count, s390 standby memory, virtio-mem.

mod common;

use arch::PlatformDriver;
use common::load;
use mm::platform::PlugOptions;
use mm::units::BlockId;
use mm::{AddOptions, BootSpec, Errno, Machine};

const MIB: u64 = 1 << 20;
const GIB: u64 = 1 << 30;

fn boot(arch: &str, kernel: &str, cmdline: &str, standby: Option<u64>) -> Machine {
    let mut spec = BootSpec::new(arch::Target::parse(arch, kernel).unwrap());
    spec.cmdline = cmdline.to_string();
    spec.standby = standby;
    let m = Machine::boot(&spec).unwrap();
    m.check().unwrap();
    m
}

/// memoryN -> (state, valid_zones) of the blocks from `first` on, as the fixture's snapshot
/// or the model shows them.
fn real_blocks(file: &str, snap: &str, first: u64) -> Vec<(u64, String, String)> {
    let (snaps, _) = load(file);
    snaps[snap]
        .blocks()
        .into_iter()
        .filter(|b| b.0 >= first)
        .map(|b| (b.0, b.1, b.4))
        .collect()
}

fn model_blocks(m: &Machine, first: u64) -> Vec<(u64, String, String)> {
    common::model_blocks(m)
        .into_iter()
        .filter(|b| b.0 >= first)
        .map(|b| (b.0, b.1, b.4))
        .collect()
}

/// The kernel's lines from the eject on, without timestamps.
fn eject_dmesg(file: &str) -> Vec<String> {
    let path = format!("{}/tests/fixtures/{file}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(path).unwrap();
    text.lines()
        .skip_while(|l| *l != "--- dmesg-eject")
        .skip(1)
        .take_while(|l| !l.starts_with("ORACLE-"))
        .filter_map(|l| l.split_once("] ").map(|(_, t)| t.to_string()))
        .collect()
}

/// A DIMM onlined movable is ejected cleanly: acpi_scan_try_to_offline() offlines every
/// block, acpi_memory_remove_memory() removes them (drivers/acpi/scan.c,
/// drivers/acpi/acpi_memhotplug.c); blocks already offline are skipped. The real guests'
/// blocks before and after (oracle-x86_64-6.12-eject-movable.txt, -eject-partial.txt).
#[test]
fn a_movable_dimm_ejects_cleanly() {
    for (file, preoffline) in [
        ("oracle-x86_64-6.12-eject-movable.txt", 0),
        ("oracle-x86_64-6.12-eject-partial.txt", 3),
    ] {
        let mut m = boot("x86_64", "6.12", "memhp_default_state=offline", None);
        let d = m.plug(GIB, &PlugOptions::default()).unwrap();
        assert_eq!((d.driver, d.start), (PlatformDriver::Acpi, 4 * GIB));
        let first = d.blocks[0].0;
        m.online(d.start, GIB, mm::cmdline::OnlineType::OnlineMovable)
            .unwrap();
        if preoffline > 0 {
            m.offline(d.start, preoffline * m.block_size()).unwrap();
        }
        assert_eq!(
            model_blocks(&m, first),
            real_blocks(file, "online", first),
            "{file}"
        );
        let before = m.dmesg().len();
        m.unplug(d.driver, d.id).unwrap();
        m.check().unwrap();
        assert!(model_blocks(&m, first).is_empty());
        assert!(real_blocks(file, "eject", first).is_empty());
        assert_eq!(m.platform_devices().count(), 0);
        assert!(!m.dmesg()[before..]
            .iter()
            .any(|l| l.contains("Offline failed")));
    }
}

/// A DIMM onlined to ZONE_NORMAL whose first block holds kernel allocations will not
/// eject: both passes fail on it, "memory memory32: Offline failed." follows the isolation's
/// page dumps, the blocks offlined are onlined again (device_online(), MMOP_ONLINE), blocks
/// that were offline before stay offline, and the DIMM stays (-EBUSY). The real guest's
/// first block held slab pages; the model's holds what set_block_allocations says
/// (oracle-x86_64-6.12-eject-normal.txt, -eject-normal-partial.txt).
#[test]
fn a_dimm_with_kernel_pages_does_not_eject() {
    for (file, preoffline) in [
        ("oracle-x86_64-6.12-eject-normal.txt", false),
        ("oracle-x86_64-6.12-eject-normal-partial.txt", true),
    ] {
        let real = eject_dmesg(file);
        assert_eq!(real.last().unwrap(), "memory memory32: Offline failed.");
        assert_eq!(
            real.iter()
                .filter(|l| *l == "page dumped because: unmovable page")
                .count(),
            2,
            "{file}: one dump per pass"
        );
        let mut m = boot("x86_64", "6.12", "", None);
        let d = m.plug(GIB, &PlugOptions::default()).unwrap();
        let first = d.blocks[0].0;
        m.set_block_allocations(BlockId(first), 16, 0).unwrap();
        if preoffline {
            let bs = m.block_size();
            assert!(m.offline(d.start, bs).is_err());
            m.offline(d.start + bs, 2 * bs).unwrap();
        }
        assert_eq!(model_blocks(&m, first), real_blocks(file, "online", first));
        let before = m.dmesg().len();
        let e = m.unplug(d.driver, d.id).unwrap_err();
        assert_eq!(e.errno(), Errno::EBUSY, "{e}");
        assert!(e.left_changed(), "{e}");
        assert!(
            e.to_string().contains("memory32 could not be offlined"),
            "{e}"
        );
        m.check().unwrap();
        let log: Vec<String> = m.dmesg()[before..]
            .iter()
            .filter_map(|l| l.split_once("] ").map(|(_, t)| t.to_string()))
            .collect();
        let of = |v: &[String], s: &str| v.iter().filter(|l| l.as_str() == s).count();
        for line in [
            "page dumped because: unmovable page",
            "memory memory32: Offline failed.",
        ] {
            assert_eq!(of(&log, line), of(&real, line), "{file}: {line}: {log:?}");
        }
        assert_eq!(log.last(), real.last());
        assert_eq!(
            model_blocks(&m, first),
            real_blocks(file, "eject", first),
            "{file}"
        );
        assert_eq!(m.platform_devices().count(), 1);
        // With the pages gone, the eject goes through.
        m.set_block_allocations(BlockId(first), 0, 0).unwrap();
        m.unplug(d.driver, d.id).unwrap();
        assert!(model_blocks(&m, first).is_empty());
    }
}

/// The raw calls mean the kernel's function on every arch: remove_memory() refuses online
/// memory with EBUSY (mm/memory_hotplug.c check_memblock_offlined_cb()), add_memory() adds
/// one resource and onlines only as auto_online_blocks says, offline_and_remove_memory()
/// offlines first and puts everything back if a block will not go.
#[test]
fn the_kernel_calls_are_the_same_everywhere() {
    for name in ["x86_64", "arm64", "powerpc", "s390"] {
        let mut m = boot(name, "6.12", "memhp_default_state=online", None);
        let base = m.boot_info().hotplug_base;
        let bs = m.block_size();
        let ram = |m: &Machine| {
            m.read("/proc/iomem")
                .unwrap()
                .matches(": System RAM")
                .count()
        };
        let boot_ram = ram(&m);
        let r = m.add_memory(base, 4 * bs, &AddOptions::default()).unwrap();
        assert_eq!(r.blocks.len(), 4, "{name}");
        assert_eq!(ram(&m), boot_ram + 1, "{name}: one resource for the add");
        let e = m.remove_memory(base, 4 * bs).unwrap_err();
        assert_eq!(e.errno(), Errno::EBUSY, "{name}: {e}");
        assert!(e.to_string().contains("is onlined"), "{name}: {e}");
        // offline_and_remove_memory(): a block that will not go leaves all as they were.
        m.set_block_allocations(r.blocks[2], 8, 0).unwrap();
        let before = m.state_hash();
        let e = m.offline_and_remove_memory(base, 4 * bs).unwrap_err();
        assert_eq!(e.errno(), Errno::EBUSY, "{name}: {e}");
        assert_eq!(m.state_hash(), before, "{name}");
        m.set_block_allocations(r.blocks[2], 0, 0).unwrap();
        m.offline_and_remove_memory(base, 4 * bs).unwrap();
        m.check().unwrap();
        assert!(m.blocks().get(&r.blocks[0]).is_none(), "{name}");
    }
}

/// Debian's arm64 kernels do not build CONFIG_ACPI_HOTPLUG_MEMORY: an ACPI DIMM is refused
/// (EOPNOTSUPP) with the alternative; plug grows arm64 with virtio-mem, and unplug asks the
/// device for nothing.
#[test]
fn arm64_plugs_virtio_mem_and_refuses_a_dimm() {
    let mut m = boot("arm64", "6.12", "", None);
    let o = PlugOptions {
        driver: Some(PlatformDriver::Acpi),
        ..PlugOptions::default()
    };
    let e = m.plug(GIB, &o).unwrap_err();
    assert_eq!(e.errno(), Errno::EOPNOTSUPP);
    assert!(e.to_string().contains("ACPI_HOTPLUG_MEMORY"), "{e}");
    assert!(e.to_string().contains("virtio-mem"), "{e}");
    let d = m.plug(GIB, &PlugOptions::default()).unwrap();
    assert_eq!(d.driver, PlatformDriver::VirtioMem);
    assert_eq!((d.size, d.blocks.len()), (GIB, 8));
    let bigger = m
        .plug(
            GIB,
            &PlugOptions {
                region: Some(4 * GIB),
                ..PlugOptions::default()
            },
        )
        .unwrap();
    assert_eq!(bigger.start, d.start + GIB);
    // The device unplugs what it can (a block holding kernel allocations stays plugged).
    m.unplug(d.driver, d.id).unwrap();
    assert!(m.virtio_mem_device(d.id).unwrap().size < GIB);
    m.check().unwrap();
    // powerpc has no virtio-mem in 6.12 (drivers/virtio/Kconfig).
    let mut p = boot("powerpc", "6.12", "", None);
    let o = PlugOptions {
        driver: Some(PlatformDriver::VirtioMem),
        ..PlugOptions::default()
    };
    assert_eq!(p.plug(GIB, &o).unwrap_err().errno(), Errno::EOPNOTSUPP);
}

/// pseries DLPAR (arch/powerpc/platforms/pseries/hotplug-memory.c): by count the first
/// free LMBs, each added and onlined (dlpar_memory_add_by_count()); by index one LMB
/// (dlpar_memory_add_by_index(), its lines); removal by count takes the lowest LMBs DLPAR
/// added, offlining each itself; an LMB that will not go is skipped, and if too few went
/// they are added back and the request fails with -EINVAL (dlpar_memory_remove_by_count()).
#[test]
fn dlpar_by_count_index_and_removal_by_count() {
    let mut m = boot("powerpc", "6.12", "", None);
    let bs = m.block_size();
    let base = m.boot_info().hotplug_base;
    let first = base / bs;
    let by_ic = m
        .plug(
            2 * bs,
            &PlugOptions {
                start: Some(base + 2 * bs),
                ..PlugOptions::default()
            },
        )
        .unwrap();
    let ic: Vec<u64> = by_ic.blocks.iter().map(|b| b.0).collect();
    assert_eq!(ic, vec![first + 2, first + 3]);
    let by_count = m
        .plug(
            0,
            &PlugOptions {
                count: Some(3),
                ..PlugOptions::default()
            },
        )
        .unwrap();
    // The first free LMBs: two below the indexed-count add and one past it.
    let ids: Vec<u64> = by_count.blocks.iter().map(|b| b.0).collect();
    assert_eq!(ids, vec![first, first + 1, first + 4]);
    assert!(m
        .dmesg()
        .iter()
        .any(|l| l.ends_with("pseries-hotplug-mem: Attempting to hot-add 3 LMB(s)")));
    for b in &by_count.blocks {
        assert_eq!(m.blocks()[b].state.name(), "online");
    }
    let drc = 0x8000_0000u32 | (first + 6) as u32;
    let one = m
        .plug(
            0,
            &PlugOptions {
                index: Some(drc),
                ..PlugOptions::default()
            },
        )
        .unwrap();
    assert_eq!(one.blocks, vec![BlockId(first + 6)]);
    let line = format!(
        "pseries-hotplug-mem: Memory at {:x} (drc index {drc:x}) was hot-added",
        (first + 6) * bs
    );
    assert!(m.dmesg().iter().any(|l| l.ends_with(&line)), "{line}");
    // The same index again: assigned already.
    let again = PlugOptions {
        index: Some(drc),
        ..PlugOptions::default()
    };
    assert_eq!(m.plug(0, &again).unwrap_err().errno(), Errno::EINVAL);
    // The driver's line, then dlpar_store()'s for the request drmgr wrote
    // (arch/powerpc/platforms/pseries/dlpar.c).
    let tail = &m.dmesg()[m.dmesg().len() - 2..];
    assert!(tail[0].ends_with(&format!("Failed to hot-add memory, drc index {drc:x}")));
    assert!(tail[1].ends_with(&format!(
        "dlpar: Could not handle DLPAR request \"memory add index {drc:#x}\""
    )));

    // Remove 3 by count: the lowest DLPAR LMBs, first..first+2 (the third is the
    // indexed-count add's first), unless one will not go.
    m.set_block_allocations(BlockId(first + 1), 8, 0).unwrap();
    let before = m.blocks().len();
    m.unplug_count(PlatformDriver::Dlpar, 3).unwrap();
    let gone: Vec<u64> = [first, first + 2, first + 3]
        .into_iter()
        .filter(|id| m.blocks().get(&BlockId(*id)).is_none())
        .collect();
    assert_eq!(gone, vec![first, first + 2, first + 3]);
    assert_eq!(m.blocks().len(), before - 3);
    // Asking for more than are removable: not enough LMBs, nothing removed.
    let e = m.unplug_count(PlatformDriver::Dlpar, 10).unwrap_err();
    assert_eq!(e.errno(), Errno::EINVAL);
    let tail = &m.dmesg()[m.dmesg().len() - 2..];
    assert!(tail[0].ends_with("Not enough LMBs available (3 of 10) to satisfy request"));
    assert!(tail[1].ends_with("dlpar: Could not handle DLPAR request \"memory remove count 10\""));
    // Two of the three will not go: the one that did is added back, EINVAL.
    m.set_block_allocations(BlockId(first + 6), 8, 0).unwrap();
    let e = m.unplug_count(PlatformDriver::Dlpar, 2).unwrap_err();
    assert_eq!(e.errno(), Errno::EINVAL, "{e}");
    assert!(e.left_changed(), "{e}");
    assert!(m.blocks().get(&BlockId(first + 4)).is_some());
    assert!(m
        .dmesg()
        .iter()
        .any(|l| l.ends_with("Memory hot-remove failed, adding LMB's back")));
    m.check().unwrap();
}

/// s390 standby memory (drivers/s390/char/sclp_cmd.c): reported at boot, added after the
/// boot RAM as offline blocks (Debian's s390x config onlines nothing by default), the line
/// saying how much of it is usable; mem= cuts it; plug onlines it as chmem -e does, unplug
/// offlines it (MEM_FINISH_OFFLINE: inaccessible again from 6.8); nothing removes it.
#[test]
fn s390_standby_memory_comes_and_goes_by_chmem() {
    for kernel in ["6.12", "6.1"] {
        let mut m = boot(
            "s390",
            kernel,
            "memory_hotplug.memmap_on_memory=1",
            Some(3 * GIB),
        );
        assert!(
            m.dmesg()
                .iter()
                .any(|l| l
                    .ends_with("sclp_cmd: Standby memory at 0x80000000 (3072M of 3072M usable)")),
            "{kernel}: {:?}",
            m.dmesg()
        );
        let bs = m.block_size();
        let standby: Vec<_> = m
            .blocks()
            .iter()
            .filter(|(id, _)| id.0 * bs >= 2 * GIB)
            .map(|(_, b)| b.clone())
            .collect();
        assert_eq!(standby.len() as u64, 3 * GIB / bs);
        assert!(standby.iter().all(|b| b.state.name() == "offline"));
        // MHP_MEMMAP_ON_MEMORY | MHP_OFFLINE_INACCESSIBLE from 6.8: the memmap on each
        // block, not touched until it is onlined.
        assert_eq!(
            standby
                .iter()
                .all(|b| b.inaccessible && b.nr_vmemmap_pages() > 0),
            kernel == "6.12",
            "{kernel}"
        );
        let d = m.plug(GIB, &PlugOptions::default()).unwrap();
        assert_eq!((d.driver, d.start), (PlatformDriver::Sclp, 2 * GIB));
        assert!(d
            .blocks
            .iter()
            .all(|b| m.blocks()[b].state.name() == "online"));
        let e = m.plug(4 * GIB, &PlugOptions::default()).unwrap_err();
        assert!(
            e.to_string().contains("Could only enable 2 GiB of memory"),
            "{e}"
        );
        m.unplug(d.driver, d.id).unwrap();
        assert!(d
            .blocks
            .iter()
            .all(|b| m.blocks()[b].state.name() == "offline"));
        assert_eq!(
            m.blocks()[&d.blocks[0]].inaccessible,
            kernel == "6.12",
            "{kernel}"
        );
        m.plug(2 * GIB, &PlugOptions::default()).unwrap();
        m.unplug_count(PlatformDriver::Sclp, 1).unwrap();
        let last_online = m.blocks()[&BlockId((4 * GIB - bs) / bs)].state.name();
        assert_eq!(last_online, "offline", "chmem -d takes the highest first");
        m.check().unwrap();
    }
    // mem= ends the identity map, and standby memory with it.
    let m = boot("s390", "6.12", "mem=3G", Some(3 * GIB));
    assert!(m
        .dmesg()
        .iter()
        .any(|l| l.ends_with("sclp_cmd: Standby memory at 0x80000000 (1024M of 1024M usable)")));
    // No standby memory, nothing to plug; other arches have none.
    let mut m = boot("s390", "6.12", "", None);
    assert_eq!(
        m.plug(GIB, &PlugOptions::default()).unwrap_err().errno(),
        Errno::EINVAL
    );
    let mut spec = BootSpec::new(arch::Target::parse("x86_64", "").unwrap());
    spec.standby = Some(GIB);
    assert_eq!(Machine::boot(&spec).unwrap_err().errno(), Errno::EINVAL);
    let _ = MIB;
}

/// Every platform operation that fails for a reason the kernel checks first leaves the
/// machine as it was (those that undo their own way say so: left_changed()).
#[test]
fn failed_platform_operations_leave_the_state() {
    let mut m = boot("x86_64", "6.12", "", None);
    let d = m.plug(GIB, &PlugOptions::default()).unwrap();
    let before = m.state_hash();
    // A DIMM where memory is already.
    let o = PlugOptions {
        start: Some(d.start),
        ..PlugOptions::default()
    };
    assert_eq!(m.plug(GIB, &o).unwrap_err().errno(), Errno::EEXIST);
    assert!(m.dmesg().last().unwrap().contains(": add_memory failed"));
    // A device that is not there; a count the driver does not take.
    assert_eq!(
        m.unplug(PlatformDriver::Acpi, 99).unwrap_err().errno(),
        Errno::ENODEV
    );
    assert_eq!(
        m.unplug_count(PlatformDriver::Acpi, 1).unwrap_err().errno(),
        Errno::EINVAL
    );
    assert_eq!(m.state_hash(), before);
}

/// The kernel's lines and MemTotal after each request the DLPAR fixture echoed to
/// /sys/kernel/dlpar (a line the kernel continued, as dlpar_store() prints the request's
/// newline, joined back).
fn dlpar_requests(file: &str) -> Vec<(String, Vec<String>, u64)> {
    let path = format!("{}/tests/fixtures/{file}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(path).unwrap();
    let mut out: Vec<(String, Vec<String>, u64)> = Vec::new();
    let mut section = "";
    let mut last_stamp = String::new();
    for line in text.lines() {
        if let Some(req) = line.strip_prefix("--- dlpar: ") {
            out.push((req.to_string(), Vec::new(), 0));
            section = "request";
        } else if let Some(s) = line.strip_prefix("--- ") {
            section = if s == "dmesg-dlpar" { "dmesg" } else { "" };
        } else if let Some(cur) = out.last_mut() {
            if section == "dmesg" {
                let (stamp, msg) = line.split_once("] ").unwrap_or((line, ""));
                if stamp == last_stamp {
                    cur.1
                        .last_mut()
                        .unwrap()
                        .push_str(line.split_once(']').unwrap().1.trim());
                } else {
                    cur.1.push(msg.to_string());
                }
                last_stamp = stamp.to_string();
            } else if let Some(kb) = line.strip_prefix("MemTotal:") {
                if cur.2 == 0 {
                    cur.2 = kb.trim().trim_end_matches(" kB").parse().unwrap();
                }
            }
        }
    }
    out
}

/// A pseries guest's DLPAR removal by count, as `drmgr -c mem -r -q N` writes it to
/// /sys/kernel/dlpar (oracle-powerpc-64k-6.12-dlpar.txt, a real 6.12 guest): the lowest
/// LMBs DLPAR added go first, each "Memory at %llx was hot-removed" without its DRC index
/// (dlpar_memory_remove_by_count()), MemTotal falls by exactly their size; a request for
/// more than are removable is refused before anything is touched, with "Not enough LMBs
/// available (2 of 64)" and dlpar_store()'s line. The fixture's adds by count fail for a
/// reason of QEMU's (it grants only LMBs whose DIMM is present and not being unplugged),
/// which the model, granting every free LMB as PowerVM's HMC does, does not replay.
/// A 7.2.11 guest (oracle-powerpc-64k-7.2-dlpar.txt, the nearest 7.x Debian serves for
/// ppc64el) does the same, as `--kernel 7.3`.
#[test]
fn dlpar_removal_by_count_as_a_real_guest() {
    for (kernel, file) in [
        ("6.12", "oracle-powerpc-64k-6.12-dlpar.txt"),
        ("7.3", "oracle-powerpc-64k-7.2-dlpar.txt"),
    ] {
        let reqs = dlpar_requests(file);
        let (snaps, _) = load(file);
        let real_added = snaps["added"].meminfo_kb("MemTotal");
        let mut m = boot("powerpc", kernel, "", None);
        m.plug(GIB, &PlugOptions::default()).unwrap();
        let model_added = m.mem_total_kb();
        let run = |m: &mut Machine, req: &str| -> (Vec<String>, u64, Option<Errno>) {
            let count: u64 = req.rsplit(' ').next().unwrap().parse().unwrap();
            let before = m.dmesg().len();
            let r = m.unplug_count(PlatformDriver::Dlpar, count);
            let lines = m.dmesg()[before..]
                .iter()
                .map(|l| l.split_once("] ").unwrap().1.to_string())
                .collect();
            (lines, m.mem_total_kb(), r.err().map(|e| e.errno()))
        };
        let mut checked = 0;
        for (req, real_lines, real_total) in &reqs {
            if !req.starts_with("memory remove count") {
                continue;
            }
            let (lines, total, err) = run(&mut m, req);
            // dlpar_store() prints the request with echo's newline (joined back above); the
            // model's, as drmgr writes it, has none.
            assert!(!real_lines.is_empty());
            assert_eq!(&lines, real_lines, "{req}");
            assert_eq!(
                model_added - total,
                real_added - real_total,
                "{req}: MemTotal fell by as much"
            );
            let failed = real_lines.iter().any(|l| l.starts_with("dlpar: Could not"));
            assert_eq!(err, failed.then_some(Errno::EINVAL), "{req}");
            checked += 1;
        }
        assert_eq!(
            checked, 2,
            "the fixture's two removals by count were replayed"
        );
        m.check().unwrap();
    }
}
