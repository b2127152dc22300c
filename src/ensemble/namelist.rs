//! `user_nl_clm` lines of a member: `paramfile = '...'`, namelist values in Fortran syntax, and
//! extra history fields. Every name and value is checked first, so nothing but a well-formed
//! assignment can reach the namelist (no quote, newline, `&`, `/` or `!` smuggled in).

use super::spec::is_identifier;
use anyhow::{bail, Result};
use std::path::Path;

/// A finite number in Fortran syntax that reads back to the same `f64`.
pub fn fortran_number(x: f64) -> Result<String> {
    if !x.is_finite() {
        bail!("{x} is not a finite number");
    }
    let a = x.abs();
    Ok(if a == 0.0 || (1e-4..1e7).contains(&a) {
        let s = format!("{x:?}");
        if s.contains('.') || s.contains('e') {
            s
        } else {
            format!("{s}.0")
        }
    } else {
        // shortest round-trip mantissa with a Fortran double-precision exponent
        format!("{x:e}").replace('e', "d")
    })
}

/// A quoted Fortran string for a path; a path holding a quote, a newline or another control
/// character is refused.
pub fn fortran_path(p: &Path) -> Result<String> {
    let s = p
        .to_str()
        .ok_or_else(|| anyhow::anyhow!("{}: the path is not valid UTF-8", p.display()))?;
    if s.chars().any(|c| c == '\'' || c == '"' || c.is_control()) {
        bail!(
            "{}: a path for user_nl_clm may not hold a quote or a control character",
            s.escape_debug()
        );
    }
    Ok(format!("'{s}'", s = crate::format::printable(s)))
}

/// The lines a member adds to `user_nl_clm`.
pub fn user_nl_lines(
    paramfile: Option<&Path>,
    values: &[(String, f64)],
    hist_fincl1: &[String],
) -> Result<Vec<String>> {
    let mut out = Vec::new();
    if let Some(p) = paramfile {
        out.push(format!("paramfile = {}", fortran_path(p)?));
    }
    for (name, v) in values {
        if !is_identifier(name) {
            bail!(
                "namelist name '{}' is not a Fortran name (letters, digits, underscores)",
                name.escape_debug()
            );
        }
        let num = fortran_number(*v).map_err(|e| anyhow::anyhow!("namelist {name}: {e}"))?;
        out.push(format!("{name} = {num}"));
    }
    if !hist_fincl1.is_empty() {
        for f in hist_fincl1 {
            let ok = !f.is_empty()
                && f.len() <= 64
                && f.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':');
            if !ok {
                bail!(
                    "history field '{}' is not a CLM field name (letters, digits, '_', ':')",
                    f.escape_debug()
                );
            }
        }
        let quoted: Vec<String> = hist_fincl1
            .iter()
            .map(|f| format!("'{f}'", f = crate::format::printable(f)))
            .collect();
        out.push(format!("hist_fincl1 = {}", quoted.join(", ")));
    }
    Ok(out)
}

/// The variable a `user_nl_clm` line sets, lower case and without an index (`hist_fincl1`
/// for `hist_fincl1 = 'TLAI'`, `hist_mfilt` for `hist_mfilt(1) = 12`), after checking the
/// line as a Fortran namelist assignment: `name = value` (an optional `(index)` after the
/// name), one `=` outside quotes, quotes balanced, no control character, no `&` or `/`
/// outside quotes (they would open or close a namelist group), a value after the `=`; a `!`
/// comment at the end is allowed. The error says what is wrong, quoting the line.
pub fn check_user_nl_line(line: &str) -> Result<String> {
    let shown = shown(line);
    if let Some(c) = line.chars().find(|c| c.is_control()) {
        bail!(
            "'{shown}': holds the control character {}",
            c.escape_debug(),
            shown = crate::format::printable(&shown)
        );
    }
    // the assignment, without a trailing comment; quotes tracked (a doubled quote inside a
    // string, Fortran's escape, toggles twice)
    let mut quote: Option<char> = None;
    let mut eq = None;
    let mut end = line.len();
    for (i, c) in line.char_indices() {
        match (quote, c) {
            (None, '\'' | '"') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (None, '!') => {
                end = i;
                break;
            }
            (None, '=') => {
                if eq.is_some() {
                    bail!(
                        "'{shown}': more than one '=' outside quotes (one assignment per line)",
                        shown = crate::format::printable(&shown)
                    );
                }
                eq = Some(i);
            }
            (None, '&' | '/') => {
                bail!(
                    "'{shown}': '{c}' outside quotes would open or close a namelist group",
                    c = crate::format::printable(&c.to_string()),
                    shown = crate::format::printable(&shown)
                )
            }
            _ => {}
        }
    }
    if quote.is_some() {
        bail!(
            "'{shown}': the quotes are not balanced",
            shown = crate::format::printable(&shown)
        );
    }
    let Some(eq) = eq else {
        bail!(
            "'{shown}': not a 'name = value' line",
            shown = crate::format::printable(&shown)
        );
    };
    let name = line[..eq].trim();
    let value = line[eq + 1..end].trim();
    let (base, index) = match name.split_once('(') {
        Some((b, rest)) => (b.trim(), Some(rest)),
        None => (name, None),
    };
    if let Some(rest) = index {
        let ok = rest.strip_suffix(')').is_some_and(|i| {
            !i.trim().is_empty()
                && i.chars()
                    .all(|c| c.is_ascii_digit() || matches!(c, ',' | ':' | ' ' | '-'))
        });
        if !ok {
            bail!(
                "'{shown}': '{name}' is not a namelist name with an index like name(1)",
                name = crate::format::printable(name),
                shown = crate::format::printable(&shown)
            );
        }
    }
    if !is_identifier(base) {
        bail!(
            "'{shown}': '{}' is not a Fortran name (letters, digits, underscores, a letter first)",
            base.escape_debug(),
            shown = crate::format::printable(&shown)
        );
    }
    if value.is_empty() {
        bail!(
            "'{shown}': no value after '='",
            shown = crate::format::printable(&shown)
        );
    }
    Ok(base.to_lowercase())
}

/// A line as an error message quotes it: control characters escaped, quotes as they are.
fn shown(line: &str) -> String {
    line.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_debug().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// Checks the `user_nl_clm` lines of the config (`[backend] user_nl_clm`) for every member:
/// each a namelist assignment ([`check_user_nl_line`]), no variable twice, and none of the
/// variables clmtune writes itself (`paramfile`, the spec's namelist parameters `spec_names`,
/// `hist_fincl1` when clmtune writes it). Errors name the line by its number and text.
pub fn check_config_lines(lines: &[String], spec_names: &[String], own_hist: bool) -> Result<()> {
    let mut seen: Vec<(String, usize)> = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let n = i + 1;
        let name = check_user_nl_line(line)
            .map_err(|e| anyhow::anyhow!("[backend] user_nl_clm line {n} {e}"))?;
        let shown = shown(line);
        if name == "paramfile" {
            bail!(
                "[backend] user_nl_clm line {n} '{shown}': clmtune writes each member's paramfile \
                 (set base_paramfile in the parameter spec instead)",
                shown = crate::format::printable(&shown)
            );
        }
        if spec_names.iter().any(|s| s.to_lowercase() == name) {
            bail!(
                "[backend] user_nl_clm line {n} '{shown}': {name} is a namelist parameter of the \
                 spec, which clmtune sets for each member",
                shown = crate::format::printable(&shown)
            );
        }
        if own_hist && name == "hist_fincl1" {
            bail!(
                "[backend] user_nl_clm line {n} '{shown}': clmtune writes hist_fincl1 for the \
                 fields it reads; give extra fields as hist_fincl2 or in that list",
                shown = crate::format::printable(&shown)
            );
        }
        if let Some((_, first)) = seen.iter().find(|(s, _)| *s == name) {
            bail!(
                "[backend] user_nl_clm line {n} '{shown}': {name} is already set on line {first} \
                 (CLM's build-namelist refuses a variable set twice)",
                shown = crate::format::printable(&shown)
            );
        }
        seen.push((name, n));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    #[test]
    fn numbers_read_back_exactly() {
        for x in [0.5, 0.001, 1e-3 / 3.0, 2.2e-8, 5.0, -1.5e12, 0.0, 123456.0] {
            let s = fortran_number(x).unwrap();
            let back: f64 = s.replace('d', "e").parse().unwrap();
            assert_eq!(back, x, "{s}");
        }
        assert_eq!(fortran_number(0.5).unwrap(), "0.5");
        assert_eq!(fortran_number(5.0).unwrap(), "5.0");
        assert_eq!(fortran_number(2e-9).unwrap(), "2d-9");
        assert!(fortran_number(f64::NAN).is_err());
        assert!(fortran_number(f64::INFINITY).is_err());
    }

    #[test]
    fn lines_and_refusals() {
        let l = user_nl_lines(
            Some(Path::new("/c/p.nc")),
            &[("fff".into(), 0.25)],
            &["SOILLIQ".into(), "TSA:X".into()],
        )
        .unwrap();
        assert_eq!(
            l,
            vec![
                "paramfile = '/c/p.nc'",
                "fff = 0.25",
                "hist_fincl1 = 'SOILLIQ', 'TSA:X'"
            ]
        );
        for bad in ["fff = 1\nbaseflow_scalar", "fff'", "a b", "/", "", "1x"] {
            assert!(
                user_nl_lines(None, &[(bad.into(), 1.0)], &[]).is_err(),
                "{bad}"
            );
        }
        assert!(user_nl_lines(Some(&PathBuf::from("/a'/p.nc")), &[], &[]).is_err());
        assert!(user_nl_lines(Some(&PathBuf::from("/a\n/p.nc")), &[], &[]).is_err());
        assert!(user_nl_lines(None, &[], &["GPP'\n".into()]).is_err());
        assert!(user_nl_lines(None, &[("fff".into(), f64::NAN)], &[]).is_err());
    }

    #[test]
    fn config_lines_are_checked_as_fortran_namelist_lines() {
        for (line, name) in [
            ("hist_mfilt = 12", "hist_mfilt"),
            ("hist_fincl2 = 'TLAI', 'GPP' ! monthly", "hist_fincl2"),
            ("finidat = '/d/x.clm2.r.0016-01-01-00000.nc'", "finidat"),
            ("HIST_NHTFRQ(1) = 0", "hist_nhtfrq"),
            ("fsurdat = 'it''s.nc'", "fsurdat"),
            ("use_init_interp = .true.", "use_init_interp"),
        ] {
            assert_eq!(check_user_nl_line(line).unwrap(), name, "{line}");
        }
        for (line, why) in [
            ("hist_fincl1 = 'TLAI", "the quotes are not balanced"),
            ("hist_mfilt 12", "not a 'name = value' line"),
            ("hist_mfilt = ", "no value after '='"),
            ("hist mfilt = 1", "is not a Fortran name"),
            ("a = 1, b = 2", "more than one '='"),
            ("a = 1 /", "would open or close a namelist group"),
            ("&clm_inparm", "would open or close"),
            ("a = 1\nb = 2", "control character"),
            ("a(x) = 1", "with an index like name(1)"),
        ] {
            let e = check_user_nl_line(line).unwrap_err().to_string();
            assert!(e.contains(why), "{line}: {e}");
        }
        let lines = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let spec = vec!["fff".to_string()];
        assert!(check_config_lines(
            &lines(&["hist_mfilt = 12", "hist_fincl2 = 'TSA'"]),
            &spec,
            true
        )
        .is_ok());
        let e = check_config_lines(
            &lines(&["hist_mfilt = 12", "paramfile = 'x.nc'"]),
            &spec,
            false,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("user_nl_clm line 2 'paramfile = 'x.nc''"), "{e}");
        let e = check_config_lines(&lines(&["FFF = 2"]), &spec, false)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("line 1") && e.contains("fff is a namelist parameter of the spec"),
            "{e}"
        );
        let e = check_config_lines(&lines(&["hist_mfilt = 1", "hist_mfilt = 12"]), &spec, false)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("line 2") && e.contains("already set on line 1"),
            "{e}"
        );
        let e = check_config_lines(&lines(&["hist_fincl1 = 'TSA'"]), &spec, true)
            .unwrap_err()
            .to_string();
        assert!(e.contains("clmtune writes hist_fincl1"), "{e}");
        let e = check_config_lines(&lines(&["x = 'a"]), &spec, false)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("[backend] user_nl_clm line 1 'x = 'a': the quotes are not balanced"),
            "{e}"
        );
    }
}
