//! The bottom layer of OmegaLLM: what every tool agrees on about a program's text.
//!
//! Text → [`reader`] (through the tree-sitter grammar) → the [`syntax`] tree of [`syntax::Datum`]s
//! with byte spans and interned [`symbol`]s. [`format`] is `omega fmt`; [`forms`] is the one table
//! of special forms and [`builtins`] the one table of built-in procedures; [`diagnostic`] is the
//! shape of every finding, as plain data.
//! Nothing here evaluates, does I/O, or knows JSON or LSP.

pub mod builtins;
pub mod diagnostic;
pub mod format;
pub mod forms;
pub mod reader;
pub mod symbol;
pub mod syntax;
