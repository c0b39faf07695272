//! Lowering of `pipeline.Pipeline` (stdlib/pipeline.kiln) to its two targets.
//!
//! The target is the pipeline's `engine` field: `"kfp"` (the default) emits a
//! `pipelines.kubeflow.org/v2beta1` Pipeline and PipelineVersion whose `spec.pipelineSpec` is the
//! KFP v2 IR ([`kfp_ir`]), plus a ScheduledWorkflow when scheduled; `"argo"` emits an Argo
//! WorkflowTemplate, plus a CronWorkflow when scheduled ([`argo`]). One source, one engine per
//! pipeline: emitting both by default would install two copies of every pipeline.
//!
//! Both targets share [`model`], which reads the value, resolves every reference and runs the
//! pipeline checks ([`codes`]): K0411 type mismatches between producer and consumer, K0412
//! dependency cycles, K0413 unknown references with did-you-mean, K0414 malformed steps, K0415
//! constants that do not fit their type, K0416 features the chosen engine lacks.
//!
//! The PipelineVersion is run-like (its spec cannot be updated in place): without
//! `kfp.version` its name is content-derived (`crate::lower::run_name`), so a changed pipeline
//! creates a new version.

pub mod argo;
pub mod codes;
pub mod kfp_ir;
pub mod model;

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::{LowerContext, LowerError, LowerInput, ptr};
use model::{Engine, Pipeline};

/// Tolerations per step pointer (`/steps/train`, `/templates/echo`, `/on_exit`): the taints of
/// the node pool a step's GPUs run on.
pub(crate) type Tolerations = BTreeMap<String, Vec<Value>>;

/// Lowers one emitted pipeline: its manifests (none when there are errors) and its problems.
pub fn lower(input: &LowerInput, ctx: &LowerContext) -> (Vec<Value>, Vec<LowerError>) {
    let mut errs = Vec::new();
    let tolerations = check_step_gpus(input.value, ctx, &mut errs);
    super::check_name(input, 63, &mut errs);
    let p = match Pipeline::parse(input.name, input.value) {
        Ok(mut p) => {
            errs.append(&mut p.warnings);
            p
        }
        Err(mut e) => {
            errs.append(&mut e);
            return (Vec::new(), errs);
        }
    };
    if errs.iter().any(LowerError::is_error) {
        return (Vec::new(), errs);
    }
    let ns = input.value.get("namespace").and_then(Value::as_str);
    let lowered = match p.engine {
        Engine::Kfp => kfp_ir::lower(&p, ns, &tolerations),
        Engine::Argo => argo::lower(&p, ns, &tolerations),
    };
    match lowered {
        Ok(out) => (out, errs),
        Err(mut e) => {
            errs.append(&mut e);
            (Vec::new(), errs)
        }
    }
}

/// Checks the GPUs of every step and template as other kinds' are checked (`pod::check_gpu`):
/// the resource name against the declared NodePools (did-you-mean), the count and the step's cpu
/// and memory against one node of the pool. Returns the tolerations of the tainted pools the
/// steps land on.
fn check_step_gpus(v: &Value, ctx: &LowerContext, errs: &mut Vec<LowerError>) -> Tolerations {
    let mut out = Tolerations::new();
    let mut records: Vec<(String, &Value)> = Vec::new();
    for (map, base) in [("steps", "/steps"), ("templates", "/templates")] {
        for (k, x) in v.get(map).and_then(Value::as_object).into_iter().flatten() {
            let at = ptr(base, k);
            for (sk, sx) in x.get("steps").and_then(Value::as_object).into_iter().flatten() {
                records.push((ptr(&ptr(&at, "steps"), sk), sx));
            }
            records.push((at, x));
        }
    }
    if let Some(exit) = v.get("on_exit") {
        records.push(("/on_exit".into(), exit));
    }
    for (at, step) in records {
        let Some(count) = step.get("gpu").and_then(Value::as_i64).filter(|g| *g > 0) else {
            continue;
        };
        let resource = step
            .get("gpu_resource")
            .and_then(Value::as_str)
            .unwrap_or("nvidia.com/gpu");
        let acc = json!({ "resource": resource });
        let gpu = json!({ "accelerator": acc, "count": count });
        let mut res = serde_json::Map::new();
        for k in ["cpu", "memory"] {
            if let Some(x) = step.get(k) {
                res.insert(k.into(), x.clone());
            }
        }
        let res = Value::Object(res);
        let mark = errs.len();
        let pool = super::pod::check_gpu(&gpu, &acc, count, &res, &ptr(&at, "gpu"), ctx, errs);
        // A step writes the count and the resource as two flat fields.
        for e in &mut errs[mark..] {
            if let Some(rest) = e.pointer.strip_prefix(&at) {
                let field = match rest {
                    "/gpu/accelerator" => "gpu_resource",
                    "/gpu/count" => "gpu",
                    _ => continue,
                };
                e.pointer = ptr(&at, field);
            }
        }
        let taints = pool.map(super::pod::tolerations).unwrap_or_default();
        if !taints.is_empty() {
            out.insert(at, taints);
        }
    }
    out
}

#[cfg(test)]
mod tests;
