//! Peak memory and time of the programs that would exhaust memory (tests/programs/limits),
//! each run by the release `omega` with its default budget, one after the other.
//!
//! `cargo bench -p omega-tests --bench memory_bombs` (builds the release `omega` first). Each
//! should end with an error naming the limit within about 2 s, its peak resident memory near
//! the default budget (512 MB of live data) plus the allocator's slack.

use std::process::Command;
use std::time::Duration;

use omega_tests::cli::omega_in;

fn main() {
    let root = omega_tests::repo_root();
    let status = Command::new(env!("CARGO"))
        .args(["build", "--release", "-p", "omega", "--bin", "omega"])
        .current_dir(&root)
        .status();
    assert!(status.is_ok_and(|s| s.success()), "cargo build --release failed");
    // `omega_in` runs the binary named here.
    std::env::set_var("OMEGA_BIN", root.join("target/release/omega"));
    let dir = root.join("tests/programs/limits");
    let mut files: Vec<_> =
        omega_tests::files_under(&dir).into_iter().filter(|p| p.extension().is_some_and(|e| e == "omega")).collect();
    files.sort();
    println!("{:<28} {:>5} {:>9} {:>10}  first line of stderr", "program", "exit", "time", "peak RSS");
    for file in files {
        let ran = omega_in(&dir, &["run", &file.display().to_string()], "", Duration::from_secs(120));
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        let first = ran.first_error_line();
        let message = first.split(": error: ").nth(1).unwrap_or(first);
        println!(
            "{:<28} {:>5} {:>7.2} s {:>6} MiB  {}",
            name,
            ran.code.map_or("-".into(), |c| c.to_string()),
            ran.elapsed.as_secs_f64(),
            ran.peak_rss_kib.unwrap_or(0) >> 10,
            message.chars().take(70).collect::<String>()
        );
    }
}
