//! `lsmem --sysroot` on the model's exported tree prints exactly what it prints on a tree
//! built from the real kernel's sysfs in the same state (the QEMU oracle fixtures): after
//! boot, after an add, and after a partial online.

mod common;

use common::{load, Snap};
use mm::cmdline::OnlineType;
use mm::{AddOptions, BootSpec, Machine};
use std::path::{Path, PathBuf};
use std::process::Command;

const GIB: u64 = 1 << 30;

/// Write the real kernel's memory blocks (from an oracle snap) as a sysfs tree.
fn real_tree(snap: &Snap, dir: &Path) {
    let mem = dir.join("sys/devices/system/memory");
    std::fs::create_dir_all(&mem).unwrap();
    std::fs::write(
        mem.join("block_size_bytes"),
        format!("{}\n", snap.one("block_size_bytes")),
    )
    .unwrap();
    std::fs::create_dir_all(dir.join("sys/devices/system/node/node0")).unwrap();
    for l in snap.lines("blocks") {
        let (head, rest) = l.split_once(" [").unwrap();
        let (zones, node) = rest.split_once("] ").unwrap();
        let f: Vec<&str> = head.split_whitespace().collect();
        let d = mem.join(f[0]);
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("state"), format!("{}\n", f[1])).unwrap();
        std::fs::write(d.join("phys_index"), format!("{}\n", f[2])).unwrap();
        std::fs::write(d.join("removable"), format!("{}\n", f[3])).unwrap();
        std::fs::write(d.join("valid_zones"), format!("{zones}\n")).unwrap();
        std::os::unix::fs::symlink(format!("../../node/{}", node.trim()), d.join(node.trim()))
            .unwrap();
    }
}

fn lsmem(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("lsmem")
        .arg("--sysroot")
        .arg(dir)
        .args(args)
        .output()
        .expect("lsmem (util-linux) must be installed");
    assert!(
        out.status.success(),
        "lsmem {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("hotplug-lab-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn compare(m: &Machine, snap: &Snap, name: &str) {
    let (a, b) = (tmp(&format!("{name}-model")), tmp(&format!("{name}-real")));
    m.export_sysfs(&a).unwrap();
    real_tree(snap, &b);
    for args in [
        &[][..],
        &["--output-all"],
        &["--output-all", "-J"],
        &["-a", "-o", "RANGE,SIZE,STATE,REMOVABLE,BLOCK,NODE,ZONES"],
        &["-b", "--summary=only"],
        &["-P", "-o", "ZONES,BLOCK"],
    ] {
        assert_eq!(lsmem(&a, args), lsmem(&b, args), "lsmem {args:?} {name}");
    }
    let _ = std::fs::remove_dir_all(&a);
    let _ = std::fs::remove_dir_all(&b);
}

fn boot(cmdline: &str) -> Machine {
    let mut spec = BootSpec::new(arch::Target::parse("x86_64", "").unwrap());
    spec.ram = Some(2 * GIB);
    spec.cmdline = cmdline.to_string();
    Machine::boot(&spec).unwrap()
}

#[test]
fn after_boot() {
    let (snaps, _) = load("oracle-x86_64-mom1-off.txt");
    compare(
        &boot("memory_hotplug.memmap_on_memory=1 memhp_default_state=offline"),
        &snaps["boot"],
        "boot",
    );
}

#[test]
fn after_an_add() {
    let (snaps, _) = load("oracle-x86_64-mom1-off.txt");
    let mut m = boot("memory_hotplug.memmap_on_memory=1 memhp_default_state=offline");
    m.add_memory(4 * GIB, GIB, &AddOptions::default()).unwrap();
    compare(&m, &snaps["added"], "added");
    m.online(4 * GIB, GIB, OnlineType::OnlineMovable).unwrap();
    compare(&m, &snaps["online"], "online");
}

#[test]
fn after_a_partial_online() {
    // The real guest onlined the DIMM (auto_online_blocks=online), then offlined all but the
    // first block.
    let (snaps, _) = load("oracle-x86_64-dimm1g.txt");
    let mut m = boot("");
    m.add_memory(4 * GIB, GIB, &AddOptions::default()).unwrap();
    m.offline(4 * GIB + (128 << 20), 7 * (128 << 20)).unwrap();
    compare(&m, &snaps["offline"], "partial");
}
