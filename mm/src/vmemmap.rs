//! The kernel page tables that map the vmemmap (mm/sparse-vmemmap.c, arch/*/mm vmemmap
//! code): which vmemmap pages are mapped, by PMD leaf, PTE or bolted hash entry, what backs
//! them, and how many page-table pages that takes. State is kept per mapping extent.

use arch::{Geometry, TableLevel};
use std::collections::BTreeMap;
use std::ops::Bound;

/// How a vmemmap page is mapped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Level {
    /// Part of a PMD leaf.
    Pmd,
    /// A PTE in a PTE table.
    Pte,
    /// A bolted hash-table entry of `pages` base pages (powerpc hash).
    Bolted { pages: u64 },
}

/// Where the memory behind a vmemmap page came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Origin {
    /// memblock, during boot.
    Boot,
    /// The buddy allocator: existing free memory.
    Buddy,
    /// The hot-added memory block itself (memmap_on_memory).
    Altmap,
    /// A device's own reservation (pmem `map=dev`).
    Device,
}

impl Origin {
    pub const ALL: [Origin; 4] = [Origin::Boot, Origin::Buddy, Origin::Altmap, Origin::Device];

    pub fn name(self) -> &'static str {
        match self {
            Origin::Boot => "boot",
            Origin::Buddy => "buddy",
            Origin::Altmap => "altmap",
            Origin::Device => "device",
        }
    }

    fn idx(self) -> usize {
        self as usize
    }
}

/// Whether each mapped vmemmap page has a page of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Sharing {
    /// Every vmemmap page has its own backing page.
    Own,
    /// Deduplicated: in every group of `period` vmemmap pages starting at a vmemmap page
    /// `v` with `v % period == phase`, the first `unique` have their own page and the others
    /// map a shared one (device-dax compound pages: unique 2; HugeTLB vmemmap optimisation:
    /// unique 1, read-only).
    Dedup {
        period: u64,
        unique: u64,
        phase: u64,
        read_only: bool,
    },
}

/// One mapped run of vmemmap pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Mapping {
    pub level: Level,
    pub origin: Origin,
    pub sharing: Sharing,
}

impl Mapping {
    pub const fn own(level: Level, origin: Origin) -> Mapping {
        Mapping {
            level,
            origin,
            sharing: Sharing::Own,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Extent {
    end: u64,
    map: Mapping,
}

/// A page table of one level that exists for one slot of the vmemmap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Slot {
    /// Mapped vmemmap pages under this table.
    pages: u64,
    /// Allocated from memblock at boot (freed with free_reserved_page()).
    boot: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct LevelSlots {
    level: TableLevel,
    /// log2 of the vmemmap pages one table of this level covers.
    shift: u32,
    /// Whether PMD leaves need this level (false only for PTE tables).
    needed_by_leaves: bool,
    slots: BTreeMap<u64, Slot>,
}

/// Running totals, kept exact on every change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct VmemmapCounters {
    /// Pages backing the vmemmap, by [`Origin`].
    pub backing: [u64; 4],
    /// PMD leaves mapped.
    pub pmd_leaves: u64,
    /// PTEs mapped.
    pub ptes: u64,
    /// Bolted hash entries.
    pub bolted: u64,
    /// Bytes of page tables allocated at boot / from the buddy.
    pub table_bytes_boot: u64,
    pub table_bytes_buddy: u64,
}

impl VmemmapCounters {
    pub fn backing(&self, o: Origin) -> u64 {
        self.backing[o.idx()]
    }
}

/// Page tables allocated or freed by one change, by origin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TableChange {
    pub boot_bytes: u64,
    pub buddy_bytes: u64,
}

/// A piece removed by [`Vmemmap::unmap`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Removed {
    pub start: u64,
    pub end: u64,
    pub map: Mapping,
}

impl Removed {
    /// Backing pages this piece held.
    pub fn backing_pages(&self) -> u64 {
        backing_pages(self.start, self.end, self.map.sharing)
    }
}

/// The state of a PMD of the vmemmap (see arch::PmdEntry).
pub use arch::PmdEntry;

/// The vmemmap page tables.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Vmemmap {
    page_shift: u32,
    /// vmemmap pages per PMD.
    pmd_pages: u64,
    extents: BTreeMap<u64, Extent>,
    levels: Vec<LevelSlots>,
    counters: VmemmapCounters,
    /// During a transaction: the window of vmemmap pages it may touch.
    fence: Option<(u64, u64)>,
}

/// Unique pages of `[a, b)` under a sharing pattern.
fn backing_pages(a: u64, b: u64, sharing: Sharing) -> u64 {
    match sharing {
        Sharing::Own => b - a,
        Sharing::Dedup {
            period,
            unique,
            phase,
            ..
        } => backing_pages_for(a, b, period, unique, phase),
    }
}

/// Vmemmap pages `v` in `[a, b)` with `(v - phase) mod period < unique`: the pages with
/// their own backing under a dedup pattern.
pub fn backing_pages_for(a: u64, b: u64, period: u64, unique: u64, phase: u64) -> u64 {
    let shift = (period - phase % period) % period;
    let upto = |x: u64| (x / period) * unique + (x % period).min(unique);
    upto(b + shift) - upto(a + shift)
}

impl Vmemmap {
    pub fn new(g: &Geometry, tables: &[TableLevel]) -> Vmemmap {
        let levels = tables
            .iter()
            .map(|l| LevelSlots {
                level: *l,
                shift: l.covers_shift - g.page_shift,
                needed_by_leaves: l.covers_shift > g.pmd_shift,
                slots: BTreeMap::new(),
            })
            .collect();
        Vmemmap {
            page_shift: g.page_shift,
            pmd_pages: g.pmd_size >> g.page_shift,
            extents: BTreeMap::new(),
            levels,
            counters: VmemmapCounters::default(),
            fence: None,
        }
    }

    /// vmemmap page number of a vmemmap offset (rounded down).
    pub fn vpn(&self, va: u64) -> u64 {
        va >> self.page_shift
    }

    /// vmemmap page number of a vmemmap offset, rounded up.
    pub fn vpn_up(&self, va: u64) -> u64 {
        va.div_ceil(1 << self.page_shift)
    }

    pub fn pmd_pages(&self) -> u64 {
        self.pmd_pages
    }

    pub fn counters(&self) -> &VmemmapCounters {
        &self.counters
    }

    /// Page-table pages in use (table bytes rounded up to whole pages), all levels.
    pub fn table_pages(&self) -> u64 {
        let b = self.counters.table_bytes_boot + self.counters.table_bytes_buddy;
        b.div_ceil(1 << self.page_shift)
    }

    /// Tables of each level: (name, count).
    pub fn tables_per_level(&self) -> Vec<(&'static str, u64)> {
        self.levels
            .iter()
            .map(|l| (l.level.name, l.slots.len() as u64))
            .collect()
    }

    /// Tables of each level that map some of vmemmap pages `[a, b)`: (name, count). A table
    /// that also maps pages outside the range counts here too.
    pub fn tables_in(&self, a: u64, b: u64) -> Vec<(&'static str, u64)> {
        if a >= b {
            return self.levels.iter().map(|l| (l.level.name, 0)).collect();
        }
        self.levels
            .iter()
            .map(|l| {
                let n = l.slots.range(a >> l.shift..=(b - 1) >> l.shift).count();
                (l.level.name, n as u64)
            })
            .collect()
    }

    /// Number of mapping extents (for the memory-cost figures).
    pub fn extent_count(&self) -> usize {
        self.extents.len()
    }

    /// The mapping of vmemmap page `vpn`, with the extent it belongs to.
    pub fn lookup(&self, vpn: u64) -> Option<(u64, u64, Mapping)> {
        let (&s, e) = self.extents.range(..=vpn).next_back()?;
        (vpn < e.end).then_some((s, e.end, e.map))
    }

    /// Extents overlapping `[a, b)`, clipped to it.
    pub fn iter(&self, a: u64, b: u64) -> impl Iterator<Item = (u64, u64, Mapping)> + '_ {
        let first = match self.extents.range(..=a).next_back() {
            Some((&s, e)) if e.end > a => s,
            _ => a,
        };
        self.extents
            .range(first..b)
            .map(move |(&s, e)| (s.max(a), e.end.min(b), e.map))
            .filter(|(s, e, _)| s < e)
    }

    /// Whether any page in `[a, b)` is mapped.
    pub fn any_mapped(&self, a: u64, b: u64) -> bool {
        self.iter(a, b).next().is_some()
    }

    /// Pages in `[a, b)` that are mapped.
    pub fn mapped_pages(&self, a: u64, b: u64) -> u64 {
        self.iter(a, b).map(|(s, e, _)| e - s).sum()
    }

    /// The PMD entry covering vmemmap page `vpn`.
    pub fn pmd_entry(&self, vpn: u64) -> PmdEntry {
        let pmd_first = vpn - vpn % self.pmd_pages;
        if let Some((_, _, m)) = self.lookup(pmd_first) {
            if m.level == Level::Pmd {
                return PmdEntry::Leaf;
            }
        }
        match self.pte_level() {
            Some(l) if l.slots.contains_key(&(vpn >> l.shift)) => PmdEntry::Table,
            _ => PmdEntry::None,
        }
    }

    fn pte_level(&self) -> Option<&LevelSlots> {
        self.levels.first().filter(|l| !l.needed_by_leaves)
    }

    /// The state of the PMD holding `vpn` and the end (in vmemmap pages, PMD aligned, at most
    /// `cap`) of the run of PMDs in that state.
    pub fn pmd_run(&self, vpn: u64, cap: u64) -> (PmdEntry, u64) {
        let p = self.pmd_pages;
        let first = vpn - vpn % p;
        let entry = self.pmd_entry(vpn);
        let mut end = first + p;
        match entry {
            PmdEntry::Leaf => {
                while end < cap {
                    match self.lookup(end) {
                        Some((_, e, m)) if m.level == Level::Pmd => {
                            end = e.min(cap.next_multiple_of(p))
                        }
                        _ => break,
                    }
                }
            }
            PmdEntry::Table => {
                if let Some(l) = self.pte_level() {
                    while end < cap && l.slots.contains_key(&(end >> l.shift)) {
                        end += p;
                    }
                }
            }
            PmdEntry::None => {
                let next_extent = self.extents.range(end..).next().map(|(&s, _)| s - s % p);
                let next_table = self.pte_level().and_then(|l| {
                    l.slots
                        .range((end >> l.shift)..)
                        .next()
                        .map(|(&k, _)| k << l.shift)
                });
                let stop = [next_extent, next_table, Some(cap.next_multiple_of(p))]
                    .into_iter()
                    .flatten()
                    .min()
                    .unwrap_or(end);
                end = stop.max(end);
            }
        }
        (entry, end.min(cap.next_multiple_of(p)))
    }

    fn check_fence(&self, a: u64, b: u64) {
        if let Some((lo, hi)) = self.fence {
            debug_assert!(
                a >= lo && b <= hi,
                "vmemmap change [{a:#x},{b:#x}) outside [{lo:#x},{hi:#x})"
            );
        }
    }

    /// Page tables that mapping `[a, b)` at `level` would add (bytes).
    pub fn tables_needed(&self, a: u64, b: u64, level: Level) -> u64 {
        let mut bytes = 0;
        for l in &self.levels {
            if !Self::level_needed(l, level) {
                continue;
            }
            let (s0, s1) = (a >> l.shift, (b - 1) >> l.shift);
            // Most calls ask about one table (a PMD leaf, a memory block's memmap).
            let existing = if s0 == s1 {
                l.slots.contains_key(&s0) as u64
            } else {
                l.slots.range(s0..=s1).count() as u64
            };
            bytes += (s1 - s0 + 1 - existing) * l.level.table_bytes;
        }
        bytes
    }

    fn level_needed(l: &LevelSlots, level: Level) -> bool {
        match level {
            Level::Pte => true,
            Level::Pmd => l.needed_by_leaves,
            Level::Bolted { .. } => false,
        }
    }

    /// Map `[a, b)` (all unmapped) with `map`, adding page tables where needed; `boot` says
    /// whether new tables come from memblock. Returns the tables added.
    pub fn map(&mut self, a: u64, b: u64, map: Mapping, boot: bool) -> TableChange {
        debug_assert!(a < b);
        debug_assert!(
            !self.any_mapped(a, b),
            "vmemmap [{a:#x},{b:#x}) already mapped"
        );
        self.check_fence(a, b);
        let mut change = TableChange::default();
        for l in &mut self.levels {
            if !Self::level_needed(l, map.level) {
                continue;
            }
            let mut s = a;
            while s < b {
                let slot = s >> l.shift;
                let slot_end = ((slot + 1) << l.shift).min(b);
                let e = l.slots.entry(slot).or_insert_with(|| {
                    if boot {
                        change.boot_bytes += l.level.table_bytes;
                    } else {
                        change.buddy_bytes += l.level.table_bytes;
                    }
                    Slot { pages: 0, boot }
                });
                e.pages += slot_end - s;
                s = slot_end;
            }
        }
        self.counters.table_bytes_boot += change.boot_bytes;
        self.counters.table_bytes_buddy += change.buddy_bytes;
        self.count(a, b, map, true);
        // Insert, merging with equal neighbours.
        let mut start = a;
        let mut end = b;
        if let Some((&ps, pe)) = self.extents.range(..a).next_back() {
            if pe.end == a && pe.map == map {
                start = ps;
            }
        }
        if let Some(ne) = self.extents.get(&b) {
            if ne.map == map {
                end = ne.end;
                self.extents.remove(&b);
            }
        }
        self.extents.insert(start, Extent { end, map });
        change
    }

    fn count(&mut self, a: u64, b: u64, map: Mapping, add: bool) {
        let pages = b - a;
        let backing = backing_pages(a, b, map.sharing);
        let c = &mut self.counters;
        let apply = |v: &mut u64, d: u64| {
            if add {
                *v += d
            } else {
                *v -= d
            }
        };
        apply(&mut c.backing[map.origin.idx()], backing);
        match map.level {
            Level::Pmd => apply(&mut c.pmd_leaves, pages / self.pmd_pages),
            Level::Pte => apply(&mut c.ptes, pages),
            Level::Bolted { pages: per } => apply(&mut c.bolted, pages / per),
        }
    }

    /// Unmap `[a, b)`, splitting extents at the edges, and give back page tables left empty
    /// (levels the arch frees). Returns the pieces removed and the tables freed.
    pub fn unmap(&mut self, a: u64, b: u64) -> (Vec<Removed>, TableChange) {
        self.check_fence(a, b);
        let pieces: Vec<(u64, u64, Mapping)> = self.iter(a, b).collect();
        let mut removed = Vec::with_capacity(pieces.len());
        for (s, e, map) in pieces {
            self.split_at(s);
            // The extent now starts at s: take it out and put back what lies past e.
            if let Some(ext) = self.extents.remove(&s) {
                if ext.end > e {
                    self.extents.insert(e, Extent { end: ext.end, map });
                }
            }
            self.count(s, e, map, false);
            removed.push(Removed {
                start: s,
                end: e,
                map,
            });
        }
        let mut change = TableChange::default();
        for r in &removed {
            for l in &mut self.levels {
                if !Self::level_needed(l, r.map.level) {
                    continue;
                }
                let mut s = r.start;
                while s < r.end {
                    let slot = s >> l.shift;
                    let slot_end = ((slot + 1) << l.shift).min(r.end);
                    if let Some(e) = l.slots.get_mut(&slot) {
                        e.pages -= slot_end - s;
                        if e.pages == 0 && l.level.freed_when_empty {
                            if e.boot {
                                change.boot_bytes += l.level.table_bytes;
                            } else {
                                change.buddy_bytes += l.level.table_bytes;
                            }
                            l.slots.remove(&slot);
                        }
                    }
                    s = slot_end;
                }
            }
        }
        self.counters.table_bytes_boot -= change.boot_bytes;
        self.counters.table_bytes_buddy -= change.buddy_bytes;
        (removed, change)
    }

    /// Split the extent containing `at` so that an extent starts at `at`.
    fn split_at(&mut self, at: u64) {
        if let Some((&s, e)) = self.extents.range(..at).next_back() {
            if e.end > at {
                let tail = Extent {
                    end: e.end,
                    map: e.map,
                };
                self.extents.insert(
                    s,
                    Extent {
                        end: at,
                        map: e.map,
                    },
                );
                self.extents.insert(at, tail);
            }
        }
    }

    /// Replace the mapping of `[a, b)` (all mapped) without touching page tables: used when
    /// the backing of mapped pages changes (HugeTLB vmemmap optimisation remaps PTEs).
    pub fn remap(&mut self, a: u64, b: u64, map: Mapping) {
        self.check_fence(a, b);
        debug_assert_eq!(self.mapped_pages(a, b), b - a);
        let pieces: Vec<(u64, u64, Mapping)> = self.iter(a, b).collect();
        for (s, e, old) in pieces {
            debug_assert_eq!(old.level == Level::Pmd, map.level == Level::Pmd);
            self.split_at(s);
            self.split_at(e);
            self.extents.remove(&s);
            self.count(s, e, old, false);
        }
        self.count(a, b, map, true);
        self.extents.insert(a, Extent { end: b, map });
        self.merge_around(a, b);
    }

    /// PMD leaves mapping any page of `[a, b)`.
    pub fn pmd_leaves_in(&self, a: u64, b: u64) -> u64 {
        let p = self.pmd_pages;
        let (pa, pb) = (a - a % p, b.next_multiple_of(p));
        self.iter(pa, pb)
            .filter(|(_, _, m)| m.level == Level::Pmd)
            .map(|(s, e, _)| (e - s) / p)
            .sum()
    }

    /// Split every PMD leaf that maps a page of `[a, b)` into a PTE table mapping the same
    /// pages (vmemmap_split_pmd() in mm/hugetlb_vmemmap.c). Returns the tables added, all
    /// from the buddy.
    pub fn split_pmd(&mut self, a: u64, b: u64) -> TableChange {
        let p = self.pmd_pages;
        let (pa, pb) = (a - a % p, b.next_multiple_of(p));
        self.check_fence(pa, pb);
        let leaves: Vec<(u64, u64, Mapping)> = self
            .iter(pa, pb)
            .filter(|(_, _, m)| m.level == Level::Pmd)
            .collect();
        let mut change = TableChange::default();
        for (s, e, old) in leaves {
            self.split_at(s);
            self.split_at(e);
            self.extents.remove(&s);
            self.count(s, e, old, false);
            let map = Mapping {
                level: Level::Pte,
                ..old
            };
            self.count(s, e, map, true);
            self.extents.insert(s, Extent { end: e, map });
            self.merge_around(s, e);
            if let Some(l) = self.levels.iter_mut().find(|l| !l.needed_by_leaves) {
                let mut x = s;
                while x < e {
                    let slot = x >> l.shift;
                    let slot_end = ((slot + 1) << l.shift).min(e);
                    let t = l.slots.entry(slot).or_insert_with(|| {
                        change.buddy_bytes += l.level.table_bytes;
                        Slot {
                            pages: 0,
                            boot: false,
                        }
                    });
                    t.pages += slot_end - x;
                    x = slot_end;
                }
            }
        }
        self.counters.table_bytes_buddy += change.buddy_bytes;
        change
    }

    fn merge_around(&mut self, a: u64, b: u64) {
        if let Some(ne) = self.extents.get(&b).copied() {
            let cur = self.extents[&a];
            if ne.map == cur.map {
                self.extents.remove(&b);
                self.extents.insert(
                    a,
                    Extent {
                        end: ne.end,
                        map: cur.map,
                    },
                );
            }
        }
        if let Some((&ps, pe)) = self.extents.range(..a).next_back() {
            let cur = self.extents[&a];
            if pe.end == a && pe.map == cur.map {
                self.extents.remove(&a);
                self.extents.insert(
                    ps,
                    Extent {
                        end: cur.end,
                        map: cur.map,
                    },
                );
            }
        }
    }

    /// Limit changes to `[lo, hi)` (checked in debug builds); returns the fence it
    /// replaces, for [`Vmemmap::set_fence`] to put back.
    pub fn fence(&mut self, lo: u64, hi: u64) -> Option<(u64, u64)> {
        self.fence.replace((lo, hi))
    }

    /// Put a fence [`Vmemmap::fence`] returned back (None: no limit).
    pub fn set_fence(&mut self, f: Option<(u64, u64)>) {
        self.fence = f;
    }

    /// Copy what a change inside `[lo, hi)` can touch, to restore it later.
    pub fn save(&self, lo: u64, hi: u64) -> SavedVmemmap {
        let (elo, ehi) = (lo.saturating_sub(1), hi.saturating_add(1));
        let extents = self.iter_whole(elo, ehi).collect();
        let slots = self
            .levels
            .iter()
            .map(|l| {
                let (s0, s1) = (lo >> l.shift, hi.saturating_sub(1) >> l.shift);
                l.slots.range(s0..=s1).map(|(&k, &v)| (k, v)).collect()
            })
            .collect();
        SavedVmemmap {
            lo,
            hi,
            extents,
            slots,
            counters: self.counters,
        }
    }

    fn iter_whole(&self, a: u64, b: u64) -> impl Iterator<Item = (u64, Extent)> + '_ {
        let first = match self.extents.range(..=a).next_back() {
            Some((&s, e)) if e.end > a => s,
            _ => a,
        };
        self.extents.range(first..b).map(|(&s, e)| (s, *e))
    }

    /// Put back what [`Vmemmap::save`] copied.
    pub fn restore(&mut self, saved: SavedVmemmap) {
        let (elo, ehi) = (saved.lo.saturating_sub(1), saved.hi.saturating_add(1));
        let now: Vec<u64> = self.iter_whole(elo, ehi).map(|(s, _)| s).collect();
        for s in now {
            self.extents.remove(&s);
        }
        for (s, e) in saved.extents {
            self.extents.insert(s, e);
        }
        for (l, saved_slots) in self.levels.iter_mut().zip(saved.slots) {
            let (s0, s1) = (saved.lo >> l.shift, saved.hi.saturating_sub(1) >> l.shift);
            let now: Vec<u64> = l.slots.range(s0..=s1).map(|(&k, _)| k).collect();
            for k in now {
                l.slots.remove(&k);
            }
            l.slots.extend(saved_slots);
        }
        self.counters = saved.counters;
    }

    /// Check the counters against a recount of every extent and table (for tests).
    pub fn check(&self) -> Result<(), String> {
        let mut c = VmemmapCounters {
            table_bytes_boot: self.counters.table_bytes_boot,
            table_bytes_buddy: self.counters.table_bytes_buddy,
            ..Default::default()
        };
        let mut prev_end = 0;
        let mut prev_map: Option<Mapping> = None;
        for (&s, e) in &self.extents {
            if s < prev_end {
                return Err(format!("extents overlap at {s:#x}"));
            }
            if s == prev_end && prev_map == Some(e.map) {
                return Err(format!("adjacent equal extents not merged at {s:#x}"));
            }
            if e.end <= s {
                return Err(format!("empty extent at {s:#x}"));
            }
            if e.map.level == Level::Pmd && (s % self.pmd_pages != 0 || e.end % self.pmd_pages != 0)
            {
                return Err(format!("PMD extent [{s:#x},{:#x}) not PMD aligned", e.end));
            }
            c.backing[e.map.origin.idx()] += backing_pages(s, e.end, e.map.sharing);
            match e.map.level {
                Level::Pmd => c.pmd_leaves += (e.end - s) / self.pmd_pages,
                Level::Pte => c.ptes += e.end - s,
                Level::Bolted { pages } => c.bolted += (e.end - s) / pages,
            }
            prev_end = e.end;
            prev_map = Some(e.map);
        }
        if c != self.counters {
            return Err(format!(
                "vmemmap counters {:?} but extents give {:?}",
                self.counters, c
            ));
        }
        let (mut boot, mut buddy) = (0, 0);
        for l in &self.levels {
            for (&k, slot) in &l.slots {
                let lo = k << l.shift;
                let hi = (k + 1) << l.shift;
                let pages: u64 = self
                    .iter(lo, hi)
                    .filter(|(_, _, m)| Self::level_needed(l, m.level))
                    .map(|(s, e, _)| e - s)
                    .sum();
                if pages != slot.pages {
                    return Err(format!(
                        "{} table {k:#x} counts {} pages, maps {pages}",
                        l.level.name, slot.pages
                    ));
                }
                if pages == 0 && l.level.freed_when_empty {
                    return Err(format!("empty {} table {k:#x} not freed", l.level.name));
                }
                if slot.boot {
                    boot += l.level.table_bytes;
                } else {
                    buddy += l.level.table_bytes;
                }
            }
        }
        if (boot, buddy)
            != (
                self.counters.table_bytes_boot,
                self.counters.table_bytes_buddy,
            )
        {
            return Err(format!(
                "table bytes boot/buddy {}/{} but tables give {boot}/{buddy}",
                self.counters.table_bytes_boot, self.counters.table_bytes_buddy
            ));
        }
        Ok(())
    }

    /// The next mapped vmemmap page at or after `vpn`.
    pub fn next_mapped(&self, vpn: u64) -> Option<u64> {
        if self.lookup(vpn).is_some() {
            return Some(vpn);
        }
        self.extents
            .range((Bound::Excluded(vpn), Bound::Unbounded))
            .next()
            .map(|(&s, _)| s)
    }
}

/// What [`Vmemmap::save`] copied.
#[derive(Debug)]
pub struct SavedVmemmap {
    lo: u64,
    hi: u64,
    extents: Vec<(u64, Extent)>,
    slots: Vec<Vec<(u64, Slot)>>,
    counters: VmemmapCounters,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn x86() -> (Geometry, Vmemmap) {
        let t = arch::Target::default_target();
        (
            t.geometry,
            Vmemmap::new(&t.geometry, t.arch().params(t.kernel).vmemmap_tables),
        )
    }

    #[test]
    fn pmd_leaves_merge_and_count_tables() {
        let (_, mut v) = x86();
        // Two sections' memmaps as PMD leaves: 2 x 512 vmemmap pages, one PMD table, one PUD
        // table, no PTE table.
        let boot = Mapping::own(Level::Pmd, Origin::Boot);
        let c = v.map(0, 512, boot, true);
        assert_eq!(c.boot_bytes, 2 * 4096);
        v.map(512, 1024, boot, true);
        assert_eq!(v.extent_count(), 1);
        assert_eq!(v.counters().pmd_leaves, 2);
        assert_eq!(v.counters().backing(Origin::Boot), 1024);
        assert_eq!(
            v.tables_per_level(),
            vec![("PTE", 0), ("PMD", 1), ("PUD", 1)]
        );
        v.check().unwrap();
        assert_eq!(v.pmd_entry(700), PmdEntry::Leaf);
        assert_eq!(v.pmd_entry(1024), PmdEntry::None);
        assert_eq!(v.pmd_run(0, 4096), (PmdEntry::Leaf, 1024));
        assert_eq!(v.pmd_run(1024, 4096), (PmdEntry::None, 4096));
    }

    #[test]
    fn ptes_need_pte_tables_and_empty_ones_are_freed() {
        let (_, mut v) = x86();
        // A 2 MiB sub-section's memmap: 32 KiB = 8 vmemmap pages.
        let m = Mapping::own(Level::Pte, Origin::Buddy);
        let c = v.map(1024, 1032, m, false);
        assert_eq!(c.buddy_bytes, 3 * 4096); // PTE + PMD + PUD tables
        assert_eq!(v.pmd_entry(1030), PmdEntry::Table);
        assert_eq!(v.pmd_run(1024, 4096), (PmdEntry::Table, 1536));
        let (removed, freed) = v.unmap(1024, 1032);
        assert_eq!(removed.len(), 1);
        // x86 4-level frees PTE and PMD tables but never PUD tables.
        assert_eq!(freed.buddy_bytes, 2 * 4096);
        assert_eq!(
            v.tables_per_level(),
            vec![("PTE", 0), ("PMD", 0), ("PUD", 1)]
        );
        v.check().unwrap();
    }

    #[test]
    fn unmap_splits_extents() {
        let (_, mut v) = x86();
        let m = Mapping::own(Level::Pmd, Origin::Buddy);
        v.map(0, 512 * 8, m, false);
        let (removed, _) = v.unmap(512 * 2, 512 * 3);
        assert_eq!(removed[0].backing_pages(), 512);
        assert_eq!(v.extent_count(), 2);
        assert_eq!(v.counters().pmd_leaves, 7);
        v.check().unwrap();
    }

    #[test]
    fn dedup_counts_unique_pages() {
        // 1 GiB device-dax compound pages: 4096 vmemmap pages each, 2 unique.
        let s = Sharing::Dedup {
            period: 4096,
            unique: 2,
            phase: 0,
            read_only: false,
        };
        assert_eq!(backing_pages(0, 4096 * 1024, s), 2048);
        assert_eq!(backing_pages(512, 1024, s), 0);
        assert_eq!(backing_pages(4095, 4098, s), 2);
        let s8 = Sharing::Dedup {
            period: 8,
            unique: 2,
            phase: 0,
            read_only: false,
        };
        assert_eq!(backing_pages(0, 8 * 524288, s8), 2 * 524288);
        // A pattern that starts at vmemmap page 3: pages 3, 4, 11, 12, ... are unique.
        assert_eq!(backing_pages_for(0, 16, 8, 2, 3), 4);
        assert_eq!(backing_pages_for(3, 5, 8, 2, 3), 2);
        assert_eq!(backing_pages_for(5, 11, 8, 2, 3), 0);
    }

    #[test]
    fn save_and_restore() {
        let (_, mut v) = x86();
        let boot = Mapping::own(Level::Pmd, Origin::Boot);
        v.map(0, 1024, boot, true);
        let before = v.clone();
        let saved = v.save(1024, 4096);
        v.map(1024, 1536, boot, false);
        v.map(2048, 2056, Mapping::own(Level::Pte, Origin::Buddy), false);
        assert_ne!(v, before);
        v.restore(saved);
        assert_eq!(v, before);
    }
}
