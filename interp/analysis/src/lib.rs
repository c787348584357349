//! Static analysis: what `omega check` and the language server report without running code.
//!
//! The input is one file's text; the output is a list of [`Diagnostic`]s with byte ranges,
//! related places, machine data (`data.locks`, `data.state`, `data.cycleId`, `data.trace`)
//! and quick fixes. Protocols (LSP positions, JSON) are the callers' business
//! ([`crate::diagnostic`] renders both `omega check` forms).
//!
//! # Rules
//!
//! | code | severity | reported when |
//! |---|---|---|
//! | `omega::syntax` | Error | the reader fails, or a special form is malformed |
//! | `omega::unbound` | Error | a name no primitive, special form, top-level define or enclosing binder binds |
//! | `omega::arity` | Error | a call of a primitive, or of a top-level procedure defined once and never `set!`, with a wrong argument count |
//! | `omega::unused` | Hint | a `let`-family or internal-define binding never read (not `_x`, parameters, top-level names) |
//! | `omega::unknown-effect` | Warning | `(effect OP …)` with OP neither built in nor handled by any `handle` of the file |
//! | `omega::serializer-not-called` | Warning | `(s p)` built and dropped: statement position, a `for-each` procedure's or a `parallel-map` element's result |
//! | `omega::deadlock-order` | Warning | a lock-order cycle whose nestings can run in concurrent tasks holding no common serializer, with consistent keys |
//! | `omega::self-deadlock` | Error / Warning / Information | a task acquires a serializer it holds, or joins tasks that need one it holds: Error when definite, Warning when the serializer is one of several possible values, Information when it needs two keys to be equal, the code is uncalled, or the serializer stands for a family |
//! | `omega::lock-order-latent` | Information | an inverted order that no two concurrent tasks run |
//! | `omega::race` | Warning | a location written in one task and accessed in a concurrent one, with no serializer held by both |
//! | `omega::analysis-incomplete` | Information | a budget ([`mod@budget`]) or the caller's cancel flag stopped the analysis early |
//!
//! Identities of serializers, task paths, key facts and locations are described in the
//! modules below; the user's view of the rules is docs/language.md §9. A `;; omega: allow CODE…` comment on the line above any
//! line of a finding's ranges drops it.
//!
//! # Pipeline
//!
//! `check(text)` reads the text and runs these passes:
//!
//! 1. [`mod@resolve`]: lexical name resolution. One walk builds scopes, binders and references,
//!    checks the shape of special forms (`omega::syntax`) and records calls and effects. Its
//!    [`Resolution`] also serves the language server: [`Resolution::definition_at`],
//!    [`Resolution::references`] / [`Resolution::references_at`] and
//!    [`Resolution::visible_names_at`], each binding with its [`BindingKind`].
//! 2. [`names`], [`arity`], [`effects`]: `omega::unbound`, `omega::unused`, `omega::arity`
//!    and `omega::unknown-effect`, read off the resolution.
//! 3. [`interpret`]: abstract execution of the top-level forms in file order. Procedures are
//!    instantiated at each call site, so helpers see the caller's serializers and literal
//!    keys fold guards; identical calls are replayed from a memo. It yields acquisition events
//!    (lock, held set, key facts, task path, trace), spawns and shared-state accesses, in
//!    terms of serializer identities ([`identity`]) and task paths ([`tasks`]); key facts come
//!    from guards ([`key_order`]).
//! 4. [`lock_order`] (cycles, keyed inversions, latent inversions), [`self_deadlock`] and
//!    [`race`] turn events into findings; [`report`] names tasks and words related places and
//!    `omega::serializer-not-called`; [`fixes`] builds code-rewriting quick fixes;
//!    [`suppress`] drops allowed findings and adds the suppression fix.
//! 5. [`hover`]: lock-order notes per serializer, kept in the [`Analysis`] for hover.
//!
//! # Code map
//!
//! - `mod.rs`: the entry points ([`check`], [`analyze_file`] → [`Analysis`],
//!   [`analyze_text`], [`check_file_output`]).
//! - [`mod@resolve`]: scopes, binders, references, special-form shapes; the editor queries.
//! - [`names`], [`arity`], [`effects`]: the checks that need only the resolution.
//! - [`identity`]: serializer identities ([`identity::LockId`]), key terms and literals.
//! - [`tasks`]: task paths and the may-run-concurrently relation.
//! - [`interpret`]: abstract values, the abstract interpreter, events, spawns, locations.
//! - [`key_order`]: facts from guards and the difference-constraint prover.
//! - [`lock_order`]: the lock-order graph, Tarjan SCCs, bounded cycle search, feasibility
//!   (tasks, gates, keys), the swap-order fix.
//! - [`self_deadlock`]: nesting on a held serializer and joins under a lock.
//! - [`race`]: locksets per location.
//! - [`report`]: the shared wording (task names, paths, lines) and dropped serialized procedures.
//! - [`fixes`]: the order-by-key and wrap-in-serializer rewrites.
//! - [`suppress`]: `;; omega: allow` comments.
//! - [`hover`]: "before `b` at line 11 (task 1), after it at line 17 (task 2): possible deadlock".
//!
//! # Invariants
//!
//! - Pure: no I/O, no evaluation, no clock, no global state beyond the symbol interner.
//!   Lower layers never call up: nothing here knows about LSP or the command line.
//! - Deterministic: the same text gives byte-identical output. Ordered maps (or sorting)
//!   wherever iteration order can reach the output; hash maps only for lookups; diagnostics
//!   sorted by (start, end, severity, code, message); cycles rotated to their smallest name.
//! - Total: every input gives a result. A top-level form with a syntax error is skipped by
//!   every other check; the rest of the file is still analysed.
//! - No false Warnings or Errors: an identity the analysis cannot pin down (`set!` variables,
//!   results of unknown code, mutexes) never yields one; an inversion that cannot bite as
//!   written is Information; a procedure nothing calls gives Information at most; a serializer
//!   that stands for several (made per element of an unknown list) is never "definitely the
//!   same". Giving up (budgets, bounds) loses findings, never invents them.
//! - Bounded cost: at most 8 abstract values per expression, lists of known length up to 8
//!   elements, recursion unrolled once, replayed identical calls, a step budget per top-level
//!   form and per file, at most 6 key facts, cycles of length ≤ 4, at most 64 label choices
//!   per cycle, 64 accesses per location; over the file, a bound on the held sets and traces
//!   copied into events, evaluations nested at most 200 deep (calls included) and forms at
//!   most 128 ([`MAX_ANALYSIS_DEPTH`]) so a 2 MiB thread suffices, at most 2,000 cycles
//!   (shortest first) and 40,000 nesting choices. Reaching any of them, or a raised
//!   [`Options::cancel`], adds one `omega::analysis-incomplete` Information.

// The syntax layer, under the names the modules use.
use omega_syntax::{builtins, diagnostic, forms, reader, symbol, syntax};

mod arity;
mod budget;
mod effects;
mod fixes;
mod hover;
mod identity;
mod interpret;
mod key_order;
mod lock_order;
mod names;
mod race;
mod report;
mod resolve;
mod self_deadlock;
mod suppress;
mod tasks;

pub use hover::LockOrderNote;
pub use resolve::{resolve, Binding, BindingId, BindingKind, Resolution};

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use crate::diagnostic::{sort_diagnostics, Code, Diagnostic, Severity};
use crate::reader::Parsed;
use crate::syntax::{Datum, DatumKind, LineIndex, Span};

/// How to analyse a file.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Raised by the caller to stop the analysis early (a newer version of the buffer came
    /// in): the result then ends with an `omega::analysis-incomplete` Information.
    pub cancel: Option<Arc<AtomicBool>>,
}

/// Nesting the passes after the reader walk recursively; a deeper top-level form is reported
/// and skipped, so the analysis fits an ordinary 2 MiB thread stack.
pub const MAX_ANALYSIS_DEPTH: usize = 128;

/// Everything the analysis of one file yields, for the language server: diagnostics, the
/// name resolution (definition, references, completion) and lock-order notes for hover.
/// Plain data: it can be kept as a snapshot and queried from another thread.
#[derive(Clone, Debug)]
pub struct Analysis {
    pub diagnostics: Vec<Diagnostic>,
    pub resolution: Resolution,
    pub lock_orders: Vec<hover::LockOrderNote>,
}

impl Analysis {
    /// The lock-order note of the serializer named at `offset` (its define or a reference),
    /// such as "`term-a-serializer` (line 4): before `term-b-serializer` at line 11 (task 1),
    /// after it at line 17 (task 2): possible deadlock".
    pub fn lock_order_at(&self, offset: usize) -> Option<&hover::LockOrderNote> {
        hover::note_at(&self.lock_orders, &self.resolution, offset)
    }
}

/// Reads and analyses a file: reader errors as `omega::syntax`, then every check.
pub fn check(text: &str) -> Vec<Diagnostic> {
    analyze_file(text).diagnostics
}

/// Reads and analyses a file, keeping the resolution and hover notes beside the diagnostics.
pub fn analyze_file(text: &str) -> Analysis {
    analyze_with(text, &Options::default())
}

/// [`analyze_file`] with options (cancellation).
pub fn analyze_with(text: &str, options: &Options) -> Analysis {
    let parsed = reader::read(text);
    analyze_parsed_with(text, &parsed, options)
}

/// Analyses data read from `text`. Suppression comments and quick fixes need the text.
pub fn analyze_text(text: &str, parsed: &Parsed) -> Vec<Diagnostic> {
    analyze_parsed(text, parsed).diagnostics
}

/// The name resolution of data read from a file, without the checks: what an index of many
/// files needs (their definitions), at a fraction of [`analyze_parsed`]'s cost. Forms nested
/// too deep are skipped as the analysis skips them.
pub fn resolve_parsed(parsed: &Parsed) -> Resolution {
    let mut not_reported = Vec::new();
    let shallow = shallow_forms(&parsed.data, &mut not_reported);
    resolve(shallow.as_deref().unwrap_or(&parsed.data))
}

/// Analyses data already read from `text` (for example from a tree re-parsed incrementally
/// and lowered with [`reader::read_tree`]), keeping everything [`analyze_file`] keeps.
pub fn analyze_parsed(text: &str, parsed: &Parsed) -> Analysis {
    analyze_parsed_with(text, parsed, &Options::default())
}

/// [`analyze_parsed`] with options (cancellation).
pub fn analyze_parsed_with(text: &str, parsed: &Parsed, options: &Options) -> Analysis {
    let stop = budget::Stop::new(options.cancel.clone());
    let lines = LineIndex::new(text);
    let mut diags: Vec<Diagnostic> =
        parsed.errors.iter().map(|e| Diagnostic::error(Code::Syntax, e.span, e.message.clone())).collect();
    let shallow = shallow_forms(&parsed.data, &mut diags);
    let data: &[Datum] = shallow.as_deref().unwrap_or(&parsed.data);
    let res = resolve(data);
    diags.extend(res.syntax_errors.iter().cloned());
    if stop.cancelled() {
        return incomplete(diags, res, &stop);
    }
    let mut rest = Vec::new();
    names::unbound(&res, &mut rest);
    names::unused(&res, &mut rest);
    arity::check(&res, &mut rest);
    effects::check(&res, &mut rest);
    // Checks of malformed forms would only repeat the syntax error.
    rest.retain(|d| res.form_index_at(d.span.start).is_none_or(|i| !res.malformed_forms.contains(&i)));
    diags.extend(rest);

    let events = interpret::run(data, &res, stop.flag());
    if events.cancelled || stop.cancelled() {
        return incomplete(diags, res, &stop);
    }
    if events.truncated {
        stop.exhausted("abstract execution");
    }
    let ctx = report::Context { text, lines: &lines, run: &events, data, res: &res, stop: &stop };
    lock_order::check(&ctx, &mut diags);
    if stop.cancelled() {
        return incomplete(diags, res, &stop);
    }
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
    if let Some(reason) = stop.reason() {
        diags.push(incomplete_diagnostic(reason));
    }
    sort_diagnostics(&mut diags);
    let lock_orders = hover::notes(&ctx, &diags);
    Analysis { diagnostics: diags, resolution: res, lock_orders }
}

/// The result of an analysis stopped by cancellation: what was found so far, and the note.
fn incomplete(mut diags: Vec<Diagnostic>, resolution: Resolution, stop: &budget::Stop) -> Analysis {
    diags.push(incomplete_diagnostic(stop.reason().unwrap_or(budget::Reason::Cancelled)));
    sort_diagnostics(&mut diags);
    Analysis { diagnostics: diags, resolution, lock_orders: Vec::new() }
}

fn incomplete_diagnostic(reason: budget::Reason) -> Diagnostic {
    Diagnostic::new(Code::AnalysisIncomplete, Severity::Information, Span::new(0, 0), budget::message(reason))
}

/// The top-level forms with each one nested deeper than [`MAX_ANALYSIS_DEPTH`] replaced by
/// an empty list (and reported), or `None` when every form is shallow enough.
fn shallow_forms(data: &[Datum], diags: &mut Vec<Diagnostic>) -> Option<Vec<Datum>> {
    let deep: Vec<usize> = (0..data.len()).filter(|&i| depth_exceeds(&data[i], MAX_ANALYSIS_DEPTH)).collect();
    if deep.is_empty() {
        return None;
    }
    // Cloning a deep form would recurse as deep as it nests: only the shallow ones are copied.
    let out: Vec<Datum> = data
        .iter()
        .enumerate()
        .map(|(i, d)| if deep.contains(&i) { Datum::new(DatumKind::List(Vec::new(), None), d.span) } else { d.clone() })
        .collect();
    for i in deep {
        let span = data[i].span;
        diags.push(Diagnostic::error(
            Code::Syntax,
            span,
            format!(
                "form nested deeper than {MAX_ANALYSIS_DEPTH} levels: not analysed; \
                 move inner parts into definitions of their own"
            ),
        ));
    }
    Some(out)
}

/// Whether `d` nests lists or vectors deeper than `limit` (iterative: no host stack).
fn depth_exceeds(d: &Datum, limit: usize) -> bool {
    let mut work = vec![(d, 1usize)];
    while let Some((d, depth)) = work.pop() {
        if depth > limit && matches!(d.kind, DatumKind::List(..) | DatumKind::Vector(_)) {
            return true;
        }
        match &d.kind {
            DatumKind::List(items, tail) => {
                work.extend(items.iter().map(|x| (x, depth + 1)));
                if let Some(t) = tail {
                    work.push((t, depth + 1));
                }
            }
            DatumKind::Vector(items) => work.extend(items.iter().map(|x| (x, depth + 1))),
            _ => {}
        }
    }
    false
}

/// Analyses data whose text is not at hand (no suppression comments, no text-based fixes).
pub fn analyze(parsed: &Parsed) -> Vec<Diagnostic> {
    analyze_text("", parsed)
}

fn is_concurrency(code: Code) -> bool {
    matches!(code, Code::DeadlockOrder | Code::SelfDeadlock | Code::LockOrderLatent | Code::Race)
}
