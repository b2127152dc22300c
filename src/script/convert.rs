//! The general bridge helpers every script module uses: the native result type, turning a
//! Rust error into a script error, the script name of a value's type (from the one list in
//! [`super::TYPES`]), Rust type paths rewritten into script words, and coercions of script
//! values (numbers, shapes, lists of ints) with errors in script words.

use super::array::NdArray;
use rhai::{Dynamic, EvalAltResult, INT};

/// Result type of native functions.
pub type RResult<T> = Result<T, Box<EvalAltResult>>;

/// A Rhai list (Rhai's own array of values).
type List = rhai::Array;

/// Turns an error (or any message) into a script error; Rhai adds the position.
pub fn script_err(e: impl std::fmt::Display) -> Box<EvalAltResult> {
    e.to_string().into()
}

/// The name a script user knows a value's type by: a native type's name from
/// [`super::TYPES`] (`Array`, `Field`, `Range`, ...), else `int`, `float`, `bool`,
/// `string`, `list`, `map`, `()`, `Fn`.
pub fn type_name(d: &Dynamic) -> &'static str {
    if let Some(name) = super::script_name_of(d.type_name()) {
        name
    } else if d.is_int() {
        "int"
    } else if d.is_float() {
        "float"
    } else if d.is_bool() {
        "bool"
    } else if d.is_string() {
        "string"
    } else if d.is_array() {
        "list"
    } else if d.is_map() {
        "map"
    } else if d.is_unit() {
        "()"
    } else if d.is_fnptr() {
        "Fn"
    } else {
        last_segment(d.type_name())
    }
}

/// `a::b::C<d::E>` -> `C`: the type without its module path and parameters.
fn last_segment(rust: &'static str) -> &'static str {
    let head = rust.split('<').next().unwrap_or(rust);
    match head.rfind("::") {
        Some(i) => &head[i + 2..],
        None => head,
    }
}

/// Rewrites Rust type paths in a message into script words: every type of
/// [`super::TYPES`] by its script name (`clmtune::script::field::ScriptField` -> `Field`,
/// `core::ops::range::Range<i64>` -> `Range`), and any other path of a Rust crate
/// (`alloc::`, `core::`, `std::`, `clmtune::`, `rhai::`, `ndarray::`) by its last segment.
pub fn script_words(text: &str) -> String {
    if !text.contains("::") {
        return text.to_string();
    }
    let mut out = text.to_string();
    let mut types: Vec<(&str, &str)> = super::TYPES.iter().map(|t| ((t.rust)(), t.name)).collect();
    // longest first, so that a path is never cut by a shorter one it contains
    types.sort_by_key(|(r, _)| std::cmp::Reverse(r.len()));
    for (rust, name) in types {
        out = out.replace(rust, name);
    }
    for prefix in [
        "alloc::",
        "core::",
        "std::",
        "clmtune::",
        "rhai::",
        "ndarray::",
    ] {
        while let Some(start) = out.find(prefix) {
            // only at the start of a word
            if start > 0
                && out[..start]
                    .chars()
                    .last()
                    .is_some_and(|c| c.is_alphanumeric() || c == '_')
            {
                break;
            }
            let end = out[start..]
                .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
                .map_or(out.len(), |e| start + e);
            let path = &out[start..end];
            let last = path.rsplit("::").next().unwrap_or(path).to_string();
            out.replace_range(start..end, &last);
        }
    }
    out
}

/// A number from an int or float argument; `what` names the argument in the error.
pub fn number(d: &Dynamic, what: &str) -> RResult<f64> {
    if let Ok(x) = d.as_float() {
        return Ok(x);
    }
    if let Ok(i) = d.as_int() {
        return Ok(i as f64);
    }
    Err(script_err(format!(
        "{what} must be a number, not {}",
        type_name(d)
    )))
}

/// A count or size from an int: an error naming `what` if it is negative.
pub fn usize_arg(i: INT, what: &str) -> RResult<usize> {
    usize::try_from(i).map_err(|_| script_err(format!("{what} must be >= 0, got {i}")))
}

/// A shape from an int or a list of ints.
pub fn shape_arg(d: &Dynamic) -> RResult<Vec<usize>> {
    if let Ok(n) = d.as_int() {
        return Ok(vec![usize_arg(n, "a dimension")?]);
    }
    if let Some(list) = d.read_lock::<List>() {
        return list
            .iter()
            .map(|x| {
                x.as_int()
                    .map_err(|_| script_err(format!("a shape holds ints, not {}", type_name(x))))
                    .and_then(|n| usize_arg(n, "a dimension"))
            })
            .collect();
    }
    Err(script_err(format!(
        "a shape is an int or a list of ints, not {}",
        type_name(d)
    )))
}

/// Whole numbers from an int, a list of ints or an Array of whole numbers; `what` names
/// them in the error.
pub fn int_list(d: &Dynamic, what: &str) -> RResult<Vec<i64>> {
    if let Some(a) = d.read_lock::<NdArray>() {
        return a
            .data()
            .iter()
            .map(|&x| {
                if x.fract() == 0.0 && x.abs() < 9e15 {
                    Ok(x as i64)
                } else {
                    Err(script_err(format!("{what} must be whole numbers, got {x}")))
                }
            })
            .collect();
    }
    if let Ok(i) = d.as_int() {
        return Ok(vec![i]);
    }
    if let Some(list) = d.read_lock::<List>() {
        return list
            .iter()
            .map(|x| {
                x.as_int()
                    .map_err(|_| script_err(format!("{what} must be ints, not {}", type_name(x))))
            })
            .collect();
    }
    Err(script_err(format!(
        "{what} must be an int, a list of ints or an Array, not {}",
        type_name(d)
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rust_paths_become_script_words() {
        assert_eq!(
            script_words("Function not found: f (clmtune::script::field::ScriptField, i64)"),
            "Function not found: f (Field, i64)"
        );
        assert_eq!(
            script_words("not core::ops::range::Range<i64>"),
            "not Range"
        );
        assert_eq!(
            script_words("a alloc::vec::Vec<f64> and clmtune::script::array::NdArray"),
            "a Vec<f64> and Array"
        );
        // script words with `::` that are not Rust paths stay
        assert_eq!(script_words("ex::config(OPTIONS)"), "ex::config(OPTIONS)");
    }

    #[test]
    fn type_names_come_from_the_list() {
        assert_eq!(type_name(&Dynamic::from(0..3_i64)), "Range");
        assert_eq!(type_name(&Dynamic::from(0..=3_i64)), "Range");
        assert_eq!(type_name(&Dynamic::from(2_i64)), "int");
        assert_eq!(type_name(&Dynamic::from(Vec::<f64>::new())), "Vec");
        assert_eq!(last_segment("a::b::C"), "C");
    }
}
