//! Diagnostics as plain values: byte ranges, a code, a message, related places, machine data
//! and quick fixes. The static analysis produces them; `omega check` and the language server
//! render them: [`render_human`] here, the JSON and LSP forms in the `omega` command and the
//! language server, the only crates that know those protocols
//! (the JSON shape is in docs/language.md §9).

use crate::syntax::{SourceFile, Span};

/// LSP severities, with their protocol numbers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    Error = 1,
    Warning = 2,
    Information = 3,
    Hint = 4,
}

impl Severity {
    /// The word `omega check` prints.
    pub fn label(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Information => "info",
            Severity::Hint => "hint",
        }
    }
}

/// Diagnostic codes (docs/language.md §9); `as_str` gives the `omega::` form used everywhere outside.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Code {
    Syntax,
    Unbound,
    Arity,
    Unused,
    UnknownEffect,
    SerializerNotCalled,
    DeadlockOrder,
    SelfDeadlock,
    LockOrderLatent,
    Race,
    /// The analysis of a file stopped early (work budget, or cancelled): findings may be missing.
    AnalysisIncomplete,
    EvalError,
    LlmError,
    /// A problem exploring schedules showed that no static warning points at (LSP).
    ScheduleFinding,
}

impl Code {
    pub const ALL: &'static [Code] = &[
        Code::Syntax,
        Code::Unbound,
        Code::Arity,
        Code::Unused,
        Code::UnknownEffect,
        Code::SerializerNotCalled,
        Code::DeadlockOrder,
        Code::SelfDeadlock,
        Code::LockOrderLatent,
        Code::Race,
        Code::AnalysisIncomplete,
        Code::EvalError,
        Code::LlmError,
        Code::ScheduleFinding,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Code::Syntax => "omega::syntax",
            Code::Unbound => "omega::unbound",
            Code::Arity => "omega::arity",
            Code::Unused => "omega::unused",
            Code::UnknownEffect => "omega::unknown-effect",
            Code::SerializerNotCalled => "omega::serializer-not-called",
            Code::DeadlockOrder => "omega::deadlock-order",
            Code::SelfDeadlock => "omega::self-deadlock",
            Code::LockOrderLatent => "omega::lock-order-latent",
            Code::Race => "omega::race",
            Code::AnalysisIncomplete => "omega::analysis-incomplete",
            Code::EvalError => "omega::eval-error",
            Code::LlmError => "omega::llm-error",
            Code::ScheduleFinding => "omega::schedule-finding",
        }
    }

    /// The code without its `omega::` prefix, as written in `;; omega: allow CODE`.
    pub fn short(self) -> &'static str {
        &self.as_str()["omega::".len()..]
    }

    /// Parses `race` or `omega::race`.
    pub fn parse(s: &str) -> Option<Code> {
        let short = s.strip_prefix("omega::").unwrap_or(s);
        Code::ALL.iter().copied().find(|c| c.short() == short)
    }
}

/// LSP diagnostic tags.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Tag {
    Unnecessary = 1,
    Deprecated = 2,
}

/// A second place in the same file that explains the finding.
#[derive(Clone, Debug, PartialEq)]
pub struct Related {
    pub span: Span,
    pub message: String,
}

/// A quick fix: a title and text edits (byte ranges of the same file, replaced by new text).
#[derive(Clone, Debug, PartialEq)]
pub struct Fix {
    pub title: String,
    pub edits: Vec<(Span, String)>,
    /// The fix the editor should offer first.
    pub preferred: bool,
}

/// Machine-readable facts of a concurrency finding (`data` in the JSON shape).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DiagnosticData {
    /// Serializer names of a deadlock or self-deadlock, sorted.
    pub locks: Vec<String>,
    /// The shared location of a race.
    pub state: Option<String>,
    /// `"deadlock-order:"` + the sorted lock names, comma-joined.
    pub cycle_id: Option<String>,
    /// The primary task's path, outermost first, when the finding lies outside its branch.
    pub trace: Vec<Related>,
}

impl DiagnosticData {
    pub fn is_empty(&self) -> bool {
        self.locks.is_empty() && self.state.is_none() && self.cycle_id.is_none() && self.trace.is_empty()
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Diagnostic {
    pub span: Span,
    pub severity: Severity,
    pub code: Code,
    pub message: String,
    pub related: Vec<Related>,
    pub data: DiagnosticData,
    pub tags: Vec<Tag>,
    pub fixes: Vec<Fix>,
}

impl Diagnostic {
    pub fn new(code: Code, severity: Severity, span: Span, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            span,
            severity,
            code,
            message: message.into(),
            related: Vec::new(),
            data: DiagnosticData::default(),
            tags: Vec::new(),
            fixes: Vec::new(),
        }
    }

    pub fn error(code: Code, span: Span, message: impl Into<String>) -> Diagnostic {
        Diagnostic::new(code, Severity::Error, span, message)
    }

    pub fn warning(code: Code, span: Span, message: impl Into<String>) -> Diagnostic {
        Diagnostic::new(code, Severity::Warning, span, message)
    }

    pub fn with_related(mut self, span: Span, message: impl Into<String>) -> Diagnostic {
        self.related.push(Related { span, message: message.into() });
        self
    }

    /// Every range the finding points at: primary, related and trace.
    pub fn all_spans(&self) -> impl Iterator<Item = Span> + '_ {
        std::iter::once(self.span)
            .chain(self.related.iter().map(|r| r.span))
            .chain(self.data.trace.iter().map(|r| r.span))
    }

    /// The order of `omega check` output: position, then severity, code and message.
    pub fn sort_key(&self) -> (u32, u32, Severity, Code, &str) {
        (self.span.start, self.span.end, self.severity, self.code, &self.message)
    }
}

/// Sorts diagnostics into their canonical, deterministic order and drops exact duplicates.
pub fn sort_diagnostics(diags: &mut Vec<Diagnostic>) {
    diags.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
    diags.dedup_by(|a, b| a.sort_key() == b.sort_key() && a.related == b.related);
}

/// `FILE:LINE:COL: SEVERITY[CODE]: MESSAGE` lines, each followed by its `  note:` lines.
pub fn render_human(file: &SourceFile, diags: &[Diagnostic]) -> String {
    let mut out = String::new();
    for d in diags {
        out.push_str(&format!(
            "{}: {}[{}]: {}\n",
            file.location(d.span.start as usize),
            d.severity.label(),
            d.code.as_str(),
            d.message
        ));
        for r in &d.related {
            out.push_str(&format!("  note: {}: {}\n", file.location(r.span.start as usize), r.message));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> (SourceFile, Vec<Diagnostic>) {
        let file = SourceFile::new("a.omega", "(é)\n(foo 1)\n");
        let d = Diagnostic::error(Code::Unbound, Span::new(6, 9), "unbound variable: `foo`")
            .with_related(Span::new(1, 3), "similar name here");
        (file, vec![d])
    }

    #[test]
    fn human_output_uses_one_based_character_columns() {
        let (file, diags) = sample();
        assert_eq!(
            render_human(&file, &diags),
            "a.omega:2:2: error[omega::unbound]: unbound variable: `foo`\n  note: a.omega:1:2: similar name here\n"
        );
    }

    #[test]
    fn codes_parse_with_or_without_prefix() {
        assert_eq!(Code::parse("race"), Some(Code::Race));
        assert_eq!(Code::parse("omega::self-deadlock"), Some(Code::SelfDeadlock));
        assert_eq!(Code::parse("nope"), None);
    }
}
