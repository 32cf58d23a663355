//! `hotplug-lab run`: run a script headless on one architecture or several, print its output
//! (side by side for several), or JSON, and export the last machine's sysfs.

use crate::script::{script_error, to_json, Failure, Host, Limits, ScriptError, Session};
use mm::Machine;
use rhai::EvalAltResult;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::rc::Rc;
use std::time::Instant;

/// Why a script stopped.
#[derive(Debug, Clone, PartialEq)]
pub struct RunError {
    /// Where, in the script's own lines and columns.
    pub line: Option<usize>,
    pub column: Option<usize>,
    /// `EINVAL: reason`, or what the sandbox or Rhai said.
    pub message: String,
    /// The model's or the sandbox's error, when it was one.
    pub error: Option<ScriptError>,
}

impl RunError {
    fn of(e: &EvalAltResult) -> RunError {
        let pos = e.position();
        let error = script_error(e);
        RunError {
            line: pos.line(),
            column: pos.position(),
            message: error.to_string(),
            error: Some(error),
        }
    }

    /// `line L, column C: message`, as the REPL shows it.
    pub fn describe(&self) -> String {
        match (self.line, self.column) {
            (Some(l), Some(c)) => format!("line {l}, column {c}: {}", self.message),
            (Some(l), None) => format!("line {l}: {}", self.message),
            _ => self.message.clone(),
        }
    }
}

/// What running a script on one architecture gave.
pub struct ArchRun {
    pub arch: String,
    /// The script's last value as JSON, or the error that ended it.
    pub result: Result<serde_json::Value, RunError>,
    /// Lines the script printed.
    pub output: Vec<String>,
    /// The machine the script booted last.
    pub machine: Option<Machine>,
    /// What the user should hear about the run (unknown kernel parameters, ...).
    pub warnings: Vec<String>,
    /// Which of the flags a boot took (script::USED_*).
    pub used: u8,
}

impl ArchRun {
    /// `file:line:col: message` for a script that threw.
    pub fn error_line(&self, file: &str) -> Option<String> {
        let e = self.result.as_ref().err()?;
        Some(match (e.line, e.column) {
            (Some(l), Some(c)) => format!("{file}:{l}:{c}: {}", e.message),
            (Some(l), None) => format!("{file}:{l}: {}", e.message),
            _ => format!("{file}: {}", e.message),
        })
    }
}

/// The first error writing standard output met, other than a reader that went away.
static STDOUT_ERROR: std::sync::Mutex<Option<String>> = std::sync::Mutex::new(None);

/// Write `text` to standard output. A reader that has gone (`| head`) wants nothing more:
/// that error is dropped rather than panicking as print! would; any other (a full disk) is
/// kept for [`stdout_failed`], and nothing more is written after it.
pub fn emit(text: &str) {
    let Ok(mut failed) = STDOUT_ERROR.lock() else {
        return;
    };
    if failed.is_some() {
        return;
    }
    match emit_checked(text) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => *failed = Some(e.to_string()),
        _ => {}
    }
}

/// Why output [`emit`] wrote was lost, if it was: the command then exits 2, as the ones
/// whose whole answer goes out at once do.
pub fn stdout_failed() -> Option<String> {
    STDOUT_ERROR.lock().ok().and_then(|e| e.clone())
}

/// Write to standard output and say whether it took (a full disk, a closed pipe): for the
/// commands whose output is their answer.
pub fn emit_checked(text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()
}

/// [`emit_checked`], and the exit status it leaves: `ok` when written or when the reader
/// went away (`| head`: it has what it wanted), else 2 with why (a full disk).
pub fn emit_or_fail(
    command: &str,
    text: &str,
    ok: std::process::ExitCode,
) -> std::process::ExitCode {
    match emit_checked(text) {
        Ok(()) => ok,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ok,
        Err(e) => {
            warn(&format!("hotplug-lab {command}: standard output: {e}"));
            std::process::ExitCode::from(2)
        }
    }
}

/// Write a line to standard error, dropping a write error (a closed stderr) rather than
/// panicking as eprintln! would: every diagnostic of the binary goes through here.
pub fn warn(text: &str) {
    use std::io::Write;
    let mut e = std::io::stderr().lock();
    let _ = e.write_all(text.as_bytes());
    let _ = e.write_all(b"\n");
}

/// Read a script or an iomem file ("-" is standard input): at most `limits.max_input`
/// bytes of UTF-8, within `limits.max_time` (a FIFO nobody writes to, a slow pipe).
pub fn read_input(path: &str, limits: &Limits) -> Result<String, String> {
    let (p, max) = (path.to_string(), limits.max_input);
    let (tx, rx) = std::sync::mpsc::channel();
    // A reader blocked for good stays behind; the process ends without it.
    std::thread::Builder::new()
        .name("hotplug-lab-input".into())
        .spawn(move || {
            let _ = tx.send(read_whole(&p, max));
        })
        .map_err(|e| format!("{path}: {e}"))?;
    let name = if path == "-" { "standard input" } else { path };
    rx.recv_timeout(limits.max_time).unwrap_or_else(|_| {
        Err(format!(
            "{name}: reading it took longer than {} s (--max-time); a FIFO nobody writes to?",
            limits.max_time.as_secs_f64()
        ))
    })
}

fn read_whole(path: &str, max: u64) -> Result<String, String> {
    use std::io::Read;
    let mut buf = Vec::new();
    let got = if path == "-" {
        std::io::stdin().lock().take(max + 1).read_to_end(&mut buf)
    } else {
        std::fs::File::open(path).and_then(|f| f.take(max + 1).read_to_end(&mut buf))
    };
    let name = if path == "-" { "standard input" } else { path };
    got.map_err(|e| format!("{name}: {e}"))?;
    if buf.len() as u64 > max {
        return Err(format!(
            "{name}: file too large: more than {} (--max-input-size raises the limit)",
            crate::script::sandbox::bytes(max)
        ));
    }
    String::from_utf8(buf).map_err(|e| {
        format!(
            "{name}: not UTF-8 text (invalid byte at offset {})",
            e.utf8_error().valid_up_to()
        )
    })
}

/// The options of `run`.
#[derive(Clone)]
pub struct RunOptions {
    pub arch: String,
    pub cmdline: String,
    pub iomem: String,
    pub export_root: Option<PathBuf>,
    /// Where under it this run's exports go (the arch's name with several).
    pub export_prefix: PathBuf,
    /// Print lines as the script prints them.
    pub live: bool,
    pub limits: Limits,
    /// When the run's time is up (None: the whole time limit from now).
    pub deadline: Option<Instant>,
    /// `--strict`: a malformed kernel parameter fails the boot.
    pub strict: bool,
    /// `--kernel`: the version boot() models (empty: the default).
    pub kernel: String,
    /// `--host` / `--sysroot`: the system boot() models.
    pub capture: Option<std::sync::Arc<crate::host::Capture>>,
    /// Files the run's exports have written so far (all architectures together).
    pub exported: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl RunOptions {
    pub fn new(arch: &str) -> RunOptions {
        RunOptions {
            arch: arch.to_string(),
            cmdline: String::new(),
            iomem: String::new(),
            export_root: None,
            export_prefix: PathBuf::new(),
            live: false,
            limits: Limits::default(),
            deadline: None,
            strict: false,
            kernel: String::new(),
            capture: None,
            exported: Default::default(),
        }
    }
}

/// Run `source` on one architecture, on a thread of its own with the sandbox's stack.
pub fn run_arch(source: &str, o: &RunOptions) -> ArchRun {
    let (src, opts) = (source.to_string(), o.clone());
    crate::script::sandbox::on_script_thread(move || run_here(&src, &opts)).unwrap_or_else(|e| {
        ArchRun {
            arch: o.arch.clone(),
            result: Err(RunError {
                line: None,
                column: None,
                message: format!("internal error: {e}"),
                error: None,
            }),
            output: Vec::new(),
            machine: None,
            warnings: Vec::new(),
            used: 0,
        }
    })
}

fn run_here(source: &str, o: &RunOptions) -> ArchRun {
    let mut host = Host::new(&o.arch, &o.cmdline, &o.iomem);
    host.export_root = o.export_root.clone();
    host.export_prefix = o.export_prefix.clone();
    host.limits = o.limits;
    host.strict = o.strict;
    host.kernel = o.kernel.clone();
    host.capture = o.capture.clone();
    host.exported = o.exported.clone();
    if o.live {
        host.on_line = Some(Rc::new(|l: &str| emit(&format!("{l}\n"))));
        host.keep_output = false;
    }
    let mut session = Session::new(host);
    let deadline = o
        .deadline
        .unwrap_or_else(|| Instant::now() + o.limits.max_time);
    let result = match session.eval_until(source, deadline) {
        Ok(v) => Ok(to_json(&v)),
        Err(Failure::Script(e)) => Err(RunError::of(&e)),
        Err(Failure::Panic(what)) => Err(RunError {
            line: None,
            column: None,
            message: Failure::panic_message(&what),
            error: None,
        }),
    };
    let host = &session.host;
    let output = host.output.borrow().clone();
    let machine = host.last.borrow().as_ref().map(|vm| vm.0.borrow().clone());
    ArchRun {
        arch: o.arch.clone(),
        result,
        output,
        machine,
        warnings: host.take_warnings(),
        used: host.used.get(),
    }
}

/// The architectures `--arch` names: a name (or a `uname -m` alias, in any case), a
/// comma-separated list, "all" (arch::ALL) or "every" (arch::NAMES), by canonical name,
/// each once.
pub fn arch_list(arg: &str) -> Result<Vec<String>, String> {
    let mut v: Vec<String> = Vec::new();
    for a in arg.split(',').map(str::trim).filter(|a| !a.is_empty()) {
        let names: Vec<&str> = match a.to_ascii_lowercase().as_str() {
            "all" => arch::ALL.to_vec(),
            "every" => arch::NAMES.to_vec(),
            _ => vec![arch::canonical(a).map_err(|e| e.to_string())?],
        };
        for n in names {
            if !v.iter().any(|x| x == n) {
                v.push(n.to_string());
            }
        }
    }
    if v.is_empty() {
        return Err("--arch names no architecture".to_string());
    }
    Ok(v)
}

/// The warnings of a run, once each: what its boots said, and the flags given that no boot
/// took.
pub fn run_warnings(runs: &[ArchRun], arch_given: bool, cmdline: &str, iomem: bool) -> Vec<String> {
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
    out
}

/// `run` as a command: returns the process exit code.
#[allow(clippy::too_many_arguments)]
pub fn command(
    script: &str,
    arch_arg: Option<&str>,
    cmdline: &str,
    iomem: Option<&Path>,
    json: bool,
    sysfs_out: Option<&Path>,
    limits: Limits,
    strict: bool,
    kernel: &str,
    capture: Option<std::sync::Arc<crate::host::Capture>>,
) -> ExitCode {
    let deadline = Instant::now() + limits.max_time;
    let archs = match arch_list(arch_arg.unwrap_or("x86_64")) {
        Ok(a) => a,
        Err(e) => {
            warn(&format!("hotplug-lab run: {e}"));
            return ExitCode::from(2);
        }
    };
    let name = if script == "-" { "<stdin>" } else { script }.to_string();
    let source = match read_input(script, &limits) {
        Ok(s) => s,
        Err(e) => {
            warn(&format!("hotplug-lab run: {e}"));
            return ExitCode::from(2);
        }
    };
    if script == "-" && iomem.is_some_and(|p| p == Path::new("-")) {
        warn("hotplug-lab run: the script and --iomem cannot both be read from standard input (\"-\"): give one of them as a file");
        return ExitCode::from(2);
    }
    let iomem_text = match iomem {
        Some(p) => match read_input(&p.to_string_lossy(), &limits) {
            Ok(t) => t,
            Err(e) => {
                warn(&format!("hotplug-lab run: --iomem {e}"));
                return ExitCode::from(2);
            }
        },
        None => String::new(),
    };
    let several = archs.len() > 1;
    let mut runs = Vec::new();
    // What every architecture's exports write counts against one --max-export-files.
    let exported = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    for a in &archs {
        let o = RunOptions {
            arch: a.clone(),
            cmdline: cmdline.to_string(),
            iomem: iomem_text.clone(),
            export_root: sysfs_out.map(Path::to_path_buf),
            export_prefix: if several { a.into() } else { PathBuf::new() },
            live: !json && !several,
            limits,
            deadline: Some(deadline),
            strict,
            kernel: kernel.to_string(),
            capture: capture.clone(),
            exported: exported.clone(),
        };
        runs.push(run_arch(&source, &o));
    }
    for w in run_warnings(&runs, arch_arg.is_some(), cmdline, iomem.is_some()) {
        warn(&format!("hotplug-lab run: warning: {w}"));
    }
    let mut failed = false;
    for r in &runs {
        if let Some(l) = r.error_line(&name) {
            failed = true;
            if several {
                warn(&format!("{}: {l}", r.arch));
            } else {
                warn(&l);
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
    let mut code = u8::from(failed);
    match sysfs_out {
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
                let sub = if several { r.arch.as_str() } else { "" };
                let written = crate::script::sandbox::count_export(
                    &exported,
                    &limits,
                    m,
                    "the machine the script booted last",
                )
                .map_err(|stop| stop.to_string())
                .and_then(|()| {
                    m.export_sysfs_in(dir, Path::new(sub))
                        .map_err(|e| e.to_string())
                });
                if let Err(e) = written {
                    warn(&format!(
                        "hotplug-lab run: --sysfs-out {}: {e}",
                        dir.join(sub).display()
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

fn json_of(r: &ArchRun) -> serde_json::Value {
    let mut o = serde_json::Map::new();
    o.insert("arch".into(), r.arch.clone().into());
    if let Some(m) = r.machine.as_ref() {
        o.insert("kernel".into(), m.kernel().name.into());
    }
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
/// runs' last machines, as a table.
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
    for (i, r) in runs.iter().enumerate() {
        let _ = writeln!(out, "{}== {} ==", if i == 0 { "" } else { "\n" }, r.arch);
        for l in &r.output {
            let _ = writeln!(out, "{l}");
        }
        if let Some(l) = r.error_line(name) {
            let _ = writeln!(out, "error: {l}");
        }
    }
    // The machines booted last may model another kernel than the flag's: say which.
    let mut kernels: Vec<&str> = runs
        .iter()
        .filter_map(|r| r.machine.as_ref().map(|m| m.kernel().name))
        .collect();
    kernels.dedup();
    let linux = match kernels.as_slice() {
        [k] => format!(", Linux {k}"),
        _ => String::new(),
    };
    let _ = writeln!(
        out,
        "\n== {name}: the stats that differ between the architectures (machine booted last{linux}) =="
    );
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
    out
}
