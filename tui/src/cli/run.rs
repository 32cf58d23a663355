//! `hotplug-lab run`: a script headless on each target the flags name (every pair of
//! --arch and --kernel), its output as it prints (one target), side by side (several) or
//! as JSON, and the last machine's sysfs exported.

use super::{arch_help, archs, kernels, read_input, Archs, BootArgs, Kernels};
use crate::output::{emit, stdout_failed, warn};
use crate::script::run::{run_target, RunOptions, TargetRun};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// A Rhai script ("-" reads it from standard input).
    script: String,
    #[arg(long, value_parser = archs, help = format!(
        "The script runs once on each, as ARCH: {} [default: the --host or --sysroot system's, \
         else {}]",
        arch_help(true),
        arch::Config::default_config().name
    ))]
    arch: Option<Archs>,
    /// The kernel versions the machines model: one, several comma-separated, or all; the
    /// script runs once on each (KERNEL in the script)
    #[arg(long, value_name = "VERSION", value_parser = kernels)]
    kernel: Option<Kernels>,
    /// Print one JSON array (one object per architecture and version) and nothing else on
    /// stdout.
    #[arg(long)]
    json: bool,
    /// Export the last machine's sysfs here (DIR/<arch> with several architectures,
    /// DIR/<arch>@<kernel> with several versions).
    #[arg(long, value_name = "DIR")]
    sysfs_out: Option<PathBuf>,
    /// Where save() writes pictures (DIR/NAME; DIR/<arch>/NAME with several architectures,
    /// DIR/<arch>@<kernel>/ with several versions) and, beside them, the map of the last
    /// machine (map.svg, unless the script saved its own); nothing is written anywhere else.
    #[arg(long, value_name = "DIR")]
    svg_out: Option<PathBuf>,
    /// Write one self-contained HTML report of the run here: each architecture's output,
    /// pictures, stats and dmesg (opens offline in any browser).
    #[arg(long, value_name = "FILE")]
    report: Option<PathBuf>,
    #[command(flatten)]
    boot: BootArgs,
}

/// The warnings of a run, once each: what its boots said, and the flags given that no boot
/// took.
pub fn run_warnings(
    runs: &[TargetRun],
    arch_given: bool,
    cmdline: &str,
    iomem: bool,
    ram: bool,
) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for w in runs.iter().flat_map(|r| &r.warnings) {
        if !out.contains(w) {
            out.push(w.clone());
        }
    }
    let used = runs.iter().fold(0, |u, r| u | r.used);
    let booted = runs.iter().any(|r| r.machine.is_some());
    let unused = |flag: &str, what: &str, bit: u8, given: bool| {
        (given && booted && used & bit == 0).then(|| {
            format!(
                "{flag} was not used: every boot in the script gives its own {what} \
                 (boot(ARCH, CMDLINE) and boot() take the flags)"
            )
        })
    };
    out.extend(unused(
        "--arch",
        "architecture",
        crate::script::USED_ARCH,
        arch_given,
    ));
    out.extend(unused(
        "--cmdline",
        "command line",
        crate::script::USED_CMDLINE,
        !cmdline.is_empty(),
    ));
    out.extend(unused(
        "--iomem",
        "RAM or iomem",
        crate::script::USED_IOMEM,
        iomem,
    ));
    out.extend(unused(
        "--ram",
        "RAM or iomem",
        crate::script::USED_RAM,
        ram,
    ));
    out
}

/// `run` as a command: returns the process exit code.
pub fn command(a: Args) -> ExitCode {
    let limits = a.boot.sandbox.limits();
    let deadline = Instant::now() + limits.max_time;
    if a.script == "-" && a.boot.iomem.as_deref() == Some(Path::new("-")) {
        warn(
            "hotplug-lab run: the script and --iomem cannot both be read from standard input \
             (\"-\"): give one of them as a file",
        );
        return ExitCode::from(2);
    }
    let name = if a.script == "-" {
        "<stdin>"
    } else {
        &a.script
    }
    .to_string();
    let source = match read_input(&a.script, &limits) {
        Ok(s) => s,
        Err(e) => {
            warn(&format!("hotplug-lab run: {e}"));
            return ExitCode::from(2);
        }
    };
    let one_kernel = a.kernel.as_ref().filter(|k| k.0.len() == 1).map(|k| k.0[0]);
    let base = match a.boot.config("run", &limits, one_kernel) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let configs = a
        .arch
        .clone()
        .map_or_else(|| vec![base.target.config], |a| a.0);
    let kernels = a
        .kernel
        .clone()
        .map_or_else(|| vec![base.target.kernel], |k| k.0);
    // Every pair, grouped by architecture, in the order named.
    let targets: Vec<arch::Target> = configs
        .iter()
        .flat_map(|c| kernels.iter().map(|k| arch::Target::new(c, k)))
        .collect();
    let (several_archs, several_kernels) = (configs.len() > 1, kernels.len() > 1);
    let several = targets.len() > 1;
    let label = |t: &arch::Target| match (several_archs, several_kernels) {
        (_, true) => format!("{}@{}", t.name(), t.kernel.name),
        _ => t.name().to_string(),
    };
    let mut runs = Vec::new();
    // What every target's exports write counts against one --max-export-files.
    let exported = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    for t in &targets {
        let o = RunOptions {
            boot: base.on(*t),
            export_root: a.sysfs_out.clone(),
            svg_root: a.svg_out.clone(),
            export_prefix: if several {
                label(t).into()
            } else {
                PathBuf::new()
            },
            live: !a.json && !several,
            keep_live: a.report.is_some(),
            limits,
            deadline: Some(deadline),
            exported: exported.clone(),
        };
        runs.push(run_target(&source, &o));
    }
    for w in run_warnings(
        &runs,
        a.arch.is_some(),
        &a.boot.cmdline,
        a.boot.iomem.is_some(),
        a.boot.ram.is_some(),
    ) {
        warn(&format!("hotplug-lab run: warning: {w}"));
    }
    let mut failed = false;
    for r in &runs {
        if let Some(l) = r.error_line(&name) {
            failed = true;
            if several {
                warn(&format!("{}: {l}", label(&r.target)));
            } else {
                warn(&l);
            }
        }
    }
    if a.json {
        let v: Vec<serde_json::Value> = runs.iter().map(json_of).collect();
        let text = serde_json::to_string_pretty(&serde_json::Value::Array(v)).unwrap_or_default();
        emit(&format!("{text}\n"));
    } else if several {
        emit(&side_by_side(&runs, &name, &label, super::archs::width()));
    }
    let mut code = u8::from(failed);
    // The map of each target's last machine, under --svg-out and in the report.
    let maps: Vec<Option<String>> = runs
        .iter()
        .map(|r| {
            r.machine
                .as_ref()
                .filter(|_| a.svg_out.is_some() || a.report.is_some())
                .map(|m| crate::picture::map_svg(m, None))
        })
        .collect();
    if let Some(dir) = &a.svg_out {
        for (r, map) in runs.iter().zip(&maps) {
            let Some(map) = map else { continue };
            // Beside what save() wrote (DIR/, or DIR/<arch>/ with several), never over it.
            let sub = if several {
                label(&r.target)
            } else {
                String::new()
            };
            let what = if several {
                format!("{sub}/map.svg")
            } else {
                "map.svg".to_string()
            };
            if r.saved.iter().any(|(n, _)| n == "map.svg") {
                warn(&format!(
                    "hotplug-lab run: --svg-out: the script saved its own {what}; the map of its \
                     last machine was not written over it"
                ));
                continue;
            }
            let written = crate::script::sandbox::count_files(&exported, &limits, 1, &what)
                .map_err(|stop| stop.to_string())
                .and_then(|()| {
                    crate::picture::save::write_under(dir, &sub, "map.svg", map.as_bytes())
                        .map_err(|e| e.reason().to_string())
                });
            if let Err(e) = written {
                warn(&format!("hotplug-lab run: --svg-out: {e}"));
                code = 1;
            }
        }
    }
    if let Some(file) = &a.report {
        let parts: Vec<crate::picture::report::ReportPart> = runs
            .iter()
            .zip(&maps)
            .map(|(r, map)| crate::picture::report::ReportPart {
                label: label(&r.target),
                output: r.output.clone(),
                error: r.error_line(&name),
                stats: r
                    .machine
                    .as_ref()
                    .map(|m| {
                        m.stats()
                            .iter()
                            .map(|(k, v)| (k.to_string(), v.to_string()))
                            .collect()
                    })
                    .unwrap_or_default(),
                dmesg: r
                    .machine
                    .as_ref()
                    .map(|m| m.dmesg().to_vec())
                    .unwrap_or_default(),
                pictures: map
                    .iter()
                    .map(|s| {
                        let t = r.machine.as_ref().map(|m| m.target());
                        let what = t.map_or(String::new(), |t| {
                            format!(" ({}, Linux {})", t.name(), t.kernel.name)
                        });
                        (
                            format!("the map of the machine the script booted last{what}"),
                            s.clone(),
                        )
                    })
                    .chain(r.saved.iter().cloned())
                    .collect(),
            })
            .collect();
        let command = std::env::args().collect::<Vec<_>>().join(" ");
        let html = crate::picture::report::report_html(&name, &command, &parts);
        if let Err(e) = crate::output::write_new_file(file, html.as_bytes()) {
            warn(&format!(
                "hotplug-lab run: --report {}: {e}",
                file.display()
            ));
            code = 1;
        }
    }
    match &a.sysfs_out {
        // A run that failed exports nothing: its error is said once, above.
        Some(dir) if failed => warn(&format!(
            "hotplug-lab run: --sysfs-out {}: nothing exported, as the script failed",
            dir.display()
        )),
        Some(dir) if runs.iter().all(|r| r.machine.is_none()) => {
            warn(&format!(
                "hotplug-lab run: --sysfs-out {}: the script booted no machine, so there is \
                 nothing to export",
                dir.display()
            ));
            code = 1;
        }
        Some(dir) => {
            for r in &runs {
                let Some(m) = &r.machine else { continue };
                let sub = if several {
                    label(&r.target)
                } else {
                    String::new()
                };
                let written = crate::script::sandbox::count_export(
                    &exported,
                    &limits,
                    m,
                    "the machine the script booted last",
                )
                .map_err(|stop| stop.to_string())
                .and_then(|()| {
                    m.export_sysfs_in(dir, Path::new(&sub))
                        .map_err(|e| e.to_string())
                });
                if let Err(e) = written {
                    warn(&format!(
                        "hotplug-lab run: --sysfs-out {}: {e}",
                        dir.join(&sub).display()
                    ));
                    code = 1;
                }
            }
        }
        None => {}
    }
    if let Some(e) = stdout_failed() {
        warn(&format!("hotplug-lab run: standard output: {e}"));
        code = 2;
    }
    ExitCode::from(code)
}

fn json_of(r: &TargetRun) -> serde_json::Value {
    let mut o = serde_json::Map::new();
    o.insert("arch".into(), r.target.name().into());
    o.insert("kernel".into(), r.target.kernel.name.into());
    o.insert(
        "result".into(),
        r.result.clone().unwrap_or(serde_json::Value::Null),
    );
    o.insert(
        "stats".into(),
        r.machine.as_ref().map_or(serde_json::Value::Null, |m| {
            serde_json::Value::Object(
                m.stats()
                    .into_iter()
                    .map(|(k, v)| (k.to_string(), v.into()))
                    .collect(),
            )
        }),
    );
    o.insert(
        "machine".into(),
        r.machine.as_ref().map_or(serde_json::Value::Null, |m| {
            serde_json::to_value(m.overview()).unwrap_or(serde_json::Value::Null)
        }),
    );
    o.insert(
        "dmesg".into(),
        r.machine
            .as_ref()
            .map_or(serde_json::Value::Array(vec![]), |m| {
                m.dmesg().iter().cloned().collect()
            }),
    );
    o.insert("output".into(), r.output.iter().cloned().collect());
    if let Err(e) = &r.result {
        let err = match &e.error {
            Some(se) => {
                serde_json::json!({ "errno": se.errno, "code": se.code, "message": se.message, "text": e.describe() })
            }
            None => serde_json::json!({ "text": e.describe() }),
        };
        o.insert("error".into(), err);
    }
    serde_json::Value::Object(o)
}

/// Each run's output under its architecture's name, then the stats that differ between the
/// runs' last machines, as a table (as many tables as it takes to fit `width` columns).
pub fn side_by_side(
    runs: &[TargetRun],
    name: &str,
    label: &dyn Fn(&arch::Target) -> String,
    width: usize,
) -> String {
    let mut out = String::new();
    let stats: Vec<Vec<(&'static str, u64)>> = runs
        .iter()
        .map(|r| r.machine.as_ref().map(|m| m.stats()).unwrap_or_default())
        .collect();
    let keys: Vec<&'static str> = stats
        .iter()
        .find(|s| !s.is_empty())
        .map(|s| s.iter().map(|(k, _)| *k).collect())
        .unwrap_or_default();
    let differ: Vec<&str> = keys
        .iter()
        .copied()
        .filter(|k| {
            let vals: Vec<Option<u64>> = stats
                .iter()
                .map(|s| s.iter().find(|(x, _)| x == k).map(|(_, v)| *v))
                .collect();
            vals.windows(2).any(|w| w[0] != w[1])
        })
        .collect();
    for (i, r) in runs.iter().enumerate() {
        let _ = writeln!(
            out,
            "{}== {} ==",
            if i == 0 { "" } else { "\n" },
            label(&r.target)
        );
        for l in &r.output {
            let _ = writeln!(out, "{l}");
        }
        if let Some(l) = r.error_line(name) {
            let _ = writeln!(out, "error: {l}");
        }
    }
    // Which machine the table describes: each run's last, and how many each booted.
    let mut kernels: Vec<&str> = runs
        .iter()
        .filter_map(|r| r.machine.as_ref().map(|m| m.kernel().name))
        .collect();
    kernels.dedup();
    let linux = match kernels.as_slice() {
        [k] => format!(", Linux {k}"),
        _ => String::new(),
    };
    let mut boots: Vec<u32> = runs.iter().map(|r| r.boots).collect();
    boots.dedup();
    let which = match boots.as_slice() {
        [1] => "the machine each run booted".to_string(),
        [n] => format!("the last of the {n} machines each run booted"),
        _ => "the machine each run booted last".to_string(),
    };
    let _ = writeln!(
        out,
        "\n== {name}: the stats that differ between the runs ({which}{linux}; help(\"stats\") says what each is) =="
    );
    let kw = differ.iter().map(|k| k.len()).max().unwrap_or(0).max(5);
    let cells: Vec<Vec<String>> = runs
        .iter()
        .zip(&stats)
        .map(|(r, s)| {
            // A run that failed shows what it booted last, marked.
            let name = label(&r.target);
            let mut c = vec![if r.result.is_err() {
                format!("{name} (failed)")
            } else {
                name
            }];
            let page = s
                .iter()
                .find(|(x, _)| *x == "page_size")
                .map_or(4096, |(_, v)| *v);
            for k in &differ {
                c.push(
                    s.iter()
                        .find(|(x, _)| x == k)
                        .map_or("-".to_string(), |&(_, v)| {
                            // The raw number, and beside it the size it stands for.
                            let unit =
                                mm::stats::stat_doc(k).map_or(mm::stats::Unit::Count, |d| d.unit);
                            match mm::stats::stat_human(unit, v, page) {
                                Some(h) if h != v.to_string() => format!("{v} ({h})"),
                                _ => v.to_string(),
                            }
                        }),
                );
            }
            c
        })
        .collect();
    let widths: Vec<usize> = cells
        .iter()
        .map(|c| c.iter().map(String::len).max().unwrap_or(0))
        .collect();
    // As many runs side by side as fit in `width` (at least one), then the next ones in a
    // table of their own below.
    let mut first = 0;
    while first < cells.len() {
        let mut used = kw;
        let mut last = first;
        while last < cells.len() && (last == first || used + 2 + widths[last] <= width) {
            used += 2 + widths[last];
            last += 1;
        }
        if first > 0 {
            out.push('\n');
        }
        let _ = write!(out, "{:kw$}", "");
        for (c, w) in cells[first..last].iter().zip(&widths[first..last]) {
            let _ = write!(out, "  {:>w$}", c[0]);
        }
        out.push('\n');
        for (i, k) in differ.iter().enumerate() {
            let _ = write!(out, "{k:kw$}");
            for (c, w) in cells[first..last].iter().zip(&widths[first..last]) {
                let _ = write!(out, "  {:>w$}", c[i + 1]);
            }
            out.push('\n');
        }
        first = last;
    }
    out
}
