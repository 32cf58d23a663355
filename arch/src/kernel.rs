//! The kernel versions the model knows and what differs between them where memory hotplug is
//! concerned: one table that mm/ and the arch backends consult (as mm/ consults the arch
//! trait), so that another version is one more entry.

use std::fmt;

/// One modelled kernel version: the behaviours in which it differs from the others.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct Kernel {
    /// The name used on the command line and in scripts ("6.12").
    pub name: &'static str,
    /// (major, minor), for arch backends whose Kconfig gained a feature in some release.
    pub version: (u32, u32),
    /// The real kernels this entry is checked against.
    pub checked_against: &'static str,
    /// Whether Debian's config onlines hot-added memory by default (6.12:
    /// CONFIG_MHP_DEFAULT_ONLINE_TYPE_ONLINE_AUTO; 6.1: CONFIG_MEMORY_HOTPLUG_DEFAULT_ONLINE
    /// unset, so auto_online_blocks reads "offline").
    pub debian_default_online: bool,
    /// mhp_supports_memmap_on_memory() (mm/memory_hotplug.c): whether a hot-add of several
    /// memory blocks gets an altmap per block. 6.1 takes memmap_on_memory only when the add
    /// is exactly one memory block (`size == memory_block_size_bytes()`).
    pub memmap_on_memory_per_block: bool,
    /// `memory_hotplug.memmap_on_memory=force`: 6.12's parameter is an enum (off, on, force,
    /// rounding the vmemmap up to a pageblock); 6.1's is a plain bool.
    pub memmap_on_memory_force: bool,
    /// `nr_memmap_pages` and `nr_memmap_boot_pages` in /proc/vmstat (NR_MEMMAP_PAGES and
    /// NR_MEMMAP_BOOT_PAGES in include/linux/mmzone.h, mm/vmstat.c): 6.12 has them, 6.1 not.
    pub vmstat_memmap_counters: bool,
    /// HugeTLB vmemmap optimisation (mm/hugetlb_vmemmap.c vmemmap_remap_free()): 6.1 keeps
    /// a huge page's first vmemmap page and frees the other 7 (of 8, for 2 MiB); 6.12 copies
    /// it into a newly allocated page and frees all 8, so a boot-memory huge page gives
    /// MemTotal 8 pages on 6.12 and 7 on 6.1.
    pub hvo_keeps_head_vmemmap_page: bool,
    /// CONFIG_UNACCEPTED_MEMORY exists (in 6.12's mm/Kconfig, not 6.1's): the `Unaccepted:`
    /// line of /proc/meminfo and
    /// nr_unaccepted, where the arch selects it.
    pub unaccepted_memory: bool,
    /// The `promo` watermark line of /proc/zoneinfo (zoneinfo_show_print(), mm/vmstat.c).
    pub zoneinfo_promo: bool,
    /// SPARSEMEM_VMEMMAP_PREINIT (mm/hugetlb_vmemmap.c hugetlb_vmemmap_init_early(), 7.x):
    /// a boot-time gigantic page aligned to a section and to what one vmemmap PMD maps gets
    /// its vmemmap built optimised in sparse_init(): one head page from memblock (counted
    /// in nr_memmap_boot_pages), the rest never allocated, nothing for HVO to do later.
    pub hugetlb_vmemmap_preinit: bool,
    /// s390 standby memory through /sys/firmware/memory/memoryN/{config,memmap_on_memory}
    /// (drivers/s390/char/sclp_mem.c, 7.x): nothing is added at boot; writing 1 to config
    /// assigns the block's increments and adds it, 0 removes it. 6.x's sclp_cmd.c added
    /// standby memory at boot, offline, and only onlined and offlined it.
    pub sclp_standby_sysfs: bool,
    /// "cma: Reserved N MiB at ADDR on node N" (mm/cma.c cma_declare_contiguous_nid(), 6.12);
    /// 6.1's and 7.x's line ends at the address.
    pub cma_reserved_on_node: bool,
    /// HVO maps a huge page's tail vmemmap pages to one shared read-only page per zone and
    /// order (mm/hugetlb_vmemmap.c vmemmap_get_tail(), 7.x) instead of the head page.
    pub hvo_shared_tail: bool,
    /// dax/kmem's daxX.Y/state file and its "DAX region truncated" warning
    /// (drivers/dax/kmem.c, 7.x).
    pub dax_kmem_state: bool,
    /// The zone counters of /proc/vmstat and /proc/zoneinfo, in vmstat_text order (those
    /// the arch's build lacks are left out where they are printed).
    pub zone_stats: &'static [&'static str],
    /// The node counters, in vmstat_text order (6.1's pgdemote_* are event counters; 7.x
    /// moved pgsteal_*, pgscan_* and pgrefill here from the events).
    pub node_stats: &'static [&'static str],
    /// /proc/meminfo's `Balloon:`, `GPUActive:` and `GPUReclaim:` after `Unaccepted:`
    /// (fs/proc/meminfo.c, 7.x).
    pub meminfo_balloon_gpu: bool,
    /// /proc/zoneinfo's per-CPU pageset `high_min:`/`high_max:` lines and each zone's
    /// `reserved_highatomic:`/`free_highatomic:` (mm/vmstat.c zoneinfo_show_print(), 7.x).
    pub zoneinfo_pcp_high_and_highatomic: bool,
    /// The event counters of /proc/vmstat, in order.
    pub vm_events: &'static [crate::vmevents::VmEvent],
    /// CONFIG_CRASH_HOTPLUG exists (kernel/Kconfig.kexec, from 6.5; Debian's 6.12 sets it),
    /// and with it memory/crash_hotplug where the arch supports it.
    pub crash_hotplug: bool,
    /// What CONFIG_VIRTIO_MEM depends on (drivers/virtio/Kconfig), as the Kconfig line says
    /// it.
    pub virtio_mem_depends: &'static str,
    /// 6.1's "Misaligned %s start: %#lx end: #%lx" WARN (__add_pages(), mm/memory_hotplug.c)
    /// prints the end as '#' and bare hex; 6.12's as %#lx.
    pub misaligned_end_hash: bool,
    /// find_zone_movable_pfns_for_nodes() checks memblock_has_mirror() and ignores
    /// kernelcore=mirror, saying so, on a machine without mirrored memory (6.3 on).
    pub kernelcore_mirror_check: bool,
}

impl Kernel {
    /// The node counters of /proc/vmstat and /proc/zoneinfo, in vmstat_text order.
    pub fn node_stat_items(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.node_stats.iter().copied()
    }

    /// Whether this version is `major.minor` or later.
    pub fn at_least(&self, major: u32, minor: u32) -> bool {
        self.version >= (major, minor)
    }
}

impl fmt::Display for Kernel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name)
    }
}

pub static V6_12: Kernel = Kernel {
    name: "6.12",
    version: (6, 12),
    checked_against: "Debian 6.12.100+deb12-amd64 and -arm64, 6.12.117+deb12-arm64-16k and \
                      -powerpc64le-64k, 6.12.107+deb13-s390x (at boot) in QEMU",
    debian_default_online: true,
    memmap_on_memory_per_block: true,
    memmap_on_memory_force: true,
    vmstat_memmap_counters: true,
    hvo_keeps_head_vmemmap_page: false,
    unaccepted_memory: true,
    zoneinfo_promo: true,
    hugetlb_vmemmap_preinit: false,
    cma_reserved_on_node: true,
    hvo_shared_tail: false,
    dax_kmem_state: false,
    sclp_standby_sysfs: false,
    zone_stats: ZONE_STATS_6_12,
    node_stats: NODE_STATS_6_12,
    meminfo_balloon_gpu: false,
    zoneinfo_pcp_high_and_highatomic: false,
    vm_events: crate::vmevents::VM_EVENTS_6_12,
    crash_hotplug: true,
    virtio_mem_depends: "X86_64 || ARM64 || RISCV",
    misaligned_end_hash: false,
    kernelcore_mirror_check: true,
};

pub static V6_1: Kernel = Kernel {
    name: "6.1",
    version: (6, 1),
    checked_against: "Debian 6.1.0-56-amd64 in QEMU (and 6.1.0-50-s390x at boot)",
    debian_default_online: false,
    memmap_on_memory_per_block: false,
    memmap_on_memory_force: false,
    vmstat_memmap_counters: false,
    hvo_keeps_head_vmemmap_page: true,
    unaccepted_memory: false,
    zoneinfo_promo: false,
    hugetlb_vmemmap_preinit: false,
    cma_reserved_on_node: false,
    hvo_shared_tail: false,
    dax_kmem_state: false,
    sclp_standby_sysfs: false,
    zone_stats: ZONE_STATS_6_12,
    node_stats: NODE_STATS_6_1,
    meminfo_balloon_gpu: false,
    zoneinfo_pcp_high_and_highatomic: false,
    vm_events: crate::vmevents::VM_EVENTS_6_1,
    crash_hotplug: false,
    virtio_mem_depends: "X86_64 || ARM64",
    misaligned_end_hash: true,
    kernelcore_mirror_check: false,
};

/// Linux 7.3, as Debian 13's trixie-backports builds it (7.3.4; 7.2.11 for ppc64el and
/// s390x, whose 7.3.4 files the archive does not serve).
pub static V7_3: Kernel = Kernel {
    name: "7.3",
    version: (7, 3),
    checked_against: "Debian 7.3.4+deb13-amd64 and -arm64 in QEMU; 7.2.11+deb13-powerpc64le-64k \
                      and -s390x (the archive serves no 7.3.4 for them)",
    debian_default_online: true,
    memmap_on_memory_per_block: true,
    memmap_on_memory_force: true,
    vmstat_memmap_counters: true,
    hvo_keeps_head_vmemmap_page: false,
    unaccepted_memory: true,
    zoneinfo_promo: true,
    hugetlb_vmemmap_preinit: true,
    cma_reserved_on_node: false,
    hvo_shared_tail: true,
    dax_kmem_state: true,
    sclp_standby_sysfs: true,
    zone_stats: ZONE_STATS_7_3,
    node_stats: NODE_STATS_7_3,
    meminfo_balloon_gpu: true,
    zoneinfo_pcp_high_and_highatomic: true,
    vm_events: crate::vmevents::VM_EVENTS_7_3,
    crash_hotplug: true,
    virtio_mem_depends: "X86_64 || ARM64 || RISCV || S390",
    misaligned_end_hash: false,
    kernelcore_mirror_check: true,
};

/// enum zone_stat_item names in 6.12's (and 6.1's) vmstat_text order (Debian's configs:
/// ZSMALLOC; UNACCEPTED_MEMORY where the arch has it).
pub static ZONE_STATS_6_12: &[&str] = &[
    "nr_free_pages",
    "nr_zone_inactive_anon",
    "nr_zone_active_anon",
    "nr_zone_inactive_file",
    "nr_zone_active_file",
    "nr_zone_unevictable",
    "nr_zone_write_pending",
    "nr_mlock",
    "nr_bounce",
    "nr_zspages",
    "nr_free_cma",
    "nr_unaccepted",
];

/// 7.3's: nr_free_pages_blocks (free pages in free blocks of at least a pageblock) after
/// nr_free_pages, nr_bounce gone (a real 7.3.4 x86_64 guest's /proc/vmstat and zoneinfo,
/// mm/tests/fixtures/oracle-x86_64-7.3-whole.txt).
pub static ZONE_STATS_7_3: &[&str] = &[
    "nr_free_pages",
    "nr_free_pages_blocks",
    "nr_zone_inactive_anon",
    "nr_zone_active_anon",
    "nr_zone_inactive_file",
    "nr_zone_active_file",
    "nr_zone_unevictable",
    "nr_zone_write_pending",
    "nr_mlock",
    "nr_zspages",
    "nr_free_cma",
    "nr_unaccepted",
];

/// enum node_stat_item names in 6.12's mm/vmstat.c vmstat_text order (Debian's configs:
/// SWAP, NUMA_BALANCING and IOMMU_SUPPORT on, SHADOW_CALL_STACK off).
pub static NODE_STATS_6_12: &[&str] = &[
    "nr_inactive_anon",
    "nr_active_anon",
    "nr_inactive_file",
    "nr_active_file",
    "nr_unevictable",
    "nr_slab_reclaimable",
    "nr_slab_unreclaimable",
    "nr_isolated_anon",
    "nr_isolated_file",
    "workingset_nodes",
    "workingset_refault_anon",
    "workingset_refault_file",
    "workingset_activate_anon",
    "workingset_activate_file",
    "workingset_restore_anon",
    "workingset_restore_file",
    "workingset_nodereclaim",
    "nr_anon_pages",
    "nr_mapped",
    "nr_file_pages",
    "nr_dirty",
    "nr_writeback",
    "nr_writeback_temp",
    "nr_shmem",
    "nr_shmem_hugepages",
    "nr_shmem_pmdmapped",
    "nr_file_hugepages",
    "nr_file_pmdmapped",
    "nr_anon_transparent_hugepages",
    "nr_vmscan_write",
    "nr_vmscan_immediate_reclaim",
    "nr_dirtied",
    "nr_written",
    "nr_throttled_written",
    "nr_kernel_misc_reclaimable",
    "nr_foll_pin_acquired",
    "nr_foll_pin_released",
    "nr_kernel_stack",
    "nr_page_table_pages",
    "nr_sec_page_table_pages",
    "nr_iommu_pages",
    "nr_swapcached",
    "pgpromote_success",
    "pgpromote_candidate",
    "pgdemote_kswapd",
    "pgdemote_direct",
    "pgdemote_khugepaged",
];
/// 6.1's: no nr_iommu_pages, and pgdemote_* are event counters there.
pub static NODE_STATS_6_1: &[&str] = &[
    "nr_inactive_anon",
    "nr_active_anon",
    "nr_inactive_file",
    "nr_active_file",
    "nr_unevictable",
    "nr_slab_reclaimable",
    "nr_slab_unreclaimable",
    "nr_isolated_anon",
    "nr_isolated_file",
    "workingset_nodes",
    "workingset_refault_anon",
    "workingset_refault_file",
    "workingset_activate_anon",
    "workingset_activate_file",
    "workingset_restore_anon",
    "workingset_restore_file",
    "workingset_nodereclaim",
    "nr_anon_pages",
    "nr_mapped",
    "nr_file_pages",
    "nr_dirty",
    "nr_writeback",
    "nr_writeback_temp",
    "nr_shmem",
    "nr_shmem_hugepages",
    "nr_shmem_pmdmapped",
    "nr_file_hugepages",
    "nr_file_pmdmapped",
    "nr_anon_transparent_hugepages",
    "nr_vmscan_write",
    "nr_vmscan_immediate_reclaim",
    "nr_dirtied",
    "nr_written",
    "nr_throttled_written",
    "nr_kernel_misc_reclaimable",
    "nr_foll_pin_acquired",
    "nr_foll_pin_released",
    "nr_kernel_stack",
    "nr_page_table_pages",
    "nr_sec_page_table_pages",
    "nr_swapcached",
    "pgpromote_success",
    "pgpromote_candidate",
];

/// 7.3's, as the real 7.3.4 x86_64 guest prints them (oracle-x86_64-7.3-whole.txt):
/// nr_vmalloc, pgpromote_candidate_nrl, the proactive reclaim counters, pgsteal_*,
/// pgscan_*, pgrotate_* and pgrefill moved here from the events, nr_hugetlb
/// (HUGETLB_PAGE), nr_balloon_pages, nr_kernel_file_pages, nr_gpu_*; nr_writeback_temp
/// gone.
pub static NODE_STATS_7_3: &[&str] = &[
    "nr_inactive_anon",
    "nr_active_anon",
    "nr_inactive_file",
    "nr_active_file",
    "nr_unevictable",
    "nr_slab_reclaimable",
    "nr_slab_unreclaimable",
    "nr_isolated_anon",
    "nr_isolated_file",
    "workingset_nodes",
    "workingset_refault_anon",
    "workingset_refault_file",
    "workingset_activate_anon",
    "workingset_activate_file",
    "workingset_restore_anon",
    "workingset_restore_file",
    "workingset_nodereclaim",
    "nr_anon_pages",
    "nr_mapped",
    "nr_file_pages",
    "nr_dirty",
    "nr_writeback",
    "nr_shmem",
    "nr_shmem_hugepages",
    "nr_shmem_pmdmapped",
    "nr_file_hugepages",
    "nr_file_pmdmapped",
    "nr_anon_transparent_hugepages",
    "nr_vmscan_write",
    "nr_vmscan_immediate_reclaim",
    "nr_dirtied",
    "nr_written",
    "nr_throttled_written",
    "nr_kernel_misc_reclaimable",
    "nr_foll_pin_acquired",
    "nr_foll_pin_released",
    "nr_vmalloc",
    "nr_kernel_stack",
    "nr_page_table_pages",
    "nr_sec_page_table_pages",
    "nr_iommu_pages",
    "nr_swapcached",
    "pgpromote_success",
    "pgpromote_candidate",
    "pgpromote_candidate_nrl",
    "pgdemote_kswapd",
    "pgdemote_direct",
    "pgdemote_khugepaged",
    "pgdemote_proactive",
    "pgsteal_kswapd",
    "pgsteal_direct",
    "pgsteal_khugepaged",
    "pgsteal_proactive",
    "pgsteal_anon",
    "pgsteal_file",
    "pgscan_kswapd",
    "pgscan_direct",
    "pgscan_khugepaged",
    "pgscan_proactive",
    "pgscan_anon",
    "pgscan_file",
    "pgrotate_anon",
    "pgrotate_file",
    "pgrefill",
    "nr_hugetlb",
    "nr_balloon_pages",
    "nr_kernel_file_pages",
    "nr_gpu_active",
    "nr_gpu_reclaim",
];

/// Every modelled version, the default first.
pub static KERNELS: &[&Kernel] = &[&V6_12, &V6_1, &V7_3];

/// The default version.
pub fn default_kernel() -> &'static Kernel {
    KERNELS[0]
}

impl Kernel {
    /// A version by name, or an error that lists the modelled ones (see [`find`]).
    pub fn lookup(name: &str) -> Result<&'static Kernel, crate::ArchError> {
        find(name).ok_or_else(|| crate::ArchError::UnknownKernel(name.to_string()))
    }

    /// Every modelled version's name.
    pub fn names() -> impl Iterator<Item = &'static str> {
        KERNELS.iter().map(|k| k.name)
    }
}

/// A version by name: "6.12", or a release such as "6.12.100", "6.12-rc3" or
/// "6.1.0-56-amd64", whose major.minor picks the entry. Anything else after major.minor must
/// start with '.', '-' or '+'; numbers have no leading zeros.
pub fn find(name: &str) -> Option<&'static Kernel> {
    let name = name.trim();
    let number = |s: &str| -> Option<(u32, usize)> {
        let digits = s.len() - s.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        let d = &s[..digits];
        if d.is_empty() || (d.len() > 1 && d.starts_with('0')) {
            return None;
        }
        Some((d.parse().ok()?, digits))
    };
    let (major, a) = number(name)?;
    let rest = name[a..].strip_prefix('.')?;
    let (minor, b) = number(rest)?;
    let tail = &rest[b..];
    if !(tail.is_empty() || tail.starts_with(['.', '-', '+'])) {
        return None;
    }
    KERNELS
        .iter()
        .copied()
        .find(|k| k.version == (major, minor))
}

/// A running kernel's release (`uname -r`, /proc/sys/kernel/osrelease) and the modelled
/// version that stands for it: its own when modelled, else the nearest of the same major
/// version (the older on a tie), with `exact` false so that a caller says so. A release of
/// another major version, or one that does not start with `major.minor`, has none.
pub fn nearest_kernel(release: &str) -> Option<(&'static Kernel, bool)> {
    if let Some(k) = find(release) {
        return Some((k, true));
    }
    let mut parts = release.trim().splitn(3, |c: char| !c.is_ascii_digit());
    let major: u32 = parts.next()?.parse().ok()?;
    let minor: u32 = parts.next()?.parse().ok()?;
    KERNELS
        .iter()
        .copied()
        .filter(|k| k.version.0 == major)
        .min_by_key(|k| (k.version.1.abs_diff(minor), k.version.1))
        .map(|k| (k, false))
}

/// One behaviour in which the versions differ, for `hotplug-lab kernels`.
pub struct Difference {
    pub what: &'static str,
    /// Where the kernel decides it.
    pub source: &'static str,
    pub value: fn(&Kernel) -> String,
}

fn yes_no(b: bool) -> String {
    if b { "yes" } else { "no" }.to_string()
}

/// The generic differences (per-arch ones come from the arch backends).
pub static DIFFERENCES: &[Difference] = &[
    Difference {
        what: "memmap_on_memory for a hot-add of several blocks",
        source: "mm/memory_hotplug.c: mhp_supports_memmap_on_memory(), create_altmaps_and_memory_blocks()",
        value: |k| {
            if k.memmap_on_memory_per_block {
                "yes, an altmap per block".to_string()
            } else {
                "no: only an add of exactly one block".to_string()
            }
        },
    },
    Difference {
        what: "removing memory that carries its memmap",
        source: "mm/memory_hotplug.c: try_remove_memory()",
        value: |k| {
            if k.memmap_on_memory_per_block {
                "any run of blocks".to_string()
            } else {
                "one block per call, else EINVAL".to_string()
            }
        },
    },
    Difference {
        what: "memory_hotplug.memmap_on_memory=force",
        source: "mm/memory_hotplug.c: memmap_on_memory_ops (6.12), module_param bool (6.1)",
        value: |k| yes_no(k.memmap_on_memory_force),
    },
    Difference {
        what: "HugeTLB vmemmap optimisation: the head vmemmap page",
        source: "mm/hugetlb_vmemmap.c: vmemmap_remap_free()",
        value: |k| {
            if k.hvo_keeps_head_vmemmap_page {
                "kept: 7 of 8 freed per 2M page".to_string()
            } else {
                "copied: 8 freed, 1 new (net 7)".to_string()
            }
        },
    },
    Difference {
        what: "the \"Misaligned __add_pages\" WARN's end",
        source: "mm/memory_hotplug.c: __add_pages()",
        value: |k| if k.misaligned_end_hash { "#%lx" } else { "%#lx" }.to_string(),
    },
    Difference {
        what: "Unaccepted: in /proc/meminfo, nr_unaccepted (where the arch has it)",
        source: "fs/proc/meminfo.c, mm/vmstat.c: CONFIG_UNACCEPTED_MEMORY",
        value: |k| yes_no(k.unaccepted_memory),
    },
    Difference {
        what: "the promo watermark in /proc/zoneinfo",
        source: "mm/vmstat.c: zoneinfo_show_print()",
        value: |k| yes_no(k.zoneinfo_promo),
    },
    Difference {
        what: "nr_iommu_pages and pgdemote_* among the node counters",
        source: "mm/vmstat.c: vmstat_text",
        value: |k| yes_no(k.node_stat_items().any(|n| n == "nr_iommu_pages")),
    },
    Difference {
        what: "kernelcore=mirror without mirrored memory",
        source: "mm/mm_init.c find_zone_movable_pfns_for_nodes() (mm/page_alloc.c in 6.1)",
        value: |k| {
            if k.kernelcore_mirror_check {
                "ignored, with a warning".to_string()
            } else {
                "not modelled (ignored with a note)".to_string()
            }
        },
    },
    Difference {
        what: "event counters in /proc/vmstat",
        source: "mm/vmstat.c vmstat_text (Debian's config)",
        value: |k| k.vm_events.len().to_string(),
    },
    Difference {
        what: "nr_memmap_pages, nr_memmap_boot_pages in /proc/vmstat",
        source: "include/linux/mmzone.h NR_MEMMAP_*, mm/vmstat.c vmstat_text",
        value: |k| yes_no(k.vmstat_memmap_counters),
    },
    Difference {
        what: "the zone counter after nr_free_pages; nr_bounce",
        source: "include/linux/mmzone.h enum zone_stat_item, mm/vmstat.c vmstat_text",
        value: |k| {
            if k.zone_stats.contains(&"nr_free_pages_blocks") {
                "nr_free_pages_blocks; gone".to_string()
            } else {
                "none; printed".to_string()
            }
        },
    },
    Difference {
        what: "pgsteal_*, pgscan_*, pgrefill counted",
        source: "mm/vmstat.c vmstat_text: node_stat_item or vm_event_item",
        value: |k| {
            if k.node_stats.contains(&"pgrefill") {
                "per node (and memcg)".to_string()
            } else {
                "as events".to_string()
            }
        },
    },
    Difference {
        what: "Balloon:, GPUActive:, GPUReclaim: in /proc/meminfo",
        source: "fs/proc/meminfo.c meminfo_proc_show()",
        value: |k| yes_no(k.meminfo_balloon_gpu),
    },
    Difference {
        what: "pagesets' high_min/high_max, zones' *_highatomic in /proc/zoneinfo",
        source: "mm/vmstat.c zoneinfo_show_print()",
        value: |k| yes_no(k.zoneinfo_pcp_high_and_highatomic),
    },
    Difference {
        what: "boot-time gigantic pages built optimised (x86_64: SPARSEMEM_VMEMMAP_PREINIT)",
        source: "mm/hugetlb_vmemmap.c hugetlb_vmemmap_init_early(), arch/x86/Kconfig",
        value: |k| yes_no(k.hugetlb_vmemmap_preinit),
    },
    Difference {
        what: "HugeTLB vmemmap optimisation: the tail vmemmap pages map",
        source: "mm/hugetlb_vmemmap.c vmemmap_remap_free(), vmemmap_get_tail()",
        value: |k| {
            if k.hvo_shared_tail {
                "one shared page per zone and order".to_string()
            } else {
                "the head page".to_string()
            }
        },
    },
    Difference {
        what: "dax/kmem: daxX.Y/state, \"DAX region truncated\" warning",
        source: "drivers/dax/kmem.c state_store(), dev_dax_kmem_probe()",
        value: |k| yes_no(k.dax_kmem_state),
    },
    Difference {
        what: "s390 standby memory",
        source: "drivers/s390/char/sclp_cmd.c (6.x), sclp_mem.c (7.x)",
        value: |k| {
            if k.sclp_standby_sysfs {
                "/sys/firmware/memory/memoryN/config adds it".to_string()
            } else {
                "added offline at boot".to_string()
            }
        },
    },
    Difference {
        what: "CONFIG_VIRTIO_MEM depends on",
        source: "drivers/virtio/Kconfig",
        value: |k| k.virtio_mem_depends.to_string(),
    },
];

/// What changed in a modelled version that the model does not do, and why: `kernels` lists
/// it under the table.
pub struct NotModelled {
    /// The version it came in (the first modelled one that has it).
    pub kernel: &'static str,
    pub what: &'static str,
    pub source: &'static str,
    pub why: &'static str,
}

pub static NOT_MODELLED: &[NotModelled] = &[
    NotModelled {
        kernel: "7.3",
        what: "the shared tail page HVO maps (one per zone and order) and its ENOMEM",
        source: "mm/hugetlb_vmemmap.c vmemmap_get_tail()",
        why: "not counted in any counter a real guest shows; the model's MemFree reads one \
              page higher per zone and huge page size used",
    },
    NotModelled {
        kernel: "7.3",
        what: "pageblock isolation as its own bit (8 flag bits per pageblock), a failed offline \
               restoring each pageblock's migratetype",
        source: "include/linux/pageblock-flags.h, mm/page_isolation.c",
        why: "the model keeps no per-pageblock migratetypes, and the section usage map's \
              size is not accounted anywhere it prints",
    },
    NotModelled {
        kernel: "7.3",
        what: "NODE_ADDED_FIRST/LAST_MEMORY notifiers, the \"node notifier failure\" offline \
               reason",
        source: "include/linux/node.h, mm/memory_hotplug.c",
        why: "the model's notifier injection has the memory notifiers (MEM_GOING_*) only",
    },
    NotModelled {
        kernel: "7.3",
        what: "x86_64's memory block size from a CXL CFMWS window's hint",
        source: "arch/x86/mm/init_64.c probe_memory_block_size(), drivers/acpi/numa/srat.c",
        why: "the model's machines have no CXL windows; the default (no window) is modelled",
    },
    NotModelled {
        kernel: "7.3",
        what: "arm64 block mappings for hot-added memory on BBML3 CPUs, EPERM on a split",
        source: "arch/arm64/mm/mmu.c: \"splits a leaf entry in linear map\"",
        why: "the model's arm64 CPU is QEMU's, without BBML3 (the real guests' behaviour)",
    },
    NotModelled {
        kernel: "7.3",
        what: "vm.movable_gigantic_pages",
        source: "mm/hugetlb_sysctl.c",
        why: "gigantic pages are never allocated from ZONE_MOVABLE in the model (the default, \
              0); the sysctl file is absent",
    },
    NotModelled {
        kernel: "7.3",
        what: "a boot memmap allocation failure panics (6.x dropped the section)",
        source: "mm/sparse.c sparse_init_nid(): \"Failed to allocate memmap for section\"",
        why: "the model's boot never fails to allocate the memmap",
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_releases_find_their_entry() {
        assert_eq!(find("6.12").unwrap().name, "6.12");
        assert_eq!(find("6.12.100+deb12-amd64").unwrap().name, "6.12");
        assert_eq!(find("6.1.0-56-amd64").unwrap().name, "6.1");
        assert_eq!(find("6.1").unwrap().name, "6.1");
        assert!(find("6.6").is_none());
        assert_eq!(find("6.12-rc3").unwrap().name, "6.12");
        for junk in [
            "6.1x", "6.01", "06.1", "6.", ".1", "v6.1", "6.10", "6.1 6.12",
        ] {
            assert!(find(junk).is_none(), "{junk}");
        }
        assert!(find("6").is_none());
        assert!(find("latest").is_none());
        assert_eq!(default_kernel().name, "6.12");
        assert!(V6_12.at_least(6, 6) && !V6_1.at_least(6, 6));
    }

    #[test]
    fn a_running_release_maps_to_the_nearest_modelled_version() {
        let near = |r: &str| nearest_kernel(r).map(|(k, exact)| (k.name, exact));
        assert_eq!(near("6.12.100+deb12-amd64"), Some(("6.12", true)));
        assert_eq!(near("6.1.0-56-amd64"), Some(("6.1", true)));
        // This machine's Firecracker kernel.
        assert_eq!(near("6.18.44-fc-v1045"), Some(("6.12", false)));
        assert_eq!(near("6.6.58-amzn"), Some(("6.1", false)));
        assert_eq!(near("6.8.0-49-generic"), Some(("6.12", false)));
        assert_eq!(near("7.3.4+deb13-amd64"), Some(("7.3", true)));
        assert_eq!(near("7.2.11+deb13-s390x"), Some(("7.3", false)));
        assert_eq!(near("7.0.1"), Some(("7.3", false)));
        assert_eq!(near("5.15.0-1-generic"), None);
        assert_eq!(near("junk"), None);
    }
}
