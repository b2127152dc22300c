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
/// paths rewritten by [`super::convert::script_words`]).
pub fn message(e: &EvalAltResult) -> String {
    super::convert::script_words(&raw_message(e))
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
    let mut out = format!("{}: error: {}\n", location(&place), message(e));
    out.push_str(&snippet(&place, text_of(&place.source).as_deref()));
    for (p, what) in chain.iter().rev() {
        out.push_str(&format!("  {what}: {}\n", location(p)));
    }
    out
}

/// Formats a syntax error in `source`.
pub fn report_parse(err: &ParseError, source: &str, text: &str) -> String {
    let place = Place {
        source: source.to_string(),
        pos: err.position(),
    };
    format!(
        "{}: syntax error: {}\n{}",
        location(&place),
        super::convert::script_words(&err.err_type().to_string()),
        snippet(&place, Some(text))
    )
}
