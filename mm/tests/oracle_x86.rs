//! The model against a real Linux 6.12 x86_64 guest (QEMU q35, 2 GiB, a 1 GiB pc-dimm at
//! 4 GiB): fixtures under tests/fixtures/oracle-x86_64-*.txt, each with the command that
//! produced it. Early kernel reservations (kernel image, swiotlb) are not modelled, so boot
//! MemTotal and DMA32's managed pages differ; every hotplug delta must match exactly.

mod common;

use common::{assert_zones_but, load, model_blocks, Snap};
use mm::cmdline::OnlineType;
use mm::{AddOptions, BootSpec, Errno, Machine};

const GIB: u64 = 1 << 30;

fn boot(cmdline: &str) -> Machine {
    let mut spec = BootSpec::new(arch::Target::parse("x86_64", "").unwrap());
    spec.ram = Some(2 * GIB);
    spec.cmdline = cmdline.to_string();
    let m = Machine::boot(&spec).unwrap();
    m.check().unwrap();
    m
}

fn assert_blocks(m: &Machine, snap: &Snap, what: &str) {
    assert_eq!(model_blocks(m), snap.blocks(), "memory blocks {what}");
}

/// spanned and present of every zone, and managed where the model accounts everything
/// (ZONE_DMA, whose only reservation is x86's first 1 MiB, and hot-plugged zones; the
/// kernel's other boot reservations sit at the top of boot memory).
fn assert_zones(m: &Machine, snap: &Snap, what: &str) {
    assert_zones_but(m, snap, what, &["DMA32"]);
}

fn memtotal(m: &Machine) -> u64 {
    m.mem_total_kb()
}

#[test]
fn boot_2g_matches_the_real_guest() {
    let (snaps, _) = load("oracle-x86_64-dimm1g.txt");
    let boot_snap = &snaps["boot"];
    let m = boot("console=ttyS0 panic=-1 oracle=dimm");
    assert_blocks(&m, boot_snap, "after boot");
    assert_zones(&m, boot_snap, "after boot");
    // nr_memmap_boot_pages: 16 sections x 512 pages (mm/sparse.c sparse_init_nid()).
    assert_eq!(
        m.vmstat().nr_memmap_boot_pages,
        boot_snap.vmstat("nr_memmap_boot_pages")
    );
    assert_eq!(
        m.vmstat().nr_memmap_pages(),
        boot_snap.vmstat("nr_memmap_pages")
    );
    assert_eq!(
        m.read("/sys/devices/system/memory/block_size_bytes")
            .unwrap()
            .trim(),
        boot_snap.one("block_size_bytes")
    );
    // Debian's config: CONFIG_MHP_DEFAULT_ONLINE_TYPE_ONLINE_AUTO.
    assert_eq!(
        m.read("/sys/devices/system/memory/auto_online_blocks")
            .unwrap()
            .trim(),
        boot_snap.one("auto_online_blocks")
    );
    for p in boot_snap.lines("params") {
        let (k, v) = p.split_once('=').unwrap();
        let got = m
            .read(&format!("/sys/module/memory_hotplug/parameters/{k}"))
            .unwrap();
        assert_eq!(got.trim(), v, "parameter {k}");
    }
    // Same System RAM lines as the real /proc/iomem.
    let iomem = m.read("/proc/iomem").unwrap();
    for l in boot_snap
        .lines("iomem")
        .iter()
        .filter(|l| l.ends_with(": System RAM"))
    {
        assert!(
            iomem.contains(&format!("{l}\n")),
            "{l} missing from\n{iomem}"
        );
    }
}

#[test]
fn hot_add_1g_auto_online_matches() {
    let (snaps, errs) = load("oracle-x86_64-dimm1g.txt");
    let mut m = boot("console=ttyS0 panic=-1 oracle=dimm");
    let before = memtotal(&m);
    let real_before = snaps["boot"].meminfo_kb("MemTotal");
    let r = m.add_memory(4 * GIB, GIB, &AddOptions::default()).unwrap();
    m.check().unwrap();
    let added = &snaps["added"];
    assert_blocks(&m, added, "after the add");
    assert_zones(&m, added, "after the add");
    // 1 GiB = 8 sections x 512 memmap pages from the buddy (seed 000: "~2MB per 128MB").
    assert_eq!(r.memmap_buddy_pages, 4096);
    assert_eq!(
        m.vmstat().nr_memmap_pages(),
        added.vmstat("nr_memmap_pages")
    );
    assert_eq!(
        memtotal(&m) - before,
        added.meminfo_kb("MemTotal") - real_before
    );
    assert_eq!(memtotal(&m) - before, 1 << 20);
    assert!(m
        .read("/proc/iomem")
        .unwrap()
        .contains("100000000-13fffffff : System RAM\n"));
    // The oracle then wrote online_movable to the blocks that were already online: every
    // write failed (EINVAL, device_online() returns 1).
    assert_eq!(
        errs.iter()
            .filter(|e| e.starts_with("ORACLE-ERR online"))
            .count(),
        8
    );
    for n in 32..40u64 {
        let e = m
            .write(
                &format!("/sys/devices/system/memory/memory{n}/state"),
                "online_movable",
            )
            .unwrap_err();
        assert_eq!(e.errno(), Errno::EINVAL);
    }
    // Offlining memory33-39 shrinks ZONE_NORMAL to memory32 (the real guest could not offline
    // memory32: a kernel allocation landed in it, which the model does not place there).
    m.offline(4 * GIB + (128 << 20), 7 * (128 << 20)).unwrap();
    m.check().unwrap();
    let off = &snaps["offline"];
    assert_blocks(&m, off, "after offlining memory33-39");
    assert_zones(&m, off, "after offlining memory33-39");
    assert_eq!(
        memtotal(&m) - before,
        off.meminfo_kb("MemTotal") - real_before
    );
}

#[test]
fn memmap_on_memory_cycle_matches() {
    let (snaps, errs) = load("oracle-x86_64-mom1-off.txt");
    assert!(errs.is_empty());
    let mut m = boot("memory_hotplug.memmap_on_memory=1 memhp_default_state=offline");
    let base = memtotal(&m);
    let real_base = snaps["boot"].meminfo_kb("MemTotal");
    assert_blocks(&m, &snaps["boot"], "after boot");
    let r = m.add_memory(4 * GIB, GIB, &AddOptions::default()).unwrap();
    m.check().unwrap();
    // Each 128 MiB block carries its own 512 vmemmap pages at its start (mm/memory_hotplug.c
    // create_altmaps_and_memory_blocks()); nr_memmap_pages counts them (mm/sparse-vmemmap.c).
    assert!(r.memmap_on_memory);
    assert_eq!((r.memmap_altmap_pages, r.memmap_buddy_pages), (4096, 0));
    for id in &r.blocks {
        let a = m.blocks()[id]
            .vmem_altmap(m.units().pages_per_block())
            .unwrap();
        assert_eq!((a.free, a.alloc, a.align), (512, 512, 0));
        assert_eq!(a.base_pfn, m.units().block_start(*id) >> 12);
    }
    for (step, snap) in ["added", "online", "offline", "removed"]
        .iter()
        .map(|s| (*s, &snaps[*s]))
    {
        match step {
            "online" => {
                m.online(4 * GIB, GIB, OnlineType::OnlineMovable).unwrap();
            }
            "offline" => m.offline(4 * GIB, GIB).unwrap(),
            "removed" => m.remove_memory(4 * GIB, GIB).unwrap(),
            _ => {}
        }
        m.check().unwrap();
        assert_blocks(&m, snap, step);
        assert_zones(&m, snap, step);
        assert_eq!(
            m.vmstat().nr_memmap_pages(),
            snap.vmstat("nr_memmap_pages"),
            "{step}"
        );
        assert_eq!(
            memtotal(&m) - base,
            snap.meminfo_kb("MemTotal") - real_base,
            "MemTotal delta {step}"
        );
    }
}

#[test]
fn plain_hotplug_cycle_matches() {
    let (snaps, errs) = load("oracle-x86_64-nomom-off.txt");
    assert!(errs.is_empty());
    let mut m = boot("memhp_default_state=offline");
    let base = memtotal(&m);
    let real_base = snaps["boot"].meminfo_kb("MemTotal");
    m.add_memory(4 * GIB, GIB, &AddOptions::default()).unwrap();
    for step in ["added", "online", "offline", "removed"] {
        match step {
            "online" => {
                m.online(4 * GIB, GIB, OnlineType::OnlineMovable).unwrap();
            }
            "offline" => m.offline(4 * GIB, GIB).unwrap(),
            "removed" => m.remove_memory(4 * GIB, GIB).unwrap(),
            _ => {}
        }
        m.check().unwrap();
        let snap = &snaps[step];
        assert_blocks(&m, snap, step);
        assert_zones(&m, snap, step);
        assert_eq!(
            m.vmstat().nr_memmap_pages(),
            snap.vmstat("nr_memmap_pages"),
            "{step}"
        );
        assert_eq!(
            memtotal(&m) - base,
            snap.meminfo_kb("MemTotal") - real_base,
            "MemTotal delta {step}"
        );
    }
}

#[test]
fn boot_4g_spans_the_pci_hole() {
    let (snaps, _) = load("oracle-x86_64-boot4g.txt");
    let mut spec = BootSpec::new(arch::Target::parse("x86_64", "").unwrap());
    spec.ram = Some(4 * GIB);
    let m = Machine::boot(&spec).unwrap();
    m.check().unwrap();
    let snap = &snaps["boot"];
    assert_blocks(&m, snap, "4G boot");
    assert_zones_but(&m, snap, "4G boot", &["DMA32", "Normal"]);
    assert_eq!(
        m.vmstat().nr_memmap_boot_pages,
        snap.vmstat("nr_memmap_boot_pages")
    );
}
