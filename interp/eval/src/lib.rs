//! The OmegaLLM evaluator: values, the expander and compiler, the machine with its green-thread
//! tasks and serializers, the built-ins, and [`session::Session`], the embedding API.
//!
//! Data flows one way: syntax tree → [`compile`] (expansion to a small core language, then
//! bytecode with a span per instruction) → [`vm`] → values and errors. LLM calls leave the
//! machine through the [`vm::LlmPort`] trait, implemented by the provider layer above; this
//! crate does no network I/O and knows nothing of editors.

// Unit tests hand built-ins argument slices written out literally, `&[v.clone()]`.
#![cfg_attr(test, allow(clippy::cloned_ref_to_slice_refs))]

// The syntax layer, under the names the modules below use.
use omega_syntax::{builtins, forms, reader, symbol, syntax};

pub(crate) mod compile;
pub(crate) mod equality;
pub mod error;
pub(crate) mod lock;
pub mod memory;
pub(crate) mod numbers;
pub(crate) mod primitives;
pub mod printer;
pub mod session;
pub mod value;
pub(crate) mod vm;
pub mod wait_cycle;

// The facade: what an embedder (the command line, the language server, the LLM layer) uses.
pub use error::{Error, ErrorKind};
pub use primitives::Output;
pub use session::{FormResult, Session};
pub use value::Value;
pub use vm::pct::{pct_seed, PCT_FLAG};
pub use vm::{
    check_timeout, CancelToken, Limits, LlmEvent, LlmPort, LlmReply, LlmWork, RaceAccess, RaceReport, MAX_TIMEOUT_SECS,
};
