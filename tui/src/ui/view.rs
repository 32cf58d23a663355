//! What the UI shows of one machine, computed once each time the machine changes: the
//! sections as run-length coded categories (so a 64 TiB machine draws as fast as a small
//! one), the memory blocks merged into lsmem-like rows, and the totals.

use mm::memory_block::BlockState;
use mm::units::{BlockId, SectionNr};
use mm::Machine;

/// The colour class of a section (or sub-section) on the memory map.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Cat {
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

impl Cat {
    pub const LEGEND: [Cat; 7] = [
        Cat::Absent,
        Cat::Boot,
        Cat::Offline,
        Cat::Normal,
        Cat::Movable,
        Cat::Device,
        Cat::Vmemmap,
    ];

    /// What the help overlay says of it.
    pub fn meaning(self) -> &'static str {
        match self {
            Cat::Absent => "no memory",
            Cat::Boot => "boot memory, online",
            Cat::Offline => "hot-added (or offlined), offline",
            Cat::Normal => "online in a kernel zone (Normal, DMA32, DMA)",
            Cat::Movable => "online in ZONE_MOVABLE",
            Cat::Device => "ZONE_DEVICE: pmem, device-dax",
            Cat::Vmemmap => "struct pages carved out of the memory itself (altmap)",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Cat::Absent => "absent",
            Cat::Boot => "boot",
            Cat::Offline => "offline",
            Cat::Normal => "normal",
            Cat::Movable => "movable",
            Cat::Device => "device",
            Cat::Vmemmap => "vmemmap",
        }
    }
}

/// What one section looks like on the map.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Key {
    pub cat: Cat,
    /// Part of the section holds struct pages carved out of it.
    pub vmemmap: bool,
    /// Active sub-sections, for partly populated sections.
    pub active: u16,
}

/// A run of sections `[start, end)` with the same key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Run {
    pub start: u64,
    pub end: u64,
    pub key: Key,
}

/// One lsmem-like row: consecutive blocks with the same state and zone.
#[derive(Debug, Clone, PartialEq, Eq)]
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

/// The derived view of one machine.
#[derive(Debug, Clone, Default)]
pub struct MachineView {
    pub runs: Vec<Run>,
    /// pfn ranges holding carved-out struct pages.
    pub vmemmap_areas: Vec<(u64, u64)>,
    pub rows: Vec<BlockRow>,
    pub totals: Vec<(&'static str, String)>,
    /// One past the last section worth showing.
    pub end_section: u64,
}

impl MachineView {
    pub fn of(m: &Machine) -> MachineView {
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
        let mut runs: Vec<Run> = Vec::new();
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
            let cat = match m.blocks().get(&u.block_of_section(nr)) {
                None => Cat::Device,
                Some(b) if b.state != BlockState::Online => Cat::Offline,
                Some(b) if b.early => Cat::Boot,
                Some(b) => match b.zone {
                    Some(arch::ZoneType::Movable) => Cat::Movable,
                    _ => Cat::Normal,
                },
            };
            let active = if s.early() {
                g.subsections_per_section as u16
            } else {
                s.usage.map_or(0, |x| x.count() as u16)
            };
            let key = Key {
                cat,
                vmemmap,
                active,
            };
            match runs.last_mut() {
                Some(r) if r.end == nr.0 && r.key == key => r.end += 1,
                _ => runs.push(Run {
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
        MachineView {
            runs,
            vmemmap_areas: areas,
            rows: block_rows(m),
            totals: totals(m),
            end_section: end_section.min(m.sections().nr_sections()),
        }
    }

    /// The key of section `nr` (absent when no run holds it).
    pub fn key(&self, nr: u64) -> Key {
        let i = self.runs.partition_point(|r| r.end <= nr);
        match self.runs.get(i) {
            Some(r) if r.start <= nr => r.key,
            _ => Key {
                cat: Cat::Absent,
                vmemmap: false,
                active: 0,
            },
        }
    }

    /// The strongest category among sections `[a, b)`, whether any holds carved-out
    /// vmemmap, and whether the cell is only partly populated.
    pub fn cell(&self, a: u64, b: u64) -> (Cat, bool, bool) {
        let mut i = self.runs.partition_point(|r| r.end <= a);
        let mut best = Cat::Absent;
        let mut vm = false;
        let mut covered = 0;
        while let Some(r) = self.runs.get(i) {
            if r.start >= b {
                break;
            }
            covered += r.end.min(b) - r.start.max(a);
            if rank(r.key.cat) > rank(best) {
                best = r.key.cat;
            }
            vm |= r.key.vmemmap;
            i += 1;
        }
        (best, vm, covered > 0 && covered < b - a)
    }

    /// Sections whose key differs between `self` and `old`, as ranges.
    pub fn changed_since(&self, old: &MachineView) -> Vec<(u64, u64)> {
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

/// Which category wins a cell that holds several.
fn rank(c: Cat) -> u8 {
    match c {
        Cat::Absent => 0,
        Cat::Boot => 1,
        Cat::Offline => 2,
        Cat::Normal => 3,
        Cat::Movable => 4,
        Cat::Device => 5,
        Cat::Vmemmap => 6,
    }
}

/// The category of each sub-section of section `nr`.
pub fn subsection_cats(m: &Machine, v: &MachineView, nr: u64) -> Vec<Cat> {
    let g = m.geometry();
    let key = v.key(nr);
    let s = m.sections().state(SectionNr(nr));
    let start = nr * g.pages_per_section;
    (0..g.subsections_per_section)
        .map(|i| {
            let lo = start + i * g.pages_per_subsection;
            let hi = lo + g.pages_per_subsection;
            let active = s.early() || s.usage.is_some_and(|u| u.test(i));
            if key.cat == Cat::Absent || !active {
                return Cat::Absent;
            }
            if v.vmemmap_areas.iter().any(|&(a, b)| a < hi && b > lo) {
                return Cat::Vmemmap;
            }
            // A boot section may hold a device's sub-sections (legacy pmem next to RAM).
            if key.cat != Cat::Device
                && m.pgmaps()
                    .values()
                    .any(|p| p.start >> g.page_shift < hi && p.end >> g.page_shift > lo)
            {
                return Cat::Device;
            }
            key.cat
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
        r.zone = m
            .read(&format!(
                "/sys/devices/system/memory/memory{}/valid_zones",
                BlockId(r.first).0
            ))
            .map(|s| s.trim().to_string())
            .unwrap_or_default();
    }
    rows
}

fn kib(pages: u64, page_size: u64) -> String {
    arch::approx(pages * page_size)
}

/// A physical range as every pane writes it: inclusive, in hex, like lsmem's RANGE.
pub fn range(start: u64, size: u64) -> String {
    format!("{start:#x}-{:#x}", start + size.max(1) - 1)
}

fn totals(m: &Machine) -> Vec<(&'static str, String)> {
    let ps = m.geometry().page_size;
    let s = |k: &str| m.stat(k).unwrap_or(0);
    let saved_dedup: u64 = m
        .pgmaps()
        .values()
        .filter(|p| p.vmemmap_optimized)
        .map(|p| {
            let full = (p.size() >> m.geometry().page_shift) * m.geometry().struct_page_size / ps;
            full.saturating_sub(p.memmap_pages)
        })
        .sum();
    vec![
        ("MemTotal", format!("{} kB", s("mem_total_kb"))),
        ("MemFree", format!("{} kB", s("mem_free_kb"))),
        (
            "blocks online",
            format!("{}/{}", s("blocks_online"), s("blocks")),
        ),
        ("sections present", s("sections_present").to_string()),
        ("memmap boot", kib(s("memmap_boot_pages"), ps)),
        ("memmap buddy", kib(s("memmap_buddy_pages"), ps)),
        ("memmap altmap", kib(s("memmap_altmap_pages"), ps)),
        ("memmap device", kib(s("memmap_device_pages"), ps)),
        ("page tables", kib(s("vmemmap_pagetable_pages"), ps)),
        (
            "PMD / PTE maps",
            format!(
                "{} / {}",
                s("vmemmap_pmd_mappings"),
                s("vmemmap_pte_mappings")
            ),
        ),
        ("saved: altmap", kib(s("memmap_altmap_pages"), ps)),
        ("saved: dax dedup", kib(saved_dedup, ps)),
        ("saved: HVO", kib(s("hvo_freed_pages"), ps)),
        ("HugeTLB", format!("{} kB", s("hugetlb_kb"))),
        ("pgmaps", s("pgmaps").to_string()),
    ]
}
