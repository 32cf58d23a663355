//! The lines of /proc/meminfo that each architecture decides (fs/proc/meminfo.c calls
//! arch_report_meminfo() and prints some lines only with a Kconfig option), against real
//! kernels: tests/fixtures/oracle-powerpc-64k-dimm1g.txt (6.12, pseries, radix),
//! oracle-arm64-boot.txt (6.12) and oracle-s390-6.1-boot.txt, each naming its command.

mod common;

use common::{boot, load};
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

/// Which lines each arch prints, in the kernel's order, against real guests. What the
/// model leaves out is named: CmaTotal/CmaFree (CONFIG_CMA; the model has no CMA area), and
/// on s390 the HugeTLB lines, which the real QEMU TCG guest lacks because its CPU has no
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
        let real: Vec<String> = names(snaps["boot"].lines("meminfo"))
            .into_iter()
            .filter(|n| n != "CmaTotal" && n != "CmaFree")
            .collect();
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
    for &arch in arch::NAMES {
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
