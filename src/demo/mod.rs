//! The clmtune demo model: a small land model shaped like CLM5 — same inputs (a params file
//! in CLM5's layout, `user_nl_clm`, CIME's `env_*.xml`), same outputs (monthly `h0` history
//! files in the short-term archive, a `CaseStatus` record) — so that the whole workflow runs
//! on any machine. It is NOT CLM. Its physics is documented on docs/demo-model.md.
//!
//! It is the `local` backend of case submission: the ensemble machinery writes a case
//! folder exactly as it would for CLM and runs [`run::run_case`] in it.

pub mod climate;
pub mod fixture;
pub mod model;
pub mod obs;
pub mod params;
pub mod pft;
pub mod run;
pub mod setup;

pub use params::{read_params, write_default_params, Params, NOTICE};
pub use run::{run_case, CaseSetup, RunSummary};
