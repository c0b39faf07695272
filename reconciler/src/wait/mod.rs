//! Waiting until applied objects are healthy, with a timeout that reports the object's own
//! condition message.
//!
//! Objects are polled (one GET each per round, concurrently) rather than watched: waits are
//! short, and polling needs no watch permission. A `Failed` health ends the wait for that
//! object at once; a timeout reports the last message each pending object gave.

pub mod health;

use crate::cluster::{Cluster, bounded};
use crate::error::{Cause, ReconcileError};
use crate::object::ObjectId;
use crate::progress::{Progress, ProgressSink};
use health::{Health, health};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// How often pending objects are polled.
pub const POLL: Duration = Duration::from_millis(500);

/// Waits until every object is healthy. Returns one error per object that failed or was
/// still not healthy at the deadline (empty when all are healthy).
///
/// Each change of an object's health (the first observation included) is sent to `progress`.
pub async fn wait_healthy(
    cluster: &Cluster,
    ids: &[ObjectId],
    timeout: Duration,
    progress: &ProgressSink,
) -> Vec<ReconcileError> {
    let mut last: BTreeMap<ObjectId, Health> = BTreeMap::new();
    let mut observe = |id: &ObjectId, h: &Health| {
        if last.get(id) != Some(h) {
            last.insert(id.clone(), h.clone());
            progress.send(Progress::Health {
                id: id.clone(),
                health: h.clone(),
            });
        }
    };
    let deadline = Instant::now() + timeout;
    let mut pending: Vec<(ObjectId, String)> = ids
        .iter()
        .map(|id| (id.clone(), "not checked yet".to_string()))
        .collect();
    let mut errors = Vec::new();
    loop {
        let mut jobs = Vec::new();
        for (id, _) in &pending {
            match cluster.resolve_id(id) {
                Ok(r) => jobs.push((cluster.api(&r, &id.namespace), id.clone())),
                Err(e) => errors.push(e),
            }
        }
        let results = bounded(jobs, |(api, id)| async move {
            let res = api.get_opt(&id.name).await;
            (id, res)
        })
        .await;
        let mut still = Vec::new();
        for (id, res) in results {
            match res {
                Ok(Some(obj)) => {
                    let v = serde_json::to_value(obj).expect("objects serialise");
                    let h = health(&id, &v);
                    observe(&id, &h);
                    match h {
                        Health::Ready | Health::Succeeded => {}
                        Health::Failed { message } => errors.push(ReconcileError::object(
                            &id,
                            "wait",
                            Cause::Other {
                                detail: format!("the object reports failure: {message}"),
                            },
                        )),
                        Health::Progressing { message } => still.push((id, message)),
                    }
                }
                Ok(None) => {
                    let message = "the object does not exist".to_string();
                    observe(
                        &id,
                        &Health::Progressing {
                            message: message.clone(),
                        },
                    );
                    still.push((id, message));
                }
                Err(e) => errors.push(ReconcileError::kube(Some(&id), "wait", &e)),
            }
        }
        pending = still;
        if pending.is_empty() {
            return errors;
        }
        if Instant::now() >= deadline {
            for (id, message) in pending {
                errors.push(ReconcileError::object(
                    &id,
                    "wait",
                    Cause::Timeout {
                        detail: format!("not healthy after {}s; last status: {message}", timeout.as_secs()),
                    },
                ));
            }
            return errors;
        }
        tokio::time::sleep(POLL).await;
    }
}
