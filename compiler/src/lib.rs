//! kiln compiler: resolve, type-check and evaluate `.kiln` sources to plain values.
//!
//! Pure core: all input arrives through [`source::SourceLoader`]; errors are data
//! ([`kiln_lang::Diagnostic`]); rendering is in [`render`]. Stages, each with its own data type:
//! AST (`kiln_lang::ast`) -> resolved and typed IR -> [`value::Value`] trees -> (later) manifests.

pub mod codes;
pub mod render;
pub mod source;
pub mod value;

use kiln_lang::{Diagnostic, Span};
use source::{SourceLoader, SourceMap};
use value::Value;

/// Limits that keep a hostile spec (for example from a pull request) from hanging or exhausting
/// the machine. Exceeding one is a diagnostic, not a crash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// Evaluation steps (expression nodes evaluated).
    pub max_steps: u64,
    /// Values in the output (every scalar, list element and record field counts one).
    pub max_output_values: u64,
    /// Bytes of source across all loaded files.
    pub max_source_bytes: u64,
}

impl Default for Budget {
    fn default() -> Self {
        Budget {
            max_steps: 50_000_000,
            max_output_values: 10_000_000,
            max_source_bytes: 64 * 1024 * 1024,
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct Options {
    pub budget: Budget,
}

/// One emitted top-level object (`kf.Notebook "churn-dev" { ... }`).
#[derive(Debug, Clone, PartialEq)]
pub struct Emitted {
    /// Fully qualified type name, e.g. `kubeflow.Notebook` (stdlib) or `main.Service` (user file).
    pub ty: String,
    pub name: String,
    pub value: Value,
    /// The declaration that produced it (for tracing outputs back to source).
    pub span: Span,
}

/// Everything one compilation produced. `objects` is empty when any error was reported.
#[derive(Debug, Clone, Default)]
pub struct Compiled {
    pub sources: SourceMap,
    pub diagnostics: Vec<Diagnostic>,
    pub objects: Vec<Emitted>,
}

impl Compiled {
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }
}

/// Compiles the given root files (their imports are loaded through `loader`).
pub fn compile(loader: &dyn SourceLoader, roots: &[String], options: &Options) -> Compiled {
    let _ = (loader, roots, options);
    Compiled::default()
}
