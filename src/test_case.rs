//! The CLM test case (Dagon et al. 2020, section 4.4, Figs. 10, 11, S12-S13, Table 2): runs
//! made with calibrated parameters, judged against the observations and the default run.
//!
//! For every variable (the EOF stage's calibration variables, and further variables the
//! calibration did not use, such as sensible heat): the time mean of each run over the
//! analysed years minus the observed mean of the observed years, on the model grid, over
//! the cells where the analysis is defined (the stage's EOF mask; the observations'
//! coverage mask for a further variable), in the paper's units (gC m-2 d-1, W m-2). From
//! these bias maps: Table 2 (land area-weighted mean bias, global and in the four regions),
//! the RMSE against the observations, and the regional monthly climatologies. For the
//! calibration variables: the run's time-mean map projected onto the stage's EOFs exactly as
//! the stage projects the default run, beside the observed, default and emulated PCs.

use crate::archive;
use crate::eof::stage::EofStage;
use crate::field::{obs, read, Field, Grid, Region};
use crate::table::{Column, Table};
use anyhow::{bail, Context, Result};
use ndarray::{ArrayD, Axis};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A variable the test case judges: its name, observed and model variable, and whether the
/// calibration used it (then its PCs are compared too).
#[derive(Debug, Clone, PartialEq)]
pub struct Variable {
    /// Name (e.g. `GPP`, `FSH`).
    pub name: String,
    /// The observed variable in the observation file (e.g. `H`).
    pub obs: String,
    /// The model expression over history variables (e.g. `FSH`).
    pub model: String,
    /// Whether it is one of the EOF stage's calibration variables.
    pub calibrated: bool,
}

/// One run: a label (`default`, `optimized`, ...), its case, and the monthly fields of the
/// analysed years, one per variable in the test case's order, in the model's units.
#[derive(Debug, Clone)]
pub struct Run {
    /// Label used in the files (`optimized`, `posterior_mean`, `plausible_2`).
    pub label: String,
    /// The case name.
    pub case: String,
    /// Monthly fields (time, lat, lon), one per variable.
    pub fields: Vec<Field>,
}

/// The paper's units of a quantity: carbon fluxes in gC m-2 d-1, energy fluxes in W m-2,
/// anything else as it is.
pub fn paper_units(units: &str) -> String {
    match crate::field::units::quantity(units) {
        Some("carbon flux") => "gC m-2 d-1".into(),
        Some("energy flux") => "W m-2".into(),
        _ => units.to_string(),
    }
}

/// The regions of Table 2, the globe first.
pub fn table2_regions() -> Vec<Region> {
    let mut r = vec![Region {
        name: "Global".into(),
        lat_min: -90.0,
        lat_max: 90.0,
        lon_min: 0.0,
        lon_max: 360.0,
    }];
    r.extend(Region::table2());
    r
}

/// The test case's results.
#[derive(Debug, Clone)]
pub struct TestCase {
    /// The variables judged, in order (calibration variables first).
    pub variables: Vec<Variable>,
    /// The paper's units of each variable (bias maps, tables, climatologies).
    pub units: Vec<String>,
    /// The runs' labels, then `default`.
    pub labels: Vec<String>,
    /// The runs' cases, then the default run's.
    pub cases: Vec<String>,
    /// The model grid.
    pub grid: Arc<Grid>,
    /// Bias maps (lat, lon), per variable, per label (in `labels` order): run minus
    /// observed, NaN outside the analysed cells; named `VAR_bias_LABEL`.
    pub bias: Vec<Vec<Field>>,
    /// `pcs.csv`: variable, mode, observed, default, emulated, simulated, run.
    pub pcs: Table,
    /// `bias_table.csv` (Table 2): region, comparison, then one column per variable
    /// (lower-case name).
    pub bias_table: Table,
    /// `climatology.csv`: region, variable, units, source, month, value.
    pub climatology: Table,
    /// `rmse.csv`: variable, units, run, rmse, rmse_area_weighted, cells.
    pub rmse: Table,
    /// `spread.csv`, the posterior predictive check: over the runs labelled `draw_R`
    /// (posterior draws), per simulated PC and per Table 2 bias ([`spread`]); empty
    /// without such runs.
    pub spread: Table,
    /// Notes (a further variable skipped, a region without land).
    pub notes: Vec<String>,
}

/// A (lat, lon) array of a field whose dims are exactly (lat, lon).
/// A map's values (one per cell of its grid, lat/lon or 1-D) in cell order.
fn map2(f: &Field) -> Result<ArrayD<f64>> {
    let (outer, _) = f.cell_rows()?;
    if !outer.is_empty() {
        bail!(
            "field {}: expected one map, not ({})",
            f.name,
            f.dims.join(", ")
        );
    }
    Ok(f.values.clone())
}

fn text(v: Vec<String>) -> Column {
    Column::Text(v)
}

/// Root mean square of the defined values of `b`, unweighted and weighted by `w`, and the
/// number of cells.
fn rms(b: &ArrayD<f64>, w: &ndarray::Array1<f64>) -> (f64, f64, usize) {
    let (mut s, mut n, mut sw, mut sww) = (0.0, 0usize, 0.0, 0.0);
    for (&x, &wi) in b.iter().zip(w) {
        if x.is_finite() {
            s += x * x;
            n += 1;
            if wi > 0.0 {
                sw += wi * x * x;
                sww += wi;
            }
        }
    }
    let r = if n > 0 {
        (s / n as f64).sqrt()
    } else {
        f64::NAN
    };
    let ra = if sww > 0.0 {
        (sw / sww).sqrt()
    } else {
        f64::NAN
    };
    (r, ra, n)
}

impl TestCase {
    /// Reads what the test case needs and judges the runs: each of `runs` (label, case) and
    /// the stage's default run from the stage's archive for its analysed years, and the
    /// observations of its observed years regridded to the model grid, for the stage's
    /// calibration variables and the `further` ones. A further variable whose observed
    /// variable is not in the observation file is skipped with a note. `emulated` holds,
    /// per run, the emulated PCs of each calibration variable (none: NaN in `pcs.csv`).
    pub fn read(
        stage: &EofStage,
        further: &[Variable],
        runs: &[(String, String)],
        emulated: &[BTreeMap<String, Vec<f64>>],
    ) -> Result<TestCase> {
        let s = &stage.settings;
        let mut notes = Vec::new();
        let mut variables: Vec<Variable> = s
            .variables
            .iter()
            .map(|v| Variable {
                name: v.name.clone(),
                obs: v.obs.clone(),
                model: v.model.clone(),
                calibrated: true,
            })
            .collect();
        // further variables come from [observations] file (none when every calibration
        // variable has its own file)
        let file = if s.obs_file.as_os_str().is_empty() {
            None
        } else {
            Some(crate::nc::open(&s.obs_file)?)
        };
        for v in further {
            if variables.iter().any(|x| x.name == v.name) {
                bail!(
                    "[test_case] variable {} is a calibration variable already; name further variables only",
                    v.name
                );
            }
            let Some(file) = &file else {
                notes.push(format!(
                    "{}: there is no [observations] file to read {} from (each calibration variable has its own file), so {} is not judged",
                    v.name, v.obs, v.name
                ));
                continue;
            };
            if file.variable(&v.obs).is_none() {
                notes.push(format!(
                    "{}: the observations ({}) have no {}, so {} is not judged",
                    v.name,
                    s.obs_file.display(),
                    v.obs,
                    v.name
                ));
                continue;
            }
            variables.push(Variable {
                calibrated: false,
                ..v.clone()
            });
        }
        drop(file);
        let outputs: Vec<read::Output> = variables
            .iter()
            .map(|v| read::Output::new(&v.name, &v.model))
            .collect::<Result<_>>()?;
        let read_run = |label: &str, case: &str| -> Result<Run> {
            let c = archive::find_case_covering(&s.archive_root, case, s.archive_min_coverage)?;
            let fields = read::read_case(&c, &outputs, s.years, false)
                .with_context(|| format!("the {label} run {case}"))?;
            Ok(Run {
                label: label.to_string(),
                case: case.to_string(),
                fields,
            })
        };
        let default = read_run("default", &stage.default_case)?;
        let runs: Vec<Run> = runs
            .iter()
            .map(|(l, c)| read_run(l, c))
            .collect::<Result<_>>()?;
        let mut observed = Vec::new();
        for (k, v) in variables.iter().enumerate() {
            let model = &default.fields[k];
            let (path, opts) = match s.variables.iter().find(|x| x.name == v.name) {
                Some(spec) => (s.obs_file_of(spec), &spec.obs_options),
                None => (s.obs_file.as_path(), &s.obs_options),
            };
            let o = obs::read_obs_with(path, &v.obs, Some(s.obs_years), model.grid.clone(), opts)
                .and_then(|o| o.convert(&model.units))
                .with_context(|| {
                    format!(
                        "variable {}: observations {} in {}",
                        v.name,
                        v.obs,
                        path.display()
                    )
                })?;
            observed.push(o);
        }
        let mut tc = TestCase::new(stage, &variables, &observed, &default, &runs, emulated)?;
        notes.append(&mut tc.notes);
        tc.notes = notes;
        Ok(tc)
    }

    /// Judges runs already read: `observed` holds the monthly observations of each variable
    /// (time, lat, lon) on the model grid in the model's units, `default` and `runs` the
    /// monthly fields of each variable, `emulated` the emulated PCs per run.
    pub fn new(
        stage: &EofStage,
        variables: &[Variable],
        observed: &[Field],
        default: &Run,
        runs: &[Run],
        emulated: &[BTreeMap<String, Vec<f64>>],
    ) -> Result<TestCase> {
        if runs.is_empty() {
            bail!("a test case needs at least one run besides the default run");
        }
        if observed.len() != variables.len()
            || std::iter::once(default)
                .chain(runs)
                .any(|r| r.fields.len() != variables.len())
        {
            bail!(
                "a test case of {} variables needs observations and fields of each",
                variables.len()
            );
        }
        if let Some(r) = runs
            .iter()
            .find(|r| r.label == "default" || r.label == "observed")
        {
            bail!(
                "run {}: the labels 'default' and 'observed' are taken",
                r.case
            );
        }
        let s = &stage.settings;
        let sources: Vec<&Run> = runs.iter().chain(std::iter::once(default)).collect();
        let labels: Vec<String> = sources.iter().map(|r| r.label.clone()).collect();
        let grid = default.fields[0].grid.clone();
        let w = grid.weights();
        let regions = table2_regions();
        let mut notes = Vec::new();
        let mut units = Vec::new();
        let mut bias_all = Vec::new();
        // pcs.csv
        let (mut p_var, mut p_mode, mut p_run) = (Vec::new(), Vec::new(), Vec::new());
        let (mut p_obs, mut p_def, mut p_emu, mut p_sim) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        // climatology.csv
        let (mut c_reg, mut c_var, mut c_units, mut c_src, mut c_month, mut c_val) = (
            Vec::new(),
            Vec::new(),
            Vec::new(),
            Vec::new(),
            Vec::new(),
            Vec::new(),
        );
        // rmse.csv
        let (mut r_var, mut r_units, mut r_run, mut r_rmse, mut r_area, mut r_cells) = (
            Vec::new(),
            Vec::new(),
            Vec::new(),
            Vec::new(),
            Vec::new(),
            Vec::new(),
        );
        for (k, v) in variables.iter().enumerate() {
            let ctx = || format!("variable {}", v.name);
            let model_units = default.fields[k].units.clone();
            let pu = paper_units(&model_units);
            let obs_k = observed[k]
                .select_years(s.obs_years.0, s.obs_years.1)
                .with_context(ctx)?;
            let mask = if v.calibrated {
                let m = stage.variable(&v.name)?.eof.mask();
                if m.shape() != grid.spatial_shape() {
                    bail!(
                        "variable {}: the analysis mask is {:?}, the runs' grid {:?}",
                        v.name,
                        m.shape(),
                        grid.spatial_shape()
                    );
                }
                m.iter().copied().collect()
            } else {
                obs::coverage_mask(&obs_k, s.min_coverage).with_context(ctx)?
            };
            let obs_pu = obs::apply_mask(&obs_k.convert(&pu)?, &mask)?;
            let obs_mean = map2(&obs_pu.time_mean()?)?;
            // PCs
            if v.calibrated {
                let vr = stage.variable(&v.name)?;
                let modes = s.modes;
                for (ri, r) in runs.iter().enumerate() {
                    let mean = map2(&r.fields[k].time_mean()?).with_context(ctx)?;
                    let sim = vr.eof.project(&mean.insert_axis(Axis(0)), modes)?;
                    let emu = emulated.get(ri).and_then(|m| m.get(&v.name));
                    if let Some(e) = emu.filter(|e| e.len() != modes) {
                        bail!(
                            "run {}: {} emulated PCs of {} for {modes} modes",
                            r.label,
                            e.len(),
                            v.name
                        );
                    }
                    for m in 0..modes {
                        p_var.push(v.name.clone());
                        p_mode.push((m + 1) as f64);
                        p_obs.push(vr.u_obs[m]);
                        p_def.push(vr.u_default[m]);
                        p_emu.push(emu.map_or(f64::NAN, |e| e[m]));
                        p_sim.push(sim[[0, m]]);
                        p_run.push(r.label.clone());
                    }
                }
            }
            // bias maps, RMSE, climatologies
            let mut maps = Vec::new();
            let clim_obs = obs_pu.climatology()?;
            for reg in &regions {
                let vals = clim_obs.area_mean(Some(reg));
                let vals = match vals {
                    Ok(a) => a.iter().copied().collect::<Vec<f64>>(),
                    Err(_) => vec![f64::NAN; clim_obs.months.len()],
                };
                for (mo, x) in clim_obs.months.iter().zip(vals) {
                    c_reg.push(reg.name.clone());
                    c_var.push(v.name.clone());
                    c_units.push(pu.clone());
                    c_src.push("observed".to_string());
                    c_month.push(mo.1 as f64);
                    c_val.push(x);
                }
            }
            for r in &sources {
                let f = obs::apply_mask(&r.fields[k].convert(&pu)?, &mask)?;
                let mean = map2(&f.time_mean()?)?;
                let b = &mean - &obs_mean;
                let (rm, ra, n) = rms(&b, &w);
                r_var.push(v.name.clone());
                r_units.push(pu.clone());
                r_run.push(r.label.clone());
                r_rmse.push(rm);
                r_area.push(ra);
                r_cells.push(n as f64);
                let mut bf = f.time_mean()?;
                bf.values = b.into_dyn();
                bf.name = format!("{}_bias_{}", v.name, r.label);
                bf.long_name = format!(
                    "{} of the {} run ({}) minus the observed mean",
                    v.name, r.label, r.case
                );
                maps.push(bf);
                let clim = f.climatology()?;
                for reg in &regions {
                    let vals = match clim.area_mean(Some(reg)) {
                        Ok(a) => a.iter().copied().collect::<Vec<f64>>(),
                        Err(_) => vec![f64::NAN; clim.months.len()],
                    };
                    for (mo, x) in clim.months.iter().zip(vals) {
                        c_reg.push(reg.name.clone());
                        c_var.push(v.name.clone());
                        c_units.push(pu.clone());
                        c_src.push(r.label.clone());
                        c_month.push(mo.1 as f64);
                        c_val.push(x);
                    }
                }
            }
            units.push(pu);
            bias_all.push(maps);
        }
        // Table 2
        let (mut t_reg, mut t_cmp) = (Vec::new(), Vec::new());
        let mut t_vals: Vec<Vec<f64>> = vec![Vec::new(); variables.len()];
        for reg in &regions {
            for (li, label) in labels.iter().enumerate() {
                t_reg.push(reg.name.clone());
                t_cmp.push(format!("{label}-obs"));
                for (k, v) in variables.iter().enumerate() {
                    let x = match bias_all[k][li].area_mean(Some(reg)) {
                        Ok(a) => a.iter().next().copied().unwrap_or(f64::NAN),
                        Err(e) => {
                            let n = format!("{}, {}: {e}", reg.name, v.name);
                            if !notes.contains(&n) {
                                notes.push(n);
                            }
                            f64::NAN
                        }
                    };
                    t_vals[k].push(x);
                }
            }
        }
        let mut cols = vec![
            ("region".to_string(), text(t_reg)),
            ("comparison".to_string(), text(t_cmp)),
        ];
        for (v, vals) in variables.iter().zip(t_vals) {
            cols.push((v.name.to_lowercase(), Column::Numbers(vals)));
        }
        let bias_table = Table::from_columns(cols)?;
        let pcs = Table::from_columns(vec![
            ("variable".into(), text(p_var)),
            ("mode".into(), Column::Numbers(p_mode)),
            ("observed".into(), Column::Numbers(p_obs)),
            ("default".into(), Column::Numbers(p_def)),
            ("emulated".into(), Column::Numbers(p_emu)),
            ("simulated".into(), Column::Numbers(p_sim)),
            ("run".into(), text(p_run)),
        ])?;
        let climatology = Table::from_columns(vec![
            ("region".into(), text(c_reg)),
            ("variable".into(), text(c_var)),
            ("units".into(), text(c_units)),
            ("source".into(), text(c_src)),
            ("month".into(), Column::Numbers(c_month)),
            ("value".into(), Column::Numbers(c_val)),
        ])?;
        let rmse = Table::from_columns(vec![
            ("variable".into(), text(r_var)),
            ("units".into(), text(r_units)),
            ("run".into(), text(r_run)),
            ("rmse".into(), Column::Numbers(r_rmse)),
            ("rmse_area_weighted".into(), Column::Numbers(r_area)),
            ("cells".into(), Column::Numbers(r_cells)),
        ])?;
        let spread = spread(&pcs, &bias_table, "draw_")?;
        Ok(TestCase {
            variables: variables.to_vec(),
            units,
            labels,
            cases: sources.iter().map(|r| r.case.clone()).collect(),
            grid,
            bias: bias_all,
            pcs,
            bias_table,
            climatology,
            rmse,
            spread,
            notes,
        })
    }

    /// The RMSE (unweighted over the analysed cells, as the EOF stage's `rmse.csv`) of
    /// variable `v` for run `label`.
    pub fn rmse_of(&self, v: &str, label: &str) -> Option<f64> {
        let vars = self.rmse.column("variable").ok()?;
        let runs = self.rmse.column("run").ok()?;
        let vals = self.rmse.numbers("rmse").ok()?;
        (0..self.rmse.len())
            .find(|&i| {
                vars.value(i) == crate::table::Value::Text(v.into())
                    && runs.value(i) == crate::table::Value::Text(label.into())
            })
            .map(|i| vals[i])
    }

    /// One sentence per run and variable: whether the run is closer to the observations
    /// than the default run, with both RMSEs, e.g. `GPP: the optimized run is closer to the
    /// observations than the default run (RMSE 0.81 against 0.93 gC m-2 d-1)`.
    pub fn verdict(&self) -> Vec<String> {
        let mut out = Vec::new();
        for label in self.labels.iter().filter(|l| *l != "default") {
            for (v, u) in self.variables.iter().zip(&self.units) {
                let (Some(a), Some(b)) = (
                    self.rmse_of(&v.name, label),
                    self.rmse_of(&v.name, "default"),
                ) else {
                    continue;
                };
                let word = if a < b {
                    "closer to"
                } else if a > b {
                    "farther from"
                } else {
                    "as close to"
                };
                let g = |x: f64| crate::format::format_spec(x, ".3g").unwrap_or_default();
                out.push(format!(
                    "{}{}: the {label} run is {word} the observations than the default run (RMSE {} against {} {u})",
                    v.name,
                    if v.calibrated { "" } else { " (not calibrated)" },
                    g(a),
                    g(b)
                ));
            }
        }
        out
    }

    /// Writes into `dir`: `pcs.csv`, `bias_table.csv`, `climatology.csv`, `rmse.csv`,
    /// `bias_maps.nc` (CF netCDF: lat, lon, area, landfrac and one variable per map), and
    /// the figures `fig10_pcs.png`, `fig11_bias_maps.png` (and `bias_maps_VAR.png` for each
    /// further variable), `climatology_VAR.png` (Figs. S12-S13). Every file is written
    /// atomically. Returns the paths written.
    pub fn save(&self, dir: &Path, history: &str) -> Result<Vec<PathBuf>> {
        crate::files::all_or_nothing(|| {
            crate::files::create_dir(dir)?;
            let mut out = Vec::new();
            for (name, t) in [
                ("pcs.csv", &self.pcs),
                ("bias_table.csv", &self.bias_table),
                ("climatology.csv", &self.climatology),
                ("rmse.csv", &self.rmse),
                ("spread.csv", &self.spread),
            ] {
                if t.is_empty() {
                    continue;
                }
                let p = dir.join(name);
                t.write(&p)?;
                out.push(p);
            }
            let p = dir.join("bias_maps.nc");
            let all: Vec<&Field> = self.bias.iter().flatten().collect();
            crate::field::write::write_fields(&p, &all, history)?;
            out.push(p);
            out.extend(self.figures(dir)?);
            Ok(out)
        })
    }

    fn figures(&self, dir: &Path) -> Result<Vec<PathBuf>> {
        use crate::plot::{self, Options, Panel};
        let mut out = Vec::new();
        let save = |path: PathBuf, panels: &[(Panel, Options)], cols: usize, opts: &Options| {
            plot::save(
                &path,
                opts,
                |a| plot::draw_panels(a, panels, cols, opts),
                |a| plot::draw_panels(a, panels, cols, opts),
            )
        };
        // Fig. 10: PCs per mode
        let runs: Vec<&String> = self.labels.iter().filter(|l| *l != "default").collect();
        let mut panels = Vec::new();
        let vars = self.pcs.column("variable")?;
        let run_col = self.pcs.column("run")?;
        let col = |n: &str| self.pcs.numbers(n);
        for v in self.variables.iter().filter(|v| v.calibrated) {
            let rows_of = |label: &str| -> Vec<usize> {
                (0..self.pcs.len())
                    .filter(|&i| {
                        vars.value(i) == crate::table::Value::Text(v.name.clone())
                            && run_col.value(i) == crate::table::Value::Text(label.into())
                    })
                    .collect()
            };
            let first = rows_of(runs[0]);
            let pick = |c: &[f64], rows: &[usize]| rows.iter().map(|&i| c[i]).collect::<Vec<f64>>();
            let mut series = vec![
                ("observed".to_string(), pick(col("observed")?, &first)),
                ("default".to_string(), pick(col("default")?, &first)),
            ];
            for label in &runs {
                let rows = rows_of(label);
                let suffix = if runs.len() > 1 {
                    format!(" ({label})")
                } else {
                    String::new()
                };
                series.push((format!("emulated{suffix}"), pick(col("emulated")?, &rows)));
                series.push((format!("simulated{suffix}"), pick(col("simulated")?, &rows)));
            }
            let categories: Vec<String> = (1..=first.len()).map(|m| format!("PC{m}")).collect();
            panels.push((
                Panel::GroupedBars { categories, series },
                Options {
                    title: v.name.clone(),
                    ylabel: "PC (projection on the EOF)".into(),
                    ..Options::default()
                },
            ));
        }
        if !panels.is_empty() {
            let n = panels.len() as u32;
            let opts = Options {
                title: format!(
                    "Projected PCs: observed, default, emulated and simulated ({} run)",
                    runs.iter()
                        .map(|s| s.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                width: 700 * n.min(3),
                height: 520,
                ..Options::default()
            };
            out.push(save(dir.join("fig10_pcs.png"), &panels, n as usize, &opts)?);
        }
        // Fig. 11: bias maps, one row per variable, one column per run (default last)
        let map_rows = |vars: &[usize]| -> Vec<(Panel, Options)> {
            let mut panels = Vec::new();
            for &k in vars {
                let v = &self.variables[k];
                let mut abs: Vec<f64> = self.bias[k]
                    .iter()
                    .flat_map(|f| f.values.iter().copied())
                    .filter(|x| x.is_finite())
                    .map(f64::abs)
                    .collect();
                abs.sort_by(|a, b| a.total_cmp(b));
                // the 99th percentile: one extreme cell should not wash out the pattern
                let m = abs
                    .get(((abs.len() as f64 * 0.99) as usize).min(abs.len().saturating_sub(1)))
                    .copied()
                    .filter(|m| *m > 0.0)
                    .unwrap_or(1.0);
                for (li, f) in self.bias[k].iter().enumerate() {
                    panels.push((
                        Panel::of_grid(&f.values, &self.grid).unwrap_or(Panel::Points {
                            values: vec![],
                            lat: vec![],
                            lon: vec![],
                            land: None,
                        }),
                        Options {
                            title: format!("{}: {} - obs", v.name, self.labels[li]),
                            units: self.units[k].clone(),
                            cmap: Some("RdBu_r".into()),
                            vmin: Some(-m),
                            vmax: Some(m),
                            regions: Region::table2(),
                            ..Options::default()
                        },
                    ));
                }
            }
            panels
        };
        let cols = self.labels.len();
        let calibrated: Vec<usize> = (0..self.variables.len())
            .filter(|&k| self.variables[k].calibrated)
            .collect();
        let figure = |rows: usize, title: String| Options {
            title,
            width: (640 * cols) as u32,
            height: (340 * rows + 40) as u32,
            ..Options::default()
        };
        if !calibrated.is_empty() {
            let opts = figure(
                calibrated.len(),
                "Mean bias against the observations (boxes: the regions of Table 2)".into(),
            );
            out.push(save(
                dir.join("fig11_bias_maps.png"),
                &map_rows(&calibrated),
                cols,
                &opts,
            )?);
        }
        for (k, v) in self
            .variables
            .iter()
            .enumerate()
            .filter(|(_, v)| !v.calibrated)
        {
            let opts = figure(
                1,
                format!(
                    "Mean bias of {}, a variable the calibration did not use",
                    v.name
                ),
            );
            out.push(save(
                dir.join(format!("bias_maps_{}.png", v.name)),
                &map_rows(&[k]),
                cols,
                &opts,
            )?);
        }
        // Figs. S12-S13: monthly climatologies per region
        let regs = self.climatology.column("region")?;
        let cvars = self.climatology.column("variable")?;
        let srcs = self.climatology.column("source")?;
        let months = self.climatology.numbers("month")?;
        let vals = self.climatology.numbers("value")?;
        let t = |s: &str| crate::table::Value::Text(s.into());
        for (k, v) in self.variables.iter().enumerate() {
            let mut panels = Vec::new();
            for reg in table2_regions() {
                let mut series = Vec::new();
                let mut x = Vec::new();
                for src in std::iter::once("observed").chain(self.labels.iter().map(String::as_str))
                {
                    let rows: Vec<usize> = (0..self.climatology.len())
                        .filter(|&i| {
                            regs.value(i) == t(&reg.name)
                                && cvars.value(i) == t(&v.name)
                                && srcs.value(i) == t(src)
                        })
                        .collect();
                    x = rows.iter().map(|&i| months[i]).collect();
                    series.push((src.to_string(), rows.iter().map(|&i| vals[i]).collect()));
                }
                panels.push((
                    Panel::Lines { x, series },
                    Options {
                        title: reg.name.clone(),
                        ylabel: format!("{} ({})", v.name, self.units[k]),
                        xticks: MONTHS
                            .iter()
                            .enumerate()
                            .map(|(m, n)| (m as f64 + 1.0, n.to_string()))
                            .collect(),
                        ..Options::default()
                    },
                ));
            }
            let opts = Options {
                title: format!(
                    "{}: monthly climatology over the analysed cells: observations, default and calibrated runs",
                    v.name
                ),
                width: 1500,
                height: 900,
                ..Options::default()
            };
            out.push(save(
                dir.join(format!("climatology_{}.png", v.name)),
                &panels,
                3,
                &opts,
            )?);
        }
        Ok(out)
    }
}

/// Month names on the climatologies' x axes.
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

impl std::fmt::Display for TestCase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.variables.iter().map(|v| v.name.as_str()).collect();
        write!(
            f,
            "TestCase: runs {} against the default run {} and the observations; variables {}",
            self.cases[..self.cases.len() - 1].join(", "),
            self.cases[self.cases.len() - 1],
            names.join(", ")
        )
    }
}

/// The spread over the runs whose label starts with `prefix` (07's posterior draws): one row
/// per simulated PC (`quantity` pc, `item` the mode; `target` the observed PC) and per Table
/// 2 bias (`quantity` bias, `item` the region; `target` 0, no bias), with `optimized` (the
/// optimum's value, NaN without it), `min`, `mean`, `max`, `sd` (ddof 1) and `runs` over the
/// draws, and `covers` (`true` when the target lies within min..max). Empty (no rows) with
/// fewer than two such runs.
pub fn spread(pcs: &Table, bias_table: &Table, prefix: &str) -> Result<Table> {
    use std::collections::BTreeMap;
    let text = |t: &Table, c: &str| -> Result<Vec<String>> {
        match t.column(c)? {
            Column::Text(v) => Ok(v.clone()),
            Column::Numbers(v) => Ok(v.iter().map(|x| x.to_string()).collect()),
        }
    };
    // (quantity, variable, item) -> (target, optimized, draws), in first-seen order
    type Key = (String, String, String);
    let mut order: Vec<Key> = Vec::new();
    let mut acc: BTreeMap<Key, (f64, f64, Vec<f64>)> = BTreeMap::new();
    let mut add = |key: Key, target: f64, run: &str, v: f64| {
        let e = acc.entry(key.clone()).or_insert_with(|| {
            order.push(key);
            (target, f64::NAN, Vec::new())
        });
        if run == "optimized" {
            e.1 = v;
        } else if run.starts_with(prefix) {
            e.2.push(v);
        }
    };
    let (var, mode, run) = (
        text(pcs, "variable")?,
        text(pcs, "mode")?,
        text(pcs, "run")?,
    );
    let (obs, sim) = (pcs.numbers("observed")?, pcs.numbers("simulated")?);
    for i in 0..pcs.len() {
        add(
            ("pc".into(), var[i].clone(), mode[i].clone()),
            obs[i],
            &run[i],
            sim[i],
        );
    }
    let region = text(bias_table, "region")?;
    let comparison = text(bias_table, "comparison")?;
    for c in bias_table
        .columns()
        .iter()
        .filter(|c| *c != "region" && *c != "comparison")
    {
        let v = bias_table.numbers(c)?;
        for i in 0..bias_table.len() {
            let r = comparison[i].trim_end_matches("-obs");
            add(("bias".into(), c.clone(), region[i].clone()), 0.0, r, v[i]);
        }
    }
    let draws = acc.values().map(|e| e.2.len()).max().unwrap_or(0);
    let mut cols: [Vec<String>; 4] = Default::default();
    let mut nums: [Vec<f64>; 7] = Default::default();
    if draws >= 2 {
        for key in &order {
            let (target, optimized, d) = &acc[key];
            if d.is_empty() {
                continue;
            }
            let n = d.len() as f64;
            let mean = d.iter().sum::<f64>() / n;
            let sd =
                (d.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0).max(1.0)).sqrt();
            let lo = d.iter().copied().fold(f64::INFINITY, f64::min);
            let hi = d.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            cols[0].push(key.0.clone());
            cols[1].push(key.1.clone());
            cols[2].push(key.2.clone());
            cols[3].push((lo <= *target && *target <= hi).to_string());
            for (k, v) in [*target, *optimized, lo, mean, hi, sd, n]
                .into_iter()
                .enumerate()
            {
                nums[k].push(v);
            }
        }
    }
    let [quantity, variable, item, covers] = cols;
    let [target, optimized, lo, mean, hi, sd, n] = nums;
    Table::from_columns(vec![
        ("quantity".into(), Column::Text(quantity)),
        ("variable".into(), Column::Text(variable)),
        ("item".into(), Column::Text(item)),
        ("target".into(), Column::Numbers(target)),
        ("optimized".into(), Column::Numbers(optimized)),
        ("min".into(), Column::Numbers(lo)),
        ("mean".into(), Column::Numbers(mean)),
        ("max".into(), Column::Numbers(hi)),
        ("sd".into(), Column::Numbers(sd)),
        ("runs".into(), Column::Numbers(n)),
        ("covers".into(), Column::Text(covers)),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(v: &[&str]) -> Column {
        Column::Text(v.iter().map(|s| s.to_string()).collect())
    }

    /// By hand: GPP PC1 observed 1.0, the optimum 0.9, draws 0.8 and 1.4 (min 0.8, mean 1.1,
    /// max 1.4, sd sqrt(0.18) = 0.42426): covered; Global gpp bias of the draws -0.1 and
    /// -0.3 (mean -0.2, sd sqrt(0.02)): 0 not covered. The default run is not a draw.
    #[test]
    fn spread_over_the_draws_by_hand() {
        let pcs = Table::from_columns(vec![
            ("variable".into(), text(&["GPP", "GPP", "GPP", "GPP"])),
            ("mode".into(), Column::Numbers(vec![1.0; 4])),
            ("observed".into(), Column::Numbers(vec![1.0; 4])),
            (
                "simulated".into(),
                Column::Numbers(vec![0.9, 0.8, 1.4, 5.0]),
            ),
            (
                "run".into(),
                text(&["optimized", "draw_1", "draw_2", "default"]),
            ),
        ])
        .unwrap();
        let bias = Table::from_columns(vec![
            ("region".into(), text(&["Global", "Global", "Global"])),
            (
                "comparison".into(),
                text(&["optimized-obs", "draw_1-obs", "draw_2-obs"]),
            ),
            ("gpp".into(), Column::Numbers(vec![-0.05, -0.1, -0.3])),
        ])
        .unwrap();
        let t = spread(&pcs, &bias, "draw_").unwrap();
        assert_eq!(t.len(), 2);
        let n = |c: &str| t.numbers(c).unwrap().to_vec();
        assert_eq!(n("target"), [1.0, 0.0]);
        assert_eq!(n("optimized"), [0.9, -0.05]);
        assert_eq!(n("min"), [0.8, -0.3]);
        assert_eq!(n("max"), [1.4, -0.1]);
        assert!((n("mean")[0] - 1.1).abs() < 1e-12 && (n("mean")[1] + 0.2).abs() < 1e-12);
        assert!((n("sd")[0] - 0.18f64.sqrt()).abs() < 1e-12);
        assert!((n("sd")[1] - 0.02f64.sqrt()).abs() < 1e-12);
        assert_eq!(n("runs"), [2.0, 2.0]);
        assert_eq!(t.column("covers").unwrap(), &text(&["true", "false"]));
        assert_eq!(t.column("quantity").unwrap(), &text(&["pc", "bias"]));
        // one draw is no spread
        let one = pcs.where_mask(&[true, true, false, true]).unwrap();
        assert!(spread(
            &one,
            &bias.where_mask(&[true, true, false]).unwrap(),
            "draw_"
        )
        .unwrap()
        .is_empty());
    }
}
