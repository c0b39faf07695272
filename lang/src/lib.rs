//! kiln syntax: source text -> tokens -> AST (with spans) and back to text (formatter).
//!
//! This crate does no I/O and knows nothing of Kubernetes. Its entry points are [`parse`] and
//! [`format::format_source`]. Stage data types: [`lexer::Token`] (tokens) and [`ast::SourceFile`] (AST).
//! [`testing`] holds helpers for tests here and in other crates (span-free AST comparison, a plain
//! diagnostic rendering for snapshots, the formatter's round-trip check).
//!
//! Deep input is safe: nesting is capped at [`parser::MAX_DEPTH`] (K0008), and the recursive
//! parser and printer grow their stack on demand, so even a 256 KiB thread stack is enough.

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

/// The type names the language predefines (resolved by the checker; a generated schema module
/// must not shadow them).
pub const BUILTIN_TYPES: &[&str] = &[
    "Int",
    "Float",
    "Bool",
    "String",
    "Cpu",
    "Memory",
    "Quantity",
    "Duration",
    "Percent",
    "List",
    "Map",
    "Ref",
    "Any",
    "IntOrString",
];

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
