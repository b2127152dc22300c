//! The demo experiment's folder: the config and parameter spec every stage script uses when
//! no `--config` is given, the default params file, and the synthetic observations with the
//! truth that made them. Made on first use in clmtune's cache and reused; each file is
//! written atomically, so an interrupted setup is completed by the next one.

use super::obs::{self, ObsOptions};
use super::params::{self, Params};
use crate::ensemble::Spec;
use anyhow::{Context, Result};
use std::path::{Path, PathBuf};

/// The demo config (contract section 1).
pub const CONFIG: &str = include_str!("files/config.toml");
/// The demo parameter spec (contract section 2).
pub const SPEC: &str = include_str!("files/parameters.toml");

/// The truth of the synthetic observations: a scaling in [0, 1] of each calibrated
/// parameter (applied as `min + s * (max - min)` in every PFT group, as the paper's designs).
pub const TRUTH: [(&str, f64); 6] = [
    ("medlynslope", 0.62),
    ("dleaf", 0.35),
    ("kmax", 0.55),
    ("fff", 0.30),
    ("dint", 0.70),
    ("baseflow_scalar", 0.12),
];

/// Seed of the observation noise.
const OBS_SEED: u64 = 200_801_982;

/// The demo folder: `$CLMTUNE_DEMO_DIR`, else `$XDG_CACHE_HOME/clmtune/demo`, else
/// `~/.cache/clmtune/demo`.
pub fn demo_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("CLMTUNE_DEMO_DIR") {
        return PathBuf::from(d);
    }
    if let Some(c) = std::env::var_os("XDG_CACHE_HOME") {
        return Path::new(&c).join("clmtune/demo");
    }
    let home = std::env::var_os("HOME").unwrap_or_else(|| ".".into());
    Path::new(&home).join(".cache/clmtune/demo")
}

/// The truth parameter set: the defaults with the [`TRUTH`] scalings applied.
pub fn truth_params() -> Result<Params> {
    let spec = demo_spec()?;
    let mut p = Params::defaults();
    for (name, s) in TRUTH {
        for w in spec.get(name)?.writes(s) {
            if w.pfts.is_empty() {
                let v = if w.relative {
                    p.get(name) * w.value
                } else {
                    w.value
                };
                p.scalar.insert(name.to_string(), v);
            } else {
                let arr = p
                    .pft
                    .get_mut(name)
                    .with_context(|| format!("{name} is not per PFT"))?;
                for i in w.pfts {
                    if w.relative {
                        arr[i] *= w.value;
                    } else {
                        arr[i] = w.value;
                    }
                }
            }
        }
    }
    Ok(p)
}

/// The demo parameter spec, read without its base params file.
fn demo_spec() -> Result<Spec> {
    Spec::parse_text(SPEC, Path::new("demo/parameters.toml"))
}

/// The text of `truth.toml`: the scalings and physical values behind the observations.
fn truth_text() -> Result<String> {
    let spec = demo_spec()?;
    let mut s = String::from(
        "# The truth behind the demo model's synthetic observations (obs/fluxnet_mte*.nc).\n\
         # Kept apart from the observations: a calibration should find these without reading them.\n\
         # Scalings in [0, 1] map to min + s * (max - min) in every PFT group of parameters.toml.\n\n[scaling]\n",
    );
    for (n, v) in TRUTH {
        s.push_str(&format!("{n} = {v}\n"));
    }
    s.push_str("\n[value]   # physical values, per PFT group in the spec's order\n");
    for (n, v) in TRUTH {
        let vals: Vec<String> = spec
            .get(n)?
            .column_values(Some(v))
            .iter()
            .map(|x| format!("{x:.6e}"))
            .collect();
        s.push_str(&format!("{n} = [{}]\n", vals.join(", ")));
    }
    s.push_str(&format!(
        "\n[observations]\nseed = {OBS_SEED}\nbias = \"fluxnet_mte.nc: GPP +18 % wet tropics, -20 % boreal; LE -15 % semi-arid tropics, +10 % eastern US\"\nno_bias = \"fluxnet_mte_nobias.nc\"\n"
    ));
    Ok(s)
}

/// The version of the demo folder's made files, recorded in its `version` file. A folder
/// of an older version (or none) is upgraded by [`ensure`]: its config and parameter spec
/// are written again and observation files without a variable of
/// [`super::obs::VARIABLES`] are made again. 2: the observations have `H` and the config a
/// `[test_case]` table. 3: the config calibrates on the unbiased observations
/// (`obs/fluxnet_mte_nobias.nc`) and names its test cases `demo_test_{member}` (cases of
/// the biased calibration keep their `demo_opt_` names). 4: the params file has the layout
/// of CLM5's c171117 (`segment`, `rootprof_beta` on `(variants, pft)`, no `d_max`/`csoilc`,
/// which the spec sets as namelist values).
pub const VERSION: u32 = 4;

/// Whether an observation file has every variable the demo writes (a file made before `H`
/// was added lacks it). Opened directly, not through [`crate::nc::open`], which would mark
/// it as an input of this run and so refuse its replacement.
fn obs_complete(path: &Path) -> bool {
    crate::nc::quiet_hdf5();
    netcdf::open(path).is_ok_and(|f| {
        obs::VARIABLES
            .iter()
            .all(|(n, _, _)| f.variable(n).is_some())
    })
}

/// Makes whatever the demo folder `dir` lacks and returns the path of its config. The
/// observations cover `obs_years` (the demo config's sigma years, 1982-2008, by default).
/// A folder made by an older clmtune (see [`VERSION`]) is upgraded, not used as it is.
pub fn ensure(dir: &Path, obs_years: (i64, i64)) -> Result<PathBuf> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let stamp = dir.join("version");
    let current = std::fs::read_to_string(&stamp)
        .ok()
        .and_then(|s| s.trim().parse::<u32>().ok())
        .is_some_and(|v| v >= VERSION);
    let write_text = |name: &str, text: &str| -> Result<()> {
        let p = dir.join(name);
        if !p.exists() || !current {
            crate::files::atomic_write(&p, |w| Ok(w.write_all(text.as_bytes())?))?;
        }
        Ok(())
    };
    write_text("parameters.toml", SPEC)?;
    write_text("config.toml", CONFIG)?;
    write_text("obs/truth.toml", &truth_text()?)?;
    let pf = dir.join("clm5_params.demo.nc");
    if !pf.exists() || !current {
        params::write_default_params(&pf)?;
    }
    let biased = dir.join("obs/fluxnet_mte.nc");
    let unbiased = dir.join("obs/fluxnet_mte_nobias.nc");
    let stale = |p: &Path| !p.exists() || (!current && !obs_complete(p));
    let todo: Vec<(&PathBuf, bool)> = [(&biased, true), (&unbiased, false)]
        .into_iter()
        .filter(|(p, _)| stale(p))
        .collect();
    if !todo.is_empty() {
        // the observations take the demo model over every observed year: tens of seconds
        // on first use, so a bar shows it (one step for the grid, one per file)
        let pb = crate::progress::bar(1 + todo.len() as u64, "demo set-up: grid");
        pb.enable_steady_tick(std::time::Duration::from_millis(250));
        let (grid, cells) = super::run::cells()?;
        let truth = truth_params()?;
        pb.inc(1);
        pb.set_message("demo set-up: observations");
        // the two files at once: each runs the model through every observed year (pure
        // Rust, on its own core); only their netCDF writes take turns
        let results: Vec<Result<()>> = std::thread::scope(|s| {
            let handles: Vec<_> = todo
                .iter()
                .map(|&(path, bias)| {
                    let (truth, cells, grid, pb) = (&truth, &cells, &grid, &pb);
                    s.spawn(move || {
                        let opts = ObsOptions {
                            years: obs_years,
                            bias,
                            seed: OBS_SEED + bias as u64,
                        };
                        let r = obs::write_observations(path, truth, &opts, cells, grid);
                        pb.inc(1);
                        r
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join()
                        .unwrap_or_else(|_| Err(anyhow::anyhow!("making the observations failed")))
                })
                .collect()
        });
        for r in results {
            r?;
        }
        pb.finish_and_clear();
    }
    if !current {
        crate::files::atomic_write(&stamp, |w| Ok(writeln!(w, "{VERSION}")?))?;
    }
    Ok(dir.join("config.toml"))
}

/// The truth behind synthetic observations: the `[scaling]` table of `truth.toml` beside the
/// observation file `obs_file` (the demo folder writes one), or nothing for real
/// observations (no such file).
pub fn truth_beside(obs_file: &Path) -> Result<std::collections::BTreeMap<String, f64>> {
    let path = obs_file
        .parent()
        .unwrap_or(Path::new("."))
        .join("truth.toml");
    let mut m = std::collections::BTreeMap::new();
    if !path.is_file() {
        return Ok(m);
    }
    let text = crate::files::read_text(&path, "truth file")?;
    let doc: toml::Table = text
        .parse()
        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    let Some(toml::Value::Table(sc)) = doc.get("scaling") else {
        anyhow::bail!("{}: no [scaling] table", path.display());
    };
    for (k, v) in sc {
        let x = match v {
            toml::Value::Float(x) => *x,
            toml::Value::Integer(i) => *i as f64,
            _ => anyhow::bail!(
                "{}: scaling.{}: not a number",
                path.display(),
                crate::format::printable(k)
            ),
        };
        m.insert(k.clone(), x);
    }
    Ok(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truth_uses_the_spec_ranges() {
        let t = truth_params().unwrap();
        // medlynslope BET (PFT 4): 1.63 + 0.62 * (4.59 - 1.63)
        assert!((t.pft("medlynslope")[4] - (1.63 + 0.62 * 2.96)).abs() < 1e-12);
        // C4 group includes tropical corn (75)
        assert!((t.pft("medlynslope")[75] - (0.53 + 0.62 * 3.5)).abs() < 1e-12);
        assert!((t.pft("kmax")[40] - (2e-9 + 0.55 * 3.6e-8)).abs() < 1e-20);
        assert_eq!(t.pft("kmax")[0], 0.0, "bare ground untouched");
        assert!((t.get("baseflow_scalar") - (0.0005 + 0.12 * 0.0995)).abs() < 1e-15);
        let cfg = crate::config::Config::parse(CONFIG, Path::new("/demo/config.toml")).unwrap();
        assert_eq!(cfg.parameters.calibrate.len(), 6);
        assert!(truth_text().unwrap().contains("kmax = [2.1800"));
    }

    #[test]
    fn an_old_demo_folder_is_upgraded_not_used_as_it_is() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        // as an older clmtune left it: no version, a config without [test_case],
        // observation files without H
        std::fs::create_dir_all(d.join("obs")).unwrap();
        std::fs::write(d.join("config.toml"), "# old\n").unwrap();
        // and a params file of version 3 (segments named nvegwcs, d_max in the file)
        let mut w = crate::nc::Writer::new(crate::nc::Format::Offset64);
        w.dim("nvegwcs", 4);
        w.var("d_max", &[], vec![15.0f64]);
        w.save(&d.join("clm5_params.demo.nc")).unwrap();
        for f in ["obs/fluxnet_mte.nc", "obs/fluxnet_mte_nobias.nc"] {
            let mut w = crate::nc::Writer::new(crate::nc::Format::Netcdf4);
            w.dim("x", 1);
            w.var("GPP", &["x"], vec![1.0f64]);
            w.save(&d.join(f)).unwrap();
        }
        assert!(!obs_complete(&d.join("obs/fluxnet_mte.nc")));
        ensure(d, (2000, 2000)).unwrap();
        assert_eq!(std::fs::read_to_string(d.join("version")).unwrap(), "4\n");
        // version 4: the params file in c171117's layout, d_max a namelist value
        let pf = netcdf::open(d.join("clm5_params.demo.nc")).unwrap();
        assert!(pf.variable("d_max").is_none() && pf.dimension("segment").is_some());
        assert!(crate::demo::read_params(&d.join("clm5_params.demo.nc")).is_ok());
        let cfg = std::fs::read_to_string(d.join("config.toml")).unwrap();
        assert!(
            cfg.contains("FSH = { obs = \"H\", model = \"FSH\" }"),
            "{cfg}"
        );
        // version 3: the unbiased observations, test cases of their own names
        assert!(
            cfg.contains("file = \"obs/fluxnet_mte_nobias.nc\"")
                && cfg.contains("test_case = \"demo_test_{member}\""),
            "{cfg}"
        );
        for f in ["obs/fluxnet_mte.nc", "obs/fluxnet_mte_nobias.nc"] {
            let file = crate::nc::open(&d.join(f)).unwrap();
            for v in ["GPP", "LE", "H"] {
                assert!(file.variable(v).is_some(), "{f}: {v}");
            }
            assert_eq!(file.variable("GPP").unwrap().len(), 12 * 360 * 720);
        }
        // a current folder is used as it is: an edited config stays
        std::fs::write(d.join("config.toml"), "# edited\n").unwrap();
        ensure(d, (2000, 2000)).unwrap();
        assert_eq!(
            std::fs::read_to_string(d.join("config.toml")).unwrap(),
            "# edited\n"
        );
    }
}
