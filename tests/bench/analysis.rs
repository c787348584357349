//! Analysis time on generated programs of about 1,000, 5,000 and 20,000 lines: the public
//! examples repeated with every top-level name renamed per copy, so each copy is a separate
//! program fragment with its own serializers, tasks and findings.
//!
//! Then hostile files: rings of N procedures, each holding its own serializer and calling
//! the next, started from two tasks (one ring alone, and 5,000 lines of rings), where the
//! work and memory budgets must keep the time bounded (target: under 200 ms for 5,000 lines).
//!
//! Run with `cargo bench -p omega-tests --bench analysis`. The time should grow about
//! linearly; the target is under 50 ms for 5,000 lines of the examples.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::{Duration, Instant};

fn examples() -> Vec<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/analysis-examples");
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .expect("tests/analysis-examples")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "omega"))
        .collect();
    paths.sort();
    paths.iter().map(|p| std::fs::read_to_string(p).unwrap()).collect()
}

fn is_delimiter(c: char) -> bool {
    c.is_whitespace() || "()\"';`,".contains(c)
}

/// Names the example defines at top level (`(define name` or `(define (name`).
fn defined_names(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for line in text.lines() {
        let Some(rest) = line.strip_prefix("(define ") else { continue };
        let rest = rest.trim_start_matches('(');
        let name: String = rest.chars().take_while(|c| !is_delimiter(*c)).collect();
        names.insert(name);
    }
    names
}

/// The text with each defined name suffixed by `-N`; comments and strings are left alone
/// except that whole identifier tokens are renamed.
fn renamed(text: &str, names: &BTreeSet<String>, n: usize) -> String {
    let mut out = String::with_capacity(text.len() + 64);
    let mut token = String::new();
    let flush = |token: &mut String, out: &mut String| {
        if names.contains(token.as_str()) {
            out.push_str(&format!("{token}-{n}"));
        } else {
            out.push_str(token);
        }
        token.clear();
    };
    for c in text.chars() {
        if is_delimiter(c) {
            flush(&mut token, &mut out);
            out.push(c);
        } else {
            token.push(c);
        }
    }
    flush(&mut token, &mut out);
    out
}

fn program(lines: usize, examples: &[(String, BTreeSet<String>)]) -> String {
    let mut text = String::new();
    let mut copy = 0;
    while text.lines().count() < lines {
        let (ex, names) = &examples[copy % examples.len()];
        text.push_str(&renamed(ex, names, copy));
        text.push('\n');
        copy += 1;
    }
    text
}

/// `n` procedures `f{tag}-i`, each holding its own serializer and calling the next, run from
/// two tasks.
fn ring(n: usize, tag: usize) -> String {
    let mut t = String::new();
    for i in 0..n {
        t.push_str(&format!("(define s{tag}-{i} (make-serializer))\n"));
    }
    for i in 0..n {
        let next = (i + 1) % n;
        t.push_str(&format!(
            "(define (f{tag}-{i} n) ((s{tag}-{i} (lambda () (if (> n 0) (f{tag}-{next} (- n 1)) 0)))))\n"
        ));
    }
    t.push_str(&format!("(parallel (lambda () (f{tag}-0 5)) (lambda () (f{tag}-{} 5)))\n", n / 2));
    t
}

fn time(text: &str) -> (Duration, usize) {
    let mut best = Duration::MAX;
    let mut count = 0;
    for _ in 0..5 {
        let start = Instant::now();
        let diags = omega_analysis::check(text);
        best = best.min(start.elapsed());
        count = diags.len();
    }
    (best, count)
}

fn main() {
    let examples: Vec<(String, BTreeSet<String>)> = examples()
        .into_iter()
        .map(|t| {
            let names = defined_names(&t);
            (t, names)
        })
        .collect();
    println!("{:>8} {:>10} {:>12} {:>12} {:>12}", "lines", "bytes", "best of 5", "per line", "diagnostics");
    for lines in [1_000, 5_000, 20_000] {
        let text = program(lines, &examples);
        let (t, n) = time(&text);
        let count = text.lines().count();
        println!(
            "{:>8} {:>10} {:>9.2} ms {:>9.2} µs {:>12}",
            count,
            text.len(),
            t.as_secs_f64() * 1e3,
            t.as_secs_f64() * 1e6 / count as f64,
            n
        );
    }
    println!();
    println!("{:>24} {:>8} {:>12} {:>12}", "ring", "lines", "best of 5", "diagnostics");
    for n in [40, 100, 1_000] {
        let text = ring(n, 0);
        let (t, d) = time(&text);
        println!(
            "{:>24} {:>8} {:>9.2} ms {:>12}",
            format!("one ring of {n}"),
            text.lines().count(),
            t.as_secs_f64() * 1e3,
            d
        );
    }
    let mut text = String::new();
    let mut tag = 0;
    while text.lines().count() < 5_000 {
        text.push_str(&ring(100, tag));
        tag += 1;
    }
    let (t, d) = time(&text);
    println!(
        "{:>24} {:>8} {:>9.2} ms {:>12}",
        format!("{tag} rings of 100"),
        text.lines().count(),
        t.as_secs_f64() * 1e3,
        d
    );
}
