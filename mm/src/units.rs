//! Newtypes for the units that are easy to mix up, with explicit conversions through the
//! arch geometry (pfn_to_section_nr, section_nr_to_pfn, memory_block_id, ...).

use arch::Geometry;
use std::fmt;

/// A page frame number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Pfn(pub u64);

/// A memory section number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct SectionNr(pub u64);

/// A memory block id: the N of /sys/devices/system/memory/memoryN.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct BlockId(pub u64);

impl fmt::Display for Pfn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#x}", self.0)
    }
}

impl fmt::Display for SectionNr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl fmt::Display for BlockId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "memory{}", self.0)
    }
}

/// Conversions between addresses, pfns, sections and memory blocks for one machine.
#[derive(Debug, Clone, Copy)]
pub struct Units {
    pub g: Geometry,
    /// memory_block_size_bytes().
    pub block_size: u64,
    /// sections_per_block.
    pub sections_per_block: u64,
}

impl Units {
    pub fn new(g: Geometry, block_size: u64) -> Units {
        debug_assert!(block_size.is_power_of_two() && block_size >= g.section_size);
        Units {
            g,
            block_size,
            sections_per_block: block_size / g.section_size,
        }
    }

    pub fn pfn(&self, phys: u64) -> Pfn {
        Pfn(phys >> self.g.page_shift)
    }

    pub fn phys(&self, pfn: Pfn) -> u64 {
        pfn.0 << self.g.page_shift
    }

    /// pfn_to_section_nr().
    pub fn section_of(&self, pfn: Pfn) -> SectionNr {
        SectionNr(pfn.0 >> self.g.pfn_section_shift)
    }

    /// section_nr_to_pfn().
    pub fn section_start(&self, nr: SectionNr) -> Pfn {
        Pfn(nr.0 << self.g.pfn_section_shift)
    }

    /// The section holding a physical address.
    pub fn section_of_phys(&self, phys: u64) -> SectionNr {
        SectionNr(phys >> self.g.section_size_bits)
    }

    /// memory_block_id().
    pub fn block_of_section(&self, nr: SectionNr) -> BlockId {
        // Powers of two (the block size is checked at boot): a shift, not a division.
        BlockId(nr.0 >> self.sections_per_block.trailing_zeros())
    }

    /// phys_to_block_id().
    pub fn block_of_phys(&self, phys: u64) -> BlockId {
        self.block_of_section(self.section_of_phys(phys))
    }

    /// The first physical address of a memory block.
    pub fn block_start(&self, id: BlockId) -> u64 {
        id.0 * self.block_size
    }

    /// The first section of a memory block.
    pub fn block_first_section(&self, id: BlockId) -> SectionNr {
        SectionNr(id.0 * self.sections_per_block)
    }

    /// Pages in a memory block.
    pub fn pages_per_block(&self) -> u64 {
        self.block_size >> self.g.page_shift
    }

    /// The index of a pfn's sub-section within its section (subsection_map_index()).
    pub fn subsection_index(&self, pfn: Pfn) -> u64 {
        (pfn.0 & (self.g.pages_per_section - 1)) >> self.g.pages_per_subsection.trailing_zeros()
    }
}
