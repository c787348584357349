//! Program files with their expected REPL transcript in comments (tests/programs/README.md).
//!
//! A file is run form by form in a fresh session, as the REPL would. Comments that start with
//! `;=>`, `;error:`, `;out:` or `;nothing` hold the expectations of the top-level form before
//! them (several may share a line); comments starting with `;!` set options.

use std::ops::ControlFlow;
use std::path::Path;
use std::time::{Duration, Instant};

use omega::config::{AdapterKind, LlmConfig};
use omega::printer::write_string;
use omega::value::Value;
use omega::vm::Limits;

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
/// when it passes).
pub fn check_file(path: &Path) -> Vec<String> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => return vec![format!("cannot read: {e}")],
    };
    check_text(&text)
}

/// As [`check_file`], for program text.
pub fn check_text(text: &str) -> Vec<String> {
    let options = match parse_options(text) {
        Ok(o) => o,
        Err(e) => return vec![e],
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
        return errors.iter().map(|e| format!("does not read: {} at byte {}", e.message, e.span.start)).collect();
    }

    let expectations = match parse_expectations(text) {
        Ok(e) => e,
        Err(e) => return vec![e],
    };
    // Each expectation belongs to the last form that ends before it.
    let mut wanted: Vec<Option<Expect>> = vec![None; got.len()];
    for (at, line) in expectations {
        let Some(i) = got.iter().rposition(|(end, _)| *end <= at) else {
            return vec![format!("expectation `{line}` comes before any form")];
        };
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
    for (i, ((end, g), w)) in got.iter().zip(&wanted).enumerate() {
        let line = text[..*end].lines().count();
        let form = format!("form {} (ending on line {line})", i + 1);
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
                if !result_matches(w.result.as_deref(), g.result.as_deref()) {
                    problems.push(format!("{form}: printed {:?}, expected {:?}", g.result, w.result));
                }
                if w.output != g.output {
                    problems.push(format!("{form}: wrote {:?}, expected {:?}", g.output, w.output));
                }
            }
        }
    }
    problems
}

/// An expected error message ending in `…` matches any message with that prefix.
fn result_matches(wanted: Option<&str>, got: Option<&str>) -> bool {
    match (wanted, got) {
        (Some(w), Some(g)) if w.starts_with("error: ") && w.ends_with('…') => g.starts_with(w.trim_end_matches('…')),
        (w, g) => w == g,
    }
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
            (Some("timeout"), Some(n)) => {
                o.timeout = Duration::from_secs_f64(n.parse().map_err(|_| format!("bad option: {line}"))?)
            }
            _ => return Err(format!("unknown option: {line}")),
        }
    }
    Ok(o)
}

/// The expectation comments of `text` with their byte offsets. Only comments between
/// top-level forms count; a `;` inside a string or form is not looked at, because an
/// expectation must start its line or follow a complete form, which the caller checks by
/// offset.
fn parse_expectations(text: &str) -> Result<Vec<(usize, String)>, String> {
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
                                let next = MARKS.iter().filter_map(|m| rest[1..].find(&format!(" {m}"))).min();
                                match next {
                                    Some(at) => {
                                        found.push((offset + i, rest[..at + 1].to_string()));
                                        rest = &rest[at + 2..];
                                    }
                                    None => {
                                        found.push((offset + i, rest.to_string()));
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
}
