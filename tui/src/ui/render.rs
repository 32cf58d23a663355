//! Drawing: reads the App and paints a frame. Nothing here changes state; `draw` returns
//! the map's size so that the update step can page by screenfuls.

use super::app::{App, Focus, Out, Pane, Zoom};
use super::keys::{self, BINDINGS, REPL_KEYS};
use super::view::{range, totals};
use mm::read::{subsection_kinds, DeviceView, MapView, MemmapExtent, SectionKind, Shared};
use mm::Machine;
use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Direction, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};
use ratatui::Frame;

/// What the update step needs to know about the last frame.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Drawn {
    pub map_rows: u16,
    pub map_cols: u16,
    /// How far the help can scroll before its last line leaves the screen.
    pub help_max: u16,
    /// How far the log and the REPL output can scroll back (their oldest line at the top).
    pub log_max: usize,
    pub repl_max: usize,
}

/// A section class's colour: the pictures' palette (crate::picture::palette), which keeps
/// the classes apart for the common colour-vision deficiencies.
pub fn colour(c: SectionKind) -> Color {
    crate::picture::palette::tui(c)
}

fn glyph(c: SectionKind) -> &'static str {
    match c {
        SectionKind::Absent => "·",
        _ => "█",
    }
}

/// The longest of `candidates` that fits `width`, else `last` cut to it.
fn fit(candidates: &[String], width: usize, last: &str) -> String {
    candidates
        .iter()
        .find(|c| c.chars().count() <= width)
        .cloned()
        .unwrap_or_else(|| {
            format!(
                " {} ",
                last.chars()
                    .take(width.saturating_sub(2))
                    .collect::<String>()
            )
        })
}

fn pane_block(title: String, focused: bool) -> Block<'static> {
    let style = if focused {
        Style::default().fg(Color::Yellow)
    } else {
        Style::default().fg(Color::DarkGray)
    };
    Block::default()
        .borders(Borders::ALL)
        .border_style(style)
        .title(Span::styled(
            title,
            Style::default().add_modifier(Modifier::BOLD),
        ))
}

/// The smallest terminal the UI lays out in.
pub const MIN_SIZE: (u16, u16) = (60, 16);

pub fn draw(f: &mut Frame, app: &App) -> Drawn {
    let area = f.area();
    if area.width < MIN_SIZE.0 || area.height < MIN_SIZE.1 {
        let text = format!(
            "terminal too small ({} x {}, need {} x {}); q quits",
            area.width, area.height, MIN_SIZE.0, MIN_SIZE.1
        );
        let p = Paragraph::new(text).wrap(Wrap { trim: true });
        f.render_widget(p, area);
        return Drawn::default();
    }
    let rows = Layout::default()
        .direction(Direction::Vertical)
        .constraints([Constraint::Min(4), Constraint::Length(1)])
        .split(area);
    let drawn = if app.maximized {
        draw_maximized(f, app, rows[0])
    } else if app.compare {
        draw_compare(f, app, rows[0])
    } else {
        draw_single(f, app, rows[0])
    };
    draw_status(f, app, rows[1]);
    let mut drawn = drawn;
    if let Some(at) = app.picker {
        draw_picker(f, app, area, at);
    }
    if app.help {
        drawn.help_max = draw_help(f, area, app.help_scroll);
    }
    drawn
}

/// The focused pane on the whole screen (`z`): the map (every architecture's in compare
/// mode), the blocks with the detail beside them, the log, or the REPL.
fn draw_maximized(f: &mut Frame, app: &App, area: Rect) -> Drawn {
    match (app.focus, app.panes.first()) {
        (Focus::Repl, _) | (_, None) => Drawn {
            repl_max: draw_repl(f, app, area),
            ..Drawn::default()
        },
        (Focus::Map, Some(_)) if app.compare => draw_compare_maps(f, app, area),
        (Focus::Map, Some(_)) => draw_map(f, app, 0, area),
        (Focus::Blocks, Some(p)) => {
            let h = Layout::default()
                .direction(Direction::Horizontal)
                .constraints([Constraint::Percentage(60), Constraint::Percentage(40)])
                .split(area);
            draw_blocks(f, app, p, h[0]);
            draw_detail(f, app, p, h[1]);
            Drawn::default()
        }
        (Focus::Log, Some(p)) => Drawn {
            log_max: draw_log(f, app, p, area),
            ..Drawn::default()
        },
    }
}

/// The architecture picker (`a`): every configuration with its description, the cursor on
/// the one Enter takes.
fn draw_picker(f: &mut Frame, app: &App, area: Rect, at: usize) {
    let w = area.width.saturating_sub(4).min(90);
    let h = (arch::CONFIGS.len() as u16 + 3).min(area.height.saturating_sub(2));
    let r = Rect::new(
        area.x + (area.width - w) / 2,
        area.y + (area.height - h) / 2,
        w,
        h,
    );
    let nw = arch::CONFIGS
        .iter()
        .map(|c| c.name.len())
        .max()
        .unwrap_or(0);
    let mut lines: Vec<Line> = arch::CONFIGS
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let here = if std::ptr::eq(c, app.config) {
                "*"
            } else {
                " "
            };
            let text = format!("{here} {:<nw$}  {}", c.name, c.description);
            let style = if i == at {
                Style::default().add_modifier(Modifier::REVERSED)
            } else {
                Style::default()
            };
            Line::styled(text, style)
        })
        .collect();
    lines.push(Line::styled(
        "↑↓ choose · Enter boots it and replays the REPL's inputs · Esc keeps this one (*)",
        Style::default().fg(Color::DarkGray),
    ));
    f.render_widget(Clear, r);
    f.render_widget(
        Paragraph::new(lines).block(pane_block(" architecture ".into(), true)),
        r,
    );
}

fn draw_single(f: &mut Frame, app: &App, area: Rect) -> Drawn {
    let v = Layout::default()
        .direction(Direction::Vertical)
        .constraints([
            Constraint::Percentage(42),
            Constraint::Percentage(28),
            Constraint::Min(4),
        ])
        .split(area);
    let top = Layout::default()
        .direction(Direction::Horizontal)
        .constraints([Constraint::Min(20), Constraint::Length(32)])
        .split(v[0]);
    // The blocks pane widens while it has the keyboard, so that RANGE fits beside ZONES.
    let widths = if app.focus == Focus::Blocks {
        [50, 28, 22]
    } else {
        [40, 32, 28]
    };
    let mid = Layout::default()
        .direction(Direction::Horizontal)
        .constraints(widths.map(Constraint::Percentage))
        .split(v[1]);
    let drawn = match app.panes.first() {
        Some(p) => {
            let d = draw_map(f, app, 0, top[0]);
            draw_totals(f, app, p, top[1], None);
            draw_blocks(f, app, p, mid[0]);
            draw_detail(f, app, p, mid[1]);
            let log_max = draw_log(f, app, p, mid[2]);
            Drawn { log_max, ..d }
        }
        None => Drawn::default(),
    };
    let repl_max = draw_repl(f, app, v[2]);
    Drawn { repl_max, ..drawn }
}

fn draw_compare(f: &mut Frame, app: &App, area: Rect) -> Drawn {
    let v = Layout::default()
        .direction(Direction::Vertical)
        .constraints([Constraint::Percentage(68), Constraint::Min(4)])
        .split(area);
    let drawn = draw_compare_maps(f, app, v[0]);
    let repl_max = draw_repl(f, app, v[1]);
    Drawn { repl_max, ..drawn }
}

/// Compare mode's maps and totals, a column per machine, and one legend under them all.
fn draw_compare_maps(f: &mut Frame, app: &App, area: Rect) -> Drawn {
    let lines = legend(area.width);
    let legend_rows = if area.height >= 16 {
        lines.len() as u16
    } else {
        0
    };
    let v = Layout::default()
        .direction(Direction::Vertical)
        .constraints([Constraint::Min(3), Constraint::Length(legend_rows)])
        .split(area);
    if legend_rows > 0 {
        f.render_widget(Paragraph::new(lines), v[1]);
    }
    let area = v[0];
    let n = app.panes.len().max(1) as u32;
    let cols = Layout::default()
        .direction(Direction::Horizontal)
        .constraints((0..n).map(|_| Constraint::Ratio(1, n)))
        .split(area);
    let mut drawn = Drawn::default();
    for (i, p) in app.panes.iter().enumerate() {
        let Some(&col) = cols.get(i) else { break };
        let h = Layout::default()
            .direction(Direction::Vertical)
            .constraints([Constraint::Min(3), Constraint::Length(12)])
            .split(col);
        let d = draw_map(f, app, i, h[0]);
        if i == 0 {
            drawn = d;
        }
        draw_totals(f, app, p, h[1], Some(&app.panes));
    }
    drawn
}

/// Where the map's window starts (in sections) so that the cursor stays visible.
fn window(app: &App, cursor: u64, per: u64, cols: u64, rows: u64) -> u64 {
    let row_secs = per * cols;
    if app.zoom.is_none() {
        return 0;
    }
    let cursor_row = cursor / row_secs.max(1);
    cursor_row.saturating_sub(rows / 2) * row_secs
}

fn draw_map(f: &mut Frame, app: &App, i: usize, area: Rect) -> Drawn {
    let p = &app.panes[i];
    // The machine on screen names itself: `m = boot("s390")` shows s390 whatever the
    // session was booted as.
    let on = p.machine.as_deref().map_or(p.target, |m| *m.target());
    let arch_name = on.name();
    // The Linux version too, where it is not the default or versions are compared.
    let kernel = on.kernel;
    let name = if app.compare_kernels || !std::ptr::eq(kernel, arch::default_kernel()) {
        format!("{arch_name} · Linux {kernel}")
    } else {
        arch_name.to_string()
    };
    let name = name.as_str();
    let per = app.sections_per_cell_of(i);
    let zoom = match app.zoom {
        Some(Zoom::Subsections) => "sub-sections of one section".to_string(),
        _ if per == 1 => "1 section per cell".to_string(),
        _ => format!("{per} sections per cell"),
    };
    let focused = app.focus == Focus::Map && !app.compare;
    let design = if app.design == "mainline" {
        String::new()
    } else {
        format!(" · design {}", app.design)
    };
    let short = match app.zoom {
        Some(Zoom::Subsections) => "sub-sections".to_string(),
        _ => format!("{per}/cell"),
    };
    // What one row of cells spans, so the gutter's addresses read as steps of it.
    let per_row = p.machine.as_deref().and_then(|m| {
        if app.zoom == Some(Zoom::Subsections) {
            return None;
        }
        let (w, h) = (area.width.saturating_sub(2), area.height.saturating_sub(2));
        let rows = h.saturating_sub(if h >= 5 { 1 } else { 0 });
        let bits = m.geometry().section_size_bits;
        let l = MapLayout::new(app, w, rows, per, app.cursor_of(i), bits);
        let span = (per * u64::from(l.cols)).checked_shl(bits)?;
        Some(arch::human(span))
    });
    let mut candidates = match &p.error {
        Some(_) => vec![
            format!(" {}{design} · failed to boot ", name),
            format!(" {} · failed to boot ", name),
        ],
        None => vec![
            format!(" {}{design} · memory map, {zoom} ", name),
            format!(" {}{design} · {zoom} ", name),
            format!(" {} · {short} ", name),
        ],
    };
    if let (Some(span), None) = (&per_row, &p.error) {
        candidates.insert(
            0,
            format!(" {}{design} · memory map, {zoom}, {span} per row ", name),
        );
    }
    let title = fit(&candidates, area.width.saturating_sub(2) as usize, name);
    let block = pane_block(title, focused);
    let inner = block.inner(area);
    f.render_widget(block, area);
    if inner.width < 4 || inner.height < 1 {
        return Drawn::default();
    }
    // The legend under the map: as many lines as it takes at this width, up to two on a
    // tall map, one on a short one; compare mode draws one legend under every map.
    let legend_rows = if app.compare {
        0
    } else {
        let want = legend(inner.width).len() as u16;
        match inner.height {
            h if h >= 10 => want.min(2),
            h if h >= 5 => 1,
            _ => 0,
        }
    };
    let rows = inner.height - legend_rows;
    let cursor = app.cursor_of(i);
    let bits = p
        .machine
        .as_deref()
        .map_or(27, |m| m.geometry().section_size_bits);
    let layout = MapLayout::new(app, inner.width, rows, per, cursor, bits);
    let (gutter, cols) = (layout.gutter, layout.cols);
    let Some(m) = p.machine.as_deref() else {
        // The map's size is known before its machine: the first machine frame fits it.
        let msg = p.error.clone().unwrap_or_else(|| "booting…".into());
        f.render_widget(Paragraph::new(msg).wrap(Wrap { trim: true }), inner);
        return Drawn {
            map_rows: rows,
            map_cols: cols,
            ..Drawn::default()
        };
    };
    let g = m.geometry();
    let buf = f.buffer_mut();
    if app.zoom == Some(Zoom::Subsections) {
        draw_subsections(buf, m, &p.view, cursor, inner, rows);
    } else {
        let start = layout.start;
        let end = m.sections().nr_sections();
        for r in 0..rows {
            let row_start = start + u64::from(r) * per * u64::from(cols);
            if row_start >= end {
                break;
            }
            if gutter > 0 {
                let label = short_addr(row_start << g.section_size_bits, layout.unit);
                let w = usize::from(gutter - 1);
                buf.set_string(
                    inner.x,
                    inner.y + r,
                    format!("{label:>w$} "),
                    Style::default().fg(Color::DarkGray),
                );
            }
            for c in 0..cols {
                let a = row_start + u64::from(c) * per;
                let b = a + per;
                let (cat, vm, partial) = p.view.cell(a, b);
                let changed = p.changed.iter().any(|&(x, y)| x < b && y > a);
                let under = (a..b).contains(&cursor) && !app.compare;
                let sym = if cat == SectionKind::Absent {
                    "·"
                } else if vm {
                    "▓"
                } else if partial {
                    "▒"
                } else {
                    "█"
                };
                let mut style = Style::default().fg(colour(cat));
                // A changed cell is half yellow: the lower half keeps its colour.
                let sym = if changed && cat != SectionKind::Absent {
                    "▄"
                } else {
                    sym
                };
                if changed {
                    style = style.bg(Color::Yellow);
                }
                if under {
                    style = style.bg(Color::White).add_modifier(Modifier::BOLD);
                }
                let sym = if under && cat == SectionKind::Absent {
                    "+"
                } else {
                    sym
                };
                buf.set_string(inner.x + gutter + c, inner.y + r, sym, style);
            }
        }
    }
    if legend_rows > 0 {
        let at = Rect::new(inner.x, inner.y + rows, inner.width, legend_rows);
        f.render_widget(Paragraph::new(legend(inner.width)), at);
    }
    Drawn {
        map_rows: rows,
        map_cols: cols,
        ..Drawn::default()
    }
}

/// The map's legend as lines of `width`: the colours, then the marks.
fn legend(width: u16) -> Vec<Line<'static>> {
    let mut items: Vec<(Span, String)> = SectionKind::LEGEND
        .iter()
        .map(|&c| {
            (
                Span::styled(glyph(c), Style::default().fg(colour(c))),
                format!(" {}  ", c.label()),
            )
        })
        .collect();
    items.push((
        Span::styled("▄", Style::default().fg(Color::Green).bg(Color::Yellow)),
        " changed  ".to_string(),
    ));
    items.push((Span::raw("▓"), " holds vmemmap  ".to_string()));
    items.push((Span::raw("▒"), " partly populated  ".to_string()));
    let mut lines = Vec::new();
    let mut spans: Vec<Span> = Vec::new();
    let mut used = 0usize;
    for (g, label) in items {
        let n = 1 + label.trim_end().chars().count();
        if used + n > width as usize && !spans.is_empty() {
            lines.push(Line::from(std::mem::take(&mut spans)));
            used = 0;
        }
        used += 1 + label.chars().count();
        spans.push(g);
        spans.push(Span::raw(label));
    }
    if !spans.is_empty() {
        lines.push(Line::from(spans));
    }
    lines
}

/// Where the map's cells go: a gutter wide enough for every visible row's address, and a
/// row of cells whose count is a multiple of 8 so the addresses down the gutter stay round.
struct MapLayout {
    gutter: u16,
    cols: u16,
    /// The first section shown.
    start: u64,
    /// The unit of the gutter's addresses.
    unit: (&'static str, u32),
}

impl MapLayout {
    fn new(app: &App, width: u16, rows: u16, per: u64, cursor: u64, section_bits: u32) -> Self {
        let cols_for = |gutter: u16| {
            let avail = width.saturating_sub(gutter).max(1);
            if avail >= 16 {
                avail - avail % 8
            } else {
                avail
            }
        };
        let mut gutter = if width >= 24 { 7 } else { 0 };
        let mut cols = cols_for(gutter);
        let mut start = window(app, cursor, per, u64::from(cols), u64::from(rows));
        let row_bytes = |cols: u16| {
            (per * u64::from(cols))
                .checked_shl(section_bits)
                .unwrap_or(0)
        };
        let mut unit = gutter_unit(row_bytes(cols));
        // Size the gutter to the longest label on screen, then lay the cells out again; a
        // narrower row of cells changes the labels, so until they fit (a few rounds at
        // most: the gutter only grows after the first).
        for round in 0..4 {
            if gutter == 0 {
                break;
            }
            let row = per * u64::from(cols);
            let longest = (0..u64::from(rows))
                .map(|r| short_addr((start + r * row) << section_bits, unit).len())
                .max()
                .unwrap_or(1) as u16;
            let want = if round == 0 {
                longest + 1
            } else {
                (longest + 1).max(gutter)
            };
            if want == gutter {
                break;
            }
            gutter = want;
            cols = cols_for(gutter);
            start = window(app, cursor, per, u64::from(cols), u64::from(rows));
            unit = gutter_unit(row_bytes(cols));
        }
        Self {
            gutter,
            cols,
            start,
            unit,
        }
    }
}

fn draw_subsections(buf: &mut Buffer, m: &Machine, v: &MapView, nr: u64, inner: Rect, rows: u16) {
    let g = m.geometry();
    let cats = subsection_kinds(m, v, nr);
    let start = nr << g.section_size_bits;
    buf.set_string(
        inner.x,
        inner.y,
        format!(
            "section {nr} [{:#x}, +{}]: {} sub-sections of 2M",
            start,
            arch::human(g.section_size),
            cats.len()
        ),
        Style::default().fg(Color::White),
    );
    let per_row = inner.width.max(1);
    for (i, c) in cats.iter().enumerate() {
        let i = i as u16;
        let (x, y) = (i % per_row, 1 + i / per_row);
        if y >= rows {
            break;
        }
        buf.set_string(
            inner.x + x,
            inner.y + y,
            glyph(*c),
            Style::default().fg(colour(*c)),
        );
    }
}

/// The unit the gutter writes addresses in: the largest that divides a row's span, so that
/// every row's address is a whole number of it.
fn gutter_unit(row_bytes: u64) -> (&'static str, u32) {
    const U: [(&str, u32); 4] = [("P", 50), ("T", 40), ("G", 30), ("M", 20)];
    U.into_iter()
        .find(|&(_, sh)| row_bytes >= 1 << sh && row_bytes.is_multiple_of(1 << sh))
        .unwrap_or(("M", 20))
}

/// A row's address in the gutter's unit.
fn short_addr(a: u64, (suffix, shift): (&str, u32)) -> String {
    if a == 0 {
        "0".into()
    } else {
        format!("{}{suffix}", a >> shift)
    }
}

fn draw_totals(f: &mut Frame, app: &App, p: &Pane, area: Rect, all: Option<&[Pane]>) {
    let block = pane_block(" totals ".into(), false);
    let inner = block.inner(area);
    f.render_widget(block, area);
    let _ = app;
    let mine = totals(&p.view.totals);
    let others: Vec<Vec<(&str, String)>> = all
        .unwrap_or_default()
        .iter()
        .map(|o| totals(&o.view.totals))
        .collect();
    let lines: Vec<Line> = mine
        .into_iter()
        .map(|(k, v)| {
            let differs = others.iter().any(|o| {
                o.iter()
                    .find(|(ok, _)| *ok == k)
                    .is_some_and(|(_, ov)| *ov != v)
            });
            let style = if differs {
                Style::default().fg(Color::Yellow)
            } else {
                Style::default()
            };
            let w = inner.width as usize;
            let key = k.to_string();
            let pad = w.saturating_sub(key.chars().count() + v.chars().count());
            Line::from(vec![
                Span::styled(key, Style::default().fg(Color::DarkGray)),
                Span::raw(" ".repeat(pad)),
                Span::styled(v, style),
            ])
        })
        .collect();
    f.render_widget(Paragraph::new(lines), inner);
}

fn draw_blocks(f: &mut Frame, app: &App, p: &Pane, area: Rect) {
    let focused = app.focus == Focus::Blocks;
    let block = pane_block(
        format!(
            " memory blocks ({}) ",
            arch::approx(p.machine.as_deref().map_or(0, |m| m.block_size()))
        ),
        focused,
    );
    let inner = block.inner(area);
    f.render_widget(block, area);
    if inner.height == 0 {
        return;
    }
    // Columns as wide as what they hold; where the width runs out ZONES is cut, so that
    // RANGE stays (when even a cut ZONES leaves it no room, START, its first address, may).
    let visible = inner.height.saturating_sub(1) as usize;
    let first = app.block_row.saturating_sub(visible.saturating_sub(1));
    let shown = app.block_rows(0);
    struct Cells {
        blocks: String,
        size: String,
        state: &'static str,
        zones: String,
        range: String,
        start: String,
    }
    let cells: Vec<Cells> = shown
        .iter()
        .skip(first)
        .take(visible)
        .map(|r| Cells {
            blocks: if r.first == r.last {
                r.first.to_string()
            } else {
                format!("{}-{}", r.first, r.last)
            },
            size: arch::human(r.size),
            state: r.state,
            zones: if r.memmap_on_memory {
                format!("{} (memmap on it)", r.zone)
            } else {
                r.zone.clone()
            },
            range: range(r.start, r.size),
            start: format!("{:#x}", r.start),
        })
        .collect();
    let w = |f: &dyn Fn(&Cells) -> usize, head: &str| {
        cells.iter().map(f).max().unwrap_or(0).max(head.len())
    };
    let (wb, ws, wt, wz, wr) = (
        w(&|c| c.blocks.len(), "BLOCK"),
        w(&|c| c.size.len(), "SIZE"),
        w(&|c| c.state.len(), "STATE"),
        w(&|c| c.zones.chars().count(), "ZONES"),
        w(&|c| c.range.len(), "RANGE"),
    );
    let avail = inner.width as usize;
    let fixed = wb + ws + wt + 3;
    // ZONES gives up to what RANGE needs, keeping at least 12 characters.
    let cut_to = avail.saturating_sub(fixed + 1 + wr);
    // Where the whole range does not fit, its start alone (START) may.
    let wst = w(&|c| c.start.len(), "START");
    let (wz, last_col) = if fixed + wz + 1 + wr <= avail {
        (wz, Some(true))
    } else if cut_to >= 12.min(wz) {
        (cut_to, Some(true))
    } else if fixed + wz + 1 + wst <= avail {
        (wz, Some(false))
    } else {
        (wz, None)
    };
    let cut = |z: &str| -> String {
        if z.chars().count() <= wz {
            z.to_string()
        } else {
            let mut t: String = z.chars().take(wz.saturating_sub(1)).collect();
            t.push('…');
            t
        }
    };
    let row = |b: &str, s: &str, t: &str, z: &str, r: &str, st: &str| {
        let z = cut(z);
        let mut l = format!("{b:<wb$} {s:>ws$} {t:<wt$} {z:<wz$}");
        if let Some(whole) = last_col {
            l.push(' ');
            l.push_str(if whole { r } else { st });
        }
        l.trim_end().to_string()
    };
    let mut lines = vec![Line::styled(
        row("BLOCK", "SIZE", "STATE", "ZONES", "RANGE", "START"),
        Style::default().add_modifier(Modifier::BOLD),
    )];
    for (k, (c, r)) in cells.iter().zip(shown.iter().skip(first)).enumerate() {
        let i = first + k;
        let text = row(&c.blocks, &c.size, c.state, &c.zones, &c.range, &c.start);
        let cat = if r.state != "online" {
            SectionKind::Offline
        } else if r.early {
            SectionKind::Boot
        } else if r.zone.starts_with("Movable") {
            SectionKind::Movable
        } else {
            SectionKind::Normal
        };
        let mut style = Style::default().fg(colour(cat));
        if focused && i == app.block_row {
            style = style.add_modifier(Modifier::REVERSED);
        }
        lines.push(Line::styled(text, style));
    }
    f.render_widget(Paragraph::new(lines), inner);
}

fn draw_detail(f: &mut Frame, app: &App, p: &Pane, area: Rect) {
    let Some(m) = p.machine.as_deref() else {
        f.render_widget(pane_block(" detail ".into(), false), area);
        return;
    };
    let (title, lines) = if app.focus == Focus::Blocks {
        match app.block_rows(0).get(app.block_row) {
            Some(r) => (format!(" memory{} ", r.first), block_detail(m, r.first)),
            None => (" detail ".into(), Vec::new()),
        }
    } else {
        (
            format!(" section {} ", app.cursor),
            section_detail(m, app.cursor),
        )
    };
    let block = pane_block(title, false);
    let inner = block.inner(area);
    f.render_widget(block, area);
    f.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), inner);
}

fn section_detail(m: &Machine, nr: u64) -> Vec<Line<'static>> {
    let Some(s) = m.section_view(nr) else {
        return vec![Line::raw("beyond NR_MEM_SECTIONS")];
    };
    let mut out = vec![
        Line::raw(range(s.start, s.size)),
        Line::raw(format!("flags {}", s.flags)),
    ];
    if !s.present {
        return out;
    }
    out.push(Line::raw(format!("node {}", s.nid)));
    match &s.subsection_map {
        Some(bits) if !s.early => out.push(Line::raw(format!(
            "sub-sections {}/{} {bits}",
            s.subsections.0, s.subsections.1
        ))),
        _ => out.push(Line::raw("early: whole section valid")),
    }
    out.extend(memmap_lines(&s.memmap));
    if let Some(b) = m.block_view(s.block) {
        out.push(Line::raw(format!(
            "memory{}: {}, valid_zones {}",
            b.id, b.state, b.valid_zones
        )));
        if let Some(al) = b.altmap {
            out.push(Line::raw(format!(
                "altmap free {} alloc {} align {}",
                al.free, al.alloc, al.align
            )));
        }
    }
    let end = s.start + s.size;
    for p in m.pgmap_views() {
        if p.start < end && p.start + p.size > s.start {
            out.push(Line::raw(format!(
                "{} {} map={} align {}",
                p.namespace,
                p.mode,
                p.map,
                arch::human(p.align)
            )));
        }
    }
    out.extend(device_lines(m, s.start, end));
    out
}

/// The first mapping extents of a section's memmap, one line each.
fn memmap_lines(extents: &[MemmapExtent]) -> impl Iterator<Item = Line<'static>> + '_ {
    extents.iter().take(4).map(|e| {
        let share = match e.sharing {
            Shared::Own => String::new(),
            Shared::Dedup { period, unique, .. } => format!(", {unique}/{period} own"),
        };
        Line::raw(format!(
            "memmap {} pages {} from {}{share}",
            e.vmemmap_pages,
            e.level.label(),
            e.origin
        ))
    })
}

/// The virtio-mem and kmem devices whose memory overlaps `[start, end)`.
fn device_lines(m: &Machine, start: u64, end: u64) -> Vec<Line<'static>> {
    let mut out = Vec::new();
    for d in m.device_views() {
        let (a, b) = d.span();
        if !(a < end && start < b) {
            continue;
        }
        match d {
            DeviceView::VirtioMem {
                id,
                start,
                region_size,
                mode,
                unit,
                requested_size,
                plugged_size,
                waiting,
                ..
            } => {
                let mode = match mode {
                    "sbm" => format!("SBM, {} sub-blocks", arch::human(unit)),
                    _ => format!("BBM, {} big blocks", arch::human(unit)),
                };
                out.push(Line::raw(format!(
                    "virtio-mem {id}: region {start:#x}+{}, {mode}",
                    arch::human(region_size)
                )));
                out.push(Line::raw(format!(
                    "  plugged {} of {} requested{}",
                    arch::human(plugged_size),
                    arch::human(requested_size),
                    if waiting.is_some() { " (waiting)" } else { "" }
                )));
            }
            DeviceView::Kmem {
                dax,
                state,
                start,
                size,
                memmap_on_memory,
                ..
            } => out.push(Line::raw(format!(
                "kmem {dax} ({state}): {start:#x}+{} as System RAM (kmem), memmap {}",
                arch::human(size),
                if memmap_on_memory {
                    "on the device"
                } else {
                    "in RAM"
                }
            ))),
        }
    }
    out
}

fn block_detail(m: &Machine, id: u64) -> Vec<Line<'static>> {
    let Some(b) = m.block_view(id) else {
        return Vec::new();
    };
    let mut out = vec![
        Line::raw(format!("state {}", b.state)),
        Line::raw(format!("phys_index {}", b.phys_index)),
        Line::raw(format!("valid_zones {}", b.valid_zones)),
        Line::raw(format!(
            "removable {}",
            m.read(&format!("/sys/devices/system/memory/memory{id}/removable"))
                .unwrap_or_default()
                .trim()
        )),
        Line::raw(format!("resource \"{}\"", b.resource)),
    ];
    match b.altmap {
        Some(a) => out.push(Line::raw(format!(
            "memmap on the block: {} pages (altmap alloc {}, align {})",
            a.free, a.alloc, a.align
        ))),
        None => out.push(Line::raw("memmap elsewhere (no altmap)")),
    }
    if b.hugetlb_pages > 0 {
        out.push(Line::raw(format!("HugeTLB {} pages", b.hugetlb_pages)));
    }
    if b.fake_offline_pages > 0 {
        out.push(Line::raw(format!(
            "{} pages not plugged (fake-offline)",
            b.fake_offline_pages
        )));
    }
    out.extend(device_lines(m, b.start, b.start + b.size));
    out
}

/// `text` cut into pieces of at most `width` characters, at a space where one falls in
/// the second half of a piece; the pieces after the first are indented by two (a wrapped
/// log line reads as one).
pub fn wrap_chars(text: &str, width: usize) -> Vec<String> {
    wrap_hanging(text, width.max(4), 2)
}

/// `text` cut as [`wrap_chars`] does, the pieces after the first indented by `indent`.
pub fn wrap_hanging(text: &str, width: usize, indent: usize) -> Vec<String> {
    let width = width.max(1);
    let indent = if indent + 2 > width { 0 } else { indent };
    let pad = " ".repeat(indent);
    let mut out = Vec::new();
    let mut rest: &[char] = &text.chars().collect::<Vec<char>>();
    while !rest.is_empty() || out.is_empty() {
        let (room, lead) = if out.is_empty() {
            (width, "")
        } else {
            (width - indent, pad.as_str())
        };
        let (piece, after) = cut_at_space(rest, room);
        out.push(format!("{lead}{piece}"));
        rest = after;
    }
    out
}

/// `text` cut into pieces of at most `width` characters, between words where it can.
pub fn wrap_words(text: &str, width: usize) -> Vec<String> {
    let width = width.max(1);
    let mut out = Vec::new();
    let mut rest: &[char] = &text.chars().collect::<Vec<char>>();
    while !rest.is_empty() || out.is_empty() {
        let (piece, after) = cut_at_space(rest, width);
        out.push(piece);
        rest = after;
    }
    out
}

/// The first piece of `text` of at most `room` characters, cut at its last space if that
/// is in its second half, and what follows it with leading spaces dropped.
fn cut_at_space(text: &[char], room: usize) -> (String, &[char]) {
    if text.len() <= room {
        return (text.iter().collect(), &[]);
    }
    let cut = text[..=room]
        .iter()
        .rposition(|&c| c == ' ')
        .filter(|&at| at >= room / 2 && at > 0)
        .unwrap_or(room);
    let piece: String = text[..cut].iter().collect();
    let mut rest = &text[cut..];
    while rest.first() == Some(&' ') {
        rest = &rest[1..];
    }
    (piece.trim_end().to_string(), rest)
}

/// Draw dmesg or the script; returns how far dmesg can scroll back (unbounded while its
/// oldest line is not reached).
fn draw_log(f: &mut Frame, app: &App, p: &Pane, area: Rect) -> usize {
    let mut max = usize::MAX;
    let focused = app.focus == Focus::Log;
    let player = app.player.as_ref().filter(|_| app.show_script);
    let title = match player {
        Some(pl) => {
            // The state in a long and a short form; the title drops the file's name, then
            // the long form, before it cuts anything.
            let (long, short) = match (&pl.at, pl.started, pl.ended) {
                (_, _, true) if pl.failed => ("stopped".to_string(), "stopped".to_string()),
                (_, _, true) => ("ended".to_string(), "ended".to_string()),
                (Some(at), _, _) => (
                    format!("next call {} at {}:{}", at.calls + 1, at.line, at.column),
                    format!("call {} · {}:{}", at.calls + 1, at.line, at.column),
                ),
                (None, true, _) => ("running".to_string(), "running".to_string()),
                (None, false, _) => (
                    "not started: n stops at the first call".to_string(),
                    "not started".to_string(),
                ),
            };
            let name = pl.path.rsplit('/').next().unwrap_or(&pl.path);
            let candidates = [
                format!(" {name} · {long} "),
                format!(" {name} · {short} "),
                format!(" {long} "),
                format!(" {short} "),
            ];
            fit(
                &candidates,
                usize::from(area.width.saturating_sub(2)),
                &short,
            )
        }
        None => " dmesg ".to_string(),
    };
    let block = pane_block(title, focused);
    let inner = block.inner(area);
    f.render_widget(block, area);
    let (h, w) = (inner.height as usize, inner.width as usize);
    if h == 0 || w == 0 {
        return max;
    }
    let lines: Vec<Line> = if let Some(pl) = player {
        // The line of the call to come; none before the script starts (which call comes
        // first is known only once it runs).
        let src: Vec<&str> = pl.source.lines().collect();
        let current = pl.at.as_ref().map_or(0, |at| at.line);
        let num_w = src.len().to_string().len();
        let mut v = Vec::new();
        for (i, l) in src.iter().enumerate() {
            let n = i + 1;
            let here = n == current;
            let style = if here {
                Style::default()
                    .fg(Color::Yellow)
                    .add_modifier(Modifier::BOLD)
            } else if n < current || pl.ended {
                Style::default().fg(Color::DarkGray)
            } else {
                Style::default()
            };
            let mark = if here { "▶" } else { " " };
            for (k, piece) in wrap_chars(l, w.saturating_sub(num_w + 3))
                .into_iter()
                .enumerate()
            {
                let gutter = if k == 0 {
                    format!("{mark}{n:>num_w$} ")
                } else {
                    " ".repeat(num_w + 2)
                };
                v.push(Line::styled(format!("{gutter}{piece}"), style));
            }
        }
        // Keep the current line in view, a third of the way down.
        let at = v
            .iter()
            .position(|l| l.spans.first().is_some_and(|s| s.content.starts_with('▶')))
            .unwrap_or(0);
        let first = at.saturating_sub(h / 3);
        v.into_iter().skip(first).take(h).collect()
    } else {
        // The newest lines, wrapped, scrolled back by log_scroll lines (not wrapped rows:
        // the pane starts at a line's beginning, never on the tail of a wrapped one).
        let d = p.machine.as_deref().map(|m| m.dmesg()).unwrap_or(&[]);
        // Scrolled all the way back, the oldest lines fill the pane from its top.
        let mut fit = (0usize, 0usize);
        for l in d {
            let n = wrap_chars(l, w).len();
            if fit.0 + n > h && fit.1 > 0 {
                break;
            }
            fit = (fit.0 + n, fit.1 + 1);
        }
        max = d.len().saturating_sub(fit.1.max(1));
        let scroll = app.log_scroll.min(max);
        let end = d.len() - scroll;
        let mut rows: Vec<String> = Vec::new();
        let mut more_above = false;
        for l in d[..end].iter().rev() {
            let pieces = wrap_chars(l, w);
            if rows.len() + pieces.len() > h && !rows.is_empty() {
                more_above = true;
                break;
            }
            rows.extend(pieces.into_iter().rev());
        }
        rows.reverse();
        // A line taller than the pane shows its beginning, its last row ending in `…` (z
        // shows the pane whole); with older lines above, the newest stays on the last row.
        if rows.len() > h {
            rows.truncate(h);
            if let Some(last) = rows.last_mut() {
                let mut t: String = last.chars().take(w.saturating_sub(1)).collect();
                t.push('…');
                *last = t;
            }
        }
        let blank = if more_above { h - rows.len() } else { 0 };
        std::iter::repeat_n(String::new(), blank)
            .chain(rows)
            .map(Line::raw)
            .collect()
    };
    f.render_widget(Paragraph::new(lines), inner);
    max
}

/// Draw the REPL; returns how far its output can scroll back (unbounded while its oldest
/// line is not reached).
fn draw_repl(f: &mut Frame, app: &App, area: Rect) -> usize {
    let focused = app.focus == Focus::Repl;
    let title = if focused {
        " REPL · Enter runs, Esc leaves "
    } else {
        " REPL · : or i to type "
    };
    let block = pane_block(title.into(), focused);
    let inner = block.inner(area);
    f.render_widget(block, area);
    if inner.height == 0 || inner.width == 0 {
        return usize::MAX;
    }
    // Only the lines that fit are drawn: the last ones.
    let input_lines: Vec<&str> = {
        let mut v: Vec<&str> = app
            .repl
            .input
            .as_str()
            .rsplit('\n')
            .take(usize::from(inner.height))
            .collect();
        v.reverse();
        v
    };
    let hidden_lines = app.repl.input.as_str().matches('\n').count() + 1 - input_lines.len();
    let in_h = (input_lines.len() as u16).min(inner.height);
    let out_h = inner.height - in_h;
    // Output, newest at the bottom, each entry wrapped to the width; only as many entries
    // as the scrolled window needs are wrapped.
    let names: Vec<String> = app.pane_names();
    let want = usize::from(out_h) + app.repl.scroll;
    let mut out: Vec<Line> = Vec::new();
    let mut entries = app.repl.output.iter().rev();
    let mut max = usize::MAX;
    loop {
        if out.len() > want {
            break;
        }
        let Some((pane, o)) = entries.next() else {
            max = out.len().saturating_sub(usize::from(out_h));
            break;
        };
        let tag = pane
            .and_then(|i| names.get(i))
            .map(|a| format!("[{a}] "))
            .unwrap_or_default();
        let (text, style) = match o {
            Out::Input(s) => (s.clone(), Style::default().fg(Color::Cyan)),
            Out::Text(s) => (format!("{tag}{s}"), Style::default()),
            Out::Error(s) => (format!("{tag}{s}"), Style::default().fg(Color::Red)),
            Out::Note(s) => (s.clone(), Style::default().fg(Color::DarkGray)),
        };
        // A wrapped line goes on under its own indentation.
        let lead = text.len() - text.trim_start_matches(' ').len();
        let pieces = wrap_hanging(&text, usize::from(inner.width), lead);
        out.extend(pieces.into_iter().rev().map(|p| Line::styled(p, style)));
    }
    out.reverse();
    let end = out.len().saturating_sub(app.repl.scroll.min(max));
    let start = end.saturating_sub(out_h as usize);
    let shown: Vec<Line> = out[start..end].to_vec();
    f.render_widget(
        Paragraph::new(shown),
        Rect::new(inner.x, inner.y, inner.width, out_h),
    );
    // The line being typed scrolls sideways to keep the cursor in view.
    let cursor_col = app.repl.input.before_cursor().chars().count();
    let room = usize::from(inner.width).saturating_sub(3).max(1);
    let shift = cursor_col.saturating_sub(room);
    let width = usize::from(inner.width);
    let mut lines = Vec::new();
    for (i, l) in input_lines.iter().enumerate() {
        let prompt = if i + hidden_lines == 0 { "> " } else { ". " };
        let text: String = if i + 1 == input_lines.len() {
            l.chars().skip(shift).take(width).collect()
        } else {
            l.chars().take(width).collect()
        };
        lines.push(Line::from(vec![
            Span::styled(prompt, Style::default().fg(Color::Cyan)),
            Span::raw(text),
        ]));
    }
    let skip = lines.len().saturating_sub(in_h as usize);
    let y = inner.y + out_h;
    f.render_widget(
        Paragraph::new(lines.into_iter().skip(skip).collect::<Vec<_>>()),
        Rect::new(inner.x, y, inner.width, in_h),
    );
    if focused && !app.help {
        let col = u16::try_from(cursor_col - shift + 2).unwrap_or(u16::MAX);
        let x = inner.x.saturating_add(col).min(inner.x + inner.width - 1);
        f.set_cursor_position((x, y + in_h - 1));
    }
    max
}

fn draw_status(f: &mut Frame, app: &App, area: Rect) {
    let archs = app
        .panes
        .iter()
        .map(|p| {
            let arch = match p.machine.as_deref().map(|m| m.target().name()) {
                Some(on) if on != p.target.name() => format!("{} (m: {on})", p.target.name()),
                _ => p.target.name().to_string(),
            };
            match p.machine.as_deref().map(|m| m.kernel()) {
                Some(k) if app.compare_kernels || !std::ptr::eq(k, arch::default_kernel()) => {
                    format!("{arch} {k}")
                }
                _ => arch,
            }
        })
        .collect::<Vec<_>>()
        .join(" | ");
    let state = if app.busy() {
        "running… Ctrl-C interrupts".to_string()
    } else {
        app.status.clone()
    };
    // The keys that work where the keyboard is, as many as fit after the state.
    let ctx = keys::HintContext {
        script: app.player.is_some(),
        compare: app.compare,
    };
    let hints: Vec<(&str, &str)> = match app.focus {
        _ if app.picker.is_some() => vec![
            ("↑↓ choose", "↑↓"),
            ("Enter boot it", "Enter"),
            ("Esc keep this one", "Esc"),
        ],
        Focus::Repl => keys::REPL_HINTS.iter().map(|h| (*h, *h)).collect(),
        Focus::Map => keys::hints(keys::MAP, ctx),
        Focus::Blocks => keys::hints(keys::BLOCKS, ctx),
        Focus::Log => keys::hints(keys::LOG, ctx),
    };
    let width = area.width as usize;
    let head = format!(" {archs} ");
    let state = format!(" {state} ");
    let room = width.saturating_sub(head.chars().count() + state.chars().count());
    // Every key that works here, as many of the first ones in full as leave room for the
    // rest in brief; when even the brief ones do not all fit, as many as do.
    let piece = |h: &str| 2 + h.chars().count();
    let briefs: Vec<usize> = hints.iter().map(|(_, b)| piece(b)).collect();
    let mut long = 0usize;
    let mut full = 0;
    for (i, (l, _)) in hints.iter().enumerate() {
        let rest: usize = briefs[i + 1..].iter().sum();
        if long + piece(l) + rest <= room {
            long += piece(l);
            full = i + 1;
        } else {
            break;
        }
    }
    let mut shown = String::new();
    for (i, (l, b)) in hints.iter().enumerate() {
        let h = if i < full { l } else { b };
        if shown.chars().count() + piece(h) > room {
            break;
        }
        shown.push_str("  ");
        shown.push_str(h);
    }
    let line = Line::from(vec![
        Span::styled(head, Style::default().bg(Color::Blue).fg(Color::White)),
        Span::raw(state),
        Span::styled(shown, Style::default().fg(Color::DarkGray)),
    ]);
    f.render_widget(Paragraph::new(line), area);
}

/// Draw the key help over the screen; returns the furthest it can scroll.
fn draw_help(f: &mut Frame, area: Rect, scroll: u16) -> u16 {
    let w = area.width.saturating_sub(4).min(86);
    let text_w = usize::from(w.saturating_sub(2));
    let bold = Style::default().add_modifier(Modifier::BOLD);
    let mut lines = vec![Line::styled(
        "Keys (↑↓ scroll, any other key closes this)",
        bold,
    )];
    // The key column is as wide as its widest entry, and a gap.
    let kw = BINDINGS
        .iter()
        .map(|b| b.shown.chars().count())
        .chain(REPL_KEYS.iter().map(|(k, _)| k.chars().count()))
        .max()
        .unwrap_or(0)
        + 2;
    // An entry's text wraps under itself, clear of the key column.
    let entry = |lines: &mut Vec<Line>, key: Span<'static>, text: &str, indent: usize| {
        let pieces = wrap_words(text, text_w.saturating_sub(indent).max(8));
        for (k, piece) in pieces.into_iter().enumerate() {
            let lead = if k == 0 {
                key.clone()
            } else {
                Span::raw(" ".repeat(indent))
            };
            lines.push(Line::from(vec![lead, Span::raw(piece)]));
        }
    };
    let yellow = Style::default().fg(Color::Yellow);
    for b in BINDINGS {
        entry(
            &mut lines,
            Span::styled(format!("  {:<kw$}", b.shown), yellow),
            &b.help_text(),
            kw + 2,
        );
    }
    lines.push(Line::styled("In the REPL (: or i enters it)", bold));
    for (k, d) in REPL_KEYS {
        entry(
            &mut lines,
            Span::styled(format!("  {k:<kw$}"), yellow),
            d,
            kw + 2,
        );
    }
    lines.push(Line::styled("Map", bold));
    for c in SectionKind::LEGEND {
        let key = Span::styled(format!("  {}  ", glyph(c)), Style::default().fg(colour(c)));
        entry(
            &mut lines,
            key,
            &format!("{:<9}{}", c.label(), c.meaning()),
            5,
        );
    }
    for (g, d) in [
        ("▓", "a cell holding carved-out struct pages"),
        ("▒", "partly populated"),
        ("▄", "on yellow: changed by the last input"),
    ] {
        entry(&mut lines, Span::raw(format!("  {g}  ")), d, 5);
    }
    // As tall as the text, up to the screen.
    let h = u16::try_from(lines.len() + 2)
        .unwrap_or(u16::MAX)
        .min(area.height.saturating_sub(2));
    let r = Rect::new(
        area.x + (area.width - w) / 2,
        area.y + (area.height - h) / 2,
        w,
        h,
    );
    let visible = usize::from(h.saturating_sub(2));
    let max = u16::try_from(lines.len().saturating_sub(visible)).unwrap_or(u16::MAX);
    f.render_widget(Clear, r);
    f.render_widget(
        Paragraph::new(lines)
            .scroll((scroll.min(max), 0))
            .block(pane_block(" help ".into(), true)),
        r,
    );
    max
}
