//! Script errors as a person wants to read them: `file:line:col: error: message`, the source
//! line with a caret under the place, then the chain of calls and imports that led there.

use rhai::{EvalAltResult, ParseError, Position};

/// One place in a source: its name (a file path or `<stdlib>/NAME.rhai`) and position.
struct Place {
    source: String,
    pos: Position,
}

fn location(p: &Place) -> String {
    match (p.pos.line(), p.pos.position()) {
        (Some(l), Some(c)) => format!("{}:{l}:{c}", p.source),
        (Some(l), None) => format!("{}:{l}", p.source),
        _ => p.source.clone(),
    }
}

/// The source line with a caret under the column, or nothing if the text is not at hand.
fn snippet(p: &Place, text: Option<&str>) -> String {
    let (Some(line), Some(text)) = (p.pos.line(), text) else {
        return String::new();
    };
    let Some(src_line) = text.lines().nth(line - 1) else {
        return String::new();
    };
    let num = line.to_string();
    let pad = " ".repeat(num.len());
    let caret = match p.pos.position() {
        Some(c) => format!("{}^", " ".repeat(c.saturating_sub(1))),
        None => String::new(),
    };
    format!("{pad} |\n{num} | {src_line}\n{pad} | {caret}\n")
}

/// The message of an error without Rhai's own position suffix, in script words (Rust type
/// paths rewritten by [`super::convert::script_words`]). An unknown function gets the
/// closest known names ([`function_hint`]).
pub fn message(e: &EvalAltResult) -> String {
    message_with(e, &[])
}

/// [`message`], with the functions the script defines itself among the known names.
fn message_with(e: &EvalAltResult, script_fns: &[String]) -> String {
    let text = super::convert::script_words(&raw_message(e));
    if let EvalAltResult::ErrorFunctionNotFound(sig, _) = e {
        // Rhai lists a string argument as the three Rust types it may be
        let text = text.replace("&str | ImmutableString | String", "string");
        // and numbers by Rust's names (`reshape (i64, array)`): the docs' words
        let text = match text.split_once(" (") {
            Some((head, rest)) if head.starts_with("Function not found: ") => {
                format!("{head} ({}", rust_number_words(rest))
            }
            _ => text,
        };
        let name = sig.split([' ', '(']).next().unwrap_or_default();
        // a map where an Array is taken: most often read_csv's #{columns, data}
        let args = sig.split_once('(').map_or("", |(_, a)| a);
        let map_for_array = args.split([',', ')']).any(|a| a.trim() == "map")
            && known_functions()
                .get(name)
                .is_some_and(|sigs| sigs.iter().any(|s| s.contains(": Array")));
        let data = if map_for_array {
            "; a map from read_csv holds its Array in .data (read_csv(p).data), or read it as a Table with read_table"
        } else {
            ""
        };
        if let Some(hint) = function_hint(name, script_fns) {
            return format!("{text} ({hint}{data})");
        }
        if map_for_array {
            return format!("{text} ({})", &data[2..]);
        }
        return text;
    }
    if let EvalAltResult::ErrorDotExpr(..) = e {
        // "a getter is not registered for type 'f64'"
        if let Some((head, ty)) = text.split_once(" for type '") {
            return format!("{head} for type '{}", rust_number_words(ty));
        }
    }
    text
}

/// Rhai's names of its number types, `i64` and `f64`, as the docs write them (`int`,
/// `float`), where they stand as whole words.
fn rust_number_words(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut String| {
        out.push_str(match word.as_str() {
            "i64" => "int",
            "f64" => "float",
            w => w,
        });
        word.clear();
    };
    for c in text.chars() {
        if c.is_alphanumeric() || c == '_' {
            word.push(c);
        } else {
            flush(&mut word, &mut out);
            out.push(c);
        }
    }
    flush(&mut word, &mut out);
    out
}

/// numpy and xarray names that clmtune spells otherwise (or cannot: `var` is a reserved
/// word in Rhai), with the name to use.
pub const ALIASES: &[(&str, &str, &str)] = &[
    ("var", "variance", "`var` is reserved in Rhai"),
    ("nanvariance", "nanvar", "numpy's name"),
    ("concatenate", "concat", "numpy's concatenate"),
    ("ravel", "flatten", "numpy's ravel"),
    ("tolist", "to_list", "numpy's tolist"),
    ("repr", "debug", "Python's repr"),
    ("format", "fmt", "Python's format"),
];

/// Every name a script can call with its signatures as `clmtune doc` shows them (the
/// native modules), and Rhai's own functions (`len`, `push`, ...) with none listed.
fn known_functions() -> &'static std::collections::BTreeMap<String, Vec<String>> {
    static KNOWN: std::sync::OnceLock<std::collections::BTreeMap<String, Vec<String>>> =
        std::sync::OnceLock::new();
    KNOWN.get_or_init(|| {
        let ident = |n: &str| {
            n.chars()
                .next()
                .is_some_and(|c| c.is_alphabetic() || c == '_')
                && n.chars().all(|c| c.is_alphanumeric() || c == '_')
        };
        let mut m: std::collections::BTreeMap<String, Vec<String>> = Default::default();
        for module in super::doc::catalog() {
            for f in module.functions {
                if ident(&f.name) {
                    m.entry(f.name).or_default().push(f.signature);
                }
            }
        }
        for sig in rhai::Engine::new().gen_fn_signatures(false) {
            let name = sig.split('(').next().unwrap_or_default().trim();
            if ident(name) {
                m.entry(name.to_string()).or_default();
            }
        }
        m
    })
}

pub use crate::format::{closest_names, edit_distance};

fn quoted_list(names: &[String]) -> String {
    let q: Vec<String> = names
        .iter()
        .map(|n| format!("'{n}'", n = crate::format::printable(n)))
        .collect();
    match q.len() {
        0 => String::new(),
        1 => q[0].clone(),
        _ => format!("{} or {}", q[..q.len() - 1].join(", "), q[q.len() - 1]),
    }
}

/// What to tell a script that calls `name`, which no function of those argument types
/// has: the name to use for a numpy name spelt otherwise ([`ALIASES`]), the signatures
/// when the name exists for other types, else the closest known names (`global_maen` ->
/// `global_mean`), the script's own functions (`script_fns`) included. `None` when nothing
/// is close.
pub fn function_hint(name: &str, script_fns: &[String]) -> Option<String> {
    let known = known_functions();
    if let Some((_, to, why)) = ALIASES.iter().find(|(from, _, _)| *from == name) {
        return Some(format!(
            "did you mean '{to}'? {why}",
            to = crate::format::printable(to)
        ));
    }
    if let Some(sigs) = known.get(name).filter(|s| !s.is_empty()) {
        let shown: Vec<&str> = sigs.iter().take(6).map(String::as_str).collect();
        let more = if sigs.len() > shown.len() {
            format!(" and {} more", sigs.len() - shown.len())
        } else {
            String::new()
        };
        return Some(format!(
            "{name} takes other arguments: {}{more}",
            shown.join("; ")
        ));
    }
    let mut candidates: Vec<String> = known.keys().cloned().collect();
    candidates.extend(script_fns.iter().cloned());
    candidates.sort();
    candidates.dedup();
    let close = closest_names(name, &candidates);
    (!close.is_empty()).then(|| format!("did you mean {}?", quoted_list(&close)))
}

fn raw_message(e: &EvalAltResult) -> String {
    match e {
        EvalAltResult::ErrorRuntime(v, _) => {
            if v.is_string() {
                v.clone().into_string().unwrap_or_default()
            } else {
                format!("{v}")
            }
        }
        EvalAltResult::ErrorParsing(p, _) => p.to_string(),
        EvalAltResult::ErrorTerminated(v, _) => v
            .clone()
            .into_string()
            .unwrap_or_else(|_| "interrupted".into()),
        EvalAltResult::ErrorMismatchDataType(want, got, _) => format!("expected {want}, got {got}"),
        other => {
            let text = other.to_string();
            let suffix = format!(" ({})", other.position());
            text.strip_suffix(&suffix).unwrap_or(&text).to_string()
        }
    }
}

/// Formats a run-time error raised while running `main_source`. `text_of` gives the text of
/// a source by name (for the caret line).
pub fn report(
    err: &EvalAltResult,
    main_source: &str,
    text_of: &dyn Fn(&str) -> Option<String>,
) -> String {
    report_with(err, main_source, text_of, &[])
}

/// [`report`] for a script that defines the functions `script_fns` (they are suggested
/// for a misspelt call as the native ones are).
pub fn report_with(
    err: &EvalAltResult,
    main_source: &str,
    text_of: &dyn Fn(&str) -> Option<String>,
    script_fns: &[String],
) -> String {
    let mut chain: Vec<(Place, String)> = Vec::new();
    let mut source = main_source.to_string();
    let mut e = err;
    loop {
        match e {
            EvalAltResult::ErrorInFunctionCall(name, fsrc, inner, pos) => {
                let what = if name.starts_with("anon$") {
                    "a closure".to_string()
                } else {
                    format!("function `{name}`")
                };
                chain.push((
                    Place {
                        source: source.clone(),
                        pos: *pos,
                    },
                    format!("in {what}, called here"),
                ));
                if !fsrc.is_empty() {
                    source = fsrc.clone();
                }
                e = inner;
            }
            EvalAltResult::ErrorInModule(name, inner, pos) => {
                chain.push((
                    Place {
                        source: source.clone(),
                        pos: *pos,
                    },
                    format!("while importing {name}, here"),
                ));
                source = name.clone();
                e = inner;
            }
            _ => break,
        }
    }
    let place = Place {
        source,
        pos: e.position(),
    };
    let mut out = format!(
        "{}: error: {}\n",
        location(&place),
        crate::format::printable_message(&message_with(e, script_fns))
    );
    out.push_str(&snippet(&place, text_of(&place.source).as_deref()));
    for (p, what) in chain.iter().rev() {
        out.push_str(&format!("  {what}: {}\n", location(p)));
    }
    out
}

/// Formats a syntax error in `source`. A missing `;` is reported at the end of the line
/// that lacks it (Rhai notices it at the next statement, which may be lines below); a
/// reserved word with a clmtune name (`var`) says which name to use.
pub fn report_parse(err: &ParseError, source: &str, text: &str) -> String {
    use rhai::ParseErrorType as P;
    let mut pos = err.position();
    let mut msg = super::convert::script_words(&err.err_type().to_string());
    match err.err_type() {
        P::MissingToken(tok, _) if tok == ";" => {
            if let Some((l, c)) = pos
                .line()
                .zip(pos.position())
                .and_then(|(l, c)| end_of_code_before(text, l, c))
            {
                if let (Ok(l16), Ok(c16)) = (u16::try_from(l), u16::try_from(c + 1)) {
                    pos = Position::new(l16, c16);
                    msg = format!("expected ';' at the end of line {l}");
                }
            }
        }
        P::Reserved(word) => {
            if let Some(hint) = function_hint(word, &[]) {
                msg = format!("{msg} ({hint})");
            }
        }
        _ => {}
    }
    let place = Place {
        source: source.to_string(),
        pos,
    };
    format!(
        "{}: syntax error: {msg}\n{}",
        location(&place),
        snippet(&place, Some(text))
    )
}

/// The line and column (1-based) of the last character of code before line `line`, column
/// `col`, skipping blanks and comments (`//`, nested `/* */`; not inside strings), if it is
/// on an earlier line.
pub fn end_of_code_before(text: &str, line: usize, col: usize) -> Option<(usize, usize)> {
    #[derive(PartialEq)]
    enum S {
        Code,
        LineComment,
        Block(usize),
        Str(char),
    }
    let chars: Vec<char> = text.chars().collect();
    let (mut l, mut c) = (1usize, 1usize);
    let mut last: Option<(usize, usize)> = None;
    let mut state = S::Code;
    let mut i = 0;
    while i < chars.len() && (l, c) < (line, col) {
        let ch = chars[i];
        let next = chars.get(i + 1).copied();
        let mut skip = 0;
        match state {
            S::Code => match (ch, next) {
                ('/', Some('/')) => state = S::LineComment,
                ('/', Some('*')) => {
                    state = S::Block(1);
                    skip = 1;
                }
                ('"' | '\'' | '`', _) => {
                    state = S::Str(ch);
                    last = Some((l, c));
                }
                _ if !ch.is_whitespace() => last = Some((l, c)),
                _ => {}
            },
            S::LineComment => {
                if ch == '\n' {
                    state = S::Code;
                }
            }
            S::Block(d) => match (ch, next) {
                ('*', Some('/')) => {
                    state = if d == 1 { S::Code } else { S::Block(d - 1) };
                    skip = 1;
                }
                ('/', Some('*')) => {
                    state = S::Block(d + 1);
                    skip = 1;
                }
                _ => {}
            },
            S::Str(q) => {
                last = Some((l, c));
                if ch == '\\' && q != '`' {
                    skip = 1;
                } else if ch == q {
                    state = S::Code;
                }
            }
        }
        for k in 0..=skip {
            if chars.get(i + k) == Some(&'\n') {
                l += 1;
                c = 1;
            } else {
                c += 1;
            }
        }
        i += 1 + skip;
    }
    last.filter(|(ll, _)| *ll < line)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rhai's `i64` and `f64` read as the docs' `int` and `float`, whole words only.
    #[test]
    fn number_types_in_script_words() {
        assert_eq!(rust_number_words("i64, array)"), "int, array)");
        assert_eq!(rust_number_words("f64'"), "float'");
        assert_eq!(rust_number_words("xi64, f64x, i64_2"), "xi64, f64x, i64_2");
    }

    #[test]
    fn edit_distances_by_hand() {
        // the classic kitten -> sitting: k->s, e->i, +g
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        // one adjacent transposition
        assert_eq!(edit_distance("global_maen", "global_mean"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("same", "same"), 0);
    }

    #[test]
    fn hints_name_the_closest_functions_and_the_aliases() {
        assert_eq!(
            function_hint("global_maen", &[]).unwrap(),
            "did you mean 'global_mean'?"
        );
        assert_eq!(
            function_hint("var", &[]).unwrap(),
            "did you mean 'variance'? `var` is reserved in Rhai"
        );
        // every alias points at a function that exists
        for (_, to, _) in ALIASES {
            // `debug(x)`, like `print(x)`, is a statement of Rhai's, not a function
            assert!(
                known_functions().contains_key(*to) || *to == "debug",
                "{to}"
            );
        }
        // a script's own function, and a Rhai built-in
        assert_eq!(
            function_hint("my_fnuc", &["my_func".to_string()]).unwrap(),
            "did you mean 'my_func'?"
        );
        assert!(function_hint("lenn", &[]).unwrap().contains("'len'"));
        // the right name with other arguments lists what it takes
        let h = function_hint("global_mean", &[]).unwrap();
        assert!(
            h.starts_with("global_mean takes other arguments: global_mean(f: Field)"),
            "{h}"
        );
        assert_eq!(function_hint("zzzzqqqq", &[]), None);
    }

    #[test]
    fn the_end_of_the_code_before_a_place_skips_comments_and_blank_lines() {
        let text = "let a = \"x // y\"\n/* c\n */\n// d\n\nlet b = 1;";
        // the last code before line 6, column 1 is the closing quote on line 1, column 16
        assert_eq!(end_of_code_before(text, 6, 1), Some((1, 16)));
        // on the same line: none (the `;` is not missing at a line end)
        assert_eq!(end_of_code_before("let a = 1 2;", 1, 11), None);
    }
}
