//! `[cases] failed`: what a member that failed does to the stages after it. NCAR's PPE runs
//! drop the members that crash (by hand); the paper's 100 had none. The policy:
//!
//! - `failed = "stop"` (the default): a failed member stops every later stage, naming it.
//! - `failed = "drop"`: the later stages (EOFs, emulators, history matching) go on with the
//!   members that completed; the dropped ones are said in every stage's output, in `run.json`
//!   and in the summary.
//! - `failed = { resubmit = N }`: a member that failed is submitted again, up to N more times
//!   (its record counts the attempts), then the policy `then` (`"stop"` unless
//!   `{ resubmit = N, then = "drop" }`).
//!
//! Dropping applies to the perturbed-parameter ensembles (`ppe`, `ppe_test`): the
//! one-at-a-time runs, the default run and the runs of calibrated parameters are each needed,
//! so a failure there stops, whatever the policy (resubmission applies to every ensemble).

use serde::{Deserialize, Serialize};

/// What happens once a failed member has no resubmission left.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Then {
    /// Later stages stop, naming the member.
    #[default]
    Stop,
    /// Later stages go on without it.
    Drop,
}

/// The policy of `[cases] failed`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Failed {
    /// How many more times a failed member is submitted.
    pub resubmit: u32,
    /// What a member still failed after its resubmissions does.
    pub then: Then,
}

impl Failed {
    /// Whether a member submitted `attempts` times may be submitted again.
    pub fn may_resubmit(&self, attempts: u32) -> bool {
        attempts <= self.resubmit
    }

    /// The same policy with dropping turned into stopping (for ensembles whose every member
    /// is needed).
    pub fn never_drop(self) -> Failed {
        Failed {
            then: Then::Stop,
            ..self
        }
    }
}

impl std::fmt::Display for Failed {
    /// As the config writes it: `"stop"`, `"drop"`, `{ resubmit = 1 }`,
    /// `{ resubmit = 1, then = "drop" }`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let then = match self.then {
            Then::Stop => "stop",
            Then::Drop => "drop",
        };
        match (self.resubmit, self.then) {
            (0, _) => write!(f, "\"{then}\""),
            (n, Then::Stop) => write!(f, "{{ resubmit = {n} }}"),
            (n, Then::Drop) => write!(f, "{{ resubmit = {n}, then = \"drop\" }}"),
        }
    }
}

/// The forms `failed` takes in the config.
#[derive(Deserialize, Serialize)]
#[serde(untagged)]
enum Form {
    Word(String),
    Table {
        resubmit: u32,
        #[serde(default)]
        then: Then,
    },
}

impl<'de> Deserialize<'de> for Failed {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Failed, D::Error> {
        use serde::de::Error;
        let value = toml::Value::deserialize(d)?;
        let bad = || {
            D::Error::custom(format!(
                "failed = {value}: use \"stop\", \"drop\", {{ resubmit = N }} or \
                 {{ resubmit = N, then = \"drop\" }}"
            ))
        };
        if let toml::Value::Table(t) = &value {
            if let Some(k) = t
                .keys()
                .find(|k| !["resubmit", "then"].contains(&k.as_str()))
            {
                return Err(D::Error::custom(format!(
                    "failed = {value}: unknown key '{}': use resubmit and then",
                    crate::format::printable(k)
                )));
            }
        }
        match Form::deserialize(value.clone()).map_err(|_| bad())? {
            Form::Word(w) => match w.as_str() {
                "stop" => Ok(Failed::default()),
                "drop" => Ok(Failed {
                    resubmit: 0,
                    then: Then::Drop,
                }),
                _ => Err(bad()),
            },
            Form::Table { resubmit, then } if resubmit <= 100 => Ok(Failed { resubmit, then }),
            Form::Table { .. } => Err(D::Error::custom(format!(
                "failed = {value}: resubmit at most 100 times"
            ))),
        }
    }
}

impl Serialize for Failed {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match (self.resubmit, self.then) {
            (0, Then::Stop) => s.serialize_str("stop"),
            (0, Then::Drop) => s.serialize_str("drop"),
            (resubmit, then) => Form::Table { resubmit, then }.serialize(s),
        }
    }
}

/// A member a stage goes on without.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Dropped {
    /// Member label.
    pub member: String,
    /// Case name.
    pub case: String,
    /// Why: its status and message (the failure, or what the archive lacks).
    pub why: String,
}

/// One line saying which members a stage goes on without, e.g. `ppe: 98 of 100 members;
/// 2 dropped ([cases] failed = "drop"): demo_LHC_17 (case.run error: ...), demo_LHC_42 (...)`;
/// `None` when none was dropped.
pub fn note(ensemble: &str, used: usize, dropped: &[Dropped]) -> Option<String> {
    if dropped.is_empty() {
        return None;
    }
    let shown: Vec<String> = dropped
        .iter()
        .take(10)
        .map(|d| format!("{} ({})", d.case, crate::format::printable_message(&d.why)))
        .collect();
    Some(format!(
        "{ensemble}: {used} of {} members; {} failed and dropped ([cases] failed = \"drop\"): {}{}",
        used + dropped.len(),
        dropped.len(),
        shown.join(", "),
        if dropped.len() > 10 {
            format!(", and {} more", dropped.len() - 10)
        } else {
            String::new()
        }
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize, Serialize)]
    struct Cases {
        failed: Failed,
    }

    fn parse(text: &str) -> Result<Failed, String> {
        toml::from_str::<Cases>(text)
            .map(|c| c.failed)
            .map_err(|e| e.message().to_string())
    }

    #[test]
    fn every_form_reads_and_writes_back() {
        for (text, want) in [
            ("failed = \"stop\"", Failed::default()),
            (
                "failed = \"drop\"",
                Failed {
                    resubmit: 0,
                    then: Then::Drop,
                },
            ),
            (
                "failed = { resubmit = 2 }",
                Failed {
                    resubmit: 2,
                    then: Then::Stop,
                },
            ),
            (
                "failed = { resubmit = 1, then = \"drop\" }",
                Failed {
                    resubmit: 1,
                    then: Then::Drop,
                },
            ),
        ] {
            let got = parse(text).unwrap();
            assert_eq!(got, want, "{text}");
            let back = toml::to_string(&Cases { failed: got }).unwrap();
            assert_eq!(parse(&back).unwrap(), want, "{back}");
            assert_eq!(format!("failed = {got}"), text);
        }
        // two resubmissions: the first submission and two more, then no more
        let p = parse("failed = { resubmit = 2 }").unwrap();
        assert_eq!(
            (1..=4).map(|a| p.may_resubmit(a)).collect::<Vec<_>>(),
            [true, true, false, false]
        );
        assert_eq!(p.never_drop(), p);
        assert_eq!(
            parse("failed = \"drop\"").unwrap().never_drop(),
            Failed::default()
        );
    }

    #[test]
    fn a_wrong_form_says_what_to_write() {
        for (text, says) in [
            (
                "failed = \"skip\"",
                "use \"stop\", \"drop\", { resubmit = N }",
            ),
            ("failed = 3", "use \"stop\", \"drop\""),
            ("failed = { resubmit = -1 }", "use \"stop\""),
            (
                "failed = { resubmit = 1, then = \"ignore\" }",
                "use \"stop\"",
            ),
            (
                "failed = { resubmit = 1, retries = 2 }",
                "unknown key 'retries'",
            ),
            ("failed = { resubmit = 1000 }", "at most 100"),
        ] {
            let e = parse(text).unwrap_err();
            assert!(e.contains(says), "{text}: {e}");
        }
    }

    #[test]
    fn the_note_counts_and_names_the_dropped() {
        assert_eq!(note("ppe", 10, &[]), None);
        let d = |k: usize| Dropped {
            member: k.to_string(),
            case: format!("c{k}"),
            why: "failed: case.run error".into(),
        };
        let n = note("ppe", 98, &[d(17), d(42)]).unwrap();
        assert_eq!(
            n,
            "ppe: 98 of 100 members; 2 failed and dropped ([cases] failed = \"drop\"): \
             c17 (failed: case.run error), c42 (failed: case.run error)"
        );
        let many: Vec<Dropped> = (0..12).map(d).collect();
        assert!(note("ppe", 1, &many)
            .unwrap()
            .ends_with("c9 (failed: case.run error), and 2 more"));
    }
}
