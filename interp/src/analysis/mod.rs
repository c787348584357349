//! Static analysis: what `omega check` and the language server report without running code.
//!
//! # Architecture
//!
//! `check(text)` reads the text and calls `analyze(parsed)`, which runs these passes:
//!
//! 1. [`resolve`]: lexical name resolution. One walk builds scopes, binders and references,
//!    checks the shape of special forms (`omega::syntax`) and records calls and effects. Its
//!    [`Resolution`] also serves the language server (definition, references, rename,
//!    completion, hover).
//! 2. [`names`], [`arity`], [`effects`]: `omega::unbound`, `omega::unused`, `omega::arity`
//!    and `omega::unknown-effect`, read off the resolution.
//! 3. [`run`]: abstract execution of the top-level forms in file order. Procedures are
//!    instantiated at each call site, so helpers see the caller's serializers and literal
//!    keys fold guards. It yields acquisition events (lock, held set, key facts, task path,
//!    trace) and shared-state accesses, in terms of serializer identities ([`identity`]) and
//!    task paths ([`tasks`]); key facts come from guards ([`key_order`]).
//! 4. [`lock_order`] (deadlock cycles and latent inversions), [`self_deadlock`] and [`race`]
//!    turn events into findings; [`report`] names tasks and words the related locations;
//!    [`suppress`] drops findings under a `;; omega: allow CODE` comment.
//!
//! # Invariants
//!
//! - A pure function of the text: no I/O, no evaluation, no clock, no global state beyond
//!   the symbol interner. Same input, byte-identical output: ordered maps where order can
//!   leak, diagnostics sorted by (start, end, severity, code, message).
//! - A top-level form with a syntax error is skipped by every other check; the rest of the
//!   file is still analysed.
//! - Zero false Warnings matter as much as real findings: an identity the analysis cannot pin
//!   down (`set!` variables, results of unknown code) never yields a Warning or an Error,
//!   an inversion that cannot bite as written is only Information, and a procedure nothing
//!   calls gives latent Information at most.
//! - Cost is bounded: at most 8 abstract values per expression, recursion unrolled once, a
//!   step budget per top-level form, cycles of length ≤ 4, at most 64 label choices per cycle.

pub mod arity;
pub mod effects;
pub mod fixes;
pub mod identity;
pub mod key_order;
pub mod lock_order;
pub mod names;
pub mod race;
pub mod report;
pub mod resolve;
pub mod run;
pub mod self_deadlock;
pub mod suppress;
pub mod tasks;

pub use resolve::{resolve, Binding, BindingId, BindingKind, Resolution};

use crate::diagnostic::{sort_diagnostics, Code, Diagnostic};
use crate::reader::{self, Parsed};
use crate::syntax::{LineIndex, SourceFile};

/// Reads and analyses a file: reader errors as `omega::syntax`, then every check.
pub fn check(text: &str) -> Vec<Diagnostic> {
    let parsed = reader::read(text);
    analyze_text(text, &parsed)
}

/// Analyses data read from `text`. Suppression comments and quick fixes need the text.
pub fn analyze_text(text: &str, parsed: &Parsed) -> Vec<Diagnostic> {
    let lines = LineIndex::new(text);
    let res = resolve(&parsed.data);
    let mut diags: Vec<Diagnostic> =
        parsed.errors.iter().map(|e| Diagnostic::error(Code::Syntax, e.span, e.message.clone())).collect();
    diags.extend(res.syntax_errors.iter().cloned());
    let mut rest = Vec::new();
    names::unbound(&res, &mut rest);
    names::unused(&res, &mut rest);
    arity::check(&res, &mut rest);
    effects::check(&res, &mut rest);
    // Checks of malformed forms would only repeat the syntax error.
    rest.retain(|d| res.form_index_at(d.span.start).is_none_or(|i| !res.malformed_forms.contains(&i)));
    diags.extend(rest);

    let events = run::run(&parsed.data, &res);
    let ctx = report::Context { text, lines: &lines, run: &events, data: &parsed.data, res: &res };
    lock_order::check(&ctx, &mut diags);
    self_deadlock::check(&ctx, &mut diags);
    race::check(&ctx, &mut diags);
    report::serializer_not_called(&ctx, &mut diags);

    let allow = suppress::Allowances::scan(text);
    diags.retain(|d| d.code == Code::Syntax || !allow.allows(d));
    for d in &mut diags {
        if is_concurrency(d.code) {
            let fix = allow.suppress_fix(text, d);
            d.fixes.push(fix);
        }
    }
    sort_diagnostics(&mut diags);
    diags
}

/// Analyses data whose text is not at hand (no suppression comments, no text-based fixes).
pub fn analyze(parsed: &Parsed) -> Vec<Diagnostic> {
    analyze_text("", parsed)
}

fn is_concurrency(code: Code) -> bool {
    matches!(code, Code::DeadlockOrder | Code::SelfDeadlock | Code::LockOrderLatent | Code::Race)
}

/// `omega check` for one file: the rendered output (human text or a JSON array) and whether
/// any diagnostic is an Error (exit status 1).
pub fn check_file_output(name: &str, text: &str, json: bool) -> (String, bool) {
    let file = SourceFile::new(name, text);
    let diags = check(text);
    let failed = diags.iter().any(|d| d.severity == crate::diagnostic::Severity::Error);
    let out = if json {
        let uri = file_uri(name);
        crate::diagnostic::to_json(&file, &uri, &diags).to_string()
    } else {
        crate::diagnostic::render_human(&file, &diags)
    };
    (out, failed)
}

/// A `file://` URI for a path as given (made absolute against the current directory is the
/// caller's business; relative paths stay relative).
pub fn file_uri(path: &str) -> String {
    if path.starts_with('/') {
        format!("file://{path}")
    } else {
        format!("file:{path}")
    }
}
