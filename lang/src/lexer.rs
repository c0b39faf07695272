//! Lexer: source text -> tokens (to be written).
