//! The program files of tests/programs, each a fresh session checked against the transcript
//! in its comments (format in tests/programs/README.md).

use omega_tests::program_files::check_file;
use omega_tests::{files_under, repo_root};

#[test]
fn every_program_file_prints_its_expected_transcript() {
    let dir = repo_root().join("tests/programs");
    let mut files: Vec<_> = files_under(&dir).into_iter().filter(|p| p.extension().is_some_and(|e| e == "omega")).collect();
    files.sort();
    assert!(files.len() >= 30, "only {} program files found", files.len());
    // OMEGA_PROGRAMS=SUBSTRING runs only the files whose path contains it.
    if let Ok(only) = std::env::var("OMEGA_PROGRAMS") {
        files.retain(|f| f.to_string_lossy().contains(&only));
    }
    let mut failures = Vec::new();
    for file in &files {
        let problems = check_file(file);
        if !problems.is_empty() {
            let name = file.strip_prefix(&dir).unwrap_or(file).display().to_string();
            failures.push(format!("{name}:\n  {}", problems.join("\n  ")));
        }
    }
    eprintln!("programs: {} of {} files pass", files.len() - failures.len(), files.len());
    assert!(failures.is_empty(), "{} failing:\n{}", failures.len(), failures.join("\n"));
}
