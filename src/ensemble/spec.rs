//! The parameter spec (contract section 2): which CLM parameters are perturbed, where they
//! live (params file or namelist), their PFT groups and ranges. A scaling `s` in [0, 1] maps
//! to `min + s * (max - min)` in every group at once, or for a relative range to
//! `default * (1 + lo + s * (hi - lo))` for each PFT's own default.

use crate::clm;
use anyhow::{bail, Context, Result};
use serde::Deserialize;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Where a parameter is set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Location {
    /// A variable of the params file (`paramfile = '...'` in `user_nl_clm`).
    Paramfile,
    /// A namelist value in `user_nl_clm`.
    Namelist,
}

/// An end of a parameter's range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// The low end (scaling 0).
    Min,
    /// The high end (scaling 1).
    Max,
}

impl End {
    /// `min` or `max`.
    pub fn name(self) -> &'static str {
        match self {
            End::Min => "min",
            End::Max => "max",
        }
    }
}

/// A parameter's range.
#[derive(Debug, Clone, PartialEq)]
pub enum Range {
    /// Physical `min` and `max`, one pair per group.
    Absolute {
        /// Low end per group.
        min: Vec<f64>,
        /// High end per group.
        max: Vec<f64>,
    },
    /// A fraction of each PFT's own default: `[lo, hi]`, e.g. `[-0.2, 0.2]`.
    Relative {
        /// Low fraction.
        lo: f64,
        /// High fraction.
        hi: f64,
    },
}

/// A PFT group of a parameter: its name (as in `name[group]` columns) and PFT indices (empty
/// for a variable without a `pft` dimension, or a namelist value).
#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    /// Group name (`groups` entry, else the index text, else `value`).
    pub name: String,
    /// Indices into the `pft` dimension.
    pub pfts: Vec<usize>,
}

/// One value written: to these PFTs (at every index of the variable's other dimensions, e.g.
/// each `segment` of `kmax` or each `variants` entry of `rootprof_beta`, unless the
/// parameter's `dim_indices` narrows them), or to the whole variable when `pfts` is empty.
#[derive(Debug, Clone, PartialEq)]
pub struct Write {
    /// PFT indices, empty = the whole variable.
    pub pfts: Vec<usize>,
    /// The physical value, or for a relative write the factor.
    pub value: f64,
    /// `value` is a factor on each written element's own value in the base params file (a
    /// relative range), not the value itself.
    pub relative: bool,
}

impl Write {
    /// A write of the physical `value` to `pfts`.
    pub fn value(pfts: Vec<usize>, value: f64) -> Write {
        Write {
            pfts,
            value,
            relative: false,
        }
    }
}

/// One parameter of the spec, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct Parameter {
    /// CLM's name: params-file variable or namelist key.
    pub name: String,
    /// Where it is set.
    pub location: Location,
    /// Units, if given.
    pub units: Option<String>,
    /// Description, if given.
    pub description: Option<String>,
    /// PFT groups (one group named `value` for a scalar).
    pub groups: Vec<Group>,
    /// The range.
    pub range: Range,
    /// Default per group, if known (given in the spec, or read from the base params file
    /// when every PFT of the group has the same value there).
    pub default: Option<Vec<f64>>,
    /// Each PFT's default (79 values; paramfile parameters with PFT groups and a base file, or
    /// expanded from per-group defaults).
    pub pft_default: Option<Vec<f64>>,
    /// The default run serves as this end of the one-at-a-time pair.
    pub oaat_default_as: Option<End>,
    /// Indices of the variable's dimensions other than `pft` that are written (spec key
    /// `dim_indices`, e.g. `{ variants = "0" }` for the first variant of `rootprof_beta`);
    /// a dimension not named here is written at every index.
    pub dim_indices: Vec<(String, Vec<usize>)>,
}

impl Parameter {
    /// Whether the parameter has PFT groups.
    pub fn per_pft(&self) -> bool {
        self.groups.iter().any(|g| !g.pfts.is_empty())
    }

    /// The values written at scaling `s` in [0, 1].
    pub fn writes(&self, s: f64) -> Vec<Write> {
        match &self.range {
            Range::Absolute { min, max } => self
                .groups
                .iter()
                .enumerate()
                .map(|(g, grp)| Write::value(grp.pfts.clone(), min[g] + s * (max[g] - min[g])))
                .collect(),
            Range::Relative { lo, hi } => {
                let f = 1.0 + lo + s * (hi - lo);
                if self.location == Location::Paramfile {
                    // each element's own value in the base file times f (so segments and
                    // variants that differ keep their proportions)
                    return self
                        .groups
                        .iter()
                        .map(|g| Write {
                            pfts: g.pfts.clone(),
                            value: f,
                            relative: true,
                        })
                        .collect();
                }
                let d = self.default.as_deref().unwrap_or(&[]);
                self.groups
                    .iter()
                    .zip(d)
                    .map(|(g, d)| Write::value(g.pfts.clone(), d * f))
                    .collect()
            }
        }
    }

    /// The default's scaling in [0, 1]: per group `(default - min) / (max - min)` (for a
    /// relative range, where factor 1 lies), and their mean with the lowest and highest
    /// when groups differ (the default run is then not on the design's line: no one scaling
    /// gives it); `None` when the default is unknown.
    pub fn default_scaling(&self) -> Option<(f64, f64, f64)> {
        let per_group: Vec<f64> = match &self.range {
            Range::Absolute { min, max } => {
                let d = self.default.as_ref()?;
                d.iter()
                    .zip(min.iter().zip(max))
                    .map(|(d, (a, b))| if b > a { (d - a) / (b - a) } else { 0.0 })
                    .collect()
            }
            Range::Relative { lo, hi } => vec![if hi > lo { -lo / (hi - lo) } else { 0.0 }],
        };
        if per_group.is_empty() || per_group.iter().any(|s| !s.is_finite()) {
            return None;
        }
        let mean = per_group.iter().sum::<f64>() / per_group.len() as f64;
        let lo = per_group.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = per_group.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        Some((mean, lo, hi))
    }

    /// The columns of the physical values in `design.csv`: `name[group]` for absolute ranges,
    /// `name[x default]` (the factor on each PFT's default) for relative ones.
    pub fn value_columns(&self) -> Vec<String> {
        match self.range {
            Range::Absolute { .. } => self
                .groups
                .iter()
                .map(|g| format!("{}[{}]", self.name, g.name))
                .collect(),
            Range::Relative { .. } => vec![format!("{}[x default]", self.name)],
        }
    }

    /// The physical values of [`Parameter::value_columns`] at scaling `s`, or the defaults
    /// (NaN where unknown) for `None`.
    pub fn column_values(&self, s: Option<f64>) -> Vec<f64> {
        match (&self.range, s) {
            (Range::Absolute { min, max }, Some(s)) => {
                min.iter().zip(max).map(|(a, b)| a + s * (b - a)).collect()
            }
            (Range::Absolute { .. }, None) => self
                .default
                .clone()
                .unwrap_or_else(|| vec![f64::NAN; self.groups.len()]),
            (Range::Relative { lo, hi }, Some(s)) => vec![1.0 + lo + s * (hi - lo)],
            (Range::Relative { .. }, None) => vec![1.0],
        }
    }
}

/// The parameter spec.
#[derive(Debug, Clone, PartialEq)]
pub struct Spec {
    /// The file it was read from.
    pub path: PathBuf,
    /// The base params file (defaults of paramfile parameters), resolved.
    pub base_paramfile: Option<PathBuf>,
    /// The parameters, in file order.
    pub parameters: Vec<Parameter>,
    /// Notes printed while checking the spec against its base params file (a default the
    /// spec gives that the file disagrees with; the default run uses the file).
    pub notes: Vec<String>,
}

/// A number or a list of numbers.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum Numbers {
    One(f64),
    Many(Vec<f64>),
}

impl Numbers {
    fn to_vec(&self) -> Vec<f64> {
        match self {
            Numbers::One(x) => vec![*x],
            Numbers::Many(v) => v.clone(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawParameter {
    name: String,
    location: String,
    units: Option<String>,
    description: Option<String>,
    groups: Option<Vec<String>>,
    pft_indices: Option<Vec<String>>,
    default: Option<Numbers>,
    min: Option<Numbers>,
    max: Option<Numbers>,
    relative: Option<[f64; 2]>,
    oaat_default_as: Option<String>,
    dim_indices: Option<std::collections::BTreeMap<String, String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSpec {
    base_paramfile: Option<PathBuf>,
    #[serde(default)]
    parameter: Vec<RawParameter>,
}

/// Whether `name` is a Fortran identifier (letters, digits, underscores; a letter first) —
/// the only names written into `user_nl_clm` or looked up in a params file.
pub fn is_identifier(name: &str) -> bool {
    let mut c = name.chars();
    c.next().is_some_and(|f| f.is_ascii_alphabetic())
        && c.all(|x| x.is_ascii_alphanumeric() || x == '_')
        && name.len() <= 64
}

impl Spec {
    /// Reads and checks a spec; with a base params file, checks every paramfile parameter
    /// against it and reads the defaults the spec does not give.
    pub fn load(path: &Path) -> Result<Spec> {
        let text = crate::files::read_text(path, "parameter spec")?;
        Spec::parse(&text, path)
    }

    /// As [`Spec::load`], read once per file version: the parsed spec is kept while neither
    /// the spec file nor its base params file changes (modification time and size), so that
    /// the ensemble functions of a script, each given the config, read it once.
    pub fn load_cached(path: &Path) -> Result<Spec> {
        type Stamp = Option<(std::time::SystemTime, u64)>;
        fn stamp(p: &Path) -> Stamp {
            let m = std::fs::metadata(p).ok()?;
            Some((m.modified().ok()?, m.len()))
        }
        static CACHE: std::sync::Mutex<Vec<(PathBuf, Stamp, Stamp, Spec)>> =
            std::sync::Mutex::new(Vec::new());
        let key = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
        let own = stamp(path);
        if own.is_some() {
            if let Ok(cache) = CACHE.lock() {
                let hit = cache.iter().find(|(p, s, b, spec)| {
                    *p == key && *s == own && *b == spec.base_paramfile.as_deref().and_then(stamp)
                });
                if let Some((.., spec)) = hit {
                    return Ok(spec.clone());
                }
            }
        }
        let spec = Spec::load(path)?;
        if own.is_some() {
            if let Ok(mut cache) = CACHE.lock() {
                let base = spec.base_paramfile.as_deref().and_then(stamp);
                cache.retain(|(p, ..)| *p != key);
                // a few experiments at most in one process
                if cache.len() >= 16 {
                    cache.remove(0);
                }
                cache.push((key, own, base, spec.clone()));
            }
        }
        Ok(spec)
    }

    /// Parses spec text as if read from `path` (relative paths are relative to its folder),
    /// then checks it against its base params file.
    pub fn parse(text: &str, path: &Path) -> Result<Spec> {
        let mut spec = Spec::parse_text(text, path)?;
        if let Some(base) = spec.base_paramfile.clone() {
            spec.read_defaults(&base)?;
        }
        spec.check_defaults()?;
        Ok(spec)
    }

    /// Parses spec text without opening the base params file (defaults then come from the
    /// spec only).
    pub fn parse_text(text: &str, path: &Path) -> Result<Spec> {
        let raw: RawSpec = crate::toml_read::from_toml(text, path)?;
        let base_paramfile = raw.base_paramfile.map(|p| {
            if p.is_relative() {
                path.parent().unwrap_or(Path::new("")).join(p)
            } else {
                p
            }
        });
        let mut parameters = Vec::new();
        let mut seen = BTreeSet::new();
        for (i, r) in raw.parameter.into_iter().enumerate() {
            let label = format!("{}: [[parameter]] {} ('{}')", path.display(), i + 1, r.name);
            let p = check_parameter(r).with_context(|| label.clone())?;
            if !seen.insert(p.name.to_lowercase()) {
                bail!("{label}: '{}' is given twice", p.name);
            }
            parameters.push(p);
        }
        if parameters.is_empty() {
            bail!("{}: no [[parameter]] entries", path.display());
        }
        Ok(Spec {
            path: path.to_path_buf(),
            base_paramfile,
            parameters,
            notes: Vec::new(),
        })
    }

    /// A relative range needs a default.
    fn check_defaults(&self) -> Result<()> {
        for p in &self.parameters {
            if matches!(p.range, Range::Relative { .. })
                && p.pft_default.is_none()
                && p.default.is_none()
            {
                bail!(
                    "{}: parameter '{}' has a relative range but no default: give `default` or a \
                     base_paramfile that holds it",
                    self.path.display(),
                    p.name
                );
            }
        }
        Ok(())
    }

    /// The parameter called `name` (an unknown name is an error naming the nearest).
    pub fn get(&self, name: &str) -> Result<&Parameter> {
        self.parameters
            .iter()
            .find(|p| p.name == name)
            .with_context(|| {
                let known: Vec<String> = self.parameters.iter().map(|p| p.name.clone()).collect();
                format!(
                    "parameter '{}' is not in the spec {}; {}",
                    crate::format::printable(name),
                    self.path.display(),
                    crate::nc::nearest_list(name, &known)
                )
            })
    }

    /// The parameters called `names`, in that order (empty = all).
    pub fn select(&self, names: &[String]) -> Result<Vec<Parameter>> {
        if names.is_empty() {
            return Ok(self.parameters.clone());
        }
        names.iter().map(|n| self.get(n).cloned()).collect()
    }

    /// Checks the paramfile parameters against the base params file and fills the defaults.
    fn read_defaults(&mut self, base: &Path) -> Result<()> {
        let file = crate::nc::open(base)
            .with_context(|| format!("base_paramfile of {}", self.path.display()))?;
        let names = clm::read_pft_names(&file, base)?;
        clm::check_pft_order(&names, base)?;
        let mut notes = Vec::new();
        for p in self
            .parameters
            .iter_mut()
            .filter(|p| p.location == Location::Paramfile)
        {
            let var = crate::nc::variable(&file, base, &p.name)
                .with_context(|| format!("parameter '{}' of {}", p.name, self.path.display()))?;
            let layout = super::paramfile::Layout::of(&var, base, &p.name, &p.dim_indices)
                .with_context(|| format!("parameter '{}' of {}", p.name, self.path.display()))?;
            let has_pft = layout.pft_pos.is_some();
            if p.per_pft() != has_pft {
                bail!(
                    "{}: parameter '{}' {} but {} has dimensions ({})",
                    self.path.display(),
                    p.name,
                    if p.per_pft() {
                        "has pft_indices"
                    } else {
                        "has no pft_indices"
                    },
                    base.display(),
                    layout.dims.join(", ")
                );
            }
            let values = crate::nc::read_f64(&file, base, &p.name)?;
            // the values written, by PFT (every written index of the other dimensions)
            let mut by_pft: Vec<Vec<f64>> = vec![Vec::new(); if has_pft { clm::NPFT } else { 1 }];
            for (i, pft) in layout.positions() {
                by_pft[pft.unwrap_or(0)].push(values[i]);
            }
            // each PFT's default: its first written value (e.g. segment 1 of kmax)
            let per_pft: Vec<f64> = by_pft
                .iter()
                .map(|v| v.first().copied().unwrap_or(f64::NAN))
                .collect();
            let group_values = |g: &Group| -> Vec<f64> {
                if g.pfts.is_empty() {
                    by_pft[0].clone()
                } else {
                    g.pfts
                        .iter()
                        .flat_map(|&k| by_pft[k].iter().copied())
                        .collect()
                }
            };
            let group_default: Vec<Option<f64>> = p
                .groups
                .iter()
                .map(|g| {
                    let v = group_values(g);
                    let first = *v.first()?;
                    v.iter().all(|&x| x == first).then_some(first)
                })
                .collect();
            match &p.default {
                Some(given) => {
                    for ((g, d), f) in p.groups.iter().zip(given).zip(&group_default) {
                        match f {
                            Some(f) if (d - f).abs() > 1e-6 * f.abs().max(d.abs()) => {
                                notes.push(format!(
                                    "note: {}: {} default[{}] = {d} but {} has {f} (the \
                                     default run uses the file)",
                                    self.path.display(),
                                    p.name,
                                    g.name,
                                    base.display()
                                ));
                            }
                            Some(_) => {}
                            None => {
                                let v = group_values(g);
                                let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
                                let hi = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                                let differ = v
                                    .iter()
                                    .filter(|&&x| (x - d).abs() > 1e-6 * x.abs().max(d.abs()))
                                    .count();
                                notes.push(format!(
                                    "note: {}: {} default[{}] = {d} but {}'s values there vary \
                                     by PFT{} ({lo} to {hi}; {differ} of {} differ from {d}); \
                                     the default run uses the file's values",
                                    self.path.display(),
                                    p.name,
                                    g.name,
                                    base.display(),
                                    if layout.dims.len() > 1 {
                                        format!(
                                            " or {}",
                                            layout
                                                .dims
                                                .iter()
                                                .filter(|d| *d != "pft")
                                                .cloned()
                                                .collect::<Vec<_>>()
                                                .join("/")
                                        )
                                    } else {
                                        String::new()
                                    },
                                    v.len()
                                ));
                            }
                        }
                    }
                }
                None => {
                    if group_default.iter().all(Option::is_some) {
                        p.default = Some(group_default.iter().map(|x| x.unwrap_or(0.0)).collect());
                    }
                }
            }
            if has_pft {
                p.pft_default = Some(per_pft);
            }
        }
        for n in &notes {
            crate::output::println(n);
        }
        self.notes = notes;
        Ok(())
    }
}

fn check_parameter(r: RawParameter) -> Result<Parameter> {
    if !is_identifier(&r.name) {
        bail!(
            "name '{}' is not a CLM parameter name (letters, digits and underscores, a letter \
             first)",
            r.name.escape_debug()
        );
    }
    let location = match r.location.as_str() {
        "paramfile" => Location::Paramfile,
        "namelist" => Location::Namelist,
        other => bail!(
            "location = '{other}': use paramfile or namelist",
            other = crate::format::printable(other)
        ),
    };
    let finite = |key: &str, v: &[f64]| -> Result<()> {
        if let Some(x) = v.iter().find(|x| !x.is_finite()) {
            bail!("{key} holds {x}, not a finite number");
        }
        Ok(())
    };
    let groups: Vec<Group> = match (&r.pft_indices, &r.groups) {
        (None, Some(_)) => {
            bail!("groups without pft_indices: give one pft_indices entry per group")
        }
        (None, None) => vec![Group {
            name: "value".into(),
            pfts: Vec::new(),
        }],
        (Some(idx), names) => {
            if location == Location::Namelist {
                bail!("a namelist parameter has no pft_indices");
            }
            if let Some(n) = names {
                if n.len() != idx.len() {
                    bail!(
                        "groups has {} names but pft_indices has {} entries",
                        n.len(),
                        idx.len()
                    );
                }
            }
            let mut used = BTreeSet::new();
            let mut out = Vec::new();
            for (g, text) in idx.iter().enumerate() {
                let pfts = clm::parse_indices(text).context("pft_indices")?;
                if let Some(p) = pfts.iter().find(|p| !used.insert(**p)) {
                    bail!("pft_indices: PFT {p} is in two groups");
                }
                let name = names.as_ref().map_or(text.clone(), |n| n[g].clone());
                if name.contains(['"', '\n', '\r', ',']) {
                    bail!(
                        "group name '{}' holds a quote, comma or newline",
                        name.escape_debug()
                    );
                }
                out.push(Group { name, pfts });
            }
            if out.is_empty() {
                bail!("pft_indices is empty");
            }
            out
        }
    };
    let ng = groups.len();
    let per_group = |key: &str, v: &Option<Numbers>| -> Result<Option<Vec<f64>>> {
        let Some(v) = v else { return Ok(None) };
        let v = v.to_vec();
        finite(key, &v)?;
        match v.len() {
            1 => Ok(Some(vec![v[0]; ng])),
            n if n == ng => Ok(Some(v)),
            n => bail!("{key} has {n} values for {ng} groups"),
        }
    };
    let default = per_group("default", &r.default)?;
    let range = match (
        per_group("min", &r.min)?,
        per_group("max", &r.max)?,
        r.relative,
    ) {
        (Some(min), Some(max), None) => {
            for (g, (a, b)) in min.iter().zip(&max).enumerate() {
                if a >= b {
                    bail!("min {a} is not below max {b} (group '{}')", groups[g].name);
                }
            }
            Range::Absolute { min, max }
        }
        (None, None, Some([lo, hi])) => {
            finite("relative", &[lo, hi])?;
            if lo >= hi || lo <= -1.0 {
                bail!("relative = [{lo}, {hi}]: need -1 < lo < hi");
            }
            Range::Relative { lo, hi }
        }
        (_, _, Some(_)) => bail!("give either relative or min and max, not both"),
        (Some(_), None, None) => bail!("min without max"),
        (None, Some(_), None) => bail!("max without min"),
        (None, None, None) => bail!("no range: give min and max, or relative"),
    };
    let oaat_default_as = match r.oaat_default_as.as_deref() {
        None => None,
        Some("min") => Some(End::Min),
        Some("max") => Some(End::Max),
        Some(o) => bail!(
            "oaat_default_as = '{o}': use min or max",
            o = crate::format::printable(o)
        ),
    };
    let pft_default = default
        .as_ref()
        .filter(|_| !groups[0].pfts.is_empty())
        .map(|d| {
            let mut v = vec![f64::NAN; clm::NPFT];
            for (g, x) in groups.iter().zip(d) {
                for &p in &g.pfts {
                    v[p] = *x;
                }
            }
            v
        });
    let mut dim_indices = Vec::new();
    for (dim, text) in r.dim_indices.unwrap_or_default() {
        if location == Location::Namelist {
            bail!("a namelist parameter has no dim_indices");
        }
        if dim == "pft" {
            bail!("dim_indices: give the PFTs with pft_indices, not dim_indices.pft");
        }
        if !is_identifier(&dim) {
            bail!(
                "dim_indices: '{}' is not a dimension name",
                dim.escape_debug()
            );
        }
        let idx = parse_index_list(&text).with_context(|| format!("dim_indices.{dim}"))?;
        dim_indices.push((dim, idx));
    }
    Ok(Parameter {
        name: r.name,
        location,
        units: r.units,
        description: r.description,
        groups,
        range,
        default,
        pft_default,
        oaat_default_as,
        dim_indices,
    })
}

/// Parses an index list such as `"0"` or `"0-1,3"` (0-based indices along a dimension; the
/// dimension's length is checked against the params file when it is opened).
pub fn parse_index_list(text: &str) -> Result<Vec<usize>> {
    let mut out = Vec::new();
    for part in text.split(',') {
        let part = part.trim();
        let (a, b) = part.split_once('-').unwrap_or((part, part));
        match (a.trim().parse::<usize>(), b.trim().parse::<usize>()) {
            (Ok(a), Ok(b)) if a <= b => out.extend(a..=b),
            _ => bail!(
                "'{}': '{}' is not an index or a range like 0-1",
                text.escape_debug(),
                part.escape_debug()
            ),
        }
    }
    out.sort_unstable();
    out.dedup();
    Ok(out)
}
