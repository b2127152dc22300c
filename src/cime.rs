//! Facts about CIME case folders that every backend shares: the `<entry id=... value=...>`
//! entries of `env_case.xml` / `env_run.xml`, the settings a case made for a model run in
//! this process carries, and the stable seed derived from a case name.

use anyhow::{Context, Result};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The CIME settings of a case that a model run in this process reads (the `local`
/// backend's cases: CASE, DOUT_S_ROOT, RUN_STARTDATE, STOP_N, the DATM years).
#[derive(Debug, Clone)]
pub struct CaseSetup {
    /// Case name (CASE).
    pub case: String,
    /// Short-term archive of this case (DOUT_S_ROOT), e.g. `ARCHIVE/CASE`.
    pub archive: PathBuf,
    /// First simulated year written (RUN_STARTDATE's year); earlier years are spun up in
    /// memory.
    pub start_year: i64,
    /// Years simulated and written (STOP_N with STOP_OPTION = nyears).
    pub stop_years: i64,
    /// DATM forcing years cycled (DATM_CLMNCEP_YR_START, _END).
    pub datm_years: (i64, i64),
}

/// Writes `env_case.xml` (CASE, CASEROOT, MODEL = `model`) and `env_run.xml`
/// (RUN_STARTDATE, STOP_OPTION = nyears, STOP_N, DATM_CLMNCEP_YR_START/END, DOUT_S_ROOT) of
/// a case folder, as CIME's `./xmlchange` leaves them.
pub fn write_case_settings(casedir: &Path, s: &CaseSetup, model: &str) -> Result<()> {
    write_env_xml(
        &casedir.join("env_case.xml"),
        &[
            ("CASE", s.case.clone()),
            ("CASEROOT", casedir.display().to_string()),
            ("MODEL", model.to_string()),
        ],
    )?;
    write_env_xml(
        &casedir.join("env_run.xml"),
        &[
            ("RUN_STARTDATE", format!("{:04}-01-01", s.start_year)),
            ("STOP_OPTION", "nyears".to_string()),
            ("STOP_N", s.stop_years.to_string()),
            ("DATM_CLMNCEP_YR_START", s.datm_years.0.to_string()),
            ("DATM_CLMNCEP_YR_END", s.datm_years.1.to_string()),
            ("DOUT_S_ROOT", s.archive.display().to_string()),
        ],
    )
}

/// Reads the `<entry id="KEY" value="VALUE">` entries of CIME's `env_*.xml` files.
pub fn read_env_xml(path: &Path) -> Result<BTreeMap<String, String>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut out = BTreeMap::new();
    for piece in text.split("<entry").skip(1) {
        let tag = piece.split('>').next().unwrap_or("");
        let attr = |key: &str| -> Option<String> {
            let rest = tag.split(&format!("{key}=\"")).nth(1)?;
            Some(rest.split('"').next()?.to_string())
        };
        if let (Some(id), Some(value)) = (attr("id"), attr("value")) {
            let unescape = |v: String| {
                v.replace("&quot;", "\"")
                    .replace("&lt;", "<")
                    .replace("&gt;", ">")
                    .replace("&amp;", "&")
            };
            out.insert(id, unescape(value));
        }
    }
    Ok(out)
}

/// Writes CIME-style `<entry id=... value=...>` lines into an `env_*.xml` file.
pub fn write_env_xml(path: &Path, entries: &[(&str, String)]) -> Result<()> {
    let mut s = String::from("<?xml version=\"1.0\"?>\n<file id=\"env_run.xml\" version=\"2.0\">\n  <group id=\"run_desc\">\n");
    for (k, v) in entries {
        let esc = v
            .replace('&', "&amp;")
            .replace('"', "&quot;")
            .replace('<', "&lt;");
        s.push_str(&format!("    <entry id=\"{k}\" value=\"{esc}\"/>\n"));
    }
    s.push_str("  </group>\n</file>\n");
    crate::files::atomic_write(path, |w| Ok(w.write_all(s.as_bytes())?))
}

/// A stable 64-bit hash (FNV-1a) of a case name: the seed of its weather noise.
pub fn case_seed(case: &str) -> u64 {
    case.bytes().fold(0xcbf29ce484222325u64, |h, b| {
        (h ^ b as u64).wrapping_mul(0x100000001b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_xml_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("env_run.xml");
        write_env_xml(
            &p,
            &[("STOP_N", "20".into()), ("DOUT_S_ROOT", "/a \"b\"".into())],
        )
        .unwrap();
        let e = read_env_xml(&p).unwrap();
        assert_eq!(e["STOP_N"], "20");
        assert_eq!(e["DOUT_S_ROOT"], "/a \"b\"");
    }

    #[test]
    fn case_settings_round_trip_through_the_xml() {
        let dir = tempfile::tempdir().unwrap();
        let s = CaseSetup {
            case: "c1".into(),
            archive: "/arch/c1".into(),
            start_year: 16,
            stop_years: 5,
            datm_years: (2000, 2004),
        };
        write_case_settings(dir.path(), &s, "a model").unwrap();
        let case = read_env_xml(&dir.path().join("env_case.xml")).unwrap();
        let run = read_env_xml(&dir.path().join("env_run.xml")).unwrap();
        assert_eq!(
            (case["CASE"].as_str(), case["MODEL"].as_str()),
            ("c1", "a model")
        );
        assert_eq!(run["RUN_STARTDATE"], "0016-01-01");
        assert_eq!(run["STOP_N"], "5");
        assert_eq!(run["DATM_CLMNCEP_YR_END"], "2004");
        assert_eq!(run["DOUT_S_ROOT"], "/arch/c1");
    }

    #[test]
    fn case_seeds_are_fnv1a() {
        // FNV-1a 64 of "" is the offset basis; of "a" 0xaf63dc4c8601ec8c (the reference
        // test vectors of the FNV authors)
        assert_eq!(case_seed(""), 0xcbf29ce484222325);
        assert_eq!(case_seed("a"), 0xaf63dc4c8601ec8c);
    }
}
