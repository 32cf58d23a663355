//! The HugeTLB pool (mm/hugetlb.c): one hstate per supported huge page size, its pages
//! placed in memory blocks as runs of contiguous huge pages, nr_hugepages and surplus pages,
//! dissolving free huge pages when their memory goes offline, and the HugePages_* lines of
//! /proc/meminfo. The vmemmap side lives in hugetlb_vmemmap.rs.

use crate::error::{MmError, Result};
use crate::machine::Machine;
use crate::memory_block::BlockState;
use crate::units::BlockId;
use arch::ZoneType;
use std::collections::BTreeMap;

/// Contiguous huge pages of one hstate in one zone, all optimised or all not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct HugeRun {
    pub count: u64,
    pub nid: u16,
    pub zone: ZoneType,
    /// HPageVmemmapOptimized: the tail vmemmap pages were freed.
    pub optimized: bool,
}

/// struct hstate: huge pages of one size, all free (the model runs no user of them).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Hstate {
    pub size: u64,
    /// nr_huge_pages (surplus included).
    pub nr: u64,
    /// surplus_huge_pages: pages the pool keeps beyond max_huge_pages (a shrink whose
    /// vmemmap could not be restored leaves its pages here).
    pub surplus: u64,
    /// The pages, by first pfn.
    pub runs: BTreeMap<u64, HugeRun>,
    /// Where hugetlb_add_hstate() put it among the hstates (report_hugepages() and every
    /// for_each_hstate() walk in this order).
    pub registered: usize,
    /// The size its free pages demote to (h->demote_order), when it has one: the next
    /// smaller hstate's at boot, demote_size after.
    pub demote_size: Option<u64>,
}

impl Hstate {
    /// The directory name under /sys/kernel/mm/hugepages.
    pub fn dir_name(&self) -> String {
        format!("hugepages-{}kB", self.size >> 10)
    }

    /// persistent_huge_pages(), which max_huge_pages follows.
    pub fn persistent(&self) -> u64 {
        self.nr - self.surplus
    }

    /// Pages whose vmemmap is optimised.
    pub fn optimized(&self) -> u64 {
        self.runs
            .values()
            .filter(|r| r.optimized)
            .map(|r| r.count)
            .sum()
    }
}

/// string_get_size(size, 1, STRING_UNITS_2): three significant digits ("2.00 MiB").
pub fn size_string(bytes: u64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut i = 0;
    let mut v = bytes as f64;
    while v >= 1024.0 && i + 1 < units.len() {
        v /= 1024.0;
        i += 1;
    }
    if i == 0 {
        return format!("{bytes} B");
    }
    let s = if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    };
    format!("{s} {}", units[i])
}

impl Machine {
    /// The hstates as hugetlb_add_hstate() registers them (mm/hugetlb.c): the sizes
    /// `hugepagesz=` and `default_hugepagesz=` name that the arch accepts (early params, so
    /// first), then what the arch's initcall adds, then HUGETLB_PAGE_ORDER from
    /// hugetlb_init(). Kept smallest first; `registered` holds the kernel's order.
    pub(crate) fn init_hstates(&mut self) {
        let arch = self.target.arch();
        let valid = arch.cpu_hugepage_sizes(&self.boot.cpu);
        let from_cmdline = self
            .cmdline
            .hugepages
            .iter()
            .filter_map(|(size, _)| *size)
            .chain(self.cmdline.default_hugepagesz);
        let mut order: Vec<u64> = Vec::new();
        for size in from_cmdline
            .filter(|s| valid.contains(s))
            .chain(arch.boot_hugepage_sizes(&self.boot.cpu))
            .chain([arch.default_hugepage_size(&self.target)])
        {
            if !order.contains(&size) {
                order.push(size);
            }
        }
        let mut hstates: Vec<Hstate> = order
            .iter()
            .enumerate()
            .map(|(registered, &size)| Hstate {
                size,
                nr: 0,
                surplus: 0,
                runs: BTreeMap::new(),
                registered,
                demote_size: None,
            })
            .collect();
        hstates.sort_by_key(|h| h.size);
        // hugetlb_init_hstates(): each hstate demotes to the next smaller one (the model's
        // kernels free gigantic pages at runtime and reserve no hugetlb CMA).
        for i in 1..hstates.len() {
            hstates[i].demote_size = Some(hstates[i - 1].size);
        }
        self.state.hstates = hstates;
        self.state.hugetlb_optimize_vmemmap = self.cmdline.hugetlb_free_vmemmap.unwrap_or(false);
    }

    /// report_hugepages().
    pub(crate) fn report_hugepages(&mut self) {
        let mut lines = Vec::new();
        let mut hs: Vec<&Hstate> = self.state.hstates.iter().collect();
        hs.sort_by_key(|h| h.registered);
        for h in hs {
            let s = size_string(h.size);
            lines.push(format!(
                "HugeTLB: registered {s} page size, pre-allocated {} pages",
                h.nr
            ));
            lines.push(format!(
                "HugeTLB: {} KiB vmemmap can be freed for a {s} page",
                (self.hugetlb_vmemmap_optimizable_pages(h.size) * self.u.g.page_size) >> 10
            ));
        }
        for l in lines {
            self.log(l);
        }
    }

    pub fn hstates(&self) -> &[Hstate] {
        &self.state.hstates
    }

    /// The index of the hstate of `size` bytes.
    pub fn hstate_index(&self, size: u64) -> Option<usize> {
        self.state.hstates.iter().position(|h| h.size == size)
    }

    pub(crate) fn default_hstate(&self) -> usize {
        let want = self
            .cmdline
            .default_hugepagesz
            .unwrap_or(self.target.arch().default_hugepage_size(&self.target));
        self.hstate_index(want).unwrap_or(0)
    }

    /// Total HugeTLB memory in kB.
    pub fn hugetlb_total_kb(&self) -> u64 {
        self.state
            .hstates
            .iter()
            .map(|h| h.nr * (h.size >> 10))
            .sum()
    }

    /// The HugePages_* and Hugetlb lines of /proc/meminfo (hugetlb_report_meminfo()).
    pub(crate) fn hugetlb_meminfo(&self) -> String {
        let Some(h) = self.state.hstates.get(self.default_hstate()) else {
            return String::new();
        };
        format!(
            "HugePages_Total:   {:>5}\nHugePages_Free:    {:>5}\nHugePages_Rsvd:    {:>5}\nHugePages_Surp:    {:>5}\nHugepagesize:   {:>8} kB\nHugetlb:        {:>8} kB\n",
            h.nr,
            h.nr,
            0,
            h.surplus,
            h.size >> 10,
            self.hugetlb_total_kb()
        )
    }

    /// set_max_huge_pages(): grow the pool as far as memory allows, or shrink it. Returns
    /// the number of persistent huge pages afterwards.
    pub fn set_nr_hugepages(&mut self, i: usize, n: u64) -> u64 {
        // Surplus pages become persistent first.
        let h = &mut self.state.hstates[i];
        let take = h.surplus.min(n.saturating_sub(h.persistent()));
        h.surplus -= take;
        let persistent = self.state.hstates[i].persistent();
        if n > persistent {
            let want = n - persistent;
            let new = self.alloc_huge_pages(i, want);
            self.count_huge_allocs(i, want, &new);
            for (pfn, count, nid, zone) in new {
                self.add_huge_run(i, pfn, count, nid, zone);
                self.hugetlb_vmemmap_optimize_run(i, pfn, count);
            }
        } else if n < persistent {
            self.shrink_pool(i, persistent - n);
        }
        self.state.hstates[i].persistent()
    }

    /// The event counters of a pool growing by `want` pages of hstate `i`, of which `got`
    /// were found: each page is pages taken from its zone; below the buddy's largest order
    /// each is an alloc_buddy_hugetlb_folio() that succeeded, and a pool left short ends
    /// with one that failed on each node with memory (alloc_pool_huge_folio() tries them
    /// all; a gigantic page comes from alloc_contig_pages() and counts neither). The model
    /// fills node after node, so the failures the kernel's round robin meets on nodes it
    /// exhausted early are not counted.
    fn count_huge_allocs(&mut self, i: usize, want: u64, got: &[(u64, u64, u16, ZoneType)]) {
        let pages = self.state.hstates[i].size >> self.u.g.page_shift;
        let mut total = 0;
        for &(_, count, _, zone) in got {
            self.events.alloc(zone, count * pages);
            total += count;
        }
        if pages.trailing_zeros() > self.u.g.max_page_order {
            return;
        }
        self.events.htlb_buddy_alloc_success += total;
        if total < want {
            let nodes = self
                .state
                .nodes
                .iter()
                .filter(|n| n.online && n.zones.iter().any(|z| z.present_pages > 0))
                .count() as u64;
            self.events.htlb_buddy_alloc_fail += nodes;
        }
    }

    /// Record `count` new huge pages at `pfn` in the pool, the zone and the blocks.
    fn add_huge_run(&mut self, i: usize, pfn: u64, count: u64, nid: u16, zone: ZoneType) {
        let size_pages = self.state.hstates[i].size >> self.u.g.page_shift;
        self.zone_mut(nid, zone).hugetlb_pages += count * size_pages;
        self.charge_blocks(pfn, count * size_pages, true);
        let h = &mut self.state.hstates[i];
        h.nr += count;
        h.runs.insert(
            pfn,
            HugeRun {
                count,
                nid,
                zone,
                optimized: false,
            },
        );
        self.merge_huge_runs(i, pfn);
    }

    /// Add or take `pages` of HugeTLB memory starting at `pfn` to the blocks it covers.
    fn charge_blocks(&mut self, pfn: u64, pages: u64, add: bool) {
        let u = self.u;
        let ps = u.g.page_shift;
        let (mut p, end) = (pfn, pfn + pages);
        while p < end {
            let id = u.block_of_phys(p << ps);
            let bend = (u.block_start(id) >> ps) + u.pages_per_block();
            let n = bend.min(end) - p;
            if let Some(b) = self.state.blocks.get_mut(&id) {
                if add {
                    b.hugetlb_pages += n;
                } else {
                    b.hugetlb_pages -= n;
                }
            }
            p += n;
        }
    }

    /// Merge the run at `pfn` with equal neighbours.
    pub(crate) fn merge_huge_runs(&mut self, i: usize, pfn: u64) {
        let pages = self.state.hstates[i].size >> self.u.g.page_shift;
        let runs = &mut self.state.hstates[i].runs;
        let Some(mut cur) = runs.get(&pfn).copied() else {
            return;
        };
        let mut start = pfn;
        let next = pfn + cur.count * pages;
        if let Some(n) = runs.get(&next).copied() {
            if (n.nid, n.zone, n.optimized) == (cur.nid, cur.zone, cur.optimized) {
                runs.remove(&next);
                cur.count += n.count;
            }
        }
        if let Some((&ps, p)) = runs.range(..pfn).next_back() {
            let p = *p;
            if ps + p.count * pages == pfn
                && (p.nid, p.zone, p.optimized) == (cur.nid, cur.zone, cur.optimized)
            {
                runs.remove(&pfn);
                cur.count += p.count;
                start = ps;
            }
        }
        runs.insert(start, cur);
    }

    /// Split runs so that one starts at `pfn` (a huge page boundary inside a run).
    pub(crate) fn split_huge_run(&mut self, i: usize, pfn: u64) {
        let pages = self.state.hstates[i].size >> self.u.g.page_shift;
        let runs = &mut self.state.hstates[i].runs;
        if let Some((&s, r)) = runs.range(..pfn).next_back() {
            let r = *r;
            let end = s + r.count * pages;
            if pfn < end {
                let head = (pfn - s) / pages;
                runs.insert(s, HugeRun { count: head, ..r });
                runs.insert(
                    pfn,
                    HugeRun {
                        count: r.count - head,
                        ..r
                    },
                );
            }
        }
    }

    /// alloc_pool_huge_folio() `want` times: the zones a huge page may come from in
    /// preference order (ZONE_MOVABLE first unless the page is gigantic), and in each zone
    /// free aligned ranges from the top down, as long as the zone stays above its high
    /// watermark. Returns new runs (pfn, count, nid, zone).
    fn alloc_huge_pages(&mut self, i: usize, want: u64) -> Vec<(u64, u64, u16, ZoneType)> {
        let size = self.state.hstates[i].size;
        let pages = size >> self.u.g.page_shift;
        let gigantic = size > self.u.block_size;
        let mut out = Vec::new();
        let mut left = want;
        let nids: Vec<u16> = self
            .state
            .nodes
            .iter()
            .filter(|n| n.online)
            .map(|n| n.nid)
            .collect();
        let zones: &[ZoneType] = if gigantic {
            &[ZoneType::Normal, ZoneType::Dma32, ZoneType::Dma]
        } else {
            &[
                ZoneType::Movable,
                ZoneType::Normal,
                ZoneType::Dma32,
                ZoneType::Dma,
            ]
        };
        for nid in nids {
            for &zt in zones {
                if left == 0 {
                    return out;
                }
                let Some(z) = self.zone(nid, zt) else {
                    continue;
                };
                let mut budget = z.free_pages().saturating_sub(z.wmark_high) / pages;
                if budget == 0 {
                    continue;
                }
                let slots = if gigantic {
                    self.gigantic_slots(nid, zt, pages, left.min(budget))
                } else {
                    self.huge_slots(nid, zt, pages, left.min(budget))
                };
                for (pfn, count) in slots {
                    let count = count.min(budget).min(left);
                    if count == 0 {
                        break;
                    }
                    out.push((pfn, count, nid, zt));
                    budget -= count;
                    left -= count;
                }
            }
        }
        out
    }

    /// The free pfn intervals of an online single-zone block, top first: System RAM minus
    /// memblock's reservations, the block's own memmap (memmap_on_memory) and what the
    /// model's allocations occupy at its bottom, minus the huge pages already in it.
    fn block_free_intervals(&self, id: BlockId) -> Vec<(u64, u64)> {
        let u = self.u;
        let ps = u.g.page_shift;
        let b = &self.state.blocks[&id];
        let start = u.block_start(id) >> ps;
        let end = start + u.pages_per_block();
        let mut iv: Vec<(u64, u64)> = if b.early {
            self.boot
                .ram
                .iter()
                .map(|&(s, e)| ((s >> ps).max(start), (e >> ps).min(end)))
                .filter(|(s, e)| s < e)
                .collect()
        } else {
            vec![(start, end)]
        };
        let mut holes: Vec<(u64, u64)> = Vec::new();
        if b.early {
            holes.extend(self.boot_reserved.iter().copied());
        }
        let low = start
            + b.nr_vmemmap_pages()
            + b.unmovable_pages
            + b.movable_pages
            + if b.early {
                0
            } else {
                self.kernel_pages_on_block(id)
            };
        holes.push((start, low));
        // What a virtio-mem device has not plugged: the top of the block (see virtio_mem.rs).
        if b.fake_offline_pages > 0 {
            holes.push((end - b.fake_offline_pages, end));
        }
        for h in &self.state.hstates {
            let hp = h.size >> ps;
            // The run holding `start` may begin far below it.
            let first = h
                .runs
                .range(..=start)
                .next_back()
                .map_or(start, |(&s, _)| s);
            for (&s, r) in h.runs.range(first..end) {
                holes.push((s, s + r.count * hp));
            }
        }
        for (hs, he) in holes {
            let mut next = Vec::new();
            for (s, e) in iv {
                if he <= s || hs >= e {
                    next.push((s, e));
                    continue;
                }
                if s < hs {
                    next.push((s, hs));
                }
                if he < e {
                    next.push((he, e));
                }
            }
            iv = next;
        }
        iv.sort_unstable_by(|a, b| b.cmp(a));
        iv
    }

    /// Free huge-page slots of `pages` pages in zone `zt` of `nid`, from the top: up to
    /// `want` pages as (pfn, count) runs.
    fn huge_slots(&self, nid: u16, zt: ZoneType, pages: u64, want: u64) -> Vec<(u64, u64)> {
        let mut out = Vec::new();
        let mut left = want;
        for (id, b) in self.state.blocks.iter().rev() {
            if left == 0 {
                break;
            }
            if b.nid != nid || b.zone != Some(zt) || b.state != BlockState::Online {
                continue;
            }
            for (s, e) in self.block_free_intervals(*id) {
                let (lo, hi) = (s.next_multiple_of(pages), e - e % pages);
                if hi <= lo {
                    continue;
                }
                let n = ((hi - lo) / pages).min(left);
                out.push((hi - n * pages, n));
                left -= n;
                if left == 0 {
                    break;
                }
            }
        }
        out
    }

    /// alloc_contig_pages() for gigantic pages: `pages`-aligned ranges whose every block is
    /// online in zone `zt` and wholly free, from the top of the zone down.
    fn gigantic_slots(&self, nid: u16, zt: ZoneType, pages: u64, want: u64) -> Vec<(u64, u64)> {
        let u = self.u;
        let ps = u.g.page_shift;
        let Some(z) = self.zone(nid, zt) else {
            return Vec::new();
        };
        let (zs, ze) = (z.zone_start_pfn, z.end_pfn());
        let mut out = Vec::new();
        let mut w = ze - ze % pages;
        while w >= zs.next_multiple_of(pages) + pages && (out.len() as u64) < want {
            let lo = w - pages;
            let free = (0..pages / u.pages_per_block()).all(|k| {
                let id = u.block_of_phys((lo + k * u.pages_per_block()) << ps);
                self.state.blocks.get(&id).is_some_and(|b| {
                    b.nid == nid
                        && b.zone == Some(zt)
                        && b.state == BlockState::Online
                        && self.block_free_intervals(id)
                            == vec![(
                                u.block_start(id) >> ps,
                                (u.block_start(id) >> ps) + u.pages_per_block(),
                            )]
                })
            });
            if free {
                out.push((lo, 1));
                w = lo;
            } else {
                w -= pages;
            }
        }
        out
    }

    /// Free `n` persistent huge pages, the most recently allocated (lowest) first
    /// (remove_pool_hugetlb_folio() + update_and_free_pages_bulk()). Pages whose vmemmap
    /// cannot be restored stay in the pool as surplus pages.
    fn shrink_pool(&mut self, i: usize, n: u64) {
        let pages = self.state.hstates[i].size >> self.u.g.page_shift;
        let mut plan = Vec::new();
        let mut left = n;
        for (&s, r) in &self.state.hstates[i].runs {
            if left == 0 {
                break;
            }
            let take = r.count.min(left);
            plan.push((s, take));
            left -= take;
        }
        // With failures injected, folios are freed one by one so that each failure keeps
        // exactly one page.
        let one_by_one = self.faults.memmap_alloc.armed();
        for (pfn, take) in plan {
            let step = if one_by_one { 1 } else { take };
            let mut p = pfn;
            while p < pfn + take * pages {
                self.split_huge_run(i, p);
                self.split_huge_run(i, p + step * pages);
                let r = self.state.hstates[i].runs[&p];
                let restored = if r.optimized {
                    self.hugetlb_vmemmap_restore_run(i, p, step)
                } else {
                    step
                };
                self.free_huge_run(i, p, restored);
                self.events.free(restored * pages);
                self.state.hstates[i].surplus += step - restored;
                p += step * pages;
            }
        }
    }

    /// demote_store() (mm/hugetlb.c): split up to `n` free huge pages of hstate `i` into pages
    /// of its demote size, in place: each page's vmemmap restored first where HVO freed it
    /// (a page whose restore finds no memory stays as it is, and the demotion stops), the
    /// new pages optimised as they join their pool.
    pub(crate) fn demote_huge_pages(&mut self, i: usize, n: u64) -> Result<()> {
        let Some(to) = self.state.hstates[i].demote_size else {
            return Err(MmError::Invalid(
                "this huge page size has no smaller one to demote to".to_string(),
            ));
        };
        let d = self
            .hstate_index(to)
            .ok_or_else(|| MmError::Invalid(format!("no hstate of {}", arch::human(to))))?;
        let pages = self.state.hstates[i].size >> self.u.g.page_shift;
        let ratio = self.state.hstates[i].size / to;
        let mut left = n.min(self.state.hstates[i].nr);
        while left > 0 {
            let Some((&pfn, _)) = self.state.hstates[i].runs.iter().next() else {
                break;
            };
            self.split_huge_run(i, pfn + pages);
            let r = self.state.hstates[i].runs[&pfn];
            if r.optimized && self.hugetlb_vmemmap_restore_run(i, pfn, 1) == 0 {
                break;
            }
            let r = self.state.hstates[i].runs[&pfn];
            self.free_huge_run(i, pfn, 1);
            self.add_huge_run(d, pfn, ratio, r.nid, r.zone);
            self.hugetlb_vmemmap_optimize_run(d, pfn, ratio);
            left -= 1;
        }
        Ok(())
    }

    /// Give `count` huge pages at `pfn` (the start of a run, unoptimised) back to the buddy.
    fn free_huge_run(&mut self, i: usize, pfn: u64, count: u64) {
        if count == 0 {
            return;
        }
        let pages = self.state.hstates[i].size >> self.u.g.page_shift;
        let r = self.state.hstates[i].runs[&pfn];
        if count < r.count {
            self.split_huge_run(i, pfn + count * pages);
        }
        self.state.hstates[i].runs.remove(&pfn);
        self.state.hstates[i].nr -= count;
        self.zone_mut(r.nid, r.zone).hugetlb_pages -= count * pages;
        self.charge_blocks(pfn, count * pages, false);
    }

    /// HugeTLB pages in the early (boot) blocks of a zone.
    pub(crate) fn early_hugetlb_pages(&self, nid: u16, zt: ZoneType) -> u64 {
        let Some(z) = self.zone(nid, zt) else {
            return 0;
        };
        if z.hugetlb_pages == 0 {
            return 0;
        }
        self.state
            .blocks
            .values()
            .filter(|b| b.early && b.nid == nid && b.zone == Some(zt))
            .map(|b| b.hugetlb_pages)
            .sum()
    }

    /// The huge pages (hstate, first pfn, count) with any page in `[start_pfn, end_pfn)`.
    fn huge_pages_in(&self, start_pfn: u64, end_pfn: u64) -> Vec<(usize, u64, u64)> {
        let mut out = Vec::new();
        for (i, h) in self.state.hstates.iter().enumerate() {
            let hp = h.size >> self.u.g.page_shift;
            let from = h
                .runs
                .range(..=start_pfn)
                .next_back()
                .map_or(start_pfn, |(&s, _)| s);
            for (&s, r) in h.runs.range(from..end_pfn) {
                let e = s + r.count * hp;
                let (lo, hi) = (s.max(start_pfn), e.min(end_pfn));
                if lo >= hi {
                    continue;
                }
                let first = (lo - s) / hp;
                let last = (hi - 1 - s) / hp;
                out.push((i, s + first * hp, last - first + 1));
            }
        }
        out
    }

    /// dissolve_free_hugetlb_folios() for a range going offline: every free huge page with
    /// a page in it goes back to the buddy (max_huge_pages shrinks with it), restoring its
    /// vmemmap first. Changes nothing and fails with -ENOMEM if a restore cannot be done.
    pub(crate) fn dissolve_free_hugetlb_folios(
        &mut self,
        start_pfn: u64,
        end_pfn: u64,
    ) -> Result<()> {
        let found = self.huge_pages_in(start_pfn, end_pfn);
        if found.is_empty() {
            return Ok(());
        }
        let need = self.dissolve_need(start_pfn, end_pfn);
        if need > 0 && (self.kernel_free_pages() < need || self.faults.memmap_alloc.armed()) {
            if self.faults.memmap_alloc.armed() {
                Machine::take_fault(&mut self.faults.memmap_alloc);
            }
            return Err(MmError::NoMemory(format!(
                "failure to dissolve huge pages: restoring their vmemmap needs {need} pages"
            )));
        }
        for (i, pfn, n) in found {
            let pages = self.state.hstates[i].size >> self.u.g.page_shift;
            self.split_huge_run(i, pfn);
            self.split_huge_run(i, pfn + n * pages);
            let end = pfn + n * pages;
            let mut p = pfn;
            while p < end {
                // Restoring or freeing a run can merge or split its neighbours: find the
                // run at (or next after) p again each time, cut to the range.
                self.split_huge_run(i, p);
                let Some((&q, _)) = self.state.hstates[i].runs.range(p..end).next() else {
                    break;
                };
                p = q;
                let r = self.state.hstates[i].runs[&p];
                self.split_huge_run(i, (p + r.count * pages).min(end));
                let r = self.state.hstates[i].runs[&p];
                let cnt = r.count;
                if r.optimized {
                    let done = self.hugetlb_vmemmap_restore_run(i, p, cnt);
                    debug_assert_eq!(done, cnt);
                    self.split_huge_run(i, p);
                    self.split_huge_run(i, p + cnt * pages);
                }
                let Some(r) = self.state.hstates[i].runs.get(&p).copied() else {
                    break;
                };
                self.free_huge_run(i, p, r.count.min(cnt));
                self.events.free(r.count.min(cnt) * pages);
                // Dissolving takes surplus pages first.
                let h = &mut self.state.hstates[i];
                h.surplus = h.surplus.min(h.nr);
                p += r.count.min(cnt) * pages;
            }
        }
        Ok(())
    }

    /// Pages restoring the vmemmap of the huge pages in `[start_pfn, end_pfn)` needs.
    pub(crate) fn dissolve_need(&self, start_pfn: u64, end_pfn: u64) -> u64 {
        self.huge_pages_in(start_pfn, end_pfn)
            .iter()
            .map(|&(i, pfn, n)| {
                let per = self.hugetlb_vmemmap_size_pages(self.state.hstates[i].size);
                // Huge pages whose struct pages fit in less than a page (2 MiB on 64K-page
                // arm64) are never optimised: nothing to restore.
                self.optimized_in(i, pfn, n) * per.saturating_sub(1)
            })
            .sum()
    }

    /// Optimised huge pages among `n` pages of hstate `i` from `pfn`.
    fn optimized_in(&self, i: usize, pfn: u64, n: u64) -> u64 {
        let h = &self.state.hstates[i];
        let hp = h.size >> self.u.g.page_shift;
        let end = pfn + n * hp;
        let from = h.runs.range(..=pfn).next_back().map_or(pfn, |(&s, _)| s);
        h.runs
            .range(from..end)
            .filter(|(_, r)| r.optimized)
            .map(|(&s, r)| {
                let e = s + r.count * hp;
                (e.min(end).saturating_sub(s.max(pfn))) / hp
            })
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::size_string;

    #[test]
    fn sizes_print_like_string_get_size() {
        assert_eq!(size_string(2 << 20), "2.00 MiB");
        assert_eq!(size_string(1 << 30), "1.00 GiB");
        assert_eq!(size_string(64 << 10), "64.0 KiB");
        assert_eq!(size_string(32 << 20), "32.0 MiB");
        assert_eq!(size_string(512 << 20), "512 MiB");
        assert_eq!(size_string(16 << 30), "16.0 GiB");
    }
}
