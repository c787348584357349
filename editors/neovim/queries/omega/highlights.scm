; Highlights for OmegaLLM, with Neovim's capture names.
; General patterns come first: in Neovim a later pattern wins over an earlier one.

(symbol) @variable

(list
  .
  (symbol) @function.call)

(number) @number

((number) @number.float
  (#match? @number.float "[.eE]|inf|nan"))

(boolean) @boolean

(character) @character

(string) @string

(escape_sequence) @string.escape

[
  (comment)
  (block_comment)
] @comment

; A commented-out datum is a comment however its contents look.
((datum_comment) @comment
  (#set! priority 105))

(shebang) @keyword.directive

((symbol) @constant.builtin
  (#eq? @constant.builtin "null"))

[
  "("
  ")"
  "#("
] @punctuation.bracket

(dot) @punctuation.delimiter

[
  "'"
  "`"
  ","
  ",@"
] @punctuation.special

; Quoted symbols and effect op names are literal symbols, not variables.
(quote
  (symbol) @string.special.symbol)

(list
  .
  (symbol) @_form
  (#any-of? @_form "effect" "on")
  .
  (symbol) @string.special.symbol)

; Reserved and unknown syntax: the reader rejects these.
[
  (bracket)
  (unknown_hash)
] @error

; Special forms, grouped as in the table of forms (interp/src/forms.rs; a tidy test keeps
; these lists equal to it).
(list
  .
  (symbol) @keyword
  (#any-of? @keyword
    "quote" "quasiquote" "unquote" "unquote-splicing" "set!" "begin" "let" "let*" "letrec"
    "letrec*" "delay" "delay-force" "cons-stream" "effect" "handle" "on" "return" "amb"
    "parallel" "let-syntax" "letrec-syntax" "syntax-rules"))

(list
  .
  (symbol) @keyword.function
  (#any-of? @keyword.function
    "define" "lambda" "define-syntax" "define-record-type"))

(list
  .
  (symbol) @keyword.conditional
  (#any-of? @keyword.conditional "if" "cond" "case" "when" "unless" "match"))

(list
  .
  (symbol) @keyword.operator
  (#any-of? @keyword.operator "and" "or"))

(list
  .
  (symbol) @keyword.repeat
  (#eq? @keyword.repeat "do"))

(list
  .
  (symbol) @keyword.exception
  (#eq? @keyword.exception "guard"))

((symbol) @keyword
  (#any-of? @keyword "else" "=>"))

; Names being defined.
(list
  .
  (symbol) @_define
  (#eq? @_define "define")
  .
  (symbol) @variable)

(list
  .
  (symbol) @_define
  (#eq? @_define "define")
  .
  (list
    .
    (symbol) @function))

(list
  .
  (symbol) @_define
  (#eq? @_define "define")
  .
  (list
    .
    (symbol)
    (symbol) @variable.parameter))

(list
  .
  (symbol) @_lambda
  (#eq? @_lambda "lambda")
  .
  [
    (symbol) @variable.parameter
    (list
      (symbol) @variable.parameter)
  ])

(list
  .
  (symbol) @_let
  (#eq? @_let "let")
  .
  (symbol) @function)

(list
  .
  (symbol) @_define
  (#eq? @_define "define-syntax")
  .
  (symbol) @function.macro)
