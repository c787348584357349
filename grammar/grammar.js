/**
 * Tree-sitter grammar for OmegaLLM, a small Scheme-like Lisp.
 *
 * The grammar is deliberately permissive: things the language forbids but a user may
 * well type (`[ ]`, `#foo`, a misplaced `.`, `1/2`) still parse into dedicated nodes, so
 * the reader can report them with a precise message and the rest of the file keeps a
 * useful tree. Checking those rules is the reader's job, not the grammar's.
 */

// Characters that end a symbol or number: whitespace and the delimiters of the
// lexical syntax, plus the reserved brackets.
const DELIMITERS = ' \\t\\n\\r\\f()\\[\\]{}";\'`,';
const CONSTITUENT = `[^${DELIMITERS}]`;

module.exports = grammar({
  name: 'omega',

  extras: $ => [/[ \t\n\r\f]/, $.comment, $.block_comment],

  externals: $ => [
    // `#| … |#` nests, which a regular expression cannot count.
    $.block_comment,
    // The text of a string between escapes. The scanner lexes it so that it knows it
    // is inside a string, where `#|` does not start a comment.
    $._string_text,
    // Never used by a rule: when it is valid, the parser is recovering from an error.
    $._error_sentinel,
  ],

  rules: {
    source_file: $ => seq(optional($.shebang), repeat($._item)),

    // Anything that may stand between the parentheses of a list.
    _item: $ => choice($._datum, $.dot, $.datum_comment),

    _datum: $ => choice(
      $.number,
      $.boolean,
      $.character,
      $.string,
      $.symbol,
      $.list,
      $.vector,
      $.quote,
      $.quasiquote,
      $.unquote,
      $.unquote_splicing,
      $.unknown_hash,
      $.bracket,
    ),

    shebang: _ => token(prec(1, /#![^\n]*/)),

    comment: _ => token(seq(';', /[^\n]*/)),

    datum_comment: $ => seq('#;', repeat($.datum_comment), $._datum),

    // Listed before `symbol`: a run such as `123` or `1e3` matches both, and the
    // earlier token wins a tie. Longer runs (`1+`, `1/2`, `1.2.3`) stay symbols.
    number: _ => token(choice(
      /[+-]?[0-9]+/,
      /[+-]?([0-9]+\.[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?/,
      /[+-]?[0-9]+[eE][+-]?[0-9]+/,
      '+inf.0',
      '-inf.0',
      '+nan.0',
    )),

    boolean: _ => choice('#t', '#f', '#true', '#false'),

    // `#\a`, `#\space`, `#\x41`, `#\(`; the reader checks the name. A whitespace
    // character (`#\ `) stands alone, so the token never runs on past a line break.
    character: _ => token(seq('#\\', choice(
      /[ \t\n\r\f]/,
      seq(/[^ \t\n\r\f]/, new RegExp(`${CONSTITUENT}*`)),
    ))),

    string: $ => seq(
      '"',
      repeat(choice($._string_text, $.escape_sequence)),
      '"',
    ),

    // Every backslash pair is an escape here; the reader rejects unknown ones.
    escape_sequence: _ => token.immediate(seq('\\', choice(
      /x[0-9a-fA-F]+;/,
      /u[0-9a-fA-F][0-9a-fA-F][0-9a-fA-F][0-9a-fA-F]/,
      /[ \t]*(\r\n|\n|\r)[ \t]*/,
      /(.|\n)/,
    ))),

    symbol: _ => token(seq(
      new RegExp(`[^${DELIMITERS}#]`),
      new RegExp(`${CONSTITUENT}*`),
    )),

    dot: _ => '.',

    list: $ => seq('(', repeat($._item), ')'),

    vector: $ => seq('#(', repeat($._item), ')'),

    quote: $ => seq('\'', repeat($.datum_comment), $._datum),
    quasiquote: $ => seq('`', repeat($.datum_comment), $._datum),
    unquote: $ => seq(',', repeat($.datum_comment), $._datum),
    unquote_splicing: $ => seq(',@', repeat($.datum_comment), $._datum),

    // `#foo`, `#!fold-case`, or `#u8(…)` with its contents, so the contents do not
    // masquerade as a separate form.
    unknown_hash: $ => choice(
      token(seq('#', optional(seq(new RegExp(`[^${DELIMITERS}\\\\]`), new RegExp(`${CONSTITUENT}*`))))),
      seq(
        // Shown as a `#(` token, like a vector's opener, whatever the word in between.
        alias(token(seq('#', new RegExp(`[^${DELIMITERS}\\\\]`), new RegExp(`${CONSTITUENT}*`), '(')), '#('),
        repeat($._item),
        ')',
      ),
    ),

    // `[ ] { }` are reserved; each one is a node of its own.
    bracket: _ => choice('[', ']', '{', '}'),
  },
});
