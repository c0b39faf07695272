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

use serde_json::Value;

use super::{LowerContext, LowerError, LowerInput};
use model::{Engine, Pipeline};

/// Lowers one emitted pipeline.
pub fn lower(input: &LowerInput, ctx: &LowerContext) -> Result<Vec<Value>, Vec<LowerError>> {
    let _ = ctx;
    let mut errs = Vec::new();
    super::check_name(input, 63, &mut errs);
    let p = match Pipeline::parse(input.name, input.value) {
        Ok(p) => p,
        Err(mut e) => {
            errs.append(&mut e);
            return Err(errs);
        }
    };
    if !errs.is_empty() {
        return Err(errs);
    }
    let ns = input.value.get("namespace").and_then(Value::as_str);
    match p.engine {
        Engine::Kfp => kfp_ir::lower(&p, ns),
        Engine::Argo => argo::lower(&p, ns),
    }
}

#[cfg(test)]
mod tests;
