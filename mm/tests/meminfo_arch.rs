//! The lines of /proc/meminfo that each architecture decides (fs/proc/meminfo.c calls
//! arch_report_meminfo() and prints some lines only with a Kconfig option), against real
//! kernels: tests/fixtures/oracle-powerpc-64k-dimm1g.txt (6.12, pseries, radix),
//! oracle-arm64-boot.txt (6.12) and oracle-s390-6.1-boot.txt, each naming its command.

mod common;

use arch::ZoneType;
use common::{boot, load};
use mm::memory_block::BlockState;
use mm::platform::PlugOptions;
use mm::units::BlockId;
use mm::AddOptions;

const GIB: u64 = 1 << 30;

fn lines_named<'a>(text: impl IntoIterator<Item = &'a str>, names: &[&str]) -> Vec<String> {
    text.into_iter()
        .filter(|l| names.iter().any(|n| l.split(':').next() == Some(n)))
        .map(String::from)
        .collect()
}

fn names(text: impl IntoIterator<Item = impl AsRef<str>>) -> Vec<String> {
    text.into_iter()
        .map(|l| l.as_ref().split(':').next().unwrap_or("").to_string())
        .filter(|n| !n.is_empty())
        .collect()
}

const ARCH_LINES: &[&str] = &[
    "VmallocTotal",
    "DirectMap4k",
    "DirectMap64k",
    "DirectMap2M",
    "DirectMap1G",
];

/// A real 6.12 pseries guest with 64K pages and radix: VmallocTotal is RADIX_VMALLOC_SIZE
/// (2^49 bytes), and the linear map is all 2 MiB pages because create_physical_mapping()
/// maps at most memory_block_size (256 MiB LMBs) at a time; the 1 GiB DIMM at 2 GiB adds 1
/// GiB of 2 MiB pages, which stay mapped while the blocks are offline. The text, spacing
/// included (DirectMap64k's longer name shifts its column), is the kernel's.
#[test]
fn powerpc_radix_vmalloc_and_direct_map_are_the_real_guests() {
    let (snaps, _) = load("oracle-powerpc-64k-dimm1g.txt");
    let mut m = boot("powerpc", 2 * GIB, "");
    let real = |snap: &str| {
        lines_named(
            snaps[snap].lines("meminfo").iter().map(|s| s.as_str()),
            ARCH_LINES,
        )
    };
    let model = |m: &mm::Machine| lines_named(m.meminfo().lines(), ARCH_LINES);
    assert_eq!(model(&m), real("boot"));
    assert_eq!(real("boot")[2], "DirectMap64k:           0 kB");
    let base = m.boot_info().hotplug_base;
    assert_eq!(base, 0x8000_0000, "QEMU puts the pc-dimm at 2 GiB");
    m.add_memory(base, GIB, &AddOptions::default()).unwrap();
    assert_eq!(model(&m), real("added"));
    // pseries onlines what it adds; offlining keeps the linear map.
    m.offline(base, GIB).unwrap();
    assert_eq!(model(&m), real("offline"));
}

/// Which lines each arch prints, in the kernel's order, against real guests (CmaTotal and
/// CmaFree where Debian builds CONFIG_CMA). What differs is named: on s390 the HugeTLB lines, which the real QEMU TCG guest lacks because its CPU has no
/// EDAT1 (hugepages_supported()), while the model's s390 has EDAT1.
#[test]
fn meminfo_has_the_real_kernels_lines_in_order() {
    let cases = [
        ("powerpc", "oracle-powerpc-64k-dimm1g.txt", &[][..]),
        ("arm64", "oracle-arm64-boot.txt", &[][..]),
        (
            "s390",
            "oracle-s390-6.1-boot.txt",
            &[
                "HugePages_Total",
                "HugePages_Free",
                "HugePages_Rsvd",
                "HugePages_Surp",
                "Hugepagesize",
                "Hugetlb",
            ][..],
        ),
    ];
    for (arch, fixture, model_only) in cases {
        let (snaps, _) = load(fixture);
        let real: Vec<String> = names(snaps["boot"].lines("meminfo"));
        let m = boot(arch, 2 * GIB, "");
        let model: Vec<String> = names(m.meminfo().lines())
            .into_iter()
            .filter(|n| !model_only.contains(&n.as_str()))
            .collect();
        assert_eq!(model, real, "{arch} against {fixture}");
    }
}

/// HardwareCorrupted needs CONFIG_MEMORY_FAILURE, which s390 cannot select (no
/// ARCH_SUPPORTS_MEMORY_FAILURE in arch/s390/Kconfig); Unaccepted (and nr_unaccepted)
/// needs CONFIG_UNACCEPTED_MEMORY, which only x86 selects.
#[test]
fn kconfig_lines_follow_the_arch() {
    for arch in arch::Config::names() {
        let m = boot(arch, 2 * GIB, "");
        let text = m.meminfo();
        let has = |name: &str| text.lines().any(|l| l.starts_with(&format!("{name}:")));
        assert_eq!(has("HardwareCorrupted"), arch != "s390", "{arch}");
        let x86 = arch.starts_with("x86_64");
        assert_eq!(has("Unaccepted"), x86, "{arch}");
        let vmstat = m.read("/proc/vmstat").unwrap();
        assert_eq!(vmstat.contains("nr_unaccepted "), x86, "{arch}");
        let zoneinfo = m.read("/proc/zoneinfo").unwrap();
        assert_eq!(zoneinfo.contains("nr_unaccepted"), x86, "{arch}");
    }
}

/// s390: VmallocTotal is VMALLOC_DEFAULT_SIZE (512 GiB less the 2 GiB module area) for
/// small guests (the real 6.1 guest prints it; 6.12's setup_vmalloc_size() is the same),
/// and an eighth of the identity map above 4 TiB. DirectMap follows arch/s390/mm/pageattr.c
/// with EDAT1: the real TCG guest has no EDAT and maps everything with 4K pages, so only
/// the sum is compared; 6.12 leaves the 8 KiB lowcore out of the identity map.
#[test]
fn s390_vmalloc_and_direct_map() {
    let (snaps, _) = load("oracle-s390-6.1-boot.txt");
    let boot_snap = &snaps["boot"];
    let m = boot("s390", 2 * GIB, "");
    let model_kb = |m: &mm::Machine, key: &str| common::model_meminfo_kb(m, key);
    assert_eq!(
        model_kb(&m, "VmallocTotal"),
        boot_snap.meminfo_kb("VmallocTotal")
    );
    assert_eq!(model_kb(&m, "VmallocTotal"), 534_773_760);
    let real_sum: u64 = ["DirectMap4k", "DirectMap1M", "DirectMap2G"]
        .iter()
        .map(|k| boot_snap.meminfo_kb(k))
        .sum();
    assert_eq!(real_sum, (2 * GIB) >> 10);
    assert_eq!(model_kb(&m, "DirectMap4k"), 1024 - 8);
    assert_eq!(model_kb(&m, "DirectMap1M"), ((2 * GIB) >> 10) - 1024);
    assert_eq!(model_kb(&m, "DirectMap2G"), 0);
    let big = boot("s390", 8 << 40, "");
    assert_eq!(model_kb(&big, "VmallocTotal"), (1u64 << 40) >> 10);
}

/// arm64's VmallocTotal (asm/pgtable.h, asm/memory.h). The real Debian 6.12 kernel is built
/// with 52-bit VA and ran on QEMU's max CPU, which has LPA2: the formula gives its number.
/// On a CPU without LPA2 the same kernel gives the 48-bit number, which is what the model's
/// 48-bit arm64 prints.
#[test]
fn arm64_vmalloc_total() {
    let (snaps, _) = load("oracle-arm64-boot.txt");
    let real = snaps["boot"].meminfo_kb("VmallocTotal");
    assert_eq!(real, 70_863_806_464);
    assert_eq!(arch::arm64::vmalloc_size(12, 52, 52) >> 10, real);
    assert_eq!(
        arch::arm64::vmalloc_size(12, 52, 48),
        arch::arm64::vmalloc_size(12, 48, 48)
    );
    let m = boot("arm64", 2 * GIB, "");
    assert_eq!(
        common::model_meminfo_kb(&m, "VmallocTotal"),
        arch::arm64::vmalloc_size(12, 48, 48) >> 10
    );
    assert_eq!(
        common::model_meminfo_kb(&m, "VmallocTotal"),
        135_288_315_904
    );
}

/// vmstat_text's zone counters (mm/vmstat.c, 6.12 and 6.1 alike) before nr_unaccepted.
const ZONE: &str = "nr_free_pages nr_zone_inactive_anon nr_zone_active_anon nr_zone_inactive_file \
    nr_zone_active_file nr_zone_unevictable nr_zone_write_pending nr_mlock nr_bounce \
    nr_zspages nr_free_cma";
const NUMA: &str = "numa_hit numa_miss numa_foreign numa_interleave numa_local numa_other";
/// 6.12's node counters.
const NODE: &str =
    "nr_inactive_anon nr_active_anon nr_inactive_file nr_active_file nr_unevictable \
    nr_slab_reclaimable nr_slab_unreclaimable nr_isolated_anon nr_isolated_file \
    workingset_nodes workingset_refault_anon workingset_refault_file \
    workingset_activate_anon workingset_activate_file workingset_restore_anon \
    workingset_restore_file workingset_nodereclaim nr_anon_pages nr_mapped nr_file_pages \
    nr_dirty nr_writeback nr_writeback_temp nr_shmem nr_shmem_hugepages \
    nr_shmem_pmdmapped nr_file_hugepages nr_file_pmdmapped nr_anon_transparent_hugepages \
    nr_vmscan_write nr_vmscan_immediate_reclaim nr_dirtied nr_written \
    nr_throttled_written nr_kernel_misc_reclaimable nr_foll_pin_acquired \
    nr_foll_pin_released nr_kernel_stack nr_page_table_pages nr_sec_page_table_pages \
    nr_iommu_pages nr_swapcached pgpromote_success pgpromote_candidate pgdemote_kswapd \
    pgdemote_direct pgdemote_khugepaged";

/// /proc/vmstat's counters up to the event counters (which the model leaves out), in
/// vmstat_text order (mm/vmstat.c, 6.12) for Debian's configs: ZSMALLOC, NUMA, SWAP,
/// NUMA_BALANCING and IOMMU_SUPPORT on, SHADOW_CALL_STACK off, UNACCEPTED_MEMORY on x86.
#[test]
fn vmstat_counters_are_vmstat_texts_in_order() {
    let (zone, numa, node) = (ZONE, NUMA, NODE);
    let vm = "nr_dirty_threshold nr_dirty_background_threshold nr_memmap_pages \
        nr_memmap_boot_pages";
    for (arch, unaccepted) in [("x86_64", true), ("arm64", false), ("s390", false)] {
        let m = boot(arch, 2 * GIB, "");
        let names: Vec<String> = m
            .read("/proc/vmstat")
            .unwrap()
            .lines()
            .map(|l| l.split(' ').next().unwrap().to_string())
            // The event counters follow (fidelity3.rs checks them).
            .take_while(|n| n != "pgpgin")
            .collect();
        let mut want: Vec<&str> = zone.split_whitespace().collect();
        if unaccepted {
            want.push("nr_unaccepted");
        }
        // Debian's s390x has no NUMA, so neither the numa_* nor NUMA_BALANCING's
        // pgpromote_* counters.
        let numa_built = arch != "s390";
        if numa_built {
            want.extend(numa.split_whitespace());
        }
        want.extend(
            node.split_whitespace()
                .filter(|n| numa_built || !n.starts_with("pgpromote_")),
        );
        want.extend(vm.split_whitespace());
        assert_eq!(names, want, "{arch}");
    }
}

/// pseries adds a DIMM an LMB at a time (dlpar_memory_add_by_ic(), dlpar_add_lmb() in
/// arch/powerpc/platforms/pseries/hotplug-memory.c): each LMB has its own "System RAM"
/// resource, and the driver logs each, as the real 6.12 guest does
/// (tests/fixtures/oracle-powerpc-64k-dimm1g.txt); removal goes LMB by LMB too.
#[test]
fn pseries_adds_and_removes_a_dimm_an_lmb_at_a_time() {
    let (snaps, _) = load("oracle-powerpc-64k-dimm1g.txt");
    let ram = |lines: &[String]| -> Vec<String> {
        lines
            .iter()
            .filter(|l| l.contains("System RAM"))
            .cloned()
            .collect()
    };
    let texts = |lines: &[String]| -> Vec<String> {
        lines
            .iter()
            .filter(|l| l.contains("pseries-hotplug-mem"))
            .map(|l| {
                l.split_once("] ")
                    .map_or(l.as_str(), |(_, t)| t)
                    .to_string()
            })
            .collect()
    };
    let mut m = boot("powerpc", 2 * GIB, "");
    let base = m.boot_info().hotplug_base;
    // QEMU's device_add of a pc-dimm: DLPAR by indexed count.
    let d = m.plug(GIB, &PlugOptions::default()).unwrap();
    assert_eq!((d.driver, d.start), (arch::PlatformDriver::Dlpar, base));
    let iomem: Vec<String> = m
        .read("/proc/iomem")
        .unwrap()
        .lines()
        .map(String::from)
        .collect();
    assert_eq!(ram(&iomem), ram(snaps["added"].lines("iomem")));
    assert_eq!(iomem.iter().filter(|l| l.contains("System RAM")).count(), 5);
    let real = texts(snaps["added"].lines("dmesg"));
    assert_eq!(texts(m.dmesg()), real);
    assert_eq!(real.len(), 5, "{real:?}");
    // Offline, then device_del, as the oracle did (the fixture keeps the removal's dmesg
    // lines).
    m.offline(base, GIB).unwrap();
    m.unplug(d.driver, d.id).unwrap();
    assert_eq!(m.platform_devices().count(), 0);
    let removed: Vec<String> = texts(m.dmesg()).into_iter().skip(5).collect();
    assert_eq!(removed, texts(snaps["removed-dmesg"].lines("dmesg")));
    assert_eq!(removed.len(), 5);
    let after = m.read("/proc/iomem").unwrap();
    assert_eq!(after.matches("System RAM").count(), 1, "{after}");
}

/// dlpar_remove_lmb() offlines an online LMB itself (dlpar_offline_lmb(), a device_offline())
/// before its __remove_memory() (arch/powerpc/platforms/pseries/hotplug-memory.c), so a DIMM
/// whose LMBs are online goes in one request. If one LMB cannot be offlined the driver adds
/// back what it removed: the machine is as it was.
#[test]
fn pseries_removal_offlines_the_lmbs_itself() {
    let mut m = boot("powerpc", 2 * GIB, "");
    let base = m.boot_info().hotplug_base;
    let d = m.plug(GIB, &PlugOptions::default()).unwrap();
    let bs = m.block_size();
    let ids: Vec<BlockId> = (0..4).map(|i| BlockId((base + i * bs) / bs)).collect();
    let state = |m: &mm::Machine, id: BlockId| m.blocks().get(&id).map(|b| b.state);
    assert!(ids
        .iter()
        .all(|&id| state(&m, id) == Some(BlockState::Online)));
    // The third LMB holds pages that cannot move: offlining it fails, so the removal does.
    let third = ids[2];
    // memhp_default_state=offline boots leave the driver's dlpar_online_lmb() to online
    // each LMB into the default zone: ZONE_NORMAL.
    assert_eq!(m.blocks().get(&third).unwrap().zone, Some(ZoneType::Normal));
    {
        // dlpar_memory_remove_by_ic() (arch/powerpc/platforms/pseries/hotplug-memory.c):
        // the first two LMBs go, the third will not offline (EBUSY), so the driver adds the
        // two back with dlpar_add_lmb(), which onlines them, and returns -EINVAL.
        m.set_block_allocations(third, 16, 0).unwrap();
        let e = m.unplug(d.driver, d.id).unwrap_err();
        assert_eq!(e.errno(), mm::Errno::EINVAL, "{e}");
        assert!(e.left_changed() && e.to_string().contains("EBUSY"), "{e}");
        assert!(ids
            .iter()
            .all(|&id| state(&m, id) == Some(BlockState::Online)));
        let tail: Vec<&String> = m.dmesg().iter().rev().take(2).collect();
        assert!(
            tail[0].contains("Memory indexed-count-remove failed, adding any removed LMBs"),
            "{tail:?}"
        );
        m.check().unwrap();
        m.set_block_allocations(third, 0, 0).unwrap();
    }
    // remove_memory() itself refuses online memory, on powerpc as everywhere.
    assert_eq!(
        m.remove_memory(base, GIB).unwrap_err().errno(),
        mm::Errno::EBUSY
    );
    m.unplug(d.driver, d.id).unwrap();
    assert!(ids.iter().all(|&id| state(&m, id).is_none()));
    let iomem = m.read("/proc/iomem").unwrap();
    assert_eq!(iomem.matches("System RAM").count(), 1, "{iomem}");
}

/// s390 adds standby memory one memory block per add_memory() call (add_memory_merged() in
/// drivers/s390/char/sclp_cmd.c, 6.12), so each block is its own "System RAM" resource.
#[test]
fn s390_standby_memory_is_a_resource_per_block() {
    let mut spec = mm::BootSpec::new(arch::Target::parse("s390", "").unwrap());
    spec.ram = Some(2 * GIB);
    spec.standby = Some(GIB);
    let mut m = mm::Machine::boot(&spec).unwrap();
    let base = m.boot_info().hotplug_base;
    let bs = m.block_size();
    assert_eq!(4 * bs, GIB);
    let iomem = m.read("/proc/iomem").unwrap();
    let added: Vec<&str> = iomem
        .lines()
        .filter(|l| l.ends_with(": System RAM"))
        .skip(1)
        .collect();
    let want: Vec<String> = (0..4)
        .map(|i| {
            format!(
                "{:x}-{:x} : System RAM",
                base + i * bs,
                base + (i + 1) * bs - 1
            )
        })
        .collect();
    assert_eq!(added, want, "{iomem}");
    // Nothing on s390 calls remove_memory(); the kernel function still removes an offline
    // block and its resource.
    m.remove_memory(base + bs, bs).unwrap();
    let iomem = m.read("/proc/iomem").unwrap();
    assert_eq!(iomem.matches("System RAM").count(), 4, "{iomem}");
}

/// The DirectMap lines and HugeTLB sizes of a machine, as the fixtures hold them.
fn direct_map_lines(meminfo: &str) -> Vec<(String, u64)> {
    meminfo
        .lines()
        .filter(|l| l.starts_with("DirectMap"))
        .map(|l| {
            let (k, v) = l.split_once(':').unwrap();
            (
                k.to_string(),
                v.trim().trim_end_matches(" kB").parse().unwrap(),
            )
        })
        .collect()
}

fn hugetlb_registered(dmesg: &[String]) -> Vec<String> {
    dmesg
        .iter()
        .filter_map(|l| l.split_once("] ").map(|(_, t)| t))
        .filter(|t| t.starts_with("HugeTLB: registered") || t.starts_with("Using GB pages"))
        .map(String::from)
        .collect()
}

/// X86_FEATURE_GBPAGES and `nogbpages`, against real 6.12 x86_64 guests
/// (tests/fixtures/oracle-x86_64-gbpages-dimm1g.txt, -nogbpages-cpu.txt, -nogbpages-param.txt):
/// - the 1 GiB HugeTLB size needs the CPU feature (gigantic_pages_init() in
///   arch/x86/mm/hugetlbpage.c); `nogbpages` does not take it away;
/// - the DirectMap1G line is printed only with direct_gbpages (arch_report_meminfo() in
///   arch/x86/mm/pat/set_memory.c), and a 1 GiB-aligned hot-add is then mapped with a 1 GiB
///   page (probe_page_size_mask() in arch/x86/mm/init.c);
/// - the first 1 MiB is mapped whole with 4 KiB pages (init_mem_mapping()).
///
/// The model does not know the kernel image, so it does not split the ten 2 MiB pages that
/// set_memory_*() breaks into 4 KiB pages around it at boot: DirectMap4k + DirectMap2M is
/// exact, the split between them is 20480 kB off, and the test says so.
#[test]
fn x86_gbpages_as_the_cpu_and_the_command_line_have_it() {
    const KERNEL_IMAGE_SPLIT_KB: u64 = 10 * 2048;
    for (fixture, cmdline, gbpages) in [
        ("oracle-x86_64-gbpages-dimm1g.txt", "", true),
        ("oracle-x86_64-nogbpages-cpu.txt", "", false),
        ("oracle-x86_64-nogbpages-param.txt", "nogbpages", true),
    ] {
        let (snaps, _) = load(fixture);
        let real = &snaps["boot"];
        let mut spec = mm::BootSpec::new(arch::Target::parse("x86_64", "").unwrap());
        spec.ram = Some(2 * GIB);
        spec.cmdline = cmdline.to_string();
        spec.gbpages = Some(gbpages);
        let mut m = mm::Machine::boot(&spec).unwrap();
        // The snapshots' dmesg is filtered by the oracle; the GB pages line is from the console.
        let mut real_log = snaps["console"].lines("dmesg").to_vec();
        real_log.extend_from_slice(real.lines("dmesg"));
        assert_eq!(
            hugetlb_registered(m.dmesg()),
            hugetlb_registered(&real_log),
            "{fixture}"
        );
        let want = direct_map_lines(&real.lines("meminfo").join("\n"));
        let mut got = direct_map_lines(&m.meminfo());
        assert_eq!(
            got.iter().map(|l| &l.0).collect::<Vec<_>>(),
            want.iter().map(|l| &l.0).collect::<Vec<_>>(),
            "{fixture}"
        );
        got[0].1 += KERNEL_IMAGE_SPLIT_KB;
        got[1].1 -= KERNEL_IMAGE_SPLIT_KB;
        assert_eq!(got, want, "{fixture}");
        if let Some(added) = snaps.get("added") {
            m.add_memory(m.boot_info().hotplug_base, GIB, &AddOptions::default())
                .unwrap();
            let want = direct_map_lines(&added.lines("meminfo").join("\n"));
            let mut got = direct_map_lines(&m.meminfo());
            got[0].1 += KERNEL_IMAGE_SPLIT_KB;
            got[1].1 -= KERNEL_IMAGE_SPLIT_KB;
            assert_eq!(got, want, "{fixture}: after the 1 GiB DIMM");
            assert_eq!(want[2], ("DirectMap1G".to_string(), 1048576));
        }
    }
}

/// hugepagesz_setup() and hugepages_setup() in mm/hugetlb.c: on a CPU without GBPAGES the
/// 1 GiB size is refused at boot, and so is the count that follows it.
#[test]
fn x86_hugepagesz_1g_without_gbpages_is_refused() {
    let mut spec = mm::BootSpec::new(arch::Target::parse("x86_64", "").unwrap());
    spec.cmdline = "hugepagesz=1G hugepages=2".to_string();
    spec.gbpages = Some(false);
    let m = mm::Machine::boot(&spec).unwrap();
    let log: Vec<&str> = m
        .dmesg()
        .iter()
        .filter_map(|l| l.split_once("] ").map(|(_, t)| t))
        .filter(|t| t.starts_with("HugeTLB: "))
        .collect();
    assert_eq!(
        &log[..2],
        [
            "HugeTLB: unsupported hugepagesz=1G",
            "HugeTLB: hugepages=2 does not follow a valid hugepagesz, ignoring",
        ]
    );
    assert!(m
        .read("/sys/kernel/mm/hugepages/hugepages-1048576kB/nr_hugepages")
        .is_err());
    // With it, two gigantic pages fit in an 8 GiB guest.
    spec.gbpages = Some(true);
    spec.ram = Some(8 * GIB);
    let m = mm::Machine::boot(&spec).unwrap();
    assert_eq!(
        m.read("/sys/kernel/mm/hugepages/hugepages-1048576kB/nr_hugepages")
            .unwrap(),
        "2\n"
    );
}

/// 6.1's vmstat_text (mm/vmstat.c) has no nr_unaccepted (UNACCEPTED_MEMORY came in 6.5), no
/// nr_iommu_pages, its pgdemote_* counters are events (after what the model prints), and no
/// nr_memmap counters; its /proc/zoneinfo has no `promo` line and its /proc/meminfo no
/// `Unaccepted:` (fs/proc/meminfo.c).
#[test]
fn vmstat_zoneinfo_and_meminfo_of_6_1() {
    // 6.1's node counters: 6.12's without nr_iommu_pages and the pgdemote events.
    let node: Vec<&str> = NODE
        .split_whitespace()
        .filter(|n| *n != "nr_iommu_pages" && !n.starts_with("pgdemote_"))
        .collect();
    let node = node.join(" ");
    let (zone, numa, node) = (ZONE, NUMA, node.as_str());
    let vm = "nr_dirty_threshold nr_dirty_background_threshold";
    let mut spec = mm::BootSpec::new(arch::Target::parse("x86_64", "").unwrap());
    spec.target = spec.target.on(arch::Kernel::lookup("6.1").unwrap());
    let m = mm::Machine::boot(&spec).unwrap();
    let names: Vec<String> = m
        .read("/proc/vmstat")
        .unwrap()
        .lines()
        .map(|l| l.split(' ').next().unwrap().to_string())
        .take_while(|n| n != "pgpgin")
        .collect();
    let want: Vec<&str> = [zone, numa, node, vm]
        .iter()
        .flat_map(|s| s.split_whitespace())
        .collect();
    assert_eq!(names, want);
    let zi = m.read("/proc/zoneinfo").unwrap();
    assert!(
        !zi.lines().any(|l| l.trim_start().starts_with("promo ")),
        "{zi}"
    );
    assert!(zi.contains("        high     "), "{zi}");
    let mi = m.read("/proc/meminfo").unwrap();
    assert!(!mi.contains("Unaccepted"), "{mi}");
}
