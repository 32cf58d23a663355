//! HugeTLB vmemmap optimisation against a real Linux 6.12 x86_64 guest (QEMU q35, 4 GiB,
//! 512 x 2 MiB huge pages allocated and freed; tests/fixtures/oracle-x86_64-hvo-{on,off}.txt)
//! and the mainline figures of mm/hugetlb_vmemmap.c.

mod common;

use common::{boot, load, model_zones, Snap};
use mm::{Errno, Machine};

const MIB: u64 = 1 << 20;
const GIB: u64 = 1 << 30;

fn nr_hugepages(m: &mut Machine, n: u64) {
    m.write("/proc/sys/vm/nr_hugepages", &n.to_string())
        .unwrap();
    m.check().unwrap();
}

/// The two lines of the oracle's "hugetlb" section: nr_hugepages and
/// vm.hugetlb_optimize_vmemmap.
fn hugetlb_lines(s: &Snap) -> (String, String) {
    let l = s.lines("hugetlb");
    (l[0].clone(), l[1].clone())
}

fn managed(m: &Machine, zone: &str) -> u64 {
    model_zones(m)[zone].2
}

#[test]
fn hvo_on_matches_the_real_kernel() {
    let (snaps, _) = load("oracle-x86_64-hvo-on.txt");
    let (boot_s, huge, freed) = (&snaps["boot"], &snaps["huge512"], &snaps["huge0"]);
    let mut m = boot(
        "x86_64",
        4 * GIB,
        "console=ttyS0 panic=-1 oracle=hvo hugetlb_free_vmemmap=on",
    );
    // report_hugepages(): what HVO can free per huge page, largest hstate first.
    let real: Vec<&str> = boot_s
        .lines("dmesg")
        .iter()
        .filter(|l| l.contains("HugeTLB"))
        .map(|l| l.split_once("] ").unwrap().1)
        .collect();
    let model: Vec<String> = m
        .dmesg()
        .iter()
        .filter(|l| l.contains("HugeTLB"))
        .map(|l| l.split_once("] ").unwrap().1.to_string())
        .collect();
    assert_eq!(model, real);
    assert_eq!(
        m.vmstat().nr_memmap_boot_pages,
        boot_s.vmstat("nr_memmap_boot_pages")
    );
    let total0 = m.mem_total_kb();
    let normal0 = managed(&m, "Normal");
    assert_eq!(
        m.read("/proc/sys/vm/hugetlb_optimize_vmemmap")
            .unwrap()
            .trim(),
        hugetlb_lines(boot_s).1
    );

    nr_hugepages(&mut m, 512);
    assert_eq!(
        m.read("/proc/sys/vm/nr_hugepages").unwrap().trim(),
        hugetlb_lines(huge).0
    );
    // Every huge page came from boot memory, whose vmemmap is boot-allocated: each frees 8
    // boot pages (nr_memmap_boot_pages 16384 -> 12288) and takes one new page
    // (nr_memmap_pages 0 -> 512). The freed boot pages become managed: MemTotal +16 MiB.
    for key in ["nr_memmap_boot_pages", "nr_memmap_pages"] {
        let got = if key == "nr_memmap_pages" {
            m.vmstat().nr_memmap_pages()
        } else {
            m.vmstat().nr_memmap_boot_pages
        };
        assert_eq!(got, huge.vmstat(key), "{key}");
    }
    assert_eq!(
        m.mem_total_kb() - total0,
        huge.meminfo_kb("MemTotal") - boot_s.meminfo_kb("MemTotal")
    );
    assert_eq!(
        managed(&m, "Normal") - normal0,
        huge.zones()["Normal"].2 - boot_s.zones()["Normal"].2
    );
    assert_eq!(m.stat("hvo_freed_pages"), Some(512 * 7));
    assert_eq!(m.hugetlb_total_kb(), huge.meminfo_kb("Hugetlb"));
    // The 1 GiB of huge pages has 16 MiB of vmemmap: 8 PMD leaves split into PTE tables.
    let meminfo = m.read("/proc/meminfo").unwrap();
    assert!(meminfo.contains("HugePages_Total:     512\n"), "{meminfo}");

    nr_hugepages(&mut m, 0);
    // Freeing restores 7 pages per huge page (nr_memmap_pages 512 -> 4096); MemTotal keeps
    // what the boot pages gave it.
    assert_eq!(
        m.vmstat().nr_memmap_pages(),
        freed.vmstat("nr_memmap_pages")
    );
    assert_eq!(
        m.vmstat().nr_memmap_boot_pages,
        freed.vmstat("nr_memmap_boot_pages")
    );
    assert_eq!(
        m.mem_total_kb() - total0,
        freed.meminfo_kb("MemTotal") - boot_s.meminfo_kb("MemTotal")
    );
    assert_eq!(m.stat("hvo_freed_pages"), Some(0));
    assert_eq!(m.hugetlb_total_kb(), 0);
}

#[test]
fn hvo_off_changes_no_memmap() {
    let (snaps, _) = load("oracle-x86_64-hvo-off.txt");
    let (boot_s, huge) = (&snaps["boot"], &snaps["huge512"]);
    let mut m = boot(
        "x86_64",
        4 * GIB,
        "console=ttyS0 panic=-1 oracle=hvo hugetlb_free_vmemmap=off",
    );
    let total0 = m.mem_total_kb();
    assert_eq!(
        m.read("/proc/sys/vm/hugetlb_optimize_vmemmap")
            .unwrap()
            .trim(),
        hugetlb_lines(boot_s).1
    );
    nr_hugepages(&mut m, 512);
    assert_eq!(
        m.vmstat().nr_memmap_boot_pages,
        huge.vmstat("nr_memmap_boot_pages")
    );
    assert_eq!(m.vmstat().nr_memmap_pages(), huge.vmstat("nr_memmap_pages"));
    assert_eq!(
        m.mem_total_kb() - total0,
        huge.meminfo_kb("MemTotal") - boot_s.meminfo_kb("MemTotal")
    );
    assert_eq!(m.stat("hvo_freed_pages"), Some(0));
}

/// Mainline's figures (mm/hugetlb_vmemmap.c, Documentation/mm/vmemmap_dedup.rst): one
/// vmemmap page is kept per huge page, so a 2 MiB page frees 7 and a 1 GiB page 4095.
#[test]
fn hvo_frees_7_per_2m_and_4095_per_1g() {
    for (size, per_page) in [(2 * MIB, 7), (GIB, 4095)] {
        let mut m = boot("x86_64", 8 * GIB, "hugetlb_free_vmemmap=on");
        let i = m.hstate_index(size).unwrap();
        let before = m.vmstat().nr_memmap_boot_pages + m.vmstat().nr_memmap_pages();
        let got = m.set_nr_hugepages(i, 2);
        m.check().unwrap();
        assert_eq!(got, 2);
        assert_eq!(m.stat("hvo_freed_pages"), Some(2 * per_page));
        let after = m.vmstat().nr_memmap_boot_pages + m.vmstat().nr_memmap_pages();
        assert_eq!(before - after, 2 * per_page, "{size:#x}");
        let h = &m.hstates()[i];
        assert_eq!(h.optimized(), 2);
    }
}

/// Memory whose memmap sits on itself (memmap_on_memory) is not optimised: the kernel's
/// vmemmap_pmd_entry() refuses self-hosted vmemmap with -EOPNOTSUPP.
#[test]
fn self_hosted_vmemmap_is_not_optimised() {
    let mut m = boot(
        "x86_64",
        2 * GIB,
        "hugetlb_free_vmemmap=on memory_hotplug.memmap_on_memory=1 memhp_default_state=online_movable",
    );
    m.add_memory(4 * GIB, GIB, &Default::default()).unwrap();
    // 1 GiB of ZONE_MOVABLE: 8 blocks, each with its 2 MiB of memmap at its start.
    let i = m.hstate_index(2 * MIB).unwrap();
    let got = m.set_nr_hugepages(i, 100);
    m.check().unwrap();
    assert_eq!(got, 100);
    // ZONE_MOVABLE is used first, and every page there is self-hosted.
    assert_eq!(m.hstates()[i].optimized(), 0);
    assert_eq!(m.stat("hvo_freed_pages"), Some(0));
    // Without memmap_on_memory the same pages are optimised, their memmap in the buddy.
    let mut m = boot(
        "x86_64",
        2 * GIB,
        "hugetlb_free_vmemmap=on memhp_default_state=online_movable",
    );
    m.add_memory(4 * GIB, GIB, &Default::default()).unwrap();
    let memmap = m.vmstat().nr_memmap_pages();
    m.set_nr_hugepages(i, 100);
    m.check().unwrap();
    assert_eq!(m.hstates()[i].optimized(), 100);
    assert_eq!(memmap - m.vmstat().nr_memmap_pages(), 700);
}

/// Freeing an optimised huge page needs its vmemmap pages back; when they cannot be
/// allocated the page stays in the pool as a surplus page, still optimised
/// (update_and_free_hugetlb_folio() in mm/hugetlb.c).
#[test]
fn failed_restore_keeps_the_page_as_surplus() {
    let mut m = boot("x86_64", 4 * GIB, "hugetlb_free_vmemmap=on");
    let i = m.hstate_index(2 * MIB).unwrap();
    m.set_nr_hugepages(i, 10);
    m.inject_fault("memmap_alloc", 3).unwrap();
    let left = m.set_nr_hugepages(i, 0);
    m.check().unwrap();
    assert_eq!(left, 0, "max_huge_pages follows the persistent pages");
    let h = &m.hstates()[i];
    assert_eq!((h.nr, h.surplus, h.optimized()), (3, 3, 3));
    assert!(m
        .read("/proc/meminfo")
        .unwrap()
        .contains("HugePages_Surp:        3\n"));
    assert_eq!(
        m.read("/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages")
            .unwrap(),
        "3\n"
    );
    assert_eq!(m.read("/proc/sys/vm/nr_hugepages").unwrap(), "0\n");
    // Asking for pages again turns the surplus ones persistent first.
    assert_eq!(m.set_nr_hugepages(i, 3), 3);
    assert_eq!(m.hstates()[i].surplus, 0);
}

/// Offlining memory dissolves the free huge pages in it, restoring their vmemmap; the pool
/// shrinks with it.
#[test]
fn offline_dissolves_huge_pages() {
    let mut m = boot(
        "x86_64",
        2 * GIB,
        "hugetlb_free_vmemmap=on memhp_default_state=online_movable",
    );
    m.add_memory(4 * GIB, GIB, &Default::default()).unwrap();
    let i = m.hstate_index(2 * MIB).unwrap();
    m.set_nr_hugepages(i, 128);
    m.check().unwrap();
    let top = 4 * GIB + 896 * MIB;
    // The pool fills ZONE_MOVABLE from the top: the last block holds 64 huge pages.
    assert_eq!(
        m.blocks()[&mm::units::BlockId(top / (128 * MIB))].hugetlb_pages,
        64 * 512
    );
    m.offline(top, 128 * MIB).unwrap();
    m.check().unwrap();
    assert_eq!(m.hstates()[i].nr, 64);
    assert_eq!(m.read("/proc/sys/vm/nr_hugepages").unwrap(), "64\n");
    // With no memory to restore vmemmap into, offlining fails and changes nothing.
    let next = top - 128 * MIB;
    m.inject_fault("memmap_alloc", 1).unwrap();
    let hash = m.state_hash();
    let e = m.offline(next, 128 * MIB).unwrap_err();
    assert_eq!(e.errno(), Errno::ENOMEM, "{e}");
    assert_eq!(m.state_hash(), hash);
}

/// Architectures without ARCH_WANT_OPTIMIZE_HUGETLB_VMEMMAP in 6.12 print 0 KiB and have no
/// vm.hugetlb_optimize_vmemmap.
#[test]
fn other_arches_have_no_hvo() {
    for arch in ["arm64", "arm64-64k", "powerpc", "s390"] {
        let mut m = boot(arch, 4 * GIB, "hugetlb_free_vmemmap=on");
        assert!(m
            .dmesg()
            .iter()
            .filter(|l| l.contains("vmemmap can be freed"))
            .all(|l| l.contains(" 0 KiB vmemmap")));
        assert!(m.read("/proc/sys/vm/hugetlb_optimize_vmemmap").is_err());
        let i = 0;
        m.set_nr_hugepages(i, 4);
        m.check().unwrap();
        assert_eq!(m.stat("hvo_freed_pages"), Some(0), "{arch}");
    }
}

/// Found by the property run in a debug build: on arm64 with 64 KiB pages a 2 MiB huge
/// page's 32 struct pages take half a page, so HVO has nothing to free (and nothing to
/// restore); offlining a block holding such pages must not compute "pages - 1" of zero.
#[test]
fn offlining_sub_page_memmap_huge_pages_needs_no_restore() {
    let mut m = boot(
        "arm64-64k",
        4 << 30,
        "memhp_default_state=online_movable hugetlb_free_vmemmap=on",
    );
    let start = m.boot_info().hotplug_base.next_multiple_of(m.block_size());
    m.add_memory(start, m.block_size(), &Default::default())
        .unwrap();
    let i = m.hstate_index(2 << 20).unwrap();
    let got = m.set_nr_hugepages(i, 4096);
    assert!(got > 0);
    assert_eq!(m.hvo_freed_pages(), 0);
    // Whether the pages landed in the new block or not, offlining it dissolves what is
    // there without restoring any vmemmap.
    m.offline(start, m.block_size()).unwrap();
    m.check().unwrap();
}

/// 6.1's vmemmap_remap_free() (mm/hugetlb_vmemmap.c) keeps each huge page's first vmemmap
/// page and frees the other 7; 6.12 copies it into a new page and frees all 8. A real 6.1
/// guest (tests/fixtures/oracle-x86_64-6.1-hvo-on.txt: 4 GiB, 512 x 2 MiB with
/// hugetlb_free_vmemmap=on) gains 14 MiB of MemTotal where 6.12 gains 16, and keeps it
/// when the pages are freed.
#[test]
fn hvo_on_6_1_keeps_the_head_vmemmap_page() {
    let (snaps, _) = load("oracle-x86_64-6.1-hvo-on.txt");
    let (boot_s, huge, freed) = (&snaps["boot"], &snaps["huge512"], &snaps["huge0"]);
    let mut spec = mm::BootSpec::new(arch::Target::parse("x86_64", "").unwrap());
    spec.ram = Some(4 * GIB);
    spec.cmdline = "console=ttyS0 panic=-1 oracle=hvo hugetlb_free_vmemmap=on".to_string();
    spec.target = spec.target.on(arch::Kernel::lookup("6.1").unwrap());
    let mut m = Machine::boot(&spec).unwrap();
    m.check().unwrap();
    let total0 = m.mem_total_kb();
    let normal0 = managed(&m, "Normal");
    assert_eq!(
        m.read("/proc/sys/vm/hugetlb_optimize_vmemmap")
            .unwrap()
            .trim(),
        hugetlb_lines(boot_s).1
    );
    nr_hugepages(&mut m, 512);
    assert_eq!(
        m.read("/proc/sys/vm/nr_hugepages").unwrap().trim(),
        hugetlb_lines(huge).0
    );
    let real = huge.meminfo_kb("MemTotal") - boot_s.meminfo_kb("MemTotal");
    assert_eq!(real, 512 * 7 * 4);
    assert_eq!(m.mem_total_kb() - total0, real);
    assert_eq!(
        managed(&m, "Normal") - normal0,
        huge.zones()["Normal"].2 - boot_s.zones()["Normal"].2
    );
    assert_eq!(m.stat("hvo_freed_pages"), Some(512 * 7));
    nr_hugepages(&mut m, 0);
    assert_eq!(
        m.mem_total_kb() - total0,
        freed.meminfo_kb("MemTotal") - boot_s.meminfo_kb("MemTotal")
    );
    // Optimising and restoring again changes nothing more.
    nr_hugepages(&mut m, 512);
    nr_hugepages(&mut m, 0);
    assert_eq!(m.mem_total_kb() - total0, real);
    assert!(!m.read("/proc/vmstat").unwrap().contains("nr_memmap"));
}
