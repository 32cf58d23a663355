//! Drawing: reads the App and paints a frame. Nothing here changes state; `draw` returns
//! the map's size so that the update step can page by screenfuls.

use super::app::{App, Focus, Out, Pane, Zoom};
use super::keys::{BINDINGS, REPL_KEYS};
use super::view::{human_bytes, subsection_cats, Cat, MachineView};
use mm::units::SectionNr;
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
}

pub fn colour(c: Cat) -> Color {
    match c {
        Cat::Absent => Color::DarkGray,
        Cat::Boot => Color::Blue,
        Cat::Offline => Color::Gray,
        Cat::Normal => Color::Green,
        Cat::Movable => Color::Cyan,
        Cat::Device => Color::Magenta,
        Cat::Vmemmap => Color::Red,
    }
}

fn glyph(c: Cat) -> &'static str {
    match c {
        Cat::Absent => "·",
        _ => "█",
    }
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

pub fn draw(f: &mut Frame, app: &App) -> Drawn {
    let area = f.area();
    if area.width < 20 || area.height < 8 {
        let p =
            Paragraph::new("hotplug-lab: enlarge the terminal (q quits)").wrap(Wrap { trim: true });
        f.render_widget(p, area);
        return Drawn::default();
    }
    let rows = Layout::default()
        .direction(Direction::Vertical)
        .constraints([Constraint::Min(4), Constraint::Length(1)])
        .split(area);
    let drawn = if app.compare {
        draw_compare(f, app, rows[0])
    } else {
        draw_single(f, app, rows[0])
    };
    draw_status(f, app, rows[1]);
    if app.help {
        draw_help(f, area, app.help_scroll);
    }
    drawn
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
    let mid = Layout::default()
        .direction(Direction::Horizontal)
        .constraints([
            Constraint::Percentage(40),
            Constraint::Percentage(32),
            Constraint::Percentage(28),
        ])
        .split(v[1]);
    let drawn = match app.panes.first() {
        Some(p) => {
            let d = draw_map(f, app, 0, top[0]);
            draw_totals(f, app, p, top[1], None);
            draw_blocks(f, app, p, mid[0]);
            draw_detail(f, app, p, mid[1]);
            draw_log(f, app, p, mid[2]);
            d
        }
        None => Drawn::default(),
    };
    draw_repl(f, app, v[2]);
    drawn
}

fn draw_compare(f: &mut Frame, app: &App, area: Rect) -> Drawn {
    let v = Layout::default()
        .direction(Direction::Vertical)
        .constraints([Constraint::Percentage(68), Constraint::Min(4)])
        .split(area);
    let n = app.panes.len().max(1) as u32;
    let cols = Layout::default()
        .direction(Direction::Horizontal)
        .constraints((0..n).map(|_| Constraint::Ratio(1, n)))
        .split(v[0]);
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
    draw_repl(f, app, v[1]);
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
    let title = match &p.error {
        Some(_) => format!(" {}{design} · failed to boot ", p.arch),
        None => format!(" {}{design} · memory map, {zoom} ", p.arch),
    };
    let block = pane_block(title, focused);
    let inner = block.inner(area);
    f.render_widget(block, area);
    let Some(m) = p.machine.as_deref() else {
        let msg = p.error.clone().unwrap_or_else(|| "booting…".into());
        f.render_widget(Paragraph::new(msg).wrap(Wrap { trim: true }), inner);
        return Drawn::default();
    };
    if inner.width < 4 || inner.height < 1 {
        return Drawn::default();
    }
    let legend_rows = if inner.height >= 5 { 1 } else { 0 };
    let gutter: u16 = if inner.width >= 24 { 7 } else { 0 };
    let avail = inner.width.saturating_sub(gutter).max(1);
    // Rows hold a power of two of cells so that they start at round addresses.
    let cols = 1u16 << (15 - avail.leading_zeros());
    let rows = inner.height - legend_rows;
    let buf = f.buffer_mut();
    if app.zoom == Some(Zoom::Subsections) {
        draw_subsections(buf, m, &p.view, app.cursor_of(i), inner, rows);
    } else {
        let g = m.geometry();
        let cursor = app.cursor_of(i);
        let start = window(app, cursor, per, u64::from(cols), u64::from(rows));
        let end = m.sections().nr_sections();
        for r in 0..rows {
            let row_start = start + u64::from(r) * per * u64::from(cols);
            if row_start >= end {
                break;
            }
            if gutter > 0 {
                let label = short_addr(row_start << g.section_size_bits);
                buf.set_string(
                    inner.x,
                    inner.y + r,
                    format!("{label:>6} "),
                    Style::default().fg(Color::DarkGray),
                );
            }
            for c in 0..cols {
                let a = row_start + u64::from(c) * per;
                let b = a + per;
                let (cat, vm, partial) = p.view.cell(a, b);
                let changed = p.changed.iter().any(|&(x, y)| x < b && y > a);
                let under = (a..b).contains(&cursor) && !app.compare;
                let sym = if cat == Cat::Absent {
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
                let sym = if changed && cat != Cat::Absent {
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
                let sym = if under && cat == Cat::Absent {
                    "+"
                } else {
                    sym
                };
                buf.set_string(inner.x + gutter + c, inner.y + r, sym, style);
            }
        }
    }
    if legend_rows > 0 {
        let y = inner.y + inner.height - 1;
        let mut spans = Vec::new();
        for c in Cat::LEGEND {
            spans.push(Span::styled(glyph(c), Style::default().fg(colour(c))));
            spans.push(Span::raw(format!(" {}  ", c.label())));
        }
        spans.push(Span::styled(
            "▄",
            Style::default().fg(Color::Green).bg(Color::Yellow),
        ));
        spans.push(Span::raw(" changed  ▓ holds vmemmap  ▒ partly populated"));
        let line = Line::from(spans);
        f.render_widget(Paragraph::new(line), Rect::new(inner.x, y, inner.width, 1));
    }
    Drawn {
        map_rows: rows,
        map_cols: avail,
    }
}

fn draw_subsections(
    buf: &mut Buffer,
    m: &Machine,
    v: &MachineView,
    nr: u64,
    inner: Rect,
    rows: u16,
) {
    let g = m.geometry();
    let cats = subsection_cats(m, v, nr);
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

/// A compact address for the map's gutter.
fn short_addr(a: u64) -> String {
    const U: [(&str, u32); 4] = [("P", 50), ("T", 40), ("G", 30), ("M", 20)];
    for (s, sh) in U {
        if a >= 1 << sh && a.is_multiple_of(1 << sh) {
            return format!("{}{s}", a >> sh);
        }
    }
    if a == 0 {
        "0".into()
    } else {
        format!("{}M", a >> 20)
    }
}

fn draw_totals(f: &mut Frame, app: &App, p: &Pane, area: Rect, all: Option<&[Pane]>) {
    let block = pane_block(" totals ".into(), false);
    let inner = block.inner(area);
    f.render_widget(block, area);
    let _ = app;
    let lines: Vec<Line> = p
        .view
        .totals
        .iter()
        .map(|(k, v)| {
            let differs = all.is_some_and(|ps| {
                ps.iter().any(|o| {
                    o.view
                        .totals
                        .iter()
                        .find(|(ok, _)| ok == k)
                        .is_some_and(|(_, ov)| ov != v)
                })
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
                Span::styled(v.clone(), style),
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
            human_bytes(p.machine.as_deref().map_or(0, |m| m.block_size()))
        ),
        focused,
    );
    let inner = block.inner(area);
    f.render_widget(block, area);
    if inner.height == 0 {
        return;
    }
    let mut lines = vec![Line::styled(
        format!(
            "{:<23} {:>6} {:<7} {:<9} ZONES",
            "RANGE", "SIZE", "STATE", "BLOCK"
        ),
        Style::default().add_modifier(Modifier::BOLD),
    )];
    let visible = inner.height.saturating_sub(1) as usize;
    let first = app.block_row.saturating_sub(visible.saturating_sub(1));
    for (i, r) in p.view.rows.iter().enumerate().skip(first).take(visible) {
        let blocks = if r.first == r.last {
            r.first.to_string()
        } else {
            format!("{}-{}", r.first, r.last)
        };
        let mut zone = r.zone.clone();
        if r.memmap_on_memory {
            zone.push_str(" (altmap)");
        }
        let text = format!(
            "{:#011x}-{:#011x} {:>6} {:<7} {:<9} {}",
            r.start,
            r.start + r.size - 1,
            arch::human(r.size),
            r.state,
            blocks,
            zone
        );
        let cat = if r.state != "online" {
            Cat::Offline
        } else if r.early {
            Cat::Boot
        } else if r.zone.starts_with("Movable") {
            Cat::Movable
        } else {
            Cat::Normal
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
        match p.view.rows.get(app.block_row) {
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
    let g = m.geometry();
    if nr >= m.sections().nr_sections() {
        return vec![Line::raw("beyond NR_MEM_SECTIONS")];
    }
    let s = m.sections().state(SectionNr(nr));
    let start = nr << g.section_size_bits;
    let mut out = vec![
        Line::raw(format!("[{start:#x}, +{}]", arch::human(g.section_size))),
        Line::raw(format!("flags {}", s.flag_names())),
    ];
    if !s.present() {
        return out;
    }
    out.push(Line::raw(format!("node {}", s.nid)));
    match s.usage {
        Some(u) if !s.early() => out.push(Line::raw(format!(
            "sub-sections {}/{} {}",
            u.count(),
            g.subsections_per_section,
            u.bits(g.subsections_per_section)
        ))),
        _ => out.push(Line::raw("early: whole section valid")),
    }
    let v = m.vmemmap();
    let a = v.vpn(g.vmemmap_offset(start >> g.page_shift));
    let b = v.vpn_up(g.vmemmap_offset((start + g.section_size) >> g.page_shift));
    for (x, y, map) in v.iter(a, b).take(4) {
        let level = match map.level {
            mm::vmemmap::Level::Pmd => "PMD".to_string(),
            mm::vmemmap::Level::Pte => "PTE".to_string(),
            mm::vmemmap::Level::Bolted { pages } => {
                format!("bolted {}", arch::human(pages * g.page_size))
            }
        };
        let share = match map.sharing {
            mm::vmemmap::Sharing::Own => String::new(),
            mm::vmemmap::Sharing::Dedup { period, unique, .. } => {
                format!(", {unique}/{period} own")
            }
        };
        out.push(Line::raw(format!(
            "memmap {} pages {level} from {}{share}",
            y - x,
            map.origin.name()
        )));
    }
    let id = m.units().block_of_section(SectionNr(nr));
    if let Some(b) = m.blocks().get(&id) {
        let zone = b.zone.map_or("-".to_string(), |z| z.name().to_string());
        out.push(Line::raw(format!(
            "memory{}: {}, zone {zone}",
            id.0,
            b.state.name()
        )));
        if let Some(al) = b.altmap {
            out.push(Line::raw(format!(
                "altmap free {} alloc {} align {}",
                al.free, al.alloc, al.align
            )));
        }
    }
    for p in m.pgmaps().values() {
        if p.start < start + g.section_size && p.end > start {
            out.push(Line::raw(format!(
                "{} {} map={} align {}",
                p.namespace,
                p.mode.name(),
                p.map.name(),
                arch::human(p.align)
            )));
        }
    }
    out.extend(device_lines(m, start, start + g.section_size));
    out
}

/// The virtio-mem and kmem devices whose memory overlaps `[start, end)`.
fn device_lines(m: &Machine, start: u64, end: u64) -> Vec<Line<'static>> {
    let mut out = Vec::new();
    for d in m.virtio_mem_devices() {
        if d.start < end && start < d.start + d.region_size {
            let mode = match d.mode {
                mm::virtio_mem::Mode::Sbm { sb_size } => {
                    format!("SBM, {} sub-blocks", arch::human(sb_size))
                }
                mm::virtio_mem::Mode::Bbm { bb_size } => {
                    format!("BBM, {} big blocks", arch::human(bb_size))
                }
            };
            out.push(Line::raw(format!(
                "virtio-mem {}: region {:#x}+{}, {mode}",
                d.id,
                d.start,
                arch::human(d.region_size)
            )));
            out.push(Line::raw(format!(
                "  plugged {} of {} requested{}",
                arch::human(m.virtio_mem_plugged_size(d)),
                arch::human(d.requested_size),
                if d.waiting.is_some() {
                    " (waiting)"
                } else {
                    ""
                }
            )));
        }
    }
    for k in m.kmem_devices() {
        if k.start < end && start < k.start + k.size {
            out.push(Line::raw(format!(
                "kmem dax{}: {:#x}+{} as System RAM (kmem), memmap {}",
                k.id,
                k.start,
                arch::human(k.size),
                if k.memmap_on_memory {
                    "on the device"
                } else {
                    "in RAM"
                }
            )));
        }
    }
    out
}

fn block_detail(m: &Machine, id: u64) -> Vec<Line<'static>> {
    let read = |f: &str| {
        m.read(&format!("/sys/devices/system/memory/memory{id}/{f}"))
            .map(|s| s.trim().to_string())
            .unwrap_or_default()
    };
    let mut out = vec![
        Line::raw(format!("state {}", read("state"))),
        Line::raw(format!("phys_index {}", read("phys_index"))),
        Line::raw(format!("valid_zones {}", read("valid_zones"))),
        Line::raw(format!("removable {}", read("removable"))),
    ];
    if let Some(b) = m.blocks().get(&mm::units::BlockId(id)) {
        out.push(Line::raw(format!("resource \"{}\"", b.resource)));
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
        let s = m.units().block_start(b.id);
        out.extend(device_lines(m, s, s + m.block_size()));
    }
    out
}

fn draw_log(f: &mut Frame, app: &App, p: &Pane, area: Rect) {
    let focused = app.focus == Focus::Log;
    let player = app.player.as_ref().filter(|_| app.show_script);
    let title = match player {
        Some(pl) => format!(" script {} ({}/{}) ", pl.path, pl.next, pl.chunks.len()),
        None => " dmesg ".to_string(),
    };
    let block = pane_block(title, focused);
    let inner = block.inner(area);
    f.render_widget(block, area);
    let h = inner.height as usize;
    if h == 0 {
        return;
    }
    let lines: Vec<Line> = if let Some(pl) = player {
        let mut v = Vec::new();
        for (i, c) in pl.chunks.iter().enumerate() {
            let mark = if i + 1 == pl.next { "▶ " } else { "  " };
            let style = if i + 1 == pl.next {
                Style::default()
                    .fg(Color::Yellow)
                    .add_modifier(Modifier::BOLD)
            } else if i < pl.next {
                Style::default().fg(Color::DarkGray)
            } else {
                Style::default()
            };
            for (k, l) in c.text.lines().enumerate() {
                let prefix = if k == 0 { mark } else { "  " };
                v.push(Line::styled(format!("{prefix}{l}"), style));
            }
        }
        // Keep the current statement in view.
        let cur = pl
            .chunks
            .iter()
            .take(pl.next.saturating_sub(1))
            .map(|c| c.text.lines().count())
            .sum::<usize>();
        let first = cur.saturating_sub(h / 3);
        v.into_iter().skip(first).take(h).collect()
    } else {
        let d = p.machine.as_deref().map(|m| m.dmesg()).unwrap_or(&[]);
        let end = d.len().saturating_sub(app.log_scroll);
        let start = end.saturating_sub(h);
        d[start..end].iter().map(|l| Line::raw(l.clone())).collect()
    };
    f.render_widget(Paragraph::new(lines), inner);
}

fn draw_repl(f: &mut Frame, app: &App, area: Rect) {
    let focused = app.focus == Focus::Repl;
    let block = pane_block(" REPL (: to type, Enter runs) ".into(), focused);
    let inner = block.inner(area);
    f.render_widget(block, area);
    if inner.height == 0 || inner.width == 0 {
        return;
    }
    let input_lines: Vec<&str> = if app.repl.input.is_empty() {
        vec![""]
    } else {
        app.repl.input.split('\n').collect()
    };
    let in_h = (input_lines.len() as u16).min(inner.height);
    let out_h = inner.height - in_h;
    // Output, newest at the bottom.
    let names: Vec<&str> = app.panes.iter().map(|p| p.arch.as_str()).collect();
    let mut out: Vec<Line> = Vec::new();
    for (pane, o) in &app.repl.output {
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
        out.push(Line::styled(text, style));
    }
    let end = out.len().saturating_sub(app.repl.scroll);
    let start = end.saturating_sub(out_h as usize);
    let shown: Vec<Line> = out[start..end].to_vec();
    f.render_widget(
        Paragraph::new(shown),
        Rect::new(inner.x, inner.y, inner.width, out_h),
    );
    let mut lines = Vec::new();
    for (i, l) in input_lines.iter().enumerate() {
        let prompt = if i == 0 { "> " } else { ". " };
        lines.push(Line::from(vec![
            Span::styled(prompt, Style::default().fg(Color::Cyan)),
            Span::raw(l.to_string()),
        ]));
    }
    let skip = lines.len().saturating_sub(in_h as usize);
    let y = inner.y + out_h;
    f.render_widget(
        Paragraph::new(lines.into_iter().skip(skip).collect::<Vec<_>>()),
        Rect::new(inner.x, y, inner.width, in_h),
    );
    if focused && !app.help {
        let last = input_lines.last().copied().unwrap_or("");
        let col = last[..app.repl.cursor.min(last.len())].chars().count() as u16 + 2;
        let x = (inner.x + col).min(inner.x + inner.width - 1);
        f.set_cursor_position((x, y + in_h - 1));
    }
}

fn draw_status(f: &mut Frame, app: &App, area: Rect) {
    let archs = app
        .panes
        .iter()
        .map(|p| p.arch.as_str())
        .collect::<Vec<_>>()
        .join(" | ");
    let state = if app.busy() {
        "running… Ctrl-C interrupts".to_string()
    } else {
        app.status.clone()
    };
    let line = Line::from(vec![
        Span::styled(
            format!(" {archs} "),
            Style::default().bg(Color::Blue).fg(Color::White),
        ),
        Span::raw(format!(" {state} ")),
        Span::styled(
            "  ? help  : REPL  Tab panes  +/- zoom  a arch  c compare  q quit",
            Style::default().fg(Color::DarkGray),
        ),
    ]);
    f.render_widget(Paragraph::new(line), area);
}

fn draw_help(f: &mut Frame, area: Rect, scroll: u16) {
    let w = area.width.saturating_sub(4).min(86);
    let h = area.height.saturating_sub(2).min(40);
    let r = Rect::new(
        area.x + (area.width - w) / 2,
        area.y + (area.height - h) / 2,
        w,
        h,
    );
    let mut lines = vec![Line::styled(
        "Keys (↑↓ scroll, any other key closes this)",
        Style::default().add_modifier(Modifier::BOLD),
    )];
    for b in BINDINGS {
        lines.push(Line::from(vec![
            Span::styled(
                format!("  {:<12}", b.shown),
                Style::default().fg(Color::Yellow),
            ),
            Span::raw(b.help),
        ]));
    }
    lines.push(Line::styled(
        "In the REPL",
        Style::default().add_modifier(Modifier::BOLD),
    ));
    for (k, d) in REPL_KEYS {
        lines.push(Line::from(vec![
            Span::styled(format!("  {k:<12}"), Style::default().fg(Color::Yellow)),
            Span::raw(*d),
        ]));
    }
    lines.push(Line::styled(
        "Map",
        Style::default().add_modifier(Modifier::BOLD),
    ));
    for c in Cat::LEGEND {
        lines.push(Line::from(vec![
            Span::styled(format!("  {}  ", glyph(c)), Style::default().fg(colour(c))),
            Span::raw(format!("{:<9}{}", c.label(), c.meaning())),
        ]));
    }
    lines.push(Line::raw(
        "  ▓ a cell holding carved-out struct pages, ▒ partly populated, ▄ on yellow: changed by the last input",
    ));
    f.render_widget(Clear, r);
    f.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .scroll((scroll, 0))
            .block(pane_block(" help ".into(), true)),
        r,
    );
}
