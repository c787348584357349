//! Runs the corpus in `test/corpus/` through the `tree-sitter` crate, so `cargo test`
//! checks the grammar without the tree-sitter CLI. The file format is the CLI's: a
//! `===` header with the test name, the input, a `---` line, the expected tree.

use std::fs;
use std::path::Path;

struct Case {
    file: String,
    name: String,
    input: String,
    expected: String,
}

fn is_rule(line: &str, c: char) -> bool {
    line.len() >= 3 && line.chars().all(|x| x == c)
}

fn parse_corpus(file: &str, text: &str) -> Vec<Case> {
    let lines: Vec<&str> = text.lines().collect();
    let mut cases = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        if !(is_rule(lines[i], '=') && i + 2 < lines.len() && is_rule(lines[i + 2], '=')) {
            i += 1;
            continue;
        }
        let name = lines[i + 1].trim().to_string();
        let body_start = i + 3;
        let divider = (body_start..lines.len())
            .find(|&j| is_rule(lines[j], '-'))
            .unwrap_or_else(|| panic!("{file}: test `{name}` has no `---` line"));
        let next = (divider + 1..lines.len())
            .find(|&j| is_rule(lines[j], '=') && j + 2 < lines.len() && is_rule(lines[j + 2], '='))
            .unwrap_or(lines.len());
        cases.push(Case {
            file: file.to_string(),
            name,
            input: lines[body_start..divider].join("\n").trim_matches('\n').to_string(),
            expected: normalize(&lines[divider + 1..next].join("\n")),
        });
        i = next;
    }
    cases
}

/// One space between tokens, none just inside parentheses, as the CLI compares them.
fn normalize(sexp: &str) -> String {
    let spaced = sexp.split_whitespace().collect::<Vec<_>>().join(" ");
    spaced.replace("( ", "(").replace(" )", ")")
}

fn corpus() -> Vec<Case> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("test/corpus");
    let mut paths: Vec<_> = fs::read_dir(&dir)
        .expect("test/corpus exists")
        .map(|entry| entry.expect("readable directory entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "txt"))
        .collect();
    paths.sort();
    paths
        .iter()
        .flat_map(|path| {
            let text = fs::read_to_string(path).expect("corpus file is UTF-8");
            parse_corpus(&path.file_name().unwrap_or_default().to_string_lossy(), &text)
        })
        .collect()
}

#[test]
fn corpus_matches_expected_trees() {
    let mut parser = tree_sitter::Parser::new();
    parser.set_language(&tree_sitter_omega::language()).expect("compatible ABI");
    let cases = corpus();
    assert!(cases.len() >= 20, "expected the whole corpus, found {} cases", cases.len());
    let mut failures = Vec::new();
    for case in &cases {
        let tree = parser.parse(&case.input, None).expect("parse without timeout");
        let actual = normalize(&tree.root_node().to_sexp());
        if actual != case.expected {
            failures
                .push(format!("{} / {}\n  expected: {}\n  actual:   {}", case.file, case.name, case.expected, actual));
        }
    }
    assert!(failures.is_empty(), "{} corpus case(s) failed:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn corpus_reader_splits_cases() {
    let text = "===\nfirst\n===\n\n(a)\n\n---\n\n(source_file (list (symbol)))\n\n===\nsecond\n===\nb\n---\n(source_file\n  (symbol))\n";
    let cases = parse_corpus("inline", text);
    assert_eq!(cases.len(), 2);
    assert_eq!(cases[0].input, "(a)");
    assert_eq!(cases[1].name, "second");
    assert_eq!(cases[1].expected, "(source_file (symbol))");
}
