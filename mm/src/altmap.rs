//! struct vmem_altmap (include/linux/memremap.h) and its allocator altmap_alloc_block_buf()
//! (mm/sparse-vmemmap.c): memmap pages carved out of the memory being added.

/// An alternative source of vmemmap pages: the start of a hot-added memory block
/// (memmap_on_memory) or a device's reservation (pmem `map=dev`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct VmemAltmap {
    /// First pfn of the range.
    pub base_pfn: u64,
    /// Last pfn of the range, inclusive (as memory hotplug sets it).
    pub end_pfn: u64,
    /// Pfns at the start that must not hold memmap (a pmem info block).
    pub reserve: u64,
    /// Pfns available for the memmap.
    pub free: u64,
    /// Pfns skipped to align allocations.
    pub align: u64,
    /// Pfns handed out.
    pub alloc: u64,
    /// s390 standby memory: the range is inaccessible until it is onlined.
    pub inaccessible: bool,
}

impl VmemAltmap {
    /// vmem_altmap_offset(): pfns from base_pfn where the described memory starts.
    pub fn offset(&self) -> u64 {
        self.reserve + self.free
    }

    /// vmem_altmap_next_pfn().
    pub fn next_pfn(&self) -> u64 {
        self.base_pfn + self.reserve + self.alloc + self.align
    }

    /// vmem_altmap_nr_free().
    pub fn nr_free(&self) -> u64 {
        self.free.saturating_sub(self.alloc + self.align)
    }

    /// altmap_alloc_block_buf() for `nr_pfns` pages: the block is aligned to the lowest set
    /// bit of `nr_pfns` (a 512-pfn PMD request lands on a 512-pfn boundary) and the padding
    /// is charged to `align`. Returns the first pfn, or None when the altmap is exhausted.
    pub fn alloc_block(&mut self, nr_pfns: u64) -> Option<u64> {
        debug_assert!(nr_pfns > 0);
        let pfn = self.next_pfn();
        let align_to = 1u64 << nr_pfns.trailing_zeros();
        let nr_align = pfn.next_multiple_of(align_to) - pfn;
        if nr_pfns + nr_align > self.nr_free() {
            return None;
        }
        self.alloc += nr_pfns;
        self.align += nr_align;
        Some(pfn + nr_align)
    }

    /// vmem_altmap_free(): only `alloc` goes down; alignment padding stays charged.
    pub fn free_pfns(&mut self, nr_pfns: u64) {
        self.alloc = self.alloc.saturating_sub(nr_pfns);
    }

    /// Whether `[pfn, pfn + nr)` lies inside the altmap's range.
    pub fn contains(&self, pfn: u64, nr: u64) -> bool {
        pfn >= self.base_pfn && pfn + nr - 1 <= self.end_pfn
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memmap_on_memory_block() {
        // A 128 MiB x86_64 block at 4 GiB: base 0x100000, 512 free pfns; one 2 MiB PMD
        // request takes all of them, aligned, with nothing wasted.
        let mut a = VmemAltmap {
            base_pfn: 0x100000,
            end_pfn: 0x107fff,
            free: 512,
            ..Default::default()
        };
        assert_eq!(a.offset(), 512);
        assert_eq!(a.alloc_block(512), Some(0x100000));
        assert_eq!((a.alloc, a.align), (512, 0));
        assert_eq!(a.alloc_block(1), None);
        a.free_pfns(512);
        assert_eq!(a.alloc, 0);
    }

    #[test]
    fn alignment_to_lowest_set_bit() {
        // mm/sparse-vmemmap.c altmap_alloc_block_buf(): nr_align = 1 << ffs(nr_pfns).
        let mut a = VmemAltmap {
            base_pfn: 0x1003,
            end_pfn: 0x2fff,
            reserve: 2,
            free: 1200,
            ..Default::default()
        };
        // next pfn 0x1005; a single page needs no alignment.
        assert_eq!(a.alloc_block(1), Some(0x1005));
        // next 0x1006; 512 pfns need a 512 boundary: 0x1200, padding 0x1fa.
        assert_eq!(a.alloc_block(512), Some(0x1200));
        assert_eq!(a.align, 0x1fa);
        // 12 pfns (lowest set bit 4) from 0x1400.
        assert_eq!(a.alloc_block(12), Some(0x1400));
        // Free space: 1200 - (525 + 506) = 169; 256 do not fit.
        assert_eq!(a.nr_free(), 1200 - 525 - 0x1fa);
        assert_eq!(a.alloc_block(256), None);
        a.free_pfns(512);
        assert_eq!(a.alloc, 13);
        assert_eq!(a.align, 0x1fa);
    }
}
