//! The constants an architecture fixes at build time (asm/sparsemem.h, asm/page.h,
//! asm/pgtable*.h, Kconfig) and everything derived from them, computed once.

/// One level of the kernel page tables that map the vmemmap: a table of this level maps
/// `1 << covers_shift` bytes of virtual address space and takes `table_bytes` of memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TableLevel {
    /// The kernel's name for the table ("PTE", "PMD", "PUD", "P4D", "segment", ...).
    pub name: &'static str,
    /// log2 of the virtual range one table of this level maps.
    pub covers_shift: u32,
    /// Size of one table in bytes (smaller than a page where the arch uses fragments).
    pub table_bytes: u64,
    /// Whether the arch's vmemmap_free gives an empty table of this level back.
    pub freed_when_empty: bool,
}

/// The build-time constants of one architecture configuration.
///
/// Everything else (pages per section, sub-sections per section, ...) is derived once by
/// [`Geometry::new`]; backends never compute those numbers themselves.
#[derive(Debug, Clone, Copy)]
pub struct ArchParams {
    /// PAGE_SHIFT (asm/page.h).
    pub page_shift: u32,
    /// PMD_SHIFT: the size of a PMD leaf (a segment on s390).
    pub pmd_shift: u32,
    /// PUD_SHIFT.
    pub pud_shift: u32,
    /// SECTION_SIZE_BITS (asm/sparsemem.h).
    pub section_size_bits: u32,
    /// MAX_PHYSMEM_BITS (asm/sparsemem.h).
    pub max_physmem_bits: u32,
    /// sizeof(struct page).
    pub struct_page_size: u64,
    /// MAX_PAGE_ORDER (ARCH_FORCE_MAX_ORDER or the generic 10).
    pub max_page_order: u32,
    /// HUGETLB_PAGE_ORDER, the order pageblock_order is derived from
    /// (include/linux/pageblock-flags.h, or set_pageblock_order() on powerpc).
    pub hugetlb_page_order: u32,
    /// sizeof(struct mem_section): 32 with CONFIG_PAGE_EXTENSION (Debian's configs), else 16.
    pub mem_section_size: u64,
    /// The page-table levels below the top that map the vmemmap, smallest first.
    /// Empty where the vmemmap is not in Linux page tables (powerpc hash).
    pub vmemmap_tables: &'static [TableLevel],
}

/// SUBSECTION_SHIFT (include/linux/mmzone.h): a sub-section is 2 MiB on every architecture.
pub const SUBSECTION_SHIFT: u32 = 21;

/// The numbers derived from [`ArchParams`], in one place.
#[derive(Debug, Clone, Copy)]
pub struct Geometry {
    pub page_shift: u32,
    pub page_size: u64,
    pub pmd_shift: u32,
    pub pmd_size: u64,
    pub pud_shift: u32,
    pub pud_size: u64,
    pub section_size_bits: u32,
    /// Bytes in a section.
    pub section_size: u64,
    /// PAGES_PER_SECTION.
    pub pages_per_section: u64,
    /// PFN_SECTION_SHIFT.
    pub pfn_section_shift: u32,
    /// Bytes in a sub-section (always 2 MiB).
    pub subsection_size: u64,
    /// PAGES_PER_SUBSECTION.
    pub pages_per_subsection: u64,
    /// SUBSECTIONS_PER_SECTION: the width of a section's subsection_map.
    pub subsections_per_section: u64,
    pub max_physmem_bits: u32,
    /// The highest physical address (PHYSMEM_END), inclusive.
    pub physmem_end: u64,
    /// NR_MEM_SECTIONS.
    pub nr_mem_sections: u64,
    /// SECTIONS_PER_ROOT with SPARSEMEM_EXTREME.
    pub sections_per_root: u64,
    /// NR_SECTION_ROOTS.
    pub nr_section_roots: u64,
    pub struct_page_size: u64,
    /// Bytes of struct pages for one full section.
    pub section_memmap_bytes: u64,
    pub max_page_order: u32,
    /// pageblock_order = min(HUGETLB_PAGE_ORDER, MAX_PAGE_ORDER).
    pub pageblock_order: u32,
    /// pageblock_nr_pages.
    pub pageblock_nr_pages: u64,
    /// MIN_MEMORY_BLOCK_SIZE: one section.
    pub min_memory_block_size: u64,
}

impl Geometry {
    /// Derive every size from the constants.
    pub const fn new(p: &ArchParams) -> Geometry {
        let page_size = 1u64 << p.page_shift;
        let section_size = 1u64 << p.section_size_bits;
        let pages_per_section = section_size / page_size;
        let subsection_size = 1u64 << SUBSECTION_SHIFT;
        let nr_mem_sections = 1u64 << (p.max_physmem_bits - p.section_size_bits);
        let sections_per_root = page_size / p.mem_section_size;
        let pageblock_order = if p.hugetlb_page_order < p.max_page_order {
            p.hugetlb_page_order
        } else {
            p.max_page_order
        };
        Geometry {
            page_shift: p.page_shift,
            page_size,
            pmd_shift: p.pmd_shift,
            pmd_size: 1u64 << p.pmd_shift,
            pud_shift: p.pud_shift,
            pud_size: 1u64 << p.pud_shift,
            section_size_bits: p.section_size_bits,
            section_size,
            pages_per_section,
            pfn_section_shift: p.section_size_bits - p.page_shift,
            subsection_size,
            pages_per_subsection: subsection_size / page_size,
            subsections_per_section: section_size / subsection_size,
            max_physmem_bits: p.max_physmem_bits,
            physmem_end: (1u64 << p.max_physmem_bits) - 1,
            nr_mem_sections,
            sections_per_root,
            nr_section_roots: nr_mem_sections.div_ceil(sections_per_root),
            struct_page_size: p.struct_page_size,
            section_memmap_bytes: pages_per_section * p.struct_page_size,
            max_page_order: p.max_page_order,
            pageblock_order,
            pageblock_nr_pages: 1u64 << pageblock_order,
            min_memory_block_size: section_size,
        }
    }

    /// Bytes of struct pages describing `bytes` of physical memory.
    pub const fn memmap_bytes(&self, bytes: u64) -> u64 {
        bytes / self.page_size * self.struct_page_size
    }

    /// The vmemmap virtual offset (from VMEMMAP_START) of the struct page of `pfn`.
    pub const fn vmemmap_offset(&self, pfn: u64) -> u64 {
        pfn * self.struct_page_size
    }

    /// The pfn whose struct page sits at vmemmap offset `va` (rounded down).
    pub const fn vmemmap_pfn(&self, va: u64) -> u64 {
        va / self.struct_page_size
    }

    /// PFN_UP of a byte count: the number of pages needed to hold `bytes`.
    pub const fn pfn_up(&self, bytes: u64) -> u64 {
        bytes.div_ceil(self.page_size)
    }
}
