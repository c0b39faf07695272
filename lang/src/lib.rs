//! kiln syntax: source text -> tokens -> AST (with spans) and back to text (formatter).
//!
//! This crate does no I/O and knows nothing of Kubernetes. Its entry points are [`parse`] and
//! [`format::format_source`]. Stage data types: [`lexer::Token`] (tokens) and [`ast::SourceFile`] (AST).

pub mod ast;
pub mod codes;
pub mod diagnostic;
pub mod format;
pub mod lexer;
pub mod parser;
pub mod span;
pub mod testing;

pub use diagnostic::{Code, Diagnostic, Label, Severity};
pub use span::{FileId, Span};

/// The result of parsing one file: always a tree (possibly with error nodes) plus diagnostics.
#[derive(Debug, Clone)]
pub struct Parsed {
    pub file: ast::SourceFile,
    pub diagnostics: Vec<Diagnostic>,
}

/// Parses one file. Never panics; a file with syntax errors yields a partial tree and one
/// diagnostic per error (up to a cap).
pub fn parse(file: FileId, source: &str) -> Parsed {
    parser::parse_file(file, source)
}
