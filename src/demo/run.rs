//! Running the demo model in a case folder, as CIME runs CLM: settings from `env_case.xml`
//! and `env_run.xml`, parameters from `user_nl_clm` and the params file it names, monthly
//! history files into the short-term archive (`DOUT_S_ROOT/lnd/hist`), and a `CaseStatus`
//! line on success or failure.

use super::climate::{self, YearAnomaly};
use super::model::{self, Cell, Monthly, State};
use super::params::{self, Params, NOTICE};
use crate::archive::HistVar;
pub use crate::cime::{case_seed, CaseSetup};
use anyhow::{bail, Context, Result};
use rayon::prelude::*;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Writes `env_case.xml` and `env_run.xml` of a demo case (the `user_nl_clm` is the caller's:
/// the ensemble machinery writes it as it would for CLM).
pub fn write_case_settings(casedir: &Path, s: &CaseSetup) -> Result<()> {
    crate::cime::write_case_settings(casedir, s, "clmtune demo model (not CLM)")
}

/// The demo model as the `local` backend of an ensemble runs it: its case settings and a run
/// in this process (give it with `Ensemble::with_local_model`).
pub const LOCAL_MODEL: crate::ensemble::LocalModel = crate::ensemble::LocalModel {
    name: "demo model",
    write_case: write_case_settings,
    run_case: run_for_ensemble,
};

/// [`run_case`] as [`LOCAL_MODEL`] reports it: history files written and seconds taken.
fn run_for_ensemble(casedir: &Path) -> Result<(usize, f64)> {
    run_case(casedir).map(|s| (s.files.len(), s.seconds))
}

/// Reads the settings of a case folder.
pub fn read_case_settings(casedir: &Path) -> Result<CaseSetup> {
    let mut env = params::read_env_xml(&casedir.join("env_case.xml"))?;
    env.extend(params::read_env_xml(&casedir.join("env_run.xml"))?);
    let get = |k: &str| -> Result<&String> {
        env.get(k).with_context(|| {
            format!(
                "{}: no {k} in env_case.xml or env_run.xml",
                casedir.display()
            )
        })
    };
    let int = |k: &str| -> Result<i64> {
        let v = get(k)?;
        v.trim().parse().with_context(|| {
            format!(
                "{}: {k} = '{v}' is not a whole number",
                casedir.display(),
                v = crate::format::printable(v)
            )
        })
    };
    let start = get("RUN_STARTDATE")?;
    let start_year: i64 = start
        .split('-')
        .next()
        .and_then(|y| y.parse().ok())
        .filter(|&y| y >= 1)
        .with_context(|| {
            format!(
                "{}: RUN_STARTDATE '{start}' is not YYYY-MM-DD",
                casedir.display(),
                start = crate::format::printable(start)
            )
        })?;
    if !start.ends_with("-01-01") {
        bail!(
            "{}: the demo model starts on January 1st; RUN_STARTDATE is '{start}'",
            casedir.display(),
            start = crate::format::printable(start)
        );
    }
    let opt = get("STOP_OPTION")?;
    if opt != "nyears" {
        bail!(
            "{}: the demo model runs whole years (STOP_OPTION = nyears), not '{opt}'",
            casedir.display(),
            opt = crate::format::printable(opt)
        );
    }
    let stop_years = int("STOP_N")?;
    if !(1..=500).contains(&stop_years) {
        bail!(
            "{}: STOP_N = {stop_years} is out of range 1..500",
            casedir.display()
        );
    }
    // CTSM 5.x cases (CDEPS) have DATM_YR_*, older ones (MCT) DATM_CLMNCEP_YR_*
    let prefix = if env.contains_key("DATM_YR_START") {
        "DATM_YR"
    } else {
        "DATM_CLMNCEP_YR"
    };
    let datm = (
        int(&format!("{prefix}_START"))?,
        int(&format!("{prefix}_END"))?,
    );
    if datm.1 < datm.0 {
        bail!(
            "{}: {prefix}_END {} is before {prefix}_START {}",
            casedir.display(),
            datm.1,
            datm.0
        );
    }
    let archive = get("DOUT_S_ROOT")?;
    if archive.contains('$') {
        bail!(
            "{}: DOUT_S_ROOT = '{archive}' in env_run.xml holds a CIME variable or $ENV{{...}}, \
             which the demo model does not expand: set it to a path with ./xmlchange",
            casedir.display(),
            archive = crate::format::printable(archive)
        );
    }
    Ok(CaseSetup {
        case: get("CASE")?.clone(),
        archive: PathBuf::from(archive),
        start_year,
        stop_years,
        datm_years: datm,
    })
}

/// The land cells of a grid with their (row, column).
pub type LandCells = Vec<((usize, usize), Cell)>;

/// The land cells of the f45 grid and the grid itself.
pub fn cells() -> Result<(crate::field::Grid, LandCells)> {
    let grid = crate::grids::f45()?;
    let landfrac = crate::grids::landfrac_4x5()?;
    let geo = climate::geography(&landfrac, &grid.lat, &grid.lon);
    let cells = geo.into_iter().map(|(ij, g)| (ij, Cell::new(g))).collect();
    Ok((grid, cells))
}

/// Simulates every land cell through the forcing `years` (one calendar year per simulated
/// year) and returns, per cell, the months from simulated year index `write_from` on.
pub fn simulate(
    cells: &[((usize, usize), Cell)],
    params: &Params,
    years: &[i64],
    write_from: usize,
    seed: u64,
) -> Vec<Vec<Monthly>> {
    simulate_from(cells, params, years, write_from, seed, None)
        .into_iter()
        .map(|(out, _)| out)
        .collect()
}

/// [`simulate`] from the states of a restart (one per cell; cold if `None`), with each
/// cell's state at the end.
pub fn simulate_from(
    cells: &[((usize, usize), Cell)],
    params: &Params,
    years: &[i64],
    write_from: usize,
    seed: u64,
    init: Option<&[State]>,
) -> Vec<(Vec<Monthly>, State)> {
    let mut unique: Vec<i64> = years.to_vec();
    unique.sort_unstable();
    unique.dedup();
    let anomalies: Vec<YearAnomaly> = unique.iter().map(|&y| YearAnomaly::new(y)).collect();
    let seq: Vec<&YearAnomaly> = years
        .iter()
        .map(|y| &anomalies[unique.binary_search(y).unwrap_or(0)])
        .collect();
    let rp = model::run_params(params);
    cells
        .par_iter()
        .enumerate()
        .map(|(k, (_, cell))| {
            let s = seed ^ (k as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
            let start = init.and_then(|i| i.get(k)).cloned();
            model::run_cell_from(cell, &rp, &seq, write_from, s, start)
        })
        .collect()
}

/// The names of a restart's state variables: soil water per layer, aquifer, snow.
const RESTART_VARS: [&str; 3] = ["W", "G", "SNOW"];

/// Writes the demo model's restart (each land cell's state) to `path`, as CLM's short-term
/// archiving leaves one in `ARCHIVE/CASE/rest/DATE/`; written beside, then renamed.
pub fn write_restart(path: &Path, case: &str, states: &[State]) -> Result<()> {
    use crate::nc::{Format, Writer};
    let layers = states.first().map_or(4, |s| s.w.len());
    let mut w = Writer::new(Format::Offset64);
    w.dim("column", states.len()).dim("levgrnd", layers);
    w.global("title", "demo model restart")
        .global("case_id", case);
    w.var(
        RESTART_VARS[0],
        &["column", "levgrnd"],
        states.iter().flat_map(|s| s.w).collect::<Vec<f64>>(),
    )
    .attr("units", "mm")
    .attr("long_name", "soil water (liquid + ice) per layer");
    w.var(
        RESTART_VARS[1],
        &["column"],
        states.iter().map(|s| s.g).collect::<Vec<f64>>(),
    )
    .attr("units", "mm")
    .attr("long_name", "aquifer storage");
    w.var(
        RESTART_VARS[2],
        &["column"],
        states.iter().map(|s| s.snow).collect::<Vec<f64>>(),
    )
    .attr("units", "mm")
    .attr("long_name", "snow water");
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    w.save(path)
}

/// Reads a restart written by [`write_restart`] for `n` land cells (`finidat`).
pub fn read_restart(path: &Path, n: usize) -> Result<Vec<State>> {
    let f = crate::nc::open(path).with_context(|| format!("finidat {}", path.display()))?;
    let w = crate::nc::read_f64(&f, path, RESTART_VARS[0])?;
    let g = crate::nc::read_f64(&f, path, RESTART_VARS[1])?;
    let snow = crate::nc::read_f64(&f, path, RESTART_VARS[2])?;
    let layers = model::State::LAYERS;
    if g.len() != n || snow.len() != n || w.len() != n * layers {
        bail!(
            "finidat {}: {} columns, this grid has {n} land cells: a restart of another grid",
            path.display(),
            g.len()
        );
    }
    Ok((0..n)
        .map(|k| State {
            w: std::array::from_fn(|l| w[k * layers + l]),
            g: g[k],
            snow: snow[k],
        })
        .collect())
}

/// The history fields of one month, as (name, units, long_name, levels, value of a cell).
type Getter = fn(&Monthly) -> f64;
const SECONDS_PER_DAY: f64 = 86400.0;
const FIELDS: [(&str, &str, &str, Getter); 26] = [
    ("GPP", "gC/m^2/s", "gross primary production", |m| {
        m.gpp_umol * 12.011e-6
    }),
    ("FPSN", "umol m-2 s-1", "photosynthesis", |m| m.gpp_umol),
    (
        "EFLX_LH_TOT",
        "W/m^2",
        "total latent heat flux [+ to atm]",
        |m| m.lh,
    ),
    (
        "FSH",
        "W/m^2",
        "sensible heat not including correction for land use change and rain/snow conversion",
        |m| m.fsh,
    ),
    ("FSA", "W/m^2", "absorbed solar radiation", |m| m.fsa),
    ("FIRA", "W/m^2", "net infrared (longwave) radiation", |m| {
        m.fira
    }),
    (
        "FGR",
        "W/m^2",
        "heat flux into soil/snow including snow melt",
        |m| m.fgr,
    ),
    (
        "FSDS",
        "W/m^2",
        "atmospheric incident solar radiation",
        |m| m.fsds,
    ),
    ("TSA", "K", "2m air temperature", |m| m.tsa),
    ("QVEGT", "mm/s", "canopy transpiration", |m| {
        m.qvegt / SECONDS_PER_DAY
    }),
    ("QVEGE", "mm/s", "canopy evaporation", |m| {
        m.qvege / SECONDS_PER_DAY
    }),
    (
        "QSOIL",
        "mm/s",
        "Ground evaporation (soil/snow evaporation + soil/snow sublimation - dew)",
        |m| m.qsoil / SECONDS_PER_DAY,
    ),
    (
        "QFLX_EVAP_TOT",
        "mm/s",
        "qflx_evap_soi + qflx_evap_can + qflx_tran_veg",
        |m| (m.qvegt + m.qvege + m.qsoil) / SECONDS_PER_DAY,
    ),
    (
        "RAIN",
        "mm/s",
        "atmospheric rain, after rain/snow repartitioning based on temperature",
        |m| m.rain / SECONDS_PER_DAY,
    ),
    (
        "SNOW",
        "mm/s",
        "atmospheric snow, after rain/snow repartitioning based on temperature",
        |m| m.snow / SECONDS_PER_DAY,
    ),
    ("QOVER", "mm/s", "total surface runoff", |m| {
        m.qover / SECONDS_PER_DAY
    }),
    ("QDRAI", "mm/s", "sub-surface drainage", |m| {
        m.qdrai / SECONDS_PER_DAY
    }),
    (
        "QRUNOFF",
        "mm/s",
        "total liquid runoff not including correction for land use change",
        |m| (m.qover + m.qdrai) / SECONDS_PER_DAY,
    ),
    (
        "SOILWATER_10CM",
        "kg/m2",
        "soil liquid water + ice in top 10cm of soil (veg landunits only)",
        |m| m.soilwater_10cm,
    ),
    (
        "TOTSOILLIQ",
        "kg/m2",
        "vertically summed soil liquid water (veg landunits only)",
        |m| m.totsoilliq,
    ),
    (
        "TOTSOILICE",
        "kg/m2",
        "vertically summed soil ice (veg landunits only)",
        |m| m.totsoilice,
    ),
    (
        "ZWT",
        "m",
        "water table depth (vegetated landunits only)",
        |m| m.zwt,
    ),
    ("TWS", "mm", "total water storage", |m| m.tws),
    ("H2OSNO", "mm", "snow depth (liquid water)", |m| m.h2osno),
    ("TLAI", "m^2/m^2", "total projected leaf area index", |m| {
        m.tlai
    }),
    (
        "FSAT",
        "unitless",
        "fractional area with water table at surface",
        |m| m.fsat,
    ),
];

/// The names of the surface fields the demo model writes by default.
pub fn default_fields() -> Vec<&'static str> {
    FIELDS.iter().map(|f| f.0).collect()
}

/// Writes the monthly history files of `out` (per cell, `12 * years` months from
/// `first_year`) into `hist_dir`; `levsoi` adds SOILLIQ and SOILICE on CLM's 20 levels.
#[allow(clippy::too_many_arguments, clippy::needless_range_loop)]
pub fn write_history(
    hist_dir: &Path,
    case: &str,
    grid: &crate::field::Grid,
    cells: &[((usize, usize), Cell)],
    out: &[Vec<Monthly>],
    first_year: i64,
    levsoi: bool,
    source: &str,
) -> Result<Vec<PathBuf>> {
    let (ny, nx) = (grid.lat.len(), grid.lon.len());
    let nmonths = out.first().map_or(0, |o| o.len());
    let mut written = Vec::new();
    for t in 0..nmonths {
        let year = first_year + (t / 12) as i64;
        let month = (t % 12) as u32 + 1;
        let mut data: Vec<Vec<f64>> = vec![vec![f64::NAN; ny * nx]; FIELDS.len()];
        let nlev = model::LEVSOI_DZ.len();
        let mut liq = vec![f64::NAN; if levsoi { nlev * ny * nx } else { 0 }];
        let mut ice = liq.clone();
        for (k, ((i, j), _)) in cells.iter().enumerate() {
            let mo = &out[k][t];
            for (f, d) in FIELDS.iter().zip(data.iter_mut()) {
                d[i * nx + j] = (f.3)(mo);
            }
            if levsoi {
                for l in 0..nlev {
                    liq[l * ny * nx + i * nx + j] = mo.soilliq[l];
                    ice[l * ny * nx + i * nx + j] = mo.soilice[l];
                }
            }
        }
        let mut vars: Vec<HistVar> = FIELDS
            .iter()
            .zip(&data)
            .map(|(f, d)| HistVar {
                name: f.0,
                units: f.1,
                long_name: f.2,
                levels: None,
                values: d,
            })
            .collect();
        if levsoi {
            vars.push(HistVar {
                name: "SOILLIQ",
                units: "kg/m2",
                long_name: "soil liquid water (natural vegetated and crop landunits only)",
                levels: Some(nlev),
                values: &liq,
            });
            vars.push(HistVar {
                name: "SOILICE",
                units: "kg/m2",
                long_name: "soil ice (natural vegetated and crop landunits only)",
                levels: Some(nlev),
                values: &ice,
            });
        }
        let path = hist_dir.join(format!("{case}.clm2.h0.{year:04}-{month:02}.nc"));
        crate::archive::write_history_month(&path, case, year, month, grid, &vars, source)?;
        written.push(path);
    }
    Ok(written)
}

/// What a finished run reports.
#[derive(Debug, Clone)]
pub struct RunSummary {
    /// Case name.
    pub case: String,
    /// History files written.
    pub files: Vec<PathBuf>,
    /// Seconds spent simulating and writing.
    pub seconds: f64,
}

/// Appends a CIME-style line to `CaseStatus`.
fn case_status(casedir: &Path, text: &str) -> Result<()> {
    let stamp = crate::files::now_utc().replace('T', " ").replace('Z', "");
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(casedir.join("CaseStatus"))
        .with_context(|| format!("cannot write {}", casedir.join("CaseStatus").display()))?;
    writeln!(f, "{stamp}: {text}")?;
    writeln!(f, " ---------------------------------------------------")?;
    Ok(())
}

/// Runs the demo model in `casedir` and records the outcome in its `CaseStatus`
/// (`case.run success` or `case.run error: ...`).
pub fn run_case(casedir: &Path) -> Result<RunSummary> {
    if !casedir.is_dir() {
        bail!("{}: no such case folder", casedir.display());
    }
    case_status(casedir, "case.run starting")?;
    match run_case_inner(casedir) {
        Ok(s) => {
            case_status(casedir, "case.run success")?;
            Ok(s)
        }
        Err(e) => {
            let msg = format!("{e:#}").replace('\n', " ");
            let _ = case_status(casedir, &format!("case.run error: {msg}"));
            Err(e)
        }
    }
}

/// The test hook of failed members: `CLMTUNE_DEMO_FAIL` lists cases whose demo run fails,
/// `CASE` (every run) or `CASE:N` (its first N runs, counted in the case folder's
/// `demo_failures`), comma-separated; e.g. `demo_LHC_17,demo_LHC_42:1`.
pub const FAIL_HOOK: &str = "CLMTUNE_DEMO_FAIL";

/// Fails the run of `case` if [`FAIL_HOOK`] says so.
fn fail_hook(casedir: &Path, case: &str) -> Result<()> {
    let Some(list) = std::env::var_os(FAIL_HOOK) else {
        return Ok(());
    };
    let list = list.to_string_lossy();
    for item in list.split(',').map(str::trim) {
        let (name, times) = match item.split_once(':') {
            Some((n, t)) => (n, t.trim().parse::<u64>().ok()),
            None => (item, None),
        };
        if name != case {
            continue;
        }
        let count = casedir.join("demo_failures");
        let failed: u64 = std::fs::read_to_string(&count)
            .ok()
            .and_then(|t| t.trim().parse().ok())
            .unwrap_or(0);
        if times.is_some_and(|n| failed >= n) {
            return Ok(());
        }
        std::fs::write(&count, format!("{}\n", failed + 1))
            .with_context(|| format!("cannot write {}", count.display()))?;
        bail!(
            "made to fail by {FAIL_HOOK}={} (run {} of case {case})",
            crate::format::printable(&list),
            failed + 1
        );
    }
    Ok(())
}

fn run_case_inner(casedir: &Path) -> Result<RunSummary> {
    let t0 = std::time::Instant::now();
    let setup = read_case_settings(casedir)?;
    fail_hook(casedir, &setup.case)?;
    let nl_path = casedir.join("user_nl_clm");
    let nl = if nl_path.is_file() {
        let text = std::fs::read_to_string(&nl_path)
            .with_context(|| format!("cannot read {}", nl_path.display()))?;
        params::parse_user_nl(&text, &nl_path)?
    } else {
        params::UserNl::default()
    };
    let mut params = match &nl.paramfile {
        Some(p) => {
            let p = if p.is_relative() {
                casedir.join(p)
            } else {
                p.clone()
            };
            params::read_params(&p)?
        }
        None => Params::defaults(),
    };
    for (k, v) in &nl.values {
        if params.from_paramfile.contains(k) {
            bail!(
                "{}: {k} is set here but the params file {} holds {k} (as CLM from c200425 on \
                 does): change it in the params file, or leave it out of user_nl_clm",
                nl_path.display(),
                nl.paramfile
                    .as_deref()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default()
            );
        }
        params.scalar.insert(k.clone(), *v);
    }
    let known = default_fields();
    let mut levsoi = false;
    for f in &nl.hist_fincl1 {
        match f.as_str() {
            "SOILLIQ" | "SOILICE" => levsoi = true,
            other if known.contains(&other) => {}
            other => bail!(
                "{}: hist_fincl1 field '{other}' is not one the demo model writes; {}",
                nl_path.display(),
                crate::nc::nearest_list(
                    other,
                    &known
                        .iter()
                        .map(|s| s.to_string())
                        .chain(["SOILLIQ".into(), "SOILICE".into()])
                        .collect::<Vec<_>>()
                ),
                other = crate::format::printable(other)
            ),
        }
    }
    let last = setup.start_year - 1 + setup.stop_years;
    let n = setup.datm_years.1 - setup.datm_years.0 + 1;
    let (grid, cells) = cells()?;
    // from a restart (finidat) the run simulates its own years; from a cold start it spins
    // up from year 1 and writes its years only
    let (first, init) = match &nl.finidat {
        Some(p) => (setup.start_year, Some(read_restart(p, cells.len())?)),
        None => (1, None),
    };
    let years: Vec<i64> = (first..=last)
        .map(|y| setup.datm_years.0 + (y - 1).rem_euclid(n))
        .collect();
    let (out, states): (Vec<Vec<Monthly>>, Vec<State>) = simulate_from(
        &cells,
        &params,
        &years,
        (setup.start_year - first) as usize,
        case_seed(&setup.case),
        init.as_deref(),
    )
    .into_iter()
    .unzip();
    let hist = setup.archive.join("lnd").join("hist");
    let files = write_history(
        &hist,
        &setup.case,
        &grid,
        &cells,
        &out,
        setup.start_year,
        levsoi,
        NOTICE,
    )?;
    // as CLM leaves its last restart in the archive (rest/YYYY-01-01-00000)
    let date = format!("{:04}-01-01-00000", last + 1);
    write_restart(
        &setup
            .archive
            .join("rest")
            .join(&date)
            .join(format!("{}.clm2.r.{date}.nc", setup.case)),
        &setup.case,
        &states,
    )?;
    Ok(RunSummary {
        case: setup.case,
        files,
        seconds: t0.elapsed().as_secs_f64(),
    })
}
