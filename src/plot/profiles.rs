//! Cost profiles of an identifiability figure: one small panel per parameter.

use super::axes::{axis, range, tick_text};
use super::legend::{legend_split, side_legend, Swatch};
use super::{de, Options};
use anyhow::{bail, Result};
use plotters::coord::Shift;
use plotters::prelude::*;

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
        area.titled(
            &opts.title,
            (
                "sans-serif",
                super::charts::title_size(&opts.title, area, 24),
            ),
        )
        .map_err(de)?
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
