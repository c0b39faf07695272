//! Formatter: AST + comments -> canonical text (to be written).
