//! The demo model's inputs, in CLM's formats: a params file laid out like
//! `clm5_params.c171117.nc` (per-PFT variables on a `pft` dimension of 79, `kmax` and `psi50`
//! on `(segment, pft)`, `rootprof_beta` on `(variants, pft)`, `pftname` and `segment` as
//! characters), `user_nl_clm` namelist lines, and CIME's `env_run.xml` / `env_case.xml`
//! entries. The demo model also reads the real CLM5 files: c171117 and the later c200425 and
//! ctsm51 files (which hold `d_max` and `csoilc` themselves), and the older `nvegwcs` name of
//! the segment dimension.

use super::pft::{self, NAME_LEN, NPFT, NVEGWCS, PFT_NAMES};
pub use crate::cime::{read_env_xml, write_env_xml};
pub use crate::clm::{read_pft_names, NcChar};
use anyhow::{bail, Context, Result};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Text put in the global attributes of every file the demo model writes.
pub const NOTICE: &str = "clmtune demo model: a small CLM-shaped land model for trying the \
    workflow on any machine. It is NOT CLM; its numbers are not CLM results.";

/// A params-file variable of the demo model: name, dimensions, units, long name, and the
/// default value of PFT `p` (scalars ignore `p`).
struct ParamVar {
    name: &'static str,
    dims: Dims,
    units: &'static str,
    long_name: &'static str,
    default: fn(usize) -> f64,
}

#[derive(Clone, Copy, PartialEq)]
enum Dims {
    Pft,
    SegmentPft,
    VariantsPft,
}

/// Names of the segment dimension: `segment` in CLM5 files, `nvegwcs` in older ones.
const SEGMENT_DIMS: [&str; 2] = ["segment", "nvegwcs"];

/// The hydraulic segments of CLM5 (the `segment` variable of c171117).
const SEGMENT_NAMES: [&str; NVEGWCS] = ["sunlit", "shaded", "xylem", "root"];

/// Variants of `rootprof_beta` (`variants` dimension): 0 = water, 1 = carbon and nitrogen
/// (CLM's `rooting_profile_varindex_water` = 1 in Fortran's counting). The demo model's
/// roots take up water, so it reads variant 0.
const NVARIANTS: usize = 2;

/// Scalars CLM5.0 (c171117) sets outside the params file and later files (c200425, ctsm51)
/// hold as params-file variables: the demo model reads each from the params file when the file
/// has it (dimensionless or `(allpfts)`), else from `user_nl_clm`, else its default in
/// [`NAMELIST_PARAMS`].
pub const PARAMFILE_OR_NAMELIST: [&str; 2] = ["d_max", "csoilc"];

const PARAM_VARS: [ParamVar; 10] = [
    ParamVar {
        name: "medlynslope",
        dims: Dims::Pft,
        units: "unitless",
        long_name: "Medlyn slope of conductance-photosynthesis relationship",
        default: pft::medlynslope,
    },
    ParamVar {
        name: "dleaf",
        dims: Dims::Pft,
        units: "m",
        long_name: "Characteristic leaf dimension",
        default: pft::dleaf,
    },
    ParamVar {
        name: "kmax",
        dims: Dims::SegmentPft,
        units: "s-1",
        long_name: "Plant segment max conductance",
        default: pft::kmax,
    },
    ParamVar {
        name: "psi50",
        dims: Dims::SegmentPft,
        units: "mm",
        long_name: "Water potential at 50% loss of conductance",
        default: pft::psi50,
    },
    ParamVar {
        name: "rootprof_beta",
        dims: Dims::VariantsPft,
        units: "unitless",
        long_name: "Rooting beta parameter, for C and N vertical discretization",
        default: pft::rootprof_beta,
    },
    ParamVar {
        name: "z0mr",
        dims: Dims::Pft,
        units: "unitless",
        long_name: "Ratio of momentum roughness length to canopy top height",
        default: pft::z0mr,
    },
    ParamVar {
        name: "displar",
        dims: Dims::Pft,
        units: "unitless",
        long_name: "Ratio of displacement height to canopy top height",
        default: pft::displar,
    },
    ParamVar {
        name: "leafcn",
        dims: Dims::Pft,
        units: "gC/gN",
        long_name: "Leaf C:N",
        default: pft::leafcn,
    },
    ParamVar {
        name: "froot_leaf",
        dims: Dims::Pft,
        units: "gC/gC",
        long_name: "Allocation parameter: new fine root C per new leaf C",
        default: pft::froot_leaf,
    },
    ParamVar {
        name: "c3psn",
        dims: Dims::Pft,
        units: "flag",
        long_name: "Photosynthetic pathway: 0. = c4, 1. = c3",
        default: |p| if pft::is_c4(p) { 0.0 } else { 1.0 },
    },
];

/// Namelist parameters the demo model reads from `user_nl_clm`, with defaults. `d_max` and
/// `csoilc` come from the params file instead when it has them ([`PARAMFILE_OR_NAMELIST`]);
/// their defaults are CLM5.0's (15 mm and 0.004).
pub const NAMELIST_PARAMS: [(&str, f64, &str); 7] = [
    (
        "fff",
        0.5,
        "decay factor of the saturated fraction with water table depth (1/m)",
    ),
    (
        "dint",
        0.8,
        "fraction of saturation at which the dry surface layer starts (frac_sat_soil_dsl_init)",
    ),
    (
        "baseflow_scalar",
        0.001,
        "scalar multiplier of the base flow rate",
    ),
    (
        "interception_fraction",
        1.0,
        "fraction of intercepted precipitation",
    ),
    (
        "maximum_leaf_wetted_fraction",
        0.05,
        "maximum fraction of the leaf that may be wet",
    ),
    (
        "d_max",
        15.0,
        "dry surface layer: maximum thickness (mm); a params-file variable from c200425 on",
    ),
    (
        "csoilc",
        0.004,
        "drag coefficient for soil under canopy; a params-file variable from c200425 on",
    ),
];

/// Other CLM namelist variables the demo model accepts (history output and start-up).
const KNOWN_NAMELIST: [&str; 7] = [
    "paramfile",
    "hist_fincl1",
    "hist_empty_htapes",
    "hist_mfilt",
    "hist_nhtfrq",
    "finidat",
    "use_init_interp",
];

/// The parameter values of one run: per-PFT arrays and scalars from the params file, and
/// the namelist values.
#[derive(Debug, Clone, PartialEq)]
pub struct Params {
    /// Per-PFT variables (name -> 79 values); `kmax` and `psi50` are reduced over their four
    /// segments (series conductance for `kmax`, the mean for `psi50`).
    pub pft: BTreeMap<String, Vec<f64>>,
    /// Scalar params-file variables and namelist parameters.
    pub scalar: BTreeMap<String, f64>,
    /// Scalars read from the params file (of [`PARAMFILE_OR_NAMELIST`]): `user_nl_clm` must
    /// not set these too.
    pub from_paramfile: std::collections::BTreeSet<String>,
}

impl Params {
    /// The default values (the default params file and namelist).
    pub fn defaults() -> Params {
        let mut pftv = BTreeMap::new();
        let mut scalar = BTreeMap::new();
        for v in &PARAM_VARS {
            pftv.insert(v.name.to_string(), (0..NPFT).map(v.default).collect());
        }
        for (n, d, _) in NAMELIST_PARAMS {
            scalar.insert(n.to_string(), d);
        }
        Params {
            pft: pftv,
            scalar,
            from_paramfile: Default::default(),
        }
    }

    /// A per-PFT parameter (panics only for a name this module does not define).
    pub fn pft(&self, name: &str) -> &[f64] {
        &self.pft[name]
    }

    /// A scalar parameter (panics only for a name this module does not define).
    pub fn get(&self, name: &str) -> f64 {
        self.scalar[name]
    }
}

/// The names of every parameter the demo model reads (params file and namelist).
pub fn parameter_names() -> Vec<&'static str> {
    PARAM_VARS
        .iter()
        .map(|v| v.name)
        .chain(NAMELIST_PARAMS.iter().map(|n| n.0))
        .collect()
}

/// Writes the demo model's default params file in the layout of CLM5's
/// `clm5_params.c171117.nc` (64-bit offset netCDF; `pft` = 79, `segment` = 4, `variants` = 2;
/// `pftname(pft, string_length)` and `segment(segment, string_length)` as characters;
/// `kmax` and `psi50` on `(segment, pft)`, `rootprof_beta` on `(variants, pft)` with the same
/// values in both variants). Like c171117 it holds no `d_max` or `csoilc`: those are namelist
/// values. Written atomically.
pub fn write_default_params(path: &Path) -> Result<()> {
    let mut w = crate::nc::Writer::new(crate::nc::Format::Offset64);
    w.dim("pft", NPFT)
        .dim("segment", NVEGWCS)
        .dim("string_length", NAME_LEN)
        .dim("variants", NVARIANTS);
    w.global(
        "title",
        "clmtune demo model parameters (CLM5 params-file layout of clm5_params.c171117.nc)",
    )
    .global("source", NOTICE)
    .global("history", crate::files::written_by());
    let chars = |names: &[&str]| -> Vec<u8> {
        let mut out = vec![b' '; names.len() * NAME_LEN];
        for (p, n) in names.iter().enumerate() {
            out[p * NAME_LEN..p * NAME_LEN + n.len()].copy_from_slice(n.as_bytes());
        }
        out
    };
    w.var(
        "pftname",
        &["pft", "string_length"],
        crate::nc::Values::Chars(chars(&PFT_NAMES)),
    )
    .attr("long_name", "Description of plant type")
    .attr("units", "unitless");
    w.var(
        "segment",
        &["segment", "string_length"],
        crate::nc::Values::Chars(chars(&SEGMENT_NAMES)),
    )
    .attr("long_name", "description of hydraulic segment")
    .attr("units", "unitless");
    for pv in &PARAM_VARS {
        let per_pft: Vec<f64> = (0..NPFT).map(pv.default).collect();
        let (dims, values): (&[&str], Vec<f64>) = match pv.dims {
            Dims::Pft => (&["pft"], per_pft),
            Dims::SegmentPft => (
                &["segment", "pft"],
                (0..NVEGWCS).flat_map(|_| per_pft.iter().copied()).collect(),
            ),
            Dims::VariantsPft => (
                &["variants", "pft"],
                (0..NVARIANTS)
                    .flat_map(|_| per_pft.iter().copied())
                    .collect(),
            ),
        };
        w.var(pv.name, dims, values)
            .attr("long_name", pv.long_name)
            .attr("units", pv.units)
            .attr("coordinates", "pftname");
    }
    w.save(path)
}

/// Reads a params file: checks the PFT list against CLM5's, then every variable the demo
/// model uses, by its dimensions' names (CLM5's `(segment, pft)` or the older
/// `(nvegwcs, pft)`; `rootprof_beta` on `(variants, pft)`, its water variant, or on `(pft)`);
/// `d_max` and `csoilc` when the file has them. Errors name the file and variable.
pub fn read_params(path: &Path) -> Result<Params> {
    let file = crate::nc::open(path)?;
    let names = read_pft_names(&file, path)?;
    crate::clm::check_pft_order(&names, path)?;
    let mut params = Params::defaults();
    for pv in &PARAM_VARS {
        let var = crate::nc::variable(&file, path, pv.name)?;
        let dims: Vec<String> = var.dimensions().iter().map(|d| d.name()).collect();
        let shape: Vec<usize> = var.dimensions().iter().map(|d| d.len()).collect();
        let layout = |d: &[String]| {
            format!(
                "{}: {} has dimensions ({})",
                path.display(),
                pv.name,
                d.join(", ")
            )
        };
        let values = crate::nc::read_f64(&file, path, pv.name)?;
        let (outer, per_pft_pos) = match (pv.dims, dims.len()) {
            (_, 1) if dims[0] == "pft" && pv.dims != Dims::SegmentPft => (1, 0),
            (Dims::SegmentPft, 2) if SEGMENT_DIMS.contains(&dims[0].as_str()) => (shape[0], 1),
            (Dims::VariantsPft, 2) if dims[0] == "variants" => (shape[0], 1),
            _ => bail!(
                "{}, the demo model reads it on ({})",
                layout(&dims),
                match pv.dims {
                    Dims::Pft => "pft",
                    Dims::SegmentPft => "segment, pft",
                    Dims::VariantsPft => "variants, pft",
                }
            ),
        };
        if shape[per_pft_pos] != NPFT {
            bail!(
                "{}: pft has {}, CLM5 has {NPFT}",
                layout(&dims),
                shape[per_pft_pos]
            );
        }
        if pv.dims == Dims::SegmentPft && outer != NVEGWCS {
            bail!(
                "{}: {} has {outer} segments, CLM5 has {NVEGWCS}",
                path.display(),
                pv.name
            );
        }
        if let Some(i) = values.iter().position(|x| !x.is_finite()) {
            bail!(
                "{}: {} value {i} (pft {}) is missing or not finite",
                path.display(),
                pv.name,
                i % NPFT
            );
        }
        let reduced: Vec<f64> = match pv.dims {
            Dims::Pft => values,
            // the water variant (the first) when there are two
            Dims::VariantsPft => values[..NPFT].to_vec(),
            Dims::SegmentPft => {
                let values = &values;
                let seg = |p: usize| (0..NVEGWCS).map(move |s| values[s * NPFT + p]);
                (0..NPFT)
                    .map(|p| {
                        if pv.name == "kmax" {
                            // four segments in series, scaled so equal segments give kmax
                            if seg(p).any(|k| k <= 0.0) {
                                0.0
                            } else {
                                NVEGWCS as f64 / seg(p).map(|k| 1.0 / k).sum::<f64>()
                            }
                        } else {
                            seg(p).sum::<f64>() / NVEGWCS as f64
                        }
                    })
                    .collect()
            }
        };
        params.pft.insert(pv.name.into(), reduced);
    }
    for name in PARAMFILE_OR_NAMELIST {
        let Some(var) = file.variable(name) else {
            continue;
        };
        let dims: Vec<String> = var.dimensions().iter().map(|d| d.name()).collect();
        let values = crate::nc::read_f64(&file, path, name)?;
        let value = match (dims.as_slice(), values.as_slice()) {
            ([], [v]) => *v,
            ([d], [v]) if d == "allpfts" => *v,
            _ => bail!(
                "{}: {name} has dimensions ({}), the demo model reads it as one value (no \
                 dimension, or allpfts = 1)",
                path.display(),
                dims.join(", ")
            ),
        };
        if !value.is_finite() {
            bail!("{}: {name} is missing or not finite", path.display());
        }
        params.scalar.insert(name.into(), value);
        params.from_paramfile.insert(name.into());
    }
    Ok(params)
}

/// A parsed `user_nl_clm`: the params file and the namelist values, by lower-case name.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UserNl {
    /// `paramfile = '...'`, if set.
    pub paramfile: Option<PathBuf>,
    /// Numeric namelist parameters.
    pub values: BTreeMap<String, f64>,
    /// Extra history fields (`hist_fincl1`).
    pub hist_fincl1: Vec<String>,
    /// `finidat = '...'`: the restart the run starts from, if set.
    pub finidat: Option<PathBuf>,
}

/// Parses a Fortran number (`1.0`, `2e-3`, `1.5d-3`).
fn fortran_number(s: &str) -> Option<f64> {
    s.trim().replace(['d', 'D'], "e").parse().ok()
}

/// Splits a namelist value list on commas outside quotes.
fn split_values(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    for c in s.chars() {
        match (quote, c) {
            (None, '\'' | '"') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (None, ',') => out.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    out.push(cur);
    out.into_iter()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

/// Parses `user_nl_clm` text: `name = value` lines, `!` comments. Unknown names and values
/// that are not numbers are errors naming the line (as CLM's build-namelist refuses them).
pub fn parse_user_nl(text: &str, path: &Path) -> Result<UserNl> {
    let mut nl = UserNl::default();
    for (i, raw) in text.lines().enumerate() {
        let line = strip_comment(raw).trim().to_string();
        if line.is_empty() {
            continue;
        }
        let lineno = i + 1;
        let (name, value) = line.split_once('=').with_context(|| {
            format!(
                "{}:{lineno}: expected 'name = value', found '{}'",
                path.display(),
                raw.trim()
            )
        })?;
        let name = name.trim().to_lowercase();
        // an indexed name (hist_nhtfrq(1) = 0) sets that variable's element
        let name = match name.split_once('(') {
            Some((base, _)) => base.trim().to_string(),
            None => name,
        };
        let values = split_values(value);
        if name == "paramfile" {
            let p = values
                .first()
                .with_context(|| format!("{}:{lineno}: paramfile has no value", path.display()))?;
            nl.paramfile = Some(PathBuf::from(p));
        } else if name == "finidat" {
            nl.finidat = values
                .first()
                .filter(|p| !p.trim().is_empty())
                .map(PathBuf::from);
        } else if name == "hist_fincl1" {
            nl.hist_fincl1 = values;
        } else if NAMELIST_PARAMS.iter().any(|n| n.0 == name) {
            let v = match values.as_slice() {
                [one] => fortran_number(one).filter(|x| x.is_finite()),
                _ => None,
            };
            let v = v.with_context(|| {
                format!(
                    "{}:{lineno}: {name} needs one finite number, found '{}'",
                    path.display(),
                    value.trim()
                )
            })?;
            nl.values.insert(name, v);
        } else if !KNOWN_NAMELIST.contains(&name.as_str()) {
            let known: Vec<String> = NAMELIST_PARAMS
                .iter()
                .map(|n| n.0)
                .chain(KNOWN_NAMELIST)
                .map(String::from)
                .collect();
            bail!(
                "{}:{lineno}: the demo model has no namelist variable '{name}'; {}",
                path.display(),
                crate::nc::nearest_list(&name, &known),
                name = crate::format::printable(&name)
            );
        }
    }
    Ok(nl)
}

/// A line without its `!` comment (a `!` inside quotes is kept).
fn strip_comment(line: &str) -> &str {
    let mut quote: Option<char> = None;
    for (i, c) in line.char_indices() {
        match (quote, c) {
            (None, '\'' | '"') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (None, '!') => return &line[..i],
            _ => {}
        }
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_nl_lines_parse_like_fortran() {
        let text = "! a comment\n paramfile = '/x/params.nc' ! trailing\nfff = 2.5d-1\nBASEFLOW_SCALAR=1e-3\nhist_fincl1 = 'SOILLIQ','SOILICE'\nhist_nhtfrq(1) = 0\n\n";
        let nl = parse_user_nl(text, Path::new("user_nl_clm")).unwrap();
        assert_eq!(nl.paramfile, Some(PathBuf::from("/x/params.nc")));
        assert_eq!(nl.values["fff"], 0.25);
        assert_eq!(nl.values["baseflow_scalar"], 1e-3);
        assert_eq!(nl.hist_fincl1, vec!["SOILLIQ", "SOILICE"]);
        let e = parse_user_nl("fff = 1\nfdd = 3\n", Path::new("u"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("u:2:") && e.contains("'fdd'") && e.contains("fff"),
            "{e}"
        );
        let e = parse_user_nl("dint = 'abc'", Path::new("u"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("u:1: dint needs one finite number"), "{e}");
        assert!(parse_user_nl("dint = nan", Path::new("u")).is_err());
    }

    #[test]
    fn default_params_file_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("params.nc");
        write_default_params(&p).unwrap();
        let params = read_params(&p).unwrap();
        assert_eq!(params, Params::defaults());
        assert_eq!(params.pft("medlynslope")[4], 4.12);
        assert!((params.pft("kmax")[4] - 2e-8).abs() < 1e-22);
        assert_eq!(params.get("d_max"), 15.0);
        assert!(params.from_paramfile.is_empty());
        let f = netcdf::open(&p).unwrap();
        let names = read_pft_names(&f, &p).unwrap();
        assert_eq!(names[78], "irrigated_tropical_soybean");
        let dims = |v: &str| -> Vec<String> {
            f.variable(v)
                .unwrap()
                .dimensions()
                .iter()
                .map(|d| d.name())
                .collect()
        };
        assert_eq!(dims("kmax"), ["segment", "pft"]);
        assert_eq!(dims("rootprof_beta"), ["variants", "pft"]);
        assert!(f.variable("d_max").is_none() && f.variable("csoilc").is_none());
    }
}
