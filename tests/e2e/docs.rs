//! The user documentation in docs/ is true: the reference is generated from the built-in
//! table and fresh; the examples, command-line transcripts and configuration files of the
//! language guide run or parse as shown; links and code comments lead to headings that exist.

use std::time::Duration;

use omega_tests::cli::omega_in;
use omega_tests::docs::{anchor, arrow_examples, check_or_update, code_blocks, render_reference, transcript};
use omega_tests::program_files::check_text;
use omega_tests::programs::{run, scripted};
use omega_tests::{files_under, repo_root, TempDir};

#[test]
fn docs_reference_md_is_generated_from_the_builtin_tables() {
    let path = repo_root().join("docs/reference.md");
    if let Err(stale) = check_or_update(&path, &render_reference()) {
        panic!("{stale}");
    }
}

#[test]
fn the_reference_documents_every_builtin_name() {
    let text = render_reference();
    let names = omega_syntax::builtins::SIGNATURES
        .iter()
        .map(|s| s.name)
        .chain(omega_syntax::builtins::CONSTANTS.iter().copied())
        .chain(omega_syntax::builtins::BUILTIN_OPS.iter().copied());
    for name in names {
        assert!(text.contains(&format!("\n#### `{name}`\n")), "docs/reference.md has no entry for {name}");
    }
}

/// Each `` `EXPR` ⇒ `VALUE` `` in the docs of the built-in table holds, in a fresh session.
#[test]
fn the_examples_in_the_builtin_docs_evaluate_as_documented() {
    let cfg = scripted(&repo_root().join("tests/conformance/script.toml"));
    let docs = omega_syntax::builtins::SIGNATURES
        .iter()
        .map(|s| (s.name, s.doc))
        .chain(omega_syntax::builtins::CONSTANT_DOCS.iter().map(|d| (d.name, d.doc)))
        .chain(omega_syntax::builtins::OP_DOCS.iter().map(|d| (d.name, d.doc)));
    let (mut checked, mut failures) = (0, Vec::new());
    for (name, doc) in docs {
        for (expr, value) in arrow_examples(doc) {
            checked += 1;
            let got = run(&cfg, &expr).results.pop().flatten();
            if got.as_deref() != Some(format!("=> {value}").as_str()) {
                failures.push(format!("{name}: {expr} gives {got:?}, the doc says {value}"));
            }
        }
    }
    assert!(checked >= 50, "only {checked} examples found in the built-in docs");
    assert!(failures.is_empty(), "{} examples differ:\n{}", failures.len(), failures.join("\n"));
}

/// The language guide describes every special form the evaluator implements.
#[test]
fn the_language_guide_mentions_every_special_form() {
    let guide = std::fs::read_to_string(repo_root().join("docs/language.md")).expect("docs/language.md");
    let missing: Vec<&str> = omega_syntax::forms::FORMS
        .iter()
        .map(|f| f.name)
        .filter(|form| !guide.contains(&format!("`{form}`")) && !guide.contains(&format!("`({form} ")))
        .collect();
    assert!(missing.is_empty(), "docs/language.md does not describe: {}", missing.join(" "));
}

/// The `omega.toml` of the guide is valid (an unknown `[llm]` key would be an error), and the
/// responses file it shows is the one its examples run with.
#[test]
fn the_configuration_files_in_the_language_guide_are_real() {
    use omega_llm::config::OmegaToml;
    let guide = std::fs::read_to_string(repo_root().join("docs/language.md")).expect("docs/language.md");
    let blocks = code_blocks(&guide, "toml");
    let path = std::path::Path::new("omega.toml");
    let config = blocks.iter().find(|(_, b)| b.starts_with("[llm]")).expect("an omega.toml example");
    if let Err(e) = OmegaToml::parse(path, &config.1) {
        panic!("docs/language.md:{}: {e}", config.0);
    }
    let script = blocks.iter().find(|(_, b)| b.contains("response = [")).expect("a responses file");
    let used = std::fs::read_to_string(repo_root().join("tests/conformance/script.toml")).unwrap();
    assert!(
        OmegaToml::parse(path, &script.1).unwrap().table == OmegaToml::parse(path, &used).unwrap().table,
        "docs/language.md:{}: the responses file differs from tests/conformance/script.toml",
        script.0
    );
}

/// Every `scheme` block of docs/language.md is a program file (tests/programs/README.md): its
/// `;=>`, `;out:` and `;error:` comments are checked, and a form without one must run silently.
#[test]
fn every_example_in_the_language_guide_runs_as_shown() {
    let guide = std::fs::read_to_string(repo_root().join("docs/language.md")).expect("docs/language.md");
    let blocks = code_blocks(&guide, "scheme");
    assert!(blocks.len() >= 20, "only {} scheme examples in docs/language.md", blocks.len());
    let failures: Vec<String> = blocks
        .iter()
        .filter_map(|(line, code)| {
            let problems = check_text(code);
            (!problems.is_empty()).then(|| format!("docs/language.md:{line}:\n  {}", problems.join("\n  ")))
        })
        .collect();
    assert!(failures.is_empty(), "{} examples differ:\n{}", failures.len(), failures.join("\n"));
}

/// Every `console` block of docs/language.md is a transcript: its files are written to a fresh
/// directory and its `omega` commands print what the block shows.
#[test]
fn every_command_line_transcript_in_the_language_guide_is_what_omega_prints() {
    let guide = std::fs::read_to_string(repo_root().join("docs/language.md")).expect("docs/language.md");
    let blocks = code_blocks(&guide, "console");
    assert!(blocks.len() >= 3, "only {} console transcripts in docs/language.md", blocks.len());
    let mut failures = Vec::new();
    for (line, block) in &blocks {
        let t = transcript(block).unwrap_or_else(|e| panic!("docs/language.md:{line}: {e}"));
        let dir = TempDir::new("docs-transcript");
        for (name, text) in &t.files {
            std::fs::write(dir.join(name), text).unwrap();
        }
        for (args, expected) in &t.commands {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let ran = omega_in(dir.path(), &args, "", Duration::from_secs(60));
            let printed = format!("{}{}", ran.stdout, ran.stderr);
            if printed.trim_end() != expected.trim_end() {
                failures.push(format!(
                    "docs/language.md:{line}: omega {}\n--- printed:\n{printed}\n--- the guide shows:\n{expected}",
                    args.join(" ")
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Links within and between the docs (`](#anchor)`, `](reference.md#anchor)`) lead to headings.
#[test]
fn links_in_the_docs_lead_to_headings_that_exist() {
    let docs = repo_root().join("docs");
    let anchors_of = |name: &str| -> Vec<String> {
        let text = std::fs::read_to_string(docs.join(name)).unwrap_or_else(|e| panic!("docs/{name}: {e}"));
        text.lines().filter_map(|l| l.strip_prefix('#')).map(|h| anchor(h.trim_start_matches('#').trim())).collect()
    };
    let mut broken = Vec::new();
    for name in ["language.md", "reference.md"] {
        let text = std::fs::read_to_string(docs.join(name)).unwrap();
        for link in text.split("](").skip(1) {
            let target = &link[..link.find(')').unwrap_or(0)];
            let (file, fragment) = target.split_once('#').unwrap_or((target, ""));
            if file.contains("://") || (file.is_empty() && fragment.is_empty()) {
                continue;
            }
            let file = if file.is_empty() { name } else { file };
            if !docs.join(file).exists() {
                broken.push(format!("docs/{name}: {target}: no file docs/{file}"));
            } else if !fragment.is_empty() && !anchors_of(file).iter().any(|a| a == fragment) {
                broken.push(format!("docs/{name}: {target}: no such heading"));
            }
        }
    }
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
}

/// Comments that cite `docs/language.md §N` name a numbered heading that exists.
#[test]
fn comments_cite_sections_of_the_language_guide_that_exist() {
    let guide = std::fs::read_to_string(repo_root().join("docs/language.md")).expect("docs/language.md");
    let sections: Vec<String> = guide
        .lines()
        .filter_map(|l| l.trim_start_matches('#').strip_prefix(' ').filter(|_| l.starts_with("##")))
        .filter_map(|h| h.split_once(' ').map(|(n, _)| n.trim_end_matches('.').to_string()))
        .collect();
    let mut dangling = Vec::new();
    for dir in ["interp", "tests", "grammar", "lsp"] {
        for file in files_under(&repo_root().join(dir)) {
            if !file.extension().is_some_and(|e| e == "rs" || e == "scm" || e == "js" || e == "md") {
                continue;
            }
            let Ok(text) = std::fs::read_to_string(&file) else {
                continue;
            };
            for (i, line) in text.lines().enumerate() {
                for cite in line.split("language.md §").skip(1) {
                    let n: String = cite.chars().take_while(|c| c.is_ascii_digit() || *c == '.').collect();
                    let n = n.trim_end_matches('.');
                    if !n.is_empty() && !sections.iter().any(|s| s == n) {
                        dangling.push(format!("{}:{}: §{n}", file.display(), i + 1));
                    }
                }
            }
        }
    }
    assert!(dangling.is_empty(), "cited sections missing from docs/language.md:\n{}", dangling.join("\n"));
}

/// What users copy from, the examples, is laid out as `omega fmt` lays it out.
#[test]
fn the_examples_are_formatted_as_omega_fmt_formats_them() {
    let mut files: Vec<_> = files_under(&repo_root().join("examples"));
    files.retain(|f| f.extension().is_some_and(|e| e == "omega"));
    assert!(!files.is_empty(), "no examples found");
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        let formatted = omega_syntax::format::format(&text).unwrap_or_else(|e| panic!("{}: {e:?}", file.display()));
        assert!(formatted == text, "{} is not formatted: run `omega fmt {}`", file.display(), file.display());
    }
}
