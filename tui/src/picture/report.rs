//! A run as one self-contained HTML file: per architecture (and version) the script's
//! output, the stats table, dmesg and the pictures inline; no script, no stylesheet or
//! font fetched from anywhere, so it opens offline in any browser.

use super::svg::escape;

/// One architecture's part of the report.
pub struct ReportPart {
    pub label: String,
    pub output: Vec<String>,
    pub error: Option<String>,
    pub stats: Vec<(String, String)>,
    pub dmesg: Vec<String>,
    /// Pictures: a caption and the SVG text.
    pub pictures: Vec<(String, String)>,
}

/// An SVG document as an element to put inline (the XML declaration dropped).
fn inline(svg: &str) -> &str {
    match svg.find("<svg") {
        Some(i) => &svg[i..],
        None => svg,
    }
}

/// The report of the run of `script`.
pub fn report_html(script: &str, command: &str, parts: &[ReportPart]) -> String {
    let mut h = String::new();
    h.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    h.push_str(&format!("<title>hotplug-lab: {}</title>\n", escape(script)));
    h.push_str(
        "<style>\nbody { font-family: sans-serif; margin: 2em; color: #111; }\n\
         pre { background: #f4f4f4; padding: 0.6em; overflow-x: auto; }\n\
         table { border-collapse: collapse; } td { padding: 0 1em 0 0; font-family: monospace; }\n\
         figure { margin: 1em 0; } svg { max-width: 100%; height: auto; border: 1px solid #ccc; }\n\
         .error { color: #a00; }\n</style>\n</head>\n<body>\n",
    );
    h.push_str(&format!(
        "<h1>{}</h1>\n<p><code>{}</code></p>\n",
        escape(script),
        escape(command)
    ));
    if parts.len() > 1 {
        h.push_str("<ul>\n");
        for (i, p) in parts.iter().enumerate() {
            h.push_str(&format!(
                "<li><a href=\"#part{i}\">{}</a></li>\n",
                escape(&p.label)
            ));
        }
        h.push_str("</ul>\n");
    }
    for (i, p) in parts.iter().enumerate() {
        h.push_str(&format!(
            "<section id=\"part{i}\">\n<h2>{}</h2>\n",
            escape(&p.label)
        ));
        if let Some(e) = &p.error {
            h.push_str(&format!("<p class=\"error\">{}</p>\n", escape(e)));
        }
        h.push_str("<h3>output</h3>\n<pre>");
        for l in &p.output {
            h.push_str(&escape(l));
            h.push('\n');
        }
        h.push_str("</pre>\n");
        for (caption, svg) in &p.pictures {
            h.push_str(&format!(
                "<figure>\n{}\n<figcaption>{}</figcaption>\n</figure>\n",
                inline(svg),
                escape(caption)
            ));
        }
        if !p.stats.is_empty() {
            h.push_str("<h3>stats of the machine booted last</h3>\n<table>\n");
            for (k, v) in &p.stats {
                h.push_str(&format!(
                    "<tr><td>{}</td><td>{}</td></tr>\n",
                    escape(k),
                    escape(v)
                ));
            }
            h.push_str("</table>\n");
        }
        h.push_str("<h3>dmesg</h3>\n<pre>");
        for l in &p.dmesg {
            h.push_str(&escape(l));
            h.push('\n');
        }
        h.push_str("</pre>\n</section>\n");
    }
    h.push_str("</body>\n</html>\n");
    h
}
