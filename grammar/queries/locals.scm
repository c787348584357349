; Scopes, definitions and references, with Neovim's capture names.

(source_file) @local.scope

; `(define (f x) …)` scopes its parameters; `(define x E)` adds to the enclosing scope.
((list
  .
  (symbol) @_define
  .
  (list)) @local.scope
  (#eq? @_define "define"))

((list
  .
  (symbol) @_form) @local.scope
  (#any-of? @_form
    "lambda" "let" "let*" "letrec" "letrec*" "do" "guard" "on" "return" "match" "let-syntax"
    "letrec-syntax"))

(list
  .
  (symbol) @_define
  (#any-of? @_define "define" "define-syntax")
  .
  (symbol) @local.definition.var)

(list
  .
  (symbol) @_define
  (#eq? @_define "define")
  .
  (list
    .
    (symbol) @local.definition.function)
  (#set! definition.function.scope "parent"))

(list
  .
  (symbol) @_define
  (#eq? @_define "define")
  .
  (list
    .
    (symbol)
    (symbol) @local.definition.parameter))

(list
  .
  (symbol) @_lambda
  (#eq? @_lambda "lambda")
  .
  [
    (symbol) @local.definition.parameter
    (list
      (symbol) @local.definition.parameter)
  ])

; Bindings of the let family and `do`, including a named let's name.
(list
  .
  (symbol) @_let
  (#any-of? @_let "let" "let*" "letrec" "letrec*" "do" "let-syntax" "letrec-syntax")
  .
  (symbol)? @local.definition.function
  .
  (list
    (list
      .
      (symbol) @local.definition.var)))

; Handler clauses bind their parameters and the continuation.
(list
  .
  (symbol) @_clause
  (#eq? @_clause "on")
  .
  (symbol)
  .
  [
    (symbol) @local.definition.parameter
    (list
      (symbol) @local.definition.parameter)
  ])

(list
  .
  (symbol) @_clause
  (#eq? @_clause "return")
  .
  (list
    (symbol) @local.definition.parameter))

(symbol) @local.reference
