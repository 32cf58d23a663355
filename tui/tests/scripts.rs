//! Every scenario under scripts/ on every architecture of `--arch all`: its output and the
//! final stats of the machine it booted last, as reviewed snapshots in the top-level
//! snapshots/ directory, named as [`snapshot_name`] says. Every script must run to the end
//! on every architecture.

use hotplug_lab::script::run::{run_target, RunOptions};
use hotplug_lab::script::BootConfig;

hotplug_lab::install_heap_meter!();
use std::fmt::Write;
use std::path::Path;

fn scripts() -> Vec<std::path::PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts");
    let mut v: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "rhai"))
        .filter(|p| {
            !p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("bench-")
        })
        .collect();
    v.sort();
    v
}

/// The one naming rule (README's "Snapshots"): `script@arch` on the default kernel version,
/// `script@arch-VERSION` on another (`cloud-sizing@arm64-64k-6.1`).
fn snapshot_name(script: &str, t: &arch::Target) -> String {
    if std::ptr::eq(t.kernel, arch::default_kernel()) {
        format!("{script}@{}", t.name())
    } else {
        format!("{script}@{}-{}", t.name(), t.kernel.name)
    }
}

/// What a snapshot shows: the script's output, then a table of the last machine's stats.
fn render(output: &[String], stats: &[(&str, u64)]) -> String {
    let mut s = String::new();
    for l in output {
        let _ = writeln!(s, "{l}");
    }
    let _ = writeln!(s, "--- stats of the machine booted last");
    for (k, v) in stats {
        let _ = writeln!(s, "{k:<30} {v}");
    }
    s
}

#[test]
fn every_script_on_every_arch() {
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path("../../snapshots");
    settings.set_prepend_module_to_snapshot(false);
    settings.set_omit_expression(true);
    let list = scripts();
    assert!(list.len() >= 6, "scenarios are missing: {list:?}");
    for path in list {
        let name = path.file_stem().unwrap().to_string_lossy().to_string();
        let source = std::fs::read_to_string(&path).unwrap();
        for config in arch::Config::all() {
            let arch = config.name;
            let target = arch::Target::new(config, arch::default_kernel());
            let o = RunOptions::new(BootConfig::new(target));
            let run = run_target(&source, &o);
            if let Some(e) = run.error_line(&name) {
                panic!("{name} on {arch} failed: {e}\n{}", run.output.join("\n"));
            }
            let m = run
                .machine
                .as_ref()
                .unwrap_or_else(|| panic!("{name} booted no machine"));
            m.check()
                .unwrap_or_else(|e| panic!("{name} on {arch}: invariant broken: {e}"));
            let text = render(&run.output, &m.stats());
            settings.set_description(format!("hotplug-lab run scripts/{name}.rhai --arch {arch}"));
            settings.bind(|| insta::assert_snapshot!(snapshot_name(&name, &target), text));
        }
    }
}

/// The scenarios whose answer depends on the kernel version, run again on every other
/// version modelled.
#[test]
fn version_scenarios_on_other_kernels() {
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path("../../snapshots");
    settings.set_prepend_module_to_snapshot(false);
    settings.set_omit_expression(true);
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts");
    let others = arch::kernel::KERNELS
        .iter()
        .filter(|k| !std::ptr::eq(**k, arch::default_kernel()));
    for kernel in others {
        for name in ["memmap-on-memory", "cloud-sizing", "hugetlb-hvo"] {
            let source = std::fs::read_to_string(dir.join(format!("{name}.rhai"))).unwrap();
            for config in arch::Config::all() {
                let target = arch::Target::new(config, kernel);
                let run = run_target(&source, &RunOptions::new(BootConfig::new(target)));
                if let Some(e) = run.error_line(name) {
                    panic!("{name} on {target} failed: {e}\n{}", run.output.join("\n"));
                }
                let m = run.machine.as_ref().unwrap();
                assert!(std::ptr::eq(m.kernel(), *kernel));
                m.check()
                    .unwrap_or_else(|e| panic!("{name} on {target}: invariant broken: {e}"));
                let text = render(&run.output, &m.stats());
                settings.set_description(format!(
                    "hotplug-lab run scripts/{name}.rhai --arch {} --kernel {}",
                    config.name, kernel.name
                ));
                settings.bind(|| insta::assert_snapshot!(snapshot_name(name, &target), text));
            }
        }
    }
}

/// The benchmark scripts take too long for a debug build to run, but they must compile
/// against the API as it is (README's Performance section tells users to run them).
#[test]
fn bench_scripts_compile() {
    let mut host = hotplug_lab::script::Host::new(BootConfig::default());
    let engine = host.engine();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts");
    let mut n = 0;
    for e in std::fs::read_dir(&dir).unwrap() {
        let p = e.unwrap().path();
        if p.file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("bench-")
        {
            let src = std::fs::read_to_string(&p).unwrap();
            engine
                .compile(&src)
                .unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            n += 1;
        }
    }
    assert!(n >= 4, "bench scripts: {n}");
}

/// Every scenario runs to its end on every configuration and every version, not only the
/// ones with snapshots (hot-add.rhai read a parameter file 6.1 builds on no powerpc or
/// s390, and failed there).
#[test]
fn every_script_on_every_configuration_and_version() {
    for path in scripts() {
        let name = path.file_stem().unwrap().to_string_lossy().to_string();
        let source = std::fs::read_to_string(&path).unwrap();
        for config in arch::CONFIGS {
            for kernel in arch::kernel::KERNELS {
                let target = arch::Target::new(config, kernel);
                let run = run_target(&source, &RunOptions::new(BootConfig::new(target)));
                if let Some(e) = run.error_line(&name) {
                    panic!("{name} on {target} failed: {e}");
                }
            }
        }
    }
}
