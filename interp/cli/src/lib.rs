//! The `omega` command's library: what the command line renders for scripts and editors.
//!
//! The layers below produce plain data; this crate and the language server are the only ones
//! that know JSON. [`json`] renders diagnostics in the LSP shape that `omega check --format json`
//! prints; [`explore`] runs a program under many schedules (`omega explore`); [`monitor`] counts and shows a run's LLM calls (`--stats`, the live status line).

pub mod explore;
pub mod json;
pub mod monitor;
