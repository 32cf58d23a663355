//! Scale benchmarks: booting a 64 TiB machine, cycling 60 TiB through hot-add, online,
//! offline and remove in 128 MiB blocks, mapping and unmapping 1 TiB of device-dax, and
//! HugeTLB vmemmap optimisation of a large pool. Each prints its figure; `cargo bench -p mm`.

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
        target: arch::Target::parse(arch, "").unwrap(),
        ram: Some(ram),
        cmdline: cmdline.into(),
        ..BootSpec::default()
    }
}

/// The same on a given kernel version.
fn spec_on(kernel: &str, arch: &str, ram: u64, cmdline: &str) -> BootSpec {
    BootSpec {
        target: arch::Target::parse(arch, kernel).unwrap(),
        ..spec(arch, ram, cmdline)
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

/// A 4 GiB boot on every configuration and version: the cost follows the memory present,
/// not the address space (x86_64-la57's 131072 possible section roots, powerpc's 51-bit
/// one); and the sizing sweep (every configuration, version and memmap_on_memory mode, 64
/// hot-add sizes each: 4608 boots and adds).
fn boot_4g_everywhere(c: &mut Criterion) {
    let mut g = c.benchmark_group("boot 4 GiB");
    for config in arch::CONFIGS {
        for kernel in arch::KERNELS {
            let t = arch::Target::new(config, kernel);
            let s = BootSpec {
                target: t,
                ram: Some(4 << 30),
                ..BootSpec::default()
            };
            g.bench_function(format!("{}@{}", config.name, kernel.name), |b| {
                b.iter(|| Machine::boot(&s).unwrap())
            });
        }
    }
    g.finish();
    let mut g = c.benchmark_group("sizing sweep");
    g.sample_size(10);
    g.bench_function("4608 boots and adds", |b| {
        b.iter(|| {
            for config in arch::CONFIGS {
                for kernel in arch::KERNELS {
                    for mode in ["0", "1", "force"] {
                        let s = BootSpec {
                            target: arch::Target::new(config, kernel),
                            ram: Some(4 << 30),
                            cmdline: format!("memory_hotplug.memmap_on_memory={mode}"),
                            ..BootSpec::default()
                        };
                        for i in 1..=64u64 {
                            let mut m = Machine::boot(&s).unwrap();
                            let base = m.boot_info().hotplug_base;
                            let bs = m.block_size();
                            let at = base.next_multiple_of(bs);
                            m.add_memory(at, i * bs, &AddOptions::default()).unwrap();
                        }
                    }
                }
            }
        })
    });
    g.finish();
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
            "6.12",
            "x86_64",
            2 * GIB,
            "memhp_default_state=offline memory_hotplug.memmap_on_memory=1",
            60 * TIB,
        ),
        (
            "x86_64 60 TiB, memmap from the buddy",
            "6.12",
            "x86_64",
            TIB + (128 << 20),
            "memhp_default_state=offline",
            60 * TIB,
        ),
        (
            "arm64-64k 60 TiB, memmap from the buddy",
            "6.12",
            "arm64-64k",
            96 * GIB,
            "memhp_default_state=offline",
            60 * TIB,
        ),
        (
            "s390 60 TiB, memmap_on_memory",
            "6.12",
            "s390",
            4 * GIB,
            "memhp_default_state=offline memory_hotplug.memmap_on_memory=1",
            60 * TIB,
        ),
        // 6.1 takes memmap_on_memory for one-block adds only: the memmap comes from RAM.
        (
            "x86_64 60 TiB on Linux 6.1, memmap from the buddy",
            "6.1",
            "x86_64",
            TIB + (128 << 20),
            "memhp_default_state=offline",
            60 * TIB,
        ),
        (
            "s390 60 TiB, memmap from the buddy",
            "6.12",
            "s390",
            1000 * GIB,
            "memhp_default_state=offline",
            60 * TIB,
        ),
    ];
    let mut g = c.benchmark_group("hotplug cycle");
    g.sample_size(10).measurement_time(Duration::from_secs(8));
    for (name, kernel, arch, ram, cmdline, size) in cases {
        let s = spec_on(kernel, arch, ram, cmdline);
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
                // The machine is returned so that dropping it is not timed.
                |mut m| {
                    cycle(&mut m, start, size, OnlineType::OnlineMovable);
                    m
                },
                BatchSize::LargeInput,
            )
        });
    }
    g.finish();
}

/// memremap_pages() + memunmap_pages() of a 1 TiB device-dax namespace on x86_64.
fn devdax_map_unmap(c: &mut Criterion) {
    use mm::{MemmapLocation, MemremapOptions, NamespaceMode};
    let mut g = c.benchmark_group("devdax 1 TiB map+unmap");
    g.sample_size(10);
    for (name, align, map) in [
        ("4K, map=mem", 4096, MemmapLocation::Mem),
        ("2M compound, map=mem", 2 << 20, MemmapLocation::Mem),
        ("1G compound, map=mem", GIB, MemmapLocation::Mem),
        ("2M, map=dev", 2 << 20, MemmapLocation::Dev),
    ] {
        let m0 = Machine::boot(&spec("x86_64", 32 * GIB, "")).unwrap();
        let o = MemremapOptions {
            map: Some(map),
            mode: Some(NamespaceMode::DevDax),
            align: Some(align),
            node: None,
        };
        let mut m = m0.clone();
        let t = Instant::now();
        let id = m.memremap_pages(TIB, TIB, &o).unwrap();
        let mapped = t.elapsed();
        let extents = m.vmemmap().extent_count();
        let t = Instant::now();
        m.memunmap_pages(id).unwrap();
        println!(
            "devdax 1 TiB {name}: map {:.2} ms, unmap {:.2} ms, {extents} vmemmap extents",
            mapped.as_secs_f64() * 1e3,
            t.elapsed().as_secs_f64() * 1e3
        );
        g.bench_function(name, |b| {
            b.iter_batched(
                || m0.clone(),
                |mut m| {
                    let id = m.memremap_pages(TIB, TIB, &o).unwrap();
                    m.memunmap_pages(id).unwrap();
                    m
                },
                BatchSize::LargeInput,
            )
        });
    }
    g.finish();
}

/// Allocating and freeing 4 TiB of 2 MiB huge pages (2M pages) with HVO on.
fn hvo_pool(c: &mut Criterion) {
    let m0 = Machine::boot(&spec("x86_64", 4 * TIB, "hugetlb_free_vmemmap=on")).unwrap();
    let i = m0.hstate_index(2 << 20).unwrap();
    let n = 2 * TIB / (2 << 20);
    let mut m = m0.clone();
    let t = Instant::now();
    let got = m.set_nr_hugepages(i, n);
    let alloc = t.elapsed();
    let saved = m.hvo_freed_pages();
    let runs = m.hstates()[i].runs.len();
    let t = Instant::now();
    let left = m.set_nr_hugepages(i, 0);
    println!(
        "HVO 2 TiB of 2M pages on a 4 TiB machine: {got} pages in {runs} runs allocated and \
         optimised in {:.2} ms ({saved} vmemmap pages freed), {left} left after freeing in {:.2} ms",
        alloc.as_secs_f64() * 1e3,
        t.elapsed().as_secs_f64() * 1e3
    );
    let mut g = c.benchmark_group("hvo");
    g.sample_size(10);
    g.bench_function("2 TiB of 2M huge pages, allocate and free", |b| {
        b.iter_batched(
            || m0.clone(),
            |mut m| {
                m.set_nr_hugepages(i, n);
                m.set_nr_hugepages(i, 0);
                m
            },
            BatchSize::LargeInput,
        )
    });
    g.finish();
}

/// What grows with its input and once grew with its square (issue 27): a virtio-mem device
/// plugging 1, 4 and 16 TiB; a boot with 20,000 and 40,000 `memmap=` entries; a boot from
/// an iomem of 25,000 and 100,000 System RAM ranges. Each figure should scale with its
/// input (x4 input, about x4 time).
fn linear_in_their_input(c: &mut Criterion) {
    let mut g = c.benchmark_group("linear");
    g.sample_size(10);
    let m0 = Machine::boot(&spec("x86_64", 2 * GIB, "")).unwrap();
    for tib in [1u64, 4, 16] {
        let mut m = m0.clone();
        let id = m
            .virtio_mem_add(&mm::virtio_mem::VirtioMemConfig {
                start: TIB,
                region_size: 16 * TIB,
                ..Default::default()
            })
            .unwrap();
        g.bench_function(format!("virtio-mem resize to {tib} TiB"), |b| {
            b.iter_batched(
                || m.clone(),
                |mut m| {
                    m.virtio_mem_resize(id, tib * TIB).unwrap();
                    m
                },
                BatchSize::LargeInput,
            )
        });
    }
    for n in [20_000u64, 40_000] {
        let cmdline: Vec<String> = (0..n)
            .map(|i| format!("memmap=2M!{:#x}", 4 * GIB + i * (4 << 20)))
            .collect();
        let s = spec("x86_64", 4 * GIB, &cmdline.join(" "));
        g.bench_function(format!("boot with {n} memmap= entries"), |b| {
            b.iter(|| Machine::boot(&s).unwrap())
        });
    }
    for n in [25_000u64, 100_000] {
        let iomem: String = (0..n)
            .map(|i| {
                let s = 4 * GIB + i * (4 << 20);
                format!("{s:08x}-{:08x} : System RAM\n", s + (2 << 20) - 1)
            })
            .collect();
        let s = BootSpec {
            iomem: Some(iomem),
            ..spec("x86_64", 0, "")
        };
        g.bench_function(format!("boot from {n} iomem ranges"), |b| {
            b.iter(|| Machine::boot(&s).unwrap())
        });
    }
    g.finish();
}

criterion_group!(
    benches,
    boot_64t,
    boot_4g_everywhere,
    hotplug_cycles,
    devdax_map_unmap,
    hvo_pool,
    linear_in_their_input
);
criterion_main!(benches);
