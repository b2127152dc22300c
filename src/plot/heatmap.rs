//! Heat maps: labelled matrices with their colours, layout and colour bar.

use super::axes::range;
use super::colour::{aligned, bar_label, color, colour_bar, MISSING};
use super::{de, fonts, Options};
use anyhow::{bail, Result};
use ndarray::Array2;
use plotters::coord::Shift;
use plotters::prelude::*;

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
        (m.iter().any(|&v| v < lo), m.iter().any(|&v| v > hi)),
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plot::colour::VIRIDIS;
    use crate::plot::test_support::{inked, px, render, render_err};

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
}
