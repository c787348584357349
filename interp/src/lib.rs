//! OmegaLLM: reader, evaluator, effects, concurrency and static analysis.
//!
//! Data flows one way: text → [`reader`] → [`syntax`] tree → expansion and compilation →
//! evaluation (or analysis) → values and diagnostics. Nothing here knows about editors.

pub mod analysis;
pub mod builtins;
pub mod config;
pub mod diagnostic;
pub mod llm;
pub mod reader;
pub mod symbol;
pub mod syntax;
