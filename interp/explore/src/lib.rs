//! Schedule exploration (`omega explore`, and the language server's "Reproduce by exploring
//! schedules"): runs a program under many schedules without spending money and reports each
//! distinct concurrency bug once, with the seed that replays it.
//!
//! Schedules: run 0 uses the given seed as it is (so `--seed S --schedules 1` replays `S`);
//! after it, odd runs use PCT (depth 3, `k` sized from run 0's decisions) and even runs the
//! uniform random scheduler, each from a seed derived from `S`. Every seed names its strategy
//! (see `omega_eval::vm::pct`), so `omega run --schedule SEED` replays any of them.
//!
//! Code map: `outcome` is one run and what it left behind; `findings` deduplicates
//! findings across runs and matches them with the static diagnostics; `blocked` reads where
//! each task of a deadlock waits; this file picks the seeds. Plain data out: rendering for a protocol (JSON) is the command's and the server's.
//!
//! An embedder stops an exploration through [`Control`]: its cancel token stops the run going
//! on and every later one, and its progress callback sees the report after each schedule and
//! may end the exploration early.

mod blocked;
mod findings;
mod outcome;

use std::ops::ControlFlow;
use std::path::Path;

use omega_eval::{pct_seed, CancelToken, Limits, PCT_FLAG};
use omega_llm::Runtime;

pub use blocked::{blocked_places, Blocked};
pub use findings::{Finding, Report};
use outcome::Outcome;

/// PCT's depth: finds every bug that needs up to 3 ordering constraints with a known chance.
const PCT_DEPTH: u32 = 3;

/// What to explore and how.
#[derive(Clone, Debug)]
pub struct ExploreOptions {
    pub schedules: u64,
    pub seed: u64,
    /// Real LLM calls (spend money) instead of cached, scripted or stand-in answers.
    pub live: bool,
    pub max_steps: Option<u64>,
    pub timeout_secs: Option<f64>,
}

impl Default for ExploreOptions {
    fn default() -> ExploreOptions {
        ExploreOptions { schedules: 1000, seed: 0, live: false, max_steps: Some(10_000_000), timeout_secs: Some(10.0) }
    }
}

/// The seed of run `i` after run 0, given the number of decisions run 0 made.
pub fn schedule_seed(base: u64, i: u64, decisions: u64) -> u64 {
    let mut state = base ^ i.wrapping_mul(0xD1B5_4A32_D192_ED03);
    let random = splitmix(&mut state);
    if i % 2 == 1 {
        pct_seed(PCT_DEPTH, decisions.max(1), random)
    } else {
        random & !PCT_FLAG
    }
}

fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Sees the report after each schedule; `Break` ends the exploration there.
pub type Progress<'a> = &'a mut dyn FnMut(&Report) -> ControlFlow<()>;

/// How an embedder steers an exploration from outside.
#[derive(Default)]
pub struct Control<'a> {
    /// Checked between schedules and given to each run: cancelling stops the run going on and
    /// ends the exploration ([`Report::cancelled`]); the cancelled run is not counted.
    pub cancel: Option<CancelToken>,
    /// Called after each schedule with the report so far (`schedules` is how many ran);
    /// `Break` ends the exploration there.
    pub progress: Option<Progress<'a>>,
}

/// Explores `text` (read from `path`) under `options.schedules` schedules.
pub fn explore(path: &Path, text: &str, runtime: &Runtime, options: &ExploreOptions) -> Report {
    explore_with(&path.display().to_string(), text, runtime, options, Control::default())
}

/// As [`explore`], for a file shown as `name`, stopped or watched through `control`.
pub fn explore_with(name: &str, text: &str, runtime: &Runtime, options: &ExploreOptions, control: Control) -> Report {
    let Control { cancel, mut progress } = control;
    let limits = Limits { max_steps: options.max_steps, timeout_secs: options.timeout_secs, ..Limits::default() };
    let diagnostics = omega_analysis::check(text);
    let mut report = Report::new(name, text, diagnostics);
    let mut decisions = 0;
    for i in 0..options.schedules.max(1) {
        if cancel.as_ref().is_some_and(CancelToken::is_cancelled) {
            report.cancelled = true;
            break;
        }
        let seed = if i == 0 { options.seed } else { schedule_seed(options.seed, i, decisions) };
        let outcome = Outcome::run(runtime, name, text, seed, &limits, options.live, cancel.as_ref());
        if outcome.cancelled {
            report.cancelled = true;
            break;
        }
        if i == 0 {
            decisions = outcome.decisions;
        }
        report.add(outcome);
        if let Some(progress) = progress.as_mut() {
            if progress(&report).is_break() {
                break;
            }
        }
    }
    report.finish();
    report
}
