//! One scripting session, as the runner, the line REPL and the TUI's workers all hold it: a
//! [`Host`], the engine made for it and the scope its inputs share. Every input goes through
//! [`Session::eval`], which runs it under the sandbox's budget and turns a panic in the model
//! into an error instead of a dead session.

use super::{describe, Host};
use rhai::{Dynamic, Engine, EvalAltResult, ParseErrorType, Scope, AST};
use std::time::Instant;

/// Why an input did not give a value.
#[derive(Debug)]
pub enum Failure {
    /// The script's own error, the model's or the sandbox's.
    Script(Box<EvalAltResult>),
    /// hotplug-lab itself failed (a bug): what the panic said.
    Panic(String),
}

impl Failure {
    /// `line L, column C: message`, as the REPL and the TUI show it.
    pub fn describe(&self) -> String {
        match self {
            Failure::Script(e) => describe(e),
            Failure::Panic(what) => Failure::panic_message(what),
        }
    }

    /// The message of a panic, with what the user can do about it.
    pub fn panic_message(what: &str) -> String {
        format!(
            "internal error: hotplug-lab panicked: {what} (a bug in hotplug-lab: please report \
             it with the input that caused it; the machine may be left part way through that \
             call)"
        )
    }
}

/// A host, its engine and scope, and the functions of a loaded script.
pub struct Session {
    pub host: Host,
    pub engine: Engine,
    pub scope: Scope<'static>,
    /// The functions a loaded script defines, in reach of every later input.
    pub functions: Option<AST>,
}

impl Session {
    /// A session on `host`: its engine (sandbox, print capture, API) and the globals.
    pub fn new(mut host: Host) -> Session {
        let engine = host.engine();
        let scope = host.scope();
        Session {
            host,
            engine,
            scope,
            functions: None,
        }
    }

    /// Compile and run `src` in the session's scope with the whole time budget from now.
    pub fn eval(&mut self, src: &str) -> Result<Dynamic, Failure> {
        self.eval_until(src, Instant::now() + self.host.limits.max_time)
    }

    /// The same, ending by `deadline` (a run's budget, which every architecture of
    /// `--arch all` shares).
    pub fn eval_until(&mut self, src: &str, deadline: Instant) -> Result<Dynamic, Failure> {
        // The parser cannot be stopped once it runs: what it is given is bounded first.
        super::sandbox::check_names("the script", src, &self.host.limits)
            .map_err(|stop| Failure::Script(stop.into_rhai()))?;
        self.host.start_until(deadline);
        // A run whose time is up (the architectures before this one took it) starts nothing.
        if Instant::now() > deadline {
            let stop = super::Stop::Time(self.host.limits.max_time);
            return Err(Failure::Script(stop.into_rhai()));
        }
        let Session {
            host,
            engine,
            scope,
            functions,
        } = self;
        let run = std::panic::AssertUnwindSafe(|| {
            let ast = engine
                .compile_with_scope(scope, src)
                .map_err(|e| Box::new(EvalAltResult::from(e)))?;
            let ast = match functions.as_ref() {
                Some(f) => f.merge(&ast),
                None => ast,
            };
            super::eval_checked(engine, &host.budget, scope, &ast)
        });
        match std::panic::catch_unwind(run) {
            Ok(r) => r.map_err(Failure::Script),
            Err(p) => {
                let what = p
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                Err(Failure::Panic(what))
            }
        }
    }

    /// One input of a REPL (the line REPL's, the TUI's): as [`Session::eval`], but an input
    /// that fails (a throw, a sandbox limit, Ctrl-C) leaves the variables as they were
    /// before it. What model calls it completed stays: machines are shared, not copied, and
    /// each call is a whole operation. The copy kept for that is set aside from the
    /// sandbox's memory budget while the input runs.
    pub fn eval_input(&mut self, src: &str) -> Result<Dynamic, Failure> {
        let before = crate::heap::live();
        let saved = self.scope.clone();
        let copy = crate::heap::live().saturating_sub(before);
        self.host.budget.set_aside(copy as isize);
        let r = self.eval(src);
        if r.is_err() {
            self.scope = saved;
        } else {
            drop(saved);
        }
        self.host.budget.set_aside(-(copy as isize));
        r
    }

    /// Boot the machine the session's configuration describes and bind it to `m`, as the
    /// REPLs do before the first input.
    pub fn bind_machine(&mut self) -> Result<(), String> {
        let vm: super::Vm = self
            .eval("boot()")
            .map_err(|e| e.describe())?
            .try_cast()
            .ok_or_else(|| "boot() did not give a machine".to_string())?;
        self.scope.push("m", vm);
        Ok(())
    }

    /// One REPL input, as a REPL shows it: the value in one short line (none for unit),
    /// kept whole in `ans`; or the error.
    pub fn eval_shown(&mut self, src: &str) -> Result<Option<String>, String> {
        match self.eval_input(src) {
            Ok(v) if v.is_unit() => Ok(None),
            Ok(v) => {
                let text = if v.is_int() || v.is::<rhai::Map>() || v.is::<rhai::Array>() {
                    super::show::echo(src, &v)
                } else {
                    show_value(&v)
                };
                self.scope.set_value(super::show::ANS, v);
                Ok(Some(text))
            }
            Err(e) => Err(e.describe()),
        }
    }

    /// Load a script whose functions later inputs may call (what fails to compile, or is
    /// holding more than --max-names names, gives none).
    pub fn load_functions(&mut self, source: &str) {
        if super::sandbox::check_names("the script", source, &self.host.limits).is_err() {
            self.functions = None;
            return;
        }
        self.functions = self
            .engine
            .compile_with_scope(&self.scope, source)
            .ok()
            .map(|a| a.clone_functions_only());
    }
}

/// Whether `src` failed to parse only because it stops early (an open bracket, a dangling
/// operator, an unfinished string): more lines could complete it. An error inside the text
/// (a typo such as `1G)`) is reported at once.
pub fn incomplete(engine: &Engine, scope: &Scope, src: &str) -> bool {
    // An open bracket, string or comment needs more lines whatever else the text holds:
    // no need to parse it (a long block pasted line by line would be parsed once per line).
    if super::lex::scan(src).left_open() {
        return true;
    }
    let e = match engine.compile_with_scope(scope, src) {
        Ok(_) => return false,
        Err(e) => e,
    };
    match e.err_type() {
        ParseErrorType::UnexpectedEOF => true,
        ParseErrorType::MissingToken(..) | ParseErrorType::UnknownOperator(..) => {
            at_end(src, e.position())
        }
        // An unterminated string or comment is an error Rhai reports where it starts.
        ParseErrorType::BadInput(rhai::LexError::UnterminatedString) => true,
        _ => false,
    }
}

/// Whether `pos` is past the last character of `src` (where EOF is).
fn at_end(src: &str, pos: rhai::Position) -> bool {
    let (Some(line), col) = (pos.line(), pos.position()) else {
        return true;
    };
    let text = src.trim_end();
    let lines = text.lines().count().max(1);
    let last = text.lines().last().map_or(0, |l| l.chars().count());
    line > lines || (line == lines && col.is_none_or(|c| c > last))
}

/// How a REPL shows a value: strings as they are, errors as `EINVAL: reason`, maps and
/// arrays as pretty JSON.
pub fn show_value(v: &Dynamic) -> String {
    if let Some(s) = v.read_lock::<rhai::ImmutableString>() {
        return s.to_string();
    }
    if let Some(e) = v.read_lock::<super::ScriptError>() {
        return e.to_string();
    }
    if let Some(vm) = v.read_lock::<super::Vm>() {
        return format!("Machine({})", vm.0.borrow().target().name());
    }
    if v.is::<rhai::Map>() || v.is::<rhai::Array>() {
        return serde_json::to_string_pretty(&super::to_json(v)).unwrap_or_default();
    }
    v.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A panic inside a call is an error of that input; the session, its scope and its
    /// machine go on (the TUI worker used to stay on "running..." for good).
    #[test]
    fn a_panic_is_an_error_and_the_session_goes_on() {
        let mut s = Session::new(Host::new(crate::script::BootConfig::default()));
        s.engine
            .register_fn("boom", || -> i64 { panic!("boom at the test's request") });
        let _ = s.eval("let m = boot(); let n = 41;").unwrap();
        match s.eval("n + boom()") {
            Err(Failure::Panic(what)) => assert!(what.contains("boom at"), "{what}"),
            other => panic!("{other:?}"),
        }
        let msg = s.eval("boom()").unwrap_err().describe();
        assert!(
            msg.starts_with("internal error: hotplug-lab panicked: boom"),
            "{msg}"
        );
        assert_eq!(s.eval("n + 1").unwrap().as_int(), Ok(42));
        assert_eq!(s.eval("m.blocks().len() > 0").unwrap().as_bool(), Ok(true));
    }

    /// A script error stays the script's, with its position.
    #[test]
    fn script_errors_keep_their_position() {
        let mut s = Session::new(Host::new(crate::script::BootConfig::default()));
        let e = s.eval("let m = boot();\nm.add_memory(1, 2);").unwrap_err();
        assert!(matches!(e, Failure::Script(_)));
        assert!(
            e.describe().starts_with("line 2, column"),
            "{}",
            e.describe()
        );
    }
}
