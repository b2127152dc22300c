//! Number formatting shared by scripts (`fmt`) and figures (tick and cell labels): a
//! Python-style format spec; and names made safe to quote in messages.

/// A user's name as an error message quotes it: control characters (a newline, a tab, an
/// escape) and the bidirectional-text controls (U+202E, which would show the rest of a line
/// backwards) written as escapes (`\n`, `\u{202e}`), so that a name cannot start a line of
/// its own that looks like something else (e.g. a namelist line) or drive a terminal.
pub fn printable(name: &str) -> String {
    if !name.chars().any(needs_escape) {
        return name.to_string();
    }
    name.chars()
        .map(|c| {
            if needs_escape(c) {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// A path as messages quote it: [`printable`] of its display form.
pub fn quote_path(path: &std::path::Path) -> String {
    printable(&path.display().to_string())
}

/// A whole message made safe to print: like [`printable`], but line breaks are kept (a
/// message may have several lines); a carriage return is escaped.
pub fn printable_message(text: &str) -> String {
    if !text.chars().any(|c| c != '\n' && needs_escape(c)) {
        return text.to_string();
    }
    text.chars()
        .map(|c| {
            if c != '\n' && needs_escape(c) {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// Control characters and the Unicode bidirectional controls (embeddings, overrides,
/// isolates and marks), which reorder what a terminal shows.
fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200E}' | '\u{200F}' | '\u{061C}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Edit distance with adjacent transpositions (optimal string alignment, strsim's
/// `osa_distance`): `maen` is one edit from `mean`.
pub fn edit_distance(a: &str, b: &str) -> usize {
    strsim::osa_distance(a, b)
}

/// The known names closest to `name` (at most three, nearest first), within an edit
/// distance that grows with the length of the name (1 up to 4 letters, 2 up to 8, else 3):
/// a suggestion only when it is close (`hist_fincl` gets none from `kind`).
pub fn closest_names(name: &str, candidates: &[String]) -> Vec<String> {
    let n = name.chars().count();
    let limit = match n {
        0..=4 => 1,
        5..=8 => 2,
        _ => 3,
    };
    let mut scored: Vec<(usize, &String)> = candidates
        .iter()
        .filter(|c| c.as_str() != name)
        .map(|c| (edit_distance(name, c), c))
        .filter(|(d, _)| *d <= limit)
        .collect();
    scored.sort();
    scored.dedup_by(|a, b| a.1 == b.1);
    scored.into_iter().take(3).map(|(_, c)| c.clone()).collect()
}

/// A float as a script prints it: a whole number keeps its `.0` (`3.0`, `0.9`).
pub fn shown_float(x: f64) -> String {
    if x.is_finite() && x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{x:.1}")
    } else {
        x.to_string()
    }
}

/// Formats a number with a Python-style spec `[<|>][width][.precision](f|e|g)`, e.g. ".3f",
/// "10.2e", "<8.4g". `g` uses scientific notation for exponents below -4 or from the
/// precision up, and drops trailing zeros, as Python does.
pub fn format_spec(x: f64, spec: &str) -> Result<String, String> {
    let bad = || {
        format!(
            "bad format spec '{spec}': use [<|>][width][.precision](f|e|g), e.g. \".3f\"",
            spec = crate::format::printable(spec)
        )
    };
    let (align_left, rest) = match spec.strip_prefix('<') {
        Some(r) => (true, r),
        None => (false, spec.strip_prefix('>').unwrap_or(spec)),
    };
    let kind = rest.chars().last().ok_or_else(bad)?;
    let body = &rest[..rest.len() - kind.len_utf8()];
    let (w, p) = body.split_once('.').unwrap_or((body, ""));
    let width: usize = if w.is_empty() {
        0
    } else {
        w.parse().map_err(|_| bad())?
    };
    let prec: usize = if p.is_empty() {
        6
    } else {
        p.parse().map_err(|_| bad())?
    };
    if width > 200 || prec > 30 {
        return Err(bad());
    }
    let sci = |x: f64, prec: usize| {
        let s = format!("{x:.prec$e}");
        match s.split_once('e') {
            Some((m, e)) => {
                let e: i32 = e.parse().unwrap_or(0);
                format!("{m}e{}{:02}", if e < 0 { '-' } else { '+' }, e.abs())
            }
            None => s,
        }
    };
    let text = if !x.is_finite() {
        if x.is_nan() {
            "nan".into()
        } else if x > 0.0 {
            "inf".into()
        } else {
            "-inf".into()
        }
    } else {
        match kind {
            'f' => format!("{x:.prec$}"),
            'e' => sci(x, prec),
            'g' => {
                let p = prec.max(1);
                let exp = if x == 0.0 {
                    0
                } else {
                    x.abs().log10().floor() as i32
                };
                let trim = |s: String| {
                    if s.contains('.') {
                        let (m, e) = s
                            .split_once('e')
                            .map(|(m, e)| (m.to_string(), format!("e{e}")))
                            .unwrap_or((s.clone(), String::new()));
                        format!("{}{e}", m.trim_end_matches('0').trim_end_matches('.'))
                    } else {
                        s
                    }
                };
                if exp < -4 || exp >= p as i32 {
                    trim(sci(x, p - 1))
                } else {
                    trim(format!("{x:.*}", (p as i32 - 1 - exp).max(0) as usize))
                }
            }
            _ => return Err(bad()),
        }
    };
    Ok(if align_left {
        format!("{text:<width$}")
    } else {
        format!("{text:>width$}")
    })
}

#[cfg(test)]
mod tests {
    use super::{format_spec, printable, printable_message};

    #[test]
    fn names_with_control_characters_print_escaped() {
        assert_eq!(printable("kmax"), "kmax");
        assert_eq!(printable("a\nb = 1"), "a\\nb = 1");
        assert_eq!(printable("t\tx\u{1b}"), "t\\tx\\u{1b}");
        assert_eq!(printable("it's ok"), "it's ok");
        assert_eq!(printable("ab\u{202e}cd"), "ab\\u{202e}cd");
        assert_eq!(
            printable_message("line 1\nname 'a\u{1b}[31m'\r"),
            "line 1\nname 'a\\u{1b}[31m'\\r"
        );
    }

    // Expected strings are Python's format(x, spec) for the same arguments.
    #[test]
    fn python_format_specs() {
        assert_eq!(format_spec(1.23456, ".3f").unwrap(), "1.235");
        assert_eq!(format_spec(12345.678, ".4g").unwrap(), "1.235e+04");
        assert_eq!(format_spec(0.00012345, ".3g").unwrap(), "0.000123");
        assert_eq!(format_spec(0.000012345, ".3g").unwrap(), "1.23e-05");
        assert_eq!(format_spec(2.5, "g").unwrap(), "2.5");
        assert_eq!(format_spec(100.0, ".3g").unwrap(), "100");
        assert_eq!(format_spec(-1.5e-10, "10.2e").unwrap(), " -1.50e-10");
        assert_eq!(format_spec(f64::NAN, ".2f").unwrap(), "nan");
        assert!(format_spec(1.0, ".2x").is_err());
        assert!(format_spec(1.0, "").is_err());
    }

    #[test]
    fn more_specs_format_as_python_does() {
        // each value printed by Python 3.12: format(x, spec)
        for (x, spec, want) in [
            (5.4321, ".2f", "5.43"),
            (0.000123, ".2e", "1.23e-04"),
            (1234567.0, ".3g", "1.23e+06"),
            (0.5, "8.3f", "   0.500"),
            (2.0, "<4.0f", "2   "),
            (0.0001, ".3g", "0.0001"),
            (0.00001, ".3g", "1e-05"),
            (f64::NEG_INFINITY, ".1e", "-inf"),
        ] {
            assert_eq!(format_spec(x, spec).unwrap(), want, "format({x}, {spec:?})");
        }
        assert!(format_spec(1.0, ".2x")
            .unwrap_err()
            .contains("bad format spec '.2x'"));
    }
}
