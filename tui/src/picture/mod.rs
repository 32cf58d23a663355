//! Pictures a user can keep: the physical address map and a range's vmemmap as SVG, drawn
//! from mm's read model; charts of what a script computed; a self-contained HTML report of
//! a run. Every picture is text (same input, same bytes), so scripts and snapshots carry
//! them anywhere.

pub mod chart;
pub mod map;
pub mod palette;
pub mod report;
pub mod save;
pub mod svg;
pub mod vmemmap;

pub use chart::{chart_svg, ChartKind, ChartSpec};
pub use map::map_svg;
pub use vmemmap::vmemmap_svg;

/// Which picture of a machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    Map,
    Vmemmap,
}

impl View {
    pub fn parse(s: &str) -> Option<View> {
        match s {
            "map" => Some(View::Map),
            "vmemmap" => Some(View::Vmemmap),
            _ => None,
        }
    }
}

/// The picture `view` of `m`, over `range` (the vmemmap view needs one: default the first
/// memory block).
pub fn machine_svg(m: &mm::Machine, view: View, range: Option<(u64, u64)>) -> String {
    match view {
        View::Map => map_svg(m, range),
        View::Vmemmap => {
            let (start, size) = range.unwrap_or_else(|| {
                let bs = m.block_size();
                let first = m.blocks().keys().next().map_or(0, |b| b.0);
                (first * bs, bs)
            });
            vmemmap_svg(m, start, size)
        }
    }
}

/// Several pictures side by side in one SVG, each under its label (the TUI's compare modes
/// as small multiples).
pub fn side_by_side(pictures: &[(String, String)]) -> String {
    let attr = |svg: &str, name: &str| -> f64 {
        let head = &svg[svg.find("<svg").unwrap_or(0)..];
        let head = &head[..head.find('>').unwrap_or(head.len())];
        head.split(&format!(" {name}=\"")[..])
            .nth(1)
            .and_then(|r| r.split('"').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0)
    };
    let mut x = 0.0;
    let mut height: f64 = 0.0;
    let mut body = String::new();
    for (i, (label, svg)) in pictures.iter().enumerate() {
        let (w, h) = (attr(svg, "width"), attr(svg, "height"));
        let mut inner = svg[svg.find("<svg").unwrap_or(0)..].to_string();
        // One set of pattern definitions for the document (ids are unique).
        if i > 0 {
            if let (Some(a), Some(b)) = (inner.find("<defs>"), inner.find("</defs>")) {
                inner.replace_range(a..b + "</defs>".len(), "");
            }
        }
        body.push_str(&format!(
            "<text x=\"{}\" y=\"20\" font-size=\"16\" font-weight=\"bold\">{}</text>\n",
            x + 20.0,
            svg::escape(label)
        ));
        body.push_str(&inner.replacen("<svg ", &format!("<svg x=\"{x}\" y=\"30\" "), 1));
        x += w + 20.0;
        height = height.max(h + 30.0);
    }
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"{x}\" height=\"{height}\" viewBox=\"0 0 {x} {height}\" font-family=\"DejaVu Sans, Verdana, sans-serif\">\n<rect width=\"{x}\" height=\"{height}\" fill=\"#ffffff\"/>\n{body}</svg>\n"
    )
}
