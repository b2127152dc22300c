//! Axes: ticks and their text, units as a paper writes them, colour and axis ranges, degrees.

use super::Options;
use anyhow::{bail, Result};

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
pub(super) fn power_of_ten(e: i32) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plot::{bar_label, fonts};
    use plotters::prelude::*;

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
}
