//! The default CMA area (kernel/dma/contiguous.c dma_contiguous_reserve(), mm/cma.c):
//! memblock reserves it at boot, where `cma=` or the config's size says, and
//! cma_activate_area() hands it to the buddy as MIGRATE_CMA pageblocks, which movable
//! allocations may use and memory offlining cannot isolate.

use crate::machine::Machine;
use crate::zone::Zone;

/// 4 GiB: cma_declare_contiguous_nid() first tries bottom-up above it, to keep the area out
/// of the DMA zones, when memory reaches that far.
const SZ_4G: u64 = 4 << 30;

impl Machine {
    /// dma_contiguous_reserve() with the arch's DMA limit: reserve the area and log it.
    /// Returns the pages reserved (totalcma_pages, which mem_init's line prints).
    pub(crate) fn cma_reserve(&mut self, pfn_ranges: &[(u64, u64)]) -> u64 {
        let arch = self.target.arch();
        let Some(default) = arch.cma(self.target.kernel).and_then(|c| c.dma) else {
            return 0;
        };
        let ps = self.u.g.page_shift;
        let ram_start = pfn_ranges[0].0 << ps;
        let ram_end = pfn_ranges[pfn_ranges.len() - 1].1 << ps;
        // arm64_dma_phys_limit: ZONE_DMA's end, else ZONE_DMA32's, else everything.
        let limits = arch.zone_limits(ram_start, ram_end);
        let arch_limit = limits.dma.or(limits.dma32).unwrap_or(0);
        let (size, base, limit, fixed) = match self.cmdline.cma {
            Some(c) => {
                let limit = if c.limit == 0 {
                    arch_limit
                } else if arch_limit == 0 {
                    c.limit
                } else {
                    c.limit.min(arch_limit)
                };
                (
                    c.size,
                    c.base,
                    limit,
                    c.base != 0 && c.base.wrapping_add(c.size) == c.limit,
                )
            }
            None => (default, 0, arch_limit, false),
        };
        if size == 0 {
            return 0;
        }
        match self.cma_declare_contiguous(pfn_ranges, size, base, limit, fixed) {
            Ok((start, pages)) => {
                self.log(format!(
                    "cma: Reserved {} MiB at {:#018x}{}",
                    (pages << ps) >> 20,
                    start << ps,
                    if self.target.kernel.cma_reserved_on_node {
                        " on node -1"
                    } else {
                        ""
                    }
                ));
                self.cma_area = Some((start, start + pages));
                // memblock keeps it until cma_activate_area() (core_initcall).
                self.charge_reserved(&[(start, start + pages)]);
                pages
            }
            Err((mib, why)) => {
                if let Some(why) = why {
                    self.log(format!("cma: {why}"));
                }
                self.log(format!("cma: Failed to reserve {mib} MiB on node -1"));
                0
            }
        }
    }

    /// cma_declare_contiguous_nid(): the area's first pfn and pages, or its size in MiB
    /// and the line logged before "Failed to reserve".
    fn cma_declare_contiguous(
        &self,
        pfn_ranges: &[(u64, u64)],
        size: u64,
        base: u64,
        limit: u64,
        mut fixed: bool,
    ) -> Result<(u64, u64), (u64, Option<String>)> {
        let g = self.u.g;
        let ps = g.page_shift;
        let align = g.page_size << g.pageblock_order;
        let mib = |s: u64| s >> 20;
        if fixed && !base.is_multiple_of(align) {
            return Err((
                mib(size),
                Some(format!(
                    "Region at {base:#018x} must be aligned to {align:#018x} bytes"
                )),
            ));
        }
        // ALIGN() in unsigned arithmetic: a value near 2^64 wraps, as the kernel's does.
        let align_up = |x: u64| x.wrapping_add(align - 1) & !(align - 1);
        let base = align_up(base);
        let size = align_up(size);
        let mut limit = limit & !(align - 1);
        if base == 0 {
            fixed = false;
        }
        let memblock_end = pfn_ranges[pfn_ranges.len() - 1].1 << ps;
        if limit == 0 || limit > memblock_end {
            limit = memblock_end;
        }
        if base.saturating_add(size) > limit {
            return Err((
                mib(size),
                Some(format!(
                    "Size ({size:#018x}) of region at {base:#018x} exceeds limit ({limit:#018x})"
                )),
            ));
        }
        let (n, a) = (size >> ps, align >> ps);
        let free = self.memblock_free_ranges(pfn_ranges);
        if fixed {
            let (s, e) = (base >> ps, (base + size) >> ps);
            if self.boot_reserved.iter().any(|&(rs, re)| rs < e && re > s) {
                return Err((mib(size), None));
            }
            return Ok((s, n));
        }
        let (lo, hi) = (base >> ps, limit >> ps);
        // Bottom-up from 4 GiB first, when memory reaches 4 GiB and the size above it.
        if memblock_end >= SZ_4G + size {
            let from = (SZ_4G >> ps).max(lo);
            for &(s, e) in &free {
                let start = s.max(from).next_multiple_of(a);
                if start + n <= e.min(hi) {
                    return Ok((start, n));
                }
            }
        }
        for &(s, e) in free.iter().rev() {
            let top = e.min(hi);
            if top < n {
                continue;
            }
            let start = (top - n) / a * a;
            if start >= s.max(lo) {
                return Ok((start, n));
            }
        }
        Err((mib(size), None))
    }

    /// The RAM memblock has not reserved, ascending.
    fn memblock_free_ranges(&self, pfn_ranges: &[(u64, u64)]) -> Vec<(u64, u64)> {
        let mut taken = self.boot_reserved.clone();
        taken.sort_unstable();
        let mut out = Vec::new();
        for &(s, e) in pfn_ranges {
            let mut cur = s;
            for &(rs, re) in &taken {
                if re <= cur || rs >= e {
                    continue;
                }
                if rs > cur {
                    out.push((cur, rs));
                }
                cur = cur.max(re);
            }
            if cur < e {
                out.push((cur, e));
            }
        }
        out
    }

    /// cma_activate_area(): the area's pageblocks become MIGRATE_CMA and go to the buddy
    /// when it lies in one zone; otherwise its pages go to the buddy as ordinary ones, and
    /// the area is gone.
    pub(crate) fn cma_activate(&mut self) {
        let Some((s, e)) = self.cma_area else {
            return;
        };
        let ram: u64 = self
            .boot
            .ram
            .iter()
            .map(|&(rs, re)| {
                let (rs, re) = (rs >> self.u.g.page_shift, re >> self.u.g.page_shift);
                e.min(re).saturating_sub(s.max(rs))
            })
            .sum();
        let zones: Vec<usize> = self.state.nodes[0]
            .zones
            .iter()
            .enumerate()
            .filter(|(_, z)| z.spanned_pages > 0 && z.zone_start_pfn < e && z.end_pfn() > s)
            .map(|(i, _)| i)
            .collect();
        if !self.pfn_valid(s) {
            self.warn(&crate::warn::CMA_PFN_INVALID, None);
        }
        let in_one = ram == e - s && zones.len() == 1;
        let mut back = 0;
        for i in zones {
            let z: &mut Zone = &mut self.state.nodes[0].zones[i];
            let n = e.min(z.end_pfn()) - s.max(z.zone_start_pfn);
            z.managed_pages += n;
            z.managed_early_pages += n;
            if in_one {
                z.cma_pages += n;
            }
            back += n;
        }
        self.events.free(back);
        if !in_one {
            self.cma_area = None;
            self.log("cma: CMA area reserved could not be activated");
        }
    }

    /// Pages of the CMA area in `[start_pfn, start_pfn + nr)`.
    pub(crate) fn cma_pages_in(&self, start_pfn: u64, nr: u64) -> u64 {
        self.cma_area.map_or(0, |(s, e)| {
            e.min(start_pfn + nr).saturating_sub(s.max(start_pfn))
        })
    }

    /// CmaFree: the free pages of CMA pageblocks (NR_FREE_CMA_PAGES).
    pub fn cma_free_pages(&self) -> u64 {
        self.state
            .nodes
            .iter()
            .flat_map(|n| &n.zones)
            .map(|z| z.free_cma_pages())
            .sum()
    }

    /// CmaTotal: the activated area's pages (totalcma_pages).
    pub fn cma_total_pages(&self) -> u64 {
        self.state
            .nodes
            .iter()
            .flat_map(|n| &n.zones)
            .map(|z| z.cma_pages)
            .sum()
    }
}
