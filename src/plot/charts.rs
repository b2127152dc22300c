//! Charts on x/y axes: histograms, scatter plots, lines, horizontal bars, grouped bars and
//! pair plots.

use super::axes::{axis, range, tick_text};
use super::colour::SERIES;
use super::legend::{draw_legend, legend_split, place_legend, side_legend, Swatch};
use super::{de, Options};
use anyhow::{bail, Result};
use ndarray::Array2;
use plotters::coord::Shift;
use plotters::prelude::*;

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
        .caption(
            &opts.title,
            ("sans-serif", title_size(&opts.title, area, 24)),
        )
        .margin(14)
        .margin_right(tick_room(lo, hi))
        .x_label_area_size(46)
        .y_label_area_size(60)
        .build_cartesian_2d(axis(lo, hi)?, 0.0..top)
        .map_err(de)?;
    // as many x ticks as the width holds without their labels touching
    let plot_w = chart.plotting_area().dim_in_pixel().0;
    chart
        .configure_mesh()
        .x_labels((plot_w / 60).clamp(2, 10) as usize)
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
/// unless `opts.r2` asks for it. `opts.points` are drawn as black crosses (Fig. 6's default
/// run), `opts.vlines` as vertical lines, the first magenta (Fig. 6e's threshold), then
/// black and green; the legend stands
/// beside the plot, never over a point. Ticks are as many as the plot's width holds.
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
    let px: Vec<f64> = opts.points.iter().map(|p| p.1).collect();
    let py: Vec<f64> = opts.points.iter().map(|p| p.2).collect();
    let vx: Vec<f64> = opts.vlines.iter().map(|v| v.1).collect();
    let ((x0, x1), (y0, y1)) = if opts.one_to_one {
        let r = padded(range(
            x.iter().chain(y).chain(&px).chain(&py).chain(&vx).copied(),
            opts,
            false,
        ));
        (r, r)
    } else {
        let plain = Options {
            vmin: None,
            vmax: None,
            ..Options::default()
        };
        (
            padded(range(
                x.iter().chain(&px).chain(&vx).copied(),
                &plain,
                false,
            )),
            padded(range(y.iter().chain(&py).copied(), &plain, false)),
        )
    };
    let blue = RGBColor(31, 119, 180);
    let line_colour = |k: usize| [RGBColor(200, 0, 200), BLACK, RGBColor(44, 160, 44)][k % 3];
    let mut entries: Vec<(String, RGBColor, Swatch)> = Vec::new();
    if opts.one_to_one {
        entries.push(("1:1".into(), BLACK, Swatch::Line));
    }
    if let Some(text) = scatter_label(x, y, opts) {
        entries.push((text, blue, Swatch::Dot));
    }
    for (l, _, _) in &opts.points {
        entries.push((l.clone(), BLACK, Swatch::Cross));
    }
    for (k, (l, _)) in opts.vlines.iter().enumerate() {
        entries.push((l.clone(), line_colour(k), Swatch::Line));
    }
    let (area, strip) = legend_split(area, &entries);
    let area = &area;
    let (w, h) = area.dim_in_pixel();
    let mut chart = ChartBuilder::on(area)
        .caption(
            &opts.title,
            ("sans-serif", title_size(&opts.title, area, 22)),
        )
        .margin(14)
        .margin_right(tick_room(x0, x1))
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
    if opts.one_to_one {
        chart
            .draw_series(std::iter::once(PathElement::new(
                vec![(x0, x0), (x1, x1)],
                BLACK.stroke_width(1),
            )))
            .map_err(de)?;
    }
    for (k, (_, v)) in opts.vlines.iter().enumerate() {
        chart
            .draw_series(std::iter::once(PathElement::new(
                vec![(*v, y0), (*v, y1)],
                line_colour(k).stroke_width(2),
            )))
            .map_err(de)?;
    }
    chart
        .draw_series(
            x.iter()
                .zip(y)
                .filter(|(a, b)| a.is_finite() && b.is_finite())
                .map(|(&a, &b)| Circle::new((a, b), 4, blue.mix(0.7).filled())),
        )
        .map_err(de)?;

    chart
        .draw_series(
            opts.points
                .iter()
                .filter(|p| p.1.is_finite() && p.2.is_finite())
                .map(|p| Cross::new((p.1, p.2), 7, BLACK.stroke_width(3))),
        )
        .map_err(de)?;
    place_legend(&mut chart, strip, &entries, || {
        emptiest_corner(x, y, (x0, x1), (y0, y1))
    })?;
    Ok(())
}

/// The font size of a title that fits the width of `area`: `size`, or smaller (down to 12)
/// for a long title, which would otherwise run off both sides of the figure.
pub(super) fn title_size<DB: DrawingBackend>(
    title: &str,
    area: &DrawingArea<DB, Shift>,
    size: u32,
) -> u32 {
    super::fonts();
    let room = area.dim_in_pixel().0.saturating_sub(24);
    let mut s = size;
    while s > 12 {
        let w = ("sans-serif", s)
            .into_font()
            .box_size(title)
            .map(|(w, _)| w)
            .unwrap_or(title.chars().count() as u32 * s / 2);
        if w <= room {
            break;
        }
        s -= 1;
    }
    s
}

/// Pixels to keep right of a plot so that its last x tick label, centred on the plot's
/// right edge, is not cut off: half the widest end label and a little more.
fn tick_room(lo: f64, hi: f64) -> u32 {
    super::fonts();
    let font = ("sans-serif", 14).into_font();
    let w = [lo, hi]
        .iter()
        .map(|v| {
            let t = tick_text(*v, hi - lo);
            font.box_size(&t)
                .map(|(w, _)| w)
                .unwrap_or(t.chars().count() as u32 * 9)
        })
        .max()
        .unwrap_or(0);
    (w / 2 + 6).max(14)
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

/// Lines with markers over a shared `x` (Figs. 8, S12): one (label, values) per series;
/// NaN breaks a line; the legend stands beside the plot, never over a line (a series
/// labelled `""` is left out of it; none when no series has a label). `opts.xticks` puts
/// words at given x values (month names) in place of numbers.
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
    let entries: Vec<(String, RGBColor, Swatch)> = series
        .iter()
        .enumerate()
        .filter(|(_, (l, _))| !l.is_empty())
        .map(|(k, (l, _))| (l.clone(), SERIES[k % SERIES.len()], Swatch::Line))
        .collect();
    let (area, strip) = legend_split(area, &entries);
    let area = &area;
    let mut chart = ChartBuilder::on(area)
        .caption(
            &opts.title,
            ("sans-serif", title_size(&opts.title, area, 24)),
        )
        .margin(14)
        .margin_right(tick_room(x0, x1))
        .x_label_area_size(46)
        .y_label_area_size(70)
        .build_cartesian_2d(axis(x0, x1)?, axis(y0 - pad, y1 + pad)?)
        .map_err(de)?;
    let fmt_x = |v: &f64| tick_text(*v, x1 - x0);
    let fmt_y = |v: &f64| tick_text(*v, y1 - y0 + 2.0 * pad);
    let words = !opts.xticks.is_empty();
    chart
        .configure_mesh()
        .x_desc(&opts.xlabel)
        .y_desc(&opts.ylabel)
        .x_labels(if words { 0 } else { 10 })
        .x_label_formatter(&fmt_x)
        .y_label_formatter(&fmt_y)
        .label_style(("sans-serif", 14))
        .axis_desc_style(("sans-serif", 16))
        .light_line_style(WHITE)
        .draw()
        .map_err(de)?;
    if words {
        use plotters::style::text_anchor::{HPos, Pos, VPos};
        let (bx, by) = area.get_base_pixel();
        let font = ("sans-serif", 14).into_font().color(&BLACK);
        for (v, t) in opts.xticks.iter().filter(|(v, _)| *v >= x0 && *v <= x1) {
            let (px, py) = chart.backend_coord(&(*v, y0 - pad));
            let (px, py) = (px - bx, py - by);
            area.draw(&PathElement::new(vec![(px, py), (px, py + 5)], BLACK))
                .map_err(de)?;
            area.draw(&Text::new(
                t.clone(),
                (px, py + 7),
                font.pos(Pos::new(HPos::Center, VPos::Top)),
            ))
            .map_err(de)?;
        }
    }
    for (k, (_, ys)) in series.iter().enumerate() {
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
            .map_err(de)?;
    }
    place_legend(&mut chart, strip, &entries, || {
        let xs: Vec<f64> = series.iter().flat_map(|_| x.iter().copied()).collect();
        let ys: Vec<f64> = series.iter().flat_map(|(_, s)| s.iter().copied()).collect();
        emptiest_corner(&xs, &ys, (x0, x1), (y0 - pad, y1 + pad))
    })?;
    Ok(())
}

/// Horizontal bars, one per label, from the top in the order given (Fig. 7: permutation
/// importance); `opts.errors` adds an error bar of plus and minus the spread to each bar,
/// `opts.reference` a bar on top in orange (Fig. 7's error without permutation).
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
    if !opts.errors.is_empty() && opts.errors.len() != values.len() {
        bail!(
            "bar chart: {} errors for {} values",
            opts.errors.len(),
            values.len()
        );
    }
    // the bars from the top: the reference first, then the values
    let mut rows: Vec<(String, f64, f64, RGBColor)> = Vec::new();
    if let Some((l, v, e)) = &opts.reference {
        rows.push((l.clone(), *v, *e, SERIES[1]));
    }
    for (k, (l, v)) in labels.iter().zip(values).enumerate() {
        rows.push((
            l.clone(),
            *v,
            opts.errors.get(k).copied().unwrap_or(0.0),
            SERIES[0],
        ));
    }
    let n = rows.len().max(1);
    let ends = rows.iter().flat_map(|(_, v, e, _)| {
        let e = if e.is_finite() { e.abs() } else { 0.0 };
        [*v - e, *v + e]
    });
    let (lo, hi) = range(ends.chain(std::iter::once(0.0)), opts, false);
    let lo = lo.min(0.0);
    let mut chart = ChartBuilder::on(area)
        .caption(
            &opts.title,
            ("sans-serif", title_size(&opts.title, area, 24)),
        )
        .margin(14)
        .margin_right(tick_room(lo, hi + (hi - lo) * 0.05))
        .x_label_area_size(46)
        .y_label_area_size(160)
        .build_cartesian_2d(
            axis(lo, hi + (hi - lo) * 0.05)?,
            (0..n.saturating_sub(1).max(1)).into_segmented(),
        )
        .map_err(de)?;
    let labels_owned: Vec<String> = rows.iter().map(|r| r.0.clone()).collect();
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
            rows.iter()
                .enumerate()
                .filter(|(_, r)| r.1.is_finite())
                .map(|(k, r)| {
                    let row = n - 1 - k;
                    let mut bar = Rectangle::new(
                        [
                            (0.0, SegmentValue::Exact(row)),
                            (r.1, SegmentValue::Exact(row + 1)),
                        ],
                        r.3.filled(),
                    );
                    bar.set_margin(4, 4, 0, 0);
                    bar
                }),
        )
        .map_err(de)?;
    // error bars: a line across each bar's end from v - e to v + e, with caps
    for (k, r) in rows.iter().enumerate() {
        let e = r.2.abs();
        if !(r.1.is_finite() && e.is_finite() && e > 0.0) {
            continue;
        }
        let row = n - 1 - k;
        let mid = chart.backend_coord(&(r.1, SegmentValue::CenterOf(row)));
        let a = chart.backend_coord(&(r.1 - e, SegmentValue::CenterOf(row)));
        let b = chart.backend_coord(&(r.1 + e, SegmentValue::CenterOf(row)));
        let (bx, by) = area.get_base_pixel();
        let y = mid.1 - by;
        let (xa, xb) = (a.0 - bx, b.0 - bx);
        for seg in [
            vec![(xa, y), (xb, y)],
            vec![(xa, y - 6), (xa, y + 6)],
            vec![(xb, y - 6), (xb, y + 6)],
        ] {
            area.draw(&PathElement::new(seg, BLACK.stroke_width(2)))
                .map_err(de)?;
        }
    }
    Ok(())
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
        .caption(
            &opts.title,
            ("sans-serif", title_size(&opts.title, &area, 24)),
        )
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

/// Above this many points a pair plot's panels are 2-D histograms, not dots.
pub const DENSITY_FROM: usize = 400;
/// Bins per axis of a pair plot's 2-D histograms.
const DENSITY_BINS: usize = 30;

/// Counts of the points of columns `cx` (x) and `cy` (y) in `bins` x `bins` cells over the
/// given ranges, row-major from the bottom left (`by * bins + bx`); NaN and points outside
/// are left out.
pub fn pair_counts(
    points: &Array2<f64>,
    cx: usize,
    cy: usize,
    (xlo, xhi): (f64, f64),
    (ylo, yhi): (f64, f64),
    bins: usize,
) -> Vec<usize> {
    let mut counts = vec![0usize; bins * bins];
    let cell = |v: f64, lo: f64, hi: f64| -> Option<usize> {
        if !(v >= lo && v <= hi) || hi <= lo {
            return None;
        }
        Some((((v - lo) / (hi - lo) * bins as f64) as usize).min(bins - 1))
    };
    for r in points.outer_iter() {
        if let (Some(bx), Some(by)) = (cell(r[cx], xlo, xhi), cell(r[cy], ylo, yhi)) {
            counts[by * bins + bx] += 1;
        }
    }
    counts
}

/// The shade of a 2-D histogram cell, `t` in [0, 1]: pale blue to dark blue.
fn density_colour(t: f64) -> RGBColor {
    let t = t.clamp(0.0, 1.0);
    let mix = |a: f64, b: f64| (a + (b - a) * t).round() as u8;
    RGBColor(mix(222.0, 8.0), mix(235.0, 48.0), mix(247.0, 107.0))
}

/// A pair (corner) plot of a point cloud (Fig. 9): for k columns a k x k grid with each
/// column's histogram on the diagonal and the points of each pair below it (dots; above
/// [`DENSITY_FROM`] points a 2-D histogram shaded by count, as one solid patch of dots hides
/// where the mass is); columns named by `names`, every axis over `[vmin, vmax]` if given
/// (e.g. scalings in [0, 1]).
pub fn draw_pairs<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    points: &Array2<f64>,
    names: &[String],
    opts: &Options,
) -> Result<()> {
    draw_pairs_marked(area, points, names, None, opts)
}

/// The colour of a point marked on a pair plot (the optimum, the truth).
pub const MARK: RGBColor = RGBColor(214, 39, 40);

/// [`draw_pairs`] with one point marked (e.g. the optimum or the truth): a red cross in each
/// pair panel and a red line in each histogram.
pub fn draw_pairs_marked<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    points: &Array2<f64>,
    names: &[String],
    mark: Option<&[f64]>,
    opts: &Options,
) -> Result<()> {
    let marks: Vec<(&[f64], RGBColor)> = mark.map(|m| (m, MARK)).into_iter().collect();
    draw_pairs_marks(area, points, names, &marks, opts)
}

/// [`draw_pairs`] with points marked, each in its colour (Fig. 9: the optimum red, the
/// default run black): a cross in each pair panel and a line in each histogram.
pub fn draw_pairs_marks<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    points: &Array2<f64>,
    names: &[String],
    marks: &[(&[f64], RGBColor)],
    opts: &Options,
) -> Result<()> {
    let (np, k) = points.dim();
    if k == 0 || names.len() != k {
        bail!("pair plot: {k} columns with {} names", names.len());
    }
    for (m, _) in marks {
        if m.len() != k {
            bail!("pair plot: the mark has {} values for {k} columns", m.len());
        }
    }
    let marked = |c: usize| -> Vec<(f64, RGBColor)> {
        marks
            .iter()
            .map(|(m, col)| (m[c], *col))
            .filter(|(v, _)| v.is_finite())
            .collect()
    };
    if k > 12 {
        bail!("pair plot: {k} columns is too many to read (at most 12)");
    }
    let area = if opts.title.is_empty() {
        area.clone()
    } else {
        area.titled(
            &opts.title,
            ("sans-serif", title_size(&opts.title, area, 24)),
        )
        .map_err(de)?
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
                for (v, col) in marked(j)
                    .into_iter()
                    .filter(|(v, _)| *v >= xlo && *v <= xhi)
                {
                    ch.draw_series(std::iter::once(PathElement::new(
                        vec![(v, 0.0), (v, top)],
                        col.stroke_width(2),
                    )))
                    .map_err(de)?;
                }
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
                if np > DENSITY_FROM {
                    // many points (an MCMC chain): a 2-D histogram, shaded by count, instead
                    // of dots that pile up into one solid patch
                    let counts = pair_counts(points, j, i, (xlo, xhi), (ylo, yhi), DENSITY_BINS);
                    let top = counts.iter().copied().max().unwrap_or(0).max(1) as f64;
                    let (wx, wy) = (
                        (xhi - xlo) / DENSITY_BINS as f64,
                        (yhi - ylo) / DENSITY_BINS as f64,
                    );
                    ch.draw_series(counts.iter().enumerate().filter(|(_, &c)| c > 0).map(
                        |(b, &c)| {
                            let (bx, by) = (b % DENSITY_BINS, b / DENSITY_BINS);
                            let x0 = xlo + wx * bx as f64;
                            let y0 = ylo + wy * by as f64;
                            Rectangle::new(
                                [(x0, y0), (x0 + wx, y0 + wy)],
                                density_colour((c as f64 / top).sqrt()).filled(),
                            )
                        },
                    ))
                    .map_err(de)?;
                } else {
                    ch.draw_series(
                        points
                            .outer_iter()
                            .filter(|r| r[i].is_finite() && r[j].is_finite())
                            .map(|r| Circle::new((r[j], r[i]), small, SERIES[0].mix(0.5).filled())),
                    )
                    .map_err(de)?;
                }
                for ((x, col), (y, _)) in marked(j).into_iter().zip(marked(i)) {
                    if x >= xlo && x <= xhi && y >= ylo && y <= yhi {
                        ch.draw_series(std::iter::once(Cross::new((x, y), 6, col.stroke_width(3))))
                            .map_err(de)?;
                    }
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plot::save;
    use crate::plot::test_support::{bbox, inked, px, render, render_err};

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
        // (the legend's strip beside the plot is white)
        assert!(inked(&buf) > 0.02, "{}", inked(&buf));
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

    /// Issue 32 defect 3: the last x tick label of a plot of tiny values ("0.00002") ran off
    /// the figure's right edge. Now every tick label stays inside: no ink in the rightmost
    /// columns of a scatter, a line plot or a bar chart without a legend.
    #[test]
    fn tick_labels_are_not_cut_at_the_edge() {
        let x: Vec<f64> = (0..40).map(|k| k as f64 * 5e-7).collect();
        let y: Vec<f64> = x.iter().map(|v| v * 0.8).collect();
        let (w, h) = (640u32, 600u32);
        let edge_ink = |buf: &[u8]| {
            (0..h)
                .flat_map(|yy| (w - 3..w).map(move |xx| (xx, yy)))
                .filter(|&(xx, yy)| px(buf, w, xx, yy) != [255, 255, 255])
                .count()
        };
        let o = Options {
            r2: Some(false),
            ..Options::default()
        };
        // no legend: the 1:1 line's only entry kept out by one_to_one false
        let plain = Options {
            one_to_one: false,
            ..o.clone()
        };
        let buf = render(w, h, |a| draw_scatter(a, &x, &y, &plain));
        assert_eq!(edge_ink(&buf), 0, "scatter");
        let buf = render(w, h, |a| {
            draw_lines(a, &x, &[(String::new(), y.clone())], &Options::default())
        });
        assert_eq!(edge_ink(&buf), 0, "lines");
        let labels: Vec<String> = (0..3).map(|k| format!("p{k}")).collect();
        let buf = render(w, h, |a| {
            draw_bars(a, &labels, &[1e-5, 2e-5, 1.7e-5], &Options::default())
        });
        assert_eq!(edge_ink(&buf), 0, "bars");
        // the room kept is half the widest end label and more
        assert!(tick_room(0.0, 2e-5) > 20, "{}", tick_room(0.0, 2e-5));
    }

    /// Issue 32 defect 5: the legend of a line plot stood over the lines (the partial
    /// dependence plots). Six lines across the whole plot: each line's row of pixels is as
    /// long as the top line's, none cut by a legend; the labels are beside the plot.
    #[test]
    fn a_line_plot_legend_covers_no_line() {
        let x: Vec<f64> = (0..10).map(|k| k as f64 / 9.0).collect();
        let series: Vec<(String, Vec<f64>)> = (0..6)
            .map(|k| (format!("parameter {k}"), vec![k as f64; 10]))
            .collect();
        let (w, h) = (1000u32, 560u32);
        let buf = render(w, h, |a| draw_lines(a, &x, &series, &Options::default()));
        let mut runs = Vec::new();
        for c in SERIES.iter().take(6) {
            let rgb = [c.0, c.1, c.2];
            // the line's row: the one with the most pixels of its colour
            let (row, _) = (0..h)
                .map(|y| (y, (0..w).filter(|&x| px(&buf, w, x, y) == rgb).count()))
                .max_by_key(|p| p.1)
                .unwrap();
            // the longest run of the colour in that row (gaps of 2 pixels allowed)
            let xs: Vec<u32> = (0..w).filter(|&x| px(&buf, w, x, row) == rgb).collect();
            let (mut best, mut start) = (0, xs[0]);
            for k in 1..=xs.len() {
                if k == xs.len() || xs[k] > xs[k - 1] + 3 {
                    best = best.max(xs[k - 1] - start);
                    if k < xs.len() {
                        start = xs[k];
                    }
                }
            }
            runs.push(best);
        }
        let longest = *runs.iter().max().unwrap();
        assert!(longest > 600, "{runs:?}");
        for (k, r) in runs.iter().enumerate() {
            assert!(r + 4 >= longest, "line {k} is cut: {runs:?}");
        }
    }

    /// Issue 32 defect 6: Fig. 6's default run as a black "x" and Fig. 6e's threshold as a
    /// magenta vertical line, both named in the legend beside the plot.
    #[test]
    fn a_scatter_marks_named_points_and_lines() {
        let x: Vec<f64> = (0..30).map(|k| k as f64).collect();
        let (w, h) = (800u32, 600u32);
        let o = Options {
            points: vec![("default run".into(), 25.0, 5.0)],
            vlines: vec![("threshold".into(), 10.0)],
            ..Options::default()
        };
        let buf = render(w, h, |a| draw_scatter(a, &x, &x, &o));
        // the magenta line: one column with a long run
        let m = [200, 0, 200];
        let (col, n) = (0..w)
            .map(|c| (c, (0..h).filter(|&y| px(&buf, w, c, y) == m).count()))
            .max_by_key(|p| p.1)
            .unwrap();
        assert!(n > 300, "the threshold line: {n} pixels at x = {col}");
        // the cross: black pixels around (25, 5), below the 1:1 line, where no point is
        let plain = Options::default();
        let without = render(w, h, |a| draw_scatter(a, &x, &x, &plain));
        let black = |b: &[u8]| b.chunks(3).filter(|p| p == &[0, 0, 0]).count();
        assert!(
            black(&buf) > black(&without) + 30,
            "{} vs {}",
            black(&buf),
            black(&without)
        );
        // the legend beside: the points' range is not narrowed by more than the strip
        assert!(crate::plot::legend_width(&[("threshold".into(), BLACK, Swatch::Line)]) < 200);
    }

    /// Issue 32 defect 8 (Fig. 7): the error without permutation as an orange bar on top,
    /// each bar's spread as an error bar.
    #[test]
    fn bars_with_a_reference_and_error_bars() {
        let labels: Vec<String> = ["kmax", "dint", "fff"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let (w, h) = (700u32, 400u32);
        let o = Options {
            errors: vec![0.2, 0.1, 0.0],
            reference: Some(("none shuffled".into(), 0.5, 0.0)),
            ..Options::default()
        };
        let buf = render(w, h, |a| draw_bars(a, &labels, &[2.0, 1.0, 0.6], &o));
        let orange = SERIES[1];
        let blue = SERIES[0];
        let (_, oy0, _, oy1) = bbox(&buf, w, orange).expect("the reference bar");
        let (_, by0, bx1, _) = bbox(&buf, w, blue).expect("the bars");
        assert!(oy1 < by0, "the reference bar is above the others");
        let _ = oy0;
        // the error bar of the first bar reaches beyond its end (2.0 + 0.2)
        let black_right = (by0..by0 + 60)
            .flat_map(|y| (bx1 + 3..bx1 + 40).map(move |x| (x, y)))
            .filter(|&(x, y)| px(&buf, w, x, y) == [0, 0, 0])
            .count();
        assert!(black_right > 10, "{black_right}");
        // errors of the wrong length are refused
        let bad = Options {
            errors: vec![0.1],
            ..Options::default()
        };
        assert!(render_err(|a| draw_bars(
            a,
            &labels,
            &[1.0, 2.0, 3.0],
            &bad
        )));
    }

    /// A title longer than the figure is wide was cut at both sides (Fig. 6e's): it is drawn
    /// smaller, whole.
    #[test]
    fn a_long_title_fits_its_figure() {
        let long = "normalised error (GPP and LHF): emulated against the ensemble";
        let (w, h) = (500u32, 400u32);
        let x: Vec<f64> = (0..10).map(f64::from).collect();
        let o = Options {
            title: long.into(),
            ..Options::default()
        };
        let buf = render(w, h, |a| {
            assert!(title_size(long, a, 22) < 22);
            draw_scatter(a, &x, &x, &o)
        });
        // no ink in the first and last columns of the title's rows
        let edge = (0..40)
            .flat_map(|y| [(0u32, y), (1, y), (w - 2, y), (w - 1, y)])
            .filter(|&(x, y)| px(&buf, w, x, y) != [255, 255, 255])
            .count();
        assert_eq!(edge, 0);
    }
}
