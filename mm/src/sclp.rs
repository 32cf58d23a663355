//! s390 standby memory (drivers/s390/char/sclp_cmd.c): storage increments the LPAR or z/VM
//! reports as standby at boot, which sclp_detect_standby_memory() adds as offline memory
//! blocks; from then on they are only onlined (the increments assigned, as `chmem -e` asks)
//! and offlined (unassigned, `chmem -d`). No s390 driver ever calls remove_memory().

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
    /// `[start, end)` added as memory blocks: cut at the identity map's end (mem=) and to
    /// whole memory blocks.
    pub added: (u64, u64),
}

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
            self.log(format!(
                "sclp_cmd: Standby memory at {start:#x} ({}M of {}M usable)",
                usable >> 20,
                (end - start) >> 20
            ));
            if usable_start < lo || usable_end.saturating_sub(1) > hi {
                return Err(MmError::TooBig(format!(
                    "standby memory up to {usable_end:#x} is past what the machine can address \
                     ({hi:#x})"
                )));
            }
            if usable > 0 {
                let opts = AddOptions {
                    platform: Some(arch::PlatformDriver::Sclp),
                    ..AddOptions::default()
                };
                self.add_memory_per_block(usable_start, usable, &opts)?;
                added = (usable_start, usable_end);
            }
        }
        self.state.standby = Some(Standby {
            start,
            size,
            rzm,
            added,
        });
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
        let offline = self.standby_blocks(BlockState::Offline);
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
                m.memory_block_online(id, crate::cmdline::OnlineType::Online)?;
            }
            Ok(())
        })?;
        self.record_device(arch::PlatformDriver::Sclp, 0, ids)
            .ok_or_else(|| MmError::Invalid("no standby block was onlined".to_string()))
    }

    /// `chmem -d` of a device's blocks: offline each (MEM_FINISH_OFFLINE unassigns its
    /// increments), highest first; all or none.
    pub(crate) fn sclp_unplug(&mut self, dev: &crate::platform::PlatformDevice) -> Result<()> {
        let ids: Vec<BlockId> = dev
            .blocks
            .iter()
            .rev()
            .copied()
            .filter(|id| self.state.blocks.get(id).map(|b| b.state) == Some(BlockState::Online))
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
        let fp = self.footprint(self.u.block_start(lo), self.u.block_start(hi) + bs);
        self.transaction(fp, |m| {
            for &id in ids {
                m.tick()?;
                m.memory_block_offline(id)?;
            }
            Ok(())
        })
    }
}
