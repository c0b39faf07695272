//! `kiln plan` and `kiln apply`: compile and build (as `kiln build`), then hand the manifests to
//! the reconciler. A compile that reports any error stops here, before a client is even made,
//! so a broken spec can never prune anything.
//!
//! The cluster comes from `--kubeconfig`/`--context`, else `KUBECONFIG` / `~/.kube/config` /
//! in-cluster configuration (as kube's `Config::infer`). No request waits longer than
//! `--request-timeout` for the server. Every failure is one `error:` paragraph that starts with
//! the object it concerns, or with the cluster for failures of the run as a whole. The tokio
//! runtime is created here, only for these commands.
//!
//! The ApplySet (kiln's inventory of what it manages) is `--applyset NAME`, by default the name
//! of the project directory: the first path if it is a directory, else the directory holding
//! it (so `kiln apply .` and `kiln apply main.kiln` agree), lowercased with anything but
//! `[a-z0-9-]` turned into `-`; `kiln` if nothing is left. Its parent ConfigMap `kiln-<NAME>`
//! lives in `--applyset-namespace` (default `kiln-system`).
//!
//! Output follows the CLI convention: `-o/--output human|json` picks the format; the plan, the
//! result and JSON go to stdout, diagnostics and progress to stderr. A plan shows a create as
//! one line (kind, namespace, name, a short summary), its manifest only with `--show-creates`
//! (JSON always carries it). While `kiln apply` waits (for a Profile's namespace, or with
//! `--wait` for health) progress events of the engine are shown on stderr: a live view of the
//! objects and their state on a terminal ([`LiveView`], indicatif), else one line per state
//! change ([`progress_line`]).

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, ValueEnum};
use kiln_reconciler::wait::health::Health;
use kiln_reconciler::{
    ApplySetRef, Cluster, Manifest, Options, Progress, ProgressSink, ReconcileError, output,
};
use kube::config::{KubeConfigOptions, Kubeconfig, KubeconfigError};
use kube::{Client, Config};

use crate::{DiagnosticFormat, EXIT_DIAGNOSTICS, SchemaSources};

/// Exit code of `kiln plan --detailed-exitcode` when something would change.
const EXIT_CHANGES: u8 = 2;
/// How long `--wait` waits without `--timeout`.
const DEFAULT_WAIT: Duration = Duration::from_secs(300);
/// The longest wait for a connection (kube's own default), shortened by `--request-timeout`.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// Arguments shared by `kiln plan` and `kiln apply`.
#[derive(Args)]
pub struct Target {
    /// .kiln files or directories (searched for *.kiln); with a kiln.toml they select its app,
    /// which is planned or applied whole. For `kiln apply`, or a plan file written by
    /// `kiln plan --git-base .. --cluster --out` (see `git_plan`).
    pub paths: Vec<PathBuf>,
    /// The app of kiln.toml to plan or apply (default: the one the paths belong to, or the
    /// only one).
    #[arg(long)]
    pub app: Option<String>,
    /// Kubeconfig file (default: KUBECONFIG, ~/.kube/config, else in-cluster configuration).
    #[arg(long)]
    pub kubeconfig: Option<PathBuf>,
    /// Kubeconfig context (default: the app's in kiln.toml, else the current context).
    #[arg(long)]
    pub context: Option<String>,
    /// ApplySet name (default: the app's in kiln.toml, else the project directory's name, see
    /// `kiln apply --help`).
    #[arg(long)]
    pub applyset: Option<String>,
    /// Namespace of the ApplySet parent ConfigMap `kiln-<applyset>` (default: the app's in
    /// kiln.toml, else kiln-system).
    #[arg(long)]
    pub applyset_namespace: Option<String>,
    /// Validate manifests against the CRDs in this directory (not for apps with
    /// `validate = false`).
    #[arg(long)]
    pub crds: Option<PathBuf>,
    /// Also delete inventory members that are no longer in the spec.
    #[arg(long)]
    pub prune: bool,
    /// Output format: `human` (text) or `json` (for machines, on stdout; diagnostics are JSON
    /// too).
    #[arg(long, short, value_enum, default_value_t = PlanOutput::Human)]
    pub output: PlanOutput,
    /// Show each create's whole manifest (masked), not only its one-line summary.
    #[arg(long)]
    pub show_creates: bool,
    /// Give up on an API request after this long without an answer from the server (while
    /// connecting, or waiting for the response), e.g. 30s, 2m.
    #[arg(long, value_parser = kiln_compiler::units::Duration::parse_command_line, default_value = "2m")]
    pub request_timeout: Duration,
}

impl Target {
    /// Diagnostics follow the output: JSON output, JSON diagnostics.
    pub fn diagnostics(&self) -> DiagnosticFormat {
        match self.output {
            PlanOutput::Json => DiagnosticFormat::Json,
            PlanOutput::Human | PlanOutput::Markdown => DiagnosticFormat::Human,
        }
    }
}

/// Flags only `kiln apply` has.
#[derive(Args)]
pub struct ApplyFlags {
    /// Plan and print what would change, without writing.
    #[arg(long)]
    pub dry_run: bool,
    /// Wait until every applied object is healthy.
    #[arg(long)]
    pub wait: bool,
    /// How long --wait waits (e.g. 90s, 5m, 1h; default 5m).
    #[arg(long, requires = "wait", value_parser = kiln_compiler::units::Duration::parse_command_line)]
    pub timeout: Option<Duration>,
    /// Take ownership of fields other field managers own.
    #[arg(long)]
    pub force_conflicts: bool,
    /// Allow a prune above the mass-prune limits.
    #[arg(long)]
    pub allow_mass_prune: bool,
    /// How long objects in a Kubeflow Profile's namespace wait for Kubeflow's profile
    /// controller to create it (e.g. 30s, 5m).
    #[arg(long, value_parser = kiln_compiler::units::Duration::parse_command_line, default_value = "60s")]
    pub namespace_timeout: Duration,
    /// Also prune PersistentVolumeClaims and objects annotated `kiln.dev/prune: disabled`.
    #[arg(long)]
    pub allow_prune_protected: bool,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PlanOutput {
    /// Text for people (`text` is accepted too).
    #[value(name = "human", alias = "text")]
    Human,
    Json,
    /// A pull-request comment (plans between commits, `--git-base`).
    Markdown,
}

/// `kiln plan`.
pub fn plan(target: &Target, detailed_exitcode: bool) -> ExitCode {
    let flags = ApplyFlags {
        dry_run: true,
        wait: false,
        timeout: None,
        force_conflicts: false,
        allow_mass_prune: false,
        allow_prune_protected: false,
        namespace_timeout: Duration::from_secs(60),
    };
    run(target, &flags, detailed_exitcode)
}

/// `kiln apply`.
pub fn apply(target: &Target, flags: &ApplyFlags) -> ExitCode {
    run(target, flags, false)
}

fn run(target: &Target, flags: &ApplyFlags, detailed_exitcode: bool) -> ExitCode {
    let app = match crate::app::select(target) {
        Ok(app) => app,
        Err(code) => return code,
    };
    let schemas = SchemaSources {
        crds: target.crds.clone().filter(|_| app.validate),
        katib_openapi: None,
    };
    // Compile and build first: any error ends the run before the cluster is contacted.
    let built = match crate::build_manifests(
        &app.paths,
        &schemas,
        target.diagnostics(),
        crate::BuildMode::Build,
    ) {
        Ok(built) => built,
        Err(code) => return code,
    };
    let mut desired = Vec::with_capacity(built.len());
    for m in built {
        match Manifest::new(m.into_value()) {
            Ok(m) => desired.push(m),
            Err(e) => {
                eprintln!("error: a built manifest cannot be applied: {e}; nothing was changed.");
                return ExitCode::from(EXIT_DIAGNOSTICS);
            }
        }
    }
    let mut opts = Options::new(ApplySetRef::new(&app.applyset, &app.applyset_namespace));
    opts.policy.prune = target.prune;
    opts.policy.force_conflicts = flags.force_conflicts;
    opts.policy.allow_mass_prune = flags.allow_mass_prune;
    opts.policy.allow_prune_protected = flags.allow_prune_protected;
    if flags.wait {
        opts.wait = Some(flags.timeout.unwrap_or(DEFAULT_WAIT));
    }
    opts.namespace_timeout = flags.namespace_timeout;
    let live_view = if std::io::stderr().is_terminal() {
        let view = std::sync::Arc::new(LiveView::new());
        let sink = std::sync::Arc::clone(&view);
        opts.progress = ProgressSink::new(move |event| sink.show(event));
        Some(view)
    } else {
        opts.progress = ProgressSink::new(|event| eprintln!("{}", progress_line(event)));
        None
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(EXIT_DIAGNOSTICS);
        }
    };
    let code = runtime.block_on(async {
        match execute(
            target,
            app.context.as_deref(),
            flags,
            detailed_exitcode,
            &desired,
            &opts,
        )
        .await
        {
            Ok(code) => code,
            Err(message) => {
                eprintln!("error: {message}");
                ExitCode::from(EXIT_DIAGNOSTICS)
            }
        }
    });
    drop(live_view);
    code
}

async fn execute(
    target: &Target,
    context: Option<&str>,
    flags: &ApplyFlags,
    detailed_exitcode: bool,
    desired: &[Manifest],
    opts: &Options,
) -> Result<ExitCode, String> {
    let mut config = config(target.kubeconfig.as_deref(), context).await?;
    // kube sets no read timeout, so a server that accepts connections but never answers would
    // hang kiln for good. kiln never watches (it polls), so a silent server is always a failure;
    // the API server itself ends ordinary requests after 60s.
    config.connect_timeout = Some(target.request_timeout.min(CONNECT_TIMEOUT));
    config.read_timeout = Some(target.request_timeout);
    config.write_timeout = Some(target.request_timeout);
    let server = config.cluster_url.to_string().trim_end_matches('/').to_string();
    let plugin = config
        .auth_info
        .exec
        .as_ref()
        .and_then(|exec| exec.command.clone());
    let client = Client::try_from(config).map_err(|e| match (&e, plugin) {
        // kube runs the plugin here, before any request: say which program failed.
        (kube::Error::Auth(cause), Some(command)) => format!(
            "cluster {server}: the kubeconfig's credential plugin `{command}` failed ({cause}). Check that it is installed and on PATH, and log in again."
        ),
        _ => format!("cluster {server}: cannot create a Kubernetes client: {e}."),
    })?;
    let mut cluster = Cluster::new(client);
    let planned = kiln_reconciler::plan_cluster(&mut cluster, desired, opts)
        .await
        .map_err(|e| describe(&e, &server))?;
    let color = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let style = output::TextStyle {
        color,
        show_creates: target.show_creates,
    };
    if flags.dry_run {
        // A blocked change fails the plan (exit 1), so its reason goes to stderr as well.
        for e in planned.plan.changes.iter().filter_map(|c| c.error.as_ref()) {
            eprintln!("error: {}", describe(e, &server));
        }
        match target.output {
            PlanOutput::Human | PlanOutput::Markdown => {
                print!("{}", output::render_text_with(&planned.plan, style))
            }
            PlanOutput::Json => println!("{}", output::render_json(&planned.plan)),
        }
        let code = output::detailed_exit_code::<()>(&Ok(planned.plan));
        return Ok(match code {
            2 if detailed_exitcode => ExitCode::from(EXIT_CHANGES),
            1 => ExitCode::from(EXIT_DIAGNOSTICS),
            _ => ExitCode::SUCCESS,
        });
    }
    if target.output != PlanOutput::Json {
        print!("{}", output::render_text_with(&planned.plan, style));
    }
    let report = kiln_reconciler::apply_plan(&mut cluster, desired, planned, opts)
        .await
        .map_err(|e| describe(&e, &server))?;
    match target.output {
        PlanOutput::Human | PlanOutput::Markdown => println!(
            "Applied {} object(s), pruned {}, {} error(s).",
            report.applied.len(),
            report.pruned.len(),
            report.errors.len()
        ),
        PlanOutput::Json => println!("{}", output::render_report_json(&report)),
    }
    for e in &report.errors {
        eprintln!("error: {}", describe(e, &server));
    }
    Ok(if report.success() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_DIAGNOSTICS)
    })
}

/// One progress event as one line (stderr off a terminal: one line per state change).
pub fn progress_line(event: &Progress) -> String {
    match event {
        Progress::NamespaceWaiting {
            namespace,
            profile,
            objects,
            timeout,
        } => format!(
            "waiting for namespace {namespace} (Kubeflow's profile controller creates it for Profile {}; {objects} object{} wait for it, up to {})",
            profile.name,
            if *objects == 1 { "" } else { "s" },
            kiln_reconciler::profiles::human_duration(*timeout)
        ),
        Progress::NamespaceReady { namespace, after } => {
            format!("namespace {namespace} appeared after {:.1}s", after.as_secs_f64())
        }
        Progress::NamespaceMissing { namespace } => format!("namespace {namespace} did not appear"),
        Progress::Health { id, health } => format!("{id}: {}", health_text(health)),
        Progress::WaitDone => "wait done".to_string(),
    }
}

fn health_text(health: &Health) -> String {
    match health {
        Health::Ready => "ready".to_string(),
        Health::Succeeded => "succeeded".to_string(),
        Health::Progressing { message } => format!("progressing: {message}"),
        Health::Failed { message } => format!("failed: {message}"),
    }
}

/// The live view on a terminal: one row per object (or namespace) waited for, with its current
/// state, redrawn in place on stderr; rows that settle stay with their final state.
pub struct LiveView {
    rows: indicatif::MultiProgress,
    objects: std::sync::Mutex<std::collections::BTreeMap<String, indicatif::ProgressBar>>,
}

impl LiveView {
    fn new() -> LiveView {
        LiveView {
            rows: indicatif::MultiProgress::new(),
            objects: std::sync::Mutex::new(std::collections::BTreeMap::new()),
        }
    }

    /// The row of `key`, added on first use.
    fn row(&self, key: &str) -> indicatif::ProgressBar {
        let mut rows = self
            .objects
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        rows.entry(key.to_string())
            .or_insert_with(|| {
                let bar = self.rows.add(indicatif::ProgressBar::new_spinner());
                let style = indicatif::ProgressStyle::with_template("{spinner} {prefix} {wide_msg}")
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner());
                bar.set_style(style);
                bar.set_prefix(key.to_string());
                bar.enable_steady_tick(Duration::from_millis(120));
                bar
            })
            .clone()
    }

    fn show(&self, event: &Progress) {
        match event {
            Progress::NamespaceWaiting { namespace, .. } => {
                self.row(&format!("Namespace/{namespace}"))
                    .set_message(progress_line(event));
            }
            Progress::NamespaceReady { namespace, .. } | Progress::NamespaceMissing { namespace } => {
                self.row(&format!("Namespace/{namespace}"))
                    .finish_with_message(progress_line(event));
            }
            Progress::Health { id, health } => {
                let row = self.row(&id.to_string());
                match health {
                    Health::Progressing { .. } => row.set_message(health_text(health)),
                    _ => row.finish_with_message(health_text(health)),
                }
            }
            Progress::WaitDone => {
                let rows = self
                    .objects
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                for row in rows.values().filter(|r| !r.is_finished()) {
                    row.abandon();
                }
            }
        }
    }
}

/// The configuration from `--kubeconfig`/`--context`, else `KUBECONFIG` (a list of files,
/// merged as kubectl does) or `~/.kube/config`, else (with neither flag, like kube's
/// `Config::infer`) the in-cluster configuration. Every error is one sentence naming the file
/// or context at fault.
pub(crate) async fn config(kubeconfig: Option<&Path>, context: Option<&str>) -> Result<Config, String> {
    let (loaded, source) = match kubeconfig {
        Some(path) => (Kubeconfig::read_from(path), path.display().to_string()),
        None => (
            Kubeconfig::read(),
            match std::env::var("KUBECONFIG") {
                Ok(list) if !list.is_empty() => format!("KUBECONFIG={list}"),
                _ => "~/.kube/config".to_string(),
            },
        ),
    };
    let from_file = match loaded {
        Ok(kc) => with_context(kc, context, &source).await,
        Err(KubeconfigError::ReadConfig(e, path)) => {
            Err(format!("cannot read the kubeconfig {}: {e}", path.display()))
        }
        // A YAML error comes with a multi-line snippet; its first line says where and what.
        Err(e) => Err(format!("cannot load the kubeconfig {source}: {}", first_line(&e))),
    };
    match from_file {
        Ok(config) => Ok(config),
        Err(why) if kubeconfig.is_none() && context.is_none() => Config::incluster().map_err(|in_cluster| {
            format!(
                "no cluster configured: {why}, and kiln is not running inside a cluster ({in_cluster}). Pass --kubeconfig FILE or set KUBECONFIG."
            )
        }),
        Err(why) => Err(format!("{why}.")),
    }
}

/// The configuration of `context` (default: the current one) of a loaded kubeconfig. A
/// context it does not define is named together with the ones it does.
async fn with_context(kc: Kubeconfig, context: Option<&str>, source: &str) -> Result<Config, String> {
    if let Some(name) = context
        && !kc.contexts.iter().any(|c| c.name == name)
    {
        let known: Vec<&str> = kc.contexts.iter().map(|c| c.name.as_str()).collect();
        return Err(format!(
            "the kubeconfig {source} has no context `{name}` (it has: {}); pass one of those to --context",
            if known.is_empty() {
                "none".to_string()
            } else {
                known.join(", ")
            }
        ));
    }
    let options = KubeConfigOptions {
        context: context.map(str::to_string),
        ..KubeConfigOptions::default()
    };
    Config::from_custom_kubeconfig(kc, &options)
        .await
        .map_err(|e| match e {
            KubeconfigError::CurrentContextNotSet => {
                format!("the kubeconfig {source} sets no current-context; pass --context NAME")
            }
            e => format!("the kubeconfig {source} is not usable: {}", first_line(&e)),
        })
}

fn first_line(e: &KubeconfigError) -> String {
    e.to_string().lines().next().unwrap_or_default().to_string()
}

/// One failure as one paragraph. Failures about an object start with the object; failures of
/// the run as a whole (discovery, credentials) start with the API server they concern.
fn describe(e: &ReconcileError, server: &str) -> String {
    match e.object {
        Some(_) => e.to_string(),
        None => format!("cluster {server}: {e}"),
    }
}

/// The default ApplySet name (see the module doc).
pub fn default_applyset(paths: &[PathBuf]) -> String {
    let name = paths
        .first()
        .and_then(|p| std::fs::canonicalize(p).ok())
        .and_then(|p| {
            let dir = if p.is_dir() { p } else { p.parent()?.to_path_buf() };
            dir.file_name().map(|n| n.to_string_lossy().into_owned())
        })
        .unwrap_or_default();
    sanitize(&name)
}

fn sanitize(name: &str) -> String {
    let mut out: String = name
        .chars()
        .map(|c| match c.to_ascii_lowercase() {
            c @ ('a'..='z' | '0'..='9') => c,
            _ => '-',
        })
        .collect();
    // The parent is `kiln-<name>`: keep it within a 63-character label.
    out.truncate(50);
    let out = out.trim_matches('-');
    if out.is_empty() {
        "kiln".to_string()
    } else {
        out.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kiln_reconciler::ObjectId;

    #[test]
    fn progress_is_one_line_per_event() {
        let profile = ObjectId {
            group: "kubeflow.org".into(),
            version: "v1".into(),
            kind: "Profile".into(),
            namespace: String::new(),
            name: "team".into(),
        };
        let waiting = Progress::NamespaceWaiting {
            namespace: "team".into(),
            profile: profile.clone(),
            objects: 8,
            timeout: Duration::from_secs(60),
        };
        assert_eq!(
            progress_line(&waiting),
            "waiting for namespace team (Kubeflow's profile controller creates it for Profile team; 8 objects wait for it, up to 60s)"
        );
        let health = Progress::Health {
            id: profile,
            health: Health::Progressing {
                message: "Ready is False".into(),
            },
        };
        assert_eq!(
            progress_line(&health),
            "Profile/team: progressing: Ready is False"
        );
    }

    #[test]
    fn applyset_names() {
        assert_eq!(sanitize("Team_A"), "team-a");
        assert_eq!(sanitize("..."), "kiln");
        assert_eq!(sanitize(&"x".repeat(80)).len(), 50);
    }
}
