//! The sandbox every script runs in: its limits (each with the command-line flag that
//! changes it), and how each is held.
//!
//! - Operations, call depth and expression depth: Rhai's own counters.
//! - Time: one deadline for the whole run (shared by every architecture of `--arch all`),
//!   checked from Rhai's progress callback.
//! - Memory: the process's live heap ([`crate::heap`]) against the level it had when the
//!   session started, checked between any two operations; operations on a machine that would
//!   grow the model by more than what is left are refused before they start.
//! - Value sizes and nesting: each string, array and map against its limit, on the
//!   variables in scope, after a number of variable reads that follows what the last
//!   measurement cost or after the heap grew by 4 MiB, and at the end of every evaluation,
//!   so that growing an array costs O(1) per push instead of a walk over it.
//! - Standard functions that make a value many times larger than their arguments (pad,
//!   blob, split, to_chars, replace, parse_json) check the result's size before they make it.
//!   `sleep` is not available.

use super::ScriptError;
use rhai::{Array, Blob, Dynamic, Engine, EvalAltResult, FnPtr, ImmutableString, Map, INT};
use std::cell::Cell;
use std::collections::HashSet;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The sandbox's limits, in one place. Every one has a flag (`flag` names it in errors).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    /// Rhai operations a script may run (`--max-operations`).
    pub max_operations: u64,
    /// Wall-clock time of the whole run (`--max-time`).
    pub max_time: Duration,
    /// Heap the session may grow by: machines and script values together (`--max-memory`).
    pub max_memory: u64,
    /// Bytes of one string (`--max-string-size`).
    pub max_string_size: usize,
    /// Entries of one array, bytes of one BLOB, curried arguments of one function value
    /// (`--max-array-size`).
    pub max_array_size: usize,
    /// Entries of one map (`--max-map-size`).
    pub max_map_size: usize,
    /// How deep arrays, maps and curried functions nest in one value (`--max-depth`).
    pub max_depth: usize,
    /// Function call depth (`--max-call-depth`): deep recursion stops here, far from the
    /// native stack's end.
    pub max_call_levels: usize,
    /// Bytes of a script or an iomem file read from a file or stdin, and of one REPL input
    /// (`--max-input-size`).
    pub max_input: u64,
    /// Names (identifiers and keywords, outside strings and comments) in a script or in
    /// one REPL input (`--max-names`): Rhai's parser takes time that grows with their
    /// square, and cannot be interrupted.
    pub max_names: usize,
    /// Files and links the exports of one run may write (`--max-export-files`).
    pub max_export_files: u64,
    /// Expression nesting in the script and inside functions (the parser's own bound).
    pub max_expr_depth: usize,
    pub max_fn_expr_depth: usize,
    /// Variables in scope and script functions defined.
    pub max_variables: usize,
    pub max_functions: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_operations: 5_000_000,
            max_time: Duration::from_secs(60),
            max_memory: 512 << 20,
            max_string_size: 4 << 20,
            max_array_size: 1 << 20,
            max_map_size: 1 << 16,
            max_depth: 64,
            max_call_levels: 48,
            max_input: 16 << 20,
            max_names: 10_000,
            max_export_files: 100_000,
            max_expr_depth: 64,
            max_fn_expr_depth: 32,
            max_variables: 1024,
            max_functions: 256,
        }
    }
}

/// The stack a script thread gets: deep enough for any value the sandbox lets a script
/// build between two of its measurements, and for Rhai's own recursion at the call-depth
/// limit. Only the pages a script touches are ever backed by memory.
pub const SCRIPT_STACK: usize = 256 << 20;

/// Run `f` on a thread with [`SCRIPT_STACK`] of stack and wait for it.
pub fn on_script_thread<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> std::io::Result<T> {
    let h = script_thread("hotplug-lab-script".into()).spawn(move || {
        mark_script_stack();
        f()
    })?;
    h.join()
        .map_err(|_| std::io::Error::other("the script thread panicked"))
}

/// A thread builder with [`SCRIPT_STACK`] of stack; the thread calls
/// [`mark_script_stack`] first.
pub fn script_thread(name: String) -> std::thread::Builder {
    std::thread::Builder::new()
        .name(name)
        .stack_size(SCRIPT_STACK)
}

thread_local! {
    /// Where this thread's stack starts (about), when it is a script thread.
    static STACK_TOP: Cell<Option<usize>> = const { Cell::new(None) };
}

/// The address of a local of the caller: where the stack is now, give or take a frame.
#[inline(never)]
fn stack_here() -> usize {
    let x = 0u8;
    std::hint::black_box(&x) as *const u8 as usize
}

/// Called first on a thread with [`SCRIPT_STACK`] of stack: the sandbox's stack guard
/// measures from here.
pub fn mark_script_stack() {
    STACK_TOP.with(|t| t.set(Some(stack_here())));
}

/// Stack a script may use before it is stopped: half the script thread's, far from its end
/// whatever Rhai or a native call does between two operations.
const STACK_GUARD: usize = SCRIPT_STACK / 2;

/// How much stack the script thread has used, when this is one.
fn stack_used() -> Option<usize> {
    STACK_TOP
        .with(Cell::get)
        .map(|top| top.saturating_sub(stack_here()))
}

/// Count `files` more files written against --max-export-files, or refuse them before
/// one is written.
pub fn count_files(
    exported: &std::sync::atomic::AtomicU64,
    limits: &Limits,
    files: u64,
    what: &str,
) -> Result<(), Stop> {
    use std::sync::atomic::Ordering;
    let before = exported.load(Ordering::Relaxed);
    let total = before.saturating_add(files);
    if total > limits.max_export_files {
        return Err(Stop::Export {
            what: what.to_string(),
            files,
            before,
            limit: limits.max_export_files,
        });
    }
    exported.store(total, Ordering::Relaxed);
    Ok(())
}

/// Count an export of `m` (every file of its sysfs tree) against --max-export-files.
pub fn count_export(
    exported: &std::sync::atomic::AtomicU64,
    limits: &Limits,
    m: &mm::Machine,
    what: &str,
) -> Result<(), Stop> {
    count_files(exported, limits, m.export_file_count(), what)
}

/// Refuse text with more names, blocks, statements and cases than --max-names before the
/// parser sees it: the parser and Rhai's optimiser (which puts the script's constants into
/// its functions, so it stays on) cannot be stopped once they run.
pub fn check_names(what: &str, src: &str, l: &Limits) -> Result<(), Stop> {
    let names = super::lex::scan(src).names;
    if names > l.max_names {
        return Err(Stop::Names {
            what: what.to_string(),
            names,
            limit: l.max_names,
        });
    }
    Ok(())
}

/// Why the sandbox stopped a script.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Stop {
    #[error("the run took longer than {} s (--max-time raises it)", .0.as_secs_f64())]
    Time(Duration),
    #[error(
        "too many operations: the script ran past the sandbox's {0} (an endless loop? \
         --max-operations raises it)"
    )]
    Operations(u64),
    #[error(
        "the session's heap grew by {}, over the sandbox's {} (--max-memory raises it)",
        arch::approx(*.used),
        arch::approx(*.limit)
    )]
    Memory { used: u64, limit: u64 },
    #[error(
        "{what} would take about {} more, and {} of the sandbox's {} is left \
         (--max-memory raises it)",
        arch::approx(*.need),
        arch::approx(*.left),
        arch::approx(*.limit)
    )]
    State {
        what: String,
        need: u64,
        left: u64,
        limit: u64,
    },
    #[error(
        "{what}: {size} string bytes, over the sandbox's {limit} (--max-string-size raises it)"
    )]
    String {
        what: String,
        size: usize,
        limit: usize,
    },
    #[error(
        "{what}: {size} array entries, over the sandbox's {limit} (--max-array-size raises it)"
    )]
    Array {
        what: String,
        size: usize,
        limit: usize,
    },
    #[error("{what}: {size} map entries, over the sandbox's {limit} (--max-map-size raises it)")]
    Map {
        what: String,
        size: usize,
        limit: usize,
    },
    #[error("{what}: arrays, maps and curried functions nested deeper than {limit} (--max-depth raises it)")]
    Depth { what: String, limit: usize },
    #[error(
        "{what}: about {} counting every copy of its strings, over the {} a value may read \
         (half of --max-memory)",
        arch::approx(*.size),
        arch::approx(*.limit)
    )]
    Logical { what: String, size: u64, limit: u64 },
    #[error(
        "script values grew by {} since the sandbox last measured them (a value that doubles \
         in one step, or a loop in a method that only changes `this`), over the {} it lets \
         grow unmeasured (an eighth of --max-memory)",
        arch::approx(*.grown),
        arch::approx(*.limit)
    )]
    Unseen { grown: u64, limit: u64 },
    #[error(
        "the script printed {} that --json or --arch all keeps until the end, over the {} \
         the sandbox keeps (a quarter of --max-memory)",
        arch::approx(*.kept),
        arch::approx(*.limit)
    )]
    Output { kept: u64, limit: u64 },
    #[error(
        "{what} holds {names} names, blocks, statements and cases, over the {limit} the \
         sandbox lets Rhai's parser and optimiser read (their time grows with the square; \
         --max-names raises it)"
    )]
    Names {
        what: String,
        names: usize,
        limit: usize,
    },
    #[error(
        "{what}: {files} more {} to write{}, over the sandbox's {limit} a run may write \
         (--max-export-files raises it)",
        if *.files == 1 { "file" } else { "files" },
        if *.before > 0 { format!(" after the {} the run wrote", .before) } else { String::new() }
    )]
    Export {
        what: String,
        files: u64,
        before: u64,
        limit: u64,
    },
    #[error(
        "calls nested so deep that the script has used {} of stack, over the sandbox's {} \
         (--max-call-depth bounds how deeply functions nest)",
        arch::approx(*.used as u64),
        arch::approx(*.limit as u64)
    )]
    Stack { used: usize, limit: usize },
    #[error("interrupted")]
    Interrupted,
}

impl Stop {
    /// The errno a script's error carries for this stop.
    pub fn errno(&self) -> (&'static str, i64) {
        match self {
            Stop::Time(_) => ("ETIMEDOUT", -110),
            Stop::Memory { .. }
            | Stop::State { .. }
            | Stop::Unseen { .. }
            | Stop::Output { .. } => ("ENOMEM", -12),
            Stop::String { .. }
            | Stop::Array { .. }
            | Stop::Map { .. }
            | Stop::Depth { .. }
            | Stop::Logical { .. }
            | Stop::Names { .. }
            | Stop::Export { .. }
            | Stop::Operations(_)
            | Stop::Stack { .. } => ("E2BIG", -7),
            Stop::Interrupted => ("EINTR", -4),
        }
    }

    pub fn to_script_error(&self) -> ScriptError {
        let (errno, code) = self.errno();
        ScriptError {
            errno: errno.to_string(),
            code,
            message: self.to_string(),
        }
    }

    /// The stop as a Rhai error that ends the script: `try` cannot catch it.
    pub fn into_rhai(self) -> Box<EvalAltResult> {
        Box::new(EvalAltResult::ErrorTerminated(
            Dynamic::from(self.to_script_error()),
            rhai::Position::NONE,
        ))
    }
}

/// Heap growth after which the next variable read measures the values in scope.
const MEASURE_AFTER_GROWTH: usize = 4 << 20;
/// Variable reads between two measurements, at least and at most (within these bounds, as
/// many as the last measurement visited values, so that measuring costs O(1) per read).
const MEASURE_EVERY_MIN: u64 = 4096;
const MEASURE_EVERY_MAX: u64 = 1 << 20;
/// Operations between two looks at the clock.
const CLOCK_EVERY: u64 = 1024;

/// A session's budget: where its heap started, when its time ends, and when to measure the
/// values in scope next. Shared by the engine's callbacks and the API's functions.
#[derive(Debug)]
pub struct Budget {
    pub limits: Limits,
    /// The live heap when the session started.
    base: Cell<usize>,
    deadline: Cell<Instant>,
    pub cancel: Arc<AtomicBool>,
    reads: Cell<u64>,
    measure_every: Cell<u64>,
    /// The heap the sandbox has accounted for: at the last measurement of the values in
    /// scope, or at the end of the last operation that grew a machine (which
    /// [`Budget::reserve`] bounded before it started).
    heap_seen: Cell<usize>,
    /// xorshift state for when to measure next.
    rng: Cell<u64>,
    /// Bytes of printed output kept for the end of the run.
    output: Cell<u64>,
    /// Operations since the evaluation began, counted here: Rhai starts its own count
    /// afresh in each call of a closure from a native function (`map`, `reduce`, `sort`),
    /// so its count and its `ops` never reach a limit inside one.
    ticks: Cell<u64>,
    /// A stop found where it could not be returned (inside Rhai's string interpolation,
    /// which prints a value whole when its to_string fails): the next check reports it.
    pending: std::cell::RefCell<Option<Stop>>,
}

impl Budget {
    pub fn new(limits: Limits, cancel: Arc<AtomicBool>) -> Budget {
        let now = crate::heap::live();
        Budget {
            limits,
            base: Cell::new(now),
            deadline: Cell::new(Instant::now() + limits.max_time),
            cancel,
            reads: Cell::new(0),
            measure_every: Cell::new(MEASURE_EVERY_MIN),
            heap_seen: Cell::new(now),
            output: Cell::new(0),
            ticks: Cell::new(0),
            pending: std::cell::RefCell::new(None),
            rng: Cell::new(
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0x9e37_79b9_7f4a_7c15, |d| d.as_nanos() as u64)
                    | 1,
            ),
        }
    }

    fn jitter(&self) -> u64 {
        let mut x = self.rng.get();
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.rng.set(x);
        x
    }

    /// Start an evaluation: it ends by `deadline`, and what the heap holds now (the
    /// session's machines, the script's text and constants) is accounted for.
    pub fn begin(&self, deadline: Instant) {
        self.deadline.set(deadline);
        self.heap_seen.set(crate::heap::live());
        self.reads.set(0);
        self.output.set(0);
        self.ticks.set(0);
        self.pending.borrow_mut().take();
    }

    /// Stop the script at its next operation with `stop`.
    pub fn stop_soon(&self, stop: Stop) {
        self.pending.borrow_mut().get_or_insert(stop);
    }

    /// Count the session's heap from now (a fresh session).
    pub fn reset_heap(&self) {
        let now = crate::heap::live();
        self.base.set(now);
        self.heap_seen.set(now);
    }

    /// Leave `bytes` of the heap out of the session's (a copy the REPL keeps to undo an
    /// input with), or take them back in (negative).
    pub fn set_aside(&self, bytes: isize) {
        let base = self.base.get();
        self.base.set(if bytes >= 0 {
            base.saturating_add(bytes as usize)
        } else {
            base.saturating_sub(bytes.unsigned_abs())
        });
    }

    /// How much the session's heap has grown.
    pub fn used(&self) -> u64 {
        crate::heap::live().saturating_sub(self.base.get()) as u64
    }

    /// Memory left for the model to grow into.
    pub fn left(&self) -> u64 {
        self.limits.max_memory.saturating_sub(self.used())
    }

    /// Refuse an operation that would grow the model by about `need` bytes past the budget.
    pub fn reserve(&self, what: impl FnOnce() -> String, need: u64) -> Result<(), Stop> {
        let left = self.left();
        if need > left {
            return Err(Stop::State {
                what: what(),
                need,
                left,
                limit: self.limits.max_memory,
            });
        }
        Ok(())
    }

    /// Printed output kept for the end of the run; more than a quarter of the budget stops
    /// the script at its next operation.
    pub fn kept_output(&self, bytes: u64) {
        self.output.set(self.output.get() + bytes);
    }

    /// A machine has grown (or been made) by an operation [`Budget::reserve`] allowed:
    /// what it took is accounted for.
    pub fn model_grown(&self) {
        self.heap_seen.set(crate::heap::live());
    }

    /// Growth no measurement has seen that the sandbox lets pass: an eighth of the budget.
    fn unseen_limit(&self) -> usize {
        usize::try_from(self.limits.max_memory / 8).unwrap_or(usize::MAX)
    }

    /// The checks made between two operations.
    pub fn check(&self) -> Result<(), Stop> {
        let ops = self.ticks.get() + 1;
        self.ticks.set(ops);
        if ops > self.limits.max_operations {
            return Err(Stop::Operations(self.limits.max_operations));
        }
        if self.cancel.load(Ordering::Relaxed) {
            return Err(Stop::Interrupted);
        }
        if let Some(stop) = self.pending.borrow_mut().take() {
            return Err(stop);
        }
        let used = self.used();
        if used > self.limits.max_memory {
            return Err(Stop::Memory {
                used,
                limit: self.limits.max_memory,
            });
        }
        if self.output.get() > self.limits.max_memory / 4 {
            return Err(Stop::Output {
                kept: self.output.get(),
                limit: self.limits.max_memory / 4,
            });
        }
        // Values change where variables are read, and reads measure them; a function that
        // only touches `this` reads none, and is held to this instead.
        let unseen = crate::heap::live().saturating_sub(self.heap_seen.get());
        if unseen > self.unseen_limit() {
            return Err(Stop::Unseen {
                grown: unseen as u64,
                limit: self.unseen_limit() as u64,
            });
        }
        if ops.is_multiple_of(CLOCK_EVERY) && Instant::now() > self.deadline.get() {
            return Err(Stop::Time(self.limits.max_time));
        }
        // Every path that nests (calls, expressions, values) has its own bound; this one
        // holds whatever they leave, so that no script ends in a stack overflow.
        if let Some(used) = stack_used().filter(|&u| u > STACK_GUARD) {
            return Err(Stop::Stack {
                used,
                limit: STACK_GUARD,
            });
        }
        Ok(())
    }

    /// The checks made when an evaluation ends: the cancel switch and the clock, read now.
    pub fn check_end(&self) -> Result<(), Stop> {
        if self.cancel.load(Ordering::Relaxed) {
            return Err(Stop::Interrupted);
        }
        // A stop inside a closure that the function calling it swallowed (Rhai's `sort`
        // takes a failing comparison for "equal") still ends the run.
        if self.ticks.get() > self.limits.max_operations {
            return Err(Stop::Operations(self.limits.max_operations));
        }
        if Instant::now() > self.deadline.get() {
            return Err(Stop::Time(self.limits.max_time));
        }
        Ok(())
    }

    /// Measure the values in scope (and `this`) against the size and nesting limits; returns
    /// how many values it visited. Run at the end of every evaluation too, so that a script
    /// never ends holding a value over a limit it crossed after the last measurement.
    pub fn measure(&self, scope: &rhai::Scope, this: Option<&Dynamic>) -> Result<usize, Stop> {
        let mut m = Measure::new(&self.limits);
        // Constants cannot grow; the host's (IOMEM, a file up to --max-input-size) are
        // not the script's values.
        for (name, _, v) in scope.iter_raw().filter(|(_, constant, _)| !constant) {
            m.value(v, &|| format!("variable `{name}`"))?;
        }
        if let Some(t) = this {
            m.value(t, &|| "`this`".to_string())?;
        }
        Ok(m.cost)
    }

    /// Measure one value, the last value of a script.
    pub fn measure_value(&self, v: &Dynamic) -> Result<(), Stop> {
        Measure::new(&self.limits)
            .value(v, &|| "the script's last value".to_string())
            .map(|_| ())
    }

    /// Called on every variable read: measure the values in scope when it is time to.
    fn on_read(&self, scope: &rhai::Scope, this: Option<&Dynamic>) -> Result<(), Stop> {
        let reads = self.reads.get() + 1;
        let heap = crate::heap::live();
        let grown = heap.saturating_sub(self.heap_seen.get());
        if reads < self.measure_every.get()
            && grown < MEASURE_AFTER_GROWTH.max(self.measure_every.get() as usize * 16)
        {
            self.reads.set(reads);
            return Ok(());
        }
        let cost = self.measure(scope, this)?;
        self.reads.set(0);
        // The next measurement comes after between half and one and a half times as many
        // reads as this one visited values, at a point the script cannot predict: a value
        // moved out of its variable (`a = [take(a)]`) is missed only at some reads.
        let every = (cost as u64).clamp(MEASURE_EVERY_MIN, MEASURE_EVERY_MAX);
        self.measure_every.set(every / 2 + self.jitter() % every);
        self.heap_seen.set(heap);
        Ok(())
    }
}

/// What one measurement found in a value: the largest string, array and map in it (each
/// container is held to its limit on its own), the curried arguments of its functions (held
/// together: currying a function with itself doubles them), and about how many heap bytes
/// it takes.
#[derive(Default, Clone, Copy)]
struct Sizes {
    string: usize,
    array: usize,
    map: usize,
    curried: usize,
    bytes: usize,
}

/// About what a value costs on the heap beyond its 16-byte slot: a string's shared
/// allocation, a map entry's key and node, a function pointer's box.
const STRING_BYTES: usize = 32;
const MAP_ENTRY_BYTES: usize = 48;
const FNPTR_BYTES: usize = 96;

/// One measurement of values: bounded in depth by the limit, so that it cannot itself run
/// deep; follows each shared (captured) value once.
struct Measure<'l> {
    limits: &'l Limits,
    cost: usize,
    seen: HashSet<usize>,
}

impl<'l> Measure<'l> {
    fn new(limits: &'l Limits) -> Self {
        Measure {
            limits,
            cost: 0,
            seen: HashSet::new(),
        }
    }

    /// Measure one top-level value, named by `what` in an error.
    fn value(&mut self, v: &Dynamic, what: &dyn Fn() -> String) -> Result<Sizes, Stop> {
        let mut s = Sizes::default();
        match self.walk(v, 0, &mut s) {
            Ok(()) => Ok(s),
            Err((kind, size)) => Err(self.stop(kind, size, what())),
        }
    }

    fn stop(&self, kind: Over, size: usize, what: String) -> Stop {
        let l = self.limits;
        match kind {
            Over::String => Stop::String {
                what,
                size,
                limit: l.max_string_size,
            },
            Over::Array => Stop::Array {
                what,
                size,
                limit: l.max_array_size,
            },
            Over::Map => Stop::Map {
                what,
                size,
                limit: l.max_map_size,
            },
            Over::Depth => Stop::Depth {
                what,
                limit: l.max_depth,
            },
            Over::Logical => Stop::Logical {
                what,
                size: size as u64,
                limit: self.logical_limit() as u64,
            },
        }
    }

    /// How big a value may read, every copy of a shared string counted: half the budget.
    fn logical_limit(&self) -> usize {
        usize::try_from(self.limits.max_memory / 2).unwrap_or(usize::MAX)
    }

    fn walk(&mut self, v: &Dynamic, depth: usize, s: &mut Sizes) -> Result<(), (Over, usize)> {
        let l = self.limits;
        let check = |n: usize, max: usize, kind: Over| {
            if n > max {
                Err((kind, n))
            } else {
                Ok(n)
            }
        };
        self.cost += 1;
        s.bytes += 16;
        if v.is_shared() {
            // A captured variable: the running code may hold it (then it is measured where
            // it lives); a cycle through closures is followed once.
            let Some(inner) = v.read_lock::<Dynamic>() else {
                return Ok(());
            };
            if !self.seen.insert(&*inner as *const Dynamic as usize) {
                return Ok(());
            }
            return self.walk(&inner, depth, s);
        }
        if let Some(text) = v.read_lock::<ImmutableString>() {
            let n = check(text.len(), l.max_string_size, Over::String)?;
            s.string = s.string.max(n);
            s.bytes += n + STRING_BYTES;
            // Copies of a string share it: the heap holds it once, but printing, comparing
            // or sorting the value works through every copy.
            check(s.bytes, self.logical_limit(), Over::Logical)?;
            return Ok(());
        }
        if let Some(b) = v.read_lock::<Blob>() {
            let n = check(b.len(), l.max_array_size, Over::Array)?;
            s.array = s.array.max(n);
            s.bytes += n;
            return Ok(());
        }
        let container = v.is_array() || v.is_map() || v.is_fnptr();
        if !container {
            return Ok(());
        }
        if depth >= l.max_depth {
            return Err((Over::Depth, depth));
        }
        if let Some(a) = v.read_lock::<Array>() {
            s.array = s.array.max(check(a.len(), l.max_array_size, Over::Array)?);
            for x in a.iter() {
                self.walk(x, depth + 1, s)?;
            }
        } else if let Some(m) = v.read_lock::<Map>() {
            s.map = s.map.max(check(m.len(), l.max_map_size, Over::Map)?);
            for (k, x) in m.iter() {
                check(k.len(), l.max_string_size, Over::String)?;
                s.bytes += k.len() + MAP_ENTRY_BYTES;
                self.walk(x, depth + 1, s)?;
            }
        } else if let Some(f) = v.read_lock::<FnPtr>() {
            s.curried += f.curry().len();
            check(s.curried, l.max_array_size, Over::Array)?;
            s.bytes += FNPTR_BYTES;
            for x in f.iter_curry() {
                self.walk(x, depth + 1, s)?;
            }
        }
        Ok(())
    }
}

enum Over {
    String,
    Array,
    Map,
    Depth,
    Logical,
}

/// Put the sandbox on an engine: Rhai's own limits, the callbacks that hold the budget, and
/// the guarded standard functions.
pub fn install(e: &mut Engine, budget: &Rc<Budget>) {
    let l = budget.limits;
    // Rhai's data-size limits re-measure a whole value after every call that may change it
    // (O(n) per push, and recursive): they stay off, and `Budget` measures instead.
    e.set_max_operations(l.max_operations)
        .set_max_call_levels(l.max_call_levels)
        .set_max_expr_depths(l.max_expr_depth, l.max_fn_expr_depth)
        .set_max_string_size(0)
        .set_max_array_size(0)
        .set_max_map_size(0)
        .set_max_variables(l.max_variables)
        .set_max_functions(l.max_functions)
        .set_max_modules(0)
        .set_module_resolver(rhai::module_resolvers::DummyModuleResolver::new());
    // eval() parses text at run time, past --max-names and --max-input-size, and nests
    // without a bound of its own: the sandbox has none (hints.rs says why).
    e.disable_symbol("eval");
    let b = budget.clone();
    e.on_progress(move |_| match b.check() {
        Ok(()) => None,
        Err(stop) => Some(Dynamic::from(stop.to_script_error())),
    });
    let b = budget.clone();
    // on_var is marked volatile (not deprecated) by Rhai: a variable read is where values
    // change, which is what the sandbox needs to see.
    #[allow(deprecated)]
    e.on_var(move |_, _, ctx| {
        b.on_read(ctx.scope(), ctx.this_ptr())
            .map(|()| None)
            .map_err(Stop::into_rhai)
    });
    register_guards(e, l, budget);
}

type Res<T> = Result<T, Box<EvalAltResult>>;

pub(super) fn string_limit(what: &str, size: usize, l: &Limits) -> Res<()> {
    if size > l.max_string_size {
        return Err(Stop::String {
            what: what.to_string(),
            size,
            limit: l.max_string_size,
        }
        .into_rhai());
    }
    Ok(())
}

fn array_limit(what: &str, size: usize, l: &Limits) -> Res<()> {
    if size > l.max_array_size {
        return Err(Stop::Array {
            what: what.to_string(),
            size,
            limit: l.max_array_size,
        }
        .into_rhai());
    }
    Ok(())
}

/// A count argument as usize; negative counts mean "nothing", as Rhai's functions take them.
fn count(n: INT) -> usize {
    usize::try_from(n.max(0)).unwrap_or(usize::MAX)
}

/// The standard functions the sandbox registers its own versions of (they are Rhai's, and
/// help() does not list them).
pub const GUARDED: [&str; 16] = [
    "print",
    "debug",
    "to_string",
    "to_debug",
    "to_json",
    "==",
    "!=",
    "sleep",
    "pad",
    "blob",
    "to_chars",
    "to_array",
    "split",
    "split_rev",
    "replace",
    "parse_json",
];

/// The standard functions whose result can be far larger than their arguments, each
/// checking the result's size first and then doing what Rhai's own does; and `sleep`, which
/// would hold the script beyond every limit.
fn register_guards(e: &mut Engine, l: Limits, budget: &Rc<Budget>) {
    e.register_fn("sleep", |_: INT| -> Res<()> { Err(no_sleep()) })
        .register_fn("sleep", |_: rhai::FLOAT| -> Res<()> { Err(no_sleep()) });

    // Padding to a length.
    e.register_fn(
        "pad",
        move |s: &mut ImmutableString, len: INT, c: char| -> Res<()> {
            let want = count(len);
            let have = s.chars().count();
            if want <= have {
                return Ok(());
            }
            string_limit("pad", s.len() + (want - have) * c.len_utf8(), &l)?;
            let mut t = s.to_string();
            t.extend(std::iter::repeat_n(c, want - have));
            *s = t.into();
            Ok(())
        },
    )
    .register_fn(
        "pad",
        move |s: &mut ImmutableString, len: INT, p: &str| -> Res<()> {
            let want = count(len);
            let mut have = s.chars().count();
            if want <= have || p.is_empty() {
                return Ok(());
            }
            // Whole copies of `p`, then its first characters, as Rhai pads.
            let per = p.chars().count();
            let (whole, part) = ((want - have) / per, (want - have) % per);
            let part_bytes: usize = p.chars().take(part).map(char::len_utf8).sum();
            string_limit("pad", s.len() + whole * p.len() + part_bytes, &l)?;
            let mut t = s.to_string();
            while have + per <= want {
                t.push_str(p);
                have += per;
            }
            t.extend(p.chars().take(want - have));
            *s = t.into();
            Ok(())
        },
    )
    .register_fn("pad", {
        let b = budget.clone();
        move |a: &mut Array, len: INT, item: Dynamic| -> Res<()> {
            let want = count(len);
            if want <= a.len() {
                return Ok(());
            }
            array_limit("pad", want, &l)?;
            // Every new entry is a copy of the item.
            let each = Measure::new(&l)
                .value(&item, &|| "pad's item".to_string())
                .map_err(Stop::into_rhai)?;
            let need = ((want - a.len()) as u64).saturating_mul(each.bytes as u64);
            b.reserve(|| format!("pad to {want} copies"), need)
                .map_err(Stop::into_rhai)?;
            a.resize(want, item);
            Ok(())
        }
    })
    .register_fn("pad", move |b: &mut Blob, len: INT, v: INT| -> Res<()> {
        let want = count(len);
        if want <= b.len() {
            return Ok(());
        }
        array_limit("pad", want, &l)?;
        b.resize(want, (v & 0xff) as u8);
        Ok(())
    })
    .register_fn("blob", move |len: INT| -> Res<Blob> {
        array_limit("blob", count(len), &l)?;
        Ok(vec![0; count(len)])
    })
    .register_fn("blob", move |len: INT, v: INT| -> Res<Blob> {
        array_limit("blob", count(len), &l)?;
        Ok(vec![(v & 0xff) as u8; count(len)])
    });

    // One entry per character or byte.
    e.register_fn("to_chars", move |s: &str| -> Res<Array> {
        array_limit("to_chars", s.chars().count(), &l)?;
        Ok(s.chars().map(Dynamic::from).collect())
    })
    .register_fn("to_array", move |b: &mut Blob| -> Res<Array> {
        array_limit("to_array", b.len(), &l)?;
        Ok(b.iter().map(|&x| Dynamic::from(x as INT)).collect())
    });

    register_split(e, l);
    register_text(e, l, budget);

    // Replacing: the result can be as many times longer as there are matches.
    e.register_fn(
        "replace",
        move |s: &mut ImmutableString, find: &str, with: &str| -> Res<()> {
            replace(s, find, with, &l)
        },
    )
    .register_fn(
        "replace",
        move |s: &mut ImmutableString, find: char, with: &str| -> Res<()> {
            replace(s, &find.to_string(), with, &l)
        },
    );

    // parse_json reads JSON and nothing else: Rhai's own parses the text as a Rhai map
    // literal, so that `{"a": print("x")}` runs code, past --max-names and --max-input-size.
    e.register_fn("parse_json", move |json: &str| -> Res<Dynamic> {
        string_limit("parse_json", json.len(), &l)?;
        let v: serde_json::Value = serde_json::from_str(json)
            .map_err(|err| super::einval(format!("parse_json: not JSON: {err}")))?;
        json_value(v, &l)
    });
}

/// A JSON value as a script value, each array and object held to the sandbox's limits
/// (serde_json refuses nesting deeper than 128).
fn json_value(v: serde_json::Value, l: &Limits) -> Res<Dynamic> {
    use serde_json::Value;
    Ok(match v {
        Value::Null => Dynamic::UNIT,
        Value::Bool(b) => Dynamic::from(b),
        Value::Number(n) => match n.as_i64() {
            Some(i) => Dynamic::from(i),
            None => Dynamic::from(n.as_f64().unwrap_or(f64::NAN)),
        },
        Value::String(s) => Dynamic::from(s),
        Value::Array(a) => {
            array_limit("parse_json", a.len(), l)?;
            let out: Res<Array> = a.into_iter().map(|x| json_value(x, l)).collect();
            Dynamic::from_array(out?)
        }
        Value::Object(o) => {
            if o.len() > l.max_map_size {
                return Err(Stop::Map {
                    what: "parse_json".to_string(),
                    size: o.len(),
                    limit: l.max_map_size,
                }
                .into_rhai());
            }
            let mut m = Map::new();
            for (k, x) in o {
                m.insert(k.into(), json_value(x, l)?);
            }
            Dynamic::from_map(m)
        }
    })
}

fn no_sleep() -> Box<EvalAltResult> {
    super::throw(mm::MmError::NotPermitted(
        "sleep() is not available in the sandbox: scripts run as fast as they can (time them \
         with timestamp())"
            .to_string(),
    ))
}

fn replace(s: &mut ImmutableString, find: &str, with: &str, l: &Limits) -> Res<()> {
    if s.is_empty() {
        return Ok(());
    }
    // An empty pattern matches between every two characters and at both ends.
    let matches = if find.is_empty() {
        s.chars().count() + 1
    } else {
        s.matches(find).count()
    };
    let size = (s.len() - matches * find.len()).saturating_add(matches.saturating_mul(with.len()));
    string_limit("replace", size, l)?;
    *s = s.replace(find, with).into();
    Ok(())
}

/// How long the text of the items would be, about (every copy of a string counted), or the
/// limit the items break. Measures at most the limit's worth before it says no.
fn text_size(items: &mut dyn Iterator<Item = &Dynamic>, l: &Limits) -> Result<usize, Stop> {
    let mut m = Measure::new(l);
    let mut total = 0usize;
    for x in items {
        let s = m.value(x, &|| "the value".to_string())?;
        total = total.saturating_add(s.bytes);
        if total > l.max_string_size {
            break;
        }
    }
    Ok(total)
}

/// What Rhai's print_with_func() makes of one item: its to_debug, through whatever is
/// registered for its type (so a Machine prints as Machine(arch)).
fn debug_text(ctx: &rhai::NativeCallContext, x: &mut Dynamic) -> String {
    match ctx.call_native_fn_raw("to_debug", true, &mut [x]) {
        Ok(r) if r.is_string() => r.into_string().unwrap_or_default(),
        Ok(r) => ctx.engine().map_type_name(r.type_name()).to_string(),
        Err(_) => ctx.engine().map_type_name(&format!("{x:?}")).to_string(),
    }
}

/// Printing, interpolating and comparing arrays and maps, as Rhai's format_array(),
/// format_map() and equality do, but refused (E2BIG) when the text would pass
/// --max-string-size or the values are too big to compare: copies of a shared string cost
/// the heap 16 bytes each and the text all of it.
fn register_text(e: &mut Engine, l: Limits, budget: &Rc<Budget>) {
    // Rhai prints a value whole when its to_string fails inside an interpolation: a value
    // too big to print gives a short text saying so, and the script stops at its next step.
    let b = budget.clone();
    let refuse = Rc::new(
        move |what: &str, r: Result<usize, Stop>| -> Option<ImmutableString> {
            let stop = match r {
                Ok(size) if size <= l.max_string_size => return None,
                Ok(size) => Stop::String {
                    what: format!("{what}: the text would be about"),
                    size,
                    limit: l.max_string_size,
                },
                Err(stop) => stop,
            };
            let text = format!("({what}: too big to print)");
            b.stop_soon(stop);
            Some(text.into())
        },
    );
    let r = refuse.clone();
    let format_array = move |ctx: rhai::NativeCallContext, a: &mut Array| -> Res<ImmutableString> {
        if let Some(t) = r("printing an array", text_size(&mut a.iter(), &l)) {
            return Ok(t);
        }
        let mut out = String::from("[");
        let n = a.len();
        for (i, x) in a.iter_mut().enumerate() {
            out.push_str(&debug_text(&ctx, x));
            if i + 1 < n {
                out.push_str(", ");
            }
        }
        out.push(']');
        Ok(out.into())
    };
    let r = refuse.clone();
    let format_map = move |ctx: rhai::NativeCallContext, m: &mut Map| -> Res<ImmutableString> {
        if let Some(t) = r("printing a map", text_size(&mut m.values(), &l)) {
            return Ok(t);
        }
        let mut out = String::from("#{");
        let n = m.len();
        for (i, (k, v)) in m.iter_mut().enumerate() {
            // A physical address reads in hex, as the kernel prints one (and as Rhai reads it
            // back).
            let text = match v.as_int() {
                Ok(i) if i >= 0 && super::show::is_address(k) => format!("{i:#x}"),
                _ => debug_text(&ctx, v),
            };
            out.push_str(&format!("{k:?}: {text}"));
            if i + 1 < n {
                out.push_str(", ");
            }
        }
        out.push('}');
        Ok(out.into())
    };
    let (format_array, format_map) = (Rc::new(format_array), Rc::new(format_map));
    for name in ["print", "to_string", "debug", "to_debug"] {
        let f = format_array.clone();
        e.register_fn(name, move |ctx: rhai::NativeCallContext, a: &mut Array| {
            f(ctx, a)
        });
        let f = format_map.clone();
        e.register_fn(name, move |ctx: rhai::NativeCallContext, m: &mut Map| {
            f(ctx, m)
        });
    }
    e.register_fn("to_json", move |m: &mut Map| -> Res<String> {
        match text_size(&mut m.values(), &l) {
            Ok(size) if size > l.max_string_size => Err(Stop::String {
                what: "to_json: the text would be about".to_string(),
                size,
                limit: l.max_string_size,
            }
            .into_rhai()),
            Err(stop) => Err(stop.into_rhai()),
            Ok(_) => Ok(super::to_json(&Dynamic::from(m.clone())).to_string()),
        }
    });
    // Equality walks both values (as Rhai's equals() do, element by element through
    // "=="), after checking they are not too big to compare.
    fn pair_size(a: &mut dyn Iterator<Item = &Dynamic>, l: &Limits) -> Res<()> {
        let limit = l.max_string_size.saturating_mul(16);
        let mut m = Measure::new(l);
        let mut total = 0usize;
        for x in a {
            let s = m
                .value(x, &|| "a value compared".to_string())
                .map_err(Stop::into_rhai)?;
            total = total.saturating_add(s.bytes);
            if total > limit {
                return Err(Stop::String {
                    what: "comparing values this big: about".to_string(),
                    size: total,
                    limit,
                }
                .into_rhai());
            }
        }
        Ok(())
    }
    fn equal(ctx: &rhai::NativeCallContext, a: &mut Dynamic, b: &mut Dynamic) -> Res<bool> {
        let same_type = a.type_id() == b.type_id();
        match ctx.call_native_fn_raw("==", true, &mut [a, b]) {
            Ok(r) => Ok(r.as_bool().unwrap_or(false)),
            Err(err) => match *err {
                EvalAltResult::ErrorFunctionNotFound(ref sig, ..)
                    if sig.starts_with("==") && !same_type =>
                {
                    Ok(false)
                }
                _ => Err(err),
            },
        }
    }
    let arrays_equal =
        move |ctx: rhai::NativeCallContext, a: &mut Array, mut b: Array| -> Res<bool> {
            if a.len() != b.len() {
                return Ok(false);
            }
            pair_size(&mut a.iter().chain(b.iter()), &l)?;
            for (x, y) in a.iter_mut().zip(b.iter_mut()) {
                if !equal(&ctx, x, y)? {
                    return Ok(false);
                }
            }
            Ok(true)
        };
    let maps_equal = move |ctx: rhai::NativeCallContext, a: &mut Map, mut b: Map| -> Res<bool> {
        if a.len() != b.len() {
            return Ok(false);
        }
        pair_size(&mut a.values().chain(b.values()), &l)?;
        for (k, x) in a.iter_mut() {
            let Some(y) = b.get_mut(k) else {
                return Ok(false);
            };
            if !equal(&ctx, x, y)? {
                return Ok(false);
            }
        }
        Ok(true)
    };
    e.register_fn("==", arrays_equal)
        .register_fn(
            "!=",
            move |ctx: rhai::NativeCallContext, a: &mut Array, b: Array| {
                arrays_equal(ctx, a, b).map(|x| !x)
            },
        )
        .register_fn("==", maps_equal)
        .register_fn(
            "!=",
            move |ctx: rhai::NativeCallContext, a: &mut Map, b: Map| {
                maps_equal(ctx, a, b).map(|x| !x)
            },
        );
}

/// Rhai's split family, each counting its pieces before it makes them.
fn register_split(e: &mut Engine, l: Limits) {
    fn pieces<'a>(it: impl Iterator<Item = &'a str> + Clone, l: &Limits) -> Res<Array> {
        array_limit("split", it.clone().count(), l)?;
        Ok(it
            .map(|p| Dynamic::from(ImmutableString::from(p)))
            .collect())
    }
    /// Rhai gives the string back whole when it is empty or has no delimiter in it.
    fn whole(s: &ImmutableString) -> Array {
        vec![Dynamic::from(s.clone())]
    }
    e.register_fn("split", move |s: ImmutableString| -> Res<Array> {
        if s.is_empty() {
            return Ok(whole(&s));
        }
        pieces(s.split_whitespace(), &l)
    })
    .register_fn("split", move |s: ImmutableString, d: &str| -> Res<Array> {
        if s.is_empty() || (!d.is_empty() && !s.contains(d)) {
            return Ok(whole(&s));
        }
        pieces(s.split(d), &l)
    })
    .register_fn("split", move |s: ImmutableString, d: char| -> Res<Array> {
        if s.is_empty() || !s.contains(d) {
            return Ok(whole(&s));
        }
        pieces(s.split(d), &l)
    })
    .register_fn(
        "split",
        move |s: ImmutableString, d: &str, n: INT| -> Res<Array> {
            if n <= 1 || s.is_empty() || (!d.is_empty() && !s.contains(d)) {
                return Ok(whole(&s));
            }
            pieces(s.splitn(count(n), d), &l)
        },
    )
    .register_fn(
        "split",
        move |s: ImmutableString, d: char, n: INT| -> Res<Array> {
            if n <= 1 || s.is_empty() || !s.contains(d) {
                return Ok(whole(&s));
            }
            pieces(s.splitn(count(n), d), &l)
        },
    )
    .register_fn(
        "split_rev",
        move |s: ImmutableString, d: &str| -> Res<Array> {
            if s.is_empty() || (!d.is_empty() && !s.contains(d)) {
                return Ok(whole(&s));
            }
            pieces(s.rsplit(d), &l)
        },
    )
    .register_fn(
        "split_rev",
        move |s: ImmutableString, d: char| -> Res<Array> {
            if s.is_empty() || !s.contains(d) {
                return Ok(whole(&s));
            }
            pieces(s.rsplit(d), &l)
        },
    )
    .register_fn(
        "split_rev",
        move |s: ImmutableString, d: &str, n: INT| -> Res<Array> {
            if n <= 1 || s.is_empty() || (!d.is_empty() && !s.contains(d)) {
                return Ok(whole(&s));
            }
            pieces(s.rsplitn(count(n), d), &l)
        },
    )
    .register_fn(
        "split_rev",
        move |s: ImmutableString, d: char, n: INT| -> Res<Array> {
            if n <= 1 || s.is_empty() || !s.contains(d) {
                return Ok(whole(&s));
            }
            pieces(s.rsplitn(count(n), d), &l)
        },
    );
}
