//! The terminal UI rendered with ratatui's TestBackend: the main screens at 80x24, 120x40
//! and 200x60 (reviewed snapshots under snapshots/ui@*), every size from 1x1 up, and the
//! update step driven by keys as a user presses them.

use hotplug_lab::ui::{self, App, Options};
use ratatui::backend::TestBackend;

hotplug_lab::install_heap_meter!();
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::style::Color;
use ratatui::Terminal;

fn app_with(archs: &[&str], cmdline: &str, script: Option<(&str, &str)>) -> App {
    let boot = hotplug_lab::script::BootConfig {
        cmdline: cmdline.to_string(),
        ..Default::default()
    };
    let mut a = App::new(Options {
        targets: archs
            .iter()
            .map(|a| arch::Target::parse(a, "").unwrap())
            .collect(),
        boot,
        script: script.map(|(p, s)| (p.to_string(), s.to_string())),
        limits: Default::default(),
        svg_out: std::env::temp_dir().join(format!("hl-ui-svg-{}", std::process::id())),
    })
    .unwrap();
    a.settle();
    a
}

#[test]
fn tui_host_shows_the_captured_machine() {
    // `hotplug-lab tui --sysroot tests/hosts/oracle-powerpc`: the pane boots the guest's
    // 2 GiB in 8 blocks of 256 MiB, with its kernel's version.
    let tree = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/hosts/oracle-powerpc");
    let c = hotplug_lab::host::read(&tree, 16 << 20, None).unwrap();
    let mut boot = hotplug_lab::script::BootConfig::new(c.target);
    boot.capture = Some(std::sync::Arc::new(c));
    let mut a = App::new(Options {
        boot,
        ..Options::default()
    })
    .unwrap();
    a.settle();
    let m = a.panes[0].machine.as_ref().expect("a machine");
    assert_eq!(m.target().name(), "powerpc");
    assert_eq!((m.blocks().len(), m.block_size()), (8, 256 << 20));
    assert_eq!(m.kernel().name, "6.12");
}

fn app(archs: &[&str], cmdline: &str) -> App {
    app_with(archs, cmdline, None)
}

/// Draw twice (the first frame tells the app its map size) and return the terminal.
fn draw(app: &mut App, w: u16, h: u16) -> Terminal<TestBackend> {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    ui::frame(&mut t, app).unwrap();
    ui::frame(&mut t, app).unwrap();
    t
}

fn screen(app: &mut App, w: u16, h: u16) -> String {
    draw(app, w, h).backend().to_string()
}

fn key(app: &mut App, code: KeyCode) {
    app.on_key(KeyEvent::new(code, KeyModifiers::NONE));
}

fn ctrl(app: &mut App, c: char) {
    app.on_key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL));
}

/// What a user does to run a line: `:` to the REPL, the line, Enter; then wait for it.
fn type_line(app: &mut App, s: &str) {
    key(app, KeyCode::Char(':'));
    for c in s.chars() {
        key(app, KeyCode::Char(c));
    }
    key(app, KeyCode::Enter);
    app.settle();
}

fn settings() -> insta::Settings {
    let mut s = insta::Settings::clone_current();
    s.set_snapshot_path(concat!(env!("CARGO_MANIFEST_DIR"), "/../snapshots"));
    s.set_prepend_module_to_snapshot(false);
    s
}

const SIZES: [(u16, u16); 3] = [(80, 24), (120, 40), (200, 60)];

/// The screens a new user sees, at three sizes: the start (keyboard on the map), the help,
/// the REPL with an input run, a script paused after a call, compare mode with an
/// operation that fails on one architecture, and the notice below the smallest size.
#[test]
fn screens() {
    let script = "// demo\nlet m2 = boot(#{ arch: ARCH, ram: \"4G\" });\nm2.add_memory(m2.hotplug_base, 1 * GiB);\nprint(\"done\");\n";
    for (w, h) in SIZES {
        let snap = |name: &str, text: String| {
            settings().bind(|| insta::assert_snapshot!(format!("ui@{name}-{w}x{h}"), text))
        };
        let mut a = app(
            &["x86_64"],
            "memory_hotplug.memmap_on_memory=1 memhp_default_state=offline",
        );
        snap("start", screen(&mut a, w, h));
        key(&mut a, KeyCode::Char('?'));
        snap("help", screen(&mut a, w, h));
        key(&mut a, KeyCode::Esc);
        type_line(
            &mut a,
            "m.add_memory(m.hotplug_base, 1 * GiB); m.online(m.hotplug_base, 1 * GiB, \"online_movable\");",
        );
        snap("repl", screen(&mut a, w, h));
        let mut s = app_with(&["x86_64"], "", Some(("demo.rhai", script)));
        key(&mut s, KeyCode::Char('n'));
        s.settle();
        key(&mut s, KeyCode::Char('n'));
        s.settle();
        snap("script-paused", screen(&mut s, w, h));
        let mut c = app(&["x86_64", "s390"], "");
        type_line(&mut c, "m.memremap_pages(64 * GiB, 2 * GiB)");
        snap("compare-failing", screen(&mut c, w, h));
    }
    let mut a = app(&["x86_64"], "");
    settings().bind(|| insta::assert_snapshot!("ui@too-small-40x10", screen(&mut a, 40, 10)));
}

#[test]
fn any_size_draws_without_panicking() {
    let mut a = app(&["x86_64"], "");
    type_line(&mut a, "m.add_memory(m.hotplug_base, 1 * GiB)");
    let mut c = app(&["x86_64", "arm64-64k", "s390"], "");
    for w in [1u16, 2, 5, 10, 19, 20, 33, 59, 60, 61, 100, 200, 300] {
        for h in [1u16, 2, 3, 7, 15, 16, 17, 24, 60, 90] {
            screen(&mut a, w, h);
            screen(&mut c, w, h);
            key(&mut a, KeyCode::Char('?'));
            screen(&mut a, w, h);
            key(&mut a, KeyCode::Esc);
        }
    }
    let text = screen(&mut a, 40, 10);
    assert!(text.contains("terminal too small"), "{text}");
    assert!(text.contains("need 60 x"), "{text}");
}

/// Keys go to the map at start: `?` opens the help and `q` quits, `:` or `i` enters the
/// REPL, Esc leaves it keeping what was typed; the status line shows the keys of the focus.
#[test]
fn the_keyboard_starts_on_the_map() {
    let mut a = app(&["x86_64"], "");
    let s = screen(&mut a, 120, 40);
    let status = s.lines().last().unwrap().to_string();
    assert!(
        status.contains("? help") && status.contains("q quit"),
        "{status}"
    );
    key(&mut a, KeyCode::Char('?'));
    assert!(a.help);
    let help = screen(&mut a, 120, 40);
    // Keys and what they do never run together.
    assert!(help.contains("Shift-Tab  "), "{help}");
    key(&mut a, KeyCode::Esc);
    assert!(!a.help);
    key(&mut a, KeyCode::Char('i'));
    for c in "m.sta".chars() {
        key(&mut a, KeyCode::Char(c));
    }
    let s = screen(&mut a, 120, 40);
    let status = s.lines().last().unwrap().to_string();
    assert!(
        status.contains("Enter run") && status.contains("Esc leave"),
        "{status}"
    );
    assert!(!status.contains("q quit"), "{status}");
    key(&mut a, KeyCode::Esc);
    assert_eq!(a.repl.input.as_str(), "m.sta", "Esc keeps what was typed");
    key(&mut a, KeyCode::Char('q'));
    assert!(a.quit);
}

/// The map colours what changed, and the cell under a hot-added online_movable block is cyan.
#[test]
fn the_map_shows_what_an_input_changed() {
    let mut a = app(&["x86_64"], "memhp_default_state=offline");
    let t = draw(&mut a, 120, 40);
    let before = t.backend().buffer().clone();
    type_line(
        &mut a,
        "m.add_memory(4 * GiB, 1 * GiB); m.online(4 * GiB, 1 * GiB, \"online_movable\")",
    );
    let t = draw(&mut a, 120, 40);
    let after = t.backend().buffer();
    // Section 32 (4 GiB) is cell 32 of the first map row: x = 1 (border) + 7 (gutter) + 32.
    let cell = &after[(40, 1)];
    let movable = hotplug_lab::ui::render::colour(mm::read::SectionKind::Movable);
    assert_eq!(cell.fg, movable, "{:?}", cell);
    assert_eq!(cell.bg, Color::Yellow, "changed cells are highlighted");
    assert_ne!(before[(40, 1)].symbol(), cell.symbol());
    // The blocks table lists the new range and its zone in full.
    let text = t.backend().to_string();
    assert!(text.contains("32-39"), "{text}");
    assert!(text.contains("Movable"), "{text}");
}

#[test]
fn repl_errors_show_in_place_and_history_recalls() {
    let mut a = app(&["x86_64"], "");
    type_line(&mut a, "m.add_memory(4 * GiB + 4096, 1 * GiB)");
    let text = screen(&mut a, 120, 40);
    assert!(
        text.contains("EINVAL: Block size [0x8000000] unaligned hotplug range"),
        "{text}"
    );
    key(&mut a, KeyCode::Up);
    assert_eq!(
        a.repl.input.as_str(),
        "m.add_memory(4 * GiB + 4096, 1 * GiB)"
    );
    // An unfinished input continues on the next line.
    ctrl(&mut a, 'u');
    for c in "if true {".chars() {
        key(&mut a, KeyCode::Char(c));
    }
    key(&mut a, KeyCode::Enter);
    assert_eq!(a.repl.input.as_str(), "if true {\n");
    for c in "print(\"inside\") }".chars() {
        key(&mut a, KeyCode::Char(c));
    }
    key(&mut a, KeyCode::Enter);
    a.settle();
    assert!(screen(&mut a, 120, 40).contains("inside"));
}

/// A paste arrives whole (bracketed paste), however long, and Enter then runs it.
#[test]
fn a_long_paste_runs() {
    let mut a = app(&["x86_64"], "");
    let long = format!("let s = \"{}\"; print(s.len());", "x".repeat(3000));
    a.on_paste(&long);
    key(&mut a, KeyCode::Enter);
    a.settle();
    assert!(screen(&mut a, 120, 40).contains("3000"));
}

/// A paste comes in one piece, however long (up to --max-input-size), and so does typing
/// key by key: a megabyte is taken in linear time (2,100 characters a second before).
#[test]
fn a_long_paste_or_typing_is_taken_whole() {
    let mut a = app(&["x86_64"], "");
    let big = format!("let s = \"{}\";", "q".repeat(1 << 20));
    a.on_paste(&big);
    assert_eq!(a.repl.input.len(), big.len());
    // Drawing shows the end of the line, not all of it.
    assert!(screen(&mut a, 80, 24).contains("qqq\";"));
    key(&mut a, KeyCode::Enter);
    a.settle();
    // Over the limit: refused whole, and the status line says why.
    let mut small = app_with(&["x86_64"], "", None);
    small.opts.limits.max_input = 1000;
    small.on_paste(&"x".repeat(2000));
    assert!(small.repl.input.is_empty());
    assert!(
        small.status.contains("--max-input-size"),
        "{}",
        small.status
    );
    // Typed: each key at the end of a long line costs the same.
    let mut t = app(&["x86_64"], "");
    key(&mut t, KeyCode::Char(':'));
    for _ in 0..200_000 {
        key(&mut t, KeyCode::Char('z'));
    }
    assert_eq!(t.repl.input.len(), 200_000);
    key(&mut t, KeyCode::Esc);
    key(&mut t, KeyCode::Char('q'));
    assert!(t.quit);
}

/// Ctrl-C reaches inside a model call: a 32 TiB virtio-mem resize (seconds in a debug
/// build) stops part way with EINTR, and the device is as it was.
#[test]
fn ctrl_c_stops_a_long_model_call() {
    let mut a = app(&["x86_64"], "");
    type_line(
        &mut a,
        "let v = m.virtio_mem_add(#{ start: 1 * TiB, region_size: 32 * TiB });",
    );
    for c in "m.virtio_mem_resize(v, 32 * TiB)".chars() {
        key(&mut a, KeyCode::Char(c));
    }
    key(&mut a, KeyCode::Enter);
    std::thread::sleep(std::time::Duration::from_millis(300));
    a.pump();
    assert!(a.busy(), "the resize is still running");
    ctrl(&mut a, 'c');
    a.settle();
    assert!(!a.busy());
    let text = screen(&mut a, 160, 50);
    assert!(text.contains("EINTR: interrupted"), "{text}");
    let m = a.machine().expect("a machine");
    let d = m.virtio_mem_devices().next().expect("the device");
    assert_eq!(m.virtio_mem_plugged_size(d), 0);
}

#[test]
fn a_long_script_can_be_interrupted_and_q_always_quits() {
    let mut a = app(&["x86_64"], "");
    type_line(&mut a, "");
    for c in "loop { m.stats(); }".chars() {
        key(&mut a, KeyCode::Char(c));
    }
    key(&mut a, KeyCode::Enter);
    std::thread::sleep(std::time::Duration::from_millis(200));
    a.pump();
    assert!(a.busy(), "the loop is still running");
    // The UI keeps drawing while it runs.
    assert!(screen(&mut a, 80, 24).contains("running"));
    ctrl(&mut a, 'c');
    a.settle();
    assert!(!a.busy());
    assert!(screen(&mut a, 120, 40).contains("interrupted"));
    // While something runs, q (from the map) still quits.
    for c in "loop { m.stats(); }".chars() {
        key(&mut a, KeyCode::Char(c));
    }
    key(&mut a, KeyCode::Enter);
    key(&mut a, KeyCode::Esc);
    key(&mut a, KeyCode::Char('q'));
    assert!(a.quit);
}

/// `-` zooms out past the view that fits the machine, `+` down to one section's sub-sections.
#[test]
fn zoom_from_the_address_space_to_sub_sections() {
    let mut a = app(&["x86_64"], "");
    type_line(&mut a, "m.memremap_pages(m.hotplug_base + 2 * MiB, 4 * MiB, #{ map: \"mem\", mode: \"fsdax\", align: 4096 })");
    key(&mut a, KeyCode::Esc);
    screen(&mut a, 120, 40);
    let fit = a.sections_per_cell();
    key(&mut a, KeyCode::Char('-'));
    screen(&mut a, 120, 40);
    assert!(a.sections_per_cell() > fit, "zoomed out past {fit}");
    // Move the cursor to the section and zoom all the way in.
    a.cursor = 32;
    for _ in 0..40 {
        key(&mut a, KeyCode::Char('+'));
    }
    let text = screen(&mut a, 120, 40);
    assert!(
        text.contains("section 32 [0x100000000, +128M]: 64 sub-sections of 2M"),
        "{text}"
    );
    let t = draw(&mut a, 120, 40);
    let b = t.backend().buffer();
    // Sub-sections 1 and 2 are device memory, 0 and 3 absent.
    let row = 2;
    let cells: Vec<Color> = (1..5).map(|x| b[(x, row)].fg).collect();
    assert_eq!(cells, {
        let device = hotplug_lab::ui::render::colour(mm::read::SectionKind::Device);
        vec![Color::DarkGray, device, device, Color::DarkGray]
    });
}

/// The map uses the pane's width.
#[test]
fn the_map_uses_its_width() {
    let mut a = app(&["x86_64"], "");
    screen(&mut a, 160, 50);
    assert!(a.map_cols >= 110, "{} cells", a.map_cols);
    assert_eq!(a.row_cells(), u64::from(a.map_cols));
}

/// Rows hold a multiple of 8 cells, so the gutter counts in round steps the title names.
#[test]
fn the_gutter_counts_in_round_steps() {
    let mut a = app(&["x86_64"], "");
    let s = screen(&mut a, 120, 40);
    assert_eq!(a.map_cols % 8, 0, "{} cells", a.map_cols);
    // 80 cells of one 128 MiB section each.
    assert!(s.contains("1 section per cell, 10G per row"), "{s}");
    for (r, want) in ["0 ", "10G ", "20G ", "30G "].iter().enumerate() {
        let row = s.lines().nth(1 + r).unwrap();
        assert!(
            row[row.find('│').unwrap() + 3..]
                .trim_start()
                .starts_with(want),
            "{row}"
        );
    }
}

/// Log lines wrap at a space where they can and lose no character.
#[test]
fn log_lines_wrap_between_words() {
    let line = "[    0.015000] HugeTLB: 16380 KiB vmemmap can be freed for a 1.00 GiB page";
    let pieces = ui::render::wrap_chars(line, 32);
    assert!(pieces.iter().all(|p| p.chars().count() <= 32), "{pieces:?}");
    assert_eq!(pieces[0], "[    0.015000] HugeTLB: 16380");
    assert!(
        pieces[1..].iter().all(|p| p.starts_with("  ")),
        "{pieces:?}"
    );
    let joined: Vec<&str> = pieces.iter().flat_map(|p| p.split_whitespace()).collect();
    assert_eq!(joined, line.split_whitespace().collect::<Vec<_>>());
    // A word longer than the width is cut.
    let long = "x".repeat(70);
    assert_eq!(
        ui::render::wrap_chars(&long, 32).concat().replace(' ', ""),
        long
    );
}

#[test]
fn architecture_switch_replays_the_inputs_and_shows_what_they_gave() {
    let mut a = app(&["x86_64"], "");
    type_line(&mut a, "m.add_memory(m.hotplug_base, 2 * GiB).blocks.len()");
    key(&mut a, KeyCode::Esc);
    key(&mut a, KeyCode::Char('a'));
    key(&mut a, KeyCode::Enter);
    a.settle();
    assert_eq!(a.panes[0].target.name(), "x86_64-la57");
    let m = a.machine().unwrap();
    assert_eq!(m.blocks().values().filter(|b| !b.early).count(), 16);
    let s = screen(&mut a, 120, 40);
    assert!(s.contains("replaying 1 input on x86_64-la57"), "{s}");
    assert!(s.contains("[x86_64-la57, replayed]"), "{s}");
}

/// `L` boots the same inputs on the next Linux version, `C` shows every version side by
/// side: a 1 GiB add with memmap_on_memory=1 puts the memmap on the added memory on 6.12
/// and takes it from RAM on 6.1, which adds memmap_on_memory only one block at a time.
#[test]
fn linux_version_switch_and_compare() {
    let mut a = app(&["x86_64"], "memory_hotplug.memmap_on_memory=1");
    type_line(
        &mut a,
        "m.add_memory(m.hotplug_base, 1 * GiB).memmap_on_memory",
    );
    key(&mut a, KeyCode::Esc);
    key(&mut a, KeyCode::Char('L'));
    a.settle();
    assert_eq!(a.machine().unwrap().kernel().name, "6.1");
    let s = screen(&mut a, 120, 40);
    assert!(s.contains("x86_64 · Linux 6.1"), "{s}");
    key(&mut a, KeyCode::Char('C'));
    a.settle();
    let kernels: Vec<&str> = a
        .panes
        .iter()
        .map(|p| p.machine.as_deref().unwrap().kernel().name)
        .collect();
    assert_eq!(kernels, ["6.12", "6.1", "7.3"]);
    let altmap =
        |p: &hotplug_lab::ui::app::Pane| p.machine.as_deref().unwrap().vmstat().memmap_altmap;
    assert_eq!(
        (
            altmap(&a.panes[0]),
            altmap(&a.panes[1]),
            altmap(&a.panes[2])
        ),
        (4096, 0, 4096)
    );
    let s = screen(&mut a, 120, 40);
    assert!(
        s.contains("[x86_64 6.12, replayed]") || s.contains("x86_64 6.12 | x86_64 6.1"),
        "{s}"
    );
    // L is refused while versions are compared; c leaves for one architecture.
    key(&mut a, KeyCode::Char('L'));
    assert!(a.status.contains("versions side by side"), "{}", a.status);
    key(&mut a, KeyCode::Char('c'));
    a.settle();
    assert!(!a.compare_kernels);
}

/// After `m = ()` a new architecture still shows a machine (the one booted last), never
/// "booting…" for ever.
#[test]
fn m_that_is_no_machine_does_not_wedge_the_map() {
    let mut a = app(&["x86_64"], "");
    type_line(&mut a, "m = ()");
    key(&mut a, KeyCode::Esc);
    key(&mut a, KeyCode::Char('a'));
    key(&mut a, KeyCode::Enter);
    a.settle();
    assert!(a.machine().is_some());
    assert!(!screen(&mut a, 120, 40).contains("booting…"));
}

/// The script runs as a whole and pauses before each call that changes a machine; the map
/// shows the machine that call works on (here one the script booted itself), the script
/// pane marks the call to come, `r` runs to the end and `R` rewinds.
#[test]
fn the_script_player_steps_by_machine_call() {
    let src = "let base = m.hotplug_base;\nfor i in 0..2 {\n    let k = boot(#{ arch: ARCH, ram: \"4G\" });\n    k.add_memory(k.hotplug_base, 1 * GiB);\n}\nprint(`added ${m.stats().blocks} blocks`);\n";
    let mut a = app_with(&["x86_64"], "", Some(("scripts/demo.rhai", src)));
    let blocks = |a: &App| a.machine().unwrap().blocks().len();
    assert_eq!(blocks(&a), 16);
    let s = screen(&mut a, 120, 40);
    assert!(s.contains("demo.rhai · not started"), "{s}");
    // n stops before the first call: the boot inside the loop, on line 3.
    key(&mut a, KeyCode::Char('n'));
    a.settle();
    let at = a.player.as_ref().unwrap().at.clone().unwrap();
    assert_eq!((at.line, at.call.as_str(), at.calls), (3, "boot", 0));
    assert_eq!(blocks(&a), 16, "the boot has not run yet");
    // n runs the boot and stops before add_memory: the map shows the 4G machine it booted.
    key(&mut a, KeyCode::Char('n'));
    a.settle();
    let at = a.player.as_ref().unwrap().at.clone().unwrap();
    assert_eq!((at.line, at.call.as_str(), at.calls), (4, "add_memory", 1));
    assert_eq!(blocks(&a), 32);
    let s = screen(&mut a, 120, 40);
    assert!(s.contains("demo.rhai · next call 2 at 4:"), "{s}");
    assert!(s.contains("▶4"), "{s}");
    assert!(s.contains("next: add_memory at 4:"), "{s}");
    // n runs add_memory and stops before the second boot: 1 GiB more on that machine.
    key(&mut a, KeyCode::Char('n'));
    a.settle();
    let at = a.player.as_ref().unwrap().at.clone().unwrap();
    assert_eq!((at.line, at.call.as_str(), at.calls), (3, "boot", 2));
    assert_eq!(blocks(&a), 40);
    key(&mut a, KeyCode::Char('r'));
    a.settle();
    let s = screen(&mut a, 120, 40);
    assert!(s.contains("added 16 blocks"), "{s}");
    assert!(a.player.as_ref().unwrap().ended);
    // Errors give the script's own line and column.
    let mut b = app_with(
        &["x86_64"],
        "",
        Some(("bad.rhai", "\n\nm.add_memory(1, 1);\n")),
    );
    key(&mut b, KeyCode::Char('r'));
    b.settle();
    assert!(screen(&mut b, 120, 40).contains("line 3, column 3"));
    // R reboots and rewinds.
    key(&mut a, KeyCode::Char('R'));
    a.settle();
    assert_eq!(blocks(&a), 16);
    assert!(!a.player.as_ref().unwrap().started);
}

#[test]
fn design_switch_boots_the_variant_and_replays_the_inputs() {
    let mut a = app(&["x86_64"], "memhp_default_state=offline");
    type_line(&mut a, "m.add_memory(4 * GiB, 1 * GiB)");
    key(&mut a, KeyCode::Esc);
    key(&mut a, KeyCode::Char('v'));
    a.settle();
    let m = a.machine().unwrap();
    assert_eq!(m.design(), "rfc-2018");
    // Replayed under rfc-2018: the memmap of the whole GiB sits at its start.
    assert_eq!(m.vmstat().memmap_altmap, 4096);
    assert!(screen(&mut a, 120, 40).contains("x86_64 · design rfc-2018 · memory map"));
}

#[test]
fn detail_pane_shows_virtio_mem_and_kmem_devices() {
    let mut a = app(&["x86_64"], "memhp_default_state=online_movable");
    type_line(
        &mut a,
        "let v = m.virtio_mem_add(#{ start: 4 * GiB, region_size: 4 * GiB }); m.virtio_mem_resize(v, 1 * GiB + 64 * MiB);",
    );
    key(&mut a, KeyCode::Esc);
    type_line(
        &mut a,
        "let d = m.memremap_pages(64 * GiB, 4 * GiB, #{ map: \"mem\", mode: \"devdax\" }); m.dax_kmem(d);",
    );
    key(&mut a, KeyCode::Esc);
    // The section holding 4 GiB + 1 GiB: the partly plugged block.
    a.cursor = (5 * 1024) / 128;
    let s = screen(&mut a, 160, 90);
    assert!(
        s.contains("virtio-mem 0: region 0x100000000+4G, SBM"),
        "{s}"
    );
    assert!(s.contains("plugged 1088M of 1088M requested"), "{s}");
    a.cursor = (64 * 1024) / 128 + 8;
    let s = screen(&mut a, 160, 90);
    assert!(s.contains("kmem dax0.0 (online_movable): "), "{s}");
}

/// Long dmesg lines wrap instead of being cut at the pane's edge.
#[test]
fn dmesg_lines_wrap() {
    let mut a = app(&["x86_64"], "");
    type_line(&mut a, "m.add_memory(4 * GiB + 4096, 1 * GiB)");
    key(&mut a, KeyCode::Esc);
    let s = screen(&mut a, 120, 40);
    // "Block size [0x8000000] unaligned hotplug range: start 0x100001000, size 0x40000000"
    assert!(s.contains("unaligned"), "{s}");
    assert!(
        s.contains("0x40000000"),
        "the end of the line is on screen: {s}"
    );
}

/// A line longer than the REPL scrolls sideways to keep the cursor, and its end, in view.
#[test]
fn a_long_input_line_shows_its_end() {
    let mut a = app(&["x86_64"], "");
    key(&mut a, KeyCode::Char(':'));
    let line = format!("let s = \"{}\"; s.len()", "x".repeat(2980));
    for c in line.chars() {
        key(&mut a, KeyCode::Char(c));
    }
    let s = screen(&mut a, 120, 40);
    let input = s.lines().rev().nth(2).unwrap();
    assert!(input.contains("xx\"; s.len()"), "{input}");
    key(&mut a, KeyCode::Home);
    let s = screen(&mut a, 120, 40);
    assert!(
        s.lines().rev().nth(2).unwrap().contains("> let s = \"xx"),
        "{s}"
    );
}

/// `n` pressed while a step runs is kept, not lost; `a` during a script re-runs it on the
/// new architecture to the call it stood before.
#[test]
fn steps_queue_and_survive_an_architecture_switch() {
    let src = "for i in 0..4 {\n    m.add_memory(m.hotplug_base + i * GiB, 1 * GiB);\n}\n";
    let mut a = app_with(&["x86_64"], "", Some(("four.rhai", src)));
    for _ in 0..3 {
        key(&mut a, KeyCode::Char('n'));
    }
    a.settle();
    let at = a.player.as_ref().unwrap().at.clone().unwrap();
    assert_eq!(
        (at.line, at.calls),
        (2, 2),
        "three presses: before the third call"
    );
    assert_eq!(a.machine().unwrap().blocks().len(), 16 + 16);
    key(&mut a, KeyCode::Char('a'));
    key(&mut a, KeyCode::Enter);
    a.settle();
    assert_eq!(a.panes[0].target.name(), "x86_64-la57");
    let at = a.player.as_ref().unwrap().at.clone().unwrap();
    assert_eq!(at.calls, 2, "back before the third call on the new session");
    assert_eq!(a.machine().unwrap().blocks().len(), 16 + 16);
    let s = screen(&mut a, 120, 40);
    assert!(
        s.contains("re-running four.rhai to call 3 on x86_64-la57"),
        "{s}"
    );
}

/// The map and the status line name the machine on screen, which `m = boot(...)` can make
/// another architecture's than the session's.
#[test]
fn the_title_names_the_machine_on_screen() {
    let mut a = app(&["x86_64"], "");
    type_line(&mut a, "m = boot(\"s390\"); ()");
    let s = screen(&mut a, 120, 40);
    assert!(s.contains("┌ s390 · memory map"), "{s}");
    assert!(
        s.lines().last().unwrap().contains("x86_64 (m: s390)"),
        "{s}"
    );
    type_line(&mut a, "m = (); m.hotplug_base");
    let s = screen(&mut a, 120, 40);
    assert!(s.contains("this value is not a machine"), "{s}");
}

/// The status line offers only keys that do something: no player keys without a script,
/// no architecture switch in compare mode; `d` without a script says why it does nothing.
#[test]
fn the_status_line_offers_what_works() {
    let mut a = app(&["x86_64"], "");
    let status = |a: &mut App| screen(a, 200, 60).lines().last().unwrap().to_string();
    let s = status(&mut a);
    assert!(s.contains("c compare") && !s.contains("n step"), "{s}");
    key(&mut a, KeyCode::Char('d'));
    assert!(status(&mut a).contains("no script loaded"));
    key(&mut a, KeyCode::Char('c'));
    a.settle();
    let s = status(&mut a);
    assert!(s.contains("c one arch") && !s.contains("a arch"), "{s}");
    let mut b = app_with(
        &["x86_64"],
        "",
        Some(("s.rhai", "m.add_memory(m.hotplug_base, 1 * GiB);")),
    );
    let s = status(&mut b);
    assert!(s.contains("? help  n step  r run"), "{s}");
}

/// At the widest zoom every gutter address is in one unit.
#[test]
fn the_gutter_keeps_one_unit() {
    let mut a = app(&["x86_64"], "");
    screen(&mut a, 120, 40);
    for _ in 0..30 {
        key(&mut a, KeyCode::Char('-'));
    }
    let s = screen(&mut a, 120, 40);
    let units: std::collections::BTreeSet<char> = s
        .lines()
        .skip(1)
        .take(12)
        .filter_map(|l| {
            let g = l.split('│').nth(1)?.split_whitespace().next()?.to_string();
            g.chars().last().filter(|c| c.is_ascii_alphabetic())
        })
        .collect();
    assert_eq!(units.len(), 1, "{s}");
}

/// First contact 3: Tab in the REPL completes and never leaves it, so nothing typed there
/// reaches the map's keys (the `a` of "hotplug_base" used to switch the architecture).
#[test]
fn tab_completes_in_the_repl_and_keeps_the_keyboard_there() {
    let mut a = app(&["x86_64"], "memhp_default_state=offline");
    key(&mut a, KeyCode::Char(':'));
    for c in "m.add_".chars() {
        key(&mut a, KeyCode::Char(c));
    }
    key(&mut a, KeyCode::Tab);
    assert_eq!(a.repl.input.as_str(), "m.add_memory");
    for c in "(m.hotplug_ba".chars() {
        key(&mut a, KeyCode::Char(c));
    }
    key(&mut a, KeyCode::Tab);
    for c in ", 1 * GiB)".chars() {
        key(&mut a, KeyCode::Char(c));
    }
    assert_eq!(
        a.repl.input.as_str(),
        "m.add_memory(m.hotplug_base, 1 * GiB)"
    );
    key(&mut a, KeyCode::Enter);
    a.settle();
    assert_eq!(a.focus, hotplug_lab::ui::app::Focus::Repl);
    assert_eq!(a.panes[0].target.name(), "x86_64");
    assert!(!a.quit);
    // Several candidates: what they share, and the candidates on the status line.
    for c in "m.on".chars() {
        key(&mut a, KeyCode::Char(c));
    }
    key(&mut a, KeyCode::Tab);
    assert_eq!(a.repl.input.as_str(), "m.online");
    // The result reads in one line: the address in hex, the blocks as lsmem writes them.
    let s = screen(&mut a, 120, 40);
    assert!(
        s.contains("#{start: 0x100000000, size: 1G, blocks: 32-39,"),
        "{s}"
    );
    // Only Esc leaves.
    key(&mut a, KeyCode::Esc);
    assert_eq!(a.focus, hotplug_lab::ui::app::Focus::Map);
}

/// R with REPL inputs asks first: any other key keeps them, R (or y) reboots and says the
/// inputs are forgotten; with none it reboots at once. The status line lists R.
#[test]
fn reboot_asks_before_forgetting_inputs() {
    let mut a = app(&["x86_64"], "memhp_default_state=offline");
    let s = screen(&mut a, 120, 40);
    assert!(
        s.lines()
            .last()
            .unwrap()
            .split_whitespace()
            .any(|w| w == "R"),
        "{s}"
    );
    type_line(&mut a, "m.add_memory(m.hotplug_base, 1 * GiB)");
    key(&mut a, KeyCode::Esc);
    key(&mut a, KeyCode::Char('R'));
    assert!(
        a.status.contains("reboot and forget 1 REPL input?"),
        "{}",
        a.status
    );
    key(&mut a, KeyCode::Char('a'));
    a.settle();
    assert!(
        a.picker.is_none(),
        "the key that cancelled did nothing else"
    );
    assert_eq!(a.applied.len(), 1);
    assert_eq!(a.machine().unwrap().blocks().len(), 24);
    key(&mut a, KeyCode::Char('R'));
    key(&mut a, KeyCode::Char('y'));
    a.settle();
    assert!(a.applied.is_empty());
    assert_eq!(a.machine().unwrap().blocks().len(), 16);
    let s = screen(&mut a, 120, 40);
    assert!(
        s.contains("rebooted: the 1 inputs above are forgotten"),
        "{s}"
    );
}

/// `a` opens a list of the configurations (the cursor on the next one, so `a` Enter steps
/// forward); ↑↓ choose, Enter boots; Esc keeps the machine; `A` steps back.
#[test]
fn the_architecture_picker_and_a_step_back() {
    let mut a = app(&["x86_64"], "");
    key(&mut a, KeyCode::Char('a'));
    let s = screen(&mut a, 120, 40);
    assert!(s.contains(" architecture "), "{s}");
    assert!(s.contains("arm64-64k"), "{s}");
    key(&mut a, KeyCode::Down);
    key(&mut a, KeyCode::Enter);
    a.settle();
    assert_eq!(a.panes[0].target.name(), arch::CONFIGS[2].name);
    key(&mut a, KeyCode::Char('a'));
    key(&mut a, KeyCode::Esc);
    a.settle();
    assert_eq!(a.panes[0].target.name(), arch::CONFIGS[2].name);
    key(&mut a, KeyCode::Char('A'));
    a.settle();
    assert_eq!(a.panes[0].target.name(), arch::CONFIGS[1].name);
    key(&mut a, KeyCode::Char('A'));
    key(&mut a, KeyCode::Char('A'));
    a.settle();
    assert_eq!(a.panes[0].target.name(), arch::CONFIGS.last().unwrap().name);
}

/// `z` (or F2, in the REPL too) gives the focused pane the whole screen, and back.
#[test]
fn a_pane_to_full_screen_and_back() {
    let mut a = app(&["x86_64"], "");
    key(&mut a, KeyCode::Char('z'));
    let s = screen(&mut a, 80, 24);
    assert!(!s.contains("memory blocks"), "{s}");
    assert!(!s.contains("totals"), "{s}");
    assert!(s.contains("memory map"), "{s}");
    key(&mut a, KeyCode::Char('z'));
    key(&mut a, KeyCode::Char(':'));
    key(&mut a, KeyCode::F(2));
    let s = screen(&mut a, 80, 24);
    assert!(
        s.contains("REPL · Enter runs") && !s.contains("memory map"),
        "{s}"
    );
    assert_eq!(a.repl.input.as_str(), "", "F2 typed nothing");
    key(&mut a, KeyCode::F(2));
    assert!(screen(&mut a, 80, 24).contains("memory map"));
}

/// Entering and leaving compare mode keeps the map's scale; compare mode explains every
/// mark in one legend under the maps; at 80 columns the status line names every key that
/// works where the keyboard is, in the log pane too.
#[test]
fn compare_keeps_the_scale_and_the_status_line_names_every_key() {
    let mut a = app(&["x86_64"], "");
    screen(&mut a, 80, 24);
    let per = a.sections_per_cell();
    key(&mut a, KeyCode::Char('c'));
    a.settle();
    let s = screen(&mut a, 80, 24);
    assert_eq!(a.sections_per_cell(), per);
    for mark in ["▄ changed", "▓ holds vmemmap", "▒ partly populated"] {
        assert!(s.contains(mark), "{mark}: {s}");
    }
    key(&mut a, KeyCode::Char('c'));
    a.settle();
    let s = screen(&mut a, 80, 24);
    assert_eq!(a.sections_per_cell(), per);
    let status = s.lines().last().unwrap();
    for k in ["a/A arch", " L ", " C ", " c ", " R", " z "] {
        assert!(status.contains(k), "{k:?} in {status}");
    }
    key(&mut a, KeyCode::Tab);
    key(&mut a, KeyCode::Tab);
    assert_eq!(a.focus, hotplug_lab::ui::app::Focus::Log);
    let s = screen(&mut a, 80, 24);
    let status = s.lines().last().unwrap();
    for k in ["a/A arch", " L ", " R"] {
        assert!(status.contains(k), "{k:?} in {status}");
    }
}

/// The dmesg pane starts at a line's beginning, follows new lines at its end, and stays on
/// the lines it shows once scrolled back.
#[test]
fn dmesg_starts_on_a_line_and_stays_put_when_scrolled_back() {
    let mut a = app(&["x86_64"], "memhp_default_state=offline");
    let dmesg_rows = |s: &str| -> Vec<String> {
        // The dmesg pane is the right-hand box of the middle row.
        s.lines()
            .filter_map(|l| {
                let cut: Vec<&str> = l.split('│').collect();
                (cut.len() >= 7).then(|| cut[cut.len() - 2].trim_end().to_string())
            })
            .collect()
    };
    let s = screen(&mut a, 80, 24);
    let rows = dmesg_rows(&s);
    let first = rows.iter().find(|r| !r.is_empty()).unwrap();
    assert!(first.starts_with('['), "{first:?} in {s}");
    key(&mut a, KeyCode::Tab);
    key(&mut a, KeyCode::Tab);
    key(&mut a, KeyCode::Up);
    let before = dmesg_rows(&screen(&mut a, 80, 24));
    // An add past the addressable range logs a line.
    let logs = "try { m.add_memory(1 << 50, GiB) } catch {}";
    type_line(&mut a, logs);
    key(&mut a, KeyCode::Esc);
    let after = dmesg_rows(&screen(&mut a, 80, 24));
    assert_eq!(before, after, "scrolled back, the pane did not move");
    assert_eq!(a.log_scroll, 2);
    // At the end it follows: the new line shows.
    a.log_scroll = 0;
    type_line(&mut a, logs);
    let s = screen(&mut a, 80, 24);
    assert!(s.contains("Hotplug memory"), "{s}");
}

/// Enter on a run of blocks shows it block by block (each can be inspected), and folds it
/// again; a long ZONES text is cut before RANGE goes.
#[test]
fn a_run_of_blocks_expands_and_range_stays() {
    let mut a = app(&["x86_64"], "memhp_default_state=offline");
    key(&mut a, KeyCode::Tab);
    assert_eq!(a.focus, hotplug_lab::ui::app::Focus::Blocks);
    key(&mut a, KeyCode::Down);
    key(&mut a, KeyCode::Enter);
    assert_eq!(a.block_rows(0).len(), 16);
    key(&mut a, KeyCode::Down);
    key(&mut a, KeyCode::Down);
    let s = screen(&mut a, 120, 40);
    assert!(s.contains(" memory3 "), "the third block's own detail: {s}");
    key(&mut a, KeyCode::Enter);
    assert_eq!(a.block_rows(0).len(), 2);
    assert_eq!(a.block_row, 1);
    // Offline blocks list where they could go ("Normal Movable"), memmap_on_memory blocks
    // say so: the ZONES text is long.
    let mut b = app(
        &["x86_64"],
        "memhp_default_state=offline memory_hotplug.memmap_on_memory=1",
    );
    type_line(&mut b, "m.add_memory(m.hotplug_base, 1 * GiB)");
    key(&mut b, KeyCode::Esc);
    key(&mut b, KeyCode::Tab);
    let s = screen(&mut b, 120, 40);
    assert!(s.contains("0x100000000-0x13fffffff"), "RANGE stays: {s}");
}

/// An input entered while another runs waits its turn: it shows, and runs, after the
/// result of the one before. Ctrl-C stops the running one and drops those waiting; an
/// interrupted input is not replayed by a, L or c.
#[test]
fn inputs_wait_their_turn_and_interrupted_ones_are_not_replayed() {
    let mut a = app(&["x86_64"], "");
    let typed = |a: &mut App, s: &str| {
        for c in s.chars() {
            key(a, KeyCode::Char(c));
        }
        key(a, KeyCode::Enter);
    };
    key(&mut a, KeyCode::Char(':'));
    typed(&mut a, "let t = 0; for i in 0..200000 { t += i } t");
    typed(&mut a, "41 + 1");
    assert_eq!(a.queued_inputs.len(), 1);
    a.settle();
    let lines: Vec<String> = a
        .repl
        .output
        .iter()
        .map(|(_, o)| format!("{o:?}"))
        .collect();
    let at = |s: &str| {
        lines
            .iter()
            .position(|l| l.contains(s))
            .unwrap_or(usize::MAX)
    };
    assert!(
        at("19999900000") < at("> 41 + 1") && at("> 41 + 1") < at("\"42\""),
        "{lines:#?}"
    );
    assert_eq!(a.applied.len(), 2);
    // Interrupted: not replayed, and what waited behind it is dropped.
    typed(&mut a, "loop { m.stats(); }");
    typed(&mut a, "40 + 2");
    std::thread::sleep(std::time::Duration::from_millis(200));
    a.pump();
    ctrl(&mut a, 'c');
    a.settle();
    assert_eq!(a.applied.len(), 2, "{:?}", a.applied);
    assert!(a.queued_inputs.is_empty());
    let s = screen(&mut a, 160, 50);
    assert!(
        s.contains("(interrupted: a, L and c will not replay it)"),
        "{s}"
    );
    assert!(s.contains("(1 waiting input dropped)"), "{s}");
}

/// What a Tab found stays on the status line until the next key; path completion goes a
/// component at a time over the machine's own blocks.
#[test]
fn completion_status_clears_and_paths_complete_from_the_machine() {
    let mut a = app(&["x86_64"], "memhp_default_state=offline");
    type_line(&mut a, "m.add_memory(m.hotplug_base, 1 * GiB)");
    for c in "m.read(\"/sys/devices/system/memory/memory3".chars() {
        key(&mut a, KeyCode::Char(c));
    }
    key(&mut a, KeyCode::Tab);
    assert!(a.status.contains("memory32/ memory33/"), "{}", a.status);
    assert!(
        !a.status.contains("/sys/devices"),
        "candidates are names: {}",
        a.status
    );
    for c in "2/st".chars() {
        key(&mut a, KeyCode::Char(c));
    }
    assert!(a.status.is_empty(), "{}", a.status);
    key(&mut a, KeyCode::Tab);
    assert!(a
        .repl
        .input
        .as_str()
        .ends_with("/sys/devices/system/memory/memory32/state"));
}

/// Home in the log shows its oldest lines filling the pane; End follows the newest again.
#[test]
fn the_log_goes_to_its_start_and_end() {
    let mut a = app(&["x86_64"], "");
    key(&mut a, KeyCode::Tab);
    key(&mut a, KeyCode::Tab);
    key(&mut a, KeyCode::Home);
    let s = screen(&mut a, 120, 40);
    assert!(s.contains("] Linux version"), "{s}");
    let dmesg_rows = s
        .lines()
        .filter(|l| l.matches('│').count() >= 6)
        .map(|l| l.rsplit('│').nth(1).unwrap_or("").trim().to_string())
        .filter(|r| !r.is_empty())
        .count();
    assert!(dmesg_rows >= 8, "the pane is full: {s}");
    key(&mut a, KeyCode::End);
    let s = screen(&mut a, 120, 40);
    assert!(!s.contains("] Linux version"), "{s}");
    assert_eq!(a.log_scroll, 0);
}

/// `p` writes the map on screen (both maps side by side in compare mode) and the vmemmap of
/// the block under the cursor, numbered, and says where in the status line.
#[test]
fn p_writes_the_pictures_on_screen() {
    let mut a = app(&["x86_64", "arm64"], "");
    let dir = a.opts.svg_out.clone();
    let _ = std::fs::remove_dir_all(&dir);
    a.cursor = 3;
    key(&mut a, KeyCode::Char('p'));
    assert!(a.status.starts_with("wrote "), "{}", a.status);
    assert!(a.status.contains("hotplug-lab-1.svg"), "{}", a.status);
    let map = std::fs::read_to_string(dir.join("hotplug-lab-1.svg")).unwrap();
    assert!(
        map.contains("x86_64 6.12") && map.contains("arm64 6.12"),
        "both panes"
    );
    assert_eq!(map.matches("<defs>").count(), 1, "one set of ids");
    assert!(a.status.contains("memory3's vmemmap"), "{}", a.status);
    assert!(
        std::fs::read_to_string(dir.join("hotplug-lab-1-vmemmap.svg"))
            .unwrap()
            .contains("vmemmap: x86_64")
    );
    key(&mut a, KeyCode::Char('p'));
    assert!(a.status.contains("hotplug-lab-2.svg"), "{}", a.status);
    let _ = std::fs::remove_dir_all(&dir);
}
