//! kiln compiler: resolve, type-check and evaluate `.kiln` sources to plain values.
//!
//! Pure core: all input arrives through [`source::SourceLoader`]; errors are data
//! ([`kiln_lang::Diagnostic`]); rendering is in [`render`]. Stages, each with its own data type:
//! AST (`kiln_lang::ast`) -> resolved and typed IR -> [`value::Value`] trees -> (later) manifests.

pub mod build;
pub mod check;
pub mod codes;
pub mod eval;
pub mod ir;
pub mod lower;
pub mod manifest;
pub mod render;
pub mod resolve;
pub mod source;
pub mod types;
pub mod units;
pub mod value;

#[cfg(test)]
mod tests;

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
    /// Bytes of source across all loaded files, and of any one file (checked before it is
    /// read, K0114). Parsing and checking cost grows with the source, so this is what bounds
    /// their time and memory on an untrusted spec.
    pub max_source_bytes: u64,
    /// Bytes the evaluator allocates on behalf of the spec, counted before each allocation and
    /// never given back: string bytes (concatenation, interpolation, `join`, `str`), list
    /// elements, record fields and map entries. A bound on all allocation bounds peak memory.
    pub max_alloc_bytes: u64,
    /// Bytes of output values: each emitted value counts its size and its text, a key its text,
    /// and a value shared by N places counts N times (it is written N times).
    pub max_output_bytes: u64,
    /// Nesting of evaluation: how deep the evaluator may recurse (through lets, calls, field
    /// defaults and nested expressions) before K0606.
    pub max_eval_depth: u32,
}

impl Default for Budget {
    fn default() -> Self {
        Budget {
            max_steps: 50_000_000,
            max_output_values: 10_000_000,
            // The Git source's per-blob limit too (gitops/src/tree.rs). The 10,600-manifest
            // generated repository is 1.25 MB; a spec near the limit parses and checks within
            // the hostile suite's bounds (cli/tests/hostile.rs).
            max_source_bytes: 4 * 1024 * 1024,
            max_alloc_bytes: 128 * 1024 * 1024,
            max_output_bytes: 64 * 1024 * 1024,
            max_eval_depth: 10_000,
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
    /// The type is declared in the standard library, so it lowers to manifests. Objects of user
    /// types exist for `kiln eval` only (a user type named `Notebook` is not a Notebook).
    pub stdlib: bool,
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
///
/// Stages: load and parse ([`resolve`]), check everything ([`check`]), and only when no error
/// was reported, evaluate ([`eval`]). `objects` are the emits of the root files, files in the
/// order given, each in source order.
pub fn compile(loader: &dyn SourceLoader, roots: &[String], options: &Options) -> Compiled {
    compile_with_stdlib(loader, roots, options, resolve::STDLIB)
}

/// [`compile`] with another standard library (tests use a small fixed one).
pub fn compile_with_stdlib(
    loader: &dyn SourceLoader,
    roots: &[String],
    options: &Options,
    stdlib: &[(&str, &str)],
) -> Compiled {
    compile_inner(loader, roots, options, stdlib, false).0
}

/// [`compile`], also returning the [`check::facts::Facts`] an editor needs (`kiln lsp`): what each
/// name resolves to, the types expected where, and each module's members.
pub fn compile_with_facts(
    loader: &dyn SourceLoader,
    roots: &[String],
    options: &Options,
) -> (Compiled, check::facts::Facts) {
    let (compiled, facts) = compile_inner(loader, roots, options, resolve::STDLIB, true);
    (compiled, facts.unwrap_or_default())
}

fn compile_inner(
    loader: &dyn SourceLoader,
    roots: &[String],
    options: &Options,
    stdlib: &[(&str, &str)],
    record_facts: bool,
) -> (Compiled, Option<check::facts::Facts>) {
    let mut sources = SourceMap::default();
    let mut diagnostics = Vec::new();
    let modules = resolve::load(
        loader,
        stdlib,
        roots,
        options.budget.max_source_bytes,
        &mut sources,
        &mut diagnostics,
    );
    // Checking and evaluation recurse over the tree (nesting is capped by the parser at 256,
    // and chains of `let`s are followed on demand), so they run on a thread with a large stack.
    // That thread owns the AST and the typed program and sends the results back before it drops
    // them: freeing a large program costs as much as a phase, and nobody needs to wait for it.
    let budget = options.budget;
    let prior_errors = diagnostics.iter().any(Diagnostic::is_error);
    let (sender, receiver) = std::sync::mpsc::channel();
    let spawned = std::thread::Builder::new()
        .stack_size(STACK_BYTES)
        .spawn(move || {
            let (program, more, objects, facts) =
                check_and_eval(&modules, budget, prior_errors, record_facts);
            let _ = sender.send((more, objects, facts));
            drop((program, modules));
        });
    let (more, objects, facts) = match spawned.ok().and_then(|_| receiver.recv().ok()) {
        Some(results) => results,
        None => (
            vec![Diagnostic::error(
                codes::INTERNAL,
                "kiln could not run the type checker (thread failed)",
                Span::default(),
                "",
            )],
            Vec::new(),
            None,
        ),
    };
    diagnostics.extend(more);
    let compiled = Compiled {
        sources,
        diagnostics,
        objects,
    };
    (compiled, facts)
}

/// Stack of the checking and evaluation thread.
const STACK_BYTES: usize = 256 * 1024 * 1024;

/// Checks all modules and, when no error was found (nor before: `prior_errors`), evaluates them.
fn check_and_eval(
    modules: &[resolve::Module],
    budget: Budget,
    prior_errors: bool,
    record_facts: bool,
) -> (
    ir::Program,
    Vec<Diagnostic>,
    Vec<Emitted>,
    Option<check::facts::Facts>,
) {
    let (program, mut diagnostics, facts) = if record_facts {
        let (program, diagnostics, facts) = check::check_recording(modules);
        (program, diagnostics, Some(facts))
    } else {
        let (program, diagnostics) = check::check(modules);
        (program, diagnostics, None)
    };
    let mut objects = Vec::new();
    if !prior_errors && !diagnostics.iter().any(Diagnostic::is_error) {
        let mut evaluator = eval::Evaluator::new(&program, budget);
        match evaluator.run() {
            Ok(emitted) => objects = emitted,
            Err(d) => diagnostics.push(*d),
        }
    }
    (program, diagnostics, objects, facts)
}
