//! What an architecture's `vmemmap_populate()` sees of the vmemmap page tables, and the
//! generic helpers of mm/sparse-vmemmap.c it builds on (vmemmap_populate_basepages,
//! vmemmap_populate_hugepages), expressed on runs of PMDs instead of single entries.
//!
//! mm/ owns the page-table model and implements [`VmemmapTables`]; the backends in this
//! crate decide, as their kernel code does, where leaves go and where base pages go.

use std::fmt;

/// Where a vmemmap allocation comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Src {
    /// Ordinary memory: memblock during boot, the buddy allocator afterwards
    /// (`vmemmap_alloc_block_buf(size, node, NULL)`).
    Ram,
    /// The altmap of this populate call (`altmap_alloc_block_buf`); no fallback.
    Altmap,
    /// powerpc radix's per-page rule: the altmap when the page only describes pfns inside
    /// the altmap (`altmap_cross_boundary()` is false), ordinary memory otherwise or when the
    /// altmap is exhausted.
    AltmapInBoundsElseRam,
}

/// The state of the PMD entry that maps a vmemmap address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PmdEntry {
    /// pmd_none().
    None,
    /// A PMD leaf (a huge mapping of PMD_SIZE).
    Leaf,
    /// A pointer to a PTE table.
    Table,
}

/// A vmemmap allocation failed: the populate call returns -ENOMEM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllocFailed {
    /// What could not be allocated, in the kernel's terms.
    pub reason: String,
}

impl fmt::Display for AllocFailed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.reason)
    }
}

/// [`VmemmapTables::map_pmd_leaves`] stopped: the allocation for the PMD at `at` failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stopped {
    /// vmemmap offset of the first PMD that could not be mapped.
    pub at: u64,
    /// Why.
    pub failure: AllocFailed,
}

/// The page tables of the vmemmap during one populate call.
///
/// Addresses are offsets from VMEMMAP_START: the struct page of pfn `p` is at
/// `p * sizeof(struct page)`.
pub trait VmemmapTables {
    /// Whether this populate call was given an altmap.
    fn has_altmap(&self) -> bool;

    /// altmap_cross_boundary(): whether `[va, va + size)` describes pfns outside the altmap
    /// (true when there is no altmap).
    fn altmap_cross_boundary(&self, va: u64, size: u64) -> bool;

    /// The PMD entry that maps `va`, and the end of the run of PMDs from there on that are in
    /// the same state, capped at `end` rounded up to a PMD boundary.
    fn pmd_run(&self, va: u64, end: u64) -> (PmdEntry, u64);

    /// Map every PMD in `[va, end)` (PMD aligned, all none) as a leaf backed by a fresh
    /// PMD_SIZE block from `src`, in address order. Stops at the first allocation that fails.
    fn map_pmd_leaves(&mut self, va: u64, end: u64, src: Src) -> Result<(), Stopped>;

    /// vmemmap_populate_basepages() over `[va, end)`: every page not mapped yet gets a fresh
    /// page from `src`; PTE tables (from ordinary memory) are added where a PMD is none.
    /// Pages under an existing leaf are left as they are.
    fn populate_basepages(&mut self, va: u64, end: u64, src: Src) -> Result<(), AllocFailed>;

    /// powerpc hash: bolt `[va, va + size)` to one fresh block of `size` bytes from `src`
    /// (no Linux page tables; the hash page table was sized at boot).
    fn map_bolted(&mut self, va: u64, size: u64, src: Src) -> Result<(), AllocFailed>;

    /// vmemmap_populated(): whether any valid sub-section has struct pages in `[va, va + size)`.
    fn memmap_in_use(&self, va: u64, size: u64) -> bool;

    /// memblock_phys_mem_size(): the RAM the machine booted with.
    fn boot_ram_bytes(&self) -> u64;
}

/// vmemmap_populate_hugepages() (mm/sparse-vmemmap.c): PMD leaves for every PMD that is
/// none; without an altmap a failed PMD-sized allocation falls back to base pages for that
/// PMD, with an altmap it is -ENOMEM. `table_is_populated` is the arch's
/// vmemmap_check_pmd() answer for a PMD that points to a PTE table (arm64 says yes, x86 no).
pub fn vmemmap_populate_hugepages(
    t: &mut dyn VmemmapTables,
    pmd_size: u64,
    start: u64,
    end: u64,
    table_is_populated: bool,
) -> Result<(), AllocFailed> {
    let altmap = t.has_altmap();
    let src = if altmap { Src::Altmap } else { Src::Ram };
    let mut addr = start;
    while addr < end {
        let (entry, run_end) = t.pmd_run(addr, end);
        match entry {
            PmdEntry::None => {
                let first = addr - addr % pmd_size;
                match t.map_pmd_leaves(first, run_end, src) {
                    Ok(()) => addr = run_end,
                    Err(stopped) => {
                        if altmap {
                            return Err(stopped.failure);
                        }
                        let lo = addr.max(stopped.at);
                        let hi = end.min(stopped.at + pmd_size);
                        t.populate_basepages(lo, hi, Src::Ram)?;
                        addr = stopped.at + pmd_size;
                    }
                }
            }
            PmdEntry::Leaf => addr = run_end,
            PmdEntry::Table if table_is_populated => addr = run_end,
            PmdEntry::Table => {
                t.populate_basepages(addr, end.min(run_end), src)?;
                addr = run_end;
            }
        }
    }
    Ok(())
}

/// vmemmap_populate_basepages() with the altmap of this call, if any.
pub fn vmemmap_populate_basepages(
    t: &mut dyn VmemmapTables,
    start: u64,
    end: u64,
) -> Result<(), AllocFailed> {
    let src = if t.has_altmap() {
        Src::Altmap
    } else {
        Src::Ram
    };
    t.populate_basepages(start, end, src)
}
