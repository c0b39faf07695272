//! **A stand-in for Kubeflow's profile controller** (an external controller that the Go
//! module proxy does not serve, so it cannot be built here). It does the one thing of the
//! real controller that kiln depends on: a few seconds after a `Profile` appears, it creates
//! the Profile's namespace (named like the Profile, owned by it through an ownerReference, as
//! the real one does), so tests see namespaces appear the way they do on a Kubeflow cluster.
//! It does not create the RBAC, quotas or Istio objects the real controller also makes.
//!
//! It is the smallest loop that does this: poll the Profiles every 250 ms, remember when each
//! was first seen, create its namespace once [`StandInProfileController::delay`] has passed.
//! Only Profiles whose name starts with the given prefix are handled, so tests sharing a
//! cluster do not act on each other's Profiles. Dropping the handle stops the loop.

use k8s_openapi::api::core::v1::Namespace;
use kube::Client;
use kube::api::{Api, ApiResource, DynamicObject, ListParams, PostParams};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// The running stand-in; stops when dropped.
pub struct StandInProfileController {
    task: tokio::task::JoinHandle<()>,
}

impl StandInProfileController {
    /// How long after a Profile appears its namespace is created (the real controller takes
    /// a moment too: it reconciles RBAC and quotas first).
    pub fn delay() -> Duration {
        Duration::from_secs(2)
    }

    /// Starts the loop for Profiles named `<prefix>...` (on the current tokio runtime).
    pub fn start(client: Client, prefix: &str) -> StandInProfileController {
        let prefix = prefix.to_string();
        let task = tokio::spawn(async move { run(client, prefix).await });
        StandInProfileController { task }
    }
}

impl Drop for StandInProfileController {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn run(client: Client, prefix: String) {
    let ar = ApiResource {
        group: "kubeflow.org".into(),
        version: "v1".into(),
        api_version: "kubeflow.org/v1".into(),
        kind: "Profile".into(),
        plural: "profiles".into(),
    };
    let profiles: Api<DynamicObject> = Api::all_with(client.clone(), &ar);
    let namespaces: Api<Namespace> = Api::all(client);
    let mut first_seen: BTreeMap<String, Instant> = BTreeMap::new();
    loop {
        if let Ok(list) = profiles.list(&ListParams::default()).await {
            for p in list.items {
                let Some(name) = p.metadata.name.clone() else {
                    continue;
                };
                if !name.starts_with(&prefix) || p.metadata.deletion_timestamp.is_some() {
                    continue;
                }
                let seen = *first_seen.entry(name.clone()).or_insert_with(Instant::now);
                if seen.elapsed() < StandInProfileController::delay() {
                    continue;
                }
                if matches!(namespaces.get_opt(&name).await, Ok(None)) {
                    let ns: Namespace = serde_json::from_value(serde_json::json!({
                        "apiVersion": "v1", "kind": "Namespace",
                        "metadata": {
                            "name": name,
                            "annotations": {"owner": p.data.pointer("/spec/owner/name").and_then(|v| v.as_str()).unwrap_or("")},
                            "labels": {"app.kubernetes.io/part-of": "kubeflow-profile"},
                            "ownerReferences": [{
                                "apiVersion": "kubeflow.org/v1", "kind": "Profile", "name": name,
                                "uid": p.metadata.uid.clone().unwrap_or_default(),
                                "controller": true, "blockOwnerDeletion": true,
                            }],
                        },
                    }))
                    .expect("static namespace object");
                    let _ = namespaces.create(&PostParams::default(), &ns).await;
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}
