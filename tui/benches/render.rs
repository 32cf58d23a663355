//! One frame of the terminal UI for a 60 TiB machine at 200x60 (TestBackend), with the
//! map in its overview and zoomed to one section per cell, and a key with the frame that
//! shows it. `cargo bench -p hotplug-lab --bench render`.

use criterion::{criterion_group, criterion_main, Criterion};
use hotplug_lab::ui::{self, App, Options};

hotplug_lab::install_heap_meter!();
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use std::time::Instant;

fn big_app() -> App {
    let mut a = App::new(Options::default()).unwrap();
    a.settle();
    // 60 TiB of boot RAM, then 2 TiB hot-added and onlined movable, and a 1 TiB namespace.
    a.submit(
        "m = boot(#{ arch: \"x86_64\", ram: \"60T\", cmdline: \"memhp_default_state=offline\" }); \
         m.add_memory(61 * TiB, 2 * TiB); m.online(61 * TiB, 2 * TiB, \"online_movable\"); \
         m.memremap_pages(63 * TiB, 512 * GiB, #{ map: \"dev\" });"
            .to_string(),
    );
    a.settle();
    a
}

fn render(c: &mut Criterion) {
    let mut a = big_app();
    let m = a.machine().expect("booted");
    let present = m.stat("sections_present").unwrap();
    let mut t = Terminal::new(TestBackend::new(200, 60)).unwrap();
    ui::frame(&mut t, &mut a).unwrap();
    let s = Instant::now();
    ui::frame(&mut t, &mut a).unwrap();
    println!(
        "one 200x60 frame of a 60 TiB machine ({present} present sections, {} map runs): {:.2} ms",
        a.panes[0].view.runs.len(),
        s.elapsed().as_secs_f64() * 1e3
    );
    let mut g = c.benchmark_group("render 200x60, 60 TiB");
    g.bench_function("overview", |b| {
        b.iter(|| ui::frame(&mut t, &mut a).unwrap())
    });
    // Zoom in to one section per cell around the hot-added memory.
    a.on_key(KeyEvent::new(KeyCode::Esc, KeyModifiers::NONE));
    a.cursor = (61u64 << 40) >> 27;
    for _ in 0..20 {
        a.on_key(KeyEvent::new(KeyCode::Char('+'), KeyModifiers::NONE));
        if a.sections_per_cell() == 1 {
            break;
        }
    }
    g.bench_function("one section per cell", |b| {
        b.iter(|| ui::frame(&mut t, &mut a).unwrap())
    });
    // A key as the user feels it: handled, then the frame that shows it.
    let mut right = true;
    g.bench_function("key (cursor move) and its frame", |b| {
        b.iter(|| {
            let k = if right { KeyCode::Right } else { KeyCode::Left };
            right = !right;
            a.on_key(KeyEvent::new(k, KeyModifiers::NONE));
            ui::frame(&mut t, &mut a).unwrap()
        })
    });
    a.on_key(KeyEvent::new(KeyCode::Tab, KeyModifiers::NONE));
    g.bench_function("key (block row down) and its frame", |b| {
        b.iter(|| {
            a.on_key(KeyEvent::new(KeyCode::Down, KeyModifiers::NONE));
            ui::frame(&mut t, &mut a).unwrap()
        })
    });
    g.finish();
    // Recomputing the view after an input (MachineView::of) on the same machine.
    let m = a.machine().unwrap().clone();
    c.bench_function("view of a 60 TiB machine", |b| {
        b.iter(|| mm::read::MapView::of(&m))
    });
    // The SVG pictures of it: the address map, and a 1 GiB range's vmemmap.
    let svg = hotplug_lab::picture::map_svg(&m, None);
    println!("map of a 60 TiB machine: {} bytes of SVG", svg.len());
    c.bench_function("picture: map of a 60 TiB machine", |b| {
        b.iter(|| hotplug_lab::picture::map_svg(&m, None))
    });
    c.bench_function("picture: vmemmap of 1 GiB", |b| {
        b.iter(|| hotplug_lab::picture::vmemmap_svg(&m, 61 << 40, 1 << 30))
    });
    // The worst shape: 60 TiB hot-added with memmap_on_memory, an altmap per block.
    let mut spec = mm::BootSpec::new(arch::Target::parse("x86_64", "").unwrap());
    spec.cmdline = "memhp_default_state=online_movable memory_hotplug.memmap_on_memory=1".into();
    let mut big = mm::Machine::boot(&spec).unwrap();
    big.add_memory(1 << 40, 60 << 40, &Default::default())
        .unwrap();
    let svg = hotplug_lab::picture::map_svg(&big, None);
    println!(
        "map of 60 TiB with an altmap per block: {} bytes of SVG",
        svg.len()
    );
    c.bench_function("picture: map of 60 TiB with an altmap per block", |b| {
        b.iter(|| hotplug_lab::picture::map_svg(&big, None))
    });
}

/// Typing into the REPL key by key (a paste a terminal delivers without bracketed paste):
/// each key at the end of the line costs the same however long it is, so a megabyte is
/// taken in linear time (it ran at 2,100 characters a second).
fn typing(c: &mut Criterion) {
    let mut g = c.benchmark_group("REPL typing");
    g.sample_size(10);
    for n in [250_000usize, 1_000_000] {
        g.bench_function(format!("{n} keys"), |b| {
            b.iter_batched(
                || {
                    let mut a = App::new(Options::default()).unwrap();
                    a.on_key(KeyEvent::new(KeyCode::Char(':'), KeyModifiers::NONE));
                    a
                },
                |mut a| {
                    for _ in 0..n {
                        a.on_key(KeyEvent::new(KeyCode::Char('q'), KeyModifiers::NONE));
                    }
                    a
                },
                criterion::BatchSize::LargeInput,
            )
        });
    }
    g.finish();
}

criterion_group!(benches, render, typing);
criterion_main!(benches);
