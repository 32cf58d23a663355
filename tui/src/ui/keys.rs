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
    NextArch,
    NextDesign,
    Compare,
    Step,
    RunAll,
    Reset,
    ToggleLog,
    Interrupt,
    Back,
}

/// One row of the table.
pub struct Binding {
    pub keys: &'static [Key],
    /// How the help overlay writes the keys.
    pub shown: &'static str,
    pub help: &'static str,
    pub action: Action,
}

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

/// Keys outside the REPL's input line.
pub const BINDINGS: &[Binding] = &[
    Binding {
        keys: &[Key::Char('q')],
        shown: "q",
        help: "quit",
        action: Action::Quit,
    },
    Binding {
        keys: &[Key::Char('?'), Key::Code(KeyCode::F(1))],
        shown: "? F1",
        help: "show or hide this help",
        action: Action::Help,
    },
    Binding {
        keys: &[Key::Code(KeyCode::Tab)],
        shown: "Tab",
        help: "next pane (map, blocks, log, REPL)",
        action: Action::NextPane,
    },
    Binding {
        keys: &[Key::Code(KeyCode::BackTab)],
        shown: "Shift-Tab",
        help: "previous pane",
        action: Action::PrevPane,
    },
    Binding {
        keys: &[Key::Char(':'), Key::Char('i')],
        shown: ": i",
        help: "type into the REPL (`m` is the machine; help() lists the API)",
        action: Action::FocusRepl,
    },
    Binding {
        keys: &[Key::Code(KeyCode::Up), Key::Char('k')],
        shown: "↑ k",
        help: "move up (map cursor, block row, log)",
        action: Action::Up,
    },
    Binding {
        keys: &[Key::Code(KeyCode::Down), Key::Char('j')],
        shown: "↓ j",
        help: "move down",
        action: Action::Down,
    },
    Binding {
        keys: &[Key::Code(KeyCode::Left), Key::Char('h')],
        shown: "← h",
        help: "move left on the map",
        action: Action::Left,
    },
    Binding {
        keys: &[Key::Code(KeyCode::Right), Key::Char('l')],
        shown: "→ l",
        help: "move right on the map",
        action: Action::Right,
    },
    Binding {
        keys: &[Key::Code(KeyCode::PageUp)],
        shown: "PgUp",
        help: "scroll up a page",
        action: Action::PageUp,
    },
    Binding {
        keys: &[Key::Code(KeyCode::PageDown)],
        shown: "PgDn",
        help: "scroll down a page",
        action: Action::PageDown,
    },
    Binding {
        keys: &[Key::Char('+'), Key::Char('='), Key::Code(KeyCode::Enter)],
        shown: "+ Enter",
        help: "zoom the map in around the cursor (down to one section's sub-sections)",
        action: Action::ZoomIn,
    },
    Binding {
        keys: &[Key::Char('-')],
        shown: "-",
        help: "zoom the map out",
        action: Action::ZoomOut,
    },
    Binding {
        keys: &[Key::Char('a')],
        shown: "a",
        help: "switch architecture (boots a fresh machine and replays the REPL's inputs)",
        action: Action::NextArch,
    },
    Binding {
        keys: &[Key::Char('v')],
        shown: "v",
        help: "switch design: mainline, rfc-2018, v3-2019, legacy-64m, section-only",
        action: Action::NextDesign,
    },
    Binding {
        keys: &[Key::Char('c')],
        shown: "c",
        help: "compare mode: the same inputs on several architectures side by side",
        action: Action::Compare,
    },
    Binding {
        keys: &[Key::Char('n'), Key::Char('s')],
        shown: "n s",
        help: "script player: run the next statement",
        action: Action::Step,
    },
    Binding {
        keys: &[Key::Char('r')],
        shown: "r",
        help: "script player: run to the end",
        action: Action::RunAll,
    },
    Binding {
        keys: &[Key::Char('R')],
        shown: "R",
        help: "reboot and rewind the script",
        action: Action::Reset,
    },
    Binding {
        keys: &[Key::Char('d')],
        shown: "d",
        help: "show dmesg or the script in the log pane",
        action: Action::ToggleLog,
    },
    Binding {
        keys: &[Key::Ctrl('c')],
        shown: "Ctrl-C",
        help: "interrupt what runs (in the REPL with nothing running: clear the input)",
        action: Action::Interrupt,
    },
    Binding {
        keys: &[Key::Code(KeyCode::Esc)],
        shown: "Esc",
        help: "back out: close help, leave the REPL, zoom out",
        action: Action::Back,
    },
];

/// The action of a key outside the REPL's input line.
pub fn action(e: &KeyEvent) -> Option<Action> {
    BINDINGS
        .iter()
        .find(|b| b.keys.iter().any(|k| k.matches(e)))
        .map(|b| b.action)
}

/// Keys of the REPL's input line, for the help overlay.
pub const REPL_KEYS: &[(&str, &str)] = &[
    (
        "Enter",
        "run the input (an unfinished one continues on a new line)",
    ),
    ("↑ ↓", "history"),
    ("← → Home End", "move in the line"),
    ("Ctrl-C", "interrupt, or clear the input"),
    ("Esc Tab", "leave the REPL"),
];
