//! One palette for the TUI and the pictures: Okabe and Ito's eight colours, which stay apart
//! for the common colour-vision deficiencies, each class also given a fill pattern or a
//! lightness of its own so that a greyscale print still tells them apart.

use mm::read::SectionKind;

/// An RGB colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rgb(pub u8, pub u8, pub u8);

impl Rgb {
    pub fn hex(self) -> String {
        format!("#{:02x}{:02x}{:02x}", self.0, self.1, self.2)
    }
}

/// The colour of a section class (Okabe-Ito: blue, bluish green, sky blue, reddish
/// purple, vermillion; greys for what holds nothing in use).
pub fn section(c: SectionKind) -> Rgb {
    match c {
        SectionKind::Absent => Rgb(0xee, 0xee, 0xee),
        SectionKind::Boot => Rgb(0x00, 0x72, 0xb2),
        SectionKind::Offline => Rgb(0xb0, 0xb0, 0xb0),
        SectionKind::Normal => Rgb(0x00, 0x9e, 0x73),
        SectionKind::Movable => Rgb(0x56, 0xb4, 0xe9),
        SectionKind::Device => Rgb(0xcc, 0x79, 0xa7),
        SectionKind::Vmemmap => Rgb(0xd5, 0x5e, 0x00),
    }
}

/// A device's range that memremap_pages() has not mapped: no struct pages, no zone.
pub const UNMAPPED_DEVICE: &str = "#f2dbe8";

/// The SVG fill of a section class: its colour, hatched where two classes are close in
/// lightness (movable beside device, the vmemmap mark beside normal).
pub fn section_fill(c: SectionKind) -> String {
    match c {
        SectionKind::Normal => "url(#normal)".to_string(),
        SectionKind::Movable => "url(#movable)".to_string(),
        SectionKind::Device => "url(#device)".to_string(),
        SectionKind::Vmemmap => "url(#vmemmap)".to_string(),
        c => section(c).hex(),
    }
}

/// The patterns [`section_fill`] names, for an SVG's defs.
pub fn section_patterns() -> Vec<String> {
    let hatch = |id: &str, c: Rgb, line: &str| {
        format!(
            r#"<pattern id="{id}" patternUnits="userSpaceOnUse" width="6" height="6"><rect width="6" height="6" fill="{}"/>{line}</pattern>"#,
            c.hex()
        )
    };
    vec![
        hatch(
            "normal",
            section(SectionKind::Normal),
            r##"<path d="M0,3 L6,3" stroke="#ffffff" stroke-width="1"/>"##,
        ),
        hatch(
            "movable",
            section(SectionKind::Movable),
            r##"<path d="M0,6 L6,0" stroke="#ffffff" stroke-width="1.2"/>"##,
        ),
        hatch(
            "device",
            section(SectionKind::Device),
            r##"<circle cx="3" cy="3" r="1.2" fill="#ffffff"/>"##,
        ),
        hatch(
            "vmemmap",
            section(SectionKind::Vmemmap),
            r##"<path d="M0,0 L6,6 M6,0 L0,6" stroke="#000000" stroke-width="0.8"/>"##,
        ),
    ]
}

/// Where struct pages come from (the vmemmap picture): boot memory, the buddy allocator,
/// the range's own altmap, a device's reservation.
pub fn origin(o: &str) -> Rgb {
    match o {
        "boot" => Rgb(0x00, 0x72, 0xb2),
        "buddy" => Rgb(0xe6, 0x9f, 0x00),
        "altmap" => Rgb(0xd5, 0x5e, 0x00),
        "device" => Rgb(0xcc, 0x79, 0xa7),
        _ => Rgb(0x80, 0x80, 0x80),
    }
}

/// The TUI's colour for a section class: the same palette.
pub fn tui(c: SectionKind) -> ratatui::style::Color {
    let Rgb(r, g, b) = section(c);
    match c {
        // A terminal's background is dark: "no memory" is a dim grey dot there.
        SectionKind::Absent => ratatui::style::Color::DarkGray,
        _ => ratatui::style::Color::Rgb(r, g, b),
    }
}

/// Relative luminance (WCAG), to check that a greyscale print keeps classes apart.
pub fn luminance(c: Rgb) -> f64 {
    let lin = |v: u8| {
        let s = f64::from(v) / 255.0;
        if s <= 0.039_28 {
            s / 12.92
        } else {
            ((s + 0.055) / 1.055).powf(2.4)
        }
    };
    0.2126 * lin(c.0) + 0.7152 * lin(c.1) + 0.0722 * lin(c.2)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Classes drawn as plain colours differ in lightness enough to survive a greyscale
    /// print; the hatched ones carry a pattern besides.
    #[test]
    fn plain_classes_differ_in_greyscale() {
        let plain: Vec<SectionKind> = SectionKind::LEGEND
            .into_iter()
            .filter(|c| !section_fill(*c).starts_with("url("))
            .collect();
        for (i, a) in plain.iter().enumerate() {
            for b in &plain[i + 1..] {
                let (la, lb) = (luminance(section(*a)), luminance(section(*b)));
                let ratio = (la.max(lb) + 0.05) / (la.min(lb) + 0.05);
                assert!(ratio > 1.3, "{a:?} and {b:?}: {ratio:.2}");
            }
        }
    }
}
