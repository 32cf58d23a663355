//! struct mem_section and its mem_section_usage (include/linux/mmzone.h), kept in
//! SPARSEMEM_EXTREME roots that are allocated on first use (sparse_index_init, mm/sparse.c).

use crate::units::{Pfn, SectionNr};
use arch::Geometry;

/// SECTION_MARKED_PRESENT: memory exists in the section.
pub const SECTION_MARKED_PRESENT: u8 = 1 << 0;
/// SECTION_HAS_MEM_MAP: the memmap is installed (valid_section()).
pub const SECTION_HAS_MEM_MAP: u8 = 1 << 1;
/// SECTION_IS_ONLINE: the section's memory is online.
pub const SECTION_IS_ONLINE: u8 = 1 << 2;
/// SECTION_IS_EARLY: the section existed at boot; its memmap is fully populated.
pub const SECTION_IS_EARLY: u8 = 1 << 3;
/// SECTION_TAINT_ZONE_DEVICE: ZONE_DEVICE pfns share the section with online memory.
pub const SECTION_TAINT_ZONE_DEVICE: u8 = 1 << 4;

/// The widest subsection_map of any arch: 256 bits (arm64 with 64K pages).
pub const MAX_SUBSECTIONS: usize = 256;

/// struct mem_section_usage: the sub-section bitmap (the pageblock flags are not modelled).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct SectionUsage {
    pub subsection_map: [u64; MAX_SUBSECTIONS / 64],
    /// The usage map was allocated from memblock at boot (PageReserved) and shares a page
    /// with other sections' maps, so section_deactivate() keeps it.
    pub boot_allocated: bool,
}

impl SectionUsage {
    pub fn test(&self, idx: u64) -> bool {
        self.subsection_map[(idx / 64) as usize] & (1 << (idx % 64)) != 0
    }

    /// A mask with bits `[first, last]` set (subsection_mask_set()).
    pub fn mask(first: u64, last: u64) -> [u64; MAX_SUBSECTIONS / 64] {
        let mut m = [0u64; MAX_SUBSECTIONS / 64];
        for (w, word) in m.iter_mut().enumerate() {
            let lo = (w as u64) * 64;
            let hi = lo + 63;
            if last < lo || first > hi {
                continue;
            }
            let a = first.max(lo) - lo;
            let b = last.min(hi) - lo;
            let width = b - a + 1;
            *word = if width == 64 {
                u64::MAX
            } else {
                ((1u64 << width) - 1) << a
            };
        }
        m
    }

    pub fn is_empty(&self) -> bool {
        self.subsection_map.iter().all(|w| *w == 0)
    }

    pub fn intersects(&self, mask: &[u64; MAX_SUBSECTIONS / 64]) -> bool {
        self.subsection_map
            .iter()
            .zip(mask)
            .any(|(a, b)| a & b != 0)
    }

    pub fn contains_all(&self, mask: &[u64; MAX_SUBSECTIONS / 64]) -> bool {
        self.subsection_map
            .iter()
            .zip(mask)
            .all(|(a, b)| a & b == *b)
    }

    pub fn set(&mut self, mask: &[u64; MAX_SUBSECTIONS / 64]) {
        for (a, b) in self.subsection_map.iter_mut().zip(mask) {
            *a |= b;
        }
    }

    pub fn clear(&mut self, mask: &[u64; MAX_SUBSECTIONS / 64]) {
        for (a, b) in self.subsection_map.iter_mut().zip(mask) {
            *a &= !b;
        }
    }

    pub fn count(&self) -> u64 {
        self.subsection_map
            .iter()
            .map(|w| u64::from(w.count_ones()))
            .sum()
    }

    /// The map as a string of '1'/'0', sub-section 0 first.
    pub fn bits(&self, n: u64) -> String {
        (0..n)
            .map(|i| if self.test(i) { '1' } else { '0' })
            .collect()
    }
}

/// struct mem_section: flags (the low bits of section_mem_map), node and usage. The memmap
/// pointer is implicit with SPARSEMEM_VMEMMAP: pfn_to_page() is arithmetic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct MemSection {
    pub flags: u8,
    pub nid: u16,
    pub usage: Option<SectionUsage>,
    /// nr_memmap_pages this section's populates added, by where the pages came from
    /// (buddy, altmap, device), so that depopulating takes them back from the same place.
    pub memmap_counted: [u32; 3],
    /// The zone (index in the node's zone list, plus one; 0: none) the buddy pages of this
    /// section's memmap came from, so that freeing gives them back there.
    pub memmap_zone: u8,
}

impl MemSection {
    pub fn present(&self) -> bool {
        self.flags & SECTION_MARKED_PRESENT != 0
    }
    /// valid_section().
    pub fn valid(&self) -> bool {
        self.flags & SECTION_HAS_MEM_MAP != 0
    }
    pub fn online(&self) -> bool {
        self.flags & SECTION_IS_ONLINE != 0
    }
    pub fn early(&self) -> bool {
        self.flags & SECTION_IS_EARLY != 0
    }
    pub fn zone_device_tainted(&self) -> bool {
        self.flags & SECTION_TAINT_ZONE_DEVICE != 0
    }

    /// The flags as the kernel's names, e.g. "present|has_mem_map|online|early".
    pub fn flag_names(&self) -> String {
        let names = [
            (SECTION_MARKED_PRESENT, "present"),
            (SECTION_HAS_MEM_MAP, "has_mem_map"),
            (SECTION_IS_ONLINE, "online"),
            (SECTION_IS_EARLY, "early"),
            (SECTION_TAINT_ZONE_DEVICE, "zone_device"),
        ];
        let v: Vec<&str> = names
            .iter()
            .filter(|(b, _)| self.flags & b != 0)
            .map(|(_, n)| *n)
            .collect();
        if v.is_empty() {
            "none".to_string()
        } else {
            v.join("|")
        }
    }
}

/// The mem_section array with SPARSEMEM_EXTREME: NR_SECTION_ROOTS pointers to roots of
/// SECTIONS_PER_ROOT sections, a root allocated the first time one of its sections is used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SectionTable {
    /// The roots allocated, by index: a machine's cost follows the memory it has, not the
    /// NR_SECTION_ROOTS its address space could hold.
    roots: std::collections::BTreeMap<u64, Box<[MemSection]>>,
    per_root: u64,
    nr_sections: u64,
    /// Roots allocated so far (sparse_index_init()).
    roots_allocated: u64,
}

/// Hashes the sections that are not empty, by number (the roots array is mostly empty:
/// NR_SECTION_ROOTS is 131072 with 5-level paging).
impl std::hash::Hash for SectionTable {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        self.nr_sections.hash(h);
        self.roots_allocated.hash(h);
        let empty = MemSection::default();
        for (r, secs) in &self.roots {
            for (i, s) in secs.iter().enumerate().filter(|(_, s)| **s != empty) {
                (r * self.per_root + i as u64).hash(h);
                s.hash(h);
            }
        }
    }
}

impl SectionTable {
    pub fn new(g: &Geometry) -> SectionTable {
        let t = SectionTable {
            roots: Default::default(),
            per_root: g.sections_per_root,
            nr_sections: g.nr_mem_sections,
            roots_allocated: 0,
        };
        debug_assert!(t.per_root.is_power_of_two());
        t
    }

    /// NR_MEM_SECTIONS.
    pub fn nr_sections(&self) -> u64 {
        self.nr_sections
    }

    pub fn roots_allocated(&self) -> u64 {
        self.roots_allocated
    }

    /// __nr_to_section(): the section, if its root exists.
    pub fn get(&self, nr: SectionNr) -> Option<&MemSection> {
        if nr.0 >= self.nr_sections {
            return None;
        }
        let (r, i) = self.split(nr);
        let root = self.roots.get(&(r as u64))?;
        Some(&root[i])
    }

    /// The section's state, or an empty section if its root does not exist.
    pub fn state(&self, nr: SectionNr) -> MemSection {
        self.get(nr).copied().unwrap_or_default()
    }

    /// sparse_index_init() + __nr_to_section(): allocates the root if needed.
    /// Panics if `nr` is beyond NR_MEM_SECTIONS. Every range reaches here through a check
    /// against MAX_PHYSMEM_BITS first: boot (RAM beyond it is ERANGE), add_memory() and
    /// memremap_pages() (mhp_get_pluggable_range(), E2BIG); the property tests throw
    /// ranges across the end of the physical address space at both.
    pub fn get_mut(&mut self, nr: SectionNr) -> &mut MemSection {
        assert!(
            nr.0 < self.nr_sections,
            "section {} beyond NR_MEM_SECTIONS",
            nr.0
        );
        let (idx, i) = self.split(nr);
        let (per_root, allocated) = (self.per_root, &mut self.roots_allocated);
        let root = self.roots.entry(idx as u64).or_insert_with(|| {
            *allocated += 1;
            vec![MemSection::default(); per_root as usize].into()
        });
        &mut root[i]
    }

    /// SECTION_NR_TO_ROOT() and SECTION_ROOT_MASK: SECTIONS_PER_ROOT is a power of two
    /// (PAGE_SIZE over sizeof(struct mem_section)), so a shift and a mask.
    fn split(&self, nr: SectionNr) -> (usize, usize) {
        let shift = self.per_root.trailing_zeros();
        (
            (nr.0 >> shift) as usize,
            (nr.0 & (self.per_root - 1)) as usize,
        )
    }

    /// The allocated roots' slices of sections in `[first, end)`, each with the number of
    /// its first section, in section order.
    fn slices(
        &self,
        first: SectionNr,
        end: SectionNr,
    ) -> impl DoubleEndedIterator<Item = (u64, &[MemSection])> + '_ {
        let end = end.0.min(self.nr_sections);
        let per_root = self.per_root;
        let first_root = first.0 / per_root;
        let last_root = if end == 0 {
            0
        } else {
            (end - 1) / per_root + 1
        };
        self.roots
            .range(first_root..last_root.max(first_root))
            .map(move |(&r, secs)| {
                let base = r * per_root;
                let lo = first.0.saturating_sub(base).min(per_root);
                let hi = end.saturating_sub(base).min(per_root).max(lo);
                (base + lo, &secs[lo as usize..hi as usize])
            })
    }

    /// Sections in `[first, end)` whose roots exist, to change, in section order.
    pub fn iter_range_mut(
        &mut self,
        first: SectionNr,
        end: SectionNr,
    ) -> impl Iterator<Item = &mut MemSection> + '_ {
        let end = end.0.min(self.nr_sections);
        let per_root = self.per_root;
        let first_root = first.0 / per_root;
        let end_root = end.div_ceil(per_root).max(first_root);
        self.roots
            .range_mut(first_root..end_root)
            .flat_map(move |(&r, secs)| {
                let base = r * per_root;
                let lo = first.0.saturating_sub(base).min(per_root);
                let hi = end.saturating_sub(base).min(per_root).max(lo);
                &mut secs[lo as usize..hi as usize]
            })
    }

    /// Sections in `[first, end)` whose roots exist, skipping roots never allocated.
    pub fn iter_range(
        &self,
        first: SectionNr,
        end: SectionNr,
    ) -> impl Iterator<Item = (SectionNr, &MemSection)> + '_ {
        self.slices(first, end)
            .flat_map(|(base, secs)| (base..).map(SectionNr).zip(secs.iter()))
    }

    /// Sections in `[first, end)` whose roots exist, from the top down.
    pub fn iter_range_rev(
        &self,
        first: SectionNr,
        end: SectionNr,
    ) -> impl Iterator<Item = (SectionNr, &MemSection)> + '_ {
        self.slices(first, end).rev().flat_map(|(base, secs)| {
            secs.iter()
                .enumerate()
                .rev()
                .map(move |(i, s)| (SectionNr(base + i as u64), s))
        })
    }

    /// Present sections in `[first, end)`.
    pub fn present_in(
        &self,
        first: SectionNr,
        end: SectionNr,
    ) -> impl Iterator<Item = (SectionNr, &MemSection)> + '_ {
        self.iter_range(first, end).filter(|(_, s)| s.present())
    }

    /// All present sections.
    pub fn present(&self) -> impl Iterator<Item = (SectionNr, &MemSection)> + '_ {
        self.present_in(SectionNr(0), SectionNr(self.nr_sections))
    }

    /// A copy of the sections in `[first, end)` whose roots exist, to restore later.
    pub fn save(&self, first: SectionNr, end: SectionNr) -> SavedSections {
        let end = end.0.min(self.nr_sections);
        let first_root = first.0 / self.per_root;
        let last_root = if end == 0 {
            0
        } else {
            (end - 1) / self.per_root + 1
        };
        let range = (first_root, last_root.max(first_root));
        let roots = self
            .roots
            .range(range.0..range.1)
            .map(|(&r, secs)| (r, secs.clone()))
            .collect();
        SavedSections {
            range,
            roots,
            roots_allocated: self.roots_allocated,
        }
    }

    /// Put back what [`SectionTable::save`] copied.
    pub fn restore(&mut self, saved: SavedSections) {
        let now: Vec<u64> = self
            .roots
            .range(saved.range.0..saved.range.1)
            .map(|(&r, _)| r)
            .collect();
        for r in now {
            self.roots.remove(&r);
        }
        self.roots.extend(saved.roots);
        self.roots_allocated = saved.roots_allocated;
    }

    /// The pfn range `[start, end)` of memory the table can describe at all.
    pub fn max_pfn(&self, g: &Geometry) -> Pfn {
        Pfn(self.nr_sections << g.pfn_section_shift)
    }
}

/// Roots copied by [`SectionTable::save`].
#[derive(Debug)]
pub struct SavedSections {
    /// The roots `[start, end)` the copy covers.
    range: (u64, u64),
    roots: Vec<(u64, Box<[MemSection]>)>,
    roots_allocated: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks() {
        let m = SectionUsage::mask(0, 63);
        assert_eq!(m, [u64::MAX, 0, 0, 0]);
        let m = SectionUsage::mask(62, 65);
        assert_eq!(m, [0b11 << 62, 0b11, 0, 0]);
        let m = SectionUsage::mask(0, 255);
        assert_eq!(m, [u64::MAX; 4]);
        let mut u = SectionUsage::default();
        u.set(&SectionUsage::mask(3, 4));
        assert!(u.test(3) && u.test(4) && !u.test(5));
        assert_eq!(u.count(), 2);
        assert_eq!(u.bits(8), "00011000");
        assert!(u.contains_all(&SectionUsage::mask(4, 4)));
        assert!(!u.contains_all(&SectionUsage::mask(4, 5)));
        u.clear(&SectionUsage::mask(3, 3));
        assert_eq!(u.count(), 1);
    }

    #[test]
    fn roots_on_demand() {
        let g = arch::Target::default_target().geometry;
        let mut t = SectionTable::new(&g);
        assert_eq!(t.nr_sections(), 1 << 19);
        assert!(t.get(SectionNr(300)).is_none());
        t.get_mut(SectionNr(300)).flags = SECTION_MARKED_PRESENT;
        assert_eq!(t.roots_allocated(), 1);
        assert!(t.get(SectionNr(300)).unwrap().present());
        assert!(!t.get(SectionNr(301)).unwrap().present());
        let found: Vec<u64> = t.present().map(|(n, _)| n.0).collect();
        assert_eq!(found, vec![300]);
        assert!(t.get(SectionNr(1 << 19)).is_none());
    }
}
