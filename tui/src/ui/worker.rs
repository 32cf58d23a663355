//! The script worker: one thread per architecture on screen, each owning a Rhai session
//! (engine, scope, the machine `m`), evaluating what the UI sends and answering with printed
//! lines, results and a copy of the machine, so that a long script never freezes the UI and
//! Ctrl-C can stop it. A loaded script runs as a whole and pauses after every call that
//! changes a machine, until the UI says to go on.

use crate::script::{BootConfig, Host, Limits, Session, Vm};
use mm::Machine;
use std::cell::RefCell;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::Arc;

/// What the UI asks for.
#[derive(Debug, Clone)]
#[allow(clippy::large_enum_variant)] // Setup goes once per session; the rest are small and frequent.
pub enum Request {
    /// Start one session per pane, each booted from its configuration, and replay
    /// `replay` (earlier inputs) in each.
    Setup {
        boots: Vec<BootConfig>,
        replay: Vec<String>,
        limits: Limits,
    },
    /// Evaluate REPL input in every session.
    Eval { src: String },
    /// Load a script (its functions become callable from the REPL).
    Load { source: String },
    /// Run the loaded script to the next call that changes a machine (starting it if it
    /// has not started).
    Step,
    /// Run the loaded script to its end without pausing.
    RunAll,
}

/// Where a script is paused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pause {
    /// The script's own line and column of the call that runs next.
    pub line: usize,
    pub column: usize,
    /// That call (add_memory, boot, ...).
    pub call: String,
    /// Calls that changed a machine so far (the next is call `calls + 1`).
    pub calls: usize,
}

/// What the worker answers, for pane `pane`.
#[derive(Debug)]
pub enum Reply {
    /// A session is ready (or failed to boot).
    Ready {
        pane: usize,
        machine: Option<Box<Machine>>,
        error: Option<String>,
    },
    /// A line the script printed.
    Line { pane: usize, text: String },
    /// An earlier input is replayed on a new session (its lines and result follow).
    Replayed { pane: usize, src: String },
    /// An evaluation finished: its value (None for unit) or its error, and the machine
    /// afterwards (`m`, or the one the script booted last when `m` is not a machine).
    Done {
        pane: usize,
        outcome: Result<Option<String>, String>,
        machine: Option<Box<Machine>>,
        /// A REPL input that Ctrl-C stopped (replaying it would run it whole).
        interrupted: bool,
    },
    /// The script paused before a call that changes `machine` (none before a boot).
    Paused {
        pane: usize,
        at: Pause,
        machine: Option<Box<Machine>>,
    },
    /// The loaded script ran to its end (or stopped with an error, sent as Done first).
    Ended { pane: usize, calls: usize },
    /// Something the user should hear (an unknown kernel parameter).
    Warning { pane: usize, text: String },
    /// A request has been handled by one session.
    Idle,
}

/// The UI's handle on the session threads.
pub struct Worker {
    sessions: Vec<Sender<Request>>,
    tx: Sender<Reply>,
    rx: Receiver<Reply>,
    /// Set to interrupt what runs now (shared by every session).
    pub cancel: Arc<AtomicBool>,
    /// Answers (Idle) still owed: one per request per session.
    pub pending: usize,
}

impl Worker {
    /// The worker, with no session yet; fails only when the OS refuses a thread.
    pub fn spawn() -> std::io::Result<Worker> {
        let (tx, rx) = channel::<Reply>();
        Ok(Worker {
            sessions: Vec::new(),
            tx,
            rx,
            cancel: Arc::new(AtomicBool::new(false)),
            pending: 0,
        })
    }

    pub fn send(&mut self, r: Request) {
        if let Request::Setup { .. } = &r {
            self.start_sessions(&r);
            return;
        }
        self.cancel.store(false, Ordering::Relaxed);
        for s in &self.sessions {
            if s.send(r.clone()).is_ok() {
                self.pending += 1;
            }
        }
    }

    /// New sessions, one thread each. The old ones are let go: a paused script sees its
    /// channel close and stops; a running one is interrupted; none is waited for.
    fn start_sessions(&mut self, setup: &Request) {
        self.cancel.store(true, Ordering::Relaxed);
        self.sessions.clear();
        // Drop what the old sessions still send.
        let (tx, rx) = channel::<Reply>();
        self.tx = tx;
        self.rx = rx;
        self.pending = 0;
        self.cancel = Arc::new(AtomicBool::new(false));
        let Request::Setup {
            boots,
            replay,
            limits,
        } = setup.clone()
        else {
            return;
        };
        for (pane, boot) in boots.into_iter().enumerate() {
            let (stx, srx) = channel::<Request>();
            let cfg = SessionConfig {
                pane,
                boot,
                replay: replay.clone(),
                limits,
            };
            let (tx, cancel) = (self.tx.clone(), self.cancel.clone());
            let spawned = crate::script::sandbox::script_thread(format!("{PANE_THREAD}{pane}"))
                .spawn(move || {
                    crate::script::sandbox::mark_script_stack();
                    serve(cfg, srx, tx, cancel)
                });
            if spawned.is_ok() {
                self.sessions.push(stx);
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
        // The session threads end when their channels close; a thread inside a long
        // call is not waited for (q always quits).
        self.interrupt();
        self.sessions.clear();
    }
}

/// The name of every pane's session thread, followed by the pane's number.
pub(crate) const PANE_THREAD: &str = "hotplug-lab-pane";

/// What a session boots from.
struct SessionConfig {
    pane: usize,
    boot: BootConfig,
    replay: Vec<String>,
    limits: Limits,
}

/// One architecture's session: the shared scripting session and the script it plays.
struct Pane {
    pane: usize,
    s: Session,
    /// The loaded script's source.
    script: Option<String>,
    /// The script ran to its end.
    ended: bool,
}

fn serve(cfg: SessionConfig, rx: Receiver<Request>, tx: Sender<Reply>, cancel: Arc<AtomicBool>) {
    let pane = cfg.pane;
    let mut host = Host::new(cfg.boot.clone());
    host.limits = cfg.limits;
    host.cancel = cancel;
    let t = tx.clone();
    host.on_line = Some(Rc::new(move |l: &str| {
        let _ = t.send(Reply::Line {
            pane,
            text: l.to_string(),
        });
    }));
    let mut session = Session::new(host);
    let booted = session.bind_machine();
    let mut s = Pane {
        pane,
        s: session,
        script: None,
        ended: false,
    };
    let error = booted.err();
    let _ = tx.send(Reply::Ready {
        pane,
        machine: machine_of(&s),
        error: error.clone(),
    });
    if error.is_none() {
        // Each replayed input shows what it printed and gave on this architecture.
        for src in &cfg.replay {
            let _ = tx.send(Reply::Replayed {
                pane,
                src: src.clone(),
            });
            let outcome = eval(&mut s, src);
            let _ = tx.send(Reply::Done {
                interrupted: false,
                pane,
                outcome,
                machine: machine_of(&s),
            });
        }
    }
    warnings(&s, &tx);
    let _ = tx.send(Reply::Idle);
    let rx = Rc::new(rx);
    while let Ok(req) = rx.recv() {
        match req {
            Request::Setup { .. } => {}
            Request::Eval { src } => {
                let outcome = if s.s.host.cancel.load(Ordering::Relaxed) {
                    Err("interrupted before it ran".to_string())
                } else {
                    eval(&mut s, &src)
                };
                let interrupted = outcome.is_err() && s.s.host.cancel.load(Ordering::Relaxed);
                warnings(&s, &tx);
                let _ = tx.send(Reply::Done {
                    interrupted,
                    pane,
                    outcome,
                    machine: machine_of(&s),
                });
            }
            Request::Load { source } => {
                s.s.load_functions(&source);
                s.script = Some(source);
                s.ended = false;
            }
            Request::Step | Request::RunAll => {
                let to_end = matches!(req, Request::RunAll);
                run_script(&mut s, &rx, &tx, to_end);
            }
        }
        let _ = tx.send(Reply::Idle);
    }
}

fn warnings(s: &Pane, tx: &Sender<Reply>) {
    for text in s.s.host.take_warnings() {
        let _ = tx.send(Reply::Warning { pane: s.pane, text });
    }
}

/// Run the loaded script from its start, pausing before every call that changes a machine
/// unless `to_end`. While paused, the session answers the UI: Step goes on, RunAll goes on
/// to the end, REPL input is refused (the script holds the session), a closed channel (a new
/// setup) or an interrupt stops it.
fn run_script(s: &mut Pane, rx: &Rc<Receiver<Request>>, tx: &Sender<Reply>, to_end: bool) {
    let pane = s.pane;
    let Some(source) = s.script.clone() else {
        let _ = tx.send(Reply::Done {
            interrupted: false,
            pane,
            outcome: Err("no script loaded (hotplug-lab tui SCRIPT)".to_string()),
            machine: machine_of(s),
        });
        return;
    };
    if s.ended {
        let _ = tx.send(Reply::Done {
            interrupted: false,
            pane,
            outcome: Err("the script has ended (R rewinds it)".to_string()),
            machine: machine_of(s),
        });
        return;
    }
    let run_all = Rc::new(std::cell::Cell::new(to_end));
    let calls = Rc::new(std::cell::Cell::new(0usize));
    let cancel = s.s.host.cancel.clone();
    let (r, t, ra, c) = (rx.clone(), tx.clone(), run_all.clone(), calls.clone());
    // The machine the last call worked on: before a boot, the map goes on showing it as the
    // calls since left it.
    let last: RefCell<Option<Vm>> = RefCell::new(None);
    let hook: crate::script::ChangeHook = Rc::new(move |pos, call, vm: Option<&Vm>| {
        if let Some(vm) = vm {
            *last.borrow_mut() = Some(vm.clone());
        }
        let done = c.get();
        c.set(done + 1);
        if ra.get() || cancel.load(Ordering::Relaxed) {
            return;
        }
        let at = Pause {
            line: pos.line().unwrap_or(0),
            column: pos.position().unwrap_or(0),
            call: call.to_string(),
            calls: done,
        };
        let machine = last
            .borrow()
            .as_ref()
            .map(|vm| Box::new(vm.0.borrow().clone()));
        let _ = t.send(Reply::Paused { pane, at, machine });
        // The Step (or RunAll) that ran us here is answered.
        let _ = t.send(Reply::Idle);
        loop {
            match r.recv() {
                Ok(Request::Step) => return,
                Ok(Request::RunAll) => {
                    ra.set(true);
                    return;
                }
                Ok(Request::Eval { .. }) => {
                    let _ = t.send(Reply::Done {
                        interrupted: false,
                        pane,
                        outcome: Err("the script is paused and holds the session: n goes on, \
                                      r runs it to the end, R rewinds"
                            .to_string()),
                        machine: None,
                    });
                    let _ = t.send(Reply::Idle);
                }
                Ok(Request::Load { .. }) | Ok(Request::Setup { .. }) => {
                    let _ = t.send(Reply::Idle);
                }
                Err(_) => {
                    // A new setup let this session go: stop the script.
                    cancel.store(true, Ordering::Relaxed);
                    return;
                }
            }
        }
    });
    *s.s.host.on_change.borrow_mut() = Some(hook);
    // The script as a whole: what it left when it failed stays on show.
    s.s.host.output.borrow_mut().clear();
    let outcome = match s.s.eval(&source) {
        Ok(v) if v.is_unit() => Ok(None),
        Ok(v) => Ok(Some(crate::script::session::show_value(&v))),
        Err(e) => Err(e.describe()),
    };
    *s.s.host.on_change.borrow_mut() = None;
    s.ended = true;
    warnings(s, tx);
    let _ = tx.send(Reply::Done {
        interrupted: false,
        pane,
        outcome,
        machine: machine_of(s),
    });
    let _ = tx.send(Reply::Ended {
        pane,
        calls: calls.get(),
    });
}

/// Evaluate REPL input `src` in a pane's session, with the loaded script's functions in
/// reach (an input that fails leaves the variables as they were).
fn eval(s: &mut Pane, src: &str) -> Result<Option<String>, String> {
    s.s.host.output.borrow_mut().clear();
    s.s.eval_shown(src)
}

/// A copy of the machine on screen: `m`, or, when `m` is no longer a machine (`m = ()`),
/// the one booted last.
fn machine_of(s: &Pane) -> Option<Box<Machine>> {
    let vm =
        s.s.scope
            .get_value::<Vm>("m")
            .or_else(|| s.s.host.last.borrow().clone())?;
    let m = vm.0.borrow().clone();
    Some(Box::new(m))
}
