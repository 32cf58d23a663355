//! powerpc64 book3s with 64K pages, radix (`powerpc`) or hash (`powerpc-hash`) MMU:
//! arch/powerpc/mm/init_64.c, arch/powerpc/mm/book3s64/radix_pgtable.c,
//! arch/powerpc/include/asm/pgtable.h, QEMU's pseries machine.

use crate::kernel::Kernel;
use crate::vmemmap::{AllocFailed, PmdEntry, Src, VmemmapTables};
use crate::Target;
use crate::{direct_map, CpuFeatures, DirectMap};
use crate::{
    human, Arch, ArchError, ArchParams, BlockSize, BlockSizeContext, Geometry, HotplugDriver,
    RamLayout, TableLevel, ZoneLimits, ZoneType, GIB, KIB, MIB,
};

/// Which MMU the kernel runs with (chosen at boot; `disable_radix` picks hash).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mmu {
    Radix,
    Hash,
}

// radix-64k.h: a PTE fragment of 256 B maps 2 MiB, a 4 KiB PMD table 1 GiB, a 4 KiB PUD
// table 512 GiB; remove_pagetable() frees all three when empty.
const TABLES_RADIX: &[TableLevel] = &[
    TableLevel {
        name: "PTE",
        covers_shift: 21,
        table_bytes: 256,
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
];

const fn params(mmu: Mmu) -> ArchParams {
    let (pmd_shift, pud_shift, hugetlb_page_order, tables): (u32, u32, u32, &'static [TableLevel]) =
        match mmu {
            // HPAGE_SHIFT is 2 MiB on radix and 16 MiB on hash (hugetlbpage_init_defaultsize).
            Mmu::Radix => (21, 30, 21 - 16, TABLES_RADIX),
            // hash-64k.h: H_PTE_INDEX_SIZE 8 (16 MiB per PMD), H_PMD_INDEX_SIZE 10 (16 GiB).
            // The vmemmap is bolted into the hash page table: no Linux page tables.
            Mmu::Hash => (24, 34, 24 - 16, &[]),
        };
    ArchParams {
        page_shift: 16,
        pmd_shift,
        pud_shift,
        // asm/sparsemem.h: SECTION_SIZE_BITS 24.
        section_size_bits: 24,
        // book3s/64/{radix,hash-64k}.h with SPARSEMEM_VMEMMAP and SPARSEMEM_EXTREME: 51.
        max_physmem_bits: 51,
        struct_page_size: 64,
        // ARCH_FORCE_MAX_ORDER defaults to 8 with PPC64 && PPC_64K_PAGES.
        max_page_order: 8,
        hugetlb_page_order,
        mem_section_size: 32,
        vmemmap_tables: tables,
    }
}

const PRADIX: ArchParams = params(Mmu::Radix);
const PHASH: ArchParams = params(Mmu::Hash);

/// A powerpc64 configuration.
#[derive(Debug)]
pub struct Powerpc {
    mmu: Mmu,
    params: ArchParams,
}

/// powerpc64 book3s, 64K pages, radix MMU (POWER9 and later).
pub static POWERPC_RADIX: Powerpc = Powerpc {
    mmu: Mmu::Radix,
    params: PRADIX,
};

/// powerpc64 book3s, 64K pages, hash MMU.
pub static POWERPC_HASH: Powerpc = Powerpc {
    mmu: Mmu::Hash,
    params: PHASH,
};

/// QEMU's SPAPR_MEMORY_BLOCK_SIZE: the LMB size pseries firmware reports as ibm,lmb-size.
const SPAPR_LMB_SIZE: u64 = 256 * MIB;

impl Powerpc {
    /// radix__vmemmap_populate() (book3s64/radix_pgtable.c): a PMD leaf when the address is
    /// PMD aligned, the PMD is none and (with an altmap) the leaf describes only pfns of the
    /// altmap; base pages otherwise, each from the altmap when it lies inside it, falling back
    /// to ordinary memory.
    fn radix_populate(
        &self,
        g: &Geometry,
        t: &mut dyn VmemmapTables,
        start: u64,
        end: u64,
    ) -> Result<(), AllocFailed> {
        let altmap = t.has_altmap();
        let mut addr = start - start % g.page_size;
        while addr < end {
            let pmd_start = addr - addr % g.pmd_size;
            let pmd_end = pmd_start + g.pmd_size;
            let (entry, run_end) = t.pmd_run(addr, end);
            if entry == PmdEntry::Leaf {
                addr = run_end;
                continue;
            }
            if entry == PmdEntry::None
                && addr == pmd_start
                && !(altmap && t.altmap_cross_boundary(addr, g.pmd_size))
            {
                let src = if altmap { Src::Altmap } else { Src::Ram };
                if t.map_pmd_leaves(addr, pmd_end, src).is_ok() {
                    addr = pmd_end;
                    continue;
                }
            }
            let hi = end.min(pmd_end);
            let src = if altmap {
                Src::AltmapInBoundsElseRam
            } else {
                Src::Ram
            };
            t.populate_basepages(addr, hi, src)?;
            addr = hi;
        }
        Ok(())
    }

    /// __vmemmap_populate() (arch/powerpc/mm/init_64.c) for the hash MMU: the vmemmap is
    /// bolted in mmu_vmemmap_psize chunks (16 MiB when the machine has at least 1 GiB of RAM,
    /// base pages otherwise); a chunk any valid sub-section already uses is left alone.
    fn hash_populate(
        &self,
        g: &Geometry,
        t: &mut dyn VmemmapTables,
        start: u64,
        end: u64,
    ) -> Result<(), AllocFailed> {
        let chunk = hash_vmemmap_psize(g, t.boot_ram_bytes());
        let mut addr = start - start % chunk;
        while addr < end {
            if !t.memmap_in_use(addr, chunk) {
                let src = if t.has_altmap() && !t.altmap_cross_boundary(addr, chunk) {
                    Src::AltmapInBoundsElseRam
                } else {
                    Src::Ram
                };
                t.map_bolted(addr, chunk, src)?;
            }
            addr += chunk;
        }
        Ok(())
    }

    /// Which MMU this configuration uses.
    pub fn mmu(&self) -> Mmu {
        self.mmu
    }
}

/// mmu_vmemmap_psize (book3s64/hash_utils.c): 16M pages once RAM reaches 1 GiB.
pub fn hash_vmemmap_psize(g: &Geometry, boot_ram: u64) -> u64 {
    if boot_ram >= GIB {
        16 * MIB
    } else {
        g.page_size
    }
}

impl Arch for Powerpc {
    fn kconfig_symbol(&self) -> &'static str {
        "PPC64"
    }

    /// Debian's ppc64el config builds CMA without DMA_CMA, so no default area: `CmaTotal: 0
    /// kB` (fixture oracle-powerpc-64k-dimm1g).
    fn cma(&self, _kernel: &Kernel) -> Option<crate::Cma> {
        Some(crate::Cma { dma: None })
    }

    /// PPC_THP selects HAVE_ARCH_TRANSPARENT_HUGEPAGE_PUD from 6.5 (Debian's 6.12 config has
    /// it, 6.1's not), under hash too.
    fn thp_pud_config(&self, kernel: &Kernel) -> bool {
        kernel.at_least(6, 5)
    }

    fn params(&self, _kernel: &Kernel) -> ArchParams {
        self.params
    }

    /// book3s64 has no ZONE_DMA (only PPC_BOOK3E_64 selects it).
    fn zone_types(&self, _kernel: &Kernel) -> &'static [ZoneType] {
        &[ZoneType::Normal, ZoneType::Movable, ZoneType::Device]
    }

    fn zone_limits(&self, _dram_start: u64, _dram_end: u64) -> ZoneLimits {
        ZoneLimits::default()
    }

    /// pseries_memory_block_size(): the LMB size from the device tree
    /// (ibm,dynamic-reconfiguration-memory/ibm,lmb-size), which memory_dev_init() requires
    /// to be a power of two of at least one section.
    fn memory_block_size(&self, on: &Target, ctx: &BlockSizeContext) -> Result<BlockSize, String> {
        let min = on.geometry.min_memory_block_size;
        let lmb = ctx.firmware.unwrap_or(SPAPR_LMB_SIZE);
        if !lmb.is_power_of_two() || lmb < min {
            return Err(format!("Memory block size not suitable: {lmb:#x}"));
        }
        Ok(BlockSize {
            bytes: lmb,
            how: format!(
                "the LMB size firmware reports (ibm,lmb-size = {})",
                human(lmb)
            ),
            dmesg: None,
        })
    }

    fn firmware_block_size(&self, _boot_ram: u64) -> Option<u64> {
        Some(SPAPR_LMB_SIZE)
    }

    fn vmemmap_populate(
        &self,
        on: &Target,
        t: &mut dyn VmemmapTables,
        start: u64,
        end: u64,
    ) -> Result<(), AllocFailed> {
        match self.mmu {
            Mmu::Radix => self.radix_populate(&on.geometry, t, start, end),
            Mmu::Hash => self.hash_populate(&on.geometry, t, start, end),
        }
    }

    fn vmemmap_mapping(&self, _on: &Target) -> String {
        match self.mmu {
            Mmu::Radix => {
                "PMD leaves (2M) where the vmemmap address is PMD aligned, base pages \
                 otherwise; a 64K vmemmap page holds the struct pages of 4 sections"
            }
            Mmu::Hash => "bolted 16M pages in the hash table (64K pages below 1G of RAM)",
        }
        .to_string()
    }

    fn vmemmap_uses_altmap(&self) -> &'static str {
        match self.mmu {
            Mmu::Radix => "yes, inside the altmap's range only, falling back to RAM",
            Mmu::Hash => "yes, inside the altmap's range only, falling back to RAM",
        }
    }

    /// arch_supports_memmap_on_memory() in arch/powerpc/include/asm/pgtable.h: only with the
    /// radix MMU; with 64K pages there is no PMD alignment requirement.
    fn arch_supports_memmap_on_memory(
        &self,
        _on: &Target,
        _vmemmap_size: u64,
    ) -> Result<(), String> {
        match self.mmu {
            Mmu::Radix => Ok(()),
            Mmu::Hash => Err(
                "the hash MMU is in use: powerpc's arch_supports_memmap_on_memory() \
                              accepts only radix (arch/powerpc/include/asm/pgtable.h)"
                    .to_string(),
            ),
        }
    }

    /// 6.12's arch/powerpc/Kconfig selects ARCH_WANT_OPTIMIZE_DAX_VMEMMAP if PPC_RADIX_MMU,
    /// and vmemmap_can_optimize() is true only when radix is enabled. 6.1 has no such option:
    /// its vmemmap_can_optimize() (include/linux/mm.h) is gated on
    /// ARCH_WANT_HUGETLB_PAGE_OPTIMIZE_VMEMMAP, which only x86_64 selects (radix's vmemmap
    /// optimisation arrived in 6.5).
    fn dax_vmemmap_optimize(&self, kernel: &Kernel) -> bool {
        self.mmu == Mmu::Radix && kernel.at_least(6, 5)
    }

    /// In 6.12 PPC_THP selects HAVE_ARCH_TRANSPARENT_HUGEPAGE_PUD (platforms/Kconfig.cputype),
    /// and has_transparent_pud_hugepage() holds with radix's 1 GiB pages at the PUD level
    /// (book3s/64/radix.h); with hash it is 0, so pfn devices offer no 1 GiB alignment
    /// (drivers/nvdimm/pfn_devs.c). A 1 GiB compound page of 64 KiB pages has 16 vmemmap
    /// pages, of which device-dax deduplication keeps 2. 6.1's PPC_THP selects only
    /// HAVE_ARCH_TRANSPARENT_HUGEPAGE: dax_align_valid() (drivers/dax/dax-private.h) refuses
    /// PUD_SIZE.
    fn has_transparent_pud_hugepage(&self, kernel: &Kernel) -> bool {
        self.mmu == Mmu::Radix && kernel.at_least(6, 5)
    }

    /// memremap_compat_align() in arch/powerpc/mm/book3s64/pgtable.c: SUBSECTION_SIZE with
    /// radix; with hash, the page size of the linear mapping (16M where the MMU has 16M pages,
    /// as POWER and QEMU's pseries do) when that is larger.
    fn memremap_compat_align(&self) -> u64 {
        match self.mmu {
            Mmu::Radix => 2 * MIB,
            Mmu::Hash => 16 * MIB,
        }
    }

    /// hugetlbpage_init() (arch/powerpc/mm/hugetlbpage.c) walks mmu_psize_defs in order,
    /// smallest page size first (the 6.12 pseries guest registers 2 MiB before 1 GiB).
    fn boot_hugepage_sizes(&self, cpu: &CpuFeatures) -> Vec<u64> {
        self.cpu_hugepage_sizes(cpu)
    }

    fn hugepage_sizes(&self) -> &'static [u64] {
        match self.mmu {
            Mmu::Radix => &[2 * MIB, GIB],
            Mmu::Hash => &[16 * MIB, 16 * GIB],
        }
    }

    fn default_hugepage_size(&self, _on: &Target) -> u64 {
        match self.mmu {
            Mmu::Radix => 2 * MIB,
            Mmu::Hash => 16 * MIB,
        }
    }

    /// QEMU pseries: RAM from 0 in whole LMBs; hot-pluggable memory from the next GiB.
    fn qemu_layout(&self, _on: &Target, ram: u64) -> Result<RamLayout, ArchError> {
        if ram == 0 || !ram.is_multiple_of(SPAPR_LMB_SIZE) {
            return Err(ArchError::Layout(format!(
                "pseries RAM must be a non-zero multiple of 256M, not {}",
                human(ram)
            )));
        }
        Ok(RamLayout {
            ram: vec![(0, ram)],
            reserved: Vec::new(),
            hotplug_base: ram.div_ceil(GIB) * GIB,
            machine: "QEMU pseries",
        })
    }

    /// RADIX_VMALLOC_SIZE (book3s/64/radix.h) and H_VMALLOC_SIZE (book3s/64/hash.h with
    /// hash-64k.h's MAX_EA_BITS_PER_CONTEXT 49) are both 2^49 with 64K pages.
    fn vmalloc_size(&self, _on: &Target, _ident_map_size: u64) -> u64 {
        1 << 49
    }

    /// arch_report_meminfo() in arch/powerpc/mm/book3s64/pgtable.c: radix prints
    /// DirectMap4k/64k/2M/1G (the 64k name shifts its column by one), hash prints nothing.
    /// create_physical_mapping() (book3s64/radix_pgtable.c) maps boot and hot-added memory
    /// with the largest of 1 GiB, 2 MiB and the 64 KiB base page that the address's
    /// alignment and the rest of the range allow, and never more than memory_block_size at
    /// a time: with pseries' 256 MiB LMBs no 1 GiB page is used.
    fn report_meminfo(
        &self,
        ram: &[(u64, u64)],
        block_size: u64,
        _cpu: &CpuFeatures,
    ) -> Vec<DirectMap> {
        if self.mmu == Mmu::Hash {
            return Vec::new();
        }
        let sizes: Vec<u64> = [64 * KIB, 2 * MIB, GIB]
            .into_iter()
            .filter(|&s| s == 64 * KIB || s <= block_size)
            .collect();
        let b = direct_map::split(ram, &sizes);
        let at = |size: u64| sizes.iter().position(|&s| s == size).map_or(0, |i| b[i]);
        vec![
            DirectMap {
                name: "DirectMap4k",
                bytes: 0,
            },
            DirectMap {
                name: "DirectMap64k",
                bytes: at(64 * KIB),
            },
            DirectMap {
                name: "DirectMap2M",
                bytes: at(2 * MIB),
            },
            DirectMap {
                name: "DirectMap1G",
                bytes: at(GIB),
            },
        ]
    }

    /// PPC_BOOK3S_64 selects ARCH_SUPPORTS_MEMORY_FAILURE (arch/powerpc/Kconfig).
    fn memory_failure(&self) -> bool {
        true
    }

    /// ARCH_SUPPORTS_CRASH_HOTPLUG (arch/powerpc/Kconfig (PPC64)).
    fn crash_hotplug(&self) -> bool {
        true
    }

    /// powerpc selects ARCH_MHP_MEMMAP_ON_MEMORY_ENABLE with radix in 6.12's arch/powerpc/Kconfig
    /// and not in 6.1's (checked in both sources); 6.6 as the first release with it is from the
    /// mainline history, not checked here.
    fn memmap_on_memory_enable(&self, kernel: &Kernel) -> bool {
        kernel.at_least(6, 6)
    }

    fn hotplug_driver(&self, _kernel: &Kernel) -> HotplugDriver {
        HotplugDriver {
            drivers: &[crate::PlatformDriver::Dlpar],
            requests_memmap_on_memory: true,
            offline_inaccessible: false,
            lmb_drc_base: Some(0x8000_0000),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn on(name: &str) -> Target {
        Target::parse(name, "").unwrap()
    }

    #[test]
    fn direct_map_pages_are_capped_at_the_memory_block_size() {
        // create_physical_mapping(): 1 GiB pages only where memory_block_size allows them.
        let ram = [(0, 4 * GIB + 64 * KIB)];
        let kb = |b: u64| -> Vec<u64> {
            POWERPC_RADIX
                .report_meminfo(&ram, b, &CpuFeatures::default())
                .iter()
                .map(|l| l.bytes >> 10)
                .collect()
        };
        assert_eq!(kb(256 * MIB), vec![0, 64, 4 << 20, 0]);
        assert_eq!(kb(GIB), vec![0, 64, 0, 4 << 20]);
        assert!(POWERPC_HASH
            .report_meminfo(&ram, GIB, &CpuFeatures::default())
            .is_empty());
    }

    #[test]
    fn geometry() {
        // A 16 MiB section has 256 pages of 64 KiB whose memmap is 16 KiB, a quarter of one
        // 64 KiB page; 8 sub-sections per section.
        let g = on("powerpc").geometry;
        assert_eq!(g.section_size, 16 * MIB);
        assert_eq!(g.pages_per_section, 256);
        assert_eq!(g.section_memmap_bytes, 16 << 10);
        assert_eq!(g.page_size / g.section_memmap_bytes, 4);
        assert_eq!(g.subsections_per_section, 8);
        assert_eq!(g.max_physmem_bits, 51);
        // pageblock_order: min(HUGETLB_PAGE_ORDER, MAX_PAGE_ORDER 8): 5 on radix (2 MiB),
        // 8 on hash (16 MiB).
        assert_eq!(g.pageblock_nr_pages, 32);
        assert_eq!(on("powerpc-hash").geometry.pageblock_nr_pages, 256);
        assert_eq!(on("powerpc-hash").geometry.pmd_size, 16 * MIB);
    }

    #[test]
    fn memmap_on_memory_radix_only() {
        // A 256 MiB LMB has 4096 pages whose memmap is 256 KiB: fine for radix with 64K
        // pages (no PMD rule), refused with hash.
        assert!(POWERPC_RADIX
            .arch_supports_memmap_on_memory(&on("powerpc"), 256 << 10)
            .is_ok());
        let e = POWERPC_HASH
            .arch_supports_memmap_on_memory(&on("powerpc-hash"), 256 << 10)
            .unwrap_err();
        assert!(e.contains("radix"));
    }

    #[test]
    fn lmb_block_size() {
        let ctx = BlockSizeContext {
            boot_mem_end: 2 * GIB,
            hypervisor: true,
            firmware: None,
        };
        assert_eq!(
            POWERPC_RADIX
                .memory_block_size(&on("powerpc"), &ctx)
                .unwrap()
                .bytes,
            256 * MIB
        );
        let bad = BlockSizeContext {
            firmware: Some(8 * MIB),
            ..ctx
        };
        assert!(POWERPC_RADIX
            .memory_block_size(&on("powerpc"), &bad)
            .is_err());
    }

    #[test]
    fn hash_vmemmap_page_size() {
        assert_eq!(
            hash_vmemmap_psize(&on("powerpc-hash").geometry, 2 * GIB),
            16 * MIB
        );
        assert_eq!(
            hash_vmemmap_psize(&on("powerpc-hash").geometry, 512 * MIB),
            64 << 10
        );
    }
}
