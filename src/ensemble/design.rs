//! Designs: which scalings in [0, 1] each member of an ensemble gets. A Latin hypercube
//! (seeded; plain or maximin), one-at-a-time min/max runs around the default, a single
//! parameter set (an optimum), or a list read from CSV. A missing scaling (`None`) means the
//! parameter keeps its default: nothing is written for it.

use super::spec::{End, Parameter};
use anyhow::{bail, Context, Result};
use std::path::Path;

/// One member of a design: a label (`1`..`N`, `default`, `medlynslope_min`) and a scaling
/// per parameter (`None` = default).
#[derive(Debug, Clone, PartialEq)]
pub struct DesignMember {
    /// The member's label, used as `{member}` in case names.
    pub label: String,
    /// Scalings, in the design's parameter order.
    pub scalings: Vec<Option<f64>>,
    /// For one-at-a-time members: the parameter and the end (`{param}`, `{end}`).
    pub oaat: Option<(String, End)>,
}

/// A design: parameter names and members.
#[derive(Debug, Clone, PartialEq)]
pub struct Design {
    /// Parameter names (columns).
    pub names: Vec<String>,
    /// Members (rows).
    pub members: Vec<DesignMember>,
    /// How it was made (`latin_hypercube seed=42`, `oaat`, `csv FILE`, ...).
    pub origin: String,
}

/// The most members a design holds (NCAR's largest PPE waves have 1,501): a larger number
/// in a config or a script is an error, not an allocation that fails.
pub const MAX_MEMBERS: usize = 1_000_000;

/// A seeded Latin hypercube of `n` points in `[0, 1]^k`, plain or maximin (the one
/// implementation lives in [`crate::sampling`]).
pub use crate::sampling::latin_hypercube_points;

impl Design {
    /// A seeded Latin hypercube of `n` members over `names`; members are labelled 1..n.
    pub fn latin_hypercube(names: &[String], n: usize, seed: u64, maximin: bool) -> Result<Design> {
        if n == 0 {
            bail!("a Latin hypercube needs at least 1 member");
        }
        if names.is_empty() {
            bail!("a Latin hypercube needs at least 1 parameter");
        }
        if n > MAX_MEMBERS {
            bail!("a Latin hypercube of {n} members: designs hold at most {MAX_MEMBERS} members");
        }
        let pts = latin_hypercube_points(n, names.len(), seed, maximin, 50);
        Ok(Design {
            names: names.to_vec(),
            members: pts
                .into_iter()
                .enumerate()
                .map(|(i, row)| DesignMember {
                    label: (i + 1).to_string(),
                    scalings: row.into_iter().map(Some).collect(),
                    oaat: None,
                })
                .collect(),
            origin: format!(
                "latin_hypercube n={n} seed={seed}{}",
                if maximin { " maximin" } else { "" }
            ),
        })
    }

    /// One-at-a-time runs: a `default` member, then for each parameter its `min` and `max`
    /// members with every other parameter at its default. An end the default run serves as
    /// (`oaat_default_as`) is left out: the default member stands for it.
    pub fn one_at_a_time(params: &[Parameter]) -> Design {
        let names: Vec<String> = params.iter().map(|p| p.name.clone()).collect();
        let mut members = vec![DesignMember {
            label: "default".into(),
            scalings: vec![None; names.len()],
            oaat: None,
        }];
        for (i, p) in params.iter().enumerate() {
            for end in [End::Min, End::Max] {
                if p.oaat_default_as == Some(end) {
                    continue;
                }
                let mut s = vec![None; names.len()];
                s[i] = Some(if end == End::Min { 0.0 } else { 1.0 });
                members.push(DesignMember {
                    label: format!("{}_{}", p.name, end.name()),
                    scalings: s,
                    oaat: Some((p.name.clone(), end)),
                });
            }
        }
        Design {
            names,
            members,
            origin: "one_at_a_time".into(),
        }
    }

    /// A single parameter set (e.g. an optimum) labelled `label`.
    pub fn single(names: &[String], scalings: &[f64], label: &str) -> Result<Design> {
        if names.len() != scalings.len() {
            bail!(
                "{} scalings for {} parameters ({})",
                scalings.len(),
                names.len(),
                names.join(", ")
            );
        }
        for (n, s) in names.iter().zip(scalings) {
            check_scaling(*s).with_context(|| format!("parameter {n}"))?;
        }
        Ok(Design {
            names: names.to_vec(),
            members: vec![DesignMember {
                label: label.to_string(),
                scalings: scalings.iter().copied().map(Some).collect(),
                oaat: None,
            }],
            origin: "single".into(),
        })
    }

    /// Reads a design CSV: a header of parameter names (an optional `member` column labels
    /// the rows, `case` and `name[group]` columns are ignored), one row of scalings per
    /// member. The columns must be exactly `names` (any order); every value is in [0, 1].
    pub fn read_csv(path: &Path, names: &[String]) -> Result<Design> {
        crate::files::check_input(path, "design")?;
        let mut rdr = csv::ReaderBuilder::new()
            .trim(csv::Trim::All)
            .from_path(path)
            .with_context(|| format!("cannot read design {}", path.display()))?;
        let header: Vec<String> = rdr
            .headers()
            .with_context(|| format!("{}: no header", path.display()))?
            .iter()
            .map(str::to_string)
            .collect();
        let member_col = header.iter().position(|h| h == "member");
        let mut cols = Vec::new();
        for n in names {
            let c = header.iter().position(|h| h == n).with_context(|| {
                format!(
                    "{}: no column '{n}' (columns: {})",
                    path.display(),
                    header.join(", "),
                    n = crate::format::printable(n)
                )
            })?;
            cols.push(c);
        }
        for h in &header {
            if h != "member" && h != "case" && !h.contains('[') && !names.contains(h) {
                bail!(
                    "{}: column '{h}' is not a parameter of this design ({})",
                    path.display(),
                    names.join(", "),
                    h = crate::format::printable(h)
                );
            }
        }
        let mut members = Vec::new();
        for (i, rec) in rdr.records().enumerate() {
            let line = i + 2;
            let rec = rec.with_context(|| format!("{}:{line}", path.display()))?;
            let mut s = Vec::new();
            for (n, &c) in names.iter().zip(&cols) {
                let text = rec.get(c).unwrap_or("");
                let x: f64 = text.parse().map_err(|_| {
                    anyhow::anyhow!(
                        "{}:{line}: {n} = '{text}' is not a number",
                        path.display(),
                        text = crate::format::printable(text)
                    )
                })?;
                check_scaling(x).with_context(|| format!("{}:{line}: {n}", path.display()))?;
                s.push(Some(x));
            }
            let label = match member_col {
                Some(c) => {
                    let l = rec.get(c).unwrap_or("").to_string();
                    super::check_label(&l).with_context(|| format!("{}:{line}", path.display()))?;
                    l
                }
                None => (i + 1).to_string(),
            };
            members.push(DesignMember {
                label,
                scalings: s,
                oaat: None,
            });
        }
        if members.is_empty() {
            bail!("{}: no members", path.display());
        }
        let mut seen = std::collections::BTreeSet::new();
        for m in &members {
            if !seen.insert(&m.label) {
                bail!("{}: member '{}' appears twice", path.display(), m.label);
            }
        }
        Ok(Design {
            names: names.to_vec(),
            members,
            origin: format!("csv {}", path.display()),
        })
    }

    /// Writes the scalings as a design CSV (`member`, then one column per parameter) that
    /// [`Design::read_csv`] reads; atomic.
    pub fn write_csv(&self, path: &Path) -> Result<()> {
        let mut head = vec!["member".to_string()];
        head.extend(self.names.iter().cloned());
        crate::array::csv::write_records(
            path,
            &head,
            self.members.iter().map(|m| {
                let mut row = vec![m.label.clone()];
                row.extend(
                    m.scalings
                        .iter()
                        .map(|s| s.map_or(String::new(), crate::array::csv::fmt_number)),
                );
                row
            }),
        )
    }
}

/// A scaling must be a finite number in [0, 1].
fn check_scaling(s: f64) -> Result<()> {
    if !(0.0..=1.0).contains(&s) {
        bail!("scaling {s} is outside [0, 1]");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The Latin hypercube property: every column has exactly one point in each stratum.
    fn strata_hold(pts: &[Vec<f64>]) -> bool {
        let n = pts.len();
        (0..pts[0].len()).all(|j| {
            let mut hit = vec![0; n];
            for p in pts {
                let s = (p[j] * n as f64).floor() as usize;
                if s >= n {
                    return false;
                }
                hit[s] += 1;
            }
            hit.iter().all(|&h| h == 1)
        })
    }

    #[test]
    fn latin_hypercube_strata_hold_for_several_seeds_and_sizes() {
        for &(n, k) in &[(1, 3), (2, 1), (7, 6), (100, 6), (1000, 2), (33, 17)] {
            for seed in [0, 1, 42, 12345] {
                for maximin in [false, true] {
                    let pts = latin_hypercube_points(n, k, seed, maximin, 5);
                    assert_eq!(pts.len(), n);
                    assert!(strata_hold(&pts), "n={n} k={k} seed={seed}");
                    assert!(pts.iter().flatten().all(|x| (0.0..1.0).contains(x)));
                }
            }
        }
        // the property can fail: two points in one stratum are caught
        assert!(!strata_hold(&[vec![0.1], vec![0.2]]));
    }

    #[test]
    fn latin_hypercube_is_seeded_and_maximin_spreads_points() {
        let a = latin_hypercube_points(20, 3, 7, false, 1);
        assert_eq!(a, latin_hypercube_points(20, 3, 7, false, 1));
        assert_ne!(a, latin_hypercube_points(20, 3, 8, false, 1));
        let md = |p: &[Vec<f64>]| {
            let mut m = f64::INFINITY;
            for i in 0..p.len() {
                for j in i + 1..p.len() {
                    m = m.min(p[i].iter().zip(&p[j]).map(|(x, y)| (x - y).powi(2)).sum());
                }
            }
            m
        };
        // maximin keeps the best of 50 candidates, whose first is the plain one
        let plain = latin_hypercube_points(20, 3, 7, false, 1);
        let mm = latin_hypercube_points(20, 3, 7, true, 50);
        assert!(md(&mm) >= md(&plain));
        assert!(md(&mm) > 1.5 * md(&plain), "{} vs {}", md(&mm), md(&plain));
    }

    #[test]
    fn csv_round_trip_and_refusals() {
        let dir = tempfile::tempdir().unwrap();
        let names: Vec<String> = vec!["kmax".into(), "fff".into()];
        let d = Design::latin_hypercube(&names, 5, 3, false).unwrap();
        let p = dir.path().join("d.csv");
        d.write_csv(&p).unwrap();
        let back = Design::read_csv(&p, &names).unwrap();
        assert_eq!(back.members, d.members);
        // columns in another order
        std::fs::write(&p, "fff,kmax\n0.5,0.25\n").unwrap();
        let r = Design::read_csv(&p, &names).unwrap();
        assert_eq!(r.members[0].scalings, vec![Some(0.25), Some(0.5)]);
        assert_eq!(r.members[0].label, "1");
        std::fs::write(&p, "fff,kmax\n0.5,1.25\n").unwrap();
        let e = format!("{:#}", Design::read_csv(&p, &names).unwrap_err());
        assert!(
            e.contains("d.csv:2: kmax") && e.contains("outside [0, 1]"),
            "{e}"
        );
        std::fs::write(&p, "fff,kmx\n0.5,0.2\n").unwrap();
        let e = format!("{:#}", Design::read_csv(&p, &names).unwrap_err());
        assert!(e.contains("no column 'kmax'"), "{e}");
        std::fs::write(&p, "member,fff,kmax\n../x,0.5,0.2\n").unwrap();
        assert!(Design::read_csv(&p, &names).is_err());
    }
}
