//! `training.TrainingJob` -> kubeflow.org/v1 PyTorchJob, TFJob, MPIJob, XGBoostJob, PaddleJob
//! or JAXJob, by `framework`; its checks: replica roles exist for the framework (K0813), world
//! size = workers x processes per worker = GPUs consistent (K0811), elastic min <= max and
//! workers inside (K0812). Also used by Katib trial templates ([`job_body`]).

use kiln_lang::diagnostic::did_you_mean;
use serde_json::{Map, Value, json};

use super::pod::{ContainerSpec, Placement, Usage, pod_spec, pod_template, usage};
use super::{LowerContext, LowerError, LowerInput, check_name, codes, int, list, metadata, obj, ptr, s};

/// (kind, replica-specs field, container name, valid roles) of a framework.
fn framework(fw: &str) -> (&'static str, &'static str, &'static str, &'static [&'static str]) {
    match fw {
        "tensorflow" => (
            "TFJob",
            "tfReplicaSpecs",
            "tensorflow",
            &["Chief", "Master", "PS", "Worker", "Evaluator"],
        ),
        "mpi" => ("MPIJob", "mpiReplicaSpecs", "mpi", &["Launcher", "Worker"]),
        "xgboost" => ("XGBoostJob", "xgbReplicaSpecs", "xgboost", &["Master", "Worker"]),
        "paddle" => ("PaddleJob", "paddleReplicaSpecs", "paddle", &["Master", "Worker"]),
        "jax" => ("JAXJob", "jaxReplicaSpecs", "jax", &["Worker"]),
        _ => (
            "PyTorchJob",
            "pytorchReplicaSpecs",
            "pytorch",
            &["Master", "Worker"],
        ),
    }
}

/// The container name a framework's operator looks for (Katib's default primary container).
pub fn container_name(job: &Value) -> &'static str {
    framework(s(job, "framework").unwrap_or("pytorch")).2
}

/// The replica roles of a job: (role, replicas, explicit replica record).
fn roles(job: &Value) -> Vec<(String, i64, Option<&Value>)> {
    if let Some(r) = obj(job, "roles") {
        return r
            .iter()
            .map(|(k, v)| (k.clone(), int(v, "replicas").unwrap_or(1), Some(v)))
            .collect();
    }
    let workers = int(job, "workers").unwrap_or(1);
    let elastic = job.get("elastic").is_some();
    match s(job, "framework").unwrap_or("pytorch") {
        "pytorch" | "xgboost" if !elastic => {
            let mut r = vec![("Master".to_string(), 1, None)];
            if workers > 1 {
                r.push(("Worker".to_string(), workers - 1, None));
            }
            r
        }
        "mpi" => vec![
            ("Launcher".to_string(), 1, None),
            ("Worker".to_string(), workers, None),
        ],
        _ => vec![("Worker".to_string(), workers, None)],
    }
}

/// The resources of a role: the replica's own, else the job's `per_worker` (an MPI launcher
/// gets none by default).
fn role_resources<'a>(job: &'a Value, role: &str, replica: Option<&'a Value>) -> Option<&'a Value> {
    match replica.and_then(|r| r.get("resources")) {
        Some(r) => Some(r),
        None if role == "Launcher" && replica.is_none() => None,
        None => job.get("per_worker"),
    }
}

/// Total requests of all pods of a job (for quota).
pub fn job_usage(job: &Value, gpu_resource: &str) -> Usage {
    roles(job).iter().fold(Usage::default(), |acc, (role, n, rep)| {
        acc.plus(usage(role_resources(job, role, *rep), gpu_resource).times(*n))
    })
}

/// `{apiVersion, kind, spec}` of a job (no metadata); `p` is the pointer of the job record.
pub fn job_body(job: &Value, p: &str, ctx: &LowerContext, errs: &mut Vec<LowerError>) -> Value {
    let fw = s(job, "framework").unwrap_or("pytorch");
    let (kind, replicas_field, cname, valid) = framework(fw);
    check_topology(job, p, valid, errs);
    let mut specs = Map::new();
    for (role, n, rep) in roles(job) {
        let pick = |k: &str| rep.and_then(|r| r.get(k)).or_else(|| job.get(k));
        let res = role_resources(job, &role, rep);
        let res_ptr = match rep {
            Some(_) if rep.and_then(|r| r.get("resources")).is_some() => {
                ptr(&ptr(&ptr(p, "roles"), &role), "resources")
            }
            _ => ptr(p, "per_worker"),
        };
        let vols: Vec<&Value> = rep
            .and_then(|r| r.get("volumes"))
            .or_else(|| job.get("volumes"))
            .and_then(Value::as_array)
            .map(|l| l.iter().collect())
            .unwrap_or_default();
        let spec = ContainerSpec {
            name: rep.and_then(|r| s(r, "container_name")).or(Some(cname)),
            image: pick("image"),
            pull_policy: job.get("pull_policy"),
            command: pick("command"),
            args: pick("args"),
            env: pick("env"),
            resources: res,
            volumes: vols,
            ..ContainerSpec::default()
        };
        let parts = spec.lower(cname, p, &res_ptr, ctx, errs);
        let mut placement = Placement::default();
        placement.merge(parts.placement);
        let pod = pod_spec(vec![parts.container], &placement, job.get("pod"), None);
        let mut r = Map::new();
        r.insert("replicas".into(), json!(n));
        if let Some(rp) = pick("restart_policy") {
            r.insert("restartPolicy".into(), rp.clone());
        }
        r.insert("template".into(), pod_template(pod, job.get("pod")));
        specs.insert(role, Value::Object(r));
    }
    let mut spec = Map::new();
    if fw == "pytorch" {
        if let Some(e) = job.get("elastic") {
            let el = super::renamed(
                e,
                &[
                    ("min", "minReplicas"),
                    ("max", "maxReplicas"),
                    ("max_restarts", "maxRestarts"),
                    ("rdzv_backend", "rdzvBackend"),
                    ("rdzv_port", "rdzvPort"),
                ],
            );
            spec.insert("elasticPolicy".into(), Value::Object(el));
        }
        if let Some(n) = job.get("procs_per_worker") {
            spec.insert("nprocPerNode".into(), json!(super::num_string(n)));
        }
    }
    if fw == "mpi"
        && let Some(n) = job.get("procs_per_worker")
    {
        spec.insert("slotsPerWorker".into(), n.clone());
    }
    if let Some(rp) = run_policy(job.get("run")) {
        spec.insert("runPolicy".into(), rp);
    }
    spec.insert(replicas_field.into(), Value::Object(specs));
    json!({"apiVersion": "kubeflow.org/v1", "kind": kind, "spec": spec})
}

fn run_policy(run: Option<&Value>) -> Option<Value> {
    let run = run?;
    let mut out = Map::new();
    super::copy(&mut out, run, "clean_pods", "cleanPodPolicy");
    if let Some(t) = run.get("ttl").and_then(super::duration_secs) {
        out.insert("ttlSecondsAfterFinished".into(), json!(t));
    }
    if let Some(t) = run.get("active_deadline").and_then(super::duration_secs) {
        out.insert("activeDeadlineSeconds".into(), json!(t));
    }
    super::copy(&mut out, run, "backoff_limit", "backoffLimit");
    if let Some(sch) = run.get("scheduling") {
        let mut sp = Map::new();
        super::copy(&mut sp, sch, "min_available", "minAvailable");
        super::copy(&mut sp, sch, "queue", "queue");
        super::copy(&mut sp, sch, "priority_class", "priorityClass");
        if let Some(t) = sch.get("schedule_timeout").and_then(super::duration_secs) {
            sp.insert("scheduleTimeoutSeconds".into(), json!(t));
        }
        out.insert("schedulingPolicy".into(), Value::Object(sp));
    }
    super::copy(&mut out, run, "suspend", "suspend");
    (!out.is_empty()).then_some(Value::Object(out))
}

/// K0813, K0811, K0812.
fn check_topology(job: &Value, p: &str, valid: &[&str], errs: &mut Vec<LowerError>) {
    let fw = s(job, "framework").unwrap_or("pytorch");
    for role in obj(job, "roles").into_iter().flatten().map(|(k, _)| k) {
        if !valid.contains(&role.as_str()) {
            let best = did_you_mean(role, valid.iter().copied());
            let mut e = LowerError::new(
                codes::INVALID_ROLE,
                ptr(&ptr(p, "roles"), role),
                format!("`{role}` is not a replica role of a {fw} job"),
            );
            e = match best {
                Some(b) => e.with_help(format!("did you mean `{b}`? roles: {}", valid.join(", "))),
                _ => e.with_help(format!("roles of a {fw} job: {}", valid.join(", "))),
            };
            errs.push(e);
        }
    }
    let workers = int(job, "workers").unwrap_or(1);
    let gpus = job
        .get("per_worker")
        .and_then(|r| r.get("gpu"))
        .map(|g| int(g, "count").unwrap_or(1));
    let procs = int(job, "procs_per_worker");
    if let (Some(pr), Some(g)) = (procs, gpus)
        && pr != g
    {
        errs.push(
            LowerError::new(
                codes::WORLD_SIZE_MISMATCH,
                ptr(p, "procs_per_worker"),
                format!("each worker runs {pr} processes but has {g} GPUs"),
            )
            .with_help(format!("run one process per GPU: procs_per_worker = {g}")),
        );
    }
    if let Some(ws) = int(job, "world_size") {
        let per = procs.or(gpus).unwrap_or(1);
        if ws != workers * per {
            errs.push(
                LowerError::new(
                    codes::WORLD_SIZE_MISMATCH,
                    ptr(p, "world_size"),
                    format!(
                        "world size {ws} does not match {workers} workers x {per} processes per worker = {}",
                        workers * per
                    ),
                )
                .with_help(if ws % per == 0 {
                    format!("use workers = {}", ws / per)
                } else {
                    format!("use world_size = {}", workers * per)
                }),
            );
        }
    }
    if let Some(e) = job.get("elastic") {
        let (min, max) = (int(e, "min").unwrap_or(1), int(e, "max").unwrap_or(1));
        if min > max {
            errs.push(
                LowerError::new(
                    codes::ELASTIC_UNORDERED,
                    ptr(&ptr(p, "elastic"), "min"),
                    format!("elastic min {min} is greater than max {max}"),
                )
                .with_help("swap them, or raise max"),
            );
        } else if workers < min || workers > max {
            errs.push(
                LowerError::new(
                    codes::ELASTIC_UNORDERED,
                    ptr(p, "workers"),
                    format!("{workers} workers is outside the elastic range {min}..{max}"),
                )
                .with_help(format!("use between {min} and {max} workers")),
            );
        }
        if fw != "pytorch" {
            errs.push(LowerError::new(
                codes::ELASTIC_UNORDERED,
                ptr(p, "elastic"),
                format!("elastic training is supported by pytorch jobs only, not {fw}"),
            ));
        }
    }
    check_gang(job, p, errs);
    let _ = list;
}

/// K0818: gang scheduling waits for `min_available` pods, so a value above the most pods the job
/// ever has leaves it Pending forever.
fn check_gang(job: &Value, p: &str, errs: &mut Vec<LowerError>) {
    let Some(min) = job
        .get("run")
        .and_then(|r| r.get("scheduling"))
        .and_then(|sch| int(sch, "min_available"))
    else {
        return;
    };
    let most: i64 = match (job.get("elastic"), obj(job, "roles")) {
        (Some(e), None) => int(e, "max").unwrap_or(1),
        _ => roles(job).iter().map(|(_, n, _)| n).sum(),
    };
    if min > most {
        errs.push(
            LowerError::new(
                codes::GANG_EXCEEDS_PODS,
                ptr(&ptr(&ptr(p, "run"), "scheduling"), "min_available"),
                format!("gang scheduling waits for {min} pods, but the job has at most {most}"),
            )
            .with_help(format!(
                "use min_available = {most} (every pod of the job), or fewer for a partial gang"
            )),
        );
    }
}

pub fn lower(input: &LowerInput, ctx: &LowerContext, errs: &mut Vec<LowerError>) -> Vec<Value> {
    // Pod names are `<name>-<hash>-worker-<n>`: keep room for the suffixes.
    check_name(input, 40, errs);
    let body = job_body(input.value, "", ctx, errs);
    let mut m = Map::new();
    m.insert("apiVersion".into(), body["apiVersion"].clone());
    m.insert("kind".into(), body["kind"].clone());
    m.insert("metadata".into(), metadata(input, true));
    m.insert("spec".into(), body["spec"].clone());
    vec![super::name_run_of(input, Value::Object(m))]
}

#[cfg(test)]
mod tests {
    use super::super::{LowerContext, codes, lower_one};
    use serde_json::json;

    fn gpu(n: i64) -> serde_json::Value {
        json!({"accelerator": {"resource": "nvidia.com/gpu", "model": "a100-80gb"}, "count": n})
    }

    #[test]
    fn pytorch_ddp_on_gpus() {
        let v = json!({
            "namespace": "team-churn", "framework": "pytorch", "image": "ghcr.io/acme/train:1.2",
            "command": ["torchrun", "train.py"], "env": {}, "workers": 4,
            "per_worker": {"memory": "400Gi", "shm": "64Gi", "gpu": gpu(8)},
            "procs_per_worker": 8, "world_size": 32, "volumes": [], "restart_policy": "OnFailure",
            "roles": {}, "run": {"clean_pods": "Running", "ttl": "1h0m0s"}, "metrics": [], "pod": {}, "labels": {}, "annotations": {}
        });
        let out = lower_one("kubeflow.TrainingJob", "churn-ddp", &v, &LowerContext::default()).unwrap();
        let job = &out[0];
        assert_eq!(job["kind"], "PyTorchJob");
        let name = job["metadata"]["name"].as_str().unwrap();
        assert!(
            name.starts_with("churn-ddp-") && name.len() == "churn-ddp-".len() + 8,
            "{name}"
        );
        assert_eq!(job["metadata"]["labels"]["kiln.dev/run-of"], "churn-ddp");
        assert_eq!(job["spec"]["nprocPerNode"], "8");
        assert_eq!(
            job["spec"]["runPolicy"],
            json!({"cleanPodPolicy": "Running", "ttlSecondsAfterFinished": 3600})
        );
        let specs = &job["spec"]["pytorchReplicaSpecs"];
        assert_eq!(specs["Master"]["replicas"], 1);
        assert_eq!(specs["Worker"]["replicas"], 3);
        let pod = &specs["Worker"]["template"]["spec"];
        assert_eq!(pod["containers"][0]["name"], "pytorch");
        assert_eq!(pod["containers"][0]["resources"]["limits"]["nvidia.com/gpu"], 8);
        assert_eq!(
            pod["containers"][0]["volumeMounts"],
            json!([{"mountPath": "/dev/shm", "name": "dshm"}])
        );
        assert_eq!(
            pod["volumes"],
            json!([{"name": "dshm", "emptyDir": {"medium": "Memory", "sizeLimit": "64Gi"}}])
        );
        assert_eq!(
            pod["nodeSelector"],
            json!({"nvidia.com/gpu.product": "a100-80gb"})
        );
        assert_eq!(
            pod["tolerations"],
            json!([{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}])
        );
        // Same spec, same name; different spec, different name.
        let again = lower_one("kubeflow.TrainingJob", "churn-ddp", &v, &LowerContext::default()).unwrap();
        assert_eq!(again[0]["metadata"]["name"], job["metadata"]["name"]);
        let mut v2 = v.clone();
        v2["workers"] = json!(2);
        v2["world_size"] = json!(16);
        let other = lower_one("kubeflow.TrainingJob", "churn-ddp", &v2, &LowerContext::default()).unwrap();
        assert_ne!(other[0]["metadata"]["name"], job["metadata"]["name"]);
    }

    #[test]
    fn frameworks_pick_kinds_and_roles() {
        for (fw, kind, field, roles) in [
            ("tensorflow", "TFJob", "tfReplicaSpecs", vec!["Worker"]),
            ("mpi", "MPIJob", "mpiReplicaSpecs", vec!["Launcher", "Worker"]),
            (
                "xgboost",
                "XGBoostJob",
                "xgbReplicaSpecs",
                vec!["Master", "Worker"],
            ),
            ("paddle", "PaddleJob", "paddleReplicaSpecs", vec!["Worker"]),
            ("jax", "JAXJob", "jaxReplicaSpecs", vec!["Worker"]),
        ] {
            let v = json!({"framework": fw, "image": "x:1", "workers": 2});
            let out = lower_one("training.TrainingJob", "j", &v, &LowerContext::default()).unwrap();
            assert_eq!(out[0]["kind"], kind);
            let got: Vec<&String> = out[0]["spec"][field].as_object().unwrap().keys().collect();
            assert_eq!(got, roles, "{fw}");
        }
    }

    #[test]
    fn world_size_must_match() {
        let v = json!({"framework": "pytorch", "image": "x:1", "workers": 4, "per_worker": {"gpu": gpu(8)}, "procs_per_worker": 4, "world_size": 24});
        let err = lower_one("kubeflow.TrainingJob", "j", &v, &LowerContext::default()).unwrap_err();
        assert_eq!(err[0].code, codes::WORLD_SIZE_MISMATCH);
        assert_eq!(err[0].message, "each worker runs 4 processes but has 8 GPUs");
        assert_eq!(
            err[1].message,
            "world size 24 does not match 4 workers x 4 processes per worker = 16"
        );
    }

    #[test]
    fn a_gang_larger_than_the_job_is_an_error() {
        let v = json!({"framework": "pytorch", "image": "x:1", "workers": 8, "run": {"scheduling": {"min_available": 10}}});
        let err = lower_one("kubeflow.TrainingJob", "j", &v, &LowerContext::default()).unwrap_err();
        assert_eq!(err[0].code, codes::GANG_EXCEEDS_PODS);
        assert_eq!(err[0].pointer, "/run/scheduling/min_available");
        assert_eq!(
            err[0].message,
            "gang scheduling waits for 10 pods, but the job has at most 8"
        );
        let v = json!({"framework": "pytorch", "image": "x:1", "workers": 8, "run": {"scheduling": {"min_available": 8}}});
        assert!(lower_one("kubeflow.TrainingJob", "j", &v, &LowerContext::default()).is_ok());
        // MPI: a launcher and 8 workers are 9 pods.
        let v = json!({"framework": "mpi", "image": "x:1", "workers": 8, "run": {"scheduling": {"min_available": 9}}});
        assert!(lower_one("kubeflow.TrainingJob", "j", &v, &LowerContext::default()).is_ok());
    }

    #[test]
    fn elastic_bounds_are_ordered() {
        let v =
            json!({"framework": "pytorch", "image": "x:1", "workers": 2, "elastic": {"min": 4, "max": 2}});
        let err = lower_one("kubeflow.TrainingJob", "j", &v, &LowerContext::default()).unwrap_err();
        assert_eq!(err[0].code, codes::ELASTIC_UNORDERED);
        let v =
            json!({"framework": "pytorch", "image": "x:1", "workers": 8, "elastic": {"min": 2, "max": 4}});
        let err = lower_one("kubeflow.TrainingJob", "j", &v, &LowerContext::default()).unwrap_err();
        assert_eq!(err[0].pointer, "/workers");
        let v = json!({"framework": "pytorch", "image": "x:1", "workers": 3, "elastic": {"min": 2, "max": 4, "rdzv_backend": "c10d"}});
        let out = lower_one("kubeflow.TrainingJob", "j", &v, &LowerContext::default()).unwrap();
        assert_eq!(
            out[0]["spec"]["elasticPolicy"],
            json!({"minReplicas": 2, "maxReplicas": 4, "rdzvBackend": "c10d"})
        );
        assert_eq!(out[0]["spec"]["pytorchReplicaSpecs"]["Worker"]["replicas"], 3);
    }

    #[test]
    fn roles_must_exist() {
        let v = json!({"framework": "pytorch", "image": "x:1", "roles": {"Wroker": {"replicas": 2}}});
        let err = lower_one("kubeflow.TrainingJob", "j", &v, &LowerContext::default()).unwrap_err();
        assert_eq!(err[0].code, codes::INVALID_ROLE);
        assert!(
            err[0]
                .help
                .as_deref()
                .unwrap()
                .starts_with("did you mean `Worker`?")
        );
    }

    #[test]
    fn explicit_roles_override_job_fields() {
        let v = json!({"framework": "mpi", "image": "horovod/horovod:0.28.1", "procs_per_worker": 1, "run": {"clean_pods": "Running"},
        "roles": {
            "Launcher": {"replicas": 1, "command": ["mpirun"], "resources": {"limits": {"cpu": "1", "memory": "2Gi"}}},
            "Worker": {"replicas": 2, "resources": {"limits": {"cpu": "2", "memory": "4Gi"}}}
        }});
        let out = lower_one(
            "kubeflow.TrainingJob",
            "tensorflow-mnist",
            &v,
            &LowerContext::default(),
        )
        .unwrap();
        assert_eq!(out[0]["spec"]["slotsPerWorker"], 1);
        assert_eq!(
            out[0]["spec"]["mpiReplicaSpecs"]["Launcher"],
            json!({"replicas": 1, "template": {"spec": {"containers": [{"name": "mpi", "image": "horovod/horovod:0.28.1", "command": ["mpirun"], "resources": {"limits": {"cpu": "1", "memory": "2Gi"}}}]}}})
        );
    }
}
