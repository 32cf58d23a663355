//! pseries DLPAR memory (arch/powerpc/platforms/pseries/hotplug-memory.c): a DIMM comes and
//! goes as a run of LMBs, each added with its own __add_memory() and onlined before the next
//! (dlpar_memory_add_by_ic(), dlpar_add_lmb()), each removed with its own __remove_memory().

use crate::error::{MmError, Result};
use crate::hotplug::{AddOptions, AddReport};
use crate::machine::Machine;

const PREFIX: &str = "pseries-hotplug-mem: ";

impl Machine {
    /// The DRC index of the LMB at `addr`, where the platform adds memory an LMB at a time.
    pub(crate) fn lmb_drc_index(&self, addr: u64) -> Option<u32> {
        let base = self.arch.hotplug_driver().lmb_drc_base?;
        Some(base | (addr / self.u.block_size) as u32)
    }

    /// dlpar_memory_add_by_ic(): add and online `[start, start + size)` LMB by LMB; if one
    /// fails, the driver removes the ones it added. The kernel reports any failure to the
    /// hypervisor as EINVAL; the model returns the failing LMB's own error, which says why.
    /// Runs inside the caller's transaction, which puts everything back on failure.
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
            let r = self
                .add_memory_lmb(at, bs, &lmb_opts, drc)
                .inspect_err(|_| {
                    self.log(format!(
                        "{PREFIX}Memory indexed-count-add failed, removing any added LMBs"
                    ));
                })?;
            match total.as_mut() {
                None => total = Some(r),
                Some(t) => {
                    t.size += r.size;
                    t.blocks.extend(r.blocks);
                    t.memmap_buddy_pages += r.memmap_buddy_pages;
                    t.memmap_altmap_pages += r.memmap_altmap_pages;
                    t.pagetable_pages += r.pagetable_pages;
                    t.onlined.extend(r.onlined);
                }
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

    /// dlpar_memory_remove_by_ic(): remove `[start, start + size)` LMB by LMB, each through
    /// its own __remove_memory(), so that each LMB's resource goes whole. If one cannot go,
    /// the driver adds back the ones it removed: a transaction over the range does that here,
    /// and the failing LMB's own error is returned.
    pub(crate) fn dlpar_memory_remove_by_ic(&mut self, start: u64, size: u64) -> Result<()> {
        let bs = self.u.block_size;
        let n = size / bs;
        let drc0 = self.lmb_drc_index(start).unwrap_or(0);
        self.log(format!(
            "{PREFIX}Attempting to hot-remove {n} LMB(s) at {drc0:x}"
        ));
        let ps = self.u.g.page_shift;
        let fp = crate::machine::Footprint {
            start_pfn: start >> ps,
            end_pfn: (start + size) >> ps,
        };
        self.transaction(fp, |m| {
            for i in 0..n {
                m.remove_memory_locked(start + i * bs, bs)
                    .inspect_err(|_| {
                        m.log(format!(
                            "{PREFIX}Memory indexed-count-remove failed, adding any removed LMBs"
                        ));
                    })?;
            }
            Ok(())
        })?;
        for i in 0..n {
            self.log(format!(
                "{PREFIX}Memory at {:x} (drc index {:x}) was hot-removed",
                start + i * bs,
                drc0 + i as u32
            ));
        }
        Ok(())
    }
}
