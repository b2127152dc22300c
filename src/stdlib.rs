//! The Rhai modules of `stdlib/`, embedded in the binary at build time (`build.rs`): what
//! `import "NAME"` finds when no file of that name is next to the script, and what run.json
//! hashes for an imported stdlib module.

include!(concat!(env!("OUT_DIR"), "/stdlib.rs"));
