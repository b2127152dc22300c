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
    Ok(format!("'{s}'"))
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
        let quoted: Vec<String> = hist_fincl1.iter().map(|f| format!("'{f}'")).collect();
        out.push(format!("hist_fincl1 = {}", quoted.join(", ")));
    }
    Ok(out)
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
}
