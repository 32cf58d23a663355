//! The pictures of the scripting contract: `m.svg(#{ view, start, size })`, `chart(#{ ... })`
//! and `save(name, text)`, which writes under --svg-out only.

use super::{einval, Host, Vm};
use crate::picture::{self, ChartKind, ChartSpec, View};
use rhai::{Dynamic, Engine, EvalAltResult, Map};

type Res<T> = Result<T, Box<EvalAltResult>>;

const SVG_KEYS: &[&str] = &["view", "start", "size"];
const CHART_KEYS: &[&str] = &[
    "title", "x_label", "y_label", "kind", "series", "x_unit", "y_unit",
];

/// `what`'s map may hold only `keys`: else EINVAL with the nearest name.
fn check_keys(what: &str, map: &Map, keys: &[&str]) -> Res<()> {
    for k in map.keys() {
        if !keys.contains(&k.as_str()) {
            let hint = arch::did_you_mean(k, keys.iter().copied())
                .map(|n| format!("did you mean {n}? "))
                .unwrap_or_default();
            return Err(einval(format!(
                "{what}: unknown option {} ({hint}it takes {})",
                mm::error::quote(k),
                keys.join(", ")
            )));
        }
    }
    Ok(())
}

fn text_of(map: &Map, key: &str, what: &str) -> Res<String> {
    match map.get(key) {
        None => Ok(String::new()),
        Some(v) if v.is_string() => Ok(v.clone().into_string().unwrap_or_default()),
        Some(v) => Err(einval(format!(
            "{what}: {key} must be a string, not {}",
            v.type_name()
        ))),
    }
}

fn number(v: &Dynamic, what: &str) -> Res<f64> {
    if let Ok(i) = v.as_int() {
        return Ok(i as f64);
    }
    if let Ok(f) = v.as_float() {
        return Ok(f);
    }
    Err(einval(format!(
        "{what}: a point's coordinates must be numbers, not {}",
        v.type_name()
    )))
}

/// The chart a script's map describes.
fn chart_spec(map: &Map) -> Res<ChartSpec> {
    check_keys("chart", map, CHART_KEYS)?;
    let kind = match text_of(map, "kind", "chart")?.as_str() {
        "" | "line" => ChartKind::Line,
        "bar" => ChartKind::Bar,
        other => {
            return Err(einval(format!(
                "chart: kind {} is not \"line\" or \"bar\"",
                mm::error::quote(other)
            )))
        }
    };
    let unit = |key: &str| -> Res<bool> {
        match text_of(map, key, "chart")?.as_str() {
            "" => Ok(false),
            "bytes" => Ok(true),
            other => Err(einval(format!(
                "chart: {key} {} is not \"bytes\" (leave it out for plain numbers)",
                mm::error::quote(other)
            ))),
        }
    };
    let Some(series) = map.get("series") else {
        return Err(einval(
            "chart: give series: #{ NAME: [[x, y], ...] }".to_string(),
        ));
    };
    let Some(series) = series.read_lock::<Map>() else {
        return Err(einval(format!(
            "chart: series must be a map of NAME: [[x, y], ...], not {}",
            series.type_name()
        )));
    };
    let mut out = Vec::new();
    for (name, pts) in series.iter() {
        let Some(pts) = pts.read_lock::<rhai::Array>() else {
            return Err(einval(format!(
                "chart: series {} must be an array of [x, y] points",
                mm::error::quote(name)
            )));
        };
        let mut v = Vec::with_capacity(pts.len());
        for p in pts.iter() {
            let pair = p.read_lock::<rhai::Array>();
            match pair.as_deref().map(Vec::as_slice) {
                Some([x, y]) => v.push((number(x, "chart")?, number(y, "chart")?)),
                _ => {
                    return Err(einval(format!(
                        "chart: series {}: each point is [x, y]",
                        mm::error::quote(name)
                    )))
                }
            }
        }
        out.push((name.to_string(), v));
    }
    Ok(ChartSpec {
        title: text_of(map, "title", "chart")?,
        x_label: text_of(map, "x_label", "chart")?,
        y_label: text_of(map, "y_label", "chart")?,
        kind,
        series: out,
        x_bytes: unit("x_unit")?,
        y_bytes: unit("y_unit")?,
    })
}

/// The range a picture covers: both of start and size, or neither.
fn range(m: &mm::Machine, map: &Map) -> Res<Option<(u64, u64)>> {
    let get = |k: &str| -> Res<Option<u64>> {
        match map.get(k) {
            None => Ok(None),
            Some(v) => super::api::size_arg(m, v, k).map(Some),
        }
    };
    let end = m.geometry().physmem_end;
    match (get("start")?, get("size")?) {
        (None, None) => Ok(None),
        (Some(s), Some(n)) if n > 0 && (s > end || n - 1 > end - s) => Err(einval(format!(
            "svg: [{s:#x}, +{}) runs past {}'s physical address space (up to {end:#x})",
            arch::human(n),
            m.target().name()
        ))),
        (Some(s), Some(n)) if n > 0 => Ok(Some((s, n))),
        (Some(_), Some(_)) => Err(einval("svg: size must not be 0".to_string())),
        _ => Err(einval(
            "svg: give both start and size, or neither".to_string(),
        )),
    }
}

pub(super) fn register_pictures(e: &mut Engine, host: &Host) {
    // A picture is a string the script holds: --max-string-size bounds it as any other.
    let limits = host.limits;
    e.register_fn("svg", move |vm: &mut Vm| -> Res<String> {
        let svg = picture::map_svg(&vm.0.borrow(), None);
        super::sandbox::string_limit("m.svg()", svg.len(), &limits)?;
        Ok(svg)
    })
    .register_fn("svg", move |vm: &mut Vm, opts: Map| -> Res<String> {
        check_keys("svg", &opts, SVG_KEYS)?;
        let m = vm.0.borrow();
        let view = match text_of(&opts, "view", "svg")?.as_str() {
            "" => View::Map,
            v => View::parse(v).ok_or_else(|| {
                einval(format!(
                    "svg: view {} is not \"map\" or \"vmemmap\"",
                    mm::error::quote(v)
                ))
            })?,
        };
        let r = range(&m, &opts)?;
        let svg = picture::machine_svg(&m, view, r);
        super::sandbox::string_limit("m.svg()", svg.len(), &limits)?;
        Ok(svg)
    })
    .register_fn("chart", move |opts: Map| -> Res<String> {
        let spec = chart_spec(&opts)?;
        let svg = picture::chart_svg(&spec).map_err(|e| einval(e.to_string()))?;
        super::sandbox::string_limit("chart()", svg.len(), &limits)?;
        Ok(svg)
    });
    let root = host.svg_root.clone();
    let prefix = host.export_prefix.clone();
    let warned = host.svg_warned.clone();
    let warnings = host.warnings.clone();
    let saved = host.saved.clone();
    let (exported, limits) = (host.exported.clone(), host.limits);
    e.register_fn("save", move |name: &str, text: &str| -> Res<()> {
        picture::save::check_name(name).map_err(|e| einval(format!("save: {e}")))?;
        super::sandbox::string_limit("save()'s text", text.len(), &limits)?;
        let Some(root) = &root else {
            if !warned.replace(true) {
                warnings
                    .borrow_mut()
                    .push("save() wrote nothing: give --svg-out DIR to keep pictures".to_string());
            }
            return Ok(());
        };
        super::sandbox::count_files(&exported, &limits, 1, "save")
            .map_err(super::Stop::into_rhai)?;
        let sub = prefix.to_string_lossy();
        picture::save::write_under(root, &sub, name, text.as_bytes()).map_err(super::throw)?;
        saved
            .borrow_mut()
            .push((name.to_string(), text.to_string()));
        Ok(())
    });
}
