//! The special forms: one table that the expander, the resolver, the abstract interpreter,
//! the formatter and the editor queries (`grammar/queries/*.scm`, checked by a tidy test)
//! all read, so the editor and the evaluator never disagree about what a form is.
//!
//! Each entry names a form and describes its shape as a list of [`Part`]s; [`check`] reads
//! that description and reports every mistake in a form, one message each, with the span
//! to underline. The expander stops at the first mistake, `omega check` reports them all:
//! both print the same text at the same place. What a form *means* stays with its readers.
//!
//! This module depends only on the syntax tree and symbols.

mod check;

pub use check::{check, check_transformer, Mistake, Names, PlainNames};

/// How the formatter and the editors indent a form's parts on later lines.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Indent {
    /// The parts after the keyword are a body: 2 columns past the opening parenthesis.
    Body,
    /// Like a call: later parts line up under the first.
    Call,
}

/// The editors' highlight group of a keyword (Neovim capture names in `highlights.scm`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Highlight {
    /// `@keyword`
    Keyword,
    /// `@keyword.function`: forms that define or make procedures.
    Function,
    /// `@keyword.conditional`
    Conditional,
    /// `@keyword.operator`
    Operator,
    /// `@keyword.repeat`
    Repeat,
    /// `@keyword.exception`
    Exception,
}

impl Highlight {
    /// The capture name in `highlights.scm`.
    pub fn capture(self) -> &'static str {
        match self {
            Highlight::Keyword => "keyword",
            Highlight::Function => "keyword.function",
            Highlight::Conditional => "keyword.conditional",
            Highlight::Operator => "keyword.operator",
            Highlight::Repeat => "keyword.repeat",
            Highlight::Exception => "keyword.exception",
        }
    }
}

/// One part of a form after its keyword. A part is one datum unless it says otherwise.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Part {
    /// Any datum, not evaluated (`quote`).
    Datum,
    /// A quasiquote template: `,e` and `,@e` inside are expressions.
    Template,
    /// An expression.
    Expr,
    /// An expression that may be left out (the `else` branch of `if`).
    OptionalExpr,
    /// Any number of expressions, to the end.
    Exprs,
    /// One or more definitions and expressions, to the end.
    Body,
    /// A name (`define-syntax`'s macro name, `define-record-type`'s predicate).
    Name,
    /// A variable that is assigned (`set!`).
    Variable,
    /// A literal effect operation name, not evaluated (`effect`).
    Op,
    /// Parameters: `(a b)`, `(a . rest)` or `args`, each name once.
    Formals,
    /// A named let's loop name: present when the part is a symbol.
    LoopName,
    /// `((name value) …)`; `distinct` when a name may be bound only once.
    Bindings { distinct: bool },
    /// `((name (syntax-rules …)) …)`.
    SyntaxBindings,
    /// A `syntax-rules` transformer.
    Transformer,
    /// `((var init [step]) …)` of `do`.
    DoVariables,
    /// `(test result…)` of `do`.
    DoExit,
    /// `(var clause…)` of `guard`: a variable and `cond`-like clauses.
    GuardSpec,
    /// Clauses of the given kind, to the end.
    Clauses(ClauseKind),
    /// `name value` or `(name . formals) body…`, to the end (`define`).
    Definition,
    /// `name (constructor field…) predicate (field accessor [modifier])…`, to the end.
    RecordType,
    /// Nothing is valid: the keyword belongs somewhere else (`unquote` outside a template,
    /// `syntax-rules` outside a macro definition).
    Misplaced(&'static str),
}

impl Part {
    /// Whether this part takes all the remaining items.
    fn is_rest(self) -> bool {
        matches!(self, Part::Exprs | Part::Body | Part::Clauses(_) | Part::Definition | Part::RecordType)
    }
}

/// The kinds of clauses a form takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClauseKind {
    /// `(test expression…)`, `(test => procedure)`, `(test)`, a last `(else expression…)`.
    Cond,
    /// `((datum…) expression…)`, `((datum…) => procedure)`, a last `(else expression…)`.
    Case,
    /// `(on op (arg… k) body…)`, `(on op args k body…)`, one `(return (v) body…)`.
    Handle,
    /// `(pattern body…)`.
    Match,
}

/// A special form.
#[derive(Clone, Copy, Debug)]
pub struct Form {
    pub name: &'static str,
    /// The parts after the keyword.
    pub parts: &'static [Part],
    /// How it reads, e.g. `(let ((name value) …) body…)`; also the message for a form with
    /// the wrong number of parts.
    pub signature: &'static str,
    /// One paragraph for hover, completion and the reference.
    pub doc: &'static str,
    pub indent: Indent,
    pub highlight: Highlight,
}

impl Form {
    /// Whether the form binds names in a region of its own (a scope in `locals.scm`);
    /// `define` adds to the enclosing scope instead.
    pub fn opens_scope(&self) -> bool {
        self.parts.iter().any(|p| {
            matches!(
                p,
                Part::Formals
                    | Part::Bindings { .. }
                    | Part::SyntaxBindings
                    | Part::DoVariables
                    | Part::GuardSpec
                    | Part::Clauses(ClauseKind::Match)
            )
        })
    }

    /// Whether it is a definition (it starts with what it defines), allowed only at top level
    /// or at the start of a body.
    pub fn is_definition(&self) -> bool {
        matches!(self.parts.first(), Some(Part::Definition | Part::RecordType | Part::Name))
    }
}

/// A keyword that starts a clause inside a form (`on`, `return` in `handle`).
#[derive(Clone, Copy, Debug)]
pub struct ClauseKeyword {
    pub name: &'static str,
    /// The form whose clauses it starts.
    pub within: &'static str,
    pub signature: &'static str,
    pub doc: &'static str,
    pub indent: Indent,
}

/// Symbols with a meaning inside clauses that are not forms of their own.
pub const AUXILIARY: &[&str] = &["else", "=>"];

/// The special form named `name`.
pub fn form(name: &str) -> Option<&'static Form> {
    FORMS.iter().find(|f| f.name == name)
}

/// The clause keyword named `name`.
pub fn clause_keyword(name: &str) -> Option<&'static ClauseKeyword> {
    CLAUSE_KEYWORDS.iter().find(|c| c.name == name)
}

/// The signature and doc of a special form or clause keyword: what hover and completion show.
pub fn documentation(name: &str) -> Option<(&'static str, &'static str)> {
    form(name).map(|f| (f.signature, f.doc)).or_else(|| clause_keyword(name).map(|c| (c.signature, c.doc)))
}

/// How the formatter indents a list that starts with `head`, if it is a keyword.
pub fn indent_of(head: &str) -> Option<Indent> {
    form(head).map(|f| f.indent).or_else(|| clause_keyword(head).map(|c| c.indent))
}

/// The message for a keyword (a special form's or a macro's) where a value is expected.
pub fn keyword_as_variable(keyword: &str) -> String {
    format!("{keyword}: bad syntax (a keyword used as a variable)")
}

/// The message for `set!` of a keyword (a special form's or a macro's), at the keyword.
pub fn assigned_keyword(keyword: &str) -> String {
    format!("set!: {keyword} is a keyword, not a variable")
}

/// The message for a call or form written as a dotted list, at its tail.
pub const DOTTED_CALL: &str = "a call cannot have a dotted argument list";

/// The message for a definition where only expressions may be.
pub fn misplaced_definition(keyword: &str) -> String {
    format!("{keyword}: a definition is not allowed here (only at top level or at the start of a body)")
}

const fn entry(
    name: &'static str,
    parts: &'static [Part],
    signature: &'static str,
    indent: Indent,
    highlight: Highlight,
    doc: &'static str,
) -> Form {
    Form { name, parts, signature, doc, indent, highlight }
}

use Highlight::{Conditional, Exception, Function, Keyword, Operator, Repeat};
use Indent::{Body, Call};
use Part::*;

const LET_BINDINGS: &[Part] = &[Bindings { distinct: true }, Part::Body];
const BODY_OF_EXPRS: &[Part] = &[Exprs];

/// Every special form, in the order of the language reference.
pub static FORMS: &[Form] = &[
    entry("quote", &[Datum], "(quote datum)", Call, Keyword,
        "The datum itself, not evaluated. `'d` is short for `(quote d)`."),
    entry("quasiquote", &[Template], "(quasiquote template)", Call, Keyword,
        "A template: `,e` inserts the value of `e`, and `,@e` splices in a list at any position in a list or a vector. \
         Nested quasiquotes follow R7RS levels. `` `t `` is short for `(quasiquote t)`."),
    entry("unquote", &[Misplaced("not inside a quasiquote")], "(unquote expression)", Call, Keyword,
        "Inside a quasiquote template, inserts the value of the expression. `,e` is short for `(unquote e)`."),
    entry("unquote-splicing", &[Misplaced("not inside a quasiquote")], "(unquote-splicing expression)", Call, Keyword,
        "Inside a list or vector of a quasiquote template, splices in the elements of a list. \
         `,@e` is short for `(unquote-splicing e)`."),
    entry("if", &[Expr, Expr, OptionalExpr], "(if test then [else])", Call, Conditional,
        "Evaluates `then` when `test` is true (anything but `#f`), otherwise `else`; without `else`, \
         a false test gives the unspecified value."),
    entry("define", &[Definition], "(define name value) or (define (name . formals) body…)", Body, Function,
        "Binds a name, or defines a procedure. At top level the value of a `define` is the symbol \
         being defined; at the start of a body it binds a local name (as `letrec*`)."),
    entry("lambda", &[Formals, Part::Body], "(lambda formals body…)", Body, Function,
        "A procedure. `formals` is `(a b)`, `args` (all arguments as a list) or `(a . rest)`."),
    entry("let", &[LoopName, Bindings { distinct: true }, Part::Body],
        "(let ((name value) …) body…) or (let loop ((name value) …) body…)", Body, Keyword,
        "Evaluates the values, then the body with the names bound to them. A named `let` also binds \
         `loop`, inside the body only, to a procedure of the names that runs the body again."),
    entry("let*", &[Bindings { distinct: false }, Part::Body], "(let* ((name value) …) body…)", Body, Keyword,
        "Like `let`, but each value sees the names bound before it."),
    entry("letrec", LET_BINDINGS, "(letrec ((name value) …) body…)", Body, Keyword,
        "Binds the names first, then evaluates the values in order, so they may refer to each other \
         (as `letrec*`). Using a name before its value is set is an error."),
    entry("letrec*", LET_BINDINGS, "(letrec* ((name value) …) body…)", Body, Keyword,
        "Like `letrec`: the values are evaluated in order, each seeing all the names."),
    entry("set!", &[Variable, Expr], "(set! name value)", Call, Keyword,
        "Assigns a new value to an existing binding and gives the unspecified value."),
    entry("begin", BODY_OF_EXPRS, "(begin expression…)", Body, Keyword,
        "Evaluates the expressions in order and gives the last value; `(begin)` gives the unspecified \
         value. At top level it splices definitions into the top level."),
    entry("cond", &[Clauses(ClauseKind::Cond)], "(cond (test expression…) … [(else expression…)])", Call, Conditional,
        "Runs the first clause whose test is true. A clause `(test => f)` calls `f` on the test's \
         value; a clause `(test)` gives the test's value; `else` must be the last clause."),
    entry("case", &[Expr, Clauses(ClauseKind::Case)], "(case key ((datum…) expression…) … [(else expression…)])",
        Body, Conditional,
        "Evaluates `key` and runs the first clause that lists a datum `eqv?` to it (strings compare \
         by content). `=>` clauses call a procedure on the key."),
    entry("when", &[Expr, Exprs], "(when test expression…)", Body, Conditional,
        "When `test` is true, evaluates the expressions and gives the last value; otherwise the \
         unspecified value."),
    entry("unless", &[Expr, Exprs], "(unless test expression…)", Body, Conditional,
        "When `test` is false, evaluates the expressions and gives the last value; otherwise the \
         unspecified value."),
    entry("do", &[DoVariables, DoExit, Exprs], "(do ((var init [step]) …) (test result…) command…)", Body, Repeat,
        "A loop: binds each `var` to `init`, then until `test` is true runs the commands and rebinds \
         each `var` to its `step`. Gives the value of the last `result`."),
    entry("and", BODY_OF_EXPRS, "(and expression…)", Call, Operator,
        "Evaluates the expressions left to right until one is false; gives the last value, or `#t` \
         when there are none."),
    entry("or", BODY_OF_EXPRS, "(or expression…)", Call, Operator,
        "Evaluates the expressions left to right until one is true and gives it; `#f` when none is."),
    entry("define-syntax", &[Name, Transformer], "(define-syntax name (syntax-rules (literal …) (pattern template) …))",
        Body, Function,
        "Defines a hygienic macro. It must be defined before any form that uses it is expanded."),
    entry("let-syntax", &[SyntaxBindings, Part::Body], "(let-syntax ((name (syntax-rules …)) …) body…)", Body, Keyword,
        "Macros visible in the body only; their templates see the scope around the form."),
    entry("letrec-syntax", &[SyntaxBindings, Part::Body], "(letrec-syntax ((name (syntax-rules …)) …) body…)",
        Body, Keyword,
        "Like `let-syntax`, but the macros' templates also see each other."),
    entry("syntax-rules", &[Misplaced("only allowed as the transformer of define-syntax, let-syntax or letrec-syntax")],
        "(syntax-rules (literal …) (pattern template) …)", Body, Keyword,
        "A macro transformer: the first rule whose pattern matches a use is replaced by its template. \
         Patterns support `_`, an ellipsis after any subpattern, dotted and vector patterns; \
         `(syntax-rules ::: (literal …) …)` names another ellipsis."),
    entry("delay", &[Expr], "(delay expression)", Call, Keyword,
        "A promise that evaluates the expression the first time it is forced, and remembers the value."),
    entry("delay-force", &[Expr], "(delay-force expression)", Call, Keyword,
        "A promise whose expression gives another promise, forced in its place without growing the stack."),
    entry("cons-stream", &[Expr, Expr], "(cons-stream head tail)", Call, Keyword,
        "A stream pair: the same as `(cons head (delay tail))`."),
    entry("effect", &[Op, Exprs], "(effect op argument…)", Call, Keyword,
        "Performs the effect `op` (a literal symbol such as `infer.op`, not evaluated) with the \
         arguments, evaluated left to right; the innermost `handle` with a clause for `op` answers it."),
    entry("handle", &[Expr, Clauses(ClauseKind::Handle)], "(handle expression clause…)", Body, Keyword,
        "Evaluates the expression under a deep handler. `(on op (arg… k) body…)` answers the effect \
         `op`, with `k` the continuation; `(return (v) body…)` transforms the final value."),
    entry("amb", BODY_OF_EXPRS, "(amb expression…)", Call, Keyword,
        "Nondeterministic choice: gives the first alternative, and the next one each time a later \
         computation fails. `(amb)` fails."),
    entry("parallel", BODY_OF_EXPRS, "(parallel expression…)", Body, Keyword,
        "Evaluates each expression as a concurrent task (a value that is a procedure of no arguments \
         is called in the task) and gives the list of the results in argument order. LLM calls of \
         different tasks are in flight at the same time; the first task to fail cancels the others."),
    entry("match", &[Expr, Clauses(ClauseKind::Match)], "(match expression (pattern body…) …)", Body, Conditional,
        "Runs the first clause whose pattern matches the value: `_` matches anything, `?x` binds `x`, \
         a bare symbol matches itself or a string of its characters, lists and vectors match element by element."),
    entry("guard", &[GuardSpec, Part::Body], "(guard (var clause…) body…)", Body, Exception,
        "Evaluates the body; if it raises, binds `var` to the condition and runs the first clause \
         (like `cond`) whose test is true. An unmatched condition is raised again."),
    entry("define-record-type", &[RecordType],
        "(define-record-type name (constructor field…) predicate (field accessor [modifier])…)", Body, Function,
        "Defines a record type with a constructor, a predicate, and an accessor (and optionally a \
         modifier) for each field."),
];

/// The keywords that start clauses.
pub static CLAUSE_KEYWORDS: &[ClauseKeyword] = &[
    ClauseKeyword {
        name: "on",
        within: "handle",
        signature: "(on op (arg… k) body…) or (on op args k body…)",
        doc: "A `handle` clause answering the effect `op`: the arguments are bound (as a list in the \
              second shape), and `k` is the continuation, which resumes the computation with a value.",
        indent: Body,
    },
    ClauseKeyword {
        name: "return",
        within: "handle",
        signature: "(return (v) body…)",
        doc: "The `handle` clause that transforms the value of the handled expression.",
        indent: Body,
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_signatures_name_their_form() {
        let mut names: Vec<&str> = FORMS.iter().map(|f| f.name).chain(CLAUSE_KEYWORDS.iter().map(|c| c.name)).collect();
        let count = names.len();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), count, "a keyword appears twice");
        for f in FORMS {
            assert!(
                f.signature.starts_with(&format!("({} ", f.name)) || f.signature == format!("({})", f.name),
                "{}",
                f.name
            );
            assert!(!f.doc.is_empty());
            let rest = f.parts.iter().position(|p| p.is_rest());
            assert!(rest.is_none_or(|i| i + 1 == f.parts.len()), "{}: a rest part must be last", f.name);
        }
        for c in CLAUSE_KEYWORDS {
            assert!(form(c.within).is_some(), "{} is within an unknown form", c.name);
        }
        assert_eq!(documentation("if").map(|d| d.0), Some("(if test then [else])"));
        assert!(documentation("on").is_some_and(|d| d.1.contains("continuation")));
        assert_eq!(documentation("oracle-lambda"), None);
        let definitions: Vec<&str> = FORMS.iter().filter(|f| f.is_definition()).map(|f| f.name).collect();
        assert_eq!(definitions, ["define", "define-syntax", "define-record-type"]);
    }
}
