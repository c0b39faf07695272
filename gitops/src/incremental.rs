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

use std::path::{Path, PathBuf};

use git2::Oid;
use kiln_compiler::manifest::validate::SchemaSet;
use kiln_compiler::render;
use kiln_compiler::{Options, build, compile};
use kiln_lang::Diagnostic;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::project::{App, RepoTree};
use crate::tree::{Resolved, Snapshot};

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
    let mut diagnostics: Vec<Diagnostic> = compiled.diagnostics.clone();
    let mut manifests = Vec::new();
    if !compiled.has_errors() {
        let built = build::build(&compiled, if app.validate { schemas } else { None });
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
    if previous.app != app.name || snapshot.app_roots(app) != previous.roots {
        return false;
    }
    let zero = Oid::zero().to_string();
    previous
        .deps
        .iter()
        .all(|(path, oid)| match snapshot.resolve(path) {
            Ok(Resolved::Blob(now)) => now.to_string() == *oid,
            Ok(Resolved::Tree(_)) | Err(_) => *oid == zero,
        })
}

/// Results kept on disk between runs, a few per app.
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

    fn file(&self, app: &App) -> PathBuf {
        let key = serde_json::to_string(app).unwrap_or_default() + &compiler_identity();
        self.dir.join("builds").join(format!(
            "{}-{}.json",
            app.name,
            &blake3::hash(key.as_bytes()).to_hex()[..16]
        ))
    }

    fn entries(&self, app: &App) -> Vec<AppBuild> {
        std::fs::read(self.file(app))
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .unwrap_or_default()
    }

    /// A cached result valid at the snapshot's commit.
    pub fn lookup(&self, snapshot: &Snapshot<'_>, app: &App) -> Option<AppBuild> {
        self.entries(app)
            .into_iter()
            .find(|b| still_valid(b, snapshot, app))
    }

    /// Keeps a result (most recent first). Failing to write the cache is not an error: the
    /// next run compiles again.
    pub fn store(&self, app: &App, result: &AppBuild) {
        let mut entries = self.entries(app);
        entries.retain(|e| e.commit != result.commit);
        entries.insert(0, result.clone());
        entries.truncate(KEPT_PER_APP);
        let path = self.file(app);
        if let Some(parent) = path.parent()
            && std::fs::create_dir_all(parent).is_ok()
            && let Ok(bytes) = serde_json::to_vec(&entries)
        {
            let tmp = path.with_extension("json.tmp");
            if std::fs::write(&tmp, bytes).is_ok() {
                let _ = std::fs::rename(&tmp, &path);
            }
        }
    }
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
