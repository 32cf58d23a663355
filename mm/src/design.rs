//! The seeds' designs as variants beside mainline (`hotplug_lab.design=`): where hot-added
//! memory's memmap goes and how it is tracked and freed (rfc-2018, v3-2019), and the unit
//! ZONE_DEVICE ranges are activated in (legacy-64m, section-only).

use crate::altmap::VmemAltmap;
use crate::sparse::MemmapFree;
use arch::Geometry;

/// How a design places the memmap of a hot-add.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HotaddMemmap {
    /// Mainline: memmap_on_memory as the caller asks and mhp_supports_memmap_on_memory()
    /// allows, one altmap per memory block.
    PerBlock,
    /// One altmap for the whole range, its memmap at the range's start, on every hot-add.
    WholeRange,
    /// The design would use the range but the arch vetoes it; the memmap comes from RAM.
    Vetoed(String),
}

/// What the head vmemmap page of a whole-range altmap records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeadLayout {
    /// rfc-2018: the first vmemmap page's reference count counts the sections using it.
    Refcount,
    /// v3-2019: head->vmemmap_pages and head->vmemmap_sections; tails point at the head.
    PagesAndSections,
}

/// A design variant. Mainline is the default and the plain path; the others change only
/// what these hooks say.
pub trait Design: std::fmt::Debug + Sync {
    /// The name `hotplug_lab.design=` takes.
    fn name(&self) -> &'static str;
    /// Where a hot-add's memmap goes, given whether the arch's hot-added memory is
    /// inaccessible until onlined (s390 standby memory).
    fn hotadd_memmap(&self, offline_inaccessible: bool) -> HotaddMemmap {
        let _ = offline_inaccessible;
        HotaddMemmap::PerBlock
    }
    /// The head page's bookkeeping for a whole-range altmap.
    fn head_layout(&self) -> HeadLayout {
        HeadLayout::Refcount
    }
    /// Whether removing part of a whole-range add is refused (v3's
    /// check_hotplug_granularity()).
    fn same_granularity_remove(&self) -> bool {
        false
    }
    /// The unit ZONE_DEVICE ranges are activated in, and the mixed-region check aligns to;
    /// None: sub-sections and the exact range (mainline).
    fn device_unit(&self, g: &Geometry) -> Option<u64> {
        let _ = g;
        None
    }
}

#[derive(Debug)]
struct Mainline;
impl Design for Mainline {
    fn name(&self) -> &'static str {
        "mainline"
    }
}

/// Seed 000: MHP_MEMMAP_FROM_RANGE, PageVmemmap, a refcount in the first vmemmap page.
#[derive(Debug)]
struct Rfc2018;
impl Design for Rfc2018 {
    fn name(&self) -> &'static str {
        "rfc-2018"
    }
    fn hotadd_memmap(&self, offline_inaccessible: bool) -> HotaddMemmap {
        if offline_inaccessible {
            HotaddMemmap::Vetoed(
                "rfc-2018: the arch vetoes MHP_MEMMAP_FROM_RANGE: the physical memory range is made \
                 accessible only during memory online (s390)"
                    .to_string(),
            )
        } else {
            HotaddMemmap::WholeRange
        }
    }
}

/// Seed 001: MHP_MEMMAP_ON_MEMORY with a head/tail layout and a granularity check.
#[derive(Debug)]
struct V3_2019;
impl Design for V3_2019 {
    fn name(&self) -> &'static str {
        "v3-2019"
    }
    fn hotadd_memmap(&self, offline_inaccessible: bool) -> HotaddMemmap {
        if offline_inaccessible {
            HotaddMemmap::Vetoed(
                "v3-2019: s390's arch_add_memory() clears MHP_MEMMAP_ON_MEMORY (its memory is \
                 accessible only once onlined)"
                    .to_string(),
            )
        } else {
            HotaddMemmap::WholeRange
        }
    }
    fn head_layout(&self) -> HeadLayout {
        HeadLayout::PagesAndSections
    }
    fn same_granularity_remove(&self) -> bool {
        true
    }
}

/// Seed 004 as posted: ZONE_DEVICE activation tracked in 64 MiB units (map_active).
#[derive(Debug)]
struct Legacy64m;
impl Design for Legacy64m {
    fn name(&self) -> &'static str {
        "legacy-64m"
    }
    fn device_unit(&self, _g: &Geometry) -> Option<u64> {
        Some(64 << 20)
    }
}

/// Before seed 004: ZONE_DEVICE ranges are activated in whole sections.
#[derive(Debug)]
struct SectionOnly;
impl Design for SectionOnly {
    fn name(&self) -> &'static str {
        "section-only"
    }
    fn device_unit(&self, g: &Geometry) -> Option<u64> {
        Some(g.section_size)
    }
}

static DESIGNS: [&dyn Design; 5] = [&Mainline, &Rfc2018, &V3_2019, &Legacy64m, &SectionOnly];

/// The design names, mainline first.
pub fn names() -> Vec<&'static str> {
    DESIGNS.iter().map(|d| d.name()).collect()
}

/// The design called `name`.
pub fn lookup(name: &str) -> Option<&'static dyn Design> {
    DESIGNS.iter().copied().find(|d| d.name() == name)
}

/// A hot-add whose memmap sits on one altmap at the start of its range (rfc-2018, v3-2019).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RangeAltmap {
    pub start_pfn: u64,
    pub nr_pages: u64,
    pub altmap: VmemAltmap,
    /// Vmemmap pages allocated from the altmap (v3's head->vmemmap_pages).
    pub vmemmap_pages: u64,
    /// Sections added with it (v3's head->vmemmap_sections).
    pub sections: u64,
    /// The head page's reference count (rfc-2018): sections not yet removed.
    pub refcount: u64,
    /// vmemmap_free() calls deferred until the last section goes, in removal order.
    pub deferred: Vec<(u64, MemmapFree)>,
}

/// What the head vmemmap page of a hot-added range records (`m.vmemmap_head(start)`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VmemmapHead {
    /// The pfn whose struct page is the head: the range's first pfn under rfc-2018 and
    /// v3-2019, the memory block's first pfn under mainline.
    pub pfn: u64,
    /// The design's fields: `refcount` (rfc-2018), `vmemmap_pages` and `vmemmap_sections`
    /// (v3-2019), `nr_vmemmap_pages` (mainline, the memory block's count).
    pub fields: Vec<(&'static str, u64)>,
}

use crate::error::{MmError, Result};
use crate::machine::Machine;
use crate::sparse::AltmapArg;
use crate::units::BlockId;
use crate::vmemmap::Origin;

impl Machine {
    /// The design variant the machine runs (`hotplug_lab.design=`).
    pub fn design(&self) -> &'static str {
        self.design.name()
    }

    /// The whole-range altmap holding `pfn`, if any.
    fn range_altmap_of(&self, pfn: u64) -> Option<&RangeAltmap> {
        self.state
            .range_altmaps
            .range(..=pfn)
            .next_back()
            .map(|(_, r)| r)
            .filter(|r| pfn < r.start_pfn + r.nr_pages)
    }

    /// Refuse a hot-add over sections whose memmap a whole-range altmap still maps.
    pub(crate) fn check_no_deferred_memmap(&self, start_pfn: u64, nr_pages: u64) -> Result<()> {
        let hit =
            self.state.range_altmaps.values().find(|r| {
                r.start_pfn < start_pfn + nr_pages && start_pfn < r.start_pfn + r.nr_pages
            });
        match hit {
            Some(r) => Err(MmError::Busy(format!(
                "{}: the memmap of [{:#x}-{:#x}] is still mapped from its own range: vmemmap_free() \
                 waits until the last of its {} sections is removed ({} left)",
                self.design.name(),
                r.start_pfn << self.u.g.page_shift,
                ((r.start_pfn + r.nr_pages) << self.u.g.page_shift) - 1,
                r.sections,
                r.refcount
            ))),
            None => Ok(()),
        }
    }

    /// Hot-add with one altmap for the whole range (rfc-2018's MHP_MEMMAP_FROM_RANGE,
    /// v3-2019's MHP_MEMMAP_ON_MEMORY): the memmap fills the range from its start, the
    /// blocks it covers skip those pages when onlined, and the head page keeps the count.
    pub(crate) fn add_whole_range(
        &mut self,
        nid: u16,
        start_pfn: u64,
        nr_pages: u64,
        group: Option<u32>,
        name: &'static str,
    ) -> Result<Vec<BlockId>> {
        let g = self.u.g;
        let memmap_pages = (nr_pages * g.struct_page_size).div_ceil(g.page_size);
        let mut altmap = VmemAltmap {
            base_pfn: start_pfn,
            end_pfn: start_pfn + nr_pages - 1,
            free: memmap_pages,
            ..VmemAltmap::default()
        };
        self.add_pages(
            nid,
            start_pfn,
            nr_pages,
            Some(AltmapArg::one(&mut altmap, Origin::Altmap)),
            None,
        )?;
        let blocks =
            self.create_memory_blocks(start_pfn, nr_pages, None, group, nid, name, false)?;
        // The pfns the memmap took, from the start of the range: PageVmemmap in both
        // designs, skipped by online and offline.
        let used = altmap.alloc + altmap.align;
        // The blocks skip whole sub-sections of it when onlined and offlined: zone spans
        // are tracked in sub-sections (find_smallest_section_pfn() steps by them), so a
        // partial one is left unused, as mainline's pageblock rule would.
        let skipped = used.next_multiple_of(g.pages_per_subsection);
        let per_block = self.u.pages_per_block();
        for id in &blocks {
            let bs = self.u.block_start(*id) >> g.page_shift;
            let n = skipped.saturating_sub(bs - start_pfn).min(per_block);
            if n > 0 {
                let b = self.block_mut(*id)?;
                b.altmap = Some(crate::memory_block::BlockAltmap::of(&VmemAltmap {
                    base_pfn: bs,
                    end_pfn: bs + per_block - 1,
                    free: n,
                    alloc: n,
                    ..VmemAltmap::default()
                }));
            }
        }
        let sections = nr_pages.div_ceil(g.pages_per_section);
        self.log(format!(
            "{}: marking pfns {start_pfn:#x}-{:#x} as Vmemmap ({used} pages for {sections} sections)",
            self.design.name(),
            start_pfn + used - 1
        ));
        self.state.range_altmaps.insert(
            start_pfn,
            RangeAltmap {
                start_pfn,
                nr_pages,
                altmap,
                vmemmap_pages: used,
                sections,
                refcount: sections,
                deferred: Vec::new(),
            },
        );
        Ok(blocks)
    }

    /// The whole-range add `[start_pfn, +nr_pages)` lies in (its first pfn), if any; errors
    /// if it straddles one, or (v3-2019) does not match the add's granularity.
    pub(crate) fn whole_range_remove_check(
        &self,
        start_pfn: u64,
        nr_pages: u64,
    ) -> Result<Option<u64>> {
        let end = start_pfn + nr_pages;
        let overlapping: Vec<&RangeAltmap> = self
            .state
            .range_altmaps
            .values()
            .filter(|r| r.start_pfn < end && start_pfn < r.start_pfn + r.nr_pages)
            .collect();
        let Some(r) = overlapping.first() else {
            return Ok(None);
        };
        let ps = self.u.g.page_shift;
        if overlapping.len() > 1 || start_pfn < r.start_pfn || end > r.start_pfn + r.nr_pages {
            return Err(MmError::Invalid(format!(
                "{}: [{:#x}-{:#x}] is not inside one hot-added range whose memmap lives on it",
                self.design.name(),
                start_pfn << ps,
                (end << ps) - 1
            )));
        }
        if self.design.same_granularity_remove() {
            if start_pfn != r.start_pfn {
                return Err(MmError::Invalid(format!(
                    "check_hotplug_granularity: the range does not start at the head vmemmap page \
                     (pfn {:#x} is a tail; the head is pfn {:#x})",
                    start_pfn, r.start_pfn
                )));
            }
            let sections = nr_pages / self.u.g.pages_per_section;
            if sections != r.sections {
                return Err(MmError::Invalid(format!(
                    "check_hotplug_granularity: removing {sections} sections, but the range was added \
                     with {} (head->vmemmap_sections): remove it as it was added",
                    r.sections
                )));
            }
        }
        Ok(Some(r.start_pfn))
    }

    /// Remove sections of a whole-range add: each section drops the head's count; the
    /// vmemmap_free() calls wait until it reaches zero and then run from the last section
    /// back to the first, because the memmap (and the struct pages of the memmap itself)
    /// sits at the start of the range.
    pub(crate) fn remove_whole_range(&mut self, key: u64, start_pfn: u64, nr_pages: u64) {
        // `key` comes from whole_range_remove_check() in the same call.
        let Some(mut rec) = self.state.range_altmaps.remove(&key) else {
            return;
        };
        let pps = self.u.g.pages_per_section;
        let mut pfn = start_pfn;
        while pfn < start_pfn + nr_pages {
            let next = (start_pfn + nr_pages).min((pfn + 1).next_multiple_of(pps));
            let nr = self.u.section_of(crate::units::Pfn(pfn)).0;
            if let Some(f) = self.section_deactivate(pfn, next - pfn, true, None) {
                rec.deferred.push((nr, f));
            }
            rec.refcount -= 1;
            pfn = next;
        }
        if rec.refcount > 0 {
            let n = rec.deferred.len();
            self.log(format!(
                "{}: vmemmap_free() deferred ({n} section{} waiting); the head page's count is {}",
                self.design.name(),
                if n == 1 { "" } else { "s" },
                rec.refcount
            ));
            self.state.range_altmaps.insert(key, rec);
            return;
        }
        // Backwards: from the highest section down to the head, whatever order the
        // sections were removed in.
        rec.deferred.sort_by_key(|(nr, _)| std::cmp::Reverse(*nr));
        let nr = |d: Option<&(u64, MemmapFree)>| d.map_or(0, |(nr, _)| *nr);
        self.log(format!(
            "{}: the last section is gone: vmemmap_free() for sections {} down to {} ({} calls, \
             last to first)",
            self.design.name(),
            nr(rec.deferred.first()),
            nr(rec.deferred.last()),
            rec.deferred.len()
        ));
        let deferred = std::mem::take(&mut rec.deferred);
        for (_, f) in deferred {
            let altmap = if f.altmap {
                Some(std::slice::from_mut(&mut rec.altmap))
            } else {
                None
            };
            self.vmemmap_free(f.nid, f.start, f.end, altmap, f.zone);
        }
        if rec.altmap.alloc != 0 {
            self.warn(
                &crate::warn::ALTMAP_NOT_UNMAPPED,
                Some("Altmap not fully unmapped"),
            );
        }
    }

    /// The head vmemmap page's bookkeeping for the memory at `phys` (`m.vmemmap_head`).
    pub fn vmemmap_head(&self, phys: u64) -> Result<VmemmapHead> {
        let pfn = phys >> self.u.g.page_shift;
        if let Some(r) = self.range_altmap_of(pfn) {
            let fields = match self.design.head_layout() {
                HeadLayout::Refcount => vec![("refcount", r.refcount)],
                HeadLayout::PagesAndSections => vec![
                    ("vmemmap_pages", r.vmemmap_pages),
                    ("vmemmap_sections", r.sections),
                ],
            };
            return Ok(VmemmapHead {
                pfn: r.start_pfn,
                fields,
            });
        }
        let id = self.u.block_of_phys(phys);
        let b = self.state.blocks.get(&id).ok_or_else(|| {
            MmError::NotFound(format!(
                "no memory block holds {phys:#x}: nothing was added there"
            ))
        })?;
        Ok(VmemmapHead {
            pfn: self.u.block_start(id) >> self.u.g.page_shift,
            fields: vec![("nr_vmemmap_pages", b.nr_vmemmap_pages())],
        })
    }
}
