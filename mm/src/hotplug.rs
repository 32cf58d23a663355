//! Hot-add and hot-remove (mm/memory_hotplug.c: add_memory, add_memory_resource,
//! mhp_supports_memmap_on_memory, create_altmaps_and_memory_blocks, try_remove_memory).

use crate::altmap::VmemAltmap;
use crate::cmdline::{MemmapMode, OnlineType};
use crate::error::{MmError, Result};
use crate::machine::Machine;
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
    /// The platform driver adding it (`plug`), whose flags and habits apply: DLPAR onlines
    /// each LMB, ACPI registers a static memory group, SCLP standby memory is inaccessible
    /// while offline. None: a driver calling add_memory() itself.
    pub platform: Option<arch::PlatformDriver>,
    /// Bytes from the start of the range the driver has plugged; the rest of each block
    /// stays fake-offline when it is onlined (virtio-mem's online_page_callback gives the
    /// buddy only plugged pages). None: all of it.
    pub plugged: Option<u64>,
    /// How to online the new blocks instead of auto_online_blocks (7.x's
    /// __add_memory_driver_managed() takes it: dax/kmem passes its state file's type).
    pub online_type: Option<OnlineType>,
}

/// Memory blocks whose memmaps one populate or free call takes at most, when a
/// memmap_on_memory range goes a run of blocks at a time (it bounds the altmaps held).
const ALTMAP_RUN: u64 = 2048;

/// Where one add's memmap comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Memmap {
    /// The buddy allocator (struct pages in existing RAM).
    Buddy,
    /// MHP_MEMMAP_ON_MEMORY: each block's own altmap.
    PerBlockAltmap,
    /// The seeds' designs: one altmap for the whole range.
    WholeRange,
}

/// [`Memmap`] and, when memmap_on_memory was asked for and not used, why.
struct Placement {
    how: Memmap,
    refused: Option<String>,
}

/// What try_remove_memory()'s walk found in the range.
struct RemovedBlocks {
    /// Blocks carrying their memmap on an altmap.
    with_altmap: u64,
    /// Their memory groups, sorted.
    groups: Vec<u32>,
}

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

impl AddReport {
    /// Fold in the report of the next add of the same request (an LMB or a block at a time).
    pub(crate) fn absorb(&mut self, r: AddReport) {
        self.size += r.size;
        self.blocks.extend(r.blocks);
        self.memmap_buddy_pages += r.memmap_buddy_pages;
        self.memmap_altmap_pages += r.memmap_altmap_pages;
        self.pagetable_pages += r.pagetable_pages;
        self.onlined.extend(r.onlined);
        self.memmap_on_memory &= r.memmap_on_memory;
        if self.memmap_on_memory_refused.is_none() {
            self.memmap_on_memory_refused = r.memmap_on_memory_refused;
        }
    }
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
        if !self
            .target
            .arch()
            .memmap_on_memory_enable(self.target.kernel)
        {
            return Err(format!(
                "{} does not select ARCH_MHP_MEMMAP_ON_MEMORY_ENABLE in Linux {}",
                self.target.name(),
                self.target.kernel
            ));
        }
        if self.cmdline.memmap_on_memory == MemmapMode::Disable {
            return Err(if self.target.kernel.memmap_on_memory_force {
                "memory_hotplug.memmap_on_memory is off (set it to 1 or force on the kernel \
                 command line)"
                    .to_string()
            } else {
                let forced = self.cmdline.text.split_whitespace().any(|a| {
                    a.replace('-', "_")
                        .eq_ignore_ascii_case("memory_hotplug.memmap_on_memory=force")
                });
                if forced {
                    format!(
                        "memory_hotplug.memmap_on_memory is off: Linux {}'s parameter is a bool, \
                         which reads \"force\" as off (set it to 1)",
                        self.target.kernel
                    )
                } else {
                    "memory_hotplug.memmap_on_memory is off (set it to 1 on the kernel command \
                     line)"
                        .to_string()
                }
            });
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
            let hint = if !self.target.kernel.memmap_on_memory_force {
                String::new()
            } else if rounded >= self.u.pages_per_block() {
                "; rounded up to a pageblock (memory_hotplug.memmap_on_memory=force) they would fill the \
                 whole block, so force does not help"
                    .to_string()
            } else if let Err(why) = self
                .target
                .arch()
                .arch_supports_memmap_on_memory(&self.target, size)
            {
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
        self.target
            .arch()
            .arch_supports_memmap_on_memory(&self.target, size)
    }

    /// mhp_get_pluggable_range(true): what a hot-add may cover.
    pub fn pluggable_range(&self) -> (u64, u64) {
        let dram_start = self.boot.ram.first().map_or(0, |r| r.0);
        (
            0,
            self.target
                .arch()
                .mappable_end(&self.target, dram_start)
                .min(self.u.g.physmem_end),
        )
    }

    /// add_memory(): hot-add `[start, start + size)` as System RAM.
    pub fn add_memory(&mut self, start: u64, size: u64, opts: &AddOptions) -> Result<AddReport> {
        // The platform drivers that add a block at a time (pseries DLPAR, s390 standby
        // memory) are `plug` (see platform.rs and dlpar.rs); this is add_memory() itself.
        self.add_memory_platform(start, size, |m| m.add_memory_locked(start, size, opts))
    }

    /// Run `add` (one add_memory() call, or a driver's run of them) for `[start, start +
    /// size)` as a transaction, after the check every add makes of the range, and explain
    /// a shortage of memory for the memmap as a whole.
    pub(crate) fn add_memory_platform(
        &mut self,
        start: u64,
        size: u64,
        add: impl Fn(&mut Machine) -> Result<AddReport>,
    ) -> Result<AddReport> {
        let end = start
            .checked_add(size)
            .filter(|_| size > 0)
            .ok_or_else(|| {
                MmError::Invalid(format!("bad range: start {start:#x}, size {size:#x}"))
            })?;
        let fp = self.footprint(start, end);
        let (lo, hi) = self.pluggable_range();
        if start < lo || end - 1 > hi {
            self.log(format!(
                "Hotplug memory [{start:#x}-{end:#x}] exceeds maximum addressable range [{lo:#x}-{hi:#x}]"
            ));
            return Err(MmError::TooBig(format!(
                "[{start:#x}-{end:#x}] exceeds the maximum addressable range [{lo:#x}-{hi:#x}]"
            )));
        }
        let run = |m: &mut Machine| m.transaction(fp, &add);
        run(self).map_err(|e| {
            let instead = if self
                .target
                .arch()
                .memmap_on_memory_enable(self.target.kernel)
            {
                "memmap_on_memory=1 would take them from the added memory, or add less at once"
            } else {
                "add less at once, or boot with more RAM"
            };
            let what = format!("adding {}", arch::approx(size));
            self.explain_short(e, &what, instead, run)
        })
    }

    /// add_memory_driver_managed() / __add_memory(): register the resource, then
    /// add_memory_resource()'s steps in the kernel's order.
    pub(crate) fn add_memory_locked(
        &mut self,
        start: u64,
        size: u64,
        opts: &AddOptions,
    ) -> Result<AddReport> {
        let name = self.check_driver_range(start, size, opts)?;
        // register_memory_resource()
        self.state.iomem.request(start, size, name)?;
        // add_memory_resource()
        self.check_hotplug_memory_range(start, size)?;
        let (nid, group) = self.hotplug_node_and_group(opts, size)?;
        let new_node = !self.state.nodes[nid as usize].online;
        let placement = self.memmap_placement(opts, size);
        let before = (self.state.vmstat, self.state.vmemmap.table_pages());
        let start_pfn = start >> self.u.g.page_shift;
        let nr_pages = size >> self.u.g.page_shift;
        let blocks = match placement.how {
            Memmap::WholeRange => {
                self.check_no_deferred_memmap(start_pfn, nr_pages)?;
                self.add_whole_range(nid, start_pfn, nr_pages, group, name)?
            }
            Memmap::PerBlockAltmap => {
                let inaccessible = opts.platform == Some(arch::PlatformDriver::Sclp)
                    && self
                        .target
                        .arch()
                        .hotplug_driver(self.target.kernel)
                        .offline_inaccessible;
                self.create_altmaps_and_memory_blocks(
                    nid,
                    group,
                    start_pfn,
                    nr_pages,
                    name,
                    inaccessible,
                )?
            }
            Memmap::Buddy => {
                self.arch_add_memory(nid, start_pfn, nr_pages, None)?;
                self.create_memory_blocks(start_pfn, nr_pages, None, group, nid, name, false)?
            }
        };
        if let Some(plugged) = opts.plugged {
            self.mark_unplugged_parts(&blocks, plugged)?;
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
            memmap_on_memory: placement.how != Memmap::Buddy,
            memmap_on_memory_refused: placement.refused,
            memmap_buddy_pages: self.state.vmstat.memmap_buddy - before.0.memmap_buddy,
            memmap_altmap_pages: self.state.vmstat.memmap_altmap - before.0.memmap_altmap,
            pagetable_pages: self.state.vmemmap.table_pages().saturating_sub(before.1),
            onlined: Vec::new(),
        };
        // Driver-managed memory (virtio-mem, kmem) is not the platform's hot-add driver's:
        // pseries DLPAR's onlining does not apply to it.
        let driver_onlines =
            opts.platform == Some(arch::PlatformDriver::Dlpar) && opts.resource_name.is_none();
        report.onlined = self.online_added_blocks(blocks, nid, driver_onlines, opts.online_type)?;
        Ok(report)
    }

    /// What the caller may add: a "System RAM" or "System RAM (driver)" resource, and not in
    /// a virtio-mem device's region unless it is that driver. Returns the resource name.
    fn check_driver_range(&self, start: u64, size: u64, opts: &AddOptions) -> Result<&'static str> {
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
        Ok(name)
    }

    /// check_hotplug_memory_range(): whole memory blocks only.
    fn check_hotplug_memory_range(&mut self, start: u64, size: u64) -> Result<()> {
        let bs = self.u.block_size;
        if start.is_multiple_of(bs) && size.is_multiple_of(bs) {
            return Ok(());
        }
        let why = format!(
            "Block size [{bs:#x}] unaligned hotplug range: start {start:#x}, size {size:#x}"
        );
        self.log(why.clone());
        Err(MmError::Invalid(format!(
            "{why} (start and size are whole {} memory blocks)",
            arch::approx(bs)
        )))
    }

    /// The node (MHP_NID_IS_MGID: the group's) and memory group of an add, registering the
    /// driver's static group (ACPI memory devices) when it has one.
    fn hotplug_node_and_group(
        &mut self,
        opts: &AddOptions,
        size: u64,
    ) -> Result<(u16, Option<u32>)> {
        let mut nid = opts.node.unwrap_or(0);
        if let Some(g) = opts.group {
            let grp = self
                .state
                .groups
                .get(&g)
                .ok_or_else(|| MmError::Invalid(format!("no memory group {g}")))?;
            nid = grp.nid;
        }
        if nid >= self.boot.nr_nodes {
            let msg = format!("node {nid} was absent from the node_possible_map");
            self.warn(&crate::warn::NODE_ABSENT, Some(&msg));
            return Err(MmError::Invalid(format!(
                "node {nid} was absent from the node_possible_map ({})",
                match self.boot.nr_nodes {
                    1 => "only node 0 is possible".to_string(),
                    n => format!("nodes 0-{} are possible", n - 1),
                }
            )));
        }
        let group = match opts.group {
            Some(g) => Some(g),
            None if opts.platform == Some(arch::PlatformDriver::Acpi) => {
                Some(self.register_static_group(nid, size >> self.u.g.page_shift))
            }
            None => None,
        };
        Ok((nid, group))
    }

    /// Where this add's memmap goes: MHP_MEMMAP_ON_MEMORY if the caller (by default the
    /// arch's hotplug driver) asks and mhp_supports_memmap_on_memory() agrees, or what the
    /// design variant decides; and why memmap_on_memory was refused when it was asked for.
    fn memmap_placement(&self, opts: &AddOptions, size: u64) -> Placement {
        let driver = self.target.arch().hotplug_driver(self.target.kernel);
        // add_memory() itself asks for MHP_MEMMAP_ON_MEMORY unless told not to; a platform
        // driver asks as its code does.
        let requested = opts.memmap_on_memory.unwrap_or(match opts.platform {
            None => true,
            Some(_) => driver.requests_memmap_on_memory,
        });
        let bs = self.u.block_size;
        let supported = self.mhp_supports_memmap_on_memory().and_then(|()| {
            if self.target.kernel.memmap_on_memory_per_block || size == bs {
                Ok(())
            } else {
                Err(format!(
                    "Linux {} takes memmap_on_memory only for an add of exactly one memory \
                     block (size == memory_block_size_bytes(), {}), not {}",
                    self.target.kernel,
                    arch::human(bs),
                    arch::human(size)
                ))
            }
        });
        // A caller that says no (virtio-mem, kmem without the device attribute) does not set
        // the flag the seeds' designs act on.
        let design = if opts.memmap_on_memory == Some(false) {
            crate::design::HotaddMemmap::PerBlock
        } else {
            // The seeds' vetoes are the arch's: s390 memory is inaccessible until onlined.
            self.design.hotadd_memmap(driver.offline_inaccessible)
        };
        match design {
            // The seeds' designs put the memmap of every hot-add on the range itself, with
            // one altmap for all of it, unless the arch vetoes it.
            crate::design::HotaddMemmap::WholeRange => Placement {
                how: Memmap::WholeRange,
                refused: None,
            },
            crate::design::HotaddMemmap::Vetoed(why) => Placement {
                how: Memmap::Buddy,
                refused: Some(why),
            },
            crate::design::HotaddMemmap::PerBlock => match supported {
                Ok(()) if requested => Placement {
                    how: Memmap::PerBlockAltmap,
                    refused: None,
                },
                Err(why) if requested => Placement {
                    how: Memmap::Buddy,
                    refused: Some(why),
                },
                _ => Placement {
                    how: Memmap::Buddy,
                    refused: None,
                },
            },
        }
    }

    /// create_altmaps_and_memory_blocks(): for each memory block an altmap over the block,
    /// arch_add_memory() with it, and the block device carrying it. `chunk` blocks go
    /// through one arch_add_memory() call with one altmap per block where that ends the same
    /// way (see `altmap_run_ok`); the per-block reference and every other add take one.
    fn create_altmaps_and_memory_blocks(
        &mut self,
        nid: u16,
        group: Option<u32>,
        start_pfn: u64,
        nr_pages: u64,
        name: &'static str,
        inaccessible: bool,
    ) -> Result<Vec<BlockId>> {
        let per_block = self.u.pages_per_block();
        let memmap_pages = self.memory_block_memmap_on_memory_pages();
        let altmap_of = |pfn: u64| VmemAltmap {
            base_pfn: pfn,
            end_pfn: pfn + per_block - 1,
            free: memmap_pages,
            inaccessible,
            ..VmemAltmap::default()
        };
        let chunk = if self.altmap_run_ok(start_pfn, nr_pages) {
            ALTMAP_RUN
        } else {
            1
        };
        let end_pfn = start_pfn + nr_pages;
        let mut blocks = Vec::with_capacity((nr_pages / per_block) as usize);
        let mut altmaps = Vec::with_capacity(chunk as usize);
        let mut pfn = start_pfn;
        while pfn < end_pfn {
            self.tick()?;
            let n = (end_pfn - pfn).min(chunk * per_block);
            altmaps.clear();
            altmaps.extend((pfn..pfn + n).step_by(per_block as usize).map(altmap_of));
            let arg = AltmapArg {
                altmaps: &mut altmaps,
                origin: Origin::Altmap,
            };
            self.arch_add_memory(nid, pfn, n, Some(arg))?;
            blocks.extend(self.create_memory_blocks(
                pfn,
                n,
                Some(&altmaps),
                group,
                nid,
                name,
                inaccessible,
            )?);
            pfn += n;
        }
        Ok(blocks)
    }

    /// arch_add_memory(): the linear map (which /proc/meminfo's DirectMap lines derive from
    /// the System RAM resources) and __add_pages().
    fn arch_add_memory(
        &mut self,
        nid: u16,
        start_pfn: u64,
        nr_pages: u64,
        altmap: Option<AltmapArg<'_>>,
    ) -> Result<()> {
        self.add_pages(nid, start_pfn, nr_pages, altmap, None)
    }

    /// What a driver has not plugged of the blocks it added stays fake-offline when they
    /// are onlined (virtio-mem's online_page_callback gives the buddy only plugged pages).
    fn mark_unplugged_parts(&mut self, blocks: &[BlockId], plugged: u64) -> Result<()> {
        let bs = self.u.block_size;
        let mut left = plugged;
        for &b in blocks {
            let here = left.min(bs);
            left -= here;
            self.block_mut(b)?.fake_offline_pages = (bs - here) >> self.u.g.page_shift;
        }
        Ok(())
    }

    /// The end of add_memory_resource(): online the new blocks if auto_online_blocks says so
    /// (failures are ignored, as online_memory_block() failures are), or if the driver
    /// onlines them itself (pseries DLPAR, which takes the add back when that fails).
    /// Returns the blocks onlined, with their zones.
    fn online_added_blocks(
        &mut self,
        blocks: Vec<BlockId>,
        nid: u16,
        driver_onlines: bool,
        online_type: Option<OnlineType>,
    ) -> Result<Vec<(BlockId, String)>> {
        let auto = online_type.unwrap_or(self.state.settings.default_online);
        let mut onlined = Vec::new();
        self.wmark_batch(|m| {
            if auto == OnlineType::OnlineMovable && m.movable_run_ok(&blocks, BlockState::Offline) {
                for (id, z) in m.online_movable_run(&blocks) {
                    onlined.push((id, z.name().to_string()));
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
                    Ok(z) => onlined.push((id, z.name().to_string())),
                    Err(e) if driver_onlines => {
                        let at = m.u.block_start(id);
                        let what = match m.lmb_drc_index(at) {
                            Some(drc) => format!("{drc:#x}"),
                            None => format!("at {at:#x}"),
                        };
                        m.log(format!(
                            "pseries-hotplug-mem: Failed to online LMB {what} on node {nid}"
                        ));
                        return Err(e);
                    }
                    Err(_) => {}
                }
            }
            Ok(())
        })?;
        Ok(onlined)
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
        // Every check comes before the first change (the seeds' designs free a whole-range
        // altmap outside the range removed, which a transaction's footprint would not hold).
        self.remove_memory_locked(start, size)
    }

    /// remove_memory() for a caller that owns the memory (a driver, or the user for DIMMs):
    /// try_remove_memory()'s checks, every one before anything changes, then its steps.
    pub(crate) fn remove_memory_locked(&mut self, start: u64, size: u64) -> Result<()> {
        let bs = self.u.block_size;
        let end = start.checked_add(size).filter(|_| size > 0);
        if end.is_none() || !start.is_multiple_of(bs) || !size.is_multiple_of(bs) {
            return Err(MmError::Invalid(format!(
                "Block size [{bs:#x}] unaligned hotplug range: start {start:#x}, size {size:#x} \
                 (start and size are whole {} memory blocks)",
                arch::approx(bs)
            )));
        }
        let first = self.u.block_of_phys(start);
        let n = size / bs;
        let blocks = self.check_memblocks_offlined(start, size)?;
        // The seeds' designs: one altmap for a whole hot-added range, which is not any
        // block's own.
        let ps = self.u.g.page_shift;
        let whole_range = self.whole_range_remove_check(start >> ps, size >> ps)?;
        let altmaps =
            whole_range.is_none() && self.memory_blocks_have_altmaps(&blocks, start, n)?;
        self.state.iomem.check_release_ram(start, size)?;
        // Nothing below fails.
        let nid = self.state.blocks[&first].nid;
        if let Some(key) = whole_range {
            self.remove_memory_block_devices(first, n);
            self.remove_whole_range(key, start >> ps, size >> ps);
        } else if altmaps {
            self.remove_memory_blocks_and_altmaps(first, n);
        } else {
            self.remove_memory_block_devices(first, n);
            self.arch_remove_memory(start >> ps, size >> ps);
        }
        // Checked by check_release_ram() above, with nothing in between touching iomem.
        self.state.iomem.release_ram(start, size)?;
        self.unregister_emptied_groups(blocks.groups);
        // A kmem device whose memory is all gone (offline + remove, as daxctl does) is gone,
        // and with it the resources it held.
        let u = self.u;
        let present = &self.state.blocks;
        let mut gone = Vec::new();
        self.state.kmem.retain(|_, k| {
            // 7.x's daxX.Y/state "unplugged": the driver keeps the device.
            if k.state == crate::kmem::KmemState::Unplugged {
                return true;
            }
            let (a, b) = (u.block_of_phys(k.start), u.block_of_phys(k.start + k.size));
            let keep = present.range(a..b).next().is_some();
            if !keep {
                gone.extend(k.resources.clone());
            }
            keep
        });
        for (s, e, name) in gone {
            self.state.iomem.remove(s, e, &name);
        }
        self.try_offline_node(nid);
        Ok(())
    }

    /// The walk of try_remove_memory()'s checks over the range's blocks: each must exist and
    /// have been hot-added (what the kernel's callers guarantee), then each must be offline
    /// (check_memblock_offlined_cb()). Counts the blocks that carry an altmap and collects
    /// their groups.
    fn check_memblocks_offlined(&mut self, start: u64, size: u64) -> Result<RemovedBlocks> {
        let bs = self.u.block_size;
        let first = self.u.block_of_phys(start);
        let n = size / bs;
        let missing = |id: u64| {
            MmError::Invalid(format!(
                "memory{id} does not exist: [{start:#x}-{:#x}] was not added",
                start + size - 1
            ))
        };
        let mut expect = first.0;
        let (mut not_added, mut onlined) = (None, None);
        let mut found = RemovedBlocks {
            with_altmap: 0,
            groups: Vec::new(),
        };
        for (id, b) in self.state.blocks.range(first..BlockId(first.0 + n)) {
            // The walk comes before anything changes: a stop here leaves the machine whole.
            self.watchdog.check()?;
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
            found.with_altmap += u64::from(b.altmap.is_some());
            if let Some(g) = b.group {
                if found.groups.last() != Some(&g) {
                    found.groups.push(g);
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
            let why = format!(
                "removing memory fails, because memory [{s:#018x}-{:#018x}] is onlined",
                s + bs - 1
            );
            self.log(why.clone());
            return Err(MmError::Busy(why));
        }
        found.groups.sort_unstable();
        found.groups.dedup();
        Ok(found)
    }

    /// memory_blocks_have_altmaps(): whether the `n` blocks carry their memmaps on altmaps;
    /// some but not all is an error.
    fn memory_blocks_have_altmaps(
        &mut self,
        blocks: &RemovedBlocks,
        start: u64,
        n: u64,
    ) -> Result<bool> {
        let with_altmap = blocks.with_altmap;
        if self.cmdline.memmap_on_memory == MemmapMode::Disable || with_altmap == 0 {
            return Ok(false);
        }
        // 6.1's try_remove_memory() takes memory with its memmap on it back only as it was
        // added: one memory block per call.
        if !self.target.kernel.memmap_on_memory_per_block && n != 1 {
            let end = start + n * self.u.block_size;
            self.log(format!(
                "Refuse to remove {start:#x} - {end:#x},wrong granularity"
            ));
            return Err(MmError::Invalid(format!(
                "Refuse to remove {start:#x} - {end:#x}: Linux {} removes memory that carries its \
                 memmap one memory block at a time, as it was added",
                self.target.kernel
            )));
        }
        if with_altmap != n {
            self.warn(&crate::warn::SOME_ALTMAPS, None);
            return Err(MmError::Invalid(format!(
                "{with_altmap} of the {n} memory blocks in the range carry their memmap on an altmap; \
                 the rest do not"
            )));
        }
        Ok(true)
    }

    /// remove_memory_block_devices().
    fn remove_memory_block_devices(&mut self, first: BlockId, n: u64) {
        for i in 0..n {
            self.state.blocks.remove(&BlockId(first.0 + i));
        }
    }

    /// arch_remove_memory(): __remove_pages() (the linear map goes with the resource).
    fn arch_remove_memory(&mut self, start_pfn: u64, nr_pages: u64) {
        self.remove_pages(start_pfn, nr_pages, None, None);
    }

    /// remove_memory_blocks_and_altmaps(): for each block, remove its device and
    /// arch_remove_memory() with its altmap, warning if the altmap still holds pages.
    /// `chunk` blocks go through one __remove_pages() with one altmap per block where that
    /// ends the same way (see `altmap_run_removable`); the per-block reference takes one.
    fn remove_memory_blocks_and_altmaps(&mut self, first: BlockId, n: u64) {
        let per_block = self.u.pages_per_block();
        let chunk = if self.altmap_run_removable(first, n) {
            ALTMAP_RUN
        } else {
            1
        };
        let mut alts = Vec::with_capacity(chunk as usize);
        let mut done = 0;
        while done < n {
            let run = (n - done).min(chunk);
            let id0 = BlockId(first.0 + done);
            alts.clear();
            for i in 0..run {
                alts.extend(
                    self.state
                        .blocks
                        .remove(&BlockId(id0.0 + i))
                        .and_then(|b| b.vmem_altmap(per_block)),
                );
            }
            let pfn = self.u.block_start(id0) >> self.u.g.page_shift;
            self.remove_pages(pfn, run * per_block, Some(&mut alts), None);
            for a in &alts {
                if a.alloc != 0 {
                    self.warn(
                        &crate::warn::ALTMAP_NOT_UNMAPPED,
                        Some("Altmap not fully unmapped"),
                    );
                }
            }
            done += run;
        }
    }

    /// memory_group_unregister() for the static groups whose blocks are all gone; a dynamic
    /// group (virtio-mem) lives as long as its device, not its blocks.
    fn unregister_emptied_groups(&mut self, groups: Vec<u32>) {
        if groups.is_empty() {
            return;
        }
        let still: std::collections::BTreeSet<u32> =
            self.state.blocks.values().filter_map(|b| b.group).collect();
        let dynamic = |g: &u32| self.state.groups.get(g).is_some_and(|x| x.dynamic);
        let gone: Vec<u32> = groups
            .into_iter()
            .filter(|g| !still.contains(g) && !dynamic(g))
            .collect();
        for g in gone {
            self.state.groups.remove(&g);
        }
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
