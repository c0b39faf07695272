//! Compiling apps at a commit, and reusing a previous result when nothing an app reads changed.
//!
//! An [`AppBuild`] records, besides the manifests, the app's root files and every file the
//! compiler loaded for it through the commit's [`Snapshot`] (transitive imports; the stdlib is
//! embedded and never loaded, so it is excluded by construction), each with its blob id, and
//! imports that failed to load (blob id zero). A result is valid for another commit exactly
//! when that commit has the same root files and every recorded path resolves, under the same
//! confinement rules, to the same blob (or still fails). Then the app is not recompiled: the
//! planner reuses the base commit's result for the head, and [`BuildCache`] keeps results on disk
//! between runs (CI plans the base once, when it was a head).
//!
//! Results are keyed by the app's definition and by the identity of the kiln binary that made
//! them ([`compiler_identity`]), so an upgrade never reuses an older compiler's output.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

use git2::Oid;
use kiln_compiler::manifest::validate::SchemaSet;
use kiln_compiler::render;
use kiln_compiler::source::confined::ProjectPath;
use kiln_compiler::source::{SourceMap, normalize_path};
use kiln_compiler::{Compiled, Emitted, Options, build, compile};
use kiln_lang::ast::ItemKind;
use kiln_lang::{Diagnostic, FileId};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::project::{App, RepoTree};
use crate::tree::Snapshot;

/// The price and shape of a declared node pool (NodePools produce no manifest; the planner
/// needs them for cost estimates).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodePoolPrice {
    pub name: String,
    /// Accelerator model (`a100`), or the resource name when the pool names no model.
    pub model: String,
    pub per_node: i64,
    pub price_per_hour: Option<f64>,
}

/// One diagnostic, rendered (so it needs no source map later).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReportedDiagnostic {
    pub code: String,
    pub severity: String,
    pub message: String,
    /// `path:line:column`.
    pub location: String,
}

/// What compiling one app at one commit produced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AppBuild {
    pub app: String,
    /// The commit it was compiled at.
    pub commit: String,
    pub roots: Vec<String>,
    /// Every file loaded (path, blob id; all zeros when it could not be loaded), sorted.
    pub deps: Vec<(String, String)>,
    /// Stamped manifests, in build order; empty when any error was reported.
    pub manifests: Vec<Value>,
    pub node_pools: Vec<NodePoolPrice>,
    pub diagnostics: Vec<ReportedDiagnostic>,
    /// The diagnostics rendered as text (rustc style, no colour).
    pub rendered: String,
    pub failed: bool,
}

/// How a result for a commit was obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Provenance {
    Compiled,
    /// The other commit's result: nothing the app reads differs.
    Reused,
    /// From the on-disk cache.
    Cached,
}

/// Compiles one app at the snapshot's commit.
pub fn build_app(snapshot: &Snapshot<'_>, app: &App, schemas: Option<&SchemaSet>) -> AppBuild {
    snapshot.take_loaded();
    let roots = snapshot.app_roots(app);
    let compiled = compile(snapshot, &roots, &Options::default());
    let mut deps: Vec<(String, String)> = snapshot
        .take_loaded()
        .into_iter()
        .map(|(p, o)| (p, o.to_string()))
        .collect();
    deps.sort();
    deps.dedup();
    finish(snapshot, app, roots, deps, &compiled, schemas)
}

/// Compiles several apps at the snapshot's commit, sharing the work they have in common.
///
/// The apps' root files go through one compilation, so the standard library and every shared
/// module are parsed, checked and evaluated once, not once per app. What follows is per app, so
/// the result is exactly [`build_app`]'s: the emitted objects are split by the root file that
/// declared them, each app is lowered and validated on its own (cross-object checks only see its
/// objects), and its dependencies are the files its roots reach through their imports.
/// Checking and evaluation report errors only, and a compilation with an error (or over a
/// budget, which is shared) says nothing about which app caused it, so then the apps are split
/// in two halves and each half is compiled again, down to single apps: a failing app still gets
/// its own diagnostics, and the others their shared compilation.
pub fn build_apps(snapshot: &Snapshot<'_>, apps: &[&App], schemas: Option<&SchemaSet>) -> Vec<AppBuild> {
    if let [app] = apps {
        return vec![build_app(snapshot, app, schemas)];
    }
    if apps.is_empty() {
        return Vec::new();
    }
    if let Some(builds) = build_together(snapshot, apps, schemas) {
        return builds;
    }
    let (left, right) = apps.split_at(apps.len() / 2);
    let mut builds = build_apps(snapshot, left, schemas);
    builds.extend(build_apps(snapshot, right, schemas));
    builds
}

/// One compilation for all `apps`; `None` when it reported anything (see [`build_apps`]).
fn build_together(
    snapshot: &Snapshot<'_>,
    apps: &[&App],
    schemas: Option<&SchemaSet>,
) -> Option<Vec<AppBuild>> {
    let roots: Vec<Vec<String>> = apps.iter().map(|a| snapshot.app_roots(a)).collect();
    let all: Vec<String> = roots.concat();
    // Apps claim disjoint paths (K1104); a root listed twice would be one module of two apps.
    if all.iter().collect::<HashSet<_>>().len() != all.len() {
        return None;
    }
    snapshot.take_loaded();
    let mut compiled = compile(snapshot, &all, &Options::default());
    let loaded: HashMap<String, Oid> = snapshot.take_loaded().into_iter().collect();
    if !compiled.diagnostics.is_empty() {
        return None;
    }
    let files: HashMap<&str, FileId> = compiled
        .sources
        .iter()
        .map(|(id, f)| (f.path.as_str(), id))
        .collect();
    let mut by_root: HashMap<String, Vec<Emitted>> = HashMap::new();
    for object in std::mem::take(&mut compiled.objects) {
        by_root
            .entry(compiled.sources.path(object.span.file).to_string())
            .or_default()
            .push(object);
    }
    let deps: Vec<Vec<(String, String)>> = roots
        .iter()
        .map(|r| imported_closure(snapshot, r, &files, &compiled.sources, &loaded))
        .collect();
    let mut builds = Vec::with_capacity(apps.len());
    for ((app, roots), deps) in apps.iter().zip(roots).zip(deps) {
        compiled.objects = roots
            .iter()
            .flat_map(|r| by_root.remove(r).unwrap_or_default())
            .collect();
        builds.push(finish(snapshot, app, roots, deps, &compiled, schemas));
    }
    Some(builds)
}

/// The files `roots` load, transitively, with their blobs: what compiling those roots alone
/// would record. Imports are followed by the resolver's own rule (a relative or absolute import
/// is joined to the importing file's project path by `ProjectPath::import`; any other names an
/// embedded stdlib module, which is never loaded), in the texts the shared compilation loaded.
fn imported_closure(
    snapshot: &Snapshot<'_>,
    roots: &[String],
    files: &HashMap<&str, FileId>,
    sources: &SourceMap,
    loaded: &HashMap<String, Oid>,
) -> Vec<(String, String)> {
    let mut seen: BTreeMap<String, String> = BTreeMap::new();
    let mut pending: Vec<String> = roots.iter().map(|r| normalize_path(r)).collect();
    while let Some(key) = pending.pop() {
        if seen.contains_key(&key) {
            continue;
        }
        let oid = loaded
            .get(&key)
            .copied()
            .unwrap_or_else(|| snapshot.fingerprint(&key));
        seen.insert(key.clone(), oid.to_string());
        let Some(&file) = files.get(key.as_str()) else {
            continue;
        };
        let Ok(from) = ProjectPath::parse(&key) else {
            continue;
        };
        for item in &kiln_lang::parse(file, sources.text(file)).file.items {
            if let ItemKind::Import { path, .. } = &item.kind
                && let Some(path) = path.as_plain()
                && (path.starts_with("./") || path.starts_with("../") || path.starts_with('/'))
                && let Ok(target) = from.import(&path)
                && target.is_kiln_source()
            {
                pending.push(target.as_str().to_string());
            }
        }
    }
    seen.into_iter().collect()
}

/// Lowers, validates and records one app's part of a compilation.
fn finish(
    snapshot: &Snapshot<'_>,
    app: &App,
    roots: Vec<String>,
    deps: Vec<(String, String)>,
    compiled: &Compiled,
    schemas: Option<&SchemaSet>,
) -> AppBuild {
    let mut diagnostics: Vec<Diagnostic> = compiled.diagnostics.clone();
    let mut manifests = Vec::new();
    if !compiled.has_errors() {
        let built = build::build(compiled, if app.validate { schemas } else { None });
        diagnostics.extend(built.diagnostics.iter().cloned());
        if !built.has_errors() {
            manifests = built.manifests.into_iter().map(|m| m.into_value()).collect();
        }
    }
    let failed = diagnostics.iter().any(Diagnostic::is_error);
    let node_pools = compiled
        .objects
        .iter()
        .filter(|o| o.stdlib && o.ty.ends_with(".NodePool"))
        .map(|o| {
            let v = o.value.to_json();
            let acc = &v["accelerator"];
            NodePoolPrice {
                name: o.name.clone(),
                model: acc["model"]
                    .as_str()
                    .or(acc["resource"].as_str())
                    .unwrap_or("nvidia.com/gpu")
                    .to_string(),
                per_node: v["per_node"].as_i64().unwrap_or(1).max(1),
                price_per_hour: v["price_per_hour"].as_f64(),
            }
        })
        .collect();
    let reported = diagnostics
        .iter()
        .map(|d| {
            let (line, col) = compiled
                .sources
                .line_col(d.primary.span.file, d.primary.span.start as usize);
            ReportedDiagnostic {
                code: d.code.id.to_string(),
                severity: if d.is_error() { "error" } else { "warning" }.to_string(),
                message: d.message.clone(),
                location: format!("{}:{line}:{col}", compiled.sources.name(d.primary.span.file)),
            }
        })
        .collect();
    let rendered = if diagnostics.is_empty() {
        String::new()
    } else {
        render::render_plain(&diagnostics, &compiled.sources, 100)
    };
    AppBuild {
        app: app.name.clone(),
        commit: snapshot.commit().to_string(),
        roots,
        deps,
        manifests: if failed { Vec::new() } else { manifests },
        node_pools,
        diagnostics: reported,
        rendered,
        failed,
    }
}

/// Whether `previous` (made at another commit) is exactly what compiling `app` at the
/// snapshot's commit would produce: same roots, and every file it read resolves to the same blob.
pub fn still_valid(previous: &AppBuild, snapshot: &Snapshot<'_>, app: &App) -> bool {
    Validity::of(previous).holds(snapshot, app)
}

/// What decides whether a result made at one commit holds at another: which app, its roots,
/// and the blob of every file it read. Small, so the cache keeps these in an index and reads
/// the (large) results only for the one that holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Validity {
    app: String,
    commit: String,
    roots: Vec<String>,
    deps: Vec<(String, String)>,
}

impl Validity {
    fn of(build: &AppBuild) -> Validity {
        Validity {
            app: build.app.clone(),
            commit: build.commit.clone(),
            roots: build.roots.clone(),
            deps: build.deps.clone(),
        }
    }

    fn holds(&self, snapshot: &Snapshot<'_>, app: &App) -> bool {
        if self.app != app.name || snapshot.app_roots(app) != self.roots {
            return false;
        }
        self.deps
            .iter()
            .all(|(path, oid)| snapshot.fingerprint(path).to_string() == *oid)
    }
}

/// Results kept on disk between runs, a few per app: per app (and app settings and compiler
/// build) a folder with `index.json` (the [`Validity`] of each result, most recent first) and
/// one `<commit>.json` per result. A lookup reads the index and one result; a store writes one
/// result and the index, never the other results again.
pub struct BuildCache {
    dir: PathBuf,
}

/// Results kept per app (the base and head of recent plans).
const KEPT_PER_APP: usize = 4;

impl BuildCache {
    pub fn new(dir: &Path) -> BuildCache {
        BuildCache {
            dir: dir.to_path_buf(),
        }
    }

    fn folder(&self, app: &App) -> PathBuf {
        let key = serde_json::to_string(app).unwrap_or_default() + &compiler_identity();
        self.dir.join("builds").join(format!(
            "{}-{}",
            app.name,
            &blake3::hash(key.as_bytes()).to_hex()[..16]
        ))
    }

    fn index(&self, folder: &Path) -> Vec<Validity> {
        std::fs::read(folder.join("index.json"))
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .unwrap_or_default()
    }

    /// A cached result valid at the snapshot's commit.
    pub fn lookup(&self, snapshot: &Snapshot<'_>, app: &App) -> Option<AppBuild> {
        let folder = self.folder(app);
        let valid = self.index(&folder).into_iter().find(|v| v.holds(snapshot, app))?;
        let bytes = std::fs::read(folder.join(format!("{}.json", valid.commit))).ok()?;
        serde_json::from_slice::<AppBuild>(&bytes)
            .ok()
            .filter(|b| Validity::of(b) == valid)
    }

    /// Keeps a result (most recent first). Failing to write the cache is not an error: the
    /// next run compiles again.
    pub fn store(&self, app: &App, result: &AppBuild) {
        let folder = self.folder(app);
        if std::fs::create_dir_all(&folder).is_err() {
            return;
        }
        let mut index = self.index(&folder);
        index.retain(|v| v.commit != result.commit);
        index.insert(0, Validity::of(result));
        for dropped in index.drain(index.len().min(KEPT_PER_APP)..) {
            let _ = std::fs::remove_file(folder.join(format!("{}.json", dropped.commit)));
        }
        let written = serde_json::to_vec(result)
            .is_ok_and(|bytes| write_replacing(&folder.join(format!("{}.json", result.commit)), &bytes));
        if written && let Ok(bytes) = serde_json::to_vec(&index) {
            write_replacing(&folder.join("index.json"), &bytes);
        }
    }
}

/// Writes `path` through a temporary file and a rename, so a reader never sees half of it.
fn write_replacing(path: &Path, bytes: &[u8]) -> bool {
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, bytes).is_ok() && std::fs::rename(&tmp, path).is_ok()
}

/// The version and the binary's size and modification time: a rebuilt kiln never trusts
/// results of the previous build.
pub fn compiler_identity() -> String {
    let exe = std::env::current_exe()
        .ok()
        .and_then(|p| std::fs::metadata(p).ok())
        .map(|m| {
            let modified = m
                .modified()
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map_or(0, |d| d.as_nanos());
            format!("{}:{modified}", m.len())
        })
        .unwrap_or_default();
    format!("{}:{exe}", env!("CARGO_PKG_VERSION"))
}
