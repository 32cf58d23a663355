//! Onlining and offlining memory blocks (drivers/base/memory.c memory_block_online /
//! memory_block_offline / valid_zones_show; mm/memory_hotplug.c online_pages,
//! offline_pages, zone_for_pfn_range, the contig-zones and auto-movable policies,
//! move_pfn_range_to_zone and shrink_zone_span).

use crate::cmdline::{OnlinePolicy, OnlineType};
use crate::error::{MmError, Result};
use crate::machine::Machine;
use crate::memory_block::{BlockState, MemoryBlock};
use crate::section::{SectionUsage, SECTION_IS_ONLINE};
use crate::units::{BlockId, Pfn, SectionNr};
use arch::ZoneType;

/// What one pass over the blocks of a range online or offline finds.
struct RangeScan {
    /// The first block not in the state the operation starts from.
    wrong_state: Option<BlockId>,
    /// Offline: why the first block that cannot be offlined cannot (offline_pages()'s
    /// checks); it counts only when every block is online.
    blocker: Option<MmError>,
    /// Movable pages to migrate, free pages, and whether huge pages sit in the range.
    movable: u64,
    free: u64,
    huge: bool,
    /// Whether the range may go as one ZONE_MOVABLE run (see `Machine::movable_run_ok`).
    run: bool,
}

impl Machine {
    /// default_kernel_zone_for_pfn(): the first zone below ZONE_NORMAL that intersects the
    /// range, else ZONE_NORMAL.
    fn default_kernel_zone(&self, nid: u16, start_pfn: u64, nr_pages: u64) -> ZoneType {
        for zt in [ZoneType::Dma, ZoneType::Dma32] {
            if let Some(z) = self.zone(nid, zt) {
                if z.intersects(start_pfn, nr_pages) {
                    return zt;
                }
            }
        }
        ZoneType::Normal
    }

    /// default_zone_for_pfn(): inherit the one zone the range already lies in, else the
    /// kernel zone (ZONE_MOVABLE with movable_node).
    fn default_zone(&self, nid: u16, start_pfn: u64, nr_pages: u64) -> ZoneType {
        let kernel = self.default_kernel_zone(nid, start_pfn, nr_pages);
        let in_kernel = self
            .zone(nid, kernel)
            .is_some_and(|z| z.intersects(start_pfn, nr_pages));
        let in_movable = self
            .zone(nid, ZoneType::Movable)
            .is_some_and(|z| z.intersects(start_pfn, nr_pages));
        if in_kernel ^ in_movable {
            return if in_kernel { kernel } else { ZoneType::Movable };
        }
        if self.cmdline.movable_node {
            ZoneType::Movable
        } else {
            kernel
        }
    }

    /// auto_movable_can_online_movable(): would onlining `nr_pages` more to ZONE_MOVABLE keep
    /// MOVABLE : KERNEL_EARLY within auto_movable_ratio (globally, or on node `nid`)?
    fn auto_movable_can_online_movable(
        &self,
        nid: Option<u16>,
        group: Option<u32>,
        nr_pages: u64,
    ) -> bool {
        let ratio = self.state.settings.auto_movable_ratio;
        let (mut kernel_early, mut movable) = (0u64, 0u64);
        for node in self
            .state
            .nodes
            .iter()
            .filter(|n| nid.is_none_or(|x| x == n.nid))
        {
            for z in node.zones.iter().filter(|z| z.populated()) {
                if z.ztype == ZoneType::Movable {
                    movable += z.present_pages;
                } else if z.ztype != ZoneType::Device {
                    kernel_early += z.present_early_pages;
                }
            }
        }
        // Kernel memory inside dynamic groups allows more MOVABLE memory in that group only:
        // remove the effect of all but the current group (walk_dynamic_memory_groups()).
        let (mut req_kernel_early, mut group_movable) = (0u64, 0u64);
        // With a ratio of 0 the kernel skips this walk (and onlines to a kernel zone anyway).
        for g in self
            .state
            .groups
            .values()
            .filter(|g| g.dynamic && Some(g.id) != group && nid.is_none_or(|x| x == g.nid))
        {
            let Some(needed) = (g.present_movable_pages * 100).checked_div(ratio) else {
                break;
            };
            req_kernel_early += needed.saturating_sub(g.present_kernel_pages);
            group_movable += g.present_movable_pages;
        }
        if kernel_early <= req_kernel_early {
            return false;
        }
        kernel_early -= req_kernel_early;
        movable -= group_movable.min(movable);
        if let Some(g) = group
            .and_then(|g| self.state.groups.get(&g))
            .filter(|g| g.dynamic)
        {
            kernel_early += g.present_kernel_pages;
        }
        movable + nr_pages <= ratio * kernel_early / 100
    }

    /// auto_movable_zone_for_pfn().
    fn auto_movable_zone(
        &self,
        nid: u16,
        group: Option<u32>,
        start_pfn: u64,
        nr_pages: u64,
    ) -> ZoneType {
        let kernel = || self.default_kernel_zone(nid, start_pfn, nr_pages);
        if self.state.settings.auto_movable_ratio == 0 {
            return kernel();
        }
        let grp = group.and_then(|g| self.state.groups.get(&g));
        let (max_pages, online_pages) = match grp {
            Some(g) if !g.dynamic => {
                // If anything of a static group is not MOVABLE, online the rest not MOVABLE.
                if g.present_kernel_pages > 0 {
                    return kernel();
                }
                (g.max_pages, g.present_movable_pages)
            }
            Some(g) if g.unit_pages != nr_pages => {
                let unit_start = start_pfn - start_pfn % g.unit_pages;
                let mut online = 0;
                let mut pfn = unit_start;
                while pfn < unit_start + g.unit_pages {
                    if let Some((_, zt)) = self.online_zone_of(pfn) {
                        if zt != ZoneType::Movable {
                            return kernel();
                        }
                        online += self.u.g.pages_per_section;
                    }
                    pfn += self.u.g.pages_per_section;
                }
                (g.unit_pages, online)
            }
            _ => (nr_pages, 0),
        };
        let want = max_pages - online_pages;
        if !self.auto_movable_can_online_movable(None, group, want) {
            return kernel();
        }
        if self.state.settings.auto_movable_numa_aware
            && !self.auto_movable_can_online_movable(Some(nid), group, want)
        {
            return kernel();
        }
        ZoneType::Movable
    }

    /// zone_for_pfn_range().
    pub fn zone_for_pfn_range(
        &self,
        t: OnlineType,
        nid: u16,
        group: Option<u32>,
        start_pfn: u64,
        nr_pages: u64,
    ) -> ZoneType {
        match t {
            OnlineType::OnlineKernel => self.default_kernel_zone(nid, start_pfn, nr_pages),
            OnlineType::OnlineMovable => ZoneType::Movable,
            _ if self.state.settings.online_policy == OnlinePolicy::AutoMovable => {
                self.auto_movable_zone(nid, group, start_pfn, nr_pages)
            }
            _ => self.default_zone(nid, start_pfn, nr_pages),
        }
    }

    /// valid_zones_show(): an online block's zone ("none" if it spans several); for an
    /// offline block the zone "online" would pick, then the other zones it could go to.
    pub fn valid_zones(&self, id: BlockId) -> Option<String> {
        let b = self.state.blocks.get(&id)?;
        if b.state == BlockState::Online {
            return Some(b.zone.map_or("none".to_string(), |z| z.name().to_string()));
        }
        let start = self.u.block_start(id) >> self.u.g.page_shift;
        let nr = self.u.pages_per_block();
        let default = self.zone_for_pfn_range(OnlineType::Online, b.nid, b.group, start, nr);
        let mut s = default.name().to_string();
        for t in [OnlineType::OnlineKernel, OnlineType::OnlineMovable] {
            let z = self.zone_for_pfn_range(t, b.nid, b.group, start, nr);
            if z != default {
                s.push(' ');
                s.push_str(z.name());
            }
        }
        Some(s)
    }

    /// The zone of an online pfn (pfn_to_online_page() + page_zone()), with its node.
    pub(crate) fn online_zone_of(&self, pfn: u64) -> Option<(u16, ZoneType)> {
        let nr = self.u.section_of(Pfn(pfn));
        let ms = self.state.sections.get(nr)?;
        if !ms.online() || !ms.valid() {
            return None;
        }
        if !ms.early()
            && !ms
                .usage
                .is_some_and(|u| u.test(self.u.subsection_index(Pfn(pfn))))
        {
            return None;
        }
        let b = self.state.blocks.get(&self.u.block_of_section(nr))?;
        if b.state != BlockState::Online {
            return None;
        }
        match b.zone {
            Some(z) => Some((b.nid, z)),
            // A boot block spanning zones: the zone the boot layout gives this pfn.
            None => self
                .state
                .nodes
                .get(b.nid as usize)?
                .zones
                .iter()
                .find(|z| z.ztype.is_kernel_zone() && z.zone_start_pfn <= pfn && pfn < z.end_pfn())
                .map(|z| (b.nid, z.ztype)),
        }
    }

    /// find_smallest_section_pfn() / find_biggest_section_pfn(): the first (or last) online
    /// pfn of `zone` on `nid` in `[start, end)`, at sub-section granularity.
    fn find_zone_pfn(
        &self,
        nid: u16,
        zone: ZoneType,
        start: u64,
        end: u64,
        from_top: bool,
    ) -> Option<u64> {
        if start >= end {
            return None;
        }
        let g = self.u.g;
        let step = g.pages_per_subsection;
        let s0 = self.u.section_of(Pfn(start));
        let s1 = SectionNr(self.u.section_of(Pfn(end - 1)).0 + 1);
        let check = |pfn: u64| self.online_zone_of(pfn) == Some((nid, zone));
        let candidates = |nr: SectionNr| {
            let sec = self.u.section_start(nr).0;
            let lo = sec.max(start);
            let hi = (sec + g.pages_per_section).min(end);
            (lo, hi)
        };
        let is_online =
            |ms: &crate::section::MemSection| ms.flags & SECTION_IS_ONLINE != 0 && ms.valid();
        if from_top {
            for (nr, _) in self
                .state
                .sections
                .iter_range_rev(s0, s1)
                .filter(|(_, ms)| is_online(ms))
            {
                let (lo, hi) = candidates(nr);
                // The kernel steps down from end - 1 in sub-section strides.
                let mut pfn = end - 1 - ((end - 1 - (hi - 1)).div_ceil(step)) * step;
                while pfn >= lo {
                    if check(pfn) {
                        return Some(pfn);
                    }
                    if pfn < step {
                        break;
                    }
                    pfn -= step;
                }
            }
        } else {
            for (nr, _) in self
                .state
                .sections
                .iter_range(s0, s1)
                .filter(|(_, ms)| is_online(ms))
            {
                let (lo, hi) = candidates(nr);
                let mut pfn = start + (lo - start).div_ceil(step) * step;
                while pfn < hi {
                    if check(pfn) {
                        return Some(pfn);
                    }
                    pfn += step;
                }
            }
        }
        None
    }

    /// move_pfn_range_to_zone(): grow the zone and node spans over the range.
    pub(crate) fn move_pfn_range_to_zone(
        &mut self,
        nid: u16,
        zt: ZoneType,
        start_pfn: u64,
        nr_pages: u64,
    ) {
        self.zone_mut(nid, zt).resize_range(start_pfn, nr_pages);
        self.state.nodes[nid as usize].resize_range(start_pfn, nr_pages);
    }

    /// remove_pfn_range_from_zone(): shrink_zone_span() and update_pgdat_span().
    fn remove_pfn_range_from_zone(
        &mut self,
        nid: u16,
        zt: ZoneType,
        start_pfn: u64,
        nr_pages: u64,
    ) {
        if zt == ZoneType::Device {
            return;
        }
        let end_pfn = start_pfn + nr_pages;
        let z = *self.zone_mut(nid, zt);
        let (zs, ze) = (z.zone_start_pfn, z.end_pfn());
        let mut new = None;
        if zs == start_pfn {
            new = Some(match self.find_zone_pfn(nid, zt, end_pfn, ze, false) {
                Some(pfn) => (pfn, ze - pfn),
                None => (0, 0),
            });
        } else if ze == end_pfn {
            new = Some(match self.find_zone_pfn(nid, zt, zs, start_pfn, true) {
                Some(pfn) => (zs, pfn - zs + 1),
                None => (0, 0),
            });
        }
        if let Some((s, n)) = new {
            let zone = self.zone_mut(nid, zt);
            zone.zone_start_pfn = s;
            zone.spanned_pages = n;
        }
        self.state.nodes[nid as usize].update_span();
    }

    /// adjust_present_page_count().
    fn adjust_present(
        &mut self,
        nid: u16,
        zt: ZoneType,
        group: Option<u32>,
        early: bool,
        delta: i64,
    ) {
        // Present pages only go down by what went up for the same block; the invariant
        // checker (Machine::check) pins the totals.
        let apply = |v: &mut u64| {
            debug_assert!(
                v.checked_add_signed(delta).is_some(),
                "present pages underflow"
            );
            *v = v.saturating_add_signed(delta);
        };
        let z = self.zone_mut(nid, zt);
        apply(&mut z.present_pages);
        if early {
            apply(&mut z.present_early_pages);
        }
        if let Some(g) = group.and_then(|g| self.state.groups.get_mut(&g)) {
            if zt == ZoneType::Movable {
                apply(&mut g.present_movable_pages);
            } else {
                apply(&mut g.present_kernel_pages);
            }
        }
    }

    /// online_mem_sections() / offline_mem_sections() for `[start_pfn, end_pfn)`.
    fn set_sections_online(&mut self, start_pfn: u64, end_pfn: u64, online: bool) {
        let pps = self.u.g.pages_per_section;
        if start_pfn.is_multiple_of(pps) && end_pfn.is_multiple_of(pps) {
            // Whole sections, all present (their roots exist): one pass.
            let (first, end) = (
                self.u.section_of(Pfn(start_pfn)),
                self.u.section_of(Pfn(end_pfn)),
            );
            for ms in self.state.sections.iter_range_mut(first, end) {
                if online {
                    ms.flags |= SECTION_IS_ONLINE;
                } else {
                    ms.flags &= !SECTION_IS_ONLINE;
                }
            }
            return;
        }
        let mut pfn = start_pfn;
        while pfn < end_pfn {
            let ms = self.state.sections.get_mut(self.u.section_of(Pfn(pfn)));
            if online {
                ms.flags |= SECTION_IS_ONLINE;
            } else {
                ms.flags &= !SECTION_IS_ONLINE;
            }
            pfn += self.u.g.pages_per_section;
        }
    }

    /// memory_block_online() for an offline block. Changes nothing if it fails.
    pub(crate) fn memory_block_online(&mut self, id: BlockId, t: OnlineType) -> Result<ZoneType> {
        let (b, vm) = self
            .state
            .blocks
            .get(&id)
            .ok_or_else(|| MmError::NoDevice(format!("no memory block {}", id.0)))?
            .without_altmap();
        if b.state != BlockState::Offline {
            return Err(MmError::Invalid(format!(
                "memory{} is already online",
                id.0
            )));
        }
        let t = if t == OnlineType::Offline {
            OnlineType::Online
        } else {
            t
        };
        let start = self.u.block_start(id) >> self.u.g.page_shift;
        let nr = self.u.pages_per_block();
        let zone = self.zone_for_pfn_range(t, b.nid, b.group, start, nr);
        if Machine::take_fault(&mut self.faults.going_online) {
            return Err(MmError::NotPermitted(format!(
                "online_pages [mem {:#010x}-{:#010x}] failed: a MEM_GOING_ONLINE notifier said no (injected)",
                start << self.u.g.page_shift,
                ((start + nr) << self.u.g.page_shift) - 1
            )));
        }
        let early = self
            .state
            .sections
            .state(self.u.section_of(Pfn(start)))
            .early();
        if vm > 0 {
            // mhp_init_memmap_on_memory(): the vmemmap pages join the block's zone.
            self.move_pfn_range_to_zone(b.nid, zone, start, vm);
            if vm >= self.u.g.pages_per_section {
                let end = (start + vm) - (start + vm) % self.u.g.pages_per_section;
                self.set_sections_online(start, end, true);
            }
        }
        // online_pages() (nothing to online in a block the memmap fills, which the seeds'
        // whole-range designs make)
        if nr > vm {
            self.move_pfn_range_to_zone(b.nid, zone, start + vm, nr - vm);
        }
        let z = self.zone_mut(b.nid, zone);
        // The online page callback gives the buddy only what a virtio-mem device plugged.
        let given = nr - vm - b.reserved_pages - b.fake_offline_pages;
        z.managed_pages += given;
        // generic_online_page(): each page goes to the buddy through __free_pages_core().
        self.events.free(given);
        let z = self.zone_mut(b.nid, zone);
        if b.early {
            z.managed_early_pages += given;
        }
        self.set_sections_online(start + vm, start + nr, true);
        self.adjust_present(b.nid, zone, b.group, early, (nr - vm) as i64);
        if vm > 0 {
            self.adjust_present(b.nid, zone, b.group, early, vm as i64);
        }
        let blk = self.block_mut(id)?;
        blk.zone = Some(zone);
        blk.state = BlockState::Online;
        // MEM_PREPARE_ONLINE made standby memory accessible (s390 sclp_mem_notifier()).
        blk.inaccessible = false;
        self.state.nodes[b.nid as usize].online = true;
        self.init_per_zone_wmark_min();
        Ok(zone)
    }

    /// has_unmovable_pages() with REPORT_FAILURE (mm/page_isolation.c): the isolation that
    /// fails dumps the page it found. The model knows how many pages pin a block, not which:
    /// the dump names the block's first page past its own memmap.
    fn report_unmovable(&mut self, id: BlockId, e: &MmError) {
        if !e.reason().contains("failure to isolate range") {
            return;
        }
        let vm = self
            .state
            .blocks
            .get(&id)
            .map_or(0, |b| b.nr_vmemmap_pages());
        let pfn = (self.u.block_start(id) >> self.u.g.page_shift) + vm;
        self.log(format!(
            "page: refcount:1 mapcount:0 mapping:0000000000000000 index:0x0 pfn:{pfn:#x}"
        ));
        self.log("page dumped because: unmovable page");
    }

    /// Why a block cannot be offlined now, with the errno offline_pages() returns.
    fn offline_blocker(&self, id: BlockId) -> Option<MmError> {
        self.offline_blocker_of(&self.state.blocks[&id])
    }

    fn offline_blocker_of(&self, b: &MemoryBlock) -> Option<MmError> {
        let id = b.id;
        let s = self.u.block_start(id);
        let e = s + self.u.block_size - 1;
        let failed =
            |why: &str| format!("memory offlining [mem {s:#010x}-{e:#010x}] failed due to {why}");
        let Some(zone) = b.zone else {
            return Some(MmError::Invalid(format!(
                "memory{} spans more than one zone (valid_zones is \"none\") and cannot be offlined",
                id.0
            )));
        };
        if b.ram_pages != self.u.pages_per_block() {
            return Some(MmError::Invalid(failed("memory holes")));
        }
        if b.reserved_pages > 0 {
            return Some(MmError::Busy(format!(
                "{}: {} pages are reserved by memblock (the boot memmap)",
                failed("failure to isolate range"),
                b.reserved_pages
            )));
        }
        // has_unmovable_pages(): a MIGRATE_CMA pageblock does not isolate as movable.
        let cma = self.cma_pages_in(s >> self.u.g.page_shift, self.u.pages_per_block());
        if cma > 0 {
            return Some(MmError::Busy(format!(
                "{}: {cma} pages are the CMA area's (MIGRATE_CMA pageblocks)",
                failed("failure to isolate range")
            )));
        }
        if zone != ZoneType::Movable {
            if b.unmovable_pages > 0 {
                return Some(MmError::Busy(format!(
                    "{}: {} unmovable pages",
                    failed("failure to isolate range"),
                    b.unmovable_pages
                )));
            }
            let pinned = self.kernel_pages_on_block(id);
            if pinned > 0 {
                return Some(MmError::Busy(format!(
                    "{}: {pinned} pages of kernel allocations (memmap, page tables) sit in it",
                    failed("failure to isolate range")
                )));
            }
        } else if b.unmovable_pages > 0 {
            return Some(MmError::Interrupted(format!(
                "{}: {} pinned pages in ZONE_MOVABLE cannot be migrated; the kernel retries until \
                 a signal arrives",
                failed("signal backoff"),
                b.unmovable_pages
            )));
        }
        None
    }

    /// Pages of the model's kernel allocations that land in a hot-added block: they fill the
    /// zone's boot memory first, then hot-added blocks in address order.
    pub fn kernel_pages_on_block(&self, id: BlockId) -> u64 {
        let Some(b) = self.state.blocks.get(&id) else {
            return 0;
        };
        let Some(zt) = b.zone else { return 0 };
        if b.early || b.state != BlockState::Online || !zt.is_kernel_zone() {
            return 0;
        }
        let Some(z) = self.zone(b.nid, zt) else {
            return 0;
        };
        // Kernel allocations fill the zone's boot memory first (what scripts and HugeTLB took
        // from the zone is counted against it too); only the overflow lands in hot-added
        // blocks.
        let early_room = z
            .managed_early_pages
            .saturating_sub(z.script_pages + self.early_hugetlb_pages(b.nid, zt));
        let mut overflow = z.kernel_pages.saturating_sub(early_room);
        if overflow == 0 {
            return 0;
        }
        for x in self.state.blocks.values() {
            if x.early || x.nid != b.nid || x.zone != Some(zt) || x.state != BlockState::Online {
                continue;
            }
            let here = overflow.min(x.free_pages());
            if x.id == id {
                return here;
            }
            overflow -= here;
            if overflow == 0 {
                return 0;
            }
        }
        0
    }

    /// memory_block_offline() for an online block. Changes nothing if it fails.
    pub(crate) fn memory_block_offline(&mut self, id: BlockId) -> Result<()> {
        let (b, vm) = self
            .state
            .blocks
            .get(&id)
            .ok_or_else(|| MmError::NoDevice(format!("no memory block {}", id.0)))?
            .without_altmap();
        if b.state != BlockState::Online {
            return Err(MmError::Invalid(format!(
                "memory{} is already offline",
                id.0
            )));
        }
        if let Some(e) = self.offline_blocker(id) {
            self.report_unmovable(id, &e);
            return Err(e);
        }
        let Some(zone) = b.zone else {
            return Err(MmError::Invalid(format!(
                "memory{} spans more than one zone and cannot be offlined",
                id.0
            )));
        };
        if Machine::take_fault(&mut self.faults.going_offline) {
            let s = self.u.block_start(id);
            return Err(MmError::NotPermitted(format!(
                "memory offlining [mem {s:#010x}-{:#010x}] failed due to notifier failure (injected)",
                s + self.u.block_size - 1
            )));
        }
        // Movable pages are migrated out of the block.
        let dest = if b.movable_pages > 0 {
            Some(
                self.migration_target(b.nid, id, b.movable_pages)
                    .ok_or_else(|| {
                        let s = self.u.block_start(id);
                        MmError::Interrupted(format!(
                            "memory offlining [mem {s:#010x}-{:#010x}] failed due to signal backoff: no free \
                             memory to migrate {} movable pages to; the kernel retries until a signal arrives",
                            s + self.u.block_size - 1,
                            b.movable_pages
                        ))
                    })?,
            )
        } else {
            None
        };
        let start = self.u.block_start(id) >> self.u.g.page_shift;
        let nr = self.u.pages_per_block();
        // Free huge pages in the block are dissolved (all or nothing).
        if b.hugetlb_pages > 0 {
            self.dissolve_free_hugetlb_folios(start, start + nr)
                .map_err(|e| {
                    let s = self.u.block_start(id);
                    MmError::NoMemory(format!(
                        "memory offlining [mem {s:#010x}-{:#010x}] failed due to {}",
                        s + self.u.block_size - 1,
                        e.reason()
                    ))
                })?;
        }
        if let Some(dest) = dest {
            self.zone_mut(b.nid, zone).script_pages -= b.movable_pages;
            self.zone_mut(dest.0, dest.1).script_pages += b.movable_pages;
            // migrate_pages(): a new page in the target zone for each, the old one freed.
            self.events.alloc(dest.1, b.movable_pages);
            self.events.free(b.movable_pages);
            self.events.pgmigrate_success += b.movable_pages;
        }
        let early = self
            .state
            .sections
            .state(self.u.section_of(Pfn(start)))
            .early();
        if vm > 0 {
            self.adjust_present(b.nid, zone, b.group, early, -(vm as i64));
        }
        // offline_pages(): __offline_isolated_pages() takes the free pages out of the buddy.
        self.set_sections_online(start + vm, start + nr, false);
        let z = self.zone_mut(b.nid, zone);
        z.managed_pages -= nr - vm - b.fake_offline_pages;
        if b.early {
            z.managed_early_pages -= nr - vm - b.fake_offline_pages;
        }
        self.adjust_present(b.nid, zone, b.group, early, -((nr - vm) as i64));
        {
            let standby = self.standby_inaccessible(id);
            let blk = self.block_mut(id)?;
            blk.state = BlockState::Offline;
            blk.zone = None;
            blk.movable_pages = 0;
            // MEM_FINISH_OFFLINE gives standby memory back to the firmware.
            blk.inaccessible = standby;
        }
        if nr > vm {
            self.remove_pfn_range_from_zone(b.nid, zone, start + vm, nr - vm);
        }
        if vm > 0 {
            // mhp_deinit_memmap_on_memory()
            if vm >= self.u.g.pages_per_section {
                let end = (start + vm) - (start + vm) % self.u.g.pages_per_section;
                self.set_sections_online(start, end, false);
            }
            self.remove_pfn_range_from_zone(b.nid, zone, start, vm);
        }
        self.init_per_zone_wmark_min();
        Ok(())
    }

    /// A zone (on any node, `nid` first) with room for `pages` migrated movable pages,
    /// outside block `except`.
    fn migration_target(&self, nid: u16, except: BlockId, pages: u64) -> Option<(u16, ZoneType)> {
        let b = &self.state.blocks[&except];
        let own = b.zone;
        let mut order: Vec<u16> = vec![nid];
        order.extend(self.state.nodes.iter().map(|n| n.nid).filter(|&n| n != nid));
        for n in order {
            for zt in [
                ZoneType::Movable,
                ZoneType::Normal,
                ZoneType::Dma32,
                ZoneType::Dma,
            ] {
                let Some(z) = self.zone(n, zt) else { continue };
                let mut free = z.free_pages();
                if Some(zt) == own && n == b.nid {
                    free = free.saturating_sub(b.free_pages());
                }
                if free >= pages {
                    return Some((n, zt));
                }
            }
        }
        None
    }

    /// The memory blocks of `[start, start + size)`, which must be block aligned and exist.
    pub(crate) fn blocks_in(&self, start: u64, size: u64) -> Result<Vec<BlockId>> {
        let bs = self.u.block_size;
        if size == 0
            || !start.is_multiple_of(bs)
            || !size.is_multiple_of(bs)
            || start.checked_add(size).is_none()
        {
            return Err(MmError::Invalid(format!(
                "[{start:#x}, +{size:#x}) is not a whole number of {bs:#x}-byte memory blocks"
            )));
        }
        let first = self.u.block_of_phys(start);
        let n = size / bs;
        let ids: Vec<BlockId> = (0..n).map(|i| BlockId(first.0 + i)).collect();
        if let Some(BlockId(expect)) = self.state.blocks.first_missing(first, BlockId(first.0 + n))
        {
            return Err(MmError::NotFound(format!(
                "/sys/devices/system/memory/memory{expect} does not exist (no memory there)"
            )));
        }
        Ok(ids)
    }

    /// Write `t` ("online", "online_kernel", "online_movable") to the state of every block
    /// in `[start, start + size)`. All must be offline. Returns each block's zone.
    pub fn online(
        &mut self,
        start: u64,
        size: u64,
        t: OnlineType,
    ) -> Result<Vec<(BlockId, ZoneType)>> {
        let r = self.wmark_batch(|m| m.online_range(start, size, t))?;
        // Memory went online: a virtio-mem device waiting on its offline threshold retries.
        self.virtio_mem_retry_all()?;
        Ok(r)
    }

    fn online_range(
        &mut self,
        start: u64,
        size: u64,
        t: OnlineType,
    ) -> Result<Vec<(BlockId, ZoneType)>> {
        if t == OnlineType::Offline {
            return self.offline(start, size).map(|_| Vec::new());
        }
        self.tick()?;
        let ids = self.blocks_in(start, size)?;
        let scan = self.scan_range(&ids, BlockState::Offline, false);
        if let Some(b) = scan.wrong_state.map(|id| &self.state.blocks[&id]) {
            let hint = if self.state.settings.default_online != OnlineType::Offline && !b.early {
                format!(
                    " (auto_online_blocks is \"{}\", so it was onlined when it was added)",
                    self.state.settings.default_online.name()
                )
            } else {
                String::new()
            };
            return Err(MmError::Invalid(format!(
                "memory{} is already online: writing \"{}\" to its state fails{hint}",
                b.id.0,
                t.name()
            )));
        }
        // Every block reaches the MEM_GOING_ONLINE notifier; if an injected failure strikes
        // one, the range fails as a whole before anything changes (the blocks before it
        // would have been onlined and offlined again).
        if let Some(k) = Machine::fault_within(&mut self.faults.going_online, ids.len()) {
            let s = self.u.block_start(ids[k]);
            return Err(MmError::NotPermitted(format!(
                "online_pages [mem {s:#010x}-{:#010x}] failed: a MEM_GOING_ONLINE notifier said no (injected)",
                s + self.u.block_size - 1
            )));
        }
        if t == OnlineType::OnlineMovable && scan.run {
            return Ok(self.online_movable_run(&ids));
        }
        let mut done = Vec::with_capacity(ids.len());
        for (i, &id) in ids.iter().enumerate() {
            match self.memory_block_online(id, t) {
                Ok(z) => done.push((id, z)),
                Err(e) => {
                    // Only an injected notifier failure can get here, and it strikes the
                    // first block; undo anything onlined before it all the same.
                    for &(prev, _) in done.iter().rev() {
                        let _ = self.memory_block_offline(prev);
                    }
                    debug_assert_eq!(i, 0);
                    return Err(e);
                }
            }
        }
        Ok(done)
    }

    /// Write "offline" to the state of every block in `[start, start + size)`. All must be
    /// online and offlinable.
    pub fn offline(&mut self, start: u64, size: u64) -> Result<()> {
        self.wmark_batch(|m| m.offline_range(start, size))
    }

    fn offline_range(&mut self, start: u64, size: u64) -> Result<()> {
        self.tick()?;
        let ids = self.blocks_in(start, size)?;
        // One pass over the blocks: all online, each offlinable, and what their movable
        // pages, free pages and huge pages add up to.
        let scan = self.scan_range(&ids, BlockState::Online, true);
        if let Some(id) = scan.wrong_state {
            return Err(MmError::Invalid(format!(
                "memory{} is already offline: writing \"offline\" to its state fails",
                id.0
            )));
        }
        if let Some(e) = scan.blocker {
            if let Some(&id) = ids.iter().find(|&&id| self.offline_blocker(id).is_some()) {
                self.report_unmovable(id, &e);
            }
            return Err(e);
        }
        let (movable, range_free, huge) = (scan.movable, scan.free, scan.huge);
        // Movable pages of the range must fit elsewhere.
        if movable > 0 {
            let free: u64 = self
                .state
                .nodes
                .iter()
                .flat_map(|n| n.zones.iter())
                .filter(|z| z.ztype != ZoneType::Device)
                .map(|z| z.free_pages())
                .sum::<u64>()
                .saturating_sub(range_free);
            if free < movable {
                return Err(MmError::Interrupted(format!(
                    "memory offlining failed due to signal backoff: no free memory to migrate {movable} \
                     movable pages to; the kernel retries until a signal arrives"
                )));
            }
        }
        // Free huge pages in the range are dissolved; restoring their vmemmap needs memory.
        let ps = self.u.g.page_shift;
        let need = if huge {
            self.dissolve_need(start >> ps, (start + size) >> ps)
        } else {
            0
        };
        if need > self.kernel_free_pages() {
            return Err(MmError::NoMemory(format!(
                "memory offlining failed due to failure to dissolve huge pages: restoring their \
                 vmemmap needs {need} pages, {} are free",
                self.kernel_free_pages()
            )));
        }
        if let Some(k) = Machine::fault_within(&mut self.faults.going_offline, ids.len()) {
            let s = self.u.block_start(ids[k]);
            return Err(MmError::NotPermitted(format!(
                "memory offlining [mem {s:#010x}-{:#010x}] failed due to notifier failure (injected)",
                s + self.u.block_size - 1
            )));
        }
        if huge {
            // Dissolving huge pages cannot be undone by onlining again (the pool shrank), so
            // a range holding them is offlined as a transaction.
            let fp = self.offline_footprint(start, start + size);
            self.transaction(fp, |m| m.offline_blocks(&ids))
        } else if scan.run {
            self.offline_movable_run(&ids);
            Ok(())
        } else {
            self.offline_blocks(&ids)
        }
    }

    /// Whether consecutive blocks `ids`, all in `state`, may be
    /// onlined to ZONE_MOVABLE (from Offline) or offlined from it (from Online) as one run,
    /// ending as memory_block_online() or memory_block_offline() block after block would.
    /// That holds when nothing can fail or differ part way: the shortcut is on, no notifier
    /// fault is armed, and every block is a hot-added block of the same node and group,
    /// whole (no holes, nothing reserved by memblock, not all memmap), and (to offline) in
    /// ZONE_MOVABLE with nothing to migrate, no huge pages and no pinned pages. Then each
    /// block moves the same counts whatever the others do; ZONE_MOVABLE's span grows to the
    /// same hull however the blocks join it, and shrinks to the same first or last online
    /// section however a run of consecutive blocks leaves it (shrink_zone_span() looks past
    /// offline sections); and init_per_zone_wmark_min() made once per block after the
    /// changes writes what the per-block calls would (see `wmark_per_block`).
    pub(crate) fn movable_run_ok(&self, ids: &[BlockId], state: BlockState) -> bool {
        self.scan_range(ids, state, false).run
    }

    /// One pass over the consecutive blocks `ids` (as blocks_in() gives them) for a range
    /// online (from Offline) or offline (from Online): see [`RangeScan`].
    fn scan_range(&self, ids: &[BlockId], state: BlockState, blockers: bool) -> RangeScan {
        let mut scan = RangeScan {
            wrong_state: None,
            blocker: None,
            movable: 0,
            free: 0,
            huge: false,
            run: ids.len() > 1
                && !self.per_block_reference
                && !self.faults.going_online.armed()
                && !self.faults.going_offline.armed(),
        };
        let Some(first) = ids.first() else {
            return scan;
        };
        let (first_nid, first_group) = self
            .state
            .blocks
            .get(first)
            .map_or((0, None), |b| (b.nid, b.group));
        let nr = self.u.pages_per_block();
        let end = BlockId(first.0 + ids.len() as u64);
        let mut expect = first.0;
        for (id, b) in self.state.blocks.range(*first..end) {
            scan.run &= id.0 == expect;
            expect += 1;
            if b.state != state {
                scan.wrong_state.get_or_insert(*id);
                scan.run = false;
                continue;
            }
            scan.movable += b.movable_pages;
            scan.free += b.free_pages();
            scan.huge |= b.hugetlb_pages > 0;
            if blockers && scan.blocker.is_none() {
                scan.blocker = self.offline_blocker_of(b);
            }
            if scan.run {
                let whole = b.ram_pages == nr && b.reserved_pages == 0 && b.nr_vmemmap_pages() < nr;
                let idle = state == BlockState::Offline
                    || (b.zone == Some(ZoneType::Movable)
                        && b.movable_pages == 0
                        && b.unmovable_pages == 0
                        && b.hugetlb_pages == 0);
                // Only boot blocks hold early sections (a hot-add into a boot block's range
                // finds the block there), so a block that is not early has none.
                scan.run =
                    (b.nid, b.group) == (first_nid, first_group) && whole && !b.early && idle;
            }
        }
        // Every block from the first to the last is there, and `ids` names them in order.
        scan.run &= expect == end.0 && ids.iter().zip(first.0..).all(|(id, n)| id.0 == n);
        scan
    }

    /// memory_block_online() to ZONE_MOVABLE for each block of a run (see `movable_run_ok`).
    pub(crate) fn online_movable_run(&mut self, ids: &[BlockId]) -> Vec<(BlockId, ZoneType)> {
        let zone = ZoneType::Movable;
        let nr = self.u.pages_per_block();
        let ps = self.u.g.page_shift;
        let start = self.u.block_start(ids[0]) >> ps;
        let end = start + ids.len() as u64 * nr;
        let (mut nid, mut group, mut given) = (0, None, 0);
        let last = BlockId(ids[0].0 + ids.len() as u64);
        for b in self.state.blocks.range_mut(ids[0], last) {
            given += nr - b.nr_vmemmap_pages() - b.fake_offline_pages;
            (nid, group) = (b.nid, b.group);
            b.zone = Some(zone);
            b.state = BlockState::Online;
            b.inaccessible = false;
        }
        self.move_pfn_range_to_zone(nid, zone, start, end - start);
        self.zone_mut(nid, zone).managed_pages += given;
        self.events.free(given);
        self.set_sections_online(start, end, true);
        self.adjust_present(nid, zone, group, false, (end - start) as i64);
        self.state.nodes[nid as usize].online = true;
        self.wmark_per_block(ids.len());
        ids.iter().map(|&id| (id, zone)).collect()
    }

    /// memory_block_offline() from ZONE_MOVABLE for each block of a run (see
    /// `movable_run_ok`).
    fn offline_movable_run(&mut self, ids: &[BlockId]) {
        let zone = ZoneType::Movable;
        let nr = self.u.pages_per_block();
        let ps = self.u.g.page_shift;
        let start = self.u.block_start(ids[0]) >> ps;
        let end = start + ids.len() as u64 * nr;
        // Block by block: a run may reach past the standby memory into memory added
        // otherwise, which stays accessible.
        let standby: Vec<bool> = ids
            .iter()
            .map(|&id| self.standby_inaccessible(id))
            .collect();
        let (mut nid, mut group, mut taken) = (0, None, 0);
        let last = BlockId(ids[0].0 + ids.len() as u64);
        for (b, standby) in self.state.blocks.range_mut(ids[0], last).zip(standby) {
            taken += nr - b.nr_vmemmap_pages() - b.fake_offline_pages;
            (nid, group) = (b.nid, b.group);
            b.state = BlockState::Offline;
            b.zone = None;
            b.inaccessible = standby;
        }
        self.set_sections_online(start, end, false);
        self.zone_mut(nid, zone).managed_pages -= taken;
        self.adjust_present(nid, zone, group, false, -((end - start) as i64));
        self.remove_pfn_range_from_zone(nid, zone, start, end - start);
        self.wmark_per_block(ids.len());
    }

    /// The init_per_zone_wmark_min() each block of a ZONE_MOVABLE run ends with. Each call
    /// can move min_free_kbytes one step further (it reads back the high watermarks of the
    /// kernel zones that the call before wrote), a chain ZONE_MOVABLE takes no part in; so
    /// the run makes as many calls as it has blocks, after its changes, up to the first that
    /// is deferred (see `Machine::wmark_batch`): the rest would be deferred too.
    fn wmark_per_block(&mut self, blocks: usize) {
        for _ in 0..blocks {
            if self.init_per_zone_wmark_min_deferred() {
                break;
            }
        }
    }

    /// memory_block_offline() for each block; on a failure, online again those done.
    fn offline_blocks(&mut self, ids: &[BlockId]) -> Result<()> {
        let mut done = Vec::new();
        for &id in ids {
            let zone = self.state.blocks[&id].zone;
            match self.memory_block_offline(id) {
                Ok(()) => done.push((id, zone)),
                Err(e) => {
                    for &(prev, z) in done.iter().rev() {
                        let t = if z == Some(ZoneType::Movable) {
                            OnlineType::OnlineMovable
                        } else {
                            OnlineType::OnlineKernel
                        };
                        let _ = self.memory_block_online(prev, t);
                    }
                    return Err(e);
                }
            }
        }
        Ok(())
    }

    /// Set the pages scripts allocated in an online block: `unmovable` kernel allocations
    /// (which make offlining fail with -EBUSY in a kernel zone) and `movable` user pages
    /// (which offlining migrates away).
    pub fn set_block_allocations(
        &mut self,
        id: BlockId,
        unmovable: u64,
        movable: u64,
    ) -> Result<()> {
        let b = self
            .state
            .blocks
            .get(&id)
            .ok_or_else(|| MmError::NotFound(format!("no memory block {}", id.0)))?;
        if b.state != BlockState::Online {
            return Err(MmError::Invalid(format!(
                "memory{} is offline: nothing can be allocated in it",
                id.0
            )));
        }
        let zone = b.zone.ok_or_else(|| {
            MmError::Invalid(format!(
                "memory{} spans several zones; pick a single-zone block",
                id.0
            ))
        })?;
        let (old_u, old_m, nid) = (b.unmovable_pages, b.movable_pages, b.nid);
        let room = b.usable_pages() - b.hugetlb_pages;
        if unmovable + movable > room {
            return Err(MmError::NoMemory(format!(
                "memory{} has {room} usable pages, not {}",
                id.0,
                unmovable + movable
            )));
        }
        let z = *self.zone_mut(nid, zone);
        let other = z.script_pages - (old_u + old_m);
        if z.kernel_pages + other + z.hugetlb_pages + unmovable + movable > z.managed_pages {
            return Err(MmError::NoMemory(format!(
                "zone {} has {} free pages",
                zone.name(),
                z.free_pages() + old_u + old_m
            )));
        }
        self.zone_mut(nid, zone).script_pages = other + unmovable + movable;
        let (new, old) = (unmovable + movable, old_u + old_m);
        if new > old {
            self.events.alloc(zone, new - old);
        } else {
            self.events.free(old - new);
        }
        let blk = self.block_mut(id)?;
        blk.unmovable_pages = unmovable;
        blk.movable_pages = movable;
        Ok(())
    }

    /// Whether a pfn has a valid memmap (pfn_valid() with SPARSEMEM: an early section counts
    /// whole, otherwise the sub-section map decides).
    pub fn pfn_valid(&self, pfn: u64) -> bool {
        let g = &self.u.g;
        if pfn > g.physmem_end >> g.page_shift {
            return false;
        }
        let nr = self.u.section_of(Pfn(pfn));
        let Some(ms) = self.state.sections.get(nr) else {
            return false;
        };
        if !ms.valid() {
            return false;
        }
        ms.early()
            || ms
                .usage
                .is_some_and(|u: SectionUsage| u.test(self.u.subsection_index(Pfn(pfn))))
    }
}
