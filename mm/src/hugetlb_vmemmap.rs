//! HugeTLB vmemmap optimisation, HVO (mm/hugetlb_vmemmap.c, Documentation/mm/vmemmap_dedup.rst):
//! a free huge page's vmemmap is remapped so that all of it shows one freshly allocated
//! page, read-only after the first, and the old pages are freed; freeing the huge page
//! allocates and maps them again, which can fail.

use crate::machine::Machine;
use crate::vmemmap::{Level, Mapping, Origin, Sharing};

/// HUGETLB_VMEMMAP_RESERVE_SIZE / PAGE_SIZE (mm/hugetlb_vmemmap.h): vmemmap pages a huge
/// page keeps.
pub const HUGETLB_VMEMMAP_RESERVE_PAGES: u64 = 1;

impl Machine {
    /// hugetlb_vmemmap_size() in pages: the vmemmap pages of one huge page.
    pub fn hugetlb_vmemmap_size_pages(&self, size: u64) -> u64 {
        let g = &self.u.g;
        (size >> g.page_shift) * g.struct_page_size / g.page_size
    }

    /// hugetlb_vmemmap_optimizable_size() in pages: what HVO frees for one huge page, 0
    /// where the arch does not select ARCH_WANT_OPTIMIZE_HUGETLB_VMEMMAP (or struct page is
    /// not a power of two).
    pub fn hugetlb_vmemmap_optimizable_pages(&self, size: u64) -> u64 {
        if !self.target.arch().hugetlb_vmemmap_optimize()
            || !self.u.g.struct_page_size.is_power_of_two()
        {
            return 0;
        }
        self.hugetlb_vmemmap_size_pages(size)
            .saturating_sub(HUGETLB_VMEMMAP_RESERVE_PAGES)
    }

    /// Whether vm.hugetlb_optimize_vmemmap exists (hugetlb_vmemmap_init() registers it when
    /// some hstate is optimizable).
    pub(crate) fn hugetlb_vmemmap_sysctl(&self) -> bool {
        self.state
            .hstates
            .iter()
            .any(|h| self.hugetlb_vmemmap_optimizable_pages(h.size) > 0)
    }

    /// Whether huge pages allocated now get optimised.
    pub fn hugetlb_vmemmap_enabled(&self) -> bool {
        self.state.hugetlb_optimize_vmemmap
    }

    /// The vmemmap page holding the struct page of `pfn`.
    fn vpn_of(&self, pfn: u64) -> u64 {
        self.state.vmemmap.vpn(self.u.g.vmemmap_offset(pfn))
    }

    /// hugetlb_vmemmap_optimize_folios() for the `count` new huge pages of hstate `i` at
    /// `pfn` (one unoptimised run). Pages whose vmemmap sits on the memory they describe
    /// (memmap_on_memory) are left alone (-EOPNOTSUPP in vmemmap_pmd_entry()); so is a
    /// group whose first page table or head page cannot be allocated (-ENOMEM).
    pub(crate) fn hugetlb_vmemmap_optimize_run(&mut self, i: usize, pfn: u64, count: u64) {
        let size = self.state.hstates[i].size;
        if !self.state.hugetlb_optimize_vmemmap || self.hugetlb_vmemmap_optimizable_pages(size) == 0
        {
            return;
        }
        let hp = size >> self.u.g.page_shift;
        let per = self.hugetlb_vmemmap_size_pages(size);
        let a = self.vpn_of(pfn);
        let b = a + count * per;
        // Folio groups by whether their first vmemmap page is self-hosted.
        let mut groups: Vec<(u64, u64, bool)> = Vec::new();
        for (s, e, map) in self.state.vmemmap.iter(a, b) {
            let k0 = (s - a).div_ceil(per);
            let k1 = (e - a).div_ceil(per);
            if k1 <= k0 {
                continue;
            }
            let ok = !matches!(map.origin, Origin::Altmap | Origin::Device);
            match groups.last_mut() {
                Some(g) if g.2 == ok && g.0 + g.1 == k0 => g.1 += k1 - k0,
                _ => groups.push((k0, k1 - k0, ok)),
            }
        }
        // The run holding `pfn` (it may have merged with a run below it).
        let Some(nid) = self.state.hstates[i]
            .runs
            .range(..=pfn)
            .next_back()
            .map(|(_, r)| r.nid)
        else {
            return;
        };
        for (k0, n, ok) in groups {
            if !ok {
                continue;
            }
            // The first folio needs a PTE table for the split and a head page; what the
            // folios free pays for the rest.
            if Machine::take_fault(&mut self.faults.memmap_alloc) || self.kernel_free_pages() < 2 {
                continue;
            }
            let (fa, fb) = (a + k0 * per, a + (k0 + n) * per);
            let gp = pfn + k0 * hp;
            let zone_hint = self.section_memmap_zone(self.u.section_of(crate::units::Pfn(gp)));
            let mut old = [0u64; 4];
            for (s, e, map) in self.state.vmemmap.iter(fa, fb) {
                debug_assert_eq!(map.sharing, Sharing::Own);
                old[map.origin as usize] += e - s;
            }
            // Where the kept head pages come from: new buddy pages, or (a kernel that keeps
            // them) each folio's own first page, in runs of one origin.
            let keep = self.target.kernel.hvo_keeps_head_vmemmap_page
                || self.hugetlb_vmemmap_preinit(size, gp);
            let mut chunks: Vec<(u64, u64, Origin)> = Vec::new();
            if keep {
                for (s, e, map) in self.state.vmemmap.iter(fa, fb) {
                    let (j0, j1) = ((s - fa).div_ceil(per), (e - fa).div_ceil(per));
                    if j1 <= j0 {
                        continue;
                    }
                    match chunks.last_mut() {
                        Some(c) if c.2 == map.origin && c.1 == j0 => c.1 = j1,
                        _ => chunks.push((j0, j1, map.origin)),
                    }
                }
                for &(j0, j1, o) in &chunks {
                    old[o as usize] -= j1 - j0;
                }
            } else {
                chunks.push((0, n, Origin::Buddy));
            }
            let ps = self.u.g.page_size;
            let tables_before = self.state.vmemmap.counters().table_bytes_buddy.div_ceil(ps);
            self.state.vmemmap.split_pmd(fa, fb);
            let table_pages =
                self.state.vmemmap.counters().table_bytes_buddy.div_ceil(ps) - tables_before;
            for &(j0, j1, origin) in &chunks {
                self.state.vmemmap.remap(
                    fa + j0 * per,
                    fa + j1 * per,
                    Mapping {
                        level: Level::Pte,
                        origin,
                        sharing: Sharing::Dedup {
                            period: per,
                            unique: HUGETLB_VMEMMAP_RESERVE_PAGES,
                            phase: fa % per,
                            read_only: true,
                        },
                    },
                );
            }
            // free_vmemmap_page(): boot pages go back with free_bootmem_page() and raise the
            // managed count; buddy pages are simply freed.
            let boot = old[Origin::Boot as usize];
            self.state.vmstat.nr_memmap_boot_pages -= boot;
            self.free_boot_pages(nid, boot);
            let buddy = old[Origin::Buddy as usize];
            self.state.vmstat.memmap_hvo -= buddy as i64;
            self.free_kernel_pages_to(nid, buddy, zone_hint);
            // The new head pages (unless kept) and the split's page tables.
            let heads = if keep { 0 } else { n };
            let charged =
                crate::alloc::charge_kernel(&mut self.state.nodes, nid, heads + table_pages);
            debug_assert!(charged.is_some(), "HVO frees more than it allocates");
            self.events
                .alloc_placed(charged.as_deref().unwrap_or_default());
            self.state.vmstat.memmap_hvo += heads as i64;
            self.set_runs_optimized(i, gp, n, true);
        }
    }

    /// Whether huge pages of `size` from `pfn`, allocated now, are pre-HVO'd at boot
    /// (vmemmap_should_optimize_bootmem_page(), mm/hugetlb_vmemmap.c): the arch and version
    /// have SPARSEMEM_VMEMMAP_PREINIT, the machine is booting, and the page is aligned to a
    /// section and to the memory one vmemmap PMD maps. Their vmemmap then looks as if HVO
    /// had kept each head page: one boot page per huge page, the tail shared.
    fn hugetlb_vmemmap_preinit(&self, size: u64, pfn: u64) -> bool {
        let g = &self.u.g;
        let pmd_maps = (g.pmd_size / g.struct_page_size) << g.page_shift;
        let align = g.section_size.max(pmd_maps);
        self.hugetlb_bootmem
            && self
                .target
                .arch()
                .hugetlb_vmemmap_preinit(self.target.kernel)
            && size.is_multiple_of(align)
            && (pfn << g.page_shift).is_multiple_of(align)
    }

    /// Mark `n` huge pages of hstate `i` from `pfn` (inside one run) optimised or not.
    fn set_runs_optimized(&mut self, i: usize, pfn: u64, n: u64, optimized: bool) {
        let hp = self.state.hstates[i].size >> self.u.g.page_shift;
        self.split_huge_run(i, pfn);
        self.split_huge_run(i, pfn + n * hp);
        if let Some(r) = self.state.hstates[i].runs.get_mut(&pfn) {
            r.optimized = optimized;
        }
        self.merge_huge_runs(i, pfn);
    }

    /// hugetlb_vmemmap_restore_folio() for the first `count` pages of the optimised run at
    /// `pfn`: allocate the freed vmemmap pages again and map them. Returns how many pages
    /// were restored; the others stay optimised (the allocation failed, -ENOMEM).
    pub(crate) fn hugetlb_vmemmap_restore_run(&mut self, i: usize, pfn: u64, count: u64) -> u64 {
        let size = self.state.hstates[i].size;
        let per = self.hugetlb_vmemmap_size_pages(size);
        // The run holding `pfn` (it may have merged with a run below it).
        let Some((nid, zone)) = self.state.hstates[i]
            .runs
            .range(..=pfn)
            .next_back()
            .map(|(_, r)| (r.nid, r.zone))
        else {
            return 0;
        };
        let need = per - HUGETLB_VMEMMAP_RESERVE_PAGES;
        // Each folio is restored and then freed. A huge page freed into a kernel zone pays
        // for the next folio's pages, so only the first needs memory that is already free;
        // one freed into ZONE_MOVABLE does not help GFP_KERNEL. Injected failures strike
        // one folio each.
        let free = self.kernel_free_pages();
        let mut done = 0;
        if self.faults.memmap_alloc.armed() {
            while done < count && !Machine::take_fault(&mut self.faults.memmap_alloc) {
                done += 1;
            }
            done = done.min(free / need);
        } else if zone.is_kernel_zone() {
            if free >= need {
                done = count;
            }
        } else {
            done = count.min(free / need);
        }
        if done == 0 {
            return 0;
        }
        let a = self.vpn_of(pfn);
        // A kept boot head page stays where it is; the map counts the restored folio as
        // buddy pages, so remember which of them are boot pages.
        let boot_heads: u64 = self
            .state
            .vmemmap
            .iter(a, a + done * per)
            .filter(|(_, _, m)| m.origin == Origin::Boot)
            .map(|(s, e, _)| (e - s) / per)
            .sum();
        self.state.vmstat.boot_heads_as_buddy += boot_heads;
        self.state
            .vmemmap
            .remap(a, a + done * per, Mapping::own(Level::Pte, Origin::Buddy));
        self.state.vmstat.memmap_hvo += (done * need) as i64;
        match crate::alloc::charge_kernel(&mut self.state.nodes, nid, done * need) {
            Some(placed) => self.events.alloc_placed(&placed),
            None => {
                // The huge pages the caller frees next make the room, in their own zone.
                self.zone_mut(nid, zone).kernel_pages += done * need;
                self.events.alloc(zone, done * need);
            }
        }
        self.set_runs_optimized(i, pfn, done, false);
        done
    }
}
