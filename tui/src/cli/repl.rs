//! `hotplug-lab repl`: a line REPL on stdin/stdout with the machine booted from the flags
//! bound to `m`: line editing, history across sessions and completion of API names and
//! sysfs paths on a terminal (rustyline), plain lines from a pipe; multi-line input while the
//! parser says it is unfinished; Ctrl-C stops the statement running and keeps the session.

use crate::output::warn;
use crate::script::complete::complete;
use crate::script::session::incomplete;
use crate::script::{Host, Limits, Session, Vm};
use rhai::Scope;
use rustyline::completion::{Completer, Pair};
use rustyline::error::ReadlineError;
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::history::DefaultHistory;
use rustyline::validate::Validator;
use std::cell::RefCell;
use std::io::{BufRead, IsTerminal};
use std::process::ExitCode;
use std::rc::Rc;

#[derive(clap::Args, Debug)]
pub struct Args {
    #[arg(long, value_parser = super::one_arch, help = format!("The architecture of `m`: {} [default: the --host or --sysroot system's, else {}]", super::arch_help(false), arch::Config::default_config().name))]
    arch: Option<&'static arch::Config>,
    /// The kernel version `m` models (KERNEL in the REPL)
    #[arg(long, value_name = "VERSION", value_parser = super::one_kernel, help = format!("The kernel version `m` models (KERNEL in the REPL): {}", super::kernel_help()))]
    kernel: Option<&'static arch::Kernel>,
    #[command(flatten)]
    boot: super::BootArgs,
}

pub fn command(a: Args) -> ExitCode {
    let limits = a.boot.sandbox.limits();
    let mut boot = match a.boot.config("repl", &limits, a.kernel) {
        Ok(c) => c,
        Err(code) => return code,
    };
    boot.target = arch::Target::new(
        a.arch.unwrap_or(boot.target.config),
        a.kernel.unwrap_or(boot.target.kernel),
    );
    // Values deep enough to need it are dropped and printed on the script stack.
    crate::script::sandbox::on_script_thread(move || session(boot, limits)).unwrap_or_else(|e| {
        warn(&format!("hotplug-lab repl: {e}"));
        ExitCode::from(2)
    })
}

/// Completion of API names (after `m.` too) and, inside a string, of the paths `m.read`
/// serves, a component at a time from the machine `m` is after the last input.
struct Helper {
    machine: Rc<RefCell<Option<Vm>>>,
}

impl Completer for Helper {
    type Candidate = Pair;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        _: &rustyline::Context<'_>,
    ) -> rustyline::Result<(usize, Vec<Pair>)> {
        let machine = self.machine.borrow();
        let list = |dir: &str| {
            machine
                .as_ref()
                .map(|vm| vm.0.borrow().list_dir(dir))
                .unwrap_or_default()
        };
        let c = complete(&line[..pos], &list);
        let pairs = c
            .candidates
            .into_iter()
            .map(|s| Pair {
                display: s.clone(),
                replacement: s,
            })
            .collect();
        Ok((c.start, pairs))
    }
}

impl Hinter for Helper {
    type Hint = String;
}
impl Highlighter for Helper {}
impl Validator for Helper {}
impl rustyline::Helper for Helper {}

/// Where history is kept: $XDG_STATE_HOME/hotplug-lab/history, else
/// ~/.local/state/hotplug-lab/history.
fn history_file() -> Option<std::path::PathBuf> {
    let state = std::env::var_os("XDG_STATE_HOME")
        .filter(|v| !v.is_empty())
        .map(std::path::PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME").map(|h| std::path::PathBuf::from(h).join(".local/state"))
        })?;
    let dir = state.join("hotplug-lab");
    std::fs::create_dir_all(&dir).ok()?;
    Some(dir.join("history"))
}

/// Where lines come from: an editor on a terminal, plain lines from anything else.
enum Input {
    Editor(Box<rustyline::Editor<Helper, DefaultHistory>>),
    Lines(std::io::StdinLock<'static>),
}

/// What reading a line gave.
enum Line {
    Text(String),
    /// Ctrl-C at the prompt.
    Interrupted,
    Eof,
    /// A line that could not be read (not UTF-8): said why, and the session goes on.
    Bad(String),
}

/// Why a line longer than --max-input-size was skipped.
fn too_long(max: u64) -> String {
    format!(
        "the line is longer than {} (--max-input-size raises the limit); it was skipped",
        arch::approx(max)
    )
}

impl Input {
    /// The next line, at most `max` bytes of it kept: a longer one is read to its end and
    /// skipped.
    fn read(&mut self, prompt: &str, max: u64) -> Line {
        match self {
            Input::Editor(rl) => match rl.readline(prompt) {
                Ok(l) if l.len() as u64 > max => Line::Bad(too_long(max)),
                Ok(l) => Line::Text(l),
                Err(ReadlineError::Interrupted) => Line::Interrupted,
                Err(ReadlineError::Eof) => Line::Eof,
                Err(e) => Line::Bad(e.to_string()),
            },
            Input::Lines(stdin) => {
                let mut buf = Vec::new();
                match std::io::Read::take(&mut *stdin, max + 1).read_until(b'\n', &mut buf) {
                    Ok(0) => Line::Eof,
                    Ok(_) if buf.len() as u64 > max && buf.last() != Some(&b'\n') => {
                        // The rest of the line, read in pieces and dropped.
                        loop {
                            buf.clear();
                            match std::io::Read::take(&mut *stdin, 1 << 16)
                                .read_until(b'\n', &mut buf)
                            {
                                Ok(0) | Err(_) => break,
                                Ok(_) if buf.last() == Some(&b'\n') => break,
                                Ok(_) => {}
                            }
                        }
                        Line::Bad(too_long(max))
                    }
                    Ok(_) => {
                        if buf.last() == Some(&b'\n') {
                            buf.pop();
                        }
                        match String::from_utf8(buf) {
                            Ok(l) => Line::Text(l),
                            Err(e) => Line::Bad(format!(
                                "the line is not UTF-8 (invalid byte at offset {}); it was skipped",
                                e.utf8_error().valid_up_to()
                            )),
                        }
                    }
                    Err(e) => Line::Bad(e.to_string()),
                }
            }
        }
    }

    fn remember(&mut self, entry: &str) {
        if let Input::Editor(rl) = self {
            let _ = rl.add_history_entry(entry);
        }
    }
}

fn session(boot: crate::script::BootConfig, limits: Limits) -> ExitCode {
    let target = boot.target;
    let machine = boot
        .capture
        .as_ref()
        .map(|c| format!(" ({})", c.describe()))
        .unwrap_or_default();
    let mut host = Host::new(boot);
    host.limits = limits;
    host.on_line = Some(Rc::new(|l: &str| crate::output::emit(&format!("{l}\n"))));
    host.keep_output = false;
    let mut session = Session::new(host);
    if let Err(e) = session.bind_machine() {
        warn(&format!("hotplug-lab repl: boot: {e}"));
        return ExitCode::from(2);
    }
    for w in session.host.take_warnings() {
        warn(&format!("hotplug-lab repl: warning: {w}"));
    }
    // Ctrl-C while a statement runs stops it (the sandbox sees the flag between two
    // operations); a second one before it has stopped ends the process as usual.
    let cancel = session.host.cancel.clone();
    let _ = signal_hook::flag::register_conditional_default(
        signal_hook::consts::SIGINT,
        cancel.clone(),
    );
    let _ = signal_hook::flag::register(signal_hook::consts::SIGINT, cancel.clone());
    let bound: Rc<RefCell<Option<Vm>>> = Rc::new(RefCell::new(None));
    let refresh = |scope: &Scope| {
        *bound.borrow_mut() = scope.get_value::<Vm>("m");
    };
    refresh(&session.scope);
    let history = history_file();
    let mut input = if std::io::stdin().is_terminal() {
        match rustyline::Editor::<Helper, DefaultHistory>::new() {
            Ok(mut rl) => {
                rl.set_helper(Some(Helper {
                    machine: bound.clone(),
                }));
                if let Some(h) = &history {
                    let _ = rl.load_history(h);
                }
                Input::Editor(Box::new(rl))
            }
            Err(e) => {
                warn(&format!("hotplug-lab repl: {e}"));
                return ExitCode::from(2);
            }
        }
    } else {
        Input::Lines(std::io::stdin().lock())
    };
    crate::output::emit(&format!(
        "hotplug-lab on {}{machine}, Linux {}: `m` is the machine; help() lists the API; \
         Ctrl-C stops a statement; Ctrl-D quits.\n",
        target.name(),
        target.kernel.name
    ));
    let mut buf = String::new();
    loop {
        let prompt = if buf.is_empty() {
            "hotplug-lab> "
        } else {
            "...> "
        };
        match input.read(prompt, limits.max_input) {
            Line::Text(line) => {
                if buf.is_empty() && matches!(line.trim(), "exit" | "quit" | ":q" | ":quit") {
                    break;
                }
                buf.push_str(&line);
                buf.push('\n');
                // One input is held to what a script is: its bytes and its names.
                if buf.len() as u64 > limits.max_input {
                    warn(&format!(
                        "hotplug-lab repl: the input is longer than {} (--max-input-size \
                         raises the limit); it was dropped",
                        arch::approx(limits.max_input)
                    ));
                    buf.clear();
                    continue;
                }
                if let Err(stop) = crate::script::sandbox::check_names("the input", &buf, &limits) {
                    warn(&stop.to_script_error().to_string());
                    buf.clear();
                    continue;
                }
                if incomplete(&session.engine, &session.scope, &buf) {
                    continue;
                }
                let src = std::mem::take(&mut buf);
                input.remember(src.trim_end());
                let out = session.eval_shown(&src);
                cancel.store(false, std::sync::atomic::Ordering::Relaxed);
                for w in session.host.take_warnings() {
                    warn(&format!("warning: {w}"));
                }
                match out {
                    Ok(Some(out)) => crate::output::emit(&format!("{out}\n")),
                    Ok(None) => {}
                    Err(e) => warn(&e),
                }
                refresh(&session.scope);
            }
            Line::Interrupted => buf.clear(),
            Line::Bad(why) => {
                warn(&format!("hotplug-lab repl: {why}"));
                buf.clear();
            }
            Line::Eof => break,
        }
    }
    if !buf.trim().is_empty() {
        warn(&format!(
            "hotplug-lab repl: the input ended inside an unfinished statement, which did not \
             run: {}",
            mm::error::quote(buf.trim())
        ));
    }
    if let (Input::Editor(rl), Some(h)) = (&mut input, &history) {
        let _ = rl.save_history(h);
    }
    if let Some(e) = crate::output::stdout_failed() {
        warn(&format!("hotplug-lab repl: standard output: {e}"));
        return ExitCode::from(2);
    }
    ExitCode::SUCCESS
}
