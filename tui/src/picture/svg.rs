//! A small SVG 1.1 writer: the elements the map and vmemmap pictures use, every text
//! escaped, every number printed the same way each time (same input, same bytes).

use std::fmt::Write as _;

/// An SVG document being written.
pub struct Svg {
    width: u32,
    height: u32,
    body: String,
    defs: String,
}

/// `&`, `<`, `>` and quotes as entities: resource names come from the user's iomem.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// A coordinate with at most one decimal, so that output does not depend on float noise.
fn n(v: f64) -> String {
    let r = (v * 10.0).round() / 10.0;
    if r == r.trunc() {
        format!("{}", r as i64)
    } else {
        format!("{r:.1}")
    }
}

/// How a text is anchored.
#[derive(Clone, Copy)]
pub enum Anchor {
    Start,
    Middle,
    End,
}

impl Svg {
    pub fn new(width: u32, height: u32) -> Svg {
        Svg {
            width,
            height,
            body: String::new(),
            defs: String::new(),
        }
    }

    /// A definition (a pattern) referred to by `url(#id)`.
    pub fn def(&mut self, text: &str) {
        self.defs.push_str(text);
        self.defs.push('\n');
    }

    pub fn rect(&mut self, x: f64, y: f64, w: f64, h: f64, fill: &str, stroke: Option<&str>) {
        let _ = write!(
            self.body,
            r#"<rect x="{}" y="{}" width="{}" height="{}" fill="{fill}""#,
            n(x),
            n(y),
            n(w.max(0.0)),
            n(h.max(0.0))
        );
        if let Some(s) = stroke {
            let _ = write!(self.body, r#" stroke="{s}" stroke-width="1""#);
        }
        self.body.push_str("/>\n");
    }

    pub fn line(&mut self, x1: f64, y1: f64, x2: f64, y2: f64, stroke: &str, width: f64) {
        let _ = writeln!(
            self.body,
            r#"<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="{stroke}" stroke-width="{}"/>"#,
            n(x1),
            n(y1),
            n(x2),
            n(y2),
            n(width)
        );
    }

    /// Text at (x, y) (the baseline), `size` pixels, escaped.
    pub fn text(&mut self, x: f64, y: f64, size: f64, anchor: Anchor, text: &str) {
        self.text_styled(x, y, size, anchor, "", text);
    }

    pub fn text_styled(
        &mut self,
        x: f64,
        y: f64,
        size: f64,
        anchor: Anchor,
        style: &str,
        text: &str,
    ) {
        let a = match anchor {
            Anchor::Start => "start",
            Anchor::Middle => "middle",
            Anchor::End => "end",
        };
        let extra = if style.is_empty() {
            String::new()
        } else {
            format!(" {style}")
        };
        let _ = writeln!(
            self.body,
            r#"<text x="{}" y="{}" font-size="{}" text-anchor="{a}"{extra}>{}</text>"#,
            n(x),
            n(y),
            n(size),
            escape(text)
        );
    }

    /// Any other element, written as given.
    pub fn raw(&mut self, text: &str) {
        self.body.push_str(text);
        self.body.push('\n');
    }

    pub fn height(&self) -> u32 {
        self.height
    }

    /// The document, with the final height (what was drawn decides it).
    pub fn finish(self, height: u32) -> String {
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
             <svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"{w}\" height=\"{height}\" \
             viewBox=\"0 0 {w} {height}\" font-family=\"DejaVu Sans, Verdana, sans-serif\">\n\
             <defs>\n{defs}</defs>\n<rect width=\"{w}\" height=\"{height}\" fill=\"#ffffff\"/>\n{body}</svg>\n",
            w = self.width,
            defs = self.defs,
            body = self.body
        )
    }
}

/// Roughly how wide `text` is at `size` pixels (DejaVu Sans averages 0.6 em), to keep
/// labels from overlapping: a label that does not fit is not drawn.
pub fn text_width(text: &str, size: f64) -> f64 {
    text.chars().count() as f64 * size * 0.6
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped_and_numbers_stable() {
        let mut s = Svg::new(10, 10);
        s.text(1.04, 2.25, 12.0, Anchor::Start, "<a & 'b'>");
        let out = s.finish(10);
        assert!(out.contains(r#"x="1" y="2.3""#), "{out}");
        assert!(out.contains("&lt;a &amp; &#39;b&#39;&gt;"), "{out}");
    }
}
