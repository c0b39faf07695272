// External scanner for kiln's one newline rule that changes a tree: inside a `match` block, a
// `-` that starts a line begins a new arm (a negative literal pattern), not a subtraction that
// continues the previous arm's value (lang/src/parser/expr.rs: `binary`).

#include "tree_sitter/parser.h"

enum TokenType { LINE_START_MINUS, ERROR_SENTINEL };

void *tree_sitter_kiln_external_scanner_create(void) { return NULL; }
void tree_sitter_kiln_external_scanner_destroy(void *payload) { (void)payload; }
unsigned tree_sitter_kiln_external_scanner_serialize(void *payload, char *buffer) {
  (void)payload;
  (void)buffer;
  return 0;
}
void tree_sitter_kiln_external_scanner_deserialize(void *payload, const char *buffer, unsigned length) {
  (void)payload;
  (void)buffer;
  (void)length;
}

bool tree_sitter_kiln_external_scanner_scan(void *payload, TSLexer *lexer, const bool *valid_symbols) {
  (void)payload;
  // During error recovery every symbol is valid: let the internal lexer decide.
  if (valid_symbols[ERROR_SENTINEL] || !valid_symbols[LINE_START_MINUS]) return false;
  bool newline = false;
  while (lexer->lookahead == ' ' || lexer->lookahead == '\t' || lexer->lookahead == '\r' ||
         lexer->lookahead == '\n') {
    if (lexer->lookahead == '\n') newline = true;
    lexer->advance(lexer, true);
  }
  if (!newline || lexer->lookahead != '-') return false;
  lexer->advance(lexer, false);
  lexer->result_symbol = LINE_START_MINUS;
  return true;
}
