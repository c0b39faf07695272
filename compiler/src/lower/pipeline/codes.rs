//! Diagnostic codes of the pipeline checks done while lowering (`K041x`). The constants live
//! here so that the pipeline lowering has no other dependency; the compiler owner registers
//! [`ALL`] in `crate::codes`.

use kiln_lang::Code;

macro_rules! codes {
    ($($konst:ident = $id:literal, $name:literal, $summary:literal;)*) => {
        $(pub const $konst: Code = Code { id: $id, name: $name, summary: $summary };)*
        /// Every pipeline code, in order.
        pub const ALL: &[Code] = &[$($konst),*];
    };
}

codes! {
    ARTIFACT_TYPE_MISMATCH = "K0411", "artifact-type-mismatch", "A step input is bound to an output or parameter of a different type (a Dataset input fed an HTML artifact).";
    PIPELINE_CYCLE = "K0412", "pipeline-cycle", "Pipeline steps or groups depend on each other in a cycle.";
    UNKNOWN_PIPELINE_REFERENCE = "K0413", "unknown-pipeline-reference", "A reference names a step, group, template, output, input or parameter that does not exist.";
    INVALID_STEP = "K0414", "invalid-step", "A step runs nothing or several things (image, script, resource, template, template_ref), or two names collide.";
    INVALID_PIPELINE_VALUE = "K0415", "invalid-pipeline-value", "A constant, default or loop item does not fit the declared parameter type.";
    UNSUPPORTED_ON_TARGET = "K0416", "unsupported-on-target", "A pipeline feature has no equivalent on the chosen engine (a resource template on KFP).";
}
