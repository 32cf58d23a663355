//! Platforms that add memory a block per add_memory() call. pseries DLPAR
//! (arch/powerpc/platforms/pseries/hotplug-memory.c): memory comes and goes as LMBs, by
//! count, by DRC index or by indexed count (a QEMU DIMM), each LMB added with its own
//! __add_memory() and onlined before the next (dlpar_add_lmb()), each removed with its own
//! __remove_memory() after the driver offlined it. s390 standby memory (add_memory_merged()
//! in drivers/s390/char/sclp_cmd.c): each block of a run of standby increments is its own
//! add_memory().

use crate::error::{MmError, Result};
use crate::hotplug::{AddOptions, AddReport};
use crate::machine::Machine;
use crate::memory_block::BlockState;

const PREFIX: &str = "pseries-hotplug-mem: ";

impl Machine {
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
            platform: Some(arch::PlatformDriver::Dlpar),
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
            let fp = self.offline_footprint(start, start + size);
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
            let fp = self.offline_footprint(start, start + size);
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
                    if !self.add_lmb_back(back, 0, drc) {
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

impl Machine {
    /// What dlpar_add_lmb() passes to __add_memory(): MHP_MEMMAP_ON_MEMORY, the LMB's node.
    fn lmb_options(nid: u16) -> AddOptions {
        AddOptions {
            node: Some(nid),
            platform: Some(arch::PlatformDriver::Dlpar),
            ..AddOptions::default()
        }
    }

    /// The LMBs the partition's dynamic memory lists: every memory block from the hot-plug
    /// area's start to the end of addressable memory, `[first, end)`.
    fn lmb_table(&self) -> (u64, u64) {
        let bs = self.u.block_size;
        let (_, hi) = self.pluggable_range();
        let first = self.boot.hotplug_base.div_ceil(bs);
        (first, (hi / bs + 1).max(first))
    }

    /// The DLPAR request `plug` stands for: by indexed count where a place is given (QEMU's
    /// DIMM, `start` or `index` with `count`), by count (`count` alone: drmgr -c mem -a -q
    /// N), by index (`index` alone). What drmgr asks for goes through /sys/kernel/dlpar,
    /// whose dlpar_store() says which request failed; QEMU's DIMM comes as a hotplug event,
    /// which does not.
    pub(crate) fn dlpar_plug(
        &mut self,
        size: u64,
        o: &crate::platform::PlugOptions,
    ) -> Result<crate::platform::PlatformDevice> {
        let request = match (o.count, o.index) {
            (Some(c), Some(i)) => Some(format!("memory add indexed-count {c} {i:#x}")),
            (Some(c), None) if o.start.is_none() => Some(format!("memory add count {c}")),
            (None, Some(i)) => Some(format!("memory add index {i:#x}")),
            _ => None,
        };
        let r = self.dlpar_plug_request(size, o);
        if let (Err(e), Some(req)) = (&r, request) {
            self.dlpar_store_failed(e, &req);
        }
        r
    }

    /// dlpar_store()'s line for a request written to /sys/kernel/dlpar that failed (drmgr
    /// writes it without a newline; `echo` adds one, which the kernel prints too).
    fn dlpar_store_failed(&mut self, e: &MmError, request: &str) {
        if !e.is_stopped() {
            self.log(format!(
                "dlpar: Could not handle DLPAR request \"{request}\""
            ));
        }
    }

    /// A drmgr removal by count (`drmgr -c mem -r -q N`, "memory remove count N").
    pub(crate) fn dlpar_remove_count_request(&mut self, count: u64) -> Result<()> {
        let r = self.dlpar_remove_by_count(count);
        if let Err(e) = &r {
            self.dlpar_store_failed(e, &format!("memory remove count {count}"));
        }
        r
    }

    fn dlpar_plug_request(
        &mut self,
        size: u64,
        o: &crate::platform::PlugOptions,
    ) -> Result<crate::platform::PlatformDevice> {
        let bs = self.u.block_size;
        if o.region.is_some() {
            return Err(MmError::Invalid(
                "DLPAR adds LMBs: give a size, or a count, and optionally start or index"
                    .to_string(),
            ));
        }
        let count = match (o.count, size) {
            (Some(c), 0) => c,
            (Some(c), s) if Some(s) == c.checked_mul(bs) => c,
            (Some(c), s) => {
                return Err(MmError::Invalid(format!(
                    "{c} LMBs are {}, not {}",
                    arch::approx(c.saturating_mul(bs)),
                    arch::approx(s)
                )))
            }
            (None, s) if s.is_multiple_of(bs) => s / bs,
            (None, s) => {
                return Err(MmError::Invalid(format!(
                    "DLPAR adds whole LMBs of {}: {} is not a multiple",
                    arch::approx(bs),
                    arch::approx(s)
                )))
            }
        };
        let nid = o.node.filter(|&n| n < self.boot.nr_nodes).unwrap_or(0);
        let base = self
            .target
            .arch()
            .hotplug_driver(self.target.kernel)
            .lmb_drc_base
            .unwrap_or(0);
        let (first, end) = self.lmb_table();
        let lmb_of_index = |idx: u32| -> Option<u64> {
            let n = u64::from(idx.checked_sub(base)?);
            (first..end).contains(&n).then_some(n)
        };
        let start = match (o.index, o.start) {
            (Some(_), Some(_)) => {
                return Err(MmError::Invalid(
                    "give either start or index, not both".to_string(),
                ))
            }
            (Some(idx), None) if o.count.is_none() && size <= bs => {
                return self.dlpar_memory_add_by_index(idx, lmb_of_index(idx), nid);
            }
            (Some(idx), None) => match lmb_of_index(idx) {
                Some(n) => Some(n * bs),
                None => {
                    self.log(format!(
                        "{PREFIX}Attempting to hot-add {count} LMB(s) at index {idx:x}"
                    ));
                    return Err(MmError::Invalid(format!(
                        "no LMB has DRC index {idx:#x} (they run from {:#x} to {:#x})",
                        base as u64 + first,
                        base as u64 + end - 1
                    )));
                }
            },
            (None, Some(s)) => Some(s),
            (None, None) if o.count.is_some() => None,
            (None, None) => Some(self.free_hotplug_range(count.saturating_mul(bs))?),
        };
        if count == 0 {
            return Err(MmError::Invalid("a DLPAR request for 0 LMBs".to_string()));
        }
        match start {
            Some(s) => {
                let size = count.saturating_mul(bs);
                let opts = Self::lmb_options(nid);
                let r = self
                    .add_memory_platform(s, size, |m| m.dlpar_memory_add_by_ic(s, size, &opts))?;
                self.record_device(arch::PlatformDriver::Dlpar, nid, r.blocks)
                    .ok_or_else(|| MmError::Invalid("no LMB was added".to_string()))
            }
            None => self.dlpar_memory_add_by_count(count, nid),
        }
    }

    /// dlpar_memory_add_by_count(): the first `count` LMBs of the table not assigned, each
    /// added and onlined on its own; one that fails is skipped; if fewer than `count` could
    /// be added, the ones that were are removed again and the request fails (-EINVAL).
    fn dlpar_memory_add_by_count(
        &mut self,
        count: u64,
        nid: u16,
    ) -> Result<crate::platform::PlatformDevice> {
        self.log(format!("{PREFIX}Attempting to hot-add {count} LMB(s)"));
        let bs = self.u.block_size;
        let (first, end) = self.lmb_table();
        let assigned = self
            .state
            .blocks
            .range(crate::units::BlockId(first)..crate::units::BlockId(end))
            .count() as u64;
        if (end - first).saturating_sub(assigned) < count {
            return Err(MmError::Invalid(format!(
                "{count} LMBs asked for, {} are free",
                (end - first).saturating_sub(assigned)
            )));
        }
        let fp = self.footprint(first * bs, end.saturating_mul(bs));
        let mut last_error: Option<MmError> = None;
        let r = self.transaction(fp, |m| {
            let mut added = Vec::new();
            let mut n = first;
            while n < end && (added.len() as u64) < count {
                m.tick()?;
                let id = crate::units::BlockId(n);
                if m.state.blocks.contains_key(&id) {
                    // Assigned already (or added by another driver: __add_memory() would
                    // refuse it, and the driver goes on to the next).
                    n += 1;
                    continue;
                }
                let at = n * bs;
                let drc = m.lmb_drc_index(at).unwrap_or(0);
                let fp = m.footprint(at, at + bs);
                let one = m.transaction(fp, |m| {
                    m.add_memory_lmb(at, bs, &Self::lmb_options(nid), drc)
                });
                match one {
                    Ok(r) => added.extend(r.blocks),
                    Err(e) if e.is_stopped() => return Err(e),
                    Err(e) => last_error = Some(e),
                }
                n += 1;
            }
            if (added.len() as u64) < count {
                m.log(format!(
                    "{PREFIX}Memory hot-add failed, removing any added LMBs"
                ));
                return Err(MmError::Invalid(format!(
                    "{} of {count} LMBs could be added ({}); the driver removed them again",
                    added.len(),
                    last_error
                        .as_ref()
                        .map_or("no free LMB left", |e| e.reason())
                )));
            }
            Ok(added)
        })?;
        self.record_device(arch::PlatformDriver::Dlpar, nid, r)
            .ok_or_else(|| MmError::Invalid("no LMB was added".to_string()))
    }

    /// dlpar_memory_add_by_index(): the one LMB of DRC index `idx` (`lmb` its number, if
    /// the table has it).
    fn dlpar_memory_add_by_index(
        &mut self,
        idx: u32,
        lmb: Option<u64>,
        nid: u16,
    ) -> Result<crate::platform::PlatformDevice> {
        self.log(format!(
            "{PREFIX}Attempting to hot-add LMB, drc index {idx:x}"
        ));
        let bs = self.u.block_size;
        let r = match lmb {
            None => Err(MmError::Invalid(format!("no LMB has DRC index {idx:#x}"))),
            Some(n) if self.state.blocks.contains_key(&crate::units::BlockId(n)) => Err(
                MmError::Invalid(format!("the LMB of DRC index {idx:#x} is assigned already")),
            ),
            Some(n) => {
                let at = n * bs;
                let fp = self.footprint(at, at + bs);
                self.transaction(fp, |m| {
                    m.add_memory_lmb(at, bs, &Self::lmb_options(nid), idx)
                })
            }
        };
        match r {
            Ok(r) => {
                let at = lmb.unwrap_or(0) * bs;
                self.log(format!(
                    "{PREFIX}Memory at {at:x} (drc index {idx:x}) was hot-added"
                ));
                self.record_device(arch::PlatformDriver::Dlpar, nid, r.blocks)
                    .ok_or_else(|| MmError::Invalid("no LMB was added".to_string()))
            }
            Err(e) => {
                if !e.is_stopped() {
                    self.log(format!(
                        "{PREFIX}Failed to hot-add memory, drc index {idx:x}"
                    ));
                }
                Err(e)
            }
        }
    }

    /// A DLPAR device unplugged as QEMU's device_del asks: its LMBs by indexed count, run
    /// by run.
    pub(crate) fn dlpar_unplug(&mut self, dev: &crate::platform::PlatformDevice) -> Result<()> {
        let bs = self.u.block_size;
        let addrs: Vec<u64> = dev.blocks.iter().map(|&b| self.u.block_start(b)).collect();
        // One indexed-count request per run of consecutive LMBs (a device plugged by count
        // may have gaps): a run that fails after earlier ones went leaves those removed.
        let mut done = 0u64;
        for (s, e) in runs_of(&addrs, bs) {
            if let Err(err) = self.dlpar_memory_remove_by_ic(s, e - s) {
                if done == 0 || err.is_stopped() {
                    return Err(err);
                }
                return Err(MmError::Redone(format!(
                    "{}; the {done} LMBs of device {} before it went by their own requests \
                     and stay removed",
                    err.reason(),
                    dev.id
                )));
            }
            done += (e - s) / bs;
            let gone: Vec<crate::units::BlockId> =
                (s / bs..e / bs).map(crate::units::BlockId).collect();
            self.forget_device_blocks(&gone);
        }
        Ok(())
    }

    /// dlpar_memory_remove_by_count(): the first `count` removable LMBs (those DLPAR
    /// assigned), lowest first, each offlined by the driver and removed; one that will not
    /// go is skipped; if fewer than `count` went, they are added back (and onlined) and the
    /// request fails (-EINVAL).
    fn dlpar_remove_by_count(&mut self, count: u64) -> Result<()> {
        self.log(format!("{PREFIX}Attempting to hot-remove {count} LMB(s)"));
        if count == 0 {
            return Err(MmError::Invalid("a DLPAR request for 0 LMBs".to_string()));
        }
        let bs = self.u.block_size;
        let mut lmbs: Vec<crate::units::BlockId> = self
            .state
            .devices
            .values()
            .filter(|d| d.driver == arch::PlatformDriver::Dlpar)
            .flat_map(|d| d.blocks.iter().copied())
            .collect();
        lmbs.sort_unstable();
        if (lmbs.len() as u64) < count {
            self.log(format!(
                "{PREFIX}Not enough LMBs available ({} of {count}) to satisfy request",
                lmbs.len()
            ));
            return Err(MmError::Invalid(format!(
                "{count} LMBs asked for, {} are removable (only LMBs DLPAR added are)",
                lmbs.len()
            )));
        }
        let mut removed: Vec<crate::units::BlockId> = Vec::new();
        let mut last_error: Option<MmError> = None;
        for &id in &lmbs {
            self.tick()?;
            let at = self.u.block_start(id);
            let online = self.state.blocks.get(&id).map(|b| b.state) == Some(BlockState::Online);
            let fp = self.offline_footprint(at, at + bs);
            let r = self.transaction(fp, |m| {
                if online {
                    m.offline(at, bs)?;
                }
                m.remove_memory_locked(at, bs)
            });
            match r {
                Ok(()) => removed.push(id),
                Err(e) if e.is_stopped() => return Err(e),
                Err(e) => last_error = Some(e),
            }
            if removed.len() as u64 == count {
                break;
            }
        }
        if (removed.len() as u64) < count {
            self.log(format!(
                "{PREFIX}Memory hot-remove failed, adding LMB's back"
            ));
            for &id in &removed {
                let at = self.u.block_start(id);
                let drc = self.lmb_drc_index(at).unwrap_or(0);
                let nid = self.node_of_device_block(id);
                if !self.add_lmb_back(at, nid, drc) {
                    self.log(format!("{PREFIX}Failed to add LMB back, drc index {drc:x}"));
                }
            }
            let why = last_error.as_ref().map_or("", |e| e.reason()).to_string();
            return Err(if removed.is_empty() {
                MmError::Invalid(format!("no LMB could be removed ({why})"))
            } else {
                MmError::Redone(format!(
                    "{} of {count} LMBs could be removed ({why}); they were added back and onlined, as the driver does",
                    removed.len()
                ))
            });
        }
        for &id in &removed {
            self.log(format!(
                "{PREFIX}Memory at {:x} was hot-removed",
                self.u.block_start(id)
            ));
        }
        self.forget_device_blocks(&removed);
        Ok(())
    }

    /// dlpar_add_lmb() of an LMB a failed removal took: whole or not at all (a failed add
    /// removes what it added); an LMB that does not come back is no longer assigned, so no
    /// device holds it any more. Whether it came back.
    fn add_lmb_back(&mut self, at: u64, nid: u16, drc: u32) -> bool {
        let bs = self.u.block_size;
        let fp = self.footprint(at, at + bs);
        let back = self
            .transaction(fp, |m| {
                m.add_memory_lmb(at, bs, &Self::lmb_options(nid), drc)
            })
            .is_ok();
        if !back {
            self.forget_device_blocks(&[self.u.block_of_phys(at)]);
        }
        back
    }

    /// The node of the device holding block `id` (0 if none does).
    fn node_of_device_block(&self, id: crate::units::BlockId) -> u16 {
        self.state
            .devices
            .values()
            .find(|d| d.blocks.contains(&id))
            .map_or(0, |d| d.node)
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
