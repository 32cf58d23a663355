//! Charts of what a script computed (plotters' SVG backend): one line or one group of bars
//! per series, axes in human units, each series told apart by colour and by marker so that a
//! greyscale print still reads.

use plotters::prelude::*;
use thiserror::Error;

/// What `chart()` draws.
#[derive(Debug, Clone, PartialEq)]
pub struct ChartSpec {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub kind: ChartKind,
    /// Each series: its name and its points, in the order given.
    pub series: Vec<(String, Vec<(f64, f64)>)>,
    /// Axis values are bytes: ticks read 1G, 512M.
    pub x_bytes: bool,
    pub y_bytes: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChartKind {
    Line,
    Bar,
}

#[derive(Debug, Error)]
pub enum ChartError {
    #[error("chart: {0}")]
    Invalid(String),
}

/// Series colours: Okabe and Ito's, in their order (grey for their yellow, which white
/// paper swallows).
const COLOURS: [RGBColor; 8] = [
    RGBColor(0x00, 0x72, 0xb2),
    RGBColor(0xe6, 0x9f, 0x00),
    RGBColor(0x00, 0x9e, 0x73),
    RGBColor(0xcc, 0x79, 0xa7),
    RGBColor(0x56, 0xb4, 0xe9),
    RGBColor(0xd5, 0x5e, 0x00),
    RGBColor(0x00, 0x00, 0x00),
    RGBColor(0x99, 0x99, 0x99),
];

/// At most this many series and points in all (a script's values are hostile).
pub const MAX_SERIES: usize = 64;
pub const MAX_POINTS: usize = 100_000;

/// The binary unit byte values are plotted in: the largest one the biggest value reaches,
/// so that ticks are round numbers of it.
fn byte_unit(max: f64) -> (f64, &'static str) {
    const UNITS: [(f64, &str); 5] = [
        (1_125_899_906_842_624.0, "PiB"),
        (1_099_511_627_776.0, "TiB"),
        (1_073_741_824.0, "GiB"),
        (1_048_576.0, "MiB"),
        (1024.0, "KiB"),
    ];
    UNITS
        .into_iter()
        .find(|u| max >= u.0)
        .unwrap_or((1.0, "bytes"))
}

fn tick(v: f64) -> String {
    if v.abs() >= 1e6 || (v != 0.0 && v.abs() < 1e-3) {
        format!("{v:.2e}")
    } else if v == v.trunc() {
        format!("{}", v as i64)
    } else {
        // 0.5, not 0.50: the same form as the whole ticks beside it.
        let t = format!("{v:.2}");
        t.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

/// The chart as SVG text.
pub fn chart_svg(spec: &ChartSpec) -> Result<String, ChartError> {
    if spec.series.is_empty() {
        return Err(ChartError::Invalid(
            "no series: give series: #{ NAME: [[x, y], ...] }".to_string(),
        ));
    }
    if spec.series.len() > MAX_SERIES {
        return Err(ChartError::Invalid(format!(
            "{} series, at most {MAX_SERIES}",
            spec.series.len()
        )));
    }
    let points: usize = spec.series.iter().map(|s| s.1.len()).sum();
    if points > MAX_POINTS {
        return Err(ChartError::Invalid(format!(
            "{points} points, at most {MAX_POINTS}"
        )));
    }
    let all = spec.series.iter().flat_map(|s| s.1.iter());
    let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, 0.0f64, f64::MIN);
    for &(x, y) in all {
        if !x.is_finite() || !y.is_finite() {
            return Err(ChartError::Invalid(format!(
                "a point is not a finite number: [{x}, {y}]"
            )));
        }
        x0 = x0.min(x);
        x1 = x1.max(x);
        y0 = y0.min(y);
        y1 = y1.max(y);
    }
    if points == 0 {
        return Err(ChartError::Invalid("every series is empty".to_string()));
    }
    if x1 <= x0 {
        x1 = x0 + 1.0;
    }
    if y1 <= y0 {
        y1 = y0 + 1.0;
    }
    // Bars need room either side of the first and last x.
    let xs: Vec<f64> = {
        let mut v: Vec<f64> = spec
            .series
            .iter()
            .flat_map(|s| s.1.iter().map(|p| p.0))
            .collect();
        v.sort_by(f64::total_cmp);
        v.dedup();
        v
    };
    let step = xs
        .windows(2)
        .map(|w| w[1] - w[0])
        .fold(f64::MAX, f64::min)
        .min(x1 - x0);
    let (x0, x1) = match spec.kind {
        ChartKind::Bar => (x0 - step / 2.0, x1 + step / 2.0),
        ChartKind::Line => (x0, x1),
    };
    // Byte axes in the unit their largest value reaches.
    let (xu, xname) = if spec.x_bytes {
        byte_unit(x1.abs().max(x0.abs()))
    } else {
        (1.0, "")
    };
    let (yu, yname) = if spec.y_bytes {
        byte_unit(y1.abs().max(y0.abs()))
    } else {
        (1.0, "")
    };
    let (x0, x1, y0, y1, step) = (x0 / xu, x1 / xu, y0 / yu, y1 / yu, step / xu);
    let series: Vec<(&str, Vec<(f64, f64)>)> = spec
        .series
        .iter()
        .map(|(n, p)| {
            (
                n.as_str(),
                p.iter().map(|&(x, y)| (x / xu, y / yu)).collect(),
            )
        })
        .collect();
    let desc = |label: &str, unit: &str| match (label.is_empty(), unit.is_empty()) {
        (_, true) => label.to_string(),
        (true, false) => format!("({unit})"),
        (false, false) => format!("{label} ({unit})"),
    };
    let (x_desc, y_desc) = (desc(&spec.x_label, xname), desc(&spec.y_label, yname));
    let y1 = y1 + (y1 - y0) * 0.05;
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, (900, 540)).into_drawing_area();
        let err = |e: &dyn std::fmt::Display| ChartError::Invalid(format!("drawing: {e}"));
        root.fill(&WHITE).map_err(|e| err(&e))?;
        let mut c = ChartBuilder::on(&root)
            .caption(&spec.title, ("sans-serif", 22))
            .margin(16)
            .x_label_area_size(48)
            .y_label_area_size(80)
            .build_cartesian_2d(x0..x1, y0..y1)
            .map_err(|e| err(&e))?;
        c.configure_mesh()
            .x_desc(&x_desc)
            .y_desc(&y_desc)
            .x_label_formatter(&|v| tick(*v))
            .y_label_formatter(&|v| tick(*v))
            .light_line_style(RGBColor(0xee, 0xee, 0xee))
            .draw()
            .map_err(|e| err(&e))?;
        let n = series.len();
        for (i, (name, pts)) in series.iter().enumerate() {
            let colour = COLOURS[i % COLOURS.len()];
            let style = ShapeStyle::from(&colour).stroke_width(2);
            // Colour and marker cycle by 8 and 3: no two of the first 24 series alike.
            let marker = i % 3;
            match spec.kind {
                ChartKind::Line => {
                    c.draw_series(LineSeries::new(pts.iter().copied(), style))
                        .map_err(|e| err(&e))?
                        .label(*name)
                        .legend(move |(x, y)| {
                            // The line and its marker, as the series draws them (the marker
                            // as an outline: a circle's octagon, a triangle, a cross).
                            let shape: Vec<(i32, i32)> = match marker {
                                0 => vec![
                                    (7, -1),
                                    (9, -3),
                                    (11, -3),
                                    (13, -1),
                                    (13, 1),
                                    (11, 3),
                                    (9, 3),
                                    (7, 1),
                                    (7, -1),
                                ],
                                1 => vec![(6, 3), (10, -4), (14, 3), (6, 3)],
                                _ => vec![(6, -4), (14, 4), (10, 0), (6, 4), (14, -4)],
                            };
                            EmptyElement::at((x, y))
                                + PathElement::new(vec![(0, 0), (20, 0)], style.stroke_width(2))
                                + PathElement::new(shape, style.stroke_width(2))
                        });
                    c.draw_series(pts.iter().map(|&(x, y)| -> DynElement<_, _> {
                        match marker {
                            0 => Circle::new((x, y), 3, style.filled()).into_dyn(),
                            1 => TriangleMarker::new((x, y), 4, style.filled()).into_dyn(),
                            _ => Cross::new((x, y), 4, style).into_dyn(),
                        }
                    }))
                    .map_err(|e| err(&e))?;
                }
                ChartKind::Bar => {
                    let w = step * 0.8 / n as f64;
                    let off = -step * 0.4 + w * i as f64;
                    c.draw_series(pts.iter().map(|&(x, y)| {
                        Rectangle::new([(x + off, y0), (x + off + w, y)], style.filled())
                    }))
                    .map_err(|e| err(&e))?
                    .label(*name)
                    .legend(move |(x, y)| {
                        Rectangle::new([(x, y - 5), (x + 14, y + 5)], style.filled())
                    });
                }
            }
        }
        c.configure_series_labels()
            .background_style(WHITE.mix(0.9))
            .border_style(BLACK)
            .position(SeriesLabelPosition::UpperLeft)
            .draw()
            .map_err(|e| err(&e))?;
        root.present().map_err(|e| err(&e))?;
    }
    Ok(out)
}
