//! s390 standby memory: storage increments the LPAR or z/VM reports as standby at boot. In
//! 6.x (drivers/s390/char/sclp_cmd.c) sclp_detect_standby_memory() adds them as offline
//! memory blocks, which are from then on only onlined (the increments assigned, as `chmem
//! -e` asks) and offlined (unassigned, `chmem -d`); no s390 driver calls remove_memory().
//! In 7.x (drivers/s390/char/sclp_mem.c) nothing is added at boot: each block has
//! /sys/firmware/memory/memoryN/{config,memmap_on_memory}, and writing 1 to config assigns
//! the increments and adds the block, 0 removes it again.

use crate::error::{MmError, Result};
use crate::hotplug::AddOptions;
use crate::machine::Machine;
use crate::memory_block::BlockState;
use crate::units::BlockId;

/// The standby storage the SCLP reported, and what the driver added of it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Standby {
    /// The first standby increment's address (the increment after the assigned ones).
    pub start: u64,
    /// Standby bytes reported, whole increments.
    pub size: u64,
    /// The storage increment size (sclp.rzm).
    pub rzm: u64,
    /// `[start, end)` of usable standby memory: cut at the identity map's end (mem=) and to
    /// whole memory blocks. 6.x added it all at boot.
    pub added: (u64, u64),
    /// 7.x: the standby blocks configured (added) through their config file.
    pub configured: std::collections::BTreeSet<BlockId>,
    /// 7.x: the standby blocks whose memmap_on_memory file reads 1.
    pub memmap_on_memory: std::collections::BTreeSet<BlockId>,
}

/// The directory of 7.x's per-block SCLP files.
pub(crate) const FIRMWARE_MEMORY: &str = "/sys/firmware/memory";

impl Machine {
    /// sclp_detect_standby_memory() and add_memory_merged() at boot: `bytes` of standby
    /// storage after the boot RAM, cut where mem= ends the identity map, aligned to memory
    /// blocks (the line says how much of it is usable), each block its own add_memory()
    /// (6.8 on: MHP_MEMMAP_ON_MEMORY | MHP_OFFLINE_INACCESSIBLE).
    pub(crate) fn sclp_add_standby_memory(&mut self, bytes: u64) -> Result<()> {
        let driver = self.target.arch().hotplug_driver(self.target.kernel);
        if !driver.drivers.contains(&arch::PlatformDriver::Sclp) {
            return Err(MmError::Invalid(format!(
                "standby memory is what an s390 LPAR or z/VM reports through the SCLP; {} has \
                 none (plug memory with m.plug instead)",
                self.target.name()
            )));
        }
        let rzm = self
            .cmdline
            .firmware_block_size
            .or_else(|| self.target.arch().firmware_block_size(self.boot.ram_bytes))
            .unwrap_or(self.u.block_size);
        let bs = self.u.block_size;
        let ram_end = self.boot.ram.last().map_or(0, |r| r.1);
        // The increments after the assigned ones (rn2addr()).
        let start = ram_end.next_multiple_of(rzm);
        let size = bytes / rzm * rzm;
        if size == 0 {
            return Err(MmError::Invalid(format!(
                "standby memory of {} is less than one storage increment ({})",
                arch::human(bytes),
                arch::human(rzm)
            )));
        }
        // ident_map_size: mem= cuts standby memory too; without it the identity map covers
        // every increment.
        let ident = self.cmdline.mem_limit.unwrap_or(u64::MAX);
        let (lo, hi) = self.pluggable_range();
        let mut added = (start, start);
        if start < ident {
            let end = start.saturating_add(size).min(ident);
            let usable_start = start.next_multiple_of(bs);
            let usable_end = end / bs * bs;
            let usable = usable_end.saturating_sub(usable_start);
            let sysfs = self.target.kernel.sclp_standby_sysfs;
            self.log(format!(
                "{}: Standby memory at {start:#x} ({}M of {}M usable)",
                if sysfs { "sclp_mem" } else { "sclp_cmd" },
                usable >> 20,
                (end - start) >> 20
            ));
            if usable_start < lo || usable_end.saturating_sub(1) > hi {
                return Err(MmError::TooBig(format!(
                    "standby memory up to {usable_end:#x} is past what the machine can address \
                     ({hi:#x})"
                )));
            }
            if usable > 0 && sysfs {
                added = (usable_start, usable_end);
            } else if usable > 0 {
                let opts = AddOptions {
                    platform: Some(arch::PlatformDriver::Sclp),
                    ..AddOptions::default()
                };
                self.add_memory_per_block(usable_start, usable, &opts)?;
                added = (usable_start, usable_end);
            }
        }
        // sclp_create_standby_mems(): memmap_on_memory starts as what
        // mhp_supports_memmap_on_memory() says.
        let mom =
            self.target.kernel.sclp_standby_sysfs && self.mhp_supports_memmap_on_memory().is_ok();
        let bs = self.u.block_size;
        let memmap_on_memory = if mom {
            (added.0 / bs..added.1 / bs).map(BlockId).collect()
        } else {
            Default::default()
        };
        self.state.standby = Some(Standby {
            start,
            size,
            rzm,
            added,
            configured: Default::default(),
            memmap_on_memory,
        });
        Ok(())
    }

    /// Whether this machine has 7.x's /sys/firmware/memory files.
    pub(crate) fn sclp_mem_files(&self) -> bool {
        self.target.kernel.sclp_standby_sysfs
            && self
                .target
                .arch()
                .hotplug_driver(self.target.kernel)
                .drivers
                .contains(&arch::PlatformDriver::Sclp)
    }

    /// The blocks /sys/firmware/memory has a directory for: every boot block (configured)
    /// and every usable standby block.
    pub(crate) fn sclp_mem_dir(&self, id: BlockId) -> bool {
        if !self.sclp_mem_files() {
            return false;
        }
        let boot = self.state.blocks.get(&id).is_some_and(|b| b.early);
        boot || self.standby_block(id)
    }

    /// Whether block `id` lies in the usable standby memory.
    fn standby_block(&self, id: BlockId) -> bool {
        let at = self.u.block_start(id);
        self.state
            .standby
            .as_ref()
            .is_some_and(|s| s.added.0 <= at && at < s.added.1)
    }

    /// memoryN/config: 1 for boot memory and configured standby memory.
    pub(crate) fn sclp_config(&self, id: BlockId) -> bool {
        !self.standby_block(id)
            || self
                .state
                .standby
                .as_ref()
                .is_some_and(|s| s.configured.contains(&id))
    }

    /// memoryN/memmap_on_memory (0 for boot memory).
    pub(crate) fn sclp_memmap_on_memory(&self, id: BlockId) -> bool {
        self.state
            .standby
            .as_ref()
            .is_some_and(|s| s.memmap_on_memory.contains(&id))
    }

    /// sclp_config_mem_store(): 1 assigns the block's increments and adds it (__add_memory()
    /// with MHP_MEMMAP_ON_MEMORY if its memmap_on_memory file says so; auto_online_blocks
    /// then onlines it); 0 needs it offline (EBUSY) and unassigns and removes it. Writing
    /// what it is changes nothing.
    pub(crate) fn sclp_set_config(&mut self, id: BlockId, v: &str) -> Result<()> {
        let value = crate::cmdline::kstrtobool(v).ok_or_else(|| {
            MmError::Invalid(format!("{} is not a boolean", crate::error::quote(v)))
        })?;
        if value == self.sclp_config(id) {
            return Ok(());
        }
        let bs = self.u.block_size;
        let at = self.u.block_start(id);
        if !self.standby_block(id) {
            // Deconfiguring boot memory: __remove_memory() of an early block, which the
            // model does not do.
            return Err(MmError::NotSupported(format!(
                "memory{} is boot memory: deconfiguring it (__remove_memory() of early \
                 sections) is not modelled",
                id.0
            )));
        }
        let fp = self.footprint(at, at + bs);
        if value {
            let mom = self.sclp_memmap_on_memory(id);
            self.transaction(fp, |m| {
                m.add_memory(
                    at,
                    bs,
                    &AddOptions {
                        memmap_on_memory: Some(mom),
                        platform: Some(arch::PlatformDriver::Sclp),
                        ..AddOptions::default()
                    },
                )?;
                if let Some(s) = m.state.standby.as_mut() {
                    s.configured.insert(id);
                }
                Ok(())
            })
        } else {
            if self.state.blocks.get(&id).map(|b| b.state) != Some(BlockState::Offline) {
                return Err(MmError::Busy(format!(
                    "memory{} is online: offline it before deconfiguring it",
                    id.0
                )));
            }
            self.transaction(fp, |m| {
                m.remove_memory_locked(at, bs)?;
                if let Some(s) = m.state.standby.as_mut() {
                    s.configured.remove(&id);
                }
                Ok(())
            })
        }
    }

    /// sclp_memmap_on_memory_store(): EOPNOTSUPP for 1 where memmap_on_memory cannot be
    /// used, EBUSY once the block is added.
    pub(crate) fn sclp_set_memmap_on_memory(&mut self, id: BlockId, v: &str) -> Result<()> {
        let value = crate::cmdline::kstrtobool(v).ok_or_else(|| {
            MmError::Invalid(format!("{} is not a boolean", crate::error::quote(v)))
        })?;
        if value {
            if let Err(why) = self.mhp_supports_memmap_on_memory() {
                return Err(MmError::NotSupported(format!(
                    "memmap_on_memory cannot be used here: {why}"
                )));
            }
        }
        if self.state.blocks.contains_key(&id) {
            return Err(MmError::Busy(format!(
                "memory{} is added: its memmap placement is fixed",
                id.0
            )));
        }
        if let Some(s) = self.state.standby.as_mut() {
            if value {
                s.memmap_on_memory.insert(id);
            } else {
                s.memmap_on_memory.remove(&id);
            }
        }
        Ok(())
    }

    /// Whether block `id` is standby memory the SCLP driver added with its memmap on an
    /// altmap that is inaccessible while offline (MHP_OFFLINE_INACCESSIBLE from 6.8: the
    /// altmap's pages are initialised in MEM_PREPARE_ONLINE; without an altmap the flag
    /// changes nothing).
    pub(crate) fn standby_inaccessible(&self, id: BlockId) -> bool {
        let at = self.u.block_start(id);
        self.state
            .standby
            .as_ref()
            .is_some_and(|s| s.added.0 <= at && at < s.added.1)
            && self
                .state
                .blocks
                .get(&id)
                .is_some_and(|b| b.nr_vmemmap_pages() > 0)
            && self
                .target
                .arch()
                .hotplug_driver(self.target.kernel)
                .offline_inaccessible
    }

    /// The standby blocks in `state`, ascending.
    pub(crate) fn standby_blocks(&self, state: BlockState) -> Vec<BlockId> {
        let Some(s) = self.state.standby.as_ref() else {
            return Vec::new();
        };
        let (a, b) = (
            self.u.block_of_phys(s.added.0),
            self.u.block_of_phys(s.added.1),
        );
        self.state
            .blocks
            .range(a..b)
            .filter(|(_, blk)| blk.state == state)
            .map(|(id, _)| *id)
            .collect()
    }

    /// `chmem -e SIZE`: online (write "online" to the state of) the lowest offline standby
    /// blocks, `size` of them; MEM_PREPARE_ONLINE (MEM_GOING_ONLINE on 6.1) assigns their
    /// increments. All of them or none: chmem would enable what it could and say "Could
    /// only enable ..." (util-linux sys-utils/chmem.c).
    pub(crate) fn sclp_plug(&mut self, size: u64) -> Result<crate::platform::PlatformDevice> {
        let bs = self.u.block_size;
        if self.state.standby.is_none() {
            return Err(MmError::Invalid(
                "this machine has no standby memory: boot with #{ standby: SIZE } (what the \
                 LPAR or z/VM reports)"
                    .to_string(),
            ));
        }
        if size == 0 || !size.is_multiple_of(bs) {
            return Err(MmError::Invalid(format!(
                "chmem: Size must be aligned to memory block size ({})",
                arch::approx(bs)
            )));
        }
        let want = (size / bs) as usize;
        let sysfs = self.target.kernel.sclp_standby_sysfs;
        // 7.x: the deconfigured standby blocks (chmem configures, then onlines); 6.x: the
        // offline ones.
        let offline = if sysfs {
            self.standby_deconfigured()
        } else {
            self.standby_blocks(BlockState::Offline)
        };
        if offline.len() < want {
            return Err(MmError::Invalid(format!(
                "{} of standby memory is offline, not {}: chmem -e would enable that much and \
                 say \"Could only enable {} of memory\"",
                arch::approx(offline.len() as u64 * bs),
                arch::approx(size),
                arch::approx(offline.len() as u64 * bs)
            )));
        }
        let ids: Vec<BlockId> = offline[..want].to_vec();
        let (s, e) = (
            self.u.block_start(ids[0]),
            self.u.block_start(ids[want - 1]) + bs,
        );
        let fp = self.footprint(s, e);
        self.transaction(fp, |m| {
            for &id in &ids {
                m.tick()?;
                if sysfs {
                    m.sclp_set_config(id, "1")?;
                }
                if m.state.blocks.get(&id).map(|b| b.state) == Some(BlockState::Offline) {
                    m.memory_block_online(id, crate::cmdline::OnlineType::Online)?;
                }
            }
            Ok(())
        })?;
        self.record_device(arch::PlatformDriver::Sclp, 0, ids)
            .ok_or_else(|| MmError::Invalid("no standby block was onlined".to_string()))
    }

    /// The usable standby blocks 7.x's config file says are deconfigured, ascending.
    fn standby_deconfigured(&self) -> Vec<BlockId> {
        let Some(s) = self.state.standby.as_ref() else {
            return Vec::new();
        };
        let bs = self.u.block_size;
        (s.added.0 / bs..s.added.1 / bs)
            .map(BlockId)
            .filter(|id| !s.configured.contains(id))
            .collect()
    }

    /// `chmem -d` of a device's blocks: offline each (MEM_FINISH_OFFLINE unassigns its
    /// increments; 7.x: then deconfigure it, which removes it), highest first; all or
    /// none.
    pub(crate) fn sclp_unplug(&mut self, dev: &crate::platform::PlatformDevice) -> Result<()> {
        let ids: Vec<BlockId> = dev
            .blocks
            .iter()
            .rev()
            .copied()
            .filter(|id| match self.state.blocks.get(id).map(|b| b.state) {
                Some(BlockState::Online) => true,
                // 7.x deconfigures what is offline too.
                Some(_) => self.target.kernel.sclp_standby_sysfs,
                None => false,
            })
            .collect();
        self.sclp_disable(&ids)?;
        self.state.devices.remove(&dev.id);
        Ok(())
    }

    /// `chmem -d` of `count` blocks: the highest online standby blocks.
    pub(crate) fn sclp_disable_count(&mut self, count: u64) -> Result<()> {
        let online = self.standby_blocks(BlockState::Online);
        if (online.len() as u64) < count || count == 0 {
            return Err(MmError::Invalid(format!(
                "{} standby blocks are online; cannot disable {count}",
                online.len()
            )));
        }
        let ids: Vec<BlockId> = online.iter().rev().take(count as usize).copied().collect();
        self.sclp_disable(&ids)?;
        self.forget_device_blocks(&ids);
        Ok(())
    }

    fn sclp_disable(&mut self, ids: &[BlockId]) -> Result<()> {
        let Some((&hi, &lo)) = ids.first().zip(ids.last()) else {
            return Ok(());
        };
        let bs = self.u.block_size;
        let fp = self.offline_footprint(self.u.block_start(lo), self.u.block_start(hi) + bs);
        let sysfs = self.target.kernel.sclp_standby_sysfs;
        self.transaction(fp, |m| {
            for &id in ids {
                m.tick()?;
                if m.state.blocks.get(&id).map(|b| b.state) == Some(BlockState::Online) {
                    m.memory_block_offline(id)?;
                }
                if sysfs {
                    m.sclp_set_config(id, "0")?;
                }
            }
            Ok(())
        })
    }
}
