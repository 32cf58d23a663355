//! struct zone and struct pglist_data (include/linux/mmzone.h): spans, present, managed and
//! free pages, grown by move_pfn_range_to_zone() and shrunk by remove_pfn_range_from_zone()
//! (mm/memory_hotplug.c).

use arch::ZoneType;

/// One zone of one node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Zone {
    pub ztype: ZoneType,
    pub zone_start_pfn: u64,
    pub spanned_pages: u64,
    pub present_pages: u64,
    /// Present pages that were there at boot (auto-movable's KERNEL_EARLY).
    pub present_early_pages: u64,
    pub managed_pages: u64,
    /// Managed pages in boot (early) memory blocks: the model places kernel allocations
    /// there first.
    pub managed_early_pages: u64,
    /// Pages of managed memory the model's kernel allocations use (memmap and vmemmap page
    /// tables taken from the buddy allocator).
    pub kernel_pages: u64,
    /// Pages scripts allocated in this zone's memory blocks (see MemoryBlock).
    pub script_pages: u64,
    /// Pages of this zone in HugeTLB pages.
    pub hugetlb_pages: u64,
    /// _watermark[WMARK_MIN/LOW/HIGH/PROMO].
    pub wmark_min: u64,
    pub wmark_low: u64,
    pub wmark_high: u64,
    pub wmark_promo: u64,
    /// lowmem_reserve[]: pages kept free for allocations that could use higher zones, by
    /// the index of the allocation's highest zone in this node's zone list.
    pub lowmem_reserve: [u64; 5],
    /// zone->cma_pages: pages of the CMA area in this zone (MIGRATE_CMA pageblocks, which
    /// only movable allocations may use).
    pub cma_pages: u64,
}

impl Zone {
    pub fn new(ztype: ZoneType) -> Zone {
        Zone {
            ztype,
            zone_start_pfn: 0,
            spanned_pages: 0,
            present_pages: 0,
            present_early_pages: 0,
            managed_pages: 0,
            managed_early_pages: 0,
            kernel_pages: 0,
            script_pages: 0,
            hugetlb_pages: 0,
            wmark_min: 0,
            wmark_low: 0,
            wmark_high: 0,
            wmark_promo: 0,
            lowmem_reserve: [0; 5],
            cma_pages: 0,
        }
    }

    /// zone_end_pfn().
    pub fn end_pfn(&self) -> u64 {
        self.zone_start_pfn + self.spanned_pages
    }

    /// zone_is_empty(): spans nothing.
    pub fn is_empty(&self) -> bool {
        self.spanned_pages == 0
    }

    /// populated_zone(): has present pages.
    pub fn populated(&self) -> bool {
        self.present_pages != 0
    }

    /// zone_intersects().
    pub fn intersects(&self, start_pfn: u64, nr_pages: u64) -> bool {
        !self.is_empty() && start_pfn < self.end_pfn() && start_pfn + nr_pages > self.zone_start_pfn
    }

    /// Free pages (nr_free_pages) as far as the model knows.
    pub fn free_pages(&self) -> u64 {
        self.managed_pages
            .saturating_sub(self.kernel_pages + self.script_pages + self.hugetlb_pages)
    }

    /// NR_FREE_CMA_PAGES: free pages in CMA pageblocks, a part of the free pages. Movable
    /// allocations (huge pages, migrated pages) may take CMA pages; the model counts them
    /// as taken from CMA only once the zone's other free pages are gone.
    pub fn free_cma_pages(&self) -> u64 {
        self.cma_pages.min(self.free_pages())
    }

    /// resize_zone_range(): grow the span to cover `[start_pfn, start_pfn + nr_pages)`.
    pub fn resize_range(&mut self, start_pfn: u64, nr_pages: u64) {
        let old_end = self.end_pfn();
        if self.is_empty() || start_pfn < self.zone_start_pfn {
            self.zone_start_pfn = start_pfn;
        }
        self.spanned_pages = (start_pfn + nr_pages).max(old_end) - self.zone_start_pfn;
    }
}

/// A NUMA node (pglist_data) and its zones.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Node {
    pub nid: u16,
    /// The zones the arch has, in zone order.
    pub zones: Vec<Zone>,
    pub node_start_pfn: u64,
    pub node_spanned_pages: u64,
    /// node_online(): the node has been brought up (boot memory or a hot-add).
    pub online: bool,
    /// The zone holding the top of the node's boot memory, where memblock placed the boot
    /// memmap (freed boot memmap pages become managed pages there).
    pub boot_reserve_zone: Option<ZoneType>,
}

impl Node {
    pub fn new(nid: u16, types: &[ZoneType]) -> Node {
        Node {
            nid,
            zones: types.iter().map(|t| Zone::new(*t)).collect(),
            node_start_pfn: 0,
            node_spanned_pages: 0,
            online: false,
            boot_reserve_zone: None,
        }
    }

    pub fn zone(&self, t: ZoneType) -> Option<&Zone> {
        self.zones.iter().find(|z| z.ztype == t)
    }

    pub fn zone_mut(&mut self, t: ZoneType) -> Option<&mut Zone> {
        self.zones.iter_mut().find(|z| z.ztype == t)
    }

    pub fn node_end_pfn(&self) -> u64 {
        self.node_start_pfn + self.node_spanned_pages
    }

    pub fn present_pages(&self) -> u64 {
        self.zones.iter().map(|z| z.present_pages).sum()
    }

    /// resize_pgdat_range().
    pub fn resize_range(&mut self, start_pfn: u64, nr_pages: u64) {
        let old_end = self.node_end_pfn();
        if self.node_spanned_pages == 0 || start_pfn < self.node_start_pfn {
            self.node_start_pfn = start_pfn;
        }
        self.node_spanned_pages = (start_pfn + nr_pages).max(old_end) - self.node_start_pfn;
    }

    /// update_pgdat_span(): the node spans what its zones span (ZONE_DEVICE included).
    pub fn update_span(&mut self) {
        let (mut start, mut end) = (0, 0);
        for z in self.zones.iter().filter(|z| z.spanned_pages != 0) {
            if end == 0 {
                start = z.zone_start_pfn;
                end = z.end_pfn();
                continue;
            }
            end = end.max(z.end_pfn());
            start = start.min(z.zone_start_pfn);
        }
        self.node_start_pfn = start;
        self.node_spanned_pages = end - start;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans() {
        let mut z = Zone::new(ZoneType::Normal);
        assert!(!z.intersects(0, 100));
        z.resize_range(1000, 100);
        assert_eq!((z.zone_start_pfn, z.spanned_pages), (1000, 100));
        z.resize_range(500, 100);
        assert_eq!((z.zone_start_pfn, z.end_pfn()), (500, 1100));
        assert!(z.intersects(1099, 1));
        assert!(!z.intersects(1100, 5));
        let mut n = Node::new(0, &[ZoneType::Normal, ZoneType::Movable]);
        n.zones[0] = z;
        n.zone_mut(ZoneType::Movable)
            .unwrap()
            .resize_range(4000, 10);
        n.update_span();
        assert_eq!((n.node_start_pfn, n.node_end_pfn()), (500, 4010));
    }
}
