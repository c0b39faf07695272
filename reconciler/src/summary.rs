//! A create's one-line summary (pure): what a reviewer wants to see of a new object without its
//! whole manifest, such as `image ghcr.io/acme/train:1.2, cpu 4, memory 16Gi, nvidia.com/gpu 1`.
//!
//! One mechanism for every kind, read from the manifest's shape rather than per kind: container
//! images (every `image` string, in order, each once), the resources of the first `resources`
//! block (requests, then limits not already named; a PVC's `storage` too), `replicas` when more
//! than one, a cron schedule, and for ConfigMaps and Secrets the number of keys (never a value).
//! Fields named by `kiln.dev/secret-fields` are masked first, so a summary never shows them.

use crate::diff::{mask, secret_pointers};
use crate::object::ObjectId;
use serde_json::Value;

/// At most this many images are named; the rest are counted.
const MAX_IMAGES: usize = 2;

/// The summary of a new object, or `None` when nothing short says more than its kind and name.
pub fn create_summary(id: &ObjectId, body: &Value) -> Option<String> {
    let mut masked = body.clone();
    let mut other = Value::Null;
    mask(&mut masked, &mut other, &secret_pointers(id, &[body]));
    let mut parts = Vec::new();
    if id.group.is_empty() && matches!(id.kind.as_str(), "ConfigMap" | "Secret") {
        let keys: usize = ["data", "stringData", "binaryData"]
            .iter()
            .filter_map(|f| masked.get(*f).and_then(Value::as_object))
            .map(|m| m.len())
            .sum();
        parts.push(format!("{keys} key{}", if keys == 1 { "" } else { "s" }));
    }
    let spec = masked.get("spec").unwrap_or(&Value::Null);
    let mut images = Vec::new();
    collect_images(spec, &mut images);
    match images.len() {
        0 => {}
        n if n <= MAX_IMAGES => parts.push(format!("image {}", images.join(", "))),
        n => parts.push(format!(
            "image {} and {} more",
            images[..MAX_IMAGES].join(", "),
            n - MAX_IMAGES
        )),
    }
    if let Some(resources) = first_key(spec, "resources") {
        let mut named: Vec<String> = Vec::new();
        for side in ["requests", "limits"] {
            if let Some(m) = resources.get(side).and_then(Value::as_object) {
                for (k, v) in m {
                    if !named.iter().any(|n| n.starts_with(&format!("{k} "))) {
                        named.push(format!("{k} {}", scalar(v)));
                    }
                }
            }
        }
        parts.extend(named);
    }
    if let Some(n) = first_key(spec, "replicas").and_then(Value::as_i64)
        && n > 1
    {
        parts.push(format!("replicas {n}"));
    }
    if let Some(cron) = first_key(spec, "cron")
        .or_else(|| first_key(spec, "schedule"))
        .and_then(Value::as_str)
    {
        parts.push(format!("schedule \"{cron}\""));
    }
    (!parts.is_empty()).then(|| parts.join(", "))
}

fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Every string under a key `image`, depth first in document order, each once.
fn collect_images(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, child) in m {
                match child {
                    Value::String(s) if k == "image" => {
                        if !out.contains(s) {
                            out.push(s.clone());
                        }
                    }
                    _ => collect_images(child, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|i| collect_images(i, out)),
        _ => {}
    }
}

/// The first value under `key`, depth first in document order.
fn first_key<'a>(v: &'a Value, key: &str) -> Option<&'a Value> {
    match v {
        Value::Object(m) => m
            .get(key)
            .or_else(|| m.values().find_map(|child| first_key(child, key))),
        Value::Array(items) => items.iter().find_map(|i| first_key(i, key)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn summary(v: Value) -> Option<String> {
        create_summary(&ObjectId::from_value(&v).unwrap(), &v)
    }

    #[test]
    fn a_notebook_shows_its_image_and_resources() {
        let nb = json!({"apiVersion": "kubeflow.org/v1", "kind": "Notebook",
            "metadata": {"name": "dev", "namespace": "team"},
            "spec": {"template": {"spec": {"containers": [{"name": "notebook", "image": "ghcr.io/acme/jupyter:2.4",
                "resources": {"requests": {"cpu": "4", "memory": "16Gi"},
                              "limits": {"memory": "16Gi", "nvidia.com/gpu": "1"}}}]}}}});
        assert_eq!(
            summary(nb).as_deref(),
            Some("image ghcr.io/acme/jupyter:2.4, cpu 4, memory 16Gi, nvidia.com/gpu 1")
        );
    }

    #[test]
    fn config_maps_count_keys_and_secrets_never_show_values() {
        let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "n"},
            "data": {"a": "1", "b": "2"}});
        assert_eq!(summary(cm).as_deref(), Some("2 keys"));
        let secret = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": "n"},
            "stringData": {"token": "hunter2"}});
        assert_eq!(summary(secret).as_deref(), Some("1 key"));
        // A secret field of another kind is masked before anything is read.
        let isvc = json!({"apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceService",
            "metadata": {"name": "m", "namespace": "n", "annotations": {"kiln.dev/secret-fields": "/spec/predictor/image"}},
            "spec": {"predictor": {"image": "registry/with-token-hunter2:1"}}});
        let s = summary(isvc).unwrap();
        assert!(!s.contains("hunter2"), "{s}");
    }

    #[test]
    fn many_images_are_counted_and_objects_without_shape_have_none() {
        let wf = json!({"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow", "metadata": {"name": "w", "namespace": "n"},
            "spec": {"templates": [{"container": {"image": "a"}}, {"container": {"image": "b"}},
                                   {"container": {"image": "a"}}, {"container": {"image": "c"}}],
                     "schedule": "0 3 * * *"}});
        assert_eq!(
            summary(wf).as_deref(),
            Some("image a, b and 1 more, schedule \"0 3 * * *\"")
        );
        let profile = json!({"apiVersion": "kubeflow.org/v1", "kind": "Profile", "metadata": {"name": "p"},
            "spec": {"owner": {"kind": "User", "name": "alice"}}});
        assert_eq!(summary(profile), None);
        let pvc = json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "w", "namespace": "n"},
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "50Gi"}}}});
        assert_eq!(summary(pvc).as_deref(), Some("storage 50Gi"));
    }
}
