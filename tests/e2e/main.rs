//! End-to-end tests of omega-tools, one module per area, in one binary so the build stays fast.
//! Shared servers and helpers live in the `omega_tests` support library (tests/support).

mod analysis;
mod cli;
mod cli_llm;
mod cli_progress;
mod cli_reports;
mod concurrency;
mod conformance;
mod explore;
mod fuzz;
mod llm;
mod llm_providers;
mod programs;
mod tidy;
