//! `kiln plan --git-base REF --git-head REF` (plans between commits, no cluster needed),
//! `... --cluster --out plan.json` (adds the live layer and writes the plan file) and
//! `kiln apply plan.json` (applies exactly that plan, or refuses it when stale).
//!
//! The repository is `--repo` (a local path, default: the one holding the current directory;
//! or an https/ssh URL, mirrored into `--cache-dir`). Credentials come from the environment or
//! `--git-token-file` (see `kiln_gitops::git`). Compiled results are cached per app in
//! `--cache-dir` (default `$XDG_CACHE_HOME/kiln`), so a later plan of the same base is free.
//! The logic lives in `kiln-gitops`; this file is arguments, I/O and exit codes.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;
use kiln_compiler::manifest::validate::SchemaSet;
use kiln_gitops::incremental::{BuildCache, build_app};
use kiln_gitops::planfile::{PLAN_FILE_KIND, PLAN_FILE_VERSION, PlanFile, record_app, stale_reasons};
use kiln_gitops::render::{render_json, render_markdown, render_text};
use kiln_gitops::review::{Request, ReviewPlan, implicit_app, plan_commits, project_at};
use kiln_gitops::{App, Credentials, GitSource};
use kiln_reconciler::{ApplySetRef, Cluster, Manifest, Options, output};
use kube::Client;

use crate::EXIT_DIAGNOSTICS;
use crate::cluster::{PlanOutput, Target};

const EXIT_CHANGES: u8 = 2;

/// Arguments of plans between commits.
#[derive(Args)]
pub struct GitArgs {
    /// Plan the head commit against this base commit, branch or tag (no cluster needed).
    #[arg(long, requires = "git_head")]
    pub git_base: Option<String>,
    /// The commit, branch or tag under review.
    #[arg(long, requires = "git_base")]
    pub git_head: Option<String>,
    /// The repository: a local path (default: the one holding the current directory), or an
    /// https:// or ssh URL, fetched into the cache directory.
    #[arg(long, requires = "git_base")]
    pub repo: Option<String>,
    /// Where fetched repositories and compiled results are kept (default $XDG_CACHE_HOME/kiln).
    #[arg(long)]
    pub cache_dir: Option<PathBuf>,
    /// File holding the HTTPS token (else KILN_GIT_TOKEN_FILE or KILN_GIT_TOKEN).
    #[arg(long)]
    pub git_token_file: Option<PathBuf>,
    /// Also plan the head against the cluster (desired against live, prunes included).
    #[arg(long, requires = "git_base")]
    pub cluster: bool,
    /// Write the plan file `kiln apply` accepts (with --cluster).
    #[arg(long, requires = "cluster")]
    pub out: Option<PathBuf>,
}

impl GitArgs {
    pub fn active(&self) -> bool {
        self.git_base.is_some()
    }

    /// What `kiln apply plan.json` needs: the recorded repository, with these caches.
    pub fn for_apply(cache_dir: Option<PathBuf>, git_token_file: Option<PathBuf>) -> GitArgs {
        GitArgs {
            git_base: None,
            git_head: None,
            repo: None,
            cache_dir,
            git_token_file,
            cluster: false,
            out: None,
        }
    }
}

fn fail(message: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(EXIT_DIAGNOSTICS)
}

fn cache_dir(args: &GitArgs) -> PathBuf {
    args.cache_dir
        .clone()
        .unwrap_or_else(kiln_gitops::review::default_cache_dir)
}

fn is_url(repo: &str) -> bool {
    repo.contains("://") || (repo.contains('@') && repo.contains(':') && !Path::new(repo).exists())
}

/// Opens (or fetches) the repository named by `repo`.
fn open_source(
    repo: Option<&str>,
    cache: &Path,
    token_file: Option<&Path>,
) -> Result<(GitSource, String), String> {
    let repo = repo.unwrap_or(".");
    if is_url(repo) {
        let mut creds = Credentials::from_env().map_err(|e| e.to_string())?;
        if let Some(path) = token_file {
            creds = creds.with_token_file(path).map_err(|e| e.to_string())?;
        }
        let source = GitSource::fetch(repo, &cache.join("git"), &creds).map_err(|e| e.to_string())?;
        Ok((source, kiln_gitops::git::redact_url(repo)))
    } else {
        let source = GitSource::open(Path::new(repo)).map_err(|e| e.to_string())?;
        let shown =
            std::fs::canonicalize(repo).map_or_else(|_| repo.to_string(), |p| p.display().to_string());
        Ok((source, shown))
    }
}

fn schemas(target: &Target) -> Result<Option<SchemaSet>, String> {
    match &target.crds {
        Some(dir) => crate::files::load_schemas(dir, None).map(Some),
        None => Ok(None),
    }
}

/// `kiln plan --git-base .. --git-head ..`.
pub fn plan(args: &GitArgs, target: &Target, detailed_exitcode: bool) -> ExitCode {
    let cache = cache_dir(args);
    let (source, repo_shown) = match open_source(args.repo.as_deref(), &cache, args.git_token_file.as_deref())
    {
        Ok(s) => s,
        Err(e) => return fail(e),
    };
    let schemas = match schemas(target) {
        Ok(s) => s,
        Err(e) => return fail(e),
    };
    let paths: Vec<String> = target
        .paths
        .iter()
        .map(|p| p.to_string_lossy().replace('\\', "/"))
        .collect();
    let build_cache = BuildCache::new(&cache);
    let request = Request {
        base: args.git_base.as_deref().unwrap_or_default(),
        head: args.git_head.as_deref().unwrap_or_default(),
        app: target.app.as_deref(),
        paths: &paths,
        schemas: schemas.as_ref(),
        cache: Some(&build_cache),
    };
    let review = match plan_commits(&source, &request) {
        Ok(r) => r,
        Err(e) => return fail(e),
    };
    let mut live_json = serde_json::Map::new();
    let mut live_text = String::new();
    let mut blocked = false;
    if args.cluster && !review.failed {
        match live_layer(args, target, &review, &repo_shown) {
            Ok(live) => {
                live_text = live.text;
                live_json = live.json;
                blocked = live.blocked;
            }
            Err(e) => return fail(e),
        }
    }
    match target.output {
        PlanOutput::Human => print!("{}{live_text}", render_text(&review)),
        PlanOutput::Markdown => print!("{}", render_markdown(&review)),
        PlanOutput::Json => {
            let mut v: serde_json::Value = serde_json::from_str(&render_json(&review)).unwrap_or_default();
            if args.cluster
                && let Some(m) = v.as_object_mut()
            {
                m.insert("live".into(), serde_json::Value::Object(live_json));
            }
            println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
        }
    }
    if blocked {
        eprintln!(
            "error: some changes are blocked in the cluster (see the live plan); no plan file was written."
        );
        return ExitCode::from(EXIT_DIAGNOSTICS);
    }
    match review.detailed_exit_code() {
        1 => ExitCode::from(EXIT_DIAGNOSTICS),
        2 if detailed_exitcode => ExitCode::from(EXIT_CHANGES),
        _ => ExitCode::SUCCESS,
    }
}

fn desired_of(builds: &[kiln_gitops::incremental::AppBuild], app: &str) -> Result<Vec<Manifest>, String> {
    builds
        .iter()
        .filter(|b| b.app == app)
        .flat_map(|b| b.manifests.iter().cloned())
        .map(|v| Manifest::new(v).map_err(|e| format!("app {app}: a built manifest cannot be applied: {e}")))
        .collect()
}

fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))
}

async fn client(target: &Target, context: Option<&str>) -> Result<Client, String> {
    let mut config = crate::cluster::config(
        target.kubeconfig.as_deref(),
        target.context.as_deref().or(context),
    )
    .await?;
    config.read_timeout = Some(target.request_timeout);
    config.write_timeout = Some(target.request_timeout);
    Client::try_from(config).map_err(|e| format!("cannot create a Kubernetes client: {e}"))
}

fn options(app: &App, prune: bool) -> Options {
    let mut opts = Options::new(ApplySetRef::new(&app.applyset, &app.applyset_namespace));
    opts.policy.prune = prune;
    opts
}

/// The head against the cluster, per app.
struct LiveLayer {
    text: String,
    json: serde_json::Map<String, serde_json::Value>,
    /// Some change cannot be made as planned (conflict, mass prune, ...).
    blocked: bool,
}

/// Plans each app's head against the cluster; writes the plan file when asked and nothing is
/// blocked (a blocked plan cannot be applied as reviewed).
fn live_layer(
    args: &GitArgs,
    target: &Target,
    review: &ReviewPlan,
    repo_shown: &str,
) -> Result<LiveLayer, String> {
    let (source, _) = open_source(
        args.repo.as_deref(),
        &cache_dir(args),
        args.git_token_file.as_deref(),
    )?;
    let head = source
        .snapshot(
            source
                .resolve(&review.head.commit)
                .map_err(|e| e.to_string())?
                .commit,
        )
        .map_err(|e| e.to_string())?;
    let apps = apps_at(&head, target)?;
    let runtime = runtime()?;
    let mut text = String::new();
    let mut json = serde_json::Map::new();
    let mut recorded = Vec::new();
    let mut blocked = false;
    for plan_app in &review.apps {
        let Some(app) = apps.iter().find(|a| a.name == plan_app.name) else {
            continue;
        };
        let desired = desired_of(&review.head_builds, &app.name)?;
        let opts = options(app, target.prune);
        let planned = runtime.block_on(async {
            let mut cluster = Cluster::new(client(target, app.context.as_deref()).await?);
            kiln_reconciler::plan_cluster(&mut cluster, &desired, &opts)
                .await
                .map_err(|e| format!("app {}: {e}", app.name))
        })?;
        text.push_str(&format!(
            "\nLive plan of app {} (ApplySet {}):\n",
            app.name, app.applyset
        ));
        text.push_str(&output::render_text(&planned.plan, false));
        json.insert(
            app.name.clone(),
            serde_json::from_str(&output::render_json(&planned.plan)).unwrap_or_default(),
        );
        blocked |= planned.plan.is_blocked();
        recorded.push(record_app(
            app,
            target.prune,
            &desired,
            &planned.plan,
            &planned.live,
        ));
    }
    if let Some(out) = args.out.as_ref().filter(|_| !blocked) {
        let file = PlanFile {
            kind: PLAN_FILE_KIND.to_string(),
            version: PLAN_FILE_VERSION,
            repo: repo_shown.to_string(),
            base: review.base.clone(),
            head: review.head.clone(),
            apps: recorded,
        };
        let body =
            serde_json::to_string_pretty(&file).map_err(|e| format!("cannot serialise the plan: {e}"))?;
        std::fs::write(out, body + "\n").map_err(|e| format!("cannot write {}: {e}", out.display()))?;
    }
    Ok(LiveLayer { text, json, blocked })
}

fn apps_at(snapshot: &kiln_gitops::tree::Snapshot<'_>, target: &Target) -> Result<Vec<App>, String> {
    match project_at(snapshot) {
        Ok(Some(p)) => Ok(p.apps),
        Ok(None) => {
            let paths: Vec<String> = target
                .paths
                .iter()
                .map(|p| p.to_string_lossy().into_owned())
                .collect();
            Ok(vec![implicit_app(&paths)])
        }
        Err(rendered) => Err(format!("the head's kiln.toml has errors:\n{rendered}")),
    }
}

/// Whether `kiln apply` was given a plan file rather than spec paths.
pub fn is_plan_file(paths: &[PathBuf]) -> bool {
    paths.len() == 1
        && paths[0].extension().is_some_and(|e| e == "json")
        && std::fs::read_to_string(&paths[0]).is_ok_and(|t| t.contains(PLAN_FILE_KIND))
}

/// `kiln apply plan.json`: checks that nothing moved since the plan, then applies it.
pub fn apply(target: &Target, args: &GitArgs) -> ExitCode {
    match apply_file(target, args) {
        Ok(code) => code,
        Err(e) => fail(e),
    }
}

fn apply_file(target: &Target, args: &GitArgs) -> Result<ExitCode, String> {
    let path = &target.paths[0];
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let file: PlanFile = serde_json::from_str(&text)
        .map_err(|e| format!("{} is not a kiln plan file: {e}", path.display()))?;
    if file.kind != PLAN_FILE_KIND || file.version != PLAN_FILE_VERSION {
        return Err(format!(
            "{} is a plan file of another version ({} {}); plan again with this kiln",
            path.display(),
            file.kind,
            file.version
        ));
    }
    let cache = cache_dir(args);
    let (source, _) = open_source(
        Some(args.repo.as_deref().unwrap_or(&file.repo)),
        &cache,
        args.git_token_file.as_deref(),
    )?;
    // 1. The branch must still be at the planned commit.
    let mut stale = Vec::new();
    if let Some(reference) = &file.head.reference {
        let mut creds = Credentials::from_env().map_err(|e| e.to_string())?;
        if let Some(path) = args.git_token_file.as_deref() {
            creds = creds.with_token_file(path).map_err(|e| e.to_string())?;
        }
        source.refresh(reference, &creds).map_err(|e| e.to_string())?;
        let now = source.resolve(&file.head.spec).map_err(|e| e.to_string())?;
        if now.commit.to_string() != file.head.commit {
            stale.push(format!(
                "`{}` ({reference}) moved from the planned commit {} to {}",
                file.head.spec, file.head.commit, now.commit
            ));
        }
    }
    // 2. The head compiles to the planned objects, and the cluster still holds what was read.
    let commit = source
        .resolve(&file.head.commit)
        .map_err(|e| e.to_string())?
        .commit;
    let head = source.snapshot(commit).map_err(|e| e.to_string())?;
    let apps = apps_at(&head, target)?;
    let schemas = schemas(target)?;
    let build_cache = BuildCache::new(&cache);
    let runtime = runtime()?;
    let mut work = Vec::new();
    for recorded in &file.apps {
        let Some(app) = apps.iter().find(|a| a.name == recorded.name) else {
            stale.push(format!("the app {} is no longer in kiln.toml", recorded.name));
            continue;
        };
        let built = match build_cache.lookup(&head, app) {
            Some(b) => b,
            None => build_app(&head, app, schemas.as_ref()),
        };
        if built.failed {
            return Err(format!(
                "app {}: the planned commit does not compile:\n{}",
                app.name, built.rendered
            ));
        }
        let desired = desired_of(std::slice::from_ref(&built), &app.name)?;
        let opts = options(app, recorded.prune);
        let (planned, cluster) = runtime.block_on(async {
            let mut cluster = Cluster::new(client(target, recorded.context.as_deref()).await?);
            let planned = kiln_reconciler::plan_cluster(&mut cluster, &desired, &opts)
                .await
                .map_err(|e| format!("app {}: {e}", app.name))?;
            Ok::<_, String>((planned, cluster))
        })?;
        for reason in stale_reasons(recorded, &desired, &planned.live) {
            stale.push(format!("app {}: {reason}", app.name));
        }
        work.push((app.name.clone(), desired, planned, cluster, opts));
    }
    if !stale.is_empty() {
        eprintln!(
            "error: the plan {} is stale, nothing was changed:\n  {}\nPlan again and review the new plan.",
            path.display(),
            stale.join("\n  ")
        );
        return Ok(ExitCode::from(EXIT_DIAGNOSTICS));
    }
    // 3. Apply exactly that.
    let mut ok = true;
    for (name, desired, planned, mut cluster, opts) in work {
        let report = runtime
            .block_on(kiln_reconciler::apply_plan(
                &mut cluster,
                &desired,
                planned,
                &opts,
            ))
            .map_err(|e| format!("app {name}: {e}"))?;
        println!(
            "app {name}: applied {} object(s), pruned {}, {} error(s).",
            report.applied.len(),
            report.pruned.len(),
            report.errors.len()
        );
        for e in &report.errors {
            eprintln!("error: app {name}: {e}");
            ok = false;
        }
    }
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_DIAGNOSTICS)
    })
}
