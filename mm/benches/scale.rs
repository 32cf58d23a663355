//! Scale benchmarks: booting a 64 TiB machine and cycling 60 TiB through hot-add, online,
//! offline and remove in 128 MiB blocks. Each prints its figure; `cargo bench -p mm`.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use mm::cmdline::OnlineType;
use mm::{AddOptions, BootSpec, Machine};
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

const GIB: u64 = 1 << 30;
const TIB: u64 = 1 << 40;

/// Counts live heap bytes, to report the model's memory per present section.
struct Counting;
static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(l) };
        if !p.is_null() {
            let now = LIVE.fetch_add(l.size(), Ordering::Relaxed) + l.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        unsafe { System.dealloc(p, l) };
        LIVE.fetch_sub(l.size(), Ordering::Relaxed);
    }
    unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
        let p = unsafe { System.alloc_zeroed(l) };
        if !p.is_null() {
            let now = LIVE.fetch_add(l.size(), Ordering::Relaxed) + l.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        p
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        let q = unsafe { System.realloc(p, l, new) };
        if !q.is_null() {
            LIVE.fetch_sub(l.size(), Ordering::Relaxed);
            let now = LIVE.fetch_add(new, Ordering::Relaxed) + new;
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        q
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

fn spec(arch: &str, ram: u64, cmdline: &str) -> BootSpec {
    BootSpec {
        arch: arch.into(),
        ram: Some(ram),
        cmdline: cmdline.into(),
        ..BootSpec::default()
    }
}

/// Boot a 64 TiB x86_64 machine with 5-level paging (a 4 PiB physical address space).
fn boot_64t(c: &mut Criterion) {
    let s = spec("x86_64-la57", 64 * TIB, "");
    let before = LIVE.load(Ordering::Relaxed);
    PEAK.store(before, Ordering::Relaxed);
    let t = Instant::now();
    let m = Machine::boot(&s).unwrap();
    let took = t.elapsed();
    let live = LIVE.load(Ordering::Relaxed) - before;
    let peak = PEAK.load(Ordering::Relaxed) - before;
    let present = m.stat("sections_present").unwrap();
    println!(
        "boot 64 TiB x86_64-la57: {:.1} ms, {} present sections, {} blocks, model state {:.1} MiB (peak {:.1} MiB) = {:.1} bytes per present section",
        took.as_secs_f64() * 1e3,
        present,
        m.blocks().len(),
        live as f64 / (1 << 20) as f64,
        peak as f64 / (1 << 20) as f64,
        live as f64 / present as f64
    );
    drop(m);
    c.bench_function("boot 64 TiB x86_64-la57", |b| {
        b.iter(|| Machine::boot(&s).unwrap())
    });
}

/// add + online + offline + remove of `size` in one call each.
fn cycle(m: &mut Machine, start: u64, size: u64, t: OnlineType) {
    m.add_memory(start, size, &AddOptions::default()).unwrap();
    m.online(start, size, t).unwrap();
    m.offline(start, size).unwrap();
    m.remove_memory(start, size).unwrap();
}

fn hotplug_cycles(c: &mut Criterion) {
    // (name, arch, boot RAM, cmdline, bytes cycled). Boot RAM large enough to hold the memmap
    // of what is added when it comes from existing memory; x86 boot memory that ends below
    // 64 GiB (or not 256 MiB aligned under a hypervisor) keeps 128 MiB blocks.
    let cases = [
        (
            "x86_64 60 TiB, memmap_on_memory",
            "x86_64",
            2 * GIB,
            "memhp_default_state=offline memory_hotplug.memmap_on_memory=1",
            60 * TIB,
        ),
        (
            "x86_64 60 TiB, memmap from the buddy",
            "x86_64",
            TIB + (128 << 20),
            "memhp_default_state=offline",
            60 * TIB,
        ),
        (
            "arm64-64k 60 TiB, memmap from the buddy",
            "arm64-64k",
            96 * GIB,
            "memhp_default_state=offline",
            60 * TIB,
        ),
        (
            "s390 60 TiB, memmap_on_memory",
            "s390",
            4 * GIB,
            "memhp_default_state=offline memory_hotplug.memmap_on_memory=1",
            60 * TIB,
        ),
        (
            "s390 60 TiB, memmap from the buddy",
            "s390",
            1000 * GIB,
            "memhp_default_state=offline",
            60 * TIB,
        ),
    ];
    let mut g = c.benchmark_group("hotplug cycle");
    g.sample_size(10).measurement_time(Duration::from_secs(8));
    for (name, arch, ram, cmdline, size) in cases {
        let s = spec(arch, ram, cmdline);
        let m0 = Machine::boot(&s).unwrap();
        let start = m0
            .boot_info()
            .hotplug_base
            .next_multiple_of(m0.block_size());
        let blocks = size / m0.block_size();
        let mut m = m0.clone();
        let t = Instant::now();
        cycle(&mut m, start, size, OnlineType::OnlineMovable);
        println!(
            "{name}: {blocks} blocks of {} MiB, one cycle {:.1} ms",
            m0.block_size() >> 20,
            t.elapsed().as_secs_f64() * 1e3
        );
        g.bench_function(name, |b| {
            b.iter_batched(
                || m0.clone(),
                |mut m| cycle(&mut m, start, size, OnlineType::OnlineMovable),
                BatchSize::LargeInput,
            )
        });
    }
    g.finish();
}

criterion_group!(benches, boot_64t, hotplug_cycles);
criterion_main!(benches);
