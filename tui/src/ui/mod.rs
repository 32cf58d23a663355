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
    self, DisableMouseCapture, EnableMouseCapture, Event, KeyEventKind,
};
use ratatui::crossterm::execute;
use std::io::stdout;
use std::process::ExitCode;
use std::time::Duration;

/// Draw one frame of `app` and remember the map's size.
pub fn frame<B: ratatui::backend::Backend>(
    term: &mut ratatui::Terminal<B>,
    app: &mut App,
) -> Result<(), B::Error> {
    let mut drawn = render::Drawn::default();
    term.draw(|f| drawn = render::draw(f, app))?;
    app.map_rows = drawn.map_rows;
    app.map_cols = drawn.map_cols;
    Ok(())
}

/// Run the UI until the user quits.
pub fn run(opts: Options) -> ExitCode {
    // Mouse capture goes off before ratatui's own hook restores the screen and prints.
    let prev = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let _ = execute!(stdout(), DisableMouseCapture);
        prev(info);
    }));
    let mut app = match App::new(opts) {
        Ok(a) => a,
        Err(e) => {
            crate::runner::warn(&format!("hotplug-lab: cannot start the script worker: {e}"));
            return ExitCode::FAILURE;
        }
    };
    let mut term = ratatui::init();
    let _ = execute!(stdout(), EnableMouseCapture);
    let result = event_loop(&mut term, &mut app);
    let _ = execute!(stdout(), DisableMouseCapture);
    ratatui::restore();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            crate::runner::warn(&format!("hotplug-lab: {e}"));
            ExitCode::FAILURE
        }
    }
}

fn event_loop(term: &mut ratatui::DefaultTerminal, app: &mut App) -> std::io::Result<()> {
    while !app.quit {
        app.pump();
        frame(term, app)?;
        if event::poll(Duration::from_millis(50))? {
            match event::read()? {
                Event::Key(k) if k.kind != KeyEventKind::Release => app.on_key(k),
                Event::Mouse(m) => app.on_mouse(m),
                _ => {}
            }
            // Handle everything queued before drawing again (fast typing, pastes).
            while event::poll(Duration::ZERO)? {
                match event::read()? {
                    Event::Key(k) if k.kind != KeyEventKind::Release => app.on_key(k),
                    Event::Mouse(m) => app.on_mouse(m),
                    _ => {}
                }
                if app.quit {
                    break;
                }
            }
        }
    }
    Ok(())
}
