//! Readiness per kind, read from the live object's status (pure).
//!
//! Each kind reports readiness its own way; this module knows the Kubeflow ones
//! (InferenceService, Notebook, training jobs, TrainJob, Katib Experiment, Argo Workflow)
//! and the core ones (Deployment, StatefulSet, CRD, PVC, Job). The message carried by
//! `Progressing` and `Failed` is the object's own condition message, so a timeout can say
//! why rather than only that it waited. Unknown kinds with a `Ready` condition use it;
//! anything else is ready once it exists.

use crate::object::ObjectId;
use serde::Serialize;
use serde_json::Value;

/// The health of one live object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "kebab-case")]
pub enum Health {
    /// Serving / running as intended.
    Ready,
    /// A run that finished successfully (healthy).
    Succeeded,
    /// Not there yet; the message says what it waits for.
    Progressing { message: String },
    /// Will not get there without a change.
    Failed { message: String },
}

impl Health {
    /// Ready or succeeded.
    pub fn is_healthy(&self) -> bool {
        matches!(self, Health::Ready | Health::Succeeded)
    }
}

/// A status condition.
struct Condition<'a> {
    type_: &'a str,
    status: &'a str,
    reason: &'a str,
    message: &'a str,
}

fn conditions(obj: &Value) -> Vec<Condition<'_>> {
    obj.pointer("/status/conditions")
        .and_then(Value::as_array)
        .map(|cs| {
            cs.iter()
                .map(|c| Condition {
                    type_: c.get("type").and_then(Value::as_str).unwrap_or(""),
                    status: c.get("status").and_then(Value::as_str).unwrap_or(""),
                    reason: c.get("reason").and_then(Value::as_str).unwrap_or(""),
                    message: c.get("message").and_then(Value::as_str).unwrap_or(""),
                })
                .collect()
        })
        .unwrap_or_default()
}

fn condition<'a>(obj: &'a Value, type_: &str) -> Option<Condition<'a>> {
    conditions(obj).into_iter().find(|c| c.type_ == type_)
}

fn describe(c: &Condition<'_>) -> String {
    match (c.reason.is_empty(), c.message.is_empty()) {
        (true, true) => format!("{} is {}", c.type_, c.status),
        (false, true) => format!("{} is {}: {}", c.type_, c.status, c.reason),
        (_, false) if c.reason.is_empty() => format!("{}: {}", c.type_, c.message),
        _ => format!("{} ({}): {}", c.type_, c.reason, c.message),
    }
}

fn int(obj: &Value, ptr: &str) -> i64 {
    obj.pointer(ptr).and_then(Value::as_i64).unwrap_or(0)
}

fn progressing(message: impl Into<String>) -> Health {
    Health::Progressing {
        message: message.into(),
    }
}

/// The health of a live object.
pub fn health(id: &ObjectId, obj: &Value) -> Health {
    match (id.group.as_str(), id.kind.as_str()) {
        ("apiextensions.k8s.io", "CustomResourceDefinition") => crd(obj),
        ("apps", "Deployment") => deployment(obj),
        ("apps", "StatefulSet") => stateful_set(obj),
        ("", "PersistentVolumeClaim") => match obj.pointer("/status/phase").and_then(Value::as_str) {
            Some("Lost") => Health::Failed {
                message: "the claim lost its volume (phase Lost)".into(),
            },
            // Pending is normal under WaitForFirstConsumer binding, so it is not waited on.
            _ => Health::Ready,
        },
        ("serving.kserve.io", "InferenceService") => ready_condition(obj, "InferenceService"),
        ("kubeflow.org", "Notebook") => notebook(obj),
        (
            "kubeflow.org",
            "PyTorchJob" | "TFJob" | "MPIJob" | "XGBoostJob" | "PaddleJob" | "JAXJob" | "Experiment",
        ) => job_conditions(obj, "Succeeded", "Failed"),
        ("trainer.kubeflow.org", "TrainJob") | ("batch", "Job") => job_conditions(obj, "Complete", "Failed"),
        ("argoproj.io", "Workflow") => workflow(obj),
        _ => match condition(obj, "Ready") {
            Some(_) => ready_condition(obj, &id.kind),
            None => Health::Ready,
        },
    }
}

fn crd(obj: &Value) -> Health {
    if let Some(c) = condition(obj, "NamesAccepted")
        && c.status == "False"
    {
        return Health::Failed {
            message: describe(&c),
        };
    }
    match condition(obj, "Established") {
        Some(c) if c.status == "True" => Health::Ready,
        Some(c) => progressing(describe(&c)),
        None => progressing("waiting for the Established condition"),
    }
}

fn deployment(obj: &Value) -> Health {
    if let Some(c) = condition(obj, "Progressing")
        && c.status == "False"
        && c.reason == "ProgressDeadlineExceeded"
    {
        return Health::Failed {
            message: describe(&c),
        };
    }
    let generation = int(obj, "/metadata/generation");
    if int(obj, "/status/observedGeneration") < generation {
        return progressing("waiting for the controller to observe the new generation");
    }
    let want = obj.pointer("/spec/replicas").and_then(Value::as_i64).unwrap_or(1);
    let updated = int(obj, "/status/updatedReplicas");
    let available = int(obj, "/status/availableReplicas");
    if updated < want || available < want {
        return progressing(format!(
            "rollout: {updated} of {want} replicas updated, {available} available"
        ));
    }
    Health::Ready
}

fn stateful_set(obj: &Value) -> Health {
    let want = obj.pointer("/spec/replicas").and_then(Value::as_i64).unwrap_or(1);
    let ready = int(obj, "/status/readyReplicas");
    if ready < want {
        return progressing(format!("{ready} of {want} replicas ready"));
    }
    Health::Ready
}

fn ready_condition(obj: &Value, kind: &str) -> Health {
    match condition(obj, "Ready") {
        Some(c) if c.status == "True" => Health::Ready,
        Some(c) => progressing(describe(&c)),
        None => progressing(format!("{kind} has no Ready condition yet")),
    }
}

fn notebook(obj: &Value) -> Health {
    if int(obj, "/status/readyReplicas") >= 1 {
        return Health::Ready;
    }
    // The notebook controller mirrors the container state; a waiting reason such as
    // ImagePullBackOff is the useful thing to report.
    let waiting = obj.pointer("/status/containerState/waiting");
    match waiting {
        Some(w) => progressing(format!(
            "notebook container waiting: {} {}",
            w.get("reason").and_then(Value::as_str).unwrap_or(""),
            w.get("message").and_then(Value::as_str).unwrap_or("")
        )),
        None => match conditions(obj).last() {
            Some(c) => progressing(describe(c)),
            None => progressing("waiting for a ready notebook replica"),
        },
    }
}

fn job_conditions(obj: &Value, done: &str, failed: &str) -> Health {
    let cs = conditions(obj);
    if let Some(c) = cs.iter().find(|c| c.type_ == failed && c.status == "True") {
        return Health::Failed { message: describe(c) };
    }
    if cs.iter().any(|c| c.type_ == done && c.status == "True") {
        return Health::Succeeded;
    }
    // Runs are healthy while running; a suspended or just-created run is still progressing.
    if cs.iter().any(|c| c.type_ == "Running" && c.status == "True") {
        return Health::Ready;
    }
    if cs.is_empty() && obj.get("status").is_some() && done == "Complete" {
        // A TrainJob or batch Job without conditions is running (they add none until the end).
        return Health::Ready;
    }
    match cs.last() {
        Some(c) => progressing(describe(c)),
        None => progressing("waiting for the operator to start the run"),
    }
}

fn workflow(obj: &Value) -> Health {
    let message = obj
        .pointer("/status/message")
        .and_then(Value::as_str)
        .unwrap_or("");
    match obj.pointer("/status/phase").and_then(Value::as_str) {
        Some("Succeeded") => Health::Succeeded,
        Some("Running") => Health::Ready,
        Some(phase @ ("Failed" | "Error")) => Health::Failed {
            message: format!("workflow {phase}: {message}"),
        },
        Some(phase) => progressing(format!("workflow {phase} {message}")),
        None => progressing("waiting for the workflow controller"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn id(api_version: &str, kind: &str) -> ObjectId {
        ObjectId::from_value(
            &json!({"apiVersion": api_version, "kind": kind, "metadata": {"name": "x", "namespace": "n"}}),
        )
        .unwrap()
    }

    #[test]
    fn inference_service_reports_its_own_message() {
        let isvc = id("serving.kserve.io/v1beta1", "InferenceService");
        let obj = json!({"status":{"conditions":[{"type":"Ready","status":"False","reason":"RevisionMissing","message":"Revision \"x-00001\" failed: image not found"}]}});
        assert_eq!(
            health(&isvc, &obj),
            Health::Progressing {
                message: "Ready (RevisionMissing): Revision \"x-00001\" failed: image not found".into()
            }
        );
        let ok = json!({"status":{"conditions":[{"type":"Ready","status":"True"}]}});
        assert_eq!(health(&isvc, &ok), Health::Ready);
    }

    #[test]
    fn training_jobs_healthy_while_running_failed_when_failed() {
        let job = id("kubeflow.org/v1", "TFJob");
        let running = json!({"status":{"conditions":[{"type":"Created","status":"True"},{"type":"Running","status":"True"}]}});
        assert_eq!(health(&job, &running), Health::Ready);
        let failed = json!({"status":{"conditions":[{"type":"Failed","status":"True","reason":"TFJobFailed","message":"worker 0 exited 1"}]}});
        assert!(
            matches!(health(&job, &failed), Health::Failed { message } if message.contains("worker 0 exited 1"))
        );
        let tj = id("trainer.kubeflow.org/v1alpha1", "TrainJob");
        let done = json!({"status":{"conditions":[{"type":"Complete","status":"True"}]}});
        assert_eq!(health(&tj, &done), Health::Succeeded);
        let exp = id("kubeflow.org/v1beta1", "Experiment");
        let exp_ok = json!({"status":{"conditions":[{"type":"Succeeded","status":"True"}]}});
        assert_eq!(health(&exp, &exp_ok), Health::Succeeded);
    }

    #[test]
    fn notebook_deployment_crd_workflow() {
        let nb = id("kubeflow.org/v1", "Notebook");
        assert_eq!(health(&nb, &json!({"status":{"readyReplicas":1}})), Health::Ready);
        assert!(matches!(
            health(&nb, &json!({"status":{"readyReplicas":0,"containerState":{"waiting":{"reason":"ImagePullBackOff"}}}})),
            Health::Progressing { message } if message.contains("ImagePullBackOff")
        ));
        let dep = id("apps/v1", "Deployment");
        let rolling = json!({"metadata":{"generation":2},"spec":{"replicas":2},"status":{"observedGeneration":2,"updatedReplicas":1,"availableReplicas":2}});
        assert!(!health(&dep, &rolling).is_healthy());
        let done = json!({"metadata":{"generation":2},"spec":{"replicas":2},"status":{"observedGeneration":2,"updatedReplicas":2,"availableReplicas":2}});
        assert!(health(&dep, &done).is_healthy());
        let crd = id("apiextensions.k8s.io/v1", "CustomResourceDefinition");
        assert!(!health(&crd, &json!({})).is_healthy());
        assert!(
            health(
                &crd,
                &json!({"status":{"conditions":[{"type":"Established","status":"True"}]}})
            )
            .is_healthy()
        );
        let wf = id("argoproj.io/v1alpha1", "Workflow");
        assert!(matches!(
            health(&wf, &json!({"status":{"phase":"Failed","message":"child failed"}})),
            Health::Failed { message } if message.contains("child failed")
        ));
    }
}
