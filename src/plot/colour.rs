//! Colour: the colour maps, the colour bar beside maps and heat maps, the colours of series.

use super::axes::{nice_ticks, power_of_ten, tick_exponent, tick_text, unit_text};
use super::{de, Options};
use anyhow::Result;
use plotters::coord::Shift;
use plotters::prelude::*;

/// Anchor colours of the colour maps (matplotlib's viridis and RdBu_r, sampled evenly).
pub(super) const VIRIDIS: [(u8, u8, u8); 9] = [
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

/// The label of a colour bar: "quantity (units)", either alone if the other is empty.
pub fn bar_label(opts: &Options) -> String {
    let units = unit_text(&opts.units);
    match (opts.quantity.trim(), units.as_str()) {
        ("", u) => u.to_string(),
        (q, "") => q.to_string(),
        (q, u) => format!("{q} ({u})"),
    }
}

/// Light grey of map cells (and heat map cells) that have no value: distinct from the
/// near-white of values near zero on the diverging colour map. On maps it is the land
/// without data (Natural Earth's land under the cells that have values).
pub const MISSING: RGBColor = RGBColor(208, 208, 214);

/// Very light blue of the ocean on maps: distinct from [`MISSING`] (land without data) and
/// from the near-white of values near zero on the diverging colour map.
pub const OCEAN: RGBColor = RGBColor(226, 236, 246);

/// Margins (top, bottom) in pixels that line a strip `bar` up with the plotting area of a
/// chart whose plotting area spans rows `plot_rows` (absolute pixels).
pub(super) fn aligned(
    bar_top: i32,
    bar_height: u32,
    plot_rows: &std::ops::Range<i32>,
) -> (u32, u32) {
    let top = (plot_rows.start - bar_top).max(0) as u32;
    let bottom = (bar_top + bar_height as i32 - plot_rows.end).max(0) as u32;
    (top, bottom)
}

/// A vertical colour bar from `lo` to `hi` with ticks and `label` on its right; `top` and
/// `bottom` are the margins that give it the height of the plot beside it. Very small or
/// large values are written as multiples of a power of ten named in the label.
/// `(below, above)` say whether some values lie below `lo` or above `hi` (drawn in the end
/// colours): that end of the bar is then a triangle in the end colour (matplotlib's
/// `extend`), taken from the bar's length.
pub(super) fn colour_bar<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    lo: f64,
    hi: f64,
    cmap: &str,
    label: &str,
    (top, bottom): (u32, u32),
    (below, above): (bool, bool),
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
    // the triangles of an extended bar: about a twentieth of its length each
    let tri = ((y1 - y0) / 20).clamp(6, 18);
    let y0 = if above && y1 - y0 > 3 * tri {
        y0 + tri
    } else {
        y0
    };
    let y1 = if below && y1 - y0 > 3 * tri {
        y1 - tri
    } else {
        y1
    };
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
    let xm = (x0 + x1) / 2;
    for (extended, base, apex, t) in [
        (above && y0 > top as i32, y0, y0 - tri, 1.0),
        (below && y1 < h as i32 - bottom as i32, y1, y1 + tri, 0.0),
    ] {
        if extended {
            let corners = vec![(x0, base), (x1, base), (xm, apex)];
            area.draw(&Polygon::new(corners.clone(), color(cmap, t).filled()))
                .map_err(de)?;
            let mut outline = corners;
            outline.push((x0, base));
            area.draw(&PathElement::new(outline, BLACK.stroke_width(1)))
                .map_err(de)?;
        }
    }
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

/// Colours of successive series (matplotlib's tab10).
pub(super) const SERIES: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plot::range;

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
    fn an_extended_bar_ends_in_a_triangle_of_the_end_colour() {
        use crate::plot::test_support::{px, render};
        // a bar 22 pixels wide (x 6..28), rows 20..380: with (below, above) extended, the
        // column through its middle holds the end colour over a triangle's height, one near
        // its side over a few rows only; without, neither holds it beyond a row
        let (w, h) = (120, 400);
        let (top, bottom) = (color("RdBu_r", 1.0), color("RdBu_r", 0.0));
        let count = |buf: &[u8], x: u32, c: RGBColor, rows: std::ops::Range<u32>| {
            rows.filter(|&y| px(buf, w, x, y) == [c.0, c.1, c.2])
                .count()
        };
        for (below, above) in [(false, false), (true, false), (false, true), (true, true)] {
            let buf = render(w, h, |a| {
                colour_bar(a, -1.0, 1.0, "RdBu_r", "", (20, 20), (below, above))
            });
            for (c, extended, rows) in [(top, above, 0..60), (bottom, below, 340..h)] {
                let (mid, side) = (count(&buf, 17, c, rows.clone()), count(&buf, 8, c, rows));
                if extended {
                    assert!(
                        mid >= 12 && mid >= side + 8,
                        "{below} {above}: {mid} {side}"
                    );
                } else {
                    assert!(mid <= side + 1, "{below} {above}: {mid} {side}");
                }
            }
        }
        // a heat map with values beyond vmax: a triangle at the top of its bar
        let m = ndarray::Array2::from_shape_fn((4, 4), |(i, j)| i as f64 - j as f64);
        let names: Vec<String> = ["a", "b", "c", "d"].iter().map(|s| s.to_string()).collect();
        let (w, h) = (600, 500);
        let l = crate::plot::heat_layout(w, h, &names, &names, false);
        for (vmax, extended) in [(2.0, true), (3.0, false)] {
            let o = Options {
                vmin: Some(-3.0),
                vmax: Some(vmax),
                cmap: Some("viridis".into()),
                ..Options::default()
            };
            let buf = render(w, h, |a| {
                crate::plot::draw_heatmap(a, &m, &names, &names, &o)
            });
            let top = color("viridis", 1.0);
            let count = |x: i32| {
                (0..h)
                    .filter(|&y| px(&buf, w, x as u32, y) == [top.0, top.1, top.2])
                    .count()
            };
            let (mid, side) = (count(l.bar_x + 17), count(l.bar_x + 8));
            assert_eq!(mid >= side + 5, extended, "vmax {vmax}: {mid} {side}");
        }
    }
}
