//! TOML text read into serde types (the experiment config, the parameter spec) with errors
//! in a user's words: the file, the line, the dotted key, every unknown key at once with the
//! nearest known one, and plain words for serde's types. Names only `format`.

use anyhow::Result;
use std::path::Path;

/// An "unknown field" message of serde in a user's words: `unknown key 'X'`, the close
/// known keys as a suggestion (only when close: `hist_fincl` gets none), and the known keys.
pub(crate) fn explain_unknown(msg: &str) -> Option<String> {
    let rest = msg.split("unknown field `").nth(1)?;
    let (key, rest) = rest.split_once('`')?;
    let known: Vec<String> = rest
        .split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect();
    let close = crate::format::closest_names(key, &known);
    let hint = match close.as_slice() {
        [] => String::new(),
        [one, ..] => format!(
            "did you mean '{one}'? ",
            one = crate::format::printable(one)
        ),
    };
    Some(format!(
        "unknown key '{}' ({hint}known keys here: {})",
        crate::format::printable(key),
        known.join(", ")
    ))
}

/// serde's type words in a config reader's: `expected usize` -> `expected a whole number (0
/// or more)`, `f64` -> `a number`.
pub(crate) fn plain_types(msg: &str) -> String {
    let mut m = msg.to_string();
    for (rust, words) in [
        ("expected usize", "expected a whole number (0 or more)"),
        ("expected u64", "expected a whole number (0 or more)"),
        ("expected u32", "expected a whole number (0 or more)"),
        ("expected i64", "expected a whole number"),
        ("expected i32", "expected a whole number"),
        ("expected f64", "expected a number"),
        ("expected f32", "expected a number"),
    ] {
        m = m.replace(rust, words);
    }
    // "missing field `archive`" (serde's words): a key, or a [table] of the config
    if let Some(i) = m.find("missing field `") {
        let rest = &m[i + "missing field `".len()..];
        if let Some(j) = rest.find('`') {
            let key = rest[..j].to_string();
            let after = rest[j + 1..].to_string();
            m = format!("{}missing key '{key}'{after}", &m[..i]);
        }
    }
    crate::format::printable_message(&m)
}

/// Parses TOML text read from `path` into `T`; an error names the file, the line, and the
/// key. Every unknown key is reported at once (each line holding one is set aside and the
/// text read again), with the nearest known key when it is close.
pub fn from_toml<T: serde::de::DeserializeOwned>(text: &str, path: &Path) -> Result<T> {
    let line_of = |e: &toml::de::Error, text: &str| {
        e.span()
            .map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1)
    };
    let one = |e: &toml::de::Error, text: &str| -> String {
        let msg = e.message().to_string();
        let msg = match explain_unknown(&msg) {
            Some(m) => m,
            None => match e.span().and_then(|s| key_at(text, s.start)) {
                Some(k) => format!("{k}: {}", plain_types(&msg)),
                None => plain_types(&msg),
            },
        };
        match line_of(e, text) {
            Some(l) => format!("{}:{l}: {msg}", path.display()),
            None => format!("{}: {msg}", path.display()),
        }
    };
    let mut work = text.to_string();
    let mut unknown: Vec<String> = Vec::new();
    for _ in 0..100 {
        let e = match toml::from_str::<T>(&work) {
            Ok(v) if unknown.is_empty() => return Ok(v),
            Ok(_) => break,
            Err(e) => e,
        };
        let line = line_of(&e, &work);
        let is_unknown = explain_unknown(e.message()).is_some();
        if !is_unknown {
            if unknown.is_empty() {
                anyhow::bail!("{}", one(&e, &work));
            }
            // (set-aside lines may have made this error: the unknown keys come first)
            break;
        }
        unknown.push(one(&e, &work));
        // set the line aside and read again, unless it opens a table (its keys would move
        // into the table above)
        let Some(l) = line else { break };
        let mut lines: Vec<String> = work.split('\n').map(str::to_string).collect();
        match lines.get_mut(l - 1) {
            Some(t) if !t.trim_start().starts_with('[') => t.insert(0, '#'),
            _ => break,
        }
        work = lines.join("\n");
    }
    match unknown.len() {
        1 => anyhow::bail!("{}", unknown[0]),
        n => anyhow::bail!(
            "{}: {n} unknown keys:\n  {}",
            path.display(),
            unknown.join("\n  ")
        ),
    }
}

/// The dotted key (`archive.years`) whose value starts at byte `offset` of TOML `text`: the
/// key of that line (before its `=`) under the nearest table header above it; `None` if
/// the offset is not in a value.
pub(crate) fn key_at(text: &str, offset: usize) -> Option<String> {
    let offset = offset.min(text.len());
    let start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
    let (lhs, _) = text[start..offset].split_once('=')?;
    let key = lhs.trim().trim_matches('"');
    if key.is_empty() || key.starts_with('#') || key.starts_with('[') {
        return None;
    }
    let section = text[..start].lines().rev().find_map(|l| {
        let l = l.trim();
        if l.starts_with('[') {
            Some(l.trim_matches(|c| c == '[' || c == ']').trim().to_string())
        } else {
            None
        }
    });
    Some(match section {
        Some(s) if !s.is_empty() => format!("{s}.{key}"),
        _ => key.to_string(),
    })
}
