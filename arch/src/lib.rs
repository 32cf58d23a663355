//! Architecture backends for hotplug-lab.
//!
//! The kernel's generic memory-hotplug code (mm/memory_hotplug.c, mm/sparse.c) asks the
//! architecture a handful of questions: how big is a section, how is the vmemmap mapped
//! (`vmemmap_populate`), may the memmap live on the hot-added memory
//! (`arch_supports_memmap_on_memory`), how big is a memory block
//! (`memory_block_size_bytes`). This crate answers them for each architecture the way Linux
//! 6.12 (and each other modelled version) does, one module per architecture behind the [`Arch`] trait. Backends are data
//! first: a table of constants ([`ArchParams`]) plus the few hooks their kernel overrides;
//! the trait's default methods are the kernel's generic fallbacks.
//!
//! ```
//! // Names are resolved once, into a target: a configuration on a kernel version.
//! let x86 = arch::Target::parse("x86_64", "6.12").unwrap();
//! let g = x86.geometry;
//! assert_eq!(g.pages_per_section, 32768);              // 128 MiB of 4 KiB pages
//! assert_eq!(g.section_memmap_bytes, 2 << 20);          // 32768 x 64 B = one 2 MiB PMD
//! assert!(x86.arch().arch_supports_memmap_on_memory(&x86, 2 << 20).is_ok());
//!
//! let arm64_64k = arch::Target::parse("arm64-64k", "").unwrap();
//! assert_eq!(arm64_64k.geometry.section_size, 512 << 20);
//! assert!(arm64_64k.arch().arch_supports_memmap_on_memory(&arm64_64k, 512 << 10).is_err());
//! ```

pub mod arm64;
pub mod direct_map;
pub mod kernel;
pub mod params;
pub mod powerpc;
pub mod registry;
pub mod s390;
pub mod size;
pub mod target;
pub mod vmemmap;
pub mod vmevents;
pub mod x86_64;

use std::fmt;

pub use direct_map::DirectMap;
pub use kernel::{default_kernel, nearest_kernel, Kernel, DIFFERENCES, KERNELS, NOT_MODELLED};
pub use params::{ArchParams, Geometry, TableLevel, SUBSECTION_SHIFT};
pub use registry::{did_you_mean, Config, Family, Mark, CONFIGS};
pub use size::{approx, human};
pub use target::Target;
pub use vmemmap::{AllocFailed, PmdEntry, Src, Stopped, VmemmapTables};

pub const KIB: u64 = 1 << 10;
pub const MIB: u64 = 1 << 20;
pub const GIB: u64 = 1 << 30;
pub const TIB: u64 = 1 << 40;

/// Errors of this crate.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ArchError {
    #[error("{}", unknown_arch(.0))]
    Unknown(String),
    #[error("{}", unknown_kernel(.0))]
    UnknownKernel(String),
    #[error("{0}")]
    Layout(String),
}

/// `unknown architecture "arm46" (did you mean arm64? known: ...)`.
fn unknown_arch(given: &str) -> String {
    let names: Vec<&str> = Config::names().collect();
    // A near name, or one the given text begins (`x86` for x86_64).
    let lower = given.trim().to_ascii_lowercase();
    let hint = did_you_mean(given, names.iter().copied())
        .or_else(|| {
            (lower.len() >= 3)
                .then(|| names.iter().copied().find(|n| n.starts_with(&lower)))
                .flatten()
        })
        .map(|n| format!("did you mean {n}? "))
        .unwrap_or_default();
    let aliases: Vec<String> = CONFIGS
        .iter()
        .flat_map(|c| c.aliases.iter().map(move |a| format!("{a} for {}", c.name)))
        .collect();
    format!(
        "unknown architecture {} ({hint}known: {}; also {} as uname -m prints them, and {})",
        quote(given),
        names.join(", "),
        Config::unames()
            .into_iter()
            .filter(|u| !names.contains(u))
            .collect::<Vec<_>>()
            .join(", "),
        aliases.join(", ")
    )
}

/// `"6.6" is not a modelled kernel version (modelled: 6.12, 6.1)`.
fn unknown_kernel(given: &str) -> String {
    let names: Vec<&str> = KERNELS.iter().map(|k| k.name).collect();
    // Among versions as near, the one of the same length: 6.13 is nearer 6.12 than 6.1.
    let same_len = names
        .iter()
        .copied()
        .filter(|n| n.len() == given.trim().len());
    let hint = did_you_mean(given, same_len)
        .or_else(|| did_you_mean(given, names.iter().copied()))
        .map(|n| format!("did you mean {n}? "))
        .unwrap_or_default();
    format!(
        "{} is not a modelled kernel version ({hint}modelled: {})",
        quote(given),
        names.join(", ")
    )
}

/// A name as an error quotes it: at most 64 characters of it.
fn quote(text: &str) -> String {
    match text.char_indices().nth(64) {
        None => format!("{text:?}"),
        Some((cut, _)) => format!("{:?}... ({} bytes)", &text[..cut], text.len()),
    }
}

/// The zones of include/linux/mmzone.h that an architecture can have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ZoneType {
    Dma,
    Dma32,
    Normal,
    Movable,
    Device,
}

impl ZoneType {
    /// The name /proc/zoneinfo and valid_zones print.
    pub const fn name(self) -> &'static str {
        match self {
            ZoneType::Dma => "DMA",
            ZoneType::Dma32 => "DMA32",
            ZoneType::Normal => "Normal",
            ZoneType::Movable => "Movable",
            ZoneType::Device => "Device",
        }
    }

    /// Zones below ZONE_MOVABLE hold kernel (unmovable) allocations.
    pub const fn is_kernel_zone(self) -> bool {
        matches!(self, ZoneType::Dma | ZoneType::Dma32 | ZoneType::Normal)
    }
}

impl fmt::Display for ZoneType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Upper bounds (exclusive physical addresses) of the low zones, as the arch's
/// zone_sizes_init()/paging_init() passes max_zone_pfns to free_area_init(). ZONE_NORMAL
/// covers everything above the highest bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ZoneLimits {
    pub dma: Option<u64>,
    pub dma32: Option<u64>,
}

/// CPU features (and the command-line switches that turn their use off) that arch hooks
/// depend on, as the boot CPU reports them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CpuFeatures {
    /// X86_FEATURE_GBPAGES: 1 GiB pages. Every x86_64 server CPU of the last fifteen years
    /// has it, and so do QEMU's `-cpu max` and `-cpu host`; QEMU's default `qemu64` CPU does
    /// not. Only x86_64 asks.
    pub gbpages: bool,
    /// direct_gbpages (arch/x86/mm/init.c): GBPAGES, and no `nogbpages` on the command line.
    /// The linear map then uses 1 GiB pages where it can.
    pub direct_gbpages: bool,
}

impl Default for CpuFeatures {
    fn default() -> Self {
        CpuFeatures {
            gbpages: true,
            direct_gbpages: true,
        }
    }
}

/// What memory_block_size_bytes() looks at when it probes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockSizeContext {
    /// The end of boot memory (`max_pfn << PAGE_SHIFT`).
    pub boot_mem_end: u64,
    /// Whether the CPU reports X86_FEATURE_HYPERVISOR (a virtual machine).
    pub hypervisor: bool,
    /// A block size the platform provides: the pseries `ibm,lmb-size`, the s390 storage
    /// increment (sclp.rzm), or an x86 platform's set_memory_block_size_order().
    pub firmware: Option<u64>,
}

/// The memory block size an architecture decided on, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockSize {
    pub bytes: u64,
    /// The rule that produced it, for users.
    pub how: String,
    /// The line the kernel prints about it, if it prints one.
    pub dmesg: Option<String>,
}

/// Boot RAM as the default QEMU machine of an architecture lays it out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RamLayout {
    /// `[start, end)` ranges of System RAM, ascending.
    pub ram: Vec<(u64, u64)>,
    /// `[start, end)` ranges the firmware reports as reserved (shown in /proc/iomem).
    pub reserved: Vec<(u64, u64)>,
    /// Where the machine places hot-pluggable memory (its device-memory region).
    pub hotplug_base: u64,
    /// The QEMU machine this mimics.
    pub machine: &'static str,
}

/// A platform's memory hot-plug driver: what a user or hypervisor does to make memory
/// come and go, and the kernel driver that turns it into add_memory() and remove_memory().
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PlatformDriver {
    /// drivers/acpi/acpi_memhotplug.c: a DIMM plugged (QEMU device_add pc-dimm) and ejected.
    Acpi,
    /// arch/powerpc/platforms/pseries/hotplug-memory.c: LMBs added and removed by DLPAR.
    Dlpar,
    /// drivers/virtio/virtio_mem.c: a virtio-mem device's requested size.
    VirtioMem,
    /// drivers/s390/char/sclp_cmd.c: s390 standby memory, onlined and offlined (chmem).
    Sclp,
}

impl PlatformDriver {
    pub const ALL: [PlatformDriver; 4] = [
        PlatformDriver::Acpi,
        PlatformDriver::Dlpar,
        PlatformDriver::VirtioMem,
        PlatformDriver::Sclp,
    ];

    /// The name scripts give (`m.plug(size, #{ driver: "acpi" })`).
    pub const fn name(self) -> &'static str {
        match self {
            PlatformDriver::Acpi => "acpi",
            PlatformDriver::Dlpar => "dlpar",
            PlatformDriver::VirtioMem => "virtio-mem",
            PlatformDriver::Sclp => "sclp",
        }
    }

    /// The kernel driver, by its file.
    pub const fn title(self) -> &'static str {
        match self {
            PlatformDriver::Acpi => "ACPI memory device (drivers/acpi/acpi_memhotplug.c)",
            PlatformDriver::Dlpar => {
                "pseries DLPAR (arch/powerpc/platforms/pseries/hotplug-memory.c)"
            }
            PlatformDriver::VirtioMem => "virtio-mem (drivers/virtio/virtio_mem.c)",
            PlatformDriver::Sclp => "SCLP standby memory (drivers/s390/char/sclp_cmd.c)",
        }
    }

    /// What a user does to make memory come and go through it.
    pub const fn user_action(self) -> &'static str {
        match self {
            PlatformDriver::Acpi => {
                "plug a DIMM (QEMU device_add pc-dimm, a cloud \"attach memory\"), eject it \
                 (device_del)"
            }
            PlatformDriver::Dlpar => {
                "DLPAR from the HMC or drmgr -c mem -a/-r (QEMU: device_add/device_del of a \
                 pc-dimm, added and removed by indexed count)"
            }
            PlatformDriver::VirtioMem => {
                "resize the device (QEMU qom-set requested-size, a cloud's memory slider)"
            }
            PlatformDriver::Sclp => {
                "chmem -e / chmem -d standby memory the LPAR or z/VM reported at boot"
            }
        }
    }

    pub fn parse(name: &str) -> Option<PlatformDriver> {
        PlatformDriver::ALL.into_iter().find(|d| d.name() == name)
    }
}

/// How memory arrives on this architecture: the platform's drivers (the first is what
/// `plug` uses by default) and the facts they depend on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HotplugDriver {
    /// The platform drivers Debian's kernel has here, the usual one first.
    pub drivers: &'static [PlatformDriver],
    /// Whether the platform driver asks for MHP_MEMMAP_ON_MEMORY (used only if
    /// mhp_supports_memmap_on_memory()).
    pub requests_memmap_on_memory: bool,
    /// MHP_OFFLINE_INACCESSIBLE: standby memory cannot be touched until it is onlined (s390
    /// from 6.8), so the memmap on it is initialised only in MEM_PREPARE_ONLINE.
    pub offline_inaccessible: bool,
    /// pseries DLPAR: every memory block is an LMB; its DRC index is this base plus the
    /// LMB's number (QEMU's SPAPR_DR_CONNECTOR_TYPE_LMB << 28, which the real
    /// guest's "drc index 80000008" for the LMB at 2 GiB shows).
    pub lmb_drc_base: Option<u32>,
}

impl HotplugDriver {
    /// The usual platform driver.
    pub fn default_driver(&self) -> Option<PlatformDriver> {
        self.drivers.first().copied()
    }

    /// Its title, for tables.
    pub fn name(&self) -> &'static str {
        self.default_driver()
            .map_or("none (add_memory() only)", PlatformDriver::title)
    }
}

/// CONFIG_CMA in an arch's build.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cma {
    /// With DMA_CMA: the default area's size in bytes (CONFIG_CMA_SIZE_MBYTES), which `cma=`
    /// replaces. None without DMA_CMA: no default area, and `cma=` is not a parameter.
    pub dma: Option<u64>,
}

/// One architecture configuration, as the generic kernel code sees it. Its name and
/// description are its row in the registry ([`Config`]); every hook that can differ
/// between kernel versions is given the version (or the [`Target`], which carries it and
/// the geometry derived for it).
pub trait Arch: fmt::Debug + Send + Sync {
    /// The build-time constants of this configuration on `kernel`.
    fn params(&self, kernel: &Kernel) -> ArchParams;

    /// The zones `kernel` has here, as Debian configures it, in /proc/zoneinfo order.
    fn zone_types(&self, kernel: &Kernel) -> &'static [ZoneType];

    /// The low-zone bounds for boot RAM spanning `[dram_start, dram_end)`.
    fn zone_limits(&self, dram_start: u64, dram_end: u64) -> ZoneLimits;

    /// memory_block_size_bytes(). The generic __weak version is MIN_MEMORY_BLOCK_SIZE, one
    /// section (drivers/base/memory.c).
    fn memory_block_size(&self, on: &Target, ctx: &BlockSizeContext) -> Result<BlockSize, String> {
        let _ = ctx;
        let bytes = on.geometry.min_memory_block_size;
        Ok(BlockSize {
            bytes,
            how: "MIN_MEMORY_BLOCK_SIZE: one section (generic memory_block_size_bytes)".to_string(),
            dmesg: None,
        })
    }

    /// The block size the default platform's firmware provides, if the arch takes one from
    /// firmware (see [`BlockSizeContext::firmware`]).
    fn firmware_block_size(&self, boot_ram: u64) -> Option<u64> {
        let _ = boot_ram;
        None
    }

    /// vmemmap_populate(): map the struct pages at vmemmap offsets `[start, end)`.
    fn vmemmap_populate(
        &self,
        on: &Target,
        t: &mut dyn VmemmapTables,
        start: u64,
        end: u64,
    ) -> Result<(), AllocFailed>;

    /// How this arch maps the vmemmap, in a sentence.
    fn vmemmap_mapping(&self, on: &Target) -> String;

    /// Whether an altmap may back the vmemmap (the arch's vmemmap_populate honours it).
    fn vmemmap_uses_altmap(&self) -> &'static str;

    /// ARCH_MHP_MEMMAP_ON_MEMORY_ENABLE: whether `kernel` has memmap_on_memory at all here.
    fn memmap_on_memory_enable(&self, kernel: &Kernel) -> bool {
        let _ = kernel;
        true
    }

    /// arch_supports_memmap_on_memory(). The generic rule (mm/memory_hotplug.c) wants the
    /// memory block's vmemmap to be a whole number of PMDs, so that it is mapped by PMD
    /// leaves taken from this block's altmap only.
    fn arch_supports_memmap_on_memory(&self, on: &Target, vmemmap_size: u64) -> Result<(), String> {
        let pmd = on.geometry.pmd_size;
        if vmemmap_size.is_multiple_of(pmd) {
            Ok(())
        } else {
            Err(format!(
                "the memory block's vmemmap ({}) is not a multiple of PMD_SIZE ({}) \
                 (generic arch_supports_memmap_on_memory, mm/memory_hotplug.c)",
                human(vmemmap_size),
                human(pmd)
            ))
        }
    }

    /// ARCH_WANT_OPTIMIZE_HUGETLB_VMEMMAP: HugeTLB vmemmap optimisation (HVO).
    fn hugetlb_vmemmap_optimize(&self) -> bool {
        false
    }

    /// ARCH_WANT_HUGETLB_VMEMMAP_PREINIT (SPARSEMEM_VMEMMAP_PREINIT, where `kernel` has
    /// it): boot-time gigantic pages get their vmemmap built optimised by sparse_init().
    fn hugetlb_vmemmap_preinit(&self, _kernel: &Kernel) -> bool {
        false
    }

    /// ARCH_WANT_OPTIMIZE_DAX_VMEMMAP (and the arch's vmemmap_can_optimize override) in
    /// `kernel`: device-dax compound pages share their tail vmemmap pages.
    fn dax_vmemmap_optimize(&self, kernel: &Kernel) -> bool {
        let _ = kernel;
        false
    }

    /// ZONE_DEVICE in `kernel`: CONFIG_ZONE_DEVICE needs ARCH_HAS_PTE_DEVMAP (mm/Kconfig),
    /// which x86_64, arm64 and powerpc book3s64 select and s390 does not.
    fn zone_device(&self, kernel: &Kernel) -> bool {
        self.zone_types(kernel).contains(&ZoneType::Device)
    }

    /// has_transparent_hugepage(): PMD-sized THP, so device-dax and pfn devices offer
    /// HPAGE_PMD_SIZE alignment (drivers/dax/dax-private.h dax_align_valid()).
    fn has_transparent_hugepage(&self) -> bool {
        true
    }

    /// has_transparent_pud_hugepage() (with CONFIG_HAVE_ARCH_TRANSPARENT_HUGEPAGE_PUD):
    /// PUD-sized (1 GiB) device-dax and pfn device alignment. x86_64 and powerpc book3s64
    /// select it in 6.12; the generic answer is no.
    fn has_transparent_pud_hugepage(&self, kernel: &Kernel) -> bool {
        let _ = kernel;
        false
    }

    /// memremap_compat_align(): the smallest alignment a ZONE_DEVICE range may have. The
    /// generic version (mm/memremap.c) is SUBSECTION_SIZE.
    fn memremap_compat_align(&self) -> u64 {
        1 << crate::params::SUBSECTION_SHIFT
    }

    /// The alignments a device-dax instance or pfn device accepts, smallest first:
    /// PAGE_SIZE, HPAGE_PMD_SIZE with THP, HPAGE_PUD_SIZE with PUD THP; none without
    /// ZONE_DEVICE.
    fn dax_alignments(&self, on: &Target) -> Vec<u64> {
        if !self.zone_device(on.kernel) {
            return Vec::new();
        }
        let g = &on.geometry;
        let mut v = vec![g.page_size];
        if self.has_transparent_hugepage() {
            v.push(g.pmd_size);
            if self.has_transparent_pud_hugepage(on.kernel) {
                v.push(g.pud_size);
            }
        }
        v
    }

    /// HugeTLB page sizes the arch's kernel can offer, smallest first.
    fn hugepage_sizes(&self) -> &'static [u64];

    /// Lines the arch's early setup logs on a CPU with `cpu`'s features.
    fn boot_log(&self, cpu: &CpuFeatures) -> Vec<String> {
        let _ = cpu;
        Vec::new()
    }

    /// The HugeTLB page sizes `hugepagesz=` accepts on a CPU with `cpu`'s features
    /// (arch_hugetlb_valid_size()), smallest first (the generic answer: all of them).
    fn cpu_hugepage_sizes(&self, cpu: &CpuFeatures) -> Vec<u64> {
        let _ = cpu;
        self.hugepage_sizes().to_vec()
    }

    /// The sizes the arch's own initcall registers at boot (hugetlb_add_hstate()), in its
    /// order; hugetlb_init() then adds HUGETLB_PAGE_ORDER if it is not among them, after
    /// what `hugepagesz=` registered first. The generic answer, largest first, is x86_64's
    /// (gigantic_pages_init(): 1G) and arm64's (hugetlbpage_init(): PUD, CONT_PMD, PMD,
    /// CONT_PTE).
    fn boot_hugepage_sizes(&self, cpu: &CpuFeatures) -> Vec<u64> {
        let mut v = self.cpu_hugepage_sizes(cpu);
        v.reverse();
        v
    }

    /// The default huge page size (HPAGE_SIZE).
    fn default_hugepage_size(&self, on: &Target) -> u64;

    /// Boot RAM of `ram` bytes laid out as the default QEMU machine does.
    fn qemu_layout(&self, on: &Target, ram: u64) -> Result<RamLayout, ArchError>;

    /// The platform's memory hot-plug drivers on `kernel`.
    fn hotplug_driver(&self, kernel: &Kernel) -> HotplugDriver;

    /// Whether Debian's config for this arch onlines hot-added memory by default
    /// (auto_online_blocks): the version's answer unless the arch's config differs.
    fn default_online(&self, kernel: &Kernel) -> bool {
        kernel.debian_default_online
    }

    /// Why `driver` is not one of this arch's, and what to use instead.
    fn missing_driver(&self, driver: PlatformDriver) -> String {
        format!(
            "{} is not a memory hot-plug driver Debian's kernel has on this architecture",
            driver.title()
        )
    }

    /// Whether `mem=` is a physical address limit (x86's e820 trimming) rather than an amount
    /// of memory to keep (memblock_enforce_memory_limit() elsewhere).
    fn mem_limit_is_address(&self) -> bool {
        false
    }

    /// Whether the arch parses `memmap=` (x86's e820 editing).
    fn has_e820_memmap(&self) -> bool {
        false
    }

    /// Bytes at the bottom of physical memory that memblock always reserves at boot.
    fn boot_reserved_low(&self) -> u64 {
        0
    }

    /// arch_get_mappable_range(): the last physical address the kernel can map, given where
    /// RAM starts. The generic version allows everything up to MAX_PHYSMEM_BITS.
    fn mappable_end(&self, on: &Target, dram_start: u64) -> u64 {
        let _ = dram_start;
        on.geometry.physmem_end
    }

    /// VMALLOC_END - VMALLOC_START in bytes, /proc/meminfo's VmallocTotal. `ident_map_size`
    /// is the end of the memory the identity map covers (s390 sizes vmalloc from it).
    fn vmalloc_size(&self, on: &Target, ident_map_size: u64) -> u64;

    /// arch_report_meminfo(): the DirectMap lines of /proc/meminfo for a linear map of `ram`
    /// (sorted, disjoint, page-aligned `[start, end)` ranges: all memory added so far,
    /// online or not) with memory blocks of `block_size`, on a CPU with `cpu`'s features. The
    /// generic (__weak) version prints nothing.
    fn report_meminfo(
        &self,
        ram: &[(u64, u64)],
        block_size: u64,
        cpu: &CpuFeatures,
    ) -> Vec<DirectMap> {
        let _ = (ram, block_size, cpu);
        Vec::new()
    }

    /// CONFIG_MEMORY_FAILURE, which needs ARCH_SUPPORTS_MEMORY_FAILURE: /proc/meminfo then
    /// has HardwareCorrupted (fs/proc/meminfo.c).
    fn memory_failure(&self) -> bool {
        false
    }

    /// CONFIG_CMA in Debian's config for this arch and `kernel` (None: no CMA, and no
    /// CmaTotal/CmaFree lines).
    fn cma(&self, kernel: &Kernel) -> Option<Cma> {
        let _ = kernel;
        None
    }

    /// CONFIG_NUMA and CONFIG_NUMA_BALANCING in Debian's config: the numa_* counters of
    /// /proc/vmstat and /proc/zoneinfo, and sys/devices/system/node with each block's nodeN
    /// link (drivers/base/node.c).
    fn numa(&self) -> bool {
        true
    }

    /// CONFIG_HAVE_ARCH_TRANSPARENT_HUGEPAGE_PUD is selected: the build has PUD-sized THP
    /// code (vmstat's thp_split_pud), whether or not the running MMU can map it
    /// ([`Arch::has_transparent_pud_hugepage`]).
    fn thp_pud_config(&self, kernel: &Kernel) -> bool {
        let _ = kernel;
        false
    }

    /// The direct map's split counters of /proc/vmstat (CONFIG_X86 in mm/vmstat.c).
    fn vmstat_direct_map_splits(&self) -> bool {
        false
    }

    /// ARCH_SUPPORTS_CRASH_HOTPLUG (x86 and powerpc select it in 6.12's Kconfig).
    fn crash_hotplug(&self) -> bool {
        false
    }

    /// CONFIG_VIRTIO_MEM can be built in `kernel`: it depends on the architectures
    /// [`Kernel::virtio_mem_depends`] names (drivers/virtio/Kconfig).
    fn virtio_mem(&self, kernel: &Kernel) -> bool {
        let _ = kernel;
        false
    }

    /// The Kconfig symbol drivers/virtio/Kconfig names this architecture by ("X86_64",
    /// "ARM64", "PPC64", "S390"), to tell "cannot be built" from "Debian does not build it".
    fn kconfig_symbol(&self) -> &'static str;

    /// CONFIG_UNACCEPTED_MEMORY (selected by confidential-guest support): /proc/meminfo
    /// then has Unaccepted, and /proc/vmstat and /proc/zoneinfo nr_unaccepted.
    fn unaccepted_memory(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn approx_sizes() {
        assert_eq!(approx(768 << 20), "768 MiB");
        assert_eq!(approx((4 << 30) + (32 << 20)), "4.0 GiB");
        assert_eq!(approx(59 << 19), "29.5 MiB");
        assert_eq!(approx(512), "512 B");
    }

    #[test]
    fn every_name_resolves_to_itself() {
        for name in Config::names() {
            assert_eq!(Config::lookup(name).unwrap().name, name);
        }
    }

    #[test]
    fn unknown_names_list_the_known_ones() {
        let e = Config::lookup("sparc").unwrap_err().to_string();
        assert!(e.contains("unknown architecture \"sparc\""), "{e}");
        assert!(e.contains("arm64-64k"), "{e}");
        assert!(e.contains("also aarch64, ppc64le, ppc64, s390x"), "{e}");
        let e = Kernel::lookup("6.2").unwrap_err().to_string();
        assert!(
            e.contains("did you mean 6.12?") || e.contains("did you mean 6.1?"),
            "{e}"
        );
        assert!(e.contains("modelled: 6.12, 6.1"), "{e}");
        let e = Kernel::lookup("6.13").unwrap_err().to_string();
        assert!(e.contains("did you mean 6.12?"), "{e}");
    }

    #[test]
    fn human_sizes() {
        assert_eq!(human(128 << 20), "128M");
        assert_eq!(human(2 << 30), "2G");
        assert_eq!(human(512 << 10), "512K");
        assert_eq!(human(64 << 40), "64T");
        assert_eq!(human(0x1800), "6K");
        assert_eq!(human(0x1801), "0x1801");
    }

    #[test]
    fn subsections_are_2m_everywhere() {
        // include/linux/mmzone.h: SUBSECTION_SHIFT 21 on every arch;
        // SUBSECTIONS_PER_SECTION = 2^(SECTION_SIZE_BITS - 21).
        let expect = [
            ("x86_64", 64),
            ("x86_64-la57", 64),
            ("arm64", 64),
            ("arm64-16k", 64),
            ("arm64-64k", 256),
            ("powerpc", 8),
            ("powerpc-hash", 8),
            ("s390", 128),
        ];
        for (name, n) in expect {
            let g = Target::parse(name, "").unwrap().geometry;
            assert_eq!(g.subsection_size, 2 << 20, "{name}");
            assert_eq!(g.subsections_per_section, n, "{name}");
        }
    }

    #[test]
    fn struct_page_is_64_bytes_everywhere() {
        for name in Config::names() {
            assert_eq!(
                Target::parse(name, "").unwrap().geometry.struct_page_size,
                64
            );
        }
    }
}
