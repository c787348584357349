//! The program files of tests/programs, each a fresh session checked against the transcript
//! in its comments (format in tests/programs/README.md).

use std::time::Duration;

use omega_syntax::syntax::{Datum, DatumKind};
use omega_tests::fuzz::within;
use omega_tests::program_files::check_file;
use omega_tests::{files_under, repo_root};

#[test]
fn every_program_file_prints_its_expected_transcript() {
    let dir = repo_root().join("tests/programs");
    let mut files: Vec<_> =
        files_under(&dir).into_iter().filter(|p| p.extension().is_some_and(|e| e == "omega")).collect();
    files.sort();
    assert!(files.len() >= 30, "only {} program files found", files.len());
    // OMEGA_PROGRAMS=SUBSTRING runs only the files whose path contains it.
    if let Ok(only) = std::env::var("OMEGA_PROGRAMS") {
        files.retain(|f| f.to_string_lossy().contains(&only));
    }
    let mut failures = Vec::new();
    for file in &files {
        // A hang in one file fails that file instead of stalling the whole run.
        let path = file.clone();
        let problems = match std::panic::catch_unwind(|| {
            within(Duration::from_secs(300), "program file", move || check_file(&path))
        }) {
            Ok(p) => p,
            Err(_) => vec!["did not finish within 300 s, or panicked".to_string()],
        };
        if !problems.is_empty() {
            let name = file.strip_prefix(&dir).unwrap_or(file).display().to_string();
            failures.push(format!("{name}:\n  {}", problems.join("\n  ")));
        }
    }
    eprintln!("programs: {} of {} files pass", files.len() - failures.len(), files.len());
    assert!(failures.is_empty(), "{} failing:\n{}", failures.len(), failures.join("\n"));
}

/// Every built-in procedure and special form of the language is called in some program file
/// (tidy check: a new built-in needs a program test).
#[test]
fn every_builtin_and_special_form_is_used_by_a_program_file() {
    let dir = repo_root().join("tests/programs");
    let mut used = std::collections::HashSet::new();
    for file in files_under(&dir).into_iter().filter(|p| p.extension().is_some_and(|e| e == "omega")) {
        let text = std::fs::read_to_string(&file).unwrap();
        // The symbols the reader sees, spelled out in the text: not words in comments or
        // strings, and not `quote` for a `'`.
        let mut todo: Vec<&Datum> = Vec::new();
        let parsed = omega_syntax::reader::read(&text);
        todo.extend(&parsed.data);
        while let Some(datum) = todo.pop() {
            match &datum.kind {
                DatumKind::Symbol(_) => {
                    used.insert(text[datum.span.start as usize..datum.span.end as usize].to_string());
                }
                DatumKind::List(items, tail) => {
                    todo.extend(items);
                    todo.extend(tail.as_deref());
                }
                DatumKind::Vector(items) => todo.extend(items),
                _ => {}
            }
        }
    }
    let names = omega_syntax::builtins::SIGNATURES
        .iter()
        .map(|s| s.name)
        .chain(omega_syntax::forms::FORMS.iter().map(|f| f.name))
        .chain(omega_syntax::builtins::CONSTANTS.iter().copied())
        .chain(omega_syntax::builtins::BUILTIN_OPS.iter().copied());
    let missing: Vec<&str> = names.filter(|n| !used.contains(*n)).collect();
    assert!(missing.is_empty(), "no program file uses: {}", missing.join(" "));
}
