//! The script worker: a thread that owns one Rhai session (engine, scope, machine `m`) per
//! architecture on screen, evaluates what the UI sends it and answers with printed lines,
//! results and a copy of each machine, so that a long script never freezes the UI and
//! Ctrl-C can stop it.

use crate::repl::bind_machine;
use crate::script::{describe, Host, Vm};
use mm::Machine;
use rhai::{Engine, Scope, AST};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::Arc;
use std::thread::JoinHandle;

/// What the UI asks for.
#[derive(Debug, Clone)]
pub enum Request {
    /// Start one session per architecture, booted from the command line (and iomem), and
    /// replay `replay` (earlier inputs) silently in each.
    Setup {
        archs: Vec<String>,
        cmdline: String,
        iomem: String,
        replay: Vec<String>,
        limits: crate::script::Limits,
    },
    /// Evaluate REPL input in every session.
    Eval { src: String },
    /// Compile a script's functions so that its statements can be stepped.
    Load { source: String },
    /// Evaluate one statement of the loaded script in every session.
    Step { src: String },
}

/// What the worker answers, for pane `pane`.
#[derive(Debug)]
pub enum Reply {
    /// A session is ready (or failed to boot).
    Ready {
        pane: usize,
        arch: String,
        machine: Option<Box<Machine>>,
        error: Option<String>,
    },
    /// A line the script printed.
    Line { pane: usize, text: String },
    /// An evaluation finished: its value (None for unit) or its error, and the machine `m`
    /// afterwards.
    Done {
        pane: usize,
        outcome: Result<Option<String>, String>,
        machine: Option<Box<Machine>>,
    },
    /// Something the user should hear (an unknown kernel parameter).
    Warning { pane: usize, text: String },
    /// Every request sent so far has been handled.
    Idle,
}

/// The UI's handle on the worker.
pub struct Worker {
    tx: Option<Sender<Request>>,
    rx: Receiver<Reply>,
    /// Set to interrupt what runs now.
    pub cancel: Arc<AtomicBool>,
    /// Requests sent and not yet answered with Idle.
    pub pending: usize,
    handle: Option<JoinHandle<()>>,
}

impl Worker {
    /// Start the thread scripts run on; fails only when the OS refuses a thread.
    pub fn spawn() -> std::io::Result<Worker> {
        let (tx, rx_req) = channel::<Request>();
        let (tx_rep, rx) = channel::<Reply>();
        let cancel = Arc::new(AtomicBool::new(false));
        let c = cancel.clone();
        let handle = std::thread::Builder::new()
            .name("hotplug-lab-script".into())
            .stack_size(crate::script::sandbox::SCRIPT_STACK)
            .spawn(move || serve(rx_req, tx_rep, c))?;
        Ok(Worker {
            tx: Some(tx),
            rx,
            cancel,
            pending: 0,
            handle: Some(handle),
        })
    }

    pub fn send(&mut self, r: Request) {
        if let Some(tx) = &self.tx {
            if tx.send(r).is_ok() {
                self.pending += 1;
            }
        }
    }

    /// Replies that have arrived, without waiting.
    pub fn poll(&mut self) -> Vec<Reply> {
        let mut out = Vec::new();
        while let Ok(r) = self.rx.try_recv() {
            if matches!(r, Reply::Idle) {
                self.pending = self.pending.saturating_sub(1);
            }
            out.push(r);
        }
        out
    }

    /// Wait for one reply (tests and the end of a run).
    pub fn recv_timeout(&mut self, d: std::time::Duration) -> Option<Reply> {
        let r = self.rx.recv_timeout(d).ok()?;
        if matches!(r, Reply::Idle) {
            self.pending = self.pending.saturating_sub(1);
        }
        Some(r)
    }

    pub fn busy(&self) -> bool {
        self.pending > 0
    }

    /// Stop what runs now and everything queued behind it.
    pub fn interrupt(&self) {
        self.cancel.store(true, Ordering::Relaxed);
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.interrupt();
        self.tx = None;
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

/// One architecture's session.
struct Session {
    host: Host,
    engine: Engine,
    scope: Scope<'static>,
    /// The loaded script's functions.
    functions: Option<AST>,
}

fn serve(rx: Receiver<Request>, tx: Sender<Reply>, cancel: Arc<AtomicBool>) {
    let mut sessions: Vec<Session> = Vec::new();
    while let Ok(req) = rx.recv() {
        // A new request after an interrupt runs normally.
        cancel.store(false, Ordering::Relaxed);
        match req {
            Request::Setup {
                archs,
                cmdline,
                iomem,
                replay,
                limits,
            } => {
                sessions.clear();
                for (pane, arch) in archs.iter().enumerate() {
                    let mut host = Host::new(arch, &cmdline, &iomem);
                    host.limits = limits;
                    host.cancel = cancel.clone();
                    let t = tx.clone();
                    host.on_line = Some(Rc::new(move |l: &str| {
                        let _ = t.send(Reply::Line {
                            pane,
                            text: l.to_string(),
                        });
                    }));
                    let engine = host.engine();
                    let mut scope = host.scope();
                    host.start();
                    let booted = bind_machine(&engine, &mut scope);
                    let mut s = Session {
                        host,
                        engine,
                        scope,
                        functions: None,
                    };
                    let error = booted.err();
                    if error.is_none() {
                        // Replayed inputs print nothing.
                        let live = s.host.on_line.take();
                        for src in &replay {
                            let _ = eval(&mut s, src);
                        }
                        s.host.on_line = live;
                    }
                    for text in s.host.take_warnings() {
                        let _ = tx.send(Reply::Warning { pane, text });
                    }
                    let _ = tx.send(Reply::Ready {
                        pane,
                        arch: arch.clone(),
                        machine: machine_of(&s.scope),
                        error,
                    });
                    sessions.push(s);
                }
            }
            Request::Eval { src } | Request::Step { src } => {
                for (pane, s) in sessions.iter_mut().enumerate() {
                    let outcome = if cancel.load(Ordering::Relaxed) {
                        Err("interrupted before it ran".to_string())
                    } else {
                        eval(s, &src)
                    };
                    for text in s.host.take_warnings() {
                        let _ = tx.send(Reply::Warning { pane, text });
                    }
                    let _ = tx.send(Reply::Done {
                        pane,
                        outcome,
                        machine: machine_of(&s.scope),
                    });
                }
            }
            Request::Load { source } => {
                for s in sessions.iter_mut() {
                    s.functions = s
                        .engine
                        .compile_with_scope(&s.scope, &source)
                        .ok()
                        .map(|a| a.clone_functions_only());
                }
            }
        }
        let _ = tx.send(Reply::Idle);
    }
}

/// Evaluate `src` in a session, with the loaded script's functions in reach.
fn eval(s: &mut Session, src: &str) -> Result<Option<String>, String> {
    s.host.start();
    s.host.output.borrow_mut().clear();
    let ast = s
        .engine
        .compile_with_scope(&s.scope, src)
        .map_err(|e| describe(&e.into()))?;
    let ast = match &s.functions {
        Some(f) => f.merge(&ast),
        None => ast,
    };
    match crate::script::eval_checked(&s.engine, &s.host.budget, &mut s.scope, &ast) {
        Ok(v) if v.is_unit() => Ok(None),
        Ok(v) => Ok(Some(crate::repl::show_value(&v))),
        Err(e) => Err(describe(&e)),
    }
}

/// A copy of the machine bound to `m`.
fn machine_of(scope: &Scope) -> Option<Box<Machine>> {
    let vm = scope.get_value::<Vm>("m")?;
    let m = vm.0.borrow().clone();
    Some(Box::new(m))
}
