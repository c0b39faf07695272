//! Which app a local `kiln plan` / `kiln apply` acts on.
//!
//! With a project file (`kiln.toml` at the project root, docs/gitops.md) the command line,
//! pull-request plans and the controller agree on what an app is: its paths, its ApplySet, its
//! cluster context and whether its manifests are validated. The command-line paths (or
//! `--app NAME`) only *select* the app; the whole app is then planned or applied, because an
//! apply of part of an app with `--prune` would prune the rest of it. Without a project file
//! the paths are the app, with the ApplySet of `--applyset` or the directory's name, as before.
//!
//! `--applyset` / `--applyset-namespace` that disagree with the app's are refused: the same
//! objects managed under a second inventory would be pruned by one and re-created by the other.
//! `--context` overrides the app's context (a deliberate choice of cluster, as with kubectl).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use kiln_gitops::project::{self, App, Project};

use crate::cluster::{Target, default_applyset};
use crate::files::{self, ProjectRoot};
use crate::{EXIT_DIAGNOSTICS, EXIT_USAGE};

/// What one local plan or apply acts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalApp {
    /// The app's name in kiln.toml; `None` without a project file.
    pub name: Option<String>,
    /// What is compiled: the app's paths (or the command-line paths).
    pub paths: Vec<PathBuf>,
    pub applyset: String,
    pub applyset_namespace: String,
    /// The kubeconfig context: `--context`, else the app's, else the current one.
    pub context: Option<String>,
    /// Validate against `--crds` (an app may turn it off).
    pub validate: bool,
}

/// Selects the app (module docs). Errors are printed here; the exit code is returned.
pub fn select(target: &Target) -> Result<LocalApp, ExitCode> {
    let usage = |message: String| {
        eprintln!("error: {message}");
        ExitCode::from(EXIT_USAGE)
    };
    let cwd = std::env::current_dir()
        .and_then(std::fs::canonicalize)
        .map_err(|e| usage(format!("cannot read the working directory: {e}")))?;
    if target.paths.is_empty() && target.app.is_none() && !has_project_file(&cwd) {
        return Err(usage(
            "give the .kiln files or directories to plan or apply (or --app NAME of kiln.toml, --git-base/--git-head, or a plan file)"
                .to_string(),
        ));
    }
    let first = match target.paths.first() {
        Some(path) => files::command_line_path(&cwd, path).map_err(|e| {
            eprintln!("error: {e}");
            ExitCode::from(EXIT_DIAGNOSTICS)
        })?,
        None => cwd.clone(),
    };
    let root = ProjectRoot::discover(&first);
    let tree = files::FsTree::new(&root.dir);
    let Some(file) = project::load(&tree, files::max_file_bytes()) else {
        return without_project_file(target);
    };
    let Some(project) = file.project else {
        let mut sources = file.sources;
        let absolute = target.paths.first().is_some_and(|p| p.is_absolute());
        let shown = files::Project::new(root.clone(), cwd.clone(), absolute);
        sources.show_as(|path| shown.show(path));
        crate::print_diagnostics_in(&file.diagnostics, &sources, target.diagnostics());
        return Err(ExitCode::from(EXIT_DIAGNOSTICS));
    };
    let app = choose(&project, &root, &cwd, target).map_err(usage)?;
    if let Some(set) = target.applyset.as_deref().filter(|set| *set != app.applyset) {
        return Err(usage(format!(
            "app `{}` of kiln.toml is managed as ApplySet `{}`; --applyset {set} would manage the same objects under a second inventory. Leave out --applyset, or change the app in kiln.toml.",
            app.name, app.applyset
        )));
    }
    if let Some(ns) = target
        .applyset_namespace
        .as_deref()
        .filter(|ns| *ns != app.applyset_namespace)
    {
        return Err(usage(format!(
            "app `{}` of kiln.toml keeps its ApplySet in namespace `{}`; --applyset-namespace {ns} would start a second inventory. Leave it out, or change the app in kiln.toml.",
            app.name, app.applyset_namespace
        )));
    }
    Ok(LocalApp {
        name: Some(app.name.clone()),
        paths: app.paths.iter().map(|p| root.dir.join(p)).collect(),
        applyset: app.applyset.clone(),
        applyset_namespace: app.applyset_namespace.clone(),
        context: target.context.clone().or_else(|| app.context.clone()),
        validate: app.validate,
    })
}

fn has_project_file(dir: &Path) -> bool {
    ProjectRoot::discover(dir)
        .dir
        .join(project::PROJECT_FILE)
        .is_file()
}

/// No project file: the paths as given, the ApplySet from the command line (as before).
fn without_project_file(target: &Target) -> Result<LocalApp, ExitCode> {
    if let Some(name) = &target.app {
        eprintln!(
            "error: --app {name} names an app of kiln.toml, but this project has no kiln.toml; give the spec paths instead (docs/gitops.md describes the project file)"
        );
        return Err(ExitCode::from(EXIT_USAGE));
    }
    Ok(LocalApp {
        name: None,
        paths: target.paths.clone(),
        applyset: target
            .applyset
            .clone()
            .unwrap_or_else(|| default_applyset(&target.paths)),
        applyset_namespace: target
            .applyset_namespace
            .clone()
            .unwrap_or_else(|| project::DEFAULT_APPLYSET_NAMESPACE.to_string()),
        context: target.context.clone(),
        validate: true,
    })
}

/// The one app `--app` or the paths name.
fn choose<'p>(
    project: &'p Project,
    root: &ProjectRoot,
    cwd: &Path,
    target: &Target,
) -> Result<&'p App, String> {
    let names = || {
        project
            .apps
            .iter()
            .map(|a| a.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    if let Some(name) = &target.app {
        let app = project.app(name).ok_or_else(|| {
            format!(
                "kiln.toml has no app `{name}` (it has: {}); pass one of those to --app",
                names()
            )
        })?;
        for path in &target.paths {
            let rel = relative_to_root(root, cwd, path)?;
            if !touches(app, &rel) {
                return Err(format!(
                    "`{}` is not part of app `{name}` (its paths: {}); leave the path out, or name its app",
                    path.display(),
                    app.paths.join(", ")
                ));
            }
        }
        return Ok(app);
    }
    let mut chosen: Vec<&App> = Vec::new();
    for path in &target.paths {
        let rel = relative_to_root(root, cwd, path)?;
        let owners: Vec<&App> = project.apps.iter().filter(|a| touches(a, &rel)).collect();
        if owners.is_empty() {
            return Err(format!(
                "`{}` belongs to no app of kiln.toml (apps: {}); add it to an app's paths in kiln.toml",
                path.display(),
                names()
            ));
        }
        for app in owners {
            if !chosen.iter().any(|c| c.name == app.name) {
                chosen.push(app);
            }
        }
    }
    match chosen.as_slice() {
        [app] => Ok(app),
        [] => match project.apps.as_slice() {
            [only] => Ok(only),
            [] => Err("kiln.toml declares no app; add one (docs/gitops.md)".to_string()),
            _ => Err(format!(
                "kiln.toml has several apps ({}); choose one with --app NAME",
                names()
            )),
        },
        several => Err(format!(
            "the paths cover several apps of kiln.toml ({}); plan or apply one at a time with --app NAME",
            several
                .iter()
                .map(|a| a.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

/// Whether the repository-relative `path` is inside one of the app's paths, or holds one.
fn touches(app: &App, path: &str) -> bool {
    app.owns(path) || app.paths.iter().any(|p| project::within(p, path))
}

/// A command-line path as a normalised path from the project root.
fn relative_to_root(root: &ProjectRoot, cwd: &Path, path: &Path) -> Result<String, String> {
    let full = files::command_line_path(cwd, path)?;
    full.strip_prefix(&root.dir)
        .ok()
        .and_then(|rel| rel.to_str())
        .map(kiln_compiler::source::normalize_path)
        .ok_or_else(|| {
            format!(
                "`{}` is outside the project root `{}`",
                path.display(),
                root.dir.display()
            )
        })
}
