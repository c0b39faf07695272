//! `training.TrainJob` -> trainer.kubeflow.org/v1alpha1 TrainJob (run-like: content-derived
//! name), and `training.TrainingRuntime` -> TrainingRuntime / ClusterTrainingRuntime.

use serde_json::{Map, Value, json};

use super::codes;
use super::pod::{ContainerSpec, pod_spec, resources};
use super::refs::{ObjectRef, other_namespace, well_known};
use super::{
    LowerContext, LowerError, LowerInput, boolean, check_name, int, list, metadata, metadata_with, obj, s,
};

/// `{apiVersion, kind, spec}` of a TrainJob (no metadata); `p` points at the job record.
pub fn job_body(v: &Value, p: &str, ctx: &LowerContext, errs: &mut Vec<LowerError>) -> Value {
    let mut spec = Map::new();
    check_procs(v, p, errs);
    if let Some(r) = v.get("runtime") {
        check_runtime_ref(v, r, p, ctx, errs);
        spec.insert(
            "runtimeRef".into(),
            json!({
                "apiGroup": s(r, "api_group").unwrap_or("trainer.kubeflow.org"),
                "kind": s(r, "kind").unwrap_or("ClusterTrainingRuntime"),
                "name": r.get("name"),
            }),
        );
    }
    let mut init = Map::new();
    for k in ["dataset", "model"] {
        if let Some(i) = v.get(k) {
            let mut m = Map::new();
            m.insert(
                "storageUri".into(),
                i.get("storage_uri").cloned().unwrap_or(Value::Null),
            );
            if let Some(env) = obj(i, "env") {
                m.insert(
                    "env".into(),
                    Value::Array(env.iter().map(|(k, v)| json!({"name": k, "value": v})).collect()),
                );
            }
            if let Some(sec) = i.get("secret") {
                m.insert("secretRef".into(), json!({"name": sec}));
            }
            init.insert(k.into(), Value::Object(m));
        }
    }
    if !init.is_empty() {
        spec.insert("initializer".into(), Value::Object(init));
    }
    let mut trainer = Map::new();
    super::copy(&mut trainer, v, "nodes", "numNodes");
    super::copy(&mut trainer, v, "image", "image");
    super::copy(&mut trainer, v, "command", "command");
    super::copy(&mut trainer, v, "args", "args");
    if let Some(env) = obj(v, "env") {
        trainer.insert(
            "env".into(),
            Value::Array(env.iter().map(|(k, v)| json!({"name": k, "value": v})).collect()),
        );
    }
    if let Some(n) = v.get("procs_per_node") {
        trainer.insert("numProcPerNode".into(), n.clone());
    }
    let mut placement = None;
    if let Some(r) = v.get("resources_per_node") {
        let (res, pl) = resources(r, &super::ptr(p, "resources_per_node"), ctx, errs);
        if let Some(res) = res {
            trainer.insert("resourcesPerNode".into(), res);
        }
        placement = Some(pl);
    }
    if !trainer.is_empty() {
        spec.insert("trainer".into(), Value::Object(trainer));
    }
    super::copy(&mut spec, v, "suspend", "suspend");
    if let Some(patch) = placement.as_ref().and_then(placement_patch) {
        spec.insert("runtimePatches".into(), json!([patch]));
    }
    json!({"apiVersion": "trainer.kubeflow.org/v1alpha1", "kind": "TrainJob", "spec": spec})
}

/// The name of the runtime's trainer job and container (the `node` step of every upstream
/// runtime), which `resources_per_node` sizes.
const TRAINER_NODE: &str = "node";

/// What the trainer pods need besides their resources (the GPU pool's nodeSelector and
/// tolerations, the shared-memory volume) as a `runtimePatches` entry on the runtime's `node`
/// job, the way Trainer v2 lets a TrainJob place its pods; `None` when nothing is needed.
fn placement_patch(pl: &super::pod::Placement) -> Option<Value> {
    let mut pod = Map::new();
    if !pl.node_selector.is_empty() {
        pod.insert("nodeSelector".into(), Value::Object(pl.node_selector.clone()));
    }
    if !pl.tolerations.is_empty() {
        pod.insert("tolerations".into(), Value::Array(pl.tolerations.clone()));
    }
    if let Some(size) = &pl.shm {
        let (vol, mount) = super::pod::shm_volume(size, &[]);
        pod.insert("volumes".into(), json!([vol]));
        pod.insert(
            "containers".into(),
            json!([{"name": TRAINER_NODE, "volumeMounts": [mount]}]),
        );
    }
    if pod.is_empty() {
        return None;
    }
    Some(json!({
        "manager": "kiln.dev/placement",
        "trainingRuntimeSpec": {"template": {"spec": {"replicatedJobs": [{
            "name": TRAINER_NODE,
            "template": {"spec": {"template": {"spec": pod}}},
        }]}}},
    }))
}

/// Requests of all nodes of a TrainJob (for quota): nodes x resources per node.
pub fn job_usage(v: &Value, gpu_resource: &str) -> super::pod::Usage {
    super::pod::usage(v.get("resources_per_node"), gpu_resource).times(int(v, "nodes").unwrap_or(1))
}

/// The runtime a job names: one the project declares must have the scope `runtime.kind` asks for
/// (a namespaced one in the job's namespace); a misspelled declared name is an error (the job would
/// wait for a runtime that never appears). Other names are runtimes installed in the cluster.
fn check_runtime_ref(job: &Value, r: &Value, p: &str, ctx: &LowerContext, errs: &mut Vec<LowerError>) {
    let Some(name) = s(r, "name") else { return };
    let wants_cluster = s(r, "kind").unwrap_or("ClusterTrainingRuntime") == "ClusterTrainingRuntime";
    let ns = s(job, "namespace");
    let reference = ObjectRef {
        what: "training runtime",
        name,
        pointer: format!("{p}/runtime/name"),
        code: codes::UNKNOWN_OBJECT_REFERENCE,
    };
    let declared = ctx.declared("TrainingRuntime");
    reference.resolve(
        declared,
        |o| match (wants_cluster, boolean(&o.value, "cluster") == Some(true)) {
            (true, false) => Some(
                "it is a namespaced TrainingRuntime and `runtime.kind` is `ClusterTrainingRuntime` \
                 (the default): set `kind = \"TrainingRuntime\"`"
                    .into(),
            ),
            (false, true) => Some(
                "it is a ClusterTrainingRuntime (`cluster = true`) and `runtime.kind` is `TrainingRuntime`"
                    .into(),
            ),
            (false, false) => other_namespace(o, ns),
            (true, true) => None,
        },
        errs,
    );
}

/// K0811: torchrun starts `procs_per_node` processes per node, one per GPU; another number
/// leaves GPUs idle or makes processes share one (as TrainingJob's `procs_per_worker`).
fn check_procs(job: &Value, p: &str, errs: &mut Vec<LowerError>) {
    let gpus = job
        .get("resources_per_node")
        .and_then(|r| r.get("gpu"))
        .map(|g| int(g, "count").unwrap_or(1));
    if let (Some(procs), Some(g)) = (int(job, "procs_per_node"), gpus)
        && procs != g
    {
        errs.push(
            LowerError::new(
                codes::WORLD_SIZE_MISMATCH,
                format!("{p}/procs_per_node"),
                format!("each node runs {procs} processes but has {g} GPUs"),
            )
            .with_help(format!("run one process per GPU: procs_per_node = {g}")),
        );
    }
}

/// The values upstream runtimes give the `trainer.kubeflow.org/framework` label.
const FRAMEWORKS: &[&str] = &["torch", "deepspeed", "mlx", "jax", "xgboost", "torchtune"];

pub fn lower(input: &LowerInput, ctx: &LowerContext, errs: &mut Vec<LowerError>) -> Vec<Value> {
    check_name(input, 40, errs);
    let body = job_body(input.value, "", ctx, errs);
    let obj = json!({
        "apiVersion": body["apiVersion"],
        "kind": body["kind"],
        "metadata": metadata(input, true),
        "spec": body["spec"],
    });
    vec![super::name_run_of(input, obj)]
}

pub fn lower_runtime(input: &LowerInput, ctx: &LowerContext, errs: &mut Vec<LowerError>) -> Vec<Value> {
    check_name(input, 63, errs);
    let v = input.value;
    let cluster = boolean(v, "cluster") == Some(true);
    let mut labels = Map::new();
    if let Some(f) = s(v, "framework") {
        well_known("framework", f, FRAMEWORKS, "/framework".into(), errs);
        labels.insert("trainer.kubeflow.org/framework".into(), json!(f));
    }
    let mut policy = Map::new();
    policy.insert("numNodes".into(), v.get("nodes").cloned().unwrap_or(json!(1)));
    match s(v, "policy").unwrap_or("torch") {
        "torch" => {
            let mut t = Map::new();
            super::copy(&mut t, v, "procs_per_node", "numProcPerNode");
            policy.insert("torch".into(), Value::Object(t));
        }
        "mpi" => {
            let mut t = Map::new();
            super::copy(&mut t, v, "procs_per_node", "numProcPerNode");
            policy.insert("mpi".into(), Value::Object(t));
        }
        _ => {}
    }
    let mut jobs = Vec::new();
    for (i, step) in list(v, "steps").into_iter().flatten().enumerate() {
        let p = format!("/steps/{i}");
        let name = s(step, "name").unwrap_or("node");
        let c = step.get("container").cloned().unwrap_or(json!({}));
        let parts = ContainerSpec::of(&c).lower(name, &p, &format!("{p}/container/resources"), ctx, errs);
        let pod = pod_spec(
            vec![parts.container],
            &parts.placement,
            None,
            s(step, "restart_policy"),
        );
        let mut rj = Map::new();
        rj.insert("name".into(), json!(name));
        if let Some(deps) = list(step, "depends_on") {
            rj.insert(
                "dependsOn".into(),
                Value::Array(
                    deps.iter()
                        .map(|d| json!({"name": d, "status": "Complete"}))
                        .collect(),
                ),
            );
        }
        super::copy(&mut rj, step, "replicas", "replicas");
        let mut tmpl = Map::new();
        if let Some(a) = s(step, "ancestor_step") {
            tmpl.insert(
                "metadata".into(),
                json!({"labels": {"trainer.kubeflow.org/trainjob-ancestor-step": a}}),
            );
        }
        tmpl.insert("spec".into(), json!({"template": {"spec": pod}}));
        rj.insert("template".into(), Value::Object(tmpl));
        jobs.push(Value::Object(rj));
    }
    let kind = if cluster {
        "ClusterTrainingRuntime"
    } else {
        "TrainingRuntime"
    };
    vec![json!({
        "apiVersion": "trainer.kubeflow.org/v1alpha1",
        "kind": kind,
        "metadata": metadata_with(input, !cluster, labels, Map::new()),
        "spec": {"mlPolicy": policy, "template": {"spec": {"replicatedJobs": jobs}}},
    })]
}

#[cfg(test)]
mod tests {
    use super::super::{LowerContext, lower_one};
    use serde_json::json;

    #[test]
    fn trainjob_with_runtime_and_initializer() {
        let v = json!({"runtime": {"name": "torch-with-dataset-init", "kind": "TrainingRuntime", "api_group": "trainer.kubeflow.org"},
            "command": ["python3", "-c", "print(1)"], "env": {}, "nodes": 2,
            "resources_per_node": {"cpu": "2", "memory": "4Gi", "limits": {"cpu": "4", "memory": "8Gi"}},
            "dataset": {"storage_uri": "hf://tatsu-lab/alpaca", "env": {}}, "labels": {}, "annotations": {}});
        let out = lower_one(
            "kubeflow.TrainJob",
            "multi-step-example",
            &v,
            &LowerContext::default(),
        )
        .unwrap();
        assert_eq!(
            out[0]["spec"],
            json!({
                "runtimeRef": {"apiGroup": "trainer.kubeflow.org", "kind": "TrainingRuntime", "name": "torch-with-dataset-init"},
                "initializer": {"dataset": {"storageUri": "hf://tatsu-lab/alpaca"}},
                "trainer": {"numNodes": 2, "command": ["python3", "-c", "print(1)"],
                    "resourcesPerNode": {"limits": {"cpu": "4", "memory": "8Gi"}, "requests": {"cpu": "2", "memory": "4Gi"}}}
            })
        );
        assert!(
            out[0]["metadata"]["name"]
                .as_str()
                .unwrap()
                .starts_with("multi-step-example-")
        );
    }

    #[test]
    fn runtime_lowers_replicated_jobs() {
        let v = json!({"cluster": false, "framework": "torch", "nodes": 1, "policy": "torch", "steps": [
            {"name": "dataset-initializer", "replicas": 1, "depends_on": [], "ancestor_step": "dataset-initializer",
             "container": {"name": "dataset-initializer", "image": "ghcr.io/kubeflow/trainer/dataset-initializer"}},
            {"name": "node", "depends_on": ["dataset-initializer"], "ancestor_step": "trainer",
             "container": {"name": "node", "image": "pytorch/pytorch:2.13.0-cuda13.0-cudnn9-runtime"}}
        ]});
        let out = lower_one(
            "kubeflow.TrainingRuntime",
            "torch-with-dataset-init",
            &v,
            &LowerContext::default(),
        )
        .unwrap();
        assert_eq!(out[0]["kind"], "TrainingRuntime");
        assert_eq!(out[0]["spec"]["mlPolicy"], json!({"numNodes": 1, "torch": {}}));
        let jobs = &out[0]["spec"]["template"]["spec"]["replicatedJobs"];
        assert_eq!(
            jobs[1]["dependsOn"],
            json!([{"name": "dataset-initializer", "status": "Complete"}])
        );
        assert_eq!(
            jobs[0]["template"]["metadata"]["labels"]["trainer.kubeflow.org/trainjob-ancestor-step"],
            "dataset-initializer"
        );
    }
}
