//! Hot-add and hot-remove (mm/memory_hotplug.c: add_memory, add_memory_resource,
//! mhp_supports_memmap_on_memory, create_altmaps_and_memory_blocks, try_remove_memory).

use crate::altmap::VmemAltmap;
use crate::cmdline::{MemmapMode, OnlineType};
use crate::error::{MmError, Result};
use crate::machine::{Footprint, Machine};
use crate::memory_block::{BlockAltmap, BlockState, MemoryBlock};
use crate::section::SectionUsage;
use crate::sparse::AltmapArg;
use crate::units::{BlockId, SectionNr};
use crate::vmemmap::Origin;
use std::collections::BTreeMap;

/// Options of one add_memory() call.
#[derive(Debug, Clone, Default)]
pub struct AddOptions {
    /// Ask for MHP_MEMMAP_ON_MEMORY (default: what the arch's hotplug driver asks for).
    pub memmap_on_memory: Option<bool>,
    /// The node (default 0).
    pub node: Option<u16>,
    /// A driver-managed resource name, "System RAM (driver)"; default "System RAM".
    pub resource_name: Option<&'static str>,
    /// MHP_MERGE_RESOURCE: merge the resource with its System RAM neighbours.
    pub merge_resource: bool,
    /// Add into this memory group (MHP_NID_IS_MGID) instead of the driver's default.
    pub group: Option<u32>,
    /// Bytes from the start of the range the driver has plugged; the rest of each block
    /// stays fake-offline when it is onlined (virtio-mem's online_page_callback gives the
    /// buddy only plugged pages). None: all of it.
    pub plugged: Option<u64>,
}

/// Memory blocks whose memmaps one populate or free call takes at most, when a
/// memmap_on_memory range goes a run of blocks at a time (it bounds the altmaps held).
const ALTMAP_RUN: u64 = 2048;

/// What an add did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddReport {
    pub start: u64,
    pub size: u64,
    pub node: u16,
    pub blocks: Vec<BlockId>,
    /// Whether each block carries its memmap on an altmap.
    pub memmap_on_memory: bool,
    /// Why memmap_on_memory was not used, when it was asked for.
    pub memmap_on_memory_refused: Option<String>,
    /// Memmap pages this add populated, by origin (buddy, altmap).
    pub memmap_buddy_pages: u64,
    pub memmap_altmap_pages: u64,
    /// vmemmap page-table pages this add allocated.
    pub pagetable_pages: u64,
    /// Blocks onlined right away (auto_online_blocks or the driver), with their zone.
    pub onlined: Vec<(BlockId, String)>,
}

/// A memory group (drivers/base/memory.c struct memory_group).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MemoryGroup {
    pub id: u32,
    pub nid: u16,
    /// Dynamic groups (virtio-mem) grow and shrink in `unit_pages`; static ones (ACPI DIMMs)
    /// have `max_pages`.
    pub dynamic: bool,
    pub max_pages: u64,
    pub unit_pages: u64,
    pub present_kernel_pages: u64,
    pub present_movable_pages: u64,
}

impl Machine {
    /// memory_block_memmap_size(): bytes of struct pages for one memory block.
    pub fn memory_block_memmap_size(&self) -> u64 {
        self.u.pages_per_block() * self.u.g.struct_page_size
    }

    /// memory_block_memmap_on_memory_pages(): pages one block's memmap takes from the block
    /// itself, rounded up to a pageblock in `force` mode.
    pub fn memory_block_memmap_on_memory_pages(&self) -> u64 {
        let pages = self.u.g.pfn_up(self.memory_block_memmap_size());
        if self.cmdline.memmap_on_memory == MemmapMode::Force {
            pages.next_multiple_of(self.u.g.pageblock_nr_pages)
        } else {
            pages
        }
    }

    /// Pages `force` wastes in each block: "Memory hotplug will waste %ld pages in each
    /// memory block".
    pub fn memmap_on_memory_waste(&self) -> u64 {
        self.memory_block_memmap_on_memory_pages()
            - self.u.g.pfn_up(self.memory_block_memmap_size())
    }

    /// mhp_supports_memmap_on_memory(), with the reason when it says no.
    pub fn mhp_supports_memmap_on_memory(&self) -> std::result::Result<(), String> {
        let g = &self.u.g;
        if !self.arch.memmap_on_memory_enable() {
            return Err(format!(
                "{} does not select ARCH_MHP_MEMMAP_ON_MEMORY_ENABLE",
                self.arch.name()
            ));
        }
        if self.cmdline.memmap_on_memory == MemmapMode::Disable {
            return Err(
                "memory_hotplug.memmap_on_memory is off (set it to 1 or force on the kernel \
                        command line)"
                    .to_string(),
            );
        }
        let size = self.memory_block_memmap_size();
        let pages = self.memory_block_memmap_on_memory_pages();
        if !size.is_multiple_of(g.page_size) {
            return Err(format!(
                "the block's vmemmap ({size} bytes) is not a whole number of {}-byte pages",
                g.page_size
            ));
        }
        if !pages.is_multiple_of(g.pageblock_nr_pages) {
            let rounded = pages.next_multiple_of(g.pageblock_nr_pages);
            let hint = if rounded >= self.u.pages_per_block() {
                "; rounded up to a pageblock (memory_hotplug.memmap_on_memory=force) they would fill the \
                 whole block, so force does not help"
                    .to_string()
            } else if let Err(why) = self.arch.arch_supports_memmap_on_memory(size) {
                format!("; with force they would be rounded up to {rounded}, but the arch still refuses: {why}")
            } else {
                format!(
                    "; memory_hotplug.memmap_on_memory=force rounds them up to {rounded}, wasting {} pages per block",
                    rounded - pages
                )
            };
            return Err(format!(
                "the block's {pages} vmemmap pages are not a multiple of pageblock_nr_pages ({}){hint}",
                g.pageblock_nr_pages
            ));
        }
        if pages == self.u.pages_per_block() {
            return Err("the vmemmap would fill the whole memory block".to_string());
        }
        self.arch.arch_supports_memmap_on_memory(size)
    }

    /// mhp_get_pluggable_range(true): what a hot-add may cover.
    pub fn pluggable_range(&self) -> (u64, u64) {
        let dram_start = self.boot.ram.first().map_or(0, |r| r.0);
        (
            0,
            self.arch.mappable_end(dram_start).min(self.u.g.physmem_end),
        )
    }

    /// add_memory(): hot-add `[start, start + size)` as System RAM.
    pub fn add_memory(&mut self, start: u64, size: u64, opts: &AddOptions) -> Result<AddReport> {
        let end = start
            .checked_add(size)
            .filter(|_| size > 0)
            .ok_or_else(|| {
                MmError::Invalid(format!("bad range: start {start:#x}, size {size:#x}"))
            })?;
        let fp = Footprint {
            start_pfn: start >> self.u.g.page_shift,
            end_pfn: end.div_ceil(self.u.g.page_size),
        };
        let (lo, hi) = self.pluggable_range();
        if start < lo || end - 1 > hi {
            self.log(format!(
                "Hotplug memory [{start:#x}-{end:#x}] exceeds maximum addressable range [{lo:#x}-{hi:#x}]"
            ));
            return Err(MmError::TooBig(format!(
                "[{start:#x}-{end:#x}] exceeds the maximum addressable range [{lo:#x}-{hi:#x}]"
            )));
        }
        let run = |m: &mut Machine| m.transaction(fp, |m| m.add_memory_locked(start, size, opts));
        run(self).map_err(|e| {
            let instead = if self.arch.memmap_on_memory_enable() {
                "memmap_on_memory=1 would take them from the added memory, or add less at once"
            } else {
                "add less at once, or boot with more RAM"
            };
            let what = format!("adding {}", arch::approx(size));
            self.explain_short(e, &what, instead, run)
        })
    }

    fn add_memory_locked(&mut self, start: u64, size: u64, opts: &AddOptions) -> Result<AddReport> {
        let name = opts.resource_name.unwrap_or("System RAM");
        if name != "System RAM" && !(name.starts_with("System RAM (") && name.ends_with(')')) {
            return Err(MmError::Invalid(format!(
                "resource name \"{name}\" is not \"System RAM (driver)\""
            )));
        }
        // A virtio-mem device's region is device memory only its driver adds.
        if name != "System RAM (virtio_mem)" {
            if let Some(d) = self.virtio_mem_region_at(start, size) {
                return Err(MmError::Busy(format!(
                    "[{start:#x}-{:#x}] lies in virtio-mem device {}'s region [{:#x}-{:#x}]",
                    start + size - 1,
                    d.id,
                    d.start,
                    d.start + d.region_size - 1
                )));
            }
        }
        // register_memory_resource()
        self.state.iomem.request(start, size, name)?;
        // add_memory_resource()
        let bs = self.u.block_size;
        if !start.is_multiple_of(bs) || !size.is_multiple_of(bs) {
            self.log(format!(
                "Block size [{bs:#x}] unaligned hotplug range: start {start:#x}, size {size:#x}"
            ));
            return Err(MmError::Invalid(format!(
                "Block size [{bs:#x}] unaligned hotplug range: start {start:#x}, size {size:#x}"
            )));
        }
        let driver = self.arch.hotplug_driver();
        let mut nid = opts.node.unwrap_or(0);
        let group = match opts.group {
            Some(g) => {
                let grp = self
                    .state
                    .groups
                    .get(&g)
                    .ok_or_else(|| MmError::Invalid(format!("no memory group {g}")))?;
                nid = grp.nid;
                Some(g)
            }
            None => None,
        };
        if nid >= self.boot.nr_nodes {
            self.log(format!(
                "WARNING: node {nid} was absent from the node_possible_map"
            ));
            return Err(MmError::Invalid(format!(
                "node {nid} was absent from the node_possible_map ({})",
                match self.boot.nr_nodes {
                    1 => "only node 0 is possible".to_string(),
                    n => format!("nodes 0-{} are possible", n - 1),
                }
            )));
        }
        let group = match group {
            Some(g) => Some(g),
            None if driver.static_memory_group => {
                Some(self.register_static_group(nid, size >> self.u.g.page_shift))
            }
            None => None,
        };
        let new_node = !self.state.nodes[nid as usize].online;
        let requested = opts
            .memmap_on_memory
            .unwrap_or(driver.requests_memmap_on_memory);
        let supported = self.mhp_supports_memmap_on_memory();
        let mut use_altmap = requested && supported.is_ok();
        let mut refused = if requested { supported.err() } else { None };
        // The seeds' designs put the memmap of every hot-add on the range itself, with one
        // altmap for all of it, unless the arch vetoes it.
        // A caller that says no (virtio-mem, kmem without the device attribute) does not set
        // the flag these designs act on.
        let placement = if opts.memmap_on_memory == Some(false) {
            crate::design::HotaddMemmap::PerBlock
        } else {
            self.design.hotadd_memmap(driver.offline_inaccessible)
        };
        let whole_range = placement == crate::design::HotaddMemmap::WholeRange;
        if let crate::design::HotaddMemmap::Vetoed(why) = placement {
            use_altmap = false;
            refused = Some(why);
        } else if whole_range {
            use_altmap = true;
            refused = None;
        }
        let before = (self.state.vmstat, self.state.vmemmap.table_pages());
        let start_pfn = start >> self.u.g.page_shift;
        let nr_pages = size >> self.u.g.page_shift;
        let mut blocks = Vec::new();
        if whole_range {
            self.check_no_deferred_memmap(start_pfn, nr_pages)?;
            blocks = self.add_whole_range(nid, start_pfn, nr_pages, group, name)?;
        } else if use_altmap {
            // create_altmaps_and_memory_blocks(): one altmap and one arch_add_memory() per block.
            let per_block = self.u.pages_per_block();
            let memmap_pages = self.memory_block_memmap_on_memory_pages();
            let altmap_of = |pfn: u64| VmemAltmap {
                base_pfn: pfn,
                end_pfn: pfn + per_block - 1,
                free: memmap_pages,
                inaccessible: driver.offline_inaccessible,
                ..VmemAltmap::default()
            };
            if self.altmap_run_ok(start_pfn, nr_pages) {
                // The same, through one __add_pages() per run of blocks (see `altmap_run_ok`).
                let end_pfn = start_pfn + nr_pages;
                let mut altmaps = Vec::with_capacity(ALTMAP_RUN as usize);
                let mut pfn = start_pfn;
                while pfn < end_pfn {
                    let n = (end_pfn - pfn).min(ALTMAP_RUN * per_block);
                    altmaps.clear();
                    altmaps.extend((pfn..pfn + n).step_by(per_block as usize).map(altmap_of));
                    let arg = AltmapArg {
                        altmaps: &mut altmaps,
                        origin: Origin::Altmap,
                    };
                    self.add_pages(nid, pfn, n, Some(arg), None)?;
                    blocks.extend(self.create_memory_blocks(
                        pfn,
                        n,
                        Some(&altmaps),
                        group,
                        nid,
                        name,
                        driver.offline_inaccessible,
                    )?);
                    pfn += n;
                }
            } else {
                let mut pfn = start_pfn;
                while pfn < start_pfn + nr_pages {
                    let mut altmap = altmap_of(pfn);
                    let arg = AltmapArg::one(&mut altmap, Origin::Altmap);
                    self.add_pages(nid, pfn, per_block, Some(arg), None)?;
                    blocks.extend(self.create_memory_blocks(
                        pfn,
                        per_block,
                        Some(std::slice::from_ref(&altmap)),
                        group,
                        nid,
                        name,
                        driver.offline_inaccessible,
                    )?);
                    pfn += per_block;
                }
            }
        } else {
            self.add_pages(nid, start_pfn, nr_pages, None, None)?;
            blocks =
                self.create_memory_blocks(start_pfn, nr_pages, None, group, nid, name, false)?;
        }
        if let Some(plugged) = opts.plugged {
            let mut left = plugged;
            for &b in &blocks {
                let here = left.min(bs);
                left -= here;
                self.block_mut(b)?.fake_offline_pages = (bs - here) >> self.u.g.page_shift;
            }
        }
        if new_node {
            self.state.nodes[nid as usize].online = true;
        }
        if opts.merge_resource {
            self.state.iomem.merge_system_ram(start);
        }
        let mut report = AddReport {
            start,
            size,
            node: nid,
            blocks: blocks.clone(),
            memmap_on_memory: use_altmap,
            memmap_on_memory_refused: refused,
            memmap_buddy_pages: self.state.vmstat.memmap_buddy - before.0.memmap_buddy,
            memmap_altmap_pages: self.state.vmstat.memmap_altmap - before.0.memmap_altmap,
            pagetable_pages: self.state.vmemmap.table_pages().saturating_sub(before.1),
            onlined: Vec::new(),
        };
        // Online the new blocks if auto_online_blocks says so (failures are ignored, as
        // add_memory_resource() ignores them), or if the driver onlines them itself (pseries
        // DLPAR, which takes the add back when that fails).
        let auto = self.state.settings.default_online;
        // Driver-managed memory (virtio-mem, kmem) is not the platform's hot-add driver's:
        // pseries DLPAR's onlining does not apply to it.
        let driver_onlines = driver.onlines_added_blocks && opts.resource_name.is_none();
        self.wmark_batch(|m| {
            if auto == OnlineType::OnlineMovable && m.movable_run_ok(&blocks, BlockState::Offline) {
                for (id, z) in m.online_movable_run(&blocks) {
                    report.onlined.push((id, z.name().to_string()));
                }
                return Ok(());
            }
            for id in blocks {
                let t = if auto != OnlineType::Offline {
                    auto
                } else if driver_onlines {
                    OnlineType::Online
                } else {
                    continue;
                };
                match m.memory_block_online(id, t) {
                    Ok(z) => report.onlined.push((id, z.name().to_string())),
                    Err(e) if driver_onlines => {
                        m.log(format!(
                            "Failed to online LMB at {:#x} on node {nid}",
                            m.u.block_start(id)
                        ));
                        return Err(e);
                    }
                    Err(_) => {}
                }
            }
            Ok(())
        })?;
        Ok(report)
    }

    /// memory_group_register_static().
    /// memory_group_register_dynamic(): a group that grows and shrinks in `unit_pages`.
    pub(crate) fn register_dynamic_group(&mut self, nid: u16, unit_pages: u64) -> u32 {
        let id = self.state.groups.keys().next_back().map_or(0, |k| k + 1);
        self.state.groups.insert(
            id,
            MemoryGroup {
                id,
                nid,
                dynamic: true,
                max_pages: 0,
                unit_pages,
                present_kernel_pages: 0,
                present_movable_pages: 0,
            },
        );
        id
    }

    pub(crate) fn register_static_group(&mut self, nid: u16, max_pages: u64) -> u32 {
        let id = self.state.groups.keys().next_back().map_or(0, |k| k + 1);
        self.state.groups.insert(
            id,
            MemoryGroup {
                id,
                nid,
                dynamic: false,
                max_pages,
                unit_pages: 0,
                present_kernel_pages: 0,
                present_movable_pages: 0,
            },
        );
        id
    }

    /// Make every range operation go one memory block at a time, as the kernel does:
    /// init_per_zone_wmark_min() in full after each block (see `set_wmark_eager`) and one
    /// memmap populate and free per memmap_on_memory block. The reference that tests compare
    /// the range shortcuts against; results and states must not differ.
    #[doc(hidden)]
    pub fn set_per_block_reference(&mut self, on: bool) {
        self.set_wmark_eager(on);
        self.per_block_reference = on;
    }

    /// Whether a memmap_on_memory add of `[start_pfn, start_pfn + nr_pages)` may populate
    /// its blocks through one __add_pages() with one altmap per block, instead of one
    /// arch_add_memory() per block, and end in the same state with the same error: the
    /// shortcut is on, the range is more than one block, no block of it exists (so the
    /// blocks are created without error after the memmap, in either order), and each block's
    /// memmap is a whole number of PMDs, so that every PMD leaf and vmemmap page describes
    /// pfns of one block only and comes from that block's altmap. Failures inside the run
    /// (page tables, armed faults) happen PMD by PMD in the kernel's order, and name the
    /// block whose memmap was being populated.
    fn altmap_run_ok(&self, start_pfn: u64, nr_pages: u64) -> bool {
        let u = &self.u;
        let per_block = u.pages_per_block();
        let first = u.block_of_phys(start_pfn << u.g.page_shift);
        let n = nr_pages / per_block;
        !self.per_block_reference
            && n > 1
            && (per_block * u.g.struct_page_size).is_multiple_of(u.g.pmd_size)
            && self
                .state
                .blocks
                .range(first..BlockId(first.0 + n))
                .next()
                .is_none()
    }

    /// Whether removing these consecutive memmap_on_memory blocks may free their memmaps
    /// through one __remove_pages() with one altmap per block, instead of one
    /// arch_remove_memory() per block, and end in the same state with the same messages: the
    /// shortcut is on, there is more than one block (each carries an altmap spanning exactly
    /// the block, as [`MemoryBlock::vmem_altmap`] gives it), each block's memmap is a whole
    /// number of PMDs (so no PMD leaf or vmemmap page is shared between blocks, and each goes
    /// back to the altmap it came from), and every section is valid and wholly active (so no
    /// section warns, and the warnings about altmaps come last in either order).
    fn altmap_run_removable(&self, first: BlockId, n: u64) -> bool {
        let u = &self.u;
        let per_block = u.pages_per_block();
        let s0 = u.block_first_section(first).0;
        let s1 = s0 + n * u.sections_per_block;
        if self.per_block_reference || n < 2 {
            return false;
        }
        let full = SectionUsage::mask(0, u.g.pages_per_section / u.g.pages_per_subsection - 1);
        let mut sections = 0;
        let active = self
            .state
            .sections
            .iter_range(SectionNr(s0), SectionNr(s1))
            .all(|(_, ms)| {
                sections += 1;
                ms.valid() && ms.usage.is_some_and(|us| us.contains_all(&full))
            });
        (per_block * u.g.struct_page_size).is_multiple_of(u.g.pmd_size)
            && active
            && sections == s1 - s0
    }

    /// create_memory_block_devices(): offline blocks for `[start_pfn, start_pfn + nr_pages)`,
    /// each carrying its altmap from `altmaps` (one per block, in order) if given.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn create_memory_blocks(
        &mut self,
        start_pfn: u64,
        nr_pages: u64,
        altmaps: Option<&[VmemAltmap]>,
        group: Option<u32>,
        nid: u16,
        resource: &'static str,
        inaccessible: bool,
    ) -> Result<Vec<BlockId>> {
        let u = self.u;
        let first = u.block_of_phys(start_pfn << u.g.page_shift);
        let n = nr_pages / u.pages_per_block();
        let ids: Vec<BlockId> = (0..n).map(|i| BlockId(first.0 + i)).collect();
        if let Some(id) = ids.iter().find(|id| self.state.blocks.contains_key(id)) {
            return Err(MmError::Exists(format!(
                "memory block {} already exists",
                id.0
            )));
        }
        for (i, &id) in ids.iter().enumerate() {
            let altmap = altmaps.and_then(|a| a.get(i)).map(BlockAltmap::of);
            self.state.blocks.insert(
                id,
                MemoryBlock {
                    id,
                    state: BlockState::Offline,
                    nid,
                    zone: None,
                    altmap,
                    early: false,
                    ram_pages: u.pages_per_block(),
                    reserved_pages: 0,
                    fake_offline_pages: 0,
                    unmovable_pages: 0,
                    movable_pages: 0,
                    hugetlb_pages: 0,
                    group,
                    inaccessible,
                    resource,
                },
            );
        }
        Ok(ids)
    }

    /// remove_memory() / try_remove_memory(): every block must be offline; blocks with their
    /// memmap on an altmap are removed one at a time.
    /// Every check comes first; what follows cannot fail.
    pub fn remove_memory(&mut self, start: u64, size: u64) -> Result<()> {
        // Memory a virtio-mem device plugged goes only when the device unplugs it.
        if let Some(d) = self.virtio_mem_region_at(start, size) {
            return Err(MmError::Busy(format!(
                "[{start:#x}-{:#x}] lies in virtio-mem device {}'s region: ask the device for \
                 less (virtio_mem_resize) to unplug it",
                start.saturating_add(size.saturating_sub(1)),
                d.id
            )));
        }
        self.remove_memory_locked(start, size)
    }

    /// remove_memory() for a caller that owns the memory (a driver, or the user for DIMMs).
    pub(crate) fn remove_memory_locked(&mut self, start: u64, size: u64) -> Result<()> {
        let bs = self.u.block_size;
        let end = start.checked_add(size).filter(|_| size > 0);
        if end.is_none() || !start.is_multiple_of(bs) || !size.is_multiple_of(bs) {
            return Err(MmError::Invalid(format!(
                "Block size [{bs:#x}] unaligned hotplug range: start {start:#x}, size {size:#x}"
            )));
        }
        let first = self.u.block_of_phys(start);
        let n = size / bs;
        let ids: Vec<BlockId> = (0..n).map(|i| BlockId(first.0 + i)).collect();
        let in_range = first..BlockId(first.0 + n);
        // What the kernel's callers guarantee: the range was hot-added.
        let missing = |id: u64| {
            MmError::Invalid(format!(
                "memory{id} does not exist: [{start:#x}-{:#x}] was not added",
                start + size - 1
            ))
        };
        // One pass finds the first block missing or from boot, the first one online (checked
        // after: check_memblock_offlined_cb()), how many carry an altmap, and their groups.
        let mut expect = first.0;
        let (mut not_added, mut onlined) = (None, None);
        let (mut with_altmap, mut groups) = (0u64, Vec::new());
        for (id, b) in self.state.blocks.range(in_range) {
            if not_added.is_some() {
                break;
            }
            if id.0 != expect {
                not_added = Some(missing(expect));
                break;
            }
            if b.early {
                not_added = Some(MmError::Invalid(format!(
                    "memory{} is boot memory: early sections are never removed (no memory device \
                     owns them)",
                    id.0
                )));
            }
            if b.state != BlockState::Offline && onlined.is_none() {
                onlined = Some(*id);
            }
            with_altmap += u64::from(b.altmap.is_some());
            if let Some(g) = b.group {
                if groups.last() != Some(&g) {
                    groups.push(g);
                }
            }
            expect += 1;
        }
        if not_added.is_none() && expect != first.0 + n {
            not_added = Some(missing(expect));
        }
        if let Some(e) = not_added {
            return Err(e);
        }
        if let Some(id) = onlined {
            let s = self.u.block_start(id);
            self.log(format!(
                "removing memory fails, because memory [{s:#018x}-{:#018x}] is onlined",
                s + bs - 1
            ));
            return Err(MmError::Busy(format!(
                "removing memory fails, because memory [{s:#018x}-{:#018x}] is onlined",
                s + bs - 1
            )));
        }
        // The seeds' designs: one altmap for a whole hot-added range, which is not any
        // block's own.
        let ps = self.u.g.page_shift;
        let whole_range = self.whole_range_remove_check(start >> ps, size >> ps)?;
        // memory_blocks_have_altmaps()
        let per_block = self.u.pages_per_block();
        if whole_range.is_some() {
            with_altmap = 0;
        }
        let altmaps = self.cmdline.memmap_on_memory != MemmapMode::Disable && with_altmap > 0;
        if altmaps && with_altmap != n {
            self.log("WARNING: memory_blocks_have_altmaps: only some memory blocks have altmaps");
            return Err(MmError::Invalid(format!(
                "{with_altmap} of the {n} memory blocks in the range carry their memmap on an altmap; \
                 the rest do not"
            )));
        }
        self.state.iomem.check_release_ram(start, size)?;
        let nid = self.state.blocks[&first].nid;
        groups.sort_unstable();
        groups.dedup();
        if let Some(key) = whole_range {
            for id in &ids {
                self.state.blocks.remove(id);
            }
            self.remove_whole_range(key, start >> ps, size >> ps);
        } else if altmaps && self.altmap_run_removable(first, n) {
            // The same, through one __remove_pages() per run of blocks (see
            // `altmap_run_removable`).
            let mut alts = Vec::with_capacity(ALTMAP_RUN as usize);
            for run in ids.chunks(ALTMAP_RUN as usize) {
                alts.clear();
                for id in run {
                    alts.extend(
                        self.state
                            .blocks
                            .remove(id)
                            .and_then(|b| b.vmem_altmap(per_block)),
                    );
                }
                let pfn = self.u.block_start(run[0]) >> ps;
                self.remove_pages(pfn, run.len() as u64 * per_block, Some(&mut alts), None);
                for a in &alts {
                    if a.alloc != 0 {
                        self.log("WARNING: Altmap not fully unmapped");
                    }
                }
            }
        } else if altmaps {
            for &id in &ids {
                let Some(mut altmap) = self
                    .state
                    .blocks
                    .remove(&id)
                    .and_then(|b| b.vmem_altmap(per_block))
                else {
                    continue;
                };
                let bstart = self.u.block_start(id) >> ps;
                self.remove_pages(
                    bstart,
                    self.u.pages_per_block(),
                    Some(std::slice::from_mut(&mut altmap)),
                    None,
                );
                if altmap.alloc != 0 {
                    self.log("WARNING: Altmap not fully unmapped");
                }
            }
        } else {
            for id in &ids {
                self.state.blocks.remove(id);
            }
            self.remove_pages(start >> ps, size >> ps, None, None);
        }
        // Checked by check_release_ram() above, with nothing in between touching iomem.
        self.state.iomem.release_ram(start, size)?;
        // memory_group_unregister() once the device's blocks are gone.
        if !groups.is_empty() {
            let still: std::collections::BTreeSet<u32> =
                self.state.blocks.values().filter_map(|b| b.group).collect();
            // A dynamic group (virtio-mem) lives as long as its device, not its blocks.
            let dynamic = |g: &u32| self.state.groups.get(g).is_some_and(|x| x.dynamic);
            let gone: Vec<u32> = groups
                .into_iter()
                .filter(|g| !still.contains(g) && !dynamic(g))
                .collect();
            for g in gone {
                self.state.groups.remove(&g);
            }
        }
        // A kmem device whose memory is all gone (offline + remove, as daxctl does) is gone.
        let u = self.u;
        let blocks = &self.state.blocks;
        self.state.kmem.retain(|_, k| {
            let (a, b) = (u.block_of_phys(k.start), u.block_of_phys(k.start + k.size));
            blocks.range(a..b).next().is_some()
        });
        self.try_offline_node(nid);
        Ok(())
    }

    /// __remove_pages(): sparse_remove_section() for each section of the range. The
    /// vmemmap_free() calls of consecutive sections are joined (see `MemmapFree`).
    pub(crate) fn remove_pages(
        &mut self,
        start_pfn: u64,
        nr_pages: u64,
        mut altmap: Option<&mut [VmemAltmap]>,
        compound: Option<crate::sparse::Compound>,
    ) {
        let g = self.u.g;
        let end = start_pfn + nr_pages;
        let mut pfn = start_pfn;
        let mut pending: Option<crate::sparse::MemmapFree> = None;
        while pfn < end {
            let next = end.min((pfn + 1).next_multiple_of(g.pages_per_section));
            let free = self.section_deactivate(pfn, next - pfn, altmap.is_some(), compound);
            if let Some(f) = free {
                let joined = pending.as_mut().is_some_and(|p| p.join(&f));
                if !joined {
                    if let Some(p) = pending.replace(f) {
                        self.run_memmap_free(p, altmap.as_deref_mut());
                    }
                }
            }
            pfn = next;
        }
        if let Some(p) = pending {
            self.run_memmap_free(p, altmap);
        }
    }

    fn run_memmap_free(&mut self, f: crate::sparse::MemmapFree, altmap: Option<&mut [VmemAltmap]>) {
        let altmap = if f.altmap { altmap } else { None };
        self.vmemmap_free(f.nid, f.start, f.end, altmap, f.zone);
    }

    /// try_offline_node(): a node with no memory left goes offline.
    fn try_offline_node(&mut self, nid: u16) {
        if nid == 0 {
            return;
        }
        let node = &self.state.nodes[nid as usize];
        if node.node_spanned_pages != 0 || self.state.blocks.values().any(|b| b.nid == nid) {
            return;
        }
        let present = self.state.sections.present().any(|(_, s)| s.nid == nid);
        if !present {
            self.state.nodes[nid as usize].online = false;
        }
    }

    /// Sections of a block, for views.
    pub fn block_sections(&self, id: BlockId) -> std::ops::Range<u64> {
        let s = self.u.block_first_section(id).0;
        s..s + self.u.sections_per_block
    }

    pub fn groups(&self) -> &BTreeMap<u32, MemoryGroup> {
        &self.state.groups
    }

    /// The first section of a block, typed.
    pub fn block_first_section(&self, id: BlockId) -> SectionNr {
        self.u.block_first_section(id)
    }
}
