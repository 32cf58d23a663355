//! Property tests: random boot layouts and command lines, then random sequences of hotplug,
//! ZONE_DEVICE, HugeTLB, sysfs and fault-injection operations on every architecture. After
//! every step the invariant checker passes; a step that fails leaves the machine exactly as
//! it was; nothing panics. Parsers get random text.
//!
//! CI runs a bounded number of cases from a fixed seed (.ci/run sets PROPTEST_RNG_SEED);
//! elsewhere each run draws a new seed. A long run: `PROPTEST_CASES=1000000 cargo test
//! --release -p mm --test properties`; a failure found that way becomes a regression test.

use mm::cmdline::{Cmdline, OnlineType};
use mm::{AddOptions, BootSpec, Machine, MemmapLocation, MemremapOptions, NamespaceMode};
use proptest::prelude::*;

/// Every architecture the model has.
fn archs() -> Vec<&'static str> {
    arch::Config::names().collect()
}

#[derive(Debug, Clone)]
enum Op {
    Add {
        at: u64,
        n: u64,
        mom: Option<bool>,
        node: u16,
    },
    Remove {
        at: u64,
        n: u64,
    },
    Online {
        at: u64,
        n: u64,
        t: u8,
    },
    Offline {
        at: u64,
        n: u64,
    },
    Alloc {
        at: u64,
        unmovable: u64,
        movable: u64,
    },
    Memremap {
        at: u64,
        n: u64,
        map: bool,
        devdax: bool,
        align: u8,
    },
    Memunmap {
        i: u32,
    },
    Huge {
        size: u8,
        n: u64,
    },
    Write {
        file: u8,
        value: u8,
    },
    Fault {
        point: u8,
        skip: u32,
        count: u32,
    },
    /// A virtio-mem device over part of the hot-plug area, resized.
    VirtioMem {
        at: u64,
        blocks: u64,
        dev_block: u8,
    },
    VirtioResize {
        i: u32,
        size: u64,
    },
    /// Give a mapped namespace to the page allocator.
    Kmem {
        i: u32,
        mom: bool,
        online: bool,
    },
    /// remove_memory() of whole blocks of boot memory, which fails on every arch and must
    /// leave everything as it was (s390 once left its iomem split per block).
    RemoveBoot {
        at: u64,
        n: u64,
    },
    /// The platform's own hot-plug: `plug` with the arch's driver (or another it has) at a
    /// place in the hot-plug area or the first free one, by count for DLPAR.
    Plug {
        at: Option<u64>,
        n: u64,
        driver: u8,
        by_count: bool,
    },
    /// `unplug` of the i-th device, or by count.
    Unplug {
        i: u32,
        count: Option<u64>,
    },
    /// offline_and_remove_memory().
    OfflineRemove {
        at: u64,
        n: u64,
    },
    /// An operation on boot memory or beyond what exists, and misaligned ranges.
    Wild {
        what: u8,
        a: u64,
        b: u64,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0u64..24, 1u64..6, prop::option::of(any::<bool>()), 0u16..3)
            .prop_map(|(at, n, mom, node)| Op::Add { at, n, mom, node }),
        2 => (0u64..24, 1u64..6).prop_map(|(at, n)| Op::Remove { at, n }),
        2 => (0u64..8, prop_oneof![Just(0u64), 1u64..17])
            .prop_map(|(at, n)| Op::RemoveBoot { at, n }),
        3 => (0u64..24, 1u64..6, 0u8..4).prop_map(|(at, n, t)| Op::Online { at, n, t }),
        3 => (0u64..24, 1u64..6).prop_map(|(at, n)| Op::Offline { at, n }),
        1 => (0u64..24, 0u64..5000, 0u64..5000)
            .prop_map(|(at, unmovable, movable)| Op::Alloc { at, unmovable, movable }),
        2 => (0u64..48, 1u64..6, any::<bool>(), any::<bool>(), 0u8..4)
            .prop_map(|(at, n, map, devdax, align)| Op::Memremap { at, n, map, devdax, align }),
        1 => (0u32..4).prop_map(|i| Op::Memunmap { i }),
        2 => (0u8..3, 0u64..300).prop_map(|(size, n)| Op::Huge { size, n }),
        1 => (0u8..6, 0u8..6).prop_map(|(file, value)| Op::Write { file, value }),
        1 => (0u8..4, 0u32..3, 1u32..3)
            .prop_map(|(point, skip, count)| Op::Fault { point, skip, count }),
        1 => (0u8..6, any::<u64>(), any::<u64>()).prop_map(|(what, a, b)| Op::Wild { what, a, b }),
        1 => (0u64..24, 1u64..9, 0u8..3)
            .prop_map(|(at, blocks, dev_block)| Op::VirtioMem { at, blocks, dev_block }),
        2 => (0u32..2, 0u64..40).prop_map(|(i, size)| Op::VirtioResize { i, size }),
        1 => (0u32..4, any::<bool>(), any::<bool>()).prop_map(|(i, mom, online)| Op::Kmem { i, mom, online }),
        3 => (prop::option::of(0u64..24), 1u64..6, 0u8..2, any::<bool>())
            .prop_map(|(at, n, driver, by_count)| Op::Plug { at, n, driver, by_count }),
        3 => (0u32..3, prop::option::of(1u64..4)).prop_map(|(i, count)| Op::Unplug { i, count }),
        1 => (0u64..24, 1u64..6).prop_map(|(at, n)| Op::OfflineRemove { at, n }),
    ]
}

fn cmdline() -> impl Strategy<Value = String> {
    (
        prop::sample::select(vec![
            "",
            "memory_hotplug.memmap_on_memory=1",
            "memory_hotplug.memmap_on_memory=force",
        ]),
        prop::sample::select(vec![
            "",
            "memhp_default_state=offline",
            "memhp_default_state=online_movable",
            "memhp_default_state=online_kernel",
        ]),
        prop::sample::select(vec![
            "",
            "memory_hotplug.online_policy=auto-movable",
            "movable_node",
        ]),
        prop::sample::select(vec!["", "hugetlb_free_vmemmap=on"]),
        prop::sample::select(vec!["", "hotplug_lab.nodes=2"]),
        prop::sample::select(vec![
            "",
            "",
            "",
            "hotplug_lab.design=rfc-2018",
            "hotplug_lab.design=v3-2019",
            "hotplug_lab.design=legacy-64m",
            "hotplug_lab.design=section-only",
        ]),
        prop::sample::select(vec!["", "", "kernelcore=1G", "movablecore=25%", "cma=256M"]),
    )
        .prop_map(|(a, b, c, d, e, f, g)| [a, b, c, d, e, f, g].join(" "))
}

fn apply(m: &mut Machine, op: &Op) -> Result<(), mm::MmError> {
    let bs = m.block_size();
    let base = m.boot_info().hotplug_base.next_multiple_of(bs);
    let ps = m.geometry().page_size;
    match *op {
        Op::Add { at, n, mom, node } => m
            .add_memory(
                base + at * bs,
                n * bs,
                &AddOptions {
                    memmap_on_memory: mom,
                    node: Some(node),
                    ..AddOptions::default()
                },
            )
            .map(|_| ()),
        Op::Remove { at, n } => m.remove_memory(base + at * bs, n * bs),
        Op::Plug {
            at,
            n,
            driver,
            by_count,
        } => {
            let drivers = m.platform_drivers();
            let driver = drivers.get(driver as usize).or(drivers.first()).copied();
            let dlpar = driver == Some(arch::PlatformDriver::Dlpar);
            let o = mm::platform::PlugOptions {
                driver,
                start: at.filter(|_| !(dlpar && by_count)).map(|a| base + a * bs),
                count: (dlpar && by_count).then_some(n),
                ..Default::default()
            };
            let size = if dlpar && by_count { 0 } else { n * bs };
            m.plug(size, &o).map(|_| ())
        }
        Op::Unplug { i, count } => {
            let drivers = m.platform_drivers();
            match (count, drivers.first()) {
                (Some(c), Some(&d))
                    if d != arch::PlatformDriver::Acpi && d != arch::PlatformDriver::VirtioMem =>
                {
                    m.unplug_count(d, c)
                }
                _ => {
                    let d = m
                        .platform_devices()
                        .nth(i as usize)
                        .map(|d| (d.driver, d.id));
                    match d {
                        Some((driver, id)) => m.unplug(driver, id),
                        None => m.unplug(arch::PlatformDriver::Acpi, 99),
                    }
                }
            }
        }
        Op::OfflineRemove { at, n } => m.offline_and_remove_memory(base + at * bs, n * bs),
        Op::RemoveBoot { at, n } => {
            let (s, e) = m.boot_info().ram[0];
            let first = s / bs * bs;
            // 0 stands for the whole first RAM range, in whole blocks.
            match n {
                0 => m.remove_memory(first, e.div_ceil(bs) * bs - first),
                n => m.remove_memory(first + at * bs, n * bs),
            }
        }
        Op::Online { at, n, t } => {
            let t = [
                OnlineType::Online,
                OnlineType::OnlineKernel,
                OnlineType::OnlineMovable,
                OnlineType::Offline,
            ][t as usize];
            m.online(base + at * bs, n * bs, t).map(|_| ())
        }
        Op::Offline { at, n } => m.offline(base + at * bs, n * bs),
        Op::Alloc {
            at,
            unmovable,
            movable,
        } => {
            let id = m.units().block_of_phys(base + at * bs);
            m.set_block_allocations(id, unmovable, movable)
        }
        Op::Memremap {
            at,
            n,
            map,
            devdax,
            align,
        } => {
            // Namespaces in 2 MiB steps from 32 blocks above the hot-plug base.
            let sub = 2 << 20;
            let start = base + 32 * bs + at * sub;
            let aligns = m.target().dax_alignments();
            let align = aligns.get(align as usize).copied();
            m.memremap_pages(
                start,
                n * sub * 3,
                &MemremapOptions {
                    map: Some(if map {
                        MemmapLocation::Dev
                    } else {
                        MemmapLocation::Mem
                    }),
                    mode: Some(if devdax {
                        NamespaceMode::DevDax
                    } else {
                        NamespaceMode::FsDax
                    }),
                    align,
                    node: None,
                },
            )
            .map(|_| ())
        }
        Op::Memunmap { i } => {
            let id = m.pgmaps().keys().nth(i as usize).copied().unwrap_or(99);
            m.memunmap_pages(id)
        }
        Op::VirtioMem {
            at,
            blocks,
            dev_block,
        } => m
            .virtio_mem_add(&mm::virtio_mem::VirtioMemConfig {
                start: base + at * bs,
                region_size: blocks * bs,
                block_size: Some([2 << 20, ps, 1 << 30][dev_block as usize]),
                node: None,
            })
            .map(|_| ()),
        Op::VirtioResize { i, size } => {
            let d = m.virtio_mem_devices().nth(i as usize).cloned();
            match d {
                Some(d) => {
                    let unit = d.device_block_size;
                    let units = d.region_size / unit;
                    m.virtio_mem_resize(d.id, (size % (units + 1)) * unit)
                }
                None => m.virtio_mem_resize(99, 0),
            }
        }
        Op::Kmem { i, mom, online } => {
            let id = m.pgmaps().keys().nth(i as usize).copied().unwrap_or(99);
            m.dax_kmem(
                id,
                &mm::kmem::KmemOptions {
                    memmap_on_memory: mom,
                    online: online.then_some(OnlineType::OnlineMovable),
                },
            )
            .map(|_| ())
        }
        Op::Huge { size, n } => {
            let sizes: Vec<u64> = m.hstates().iter().map(|h| h.size).collect();
            let size = sizes[size as usize % sizes.len()];
            // Keep gigantic pools small.
            let n = if size > bs { n % 4 } else { n };
            m.write(
                &format!(
                    "/sys/kernel/mm/hugepages/hugepages-{}kB/nr_hugepages",
                    size >> 10
                ),
                &n.to_string(),
            )
        }
        Op::Write { file, value } => {
            let path = [
                "/sys/devices/system/memory/auto_online_blocks",
                "/sys/module/memory_hotplug/parameters/online_policy",
                "/sys/module/memory_hotplug/parameters/auto_movable_ratio",
                "/proc/sys/vm/hugetlb_optimize_vmemmap",
                "/sys/devices/system/memory/memory1/state",
                "/sys/devices/system/memory/block_size_bytes",
            ][file as usize % 6];
            let value = [
                "online",
                "offline",
                "online_movable",
                "auto-movable",
                "301",
                "1",
            ][value as usize % 6];
            m.write(path, value)
        }
        Op::Fault { point, skip, count } => {
            let p = [
                "going_online",
                "going_offline",
                "memmap_alloc",
                "altmap_alloc",
            ][point as usize];
            m.inject_fault_after(p, skip, count)
        }
        Op::Wild { what, a, b } => {
            let phys = m.geometry().physmem_end;
            match what {
                0 => m
                    .add_memory(a % (phys + bs), b % (4 * bs) + 1, &AddOptions::default())
                    .map(|_| ()),
                1 => m.remove_memory(a % (phys + bs), b % (4 * bs) + 1),
                2 => m
                    .online(a % (base + 8 * bs), b % (4 * bs) + 1, OnlineType::Online)
                    .map(|_| ()),
                3 => m.offline(a % (base + 8 * bs), (b % 4 + 1) * bs),
                4 => m
                    .memremap_pages(
                        a % (phys + bs),
                        b % (64 * ps) + ps,
                        &MemremapOptions::default(),
                    )
                    .map(|_| ()),
                _ => m
                    .read(&format!(
                        "/sys/devices/system/memory/memory{}/valid_zones",
                        a % 4096
                    ))
                    .map(|_| ()),
            }
        }
    }
}

fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(48);
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn random_operation_sequences_keep_the_invariants(
        arch in prop::sample::select(archs()),
        ram_gib in prop::sample::select(vec![2u64, 4, 6]),
        cmd in cmdline(),
        ops in prop::collection::vec(op(), 1..24),
    ) {
        let mut spec = BootSpec::new(arch::Target::parse(arch, "").unwrap());
        spec.ram = Some(ram_gib << 30);
        spec.cmdline = cmd.clone();
        // s390 with standby memory for its SCLP driver to plug.
        spec.standby = (arch == "s390").then_some(1 << 30);
        let mut m = Machine::boot(&spec).unwrap();
        m.check().map_err(|e| TestCaseError::fail(format!("after boot: {e}")))?;
        // A twin that goes one memory block at a time, as the kernel does (watermarks
        // recomputed in full after every block, each memmap_on_memory block's memmap
        // populated and freed through its own call): the range shortcuts must give the same
        // result, the same messages and the same state.
        let mut eager = m.clone();
        eager.set_per_block_reference(true);
        for (i, op) in ops.iter().enumerate() {
            let before = m.state_hash();
            // A copy to say what changed, when asked for (it slows the run down).
            let copy = std::env::var_os("PROPTEST_DIFF").map(|_| m.clone());
            let result = apply(&mut m, op);
            let twin = apply(&mut eager, op);
            if format!("{result:?}") != format!("{twin:?}")
                || m.state_hash() != eager.state_hash()
                || m.dmesg() != eager.dmesg()
            {
                return Err(TestCaseError::fail(format!(
                    "{arch} [{cmd}] step {i} {op:?}: {result:?} here, {twin:?} block by block, \
                     states: {}; dmesg tails {:?} / {:?}",
                    describe_diff(&eager, &m),
                    m.dmesg().iter().rev().take(3).collect::<Vec<_>>(),
                    eager.dmesg().iter().rev().take(3).collect::<Vec<_>>()
                )));
            }
            match result {
                Ok(()) => {
                    if let Err(e) = m.check() {
                        return Err(TestCaseError::fail(format!(
                            "{arch} [{cmd}] step {i} {op:?}: invariant broken: {e}"
                        )));
                    }
                }
                // A DLPAR removal that fails part way is undone the driver's way: the LMBs it
                // removed come back onlined (hotplug-memory.c), not as they were.
                Err(err) if err.left_changed() => {
                    if let Err(e) = m.check() {
                        return Err(TestCaseError::fail(format!(
                            "{arch} [{cmd}] step {i} {op:?}: invariant broken: {e}"
                        )));
                    }
                }
                Err(err) => {
                    if m.state_hash() != before {
                        let what = copy
                            .as_ref()
                            .map_or("(set PROPTEST_DIFF=1 to see what)".to_string(), |c| {
                                describe_diff(c, &m)
                            });
                        return Err(TestCaseError::fail(format!(
                            "{arch} [{cmd}] step {i} {op:?} failed with {err} but changed the machine: {what}"
                        )));
                    }
                }
            }
        }
    }

    #[test]
    fn command_lines_parse_or_fail_cleanly(s in "[a-z_.=!$0-9A-Zx, -]{0,80}") {
        for k in arch::KERNELS {
            for c in arch::CONFIGS {
                let _ = Cmdline::parse(&s, &arch::Target::new(c, k));
            }
        }
    }

    /// Any kernelcore=, movablecore= or cma= value boots (the kernel takes them all, wrapping
    /// absurd ones) and leaves a consistent machine.
    #[test]
    fn zone_sizing_parameters_boot_cleanly(
        arch in prop::sample::select(vec!["x86_64", "arm64", "arm64-64k", "s390"]),
        name in prop::sample::select(vec!["kernelcore", "movablecore", "cma"]),
        value in "(0x)?[0-9]{1,22}[KMGTPE%]?(@(0x)?[0-9]{1,20}[KMG]?(-[0-9]{1,20}[KMG]?)?)?",
    ) {
        let mut spec = BootSpec::new(arch::Target::parse(arch, "").unwrap());
        spec.cmdline = format!("{name}={value}");
        if let Ok(m) = Machine::boot(&spec) {
            m.check().map_err(|e| TestCaseError::fail(format!("{}: {e}", spec.cmdline)))?;
        }
    }

    #[test]
    fn sizes_parse_or_fail_cleanly(s in "[0-9a-zA-Z.+-]{0,24}") {
        let _ = mm::cmdline::parse_size(&s);
        let _ = mm::cmdline::memparse(&s);
    }

    #[test]
    fn iomem_text_boots_or_fails_cleanly(
        lines in prop::collection::vec(
            (any::<u32>(), any::<u32>(), 0u8..5, 0usize..3),
            0..12,
        ),
        arch in prop::sample::select(archs()),
    ) {
        let names = ["System RAM", "Reserved", "Persistent Memory (legacy)", "PCI Bus 0000:00", "Kernel code"];
        let text: String = lines
            .iter()
            .map(|&(a, b, n, d)| {
                let (s, e) = (u64::from(a.min(b)) << 12, (u64::from(a.max(b)) << 12) | 0xfff);
                format!("{}{s:x}-{e:x} : {}\n", "  ".repeat(d), names[n as usize])
            })
            .collect();
        let mut spec = BootSpec::new(arch::Target::parse(arch, "").unwrap());
        spec.iomem = Some(text);
        if let Ok(m) = Machine::boot(&spec) {
            m.check().map_err(TestCaseError::fail)?;
        }
    }

    #[test]
    fn sysfs_writes_fail_cleanly(
        path in prop::sample::select(vec![
            "/sys/devices/system/memory/auto_online_blocks",
            "/sys/devices/system/memory/memory3/state",
            "/sys/devices/system/memory/memory3/online",
            "/sys/devices/system/memory/memory9999/state",
            "/sys/module/memory_hotplug/parameters/online_policy",
            "/sys/module/memory_hotplug/parameters/auto_movable_ratio",
            "/proc/sys/vm/nr_hugepages",
            "/proc/sys/vm/min_free_kbytes",
            "/proc/iomem",
            "/nonexistent",
        ]),
        value in "[a-z_0-9 -]{0,16}\n?",
    ) {
        let mut m = Machine::boot(&BootSpec::new(arch::Target::parse("x86_64", "").unwrap())).unwrap();
        let before = m.state_hash();
        if m.write(path, &value).is_err() {
            prop_assert_eq!(m.state_hash(), before);
        } else {
            m.check().map_err(TestCaseError::fail)?;
        }
    }
}

/// Sequences the long runs found, kept as regressions.
#[test]
fn regressions_from_long_runs() {
    // Offlining two blocks where the second's huge pages cannot be dissolved (an injected
    // vmemmap allocation failure) left the first block's state changed after the rollback.
    let mut spec = BootSpec::new(arch::Target::parse("x86_64", "").unwrap());
    spec.ram = Some(2 << 30);
    spec.cmdline = "   hugetlb_free_vmemmap=on  ".into();
    let mut m = Machine::boot(&spec).unwrap();
    let ops = [
        Op::Add {
            at: 15,
            n: 5,
            mom: None,
            node: 0,
        },
        Op::Huge { size: 0, n: 1 },
        Op::Write { file: 3, value: 1 },
        Op::Add {
            at: 0,
            n: 1,
            mom: None,
            node: 0,
        },
        Op::Huge { size: 2, n: 65 },
        Op::Fault {
            point: 2,
            skip: 0,
            count: 1,
        },
    ];
    for op in &ops {
        let _ = apply(&mut m, op);
        m.check().unwrap();
    }
    let before = m.state_hash();
    assert!(apply(&mut m, &Op::Offline { at: 18, n: 2 }).is_err());
    assert_eq!(
        m.state_hash(),
        before,
        "{op:?} changed the machine",
        op = Op::Offline { at: 18, n: 2 }
    );
    m.check().unwrap();
}

/// Boot `arch` with `ram` and `cmdline`, then apply `ops` as the property test does: a
/// failing op changes nothing, the invariants hold after every op, and the block-by-block
/// twin gives the same result, dmesg and state.
fn replay(arch: &str, ram: u64, cmdline: &str, ops: &[Op]) -> Machine {
    replay_with(arch, ram, cmdline, None, ops)
}

/// [`replay`] with s390 standby memory, as the random run boots s390.
fn replay_with(arch: &str, ram: u64, cmdline: &str, standby: Option<u64>, ops: &[Op]) -> Machine {
    let mut spec = BootSpec::new(arch::Target::parse(arch, "").unwrap());
    spec.ram = Some(ram);
    spec.cmdline = cmdline.into();
    spec.standby = standby;
    let mut m = Machine::boot(&spec).unwrap();
    let mut twin = m.clone();
    twin.set_per_block_reference(true);
    for op in ops {
        let before = m.state_hash();
        let copy = m.clone();
        let (a, b) = (apply(&mut m, op), apply(&mut twin, op));
        if a.is_err() {
            let changed = m.state_hash() != before;
            assert!(
                !changed || a.as_ref().is_err_and(|e| e.left_changed()),
                "{op:?}: {a:?} changed the machine: {}",
                describe_diff(&copy, &m)
            );
        }
        assert_eq!(format!("{a:?}"), format!("{b:?}"), "{op:?}");
        assert_eq!(m.dmesg(), twin.dmesg(), "{op:?}");
        assert!(
            m.state_hash() == twin.state_hash(),
            "{op:?}: {}",
            describe_diff(&twin, &m)
        );
        m.check().unwrap();
    }
    m
}

/// Found by a 20,000-sequence run of the ZONE_MOVABLE run shortcut: auto-onlining two
/// blocks with huge pages allocated left min_free_kbytes one off.
#[test]
fn regression_movable_run_with_huge_pages() {
    let ops = [
        Op::Huge { size: 1, n: 1 },
        Op::Huge { size: 0, n: 203 },
        Op::Add {
            at: 0,
            n: 2,
            mom: None,
            node: 0,
        },
    ];
    replay(
        "x86_64",
        4 << 30,
        " memhp_default_state=online_movable  hugetlb_free_vmemmap=on hotplug_lab.nodes=2 ",
        &ops,
    );
}

#[test]
fn regression_virtio_mem_with_gigantic_pages() {
    let ops = [
        Op::VirtioMem {
            at: 3,
            blocks: 1,
            dev_block: 0,
        },
        Op::Add {
            at: 2,
            n: 1,
            mom: None,
            node: 0,
        },
        Op::Huge { size: 2, n: 154 },
        Op::VirtioResize { i: 0, size: 22 },
        Op::Huge { size: 0, n: 171 },
        Op::Huge { size: 2, n: 176 },
    ];
    replay(
        "x86_64",
        2 << 30,
        "   hugetlb_free_vmemmap=on  hotplug_lab.design=rfc-2018",
        &ops,
    );
}

#[test]
fn regression_gigantic_then_2m_then_offline() {
    let ops = [
        Op::Fault {
            point: 0,
            skip: 1,
            count: 1,
        },
        Op::Add {
            at: 3,
            n: 4,
            mom: None,
            node: 0,
        },
        Op::Huge { size: 2, n: 129 },
        Op::Write { file: 3, value: 2 },
        Op::Huge { size: 0, n: 130 },
        Op::Offline { at: 3, n: 1 },
    ];
    replay(
        "x86_64",
        2 << 30,
        " memhp_default_state=online_movable    ",
        &ops,
    );
}

/// What differs between two machines, for failure messages.
fn describe_diff(a: &Machine, b: &Machine) -> String {
    a.state_diff(b)
        .into_iter()
        .map(|f| match f {
            "vmstat" => format!("vmstat {:?} -> {:?}", a.vmstat(), b.vmstat()),
            "min_free_kbytes" => format!(
                "min_free_kbytes {} -> {}",
                a.min_free_kbytes(),
                b.min_free_kbytes()
            ),
            f => f.to_string(),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Found by the long run (on s390, before virtio-mem was refused there; arm64 has the same
/// shape: all boot RAM in ZONE_DMA): node 1's memmap, with node 1 not yet online, came from node 0's
/// ZONE_NORMAL, which was only a virtio-mem block's 8 MiB plugged part; unplugging 6 MiB of it
/// then took pages that memmap sat in (the zone handed out more than it managed). Kernel
/// allocations are unmovable: alloc_contig_range() fails on them and the driver retries later
/// (drivers/virtio/virtio_mem.c, virtio_mem_sbm_unplug_sb_online()).
#[test]
fn regression_virtio_mem_unplug_keeps_pages_kernel_allocations_sit_in() {
    let ops = [
        Op::VirtioMem {
            at: 16,
            blocks: 1,
            dev_block: 0,
        },
        Op::VirtioResize { i: 0, size: 4 },
        Op::Add {
            at: 0,
            n: 2,
            mom: None,
            node: 1,
        },
    ];
    let mut m = replay(
        "arm64",
        2 << 30,
        "memhp_default_state=online_kernel hotplug_lab.nodes=2",
        &ops,
    );
    assert_eq!(m.virtio_mem_devices().count(), 1);
    let d = m.virtio_mem_devices().next().unwrap().clone();
    let b = d.blocks.iter().next().unwrap();
    let pinned = m.kernel_pages_on_block(b);
    assert!(
        pinned > 512,
        "node 1's memmap sits in the plugged part: {pinned} pages"
    );
    apply(&mut m, &Op::VirtioResize { i: 0, size: 1 }).unwrap();
    m.check().unwrap();
    let d = m.virtio_mem_devices().next().unwrap().clone();
    assert_eq!(m.virtio_mem_plugged_size(&d), 8 << 20, "nothing unplugged");
    assert_eq!(d.requested_size, 2 << 20);
    assert!(d.waiting.is_some(), "the driver retries later");
}

/// Found by CI's random run: a DIMM one of whose blocks a driver already removed with
/// offline_and_remove_memory(). The eject offlines and removes what is left (the kernel's
/// sparse_remove_section() warns and skips a section no longer valid) rather than failing
/// half-done.
#[test]
fn regression_eject_of_a_dimm_partly_removed() {
    let ops = [
        Op::Plug {
            at: None,
            n: 2,
            driver: 0,
            by_count: false,
        },
        Op::OfflineRemove { at: 0, n: 1 },
        Op::Unplug { i: 0, count: None },
    ];
    let m = replay(
        "x86_64",
        4 << 30,
        " memhp_default_state=online_movable     ",
        &ops,
    );
    assert_eq!(m.platform_devices().count(), 0, "the DIMM is gone");
    // mm/sparse.c sparse_remove_section(): WARN_ON_ONCE(!valid_section(ms)).
    assert!(
        m.dmesg()
            .iter()
            .any(|l| l.contains("sparse_remove_section")),
        "{:#?}",
        m.dmesg()
    );
}

/// Found by a long random run: a DLPAR device whose first LMB will not go offline (an
/// injected notifier failure) fails with nothing removed and must leave the machine as
/// it was.
#[test]
fn regression_dlpar_unplug_failing_at_its_first_lmb() {
    let ops = [
        Op::Fault {
            point: 1,
            skip: 2,
            count: 1,
        },
        Op::Plug {
            at: Some(2),
            n: 1,
            driver: 0,
            by_count: false,
        },
        Op::Plug {
            at: None,
            n: 3,
            driver: 0,
            by_count: true,
        },
        Op::Unplug { i: 1, count: None },
    ];
    replay(
        "powerpc",
        2 << 30,
        "     hotplug_lab.design=rfc-2018 ",
        &ops,
    );
}

/// Found by a long random run: offlining a range of s390 standby memory (offline since
/// boot) and a block added above it, range by range and block by block alike.
#[test]
fn regression_s390_offline_over_standby_and_added() {
    let ops = [
        Op::Add {
            at: 4,
            n: 1,
            mom: None,
            node: 0,
        },
        Op::Offline { at: 0, n: 5 },
    ];
    replay_with(
        "s390",
        2 << 30,
        "memory_hotplug.memmap_on_memory=1 memhp_default_state=online_movable     ",
        Some(1 << 30),
        &ops,
    );
}

/// Found by a long random run: a DIMM three of whose blocks were removed behind the ACPI
/// driver's back keeps its place (the next device goes above it), and its eject removes
/// what is left whole or not at all.
#[test]
fn regression_eject_after_the_range_was_reused() {
    let ops = [
        Op::Plug {
            at: None,
            n: 4,
            driver: 0,
            by_count: false,
        },
        Op::OfflineRemove { at: 1, n: 3 },
        Op::Plug {
            at: None,
            n: 1,
            driver: 1,
            by_count: false,
        },
        Op::Unplug { i: 0, count: None },
    ];
    replay(
        "x86_64",
        2 << 30,
        "memory_hotplug.memmap_on_memory=1  memory_hotplug.online_policy=auto-movable   hotplug_lab.design=legacy-64m ",
        &ops,
    );
}

/// Found by a long random run: a DLPAR removal that fails part way adds back the LMBs it
/// took, and an LMB whose add fails (an injected memmap failure) comes back whole or not
/// at all.
#[test]
fn regression_dlpar_add_back_that_fails() {
    let ops = [
        Op::Plug {
            at: Some(4),
            n: 1,
            driver: 0,
            by_count: false,
        },
        Op::Plug {
            at: None,
            n: 3,
            driver: 0,
            by_count: false,
        },
        Op::Fault {
            point: 3,
            skip: 0,
            count: 1,
        },
        Op::Fault {
            point: 1,
            skip: 1,
            count: 1,
        },
        Op::Fault {
            point: 2,
            skip: 0,
            count: 1,
        },
        Op::Unplug { i: 1, count: None },
    ];
    replay("powerpc", 2 << 30, "hotplug_lab.design=rfc-2018", &ops);
    let ops = [
        Op::Add {
            at: 1,
            n: 1,
            mom: None,
            node: 0,
        },
        Op::Fault {
            point: 1,
            skip: 0,
            count: 2,
        },
        Op::Plug {
            at: None,
            n: 3,
            driver: 0,
            by_count: false,
        },
        Op::Fault {
            point: 2,
            skip: 0,
            count: 1,
        },
        Op::Unplug {
            i: 0,
            count: Some(2),
        },
    ];
    replay("powerpc", 2 << 30, "hotplug_lab.design=legacy-64m", &ops);
}

/// Found by a long random run: offline_and_remove_memory() of two virtio-mem blocks whose
/// second will not go offline, after the first dissolved a gigantic page reaching past
/// the range: the failure puts the page back too.
#[test]
fn regression_offline_and_remove_failing_past_a_gigantic_page() {
    let ops = [
        Op::Plug {
            at: None,
            n: 3,
            driver: 0,
            by_count: false,
        },
        Op::Fault {
            point: 1,
            skip: 1,
            count: 1,
        },
        Op::Plug {
            at: None,
            n: 5,
            driver: 0,
            by_count: false,
        },
        Op::Huge { size: 2, n: 1 },
        Op::OfflineRemove { at: 0, n: 2 },
    ];
    replay(
        "arm64-16k",
        4 << 30,
        "memhp_default_state=online_kernel",
        &ops,
    );
}
