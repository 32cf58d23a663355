//! What the panes print of the read model (`mm::read`): the totals as label and value, and
//! a physical range as every pane writes it.

use mm::read::Totals;

/// A physical range as every pane writes it: inclusive, in hex, like lsmem's RANGE.
pub fn range(start: u64, size: u64) -> String {
    format!("{start:#x}-{:#x}", start + size.max(1) - 1)
}

/// The totals pane's rows.
pub fn totals(t: &Totals) -> Vec<(&'static str, String)> {
    let kib = |pages: u64| arch::approx(pages * t.page_size);
    vec![
        ("MemTotal", format!("{} kB", t.mem_total_kb)),
        ("MemFree", format!("{} kB", t.mem_free_kb)),
        ("blocks online", format!("{}/{}", t.blocks_online, t.blocks)),
        ("sections present", t.sections_present.to_string()),
        ("memmap boot", kib(t.memmap_boot_pages)),
        ("memmap buddy", kib(t.memmap_buddy_pages)),
        ("memmap altmap", kib(t.memmap_altmap_pages)),
        ("memmap device", kib(t.memmap_device_pages)),
        ("page tables", kib(t.vmemmap_pagetable_pages)),
        (
            "PMD / PTE maps",
            format!("{} / {}", t.vmemmap_pmd_mappings, t.vmemmap_pte_mappings),
        ),
        ("saved: altmap", kib(t.memmap_altmap_pages)),
        ("saved: dax dedup", kib(t.saved_dedup_pages)),
        ("saved: HVO", kib(t.hvo_freed_pages)),
        ("HugeTLB", format!("{} kB", t.hugetlb_kb)),
        ("pgmaps", t.pgmaps.to_string()),
    ]
}
