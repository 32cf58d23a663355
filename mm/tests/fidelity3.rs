//! Fidelity, round 3: what an audit against Debian's linux-source-6.12 and linux-source-6.1
//! found the model to get wrong, each pinned with the kernel file that decides it (and the
//! fixture where a real guest shows it).

mod common;

use common::load;
use mm::{AddOptions, BootSpec, Errno, Machine, MemmapLocation, MemremapOptions, NamespaceMode};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

const MIB: u64 = 1 << 20;
const GIB: u64 = 1 << 30;
const TIB: u64 = 1 << 40;

fn boot(arch: &str, kernel: &str, ram: u64, cmdline: &str) -> Machine {
    let mut spec = BootSpec::new(arch::Target::parse(arch, kernel).unwrap());
    spec.ram = Some(ram);
    spec.cmdline = cmdline.to_string();
    let m = Machine::boot(&spec).unwrap();
    m.check().unwrap();
    m
}

fn devdax(align: u64) -> MemremapOptions {
    MemremapOptions {
        map: Some(MemmapLocation::Mem),
        mode: Some(NamespaceMode::DevDax),
        align: Some(align),
        node: None,
    }
}

/// powerpc on 6.1 has neither device-dax vmemmap deduplication (6.1's vmemmap_can_optimize()
/// in include/linux/mm.h needs ARCH_WANT_HUGETLB_PAGE_OPTIMIZE_VMEMMAP, which only x86_64
/// selects) nor 1 GiB device-dax alignment (6.1's PPC_THP in
/// arch/powerpc/platforms/Kconfig.cputype does not select HAVE_ARCH_TRANSPARENT_HUGEPAGE_PUD,
/// so dax_align_valid() in drivers/dax/dax-private.h refuses PUD_SIZE); 6.12 has both.
#[test]
fn powerpc_device_dax_on_6_1_and_6_12() {
    for (kernel, aligns, dedup) in [
        ("6.1", vec![64 << 10, 2 * MIB], false),
        ("6.12", vec![64 << 10, 2 * MIB, GIB], true),
    ] {
        let mut m = boot("powerpc", kernel, 4 * GIB, "");
        assert_eq!(m.target().dax_alignments(), aligns, "{kernel}");
        assert_eq!(m.arch().dax_vmemmap_optimize(m.kernel()), dedup, "{kernel}");
        // With 64K pages only a 1 GiB compound page has vmemmap to share (16 pages, of
        // which 2 stay): 6.12 deduplicates it, 6.1 refuses the alignment.
        match m.memremap_pages(64 * GIB, 2 * GIB, &devdax(GIB)) {
            Ok(id) => {
                assert_eq!(kernel, "6.12");
                assert!(m.pgmaps()[&id].vmemmap_optimized);
            }
            Err(e) => {
                assert_eq!(kernel, "6.1", "{e}");
                assert_eq!(e.errno(), Errno::EINVAL);
            }
        }
    }
}

/// The HugeTLB sizes registered at boot, in the order the kernel registers them: the
/// arch's initcall first (x86_64's gigantic_pages_init() 1G; arm64's hugetlbpage_init()
/// PUD, CONT_PMD, PMD, CONT_PTE; powerpc's hugetlbpage_init() smallest first), then
/// hugetlb_init()'s HUGETLB_PAGE_ORDER (mm/hugetlb.c). s390's hugetlbpage.c registers
/// nothing: 1M only, 2G with `hugepagesz=2G`. Against the real guests' boot lines.
#[test]
fn hugetlb_sizes_registered_as_each_kernel_does() {
    let registered = |log: &[String]| -> Vec<String> {
        log.iter()
            .filter_map(|l| l.split_once("HugeTLB: registered ").map(|x| x.1))
            .map(|t| t.split(" page size").next().unwrap().to_string())
            .collect()
    };
    for (fixture, arch) in [
        ("oracle-powerpc-64k-dimm1g.txt", "powerpc"),
        ("oracle-arm64-boot.txt", "arm64"),
        ("oracle-arm64-16k-virtio-mem.txt", "arm64-16k"),
    ] {
        let (snaps, _) = load(fixture);
        let real = registered(snaps["boot"].lines("dmesg"));
        assert!(!real.is_empty(), "{fixture}");
        let m = boot(arch, "", 2 * GIB, "");
        assert_eq!(registered(m.dmesg()), real, "{fixture}");
    }
    let m = boot("powerpc-hash", "", 2 * GIB, "");
    assert_eq!(registered(m.dmesg()), ["16.0 MiB", "16.0 GiB"]);
    let m = boot("s390", "", 2 * GIB, "");
    assert_eq!(registered(m.dmesg()), ["1.00 MiB"]);
    assert_eq!(m.hstates().len(), 1);
    assert!(m
        .read("/sys/kernel/mm/hugepages/hugepages-2097152kB/nr_hugepages")
        .is_err());
    // hugepagesz= is an early parameter: its size comes first.
    let m = boot("s390", "", 2 * GIB, "hugepagesz=2G hugepages=0");
    assert_eq!(registered(m.dmesg()), ["2.00 GiB", "1.00 MiB"]);
    let m = boot("x86_64", "", 2 * GIB, "");
    assert_eq!(registered(m.dmesg()), ["1.00 GiB", "2.00 MiB"]);
}

/// A DLPAR removal of many LMBs is one pass, however many there are, and the caller's
/// deadline reaches inside it (245,760 LMBs took 90 s, past --max-time).
#[test]
fn a_large_dlpar_removal_is_linear_and_stoppable() {
    // Each LMB carries its own memmap, so that each can go offline on its own.
    let mut m = boot(
        "powerpc",
        "",
        2 * GIB,
        "memory_hotplug.memmap_on_memory=force",
    );
    let base = m.boot_info().hotplug_base;
    let plug = mm::platform::PlugOptions {
        start: Some(base),
        ..Default::default()
    };
    let d = m.plug(4 * TIB, &plug).unwrap();
    let t = std::time::Instant::now();
    m.unplug(d.driver, d.id).unwrap();
    // A hang guard (the quadratic removal took seconds here).
    assert!(t.elapsed() < std::time::Duration::from_secs(30));
    m.check().unwrap();
    assert_eq!(m.blocks().len(), 8);
    // Stopped: the whole removal fails with the watchdog's error, the machine as it was.
    let d = m.plug(4 * TIB, &plug).unwrap();
    let cancel = Arc::new(AtomicBool::new(true));
    m.set_watchdog(mm::Watchdog::new(cancel, "interrupted"));
    let before = m.state_hash();
    let e = m.unplug(d.driver, d.id).unwrap_err();
    assert!(e.is_stopped(), "{e}");
    assert_eq!(m.state_hash(), before);
}

/// remove_memory() over two ranges added separately succeeds (try_remove_memory() in
/// mm/memory_hotplug.c); release_mem_region_adjustable() (kernel/resource.c) finds no one
/// resource holding the range and leaves both, silently.
#[test]
fn removing_two_added_ranges_at_once_leaves_their_resources() {
    let mut m = boot("x86_64", "", 2 * GIB, "memhp_default_state=offline");
    let base = m.boot_info().hotplug_base;
    m.add_memory(base, GIB, &AddOptions::default()).unwrap();
    m.add_memory(base + GIB, GIB, &AddOptions::default())
        .unwrap();
    let iomem = m.read("/proc/iomem").unwrap();
    let log = m.dmesg().len();
    m.remove_memory(base, 2 * GIB).unwrap();
    m.check().unwrap();
    assert!(m.blocks().keys().all(|id| id.0 < base / m.block_size()));
    assert_eq!(m.read("/proc/iomem").unwrap(), iomem);
    assert_eq!(m.dmesg().len(), log, "{:?}", &m.dmesg()[log..]);
}

/// A WARN reads as the kernel prints it, with the line of the version modelled; a
/// WARN_ONCE reports once (mm/memremap.c pagemap_range(): 200 in 6.12, 199 in 6.1).
#[test]
fn warnings_as_the_kernel_prints_them_once_where_once() {
    for (kernel, line) in [("6.12", 200), ("6.1", 199)] {
        let mut m = boot("x86_64", kernel, 4 * GIB, "");
        let ram = 1 << 30;
        for _ in 0..2 {
            let e = m
                .memremap_pages(ram, 2 * GIB, &MemremapOptions::default())
                .unwrap_err();
            assert_eq!(e.errno(), Errno::ENXIO, "{e}");
        }
        let text: Vec<&str> = m
            .dmesg()
            .iter()
            .map(|l| l.split_once("] ").unwrap().1)
            .collect();
        let at = text
            .iter()
            .position(|l| *l == "------------[ cut here ]------------")
            .unwrap();
        assert_eq!(
            &text[at..at + 4],
            [
                "------------[ cut here ]------------",
                "attempted on mixed region 0x40000000-0xbfffffff",
                &format!("WARNING: CPU: 0 PID: 1 at mm/memremap.c:{line} pagemap_range"),
                "---[ end trace 0000000000000000 ]---",
            ],
            "{kernel}"
        );
        assert_eq!(
            text.iter().filter(|l| l.contains("cut here")).count(),
            1,
            "{kernel}"
        );
    }
}

/// The version's own Kconfig in virtio-mem's refusal: 6.1's VIRTIO_MEM depends on
/// X86_64 || ARM64 (drivers/virtio/Kconfig), 6.12's adds RISCV.
#[test]
fn virtio_mem_refusal_quotes_the_versions_kconfig() {
    for (kernel, depends) in [
        ("6.1", "X86_64 || ARM64 ("),
        ("6.12", "X86_64 || ARM64 || RISCV ("),
    ] {
        let mut m = boot("powerpc", kernel, 2 * GIB, "");
        let e = m
            .virtio_mem_add(&mm::virtio_mem::VirtioMemConfig {
                start: 64 * GIB,
                region_size: 4 * GIB,
                ..Default::default()
            })
            .unwrap_err();
        assert_eq!(e.errno(), Errno::EOPNOTSUPP);
        assert!(e.to_string().contains(depends), "{kernel}: {e}");
    }
}

/// A namespace whose start is not aligned to memremap_compat_align(): EINVAL, and the
/// probing driver's dev_err (drivers/nvdimm/pfn_devs.c nd_pfn_init()).
#[test]
fn a_misaligned_namespace_says_so() {
    let mut m = boot("x86_64", "", 4 * GIB, "");
    for (mode, line) in [
        (
            NamespaceMode::FsDax,
            "nd_pmem pfn0.0: namespace0.0: start 0x0000001000100000 misaligned to 0x200000",
        ),
        (
            NamespaceMode::DevDax,
            "dax_pmem dax0.0: namespace0.0: start 0x0000001000100000 misaligned to 0x200000",
        ),
    ] {
        let e = m
            .memremap_pages(
                64 * GIB + MIB,
                GIB,
                &MemremapOptions {
                    mode: Some(mode),
                    ..Default::default()
                },
            )
            .unwrap_err();
        assert_eq!(e.errno(), Errno::EINVAL, "{e}");
        assert!(
            m.dmesg().last().unwrap().ends_with(line),
            "{:?}",
            m.dmesg().last()
        );
    }
}

/// The files a real 6.12 x86_64 guest shows under /sys/devices/system/memory and
/// /sys/kernel/mm/hugepages (tests/fixtures/oracle-x86_64-6.12-whole.txt, ls -l of both):
/// crash_hotplug (CONFIG_CRASH_HOTPLUG, not in 6.1), the write-only soft_offline_page and
/// hard_offline_page (CONFIG_MEMORY_FAILURE), and each hstate's nr_hugepages_mempolicy,
/// with demote (write-only) and demote_size where a smaller size exists.
#[test]
fn memory_and_hugepages_directories_hold_the_kernels_files() {
    let (snaps, _) = load("oracle-x86_64-6.12-whole.txt");
    let real = &snaps["whole-boot"];
    assert!(real.lines("memory-dir").len() >= 6 && real.lines("hugepages-dir").len() >= 20);
    let m = boot("x86_64", "6.12", 2 * GIB, "");
    let listed = |dir: &str| -> Vec<String> { m.list_dir(dir) };
    // `ls -l` lines: mode, ..., name; the model lists no power/ or uevent.
    for l in real
        .lines("memory-dir")
        .iter()
        .filter(|l| l.starts_with('-'))
    {
        let name = l.rsplit(' ').next().unwrap();
        if name == "uevent" {
            continue;
        }
        assert!(
            listed("/sys/devices/system/memory").contains(&name.to_string()),
            "{name}"
        );
        let path = format!("/sys/devices/system/memory/{name}");
        let readable = l.starts_with("-r");
        assert_eq!(m.read(&path).is_ok(), readable, "{path}");
        if !readable {
            assert_eq!(m.read(&path).unwrap_err().errno(), Errno::EACCES);
        }
    }
    assert_eq!(
        m.read("/sys/devices/system/memory/crash_hotplug")
            .unwrap()
            .trim(),
        real.lines("crash_hotplug")[0]
    );
    let mut dir = String::new();
    for l in real.lines("hugepages-dir") {
        if l.starts_with("hugepages-") {
            dir = format!("/sys/kernel/mm/hugepages/{l}");
        } else if l.starts_with('-') {
            let name = l.rsplit(' ').next().unwrap();
            assert!(listed(&dir).contains(&name.to_string()), "{dir}/{name}");
            let readable = l.starts_with("-r");
            assert_eq!(
                m.read(&format!("{dir}/{name}")).is_ok(),
                readable,
                "{dir}/{name}"
            );
        } else if let Some((name, value)) = l.split_once('=') {
            if !value.contains("Permission denied") {
                assert_eq!(
                    m.read(&format!("{dir}/{name}")).unwrap().trim(),
                    value,
                    "{name}"
                );
            }
        }
    }
    let old = boot("x86_64", "6.1", 2 * GIB, "");
    assert!(old
        .read("/sys/devices/system/memory/crash_hotplug")
        .is_err());
    assert!(!old
        .list_dir("/sys/devices/system/memory")
        .contains(&"crash_hotplug".to_string()));
}

/// Writing N to a gigantic hstate's demote splits N free pages into pages of demote_size,
/// in place (mm/hugetlb.c demote_store()); demote_size takes a smaller hstate's size only.
#[test]
fn demote_splits_free_huge_pages() {
    let mut m = boot("x86_64", "", 8 * GIB, "hugetlb_free_vmemmap=on");
    let g = "/sys/kernel/mm/hugepages/hugepages-1048576kB";
    let s = "/sys/kernel/mm/hugepages/hugepages-2048kB";
    m.write(&format!("{g}/nr_hugepages"), "2").unwrap();
    let total = m.read("/proc/meminfo").unwrap();
    m.write(&format!("{g}/demote"), "1").unwrap();
    m.check().unwrap();
    assert_eq!(m.read(&format!("{g}/nr_hugepages")).unwrap(), "1\n");
    assert_eq!(m.read(&format!("{s}/nr_hugepages")).unwrap(), "512\n");
    let hugetlb = |t: &str| {
        t.lines()
            .find(|l| l.starts_with("Hugetlb:"))
            .unwrap()
            .to_string()
    };
    assert_eq!(hugetlb(&m.read("/proc/meminfo").unwrap()), hugetlb(&total));
    assert_eq!(
        m.write(&format!("{g}/demote_size"), "4G")
            .unwrap_err()
            .errno(),
        Errno::EINVAL
    );
    m.write(&format!("{g}/demote_size"), "2M").unwrap();
    assert_eq!(m.read(&format!("{g}/demote_size")).unwrap(), "2048kB\n");
    assert_eq!(
        m.write("/sys/devices/system/memory/soft_offline_page", "0x1000")
            .unwrap_err()
            .errno(),
        Errno::EOPNOTSUPP
    );
}

/// The `--- name` section of snapshot `snap` in fixture `file`.
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

fn model_vmstat(m: &Machine) -> Vec<String> {
    m.read("/proc/vmstat")
        .unwrap()
        .lines()
        .map(String::from)
        .collect()
}

fn vmstat_value(m: &Machine, key: &str) -> u64 {
    model_vmstat(m)
        .iter()
        .find_map(|l| l.strip_prefix(&format!("{key} ")))
        .unwrap_or_else(|| panic!("no {key} in /proc/vmstat"))
        .parse()
        .unwrap()
}

/// /proc/vmstat whole: the counters, the event counters (mm/vmstat.c vmstat_text under
/// CONFIG_VM_EVENT_COUNTERS, with Debian's config: NUMA_BALANCING, MIGRATION, COMPACTION,
/// HUGETLB_PAGE, CMA on arm64 only, HAVE_ARCH_TRANSPARENT_HUGEPAGE_PUD on x86 only, the x86
/// direct-map counters) and vmstat_show()'s closing nr_unstable, in each version's order, as
/// real guests print it (tests/fixtures/oracle-x86_64-6.12-whole.txt, -6.1-whole.txt,
/// oracle-arm64-6.12-whole.txt).
#[test]
fn vmstat_is_printed_whole_in_each_versions_order() {
    for (arch, kernel, file, count) in [
        ("x86_64", "6.12", "oracle-x86_64-6.12-whole.txt", 185),
        ("x86_64", "6.1", "oracle-x86_64-6.1-whole.txt", 173),
        ("arm64", "6.12", "oracle-arm64-6.12-whole.txt", 0),
    ] {
        let real = names(&section(file, "whole-boot", "vmstat-all"));
        if count > 0 {
            assert_eq!(real.len(), count, "{file}");
        }
        let m = boot(arch, kernel, 2 * GIB, "");
        assert_eq!(names(&model_vmstat(&m)), real, "{arch} {kernel}");
        assert_eq!(model_vmstat(&m).last().unwrap(), "nr_unstable 0");
    }
    // Where the fixtures stop, each arch's Debian config decides: powerpc's 6.12 build has
    // HAVE_ARCH_TRANSPARENT_HUGEPAGE_PUD (PPC_THP selects it from 6.5) and CMA; s390x's has
    // CMA and no NUMA (config-6.1.0-50-s390x, config-6.12.107+deb13-s390x).
    let has = |arch: &str, kernel: &str, name: &str| {
        names(&model_vmstat(&boot(arch, kernel, 2 * GIB, ""))).contains(&name.to_string())
    };
    assert!(has("powerpc", "6.12", "thp_split_pud"));
    assert!(!has("powerpc", "6.1", "thp_split_pud"));
    assert!(has("powerpc", "6.12", "cma_alloc_success"));
    assert!(!has("x86_64", "6.12", "cma_alloc_success"));
    assert!(!has("arm64", "6.12", "direct_map_level2_splits"));
    for gone in [
        "numa_hit",
        "zone_reclaim_failed",
        "numa_pte_updates",
        "pgpromote_success",
    ] {
        assert!(!has("s390", "6.12", gone), "{gone}");
        assert!(has("arm64", "6.12", gone), "{gone}");
    }
    assert!(has("s390", "6.12", "cma_alloc_fail"));
    assert!(has("s390", "6.12", "pgalloc_dma"));
    assert!(!has("s390", "6.12", "pgalloc_dma32"));
}

/// Without CONFIG_NUMA (Debian's s390x) /proc/zoneinfo has no numa_* lines and sysfs no
/// node directories, nor nodeN links in the memory blocks (drivers/base/node.c is not built):
/// the real 6.1 s390x guest's blocks have no node (tests/fixtures/oracle-s390-6.1-boot.txt).
#[test]
fn s390_has_no_numa() {
    let (snaps, _) = load("oracle-s390-6.1-boot.txt");
    assert!(snaps["boot"].lines("blocks")[0].ends_with("[DMA] "));
    let m = boot("s390", "6.1", 2 * GIB, "");
    assert!(!m.read("/proc/zoneinfo").unwrap().contains("numa_hit"));
    let dir =
        std::env::temp_dir().join(format!("hotplug-lab-test-s390-numa-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    m.export_sysfs(&dir).unwrap();
    let sys = dir.join("sys/devices/system");
    assert!(!sys.join("node").exists());
    assert!(sys.join("memory/memory0/state").exists());
    assert!(!sys.join("memory/memory0/node0").exists());
    let _ = std::fs::remove_dir_all(&dir);
    let x = boot("x86_64", "6.12", 2 * GIB, "");
    assert!(x.read("/proc/zoneinfo").unwrap().contains("numa_hit"));
}

/// The event counters the model advances: every page memblock_free_all() hands over at
/// boot and every page onlined counts in pgfree (__free_pages_core() in mm/page_alloc.c),
/// the hot-added memmap in pgalloc of the zone it comes from, a migration on offline in
/// pgmigrate_success with a new page allocated in the target zone, a huge page from the
/// buddy in htlb_buddy_alloc_success and a pool left short in htlb_buddy_alloc_fail
/// (mm/hugetlb.c alloc_buddy_hugetlb_folio()). Counters record attempts: a failed call that
/// allocated keeps its counts. The real 6.12 guest's pgfree grew by more than the DIMM it
/// onlined (tests/fixtures/oracle-x86_64-6.12-whole.txt).
#[test]
fn event_counters_count_what_the_model_does() {
    let v = |file: &str, snap: &str, key: &str| -> u64 {
        section(file, snap, "vmstat-all")
            .iter()
            .find_map(|l| {
                l.strip_prefix(&format!("{key} "))
                    .map(|n| n.parse().unwrap())
            })
            .unwrap()
    };
    let real_freed = v("oracle-x86_64-6.12-whole.txt", "whole-offline", "pgfree")
        - v("oracle-x86_64-6.12-whole.txt", "whole-boot", "pgfree");
    assert!(real_freed >= GIB / 4096, "{real_freed}");

    let mut m = boot("x86_64", "6.12", 2 * GIB, "memhp_default_state=offline");
    let managed: u64 = m
        .nodes()
        .iter()
        .flat_map(|n| &n.zones)
        .map(|z| z.managed_pages)
        .sum();
    assert_eq!(vmstat_value(&m, "pgfree"), managed);
    let alloc = |m: &Machine| -> u64 {
        ["dma", "dma32", "normal", "movable"]
            .iter()
            .map(|z| vmstat_value(m, &format!("pgalloc_{z}")))
            .sum()
    };
    let (freed, allocated) = (vmstat_value(&m, "pgfree"), alloc(&m));
    m.add_memory(4 * GIB, GIB, &AddOptions::default()).unwrap();
    let memmap = m.vmstat().nr_memmap_pages();
    assert!(alloc(&m) - allocated >= memmap && memmap >= 4096);
    m.online(4 * GIB, GIB, mm::cmdline::OnlineType::OnlineMovable)
        .unwrap();
    assert_eq!(vmstat_value(&m, "pgfree") - freed, GIB / 4096);
    assert_eq!(vmstat_value(&m, "pgmigrate_success"), 0);
    let id = m.units().block_of_phys(4 * GIB);
    m.set_block_allocations(id, 0, 1000).unwrap();
    let before = vmstat_value(&m, "pgalloc_movable");
    m.offline(4 * GIB, 128 * MIB).unwrap();
    assert_eq!(vmstat_value(&m, "pgmigrate_success"), 1000);
    assert_eq!(vmstat_value(&m, "pgalloc_movable"), before + 1000);

    // 2 MiB pages come from the buddy one alloc_buddy_hugetlb_folio() each; asking for more
    // than there is ends with one failure on the one node.
    let h = "/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages";
    m.write(h, "10").unwrap();
    assert_eq!(vmstat_value(&m, "htlb_buddy_alloc_success"), 10);
    assert_eq!(vmstat_value(&m, "htlb_buddy_alloc_fail"), 0);
    m.write(h, "100000").unwrap();
    let got: u64 = m.read(h).unwrap().trim().parse().unwrap();
    assert!(got < 100000);
    assert_eq!(vmstat_value(&m, "htlb_buddy_alloc_success"), got);
    assert_eq!(vmstat_value(&m, "htlb_buddy_alloc_fail"), 1);
    // Gigantic pages come from alloc_contig_pages(): neither counter moves.
    m.write(
        "/sys/kernel/mm/hugepages/hugepages-1048576kB/nr_hugepages",
        "1",
    )
    .unwrap();
    assert_eq!(vmstat_value(&m, "htlb_buddy_alloc_success"), got);
}

fn meminfo_kb(m: &Machine, key: &str) -> Option<u64> {
    m.read("/proc/meminfo").unwrap().lines().find_map(|l| {
        l.strip_prefix(&format!("{key}:"))
            .map(|v| v.split_whitespace().next().unwrap().parse().unwrap())
    })
}

fn zone_field(m: &Machine, zone: &str, field: &str) -> u64 {
    let text = m.read("/proc/zoneinfo").unwrap();
    let mut cur = "";
    for l in text.lines() {
        if let Some(z) = l.strip_prefix("Node 0, zone") {
            cur = z.trim();
        } else if cur == zone {
            let mut w = l.split_whitespace();
            if w.next() == Some(field) {
                return w.next().unwrap().parse().unwrap();
            }
        }
    }
    panic!("no {field} in zone {zone}")
}

/// Debian's arm64 kernel reserves a 64 MiB CMA area (CONFIG_CMA_SIZE_MBYTES=64 with
/// DMA_CMA; kernel/dma/contiguous.c dma_contiguous_reserve() below arm64_dma_phys_limit),
/// whose pages mem_init() counts as cma-reserved and cma_activate_area() (mm/cma.c) then
/// gives to ZONE_DMA as MIGRATE_CMA pageblocks; `cma=128M` doubles it; with kernelcore=1G it
/// lies in ZONE_MOVABLE (tests/fixtures/oracle-arm64-6.12-whole.txt, -cma128m.txt,
/// -kernelcore.txt). A real guest's drivers take a few CMA pages (CmaFree 64768 kB); the
/// model's stay free.
#[test]
fn arm64_reserves_its_cma_area() {
    for (file, cmdline, kb, zone) in [
        ("oracle-arm64-6.12-whole.txt", "", 65536, "DMA"),
        ("oracle-arm64-6.12-cma128m.txt", "cma=128M", 131072, "DMA"),
        (
            "oracle-arm64-6.12-kernelcore.txt",
            "kernelcore=1G",
            65536,
            "Movable",
        ),
    ] {
        let real = |key: &str| -> u64 {
            section(file, "whole-boot", "meminfo-all")
                .iter()
                .find_map(|l| {
                    l.strip_prefix(&format!("{key}:"))
                        .map(|v| v.split_whitespace().next().unwrap().parse().unwrap())
                })
                .unwrap()
        };
        assert_eq!(real("CmaTotal"), kb, "{file}");
        let real_dmesg = section(file, "whole-boot", "dmesg-hugetlb-cma");
        let reserved = format!("cma: Reserved {} MiB at 0x", kb >> 10);
        assert!(real_dmesg.iter().any(|l| l.contains(&reserved)), "{file}");
        let cma_reserved = format!(" {kb}K cma-reserved)");
        assert!(
            real_dmesg.iter().any(|l| l.ends_with(&cma_reserved)),
            "{file}"
        );

        let m = boot("arm64", "6.12", 2 * GIB, cmdline);
        assert_eq!(meminfo_kb(&m, "CmaTotal"), Some(kb), "{cmdline}");
        assert_eq!(meminfo_kb(&m, "CmaFree"), Some(kb), "{cmdline}");
        assert_eq!(zone_field(&m, zone, "cma"), kb / 4, "{cmdline}");
        assert_eq!(zone_field(&m, zone, "nr_free_cma"), kb / 4, "{cmdline}");
        assert_eq!(vmstat_value(&m, "nr_free_cma"), kb / 4);
        assert!(m.dmesg().iter().any(|l| l.contains(&reserved)), "{cmdline}");
        assert!(
            m.dmesg().iter().any(|l| l.ends_with(&cma_reserved)),
            "{cmdline}"
        );
        // MemTotal counts the area once it is active, as the real guest's does.
        let real_total = real("MemTotal");
        let model_total = meminfo_kb(&m, "MemTotal").unwrap();
        assert!(model_total >= real_total && model_total - real_total < 64 << 10);
    }
}

/// A block holding CMA pageblocks does not offline: has_unmovable_pages()
/// (mm/page_isolation.c) counts a MIGRATE_CMA page as unmovable when the isolation is for
/// MIGRATE_MOVABLE, so offline_pages() fails to isolate the range (-EBUSY). GFP_KERNEL
/// allocations cannot take CMA pages either.
#[test]
fn cma_pageblocks_do_not_offline() {
    // 512 MiB: whole blocks of it below the boot memmap at the top of memory.
    let mut m = boot("arm64", "6.12", 2 * GIB, "cma=512M");
    let line = m
        .dmesg()
        .iter()
        .find(|l| l.contains("cma: Reserved"))
        .unwrap()
        .clone();
    let at = u64::from_str_radix(
        line.split("at 0x")
            .nth(1)
            .unwrap()
            .split(' ')
            .next()
            .unwrap(),
        16,
    )
    .unwrap();
    let block = at.next_multiple_of(m.block_size());
    let e = m.offline(block, m.block_size()).unwrap_err();
    assert_eq!(e.errno(), Errno::EBUSY, "{e}");
    assert!(e.to_string().contains("failure to isolate range"), "{e}");
    assert!(e.to_string().contains("CMA"), "{e}");
}

/// Debian's ppc64el and s390x kernels build CMA without DMA_CMA: no default area
/// (`CmaTotal: 0 kB`, tests/fixtures/oracle-powerpc-64k-dimm1g.txt and
/// oracle-s390-6.1-boot.txt), and `cma=` is no parameter of theirs (early_cma() is in
/// kernel/dma/contiguous.c); Debian's amd64 kernel has no CMA, so no lines at all.
#[test]
fn cma_lines_follow_each_arch_config() {
    for arch in ["powerpc", "s390"] {
        let m = boot(arch, "6.12", 2 * GIB, "cma=64M");
        assert_eq!(meminfo_kb(&m, "CmaTotal"), Some(0), "{arch}");
        assert_eq!(meminfo_kb(&m, "CmaFree"), Some(0), "{arch}");
        assert!(
            m.cmdline().unknown.contains(&"cma=64M".to_string()),
            "{arch}"
        );
    }
    let (snaps, _) = load("oracle-powerpc-64k-dimm1g.txt");
    let boot_snap = snaps.values().next().unwrap();
    assert_eq!(boot_snap.meminfo_kb("CmaTotal"), 0);
    let x = boot("x86_64", "6.12", 2 * GIB, "");
    assert_eq!(meminfo_kb(&x, "CmaTotal"), None);
    assert!(x
        .read("/proc/zoneinfo")
        .unwrap()
        .contains("        cma      0"));
    // A cma= the arch's DMA limit cannot hold fails as dma_contiguous_reserve() does.
    let m = boot("arm64", "6.12", 2 * GIB, "cma=4G");
    assert_eq!(meminfo_kb(&m, "CmaTotal"), Some(0));
    assert!(m
        .dmesg()
        .iter()
        .any(|l| l == "cma: Failed to reserve 4096 MiB on node -1"
            || l.ends_with("cma: Failed to reserve 4096 MiB on node -1")));
}

/// kernelcore= and movablecore= at boot: find_zone_movable_pfns_for_nodes() (mm/mm_init.c;
/// mm/page_alloc.c in 6.1) keeps that much memory for the kernel, counting everything below
/// the highest zone as kernel memory, and starts ZONE_MOVABLE after it on a MAX_ORDER
/// boundary; movablecore= sizes the movable part instead (rounded up, a percentage of all
/// memory). The zones, the "Movable zone start" line and every boot block's valid_zones
/// are the real guests' (tests/fixtures/oracle-x86_64-6.12-kernelcore.txt,
/// -movablecore.txt, -movablecore-pct.txt, oracle-x86_64-6.1-kernelcore.txt,
/// oracle-arm64-6.12-kernelcore.txt). memblock's top-down reservations (the boot memmap)
/// land in ZONE_MOVABLE, as in the real guests, where those blocks do not offline.
#[test]
fn kernelcore_and_movablecore_place_zone_movable() {
    for (arch, kernel, ram, cmdline, file, start) in [
        (
            "x86_64",
            "6.12",
            4 * GIB,
            "kernelcore=2G",
            "oracle-x86_64-6.12-kernelcore.txt",
            0x1_0040_0000u64,
        ),
        (
            "x86_64",
            "6.12",
            4 * GIB,
            "movablecore=1G",
            "oracle-x86_64-6.12-movablecore.txt",
            0x1_4000_0000,
        ),
        (
            "x86_64",
            "6.12",
            4 * GIB,
            "movablecore=25%",
            "oracle-x86_64-6.12-movablecore-pct.txt",
            0x1_4000_0000,
        ),
        (
            "x86_64",
            "6.1",
            4 * GIB,
            "kernelcore=2G",
            "oracle-x86_64-6.1-kernelcore.txt",
            0x1_0040_0000,
        ),
        (
            "arm64",
            "6.12",
            2 * GIB,
            "kernelcore=1G",
            "oracle-arm64-6.12-kernelcore.txt",
            0x8000_0000,
        ),
    ] {
        let (snaps, _) = load(file);
        let real = &snaps["boot"];
        let line = format!("  Node 0: {start:#018x}");
        let dmesg = section(file, "whole-boot", "dmesg-hugetlb-cma");
        let full: Vec<String> = load_dmesg(file);
        assert!(
            full.iter().chain(&dmesg).any(|l| l.ends_with(&line)),
            "{file}: {line}"
        );
        let m = boot(arch, kernel, ram, cmdline);
        assert!(
            m.dmesg().iter().any(|l| l.ends_with(&line)),
            "{arch} {cmdline}: {:?}",
            m.dmesg()
        );
        let zones = common::model_zones(&m);
        for (name, r) in real.zones() {
            let z = zones[&name];
            assert_eq!(
                (z.0, z.1),
                (r.0, r.1),
                "{file}: zone {name} spanned/present"
            );
            if r.1 > 0 {
                assert_eq!(z.3, r.3, "{file}: zone {name} start_pfn");
            }
        }
        let model: Vec<_> = common::model_blocks(&m)
            .into_iter()
            .map(|b| (b.0, b.4))
            .collect();
        let real: Vec<_> = real.blocks().into_iter().map(|b| (b.0, b.4)).collect();
        assert_eq!(model, real, "{file}: valid_zones");
    }
}

/// The kernel log of a fixture, outside its snapshots.
fn load_dmesg(file: &str) -> Vec<String> {
    let path = format!("{}/tests/fixtures/{file}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .take_while(|l| !l.starts_with("=== "))
        .map(String::from)
        .collect()
}

/// kernelcore=mirror on a machine without mirrored memory: 6.12's
/// find_zone_movable_pfns_for_nodes() says so and ignores it (6.1 would make all memory above
/// 4 GiB movable: not modelled, and said so as a boot warning, which --strict refuses). cmdline_parse_core() WARNs on a percentage
/// past 100 (mm/mm_init.c:250 in 6.12, mm/page_alloc.c:8419 in 6.1) as early parameters are
/// parsed, in the idle task; with movable_node both are ignored.
#[test]
fn kernelcore_mirror_percentages_and_movable_node() {
    let m = boot("x86_64", "6.12", 4 * GIB, "kernelcore=mirror");
    assert!(m
        .dmesg()
        .iter()
        .any(|l| l.ends_with("The system has no mirror memory, ignore kernelcore=mirror.")));
    assert_eq!(common::model_zones(&m)["Movable"].0, 0);
    let m = boot("x86_64", "6.1", 4 * GIB, "kernelcore=mirror");
    assert!(m.cmdline().malformed[0].why.contains("not modelled"));
    assert!(!m.dmesg().iter().any(|l| l.contains("not modelled")));
    for (kernel, at) in [
        ("6.12", "mm/mm_init.c:250"),
        ("6.1", "mm/page_alloc.c:8419"),
    ] {
        let m = boot("x86_64", kernel, 4 * GIB, "movablecore=150%");
        let warn = format!("WARNING: CPU: 0 PID: 0 at {at} cmdline_parse_core");
        assert!(
            m.dmesg().iter().any(|l| l.contains(&warn)),
            "{:?}",
            m.dmesg()
        );
        // Past 100% of memory is all of it: no room left for the kernel, so no ZONE_MOVABLE.
        assert_eq!(common::model_zones(&m)["Movable"].0, 0);
    }
    let m = boot("x86_64", "6.12", 4 * GIB, "kernelcore=50% movable_node");
    assert_eq!(common::model_zones(&m)["Movable"].0, 0);
    let m = boot("x86_64", "6.12", 4 * GIB, "kernelcore=50%");
    assert!(common::model_zones(&m)["Movable"].0 > 0);
    assert!(m.cmdline().unknown.is_empty());
}

/// After a trial: CMA pages movable allocations took are not free CMA pages
/// (NR_FREE_CMA_PAGES is a part of NR_FREE_PAGES, mm/page_alloc.c
/// __mod_zone_freepage_state()); a bare movablecore or cma is a malformed early option
/// (init/main.c do_early_param(), kernel/dma/contiguous.c early_cma()) and the kernel boots;
/// sizes past 2^64 wrap as memparse() does; the Memory: line's reserved count is unsigned
/// long arithmetic; an area outside memory WARNs in cma_activate_area() (mm/cma.c:106).
#[test]
fn cma_and_core_parameters_after_a_trial() {
    let mut m = boot("arm64", "6.12", 2 * GIB, "cma=128M@0x80000000");
    m.write("/proc/sys/vm/nr_hugepages", "1000").unwrap();
    let free = vmstat_value(&m, "nr_free_pages");
    let cma = vmstat_value(&m, "nr_free_cma");
    assert!(cma <= free, "{cma} > {free}");
    assert!(meminfo_kb(&m, "CmaFree").unwrap() <= meminfo_kb(&m, "MemFree").unwrap());

    let m = boot("x86_64", "6.12", 4 * GIB, "movablecore");
    assert!(m
        .dmesg()
        .iter()
        .any(|l| l.ends_with("Malformed early option 'movablecore'")));
    let m = boot("arm64", "6.12", 2 * GIB, "cma");
    assert!(m
        .dmesg()
        .iter()
        .any(|l| l.contains("cma: Config string not provided")));
    assert_eq!(meminfo_kb(&m, "CmaTotal"), Some(65536));
    let mut spec = BootSpec::new(arch::Target::parse("x86_64", "6.12").unwrap());
    spec.cmdline = "kernelcore".into();
    assert_eq!(Machine::boot(&spec).unwrap_err().errno(), Errno::EINVAL);

    // 17179869186G is 2^34 + 2 GiB: 2G once it wraps.
    let wrapped = boot("x86_64", "6.12", 4 * GIB, "kernelcore=17179869186G");
    let plain = boot("x86_64", "6.12", 4 * GIB, "kernelcore=2G");
    assert_eq!(common::model_zones(&wrapped), common::model_zones(&plain));
    let m = boot("arm64", "6.12", 2 * GIB, "cma=17179869186G");
    assert!(m
        .dmesg()
        .iter()
        .any(|l| l.ends_with("cma: Failed to reserve 2048 MiB on node -1")));

    let m = boot("arm64", "6.12", 2 * GIB, "cma=64M@0x10000000");
    let line = m
        .dmesg()
        .iter()
        .find(|l| l.contains("Memory:"))
        .unwrap()
        .clone();
    let reserved: u64 = line
        .split(", ")
        .find_map(|f| f.strip_suffix("K reserved"))
        .unwrap()
        .parse()
        .unwrap();
    assert!(reserved > 1 << 60, "{line}");
    assert!(m
        .dmesg()
        .iter()
        .any(|l| l.contains("WARNING: CPU: 0 PID: 1 at mm/cma.c:106 cma_activate_area")));
    assert!(m
        .dmesg()
        .iter()
        .any(|l| l.ends_with("cma: CMA area reserved could not be activated")));
    assert_eq!(meminfo_kb(&m, "CmaTotal"), Some(0));
}
