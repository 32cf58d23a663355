//! The Rhai scripting API (the contract of DESIGN.md): the engine, its sandbox, and the
//! conversions between the model and script values.

mod api;
pub mod help;

use mm::{Machine, MmError};
use rhai::{Dynamic, Engine, EvalAltResult, Position};
use std::cell::RefCell;
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The sandbox, in one place.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Rhai operations a script may run: an endless loop hits this in well under a second.
    pub max_operations: u64,
    /// Function call depth: deep recursion stops here, far from the native stack's end.
    pub max_call_levels: usize,
    /// Expression nesting in the script and inside functions.
    pub max_expr_depth: usize,
    pub max_fn_expr_depth: usize,
    /// Bytes in one string.
    pub max_string_size: usize,
    /// Elements in one array (a machine with more memory blocks than this lists them in
    /// pieces).
    pub max_array_size: usize,
    /// Entries in one map.
    pub max_map_size: usize,
    /// Variables in scope and script functions defined.
    pub max_variables: usize,
    pub max_functions: usize,
    /// Wall-clock time a script may run.
    pub max_time: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_operations: 5_000_000,
            max_call_levels: 48,
            max_expr_depth: 64,
            max_fn_expr_depth: 32,
            max_string_size: 4 << 20,
            max_array_size: 1 << 20,
            max_map_size: 1 << 16,
            max_variables: 1024,
            max_functions: 256,
            max_time: Duration::from_secs(60),
        }
    }
}

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
            message: e.reason().to_string(),
        }
    }
}

/// Throw a model error into the script.
pub fn throw(e: MmError) -> Box<EvalAltResult> {
    Box::new(EvalAltResult::ErrorRuntime(
        Dynamic::from(ScriptError::from(&e)),
        Position::NONE,
    ))
}

/// Throw an EINVAL with a reason.
pub fn einval(msg: impl Into<String>) -> Box<EvalAltResult> {
    throw(MmError::Invalid(msg.into()))
}

/// Where printed lines go as they are printed.
pub type LineSink = Rc<dyn Fn(&str)>;

/// What the runner or the REPL gives a script: the flags, where printed lines go, the last
/// machine booted, where export_sysfs may write, and the cancel switch.
#[derive(Clone)]
pub struct Host {
    pub arch: String,
    pub cmdline: String,
    pub iomem: String,
    /// Lines the script printed.
    pub output: Rc<RefCell<Vec<String>>>,
    /// Called for each printed line as it is printed (live output).
    pub on_line: Option<LineSink>,
    /// The machine booted last.
    pub last: Rc<RefCell<Option<Vm>>>,
    /// The only directory export_sysfs may write under.
    pub export_root: Option<PathBuf>,
    /// Set to stop the running script (the TUI's Ctrl-C).
    pub cancel: Arc<AtomicBool>,
    /// When the current evaluation started (for the time limit).
    pub started: Rc<std::cell::Cell<Instant>>,
    pub limits: Limits,
}

impl Host {
    pub fn new(arch: &str, cmdline: &str, iomem: &str) -> Host {
        Host {
            arch: arch.to_string(),
            cmdline: cmdline.to_string(),
            iomem: iomem.to_string(),
            output: Rc::new(RefCell::new(Vec::new())),
            on_line: None,
            last: Rc::new(RefCell::new(None)),
            export_root: None,
            cancel: Arc::new(AtomicBool::new(false)),
            started: Rc::new(std::cell::Cell::new(Instant::now())),
            limits: Limits::default(),
        }
    }

    /// Start the clock of the time limit and clear the cancel switch.
    pub fn start(&self) {
        self.started.set(Instant::now());
        self.cancel.store(false, Ordering::Relaxed);
    }

    /// A Rhai engine for this host: the sandbox limits, print captured, the API registered.
    pub fn engine(&self) -> Engine {
        let mut e = Engine::new();
        let l = self.limits;
        e.set_max_operations(l.max_operations)
            .set_max_call_levels(l.max_call_levels)
            .set_max_expr_depths(l.max_expr_depth, l.max_fn_expr_depth)
            .set_max_string_size(l.max_string_size)
            .set_max_array_size(l.max_array_size)
            .set_max_map_size(l.max_map_size)
            .set_max_variables(l.max_variables)
            .set_max_functions(l.max_functions)
            .set_max_modules(0)
            .set_module_resolver(rhai::module_resolvers::DummyModuleResolver::new())
            .set_fail_on_invalid_map_property(true);
        let out = self.output.clone();
        let live = self.on_line.clone();
        let print = move |s: &str| {
            for line in s.split('\n') {
                if let Some(f) = &live {
                    f(line);
                }
                out.borrow_mut().push(line.to_string());
            }
        };
        let print = Rc::new(print);
        let p2 = print.clone();
        e.on_print(move |s| p2(s));
        e.on_debug(move |s, _, pos| print(&format!("[debug {pos}] {s}")));
        let cancel = self.cancel.clone();
        let start = self.started.clone();
        let max_time = l.max_time;
        e.on_progress(move |ops| {
            if ops % 4096 != 0 {
                return None;
            }
            if cancel.load(Ordering::Relaxed) {
                return Some("interrupted".into());
            }
            if start.get().elapsed() > max_time {
                return Some(format!("ran longer than {} s", max_time.as_secs()).into());
            }
            None
        });
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
        s.push_constant("ARCH", self.arch.clone());
        s.push_constant("CMDLINE", self.cmdline.clone());
        s.push_constant("IOMEM", self.iomem.clone());
        s
    }
}

/// A script error's message: the model's `EINVAL: reason`, or what the sandbox or Rhai said.
pub fn message(err: &EvalAltResult) -> String {
    match err {
        EvalAltResult::ErrorRuntime(d, _) => match d.clone().try_cast::<ScriptError>() {
            Some(e) => e.to_string(),
            None => format!("{d}"),
        },
        EvalAltResult::ErrorTerminated(d, _) => format!("script stopped: {d}"),
        EvalAltResult::ErrorTooManyOperations(_) => {
            "too many operations: the script ran past the sandbox's operation limit (an endless loop?)".to_string()
        }
        EvalAltResult::ErrorStackOverflow(_) => {
            "stack overflow: function calls nested deeper than the sandbox allows (endless recursion?)".to_string()
        }
        EvalAltResult::ErrorDataTooLarge(what, _) => format!("{what} too large for the sandbox"),
        EvalAltResult::ErrorInFunctionCall(name, _, inner, _) => format!("in function {name}: {}", message(inner)),
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

/// The thrown model error inside a Rhai error, if that is what it is.
pub fn script_error(err: &EvalAltResult) -> Option<ScriptError> {
    match err {
        EvalAltResult::ErrorRuntime(d, _) => d.clone().try_cast::<ScriptError>(),
        EvalAltResult::ErrorInFunctionCall(_, _, inner, _) => script_error(inner),
        _ => None,
    }
}

/// Turn a script value into JSON (maps become objects).
pub fn to_json(d: &Dynamic) -> serde_json::Value {
    use serde_json::Value;
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
        return Value::String(format!("Machine({})", vm.0.borrow().arch().name()));
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
        let host = Host::new("x86_64", "", "");
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
                    "KiB", "MiB", "GiB", "TiB", "ARCH", "CMDLINE", "IOMEM", "arch",
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
