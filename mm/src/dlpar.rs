//! Platforms that add memory a block per add_memory() call. pseries DLPAR
//! (arch/powerpc/platforms/pseries/hotplug-memory.c): a DIMM comes and goes as a run of LMBs,
//! each added with its own __add_memory() and onlined before the next (dlpar_memory_add_by_ic(),
//! dlpar_add_lmb()), each removed with its own __remove_memory(). s390 standby memory
//! (add_memory_merged() in drivers/s390/char/sclp_cmd.c): each block of a run of standby
//! increments is its own add_memory().

use crate::error::{MmError, Result};
use crate::hotplug::{AddOptions, AddReport};
use crate::machine::Machine;
use crate::memory_block::BlockState;

const PREFIX: &str = "pseries-hotplug-mem: ";

impl Machine {
    /// Whether the platform's driver adds `[start, start + size)` a memory block per call.
    pub(crate) fn adds_per_block(&self, start: u64, size: u64) -> bool {
        let bs = self.u.block_size;
        self.target
            .arch()
            .hotplug_driver(self.target.kernel)
            .adds_per_block
            && size > 0
            && start.checked_add(size).is_some()
            && start.is_multiple_of(bs)
            && size.is_multiple_of(bs)
    }

    /// Whether the RAM resource holding `start` is the platform driver's plain "System RAM"
    /// (not a driver-managed one such as kmem's).
    pub(crate) fn platform_ram_at(&self, start: u64) -> bool {
        self.state
            .iomem
            .ram_at(start)
            .is_some_and(|r| &*r.name == "System RAM")
    }

    /// add_memory() once per memory block of `[start, start + size)`, each block with its own
    /// resource (s390's add_memory_merged()). Runs inside the caller's transaction. The
    /// blocks' adds are independent, so the model adds the range as one run (the chunked
    /// path the per-block reference checks) and splits its resource per block; where
    /// memmap_on_memory would depend on the size of each call, or the range collides with
    /// another resource, it adds block by block.
    pub(crate) fn add_memory_per_block(
        &mut self,
        start: u64,
        size: u64,
        opts: &AddOptions,
    ) -> Result<AddReport> {
        let bs = self.u.block_size;
        let requested = opts.memmap_on_memory.unwrap_or(
            self.target
                .arch()
                .hotplug_driver(self.target.kernel)
                .requests_memmap_on_memory,
        );
        // A range that collides with a resource goes block by block, so the error is the
        // failing block's own request.
        let collides = self.state.iomem.conflict(start, size).is_some();
        if !collides && (!requested || self.target.kernel.memmap_on_memory_per_block) {
            let r = self.add_memory_locked(start, size, opts)?;
            self.state.iomem.split_ram(start, size, bs);
            return Ok(r);
        }
        let mut total: Option<AddReport> = None;
        for i in 0..size / bs {
            let r = self.add_memory_locked(start + i * bs, bs, opts)?;
            match total.as_mut() {
                None => total = Some(r),
                Some(t) => t.absorb(r),
            }
        }
        total.ok_or_else(|| MmError::Invalid("no memory block to add".to_string()))
    }

    /// remove_memory() once per memory block, so that each block's resource goes whole; all
    /// or nothing (no kernel path removes s390 standby memory, so the model decides). Where
    /// the blocks' resources tile the range, it goes as one run; else block by block, last
    /// first.
    pub(crate) fn remove_memory_per_block(&mut self, start: u64, size: u64) -> Result<()> {
        let bs = self.u.block_size;
        let fp = self.footprint(start, start + size);
        // remove_memory_locked() checks everything before it changes anything: if it
        // refuses, splitting the resources again is all there is to undo.
        if let Some(pieces) = self.state.iomem.merge_ram_run(start, size) {
            return self.remove_memory_locked(start, size).inspect_err(|_| {
                self.state.iomem.unmerge_ram_run(pieces);
            });
        }
        self.transaction(fp, |m| {
            (0..size / bs)
                .rev()
                .try_for_each(|i| m.remove_memory_locked(start + i * bs, bs))
        })
    }

    /// The DRC index of the LMB at `addr`, where the platform adds memory an LMB at a time.
    pub(crate) fn lmb_drc_index(&self, addr: u64) -> Option<u32> {
        let base = self
            .target
            .arch()
            .hotplug_driver(self.target.kernel)
            .lmb_drc_base?;
        Some(base | (addr / self.u.block_size) as u32)
    }

    /// dlpar_memory_add_by_ic(): add and online `[start, start + size)` LMB by LMB; if one
    /// fails, the driver removes the ones it added and returns -EINVAL, whose reason here
    /// carries the failing LMB's own error. Runs inside the caller's transaction, which puts
    /// everything back on failure as the driver's removals do.
    pub(crate) fn dlpar_memory_add_by_ic(
        &mut self,
        start: u64,
        size: u64,
        opts: &AddOptions,
    ) -> Result<AddReport> {
        let bs = self.u.block_size;
        let n = size / bs;
        let drc0 = self.lmb_drc_index(start).unwrap_or(0);
        self.log(format!(
            "{PREFIX}Attempting to hot-add {n} LMB(s) at index {drc0:x}"
        ));
        // dlpar_add_lmb(): a node that is not possible falls back to the first online one.
        let nid = opts.node.filter(|&n| n < self.boot.nr_nodes).unwrap_or(0);
        let lmb_opts = AddOptions {
            node: Some(nid),
            ..opts.clone()
        };
        let mut total: Option<AddReport> = None;
        for i in 0..n {
            let at = start + i * bs;
            let drc = drc0 + i as u32;
            let r = self.add_memory_lmb(at, bs, &lmb_opts, drc).map_err(|e| {
                if e.is_stopped() {
                    return e;
                }
                self.log(format!(
                    "{PREFIX}Memory indexed-count-add failed, removing any added LMBs"
                ));
                MmError::Invalid(if i == 0 {
                    format!("the LMB at {at:#x} could not be added ({e})")
                } else {
                    format!(
                        "the LMB at {at:#x} could not be added ({e}); the driver removed the {i} \
                         added before it"
                    )
                })
            })?;
            match total.as_mut() {
                None => total = Some(r),
                Some(t) => t.absorb(r),
            }
        }
        for i in 0..n {
            self.log(format!(
                "{PREFIX}Memory at {:x} (drc index {:x}) was hot-added",
                start + i * bs,
                drc0 + i as u32
            ));
        }
        total.ok_or_else(|| MmError::Invalid("no LMB to add".to_string()))
    }

    /// dlpar_add_lmb(): __add_memory() of one LMB, then dlpar_online_lmb().
    fn add_memory_lmb(
        &mut self,
        at: u64,
        bs: u64,
        opts: &AddOptions,
        drc: u32,
    ) -> Result<AddReport> {
        let nid = opts.node.unwrap_or(0);
        let online_failed = |m: &Machine| {
            m.dmesg
                .last()
                .is_some_and(|l| l.contains("Failed to online LMB"))
        };
        let r = self.add_memory_locked(at, bs, opts);
        if r.is_err() && !online_failed(self) {
            self.log(format!("{PREFIX}Failed to add LMB {drc:#x} to node {nid}"));
        }
        r
    }

    /// dlpar_memory_remove_by_ic(): remove `[start, start + size)` LMB by LMB: each is
    /// offlined by the driver itself if it is online (dlpar_remove_lmb() calls
    /// dlpar_offline_lmb(), a device_offline()), then goes through its own __remove_memory(),
    /// so that each LMB's resource goes whole; an LMB that is not there is skipped. If one
    /// cannot go, the driver adds back the ones it removed with dlpar_add_lmb(), which
    /// onlines each (whether or not it was online before), and returns -EINVAL
    /// (arch/powerpc/platforms/pseries/hotplug-memory.c).
    pub(crate) fn dlpar_memory_remove_by_ic(&mut self, start: u64, size: u64) -> Result<()> {
        let bs = self.u.block_size;
        let n = size / bs;
        let drc0 = self.lmb_drc_index(start).unwrap_or(0);
        self.log(format!(
            "{PREFIX}Attempting to hot-remove {n} LMB(s) at {drc0:x}"
        ));
        // Every LMB there, offlined and removed as one run: the end state and log of the
        // LMB-by-LMB removal when nothing fails, at the cost of one pass (LMB by LMB, each
        // through its own transaction, costs a copy of the resource tree per LMB). When
        // something fails, the run is undone and the removal goes LMB by LMB, as the driver
        // does, to fail where the driver fails and add back what it had removed.
        let all_there = (0..n).all(|i| {
            self.state
                .blocks
                .contains_key(&self.u.block_of_phys(start + i * bs))
        });
        if all_there && n > 1 && !self.per_block_reference {
            // What a failed try leaves besides the state (its log lines, the injected
            // faults it used) goes too: the LMB-by-LMB removal then tells it as the driver.
            let (log_len, clock, faults) = (self.dmesg.len(), self.clock_us, self.faults);
            let fp = self.footprint(start, start + size);
            let run = self.transaction(fp, |m| {
                let online: Vec<u64> = (0..n)
                    .map(|i| start + i * bs)
                    .filter(|&at| {
                        m.state.blocks.get(&m.u.block_of_phys(at)).map(|b| b.state)
                            == Some(BlockState::Online)
                    })
                    .collect();
                for run in runs_of(&online, bs) {
                    m.offline(run.0, run.1 - run.0)?;
                }
                match m.state.iomem.merge_ram_run(start, size) {
                    Some(_) => m.remove_memory_locked(start, size),
                    None => (0..n)
                        .rev()
                        .try_for_each(|i| m.remove_memory_locked(start + i * bs, bs)),
                }
            });
            match run {
                Ok(()) => {
                    for i in 0..n {
                        self.log(format!(
                            "{PREFIX}Memory at {:x} (drc index {:x}) was hot-removed",
                            start + i * bs,
                            drc0 + i as u32
                        ));
                    }
                    return Ok(());
                }
                Err(e) if e.is_stopped() => return Err(e),
                Err(_) => {
                    self.dmesg.truncate(log_len);
                    self.clock_us = clock;
                    self.faults = faults;
                }
            }
        }
        let mut removed: Vec<u64> = Vec::new();
        for i in 0..n {
            self.tick()?;
            let at = start + i * bs;
            let Some(state) = self
                .state
                .blocks
                .get(&self.u.block_of_phys(at))
                .map(|b| b.state)
            else {
                continue;
            };
            // One LMB's offline and removal: the offline fails whole or not at all, and
            // the removal of an offline block cannot fail once its checks pass. Offlining
            // dissolves whole huge pages, which reach past the LMB: the transaction covers
            // the range out to the largest huge page's boundaries.
            let huge = self
                .state
                .hstates
                .iter()
                .map(|h| h.size)
                .max()
                .unwrap_or(bs)
                .max(bs);
            let fp = self.footprint(
                start / huge * huge,
                (start + size).div_ceil(huge).saturating_mul(huge),
            );
            let r = self.transaction(fp, |m| {
                if state == BlockState::Online {
                    m.offline(at, bs)?;
                }
                m.remove_memory_locked(at, bs)
            });
            if let Err(e) = r {
                if e.is_stopped() {
                    return Err(e);
                }
                self.log(format!(
                    "{PREFIX}Memory indexed-count-remove failed, adding any removed LMBs"
                ));
                for &back in &removed {
                    let drc = drc0 + ((back - start) / bs) as u32;
                    if self
                        .add_memory_lmb(back, bs, &AddOptions::default(), drc)
                        .is_err()
                    {
                        self.log(format!("{PREFIX}Failed to add LMB, drc index {drc:x}"));
                    }
                }
                return Err(if removed.is_empty() {
                    MmError::Invalid(format!("the LMB at {at:#x} could not be removed ({e})"))
                } else {
                    MmError::Redone(format!(
                        "the LMB at {at:#x} could not be removed ({e}); the {} removed before \
                         it were added back and onlined, as the driver does",
                        removed.len()
                    ))
                });
            }
            removed.push(at);
        }
        for at in removed {
            self.log(format!(
                "{PREFIX}Memory at {:x} (drc index {:x}) was hot-removed",
                at,
                drc0 + ((at - start) / bs) as u32
            ));
        }
        Ok(())
    }
}

/// Consecutive addresses `step` apart, as `[start, end)` runs.
fn runs_of(addrs: &[u64], step: u64) -> Vec<(u64, u64)> {
    let mut out: Vec<(u64, u64)> = Vec::new();
    for &a in addrs {
        match out.last_mut() {
            Some(r) if r.1 == a => r.1 += step,
            _ => out.push((a, a + step)),
        }
    }
    out
}
