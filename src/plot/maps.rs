//! Maps: cells of a lat/lon grid or points of a 1-D grid on an ocean background and Natural
//! Earth's land, with its coastline, ticks in degrees, region boxes and a colour bar.

use super::axes::{degree_text, lat_ticks, lon_ticks, range};
use super::coast;
use super::colour::{aligned, bar_label, color, colour_bar, MISSING, OCEAN};
use super::panels::Panel;
use super::{de, Options};
use anyhow::{bail, Result};
use ndarray::Array2;
use plotters::coord::Shift;
use plotters::prelude::*;

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

/// A map of `values` (lat x lon) on cell centres `lat`, `lon`: the ocean light blue
/// ([`OCEAN`]), Natural Earth's 1:110m land light grey ([`MISSING`]: land without data), the
/// cells with values filled over them (not those of land fraction in `land` below
/// `opts.min_landfrac` or outside `opts.mask`), Natural Earth's coastline, ticks every 30
/// degrees as room allows, region boxes (`opts.regions`) named beside them where the name
/// covers the least data, and a colour bar as high as the map labelled with [`bar_label`],
/// with a triangle at an end beyond which some values lie (`opts.vmin`, `opts.vmax`).
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
/// ocean, land, coastline, ticks, regions and colour bar as [`draw_map`].
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

/// A rectangle in pixels: (left, top, right, bottom), right and bottom excluded.
type PxRect = (i32, i32, i32, i32);

/// The pixels two rectangles share.
fn overlap(a: PxRect, b: PxRect) -> i64 {
    let w = (a.2.min(b.2) - a.0.max(b.0)).max(0) as i64;
    let h = (a.3.min(b.3) - a.1.max(b.1)).max(0) as i64;
    w * h
}

/// Where the name of a region box goes: of the rectangles of size `w` x `h` just outside
/// `bx` (above, below, left, right: pixels), the first of those inside the plot `plot` that
/// covers no name already placed, then no other region's box (`others`: its outline or
/// inside it), then the least of the data's `footprint` (rectangles of the cells or dots
/// that have values).
fn label_place(
    bx: PxRect,
    (w, h): (i32, i32),
    plot: PxRect,
    footprint: &[PxRect],
    placed: &[PxRect],
    others: &[PxRect],
) -> PxRect {
    let gap = 4;
    let cy = (bx.1 + bx.3) / 2;
    let candidates = [
        (bx.0, bx.1 - gap - h, bx.0 + w, bx.1 - gap),
        (bx.0, bx.3 + gap, bx.0 + w, bx.3 + gap + h),
        (bx.0 - gap - w, cy - h / 2, bx.0 - gap, cy - h / 2 + h),
        (bx.2 + gap, cy - h / 2, bx.2 + gap + w, cy - h / 2 + h),
    ];
    let inside = |r: PxRect| r.0 >= plot.0 && r.1 >= plot.1 && r.2 <= plot.2 && r.3 <= plot.3;
    candidates
        .into_iter()
        .enumerate()
        .min_by_key(|&(k, r)| {
            let covered: i64 = footprint.iter().map(|&f| overlap(r, f)).sum();
            let crowded = placed.iter().any(|&p| overlap(r, p) > 0);
            // a box's outline is 2 px wide and may be drawn 1 px outside its rectangle
            let on_box = others
                .iter()
                .any(|&o| overlap(r, (o.0 - 2, o.1 - 2, o.2 + 2, o.3 + 2)) > 0);
            (!inside(r), crowded, on_box, covered, k)
        })
        .map(|(_, r)| r)
        .unwrap_or(candidates[0])
}

/// The frame, ticks, ocean, land, content, coastline, regions and colour bar of
/// [`draw_map`] and [`draw_points`].
fn draw_geo<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    geo: Geo,
    opts: &Options,
) -> Result<()> {
    let cmap = opts.cmap.clone().unwrap_or_else(|| "viridis".into());
    let diverging = cmap == "RdBu_r";
    let (lo, hi) = range(geo.values(), opts, diverging);
    let geo_empty = geo.values().all(|v| !v.is_finite());
    // values beyond the colour range (set by vmin, vmax) are drawn in the end colours
    let extend = (geo.values().any(|v| v < lo), geo.values().any(|v| v > hi));
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
    let (bx, by) = main.get_base_pixel();
    let at = |x: f64, y: f64| {
        let (px, py) = chart.backend_coord(&(x, y));
        (px - bx, py - by)
    };
    {
        use plotters::style::text_anchor::{HPos, Pos, VPos};
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
    // the ocean, Natural Earth's land (grey: land without data) and its lakes
    let pa = chart.plotting_area();
    let rings = coast::rings()?;
    pa.draw(&Rectangle::new(
        [(-180.0, -90.0), (180.0, 90.0)],
        OCEAN.filled(),
    ))
    .map_err(de)?;
    for hole in [false, true] {
        let fill = if hole { OCEAN } else { MISSING };
        for r in rings.iter().filter(|r| r.hole == hole) {
            pa.draw(&Polygon::new(r.points.clone(), fill.filled()))
                .map_err(de)?;
        }
    }
    let coastline = || -> Result<()> {
        for l in rings.iter().flat_map(coast::coast_lines) {
            pa.draw(&PathElement::new(l, BLACK.stroke_width(1)))
                .map_err(de)?;
        }
        Ok(())
    };
    let shift = |x: f64| (x + 180.0).rem_euclid(360.0) - 180.0;
    // where the data are, in pixels: region names keep off them
    let mut footprint: Vec<PxRect> = Vec::new();
    match geo {
        Geo::Cells { values, lat, lon } => {
            let (ny, nx) = values.dim();
            let dlon = 360.0 / nx as f64;
            let dlat = (lat[ny - 1] - lat[0]).abs() / (ny - 1) as f64;
            for ((i, j), &v) in values.indexed_iter().filter(|(_, v)| v.is_finite()) {
                let (x, y) = (shift(lon[j]), lat[i]);
                let (s, n) = ((y - dlat / 2.0).max(-90.0), (y + dlat / 2.0).min(90.0));
                let c = color(&cmap, (v - lo) / (hi - lo));
                // a cell across 180 degrees (the one centred there) is drawn at both edges
                for k in [-360.0, 0.0, 360.0] {
                    let (w, e) = (
                        (x + k - dlon / 2.0).max(-180.0),
                        (x + k + dlon / 2.0).min(180.0),
                    );
                    if e > w {
                        pa.draw(&Rectangle::new([(w, s), (e, n)], c.filled()))
                            .map_err(de)?;
                        let ((x0, y0), (x1, y1)) = (at(w, n), at(e, s));
                        footprint.push((x0 + bx, y0 + by, x1 + bx, y1 + by));
                    }
                }
            }
            coastline()?;
        }
        Geo::Points { values, lat, lon } => {
            coastline()?;
            let r = 4;
            for k in 0..values.len() {
                let c = if values[k].is_finite() {
                    color(&cmap, (values[k] - lo) / (hi - lo))
                } else {
                    MISSING
                };
                pa.draw(&Circle::new((shift(lon[k]), lat[k]), r, c.filled()))
                    .map_err(de)?;
            }
            for k in 0..values.len() {
                let dot = (shift(lon[k]), lat[k]);
                pa.draw(&Circle::new(dot, r, BLACK.mix(0.6).stroke_width(1)))
                    .map_err(de)?;
            }
            for k in (0..values.len()).filter(|&k| values[k].is_finite()) {
                let (x, y) = at(shift(lon[k]), lat[k]);
                let (x, y) = (x + bx, y + by);
                footprint.push((x - r, y - r, x + r + 1, y + r + 1));
            }
        }
    }
    let plot_px = (cols.start, rows.start, cols.end, rows.end);
    // every outline first, then the names, each beside its box and off the other boxes
    let mut boxes: Vec<PxRect> = Vec::new();
    for r in &opts.regions {
        let (a, b) = (shift(r.lon_min), shift(r.lon_max));
        // a box across the map's edge at 180 degrees is drawn in two parts
        let spans = if a <= b {
            vec![(a, b)]
        } else {
            vec![(a, 180.0), (-180.0, b)]
        };
        for (k, &(x0, x1)) in spans.iter().enumerate() {
            pa.draw(&Rectangle::new(
                [(x0, r.lat_min), (x1, r.lat_max)],
                BLACK.stroke_width(2),
            ))
            .map_err(de)?;
            // the name goes beside the first part
            if k == 0 {
                let ((l, t), (rt, bt)) = (at(x0, r.lat_max), at(x1, r.lat_min));
                boxes.push((l + bx, t + by, rt + bx, bt + by));
            }
        }
    }
    let mut placed: Vec<PxRect> = Vec::new();
    for (i, r) in opts.regions.iter().enumerate() {
        // the name where it covers the least data, on a white patch that keeps it readable
        // over any colour
        let font = ("sans-serif", 14).into_font();
        let tw = font
            .box_size(&r.name)
            .map(|(w, _)| w as i32)
            .unwrap_or(r.name.chars().count() as i32 * 8)
            + 4;
        let others: Vec<PxRect> = (0..boxes.len())
            .filter(|&j| j != i)
            .map(|j| boxes[j])
            .collect();
        let p = label_place(boxes[i], (tw, 18), plot_px, &footprint, &placed, &others);
        placed.push(p);
        let (px0, py0) = (p.0 - bx, p.1 - by);
        main.draw(&Rectangle::new(
            [(px0, py0), (p.2 - bx - 1, p.3 - by - 1)],
            WHITE.mix(0.85).filled(),
        ))
        .map_err(de)?;
        main.draw(&Text::new(
            r.name.clone(),
            (px0 + 2, py0 + 2),
            font.color(&BLACK),
        ))
        .map_err(de)?;
    }
    colour_bar(
        &bar,
        lo,
        hi,
        &cmap,
        &bar_label(opts),
        aligned(bar.get_base_pixel().1, bar.dim_in_pixel().1, &rows),
        extend,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plot::test_support::{px, render, small_grid};

    const fn rgb(c: RGBColor) -> [u8; 3] {
        [c.0, c.1, c.2]
    }

    /// The plot area (x0, y0, x1, y1, inclusive) of a `w` x `h` map: where a map without
    /// data shows ocean or land.
    fn plot_box(w: u32, h: u32) -> (u32, u32, u32, u32) {
        let (lat, lon) = small_grid();
        let nan = Array2::from_elem((10, 20), f64::NAN);
        let buf = render(w, h, |a| {
            draw_map(a, &nan, &lat, &lon, None, &Options::default())
        });
        let mut b = (u32::MAX, u32::MAX, 0, 0);
        for (k, p) in buf.chunks(3).enumerate() {
            if p == rgb(OCEAN) || p == rgb(MISSING) {
                let (x, y) = (k as u32 % w, k as u32 / w);
                b = (b.0.min(x), b.1.min(y), b.2.max(x), b.3.max(y));
            }
        }
        b
    }

    /// The pixel of (lon, lat) in a plot area.
    fn at((x0, y0, x1, y1): (u32, u32, u32, u32), lon: f64, lat: f64) -> (u32, u32) {
        (
            x0 + ((lon + 180.0) / 360.0 * (x1 - x0) as f64).round() as u32,
            y0 + ((90.0 - lat) / 180.0 * (y1 - y0) as f64).round() as u32,
        )
    }

    /// The black pixels inside a plot area (the coastline; region boxes and their names if
    /// any), as (x, y).
    fn black_inside(buf: &[u8], w: u32, (x0, y0, x1, y1): (u32, u32, u32, u32)) -> Vec<(u32, u32)> {
        (y0 + 2..y1 - 1)
            .flat_map(|y| (x0 + 2..x1 - 1).map(move |x| (x, y)))
            .filter(|&(x, y)| px(buf, w, x, y) == [0, 0, 0])
            .collect()
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
        let ink = buf
            .chunks(3)
            .filter(|p| p != &[255, 255, 255] && p != &rgb(MISSING) && p != &rgb(OCEAN))
            .count() as f64
            / (1000.0 * 560.0);
        assert!(ink > 0.2 && ink < 0.7, "{ink}");
        // a pixel in the middle of the Sahara (about 22N, 15E) is coloured, one in the
        // central Pacific (10S, 150W) is ocean
        let b = plot_box(1000, 560);
        let (x, y) = at(b, 15.0, 22.0);
        let sahara = px(&buf, 1000, x, y);
        assert!(
            ![[255, 255, 255], rgb(MISSING), rgb(OCEAN)].contains(&sahara),
            "Sahara is coloured: {sahara:?}"
        );
        let (x, y) = at(b, -150.0, -10.0);
        assert_eq!(px(&buf, 1000, x, y), rgb(OCEAN), "the Pacific is ocean");
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
    fn ocean_and_land_without_data_differ_and_every_map_has_the_same_coastline() {
        // an Array on a grid that is not the 4x5 one, no land fraction: a block of NaN cells
        // shows the ocean light blue and the land light grey; a zero cell is white
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
        let b = plot_box(w, h);
        let (x0, y0, x1, y1) = b;
        assert!(x1 - x0 > 700 && y1 - y0 > 400, "plot area {b:?}");
        let buf = render(w, h, |a| draw_map(a, &v, &lat, &lon, None, &o));
        // the NaN block (lat -36..36, lon 90..216): the central Pacific at 5N 170W is
        // ocean, central Australia (25S 135E) and Indochina (15N 103E) are land
        let (x, y) = at(b, -170.0, 5.0);
        assert_eq!(px(&buf, w, x, y), rgb(OCEAN), "Pacific");
        let (x, y) = at(b, 135.0, -25.0);
        assert_eq!(px(&buf, w, x, y), rgb(MISSING), "Australia");
        let (x, y) = at(b, 103.0, 15.0);
        assert_eq!(px(&buf, w, x, y), rgb(MISSING), "Indochina");
        // cell (8, 2): lat 63, lon 45 is zero
        let (x, y) = at(b, 45.0, 63.0);
        assert_eq!(
            px(&buf, w, x, y),
            [247, 247, 247],
            "zero is white, not grey"
        );
        // the coastline (black) is Natural Earth's on every map: the same pixels on this
        // grid as on the 4x5 grid, with or without its land fraction
        let coast = black_inside(&buf, w, b);
        assert!(coast.len() > 1500, "{} coastline pixels", coast.len());
        let g = crate::grids::f45().unwrap();
        let lf = crate::grids::landfrac_4x5().unwrap();
        let ones = Array2::from_elem((46, 72), 1.0);
        for land in [None, Some(&lf)] {
            let buf = render(w, h, |a| draw_map(a, &ones, &g.lat, &g.lon, land, &o));
            assert_eq!(black_inside(&buf, w, b), coast, "land {}", land.is_some());
        }
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
    fn the_coastline_is_not_the_edge_of_the_cells() {
        // the old coastline was the edge of the 4x5 land mask: every pixel on a column or
        // row between cells. Natural Earth's crosses the cells anywhere.
        let g = crate::grids::f45().unwrap();
        let lf = crate::grids::landfrac_4x5().unwrap();
        let (w, h) = (2000, 1120);
        let b = plot_box(w, h);
        let (x0, y0, x1, y1) = b;
        let o = Options::default();
        let ones = Array2::from_elem((46, 72), 1.0);
        let buf = render(w, h, |a| draw_map(a, &ones, &g.lat, &g.lon, Some(&lf), &o));
        let coast = black_inside(&buf, w, b);
        assert!(coast.len() > 3000, "{} coastline pixels", coast.len());
        let full = render(w, h, |a| draw_map(a, &ones, &g.lat, &g.lon, None, &o));
        // cell edges: longitudes -177.5 + 5 k, latitudes -88 + 4 k
        let px_x = |lon: f64| x0 as f64 + (lon + 180.0) / 360.0 * (x1 - x0) as f64;
        let px_y = |lat: f64| y0 as f64 + (90.0 - lat) / 180.0 * (y1 - y0) as f64;
        let edge_x: Vec<f64> = (0..72).map(|k| px_x(-177.5 + 5.0 * k as f64)).collect();
        let edge_y: Vec<f64> = (0..45).map(|k| px_y(-88.0 + 4.0 * k as f64)).collect();
        let near = |e: &[f64], v: u32| e.iter().any(|&e| (v as f64 - e).abs() <= 1.0);
        let on_edge = coast
            .iter()
            .filter(|&&(x, y)| near(&edge_x, x) || near(&edge_y, y))
            .count() as f64
            / coast.len() as f64;
        // columns and rows within a pixel of an edge are about a fifth of a 24 x 23 pixel cell
        assert!(on_edge < 0.3, "{on_edge} of the coastline on cell edges");

        // where there are no data: the Sahara (22N 15E) and Antarctica (85S 0E) are land,
        // the central Pacific (10S 150W) ocean; with data, Antarctica is coloured like the
        // rest; without data south of 60S, grey again
        let colour = color("viridis", 0.5);
        let nan = Array2::from_elem((46, 72), f64::NAN);
        let no_south =
            Array2::from_shape_fn(
                (46, 72),
                |(i, _)| {
                    if g.lat[i] < -60.0 {
                        f64::NAN
                    } else {
                        1.0
                    }
                },
            );
        let empty = render(w, h, |a| draw_map(a, &nan, &g.lat, &g.lon, None, &o));
        let south = render(w, h, |a| draw_map(a, &no_south, &g.lat, &g.lon, None, &o));
        let p = |buf: &[u8], lon: f64, lat: f64| {
            let (x, y) = at(b, lon, lat);
            px(buf, w, x, y)
        };
        assert_eq!(p(&empty, 15.0, 22.0), rgb(MISSING), "Sahara");
        assert_eq!(p(&empty, -150.0, -10.0), rgb(OCEAN), "Pacific");
        assert_eq!(
            p(&empty, 0.0, -85.0),
            rgb(MISSING),
            "Antarctica without data"
        );
        assert_eq!(p(&buf, 0.0, -85.0), rgb(colour), "Antarctica with data");
        assert_eq!(p(&buf, 15.0, 22.0), rgb(colour), "Sahara with data");
        assert_eq!(
            p(&south, 0.0, -85.0),
            rgb(MISSING),
            "Antarctica without data"
        );
        assert_eq!(p(&south, 15.0, 22.0), rgb(colour), "Sahara with data");
        // the cell centred on 180 degrees reaches both edges of the map
        assert_eq!(p(&full, 179.5, 0.0), rgb(colour), "179.5E");
        assert_eq!(p(&full, -179.5, 0.0), rgb(colour), "179.5W");
    }

    #[test]
    fn region_names_go_beside_their_boxes_where_there_are_no_data() {
        let g = crate::grids::f45().unwrap();
        let (w, h) = (1000, 560);
        let b = plot_box(w, h);
        let region = crate::field::Region {
            name: "Region box".into(),
            lat_min: 10.0,
            lat_max: 30.0,
            lon_min: 0.0,
            lon_max: 40.0,
        };
        let (l, t) = at(b, 0.0, 30.0);
        let (r, bt) = at(b, 40.0, 10.0);
        let colour = rgb(color("viridis", 0.5));
        // data (one colour) everywhere but south of the box, east of it, or nowhere
        let lon180 = |j: usize| (g.lon[j] + 180.0).rem_euclid(360.0) - 180.0;
        let empty = |side: &str, i: usize, j: usize| match side {
            "below" => g.lat[i] <= 10.0 && (-30.0..70.0).contains(&lon180(j)),
            "right" => (40.0..90.0).contains(&lon180(j)) && g.lat[i].abs() < 50.0,
            _ => false,
        };
        for side in ["below", "right", "above"] {
            let v = Array2::from_shape_fn(
                (46, 72),
                |(i, j)| {
                    if empty(side, i, j) {
                        f64::NAN
                    } else {
                        1.0
                    }
                },
            );
            let plain = render(w, h, |a| {
                draw_map(a, &v, &g.lat, &g.lon, None, &Options::default())
            });
            let o = Options {
                regions: vec![region.clone()],
                ..Options::default()
            };
            let boxed = render(w, h, |a| draw_map(a, &v, &g.lat, &g.lon, None, &o));
            assert_eq!(px(&plain, w, (l + r) / 2, (t + bt) / 2), colour);
            // what the region adds outside its outline is its name on a white patch
            let label: Vec<(u32, u32)> = (0..h)
                .flat_map(|y| (0..w).map(move |x| (x, y)))
                .filter(|&(x, y)| px(&plain, w, x, y) != px(&boxed, w, x, y))
                .filter(|&(x, y)| x + 3 < l || x > r + 3 || y + 3 < t || y > bt + 3)
                .collect();
            assert!(
                label.len() > 500,
                "{side}: {} pixels of the name",
                label.len()
            );
            let beside = |&(x, y): &(u32, u32)| match side {
                "below" => y > bt && x + 3 >= l && x <= r,
                "right" => x > r && y + 3 >= t && y <= bt + 3,
                _ => y < t && x + 3 >= l && x <= r,
            };
            assert!(
                label.iter().all(beside),
                "{side}: name at {:?}..{:?}, box {l},{t}..{r},{bt}",
                label.first(),
                label.last()
            );
            if side != "above" {
                let covered = label
                    .iter()
                    .filter(|&&(x, y)| px(&plain, w, x, y) == colour);
                assert_eq!(covered.count(), 0, "{side}: the name covers data");
            }
        }
    }

    #[test]
    fn a_region_name_goes_off_the_other_boxes() {
        // box A at 100..200 x 100..150 with box B right above it (60..96): above A would
        // cross B's outline and below covers data, so the name goes left of A
        let a = (100, 100, 200, 150);
        let b = (100, 60, 200, 96);
        let plot = (0, 0, 1000, 500);
        let data_below = [(100, 150, 200, 200)];
        let p = label_place(a, (60, 18), plot, &data_below, &[], &[b]);
        assert_eq!(p, (36, 116, 96, 134), "left of A");
        // without B, above A (no data there)
        assert_eq!(
            label_place(a, (60, 18), plot, &data_below, &[], &[]),
            (100, 78, 160, 96)
        );
        // inside another box is as bad as on its outline: boxes over the spots above, below
        // and left of A, so the name goes right
        let big = (0, 70, 400, 98);
        let below = (0, 152, 400, 300);
        let left = (20, 110, 96, 140);
        assert_eq!(
            label_place(a, (60, 18), plot, &[], &[], &[big, below, left]),
            (204, 116, 264, 134)
        );
        // a name already placed still comes first
        let taken = (204, 116, 264, 134);
        let p = label_place(a, (60, 18), plot, &[], &[taken], &[big, below, left]);
        assert_ne!(p, taken);
    }

    #[test]
    fn colour_bars_have_triangles_where_values_pass_their_ends() {
        // values 0..28 on the small grid; the bar's body is 22 pixels wide at x 886..908 of
        // a 1000 pixel wide map: a triangle's column at the middle of the bar is much longer
        // than one near its side
        let (lat, lon) = small_grid();
        let v = Array2::from_shape_fn((10, 20), |(i, j)| (i + j) as f64);
        let (w, h) = (1000, 560);
        let (_, y0, _, y1) = plot_box(w, h);
        let (top, bottom) = (rgb(color("viridis", 1.0)), rgb(color("viridis", 0.0)));
        let rows = |buf: &[u8], x: u32, c: [u8; 3]| -> Vec<u32> {
            (0..h).filter(|&y| px(buf, w, x, y) == c).collect()
        };
        for (vmin, vmax, below, above) in [
            (None, None, false, false),
            (None, Some(10.0), false, true),
            (Some(5.0), Some(10.0), true, true),
            (Some(-5.0), Some(40.0), false, false),
        ] {
            let o = Options {
                vmin,
                vmax,
                ..Options::default()
            };
            let buf = render(w, h, |a| draw_map(a, &v, &lat, &lon, None, &o));
            for (c, extended, end) in [(top, above, "top"), (bottom, below, "bottom")] {
                let (mid, side) = (rows(&buf, 897, c), rows(&buf, 888, c));
                let what = format!("{end} of {vmin:?}..{vmax:?}: rows {mid:?}, {side:?}");
                if extended {
                    assert!(mid.len() >= 8 && mid.len() >= side.len() + 5, "{what}");
                    // at the end of the bar's span, beyond its body
                    let near = |y: &u32| {
                        if end == "top" {
                            *y <= y0 + 24
                        } else {
                            *y + 24 >= y1
                        }
                    };
                    assert!(mid.iter().all(near), "{what}");
                } else {
                    assert!(mid.len() <= side.len() + 1, "{what}");
                }
            }
        }
    }

    #[test]
    fn a_map_of_points_has_ocean_land_coastline_and_triangles() {
        // three points inland, one missing, one beyond vmax
        let lat = [22.0, 62.0, -25.0, 45.0];
        let lon = [15.0, 100.0, 135.0, 275.0];
        let values = [1.0, 2.0, 5.0, f64::NAN];
        let o = Options {
            vmax: Some(4.0),
            ..Options::default()
        };
        let (w, h) = (1000, 560);
        let b = plot_box(w, h);
        let buf = render(w, h, |a| draw_points(a, &values, &lat, &lon, None, &o));
        let p = |lon: f64, lat: f64| {
            let (x, y) = at(b, lon, lat);
            px(&buf, w, x, y)
        };
        assert_eq!(p(15.0, 22.0), rgb(color("viridis", 0.0)), "the first point");
        assert_eq!(p(-85.0, 45.0), rgb(MISSING), "the missing point");
        assert_eq!(p(135.0, -25.0), rgb(color("viridis", 1.0)), "beyond vmax");
        assert_eq!(p(-150.0, -10.0), rgb(OCEAN), "Pacific");
        assert_eq!(p(-60.0, -10.0), rgb(MISSING), "Amazon, no point");
        // the same coastline as a map of cells, but where the dots cover it
        let (clat, clon) = small_grid();
        let ones = Array2::from_elem((10, 20), 1.0);
        let cells = render(w, h, |a| draw_map(a, &ones, &clat, &clon, None, &o));
        let (pc, cc) = (black_inside(&buf, w, b), black_inside(&cells, w, b));
        let extra: Vec<_> = pc.iter().filter(|q| !cc.contains(q)).collect();
        assert!(
            extra.is_empty() && pc.len() + 30 > cc.len(),
            "{} of {} black pixels, {extra:?} not coastline",
            pc.len(),
            cc.len()
        );
        // the top of the bar is a triangle
        let mid = (0..h).filter(|&y| px(&buf, w, 897, y) == rgb(color("viridis", 1.0)));
        assert!(mid.count() >= 8);
    }

    #[test]
    fn cells_of_little_land_or_outside_the_mask_are_not_drawn() {
        let (lat, lon) = small_grid();
        let mut land = Array2::from_elem((10, 20), 1.0);
        land[[6, 0]] = 0.0009;
        let mut v = Array2::from_shape_fn((10, 20), |(i, j)| (i + j) as f64 / 28.0);
        v[[6, 0]] = 100.0;
        let o = Options::default();
        let shown = map_values(&v, Some(&land), &o);
        assert!(shown[[6, 0]].is_nan());
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
        // drawn: the cell at lat 27, lon 9 (6, 0), in the Sahara, shows the land without
        // data; its neighbour at lon 27 is coloured
        let (w, h) = (1000, 560);
        let buf = render(w, h, |a| draw_map(a, &v, &lat, &lon, Some(&land), &o));
        let b = plot_box(w, h);
        let (x, y) = at(b, 9.0, 27.0);
        assert_eq!(px(&buf, w, x, y), rgb(MISSING));
        let (x, y) = at(b, 27.0, 27.0);
        assert_eq!(px(&buf, w, x, y), rgb(color("viridis", 7.0 / 28.0)));
    }
}
