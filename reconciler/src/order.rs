//! The fixed apply order: which stage each kind belongs to.
//!
//! Objects are applied stage by stage so that what others depend on exists first:
//! namespaces (and Kubeflow Profiles, which create namespaces), then CRDs (the engine waits
//! for them to be Established before any custom resource is sent), then RBAC and policy,
//! ConfigMaps, Secrets, storage, serving runtimes and templates, workloads, and finally
//! run-like objects (training jobs, experiments, pipeline versions), which consume
//! everything before them. Deletions walk the same order backwards, so a namespace is
//! never removed before what lives in it. Inside a stage the order is by
//! group, kind, namespace and name, so plans print the same on every run.

use crate::object::ObjectId;
use serde::Serialize;

/// The stages, in apply order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Stage {
    Namespaces,
    Crds,
    Rbac,
    ConfigMaps,
    Secrets,
    Storage,
    ServingRuntimes,
    Workloads,
    Runs,
}

/// The stage of a group/kind.
pub fn stage(group: &str, kind: &str) -> Stage {
    match (group, kind) {
        ("", "Namespace") | ("kubeflow.org", "Profile") => Stage::Namespaces,
        ("apiextensions.k8s.io", "CustomResourceDefinition") => Stage::Crds,
        ("", "ServiceAccount")
        | ("", "ResourceQuota")
        | ("", "LimitRange")
        | ("rbac.authorization.k8s.io", _)
        | ("scheduling.k8s.io", "PriorityClass") => Stage::Rbac,
        ("", "ConfigMap") => Stage::ConfigMaps,
        ("", "Secret") => Stage::Secrets,
        ("", "PersistentVolume") | ("", "PersistentVolumeClaim") | ("storage.k8s.io", "StorageClass") => {
            Stage::Storage
        }
        // Things other workloads refer to by name: serving runtimes, pod defaults (applied
        // to notebook pods at admission, so they must exist first), workflow templates and
        // pipelines (which pipeline versions and cron workflows point at).
        ("serving.kserve.io", "ServingRuntime" | "ClusterServingRuntime")
        | ("kubeflow.org", "PodDefault")
        | ("argoproj.io", "WorkflowTemplate" | "ClusterWorkflowTemplate")
        | ("pipelines.kubeflow.org", "Pipeline") => Stage::ServingRuntimes,
        _ if crate::runs::is_run_like(group, kind) => Stage::Runs,
        _ => Stage::Workloads,
    }
}

/// The apply-order sort key of an object.
pub fn apply_key(id: &ObjectId) -> (Stage, &str, &str, &str, &str) {
    (
        stage(&id.group, &id.kind),
        &id.group,
        &id.kind,
        &id.namespace,
        &id.name,
    )
}

/// Sorts ids into apply order.
pub fn sort_for_apply(ids: &mut [ObjectId]) {
    ids.sort_by(|a, b| apply_key(a).cmp(&apply_key(b)));
}

/// Sorts ids into deletion order (apply order reversed).
pub fn sort_for_delete(ids: &mut [ObjectId]) {
    ids.sort_by(|a, b| apply_key(b).cmp(&apply_key(a)));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(group: &str, kind: &str, ns: &str, name: &str) -> ObjectId {
        ObjectId {
            group: group.into(),
            version: "v1".into(),
            kind: kind.into(),
            namespace: ns.into(),
            name: name.into(),
        }
    }

    #[test]
    fn stages_follow_dependencies() {
        let mut ids = vec![
            id("kubeflow.org", "PyTorchJob", "t", "train-1a2b"),
            id("apps", "Deployment", "t", "web"),
            id("serving.kserve.io", "ServingRuntime", "t", "rt"),
            id("", "PersistentVolumeClaim", "t", "ws"),
            id("", "Secret", "t", "creds"),
            id("", "ConfigMap", "t", "cfg"),
            id("rbac.authorization.k8s.io", "RoleBinding", "t", "rb"),
            id(
                "apiextensions.k8s.io",
                "CustomResourceDefinition",
                "",
                "x.example.com",
            ),
            id("", "Namespace", "", "t"),
            id("serving.kserve.io", "InferenceService", "t", "isvc"),
        ];
        sort_for_apply(&mut ids);
        let kinds: Vec<&str> = ids.iter().map(|i| i.kind.as_str()).collect();
        assert_eq!(
            kinds,
            [
                "Namespace",
                "CustomResourceDefinition",
                "RoleBinding",
                "ConfigMap",
                "Secret",
                "PersistentVolumeClaim",
                "ServingRuntime",
                "Deployment",
                "InferenceService",
                "PyTorchJob"
            ]
        );
        sort_for_delete(&mut ids);
        assert_eq!(ids.first().unwrap().kind, "PyTorchJob");
        assert_eq!(ids.last().unwrap().kind, "Namespace");
    }

    #[test]
    fn order_inside_a_stage_is_by_name() {
        let mut ids = vec![
            id("", "ConfigMap", "b", "z"),
            id("", "ConfigMap", "a", "y"),
            id("", "ConfigMap", "a", "x"),
        ];
        sort_for_apply(&mut ids);
        let names: Vec<String> = ids.iter().map(|i| i.to_string()).collect();
        assert_eq!(names, ["ConfigMap/a/x", "ConfigMap/a/y", "ConfigMap/b/z"]);
    }
}
