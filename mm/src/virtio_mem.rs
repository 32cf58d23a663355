//! virtio-mem (drivers/virtio/virtio_mem.c, Linux 6.12): a paravirtualised device that
//! plugs and unplugs memory in device blocks inside its region, adding Linux memory blocks
//! as "System RAM (virtio_mem)" and waiting for them to be onlined.

use crate::block_set::BlockSet;
use crate::error::{MmError, Result};
use crate::hotplug::AddOptions;
use crate::machine::Machine;
use crate::memory_block::BlockState;
use crate::units::BlockId;

/// VIRTIO_MEM_DEFAULT_OFFLINE_THRESHOLD: at least 1 GiB of added memory may wait offline.
const DEFAULT_OFFLINE_THRESHOLD: u64 = 1 << 30;

/// How the driver manages the region (virtio_mem_init_hotplug()).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mode {
    /// Sub Block Mode: device blocks smaller than a memory block; sub-blocks of
    /// max(pageblock, device block) are plugged inside memory blocks.
    Sbm { sb_size: u64 },
    /// Big Block Mode: big blocks of max(device block, memory block), plugged whole.
    Bbm { bb_size: u64 },
}

/// What `virtio_mem_add` is given: the device's config space.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct VirtioMemConfig {
    pub start: u64,
    pub region_size: u64,
    /// The device block size; default 2 MiB (QEMU's default on x86_64 and arm64 4K).
    pub block_size: Option<u64>,
    pub node: Option<u16>,
}

/// One virtio-mem device. Within each memory block it added, the plugged part is the bottom
/// of the block and the rest (fake-offline) the top: the driver plugs sub-blocks upward and
/// unplugs them downward.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct VirtioMem {
    pub id: u32,
    pub start: u64,
    pub region_size: u64,
    pub device_block_size: u64,
    pub nid: u16,
    pub mode: Mode,
    /// Its dynamic memory group (MHP_NID_IS_MGID).
    pub group: u32,
    pub requested_size: u64,
    /// max(2 x memory block size, 1 GiB): how much added memory may wait to be onlined.
    pub offline_threshold: u64,
    /// The memory blocks it added; what is plugged in each is the block's pages that are
    /// not fake-offline (`MemoryBlock::fake_offline_pages`).
    pub blocks: BlockSet,
    /// Why the last resize stopped short of the request, if it did.
    pub waiting: Option<String>,
}

impl Machine {
    /// virtio_mem_probe(): a device with `cfg`'s region, nothing plugged yet.
    pub fn virtio_mem_add(&mut self, cfg: &VirtioMemConfig) -> Result<u32> {
        if !self.target.arch().virtio_mem(self.target.kernel) {
            let k = self.target.kernel;
            let sym = self.target.arch().kconfig_symbol();
            let allowed = k.virtio_mem_depends.split(" || ").any(|s| s == sym);
            return Err(MmError::NotSupported(if allowed {
                format!(
                    "Debian's Linux {} config for {} does not build the virtio-mem driver \
                     (CONFIG_VIRTIO_MEM is not set, though drivers/virtio/Kconfig allows {sym})",
                    k.name,
                    self.target.name()
                )
            } else {
                format!(
                    "{} cannot build the virtio-mem driver in Linux {}: CONFIG_VIRTIO_MEM \
                     depends on {} (drivers/virtio/Kconfig)",
                    self.target.name(),
                    k.name,
                    k.virtio_mem_depends
                )
            }));
        }
        let g = self.u.g;
        let bs = self.u.block_size;
        let dev_bs = cfg.block_size.unwrap_or(2 << 20);
        let nid = cfg.node.unwrap_or(0);
        if !dev_bs.is_power_of_two() || dev_bs < g.page_size {
            return Err(MmError::Invalid(format!(
                "device block size {dev_bs:#x} is not a power of two of at least a page"
            )));
        }
        let end = cfg
            .start
            .checked_add(cfg.region_size)
            .filter(|_| cfg.region_size > 0);
        let Some(end) = end else {
            return Err(MmError::Invalid("the region is empty".into()));
        };
        // The driver uses only whole memory blocks of the region.
        if !cfg.start.is_multiple_of(bs) || !end.is_multiple_of(bs) {
            return Err(MmError::Invalid(format!(
                "the region [{:#x}-{:#x}] is not made of whole {}-byte memory blocks",
                cfg.start,
                end - 1,
                bs
            )));
        }
        if nid >= self.boot.nr_nodes {
            return Err(MmError::Invalid(format!("node {nid} is not possible")));
        }
        let overlap = self
            .state
            .virtio_mem
            .values()
            .any(|d| d.start < end && cfg.start < d.start + d.region_size)
            || self
                .state
                .blocks
                .range(self.u.block_of_phys(cfg.start)..self.u.block_of_phys(end))
                .next()
                .is_some();
        if overlap {
            return Err(MmError::Busy(format!(
                "[{:#x}-{:#x}] overlaps memory already there",
                cfg.start,
                end - 1
            )));
        }
        // A device's region is a resource of its own (request_mem_region()): it cannot take
        // a range a persistent-memory namespace or region already holds.
        if let Some(p) = self
            .state
            .pgmaps
            .values()
            .find(|p| p.start < end && cfg.start < p.start + p.res_size)
        {
            return Err(MmError::Busy(format!(
                "[{:#x}-{:#x}] overlaps {} [mem {:#x}-{:#x}]",
                cfg.start,
                end - 1,
                p.namespace,
                p.start,
                p.start + p.res_size - 1
            )));
        }
        if let Some((s, e)) = self
            .state
            .iomem
            .named_overlap(cfg.start, end, "Persistent Memory")
        {
            return Err(MmError::Busy(format!(
                "[{:#x}-{:#x}] overlaps Persistent Memory [mem {s:#x}-{e:#x}]",
                cfg.start,
                end - 1
            )));
        }
        let pageblock = g.pageblock_nr_pages << g.page_shift;
        // virtio_mem_init_hotplug(): sub-blocks of at least a pageblock (what
        // alloc_contig_range() handles reliably), SBM when two or more fit a memory block.
        let sb_size = dev_bs.max(pageblock);
        let mode = if sb_size < bs {
            Mode::Sbm { sb_size }
        } else {
            Mode::Bbm {
                bb_size: dev_bs.max(bs),
            }
        };
        let unit = match mode {
            Mode::Sbm { .. } => bs,
            Mode::Bbm { bb_size } => bb_size,
        };
        let id = self
            .state
            .virtio_mem
            .keys()
            .next_back()
            .map_or(0, |k| k + 1);
        // virtio_mem_create_resource(): the device's region as a resource of its own, not
        // busy, so that the System RAM (virtio_mem) the driver adds nests inside it; it stays
        // while the device does, plugged or not (the model names the device virtioN after
        // its own count: a guest's other virtio devices would take numbers too).
        self.state
            .iomem
            .request_container(cfg.start, cfg.region_size, &format!("virtio{id}"))?;
        let group = self.register_dynamic_group(nid, unit >> g.page_shift);
        self.state.virtio_mem.insert(
            id,
            VirtioMem {
                id,
                start: cfg.start,
                region_size: cfg.region_size,
                device_block_size: dev_bs,
                nid,
                mode,
                group,
                requested_size: 0,
                // BBM makes sure two big blocks can be added.
                offline_threshold: (2 * bs).max(DEFAULT_OFFLINE_THRESHOLD).max(2 * unit),
                blocks: BlockSet::new(),
                waiting: None,
            },
        );
        // virtio_mem_init(), virtio_mem_init_hotplug(): what the driver reports.
        let dev = format!("virtio_mem virtio{id}");
        self.log(format!("{dev}: start address: {:#x}", cfg.start));
        self.log(format!("{dev}: region size: {:#x}", cfg.region_size));
        self.log(format!("{dev}: device block size: {dev_bs:#x}"));
        if self.boot.nr_nodes > 1 {
            self.log(format!("{dev}: nid: {nid}"));
        }
        self.log(format!("{dev}: memory block size: {bs:#x}"));
        self.log(match mode {
            Mode::Sbm { sb_size } => format!("{dev}: subblock size: {sb_size:#x}"),
            Mode::Bbm { bb_size } => format!("{dev}: big block size: {bb_size:#x}"),
        });
        Ok(id)
    }

    /// The virtio-mem device whose region overlaps `[start, +size)`: memory only its
    /// driver adds and removes.
    pub(crate) fn virtio_mem_region_at(&self, start: u64, size: u64) -> Option<&VirtioMem> {
        let end = start.saturating_add(size);
        self.state
            .virtio_mem
            .values()
            .find(|d| d.start < end && start < d.start + d.region_size)
    }

    pub(crate) fn virtio_mem_dev(&self, id: u32) -> Result<&VirtioMem> {
        self.state
            .virtio_mem
            .get(&id)
            .ok_or_else(|| MmError::NoDevice(format!("no virtio-mem device {id}")))
    }

    fn virtio_mem_dev_mut(&mut self, id: u32) -> Result<&mut VirtioMem> {
        self.state
            .virtio_mem
            .get_mut(&id)
            .ok_or_else(|| MmError::NoDevice(format!("no virtio-mem device {id}")))
    }

    /// Bytes plugged in memory block `b` of a device.
    fn virtio_mem_plugged_in(&self, b: BlockId) -> u64 {
        self.state.blocks.get(&b).map_or(0, |x| {
            (self.u.pages_per_block() - x.fake_offline_pages) << self.u.g.page_shift
        })
    }

    /// What device `d` has plugged (vm->plugged_size).
    pub fn virtio_mem_plugged_size(&self, d: &VirtioMem) -> u64 {
        d.blocks.iter().map(|b| self.virtio_mem_plugged_in(b)).sum()
    }

    /// The host asks device `id` for `requested` bytes: the driver plugs or unplugs toward
    /// it as far as it can now, and retries when memory is onlined
    /// (`virtio_mem_retry`).
    pub fn virtio_mem_resize(&mut self, id: u32, requested: u64) -> Result<()> {
        let d = self.virtio_mem_dev(id)?;
        if requested > d.region_size || !requested.is_multiple_of(d.device_block_size) {
            return Err(MmError::Invalid(format!(
                "requested size {requested:#x} is not a multiple of the device block size \
                 ({:#x}) within the region ({:#x})",
                d.device_block_size, d.region_size
            )));
        }
        // A request the caller stops part way (its watchdog) leaves the device as it was.
        let fp = self.offline_footprint(d.start, d.start + d.region_size);
        self.transaction(fp, |m| {
            m.virtio_mem_dev_mut(id)?.requested_size = requested;
            m.virtio_mem_retry(id)
        })
    }

    /// virtio_mem_run_wq(): plug or unplug toward the request.
    pub fn virtio_mem_retry(&mut self, id: u32) -> Result<()> {
        let d = self.virtio_mem_dev(id)?;
        let (requested, plugged) = (d.requested_size, self.virtio_mem_plugged_size(d));
        let why = if requested > plugged {
            self.virtio_mem_plug(id, requested - plugged)?
        } else if requested < plugged {
            self.virtio_mem_unplug(id, plugged - requested)?
        } else {
            None
        };
        // The driver prints nothing while it waits; scripts and the TUI read `waiting`.
        self.virtio_mem_dev_mut(id)?.waiting = why;
        Ok(())
    }

    /// Retry every device that waits (the memory notifier does it when blocks go online).
    pub(crate) fn virtio_mem_retry_all(&mut self) -> Result<()> {
        let waiting: Vec<u32> = self
            .state
            .virtio_mem
            .values()
            .filter(|d| d.waiting.is_some())
            .map(|d| d.id)
            .collect();
        for id in waiting {
            // The driver retries what failed later; only a caller's stop goes up.
            if let Err(e) = self.virtio_mem_retry(id) {
                if e.is_stopped() {
                    return Err(e);
                }
            }
        }
        Ok(())
    }

    /// Added memory of the device that is not online yet.
    fn virtio_mem_offline_bytes(&self, id: u32) -> u64 {
        let Some(d) = self.state.virtio_mem.get(&id) else {
            return 0;
        };
        let offline = d
            .blocks
            .iter()
            .filter(|b| {
                self.state
                    .blocks
                    .get(b)
                    .is_some_and(|x| x.state != BlockState::Online)
            })
            .count() as u64;
        offline * self.u.block_size
    }

    fn virtio_mem_plug(&mut self, id: u32, mut diff: u64) -> Result<Option<String>> {
        let bs = self.u.block_size;
        let ps = self.u.g.page_shift;
        let d = self.virtio_mem_dev(id)?.clone();
        let (unit, add_unit) = match d.mode {
            Mode::Sbm { sb_size } => (sb_size, bs),
            Mode::Bbm { bb_size } => (bb_size, bb_size),
        };
        // Fill the memory blocks already added (SBM), lowest first.
        if let Mode::Sbm { .. } = d.mode {
            for b in d.blocks.iter() {
                if diff == 0 {
                    break;
                }
                let n = (bs - self.virtio_mem_plugged_in(b)).min(diff) / unit * unit;
                if n > 0 {
                    self.virtio_mem_plug_in_block(b, n >> ps)?;
                    diff -= n;
                }
            }
        }
        // Then add new memory, a memory block (SBM) or a big block (BBM) at a time,
        // counting what waits offline as it goes (once over the device's blocks, not once
        // per add).
        let mut offline = self.virtio_mem_offline_bytes(id);
        let mut addr = d.start;
        while diff > 0 {
            self.tick()?;
            while addr < d.start + d.region_size
                && self.state.blocks.get(&self.u.block_of_phys(addr)).is_some()
            {
                addr += add_unit;
            }
            if addr >= d.start + d.region_size {
                return Ok(Some(format!(
                    "the region is full: {} more requested cannot be plugged",
                    arch::human(diff)
                )));
            }
            if offline + add_unit > d.offline_threshold {
                return Ok(Some(format!(
                    "waiting for {} of added memory to be onlined before adding more (offline \
                     threshold {})",
                    arch::human(offline),
                    arch::human(d.offline_threshold)
                )));
            }
            let plug = diff.min(add_unit) / unit * unit;
            if plug == 0 {
                // virtio_mem_sbm_plug_request(): less than a sub-block cannot be plugged.
                return Ok(Some(format!(
                    "{} more requested is less than a {} plug unit",
                    arch::human(diff),
                    arch::human(unit)
                )));
            }
            // Plug first, then add: the online callback gives only plugged pages to the
            // buddy; the rest of the block is fake-offline.
            match self.virtio_mem_add_memory(&d, addr, add_unit, plug) {
                Ok(left_offline) => offline += left_offline,
                Err(e) if e.is_stopped() => return Err(e),
                Err(e) => {
                    // The driver does not give up: it unplugs again and retries later.
                    return Ok(Some(format!(
                        "adding [{addr:#x}-{:#x}] failed ({e}); retrying later",
                        addr + add_unit - 1
                    )));
                }
            }
            diff -= plug;
            addr += add_unit;
        }
        Ok(None)
    }

    /// add_memory_driver_managed() of `[addr, +size)` with `plug` bytes of it plugged:
    /// auto_online_blocks onlines it, and only the plugged pages reach the buddy. Returns
    /// the bytes of it left offline.
    fn virtio_mem_add_memory(
        &mut self,
        d: &VirtioMem,
        addr: u64,
        size: u64,
        plug: u64,
    ) -> Result<u64> {
        let r = self.add_memory(
            addr,
            size,
            &AddOptions {
                memmap_on_memory: Some(false),
                node: Some(d.nid),
                resource_name: Some("System RAM (virtio_mem)"),
                merge_resource: true,
                group: Some(d.group),
                plugged: Some(plug),
                platform: Some(arch::PlatformDriver::VirtioMem),
                online_type: None,
            },
        )?;
        let left_offline = r.blocks.len() as u64 - r.onlined.len() as u64;
        self.virtio_mem_dev_mut(d.id)?.blocks.extend(r.blocks);
        Ok(left_offline * self.u.block_size)
    }

    /// Plug `pages` more of an added memory block (SBM): online, they go to the buddy.
    fn virtio_mem_plug_in_block(&mut self, b: BlockId, pages: u64) -> Result<()> {
        let blk = self.block_mut(b)?;
        blk.fake_offline_pages -= pages;
        let (online, nid, zone) = (blk.state == BlockState::Online, blk.nid, blk.zone);
        if let (true, Some(z)) = (online, zone) {
            self.zone_mut(nid, z).managed_pages += pages;
            self.events.free(pages);
            self.init_per_zone_wmark_min();
        }
        Ok(())
    }

    fn virtio_mem_unplug(&mut self, id: u32, mut diff: u64) -> Result<Option<String>> {
        let bs = self.u.block_size;
        let ps = self.u.g.page_shift;
        let d = self.virtio_mem_dev(id)?.clone();
        let unit = match d.mode {
            Mode::Sbm { sb_size } => sb_size,
            Mode::Bbm { bb_size } => bb_size,
        };
        // Offline blocks first, then online ones, from the top of the region down.
        let mut order: Vec<(BlockId, bool)> = d
            .blocks
            .iter()
            .rev()
            .map(|b| {
                (
                    b,
                    self.state
                        .blocks
                        .get(&b)
                        .is_some_and(|x| x.state == BlockState::Online),
                )
            })
            .collect();
        order.sort_by_key(|&(_, online)| online);
        for (b, online) in order {
            if diff == 0 {
                break;
            }
            self.tick()?;
            let plugged = self.virtio_mem_plugged_in(b);
            let start = self.u.block_start(b);
            if diff >= plugged {
                // The whole block goes: offline_and_remove_memory().
                if online {
                    match self.offline(start, bs) {
                        Err(e) if e.is_stopped() => return Err(e),
                        Err(_) => continue,
                        Ok(_) => {}
                    }
                }
                if let Err(e) = self.remove_memory_locked(start, bs) {
                    if e.is_stopped() {
                        return Err(e);
                    }
                    return Ok(Some(format!(
                        "removing memory{} failed ({e}); retrying later",
                        b.0
                    )));
                }
                self.virtio_mem_dev_mut(id)?.blocks.remove(b);
                diff -= plugged;
            } else if matches!(d.mode, Mode::Sbm { .. }) {
                // Unplug sub-blocks: an online block's pages are taken from the buddy
                // (alloc_contig_range()) and become fake-offline.
                let n = diff / unit * unit;
                let pages = n >> ps;
                // Kernel allocations (memmap, page tables) that overflowed into the block are
                // unmovable: alloc_contig_range() cannot take those pages.
                let pinned = self.kernel_pages_on_block(b);
                let blk = self.block_mut(b)?;
                // The sub-blocks go from the top of the plugged part; huge pages are placed
                // from the top too, so a block holding any is left alone (the kernel would
                // have to migrate or dissolve them first).
                if online && (blk.free_pages() < pages + pinned || blk.hugetlb_pages > 0) {
                    continue;
                }
                blk.fake_offline_pages += pages;
                let (nid, zone) = (blk.nid, blk.zone);
                if let (true, Some(z)) = (online, zone) {
                    self.zone_mut(nid, z).managed_pages -= pages;
                    self.init_per_zone_wmark_min();
                }
                diff -= n;
            }
        }
        Ok((diff > 0).then(|| {
            format!(
                "{} could not be unplugged now (memory in use or not offlinable); retrying later",
                arch::human(diff)
            )
        }))
    }

    /// The virtio-mem devices.
    pub fn virtio_mem_devices(&self) -> impl Iterator<Item = &VirtioMem> {
        self.state.virtio_mem.values()
    }
}
