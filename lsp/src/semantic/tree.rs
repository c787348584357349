//! Semantic tokens read off the syntax tree: comments, literals, keywords, quoted symbols and
//! quote marks. With the identifier tokens of the name resolution they highlight the whole
//! text, for clients that take all their colours from the server (Neovim without the
//! tree-sitter parser). Keywords are the special forms of `omega_syntax::forms`, the one
//! table the expander, the analysis and the editors' queries share.

use omega_syntax::forms;
use omega_syntax::syntax::Span;
use tree_sitter::{Node, Tree};

use super::{COMMENT, ENUM_MEMBER, KEYWORD, NUMBER, OPERATOR, STRING};

/// Whether a datum is code or data, and which kind of data.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Context {
    Code,
    /// Under `'` or `quote`: everything is data.
    Quote,
    /// Under `` ` `` or `quasiquote`: data, except what `,`/`,@` unquote.
    Quasi,
}

/// Kinds of nodes that are comments wherever they stand (extras between any two data).
fn is_comment(kind: &str) -> bool {
    matches!(kind, "comment" | "block_comment" | "datum_comment")
}

/// The data of a list, without brackets and comments.
fn data(list: Node) -> Vec<Node> {
    let mut cursor = list.walk();
    list.named_children(&mut cursor).filter(|n| !is_comment(n.kind())).collect()
}

fn text<'t>(node: Node, source: &'t str) -> &'t str {
    source.get(node.byte_range()).unwrap_or("")
}

/// The symbol a list starts with.
fn head<'t>(list: Node, source: &'t str) -> Option<&'t str> {
    let mut cursor = list.walk();
    let first = list.named_children(&mut cursor).find(|n| !is_comment(n.kind()))?;
    (first.kind() == "symbol").then(|| text(first, source))
}

/// Where a datum stands in the list around it.
#[derive(Clone, Copy)]
enum Role<'t> {
    /// First in its list; `outer` is the head of the list around that list.
    Head {
        outer: Option<&'t str>,
    },
    /// Second in a list headed by `effect` or `on`: the name of an operation.
    Operation,
    Item,
}

/// Tokens (span, type) of the tree's nodes that touch `within` (all without it), in no
/// particular order and never overlapping one another.
pub(super) fn tokens(source: &str, tree: &Tree, within: Option<Span>) -> Vec<(Span, u32)> {
    let mut out = Vec::new();
    // An explicit stack: nesting depth is the user's, not the host stack's.
    // (node, context, role, the head of the list around it): parents are passed down, as
    // `Node::parent` searches from the root.
    let mut stack = vec![(tree.root_node(), Context::Code, Role::Item, None)];
    while let Some((node, context, role, around)) = stack.pop() {
        let span = Span::new(node.start_byte(), node.end_byte());
        if within.is_some_and(|w| span.end < w.start || span.start > w.end) || span.start == span.end {
            continue;
        }
        let leaf = match node.kind() {
            // A datum comment covers its datum: commented-out code is a comment.
            "comment" | "block_comment" | "datum_comment" | "shebang" => Some(COMMENT),
            "string" | "character" => Some(STRING),
            "number" => Some(NUMBER),
            "boolean" => Some(KEYWORD),
            "symbol" => symbol(text(node, source), context, role),
            "'" | "`" | "," | ",@" | "dot" => Some(OPERATOR),
            _ => None,
        };
        if let Some(ty) = leaf {
            // A line comment runs to the `\n`: the `\r` of a CRLF is the line break, not the comment.
            let cr = matches!(node.kind(), "comment" | "shebang") && source[span.range()].ends_with('\r');
            out.push((Span::new(span.start as usize, span.end as usize - cr as usize), ty));
            continue;
        }
        let is_list = node.kind() == "list";
        let list_head = if is_list { head(node, source) } else { None };
        let inner = match (node.kind(), context) {
            ("quote", _) => Context::Quote,
            ("quasiquote", Context::Code) => Context::Quasi,
            ("unquote" | "unquote_splicing", Context::Quasi) => Context::Code,
            ("list", Context::Code) => match list_head {
                Some("quote") => Context::Quote,
                Some("quasiquote") => Context::Quasi,
                _ => Context::Code,
            },
            ("list", Context::Quasi) => match list_head {
                Some("unquote" | "unquote-splicing") => Context::Code,
                _ => Context::Quasi,
            },
            _ => context,
        };
        let items = if is_list { data(node) } else { Vec::new() };
        let operation = matches!(list_head, Some("effect" | "on")).then(|| items.get(1)).flatten();
        let mut cursor = node.walk();
        let children: Vec<Node> = node.children(&mut cursor).collect();
        for child in children.into_iter().rev() {
            let (child_context, role) = if items.first() == Some(&child) {
                // The head of `(quote x)` is the keyword, not data.
                (if inner != context { Context::Code } else { inner }, Role::Head { outer: around })
            } else if operation == Some(&child) {
                (inner, Role::Operation)
            } else {
                (inner, Role::Item)
            };
            stack.push((child, child_context, role, list_head));
        }
    }
    out
}

/// The token of a symbol: data under a quote, a keyword where the table of forms says so,
/// the operation named by `(effect op …)` / `(on op …)`; else the name resolution's.
fn symbol(name: &str, context: Context, role: Role) -> Option<u32> {
    if context != Context::Code {
        return Some(ENUM_MEMBER);
    }
    if forms::AUXILIARY.contains(&name) {
        return Some(KEYWORD);
    }
    match role {
        Role::Head { .. } if forms::form(name).is_some() => Some(KEYWORD),
        // `on` and `return` start clauses of their form (`handle`), not forms of their own.
        Role::Head { outer } => forms::clause_keyword(name).filter(|c| Some(c.within) == outer).map(|_| KEYWORD),
        Role::Operation => Some(ENUM_MEMBER),
        Role::Item => None,
    }
}
