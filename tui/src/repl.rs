//! `hotplug-lab repl`: a line REPL on stdin/stdout with history and multi-line input, the
//! machine booted from the flags bound to `m`.

use crate::runner::warn;
use crate::script::{describe, Host, Limits, Vm};
use rhai::{Dynamic, Engine, ParseErrorType, Scope};
use rustyline::error::ReadlineError;
use std::process::ExitCode;
use std::rc::Rc;

/// Whether `src` failed to parse only because it stops early (an open brace, a dangling
/// operator): the REPL then reads another line.
pub fn incomplete(engine: &Engine, scope: &Scope, src: &str) -> bool {
    match engine.compile_with_scope(scope, src) {
        Ok(_) => false,
        Err(e) => match e.err_type() {
            ParseErrorType::UnexpectedEOF => true,
            ParseErrorType::MissingToken(..) => {
                let lines = src.lines().count();
                e.position().is_none() || e.position().line().is_some_and(|l| l >= lines)
            }
            _ => false,
        },
    }
}

/// Evaluate one input; returns what to print.
pub fn eval(
    host: &Host,
    engine: &Engine,
    scope: &mut Scope<'static>,
    src: &str,
) -> Result<Option<String>, String> {
    host.start();
    let ast = engine
        .compile_with_scope(scope, src)
        .map_err(|e| describe(&e.into()))?;
    match crate::script::eval_checked(engine, &host.budget, scope, &ast) {
        Ok(v) if v.is_unit() => Ok(None),
        Ok(v) => Ok(Some(show_value(&v))),
        Err(e) => Err(describe(&e)),
    }
}

/// How the REPL shows a value: strings as they are, errors as `EINVAL: reason`, maps and
/// arrays as pretty JSON.
pub fn show_value(v: &Dynamic) -> String {
    if let Some(s) = v.read_lock::<rhai::ImmutableString>() {
        return s.to_string();
    }
    if let Some(e) = v.read_lock::<crate::script::ScriptError>() {
        return e.to_string();
    }
    if let Some(vm) = v.read_lock::<Vm>() {
        return format!("Machine({})", vm.0.borrow().arch().name());
    }
    if v.is::<rhai::Map>() || v.is::<rhai::Array>() {
        return serde_json::to_string_pretty(&crate::script::to_json(v)).unwrap_or_default();
    }
    v.to_string()
}

/// Boot the machine the flags describe and bind it to `m`.
pub fn bind_machine(engine: &Engine, scope: &mut Scope<'static>) -> Result<(), String> {
    let vm: Vm = engine
        .eval_with_scope(scope, "boot()")
        .map_err(|e| describe(&e))?;
    scope.push("m", vm);
    Ok(())
}

pub fn command(
    arch: &str,
    cmdline: &str,
    iomem: Option<&std::path::Path>,
    limits: Limits,
) -> ExitCode {
    let iomem_text = match iomem
        .map(|p| crate::runner::read_input(&p.to_string_lossy(), limits.max_input))
        .transpose()
    {
        Ok(t) => t.unwrap_or_default(),
        Err(e) => {
            warn(&format!("hotplug-lab repl: --iomem {e}"));
            return ExitCode::from(2);
        }
    };
    if let Err(e) = arch::lookup(arch) {
        warn(&format!("hotplug-lab repl: {e}"));
        return ExitCode::from(2);
    }
    let (arch, cmdline) = (arch.to_string(), cmdline.to_string());
    // Values deep enough to need it are dropped and printed on the script stack.
    crate::script::sandbox::on_script_thread(move || session(&arch, &cmdline, &iomem_text, limits))
        .unwrap_or_else(|e| {
            warn(&format!("hotplug-lab repl: {e}"));
            ExitCode::from(2)
        })
}

fn session(arch: &str, cmdline: &str, iomem_text: &str, limits: Limits) -> ExitCode {
    let mut host = Host::new(arch, cmdline, iomem_text);
    host.limits = limits;
    host.on_line = Some(Rc::new(|l: &str| crate::runner::emit(&format!("{l}\n"))));
    let engine = host.engine();
    let mut scope = host.scope();
    if let Err(e) = bind_machine(&engine, &mut scope) {
        warn(&format!("hotplug-lab repl: boot: {e}"));
        return ExitCode::from(2);
    }
    let mut rl = match rustyline::DefaultEditor::new() {
        Ok(r) => r,
        Err(e) => {
            warn(&format!("hotplug-lab repl: {e}"));
            return ExitCode::from(2);
        }
    };
    let history =
        std::env::var_os("HOME").map(|h| std::path::PathBuf::from(h).join(".hotplug_lab_history"));
    if let Some(h) = &history {
        let _ = rl.load_history(h);
    }
    crate::runner::emit(&format!(
        "hotplug-lab on {arch}: `m` is the machine; help() lists the API; Ctrl-D quits.\n"
    ));
    let mut buf = String::new();
    loop {
        let prompt = if buf.is_empty() {
            "hotplug-lab> "
        } else {
            "...> "
        };
        match rl.readline(prompt) {
            Ok(line) => {
                if buf.is_empty() && matches!(line.trim(), "exit" | "quit" | ":q" | ":quit") {
                    break;
                }
                buf.push_str(&line);
                buf.push('\n');
                if incomplete(&engine, &scope, &buf) {
                    continue;
                }
                let src = std::mem::take(&mut buf);
                let _ = rl.add_history_entry(src.trim_end());
                match eval(&host, &engine, &mut scope, &src) {
                    Ok(Some(out)) => crate::runner::emit(&format!("{out}\n")),
                    Ok(None) => {}
                    Err(e) => warn(&e),
                }
            }
            Err(ReadlineError::Interrupted) => {
                buf.clear();
            }
            Err(ReadlineError::Eof) => break,
            Err(e) => {
                warn(&format!("hotplug-lab repl: {e}"));
                return ExitCode::from(2);
            }
        }
    }
    if let Some(h) = &history {
        let _ = rl.save_history(h);
    }
    ExitCode::SUCCESS
}
