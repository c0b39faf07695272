//! What the controller knows, per app and about itself: served as `GET /status`, and written
//! where kubectl reads it.
//!
//! Per app, the status goes on the app's ApplySet parent ConfigMap (`kiln-<applyset>`) as
//! `status.kiln.dev/*` annotations, with field manager `kiln-controller` (a JSON merge patch, so
//! a parent that does not exist yet is not created half-made: the reconciler creates it on the
//! first apply):
//!
//! ```text
//! kubectl -n kiln-system get configmap kiln-team-a -o jsonpath='{.metadata.annotations}'
//! ```
//!
//! Events (`kubectl events -n kiln-system --for configmap/kiln-team-a`) go on the parent for
//! every outcome (Applied, Pruned, Refused, DriftCorrected, ReconcileFailed, Orphaned, Removed)
//! and on the objects
//! written, up to [`MAX_OBJECT_EVENTS`] per reconcile so a first apply of thousands of objects does
//! not flood the API server.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use k8s_openapi::api::core::v1::{ConfigMap, ObjectReference};
use kiln_reconciler::{ApplySetRef, ObjectId};
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use serde::Serialize;
use serde_json::json;

/// Per-object Events per reconcile, at most.
pub const MAX_OBJECT_EVENTS: usize = 50;
/// The field manager of the status annotations.
pub const STATUS_MANAGER: &str = "kiln-controller";
/// Annotation prefix of the status on the ApplySet parent.
pub const PREFIX: &str = "status.kiln.dev/";

/// Ready / Reconciling / Stalled, as Flux's conditions.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub enum Condition {
    /// Not yet reconciled at the current commit.
    #[default]
    Reconciling,
    /// The cluster matches the last good commit's app.
    Ready,
    /// The last attempt failed (compile error, refused prune, apply error); retried with backoff.
    Stalled,
    /// Removed from kiln.toml while its objects were kept (no `prune_removed_apps`): nothing
    /// reconciles them any more.
    Orphaned,
}

impl Condition {
    pub fn as_str(self) -> &'static str {
        match self {
            Condition::Reconciling => "Reconciling",
            Condition::Ready => "Ready",
            Condition::Stalled => "Stalled",
            Condition::Orphaned => "Orphaned",
        }
    }
}

/// One app's status.
#[derive(Debug, Clone, Default, Serialize)]
pub struct AppStatus {
    pub name: String,
    pub applyset: String,
    pub applyset_namespace: String,
    pub condition: Condition,
    pub message: String,
    /// The commit whose objects are on the cluster (the last good one).
    pub last_applied_commit: Option<String>,
    /// The last commit tried (may be a broken one).
    pub last_attempted_commit: Option<String>,
    /// Counts of the last reconcile.
    pub applied: usize,
    pub unchanged: usize,
    pub pruned: usize,
    pub last_error: Option<String>,
    /// Times the app was compiled since the controller started (not reused).
    pub compiles: u64,
    /// Reconciles since the controller started (resyncs included).
    pub reconciles: u64,
    /// Consecutive failures (the backoff exponent).
    pub failures: u32,
    /// Objects written (applied or pruned) since the controller started.
    pub objects_written: u64,
    /// RFC 3339.
    pub last_sync: Option<String>,
}

/// The controller's own state, with every app's.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Status {
    pub identity: String,
    pub leader: bool,
    pub repo: String,
    pub branch: String,
    /// The head of the branch at the last fetch.
    pub head: Option<String>,
    pub fetches: u64,
    pub last_fetch: Option<String>,
    pub last_fetch_error: Option<String>,
    pub last_webhook: Option<String>,
    pub webhooks: u64,
    /// Why the head as a whole was refused (no or bad kiln.toml, an unsigned or untrusted
    /// signature), if it was.
    pub head_error: Option<String>,
    /// Who signed the last head taken (with `--verify-commits`): principals, key type and
    /// fingerprint.
    pub head_signer: Option<String>,
    /// Once the first fetch and compile succeeded.
    pub ready: bool,
    /// Every write to the API server since start, by what was written.
    pub writes: WriteCounts,
    /// Why the apps managed before this process started could not be looked for, if so.
    pub orphan_scan_error: Option<String>,
    /// API discoveries made since start (one serves every app until the next head, a failed
    /// run, or the resync interval).
    pub discoveries: u64,
    pub apps: BTreeMap<String, AppStatus>,
}

/// Writes to the API server, counted where they are made (the Lease's renewals aside): objects
/// applied or pruned, status annotation patches, Events (a repeated Event is a patch).
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct WriteCounts {
    pub objects: u64,
    pub annotations: u64,
    pub events: u64,
}

/// The key of an app's parent in the cache of what was last written to it.
fn parent_key(s: &AppStatus) -> String {
    let name = ApplySetRef::new(&s.applyset, &s.applyset_namespace)
        .object_id()
        .name;
    format!("{}/{name}", s.applyset_namespace)
}

/// RFC 3339 now.
pub fn now() -> String {
    k8s_openapi::jiff::Timestamp::now().to_string()
}

/// Writes status annotations and Events.
#[derive(Clone)]
pub struct Publisher {
    client: kube::Client,
    recorder: Recorder,
    /// Annotations last written per parent, without `last-sync`: a status that did not change
    /// is not written again, so a resync without drift writes nothing.
    written: Arc<Mutex<HashMap<String, serde_json::Value>>>,
    pub followed: String,
    /// Counts of annotation patches and Events.
    pub annotations: Arc<AtomicU64>,
    pub events: Arc<AtomicU64>,
}

impl Publisher {
    /// `followed` names the repository and branch (the `followed` annotation on each parent,
    /// by which a restarted controller finds the apps it managed).
    pub fn new(client: kube::Client, identity: &str, followed: &str) -> Publisher {
        let reporter = Reporter {
            controller: "kiln-controller".into(),
            instance: Some(identity.to_string()),
        };
        Publisher {
            recorder: Recorder::new(client.clone(), reporter),
            client,
            written: Arc::default(),
            followed: followed.to_string(),
            annotations: Arc::default(),
            events: Arc::default(),
        }
    }

    /// Puts the status on the app's ApplySet parent, when the parent exists and the status
    /// changed since it was last put there (`last-sync` alone does not count: /status and the
    /// metric have every sync). Returns whether the parent holds it.
    pub async fn annotate(&self, s: &AppStatus) -> bool {
        let a = |k: &str| format!("{PREFIX}{k}");
        let patch = json!({"metadata": {"annotations": {
            a("app"): s.name,
            a("applyset"): s.applyset,
            a("followed"): self.followed,
            a("condition"): s.condition.as_str(),
            a("message"): s.message,
            a("last-applied-commit"): s.last_applied_commit,
            a("last-attempted-commit"): s.last_attempted_commit,
            a("objects"): format!("applied={} unchanged={} pruned={}", s.applied, s.unchanged, s.pruned),
            a("last-error"): s.last_error,
            a("last-sync"): s.last_sync,
        }}});
        let key = parent_key(s);
        let mut compared = patch.clone();
        if let Some(a) = compared["metadata"]["annotations"].as_object_mut() {
            a.remove(&format!("{PREFIX}last-sync"));
        }
        if self.lock().get(&key) == Some(&compared) {
            return true;
        }
        let ok = self.patch_parent(s, &patch).await;
        if ok {
            self.lock().insert(key, compared);
        }
        ok
    }

    /// Merge-patches the app's ApplySet parent as the status manager; counts the write.
    async fn patch_parent(&self, s: &AppStatus, patch: &serde_json::Value) -> bool {
        let api: Api<ConfigMap> = Api::namespaced(self.client.clone(), &s.applyset_namespace);
        let name = ApplySetRef::new(&s.applyset, &s.applyset_namespace)
            .object_id()
            .name;
        let pp = PatchParams {
            field_manager: Some(STATUS_MANAGER.into()),
            ..PatchParams::default()
        };
        let ok = api.patch(&name, &pp, &Patch::Merge(patch)).await.is_ok();
        if ok {
            self.annotations.fetch_add(1, Ordering::Relaxed);
        }
        ok
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, serde_json::Value>> {
        self.written.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Marks a removed app's parent as no longer followed (after its objects were pruned), so a
    /// restarted controller does not take it for an app to remove again.
    pub async fn disown(&self, s: &AppStatus, message: &str) {
        let a = |k: &str| format!("{PREFIX}{k}");
        let patch = json!({"metadata": {"annotations": {
            a("followed"): null,
            a("condition"): "Removed",
            a("message"): message,
        }}});
        self.patch_parent(s, &patch).await;
        self.lock().remove(&parent_key(s));
    }

    /// Apps this controller (the same repository and branch) put its status on, by the
    /// annotations of their ApplySet parents, in any namespace: `(app, applyset, namespace)`.
    pub async fn managed_apps(&self) -> Result<Vec<(String, String, String)>, kube::Error> {
        let api: Api<ConfigMap> = Api::all(self.client.clone());
        let lp = kube::api::ListParams::default().labels(kiln_reconciler::inventory::ID_LABEL);
        let parents = api.list_metadata(&lp).await?;
        let a = |k: &str| format!("{PREFIX}{k}");
        Ok(parents
            .items
            .into_iter()
            .filter_map(|p| {
                let ann = p.metadata.annotations?;
                if ann.get(&a("followed")) != Some(&self.followed) {
                    return None;
                }
                Some((
                    ann.get(&a("app"))?.clone(),
                    ann.get(&a("applyset"))?.clone(),
                    p.metadata.namespace?,
                ))
            })
            .collect())
    }

    /// An Event on the app's ApplySet parent.
    pub async fn parent_event(&self, s: &AppStatus, warning: bool, reason: &str, note: String) {
        let parent = ApplySetRef::new(&s.applyset, &s.applyset_namespace).object_id();
        self.event(&parent, warning, reason, "Reconcile", note).await;
    }

    /// An Event on one object (`Applied`, `Pruned`, `DriftCorrected`).
    pub async fn event(&self, id: &ObjectId, warning: bool, reason: &str, action: &str, note: String) {
        let api_version = if id.group.is_empty() {
            id.version.clone()
        } else {
            format!("{}/{}", id.group, id.version)
        };
        let reference = ObjectReference {
            api_version: Some(api_version),
            kind: Some(id.kind.clone()),
            name: Some(id.name.clone()),
            namespace: (!id.namespace.is_empty()).then(|| id.namespace.clone()),
            ..ObjectReference::default()
        };
        let ev = Event {
            type_: if warning {
                EventType::Warning
            } else {
                EventType::Normal
            },
            reason: reason.into(),
            // Events bound their note at 1 KiB.
            note: Some(truncate(&note, 1000)),
            action: action.into(),
            secondary: None,
        };
        // An Event that cannot be written is not a reason to stop reconciling.
        if self.recorder.publish(&ev, &reference).await.is_ok() {
            self.events.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// At most `max` bytes, cut at a character boundary.
pub fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}
