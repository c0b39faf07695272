//! The `kiln` binary: argument parsing, file I/O and exit codes; everything else lives in the
//! library crates.
//!
//! Exit codes ([`EXIT_CODES`], shown by `kiln --help`, docs/cli.md): 0 success, 1 the input has
//! errors (diagnostics printed) or a cluster command failed, 2 `plan --detailed-exitcode`:
//! changes pending, 3 an internal error in kiln itself (a bug: the user sees one line asking
//! for a report), 64 a bad command line (sysexits' EX_USAGE, so that no script can take a typo
//! for "changes pending").
//!
//! One flag, one meaning: `-o/--output` is the output format of every command (and with `json`,
//! diagnostics are JSON too); `build` writes files with `--out-dir`.
//!
//! `plan` and `apply` live in [`cluster`]; `kiln init` in [`init`].

mod app;
mod cluster;
mod files;
mod git_plan;
mod init;

use std::io::{IsTerminal, Write};
use std::panic::{self, AssertUnwindSafe};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use kiln_compiler::manifest::canonical;
use kiln_compiler::render::{self, HumanStyle};
use kiln_compiler::source::SourceMap;

/// See cli/Cargo.toml: compiling is allocation-bound.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
use kiln_compiler::{Compiled, Options};
use kiln_lang::Diagnostic;

const EXIT_DIAGNOSTICS: u8 = 1;
const EXIT_INTERNAL: u8 = 3;
/// A bad command line (unknown flag, missing argument): sysexits' EX_USAGE, never 2, which
/// `plan --detailed-exitcode` uses for "changes pending".
const EXIT_USAGE: u8 = 64;

/// Every exit code of every command, as `kiln --help` prints it (docs/cli.md has the same table;
/// cli/tests/cli.rs checks that they agree).
const EXIT_CODES: &str = "\
Exit codes:
  0   success (plan --detailed-exitcode: nothing would change)
  1   the input has errors (diagnostics printed), or a cluster or Git command failed
  2   plan --detailed-exitcode: changes pending
  3   internal error in kiln (a bug: please report it)
  64  usage error: an unknown flag, a missing or invalid argument";

#[derive(Parser)]
#[command(
    name = "kiln",
    version = concat!(env!("CARGO_PKG_VERSION"), " (commit ", env!("KILN_COMMIT"), ")"),
    about = "Typed, reviewable ML on Kubernetes",
    after_help = EXIT_CODES
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Type-check, evaluate and lower .kiln files (directories are searched for *.kiln): every
    /// diagnostic `kiln build` would report, without writing manifests.
    Check {
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        #[command(flatten)]
        schemas: SchemaSources,
        /// `human`: diagnostics on stderr, and on a terminal a closing summary line; `json`: the
        /// diagnostics as one JSON document on stdout (like ruff, eslint and cargo).
        #[arg(long, short, value_enum, default_value_t = DiagnosticFormat::Human)]
        output: DiagnosticFormat,
    },
    /// Print the objects a .kiln file emits, as YAML or JSON.
    Eval {
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Format of the objects (stdout); with `json`, diagnostics are JSON too (stderr).
        #[arg(long, short, value_enum, default_value_t = OutputFormat::Yaml)]
        output: OutputFormat,
    },
    /// Compile .kiln files to Kubernetes manifests (YAML or JSON), stamped with content hashes.
    Build {
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Write one file per object (`<kind>_<namespace>_<name>.yaml`) into this directory
        /// instead of printing a stream on stdout; never through a symlink.
        #[arg(long, value_name = "DIR")]
        out_dir: Option<PathBuf>,
        /// Manifest format. Manifests go to stdout, diagnostics to stderr, in both formats;
        /// with `json`, diagnostics are JSON too (for machines).
        #[arg(long, short, value_enum, default_value_t = OutputFormat::Yaml)]
        output: OutputFormat,
        #[command(flatten)]
        schemas: SchemaSources,
    },
    /// Show what `kiln apply` would change in the cluster (summary, one line per object, masked
    /// diffs), or with --git-base/--git-head what a pull request changes (no cluster needed).
    Plan {
        #[command(flatten)]
        target: cluster::Target,
        #[command(flatten)]
        git: git_plan::GitArgs,
        /// Exit 0 when nothing would change, 2 when something would, 1 on error.
        #[arg(long)]
        detailed_exitcode: bool,
    },
    /// Compile, then server-side apply the manifests, writing only what changed.
    ///
    /// Nothing is touched if compilation reports any error. The ApplySet defaults to the name
    /// of the project directory (the first path if a directory, else its parent directory),
    /// lowercased with other characters turned into `-`, or `kiln`; its parent ConfigMap is
    /// `kiln-<applyset>` in --applyset-namespace.
    ///
    /// Given a plan file (`kiln plan --git-base .. --git-head .. --cluster --out plan.json`),
    /// applies exactly that plan, and refuses it, touching nothing, when the branch moved past
    /// the planned commit or a planned object changed in the cluster since.
    Apply {
        #[command(flatten)]
        target: cluster::Target,
        #[command(flatten)]
        flags: cluster::ApplyFlags,
        /// Where fetched repositories and compiled results are kept (plan files of a remote).
        #[arg(long)]
        cache_dir: Option<PathBuf>,
        /// File holding the HTTPS token (plan files of a remote).
        #[arg(long)]
        git_token_file: Option<PathBuf>,
    },
    /// Format .kiln files in place (or only check with --check).
    Fmt {
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Do not write; exit 1 if any file is not formatted.
        #[arg(long)]
        check: bool,
    },
    /// Run the language server on stdin/stdout (editors start it; see editors/).
    Lsp,
    /// Print a shell completion script (e.g. `kiln completions bash > ~/.local/share/bash-completion/completions/kiln`).
    Completions { shell: clap_complete::Shell },
    /// Write a starter project (a Profile, a Notebook, a two-step pipeline, a training job,
    /// kiln.toml and a README of next steps) into DIR, which must not hold any of those files.
    Init {
        /// Where to write it (created if missing); its name becomes the team's name.
        #[arg(default_value = ".")]
        dir: PathBuf,
    },
    /// Follow a branch and keep the cluster equal to it: the in-cluster reconcile loop
    /// (docs/controller.md).
    Controller(kiln_controller::Args),
    /// Simulates a bug in kiln, to test how internal errors reach the user.
    #[command(hide = true)]
    DebugInternalError { paths: Vec<PathBuf> },
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum DiagnosticFormat {
    Human,
    Json,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum OutputFormat {
    Yaml,
    Json,
}

impl OutputFormat {
    /// Diagnostics follow the output: JSON output, JSON diagnostics.
    fn diagnostics(self) -> DiagnosticFormat {
        match self {
            OutputFormat::Yaml => DiagnosticFormat::Human,
            OutputFormat::Json => DiagnosticFormat::Json,
        }
    }
}

fn main() -> ExitCode {
    // Bugs must not print a backtrace at users: the hook stays silent and `guard` reports them.
    panic::set_hook(Box::new(|_| {}));
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            // `--help` and `--version` are answers, not errors.
            return if e.use_stderr() {
                ExitCode::from(EXIT_USAGE)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    match cli.command {
        Command::Check {
            paths,
            schemas,
            output,
        } => guard(&paths, || check(&paths, &schemas, output)),
        Command::Eval { paths, output } => guard(&paths, || eval(&paths, output, output.diagnostics())),
        Command::Build {
            paths,
            out_dir,
            output,
            schemas,
        } => guard(&paths, || {
            build(&paths, out_dir.as_deref(), output, &schemas, output.diagnostics())
        }),
        Command::Plan {
            target,
            git,
            detailed_exitcode,
        } if git.active() => guard(&target.paths, || git_plan::plan(&git, &target, detailed_exitcode)),
        Command::Plan {
            target,
            detailed_exitcode,
            ..
        } => guard(&target.paths, || cluster::plan(&target, detailed_exitcode)),
        Command::Apply {
            target,
            cache_dir,
            git_token_file,
            ..
        } if git_plan::is_plan_file(&target.paths) => guard(&target.paths, || {
            git_plan::apply(&target, &git_plan::GitArgs::for_apply(cache_dir, git_token_file))
        }),
        Command::Apply { target, flags, .. } => guard(&target.paths, || cluster::apply(&target, &flags)),
        Command::Fmt { paths, check } => guard(&paths, || fmt(&paths, check)),
        Command::Lsp => guard(&[], || match kiln_lsp::run_stdio() {
            Ok(()) => ExitCode::SUCCESS,
            Err(message) => {
                eprintln!("error: kiln lsp: {message}");
                ExitCode::from(EXIT_DIAGNOSTICS)
            }
        }),
        Command::Completions { shell } => {
            let mut command = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(shell, &mut command, "kiln", &mut std::io::stdout());
            ExitCode::SUCCESS
        }
        Command::Init { dir } => guard(std::slice::from_ref(&dir), || init::init(&dir)),
        Command::Controller(args) => guard(&[], || kiln_controller::main(args)),
        Command::DebugInternalError { paths } => guard(&paths, || panic!("simulated internal error")),
    }
}

/// Stack of the thread every command runs on. The compiler's stages recurse over trees whose
/// depth is capped (parser nesting, check and evaluation depth, output value depth: see
/// ARCHITECTURE.md, "Limits"); this stack holds the deepest of them in every build profile, so
/// no input overflows it, on this thread or the compiler's own.
const COMMAND_STACK_BYTES: usize = 64 * 1024 * 1024;

/// Runs a command on a thread with a known, large stack (the main thread's size is whatever
/// the platform gives); if kiln itself panics, prints one line naming the input and asking for
/// a report.
fn guard(paths: &[PathBuf], run: impl FnOnce() -> ExitCode + Send) -> ExitCode {
    let outcome = std::thread::scope(|scope| {
        std::thread::Builder::new()
            .name("kiln".into())
            .stack_size(COMMAND_STACK_BYTES)
            .spawn_scoped(scope, move || panic::catch_unwind(AssertUnwindSafe(run)))
            .map(|handle| handle.join().unwrap_or_else(Err))
    });
    let outcome = match outcome {
        Ok(outcome) => outcome,
        Err(e) => {
            eprintln!("error: kiln could not start its worker thread: {e}");
            return ExitCode::from(EXIT_INTERNAL);
        }
    };
    match outcome {
        Ok(code) => code,
        Err(payload) => {
            let what = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown cause".to_string());
            let inputs: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
            eprintln!(
                "internal error: kiln failed on {} ({what}); please report it at https://github.com/kiln-dev/kiln/issues with that file",
                inputs.join(", ")
            );
            ExitCode::from(EXIT_INTERNAL)
        }
    }
}

/// Compiles the sources the paths name, read through the confined loader (`files.rs`). Files
/// are named by their path in the project; diagnostics show them relative to the working
/// directory. Refused paths are diagnostics of the compilation (so nothing is emitted).
fn compile(paths: &[PathBuf]) -> Result<Compiled, ExitCode> {
    let inputs = files::inputs(paths).map_err(|message| {
        eprintln!("error: {message}");
        ExitCode::from(EXIT_DIAGNOSTICS)
    })?;
    let mut compiled = kiln_compiler::compile(&inputs.project.loader(), &inputs.roots(), &Options::default());
    inputs.report_into(&mut compiled.sources, &mut compiled.diagnostics);
    if compiled.has_errors() {
        compiled.objects.clear();
    }
    compiled.sources.show_as(|path| inputs.project.show(path));
    Ok(compiled)
}

fn print_diagnostics(diagnostics: &[Diagnostic], compiled: &Compiled, format: DiagnosticFormat) {
    print_diagnostics_in(diagnostics, &compiled.sources, format);
}

fn print_diagnostics_in(diagnostics: &[Diagnostic], sources: &SourceMap, format: DiagnosticFormat) {
    report_diagnostics(diagnostics, sources, Report::on_stderr(format), None);
}

/// How and where a command prints its diagnostics.
#[derive(Clone, Copy)]
struct Report {
    format: DiagnosticFormat,
    /// The diagnostics are the command's own output (`check -o json`): stdout, not stderr.
    json_on_stdout: bool,
    /// End with the closing line of `check` / `build` when stderr is a terminal.
    closing: Option<&'static str>,
}

impl Report {
    fn on_stderr(format: DiagnosticFormat) -> Report {
        Report {
            format,
            json_on_stdout: false,
            closing: None,
        }
    }
}

/// What the closing line counts: `checked 3 files: 5 objects, 0 errors, 1 warning`.
struct Tally {
    files: usize,
    objects: usize,
}

fn plural(n: usize, word: &str) -> String {
    format!("{n} {word}{}", if n == 1 { "" } else { "s" })
}

/// Prints the diagnostics. Human text goes to stderr and ends with the count of errors and
/// warnings; on a terminal, with a closing line (`report.closing`), that line names the files
/// and objects too. A pipe gets nothing beyond the diagnostics, so scripts see no chatter.
fn report_diagnostics(diagnostics: &[Diagnostic], sources: &SourceMap, report: Report, tally: Option<Tally>) {
    match report.format {
        DiagnosticFormat::Json => {
            let json = render::render_json(diagnostics, sources);
            if report.json_on_stdout {
                let _ = writeln!(std::io::stdout().lock(), "{json}");
            } else {
                let _ = writeln!(std::io::stderr().lock(), "{json}");
            }
        }
        DiagnosticFormat::Human => {
            let mut stderr = std::io::stderr().lock();
            let terminal = std::io::stderr().is_terminal();
            if !diagnostics.is_empty() {
                let color = terminal && std::env::var_os("NO_COLOR").is_none();
                let width = terminal_width();
                let text = render::render_human(diagnostics, sources, HumanStyle { width, color });
                let _ = write!(stderr, "{text}");
            }
            match (report.closing, tally) {
                (Some(verb), Some(tally)) if terminal => {
                    let errors = diagnostics.iter().filter(|d| d.is_error()).count();
                    let _ = writeln!(
                        stderr,
                        "{verb} {}: {}, {}, {}",
                        plural(tally.files, "file"),
                        plural(tally.objects, "object"),
                        plural(errors, "error"),
                        plural(diagnostics.len() - errors, "warning"),
                    );
                }
                _ if !diagnostics.is_empty() => {
                    let _ = writeln!(stderr, "{}", render::summary(diagnostics));
                }
                _ => {}
            }
        }
    }
}

fn terminal_width() -> usize {
    std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(100)
}

/// Everything `build` checks (lowering and, with `--crds`, the upstream schemas), nothing written.
fn check(paths: &[PathBuf], schema_sources: &SchemaSources, format: DiagnosticFormat) -> ExitCode {
    let report = Report {
        format,
        json_on_stdout: true,
        closing: Some("checked"),
    };
    match build_and_report(paths, schema_sources, report, BuildMode::Check) {
        Ok(_) => ExitCode::SUCCESS,
        Err(code) => code,
    }
}

fn eval(paths: &[PathBuf], output: OutputFormat, format: DiagnosticFormat) -> ExitCode {
    let compiled = match compile(paths) {
        Ok(c) => c,
        Err(code) => return code,
    };
    print_diagnostics(&compiled.diagnostics, &compiled, format);
    if compiled.has_errors() {
        return ExitCode::from(EXIT_DIAGNOSTICS);
    }
    let objects: Vec<serde_json::Value> = compiled
        .objects
        .iter()
        .map(|o| {
            serde_json::json!({
                "type": o.ty,
                "name": o.name,
                "value": o.value.to_json(),
            })
        })
        .collect();
    let doc = serde_json::Value::Array(objects);
    let text = match output {
        OutputFormat::Json => serde_json::to_string_pretty(&doc)
            .map(|s| s + "\n")
            .map_err(|e| e.to_string()),
        OutputFormat::Yaml => serde_norway::to_string(&doc).map_err(|e| e.to_string()),
    };
    match text {
        Ok(text) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: cannot serialise the result: {e}");
            ExitCode::from(EXIT_DIAGNOSTICS)
        }
    }
}

/// The upstream schemas `check` and `build` validate manifests against.
#[derive(clap::Args)]
struct SchemaSources {
    /// Validate every manifest against the CRDs (*.yaml, searched recursively) in this directory.
    #[arg(long)]
    crds: Option<PathBuf>,
    /// Also validate against an OpenAPI document such as Katib's swagger.json.
    #[arg(long, requires = "crds")]
    katib_openapi: Option<PathBuf>,
}

/// Compiles and builds: the manifests, or (diagnostics printed) the exit code. Warnings are
/// printed either way; any error means no manifests, so nothing downstream can act on a
/// partial result.
fn build_manifests(
    paths: &[PathBuf],
    schema_sources: &SchemaSources,
    format: DiagnosticFormat,
    mode: BuildMode,
) -> Result<Vec<kiln_compiler::manifest::Manifest>, ExitCode> {
    build_and_report(paths, schema_sources, Report::on_stderr(format), mode)
}

/// [`build_manifests`], printing the diagnostics as `report` says.
fn build_and_report(
    paths: &[PathBuf],
    schema_sources: &SchemaSources,
    report: Report,
    mode: BuildMode,
) -> Result<Vec<kiln_compiler::manifest::Manifest>, ExitCode> {
    let schemas = match &schema_sources.crds {
        Some(dir) => match files::load_schemas(dir, schema_sources.katib_openapi.as_deref()) {
            Ok(set) => Some(set),
            Err(message) => {
                eprintln!("error: {message}");
                return Err(ExitCode::from(EXIT_DIAGNOSTICS));
            }
        },
        None => None,
    };
    let compiled = compile(paths)?;
    let (built, more) = match mode {
        BuildMode::Build => {
            let built = kiln_compiler::build::build(&compiled, schemas.as_ref());
            let more = built.diagnostics.clone();
            (built.manifests, more)
        }
        BuildMode::Check => (
            Vec::new(),
            kiln_compiler::build::check(&compiled, schemas.as_ref()),
        ),
    };
    let mut diagnostics = compiled.diagnostics.clone();
    diagnostics.extend(more);
    let errors = diagnostics.iter().any(Diagnostic::is_error);
    let tally = Tally {
        files: compiled
            .sources
            .iter()
            .filter(|(id, _)| !compiled.sources.path(*id).starts_with("<stdlib>/"))
            .count(),
        objects: match mode {
            _ if errors => 0,
            BuildMode::Build => built.len(),
            BuildMode::Check => compiled.objects.len(),
        },
    };
    report_diagnostics(&diagnostics, &compiled.sources, report, Some(tally));
    if diagnostics.iter().any(Diagnostic::is_error) {
        return Err(ExitCode::from(EXIT_DIAGNOSTICS));
    }
    Ok(built)
}

/// `kiln check` reports what `kiln build` would, except that objects of project-defined types
/// are fine there (they are language-level values; only `build` needs a Kubernetes form).
#[derive(Clone, Copy)]
enum BuildMode {
    Build,
    Check,
}

fn build(
    paths: &[PathBuf],
    out_dir: Option<&std::path::Path>,
    output: OutputFormat,
    schema_sources: &SchemaSources,
    format: DiagnosticFormat,
) -> ExitCode {
    let report = Report {
        format,
        json_on_stdout: false,
        closing: Some("built"),
    };
    let manifests = match build_and_report(paths, schema_sources, report, BuildMode::Build) {
        Ok(m) => m,
        Err(code) => return code,
    };
    let render = |manifests: &[kiln_compiler::manifest::Manifest]| match output {
        OutputFormat::Yaml => canonical::to_yaml(manifests),
        OutputFormat::Json => canonical::to_json(manifests),
    };
    match out_dir {
        None => print!("{}", render(&manifests)),
        Some(dir) => {
            if let Err((sources, diagnostics)) =
                files::write_manifests(dir, &manifests, output == OutputFormat::Json, &render)
            {
                print_diagnostics_in(&diagnostics, &sources, format);
                return ExitCode::from(EXIT_DIAGNOSTICS);
            }
        }
    }
    ExitCode::SUCCESS
}

/// Formats sources in place. Files are found and read under the confined rules (a symlinked
/// `.kiln` leading out of the project is refused) and rewritten at their real path without
/// following a symlink (`files::rewrite_source`).
fn fmt(paths: &[PathBuf], check_only: bool) -> ExitCode {
    let inputs = match files::inputs(paths) {
        Ok(i) => i,
        Err(message) => {
            eprintln!("error: {message}");
            return ExitCode::from(EXIT_DIAGNOSTICS);
        }
    };
    let mut sources = SourceMap::default();
    let mut problems = Vec::new();
    inputs.report_into(&mut sources, &mut problems);
    let mut failed = !problems.is_empty();
    let mut unformatted = Vec::new();
    for found in &inputs.files {
        let shown = inputs.project.show(found.path.as_str());
        let text = match kiln_compiler::source::confined::read_source(
            &inputs.project.tree,
            &found.path,
            files::max_file_bytes(),
        ) {
            Ok(t) => t,
            Err(refusal) => {
                problems.push(files::refusal(&mut sources, &shown, "given here", &refusal));
                failed = true;
                continue;
            }
        };
        let file = sources.add(shown.clone(), text.clone());
        match kiln_lang::format::format_source(file, &text) {
            Ok(formatted) if formatted == text => {}
            Ok(formatted) => {
                if check_only {
                    unformatted.push(shown);
                } else if let Err(e) = files::rewrite_source(&inputs.project.real_file(found), &formatted) {
                    eprintln!("error: cannot write {shown}: {e}");
                    failed = true;
                }
            }
            Err(diagnostics) => {
                problems.extend(diagnostics);
                failed = true;
            }
        }
    }
    if !problems.is_empty() {
        eprint!("{}", render::render_plain(&problems, &sources, terminal_width()));
    }
    for path in &unformatted {
        println!("would reformat {path}");
    }
    if failed || !unformatted.is_empty() {
        ExitCode::from(EXIT_DIAGNOSTICS)
    } else {
        ExitCode::SUCCESS
    }
}
