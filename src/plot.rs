//! Figures with plotters, PNG or SVG by the file's extension, with an embedded font so they
//! render on machines without fonts: maps on the lat/lon grid (filled cells, coastlines from
//! the land mask, a colour bar with units, sequential or diverging colour maps, missing
//! cells blank), histograms with marker lines (Fig. 3) and predicted-vs-actual scatter plots
//! with the 1:1 line and r^2 (Figs. 5, 6). NaN, empty and constant data never panic.

use anyhow::{bail, Context, Result};
use ndarray::Array2;
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::{Path, PathBuf};

/// Settings shared by every kind of figure.
#[derive(Debug, Clone)]
pub struct Options {
    /// Title above the plot.
    pub title: String,
    /// Label of the x axis.
    pub xlabel: String,
    /// Label of the y axis.
    pub ylabel: String,
    /// Units (colour bar label of maps).
    pub units: String,
    /// Colour map: "viridis" (sequential) or "RdBu_r" (diverging, centred on zero).
    pub cmap: Option<String>,
    /// Lower end of the colour (or x) range.
    pub vmin: Option<f64>,
    /// Upper end of the colour (or x) range.
    pub vmax: Option<f64>,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Region boxes drawn on maps (e.g. the Table 2 regions).
    pub regions: Vec<crate::field::Region>,
    /// The quantity a colour bar names before its units: "GPP" and "gC m-2 d-1" label the
    /// bar "GPP (gC m-2 d-1)".
    pub quantity: String,
    /// Maps with a land fraction: cells whose land fraction is below this are not drawn and
    /// do not set the colour range (default 0.1).
    pub min_landfrac: f64,
    /// Maps: the analysis mask (lat x lon); cells where it is 0 or NaN are not drawn and do
    /// not set the colour range.
    pub mask: Option<Array2<f64>>,
    /// Scatter plots: the 1:1 line on equal axes (default); `false` gives a plain scatter
    /// with each axis over its own data.
    pub one_to_one: bool,
    /// Scatter plots: the squared correlation in the legend (default: with the 1:1 line).
    pub r2: Option<bool>,
    /// Scatter plots: the legend entry of the points (none if empty and without r^2).
    pub label: String,
    /// Heat maps: whether the diagonal is drawn (default true; `false` leaves it blank and
    /// out of the colour range, e.g. the self-correlations of Fig. S2).
    pub diagonal: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            title: String::new(),
            xlabel: String::new(),
            ylabel: String::new(),
            units: String::new(),
            cmap: None,
            vmin: None,
            vmax: None,
            regions: Vec::new(),
            width: 1000,
            height: 560,
            quantity: String::new(),
            min_landfrac: 0.1,
            mask: None,
            one_to_one: true,
            r2: None,
            label: String::new(),
            diagonal: true,
        }
    }
}

static FONTS: std::sync::Once = std::sync::Once::new();

/// Registers the embedded DejaVu Sans (once): without it, no text can be drawn.
fn fonts() {
    FONTS.call_once(|| {
        let _ = plotters::style::register_font(
            "sans-serif",
            FontStyle::Normal,
            dejavu::sans::regular(),
        );
        let _ = plotters::style::register_font("sans-serif", FontStyle::Bold, dejavu::sans::bold());
    });
}

/// Anchor colours of the colour maps (matplotlib's viridis and RdBu_r, sampled evenly).
const VIRIDIS: [(u8, u8, u8); 9] = [
    (68, 1, 84),
    (71, 44, 122),
    (59, 81, 139),
    (44, 113, 142),
    (33, 144, 141),
    (39, 173, 129),
    (92, 200, 99),
    (170, 220, 50),
    (253, 231, 37),
];
const RDBU_R: [(u8, u8, u8); 11] = [
    (5, 48, 97),
    (33, 102, 172),
    (67, 147, 195),
    (146, 197, 222),
    (209, 229, 240),
    (247, 247, 247),
    (253, 219, 199),
    (244, 165, 130),
    (214, 96, 77),
    (178, 24, 43),
    (103, 0, 31),
];

/// The colour of `t` in [0, 1] on a colour map.
pub fn color(cmap: &str, t: f64) -> RGBColor {
    let table: &[(u8, u8, u8)] = if cmap == "RdBu_r" { &RDBU_R } else { &VIRIDIS };
    let t = if t.is_finite() {
        t.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let x = t * (table.len() - 1) as f64;
    let i = (x.floor() as usize).min(table.len() - 2);
    let f = x - i as f64;
    let mix = |a: u8, b: u8| (a as f64 + (b as f64 - a as f64) * f).round() as u8;
    let (a, b) = (table[i], table[i + 1]);
    RGBColor(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

/// An axis tick as text with 3 significant digits; a tick that is zero but for rounding in
/// the tick arithmetic (|v| < 1e-9 of the axis span) is written 0. Ticks of magnitude
/// 1e-4 to 1e6 are written without an exponent (`0.00004`, not `4e-05`).
pub fn tick_text(v: f64, span: f64) -> String {
    let v = if v.abs() < 1e-9 * span.abs() { 0.0 } else { v };
    let s = crate::format::format_spec(v, ".3g").unwrap_or_default();
    if s.contains('e') && (1e-6..1e6).contains(&v.abs()) {
        // enough decimals for the tick spacing (about a tenth of the span) and the value
        let step = (span.abs() / 10.0).max(v.abs() * 1e-3);
        let decimals = (-(step.log10().floor()) as i32).clamp(0, 10) as usize;
        let t = format!("{v:.decimals$}");
        if t.contains('.') {
            return t.trim_end_matches('0').trim_end_matches('.').to_string();
        }
        return t;
    }
    s
}

/// Units as a paper writes them: exponents after the unit without a caret, a divisor as a
/// negative exponent (`gC/m^2/s` -> `gC m-2 s-1`, `W/m^2` -> `W m-2`, `m^2` -> `m2`).
///
/// ```
/// assert_eq!(clmtune::plot::unit_text("gC/m^2/s"), "gC m-2 s-1");
/// assert_eq!(clmtune::plot::unit_text("W m^-2"), "W m-2");
/// ```
pub fn unit_text(u: &str) -> String {
    let u = u.trim();
    if u.contains('(') {
        return u.replace('^', "");
    }
    let mut parts = u.split('/');
    let mut out: Vec<String> = parts
        .next()
        .unwrap_or("")
        .split_whitespace()
        .map(|t| t.replace('^', ""))
        .collect();
    for p in parts {
        for t in p.split_whitespace() {
            let (base, exp) = match t.split_once('^') {
                Some((b, e)) => (b.to_string(), e.to_string()),
                None => {
                    let b = t.trim_end_matches(|c: char| c.is_ascii_digit());
                    let e = &t[b.len()..];
                    (
                        b.to_string(),
                        if e.is_empty() { "1".into() } else { e.into() },
                    )
                }
            };
            match exp.strip_prefix('-') {
                Some(e) => out.push(format!("{base}{e}")),
                None => out.push(format!("{base}-{exp}")),
            }
        }
    }
    out.join(" ")
}

/// How a map shows a field in `units`: the factor its values are multiplied by and the
/// units written on the colour bar. Carbon fluxes are shown in gC m-2 d-1 and water fluxes
/// in mm d-1 (as papers do, not per second); other units keep their values and are written
/// by [`unit_text`] (W/m^2 -> W m-2).
///
/// ```
/// assert_eq!(clmtune::plot::paper_units("gC/m^2/s"), (86400.0, "gC m-2 d-1".to_string()));
/// assert_eq!(clmtune::plot::paper_units("W/m^2"), (1.0, "W m-2".to_string()));
/// ```
pub fn paper_units(units: &str) -> (f64, String) {
    use crate::field::units;
    for (quantity, target) in [("carbon flux", "gC m-2 d-1"), ("water flux", "mm d-1")] {
        if units::quantity(units) == Some(quantity) {
            if let Ok((scale, 0.0)) = units::conversion(units, target) {
                return (scale, target.to_string());
            }
        }
    }
    (1.0, unit_text(units))
}

/// The label of a colour bar: "quantity (units)", either alone if the other is empty.
pub fn bar_label(opts: &Options) -> String {
    let units = unit_text(&opts.units);
    match (opts.quantity.trim(), units.as_str()) {
        ("", u) => u.to_string(),
        (q, "") => q.to_string(),
        (q, u) => format!("{q} ({u})"),
    }
}

/// The power of ten a colour bar's ticks are divided by when they are very small or large
/// (|v| < 0.01 or >= 10000 at the larger end), else 0.
pub fn tick_exponent(lo: f64, hi: f64) -> i32 {
    let m = lo.abs().max(hi.abs());
    if m == 0.0 || !m.is_finite() || (1e-2..1e4).contains(&m) {
        0
    } else {
        m.log10().floor() as i32
    }
}

/// `10` with `e` as a superscript (`10⁻⁵`).
fn power_of_ten(e: i32) -> String {
    let sup = |c: char| match c {
        '-' => '⁻',
        '0' => '⁰',
        '1' => '¹',
        '2' => '²',
        '3' => '³',
        '4' => '⁴',
        '5' => '⁵',
        '6' => '⁶',
        '7' => '⁷',
        '8' => '⁸',
        _ => '⁹',
    };
    format!("10{}", e.to_string().chars().map(sup).collect::<String>())
}

/// The colour range: given limits, else the data's (symmetric about 0 for a diverging map);
/// a constant or empty range is widened so that it has a width.
pub fn range(values: impl Iterator<Item = f64>, opts: &Options, diverging: bool) -> (f64, f64) {
    let (mut lo, mut hi) = values
        .filter(|x| x.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| {
            (a.min(x), b.max(x))
        });
    if !lo.is_finite() {
        (lo, hi) = (0.0, 1.0);
    }
    if diverging {
        let m = lo.abs().max(hi.abs());
        (lo, hi) = (-m, m);
    }
    let lo = opts.vmin.unwrap_or(lo);
    let hi = opts.vmax.unwrap_or(hi);
    if hi > lo {
        (lo, hi)
    } else {
        let pad = if lo == 0.0 { 1.0 } else { lo.abs() * 0.1 };
        (lo - pad, lo + pad)
    }
}

impl Options {
    /// Checks the limits before any drawing: `vmin` and `vmax` must be finite numbers and,
    /// if both are given, `vmin < vmax` (NaN or inverted limits made plotters panic).
    pub fn check(&self) -> Result<()> {
        for (k, v) in [("vmin", self.vmin), ("vmax", self.vmax)] {
            if let Some(v) = v.filter(|v| !v.is_finite()) {
                bail!("figure option {k}: {v} is not a finite number");
            }
        }
        if let (Some(a), Some(b)) = (self.vmin, self.vmax) {
            if a >= b {
                bail!("figure options vmin = {a} and vmax = {b}: vmin must be below vmax");
            }
        }
        Ok(())
    }
}

/// An axis range plotters can draw: finite ends, `lo < hi`, a span a float holds, and wide
/// enough for distinct ticks (at least 1e-12 of its magnitude; narrower spans are widened).
/// Every chart's numeric axis goes through it: a span beyond the largest float made
/// plotters' tick search loop forever.
pub fn axis(lo: f64, hi: f64) -> Result<std::ops::Range<f64>> {
    let span = hi - lo;
    if !lo.is_finite() || !hi.is_finite() || !span.is_finite() {
        bail!(
            "cannot plot values from {lo:e} to {hi:e}: the span is larger than the largest float"
        );
    }
    if hi < lo {
        bail!("cannot plot an axis from {lo} down to {hi}");
    }
    let mag = lo.abs().max(hi.abs());
    let min_span = (mag * 1e-12).max(1e-300);
    if span < min_span {
        let mid = lo + span / 2.0;
        return Ok(mid - min_span..mid + min_span);
    }
    Ok(lo..hi)
}

fn de<E: std::fmt::Debug>(e: E) -> anyhow::Error {
    anyhow::anyhow!("drawing failed: {e:?}")
}

/// Renders a figure to `path` (.png or .svg), writing a temporary file beside it first.
pub fn save(
    path: &Path,
    opts: &Options,
    draw: impl FnOnce(&DrawingArea<BitMapBackend, Shift>) -> Result<()>,
    draw_svg: impl FnOnce(&DrawingArea<SVGBackend, Shift>) -> Result<()>,
) -> Result<PathBuf> {
    let _step = crate::provenance::step("figures");
    opts.check()?;
    fonts();
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_lowercase)
        .unwrap_or_default();
    let tmp = crate::files::temp_beside(path, &format!(".{ext}"))?;
    let (w, h) = (opts.width.clamp(100, 10000), opts.height.clamp(100, 10000));
    match ext.as_str() {
        "png" => {
            let root = BitMapBackend::new(tmp.path(), (w, h)).into_drawing_area();
            root.fill(&WHITE).map_err(de)?;
            draw(&root)?;
            root.present()
                .map_err(de)
                .with_context(|| format!("cannot write {}", path.display()))?;
        }
        "svg" => {
            let root = SVGBackend::new(tmp.path(), (w, h)).into_drawing_area();
            root.fill(&WHITE).map_err(de)?;
            draw_svg(&root)?;
            root.present()
                .map_err(de)
                .with_context(|| format!("cannot write {}", path.display()))?;
        }
        _ => bail!("{}: figures are .png or .svg files", path.display()),
    }
    crate::files::persist(tmp, path)?;
    Ok(path.to_path_buf())
}

/// Light grey of map cells (and heat map cells) that have no value: distinct from the
/// near-white of values near zero on the diverging colour map.
pub const MISSING: RGBColor = RGBColor(208, 208, 214);

/// Margins (top, bottom) in pixels that line a strip `bar` up with the plotting area of a
/// chart whose plotting area spans rows `plot_rows` (absolute pixels).
fn aligned(bar_top: i32, bar_height: u32, plot_rows: &std::ops::Range<i32>) -> (u32, u32) {
    let top = (plot_rows.start - bar_top).max(0) as u32;
    let bottom = (bar_top + bar_height as i32 - plot_rows.end).max(0) as u32;
    (top, bottom)
}

/// A vertical colour bar from `lo` to `hi` with ticks and `label` on its right; `top` and
/// `bottom` are the margins that give it the height of the plot beside it. Very small or
/// large values are written as multiples of a power of ten named in the label.
fn colour_bar<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    lo: f64,
    hi: f64,
    cmap: &str,
    label: &str,
    (top, bottom): (u32, u32),
) -> Result<()> {
    let e = tick_exponent(lo, hi);
    let f = 10f64.powi(-e);
    let label = match (e, label) {
        (0, l) => l.to_string(),
        (_, "") => format!("× {}", power_of_ten(e)),
        (_, l) => format!("{l}, × {}", power_of_ten(e)),
    };
    use plotters::style::text_anchor::{HPos, Pos, VPos};
    let (_, h) = area.dim_in_pixel();
    // a bar 22 pixels wide at the strip's left, its ticks, tick labels and label right of it
    let (x0, x1) = (6, 28);
    let (y0, y1) = (top as i32, (h as i32 - bottom as i32).max(top as i32 + 1));
    let steps = (y1 - y0).max(1);
    for k in 0..steps {
        let t = 1.0 - (k as f64 + 0.5) / steps as f64;
        area.draw(&Rectangle::new(
            [(x0, y0 + k), (x1, y0 + k + 1)],
            color(cmap, t).filled(),
        ))
        .map_err(de)?;
    }
    area.draw(&Rectangle::new([(x0, y0), (x1, y1)], BLACK.stroke_width(1)))
        .map_err(de)?;
    let (a, b) = (lo * f, hi * f);
    let font = ("sans-serif", 13).into_font();
    let mut widest = 0;
    for v in nice_ticks(a, b, ((y1 - y0) / 40).clamp(2, 8) as usize) {
        let y = y1 - ((v - a) / (b - a) * (y1 - y0) as f64).round() as i32;
        let text = tick_text(v, b - a);
        widest = widest.max(font.box_size(&text).map(|s| s.0).unwrap_or(30) as i32);
        area.draw(&PathElement::new(vec![(x1, y), (x1 + 4, y)], BLACK))
            .map_err(de)?;
        area.draw(&Text::new(
            text,
            (x1 + 7, y),
            font.color(&BLACK).pos(Pos::new(HPos::Left, VPos::Center)),
        ))
        .map_err(de)?;
    }
    if !label.is_empty() {
        let lf = ("sans-serif", 14).into_font();
        let (tw, th) = lf.box_size(&label).unwrap_or((100, 14));
        // turned a quarter anticlockwise, read bottom to top, centred on the bar
        area.draw(&Text::new(
            label.clone(),
            (x1 + 7 + widest + 8, (y0 + y1) / 2 + tw as i32 / 2),
            lf.transform(FontTransform::Rotate270).color(&BLACK),
        ))
        .map_err(de)?;
        let _ = th;
    }
    Ok(())
}

/// About `n` evenly spaced round numbers (steps of 1, 2, 2.5 or 5 times a power of ten)
/// from `lo` to `hi`, both ends included when they are round.
pub fn nice_ticks(lo: f64, hi: f64, n: usize) -> Vec<f64> {
    if hi.partial_cmp(&lo) != Some(std::cmp::Ordering::Greater)
        || !lo.is_finite()
        || !hi.is_finite()
    {
        return Vec::new();
    }
    let raw = (hi - lo) / n.max(1) as f64;
    let p = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .into_iter()
        .map(|m| m * p)
        .find(|s| *s >= 0.7 * raw)
        .unwrap_or(10.0 * p);
    let first = (lo / step - 1e-9).ceil() as i64;
    let last = (hi / step + 1e-9).floor() as i64;
    (first..=last).map(|k| k as f64 * step).collect()
}

/// Longitudes of a map's ticks for a plotting area `plot_width` pixels wide: every 30
/// degrees when there is room (about 62 pixels a label), else every 60, 90 or 120; never at
/// the map's edges (180°), where they would meet the latitude labels.
pub fn lon_ticks(plot_width: u32) -> Vec<f64> {
    let step = [30.0, 60.0, 90.0, 120.0]
        .into_iter()
        .find(|s| 360.0 / s * 62.0 <= plot_width as f64)
        .unwrap_or(120.0);
    let n = (180.0 / step - 1e-9).floor() as i32;
    (-n..=n).map(|k| step * k as f64).collect()
}

/// Latitudes of a map's ticks for a plotting area `plot_height` pixels high: every 30
/// degrees from 60°S to 60°N, or 60°S, 0°, 60°N when it is low.
pub fn lat_ticks(plot_height: u32) -> Vec<f64> {
    if plot_height >= 6 * 22 {
        vec![-60.0, -30.0, 0.0, 30.0, 60.0]
    } else {
        vec![-60.0, 0.0, 60.0]
    }
}

/// A longitude or latitude as a tick label: `120°W`, `0°`, `30°N`.
pub fn degree_text(v: f64, neg: &str, pos: &str) -> String {
    let v = if v.abs() < 1e-9 { 0.0 } else { v };
    let hemi = if v < 0.0 {
        neg
    } else if v > 0.0 {
        pos
    } else {
        ""
    };
    format!(
        "{}°{hemi}",
        crate::format::format_spec(v.abs(), "g").unwrap_or_default()
    )
}

/// The values a map draws: NaN where the land fraction is below `opts.min_landfrac` (when
/// there is a land fraction) or the analysis mask `opts.mask` is 0 or NaN.
pub fn map_values(values: &Array2<f64>, land: Option<&Array2<f64>>, opts: &Options) -> Array2<f64> {
    let mut v = values.clone();
    if let Some(land) = land.filter(|l| l.dim() == values.dim()) {
        v.zip_mut_with(land, |x, &f| {
            if f.is_nan() || f < opts.min_landfrac {
                *x = f64::NAN
            }
        });
    }
    if let Some(mask) = opts.mask.as_ref().filter(|m| m.dim() == values.dim()) {
        v.zip_mut_with(mask, |x, &m| {
            if !(m != 0.0 && m.is_finite()) {
                *x = f64::NAN
            }
        });
    }
    v
}

/// Where a map's coastlines run: the land fraction's 0.5 contour if there is one; else the
/// built-in 4x5 land fraction if the map is on that grid; else the edge of the cells that
/// have values.
fn coast_land(
    values: &Array2<f64>,
    lat: &[f64],
    lon: &[f64],
    land: Option<&Array2<f64>>,
) -> Array2<bool> {
    if let Some(l) = land {
        return l.mapv(|f| f >= 0.5);
    }
    if let Ok(g) = crate::grids::f45() {
        let same = |a: &[f64], b: &[f64]| {
            a.len() == b.len() && a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-3)
        };
        if same(lat, &g.lat) && same(lon, &g.lon) {
            if let Some(lf) = g.to_map(&g.landfrac) {
                return lf.mapv(|f| f >= 0.5);
            }
        }
    }
    values.mapv(f64::is_finite)
}

/// A map of `values` (lat x lon) on cell centres `lat`, `lon`: the cells with values
/// filled (not those of land fraction below `opts.min_landfrac` or outside `opts.mask`),
/// the others light grey ([`MISSING`]), coastlines (see [`coast_land`]: from `land`, else the
/// 4x5 land fraction, else the edge of the defined cells), ticks every 30 degrees as room
/// allows, and a colour bar as high as the map labelled with [`bar_label`].
pub fn draw_map<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    values: &Array2<f64>,
    lat: &[f64],
    lon: &[f64],
    land: Option<&Array2<f64>>,
    opts: &Options,
) -> Result<()> {
    let (ny, nx) = values.dim();
    if lat.len() != ny || lon.len() != nx || land.is_some_and(|l| l.dim() != (ny, nx)) {
        bail!("a map of shape ({ny}, {nx}) needs {ny} latitudes, {nx} longitudes and a land mask of the same shape");
    }
    if ny < 2 || nx < 2 {
        bail!("a map needs at least 2 x 2 cells");
    }
    if let Some(m) = opts.mask.as_ref().filter(|m| m.dim() != (ny, nx)) {
        bail!(
            "a map of shape ({ny}, {nx}) with a mask of shape {:?}",
            m.dim()
        );
    }
    let values = map_values(values, land, opts);
    draw_geo(
        area,
        Geo::Cells {
            values: &values,
            lat,
            lon,
            land,
        },
        opts,
    )
}

/// A map panel ([`Panel::Map`] or [`Panel::Points`]) drawn alone, as [`draw_map`] or
/// [`draw_points`].
pub fn draw_geo_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    panel: &Panel,
    opts: &Options,
) -> Result<()> {
    match panel {
        Panel::Map {
            values,
            lat,
            lon,
            land,
        } => draw_map(area, values, lat, lon, land.as_ref(), opts),
        Panel::Points {
            values,
            lat,
            lon,
            land,
        } => draw_points(area, values, lat, lon, land.as_deref(), opts),
        _ => bail!("not a map panel"),
    }
}

/// A map of values at points (`lat`, `lon`): the cells of a 1-D grid (CLM's `lndgrid`:
/// sparse grid, regional, single point) as filled dots coloured by value, light grey where
/// missing or where the land fraction `landfrac` (if given) is below `opts.min_landfrac`;
/// coastlines of the built-in 4x5 land fraction; ticks, regions and colour bar as
/// [`draw_map`].
pub fn draw_points<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    values: &[f64],
    lat: &[f64],
    lon: &[f64],
    landfrac: Option<&[f64]>,
    opts: &Options,
) -> Result<()> {
    let n = values.len();
    if lat.len() != n || lon.len() != n || landfrac.is_some_and(|l| l.len() != n) {
        bail!("a map of {n} points needs {n} latitudes, {n} longitudes and land fractions");
    }
    if n == 0 {
        bail!("a map of points needs at least one point");
    }
    let shown: Vec<f64> = values
        .iter()
        .enumerate()
        .map(|(k, &v)| match landfrac {
            Some(l) if l[k].is_nan() || l[k] < opts.min_landfrac => f64::NAN,
            _ => v,
        })
        .collect();
    draw_geo(
        area,
        Geo::Points {
            values: &shown,
            lat,
            lon,
        },
        opts,
    )
}

/// What a geographic map draws: cells of a lat/lon grid, or points.
enum Geo<'a> {
    Cells {
        values: &'a Array2<f64>,
        lat: &'a [f64],
        lon: &'a [f64],
        land: Option<&'a Array2<f64>>,
    },
    Points {
        values: &'a [f64],
        lat: &'a [f64],
        lon: &'a [f64],
    },
}

impl Geo<'_> {
    fn values(&self) -> Box<dyn Iterator<Item = f64> + '_> {
        match self {
            Geo::Cells { values, .. } => Box::new(values.iter().copied()),
            Geo::Points { values, .. } => Box::new(values.iter().copied()),
        }
    }
}

/// The frame, ticks, content, coastlines, regions and colour bar of [`draw_map`] and
/// [`draw_points`].
fn draw_geo<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    geo: Geo,
    opts: &Options,
) -> Result<()> {
    let cmap = opts.cmap.clone().unwrap_or_else(|| "viridis".into());
    let diverging = cmap == "RdBu_r";
    let (lo, hi) = range(geo.values(), opts, diverging);
    let geo_empty = geo.values().all(|v| !v.is_finite());
    let (w, _) = area.dim_in_pixel();
    let (main, bar) = area.split_horizontally(w.saturating_sub(120).max(50));
    let mut chart = ChartBuilder::on(&main)
        .caption(&opts.title, ("sans-serif", 22))
        .margin(12)
        .x_label_area_size(30)
        .y_label_area_size(46)
        .build_cartesian_2d(-180.0..180.0, -90.0..90.0)
        .map_err(de)?;
    chart
        .configure_mesh()
        .disable_mesh()
        .x_labels(0)
        .y_labels(0)
        .draw()
        .map_err(de)?;
    // ticks every 30 degrees as room allows, drawn here (plotters picks its own)
    let (cols, rows) = chart.plotting_area().get_pixel_range();
    let (plot_w, plot_h) = (cols.len() as u32, rows.len() as u32);
    {
        use plotters::style::text_anchor::{HPos, Pos, VPos};
        let (bx, by) = main.get_base_pixel();
        let at = |x: f64, y: f64| {
            let (px, py) = chart.backend_coord(&(x, y));
            (px - bx, py - by)
        };
        let font = ("sans-serif", 13).into_font().color(&BLACK);
        for x in lon_ticks(plot_w) {
            let (px, py) = at(x, -90.0);
            main.draw(&PathElement::new(vec![(px, py), (px, py + 4)], BLACK))
                .map_err(de)?;
            main.draw(&Text::new(
                degree_text(x, "W", "E"),
                (px, py + 6),
                font.pos(Pos::new(HPos::Center, VPos::Top)),
            ))
            .map_err(de)?;
        }
        for y in lat_ticks(plot_h) {
            let (px, py) = at(-180.0, y);
            main.draw(&PathElement::new(vec![(px - 4, py), (px, py)], BLACK))
                .map_err(de)?;
            main.draw(&Text::new(
                degree_text(y, "S", "N"),
                (px - 6, py),
                font.pos(Pos::new(HPos::Right, VPos::Center)),
            ))
            .map_err(de)?;
        }
    }
    let shift = |x: f64| (x + 180.0).rem_euclid(360.0) - 180.0;
    match geo {
        Geo::Cells {
            values,
            lat,
            lon,
            land,
        } => {
            let (ny, nx) = values.dim();
            chart
                .draw_series(std::iter::once(Rectangle::new(
                    [(-180.0, -90.0), (180.0, 90.0)],
                    MISSING.filled(),
                )))
                .map_err(de)?;
            let dlon = 360.0 / nx as f64;
            let dlat = (lat[ny - 1] - lat[0]).abs() / (ny - 1) as f64;
            let cells = values
                .indexed_iter()
                .filter(|(_, v)| v.is_finite())
                .map(|((i, j), &v)| {
                    let (x, y) = (shift(lon[j]), lat[i]);
                    let c = color(&cmap, (v - lo) / (hi - lo));
                    Rectangle::new(
                        [
                            (x - dlon / 2.0, (y - dlat / 2.0).max(-90.0)),
                            (x + dlon / 2.0, (y + dlat / 2.0).min(90.0)),
                        ],
                        c.filled(),
                    )
                });
            chart.draw_series(cells).map_err(de)?;
            let is_land = coast_land(values, lat, lon, land);
            let mut segs = Vec::new();
            for (i, &y) in lat.iter().enumerate() {
                for (j, &lo) in lon.iter().enumerate() {
                    let x = shift(lo);
                    let j2 = (j + 1) % nx;
                    if is_land[[i, j]] != is_land[[i, j2]] && x + dlon / 2.0 <= 180.0 + 1e-9 {
                        let e = x + dlon / 2.0;
                        segs.push(vec![
                            (e, (y - dlat / 2.0).max(-90.0)),
                            (e, (y + dlat / 2.0).min(90.0)),
                        ]);
                    }
                    if i + 1 < ny && is_land[[i, j]] != is_land[[i + 1, j]] {
                        let e = (y + lat[i + 1]) / 2.0;
                        segs.push(vec![(x - dlon / 2.0, e), (x + dlon / 2.0, e)]);
                    }
                }
            }
            chart
                .draw_series(
                    segs.into_iter()
                        .map(|s| PathElement::new(s, BLACK.stroke_width(1))),
                )
                .map_err(de)?;
        }
        Geo::Points { values, lat, lon } => {
            let r = 4;
            let dots = (0..values.len()).map(|k| {
                let c = if values[k].is_finite() {
                    color(&cmap, (values[k] - lo) / (hi - lo))
                } else {
                    MISSING
                };
                Circle::new((shift(lon[k]), lat[k]), r, c.filled())
            });
            chart.draw_series(dots).map_err(de)?;
            let outline = (0..values.len())
                .map(|k| Circle::new((shift(lon[k]), lat[k]), r, BLACK.mix(0.6).stroke_width(1)));
            chart.draw_series(outline).map_err(de)?;
            // coastlines of the built-in 4x5 land fraction
            let g = crate::grids::f45()?;
            let lf = crate::grids::landfrac_4x5()?;
            let land = lf.mapv(|f| f >= 0.5);
            let (ny, nx) = land.dim();
            let (dlat, dlon) = (4.0, 5.0);
            let mut segs = Vec::new();
            for i in 0..ny {
                for j in 0..nx {
                    let (y, x) = (g.lat[i], shift(g.lon[j]));
                    let j2 = (j + 1) % nx;
                    if land[[i, j]] != land[[i, j2]] && x + dlon / 2.0 <= 180.0 + 1e-9 {
                        let e = x + dlon / 2.0;
                        segs.push(vec![
                            (e, (y - dlat / 2.0).max(-90.0)),
                            (e, (y + dlat / 2.0).min(90.0)),
                        ]);
                    }
                    if i + 1 < ny && land[[i, j]] != land[[i + 1, j]] {
                        let e = y + dlat / 2.0;
                        segs.push(vec![(x - dlon / 2.0, e), (x + dlon / 2.0, e)]);
                    }
                }
            }
            chart
                .draw_series(
                    segs.into_iter()
                        .map(|s| PathElement::new(s, BLACK.mix(0.5).stroke_width(1))),
                )
                .map_err(de)?;
        }
    }
    for r in &opts.regions {
        let (a, b) = (shift(r.lon_min), shift(r.lon_max));
        // a box across the map's edge at 180 degrees is drawn in two parts
        let spans = if a <= b {
            vec![(a, b)]
        } else {
            vec![(a, 180.0), (-180.0, b)]
        };
        for (x0, x1) in spans {
            chart
                .draw_series(std::iter::once(Rectangle::new(
                    [(x0, r.lat_min), (x1, r.lat_max)],
                    BLACK.stroke_width(2),
                )))
                .map_err(de)?;
        }
        // name above the box's north-west corner (offsets in pixels from that corner), on a
        // white patch that keeps it readable over any colour
        let tw = ("sans-serif", 14)
            .into_font()
            .box_size(&r.name)
            .map(|(w, _)| w as i32)
            .unwrap_or(r.name.chars().count() as i32 * 8)
            + 4;
        chart
            .plotting_area()
            .draw(
                &(EmptyElement::at((a, r.lat_max))
                    + Rectangle::new([(0, -18), (tw, -1)], WHITE.mix(0.85).filled())
                    + Text::new(
                        r.name.clone(),
                        (2, -16),
                        ("sans-serif", 14).into_font().color(&BLACK),
                    )),
            )
            .map_err(de)?;
    }
    let (_, rows) = chart.plotting_area().get_pixel_range();
    colour_bar(
        &bar,
        lo,
        hi,
        &cmap,
        &bar_label(opts),
        aligned(bar.get_base_pixel().1, bar.dim_in_pixel().1, &rows),
    )?;
    if geo_empty {
        main.draw(&Text::new(
            "no data",
            ((w as i32) / 3, 100),
            ("sans-serif", 28).into_font().color(&RED),
        ))
        .map_err(de)?;
    }
    Ok(())
}

/// The x range of a histogram: the finite values and the markers, or `vmin`/`vmax`; with
/// markers and no given limits, padded by 6 % at each end so that a marker line at an end
/// stays clear of the frame.
pub fn histogram_range(values: &[f64], markers: &[(f64, String)], opts: &Options) -> (f64, f64) {
    let (lo, hi) = range(
        values
            .iter()
            .copied()
            .filter(|x| x.is_finite())
            .chain(markers.iter().map(|m| m.0)),
        opts,
        false,
    );
    let pad = if opts.vmin.is_none() && opts.vmax.is_none() && !markers.is_empty() {
        0.06 * (hi - lo)
    } else {
        0.0
    };
    (lo - pad, hi + pad)
}

/// A histogram of the finite `values` in `bins` bins, with vertical marker lines (value,
/// label) named in a legend beside the plot (never over the lines) — Fig. 3's observation
/// and default markers; the x range from [`histogram_range`].
pub fn draw_histogram<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    values: &[f64],
    bins: usize,
    markers: &[(f64, String)],
    opts: &Options,
) -> Result<()> {
    let bins = bins.clamp(1, 1000);
    let finite: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    let (lo, hi) = histogram_range(values, markers, opts);
    let palette = [
        RGBColor(214, 39, 40),
        RGBColor(0, 0, 0),
        RGBColor(44, 160, 44),
        RGBColor(255, 127, 14),
    ];
    let entries: Vec<(String, RGBColor, Swatch)> = markers
        .iter()
        .enumerate()
        .map(|(k, (_, l))| (l.clone(), palette[k % palette.len()], Swatch::Line))
        .collect();
    let (area, strip) = legend_split(area, &entries);
    let area = &area;
    let width = (hi - lo) / bins as f64;
    let mut counts = vec![0usize; bins];
    for &x in &finite {
        if x >= lo && x <= hi {
            counts[(((x - lo) / width) as usize).min(bins - 1)] += 1;
        }
    }
    let top = counts.iter().copied().max().unwrap_or(0).max(1) as f64 * 1.1;
    let mut chart = ChartBuilder::on(area)
        .caption(&opts.title, ("sans-serif", 24))
        .margin(14)
        .x_label_area_size(46)
        .y_label_area_size(60)
        .build_cartesian_2d(axis(lo, hi)?, 0.0..top)
        .map_err(de)?;
    chart
        .configure_mesh()
        .x_desc(&opts.xlabel)
        .y_desc(if opts.ylabel.is_empty() {
            "count"
        } else {
            &opts.ylabel
        })
        .x_label_formatter(&|v| tick_text(*v, hi - lo))
        .y_label_formatter(&|v| tick_text(*v, top))
        .label_style(("sans-serif", 14))
        .axis_desc_style(("sans-serif", 16))
        .light_line_style(WHITE)
        .draw()
        .map_err(de)?;
    let bar = RGBColor(120, 150, 190);
    chart
        .draw_series(counts.iter().enumerate().map(|(k, &c)| {
            let x0 = lo + width * k as f64;
            Rectangle::new([(x0, 0.0), (x0 + width, c as f64)], bar.filled())
        }))
        .map_err(de)?;
    // thin white edges keep neighbouring bars of equal height apart
    chart
        .draw_series(
            counts
                .iter()
                .enumerate()
                .filter(|(_, &c)| c > 0)
                .map(|(k, &c)| {
                    let x0 = lo + width * k as f64;
                    Rectangle::new([(x0, 0.0), (x0 + width, c as f64)], WHITE.stroke_width(1))
                }),
        )
        .map_err(de)?;
    for (k, (x, _)) in markers.iter().enumerate() {
        let c = palette[k % palette.len()];
        chart
            .draw_series(std::iter::once(PathElement::new(
                vec![(*x, 0.0), (*x, top)],
                c.stroke_width(3),
            )))
            .map_err(de)?;
    }
    if let Some(strip) = strip {
        let (_, rows) = chart.plotting_area().get_pixel_range();
        side_legend(&strip, &entries, rows.start)?;
    }
    if finite.is_empty() {
        area.draw(&Text::new(
            "no data",
            (120, 90),
            ("sans-serif", 28).into_font().color(&RED),
        ))
        .map_err(de)?;
    }
    Ok(())
}

/// Predicted (y) against actual (x) with the 1:1 line on equal axes and r^2 (the squared
/// correlation, [`crate::metrics::r2_linear`]) in the legend beside `opts.label`; with
/// `opts.one_to_one` false, a plain scatter with each axis over its own data and no r^2
/// unless `opts.r2` asks for it. Ticks are as many as the plot's width holds.
pub fn draw_scatter<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    x: &[f64],
    y: &[f64],
    opts: &Options,
) -> Result<()> {
    if x.len() != y.len() {
        bail!("scatter: {} x values and {} y values", x.len(), y.len());
    }
    let padded = |(lo, hi): (f64, f64)| {
        let pad = (hi - lo) * 0.05;
        (lo - pad, hi + pad)
    };
    let ((x0, x1), (y0, y1)) = if opts.one_to_one {
        let r = padded(range(x.iter().chain(y.iter()).copied(), opts, false));
        (r, r)
    } else {
        let plain = Options {
            vmin: None,
            vmax: None,
            ..Options::default()
        };
        (
            padded(range(x.iter().copied(), &plain, false)),
            padded(range(y.iter().copied(), &plain, false)),
        )
    };
    let (w, h) = area.dim_in_pixel();
    let mut chart = ChartBuilder::on(area)
        .caption(&opts.title, ("sans-serif", 22))
        .margin(14)
        .x_label_area_size(46)
        .y_label_area_size(70)
        .build_cartesian_2d(axis(x0, x1)?, axis(y0, y1)?)
        .map_err(de)?;
    let default_label = |given: &str, dflt: &'static str| {
        if given.is_empty() && opts.one_to_one {
            dflt.to_string()
        } else {
            given.to_string()
        }
    };
    chart
        .configure_mesh()
        .x_desc(default_label(&opts.xlabel, "actual"))
        .y_desc(default_label(&opts.ylabel, "predicted"))
        .x_labels(((w.saturating_sub(100)) / 70).clamp(2, 10) as usize)
        .y_labels(((h.saturating_sub(100)) / 50).clamp(2, 10) as usize)
        .x_label_formatter(&|v| tick_text(*v, x1 - x0))
        .y_label_formatter(&|v| tick_text(*v, y1 - y0))
        .label_style(("sans-serif", 14))
        .axis_desc_style(("sans-serif", 16))
        .light_line_style(WHITE)
        .draw()
        .map_err(de)?;
    let mut legend = false;
    if opts.one_to_one {
        chart
            .draw_series(std::iter::once(PathElement::new(
                vec![(x0, x0), (x1, x1)],
                BLACK.stroke_width(1),
            )))
            .map_err(de)?
            .label("1:1")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLACK));
        legend = true;
    }
    let blue = RGBColor(31, 119, 180);
    let points = chart
        .draw_series(
            x.iter()
                .zip(y)
                .filter(|(a, b)| a.is_finite() && b.is_finite())
                .map(|(&a, &b)| Circle::new((a, b), 4, blue.mix(0.7).filled())),
        )
        .map_err(de)?;
    if let Some(text) = scatter_label(x, y, opts) {
        points
            .label(text)
            .legend(move |(x, y)| Circle::new((x + 10, y), 4, blue.filled()));
        legend = true;
    }
    if legend {
        let corner = emptiest_corner(x, y, (x0, x1), (y0, y1));
        draw_legend(&mut chart, corner)?;
    }
    Ok(())
}

/// The corner of a plot over `xr` x `yr` with the fewest of the points (x, y) in its box
/// (two fifths of the width, a quarter of the height), upper left first on ties: where a
/// legend covers the least.
pub fn emptiest_corner(
    x: &[f64],
    y: &[f64],
    xr: (f64, f64),
    yr: (f64, f64),
) -> SeriesLabelPosition {
    let count = |left: bool, upper: bool| {
        x.iter()
            .zip(y)
            .filter(|(a, b)| {
                let u = (*a - xr.0) / (xr.1 - xr.0);
                let v = (*b - yr.0) / (yr.1 - yr.0);
                (if left { u <= 0.4 } else { u >= 0.6 })
                    && (if upper { v >= 0.75 } else { v <= 0.25 })
            })
            .count()
    };
    [
        (SeriesLabelPosition::UpperLeft, count(true, true)),
        (SeriesLabelPosition::LowerRight, count(false, false)),
        (SeriesLabelPosition::UpperRight, count(false, true)),
        (SeriesLabelPosition::LowerLeft, count(true, false)),
    ]
    .into_iter()
    .min_by_key(|(_, n)| *n)
    .map(|(p, _)| p)
    .unwrap_or(SeriesLabelPosition::UpperLeft)
}

/// The legend entry of a scatter plot's points: `opts.label`, with "r² = ..." (the squared
/// correlation) when `opts.r2` is set or, unset, with the 1:1 line; None if both are empty.
pub fn scatter_label(x: &[f64], y: &[f64], opts: &Options) -> Option<String> {
    let r2 = if opts.r2.unwrap_or(opts.one_to_one) {
        let r2 = crate::metrics::r2_linear(x, y);
        Some(format!(
            "r² = {}",
            if r2.is_finite() {
                format!("{r2:.3}")
            } else {
                "undefined".into()
            }
        ))
    } else {
        None
    };
    match (opts.label.trim(), r2) {
        ("", r) => r,
        (l, None) => Some(l.to_string()),
        (l, Some(r)) => Some(format!("{l}, {r}")),
    }
}

/// Colours of successive series (matplotlib's tab10).
const SERIES: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
];

/// Lines with markers over a shared `x` (Figs. 8, S12): one (label, values) per series;
/// NaN breaks a line.
pub fn draw_lines<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    x: &[f64],
    series: &[(String, Vec<f64>)],
    opts: &Options,
) -> Result<()> {
    if let Some((l, s)) = series.iter().find(|(_, s)| s.len() != x.len()) {
        bail!(
            "line plot: series {l} has {} values for {} x values",
            s.len(),
            x.len()
        );
    }
    let (x0, x1) = range(x.iter().copied(), &Options::default(), false);
    let (y0, y1) = range(
        series.iter().flat_map(|(_, s)| s.iter().copied()),
        opts,
        false,
    );
    let pad = (y1 - y0) * 0.05;
    let mut chart = ChartBuilder::on(area)
        .caption(&opts.title, ("sans-serif", 24))
        .margin(14)
        .x_label_area_size(46)
        .y_label_area_size(70)
        .build_cartesian_2d(axis(x0, x1)?, axis(y0 - pad, y1 + pad)?)
        .map_err(de)?;
    let fmt_x = |v: &f64| tick_text(*v, x1 - x0);
    let fmt_y = |v: &f64| tick_text(*v, y1 - y0 + 2.0 * pad);
    chart
        .configure_mesh()
        .x_desc(&opts.xlabel)
        .y_desc(&opts.ylabel)
        .x_label_formatter(&fmt_x)
        .y_label_formatter(&fmt_y)
        .label_style(("sans-serif", 14))
        .axis_desc_style(("sans-serif", 16))
        .light_line_style(WHITE)
        .draw()
        .map_err(de)?;
    for (k, (label, ys)) in series.iter().enumerate() {
        let c = SERIES[k % SERIES.len()];
        let pts: Vec<(f64, f64)> = x.iter().zip(ys).map(|(&a, &b)| (a, b)).collect();
        for run in pts
            .split(|p| !p.0.is_finite() || !p.1.is_finite())
            .filter(|r| !r.is_empty())
        {
            chart
                .draw_series(std::iter::once(PathElement::new(
                    run.to_vec(),
                    c.stroke_width(2),
                )))
                .map_err(de)?;
        }
        chart
            .draw_series(
                pts.iter()
                    .filter(|p| p.0.is_finite() && p.1.is_finite())
                    .map(|&p| Circle::new(p, 4, c.filled())),
            )
            .map_err(de)?
            .label(label.as_str())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(2)));
    }
    if !series.is_empty() {
        draw_legend(&mut chart, SeriesLabelPosition::MiddleRight)?;
    }
    Ok(())
}

/// How a legend entry shows its series.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Swatch {
    /// A short thick line (marker lines, lines).
    Line,
    /// A filled box (bars).
    Box,
}

/// The pixel width a legend beside a plot needs for `entries` (0 without entries).
pub fn legend_width(entries: &[(String, RGBColor, Swatch)]) -> u32 {
    if entries.is_empty() {
        return 0;
    }
    fonts();
    let font = ("sans-serif", 15).into_font();
    let text = entries
        .iter()
        .map(|(l, _, _)| {
            font.box_size(l)
                .map(|(w, _)| w)
                .unwrap_or(l.chars().count() as u32 * 9)
        })
        .max()
        .unwrap_or(0);
    text + 48
}

/// Splits `area` into the plot and, if there are entries, a strip on its right for a
/// legend outside the plot, where it cannot cover what it labels.
fn legend_split<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    entries: &[(String, RGBColor, Swatch)],
) -> (DrawingArea<DB, Shift>, Option<DrawingArea<DB, Shift>>) {
    let lw = legend_width(entries);
    let (w, _) = area.dim_in_pixel();
    if lw == 0 || lw * 3 > w {
        return (area.clone(), None);
    }
    let (a, b) = area.split_horizontally(w - lw);
    (a, Some(b))
}

/// A legend in the strip beside a plot: one entry a line from absolute pixel row `top`.
fn side_legend<DB: DrawingBackend>(
    strip: &DrawingArea<DB, Shift>,
    entries: &[(String, RGBColor, Swatch)],
    top: i32,
) -> Result<()> {
    let y0 = (top - strip.get_base_pixel().1).max(0) + 6;
    for (k, (label, c, sw)) in entries.iter().enumerate() {
        let y = y0 + 24 * k as i32 + 8;
        match sw {
            Swatch::Line => strip
                .draw(&PathElement::new(vec![(4, y), (26, y)], c.stroke_width(3)))
                .map_err(de)?,
            Swatch::Box => strip
                .draw(&Rectangle::new([(8, y - 6), (22, y + 6)], c.filled()))
                .map_err(de)?,
        }
        strip
            .draw(&Text::new(
                label.clone(),
                (32, y),
                ("sans-serif", 15).into_font().color(&BLACK).pos(
                    plotters::style::text_anchor::Pos::new(
                        plotters::style::text_anchor::HPos::Left,
                        plotters::style::text_anchor::VPos::Center,
                    ),
                ),
            ))
            .map_err(de)?;
    }
    Ok(())
}

/// The legend every figure with series draws: a white, framed box at `pos`.
fn draw_legend<'a, DB: DrawingBackend + 'a, CT: CoordTranslate>(
    chart: &mut ChartContext<'a, DB, CT>,
    pos: SeriesLabelPosition,
) -> Result<()> {
    chart
        .configure_series_labels()
        .position(pos)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .label_font(("sans-serif", 15))
        .draw()
        .map_err(de)
}

/// Vertical bars in groups (Fig. 10): one group per category, one bar per series (e.g. the
/// optimised and the default run's bias in each region), a legend, a line at zero.
pub fn draw_grouped_bars<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    categories: &[String],
    series: &[(String, Vec<f64>)],
    opts: &Options,
) -> Result<()> {
    let n = categories.len();
    if n == 0 || series.is_empty() {
        bail!("grouped bars need at least one category and one series");
    }
    if let Some((name, v)) = series.iter().find(|(_, v)| v.len() != n) {
        bail!(
            "grouped bars: series '{name}' has {} values for {n} categories",
            v.len(),
            name = crate::format::printable(name)
        );
    }
    let (lo, hi) = range(
        series
            .iter()
            .flat_map(|(_, v)| v.iter().copied())
            .chain([0.0]),
        opts,
        false,
    );
    let pad = 0.08 * (hi - lo);
    let (lo, hi) = (if lo < 0.0 { lo - pad } else { lo }, hi + pad);
    let cats = categories.to_vec();
    // the legend beside the plot, never over the bars
    let entries: Vec<(String, RGBColor, Swatch)> = series
        .iter()
        .enumerate()
        .map(|(s, (name, _))| (name.clone(), SERIES[s % SERIES.len()], Swatch::Box))
        .collect();
    let (area, strip) = legend_split(area, &entries);
    let mut chart = ChartBuilder::on(&area)
        .caption(&opts.title, ("sans-serif", 24))
        .margin(14)
        .x_label_area_size(46)
        .y_label_area_size(70)
        .build_cartesian_2d(0.0..n as f64, axis(lo, hi)?)
        .map_err(de)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(2 * n + 1)
        .x_label_formatter(&move |x| {
            if (x.fract() - 0.5).abs() < 1e-9 {
                cats.get(*x as usize).cloned().unwrap_or_default()
            } else {
                String::new()
            }
        })
        .y_label_formatter(&|v| tick_text(*v, hi - lo))
        .x_desc(&opts.xlabel)
        .y_desc(&opts.ylabel)
        .label_style(("sans-serif", 14))
        .axis_desc_style(("sans-serif", 16))
        .light_line_style(WHITE)
        .draw()
        .map_err(de)?;
    let k = series.len() as f64;
    let w = 0.8 / k;
    for (s, (_, v)) in series.iter().enumerate() {
        let c = SERIES[s % SERIES.len()];
        chart
            .draw_series(
                v.iter()
                    .enumerate()
                    .filter(|(_, y)| y.is_finite())
                    .map(|(g, &y)| {
                        let x0 = g as f64 + 0.1 + w * s as f64;
                        Rectangle::new([(x0, 0.0), (x0 + w * 0.92, y)], c.filled())
                    }),
            )
            .map_err(de)?;
    }
    chart
        .draw_series(std::iter::once(PathElement::new(
            vec![(0.0, 0.0), (n as f64, 0.0)],
            BLACK.stroke_width(1),
        )))
        .map_err(de)?;
    match strip {
        Some(strip) => {
            let (_, rows) = chart.plotting_area().get_pixel_range();
            side_legend(&strip, &entries, rows.start)?;
        }
        None => {
            // too narrow for a strip: a legend inside, which the headroom keeps off the bars
            for (s, (name, _)) in series.iter().enumerate() {
                let c = SERIES[s % SERIES.len()];
                chart
                    .draw_series(std::iter::empty::<Rectangle<(f64, f64)>>())
                    .map_err(de)?
                    .label(name.as_str())
                    .legend(move |(x, y)| {
                        Rectangle::new([(x, y - 6), (x + 14, y + 6)], c.filled())
                    });
            }
            draw_legend(&mut chart, SeriesLabelPosition::UpperRight)?;
        }
    }
    Ok(())
}

/// A pair (corner) plot of a point cloud (Fig. 9): for k columns a k x k grid with each
/// column's histogram on the diagonal and the points of each pair below it; columns named by
/// `names`, every axis over `[vmin, vmax]` if given (e.g. scalings in [0, 1]).
pub fn draw_pairs<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    points: &Array2<f64>,
    names: &[String],
    opts: &Options,
) -> Result<()> {
    let (np, k) = points.dim();
    if k == 0 || names.len() != k {
        bail!("pair plot: {k} columns with {} names", names.len());
    }
    if k > 12 {
        bail!("pair plot: {k} columns is too many to read (at most 12)");
    }
    let area = if opts.title.is_empty() {
        area.clone()
    } else {
        area.titled(&opts.title, ("sans-serif", 24)).map_err(de)?
    };
    let cells = area.split_evenly((k, k));
    let ranges: Vec<(f64, f64)> = (0..k)
        .map(|j| range(points.column(j).iter().copied(), opts, false))
        .collect();
    let small = (np as f64).sqrt().clamp(1.0, 3.0) as u32;
    for i in 0..k {
        for j in 0..k {
            let cell = &cells[i * k + j];
            if j > i {
                continue;
            }
            let (xlo, xhi) = ranges[j];
            let left = if j == 0 { 40 } else { 8 };
            let bottom = if i == k - 1 { 34 } else { 8 };
            if i == j {
                let bins = 20usize;
                let width = (xhi - xlo) / bins as f64;
                let mut counts = vec![0usize; bins];
                for &x in points.column(j).iter().filter(|x| x.is_finite()) {
                    if x >= xlo && x <= xhi {
                        counts[(((x - xlo) / width) as usize).min(bins - 1)] += 1;
                    }
                }
                let top = counts.iter().copied().max().unwrap_or(0).max(1) as f64 * 1.1;
                let mut ch = ChartBuilder::on(cell)
                    .margin(4)
                    .x_label_area_size(bottom)
                    .y_label_area_size(left)
                    .build_cartesian_2d(axis(xlo, xhi)?, 0.0..top)
                    .map_err(de)?;
                ch.configure_mesh()
                    .disable_mesh()
                    .y_labels(0)
                    .x_labels(if i == k - 1 { 3 } else { 0 })
                    .x_label_formatter(&|v| tick_text(*v, xhi - xlo))
                    .x_desc(if i == k - 1 { names[j].as_str() } else { "" })
                    .label_style(("sans-serif", 11))
                    .axis_desc_style(("sans-serif", 13))
                    .draw()
                    .map_err(de)?;
                ch.draw_series(counts.iter().enumerate().map(|(b, &c)| {
                    let x0 = xlo + width * b as f64;
                    Rectangle::new(
                        [(x0, 0.0), (x0 + width, c as f64)],
                        RGBColor(120, 150, 190).filled(),
                    )
                }))
                .map_err(de)?;
                cell.draw(&Text::new(
                    names[j].clone(),
                    (left + 8, 6),
                    ("sans-serif", 13),
                ))
                .map_err(de)?;
            } else {
                let (ylo, yhi) = ranges[i];
                let mut ch = ChartBuilder::on(cell)
                    .margin(4)
                    .x_label_area_size(bottom)
                    .y_label_area_size(left)
                    .build_cartesian_2d(axis(xlo, xhi)?, axis(ylo, yhi)?)
                    .map_err(de)?;
                ch.configure_mesh()
                    .disable_mesh()
                    .x_labels(if i == k - 1 { 3 } else { 0 })
                    .y_labels(if j == 0 { 3 } else { 0 })
                    .x_label_formatter(&|v| tick_text(*v, xhi - xlo))
                    .y_label_formatter(&|v| tick_text(*v, yhi - ylo))
                    .x_desc(if i == k - 1 { names[j].as_str() } else { "" })
                    .y_desc(if j == 0 { names[i].as_str() } else { "" })
                    .label_style(("sans-serif", 11))
                    .axis_desc_style(("sans-serif", 13))
                    .draw()
                    .map_err(de)?;
                ch.draw_series(
                    points
                        .outer_iter()
                        .filter(|r| r[i].is_finite() && r[j].is_finite())
                        .map(|r| Circle::new((r[j], r[i]), small, SERIES[0].mix(0.5).filled())),
                )
                .map_err(de)?;
            }
        }
    }
    Ok(())
}

/// One panel of a multi-panel figure: the data of one figure kind.
#[derive(Debug, Clone)]
pub enum Panel {
    /// A map: values (lat, lon), cell centres, land fraction for coastlines.
    Map {
        /// Values.
        values: Array2<f64>,
        /// Latitudes.
        lat: Vec<f64>,
        /// Longitudes.
        lon: Vec<f64>,
        /// Land fraction.
        land: Option<Array2<f64>>,
    },
    /// A map of points: the cells of a 1-D grid (see [`draw_points`]).
    Points {
        /// Values, one per point.
        values: Vec<f64>,
        /// Latitude of each point.
        lat: Vec<f64>,
        /// Longitude of each point.
        lon: Vec<f64>,
        /// Land fraction of each point.
        land: Option<Vec<f64>>,
    },
    /// A histogram with markers.
    Histogram {
        /// Values.
        values: Vec<f64>,
        /// Bins.
        bins: usize,
        /// (value, label) markers.
        markers: Vec<(f64, String)>,
    },
    /// Predicted against actual.
    Scatter {
        /// Actual.
        x: Vec<f64>,
        /// Predicted.
        y: Vec<f64>,
    },
    /// Lines with markers.
    Lines {
        /// x values.
        x: Vec<f64>,
        /// (label, y values).
        series: Vec<(String, Vec<f64>)>,
    },
    /// Horizontal bars.
    Bars {
        /// Labels.
        labels: Vec<String>,
        /// Values.
        values: Vec<f64>,
    },
    /// Grouped vertical bars.
    GroupedBars {
        /// Categories.
        categories: Vec<String>,
        /// (label, one value per category).
        series: Vec<(String, Vec<f64>)>,
    },
}

impl Panel {
    /// The map panel of one map on a grid: cells of a lat/lon grid ([`Panel::Map`], with the
    /// grid's land fraction for coastlines) or points of a 1-D grid ([`Panel::Points`]).
    pub fn of_grid(values: &ndarray::ArrayD<f64>, grid: &crate::field::Grid) -> Result<Panel> {
        if values.shape() != grid.spatial_shape() {
            bail!(
                "a map of shape {:?} on a grid of shape {:?}",
                values.shape(),
                grid.spatial_shape()
            );
        }
        let flat: ndarray::Array1<f64> = values.iter().copied().collect();
        Ok(match grid.to_map(&flat) {
            Some(map) => Panel::Map {
                values: map,
                lat: grid.lat.clone(),
                lon: grid.lon.clone(),
                land: grid.to_map(&grid.landfrac),
            },
            None => Panel::Points {
                values: flat.to_vec(),
                lat: grid.lat.clone(),
                lon: grid.lon.clone(),
                land: Some(grid.landfrac.to_vec()),
            },
        })
    }
}

/// Panels in a grid of `cols` columns, each labelled (a), (b), ... at its top left, under an
/// overall title.
pub fn draw_panels<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    panels: &[(Panel, Options)],
    cols: usize,
    opts: &Options,
) -> Result<()> {
    let cols = cols.clamp(1, panels.len().max(1));
    let rows = panels.len().div_ceil(cols);
    let area = if opts.title.is_empty() {
        area.clone()
    } else {
        area.titled(&opts.title, ("sans-serif", 26)).map_err(de)?
    };
    let cells = area.split_evenly((rows, cols));
    for (k, ((panel, o), cell)) in panels.iter().zip(&cells).enumerate() {
        let (_, h) = cell.dim_in_pixel();
        // room at the top for the panel letter
        let (top, body) = cell.split_vertically(24.min(h / 4));
        match panel {
            Panel::Map {
                values,
                lat,
                lon,
                land,
            } => draw_map(&body, values, lat, lon, land.as_ref(), o)?,
            Panel::Points {
                values,
                lat,
                lon,
                land,
            } => draw_points(&body, values, lat, lon, land.as_deref(), o)?,
            Panel::Histogram {
                values,
                bins,
                markers,
            } => draw_histogram(&body, values, *bins, markers, o)?,
            Panel::Scatter { x, y } => draw_scatter(&body, x, y, o)?,
            Panel::Lines { x, series } => draw_lines(&body, x, series, o)?,
            Panel::Bars { labels, values } => draw_bars(&body, labels, values, o)?,
            Panel::GroupedBars { categories, series } => {
                draw_grouped_bars(&body, categories, series, o)?
            }
        }
        let letter = char::from(b'a' + (k % 26) as u8);
        top.draw(&Text::new(
            format!("({letter})"),
            (8, 2),
            ("sans-serif", 20).into_font().style(FontStyle::Bold),
        ))
        .map_err(de)?;
    }
    Ok(())
}

/// The colours of a heat map: its colour map and range. A given `cmap` is used as given
/// (diverging: symmetric about 0); otherwise data of both signs (the smaller side at least
/// a twentieth of the larger) get the diverging map symmetric about 0 at the largest
/// |value|, and other data the sequential map over their own range (-0.02 to 5.5: viridis
/// from -0.02 to 5.5). `vmin`/`vmax` override the ends.
pub fn heat_colours(values: &Array2<f64>, opts: &Options) -> (String, f64, f64) {
    let (lo, hi) = range(values.iter().copied(), &Options::default(), false);
    let cmap = opts.cmap.clone().unwrap_or_else(|| {
        // both signs, each reaching at least a twentieth of the other's extent
        if lo < 0.0 && hi > 0.0 && lo.abs().min(hi) >= 0.05 * lo.abs().max(hi) {
            "RdBu_r".into()
        } else {
            "viridis".into()
        }
    });
    let (lo, hi) = range(values.iter().copied(), opts, cmap == "RdBu_r");
    (cmap, lo, hi)
}

/// Where a heat map's parts go, in pixels of its drawing area.
#[derive(Debug, Clone, PartialEq)]
pub struct HeatLayout {
    /// Left edge of the matrix.
    pub x0: i32,
    /// Top edge of the matrix.
    pub y0: i32,
    /// Side of a (square) cell.
    pub cell: i32,
    /// Left edge of the colour bar's strip.
    pub bar_x: i32,
    /// Row labels' boxes (left, top, right, bottom), from the top.
    pub row_boxes: Vec<(i32, i32, i32, i32)>,
    /// Column labels' boxes (left, top, right, bottom), written upwards (read bottom to top).
    pub col_boxes: Vec<(i32, i32, i32, i32)>,
}

/// The layout of an `nr` x `nc` heat map in a `w` x `h` area: square cells as large as fit
/// beside the row labels, under the title and above the column labels (written upwards
/// when they are wider than a cell), the colour bar's strip right of the matrix.
pub fn heat_layout(
    w: u32,
    h: u32,
    row_labels: &[String],
    col_labels: &[String],
    title: bool,
) -> HeatLayout {
    fonts();
    let font = ("sans-serif", 13).into_font();
    let size = |s: &str| {
        font.box_size(s)
            .unwrap_or((s.chars().count() as u32 * 8, 15))
    };
    let row_w = row_labels.iter().map(|l| size(l).0).max().unwrap_or(0) as i32 + 12;
    let col_h = col_labels.iter().map(|l| size(l).0).max().unwrap_or(0) as i32 + 12;
    let (nr, nc) = (
        row_labels.len().max(1) as i32,
        col_labels.len().max(1) as i32,
    );
    let (w, h) = (w as i32, h as i32);
    let top = if title { 44 } else { 12 };
    let bar_w = 120;
    let cell = ((w - 12 - row_w - bar_w) / nc)
        .min((h - top - col_h - 8) / nr)
        .max(2);
    // the block (labels, matrix, bar) centred across the area
    let block = row_w + cell * nc + bar_w;
    let x0 = ((w - block) / 2).max(0) + row_w;
    let y0 = top;
    let row_boxes = row_labels
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let (tw, th) = size(l);
            let yc = y0 + cell * i as i32 + cell / 2;
            (
                x0 - 6 - tw as i32,
                yc - th as i32 / 2,
                x0 - 6,
                yc + th as i32 / 2,
            )
        })
        .collect();
    let col_boxes = col_labels
        .iter()
        .enumerate()
        .map(|(j, l)| {
            let (tw, th) = size(l);
            let xc = x0 + cell * j as i32 + cell / 2;
            let yb = y0 + cell * nr + 6;
            (xc - th as i32 / 2, yb, xc + th as i32 / 2, yb + tw as i32)
        })
        .collect();
    HeatLayout {
        x0,
        y0,
        cell,
        bar_x: x0 + cell * nc + 10,
        row_boxes,
        col_boxes,
    }
}

/// A labelled heat map of a square or rectangular matrix (Fig. S2: the summed pattern
/// correlations of parameter pairs), each cell annotated with its value when the cells are
/// large enough; NaN cells (and the diagonal with `opts.diagonal` false) light grey. Rows
/// run from the top in the order of `row_labels`; one tick and label per row and column,
/// column labels read bottom to top; colours from [`heat_colours`]; a colour bar as high as
/// the matrix, labelled with [`bar_label`].
pub fn draw_heatmap<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    m: &Array2<f64>,
    row_labels: &[String],
    col_labels: &[String],
    opts: &Options,
) -> Result<()> {
    use plotters::style::text_anchor::{HPos, Pos, VPos};
    let (nr, nc) = m.dim();
    if row_labels.len() != nr || col_labels.len() != nc {
        bail!(
            "heat map: {nr} x {nc} values with {} row and {} column labels",
            row_labels.len(),
            col_labels.len()
        );
    }
    let mut m = m.clone();
    if !opts.diagonal {
        for k in 0..nr.min(nc) {
            m[[k, k]] = f64::NAN;
        }
    }
    let (cmap, lo, hi) = heat_colours(&m, opts);
    let (w, h) = area.dim_in_pixel();
    let l = heat_layout(w, h, row_labels, col_labels, !opts.title.is_empty());
    if !opts.title.is_empty() {
        area.draw(&Text::new(
            opts.title.clone(),
            (w as i32 / 2, 10),
            ("sans-serif", 22)
                .into_font()
                .color(&BLACK)
                .pos(Pos::new(HPos::Center, VPos::Top)),
        ))
        .map_err(de)?;
    }
    let c = l.cell;
    let (x1, y1) = (l.x0 + c * nc as i32, l.y0 + c * nr as i32);
    let font = ("sans-serif", (c * 2 / 5).clamp(8, 12) as f64).into_font();
    let ink_w = font.box_size("-0.00").map(|s| s.0 as i32).unwrap_or(40);
    for ((i, j), &v) in m.indexed_iter() {
        let (x, y) = (l.x0 + c * j as i32, l.y0 + c * i as i32);
        let t = (v - lo) / (hi - lo);
        let fill = if v.is_finite() {
            color(&cmap, t)
        } else {
            MISSING
        };
        area.draw(&Rectangle::new([(x, y), (x + c, y + c)], fill.filled()))
            .map_err(de)?;
        if v.is_finite() && nr * nc <= 400 && ink_w + 4 <= c {
            let ink =
                if cmap == "RdBu_r" && !(0.2..=0.8).contains(&t) || cmap != "RdBu_r" && t < 0.5 {
                    WHITE
                } else {
                    BLACK
                };
            area.draw(&Text::new(
                crate::format::format_spec(v, ".2f").unwrap_or_default(),
                (x + c / 2, y + c / 2),
                font.color(&ink).pos(Pos::new(HPos::Center, VPos::Center)),
            ))
            .map_err(de)?;
        }
    }
    area.draw(&Rectangle::new(
        [(l.x0, l.y0), (x1, y1)],
        BLACK.stroke_width(1),
    ))
    .map_err(de)?;
    let label_font = ("sans-serif", 13).into_font();
    for (i, (name, b)) in row_labels.iter().zip(&l.row_boxes).enumerate() {
        let yc = l.y0 + c * i as i32 + c / 2;
        area.draw(&PathElement::new(vec![(l.x0 - 4, yc), (l.x0, yc)], BLACK))
            .map_err(de)?;
        area.draw(&Text::new(
            name.clone(),
            (b.2, yc),
            label_font
                .color(&BLACK)
                .pos(Pos::new(HPos::Right, VPos::Center)),
        ))
        .map_err(de)?;
    }
    for (j, (name, b)) in col_labels.iter().zip(&l.col_boxes).enumerate() {
        let xc = l.x0 + c * j as i32 + c / 2;
        area.draw(&PathElement::new(vec![(xc, y1), (xc, y1 + 4)], BLACK))
            .map_err(de)?;
        // turned a quarter anticlockwise: the text runs up from the bottom of its box
        area.draw(&Text::new(
            name.clone(),
            (b.0, b.3),
            label_font
                .clone()
                .transform(FontTransform::Rotate270)
                .color(&BLACK),
        ))
        .map_err(de)?;
    }
    let bar = area.clone().shrink(
        (l.bar_x.max(0) as u32, 0),
        (w.saturating_sub(l.bar_x.max(0) as u32), h),
    );
    colour_bar(
        &bar,
        lo,
        hi,
        &cmap,
        &bar_label(opts),
        aligned(
            bar.get_base_pixel().1,
            bar.dim_in_pixel().1,
            &(area.get_base_pixel().1 + l.y0..area.get_base_pixel().1 + y1),
        ),
    )?;
    Ok(())
}

/// Horizontal bars, one per label, from the top in the order given (Fig. 7: permutation
/// importance).
pub fn draw_bars<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    labels: &[String],
    values: &[f64],
    opts: &Options,
) -> Result<()> {
    if labels.len() != values.len() {
        bail!(
            "bar chart: {} labels for {} values",
            labels.len(),
            values.len()
        );
    }
    let n = labels.len().max(1);
    let (lo, hi) = range(
        values.iter().copied().chain(std::iter::once(0.0)),
        opts,
        false,
    );
    let lo = lo.min(0.0);
    let mut chart = ChartBuilder::on(area)
        .caption(&opts.title, ("sans-serif", 24))
        .margin(14)
        .x_label_area_size(46)
        .y_label_area_size(160)
        .build_cartesian_2d(
            axis(lo, hi + (hi - lo) * 0.05)?,
            (0..n.saturating_sub(1).max(1)).into_segmented(),
        )
        .map_err(de)?;
    let labels_owned = labels.to_vec();
    chart
        .configure_mesh()
        .disable_y_mesh()
        .x_desc(&opts.xlabel)
        .y_labels(n)
        .y_label_formatter(&move |y| match y {
            SegmentValue::CenterOf(k) => n
                .checked_sub(1 + *k)
                .and_then(|i| labels_owned.get(i))
                .cloned()
                .unwrap_or_default(),
            _ => String::new(),
        })
        .x_label_formatter(&|v| tick_text(*v, hi - lo))
        .label_style(("sans-serif", 14))
        .axis_desc_style(("sans-serif", 16))
        .light_line_style(WHITE)
        .draw()
        .map_err(de)?;
    chart
        .draw_series(
            values
                .iter()
                .enumerate()
                .filter(|(_, v)| v.is_finite())
                .map(|(k, &v)| {
                    let row = n - 1 - k;
                    let mut bar = Rectangle::new(
                        [
                            (0.0, SegmentValue::Exact(row)),
                            (v, SegmentValue::Exact(row + 1)),
                        ],
                        SERIES[0].filled(),
                    );
                    bar.set_margin(4, 4, 0, 0);
                    bar
                }),
        )
        .map_err(de)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Share of pixels of a buffer that are not white.
    fn inked(buf: &[u8]) -> f64 {
        let px = buf.chunks(3).filter(|p| p != &[255, 255, 255]).count();
        px as f64 / (buf.len() / 3) as f64
    }

    fn render(
        w: u32,
        h: u32,
        f: impl FnOnce(&DrawingArea<BitMapBackend, Shift>) -> Result<()>,
    ) -> Vec<u8> {
        fonts();
        let mut buf = vec![0u8; (w * h * 3) as usize];
        {
            let root = BitMapBackend::with_buffer(&mut buf, (w, h)).into_drawing_area();
            root.fill(&WHITE).unwrap();
            f(&root).unwrap();
            root.present().unwrap();
        }
        // FIG_DUMP=dir writes each rendered figure as a PPM file there (to look at)
        if let Ok(dir) = std::env::var("FIG_DUMP") {
            use std::sync::atomic::{AtomicUsize, Ordering};
            static N: AtomicUsize = AtomicUsize::new(0);
            let k = N.fetch_add(1, Ordering::SeqCst);
            let name = std::thread::current()
                .name()
                .unwrap_or("t")
                .replace("::", "_");
            let mut out = format!("P6\n{w} {h}\n255\n").into_bytes();
            out.extend_from_slice(&buf);
            let _ = std::fs::write(format!("{dir}/{name}_{k}.ppm"), out);
        }
        buf
    }

    fn render_err(f: impl FnOnce(&DrawingArea<BitMapBackend, Shift>) -> Result<()>) -> bool {
        fonts();
        let mut buf = vec![0u8; 300 * 200 * 3];
        let root = BitMapBackend::with_buffer(&mut buf, (300, 200)).into_drawing_area();
        f(&root).is_err()
    }

    #[test]
    fn colour_maps_run_from_end_to_end() {
        assert_eq!(color("viridis", 0.0), RGBColor(68, 1, 84));
        assert_eq!(color("viridis", 1.0), RGBColor(253, 231, 37));
        assert_eq!(
            color("RdBu_r", 0.5),
            RGBColor(247, 247, 247),
            "zero is white on the diverging map"
        );
        assert_eq!(color("viridis", f64::NAN), RGBColor(68, 1, 84));
        let o = Options::default();
        assert_eq!(range([-1.0, 3.0].into_iter(), &o, true), (-3.0, 3.0));
        assert_eq!(range([2.0, 2.0].into_iter(), &o, false), (1.8, 2.2));
        assert_eq!(range(std::iter::empty(), &o, false), (0.0, 1.0));
    }

    #[test]
    fn a_map_fills_its_cells_and_draws_coastlines() {
        let g = crate::grids::f45().unwrap();
        let lf = crate::grids::landfrac_4x5().unwrap();
        let values = Array2::from_shape_fn((46, 72), |(i, _)| {
            if lf.row(i).sum() > 0.0 {
                g.lat[i]
            } else {
                f64::NAN
            }
        });
        let values = &values * &lf.mapv(|f| if f > 0.0 { 1.0 } else { f64::NAN });
        let buf = render(1000, 560, |a| {
            draw_map(
                a,
                &values,
                &g.lat,
                &g.lon,
                Some(&lf),
                &Options {
                    title: "latitude".into(),
                    units: "degrees".into(),
                    ..Options::default()
                },
            )
        });
        // land is about a third of the map's plot area; axes, bar and text add a little
        let grey = [MISSING.0, MISSING.1, MISSING.2];
        let ink = buf
            .chunks(3)
            .filter(|p| p != &[255, 255, 255] && p != &grey)
            .count() as f64
            / (1000.0 * 560.0);
        assert!(ink > 0.2 && ink < 0.7, "{ink}");
        // a pixel in the middle of the Sahara (about 20N, 10E) is coloured, one in the
        // central Pacific (0N, 180E... left edge) is the grey of cells without values
        let px =
            |x: u32, y: u32| &buf[((y * 1000 + x) * 3) as usize..((y * 1000 + x) * 3 + 3) as usize];
        let plot_x = |lon: f64| (58.0 + (lon + 180.0) / 360.0 * (870.0 - 58.0 - 12.0)) as u32;
        let plot_y = |lat: f64| (48.0 + (90.0 - lat) / 180.0 * (560.0 - 48.0 - 46.0)) as u32;
        assert_ne!(
            px(plot_x(15.0), plot_y(22.0)),
            [255, 255, 255],
            "Sahara is coloured"
        );
        assert_eq!(
            px(plot_x(-150.0), plot_y(-10.0)),
            [MISSING.0, MISSING.1, MISSING.2],
            "the Pacific is grey"
        );
        // NaN everywhere, constant values: a figure, not a panic
        let nan = Array2::from_elem((46, 72), f64::NAN);
        render(600, 400, |a| {
            draw_map(a, &nan, &g.lat, &g.lon, None, &Options::default())
        });
        let flat = Array2::from_elem((46, 72), 2.0);
        render(600, 400, |a| {
            draw_map(
                a,
                &flat,
                &g.lat,
                &g.lon,
                None,
                &Options {
                    cmap: Some("RdBu_r".into()),
                    ..Options::default()
                },
            )
        });
    }

    #[test]
    fn histograms_and_scatter_plots() {
        let v: Vec<f64> = (0..500)
            .map(|k| ((k * 37 % 101) as f64 / 10.0).sin())
            .collect();
        let buf = render(800, 500, |a| {
            draw_histogram(
                a,
                &v,
                20,
                &[(0.2, "obs".into()), (-0.5, "default".into())],
                &Options::default(),
            )
        });
        assert!(inked(&buf) > 0.15, "{}", inked(&buf));
        render(400, 300, |a| {
            draw_histogram(a, &[], 10, &[], &Options::default())
        });
        render(400, 300, |a| {
            draw_histogram(a, &[1.0, 1.0, f64::NAN], 10, &[], &Options::default())
        });
        let x: Vec<f64> = (0..50).map(|k| k as f64).collect();
        let y: Vec<f64> = x.iter().map(|a| 2.0 * a + 1.0).collect();
        // y linear in x: r^2 = 1
        assert!((crate::metrics::r2_linear(&x, &y) - 1.0).abs() < 1e-12);
        // numpy: np.corrcoef([1, 2, 3, 4], [2, 4, 5, 9])[0, 1] ** 2 = 0.9307692307692307
        assert!(
            (crate::metrics::r2_linear(&[1.0, 2.0, 3.0, 4.0], &[2.0, 4.0, 5.0, 9.0])
                - 0.9307692307692307)
                .abs()
                < 1e-12
        );
        assert!(crate::metrics::r2_linear(&[1.0, 1.0], &[2.0, 3.0]).is_nan());
        let buf = render(600, 600, |a| draw_scatter(a, &x, &y, &Options::default()));
        assert!(inked(&buf) > 0.03, "{}", inked(&buf));
        render(400, 400, |a| draw_scatter(a, &[], &[], &Options::default()));
        let dir = tempfile::tempdir().unwrap();
        for ext in ["png", "svg"] {
            let p = dir.path().join(format!("h.{ext}"));
            save(
                &p,
                &Options::default(),
                |a| draw_histogram(a, &v, 20, &[], &Options::default()),
                |a| draw_histogram(a, &v, 20, &[], &Options::default()),
            )
            .unwrap();
            assert!(
                std::fs::metadata(&p).unwrap().len() > 5000,
                "{ext} file is too small"
            );
        }
        assert!(save(
            &dir.path().join("h.jpg"),
            &Options::default(),
            |_| Ok(()),
            |_| Ok(())
        )
        .is_err());
    }

    #[test]
    fn line_plots_and_bar_charts() {
        // lines (NaN breaks a line) and bars, including empty input
        let lines = vec![
            ("GPP".to_string(), vec![1.0, 2.0, f64::NAN, 3.0]),
            ("LHF".to_string(), vec![2.0, 1.5, 1.0, 0.5]),
        ];
        let buf = render(700, 450, |a| {
            draw_lines(a, &[1.0, 2.0, 3.0, 4.0], &lines, &Options::default())
        });
        assert!(inked(&buf) > 0.03, "{}", inked(&buf));
        render(400, 300, |a| draw_lines(a, &[], &[], &Options::default()));
        assert!(render_err(|a| draw_lines(
            a,
            &[1.0],
            &lines,
            &Options::default()
        )));
        let labels: Vec<String> = ["medlynslope", "kmax", "dint"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let buf = render(700, 400, |a| {
            draw_bars(a, &labels, &[0.5, 0.2, f64::NAN], &Options::default())
        });
        assert!(inked(&buf) > 0.05, "{}", inked(&buf));
        render(400, 300, |a| draw_bars(a, &[], &[], &Options::default()));
        assert!(render_err(|a| draw_bars(
            a,
            &labels,
            &[1.0],
            &Options::default()
        )));
    }

    #[test]
    fn heat_maps() {
        let names: Vec<String> = ["medlynslope", "dleaf", "kmax"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let m = ndarray::array![
            [f64::NAN, 0.8, -0.3],
            [0.8, f64::NAN, 0.1],
            [-0.3, 0.1, f64::NAN]
        ];
        let buf = render(700, 600, |a| {
            draw_heatmap(a, &m, &names, &names, &Options::default())
        });
        assert!(inked(&buf) > 0.2, "{}", inked(&buf));
        render(300, 300, |a| {
            draw_heatmap(a, &Array2::zeros((0, 0)), &[], &[], &Options::default())
        });
        assert!(render_err(|a| draw_heatmap(
            a,
            &m,
            &names[..2],
            &names,
            &Options::default()
        )));
    }

    #[test]
    fn region_boxes_grouped_bars_pairs_and_panels() {
        let g = crate::grids::f45().unwrap();
        let lf = crate::grids::landfrac_4x5().unwrap();
        let values = lf.mapv(|f| if f > 0.0 { 1.0 } else { f64::NAN });
        let black = |buf: &[u8]| buf.chunks(3).filter(|p| p == &[0, 0, 0]).count();
        let plain = render(1000, 560, |a| {
            draw_map(a, &values, &g.lat, &g.lon, None, &Options::default())
        });
        let boxed = render(1000, 560, |a| {
            draw_map(
                a,
                &values,
                &g.lat,
                &g.lon,
                None,
                &Options {
                    regions: crate::field::Region::table2(),
                    ..Options::default()
                },
            )
        });
        // four 2-pixel box outlines (about 20 x 10 degrees each) and their names
        assert!(
            black(&boxed) > black(&plain) + 4 * 2 * 60,
            "{} {}",
            black(&boxed),
            black(&plain)
        );
        // a box across the 180th meridian is drawn, not a panic
        let across = crate::field::Region {
            name: "Bering".into(),
            lat_min: 55.0,
            lat_max: 65.0,
            lon_min: 170.0,
            lon_max: 190.0,
        };
        render(600, 400, |a| {
            draw_map(
                a,
                &values,
                &g.lat,
                &g.lon,
                None,
                &Options {
                    regions: vec![across],
                    ..Options::default()
                },
            )
        });

        // grouped bars: both series' colours appear; mismatched lengths are an error
        let cats: Vec<String> = ["Global", "Amazon"].iter().map(|s| s.to_string()).collect();
        let series = vec![
            ("optimized".to_string(), vec![0.1, -0.4]),
            ("default".to_string(), vec![0.3, f64::NAN]),
        ];
        let buf = render(700, 500, |a| {
            draw_grouped_bars(a, &cats, &series, &Options::default())
        });
        let has = |c: RGBColor| buf.chunks(3).filter(|p| p == &[c.0, c.1, c.2]).count();
        assert!(
            has(SERIES[0]) > 2000 && has(SERIES[1]) > 1000,
            "{} {}",
            has(SERIES[0]),
            has(SERIES[1])
        );
        assert!(render_err(|a| draw_grouped_bars(
            a,
            &cats,
            &[("x".into(), vec![1.0])],
            &Options::default()
        )));
        assert!(render_err(|a| draw_grouped_bars(
            a,
            &[],
            &series,
            &Options::default()
        )));

        // pairs: a 3 x 3 corner, upper triangle blank; NaN and a constant column draw
        let pts = Array2::from_shape_fn((200, 3), |(i, j)| match j {
            0 => (i as f64 * 0.37).fract(),
            1 => 0.5,
            _ => {
                if i % 7 == 0 {
                    f64::NAN
                } else {
                    (i as f64 * 0.11).fract()
                }
            }
        });
        let names: Vec<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
        let buf = render(600, 600, |a| {
            draw_pairs(a, &pts, &names, &Options::default())
        });
        let ink_in = |x0: u32, y0: u32, x1: u32, y1: u32| {
            let mut n = 0;
            for y in y0..y1 {
                for x in x0..x1 {
                    let k = ((y * 600 + x) * 3) as usize;
                    if buf[k..k + 3] != [255, 255, 255] {
                        n += 1;
                    }
                }
            }
            n
        };
        assert_eq!(ink_in(420, 20, 590, 180), 0, "upper right cell is empty");
        assert!(
            ink_in(20, 420, 190, 580) > 500,
            "lower left scatter is drawn"
        );
        assert!(render_err(|a| draw_pairs(
            a,
            &pts,
            &names[..2],
            &Options::default()
        )));

        // panels: four kinds in a 2 x 2 grid, each quarter inked
        let panels = vec![
            (
                Panel::Map {
                    values: values.clone(),
                    lat: g.lat.clone(),
                    lon: g.lon.clone(),
                    land: Some(lf.clone()),
                },
                Options::default(),
            ),
            (
                Panel::Histogram {
                    values: (0..50).map(|i| i as f64).collect(),
                    bins: 10,
                    markers: vec![(20.0, "obs".into())],
                },
                Options::default(),
            ),
            (
                Panel::Scatter {
                    x: vec![0.0, 1.0, 2.0],
                    y: vec![0.1, 0.9, 2.1],
                },
                Options::default(),
            ),
            (
                Panel::GroupedBars {
                    categories: cats.clone(),
                    series: series.clone(),
                },
                Options::default(),
            ),
        ];
        let (w, h) = (1000u32, 800u32);
        let mut buf = vec![0u8; (w * h * 3) as usize];
        {
            fonts();
            let root = BitMapBackend::with_buffer(&mut buf, (w, h)).into_drawing_area();
            root.fill(&WHITE).unwrap();
            draw_panels(
                &root,
                &panels,
                2,
                &Options {
                    title: "four".into(),
                    ..Options::default()
                },
            )
            .unwrap();
            root.present().unwrap();
        }
        for (qx, qy) in [(0, 0), (1, 0), (0, 1), (1, 1)] {
            let mut n = 0;
            for y in (qy * h / 2 + 40)..((qy + 1) * h / 2) {
                for x in (qx * w / 2)..((qx + 1) * w / 2) {
                    let k = ((y * w + x) * 3) as usize;
                    if buf[k..k + 3] != [255, 255, 255] {
                        n += 1;
                    }
                }
            }
            assert!(n > 5000, "panel ({qx}, {qy}) has {n} inked pixels");
        }
    }

    /// Bounding box (x0, y0, x1, y1), inclusive, of the pixels of colour `c`.
    fn bbox(buf: &[u8], w: u32, c: RGBColor) -> Option<(u32, u32, u32, u32)> {
        let mut b: Option<(u32, u32, u32, u32)> = None;
        for (k, p) in buf.chunks(3).enumerate() {
            if p == [c.0, c.1, c.2] {
                let (x, y) = (k as u32 % w, k as u32 / w);
                b = Some(match b {
                    None => (x, y, x, y),
                    Some((a, b2, c2, d)) => (a.min(x), b2.min(y), c2.max(x), d.max(y)),
                });
            }
        }
        b
    }

    fn px(buf: &[u8], w: u32, x: u32, y: u32) -> [u8; 3] {
        let k = ((y * w + x) * 3) as usize;
        [buf[k], buf[k + 1], buf[k + 2]]
    }

    /// A 10 x 20 grid (not the 4x5 one): lat -81..81, lon 0..351.
    fn small_grid() -> (Vec<f64>, Vec<f64>) {
        (
            (0..10).map(|i| -81.0 + 18.0 * i as f64).collect(),
            (0..20).map(|j| 9.0 + 18.0 * j as f64).collect(),
        )
    }

    #[test]
    fn units_are_written_as_a_paper_writes_them() {
        // 1 gC m-2 s-1 = 86400 gC m-2 d-1; W m-2 unchanged; mm s-1 -> mm d-1
        assert_eq!(paper_units("gC/m^2/s"), (86400.0, "gC m-2 d-1".to_string()));
        assert_eq!(paper_units("gC m-2 d-1"), (1.0, "gC m-2 d-1".to_string()));
        assert_eq!(paper_units("W/m^2"), (1.0, "W m-2".to_string()));
        assert_eq!(paper_units("mm/s"), (86400.0, "mm d-1".to_string()));
        for (u, t) in [
            ("gC/m^2/s", "gC m-2 s-1"),
            ("W/m^2", "W m-2"),
            ("kg/m2", "kg m-2"),
            ("m^2", "m2"),
            ("K", "K"),
            ("1", "1"),
            ("m/s", "m s-1"),
        ] {
            assert_eq!(unit_text(u), t, "{u}");
        }
        let o = Options {
            quantity: "GPP".into(),
            units: "gC/m^2/s".into(),
            ..Options::default()
        };
        assert_eq!(bar_label(&o), "GPP (gC m-2 s-1)");
        assert!(!bar_label(&o).contains('^'));
        // ticks without exponents
        assert_eq!(tick_text(4e-5, 4e-5), "0.00004");
        assert_eq!(tick_text(2.5e-5, 5e-5), "0.000025");
        assert_eq!(tick_text(1.5, 3.0), "1.5");
        assert_eq!(tick_exponent(0.0, 4.3e-5), -5);
        assert_eq!(tick_exponent(0.0, 3.5), 0);
        assert_eq!(power_of_ten(-5), "10⁻⁵");
        assert_eq!(
            nice_ticks(0.0, 3.7, 6),
            vec![0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5]
        );
        let t = nice_ticks(-0.08, 0.08, 6);
        assert_eq!(t.len(), 9);
        assert!((t[0] + 0.08).abs() < 1e-12 && (t[8] - 0.08).abs() < 1e-12 && t[4] == 0.0);
    }

    #[test]
    fn every_map_has_coastlines_and_grey_missing_cells() {
        // an Array on a grid that is not the 4x5 one, no land fraction: the coastline is the
        // edge of the defined cells; a block of NaN cells is light grey, a zero cell white
        let (lat, lon) = small_grid();
        let v = Array2::from_shape_fn((10, 20), |(i, j)| {
            if (3..7).contains(&i) && (5..12).contains(&j) {
                f64::NAN
            } else if i == 8 && j == 2 {
                0.0
            } else {
                (i as f64 - 4.5) * if j % 2 == 0 { 1.0 } else { -1.0 }
            }
        });
        let o = Options {
            cmap: Some("RdBu_r".into()),
            quantity: "EOF 1".into(),
            ..Options::default()
        };
        let (w, h) = (1000, 560);
        let buf = render(w, h, |a| draw_map(a, &v, &lat, &lon, None, &o));
        let all_nan = Array2::from_elem((10, 20), f64::NAN);
        let grey = render(w, h, |a| draw_map(a, &all_nan, &lat, &lon, None, &o));
        let (x0, y0, x1, y1) = bbox(&grey, w, MISSING).expect("a map of NaN is grey");
        let at = |lon: f64, lat: f64| {
            (
                x0 + ((lon + 180.0) / 360.0 * (x1 - x0) as f64) as u32,
                y0 + ((90.0 - lat) / 180.0 * (y1 - y0) as f64) as u32,
            )
        };
        // cell (4, 8): lat -9, lon 153 is NaN; cell (8, 2): lat 63, lon 45 is zero
        let (x, y) = at(153.0, -9.0);
        assert_eq!(px(&buf, w, x, y), [MISSING.0, MISSING.1, MISSING.2]);
        let (x, y) = at(45.0, 63.0);
        assert_eq!(
            px(&buf, w, x, y),
            [247, 247, 247],
            "zero is white, not grey"
        );
        // coastline pixels (black) inside the plot: the NaN block's outline, 2 x (4 x 18 +
        // 7 x 18) degrees, about 250 pixels at least
        let black = (y0 + 2..y1 - 1)
            .flat_map(|y| (x0 + 2..x1 - 1).map(move |x| (x, y)))
            .filter(|&(x, y)| px(&buf, w, x, y) == [0, 0, 0])
            .count();
        assert!(black > 250, "{black} coastline pixels");
        // the 4x5 grid without a land option gets the built-in coastlines
        let g = crate::grids::f45().unwrap();
        let ones = Array2::from_elem((46, 72), 1.0);
        let buf = render(w, h, |a| draw_map(a, &ones, &g.lat, &g.lon, None, &o));
        let black = (y0 + 2..y1 - 1)
            .flat_map(|y| (x0 + 2..x1 - 1).map(move |x| (x, y)))
            .filter(|&(x, y)| px(&buf, w, x, y) == [0, 0, 0])
            .count();
        assert!(black > 1500, "{black} coastline pixels on the 4x5 grid");
        // the colour bar is exactly as high as the map
        let bar_x = 880 + 6 + 11;
        let coloured: Vec<u32> = (0..h)
            .filter(|&y| {
                let p = px(&buf, w, bar_x, y);
                p != [255, 255, 255] && p != [0, 0, 0]
            })
            .collect();
        let (b0, b1) = (coloured[0], *coloured.last().unwrap());
        assert!(
            b0 + 2 >= y0 && b1 <= y1 + 2,
            "bar rows {b0}..{b1}, map rows {y0}..{y1}"
        );
        assert!(
            b1 - b0 + 6 >= y1 - y0,
            "bar rows {b0}..{b1}, map rows {y0}..{y1}"
        );
    }

    #[test]
    fn cells_of_little_land_or_outside_the_mask_are_not_drawn() {
        let (lat, lon) = small_grid();
        let mut land = Array2::from_elem((10, 20), 1.0);
        land[[5, 5]] = 0.0009;
        let mut v = Array2::from_shape_fn((10, 20), |(i, j)| (i + j) as f64 / 28.0);
        v[[5, 5]] = 100.0;
        let o = Options::default();
        let shown = map_values(&v, Some(&land), &o);
        assert!(shown[[5, 5]].is_nan());
        assert_eq!(range(shown.iter().copied(), &o, false), (0.0, 1.0));
        let masked = Options {
            mask: Some(Array2::from_shape_fn((10, 20), |(i, _)| {
                (i != 2) as u8 as f64
            })),
            ..Options::default()
        };
        let shown = map_values(&v, None, &masked);
        assert!(shown.row(2).iter().all(|x| x.is_nan()));
        assert_eq!(shown.iter().filter(|x| x.is_finite()).count(), 180);
        // drawn: the cell at lat 9, lon 99 (5, 5) is grey, its neighbour coloured
        let (w, h) = (1000, 560);
        let buf = render(w, h, |a| draw_map(a, &v, &lat, &lon, Some(&land), &o));
        let grey = render(w, h, |a| {
            draw_map(
                a,
                &Array2::from_elem((10, 20), f64::NAN),
                &lat,
                &lon,
                None,
                &o,
            )
        });
        let (x0, y0, x1, y1) = bbox(&grey, w, MISSING).unwrap();
        let at = |lon: f64, lat: f64| {
            (
                x0 + ((lon + 180.0) / 360.0 * (x1 - x0) as f64) as u32,
                y0 + ((90.0 - lat) / 180.0 * (y1 - y0) as f64) as u32,
            )
        };
        let (x, y) = at(99.0, 9.0);
        assert_eq!(px(&buf, w, x, y), [MISSING.0, MISSING.1, MISSING.2]);
        let (x, y) = at(117.0, 9.0);
        assert_ne!(px(&buf, w, x, y), [MISSING.0, MISSING.1, MISSING.2]);
    }

    /// The boxes of centred labels at pixel positions `xs`.
    fn label_boxes(texts: &[String], xs: &[f64], size: f64) -> Vec<(f64, f64)> {
        fonts();
        let font = ("sans-serif", size).into_font();
        texts
            .iter()
            .zip(xs)
            .map(|(t, x)| {
                let w = font.box_size(t).unwrap().0 as f64;
                (x - w / 2.0, x + w / 2.0)
            })
            .collect()
    }

    #[test]
    fn map_tick_labels_do_not_run_together() {
        for plot_w in (120..1200).step_by(10) {
            let ticks = lon_ticks(plot_w);
            assert!(!ticks.is_empty() && ticks.iter().all(|t| t.abs() < 180.0));
            let texts: Vec<String> = ticks.iter().map(|&t| degree_text(t, "W", "E")).collect();
            let xs: Vec<f64> = ticks
                .iter()
                .map(|t| (t + 180.0) / 360.0 * plot_w as f64)
                .collect();
            let b = label_boxes(&texts, &xs, 13.0);
            for pair in b.windows(2) {
                assert!(
                    pair[0].1 + 6.0 <= pair[1].0,
                    "width {plot_w}: {texts:?} {b:?}"
                );
            }
        }
        assert_eq!(
            lon_ticks(800),
            (-5..=5).map(|k| 30.0 * k as f64).collect::<Vec<_>>()
        );
        // more latitudes than 50N/0/50S, written with N and S
        let lats = lat_ticks(400);
        assert_eq!(lats, vec![-60.0, -30.0, 0.0, 30.0, 60.0]);
        let texts: Vec<String> = lats.iter().map(|&t| degree_text(t, "S", "N")).collect();
        assert_eq!(texts, ["60°S", "30°S", "0°", "30°N", "60°N"]);
    }

    #[test]
    fn heat_map_layout_colours_and_colour_bar() {
        // the colour range from the data: positive data sequential over their range;
        // -0.02..5.5 too (the negative side is a speck); both signs diverging at max |v|
        let pos = ndarray::array![[0.5, 2.0], [3.0, 5.5]];
        assert_eq!(
            heat_colours(&pos, &Options::default()),
            ("viridis".into(), 0.5, 5.5)
        );
        let s2 = ndarray::array![[-0.02, 2.0], [3.0, 5.5]];
        assert_eq!(
            heat_colours(&s2, &Options::default()),
            ("viridis".into(), -0.02, 5.5)
        );
        let both = ndarray::array![[-2.0, 1.0], [0.5, 4.0]];
        assert_eq!(
            heat_colours(&both, &Options::default()),
            ("RdBu_r".into(), -4.0, 4.0)
        );
        // labels: one per row and column, none overlapping another
        let names: Vec<String> = [
            "medlynslope",
            "dleaf",
            "kmax",
            "maximum_leaf_wetted_fraction",
            "fff",
            "d_max",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let (w, h) = (800u32, 700u32);
        let l = heat_layout(w, h, &names, &names, false);
        assert_eq!((l.row_boxes.len(), l.col_boxes.len()), (6, 6));
        let overlap = |a: &(i32, i32, i32, i32), b: &(i32, i32, i32, i32)| {
            a.0 < b.2 && b.0 < a.2 && a.1 < b.3 && b.1 < a.3
        };
        let all: Vec<_> = l.row_boxes.iter().chain(&l.col_boxes).collect();
        for (i, a) in all.iter().enumerate() {
            for b in &all[i + 1..] {
                assert!(!overlap(a, b), "{a:?} {b:?}");
            }
            assert!(
                a.0 >= 0 && a.2 <= w as i32 && a.3 <= h as i32,
                "{a:?} outside"
            );
        }
        // column labels stand upright (read bottom to top) under their own column
        for (j, b) in l.col_boxes.iter().enumerate() {
            let xc = l.x0 + l.cell * j as i32 + l.cell / 2;
            assert!(b.3 - b.1 > b.2 - b.0 && b.0 < xc && xc < b.2, "{b:?}");
        }
        // the colour bar right beside the matrix and exactly as high
        let m = Array2::from_shape_fn((6, 6), |(i, j)| (i * 6 + j) as f64 / 7.0);
        let buf = render(w, h, |a| {
            draw_heatmap(a, &m, &names, &names, &Options::default())
        });
        let right = l.x0 + l.cell * 6;
        assert!(l.bar_x - right <= 16, "gap {}", l.bar_x - right);
        let bar_x = (l.bar_x + 6 + 11) as u32;
        let coloured: Vec<u32> = (0..h)
            .filter(|&y| {
                let p = px(&buf, w, bar_x, y);
                p != [255, 255, 255] && p != [0, 0, 0]
            })
            .collect();
        let (b0, b1) = (coloured[0] as i32, *coloured.last().unwrap() as i32);
        let (m0, m1) = (l.y0, l.y0 + l.cell * 6);
        assert!(
            b0 >= m0 && b1 <= m1 && b1 - b0 + 4 >= m1 - m0,
            "bar {b0}..{b1}, matrix {m0}..{m1}"
        );
        // a column label's ink lies in its box
        let b = l.col_boxes[3];
        let ink = (b.1..b.3)
            .flat_map(|y| (b.0..b.2).map(move |x| (x, y)))
            .filter(|&(x, y)| px(&buf, w, x as u32, y as u32) != [255, 255, 255])
            .count();
        assert!(ink > 100, "{ink}");
        // the diagonal left out: grey and not in the range
        let d = ndarray::array![[7.0, 1.0], [2.0, 7.0]];
        let names2: Vec<String> = vec!["a".into(), "b".into()];
        let o = Options {
            diagonal: false,
            ..Options::default()
        };
        let buf = render(400, 300, |a| draw_heatmap(a, &d, &names2, &names2, &o));
        let l2 = heat_layout(400, 300, &names2, &names2, false);
        let c = (l2.x0 + l2.cell / 4) as u32;
        assert_eq!(
            px(&buf, 400, c, (l2.y0 + l2.cell / 4) as u32),
            [MISSING.0, MISSING.1, MISSING.2]
        );
        let top_right = px(
            &buf,
            400,
            (l2.x0 + l2.cell + l2.cell / 4) as u32,
            (l2.y0 + l2.cell / 4) as u32,
        );
        assert_eq!(
            top_right,
            [VIRIDIS[0].0, VIRIDIS[0].1, VIRIDIS[0].2],
            "1 is the low end"
        );
    }

    #[test]
    fn legends_stand_beside_what_they_label() {
        // a histogram's marker lines run the plot's full height: no legend over them
        let v: Vec<f64> = (0..200).map(|k| (k as f64 * 0.37).sin()).collect();
        let (w, h) = (520u32, 360u32);
        let markers: Vec<(f64, String)> = vec![
            (-1.0, "default run".into()),
            (0.0, "observed".into()),
            (0.5, "least cost".into()),
            (1.0, "best member".into()),
        ];
        let buf = render(w, h, |a| {
            draw_histogram(a, &v, 20, &markers, &Options::default())
        });
        // (the second marker is black like the axes: not checked)
        for c in [
            RGBColor(214, 39, 40),
            RGBColor(44, 160, 44),
            RGBColor(255, 127, 14),
        ] {
            let rgb = [c.0, c.1, c.2];
            // the line: the column with the longest run of its colour
            let (line_x, n) = (0..w)
                .map(|x| (x, (0..h).filter(|&y| px(&buf, w, x, y) == rgb).count()))
                .max_by_key(|p| p.1)
                .unwrap();
            let rows: Vec<u32> = (0..h).filter(|&y| px(&buf, w, line_x, y) == rgb).collect();
            let (top, bottom) = (rows[0], *rows.last().unwrap());
            assert!(n > 200, "{rgb:?}: {n}");
            assert_eq!(
                rows.len() as u32,
                bottom - top + 1,
                "something covers the {rgb:?} marker line at x = {line_x}"
            );
        }
        // the marker at the data's maximum is clear of the frame: padded range
        let (lo, hi) = histogram_range(&v, &[(1.0, "observed".into())], &Options::default());
        assert!(hi - 1.0 >= 0.05 * (hi - lo), "{lo} {hi}");
        // grouped bars in a panel-sized figure: the tallest bar is whole
        let cats: Vec<String> = ["Global", "Amazon", "Sahel", "Eastern US", "Siberia"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let series = vec![
            ("optimized".to_string(), vec![1.0, 2.0, 3.0, 4.0, 5.0]),
            ("default".to_string(), vec![5.0, 4.0, 3.0, 2.0, 1.0]),
        ];
        let buf = render(w, h, |a| {
            draw_grouped_bars(a, &cats, &series, &Options::default())
        });
        let c = SERIES[1];
        let (x0, y0, x1, y1) = bbox(&buf, w, c).unwrap();
        // the first default bar (5.0) is the leftmost orange: its middle column is orange
        // from its top to the zero line, with no legend text on it
        let col = (x0..x1)
            .find(|&x| px(&buf, w, x, y1) == [c.0, c.1, c.2])
            .unwrap()
            + 3;
        let top = (y0..y1)
            .find(|&y| px(&buf, w, col, y) == [c.0, c.1, c.2])
            .unwrap();
        assert!((top..y1).all(|y| px(&buf, w, col, y) == [c.0, c.1, c.2]));
    }

    #[test]
    fn plain_scatter_and_honest_legend_entries() {
        let x: Vec<f64> = (0..20).map(|k| k as f64 / 19.0).collect();
        let y: Vec<f64> = x.iter().map(|a| 100.0 + 50.0 * (a - 0.3).powi(2)).collect();
        let plain = Options {
            one_to_one: false,
            ..Options::default()
        };
        assert_eq!(scatter_label(&x, &y, &plain), None);
        assert_eq!(
            scatter_label(&x, &x, &Options::default()).as_deref(),
            Some("r² = 1.000")
        );
        let members = Options {
            r2: Some(false),
            label: "PPE members".into(),
            ..Options::default()
        };
        assert_eq!(
            scatter_label(&x, &x, &members).as_deref(),
            Some("PPE members")
        );
        // a plain scatter: no 1:1 line, so no black inside the plot; points over the width
        let (w, h) = (800u32, 520u32);
        let buf = render(w, h, |a| draw_scatter(a, &x, &y, &plain));
        let inner = |buf: &[u8]| {
            (120..h - 60)
                .flat_map(|y| (240..w - 40).map(move |x| (x, y)))
                .filter(|&(x, y)| px(buf, w, x, y).iter().all(|c| *c < 100))
                .count()
        };
        assert_eq!(inner(&buf), 0);
        let bluish = |p: [u8; 3]| p[2] as i32 > p[0] as i32 + 60;
        let painted: Vec<u32> = (0..w)
            .filter(|&x| (0..h).any(|y| bluish(px(&buf, w, x, y))))
            .collect();
        let spread = painted.last().unwrap() - painted[0];
        assert!(spread > w / 2, "points over {spread} of {w} pixels");
        // the legend goes where the points are not: these sit high at the left
        let pts_x = [0.0, 0.05, 0.1, 0.5, 1.0];
        let pts_y = [1.0, 0.95, 0.9, 0.5, 0.95];
        assert_eq!(
            emptiest_corner(&pts_x, &pts_y, (0.0, 1.0), (0.0, 1.0)),
            SeriesLabelPosition::LowerRight
        );
        let with_line = render(w, h, |a| draw_scatter(a, &x, &y, &Options::default()));
        assert!(inner(&with_line) > 200, "the 1:1 line is drawn by default");
    }
}

/// One parameter's panel of an identifiability figure ([`draw_profiles`]): cost curves
/// over the parameter's values, a marked value (the optimum) and a shaded interval (the
/// posterior's 5-95 %).
#[derive(Debug, Clone)]
pub struct ProfilePanel {
    /// Title of the panel (the parameter's name and verdict).
    pub title: String,
    /// The parameter's values (the grid).
    pub x: Vec<f64>,
    /// (label, cost at each value): the first is drawn solid, the others dashed.
    pub curves: Vec<(String, Vec<f64>)>,
    /// The value marked by a vertical line.
    pub marker: Option<f64>,
    /// The interval shaded, (low, high).
    pub band: Option<(f64, f64)>,
}

/// Colour of the shaded interval of a profile panel (light blue).
const BAND: RGBColor = RGBColor(198, 219, 239);
/// Colour of the marker line of a profile panel (red).
const MARK: RGBColor = RGBColor(214, 39, 40);

/// Cost profiles, one small panel per parameter in a grid of `cols` columns under
/// `opts.title`, with one legend beside the grid (the curves' labels of the first panel,
/// `marker` and `band` as the legend names them). Each panel's y axis spans its own
/// curves; when they are all positive and span more than two decades the axis shows
/// log10 of the cost (the y label says so). NaN breaks a curve.
pub fn draw_profiles<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    panels: &[ProfilePanel],
    cols: usize,
    legend: (&str, &str),
    opts: &Options,
) -> Result<()> {
    let area = if opts.title.is_empty() {
        area.clone()
    } else {
        area.titled(&opts.title, ("sans-serif", 24)).map_err(de)?
    };
    let mut entries: Vec<(String, RGBColor, Swatch)> = Vec::new();
    if let Some(p) = panels.first() {
        for (k, (l, _)) in p.curves.iter().enumerate() {
            let c = if k == 0 {
                BLACK
            } else {
                RGBColor(120, 120, 120)
            };
            entries.push((l.clone(), c, Swatch::Line));
        }
        if p.marker.is_some() {
            entries.push((legend.0.to_string(), MARK, Swatch::Line));
        }
        if p.band.is_some() {
            entries.push((legend.1.to_string(), BAND, Swatch::Box));
        }
    }
    let (grid, strip) = legend_split(&area, &entries);
    if let Some(strip) = &strip {
        side_legend(strip, &entries, grid.get_base_pixel().1 + 20)?;
    }
    let cols = cols.clamp(1, panels.len().max(1));
    let rows = panels.len().div_ceil(cols).max(1);
    let cells = grid.split_evenly((rows, cols));
    for (p, cell) in panels.iter().zip(&cells) {
        for (l, c) in &p.curves {
            if c.len() != p.x.len() {
                bail!(
                    "profile plot {}: curve {l} has {} values for {} x values",
                    p.title,
                    c.len(),
                    p.x.len()
                );
            }
        }
        let values: Vec<f64> = p
            .curves
            .iter()
            .flat_map(|(_, c)| c.iter().copied())
            .filter(|v| v.is_finite())
            .collect();
        let lo = values.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let log = !values.is_empty() && lo > 0.0 && hi / lo > 100.0;
        let tr = |v: f64| if log { v.log10() } else { v };
        let (y0, y1) = if values.is_empty() {
            (0.0, 1.0)
        } else {
            (tr(lo), tr(hi))
        };
        let pad = ((y1 - y0) * 0.06).max(1e-12 * y1.abs().max(1.0));
        let (x0, x1) = range(p.x.iter().copied(), &Options::default(), false);
        let (ylo, yhi) = (y0 - pad, y1 + pad);
        let mut chart = ChartBuilder::on(cell)
            .caption(&p.title, ("sans-serif", 17))
            .margin(8)
            .x_label_area_size(34)
            .y_label_area_size(56)
            .build_cartesian_2d(axis(x0, x1)?, axis(ylo, yhi)?)
            .map_err(de)?;
        let ylabel = if log { "cost (log10)" } else { "cost" };
        chart
            .configure_mesh()
            .x_desc(&opts.xlabel)
            .y_desc(ylabel)
            .x_labels(5)
            .y_labels(5)
            .x_label_formatter(&|v| tick_text(*v, x1 - x0))
            .y_label_formatter(&|v| tick_text(*v, yhi - ylo))
            .label_style(("sans-serif", 12))
            .axis_desc_style(("sans-serif", 13))
            .light_line_style(WHITE)
            .draw()
            .map_err(de)?;
        if let Some((a, b)) = p.band.filter(|(a, b)| a.is_finite() && b.is_finite()) {
            chart
                .draw_series(std::iter::once(Rectangle::new(
                    [(a.max(x0), ylo), (b.min(x1), yhi)],
                    BAND.filled(),
                )))
                .map_err(de)?;
        }
        for (k, (_, c)) in p.curves.iter().enumerate() {
            let pts: Vec<(f64, f64)> = p.x.iter().zip(c).map(|(&a, &b)| (a, tr(b))).collect();
            for run in pts
                .split(|q| !q.0.is_finite() || !q.1.is_finite())
                .filter(|r| !r.is_empty())
            {
                if k == 0 {
                    chart
                        .draw_series(std::iter::once(PathElement::new(
                            run.to_vec(),
                            BLACK.stroke_width(2),
                        )))
                        .map_err(de)?;
                } else {
                    chart
                        .draw_series(DashedLineSeries::new(
                            run.to_vec(),
                            6,
                            4,
                            RGBColor(120, 120, 120).stroke_width(2),
                        ))
                        .map_err(de)?;
                }
            }
        }
        if let Some(m) = p.marker.filter(|m| m.is_finite()) {
            chart
                .draw_series(std::iter::once(PathElement::new(
                    vec![(m, ylo), (m, yhi)],
                    MARK.stroke_width(2),
                )))
                .map_err(de)?;
        }
    }
    Ok(())
}
