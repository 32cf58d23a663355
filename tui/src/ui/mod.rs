//! The terminal UI (`hotplug-lab`, `hotplug-lab tui`): a memory map, the memory blocks, a
//! detail pane, totals, dmesg, a Rhai REPL and a script player, for one architecture or
//! several side by side. State and update live in app.rs, drawing in render.rs, scripts run
//! on the worker thread (worker.rs).

pub mod app;
pub mod input;
pub mod keys;
pub mod render;
pub mod view;
pub mod worker;

pub use app::{App, Options};

use ratatui::crossterm::event::{
    self, DisableBracketedPaste, DisableMouseCapture, EnableBracketedPaste, EnableMouseCapture,
    Event, KeyEventKind,
};
use ratatui::crossterm::execute;
use std::io::stdout;
use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::Duration;

/// Draw one frame of `app` and remember the map's size.
pub fn frame<B: ratatui::backend::Backend>(
    term: &mut ratatui::Terminal<B>,
    app: &mut App,
) -> Result<(), B::Error> {
    let mut drawn = render::Drawn::default();
    term.draw(|f| drawn = render::draw(f, app))?;
    // The map's scale follows its size: when the size changed (the first frame, a resize),
    // draw again at once rather than show the old scale until the next key.
    if (drawn.map_rows, drawn.map_cols) != (app.map_rows, app.map_cols) {
        app.map_rows = drawn.map_rows;
        app.map_cols = drawn.map_cols;
        term.draw(|f| drawn = render::draw(f, app))?;
    }
    app.map_rows = drawn.map_rows;
    app.map_cols = drawn.map_cols;
    app.help_scroll = app.help_scroll.min(drawn.help_max);
    app.log_scroll = app.log_scroll.min(drawn.log_max);
    app.repl.scroll = app.repl.scroll.min(drawn.repl_max);
    Ok(())
}

/// Run the UI until the user quits.
pub fn run(opts: Options) -> ExitCode {
    // Without a terminal (a pipe, ssh without -t, CI) there is nothing to draw on.
    if !std::io::stdin().is_terminal() || !std::io::stdout().is_terminal() {
        crate::output::warn(
            "hotplug-lab: the terminal UI needs a terminal (standard input and output are not \
             one here); `hotplug-lab run SCRIPT` and `hotplug-lab repl` work without",
        );
        return ExitCode::from(2);
    }
    // Mouse capture goes off before ratatui's own hook restores the screen and prints.
    let prev = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        // A pane's session catches its own panics and shows them in the pane's log: the UI
        // goes on, and nothing may be written over the screen.
        let pane = std::thread::current()
            .name()
            .is_some_and(|n| n.starts_with(worker::PANE_THREAD));
        if pane {
            return;
        }
        let _ = execute!(stdout(), DisableMouseCapture, DisableBracketedPaste);
        prev(info);
    }));
    let mut app = match App::new(opts) {
        Ok(a) => a,
        Err(e) => {
            crate::output::warn(&format!("hotplug-lab: cannot start the script worker: {e}"));
            return ExitCode::FAILURE;
        }
    };
    terminal::save_and_guard();
    let mut term = match ratatui::try_init() {
        Ok(t) => t,
        Err(e) => {
            ratatui::restore();
            crate::output::warn(&format!("hotplug-lab: cannot start the terminal UI: {e}"));
            return ExitCode::from(2);
        }
    };
    let _ = execute!(stdout(), EnableMouseCapture, EnableBracketedPaste);
    let result = event_loop(&mut term, &mut app);
    let _ = execute!(stdout(), DisableMouseCapture, DisableBracketedPaste);
    ratatui::restore();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            crate::output::warn(&format!("hotplug-lab: {e}"));
            ExitCode::FAILURE
        }
    }
}

fn on_event(app: &mut App, e: Event) {
    match e {
        Event::Key(k) if k.kind != KeyEventKind::Release => app.on_key(k),
        Event::Mouse(m) => app.on_mouse(m),
        // Bracketed paste: the text arrives whole, newlines and all.
        Event::Paste(text) => app.on_paste(&text),
        _ => {}
    }
}

/// The least time between two frames while input keeps coming: keys typed or pasted key
/// by key (a terminal without bracketed paste) are taken in batches, not a frame each.
const FRAME_EVERY: Duration = Duration::from_millis(30);

fn event_loop(term: &mut ratatui::DefaultTerminal, app: &mut App) -> std::io::Result<()> {
    while !app.quit {
        app.pump();
        frame(term, app)?;
        let drawn = std::time::Instant::now();
        if event::poll(Duration::from_millis(50))? {
            on_event(app, event::read()?);
            // Handle everything queued, and what comes before the next frame is due, before
            // drawing again; a key after a pause is drawn at once.
            let due = drawn + FRAME_EVERY;
            while !app.quit {
                let wait = due.saturating_duration_since(std::time::Instant::now());
                if !event::poll(wait)? {
                    break;
                }
                on_event(app, event::read()?);
            }
        }
    }
    Ok(())
}

/// The terminal as it was before the UI took it, put back by whatever ends the process: a
/// signal (SIGTERM, SIGHUP, SIGINT, SIGQUIT) or an abort (SIGABRT), where neither ratatui's
/// restore nor a panic hook runs. The handler does only what a signal handler may: write(2)
/// and tcsetattr(3).
mod terminal {
    use std::sync::OnceLock;

    static SAVED: OnceLock<rustix::termios::Termios> = OnceLock::new();

    /// Leave the alternate screen, show the cursor, stop mouse reporting and bracketed paste.
    const RESET: &[u8] =
        b"\x1b[?1000l\x1b[?1002l\x1b[?1003l\x1b[?1006l\x1b[?1015l\x1b[?2004l\x1b[?25h\x1b[?1049l";

    pub fn save_and_guard() {
        if let Ok(t) = rustix::termios::tcgetattr(rustix::stdio::stdin()) {
            let _ = SAVED.set(t);
        }
        use signal_hook::consts::{SIGABRT, SIGHUP, SIGINT, SIGQUIT, SIGTERM};
        for sig in [SIGTERM, SIGHUP, SIGINT, SIGQUIT, SIGABRT] {
            // SAFETY: the action only writes to a file descriptor, resets the terminal
            // attributes and re-raises the signal with its default action: all
            // async-signal-safe calls, on data set before the handler was installed.
            let _ = unsafe {
                signal_hook::low_level::register(sig, move || {
                    restore();
                    let _ = signal_hook::low_level::emulate_default_handler(sig);
                })
            };
        }
    }

    fn restore() {
        let _ = rustix::io::write(rustix::stdio::stdout(), RESET);
        if let Some(t) = SAVED.get() {
            let _ = rustix::termios::tcsetattr(
                rustix::stdio::stdin(),
                rustix::termios::OptionalActions::Now,
                t,
            );
        }
    }
}
