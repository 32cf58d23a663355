//! The kernel hot-adds, onlines, offlines and removes memory one memory block at a time:
//! a memmap_on_memory hot-add makes one altmap and one arch_add_memory() per block
//! (create_altmaps_and_memory_blocks() in mm/memory_hotplug.c) and removal one
//! arch_remove_memory() per block; writing a range's state runs memory_block_online() or
//! memory_block_offline() (drivers/base/memory.c) per block. The model takes runs of blocks
//! at once where it can prove the result the same: populating and freeing the memmaps of a
//! run, each PMD from the altmap of the block whose pfns it describes, and onlining or
//! offlining a run to or from ZONE_MOVABLE. These tests hold the shortcuts to the
//! block-by-block reference: the same result and error text, the same dmesg and the same
//! state, on every architecture.

use mm::cmdline::OnlineType;
use mm::{AddOptions, BootSpec, Machine};

/// Every architecture the model has.
fn archs() -> Vec<&'static str> {
    arch::Config::names().collect()
}

fn boot(arch: &str, ram: u64, cmdline: &str) -> Machine {
    let mut spec = BootSpec::new(arch::Target::parse(arch, "").unwrap());
    spec.ram = Some(ram);
    spec.cmdline = cmdline.to_string();
    Machine::boot(&spec).unwrap()
}

/// Run `op` on `m` and on its block-by-block twin; both must agree in every respect.
fn same<T: std::fmt::Debug>(
    m: &mut Machine,
    twin: &mut Machine,
    what: &str,
    op: impl Fn(&mut Machine) -> mm::Result<T>,
) -> String {
    let (a, b) = (op(m), op(twin));
    let (a, b) = (format!("{a:?}"), format!("{b:?}"));
    assert_eq!(a, b, "{what}: results differ");
    assert_eq!(m.dmesg(), twin.dmesg(), "{what}: dmesg differs");
    assert_eq!(
        m.state_hash(),
        twin.state_hash(),
        "{what}: states differ in {:?}",
        m.state_diff(twin)
    );
    m.check().unwrap_or_else(|e| panic!("{what}: {e}"));
    a
}

#[test]
fn a_run_of_blocks_ends_as_block_by_block_does() {
    for arch in archs() {
        for cmdline in [
            "memhp_default_state=offline memory_hotplug.memmap_on_memory=1",
            "memhp_default_state=offline memory_hotplug.memmap_on_memory=force",
            "memhp_default_state=online_movable memory_hotplug.memmap_on_memory=1",
        ] {
            let mut m = boot(arch, 4 << 30, cmdline);
            let mut twin = m.clone();
            twin.set_per_block_reference(true);
            let bs = m.block_size();
            let start = m.boot_info().hotplug_base.next_multiple_of(bs);
            let size = 8 * bs;
            let what = format!("{arch} [{cmdline}]");
            let opts = AddOptions {
                memmap_on_memory: Some(true),
                ..AddOptions::default()
            };
            let add = same(&mut m, &mut twin, &what, |m| {
                m.add_memory(start, size, &opts)
            });
            if arch == "x86_64" {
                // Eight 128 MiB blocks, each with its 2 MiB memmap (512 pages) on itself.
                assert!(add.contains("memmap_on_memory: true"), "{add}");
                assert!(add.contains("memmap_altmap_pages: 4096"), "{add}");
            }
            if !cmdline.contains("online_movable") {
                same(&mut m, &mut twin, &what, |m| {
                    m.online(start, size, OnlineType::OnlineMovable)
                });
            }
            same(&mut m, &mut twin, &what, |m| m.offline(start, size));
            same(&mut m, &mut twin, &what, |m| m.remove_memory(start, size));
            // Half of it back, then removing more than was added fails the same way.
            same(&mut m, &mut twin, &what, |m| {
                m.add_memory(start + 2 * bs, 4 * bs, &opts)
            });
            same(&mut m, &mut twin, &what, |m| m.remove_memory(start, size));
            same(&mut m, &mut twin, &what, |m| {
                m.remove_memory(start + 2 * bs, 4 * bs)
            });
        }
    }
}

#[test]
fn a_failure_inside_a_run_names_the_block_and_changes_nothing() {
    for arch in ["x86_64", "arm64", "s390"] {
        let mut m = boot(
            arch,
            4 << 30,
            "memhp_default_state=offline memory_hotplug.memmap_on_memory=1",
        );
        let bs = m.block_size();
        let start = m.boot_info().hotplug_base.next_multiple_of(bs);
        // The fourth altmap allocation fails: the PMDs of blocks 0-2 (x86_64, arm64: one
        // each) went through, block 3's does not.
        m.inject_fault_after("altmap_alloc", 3, 1).unwrap();
        let mut twin = m.clone();
        twin.set_per_block_reference(true);
        let before = m.state_hash();
        let opts = AddOptions {
            memmap_on_memory: Some(true),
            ..AddOptions::default()
        };
        let what = arch.to_string();
        let err = same(&mut m, &mut twin, &what, |m| {
            m.add_memory(start, 8 * bs, &opts)
        });
        if arch == "s390" {
            // s390's vmemmap_populate() maps a segment it cannot get from the altmap with
            // base pages instead (arch/s390/mm/vmem.c), from the same altmap: no failure.
            assert!(err.starts_with("Ok("), "{err}");
            continue;
        }
        assert!(
            err.contains("altmap allocation failure (injected)"),
            "{err}"
        );
        assert_eq!(
            m.state_hash(),
            before,
            "{arch}: a failed add changed the machine"
        );
        let ps = m.geometry().page_shift;
        let b3 = (start + 3 * bs) >> ps;
        let range = format!("pfns {b3:#x}-{:#x}", b3 + (bs >> ps) - 1);
        assert!(err.contains(&range), "{arch}: {err} does not name {range}");
    }
}

#[test]
fn movable_runs_end_as_block_by_block_does() {
    for arch in archs() {
        for (cmdline, fault) in [
            ("memhp_default_state=offline", None),
            ("memhp_default_state=online_movable", None),
            // Armed but striking later than this range: the blocks go one by one.
            ("memhp_default_state=offline", Some(("going_offline", 100))),
            ("memhp_default_state=offline", Some(("going_online", 3))),
        ] {
            let mut m = boot(arch, 4 << 30, cmdline);
            let mut twin = m.clone();
            twin.set_per_block_reference(true);
            let bs = m.block_size();
            let start = m.boot_info().hotplug_base.next_multiple_of(bs);
            let what = format!("{arch} [{cmdline}] {fault:?}");
            let opts = AddOptions::default();
            same(&mut m, &mut twin, &what, |m| {
                m.add_memory(start, 6 * bs, &opts)
            });
            if let Some((point, skip)) = fault {
                m.inject_fault_after(point, skip, 1).unwrap();
                twin.inject_fault_after(point, skip, 1).unwrap();
            }
            for op in 0..2 {
                let (a, n) = (start + op * 2 * bs, 4 * bs);
                same(&mut m, &mut twin, &what, |m| {
                    m.online(a, n, OnlineType::OnlineMovable)
                });
                same(&mut m, &mut twin, &what, |m| m.offline(a, n));
            }
            // Kernel memory in the run: ZONE_NORMAL blocks go one by one.
            same(&mut m, &mut twin, &what, |m| {
                m.online(start, 2 * bs, OnlineType::OnlineKernel)
            });
            same(&mut m, &mut twin, &what, |m| m.offline(start, 6 * bs));
            same(&mut m, &mut twin, &what, |m| {
                m.online(start + 2 * bs, 4 * bs, OnlineType::OnlineMovable)
            });
            same(&mut m, &mut twin, &what, |m| m.offline(start, 6 * bs));
            same(&mut m, &mut twin, &what, |m| m.remove_memory(start, 6 * bs));
        }
    }
}
