//! Schedules explored per second by `omega explore` on the manual's chapter programs.
//!
//! `cargo bench -p omega-tests --bench explore`. Target: 1,000 schedules of the three agents of
//! the dialogue example (39.3) in under 5 s. Each schedule is a fresh session (prelude
//! included), a run under PCT or the seeded random scheduler with race observation, and the
//! comparison of its outcome with the others.

use std::path::Path;
use std::time::Instant;

use omega_explore::{explore, ExploreOptions};
use omega_llm::config::{LlmConfig, LlmOverrides};
use omega_llm::Runtime;
use omega_tests::repo_root;

const SCHEDULES: u64 = 1000;

fn main() {
    println!("{:<48} {:>9} {:>9} {:>12} {:>9}", "program", "schedules", "seconds", "schedules/s", "findings");
    for file in
        ["tests/chapter/39-3-dialogue.omega", "tests/chapter/39-5-deadlock.omega", "tests/chapter/39-1-race.omega"]
    {
        let path = repo_root().join(file);
        let text = std::fs::read_to_string(&path).unwrap();
        let config = LlmConfig::resolve(Some(Path::new(&path)), &LlmOverrides::default()).unwrap();
        let runtime = Runtime::new(&config).unwrap();
        let options = ExploreOptions { schedules: SCHEDULES, ..ExploreOptions::default() };
        let start = Instant::now();
        let report = explore(Path::new(file), &text, &runtime, &options);
        let secs = start.elapsed().as_secs_f64();
        println!(
            "{:<48} {:>9} {:>9.2} {:>12.0} {:>9}",
            file,
            report.schedules,
            secs,
            report.schedules as f64 / secs,
            report.findings.len()
        );
    }
}
