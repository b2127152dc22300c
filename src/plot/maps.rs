//! Maps: cells of a lat/lon grid or points of a 1-D grid, with coastlines, ticks in degrees,
//! region boxes and a colour bar.

use super::axes::{degree_text, lat_ticks, lon_ticks, range};
use super::colour::{aligned, bar_label, color, colour_bar, MISSING};
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plot::test_support::{bbox, px, render, small_grid};

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
}
