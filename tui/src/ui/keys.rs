//! The key table: one list that both dispatches keys and writes the help overlay.

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// What a key does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Quit,
    Help,
    NextPane,
    PrevPane,
    FocusRepl,
    Up,
    Down,
    Left,
    Right,
    PageUp,
    PageDown,
    ZoomIn,
    ZoomOut,
    /// Open the architecture picker.
    PickArch,
    PrevArch,
    NextDesign,
    NextKernel,
    Compare,
    CompareKernels,
    /// Write what is on screen as SVG.
    Picture,
    Step,
    RunAll,
    Reset,
    ToggleLog,
    Interrupt,
    Back,
    /// The focused pane on the whole screen, and back.
    Maximize,
    /// The first / the last: the map's first section, the first block, the oldest log line.
    Home,
    End,
}

/// One row of the table.
pub struct Binding {
    pub keys: &'static [Key],
    /// How the help overlay writes the keys.
    pub shown: &'static str,
    pub help: &'static str,
    pub action: Action,
    /// What the status line says, in the panes of `panes` ("" for nothing).
    pub hint: &'static str,
    /// What it says when the long hints do not all fit.
    pub brief: &'static str,
    pub panes: u8,
}

/// Panes, as bits of `Binding::panes`.
pub const MAP: u8 = 1;
pub const BLOCKS: u8 = 2;
pub const LOG: u8 = 4;
pub const ALL: u8 = MAP | BLOCKS | LOG;

/// A key as the table writes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    Char(char),
    Ctrl(char),
    Code(KeyCode),
}

impl Key {
    fn matches(self, e: &KeyEvent) -> bool {
        let ctrl = e.modifiers.contains(KeyModifiers::CONTROL);
        match self {
            Key::Char(c) => !ctrl && e.code == KeyCode::Char(c),
            Key::Ctrl(c) => ctrl && e.code == KeyCode::Char(c),
            Key::Code(k) => e.code == k,
        }
    }
}

impl Binding {
    /// What the help overlay says of it, with the modelled Linux versions filled in
    /// (`{VERSIONS}`: "6.12, 6.1"; `{VERSIONS_AND}`: "6.12 and 6.1").
    pub fn help_text(&self) -> std::borrow::Cow<'static, str> {
        if !self.help.contains("{VERSIONS") {
            return self.help.into();
        }
        let names: Vec<&str> = arch::Kernel::names().collect();
        let and = match names.split_last() {
            Some((last, rest)) if !rest.is_empty() => format!("{} and {last}", rest.join(", ")),
            _ => names.join(""),
        };
        self.help
            .replace("{VERSIONS_AND}", &and)
            .replace("{VERSIONS}", &names.join(", "))
            .into()
    }
}

/// Keys outside the REPL's input line.
pub const BINDINGS: &[Binding] = &[
    Binding {
        keys: &[Key::Char('q')],
        shown: "q",
        help: "quit",
        action: Action::Quit,
        hint: "q quit",
        brief: "q quit",
        panes: ALL,
    },
    Binding {
        keys: &[Key::Char('?'), Key::Code(KeyCode::F(1))],
        shown: "? F1",
        help: "show or hide this help",
        action: Action::Help,
        hint: "? help",
        brief: "? help",
        panes: ALL,
    },
    Binding {
        keys: &[Key::Code(KeyCode::Tab)],
        shown: "Tab",
        help: "next pane (map, blocks, log, REPL)",
        action: Action::NextPane,
        hint: "Tab panes",
        brief: "Tab",
        panes: ALL,
    },
    Binding {
        keys: &[Key::Code(KeyCode::BackTab)],
        shown: "Shift-Tab",
        help: "previous pane",
        action: Action::PrevPane,
        hint: "",
        brief: "",
        panes: 0,
    },
    Binding {
        keys: &[Key::Char(':'), Key::Char('i')],
        shown: ": i",
        help: "type into the REPL (`m` is the machine; help() lists the API)",
        action: Action::FocusRepl,
        hint: ": type",
        brief: ": type",
        panes: ALL,
    },
    Binding {
        keys: &[Key::Code(KeyCode::Up), Key::Char('k')],
        shown: "↑ k",
        help: "move up (map cursor, block row, log)",
        action: Action::Up,
        hint: "↑↓ move",
        brief: "↑↓",
        panes: ALL,
    },
    Binding {
        keys: &[Key::Code(KeyCode::Down), Key::Char('j')],
        shown: "↓ j",
        help: "move down",
        action: Action::Down,
        hint: "",
        brief: "",
        panes: 0,
    },
    Binding {
        keys: &[Key::Code(KeyCode::Left), Key::Char('h')],
        shown: "← h",
        help: "move left on the map",
        action: Action::Left,
        hint: "",
        brief: "",
        panes: 0,
    },
    Binding {
        keys: &[Key::Code(KeyCode::Right), Key::Char('l')],
        shown: "→ l",
        help: "move right on the map",
        action: Action::Right,
        hint: "",
        brief: "",
        panes: 0,
    },
    Binding {
        keys: &[Key::Code(KeyCode::PageUp)],
        shown: "PgUp",
        help: "scroll up a page",
        action: Action::PageUp,
        hint: "",
        brief: "",
        panes: 0,
    },
    Binding {
        keys: &[Key::Code(KeyCode::Home)],
        shown: "Home",
        help: "to the start: the map's first section, the first block, the oldest log line",
        action: Action::Home,
        hint: "",
        brief: "",
        panes: 0,
    },
    Binding {
        keys: &[Key::Code(KeyCode::End)],
        shown: "End",
        help: "to the end: the last block, the newest log line (the log then follows new lines)",
        action: Action::End,
        hint: "",
        brief: "",
        panes: 0,
    },
    Binding {
        keys: &[Key::Code(KeyCode::PageDown)],
        shown: "PgDn",
        help: "scroll down a page",
        action: Action::PageDown,
        hint: "",
        brief: "",
        panes: 0,
    },
    Binding {
        keys: &[Key::Char('+'), Key::Char('='), Key::Code(KeyCode::Enter)],
        shown: "+ Enter",
        help: "zoom the map in around the cursor (down to one section's sub-sections); in the \
               blocks pane, show a run of blocks one by one, or fold it again",
        action: Action::ZoomIn,
        hint: "+/- zoom",
        brief: "+-",
        panes: MAP,
    },
    Binding {
        keys: &[Key::Char('-')],
        shown: "-",
        help: "zoom the map out",
        action: Action::ZoomOut,
        hint: "",
        brief: "",
        panes: 0,
    },
    Binding {
        keys: &[Key::Char('a')],
        shown: "a",
        help: "pick the architecture from a list (↑↓ and Enter, Esc cancels; a again or Enter \
               takes the next): a fresh machine boots and the REPL's inputs replay",
        action: Action::PickArch,
        hint: "a/A arch",
        brief: "a/A arch",
        panes: ALL,
    },
    Binding {
        keys: &[Key::Char('A')],
        shown: "A",
        help: "the previous architecture, without the list",
        action: Action::PrevArch,
        hint: "",
        brief: "",
        panes: 0,
    },
    Binding {
        keys: &[Key::Char('z'), Key::Code(KeyCode::F(2))],
        shown: "z F2",
        help: "the focused pane on the whole screen, and back (F2 in the REPL too)",
        action: Action::Maximize,
        hint: "z full screen",
        brief: "z",
        panes: ALL,
    },
    Binding {
        keys: &[Key::Char('v')],
        shown: "v",
        help: "switch design: mainline, rfc-2018, v3-2019, legacy-64m, section-only",
        action: Action::NextDesign,
        hint: "v design",
        brief: "v",
        panes: ALL,
    },
    Binding {
        keys: &[Key::Char('L')],
        shown: "L",
        help: "switch the Linux version: {VERSIONS} (boots afresh and replays the REPL's inputs)",
        action: Action::NextKernel,
        hint: "L linux",
        brief: "L",
        panes: ALL,
    },
    Binding {
        keys: &[Key::Char('C')],
        shown: "C",
        help: "compare Linux versions: this architecture on {VERSIONS_AND} side by side",
        action: Action::CompareKernels,
        hint: "C versions",
        brief: "C",
        panes: ALL,
    },
    Binding {
        keys: &[Key::Char('c')],
        shown: "c",
        help: "compare mode: the same inputs on several architectures side by side",
        action: Action::Compare,
        hint: "c compare",
        brief: "c",
        panes: ALL,
    },
    Binding {
        keys: &[Key::Char('n'), Key::Char('s')],
        shown: "n s",
        help: "script player: run on, stopping before the next call that changes a machine",
        action: Action::Step,
        hint: "n step",
        brief: "n",
        panes: ALL,
    },
    Binding {
        keys: &[Key::Char('r')],
        shown: "r",
        help: "script player: run to the end",
        action: Action::RunAll,
        hint: "r run",
        brief: "r",
        panes: ALL,
    },
    Binding {
        keys: &[Key::Char('R')],
        shown: "R",
        help: "reboot, forgetting the REPL's inputs (asks first when there are some), and \
               rewind the script",
        action: Action::Reset,
        hint: "R reboot",
        brief: "R",
        panes: ALL,
    },
    Binding {
        keys: &[Key::Char('d')],
        shown: "d",
        help: "show dmesg or the script in the log pane",
        action: Action::ToggleLog,
        hint: "d dmesg/script",
        brief: "d",
        panes: LOG,
    },
    Binding {
        keys: &[Key::Ctrl('c')],
        shown: "Ctrl-C",
        help: "interrupt what runs (in the REPL with nothing running: clear the input)",
        action: Action::Interrupt,
        hint: "",
        brief: "",
        panes: 0,
    },
    Binding {
        keys: &[Key::Code(KeyCode::Esc)],
        shown: "Esc",
        help: "back out: close help, leave the REPL, zoom out",
        action: Action::Back,
        hint: "",
        brief: "",
        panes: 0,
    },
    Binding {
        keys: &[Key::Char('p')],
        shown: "p",
        help: "picture: write the map on screen as SVG (the maps side by side when comparing) and \
               the vmemmap of the block under the cursor, under --svg-out (default: here)",
        action: Action::Picture,
        hint: "p picture",
        brief: "p",
        panes: ALL,
    },
];

/// The action of a key outside the REPL's input line.
pub fn action(e: &KeyEvent) -> Option<Action> {
    BINDINGS
        .iter()
        .find(|b| b.keys.iter().any(|k| k.matches(e)))
        .map(|b| b.action)
}

/// The status line's hints for the panes in `panes`, in table order.
pub fn hints(panes: u8, ctx: HintContext) -> Vec<(&'static str, &'static str)> {
    let applies = |b: &Binding| match b.action {
        Action::Step | Action::RunAll => ctx.script,
        Action::ToggleLog => ctx.script && !ctx.compare,
        Action::PickArch | Action::NextDesign => !ctx.compare,
        _ => true,
    };
    let mut v: Vec<&Binding> = BINDINGS
        .iter()
        .filter(|b| b.panes & panes != 0 && !b.hint.is_empty() && applies(b))
        .collect();
    // With a script, its keys come right after help's: they are what the user came for.
    if ctx.script {
        let player = |b: &&Binding| matches!(b.action, Action::Step | Action::RunAll);
        let (first, rest): (Vec<&Binding>, Vec<&Binding>) = v.iter().copied().partition(player);
        let at = v
            .iter()
            .position(|b| b.action == Action::Help)
            .map_or(0, |i| i + 1);
        let mut head: Vec<&Binding> = rest[..at.min(rest.len())].to_vec();
        head.extend(first);
        head.extend(&rest[at.min(rest.len())..]);
        v = head;
    }
    v.into_iter()
        .map(|b| match b.action {
            Action::Compare if ctx.compare => ("c one arch", "c"),
            _ => (b.hint, b.brief),
        })
        .collect()
}

/// What decides which keys the status line offers.
#[derive(Debug, Clone, Copy, Default)]
pub struct HintContext {
    /// A script is loaded (the player's keys do something).
    pub script: bool,
    /// Compare mode (no architecture or design switch, no log pane).
    pub compare: bool,
}

/// The status line's hints while the REPL has the keyboard.
pub const REPL_HINTS: &[&str] = &[
    "Enter run",
    "Tab complete",
    "Esc leave",
    "↑↓ history",
    "PgUp/PgDn scroll",
    "Ctrl-C interrupt or clear",
    "F1 help",
];

/// Keys of the REPL's input line, for the help overlay.
pub const REPL_KEYS: &[(&str, &str)] = &[
    (
        "Enter",
        "run the input (an unfinished one continues on a new line)",
    ),
    ("↑ ↓", "history"),
    ("← → Home End", "move in the line"),
    ("PgUp PgDn", "scroll the output"),
    ("Ctrl-C", "interrupt, or clear the input"),
    ("Ctrl-U", "clear the line"),
    (
        "Tab",
        "complete a name, m.'s methods and properties, a path in a string",
    ),
    (
        "Esc",
        "leave the REPL (what you typed stays); nothing typed here acts as a key elsewhere",
    ),
    ("F1", "this help"),
];
