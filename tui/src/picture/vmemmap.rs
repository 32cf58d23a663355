//! The vmemmap of a range as a picture: its struct page pages in order, coloured by where
//! their backing pages come from, PMD leaves apart from base pages, and, where pages are
//! shared (device-dax compound pages, HugeTLB vmemmap optimisation), one compound page
//! drawn as Documentation/mm/vmemmap_dedup.rst draws it, with the counts the model computed
//! for the actual range; the page tables it costs.

use super::palette;
use super::svg::{text_width, Anchor, Svg};
use mm::read::{MapLevel, MemmapExtent, Shared};
use mm::Machine;

const WIDTH: u32 = 1000;
const BAR_X: f64 = 40.0;
const BAR_W: f64 = 920.0;
/// Extents listed one per line, at most.
const LISTED: usize = 40;

/// The vmemmap of `[start, start + size)` of `m`.
pub fn vmemmap_svg(m: &Machine, start: u64, size: u64) -> String {
    let extents = m.memmap_extents(start, size);
    let tables = m.page_tables(start, size);
    let g = m.geometry();
    let mut s = Svg::new(WIDTH, 0);
    for p in palette::section_patterns() {
        s.def(&p);
    }
    s.def(
        r##"<pattern id="shared" patternUnits="userSpaceOnUse" width="6" height="6"><rect width="6" height="6" fill="#ffffff"/><path d="M0,6 L6,0" stroke="#808080" stroke-width="1"/></pattern>"##,
    );
    let mut y = 28.0;
    super::map::title(&mut s, m, &mut y, "vmemmap");
    let pages: u64 = extents.iter().map(|e| e.vmemmap_pages).sum();
    let backing: u64 = extents.iter().map(|e| e.backing_pages).sum();
    // The struct pages of the range that has a memmap (a hole has none), counted once
    // even where extents of the listing overlap.
    let (lo, hi) = (
        start >> g.page_shift,
        start.saturating_add(size) >> g.page_shift,
    );
    let mut spans: Vec<(u64, u64)> = extents
        .iter()
        .map(|e| (e.first_pfn.max(lo), e.end_pfn.min(hi)))
        .filter(|(a, b)| a < b)
        .collect();
    spans.sort_unstable();
    let mut struct_pages = 0;
    let mut reach = 0;
    for (a, b) in spans {
        let a = a.max(reach);
        if a < b {
            struct_pages += b - a;
            reach = b;
        }
    }
    let holes = if struct_pages < hi - lo {
        format!(
            " (the other {} pages of the range have none)",
            (hi - lo) - struct_pages
        )
    } else {
        String::new()
    };
    let head = if extents.is_empty() {
        format!(
            "[{start:#x}, {:#x}), {}: no struct pages (nothing of this range has a memmap)",
            start.saturating_add(size),
            arch::human(size)
        )
    } else {
        format!(
            "[{start:#x}, {:#x}), {}: {struct_pages} struct pages of {} B{holes} in {pages} vmemmap pages, backed by {backing} pages ({})",
            start.saturating_add(size),
            arch::human(size),
            g.struct_page_size,
            arch::human(backing * g.page_size)
        )
    };
    s.text(20.0, y, 13.0, Anchor::Start, &head);
    y += 18.0;
    let t: Vec<String> = tables
        .iter()
        .map(|t| format!("{} {}", t.tables, t.level))
        .collect();
    s.text(
        20.0,
        y,
        13.0,
        Anchor::Start,
        &format!(
            "page tables mapping it: {}",
            if t.is_empty() {
                "none".to_string()
            } else {
                t.join(", ")
            }
        ),
    );
    y += 24.0;
    if extents.is_empty() {
        return s.finish(y as u32 + 4);
    }
    // The bar: every vmemmap page of the range, in order.
    s.text(BAR_X, y, 11.0, Anchor::Start, "vmemmap pages in order: colour = where backing pages come from; hatched = mapped to a shared page (past 512 pages, a shared extent's own share on top)");
    y += 6.0;
    let x_of = |p: u64| BAR_X + p as f64 / pages.max(1) as f64 * BAR_W;
    let mut at = 0u64;
    let pmd_pages = g.pmd_size / g.page_size;
    for e in &extents {
        let (x0, x1) = (x_of(at), x_of(at + e.vmemmap_pages));
        let fill = palette::origin(e.origin).hex();
        match e.sharing {
            Shared::Own => s.rect(x0, y, (x1 - x0).max(0.5), 26.0, &fill, None),
            // Few enough pages to see one by one: each drawn in order, own or shared
            // (the extent starts at a compound page, as a pgmap's range does).
            Shared::Dedup { period, unique, .. } if pages <= 512 => {
                for k in 0..e.vmemmap_pages {
                    let (a, b) = (x_of(at + k), x_of(at + k + 1));
                    let f = if k % period.max(1) < unique {
                        fill.as_str()
                    } else {
                        "url(#shared)"
                    };
                    s.rect(a, y, (b - a).max(0.5), 26.0, f, Some("#ffffff"));
                }
            }
            Shared::Dedup { period, unique, .. } => {
                // Own share on top, shared share below, in proportion.
                let own = (unique as f64 / period as f64).max(0.08);
                s.rect(x0, y, (x1 - x0).max(0.5), 26.0 * own, &fill, None);
                s.rect(
                    x0,
                    y + 26.0 * own,
                    (x1 - x0).max(0.5),
                    26.0 * (1.0 - own),
                    "url(#shared)",
                    None,
                );
            }
        }
        // PMD leaves: a tick at each one's start when they are few enough to see.
        if e.level == MapLevel::Pmd && e.vmemmap_pages / pmd_pages.max(1) <= 256 {
            let mut p = 0;
            while p < e.vmemmap_pages {
                let x = x_of(at + p);
                s.line(x, y, x, y + 26.0, "#000000", 0.6);
                p += pmd_pages.max(1);
            }
        }
        at += e.vmemmap_pages;
    }
    s.rect(BAR_X, y, BAR_W, 26.0, "none", Some("#303030"));
    y += 40.0;
    // One compound page of each deduplicated kind, drawn page by page.
    let mut drawn: Vec<(u64, u64)> = Vec::new();
    for e in &extents {
        if let Shared::Dedup { period, unique, .. } = e.sharing {
            if !drawn.contains(&(period, unique)) && drawn.len() < 2 {
                drawn.push((period, unique));
                y = compound(
                    &mut s,
                    e,
                    period,
                    unique,
                    g.page_size,
                    g.struct_page_size,
                    y,
                );
            }
        }
    }
    // The extents, one per line.
    s.text_styled(
        20.0,
        y,
        12.0,
        Anchor::Start,
        r#"font-weight="bold""#,
        "mapping extents",
    );
    y += 16.0;
    for e in extents.iter().take(LISTED) {
        s.rect(
            24.0,
            y - 9.0,
            10.0,
            10.0,
            &palette::origin(e.origin).hex(),
            Some("#606060"),
        );
        s.text(
            40.0,
            y,
            11.0,
            Anchor::Start,
            &format!(
                "pfn [{:#x}, {:#x}): {} vmemmap pages as {}, backed by {} {} pages ({})",
                e.first_pfn,
                e.end_pfn,
                e.vmemmap_pages,
                e.level.label(),
                e.backing_pages,
                e.origin,
                e.sharing.describe()
            ),
        );
        y += 15.0;
    }
    if extents.len() > LISTED {
        s.text(
            40.0,
            y,
            11.0,
            Anchor::Start,
            &format!("… and {} more extents", extents.len() - LISTED),
        );
        y += 15.0;
    }
    y += 8.0;
    // Legend.
    s.text_styled(
        20.0,
        y,
        12.0,
        Anchor::Start,
        r#"font-weight="bold""#,
        "legend",
    );
    y += 8.0;
    let items = [
        ("boot", "boot memory (memblock)"),
        ("buddy", "the buddy allocator (existing RAM)"),
        ("altmap", "the range's own altmap (memmap_on_memory)"),
        ("device", "a device's reservation (pmem map=dev)"),
    ];
    for (i, (o, what)) in items.iter().enumerate() {
        let x = 30.0 + (i % 2) as f64 * 480.0;
        s.rect(x, y, 16.0, 12.0, &palette::origin(o).hex(), Some("#606060"));
        s.text(
            x + 22.0,
            y + 10.5,
            11.0,
            Anchor::Start,
            &format!("{o}: {what}"),
        );
        if i % 2 == 1 {
            y += 18.0;
        }
    }
    s.rect(30.0, y, 16.0, 12.0, "url(#shared)", Some("#606060"));
    s.text(
        52.0,
        y + 10.5,
        11.0,
        Anchor::Start,
        "a vmemmap page mapped to a shared page (no page of its own)",
    );
    s.line(516.0, y, 516.0, y + 12.0, "#000000", 0.8);
    s.text(
        532.0,
        y + 10.5,
        11.0,
        Anchor::Start,
        "the start of a PMD leaf (the rest are base pages)",
    );
    y += 24.0;
    s.finish(y as u32 + 6)
}

/// One compound page's vmemmap, page by page: its own pages, then the ones mapped to the
/// last of them (vmemmap_dedup.rst's figure), with the totals for the extent.
fn compound(
    s: &mut Svg,
    e: &MemmapExtent,
    period: u64,
    unique: u64,
    page_size: u64,
    struct_page: u64,
    mut y: f64,
) -> f64 {
    let compounds = e.vmemmap_pages / period.max(1);
    let huge = period * page_size / struct_page * page_size;
    s.text_styled(
        20.0,
        y,
        12.0,
        Anchor::Start,
        r#"font-weight="bold""#,
        &format!(
            "one {} compound page: {period} vmemmap pages, {unique} with pages of their own, {} mapped to the last of those",
            arch::human(huge),
            period - unique
        ),
    );
    y += 10.0;
    // Cells: all of them when few, else the first ones and the last.
    let shown = period.min(24);
    // A slot for "…" where pages are left out.
    let slots = if shown < period { shown + 1 } else { shown };
    let cell = ((BAR_W - 60.0) / slots as f64).min(36.0);
    let fill = palette::origin(e.origin).hex();
    let mut centres = Vec::new();
    for i in 0..shown {
        let page = if i + 1 == shown { period - 1 } else { i };
        let slot = if shown < period && i + 1 == shown {
            i + 1
        } else {
            i
        };
        let x = BAR_X + slot as f64 * cell;
        let own = page < unique;
        s.rect(
            x,
            y,
            cell - 3.0,
            22.0,
            if own { &fill } else { "url(#shared)" },
            Some("#404040"),
        );
        let label = page.to_string();
        if text_width(&label, 9.0) < cell - 4.0 {
            s.text(
                x + (cell - 3.0) / 2.0,
                y + 15.0,
                9.0,
                Anchor::Middle,
                &label,
            );
        }
        centres.push((x + (cell - 3.0) / 2.0, own));
        if shown < period && i + 2 == shown {
            s.text(
                x + cell + (cell - 3.0) / 2.0,
                y + 15.0,
                11.0,
                Anchor::Middle,
                "…",
            );
        }
    }
    // Arrows from every shared page to the page they map.
    if let Some(&(target, _)) = centres.iter().rfind(|c| c.1) {
        for &(x, own) in &centres {
            if !own {
                s.raw(&format!(
                    r##"<path d="M{:.1},{:.1} Q{:.1},{:.1} {:.1},{:.1}" fill="none" stroke="#606060" stroke-width="0.7"/>"##,
                    x,
                    y + 22.0,
                    (x + target) / 2.0,
                    y + 40.0,
                    target,
                    y + 22.0
                ));
            }
        }
    }
    y += 52.0;
    let what = if compounds == 0 {
        format!(
            "this extent: the first {} of one compound page's {period} vmemmap pages, backed by {} pages",
            e.vmemmap_pages, e.backing_pages
        )
    } else {
        format!(
            "this extent: {compounds} compound pages x {period} vmemmap pages = {}, backed by {} pages ({} saved)",
            e.vmemmap_pages,
            e.backing_pages,
            e.vmemmap_pages - e.backing_pages
        )
    };
    s.text(BAR_X, y, 11.0, Anchor::Start, &what);
    y + 24.0
}
