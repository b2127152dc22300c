//! Every ```rhai example in a doc comment runs as a test; `EXPR //=> TEXT` lines check
//! what the expression prints.

mod common;
#[path = "common/doc_fixture.rs"]
mod doc_fixture;

#[test]
fn every_doc_example_runs_and_prints_what_it_says() {
    let cat = clmtune::script::doc::full_catalog();
    let examples = clmtune::script::doc::examples(&cat);
    assert!(
        examples.len() > 80,
        "only {} examples found",
        examples.len()
    );
    common::demo_fixture();
    let engine = clmtune::script::engine();
    let dir = tempfile::tempdir().unwrap();
    doc_fixture::write_all(dir.path());
    let failures: Vec<String> = examples
        .iter()
        .filter_map(|ex| {
            clmtune::script::doc::run_example(&engine, ex, &dir.path().display().to_string()).err()
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} examples failed:\n\n{}",
        failures.len(),
        examples.len(),
        failures.join("\n\n")
    );
}

#[test]
fn every_function_and_type_is_documented() {
    for m in clmtune::script::doc::full_catalog() {
        for f in &m.functions {
            assert!(
                !f.doc.is_empty(),
                "{}: {} has no doc comment",
                m.name,
                f.signature
            );
        }
        for t in &m.types {
            assert!(
                !t.doc.is_empty(),
                "{}: type {} has no doc comment",
                m.name,
                t.name
            );
        }
    }
}
