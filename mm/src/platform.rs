//! Memory coming and going the way a platform makes it (`plug`, `unplug`): an ACPI memory
//! device plugged and ejected (drivers/acpi/acpi_memhotplug.c, drivers/acpi/scan.c), pseries
//! DLPAR (dlpar.rs), s390 standby memory (sclp.rs) and virtio-mem (virtio_mem.rs), each
//! around the kernel's own add_memory(), remove_memory() and offline_and_remove_memory().

use crate::cmdline::OnlineType;
use crate::error::{MmError, Result};
use crate::hotplug::AddOptions;
use crate::machine::Machine;
use crate::memory_block::BlockState;
use crate::units::BlockId;
use arch::{PlatformDriver, ZoneType};

/// A device a platform driver added memory for: an ACPI DIMM, a set of LMBs one DLPAR
/// request added, standby memory one `chmem -e` onlined, or a virtio-mem device.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PlatformDevice {
    pub id: u32,
    pub driver: PlatformDriver,
    /// The lowest address, and the bytes the device holds (for virtio-mem: plugged).
    pub start: u64,
    pub size: u64,
    pub node: u16,
    /// Its memory blocks, ascending (LMBs need not be contiguous).
    pub blocks: Vec<BlockId>,
}

/// What `plug` is asked for besides the size.
#[derive(Debug, Clone, Default)]
pub struct PlugOptions {
    /// The driver (default: the arch's usual one).
    pub driver: Option<PlatformDriver>,
    /// Where the memory goes (default: the first free place of the platform's hot-plug
    /// area).
    pub start: Option<u64>,
    pub node: Option<u16>,
    /// DLPAR: LMBs to add (by count, or by indexed count with `index` or `start`).
    pub count: Option<u64>,
    /// DLPAR: the DRC index to add at.
    pub index: Option<u32>,
    /// virtio-mem: the device's region (default: the size plugged).
    pub region: Option<u64>,
}

impl Machine {
    /// The platform drivers this machine's arch has, the usual one first.
    pub fn platform_drivers(&self) -> &'static [PlatformDriver] {
        self.target
            .arch()
            .hotplug_driver(self.target.kernel)
            .drivers
    }

    /// `driver`, or the arch's usual one; EOPNOTSUPP with the arch's reason for one it has
    /// not.
    fn platform_driver(&self, driver: Option<PlatformDriver>) -> Result<PlatformDriver> {
        let have = self.platform_drivers();
        match driver.or_else(|| have.first().copied()) {
            Some(d) if have.contains(&d) => Ok(d),
            Some(d) => Err(MmError::NotSupported(self.target.arch().missing_driver(d))),
            None => Err(MmError::NotSupported(format!(
                "{} has no memory hot-plug driver; add_memory() is what a driver would call",
                self.target.name()
            ))),
        }
    }

    /// The platform drivers' devices, by id.
    pub fn platform_devices(&self) -> impl Iterator<Item = &PlatformDevice> + '_ {
        self.state.devices.values()
    }

    /// Plug `size` bytes the way the platform's driver does (see [`PlugOptions`]).
    pub fn plug(&mut self, size: u64, o: &PlugOptions) -> Result<PlatformDevice> {
        if size == 0 && o.count.is_none() && o.index.is_none() {
            return Err(MmError::Invalid(format!(
                "a device of 0 bytes: plug at least one {} memory block",
                arch::approx(self.u.block_size)
            )));
        }
        match self.platform_driver(o.driver)? {
            PlatformDriver::Acpi => self.acpi_plug(size, o),
            PlatformDriver::Dlpar => self.dlpar_plug(size, o),
            PlatformDriver::Sclp => self.sclp_plug(size),
            PlatformDriver::VirtioMem => self.virtio_mem_plug_device(size, o),
        }
    }

    /// Unplug device `id` of `driver` the way that driver does: an ACPI eject offlines
    /// every block first and keeps the DIMM if one will not go; DLPAR removes the device's
    /// LMBs by indexed count; SCLP offlines the standby memory again (`chmem -d`);
    /// virtio-mem asks the device for nothing.
    pub fn unplug(&mut self, driver: PlatformDriver, id: u32) -> Result<()> {
        let driver = self.platform_driver(Some(driver))?;
        // virtio-mem's devices are its own; the other drivers' are recorded here.
        let device = |m: &Machine| {
            m.state
                .devices
                .get(&id)
                .filter(|d| d.driver == driver)
                .cloned()
                .ok_or_else(|| MmError::NoDevice(format!("no {} device {id}", driver.name())))
        };
        match driver {
            PlatformDriver::Acpi => self.acpi_eject(&device(self)?),
            PlatformDriver::Dlpar => self.dlpar_unplug(&device(self)?),
            PlatformDriver::Sclp => self.sclp_unplug(&device(self)?),
            PlatformDriver::VirtioMem => self.virtio_mem_resize(id, 0),
        }
    }

    /// Unplug `count` units the way `driver` removes by count: DLPAR LMBs
    /// (dlpar_memory_remove_by_count()), SCLP memory blocks (`chmem -d`, highest first).
    pub fn unplug_count(&mut self, driver: PlatformDriver, count: u64) -> Result<()> {
        match self.platform_driver(Some(driver))? {
            PlatformDriver::Dlpar => self.dlpar_remove_count_request(count),
            PlatformDriver::Sclp => self.sclp_disable_count(count),
            d => Err(MmError::Invalid(format!(
                "{} unplugs a device, not a count: m.unplug(device)",
                d.name()
            ))),
        }
    }

    /// A new device id.
    pub(crate) fn next_device_id(&self) -> u32 {
        self.state.devices.keys().next_back().map_or(0, |k| k + 1)
    }

    /// Record a device for `blocks` (none: nothing is recorded).
    pub(crate) fn record_device(
        &mut self,
        driver: PlatformDriver,
        node: u16,
        mut blocks: Vec<BlockId>,
    ) -> Option<PlatformDevice> {
        blocks.sort_unstable();
        blocks.dedup();
        let first = *blocks.first()?;
        let d = PlatformDevice {
            id: self.next_device_id(),
            driver,
            start: self.u.block_start(first),
            size: blocks.len() as u64 * self.u.block_size,
            node,
            blocks,
        };
        self.state.devices.insert(d.id, d.clone());
        Some(d)
    }

    /// Take `gone` blocks out of the devices holding them; a device left with none goes.
    pub(crate) fn forget_device_blocks(&mut self, gone: &[BlockId]) {
        let bs = self.u.block_size;
        let u = self.u;
        self.state.devices.retain(|_, d| {
            d.blocks.retain(|b| !gone.contains(b));
            if let Some(&first) = d.blocks.first() {
                d.start = u.block_start(first);
                d.size = d.blocks.len() as u64 * bs;
            }
            !d.blocks.is_empty()
        });
    }

    /// Where the platform puts `size` bytes of new memory: the first block-aligned gap at
    /// or above its hot-plug area that no resource, device or block uses.
    pub(crate) fn free_hotplug_range(&self, size: u64) -> Result<u64> {
        let bs = self.u.block_size;
        let (_, hi) = self.pluggable_range();
        let mut at = self.boot.hotplug_base.next_multiple_of(bs);
        loop {
            let end = at
                .checked_add(size)
                .filter(|&e| e - 1 <= hi)
                .ok_or_else(|| {
                    MmError::NoSpace(format!(
                        "no free {} at or above {:#x} below the end of addressable memory \
                         ({hi:#x})",
                        arch::approx(size),
                        self.boot.hotplug_base
                    ))
                })?;
            // A device keeps its place in the guest's address space even when part of
            // its memory was removed.
            let device = self
                .state
                .devices
                .values()
                .filter(|d| d.start < end && at < d.start + d.size)
                .map(|d| d.start + d.size)
                .max();
            if let Some(e) = device {
                at = e.next_multiple_of(bs).max(at + bs);
                continue;
            }
            match self.state.iomem.conflict(at, size) {
                Some((_, _, e)) => at = (e + 1).next_multiple_of(bs).max(at + bs),
                None => {
                    let taken = self.state.blocks.range(
                        self.u.block_of_phys(at)..self.u.block_of_phys(end.next_multiple_of(bs)),
                    );
                    match taken.last() {
                        Some((id, _)) => at = self.u.block_start(*id) + bs,
                        None => return Ok(at),
                    }
                }
            }
        }
    }

    /// offline_and_remove_memory() (mm/memory_hotplug.c): offline every memory block of the
    /// range that is online, then remove it; if a block will not offline, or the removal
    /// fails, the blocks go back online as they were (to the zone kind they were in), and
    /// the error is the first failure. What virtio-mem and dax/kmem call to give memory back.
    pub fn offline_and_remove_memory(&mut self, start: u64, size: u64) -> Result<()> {
        let fp = self.offline_footprint(start, start.saturating_add(size));
        self.transaction(fp, |m| {
            let ids = m.blocks_in(start, size)?;
            for id in ids {
                m.tick()?;
                if m.state.blocks[&id].state == BlockState::Online {
                    m.memory_block_offline(id)?;
                }
            }
            m.remove_memory_locked(start, size)
        })
    }

    /// acpi_memory_device_add() for a pc-dimm of `size` bytes: __add_memory() of its range
    /// (MHP_NID_IS_MGID into a static memory group, MHP_MEMMAP_ON_MEMORY where supported),
    /// then auto_online_blocks.
    fn acpi_plug(&mut self, size: u64, o: &PlugOptions) -> Result<PlatformDevice> {
        if o.count.is_some() || o.index.is_some() || o.region.is_some() {
            return Err(MmError::Invalid(
                "an ACPI DIMM takes a size, and optionally start and node".to_string(),
            ));
        }
        let start = match o.start {
            Some(s) => s,
            None => self.free_hotplug_range(size)?,
        };
        let nid = o.node.unwrap_or(0);
        let name = format!("PNP0C80:{:02x}", self.next_device_id());
        let opts = AddOptions {
            node: Some(nid),
            platform: Some(PlatformDriver::Acpi),
            ..AddOptions::default()
        };
        let r = self.add_memory(start, size, &opts).inspect_err(|e| {
            if !e.is_stopped() {
                // acpi_memory_enable_device(): no range of the device could be added.
                self.log(format!("acpi {name}: add_memory failed"));
            }
        })?;
        self.record_device(PlatformDriver::Acpi, nid, r.blocks)
            .ok_or_else(|| MmError::Invalid("the DIMM added no memory block".to_string()))
    }

    /// An ACPI eject (acpi_scan_hot_remove(), drivers/acpi/scan.c): acpi_scan_try_to_offline()
    /// offlines every block of the DIMM with device_offline(), in two passes, the first
    /// ignoring failures (one block may hold what another needs); if one still will not
    /// go, it warns "Offline failed.", puts the blocks it offlined back online with
    /// device_online() (MMOP_ONLINE: the zone follows the online policy, and may differ),
    /// and the eject fails with the DIMM kept. Otherwise acpi_memory_remove_memory() removes
    /// it and the DIMM is gone.
    fn acpi_eject(&mut self, dev: &PlatformDevice) -> Result<()> {
        // The offlining and the removal go as one: a removal that fails after every block
        // went offline (the kernel's __remove_memory() would BUG() there) puts them back.
        let fp = self.offline_footprint(dev.start, dev.start + dev.size);
        let failed = self.transaction(fp, |m| {
            let (put_online, failed) = m.acpi_try_to_offline(dev)?;
            if let Some(f) = failed {
                return Ok(Some((put_online, f)));
            }
            m.acpi_memory_remove_memory(dev)?;
            Ok(None)
        })?;
        let Some((was, (id, e))) = failed else {
            self.state.devices.remove(&dev.id);
            return Ok(());
        };
        self.log(format!("memory memory{}: Offline failed.", id.0));
        let mut moved = Vec::new();
        for &(b, before) in &was {
            if let Ok(z) = self.memory_block_online(b, OnlineType::Online) {
                if before != Some(z) {
                    moved.push(format!(
                        "memory{} {} (was {})",
                        b.0,
                        z.name(),
                        before.map_or("?", |z| z.name())
                    ));
                }
            }
        }
        let back = if was.is_empty() {
            String::new()
        } else if moved.is_empty() {
            format!(
                "; the {} blocks it offlined were onlined again with device_online() \
                 (MMOP_ONLINE), each in the zone it was in",
                was.len()
            )
        } else {
            format!(
                "; the {} blocks it offlined were onlined again with device_online() \
                 (MMOP_ONLINE), which the online policy placed elsewhere: {}",
                was.len(),
                moved.join(", ")
            )
        };
        let msg = format!(
            "the eject of DIMM {} failed: memory{} could not be offlined ({}){back}; the \
             DIMM stays",
            dev.id,
            id.0,
            e.reason()
        );
        Err(if was.is_empty() {
            MmError::Busy(msg)
        } else {
            MmError::RedoneBusy(msg)
        })
    }

    /// acpi_scan_try_to_offline(): device_offline() of every online block of the DIMM, in
    /// two passes, the first ignoring failures. The blocks it offlined (with the zone each
    /// was in) and, if one would not go, that block and its error.
    #[allow(clippy::type_complexity)]
    fn acpi_try_to_offline(
        &mut self,
        dev: &PlatformDevice,
    ) -> Result<(Vec<(BlockId, Option<ZoneType>)>, Option<(BlockId, MmError)>)> {
        let mut was: Vec<(BlockId, Option<ZoneType>)> = Vec::new();
        let mut failed: Option<(BlockId, MmError)> = None;
        for pass in 0..2 {
            for &id in &dev.blocks {
                self.tick()?;
                if was.iter().any(|&(b, _)| b == id) {
                    continue;
                }
                let Some(b) = self.state.blocks.get(&id) else {
                    continue;
                };
                if b.state != BlockState::Online {
                    continue;
                }
                let zone = b.zone;
                match self.memory_block_offline(id) {
                    Ok(()) => was.push((id, zone)),
                    Err(e) if e.is_stopped() => return Err(e),
                    Err(e) => {
                        failed = Some((id, e));
                        if pass == 1 {
                            break;
                        }
                    }
                }
            }
            // The second pass only when the first met a failure.
            match &failed {
                None => break,
                Some(_) if pass == 0 => failed = None,
                Some(_) => {}
            }
        }
        Ok((was, failed))
    }

    /// acpi_memory_remove_memory(): __remove_memory() of the DIMM's range, run by run of
    /// the blocks still there. A block something else already removed (a script may call
    /// offline_and_remove_memory() on a DIMM's memory, which no kernel driver does) is
    /// skipped with the WARN_ON_ONCE sparse_remove_section() gives a section no longer
    /// valid; the kernel would also leave the DIMM's split resource behind
    /// (release_mem_region_adjustable() finds no resource holding the whole range), which
    /// the model does not.
    fn acpi_memory_remove_memory(&mut self, dev: &PlatformDevice) -> Result<()> {
        let bs = self.u.block_size;
        let present: Vec<BlockId> = dev
            .blocks
            .iter()
            .copied()
            .filter(|id| self.state.blocks.get(id).is_some())
            .collect();
        if present.len() < dev.blocks.len() {
            self.warn(&crate::warn::REMOVE_INVALID_SECTION, None);
        }
        let mut i = 0;
        while i < present.len() {
            let mut j = i + 1;
            while j < present.len() && present[j].0 == present[j - 1].0 + 1 {
                j += 1;
            }
            self.remove_memory_locked(self.u.block_start(present[i]), (j - i) as u64 * bs)?;
            i = j;
        }
        Ok(())
    }

    /// virtio-mem: a device whose region is `region` (default: `size`) at `start` (default:
    /// the first free place), asked for `size`.
    fn virtio_mem_plug_device(&mut self, size: u64, o: &PlugOptions) -> Result<PlatformDevice> {
        if o.count.is_some() || o.index.is_some() {
            return Err(MmError::Invalid(
                "a virtio-mem device takes a size, and optionally region, start and node"
                    .to_string(),
            ));
        }
        let region = o.region.unwrap_or(size);
        if region < size {
            return Err(MmError::Invalid(format!(
                "a virtio-mem device cannot plug {} of a {} region",
                arch::approx(size),
                arch::approx(region)
            )));
        }
        let start = match o.start {
            Some(s) => s,
            None => self.free_hotplug_range(region)?,
        };
        let fp = self.footprint(start, start.saturating_add(region));
        self.transaction(fp, |m| {
            let id = m.virtio_mem_add(&crate::virtio_mem::VirtioMemConfig {
                start,
                region_size: region,
                block_size: None,
                node: o.node,
            })?;
            m.virtio_mem_resize(id, size)?;
            m.virtio_mem_device(id)
        })
    }

    /// A virtio-mem device as a platform device: its region's start, what it plugged, the
    /// blocks it added.
    pub fn virtio_mem_device(&self, id: u32) -> Result<PlatformDevice> {
        let d = self.virtio_mem_dev(id)?;
        let blocks: Vec<BlockId> = d.blocks.iter().collect();
        Ok(PlatformDevice {
            id,
            driver: PlatformDriver::VirtioMem,
            start: d.start,
            size: self.virtio_mem_plugged_size(d),
            node: d.nid,
            blocks,
        })
    }
}
