; Indentation with Neovim's capture names, following the rules of `omega fmt`: the
; bodies of special forms are indented one step; other lists line up one column past
; their opening parenthesis. The list of body forms is the table of forms' (a tidy test
; keeps it equal to interp/src/forms.rs).

((list
  .
  (symbol) @_head) @indent.begin
  (#any-of? @_head
    "define" "define-syntax" "define-record-type" "lambda" "let" "let*" "letrec" "letrec*"
    "let-syntax" "letrec-syntax" "syntax-rules" "when" "unless" "handle" "on" "return" "parallel"
    "begin" "do" "case" "match" "guard"))

((list
  .
  (symbol) @_head) @indent.align
  (#not-any-of? @_head
    "define" "define-syntax" "define-record-type" "lambda" "let" "let*" "letrec" "letrec*"
    "let-syntax" "letrec-syntax" "syntax-rules" "when" "unless" "handle" "on" "return" "parallel"
    "begin" "do" "case" "match" "guard")
  (#set! indent.open_delimiter "(")
  (#set! indent.close_delimiter ")"))

((list
  .
  "("
  .
  [
    (list)
    (vector)
    (quote)
    (quasiquote)
    (unquote)
    (unquote_splicing)
    (number)
    (string)
    (boolean)
    (character)
  ]) @indent.align
  (#set! indent.open_delimiter "(")
  (#set! indent.close_delimiter ")"))

((vector) @indent.align
  (#set! indent.open_delimiter "#(")
  (#set! indent.close_delimiter ")"))

")" @indent.end

[
  (string)
  (block_comment)
] @indent.auto
