//! The pictures: each view drawn by a real SVG renderer (resvg) and checked non-empty and
//! labelled, small cases kept as insta snapshots of the SVG text, the chart function, the
//! CLI's --svg-out, --report and `picture`, and what save() refuses. Set
//! HOTPLUG_LAB_PNG_DIR to keep the rendered PNGs and look at them.

use hotplug_lab::picture::{self, ChartKind, ChartSpec, View};
use mm::{BootSpec, Machine, MemremapOptions};
use std::process::Command;

const GIB: u64 = 1 << 30;
const MIB: u64 = 1 << 20;

fn boot(arch: &str, kernel: &str, ram: u64, cmdline: &str) -> Machine {
    let mut spec = BootSpec::new(arch::Target::parse(arch, kernel).unwrap());
    spec.ram = Some(ram);
    spec.cmdline = cmdline.to_string();
    Machine::boot(&spec).unwrap()
}

/// The SVG parsed and drawn by resvg, with the system's fonts: its pixels, and every text
/// it holds. Panics on an SVG a renderer refuses.
fn render(name: &str, svg: &str) -> (resvg::tiny_skia::Pixmap, Vec<String>) {
    let mut opt = resvg::usvg::Options::default();
    opt.fontdb_mut().load_system_fonts();
    // What fontconfig does for a browser or rsvg: the generic family to a font there is.
    opt.fontdb_mut().set_sans_serif_family("DejaVu Sans");
    let tree = resvg::usvg::Tree::from_str(svg, &opt)
        .unwrap_or_else(|e| panic!("{name}: not an SVG a renderer takes: {e}"));
    let size = tree.size().to_int_size();
    let mut pix = resvg::tiny_skia::Pixmap::new(size.width(), size.height()).unwrap();
    resvg::render(
        &tree,
        resvg::tiny_skia::Transform::default(),
        &mut pix.as_mut(),
    );
    if let Ok(dir) = std::env::var("HOTPLUG_LAB_PNG_DIR") {
        let _ = std::fs::create_dir_all(&dir);
        pix.save_png(format!("{dir}/{name}.png")).unwrap();
    }
    // The texts, from the source (usvg turns them into paths when it draws).
    let texts = svg
        .split("<text")
        .skip(1)
        .filter_map(|t| t.split_once('>').and_then(|(_, r)| r.split_once("</text>")))
        .map(|(t, _)| t.to_string())
        .collect();
    (pix, texts)
}

/// Not blank: a good share of the pixels are neither white nor transparent, in more than
/// a few colours.
fn assert_drawn(name: &str, pix: &resvg::tiny_skia::Pixmap) {
    let mut inked = 0usize;
    let mut colours = std::collections::BTreeSet::new();
    for p in pix.pixels() {
        let (r, g, b, a) = (p.red(), p.green(), p.blue(), p.alpha());
        if a > 0 && (r, g, b) != (255, 255, 255) {
            inked += 1;
            colours.insert((r >> 4, g >> 4, b >> 4));
        }
    }
    let share = inked as f64 / pix.pixels().len() as f64;
    assert!(share > 0.02, "{name}: only {:.1}% inked", share * 100.0);
    assert!(colours.len() > 4, "{name}: {} colours", colours.len());
}

fn machine_with_everything() -> Machine {
    let mut m = boot("x86_64", "6.12", 4 * GIB, "");
    m.plug(2 * GIB, &Default::default()).unwrap();
    m.memremap_pages(
        64 * GIB,
        16 * GIB,
        &MemremapOptions {
            map: Some(mm::MemmapLocation::Mem),
            mode: Some(mm::NamespaceMode::DevDax),
            align: Some(2 * MIB),
            node: None,
        },
    )
    .unwrap();
    m.add_memory(
        128 * GIB,
        4 * GIB,
        &mm::AddOptions {
            memmap_on_memory: Some(true),
            ..Default::default()
        },
    )
    .unwrap();
    m
}

/// The map: every region, the blocks numbered as lsmem numbers them, the devices, the
/// title's totals and a legend that names every colour.
#[test]
fn the_map_is_drawn_and_labelled() {
    let m = machine_with_everything();
    let svg = picture::map_svg(&m, None);
    assert_eq!(svg, picture::map_svg(&m, None), "same machine, same bytes");
    let (pix, texts) = render("map-x86_64", &svg);
    assert_drawn("map", &pix);
    let all = texts.join("\n");
    for want in [
        "physical address map: x86_64 · Linux 6.12",
        "MemTotal",
        "System RAM",
        "Persistent Memory",
        "47",
        "acpi device 0",
        "pgmap 0",
        "legend",
    ] {
        assert!(
            all.contains(want),
            "{want} missing from the map's texts:\n{all}"
        );
    }
    for k in mm::read::SectionKind::LEGEND {
        assert!(all.contains(k.meaning()), "the legend lacks {k:?}");
    }
}

/// A range drawn to sub-section resolution: a namespace that starts inside a section.
#[test]
fn a_range_at_subsection_resolution() {
    let mut m = boot("x86_64", "6.12", 4 * GIB, "");
    m.memremap_pages(
        64 * GIB + 2 * MIB,
        126 * MIB,
        &MemremapOptions {
            map: Some(mm::MemmapLocation::Mem),
            ..Default::default()
        },
    )
    .unwrap();
    let svg = picture::map_svg(&m, Some((64 * GIB, 256 * MIB)));
    let (pix, texts) = render("map-range", &svg);
    assert_drawn("range", &pix);
    assert!(
        texts.iter().any(|t| t.contains("range [0x1000000000")),
        "{texts:?}"
    );
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path(concat!(env!("CARGO_MANIFEST_DIR"), "/../snapshots"));
    settings.set_prepend_module_to_snapshot(false);
    settings.bind(|| insta::assert_snapshot!("picture-map-range", svg));
}

/// The vmemmap of a deduplicated device-dax range: the compound page drawn page by page,
/// the counts the model computed (seed 003's 2 MiB case: 8 vmemmap pages, 2 of their own).
#[test]
fn the_vmemmap_of_a_deduplicated_namespace() {
    let m = machine_with_everything();
    let svg = picture::vmemmap_svg(&m, 64 * GIB, GIB);
    let (pix, texts) = render("vmemmap-devdax", &svg);
    assert_drawn("vmemmap", &pix);
    let all = texts.join("\n");
    assert!(
        all.contains("one 2M compound page: 8 vmemmap pages, 2 with pages of their own, 6 mapped"),
        "{all}"
    );
    assert!(
        all.contains("512 compound pages x 8 vmemmap pages = 4096, backed by 1024"),
        "{all}"
    );
    assert!(all.contains("page tables mapping it"), "{all}");
    // A range with no memmap says so.
    let svg = picture::vmemmap_svg(&m, 1 << 45, GIB);
    assert!(render("vmemmap-none", &svg)
        .1
        .iter()
        .any(|t| t.contains("no struct pages")));
    // A range reaching past the end of RAM counts the struct pages of the part that has
    // a memmap: [0x70000000, 0x80000000) of a 2 GiB machine, 65536 pages in 1024 vmemmap
    // pages, and says the rest has none.
    let small = boot("x86_64", "", 2 * GIB, "");
    let svg = picture::vmemmap_svg(&small, 0x7000_0000, GIB);
    let text = render("vmemmap-straddle", &svg).1.join("\n");
    assert!(
        text.contains(
            "65536 struct pages of 64 B (the other 196608 pages of the range have none) in 1024 \
             vmemmap pages"
        ),
        "{text}"
    );
}

/// A 64 TiB machine's map: readable (its rows are its regions, not its sections), small
/// and quick (a generous hang guard; `cargo bench -p hotplug-lab --bench render` times it).
#[test]
fn a_64_tib_machine_is_small() {
    let mut m = boot(
        "x86_64",
        "6.12",
        4 * GIB,
        "memhp_default_state=online_movable memory_hotplug.memmap_on_memory=1",
    );
    m.add_memory(1 << 40, 60 << 40, &Default::default())
        .unwrap();
    let t = std::time::Instant::now();
    let svg = picture::map_svg(&m, None);
    assert!(t.elapsed().as_secs() < 20);
    assert!(svg.len() < 500_000, "{} bytes", svg.len());
    let (pix, texts) = render("map-60t", &svg);
    assert_drawn("60 TiB", &pix);
    assert!(
        texts.iter().any(|t| t.contains("memory8192-499711")),
        "{texts:?}"
    );
}

/// chart(): a line per series with markers, axes in bytes; bars; bad input refused.
#[test]
fn charts_draw_and_refuse_bad_input() {
    let spec = ChartSpec {
        title: "memmap cost of a hot-add".into(),
        x_label: "hot-add size".into(),
        y_label: "struct pages".into(),
        kind: ChartKind::Line,
        series: vec![
            (
                "x86_64".into(),
                vec![
                    (GIB as f64, 16.0 * MIB as f64),
                    (2.0 * GIB as f64, 32.0 * MIB as f64),
                ],
            ),
            (
                "arm64-64k".into(),
                vec![
                    (GIB as f64, MIB as f64),
                    (2.0 * GIB as f64, 2.0 * MIB as f64),
                ],
            ),
        ],
        x_bytes: true,
        y_bytes: true,
    };
    let svg = picture::chart_svg(&spec).unwrap();
    assert_eq!(svg, picture::chart_svg(&spec).unwrap());
    let (pix, texts) = render("chart-line", &svg);
    assert_drawn("chart", &pix);
    for want in [
        "memmap cost of a hot-add",
        "x86_64",
        "arm64-64k",
        "(GiB)",
        "(MiB)",
    ] {
        assert!(texts.iter().any(|t| t.contains(want)), "{want}: {texts:?}");
    }
    let bars = ChartSpec {
        kind: ChartKind::Bar,
        ..spec.clone()
    };
    assert_drawn(
        "bars",
        &render("chart-bar", &picture::chart_svg(&bars).unwrap()).0,
    );
    let bad = ChartSpec {
        series: vec![("nan".into(), vec![(f64::NAN, 1.0)])],
        ..spec.clone()
    };
    assert!(picture::chart_svg(&bad).is_err());
    assert!(picture::chart_svg(&ChartSpec {
        series: vec![],
        ..spec
    })
    .is_err());
}

fn hotplug_lab(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_hotplug-lab"))
        .args(args)
        .output()
        .unwrap()
}

fn temp(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("hl-pictures-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

/// `run --svg-out` writes what save() names and each architecture's map; save() without it
/// writes nothing and says so once; a bad name is an error; --report is one HTML file with
/// the pictures inline and nothing fetched.
#[test]
fn run_writes_pictures_and_a_report_where_told() {
    let dir = temp("run");
    std::fs::create_dir_all(&dir).unwrap();
    let script = dir.join("s.rhai");
    std::fs::write(
        &script,
        "let m = boot(ARCH);\nsave(\"cost.svg\", chart(#{ title: \"t\", series: #{ a: [[1, 2], [2, 3]] } }));\nsave(\"v.svg\", m.svg(#{ view: \"vmemmap\", start: 0, size: m.block_size }));\nprint(\"done\");\n",
    )
    .unwrap();
    let out_dir = dir.join("out");
    let report = dir.join("report.html");
    let o = hotplug_lab(&[
        "run",
        script.to_str().unwrap(),
        "--arch",
        "x86_64,s390",
        "--svg-out",
        out_dir.to_str().unwrap(),
        "--report",
        report.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    for f in [
        "x86_64/cost.svg",
        "x86_64/v.svg",
        "x86_64/map.svg",
        "s390/map.svg",
    ] {
        let text = std::fs::read_to_string(out_dir.join(f)).unwrap_or_else(|e| panic!("{f}: {e}"));
        assert!(text.contains("<svg"), "{f}");
    }
    let html = std::fs::read_to_string(&report).unwrap();
    assert!(html.contains("<svg"), "pictures inline");
    assert!(
        !html.contains("http://") || !html.contains("src=\"http"),
        "nothing fetched"
    );
    assert!(!html.contains("<script"), "no script");
    assert!(html.contains("x86_64") && html.contains("s390") && html.contains("done"));
    // One architecture: the map goes beside what save() wrote, in DIR itself.
    let single = dir.join("single");
    let o = hotplug_lab(&[
        "run",
        script.to_str().unwrap(),
        "--svg-out",
        single.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    for f in ["cost.svg", "v.svg", "map.svg"] {
        assert!(single.join(f).is_file(), "{f}");
    }
    assert!(
        !single.join("x86_64").exists(),
        "no directory for one architecture"
    );
    // One architecture: its printed lines are in the report too (they also went out live).
    let one = dir.join("one.html");
    let o = hotplug_lab(&[
        "run",
        script.to_str().unwrap(),
        "--report",
        one.to_str().unwrap(),
    ]);
    assert!(o.status.success());
    assert!(String::from_utf8_lossy(&o.stdout).contains("done"));
    assert!(std::fs::read_to_string(&one)
        .unwrap()
        .contains("done\n</pre>"));
    // --svg-out naming a file: said so.
    let file = dir.join("a-file");
    std::fs::write(&file, "x").unwrap();
    let o = hotplug_lab(&[
        "run",
        script.to_str().unwrap(),
        "--svg-out",
        file.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("is not a directory: --svg-out names"));
    // Without --svg-out: nothing written, said once.
    let o = hotplug_lab(&["run", script.to_str().unwrap()]);
    assert!(o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(err.matches("save() wrote nothing").count(), 1, "{err}");
    // A name with a directory part is refused.
    std::fs::write(&script, "save(\"../x.svg\", \"<svg/>\");").unwrap();
    let o = hotplug_lab(&[
        "run",
        script.to_str().unwrap(),
        "--svg-out",
        out_dir.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(!dir.join("x.svg").exists());
    let _ = std::fs::remove_dir_all(&dir);
}

/// `hotplug-lab picture` draws a machine booted from flags.
#[test]
fn the_picture_command() {
    let dir = temp("cmd");
    std::fs::create_dir_all(&dir).unwrap();
    let f = dir.join("m.svg");
    let o = hotplug_lab(&[
        "picture",
        "--arch",
        "arm64",
        "--kernel",
        "7.3",
        "--ram",
        "8G",
        "-o",
        f.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let svg = std::fs::read_to_string(&f).unwrap();
    let (pix, texts) = render("picture-arm64", &svg);
    assert_drawn("picture", &pix);
    assert!(texts.iter().any(|t| t.contains("arm64 · Linux 7.3")));
    let v = dir.join("v.svg");
    let o = hotplug_lab(&[
        "picture",
        "--view",
        "vmemmap",
        "--range",
        "0x40000000,128M",
        "-o",
        v.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(std::fs::read_to_string(&v)
        .unwrap()
        .contains("vmemmap: x86_64"));
    let o = hotplug_lab(&["picture", "--view", "plan", "-o", v.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    // A range past the end of the address space (or of 64 bits) is a usage error.
    for r in ["0xffffffffffffffff,1G", "0x4000000000000,1G"] {
        let o = hotplug_lab(&["picture", "--range", r, "-o", v.to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(2), "{r}");
        assert!(
            String::from_utf8_lossy(&o.stderr).contains("runs past"),
            "{r}"
        );
    }
    // A range inside the address space with nothing in it is drawn, and said to be empty.
    let empty = dir.join("empty.svg");
    let o = hotplug_lab(&[
        "picture",
        "--range",
        "0x10000000000,1G",
        "-o",
        empty.to_str().unwrap(),
    ]);
    assert!(o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("has a struct page on this machine"));
    assert!(empty.is_file());
    let _ = std::fs::remove_dir_all(&dir);
}

/// Every view parses.
#[test]
fn views_by_name() {
    assert_eq!(View::parse("map"), Some(View::Map));
    assert_eq!(View::parse("vmemmap"), Some(View::Vmemmap));
    assert_eq!(View::parse("Map"), None);
}

/// Render the SVG files HOTPLUG_LAB_RENDER names (comma-separated) to PNGs beside them: a
/// way to look at a picture with the renderer the tests use (does nothing otherwise).
#[test]
fn render_files_on_request() {
    let Ok(list) = std::env::var("HOTPLUG_LAB_RENDER") else {
        return;
    };
    for f in list.split(',').filter(|f| !f.is_empty()) {
        let svg = std::fs::read_to_string(f).unwrap();
        let (pix, _) = render("requested", &svg);
        pix.save_png(format!("{f}.png")).unwrap();
    }
}

/// README's pictures, kept under snapshots/ as reviewed files: each is regenerated by the
/// command README writes beside it and must come out byte for byte the same. On a
/// difference the new one is written beside it as NAME.new to review (not under CI), as
/// insta does.
#[test]
fn readme_pictures_are_current() {
    let snaps = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../snapshots");
    let dir = temp("readme");
    std::fs::create_dir_all(&dir).unwrap();
    let d = dir.to_str().unwrap();
    let map = dir.join("map.svg");
    let cases: Vec<(&str, Vec<String>, std::path::PathBuf)> = vec![
        (
            "picture-map-arm64-7.3.svg",
            [
                "picture",
                "--arch",
                "arm64",
                "--kernel",
                "7.3",
                "--ram",
                "8G",
                "-o",
                map.to_str().unwrap(),
            ]
            .map(String::from)
            .to_vec(),
            map.clone(),
        ),
        (
            "picture-devdax-2M.svg",
            [
                "run",
                "scripts/devdax-dedup-picture.rhai",
                "--arch",
                "x86_64",
                "--svg-out",
                d,
            ]
            .map(String::from)
            .to_vec(),
            dir.join("devdax-2M.svg"),
        ),
        (
            "picture-memmap-cost-7.3.svg",
            ["run", "scripts/memmap-cost-chart.rhai", "--svg-out", d]
                .map(String::from)
                .to_vec(),
            dir.join("memmap-cost-7.3.svg"),
        ),
    ];
    let mut stale = Vec::new();
    for (name, args, made) in cases {
        let o = Command::new(env!("CARGO_BIN_EXE_hotplug-lab"))
            .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
            .args(&args)
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let new = std::fs::read(&made).unwrap();
        render(name, &String::from_utf8_lossy(&new));
        let kept = snaps.join(name);
        if std::fs::read(&kept).ok().as_deref() != Some(&new[..]) {
            if std::env::var_os("CI").is_none() {
                std::fs::write(snaps.join(format!("{name}.new")), &new).unwrap();
            }
            stale.push(name);
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        stale.is_empty(),
        "README's pictures changed: {stale:?} (review NAME.new, then move it over)"
    );
}

/// The HTML report opened in a real headless browser (Chromium from Debian: .ci/run installs
/// it; elsewhere the test is skipped with a note when it is missing): no console errors in
/// its log, and a screenshot that is not blank.
#[test]
fn the_report_opens_in_a_browser() {
    let Some(browser) = ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find(|b| {
            Command::new(b)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
        })
    else {
        eprintln!("the_report_opens_in_a_browser: skipped, no Chromium here (.ci/run installs it)");
        return;
    };
    let dir = temp("browser");
    std::fs::create_dir_all(&dir).unwrap();
    let script = dir.join("s.rhai");
    std::fs::write(
        &script,
        "let m = boot(ARCH);\nm.plug(1 * GiB);\nsave(\"c.svg\", chart(#{ title: \"t\", series: #{ a: [[1, 2], [2, 3]] } }));\nprint(\"plugged\");\n",
    )
    .unwrap();
    let report = dir.join("report.html");
    let o = hotplug_lab(&[
        "run",
        script.to_str().unwrap(),
        "--arch",
        "x86_64,arm64",
        "--svg-out",
        dir.join("svg").to_str().unwrap(),
        "--report",
        report.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let shot = dir.join("shot.png");
    let o = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--enable-logging=stderr",
            "--v=0",
            "--window-size=1200,1600",
            &format!("--user-data-dir={}", dir.join("profile").display()),
            &format!("--screenshot={}", shot.display()),
            &format!("file://{}", report.display()),
        ])
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&o.stderr);
    for bad in ["CONSOLE", "Uncaught", "Failed to load resource"] {
        assert!(
            !log.lines().any(|l| l.contains(bad) && !l.contains("INFO")),
            "{bad}: {log}"
        );
    }
    let png = resvg::tiny_skia::Pixmap::load_png(&shot)
        .unwrap_or_else(|e| panic!("no screenshot ({e}): {log}"));
    if let Ok(d) = std::env::var("HOTPLUG_LAB_PNG_DIR") {
        let _ = std::fs::copy(&shot, format!("{d}/report-screenshot.png"));
    }
    assert_drawn("report screenshot", &png);
    let _ = std::fs::remove_dir_all(&dir);
}

/// What a hostile script tried: a saved text over --max-string-size (E2BIG, nothing written),
/// a range past the address space (EINVAL), another machine's device map given to unplug
/// (EINVAL, the machine's own device untouched).
#[test]
fn pictures_and_unplug_hold_their_limits() {
    let dir = temp("limits");
    std::fs::create_dir_all(&dir).unwrap();
    let script = dir.join("s.rhai");
    let out = dir.join("out");
    let run = |src: &str, extra: &[&str]| {
        std::fs::write(&script, src).unwrap();
        let mut args = vec![
            "run",
            script.to_str().unwrap(),
            "--svg-out",
            out.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        hotplug_lab(&args)
    };
    let o = run(
        "let s = \"x\"; for i in 0..14 { s += s; } save(\"big.svg\", s + s);",
        &["--max-string-size", "20000"],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("--max-string-size"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(!out.join("big.svg").exists());
    let o = run(
        "let m = boot(); m.svg(#{ start: (1 << 46) - 4096, size: 8192 });",
        &[],
    );
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("runs past"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let o = run(
        "let m = boot(#{ ram: \"4G\" }); let other = boot(#{ ram: \"4G\" });\n\
         m.plug(2 * GiB); let d = other.plug(1 * GiB, #{ start: 8 * GiB });\n\
         try { m.unplug(d); } catch (e) { print(`${e.errno}`); }\n\
         print(m.devices().len());",
        &[],
    );
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains("EINVAL") && text.trim_end().ends_with('1'),
        "{text}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
