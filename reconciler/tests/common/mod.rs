//! Desired objects shared by the reconciler's integration tests.

use kiln_reconciler::Manifest;
use serde_json::{Value, json};

/// A ConfigMap `ns/name` with `data`.
pub fn cm(ns: &str, name: &str, data: Value) -> Manifest {
    Manifest::new(json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": ns},
        "data": data,
    }))
    .unwrap()
}

/// The PVC `ns/workspace` (kept when it leaves the desired set, unlike other objects).
pub fn pvc(ns: &str) -> Manifest {
    Manifest::new(json!({
        "apiVersion": "v1", "kind": "PersistentVolumeClaim",
        "metadata": {"name": "workspace", "namespace": ns},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
    }))
    .unwrap()
}
