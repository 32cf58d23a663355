//! Section activation and deactivation (mm/sparse-vmemmap.c: __add_pages's per-section loop,
//! sparse_add_section, section_activate, section_deactivate, vmemmap_free) and the
//! populate context through which an architecture's vmemmap_populate() maps struct pages.

use crate::altmap::VmemAltmap;
use crate::error::{MmError, Result};
use crate::machine::{Faults, Machine};
use crate::section::{
    SectionTable, SectionUsage, SECTION_HAS_MEM_MAP, SECTION_IS_EARLY, SECTION_MARKED_PRESENT,
};
use crate::units::{Pfn, SectionNr, Units};
use crate::vmemmap::{Level, Mapping, Origin, PmdEntry, Sharing, Vmemmap};
use crate::zone::Node;
use arch::{AllocFailed, Src, Stopped, VmemmapTables};

/// VMEMMAP_RESERVE_NR (include/linux/mm.h): vmemmap pages a compound devmap page keeps.
pub const VMEMMAP_RESERVE_NR: u64 = 2;

/// The compound-page geometry of a ZONE_DEVICE mapping (dev_pagemap.vmemmap_shift).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Compound {
    /// pgmap_vmemmap_nr(): pages per compound page.
    pub pages: u64,
    /// The first pfn of the pgmap's range: compound pages are laid out from there
    /// (reuse_compound_section() measures offsets from the range start).
    pub base_pfn: u64,
}

/// The altmaps of one populate or free call and who owns them: one altmap for the whole
/// range, or one per memory block of a run of equal blocks added with memmap_on_memory, each
/// block's altmap serving the vmemmap pages that describe that block's pfns (what one
/// arch_add_memory() per block gives).
pub(crate) struct AltmapArg<'a> {
    pub altmaps: &'a mut [VmemAltmap],
    /// Altmap for a memory block's own memmap, Device for a device reservation.
    pub origin: Origin,
}

impl<'a> AltmapArg<'a> {
    pub fn one(altmap: &'a mut VmemAltmap, origin: Origin) -> AltmapArg<'a> {
        AltmapArg {
            altmaps: std::slice::from_mut(altmap),
            origin,
        }
    }
}

/// The end, below `end`, of the vmemmap pages from `s` whose struct pages altmap `i` of a
/// run serves (`ps` page size, `sp` struct page size): its last pfn's page; the last altmap
/// serves everything to `end`.
fn run_piece_end(altmaps: &[VmemAltmap], i: usize, s: u64, end: u64, ps: u64, sp: u64) -> u64 {
    if i + 1 >= altmaps.len() {
        return end;
    }
    ((altmaps[i].end_pfn + 1) * sp / ps).clamp(s + 1, end)
}

/// Which altmap of a run serves the struct page of `pfn`: the run's altmaps cover equal,
/// consecutive pfn ranges from the first one's base_pfn.
pub(crate) fn altmap_index(altmaps: &[VmemAltmap], pfn: u64) -> usize {
    match altmaps {
        [] | [_] => 0,
        [first, ..] => {
            let span = first.end_pfn + 1 - first.base_pfn;
            (pfn.saturating_sub(first.base_pfn) / span).min(altmaps.len() as u64 - 1) as usize
        }
    }
}

/// Charge `pages` of GFP_KERNEL memory to the zones of `nodes` (see alloc.rs).
fn charge(nodes: &mut [Node], nid: u16, pages: u64) -> Option<crate::alloc::Placement> {
    crate::alloc::charge_kernel(nodes, nid, pages)
}

/// What an arch's vmemmap_populate() works on during one call.
struct PopulateCtx<'a> {
    vm: &'a mut Vmemmap,
    sections: &'a SectionTable,
    u: &'a Units,
    nodes: &'a mut Vec<Node>,
    faults: &'a mut Faults,
    nid: u16,
    altmap: Option<AltmapArg<'a>>,
    /// The altmap of the run serving the vmemmap pages being populated.
    cur: usize,
    booting: bool,
    boot_ram_bytes: u64,
    /// New backing pages by origin in this call.
    new_pages: [u64; 4],
    /// Why the last allocation failed.
    failure: Option<String>,
    /// Where the buddy pages of this call came from.
    placed: crate::alloc::Placement,
    /// Where the page-table pages of this call came from.
    placed_tables: crate::alloc::Placement,
}

impl PopulateCtx<'_> {
    fn ps(&self) -> u64 {
        self.u.g.page_size
    }

    fn fail(&mut self, why: String) -> AllocFailed {
        self.failure = Some(why.clone());
        AllocFailed { reason: why }
    }

    /// Allocate page tables for mapping `[a, b)` at `level` from ordinary memory.
    fn charge_tables(
        &mut self,
        a: u64,
        b: u64,
        level: Level,
    ) -> std::result::Result<(), AllocFailed> {
        if self.booting {
            return Ok(());
        }
        let need = self.vm.tables_needed(a, b, level);
        if need == 0 {
            return Ok(());
        }
        let before = self.vm.counters().table_bytes_buddy;
        let pages = (before + need).div_ceil(self.ps()) - before.div_ceil(self.ps());
        match charge(self.nodes, self.nid, pages) {
            Some(p) => {
                self.placed_tables.extend(p);
                Ok(())
            }
            None => Err(self.fail(format!("no memory for {pages} vmemmap page-table pages"))),
        }
    }

    /// Take `pages` base pages of ordinary memory (memblock at boot, the buddy afterwards).
    fn take_ram(&mut self, pages: u64) -> std::result::Result<Origin, AllocFailed> {
        self.ram_fault()?;
        self.charge_ram(pages)
    }

    /// An allocation from ordinary memory that an armed fault makes fail (consumed).
    fn ram_fault(&mut self) -> std::result::Result<(), AllocFailed> {
        if !self.booting && Machine::take_fault(&mut self.faults.memmap_alloc) {
            return Err(self.fail("vmemmap alloc failure (injected)".to_string()));
        }
        Ok(())
    }

    /// [`PopulateCtx::take_ram`] past the fault point.
    fn charge_ram(&mut self, pages: u64) -> std::result::Result<Origin, AllocFailed> {
        if self.booting {
            return Ok(Origin::Boot);
        }
        match charge(self.nodes, self.nid, pages) {
            Some(p) => {
                self.placed.extend(p);
                Ok(Origin::Buddy)
            }
            None => {
                let order = pages.trailing_zeros();
                Err(self.fail(format!(
                    "vmemmap alloc failure: order:{order} ({pages} pages)"
                )))
            }
        }
    }

    /// Take `pages` single pages from the altmap (each request aligned to one page).
    fn take_altmap_pages(&mut self, pages: u64) -> std::result::Result<Origin, AllocFailed> {
        if Machine::take_fault(&mut self.faults.altmap_alloc) {
            return Err(self.fail("altmap allocation failure (injected)".to_string()));
        }
        let cur = self.cur;
        let Some(a) = self.altmap.as_mut() else {
            return Err(self.fail("no altmap".to_string()));
        };
        let (alt, origin) = (&mut a.altmaps[cur], a.origin);
        if alt.nr_free() < pages {
            let free = alt.nr_free();
            return Err(self.fail(format!(
                "altmap exhausted: {pages} pages needed, {free} left"
            )));
        }
        alt.alloc += pages;
        Ok(origin)
    }

    /// Take one block of `pages` from the altmap (aligned to its lowest set bit).
    fn take_altmap_block(&mut self, pages: u64) -> std::result::Result<Origin, AllocFailed> {
        if Machine::take_fault(&mut self.faults.altmap_alloc) {
            return Err(self.fail("altmap allocation failure (injected)".to_string()));
        }
        let cur = self.cur;
        let Some(a) = self.altmap.as_mut() else {
            return Err(self.fail("no altmap".to_string()));
        };
        let (alt, origin) = (&mut a.altmaps[cur], a.origin);
        match alt.alloc_block(pages) {
            Some(_) => Ok(origin),
            None => {
                let free = alt.nr_free();
                Err(self.fail(format!(
                    "altmap exhausted: a {pages}-page block does not fit in {free} pages"
                )))
            }
        }
    }

    /// The vmemmap pages `[lo, hi)` that describe only pfns inside the altmap.
    fn altmap_window(&self) -> Option<(u64, u64)> {
        let a = &self.altmap.as_ref()?.altmaps[self.cur];
        let sp = self.u.g.struct_page_size;
        let lo = (a.base_pfn * sp).div_ceil(self.ps());
        let hi = ((a.end_pfn + 1) * sp) / self.ps();
        Some((lo, hi.max(lo)))
    }

    /// For vmemmap pages from `s` (below `b`): the end of the piece whose struct pages one
    /// altmap of the run serves, and that altmap's index. A single altmap serves all.
    fn piece(&self, s: u64, b: u64) -> (u64, usize) {
        let Some(a) = self.altmap.as_ref().filter(|a| a.altmaps.len() > 1) else {
            return (b, 0);
        };
        let (sp, ps) = (self.u.g.struct_page_size, self.ps());
        let i = altmap_index(a.altmaps, s * ps / sp);
        (run_piece_end(a.altmaps, i, s, b, ps, sp), i)
    }

    /// Populate vmemmap pages `[s, e)` with base pages from `src` (the altmap of `cur`).
    fn populate_basepage_piece(
        &mut self,
        s: u64,
        e: u64,
        src: Src,
    ) -> std::result::Result<(), AllocFailed> {
        self.charge_tables(s, e, Level::Pte)?;
        match src {
            Src::Ram => {
                let o = self.take_ram(e - s)?;
                self.map(s, e, Level::Pte, o);
            }
            Src::Altmap => {
                let o = self.take_altmap_pages(e - s)?;
                self.map(s, e, Level::Pte, o);
            }
            Src::AltmapInBoundsElseRam => {
                let (wlo, whi) = self.altmap_window().unwrap_or((0, 0));
                let (ilo, ihi) = (s.max(wlo), e.min(whi));
                let mut pieces = Vec::new();
                if ilo < ihi {
                    let free = self
                        .altmap
                        .as_ref()
                        .map_or(0, |x| x.altmaps[self.cur].nr_free());
                    let from_altmap = free.min(ihi - ilo);
                    if s < ilo {
                        pieces.push((s, ilo, None));
                    }
                    if from_altmap > 0 {
                        pieces.push((ilo, ilo + from_altmap, Some(())));
                    }
                    if ilo + from_altmap < e {
                        pieces.push((ilo + from_altmap, e, None));
                    }
                } else {
                    pieces.push((s, e, None));
                }
                for (ps, pe, alt) in pieces {
                    let o = match alt {
                        Some(()) => match self.take_altmap_pages(pe - ps) {
                            Ok(o) => o,
                            Err(_) => self.take_ram(pe - ps)?,
                        },
                        None => self.take_ram(pe - ps)?,
                    };
                    self.map(ps, pe, Level::Pte, o);
                }
            }
        }
        Ok(())
    }

    /// Whether an armed fault would fire at an allocation of this call.
    fn faults_armed(&self) -> bool {
        self.faults.altmap_alloc.count > 0 || self.faults.memmap_alloc.count > 0
    }

    /// map_pmd_leaves() from altmaps, all at once, when nothing can fail part way: no fault
    /// armed, every PMD fits in the altmap that serves it and the buddy holds every page
    /// table. Then per-PMD calls would end in the same state: the altmaps hand out the same
    /// blocks, and the tables (counted as they are charged, so the pages telescope) land in
    /// the same zones, which fill in a fixed order. Returns false, changing nothing, otherwise.
    fn map_pmd_leaves_at_once(&mut self, a: u64, b: u64) -> bool {
        let pmd_pages = self.vm.pmd_pages();
        if self.booting || self.faults_armed() {
            return false;
        }
        let Some(origin) = self.altmap.as_ref().map(|x| x.origin) else {
            return false;
        };
        // A dry run on copies of the altmaps.
        let mut s = a;
        let mut copy: Option<(usize, VmemAltmap)> = None;
        while s < b {
            let (_, i) = self.piece(s, b);
            let alt = match copy {
                Some((j, ref mut alt)) if j == i => alt,
                _ => {
                    let x = self.altmap.as_ref().map(|x| x.altmaps[i]);
                    &mut copy.insert((i, x.unwrap_or_default())).1
                }
            };
            if alt.alloc_block(pmd_pages).is_none() {
                return false;
            }
            s += pmd_pages;
        }
        let need = self.vm.tables_needed(a, b, Level::Pmd);
        let ps = self.ps();
        let before = self.vm.counters().table_bytes_buddy;
        let pages = (before + need).div_ceil(ps) - before.div_ceil(ps);
        if crate::alloc::kernel_free(self.nodes) < pages {
            return false;
        }
        if self.charge_tables(a, b, Level::Pmd).is_err() {
            return false;
        }
        let mut s = a;
        while s < b {
            let (_, i) = self.piece(s, b);
            if let Some(x) = self.altmap.as_mut() {
                x.altmaps[i].alloc_block(pmd_pages);
            }
            s += pmd_pages;
        }
        self.map(a, b, Level::Pmd, origin);
        true
    }

    fn map(&mut self, a: u64, b: u64, level: Level, origin: Origin) {
        self.new_pages[origin as usize] += b - a;
        self.vm.map(a, b, Mapping::own(level, origin), self.booting);
    }

    /// Unmapped sub-ranges of `[a, b)` (pages under leaves count as mapped).
    fn gaps(&self, a: u64, b: u64) -> Vec<(u64, u64)> {
        let mut out = Vec::new();
        let mut cur = a;
        for (s, e, _) in self.vm.iter(a, b) {
            if s > cur {
                out.push((cur, s));
            }
            cur = e;
        }
        if cur < b {
            out.push((cur, b));
        }
        out
    }
}

impl VmemmapTables for PopulateCtx<'_> {
    fn has_altmap(&self) -> bool {
        self.altmap.is_some()
    }

    fn altmap_cross_boundary(&self, va: u64, size: u64) -> bool {
        let Some(a) = self.altmap.as_ref() else {
            return true;
        };
        let sp = self.u.g.struct_page_size;
        let start_pfn = va / sp;
        let nr = size / sp;
        let alt = &a.altmaps[altmap_index(a.altmaps, start_pfn)];
        start_pfn + nr - 1 > alt.end_pfn || start_pfn < alt.base_pfn
    }

    fn pmd_run(&self, va: u64, end: u64) -> (PmdEntry, u64) {
        let (e, vend) = self.vm.pmd_run(self.vm.vpn(va), self.vm.vpn_up(end));
        (e, vend << self.u.g.page_shift)
    }

    fn map_pmd_leaves(&mut self, va: u64, end: u64, src: Src) -> std::result::Result<(), Stopped> {
        let pmd = self.u.g.pmd_size;
        let pmd_pages = pmd / self.ps();
        let (a, b) = (self.vm.vpn(va), self.vm.vpn(end));
        let n = (end - va) / pmd;
        let stop = |at: u64, failure: AllocFailed| Stopped { at, failure };
        match src {
            Src::Ram => {
                // The kernel allocates each PMD apart (vmemmap_alloc_block_buf()): with a
                // fault armed, go PMD by PMD so that each counts as one call; otherwise a
                // run at once.
                let step = if self.faults.memmap_alloc.count > 0 {
                    1
                } else {
                    n.max(1)
                };
                let mut done = 0;
                while done < n {
                    let k = step.min(n - done);
                    let s0 = a + done * pmd_pages;
                    let s1 = if k == n { b } else { s0 + k * pmd_pages };
                    let at = va + done * pmd;
                    // The buddy may run dry part way: map as many PMDs as fit, then stop.
                    let fit = if self.booting {
                        k
                    } else {
                        let free = crate::alloc::kernel_free(self.nodes);
                        let tables = self
                            .vm
                            .tables_needed(s0, s1, Level::Pmd)
                            .div_ceil(self.ps());
                        (free.saturating_sub(tables) / pmd_pages).min(k)
                    };
                    if fit > 0 {
                        let end_fit = s0 + fit * pmd_pages;
                        // The PMD-sized block is asked for first: when it fails, the base
                        // pages that replace it charge the page tables they need.
                        self.ram_fault().map_err(|f| stop(at, f))?;
                        self.charge_tables(s0, end_fit, Level::Pmd)
                            .map_err(|f| stop(at, f))?;
                        let origin = self.charge_ram(fit * pmd_pages).map_err(|f| stop(at, f))?;
                        self.map(s0, end_fit, Level::Pmd, origin);
                    }
                    if fit < k {
                        let f = self.fail(format!(
                            "vmemmap alloc failure: order:{} (no free PMD-sized block)",
                            pmd_pages.trailing_zeros()
                        ));
                        return Err(stop(at + fit * pmd, f));
                    }
                    done += k;
                }
                Ok(())
            }
            Src::Altmap | Src::AltmapInBoundsElseRam => {
                if self.map_pmd_leaves_at_once(a, b) {
                    return Ok(());
                }
                for i in 0..n {
                    let s = a + i * pmd_pages;
                    self.cur = self.piece(s, s + pmd_pages).1;
                    if let Err(f) = self.charge_tables(s, s + pmd_pages, Level::Pmd) {
                        return Err(stop(va + i * pmd, f));
                    }
                    let origin = match self.take_altmap_block(pmd_pages) {
                        Ok(o) => o,
                        Err(f) if src == Src::AltmapInBoundsElseRam => {
                            match self.take_ram(pmd_pages) {
                                Ok(o) => o,
                                Err(_) => return Err(stop(va + i * pmd, f)),
                            }
                        }
                        Err(f) => return Err(stop(va + i * pmd, f)),
                    };
                    self.map(s, s + pmd_pages, Level::Pmd, origin);
                }
                Ok(())
            }
        }
    }

    fn populate_basepages(
        &mut self,
        va: u64,
        end: u64,
        src: Src,
    ) -> std::result::Result<(), AllocFailed> {
        let (a, b) = (self.vm.vpn(va), self.vm.vpn_up(end));
        let mut pieces = Vec::new();
        for (s, e) in self.gaps(a, b) {
            let mut at = s;
            while at < e {
                let (to, i) = self.piece(at, e);
                pieces.push((at, to, i));
                at = to;
            }
        }
        // The kernel allocates each base page apart (vmemmap_pte_populate()): with a fault
        // armed, go page by page so that each counts as one call; otherwise a piece at once.
        let one_by_one = self.faults_armed();
        for (s, e, cur) in pieces {
            self.cur = cur;
            if one_by_one {
                for p in s..e {
                    self.populate_basepage_piece(p, p + 1, src)?;
                }
            } else {
                self.populate_basepage_piece(s, e, src)?;
            }
        }
        Ok(())
    }

    fn map_bolted(&mut self, va: u64, size: u64, src: Src) -> std::result::Result<(), AllocFailed> {
        let pages = size / self.ps();
        let (a, b) = (self.vm.vpn(va), self.vm.vpn(va + size));
        if self.vm.any_mapped(a, b) {
            return Ok(());
        }
        self.cur = self.piece(a, b).1;
        let origin = match src {
            Src::Ram => self.take_ram(pages)?,
            Src::Altmap => self.take_altmap_block(pages)?,
            Src::AltmapInBoundsElseRam => match self.take_altmap_block(pages) {
                Ok(o) => o,
                Err(_) => self.take_ram(pages)?,
            },
        };
        self.map(a, b, Level::Bolted { pages }, origin);
        Ok(())
    }

    fn memmap_in_use(&self, va: u64, size: u64) -> bool {
        memmap_in_use(self.sections, self.u, va, size)
    }

    fn boot_ram_bytes(&self) -> u64 {
        self.boot_ram_bytes
    }
}

/// vmemmap_populated(): whether a valid sub-section (or an early section) has struct pages in
/// vmemmap `[va, va + size)`.
pub(crate) fn memmap_in_use(sections: &SectionTable, u: &Units, va: u64, size: u64) -> bool {
    let sp = u.g.struct_page_size;
    let first = va / sp;
    let last = (va + size - 1) / sp;
    let (s0, s1) = (
        u.section_of(Pfn(first)),
        SectionNr(u.section_of(Pfn(last)).0 + 1),
    );
    for (nr, ms) in sections.iter_range(s0, s1) {
        if !ms.valid() {
            continue;
        }
        if ms.early() {
            return true;
        }
        let Some(usage) = ms.usage else { continue };
        let sec_start = u.section_start(nr).0;
        let lo = first.max(sec_start);
        let hi = last.min(sec_start + u.g.pages_per_section - 1);
        let mask = SectionUsage::mask(u.subsection_index(Pfn(lo)), u.subsection_index(Pfn(hi)));
        if usage.intersects(&mask) {
            return true;
        }
    }
    false
}

/// A vmemmap_free() that section_deactivate() asks for. The caller may join the frees of
/// consecutive sections into one call: a vmemmap unit wholly inside the joined range is
/// freed either way (by the last per-section call that touches it), and a unit at its edges
/// is checked against the same final section state, so the pages, tables and counters given
/// back are the same.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MemmapFree {
    pub nid: u16,
    pub start: u64,
    pub end: u64,
    /// Whether the altmap of the caller backs this memmap.
    pub altmap: bool,
    pub zone: Option<(u16, arch::ZoneType)>,
}

impl MemmapFree {
    /// `next` continues this free: same node, zone and backing, contiguous in the vmemmap.
    pub fn join(&mut self, next: &MemmapFree) -> bool {
        let joins = self.end == next.start
            && (self.nid, self.altmap, self.zone) == (next.nid, next.altmap, next.zone);
        if joins {
            self.end = next.end;
        }
        joins
    }
}

/// Give the `n` backing pages of a removed piece back to the altmaps of the run that served
/// them (see [`AltmapArg`]): a single altmap takes them all.
fn free_to_altmaps(alts: &mut [VmemAltmap], r: &crate::vmemmap::Removed, n: u64, ps: u64, sp: u64) {
    if let [alt] = alts {
        alt.free_pfns(n);
        return;
    }
    let mut s = r.start;
    let mut i = altmap_index(alts, s * ps / sp);
    while s < r.end {
        let to = run_piece_end(alts, i, s, r.end, ps, sp);
        let here = crate::vmemmap::Removed {
            start: s,
            end: to,
            map: r.map,
        }
        .backing_pages();
        alts[i].free_pfns(here);
        s = to;
        i += 1;
    }
}

/// What populating sections through one call added, for nr_memmap_pages.
struct PopulateResult {
    /// The origin most new backing pages came from.
    origin: Origin,
    /// The zone most buddy pages came from.
    zone: Option<(u16, arch::ZoneType)>,
}

impl Machine {
    /// __vmemmap_can_optimize() with the arch's vmemmap_can_optimize(): a compound devmap
    /// with no altmap, whose compound page needs more than VMEMMAP_RESERVE_NR vmemmap pages.
    pub(crate) fn vmemmap_can_optimize(&self, altmap: bool, compound: Option<Compound>) -> bool {
        self.optimizable_compound(altmap, compound).is_some()
    }

    /// The compound geometry when vmemmap_can_optimize() holds.
    fn optimizable_compound(&self, altmap: bool, compound: Option<Compound>) -> Option<Compound> {
        let c = compound?;
        let g = &self.u.g;
        let nr_vmemmap = c.pages * g.struct_page_size / g.page_size;
        (self.target.arch().dax_vmemmap_optimize(self.target.kernel)
            && g.struct_page_size.is_power_of_two()
            && !altmap
            && nr_vmemmap > VMEMMAP_RESERVE_NR)
            .then_some(c)
    }

    /// section_nr_vmemmap_pages(): what one section's populate adds to nr_memmap_pages.
    pub(crate) fn section_nr_vmemmap_pages(
        &self,
        pfn: u64,
        nr_pages: u64,
        altmap: bool,
        compound: Option<Compound>,
    ) -> u64 {
        let g = &self.u.g;
        let Some(c) = self.optimizable_compound(altmap, compound) else {
            return (nr_pages * g.struct_page_size).div_ceil(g.page_size);
        };
        if c.pages < g.pages_per_section {
            VMEMMAP_RESERVE_NR * nr_pages / c.pages
        } else if pfn.is_multiple_of(c.pages) {
            VMEMMAP_RESERVE_NR
        } else {
            0
        }
    }

    /// Run the arch's vmemmap_populate() for the struct pages of `[start_pfn, end_pfn)`.
    fn populate(
        &mut self,
        nid: u16,
        start_pfn: u64,
        end_pfn: u64,
        altmap: Option<AltmapArg<'_>>,
    ) -> Result<PopulateResult> {
        let g = self.u.g;
        let had_altmap = altmap.as_ref().map(|a| a.origin);
        let target = self.target;
        let mut ctx = PopulateCtx {
            vm: &mut self.state.vmemmap,
            sections: &self.state.sections,
            u: &self.u,
            nodes: &mut self.state.nodes,
            faults: &mut self.faults,
            nid,
            altmap,
            cur: 0,
            booting: self.booting,
            boot_ram_bytes: self.boot.ram_bytes,
            new_pages: [0; 4],
            failure: None,
            placed: Vec::new(),
            placed_tables: Vec::new(),
        };
        let r = target.arch().vmemmap_populate(
            &target,
            &mut ctx,
            g.vmemmap_offset(start_pfn),
            g.vmemmap_offset(end_pfn),
        );
        let new_pages = ctx.new_pages;
        let placed = std::mem::take(&mut ctx.placed);
        let tables = std::mem::take(&mut ctx.placed_tables);
        self.events.alloc_placed(&placed);
        self.events.alloc_placed(&tables);
        if let Err(f) = r {
            // What the failed call had allocated goes back.
            let back: u64 = placed.iter().chain(&tables).map(|p| p.2).sum();
            self.events.free(back);
            // The kernel populates one section per call (populate_section_memmap()): a run
            // fails in the section whose memmap was being mapped, the first whose vmemmap
            // pages are not all mapped yet, as that section's own call would.
            let (lo, hi) = self.unpopulated_section(start_pfn, end_pfn);
            return Err(MmError::NoMemory(format!(
                "populating the memmap of pfns {lo:#x}-{:#x}: {}",
                hi - 1,
                f.reason
            )));
        }
        let origin = if new_pages.iter().sum::<u64>() == 0 {
            had_altmap.unwrap_or(if self.booting {
                Origin::Boot
            } else {
                Origin::Buddy
            })
        } else {
            Origin::ALL
                .into_iter()
                .max_by_key(|o| (new_pages[*o as usize], *o == Origin::Buddy))
                .unwrap_or(Origin::Buddy)
        };
        // The zone most of the buddy pages came from.
        let mut by_zone: Vec<((u16, arch::ZoneType), u64)> = Vec::new();
        for (n, z, p) in placed {
            match by_zone.iter_mut().find(|(k, _)| *k == (n, z)) {
                Some(e) => e.1 += p,
                None => by_zone.push(((n, z), p)),
            }
        }
        let zone = by_zone.into_iter().max_by_key(|(_, p)| *p).map(|(k, _)| k);
        Ok(PopulateResult { origin, zone })
    }

    /// The pfns of the first section of `[start_pfn, end_pfn)` (clipped to it) whose
    /// struct pages are not all mapped: where a populate that failed part way stopped.
    fn unpopulated_section(&self, start_pfn: u64, end_pfn: u64) -> (u64, u64) {
        let g = self.u.g;
        let vm = &self.state.vmemmap;
        let mut pfn = start_pfn;
        while pfn < end_pfn {
            let next = end_pfn.min((pfn + 1).next_multiple_of(g.pages_per_section));
            let (a, b) = (
                vm.vpn(g.vmemmap_offset(pfn)),
                vm.vpn_up(g.vmemmap_offset(next)),
            );
            if vm.mapped_pages(a, b) < b - a {
                return (pfn, next);
            }
            pfn = next;
        }
        (start_pfn, end_pfn)
    }

    /// Whether two sections' memmaps can share one vmemmap unit (a base page, a PMD leaf, a
    /// bolted chunk): powerpc's 16 KiB section memmaps share 64 KiB pages, 2 MiB leaves and
    /// 16 MiB chunks; a memmap of whole PMDs (x86, arm64 4K, s390) shares nothing.
    fn memmaps_may_share(&self) -> bool {
        let g = self.u.g;
        !g.section_memmap_bytes.is_multiple_of(g.pmd_size)
    }

    /// Whether the vmemmap page holding the first struct page of `pfn` is mapped now.
    fn memmap_start_mapped(&self, pfn: u64) -> bool {
        let vm = &self.state.vmemmap;
        let v = vm.vpn(self.u.g.vmemmap_offset(pfn));
        vm.any_mapped(v, v + 1)
    }

    /// The zone code of the vmemmap unit holding the first struct page of `pfn`, mapped
    /// before by another section (whose memmap_zone says where its pages came from): a
    /// section whose memmap starts in it took nothing of its own.
    fn shared_memmap_zone(&self, pfn: u64) -> Option<u8> {
        let g = self.u.g;
        let vm = &self.state.vmemmap;
        let here = vm.vpn(g.vmemmap_offset(pfn));
        let (s, _, m) = vm.iter(here, here + 1).next()?;
        let unit = match m.level {
            Level::Pte => 1,
            Level::Pmd => vm.pmd_pages(),
            Level::Bolted { pages } => pages,
        };
        let us = s - s % unit;
        let (sp, ps) = (g.struct_page_size, g.page_size);
        let first = self.u.section_of(Pfn(us * ps / sp));
        let last = self
            .u
            .section_of(Pfn(((us + unit) * ps / sp).saturating_sub(1)));
        let mine = self.u.section_of(Pfn(pfn));
        self.state
            .sections
            .iter_range(first, SectionNr(last.0 + 1))
            .find(|(nr, ms)| *nr != mine && ms.memmap_zone != 0)
            .map(|(_, ms)| ms.memmap_zone)
    }

    /// The index (plus one) of a zone in its node's list, for MemSection::memmap_zone.
    fn zone_code(&self, at: Option<(u16, arch::ZoneType)>) -> u8 {
        at.and_then(|(n, z)| {
            self.state
                .nodes
                .get(n as usize)?
                .zones
                .iter()
                .position(|x| x.ztype == z)
        })
        .map_or(0, |i| i as u8 + 1)
    }

    /// The zone a section's memmap buddy pages came from.
    pub(crate) fn section_memmap_zone(&self, nr: SectionNr) -> Option<(u16, arch::ZoneType)> {
        let ms = self.state.sections.state(nr);
        let code = ms.memmap_zone;
        if code == 0 {
            return None;
        }
        let node = self.state.nodes.get(ms.nid as usize)?;
        Some((ms.nid, node.zones.get(code as usize - 1)?.ztype))
    }

    /// Count a populate in nr_memmap_pages; returns the per-section counter it goes in
    /// (none for boot memory).
    fn count_memmap_total(&mut self, pages: u64, origin: Origin) -> Option<usize> {
        let slot = match origin {
            Origin::Boot => {
                self.state.vmstat.nr_memmap_boot_pages += pages;
                return None;
            }
            Origin::Buddy => 0,
            Origin::Altmap => 1,
            Origin::Device => 2,
        };
        match slot {
            0 => self.state.vmstat.memmap_buddy += pages,
            1 => self.state.vmstat.memmap_altmap += pages,
            _ => self.state.vmstat.memmap_device += pages,
        }
        Some(slot)
    }

    /// Take a depopulate back out of nr_memmap_pages, from the origins this section counted,
    /// `prefer` first.
    fn uncount_memmap(&mut self, nr: SectionNr, pages: u64, prefer: Origin) {
        let counted = &mut self.state.sections.get_mut(nr).memmap_counted;
        let first = match prefer {
            Origin::Altmap => 1,
            Origin::Device => 2,
            _ => 0,
        };
        let mut left = pages;
        let mut taken = [0u64; 3];
        for slot in [first, 0, 1, 2] {
            let t = u64::from(counted[slot]).min(left);
            counted[slot] -= t as u32;
            taken[slot] += t;
            left -= t;
        }
        self.state.vmstat.memmap_buddy -= taken[0];
        self.state.vmstat.memmap_altmap -= taken[1];
        self.state.vmstat.memmap_device -= taken[2];
    }

    /// __add_pages() (mm/memory_hotplug.c): validate the altmap and the span, then
    /// sparse_add_section() for each section-sized chunk. Consecutive full sections are
    /// populated through one vmemmap_populate() call: the arch code works PMD by PMD, so this
    /// maps exactly what per-section calls map.
    pub(crate) fn add_pages(
        &mut self,
        nid: u16,
        start_pfn: u64,
        nr_pages: u64,
        mut altmap: Option<AltmapArg<'_>>,
        compound: Option<Compound>,
    ) -> Result<()> {
        let g = self.u.g;
        let end_pfn = start_pfn + nr_pages;
        if let Some(a) = altmap.as_mut() {
            // A run of altmaps is a run of equal blocks, each checked as its own call would.
            let span = nr_pages / a.altmaps.len() as u64;
            for (i, alt) in a.altmaps.iter_mut().enumerate() {
                let base = start_pfn + i as u64 * span;
                if alt.base_pfn != base || alt.offset() > span {
                    self.log("memory add fail, invalid altmap");
                    return Err(MmError::Invalid(format!(
                        "memory add fail, invalid altmap (base_pfn {:#x}, offset {} for {base:#x} + {span})",
                        alt.base_pfn,
                        alt.offset()
                    )));
                }
                alt.alloc = 0;
            }
        }
        if !(start_pfn | nr_pages).is_multiple_of(g.pages_per_subsection) {
            let end = if self.target.kernel.misaligned_end_hash {
                format!("#{:x}", end_pfn - 1)
            } else {
                format!("{:#x}", end_pfn - 1)
            };
            let msg = format!("Misaligned __add_pages start: {start_pfn:#x} end: {end}");
            self.warn(&crate::warn::MISALIGNED_ADD_PAGES, Some(&msg));
            return Err(MmError::Invalid(format!(
                "Misaligned __add_pages start: {start_pfn:#x} end: {:#x}: not a multiple of a 2M sub-section",
                end_pfn - 1
            )));
        }
        let mut pfn = start_pfn;
        // A run of full, non-early sections waiting to be populated together.
        let mut batch: Option<(u64, u64)> = None;
        while pfn < end_pfn {
            // The caller's transaction puts back what a stop part way leaves.
            self.tick()?;
            let next = end_pfn.min((pfn + 1).next_multiple_of(g.pages_per_section));
            let n = next - pfn;
            let needs = self.section_activate(nid, pfn, n)?;
            if needs {
                if n == g.pages_per_section && compound.is_none() {
                    batch = match batch {
                        Some((bs, be)) if be == pfn => Some((bs, next)),
                        Some(b) => {
                            self.populate_sections(nid, b.0, b.1, &mut altmap, None)?;
                            Some((pfn, next))
                        }
                        None => Some((pfn, next)),
                    };
                } else {
                    if let Some(b) = batch.take() {
                        self.populate_sections(nid, b.0, b.1, &mut altmap, None)?;
                    }
                    self.populate_sections(nid, pfn, next, &mut altmap, compound)?;
                }
            } else {
                if let Some(b) = batch.take() {
                    self.populate_sections(nid, b.0, b.1, &mut altmap, None)?;
                }
                self.mark_section_added(nid, pfn);
            }
            pfn = next;
        }
        if let Some(b) = batch.take() {
            self.populate_sections(nid, b.0, b.1, &mut altmap, None)?;
        }
        Ok(())
    }

    /// The first half of section_activate(): the usage map and fill_subsection_map().
    /// Returns whether the memmap has to be populated (an early section's boot memmap is
    /// reused for a partial add).
    fn section_activate(&mut self, nid: u16, pfn: u64, nr_pages: u64) -> Result<bool> {
        let _ = nid;
        let u = self.u;
        let nr = u.section_of(Pfn(pfn));
        if nr.0 >= self.state.sections.nr_sections() {
            return Err(MmError::OutOfRange(format!(
                "pfn {pfn:#x} is beyond NR_MEM_SECTIONS"
            )));
        }
        let mask = SectionUsage::mask(
            u.subsection_index(Pfn(pfn)),
            u.subsection_index(Pfn(pfn + nr_pages - 1)),
        );
        let ms = self.state.sections.get_mut(nr);
        let mut usage = ms.usage.unwrap_or_default();
        if usage.intersects(&mask) {
            return Err(MmError::Exists(format!(
                "sub-sections of section {} already active (pfn {pfn:#x} + {nr_pages})",
                nr.0
            )));
        }
        usage.set(&mask);
        ms.usage = Some(usage);
        Ok(!(nr_pages < u.g.pages_per_section && ms.early()))
    }

    /// The end of sparse_add_section(): mark present and install the memmap.
    fn mark_section_added(&mut self, nid: u16, pfn: u64) {
        let nr = self.u.section_of(Pfn(pfn));
        let ms = self.state.sections.get_mut(nr);
        ms.flags |= SECTION_MARKED_PRESENT | SECTION_HAS_MEM_MAP;
        ms.nid = nid;
    }

    /// populate_section_memmap() for the sections of `[start_pfn, end_pfn)` (all activated),
    /// then finish sparse_add_section() for each.
    fn populate_sections(
        &mut self,
        nid: u16,
        start_pfn: u64,
        end_pfn: u64,
        altmap: &mut Option<AltmapArg<'_>>,
        compound: Option<Compound>,
    ) -> Result<()> {
        let has_altmap = altmap.is_some();
        let arg = altmap.as_mut().map(|a| AltmapArg {
            altmaps: &mut *a.altmaps,
            origin: a.origin,
        });
        let g = self.u.g;
        // The sections whose memmap starts in a vmemmap unit mapped before this call: their
        // pages came from that unit's zone, not from this call's allocations, whether the
        // sections are populated one per call or a run at once.
        let mut shared = Vec::new();
        if self.memmaps_may_share() {
            let mut pfn = start_pfn;
            while pfn < end_pfn {
                shared.push(self.memmap_start_mapped(pfn));
                pfn = end_pfn.min((pfn + 1).next_multiple_of(g.pages_per_section));
            }
        }
        let res = match self.optimizable_compound(has_altmap, compound) {
            Some(c) => self.populate_compound(nid, start_pfn, end_pfn, c)?,
            None => self.populate(nid, start_pfn, end_pfn, arg)?,
        };
        let code = res.zone.map(|_| self.zone_code(res.zone));
        let mut pfn = start_pfn;
        let mut i = 0;
        while pfn < end_pfn {
            let next = end_pfn.min((pfn + 1).next_multiple_of(g.pages_per_section));
            let nr = self.u.section_of(Pfn(pfn));
            let code = if shared.get(i).copied().unwrap_or(false) {
                self.shared_memmap_zone(pfn)
            } else {
                code
            };
            i += 1;
            let pages = self.section_nr_vmemmap_pages(pfn, next - pfn, has_altmap, compound);
            // count_memmap() and the end of sparse_add_section(), in one visit.
            let slot = self.count_memmap_total(pages, res.origin);
            let ms = self.state.sections.get_mut(nr);
            if let Some(slot) = slot {
                ms.memmap_counted[slot] += pages as u32;
            }
            ms.flags |= SECTION_MARKED_PRESENT | SECTION_HAS_MEM_MAP;
            ms.nid = nid;
            if let Some(code) = code {
                ms.memmap_zone = code;
            }
            pfn = next;
        }
        Ok(())
    }

    /// vmemmap_populate_compound_pages(): device-dax compound pages keep VMEMMAP_RESERVE_NR
    /// vmemmap pages each and map the rest to the second one (mm/sparse-vmemmap.c).
    fn populate_compound(
        &mut self,
        nid: u16,
        start_pfn: u64,
        end_pfn: u64,
        c: Compound,
    ) -> Result<PopulateResult> {
        let g = self.u.g;
        let per = c.pages * g.struct_page_size / g.page_size;
        // Where a section's struct pages are a fraction of a vmemmap page (powerpc: 16 KiB
        // of 64 KiB), a page is mapped by the first section that touches it, and the next
        // ones skip it (radix's vmemmap_populate_compound_pages(): a PTE already present is
        // left alone).
        let mut a = self.state.vmemmap.vpn(g.vmemmap_offset(start_pfn));
        let b = self.state.vmemmap.vpn_up(g.vmemmap_offset(end_pfn));
        if self.state.vmemmap.any_mapped(a, a + 1) {
            a += 1;
        }
        if a >= b {
            return Ok(PopulateResult {
                origin: Origin::Buddy,
                zone: None,
            });
        }
        let phase = self.state.vmemmap.vpn(g.vmemmap_offset(c.base_pfn)) % per;
        let unique = crate::vmemmap::backing_pages_for(a, b, per, VMEMMAP_RESERVE_NR, phase);
        let need_tables = self.state.vmemmap.tables_needed(a, b, Level::Pte);
        let before = self.state.vmemmap.counters().table_bytes_buddy;
        let table_pages =
            (before + need_tables).div_ceil(g.page_size) - before.div_ceil(g.page_size);
        if Machine::take_fault(&mut self.faults.memmap_alloc) {
            return Err(MmError::NoMemory(
                "vmemmap alloc failure (injected)".to_string(),
            ));
        }
        self.alloc_kernel_pages(nid, unique + table_pages, "compound vmemmap")?;
        let map = Mapping {
            level: Level::Pte,
            origin: Origin::Buddy,
            sharing: Sharing::Dedup {
                period: per,
                unique: VMEMMAP_RESERVE_NR,
                phase,
                read_only: false,
            },
        };
        self.state.vmemmap.map(a, b, map, false);
        Ok(PopulateResult {
            origin: Origin::Buddy,
            zone: None,
        })
    }

    /// sparse_remove_section() + section_deactivate() for `[pfn, pfn + nr_pages)` within one
    /// section, up to the vmemmap_free() it needs, which it returns for the caller to run
    /// (see [`MemmapFree`]). Warns and does nothing when the sub-sections are not all active.
    pub(crate) fn section_deactivate(
        &mut self,
        pfn: u64,
        nr_pages: u64,
        has_altmap: bool,
        compound: Option<Compound>,
    ) -> Option<MemmapFree> {
        let u = self.u;
        let nr = u.section_of(Pfn(pfn));
        let ms = self.state.sections.state(nr);
        if !ms.valid() {
            self.warn(&crate::warn::REMOVE_INVALID_SECTION, None);
            return None;
        }
        let mask = SectionUsage::mask(
            u.subsection_index(Pfn(pfn)),
            u.subsection_index(Pfn(pfn + nr_pages - 1)),
        );
        let Some(mut usage) = ms.usage.filter(|us| us.contains_all(&mask)) else {
            let msg = format!("section already deactivated ({pfn:#x} + {nr_pages})");
            self.warn(&crate::warn::SECTION_DEACTIVATED, Some(&msg));
            return None;
        };
        usage.clear(&mask);
        let empty = usage.is_empty();
        let early = ms.early();
        {
            let s = self.state.sections.get_mut(nr);
            s.usage = Some(usage);
            if empty {
                s.flags &= !SECTION_HAS_MEM_MAP;
                if !usage.boot_allocated {
                    s.usage = None;
                }
            }
        }
        let g = u.g;
        let mut free = None;
        if !early {
            let pages = self.section_nr_vmemmap_pages(pfn, nr_pages, has_altmap, compound);
            let prefer = if has_altmap {
                self.altmap_origin_hint(nr)
            } else {
                Origin::Buddy
            };
            self.uncount_memmap(nr, pages, prefer);
            let zone = self.section_memmap_zone(nr);
            free = Some(MemmapFree {
                nid: ms.nid,
                start: g.vmemmap_offset(pfn),
                end: g.vmemmap_offset(pfn + nr_pages),
                altmap: has_altmap,
                zone,
            });
        } else if empty {
            let start = u.section_start(nr).0;
            let pages = self.section_nr_vmemmap_pages(start, g.pages_per_section, false, None);
            self.state.vmstat.nr_memmap_boot_pages -= pages;
            free = Some(MemmapFree {
                nid: ms.nid,
                start: g.vmemmap_offset(start),
                end: g.vmemmap_offset(start + g.pages_per_section),
                altmap: false,
                zone: None,
            });
        }
        if empty {
            let s = self.state.sections.get_mut(nr);
            s.flags = 0;
            s.nid = 0;
            s.memmap_zone = 0;
        }
        free
    }

    /// Which altmap counter a section's memmap was counted under.
    fn altmap_origin_hint(&self, nr: SectionNr) -> Origin {
        if self.state.sections.state(nr).memmap_counted[2] > 0 {
            Origin::Device
        } else {
            Origin::Altmap
        }
    }

    /// vmemmap_free(): unmap the struct pages at vmemmap `[start, end)` and give back every
    /// vmemmap page, PMD leaf or bolted chunk that no valid sub-section uses any more, to
    /// where it came from; free page tables left empty.
    pub(crate) fn vmemmap_free(
        &mut self,
        nid: u16,
        start: u64,
        end: u64,
        mut altmap: Option<&mut [VmemAltmap]>,
        zone: Option<(u16, arch::ZoneType)>,
    ) {
        let (ps, sp) = (self.u.g.page_size, self.u.g.struct_page_size);
        let (a, b) = (
            self.state.vmemmap.vpn(start),
            self.state.vmemmap.vpn_up(end),
        );
        // Pages wholly described by the pfns being removed.
        let (full_lo, full_hi) = (
            self.state.vmemmap.vpn_up(start),
            self.state.vmemmap.vpn(end),
        );
        let pmd_pages = self.state.vmemmap.pmd_pages();
        // Each unit (a page, a PMD leaf or a bolted chunk) touching [a, b): free it if it holds
        // only removed struct pages, or if no valid sub-section uses it any more.
        let mut candidates: Vec<(u64, u64, bool)> = Vec::new();
        for (s, e, m) in self.state.vmemmap.iter(a, b) {
            let unit = match m.level {
                Level::Pte => 1,
                Level::Pmd => pmd_pages,
                Level::Bolted { pages } => pages,
            };
            let (us, ue) = (s - s % unit, e.next_multiple_of(unit));
            let inner_lo = us.max(full_lo.next_multiple_of(unit));
            let inner_hi = ue.min(full_hi - full_hi % unit);
            if inner_lo < inner_hi {
                if us < inner_lo {
                    candidates.push((us, inner_lo, true));
                }
                candidates.push((inner_lo, inner_hi, false));
                if inner_hi < ue {
                    candidates.push((inner_hi, ue, true));
                }
            } else {
                let mut u0 = us;
                while u0 < ue {
                    candidates.push((u0, u0 + unit, true));
                    u0 += unit;
                }
            }
        }
        let mut to_unmap: Vec<(u64, u64)> = candidates
            .into_iter()
            .filter(|&(lo, hi, check)| {
                !check || !memmap_in_use(&self.state.sections, &self.u, lo * ps, (hi - lo) * ps)
            })
            .map(|(lo, hi, _)| (lo, hi))
            .collect();
        to_unmap.sort_unstable();
        to_unmap.dedup();
        for (lo, hi) in to_unmap {
            let (removed, tables) = self.state.vmemmap.unmap(lo, hi);
            for r in removed {
                let n = r.backing_pages();
                match r.map.origin {
                    Origin::Boot => self.free_boot_pages(nid, n),
                    Origin::Buddy => self.free_kernel_pages_to(nid, n, zone),
                    Origin::Altmap | Origin::Device => {
                        if let Some(alts) = altmap.as_deref_mut() {
                            free_to_altmaps(alts, &r, n, ps, sp);
                        }
                    }
                }
            }
            let after = self.state.vmemmap.counters().table_bytes_buddy;
            let before = after + tables.buddy_bytes;
            self.free_kernel_pages(nid, before.div_ceil(ps) - after.div_ceil(ps));
            let after = self.state.vmemmap.counters().table_bytes_boot;
            let before = after + tables.boot_bytes;
            self.free_boot_pages(nid, before.div_ceil(ps) - after.div_ceil(ps));
        }
    }

    /// Boot: sparse_init() for one run of present sections `[start_pfn, end_pfn)` on `nid`.
    pub(crate) fn sparse_init_range(
        &mut self,
        nid: u16,
        start_pfn: u64,
        end_pfn: u64,
    ) -> Result<()> {
        let g = self.u.g;
        let res = self.populate(nid, start_pfn, end_pfn, None)?;
        debug_assert!(matches!(res.origin, Origin::Boot));
        let mut pfn = start_pfn;
        while pfn < end_pfn {
            let nr = self.u.section_of(Pfn(pfn));
            self.state.vmstat.nr_memmap_boot_pages +=
                self.section_nr_vmemmap_pages(pfn, g.pages_per_section, false, None);
            let ms = self.state.sections.get_mut(nr);
            ms.flags |= SECTION_HAS_MEM_MAP | SECTION_IS_EARLY;
            pfn += g.pages_per_section;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::{BootSpec, Machine};

    /// __add_pages()'s WARN for a span that is not whole sub-sections: 6.1 prints the end
    /// as "#%lx" (mm/memory_hotplug.c), 6.12 as "%#lx". The callers check alignment first,
    /// so only a direct call reaches it.
    #[test]
    fn misaligned_warning_as_each_version_prints_it() {
        for (kernel, end) in [("6.12", "0x1001ff"), ("6.1", "#1001ff")] {
            let spec = BootSpec::new(arch::Target::parse("x86_64", kernel).unwrap());
            let mut m = Machine::boot(&spec).unwrap();
            let e = m.add_pages(0, 0x100100, 0x100, None, None).unwrap_err();
            assert_eq!(e.errno(), crate::Errno::EINVAL);
            // WARN(): the cut-here line, the message, where (mm/memory_hotplug.c's line
            // in that version), the end of the trace.
            let line = if kernel == "6.12" { 414 } else { 328 };
            let tail: Vec<&str> = m
                .dmesg()
                .iter()
                .rev()
                .take(4)
                .rev()
                .map(|l| l.split_once("] ").unwrap().1)
                .collect();
            assert_eq!(
                tail,
                [
                    "------------[ cut here ]------------".to_string(),
                    format!("Misaligned __add_pages start: 0x100100 end: {end}"),
                    format!("WARNING: CPU: 0 PID: 1 at mm/memory_hotplug.c:{line} __add_pages"),
                    "---[ end trace 0000000000000000 ]---".to_string(),
                ]
            );
        }
    }
}
