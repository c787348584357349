//! Program files with their expected REPL transcript in comments (tests/programs/README.md).
//!
//! A file is run form by form in a fresh session, as the REPL would. Comments that start with
//! `;=>`, `;error:`, `;out:` or `;nothing` hold the expectations of the top-level form before
//! them (several may share a line); comments starting with `;!` set options.
//!
//! Bless mode, as with expect-test: `UPDATE_EXPECT=1 cargo test -p omega-tests --test e2e
//! programs` rewrites, in place, the expectations of every form that printed something else
//! (and adds them to forms that failed or wrote without one), then passes. Review the diff.

use std::ops::{ControlFlow, Range};
use std::path::Path;
use std::time::{Duration, Instant};

use omega_eval::printer::write_string;
use omega_eval::value::Value;
use omega_eval::Limits;
use omega_llm::config::{AdapterKind, LlmConfig};

use crate::programs::{scripted, session};
use crate::repo_root;

/// What one top-level form should print, as written in the file.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Expect {
    /// `=> VALUE`, `error: MESSAGE`, or `None` for the unspecified value.
    pub result: Option<String>,
    /// Everything the form writes (concatenated `;out:` lines).
    pub output: String,
}

/// Options set by `;!` lines.
#[derive(Clone, Debug)]
pub struct Options {
    pub adapter_none: bool,
    pub max_steps: Option<u64>,
    pub max_depth: Option<usize>,
    /// `;!max-memory MB`: the run's memory budget (default: the library's).
    pub max_memory_mb: Option<u64>,
    pub timeout: Duration,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            adapter_none: false,
            max_steps: None,
            max_depth: None,
            max_memory_mb: None,
            timeout: Duration::from_secs(60),
        }
    }
}

/// Runs the program file at `path` and returns what differs from its expectations (empty
/// when it passes). With `UPDATE_EXPECT` set, rewrites the file's differing expectations
/// instead and returns only the problems a rewrite cannot fix.
pub fn check_file(path: &Path) -> Vec<String> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => return vec![format!("cannot read: {e}")],
    };
    let checked = check(&text);
    match checked.blessed {
        Some(blessed) if std::env::var_os("UPDATE_EXPECT").is_some() => {
            if blessed != text {
                if let Err(e) = std::fs::write(path, blessed) {
                    return vec![format!("cannot update: {e}")];
                }
                eprintln!("updated the expectations in {}", path.display());
            }
            Vec::new()
        }
        _ => checked.problems,
    }
}

/// As [`check_file`] without updating, for program text.
pub fn check_text(text: &str) -> Vec<String> {
    check(text).problems
}

/// What checking a text found.
struct Checked {
    problems: Vec<String>,
    /// The text with every expectation rewritten to what was printed; `None` when the text
    /// cannot be run at all (a bad option, a syntax error).
    blessed: Option<String>,
}

impl Checked {
    fn unfixable(problems: Vec<String>) -> Checked {
        Checked { problems, blessed: None }
    }
}

fn check(text: &str) -> Checked {
    let options = match parse_options(text) {
        Ok(o) => o,
        Err(e) => return Checked::unfixable(vec![e]),
    };
    let cfg = if options.adapter_none {
        LlmConfig::new(AdapterKind::None)
    } else {
        scripted(&repo_root().join("tests/conformance/script.toml"))
    };
    let (mut s, out) = session(&cfg);
    s.set_limits(Limits {
        max_steps: options.max_steps,
        deadline: Some(Instant::now() + options.timeout),
        timeout_secs: Some(options.timeout.as_secs_f64()),
        max_depth: options.max_depth.unwrap_or(Limits::default().max_depth),
        memory: options.max_memory_mb.map_or(Limits::default().memory, |mb| Some(mb << 20)),
    });

    // (span end of the form, what it printed)
    let mut got: Vec<(usize, Expect)> = Vec::new();
    let mut printed = 0;
    let read = s.run_source("<test>", text, |_, r| {
        let all = out.0.borrow();
        let output = all[printed..].to_string();
        printed = all.len();
        let result = match r.result {
            Ok(Value::Unspecified) => None,
            Ok(v) => Some(format!("=> {}", write_string(&v))),
            Err(e) => Some(format!("error: {}", e.message)),
        };
        got.push((r.span.end as usize, Expect { result, output }));
        ControlFlow::Continue(())
    });
    if let Err(errors) = read {
        return Checked::unfixable(
            errors.iter().map(|e| format!("does not read: {} at byte {}", e.message, e.span.start)).collect(),
        );
    }

    let expectations = match parse_expectations(text) {
        Ok(e) => e,
        Err(e) => return Checked::unfixable(vec![e]),
    };
    // Each expectation belongs to the last form that ends before it.
    let mut wanted: Vec<Option<Expect>> = vec![None; got.len()];
    let mut places: Vec<Vec<Range<usize>>> = vec![Vec::new(); got.len()];
    for (at, line) in expectations {
        let Some(i) = got.iter().rposition(|(end, _)| *end <= at.start) else {
            return Checked::unfixable(vec![format!("expectation `{line}` comes before any form")]);
        };
        places[i].push(at);
        let e = wanted[i].get_or_insert_with(Expect::default);
        if let Some(v) = line.strip_prefix(";=>") {
            e.result = Some(format!("=> {}", v.trim()));
        } else if let Some(m) = line.strip_prefix(";error:") {
            e.result = Some(format!("error: {}", m.trim()));
        } else if let Some(o) = line.strip_prefix(";out:") {
            e.output.push_str(&unescape(o.strip_prefix(' ').unwrap_or(o)));
        }
        // `;nothing` only makes the form checked.
    }

    let mut problems = Vec::new();
    let mut edits = Vec::new();
    for (i, ((end, g), w)) in got.iter().zip(&wanted).enumerate() {
        let line = text[..*end].lines().count();
        let form = format!("form {} (ending on line {line})", i + 1);
        let before = problems.len();
        match w {
            None => {
                if g.result.as_deref().is_some_and(|r| r.starts_with("error: ")) || !g.output.is_empty() {
                    problems.push(format!(
                        "{form} has no expectation but printed {:?} with output {:?}",
                        g.result, g.output
                    ));
                }
            }
            Some(w) => {
                if w.result != g.result {
                    problems.push(format!("{form}: printed {:?}, expected {:?}", g.result, w.result));
                }
                if w.output != g.output {
                    problems.push(format!("{form}: wrote {:?}, expected {:?}", g.output, w.output));
                }
            }
        }
        if problems.len() > before {
            edits.extend(rewrite(text, *end, &places[i], g));
        }
    }
    Checked { problems, blessed: Some(apply(text, edits)) }
}

/// A replacement of `text[range]`.
type Edit = (Range<usize>, String);

/// The edits that make the expectations at `places` (of the form ending at `end`) say `got`:
/// the first place gets the new expectations, the others go; a form without any gets them at
/// the end of its line.
fn rewrite(text: &str, end: usize, places: &[Range<usize>], got: &Expect) -> Vec<Edit> {
    let mut marks = Vec::new();
    if !got.output.is_empty() {
        marks.push(format!(";out: {}", escape(&got.output)));
    }
    match got.result.as_deref() {
        Some(r) => marks.push(r.strip_prefix("=> ").map_or_else(|| format!(";{r}"), |v| format!(";=> {v}"))),
        None if got.output.is_empty() => marks.push(";nothing".to_string()),
        None => {}
    }
    let marks = marks.join(" ");
    let Some((first, rest)) = places.split_first() else {
        let line_end = text[end..].find('\n').map_or(text.len(), |n| end + n);
        return if text[end..line_end].trim().is_empty() {
            vec![(line_end..line_end, format!(" {marks}"))]
        } else {
            let next = line_end - text[end..line_end].trim_start().len();
            vec![(end..next, format!(" {marks}\n"))]
        };
    };
    let mut edits = vec![(first.clone(), marks)];
    for place in rest {
        // Remove the spaces before it too, and its line when nothing else is left on it.
        let mut start = place.start;
        while start > 0 && matches!(text.as_bytes()[start - 1], b' ' | b'\t') {
            start -= 1;
        }
        let mut stop = place.end;
        if (start == 0 || text.as_bytes()[start - 1] == b'\n') && text.as_bytes().get(stop) == Some(&b'\n') {
            stop += 1;
        }
        edits.push((start..stop, String::new()));
    }
    edits
}

/// `text` with `edits` (which do not overlap) applied.
fn apply(text: &str, mut edits: Vec<Edit>) -> String {
    edits.sort_by_key(|(range, _)| std::cmp::Reverse((range.start, range.end)));
    let mut out = text.to_string();
    for (range, replacement) in edits {
        out.replace_range(range, &replacement);
    }
    out
}

fn parse_options(text: &str) -> Result<Options, String> {
    let mut o = Options::default();
    for line in text.lines() {
        let Some(opt) = line.strip_prefix(";!") else { continue };
        let mut words = opt.split_whitespace();
        match (words.next(), words.next()) {
            (Some("adapter"), Some("none")) => o.adapter_none = true,
            (Some("adapter"), Some("scripted")) => o.adapter_none = false,
            (Some("max-steps"), Some(n)) => o.max_steps = Some(n.parse().map_err(|_| format!("bad option: {line}"))?),
            (Some("max-depth"), Some(n)) => o.max_depth = Some(n.parse().map_err(|_| format!("bad option: {line}"))?),
            (Some("max-memory"), Some(n)) => {
                o.max_memory_mb = Some(n.parse().map_err(|_| format!("bad option: {line}"))?)
            }
            // What `omega run` reports under its default budgets, when that differs (tests/e2e/limits.rs).
            (Some("default-budget-error"), Some(_)) => {}
            (Some("timeout"), Some(n)) => {
                o.timeout = Duration::from_secs_f64(n.parse().map_err(|_| format!("bad option: {line}"))?)
            }
            _ => return Err(format!("unknown option: {line}")),
        }
    }
    Ok(o)
}

/// The expectation comments of `text` with their places. Only comments between
/// top-level forms count; a `;` inside a string or form is not looked at, because an
/// expectation must start its line or follow a complete form, which the caller checks by
/// offset.
fn parse_expectations(text: &str) -> Result<Vec<(Range<usize>, String)>, String> {
    const MARKS: [&str; 4] = [";=>", ";error:", ";out:", ";nothing"];
    let mut found = Vec::new();
    let mut offset = 0;
    let mut in_string = false;
    let mut depth = 0i32;
    for line in text.split_inclusive('\n') {
        // A small scanner that tracks strings, comments and parentheses well enough to find
        // comments; the reader has already accepted the text.
        let bytes = line.as_bytes();
        let mut i = 0;
        let mut escaped = false;
        while i < bytes.len() {
            let c = bytes[i];
            if in_string {
                match (escaped, c) {
                    (true, _) => escaped = false,
                    (false, b'\\') => escaped = true,
                    (false, b'"') => in_string = false,
                    _ => {}
                }
            } else {
                match c {
                    b'"' => in_string = true,
                    b'(' => depth += 1,
                    b')' => depth -= 1,
                    b'#' if bytes.get(i + 1) == Some(&b'\\') => i += 2,
                    b';' => {
                        let comment = line[i..].trim_end();
                        if MARKS.iter().any(|m| comment.starts_with(m)) {
                            if depth != 0 {
                                return Err(format!("expectation inside a form: {comment}"));
                            }
                            // Several expectations may share a line: `;out: ab ;=> 1`.
                            let mut rest = comment;
                            loop {
                                let start = offset + i + comment.len() - rest.len();
                                let next = MARKS.iter().filter_map(|m| rest[1..].find(&format!(" {m}"))).min();
                                match next {
                                    Some(at) => {
                                        found.push((start..start + at + 1, rest[..at + 1].to_string()));
                                        rest = &rest[at + 2..];
                                    }
                                    None => {
                                        found.push((start..start + rest.len(), rest.to_string()));
                                        break;
                                    }
                                }
                            }
                        }
                        break;
                    }
                    _ => {}
                }
            }
            i += 1;
        }
        offset += line.len();
    }
    Ok(found)
}

/// The inverse of [`unescape`].
fn escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('\n', "\\n")
}

/// `\n` → newline, `\\` → backslash.
pub fn unescape(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match (c, chars.clone().next()) {
            ('\\', Some('n')) => {
                out.push('\n');
                chars.next();
            }
            ('\\', Some('\\')) => {
                out.push('\\');
                chars.next();
            }
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expectations_attach_to_the_form_before_them() {
        let text = "(define x 1) (+ x 1) ;=> 2\n(display \"a;b\") ;out: a;b\n;nothing\n(car '())\n;error: car: expected pair, got ()\n";
        assert_eq!(check_text(text), Vec::<String>::new());
        let wrong = "(+ 1 1) ;=> 3\n(display 1)\n";
        assert_eq!(check_text(wrong).len(), 2, "{:?}", check_text(wrong));
    }

    #[test]
    fn error_messages_match_exactly() {
        let cut = "(car '()) ;error: car: expected pair, got …\n";
        assert_eq!(check_text(cut).len(), 1, "a `…` is not a wildcard");
    }

    #[test]
    fn blessing_rewrites_only_what_differs() {
        let text = "\
(+ 1 1) ;=> 3
(define x 1) ; a definition
(display \"a\\\\b\") (newline)
;out: a\\\\b
(car '())
(begin (display \"x\") 1) ;out: y
;=> 2
x ;=> 1
";
        let blessed = check(text).blessed.unwrap();
        assert_eq!(
            blessed,
            "\
(+ 1 1) ;=> 2
(define x 1) ; a definition
(display \"a\\\\b\") ;out: a\\\\b
(newline)
;out: \\n
(car '()) ;error: car: expected pair, got ()
(begin (display \"x\") 1) ;out: x ;=> 1
x ;=> 1
"
        );
        assert_eq!(check_text(&blessed), Vec::<String>::new());
    }
}
