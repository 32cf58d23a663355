//! The physical address map as a picture: one row per top-level /proc/iomem region (and
//! hole), its sections coloured by state and zone, its memory blocks outlined and numbered
//! as lsmem numbers them, the struct pages carved out of memory marked, devices listed, a
//! title with the totals that matter and a legend. Drawn from the read model's runs, so a
//! 64 TiB machine costs what its shape costs, not its size.

use super::palette;
use super::svg::{text_width, Anchor, Svg};
use mm::read::{MapView, RegionKind, SectionKind};
use mm::Machine;

const WIDTH: u32 = 1000;
/// The bar's left edge and width; addresses go left of it, names right.
const BAR_X: f64 = 170.0;
const BAR_W: f64 = 560.0;
const ROW_H: f64 = 40.0;
const BAR_H: f64 = 18.0;
/// Blocks a row numbers one by one; above it, runs of alike blocks are labelled.
const BLOCKS_NUMBERED: u64 = 48;
/// At most this many sections in a row draws each section's sub-sections.
const SUBSECTION_SECTIONS: u64 = 16;

/// The title lines: architecture, version, command line, totals.
pub(super) fn title(s: &mut Svg, m: &Machine, y: &mut f64, what: &str) {
    let t = m.totals();
    let target = m.target();
    s.text_styled(
        20.0,
        *y,
        18.0,
        Anchor::Start,
        r#"font-weight="bold""#,
        &format!("{what}: {} · Linux {}", target.name(), target.kernel.name),
    );
    *y += 20.0;
    let cmdline = m.cmdline().text.trim();
    let cmdline = if cmdline.is_empty() {
        "(none)".to_string()
    } else {
        cut(cmdline, 150)
    };
    s.text(
        20.0,
        *y,
        12.0,
        Anchor::Start,
        &format!("command line: {cmdline}"),
    );
    *y += 16.0;
    let ps = t.page_size;
    let pages = |p: u64| format!("{p} ({})", arch::human(p * ps));
    s.text(
        20.0,
        *y,
        12.0,
        Anchor::Start,
        &format!(
            "MemTotal {} kB ({}), {} of {} blocks online, {} present sections of {}",
            t.mem_total_kb,
            arch::approx(t.mem_total_kb << 10),
            t.blocks_online,
            t.blocks,
            t.sections_present,
            arch::human(m.geometry().section_size)
        ),
    );
    *y += 16.0;
    s.text(
        20.0,
        *y,
        12.0,
        Anchor::Start,
        &format!(
            "memmap pages: boot {}, buddy {}, altmap {}, device {}; vmemmap page tables {}",
            pages(t.memmap_boot_pages),
            pages(t.memmap_buddy_pages),
            pages(t.memmap_altmap_pages),
            pages(t.memmap_device_pages),
            pages(t.vmemmap_pagetable_pages)
        ),
    );
    *y += 22.0;
}

/// `text` cut to `max` characters, saying so.
fn cut(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_string()
    } else {
        format!("{}…", text.chars().take(max - 1).collect::<String>())
    }
}

/// The map of `m`, or of `[start, start + size)` of it.
pub fn map_svg(m: &Machine, range: Option<(u64, u64)>) -> String {
    let view = MapView::of(m);
    let am = m.address_map();
    let g = m.geometry();
    let ss = g.section_size;
    let mut s = Svg::new(WIDTH, 0);
    for p in palette::section_patterns() {
        s.def(&p);
    }
    let mut y = 28.0;
    title(&mut s, m, &mut y, "physical address map");
    // The rows: regions and holes, clipped to the range.
    let (lo, hi) = range.map_or((0, u64::MAX), |(a, n)| (a, a.saturating_add(n)));
    if let Some((a, n)) = range {
        s.text(
            20.0,
            y,
            12.0,
            Anchor::Start,
            &format!(
                "range [{a:#x}, {:#x}), {}",
                a.saturating_add(n),
                arch::human(n)
            ),
        );
        y += 18.0;
    }
    let rows: Vec<(u64, u64, RegionKind, String)> = am
        .regions
        .iter()
        .filter(|r| r.end > lo && r.start < hi)
        .map(|r| (r.start.max(lo), r.end.min(hi), r.kind, r.name.clone()))
        .collect();
    // A range is drawn as it is; the whole map folds the low megabyte's small regions.
    let mut rows = if range.is_some() {
        rows
    } else {
        group_small(rows, ss)
    };
    // What lies past the regions: the rest of the hot-plug area up to the range's end.
    let last = rows.last().map_or(lo, |r| r.1);
    if range.is_some() && last < hi && hi != u64::MAX {
        rows.push((last, hi, RegionKind::Hole, String::new()));
    }
    s.text(BAR_X - 10.0, y, 11.0, Anchor::End, "start");
    s.text(
        BAR_X,
        y,
        11.0,
        Anchor::Start,
        "sections (colour), memory blocks (outlines)",
    );
    s.text(
        BAR_X + BAR_W + 10.0,
        y,
        11.0,
        Anchor::Start,
        "size, what /proc/iomem names",
    );
    y += 8.0;
    for (a, b, kind, name) in &rows {
        draw_row(&mut s, m, &view, (*a, *b), *kind, name, y, range.is_some());
        y += ROW_H;
    }
    // The end of the last row.
    if let Some(last) = rows.last() {
        s.text(
            BAR_X - 10.0,
            y - ROW_H + BAR_H + 14.0,
            10.0,
            Anchor::End,
            &format!("{:#x}", last.1),
        );
    }
    y += 14.0;
    s.text(
        20.0,
        y,
        12.0,
        Anchor::Start,
        &format!(
            "hot-plug area: from {:#x} up to {:#x} (memory blocks of {}, sections of {})",
            am.hotplug_base,
            am.pluggable_end,
            arch::human(m.block_size()),
            arch::human(ss)
        ),
    );
    y += 20.0;
    y = devices(&mut s, m, y, (lo, hi));
    y = legend(&mut s, y);
    s.finish(y.ceil() as u32 + 10)
}

/// Consecutive regions smaller than a section that share one section (the first megabyte
/// of an x86 machine: ROMs, reserved and a little RAM) drawn as one row that names them.
fn group_small(
    rows: Vec<(u64, u64, RegionKind, String)>,
    section: u64,
) -> Vec<(u64, u64, RegionKind, String)> {
    type Row = (u64, u64, RegionKind, String);
    fn flush(group: &mut Vec<Row>, out: &mut Vec<Row>) {
        match group.len() {
            0 => {}
            1 => out.append(group),
            n => {
                let (a, b) = (group[0].0, group[n - 1].1);
                let mut names: Vec<&str> = Vec::new();
                for g in group.iter() {
                    let name = if g.3.is_empty() { "hole" } else { g.3.as_str() };
                    if !names.contains(&name) {
                        names.push(name);
                    }
                }
                let kind = if group.iter().any(|g| g.2 == RegionKind::Ram) {
                    RegionKind::Ram
                } else {
                    RegionKind::Reserved
                };
                out.push((a, b, kind, format!("{n} regions: {}", names.join(", "))));
                group.clear();
            }
        }
    }
    let mut out: Vec<Row> = Vec::new();
    let mut group: Vec<Row> = Vec::new();
    for r in rows {
        let small = r.1 - r.0 < section;
        let fits = group
            .first()
            .is_some_and(|g| r.1 - g.0 <= section && g.0 / section == (r.1 - 1) / section);
        if small && (group.is_empty() || fits) {
            group.push(r);
            continue;
        }
        flush(&mut group, &mut out);
        if small {
            group.push(r);
        } else {
            out.push(r);
        }
    }
    flush(&mut group, &mut out);
    out
}

/// Rectangles along a bar, merged where they fall in one pixel: a 64 TiB machine's
/// half-million runs cost what the picture's width costs. A pixel takes the class that
/// wins it (SectionKind::rank).
struct Strip {
    cur: Option<(f64, f64, SectionKind)>,
}

impl Strip {
    fn new() -> Strip {
        Strip { cur: None }
    }

    fn push(&mut self, s: &mut Svg, x0: f64, x1: f64, k: SectionKind, y: f64, h: f64) {
        // Marks of the carved-out vmemmap closer than 2 px read as one (no banding).
        let gap = if k == SectionKind::Vmemmap { 2.0 } else { 0.5 };
        match &mut self.cur {
            Some((a, b, kind)) if x0 - *b < gap && (*kind == k || x1 - *a < 1.0) => {
                *b = b.max(x1);
                if k.rank() > kind.rank() {
                    *kind = k;
                }
            }
            _ => {
                self.flush(s, y, h);
                self.cur = Some((x0, x1, k));
            }
        }
    }

    fn flush(&mut self, s: &mut Svg, y: f64, h: f64) {
        if let Some((a, b, k)) = self.cur.take() {
            s.rect(a, y, (b - a).max(0.5), h, &palette::section_fill(k), None);
        }
    }
}

/// One region's row.
#[allow(clippy::too_many_arguments)]
fn draw_row(
    s: &mut Svg,
    m: &Machine,
    view: &MapView,
    (a, b): (u64, u64),
    kind: RegionKind,
    name: &str,
    y: f64,
    fine: bool,
) {
    let g = m.geometry();
    let ps = g.page_shift;
    let span = (b - a) as f64;
    let x_of = |addr: u64| BAR_X + (addr.saturating_sub(a)) as f64 / span * BAR_W;
    s.text(
        BAR_X - 10.0,
        y + 13.0,
        10.0,
        Anchor::End,
        &format!("{a:#x}"),
    );
    // Background: what the region is when no section says more.
    let bg = match kind {
        RegionKind::Hole => "#ffffff".to_string(),
        RegionKind::Reserved => "#d9d9d9".to_string(),
        // What memremap_pages() mapped shows as ZONE_DEVICE sections; the rest of a device's
        // range has no struct pages.
        RegionKind::Device => palette::UNMAPPED_DEVICE.to_string(),
        RegionKind::Ram => palette::section(SectionKind::Absent).hex(),
    };
    s.rect(BAR_X, y, BAR_W, BAR_H, &bg, Some("#606060"));
    // Sections, at sub-section resolution when the row holds few of them.
    let (sa, sb) = (a / g.section_size, b.div_ceil(g.section_size));
    if fine && sb - sa <= SUBSECTION_SECTIONS {
        for nr in sa..sb {
            let kinds = mm::read::subsection_kinds(m, view, nr);
            let sub = g.section_size / kinds.len().max(1) as u64;
            for (i, k) in kinds.iter().enumerate() {
                let st = nr * g.section_size + i as u64 * sub;
                let (x0, x1) = (x_of(st.max(a)), x_of((st + sub).min(b)));
                if *k != SectionKind::Absent && x1 > x0 {
                    s.rect(x0, y, x1 - x0, BAR_H, &palette::section_fill(*k), None);
                }
            }
            let x = x_of((nr * g.section_size).max(a));
            s.line(x, y, x, y + BAR_H, "#ffffff", 0.5);
        }
    } else {
        let first = view.runs.partition_point(|r| r.end <= sa);
        let mut strip = Strip::new();
        for r in view.runs[first..].iter().take_while(|r| r.start < sb) {
            let (ra, rb) = (
                (r.start * g.section_size).max(a),
                (r.end * g.section_size).min(b),
            );
            if rb > ra {
                strip.push(s, x_of(ra), x_of(rb), r.key.kind, y, BAR_H);
            }
        }
        strip.flush(s, y, BAR_H);
    }
    // Struct pages carved out of the memory: a mark along the bar's top.
    let first = view.vmemmap_areas.partition_point(|v| (v.1 << ps) <= a);
    let mut strip = Strip::new();
    for v in view.vmemmap_areas[first..]
        .iter()
        .take_while(|v| (v.0 << ps) < b)
    {
        let (va, vb) = ((v.0 << ps).max(a), (v.1 << ps).min(b));
        let (x0, x1) = (x_of(va), x_of(vb));
        strip.push(s, x0, x1.max(x0 + 2.0), SectionKind::Vmemmap, y - 6.0, 6.0);
    }
    strip.flush(s, y - 6.0, 6.0);
    // Memory blocks: outlines, numbered when they fit.
    let bs = m.block_size();
    let (ba, bb) = (a / bs, b.div_ceil(bs));
    let blocks: Vec<_> = view
        .rows
        .iter()
        .filter(|r| r.last >= ba && r.first < bb)
        .collect();
    let count: u64 = blocks
        .iter()
        .map(|r| r.last.min(bb - 1) - r.first.max(ba) + 1)
        .sum();
    if count > 0 && count <= BLOCKS_NUMBERED {
        for r in &blocks {
            for id in r.first.max(ba)..=r.last.min(bb - 1) {
                let (x0, x1) = (x_of((id * bs).max(a)), x_of(((id + 1) * bs).min(b)));
                s.rect(x0, y, x1 - x0, BAR_H, "none", Some("#000000"));
                let label = id.to_string();
                if text_width(&label, 9.0) + 2.0 < x1 - x0 {
                    s.text(
                        (x0 + x1) / 2.0,
                        y + BAR_H + 10.0,
                        9.0,
                        Anchor::Middle,
                        &label,
                    );
                }
            }
        }
    } else {
        let mut x_free = BAR_X;
        for r in &blocks {
            let (f, l) = (r.first.max(ba), r.last.min(bb - 1));
            let (x0, x1) = (x_of((f * bs).max(a)), x_of(((l + 1) * bs).min(b)));
            s.rect(x0, y, x1 - x0, BAR_H, "none", Some("#000000"));
            // The zone says why alike-coloured runs are apart (DMA beside Normal).
            let zone = if r.zone.is_empty() {
                String::new()
            } else {
                format!(" ({})", r.zone)
            };
            let label = if f == l {
                format!("memory{f}{zone}")
            } else {
                format!("memory{f}-{l}{zone}")
            };
            let w = text_width(&label, 9.0);
            let at = ((x0 + x1) / 2.0 - w / 2.0).max(x_free);
            if at + w <= BAR_X + BAR_W + 2.0 {
                s.text(at, y + BAR_H + 10.0, 9.0, Anchor::Start, &label);
                x_free = at + w + 6.0;
            }
        }
    }
    let what = match kind {
        RegionKind::Hole if name.is_empty() => "(hole)".to_string(),
        _ => cut(name, 36),
    };
    s.text(
        BAR_X + BAR_W + 10.0,
        y + 13.0,
        11.0,
        Anchor::Start,
        &format!("{:>9}  {what}", arch::approx(b - a)),
    );
}

/// The devices that map or plug memory in `[lo, hi)`: namespaces, virtio-mem, kmem.
fn devices(s: &mut Svg, m: &Machine, mut y: f64, (lo, hi): (u64, u64)) -> f64 {
    let mut lines: Vec<String> = Vec::new();
    for p in m.pgmap_views() {
        if p.start < hi && p.start + p.size > lo {
            lines.push(format!(
                "pgmap {} {}: [{:#x}, {:#x}) {} {}, memmap {} ({} pages{})",
                p.id,
                p.namespace,
                p.start,
                p.start + p.size,
                arch::human(p.size),
                p.mode,
                p.map,
                p.memmap_pages,
                if p.vmemmap_optimized {
                    ", deduplicated"
                } else {
                    ""
                }
            ));
        }
    }
    for d in m.device_views() {
        let (a, b) = d.span();
        if a >= hi || b <= lo {
            continue;
        }
        lines.push(match d {
            mm::read::DeviceView::VirtioMem {
                id,
                plugged_size,
                requested_size,
                ..
            } => format!(
                "virtio-mem {id}: region [{a:#x}, {b:#x}), plugged {} of {} requested",
                arch::human(plugged_size),
                arch::human(requested_size)
            ),
            mm::read::DeviceView::Kmem { dax, state, .. } => {
                format!("kmem {dax} ({state}): [{a:#x}, {b:#x}) as System RAM (kmem)")
            }
        });
    }
    for d in m.platform_devices() {
        let (a, b) = (d.start, d.start + d.size);
        if a < hi && b > lo {
            lines.push(format!(
                "{} device {}: {} in blocks {}",
                d.driver.name(),
                d.id,
                arch::human(d.size),
                d.blocks
                    .iter()
                    .map(|b| b.0.to_string())
                    .collect::<Vec<_>>()
                    .join(" ")
            ));
        }
    }
    if lines.is_empty() {
        return y;
    }
    s.text_styled(
        20.0,
        y,
        12.0,
        Anchor::Start,
        r#"font-weight="bold""#,
        "devices",
    );
    y += 16.0;
    for l in lines {
        s.text(30.0, y, 11.0, Anchor::Start, &cut(&l, 150));
        y += 15.0;
    }
    y + 6.0
}

/// What every colour and mark means.
fn legend(s: &mut Svg, mut y: f64) -> f64 {
    s.text_styled(
        20.0,
        y,
        12.0,
        Anchor::Start,
        r#"font-weight="bold""#,
        "legend",
    );
    y += 8.0;
    let mut col = 0;
    for k in SectionKind::LEGEND {
        let x = 30.0 + f64::from(col) * 480.0;
        s.rect(x, y, 16.0, 12.0, &palette::section_fill(k), Some("#606060"));
        s.text(
            x + 22.0,
            y + 10.5,
            11.0,
            Anchor::Start,
            &format!("{}: {}", k.label(), k.meaning()),
        );
        col = (col + 1) % 2;
        if col == 0 {
            y += 18.0;
        }
    }
    if col != 0 {
        y += 18.0;
    }
    s.rect(30.0, y, 16.0, 12.0, "none", Some("#000000"));
    s.text(
        52.0,
        y + 10.5,
        11.0,
        Anchor::Start,
        "a memory block (memoryN, as lsmem numbers it)",
    );
    s.rect(510.0, y, 16.0, 12.0, "#d9d9d9", Some("#606060"));
    s.text(
        532.0,
        y + 10.5,
        11.0,
        Anchor::Start,
        "reserved, firmware or PCI (not RAM)",
    );
    y += 18.0;
    s.rect(
        510.0,
        y,
        16.0,
        12.0,
        palette::UNMAPPED_DEVICE,
        Some("#606060"),
    );
    s.text(
        532.0,
        y + 10.5,
        11.0,
        Anchor::Start,
        "a device's range not mapped (no struct pages)",
    );
    y + 24.0
}
