//! The sysfs export against a process that swaps a symbolic link in while it runs: the
//! export holds each directory open and goes below it with O_NOFOLLOW, so nothing is ever
//! written or removed outside the directory it was given (checking a path and then using
//! it would race).

#![cfg(unix)]

use mm::{BootSpec, Machine};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

#[test]
fn a_link_swapped_in_is_not_followed() {
    let base = std::env::temp_dir().join(format!("hotplug-lab-race-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&base);
    let (out, victim, junk) = (base.join("out"), base.join("victim"), base.join("junk"));
    for d in [&out, &victim, &junk] {
        std::fs::create_dir_all(d).unwrap();
    }
    let m = Machine::boot(&BootSpec::new(arch::Target::parse("x86_64", "").unwrap())).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let racer = {
        let (out, victim, junk, stop) = (out.clone(), victim.clone(), junk.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                // Move the real tree away and put a link to the victim in its place.
                if std::fs::rename(out.join("q/sys"), junk.join(format!("s{n}"))).is_ok() {
                    let _ = std::os::unix::fs::symlink(&victim, out.join("q/sys"));
                    std::thread::yield_now();
                    let _ = std::fs::remove_file(out.join("q/sys"));
                    n += 1;
                }
                std::thread::yield_now();
            }
            n
        })
    };
    let mut refused = 0;
    for _ in 0..400 {
        if m.export_sysfs_in(&out, std::path::Path::new("q")).is_err() {
            refused += 1;
        }
    }
    stop.store(true, Ordering::Relaxed);
    let swaps = racer.join().unwrap();
    let inside: Vec<_> = std::fs::read_dir(&victim).unwrap().collect();
    assert!(
        inside.is_empty(),
        "{swaps} swaps, {refused} exports refused: the export wrote {} entries into the victim",
        inside.len()
    );
    let _ = std::fs::remove_dir_all(&base);
}
