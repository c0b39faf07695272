//! Kubeflow Profiles and the namespaces their controller creates.
//!
//! A Profile's namespace (named like the Profile) is created by Kubeflow's profile controller
//! after the Profile exists; the controller refuses a namespace it does not own, so kiln never
//! creates it. Objects declared in such a namespace are applied once it exists: the
//! Profile goes in the first stage, then [`await_namespaces`] waits (bounded, reporting
//! [`Progress`] events), then the later stages run. When a namespace does not appear in
//! time, one error says so and why, and nothing in that namespace is attempted. A plain
//! `Namespace` in the spec is applied in the first stage as before and needs no wait.

use crate::cluster::Cluster;
use crate::error::{Cause, ReconcileError};
use crate::object::ObjectId;
use crate::progress::{Progress, ProgressSink};
use k8s_openapi::api::core::v1::Namespace;
use kube::Api;
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

/// How often a missing namespace is looked for.
pub const POLL: Duration = Duration::from_millis(250);

/// Whether an id is a Kubeflow Profile.
pub fn is_profile(id: &ObjectId) -> bool {
    id.group == "kubeflow.org" && id.kind == "Profile"
}

/// The namespaces desired Profiles bring, each with its Profile.
pub fn profile_namespaces<'a>(ids: impl IntoIterator<Item = &'a ObjectId>) -> BTreeMap<String, ObjectId> {
    ids.into_iter()
        .filter(|id| is_profile(id))
        .map(|id| (id.name.clone(), id.clone()))
        .collect()
}

/// One namespace to wait for.
#[derive(Debug, Clone)]
pub struct NamespaceWait {
    pub namespace: String,
    pub profile: ObjectId,
    /// Objects that wait for it.
    pub objects: usize,
}

/// The error for a namespace that did not appear.
pub fn missing_namespace_error(wait: &NamespaceWait, timeout: Duration) -> ReconcileError {
    ReconcileError::object(
        &wait.profile,
        "wait for its namespace",
        Cause::Timeout {
            detail: format!(
                "Profile {p} was applied, but namespace {ns} did not appear within {t}: Kubeflow's profile controller creates it; is it running? Nothing in namespace {ns} was attempted ({n} object{plural})",
                p = wait.profile.name,
                ns = wait.namespace,
                t = human_duration(timeout),
                n = wait.objects,
                plural = if wait.objects == 1 { "" } else { "s" },
            ),
        },
    )
}

/// A timeout as people write it: `500ms`, `60s`, `5m`, `1m30s`.
pub fn human_duration(d: Duration) -> String {
    let secs = d.as_secs();
    if secs == 0 {
        return format!("{}ms", d.as_millis());
    }
    match (secs / 60, secs % 60) {
        (0, s) => format!("{s}s"),
        (m, 0) if m >= 2 => format!("{m}m"),
        (1, 0) => "60s".to_string(),
        (m, s) => format!("{m}m{s}s"),
    }
}

/// Waits until every namespace exists and is not terminating, up to `timeout` in all.
/// Returns the namespaces that did not appear, with one error each. A namespace that is
/// already there costs one GET and sends no event.
pub async fn await_namespaces(
    cluster: &Cluster,
    waits: &[NamespaceWait],
    timeout: Duration,
    progress: &ProgressSink,
) -> (BTreeSet<String>, Vec<ReconcileError>) {
    let api: Api<Namespace> = Api::all(cluster.client().clone());
    let start = Instant::now();
    let mut pending: Vec<&NamespaceWait> = waits.iter().collect();
    let mut announced: BTreeSet<String> = BTreeSet::new();
    let mut errors = Vec::new();
    let mut missing = BTreeSet::new();
    loop {
        let mut still = Vec::new();
        for w in pending {
            match api.get_opt(&w.namespace).await {
                Ok(Some(ns)) if !terminating(&ns) => {
                    if announced.contains(&w.namespace) {
                        progress.send(Progress::NamespaceReady {
                            namespace: w.namespace.clone(),
                            after: start.elapsed(),
                        });
                    }
                }
                Ok(_) => {
                    if announced.insert(w.namespace.clone()) {
                        progress.send(Progress::NamespaceWaiting {
                            namespace: w.namespace.clone(),
                            profile: w.profile.clone(),
                            objects: w.objects,
                            timeout,
                        });
                    }
                    still.push(w);
                }
                Err(e) => {
                    errors.push(ReconcileError::kube(
                        Some(&w.profile),
                        "wait for its namespace",
                        &e,
                    ));
                    missing.insert(w.namespace.clone());
                }
            }
        }
        pending = still;
        if pending.is_empty() {
            return (missing, errors);
        }
        if start.elapsed() >= timeout {
            for w in pending {
                progress.send(Progress::NamespaceMissing {
                    namespace: w.namespace.clone(),
                });
                errors.push(missing_namespace_error(w, timeout));
                missing.insert(w.namespace.clone());
            }
            return (missing, errors);
        }
        tokio::time::sleep(POLL).await;
    }
}

fn terminating(ns: &Namespace) -> bool {
    ns.metadata.deletion_timestamp.is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(kind: &str, group: &str, ns: &str, name: &str) -> ObjectId {
        ObjectId {
            group: group.into(),
            version: "v1".into(),
            kind: kind.into(),
            namespace: ns.into(),
            name: name.into(),
        }
    }

    #[test]
    fn profiles_bring_their_namespace_and_namespaces_do_not() {
        let ids = [
            id("Profile", "kubeflow.org", "", "team-a"),
            id("Namespace", "", "", "plain"),
            id("Notebook", "kubeflow.org", "team-a", "nb"),
        ];
        let m = profile_namespaces(&ids);
        assert_eq!(m.keys().collect::<Vec<_>>(), ["team-a"]);
    }

    #[test]
    fn timeouts_read_as_written() {
        assert_eq!(human_duration(Duration::from_secs(60)), "60s");
        assert_eq!(human_duration(Duration::from_secs(300)), "5m");
        assert_eq!(human_duration(Duration::from_secs(90)), "1m30s");
        assert_eq!(human_duration(Duration::from_millis(500)), "500ms");
        assert_eq!(human_duration(Duration::from_secs(3)), "3s");
    }

    #[test]
    fn the_error_says_what_waited_and_why() {
        let w = NamespaceWait {
            namespace: "team-churn".into(),
            profile: id("Profile", "kubeflow.org", "", "team-churn"),
            objects: 8,
        };
        let text = missing_namespace_error(&w, Duration::from_secs(60)).to_string();
        assert!(
            text.contains("Profile team-churn was applied, but namespace team-churn did not appear within 60s: Kubeflow's profile controller creates it; is it running?"),
            "{text}"
        );
        assert!(
            text.contains("Nothing in namespace team-churn was attempted (8 objects)"),
            "{text}"
        );
    }
}
