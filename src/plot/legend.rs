//! Legends: in a strip beside a plot (never over what they label) or in a box inside it.

use super::{de, fonts};
use anyhow::Result;
use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::element::DynElement;
use plotters::prelude::*;

/// How a legend entry shows its series.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Swatch {
    /// A short thick line (marker lines, lines).
    Line,
    /// A filled box (bars).
    Box,
    /// A filled dot (scatter points).
    Dot,
    /// A cross, "x" (a marked point: the default run).
    Cross,
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
    // swatch and gap (32), the text, and room for glyphs box_size measures short (², ⁻)
    text + 60
}

/// Splits `area` into the plot and, if there are entries, a strip on its right for a
/// legend outside the plot, where it cannot cover what it labels.
pub(super) fn legend_split<DB: DrawingBackend>(
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
pub(super) fn side_legend<DB: DrawingBackend>(
    strip: &DrawingArea<DB, Shift>,
    entries: &[(String, RGBColor, Swatch)],
    top: i32,
) -> Result<()> {
    let y0 = (top - strip.get_base_pixel().1).max(0) + 6;
    for (label, _, _) in entries {
        super::record("Legend", label.clone());
    }
    for (k, (label, c, sw)) in entries.iter().enumerate() {
        let y = y0 + 24 * k as i32 + 8;
        match sw {
            Swatch::Line => strip
                .draw(&PathElement::new(vec![(4, y), (26, y)], c.stroke_width(3)))
                .map_err(de)?,
            Swatch::Box => strip
                .draw(&Rectangle::new([(8, y - 6), (22, y + 6)], c.filled()))
                .map_err(de)?,
            Swatch::Dot => strip
                .draw(&Circle::new((15, y), 5, c.filled()))
                .map_err(de)?,
            Swatch::Cross => strip
                .draw(&Cross::new((15, y), 6, c.stroke_width(3)))
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
pub(super) fn draw_legend<'a, DB: DrawingBackend + 'a, CT: CoordTranslate>(
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

/// The legend of `entries`, everywhere the same: in the strip beside the plot when there is
/// one, else inside the plot in the corner `corner` picks (where the data are fewest), each
/// entry recorded as the figure's "Legend" text.
pub(super) fn place_legend<'a, DB: DrawingBackend + 'a>(
    chart: &mut ChartContext<'a, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>,
    strip: Option<DrawingArea<DB, Shift>>,
    entries: &[(String, RGBColor, Swatch)],
    corner: impl FnOnce() -> SeriesLabelPosition,
) -> Result<()> {
    if entries.is_empty() {
        return Ok(());
    }
    if let Some(strip) = strip {
        let (_, rows) = chart.plotting_area().get_pixel_range();
        return side_legend(&strip, entries, rows.start);
    }
    for (label, c, sw) in entries {
        super::record("Legend", label.clone());
        let (c, sw) = (*c, *sw);
        chart
            .draw_series(std::iter::empty::<Circle<(f64, f64), i32>>())
            .map_err(de)?
            .label(label.as_str())
            .legend(move |(x, y)| -> DynElement<'static, _, _> {
                match sw {
                    Swatch::Line => {
                        PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(2)).into_dyn()
                    }
                    Swatch::Box => {
                        Rectangle::new([(x + 4, y - 6), (x + 16, y + 6)], c.filled()).into_dyn()
                    }
                    Swatch::Dot => Circle::new((x + 10, y), 4, c.filled()).into_dyn(),
                    Swatch::Cross => Cross::new((x + 10, y), 5, c.stroke_width(2)).into_dyn(),
                }
            });
    }
    draw_legend(chart, corner())
}
