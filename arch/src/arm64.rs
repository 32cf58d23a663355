//! arm64 with 4K, 16K or 64K pages and 48-bit physical addresses: arch/arm64/mm/mmu.c,
//! arch/arm64/mm/init.c (zones), arch/arm64/include/asm/sparsemem.h, QEMU's virt machine.

use crate::vmemmap::{
    vmemmap_populate_basepages, vmemmap_populate_hugepages, AllocFailed, VmemmapTables,
};
use crate::Kernel;
use crate::Target;
use crate::{
    human, Arch, ArchError, ArchParams, HotplugDriver, RamLayout, TableLevel, ZoneLimits, ZoneType,
    GIB, KIB, MIB,
};

/// The arm64 page size a configuration is built with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Granule {
    K4,
    K16,
    K64,
}

const TABLES_4K: &[TableLevel] = &[
    TableLevel {
        name: "PTE",
        covers_shift: 21,
        table_bytes: 4 * KIB,
        freed_when_empty: true,
    },
    TableLevel {
        name: "PMD",
        covers_shift: 30,
        table_bytes: 4 * KIB,
        freed_when_empty: true,
    },
    TableLevel {
        name: "PUD",
        covers_shift: 39,
        table_bytes: 4 * KIB,
        freed_when_empty: true,
    },
];

const TABLES_16K: &[TableLevel] = &[
    TableLevel {
        name: "PTE",
        covers_shift: 25,
        table_bytes: 16 * KIB,
        freed_when_empty: true,
    },
    TableLevel {
        name: "PMD",
        covers_shift: 36,
        table_bytes: 16 * KIB,
        freed_when_empty: true,
    },
    TableLevel {
        name: "PUD",
        covers_shift: 47,
        table_bytes: 16 * KIB,
        freed_when_empty: true,
    },
];

// 64K pages with 48-bit VA: three levels, the PGD on top.
const TABLES_64K: &[TableLevel] = &[
    TableLevel {
        name: "PTE",
        covers_shift: 29,
        table_bytes: 64 * KIB,
        freed_when_empty: true,
    },
    TableLevel {
        name: "PMD",
        covers_shift: 42,
        table_bytes: 64 * KIB,
        freed_when_empty: true,
    },
];

const fn params(g: Granule) -> ArchParams {
    let (page_shift, section_size_bits, max_page_order, tables) = match g {
        // SECTION_SIZE_BITS 27 for 4K and 16K, 29 for 64K (asm/sparsemem.h);
        // ARCH_FORCE_MAX_ORDER 10 / 11 / 13 (arch/arm64/Kconfig).
        Granule::K4 => (12, 27, 10, TABLES_4K),
        Granule::K16 => (14, 27, 11, TABLES_16K),
        Granule::K64 => (16, 29, 13, TABLES_64K),
    };
    // A PMD maps one page of PTEs: (PAGE_SIZE / 8) pages.
    let pmd_shift = page_shift + (page_shift - 3);
    let pud_shift = pmd_shift + (page_shift - 3);
    ArchParams {
        page_shift,
        pmd_shift,
        pud_shift,
        section_size_bits,
        // MAX_PHYSMEM_BITS = PHYS_MASK_SHIFT = CONFIG_ARM64_PA_BITS (48 by default).
        max_physmem_bits: 48,
        struct_page_size: 64,
        max_page_order,
        // HPAGE_SHIFT = PMD_SHIFT.
        hugetlb_page_order: pmd_shift - page_shift,
        mem_section_size: 32,
        vmemmap_tables: tables,
    }
}

const P4K: ArchParams = params(Granule::K4);
const P16K: ArchParams = params(Granule::K16);
const P64K: ArchParams = params(Granule::K64);

/// An arm64 configuration.
#[derive(Debug)]
pub struct Arm64 {
    granule: Granule,
    params: ArchParams,
}

/// arm64 with 4 KiB pages (Debian's arm64 kernel).
pub static ARM64_4K: Arm64 = Arm64 {
    granule: Granule::K4,
    params: P4K,
};

/// arm64 with 16 KiB pages.
pub static ARM64_16K: Arm64 = Arm64 {
    granule: Granule::K16,
    params: P16K,
};

/// arm64 with 64 KiB pages.
pub static ARM64_64K: Arm64 = Arm64 {
    granule: Granule::K64,
    params: P64K,
};

/// QEMU virt places RAM at 1 GiB.
const VIRT_RAM_BASE: u64 = GIB;

impl Arch for Arm64 {
    fn kconfig_symbol(&self) -> &'static str {
        "ARM64"
    }

    /// Debian's arm64 config: CMA with DMA_CMA and CMA_SIZE_MBYTES=64 (6.1 and 6.12), which
    /// a real 6.12 guest shows as `CmaTotal: 65536 kB` (fixture oracle-arm64-boot).
    fn cma(&self, _kernel: &Kernel) -> Option<crate::Cma> {
        Some(crate::Cma {
            dma: Some(64 * MIB),
        })
    }

    fn params(&self, _kernel: &Kernel) -> ArchParams {
        self.params
    }

    /// Debian's 6.1 arm64 config leaves CONFIG_ZONE_DEVICE unset (the real guest's
    /// /proc/zoneinfo ends at Movable: mm/tests/fixtures/oracle-arm64-6.1-virtio-mem.txt);
    /// its 6.12 config sets it. Versions between are not modelled.
    fn zone_types(&self, kernel: &Kernel) -> &'static [ZoneType] {
        if kernel.at_least(6, 12) {
            &[
                ZoneType::Dma,
                ZoneType::Dma32,
                ZoneType::Normal,
                ZoneType::Movable,
                ZoneType::Device,
            ]
        } else {
            &[
                ZoneType::Dma,
                ZoneType::Dma32,
                ZoneType::Normal,
                ZoneType::Movable,
            ]
        }
    }

    /// zone_sizes_init() in arch/arm64/mm/init.c, with no DT dma-ranges or IORT limit (QEMU
    /// virt): when RAM starts below 4 GiB, ZONE_DMA is capped at 4 GiB and so is ZONE_DMA32,
    /// which is then empty; when RAM starts above 4 GiB, ZONE_DMA covers all of it.
    fn zone_limits(&self, dram_start: u64, dram_end: u64) -> ZoneLimits {
        let below_4g = dram_end.min(4 * GIB);
        let dma = if dram_start < 4 * GIB {
            below_4g
        } else {
            dram_end
        };
        ZoneLimits {
            dma: Some(dma),
            dma32: Some(below_4g),
        }
    }

    /// vmemmap_populate() in arch/arm64/mm/mmu.c: PMD leaves only with 4K pages and a full
    /// section; base pages (from the altmap when given) for 16K/64K pages and for partial
    /// (sub-section) ranges. arm64's vmemmap_check_pmd() treats any present PMD as populated.
    fn vmemmap_populate(
        &self,
        on: &Target,
        t: &mut dyn VmemmapTables,
        start: u64,
        end: u64,
    ) -> Result<(), AllocFailed> {
        if self.granule != Granule::K4 || end - start < on.geometry.section_memmap_bytes {
            vmemmap_populate_basepages(t, start, end)
        } else {
            vmemmap_populate_hugepages(t, on.geometry.pmd_size, start, end, true)
        }
    }

    fn vmemmap_mapping(&self, on: &Target) -> String {
        let g = &on.geometry;
        match self.granule {
            Granule::K4 => {
                "PMD leaves (2M) for full sections; base pages for sub-section ranges".to_string()
            }
            // A PMD's worth of vmemmap holds the struct pages of pmd_size / memmap per
            // section sections (16K: 32M / 512K = 64).
            Granule::K16 | Granule::K64 => format!(
                "base pages (a PMD maps {} of vmemmap, {} sections' worth)",
                human(g.pmd_size),
                g.pmd_size / g.section_memmap_bytes
            ),
        }
    }

    fn vmemmap_uses_altmap(&self) -> &'static str {
        "yes, for PMD leaves and base pages"
    }

    /// hugetlbpage_init() in arch/arm64/mm/hugetlbpage.c: CONT_PTE, PMD and CONT_PMD sizes,
    /// and PUD only where pud_sect_supported() (asm/pgtable.h: 4K pages only).
    fn hugepage_sizes(&self) -> &'static [u64] {
        match self.granule {
            Granule::K4 => &[64 * KIB, 2 * MIB, 32 * MIB, GIB],
            Granule::K16 => &[2 * MIB, 32 * MIB, GIB],
            Granule::K64 => &[2 * MIB, 512 * MIB, 16 * GIB],
        }
    }

    fn default_hugepage_size(&self, on: &Target) -> u64 {
        on.geometry.pmd_size
    }

    /// QEMU virt: RAM from 1 GiB; hot-plugged memory from the next GiB after it.
    fn qemu_layout(&self, on: &Target, ram: u64) -> Result<RamLayout, ArchError> {
        if ram < 32 * MIB || !ram.is_multiple_of(on.geometry.page_size) {
            return Err(ArchError::Layout(format!(
                "virt needs at least 32M of RAM in whole {} pages, not {}",
                human(on.geometry.page_size),
                human(ram)
            )));
        }
        let end = VIRT_RAM_BASE + ram;
        Ok(RamLayout {
            ram: vec![(VIRT_RAM_BASE, end)],
            reserved: Vec::new(),
            hotplug_base: end.div_ceil(GIB) * GIB,
            machine: "QEMU virt",
        })
    }

    /// arch_get_mappable_range() in arch/arm64/mm/mmu.c: the linear map covers half of the
    /// 48-bit kernel VA space (128 TiB) from PHYS_OFFSET, which is the start of RAM aligned
    /// down to ARM64_MEMSTART_ALIGN (arch/arm64/mm/init.c: 1 GiB with 4K and 16K pages,
    /// 512 MiB with 64K pages).
    fn mappable_end(&self, on: &Target, dram_start: u64) -> u64 {
        let align = if self.granule == Granule::K64 {
            512 * MIB
        } else {
            GIB
        };
        let memstart = dram_start - dram_start % align;
        (memstart + (1u64 << 47) - 1).min(on.geometry.physmem_end)
    }

    /// VmallocTotal for the 48-bit kernel VA this configuration has.
    fn vmalloc_size(&self, on: &Target, _ident_map_size: u64) -> u64 {
        vmalloc_size(on.geometry.page_shift, 48, 48)
    }

    /// arm64 selects ARCH_SUPPORTS_MEMORY_FAILURE (arch/arm64/Kconfig).
    fn memory_failure(&self) -> bool {
        true
    }

    /// VIRTIO_MEM depends on X86_64 || ARM64 || RISCV (drivers/virtio/Kconfig).
    fn virtio_mem(&self, _kernel: &Kernel) -> bool {
        true
    }

    fn missing_driver(&self, driver: crate::PlatformDriver) -> String {
        match driver {
            crate::PlatformDriver::Acpi => "Debian's arm64 kernels do not build \
                CONFIG_ACPI_HOTPLUG_MEMORY: a pc-dimm plugged into an arm64 guest is never seen \
                (no new memory blocks); grow it with virtio-mem (m.plug(size) does), or call \
                add_memory() as a driver would"
                .to_string(),
            d => format!(
                "{} is not a memory hot-plug driver Debian's kernel has on arm64",
                d.title()
            ),
        }
    }

    fn hotplug_driver(&self, _kernel: &Kernel) -> HotplugDriver {
        // Debian's arm64 config has ACPI but not ACPI_HOTPLUG_MEMORY: guests grow with
        // virtio-mem.
        HotplugDriver {
            drivers: &[crate::PlatformDriver::VirtioMem],
            requests_memmap_on_memory: true,
            offline_inaccessible: false,
            lmb_drc_base: None,
        }
    }
}

/// VMALLOC_END - VMALLOC_START (asm/pgtable.h, asm/memory.h) for a kernel built with
/// `va_bits` (CONFIG_ARM64_VA_BITS) running with `vabits_actual` (52 only on a CPU with
/// LPA2/LVA). vmalloc runs from the end of the 2 GiB module area at _PAGE_END(VA_BITS_MIN)
/// to 8 MiB below the vmemmap, which ends 1 GiB below the top and is sized for the whole
/// VA_BITS linear map; on a 52-bit kernel the part of the vmemmap for the linear map a
/// 48-bit CPU cannot use goes to vmalloc.
pub fn vmalloc_size(page_shift: u32, va_bits: u32, vabits_actual: u32) -> u64 {
    let va_bits_min = match (va_bits > 48, page_shift) {
        (true, 14) => 47,
        (true, _) => 48,
        (false, _) => va_bits,
    };
    let struct_page = 64;
    let page_end = 1u64 << (va_bits_min - 1);
    let vmemmap_size = ((1u64 << va_bits) - page_end) >> page_shift << 6;
    let unused = if va_bits == va_bits_min {
        0
    } else {
        ((1u64 << va_bits) - (1u64 << vabits_actual)) >> page_shift
    };
    page_end - 2 * GIB - GIB - vmemmap_size - 8 * MIB + unused * struct_page
}

#[cfg(test)]
mod tests {
    use super::*;

    fn on(name: &str) -> Target {
        Target::parse(name, "").unwrap()
    }

    #[test]
    fn hugetlb_sizes_have_a_pud_size_with_4k_pages_only() {
        // pud_sect_supported() is PAGE_SIZE == SZ_4K: 16K pages have no 64 GiB size.
        assert_eq!(ARM64_4K.hugepage_sizes().last(), Some(&GIB));
        assert!(!ARM64_16K.hugepage_sizes().contains(&(64 * GIB)));
        assert_eq!(ARM64_16K.hugepage_sizes(), &[2 * MIB, 32 * MIB, GIB]);
        assert_eq!(ARM64_64K.hugepage_sizes(), &[2 * MIB, 512 * MIB, 16 * GIB]);
    }

    #[test]
    fn geometries() {
        // asm/sparsemem.h and the page-table geometry of each granule.
        let g = on("arm64").geometry;
        assert_eq!(
            (g.section_size, g.pmd_size, g.pud_size),
            (128 * MIB, 2 * MIB, GIB)
        );
        assert_eq!(g.pageblock_order, 9);
        let g = on("arm64-16k").geometry;
        assert_eq!(
            (g.section_size, g.pmd_size, g.pud_size),
            (128 * MIB, 32 * MIB, 64 * GIB)
        );
        assert_eq!(g.pages_per_section, 8192);
        assert_eq!(g.section_memmap_bytes, 512 * KIB); // 32 pages of 16 KiB
        assert_eq!(g.pageblock_order, 11);
        let g = on("arm64-64k").geometry;
        assert_eq!(
            (g.section_size, g.pmd_size, g.pud_size),
            (512 * MIB, 512 * MIB, 4 << 40)
        );
        assert_eq!(g.pages_per_section, 8192);
        // 8192 x 64 B = 512 KiB of memmap = 8 pages of 64 KiB, base-page mapped.
        assert_eq!(g.section_memmap_bytes, 512 * KIB);
        assert_eq!(g.section_memmap_bytes / g.page_size, 8);
        assert_eq!(g.pageblock_order, 13);
        assert_eq!(g.pageblock_nr_pages, 8192); // one whole section
        assert_eq!(g.max_physmem_bits, 48);
    }

    #[test]
    fn memmap_on_memory_needs_4k_pages() {
        // Generic rule: 128 MiB blocks with 4K pages have 2 MiB of vmemmap = one PMD; with 16K
        // pages 512 KiB against a 32 MiB PMD, with 64K pages 512 KiB against 512 MiB.
        assert!(ARM64_4K
            .arch_supports_memmap_on_memory(&on("arm64"), 2 * MIB)
            .is_ok());
        let e = ARM64_16K
            .arch_supports_memmap_on_memory(&on("arm64-16k"), 512 * KIB)
            .unwrap_err();
        assert!(e.contains("512K") && e.contains("32M"), "{e}");
        let e = ARM64_64K
            .arch_supports_memmap_on_memory(&on("arm64-64k"), 512 * KIB)
            .unwrap_err();
        assert!(e.contains("512K") && e.contains("512M"), "{e}");
    }

    #[test]
    fn zones_on_virt() {
        let z = ARM64_4K.zone_limits(GIB, 3 * GIB);
        assert_eq!(
            z,
            ZoneLimits {
                dma: Some(3 * GIB),
                dma32: Some(3 * GIB)
            }
        );
        let z = ARM64_4K.zone_limits(GIB, 9 * GIB);
        assert_eq!(
            z,
            ZoneLimits {
                dma: Some(4 * GIB),
                dma32: Some(4 * GIB)
            }
        );
        let z = ARM64_4K.zone_limits(8 * GIB, 16 * GIB);
        assert_eq!(z.dma, Some(16 * GIB));
    }

    #[test]
    fn virt_layout() {
        // The arm64 guest: 2 GiB at 1 GiB, virtio-mem memory at c0000000.
        let l = ARM64_4K.qemu_layout(&on("arm64"), 2 * GIB).unwrap();
        assert_eq!(l.ram, vec![(GIB, 3 * GIB)]);
        assert_eq!(l.hotplug_base, 3 * GIB);
    }
}
