//! The table of special forms (`omega_syntax::forms`) against its readers: `omega check` and
//! `omega run` report a malformed form alike, and the editor queries and the formatter
//! know the same keywords as the table.

use std::collections::BTreeSet;
use std::time::Duration;

use omega_syntax::forms::{self, Highlight, Indent, Part, CLAUSE_KEYWORDS, FORMS};
use omega_tests::cli::omega_in;
use omega_tests::{repo_root, TempDir};

const LIMIT: Duration = Duration::from_secs(120);

/// `LINE:COL: MESSAGE` of every syntax error in `omega check`'s output.
fn check_syntax_errors(stdout: &str) -> Vec<String> {
    stdout
        .lines()
        .filter_map(|l| {
            let (place, message) = l.split_once(": error[omega::syntax]: ")?;
            let (_, line_col) = place.split_once(':')?;
            Some(format!("{line_col}: {message}"))
        })
        .collect()
}

/// `LINE:COL: MESSAGE` of the error `omega run` stopped at.
fn run_error(stderr: &str) -> Option<String> {
    let first = stderr.lines().next()?;
    let (place, message) = first.split_once(": error: ")?;
    let (_, line_col) = place.split_once(':')?;
    Some(format!("{line_col}: {message}"))
}

/// `text` with everything outside `keep` blanked, line breaks kept: a form alone, at its
/// own line and column.
fn only(text: &str, keep: std::ops::Range<usize>) -> String {
    text.char_indices().map(|(i, c)| if keep.contains(&i) || c == '\n' { c } else { ' ' }).collect()
}

#[test]
fn check_and_run_report_each_malformed_form_alike() {
    let path = repo_root().join("tests/malformed-forms/cases.omega");
    let text = std::fs::read_to_string(&path).unwrap();
    let parsed = omega_syntax::reader::read(&text);
    assert!(parsed.errors.is_empty(), "the corpus must read cleanly: {:?}", parsed.errors);
    assert!(parsed.data.len() >= 80, "only {} cases", parsed.data.len());
    let dir = TempDir::new("malformed-forms");
    let mut failures = Vec::new();
    for form in &parsed.data {
        let case = &text[form.span.range()];
        std::fs::write(dir.join("cases.omega"), only(&text, form.span.range())).unwrap();
        let checked = omega_in(dir.path(), &["check", "cases.omega"], "", LIMIT);
        let ran = omega_in(dir.path(), &["run", "cases.omega"], "", LIMIT);
        let from_check = check_syntax_errors(&checked.stdout);
        let from_run = run_error(&ran.stderr);
        let agree = from_check.len() == 1 && Some(&from_check[0]) == from_run.as_ref();
        if !agree || checked.code != Some(1) || ran.code != Some(1) {
            failures.push(format!(
                "{case}\n    check (exit {:?}): {from_check:?}\n    run   (exit {:?}): {from_run:?}",
                checked.code, ran.code
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases disagree:\n{}",
        failures.len(),
        parsed.data.len(),
        failures.join("\n")
    );
}

/// Each predicate of a query file that lists symbols: which capture it tests, and the
/// symbols, with the text of the pattern it is in.
struct Predicate {
    capture: String,
    symbols: BTreeSet<String>,
    pattern: String,
}

/// The `#eq?`, `#any-of?` and `#not-any-of?` predicates of `queries/NAME.scm`.
fn predicates(name: &str) -> Vec<Predicate> {
    let text = std::fs::read_to_string(repo_root().join(format!("grammar/queries/{name}.scm"))).unwrap();
    let code: String =
        text.lines().map(|l| if l.trim_start().starts_with(';') { "" } else { l }).collect::<Vec<_>>().join("\n");
    let mut out = Vec::new();
    for pattern in top_level_patterns(&code) {
        let mut rest = pattern.as_str();
        while let Some(at) = rest.find("(#") {
            let end = at + rest[at..].find(')').expect("a closed predicate");
            let mut words = rest[at + 2..end].split_whitespace();
            let op = words.next().unwrap_or("");
            if matches!(op, "eq?" | "any-of?" | "not-any-of?") {
                let capture = words.next().unwrap_or("").trim_start_matches('@').to_string();
                let symbols = words.map(|w| w.trim_matches('"').to_string()).collect();
                out.push(Predicate { capture, symbols, pattern: pattern.clone() });
            }
            rest = &rest[end..];
        }
    }
    out
}

/// The top-level parenthesized patterns of query text.
fn top_level_patterns(code: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut depth = 0;
    let mut start = 0;
    let mut in_string = false;
    let mut escaped = false;
    for (i, c) in code.char_indices() {
        if in_string {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => in_string = true,
            '(' | '[' => {
                if depth == 0 {
                    start = i;
                }
                depth += 1;
            }
            ')' | ']' => {
                depth -= 1;
                if depth == 0 {
                    out.push(code[start..=i].to_string());
                }
            }
            _ => {}
        }
    }
    out
}

fn names<'a>(it: impl IntoIterator<Item = &'a str>) -> BTreeSet<String> {
    it.into_iter().map(str::to_string).collect()
}

/// The symbols of the predicates on `capture`, each checked to equal `expected`.
fn assert_lists(file: &str, capture: &str, filter: impl Fn(&Predicate) -> bool, expected: &BTreeSet<String>) {
    let found: Vec<Predicate> = predicates(file).into_iter().filter(|p| p.capture == capture && filter(p)).collect();
    assert!(!found.is_empty(), "{file}.scm has no list on @{capture}");
    for p in found {
        let extra: Vec<_> = p.symbols.difference(expected).collect();
        let missing: Vec<_> = expected.difference(&p.symbols).collect();
        assert!(
            extra.is_empty() && missing.is_empty(),
            "{file}.scm @{capture}: not in the table of forms {extra:?}, missing {missing:?}\nin {}",
            p.pattern
        );
    }
}

#[test]
fn the_editor_queries_list_the_keywords_of_the_table() {
    let clause_keywords = || CLAUSE_KEYWORDS.iter().map(|c| c.name);
    // Every keyword a query names is a form, a clause keyword or auxiliary syntax.
    let known: BTreeSet<String> =
        names(FORMS.iter().map(|f| f.name).chain(clause_keywords()).chain(forms::AUXILIARY.iter().copied()));
    for file in ["highlights", "indents", "locals"] {
        for p in predicates(file) {
            if p.capture == "constant.builtin" {
                continue;
            }
            let unknown: Vec<_> = p.symbols.difference(&known).collect();
            assert!(unknown.is_empty(), "{file}.scm names {unknown:?}, which the table of forms does not have");
        }
    }

    // highlights.scm: one list per highlight group of the table.
    for group in [
        Highlight::Keyword,
        Highlight::Function,
        Highlight::Conditional,
        Highlight::Operator,
        Highlight::Repeat,
        Highlight::Exception,
    ] {
        let mut expected = names(FORMS.iter().filter(|f| f.highlight == group).map(|f| f.name));
        if group == Highlight::Keyword {
            expected.extend(names(clause_keywords()));
        }
        assert_lists("highlights", group.capture(), |p| p.pattern.contains("(list"), &expected);
    }
    assert_lists("highlights", "keyword", |p| !p.pattern.contains("(list"), &names(forms::AUXILIARY.iter().copied()));
    let with_formals = names(FORMS.iter().filter(|f| f.parts.first() == Some(&Part::Formals)).map(|f| f.name));
    assert_lists("highlights", "_lambda", |_| true, &with_formals);

    // indents.scm: the body forms, where the formatter indents a body.
    assert_lists("indents", "_head", |_| true, &body_forms());

    // locals.scm: the forms that open a scope, those with parameters, those with bindings.
    let scopes = names(FORMS.iter().filter(|f| f.opens_scope()).map(|f| f.name).chain(clause_keywords()));
    assert_lists("locals", "_form", |_| true, &scopes);
    assert_lists("locals", "_lambda", |_| true, &with_formals);
    let binding_lists = names(
        FORMS
            .iter()
            .filter(|f| {
                f.parts.iter().any(|p| matches!(p, Part::Bindings { .. } | Part::SyntaxBindings | Part::DoVariables))
            })
            .map(|f| f.name),
    );
    assert_lists("locals", "_let", |p| p.symbols.len() > 1, &binding_lists);
}

/// The forms and clause keywords whose later parts the formatter indents as a body.
fn body_forms() -> BTreeSet<String> {
    names(
        FORMS
            .iter()
            .filter(|f| f.indent == Indent::Body)
            .map(|f| f.name)
            .chain(CLAUSE_KEYWORDS.iter().filter(|c| c.indent == Indent::Body).map(|c| c.name)),
    )
}

#[test]
fn the_neovim_lispwords_are_the_body_forms() {
    let path = repo_root().join("editors/neovim/lua/omega/init.lua");
    let plugin = std::fs::read_to_string(&path).expect("read the Neovim plugin");
    let (_, rest) = plugin.split_once("local LISPWORDS = {").expect("init.lua defines LISPWORDS");
    let (list, _) = rest.split_once('}').expect("the LISPWORDS table ends");
    let words: Vec<&str> = list.split(',').map(|w| w.trim().trim_matches('"')).filter(|w| !w.is_empty()).collect();
    let set = names(words.iter().copied());
    assert_eq!(set.len(), words.len(), "a word appears twice in LISPWORDS: {words:?}");
    let expected = body_forms();
    let extra: Vec<_> = set.difference(&expected).collect();
    let missing: Vec<_> = expected.difference(&set).collect();
    assert!(
        extra.is_empty() && missing.is_empty(),
        "init.lua LISPWORDS: not body forms {extra:?}, missing {missing:?}"
    );
    assert!(plugin.contains("lispwords = table.concat(LISPWORDS, \",\")"), "omega buffers get LISPWORDS");
}

/// The keyword alternations `(\()\s*(a|b|…)` of the VS Code TextMate grammar's patterns.
fn textmate_keyword_lists() -> Vec<BTreeSet<String>> {
    let path = repo_root().join("editors/vscode/syntaxes/omega.tmLanguage.json");
    let grammar: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut out = Vec::new();
    let mut stack = vec![&grammar];
    while let Some(v) = stack.pop() {
        match v {
            serde_json::Value::Object(map) => {
                if let Some(serde_json::Value::String(m)) = map.get("match") {
                    let alternation = m.strip_prefix("(\\()\\s*(").and_then(|rest| rest.split_once(')'));
                    if let Some((words, _)) = alternation.filter(|(w, _)| w.contains('|')) {
                        out.push(words.split('|').map(|w| w.replace('\\', "")).collect());
                    }
                }
                stack.extend(map.values());
            }
            serde_json::Value::Array(items) => stack.extend(items),
            _ => {}
        }
    }
    out
}

#[test]
fn the_vscode_grammar_lists_the_keywords_of_the_table() {
    let lists = textmate_keyword_lists();
    let all: BTreeSet<String> = lists.iter().flatten().cloned().collect();
    let expected = names(
        FORMS
            .iter()
            .map(|f| f.name)
            .chain(CLAUSE_KEYWORDS.iter().map(|c| c.name))
            .chain(forms::AUXILIARY.iter().copied()),
    );
    let extra: Vec<_> = all.difference(&expected).collect();
    let missing: Vec<_> = expected.difference(&all).collect();
    assert!(
        extra.is_empty() && missing.is_empty(),
        "omega.tmLanguage.json: not in the table {extra:?}, missing {missing:?}"
    );
    let definers = names(FORMS.iter().filter(|f| f.highlight == Highlight::Function).map(|f| f.name));
    assert!(lists.contains(&definers), "omega.tmLanguage.json has no pattern for exactly {definers:?}: {lists:?}");
}

#[test]
fn the_formatter_indents_as_the_table_says() {
    let keywords = FORMS.iter().map(|f| (f.name, f.indent)).chain(CLAUSE_KEYWORDS.iter().map(|c| (c.name, c.indent)));
    for (name, indent) in keywords {
        let formatted = omega_syntax::format::format(&format!("({name} a\nb)")).unwrap();
        let second = formatted.lines().nth(1).unwrap();
        let column = second.len() - second.trim_start().len();
        let expected = match indent {
            Indent::Body => 2,
            Indent::Call => name.chars().count() + 2,
        };
        assert_eq!(column, expected, "({name} …): {formatted:?}");
    }
}
