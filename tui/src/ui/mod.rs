//! The terminal UI (`hotplug-lab`, `hotplug-lab tui`): a memory map, the memory blocks, a
//! detail pane, totals, dmesg, a Rhai REPL and a script player, for one architecture or
//! several side by side. State and update live in app.rs, drawing in render.rs, scripts run
//! on the worker thread (worker.rs).

pub mod app;
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
        crate::runner::warn(
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
            crate::runner::warn(&format!("hotplug-lab: cannot start the script worker: {e}"));
            return ExitCode::FAILURE;
        }
    };
    let mut term = match ratatui::try_init() {
        Ok(t) => t,
        Err(e) => {
            ratatui::restore();
            crate::runner::warn(&format!("hotplug-lab: cannot start the terminal UI: {e}"));
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
            crate::runner::warn(&format!("hotplug-lab: {e}"));
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

fn event_loop(term: &mut ratatui::DefaultTerminal, app: &mut App) -> std::io::Result<()> {
    while !app.quit {
        app.pump();
        frame(term, app)?;
        if event::poll(Duration::from_millis(50))? {
            on_event(app, event::read()?);
            // Handle everything queued before drawing again (fast typing).
            while event::poll(Duration::ZERO)? {
                on_event(app, event::read()?);
                if app.quit {
                    break;
                }
            }
        }
    }
    Ok(())
}
