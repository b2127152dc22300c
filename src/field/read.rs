//! Reading CLM monthly history files into fields: only the variables asked for, file by
//! file; months checked against `time_bounds` (never the end-of-interval `time` stamp); the
//! grid checked across files and members; derived expressions evaluated on the monthly
//! fields before any time averaging.

use super::expr::Expr;
use super::{Field, Grid};
use crate::archive::{Case, HistFile};
use crate::nc;
use anyhow::{bail, Context, Result};
use ndarray::{Array2, ArrayD, Axis, IxDyn};
use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

/// What a derived output is: its name (e.g. `TF`) and expression (`QVEGT / QFLX_EVAP_TOT`).
#[derive(Debug, Clone)]
pub struct Output {
    /// Name of the output.
    pub name: String,
    /// The parsed expression.
    pub expr: Expr,
}

impl Output {
    /// An output from a name and an expression text.
    pub fn new(name: &str, expr: &str) -> Result<Output> {
        Ok(Output {
            name: name.to_string(),
            expr: super::expr::parse(expr).with_context(|| format!("output {name}"))?,
        })
    }
}

/// The grid of a history file: a lat/lon grid when the file has `lat(lat)` and `lon(lon)`
/// coordinates, else a 1-D grid along the dimension of its `area` variable (CLM's
/// `lndgrid`: sparse grid, regional or single point), with `lat` and `lon` per cell.
pub fn grid_of(file: &netcdf::File, path: &Path) -> Result<Grid> {
    let dims1 = |name: &str| -> Option<Vec<String>> {
        file.variable(name)
            .map(|v| v.dimensions().iter().map(|d| d.name()).collect())
    };
    let area_var = nc::variable(file, path, "area")?;
    let area_dims: Vec<String> = area_var.dimensions().iter().map(|d| d.name()).collect();
    let area_units = nc::attr_string(&area_var, "units").unwrap_or_else(|| "km^2".into());
    let (scale, _) = super::units::conversion(&area_units, "m^2")
        .map_err(|e| anyhow::anyhow!("{}: area: {e}", path.display()))?;
    let lat_lon = dims1("lat").as_deref() == Some(&["lat".to_string()][..])
        && dims1("lon").as_deref() == Some(&["lon".to_string()][..]);
    let want: Vec<String> = if lat_lon {
        vec!["lat".into(), "lon".into()]
    } else if area_dims.len() == 1 {
        area_dims.clone()
    } else {
        bail!(
            "{}: neither a lat/lon grid (lat(lat), lon(lon)) nor a 1-D grid (area along one dimension such as lndgrid); area has dimensions ({})",
            path.display(),
            area_dims.join(", ")
        );
    };
    let cell_var = |name: &str| -> Result<Vec<f64>> {
        let v = nc::variable(file, path, name)?;
        let d: Vec<String> = v.dimensions().iter().map(|d| d.name()).collect();
        if d != want {
            bail!(
                "{}: {name} has dimensions ({}); the grid's are ({})",
                path.display(),
                d.join(", "),
                want.join(", ")
            );
        }
        nc::read_f64(file, path, name)
    };
    let area: Vec<f64> = cell_var("area")?.into_iter().map(|a| a * scale).collect();
    let n = area.len();
    let landfrac = match file.variable("landfrac") {
        Some(_) => cell_var("landfrac")?,
        None => vec![1.0; n],
    };
    let landmask = match file.variable("landmask") {
        Some(_) => cell_var("landmask")?
            .into_iter()
            .map(|x| if x.is_nan() { 0.0 } else { x })
            .collect(),
        None => landfrac
            .iter()
            .map(|&f| if f > 0.0 { 1.0 } else { 0.0 })
            .collect(),
    };
    let (lat, lon) = if lat_lon {
        (
            nc::read_f64(file, path, "lat")?,
            nc::read_f64(file, path, "lon")?,
        )
    } else {
        (cell_var("lat")?, cell_var("lon")?)
    };
    let g = if lat_lon {
        let shape = (lat.len(), lon.len());
        let arr = |v: Vec<f64>| Array2::from_shape_vec(shape, v);
        Grid::lat_lon(
            lat,
            lon,
            arr(area).map_err(|_| anyhow::anyhow!("{}: area is not (lat, lon)", path.display()))?,
            arr(landfrac)?,
            arr(landmask)?,
        )
    } else {
        Grid::cells(
            &want[0],
            lat,
            lon,
            area.into(),
            landfrac.into(),
            landmask.into(),
        )
    };
    g.with_context(|| format!("{}", path.display()))
}

/// Layout of one variable in a history file: the level dimension (if any) and the sizes
/// after `time`.
struct VarLayout {
    level: Option<String>,
    shape: Vec<usize>,
    units: String,
    long_name: String,
}

fn layout(file: &netcdf::File, path: &Path, name: &str, grid: &Grid) -> Result<VarLayout> {
    let v = nc::variable(file, path, name)?;
    let dims: Vec<String> = v.dimensions().iter().map(|d| d.name()).collect();
    let lens: Vec<usize> = v.dimensions().iter().map(|d| d.len()).collect();
    let gd = grid.dims();
    let ng = gd.len();
    let ok = dims.len() > ng
        && dims.len() <= ng + 2
        && dims[0] == "time"
        && dims[dims.len() - ng..] == gd[..]
        && lens[dims.len() - ng..] == grid.spatial_shape()[..];
    if !ok {
        bail!(
            "{}: variable {name} has dimensions ({}) of sizes {:?}; expected (time, [level,] {})",
            path.display(),
            dims.join(", "),
            lens,
            gd.join(", ")
        );
    }
    Ok(VarLayout {
        level: (dims.len() == ng + 2).then(|| dims[1].clone()),
        shape: lens[1..].to_vec(),
        units: nc::attr_string(&v, "units").unwrap_or_default(),
        long_name: nc::attr_string(&v, "long_name").unwrap_or_default(),
    })
}

/// Reads `count` consecutive time samples from `first` of a variable into `buf` (resized;
/// one buffer reused for every read of a case keeps large reads from mapping fresh pages),
/// fill values as NaN.
fn read_samples(
    file: &netcdf::File,
    path: &Path,
    name: &str,
    (first, count): (usize, usize),
    shape: &[usize],
    buf: &mut Vec<f64>,
) -> Result<()> {
    let v = nc::variable(file, path, name)?;
    let ext: Vec<std::ops::Range<usize>> = std::iter::once(first..first + count)
        .chain(shape.iter().map(|&n| 0..n))
        .collect();
    buf.resize(count * shape.iter().product::<usize>(), 0.0);
    v.get_values_into::<f64, _>(buf, ext)
        .with_context(|| format!("{}: cannot read variable {name}", path.display()))?;
    blank_fills(buf, &nc::fill_values(&v));
    Ok(())
}

/// Sets the values that are fill values ([`nc::is_fill`]) to NaN, in a loop the compiler
/// can vectorise (this runs over every value read).
fn blank_fills(vals: &mut [f64], fills: &[f64]) {
    for &f in fills {
        if f.is_finite() && f != 0.0 {
            let tol = 1e-6 * f.abs();
            for x in vals.iter_mut() {
                *x = if (*x - f).abs() < tol { f64::NAN } else { *x };
            }
        } else {
            for x in vals.iter_mut() {
                *x = if *x == f { f64::NAN } else { *x };
            }
        }
    }
}

/// Reads `vars` of one case for the months of `years` (every month the files hold when
/// `None`) into fields with dims (time, [level,] lat, lon) or (time, [level,] lndgrid), one
/// step per month. Each sample is placed in a month by its interval (`time_bounds`, see
/// [`crate::archive::samples`]); a month of several samples (daily or sub-daily output) is
/// their mean weighted by interval length, over the samples where a value is defined; a
/// month of one sample is that sample. Every month read must be covered whole by the
/// samples. Errors name the case, file and variable.
pub fn read_files(
    case: &str,
    files: &[HistFile],
    vars: &[String],
    years: Option<(i64, i64)>,
) -> Result<HashMap<String, Field>> {
    read_files_covering(case, files, vars, years, 1.0)
}

/// [`read_files`] accepting months whose samples cover at least `min_coverage` of their
/// time (`[archive] min_coverage`, in (0, 1]): such a month's mean is over the intervals
/// present, weighted by their lengths. A month covered less, or more than whole
/// (overlapping samples), is an error naming the case, the month and its coverage.
pub fn read_files_covering(
    case: &str,
    files: &[HistFile],
    vars: &[String],
    years: Option<(i64, i64)>,
    min_coverage: f64,
) -> Result<HashMap<String, Field>> {
    crate::archive::check_min_coverage(min_coverage).with_context(|| format!("case {case}"))?;
    let first = files
        .first()
        .with_context(|| format!("case {case}: no history files to read"))?;
    let f0 = nc::open(&first.path).with_context(|| format!("case {case}"))?;
    let grid = Arc::new(grid_of(&f0, &first.path).with_context(|| format!("case {case}"))?);
    let layouts: Vec<VarLayout> = vars
        .iter()
        .map(|v| layout(&f0, &first.path, v, &grid).with_context(|| format!("case {case}")))
        .collect::<Result<_>>()?;
    drop(f0);
    let months: Vec<(i64, u32)> = match years {
        Some(y) => crate::archive::expected_months(y),
        None => {
            let mut m: Vec<(i64, u32)> = files.iter().flat_map(|f| f.months.clone()).collect();
            m.sort();
            m.dedup();
            m
        }
    };
    let nt = months.len();
    let sizes: Vec<usize> = layouts.iter().map(|l| l.shape.iter().product()).collect();
    // per variable: the sum of weight * value and of weights, and the samples counted
    let mut sums: Vec<Vec<f64>> = sizes.iter().map(|&n| vec![0.0; nt * n]).collect();
    let mut wsum: Vec<Vec<f64>> = sizes.iter().map(|&n| vec![0.0; nt * n]).collect();
    let mut count = vec![0usize; nt];
    let mut days = vec![0.0f64; nt];
    let mut single: Vec<Option<f64>> = vec![None; nt];
    let mut calendar = None;
    let mut buf = Vec::new();
    // netCDF-4 files are checked for damage in one child process for the whole case, not
    // one per file (classic files are not checked); `nc::open` then finds the verdicts
    let paths: Vec<&std::path::Path> = files.iter().map(|f| f.path.as_path()).collect();
    nc::check_files(&paths).with_context(|| format!("case {case}"))?;
    for hf in files {
        crate::interrupt::check()?;
        let f = nc::open(&hf.path).with_context(|| format!("case {case}"))?;
        let (smp, cal) =
            crate::archive::samples(&f, &hf.path).with_context(|| format!("case {case}"))?;
        calendar.get_or_insert(cal);
        let mut held: Vec<(i64, u32)> = smp.iter().map(|x| x.month).collect();
        held.dedup();
        if hf.months.iter().any(|m| !held.contains(m)) {
            let got: Vec<String> = held.iter().map(|(y, m)| format!("{y:04}-{m:02}")).collect();
            bail!(
                "case {case}: {} is named {} but its time_bounds cover {}",
                hf.path.display(),
                hf.label(),
                got.join(", ")
            );
        }
        // the coordinates only (area and land fraction come from the first file): one read
        // each per file, as the ensemble reader's hot loop needs
        let g = Grid {
            lat: nc::read_f64(&f, &hf.path, "lat")?,
            lon: nc::read_f64(&f, &hf.path, "lon")?,
            ..(*grid).clone()
        };
        if let Some(d) = g.coord_difference(&grid) {
            bail!(
                "case {case}: {} is on a different grid from {} ({d})",
                hf.path.display(),
                first.path.display()
            );
        }
        // runs of consecutive samples of one wanted month: (first, end, month index, the
        // month's only sample so far, the weight of its earlier lone sample)
        let mut runs: Vec<(usize, usize, usize, bool, Option<f64>)> = Vec::new();
        let mut k = 0;
        while k < smp.len() {
            let m = smp[k].month;
            let mut e = k;
            while e < smp.len() && smp[e].month == m {
                e += 1;
            }
            if let Some(t) = months.iter().position(|&x| x == m) {
                // a month of one sample is that sample, bit for bit: its sums hold the
                // sample with weight 1 until another sample of the month comes
                let alone = e - k == 1 && count[t] == 0;
                let was_alone = single[t].take();
                count[t] += e - k;
                days[t] += smp[k..e].iter().map(|s| s.days).sum::<f64>();
                if alone {
                    single[t] = Some(smp[k].days);
                }
                runs.push((k, e, t, alone, was_alone));
            }
            k = e;
        }
        let (Some(lo), Some(hi)) = (runs.first().map(|r| r.0), runs.last().map(|r| r.1)) else {
            continue;
        };
        // one read per variable and file: every wanted sample at once
        for (v, name) in vars.iter().enumerate() {
            let l = &layouts[v];
            read_samples(&f, &hf.path, name, (lo, hi - lo), &l.shape, &mut buf)
                .with_context(|| format!("case {case}"))?;
            let n = sizes[v];
            if buf.len() != n * (hi - lo) {
                bail!(
                    "case {case}: {}: {name} changes shape between files",
                    hf.path.display()
                );
            }
            for &(k, e, t, alone, was_alone) in &runs {
                let vals = &buf[(k - lo) * n..(e - lo) * n];
                let (s, w) = (
                    &mut sums[v][t * n..(t + 1) * n],
                    &mut wsum[v][t * n..(t + 1) * n],
                );
                if let Some(wt0) = was_alone {
                    for (si, wi) in s.iter_mut().zip(w.iter_mut()) {
                        if *wi > 0.0 {
                            *si *= wt0;
                            *wi = wt0;
                        }
                    }
                }
                for (j, chunk) in vals.chunks_exact(n).enumerate() {
                    let wt = if alone { 1.0 } else { smp[k + j].days };
                    // branch-free, so that it vectorises
                    for ((si, wi), &x) in s.iter_mut().zip(w.iter_mut()).zip(chunk) {
                        let defined = !x.is_nan();
                        *si += if defined { wt * x } else { 0.0 };
                        *wi += if defined { wt } else { 0.0 };
                    }
                }
            }
        }
    }
    if let Some(cal) = calendar {
        let short: Vec<String> = months
            .iter()
            .zip(&days)
            .filter_map(|(&(y, m), &d)| {
                let (a, b) = cal.month_span(y, m);
                let c = crate::archive::MonthCover {
                    month: (y, m),
                    covered: d,
                    length: (b - a) as f64,
                    files: Vec::new(),
                    kept: false,
                };
                (!crate::archive::month_counts(d, c.length, min_coverage)).then(|| c.describe())
            })
            .collect();
        if !short.is_empty() {
            let shown: Vec<&str> = short.iter().take(6).map(String::as_str).collect();
            let rule = if min_coverage < 1.0 {
                format!(
                    "covered less than [archive] min_coverage = {min_coverage}, or more than once,"
                )
            } else {
                "not covered whole".to_string()
            };
            bail!(
                "case {case}: {} month(s) {rule} by the samples of its files: {}",
                short.len(),
                shown.join("; ")
            );
        }
    }
    let mut out = HashMap::new();
    for (v, name) in vars.iter().enumerate() {
        let l = &layouts[v];
        let values: Vec<f64> = sums[v]
            .iter()
            .zip(&wsum[v])
            .map(|(&s, &w)| if w > 0.0 { s / w } else { f64::NAN })
            .collect();
        let mut shape = vec![nt];
        shape.extend_from_slice(&l.shape);
        let mut dims = vec!["time".to_string()];
        if let Some(lv) = &l.level {
            dims.push(lv.clone());
        }
        dims.extend(grid.dims());
        let values = ArrayD::from_shape_vec(IxDyn(&shape), values)?;
        out.insert(
            name.clone(),
            Field {
                name: name.clone(),
                units: l.units.clone(),
                long_name: l.long_name.clone(),
                dims,
                values,
                grid: grid.clone(),
                months: months.clone(),
                members: Vec::new(),
            },
        );
    }
    Ok(out)
}

/// Threads reading history files ahead of the netCDF reader.
const PREFETCH_THREADS: usize = 3;
/// How many members ahead of the reader they may be.
const PREFETCH_AHEAD: usize = 6;

/// The files the prefetch threads read, each with its member's index: every selected file
/// of the members the cache of time means does not hold.
fn prefetch_files(
    cases: &[Case],
    outputs: &[Output],
    years: (i64, i64),
    time_mean: bool,
) -> Vec<(usize, std::path::PathBuf)> {
    let dir = super::cache::dir();
    let mut out = Vec::new();
    for (i, c) in cases.iter().enumerate() {
        let Ok(files) = c.select(years) else { continue };
        let cached = time_mean
            && dir.as_ref().is_some_and(|d| {
                super::cache::key(&c.name, &c.hist_dir, &files, years, outputs)
                    .is_some_and(|k| super::cache::exists(d, &c.name, &k))
            });
        if !cached {
            out.extend(files.into_iter().map(|f| (i, f.path)));
        }
    }
    out
}

/// Reads the files of `todo` whole into a scratch buffer (into the page cache), never more
/// than [`PREFETCH_AHEAD`] members ahead of the reader's `progress`, until `stop`.
fn prefetch_worker(
    todo: &[(usize, std::path::PathBuf)],
    next: &AtomicUsize,
    progress: &AtomicUsize,
    stop: &AtomicBool,
) {
    use std::io::Read;
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let k = next.fetch_add(1, Ordering::Relaxed);
        let Some((member, path)) = todo.get(k) else {
            return;
        };
        while *member > progress.load(Ordering::Relaxed) + PREFETCH_AHEAD {
            if stop.load(Ordering::Relaxed) {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
        if stop.load(Ordering::Relaxed) {
            return;
        }
        if *member < progress.load(Ordering::Relaxed) {
            continue; // the reader is past it
        }
        if let Ok(mut f) = std::fs::File::open(path) {
            while matches!(f.read(&mut buf), Ok(n) if n > 0) {}
        }
    }
}

fn needed_vars(outputs: &[Output]) -> Vec<String> {
    let mut vars: Vec<String> = Vec::new();
    for o in outputs {
        for v in o.expr.variables() {
            if !vars.contains(&v) {
                vars.push(v);
            }
        }
    }
    vars
}

/// Reads derived outputs of one case for the simulation years `years` (inclusive): monthly
/// fields with dims (time, [level,] lat, lon), or their time means if `time_mean` (from the
/// cache of time means when it holds them for these very files, see [`super::cache`]).
pub fn read_case(
    case: &Case,
    outputs: &[Output],
    years: (i64, i64),
    time_mean: bool,
) -> Result<Vec<Field>> {
    let files = case.select(years)?;
    if !time_mean {
        return read_selected(case, &files, outputs, years, false);
    }
    let Some(dir) = super::cache::dir() else {
        return read_selected(case, &files, outputs, years, true);
    };
    let Some(key) = super::cache::key(&case.name, &case.hist_dir, &files, years, outputs) else {
        return read_selected(case, &files, outputs, years, true);
    };
    if let Some(fields) = super::cache::load(&dir, &case.name, &key) {
        for f in &files {
            crate::files::mark_input(&f.path);
        }
        return Ok(fields);
    }
    let fields = read_selected(case, &files, outputs, years, true)?;
    // the cache only saves time: a failure to write it is no failure of the read
    let _ = super::cache::store(&dir, &case.name, &key, &fields);
    Ok(fields)
}

/// [`read_case`] of the files selected, without the cache.
fn read_selected(
    case: &Case,
    files: &[HistFile],
    outputs: &[Output],
    years: (i64, i64),
    time_mean: bool,
) -> Result<Vec<Field>> {
    let raw = read_files_covering(
        &case.name,
        files,
        &needed_vars(outputs),
        Some(years),
        case.min_coverage,
    )?;
    outputs
        .iter()
        .map(|o| {
            let f = o
                .expr
                .eval(&raw, &o.name)
                .with_context(|| format!("case {}: output {}", case.name, o.name))?;
            if time_mean {
                f.time_mean()
            } else {
                Ok(f)
            }
        })
        .collect()
}

/// Reads derived outputs of every case of an ensemble, stacked along a leading `member`
/// dimension. Members whose grids differ, or that miss months, are errors naming them.
/// With `time_mean`, each member is averaged as soon as it is read (small memory). Members
/// are read on rayon's threads; after a failure the members not yet started are skipped,
/// and the error is the first in member order among the members read.
pub fn read_ensemble(
    cases: &[Case],
    outputs: &[Output],
    years: (i64, i64),
    time_mean: bool,
) -> Result<Vec<Field>> {
    if cases.is_empty() {
        bail!("an ensemble needs at least one case");
    }
    let _step = crate::progress::step("read history files");
    let pb = crate::progress::bar(cases.len() as u64, "reading members");
    // Members are read on rayon's threads, in parallel: the netCDF C library is not
    // thread-safe and the netcdf crate serialises every call, but much of a member's time is
    // ours (placing samples in months, sums, means, the memory of its monthly fields), and
    // that overlaps with another member's library calls (1,500 members, one 60-month file
    // each: see the README's ensemble_load_1500). From a cold or busy disk the readers wait
    // on many small reads: a few threads read the coming members' files whole, ahead of
    // them, so that their reads find them in the page cache (see `prefetch_files`).
    let prefetch = prefetch_files(cases, outputs, years, time_mean);
    let progress = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let failed = AtomicBool::new(false);
    let next = AtomicUsize::new(0);
    let read = std::thread::scope(|s| -> Vec<Option<Result<Vec<Field>>>> {
        if !prefetch.is_empty() {
            let (next, progress, stop, prefetch) = (&next, &progress, &stop, &prefetch);
            for _ in 0..PREFETCH_THREADS {
                s.spawn(move || prefetch_worker(prefetch, next, progress, stop));
            }
        }
        use rayon::prelude::*;
        let r = cases
            .par_iter()
            .enumerate()
            .map(|(i, c)| {
                // after a failure the members not started are skipped
                if failed.load(Ordering::Relaxed) {
                    return None;
                }
                progress.fetch_max(i, Ordering::Relaxed);
                let fields = read_case(c, outputs, years, time_mean);
                if fields.is_err() {
                    failed.store(true, Ordering::Relaxed);
                }
                pb.inc(1);
                Some(fields)
            })
            .collect();
        stop.store(true, Ordering::Relaxed);
        r
    });
    pb.finish_and_clear();
    let mut per_member: Vec<Vec<Field>> = Vec::with_capacity(cases.len());
    for r in read {
        match r {
            Some(fields) => per_member.push(fields?),
            // a member skipped after a failure: the failure comes later in member order
            None => continue,
        }
    }
    if per_member.len() != cases.len() {
        bail!("reading the ensemble stopped before its last member");
    }
    let grid0 = per_member[0][0].grid.clone();
    for (c, fields) in cases.iter().zip(&per_member) {
        if let Some(d) = fields[0].grid.coord_difference(&grid0) {
            bail!(
                "case {} is on a different grid from case {} ({d})",
                c.name,
                cases[0].name
            );
        }
    }
    let mut out = Vec::new();
    for (k, o) in outputs.iter().enumerate() {
        let first = &per_member[0][k];
        for (c, fields) in cases.iter().zip(&per_member) {
            if fields[k].values.shape() != first.values.shape() {
                bail!(
                    "output {}: case {} has shape {:?}, case {} {:?}",
                    o.name,
                    c.name,
                    fields[k].values.shape(),
                    cases[0].name,
                    first.values.shape()
                );
            }
        }
        let views: Vec<_> = per_member.iter().map(|f| f[k].values.view()).collect();
        let values = ndarray::stack(Axis(0), &views)?;
        let mut dims = vec!["member".to_string()];
        dims.extend(first.dims.iter().cloned());
        out.push(Field {
            name: first.name.clone(),
            units: first.units.clone(),
            long_name: first.long_name.clone(),
            dims,
            values,
            grid: grid0.clone(),
            months: first.months.clone(),
            members: cases.iter().map(|c| c.name.clone()).collect(),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::demo::fixture::{tiny_grid, Archive};

    /// 40 members of one 12-month file each on the tiny grid: member k's GPP in month
    /// index t is k + 0.5 t over land.
    fn ensemble(root: &Path) -> Vec<String> {
        let names: Vec<String> = (1..=40).map(|k| format!("m{k}")).collect();
        let a = Archive::new(root, tiny_grid())
            .var("GPP", "gC/m^2/s", "gpp")
            .one_file();
        for (k, n) in names.iter().enumerate() {
            a.write_case(n, (1, 1), |_, m| {
                tiny_grid()
                    .landfrac
                    .iter()
                    .map(|&f| {
                        if f > 0.0 {
                            (k + 1) as f64 + 0.5 * m.index as f64
                        } else {
                            f64::NAN
                        }
                    })
                    .collect()
            })
            .unwrap();
        }
        names
    }

    #[test]
    fn members_read_in_parallel_come_back_in_member_order() {
        let dir = tempfile::tempdir().unwrap();
        let names = ensemble(dir.path());
        let cases = crate::archive::find_cases(dir.path(), &names).unwrap();
        let out = [Output::new("GPP", "GPP").unwrap()];
        let f = read_ensemble(&cases, &out, (1, 1), true).unwrap().remove(0);
        assert_eq!(f.values.shape(), [40, 2, 3]);
        assert_eq!(f.members, names);
        // the mean of k + 0.5 t over t = 0..11 is k + 2.75; the ocean cell (0, 2) is NaN
        for k in 0..40 {
            assert_eq!(f.values[[k, 1, 1]], (k + 1) as f64 + 2.75);
            assert!(f.values[[k, 0, 2]].is_nan());
        }
    }

    #[test]
    fn a_member_that_fails_to_read_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let names = ensemble(dir.path());
        let cases = crate::archive::find_cases(dir.path(), &names).unwrap();
        // member m23's file becomes unreadable after the archive was scanned
        std::fs::write(&cases[22].files[0].path, b"not netCDF").unwrap();
        let out = [Output::new("GPP", "GPP").unwrap()];
        let e = read_ensemble(&cases, &out, (1, 1), true).unwrap_err();
        let e = format!("{e:#}");
        assert!(
            e.contains("case m23") && e.contains("not a readable netCDF file"),
            "{e}"
        );
    }
}
