//! Run-like objects: training jobs, TrainJobs, Katib Experiments, pipeline versions, Argo
//! Workflows and batch Jobs.
//!
//! Their specs cannot usefully be updated in place (the operators ignore or reject it), so
//! the compiler gives a changed spec a new content-derived name and the engine simply
//! creates the new object. A finished run that its TTL removed must not come back: the
//! engine records finished runs in the inventory parent and skips them when they are gone.

use crate::object::ObjectId;
use crate::wait::health::{Health, health};
use serde_json::Value;

/// Whether objects of this group/kind are runs (see the module docs).
pub fn is_run_like(group: &str, kind: &str) -> bool {
    matches!(
        (group, kind),
        (
            "kubeflow.org",
            "PyTorchJob" | "TFJob" | "MPIJob" | "XGBoostJob" | "PaddleJob" | "JAXJob" | "Experiment"
        ) | ("trainer.kubeflow.org", "TrainJob")
            | ("pipelines.kubeflow.org", "PipelineVersion")
            | ("argoproj.io", "Workflow")
            | ("batch", "Job")
    )
}

/// Whether the id names a run.
pub fn id_is_run_like(id: &ObjectId) -> bool {
    is_run_like(&id.group, &id.kind)
}

/// Whether a live run has finished (succeeded or failed). A PipelineVersion has no
/// lifecycle of its own and never counts as finished.
pub fn is_finished(id: &ObjectId, live: &Value) -> bool {
    if !id_is_run_like(id) || id.kind == "PipelineVersion" {
        return false;
    }
    matches!(health(id, live), Health::Succeeded | Health::Failed { .. })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn training_jobs_are_runs_and_config_is_not() {
        assert!(is_run_like("kubeflow.org", "PyTorchJob"));
        assert!(is_run_like("trainer.kubeflow.org", "TrainJob"));
        assert!(is_run_like("kubeflow.org", "Experiment"));
        assert!(!is_run_like("kubeflow.org", "Notebook"));
        assert!(!is_run_like("", "ConfigMap"));
    }

    #[test]
    fn a_succeeded_job_is_finished() {
        let id = ObjectId::from_value(&json!({"apiVersion":"kubeflow.org/v1","kind":"PyTorchJob","metadata":{"name":"t","namespace":"n"}})).unwrap();
        let running = json!({"status":{"conditions":[{"type":"Created","status":"True"},{"type":"Running","status":"True"}]}});
        let done = json!({"status":{"conditions":[{"type":"Running","status":"False"},{"type":"Succeeded","status":"True"}]}});
        assert!(!is_finished(&id, &running));
        assert!(is_finished(&id, &done));
    }
}
