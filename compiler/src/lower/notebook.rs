//! `notebook.Notebook` -> kubeflow.org/v1 Notebook (+ its workspace PersistentVolumeClaim
//! `<name>-workspace`, a separate object so that it outlives the notebook), and
//! `notebook.PodDefault` -> kubeflow.org/v1alpha1 PodDefault.

use serde_json::{Map, Value, json};

use super::codes;
use super::pod::{ContainerSpec, Usage, pod_spec, usage as res_usage, volume};
use super::refs::{ObjectRef, names, other_namespace};
use super::{LowerContext, LowerError, LowerInput, boolean, check_name, list, metadata_with, obj, s};

/// Where Kubeflow notebook images keep the user's home.
const HOME: &str = "/home/jovyan";

/// The requests of a running notebook (its fields are a flat `core.Resources`).
pub fn usage(v: &Value, gpu_resource: &str) -> Usage {
    res_usage(Some(v), gpu_resource)
}

pub fn lower(input: &LowerInput, ctx: &LowerContext, errs: &mut Vec<LowerError>) -> Vec<Value> {
    // The notebook controller names a StatefulSet and Service after the notebook.
    check_name(input, 52, errs);
    let v = input.value;
    let mut labels = Map::new();
    let ns = s(v, "namespace");
    for (i, pd) in names(v, "pod_defaults") {
        // A PodDefault applies to pods that carry the label it selects; the Notebook UI's
        // convention (and kiln's PodDefault lowering) is the PodDefault's name.
        let reference = ObjectRef {
            what: "PodDefault",
            name: &pd,
            pointer: format!("/pod_defaults/{i}"),
            code: codes::UNKNOWN_OBJECT_REFERENCE,
        };
        reference.resolve(ctx.declared("PodDefault"), |o| other_namespace(o, ns), errs);
        labels.insert(pd, json!("true"));
    }
    let mut annotations = Map::new();
    if let Some(c) = s(v, "creator") {
        annotations.insert("notebooks.kubeflow.org/creator".into(), json!(c));
    }
    if let Some(t) = s(v, "server_type") {
        annotations.insert("notebooks.kubeflow.org/server-type".into(), json!(t));
    }
    if boolean(v, "stopped") == Some(true) {
        annotations.insert("kubeflow-resource-stopped".into(), json!("true"));
    }

    // Resources: the notebook's flat fields form a core.Resources record.
    let mut res = Map::new();
    for k in ["cpu", "memory", "gpu", "shm", "limits"] {
        if let Some(x) = v.get(k) {
            res.insert(k.into(), x.clone());
        }
    }
    let res = Value::Object(res);
    let mut spec = ContainerSpec {
        name: Some(s(v, "container_name").unwrap_or(input.name)),
        image: v.get("image"),
        pull_policy: v.get("pull_policy"),
        command: v.get("command"),
        args: v.get("args"),
        env: v.get("env"),
        resources: Some(&res),
        ..ContainerSpec::default()
    };
    spec.volumes = list(v, "volumes").map(|l| l.iter().collect()).unwrap_or_default();
    let mut parts = spec.lower(input.name, "", "", ctx, errs);
    let mut out = Vec::new();
    if let Some(size) = v.get("workspace") {
        let claim = format!("{}-workspace", input.name);
        let (vol, mount) = volume(&json!({
            "name": "workspace",
            "path": HOME,
            "source": {"Pvc": {"claim": claim}},
        }));
        if let Some(c) = parts.container.as_object_mut() {
            let mounts = c.entry("volumeMounts").or_insert_with(|| json!([]));
            if let Some(m) = mounts.as_array_mut() {
                m.insert(0, mount);
            }
        }
        parts.placement.volumes.insert(0, vol);
        let mut pvc_spec = Map::new();
        pvc_spec.insert("accessModes".into(), json!(["ReadWriteOnce"]));
        pvc_spec.insert("resources".into(), json!({"requests": {"storage": size}}));
        if let Some(sc) = v.get("workspace_class") {
            pvc_spec.insert("storageClassName".into(), sc.clone());
        }
        let mut meta = Map::new();
        meta.insert("name".into(), json!(claim));
        if let Some(ns) = v.get("namespace") {
            meta.insert("namespace".into(), ns.clone());
        }
        meta.insert("labels".into(), json!({"notebook-name": input.name}));
        out.push(
            json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": meta, "spec": pvc_spec}),
        );
    }
    let settings = Value::Object(super::renamed(v, &[("service_account", "service_account")]));
    let pod = pod_spec(vec![parts.container], &parts.placement, Some(&settings), None);
    let notebook = json!({
        "apiVersion": format!("kubeflow.org/{}", s(v, "api_version").unwrap_or("v1")),
        "kind": "Notebook",
        "metadata": metadata_with(input, true, labels, annotations),
        "spec": {"template": {"spec": pod}},
    });
    out.insert(0, notebook);
    out
}

pub fn lower_pod_default(input: &LowerInput, _ctx: &LowerContext, errs: &mut Vec<LowerError>) -> Vec<Value> {
    check_name(input, 63, errs);
    let v = input.value;
    let selector = s(v, "selector").unwrap_or(input.name);
    let mut spec = Map::new();
    spec.insert("desc".into(), v.get("desc").cloned().unwrap_or(json!("")));
    spec.insert("selector".into(), json!({"matchLabels": {selector: "true"}}));
    if let Some(sa) = v.get("service_account") {
        spec.insert("serviceAccountName".into(), sa.clone());
    }
    if let Some(e) = v.get("env") {
        let (env, from) = super::pod::env(e);
        if !env.is_empty() {
            spec.insert("env".into(), Value::Array(env));
        }
        if !from.is_empty() {
            spec.insert("envFrom".into(), Value::Array(from));
        }
    }
    if let Some(vols) = list(v, "volumes") {
        let (vs, ms): (Vec<Value>, Vec<Value>) = vols.iter().map(volume).unzip();
        spec.insert("volumes".into(), Value::Array(vs));
        spec.insert("volumeMounts".into(), Value::Array(ms));
    }
    if let Some(l) = obj(v, "labels") {
        spec.insert("labels".into(), Value::Object(l.clone()));
    }
    if let Some(a) = obj(v, "annotations") {
        spec.insert("annotations".into(), Value::Object(a.clone()));
    }
    for k in ["command", "args"] {
        if let Some(x) = v.get(k) {
            spec.insert(k.into(), x.clone());
        }
    }
    let mut meta = Map::new();
    meta.insert("name".into(), json!(input.name));
    if let Some(ns) = v.get("namespace") {
        meta.insert("namespace".into(), ns.clone());
    }
    vec![json!({"apiVersion": "kubeflow.org/v1alpha1", "kind": "PodDefault", "metadata": meta, "spec": spec})]
}

#[cfg(test)]
mod tests {
    use super::super::{LowerContext, codes, lower_one};
    use serde_json::json;

    fn a100_pool() -> serde_json::Value {
        json!({"accelerator": {"resource": "nvidia.com/gpu", "model": "a100-80gb"}, "per_node": 8, "cpu": "96", "memory": "1Ti", "labels": {}, "taints": [{"key": "gpu", "effect": "NoSchedule"}]})
    }

    #[test]
    fn gpu_notebook_with_workspace() {
        let v = json!({
            "namespace": "team-churn", "image": "ghcr.io/acme/jupyter-torch:2.4",
            "cpu": "4", "memory": "16Gi",
            "gpu": {"accelerator": {"resource": "nvidia.com/gpu", "model": "a100-80gb"}, "count": 1, "pool": a100_pool()},
            "workspace": "50Gi", "volumes": [], "pod_defaults": ["access-ml-pipeline"],
            "env": {"values": {"A": "1"}}, "server_type": "jupyter", "service_account": "default-editor", "stopped": false,
            "labels": {}, "annotations": {}
        });
        let out = lower_one("kubeflow.Notebook", "churn-dev", &v, &LowerContext::default()).unwrap();
        assert_eq!(out.len(), 2);
        assert_eq!(
            out[0],
            json!({
                "apiVersion": "kubeflow.org/v1", "kind": "Notebook",
                "metadata": {"name": "churn-dev", "namespace": "team-churn",
                    "labels": {"access-ml-pipeline": "true"},
                    "annotations": {"notebooks.kubeflow.org/server-type": "jupyter"}},
                "spec": {"template": {"spec": {
                    "containers": [{
                        "name": "churn-dev", "image": "ghcr.io/acme/jupyter-torch:2.4",
                        "env": [{"name": "A", "value": "1"}],
                        "resources": {"limits": {"nvidia.com/gpu": 1}, "requests": {"cpu": "4", "memory": "16Gi", "nvidia.com/gpu": 1}},
                        "volumeMounts": [{"mountPath": "/home/jovyan", "name": "workspace"}]
                    }],
                    "serviceAccountName": "default-editor",
                    "nodeSelector": {"nvidia.com/gpu.product": "a100-80gb"},
                    "tolerations": [{"key": "gpu", "operator": "Exists", "effect": "NoSchedule"}],
                    "volumes": [{"name": "workspace", "persistentVolumeClaim": {"claimName": "churn-dev-workspace"}}]
                }}}
            })
        );
        assert_eq!(out[1]["kind"], "PersistentVolumeClaim");
        assert_eq!(out[1]["metadata"]["name"], "churn-dev-workspace");
        assert_eq!(out[1]["spec"]["resources"]["requests"]["storage"], "50Gi");
    }

    #[test]
    fn gpu_model_must_exist_in_a_declared_pool() {
        let ctx = LowerContext::new(vec![("kubeflow.NodePool", "a100", a100_pool())]);
        let v = json!({"image": "x", "gpu": {"accelerator": {"resource": "nvidia.com/gpu", "model": "a100-80g"}, "count": 1}});
        let err = lower_one("kubeflow.Notebook", "nb", &v, &ctx).unwrap_err();
        assert_eq!(err[0].code, codes::GPU_MODEL_UNKNOWN);
        assert_eq!(err[0].pointer, "/gpu/accelerator");
        assert!(
            err[0]
                .help
                .as_deref()
                .unwrap()
                .contains("did you mean `a100-80gb`")
        );
    }

    #[test]
    fn gpus_must_fit_on_one_node() {
        let ctx = LowerContext::new(vec![("kubeflow.NodePool", "a100", a100_pool())]);
        let v = json!({"image": "x", "memory": "2Ti", "gpu": {"accelerator": {"resource": "nvidia.com/gpu", "model": "a100-80gb"}, "count": 16}});
        let err = lower_one("kubeflow.Notebook", "nb", &v, &ctx).unwrap_err();
        assert_eq!(err[0].code, codes::DOES_NOT_FIT_NODE);
        assert_eq!(
            err[0].message,
            "one pod requests 16 accelerators but a node of node pool `a100` has 8"
        );
        assert_eq!(
            err[1].message,
            "one pod requests 2Ti memory but a node of node pool `a100` has 1Ti"
        );
    }

    #[test]
    fn limits_below_requests_are_errors() {
        let v = json!({"image": "x", "cpu": "2", "limits": {"cpu": "1"}});
        let err = lower_one("kubeflow.Notebook", "nb", &v, &LowerContext::default()).unwrap_err();
        assert_eq!(err[0].code, codes::LIMIT_BELOW_REQUEST);
        assert_eq!(err[0].pointer, "/limits/cpu");
    }

    #[test]
    fn names_must_be_dns_labels() {
        let v = json!({"image": "x"});
        let err = lower_one("kubeflow.Notebook", "Churn_Dev", &v, &LowerContext::default()).unwrap_err();
        assert_eq!(err[0].code, codes::INVALID_NAME);
        assert!(err[0].help.as_deref().unwrap().contains("churn-dev"));
    }

    #[test]
    fn pod_default_lowers_env_and_token_volume() {
        let v = json!({"namespace": "kubeflow-user-example-com", "desc": "Allow access to Kubeflow Pipelines",
            "env": {"values": {"KF_PIPELINES_SA_TOKEN_PATH": "/var/run/secrets/kubeflow/pipelines/token"}},
            "volumes": [{"name": "volume-kf-pipeline-token", "path": "/var/run/secrets/kubeflow/pipelines",
                "source": {"ServiceAccountToken": {"token_path": "token", "audience": "pipelines.kubeflow.org", "expiration": "2h0m0s"}}}]});
        let out = lower_one(
            "kubeflow.PodDefault",
            "access-ml-pipeline",
            &v,
            &LowerContext::default(),
        )
        .unwrap();
        assert_eq!(
            out[0]["spec"]["selector"],
            json!({"matchLabels": {"access-ml-pipeline": "true"}})
        );
        assert_eq!(
            out[0]["spec"]["volumes"][0],
            json!({"name": "volume-kf-pipeline-token", "projected": {"sources": [{"serviceAccountToken": {"path": "token", "expirationSeconds": 7200, "audience": "pipelines.kubeflow.org"}}]}})
        );
        assert_eq!(out[0]["spec"]["volumeMounts"][0]["readOnly"], true);
    }
}
