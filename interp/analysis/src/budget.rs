//! Bounds on the analysis of one file, so a hostile or generated file cannot take the
//! language server's time or memory: a cancellation flag the caller may raise at any time,
//! and the reason the passes stopped early, reported as one `omega::analysis-incomplete`
//! Information diagnostic. Stopping early loses findings, never invents them.

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Why the analysis stopped before the end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason {
    /// The caller raised the cancellation flag.
    Cancelled,
    /// A pass used up its work or memory budget; the text names the pass.
    Budget(&'static str),
}

/// The shared stop state of one analysis.
pub struct Stop {
    cancel: Option<Arc<AtomicBool>>,
    reason: Cell<Option<Reason>>,
}

impl Stop {
    pub fn new(cancel: Option<Arc<AtomicBool>>) -> Stop {
        Stop { cancel, reason: Cell::new(None) }
    }

    /// Whether the caller asked to stop; remembered as the reason.
    pub fn cancelled(&self) -> bool {
        let raised = self.cancel.as_ref().is_some_and(|c| c.load(Ordering::Relaxed));
        if raised {
            self.reason.set(Some(Reason::Cancelled));
        }
        raised
    }

    /// Records that `pass` ran out of budget (the first reason wins, cancellation overrides).
    pub fn exhausted(&self, pass: &'static str) {
        if self.reason.get().is_none() {
            self.reason.set(Some(Reason::Budget(pass)));
        }
    }

    pub fn reason(&self) -> Option<Reason> {
        self.reason.get()
    }

    /// The flag, for a pass that keeps its own copy.
    pub fn flag(&self) -> Option<Arc<AtomicBool>> {
        self.cancel.clone()
    }
}

/// The message of the `omega::analysis-incomplete` diagnostic.
pub fn message(reason: Reason) -> String {
    match reason {
        Reason::Cancelled => "analysis incomplete: cancelled before the end; findings may be missing".to_string(),
        Reason::Budget(pass) => format!(
            "analysis incomplete: the {pass} reached its work budget for this file; findings may be missing \
             (splitting the file or the nested calls keeps it within bounds)"
        ),
    }
}
