//! One simulated machine: the sparse memory model, its vmemmap, zones, memory blocks and
//! iomem, with every operation applied as a transaction (a failure leaves it as it was).

use crate::cmdline::{Cmdline, OnlinePolicy, OnlineType};
use crate::error::{MmError, Result};
use crate::memory_block::MemoryBlock;
use crate::resource::ResourceTree;
use crate::section::{SavedSections, SectionTable};
use crate::units::{BlockId, Pfn, SectionNr, Units};
use crate::vmemmap::{SavedVmemmap, Vmemmap};
use crate::zone::Node;
use arch::{Arch, Geometry, ZoneType};
use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};

/// /proc/vmstat's nr_memmap_boot_pages and nr_memmap_pages (mm/vmstat.c), the latter split
/// by where the populate call took its pages from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct VmStat {
    pub nr_memmap_boot_pages: u64,
    /// nr_memmap_pages counted for populates backed by ordinary memory.
    pub memmap_buddy: u64,
    /// ... by a memory block's own altmap (memmap_on_memory).
    pub memmap_altmap: u64,
    /// ... by a device's altmap (pmem map=dev).
    pub memmap_device: u64,
    /// What HugeTLB vmemmap optimisation added to nr_memmap_pages (new head pages,
    /// restored pages) minus the buddy-backed vmemmap pages it freed. Kept apart so that
    /// the per-origin counts above stay the sum of what each section populated.
    pub memmap_hvo: i64,
    /// Boot-allocated vmemmap pages the vmemmap map counts as buddy pages: the head pages
    /// a kernel that keeps them under HVO (6.1) mapped back with the restored pages.
    pub boot_heads_as_buddy: u64,
}

impl VmStat {
    pub fn nr_memmap_pages(&self) -> u64 {
        self.memmap_buddy_pages() + self.memmap_altmap + self.memmap_device
    }

    /// nr_memmap_pages backed by ordinary memory, HVO's changes included.
    pub fn memmap_buddy_pages(&self) -> u64 {
        (self.memmap_buddy as i64 + self.memmap_hvo) as u64
    }
}

/// What the machine booted from, kept for the views.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BootInfo {
    /// `[start, end)` System RAM ranges at boot.
    pub ram: Vec<(u64, u64)>,
    /// max_pfn at boot.
    pub max_pfn: u64,
    /// memblock_phys_mem_size().
    pub ram_bytes: u64,
    /// X86_FEATURE_HYPERVISOR.
    pub hypervisor: bool,
    /// The CPU features arch hooks ask about (GBPAGES), after the command line.
    pub cpu: arch::CpuFeatures,
    /// Where hot-pluggable memory starts on the emulated platform.
    pub hotplug_base: u64,
    /// The platform mimicked ("QEMU q35 (SeaBIOS)", or "iomem" when booted from text).
    pub platform: String,
    /// How memory_block_size_bytes() decided.
    pub block_size_how: String,
    /// Possible NUMA nodes.
    pub nr_nodes: u16,
}

/// Runtime-writable hotplug settings (sysfs and module parameters with mode 0644).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Settings {
    /// auto_online_blocks / memhp_default_state.
    pub default_online: OnlineType,
    pub online_policy: OnlinePolicy,
    pub auto_movable_ratio: u64,
    pub auto_movable_numa_aware: bool,
}

/// One fault-injection point: let `skip` calls pass, then fail `count` (like fail-page-alloc's
/// space and times).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct FaultPoint {
    pub skip: u32,
    pub count: u32,
}

impl FaultPoint {
    /// Whether this call fails; consumes it.
    pub fn fire(&mut self) -> bool {
        if self.count == 0 {
            return false;
        }
        if self.skip > 0 {
            self.skip -= 1;
            return false;
        }
        self.count -= 1;
        true
    }

    /// Whether a failure is still armed.
    pub fn armed(&self) -> bool {
        self.count > 0
    }
}

/// Where the next injected failures strike (see Machine::inject_fault).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Faults {
    /// MEM_GOING_ONLINE notifier calls.
    pub going_online: FaultPoint,
    /// MEM_GOING_OFFLINE notifier calls.
    pub going_offline: FaultPoint,
    /// Buddy allocations for the memmap.
    pub memmap_alloc: FaultPoint,
    /// Altmap allocations.
    pub altmap_alloc: FaultPoint,
}

/// A simulated machine: its configuration (fixed at boot), its [`State`], its kernel log
/// and the knobs and caches that are not state.
#[derive(Debug, Clone)]
pub struct Machine {
    /// The architecture configuration and the kernel version modelled (what differs
    /// between versions is one table entry the arch and mm/ consult).
    pub(crate) target: arch::Target,
    pub(crate) u: Units,
    pub(crate) cmdline: Cmdline,
    pub(crate) boot: BootInfo,
    /// pfn ranges memblock reserved at boot for the memmap and its page tables (fixed at
    /// boot).
    pub(crate) boot_reserved: Vec<(u64, u64)>,
    /// Where ZONE_MOVABLE starts on the boot node (kernelcore=, movablecore=; fixed at boot).
    pub(crate) zone_movable_start: Option<u64>,
    /// The default CMA area, pfns `[start, end)`, once activated (fixed at boot).
    pub(crate) cma_area: Option<(u64, u64)>,
    /// The design variant (`hotplug_lab.design=`).
    pub(crate) design: &'static dyn crate::design::Design,
    /// Everything an operation changes, and a failing one must leave as it was.
    pub(crate) state: State,
    pub(crate) dmesg: Vec<String>,
    /// While boot runs, vmemmap and page tables come from memblock.
    pub(crate) booting: bool,
    /// While boot allocates the command line's huge pages (hugetlb_hstate_alloc_pages()
    /// from memblock).
    pub(crate) hugetlb_bootmem: bool,
    pub(crate) faults: Faults,
    /// A cache for watermark recomputation (not state).
    pub(crate) wmark_memo: crate::watermark::WmarkMemo,
    /// Take no shortcut over a run of memory blocks: populate and free each
    /// memmap_on_memory block's memmap through its own call, as the kernel does (a test
    /// knob, not state; see `set_per_block_reference`).
    pub(crate) per_block_reference: bool,
    /// Monotonic clock for dmesg timestamps (microseconds).
    pub(crate) clock_us: u64,
    /// The WARN_ONCE() sites that have reported (kernel flags, not state: a failed call
    /// that warned keeps them set).
    pub(crate) warned: std::collections::BTreeSet<&'static str>,
    /// /proc/vmstat's event counters (not state: they count attempts, as dmesg logs them).
    pub(crate) events: crate::events::VmEvents,
    /// What stops a long operation part way (not state: a copy of the machine shares it).
    pub(crate) watchdog: crate::watchdog::Watchdog,
}

/// The machine's state: what rollback restores, [`Machine::state_hash`] hashes and
/// [`Machine::state_diff`] compares. A field added here is one all three see (they take it
/// apart without `..`, so the compiler names any that forgets it).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct State {
    pub(crate) settings: Settings,
    pub(crate) sections: SectionTable,
    pub(crate) vmemmap: Vmemmap,
    pub(crate) nodes: Vec<Node>,
    pub(crate) blocks: crate::block_table::BlockTable,
    pub(crate) iomem: ResourceTree,
    pub(crate) groups: BTreeMap<u32, crate::hotplug::MemoryGroup>,
    pub(crate) vmstat: VmStat,
    /// min_free_kbytes.
    pub(crate) min_free_kbytes: u64,
    /// HugeTLB hstates.
    pub(crate) hstates: Vec<crate::hugetlb::Hstate>,
    /// vm.hugetlb_optimize_vmemmap (hugetlb_free_vmemmap= at boot).
    pub(crate) hugetlb_optimize_vmemmap: bool,
    /// ZONE_DEVICE mappings (memremap_pages()), by id.
    pub(crate) pgmaps: BTreeMap<u32, crate::memremap::DevPagemap>,
    /// Whole-range altmaps of the rfc-2018 / v3-2019 designs, by first pfn.
    pub(crate) range_altmaps: BTreeMap<u64, crate::design::RangeAltmap>,
    /// virtio-mem devices, by id.
    pub(crate) virtio_mem: BTreeMap<u32, crate::virtio_mem::VirtioMem>,
    /// dax devices the kmem driver added as System RAM, by pgmap id.
    pub(crate) kmem: BTreeMap<u32, crate::kmem::KmemDevice>,
    /// The platform drivers' devices (ACPI DIMMs, DLPAR LMB sets, chmem'd standby memory).
    pub(crate) devices: BTreeMap<u32, crate::platform::PlatformDevice>,
    /// s390 standby memory as the SCLP driver found it at boot.
    pub(crate) standby: Option<crate::sclp::Standby>,
}

/// What a transaction may touch: a pfn range (sections, blocks, vmemmap); every small
/// structure (zones, iomem, counters) is always saved whole.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Footprint {
    pub start_pfn: u64,
    pub end_pfn: u64,
}

impl Machine {
    /// The footprint of the bytes `[start, end)`, widened to whole pages.
    pub(crate) fn footprint(&self, start: u64, end: u64) -> Footprint {
        Footprint {
            start_pfn: start >> self.u.g.page_shift,
            end_pfn: end.div_ceil(self.u.g.page_size),
        }
    }

    /// The footprint of a transaction that offlines `[start, end)`: offlining dissolves
    /// whole huge pages, which reach past the range out to the largest huge page's
    /// boundaries.
    pub(crate) fn offline_footprint(&self, start: u64, end: u64) -> Footprint {
        let huge = self
            .state
            .hstates
            .iter()
            .map(|h| h.size)
            .max()
            .unwrap_or(1)
            .max(self.u.block_size);
        self.footprint(start / huge * huge, end.div_ceil(huge).saturating_mul(huge))
    }
}

/// A saved [`State`]: the per-pfn tables (sections, vmemmap, blocks) only within a
/// transaction's footprint, everything else whole.
struct Snapshot {
    sections: SavedSections,
    vmemmap: SavedVmemmap,
    fence: (u64, u64),
    blocks: Vec<(BlockId, MemoryBlock)>,
    block_range: (BlockId, BlockId),
    settings: Settings,
    nodes: Vec<Node>,
    iomem: ResourceTree,
    groups: BTreeMap<u32, crate::hotplug::MemoryGroup>,
    vmstat: VmStat,
    min_free_kbytes: u64,
    hstates: Vec<crate::hugetlb::Hstate>,
    hugetlb_optimize_vmemmap: bool,
    pgmaps: BTreeMap<u32, crate::memremap::DevPagemap>,
    range_altmaps: BTreeMap<u64, crate::design::RangeAltmap>,
    virtio_mem: BTreeMap<u32, crate::virtio_mem::VirtioMem>,
    kmem: BTreeMap<u32, crate::kmem::KmemDevice>,
    devices: BTreeMap<u32, crate::platform::PlatformDevice>,
    standby: Option<crate::sclp::Standby>,
}

impl Machine {
    /// The architecture configuration's backend.
    pub fn arch(&self) -> &'static dyn Arch {
        self.target.arch()
    }

    /// The architecture configuration and kernel version this machine models.
    pub fn target(&self) -> &arch::Target {
        &self.target
    }

    pub fn geometry(&self) -> &Geometry {
        &self.u.g
    }

    pub fn units(&self) -> &Units {
        &self.u
    }

    /// memory_block_size_bytes().
    /// The kernel version modelled.
    pub fn kernel(&self) -> &'static arch::Kernel {
        self.target.kernel
    }

    pub fn block_size(&self) -> u64 {
        self.u.block_size
    }

    pub fn cmdline(&self) -> &Cmdline {
        &self.cmdline
    }

    pub fn settings(&self) -> &Settings {
        &self.state.settings
    }

    pub fn boot_info(&self) -> &BootInfo {
        &self.boot
    }

    pub fn sections(&self) -> &SectionTable {
        &self.state.sections
    }

    pub fn vmemmap(&self) -> &Vmemmap {
        &self.state.vmemmap
    }

    pub fn nodes(&self) -> &[Node] {
        &self.state.nodes
    }

    pub fn blocks(&self) -> &crate::block_table::BlockTable {
        &self.state.blocks
    }

    pub fn iomem(&self) -> &ResourceTree {
        &self.state.iomem
    }

    pub fn vmstat(&self) -> &VmStat {
        &self.state.vmstat
    }

    /// The kernel log, oldest first.
    /// /proc/vmstat's event counters as far as the model keeps them.
    pub fn events(&self) -> &crate::events::VmEvents {
        &self.events
    }

    pub fn dmesg(&self) -> &[String] {
        &self.dmesg
    }

    pub fn faults(&self) -> &Faults {
        &self.faults
    }

    /// Let `w` stop this machine's long operations part way (each then fails as a whole,
    /// the machine as it was).
    pub fn set_watchdog(&mut self, w: crate::watchdog::Watchdog) {
        self.watchdog = w;
    }

    /// One step of a long loop: the watchdog's error once it says stop.
    #[inline]
    pub(crate) fn tick(&self) -> Result<()> {
        self.watchdog.check()
    }

    /// Append a line to the kernel log with a timestamp, as printk does.
    pub(crate) fn log(&mut self, msg: impl AsRef<str>) {
        self.clock_us += 1000;
        let t = self.clock_us;
        for line in msg.as_ref().lines() {
            self.dmesg.push(format!(
                "[{:5}.{:06}] {}",
                t / 1_000_000,
                t % 1_000_000,
                line
            ));
        }
    }

    pub(crate) fn zone(&self, nid: u16, t: ZoneType) -> Option<&crate::zone::Zone> {
        self.state.nodes.get(nid as usize)?.zone(t)
    }

    /// A memory block to change, or ENODEV.
    pub(crate) fn block_mut(&mut self, id: BlockId) -> Result<&mut MemoryBlock> {
        self.state
            .blocks
            .get_mut(&id)
            .ok_or_else(|| MmError::NoDevice(format!("no memory block {}", id.0)))
    }

    /// The zone `t` of node `nid`. Every zone a block, a pgmap or a huge page records was
    /// picked from the zones the arch configures for this kernel (zone_for_pfn_range(); a
    /// pgmap's ZONE_DEVICE only after memremap_pages() checked zone_device_for()), so the
    /// lookup cannot miss.
    pub(crate) fn zone_mut(&mut self, nid: u16, t: ZoneType) -> &mut crate::zone::Zone {
        self.state.nodes[nid as usize]
            .zone_mut(t)
            .expect("zone type configured for this arch")
    }

    /// The vmemmap page range (in vmemmap pages) that describes `[start_pfn, end_pfn)`,
    /// widened to whole PMDs (and whole bolted chunks on the hash MMU), which is what any
    /// populate or free for that range can touch.
    pub(crate) fn vmemmap_window(&self, start_pfn: u64, end_pfn: u64) -> (u64, u64) {
        let g = &self.u.g;
        let unit = (g.pmd_size.max(16 << 20)) >> g.page_shift;
        let lo = self.state.vmemmap.vpn(g.vmemmap_offset(start_pfn));
        let hi = self.state.vmemmap.vpn_up(g.vmemmap_offset(end_pfn));
        (lo - lo % unit, hi.next_multiple_of(unit))
    }

    fn snapshot(&self, fp: Footprint) -> Snapshot {
        let s0 = self.u.section_of(Pfn(fp.start_pfn));
        let s1 = SectionNr(self.u.section_of(Pfn(fp.end_pfn.saturating_sub(1))).0 + 1);
        let b0 = self.u.block_of_section(s0);
        let b1 = BlockId(self.u.block_of_section(SectionNr(s1.0.saturating_sub(1))).0 + 1);
        let (lo, hi) = self.vmemmap_window(fp.start_pfn, fp.end_pfn);
        // Taken apart without `..`: a field added to State must be saved here.
        let State {
            settings,
            sections,
            vmemmap,
            nodes,
            blocks,
            iomem,
            groups,
            vmstat,
            min_free_kbytes,
            hstates,
            hugetlb_optimize_vmemmap,
            pgmaps,
            range_altmaps,
            virtio_mem,
            kmem,
            devices,
            standby,
        } = &self.state;
        Snapshot {
            sections: sections.save(s0, s1),
            vmemmap: vmemmap.save(lo, hi),
            fence: (lo, hi),
            blocks: blocks.range(b0..b1).map(|(k, v)| (*k, v.clone())).collect(),
            block_range: (b0, b1),
            settings: *settings,
            nodes: nodes.clone(),
            iomem: iomem.clone(),
            groups: groups.clone(),
            vmstat: *vmstat,
            min_free_kbytes: *min_free_kbytes,
            hstates: hstates.clone(),
            hugetlb_optimize_vmemmap: *hugetlb_optimize_vmemmap,
            pgmaps: pgmaps.clone(),
            range_altmaps: range_altmaps.clone(),
            virtio_mem: virtio_mem.clone(),
            kmem: kmem.clone(),
            devices: devices.clone(),
            standby: standby.clone(),
        }
    }

    /// Put the state back as `s` saved it. The kernel log keeps what the failed operation
    /// printed: the kernel prints its errors.
    fn restore(&mut self, s: Snapshot) {
        let Snapshot {
            sections: saved_sections,
            vmemmap: saved_vmemmap,
            fence: _,
            blocks: saved_blocks,
            block_range,
            settings,
            nodes,
            iomem,
            groups,
            vmstat,
            min_free_kbytes,
            hstates,
            hugetlb_optimize_vmemmap,
            pgmaps,
            range_altmaps,
            virtio_mem,
            kmem,
            devices,
            standby,
        } = s;
        let st = &mut self.state;
        st.sections.restore(saved_sections);
        st.vmemmap.restore(saved_vmemmap);
        let stale: Vec<BlockId> = st
            .blocks
            .range(block_range.0..block_range.1)
            .map(|(k, _)| *k)
            .collect();
        for k in stale {
            st.blocks.remove(&k);
        }
        st.blocks.extend(saved_blocks);
        st.settings = settings;
        st.nodes = nodes;
        st.iomem = iomem;
        st.groups = groups;
        st.vmstat = vmstat;
        st.min_free_kbytes = min_free_kbytes;
        st.hstates = hstates;
        st.hugetlb_optimize_vmemmap = hugetlb_optimize_vmemmap;
        st.pgmaps = pgmaps;
        st.range_altmaps = range_altmaps;
        st.virtio_mem = virtio_mem;
        st.kmem = kmem;
        st.devices = devices;
        st.standby = standby;
        self.wmark_memo.reset();
    }

    /// Run `f` as a transaction over `fp`: if it fails, the machine is put back as it was
    /// (the kernel log keeps what the failure printed).
    pub(crate) fn transaction<T>(
        &mut self,
        fp: Footprint,
        f: impl FnOnce(&mut Machine) -> Result<T>,
    ) -> Result<T> {
        self.wmark_flush();
        let snap = self.snapshot(fp);
        // Transactions nest (a driver's request around the adds it makes): the inner one
        // hands its caller's fence back.
        let outer = self.state.vmemmap.fence(snap.fence.0, snap.fence.1);
        let r = f(self);
        self.state.vmemmap.set_fence(outer);
        if r.is_err() {
            self.restore(snap);
        }
        r
    }

    /// An upper bound of the model state that `size` bytes of new memory adds: its sections
    /// (whole ones, as the section table keeps them) and its memory blocks.
    pub fn state_estimate(&self, size: u64) -> u64 {
        let g = &self.u.g;
        let sections = size.div_ceil(g.section_size).saturating_add(1);
        let blocks = size.div_ceil(self.u.block_size).saturating_add(1);
        sections
            .saturating_mul(crate::boot::STATE_PER_SECTION)
            .saturating_add(blocks.saturating_mul(crate::boot::STATE_PER_BLOCK))
    }

    /// An upper bound of this machine's whole model state (what a copy of it costs), its
    /// kernel log included.
    pub fn state_footprint(&self) -> u64 {
        let sections = self.state.sections.present().count() as u64;
        let log: u64 = self.dmesg.iter().map(|l| l.len() as u64 + 24).sum();
        sections
            .saturating_mul(crate::boot::STATE_PER_SECTION)
            .saturating_add(
                (self.state.blocks.len() as u64).saturating_mul(crate::boot::STATE_PER_BLOCK),
            )
            .saturating_add(log)
    }

    /// A hash of the configuration and the whole [`State`] (not the kernel log), for tests
    /// that check a failed operation changed nothing.
    pub fn state_hash(&self) -> u64 {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        self.target.name().hash(&mut h);
        self.target.kernel.name.hash(&mut h);
        self.cmdline.hash(&mut h);
        self.boot.hash(&mut h);
        self.state.hash(&mut h);
        h.finish()
    }

    /// The names of the [`State`] fields in which `other` differs from this machine.
    pub fn state_diff(&self, other: &Machine) -> Vec<&'static str> {
        let o = &other.state;
        let mut diff = Vec::new();
        // Taken apart without `..`, and every binding compared: a field added to State
        // is a compile error (or an unused variable) until it is compared here.
        let State {
            settings,
            sections,
            vmemmap,
            nodes,
            blocks,
            iomem,
            groups,
            vmstat,
            min_free_kbytes,
            hstates,
            hugetlb_optimize_vmemmap,
            pgmaps,
            range_altmaps,
            virtio_mem,
            kmem,
            devices,
            standby,
        } = &self.state;
        macro_rules! compare {
            ($($f:ident),* $(,)?) => {
                $(if *$f != o.$f {
                    diff.push(stringify!($f));
                })*
            };
        }
        compare!(
            settings,
            sections,
            vmemmap,
            nodes,
            blocks,
            iomem,
            groups,
            vmstat,
            min_free_kbytes,
            hstates,
            hugetlb_optimize_vmemmap,
            pgmaps,
            range_altmaps,
            virtio_mem,
            kmem,
            devices,
            standby,
        );
        diff
    }

    /// Make the next `count` calls at `point` fail, like the kernel's notifier error
    /// injection and fail-page-alloc. Points: "going_online", "going_offline",
    /// "memmap_alloc", "altmap_alloc".
    pub fn inject_fault(&mut self, point: &str, count: u32) -> Result<()> {
        self.inject_fault_after(point, 0, count)
    }

    /// Let `skip` calls at `point` pass, then fail the next `count`.
    pub fn inject_fault_after(&mut self, point: &str, skip: u32, count: u32) -> Result<()> {
        let slot = match point {
            "going_online" | "MEM_GOING_ONLINE" => &mut self.faults.going_online,
            "going_offline" | "MEM_GOING_OFFLINE" => &mut self.faults.going_offline,
            "memmap_alloc" => &mut self.faults.memmap_alloc,
            "altmap_alloc" => &mut self.faults.altmap_alloc,
            other => {
                return Err(MmError::Invalid(format!(
                    "unknown fault point \"{other}\" (going_online, going_offline, memmap_alloc, altmap_alloc)"
                )))
            }
        };
        *slot = FaultPoint { skip, count };
        Ok(())
    }

    /// Whether one of the next `n` calls at `point` would fail: if so, consume the calls up
    /// to and including the failing one, as making them would, and return its index.
    pub(crate) fn fault_within(point: &mut FaultPoint, n: usize) -> Option<usize> {
        if !point.armed() || point.skip as usize >= n {
            return None;
        }
        let k = point.skip as usize;
        point.skip = 0;
        point.count -= 1;
        Some(k)
    }

    /// Consume one call at a fault point; true if it must fail.
    pub(crate) fn take_fault(point: &mut FaultPoint) -> bool {
        point.fire()
    }
}
