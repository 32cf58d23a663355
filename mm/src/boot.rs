//! Boot: from a list of RAM ranges to present early sections with their boot memmap
//! (memblocks_present + sparse_init, mm/sparse.c), zones (free_area_init, mm/mm_init.c) and
//! boot memory blocks (memory_dev_init, drivers/base/memory.c).

use crate::cmdline::{split_args, Cmdline, MemmapKind, OnlineType};
use crate::error::{MmError, Result};
use crate::machine::{BootInfo, Faults, Machine, Settings, State, VmStat};
use crate::memory_block::{BlockState, MemoryBlock};
use crate::resource::{Resource, ResourceTree};
use crate::section::{SectionTable, SectionUsage, SECTION_IS_ONLINE, SECTION_MARKED_PRESENT};
use crate::units::{BlockId, Pfn, SectionNr, Units};
use crate::vmemmap::{Origin, Vmemmap};
use crate::zone::Node;
use arch::{BlockSizeContext, ZoneType};
use std::collections::BTreeMap;

/// Debian's 6.12 configs set CONFIG_MHP_DEFAULT_ONLINE_TYPE_ONLINE_AUTO: hot-added memory is
/// onlined with "online" unless memhp_default_state says otherwise (the oracle guest shows
/// auto_online_blocks = online). Where the kernel version's Debian config does not
/// (arch::Kernel::debian_default_online), it stays offline.
pub const KCONFIG_DEFAULT_ONLINE: OnlineType = OnlineType::Online;

/// What to boot.
#[derive(Debug, Clone)]
pub struct BootSpec {
    /// The architecture configuration and kernel version.
    pub target: arch::Target,
    /// The kernel command line.
    pub cmdline: String,
    /// Boot RAM in bytes, laid out as the arch's default QEMU machine does (default 2 GiB).
    pub ram: Option<u64>,
    /// /proc/iomem text; its "System RAM" lines are the boot memory (overrides `ram`).
    pub iomem: Option<String>,
    /// Whether the CPU reports a hypervisor (default: yes, a QEMU guest).
    pub hypervisor: Option<bool>,
    /// Whether the CPU has 1 GiB pages, X86_FEATURE_GBPAGES (default: yes, as every x86_64
    /// server CPU and QEMU's `-cpu max`/`host`; QEMU's default qemu64 CPU has not).
    pub gbpages: Option<bool>,
    /// Refuse a malformed value of a known parameter, which the kernel ignores.
    pub strict: bool,
    /// s390: standby storage the hypervisor reports at boot, after the boot RAM.
    pub standby: Option<u64>,
    /// What stops the boot, and every later operation of the machine, part way (a
    /// caller's deadline or cancel switch; none by default).
    pub watchdog: crate::watchdog::Watchdog,
}

impl BootSpec {
    /// A 2 GiB guest of `target`, laid out as its default QEMU machine, with an empty
    /// command line.
    pub fn new(target: arch::Target) -> BootSpec {
        BootSpec {
            target,
            cmdline: String::new(),
            ram: None,
            iomem: None,
            hypervisor: None,
            gbpages: None,
            strict: false,
            standby: None,
            watchdog: crate::watchdog::Watchdog::default(),
        }
    }
}

impl Default for BootSpec {
    /// The default target (x86_64 on Linux 6.12).
    fn default() -> BootSpec {
        BootSpec::new(arch::Target::default_target())
    }
}

/// The default boot RAM.
pub const DEFAULT_RAM: u64 = 2 << 30;

/// Upper bounds of the heap the model keeps per present section and per memory block
/// (section table entry and usage map, vmemmap extents, block slot, zone and resource
/// bookkeeping), measured on every arch with a counting allocator and rounded up: what a
/// caller that holds the model to a memory budget reserves before it boots or hot-adds.
pub const STATE_PER_SECTION: u64 = 96;
pub const STATE_PER_BLOCK: u64 = 256;

/// What the firmware and the command line give a machine to boot from, decided before any
/// model state is built: the RAM, its iomem tree and the memory block size.
#[derive(Debug, Clone)]
pub struct BootPlan {
    target: arch::Target,
    cmdline: Cmdline,
    design: &'static dyn crate::design::Design,
    iomem: ResourceTree,
    ram: Vec<(u64, u64)>,
    pfn_ranges: Vec<(u64, u64)>,
    max_pfn: u64,
    ram_bytes: u64,
    hypervisor: bool,
    cpu: arch::CpuFeatures,
    hotplug_base: u64,
    platform: String,
    block_size: arch::BlockSize,
    watchdog: crate::watchdog::Watchdog,
    standby: Option<u64>,
}

impl BootPlan {
    /// Read the spec: the arch, the command line, the firmware's RAM ranges.
    pub fn new(spec: &BootSpec) -> Result<BootPlan> {
        let target = spec.target;
        let (arch, kernel) = (target.arch(), target.kernel);
        let mut cmdline = if spec.strict {
            Cmdline::parse_strict(&spec.cmdline, &target)?
        } else {
            Cmdline::parse(&spec.cmdline, &target)?
        };
        if !arch.memmap_on_memory_enable(kernel) {
            // Without CONFIG_MHP_MEMMAP_ON_MEMORY memory_hotplug has no such parameter: an
            // unused module parameter, ignored.
            let gone: Vec<String> = split_args(&spec.cmdline)
                .into_iter()
                .filter(|a| {
                    a.split('=').next().unwrap_or("").replace('-', "_")
                        == "memory_hotplug.memmap_on_memory"
                })
                .collect();
            if !gone.is_empty() {
                cmdline.unknown.extend(gone);
                cmdline.memmap_on_memory = crate::cmdline::MemmapMode::Disable;
                cmdline
                    .malformed
                    .retain(|m| !m.arg.contains("memmap_on_memory"));
            }
        }
        if !arch.has_e820_memmap() && !cmdline.memmap.is_empty() {
            // memmap= is an x86 parameter: elsewhere the kernel does not know it.
            let unknown: Vec<String> = spec
                .cmdline
                .split_whitespace()
                .filter(|a| a.starts_with("memmap="))
                .map(String::from)
                .collect();
            cmdline.unknown.extend(unknown);
            cmdline.memmap.clear();
        }
        let g = target.geometry;
        let design = crate::design::lookup(&cmdline.design).ok_or_else(|| {
            MmError::Invalid(format!(
                "hotplug_lab.design={}: no such design",
                cmdline.design
            ))
        })?;

        // The firmware's view: RAM ranges and the iomem tree.
        let (mut iomem, platform, hotplug_base) = match &spec.iomem {
            Some(text) => {
                let tree = ResourceTree::parse(text)?;
                // Where hot-pluggable memory starts is decided below, from every System
                // RAM range the tree holds, nested or not.
                (tree, "iomem".to_string(), None)
            }
            None => {
                let ram = spec.ram.unwrap_or(DEFAULT_RAM);
                if ram > g.physmem_end {
                    return Err(MmError::OutOfRange(format!(
                        "ram {}: does not fit in the {} of physical address space {} has \
                         (MAX_PHYSMEM_BITS {}), which the platform's holes share",
                        arch::approx(ram),
                        arch::approx(g.physmem_end.saturating_add(1)),
                        target.name(),
                        g.max_physmem_bits
                    )));
                }
                let layout = arch
                    .qemu_layout(&target, ram)
                    .map_err(|e| MmError::Invalid(e.to_string()))?;
                let mut top: Vec<Resource> = Vec::new();
                for &(s, e) in &layout.ram {
                    top.push(Resource::new(s, e - 1, "System RAM"));
                }
                for &(s, e) in &layout.reserved {
                    top.push(Resource::new(s, e - 1, "Reserved"));
                }
                top.sort_by_key(|r| r.start);
                (
                    ResourceTree { top },
                    layout.machine.to_string(),
                    Some(layout.hotplug_base),
                )
            }
        };
        apply_memmap_options(&mut iomem, &cmdline, &g)?;
        // An inclusive end at the top of the address space has no exclusive end in u64:
        // no architecture's MAX_PHYSMEM_BITS reaches it.
        if let Some((_, r)) = iomem
            .walk()
            .into_iter()
            .find(|(_, r)| &*r.name == "System RAM" && r.end >= g.physmem_end)
        {
            return Err(MmError::OutOfRange(format!(
                "System RAM {:#x}-{:#x} ends beyond MAX_PHYSMEM_BITS ({} bits) of {}",
                r.start,
                r.end,
                g.max_physmem_bits,
                target.name()
            )));
        }
        let mut ram: Vec<(u64, u64)> = iomem
            .walk()
            .into_iter()
            .filter(|(_, r)| &*r.name == "System RAM")
            .map(|(_, r)| (r.start, r.end + 1))
            .collect();
        // A "System RAM" nested in another (which no kernel prints, but a hand-written
        // iomem may hold) is the same memory: memblock_add() merges overlaps.
        crate::resource::merge_overlapping(&mut ram);
        if let Some(limit) = cmdline.mem_limit {
            ram = apply_mem_limit(ram, limit, arch.mem_limit_is_address());
            let keep = ram.clone();
            iomem
                .top
                .retain(|r| &*r.name != "System RAM" || keep.iter().any(|&(s, _)| s == r.start));
            for r in iomem.top.iter_mut().filter(|r| &*r.name == "System RAM") {
                if let Some(&(_, e)) = keep.iter().find(|&&(s, _)| s == r.start) {
                    r.end = e - 1;
                }
            }
        }
        // memblock keeps whole pages only.
        let pfn_ranges: Vec<(u64, u64)> = ram
            .iter()
            .map(|&(s, e)| (s.div_ceil(g.page_size), e / g.page_size))
            .filter(|(s, e)| s < e)
            .collect();
        let Some(&(_, max_pfn)) = pfn_ranges.last() else {
            return Err(MmError::Invalid("no System RAM to boot from".to_string()));
        };
        if max_pfn << g.page_shift > g.physmem_end {
            return Err(MmError::OutOfRange(format!(
                "RAM ends at {:#x}, beyond MAX_PHYSMEM_BITS ({}) of {}",
                max_pfn << g.page_shift,
                g.max_physmem_bits,
                target.name()
            )));
        }
        let ram_bytes: u64 = pfn_ranges
            .iter()
            .map(|(s, e)| (e - s) << g.page_shift)
            .sum();
        // Booted from iomem text: hot-pluggable memory starts at the first section above
        // all of its RAM and above every top-level resource that holds some.
        let hotplug_base = hotplug_base.unwrap_or_else(|| {
            let holder_end = iomem
                .top
                .iter()
                .filter(|r| r.holds_ram())
                .map(|r| r.end.saturating_add(1))
                .max()
                .unwrap_or(0);
            holder_end
                .max(max_pfn << g.page_shift)
                .next_multiple_of(g.section_size)
        });
        let hypervisor = cmdline.hypervisor.or(spec.hypervisor).unwrap_or(true);
        let gbpages = cmdline.cpu_gbpages.or(spec.gbpages).unwrap_or(true);
        let cpu = arch::CpuFeatures {
            gbpages,
            direct_gbpages: gbpages && cmdline.direct_gbpages.unwrap_or(true),
        };

        let firmware = cmdline
            .firmware_block_size
            .or_else(|| arch.firmware_block_size(ram_bytes));
        let bs = arch
            .memory_block_size(
                &target,
                &BlockSizeContext {
                    boot_mem_end: max_pfn << g.page_shift,
                    hypervisor,
                    firmware,
                },
            )
            .map_err(MmError::Invalid)?;
        if !bs.bytes.is_power_of_two() || bs.bytes < g.min_memory_block_size {
            return Err(MmError::Invalid(format!(
                "Memory block size not suitable: {:#x}",
                bs.bytes
            )));
        }
        Ok(BootPlan {
            target,
            cmdline,
            design,
            iomem,
            ram,
            pfn_ranges,
            max_pfn,
            ram_bytes,
            hypervisor,
            cpu,
            hotplug_base,
            platform,
            block_size: bs,
            watchdog: spec.watchdog.clone(),
            standby: spec.standby,
        })
    }

    /// Sections holding boot RAM and standby memory (a section two ranges share counts
    /// twice: an upper bound).
    pub fn present_sections(&self) -> u64 {
        let shift = self.target.geometry.section_size_bits - self.target.geometry.page_shift;
        let standby = self.standby.unwrap_or(0) >> self.target.geometry.section_size_bits;
        self.pfn_ranges
            .iter()
            .map(|&(s, e)| ((e - 1) >> shift) - (s >> shift) + 1)
            .sum::<u64>()
            .saturating_add(standby + u64::from(self.standby.is_some()))
    }

    /// Boot memory blocks, standby ones included.
    pub fn blocks(&self) -> u64 {
        let bs = self.block_size.bytes;
        let standby = self.standby.map_or(0, |s| s / bs + 1);
        self.ram
            .iter()
            .map(|&(s, e)| e.div_ceil(bs) - s / bs)
            .sum::<u64>()
            .saturating_add(standby)
    }

    /// An upper bound of the model state booting this plan builds.
    pub fn state_estimate(&self) -> u64 {
        self.present_sections()
            .saturating_mul(STATE_PER_SECTION)
            .saturating_add(self.blocks().saturating_mul(STATE_PER_BLOCK))
    }

    /// Boot RAM in bytes.
    pub fn ram_bytes(&self) -> u64 {
        self.ram_bytes
    }
}

impl Machine {
    /// Boot a machine.
    pub fn boot(spec: &BootSpec) -> Result<Machine> {
        Machine::boot_plan(BootPlan::new(spec)?)
    }

    /// Boot a machine from a plan.
    pub fn boot_plan(plan: BootPlan) -> Result<Machine> {
        let BootPlan {
            target,
            cmdline,
            design,
            iomem,
            ram,
            pfn_ranges,
            max_pfn,
            ram_bytes,
            hypervisor,
            cpu,
            hotplug_base,
            platform,
            block_size: bs,
            watchdog,
            standby,
        } = plan;
        let (arch, kernel, g) = (target.arch(), target.kernel, target.geometry);
        let u = Units::new(g, bs.bytes);
        let nr_nodes = cmdline.nodes.unwrap_or(1);
        let mut nodes: Vec<Node> = (0..nr_nodes)
            .map(|n| Node::new(n, arch.zone_types(kernel)))
            .collect();
        nodes[0].online = true;
        let kconfig_online = if arch.default_online(kernel) {
            KCONFIG_DEFAULT_ONLINE
        } else {
            OnlineType::Offline
        };
        let default_online = cmdline.memhp_default_state.unwrap_or(kconfig_online);
        let (cmdline_online_policy, cmdline_ratio, cmdline_numa_aware) = (
            cmdline.online_policy,
            cmdline.auto_movable_ratio,
            cmdline.auto_movable_numa_aware,
        );

        let mut m = Machine {
            target,
            u,
            boot: BootInfo {
                ram: ram.clone(),
                max_pfn,
                ram_bytes,
                hypervisor,
                cpu,
                hotplug_base,
                platform,
                block_size_how: bs.how.clone(),
                nr_nodes,
            },
            cmdline,
            boot_reserved: Vec::new(),
            zone_movable_start: None,
            cma_area: None,
            design,
            state: State {
                settings: Settings {
                    default_online,
                    online_policy: cmdline_online_policy,
                    auto_movable_ratio: cmdline_ratio,
                    auto_movable_numa_aware: cmdline_numa_aware,
                },
                sections: SectionTable::new(&g),
                vmemmap: Vmemmap::new(&g, arch.params(kernel).vmemmap_tables),
                nodes,
                blocks: crate::block_table::BlockTable::new(),
                iomem,
                groups: BTreeMap::new(),
                vmstat: VmStat::default(),
                min_free_kbytes: 0,
                hstates: Vec::new(),
                hugetlb_optimize_vmemmap: false,
                pgmaps: BTreeMap::new(),
                range_altmaps: BTreeMap::new(),
                virtio_mem: BTreeMap::new(),
                kmem: BTreeMap::new(),
                devices: BTreeMap::new(),
                standby: None,
            },
            dmesg: Vec::new(),
            booting: true,
            hugetlb_bootmem: false,
            faults: Faults::default(),
            wmark_memo: Default::default(),
            per_block_reference: false,
            clock_us: 0,
            warned: Default::default(),
            events: Default::default(),
            watchdog,
        };
        m.log(format!(
            "Linux version {kernel} (hotplug-lab model of {})",
            target.config.description
        ));
        let text = m.cmdline.text.clone();
        m.log(format!("Command line: {text}"));
        let refused: Vec<String> = m
            .cmdline
            .malformed
            .iter()
            .filter_map(|p| p.log.clone())
            .collect();
        for line in refused {
            m.log(line);
        }
        for line in arch.boot_log(&cpu) {
            m.log(line);
        }
        m.memory_present(&pfn_ranges);
        m.sparse_init()?;
        m.free_area_init(&pfn_ranges);
        m.memblock_reserve_boot(&pfn_ranges)?;
        m.log_boot_memory(&pfn_ranges);
        let for_init = m.cmdline.unknown_for_init();
        if !for_init.is_empty() {
            let list = for_init.join(" ");
            m.log(format!(
                "Unknown kernel command line parameters \"{list}\", will be passed to user space."
            ));
        }
        if let Some(line) = bs.dmesg {
            m.log(line);
        }
        m.memory_dev_init();
        m.booting = false;
        // memblock_free_all(): every page memblock did not keep goes to the buddy, each
        // counted as freed.
        let released: u64 = m
            .state
            .nodes
            .iter()
            .flat_map(|n| &n.zones)
            .map(|z| z.managed_pages)
            .sum();
        m.events.free(released);
        m.cma_activate();
        m.init_per_zone_wmark_min();
        m.init_hstates();
        if m.cmdline.memmap_on_memory == crate::cmdline::MemmapMode::Force {
            let w = m.memmap_on_memory_waste();
            m.log(format!(
                "Memory hotplug will waste {w} pages in each memory block"
            ));
        }
        let texts = m.cmdline.hugepages_text.clone();
        m.hugetlb_bootmem = true;
        for ((size, count), (size_text, count_text)) in
            m.cmdline.hugepages.clone().into_iter().zip(texts)
        {
            let size = size.unwrap_or(m.target.arch().default_hugepage_size(&m.target));
            match m.state.hstates.iter().position(|h| h.size == size) {
                Some(i) => {
                    m.set_nr_hugepages(i, count);
                }
                // hugepagesz_setup() and hugepages_setup() in mm/hugetlb.c: a size the arch
                // (or the CPU) cannot do is refused, and so is the count that follows it.
                None => {
                    let given = size_text.unwrap_or_else(|| arch::human(size));
                    m.log(format!("HugeTLB: unsupported hugepagesz={given}"));
                    m.log(format!(
                        "HugeTLB: hugepages={count_text} does not follow a valid hugepagesz, ignoring"
                    ));
                }
            }
        }
        m.hugetlb_bootmem = false;
        m.report_hugepages();
        // sclp_detect_standby_memory(), a device initcall.
        if let Some(bytes) = standby {
            m.sclp_add_standby_memory(bytes)?;
        }
        Ok(m)
    }

    /// memory_present(): mark the sections holding RAM present (and online), with the
    /// sub-section map of the RAM they hold (sparse_init_subsection_map()).
    fn memory_present(&mut self, pfn_ranges: &[(u64, u64)]) {
        let u = self.u;
        for &(s, e) in pfn_ranges {
            let mut pfn = s;
            while pfn < e {
                let nr = u.section_of(Pfn(pfn));
                let sec_end = u.section_start(SectionNr(nr.0 + 1)).0;
                let last = e.min(sec_end) - 1;
                let ms = self.state.sections.get_mut(nr);
                ms.flags |= SECTION_MARKED_PRESENT | SECTION_IS_ONLINE;
                let mut usage = ms.usage.unwrap_or(SectionUsage {
                    boot_allocated: true,
                    ..Default::default()
                });
                usage.set(&SectionUsage::mask(
                    u.subsection_index(Pfn(pfn)),
                    u.subsection_index(Pfn(last)),
                ));
                ms.usage = Some(usage);
                pfn = last + 1;
            }
        }
    }

    /// sparse_init(): the boot memmap of every present section, from memblock.
    fn sparse_init(&mut self) -> Result<()> {
        let present: Vec<SectionNr> = self.state.sections.present().map(|(n, _)| n).collect();
        let mut i = 0;
        while i < present.len() {
            self.tick()?;
            let mut j = i + 1;
            while j < present.len() && present[j].0 == present[j - 1].0 + 1 {
                j += 1;
            }
            let start = self.u.section_start(present[i]).0;
            let end = self.u.section_start(SectionNr(present[j - 1].0 + 1)).0;
            self.sparse_init_range(0, start, end)?;
            i = j;
        }
        Ok(())
    }

    /// free_area_init(): zone spans and present pages of node 0, ZONE_MOVABLE where
    /// kernelcore= or movablecore= puts it.
    fn free_area_init(&mut self, pfn_ranges: &[(u64, u64)]) {
        let node_start = pfn_ranges[0].0;
        let node_end = pfn_ranges[pfn_ranges.len() - 1].1;
        let ps = self.u.g.page_shift;
        let limits = self
            .target
            .arch()
            .zone_limits(node_start << ps, node_end << ps);
        // arch_zone_{lowest,highest}_possible_pfn[] of the zones below ZONE_MOVABLE.
        let mut ranges: Vec<(ZoneType, u64, u64)> = Vec::new();
        let mut low = 0u64;
        for zt in self.target.arch().zone_types(self.target.kernel).to_vec() {
            let high = match zt {
                ZoneType::Dma => limits.dma.map(|l| l >> ps),
                ZoneType::Dma32 => limits.dma32.map(|l| l >> ps),
                ZoneType::Normal => Some(u64::MAX),
                ZoneType::Movable | ZoneType::Device => None,
            };
            let Some(high) = high else { continue };
            ranges.push((zt, low.max(node_start), high.min(node_end)));
            low = low.max(high);
        }
        let movable = self.zone_movable_pfn(pfn_ranges, &ranges);
        self.zone_movable_start = movable;
        let mut spans: Vec<(ZoneType, u64, u64)> = Vec::new();
        for &(zt, zs, ze) in &ranges {
            // adjust_zone_range_for_zone_movable()
            let (zs, ze) = match movable {
                Some(m) if zs < m && ze > m => (zs, m),
                Some(m) if zs >= m => (ze, ze),
                _ => (zs, ze),
            };
            spans.push((zt, zs, ze));
        }
        if let Some(m) = movable {
            spans.push((ZoneType::Movable, m, node_end));
        }
        for (zt, zs, ze) in spans {
            let z = self.zone_mut(0, zt);
            if zs >= ze {
                continue;
            }
            let present: u64 = pfn_ranges
                .iter()
                .map(|&(s, e)| e.min(ze).saturating_sub(s.max(zs)))
                .sum();
            z.zone_start_pfn = zs;
            z.spanned_pages = ze - zs;
            z.present_pages = present;
            z.present_early_pages = present;
            z.managed_pages = present;
            z.managed_early_pages = present;
        }
        let node = &mut self.state.nodes[0];
        node.update_span();
        // Where memblock's top-down allocations land.
        node.boot_reserve_zone = node
            .zones
            .iter()
            .filter(|z| z.populated() && z.zone_start_pfn < node_end)
            .map(|z| z.ztype)
            .next_back();
    }

    /// find_zone_movable_pfns_for_nodes() (mm/mm_init.c; mm/page_alloc.c in 6.1) for the
    /// one boot node: the pfn where ZONE_MOVABLE starts, from `kernelcore=` (memory that
    /// stays for the kernel, the rest movable) or `movablecore=` (memory made movable, at
    /// the top), or None. `ranges` are the lower zones' possible pfn ranges.
    fn zone_movable_pfn(
        &mut self,
        pfn_ranges: &[(u64, u64)],
        ranges: &[(ZoneType, u64, u64)],
    ) -> Option<u64> {
        use crate::cmdline::CoreSize;
        let (kernelcore, movablecore) = (self.cmdline.kernelcore, self.cmdline.movablecore);
        if kernelcore.is_none() && movablecore.is_none() {
            return None;
        }
        // cmdline_parse_core() warns past 100% as it parses (early, PID 0).
        for c in [kernelcore, movablecore].into_iter().flatten() {
            if let CoreSize::Percent(p) = c {
                if p > 100 {
                    self.warn(&crate::warn::CORE_PERCENT, None);
                }
            }
        }
        // movable_node takes ZONE_MOVABLE from the firmware's hotpluggable ranges (none at
        // boot here), and ignores both.
        if self.cmdline.movable_node {
            return None;
        }
        let total: u64 = pfn_ranges.iter().map(|(s, e)| e - s).sum();
        if kernelcore == Some(CoreSize::Mirror) {
            // No firmware the model boots marks memory as mirrored (EFI_MEMORY_MORE_RELIABLE).
            // (6.1's kernel, which does not check, is refused at parse time as unmodelled.)
            if self.target.kernel.kernelcore_mirror_check {
                self.log("The system has no mirror memory, ignore kernelcore=mirror.");
            }
            return None;
        }
        // unsigned long arithmetic, wrapping as the kernel's does on absurd values.
        let pages = |c: Option<CoreSize>| match c {
            Some(CoreSize::Bytes(b)) => b >> self.u.g.page_shift,
            Some(CoreSize::Percent(p)) => total.wrapping_mul(100).wrapping_mul(p) / 10000,
            _ => 0,
        };
        let mut required_kernelcore = pages(kernelcore);
        let max_order_pages = 1u64 << self.u.g.max_page_order;
        let required_movablecore = pages(movablecore);
        if required_movablecore > 0 {
            let m = (required_movablecore.wrapping_add(max_order_pages - 1)
                & !(max_order_pages - 1))
                .min(total);
            required_kernelcore = required_kernelcore.max(total - m);
        }
        if required_kernelcore == 0 || required_kernelcore >= total {
            return None;
        }
        // find_usable_zone_for_movable(): the highest zone with a possible range.
        let usable_start = ranges.iter().rev().find(|r| r.2 > r.1).map(|r| r.1)?;
        let mut movable_pfn = 0u64;
        let mut remaining = required_kernelcore;
        for &(s, e) in pfn_ranges {
            let mut s = s.max(movable_pfn);
            if s >= e {
                continue;
            }
            if s < usable_start {
                let kernel_pages = e.min(usable_start) - s;
                remaining -= kernel_pages.min(remaining);
                if e <= usable_start {
                    movable_pfn = e;
                    continue;
                }
                s = usable_start;
            }
            let size = (e - s).min(remaining);
            movable_pfn = s + size;
            remaining -= size;
            if remaining == 0 {
                break;
            }
        }
        let node_end = pfn_ranges[pfn_ranges.len() - 1].1;
        let m = movable_pfn.next_multiple_of(max_order_pages);
        (m != 0 && m < node_end).then_some(m)
    }

    /// memblock's boot reservations: the low memory the arch always reserves, and the
    /// memmap and its page tables, taken top-down from the end of memory. They are not
    /// managed pages, and the blocks holding them cannot be offlined.
    fn memblock_reserve_boot(&mut self, pfn_ranges: &[(u64, u64)]) -> Result<()> {
        let g = self.u.g;
        let c = *self.state.vmemmap.counters();
        let mut reserved: Vec<(u64, u64)> = Vec::new();
        let low = self.target.arch().boot_reserved_low() >> g.page_shift;
        for &(s, e) in pfn_ranges {
            if s < low {
                reserved.push((s, e.min(low)));
            }
        }
        // The boot memmap and its page tables come from the top of RAM, above what the
        // arch keeps low: when they do not fit, a real kernel panics in sparse_init().
        let need = c.backing(Origin::Boot) + c.table_bytes_boot.div_ceil(g.page_size);
        let mut left = need;
        for &(s, e) in pfn_ranges.iter().rev() {
            let s = s.max(low);
            if left == 0 || s >= e {
                continue;
            }
            let take = left.min(e - s);
            reserved.push((e - take, e));
            left -= take;
        }
        let total: u64 = pfn_ranges.iter().map(|(s, e)| e - s).sum();
        let taken: u64 = reserved.iter().map(|(s, e)| e - s).sum();
        if left > 0 || taken >= total {
            let low_kept: u64 = pfn_ranges
                .iter()
                .map(|&(s, e)| e.min(low).saturating_sub(s))
                .sum();
            return Err(MmError::Invalid(format!(
                "{} of boot RAM cannot hold its own memmap: the boot memmap and vmemmap page \
                 tables need {} and {} of it is reserved low; boot with more RAM (the model \
                 needs at least {} in these sections)",
                arch::human(total << g.page_shift),
                arch::human(need << g.page_shift),
                arch::human(low_kept << g.page_shift),
                arch::human((need + low_kept + 1) << g.page_shift)
            )));
        }
        // Each zone is charged its part of each reserved range (ZONE_MOVABLE's too: memblock
        // does not keep to kernelcore=).
        self.charge_reserved(&reserved);
        self.boot_reserved = reserved;
        Ok(())
    }

    /// Take memblock-reserved pfn ranges out of the managed pages of the zones they lie in.
    pub(crate) fn charge_reserved(&mut self, reserved: &[(u64, u64)]) {
        for &(rs, re) in reserved {
            for z in &mut self.state.nodes[0].zones {
                let n = re.min(z.end_pfn()).saturating_sub(rs.max(z.zone_start_pfn));
                if z.spanned_pages > 0 && n > 0 {
                    z.managed_pages -= n;
                    z.managed_early_pages -= n;
                }
            }
        }
    }

    fn log_boot_memory(&mut self, pfn_ranges: &[(u64, u64)]) {
        let ps = self.u.g.page_shift;
        let mut lines = vec!["Zone ranges:".to_string()];
        let node = self.state.nodes[0].clone();
        for z in &node.zones {
            if z.ztype == ZoneType::Movable {
                continue;
            }
            if z.spanned_pages == 0 {
                lines.push(format!("  {:<8} empty", z.ztype.name()));
            } else {
                lines.push(format!(
                    "  {:<8} [mem {:#018x}-{:#018x}]",
                    z.ztype.name(),
                    z.zone_start_pfn << ps,
                    (z.end_pfn() << ps) - 1
                ));
            }
        }
        lines.push("Movable zone start for each node".to_string());
        if let Some(m) = self.zone_movable_start {
            lines.push(format!("  Node 0: {:#018x}", m << ps));
        }
        lines.push("Early memory node ranges".to_string());
        for &(s, e) in pfn_ranges {
            lines.push(format!(
                "  node {:>3}: [mem {:#018x}-{:#018x}]",
                0,
                s << ps,
                (e << ps) - 1
            ));
        }
        for l in lines {
            self.log(l);
        }
        let cma = self.cma_reserve(pfn_ranges);
        let present: u64 = self.state.nodes.iter().map(|n| n.present_pages()).sum();
        let managed: u64 = self
            .state
            .nodes
            .iter()
            .flat_map(|n| &n.zones)
            .map(|z| z.managed_pages)
            .sum();
        // K(): pages to kB in unsigned long, wrapping as the kernel's does.
        let k = |p: u64| p.wrapping_shl(ps - 10);
        // mem_init_print_info(): the CMA area is still memblock's, counted apart.
        self.log(format!(
            "Memory: {}K/{}K available (0K kernel code, 0K rwdata, 0K rodata, 0K init, 0K bss, {}K reserved, {}K cma-reserved)",
            k(managed),
            k(present),
            k(present.wrapping_sub(managed).wrapping_sub(cma)),
            k(cma)
        ));
    }

    /// memory_dev_init(): a memory block for every block-sized group of sections with any
    /// present section, online, its zone the one populated zone that intersects it (none if
    /// several do: early_node_zone_for_memory_block()).
    fn memory_dev_init(&mut self) {
        let u = self.u;
        let present: Vec<SectionNr> = self.state.sections.present().map(|(n, _)| n).collect();
        let mut ids: Vec<BlockId> = present.iter().map(|n| u.block_of_section(*n)).collect();
        ids.dedup();
        let ps = u.g.page_shift;
        // Whole pages of RAM, and the reservations, each sorted: the blocks come in
        // order, so each list is walked once (a boot from a long iomem stays linear).
        let mut ram = Overlap::new(
            self.boot
                .ram
                .iter()
                .map(|&(s, e)| (s.div_ceil(u.g.page_size), e / u.g.page_size))
                .collect(),
        );
        let mut reserved = Overlap::new(self.boot_reserved.clone());
        for id in ids {
            let start_pfn = u.block_start(id) >> ps;
            let nr = u.pages_per_block();
            let zones: Vec<ZoneType> = self.state.nodes[0]
                .zones
                .iter()
                .filter(|z| z.populated() && z.intersects(start_pfn, nr))
                .map(|z| z.ztype)
                .collect();
            let zone = if zones.len() == 1 {
                Some(zones[0])
            } else {
                None
            };
            let ram_pages = ram.pages(start_pfn, start_pfn + nr);
            let reserved_pages = reserved.pages(start_pfn, start_pfn + nr);
            self.state.blocks.insert(
                id,
                MemoryBlock {
                    id,
                    state: BlockState::Online,
                    nid: 0,
                    zone,
                    altmap: None,
                    early: true,
                    ram_pages,
                    reserved_pages,
                    fake_offline_pages: 0,
                    unmovable_pages: 0,
                    movable_pages: 0,
                    hugetlb_pages: 0,
                    group: None,
                    inaccessible: false,
                    resource: "System RAM",
                },
            );
        }
    }
}

/// How much of each window `[a, b)`, asked in ascending order, a list of pfn ranges
/// covers: the list is sorted once and walked once.
struct Overlap {
    ranges: Vec<(u64, u64)>,
    next: usize,
}

impl Overlap {
    fn new(mut ranges: Vec<(u64, u64)>) -> Overlap {
        ranges.retain(|(s, e)| s < e);
        ranges.sort_unstable();
        Overlap { ranges, next: 0 }
    }

    fn pages(&mut self, a: u64, b: u64) -> u64 {
        while self.ranges.get(self.next).is_some_and(|&(_, e)| e <= a) {
            self.next += 1;
        }
        self.ranges[self.next..]
            .iter()
            .take_while(|&&(s, _)| s < b)
            .map(|&(s, e)| e.min(b).saturating_sub(s.max(a)))
            .sum()
    }
}

/// x86 `memmap=`: PRAM and reserved ranges are cut out of System RAM (e820__range_update),
/// usable ranges added.
fn apply_memmap_options(iomem: &mut ResourceTree, c: &Cmdline, g: &arch::Geometry) -> Result<()> {
    if c.memmap.is_empty() {
        return Ok(());
    }
    // The top level is sorted and its ranges apart (ResourceTree::parse and the QEMU layouts
    // make it so, and every step below keeps it): keyed by start, each entry looks only at
    // its neighbours, so a command line of many memmap= stays linear.
    let mut top: BTreeMap<u64, Resource> = std::mem::take(&mut iomem.top)
        .into_iter()
        .map(|r| (r.start, r))
        .collect();
    // The resources that overlap [s, end]: the one that starts before s (if it reaches s),
    // and those that start inside.
    let overlapping = |top: &BTreeMap<u64, Resource>, s: u64, last: u64| -> Vec<u64> {
        let before = top
            .range(..s)
            .next_back()
            .filter(|(_, r)| r.end >= s)
            .map(|(k, _)| *k);
        before
            .into_iter()
            .chain(top.range(s..=last).map(|(k, _)| *k))
            .collect()
    };
    for e in &c.memmap {
        // Cmdline::parse refused ranges that wrap.
        let (s, end) = (e.start, e.start.saturating_add(e.size));
        if end > g.physmem_end {
            return Err(MmError::OutOfRange(format!(
                "memmap={:#x}@{s:#x}: ends beyond MAX_PHYSMEM_BITS ({} bits)",
                e.size, g.max_physmem_bits
            )));
        }
        let name = match e.kind {
            MemmapKind::Pmem => "Persistent Memory (legacy)",
            MemmapKind::Reserved => "Reserved",
            MemmapKind::Ram => "System RAM",
        };
        if e.kind != MemmapKind::Ram {
            // Trim System RAM around the range.
            for k in overlapping(&top, s, end - 1) {
                if &*top[&k].name != "System RAM" {
                    continue;
                }
                let Some(r) = top.remove(&k) else { continue };
                if r.start < s {
                    let below = Resource {
                        end: s - 1,
                        children: Vec::new(),
                        ..r.clone()
                    };
                    top.insert(below.start, below);
                }
                if r.end + 1 > end {
                    top.insert(
                        end,
                        Resource {
                            start: end,
                            children: Vec::new(),
                            ..r
                        },
                    );
                }
            }
        }
        if !overlapping(&top, s, end - 1).is_empty() {
            iomem.top = top.into_values().collect();
            return Err(MmError::Invalid(format!(
                "memmap={:#x}@{s:#x}: overlaps another firmware range",
                e.size
            )));
        }
        top.insert(s, Resource::new(s, end - 1, name));
    }
    iomem.top = top.into_values().collect();
    Ok(())
}

/// `mem=`: keep RAM below an address (x86) or the first `limit` bytes of RAM.
fn apply_mem_limit(ram: Vec<(u64, u64)>, limit: u64, is_address: bool) -> Vec<(u64, u64)> {
    let mut out = Vec::new();
    let mut left = limit;
    for (s, e) in ram {
        if is_address {
            if s < limit {
                out.push((s, e.min(limit)));
            }
        } else if left > 0 {
            let take = (e - s).min(left);
            out.push((s, s + take));
            left -= take;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mem_limits() {
        let ram = vec![
            (0x1000, 0x9f000),
            (0x100000, 0x8000_0000),
            (0x1_0000_0000, 0x1_8000_0000),
        ];
        assert_eq!(
            apply_mem_limit(ram.clone(), 0x4000_0000, true),
            vec![(0x1000, 0x9f000), (0x100000, 0x4000_0000)]
        );
        let arm = vec![(0x4000_0000, 0xc000_0000)];
        assert_eq!(
            apply_mem_limit(arm, 0x4000_0000, false),
            vec![(0x4000_0000, 0x8000_0000)]
        );
    }
}
