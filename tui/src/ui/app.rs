//! The UI's state and the update step that turns a key, a mouse event or a worker reply
//! into a new state. Rendering (render.rs) only reads it.

use super::keys::{self, Action};
use super::worker::{Pause, Reply, Request, Worker};
use mm::read::MapView;
use mm::Machine;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers, MouseEvent, MouseEventKind};

/// The panes that take keys, in Tab order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Focus {
    Map,
    Blocks,
    Log,
    Repl,
}

impl Focus {
    const ORDER: [Focus; 4] = [Focus::Map, Focus::Blocks, Focus::Log, Focus::Repl];

    fn step(self, by: isize) -> Focus {
        let i = Focus::ORDER.iter().position(|f| *f == self).unwrap_or(0) as isize;
        Focus::ORDER[(i + by).rem_euclid(4) as usize]
    }
}

/// One architecture on screen.
pub struct Pane {
    /// The configuration and version the pane's session boots.
    pub target: arch::Target,
    pub machine: Option<Box<Machine>>,
    pub view: MapView,
    /// Sections the last input changed.
    pub changed: Vec<(u64, u64)>,
    pub error: Option<String>,
}

/// A line of REPL output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Out {
    Input(String),
    Text(String),
    Error(String),
    Note(String),
}

/// The REPL pane.
#[derive(Debug, Default)]
pub struct Repl {
    /// The input, possibly several lines, and the cursor on its last line.
    pub input: super::input::Input,
    pub history: Vec<String>,
    pub hist_pos: Option<usize>,
    pub output: Vec<(Option<usize>, Out)>,
    /// Lines scrolled back from the end.
    pub scroll: usize,
}

/// The script player: the script runs as a whole on each pane's session and pauses before
/// every call that changes a machine.
#[derive(Debug, Clone)]
pub struct Player {
    pub path: String,
    pub source: String,
    /// Where pane 0's run is paused (before the call to come), if it is.
    pub at: Option<Pause>,
    /// Steps asked for while one was running (keys pressed ahead, or a replay on a new
    /// session going back to where the last one stood); `usize::MAX` runs to the end.
    pub queued: usize,
    /// The script has started.
    pub started: bool,
    /// It ran to its end, or stopped with an error.
    pub ended: bool,
    pub failed: bool,
}

/// The map's zoom: sections per cell as a power of two, or one section's sub-sections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Zoom {
    Sections(u32),
    Subsections,
}

/// Where the UI starts.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// The targets on screen (several: side by side); none means the boot
    /// configuration's own.
    pub targets: Vec<arch::Target>,
    /// What every pane boots from (its target aside): the command line, --iomem, --strict,
    /// --host or --sysroot.
    pub boot: crate::script::BootConfig,
    pub script: Option<(String, String)>,
    /// The sandbox every input runs in.
    pub limits: crate::script::Limits,
    /// Where `p` writes pictures.
    pub svg_out: std::path::PathBuf,
}

pub struct App {
    pub opts: Options,
    pub panes: Vec<Pane>,
    /// The architecture configuration shown alone (`a` steps through the registry).
    pub config: &'static arch::Config,
    /// The kernel version the panes model (`L` steps through the versions).
    pub kernel: &'static arch::Kernel,
    /// The design variant (`hotplug_lab.design=`), switched like the architecture.
    pub design: &'static str,
    pub compare: bool,
    /// Compare kernel versions: one architecture on every modelled version side by side.
    pub compare_kernels: bool,
    /// Architectures compare mode shows.
    pub compare_archs: Vec<&'static arch::Config>,
    pub focus: Focus,
    pub help: bool,
    /// Lines the help overlay is scrolled by.
    pub help_scroll: u16,
    pub zoom: Option<Zoom>,
    /// The section under the map cursor.
    pub cursor: u64,
    pub block_row: usize,
    pub log_scroll: usize,
    pub show_script: bool,
    pub repl: Repl,
    pub player: Option<Player>,
    /// Inputs evaluated since boot, replayed when the architecture changes.
    pub applied: Vec<String>,
    pub status: String,
    /// R was pressed with REPL inputs to lose: the next key says whether to reboot.
    pub confirm_reset: bool,
    /// The status line shows what a Tab found: the next key clears it.
    pub status_from_tab: bool,
    /// REPL inputs entered while another ran, in order.
    pub queued_inputs: std::collections::VecDeque<String>,
    /// The architecture picker is open, on this configuration of the registry.
    pub picker: Option<usize>,
    /// The focused pane fills the screen.
    pub maximized: bool,
    /// The run of blocks the blocks pane shows block by block (its first block's id).
    pub expanded: Option<u64>,
    /// The last warning the worker sent, shown on the status line when it is idle.
    pub warning: Option<String>,
    pub quit: bool,
    pub worker: Worker,
    /// Rows of the map pane at the last draw, for page moves.
    pub map_rows: u16,
    pub map_cols: u16,
}

impl App {
    /// The blocks pane's rows for pane `i`: lsmem-like runs, the expanded one (Enter) a row
    /// per block.
    pub fn block_rows(&self, i: usize) -> Vec<mm::read::BlockRow> {
        let Some(p) = self.panes.get(i) else {
            return Vec::new();
        };
        let bs = p.machine.as_deref().map_or(0, |m| m.block_size());
        let mut out = Vec::with_capacity(p.view.rows.len());
        for r in &p.view.rows {
            if Some(r.first) == self.expanded && r.last > r.first && bs > 0 {
                out.extend((r.first..=r.last).map(|id| mm::read::BlockRow {
                    first: id,
                    last: id,
                    start: r.start + (id - r.first) * bs,
                    size: bs,
                    ..r.clone()
                }));
            } else {
                out.push(r.clone());
            }
        }
        out
    }

    /// Enter on a run of blocks shows it block by block; on a block of an expanded run it
    /// folds the run again.
    fn toggle_run(&mut self) {
        let rows = self.block_rows(0);
        let Some(r) = rows.get(self.block_row) else {
            return;
        };
        let run = self.panes[0]
            .view
            .rows
            .iter()
            .find(|x| x.first <= r.first && r.first <= x.last)
            .map(|x| (x.first, x.last));
        match run {
            Some((first, _)) if self.expanded == Some(first) => {
                self.expanded = None;
                // Back on the run's row.
                self.block_row = self
                    .block_rows(0)
                    .iter()
                    .position(|x| x.first == first)
                    .unwrap_or(0);
            }
            Some((first, last)) if last > first => {
                self.expanded = Some(first);
                self.status = format!("blocks {first}-{last} one by one (Enter folds them)");
            }
            _ => {}
        }
    }

    /// The command line machines boot with: the user's, and the design when it is not
    /// mainline.
    pub fn cmdline(&self) -> String {
        if self.design == "mainline" {
            self.opts.boot.cmdline.clone()
        } else {
            format!(
                "{} hotplug_lab.design={}",
                self.opts.boot.cmdline, self.design
            )
            .trim()
            .to_string()
        }
    }

    /// The app with its machines booting on the script worker; fails only when the worker
    /// thread cannot be started.
    pub fn new(opts: Options) -> std::io::Result<App> {
        let targets = if opts.targets.is_empty() {
            vec![opts.boot.target]
        } else {
            opts.targets.clone()
        };
        let compare = targets.len() > 1;
        let compare_archs = if compare {
            targets.iter().map(|t| t.config).collect()
        } else {
            arch::Config::all().collect()
        };
        let mut app = App {
            config: targets[0].config,
            kernel: targets[0].kernel,
            design: "mainline",
            compare,
            compare_kernels: false,
            compare_archs,
            panes: Vec::new(),
            focus: Focus::Map,
            help: false,
            help_scroll: 0,
            zoom: None,
            cursor: 0,
            block_row: 0,
            log_scroll: 0,
            show_script: false,
            repl: Repl::default(),
            player: None,
            applied: Vec::new(),
            status: String::new(),
            confirm_reset: false,
            status_from_tab: false,
            queued_inputs: std::collections::VecDeque::new(),
            picker: None,
            maximized: false,
            expanded: None,
            warning: None,
            quit: false,
            worker: Worker::spawn()?,
            map_rows: 0,
            map_cols: 0,
            opts,
        };
        app.setup(Vec::new());
        if let Some((path, source)) = app.opts.script.clone() {
            app.load_script(&path, &source);
        }
        app.repl.output.push((
            None,
            Out::Note(
                "`m` is the machine on screen. Press : to type, then try \
                 m.add_memory(m.hotplug_base, 1 * GiB); help() lists the API; ? shows the keys."
                    .into(),
            ),
        ));
        Ok(app)
    }

    /// The targets on screen: every modelled version of the configuration when comparing
    /// versions, the compared configurations on the chosen version, or the one.
    pub fn targets(&self) -> Vec<arch::Target> {
        if self.compare_kernels {
            arch::KERNELS
                .iter()
                .map(|k| arch::Target::new(self.config, k))
                .collect()
        } else if self.compare {
            self.compare_archs
                .iter()
                .map(|c| arch::Target::new(c, self.kernel))
                .collect()
        } else {
            vec![arch::Target::new(self.config, self.kernel)]
        }
    }

    /// The names of the panes, for status lines.
    pub fn pane_names(&self) -> Vec<String> {
        self.targets()
            .iter()
            .map(|t| {
                if self.compare_kernels {
                    format!("{} {}", t.name(), t.kernel.name)
                } else {
                    t.name().to_string()
                }
            })
            .collect()
    }

    /// Boot a session per architecture on screen, replaying `replay`.
    fn setup(&mut self, replay: Vec<String>) {
        let targets = self.targets();
        let archs = self.pane_names();
        if !replay.is_empty() {
            self.repl.output.push((
                None,
                Out::Note(format!(
                    "replaying {} input{} on {}:",
                    replay.len(),
                    if replay.len() == 1 { "" } else { "s" },
                    archs.join(", ")
                )),
            ));
        }
        self.panes = targets
            .iter()
            .map(|t| Pane {
                target: *t,
                machine: None,
                view: MapView::default(),
                changed: Vec::new(),
                error: None,
            })
            .collect();
        let mut boot = self.opts.boot.clone();
        boot.cmdline = self.cmdline();
        self.worker.send(Request::Setup {
            boots: targets.iter().map(|t| boot.on(*t)).collect(),
            replay,
            limits: self.opts.limits,
        });
        if let Some(p) = self.player.as_mut() {
            // A new session starts the script from its beginning, and runs it on to where
            // the last one stood: to the same call, or to the end.
            let back_to = match (&p.at, p.ended) {
                (_, true) => Some(usize::MAX),
                (Some(at), _) => Some(at.calls + 1),
                (None, _) => None,
            };
            p.at = None;
            p.started = false;
            p.ended = false;
            p.failed = false;
            p.queued = back_to.unwrap_or(0);
            let source = p.source.clone();
            let path = p.path.clone();
            self.worker.send(Request::Load { source });
            if let Some(n) = back_to {
                let to = if n == usize::MAX {
                    "its end".to_string()
                } else {
                    format!("call {n}")
                };
                self.repl.output.push((
                    None,
                    Out::Note(format!(
                        "re-running {path} to {to} on {}:",
                        archs.join(", ")
                    )),
                ));
            }
        }
        self.status = format!("booting {}", self.pane_names().join(", "));
    }

    pub fn load_script(&mut self, path: &str, source: &str) {
        self.player = Some(Player {
            path: path.to_string(),
            source: source.to_string(),
            at: None,
            queued: 0,
            started: false,
            ended: false,
            failed: false,
        });
        self.show_script = true;
        self.worker.send(Request::Load {
            source: source.to_string(),
        });
    }

    /// Apply what the worker has sent.
    pub fn pump(&mut self) {
        for r in self.worker.poll() {
            self.on_reply(r);
        }
    }

    /// Wait until the worker is idle (tests).
    pub fn settle(&mut self) {
        while self.worker.busy() {
            match self
                .worker
                .recv_timeout(std::time::Duration::from_secs(120))
            {
                Some(r) => self.on_reply(r),
                None => break,
            }
        }
        self.pump();
    }

    pub fn busy(&self) -> bool {
        self.worker.busy()
    }

    pub fn on_reply(&mut self, r: Reply) {
        match r {
            Reply::Ready {
                pane,
                machine,
                error,
            } => {
                if let Some(p) = self.panes.get_mut(pane) {
                    p.view = machine.as_deref().map(MapView::of).unwrap_or_default();
                    p.machine = machine;
                    p.error = error.clone();
                    p.changed.clear();
                }
                if let Some(e) = error {
                    self.repl
                        .output
                        .push((Some(pane), Out::Error(format!("boot: {e}"))));
                }
                if pane == 0 {
                    if let Some(m) = self.panes[0].machine.as_deref() {
                        self.cursor = first_present(m);
                    }
                }
                self.status = format!("{} ready", self.pane_names().join(", "));
            }
            Reply::Line { pane, text } => {
                self.push_out(pane, Out::Text(text));
            }
            Reply::Replayed { pane, src } => {
                let arch = self
                    .panes
                    .get(pane)
                    .map_or("?", |p| p.target.name())
                    .to_string();
                for (i, l) in src.lines().enumerate() {
                    let prompt = if i == 0 { "> " } else { ". " };
                    self.repl
                        .output
                        .push((None, Out::Input(format!("[{arch}, replayed] {prompt}{l}"))));
                }
            }
            Reply::Warning { pane, text } => {
                self.push_out(pane, Out::Error(format!("warning: {text}")));
                self.warning = Some(text);
            }
            Reply::Done {
                pane,
                outcome,
                machine,
                interrupted,
            } => {
                // An input Ctrl-C stopped is not replayed (a, L, c would run it whole).
                if interrupted && pane == 0 {
                    self.applied.pop();
                    self.push_out(
                        pane,
                        Out::Note("(interrupted: a, L and c will not replay it)".to_string()),
                    );
                }
                match outcome {
                    Ok(Some(v)) => {
                        for l in v.lines() {
                            self.push_out(pane, Out::Text(l.to_string()));
                        }
                    }
                    Ok(None) => {}
                    Err(e) => self.push_out(pane, Out::Error(e)),
                }
                self.show_machine(pane, machine);
            }
            Reply::Paused { pane, at, machine } => {
                if machine.is_some() {
                    self.show_machine(pane, machine);
                }
                if pane == 0 {
                    if let Some(p) = self.player.as_mut() {
                        self.status = format!(
                            "next: {} at {}:{} (call {}): n runs it, r to the end",
                            at.call,
                            at.line,
                            at.column,
                            at.calls + 1
                        );
                        p.at = Some(at);
                    }
                }
            }
            Reply::Ended { pane, calls } => {
                if pane == 0 {
                    if let Some(p) = self.player.as_mut() {
                        p.ended = true;
                        p.at = None;
                        self.status = format!(
                            "the script ended after {calls} call{} that changed a machine (R rewinds it)",
                            if calls == 1 { "" } else { "s" }
                        );
                    }
                }
            }
            Reply::Idle => {
                if !self.worker.busy() {
                    let paused = self
                        .player
                        .as_ref()
                        .is_some_and(|p| p.at.is_some() || p.ended);
                    if let Some(w) = self.warning.take() {
                        self.status = format!("ready; warning: {w}");
                    } else if !paused {
                        self.status = "ready".into();
                    }
                }
            }
        }
        self.run_queued();
        self.clamp();
    }

    /// Ctrl-C stops what runs and what waits behind it.
    fn drop_queued(&mut self) {
        let n = self.queued_inputs.len();
        if n > 0 {
            self.queued_inputs.clear();
            self.repl.output.push((
                None,
                Out::Note(format!(
                    "({n} waiting input{} dropped)",
                    if n == 1 { "" } else { "s" }
                )),
            ));
        }
    }

    /// Take the next queued input, or step, once the last one is done.
    fn run_queued(&mut self) {
        if self.worker.busy() {
            return;
        }
        if let Some(src) = self.queued_inputs.pop_front() {
            self.submit(src);
            return;
        }
        let Some(p) = self.player.as_mut() else {
            return;
        };
        if p.queued == 0 || p.ended {
            p.queued = 0;
            return;
        }
        let to_end = p.queued == usize::MAX;
        p.queued = if to_end { 0 } else { p.queued - 1 };
        self.step(to_end);
    }

    /// Add a pane's output line. With several panes, an input's lines read in pane order
    /// whatever order the panes finish in: a line goes before the later panes' lines that
    /// follow the input.
    fn push_out(&mut self, pane: usize, o: Out) {
        let tag = (self.panes.len() > 1).then_some(pane);
        let out = &mut self.repl.output;
        let mut at = out.len();
        if tag.is_some() {
            while at > 0 && matches!(out[at - 1].0, Some(t) if t > pane) {
                at -= 1;
            }
        }
        out.insert(at, (tag, o));
        // Keep the scrollback bounded.
        let max = 5000;
        if self.repl.output.len() > max {
            let cut = self.repl.output.len() - max;
            self.repl.output.drain(..cut);
        }
    }

    /// Run REPL input on every pane.
    pub fn submit(&mut self, src: String) {
        let trimmed = src.trim_end().to_string();
        if trimmed.is_empty() {
            return;
        }
        // While an input runs, the next waits its turn: it shows (and runs) after the
        // result of the one before.
        if self.worker.busy() {
            if self.repl.history.last() != Some(&trimmed) {
                self.repl.history.push(trimmed.clone());
            }
            self.repl.hist_pos = None;
            self.queued_inputs.push_back(trimmed);
            self.status = format!(
                "running… {} input{} waiting (Ctrl-C interrupts)",
                self.queued_inputs.len(),
                if self.queued_inputs.len() == 1 {
                    ""
                } else {
                    "s"
                }
            );
            return;
        }
        for (i, l) in trimmed.lines().enumerate() {
            let prompt = if i == 0 { "> " } else { ". " };
            self.repl
                .output
                .push((None, Out::Input(format!("{prompt}{l}"))));
        }
        if self.repl.history.last() != Some(&trimmed) {
            self.repl.history.push(trimmed.clone());
        }
        self.repl.hist_pos = None;
        self.repl.scroll = 0;
        self.applied.push(trimmed.clone());
        self.worker.send(Request::Eval { src: trimmed });
        self.status = "running… (Ctrl-C interrupts)".into();
    }

    /// Run the script to its next call that changes a machine (`to_end`: to its end).
    pub fn step(&mut self, to_end: bool) {
        let Some(p) = self.player.as_mut() else {
            self.status = "no script loaded (hotplug-lab tui SCRIPT)".into();
            return;
        };
        if p.ended {
            self.status = "the script has ended (R rewinds it)".into();
            return;
        }
        if !p.started {
            p.started = true;
            self.repl
                .output
                .push((None, Out::Input(format!("[{}] started", p.path))));
        }
        self.worker.send(if to_end {
            Request::RunAll
        } else {
            Request::Step
        });
        self.status = if to_end {
            "running the script to its end… (Ctrl-C interrupts)".into()
        } else {
            "running to the next call that changes a machine…".into()
        };
    }

    /// Show `machine` in pane `pane`, lighting up what changed.
    fn show_machine(&mut self, pane: usize, machine: Option<Box<Machine>>) {
        // Scrolled back, the log stays on the lines it shows as new ones come; at the end
        // (0) it follows them.
        if let (0, Some(old), Some(new)) = (
            pane,
            self.panes.first().and_then(|p| p.machine.as_deref()),
            machine.as_deref(),
        ) {
            if self.log_scroll > 0 && new.dmesg().len() >= old.dmesg().len() {
                self.log_scroll = self
                    .log_scroll
                    .saturating_add(new.dmesg().len() - old.dmesg().len());
            }
        }
        if let (Some(p), Some(m)) = (self.panes.get_mut(pane), machine) {
            let view = MapView::of(&m);
            p.changed = view.changed_since(&p.view);
            p.view = view;
            p.machine = Some(m);
        }
    }

    fn reset(&mut self) {
        self.worker.interrupt();
        if !self.applied.is_empty() {
            // What the REPL shows above came from the machines before.
            self.repl.output.push((
                None,
                Out::Note(format!(
                    "rebooted: the {} inputs above are forgotten (a, L and c replay none of them)",
                    self.applied.len()
                )),
            ));
        }
        self.applied.clear();
        self.status = "rebooted".into();
        // Rewound: the new session starts the script from its beginning and stays there.
        if let Some(p) = self.player.as_mut() {
            p.at = None;
            p.ended = false;
            p.queued = 0;
        }
        self.setup(Vec::new());
    }

    /// Pasted text goes into the REPL's input as it is (newlines too: Enter runs it), in
    /// one piece; more than an input may hold (--max-input-size) is refused whole.
    pub fn on_paste(&mut self, text: &str) {
        self.focus = Focus::Repl;
        let max = self.opts.limits.max_input;
        if (self.repl.input.len() + text.len()) as u64 > max {
            self.status = format!(
                "paste refused: {} would make the input longer than {} (--max-input-size)",
                arch::approx(text.len() as u64),
                arch::approx(max)
            );
            return;
        }
        let text = text.replace("\r\n", "\n").replace('\r', "\n");
        self.repl.input.insert_str(&text);
    }

    pub fn on_mouse(&mut self, e: MouseEvent) {
        match e.kind {
            MouseEventKind::ScrollUp => self.act(Action::Up),
            MouseEventKind::ScrollDown => self.act(Action::Down),
            _ => {}
        }
    }

    pub fn on_key(&mut self, e: KeyEvent) {
        if self.status_from_tab && e.code != KeyCode::Tab {
            self.status_from_tab = false;
            self.status.clear();
        }
        if self.help {
            // Up and down scroll the help, q quits, any other key closes it.
            match e.code {
                KeyCode::Up | KeyCode::Char('k') => {
                    self.help_scroll = self.help_scroll.saturating_sub(1)
                }
                KeyCode::Down | KeyCode::Char('j') => self.help_scroll += 1,
                KeyCode::PageUp => self.help_scroll = self.help_scroll.saturating_sub(10),
                KeyCode::PageDown => self.help_scroll += 10,
                KeyCode::Char('q') => self.quit = true,
                _ => {
                    self.help = false;
                    self.help_scroll = 0;
                }
            }
            return;
        }
        if self.confirm_reset {
            // R again or y confirms; any other key cancels, and does nothing else.
            self.confirm_reset = false;
            if matches!(e.code, KeyCode::Char('R') | KeyCode::Char('y')) {
                self.reset();
            } else {
                self.status = format!("kept the {} REPL inputs", self.applied.len());
            }
            return;
        }
        if let Some(at) = self.picker {
            self.picker_key(e, at);
            return;
        }
        // F2 maximises the focused pane from the REPL too (no text is typed with it).
        if e.code == KeyCode::F(2) {
            self.maximized = !self.maximized;
            return;
        }
        if self.focus == Focus::Repl {
            self.repl_key(e);
            return;
        }
        if let Some(a) = keys::action(&e) {
            self.act(a);
        }
    }

    fn repl_key(&mut self, e: KeyEvent) {
        let ctrl = e.modifiers.contains(KeyModifiers::CONTROL);
        let r = &mut self.repl;
        match e.code {
            KeyCode::Char('c') if ctrl => {
                if self.worker.busy() {
                    self.worker.interrupt();
                    self.drop_queued();
                    self.status = "interrupting…".into();
                } else {
                    r.input.clear();
                }
            }
            KeyCode::Char('d') if ctrl && r.input.is_empty() => self.quit = true,
            KeyCode::Char('u') if ctrl => r.input.clear_line(),
            // `:` focuses the REPL elsewhere; here, on an empty line, it is a no-op.
            KeyCode::Char(':') if !ctrl && r.input.is_empty() => {}
            KeyCode::Char(c) if !ctrl => {
                if (r.input.len() + c.len_utf8()) as u64 > self.opts.limits.max_input {
                    self.status = format!(
                        "the input is as long as an input may be ({}, --max-input-size)",
                        arch::approx(self.opts.limits.max_input)
                    );
                    return;
                }
                r.input.insert(c);
            }
            KeyCode::Backspace => r.input.backspace(),
            KeyCode::Left => r.input.left(),
            KeyCode::Right => r.input.right(),
            KeyCode::Home => r.input.home(),
            KeyCode::End => r.input.end(),
            KeyCode::Up => {
                if r.history.is_empty() {
                    return;
                }
                let i = match r.hist_pos {
                    Some(0) => 0,
                    Some(i) => i - 1,
                    None => r.history.len() - 1,
                };
                r.hist_pos = Some(i);
                r.input.set(r.history[i].clone());
            }
            KeyCode::Down => match r.hist_pos {
                Some(i) if i + 1 < r.history.len() => {
                    r.hist_pos = Some(i + 1);
                    r.input.set(r.history[i + 1].clone());
                }
                _ => {
                    r.hist_pos = None;
                    r.input.clear();
                }
            },
            KeyCode::PageUp => r.scroll += 5,
            KeyCode::PageDown => r.scroll = r.scroll.saturating_sub(5),
            KeyCode::Enter => {
                if incomplete(r.input.as_str()) {
                    r.input.newline();
                } else {
                    let src = r.input.take();
                    self.submit(src);
                }
            }
            // Only Esc leaves: a Tab (which completes) or anything else typed here never
            // reaches the map's keys.
            KeyCode::Esc => self.focus = Focus::Map,
            KeyCode::Tab => self.complete(),
            KeyCode::F(1) => self.help = true,
            _ => {}
        }
    }

    /// A key while the architecture picker is open: ↑↓ move, Enter (or `a` again) takes the
    /// configuration under the cursor, anything else closes it.
    fn picker_key(&mut self, e: KeyEvent, at: usize) {
        let n = arch::CONFIGS.len();
        match e.code {
            KeyCode::Up | KeyCode::Char('k') => self.picker = Some((at + n - 1) % n),
            KeyCode::Down | KeyCode::Char('j') => self.picker = Some((at + 1) % n),
            KeyCode::Enter | KeyCode::Char('a') => {
                self.picker = None;
                self.switch_arch(&arch::CONFIGS[at]);
            }
            _ => {
                self.picker = None;
                self.status = "architecture kept".into();
            }
        }
    }

    /// Boot `config` afresh and replay the REPL's inputs on it.
    fn switch_arch(&mut self, config: &'static arch::Config) {
        if self.compare {
            self.status = "leave compare mode (c) to switch architecture".into();
            return;
        }
        self.config = config;
        self.setup(self.applied.clone());
    }

    /// Tab in the REPL: the word before the cursor completed as the line REPL completes it;
    /// with several candidates, what they share, and the candidates on the status line.
    fn complete(&mut self) {
        let machine = self.panes.first().and_then(|p| p.machine.as_deref());
        let list = |dir: &str| machine.map(|m| m.list_dir(dir)).unwrap_or_default();
        let before = self.repl.input.before_cursor();
        let c = crate::script::complete::complete(before, &list);
        let typed = before.len() - c.start;
        match c.candidates.len() {
            0 => {
                self.status = "nothing to complete".into();
                self.status_from_tab = true;
            }
            1 => {
                let with = c.candidates[0].clone();
                self.repl.input.replace_before_cursor(typed, &with);
                self.status.clear();
            }
            n => {
                let with = c.common_prefix().to_string();
                self.repl.input.replace_before_cursor(typed, &with);
                self.status = format!("{n}: {}", c.candidates.join(" "));
                self.status_from_tab = true;
            }
        }
    }

    pub fn act(&mut self, a: Action) {
        match a {
            Action::Quit => self.quit = true,
            Action::Help => self.help = !self.help,
            Action::NextPane => self.focus = self.next_focus(1),
            Action::PrevPane => self.focus = self.next_focus(-1),
            Action::FocusRepl => self.focus = Focus::Repl,
            Action::Up | Action::Down | Action::Left | Action::Right => self.move_by(a),
            Action::PageUp | Action::PageDown => {
                let up = a == Action::PageUp;
                match self.focus {
                    Focus::Log => {
                        self.log_scroll = if up {
                            self.log_scroll + 10
                        } else {
                            self.log_scroll.saturating_sub(10)
                        }
                    }
                    Focus::Blocks => {
                        let rows = self.block_rows(0).len();
                        self.block_row = if up {
                            self.block_row.saturating_sub(10)
                        } else {
                            (self.block_row + 10).min(rows.saturating_sub(1))
                        }
                    }
                    _ => {
                        let rows = u64::from(self.map_rows.max(1));
                        for _ in 0..rows {
                            self.move_by(if up { Action::Up } else { Action::Down });
                        }
                    }
                }
            }
            Action::ZoomIn if self.focus == Focus::Blocks => self.toggle_run(),
            Action::ZoomIn => self.zoom_in(),
            Action::ZoomOut => self.zoom_out(),
            Action::PickArch | Action::PrevArch => {
                let n = arch::CONFIGS.len();
                let here = arch::CONFIGS
                    .iter()
                    .position(|c| std::ptr::eq(c, self.config))
                    .unwrap_or(0);
                if self.compare {
                    self.status = "leave compare mode (c) to switch architecture".into();
                } else if a == Action::PickArch {
                    // The list opens on the next one: `a` Enter steps forward as `a` did.
                    self.picker = Some((here + 1) % n);
                } else {
                    self.switch_arch(&arch::CONFIGS[(here + n - 1) % n]);
                }
            }
            Action::Maximize => self.maximized = !self.maximized,
            Action::Home => match self.focus {
                // Clamped to the oldest line at the next frame.
                Focus::Log => self.log_scroll = usize::MAX,
                Focus::Blocks => self.block_row = 0,
                _ => self.cursor = 0,
            },
            Action::End => match self.focus {
                Focus::Log => self.log_scroll = 0,
                Focus::Blocks => self.block_row = self.block_rows(0).len().saturating_sub(1),
                _ => {}
            },
            Action::NextKernel => {
                if self.compare_kernels {
                    self.status = "versions side by side: C (or c) goes back to one machine, \
                                   where L switches the version"
                        .into();
                } else {
                    let i = arch::KERNELS
                        .iter()
                        .position(|k| std::ptr::eq(*k, self.kernel))
                        .map_or(0, |i| (i + 1) % arch::KERNELS.len());
                    self.kernel = arch::KERNELS[i];
                    self.setup(self.applied.clone());
                }
            }
            Action::Picture => self.status = self.write_picture(),
            Action::CompareKernels => {
                self.pin_zoom();
                self.compare_kernels = !self.compare_kernels;
                // The side-by-side layout of compare mode, with a pane per version.
                self.compare = self.compare_kernels;
                self.setup(self.applied.clone());
            }
            Action::NextDesign => {
                let names = mm::design::names();
                let i = names
                    .iter()
                    .position(|n| *n == self.design)
                    .map_or(0, |i| (i + 1) % names.len());
                self.design = names[i];
                self.setup(self.applied.clone());
            }
            Action::Compare => {
                self.pin_zoom();
                self.compare = !self.compare;
                self.compare_kernels = false;
                if self.compare
                    && !self
                        .compare_archs
                        .iter()
                        .any(|c| std::ptr::eq(*c, self.config))
                {
                    self.compare_archs.insert(0, self.config);
                }
                self.setup(self.applied.clone());
            }
            // While a step runs, further steps queue (a key pressed ahead is not lost).
            Action::Step | Action::RunAll => {
                let to_end = a == Action::RunAll;
                match self.player.as_mut() {
                    Some(p) if self.worker.busy() && p.started && !p.ended => {
                        p.queued = if to_end {
                            usize::MAX
                        } else {
                            p.queued.saturating_add(1)
                        };
                    }
                    _ if self.worker.busy() => {}
                    _ => self.step(to_end),
                }
            }
            Action::Reset if !self.applied.is_empty() => {
                self.confirm_reset = true;
                let n = self.applied.len();
                self.status = format!(
                    "reboot and forget {n} REPL input{}? R or y: yes; any other key: no",
                    if n == 1 { "" } else { "s" }
                );
            }
            Action::Reset => self.reset(),
            Action::ToggleLog => {
                if self.player.is_none() {
                    self.status = "no script loaded: the log pane shows dmesg \
                                   (hotplug-lab tui SCRIPT plays one)"
                        .into();
                } else if self.compare {
                    self.status = "compare mode has no log pane: c goes back to one \
                                   architecture, where d shows the script"
                        .into();
                } else {
                    self.show_script = !self.show_script;
                }
            }
            Action::Interrupt => {
                self.worker.interrupt();
                self.drop_queued();
            }
            Action::Back => {
                if self.zoom.is_some() {
                    self.zoom_out();
                } else {
                    self.focus = Focus::Map;
                }
            }
        }
        self.clamp();
    }

    fn next_focus(&self, by: isize) -> Focus {
        let mut f = self.focus.step(by);
        // Compare mode has no blocks pane.
        if self.compare && f == Focus::Blocks {
            f = f.step(by);
        }
        f
    }

    /// Sections per map cell of pane 0 at the current zoom (the overview fits the whole
    /// view).
    pub fn sections_per_cell(&self) -> u64 {
        self.sections_per_cell_of(0)
    }

    /// Sections per map cell of pane `i`. Panes side by side share one scale in bytes, so
    /// that their rows start at the same addresses whatever their section sizes.
    pub fn sections_per_cell_of(&self, i: usize) -> u64 {
        let bits = |p: &Pane| {
            p.machine
                .as_deref()
                .map_or(27, |m| m.geometry().section_size_bits)
        };
        let Some(pane) = self.panes.get(i) else {
            return 1;
        };
        let mine = bits(pane);
        let first = self.panes.first().map_or(27, bits);
        let bytes = match self.zoom {
            Some(Zoom::Subsections) => return 1,
            Some(Zoom::Sections(k)) => 1u128 << (k + first),
            None => {
                let end = self
                    .panes
                    .iter()
                    .map(|p| u128::from(p.view.end_section.max(1)) << bits(p))
                    .max()
                    .unwrap_or(1);
                let cells = u128::from(self.map_rows.max(1)) * u128::from(self.row_cells());
                (end.div_ceil(cells)).next_power_of_two()
            }
        };
        (bytes >> mine).max(1) as u64
    }

    /// The map cursor in pane `i`'s sections (the cursor is kept in pane 0's).
    pub fn cursor_of(&self, i: usize) -> u64 {
        let bits = |i: usize| {
            self.panes
                .get(i)
                .and_then(|p| p.machine.as_deref())
                .map_or(27, |m| m.geometry().section_size_bits)
        };
        let (b0, bi) = (bits(0), bits(i));
        if b0 >= bi {
            self.cursor << (b0 - bi)
        } else {
            self.cursor >> (bi - b0)
        }
    }

    /// Cells per map row: the whole width of the map.
    pub fn row_cells(&self) -> u64 {
        u64::from(self.map_cols.max(1))
    }

    /// The zoom level (log2 of sections per cell) at which pane 0's whole section space,
    /// up to MAX_PHYSMEM_BITS, fits the map.
    fn widest_zoom(&self) -> u32 {
        let n = self.machine().map_or(1, |m| m.sections().nr_sections());
        let cells = u64::from(self.map_rows.max(1)) * self.row_cells();
        let per = n.div_ceil(cells.max(1)).next_power_of_two();
        per.trailing_zeros()
    }

    /// Keep the map's scale as it is when the layout changes (compare mode on or off): a
    /// map fitted to its pane would fit the new pane's size instead.
    fn pin_zoom(&mut self) {
        if self.zoom.is_none() {
            self.zoom = Some(Zoom::Sections(self.sections_per_cell().trailing_zeros()));
        }
    }

    fn zoom_in(&mut self) {
        let per = self.sections_per_cell();
        self.zoom = Some(if per <= 1 {
            Zoom::Subsections
        } else {
            Zoom::Sections((per / 2).trailing_zeros())
        });
    }

    /// Zoom out by a power of two, past the view that fits the machine's memory, up to the
    /// whole physical address space (a cell then shows what most of its sections are).
    fn zoom_out(&mut self) {
        let widest = self.widest_zoom();
        let fit = {
            let z = self.zoom.take();
            let per = self.sections_per_cell();
            self.zoom = z;
            per.trailing_zeros()
        };
        self.zoom = match self.zoom {
            Some(Zoom::Subsections) => Some(Zoom::Sections(0)),
            Some(Zoom::Sections(k)) if k + 1 == fit => None,
            Some(Zoom::Sections(k)) => Some(Zoom::Sections((k + 1).min(widest.max(fit)))),
            None if fit < widest => Some(Zoom::Sections(fit + 1)),
            None => None,
        };
    }

    fn move_by(&mut self, a: Action) {
        match self.focus {
            Focus::Blocks => match a {
                Action::Up => self.block_row = self.block_row.saturating_sub(1),
                Action::Down => {
                    let rows = self.block_rows(0).len();
                    self.block_row = (self.block_row + 1).min(rows.saturating_sub(1));
                }
                _ => {}
            },
            Focus::Log => match a {
                Action::Up => self.log_scroll += 1,
                Action::Down => self.log_scroll = self.log_scroll.saturating_sub(1),
                _ => {}
            },
            Focus::Repl => match a {
                Action::Up => self.repl.scroll += 1,
                Action::Down => self.repl.scroll = self.repl.scroll.saturating_sub(1),
                _ => {}
            },
            Focus::Map => {
                if self.zoom == Some(Zoom::Subsections) {
                    // One section on screen: move by whole sections.
                    match a {
                        Action::Left | Action::Up => self.cursor = self.cursor.saturating_sub(1),
                        _ => self.cursor += 1,
                    }
                    return;
                }
                let per = self.sections_per_cell();
                let cols = self.row_cells();
                let d = match a {
                    Action::Left | Action::Right => per,
                    _ => per * cols,
                };
                self.cursor = match a {
                    Action::Left | Action::Up => self.cursor.saturating_sub(d),
                    _ => self.cursor + d,
                };
            }
        }
    }

    /// Keep selections inside what exists.
    fn clamp(&mut self) {
        if let Some(p) = self.panes.first() {
            if let Some(m) = p.machine.as_deref() {
                let n = m.sections().nr_sections();
                self.cursor = self.cursor.min(n.saturating_sub(1));
            }
            let rows = self.block_rows(0).len();
            self.block_row = self.block_row.min(rows.saturating_sub(1));
        }
    }

    /// Pane 0's machine.
    /// `p`: the map of every pane (side by side when there are several) and the vmemmap
    /// of the block under the cursor, written under --svg-out as hotplug-lab-N.svg and
    /// hotplug-lab-N-vmemmap.svg (the first N free); what the status line says.
    fn write_picture(&mut self) -> String {
        let maps: Vec<(String, String)> = self
            .panes
            .iter()
            .filter_map(|p| {
                let m = p.machine.as_deref()?;
                Some((
                    format!("{} {}", m.target().name(), m.kernel().name),
                    crate::picture::map_svg(m, None),
                ))
            })
            .collect();
        if maps.is_empty() {
            return "p: no machine on screen to draw".to_string();
        }
        let map = if maps.len() == 1 {
            maps[0].1.clone()
        } else {
            crate::picture::side_by_side(&maps)
        };
        let dir = match self.opts.svg_out.as_os_str().is_empty() {
            true => std::path::PathBuf::from("."),
            false => self.opts.svg_out.clone(),
        };
        let n = (1u32..)
            .find(|n| std::fs::symlink_metadata(dir.join(format!("hotplug-lab-{n}.svg"))).is_err())
            .unwrap_or(1);
        let name = format!("hotplug-lab-{n}.svg");
        let mut said = match crate::picture::save::write_under(&dir, "", &name, map.as_bytes()) {
            Ok(p) => format!("wrote {}", p.display()),
            Err(e) => return format!("p: {}", e.reason()),
        };
        if let Some(m) = self.machine() {
            let nr = mm::units::SectionNr(self.cursor);
            let block = m.units().block_of_section(nr);
            if m.blocks().contains_key(&block) {
                let bs = m.block_size();
                let svg = crate::picture::vmemmap_svg(m, block.0 * bs, bs);
                let vname = format!("hotplug-lab-{n}-vmemmap.svg");
                match crate::picture::save::write_under(&dir, "", &vname, svg.as_bytes()) {
                    Ok(_) => said.push_str(&format!(" and {vname} (memory{}'s vmemmap)", block.0)),
                    Err(e) => said.push_str(&format!("; the vmemmap: {}", e.reason())),
                }
            }
        }
        said
    }

    pub fn machine(&self) -> Option<&Machine> {
        self.panes.first()?.machine.as_deref()
    }
}

fn first_present(m: &Machine) -> u64 {
    m.sections().present().next().map_or(0, |(n, _)| n.0)
}

/// Whether REPL input stops early (an open brace or string): Enter then adds a line.
pub fn incomplete(src: &str) -> bool {
    let engine = rhai::Engine::new_raw();
    let scope = rhai::Scope::new();
    crate::script::session::incomplete(&engine, &scope, src)
}
