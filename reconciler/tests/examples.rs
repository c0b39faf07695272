//! The examples (`examples/team`, and `examples/kinds`, the sources of every kind in
//! `tests/golden/`) against the real control plane, with [`StandInProfileController`]
//! standing in for Kubeflow's profile controller:
//!
//! * a first apply to a fresh cluster succeeds (objects in the Profile's namespace wait for
//!   it, visibly), and a second apply writes nothing;
//! * the same project compiled from another directory (absolute paths in the trace), after a
//!   comment-only edit, after reordering declarations and files, and after `kiln fmt`: zero
//!   changes, no dry run, zero write requests (counted);
//! * true drift: another field manager changes one kiln-owned field of each kind; plan names
//!   exactly that field, apply restores it, the next plan is clean;
//! * without the stand-in, the namespace never appears: one error, nothing in it attempted.
//!
//! Each test renames the example's Profile (and so its namespace) to a fresh name, so runs
//! against a reused control plane start from a fresh cluster state.

use kiln_compiler::source::MemoryLoader;
use kiln_reconciler::counting::{RequestLog, counting};
use kiln_reconciler::{ApplySetRef, Cluster, Manifest, Options, Progress, ProgressSink};
use kiln_testsupport::{StandInProfileController, unique_name, workspace_root};
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One example project: its files (name, text), with the Profile renamed.
struct Project {
    files: Vec<(String, String)>,
    namespace: String,
    /// Each file is a project of its own (`examples/kinds`: one file per kind, as the golden
    /// tests build them); the desired set is all of their objects.
    separate: bool,
}

impl Project {
    /// Loads `examples/<dir>`, renaming Profile `profile` (and its namespace) to a fresh name.
    fn load(dir: &str, profile: &str, separate: bool) -> Project {
        let namespace = unique_name(&format!("ex-{dir}"))
            .replace("kiln-", "k")
            .chars()
            .take(40)
            .collect::<String>();
        let root = workspace_root().join("examples").join(dir);
        let mut names: Vec<String> = std::fs::read_dir(&root)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n.ends_with(".kiln"))
            .collect();
        names.sort();
        let files = names
            .into_iter()
            .map(|n| {
                let text = std::fs::read_to_string(root.join(&n)).unwrap();
                (
                    n,
                    text.replace(&format!("\"{profile}\""), &format!("\"{namespace}\"")),
                )
            })
            .collect();
        Project {
            files,
            namespace,
            separate,
        }
    }

    /// Compiles the files as if kiln ran with paths `<prefix><file>` (the trace takes them).
    fn compile(&self, prefix: &str) -> Vec<Manifest> {
        if self.separate {
            return self
                .files
                .iter()
                .flat_map(|f| compile(prefix, std::slice::from_ref(f)))
                .collect();
        }
        compile(prefix, &self.files)
    }

    fn edited(&self, f: impl Fn(&str, &str) -> String) -> Project {
        Project {
            files: self.files.iter().map(|(n, t)| (n.clone(), f(n, t))).collect(),
            namespace: self.namespace.clone(),
            separate: self.separate,
        }
    }

    /// Every file formatted as `kiln fmt` does.
    fn formatted(&self) -> Project {
        self.edited(|_, t| kiln_lang::format::format_source(kiln_lang::FileId(0), t).expect("formats"))
    }

    /// A comment line added at the top of every file (line numbers in the trace move).
    fn commented(&self) -> Project {
        self.edited(|_, t| format!("# a comment that changes no object\n{t}"))
    }

    /// Files in reverse order, and each file's top-level declarations rotated by one (the
    /// import stays first): the same objects, declared in another order.
    fn reordered(&self) -> Project {
        let mut p = self.edited(|_, t| rotate_declarations(t));
        p.files.reverse();
        p
    }
}

fn compile(prefix: &str, files: &[(String, String)]) -> Vec<Manifest> {
    let mut loader = MemoryLoader::new();
    let mut roots = Vec::new();
    for (name, text) in files {
        let path = format!("{prefix}{name}");
        loader.insert(&path, text);
        roots.push(path);
    }
    let compiled = kiln_compiler::compile(&loader, &roots, &kiln_compiler::Options::default());
    assert!(!compiled.has_errors(), "{:?}", compiled.diagnostics);
    let built = kiln_compiler::build::build(&compiled, None);
    assert!(
        built.diagnostics.iter().all(|d| !d.is_error()),
        "{:?}",
        built.diagnostics
    );
    built
        .manifests
        .iter()
        .map(|m| Manifest::new(m.value().clone()).unwrap())
        .collect()
}

/// Splits a file into blank-line-separated top-level blocks and moves the first declaration
/// block after the import to the end.
fn rotate_declarations(text: &str) -> String {
    let blocks: Vec<&str> = text.split("\n\n").collect();
    let import = blocks
        .iter()
        .position(|b| b.lines().any(|l| l.starts_with("import ")))
        .unwrap_or(0);
    let mut out: Vec<&str> = blocks[..=import].to_vec();
    let rest = &blocks[import + 1..];
    if rest.len() > 1 {
        out.extend(&rest[1..]);
        out.push(rest[0].trim_end());
    } else {
        out.extend(rest);
    }
    let mut s = out.join("\n\n");
    s.push('\n');
    s
}

struct Harness {
    cluster: Cluster,
    log: RequestLog,
    opts: Options,
    events: Arc<Mutex<Vec<Progress>>>,
}

impl Harness {
    async fn new(tc: &kiln_testsupport::TestCluster, project: &Project) -> Harness {
        kiln_testsupport::install_crds(tc.client()).await.unwrap();
        let (client, log) = counting(tc.client().clone());
        let mut opts = Options::new(ApplySetRef::new(&project.namespace, "kiln-system"));
        opts.policy.prune = true;
        let events = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&events);
        opts.progress = ProgressSink::new(move |e| sink.lock().unwrap().push(e.clone()));
        Harness {
            cluster: Cluster::new(client),
            log,
            opts,
            events,
        }
    }

    async fn apply(&mut self, desired: &[Manifest]) -> kiln_reconciler::Report {
        let report = kiln_reconciler::reconcile(&mut self.cluster, desired, &self.opts)
            .await
            .unwrap();
        for e in &report.errors {
            eprintln!("error: {e}");
        }
        report
    }

    async fn plan(&mut self, desired: &[Manifest]) -> kiln_reconciler::Planned {
        kiln_reconciler::plan_cluster(&mut self.cluster, desired, &self.opts)
            .await
            .unwrap()
    }

    fn writes_since(&self, from: usize) -> Vec<String> {
        self.log.records()[from..]
            .iter()
            .filter(|r| r.is_write())
            .map(|r| format!("{} {}", r.method, r.uri))
            .collect()
    }

    /// Plans `desired` and asserts: nothing would change, no dry run, no write request.
    async fn assert_noop_plan(&mut self, what: &str, desired: &[Manifest]) {
        let from = self.log.records().len();
        let planned = self.plan(desired).await;
        let changed: Vec<String> = planned
            .plan
            .changes
            .iter()
            .filter(|c| c.action != kiln_reconciler::Action::Unchanged)
            .map(|c| c.to_string())
            .collect();
        assert!(changed.is_empty(), "{what}: plan not clean: {changed:#?}");
        assert_eq!(planned.dry_runs, 0, "{what}: dry runs made");
        assert_eq!(
            kiln_reconciler::output::detailed_exit_code::<()>(&Ok(planned.plan.clone())),
            0,
            "{what}: --detailed-exitcode"
        );
        // And applying it writes nothing either.
        let report = kiln_reconciler::reconcile::apply_plan(&mut self.cluster, desired, planned, &self.opts)
            .await
            .unwrap();
        assert!(report.success(), "{what}: {:?}", report.errors);
        assert_eq!(
            self.writes_since(from),
            Vec::<String>::new(),
            "{what}: write requests"
        );
    }
}

/// Kiln-owned fields under `.spec`, `.data` or labels another manager could change, as (the owned
/// path, its new value). Inside a member owned as a whole (an atomic struct or list, a
/// preserve-unknown-fields subtree) one scalar is changed; ownership of the whole member then
/// moves, so the member is what a plan must name. Numbers are changed first (schemas rarely
/// restrict them), then quantities (`50Gi` -> `51Gi`), then other strings.
fn owned_leaves(live: &Value, body: &Value) -> Vec<(String, Value)> {
    let fields = kiln_reconciler::managed::fields_of(live, "kiln").expect("kiln owns fields");
    let (covered, _) = kiln_reconciler::managed::coverage(&fields, body);
    let mut out = Vec::new();
    for pass in [Scalar::Number, Scalar::Quantity, Scalar::Text] {
        for path in &covered {
            // Content fields, and labels (a PVC's spec is immutable once created).
            let content = path.starts_with(".spec")
                || path.starts_with(".data.")
                || path.starts_with(".metadata.labels.");
            if !content || path.contains('[') {
                continue;
            }
            let Some(v) = live.pointer(&path.replace('.', "/")) else {
                continue;
            };
            let mut v = v.clone();
            if mutate(&mut v, pass) {
                out.push((path.clone(), v));
            }
        }
    }
    out
}

#[derive(Clone, Copy, PartialEq)]
enum Scalar {
    Number,
    Quantity,
    Text,
}

/// Changes the first scalar of the given sort inside `v`; false when there is none.
fn mutate(v: &mut Value, sort: Scalar) -> bool {
    match v {
        Value::Number(n) if sort == Scalar::Number && n.is_u64() => {
            *v = json!(n.as_u64().unwrap_or(0) + 1);
            true
        }
        Value::String(s) if sort == Scalar::Quantity => {
            let digits: String = s.chars().take_while(char::is_ascii_digit).collect();
            match digits.parse::<u64>() {
                Ok(n) if !digits.is_empty() => {
                    *s = format!("{}{}", n + 1, &s[digits.len()..]);
                    true
                }
                _ => false,
            }
        }
        Value::String(s) if sort == Scalar::Text => {
            s.push('x');
            true
        }
        Value::Object(m) => m.values_mut().any(|c| mutate(c, sort)),
        Value::Array(items) => items.iter_mut().any(|c| mutate(c, sort)),
        _ => false,
    }
}

/// Builds a merge patch setting `path` (`.spec.a.b`) to `value`.
fn merge_patch(path: &str, value: Value) -> Value {
    let mut v = value;
    for key in path.trim_start_matches('.').rsplit('.') {
        v = json!({ key: v });
    }
    v
}

/// The whole story for one example: fresh apply with the namespace wait, no-op re-runs of
/// every kind of edit that changes no object, then true drift per kind.
async fn example_story(dir: &str, profile: &str, separate: bool) {
    let Some(tc) = kiln_testsupport::cluster().await else {
        return;
    };
    let project = Project::load(dir, profile, separate);
    let mut h = Harness::new(&tc, &project).await;
    let _controller = StandInProfileController::start(tc.client().clone(), &project.namespace);

    // 1. First apply to a fresh cluster: everything in the namespace waits for it. Kinds
    //    whose CRD is not among the upstream CRDs in ../shared cannot be served here.
    h.cluster.ensure_discovery().await.unwrap();
    let served_kinds: std::collections::BTreeSet<(String, String)> = project
        .compile("")
        .iter()
        .map(Manifest::id)
        .filter(|id| h.cluster.resolve_id(id).is_ok())
        .map(|id| (id.group, id.kind))
        .collect();
    let served = |m: &Manifest| served_kinds.contains(&(m.id().group, m.id().kind));
    let unserved: Vec<String> = project
        .compile("")
        .iter()
        .filter(|m| !served(m))
        .map(|m| m.id().to_string())
        .collect();
    if !unserved.is_empty() {
        eprintln!("not served by this cluster (no CRD in ../shared), left out: {unserved:?}");
    }
    let only_served = |v: Vec<Manifest>| -> Vec<Manifest> { v.into_iter().filter(|m| served(m)).collect() };
    let desired = only_served(project.compile(""));
    let report = h.apply(&desired).await;
    assert!(report.success(), "{:?}", report.errors);
    assert_eq!(report.applied.len(), desired.len());
    let events = h.events.lock().unwrap().clone();
    assert!(
        events.iter().any(
            |e| matches!(e, Progress::NamespaceWaiting { namespace, .. } if namespace == &project.namespace)
        ),
        "no wait was shown: {events:?}"
    );
    assert!(
        events
            .iter()
            .any(|e| matches!(e, Progress::NamespaceReady { .. })),
        "{events:?}"
    );

    // 2. The second apply writes nothing; neither do plans of edits that change no object.
    h.assert_noop_plan("second apply", &desired).await;
    h.assert_noop_plan(
        "another working directory",
        &only_served(project.compile("/home/someone/checkout/")),
    )
    .await;
    h.assert_noop_plan("comment-only edit", &only_served(project.commented().compile("")))
        .await;
    h.assert_noop_plan(
        "reordered declarations and files",
        &only_served(project.reordered().compile("")),
    )
    .await;
    h.assert_noop_plan("kiln fmt", &only_served(project.formatted().compile("")))
        .await;

    // 3. True drift, one kiln-owned field per kind, changed by another manager.
    let mut kinds_done = std::collections::BTreeSet::new();
    for m in &desired {
        let id = m.id();
        if kinds_done.contains(&id.kind) || kiln_reconciler::runs::id_is_run_like(&id) {
            // Runs are never updated in place (a changed run is a new run), so drift of a
            // run is not reverted; their no-op behaviour is covered above.
            continue;
        }
        let resolved = h.cluster.resolve_id(&id).unwrap();
        let api: Api<DynamicObject> = h.cluster.api(&resolved, &id.namespace);
        let live = serde_json::to_value(api.get(&id.name).await.unwrap()).unwrap();
        let body = kiln_reconciler::plan::apply_body(
            m,
            &kiln_reconciler::Inventory::empty(h.opts.applyset.clone()).id(),
        );
        let mut changed = None;
        let candidates = owned_leaves(&live, &body);
        for (path, value) in candidates.clone() {
            let patch = merge_patch(&path, value);
            let pp = PatchParams {
                field_manager: Some("drift-test".into()),
                ..Default::default()
            };
            if api.patch(&id.name, &pp, &Patch::Merge(&patch)).await.is_ok() {
                changed = Some(path);
                break;
            }
        }
        let Some(path) = changed else {
            let fields = kiln_reconciler::managed::fields_of(&live, "kiln");
            panic!(
                "{id}: no kiln-owned field another manager could change (tried {candidates:?}; kiln owns {fields:?})"
            );
        };
        let planned = h.plan(&desired).await;
        let c = planned.plan.get(&id).unwrap().clone();
        assert!(c.drift, "{id}: drift of {path} not seen: {c}");
        let others: Vec<String> = planned
            .plan
            .changes
            .iter()
            .filter(|x| x.id != id && x.action != kiln_reconciler::Action::Unchanged)
            .map(|x| x.to_string())
            .collect();
        assert!(others.is_empty(), "{id}: other objects changed: {others:?}");
        assert_eq!(
            c.reason.as_deref(),
            Some(format!("reverting drift: \"drift-test\" changed {path}").as_str()),
            "{id}"
        );
        let report = kiln_reconciler::reconcile::apply_plan(&mut h.cluster, &desired, planned, &h.opts)
            .await
            .unwrap();
        assert!(report.success(), "{id}: {:?}", report.errors);
        let restored = serde_json::to_value(api.get(&id.name).await.unwrap()).unwrap();
        let pointer = path.replace('.', "/");
        assert_eq!(
            restored.pointer(&pointer),
            live.pointer(&pointer),
            "{id}: {path} not restored"
        );
        h.assert_noop_plan(&format!("after restoring {id}"), &desired)
            .await;
        kinds_done.insert(id.kind.clone());
    }
    eprintln!("drift checked for kinds: {kinds_done:?}");
}

#[tokio::test]
async fn team_example_fresh_apply_noop_reruns_and_drift() {
    example_story("team", "team-churn", false).await;
}

#[tokio::test]
async fn every_golden_kind_fresh_apply_noop_reruns_and_drift() {
    example_story("kinds", "team-vision", true).await;
}

#[tokio::test]
async fn a_profile_namespace_that_never_appears_is_one_error_and_nothing_in_it_is_attempted() {
    let Some(tc) = kiln_testsupport::cluster().await else {
        return;
    };
    let project = Project::load("team", "team-churn", false);
    let mut h = Harness::new(&tc, &project).await;
    h.opts.namespace_timeout = Duration::from_secs(3);
    // No stand-in controller: nobody creates the namespace.
    let desired = project.compile("");
    let report = h.apply(&desired).await;
    assert_eq!(report.errors.len(), 1, "{:?}", report.errors);
    let text = report.errors[0].to_string();
    let ns = &project.namespace;
    assert!(
        text.contains(&format!(
            "Profile {ns} was applied, but namespace {ns} did not appear within 3s: Kubeflow's profile controller creates it; is it running?"
        )),
        "{text}"
    );
    let attempted: Vec<String> = h
        .writes_since(0)
        .into_iter()
        .filter(|w| w.contains(&format!("/namespaces/{ns}/")))
        .collect();
    assert!(
        attempted.is_empty(),
        "written into the missing namespace: {attempted:?}"
    );
    assert_eq!(report.applied.len(), 1, "only the Profile: {:?}", report.applied);
    // kiln never creates a Profile's namespace itself.
    let ns_api: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(tc.client().clone());
    assert!(ns_api.get_opt(ns).await.unwrap().is_none());
}

/// Polls until `id` no longer exists (deletion goes through finalizers, the garbage collector
/// and namespace termination of kube-controller-manager), up to `timeout`; false if it stays.
async fn gone(cluster: &Cluster, id: &kiln_reconciler::ObjectId, timeout: Duration) -> bool {
    let resolved = cluster.resolve_id(id).unwrap();
    let api: Api<DynamicObject> = cluster.api(&resolved, &id.namespace);
    let deadline = std::time::Instant::now() + timeout;
    loop {
        if api.get_opt(&id.name).await.unwrap().is_none() {
            return true;
        }
        if std::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

async fn exists(cluster: &Cluster, id: &kiln_reconciler::ObjectId) -> bool {
    let resolved = cluster.resolve_id(id).unwrap();
    let api: Api<DynamicObject> = cluster.api(&resolved, &id.namespace);
    api.get_opt(&id.name).await.unwrap().is_some()
}

/// Prune of the team example on the real control plane (kube-controller-manager running):
/// everything but the Profile removed from the spec is really gone from the cluster, the
/// workspace PVC is kept (and so is the Profile whose namespace holds it); only with
/// `allow_prune_protected` do the Profile and the PVC go, and its namespace, owned by the
/// Profile, is collected and finishes terminating.
#[tokio::test]
async fn team_example_prune_deletes_for_real_and_keeps_the_pvc_and_its_namespace() {
    let Some(tc) = kiln_testsupport::cluster().await else {
        return;
    };
    let project = Project::load("team", "team-churn", false);
    let mut h = Harness::new(&tc, &project).await;
    let _controller = StandInProfileController::start(tc.client().clone(), &project.namespace);
    let desired = project.compile("");
    let report = h.apply(&desired).await;
    assert!(report.success(), "{:?}", report.errors);
    let is = |m: &Manifest, kind: &str| m.id().kind == kind;
    let profile = desired.iter().find(|m| is(m, "Profile")).expect("a Profile").id();
    let pvc = desired
        .iter()
        .find(|m| is(m, "PersistentVolumeClaim"))
        .expect("the notebook's workspace PVC")
        .id();

    // 1. Only the Profile stays in the spec: the rest is pruned, the PVC kept.
    h.opts.policy.allow_mass_prune = true;
    let only_profile: Vec<Manifest> = desired.iter().filter(|m| is(m, "Profile")).cloned().collect();
    let report = h.apply(&only_profile).await;
    assert!(report.success(), "{:?}", report.errors);
    // Every object that left the spec is planned as a prune and pruned, of every kind
    // (Experiment and ScheduledWorkflow included: their kubeflow.org version is not the
    // group's preferred one), except the PVC.
    let mut expected: Vec<_> = desired
        .iter()
        .map(Manifest::id)
        .filter(|id| *id != profile && *id != pvc)
        .collect();
    expected.sort();
    let mut planned: Vec<_> = report
        .plan
        .changes
        .iter()
        .filter(|c| c.action == kiln_reconciler::Action::Prune)
        .map(|c| c.id.clone())
        .collect();
    planned.sort();
    assert_eq!(planned, expected, "{}", report.plan);
    let mut pruned = report.pruned.clone();
    pruned.sort();
    assert_eq!(pruned, expected, "{}", report.plan);
    for id in &expected {
        assert!(
            gone(&h.cluster, id, Duration::from_secs(30)).await,
            "{id} still exists"
        );
    }
    let kept = report.plan.get(&pvc).unwrap();
    assert_eq!(kept.action, kiln_reconciler::Action::KeepProtected, "{kept}");
    assert!(exists(&h.cluster, &pvc).await, "the PVC was deleted");

    // 2. The Profile removed too: kept, since deleting it would take its namespace and the
    //    PVC in it.
    let report = h.apply(&[]).await;
    assert!(report.success(), "{:?}", report.errors);
    let line = report.plan.get(&profile).unwrap().to_string();
    assert!(
        line.contains(&format!(
            "keep-protected (namespace {ns} still holds PersistentVolumeClaim/{ns}/",
            ns = project.namespace
        )),
        "{line}"
    );
    assert!(report.pruned.is_empty(), "{:?}", report.pruned);
    assert!(exists(&h.cluster, &profile).await && exists(&h.cluster, &pvc).await);

    // 3. Opted in: the Profile and the PVC go, and the namespace is collected and terminates.
    h.opts.policy.allow_prune_protected = true;
    let report = h.apply(&[]).await;
    assert!(report.success(), "{:?}", report.errors);
    assert_eq!(report.pruned.len(), 2, "{:?}", report.pruned);
    let namespace = kiln_reconciler::ObjectId {
        group: String::new(),
        version: "v1".into(),
        kind: "Namespace".into(),
        namespace: String::new(),
        name: project.namespace.clone(),
    };
    for id in [&pvc, &profile, &namespace] {
        assert!(
            gone(&h.cluster, id, Duration::from_secs(90)).await,
            "{id} still exists"
        );
    }
}
