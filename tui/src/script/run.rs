//! A script run headless on one target, as `hotplug-lab run`, the tests and the benches
//! run one: on a thread of its own with the sandbox's stack, ending with its value or its
//! error, what it printed, and the machine it booted last.

use super::{script_error, to_json, BootConfig, Failure, Host, Limits, ScriptError, Session};
use mm::Machine;
use rhai::EvalAltResult;
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
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

/// What running a script on one target gave.
pub struct TargetRun {
    /// What it ran on.
    pub target: arch::Target,
    /// The script's last value as JSON, or the error that ended it.
    pub result: Result<serde_json::Value, RunError>,
    /// Lines the script printed.
    pub output: Vec<String>,
    /// The machine the script booted last.
    pub machine: Option<Machine>,
    /// The pictures save() wrote: (name, SVG text).
    pub saved: Vec<(String, String)>,
    /// How many machines it booted.
    pub boots: u32,
    /// What the user should hear about the run (unknown kernel parameters, ...).
    pub warnings: Vec<String>,
    /// Which of the flags a boot took (script::USED_*).
    pub used: u8,
}

impl TargetRun {
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

/// How to run a script on one target.
#[derive(Clone)]
pub struct RunOptions {
    /// What boot() boots unless the script says otherwise.
    pub boot: BootConfig,
    /// The only directory export_sysfs may write under.
    pub export_root: Option<PathBuf>,
    /// The only directory save() may write under (--svg-out).
    pub svg_root: Option<PathBuf>,
    /// Where under it this run's exports go (DIR/<arch> with several targets).
    pub export_prefix: PathBuf,
    /// Write lines to standard output as the script prints them (else keep them).
    pub live: bool,
    /// Keep the lines too when they go out live (for --report).
    pub keep_live: bool,
    pub limits: Limits,
    /// When the run's time is up (None: the whole time limit from now).
    pub deadline: Option<Instant>,
    /// Files the run's exports have written so far (every target together).
    pub exported: Arc<AtomicU64>,
}

impl RunOptions {
    pub fn new(boot: BootConfig) -> RunOptions {
        RunOptions {
            boot,
            export_root: None,
            svg_root: None,
            export_prefix: PathBuf::new(),
            live: false,
            keep_live: false,
            limits: Limits::default(),
            deadline: None,
            exported: Arc::default(),
        }
    }
}

/// Run `source` on one target, on a thread of its own with the sandbox's stack.
pub fn run_target(source: &str, o: &RunOptions) -> TargetRun {
    let target = o.boot.target;
    let (src, opts) = (source.to_string(), o.clone());
    super::sandbox::on_script_thread(move || run_here(&src, &opts)).unwrap_or_else(|e| TargetRun {
        target,
        result: Err(RunError {
            line: None,
            column: None,
            message: format!("internal error: {e}"),
            error: None,
        }),
        output: Vec::new(),
        machine: None,
        saved: Vec::new(),
        boots: 0,
        warnings: Vec::new(),
        used: 0,
    })
}

fn run_here(source: &str, o: &RunOptions) -> TargetRun {
    let mut host = Host::new(o.boot.clone());
    host.export_root = o.export_root.clone();
    host.svg_root = o.svg_root.clone();
    host.export_prefix = o.export_prefix.clone();
    host.limits = o.limits;
    host.exported = o.exported.clone();
    if o.live {
        host.on_line = Some(Rc::new(|l: &str| crate::output::emit(&format!("{l}\n"))));
        host.keep_output = o.keep_live;
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
    let saved = host.saved.borrow().clone();
    TargetRun {
        target: o.boot.target,
        result,
        output,
        machine,
        saved,
        boots: host.boots.get(),
        warnings: host.take_warnings(),
        used: host.used.get(),
    }
}
