//! Pull-request plans without a cluster: the desired state at the base commit against the
//! desired state at the head commit ([`plan_commits`]).
//!
//! Steps:
//! 1. Read `kiln.toml` at both commits ([`crate::project`]); the head's decides what the apps
//!    are (an app only the base has is planned as removed). Without a project file, the paths
//!    given by the caller form one app.
//! 2. Per app, the base result (cache or compile), then the head result: the base result
//!    itself when nothing the app reads changed ([`crate::incremental::still_valid`]), else the
//!    cache, else a compile.
//! 3. A head that fails to compile (any app, or its project file) plans nothing: the plan says
//!    so and carries the head's diagnostics.
//! 4. Per app, objects added, changed (fields that differ, noise-free: the source trace and
//!    content hash annotations never count) and removed; a run-like object whose spec changed
//!    gets a new content-derived name, and is shown as a new run replacing the old one.
//! 5. Resources per namespace, cost per hour, quota headroom per Profile
//!    ([`crate::resources`]).
//!
//! Secrets are masked before any diff is made (the reconciler's masking, by type and by the
//! `kiln.dev/secret-fields` annotation): the plan says a value changed, never the value.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use kiln_compiler::manifest::validate::SchemaSet;
use kiln_compiler::manifest::{CONTENT_HASH, SOURCE};
use kiln_reconciler::ObjectId;
use kiln_reconciler::diff::{changed_only, mask, secret_pointers, sorted};
use kiln_reconciler::runs::id_is_run_like;
use serde::Serialize;
use serde_json::Value;
use similar::TextDiff;

use crate::git::{GitError, GitSource, Revision};
use crate::incremental::{
    AppBuild, BuildCache, NodePoolPrice, Provenance, ReportedDiagnostic, build_apps, still_valid,
};
use crate::project::{self, App, PROJECT_FILE, Project, ProjectFile};
use crate::resources::{Usage, cost_per_hour, usage_by_namespace};
use crate::tree::Snapshot;

/// Version of the JSON shape (docs/gitops.md). Bumped on any incompatible change.
pub const PLAN_FORMAT_VERSION: u32 = 1;

/// Annotations that trace an object to its source; they never make an object "changed".
const NOISE: &[&str] = &[SOURCE, CONTENT_HASH];
/// Label the compiler gives run-like objects: the name they were declared with.
const RUN_OF: &str = "kiln.dev/run-of";

/// What to plan.
pub struct Request<'a> {
    pub base: &'a str,
    pub head: &'a str,
    /// Only this app (`--app`).
    pub app: Option<&'a str>,
    /// Paths forming the single app of a repository without `kiln.toml`.
    pub paths: &'a [String],
    pub schemas: Option<&'a SchemaSet>,
    pub cache: Option<&'a BuildCache>,
}

/// One side of the comparison.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct CommitRef {
    /// As given (`main`, `HEAD~1`, a hash).
    #[serde(rename = "ref")]
    pub spec: String,
    pub commit: String,
    /// The full ref it named (`refs/heads/main`), if any.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub reference: Option<String>,
}

impl From<&Revision> for CommitRef {
    fn from(r: &Revision) -> CommitRef {
        CommitRef {
            spec: r.spec.clone(),
            commit: r.commit.to_string(),
            reference: r.reference.clone(),
        }
    }
}

/// How an object differs between base and head.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ChangeKind {
    Added,
    Changed,
    /// A run-like object whose spec changed: a new run (new name) replaces the old one.
    NewRun,
    Removed,
}

impl ChangeKind {
    pub fn symbol(self) -> &'static str {
        match self {
            ChangeKind::Added => "+",
            ChangeKind::Changed => "~",
            ChangeKind::NewRun => "+~",
            ChangeKind::Removed => "-",
        }
    }
    pub fn word(self) -> &'static str {
        match self {
            ChangeKind::Added => "added",
            ChangeKind::Changed => "changed",
            ChangeKind::NewRun => "new run",
            ChangeKind::Removed => "removed",
        }
    }
}

/// One field that differs (lists are compared whole).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FieldChange {
    /// JSON pointer.
    pub path: String,
    /// `added`, `removed` or `changed`.
    pub change: &'static str,
    /// The value is secret: it is never shown.
    pub secret: bool,
}

/// One object's difference.
#[derive(Debug, Clone, Serialize)]
pub struct ObjectChange {
    pub change: ChangeKind,
    /// `Kind/namespace/name` (`Kind/name` when cluster-scoped).
    pub id: String,
    pub api_version: String,
    pub kind: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    pub name: String,
    /// For a new run: the name of the run it replaces.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replaces: Option<String>,
    /// Fields that differ (changed objects and new runs).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<FieldChange>,
    /// Masked unified diff of the differing fields (YAML, keys sorted).
    pub diff: String,
}

/// One app's part of the plan.
#[derive(Debug, Clone, Serialize)]
pub struct AppPlan {
    pub name: String,
    /// How the head result was obtained (`compiled` means the app was recompiled).
    pub head: Provenance,
    pub base: Provenance,
    /// The head failed to compile: nothing is planned for it.
    pub failed: bool,
    pub diagnostics: Vec<ReportedDiagnostic>,
    /// The head's diagnostics, rendered.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub rendered: String,
    pub changes: Vec<ObjectChange>,
    /// Objects at the head.
    pub objects: usize,
}

/// Requests of one namespace at base and head.
#[derive(Debug, Clone, Serialize)]
pub struct NamespaceDelta {
    pub namespace: String,
    pub base: Usage,
    pub head: Usage,
    pub delta: Usage,
    /// Cost per hour of the accelerator delta (priced pools only).
    pub cost_delta_per_hour: f64,
}

/// What a Profile's quota leaves after the head's requests in its namespace.
#[derive(Debug, Clone, Serialize)]
pub struct QuotaHeadroom {
    pub profile: String,
    /// `requests.cpu`, `requests.memory`, `requests.nvidia.com/gpu`, ...
    pub resource: String,
    pub hard: String,
    pub used: String,
    pub headroom: String,
    pub exceeded: bool,
}

/// Cost per hour of every request's accelerators.
#[derive(Debug, Clone, Serialize)]
pub struct Cost {
    pub base_per_hour: f64,
    pub head_per_hour: f64,
    pub delta_per_hour: f64,
    /// Accelerator models no NodePool prices.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unpriced: Vec<String>,
}

/// The whole plan between two commits.
#[derive(Debug, Clone, Serialize)]
pub struct ReviewPlan {
    pub version: u32,
    pub base: CommitRef,
    pub head: CommitRef,
    /// The head failed (project file or a compile): nothing is planned.
    pub failed: bool,
    /// Diagnostics of the head's `kiln.toml`, rendered.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub project_diagnostics: String,
    pub apps: Vec<AppPlan>,
    pub resources: Vec<NamespaceDelta>,
    pub cost: Cost,
    pub quotas: Vec<QuotaHeadroom>,
    /// Results of both commits, for `--cluster` and the plan file (not in the JSON output).
    #[serde(skip)]
    pub head_builds: Vec<AppBuild>,
}

/// Counts over all apps.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Totals {
    pub apps: usize,
    pub apps_changed: usize,
    pub apps_recompiled: usize,
    pub added: usize,
    pub changed: usize,
    pub new_runs: usize,
    pub removed: usize,
}

impl ReviewPlan {
    pub fn totals(&self) -> Totals {
        let mut t = Totals {
            apps: self.apps.len(),
            ..Totals::default()
        };
        for app in &self.apps {
            if !app.changes.is_empty() {
                t.apps_changed += 1;
            }
            if app.head == Provenance::Compiled {
                t.apps_recompiled += 1;
            }
            for c in &app.changes {
                *match c.change {
                    ChangeKind::Added => &mut t.added,
                    ChangeKind::Changed => &mut t.changed,
                    ChangeKind::NewRun => &mut t.new_runs,
                    ChangeKind::Removed => &mut t.removed,
                } += 1;
            }
        }
        t
    }

    pub fn has_changes(&self) -> bool {
        self.apps.iter().any(|a| !a.changes.is_empty())
    }

    /// 0 nothing changes, 2 something does, 1 the head failed (as `plan --detailed-exitcode`).
    pub fn detailed_exit_code(&self) -> i32 {
        if self.failed {
            1
        } else if self.has_changes() {
            2
        } else {
            0
        }
    }
}

/// Why no plan could be made at all (as opposed to a head that fails, which is a plan).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlanFailure {
    Git(GitError),
    /// `--app` names an app the project does not have.
    UnknownApp {
        name: String,
        known: Vec<String>,
    },
    /// No kiln.toml at the head and no paths given.
    NoProject,
}

impl std::fmt::Display for PlanFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PlanFailure::Git(e) => write!(f, "{e}"),
            PlanFailure::UnknownApp { name, known } => write!(
                f,
                "the project has no app `{name}` (it has: {}); pass one of those to --app",
                known.join(", ")
            ),
            PlanFailure::NoProject => write!(
                f,
                "the head commit has no {PROJECT_FILE} and no paths were given: add a {PROJECT_FILE} (docs/gitops.md) or pass the spec paths"
            ),
        }
    }
}

impl From<GitError> for PlanFailure {
    fn from(e: GitError) -> PlanFailure {
        PlanFailure::Git(e)
    }
}

/// The project at one commit: `Ok(None)` when it has no kiln.toml; `Err(rendered)` when the
/// file has errors.
pub fn project_at(snapshot: &Snapshot<'_>) -> Result<Option<Project>, String> {
    match snapshot.project_file() {
        None => Ok(None),
        Some(ProjectFile { project: Some(p), .. }) => Ok(Some(p)),
        Some(file) => Err(kiln_compiler::render::render_plain(
            &file.diagnostics,
            &file.sources,
            100,
        )),
    }
}

/// The single app of a repository without a project file.
pub fn implicit_app(paths: &[String]) -> App {
    App {
        name: "default".to_string(),
        paths: paths
            .iter()
            .map(|p| kiln_compiler::source::normalize_path(p))
            .collect(),
        applyset: "kiln".to_string(),
        applyset_namespace: project::DEFAULT_APPLYSET_NAMESPACE.to_string(),
        context: None,
        validate: true,
    }
}

/// Plans `request.head` against `request.base` (module docs).
pub fn plan_commits(source: &GitSource, request: &Request<'_>) -> Result<ReviewPlan, PlanFailure> {
    let base_rev = source.resolve(request.base)?;
    let head_rev = source.resolve(request.head)?;
    let base = source.snapshot(base_rev.commit)?;
    let head = source.snapshot(head_rev.commit)?;
    let mut plan = ReviewPlan {
        version: PLAN_FORMAT_VERSION,
        base: CommitRef::from(&base_rev),
        head: CommitRef::from(&head_rev),
        failed: false,
        project_diagnostics: String::new(),
        apps: Vec::new(),
        resources: Vec::new(),
        cost: Cost {
            base_per_hour: 0.0,
            head_per_hour: 0.0,
            delta_per_hour: 0.0,
            unpriced: Vec::new(),
        },
        quotas: Vec::new(),
        head_builds: Vec::new(),
    };
    // 1. The apps: the head's project decides; base-only apps are planned as removed.
    let head_project = match project_at(&head) {
        Ok(p) => p,
        Err(rendered) => {
            plan.failed = true;
            plan.project_diagnostics = rendered;
            return Ok(plan);
        }
    };
    let base_project = project_at(&base).ok().flatten();
    let head_apps: Vec<App> = match (&head_project, request.paths.is_empty()) {
        (Some(p), _) => p.apps.clone(),
        (None, false) => vec![implicit_app(request.paths)],
        (None, true) => return Err(PlanFailure::NoProject),
    };
    let base_apps: Vec<App> = match &base_project {
        Some(p) => p.apps.clone(),
        None if head_project.is_none() => head_apps.clone(),
        None => Vec::new(),
    };
    let mut names: Vec<String> = head_apps.iter().map(|a| a.name.clone()).collect();
    for a in &base_apps {
        if !names.contains(&a.name) {
            names.push(a.name.clone());
        }
    }
    if let Some(only) = request.app {
        if !names.iter().any(|n| n == only) {
            return Err(PlanFailure::UnknownApp {
                name: only.to_string(),
                known: names,
            });
        }
        names.retain(|n| n == only);
    }
    // 2. Results: every base first, then every head (the base's when still valid), each side's
    // misses compiled together.
    let in_base: Vec<Option<&App>> = names
        .iter()
        .map(|n| base_apps.iter().find(|a| &a.name == n))
        .collect();
    let in_head: Vec<Option<&App>> = names
        .iter()
        .map(|n| head_apps.iter().find(|a| &a.name == n))
        .collect();
    let no_previous = vec![None; names.len()];
    let base_results = obtain_all(&base, &in_base, &no_previous, request);
    let reusable: Vec<Option<&AppBuild>> = base_results
        .iter()
        .zip(in_base.iter().zip(&in_head))
        .map(|(r, (b, h))| {
            r.as_ref()
                .map(|(build, _)| build)
                .filter(|_| b.is_some() && b == h)
        })
        .collect();
    let head_results = obtain_all(&head, &in_head, &reusable, request);
    // 3-4. Per app: changes.
    let mut base_builds: Vec<AppBuild> = Vec::new();
    for (((name, base_result), head_result), (in_base, in_head)) in names
        .iter()
        .zip(base_results)
        .zip(head_results)
        .zip(in_base.into_iter().zip(in_head))
    {
        let (base_build, base_how) = match base_result {
            Some((b, how)) => (Some(b), how),
            None => (None, Provenance::Compiled),
        };
        let (head_build, head_how) = match head_result {
            Some((b, how)) => (Some(b), how),
            None => (None, Provenance::Reused),
        };
        let failed = head_build.as_ref().is_some_and(|b| b.failed);
        let empty: Vec<Value> = Vec::new();
        let before = base_build
            .as_ref()
            .filter(|b| !b.failed)
            .map_or(&empty, |b| &b.manifests);
        let after = head_build.as_ref().map_or(&empty, |b| &b.manifests);
        // A head reused from the base is the base: nothing to compare.
        let same = head_how == Provenance::Reused && in_base.is_some() && in_base == in_head;
        let changes = if failed || same {
            Vec::new()
        } else {
            compare(before, after)
        };
        plan.apps.push(AppPlan {
            name: name.clone(),
            head: head_how,
            base: base_how,
            failed,
            diagnostics: head_build
                .as_ref()
                .map(|b| b.diagnostics.clone())
                .unwrap_or_default(),
            rendered: head_build
                .as_ref()
                .map(|b| b.rendered.clone())
                .unwrap_or_default(),
            changes,
            objects: after.len(),
        });
        if let Some(b) = base_build {
            base_builds.push(b);
        }
        if let Some(h) = head_build {
            plan.head_builds.push(h);
        }
    }
    plan.failed = plan.apps.iter().any(|a| a.failed);
    if plan.failed {
        for app in &mut plan.apps {
            app.changes.clear();
        }
        return Ok(plan);
    }
    // 5. Resources, cost, quotas.
    fn all(builds: &[AppBuild]) -> Vec<&Value> {
        builds
            .iter()
            .filter(|b| !b.failed)
            .flat_map(|b| b.manifests.iter())
            .collect()
    }
    let base_all = all(&base_builds);
    let head_all = all(&plan.head_builds);
    let mut pools: Vec<NodePoolPrice> = plan
        .head_builds
        .iter()
        .flat_map(|b| b.node_pools.clone())
        .collect();
    pools.extend(base_builds.iter().flat_map(|b| b.node_pools.clone()));
    let base_usage = usage_by_namespace(&base_all);
    let head_usage = usage_by_namespace(&head_all);
    let namespaces: BTreeSet<&String> = base_usage.keys().chain(head_usage.keys()).collect();
    let mut unpriced = BTreeSet::new();
    for ns in namespaces {
        let b = base_usage.get(ns).cloned().unwrap_or_default();
        let h = head_usage.get(ns).cloned().unwrap_or_default();
        let (bc, bu) = cost_per_hour(&b.gpus, &pools);
        let (hc, hu) = cost_per_hour(&h.gpus, &pools);
        unpriced.extend(bu);
        unpriced.extend(hu);
        plan.cost.base_per_hour += bc;
        plan.cost.head_per_hour += hc;
        let delta = h.minus(&b);
        if !delta.is_zero() {
            plan.resources.push(NamespaceDelta {
                namespace: ns.clone(),
                base: b,
                head: h,
                delta,
                cost_delta_per_hour: hc - bc,
            });
        }
    }
    plan.cost.delta_per_hour = plan.cost.head_per_hour - plan.cost.base_per_hour;
    plan.cost.unpriced = unpriced.into_iter().collect();
    plan.quotas = quotas(&head_all, &head_usage);
    Ok(plan)
}

/// The results for the apps at one commit (`None` where the commit has no such app): the other
/// commit's result when still valid, else the cache, else compiled, all misses in one
/// [`build_apps`] (and stored in the cache).
fn obtain_all(
    snapshot: &Snapshot<'_>,
    apps: &[Option<&App>],
    other: &[Option<&AppBuild>],
    request: &Request<'_>,
) -> Vec<Option<(AppBuild, Provenance)>> {
    let mut results: Vec<Option<(AppBuild, Provenance)>> = Vec::with_capacity(apps.len());
    let mut misses: Vec<(usize, &App)> = Vec::new();
    for (i, (app, prev)) in apps.iter().zip(other).enumerate() {
        let Some(app) = app else {
            results.push(None);
            continue;
        };
        if let Some(prev) = prev
            && still_valid(prev, snapshot, app)
        {
            let mut b = (*prev).clone();
            b.commit = snapshot.commit().to_string();
            results.push(Some((b, Provenance::Reused)));
        } else if let Some(hit) = request.cache.and_then(|c| c.lookup(snapshot, app)) {
            results.push(Some((hit, Provenance::Cached)));
        } else {
            results.push(None);
            misses.push((i, app));
        }
    }
    let to_build: Vec<&App> = misses.iter().map(|(_, a)| *a).collect();
    for ((i, app), built) in misses
        .iter()
        .zip(build_apps(snapshot, &to_build, request.schemas))
    {
        if let Some(cache) = request.cache {
            cache.store(app, &built);
        }
        results[*i] = Some((built, Provenance::Compiled));
    }
    results
}

/// Removes what never counts as a change: the source trace and the content hash.
fn denoise(v: &Value) -> Value {
    let mut v = v.clone();
    if let Some(ann) = v
        .pointer_mut("/metadata/annotations")
        .and_then(Value::as_object_mut)
    {
        for k in NOISE {
            ann.remove(*k);
        }
        if ann.is_empty()
            && let Some(meta) = v.pointer_mut("/metadata").and_then(Value::as_object_mut)
        {
            meta.remove("annotations");
        }
    }
    v
}

fn id_text(id: &ObjectId) -> String {
    if id.namespace.is_empty() {
        format!("{}/{}", id.kind, id.name)
    } else {
        format!("{}/{}/{}", id.kind, id.namespace, id.name)
    }
}

/// Same object across commits: group, kind, namespace, name (the version may change).
type Key = (String, String, String, String);

fn key(id: &ObjectId) -> Key {
    (
        id.group.clone(),
        id.kind.clone(),
        id.namespace.clone(),
        id.name.clone(),
    )
}

/// One side's object as [`compare`] reads it: borrowed, with its stamped content hash.
struct Side<'a> {
    id: ObjectId,
    value: &'a Value,
    /// `kiln.dev/content-hash`, which covers exactly what [`denoise`] keeps.
    hash: Option<&'a str>,
    /// The `run-of` label of a run-like object (what a new run of it shares with the old).
    run_of: Option<&'a str>,
}

/// The objects of one side by identity (objects without one are not compared).
fn sides(side: &[Value]) -> BTreeMap<Key, Side<'_>> {
    let run_of_pointer = format!("/metadata/labels/{}", RUN_OF.replace('/', "~1"));
    side.iter()
        .filter_map(|v| {
            let id = ObjectId::from_value(v).ok()?;
            let hash = v
                .pointer("/metadata/annotations")
                .and_then(|a| a.get(CONTENT_HASH))
                .and_then(Value::as_str);
            let run_of = v.pointer(&run_of_pointer).and_then(Value::as_str);
            Some((
                key(&id),
                Side {
                    value: v,
                    hash,
                    run_of,
                    id,
                },
            ))
        })
        .collect()
}

/// The per-object differences of one app, in a stable order (removed after the rest).
///
/// Objects whose content hashes are equal are unchanged without a deep comparison: the hash
/// covers the object minus the noise annotations, so it is equal exactly when the denoised
/// objects are (a shared-module commit replans every object and changes few). Only objects
/// that differ are copied and denoised.
pub fn compare(before: &[Value], after: &[Value]) -> Vec<ObjectChange> {
    let b = sides(before);
    let a = sides(after);
    // The base's runs that left the head, by (group, kind, namespace, run-of): where a head run
    // with a new name finds the run it replaces.
    let mut old_runs: BTreeMap<(&str, &str, &str, &str), &Key> = BTreeMap::new();
    for (bk, old) in &b {
        if let Some(r) = old.run_of
            && id_is_run_like(&old.id)
            && !a.contains_key(bk)
        {
            old_runs.entry((&bk.0, &bk.1, &bk.2, r)).or_insert(bk);
        }
    }
    let mut out = Vec::new();
    let mut replaced: BTreeSet<&Key> = BTreeSet::new();
    for (k, new) in &a {
        match b.get(k) {
            Some(old) if old.hash.is_some() && old.hash == new.hash => {}
            Some(old) => {
                let (old_v, new_v) = (denoise(old.value), denoise(new.value));
                if old_v != new_v {
                    out.push(change(ChangeKind::Changed, &new.id, &old_v, &new_v, None));
                }
            }
            None => {
                // A run whose spec changed: same kind, namespace and `run-of`, another name.
                let old_run = new
                    .run_of
                    .filter(|_| id_is_run_like(&new.id))
                    .and_then(|r| old_runs.get(&(&k.0, &k.1, &k.2, r)))
                    .filter(|bk| !replaced.contains(**bk));
                match old_run {
                    Some(bk) => {
                        replaced.insert(*bk);
                        let old = &b[*bk];
                        let mut old_v = denoise(old.value);
                        let mut new_v = denoise(new.value);
                        for v in [&mut old_v, &mut new_v] {
                            if let Some(meta) = v.pointer_mut("/metadata").and_then(Value::as_object_mut) {
                                meta.remove("name");
                            }
                        }
                        out.push(change(
                            ChangeKind::NewRun,
                            &new.id,
                            &old_v,
                            &new_v,
                            Some(old.id.name.clone()),
                        ));
                    }
                    None => out.push(change(
                        ChangeKind::Added,
                        &new.id,
                        &Value::Null,
                        &denoise(new.value),
                        None,
                    )),
                }
            }
        }
    }
    for (k, old) in &b {
        if !a.contains_key(k) && !replaced.contains(k) {
            out.push(change(
                ChangeKind::Removed,
                &old.id,
                &denoise(old.value),
                &Value::Null,
                None,
            ));
        }
    }
    out.sort_by(|x, y| {
        (x.change == ChangeKind::Removed, &x.id).cmp(&(y.change == ChangeKind::Removed, &y.id))
    });
    out
}

fn change(
    kind: ChangeKind,
    id: &ObjectId,
    before: &Value,
    after: &Value,
    replaces: Option<String>,
) -> ObjectChange {
    let pointers = secret_pointers(id, &[before, after]);
    let mut b = before.clone();
    let mut a = after.clone();
    mask(&mut b, &mut a, &pointers);
    let secret_paths: BTreeSet<String> = secret_leaves(&b, &a, &pointers);
    let (cb, ca) = changed_only(&b, &a);
    let mut fields = Vec::new();
    if kind == ChangeKind::Changed || kind == ChangeKind::NewRun {
        leaves(&cb, &ca, String::new(), &mut fields);
        for f in &mut fields {
            f.secret = secret_paths.contains(&f.path);
        }
    }
    let yaml = |v: &Value| match v {
        Value::Null => String::new(),
        Value::Object(m) if m.is_empty() => String::new(),
        _ => serde_norway::to_string(&sorted(v)).unwrap_or_default(),
    };
    let label = id_text(id);
    let diff = TextDiff::from_lines(&yaml(&cb), &yaml(&ca))
        .unified_diff()
        .context_radius(3)
        .header(&format!("base {label}"), &format!("head {label}"))
        .to_string();
    ObjectChange {
        change: kind,
        id: label,
        api_version: id.api_version(),
        kind: id.kind.clone(),
        namespace: id.namespace.clone(),
        name: id.name.clone(),
        replaces,
        fields,
        diff,
    }
}

/// The concrete pointers masked on either side (wildcards expanded).
fn secret_leaves(before: &Value, after: &Value, pointers: &[String]) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for p in pointers {
        if let Some(parent) = p.strip_suffix("/*") {
            for side in [before, after] {
                if let Some(m) = side.pointer(parent).and_then(Value::as_object) {
                    for k in m.keys() {
                        out.insert(format!("{parent}/{}", k.replace('~', "~0").replace('/', "~1")));
                    }
                }
            }
        } else {
            out.insert(p.clone());
        }
    }
    out
}

fn leaves(before: &Value, after: &Value, path: String, out: &mut Vec<FieldChange>) {
    match (before, after) {
        (Value::Object(b), Value::Object(a)) => {
            let keys: BTreeSet<&String> = b.keys().chain(a.keys()).collect();
            for k in keys {
                let p = format!("{path}/{}", k.replace('~', "~0").replace('/', "~1"));
                match (b.get(k), a.get(k)) {
                    (Some(x), Some(y)) => leaves(x, y, p, out),
                    (Some(_), None) => out.push(FieldChange {
                        path: p,
                        change: "removed",
                        secret: false,
                    }),
                    (None, Some(_)) => out.push(FieldChange {
                        path: p,
                        change: "added",
                        secret: false,
                    }),
                    (None, None) => {}
                }
            }
        }
        (x, y) if x != y => out.push(FieldChange {
            path,
            change: "changed",
            secret: false,
        }),
        _ => {}
    }
}

/// Headroom of every Profile's quota at the head.
fn quotas(manifests: &[&Value], usage: &BTreeMap<String, Usage>) -> Vec<QuotaHeadroom> {
    use crate::resources::{format_cpu, format_memory};
    use kiln_compiler::units::Quantity;
    let mut out = Vec::new();
    for m in manifests {
        if m["kind"] != "Profile"
            || !m["apiVersion"]
                .as_str()
                .is_some_and(|v| v.starts_with("kubeflow.org/"))
        {
            continue;
        }
        let Some(profile) = m["metadata"]["name"].as_str() else {
            continue;
        };
        let Some(hard) = m
            .pointer("/spec/resourceQuotaSpec/hard")
            .and_then(Value::as_object)
        else {
            continue;
        };
        let used = usage.get(profile).cloned().unwrap_or_default();
        for (resource, limit) in hard {
            let Some(limit) = limit.as_str().and_then(|s| Quantity::parse(s).ok()) else {
                continue;
            };
            let (used_milli, show): (i128, fn(i128) -> String) = match resource.as_str() {
                "requests.cpu" | "cpu" | "limits.cpu" => (used.cpu_milli, format_cpu),
                "requests.memory" | "memory" | "limits.memory" => {
                    (used.memory_bytes * 1000, |m| format_memory(m / 1000))
                }
                r if r.ends_with("/gpu") || r.contains("/mig-") => {
                    (used.gpus.values().sum::<i64>() as i128 * 1000, |m| {
                        format!("{}", m / 1000)
                    })
                }
                _ => continue,
            };
            out.push(QuotaHeadroom {
                profile: profile.to_string(),
                resource: resource.clone(),
                hard: show(limit.milli),
                used: show(used_milli),
                headroom: show(limit.milli - used_milli),
                exceeded: used_milli > limit.milli,
            });
        }
    }
    out
}

/// Where the Git cache lives by default: `$XDG_CACHE_HOME/kiln` or `~/.cache/kiln`.
pub fn default_cache_dir() -> PathBuf {
    std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir)
        .join("kiln")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn job(name: &str, run_of: &str, image: &str, source: &str) -> Value {
        let v = json!({
            "apiVersion": "kubeflow.org/v1", "kind": "PyTorchJob",
            "metadata": {"name": name, "namespace": "team", "labels": {RUN_OF: run_of},
                         "annotations": {SOURCE: source}},
            "spec": {"image": image},
        });
        let mut m = kiln_compiler::manifest::Manifest::new(v).unwrap();
        kiln_compiler::manifest::stamp(&mut m);
        m.value().clone()
    }

    #[test]
    fn a_moved_declaration_is_unchanged_and_each_new_run_replaces_its_own_run() {
        let before = vec![
            job("a-1111", "a", "img:1", "a.kiln"),
            job("b-2222", "b", "img:1", "b.kiln"),
            job("c-3333", "c", "img:1", "c.kiln"),
        ];
        // `a` moved to another file (same content); `b` and `c` changed, so both are new runs.
        let after = vec![
            job("a-1111", "a", "img:1", "moved.kiln"),
            job("b-4444", "b", "img:2", "b.kiln"),
            job("c-5555", "c", "img:3", "c.kiln"),
        ];
        let changes = compare(&before, &after);
        let summary: Vec<(ChangeKind, &str, Option<&str>)> = changes
            .iter()
            .map(|c| (c.change, c.name.as_str(), c.replaces.as_deref()))
            .collect();
        assert_eq!(
            summary,
            vec![
                (ChangeKind::NewRun, "b-4444", Some("b-2222")),
                (ChangeKind::NewRun, "c-5555", Some("c-3333")),
            ]
        );
        assert_eq!(changes[0].fields.len(), 1, "{:?}", changes[0].fields);
        assert_eq!(changes[0].fields[0].path, "/spec/image");
    }

    #[test]
    fn an_edit_under_an_unchanged_hash_is_still_compared_when_a_side_has_no_hash() {
        let stamped = job("cfg", "x", "img:1", "a.kiln");
        let mut unstamped = stamped.clone();
        unstamped["metadata"]["annotations"]
            .as_object_mut()
            .unwrap()
            .remove(CONTENT_HASH);
        unstamped["spec"]["image"] = json!("img:9");
        let changes = compare(&[stamped], &[unstamped]);
        assert_eq!(changes.len(), 1);
        assert_eq!(changes[0].change, ChangeKind::Changed);
    }
}
