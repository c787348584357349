//! The `omega` command's library: what the command line renders for scripts and editors.
//!
//! The layers below produce plain data; this crate and the language server are the only ones
//! that know JSON. [`json`] renders diagnostics in the LSP shape that `omega check --format json`
//! prints, and the report of `omega explore --format json` (the exploration itself is the
//! `omega-explore` crate); [`monitor`] counts and shows a run's LLM calls (`--stats`, the live status line).

pub mod json;
pub mod monitor;
