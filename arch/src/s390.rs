//! s390x (64-bit, EDAT1): arch/s390/mm/vmem.c, arch/s390/mm/init.c,
//! arch/s390/include/asm/sparsemem.h, drivers/s390/char/sclp_cmd.c, QEMU's s390-ccw-virtio.

use crate::kernel::Kernel;
use crate::vmemmap::{AllocFailed, PmdEntry, Src, VmemmapTables};
use crate::Target;
use crate::{direct_map, CpuFeatures, DirectMap};
use crate::{
    human, Arch, ArchError, ArchParams, BlockSize, BlockSizeContext, HotplugDriver, RamLayout,
    TableLevel, ZoneLimits, ZoneType, GIB, KIB, MIB,
};

// A page table has 256 entries (2 KiB, two per page) and maps one 1 MiB segment; segment and
// region-3 tables have 2048 entries (16 KiB); vmem.c's try_free_*_table() free empty ones.
const TABLES: &[TableLevel] = &[
    TableLevel {
        name: "PTE",
        covers_shift: 20,
        table_bytes: 2 * KIB,
        freed_when_empty: true,
    },
    TableLevel {
        name: "segment",
        covers_shift: 31,
        table_bytes: 16 * KIB,
        freed_when_empty: true,
    },
    TableLevel {
        name: "region-3",
        covers_shift: 42,
        table_bytes: 16 * KIB,
        freed_when_empty: true,
    },
];

const PARAMS: ArchParams = ArchParams {
    page_shift: 12,
    // A segment (PMD) maps 1 MiB, a region-3 entry (PUD) 2 GiB.
    pmd_shift: 20,
    pud_shift: 31,
    // asm/sparsemem.h up to 6.12: SECTION_SIZE_BITS 28 (256 MiB); see S390::params().
    section_size_bits: 28,
    // CONFIG_MAX_PHYSMEM_BITS, default 46.
    max_physmem_bits: 46,
    struct_page_size: 64,
    max_page_order: 10,
    // asm/page.h: HPAGE_SHIFT 20, HUGETLB_PAGE_ORDER 8.
    hugetlb_page_order: 8,
    mem_section_size: 32,
    vmemmap_tables: TABLES,
};

/// The s390x configuration.
#[derive(Debug)]
pub struct S390 {
    params: ArchParams,
}

/// s390x with EDAT1 (1 MiB frames for the vmemmap).
pub static S390: S390 = S390 { params: PARAMS };

/// The storage increment QEMU's s390-ccw-virtio machines report (sclp.rzm).
const QEMU_RZM: u64 = MIB;

impl Arch for S390 {
    fn kconfig_symbol(&self) -> &'static str {
        "S390"
    }

    /// Debian's s390x config builds CMA without a default area (`CmaTotal: 0 kB`, fixture
    /// oracle-s390-6.1-boot) and no NUMA (6.1's and 6.12's configs: CONFIG_NUMA unset).
    /// CMA is built in every Debian s390x config; 7.x's adds DMA_CMA with a 128 MiB
    /// default area (config-7.2.11+deb13-s390x: CMA_SIZE_MBYTES=128).
    fn cma(&self, kernel: &Kernel) -> Option<crate::Cma> {
        Some(crate::Cma {
            dma: kernel.at_least(7, 0).then_some(128 * MIB),
        })
    }

    fn numa(&self) -> bool {
        false
    }

    /// Debian's s390x configs leave CONFIG_MEMORY_HOTPLUG_DEFAULT_ONLINE unset in 6.12 too
    /// (config-6.12.107+deb13-s390x): standby memory stays offline until chmem -e. 7.x's
    /// pick MHP_DEFAULT_ONLINE_TYPE_ONLINE_AUTO as the other arches do
    /// (config-7.2.11+deb13-s390x).
    fn default_online(&self, kernel: &Kernel) -> bool {
        kernel.at_least(7, 0)
    }

    /// 6.13 made sections 128 MiB (SECTION_SIZE_BITS 27 in asm/sparsemem.h, commit
    /// "s390/sparsemem: Reduce section size to 128 MiB", for virtio-mem's granularity); 7.3's
    /// has 27.
    fn params(&self, kernel: &Kernel) -> ArchParams {
        ArchParams {
            section_size_bits: if kernel.at_least(6, 13) { 27 } else { 28 },
            ..self.params
        }
    }

    /// s390 has ZONE_DMA and no ZONE_DEVICE (it does not select ARCH_HAS_PTE_DEVMAP).
    /// Debian's 7.x s390x config builds ZONE_DEVICE (config-7.2.11+deb13-s390x: ZONE_DEVICE
    /// and DEVICE_PRIVATE, selected now that s390 has no pte_devmap to keep; 6.12's has
    /// none).
    fn zone_types(&self, kernel: &Kernel) -> &'static [ZoneType] {
        if kernel.at_least(7, 0) {
            &[
                ZoneType::Dma,
                ZoneType::Normal,
                ZoneType::Movable,
                ZoneType::Device,
            ]
        } else {
            &[ZoneType::Dma, ZoneType::Normal, ZoneType::Movable]
        }
    }

    /// paging_init() in arch/s390/mm/init.c: ZONE_DMA below MAX_DMA_ADDRESS (2 GiB, 31 bits).
    fn zone_limits(&self, _dram_start: u64, _dram_end: u64) -> ZoneLimits {
        ZoneLimits {
            dma: Some(2 * GIB),
            dma32: None,
        }
    }

    /// memory_block_size_bytes() in arch/s390/mm/init.c: max(MIN_MEMORY_BLOCK_SIZE, sclp.rzm).
    fn memory_block_size(&self, on: &Target, ctx: &BlockSizeContext) -> Result<BlockSize, String> {
        let rzm = ctx.firmware.unwrap_or(QEMU_RZM);
        if !rzm.is_power_of_two() {
            return Err(format!("Memory block size not suitable: {rzm:#x}"));
        }
        let min = on.geometry.min_memory_block_size;
        Ok(BlockSize {
            bytes: rzm.max(min),
            how: format!(
                "max(MIN_MEMORY_BLOCK_SIZE {}, storage increment sclp.rzm {})",
                human(min),
                human(rzm)
            ),
            dmesg: None,
        })
    }

    fn firmware_block_size(&self, _boot_ram: u64) -> Option<u64> {
        Some(QEMU_RZM)
    }

    /// modify_pmd_table() in arch/s390/mm/vmem.c with EDAT1: every empty segment gets a
    /// 1 MiB frame, even when only part of it is needed ("we always use large frames even if
    /// they are only partially used"), from the altmap when one is given; if that allocation
    /// fails the segment gets a page table and base pages from the same source.
    fn vmemmap_populate(
        &self,
        on: &Target,
        t: &mut dyn VmemmapTables,
        start: u64,
        end: u64,
    ) -> Result<(), AllocFailed> {
        let pmd = on.geometry.pmd_size;
        let src = if t.has_altmap() {
            Src::Altmap
        } else {
            Src::Ram
        };
        let mut addr = start;
        while addr < end {
            let (entry, run_end) = t.pmd_run(addr, end);
            match entry {
                PmdEntry::None => {
                    let first = addr - addr % pmd;
                    match t.map_pmd_leaves(first, run_end, src) {
                        Ok(()) => addr = run_end,
                        Err(stopped) => {
                            let lo = addr.max(stopped.at);
                            let hi = end.min(stopped.at + pmd);
                            t.populate_basepages(lo, hi, src)?;
                            addr = stopped.at + pmd;
                        }
                    }
                }
                PmdEntry::Leaf => addr = run_end,
                PmdEntry::Table => {
                    t.populate_basepages(addr, end.min(run_end), src)?;
                    addr = run_end;
                }
            }
        }
        Ok(())
    }

    fn vmemmap_mapping(&self, _on: &Target) -> String {
        "1M segment frames (PMD leaves), even for partial ranges".to_string()
    }

    fn vmemmap_uses_altmap(&self) -> &'static str {
        "yes (since 6.8), with base pages from it when a frame does not fit"
    }

    fn hugepage_sizes(&self) -> &'static [u64] {
        &[MIB, 2 * GIB]
    }

    /// arch/s390/mm/hugetlbpage.c registers nothing itself (arch_hugetlb_valid_size() only
    /// accepts 1M with EDAT1 and 2G with EDAT2): hugetlb_init()'s HUGETLB_PAGE_ORDER (1M) is
    /// the one size at boot, 2G only with `hugepagesz=2G`.
    fn boot_hugepage_sizes(&self, _cpu: &CpuFeatures) -> Vec<u64> {
        Vec::new()
    }

    fn default_hugepage_size(&self, _on: &Target) -> u64 {
        MIB
    }

    /// QEMU s390-ccw-virtio: RAM from 0; standby memory (what `add_memory` stands for here)
    /// follows it.
    fn qemu_layout(&self, on: &Target, ram: u64) -> Result<RamLayout, ArchError> {
        if ram < 32 * MIB || !ram.is_multiple_of(MIB) {
            return Err(ArchError::Layout(format!(
                "s390-ccw-virtio needs at least 32M of RAM in whole MiB, not {}",
                human(ram)
            )));
        }
        let sec = on.geometry.section_size;
        Ok(RamLayout {
            ram: vec![(0, ram)],
            reserved: Vec::new(),
            hotplug_base: ram.div_ceil(sec) * sec,
            machine: "QEMU s390-ccw-virtio",
        })
    }

    /// setup_vmalloc_size() in arch/s390/boot/startup.c: an eighth of the identity map,
    /// rounded up to a segment, and at least VMALLOC_DEFAULT_SIZE (512 GiB less the 2 GiB
    /// MODULES_LEN, asm/pgtable.h).
    fn vmalloc_size(&self, _on: &Target, ident_map_size: u64) -> u64 {
        (ident_map_size / 8)
            .next_multiple_of(MIB)
            .max(512 * GIB - 2 * GIB)
    }

    /// arch_report_meminfo() in arch/s390/mm/pageattr.c: DirectMap4k/1M/2G. With EDAT1 the
    /// identity map uses 1 MiB segments where aligned (arch/s390/boot/vmem.c at boot,
    /// arch/s390/mm/vmem.c on hot-add) and no 2 GiB regions, which need EDAT2; the lowcore's
    /// 8 KiB at 0 is mapped apart and not counted (boot/vmem.c setup_vmem()).
    fn report_meminfo(
        &self,
        ram: &[(u64, u64)],
        _block_size: u64,
        _cpu: &CpuFeatures,
    ) -> Vec<DirectMap> {
        const LOWCORE: u64 = 8 * KIB;
        let ident: Vec<(u64, u64)> = ram
            .iter()
            .map(|&(s, e)| (if s == 0 { LOWCORE.min(e) } else { s }, e))
            .collect();
        let b = direct_map::split(&ident, &[4 * KIB, MIB]);
        vec![
            DirectMap {
                name: "DirectMap4k",
                bytes: b[0],
            },
            DirectMap {
                name: "DirectMap1M",
                bytes: b[1],
            },
            DirectMap {
                name: "DirectMap2G",
                bytes: 0,
            },
        ]
    }

    /// s390 selects ARCH_MHP_MEMMAP_ON_MEMORY_ENABLE in 6.12's arch/s390/Kconfig and not in
    /// 6.1's (checked in both sources); 6.8 as the first release is from the mainline history.
    fn memmap_on_memory_enable(&self, kernel: &Kernel) -> bool {
        kernel.at_least(6, 8)
    }

    /// add_memory_merged() in drivers/s390/char/sclp_cmd.c: one add_memory() per memory
    /// block in 6.1 and 6.12; 6.12 asks for MHP_MEMMAP_ON_MEMORY | MHP_OFFLINE_INACCESSIBLE
    /// (from 6.8, with memmap_on_memory, per the mainline history), 6.1 for MHP_NONE.
    fn hotplug_driver(&self, kernel: &Kernel) -> HotplugDriver {
        let since_6_8 = kernel.at_least(6, 8);
        HotplugDriver {
            drivers: &[crate::PlatformDriver::Sclp],
            // add_memory_merged(): MHP_MEMMAP_ON_MEMORY | MHP_OFFLINE_INACCESSIBLE with EDAT1;
            // 7.x's sclp_mem.c asks for MHP_MEMMAP_ON_MEMORY per block (its memmap_on_memory
            // file) and the flag is gone.
            requests_memmap_on_memory: since_6_8,
            offline_inaccessible: since_6_8 && !kernel.sclp_standby_sysfs,
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

    #[test]
    fn geometry() {
        // 256 MiB sections: 65536 pages, memmap 4 MiB = 1024 pages = four 1 MiB segments;
        // 128 sub-sections; pageblock order 8 (1 MiB).
        let g = on("s390").geometry;
        assert_eq!(g.section_size, 256 * MIB);
        assert_eq!(g.pages_per_section, 65536);
        assert_eq!(g.section_memmap_bytes, 4 * MIB);
        assert_eq!(g.section_memmap_bytes / g.page_size, 1024);
        assert_eq!(g.section_memmap_bytes / g.pmd_size, 4);
        assert_eq!(g.subsections_per_section, 128);
        assert_eq!(g.pageblock_nr_pages, 256);
    }

    #[test]
    fn block_size_and_memmap_on_memory() {
        let ctx = BlockSizeContext {
            boot_mem_end: 2 * GIB,
            hypervisor: true,
            firmware: None,
        };
        assert_eq!(
            S390.memory_block_size(&on("s390"), &ctx).unwrap().bytes,
            256 * MIB
        );
        let lpar = BlockSizeContext {
            firmware: Some(GIB),
            ..ctx
        };
        assert_eq!(
            S390.memory_block_size(&on("s390"), &lpar).unwrap().bytes,
            GIB
        );
        // 4 MiB of vmemmap per 256 MiB block is a multiple of the 1 MiB segment.
        assert!(S390
            .arch_supports_memmap_on_memory(&on("s390"), 4 * MIB)
            .is_ok());
        assert!(
            S390.hotplug_driver(&crate::kernel::V6_12)
                .offline_inaccessible
        );
    }
}
