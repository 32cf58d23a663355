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
    m.add_memory(base, 4 * TIB, &AddOptions::default()).unwrap();
    let t = std::time::Instant::now();
    m.remove_memory(base, 4 * TIB).unwrap();
    // A hang guard (the quadratic removal took seconds here).
    assert!(t.elapsed() < std::time::Duration::from_secs(30));
    m.check().unwrap();
    assert_eq!(m.blocks().len(), 8);
    // Stopped: the whole removal fails with the watchdog's error, the machine as it was.
    m.add_memory(base, 4 * TIB, &AddOptions::default()).unwrap();
    let cancel = Arc::new(AtomicBool::new(true));
    m.set_watchdog(mm::Watchdog::new(cancel, "interrupted"));
    let before = m.state_hash();
    let e = m.remove_memory(base, 4 * TIB).unwrap_err();
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
