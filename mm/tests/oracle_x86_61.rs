//! The model's Linux 6.1 against a real 6.1 x86_64 guest (Debian 6.1.0-56-amd64, QEMU q35,
//! 2 GiB; a pc-dimm at 4 GiB onlined movable, offlined and removed): fixtures under
//! tests/fixtures/oracle-x86_64-6.1-*.txt, each with the commands that produced it. As for
//! 6.12 (tests/oracle_x86.rs), early reservations are not modelled: boot MemTotal and
//! DMA32's managed pages differ, every hotplug delta must match exactly.

mod common;

use common::{assert_zones_but, load, model_blocks, Snap};
use mm::cmdline::OnlineType;
use mm::{AddOptions, BootSpec, Machine};

const GIB: u64 = 1 << 30;
const MIB: u64 = 1 << 20;

fn boot(kernel: &str, cmdline: &str) -> Machine {
    let mut spec = BootSpec::new(arch::Target::parse("x86_64", "").unwrap());
    spec.ram = Some(2 * GIB);
    spec.cmdline = cmdline.to_string();
    spec.target = spec.target.on(arch::Kernel::lookup(kernel).unwrap());
    let m = Machine::boot(&spec).unwrap();
    m.check().unwrap();
    m
}

/// spanned, present and start_pfn of every zone; managed except in DMA32, where the
/// kernel's boot reservations sit.
fn assert_zones(m: &Machine, snap: &Snap, what: &str) {
    assert_zones_but(m, snap, what, &["DMA32"]);
}

fn param(m: &Machine, name: &str) -> String {
    m.read(&format!("/sys/module/memory_hotplug/parameters/{name}"))
        .unwrap()
        .trim_end()
        .to_string()
}

/// Replay one fixture: boot, the DIMM added (6.1's Debian config leaves it offline), onlined
/// movable, offlined and removed, comparing each step. Returns the model's MemTotal delta
/// after onlining.
fn replay(fixture: &str, cmdline: &str, size: u64) -> (Machine, u64) {
    let (snaps, errs) = load(fixture);
    assert!(errs.is_empty(), "{fixture}: {errs:?}");
    let mut m = boot("6.1", cmdline);
    let boot_snap = &snaps["boot"];
    // What the parameter files and auto_online_blocks show.
    assert_eq!(
        m.read("/sys/devices/system/memory/auto_online_blocks")
            .unwrap()
            .trim_end(),
        boot_snap.one("auto_online_blocks"),
        "{fixture}"
    );
    for l in boot_snap.lines("params") {
        let (k, v) = l.split_once('=').unwrap();
        assert_eq!(param(&m, k), v, "{fixture}: {k}");
    }
    assert_eq!(
        model_blocks(&m),
        boot_snap.blocks(),
        "{fixture}: boot blocks"
    );
    let base = m.mem_total_kb();
    let real_base = boot_snap.meminfo_kb("MemTotal");
    m.add_memory(4 * GIB, size, &AddOptions::default()).unwrap();
    let mut online_delta = 0;
    for step in ["added", "online", "offline", "removed"] {
        match step {
            "online" => {
                m.online(4 * GIB, size, OnlineType::OnlineMovable).unwrap();
            }
            "offline" => m.offline(4 * GIB, size).unwrap(),
            "removed" => m.remove_memory(4 * GIB, size).unwrap(),
            _ => {}
        }
        m.check().unwrap();
        let snap = &snaps[step];
        assert_eq!(model_blocks(&m), snap.blocks(), "{fixture}: blocks {step}");
        assert_zones(&m, snap, &format!("{fixture} {step}"));
        let delta = m.mem_total_kb() - base;
        assert_eq!(
            delta,
            snap.meminfo_kb("MemTotal") - real_base,
            "{fixture}: MemTotal delta {step}"
        );
        if step == "online" {
            online_delta = delta;
        }
        // 6.1 has no nr_memmap_pages or nr_memmap_boot_pages (the guest's vmstat section,
        // which greps for them, is empty).
        assert!(snap.lines("vmstat").is_empty());
        assert!(!m.read("/proc/vmstat").unwrap().contains("nr_memmap"));
    }
    (m, online_delta)
}

/// A 1 GiB DIMM (eight 128 MiB blocks) with memory_hotplug.memmap_on_memory 0, 1 and force.
/// 6.1's mhp_supports_memmap_on_memory() takes it only for an add of exactly one block, so
/// with 1 all 1 GiB reaches the buddy (MemTotal +1048576 kB, Movable managed = present);
/// and 6.1's parameter is a bool, so "force" reads as kstrtobool's 'f': off, silently.
#[test]
fn a_1g_dimm_gets_no_altmap_on_6_1() {
    for (fixture, cmdline, shown) in [
        ("oracle-x86_64-6.1-mom0.txt", "", "N"),
        (
            "oracle-x86_64-6.1-mom1.txt",
            "memory_hotplug.memmap_on_memory=1",
            "Y",
        ),
        (
            "oracle-x86_64-6.1-force.txt",
            "memory_hotplug.memmap_on_memory=force",
            "N",
        ),
    ] {
        let (m, online) = replay(fixture, cmdline, GIB);
        assert_eq!(param(&m, "memmap_on_memory"), shown, "{fixture}");
        assert_eq!(online, GIB >> 10, "{fixture}");
        assert!(!m.dmesg().iter().any(|l| l.contains("will waste")));
    }
}

/// The same DIMM on 6.12 (tests/fixtures/oracle-x86_64-mom1-off.txt) puts 512 vmemmap pages
/// at the start of each block: MemTotal grows by 1 GiB less 8 x 512 pages. Both numbers,
/// from the same model.
#[test]
fn the_same_dimm_on_6_12_and_6_1() {
    let (snaps, _) = load("oracle-x86_64-mom1-off.txt");
    let real_612 = snaps["online"].meminfo_kb("MemTotal") - snaps["boot"].meminfo_kb("MemTotal");
    let mut deltas = Vec::new();
    for kernel in ["6.12", "6.1"] {
        let mut m = boot(
            kernel,
            "memory_hotplug.memmap_on_memory=1 memhp_default_state=offline",
        );
        let base = m.mem_total_kb();
        let r = m.add_memory(4 * GIB, GIB, &AddOptions::default()).unwrap();
        m.online(4 * GIB, GIB, OnlineType::OnlineMovable).unwrap();
        deltas.push((kernel, r.memmap_on_memory, m.mem_total_kb() - base));
    }
    assert_eq!(real_612, (GIB >> 10) - 8 * 512 * 4);
    assert_eq!(
        deltas,
        [("6.12", true, real_612), ("6.1", false, GIB >> 10)]
    );
}

/// One 128 MiB block is what 6.1 takes memmap_on_memory for: the block's 512 vmemmap pages
/// come from its start (Movable present 32768, managed 32256), as on 6.12.
#[test]
fn a_128m_dimm_carries_its_memmap_on_6_1() {
    let (m, online) = replay(
        "oracle-x86_64-6.1-mom1-128m.txt",
        "memory_hotplug.memmap_on_memory=1",
        128 * MIB,
    );
    assert_eq!(online, ((128 * MIB) >> 10) - 512 * 4);
    drop(m);
    let mut m = boot("6.1", "memory_hotplug.memmap_on_memory=1");
    let r = m
        .add_memory(4 * GIB, 128 * MIB, &AddOptions::default())
        .unwrap();
    assert!(r.memmap_on_memory);
    assert_eq!((r.memmap_altmap_pages, r.memmap_buddy_pages), (512, 0));
}

/// A 4 GiB DIMM: thirty-two blocks, no altmap on 6.1.
#[test]
fn a_4g_dimm_gets_no_altmap_on_6_1() {
    let (_, online) = replay(
        "oracle-x86_64-6.1-mom1-4g.txt",
        "memory_hotplug.memmap_on_memory=1",
        4 * GIB,
    );
    assert_eq!(online, (4 * GIB) >> 10);
}

/// 6.1's try_remove_memory() (mm/memory_hotplug.c) takes memory that carries its memmap back
/// only one memory block per call: two blocks added one at a time with memmap_on_memory are
/// refused as one range ("Refuse to remove ... wrong granularity", EINVAL, checked before
/// anything changes) and go one by one.
#[test]
fn memmap_on_memory_blocks_are_removed_one_at_a_time_on_6_1() {
    let mut m = boot(
        "6.1",
        "memory_hotplug.memmap_on_memory=1 memhp_default_state=offline",
    );
    let bs = m.block_size();
    for i in 0..2 {
        let r = m
            .add_memory(4 * GIB + i * bs, bs, &AddOptions::default())
            .unwrap();
        assert!(r.memmap_on_memory);
    }
    let before = m.state_hash();
    let e = m.remove_memory(4 * GIB, 2 * bs).unwrap_err();
    assert_eq!(e.errno(), mm::Errno::EINVAL, "{e}");
    assert_eq!(m.state_hash(), before);
    assert!(m
        .dmesg()
        .last()
        .unwrap()
        .ends_with("Refuse to remove 0x100000000 - 0x110000000,wrong granularity"));
    m.remove_memory(4 * GIB + bs, bs).unwrap();
    m.remove_memory(4 * GIB, bs).unwrap();
    m.check().unwrap();
}
