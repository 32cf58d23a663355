//! `hotplug-lab run`: run a script headless on one architecture or several, print its output
//! (side by side for several), or JSON, and export the last machine's sysfs.

use crate::script::{describe, message, script_error, to_json, Host};
use mm::Machine;
use rhai::{Dynamic, EvalAltResult};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::rc::Rc;

/// What running a script on one architecture gave.
pub struct ArchRun {
    pub arch: String,
    /// The script's last value, or the error that ended it.
    pub result: Result<Dynamic, Box<EvalAltResult>>,
    /// Lines the script printed.
    pub output: Vec<String>,
    /// The machine the script booted last.
    pub machine: Option<Machine>,
}

impl ArchRun {
    /// `file:line:col: message` for a script that threw.
    pub fn error_line(&self, file: &str) -> Option<String> {
        let e = self.result.as_ref().err()?;
        let pos = e.position();
        let msg = message(e);
        Some(match (pos.line(), pos.position()) {
            (Some(l), Some(c)) => format!("{file}:{l}:{c}: {msg}"),
            (Some(l), None) => format!("{file}:{l}: {msg}"),
            _ => format!("{file}: {msg}"),
        })
    }
}

/// Write `text` to standard output. A reader that has gone (`| head`) wants nothing more:
/// the write error is dropped rather than panicking as print! would.
pub fn emit(text: &str) {
    use std::io::Write;
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
}

/// The options of `run`.
pub struct RunOptions {
    pub arch: String,
    pub cmdline: String,
    pub iomem: String,
    pub export_root: Option<PathBuf>,
    /// Print lines as the script prints them.
    pub live: bool,
    pub max_operations: Option<u64>,
}

/// Run `source` on one architecture.
pub fn run_arch(source: &str, o: &RunOptions) -> ArchRun {
    let mut host = Host::new(&o.arch, &o.cmdline, &o.iomem);
    host.export_root = o.export_root.clone();
    if let Some(n) = o.max_operations {
        host.limits.max_operations = n;
    }
    if o.live {
        host.on_line = Some(Rc::new(|l: &str| emit(&format!("{l}\n"))));
    }
    let engine = host.engine();
    let mut scope = host.scope();
    host.start();
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        engine
            .compile_with_scope(&scope, source)
            .map_err(|e| Box::new(EvalAltResult::from(e)))
            .and_then(|ast| engine.eval_ast_with_scope::<Dynamic>(&mut scope, &ast))
    }))
    .unwrap_or_else(|p| {
        let what = p
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()));
        Err(Box::new(EvalAltResult::ErrorSystem(
            "internal error".into(),
            format!("hotplug-lab panicked: {}", what.unwrap_or_default()).into(),
        )))
    });
    let output = host.output.borrow().clone();
    let machine = host.last.borrow().as_ref().map(|vm| vm.0.borrow().clone());
    ArchRun {
        arch: o.arch.clone(),
        result,
        output,
        machine,
    }
}

/// The architectures `--arch` names.
pub fn arch_list(arg: &str) -> Result<Vec<String>, String> {
    if arg == "all" {
        return Ok(arch::ALL.iter().map(|s| s.to_string()).collect());
    }
    let mut v = Vec::new();
    for a in arg.split(',') {
        arch::lookup(a).map_err(|e| e.to_string())?;
        v.push(a.to_string());
    }
    Ok(v)
}

/// `run` as a command: returns the process exit code.
#[allow(clippy::too_many_arguments)]
pub fn command(
    script: &str,
    arch_arg: &str,
    cmdline: &str,
    iomem: Option<&Path>,
    json: bool,
    sysfs_out: Option<&Path>,
    max_operations: Option<u64>,
) -> ExitCode {
    let archs = match arch_list(arch_arg) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("hotplug-lab run: {e}");
            return ExitCode::from(2);
        }
    };
    let (name, source) = if script == "-" {
        let mut s = String::new();
        if let Err(e) = std::io::Read::read_to_string(&mut std::io::stdin(), &mut s) {
            eprintln!("hotplug-lab run: reading the script from stdin: {e}");
            return ExitCode::from(2);
        }
        ("<stdin>".to_string(), s)
    } else {
        match std::fs::read_to_string(script) {
            Ok(s) => (script.to_string(), s),
            Err(e) => {
                eprintln!("hotplug-lab run: {script}: {e}");
                return ExitCode::from(2);
            }
        }
    };
    let iomem_text = match iomem {
        Some(p) => match std::fs::read_to_string(p) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("hotplug-lab run: --iomem {}: {e}", p.display());
                return ExitCode::from(2);
            }
        },
        None => String::new(),
    };
    let several = archs.len() > 1;
    let mut runs = Vec::new();
    for a in &archs {
        let root = sysfs_out.map(|d| if several { d.join(a) } else { d.to_path_buf() });
        let o = RunOptions {
            arch: a.clone(),
            cmdline: cmdline.to_string(),
            iomem: iomem_text.clone(),
            export_root: root,
            live: !json && !several,
            max_operations,
        };
        runs.push(run_arch(&source, &o));
    }
    let mut failed = false;
    for r in &runs {
        if let Some(l) = r.error_line(&name) {
            failed = true;
            if several {
                eprintln!("{}: {l}", r.arch);
            } else {
                eprintln!("{l}");
            }
        }
    }
    if json {
        let v: Vec<serde_json::Value> = runs.iter().map(json_of).collect();
        let text = serde_json::to_string_pretty(&serde_json::Value::Array(v)).unwrap_or_default();
        emit(&format!("{text}\n"));
    } else if several {
        emit(&side_by_side(&runs, &name));
    }
    if let Some(dir) = sysfs_out {
        for r in &runs {
            if let Some(m) = &r.machine {
                let d = if several {
                    dir.join(&r.arch)
                } else {
                    dir.to_path_buf()
                };
                if let Err(e) = m.export_sysfs(&d) {
                    eprintln!("hotplug-lab run: --sysfs-out {}: {e}", d.display());
                    return ExitCode::from(2);
                }
            }
        }
    }
    if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

fn json_of(r: &ArchRun) -> serde_json::Value {
    let mut o = serde_json::Map::new();
    o.insert("arch".into(), r.arch.clone().into());
    o.insert(
        "result".into(),
        r.result.as_ref().map_or(serde_json::Value::Null, to_json),
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
        "dmesg".into(),
        r.machine
            .as_ref()
            .map_or(serde_json::Value::Array(vec![]), |m| {
                m.dmesg().iter().cloned().collect()
            }),
    );
    o.insert("output".into(), r.output.iter().cloned().collect());
    if let Err(e) = &r.result {
        let err = match script_error(e) {
            Some(se) => {
                serde_json::json!({ "errno": se.errno, "code": se.code, "message": se.message, "text": describe(e) })
            }
            None => serde_json::json!({ "text": describe(e) }),
        };
        o.insert("error".into(), err);
    }
    serde_json::Value::Object(o)
}

/// The stats that differ between the runs, as a table, then each run's output.
pub fn side_by_side(runs: &[ArchRun], name: &str) -> String {
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
    let _ = writeln!(out, "{name}: the stats that differ (machine booted last)");
    let kw = differ.iter().map(|k| k.len()).max().unwrap_or(0).max(5);
    let cells: Vec<Vec<String>> = runs
        .iter()
        .zip(&stats)
        .map(|(r, s)| {
            let mut c = vec![r.arch.clone()];
            for k in &differ {
                c.push(
                    s.iter()
                        .find(|(x, _)| x == k)
                        .map_or("-".to_string(), |(_, v)| v.to_string()),
                );
            }
            c
        })
        .collect();
    let widths: Vec<usize> = cells
        .iter()
        .map(|c| c.iter().map(String::len).max().unwrap_or(0))
        .collect();
    let _ = write!(out, "{:kw$}", "");
    for (c, w) in cells.iter().zip(&widths) {
        let _ = write!(out, "  {:>w$}", c[0]);
    }
    out.push('\n');
    for (i, k) in differ.iter().enumerate() {
        let _ = write!(out, "{k:kw$}");
        for (c, w) in cells.iter().zip(&widths) {
            let _ = write!(out, "  {:>w$}", c[i + 1]);
        }
        out.push('\n');
    }
    for r in runs {
        let _ = writeln!(out, "\n== {} ==", r.arch);
        for l in &r.output {
            let _ = writeln!(out, "{l}");
        }
        if let Some(l) = r.error_line(name) {
            let _ = writeln!(out, "error: {l}");
        }
    }
    out
}
