//! The OmegaLLM grammar for [tree-sitter](https://tree-sitter.github.io), with the
//! editor queries that go with it.
//!
//! ```
//! let mut parser = tree_sitter::Parser::new();
//! parser.set_language(&tree_sitter_omega::language()).expect("ABI matches");
//! let tree = parser.parse("(effect infer.op \"hi\")", None).expect("no timeout set");
//! assert_eq!(tree.root_node().to_sexp(), "(source_file (list (symbol) (symbol) (string)))");
//! ```

use tree_sitter_language::LanguageFn;

extern "C" {
    fn tree_sitter_omega() -> *const ();
}

/// The language as a plain function pointer, for crates that depend only on
/// `tree-sitter-language`.
pub const LANGUAGE: LanguageFn = unsafe { LanguageFn::from_raw(tree_sitter_omega) };

/// The OmegaLLM language, ready for `Parser::set_language` and `Query::new`.
pub fn language() -> tree_sitter::Language {
    LANGUAGE.into()
}

/// The node types, as `tree-sitter generate` describes them.
pub const NODE_TYPES: &str = include_str!("../../src/node-types.json");

/// Syntax highlighting, with Neovim's capture names.
pub const HIGHLIGHTS_QUERY: &str = include_str!("../../queries/highlights.scm");

/// Scopes, definitions and references.
pub const LOCALS_QUERY: &str = include_str!("../../queries/locals.scm");

/// Foldable regions.
pub const FOLDS_QUERY: &str = include_str!("../../queries/folds.scm");

/// Indentation hints for editors that indent from the syntax tree.
pub const INDENTS_QUERY: &str = include_str!("../../queries/indents.scm");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn language_loads() {
        let mut parser = tree_sitter::Parser::new();
        parser.set_language(&language()).expect("the generated parser matches the crate's ABI");
        let tree = parser.parse("'(a . #(1 \"s\"))", None).expect("no timeout set");
        assert!(!tree.root_node().has_error());
    }

    #[test]
    fn every_query_compiles() {
        for (name, source) in [
            ("highlights", HIGHLIGHTS_QUERY),
            ("locals", LOCALS_QUERY),
            ("folds", FOLDS_QUERY),
            ("indents", INDENTS_QUERY),
        ] {
            if let Err(e) = tree_sitter::Query::new(&language(), source) {
                panic!("queries/{name}.scm: {e}");
            }
        }
    }

    #[test]
    fn highlights_mark_special_forms_and_calls() {
        let query = tree_sitter::Query::new(&language(), HIGHLIGHTS_QUERY).expect("compiles");
        for capture in ["keyword", "keyword.function", "function.call", "string", "number", "comment"] {
            assert!(query.capture_names().contains(&capture), "no @{capture} capture");
        }
    }
}
