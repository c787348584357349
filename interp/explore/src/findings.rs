//! Findings of an exploration: each distinct problem once (by kind, locations and locks),
//! with the first seed that showed it and the static diagnostic it confirms.

use std::collections::BTreeSet;

use omega_eval::error::WaitCycle;
use omega_syntax::diagnostic::Diagnostic;
use omega_syntax::syntax::{SourceFile, Span};

use crate::blocked::Blocked;
use crate::outcome::{define_span, Outcome};

#[derive(Clone, Debug)]
pub struct Finding {
    /// `deadlock`, `self-deadlock`, `race`, `divergent-outcome` or `error`.
    pub kind: &'static str,
    pub seed: u64,
    /// One line.
    pub message: String,
    /// The full account (for deadlocks and errors: what `omega run --schedule SEED` prints).
    pub detail: String,
    pub locks: Vec<String>,
    pub state: Option<String>,
    pub span: Option<Span>,
    pub related: Vec<(String, Option<Span>)>,
    /// For a deadlock: where each task on the cycle is blocked, and on what.
    pub blocked: Vec<Blocked>,
    /// The static diagnostic this confirms: code and its 1-based `LINE:COL`.
    pub confirms: Option<(String, String)>,
    /// The run used stand-in LLM answers: the replay needs `--stand-ins`.
    pub stand_ins: bool,
}

impl Finding {
    /// A finding of `kind` whose full account is its one-line message, with no locks, state,
    /// places or confirmation yet.
    fn new(kind: &'static str, seed: u64, message: String, stand_ins: bool) -> Finding {
        Finding {
            kind,
            seed,
            detail: message.clone(),
            message,
            locks: Vec::new(),
            state: None,
            span: None,
            related: Vec::new(),
            blocked: Vec::new(),
            confirms: None,
            stand_ins,
        }
    }

    /// Whether this finding is static diagnostic `d` happening: the same locks (deadlocks) or
    /// the same shared variable (races).
    pub fn confirms_diagnostic(&self, d: &Diagnostic) -> bool {
        let mut locks = d.data.locks.clone();
        locks.sort();
        locks.dedup();
        match (self.kind, d.code.as_str()) {
            ("deadlock", "omega::deadlock-order") => locks == self.locks,
            ("self-deadlock", "omega::self-deadlock") => locks == self.locks || locks.is_empty(),
            ("race" | "divergent-outcome", "omega::race") => self.state.is_some() && d.data.state == self.state,
            _ => false,
        }
    }
}

pub struct Report {
    pub file: SourceFile,
    pub schedules: u64,
    pub findings: Vec<Finding>,
    pub stand_in_runs: u64,
    /// The exploration was cancelled before its budget of schedules ran out.
    pub cancelled: bool,
    diagnostics: Vec<Diagnostic>,
    keys: BTreeSet<String>,
    /// The first run that finished without error: what other runs are compared with.
    baseline: Option<Outcome>,
    /// Errors seen, with how many runs raised each (an error every run raises is no finding).
    errors: Vec<(Finding, u64)>,
}

impl Report {
    pub fn new(name: &str, text: &str, diagnostics: Vec<Diagnostic>) -> Report {
        Report {
            file: SourceFile::new(name, text),
            schedules: 0,
            findings: Vec::new(),
            stand_in_runs: 0,
            cancelled: false,
            diagnostics,
            keys: BTreeSet::new(),
            baseline: None,
            errors: Vec::new(),
        }
    }

    pub fn add(&mut self, run: Outcome) {
        self.schedules += 1;
        self.stand_in_runs += u64::from(run.stand_ins > 0);
        let stand_ins = run.stand_ins > 0;
        for (race, first, second) in &run.races {
            let mut locks: Vec<String> = race.first.locks.iter().chain(&race.second.locks).cloned().collect();
            locks.sort();
            locks.dedup();
            let verb = |w: bool| if w { "writes" } else { "reads" };
            let at = |s: &Option<Span>| s.map_or("?".into(), |s| self.line_col(&s));
            let message = format!(
                "data race on {}: {} {} it at {} and {} {} it at {}, with no serializer held by both",
                race.location,
                race.first.task,
                verb(race.first.write),
                at(first),
                race.second.task,
                verb(race.second.write),
                at(second)
            );
            let related =
                vec![(format!("{} {} {} here", race.first.task, verb(race.first.write), race.location), *first)];
            self.push(Finding {
                locks,
                state: Some(race.location.clone()),
                span: *second,
                related,
                ..Finding::new("race", run.seed, message, stand_ins)
            });
        }
        if let Some(f) = &run.failure {
            if f.deadlock {
                let locks = f.cycle.as_ref().map(cycle_locks).unwrap_or_default();
                // One lock edge on the cycle: a task waits for itself, or for a task it joins.
                let edges = f.cycle.as_ref().map_or(0, WaitCycle::lock_edges);
                let kind = if edges == 1 { "self-deadlock" } else { "deadlock" };
                self.push(Finding {
                    detail: f.text.clone(),
                    locks,
                    span: f.span,
                    related: f.related.clone(),
                    blocked: f.blocked.clone(),
                    ..Finding::new(kind, run.seed, f.message.clone(), stand_ins)
                });
            } else {
                let finding = Finding {
                    detail: f.text.clone(),
                    span: f.span,
                    ..Finding::new("error", run.seed, f.message.clone(), stand_ins)
                };
                match self.errors.iter_mut().find(|(e, _)| e.message == finding.message && e.span == finding.span) {
                    Some((_, n)) => *n += 1,
                    None => self.errors.push((finding, 1)),
                }
            }
            return;
        }
        match &self.baseline {
            None => self.baseline = Some(run),
            Some(base) => {
                if let Some(f) = self.divergence(base, &run) {
                    self.push(f);
                }
            }
        }
    }

    /// How `run` ends differently from `base`: a top-level variable, else the output.
    fn divergence(&self, base: &Outcome, run: &Outcome) -> Option<Finding> {
        let (seeds, stand_ins) = ((base.seed, run.seed), run.stand_ins > 0);
        for (name, value) in &run.finals {
            let Some(before) = base.finals.get(name) else { continue };
            if !same_parts(before, value) {
                let message = format!(
                    "schedule-dependent outcome: {name} ends as {before} under seed {} but as {value} under seed {}",
                    seeds.0, seeds.1
                );
                return Some(Finding {
                    state: Some(name.clone()),
                    span: define_span(&self.file.text, name),
                    ..Finding::new("divergent-outcome", run.seed, message, stand_ins)
                });
            }
        }
        let differs =
            |k: &&String| !same_parts(base.output.get(*k).map_or("", |s| s), run.output.get(*k).map_or("", |s| s));
        if let Some(task) = run.output.keys().chain(base.output.keys()).find(differs) {
            let message = format!(
                "schedule-dependent outcome: {task} prints {:?} under seed {} but {:?} under seed {}",
                base.output.get(task).map_or("", |s| s),
                seeds.0,
                run.output.get(task).map_or("", |s| s),
                seeds.1
            );
            return Some(Finding::new("divergent-outcome", run.seed, message, stand_ins));
        }
        None
    }

    /// Adds errors that only some runs raised; matches findings with static diagnostics.
    pub fn finish(&mut self) {
        let runs = self.schedules;
        for (f, n) in std::mem::take(&mut self.errors) {
            if n < runs {
                self.push(f);
            }
        }
    }

    /// Keeps `f` unless an earlier finding is the same problem; matched with the static
    /// diagnostic it confirms as it comes, so a progress callback sees confirmations at once.
    fn push(&mut self, mut f: Finding) {
        let mut places: Vec<String> =
            f.related.iter().filter_map(|r| r.1).map(|s| format!("{}-{}", s.start, s.end)).collect();
        places.extend(f.span.map(|s| format!("{}-{}", s.start, s.end)));
        places.sort();
        // One finding per problem, not per symptom: a lock cycle is the same whichever task
        // closes it, a racy location the same whichever pair of accesses shows it, and a lost
        // update shows under many seeds with many values.
        let key = match f.kind {
            "deadlock" | "self-deadlock" => format!("{}|{}", f.kind, f.locks.join(",")),
            "race" | "divergent-outcome" => format!("{}|{:?}", f.kind, f.state),
            _ => format!("{}|{}|{:?}", f.kind, places.join(","), f.state),
        };
        if self.keys.insert(key) {
            f.confirms = self.confirmed(&f);
            self.findings.push(f);
        }
    }

    /// The static diagnostic with the same locks (deadlocks) or the same location (races).
    fn confirmed(&self, f: &Finding) -> Option<(String, String)> {
        let d = self.diagnostics.iter().find(|d| f.confirms_diagnostic(d))?;
        Some((d.code.as_str().to_string(), self.line_col(&d.span)))
    }

    /// The static diagnostics of the explored text (what findings are matched with).
    pub fn diagnostics(&self) -> &[Diagnostic] {
        &self.diagnostics
    }

    /// The first finding that shows static diagnostic `d` happening.
    pub fn confirming(&self, d: &Diagnostic) -> Option<&Finding> {
        self.findings.iter().find(|f| f.confirms_diagnostic(d))
    }

    /// `LINE:COL` (1-based, columns in characters) of a span of the explored text.
    pub fn line_col(&self, span: &Span) -> String {
        let (l, c) = self.file.lines.line_col(&self.file.text, span.start as usize);
        format!("{}:{}", l + 1, c + 1)
    }

    /// The command that replays finding `f`.
    pub fn replay(&self, f: &Finding) -> String {
        let stand_ins = if f.stand_ins { " --stand-ins" } else { "" };
        format!("omega run --schedule {}{stand_ins} {}", f.seed, self.file.name)
    }

    pub fn human(&self) -> String {
        let mut out = format!(
            "explored {} under {} schedules (PCT depth 3 and uniform random); {}\n",
            self.file.name,
            self.schedules,
            if self.stand_in_runs > 0 {
                "LLM answers without a cached or scripted one were stand-ins (no network)"
            } else {
                "no stand-in LLM answers were needed"
            }
        );
        if self.findings.is_empty() {
            out.push_str("no deadlock, race or schedule-dependent outcome found\n");
        }
        for f in &self.findings {
            out.push_str(&format!("\n{} (seed {}):\n", f.kind, f.seed));
            if f.detail.contains(&self.file.name.to_string()) {
                for line in f.detail.lines() {
                    out.push_str(&format!("  {line}\n"));
                }
            } else {
                let at = f.span.map(|s| format!("{}: ", self.file.location(s.start as usize))).unwrap_or_default();
                out.push_str(&format!("  {at}{}\n", f.detail));
                for (message, span) in &f.related {
                    let at = span.map(|s| format!(" at {}", self.file.location(s.start as usize))).unwrap_or_default();
                    out.push_str(&format!("    {message}{at}\n"));
                }
            }
            match &f.confirms {
                Some((code, at)) => out.push_str(&format!("  confirms {code} at {at}\n")),
                None => out.push_str("  not reported by the static analysis\n"),
            }
            out.push_str(&format!("  replay: {}\n", self.replay(f)));
        }
        out
    }
}

/// Whether two printed outcomes have the same parts, perhaps in another order. Tasks that
/// append to a list or print under a lock in whatever order they run are the nondeterminism
/// `parallel` promises; a lost update or a missing entry changes the parts themselves.
fn same_parts(a: &str, b: &str) -> bool {
    fn parts(s: &str) -> Vec<&str> {
        let mut p: Vec<&str> =
            s.split(|c: char| c.is_whitespace() || "()\"".contains(c)).filter(|t| !t.is_empty()).collect();
        p.sort_unstable();
        p
    }
    a == b || parts(a) == parts(b)
}

/// The locks named on a deadlock cycle, sorted, each once.
fn cycle_locks(cycle: &WaitCycle) -> Vec<String> {
    cycle.lock_names().map(str::to_string).collect::<BTreeSet<_>>().into_iter().collect()
}
