//! The event counters of /proc/vmstat (enum vm_event_item, include/linux/vm_event_item.h)
//! that the model advances: pages allocated per zone and freed, pages migrated, huge pages
//! taken from the buddy. Like dmesg they record attempts, so they live outside the state a
//! failed operation restores; every other counter stays 0 (the model runs no workload).

use arch::vmevents::VmEvent;
use arch::ZoneType;
use std::fmt::Write as _;

/// The counters, as count_vm_events() keeps them (summed over CPUs).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VmEvents {
    /// PGALLOC per zone (ZoneType order: DMA, DMA32, Normal, Movable, Device).
    pub pgalloc: [u64; 5],
    /// PGFREE: pages handed to the buddy, at boot (memblock_free_all), on online, on every
    /// free.
    pub pgfree: u64,
    /// PGMIGRATE_SUCCESS: base pages migrated (offline_pages() moving movable pages away).
    pub pgmigrate_success: u64,
    /// HTLB_BUDDY_PGALLOC / _FAIL: alloc_buddy_hugetlb_folio() calls that got, or did not
    /// get, a huge page (gigantic pages come from alloc_contig_pages() and count neither).
    pub htlb_buddy_alloc_success: u64,
    pub htlb_buddy_alloc_fail: u64,
}

fn zone_index(z: ZoneType) -> usize {
    match z {
        ZoneType::Dma => 0,
        ZoneType::Dma32 => 1,
        ZoneType::Normal => 2,
        ZoneType::Movable => 3,
        ZoneType::Device => 4,
    }
}

impl VmEvents {
    /// `pages` allocated from zone `z`.
    pub(crate) fn alloc(&mut self, z: ZoneType, pages: u64) {
        self.pgalloc[zone_index(z)] += pages;
    }

    /// Each piece of a placement (see alloc.rs) allocated.
    pub(crate) fn alloc_placed(&mut self, placed: &[(u16, ZoneType, u64)]) {
        for &(_, z, p) in placed {
            self.alloc(z, p);
        }
    }

    pub(crate) fn free(&mut self, pages: u64) {
        self.pgfree += pages;
    }

    /// The value of counter `name` (`pgalloc_<zone>` for the per-zone ones).
    pub fn get(&self, name: &str) -> u64 {
        match name {
            "pgfree" => self.pgfree,
            "pgmigrate_success" => self.pgmigrate_success,
            "htlb_buddy_alloc_success" => self.htlb_buddy_alloc_success,
            "htlb_buddy_alloc_fail" => self.htlb_buddy_alloc_fail,
            _ => name
                .strip_prefix("pgalloc_")
                .and_then(|z| {
                    [
                        ZoneType::Dma,
                        ZoneType::Dma32,
                        ZoneType::Normal,
                        ZoneType::Movable,
                        ZoneType::Device,
                    ]
                    .into_iter()
                    .find(|t| t.name().eq_ignore_ascii_case(z))
                })
                .map_or(0, |z| self.pgalloc[zone_index(z)]),
        }
    }

    /// The event lines of /proc/vmstat for `target`, in its version's order: per-zone
    /// counters once per zone the arch has, config-dependent ones where Debian builds them.
    pub fn write(&self, out: &mut String, target: &arch::Target) {
        let zones = target.arch().zone_types(target.kernel);
        for ev in target.kernel.vm_events {
            if !ev.built(target) {
                continue;
            }
            match ev {
                VmEvent::PerZone(stem) => {
                    for z in zones {
                        let name = format!("{stem}_{}", z.name().to_ascii_lowercase());
                        let _ = writeln!(out, "{name} {}", self.get(&name));
                    }
                }
                _ => {
                    let _ = writeln!(out, "{} {}", ev.name(), self.get(ev.name()));
                }
            }
        }
    }
}
