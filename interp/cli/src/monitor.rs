//! What a run's LLM calls are doing, as the LLM port reports them: counted for `--stats`, and
//! drawn as one live line on a terminal while calls are outstanding.

use std::collections::{BTreeMap, VecDeque};
use std::io::IsTerminal;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use omega_llm::port::PortEvent;
use serde_json::json;

/// Counts of one run's LLM calls.
#[derive(Default)]
pub struct CallStats {
    /// Finished calls (answered or failed) by op.
    pub by_op: BTreeMap<&'static str, u64>,
    pub cached: u64,
    pub failed: u64,
    pub cancelled: u64,
    pub retries: u64,
    pub tokens_in: u64,
    pub tokens_out: u64,
    pub latency_total: Duration,
    pub latency_max: Duration,
    /// Calls sent and not yet finished, oldest first.
    in_flight: VecDeque<Pending>,
}

struct Pending {
    op: &'static str,
    prompt: String,
    sample: u32,
}

impl CallStats {
    pub fn record(&mut self, event: &PortEvent<'_>) {
        match event {
            PortEvent::Sent(work) => {
                self.in_flight.push_back(Pending { op: work.op, prompt: work.prompt.clone(), sample: work.sample })
            }
            PortEvent::Finished(call) => {
                self.forget(call.work.op, &call.work.prompt, call.work.sample);
                *self.by_op.entry(call.work.op).or_default() += 1;
                match &call.result {
                    Ok(meta) => {
                        self.cached += u64::from(meta.cached);
                        self.retries += u64::from(meta.retries);
                        self.tokens_in += u64::from(meta.tokens_in.unwrap_or(0));
                        self.tokens_out += u64::from(meta.tokens_out.unwrap_or(0));
                        self.latency_total += meta.latency;
                        self.latency_max = self.latency_max.max(meta.latency);
                    }
                    Err(_) => self.failed += 1,
                }
            }
            PortEvent::Cancelled(work) => {
                self.forget(work.op, &work.prompt, work.sample);
                self.cancelled += 1;
            }
        }
    }

    /// Calls with the same op, prompt and sample are indistinguishable: any one of them goes.
    fn forget(&mut self, op: &str, prompt: &str, sample: u32) {
        if let Some(i) = self.in_flight.iter().position(|p| p.op == op && p.prompt == prompt && p.sample == sample) {
            self.in_flight.remove(i);
        }
    }

    pub fn done(&self) -> u64 {
        self.by_op.values().sum()
    }

    pub fn in_flight(&self) -> usize {
        self.in_flight.len()
    }

    /// The status line's text: `3 done · 2 in flight · 1 cached · 420 tokens · "oldest prompt…"`.
    fn status(&self) -> String {
        let mut line = format!(
            "LLM {} done · {} in flight · {} cached · {} tokens",
            self.done(),
            self.in_flight(),
            self.cached,
            self.tokens_in + self.tokens_out
        );
        if let Some(oldest) = self.in_flight.front() {
            line.push_str(&format!(" · {} \"{}\"", oldest.op, shorten(&oldest.prompt, 40)));
        }
        line
    }
}

/// The first line of `text`, cut to `max` characters with `…`.
fn shorten(text: &str, max: usize) -> String {
    let line = text.lines().next().unwrap_or("").trim();
    if line.chars().count() <= max && !text.trim().contains('\n') {
        return line.to_string();
    }
    let cut: String = line.chars().take(max.saturating_sub(1)).collect();
    format!("{cut}…")
}

/// The live line on stderr. Drawn at most ten times a second, by indicatif's own thread too, so
/// the elapsed time moves while the evaluator waits for an answer; cut to the terminal's width.
#[derive(Clone)]
pub struct StatusLine {
    /// Present while calls are outstanding.
    bar: Arc<Mutex<Option<ProgressBar>>>,
    started: Instant,
}

impl StatusLine {
    /// A status line when stderr is a terminal and nobody asked for quiet output (`--quiet`,
    /// `NO_COLOR`, or a CI environment); `None` otherwise, so pipes and files get nothing extra.
    pub fn for_stderr(quiet: bool) -> Option<StatusLine> {
        let wanted = !quiet
            && std::io::stderr().is_terminal()
            && std::env::var_os("NO_COLOR").is_none()
            && std::env::var_os("CI").is_none();
        wanted.then(|| StatusLine { bar: Arc::default(), started: Instant::now() })
    }

    /// Shows the counts while calls are outstanding; the line goes away when none are.
    fn show(&self, stats: &CallStats) {
        let mut bar = self.bar.lock().unwrap_or_else(|e| e.into_inner());
        if stats.in_flight() == 0 {
            if let Some(bar) = bar.take() {
                bar.finish_and_clear();
            }
            return;
        }
        let bar = bar.get_or_insert_with(|| {
            let style = ProgressStyle::with_template("{spinner} {elapsed:>3} {wide_msg}").expect("a valid template");
            let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr_with_hz(10))
                .with_style(style)
                .with_elapsed(self.started.elapsed());
            bar.enable_steady_tick(Duration::from_millis(100));
            bar
        });
        bar.set_message(stats.status());
    }

    /// Runs `f` (writing program output) with the line out of the way.
    pub fn suspend<R>(&self, f: impl FnOnce() -> R) -> R {
        let bar = self.bar.lock().unwrap_or_else(|e| e.into_inner()).clone();
        match bar {
            Some(bar) => bar.suspend(f),
            None => f(),
        }
    }

    pub fn clear(&self) {
        if let Some(bar) = self.bar.lock().unwrap_or_else(|e| e.into_inner()).take() {
            bar.finish_and_clear();
        }
    }
}

/// The port's observer for one session: the counts, and the live line if there is one.
pub struct Monitor {
    pub stats: CallStats,
    status: Option<StatusLine>,
    started: Instant,
}

impl Monitor {
    pub fn new(status: Option<StatusLine>) -> Monitor {
        Monitor { stats: CallStats::default(), status, started: Instant::now() }
    }

    pub fn record(&mut self, event: &PortEvent<'_>) {
        self.stats.record(event);
        if let Some(status) = &self.status {
            status.show(&self.stats);
        }
    }

    /// Clears the live line (at the end of a run or a REPL input).
    pub fn clear(&self) {
        if let Some(status) = &self.status {
            status.clear();
        }
    }

    /// The `--stats` summary, human or JSON, written after the run.
    pub fn summary(&self, json: bool) -> String {
        let s = &self.stats;
        let wall = self.started.elapsed();
        let peak = peak_memory_bytes();
        if json {
            return json!({
                "llm": {
                    "calls": s.done(),
                    "byOp": s.by_op,
                    "cached": s.cached,
                    "failed": s.failed,
                    "cancelled": s.cancelled,
                    "retries": s.retries,
                    "tokensIn": s.tokens_in,
                    "tokensOut": s.tokens_out,
                    "latencyMs": {"total": s.latency_total.as_millis() as u64, "slowest": s.latency_max.as_millis() as u64},
                },
                "wallMs": wall.as_millis() as u64,
                "peakMemoryBytes": peak,
            })
            .to_string();
        }
        let ops: Vec<String> = s.by_op.iter().map(|(op, n)| format!("{op} {n}")).collect();
        let ops = if ops.is_empty() { String::new() } else { format!(" ({})", ops.join(", ")) };
        let peak = peak.map_or("unknown".to_string(), |b| format!("{:.1} MiB", b as f64 / (1 << 20) as f64));
        format!(
            "omega: LLM calls: {}{ops}, {} cached, {} failed, {} cancelled, {} {}\n\
             omega: tokens: {} in, {} out; LLM latency: {:.2} s in all, slowest {:.2} s\n\
             omega: wall time: {:.2} s; peak memory: {peak}",
            s.done(),
            s.cached,
            s.failed,
            s.cancelled,
            s.retries,
            if s.retries == 1 { "retry" } else { "retries" },
            s.tokens_in,
            s.tokens_out,
            s.latency_total.as_secs_f64(),
            s.latency_max.as_secs_f64(),
            wall.as_secs_f64(),
        )
    }
}

/// The process's peak resident memory, where the system tells it (Linux: `VmHWM`).
fn peak_memory_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prompts_are_cut_to_their_first_line() {
        assert_eq!(shorten("short", 40), "short");
        assert_eq!(shorten("line one\nline two", 40), "line one…");
        assert_eq!(shorten(&"x".repeat(50), 10), format!("{}…", "x".repeat(9)));
    }
}
