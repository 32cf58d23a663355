//! Linux 7.3 beside 6.12 and 6.1: the files and counters a real Debian 7.3.4 guest shows
//! (tests/fixtures/oracle-x86_64-7.3-*.txt), replayed against the model's `--kernel 7.3`.

mod common;

use common::load;
use mm::{BootSpec, Machine};

const GIB: u64 = 1 << 30;

fn boot(arch: &str, kernel: &str, ram: u64, cmdline: &str) -> Machine {
    let mut spec = BootSpec::new(arch::Target::parse(arch, kernel).unwrap());
    spec.ram = Some(ram);
    spec.cmdline = cmdline.to_string();
    let m = Machine::boot(&spec).unwrap();
    m.check().unwrap();
    m
}

fn section(file: &str, snap: &str, name: &str) -> Vec<String> {
    let (snaps, _) = load(file);
    snaps[snap].lines(name).to_vec()
}

fn names(text: &[String]) -> Vec<String> {
    text.iter()
        .filter_map(|l| l.split_whitespace().next())
        .map(String::from)
        .collect()
}

fn lines(m: &Machine, path: &str) -> Vec<String> {
    m.read(path).unwrap().lines().map(String::from).collect()
}

/// /proc/vmstat, /proc/meminfo and /proc/zoneinfo name for name and in order, as the real
/// 7.3.4 x86_64 guest prints them (oracle-x86_64-7.3-whole.txt): nr_free_pages_blocks,
/// nr_bounce and nr_writeback_temp gone, pgsteal/pgscan/pgrefill as node counters,
/// nr_vmalloc, nr_hugetlb, nr_balloon_pages, nr_gpu_*, the CMA events (amd64 builds CMA
/// from 7.x), the direct map's collapse counters (mm/vmstat.c); Balloon, GPUActive and
/// GPUReclaim after Unaccepted (fs/proc/meminfo.c); the pagesets' high_min/high_max and
/// each zone's reserved_highatomic/free_highatomic (zoneinfo_show_print()).
/// The arm64 7.3.4 guest's (oracle-arm64-7.3-whole.txt) likewise, with arm64's own
/// counters (CMA, no direct-map or PUD-THP counters, no Unaccepted), and the powerpc
/// 7.2.11 guest's (oracle-powerpc-64k-7.2-whole.txt) but for what 7.3 added.
#[test]
fn proc_files_name_for_name() {
    for (arch, file, count) in [
        ("x86_64", "oracle-x86_64-7.3-whole.txt", 202),
        ("arm64", "oracle-arm64-7.3-whole.txt", 0),
    ] {
        let m = boot(arch, "7.3", 2 * GIB, "");
        let real = names(&section(file, "whole-boot", "vmstat-all"));
        if count > 0 {
            assert_eq!(real.len(), count, "{file}");
        }
        assert_eq!(names(&lines(&m, "/proc/vmstat")), real, "{arch} vmstat");
        let real = names(&section(file, "whole-boot", "meminfo-all"));
        assert_eq!(names(&lines(&m, "/proc/meminfo")), real, "{arch} meminfo");
        // zoneinfo: the same lines by their first word, the model's one CPU's pageset against
        // the guest's first.
        let shape = |text: Vec<String>| -> Vec<String> {
            let mut out = Vec::new();
            let mut cpu = 0;
            for l in text {
                if let Some(n) = l.trim().strip_prefix("cpu: ") {
                    cpu = n.parse().unwrap();
                } else if !l.starts_with("              ") && !l.starts_with("  vm stats") {
                    cpu = 0;
                }
                if cpu == 0 {
                    out.push(l.split_whitespace().next().unwrap_or("").to_string());
                }
            }
            out
        };
        let real = shape(section(file, "whole-boot", "zoneinfo-all"));
        assert!(real.contains(&"high_min:".to_string()));
        assert!(real.contains(&"free_highatomic:".to_string()));
        assert_eq!(shape(lines(&m, "/proc/zoneinfo")), real, "{arch} zoneinfo");
    }
}

/// A 1 GiB DIMM on a 2 GiB 7.3 guest (oracle-x86_64-7.3-whole.txt): the boot blocks and
/// zones, the DIMM onlined movable (one block already online by Debian's default, kept in
/// its zone), offlined; every block's state and valid_zones, zone spans, MemTotal deltas and
/// both nr_memmap counters after each step, as 6.12 does (mm/memory_hotplug.c, mm/sparse.c
/// did not change what they count here).
#[test]
fn a_dimm_cycle_as_the_real_guest() {
    let file = "oracle-x86_64-7.3-whole.txt";
    let (snaps, _) = load(file);
    let mut m = boot("x86_64", "7.3", 2 * GIB, "");
    let b = &snaps["boot"];
    assert_eq!(common::model_blocks(&m), b.blocks(), "boot blocks");
    common::assert_zones_but(&m, b, "boot", &["DMA32"]);
    assert_eq!(
        m.vmstat().nr_memmap_boot_pages,
        b.vmstat("nr_memmap_boot_pages")
    );
    assert_eq!(m.vmstat().nr_memmap_pages(), b.vmstat("nr_memmap_pages"));
    for p in b.lines("params") {
        let (k, v) = p.split_once('=').unwrap();
        let got = m
            .read(&format!("/sys/module/memory_hotplug/parameters/{k}"))
            .unwrap();
        assert_eq!(got.trim(), v, "parameter {k}");
    }
    let total0 = m.mem_total_kb();
    let real0 = b.meminfo_kb("MemTotal");
    // The DIMM, as QEMU's device_add and the ACPI driver add it.
    let dimm = m.plug(GIB, &mm::platform::PlugOptions::default()).unwrap();
    // The scenario onlines movable what auto_online_blocks left offline: nothing here.
    for id in &dimm.blocks {
        assert_eq!(m.blocks()[id].state.name(), "online");
    }
    let on = &snaps["online"];
    assert_eq!(common::model_blocks(&m), on.blocks(), "online blocks");
    common::assert_zones_but(&m, on, "online", &["DMA32"]);
    assert_eq!(m.mem_total_kb() - total0, on.meminfo_kb("MemTotal") - real0);
    assert_eq!(m.vmstat().nr_memmap_pages(), on.vmstat("nr_memmap_pages"));
    // Offline each block; the first holds kernel pages in the real guest (ORACLE-ERR
    // offline memory32), as in the model's Normal zone it holds none: offline the others.
    let off = &snaps["offline"];
    for (id, state, ..) in off.blocks() {
        if id >= dimm.blocks[0].0 && state == "offline" {
            let at = id * m.block_size();
            m.offline(at, m.block_size()).unwrap();
        }
    }
    assert_eq!(common::model_blocks(&m), off.blocks(), "offline blocks");
    assert_eq!(
        m.mem_total_kb() - total0,
        off.meminfo_kb("MemTotal") - real0
    );
    assert_eq!(m.vmstat().nr_memmap_pages(), off.vmstat("nr_memmap_pages"));
}

/// A 1 GiB page reserved at boot with HVO on (`hugepagesz=1G hugepages=1
/// hugetlb_free_vmemmap=on`, 4 GiB): 6.12 builds its 4096 vmemmap pages from memblock and
/// HVO frees them later, taking one new head page (nr_memmap_boot_pages 16384 -> 12288,
/// nr_memmap_pages 1); 7.3's hugetlb_vmemmap_init_early() (SPARSEMEM_VMEMMAP_PREINIT, which
/// x86_64 selects) builds it optimised in sparse_init(): one boot head page, the rest never
/// allocated (12289, 0). Both real guests (oracle-x86_64-6.12-gigantic-hvo.txt,
/// -7.3-gigantic-hvo.txt) and the lines report_hugepages() prints.
#[test]
fn boot_time_gigantic_pages_are_built_optimised_on_7_3() {
    for (kernel, file) in [
        ("6.12", "oracle-x86_64-6.12-gigantic-hvo.txt"),
        ("7.3", "oracle-x86_64-7.3-gigantic-hvo.txt"),
    ] {
        let (snaps, _) = load(file);
        let real = &snaps["boot"];
        let m = boot(
            "x86_64",
            kernel,
            4 * GIB,
            "hugepagesz=1G hugepages=1 hugetlb_free_vmemmap=on",
        );
        assert_eq!(
            m.vmstat().nr_memmap_boot_pages,
            real.vmstat("nr_memmap_boot_pages"),
            "{kernel}"
        );
        assert_eq!(
            m.vmstat().nr_memmap_pages(),
            real.vmstat("nr_memmap_pages"),
            "{kernel}"
        );
        assert_eq!(
            common::model_meminfo_kb(&m, "Hugetlb"),
            real.meminfo_kb("Hugetlb")
        );
        let ours: Vec<String> = m
            .dmesg()
            .iter()
            .filter(|l| l.contains("HugeTLB"))
            .map(|l| l.split_once("] ").unwrap().1.to_string())
            .collect();
        let theirs: Vec<String> = section(file, "whole-boot", "dmesg-hugetlb-cma")
            .iter()
            .filter(|l| l.contains("HugeTLB"))
            .map(|l| l.split_once("] ").unwrap().1.to_string())
            .collect();
        assert_eq!(ours, theirs, "{kernel}");
    }
}

/// 512 x 2 MiB huge pages allocated and freed on a 2 GiB 7.3 guest, HVO on and off
/// (oracle-x86_64-7.3-hvo-on.txt, -hvo-off.txt): the counters move as on 6.12 (each page's
/// 8 boot vmemmap pages freed, one new head page counted in nr_memmap_pages, MemTotal +16
/// MiB kept after freeing). 7.3 maps the other 7 to one shared read-only tail page per zone
/// and order instead of the head copy: that page is not counted anywhere the fixture shows.
#[test]
fn hvo_with_2m_pages_counts_as_6_12_did() {
    for (cmdline, file) in [
        ("hugetlb_free_vmemmap=on", "oracle-x86_64-7.3-hvo-on.txt"),
        ("hugetlb_free_vmemmap=off", "oracle-x86_64-7.3-hvo-off.txt"),
    ] {
        let (snaps, _) = load(file);
        let mut m = boot("x86_64", "7.3", 2 * GIB, cmdline);
        let total0 = m.mem_total_kb();
        for (snap, n) in [("boot", 0u64), ("huge512", 512), ("huge0", 0)] {
            m.write("/proc/sys/vm/nr_hugepages", &n.to_string())
                .unwrap();
            m.check().unwrap();
            let real = &snaps[snap];
            assert_eq!(
                m.vmstat().nr_memmap_boot_pages,
                real.vmstat("nr_memmap_boot_pages"),
                "{file} {snap}"
            );
            assert_eq!(
                m.vmstat().nr_memmap_pages(),
                real.vmstat("nr_memmap_pages"),
                "{file} {snap}"
            );
            assert_eq!(
                m.mem_total_kb() - total0,
                real.meminfo_kb("MemTotal") - snaps["boot"].meminfo_kb("MemTotal"),
                "{file} {snap}"
            );
        }
    }
}

/// 7.3's /sys/bus/dax/devices/daxX.Y/state (drivers/dax/kmem.c state_store()), against a
/// real 7.3.4 guest (oracle-x86_64-7.3-kmem-state.txt: `memmap=0xfc000000!8G` on 16 GiB,
/// the namespace made device-dax with its memmap on the device, 2 MiB aligned, given to
/// kmem): the probe's "DAX region truncated by 128 MiB due to alignment" and the resources,
/// the state after the probe ("online": auto_online_blocks), then each write in the order
/// the guest made them, with its result, the state it leaves and MemTotal's change.
#[test]
fn kmem_state_file_as_the_real_guest() {
    use mm::memremap::{MemmapLocation, MemremapOptions, NamespaceMode};
    let file = "oracle-x86_64-7.3-kmem-state.txt";
    let path = format!("{}/tests/fixtures/{file}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(path).unwrap();
    let mut m = boot("x86_64", "7.3", 16 * GIB, "memmap=0xfc000000!8G");
    let id = m
        .memremap_pages(
            8 * GIB,
            0xfc00_0000,
            &MemremapOptions {
                map: Some(MemmapLocation::Dev),
                mode: Some(NamespaceMode::DevDax),
                align: Some(2 << 20),
                node: None,
            },
        )
        .unwrap();
    let total0 = m.mem_total_kb();
    let (snaps, _) = load(file);
    let real0 = snaps["devdax"].meminfo_kb("MemTotal");
    let k = m.dax_kmem(id, &Default::default()).unwrap();
    m.check().unwrap();
    let line = "kmem dax0.0: DAX region truncated by 128 MiB due to alignment";
    assert!(text.contains(line));
    assert!(m.dmesg().iter().any(|l| l.ends_with(line)), "{line}");
    let iomem = m.read("/proc/iomem").unwrap();
    for l in snaps["kmem"].lines("iomem") {
        if l.contains("dax0.0") || l.contains("(kmem)") {
            assert!(iomem.contains(&format!("{l}\n")), "{l} in\n{iomem}");
        }
    }
    let state = format!("/sys/bus/dax/devices/{}/state", k.dax);
    let real_probe = text
        .lines()
        .skip_while(|l| *l != "--- state")
        .nth(1)
        .unwrap();
    assert_eq!(m.read(&state).unwrap().trim(), real_probe);
    assert_eq!(
        m.mem_total_kb() - total0,
        snaps["kmem"].meminfo_kb("MemTotal") - real0
    );
    // Each write: (value, rc, state after, MemTotal after).
    let mut writes = Vec::new();
    let mut lines = text.lines().peekable();
    while let Some(l) = lines.next() {
        let Some(v) = l.strip_prefix("--- write ") else {
            continue;
        };
        let (mut ok, mut st, mut total) = (None, String::new(), 0u64);
        for l in lines.by_ref() {
            if let Some(rc) = l.strip_prefix("rc=") {
                ok = Some(rc == "0");
            } else if let Some(s) = l.strip_prefix("state=") {
                st = s.to_string();
            } else if let Some(t) = l.strip_prefix("MemTotal:") {
                total = t.trim().trim_end_matches(" kB").parse().unwrap();
                break;
            }
        }
        writes.push((v.to_string(), ok.unwrap(), st, total));
    }
    assert_eq!(writes.len(), 8);
    for (v, ok, st, total) in &writes {
        let r = m.write(&state, v);
        m.check().unwrap();
        assert_eq!(r.is_ok(), *ok, "write {v}: {r:?}");
        if let Err(e) = r {
            // The guest's shell said "Invalid argument" for offline, "Device or resource
            // busy" for an online type while online.
            let want = if v == "offline" {
                mm::Errno::EINVAL
            } else {
                mm::Errno::EBUSY
            };
            assert_eq!(e.errno(), want, "write {v}");
        }
        assert_eq!(m.read(&state).unwrap().trim(), st, "after {v}");
        assert_eq!(
            m.mem_total_kb() - total0,
            total - real0,
            "MemTotal after {v}"
        );
    }
    // The last write onlined it movable: every kmem block in ZONE_MOVABLE, as the guest's.
    let model = common::model_blocks(&m);
    let first = k.start / m.block_size();
    let real: Vec<_> = snaps["end"]
        .blocks()
        .into_iter()
        .filter(|b| b.0 >= first && b.0 < first + k.size / m.block_size())
        .collect();
    assert_eq!(real.len() as u64, k.size / m.block_size());
    for b in real {
        assert!(model.contains(&b), "{b:?}");
    }
}

/// A 4 GiB virtio-mem device asked for 1 GiB on a real arm64 7.3.4 guest
/// (oracle-arm64-7.3-virtio-mem.txt): Debian's 7.3 config onlines what is added
/// (MHP_DEFAULT_ONLINE_TYPE_ONLINE_AUTO), so the eight plugged blocks come up in Normal;
/// blocks, zones, MemTotal's change and the device's resources as the guest shows them.
/// The arm64-16k 7.3.4 guest likewise (oracle-arm64-16k-7.3-virtio-mem.txt).
#[test]
fn arm64_virtio_mem_as_the_real_guest() {
    for (arch, file) in [
        ("arm64", "oracle-arm64-7.3-virtio-mem.txt"),
        ("arm64-16k", "oracle-arm64-16k-7.3-virtio-mem.txt"),
    ] {
        use mm::virtio_mem::VirtioMemConfig;
        let (snaps, _) = load(file);
        let (boot_snap, plugged) = (&snaps["boot"], &snaps["plugged"]);
        let mut m = boot(arch, "7.3", 2 * GIB, "");
        assert_eq!(common::model_blocks(&m), boot_snap.blocks());
        let total0 = m.mem_total_kb();
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
            m.mem_total_kb() - total0,
            plugged.meminfo_kb("MemTotal") - boot_snap.meminfo_kb("MemTotal")
        );
        let (model, real) = (common::model_zones(&m), plugged.zones());
        for (name, r) in &real {
            let z = model[name];
            assert_eq!((z.0, z.1), (r.0, r.1), "zone {name} spanned/present");
        }
        assert_eq!(
            m.vmstat().nr_memmap_pages(),
            plugged.vmstat("nr_memmap_pages")
        );
        assert_eq!(
            m.vmstat().nr_memmap_boot_pages,
            plugged.vmstat("nr_memmap_boot_pages")
        );
        let iomem = m.read("/proc/iomem").unwrap();
        for l in plugged
            .lines("iomem")
            .iter()
            .filter(|l| l.contains("virtio0") || l.contains("(virtio_mem)"))
        {
            assert!(iomem.contains(&format!("{l}\n")), "{l} in\n{iomem}");
        }
    }
}

/// nr_memmap_pages for device-dax with its vmemmap deduplicated (memmap in RAM, 2 MiB
/// compound pages): 7.3 counts what is allocated, two vmemmap pages per compound page
/// (mm/sparse-vmemmap.c section_nr_vmemmap_pages()), 3968 for the 3968 MiB namespace, where
/// its fsdax mapping counted all 15872; kmem's hot-add of the 3840 MiB block-aligned part
/// then counts 15360 (oracle-x86_64-7.3-devdax-ram.txt).
#[test]
fn deduplicated_device_dax_counts_what_is_allocated() {
    use mm::memremap::{MemmapLocation, MemremapOptions, NamespaceMode};
    let (snaps, _) = load("oracle-x86_64-7.3-devdax-ram.txt");
    let mut m = boot("x86_64", "7.3", 16 * GIB, "memmap=0xfc000000!8G");
    let opts = |mode, align| MemremapOptions {
        map: Some(MemmapLocation::Mem),
        mode: Some(mode),
        align,
        node: None,
    };
    let fsdax = m
        .memremap_pages(8 * GIB, 0xfc00_0000, &opts(NamespaceMode::FsDax, None))
        .unwrap();
    assert_eq!(
        m.vmstat().nr_memmap_pages(),
        snaps["boot"].vmstat("nr_memmap_pages")
    );
    m.memunmap_pages(fsdax).unwrap();
    let dax = m
        .memremap_pages(
            8 * GIB,
            0xfc00_0000,
            &opts(NamespaceMode::DevDax, Some(2 << 20)),
        )
        .unwrap();
    assert_eq!(
        m.vmstat().nr_memmap_pages(),
        snaps["devdax"].vmstat("nr_memmap_pages")
    );
    assert_eq!(snaps["devdax"].vmstat("nr_memmap_pages"), 3968);
    m.dax_kmem(dax, &Default::default()).unwrap();
    m.check().unwrap();
    assert_eq!(
        m.vmstat().nr_memmap_pages(),
        snaps["kmem"].vmstat("nr_memmap_pages")
    );
}

/// s390 at boot on real guests, 2 GiB: Debian's 6.12.107 (trixie; until now s390 was
/// checked against 6.1 only) and 7.2.11 (trixie-backports' nearest to 7.3 for s390x,
/// oracle-s390-6.12-whole.txt, oracle-s390-7.2-whole.txt). 7.x's 128 MiB sections make
/// 128 MiB blocks, its config onlines hot-added memory and reserves a 128 MiB CMA area
/// ("cma: Reserved 128 MiB at ..." without 6.12's node); the block list, parameters, CMA
/// lines and /proc files name for name. What 7.2.11 lacks of 7.3 (pgrotate_*, nrswpin,
/// nrswpout, added in 7.3) and the HugeTLB lines of a CPU without EDAT1 (QEMU's TCG s390
/// CPU; the model's has it) are the only differences.
#[test]
fn s390_at_boot_on_6_12_and_7_2() {
    for (kernel, file, block) in [
        ("6.12", "oracle-s390-6.12-whole.txt", "10000000"),
        ("7.3", "oracle-s390-7.2-whole.txt", "8000000"),
    ] {
        let (snaps, _) = load(file);
        let b = &snaps["boot"];
        let m = boot("s390", kernel, 2 * GIB, "");
        assert_eq!(b.one("block_size_bytes"), block);
        assert_eq!(
            m.read("/sys/devices/system/memory/block_size_bytes")
                .unwrap()
                .trim(),
            block,
            "{kernel}"
        );
        assert_eq!(
            m.read("/sys/devices/system/memory/auto_online_blocks")
                .unwrap()
                .trim(),
            b.one("auto_online_blocks"),
            "{kernel}"
        );
        assert_eq!(common::model_blocks(&m), b.blocks(), "{kernel}");
        for p in b.lines("params") {
            let (k, v) = p.split_once('=').unwrap();
            let got = m
                .read(&format!("/sys/module/memory_hotplug/parameters/{k}"))
                .unwrap();
            assert_eq!(got.trim(), v, "{kernel} parameter {k}");
        }
        let since_7_3 = ["pgrotate_anon", "pgrotate_file", "nrswpin", "nrswpout"];
        let real = names(&section(file, "whole-boot", "vmstat-all"));
        let model: Vec<String> = names(&lines(&m, "/proc/vmstat"))
            .into_iter()
            .filter(|n| kernel != "7.3" || !since_7_3.contains(&n.as_str()))
            .collect();
        assert_eq!(model, real, "{kernel} vmstat");
        let real = names(&section(file, "whole-boot", "meminfo-all"));
        let model: Vec<String> = names(&lines(&m, "/proc/meminfo"))
            .into_iter()
            .filter(|n| !n.starts_with("HugePages_") && n != "Hugepagesize:" && n != "Hugetlb:")
            .collect();
        assert_eq!(model, real, "{kernel} meminfo");
        let cma = |text: Vec<String>| {
            text.into_iter()
                .filter(|l| l.starts_with("Cma"))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            cma(lines(&m, "/proc/meminfo")),
            cma(section(file, "whole-boot", "meminfo-all")),
            "{kernel}"
        );
        let reserved: Vec<String> = section(file, "whole-boot", "dmesg-hugetlb-cma")
            .iter()
            .filter(|l| l.contains("cma: Reserved"))
            .map(|l| l.split_once("] ").unwrap().1.to_string())
            .collect();
        let ours: Vec<String> = m
            .dmesg()
            .iter()
            .filter(|l| l.contains("cma: Reserved"))
            .map(|l| l.split_once("] ").unwrap().1.to_string())
            .collect();
        // The same line; the address sits a little higher in the model (no kernel image
        // or early reservations below it).
        assert_eq!(
            ours.iter().map(|l| &l[..l.len() - 8]).collect::<Vec<_>>(),
            reserved
                .iter()
                .map(|l| &l[..l.len() - 8])
                .collect::<Vec<_>>(),
            "{kernel}"
        );
        let (model, real) = (common::model_zones(&m), b.zones());
        assert_eq!(
            model.keys().collect::<Vec<_>>(),
            real.keys().collect::<Vec<_>>(),
            "{kernel} zones"
        );
        for (name, r) in &real {
            assert_eq!(
                (model[name].0, model[name].1),
                (r.0, r.1),
                "{kernel} {name}"
            );
        }
    }
}
