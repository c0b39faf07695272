//! The Git side of the loop: fetch the followed branch, and compile at its head only the apps
//! whose inputs changed.
//!
//! This is the incremental mechanism of `kiln plan --git-base` (`kiln_gitops::incremental`): an
//! app's previous result is kept when every file it read resolves to the same blob at the new
//! commit ([`still_valid`]); else the on-disk [`BuildCache`] is asked; only then is it compiled.
//! So a push that touches one app compiles one app, whatever the size of the monorepo.
//!
//! Everything here is blocking (libgit2, the compiler) and runs on tokio's blocking pool; it
//! takes and returns owned data so no repository handle crosses an `await`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use kiln_compiler::manifest::validate::SchemaSet;

use crate::verify::AllowedSigners;
use sha2::{Digest, Sha256};

use kiln_gitops::incremental::{AppBuild, BuildCache, build_app, still_valid};
use kiln_gitops::review::project_at;
use kiln_gitops::{App, Credentials, GitSource};

/// Where the branch is and what is known about each app at that commit.
#[derive(Debug, Clone, Default)]
pub struct Compiled {
    /// The commit compiled.
    pub commit: String,
    /// Apps of the project file, in file order.
    pub apps: Vec<App>,
    /// The result per app at `commit` (failed ones included).
    pub builds: BTreeMap<String, AppBuild>,
    /// Apps compiled for this commit (not reused from the previous one or the cache).
    pub compiled: Vec<String>,
    /// kiln.toml's `prune_removed_apps`: prune the objects of an app removed from the file.
    pub prune_removed_apps: bool,
    /// Who signed the commit, when signatures are verified.
    pub signer: Option<String>,
}

/// Why a commit could not be read as a whole (per-app compile errors are in the builds).
#[derive(Debug, Clone, thiserror::Error)]
pub enum SourceError {
    #[error("{0}")]
    Fetch(String),
    #[error("the branch `{branch}` does not exist in {repo}")]
    NoBranch { branch: String, repo: String },
    #[error(
        "commit {commit} has no kiln.toml: the controller follows a project file's apps (docs/gitops.md)"
    )]
    NoProject { commit: String },
    #[error("kiln.toml at commit {commit} has errors:\n{rendered}")]
    BadProject { commit: String, rendered: String },
    #[error("commit {commit} is refused: {why}; nothing of it is compiled or applied")]
    Unverified { commit: String, why: String },
}

impl SourceError {
    /// The kind, for the errors metric.
    pub fn kind(&self) -> &'static str {
        match self {
            SourceError::Fetch(_) | SourceError::NoBranch { .. } => "fetch",
            SourceError::NoProject { .. } | SourceError::BadProject { .. } => "project",
            SourceError::Unverified { .. } => "signature",
        }
    }
}

/// The followed repository.
#[derive(Debug, Clone)]
pub struct Source {
    pub url: String,
    pub branch: String,
    pub cache_dir: PathBuf,
    pub credentials: Credentials,
    /// `--crds`: the schemas apps with `validate = true` are validated against.
    pub schemas: Option<Arc<Schemas>>,
    /// `--verify-commits ssh`: the keys a head must be signed with.
    pub signers: Option<Arc<AllowedSigners>>,
}

/// The schemas of `--crds`, and a digest of the files they came from (results validated
/// against other schemas, or none, are cached apart).
#[derive(Debug)]
pub struct Schemas {
    pub set: SchemaSet,
    pub digest: String,
}

impl Schemas {
    /// Every `*.yaml` / `*.yml` file under `dir`, recursively, in path order.
    pub fn load(dir: &Path) -> Result<Schemas, String> {
        let mut files = Vec::new();
        let mut stack = vec![dir.to_path_buf()];
        while let Some(d) = stack.pop() {
            let entries =
                std::fs::read_dir(&d).map_err(|e| format!("cannot read {}: {}", d.display(), e.kind()))?;
            for entry in entries.flatten() {
                let path = entry.path();
                if path.is_dir() {
                    stack.push(path);
                } else if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
                    files.push(path);
                }
            }
        }
        files.sort();
        if files.is_empty() {
            return Err(format!("no CRD files (*.yaml) in {}", dir.display()));
        }
        let mut set = SchemaSet::new();
        let mut digest = Sha256::new();
        for path in &files {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read {}: {}", path.display(), e.kind()))?;
            set.add_crd_yaml(&path.display().to_string(), &text)
                .map_err(|e| format!("--crds: {e}"))?;
            let rel = path.strip_prefix(dir).unwrap_or(path);
            digest.update(rel.to_string_lossy().as_bytes());
            digest.update((text.len() as u64).to_le_bytes());
            digest.update(text.as_bytes());
        }
        let digest = digest.finalize().iter().map(|b| format!("{b:02x}")).collect();
        Ok(Schemas { set, digest })
    }
}

impl Source {
    /// Fetches the branch (only new objects: the mirror under the cache directory is kept) and
    /// returns its head commit.
    pub fn fetch_head(&self) -> Result<String, SourceError> {
        let git = self.open()?;
        let rev = git.resolve(&self.branch).map_err(|_| SourceError::NoBranch {
            branch: self.branch.clone(),
            repo: git.describe(),
        })?;
        Ok(rev.commit.to_string())
    }

    fn open(&self) -> Result<GitSource, SourceError> {
        GitSource::fetch(&self.url, &self.cache_dir, &self.credentials).map_err(|e| SourceError::Fetch(e.0))
    }

    /// Compiles `commit`, reusing `previous` results that are still valid there.
    pub fn compile(&self, commit: &str, previous: &Compiled) -> Result<Compiled, SourceError> {
        let git = self.open()?;
        let oid = git.resolve(commit).map_err(|e| SourceError::Fetch(e.0))?.commit;
        // 0. A head that must be signed is verified before anything of it is read.
        let signer = match &self.signers {
            Some(signers) => {
                Some(
                    verify_head(&git, oid, signers).map_err(|why| SourceError::Unverified {
                        commit: commit.to_string(),
                        why,
                    })?,
                )
            }
            None => None,
        };
        let snapshot = git.snapshot(oid).map_err(|e| SourceError::Fetch(e.0))?;
        let project = match project_at(&snapshot) {
            Ok(Some(p)) => p,
            Ok(None) => {
                return Err(SourceError::NoProject {
                    commit: commit.to_string(),
                });
            }
            Err(rendered) => {
                return Err(SourceError::BadProject {
                    commit: commit.to_string(),
                    rendered,
                });
            }
        };
        // Results validated against these schemas (or none) are cached apart from the others.
        let cache = match &self.schemas {
            Some(s) => BuildCache::new(&self.cache_dir.join(format!("validated-{}", &s.digest[..16]))),
            None => BuildCache::new(&self.cache_dir),
        };
        let schemas = self.schemas.as_deref().map(|s| &s.set);
        let mut builds = BTreeMap::new();
        let mut compiled = Vec::new();
        for app in &project.apps {
            // 1. The previous commit's result, when nothing the app reads changed.
            let reused = previous
                .builds
                .get(&app.name)
                .filter(|b| previous.apps.iter().any(|a| a == app) && still_valid(b, &snapshot, app))
                .cloned();
            // 2. Else a result kept on disk (a restarted controller compiles nothing twice).
            let build = match reused.or_else(|| cache.lookup(&snapshot, app)) {
                Some(mut b) => {
                    b.commit = commit.to_string();
                    b
                }
                // 3. Else compile.
                None => {
                    let b = build_app(&snapshot, app, schemas);
                    cache.store(app, &b);
                    compiled.push(app.name.clone());
                    b
                }
            };
            builds.insert(app.name.clone(), build);
        }
        Ok(Compiled {
            commit: commit.to_string(),
            apps: project.apps,
            builds,
            compiled,
            prune_removed_apps: project.prune_removed_apps,
            signer,
        })
    }
}

/// The signer of `oid`, when its `gpgsig` verifies against `signers`.
fn verify_head(git: &GitSource, oid: git2::Oid, signers: &AllowedSigners) -> Result<String, String> {
    let repo = git.repository();
    let Ok((signature, payload)) = repo.extract_signature(&oid, None) else {
        return Err("it is not signed (--verify-commits ssh requires a signed head)".into());
    };
    let Some(signature) = signature.as_str() else {
        return Err("its signature is not text".into());
    };
    let committed = repo
        .find_commit(oid)
        .map(|c| c.committer().when().seconds())
        .map_err(|e| format!("cannot read the commit: {}", e.message()))?;
    crate::verify::verify(signers, signature, &payload, committed).map(crate::verify::describe)
}

/// The default cache directory: `$XDG_CACHE_HOME/kiln-controller`, else a temporary folder.
pub fn default_cache_dir() -> PathBuf {
    std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir)
        .join("kiln-controller")
}
