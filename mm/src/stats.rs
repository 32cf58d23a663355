//! `m.stats()`: the model's headline numbers, and the invariant checker tests run after
//! every operation.

use crate::machine::Machine;
use crate::memory_block::BlockState;
use crate::vmemmap::Origin;

/// What a statistic counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Bytes,
    /// Kibibytes, as /proc/meminfo's kB.
    Kb,
    /// Base pages of the machine's page size.
    Pages,
    Count,
}

/// One statistic: its name, its unit and what it is.
#[derive(Debug, Clone, Copy)]
pub struct StatDoc {
    pub name: &'static str,
    pub unit: Unit,
    pub meaning: &'static str,
}

const fn doc(name: &'static str, unit: Unit, meaning: &'static str) -> StatDoc {
    StatDoc {
        name,
        unit,
        meaning,
    }
}

/// Every statistic of [`Machine::stats`], in its order.
pub const STATS: &[StatDoc] = &[
    doc("page_size", Unit::Bytes, "the base page size"),
    doc("section_size", Unit::Bytes, "a memory section: 1 << SECTION_SIZE_BITS"),
    doc("memory_block_size", Unit::Bytes, "a memory block: memory/block_size_bytes"),
    doc("sections_present", Unit::Count, "sections marked present"),
    doc("sections_online", Unit::Count, "sections marked online"),
    doc("blocks", Unit::Count, "memory blocks (memoryN directories)"),
    doc("present_pages", Unit::Pages, "zoneinfo's present, over every zone"),
    doc("managed_pages", Unit::Pages, "zoneinfo's managed (what the buddy allocator has), over every zone"),
    doc("mem_total_kb", Unit::Kb, "/proc/meminfo MemTotal"),
    doc("mem_free_kb", Unit::Kb, "/proc/meminfo MemFree"),
    doc("memmap_pages", Unit::Pages, "struct-page pages as /proc/vmstat counts them: nr_memmap_boot_pages + nr_memmap_pages"),
    doc("memmap_boot_pages", Unit::Pages, "nr_memmap_boot_pages: the boot memmap, which the kernel counts per section, each section's rounded up to whole pages"),
    doc("memmap_buddy_pages", Unit::Pages, "nr_memmap_pages taken from free memory (a hot-add's memmap in RAM), counted per section as the kernel does"),
    doc("memmap_altmap_pages", Unit::Pages, "nr_memmap_pages carved out of hot-added memory itself (memmap_on_memory)"),
    doc("memmap_device_pages", Unit::Pages, "nr_memmap_pages carved out of a device (pmem or device-dax with map=dev)"),
    doc("vmemmap_pagetable_pages", Unit::Pages, "page tables that map the vmemmap"),
    doc("vmemmap_pmd_mappings", Unit::Count, "PMD leaves that map the vmemmap"),
    doc("vmemmap_pte_mappings", Unit::Count, "PTEs that map the vmemmap"),
    doc("hvo_freed_pages", Unit::Pages, "vmemmap pages HugeTLB vmemmap optimisation has freed, less those it allocated"),
    doc("blocks_online", Unit::Count, "memory blocks online"),
    doc("sections_early", Unit::Count, "sections present since boot"),
    doc("vmemmap_bolted_mappings", Unit::Count, "powerpc hash: the vmemmap's bolted hash-table entries"),
    doc("vmemmap_backing_boot_pages", Unit::Pages, "pages that back the vmemmap, from boot memory: fewer than the memmap_ counters where sections share a vmemmap page (powerpc's 16M sections on 64K pages) or pages are shared (HVO)"),
    doc("vmemmap_backing_buddy_pages", Unit::Pages, "pages that back the vmemmap, from free memory (see vmemmap_backing_boot_pages)"),
    doc("vmemmap_backing_altmap_pages", Unit::Pages, "pages that back the vmemmap, from hot-added memory's altmaps"),
    doc("vmemmap_backing_device_pages", Unit::Pages, "pages that back the vmemmap, from devices (less where device-dax deduplicates)"),
    doc("mem_section_roots", Unit::Count, "mem_section root arrays allocated (SPARSEMEM_EXTREME)"),
    doc("min_free_kbytes", Unit::Kb, "vm.min_free_kbytes"),
    doc("hugetlb_kb", Unit::Kb, "the HugeTLB pools (meminfo Hugetlb)"),
    doc("pgmaps", Unit::Count, "ZONE_DEVICE mappings (memremap_pages)"),
    doc("zone_device_pages", Unit::Pages, "pages in ZONE_DEVICE"),
];

/// What statistic `name` is.
pub fn stat_doc(name: &str) -> Option<&'static StatDoc> {
    STATS.iter().find(|d| d.name == name)
}

/// `value` of a statistic in `unit` for people: `128M`, `4 MiB`, `1.97 GiB`; none for a
/// count.
pub fn stat_human(unit: Unit, value: u64, page_size: u64) -> Option<String> {
    match unit {
        Unit::Bytes => Some(arch::human(value)),
        Unit::Kb => Some(arch::approx(value.saturating_mul(1024))),
        Unit::Pages => Some(arch::approx(value.saturating_mul(page_size))),
        Unit::Count => None,
    }
}

/// What check() says when the watchdog stopped it part way.
const STOPPED: &str = "the check was stopped part way (time limit or interrupt)";

impl Machine {
    /// The statistics of the scripting contract (DESIGN.md), in a fixed order, then extras.
    pub fn stats(&self) -> Vec<(&'static str, u64)> {
        let g = &self.u.g;
        let (mut present_secs, mut online_secs, mut early_secs) = (0u64, 0u64, 0u64);
        for (_, s) in self.state.sections.present() {
            present_secs += 1;
            online_secs += u64::from(s.online());
            early_secs += u64::from(s.early());
        }
        let zones = || self.state.nodes.iter().flat_map(|n| n.zones.iter());
        let present: u64 = zones().map(|z| z.present_pages).sum();
        let managed: u64 = zones().map(|z| z.managed_pages).sum();
        let c = self.state.vmemmap.counters();
        let v = &self.state.vmstat;
        let blocks_online = self
            .state
            .blocks
            .values()
            .filter(|b| b.state == BlockState::Online)
            .count() as u64;
        vec![
            ("page_size", g.page_size),
            ("section_size", g.section_size),
            ("memory_block_size", self.u.block_size),
            ("sections_present", present_secs),
            ("sections_online", online_secs),
            ("blocks", self.state.blocks.len() as u64),
            ("present_pages", present),
            ("managed_pages", managed),
            ("mem_total_kb", self.mem_total_kb()),
            ("mem_free_kb", self.mem_free_kb()),
            ("memmap_pages", v.nr_memmap_boot_pages + v.nr_memmap_pages()),
            ("memmap_boot_pages", v.nr_memmap_boot_pages),
            ("memmap_buddy_pages", v.memmap_buddy_pages()),
            ("memmap_altmap_pages", v.memmap_altmap),
            ("memmap_device_pages", v.memmap_device),
            ("vmemmap_pagetable_pages", self.state.vmemmap.table_pages()),
            ("vmemmap_pmd_mappings", c.pmd_leaves),
            ("vmemmap_pte_mappings", c.ptes),
            ("hvo_freed_pages", self.hvo_freed_pages()),
            ("blocks_online", blocks_online),
            ("sections_early", early_secs),
            ("vmemmap_bolted_mappings", c.bolted),
            ("vmemmap_backing_boot_pages", c.backing(Origin::Boot)),
            ("vmemmap_backing_buddy_pages", c.backing(Origin::Buddy)),
            ("vmemmap_backing_altmap_pages", c.backing(Origin::Altmap)),
            ("vmemmap_backing_device_pages", c.backing(Origin::Device)),
            ("mem_section_roots", self.state.sections.roots_allocated()),
            ("min_free_kbytes", self.state.min_free_kbytes),
            ("hugetlb_kb", self.hugetlb_total_kb()),
            ("pgmaps", self.state.pgmaps.len() as u64),
            (
                "zone_device_pages",
                self.state
                    .pgmaps
                    .values()
                    .map(|p| p.size() >> g.page_shift)
                    .sum(),
            ),
        ]
    }

    /// One statistic by name.
    pub fn stat(&self, name: &str) -> Option<u64> {
        self.stats()
            .into_iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v)
    }

    /// Net vmemmap pages HugeTLB vmemmap optimisation saves now: for every optimised huge
    /// page, the vmemmap pages freed minus the one allocated to replace them (the page
    /// tables of split PMDs are counted in vmemmap_pagetable_pages).
    pub fn hvo_freed_pages(&self) -> u64 {
        self.state
            .hstates
            .iter()
            .map(|h| h.optimized() * self.hugetlb_vmemmap_optimizable_pages(h.size))
            .sum()
    }

    /// Check the model's invariants; returns the first one broken. It runs to the end
    /// whatever the watchdog says (a test checks a machine a script's limit stopped).
    pub fn check(&self) -> Result<(), String> {
        self.check_invariants(false)
    }

    /// The invariant check; `stoppable`: the watchdog may end it part way ([`STOPPED`]).
    fn check_invariants(&self, stoppable: bool) -> Result<(), String> {
        let u = &self.u;
        let g = &u.g;
        self.state.vmemmap.check()?;
        if stoppable && self.tick().is_err() {
            return Err(STOPPED.to_string());
        }
        let mut counted = [0u64; 3];
        for (nr, s) in self.state.sections.iter_range(
            crate::units::SectionNr(0),
            crate::units::SectionNr(self.state.sections.nr_sections()),
        ) {
            if s.flags == 0 {
                if s.usage.is_some_and(|x| !x.is_empty()) {
                    return Err(format!(
                        "section {} is not present but has active sub-sections",
                        nr.0
                    ));
                }
                continue;
            }
            if s.valid() && !s.present() {
                return Err(format!("section {} has a memmap but is not present", nr.0));
            }
            let Some(usage) = s.usage else {
                if s.present() {
                    return Err(format!("present section {} has no usage map", nr.0));
                }
                continue;
            };
            if s.valid() && !s.early() && usage.is_empty() {
                return Err(format!(
                    "valid section {} has an empty sub-section map",
                    nr.0
                ));
            }
            // The memmap of what pfn_valid() says is valid must be mapped.
            if s.valid() {
                let start = u.section_start(nr).0;
                let ranges: Vec<(u64, u64)> = if s.early() {
                    vec![(start, start + g.pages_per_section)]
                } else {
                    (0..g.subsections_per_section)
                        .filter(|i| usage.test(*i))
                        .map(|i| {
                            (
                                start + i * g.pages_per_subsection,
                                start + (i + 1) * g.pages_per_subsection,
                            )
                        })
                        .collect()
                };
                for (a, b) in ranges {
                    let va = self.state.vmemmap.vpn(g.vmemmap_offset(a));
                    let vb = self.state.vmemmap.vpn_up(g.vmemmap_offset(b));
                    if self.state.vmemmap.mapped_pages(va, vb) != vb - va {
                        return Err(format!(
                            "section {}: memmap of pfns {a:#x}-{:#x} is not fully mapped",
                            nr.0,
                            b - 1
                        ));
                    }
                    if !self.pfn_valid(a) || !self.pfn_valid(b - 1) {
                        return Err(format!(
                            "pfn_valid disagrees with the sub-section map at {a:#x}"
                        ));
                    }
                }
            }
        }
        for (_, s) in self.state.sections.present() {
            for (i, c) in s.memmap_counted.iter().enumerate() {
                counted[i] += u64::from(*c);
            }
        }
        let v = &self.state.vmstat;
        if counted != [v.memmap_buddy, v.memmap_altmap, v.memmap_device] {
            return Err(format!(
                "nr_memmap_pages by origin {:?} but sections counted {counted:?}",
                (v.memmap_buddy, v.memmap_altmap, v.memmap_device)
            ));
        }
        // Pages.
        let mut online_pages = 0u64;
        for b in self.state.blocks.values() {
            let first = u.block_first_section(b.id);
            for k in 0..u.sections_per_block {
                let s = self
                    .state
                    .sections
                    .state(crate::units::SectionNr(first.0 + k));
                if !b.early && !s.present() {
                    return Err(format!(
                        "memory{} has a section that is not present",
                        b.id.0
                    ));
                }
                if !b.early && s.online() != (b.state == BlockState::Online) {
                    return Err(format!(
                        "memory{} is {} but section {} says online={}",
                        b.id.0,
                        b.state.name(),
                        first.0 + k,
                        s.online()
                    ));
                }
            }
            if let Some(a) = &b.altmap {
                if a.alloc + a.align > a.free {
                    return Err(format!(
                        "memory{}'s altmap hands out more than it has",
                        b.id.0
                    ));
                }
            }
            if b.state == BlockState::Online {
                online_pages += b.ram_pages;
                let zt = b.zone.filter(|_| !b.early);
                if let Some(zt) = zt {
                    let z = self.state.nodes[b.nid as usize]
                        .zone(zt)
                        .ok_or("zone missing")?;
                    let start = u.block_start(b.id) >> g.page_shift;
                    if start < z.zone_start_pfn || start + u.pages_per_block() > z.end_pfn() {
                        return Err(format!(
                            "online memory{} lies outside zone {}'s span",
                            b.id.0,
                            zt.name()
                        ));
                    }
                }
            } else if b.zone.is_some() {
                return Err(format!("offline memory{} still has a zone", b.id.0));
            }
            if b.state != BlockState::Online && (b.unmovable_pages + b.movable_pages) > 0 {
                return Err(format!("offline memory{} holds allocations", b.id.0));
            }
        }
        let present: u64 = self
            .state
            .nodes
            .iter()
            .flat_map(|n| &n.zones)
            .filter(|z| z.ztype != arch::ZoneType::Device)
            .map(|z| z.present_pages)
            .sum();
        if present != online_pages {
            return Err(format!(
                "zones have {present} present pages, online blocks {online_pages}"
            ));
        }
        let mut kernel = 0u64;
        for z in self.state.nodes.iter().flat_map(|n| &n.zones) {
            if z.managed_pages > z.present_pages {
                return Err(format!(
                    "zone {} manages more than is present",
                    z.ztype.name()
                ));
            }
            if z.kernel_pages + z.script_pages + z.hugetlb_pages > z.managed_pages {
                return Err(format!(
                    "zone {} hands out more than it manages",
                    z.ztype.name()
                ));
            }
            if z.present_pages > 0 && z.spanned_pages < z.present_pages {
                return Err(format!(
                    "zone {} spans less than is present",
                    z.ztype.name()
                ));
            }
            kernel += z.kernel_pages;
        }
        let c = self.state.vmemmap.counters();
        let want = c.backing(Origin::Buddy) - self.state.vmstat.boot_heads_as_buddy
            + c.table_bytes_buddy.div_ceil(g.page_size);
        if kernel != want {
            return Err(format!(
                "zones charge {kernel} kernel pages; the vmemmap holds {want} from the buddy"
            ));
        }
        // Every hot-added block covered by System RAM: one walk of the resources, then a
        // sweep (a DLPAR machine has a resource per LMB: per-block walks were quadratic).
        let mut ram: Vec<(u64, u64)> = self
            .state
            .iomem
            .walk()
            .into_iter()
            .filter(|(_, r)| r.system_ram && r.busy)
            .map(|(_, r)| (r.start, r.end.saturating_add(1)))
            .collect();
        crate::resource::merge_overlapping(&mut ram);
        for b in self.state.blocks.values().filter(|b| !b.early) {
            if stoppable && self.tick().is_err() {
                return Err(STOPPED.to_string());
            }
            let (s, e) = (u.block_start(b.id), u.block_start(b.id) + u.block_size);
            let i = ram.partition_point(|r| r.1 <= s);
            let covered: u64 = ram[i..]
                .iter()
                .take_while(|r| r.0 < e)
                .map(|r| r.1.min(e) - r.0.max(s))
                .sum();
            if covered != u.block_size {
                return Err(format!(
                    "memory{} is not covered by a System RAM resource",
                    b.id.0
                ));
            }
        }
        Ok(())
    }

    /// [`Machine::check`] as a call a script makes: EINVAL naming what is broken, or the
    /// watchdog's error when the run's time ran out or it was interrupted part way.
    pub fn check_or_stop(&self) -> Result<(), crate::error::MmError> {
        match self.check_invariants(true) {
            Ok(()) => Ok(()),
            Err(why) => {
                if why == STOPPED {
                    self.tick()?;
                }
                Err(crate::error::MmError::Invalid(why))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A script's m.check() stops with the run's limit; the invariant check a test makes of
    /// the machine afterwards runs to the end.
    #[test]
    fn the_script_check_stops_and_the_test_check_does_not() {
        use std::sync::atomic::AtomicBool;
        use std::sync::Arc;
        let mut m = Machine::boot(&crate::BootSpec::new(arch::Target::default_target())).unwrap();
        let w = crate::watchdog::Watchdog::new(Arc::new(AtomicBool::new(true)), "interrupted");
        m.set_watchdog(w);
        assert_eq!(m.check(), Ok(()));
        let e = m.check_or_stop().unwrap_err();
        assert!(e.is_stopped(), "{e}");
        assert_eq!(e.errno(), crate::error::Errno::EINTR);
    }

    #[test]
    fn every_statistic_has_a_line() {
        let m = Machine::boot(&crate::BootSpec::new(arch::Target::default_target())).unwrap();
        let names: Vec<&str> = m.stats().into_iter().map(|(k, _)| k).collect();
        let documented: Vec<&str> = STATS.iter().map(|d| d.name).collect();
        assert_eq!(names, documented);
        assert_eq!(stat_human(Unit::Bytes, 128 << 20, 4096).unwrap(), "128M");
        assert_eq!(stat_human(Unit::Pages, 1024, 4096).unwrap(), "4 MiB");
        assert_eq!(stat_human(Unit::Count, 7, 4096), None);
    }
}
