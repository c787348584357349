//! Whole-process speed of `omega run` against Guile 3 on the same programs.
//!
//! `cargo bench -p omega-tests --bench eval_speed` (builds the release `omega` first). Guile
//! compiles a script on its first run and caches it, so a warm-up run precedes the timed ones.
//! `OMEGA_BIN=/path/to/omega` measures that build instead of the fresh one. Reports the median
//! of several runs (omega and the two Guile settings in turn, round after round), the ratios to Guile with its JIT (the default) and to
//! Guile's bytecode interpreter alone (`GUILE_JIT_THRESHOLD=-1`), and peak memory (via
//! /usr/bin/time).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const RUNS: usize = 9;
/// `empty` measures start-up alone; `deep-recursion` is 1,000,000 nested non-tail calls.
const PROGRAMS: &[&str] =
    &["fib", "tail-loop", "deep-recursion", "sort", "strings", "closures", "hash-strings", "empty"];

fn main() {
    let root = omega_tests::repo_root();
    let status = Command::new(env!("CARGO"))
        .args(["build", "--release", "-p", "omega", "--bin", "omega"])
        .current_dir(&root)
        .status();
    assert!(status.is_ok_and(|s| s.success()), "cargo build --release failed");
    // OMEGA_BIN runs another build of `omega` (an older one, to compare) in its place.
    let omega = std::env::var_os("OMEGA_BIN").map(PathBuf::from).unwrap_or_else(|| root.join("target/release/omega"));
    let guile = which("guile");
    if guile.is_none() {
        println!("guile not found (apt-get install guile-3.0): omega figures only");
    }
    println!(
        "{:<16} {:>10} {:>10} {:>8} {:>12} {:>8} {:>12}",
        "program", "omega", "guile", "ratio", "guile no-jit", "ratio", "omega peak"
    );
    for name in PROGRAMS {
        let dir = root.join("tests/bench/programs");
        let omega_file = dir.join(format!("{name}.omega"));
        let file = dir.join(format!("{name}.scm"));
        if let Some(g) = &guile {
            run(Command::new(g).arg(&file)); // compiles and caches
        }
        // The three are run in turn, round after round, so that a change of load on a shared
        // machine falls on all of them alike.
        let mut times: [Vec<Duration>; 3] = Default::default();
        for _ in 0..RUNS {
            times[0].push(run(Command::new(&omega).arg("run").arg(&omega_file)));
            if let Some(g) = &guile {
                times[1].push(run(Command::new(g).arg(&file)));
                times[2].push(run(Command::new(g).arg(&file).env("GUILE_JIT_THRESHOLD", "-1")));
            }
        }
        let [t_omega, t_guile, t_interp] = times.map(median);
        let t_omega = t_omega.expect("omega ran");
        let peak = peak_kib(&omega, &omega_file);
        let show = |t: Option<Duration>| t.map(|g| format!("{:.1}ms", ms(g))).unwrap_or_else(|| "-".into());
        let ratio = |t: Option<Duration>| {
            t.map(|g| format!("{:.2}x", t_omega.as_secs_f64() / g.as_secs_f64())).unwrap_or_else(|| "-".into())
        };
        println!(
            "{:<16} {:>8.1}ms {:>10} {:>8} {:>12} {:>8} {:>9} MiB",
            name,
            ms(t_omega),
            show(t_guile),
            ratio(t_guile),
            show(t_interp),
            ratio(t_interp),
            peak.map(|k| format!("{:.0}", k as f64 / 1024.0)).unwrap_or_else(|| "-".into())
        );
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn run(cmd: &mut Command) -> Duration {
    let start = Instant::now();
    let out = cmd.output().expect("spawn");
    assert!(out.status.success(), "{cmd:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    start.elapsed()
}

/// The median of the times, if there are any.
fn median(mut times: Vec<Duration>) -> Option<Duration> {
    times.sort();
    times.get(times.len() / 2).copied()
}

/// Peak resident memory of one run, in KiB, if /usr/bin/time is there.
fn peak_kib(omega: &Path, file: &Path) -> Option<u64> {
    let out = Command::new("/usr/bin/time").args(["-f", "%M"]).arg(omega).arg("run").arg(file).output().ok()?;
    String::from_utf8_lossy(&out.stderr).lines().last()?.trim().parse().ok()
}

fn which(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?.to_str()?.split(':').map(|d| Path::new(d).join(name)).find(|p| p.is_file())
}
