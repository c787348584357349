// External scanner for OmegaLLM: nested block comments `#| … |#`, and the text of
// strings.
//
// Block comments are extras, which tree-sitter allows in every parse state, inside a
// string too. Lexing string text here tells the scanner when it is inside a string, so
// `"#| not a comment"` stays a string.
//
// An unterminated block comment still becomes a `block_comment` running to the end of
// the input; the reader notices the missing `|#` and reports it at the opening `#|`.

#include "tree_sitter/parser.h"

enum TokenType { BLOCK_COMMENT, STRING_TEXT, ERROR_SENTINEL };

void *tree_sitter_omega_external_scanner_create(void) { return NULL; }
void tree_sitter_omega_external_scanner_destroy(void *payload) { (void)payload; }
unsigned tree_sitter_omega_external_scanner_serialize(void *payload, char *buffer) {
  (void)payload;
  (void)buffer;
  return 0;
}
void tree_sitter_omega_external_scanner_deserialize(void *payload, const char *buffer, unsigned length) {
  (void)payload;
  (void)buffer;
  (void)length;
}

static bool is_space(int32_t c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f'; }

// Characters up to the next quote or backslash.
static bool scan_string_text(TSLexer *lexer) {
  bool any = false;
  while (!lexer->eof(lexer) && lexer->lookahead != '"' && lexer->lookahead != '\\') {
    lexer->advance(lexer, false);
    any = true;
  }
  lexer->mark_end(lexer);
  lexer->result_symbol = STRING_TEXT;
  return any;
}

static bool scan_block_comment(TSLexer *lexer) {
  while (is_space(lexer->lookahead)) lexer->advance(lexer, true);
  if (lexer->lookahead != '#') return false;
  lexer->advance(lexer, false);
  if (lexer->lookahead != '|') return false;
  lexer->advance(lexer, false);

  unsigned depth = 1;
  while (depth > 0 && !lexer->eof(lexer)) {
    int32_t c = lexer->lookahead;
    lexer->advance(lexer, false);
    if (c == '|' && lexer->lookahead == '#') {
      lexer->advance(lexer, false);
      depth--;
    } else if (c == '#' && lexer->lookahead == '|') {
      lexer->advance(lexer, false);
      depth++;
    }
  }
  lexer->mark_end(lexer);
  lexer->result_symbol = BLOCK_COMMENT;
  return true;
}

bool tree_sitter_omega_external_scanner_scan(void *payload, TSLexer *lexer, const bool *valid_symbols) {
  (void)payload;
  bool recovering = valid_symbols[ERROR_SENTINEL];
  if (valid_symbols[STRING_TEXT] && !recovering) return scan_string_text(lexer);
  if (valid_symbols[BLOCK_COMMENT]) return scan_block_comment(lexer);
  return false;
}
