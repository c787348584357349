//! The user documentation under docs/: the reference of built-ins rendered from the tables in
//! `omega::builtins`, the examples of docs/language.md, and expected files that
//! `UPDATE_EXPECT=1` rewrites.
//!
//! The reference is a list of parts, each a list of sections of entries. A part comes from one
//! table, so documenting another table (the special forms) is one more `Reference::part` call.

use std::path::Path;

use omega_syntax::builtins::{self, NameDoc, Signature, Topic};
use omega_syntax::forms::{self, ClauseKeyword, Form};

/// One documented name: a heading, how it is used, and a paragraph.
pub struct Entry {
    pub name: &'static str,
    pub usage: &'static str,
    pub doc: &'static str,
}

impl From<&Signature> for Entry {
    fn from(s: &Signature) -> Entry {
        Entry { name: s.name, usage: s.usage, doc: s.doc }
    }
}

impl From<&Form> for Entry {
    fn from(f: &Form) -> Entry {
        Entry { name: f.name, usage: f.signature, doc: f.doc }
    }
}

impl From<&ClauseKeyword> for Entry {
    fn from(c: &ClauseKeyword) -> Entry {
        Entry { name: c.name, usage: c.signature, doc: c.doc }
    }
}

impl From<&NameDoc> for Entry {
    fn from(d: &NameDoc) -> Entry {
        Entry { name: d.name, usage: d.usage, doc: d.doc }
    }
}

/// Entries under one heading, with a short introduction.
pub struct Section {
    pub title: &'static str,
    pub intro: &'static str,
    pub entries: Vec<Entry>,
}

/// A Markdown document built part by part; `finish` adds the table of contents.
pub struct Reference {
    title: String,
    intro: String,
    contents: Vec<String>,
    body: String,
}

impl Reference {
    pub fn new(title: &str, intro: &str) -> Reference {
        Reference { title: title.into(), intro: intro.into(), contents: Vec::new(), body: String::new() }
    }

    /// Adds a part (a `##` heading) with its sections (`###`) and entries (`####`).
    pub fn part(&mut self, title: &str, intro: &str, sections: &[Section]) {
        let links: Vec<String> = sections.iter().map(|s| format!("[{}](#{})", s.title, anchor(s.title))).collect();
        self.contents.push(format!("- [{title}](#{}): {}", anchor(title), links.join(" · ")));
        self.body.push_str(&format!("\n## {title}\n\n{intro}\n"));
        for section in sections {
            self.body.push_str(&format!("\n### {}\n\n{}\n", section.title, section.intro));
            for e in &section.entries {
                self.body.push_str(&format!("\n#### `{}`\n\n`{}`\n\n{}\n", e.name, e.usage, e.doc));
            }
        }
    }

    pub fn finish(self) -> String {
        format!(
            "# {}\n\n<!-- Generated from the tables in interp/syntax/src/forms.rs and builtins.rs by tests/support/docs.rs; \
             do not edit. Regenerate: UPDATE_EXPECT=1 cargo test -p omega-tests --test e2e docs -->\n\n{}\n\n{}\n{}",
            self.title,
            self.intro,
            self.contents.join("\n"),
            self.body
        )
    }
}

/// The anchor GitHub gives a heading: lower case, punctuation dropped, spaces as `-`.
pub fn anchor(heading: &str) -> String {
    heading
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c.to_ascii_lowercase()),
            _ => None,
        })
        .collect()
}

/// The built-in procedures, a section per topic in the table's order.
pub fn procedure_sections() -> Vec<Section> {
    Topic::ALL
        .iter()
        .map(|&topic| Section {
            title: topic.title(),
            intro: topic.intro(),
            entries: builtins::SIGNATURES.iter().filter(|s| s.topic == topic).map(Entry::from).collect(),
        })
        .collect()
}

/// The built-in constants and effect operations.
pub fn other_name_sections() -> Vec<Section> {
    vec![
        Section {
            title: "Constants",
            intro: "Built-in variables that are not procedures.",
            entries: builtins::CONSTANT_DOCS.iter().map(Entry::from).collect(),
        },
        Section {
            title: "Effect operations",
            intro: "Operations with a built-in implementation, performed with `(effect OP arg …)`. An \
                    enclosing `handle` with an `(on OP …)` clause intercepts them first; any other op with no \
                    handler is the error `unhandled effect: OP`.",
            entries: builtins::OP_DOCS.iter().map(Entry::from).collect(),
        },
    ]
}

/// The special forms and the clause keywords, from the table of forms.
pub fn special_form_sections() -> Vec<Section> {
    vec![
        Section {
            title: "Forms",
            intro: "In a usage line `[x]` is optional and `x…` stands for zero or more; `body…` is one or \
                    more expressions, and may start with definitions. A malformed form is a syntax error \
                    that `omega check` and `omega run` report alike.",
            entries: forms::FORMS.iter().map(Entry::from).collect(),
        },
        Section {
            title: "Clauses",
            intro: "Keywords that start a clause of a form.",
            entries: forms::CLAUSE_KEYWORDS.iter().map(Entry::from).collect(),
        },
    ]
}

/// The text of docs/reference.md.
pub fn render_reference() -> String {
    let mut reference = Reference::new(
        "OmegaLLM reference: special forms, built-in procedures and operations",
        "Every special form and built-in name of OmegaLLM as omega-tools implements it, grouped by \
         topic: how a use looks, then what it does. In a usage line `[x]` is optional, `x …` stands for zero or more arguments, and \
         `|` separates alternative shapes. Every built-in checks the number and the types of its \
         arguments (`car: expected pair, got ()`). Built-ins live beneath the program's globals, so a \
         program may redefine any of them. The values, effects, concurrency and configuration are \
         described in [language.md](language.md).",
    );
    reference.part("Special forms", "The syntax of the language, from the table of forms.", &special_form_sections());
    reference.part("Procedures", "The built-in procedures, by topic.", &procedure_sections());
    reference.part("Other built-in names", "Constants and effect operations.", &other_name_sections());
    reference.finish()
}

/// Compares `path` with `expected`; with `UPDATE_EXPECT=1` in the environment, rewrites the
/// file instead. Returns a message saying what differs and how to update it.
pub fn check_or_update(path: &Path, expected: &str) -> Result<(), String> {
    if std::env::var("UPDATE_EXPECT").is_ok_and(|v| v == "1") {
        std::fs::create_dir_all(path.parent().expect("a file in a directory")).map_err(|e| e.to_string())?;
        return std::fs::write(path, expected).map_err(|e| format!("{}: {e}", path.display()));
    }
    let actual = std::fs::read_to_string(path).unwrap_or_default();
    if actual == expected {
        return Ok(());
    }
    let line = actual
        .lines()
        .zip(expected.lines())
        .position(|(a, b)| a != b)
        .unwrap_or_else(|| actual.lines().count().min(expected.lines().count()));
    Err(format!(
        "{} is stale from line {}:\n  file:      {:?}\n  generated: {:?}\nRegenerate it with UPDATE_EXPECT=1 cargo test -p omega-tests --test e2e docs",
        path.display(),
        line + 1,
        actual.lines().nth(line).unwrap_or("<end of file>"),
        expected.lines().nth(line).unwrap_or("<end of file>"),
    ))
}

/// The fenced code blocks of a Markdown text in the given language, with the 1-based line of
/// each block's first line of code.
pub fn code_blocks(markdown: &str, language: &str) -> Vec<(usize, String)> {
    let mut blocks = Vec::new();
    let mut current: Option<(usize, String)> = None;
    for (i, line) in markdown.lines().enumerate() {
        match current.as_mut() {
            None if line.trim_start().strip_prefix("```").is_some_and(|l| l.trim() == language) => {
                current = Some((i + 2, String::new()));
            }
            Some(_) if line.trim_start().starts_with("```") => blocks.extend(current.take()),
            Some((_, code)) => {
                code.push_str(line);
                code.push('\n');
            }
            None => {}
        }
    }
    blocks
}

/// The examples `` `EXPR` ⇒ `VALUE` `` in a doc paragraph, as (EXPR, VALUE) pairs.
pub fn arrow_examples(doc: &str) -> Vec<(String, String)> {
    const ARROW: &str = "` ⇒ `";
    let mut examples = Vec::new();
    let mut from = 0;
    while let Some(at) = doc[from..].find(ARROW).map(|i| from + i) {
        let start = doc[..at].rfind('`').map_or(0, |i| i + 1);
        let value_start = at + ARROW.len();
        let Some(len) = doc[value_start..].find('`') else {
            break;
        };
        examples.push((doc[start..at].to_string(), doc[value_start..value_start + len].to_string()));
        from = value_start + len;
    }
    examples
}

/// A `console` block of the docs: files shown with `$ cat NAME`, then `$ omega ARGS…`
/// commands, each followed by what it prints (stdout, then stderr).
#[derive(Debug, Default)]
pub struct Transcript {
    pub files: Vec<(String, String)>,
    pub commands: Vec<(Vec<String>, String)>,
}

/// Reads a `console` block. Arguments are split at spaces; `'…'` quotes one argument.
pub fn transcript(block: &str) -> Result<Transcript, String> {
    enum Into {
        Nothing,
        File,
        Output,
    }
    let mut t = Transcript::default();
    let mut into = Into::Nothing;
    for line in block.lines() {
        if let Some(command) = line.strip_prefix("$ ") {
            if let Some(name) = command.strip_prefix("cat ") {
                t.files.push((name.trim().to_string(), String::new()));
                into = Into::File;
            } else {
                let words = shell_words(command);
                if words.first().map(String::as_str) != Some("omega") {
                    return Err(format!("not an omega command: {line}"));
                }
                t.commands.push((words[1..].to_vec(), String::new()));
                into = Into::Output;
            }
            continue;
        }
        let text = match into {
            Into::Nothing => return Err(format!("text before the first command: {line}")),
            Into::File => &mut t.files.last_mut().expect("a file").1,
            Into::Output => &mut t.commands.last_mut().expect("a command").1,
        };
        text.push_str(line);
        text.push('\n');
    }
    Ok(t)
}

fn shell_words(command: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut rest = command.trim();
    while !rest.is_empty() {
        let (word, after) = match rest.strip_prefix('\'') {
            Some(quoted) => quoted.split_once('\'').unwrap_or((quoted, "")),
            None => rest.split_once(' ').unwrap_or((rest, "")),
        };
        words.push(word.to_string());
        rest = after.trim_start();
    }
    words
}
