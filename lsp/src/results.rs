//! Inline results of a file's runs: form values, LLM answers, calls in flight and errors,
//! each attached to a byte range of the current text and moved through edits. An edit inside
//! a range keeps the result but marks it stale (`↻`), so it never sits next to the wrong code.

use std::time::Duration;

use omega_syntax::syntax::Span;

use crate::document::ByteEdit;
use crate::eval::Answer;

/// Inlay labels stay within what editors show on one line (VS Code cuts at 43).
pub const MAX_LABEL_CHARS: usize = 40;

#[derive(Clone, Debug, PartialEq)]
pub enum Kind {
    /// `=> VALUE` after a top-level form.
    Value(String),
    /// An `infer.op` (or other LLM effect) answer; `calls` counts answers from this place.
    Answer { answer: Answer, calls: u32, previous: Option<String> },
    /// A call in flight.
    Pending,
    /// The form or call failed.
    Error(String),
    /// Where a task of a deadlocked run is blocked: `task 2 waits for term-a-serializer`.
    Blocked(String),
}

#[derive(Clone, Debug, PartialEq)]
pub struct InlineResult {
    pub span: Span,
    pub kind: Kind,
    pub stale: bool,
    /// The run that produced it.
    pub job: u64,
    /// Names this result for `omega.answerText` (unique in its file, never reused): a copy
    /// link from an older hover finds nothing rather than a newer answer it did not show.
    pub id: u64,
}

impl InlineResult {
    /// The hint's label: short, one line.
    pub fn label(&self) -> String {
        let body = match &self.kind {
            Kind::Value(v) => format!("=> {}", first_line(v)),
            Kind::Answer { answer, calls, .. } if *calls > 1 => {
                format!("{} (×{calls})", first_line(&answer.text))
            }
            Kind::Answer { answer, .. } => first_line(&answer.text).to_string(),
            Kind::Pending => "⏳".to_string(),
            Kind::Error(m) => format!("✗ {}", first_line(m)),
            Kind::Blocked(m) => format!("⏸ {m}"),
        };
        let body = if self.stale { format!("↻ {body}") } else { body };
        truncate(&body, MAX_LABEL_CHARS)
    }

    /// What "Copy answer" copies: an answer's text or a value's printed form, exactly.
    pub fn copy_text(&self) -> Option<&str> {
        match &self.kind {
            Kind::Answer { answer, .. } => Some(&answer.text),
            Kind::Value(v) => Some(v),
            _ => None,
        }
    }

    /// What [`Self::copy_text`] copies, in a word: `answer` or `value`.
    pub fn copy_kind(&self) -> &'static str {
        if matches!(self.kind, Kind::Answer { .. }) {
            "answer"
        } else {
            "value"
        }
    }

    /// The full text with where it came from, as Markdown (tooltip and hover).
    pub fn details(&self) -> String {
        let stale = if self.stale { "\n\n*The code changed since this ran (↻).*" } else { "" };
        match &self.kind {
            Kind::Value(v) => format!("```omega\n{v}\n```{stale}"),
            Kind::Answer { answer, calls, previous } => {
                let mut s = format!("{}\n\n---\n{}", answer.text, meta_line(answer));
                if *calls > 1 {
                    s.push_str(&format!(" · {calls} answers from this call in the last run (the last shown)"));
                }
                if let Some(p) = previous {
                    s.push_str(&format!("\n\nPrevious answer:\n\n{p}"));
                }
                s + stale
            }
            Kind::Pending => "LLM call in flight…".to_string(),
            Kind::Error(m) => format!("{m}{stale}"),
            Kind::Blocked(m) => format!("{m} here when the run deadlocked.{stale}"),
        }
    }
}

/// `model openai:gpt · 812 ms · 12 → 40 tokens · cached`.
pub fn meta_line(a: &Answer) -> String {
    let mut s = format!("model `{}` · {}", a.model, format_latency(a.latency));
    match (a.tokens_in, a.tokens_out) {
        (Some(i), Some(o)) => s.push_str(&format!(" · {i} → {o} tokens")),
        (None, Some(o)) => s.push_str(&format!(" · {o} tokens out")),
        _ => {}
    }
    s.push_str(if a.cached { " · cached" } else { " · fresh" });
    s
}

fn format_latency(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        format!("{} ms", d.as_millis())
    } else {
        format!("{:.1} s", d.as_secs_f64())
    }
}

fn first_line(s: &str) -> &str {
    s.trim().lines().next().unwrap_or("")
}

/// At most `max` characters, ending in `…` when cut.
pub fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max - 1).collect();
    out.push('…');
    out
}

/// Where a range of the text before `e` lies after it, and whether `e` touched its inside.
pub fn move_span(span: Span, e: &ByteEdit) -> (Span, bool) {
    let (s, t) = (span.start as usize, span.end as usize);
    let touched = e.start < t && e.old_end > s || (e.start == e.old_end && s < e.start && e.start < t);
    let map = |o: usize, is_start: bool| -> usize {
        if o < e.start || (o == e.start && !is_start) {
            o
        } else if o >= e.old_end {
            o - e.old_end + e.new_end
        } else if is_start {
            e.start
        } else {
            e.new_end
        }
    };
    let (ns, nt) = (map(s, true), map(t, false));
    (Span::new(ns, nt.max(ns)), touched)
}

/// Every inline result of one file.
#[derive(Default, Debug)]
pub struct Results {
    pub entries: Vec<InlineResult>,
    /// The last [`InlineResult::id`] given out.
    last_id: u64,
}

impl Results {
    pub fn apply_edit(&mut self, e: &ByteEdit) {
        for r in &mut self.entries {
            let (span, touched) = move_span(r.span, e);
            r.span = span;
            if touched {
                r.stale = true;
            }
        }
    }

    fn is_llm(kind: &Kind) -> bool {
        matches!(kind, Kind::Answer { .. } | Kind::Pending)
    }

    /// Puts a result at `span`, replacing the one of the same family (value/error or call).
    pub fn put(&mut self, span: Span, kind: Kind, job: u64) {
        let llm = Self::is_llm(&kind);
        let old = self.entries.iter().position(|r| r.span == span && Self::is_llm(&r.kind) == llm);
        let kind = match (kind, old.map(|i| &self.entries[i])) {
            // Several answers from one place in one run: count them; across runs: keep the
            // previous text when it changed.
            (
                Kind::Answer { answer, .. },
                Some(InlineResult { kind: Kind::Answer { answer: prev, calls, previous }, job: j, .. }),
            ) => {
                if *j == job {
                    Kind::Answer { answer, calls: calls + 1, previous: previous.clone() }
                } else {
                    let previous = (prev.text != answer.text).then(|| prev.text.clone()).or_else(|| previous.clone());
                    Kind::Answer { answer, calls: 1, previous }
                }
            }
            (Kind::Pending, Some(InlineResult { kind: Kind::Answer { .. }, job: j, .. })) if *j == job => return,
            (kind, _) => kind,
        };
        self.last_id += 1;
        let entry = InlineResult { span, kind, stale: false, job, id: self.last_id };
        match old {
            Some(i) => self.entries[i] = entry,
            None => self.entries.push(entry),
        }
    }

    /// Removes a pending mark of `job` at `span` (its call was dropped).
    pub fn drop_pending(&mut self, span: Span, job: u64) {
        self.entries.retain(|r| !(r.span == span && r.job == job && r.kind == Kind::Pending));
    }

    /// After run `job` ends: its calls still marked in flight never finished, and, when it ran
    /// the whole file, results of earlier runs at places it did not reach are stale.
    pub fn finish(&mut self, job: u64, whole_file: bool) {
        self.entries.retain(|r| !(r.kind == Kind::Pending && r.job <= job));
        if whole_file {
            for r in &mut self.entries {
                if r.job < job {
                    r.stale = true;
                }
            }
        }
    }

    pub fn clear(&mut self) {
        self.entries.clear();
    }

    /// The result named `id`, if it is still there.
    pub fn by_id(&self, id: u64) -> Option<&InlineResult> {
        self.entries.iter().find(|r| r.id == id)
    }

    /// The result family to show on hover at `offset`: the innermost range holding it.
    pub fn at(&self, offset: usize) -> Option<&InlineResult> {
        self.entries
            .iter()
            .filter(|r| r.span.start as usize <= offset && offset <= r.span.end as usize)
            .min_by_key(|r| r.span.end - r.span.start)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn edit(start: usize, old_end: usize, new_end: usize) -> ByteEdit {
        ByteEdit { start, old_end, new_end }
    }

    #[test]
    fn spans_move_with_edits_before_them_and_go_stale_inside() {
        let span = Span::new(10, 20);
        assert_eq!(move_span(span, &edit(0, 0, 3)), (Span::new(13, 23), false));
        assert_eq!(move_span(span, &edit(10, 10, 12)), (Span::new(12, 22), false), "insert right before");
        assert_eq!(move_span(span, &edit(20, 20, 25)), (Span::new(10, 20), false), "insert right after");
        assert_eq!(move_span(span, &edit(12, 14, 13)), (Span::new(10, 19), true));
        assert_eq!(move_span(span, &edit(15, 15, 16)), (Span::new(10, 21), true), "typing inside");
        assert_eq!(move_span(span, &edit(25, 30, 26)), (span, false));
        assert_eq!(move_span(span, &edit(5, 30, 6)), (Span::new(5, 6), true), "the whole form replaced");
    }

    #[test]
    fn labels_are_short_one_line_and_marked() {
        let mut r =
            InlineResult { span: Span::new(0, 1), kind: Kind::Value("x".repeat(100)), stale: false, job: 1, id: 1 };
        assert_eq!(r.label().chars().count(), MAX_LABEL_CHARS);
        assert!(r.label().starts_with("=> xxx") && r.label().ends_with('…'));
        r.kind = Kind::Value("\"a\nb\"".into());
        r.stale = true;
        assert_eq!(r.label(), "↻ => \"a");
    }

    #[test]
    fn a_later_run_keeps_the_previous_answer_when_it_changed() {
        let answer = |t: &str| Answer {
            text: t.into(),
            model: "m".into(),
            latency: Duration::from_millis(5),
            tokens_in: None,
            tokens_out: None,
            cached: false,
        };
        let mut rs = Results::default();
        let span = Span::new(0, 5);
        rs.put(span, Kind::Pending, 1);
        rs.put(span, Kind::Answer { answer: answer("one"), calls: 1, previous: None }, 1);
        rs.put(span, Kind::Answer { answer: answer("two"), calls: 1, previous: None }, 2);
        match &rs.entries[0].kind {
            Kind::Answer { previous, calls, .. } => assert_eq!((previous.as_deref(), *calls), (Some("one"), 1)),
            other => panic!("{other:?}"),
        }
        assert_eq!(rs.entries.len(), 1);
    }

    #[test]
    fn ids_name_one_result_and_are_never_reused() {
        let mut rs = Results::default();
        let (call, form) = (Span::new(0, 5), Span::new(0, 9));
        rs.put(call, Kind::Pending, 1);
        rs.put(form, Kind::Value("1".into()), 1);
        let first = rs.entries.iter().map(|r| r.id).collect::<Vec<_>>();
        assert_eq!(first.len(), 2);
        assert_ne!(first[0], first[1]);
        rs.put(call, Kind::Value("2".into()), 2);
        rs.clear();
        rs.put(form, Kind::Value("3".into()), 3);
        assert!(first.iter().all(|id| rs.by_id(*id).is_none()), "{rs:?}");
        assert_eq!(rs.entries[0].copy_text(), Some("3"));
        assert_eq!(rs.by_id(rs.entries[0].id).map(|r| r.span), Some(form));
    }
}
