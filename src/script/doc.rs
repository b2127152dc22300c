//! Documentation generated from Rhai's function metadata (never a hand-kept list): the
//! catalogue behind `clmtune doc`, the REPL's `:help` and Tab completion, and the runner
//! that executes every ```rhai example in a doc comment as a test.

use super::MODULES;
use rhai::{Engine, Scope};
use serde::Serialize;

/// A native function (one overload).
#[derive(Debug, Clone, Serialize)]
pub struct FnDoc {
    /// The name a script calls it by (operators by their symbol).
    pub name: String,
    /// How it is called, with parameter and return types.
    pub signature: String,
    /// Its doc comment, without the `///` markers.
    pub doc: String,
}

/// A native type.
#[derive(Debug, Clone, Serialize)]
pub struct TypeDoc {
    /// The script name of the type.
    pub name: String,
    /// Its doc comment.
    pub doc: String,
}

/// One module's types and functions.
#[derive(Debug, Clone, Serialize)]
pub struct ModuleDoc {
    /// Module name (see [`super::MODULES`]).
    pub name: String,
    /// What the module is for.
    pub about: String,
    /// Types the module defines.
    pub types: Vec<TypeDoc>,
    /// Functions, sorted by name.
    pub functions: Vec<FnDoc>,
}

/// Removes the `///` (or `/** */`) markers of a doc comment.
fn strip_comment(lines: &[serde_json::Value]) -> String {
    let mut out = Vec::new();
    for block in lines.iter().filter_map(|v| v.as_str()) {
        for l in block.lines() {
            let l = l.trim_start();
            let l = l
                .strip_prefix("///")
                .or_else(|| l.strip_prefix("/**"))
                .unwrap_or(l);
            let l = l.strip_suffix("*/").unwrap_or(l);
            out.push(l.strip_prefix(' ').unwrap_or(l).to_string());
        }
    }
    out.join("\n").trim().to_string()
}

/// How a metadata name reads in a script: `get$shape` is the property `.shape`, the
/// indexers are `[]` and `[]=`.
fn display_name(name: &str) -> String {
    if let Some(p) = name.strip_prefix("get$") {
        format!(".{p}")
    } else if name == "index$get$" {
        "[]".into()
    } else if name == "index$set$" {
        "[]=".into()
    } else {
        name.to_string()
    }
}

/// The script name of a Rust type as the plugin macros record it: a native type by
/// [`super::TYPES`], Rhai's own by its script word.
fn script_type(rust: &str) -> &str {
    if let Some(name) = super::script_name_of(rust) {
        return name;
    }
    match rust {
        "List" | "Array" => "list",
        "i64" | "INT" => "int",
        "f64" | "FLOAT" => "float",
        "Dynamic" => "any",
        "Map" => "map",
        "&str" | "String" | "ImmutableString" => "string",
        other => other,
    }
}

/// Rewrites a signature into script terms: `&mut` and `RResult<..>` removed, Rust type
/// names replaced by script names.
fn clean_types(sig: &str) -> String {
    let sig = sig.replace("&mut ", "");
    // a function registered with `return_raw` outside the plugin macros shows its Rust
    // result type: `-> Result<(), Box<EvalAltResult>>` returns nothing, `Result<T, ..>` T
    let sig = sig.replace(" -> Result<(), Box<EvalAltResult>>", "");
    let sig = match sig.split_once("-> Result<") {
        Some((head, ret)) if ret.ends_with(", Box<EvalAltResult>>") => {
            format!("{head}-> {}", ret.trim_end_matches(", Box<EvalAltResult>>"))
        }
        _ => sig,
    };
    let sig = match sig.split_once("-> RResult<") {
        Some((head, ret)) => format!("-> {}", ret.strip_suffix('>').unwrap_or(ret)).replacen(
            "-> ",
            &format!("{head}-> "),
            1,
        ),
        None => sig,
    };
    let mut out = String::new();
    let mut word = String::new();
    for c in sig.chars().chain(std::iter::once('\0')) {
        if c.is_alphanumeric() || c == '_' || (c == '&' && word.is_empty()) {
            word.push(c);
        } else {
            if !word.is_empty() {
                out.push_str(script_type(&word));
                word.clear();
            }
            if c != '\0' {
                out.push(c);
            }
        }
    }
    out
}

/// Rewrites Rhai's signature into the form a script uses.
fn display_signature(name: &str, sig: &str) -> String {
    let sig = clean_types(sig);
    match name {
        n if n.starts_with("get$") => sig.replacen(n, &format!("get {}", &n[4..]), 1),
        "index$get$" => sig.replacen("index$get$", "index_get", 1),
        "index$set$" => sig.replacen("index$set$", "index_set", 1),
        _ => sig,
    }
}

/// The documentation of every native module, from the metadata of its registered functions.
pub fn catalog() -> Vec<ModuleDoc> {
    MODULES
        .iter()
        .map(|m| {
            let mut engine = Engine::new_raw();
            engine.register_global_module((m.build)().into());
            let json = engine.gen_fn_metadata_to_json(false).unwrap_or_default();
            let v: serde_json::Value = serde_json::from_str(&json).unwrap_or_default();
            let empty = Vec::new();
            let types = v["customTypes"]
                .as_array()
                .unwrap_or(&empty)
                .iter()
                .map(|t| TypeDoc {
                    name: t["displayName"].as_str().unwrap_or_default().to_string(),
                    doc: strip_comment(t["docComments"].as_array().unwrap_or(&empty)),
                })
                .collect();
            let mut functions: Vec<FnDoc> = v["functions"]
                .as_array()
                .unwrap_or(&empty)
                .iter()
                .map(|f| {
                    let raw = f["name"].as_str().unwrap_or_default();
                    FnDoc {
                        name: display_name(raw),
                        signature: display_signature(
                            raw,
                            f["signature"].as_str().unwrap_or_default(),
                        ),
                        doc: strip_comment(f["docComments"].as_array().unwrap_or(&empty)),
                    }
                })
                .collect();
            functions.sort_by(|a, b| a.name.cmp(&b.name).then(a.signature.cmp(&b.signature)));
            ModuleDoc {
                name: m.name.to_string(),
                about: m.about.to_string(),
                types,
                functions,
            }
        })
        .collect()
}

/// The documentation of the stdlib modules (Rhai code embedded in the binary), from the
/// doc comments of their functions; each is listed as `stdlib/NAME`, its functions as
/// `NAME::fn`.
pub fn stdlib_catalog() -> Vec<ModuleDoc> {
    let engine = Engine::new_raw();
    super::resolver::STDLIB
        .iter()
        .filter_map(|(name, text)| {
            let ast = engine.compile(text).ok()?;
            let about = text
                .lines()
                .next()
                .unwrap_or_default()
                .trim_start_matches('/')
                .trim()
                .to_string();
            let mut functions: Vec<FnDoc> = ast
                .iter_functions()
                .filter(|f| !f.name.starts_with('_'))
                .map(|f| {
                    let lines: Vec<serde_json::Value> = f
                        .comments
                        .iter()
                        .map(|c| serde_json::Value::from(*c))
                        .collect();
                    FnDoc {
                        name: format!("{name}::{}", f.name),
                        signature: format!("{name}::{}({})", f.name, f.params.join(", ")),
                        doc: strip_comment(&lines),
                    }
                })
                .collect();
            functions.sort_by(|a, b| a.name.cmp(&b.name).then(a.signature.cmp(&b.signature)));
            Some(ModuleDoc {
                name: format!("stdlib/{name}"),
                about,
                types: Vec::new(),
                functions,
            })
        })
        .collect()
}

/// The whole catalogue: native modules, then the stdlib.
pub fn full_catalog() -> Vec<ModuleDoc> {
    let mut c = catalog();
    c.extend(stdlib_catalog());
    c
}

/// Every name a script can call (for completion), sorted and unique.
pub fn function_names() -> Vec<String> {
    let mut names: Vec<String> = catalog()
        .into_iter()
        .flat_map(|m| m.functions.into_iter().map(|f| f.name))
        .filter(|n| {
            n.chars()
                .next()
                .is_some_and(|c| c.is_alphabetic() || c == '_')
        })
        .collect();
    names.sort();
    names.dedup();
    names
}

fn indent(text: &str) -> String {
    text.lines()
        .map(|l| {
            if l.is_empty() {
                String::new()
            } else {
                format!("    {l}")
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Text of the docs: everything, or only what matches `name` (a module, type or function).
/// `None` when nothing matches.
pub fn render(cat: &[ModuleDoc], name: Option<&str>) -> Option<String> {
    let mut out = String::new();
    for m in cat {
        let whole = name.is_none() || name == Some(m.name.as_str());
        let types: Vec<_> = m
            .types
            .iter()
            .filter(|t| whole || name == Some(t.name.as_str()))
            .collect();
        let fns: Vec<_> = m
            .functions
            .iter()
            .filter(|f| {
                whole
                    || name == Some(f.name.as_str())
                    || name.map(|n| format!(".{n}")) == Some(f.name.clone())
            })
            .collect();
        if types.is_empty() && fns.is_empty() {
            continue;
        }
        out.push_str(&format!("## module {} — {}\n\n", m.name, m.about));
        for t in types {
            out.push_str(&format!("type {}\n{}\n\n", t.name, indent(&t.doc)));
        }
        for f in fns {
            out.push_str(&format!("fn {}\n{}\n\n", f.signature, indent(&f.doc)));
        }
    }
    if out.is_empty() {
        None
    } else {
        Some(out.trim_end().to_string() + "\n")
    }
}

/// The last line of [`index`].
pub const INDEX_FOOTER: &str =
    "clmtune doc NAME for one module, type or function; clmtune doc --all for everything";

/// Words joined by ", " into lines of at most `width` characters, each starting with
/// `lead` (the first) or as many spaces (the others).
fn wrap_list(lead: &str, words: &[String], width: usize) -> String {
    let mut lines: Vec<String> = Vec::new();
    let mut line = lead.to_string();
    for (i, w) in words.iter().enumerate() {
        let piece = if i + 1 < words.len() {
            format!("{w},")
        } else {
            w.clone()
        };
        if line.trim().len() > lead.trim().len() && line.len() + 1 + piece.len() > width {
            lines.push(line.trim_end().to_string());
            line = " ".repeat(lead.len());
        } else if line.len() > lead.len() {
            line.push(' ');
        }
        line.push_str(&piece);
    }
    lines.push(line.trim_end().to_string());
    lines.join("\n")
}

/// The names a module's functions are called by, sorted and unique (`.shape` for a
/// property, operators by their symbol).
fn function_names_of(m: &ModuleDoc) -> Vec<String> {
    let mut names: Vec<String> = m.functions.iter().map(|f| f.name.clone()).collect();
    names.sort();
    names.dedup();
    names
}

/// The types a module documents, by name, unique in the order given.
fn type_names_of(m: &ModuleDoc) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for t in &m.types {
        if !names.contains(&t.name) {
            names.push(t.name.clone());
        }
    }
    names
}

/// What `clmtune doc` prints without a name: each module with its one-line description,
/// then its types and the names of its functions, and how to read on.
pub fn index(cat: &[ModuleDoc]) -> String {
    let mut out = String::new();
    for m in cat {
        out.push_str(&format!("{} — {}\n", m.name, m.about));
        let types = type_names_of(m);
        if !types.is_empty() {
            out.push_str(&wrap_list("  types: ", &types, 92));
            out.push('\n');
        }
        let fns = function_names_of(m);
        if !fns.is_empty() {
            out.push_str(&wrap_list("  functions: ", &fns, 92));
            out.push('\n');
        }
        out.push('\n');
    }
    out.push_str(INDEX_FOOTER);
    out.push('\n');
    out
}

/// The guide's function reference (`clmtune doc --markdown`, committed as
/// docs/guide/src/reference.md): every module's types and functions with their docs, as
/// Markdown. Examples keep their ```rhai fences: tests/doc_examples.rs runs them.
pub fn markdown(cat: &[ModuleDoc]) -> String {
    let mut out = String::from(
        "# Function reference\n\n\
         Generated from the doc comments of the code by `clmtune doc --markdown` (a test keeps \
         this page equal to it); `clmtune doc NAME` and the REPL's `:help NAME` show the same \
         text for one module, type or function. Every example runs as a test \
         (`tests/doc_examples.rs`); a line `EXPR //=> TEXT` shows what `EXPR` prints.\n\n",
    );
    for m in cat {
        let anchor: String = m
            .name
            .chars()
            .map(|c| if c.is_alphanumeric() { c } else { '-' })
            .collect();
        out.push_str(&format!("- [{}](#{anchor}): {}\n", m.name, m.about));
    }
    for m in cat {
        out.push_str(&format!("\n## {}\n\n{}\n", m.name, capitalised(&m.about)));
        for t in &m.types {
            out.push_str(&format!("\n### type `{}`\n\n{}\n", t.name, t.doc));
        }
        for f in &m.functions {
            out.push_str(&format!("\n#### `{}`\n\n{}\n", f.signature, f.doc));
        }
    }
    out
}

fn capitalised(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(first) => first.to_uppercase().chain(c).collect::<String>() + ".",
        None => String::new(),
    }
}

/// A ```rhai example from a doc comment.
#[derive(Debug, Clone)]
pub struct Example {
    /// Whose doc it is in (a signature or a type name).
    pub owner: String,
    /// The example's code.
    pub code: String,
}

/// Every ```rhai example in the catalogue.
pub fn examples(cat: &[ModuleDoc]) -> Vec<Example> {
    let mut out = Vec::new();
    let docs = cat.iter().flat_map(|m| {
        m.types
            .iter()
            .map(|t| (format!("type {}", t.name), &t.doc))
            .chain(m.functions.iter().map(|f| (f.signature.clone(), &f.doc)))
    });
    for (owner, doc) in docs {
        let mut code: Option<String> = None;
        for line in doc.lines() {
            match (&mut code, line.trim()) {
                (None, "```rhai") => code = Some(String::new()),
                (Some(c), "```") => {
                    out.push(Example {
                        owner: owner.clone(),
                        code: std::mem::take(c),
                    });
                    code = None;
                }
                (Some(c), _) => {
                    c.push_str(line);
                    c.push('\n');
                }
                _ => {}
            }
        }
    }
    out
}

fn rhai_string(s: &str) -> String {
    format!(
        "\"{}\"",
        s.replace('\\', "\\\\")
            .replace('"', "\\\"")
            .replace('\n', "\\n")
    )
}

/// Turns an example into a test: a line `EXPR //=> TEXT` (with following `//=> TEXT` lines
/// for more output lines) checks that `EXPR` prints as `TEXT` (a float may differ from a
/// value computed elsewhere, e.g. by numpy, in the last digits: relative 1e-13).
pub fn example_as_test(code: &str) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut pending: Option<(String, String, usize)> = None;
    let flush = |p: &mut Option<(String, String, usize)>, out: &mut Vec<String>| {
        if let Some((expr, want, line)) = p.take() {
            out[line - 1] = format!("__doc_check({expr}, {}, {line});", rhai_string(&want));
        }
    };
    for (i, line) in code.lines().enumerate() {
        if let Some((head, tail)) = line.split_once("//=>") {
            let text = tail.strip_prefix(' ').unwrap_or(tail).to_string();
            if head.trim().is_empty() {
                if let Some((_, want, _)) = &mut pending {
                    want.push('\n');
                    want.push_str(&text);
                }
                out.push(String::new());
                continue;
            }
            flush(&mut pending, &mut out);
            let expr = head.trim().trim_end_matches(';').to_string();
            pending = Some((expr, text, i + 1));
            out.push(String::new());
        } else {
            flush(&mut pending, &mut out);
            out.push(line.to_string());
        }
    }
    flush(&mut pending, &mut out);
    out.push(
        "fn __doc_check(got, want, line) { \
           let text = to_string(got); \
           if text == want { return; } \
           if type_of(got) == \"f64\" { \
             let w = NAN; try { w = parse_float(want); } catch {} \
             if abs(got - w) <= 1e-13 * abs(w) { return; } \
           } \
           throw `line ${line}: printed\n${text}\nbut the doc says\n${want}`; }"
            .into(),
    );
    out.join("\n")
}

/// Runs one example; `temp_dir` is given to it as `TEMP_DIR`. Returns the error report.
pub fn run_example(engine: &Engine, ex: &Example, temp_dir: &str) -> Result<(), String> {
    let mut scope: Scope = super::base_scope("<doc example>", &[]);
    scope.push_constant("TEMP_DIR", temp_dir.to_string());
    let code = example_as_test(&ex.code);
    engine.run_with_scope(&mut scope, &code).map_err(|e| {
        format!(
            "example of `{}` failed: {e}\n--- example ---\n{}",
            ex.owner, ex.code
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_read_in_script_terms() {
        assert_eq!(
            clean_types("rand(shape: Dynamic, seed: i64) -> RResult<NdArray>"),
            "rand(shape: any, seed: int) -> Array"
        );
        assert_eq!(
            display_signature("get$shape", "get$shape(a: &mut NdArray) -> List"),
            "get shape(a: Array) -> list"
        );
        assert_eq!(
            clean_types("read_csv(path: &str) -> RResult<Map>"),
            "read_csv(path: string) -> map"
        );
        // functions registered outside the plugin macros (issue 28, item 12)
        assert_eq!(
            clean_types("assert(condition: bool) -> Result<(), Box<EvalAltResult>>"),
            "assert(condition: bool)"
        );
        assert_eq!(
            clean_types("fmt(x: Dynamic, spec: &str) -> Result<String, Box<EvalAltResult>>"),
            "fmt(x: any, spec: string) -> string"
        );
    }

    #[test]
    fn expected_output_lines_become_checks() {
        let t = example_as_test("let a = 1;\na + 1    //=> [1.\n         //=>  2.]\nprint(a);\n");
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines[0], "let a = 1;");
        assert_eq!(lines[1], "__doc_check(a + 1, \"[1.\\n 2.]\", 2);");
        assert_eq!(lines[2], "");
        assert_eq!(lines[3], "print(a);");
    }
}
