//! Whole-process speed of `omega run` against Guile 3 on the same programs.
//!
//! `cargo bench -p omega-tests --bench eval_speed` (builds the release `omega` first). Guile
//! compiles a script on its first run and caches it, so a warm-up run precedes the timed ones.
//! `OMEGA_BIN=/path/to/omega` measures that build instead of the fresh one. Reports the median
//! of several runs, the ratios to Guile with its JIT (the default) and to
//! Guile's bytecode interpreter alone (`GUILE_JIT_THRESHOLD=-1`), and peak memory (via
//! /usr/bin/time).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const RUNS: usize = 7;
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
        let t_omega = median(|| run(Command::new(&omega).arg("run").arg(&omega_file)));
        let peak = peak_kib(&omega, &omega_file);
        let file = dir.join(format!("{name}.scm"));
        let t_guile = guile.as_ref().map(|g| {
            run(Command::new(g).arg(&file)); // compiles and caches
            median(|| run(Command::new(g).arg(&file)))
        });
        let t_interp =
            guile.as_ref().map(|g| median(|| run(Command::new(g).arg(&file).env("GUILE_JIT_THRESHOLD", "-1"))));
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

fn median(mut f: impl FnMut() -> Duration) -> Duration {
    let mut times: Vec<Duration> = (0..RUNS).map(|_| f()).collect();
    times.sort();
    times[RUNS / 2]
}

/// Peak resident memory of one run, in KiB, if /usr/bin/time is there.
fn peak_kib(omega: &Path, file: &Path) -> Option<u64> {
    let out = Command::new("/usr/bin/time").args(["-f", "%M"]).arg(omega).arg("run").arg(file).output().ok()?;
    String::from_utf8_lossy(&out.stderr).lines().last()?.trim().parse().ok()
}

fn which(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?.to_str()?.split(':').map(|d| Path::new(d).join(name)).find(|p| p.is_file())
}
