//! Legends: in a strip beside a plot (never over what they label) or in a box inside it.

use super::{de, fonts};
use anyhow::Result;
use plotters::coord::Shift;
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
