//! ZONE_DEVICE memory: memremap_pages(), pagemap_range() and memunmap_pages() (mm/memremap.c)
//! for a persistent-memory namespace laid out as an nvdimm pfn device does it
//! (drivers/nvdimm/pfn_devs.c nd_pfn_init(), __nvdimm_setup_pfn(); drivers/dax/device.c).

use crate::altmap::VmemAltmap;
use crate::error::{MmError, Result};
use crate::machine::{Footprint, Machine};
use crate::sparse::{AltmapArg, Compound};
use crate::vmemmap::Origin;
use arch::{human, ZoneType};

/// nd_info_block_reserve() before page alignment: the 8 KiB the info block occupies.
const INFO_BLOCK: u64 = 8 << 10;

/// MAX_STRUCT_PAGE_SIZE (drivers/nvdimm/pfn.h): what a pfn device reserves per page for
/// the memmap, whatever the running kernel's struct page size.
const MAX_STRUCT_PAGE_SIZE: u64 = 64;

/// Where a namespace's struct pages live (ndctl's `--map`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MemmapLocation {
    /// `map=mem` (PFN_MODE_RAM): allocated from System RAM.
    Mem,
    /// `map=dev` (PFN_MODE_PMEM): reserved at the start of the namespace, used through a
    /// vmem_altmap.
    Dev,
}

impl MemmapLocation {
    pub fn parse(s: &str) -> Result<MemmapLocation> {
        match s {
            "mem" | "ram" => Ok(MemmapLocation::Mem),
            "dev" | "pmem" => Ok(MemmapLocation::Dev),
            other => Err(MmError::Invalid(format!(
                "map \"{other}\" is neither \"mem\" (struct pages in System RAM) nor \"dev\" \
                 (struct pages in the namespace)"
            ))),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            MemmapLocation::Mem => "mem",
            MemmapLocation::Dev => "dev",
        }
    }
}

/// What the namespace is used as, which decides the pgmap type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NamespaceMode {
    /// device-dax (MEMORY_DEVICE_GENERIC): `align` sets vmemmap_shift, so the memmap is
    /// built of compound pages.
    DevDax,
    /// fsdax (MEMORY_DEVICE_FS_DAX): base pages whatever the alignment.
    FsDax,
}

impl NamespaceMode {
    pub fn parse(s: &str) -> Result<NamespaceMode> {
        match s {
            "devdax" | "dax" => Ok(NamespaceMode::DevDax),
            "fsdax" | "memory" => Ok(NamespaceMode::FsDax),
            other => Err(MmError::Invalid(format!(
                "mode \"{other}\" is neither \"devdax\" nor \"fsdax\""
            ))),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            NamespaceMode::DevDax => "devdax",
            NamespaceMode::FsDax => "fsdax",
        }
    }
}

/// Options of one memremap_pages() call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MemremapOptions {
    /// Default `dev`, as ndctl create-namespace.
    pub map: Option<MemmapLocation>,
    /// Default fsdax, as ndctl create-namespace (struct pages for every page, no
    /// vmemmap_shift); devdax is asked for.
    pub mode: Option<NamespaceMode>,
    /// Default HPAGE_PMD_SIZE where the arch has THP (nd_pfn_default_alignment()).
    pub align: Option<u64>,
    /// Default node 0.
    pub node: Option<u16>,
}

/// One mapped namespace: struct dev_pagemap with the pfn-device layout around it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DevPagemap {
    pub id: u32,
    /// The namespace resource the caller gave.
    pub res_start: u64,
    pub res_size: u64,
    /// pgmap->range, end exclusive: the namespace minus end_trunc.
    pub start: u64,
    pub end: u64,
    pub nid: u16,
    pub mode: NamespaceMode,
    pub map: MemmapLocation,
    pub align: u64,
    /// pgmap->vmemmap_shift: log2 of the pages per compound page (0: base pages).
    pub vmemmap_shift: u32,
    /// pfn_sb->dataoff: where the data starts, from the namespace start.
    pub data_offset: u64,
    /// pfn_sb->npfns: pages of data.
    pub npfns: u64,
    /// pfn_sb->end_trunc: bytes cut off the end to keep it aligned.
    pub end_trunc: u64,
    /// pgmap->altmap (map=dev).
    pub altmap: Option<VmemAltmap>,
    /// Memmap pages this mapping added to nr_memmap_pages.
    pub memmap_pages: u64,
    /// Of those, how many came from the buddy allocator and from the device's altmap.
    pub memmap_buddy_pages: u64,
    pub memmap_device_pages: u64,
    /// vmemmap page-table pages allocated for it.
    pub pagetable_pages: u64,
    /// Whether the compound pages' tail vmemmap pages are deduplicated.
    pub vmemmap_optimized: bool,
    /// Resource names: the namespace (and the dax device for devdax).
    pub namespace: String,
    pub dax: Option<String>,
    /// Whether no firmware region held the range, so a "Persistent Memory" region was
    /// made for it (and goes with it).
    pub own_region: bool,
}

impl DevPagemap {
    pub fn size(&self) -> u64 {
        self.end - self.start
    }

    /// pgmap_vmemmap_nr(): pages per compound page.
    pub fn compound_pages(&self) -> u64 {
        1 << self.vmemmap_shift
    }
}

/// nd_pfn_init(): where the info block, the memmap reservation and the data go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Layout {
    end_trunc: u64,
    data_offset: u64,
    npfns: u64,
}

impl Machine {
    /// The mapped namespaces, by id.
    pub fn pgmaps(&self) -> &std::collections::BTreeMap<u32, DevPagemap> {
        &self.state.pgmaps
    }

    /// The default device-dax / pfn-device alignment (nd_pfn_default_alignment()).
    pub fn default_dax_align(&self) -> u64 {
        let g = self.u.g;
        if self.target.arch().has_transparent_hugepage() {
            g.pmd_size
        } else {
            g.page_size
        }
    }

    fn pfn_layout(&self, start: u64, size: u64, map: MemmapLocation, align: u64) -> Result<Layout> {
        let g = self.u.g;
        let compat = self.target.arch().memremap_compat_align();
        let align = align.max(compat);
        if !start.is_multiple_of(compat) {
            return Err(MmError::Invalid(format!(
                "namespace start {start:#x} misaligned to {compat:#x} (memremap_compat_align(); \
                 a namespace must start on a {} sub-section boundary)",
                human(compat)
            )));
        }
        let end = start + size;
        let end_trunc = end - end / align * align;
        if size <= INFO_BLOCK {
            return Err(MmError::NoSuchAddress(format!(
                "namespace of {size} bytes has no room for its {} info block",
                human(INFO_BLOCK)
            )));
        }
        let npfns = (size - INFO_BLOCK) >> g.page_shift;
        let data = match map {
            MemmapLocation::Dev => start + INFO_BLOCK + MAX_STRUCT_PAGE_SIZE * npfns,
            MemmapLocation::Mem => start + INFO_BLOCK,
        };
        let data_offset = data.next_multiple_of(align) - start;
        // A namespace inside one alignment unit has nothing left once its end is aligned.
        if end_trunc >= size || data_offset >= size - end_trunc {
            return Err(MmError::NoSuchAddress(format!(
                "namespace [{start:#x}-{:#x}] unable to satisfy requested alignment {}: \
                 its data would start at offset {data_offset:#x}, past its aligned end",
                end - 1,
                human(align)
            )));
        }
        Ok(Layout {
            end_trunc,
            data_offset,
            npfns: (size - data_offset - end_trunc) >> g.page_shift,
        })
    }

    /// memremap_pages() for a persistent-memory namespace `[start, start + size)`, set up
    /// the way an nvdimm pfn device and device-dax set up their dev_pagemap: with `map=dev`
    /// the memmap goes in the namespace through an altmap; a devdax namespace's `align`
    /// becomes compound pages (vmemmap_shift). Returns the pgmap id.
    pub fn memremap_pages(&mut self, start: u64, size: u64, opts: &MemremapOptions) -> Result<u32> {
        let g = self.u.g;
        if !self.target.arch().zone_device(self.target.kernel) {
            return Err(MmError::NotSupported(format!(
                "{} has no ZONE_DEVICE: CONFIG_ZONE_DEVICE depends on ARCH_HAS_PTE_DEVMAP, which \
                 it does not select (mm/Kconfig)",
                self.target.name()
            )));
        }
        if !self.target.arch().zone_device(self.target.kernel) {
            return Err(MmError::NotSupported(format!(
                "Linux {} as Debian builds it for {} has no ZONE_DEVICE (CONFIG_ZONE_DEVICE is \
                 not set), so no pmem or device-dax namespace gets struct pages",
                self.target.kernel.name,
                self.target.name()
            )));
        }
        let end = start
            .checked_add(size)
            .filter(|_| size > 0)
            .ok_or_else(|| {
                MmError::Invalid(format!("bad range: start {start:#x}, size {size:#x}"))
            })?;
        let map = opts.map.unwrap_or(MemmapLocation::Dev);
        // ndctl create-namespace makes an fsdax namespace unless told otherwise.
        let mode = opts.mode.unwrap_or(NamespaceMode::FsDax);
        let align = opts.align.unwrap_or(self.default_dax_align());
        let aligns = self.target.arch().dax_alignments(&self.target);
        if !aligns.contains(&align) {
            let list: Vec<String> = aligns.iter().map(|a| human(*a)).collect();
            return Err(MmError::Invalid(format!(
                "align {} is not supported on {}: it offers {} (PAGE_SIZE, HPAGE_PMD_SIZE with \
                 THP, HPAGE_PUD_SIZE with PUD THP)",
                human(align),
                self.target.name(),
                list.join(", ")
            )));
        }
        let nid = opts.node.unwrap_or(0);
        if nid >= self.boot.nr_nodes {
            return Err(MmError::Invalid(format!(
                "node {nid} is not possible ({} nodes)",
                self.boot.nr_nodes
            )));
        }
        // The pre-sub-section designs: devm_memremap_pages() widened the range to whole
        // activation units (sections, or seed 004's 64 MiB) before asking whether it
        // touches System RAM.
        if let Some(unit) = self.design.device_unit(&g) {
            let align_start = start & !(unit - 1);
            // ALIGN(resource_size(res), unit): the size is rounded, not the end.
            let align_size = size.next_multiple_of(unit);
            let ram = self
                .state
                .iomem
                .system_ram_bytes(align_start, align_start + align_size);
            if ram > 0 && ram < align_size {
                let msg = format!(
                    "devm_memremap_pages attempted on mixed region [mem {start:#010x}-{:#010x} flags 0x200]",
                    end - 1
                );
                self.warn(&crate::warn::SEED_DEVM_MIXED, Some(&msg));
                return Err(MmError::NoSuchAddress(format!(
                    "{msg}: {} widens it to {}-aligned [{align_start:#x}-{:#x}], which holds {} of System RAM",
                    self.design.name(),
                    human(unit),
                    align_start + align_size - 1,
                    human(ram)
                )));
            }
        }
        let compat = self.target.arch().memremap_compat_align();
        if !start.is_multiple_of(compat) {
            // nd_pfn_init() (drivers/nvdimm/pfn_devs.c) refuses it with a dev_err from the
            // probing driver: nd_pmem for an fsdax namespace's pfn device, dax_pmem for a
            // devdax one's.
            let id = self.state.pgmaps.keys().next_back().map_or(0, |k| k + 1);
            let (driver, dev) = match mode {
                NamespaceMode::FsDax => ("nd_pmem", format!("pfn{id}.0")),
                NamespaceMode::DevDax => ("dax_pmem", format!("dax{id}.0")),
            };
            self.log(format!(
                "{driver} {dev}: namespace{id}.0: start {start:#018x} misaligned to {compat:#x}"
            ));
        }
        let layout = self.pfn_layout(start, size, map, align)?;
        let range_end = end - layout.end_trunc;
        // pagemap_range(): the range must not touch System RAM.
        let ram = self.state.iomem.system_ram_bytes(start, range_end);
        if ram > 0 {
            let what = if ram == range_end - start {
                "ram"
            } else {
                "mixed"
            };
            let msg = format!("attempted on {what} region {start:#x}-{:#x}", range_end - 1);
            self.warn(&crate::warn::ATTEMPTED_ON_RAM, Some(&msg));
            return Err(MmError::NoSuchAddress(format!(
                "attempted on {what} region {start:#x}-{:#x}: {} of it is System RAM",
                range_end - 1,
                arch::approx(ram)
            )));
        }
        let (lo, hi) = self.pluggable_range();
        if start < lo || range_end - 1 > hi {
            self.log(format!(
                "Hotplug memory [{start:#x}-{range_end:#x}] exceeds maximum addressable range [{lo:#x}-{hi:#x}]"
            ));
            return Err(MmError::Invalid(format!(
                "[{start:#x}-{range_end:#x}] exceeds the maximum addressable range [{lo:#x}-{hi:#x}] \
                 (mhp_range_allowed())"
            )));
        }
        // The virtio-mem driver holds its whole region as a device resource: a namespace
        // there cannot claim its range.
        if let Some(d) = self
            .state
            .virtio_mem
            .values()
            .find(|d| d.start < end && start < d.start + d.region_size)
        {
            return Err(MmError::Busy(format!(
                "could not reserve region [mem {start:#x}-{:#x}]: it overlaps virtio-mem device \
                 {}'s region [mem {:#x}-{:#x}]",
                end - 1,
                d.id,
                d.start,
                d.start + d.region_size - 1
            )));
        }
        let fp = Footprint {
            start_pfn: start >> g.page_shift,
            end_pfn: range_end >> g.page_shift,
        };
        let run = |m: &mut Machine| {
            m.transaction(fp, |m| {
                m.pagemap_range(start, size, range_end, layout, map, mode, align, nid)
            })
        };
        run(self).map_err(|e| {
            let instead = match (map, mode) {
                (MemmapLocation::Mem, NamespaceMode::DevDax) => {
                    "map: \"dev\" would put them in the namespace itself, a larger align \
                     shares more of them, or map less"
                }
                (MemmapLocation::Mem, NamespaceMode::FsDax) => {
                    "map: \"dev\" would put them in the namespace itself, mode: \"devdax\" with \
                     a large align shares most of them, or map less"
                }
                (MemmapLocation::Dev, _) => "map less of it, or boot with more RAM",
            };
            let what = format!("memremap_pages of {}", arch::approx(size));
            self.explain_short(e, &what, instead, run)
        })
    }

    #[allow(clippy::too_many_arguments)]
    fn pagemap_range(
        &mut self,
        start: u64,
        size: u64,
        range_end: u64,
        layout: Layout,
        map: MemmapLocation,
        mode: NamespaceMode,
        align: u64,
        nid: u16,
    ) -> Result<u32> {
        let g = self.u.g;
        let id = self.state.pgmaps.keys().next_back().map_or(0, |k| k + 1);
        let namespace = format!("namespace{id}.0");
        let dax = (mode == NamespaceMode::DevDax).then(|| format!("dax{id}.0"));
        // The driver claims the namespace inside its pmem region before mapping it; a region
        // appears for ranges no firmware region describes.
        let own_region =
            !self
                .state
                .iomem
                .contained_in_named(start, end_incl(start, size), "Persistent Memory");
        if own_region {
            self.claim(start, size, "Persistent Memory")?;
        }
        match &dax {
            Some(d) => {
                self.claim(start, layout.data_offset, &namespace)?;
                let data = start + layout.data_offset;
                self.claim(data, range_end - data, d)?;
            }
            None => self.claim(start, size, &namespace)?,
        }
        let start_pfn = start >> g.page_shift;
        let end_pfn = range_end >> g.page_shift;
        if let Some(other) = self.state.pgmaps.values().find(|p| {
            p.start <= start && start < p.end || p.start < range_end && range_end <= p.end
        }) {
            let other_start = other.start <= start && start < other.end;
            let other = other.id;
            let site = if other_start {
                &crate::warn::CONFLICTING_START
            } else {
                &crate::warn::CONFLICTING_END
            };
            self.warn(site, Some("Conflicting mapping in same section"));
            return Err(MmError::NoMemory(format!(
                "Conflicting mapping in same section: pgmap {other} already maps part of \
                 [{start:#x}-{:#x}]",
                range_end - 1
            )));
        }
        let mut altmap = (map == MemmapLocation::Dev).then(|| {
            let reserve = INFO_BLOCK.next_multiple_of(g.page_size) >> g.page_shift;
            VmemAltmap {
                base_pfn: start_pfn,
                end_pfn: end_pfn - 1,
                reserve,
                free: (layout.data_offset >> g.page_shift) - reserve,
                ..VmemAltmap::default()
            }
        });
        let vmemmap_shift = if mode == NamespaceMode::DevDax && align > g.page_size {
            (align >> g.page_shift).trailing_zeros()
        } else {
            0
        };
        let compound = (vmemmap_shift > 0).then_some(Compound {
            pages: 1 << vmemmap_shift,
            base_pfn: start_pfn,
        });
        let optimized = self.vmemmap_can_optimize(altmap.is_some(), compound);
        let before = (
            self.state.vmstat,
            self.state.vmemmap.table_pages(),
            self.state.vmemmap.counters().backing(Origin::Buddy),
            self.state.vmemmap.counters().backing(Origin::Device),
        );
        // arch_add_memory() with params->altmap and params->pgmap.
        self.add_pages(
            nid,
            start_pfn,
            end_pfn - start_pfn,
            altmap.as_mut().map(|a| AltmapArg::one(a, Origin::Device)),
            compound,
        )?;
        self.move_pfn_range_to_zone(nid, ZoneType::Device, start_pfn, end_pfn - start_pfn);
        let pps = g.pages_per_section;
        if !start_pfn.is_multiple_of(pps) {
            self.section_taint_zone_device(start_pfn);
        }
        if !end_pfn.is_multiple_of(pps) {
            self.section_taint_zone_device(end_pfn);
        }
        if !self.state.nodes[nid as usize].online {
            self.state.nodes[nid as usize].online = true;
        }
        let c = *self.state.vmemmap.counters();
        let pgmap = DevPagemap {
            id,
            res_start: start,
            res_size: size,
            start,
            end: range_end,
            nid,
            mode,
            map,
            align,
            vmemmap_shift,
            data_offset: layout.data_offset,
            npfns: layout.npfns,
            end_trunc: layout.end_trunc,
            altmap,
            memmap_pages: self.state.vmstat.nr_memmap_pages() - before.0.nr_memmap_pages(),
            memmap_buddy_pages: c.backing(Origin::Buddy) - before.2,
            memmap_device_pages: c.backing(Origin::Device) - before.3,
            pagetable_pages: self.state.vmemmap.table_pages().saturating_sub(before.1),
            vmemmap_optimized: optimized,
            namespace,
            dax,
            own_region,
        };
        self.state.pgmaps.insert(id, pgmap);
        Ok(id)
    }

    /// memunmap_pages(): undo the arch mapping of every section the pgmap activated, give the
    /// memmap back to where it came from and release the namespace. ZONE_DEVICE's span is
    /// never shrunk (remove_pfn_range_from_zone() returns early for it).
    pub fn memunmap_pages(&mut self, id: u32) -> Result<()> {
        self.memunmap_pages_keeping(id, false)
    }

    /// memunmap_pages(); with `keep_namespace`, the device-dax driver lets go of its mapping
    /// and its dax resource, and the namespace (and its region) stay claimed by the pmem
    /// driver below it, as when kmem takes the device over.
    pub(crate) fn memunmap_pages_keeping(&mut self, id: u32, keep_namespace: bool) -> Result<()> {
        let Some(p) = self.state.pgmaps.get(&id).cloned() else {
            let known: Vec<String> = self.state.pgmaps.keys().map(|k| k.to_string()).collect();
            return Err(MmError::Invalid(format!(
                "no pgmap {id} (mapped: {})",
                if known.is_empty() {
                    "none".to_string()
                } else {
                    known.join(", ")
                }
            )));
        };
        let g = self.u.g;
        let start_pfn = p.start >> g.page_shift;
        let nr = (p.end - p.start) >> g.page_shift;
        let compound = (p.vmemmap_shift > 0).then_some(Compound {
            pages: p.compound_pages(),
            base_pfn: start_pfn,
        });
        let mut altmap = p.altmap;
        self.remove_pages(
            start_pfn,
            nr,
            altmap.as_mut().map(std::slice::from_mut),
            compound,
        );
        if altmap.is_some_and(|a| a.alloc != 0) {
            self.warn(
                &crate::warn::RESERVED_NOT_FREED,
                Some("failed to free all reserved pages"),
            );
        }
        let (s, size) = (p.res_start, p.res_size);
        match &p.dax {
            Some(d) => {
                self.state.iomem.remove(s + p.data_offset, p.end - 1, d);
                if !keep_namespace {
                    self.state
                        .iomem
                        .remove(s, s + p.data_offset - 1, &p.namespace);
                }
            }
            None => {
                self.state.iomem.remove(s, end_incl(s, size), &p.namespace);
            }
        }
        if p.own_region && !keep_namespace {
            self.state
                .iomem
                .remove(s, end_incl(s, size), "Persistent Memory");
        }
        self.state.pgmaps.remove(&id);
        Ok(())
    }

    /// devm_request_mem_region() for a driver: -EBUSY when the range collides with anything
    /// but a region it lies in.
    fn claim(&mut self, start: u64, size: u64, name: &str) -> Result<()> {
        if let Some((other, s, e)) = self.state.iomem.conflict(start, size) {
            return Err(MmError::Busy(format!(
                "could not reserve region [mem {start:#x}-{:#x}] for {name}: it overlaps \
                 \"{other}\" [mem {s:#x}-{e:#x}]",
                start + size - 1
            )));
        }
        self.state.iomem.request(start, size, name)
    }

    /// section_taint_zone_device(): the section shares ZONE_DEVICE pages with other memory.
    /// Like the kernel, this marks the section whether or not it is present.
    fn section_taint_zone_device(&mut self, pfn: u64) {
        let nr = self.u.section_of(crate::units::Pfn(pfn));
        if nr.0 < self.state.sections.nr_sections() {
            self.state.sections.get_mut(nr).flags |= crate::section::SECTION_TAINT_ZONE_DEVICE;
        }
    }
}

fn end_incl(start: u64, size: u64) -> u64 {
    start + size - 1
}
