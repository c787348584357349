//! `;; omega: allow CODE…` comments: a finding is dropped when such a comment sits on the line
//! above any line of its ranges (primary, related or trace). Codes may carry the `omega::`
//! prefix; several may follow `allow`.

use std::collections::{BTreeSet, HashMap};

use crate::diagnostic::{Code, Diagnostic, Fix};
use crate::syntax::{LineIndex, Span};

/// For each line (0-based), the codes its allow comment names.
pub struct Allowances {
    lines: LineIndex,
    allowed: HashMap<usize, BTreeSet<Code>>,
}

impl Allowances {
    pub fn scan(text: &str) -> Allowances {
        let lines = LineIndex::new(text);
        let mut allowed = HashMap::new();
        for (n, line) in text.lines().enumerate() {
            let Some(comment) = comment_of(line) else { continue };
            let rest = comment.trim_start_matches(';').trim_start();
            let Some(rest) = rest.strip_prefix("omega:") else { continue };
            let Some(rest) = rest.trim_start().strip_prefix("allow") else { continue };
            let codes: BTreeSet<Code> = rest.split_whitespace().filter_map(Code::parse).collect();
            if !codes.is_empty() {
                allowed.insert(n, codes);
            }
        }
        Allowances { lines, allowed }
    }

    /// Whether a comment above one of the diagnostic's lines allows its code.
    pub fn allows(&self, d: &Diagnostic) -> bool {
        if self.allowed.is_empty() {
            return false;
        }
        d.all_spans().any(|span| {
            let first = self.lines.line(span.start as usize);
            let last = self.lines.line(span.end.max(span.start + 1) as usize - 1).max(first);
            (first..=last).any(|l| l > 0 && self.allowed.get(&(l - 1)).is_some_and(|c| c.contains(&d.code)))
        })
    }

    /// A fix that inserts an allow comment above the primary range, indented like that line.
    pub fn suppress_fix(&self, text: &str, d: &Diagnostic) -> Fix {
        let line = self.lines.line(d.span.start as usize);
        let start = self.lines.line_start(line);
        let indent: String = text[start..].chars().take_while(|c| *c == ' ' || *c == '\t').collect();
        Fix {
            title: format!("suppress `{}` here", d.code.short()),
            edits: vec![(Span::new(start, start), format!("{indent};; omega: allow {}\n", d.code.short()))],
            preferred: false,
        }
    }
}

/// The comment part of a line: from the first `;` outside a string.
fn comment_of(line: &str) -> Option<&str> {
    let mut in_str = false;
    let mut escaped = false;
    for (i, c) in line.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if in_str => escaped = true,
            '"' => in_str = !in_str,
            ';' if !in_str => return Some(&line[i..]),
            _ => {}
        }
    }
    None
}
