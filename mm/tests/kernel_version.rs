//! The kernel version reaches the arch: s390's sections are 256 MiB up to 6.12 and 128 MiB
//! from 6.13 (arch/s390/include/asm/sparsemem.h, SECTION_SIZE_BITS 28 -> 27; 7.3's source
//! has 27), and every place that reads the geometry follows the version a machine models.
//! The test models a 6.13 of its own: 6.12's behaviour, 6.13's version number.

use arch::kernel::{Kernel, V6_12};
use arch::{Config, Target};
use mm::{AddOptions, BootSpec, Errno, Machine};

const MIB: u64 = 1 << 20;
const GIB: u64 = 1 << 30;

static V6_13: Kernel = Kernel {
    name: "6.13-test",
    version: (6, 13),
    checked_against: "nothing: a test's entry",
    ..V6_12
};

fn s390(kernel: &'static Kernel) -> Machine {
    let mut spec = BootSpec::new(Target::new(Config::lookup("s390").unwrap(), kernel));
    spec.ram = Some(4 * GIB);
    spec.cmdline = "memhp_default_state=offline".to_string();
    let m = Machine::boot(&spec).unwrap();
    m.check().unwrap();
    m
}

#[test]
fn s390_sections_follow_the_kernel_version() {
    for (kernel, section) in [(&V6_12, 256 * MIB), (&V6_13, 128 * MIB)] {
        let m = s390(kernel);
        let what = kernel.name;
        // The target's geometry, and the machine's.
        assert_eq!(m.target().geometry.section_size, section, "{what}");
        assert_eq!(m.geometry().section_size, section, "{what}");
        assert_eq!(
            m.sections().nr_sections(),
            (1u64 << 46) / section,
            "{what}: NR_MEM_SECTIONS"
        );
        // memory_block_size_bytes(): max(MIN_MEMORY_BLOCK_SIZE, sclp.rzm of 1 MiB).
        assert_eq!(m.block_size(), section, "{what}");
        assert_eq!(
            m.read("/sys/devices/system/memory/block_size_bytes")
                .unwrap(),
            format!("{section:x}\n"),
            "{what}"
        );
        assert_eq!(
            m.stat("sections_present"),
            Some(4 * GIB / section),
            "{what}"
        );
        assert_eq!(m.blocks().len() as u64, 4 * GIB / section, "{what}");
        // A section's struct pages: 64 bytes for each 4K page, mapped by 1 MiB segments.
        let s = m.section_view(1).unwrap();
        assert_eq!(s.size, section, "{what}");
        assert_eq!(s.start, section, "{what}");
        let mapped: u64 = s.memmap.iter().map(|e| e.vmemmap_pages).sum();
        assert_eq!(mapped, section / 4096 * 64 / 4096, "{what}");
        // The read model's map counts sections of this size.
        let v = mm::read::MapView::of(&m);
        let present: u64 = v.runs.iter().map(|r| r.end - r.start).sum();
        assert_eq!(present, 4 * GIB / section, "{what}");
    }
}

/// Hot-adding 128 MiB at the hot-plug area: one whole block from 6.13, half a block before.
#[test]
fn s390_hot_add_granularity_follows_the_kernel_version() {
    let add = |m: &mut Machine| {
        let at = m.boot_info().hotplug_base;
        m.add_memory(at, 128 * MIB, &AddOptions::default())
    };
    let mut old = s390(&V6_12);
    let before = old.iomem().clone();
    let err = add(&mut old).unwrap_err();
    assert_eq!(err.errno(), Errno::EINVAL, "{err}");
    assert_eq!(old.iomem(), &before);
    let mut new = s390(&V6_13);
    let r = add(&mut new).unwrap();
    assert_eq!(r.blocks.len(), 1);
    new.check().unwrap();
    // The export lsmem reads says the same.
    let dir = std::env::temp_dir().join(format!("hl-kv-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    new.export_sysfs(&dir).unwrap();
    let bs = std::fs::read_to_string(dir.join("sys/devices/system/memory/block_size_bytes"));
    assert_eq!(bs.unwrap(), "8000000\n");
    let _ = std::fs::remove_dir_all(&dir);
}
