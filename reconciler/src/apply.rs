//! Apply: server-side apply with field manager `kiln`, one request per object that changes.
//!
//! Conflicts come back as one-paragraph errors naming the other manager and its fields
//! ([`crate::error`]); `force` is set only where the plan says so (drift reclaim or
//! `force_conflicts`). A recreate deletes the live object (guarded by its uid), waits until it
//! is gone and applies again. There is no retry loop: a rejected apply is reported, and the
//! next run, which starts from a fresh plan, converges. Once a request finds the API server
//! unreachable (or the credentials rejected), no further request of the stage is sent, and
//! those failures are reported as one error counting the objects not applied.

use crate::cluster::{Cluster, bounded};
use crate::error::{Cause, ReconcileError, fold_run_ending};
use crate::live::apply_params;
use crate::object::ObjectId;
use kube::api::{DeleteParams, Patch, Preconditions};
use serde_json::Value;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// One object to write.
#[derive(Debug, Clone)]
pub struct ApplyItem {
    pub id: ObjectId,
    /// The body from [`crate::plan::apply_body`].
    pub body: Value,
    pub force: bool,
    /// For a recreate: the uid of the live object to delete first.
    pub recreate_uid: Option<String>,
}

/// Applies the items concurrently (they belong to one stage, so none depends on another).
/// Returns the stored objects and the failures; after a run-ending failure
/// ([`Cause::ends_run`]) the items not yet sent are not sent, and the failures of that cause
/// are folded into one ([`fold_run_ending`]).
pub async fn apply_all(
    cluster: &Cluster,
    items: Vec<ApplyItem>,
    delete_timeout: Duration,
) -> (Vec<(ObjectId, Value)>, Vec<ReconcileError>) {
    let mut jobs = Vec::new();
    let mut errors = Vec::new();
    for item in items {
        match cluster.resolve_id(&item.id) {
            Ok(r) => jobs.push((cluster.api(&r, &item.id.namespace), item)),
            Err(e) => errors.push(e),
        }
    }
    // Set by the first run-ending failure: an API server that went away would otherwise get
    // one more request per remaining object (each waiting out a connect timeout if the host
    // is gone rather than refusing).
    let stop = Arc::new(AtomicBool::new(false));
    let results = bounded(jobs, |(api, item)| {
        let stop = Arc::clone(&stop);
        async move {
            if stop.load(Ordering::SeqCst) {
                return None;
            }
            let result = apply_one(&api, &item, delete_timeout).await;
            if let Err(e) = &result
                && e.cause.ends_run()
            {
                stop.store(true, Ordering::SeqCst);
            }
            Some(result)
        }
    })
    .await;
    let mut applied = Vec::new();
    let mut not_sent = 0;
    for r in results {
        match r {
            Some(Ok(ok)) => applied.push(ok),
            Some(Err(e)) => errors.push(e),
            None => not_sent += 1,
        }
    }
    (applied, fold_run_ending(errors, not_sent))
}

/// Applies one item (deleting the old copy first for a recreate).
async fn apply_one(
    api: &kube::Api<kube::api::DynamicObject>,
    item: &ApplyItem,
    delete_timeout: Duration,
) -> Result<(ObjectId, Value), ReconcileError> {
    if let Some(uid) = &item.recreate_uid {
        let dp = DeleteParams {
            preconditions: Some(Preconditions {
                uid: Some(uid.clone()),
                resource_version: None,
            }),
            ..DeleteParams::background()
        };
        match api.delete(&item.id.name, &dp).await {
            Ok(_) => {}
            Err(kube::Error::Api(s)) if s.code == 404 => {}
            Err(e) => {
                return Err(ReconcileError::kube(Some(&item.id), "delete (recreate)", &e));
            }
        }
        if !gone(api, &item.id.name, delete_timeout).await {
            return Err(ReconcileError::object(
                &item.id,
                "recreate",
                Cause::Timeout {
                    detail: format!(
                        "the old object was deleted but still exists after {}s (a finalizer may hold it); nothing new was created",
                        delete_timeout.as_secs()
                    ),
                },
            ));
        }
    }
    let pp = apply_params(item.force, false);
    api.patch(&item.id.name, &pp, &Patch::Apply(&item.body))
        .await
        .map(|obj| {
            (
                item.id.clone(),
                serde_json::to_value(obj).expect("objects serialise"),
            )
        })
        .map_err(|e| ReconcileError::kube(Some(&item.id), "apply", &e))
}

/// Polls until the object no longer exists, up to `timeout`.
async fn gone(api: &kube::Api<kube::api::DynamicObject>, name: &str, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        match api.get_opt(name).await {
            Ok(None) => return true,
            Ok(Some(_)) | Err(_) if Instant::now() >= deadline => return false,
            _ => tokio::time::sleep(Duration::from_millis(250)).await,
        }
    }
}
