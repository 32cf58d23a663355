//! Boot from a real /proc/iomem (this development machine: System RAM below 3 GiB and from
//! 4 GiB to 25 GiB) and compare memory blocks, zones and `lsmem --output-all` with what its
//! kernel shows (tests/fixtures/host-x86_64-24g.txt).

mod common;

use common::{load_plain, model_blocks, model_zones};
use mm::{BootSpec, Machine};
use std::process::Command;

fn boot() -> (Machine, common::Snap) {
    let fx = load_plain("host-x86_64-24g.txt");
    let mut spec = BootSpec::new(arch::Target::parse("x86_64", "").unwrap());
    spec.iomem = Some(fx.lines("iomem").join("\n"));
    let m = Machine::boot(&spec).unwrap();
    m.check().unwrap();
    (m, fx)
}

#[test]
fn blocks_and_zones_match_the_host() {
    let (m, fx) = boot();
    // memoryN state phys_index [valid_zones] removable phys_device online
    let want: Vec<(u64, String, String, String, String)> = fx
        .lines("blocks")
        .iter()
        .map(|l| {
            let (head, rest) = l.split_once(" [").unwrap();
            let (zones, tail) = rest.split_once("] ").unwrap();
            let h: Vec<&str> = head.split_whitespace().collect();
            let t: Vec<&str> = tail.split_whitespace().collect();
            (
                h[0].trim_start_matches("memory").parse().unwrap(),
                h[1].into(),
                h[2].into(),
                t[0].into(),
                zones.into(),
            )
        })
        .collect();
    assert_eq!(model_blocks(&m), want);
    assert_eq!(
        m.read("/sys/devices/system/memory/block_size_bytes")
            .unwrap()
            .trim(),
        fx.one("block_size_bytes")
    );
    let snap = common::Snap {
        sections: [("zoneinfo".to_string(), fx.lines("zoneinfo").to_vec())]
            .into_iter()
            .collect(),
    };
    let real = snap.zones();
    let model = model_zones(&m);
    for (name, r) in &real {
        // The host defers struct page init (deferred_init=lazy), so only spans and present.
        assert_eq!((model[name].0, model[name].1), (r.0, r.1), "zone {name}");
    }
    // Boot memory 0-1 GiB is one block spanning DMA and DMA32: valid_zones "none".
    assert_eq!(
        m.read("/sys/devices/system/memory/memory0/valid_zones")
            .unwrap(),
        "none\n"
    );
}

/// lsmem from util-linux reading the exported tree prints what it printed on the host.
#[test]
fn lsmem_reads_the_export_like_the_host() {
    let (m, fx) = boot();
    let dir = std::env::temp_dir().join(format!("hotplug-lab-lsmem-{}", std::process::id()));
    m.export_sysfs(&dir).unwrap();
    let run = |args: &[&str]| {
        let out = Command::new("lsmem")
            .arg("--sysroot")
            .arg(&dir)
            .args(args)
            .output()
            .expect("lsmem (util-linux) must be installed");
        assert!(
            out.status.success(),
            "lsmem {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let table = run(&["--output-all"]);
    assert_eq!(
        table.lines().collect::<Vec<_>>(),
        fx.lines("lsmem --output-all")
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>()
    );
    let json = run(&["--output-all", "-J"]);
    assert_eq!(
        json.lines().collect::<Vec<_>>(),
        fx.lines("lsmem --output-all -J")
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>()
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Found by the long property run: a "System RAM" line nested in another counted its
/// memory twice, so zones spanned less than was present. memblock_add() merges overlapping
/// regions (mm/memblock.c memblock_add_range), so the nested line adds nothing.
#[test]
fn nested_system_ram_is_counted_once() {
    let mut spec = BootSpec::new(arch::Target::parse("x86_64", "").unwrap());
    spec.iomem = Some("00000000-7fffffff : System RAM\n  00000000-0000ffff : System RAM\n".into());
    let m = Machine::boot(&spec).unwrap();
    m.check().unwrap();
    let flat = {
        let mut s = BootSpec::new(arch::Target::parse("x86_64", "").unwrap());
        s.iomem = Some("00000000-7fffffff : System RAM\n".into());
        Machine::boot(&s).unwrap()
    };
    assert_eq!(m.meminfo(), flat.meminfo());
    assert_eq!(m.nodes(), flat.nodes());
}
