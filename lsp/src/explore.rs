//! "Reproduce by exploring schedules": a code action on each static deadlock, self-deadlock
//! and race warning runs the file under many schedules ([`omega_explore`]) on the blocking
//! pool, and the warning is republished with what happened: "reproduced with seed S" and the
//! places of that interleaving, or "not reproduced in N schedules" (the warning stays). A
//! reproduced warning gets a code lens "▶ Replay seed S" that runs the file under that schedule
//! (`omega.replay`), whose deadlock shows each task's blocked place inline. A finding no
//! warning explains (an error or outcome only some schedules give, a race the analysis did not
//! see) is published as a warning of its own, `omega::schedule-finding`, with its own lens.
//!
//! Exploration never reaches an LLM provider: answers come from the cache or a script, else
//! from stand-ins. It is cancelled by `omega.cancel`, by cancelling its progress, by a newer
//! exploration of the file, and by any edit: its verdicts are claims about the text it ran,
//! so an edit drops them (and the replay lenses) rather than keeping them next to other code.

use std::ops::ControlFlow;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use serde_json::{json, Value as Json};
use tokio::sync::mpsc::unbounded_channel;
use tower_lsp_server::ls_types::*;

use omega_eval::CancelToken;
use omega_explore::{explore_with, Control, ExploreOptions, Finding, Report};
use omega_llm::config::LlmConfig;
use omega_llm::Runtime;
use omega_syntax::diagnostic::{Code, Diagnostic as OmegaDiagnostic};
use omega_syntax::syntax::Span;

use crate::diagnostics::from_analysis;
use crate::document::LineMap;
use crate::server::Backend;
use crate::state::{lock, Snapshot};
use crate::workspace::uri_path;

/// The static diagnostics an exploration can confirm.
pub const EXPLORABLE: [Code; 3] = [Code::DeadlockOrder, Code::SelfDeadlock, Code::Race];

pub const ACTION_TITLE: &str = "Reproduce by exploring schedules";

/// How often an exploration reports its progress.
const REPORT_EVERY: Duration = Duration::from_millis(100);

/// Which static diagnostic an exploration is about: its code and machine facts, which stay
/// the same across analyses of the same text (its range is only where it is shown).
#[derive(Clone, Debug, PartialEq)]
pub struct Target {
    pub code: String,
    /// Sorted.
    pub locks: Vec<String>,
    pub state: Option<String>,
}

impl Target {
    pub fn of(d: &OmegaDiagnostic) -> Target {
        let mut locks = d.data.locks.clone();
        locks.sort();
        locks.dedup();
        Target { code: d.code.as_str().to_string(), locks, state: d.data.state.clone() }
    }

    pub fn matches(&self, d: &OmegaDiagnostic) -> bool {
        *self == Target::of(d)
    }

    pub fn to_json(&self) -> Json {
        json!({"code": self.code, "locks": self.locks, "state": self.state})
    }

    pub fn from_json(v: &Json) -> Option<Target> {
        let code = v.get("code")?.as_str()?.to_string();
        if !EXPLORABLE.iter().any(|c| c.as_str() == code) {
            return None;
        }
        let mut locks: Vec<String> = match v.get("locks") {
            Some(Json::Array(a)) => a.iter().filter_map(|l| l.as_str().map(str::to_string)).collect(),
            _ => Vec::new(),
        };
        locks.sort();
        locks.dedup();
        let state = v.get("state").and_then(Json::as_str).map(str::to_string);
        Some(Target { code, locks, state })
    }
}

/// An exploration in progress.
pub struct Exploring {
    pub id: u64,
    pub cancel: CancelToken,
}

/// A place of the reproducing interleaving, in the explored text.
#[derive(Clone, Debug, PartialEq)]
pub struct Place {
    pub span: Span,
    pub message: String,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Verdict {
    Reproduced { seed: u64, stand_ins: bool, places: Vec<Place> },
    NotReproduced { schedules: u64 },
}

/// A finding no static warning explains, shown as a diagnostic of its own.
#[derive(Clone, Debug, PartialEq)]
pub struct Unexplained {
    pub span: Span,
    /// `race`, `divergent-outcome`, `error`, …
    pub kind: &'static str,
    pub message: String,
    pub seed: u64,
    pub places: Vec<Place>,
}

/// What an exploration of one version of the text said about its static warnings, and what
/// it found that no warning points at.
#[derive(Clone, Debug, Default)]
pub struct Explored {
    pub version: i32,
    pub verdicts: Vec<(Target, Verdict)>,
    pub unexplained: Vec<Unexplained>,
}

impl Explored {
    pub fn verdict(&self, d: &OmegaDiagnostic) -> Option<&Verdict> {
        self.verdicts.iter().find(|(t, _)| t.matches(d)).map(|(_, v)| v)
    }
}

/// How an exploration ended, for its progress and the log.
struct Ended {
    explored: Explored,
    schedules: u64,
    cancelled: bool,
    /// The verdict on the diagnostic asked about.
    target: Option<Verdict>,
}

/// The code actions "Reproduce by exploring schedules" on explorable warnings in `range`.
pub fn actions(snap: &Snapshot, uri: &Uri, range: Span) -> Vec<CodeActionOrCommand> {
    let Some(a) = &snap.analysis else { return Vec::new() };
    a.diagnostics
        .iter()
        .filter(|d| EXPLORABLE.contains(&d.code) && d.span.end >= range.start && d.span.start <= range.end)
        .map(|d| {
            let args = vec![json!(uri.as_str()), Target::of(d).to_json()];
            CodeActionOrCommand::CodeAction(CodeAction {
                title: ACTION_TITLE.into(),
                kind: Some(CodeActionKind::QUICKFIX),
                diagnostics: Some(vec![from_analysis(&snap.map, uri, d)]),
                command: Some(Command {
                    title: ACTION_TITLE.into(),
                    command: "omega.explore".into(),
                    arguments: Some(args),
                }),
                ..Default::default()
            })
        })
        .collect()
}

/// "▶ Replay seed S" on each reproduced warning.
pub fn replay_lenses(snap: &Snapshot, uri: &Uri, explored: &Explored) -> Vec<CodeLens> {
    let Some(a) = snap.analysis.as_ref().filter(|_| explored.version == snap.version) else { return Vec::new() };
    let mut out: Vec<CodeLens> = Vec::new();
    let reproduced = a.diagnostics.iter().filter_map(|d| match explored.verdict(d) {
        Some(Verdict::Reproduced { seed, .. }) => Some((d.span, *seed)),
        _ => None,
    });
    for (span, seed) in reproduced.chain(explored.unexplained.iter().map(|u| (u.span, u.seed))) {
        let start = snap.map.position(span.start as usize);
        let lens = CodeLens {
            range: Range::new(start, start),
            command: Some(Command {
                title: format!("▶ Replay seed {seed}"),
                command: "omega.replay".into(),
                arguments: Some(vec![json!(uri.as_str()), json!(seed)]),
            }),
            data: None,
        };
        if !out.iter().any(|l| l.range == lens.range && l.command == lens.command) {
            out.push(lens);
        }
    }
    out
}

/// Adds the exploration's verdict to a published warning: a message suffix, and the places of
/// the interleaving that reproduced it.
pub fn annotate(diagnostic: &mut Diagnostic, verdict: &Verdict, map: &LineMap, uri: &Uri) {
    match verdict {
        Verdict::Reproduced { seed, stand_ins, places } => {
            let answers = if *stand_ins { ", with stand-in LLM answers" } else { "" };
            diagnostic.message.push_str(&format!(" (reproduced with seed {seed}{answers})"));
            let related = diagnostic.related_information.get_or_insert_with(Vec::new);
            for p in places {
                related.push(DiagnosticRelatedInformation {
                    location: Location::new(uri.clone(), map.range(p.span)),
                    message: format!("seed {seed}: {}", p.message),
                });
            }
        }
        Verdict::NotReproduced { schedules } => {
            diagnostic.message.push_str(&format!(" (not reproduced in {schedules} schedules)"));
        }
    }
}

/// The places of the interleaving a finding saw: where each task of a deadlock is blocked,
/// the two racing accesses, or the variable whose final value differed.
fn places(f: &Finding) -> Vec<Place> {
    if matches!(f.kind, "deadlock" | "self-deadlock") && !f.blocked.is_empty() {
        return f.blocked.iter().map(|b| Place { span: b.span, message: b.label() }).collect();
    }
    let mut out: Vec<Place> = f.span.map(|span| Place { span, message: f.message.clone() }).into_iter().collect();
    out.extend(f.related.iter().filter_map(|(m, s)| s.map(|span| Place { span, message: m.clone() })));
    out
}

/// Verdicts on every explorable warning of the report's text: reproduced when a finding shows
/// it; "not reproduced" only when the whole budget ran.
fn verdicts(report: &Report, whole_budget: bool) -> Vec<(Target, Verdict)> {
    let mut out: Vec<(Target, Verdict)> = Vec::new();
    for d in report.diagnostics().iter().filter(|d| EXPLORABLE.contains(&d.code)) {
        let target = Target::of(d);
        if out.iter().any(|(t, _)| *t == target) {
            continue;
        }
        let verdict = match showing(report, d) {
            Some(f) => Verdict::Reproduced { seed: f.seed, stand_ins: f.stand_ins, places: places(f) },
            None if whole_budget => Verdict::NotReproduced { schedules: report.schedules },
            None => continue,
        };
        out.push((target, verdict));
    }
    out
}

fn target_reproduced(report: &Report, target: &Target) -> bool {
    report.diagnostics().iter().any(|d| target.matches(d) && showing(report, d).is_some())
}

/// The finding that shows warning `d`: one that confirms it by its serializers or variable,
/// else one of the same kind at the warning's place.
fn showing<'r>(report: &'r Report, d: &OmegaDiagnostic) -> Option<&'r Finding> {
    report.confirming(d).or_else(|| report.findings.iter().find(|f| at_warning(f, d)))
}

/// Whether `f` is the kind of bug warning `d` is about, at its place. Serializers fetched by
/// key and objects made per iteration get other names at run time than in the analysis (`API`
/// for `lb`, "an unnamed object" for `notes`), yet the bug is the one the warning points at.
fn at_warning(f: &Finding, d: &OmegaDiagnostic) -> bool {
    let same_kind = match d.code {
        Code::DeadlockOrder => f.kind == "deadlock",
        Code::SelfDeadlock => f.kind == "self-deadlock",
        Code::Race => f.kind == "race",
        _ => false,
    };
    let mut spans = f.span.into_iter().chain(f.related.iter().filter_map(|r| r.1));
    same_kind && spans.any(|s| s.start <= d.span.start && d.span.end <= s.end)
}

/// Findings no static warning of the report's text explains, with a place in the file: what
/// the analysis missed (a schedule-dependent outcome or error, a race it did not see).
fn unexplained(report: &Report) -> Vec<Unexplained> {
    let warnings: Vec<&OmegaDiagnostic> =
        report.diagnostics().iter().filter(|d| EXPLORABLE.contains(&d.code)).collect();
    report
        .findings
        .iter()
        .filter(|f| !warnings.iter().any(|d| f.confirms_diagnostic(d) || at_warning(f, d)))
        .filter_map(|f| {
            Some(Unexplained {
                span: f.span?,
                kind: f.kind,
                message: f.message.clone(),
                seed: f.seed,
                places: places(f).into_iter().filter(|p| Some(p.span) != f.span).collect(),
            })
        })
        .collect()
}

/// A finding as its own diagnostic (`omega::schedule-finding`), with its places.
pub fn finding_diagnostic(u: &Unexplained, map: &LineMap, uri: &Uri) -> Diagnostic {
    let related: Vec<DiagnosticRelatedInformation> = u
        .places
        .iter()
        .map(|p| DiagnosticRelatedInformation {
            location: Location::new(uri.clone(), map.range(p.span)),
            message: format!("seed {}: {}", u.seed, p.message),
        })
        .collect();
    Diagnostic {
        range: map.range(u.span),
        severity: Some(DiagnosticSeverity::WARNING),
        code: Some(NumberOrString::String(Code::ScheduleFinding.as_str().into())),
        source: Some("omega".into()),
        message: format!("{} (found by exploring schedules, seed {}; {})", u.message, u.seed, u.kind),
        related_information: (!related.is_empty()).then_some(related),
        ..Default::default()
    }
}

impl Backend {
    /// Starts exploring `uri` for `target` on the blocking pool; the error says why not.
    pub async fn start_exploration(&self, uri: &Uri, target: Target) -> Result<u64, String> {
        let settings = self.settings();
        if !settings.trusted {
            return Err("omega-lsp evaluates nothing in an untrusted workspace: trust the workspace in the editor \
                        (setting `omega.eval.trusted`) to explore schedules of this file. Analysis works either way."
                .into());
        }
        let id = self.state.next_job.fetch_add(1, Ordering::SeqCst) + 1;
        let cancel = CancelToken::default();
        let (text, version) = {
            let mut docs = lock(&self.state.docs);
            let d = docs.get_mut(uri).ok_or_else(|| format!("{} is not open in the editor", uri.as_str()))?;
            if let Some(old) = d.exploring.replace(Exploring { id, cancel: cancel.clone() }) {
                old.cancel.cancel();
            }
            (d.doc.text().clone(), d.doc.version)
        };
        let path = uri_path(uri);
        let name = path.as_ref().map(|p| p.display().to_string()).unwrap_or_else(|| uri.as_str().to_string());
        let this = self.clone();
        let uri = uri.clone();
        tokio::spawn(async move {
            let what = "exploring schedules";
            let run = this.explore(uri, id, target, text.to_string(), version, name, path, settings, cancel);
            this.guard_background(what, run).await;
        });
        Ok(id)
    }

    /// Cancels the exploration of `uri` in progress, if any.
    pub fn cancel_exploration(&self, uri: &Uri) -> bool {
        let exploring = lock(&self.state.docs).get_mut(uri).and_then(|d| d.exploring.take());
        exploring.map(|e| e.cancel.cancel()).is_some()
    }

    /// Cancels the exploration whose progress token is `token`.
    pub fn cancel_exploration_by_token(&self, token: &str) -> bool {
        let Some(id) = token.strip_prefix("omega-explore-").and_then(|n| n.parse::<u64>().ok()) else { return false };
        let mut docs = lock(&self.state.docs);
        for d in docs.values_mut() {
            if d.exploring.as_ref().is_some_and(|e| e.id == id) {
                if let Some(e) = d.exploring.take() {
                    e.cancel.cancel();
                }
                return true;
            }
        }
        false
    }

    #[allow(clippy::too_many_arguments)]
    async fn explore(
        &self,
        uri: Uri,
        id: u64,
        target: Target,
        text: String,
        version: i32,
        name: String,
        path: Option<std::path::PathBuf>,
        settings: crate::settings::Settings,
        cancel: CancelToken,
    ) {
        let budget = settings.explore_schedules;
        let file = uri.as_str().rsplit('/').next().unwrap_or("file").to_string();
        let token = self.begin_explore_progress(id, &file, budget).await;
        let (tx, mut rx) = unbounded_channel::<u64>();
        let forward = {
            let (this, token) = (self.clone(), token.clone());
            tokio::spawn(async move {
                while let Some(done) = rx.recv().await {
                    if let Some(token) = &token {
                        let report = WorkDoneProgressReport {
                            cancellable: Some(true),
                            message: Some(format!("{done}/{budget} schedules")),
                            percentage: Some((done * 100 / budget.max(1)) as u32),
                        };
                        this.progress(token, WorkDoneProgress::Report(report)).await;
                    }
                }
            })
        };
        let job_target = target.clone();
        let job = tokio::task::spawn_blocking(move || -> Result<Ended, String> {
            let config = LlmConfig::resolve(path.as_deref(), &settings.llm_overrides()).map_err(|e| e.to_string())?;
            let runtime = Runtime::new(&config).map_err(|e| e.message)?;
            let defaults = ExploreOptions::default();
            let options = ExploreOptions { schedules: budget, live: false, ..defaults };
            // A progress report after the first schedule and then every so often, and a stop
            // as soon as the warning asked about is reproduced.
            let mut reported: Option<Instant> = None;
            let mut progress = |report: &Report| {
                if reported.is_none_or(|t| t.elapsed() >= REPORT_EVERY) {
                    reported = Some(Instant::now());
                    let _ = tx.send(report.schedules);
                }
                if target_reproduced(report, &job_target) {
                    ControlFlow::Break(())
                } else {
                    ControlFlow::Continue(())
                }
            };
            let control = Control { cancel: Some(cancel), progress: Some(&mut progress) };
            let report = explore_with(&name, &text, &runtime, &options, control);
            let whole_budget = !report.cancelled && report.schedules >= budget;
            let verdicts = verdicts(&report, whole_budget);
            let target = verdicts.iter().find(|(t, _)| *t == job_target).map(|(_, v)| v.clone());
            Ok(Ended {
                explored: Explored { version, verdicts, unexplained: unexplained(&report) },
                schedules: report.schedules,
                cancelled: report.cancelled,
                target,
            })
        })
        .await;
        let _ = forward.await;
        let ended = match job {
            Ok(Ok(ended)) => ended,
            Ok(Err(message)) => {
                self.client.show_message(MessageType::ERROR, format!("omega: cannot explore {file}: {message}")).await;
                self.finish_exploration(&uri, id, None, token, "failed".into()).await;
                return;
            }
            Err(e) => {
                let message = if e.is_panic() { crate::eval::panic_message(&*e.into_panic()) } else { e.to_string() };
                self.report_panic(&format!("exploring {file}"), &message).await;
                self.finish_exploration(&uri, id, None, token, "failed".into()).await;
                return;
            }
        };
        let summary = match (&ended.target, ended.cancelled) {
            (_, true) => format!("cancelled after {} schedules", ended.schedules),
            (Some(Verdict::Reproduced { seed, .. }), _) => {
                format!("{} reproduced with seed {seed} after {} schedules", target.code, ended.schedules)
            }
            (Some(Verdict::NotReproduced { schedules }), _) => {
                format!("{} not reproduced in {schedules} schedules", target.code)
            }
            (None, _) => format!("{} not reproduced in {} schedules", target.code, ended.schedules),
        };
        self.client.log_message(MessageType::INFO, format!("omega: exploring {file}: {summary}")).await;
        let explored = (!ended.cancelled).then_some(ended.explored);
        self.finish_exploration(&uri, id, explored, token, summary).await;
    }

    /// Keeps the verdicts if exploration `id` is still the file's current one and the text did
    /// not change, ends its progress, and republishes.
    async fn finish_exploration(
        &self,
        uri: &Uri,
        id: u64,
        explored: Option<Explored>,
        token: Option<String>,
        summary: String,
    ) {
        let kept = {
            let mut docs = lock(&self.state.docs);
            match docs.get_mut(uri) {
                Some(d) => {
                    let current = d.exploring.as_ref().is_some_and(|e| e.id == id);
                    if current {
                        d.exploring = None;
                    }
                    match explored {
                        Some(e) if current && e.version == d.doc.version => {
                            d.explored = Some(e);
                            true
                        }
                        _ => false,
                    }
                }
                None => false,
            }
        };
        if let Some(token) = token {
            self.progress(&token, WorkDoneProgress::End(WorkDoneProgressEnd { message: Some(summary) })).await;
        }
        if kept {
            self.publish(uri).await;
            self.refresh_lenses().await;
        }
    }

    async fn begin_explore_progress(&self, id: u64, file: &str, budget: u64) -> Option<String> {
        if !self.facts().work_done_progress {
            return None;
        }
        let token = format!("omega-explore-{id}");
        self.client.create_work_done_progress(NumberOrString::String(token.clone())).await.ok()?;
        let begin = WorkDoneProgressBegin {
            title: format!("Exploring schedules of {file}"),
            cancellable: Some(true),
            message: Some(format!("0/{budget} schedules")),
            percentage: Some(0),
        };
        self.progress(&token, WorkDoneProgress::Begin(begin)).await;
        Some(token)
    }
}
