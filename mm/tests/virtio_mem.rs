//! virtio-mem (drivers/virtio/virtio_mem.c, 6.12) against what a real guest showed.

mod common;

use mm::cmdline::OnlineType;
use mm::units::BlockId;
use mm::virtio_mem::{Mode, VirtioMemConfig};
use mm::Machine;

const MIB: u64 = 1 << 20;
const GIB: u64 = 1 << 30;

fn boot(arch: &str, cmdline: &str) -> Machine {
    common::boot(arch, 2 * GIB, cmdline)
}

fn mem_total_kb(m: &Machine) -> u64 {
    common::model_meminfo_kb(m, "MemTotal")
}

/// A Linux 6.12 arm64 guest (QEMU virt, 2 GiB, virtio-mem asked for 1 GiB) showed
/// "System RAM (virtio_mem)" c0000000-ffffffff, memory24-31 online in ZONE_MOVABLE,
/// nr_memmap_pages +4096, MemTotal +1048576 kB and Movable managed 262144, with
/// memmap_on_memory=0 and =1 alike (virtio-mem never asks for it in 6.12). The same
/// request on x86_64 gives the same counts at its own address.
#[test]
fn one_gib_request_matches_the_arm64_guest() {
    for arch in ["arm64", "x86_64"] {
        for mom in ["0", "1"] {
            let mut m = boot(
                arch,
                &format!(
                    "memhp_default_state=online_movable memory_hotplug.memmap_on_memory={mom}"
                ),
            );
            let start = if arch == "arm64" {
                0xc000_0000
            } else {
                4 * GIB
            };
            let total0 = mem_total_kb(&m);
            let memmap0 = m.vmstat().nr_memmap_pages();
            let id = m
                .virtio_mem_add(&VirtioMemConfig {
                    start,
                    region_size: 4 * GIB,
                    ..Default::default()
                })
                .unwrap();
            m.virtio_mem_resize(id, GIB).unwrap();
            m.check().unwrap();
            let d = m.virtio_mem_devices().next().unwrap();
            assert_eq!(m.virtio_mem_plugged_size(d), GIB);
            // Sub-blocks of a pageblock (2 MiB), the device block size.
            assert_eq!(d.mode, Mode::Sbm { sb_size: 2 * MIB }, "{arch}");
            let iomem = m.read("/proc/iomem").unwrap();
            let want = format!(
                "{:x}-{:x} : System RAM (virtio_mem)",
                start,
                start + GIB - 1
            );
            assert!(iomem.contains(&want), "{arch}: {iomem}");
            let first = start / (128 * MIB);
            for b in first..first + 8 {
                let blk = &m.blocks()[&BlockId(b)];
                assert_eq!(blk.zone, Some(arch::ZoneType::Movable), "memory{b}");
            }
            assert_eq!(m.vmstat().nr_memmap_pages() - memmap0, 4096);
            assert_eq!(mem_total_kb(&m) - total0, 1_048_576);
            let movable = m.nodes()[0].zone(arch::ZoneType::Movable).unwrap();
            assert_eq!(movable.managed_pages, 262_144, "{arch} mom={mom}");
        }
    }
}

/// The driver adds at most offline_threshold = max(2 x memory block size,
/// VIRTIO_MEM_DEFAULT_OFFLINE_THRESHOLD = 1 GiB) of memory that is not online, then waits;
/// onlining lets it go on (drivers/virtio/virtio_mem.c, virtio_mem_init_hotplug(),
/// virtio_mem_could_add_memory()).
#[test]
fn offline_threshold_stalls_until_memory_is_onlined() {
    let mut m = boot("x86_64", "memhp_default_state=offline");
    let id = m
        .virtio_mem_add(&VirtioMemConfig {
            start: 4 * GIB,
            region_size: 8 * GIB,
            ..Default::default()
        })
        .unwrap();
    m.virtio_mem_resize(id, 4 * GIB).unwrap();
    let d = m.virtio_mem_devices().next().unwrap().clone();
    assert_eq!(d.offline_threshold, GIB);
    assert_eq!(m.virtio_mem_plugged_size(&d), GIB);
    assert!(d.waiting.unwrap().contains("waiting"));
    m.online(4 * GIB, GIB, OnlineType::OnlineMovable).unwrap();
    let d = m.virtio_mem_devices().next().unwrap().clone();
    assert_eq!(m.virtio_mem_plugged_size(&d), 2 * GIB);
    m.check().unwrap();
}

/// A partly plugged block: only the plugged sub-blocks reach the buddy; unplug takes
/// sub-blocks back (fake-offline) and removes blocks that empty.
#[test]
fn sub_blocks_plug_and_unplug() {
    let mut m = boot("x86_64", "memhp_default_state=online_movable");
    let id = m
        .virtio_mem_add(&VirtioMemConfig {
            start: 4 * GIB,
            region_size: GIB,
            ..Default::default()
        })
        .unwrap();
    m.virtio_mem_resize(id, 200 * MIB).unwrap();
    let movable = |m: &Machine| {
        m.nodes()[0]
            .zone(arch::ZoneType::Movable)
            .unwrap()
            .managed_pages
    };
    assert_eq!(movable(&m), 200 * MIB / 4096);
    assert_eq!(m.blocks().values().filter(|b| !b.early).count(), 2);
    m.virtio_mem_resize(id, 100 * MIB).unwrap();
    m.check().unwrap();
    assert_eq!(movable(&m), 100 * MIB / 4096);
    assert_eq!(m.blocks().values().filter(|b| !b.early).count(), 1);
    m.virtio_mem_resize(id, 0).unwrap();
    assert_eq!(m.blocks().values().filter(|b| !b.early).count(), 0);
    assert_eq!(m.vmstat().nr_memmap_pages(), 0);
    m.check().unwrap();
}

/// Found by the long property run: huge pages were placed in the unplugged (fake-offline)
/// part of a virtio-mem block, so offlining the other blocks left the zone handing out more
/// than it managed.
#[test]
fn huge_pages_stay_out_of_unplugged_memory() {
    let mut m = boot("arm64", "memory_hotplug.online_policy=auto-movable");
    let bs = m.block_size();
    let base = m.boot_info().hotplug_base.next_multiple_of(bs);
    let id = m
        .virtio_mem_add(&VirtioMemConfig {
            start: base + 5 * bs,
            region_size: bs,
            ..Default::default()
        })
        .unwrap();
    m.virtio_mem_resize(id, 2 * MIB).unwrap();
    m.add_memory(base, 3 * bs, &mm::AddOptions::default())
        .unwrap();
    let size = m.hstates()[0].size;
    m.write(
        &format!(
            "/sys/kernel/mm/hugepages/hugepages-{}kB/nr_hugepages",
            size >> 10
        ),
        "33",
    )
    .unwrap();
    let vblock = &m.blocks()[&BlockId((base + 5 * bs) / bs)];
    // At most the plugged 2 MiB (512 pages) of that block can hold huge pages.
    assert!(
        vblock.hugetlb_pages <= 512,
        "{} huge pages in it",
        vblock.hugetlb_pages
    );
    m.offline(base, 3 * bs).unwrap();
    m.check().unwrap();
}

/// virtio_mem_init_hotplug(): sub-blocks are max(device block size, pageblock); Sub Block
/// Mode when they are smaller than a memory block, else Big Block Mode with big blocks of
/// max(device block size, memory block size) and a threshold of at least two of them. On
/// arm64 with 64 KiB pages a pageblock is 512 MiB, a whole memory block: BBM. The probe
/// prints the driver's dev_info() lines.
#[test]
fn mode_follows_the_pageblock_and_the_probe_says_so() {
    for (arch, mode, threshold) in [
        ("x86_64", Mode::Sbm { sb_size: 2 * MIB }, GIB),
        ("arm64-64k", Mode::Bbm { bb_size: 512 * MIB }, GIB),
    ] {
        let mut m = boot(arch, "");
        let bs = m.block_size();
        let start = m.boot_info().hotplug_base.next_multiple_of(bs);
        let id = m
            .virtio_mem_add(&VirtioMemConfig {
                start,
                region_size: 8 * bs,
                ..Default::default()
            })
            .unwrap();
        let d = m.virtio_mem_devices().next().unwrap();
        assert_eq!((d.mode, d.offline_threshold), (mode, threshold), "{arch}");
        let want = [
            format!("virtio_mem virtio{id}: start address: {start:#x}"),
            format!("virtio_mem virtio{id}: region size: {:#x}", 8 * bs),
            format!("virtio_mem virtio{id}: device block size: {:#x}", 2 * MIB),
            format!("virtio_mem virtio{id}: memory block size: {bs:#x}"),
        ];
        for w in want {
            assert!(m.dmesg().iter().any(|l| l.ends_with(&w)), "{arch}: {w}");
        }
    }
}

/// CONFIG_VIRTIO_MEM depends on X86_64 || ARM64 || RISCV (drivers/virtio/Kconfig, 6.12): the
/// powerpc and s390 kernels have no virtio-mem driver, so there is no device to add.
#[test]
fn virtio_mem_exists_where_its_kconfig_builds() {
    for arch in arch::Config::names() {
        let mut m = boot(arch, "");
        let before = m.state_hash();
        let start = m.boot_info().hotplug_base.next_multiple_of(GIB);
        let r = m.virtio_mem_add(&VirtioMemConfig {
            start,
            region_size: 4 * GIB,
            ..Default::default()
        });
        let builds = arch.starts_with("x86_64") || arch.starts_with("arm64");
        assert_eq!(r.is_ok(), builds, "{arch}: {r:?}");
        if let Err(e) = r {
            assert_eq!(e.errno(), mm::Errno::EOPNOTSUPP);
            assert!(e.reason().contains("X86_64 || ARM64 || RISCV"), "{e}");
            assert_eq!(m.state_hash(), before, "{arch}");
        }
    }
}

/// A real Debian 6.12 arm64 guest with 16K pages (tests/fixtures/oracle-arm64-16k-virtio-mem.txt)
/// plugs 1 GiB of a 4 GiB virtio-mem device at 0xc0000000 as eight 128 MiB blocks, online
/// in ZONE_NORMAL (Debian's default online type); zones and the MemTotal delta must match.
#[test]
fn one_gib_request_matches_the_arm64_16k_guest() {
    let (snaps, _) = common::load("oracle-arm64-16k-virtio-mem.txt");
    let (boot_snap, plugged) = (&snaps["boot"], &snaps["plugged"]);
    let mut m = boot("arm64-16k", "");
    assert_eq!(common::model_blocks(&m), boot_snap.blocks());
    let total0 = mem_total_kb(&m);
    let id = m
        .virtio_mem_add(&VirtioMemConfig {
            start: 0xc000_0000,
            region_size: 4 * GIB,
            ..Default::default()
        })
        .unwrap();
    m.virtio_mem_resize(id, GIB).unwrap();
    assert_eq!(common::model_blocks(&m), plugged.blocks());
    assert_eq!(
        mem_total_kb(&m) - total0,
        plugged.meminfo_kb("MemTotal") - boot_snap.meminfo_kb("MemTotal")
    );
    let (model, real) = (common::model_zones(&m), plugged.zones());
    for (name, r) in &real {
        let z = model.get(name).copied().unwrap_or_default();
        assert_eq!((z.0, z.1), (r.0, r.1), "zone {name} spanned/present");
    }
    assert_eq!(model["Normal"].2, real["Normal"].2, "Normal managed");
    // The device's own resource, with the plugged RAM nested in it (virtio_mem_create_resource()).
    let ram_lines = |text: Vec<String>| -> Vec<String> {
        text.into_iter()
            .filter(|l| l.contains("virtio0") || l.contains("System RAM"))
            .collect()
    };
    let iomem = m.read("/proc/iomem").unwrap();
    let model_lines = ram_lines(iomem.lines().map(String::from).collect());
    assert_eq!(model_lines, ram_lines(plugged.lines("iomem").to_vec()));
    assert_eq!(model_lines[1], "c0000000-1bfffffff : virtio0");
    // Unplugged again, the device's resource stays.
    m.virtio_mem_resize(id, 0).unwrap();
    let after = m.read("/proc/iomem").unwrap();
    assert!(after.contains("c0000000-1bfffffff : virtio0\n"), "{after}");
    assert!(!after.contains("virtio_mem)"), "{after}");
}

/// Its HugeTLB sizes, as the boot log registers them (hugetlbpage_init(): no PUD size with
/// 16K pages), and its VmallocTotal: Debian builds 16K with 52-bit VA, run here on an LPA2
/// CPU.
#[test]
fn arm64_16k_hugetlb_sizes_and_vmalloc_match_the_guest() {
    let (snaps, _) = common::load("oracle-arm64-16k-virtio-mem.txt");
    let boot_snap = &snaps["boot"];
    let mut real: Vec<u64> = boot_snap
        .lines("dmesg")
        .iter()
        .filter_map(|l| {
            let t = l.split_once("HugeTLB: registered ")?.1;
            let (n, unit) = t.split_once(' ')?;
            let n: f64 = n.parse().ok()?;
            let mul = match unit.split(' ').next()? {
                "MiB" => MIB,
                "GiB" => GIB,
                _ => return None,
            };
            Some((n * mul as f64) as u64)
        })
        .collect();
    real.sort_unstable();
    assert_eq!(
        real,
        arch::Config::lookup("arm64-16k")
            .unwrap()
            .arch
            .hugepage_sizes()
    );
    assert_eq!(
        arch::arm64::vmalloc_size(14, 52, 52) >> 10,
        boot_snap.meminfo_kb("VmallocTotal")
    );
}

/// A real Debian 6.1 arm64 guest (tests/fixtures/oracle-arm64-6.1-virtio-mem.txt) with the
/// same 4 GiB device asked for 1 GiB: 6.1's config leaves hot-added memory offline
/// (auto_online_blocks "offline"), so the eight plugged blocks stay offline with
/// valid_zones "Normal Movable" and MemTotal does not move; the device resource holds the
/// RAM as on 6.12. Debian's 6.1 arm64 config also lacks ZONE_DEVICE: no Device zone in
/// /proc/zoneinfo, and memremap_pages() has nothing to put a namespace in.
#[test]
fn one_gib_request_matches_the_arm64_6_1_guest() {
    let (snaps, _) = common::load("oracle-arm64-6.1-virtio-mem.txt");
    let (boot_snap, plugged) = (&snaps["boot"], &snaps["plugged"]);
    let mut spec = mm::BootSpec::new(arch::Target::parse("arm64", "").unwrap());
    spec.ram = Some(2 * GIB);
    spec.target = spec.target.on(arch::Kernel::lookup("6.1").unwrap());
    let mut m = mm::Machine::boot(&spec).unwrap();
    assert_eq!(
        m.read("/sys/devices/system/memory/auto_online_blocks")
            .unwrap()
            .trim_end(),
        plugged.one("auto_online_blocks")
    );
    assert_eq!(common::model_blocks(&m), boot_snap.blocks());
    let total0 = mem_total_kb(&m);
    let id = m
        .virtio_mem_add(&VirtioMemConfig {
            start: 0xc000_0000,
            region_size: 4 * GIB,
            ..Default::default()
        })
        .unwrap();
    m.virtio_mem_resize(id, GIB).unwrap();
    m.check().unwrap();
    assert_eq!(common::model_blocks(&m), plugged.blocks());
    assert_eq!(
        mem_total_kb(&m) - total0,
        plugged.meminfo_kb("MemTotal") - boot_snap.meminfo_kb("MemTotal")
    );
    let (model, real) = (common::model_zones(&m), plugged.zones());
    for (name, r) in &real {
        let z = model[name];
        assert_eq!((z.0, z.1), (r.0, r.1), "zone {name} spanned/present");
    }
    assert_eq!(
        model.keys().collect::<Vec<_>>(),
        real.keys().collect::<Vec<_>>()
    );
    let e = m
        .memremap_pages(64 * GIB, GIB, &mm::MemremapOptions::default())
        .unwrap_err();
    assert_eq!(e.errno(), mm::Errno::EOPNOTSUPP, "{e}");
    let iomem = m.read("/proc/iomem").unwrap();
    for l in plugged
        .lines("iomem")
        .iter()
        .filter(|l| l.contains("virtio0") || l.contains("(virtio_mem)"))
    {
        assert!(
            iomem.contains(&format!("{l}\n")),
            "{l} missing from\n{iomem}"
        );
    }
}
