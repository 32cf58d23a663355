//! What the model shows of a machine, as typed data: sections and sub-sections, memory
//! blocks, memmap extents (where their pages come from, how they are mapped, what is
//! shared), ZONE_DEVICE mappings, devices, the iomem resources and the map of the physical
//! address space with its hot-plug area, and the totals. The one read model that the Rhai
//! maps, the terminal UI's panes, the JSON output and the pictures are rendered from.

use crate::machine::Machine;
use crate::memory_block::BlockState;
use crate::units::{BlockId, SectionNr};
use crate::vmemmap::{Level, Sharing};
use serde::Serialize;

/// The class of a section (or sub-section) on a map of the address space.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SectionKind {
    Absent,
    Boot,
    Offline,
    Normal,
    Movable,
    Device,
    /// Struct pages carved out of the memory itself (a memmap_on_memory block's altmap or a
    /// pmem namespace's `map=dev` reservation).
    Vmemmap,
}

impl SectionKind {
    pub const LEGEND: [SectionKind; 7] = [
        SectionKind::Absent,
        SectionKind::Boot,
        SectionKind::Offline,
        SectionKind::Normal,
        SectionKind::Movable,
        SectionKind::Device,
        SectionKind::Vmemmap,
    ];

    /// What a legend says of it.
    pub fn meaning(self) -> &'static str {
        match self {
            SectionKind::Absent => "no memory",
            SectionKind::Boot => "boot memory, online",
            SectionKind::Offline => "hot-added (or offlined), offline",
            SectionKind::Normal => "online in a kernel zone (Normal, DMA32, DMA)",
            SectionKind::Movable => "online in ZONE_MOVABLE",
            SectionKind::Device => "ZONE_DEVICE: pmem, device-dax",
            SectionKind::Vmemmap => "struct pages carved out of the memory itself (altmap)",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            SectionKind::Absent => "absent",
            SectionKind::Boot => "boot",
            SectionKind::Offline => "offline",
            SectionKind::Normal => "normal",
            SectionKind::Movable => "movable",
            SectionKind::Device => "device",
            SectionKind::Vmemmap => "vmemmap",
        }
    }

    /// Which class wins a place (a cell, a pixel) that holds several.
    pub fn rank(self) -> u8 {
        self as u8
    }
}

/// What one section looks like on a map.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct SectionKey {
    pub kind: SectionKind,
    /// Part of the section holds struct pages carved out of it.
    pub vmemmap: bool,
    /// Active sub-sections, for partly populated sections.
    pub active: u16,
}

/// A run of sections `[start, end)` with the same key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct SectionRun {
    pub start: u64,
    pub end: u64,
    pub key: SectionKey,
}

/// One lsmem-like row: consecutive blocks with the same state and zone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BlockRow {
    pub first: u64,
    pub last: u64,
    pub start: u64,
    pub size: u64,
    pub state: &'static str,
    pub zone: String,
    pub early: bool,
    pub memmap_on_memory: bool,
}

/// One resource of /proc/iomem, at its depth in the tree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ResourceLine {
    pub depth: usize,
    pub start: u64,
    /// Inclusive, as /proc/iomem prints it.
    pub end: u64,
    pub name: String,
}

/// The numbers a summary shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Totals {
    pub page_size: u64,
    pub mem_total_kb: u64,
    pub mem_free_kb: u64,
    pub blocks_online: u64,
    pub blocks: u64,
    pub sections_present: u64,
    pub memmap_boot_pages: u64,
    pub memmap_buddy_pages: u64,
    pub memmap_altmap_pages: u64,
    pub memmap_device_pages: u64,
    pub vmemmap_pagetable_pages: u64,
    pub vmemmap_pmd_mappings: u64,
    pub vmemmap_pte_mappings: u64,
    /// vmemmap pages device-dax deduplication does not need.
    pub saved_dedup_pages: u64,
    /// Net vmemmap pages HugeTLB vmemmap optimisation frees.
    pub hvo_freed_pages: u64,
    pub hugetlb_kb: u64,
    pub pgmaps: u64,
}

/// The map of a machine's physical address space: its sections as runs, where struct
/// pages are carved out of memory, its blocks as lsmem rows, its resources, where the
/// hot-plug area starts, and the totals.
#[derive(Debug, Clone, Default, Serialize)]
pub struct MapView {
    pub runs: Vec<SectionRun>,
    /// pfn ranges holding carved-out struct pages.
    pub vmemmap_areas: Vec<(u64, u64)>,
    pub rows: Vec<BlockRow>,
    pub totals: Totals,
    /// The section where hot-pluggable memory starts.
    pub hotplug_section: u64,
    /// One past the last section worth showing.
    pub end_section: u64,
}

impl MapView {
    pub fn of(m: &Machine) -> MapView {
        let u = m.units();
        let g = m.geometry();
        let ps = g.page_shift;
        let mut areas: Vec<(u64, u64)> = Vec::new();
        for b in m.blocks().values() {
            if let Some(a) = b.altmap {
                let s = u.block_start(b.id) >> ps;
                areas.push((s, s + u64::from(a.free)));
            }
        }
        for p in m.pgmaps().values() {
            if let Some(a) = p.altmap {
                areas.push((a.base_pfn, a.base_pfn + a.reserve + a.free));
            }
        }
        areas.sort_unstable();
        let mut runs: Vec<SectionRun> = Vec::new();
        let mut ai = 0;
        for (nr, s) in m.sections().present() {
            let start = nr.0 * g.pages_per_section;
            let end = start + g.pages_per_section;
            while ai < areas.len() && areas[ai].1 <= start {
                ai += 1;
            }
            let vmemmap = areas[ai..]
                .iter()
                .take_while(|a| a.0 < end)
                .any(|a| a.1 > start);
            let kind = match m.blocks().get(&u.block_of_section(nr)) {
                None => SectionKind::Device,
                Some(b) if b.state != BlockState::Online => SectionKind::Offline,
                Some(b) if b.early => SectionKind::Boot,
                Some(b) => match b.zone {
                    Some(arch::ZoneType::Movable) => SectionKind::Movable,
                    _ => SectionKind::Normal,
                },
            };
            let active = if s.early() {
                g.subsections_per_section as u16
            } else {
                s.usage.map_or(0, |x| x.count() as u16)
            };
            let key = SectionKey {
                kind,
                vmemmap,
                active,
            };
            match runs.last_mut() {
                Some(r) if r.end == nr.0 && r.key == key => r.end += 1,
                _ => runs.push(SectionRun {
                    start: nr.0,
                    end: nr.0 + 1,
                    key,
                }),
            }
        }
        let last_present = runs.last().map_or(0, |r| r.end);
        let hotplug = m.boot_info().hotplug_base >> g.section_size_bits;
        // Show the boot memory and the hot-plug area's start, with room to grow.
        let end_section = (last_present.max(hotplug + 8)).next_power_of_two().max(16);
        MapView {
            runs,
            vmemmap_areas: areas,
            rows: block_rows(m),
            totals: m.totals(),
            hotplug_section: hotplug,
            end_section: end_section.min(m.sections().nr_sections()),
        }
    }

    /// The key of section `nr` (absent when no run holds it).
    pub fn key(&self, nr: u64) -> SectionKey {
        let i = self.runs.partition_point(|r| r.end <= nr);
        match self.runs.get(i) {
            Some(r) if r.start <= nr => r.key,
            _ => SectionKey {
                kind: SectionKind::Absent,
                vmemmap: false,
                active: 0,
            },
        }
    }

    /// The strongest class among sections `[a, b)`, whether any holds carved-out vmemmap,
    /// and whether the place is only partly populated.
    pub fn cell(&self, a: u64, b: u64) -> (SectionKind, bool, bool) {
        let mut i = self.runs.partition_point(|r| r.end <= a);
        let mut best = SectionKind::Absent;
        let mut vm = false;
        let mut covered = 0;
        while let Some(r) = self.runs.get(i) {
            if r.start >= b {
                break;
            }
            covered += r.end.min(b) - r.start.max(a);
            if r.key.kind.rank() > best.rank() {
                best = r.key.kind;
            }
            vm |= r.key.vmemmap;
            i += 1;
        }
        (best, vm, covered > 0 && covered < b - a)
    }

    /// Sections whose key differs between `self` and `old`, as ranges.
    pub fn changed_since(&self, old: &MapView) -> Vec<(u64, u64)> {
        let mut cuts: Vec<u64> = Vec::new();
        for r in self.runs.iter().chain(old.runs.iter()) {
            cuts.push(r.start);
            cuts.push(r.end);
        }
        cuts.sort_unstable();
        cuts.dedup();
        let mut out: Vec<(u64, u64)> = Vec::new();
        for w in cuts.windows(2) {
            let (a, b) = (w[0], w[1]);
            if self.key(a) != old.key(a) {
                match out.last_mut() {
                    Some(l) if l.1 == a => l.1 = b,
                    _ => out.push((a, b)),
                }
            }
        }
        out
    }
}

/// The class of each sub-section of section `nr`.
pub fn subsection_kinds(m: &Machine, v: &MapView, nr: u64) -> Vec<SectionKind> {
    let g = m.geometry();
    let key = v.key(nr);
    let s = m.sections().state(SectionNr(nr));
    let start = nr * g.pages_per_section;
    (0..g.subsections_per_section)
        .map(|i| {
            let lo = start + i * g.pages_per_subsection;
            let hi = lo + g.pages_per_subsection;
            let active = s.early() || s.usage.is_some_and(|u| u.test(i));
            if key.kind == SectionKind::Absent || !active {
                return SectionKind::Absent;
            }
            if v.vmemmap_areas.iter().any(|&(a, b)| a < hi && b > lo) {
                return SectionKind::Vmemmap;
            }
            // A boot section may hold a device's sub-sections (legacy pmem next to RAM).
            if key.kind != SectionKind::Device
                && m.pgmaps()
                    .values()
                    .any(|p| p.start >> g.page_shift < hi && p.end >> g.page_shift > lo)
            {
                return SectionKind::Device;
            }
            key.kind
        })
        .collect()
}

fn block_rows(m: &Machine) -> Vec<BlockRow> {
    let u = m.units();
    let mut rows: Vec<BlockRow> = Vec::new();
    for b in m.blocks().values() {
        let zone = match (b.state, b.zone) {
            (BlockState::Online, Some(z)) => z.name().to_string(),
            // Online across zones: valid_zones says "none", as the kernel does.
            (BlockState::Online, None) => "none".to_string(),
            _ => String::new(),
        };
        let start = u.block_start(b.id);
        let state = b.state.name();
        let mom = b.altmap.is_some();
        match rows.last_mut() {
            Some(r)
                if r.last + 1 == b.id.0
                    && r.state == state
                    && r.zone == zone
                    && r.early == b.early
                    && r.memmap_on_memory == mom =>
            {
                r.last = b.id.0;
                r.size += u.block_size;
            }
            _ => rows.push(BlockRow {
                first: b.id.0,
                last: b.id.0,
                start,
                size: u.block_size,
                state,
                zone,
                early: b.early,
                memmap_on_memory: mom,
            }),
        }
    }
    // Offline rows show where they could go, as lsmem's ZONES column does.
    for r in rows.iter_mut().filter(|r| r.zone.is_empty()) {
        r.zone = m.valid_zones(BlockId(r.first)).unwrap_or_default();
    }
    rows
}

/// How an extent of the vmemmap is mapped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MapLevel {
    /// PMD leaves.
    Pmd,
    /// Base pages under PTE tables.
    Pte,
    /// Bolted into the hash page table in chunks of this many bytes (powerpc hash).
    Bolted { bytes: u64 },
}

impl MapLevel {
    /// How a detail line or a script names it: "PMD", "PTE", "bolted 16M".
    pub fn label(self) -> String {
        match self {
            MapLevel::Pmd => "PMD".to_string(),
            MapLevel::Pte => "PTE".to_string(),
            MapLevel::Bolted { bytes } => format!("bolted {}", arch::human(bytes)),
        }
    }
}

/// Whether an extent's struct pages have their own backing pages or share some.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Shared {
    Own,
    /// Of every `period` vmemmap pages, the first `unique` have their own backing page and
    /// the rest map one shared page (device-dax compound pages, HVO).
    Dedup {
        period: u64,
        unique: u64,
        read_only: bool,
    },
}

impl Shared {
    /// "own", or "8 of every 512 pages, read-only".
    pub fn describe(self) -> String {
        match self {
            Shared::Own => "own".to_string(),
            Shared::Dedup {
                period,
                unique,
                read_only,
            } => format!(
                "{unique} of every {period} pages{}",
                if read_only { ", read-only" } else { "" }
            ),
        }
    }
}

/// One mapping extent of the vmemmap: the struct pages of pfns `[first_pfn, end_pfn)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct MemmapExtent {
    /// The first vmemmap page of the extent (from VMEMMAP_START, in pages).
    pub first_vmemmap_page: u64,
    pub vmemmap_pages: u64,
    pub first_pfn: u64,
    pub end_pfn: u64,
    pub level: MapLevel,
    /// The pages that back it: fewer than `vmemmap_pages` when some are shared.
    pub backing_pages: u64,
    /// Where its backing pages came from: boot, buddy, altmap, device.
    pub origin: &'static str,
    pub sharing: Shared,
}

/// A section as the model holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SectionView {
    pub nr: u64,
    pub start: u64,
    pub size: u64,
    /// The flags, as the kernel names them.
    pub flags: String,
    pub present: bool,
    pub valid: bool,
    pub online: bool,
    pub early: bool,
    pub zone_device: bool,
    pub nid: u16,
    pub block: u64,
    /// The sub-section map, one character per sub-section, when the section has one.
    pub subsection_map: Option<String>,
    /// Active sub-sections and how many a section has.
    pub subsections: (u64, u64),
    pub memmap: Vec<MemmapExtent>,
    /// The page tables of each level that map its memmap.
    pub page_tables: Vec<PageTables>,
}

/// How many page tables of one level map some of a range's memmap (a table shared with a
/// neighbouring range counts for both).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct PageTables {
    pub level: &'static str,
    pub tables: u64,
}

/// A vmem_altmap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct AltmapView {
    pub base_pfn: u64,
    pub end_pfn: u64,
    pub reserve: u64,
    pub free: u64,
    pub align: u64,
    pub alloc: u64,
    pub inaccessible: bool,
}

impl From<&crate::altmap::VmemAltmap> for AltmapView {
    fn from(a: &crate::altmap::VmemAltmap) -> AltmapView {
        AltmapView {
            base_pfn: a.base_pfn,
            end_pfn: a.end_pfn,
            reserve: a.reserve,
            free: a.free,
            align: a.align,
            alloc: a.alloc,
            inaccessible: a.inaccessible,
        }
    }
}

/// A memory block as the model holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BlockView {
    pub id: u64,
    pub start: u64,
    pub size: u64,
    pub state: &'static str,
    pub zone: Option<&'static str>,
    pub valid_zones: String,
    pub nid: u16,
    pub early: bool,
    /// memoryN/phys_index, as sysfs prints it.
    pub phys_index: String,
    pub nr_vmemmap_pages: u64,
    pub altmap: Option<AltmapView>,
    pub ram_pages: u64,
    pub reserved_pages: u64,
    pub unmovable_pages: u64,
    pub movable_pages: u64,
    pub hugetlb_pages: u64,
    /// Pages of the block a virtio-mem device has not plugged (fake-offline).
    pub fake_offline_pages: u64,
    /// The memory group it belongs to (virtio-mem, dax/kmem).
    pub group: Option<u32>,
    /// Kernel allocations of the model's own (memmap, page tables) in the block.
    pub kernel_pages: u64,
    pub inaccessible: bool,
    /// The name of its System RAM resource.
    pub resource: &'static str,
    pub memmap: Vec<MemmapExtent>,
    pub page_tables: Vec<PageTables>,
}

/// A device that holds memory of the machine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DeviceView {
    VirtioMem {
        id: u32,
        start: u64,
        region_size: u64,
        block_size: u64,
        node: u16,
        /// "sbm" (sub-blocks in memory blocks) or "bbm" (big blocks).
        mode: &'static str,
        /// The sub-block or big-block size.
        unit: u64,
        group: u32,
        requested_size: u64,
        plugged_size: u64,
        offline_threshold: u64,
        memory_blocks: u64,
        waiting: Option<String>,
    },
    Kmem {
        id: u32,
        /// Its name under /sys/bus/dax/devices ("dax0.0").
        dax: String,
        /// daxX.Y/state: "unplugged" or the online type it was added with.
        state: &'static str,
        start: u64,
        size: u64,
        node: u16,
        group: u32,
        memmap_on_memory: bool,
        memmap_on_memory_refused: Option<String>,
    },
}

impl DeviceView {
    /// The physical range the device spans.
    pub fn span(&self) -> (u64, u64) {
        match *self {
            DeviceView::VirtioMem {
                start, region_size, ..
            } => (start, start + region_size),
            DeviceView::Kmem { start, size, .. } => (start, start + size),
        }
    }
}

/// A ZONE_DEVICE mapping (memremap_pages()).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PgmapView {
    pub id: u32,
    pub start: u64,
    pub size: u64,
    pub namespace_size: u64,
    pub end_trunc: u64,
    pub node: u16,
    pub mode: &'static str,
    pub map: &'static str,
    pub align: u64,
    pub vmemmap_shift: u32,
    /// Pages in each compound page (1 << vmemmap_shift).
    pub pages_per_compound_page: u64,
    pub vmemmap_optimized: bool,
    pub data_offset: u64,
    pub npfns: u64,
    pub memmap_pages: u64,
    pub memmap_buddy_pages: u64,
    pub memmap_device_pages: u64,
    pub pagetable_pages: u64,
    pub altmap: Option<AltmapView>,
    pub namespace: String,
    pub dax: Option<String>,
}

/// What occupies a stretch of the physical address space.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RegionKind {
    /// System RAM (booted or hot-added).
    Ram,
    /// Memory a device maps into ZONE_DEVICE (pmem, device-dax), or a region that may hold it.
    Device,
    /// Anything else /proc/iomem names: firmware, reserved, PCI windows, ROMs.
    Reserved,
    /// Nothing.
    Hole,
}

/// One stretch `[start, end)` of the physical address space, as /proc/iomem's top level
/// names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Region {
    pub start: u64,
    pub end: u64,
    pub kind: RegionKind,
    /// The resource's name; empty for a hole.
    pub name: String,
}

/// The physical address space: its top-level regions and holes, and where a hot-add may go.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AddressMap {
    /// Sorted and contiguous from 0, up to the last resource or the hot-plug area's start.
    pub regions: Vec<Region>,
    /// Where the platform puts hot-pluggable memory.
    pub hotplug_base: u64,
    /// One past the highest address a hot-add may cover (mhp_get_pluggable_range()).
    pub pluggable_end: u64,
}

/// Everything a picture or a JSON reader needs of a machine at once, each part
/// run-length coded or per device, so its size follows the machine's shape, not its size.
#[derive(Debug, Clone, Serialize)]
pub struct Overview {
    pub arch: &'static str,
    pub kernel: &'static str,
    pub section_size: u64,
    pub block_size: u64,
    pub page_size: u64,
    pub address_map: AddressMap,
    pub sections: Vec<SectionRun>,
    pub blocks: Vec<BlockRow>,
    pub pgmaps: Vec<PgmapView>,
    pub devices: Vec<DeviceView>,
    pub totals: Totals,
}

impl Machine {
    /// The machine as one value.
    pub fn overview(&self) -> Overview {
        let map = MapView::of(self);
        let g = self.geometry();
        Overview {
            arch: self.target().name(),
            kernel: self.target().kernel.name,
            section_size: g.section_size,
            block_size: self.block_size(),
            page_size: g.page_size,
            address_map: self.address_map(),
            sections: map.runs,
            blocks: map.rows,
            pgmaps: self.pgmap_views(),
            devices: self.device_views(),
            totals: map.totals,
        }
    }

    /// The physical address space as top-level regions and holes.
    pub fn address_map(&self) -> AddressMap {
        let mut regions: Vec<Region> = Vec::new();
        let mut at = 0u64;
        let device = |a: u64, b: u64| self.pgmaps().values().any(|p| p.start < b && p.end > a);
        for r in &self.iomem().top {
            let end = r.end.saturating_add(1);
            if r.start > at {
                regions.push(hole(at, r.start));
            }
            let kind = if r.holds_ram() {
                RegionKind::Ram
            } else if device(r.start, end) || r.name.starts_with("Persistent Memory") {
                RegionKind::Device
            } else {
                RegionKind::Reserved
            };
            regions.push(Region {
                start: r.start,
                end,
                kind,
                name: r.name.to_string(),
            });
            at = at.max(end);
        }
        let hotplug_base = self.boot_info().hotplug_base;
        if hotplug_base > at {
            regions.push(hole(at, hotplug_base));
        }
        AddressMap {
            regions,
            hotplug_base,
            pluggable_end: self.pluggable_range().1.saturating_add(1),
        }
    }

    /// The vmemmap extents that describe `[start, start + size)`.
    pub fn memmap_extents(&self, start: u64, size: u64) -> Vec<MemmapExtent> {
        let g = self.geometry();
        let v = self.vmemmap();
        let (a, b) = self.vmemmap_pages_of(start, size);
        let pfn_of = |vpn: u64| g.vmemmap_pfn(vpn << g.page_shift);
        v.iter(a, b)
            .map(|(s, e, map)| MemmapExtent {
                backing_pages: match map.sharing {
                    Sharing::Own => e - s,
                    Sharing::Dedup {
                        period,
                        unique,
                        phase,
                        ..
                    } => crate::vmemmap::backing_pages_for(s, e, period, unique, phase),
                },
                first_vmemmap_page: s,
                vmemmap_pages: e - s,
                first_pfn: pfn_of(s),
                end_pfn: pfn_of(e),
                level: match map.level {
                    Level::Pmd => MapLevel::Pmd,
                    Level::Pte => MapLevel::Pte,
                    Level::Bolted { pages } => MapLevel::Bolted {
                        bytes: pages * g.page_size,
                    },
                },
                origin: map.origin.name(),
                sharing: match map.sharing {
                    Sharing::Own => Shared::Own,
                    Sharing::Dedup {
                        period,
                        unique,
                        read_only,
                        ..
                    } => Shared::Dedup {
                        period,
                        unique,
                        read_only,
                    },
                },
            })
            .collect()
    }

    /// The page tables that map the memmap of `[start, start + size)`.
    pub fn page_tables(&self, start: u64, size: u64) -> Vec<PageTables> {
        let (a, b) = self.vmemmap_pages_of(start, size);
        self.vmemmap()
            .tables_in(a, b)
            .into_iter()
            .map(|(level, tables)| PageTables { level, tables })
            .collect()
    }

    /// The vmemmap pages `[a, b)` that hold the struct pages of `[start, start + size)`.
    fn vmemmap_pages_of(&self, start: u64, size: u64) -> (u64, u64) {
        let g = self.geometry();
        let v = self.vmemmap();
        (
            v.vpn(g.vmemmap_offset(start >> g.page_shift)),
            v.vpn_up(g.vmemmap_offset(start.saturating_add(size) >> g.page_shift)),
        )
    }

    /// Section `nr`, or None beyond NR_MEM_SECTIONS.
    pub fn section_view(&self, nr: u64) -> Option<SectionView> {
        if nr >= self.sections().nr_sections() {
            return None;
        }
        let g = self.geometry();
        let s = self.sections().state(SectionNr(nr));
        let start = nr << g.section_size_bits;
        let active = if s.early() {
            g.subsections_per_section
        } else {
            s.usage.map_or(0, |u| u.count())
        };
        Some(SectionView {
            nr,
            start,
            size: g.section_size,
            flags: s.flag_names(),
            present: s.present(),
            valid: s.valid(),
            online: s.online(),
            early: s.early(),
            zone_device: s.zone_device_tainted(),
            nid: s.nid,
            block: self.units().block_of_section(SectionNr(nr)).0,
            subsection_map: s.usage.map(|u| u.bits(g.subsections_per_section)),
            subsections: (active, g.subsections_per_section),
            memmap: self.memmap_extents(start, g.section_size),
            page_tables: self.page_tables(start, g.section_size),
        })
    }

    /// Memory block `id`, when it exists.
    pub fn block_view(&self, id: u64) -> Option<BlockView> {
        let id = BlockId(id);
        let b = self.blocks().get(&id)?;
        let start = self.units().block_start(id);
        Some(BlockView {
            id: id.0,
            start,
            size: self.block_size(),
            state: b.state.name(),
            zone: b.zone.map(|z| z.name()),
            valid_zones: self.valid_zones(id).unwrap_or_default(),
            nid: b.nid,
            early: b.early,
            phys_index: crate::files::phys_index(id),
            nr_vmemmap_pages: b.nr_vmemmap_pages(),
            altmap: b
                .vmem_altmap(self.units().pages_per_block())
                .as_ref()
                .map(AltmapView::from),
            ram_pages: b.ram_pages,
            reserved_pages: b.reserved_pages,
            unmovable_pages: b.unmovable_pages,
            movable_pages: b.movable_pages,
            hugetlb_pages: b.hugetlb_pages,
            fake_offline_pages: b.fake_offline_pages,
            group: b.group,
            kernel_pages: self.kernel_pages_on_block(id),
            inaccessible: b.inaccessible,
            resource: b.resource,
            memmap: self.memmap_extents(start, self.block_size()),
            page_tables: self.page_tables(start, self.block_size()),
        })
    }

    /// The ZONE_DEVICE mappings.
    pub fn pgmap_views(&self) -> Vec<PgmapView> {
        self.pgmaps().values().map(pgmap_view).collect()
    }

    /// ZONE_DEVICE mapping `id`, when it exists.
    pub fn pgmap_view(&self, id: u32) -> Option<PgmapView> {
        self.pgmaps().get(&id).map(pgmap_view)
    }

    /// The devices that hold memory: virtio-mem devices, then dax/kmem ones.
    pub fn device_views(&self) -> Vec<DeviceView> {
        let mut out = self.virtio_mem_views();
        out.extend(self.kmem_views());
        out
    }

    /// The virtio-mem devices.
    pub fn virtio_mem_views(&self) -> Vec<DeviceView> {
        self.virtio_mem_devices()
            .map(|d| {
                let (mode, unit) = match d.mode {
                    crate::virtio_mem::Mode::Sbm { sb_size } => ("sbm", sb_size),
                    crate::virtio_mem::Mode::Bbm { bb_size } => ("bbm", bb_size),
                };
                DeviceView::VirtioMem {
                    id: d.id,
                    start: d.start,
                    region_size: d.region_size,
                    block_size: d.device_block_size,
                    node: d.nid,
                    mode,
                    unit,
                    group: d.group,
                    requested_size: d.requested_size,
                    plugged_size: self.virtio_mem_plugged_size(d),
                    offline_threshold: d.offline_threshold,
                    memory_blocks: d.blocks.len(),
                    waiting: d.waiting.clone(),
                }
            })
            .collect()
    }

    /// The dax devices dax/kmem made System RAM.
    pub fn kmem_views(&self) -> Vec<DeviceView> {
        self.kmem_devices().map(kmem_view).collect()
    }

    /// /proc/iomem as data.
    pub fn resource_lines(&self) -> Vec<ResourceLine> {
        self.iomem()
            .walk()
            .into_iter()
            .map(|(depth, r)| ResourceLine {
                depth,
                start: r.start,
                end: r.end,
                name: r.name.to_string(),
            })
            .collect()
    }

    /// The numbers a summary shows.
    pub fn totals(&self) -> Totals {
        let g = self.geometry();
        // One pass over the stats, not one per key.
        let all = self.stats();
        let s = |k: &str| all.iter().find(|(n, _)| *n == k).map_or(0, |(_, v)| *v);
        let saved_dedup_pages = self
            .pgmaps()
            .values()
            .filter(|p| p.vmemmap_optimized)
            .map(|p| {
                let full = (p.size() >> g.page_shift) * g.struct_page_size / g.page_size;
                full.saturating_sub(p.memmap_pages)
            })
            .sum();
        Totals {
            page_size: g.page_size,
            mem_total_kb: s("mem_total_kb"),
            mem_free_kb: s("mem_free_kb"),
            blocks_online: s("blocks_online"),
            blocks: s("blocks"),
            sections_present: s("sections_present"),
            memmap_boot_pages: s("memmap_boot_pages"),
            memmap_buddy_pages: s("memmap_buddy_pages"),
            memmap_altmap_pages: s("memmap_altmap_pages"),
            memmap_device_pages: s("memmap_device_pages"),
            vmemmap_pagetable_pages: s("vmemmap_pagetable_pages"),
            vmemmap_pmd_mappings: s("vmemmap_pmd_mappings"),
            vmemmap_pte_mappings: s("vmemmap_pte_mappings"),
            saved_dedup_pages,
            hvo_freed_pages: s("hvo_freed_pages"),
            hugetlb_kb: s("hugetlb_kb"),
            pgmaps: s("pgmaps"),
        }
    }
}

fn pgmap_view(p: &crate::memremap::DevPagemap) -> PgmapView {
    PgmapView {
        id: p.id,
        start: p.start,
        size: p.size(),
        namespace_size: p.res_size,
        end_trunc: p.end_trunc,
        node: p.nid,
        mode: p.mode.name(),
        map: p.map.name(),
        align: p.align,
        vmemmap_shift: p.vmemmap_shift,
        pages_per_compound_page: p.compound_pages(),
        vmemmap_optimized: p.vmemmap_optimized,
        data_offset: p.data_offset,
        npfns: p.npfns,
        memmap_pages: p.memmap_pages,
        memmap_buddy_pages: p.memmap_buddy_pages,
        memmap_device_pages: p.memmap_device_pages,
        pagetable_pages: p.pagetable_pages,
        altmap: p.altmap.as_ref().map(AltmapView::from),
        namespace: p.namespace.clone(),
        dax: p.dax.clone(),
    }
}

/// A dax/kmem device as the read model shows it.
pub fn kmem_view(k: &crate::kmem::KmemDevice) -> DeviceView {
    DeviceView::Kmem {
        id: k.id,
        dax: k.dax.clone(),
        state: k.state.name(),
        start: k.start,
        size: k.size,
        node: k.nid,
        group: k.group,
        memmap_on_memory: k.memmap_on_memory,
        memmap_on_memory_refused: k.memmap_on_memory_refused.clone(),
    }
}

fn hole(start: u64, end: u64) -> Region {
    Region {
        start,
        end,
        kind: RegionKind::Hole,
        name: String::new(),
    }
}
