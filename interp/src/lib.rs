//! OmegaLLM: reader, evaluator, effects, concurrency and static analysis.
//!
//! Data flows one way: text → [`reader`] → [`syntax`] tree → expansion and compilation →
//! evaluation (or analysis) → values and diagnostics. Nothing here knows about editors.

pub mod analysis;
pub mod builtins;
pub mod compile;
pub mod config;
pub mod diagnostic;
pub mod equality;
pub mod error;
pub mod format;
pub mod llm;
pub mod llm_port;
pub mod lock;
pub mod memory;
pub mod numbers;
pub mod primitives;
pub mod printer;
pub mod reader;
pub mod session;
pub mod symbol;
pub mod syntax;
pub mod value;
pub mod vm;
