//! The terminal UI rendered with ratatui's TestBackend: the main screens at 120x40 and
//! 80x24 (snapshots under snapshots/ui@*), resizing down to a few columns, and the update
//! step driven by keys.

use hotplug_lab::ui::{self, App, Options};
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::style::Color;
use ratatui::Terminal;

fn app(archs: &[&str], cmdline: &str) -> App {
    let mut a = App::new(Options {
        archs: archs.iter().map(|s| s.to_string()).collect(),
        cmdline: cmdline.to_string(),
        iomem: String::new(),
        script: None,
        limits: Default::default(),
    })
    .unwrap();
    a.settle();
    a
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

fn type_line(app: &mut App, s: &str) {
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

#[test]
fn screens() {
    for (w, h) in [(120u16, 40u16), (80, 24)] {
        // After boot.
        let mut a = app(
            &["x86_64"],
            "memory_hotplug.memmap_on_memory=1 memhp_default_state=offline",
        );
        settings()
            .bind(|| insta::assert_snapshot!(format!("ui@boot-{w}x{h}"), screen(&mut a, w, h)));
        // After a hot-add whose memmap is on the added memory.
        type_line(&mut a, "m.add_memory(m.hotplug_base, 1 * GiB); m.online(m.hotplug_base, 1 * GiB, \"online_movable\");");
        settings().bind(|| {
            insta::assert_snapshot!(
                format!("ui@add-memmap-on-memory-{w}x{h}"),
                screen(&mut a, w, h)
            )
        });
        // The help overlay.
        key(&mut a, KeyCode::Esc);
        key(&mut a, KeyCode::Char('?'));
        settings()
            .bind(|| insta::assert_snapshot!(format!("ui@help-{w}x{h}"), screen(&mut a, w, h)));
        // Compare mode: the same input on x86_64 and arm64-64k.
        let mut c = app(&["x86_64", "arm64-64k"], "");
        type_line(&mut c, "m.add_memory(m.hotplug_base, 2 * GiB)");
        settings()
            .bind(|| insta::assert_snapshot!(format!("ui@compare-{w}x{h}"), screen(&mut c, w, h)));
    }
}

#[test]
fn any_size_draws_without_panicking() {
    let mut a = app(&["x86_64"], "");
    type_line(&mut a, "m.add_memory(m.hotplug_base, 1 * GiB)");
    let mut c = app(&["x86_64", "arm64-64k", "s390"], "");
    for (w, h) in [
        (1, 1),
        (2, 3),
        (5, 2),
        (10, 5),
        (19, 7),
        (20, 8),
        (25, 9),
        (33, 12),
        (61, 17),
        (200, 60),
        (300, 90),
    ] {
        screen(&mut a, w, h);
        screen(&mut c, w, h);
        key(&mut a, KeyCode::Char('?'));
        screen(&mut a, w, h);
        key(&mut a, KeyCode::Esc);
    }
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
    assert_eq!(cell.fg, Color::Cyan, "{:?}", cell);
    assert_eq!(cell.bg, Color::Yellow, "changed cells are highlighted");
    assert_ne!(before[(40, 1)].symbol(), cell.symbol());
    // The blocks table lists the new range.
    let text = t.backend().to_string();
    assert!(text.contains("0x100000000-0x13fffffff"), "{text}");
    assert!(text.contains("32-39"), "{text}");
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
    assert_eq!(a.repl.input, "m.add_memory(4 * GiB + 4096, 1 * GiB)");
    // An unfinished input continues on the next line.
    a.repl.input.clear();
    a.repl.cursor = 0;
    for c in "if true {".chars() {
        key(&mut a, KeyCode::Char(c));
    }
    key(&mut a, KeyCode::Enter);
    assert_eq!(a.repl.input, "if true {\n");
    type_line(&mut a, "print(\"inside\") }");
    assert!(screen(&mut a, 120, 40).contains("inside"));
}

#[test]
fn a_long_script_can_be_interrupted() {
    let mut a = app(&["x86_64"], "");
    for c in "loop { m.stats(); }".chars() {
        key(&mut a, KeyCode::Char(c));
    }
    key(&mut a, KeyCode::Enter);
    std::thread::sleep(std::time::Duration::from_millis(200));
    a.pump();
    assert!(a.busy(), "the loop is still running");
    // The UI keeps drawing while it runs.
    assert!(screen(&mut a, 80, 24).contains("running"));
    a.on_key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL));
    a.settle();
    assert!(!a.busy());
    assert!(screen(&mut a, 120, 40).contains("interrupted"));
}

#[test]
fn zoom_reaches_one_sections_sub_sections() {
    let mut a = app(&["x86_64"], "");
    type_line(&mut a, "m.memremap_pages(m.hotplug_base + 2 * MiB, 4 * MiB, #{ map: \"mem\", mode: \"fsdax\", align: 4096 })");
    key(&mut a, KeyCode::Esc);
    // Move the cursor to the section and zoom all the way in.
    a.cursor = 32;
    for _ in 0..12 {
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
    assert_eq!(
        cells,
        vec![
            Color::DarkGray,
            Color::Magenta,
            Color::Magenta,
            Color::DarkGray
        ]
    );
}

#[test]
fn architecture_switch_replays_the_inputs() {
    let mut a = app(&["x86_64"], "");
    type_line(&mut a, "m.add_memory(m.hotplug_base, 2 * GiB)");
    key(&mut a, KeyCode::Esc);
    key(&mut a, KeyCode::Char('a'));
    a.settle();
    assert_eq!(a.panes[0].arch, "x86_64-la57");
    let m = a.machine().unwrap();
    assert_eq!(m.blocks().values().filter(|b| !b.early).count(), 16);
}

#[test]
fn the_script_player_steps_statement_by_statement() {
    let src = "let base = m.hotplug_base;\nm.add_memory(base, 1 * GiB);\nprint(`added ${m.stats().blocks} blocks`);\n";
    let mut a = App::new(Options {
        archs: vec!["x86_64".into()],
        cmdline: String::new(),
        iomem: String::new(),
        script: Some(("demo.rhai".into(), src.into())),
        limits: Default::default(),
    })
    .unwrap();
    a.settle();
    key(&mut a, KeyCode::Esc);
    let blocks = |a: &App| a.machine().unwrap().blocks().len();
    assert_eq!(blocks(&a), 16);
    key(&mut a, KeyCode::Char('n'));
    a.settle();
    assert_eq!(blocks(&a), 16);
    key(&mut a, KeyCode::Char('n'));
    a.settle();
    assert_eq!(blocks(&a), 24);
    let text = screen(&mut a, 120, 40);
    assert!(text.contains("script demo.rhai (2/3)"), "{text}");
    key(&mut a, KeyCode::Char('r'));
    a.settle();
    assert!(screen(&mut a, 120, 40).contains("added 24 blocks"));
    // R reboots and rewinds.
    key(&mut a, KeyCode::Char('R'));
    a.settle();
    assert_eq!(blocks(&a), 16);
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
    type_line(
        &mut a,
        "let d = m.memremap_pages(64 * GiB, 4 * GiB, #{ map: \"mem\" }); m.dax_kmem(d);",
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
    assert!(s.contains("kmem dax0: "), "{s}");
}
