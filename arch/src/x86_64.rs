//! x86_64 with 4-level (`x86_64`) or 5-level (`x86_64-la57`) paging: arch/x86/mm/init_64.c,
//! arch/x86/include/asm/sparsemem.h, arch/x86/mm/init.c (zones), QEMU's q35 machine.

use crate::kernel::Kernel;
use crate::vmemmap::{vmemmap_populate_hugepages, AllocFailed, Src, VmemmapTables};
use crate::Target;
use crate::{direct_map, CpuFeatures, DirectMap};
use crate::{
    human, Arch, ArchError, ArchParams, BlockSize, BlockSizeContext, HotplugDriver, RamLayout,
    TableLevel, ZoneLimits, ZoneType, GIB, KIB, MIB,
};

const TABLES_4LEVEL: &[TableLevel] = &[
    TableLevel {
        name: "PTE",
        covers_shift: 21,
        table_bytes: 4096,
        freed_when_empty: true,
    },
    TableLevel {
        name: "PMD",
        covers_shift: 30,
        table_bytes: 4096,
        freed_when_empty: true,
    },
    // remove_p4d_table() frees PUD tables only with 5-level paging.
    TableLevel {
        name: "PUD",
        covers_shift: 39,
        table_bytes: 4096,
        freed_when_empty: false,
    },
];

const TABLES_5LEVEL: &[TableLevel] = &[
    TableLevel {
        name: "PTE",
        covers_shift: 21,
        table_bytes: 4096,
        freed_when_empty: true,
    },
    TableLevel {
        name: "PMD",
        covers_shift: 30,
        table_bytes: 4096,
        freed_when_empty: true,
    },
    TableLevel {
        name: "PUD",
        covers_shift: 39,
        table_bytes: 4096,
        freed_when_empty: true,
    },
    TableLevel {
        name: "P4D",
        covers_shift: 48,
        table_bytes: 4096,
        freed_when_empty: false,
    },
];

const fn params(max_physmem_bits: u32, tables: &'static [TableLevel]) -> ArchParams {
    ArchParams {
        page_shift: 12,
        pmd_shift: 21,
        pud_shift: 30,
        // asm/sparsemem.h: "128 is convenient right now".
        section_size_bits: 27,
        // asm/sparsemem.h: MAX_PHYSMEM_BITS (pgtable_l5_enabled() ? 52 : 46).
        max_physmem_bits,
        struct_page_size: 64,
        max_page_order: 10,
        hugetlb_page_order: 9,
        mem_section_size: 32,
        vmemmap_tables: tables,
    }
}

const PARAMS_4LEVEL: ArchParams = params(46, TABLES_4LEVEL);
const PARAMS_5LEVEL: ArchParams = params(52, TABLES_5LEVEL);

/// An x86_64 configuration.
#[derive(Debug)]
pub struct X86 {
    /// VMALLOC_SIZE_TB (asm/pgtable_64_types.h): 32 with 4-level paging, 12800 with 5-level.
    vmalloc_size_tb: u64,
    params: ArchParams,
}

/// x86_64 with 4-level paging.
pub static X86_64: X86 = X86 {
    vmalloc_size_tb: 32,
    params: PARAMS_4LEVEL,
};

/// x86_64 with 5-level paging (LA57).
pub static X86_64_LA57: X86 = X86 {
    vmalloc_size_tb: 12800,
    params: PARAMS_5LEVEL,
};

/// MEM_SIZE_FOR_LARGE_BLOCK in arch/x86/mm/init_64.c.
const MEM_SIZE_FOR_LARGE_BLOCK: u64 = 64 * GIB;
/// MAX_BLOCK_SIZE in arch/x86/mm/init_64.c.
const MAX_BLOCK_SIZE: u64 = 2 * GIB;

/// SeaBIOS keeps the last 132 KiB below the top of low memory for itself
/// ("7ffdf000-7fffffff : Reserved" on a 2 GiB q35 guest).
const SEABIOS_RESERVED: u64 = 0x21000;

impl Arch for X86 {
    fn kconfig_symbol(&self) -> &'static str {
        "X86_64"
    }

    /// Debian's amd64 configs build no CMA in 6.1 and 6.12; 7.x's set CONFIG_CMA with no
    /// default area (config-7.3.4+deb13-amd64): CmaTotal and CmaFree read 0 (a real 7.3.4
    /// guest, mm/tests/fixtures/oracle-x86_64-7.3-whole.txt).
    fn cma(&self, kernel: &Kernel) -> Option<crate::Cma> {
        kernel.at_least(7, 0).then_some(crate::Cma { dma: None })
    }

    /// Debian's amd64 config has THP with PUD support and no CMA.
    fn thp_pud_config(&self, _kernel: &Kernel) -> bool {
        true
    }

    fn vmstat_direct_map_splits(&self) -> bool {
        true
    }

    fn params(&self, _kernel: &Kernel) -> ArchParams {
        self.params
    }

    fn zone_types(&self, _kernel: &Kernel) -> &'static [ZoneType] {
        &[
            ZoneType::Dma,
            ZoneType::Dma32,
            ZoneType::Normal,
            ZoneType::Movable,
            ZoneType::Device,
        ]
    }

    /// arch/x86/mm/init.c zone_sizes_init(): ZONE_DMA below MAX_DMA_PFN (16 MiB),
    /// ZONE_DMA32 below MAX_DMA32_PFN (4 GiB).
    fn zone_limits(&self, _dram_start: u64, _dram_end: u64) -> ZoneLimits {
        ZoneLimits {
            dma: Some(16 * MIB),
            dma32: Some(4 * GIB),
        }
    }

    /// probe_memory_block_size() in arch/x86/mm/init_64.c.
    fn memory_block_size(&self, on: &Target, ctx: &BlockSizeContext) -> Result<BlockSize, String> {
        let min = on.geometry.min_memory_block_size;
        let (bytes, how) = if let Some(fw) = ctx.firmware {
            // set_memory_block_size_order() accepts a power of two from 128 MiB to 64 GiB.
            if !fw.is_power_of_two() || fw < min || fw > MEM_SIZE_FOR_LARGE_BLOCK {
                return Err(format!(
                    "set_memory_block_size_order: {} is not a power of two between {} and {}",
                    human(fw),
                    human(min),
                    human(MEM_SIZE_FOR_LARGE_BLOCK)
                ));
            }
            (
                fw,
                "set by the platform (set_memory_block_size_order)".to_string(),
            )
        } else if ctx.boot_mem_end < MEM_SIZE_FOR_LARGE_BLOCK {
            (
                min,
                format!("boot memory ends below {}", human(MEM_SIZE_FOR_LARGE_BLOCK)),
            )
        } else if !ctx.hypervisor {
            (
                MAX_BLOCK_SIZE,
                "bare metal with boot memory ending at 64G or above".to_string(),
            )
        } else {
            let mut bz = MAX_BLOCK_SIZE;
            while bz > min && !ctx.boot_mem_end.is_multiple_of(bz) {
                bz >>= 1;
            }
            (
                bz,
                format!(
                    "under a hypervisor: the largest power of two <= 2G dividing the end of \
                     boot memory ({:#x})",
                    ctx.boot_mem_end
                ),
            )
        };
        Ok(BlockSize {
            bytes,
            how,
            dmesg: Some(format!("x86/mm: Memory block size: {}MB", bytes >> 20)),
        })
    }

    /// vmemmap_populate() in arch/x86/mm/init_64.c: a range smaller than one section's
    /// memmap (a sub-section add) gets base pages and ignores the altmap; anything else gets
    /// PMD leaves (X86_FEATURE_PSE), from the altmap if one is given.
    fn vmemmap_populate(
        &self,
        on: &Target,
        t: &mut dyn VmemmapTables,
        start: u64,
        end: u64,
    ) -> Result<(), AllocFailed> {
        if end - start < on.geometry.section_memmap_bytes {
            t.populate_basepages(start, end, Src::Ram)
        } else {
            vmemmap_populate_hugepages(t, on.geometry.pmd_size, start, end, false)
        }
    }

    fn vmemmap_mapping(&self, _on: &Target) -> String {
        "PMD leaves (2M) per section; base pages for sub-section ranges".to_string()
    }

    fn vmemmap_uses_altmap(&self) -> &'static str {
        "yes for PMD leaves (no fallback); sub-section base pages never use it"
    }

    /// arch/x86/Kconfig selects ARCH_WANT_HUGETLB_VMEMMAP_PREINIT on X86_64 (in 7.3; the
    /// kernel table says which versions have the mechanism).
    fn hugetlb_vmemmap_preinit(&self, kernel: &Kernel) -> bool {
        kernel.hugetlb_vmemmap_preinit
    }

    fn hugetlb_vmemmap_optimize(&self) -> bool {
        true
    }

    fn dax_vmemmap_optimize(&self, _kernel: &Kernel) -> bool {
        true
    }

    /// arch/x86/Kconfig: HAVE_ARCH_TRANSPARENT_HUGEPAGE_PUD if X86_64.
    fn has_transparent_pud_hugepage(&self, _kernel: &Kernel) -> bool {
        true
    }

    fn hugepage_sizes(&self) -> &'static [u64] {
        &[2 * MIB, GIB]
    }

    /// probe_page_size_mask() in arch/x86/mm/init.c.
    fn boot_log(&self, cpu: &CpuFeatures) -> Vec<String> {
        if cpu.direct_gbpages {
            vec!["Using GB pages for direct mapping".to_string()]
        } else {
            Vec::new()
        }
    }

    /// gigantic_pages_init() and arch_hugetlb_valid_size() in arch/x86/mm/hugetlbpage.c:
    /// 1 GiB pages only with X86_FEATURE_GBPAGES (`nogbpages` does not take them away).
    fn cpu_hugepage_sizes(&self, cpu: &CpuFeatures) -> Vec<u64> {
        let mut v = vec![2 * MIB];
        if cpu.gbpages {
            v.push(GIB);
        }
        v
    }

    fn default_hugepage_size(&self, _on: &Target) -> u64 {
        2 * MIB
    }

    /// QEMU q35 with SeaBIOS: RAM up to 2 GiB (or all of it below 2.75 GiB) stays below the
    /// 32-bit PCI hole, the rest starts at 4 GiB; pc-dimm slots start at the next GiB
    /// boundary after high RAM (4 GiB when there is none).
    fn qemu_layout(&self, on: &Target, ram: u64) -> Result<RamLayout, ArchError> {
        if ram < 32 * MIB || !ram.is_multiple_of(on.geometry.page_size) {
            return Err(ArchError::Layout(format!(
                "q35 needs at least 32M of RAM in whole pages, not {}",
                human(ram)
            )));
        }
        let lowmem_limit = if ram >= 0xb000_0000 {
            0x8000_0000
        } else {
            0xb000_0000
        };
        let below_4g = ram.min(lowmem_limit);
        let above_4g = ram - below_4g;
        let mut ranges = vec![(0x1000, 0x9fc00), (0x10_0000, below_4g - SEABIOS_RESERVED)];
        let mut hotplug_base = 4 * GIB;
        if above_4g > 0 {
            ranges.push((4 * GIB, 4 * GIB + above_4g));
            hotplug_base = (4 * GIB + above_4g).div_ceil(GIB) * GIB;
        }
        let reserved = vec![
            (0, 0x1000),
            (0x9fc00, 0xa0000),
            (0xf0000, 0x10_0000),
            (below_4g - SEABIOS_RESERVED, below_4g),
        ];
        Ok(RamLayout {
            ram: ranges,
            reserved,
            hotplug_base,
            machine: "QEMU q35 (SeaBIOS)",
        })
    }

    /// reserve_real_mode() in arch/x86/realmode/init.c: "Unconditionally reserve the entire
    /// first 1M" (a 2 GiB q35 guest's ZONE_DMA has 3998 present and 3840 managed pages).
    fn boot_reserved_low(&self) -> u64 {
        MIB
    }

    /// parse_memopt() in arch/x86/kernel/e820.c removes RAM above the given address.
    fn mem_limit_is_address(&self) -> bool {
        true
    }

    fn has_e820_memmap(&self) -> bool {
        true
    }

    /// VMALLOC_END is VMALLOC_START + VMALLOC_SIZE_TB TiB - 1 (asm/pgtable_64_types.h).
    fn vmalloc_size(&self, _on: &Target, _ident_map_size: u64) -> u64 {
        (self.vmalloc_size_tb << 40) - 1
    }

    /// arch_report_meminfo() in arch/x86/mm/pat/set_memory.c: DirectMap4k and 2M, and 1G
    /// only when direct_gbpages is set. init_mem_mapping() (arch/x86/mm/init.c) maps the
    /// first 1 MiB (ISA_END_ADDRESS) whole with 4 KiB pages, holes included, then each RAM
    /// range with the largest pages its alignment allows: 1 GiB only with direct_gbpages
    /// (probe_page_size_mask()); hot-added memory is mapped the same way. Not modelled:
    /// the 2 MiB pages that set_memory_*() later splits around the kernel image (a real
    /// 2 GiB guest shows ten of them, tests/fixtures/oracle-x86_64-gbpages-dimm1g.txt).
    fn report_meminfo(
        &self,
        ram: &[(u64, u64)],
        _block_size: u64,
        cpu: &CpuFeatures,
    ) -> Vec<DirectMap> {
        const ISA_END: u64 = MIB;
        let isa = if ram.first().is_some_and(|&(s, _)| s < ISA_END) {
            ISA_END
        } else {
            0
        };
        let above: Vec<(u64, u64)> = ram
            .iter()
            .filter(|&&(_, e)| e > ISA_END)
            .map(|&(s, e)| (s.max(ISA_END), e))
            .collect();
        let sizes: &[u64] = if cpu.direct_gbpages {
            &[4 * KIB, 2 * MIB, GIB]
        } else {
            &[4 * KIB, 2 * MIB]
        };
        let b = direct_map::split(&above, sizes);
        let mut lines = vec![
            DirectMap {
                name: "DirectMap4k",
                bytes: isa + b[0],
            },
            DirectMap {
                name: "DirectMap2M",
                bytes: b[1],
            },
        ];
        if cpu.direct_gbpages {
            lines.push(DirectMap {
                name: "DirectMap1G",
                bytes: b[2],
            });
        }
        lines
    }

    /// X86_64 selects ARCH_SUPPORTS_MEMORY_FAILURE (arch/x86/Kconfig).
    fn memory_failure(&self) -> bool {
        true
    }

    /// ARCH_SUPPORTS_CRASH_HOTPLUG (arch/x86/Kconfig).
    fn crash_hotplug(&self) -> bool {
        true
    }

    /// INTEL_TDX_GUEST and AMD_MEM_ENCRYPT select UNACCEPTED_MEMORY (arch/x86/Kconfig), and
    /// Debian's kernel has both.
    fn unaccepted_memory(&self) -> bool {
        true
    }

    /// VIRTIO_MEM depends on X86_64 || ARM64 || RISCV (drivers/virtio/Kconfig).
    fn virtio_mem(&self, _kernel: &Kernel) -> bool {
        true
    }

    fn hotplug_driver(&self, _kernel: &Kernel) -> HotplugDriver {
        HotplugDriver {
            drivers: &[
                crate::PlatformDriver::Acpi,
                crate::PlatformDriver::VirtioMem,
            ],
            requests_memmap_on_memory: true,
            offline_inaccessible: false,
            lmb_drc_base: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn on(name: &str) -> Target {
        Target::parse(name, "").unwrap()
    }

    fn ctx(end: u64, hypervisor: bool) -> BlockSizeContext {
        BlockSizeContext {
            boot_mem_end: end,
            hypervisor,
            firmware: None,
        }
    }

    #[test]
    fn section_and_memmap_arithmetic() {
        // asm/sparsemem.h SECTION_SIZE_BITS 27; 128 MiB / 4 KiB = 32768 pages whose struct
        // pages take 32768 x 64 B = 2 MiB = 512 pages = exactly one PMD leaf.
        let g = on("x86_64").geometry;
        assert_eq!(g.section_size, 128 * MIB);
        assert_eq!(g.pages_per_section, 32768);
        assert_eq!(g.section_memmap_bytes, 2 * MIB);
        assert_eq!(g.section_memmap_bytes / g.page_size, 512);
        assert_eq!(g.section_memmap_bytes, g.pmd_size);
        assert_eq!(g.pud_size, GIB);
        assert_eq!(g.pageblock_order, 9);
        // MAX_PHYSMEM_BITS 46 / 52; SECTIONS_PER_ROOT = 4096 / sizeof(mem_section) (32 with
        // CONFIG_PAGE_EXTENSION as in Debian's config).
        assert_eq!(g.max_physmem_bits, 46);
        assert_eq!(g.nr_mem_sections, 1 << 19);
        assert_eq!(g.sections_per_root, 128);
        assert_eq!(on("x86_64-la57").geometry.max_physmem_bits, 52);
        assert_eq!(on("x86_64-la57").geometry.nr_mem_sections, 1 << 25);
    }

    #[test]
    fn probe_memory_block_size_rules() {
        // arch/x86/mm/init_64.c probe_memory_block_size().
        let x = &X86_64;
        let bs = |end, hv| {
            x.memory_block_size(&on("x86_64"), &ctx(end, hv))
                .unwrap()
                .bytes
        };
        assert_eq!(bs(48 * GIB, true), 128 * MIB);
        assert_eq!(bs(48 * GIB, false), 128 * MIB);
        assert_eq!(bs(64 * GIB - 4096, false), 128 * MIB);
        // Bare metal at or above 64 GiB: MAX_BLOCK_SIZE whatever the alignment.
        assert_eq!(bs(64 * GIB + 128 * MIB, false), 2 * GIB);
        // Under a hypervisor: the largest power of two <= 2 GiB dividing the end.
        assert_eq!(bs(68 * GIB, true), 2 * GIB);
        assert_eq!(bs(65 * GIB, true), GIB);
        assert_eq!(bs(64 * GIB + 128 * MIB, true), 128 * MIB);
        assert_eq!(bs(64 * GIB + 64 * MIB, true), 128 * MIB);
        let d = x
            .memory_block_size(&on("x86_64"), &ctx(2 * GIB, true))
            .unwrap();
        assert_eq!(d.dmesg.as_deref(), Some("x86/mm: Memory block size: 128MB"));
        // set_memory_block_size_order() limits.
        let fw = |v| BlockSizeContext {
            boot_mem_end: GIB,
            hypervisor: true,
            firmware: Some(v),
        };
        assert_eq!(
            x.memory_block_size(&on("x86_64"), &fw(GIB)).unwrap().bytes,
            GIB
        );
        assert!(x.memory_block_size(&on("x86_64"), &fw(64 * MIB)).is_err());
        assert!(x.memory_block_size(&on("x86_64"), &fw(3 * GIB)).is_err());
        assert!(x.memory_block_size(&on("x86_64"), &fw(128 * GIB)).is_err());
    }

    #[test]
    fn memmap_on_memory_generic_rule() {
        // mm/memory_hotplug.c: the vmemmap of a 128 MiB block (2 MiB) is one PMD.
        assert!(X86_64
            .arch_supports_memmap_on_memory(&on("x86_64"), 2 * MIB)
            .is_ok());
        assert!(X86_64
            .arch_supports_memmap_on_memory(&on("x86_64"), 32 * MIB)
            .is_ok());
        assert!(X86_64
            .arch_supports_memmap_on_memory(&on("x86_64"), MIB)
            .is_err());
    }

    #[test]
    fn q35_layouts_match_a_real_guest() {
        // ../shared/oracle: a 2 GiB q35 guest shows "00001000-0009fbff : System RAM",
        // "00100000-7ffdefff : System RAM" and hot-plugs DIMMs from 4 GiB; a 4 GiB guest adds
        // "100000000-17fffffff : System RAM".
        let l = X86_64.qemu_layout(&on("x86_64"), 2 * GIB).unwrap();
        assert_eq!(l.ram, vec![(0x1000, 0x9fc00), (0x10_0000, 0x7ffd_f000)]);
        assert_eq!(l.hotplug_base, 4 * GIB);
        let l = X86_64.qemu_layout(&on("x86_64"), 4 * GIB).unwrap();
        assert_eq!(
            l.ram,
            vec![
                (0x1000, 0x9fc00),
                (0x10_0000, 0x7ffd_f000),
                (0x1_0000_0000, 0x1_8000_0000)
            ]
        );
        assert_eq!(l.hotplug_base, 6 * GIB);
        let l = X86_64.qemu_layout(&on("x86_64"), 2560 * MIB).unwrap();
        assert_eq!(l.ram.last(), Some(&(0x10_0000, 0xa000_0000 - 0x21000)));
        assert!(X86_64.qemu_layout(&on("x86_64"), MIB).is_err());
    }
}
