//! The HugeTLB pool (mm/hugetlb.c): one hstate per supported huge page size, pages taken
//! from the zones, nr_hugepages and the HugePages_* lines of /proc/meminfo.

use crate::error::{MmError, Result};
use crate::machine::Machine;
use arch::ZoneType;

/// struct hstate: huge pages of one size.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Hstate {
    pub size: u64,
    /// Pages in the pool, and where each came from: (nid, zone, count).
    pub nr: u64,
    pub placed: Vec<(u16, ZoneType, u64)>,
}

impl Hstate {
    /// The directory name under /sys/kernel/mm/hugepages.
    pub fn dir_name(&self) -> String {
        format!("hugepages-{}kB", self.size >> 10)
    }
}

impl Machine {
    pub(crate) fn init_hstates(&mut self) {
        self.hstates = self
            .arch
            .hugepage_sizes()
            .iter()
            .map(|&size| Hstate {
                size,
                nr: 0,
                placed: Vec::new(),
            })
            .collect();
    }

    pub fn hstates(&self) -> &[Hstate] {
        &self.hstates
    }

    fn default_hstate(&self) -> usize {
        let want = self
            .cmdline
            .default_hugepagesz
            .unwrap_or(self.arch.default_hugepage_size());
        self.hstates
            .iter()
            .position(|h| h.size == want)
            .unwrap_or(0)
    }

    /// Total HugeTLB memory in kB.
    pub fn hugetlb_total_kb(&self) -> u64 {
        self.hstates.iter().map(|h| h.nr * (h.size >> 10)).sum()
    }

    /// The HugePages_* and Hugetlb lines of /proc/meminfo (hugetlb_report_meminfo()).
    pub(crate) fn hugetlb_meminfo(&self) -> String {
        let Some(h) = self.hstates.get(self.default_hstate()) else {
            return String::new();
        };
        format!(
            "HugePages_Total:   {:>5}\nHugePages_Free:    {:>5}\nHugePages_Rsvd:    {:>5}\nHugePages_Surp:    {:>5}\nHugepagesize:   {:>8} kB\nHugetlb:        {:>8} kB\n",
            h.nr,
            h.nr,
            0,
            0,
            h.size >> 10,
            self.hugetlb_total_kb()
        )
    }

    fn hstate_of_path(&self, path: &str) -> Option<usize> {
        if path == "/proc/sys/vm/nr_hugepages" {
            return Some(self.default_hstate());
        }
        let rest = path.strip_prefix("/sys/kernel/mm/hugepages/")?;
        let (dir, file) = rest.split_once('/')?;
        if file != "nr_hugepages" {
            return None;
        }
        self.hstates.iter().position(|h| h.dir_name() == dir)
    }

    pub(crate) fn read_hugetlb(&self, path: &str) -> Option<String> {
        let i = self.hstate_of_path(path)?;
        Some(format!("{}\n", self.hstates[i].nr))
    }

    /// Returns Ok(false) when the path is not a HugeTLB file.
    pub(crate) fn write_hugetlb(&mut self, path: &str, value: &str) -> Result<bool> {
        let Some(i) = self.hstate_of_path(path) else {
            return Ok(false);
        };
        let v = value.trim_end();
        let n: u64 = v
            .parse()
            .map_err(|_| MmError::Invalid(format!("\"{v}\" is not a number of huge pages")))?;
        self.set_nr_hugepages(i, n);
        Ok(true)
    }

    /// set_max_huge_pages(): grow the pool as far as memory allows, or shrink it.
    pub fn set_nr_hugepages(&mut self, i: usize, n: u64) -> u64 {
        let pages = self.hstates[i].size >> self.u.g.page_shift;
        while self.hstates[i].nr < n {
            let Some((nid, zt)) = self.hugetlb_zone(pages) else {
                break;
            };
            self.zone_mut(nid, zt).hugetlb_pages += pages;
            let h = &mut self.hstates[i];
            match h.placed.last_mut() {
                Some(last) if last.0 == nid && last.1 == zt => last.2 += 1,
                _ => h.placed.push((nid, zt, 1)),
            }
            h.nr += 1;
        }
        while self.hstates[i].nr > n {
            let (nid, zt) = {
                let h = &mut self.hstates[i];
                let last = h.placed.last_mut().expect("pages were placed");
                last.2 -= 1;
                let at = (last.0, last.1);
                if last.2 == 0 {
                    h.placed.pop();
                }
                h.nr -= 1;
                at
            };
            self.zone_mut(nid, zt).hugetlb_pages -= pages;
        }
        self.hstates[i].nr
    }

    /// A zone with room for one huge page (GFP_HIGHUSER_MOVABLE order: Movable first).
    fn hugetlb_zone(&self, pages: u64) -> Option<(u16, ZoneType)> {
        for node in self.nodes.iter().filter(|n| n.online) {
            for zt in [
                ZoneType::Movable,
                ZoneType::Normal,
                ZoneType::Dma32,
                ZoneType::Dma,
            ] {
                if let Some(z) = node.zone(zt) {
                    if z.free_pages().saturating_sub(z.wmark_high) >= pages {
                        return Some((node.nid, zt));
                    }
                }
            }
        }
        None
    }
}
