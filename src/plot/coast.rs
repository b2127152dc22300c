//! The coastline of global maps: Natural Earth 1:110m land (version 4.1.0, public domain),
//! shipped as closed lon/lat rings in `data/ne_110m_land.txt` (see `data/README.md` for how
//! it was made), parsed once.

use anyhow::{anyhow, bail, Result};
use std::sync::OnceLock;

const NE_110M_LAND: &str = include_str!("../../data/ne_110m_land.txt");

/// A closed ring of the land: its points (lon, lat) in degrees, lon in -180..180, the first
/// point not repeated at the end. A hole is water inside land (the Caspian Sea).
#[derive(Debug)]
pub(super) struct Ring {
    pub hole: bool,
    pub points: Vec<(f64, f64)>,
}

fn parse(text: &str) -> Result<Vec<Ring>> {
    let mut rings: Vec<Ring> = Vec::new();
    let mut left = 0usize;
    for (k, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        let mut words = line.split_whitespace();
        let (a, b) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
        let bad = || anyhow!("data/ne_110m_land.txt line {}: {line:?}", k + 1);
        if left == 0 {
            let hole = match a {
                "land" => false,
                "hole" => true,
                _ => return Err(bad()),
            };
            left = b.parse().map_err(|_| bad())?;
            if left < 3 {
                return Err(bad());
            }
            rings.push(Ring {
                hole,
                points: Vec::with_capacity(left),
            });
        } else {
            let lon: f64 = a.parse().map_err(|_| bad())?;
            let lat: f64 = b.parse().map_err(|_| bad())?;
            if !(-180.0..=180.0).contains(&lon) || !(-90.0..=90.0).contains(&lat) {
                return Err(bad());
            }
            rings.last_mut().ok_or_else(bad)?.points.push((lon, lat));
            left -= 1;
        }
    }
    if left != 0 || rings.is_empty() {
        bail!("data/ne_110m_land.txt ends inside a ring");
    }
    Ok(rings)
}

/// The rings of Natural Earth's 1:110m land, parsed once.
pub(super) fn rings() -> Result<&'static [Ring]> {
    static RINGS: OnceLock<std::result::Result<Vec<Ring>, String>> = OnceLock::new();
    RINGS
        .get_or_init(|| parse(NE_110M_LAND).map_err(|e| e.to_string()))
        .as_deref()
        .map_err(|e| anyhow!("{e}"))
}

/// Whether the edge from `p` to `q` is the map's edge (180E or W, where rings across 180
/// degrees were cut; 90S, where Antarctica was closed), not coastline.
fn map_edge(p: (f64, f64), q: (f64, f64)) -> bool {
    let at = |a: f64, b: f64| (a - b).abs() < 1e-6;
    (at(p.0, q.0) && at(p.0.abs(), 180.0)) || (at(p.1, -90.0) && at(q.1, -90.0))
}

/// The coastline of a ring as open lines: the ring's edges but those on the map's edge.
pub(super) fn coast_lines(ring: &Ring) -> Vec<Vec<(f64, f64)>> {
    let pts = &ring.points;
    let n = pts.len();
    // start after an edge of the map's edge, if any, so no line is split at the ring's start
    let start = (0..n)
        .find(|&k| map_edge(pts[k], pts[(k + 1) % n]))
        .map_or(0, |k| k + 1);
    let mut lines = Vec::new();
    let mut cur = vec![pts[start % n]];
    for k in 0..n {
        let (p, q) = (pts[(start + k) % n], pts[(start + k + 1) % n]);
        if map_edge(p, q) {
            if cur.len() > 1 {
                lines.push(std::mem::take(&mut cur));
            }
            cur = vec![q];
        } else {
            cur.push(q);
        }
    }
    if cur.len() > 1 {
        lines.push(cur);
    }
    lines
}

/// Whether (lon, lat) is on Natural Earth's land (inside an odd number of rings, holes
/// included).
#[cfg(test)]
pub(super) fn is_land(lon: f64, lat: f64) -> bool {
    let mut inside = false;
    for r in rings().unwrap() {
        let p = &r.points;
        for k in 0..p.len() {
            let (a, b) = (p[k], p[(k + 1) % p.len()]);
            if (a.1 > lat) != (b.1 > lat) && lon < a.0 + (lat - a.1) / (b.1 - a.1) * (b.0 - a.0) {
                inside = !inside;
            }
        }
    }
    inside
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_coastline_is_natural_earths_land() {
        let rings = rings().unwrap();
        assert_eq!(rings.len(), 128);
        assert_eq!(rings.iter().filter(|r| r.hole).count(), 1);
        // known places
        assert!(is_land(15.0, 22.0), "Sahara");
        assert!(is_land(-60.0, -10.0), "Amazon");
        assert!(is_land(100.0, 62.0), "Siberia");
        assert!(is_land(0.0, -85.0), "Antarctica");
        assert!(is_land(0.0, -89.9), "the South Pole");
        assert!(
            is_land(179.0, 67.0) && is_land(-179.0, 67.0),
            "Chukotka, both sides"
        );
        assert!(!is_land(-150.0, -10.0), "central Pacific");
        assert!(!is_land(-40.0, 30.0), "North Atlantic");
        assert!(!is_land(51.0, 42.0), "the Caspian Sea, a hole");
        assert!(!is_land(0.0, 89.0), "the Arctic Ocean");
        // the land's area on the sphere (sum over edges of dlon * mean sin(lat)): Earth is
        // about 29 % land
        let mut land = 0.0;
        for r in rings {
            let p = &r.points;
            let a: f64 = (0..p.len())
                .map(|k| {
                    let (a, b) = (p[k], p[(k + 1) % p.len()]);
                    (b.0 - a.0) * (a.1.to_radians().sin() + b.1.to_radians().sin()) / 2.0
                })
                .sum();
            land += if r.hole { -a.abs() } else { a.abs() };
        }
        let share = land.to_radians() / (4.0 * std::f64::consts::PI);
        assert!((share - 0.29).abs() < 0.01, "{share}");
        // it agrees with the 4x5 land fraction (from another source, GLOBE) in the cells that
        // are all land or all water
        let g = crate::grids::f45().unwrap();
        let lf = crate::grids::landfrac_4x5().unwrap();
        let (mut same, mut all) = (0, 0);
        for ((i, j), &f) in lf.indexed_iter() {
            if f == 0.0 || f == 1.0 {
                let lon = (g.lon[j] + 180.0).rem_euclid(360.0) - 180.0;
                all += 1;
                same += (is_land(lon, g.lat[i].clamp(-89.9, 89.9)) == (f == 1.0)) as usize;
            }
        }
        assert!(same as f64 > 0.97 * all as f64, "{same} of {all}");
    }

    #[test]
    fn coast_lines_leave_out_the_map_edge() {
        // a ring cut at 180E: three edges of coastline in one line
        let r = Ring {
            hole: false,
            points: vec![(170.0, 60.0), (180.0, 60.0), (180.0, 70.0), (170.0, 70.0)],
        };
        assert_eq!(
            coast_lines(&r),
            vec![vec![
                (180.0, 70.0),
                (170.0, 70.0),
                (170.0, 60.0),
                (180.0, 60.0)
            ]]
        );
        // a ring around the South Pole closed along 90S: its northern edges only
        let r = Ring {
            hole: false,
            points: vec![
                (-180.0, -70.0),
                (0.0, -65.0),
                (180.0, -70.0),
                (180.0, -90.0),
                (-180.0, -90.0),
            ],
        };
        assert_eq!(
            coast_lines(&r),
            vec![vec![(-180.0, -70.0), (0.0, -65.0), (180.0, -70.0)]]
        );
        // Antarctica's line does not run along 90S, Chukotka's not along 180
        let rings = rings().unwrap();
        for r in rings {
            for l in coast_lines(r) {
                for w in l.windows(2) {
                    assert!(!map_edge(w[0], w[1]));
                }
            }
        }
        let n: usize = rings.iter().map(|r| r.points.len()).sum();
        let m: usize = rings
            .iter()
            .flat_map(coast_lines)
            .map(|l| l.len() - 1)
            .sum();
        assert!(m < n && m > n - 20, "{m} coastline edges of {n}");
    }
}
