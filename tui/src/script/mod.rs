//! The Rhai scripting API (the contract of DESIGN.md): the engine, its sandbox, and the
//! conversions between the model and script values.

mod api;
pub mod complete;
pub mod config;
pub mod help;
pub mod hints;
pub mod lex;
pub mod options;
mod pictures;
pub mod run;
pub mod sandbox;
pub mod session;
pub mod show;

pub use config::BootConfig;
pub use sandbox::{Budget, Limits, Stop};
pub use session::{Failure, Session};

use mm::{Machine, MmError};
use rhai::{Dynamic, Engine, EvalAltResult, ImmutableString, Position};
use std::cell::RefCell;
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

/// A machine as scripts hold it: assignment shares it, `m.clone()` copies it.
#[derive(Clone)]
pub struct Vm(pub Rc<RefCell<Machine>>);

impl Vm {
    pub fn new(m: Machine) -> Vm {
        Vm(Rc::new(RefCell::new(m)))
    }
}

/// An error as scripts catch it: `e.errno`, `e.code`, `e.message`; prints as
/// `EINVAL: message`.
#[derive(Debug, Clone, PartialEq)]
pub struct ScriptError {
    pub errno: String,
    pub code: i64,
    pub message: String,
}

impl std::fmt::Display for ScriptError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.errno, self.message)
    }
}

impl From<&MmError> for ScriptError {
    fn from(e: &MmError) -> Self {
        ScriptError {
            errno: e.errno().name().to_string(),
            code: e.errno().code(),
            // A value the user gave, quoted back whole, could be megabytes.
            message: mm::error::clip_words(e.reason()),
        }
    }
}

/// Throw a model error into the script. A call the sandbox's watchdog stopped (--max-time,
/// Ctrl-C) ends the script: `try` cannot catch it, as it cannot catch the sandbox's other
/// stops.
pub fn throw(e: MmError) -> Box<EvalAltResult> {
    let err = Dynamic::from(ScriptError::from(&e));
    Box::new(if e.is_stopped() {
        EvalAltResult::ErrorTerminated(err, Position::NONE)
    } else {
        EvalAltResult::ErrorRuntime(err, Position::NONE)
    })
}

/// Throw an EINVAL with a reason.
pub fn einval(msg: impl Into<String>) -> Box<EvalAltResult> {
    throw(MmError::Invalid(msg.into()))
}

/// Bits of [`Host::used`]: which of the runner's flags a boot took.
pub const USED_ARCH: u8 = 1;
pub const USED_CMDLINE: u8 = 2;
pub const USED_IOMEM: u8 = 4;
pub const USED_RAM: u8 = 8;

/// Where printed lines go as they are printed.
pub type LineSink = Rc<dyn Fn(&str)>;

/// Told of every call about to change a machine: where in the script, which call, and the
/// machine as it is before the call (none for a boot); the UI's script player pauses there.
pub type ChangeHook = Rc<dyn Fn(Position, &str, Option<&Vm>)>;

/// What the runner or the REPL gives a script: the boot configuration, where printed
/// lines go, the last machine booted, where export_sysfs may write, and the cancel switch.
#[derive(Clone)]
pub struct Host {
    /// What boot() boots unless the script says otherwise (ARCH, KERNEL, CMDLINE, IOMEM).
    pub boot: BootConfig,
    /// Lines the script printed (kept when `keep_output` is set).
    pub output: Rc<RefCell<Vec<String>>>,
    /// Keep printed lines in `output` (for --json, --arch all, the UI); a live run or the
    /// REPL writes them out and keeps nothing.
    pub keep_output: bool,
    /// Called for each printed line as it is printed (live output).
    pub on_line: Option<LineSink>,
    /// The machine booted last.
    pub last: Rc<RefCell<Option<Vm>>>,
    /// How many machines the script has booted.
    pub boots: Rc<std::cell::Cell<u32>>,
    /// The only directory export_sysfs may write under.
    pub export_root: Option<PathBuf>,
    /// The only directory save() may write under (--svg-out).
    pub svg_root: Option<PathBuf>,
    /// save() without --svg-out has said so.
    pub svg_warned: Rc<std::cell::Cell<bool>>,
    /// What save() wrote: (name, text), for the report.
    pub saved: Rc<RefCell<Vec<(String, String)>>>,
    /// Where under it (the arch's name when a run has several).
    pub export_prefix: PathBuf,
    /// Set to stop the running script (the TUI's Ctrl-C).
    pub cancel: Arc<AtomicBool>,
    /// The sandbox's limits; [`Host::engine`] puts them on the engine it makes.
    pub limits: Limits,
    /// The budget of the session the last [`Host::engine`] started.
    pub budget: Rc<Budget>,
    /// Which flags a boot took (USED_*).
    pub used: Rc<std::cell::Cell<u8>>,
    /// What the user should hear on stderr (or the TUI's status line): unknown kernel
    /// parameters, flags no boot used.
    pub warnings: Rc<RefCell<Vec<String>>>,
    /// Called before every call that changes a machine, while set.
    pub on_change: Rc<RefCell<Option<ChangeHook>>>,
    /// What stops a model call part way (the run's deadline, the cancel switch): every
    /// machine a boot makes here watches it.
    pub watchdog: mm::Watchdog,
    /// Files the exports of this run (or REPL session) have written, against
    /// --max-export-files.
    pub exported: Arc<std::sync::atomic::AtomicU64>,
}

impl Host {
    pub fn new(boot: BootConfig) -> Host {
        let cancel = Arc::new(AtomicBool::new(false));
        Host {
            boot,
            output: Rc::new(RefCell::new(Vec::new())),
            keep_output: true,
            on_line: None,
            last: Rc::new(RefCell::new(None)),
            boots: Rc::default(),
            export_root: None,
            svg_root: None,
            svg_warned: Rc::default(),
            saved: Rc::default(),
            export_prefix: PathBuf::new(),
            cancel: cancel.clone(),
            limits: Limits::default(),
            budget: Rc::new(Budget::new(Limits::default(), cancel)),
            used: Rc::new(std::cell::Cell::new(0)),
            warnings: Rc::new(RefCell::new(Vec::new())),
            on_change: Rc::new(RefCell::new(None)),
            watchdog: mm::Watchdog::default(),
            exported: Default::default(),
        }
    }

    /// A call at `ctx` is about to change `vm` (or boot a machine).
    pub fn about_to(&self, ctx: &rhai::NativeCallContext, what: &str, vm: Option<&Vm>) {
        let hook = self.on_change.borrow().clone();
        if let Some(f) = hook {
            f(ctx.call_position(), what, vm);
        }
    }

    /// Say something to the user once (repeated boots repeat no warning).
    pub fn warn(&self, text: String) {
        let mut w = self.warnings.borrow_mut();
        if !w.contains(&text) {
            w.push(text);
        }
    }

    /// A script's own warn(): kept as the host's are, the first 100 different ones (a loop
    /// of them is not held in memory), each cut to a line of 300 characters.
    pub fn script_warning(&self, text: &str) {
        const KEPT: usize = 100;
        let mut w = self.warnings.borrow_mut();
        if w.len() >= KEPT {
            return;
        }
        let mut t: String = text.chars().take(300).collect();
        if t.len() < text.len() {
            t.push('…');
        }
        if w.len() + 1 == KEPT {
            t = format!("{t} (and no more of the script's warnings)");
        }
        if !w.contains(&t) {
            w.push(t);
        }
    }

    /// The warnings not taken yet.
    pub fn take_warnings(&self) -> Vec<String> {
        std::mem::take(&mut *self.warnings.borrow_mut())
    }

    /// Start one evaluation (a REPL line, a TUI step): it has the whole time budget from
    /// now, and a fresh cancel switch.
    pub fn start(&self) {
        self.start_until(Instant::now() + self.limits.max_time);
    }

    /// Start an evaluation that must end by `deadline` (a run's budget, shared by every
    /// architecture of `--arch all`).
    pub fn start_until(&self, deadline: Instant) {
        self.budget.begin(deadline);
        self.watchdog
            .set_deadline(deadline, Stop::Time(self.limits.max_time).to_string());
        self.cancel.store(false, Ordering::Relaxed);
    }

    /// A Rhai engine for this host, starting its session's budget: the sandbox, print
    /// captured, the API registered.
    pub fn engine(&mut self) -> Engine {
        let mut e = Engine::new();
        self.budget = Rc::new(Budget::new(self.limits, self.cancel.clone()));
        self.watchdog = mm::Watchdog::new(self.cancel.clone(), Stop::Interrupted.to_string());
        sandbox::install(&mut e, &self.budget);
        e.set_fail_on_invalid_map_property(true);
        let out = self.output.clone();
        let live = self.on_line.clone();
        let keep = self.keep_output;
        let budget = self.budget.clone();
        let print = move |s: &str| {
            for line in s.split('\n') {
                if let Some(f) = &live {
                    f(line);
                }
                if keep {
                    // What is kept counts against the sandbox (--json holds all of it).
                    budget.kept_output(line.len() as u64 + 1);
                    out.borrow_mut().push(line.to_string());
                }
            }
        };
        let print = Rc::new(print);
        let p2 = print.clone();
        e.on_print(move |s| p2(s));
        e.on_debug(move |s, _, pos| print(&format!("[debug {pos}] {s}")));
        api::register(&mut e, self);
        e
    }

    /// The globals every script sees.
    pub fn scope(&self) -> rhai::Scope<'static> {
        let mut s = rhai::Scope::new();
        s.push_constant("KiB", 1i64 << 10);
        s.push_constant("MiB", 1i64 << 20);
        s.push_constant("GiB", 1i64 << 30);
        s.push_constant("TiB", 1i64 << 40);
        let b = &self.boot;
        s.push_constant("ARCH", ImmutableString::from(b.target.name()));
        s.push_constant("KERNEL", ImmutableString::from(b.target.kernel.name));
        s.push_constant("CMDLINE", ImmutableString::from(b.cmdline.as_str()));
        s.push_constant(
            "IOMEM",
            b.iomem
                .as_deref()
                .map_or_else(ImmutableString::new, ImmutableString::from),
        );
        s.push_constant("RAM", b.ram.map_or(0, |r| r as i64));
        s.push_constant(
            "HOST",
            ImmutableString::from(b.capture.as_ref().map_or(String::new(), |c| c.source())),
        );
        s
    }
}

/// Evaluate a compiled script in `scope`, then hold what it left (its variables and its
/// value) to the sandbox's size limits: the limits are measured now and then while it runs,
/// and once more at the end.
pub fn eval_checked(
    engine: &Engine,
    budget: &Budget,
    scope: &mut rhai::Scope<'static>,
    ast: &rhai::AST,
) -> Result<Dynamic, Box<EvalAltResult>> {
    let v = engine.eval_ast_with_scope::<Dynamic>(scope, ast)?;
    // The clock is read every so many operations: a run that ended past its time (in a
    // model call, or in fewer operations than that) is stopped here all the same.
    budget
        .check_end()
        .and_then(|_| budget.measure(scope, None))
        .and_then(|_| budget.measure_value(&v))
        .map_err(Stop::into_rhai)?;
    Ok(v)
}

/// A script error's message: the model's `EINVAL: reason`, or what the sandbox or Rhai said.
pub fn message(err: &EvalAltResult) -> String {
    script_error(err).to_string()
}

/// What a Rhai error says, without errno: the sandbox's and Rhai's own words, with hints;
/// a name or token of the script that Rhai repeats is cut short (a 20 MB identifier was
/// echoed whole).
fn reason(err: &EvalAltResult) -> String {
    match err {
        EvalAltResult::ErrorRuntime(..) | EvalAltResult::ErrorTerminated(..) => rhai_reason(err),
        _ => mm::error::clip_words(&rhai_reason(err)),
    }
}

fn rhai_reason(err: &EvalAltResult) -> String {
    match err {
        EvalAltResult::ErrorRuntime(d, _) => format!("{d}"),
        EvalAltResult::ErrorTerminated(d, _) => format!("script stopped: {d}"),
        EvalAltResult::ErrorTooManyOperations(_) => {
            "too many operations: the script ran past the sandbox's operation limit (an endless \
             loop? --max-operations raises it)"
                .to_string()
        }
        EvalAltResult::ErrorStackOverflow(_) => {
            "stack overflow: function calls nested deeper than the sandbox allows (endless \
             recursion? --max-call-depth raises it)"
                .to_string()
        }
        EvalAltResult::ErrorDataTooLarge(what, _) => format!("{what} too large for the sandbox"),
        e if is_eval(e) => "eval() is not available in the sandbox: it parses text while the \
                            script runs, past --max-names and --max-input-size, and nests \
                            without a bound; write the code into the script itself"
            .to_string(),
        EvalAltResult::ErrorFunctionNotFound(sig, _) => hints::function_not_found(sig),
        EvalAltResult::ErrorVariableNotFound(name, _) => hints::variable_not_found(name),
        EvalAltResult::ErrorPropertyNotFound(name, _) => hints::property_not_found(name, false),
        EvalAltResult::ErrorDotExpr(s, _) if s.starts_with("Unknown property '") => {
            let name = s["Unknown property '".len()..]
                .split('\'')
                .next()
                .unwrap_or("");
            hints::property_not_found(name, s.ends_with("type 'Machine'"))
        }
        other => {
            // Rhai appends " (line L, position P)"; the caller says where.
            let s = other.to_string();
            match s.rfind(" (line ") {
                Some(i) if s.ends_with(')') => s[..i].to_string(),
                _ => s,
            }
        }
    }
}

/// A script error with its line and column, as the REPL and the TUI show it.
pub fn describe(err: &EvalAltResult) -> String {
    let pos = err.position();
    match (pos.line(), pos.position()) {
        (Some(l), Some(c)) => format!("line {l}, column {c}: {}", message(err)),
        (Some(l), None) => format!("line {l}: {}", message(err)),
        _ => message(err),
    }
}

/// Every error as scripts and JSON readers see it, with an errno: the model's and the
/// sandbox's own; E2BIG for the limits Rhai holds itself (operations, call depth); EINVAL
/// for Rhai's (syntax, types, names).
pub fn script_error(err: &EvalAltResult) -> ScriptError {
    match err {
        EvalAltResult::ErrorRuntime(d, _) | EvalAltResult::ErrorTerminated(d, _) => {
            if let Some(e) = d.clone().try_cast::<ScriptError>() {
                return e;
            }
        }
        EvalAltResult::ErrorInFunctionCall(name, _, inner, _) => {
            let e = script_error(inner);
            // Rhai names a closure `anon$` and a hash.
            let message = if name.starts_with("anon$") {
                format!("in a closure: {}", e.message)
            } else {
                format!("in function {name}: {}", e.message)
            };
            return ScriptError { message, ..e };
        }
        _ => {}
    }
    let (errno, code) = match err {
        e if is_eval(e) => ("EPERM", -1),
        EvalAltResult::ErrorTooManyOperations(_)
        | EvalAltResult::ErrorStackOverflow(_)
        | EvalAltResult::ErrorDataTooLarge(..) => ("E2BIG", -7),
        _ => ("EINVAL", -22),
    };
    ScriptError {
        errno: errno.to_string(),
        code,
        message: reason(err),
    }
}

/// Whether the error is the parser's refusal of `eval`, which the sandbox disables.
fn is_eval(err: &EvalAltResult) -> bool {
    matches!(
        err,
        EvalAltResult::ErrorParsing(
            rhai::ParseErrorType::BadInput(rhai::LexError::ImproperSymbol(sym, _)),
            _
        ) if sym == "eval"
    )
}

/// How deep [`to_json`] follows nested values: far past the sandbox's nesting limit (a
/// script's last value may be a few levels deeper than what it kept in variables), and far
/// from the end of the stack. Deeper values become a string saying so.
const JSON_DEPTH: usize = 512;

/// Turn a script value into JSON (maps become objects).
pub fn to_json(d: &Dynamic) -> serde_json::Value {
    json_at(d, 0)
}

fn json_at(d: &Dynamic, depth: usize) -> serde_json::Value {
    use serde_json::Value;
    if depth > JSON_DEPTH {
        return Value::String(format!("(nested deeper than {JSON_DEPTH})"));
    }
    let to_json = |v: &Dynamic| json_at(v, depth + 1);
    if d.is_unit() {
        return Value::Null;
    }
    if let Ok(b) = d.as_bool() {
        return Value::Bool(b);
    }
    if let Ok(i) = d.as_int() {
        return Value::from(i);
    }
    if let Ok(f) = d.as_float() {
        return serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number);
    }
    if d.is_string() {
        return Value::String(d.clone().into_string().unwrap_or_default());
    }
    if let Some(a) = d.read_lock::<rhai::Array>() {
        return Value::Array(a.iter().map(to_json).collect());
    }
    if let Some(m) = d.read_lock::<rhai::Map>() {
        return Value::Object(m.iter().map(|(k, v)| (k.to_string(), to_json(v))).collect());
    }
    if let Some(e) = d.read_lock::<ScriptError>() {
        return serde_json::json!({ "errno": e.errno, "code": e.code, "message": e.message });
    }
    if let Some(vm) = d.read_lock::<Vm>() {
        return Value::String(format!("Machine({})", vm.0.borrow().target().name()));
    }
    // A run of memory blocks (an add's `blocks`), as lsmem writes one: "32-39".
    if let Some(r) = d.read_lock::<api::BlockRun>() {
        return Value::String(r.to_string());
    }
    if let Some(r) = d.read_lock::<std::ops::Range<i64>>() {
        return Value::String(format!("{}..{}", r.start, r.end));
    }
    Value::String(d.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every function scripts can call is documented in help(), and help() documents nothing
    /// that does not exist.
    #[test]
    fn help_covers_the_api() {
        let mut host = Host::new(BootConfig::default());
        let engine = host.engine();
        let mut names: Vec<String> = engine
            .gen_fn_signatures(false)
            .into_iter()
            .filter_map(|s| s.split('(').next().map(|n| n.trim().to_string()))
            .filter(|n| {
                !n.starts_with("get$")
                    && !n.starts_with("index$")
                    && n != "to_string"
                    && n != "to_debug"
                    && n != "to_map"
                    && !sandbox::GUARDED.contains(&n.as_str())
            })
            .collect();
        names.sort();
        names.dedup();
        for n in &names {
            assert!(help::one(n).is_some(), "{n} has no help entry");
        }
        for d in help::DOCS {
            for n in d.name.split(' ') {
                let is_global = [
                    "KiB", "MiB", "GiB", "TiB", "ARCH", "CMDLINE", "IOMEM", "KERNEL", "RAM",
                    "HOST", "arch",
                ]
                .contains(&n);
                assert!(
                    is_global || names.iter().any(|x| x == n),
                    "help documents {n}, which is not registered"
                );
            }
        }
        assert!(help::list().contains("add_memory"));
        assert!(help::one("add_memory").unwrap().contains("Example:"));
    }
}
