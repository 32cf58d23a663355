//! The kernel's WARN(), WARN_ONCE(), WARN_ON() and WARN_ON_ONCE() reports (kernel/panic.c
//! __warn_printk() and __warn(), lib/bug.c report_bug()): the cut-here line, the message,
//! the "WARNING: CPU: 0 PID: 1 at FILE:LINE FUNC" line with the line of the version
//! modelled, and the end-of-trace marker. The registers and the call trace, which the model
//! does not have, and the function's offset are left out. A _ONCE site reports once per
//! boot, failed calls included (its flag is not state a rollback puts back).

use crate::machine::Machine;

/// Where a WARN is, in each version that has it: (major, minor) -> (file, function, line).
pub(crate) struct Site {
    pub name: &'static str,
    pub once: bool,
    pub at: &'static [((u32, u32), &'static str, &'static str, u32)],
}

/// __add_pages() of a range not aligned to sub-sections.
pub(crate) const MISALIGNED_ADD_PAGES: Site = Site {
    name: "misaligned __add_pages",
    once: false,
    at: &[
        ((6, 1), "mm/memory_hotplug.c", "__add_pages", 328),
        ((6, 12), "mm/memory_hotplug.c", "__add_pages", 414),
        ((7, 3), "mm/memory_hotplug.c", "__add_pages", 410),
    ],
};

/// remove_memory_blocks_and_altmaps(): an altmap with pages still allocated.
pub(crate) const ALTMAP_NOT_UNMAPPED: Site = Site {
    name: "altmap not fully unmapped",
    once: false,
    at: &[
        (
            (6, 12),
            "mm/memory_hotplug.c",
            "remove_memory_blocks_and_altmaps",
            1438,
        ),
        (
            (7, 3),
            "mm/memory_hotplug.c",
            "remove_memory_blocks_and_altmaps",
            1414,
        ),
    ],
};

/// add_memory_resource() for a node that is not possible.
pub(crate) const NODE_ABSENT: Site = Site {
    name: "node absent",
    once: false,
    at: &[
        ((6, 1), "mm/memory_hotplug.c", "add_memory_resource", 1345),
        ((6, 12), "mm/memory_hotplug.c", "add_memory_resource", 1523),
        ((7, 3), "mm/memory_hotplug.c", "add_memory_resource", 1525),
    ],
};

/// try_remove_memory(): some memory blocks of the range have altmaps, some not.
pub(crate) const SOME_ALTMAPS: Site = Site {
    name: "only some memory blocks have altmaps",
    once: true,
    at: &[
        (
            (6, 12),
            "mm/memory_hotplug.c",
            "memory_blocks_have_altmaps",
            2256,
        ),
        (
            (7, 3),
            "mm/memory_hotplug.c",
            "memory_blocks_have_altmaps",
            2285,
        ),
    ],
};

/// devm_memunmap_pages() of a namespace whose altmap still has pages out.
pub(crate) const RESERVED_NOT_FREED: Site = Site {
    name: "failed to free all reserved pages",
    once: true,
    at: &[
        ((6, 1), "mm/memremap.c", "memunmap_pages", 152),
        ((6, 12), "mm/memremap.c", "memunmap_pages", 153),
        ((7, 3), "mm/memremap.c", "memunmap_pages", 128),
    ],
};

/// pagemap_range(): another pgmap maps the range's first (or last) pfn.
pub(crate) const CONFLICTING_START: Site = Site {
    name: "conflicting mapping (start)",
    once: false,
    at: &[
        ((6, 1), "mm/memremap.c", "pagemap_range", 183),
        ((6, 12), "mm/memremap.c", "pagemap_range", 184),
        ((7, 3), "mm/memremap.c", "pagemap_range", 158),
    ],
};

pub(crate) const CONFLICTING_END: Site = Site {
    name: "conflicting mapping (end)",
    once: false,
    at: &[
        ((6, 1), "mm/memremap.c", "pagemap_range", 190),
        ((6, 12), "mm/memremap.c", "pagemap_range", 191),
        ((7, 3), "mm/memremap.c", "pagemap_range", 165),
    ],
};

/// pagemap_range(): the range touches System RAM.
pub(crate) const ATTEMPTED_ON_RAM: Site = Site {
    name: "attempted on a ram or mixed region",
    once: true,
    at: &[
        ((6, 1), "mm/memremap.c", "pagemap_range", 199),
        ((6, 12), "mm/memremap.c", "pagemap_range", 200),
        ((7, 3), "mm/memremap.c", "pagemap_range", 174),
    ],
};

/// sparse_remove_section() (__remove_section() in 6.1) of a section with no memmap.
pub(crate) const REMOVE_INVALID_SECTION: Site = Site {
    name: "removing an invalid section",
    once: true,
    at: &[
        ((6, 1), "mm/memory_hotplug.c", "__remove_section", 501),
        ((6, 12), "mm/sparse.c", "sparse_remove_section", 880),
        ((7, 3), "mm/sparse-vmemmap.c", "sparse_remove_section", 924),
    ],
};

/// clear_subsection_map() of sub-sections that are not active.
pub(crate) const SECTION_DEACTIVATED: Site = Site {
    name: "section already deactivated",
    once: false,
    at: &[
        ((6, 1), "mm/sparse.c", "clear_subsection_map", 668),
        ((6, 12), "mm/sparse.c", "clear_subsection_map", 608),
        ((7, 3), "mm/sparse-vmemmap.c", "clear_subsection_map", 728),
    ],
};

/// The seeds' devm_memremap_pages() (kernel/memremap.c of the 4.x kernels seed 004 was
/// written against) on a range that mixes System RAM with the device's.
pub(crate) const SEED_DEVM_MIXED: Site = Site {
    name: "devm_memremap_pages attempted on a mixed region",
    once: true,
    at: &[((4, 17), "kernel/memremap.c", "devm_memremap_pages", 300)],
};

/// cmdline_parse_core(): kernelcore= or movablecore= past 100%.
pub(crate) const CORE_PERCENT: Site = Site {
    name: "core percent past 100",
    once: false,
    at: &[
        ((6, 1), "mm/page_alloc.c", "cmdline_parse_core", 8419),
        ((6, 12), "mm/mm_init.c", "cmdline_parse_core", 250),
        ((7, 3), "mm/mm_init.c", "cmdline_parse_core", 280),
    ],
};

/// cma_activate_area(): the area's first pfn has no memmap.
pub(crate) const CMA_PFN_INVALID: Site = Site {
    name: "cma area pfn invalid",
    once: true,
    at: &[
        ((6, 1), "mm/cma.c", "cma_activate_area", 110),
        ((6, 12), "mm/cma.c", "cma_activate_area", 106),
    ],
};

impl Site {
    /// Where it is in `version`: that version's place, else the nearest older one's, else
    /// the oldest (a seed's design on a newer kernel).
    fn place(&self, version: (u32, u32)) -> (&'static str, &'static str, u32) {
        let pick = self
            .at
            .iter()
            .filter(|a| a.0 <= version)
            .max_by_key(|a| a.0)
            .or_else(|| self.at.iter().min_by_key(|a| a.0));
        pick.map_or(("?", "?", 0), |a| (a.1, a.2, a.3))
    }
}

impl Machine {
    /// Report a WARN at `site`, with `message` (none for WARN_ON()), as the kernel prints it;
    /// a _ONCE site only the first time.
    pub(crate) fn warn(&mut self, site: &'static Site, message: Option<&str>) {
        if site.once && !self.warned.insert(site.name) {
            return;
        }
        let (file, func, line) = site.place(self.target.kernel.version);
        let mut text = String::from("------------[ cut here ]------------\n");
        if let Some(m) = message {
            text.push_str(m);
            text.push('\n');
        }
        // Early boot runs as the idle task, PID 0; calls after it as PID 1.
        let pid = u8::from(!self.booting);
        text.push_str(&format!(
            "WARNING: CPU: 0 PID: {pid} at {file}:{line} {func}\n"
        ));
        text.push_str("---[ end trace 0000000000000000 ]---");
        self.log(text);
    }
}
