//! The Machine type and every function of the scripting contract, registered by topic.

use super::options::{
    decode, AddOpts, AllocOpts, BootOpts, KmemOpts, MemremapOpts, OnlineArg, PlugOpts, UnplugOpts,
    VirtioMemOpts, ADD_KEYS, ALLOC_KEYS, BOOT_KEYS, KMEM_KEYS, MEMREMAP_KEYS, PLUG_KEYS,
    UNPLUG_KEYS, VIRTIO_MEM_KEYS,
};
use super::{einval, help, throw, Budget, Host, ScriptError, Vm};
use crate::host::Capture;
use mm::cmdline::{parse_size_or_why, OnlineType};
use mm::read::{AltmapView, DeviceView, MemmapExtent, PgmapView};
use mm::units::BlockId;
use mm::{AddOptions, BootPlan, BootSpec, Machine, MemmapLocation, MemremapOptions, NamespaceMode};
use rhai::{Array, Dynamic, Engine, EvalAltResult, ImmutableString, Map};
use std::sync::Arc;

type Res<T> = Result<T, Box<EvalAltResult>>;

/// A non-negative script integer as u64.
fn unsigned(v: i64, what: &str) -> Res<u64> {
    u64::try_from(v).map_err(|_| einval(format!("{what} must not be negative (got {v})")))
}

/// A physical address or size (a number, or a string in the kernel's size syntax: "4G",
/// "0x100000000"): non-negative and within MAX_PHYSMEM_BITS.
fn phys(m: &Machine, v: &Dynamic, what: &str) -> Res<u64> {
    let v = size_value(v, what)?;
    let end = m.geometry().physmem_end;
    if v > end + 1 {
        return Err(einval(format!(
            "{what} {v:#x} is beyond MAX_PHYSMEM_BITS ({} bits) of {}",
            m.geometry().max_physmem_bits,
            m.target().name()
        )));
    }
    Ok(v)
}

fn map_of(pairs: impl IntoIterator<Item = (&'static str, Dynamic)>) -> Map {
    pairs.into_iter().map(|(k, v)| (k.into(), v)).collect()
}

fn int(v: u64) -> Dynamic {
    Dynamic::from(i64::try_from(v).unwrap_or(i64::MAX))
}

/// A size given as an integer or a string like "4G".
fn size_value(d: &Dynamic, what: &str) -> Res<u64> {
    if let Ok(i) = d.as_int() {
        return unsigned(i, what);
    }
    if d.is_string() {
        let s = d.clone().into_string().unwrap_or_default();
        return parse_size_or_why(&s).map_err(|why| einval(format!("{what}: {why}")));
    }
    Err(einval(format!(
        "{what} must be a number of bytes or a size string"
    )))
}

/// The system a boot models as it is: `host: true` (the running one), `sysroot: DIR` (a
/// captured tree), or the session's --host/--sysroot when the boot names no other RAM or
/// architecture.
fn capture_for(
    host: &Host,
    o: &BootOpts,
    arch: Option<&arch::Config>,
) -> Res<Option<Arc<Capture>>> {
    let read = |root: &std::path::Path, key: &str| {
        // Within the run's time: a huge tree is stopped, not waited for.
        let deadline = std::time::Instant::now().checked_add(host.limits.max_time);
        crate::host::read_by(root, host.limits.max_input, None, deadline)
            .map(|c| Some(Arc::new(c)))
            .map_err(|e| {
                let why = format!("boot: {key}: {}: {}", e.file.display(), e.why);
                throw(mm::MmError::with_errno(e.errno, why))
            })
    };
    match (o.host.unwrap_or(false), o.sysroot.as_deref()) {
        (true, Some(_)) => Err(einval(
            "boot: host and sysroot each name a machine; give one of them",
        )),
        (true, None) => read(std::path::Path::new("/"), "host"),
        (false, Some("")) => Err(einval("boot: sysroot is empty")),
        (false, Some(dir)) => read(std::path::Path::new(dir), "sysroot"),
        (false, None) => {
            let Some(c) = &host.boot.capture else {
                return Ok(None);
            };
            let other_arch = arch.is_some_and(|a| !std::ptr::eq(a, c.target.config));
            let other_ram = o.ram.is_some() || o.iomem.is_some();
            Ok((!other_arch && !other_ram).then(|| c.clone()))
        }
    }
}

/// What boot(#{ opts }) boots: the session's configuration, with what the options name
/// instead (an architecture or version name is resolved here, with a did-you-mean).
fn boot_spec(host: &Host, opts: &Map) -> Res<(BootSpec, Option<Arc<Capture>>)> {
    let o: BootOpts = decode("boot", opts, BOOT_KEYS)?;
    let config = o
        .arch
        .as_deref()
        .map(arch::Config::lookup)
        .transpose()
        .map_err(|e| einval(format!("boot: {e}")))?;
    let kernel = o
        .kernel
        .as_deref()
        .map(arch::Kernel::lookup)
        .transpose()
        .map_err(|e| einval(format!("boot: kernel: {e}")))?;
    let capture = capture_for(host, &o, config)?;
    let b = &host.boot;
    let mut spec = match &capture {
        Some(c) => {
            for (key, given) in [
                ("ram", o.ram.is_some()),
                ("iomem", o.iomem.is_some()),
                ("hypervisor", o.hypervisor.is_some()),
                ("gbpages", o.gbpages.is_some()),
                (
                    "arch",
                    config.is_some() && (o.host.is_some() || o.sysroot.is_some()),
                ),
            ] {
                if given {
                    return Err(einval(format!(
                        "boot: {key} comes from {}; leave it out",
                        c.source()
                    )));
                }
            }
            let mut spec = crate::host::boot_spec(c);
            spec.cmdline = join(&spec.cmdline, &b.cmdline);
            if let Some(more) = &o.cmdline {
                spec.cmdline = join(&spec.cmdline, more);
            }
            spec
        }
        None => {
            let target = arch::Target::new(config.unwrap_or(b.target.config), b.target.kernel);
            let mut spec = BootSpec::new(target);
            spec.cmdline = o.cmdline.clone().unwrap_or_else(|| b.cmdline.clone());
            spec.ram = b.ram;
            spec.iomem = b.iomem.as_deref().map(str::to_string);
            if let Some(ram) = o.ram {
                spec.ram = Some(ram.0);
                spec.iomem = None;
            }
            if let Some(t) = &o.iomem {
                spec.iomem = (!t.is_empty()).then(|| t.clone());
            }
            spec.hypervisor = o.hypervisor;
            spec.gbpages = o.gbpages;
            spec
        }
    };
    spec.standby = o.standby.map(|b| b.0);
    spec.strict = o.strict.unwrap_or(b.strict);
    if let Some(k) = kernel {
        spec.target = spec.target.on(k);
    }
    // The design is a command-line option of hotplug-lab's own; the key wins over one in
    // `cmdline`, as the kernel takes the last of a repeated parameter.
    if let Some(d) = &o.design {
        if mm::design::lookup(d).is_none() {
            let names = mm::design::names();
            let hint = arch::did_you_mean(d, names.iter().copied())
                .map(|n| format!("did you mean {n}? "))
                .unwrap_or_default();
            return Err(einval(format!(
                "boot: design {} is not a design variant ({hint}known: {})",
                mm::error::quote(d),
                names.join(", ")
            )));
        }
        spec.cmdline = join(&spec.cmdline, &format!("hotplug_lab.design={d}"));
    }
    // Which of the session's settings reached this boot (taken, or given again as ARCH,
    // CMDLINE, IOMEM), so that a flag no boot took can be named.
    let mut took = 0;
    if capture.is_some() {
        took |= super::USED_ARCH | super::USED_CMDLINE | super::USED_IOMEM;
    }
    if std::ptr::eq(spec.target.config, b.target.config) {
        took |= super::USED_ARCH;
    }
    if spec.cmdline.contains(b.cmdline.trim()) {
        took |= super::USED_CMDLINE;
    }
    if spec.iomem.is_some() && spec.iomem.as_deref() == b.iomem.as_deref() {
        took |= super::USED_IOMEM;
    }
    if spec.ram.is_some() && spec.ram == b.ram {
        took |= super::USED_RAM;
    }
    host.used.set(host.used.get() | took);
    Ok((spec, capture))
}

/// Two pieces of a command line, with one space between them.
fn join(a: &str, b: &str) -> String {
    format!("{a} {b}").trim().to_string()
}

/// What a user should hear about a boot: the command-line parameters it did not know, and
/// the known ones whose value the kernel would ignore.
fn boot_warnings(host: &Host, m: &Machine) {
    for p in &m.cmdline().malformed {
        let fate = match &p.log {
            Some(line) => format!("the kernel logs \"{line}\" and keeps the default"),
            None => "the kernel keeps the default without a word".to_string(),
        };
        host.warn(format!(
            "kernel command line: {}: {}; {fate} (--strict makes it an error)",
            mm::error::quote(&p.arg),
            p.why
        ));
    }
    let for_init = m.cmdline().unknown_for_init();
    for p in &m.cmdline().unknown {
        let name = p.split('=').next().unwrap_or(p);
        let fate = if for_init.contains(p) {
            "the kernel passes it to user space (dmesg: \"Unknown kernel command line parameters\")"
        } else if name.contains('.') {
            "the kernel ignores it without a word, as an unused module parameter"
        } else {
            "the kernel ignores it"
        };
        let hint = match mm::cmdline::did_you_mean(name) {
            // A parameter the model knows, which this kernel does not build here.
            Some(k) if k == name.replace('-', "_") => format!(
                "Linux {} has no such parameter on {}; ",
                m.kernel(),
                m.target().name()
            ),
            Some(k) => format!("did you mean {k}? "),
            None => String::new(),
        };
        host.warn(format!(
            "kernel command line: unknown parameter {}: {hint}{fate}",
            mm::error::quote(p)
        ));
    }
}

/// Refuse, before it starts, an operation that would grow the model by about `need` bytes
/// past the sandbox's memory budget. An ENOMEM the script can catch: the machine is as it was.
/// Keep the returned guard until the operation is done: its end tells the budget that what
/// the model grew by is accounted for.
fn reserve(budget: &Budget, what: impl FnOnce() -> String, need: u64) -> Res<Grown<'_>> {
    budget
        .reserve(what, need)
        .map(|()| Grown(budget))
        .map_err(|stop| {
            Box::new(EvalAltResult::ErrorRuntime(
                Dynamic::from(stop.to_script_error()),
                rhai::Position::NONE,
            ))
        })
}

/// An operation on a machine that [`reserve`] let start.
struct Grown<'b>(&'b Budget);

impl Drop for Grown<'_> {
    fn drop(&mut self) {
        self.0.model_grown();
    }
}

/// Refuse hot-adding `size` bytes to `m` when the model state it builds would not fit.
/// A range the model would refuse anyway (empty, wrapping, past MAX_PHYSMEM_BITS) is not
/// reserved for: the model's own error says what is wrong with it.
fn reserve_memory<'b>(
    budget: &'b Budget,
    m: &Machine,
    what: &str,
    start: u64,
    size: u64,
) -> Res<Grown<'b>> {
    let plausible = size > 0
        && start
            .checked_add(size)
            .is_some_and(|end| end <= m.geometry().physmem_end.saturating_add(1));
    let need = if plausible { m.state_estimate(size) } else { 0 };
    reserve(budget, || format!("{what} of {}", arch::approx(size)), need)
}

/// A boot is about to make a machine: the host hears of it first.
fn booted(host: &Host, ctx: &rhai::NativeCallContext, boot: impl FnOnce() -> Res<Vm>) -> Res<Vm> {
    host.about_to(ctx, "boot", None);
    boot()
}

fn do_boot(host: &Host, (spec, capture): &(BootSpec, Option<Arc<Capture>>)) -> Res<Vm> {
    let spec = BootSpec {
        watchdog: host.watchdog.clone(),
        ..spec.clone()
    };
    let plan = BootPlan::new(&spec).map_err(throw)?;
    let _grown = reserve(
        &host.budget,
        || format!("booting {} of RAM", arch::approx(plan.ram_bytes())),
        plan.state_estimate(),
    )?;
    let mut m = Machine::boot_plan(plan).map_err(throw)?;
    boot_warnings(host, &m);
    if let Some(c) = capture {
        if !c.kernel_exact && std::ptr::eq(spec.target.kernel, c.target.kernel) {
            host.warn(c.kernel_line());
        }
        for n in c
            .notes
            .iter()
            .cloned()
            .chain(crate::host::restore(&mut m, c))
        {
            host.warn(format!("{}: {n}", c.describe()));
        }
    }
    let vm = Vm::new(m);
    *host.last.borrow_mut() = Some(vm.clone());
    host.boots.set(host.boots.get().saturating_add(1));
    Ok(vm)
}

fn online_type(s: &str) -> Res<OnlineType> {
    match OnlineType::parse(s) {
        Some(OnlineType::Offline) | None => Err(einval(format!(
            "\"{s}\" is not online, online_kernel or online_movable"
        ))),
        Some(t) => Ok(t),
    }
}

fn add_report(r: &mm::AddReport) -> Map {
    map_of([
        ("start", int(r.start)),
        ("size", int(r.size)),
        ("node", int(u64::from(r.node))),
        // The blocks of an add are consecutive: a run, which stays small however many there
        // are.
        (
            "blocks",
            Dynamic::from(match (r.blocks.first(), r.blocks.last()) {
                (Some(f), Some(l)) => BlockRun {
                    start: f.0 as i64,
                    end: l.0 as i64 + 1,
                },
                _ => BlockRun { start: 0, end: 0 },
            }),
        ),
        ("memmap_on_memory", Dynamic::from(r.memmap_on_memory)),
        (
            "memmap_on_memory_refused",
            r.memmap_on_memory_refused
                .clone()
                .map_or(Dynamic::UNIT, Dynamic::from),
        ),
        ("memmap_buddy_pages", int(r.memmap_buddy_pages)),
        ("memmap_altmap_pages", int(r.memmap_altmap_pages)),
        ("pagetable_pages", int(r.pagetable_pages)),
        (
            "onlined",
            Dynamic::from(zone_runs(r.onlined.iter().map(|(b, z)| (b.0, z.as_str())))),
        ),
    ])
}

fn section_map(m: &Machine, nr: i64) -> Res<Map> {
    let nr = unsigned(nr, "section number")?;
    let s = m.section_view(nr).ok_or_else(|| {
        einval(format!(
            "section {nr} is beyond NR_MEM_SECTIONS ({})",
            m.sections().nr_sections()
        ))
    })?;
    Ok(map_of([
        ("nr", int(s.nr)),
        ("start", int(s.start)),
        ("size", int(s.size)),
        ("flags", Dynamic::from(s.flags)),
        ("present", Dynamic::from(s.present)),
        ("valid", Dynamic::from(s.valid)),
        ("online", Dynamic::from(s.online)),
        ("early", Dynamic::from(s.early)),
        ("zone_device", Dynamic::from(s.zone_device)),
        ("nid", int(u64::from(s.nid))),
        ("block", int(s.block)),
        (
            "subsection_map",
            s.subsection_map.map_or(Dynamic::UNIT, Dynamic::from),
        ),
        ("memmap", Dynamic::from(memmap_array(&s.memmap))),
    ]))
}

/// How struct pages are mapped: one entry per mapping extent.
fn memmap_array(extents: &[MemmapExtent]) -> Array {
    extents
        .iter()
        .map(|e| {
            Dynamic::from(map_of([
                ("vmemmap_pages", int(e.vmemmap_pages)),
                ("level", Dynamic::from(e.level.label())),
                ("origin", Dynamic::from(e.origin)),
                ("sharing", Dynamic::from(e.sharing.describe())),
            ]))
        })
        .collect()
}

fn block_map(m: &Machine, id: i64) -> Res<Map> {
    let id = unsigned(id, "block id")?;
    let b = m
        .block_view(id)
        .ok_or_else(|| throw(mm::MmError::NotFound(format!("no memory block {id}"))))?;
    Ok(map_of([
        ("id", int(b.id)),
        ("start", int(b.start)),
        ("size", int(b.size)),
        ("state", Dynamic::from(b.state)),
        ("zone", b.zone.map_or(Dynamic::UNIT, Dynamic::from)),
        ("valid_zones", Dynamic::from(b.valid_zones)),
        ("nid", int(u64::from(b.nid))),
        ("early", Dynamic::from(b.early)),
        ("phys_index", Dynamic::from(b.phys_index)),
        ("nr_vmemmap_pages", int(b.nr_vmemmap_pages)),
        (
            "altmap",
            b.altmap.as_ref().map_or(Dynamic::UNIT, altmap_map),
        ),
        ("ram_pages", int(b.ram_pages)),
        ("reserved_pages", int(b.reserved_pages)),
        ("unmovable_pages", int(b.unmovable_pages)),
        ("movable_pages", int(b.movable_pages)),
        ("kernel_pages", int(b.kernel_pages)),
        ("inaccessible", Dynamic::from(b.inaccessible)),
        ("resource", Dynamic::from(b.resource)),
        ("memmap", Dynamic::from(memmap_array(&b.memmap))),
    ]))
}

fn stats_map(m: &Machine) -> Map {
    m.stats()
        .into_iter()
        .map(|(k, v)| (k.into(), int(v)))
        .collect()
}

/// A vmem_altmap, for scripts.
fn altmap_map(a: &AltmapView) -> Dynamic {
    Dynamic::from(map_of([
        ("base_pfn", int(a.base_pfn)),
        ("end_pfn", int(a.end_pfn)),
        ("reserve", int(a.reserve)),
        ("free", int(a.free)),
        ("align", int(a.align)),
        ("alloc", int(a.alloc)),
        ("inaccessible", Dynamic::from(a.inaccessible)),
    ]))
}

/// What memremap_pages() made, for scripts.
fn pgmap_map(p: PgmapView) -> Map {
    map_of([
        ("id", int(u64::from(p.id))),
        ("start", int(p.start)),
        ("size", int(p.size)),
        ("namespace_size", int(p.namespace_size)),
        ("end_trunc", int(p.end_trunc)),
        ("node", int(u64::from(p.node))),
        ("mode", Dynamic::from(p.mode)),
        ("map", Dynamic::from(p.map)),
        ("align", int(p.align)),
        ("vmemmap_shift", int(u64::from(p.vmemmap_shift))),
        ("pages_per_compound_page", int(p.pages_per_compound_page)),
        // The old name of the same number (scripts written before it was renamed).
        ("compound_pages", int(p.pages_per_compound_page)),
        ("vmemmap_optimized", Dynamic::from(p.vmemmap_optimized)),
        ("data_offset", int(p.data_offset)),
        ("npfns", int(p.npfns)),
        ("memmap_pages", int(p.memmap_pages)),
        ("memmap_buddy_pages", int(p.memmap_buddy_pages)),
        ("memmap_device_pages", int(p.memmap_device_pages)),
        ("pagetable_pages", int(p.pagetable_pages)),
        (
            "altmap",
            p.altmap.as_ref().map_or(Dynamic::UNIT, altmap_map),
        ),
        ("namespace", Dynamic::from(p.namespace)),
        ("dax", p.dax.map_or(Dynamic::UNIT, Dynamic::from)),
    ])
}

fn memremap_options(opts: &Map) -> Res<MemremapOptions> {
    let o: MemremapOpts = decode("memremap_pages", opts, MEMREMAP_KEYS)?;
    Ok(MemremapOptions {
        map: o
            .map
            .as_deref()
            .map(MemmapLocation::parse)
            .transpose()
            .map_err(throw)?,
        mode: o
            .mode
            .as_deref()
            .map(NamespaceMode::parse)
            .transpose()
            .map_err(throw)?,
        align: o.align.map(|a| a.0),
        node: o.node.map(|n| node_id(n.0)).transpose()?,
    })
}

/// A node number from a script.
fn node_id(n: u64) -> Res<u16> {
    u16::try_from(n).map_err(|_| einval(format!("node {n} is out of range")))
}

fn kmem_options(opts: &Map) -> Res<mm::kmem::KmemOptions> {
    let o: KmemOpts = decode("dax_kmem", opts, KMEM_KEYS)?;
    Ok(mm::kmem::KmemOptions {
        memmap_on_memory: o.memmap_on_memory.unwrap_or(false),
        online: match o.online {
            None | Some(OnlineArg::Off(true)) => Some(OnlineType::OnlineMovable),
            Some(OnlineArg::Off(false)) => None,
            Some(OnlineArg::Type(t)) => Some(online_type(&t)?),
        },
    })
}

/// A virtio-mem or dax/kmem device, for scripts.
fn device_map(d: DeviceView) -> Map {
    match d {
        DeviceView::VirtioMem {
            id,
            start,
            region_size,
            block_size,
            node,
            mode,
            unit,
            group,
            requested_size,
            plugged_size,
            offline_threshold,
            memory_blocks,
            waiting,
        } => map_of([
            ("id", int(u64::from(id))),
            ("start", int(start)),
            ("region_size", int(region_size)),
            ("block_size", int(block_size)),
            ("node", int(u64::from(node))),
            ("mode", Dynamic::from(mode)),
            ("unit", int(unit)),
            ("group", int(u64::from(group))),
            ("requested_size", int(requested_size)),
            ("plugged_size", int(plugged_size)),
            ("offline_threshold", int(offline_threshold)),
            ("memory_blocks", int(memory_blocks)),
            ("waiting", waiting.map_or(Dynamic::UNIT, Dynamic::from)),
        ]),
        DeviceView::Kmem {
            id,
            dax,
            state,
            start,
            size,
            node,
            group,
            memmap_on_memory,
            memmap_on_memory_refused,
        } => map_of([
            ("id", int(u64::from(id))),
            ("dax", Dynamic::from(dax)),
            ("state", Dynamic::from(state.to_string())),
            ("start", int(start)),
            ("size", int(size)),
            ("node", int(u64::from(node))),
            ("group", int(u64::from(group))),
            ("memmap_on_memory", Dynamic::from(memmap_on_memory)),
            (
                "memmap_on_memory_refused",
                memmap_on_memory_refused.map_or(Dynamic::UNIT, Dynamic::from),
            ),
        ]),
    }
}

fn register_virtio_mem(e: &mut Engine, host: &Host) {
    let budget = &host.budget;
    e.register_fn(
        "virtio_mem_add",
        changes1(
            host,
            "virtio_mem_add",
            |vm: &mut Vm, opts: Map| -> Res<i64> {
                let mut m = vm.0.borrow_mut();
                let o: VirtioMemOpts = decode("virtio_mem_add", &opts, VIRTIO_MEM_KEYS)?;
                let c = mm::virtio_mem::VirtioMemConfig {
                    start: o.start.map_or(0, |b| b.0),
                    region_size: o.region_size.map_or(0, |b| b.0),
                    block_size: o.block_size.map(|b| b.0),
                    node: o.node.map(|n| node_id(n.0)).transpose()?,
                };
                m.virtio_mem_add(&c).map(i64::from).map_err(throw)
            },
        ),
    );
    let b = budget.clone();
    e.register_fn(
        "virtio_mem_resize",
        changes2(
            host,
            "virtio_mem_resize",
            move |vm: &mut Vm, id: i64, size: Dynamic| -> Res<Map> {
                let mut m = vm.0.borrow_mut();
                let no_device =
                    || throw(mm::MmError::NoDevice(format!("no virtio-mem device {id}")));
                let id = u32::try_from(id).map_err(|_| no_device())?;
                let size = size_value(&size, "requested size")?;
                // What plugging more would add: up to the region, past what is plugged.
                let more = m.virtio_mem_devices().find(|d| d.id == id).map(|d| {
                    let plugged = m.virtio_mem_plugged_size(d);
                    (
                        d.start + plugged,
                        size.min(d.region_size).saturating_sub(plugged),
                    )
                });
                let (at, grow) = more.unwrap_or((0, 0));
                let _grown = reserve_memory(&b, &m, "virtio_mem_resize", at, grow)?;
                m.virtio_mem_resize(id, size).map_err(throw)?;
                let d = m
                    .virtio_mem_views()
                    .into_iter()
                    .find(|d| matches!(d, DeviceView::VirtioMem { id: i, .. } if *i == id))
                    .ok_or_else(no_device)?;
                Ok(device_map(d))
            },
        ),
    )
    .register_fn("virtio_mem_devices", |vm: &mut Vm| -> Array {
        vm.0.borrow()
            .virtio_mem_views()
            .into_iter()
            .map(|d| Dynamic::from(device_map(d)))
            .collect()
    });
}

/// A platform device as scripts see it: id, driver, start, size, node and its blocks.
fn platform_device_map(d: &mm::platform::PlatformDevice) -> Map {
    map_of([
        ("id", int(u64::from(d.id))),
        ("driver", Dynamic::from(d.driver.name().to_string())),
        ("start", int(d.start)),
        ("size", int(d.size)),
        ("node", int(u64::from(d.node))),
        (
            "blocks",
            Dynamic::from(d.blocks.iter().map(|b| int(b.0)).collect::<Array>()),
        ),
    ])
}

/// A driver's name as scripts give it.
fn platform_driver(name: &str) -> Res<arch::PlatformDriver> {
    arch::PlatformDriver::parse(name).ok_or_else(|| {
        let names: Vec<&str> = arch::PlatformDriver::ALL.iter().map(|d| d.name()).collect();
        let hint = arch::did_you_mean(name, names.iter().copied())
            .map(|n| format!("did you mean {n}? "))
            .unwrap_or_default();
        einval(format!(
            "no platform driver {} ({hint}drivers: {})",
            mm::error::quote(name),
            names.join(", ")
        ))
    })
}

fn plug(b: &Budget, vm: &mut Vm, size: Dynamic, opts: Map) -> Res<Map> {
    let mut m = vm.0.borrow_mut();
    let o: PlugOpts = decode("plug", &opts, PLUG_KEYS)?;
    let size = size_value(&size, "size")?;
    let driver = o.driver.as_deref().map(platform_driver).transpose()?;
    let index = o
        .index
        .map(|i| {
            u32::try_from(i.0)
                .map_err(|_| einval(format!("plug: index {} is not a DRC index", i.0)))
        })
        .transpose()?;
    let count = o.count.map(|c| c.0);
    let bytes = match (count, size) {
        (Some(c), 0) => c.saturating_mul(m.block_size()),
        _ => size,
    };
    let at = o.start.map_or(m.boot_info().hotplug_base, |s| s.0);
    let _grown = reserve_memory(b, &m, "plug", at, bytes.max(o.region.map_or(0, |r| r.0)))?;
    let p = mm::platform::PlugOptions {
        driver,
        start: o.start.map(|s| s.0),
        node: o.node.map(|n| node_id(n.0)).transpose()?,
        count,
        index,
        region: o.region.map(|r| r.0),
    };
    m.plug(size, &p)
        .map(|d| platform_device_map(&d))
        .map_err(throw)
}

fn register_platform(e: &mut Engine, host: &Host) {
    let b = host.budget.clone();
    e.register_fn(
        "plug",
        changes1(host, "plug", move |vm: &mut Vm, size: Dynamic| {
            plug(&b, vm, size, Map::new())
        }),
    );
    let b = host.budget.clone();
    e.register_fn(
        "plug",
        changes2(
            host,
            "plug",
            move |vm: &mut Vm, size: Dynamic, opts: Map| plug(&b, vm, size, opts),
        ),
    );
    e.register_fn(
        "unplug",
        changes1(host, "unplug", |vm: &mut Vm, dev: Map| -> Res<()> {
            let mut m = vm.0.borrow_mut();
            let o: UnplugOpts = decode("unplug", &dev, UNPLUG_KEYS)?;
            let driver = match &o.driver {
                Some(d) => platform_driver(d)?,
                None => *m.platform_drivers().first().ok_or_else(|| {
                    einval("unplug: this arch has no platform driver".to_string())
                })?,
            };
            match (o.id, o.count) {
                (Some(_), Some(_)) => Err(einval(
                    "unplug: a device (id) or a count, not both".to_string(),
                )),
                (Some(id), None) => {
                    let id = u32::try_from(id.0)
                        .map_err(|_| einval(format!("unplug: no device {}", id.0)))?;
                    // The map must be this machine's device: where it says it starts must
                    // be the device's (a map from another machine, or one edited by hand,
                    // is refused).
                    let known: Vec<(u64, u64)> = m
                        .platform_devices()
                        .filter(|d| d.id == id)
                        .map(|d| (d.start, d.size))
                        .chain(
                            m.virtio_mem_device(id)
                                .ok()
                                .filter(|_| driver == arch::PlatformDriver::VirtioMem)
                                .map(|d| (d.start, d.size)),
                        )
                        .collect();
                    // (Its size may have changed since: a virtio-mem device unplugs in
                    // part, DLPAR removes LMBs by count; where it starts does not.)
                    if let Some(&(s, n)) = known.first() {
                        if o.start.is_some_and(|v| v.0 != s) {
                            return Err(einval(format!(
                                "unplug: device {id} of this machine is [{s:#x}, +{}), not what \
                                 the map says: is it another machine's device?",
                                arch::human(n)
                            )));
                        }
                    }
                    m.unplug(driver, id).map_err(throw)
                }
                (None, Some(n)) => m.unplug_count(driver, n.0).map_err(throw),
                (None, None) => Err(einval(
                    "unplug: give the device plug returned, or #{ driver, count }".to_string(),
                )),
            }
        }),
    )
    .register_fn("devices", |vm: &mut Vm| -> Array {
        let m = vm.0.borrow();
        let mut out: Array = m
            .platform_devices()
            .map(|d| Dynamic::from(platform_device_map(d)))
            .collect();
        let ids: Vec<u32> = m.virtio_mem_devices().map(|d| d.id).collect();
        for id in ids {
            if let Ok(d) = m.virtio_mem_device(id) {
                out.push(Dynamic::from(platform_device_map(&d)));
            }
        }
        out
    })
    .register_fn(
        "offline_and_remove_memory",
        changes2(
            host,
            "offline_and_remove_memory",
            |vm: &mut Vm, start: Dynamic, size: Dynamic| -> Res<()> {
                let mut m = vm.0.borrow_mut();
                let (s, n) = (phys(&m, &start, "start")?, phys(&m, &size, "size")?);
                m.offline_and_remove_memory(s, n).map_err(throw)
            },
        ),
    );
}

fn register_device(e: &mut Engine, host: &Host) {
    let budget = &host.budget;
    register_virtio_mem(e, host);
    register_platform(e, host);
    fn dax_kmem(b: &Budget, vm: &mut Vm, id: i64, opts: Map) -> Res<Map> {
        let mut m = vm.0.borrow_mut();
        let id = u32::try_from(id).map_err(|_| einval(format!("no pgmap {id}")))?;
        let (start, size) = m.pgmaps().get(&id).map_or((0, 0), |p| (p.start, p.size()));
        let _grown = reserve_memory(b, &m, "dax_kmem", start, size)?;
        m.dax_kmem(id, &kmem_options(&opts)?)
            .map(|d| device_map(mm::read::kmem_view(&d)))
            .map_err(throw)
    }
    let b = budget.clone();
    e.register_fn(
        "dax_kmem",
        changes1(host, "dax_kmem", move |vm: &mut Vm, id: i64| {
            dax_kmem(&b, vm, id, Map::new())
        }),
    );
    let b = budget.clone();
    e.register_fn(
        "dax_kmem",
        changes2(host, "dax_kmem", move |vm: &mut Vm, id: i64, opts: Map| {
            dax_kmem(&b, vm, id, opts)
        }),
    );
    e.register_fn("kmem_devices", |vm: &mut Vm| -> Array {
        vm.0.borrow()
            .kmem_views()
            .into_iter()
            .map(|d| Dynamic::from(device_map(d)))
            .collect()
    });
    let b = budget.clone();
    e.register_fn(
        "memremap_pages",
        changes2(
            host,
            "memremap_pages",
            move |vm: &mut Vm, start: Dynamic, size: Dynamic| -> Res<i64> {
                let mut m = vm.0.borrow_mut();
                let (s, n) = (phys(&m, &start, "start")?, phys(&m, &size, "size")?);
                let _grown = reserve_memory(&b, &m, "memremap_pages", s, n)?;
                m.memremap_pages(s, n, &MemremapOptions::default())
                    .map(i64::from)
                    .map_err(throw)
            },
        ),
    );
    let b = budget.clone();
    e.register_fn(
        "memremap_pages",
        changes3(
            host,
            "memremap_pages",
            move |vm: &mut Vm, start: Dynamic, size: Dynamic, opts: Map| -> Res<i64> {
                let mut m = vm.0.borrow_mut();
                let (s, n) = (phys(&m, &start, "start")?, phys(&m, &size, "size")?);
                let o = memremap_options(&opts)?;
                let _grown = reserve_memory(&b, &m, "memremap_pages", s, n)?;
                m.memremap_pages(s, n, &o).map(i64::from).map_err(throw)
            },
        ),
    );
    e.register_fn(
        "memunmap_pages",
        changes1(host, "memunmap_pages", |vm: &mut Vm, id: i64| -> Res<()> {
            let id = u32::try_from(id).map_err(|_| einval(format!("no pgmap {id}")))?;
            vm.0.borrow_mut().memunmap_pages(id).map_err(throw)
        }),
    )
    .register_fn("pgmap", |vm: &mut Vm, id: i64| -> Res<Map> {
        u32::try_from(id)
            .ok()
            .and_then(|id| vm.0.borrow().pgmap_view(id))
            .map(pgmap_map)
            .ok_or_else(|| einval(format!("no pgmap {id}")))
    })
    .register_fn("pgmaps", |vm: &mut Vm| -> Array {
        vm.0.borrow()
            .pgmap_views()
            .into_iter()
            .map(|p| Dynamic::from(pgmap_map(p)))
            .collect()
    })
    .register_fn("hugepages", |vm: &mut Vm| -> Array {
        let m = vm.0.borrow();
        m.hstates()
            .iter()
            .map(|h| {
                Dynamic::from(map_of([
                    ("size", int(h.size)),
                    ("nr_hugepages", int(h.nr)),
                    ("surplus", int(h.surplus)),
                    ("optimized", int(h.optimized())),
                    (
                        "vmemmap_pages_each",
                        int(m.hugetlb_vmemmap_size_pages(h.size)),
                    ),
                    (
                        "hvo_frees_each",
                        int(m.hugetlb_vmemmap_optimizable_pages(h.size)),
                    ),
                ]))
            })
            .collect()
    });
}

/// Calls that change a machine tell the host before they run (the UI's script player
/// pauses there, showing the call to come), by arity after the machine.
fn changes1<A, R>(
    h: &Host,
    what: &'static str,
    f: impl Fn(&mut Vm, A) -> Res<R> + 'static,
) -> impl Fn(rhai::NativeCallContext, &mut Vm, A) -> Res<R> + 'static {
    let h = h.clone();
    move |ctx, vm, a| {
        h.about_to(&ctx, what, Some(vm));
        f(vm, a)
    }
}

fn changes2<A, B, R>(
    h: &Host,
    what: &'static str,
    f: impl Fn(&mut Vm, A, B) -> Res<R> + 'static,
) -> impl Fn(rhai::NativeCallContext, &mut Vm, A, B) -> Res<R> + 'static {
    let h = h.clone();
    move |ctx, vm, a, b| {
        h.about_to(&ctx, what, Some(vm));
        f(vm, a, b)
    }
}

fn changes3<A, B, C, R>(
    h: &Host,
    what: &'static str,
    f: impl Fn(&mut Vm, A, B, C) -> Res<R> + 'static,
) -> impl Fn(rhai::NativeCallContext, &mut Vm, A, B, C) -> Res<R> + 'static {
    let h = h.clone();
    move |ctx, vm, a, b, c| {
        h.about_to(&ctx, what, Some(vm));
        f(vm, a, b, c)
    }
}

/// Register everything.
pub(super) fn register(e: &mut Engine, host: &Host) {
    register_errors(e);
    register_helpers(e, host);
    register_boot(e, host);
    register_hotplug(e, host);
    register_device(e, host);
    register_views(e, host);
    super::pictures::register_pictures(e, host);
}

/// A physical address or size argument, as the other calls take one.
pub(super) fn size_arg(m: &Machine, v: &Dynamic, what: &str) -> Res<u64> {
    phys(m, v, what)
}

fn register_errors(e: &mut Engine) {
    e.register_type_with_name::<ScriptError>("Error")
        .register_get("errno", |x: &mut ScriptError| x.errno.clone())
        .register_get("code", |x: &mut ScriptError| x.code)
        .register_get("message", |x: &mut ScriptError| x.message.clone())
        .register_indexer_get(|x: &mut ScriptError, k: &str| -> Res<Dynamic> {
            match k {
                "errno" => Ok(Dynamic::from(x.errno.clone())),
                "code" => Ok(Dynamic::from(x.code)),
                "message" => Ok(Dynamic::from(x.message.clone())),
                _ => Err(einval(format!(
                    "an error has errno, code and message, not \"{k}\""
                ))),
            }
        })
        .register_fn("to_string", |x: &mut ScriptError| x.to_string())
        .register_fn("to_debug", |x: &mut ScriptError| x.to_string())
        .register_fn("to_map", |x: &mut ScriptError| {
            map_of([
                ("errno", Dynamic::from(x.errno.clone())),
                ("code", Dynamic::from(x.code)),
                ("message", Dynamic::from(x.message.clone())),
            ])
        });
}

/// Consecutive memory blocks an operation covered, `[start, end)`: a range to scripts
/// (`for b in r.blocks`, `r.blocks.start`, `.end`, `.len()`, `.contains(id)`), printed
/// everywhere as lsmem prints a run of blocks, `32-39`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockRun {
    pub start: i64,
    pub end: i64,
}

impl std::fmt::Display for BlockRun {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.end - self.start {
            n if n <= 0 => f.write_str("none"),
            1 => write!(f, "{}", self.start),
            _ => write!(f, "{}-{}", self.start, self.end - 1),
        }
    }
}

impl IntoIterator for BlockRun {
    type Item = i64;
    type IntoIter = std::ops::Range<i64>;
    fn into_iter(self) -> Self::IntoIter {
        self.start..self.end
    }
}

fn register_block_run(e: &mut Engine) {
    e.register_type_with_name::<BlockRun>("BlockRun")
        .register_iterator::<BlockRun>()
        .register_get("start", |r: &mut BlockRun| r.start)
        .register_get("end", |r: &mut BlockRun| r.end)
        .register_fn("len", |r: &mut BlockRun| (r.end - r.start).max(0))
        .register_fn("is_empty", |r: &mut BlockRun| r.end <= r.start)
        .register_fn("contains", |r: &mut BlockRun, id: i64| {
            (r.start..r.end).contains(&id)
        });
    for name in ["to_string", "to_debug", "print", "debug"] {
        e.register_fn(name, |r: &mut BlockRun| r.to_string());
    }
}

fn register_helpers(e: &mut Engine, host: &Host) {
    register_block_run(e);
    let h = host.clone();
    e.register_fn("warn", move |text: &str| {
        h.script_warning(text);
    });
    e.register_fn("size", |s: &str| -> Res<i64> {
        let v = parse_size_or_why(s).map_err(einval)?;
        i64::try_from(v).map_err(|_| {
            einval(format!(
                "{} is {v:#x}, past the largest script integer (8E - 1, 0x7fffffffffffffff)",
                mm::error::quote(s)
            ))
        })
    })
    .register_fn("human", |v: i64| -> Res<String> {
        Ok(arch::human(unsigned(v, "size")?))
    })
    .register_fn("hex", |v: i64| format!("{v:#x}"))
    // Rhai's ranges have start, end and contains; len as arrays do.
    .register_fn("len", |r: &mut std::ops::Range<i64>| {
        (r.end - r.start).max(0)
    })
    .register_fn("help", help::list)
    .register_fn("help", |name: &str| {
        help::one(name).unwrap_or_else(|| help::missing(name))
    });
}

fn register_boot(e: &mut Engine, host: &Host) {
    e.register_type_with_name::<Vm>("Machine")
        .register_fn("to_string", |vm: &mut Vm| {
            format!("Machine({})", vm.0.borrow().target().name())
        })
        .register_fn("to_debug", |vm: &mut Vm| {
            format!("Machine({})", vm.0.borrow().target().name())
        })
        .register_get("arch", |vm: &mut Vm| {
            vm.0.borrow().target().name().to_string()
        })
        .register_get("design", |vm: &mut Vm| vm.0.borrow().design().to_string())
        .register_get("kernel", |vm: &mut Vm| {
            vm.0.borrow().kernel().name.to_string()
        })
        .register_get("hotplug_driver", |vm: &mut Vm| {
            let d =
                vm.0.borrow()
                    .arch()
                    .hotplug_driver(vm.0.borrow().kernel())
                    .name();
            d.split(" (").next().unwrap_or(d).to_string()
        })
        .register_fn("vmemmap_head", |vm: &mut Vm, start: Dynamic| -> Res<Map> {
            let m = vm.0.borrow();
            let h = m
                .vmemmap_head(size_value(&start, "start")?)
                .map_err(throw)?;
            let mut out = map_of([("pfn", int(h.pfn))]);
            for (k, v) in h.fields {
                out.insert(k.into(), int(v));
            }
            Ok(out)
        })
        .register_get("page_size", |vm: &mut Vm| {
            vm.0.borrow().geometry().page_size as i64
        })
        .register_get("section_size", |vm: &mut Vm| {
            vm.0.borrow().geometry().section_size as i64
        })
        .register_get("block_size", |vm: &mut Vm| {
            vm.0.borrow().block_size() as i64
        })
        .register_get("hotplug_base", |vm: &mut Vm| {
            let m = vm.0.borrow();
            m.boot_info().hotplug_base.next_multiple_of(m.block_size()) as i64
        })
        .register_get("boot_ram", |vm: &mut Vm| {
            vm.0.borrow().boot_info().ram_bytes as i64
        })
        .register_get("boot_ram_end", |vm: &mut Vm| {
            let m = vm.0.borrow();
            (m.boot_info().max_pfn * m.geometry().page_size) as i64
        })
        .register_get("pmd_size", |vm: &mut Vm| {
            vm.0.borrow().geometry().pmd_size as i64
        })
        .register_get("dax_alignments", |vm: &mut Vm| -> Array {
            let m = vm.0.borrow();
            m.target().dax_alignments().into_iter().map(int).collect()
        });
    let b = host.budget.clone();
    e.register_fn("clone", move |vm: &mut Vm| -> Res<Vm> {
        let m = vm.0.borrow();
        let _grown = reserve(
            &b,
            || "copying the machine".to_string(),
            m.state_footprint(),
        )?;
        Ok(Vm::new(m.clone()))
    });
    let h = host.clone();
    e.register_fn("boot", move |ctx: rhai::NativeCallContext| -> Res<Vm> {
        booted(&h, &ctx, || do_boot(&h, &boot_spec(&h, &Map::new())?))
    });
    // boot(arch) and boot(arch, cmdline) take what they do not name from the flags, as
    // boot() and boot(#{ ... }) do.
    let h = host.clone();
    e.register_fn(
        "boot",
        move |ctx: rhai::NativeCallContext, arch: &str| -> Res<Vm> {
            let opts = map_of([("arch", Dynamic::from(arch.to_string()))]);
            booted(&h, &ctx, || do_boot(&h, &boot_spec(&h, &opts)?))
        },
    );
    let h = host.clone();
    e.register_fn(
        "boot",
        move |ctx: rhai::NativeCallContext, arch: &str, cmdline: &str| -> Res<Vm> {
            let opts = map_of([
                ("arch", Dynamic::from(arch.to_string())),
                ("cmdline", Dynamic::from(cmdline.to_string())),
            ]);
            booted(&h, &ctx, || do_boot(&h, &boot_spec(&h, &opts)?))
        },
    );
    let h = host.clone();
    e.register_fn(
        "boot",
        move |ctx: rhai::NativeCallContext, opts: Map| -> Res<Vm> {
            booted(&h, &ctx, || do_boot(&h, &boot_spec(&h, &opts)?))
        },
    );
}

fn register_hotplug(e: &mut Engine, host: &Host) {
    let budget = &host.budget;
    let b = budget.clone();
    e.register_fn(
        "add_memory",
        changes2(
            host,
            "add_memory",
            move |vm: &mut Vm, start: Dynamic, size: Dynamic| -> Res<Map> {
                let mut m = vm.0.borrow_mut();
                let (s, n) = (size_value(&start, "start")?, size_value(&size, "size")?);
                let _grown = reserve_memory(&b, &m, "add_memory", s, n)?;
                m.add_memory(s, n, &AddOptions::default())
                    .map(|r| add_report(&r))
                    .map_err(throw)
            },
        ),
    );
    let b = budget.clone();
    e.register_fn(
        "add_memory",
        changes3(
            host,
            "add_memory",
            move |vm: &mut Vm, start: Dynamic, size: Dynamic, opts: Map| -> Res<Map> {
                let mut m = vm.0.borrow_mut();
                let (s, n) = (size_value(&start, "start")?, size_value(&size, "size")?);
                let _grown = reserve_memory(&b, &m, "add_memory", s, n)?;
                let a: AddOpts = decode("add_memory", &opts, ADD_KEYS)?;
                let o = AddOptions {
                    memmap_on_memory: a.memmap_on_memory,
                    node: a.node.map(|n| node_id(n.0)).transpose()?,
                    ..AddOptions::default()
                };
                m.add_memory(s, n, &o)
                    .map(|r| add_report(&r))
                    .map_err(throw)
            },
        ),
    );
    e.register_fn(
        "remove_memory",
        changes2(
            host,
            "remove_memory",
            |vm: &mut Vm, start: Dynamic, size: Dynamic| -> Res<()> {
                let mut m = vm.0.borrow_mut();
                let (s, n) = (phys(&m, &start, "start")?, phys(&m, &size, "size")?);
                m.remove_memory(s, n).map_err(throw)
            },
        ),
    )
    .register_fn(
        "online",
        changes2(
            host,
            "online",
            |vm: &mut Vm, start: Dynamic, size: Dynamic| -> Res<Array> {
                online(vm, start, size, "online")
            },
        ),
    )
    .register_fn("online", changes3(host, "online", online))
    .register_fn(
        "offline",
        changes2(
            host,
            "offline",
            |vm: &mut Vm, start: Dynamic, size: Dynamic| -> Res<()> {
                let mut m = vm.0.borrow_mut();
                let (s, n) = (phys(&m, &start, "start")?, phys(&m, &size, "size")?);
                m.offline(s, n).map_err(throw)
            },
        ),
    )
    .register_fn(
        "set_allocations",
        changes2(
            host,
            "set_allocations",
            |vm: &mut Vm, block: i64, opts: Map| -> Res<()> {
                let mut m = vm.0.borrow_mut();
                let id = BlockId(unsigned(block, "block")?);
                let a: AllocOpts = decode("set_allocations", &opts, ALLOC_KEYS)?;
                let (u, mv) = (a.unmovable.map_or(0, |c| c.0), a.movable.map_or(0, |c| c.0));
                m.set_block_allocations(id, u, mv).map_err(throw)
            },
        ),
    )
    .register_fn(
        "inject_fault",
        changes2(
            host,
            "inject_fault",
            |vm: &mut Vm, point: &str, count: i64| -> Res<()> {
                let c = u32::try_from(count)
                    .map_err(|_| einval(format!("count {count} is out of range")))?;
                vm.0.borrow_mut().inject_fault(point, c).map_err(throw)
            },
        ),
    )
    .register_fn(
        "inject_fault",
        changes3(
            host,
            "inject_fault",
            |vm: &mut Vm, point: &str, skip: i64, count: i64| -> Res<()> {
                let s = u32::try_from(skip)
                    .map_err(|_| einval(format!("skip {skip} is out of range")))?;
                let c = u32::try_from(count)
                    .map_err(|_| einval(format!("count {count} is out of range")))?;
                vm.0.borrow_mut()
                    .inject_fault_after(point, s, c)
                    .map_err(throw)
            },
        ),
    );
}

fn online(vm: &mut Vm, start: Dynamic, size: Dynamic, kind: &str) -> Res<Array> {
    let mut m = vm.0.borrow_mut();
    let (s, n) = (phys(&m, &start, "start")?, phys(&m, &size, "size")?);
    let t = online_type(kind)?;
    let done = m.online(s, n, t).map_err(throw)?;
    Ok(zone_runs(done.iter().map(|(b, z)| (b.0, z.name()))))
}

/// Onlined blocks as runs of consecutive blocks in one zone, `#{ first, count, zone }`:
/// onlining 60 TiB is half a million blocks but a single run.
fn zone_runs<'a>(blocks: impl Iterator<Item = (u64, &'a str)>) -> Array {
    let mut runs: Vec<(u64, u64, &str)> = Vec::new();
    for (b, z) in blocks {
        match runs.last_mut() {
            Some((first, count, zone)) if *zone == z && *first + *count == b => *count += 1,
            _ => runs.push((b, 1, z)),
        }
    }
    runs.into_iter()
        .map(|(first, count, zone)| {
            Dynamic::from(map_of([
                ("first", int(first)),
                ("count", int(count)),
                ("zone", Dynamic::from(zone.to_string())),
            ]))
        })
        .collect()
}

fn register_views(e: &mut Engine, host: &Host) {
    e.register_fn("read", |vm: &mut Vm, path: &str| -> Res<String> {
        vm.0.borrow().read(path).map_err(throw)
    })
    .register_fn(
        "write",
        changes2(
            host,
            "write",
            |vm: &mut Vm, path: &str, value: &str| -> Res<()> {
                vm.0.borrow_mut().write(path, value).map_err(throw)
            },
        ),
    )
    .register_fn(
        "write",
        changes2(
            host,
            "write",
            |vm: &mut Vm, path: &str, value: i64| -> Res<()> {
                vm.0.borrow_mut()
                    .write(path, &value.to_string())
                    .map_err(throw)
            },
        ),
    )
    .register_fn("pfn_valid", |vm: &mut Vm, pfn: i64| -> Res<bool> {
        Ok(vm.0.borrow().pfn_valid(unsigned(pfn, "pfn")?))
    })
    .register_fn("section", |vm: &mut Vm, nr: i64| -> Res<Map> {
        section_map(&vm.0.borrow(), nr)
    })
    .register_fn("block", |vm: &mut Vm, id: i64| -> Res<Map> {
        block_map(&vm.0.borrow(), id)
    })
    .register_fn("blocks", |vm: &mut Vm| -> Array {
        vm.0.borrow().blocks().keys().map(|k| int(k.0)).collect()
    })
    .register_fn("stats", |vm: &mut Vm| stats_map(&vm.0.borrow()))
    .register_fn("dmesg", |vm: &mut Vm| -> Array {
        vm.0.borrow()
            .dmesg()
            .iter()
            .map(|l| Dynamic::from(ImmutableString::from(l.as_str())))
            .collect()
    })
    .register_fn("check", |vm: &mut Vm| -> Res<()> {
        vm.0.borrow().check_or_stop().map_err(throw)
    });
    let root = host.export_root.clone();
    let prefix = host.export_prefix.clone();
    let (exported, limits) = (host.exported.clone(), host.limits);
    e.register_fn("export_sysfs", move |vm: &mut Vm, dir: &str| -> Res<()> {
        let Some(root) = &root else {
            return Err(throw(mm::MmError::NotPermitted(
                "export_sysfs writes only under the directory given with --sysfs-out".to_string(),
            )));
        };
        let m = vm.0.borrow();
        super::sandbox::count_export(&exported, &limits, &m, "export_sysfs")
            .map_err(super::Stop::into_rhai)?;
        // The model refuses "..", absolute paths and links below the directory.
        m.export_sysfs_in(root, &prefix.join(dir)).map_err(throw)
    });
}
