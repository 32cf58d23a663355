//! What the binary's tests share: the binary, a fresh directory per call, text of output,
//! and targets by name.

#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Command;

/// The binary under test (the debug build CI tests, overflow checks on).
pub fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_hotplug-lab"))
}

/// A fresh directory of this test process's own: tests run in parallel, so each call gets
/// its own.
pub fn tmp(name: &str) -> PathBuf {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let d = std::env::temp_dir().join(format!(
        "hotplug-lab-test-{name}-{}-{n}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Output bytes as text.
pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).to_string()
}

/// The target a name and a version name give ("" for the default version).
pub fn target(arch: &str, kernel: &str) -> arch::Target {
    arch::Target::parse(arch, kernel).unwrap()
}

/// A session's boot configuration on a target.
pub fn boot(arch: &str, kernel: &str) -> hotplug_lab::script::BootConfig {
    hotplug_lab::script::BootConfig::new(target(arch, kernel))
}
