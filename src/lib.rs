//! clmtune: calibrate the Community Land Model (CLM5) with short Rhai scripts.
//!
//! Plain-Rust stage modules do the numeric work; `script` is the thin bridge that exposes
//! them to Rhai, one Rhai module per stage.

pub mod archive;
pub mod array;
pub mod bench;
pub mod calendar;
pub mod calibrate;
pub mod cime;
pub mod clm;
pub mod config;
pub mod demo;
pub mod emulate;
pub mod ensemble;
pub mod eof;
pub mod field;
pub mod files;
pub mod format;
pub mod grids;
pub mod guard;
pub mod hash;
pub mod interrupt;
pub mod kinds;
pub mod metrics;
pub mod nc;
/// numpy `.npy` files (numbers, and object arrays of numbers) as `f64` arrays: [`npy::read_npy`].
pub mod npy;
pub mod output;
pub mod plot;
pub mod progress;
pub mod provenance;
pub mod refocus;
pub mod repl;
pub mod report;
pub mod sampling;
pub mod script;
pub mod sensitivity;
pub mod settings;
pub mod stdlib;
pub mod summary;
pub mod table;
pub mod test_case;
pub mod toml_read;
