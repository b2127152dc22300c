//! Multi-panel figures: the panels' data and their grid, each panel lettered.

use super::charts::{draw_bars, draw_grouped_bars, draw_histogram, draw_lines, draw_scatter};
use super::colour::SERIES;
use super::legend::{legend_split, side_legend, Swatch};
use super::maps::{draw_map, draw_points};
use super::Share;
use super::{de, Options};
use anyhow::{bail, Result};
use ndarray::Array2;
use plotters::coord::Shift;
use plotters::prelude::*;

/// One panel of a multi-panel figure: the data of one figure kind.
#[derive(Debug, Clone)]
pub enum Panel {
    /// A map: values (lat, lon), cell centres, land fraction (cells below `min_landfrac`
    /// are not drawn).
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

/// The value range of a panel that [`Share`] makes common: a histogram's x, a line plot's
/// y, a scatter plot's x and y (None for other kinds).
fn shared_values(panel: &Panel) -> Option<Vec<f64>> {
    match panel {
        Panel::Histogram {
            values, markers, ..
        } => Some(
            values
                .iter()
                .copied()
                .chain(markers.iter().map(|m| m.0))
                .collect(),
        ),
        Panel::Lines { series, .. } => {
            Some(series.iter().flat_map(|(_, s)| s.iter().copied()).collect())
        }
        Panel::Scatter { x, y } => Some(x.iter().chain(y).copied().collect()),
        _ => None,
    }
}

/// The panels' options with `vmin`/`vmax` set where `share` makes ranges common (a panel's
/// own limits win).
fn shared_options(panels: &[(Panel, Options)], cols: usize, share: Share) -> Vec<Options> {
    let mut out: Vec<Options> = panels.iter().map(|(_, o)| o.clone()).collect();
    if share == Share::None {
        return out;
    }
    let group = |k: usize| if share == Share::Rows { k / cols } else { 0 };
    let mut ranges: std::collections::BTreeMap<usize, (f64, f64)> = Default::default();
    for (k, (p, _)) in panels.iter().enumerate() {
        if let Some(v) = shared_values(p) {
            let r = ranges
                .entry(group(k))
                .or_insert((f64::INFINITY, f64::NEG_INFINITY));
            for x in v.into_iter().filter(|x| x.is_finite()) {
                *r = (r.0.min(x), r.1.max(x));
            }
        }
    }
    for (k, ((p, _), o)) in panels.iter().zip(out.iter_mut()).enumerate() {
        if let (Some(_), Some(&(lo, hi))) = (shared_values(p), ranges.get(&group(k))) {
            if lo < hi {
                let pad = if matches!(p, Panel::Histogram { .. }) {
                    0.03 * (hi - lo)
                } else {
                    0.0
                };
                o.vmin = o.vmin.or(Some(lo - pad));
                o.vmax = o.vmax.or(Some(hi + pad));
            }
        }
    }
    out
}

/// What a figure records of one panel: its letter, title and, for a map, the colour range
/// it is drawn with ("(a) kmax: colour 0 to 3.6 gC m-2 d-1"), for lines the y axis's label.
fn panel_record(letter: char, panel: &Panel, o: &Options) -> String {
    let colour = |values: &mut dyn Iterator<Item = f64>| {
        let diverging = o.cmap.as_deref() == Some("RdBu_r");
        let (lo, hi) = super::range(values, o, diverging);
        format!(": colour {lo} to {hi} {}", super::unit_text(&o.units))
    };
    let range = match panel {
        Panel::Map { values, land, .. } => {
            colour(&mut super::map_values(values, land.as_ref(), o).into_iter())
        }
        Panel::Points { values, .. } => colour(&mut values.iter().copied()),
        // a line panel's y axis: what a reader needs to know of it (log10 or not, units)
        Panel::Lines { .. } if !o.ylabel.is_empty() => format!(": y {}", o.ylabel),
        _ => String::new(),
    };
    format!("({letter}) {}{}", o.title, range.trim_end())
}

/// The legend the line panels share, when there are at least two and all name the same
/// series: one legend for the figure in place of one over each panel's lines.
fn shared_legend(panels: &[(Panel, Options)]) -> Option<Vec<String>> {
    let mut names: Option<Vec<String>> = None;
    let mut n = 0;
    for (p, _) in panels {
        if let Panel::Lines { series, .. } = p {
            let these: Vec<String> = series.iter().map(|(l, _)| l.clone()).collect();
            match &names {
                None => names = Some(these),
                Some(ns) if *ns != these => return None,
                _ => {}
            }
            n += 1;
        }
    }
    names.filter(|ns| n >= 2 && ns.iter().any(|l| !l.is_empty()))
}

/// Panels in a grid of `cols` columns, each labelled (a), (b), ... at its top left, under an
/// overall title; `opts.share` makes value ranges common. Line panels that name the same
/// series share one legend, in an empty cell of the grid or beside it, never over a line.
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
        area.titled(
            &opts.title,
            (
                "sans-serif",
                super::charts::title_size(&opts.title, area, 26),
            ),
        )
        .map_err(de)?
    };
    let legend = shared_legend(panels);
    let entries: Vec<(String, RGBColor, Swatch)> = legend
        .iter()
        .flatten()
        .enumerate()
        .filter(|(_, l)| !l.is_empty())
        .map(|(k, l)| (l.clone(), SERIES[k % SERIES.len()], Swatch::Line))
        .collect();
    // the shared legend: in the first empty cell, else in a strip beside the grid
    let empty_cell = panels.len() < rows * cols && legend.is_some();
    let (area, strip) = if legend.is_some() && !empty_cell {
        legend_split(&area, &entries)
    } else {
        (area, None)
    };
    let cells = area.split_evenly((rows, cols));
    let own = shared_options(panels, cols, opts.share);
    for (k, (((panel, _), o), cell)) in panels.iter().zip(&own).zip(&cells).enumerate() {
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
            Panel::Lines { x, series } if legend.is_some() => {
                // the figure's legend names them
                let quiet: Vec<(String, Vec<f64>)> = series
                    .iter()
                    .map(|(_, s)| (String::new(), s.clone()))
                    .collect();
                draw_lines(&body, x, &quiet, o)?
            }
            Panel::Lines { x, series } => draw_lines(&body, x, series, o)?,
            Panel::Bars { labels, values } => draw_bars(&body, labels, values, o)?,
            Panel::GroupedBars { categories, series } => {
                draw_grouped_bars(&body, categories, series, o)?
            }
        }
        let letter = char::from(b'a' + (k % 26) as u8);
        super::record("Panel", panel_record(letter, panel, o));
        top.draw(&Text::new(
            format!("({letter})"),
            (8, 2),
            ("sans-serif", 20).into_font().style(FontStyle::Bold),
        ))
        .map_err(de)?;
    }
    if legend.is_some() {
        if empty_cell {
            let cell = &cells[panels.len()];
            let (_, h) = cell.dim_in_pixel();
            side_legend(cell, &entries, cell.get_base_pixel().1 + (h as i32) / 3)?;
        } else if let Some(strip) = strip {
            side_legend(&strip, &entries, strip.get_base_pixel().1 + 40)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::plot::colour::SERIES;
    use crate::plot::test_support::{render, render_err};
    use crate::plot::{draw_pairs, fonts};

    #[test]
    fn many_points_in_a_pair_plot_are_shaded_by_density_not_piled_into_one_patch() {
        use crate::plot::charts::{pair_counts, DENSITY_FROM};
        // a correlated cloud of 20,000 points (an MCMC chain's size): with dots, the panel
        // below the diagonal was one solid colour; now shades tell the dense centre apart
        let n = 20_000;
        let pts = ndarray::Array2::from_shape_fn((n, 2), |(i, c)| {
            let a = ((i as f64 + 0.5) / n as f64 * 6.0 - 3.0).tanh() * 0.3 + 0.5;
            let wiggle = ((i * 7919 % 1000) as f64 / 1000.0 - 0.5) * 0.2;
            if c == 0 {
                a
            } else {
                a + wiggle
            }
        });
        assert!(n > DENSITY_FROM);
        let names = vec!["a".to_string(), "b".to_string()];
        let buf = render(600, 600, |a| {
            draw_pairs(a, &pts, &names, &Options::default())
        });
        // the share of the panel's inked pixels in its most common colour: with dots the
        // pile-up's one saturated colour took most of it
        let mut shades = std::collections::BTreeMap::new();
        for y in 320..580u32 {
            for x in 60..290u32 {
                let k = ((y * 600 + x) * 3) as usize;
                let p = [buf[k], buf[k + 1], buf[k + 2]];
                if p != [255, 255, 255] && p != [0, 0, 0] {
                    *shades.entry(p).or_insert(0usize) += 1;
                }
            }
        }
        let inked: usize = shades.values().sum();
        let top = shades.values().copied().max().unwrap_or(0);
        let share = top as f64 / inked.max(1) as f64;
        // measured: 0.130 of 17,621 pixels shaded by density; 0.889 of 16,805 with the dots
        assert!(
            share < 0.4,
            "{share:.3} of the panel's {inked} inked pixels are one colour: overplotted"
        );
        // the counts: every point in exactly one cell, the total kept
        let counts = pair_counts(&pts, 0, 1, (0.0, 1.0), (0.0, 1.0), 30);
        assert_eq!(counts.iter().sum::<usize>(), n);
        let mut with_nan = pts.clone();
        with_nan[(0, 0)] = f64::NAN;
        let c2 = pair_counts(&with_nan, 0, 1, (0.0, 1.0), (0.0, 1.0), 30);
        assert_eq!(c2.iter().sum::<usize>(), n - 1);
    }

    #[test]
    fn a_marked_point_is_drawn_in_red_where_it_lies() {
        use crate::plot::charts::MARK;
        use crate::plot::draw_pairs_marked;
        use crate::plot::test_support::bbox;
        let pts = ndarray::Array2::from_shape_fn((1000, 2), |(i, c)| {
            ((i * (c + 3) * 7919) % 1000) as f64 / 1000.0
        });
        let names = vec!["a".to_string(), "b".to_string()];
        let o = Options {
            vmin: Some(0.0),
            vmax: Some(1.0),
            ..Options::default()
        };
        let plain = render(600, 600, |a| draw_pairs(a, &pts, &names, &o));
        assert!(bbox(&plain, 600, MARK).is_none(), "no red without a mark");
        let buf = render(600, 600, |a| {
            draw_pairs_marked(a, &pts, &names, Some(&[0.25, 0.75]), &o)
        });
        // the lower-left panel (x = a, y = b): the cross in its left half and upper half
        let (x0, y0, x1, y1) = bbox(&buf, 600, MARK).expect("red drawn");
        assert!(x0 < 200 && y1 > 300, "{:?}", (x0, y0, x1, y1));
        let mut in_panel = 0;
        for y in 300..600u32 {
            for x in 0..300u32 {
                if crate::plot::test_support::px(&buf, 600, x, y) == [MARK.0, MARK.1, MARK.2] {
                    assert!(
                        x < 170 && y < 470,
                        "the cross at ({x}, {y}) is not near (0.25, 0.75)"
                    );
                    in_panel += 1;
                }
            }
        }
        assert!(in_panel > 10, "{in_panel} red pixels in the pair panel");
        assert!(render_err(|a| draw_pairs_marked(
            a,
            &pts,
            &names,
            Some(&[0.5]),
            &o
        )));
        // Fig. 9: the default run beside the optimum, a black cross where it lies
        // (x = 0.75, y = 0.25: the right, lower part of the lower-left panel)
        let both = render(600, 600, |a| {
            crate::plot::draw_pairs_marks(
                a,
                &pts,
                &names,
                &[(&[0.75, 0.25], BLACK), (&[0.25, 0.75], MARK)],
                &o,
            )
        });
        let black = |b: &[u8]| {
            (430..560u32)
                .flat_map(|y| (150..300u32).map(move |x| (x, y)))
                .filter(|&(x, y)| crate::plot::test_support::px(b, 600, x, y) == [0, 0, 0])
                .count()
        };
        assert!(
            black(&both) > black(&buf) + 10,
            "{} vs {}",
            black(&both),
            black(&buf)
        );
        assert_eq!(
            bbox(&both, 600, MARK),
            bbox(&buf, 600, MARK),
            "the optimum as before"
        );
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
            // (the scatter panel, three points and its legend beside, inks the least: ~5,000)
            assert!(n > 4000, "panel ({qx}, {qy}) has {n} inked pixels");
        }
    }

    /// Issue 32 defect 8 (Fig. S10): panels that share their range per row; defect 5: line
    /// panels share one legend in the grid's empty cell, none over a panel's lines.
    #[test]
    fn shared_ranges_and_one_legend_for_line_panels() {
        let hist = |v: Vec<f64>| Panel::Histogram {
            values: v,
            bins: 10,
            markers: vec![],
        };
        let panels = vec![
            (hist(vec![0.0, 1.0]), Options::default()),
            (hist(vec![-3.0, 0.5]), Options::default()),
            (hist(vec![10.0, 11.0]), Options::default()),
            (hist(vec![10.5, 20.0]), Options::default()),
        ];
        let rows = shared_options(&panels, 2, Share::Rows);
        // row 1: -3..1, row 2: 10..20, each padded by 3 %
        assert_eq!(rows[0].vmin, rows[1].vmin);
        assert_eq!(rows[0].vmax, rows[1].vmax);
        assert!((rows[0].vmin.unwrap() - (-3.0 - 0.12)).abs() < 1e-12);
        assert!((rows[2].vmax.unwrap() - (20.0 + 0.3)).abs() < 1e-12);
        assert_ne!(rows[0].vmin, rows[2].vmin);
        let all = shared_options(&panels, 2, Share::All);
        assert!(all
            .iter()
            .all(|o| o.vmin == all[0].vmin && o.vmax == all[0].vmax));
        let none = shared_options(&panels, 2, Share::None);
        assert!(none.iter().all(|o| o.vmin.is_none()));
        // five line panels naming the same series in a 3 x 2 grid: one legend, in cell six
        let x: Vec<f64> = (1..=12).map(f64::from).collect();
        let line = |k: f64| Panel::Lines {
            x: x.clone(),
            series: vec![
                ("observations".into(), vec![k; 12]),
                ("default".into(), vec![k + 1.0; 12]),
            ],
        };
        let lines: Vec<(Panel, Options)> = (0..5)
            .map(|k| (line(k as f64), Options::default()))
            .collect();
        assert_eq!(
            shared_legend(&lines),
            Some(vec!["observations".to_string(), "default".to_string()])
        );
        let (w, h) = (1500u32, 900u32);
        let buf = render(w, h, |a| draw_panels(a, &lines, 3, &Options::default()));
        // the legend's swatches: blue pixels in the sixth cell (x > 1000, y > 450), and
        // nowhere else outside the five panels' plots... the sixth cell holds only them
        let blue = [SERIES[0].0, SERIES[0].1, SERIES[0].2];
        let in_cell6 = (450..h)
            .flat_map(|y| (1000..w).map(move |x| (x, y)))
            .filter(|&(x, y)| crate::plot::test_support::px(&buf, w, x, y) == blue)
            .count();
        assert!(in_cell6 > 20 && in_cell6 < 400, "{in_cell6}");
        // different series: no shared legend
        let mut mixed = lines.clone();
        mixed[1].0 = Panel::Lines {
            x: x.clone(),
            series: vec![("other".into(), vec![0.0; 12])],
        };
        assert_eq!(shared_legend(&mixed), None);
    }

    /// Issue 32 defect 2: a figure records each map panel's colour range, so a test can tell
    /// that six maps share one scale (the script gives them one vmin and vmax).
    #[test]
    fn panel_records_name_the_colour_range() {
        let (lat, lon) = crate::plot::test_support::small_grid();
        let map = |k: f64| Panel::Map {
            values: Array2::from_shape_fn((10, 20), |(i, j)| k * (i + j) as f64 / 28.0),
            lat: lat.clone(),
            lon: lon.clone(),
            land: None,
        };
        let own = Options {
            title: "kmax".into(),
            units: "gC m-2 d-1".into(),
            ..Options::default()
        };
        assert_eq!(
            panel_record('a', &map(2.0), &own),
            "(a) kmax: colour 0 to 2 gC m-2 d-1"
        );
        let shared = Options {
            vmin: Some(0.0),
            vmax: Some(3.6),
            ..own.clone()
        };
        assert_eq!(
            panel_record('b', &map(0.5), &shared),
            "(b) kmax: colour 0 to 3.6 gC m-2 d-1"
        );
        let hist = Panel::Histogram {
            values: vec![1.0],
            bins: 2,
            markers: vec![],
        };
        assert_eq!(panel_record('c', &hist, &own), "(c) kmax");
    }
}
