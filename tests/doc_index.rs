//! `clmtune doc`: an index without a name, every script-visible type documented and found
//! by `clmtune doc NAME` and the REPL's `:help NAME`, and the guide's function reference
//! generated from the same catalogue.

use std::io::Write;
use std::process::{Command, Stdio};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_clmtune"))
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Every custom type the script engine knows: the type list (`script::TYPES`) and what the
/// engine's own metadata reports, by script name.
fn engine_types() -> Vec<String> {
    let mut names: Vec<String> = clmtune::script::TYPES
        .iter()
        .map(|t| t.name.to_string())
        .collect();
    let engine = clmtune::script::engine();
    let json = engine.gen_fn_metadata_to_json(false).unwrap();
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    for t in v["customTypes"].as_array().into_iter().flatten() {
        names.push(t["displayName"].as_str().unwrap().to_string());
    }
    names.sort();
    names.dedup();
    names
}

#[test]
fn every_script_type_is_documented_and_found_by_name() {
    let cat = clmtune::script::doc::full_catalog();
    let types = engine_types();
    for must in [
        "Cost",
        "Optima",
        "HistoryMatch",
        "Posterior",
        "EofStage",
        "Array",
    ] {
        assert!(
            types.contains(&must.to_string()),
            "{must} not among {types:?}"
        );
    }
    let mut missing = Vec::new();
    for name in &types {
        let doc = cat
            .iter()
            .flat_map(|m| m.types.iter())
            .find(|t| &t.name == name)
            .map(|t| t.doc.clone())
            .unwrap_or_default();
        let found = clmtune::script::doc::render(&cat, Some(name)).unwrap_or_default();
        if doc.trim().is_empty() || !found.contains(&format!("type {name}\n")) {
            missing.push(name.clone());
        }
    }
    assert!(
        missing.is_empty(),
        "types without a documented entry that `clmtune doc NAME` finds: {missing:?}"
    );
}

#[test]
fn doc_without_a_name_is_an_index_of_every_module() {
    let out = bin().arg("doc").output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let o = text(&out.stdout);
    let cat = clmtune::script::doc::full_catalog();
    assert_eq!(o, clmtune::script::doc::index(&cat));
    for m in &cat {
        assert!(
            o.contains(&format!("{} — {}\n", m.name, m.about)),
            "module {} missing from the index",
            m.name
        );
    }
    assert!(
        o.contains("  types: Cost, HistoryMatch, Identifiability, Optima, PCs, Posterior, Waves\n")
    );
    assert!(o.contains("functions: assert, fmt\n"), "{o}");
    assert!(o.ends_with(
        "clmtune doc NAME for one module, type or function; clmtune doc --all for everything\n"
    ));
    // an index, not the full docs: no doc comment text, far shorter than --all
    assert!(
        !o.contains("type Array\n") && !o.contains("fn zeros("),
        "{o}"
    );
    let all = bin().args(["doc", "--all"]).output().unwrap();
    assert!(all.status.success());
    let all = text(&all.stdout);
    assert!(all.contains("type Array\n") && all.contains("fn zeros(shape: any) -> Array"));
    assert!(o.lines().count() * 5 < all.lines().count());
}

#[test]
fn doc_name_finds_the_calibration_types() {
    for name in [
        "Cost",
        "Optima",
        "HistoryMatch",
        "Posterior",
        "EofStage",
        "Range",
    ] {
        let out = bin().args(["doc", name]).output().unwrap();
        let o = text(&out.stdout);
        assert!(out.status.success(), "{name}: {}", text(&out.stderr));
        assert!(o.contains(&format!("type {name}\n")), "{name}: {o}");
    }
    let out = bin().args(["doc", "Cost", "--json"]).output().unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v[0]["types"][0]["name"], "Cost");
}

#[test]
fn help_in_the_repl_finds_a_type() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = bin()
        .current_dir(dir.path())
        .env("CLMTUNE_HISTORY", dir.path().join("history"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b":help Cost\n:help Posterior\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let o = text(&out.stdout);
    assert!(
        o.contains("type Cost\n    A cost of candidate scalings"),
        "{o}"
    );
    assert!(o.contains("type Posterior\n    An MCMC posterior"), "{o}");
}

#[test]
fn the_guides_function_reference_is_generated() {
    let out = bin().args(["doc", "--markdown"]).output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let page = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/guide/src/reference.md");
    let committed = std::fs::read_to_string(&page).unwrap();
    assert!(
        text(&out.stdout) == committed,
        "docs/guide/src/reference.md is not what `clmtune doc --markdown` prints now: run \
         `clmtune doc --markdown > docs/guide/src/reference.md`"
    );
    for m in clmtune::script::doc::full_catalog() {
        assert!(
            committed.contains(&format!("\n## {}\n", m.name)),
            "{}",
            m.name
        );
        for t in &m.types {
            assert!(
                committed.contains(&format!("### type `{}`", t.name)),
                "{}",
                t.name
            );
        }
    }
}
