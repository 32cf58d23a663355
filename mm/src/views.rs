//! The files a real system shows: /sys/devices/system/memory (drivers/base/memory.c),
//! /proc/iomem (kernel/resource.c), /proc/meminfo (fs/proc/meminfo.c), /proc/zoneinfo and
//! /proc/vmstat (mm/vmstat.c), the memory_hotplug module parameters; writes to the
//! writable ones; and a sysfs tree on disk that `lsmem --sysroot` reads.

use crate::error::{MmError, Result};
use crate::machine::Machine;
use crate::units::BlockId;
use arch::ZoneType;
use std::fmt::Write as _;

const NUMA_STATS: [&str; 6] = [
    "numa_hit",
    "numa_miss",
    "numa_foreign",
    "numa_interleave",
    "numa_local",
    "numa_other",
];

/// Writing a file that has no store: kernfs refuses to open a sysfs file without one for
/// writing and sysctl a read-only entry (EACCES, fs/kernfs/file.c, fs/proc/proc_sysctl.c);
/// a /proc seq file opens, and the write fails with EIO (pde_write(), fs/proc/inode.c).
fn read_only(canon: &str) -> MmError {
    if canon.starts_with("/proc/") && !canon.starts_with("/proc/sys/") {
        MmError::Io(format!(
            "{canon}: Input/output error (the file has no write handler)"
        ))
    } else {
        MmError::AccessDenied(format!("{canon}: Permission denied (read-only)"))
    }
}

impl Machine {
    /// MemTotal in kB: totalram_pages(), the managed pages of every zone.
    pub fn mem_total_kb(&self) -> u64 {
        let managed: u64 = self
            .state
            .nodes
            .iter()
            .flat_map(|n| &n.zones)
            .map(|z| z.managed_pages)
            .sum();
        managed * (self.u.g.page_size >> 10)
    }

    /// MemFree in kB: the free pages of every zone.
    pub fn mem_free_kb(&self) -> u64 {
        let free: u64 = self
            .state
            .nodes
            .iter()
            .flat_map(|n| &n.zones)
            .map(|z| z.free_pages())
            .sum();
        free * (self.u.g.page_size >> 10)
    }

    /// Resolve `path` as the VFS walks it: repeated slashes and "." collapse, ".." goes up;
    /// a directory is EISDIR, a file with a trailing slash ENOTDIR, a relative path or one
    /// that is not there ENOENT. Returns the file's canonical path.
    fn resolve(&self, path: &str) -> Result<String> {
        let shown = crate::error::quote(path);
        if !path.starts_with('/') {
            return Err(MmError::NotFound(format!(
                "{shown}: No such file or directory (paths start at /)"
            )));
        }
        let mut parts: Vec<&str> = Vec::new();
        for c in path.split('/') {
            match c {
                "" | "." => {}
                ".." => {
                    parts.pop();
                }
                c => parts.push(c),
            }
        }
        let canon = format!("/{}", parts.join("/"));
        if self.is_directory(&canon) {
            return Err(MmError::IsADirectory(format!("{shown}: Is a directory")));
        }
        if path.ends_with('/') || path.ends_with("/.") || path.ends_with("/..") {
            return Err(MmError::NotADirectory(format!("{shown}: Not a directory")));
        }
        Ok(canon)
    }

    /// Read a sysfs or procfs file, byte for byte as the kernel prints it.
    pub fn read(&self, path: &str) -> Result<String> {
        let canon = self.resolve(path)?;
        let file = self.file(&canon).ok_or_else(|| {
            MmError::NotFound(format!(
                "{}: No such file or directory",
                crate::error::quote(path)
            ))
        })?;
        if !file.readable() {
            return Err(MmError::AccessDenied(format!(
                "{}: Permission denied (write-only, mode 0200)",
                crate::error::quote(path)
            )));
        }
        Ok(file.show(self))
    }

    /// Write a sysfs or procfs file as `echo value > path` does.
    pub fn write(&mut self, path: &str, value: &str) -> Result<()> {
        let canon = self.resolve(path)?;
        let file = self.file(&canon).ok_or_else(|| {
            MmError::NotFound(format!(
                "{}: No such file or directory",
                crate::error::quote(path)
            ))
        })?;
        file.store(self, value)
            .unwrap_or_else(|| Err(read_only(&canon)))
    }

    /// Whether unaccepted memory is accounted: the kernel version has it and the arch
    /// selects UNACCEPTED_MEMORY.
    fn unaccepted_memory(&self) -> bool {
        self.target.kernel.unaccepted_memory && self.target.arch().unaccepted_memory()
    }

    /// /proc/meminfo (fs/proc/meminfo.c). What the model does not track reads 0.
    pub fn meminfo(&self) -> String {
        let mut out = String::new();
        let kb = |out: &mut String, name: &str, v: u64| {
            let _ = writeln!(out, "{:<16}{:>8} kB", format!("{name}:"), v);
        };
        let ps_kb = self.u.g.page_size >> 10;
        let total = self.mem_total_kb();
        let free = self.mem_free_kb();
        let hugetlb_kb = self.hugetlb_total_kb();
        kb(&mut out, "MemTotal", total);
        kb(&mut out, "MemFree", free);
        kb(&mut out, "MemAvailable", free);
        for name in [
            "Buffers",
            "Cached",
            "SwapCached",
            "Active",
            "Inactive",
            "Active(anon)",
            "Inactive(anon)",
            "Active(file)",
            "Inactive(file)",
            "Unevictable",
            "Mlocked",
            "SwapTotal",
            "SwapFree",
            "Zswap",
            "Zswapped",
            "Dirty",
            "Writeback",
            "AnonPages",
            "Mapped",
            "Shmem",
            "KReclaimable",
            "Slab",
            "SReclaimable",
            "SUnreclaim",
            "KernelStack",
            "PageTables",
            "SecPageTables",
            "NFS_Unstable",
            "Bounce",
            "WritebackTmp",
        ] {
            kb(&mut out, name, 0);
        }
        // vm_commit_limit(): (totalram - hugetlb) * overcommit_ratio (50) / 100 + swap.
        kb(
            &mut out,
            "CommitLimit",
            total.saturating_sub(hugetlb_kb) / ps_kb * 50 / 100 * ps_kb,
        );
        kb(&mut out, "Committed_AS", 0);
        kb(&mut out, "VmallocTotal", self.vmalloc_total_kb());
        for name in ["VmallocUsed", "VmallocChunk", "Percpu"] {
            kb(&mut out, name, 0);
        }
        if self.target.arch().memory_failure() {
            let _ = writeln!(out, "HardwareCorrupted: {:>5} kB", 0);
        }
        for name in [
            "AnonHugePages",
            "ShmemHugePages",
            "ShmemPmdMapped",
            "FileHugePages",
            "FilePmdMapped",
        ] {
            kb(&mut out, name, 0);
        }
        if self.target.arch().cma(self.target.kernel).is_some() {
            // A real kernel's drivers take a few CMA pages; the model's only lose them to
            // movable allocations.
            let k = |p: u64| (p << self.u.g.page_shift) >> 10;
            kb(&mut out, "CmaTotal", k(self.cma_total_pages()));
            kb(&mut out, "CmaFree", k(self.cma_free_pages()));
        }
        if self.unaccepted_memory() {
            kb(&mut out, "Unaccepted", 0);
        }
        if self.target.kernel.meminfo_balloon_gpu {
            for name in ["Balloon", "GPUActive", "GPUReclaim"] {
                kb(&mut out, name, 0);
            }
        }
        out.push_str(&self.hugetlb_meminfo());
        for line in
            self.target
                .arch()
                .report_meminfo(&self.linear_map(), self.u.block_size, &self.boot.cpu)
        {
            // The arch's own format: the name, four spaces, eight columns.
            let _ = writeln!(out, "{}:    {:>8} kB", line.name, line.bytes >> 10);
        }
        out
    }

    /// VmallocTotal: VMALLOC_END - VMALLOC_START in kB; the identity map covers boot RAM
    /// (standby memory the model adds later is not known at boot).
    fn vmalloc_total_kb(&self) -> u64 {
        self.target
            .arch()
            .vmalloc_size(&self.target, self.boot.max_pfn << self.u.g.page_shift)
            >> 10
    }

    /// What the linear map covers: every System RAM resource (added memory, online or not),
    /// widened to whole pages and merged.
    fn linear_map(&self) -> Vec<(u64, u64)> {
        let ps = self.u.g.page_size;
        let mut ranges: Vec<(u64, u64)> = self
            .state
            .iomem
            .walk()
            .into_iter()
            .filter(|(_, r)| r.system_ram)
            .map(|(_, r)| (r.start - r.start % ps, (r.end + 1).next_multiple_of(ps)))
            .collect();
        crate::resource::merge_overlapping(&mut ranges);
        ranges
    }

    /// /proc/zoneinfo (zoneinfo_show_print()).
    pub fn zoneinfo(&self) -> String {
        let mut out = String::new();
        let ncpu = 1;
        for node in self.state.nodes.iter().filter(|n| n.online) {
            let first_populated = node.zones.iter().position(|z| z.populated());
            for (i, z) in node.zones.iter().enumerate() {
                let _ = write!(out, "Node {}, zone {:>8}", node.nid, z.ztype.name());
                if Some(i) == first_populated {
                    out.push_str("\n  per-node stats");
                    for name in self.target.node_stat_items() {
                        let _ = write!(out, "\n      {name:<12} 0");
                    }
                }
                let _ = write!(
                    out,
                    "\n  pages free     {}\n        boost    0\n        min      {}\n        low      {}\n        high     {}",
                    z.free_pages(),
                    z.wmark_min,
                    z.wmark_low,
                    z.wmark_high,
                );
                if self.target.kernel.zoneinfo_promo {
                    let _ = write!(out, "\n        promo    {}", z.wmark_promo);
                }
                let _ = write!(
                    out,
                    "\n        spanned  {}\n        present  {}\n        managed  {}\n        cma      {}",
                    z.spanned_pages,
                    z.present_pages,
                    z.managed_pages,
                    z.cma_pages
                );
                let prot: Vec<String> = (0..node.zones.len())
                    .map(|j| z.lowmem_reserve[j].to_string())
                    .collect();
                let _ = write!(out, "\n        protection: ({})", prot.join(", "));
                if !z.populated() {
                    out.push('\n');
                    continue;
                }
                for &name in self.target.kernel.zone_stats {
                    if name == "nr_unaccepted" && !self.unaccepted_memory() {
                        continue;
                    }
                    let v = match name {
                        "nr_free_pages" => z.free_pages(),
                        "nr_free_pages_blocks" => self.free_pages_blocks(z),
                        "nr_free_cma" => z.free_cma_pages(),
                        _ => 0,
                    };
                    let _ = write!(out, "\n      {name:<12} {v}");
                }
                if self.target.arch().numa() {
                    for name in NUMA_STATS {
                        let _ = write!(out, "\n      {name:<12} 0");
                    }
                }
                out.push_str("\n  pagesets");
                let pcp_high = self.target.kernel.zoneinfo_pcp_high_and_highatomic;
                for cpu in 0..ncpu {
                    if pcp_high {
                        let _ = write!(
                            out,
                            "\n    cpu: {cpu}\n              count:    0\n              high:     0\n              batch:    1\n              high_min: 0\n              high_max: 0\n  vm stats threshold: 0"
                        );
                    } else {
                        let _ = write!(
                            out,
                            "\n    cpu: {cpu}\n              count: 0\n              high:  0\n              batch: 1\n  vm stats threshold: 0"
                        );
                    }
                }
                let _ = write!(
                    out,
                    "\n  node_unreclaimable:  0\n  start_pfn:           {}",
                    z.zone_start_pfn
                );
                if pcp_high {
                    out.push_str("\n  reserved_highatomic: 0\n  free_highatomic:     0");
                }
                out.push('\n');
            }
        }
        out
    }

    /// /proc/vmstat: the counters, then the event counters, then nr_unstable.
    pub fn vmstat_text(&self) -> String {
        let mut out = String::new();
        let free: u64 = self
            .state
            .nodes
            .iter()
            .flat_map(|n| &n.zones)
            .map(|z| z.free_pages())
            .sum();
        for &name in self.target.kernel.zone_stats {
            if name == "nr_unaccepted" && !self.unaccepted_memory() {
                continue;
            }
            let v = match name {
                "nr_free_pages" => free,
                "nr_free_pages_blocks" => self
                    .state
                    .nodes
                    .iter()
                    .flat_map(|n| &n.zones)
                    .map(|z| self.free_pages_blocks(z))
                    .sum(),
                "nr_free_cma" => self.cma_free_pages(),
                _ => 0,
            };
            let _ = writeln!(out, "{name} {v}");
        }
        let numa: &[&str] = if self.target.arch().numa() {
            &NUMA_STATS
        } else {
            &[]
        };
        for name in numa.iter().copied().chain(self.target.node_stat_items()) {
            let _ = writeln!(out, "{name} 0");
        }
        let _ = writeln!(out, "nr_dirty_threshold 0");
        let _ = writeln!(out, "nr_dirty_background_threshold 0");
        if self.target.kernel.vmstat_memmap_counters {
            let _ = writeln!(
                out,
                "nr_memmap_pages {}",
                self.state.vmstat.nr_memmap_pages()
            );
            let _ = writeln!(
                out,
                "nr_memmap_boot_pages {}",
                self.state.vmstat.nr_memmap_boot_pages
            );
        }
        self.events.write(&mut out, &self.target);
        // vmstat_show() ends the file with a counter the kernel no longer keeps.
        out.push_str("nr_unstable 0\n");
        out
    }

    /// NR_FREE_PAGES_BLOCKS (7.x): free pages in free blocks of a pageblock or more. The
    /// model keeps no free lists, so it counts the zone's free pages as if unfragmented, in
    /// whole pageblocks (a real guest's kernel allocations leave a few pageblocks fewer).
    fn free_pages_blocks(&self, z: &crate::zone::Zone) -> u64 {
        let pb = 1u64 << self.target.geometry.pageblock_order;
        z.free_pages() / pb * pb
    }

    /// Zone of a block for display: the zone it is online in, else what "online" would pick.
    pub fn block_zone_label(&self, id: BlockId) -> String {
        self.valid_zones(id).unwrap_or_default()
    }

    /// Zones in /proc/zoneinfo order for node `nid`.
    pub fn zone_types(&self) -> &'static [ZoneType] {
        self.target.arch().zone_types(self.target.kernel)
    }
}
