//! The model against a real Linux 6.12 pseries guest with 64K pages and radix (Debian's
//! 6.12.117 powerpc64le-64k kernel in QEMU, 2 GiB, a 1 GiB pc-dimm at 2 GiB, onlined by the
//! DLPAR driver, then offlined): tests/fixtures/oracle-powerpc-64k-{dimm1g,mom-1,mom-force}.txt,
//! each with its command, for memory_hotplug.memmap_on_memory 0, 1 and force. Boot MemTotal
//! differs by the kernel's early reservations; every delta, block and parameter must match.

mod common;

use common::{boot, load, model_blocks, model_zones, Snap};
use mm::AddOptions;

const GIB: u64 = 1 << 30;

fn param(snap: &Snap, name: &str) -> String {
    snap.lines("params")
        .iter()
        .find_map(|l| l.strip_prefix(&format!("{name}=")))
        .unwrap_or_default()
        .to_string()
}

fn managed(zones: &std::collections::BTreeMap<String, (u64, u64, u64, Option<u64>)>) -> u64 {
    zones.values().map(|z| z.2).sum()
}

fn present(zones: &std::collections::BTreeMap<String, (u64, u64, u64, Option<u64>)>) -> u64 {
    zones.values().map(|z| z.1).sum()
}

/// With 64K pages a 256 MiB block's memmap is 4 pages, not a multiple of the 32-page
/// pageblock: memmap_on_memory=1 is refused (mhp_supports_memmap_on_memory()) and the
/// memmap comes from RAM, all of the DIMM is managed; force rounds it up to a pageblock,
/// "Memory hotplug will waste 28 pages in each memory block", and 4 x 32 pages stay out of
/// MemTotal.
#[test]
fn a_dimm_with_memmap_on_memory_0_1_and_force() {
    for (fixture, mom, shown) in [
        ("oracle-powerpc-64k-dimm1g.txt", "0", "N"),
        ("oracle-powerpc-64k-mom-1.txt", "1", "Y"),
        ("oracle-powerpc-64k-mom-force.txt", "force", "force"),
    ] {
        let (snaps, _) = load(fixture);
        let (boot_snap, added, offline) = (&snaps["boot"], &snaps["added"], &snaps["offline"]);
        let mut m = boot(
            "powerpc",
            2 * GIB,
            &format!("memory_hotplug.memmap_on_memory={mom}"),
        );
        assert_eq!(param(boot_snap, "memmap_on_memory"), shown, "{fixture}");
        assert_eq!(
            m.read("/sys/module/memory_hotplug/parameters/memmap_on_memory")
                .unwrap(),
            format!("{shown}\n"),
            "{fixture}"
        );
        let waste = |lines: &[String]| {
            lines
                .iter()
                .filter_map(|l| l.split_once("] ").map(|(_, t)| t.to_string()))
                .find(|t| t.contains("will waste"))
        };
        assert_eq!(
            waste(m.dmesg()),
            waste(added.lines("dmesg")),
            "{fixture}: the waste line"
        );
        let (total0, zones0) = (m.mem_total_kb(), model_zones(&m));
        let real0 = (boot_snap.meminfo_kb("MemTotal"), boot_snap.zones());
        let base = m.boot_info().hotplug_base;
        m.add_memory(base, GIB, &AddOptions::default()).unwrap();
        let real = (added.meminfo_kb("MemTotal"), added.zones());
        assert_eq!(
            m.mem_total_kb() - total0,
            real.0 - real0.0,
            "{fixture}: MemTotal delta"
        );
        let zones = model_zones(&m);
        assert_eq!(
            managed(&zones) - managed(&zones0),
            managed(&real.1) - managed(&real0.1),
            "{fixture}: managed delta"
        );
        assert_eq!(present(&zones), present(&real.1), "{fixture}: present");
        assert_eq!(
            m.vmstat().nr_memmap_pages(),
            added.vmstat("nr_memmap_pages"),
            "{fixture}"
        );
        assert_eq!(model_blocks(&m), added.blocks(), "{fixture}: blocks added");
        m.offline(base, GIB).unwrap();
        assert_eq!(
            model_blocks(&m),
            offline.blocks(),
            "{fixture}: blocks offline"
        );
        assert_eq!(
            m.mem_total_kb() - total0,
            offline.meminfo_kb("MemTotal") - real0.0,
            "{fixture}: MemTotal offline"
        );
    }
}
