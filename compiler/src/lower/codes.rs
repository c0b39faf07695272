//! Diagnostic codes of the ML-aware checks done while lowering: `K05xx` (resources, GPUs,
//! quota) and `K08xx` (training, Katib, KServe, names). Registered in `crate::codes` by the
//! compiler owner; the constants live here so that lowering has no other dependency.

use kiln_lang::Code;

macro_rules! codes {
    ($($konst:ident = $id:literal, $name:literal, $summary:literal;)*) => {
        $(pub const $konst: Code = Code { id: $id, name: $name, summary: $summary };)*
        /// Every lowering code, in order.
        pub const ALL: &[Code] = &[$($konst),*];
    };
}

codes! {
    // K0417-K0429: fields a target does not carry, and pod-level validity (`fields`, `pod_check`).
    FIELD_NOT_SUPPORTED = "K0417", "field-not-supported", "A field the user set has no place in the manifest of the target the object lowers to, and leaving it out would change what the object does.";
    FIELD_HAS_NO_EFFECT = "K0418", "field-has-no-effect", "A field the user set is not used for the object's target; leaving it out is harmless.";
    DUPLICATE_VOLUME = "K0419", "duplicate-volume", "Two volumes of one pod have the same name.";
    DUPLICATE_MOUNT_PATH = "K0420", "duplicate-mount-path", "Two volume mounts of one container use the same path.";
    UNDECLARED_VOLUME = "K0421", "undeclared-volume", "A container mounts a volume its pod does not declare.";
    DUPLICATE_CONTAINER = "K0422", "duplicate-container", "Two containers of one pod have the same name.";
    DUPLICATE_PORT = "K0423", "duplicate-port", "Two ports of one pod's containers use the same number and protocol, or the same name.";
    INVALID_ENV_NAME = "K0424", "invalid-env-name", "An environment variable name is empty, contains `=`, or is set twice in one container.";
    // K05xx: resources, GPUs and quota.
    GPU_MODEL_UNKNOWN = "K0501", "gpu-model-unknown", "An accelerator model is not provided by any declared NodePool.";
    QUOTA_EXCEEDED = "K0502", "quota-exceeded", "A namespace's long-running requests and parallel trials exceed its Profile quota.";
    DOES_NOT_FIT_NODE = "K0503", "does-not-fit-node", "A pod requests more accelerators, CPU or memory than one node of its pool has.";
    LIMIT_BELOW_REQUEST = "K0504", "limit-below-request", "A resource limit is lower than the request.";
    POOL_ACCELERATOR_MISMATCH = "K0505", "pool-accelerator-mismatch", "A GPU request names a node pool whose accelerator is a different one.";
    // K07xx: manifests.
    RESERVED_FIELD = "K0704", "reserved-field", "A `kf.Object` field would override `apiVersion`, `kind` or `metadata`, which kiln sets from the checked fields.";
    QUOTA_UNCHECKED = "K0506", "quota-unchecked", "A workload's namespace has no Profile in a project that declares Profiles, so its quota is not checked.";
    // K08xx: training, Katib, KServe and names.
    INVALID_NAME = "K0801", "invalid-name", "An object name or namespace is not a DNS-1123 label.";
    OBJECTIVE_METRIC_UNDECLARED = "K0802", "objective-metric-undeclared", "An experiment's objective or additional metric is not reported by its trial job, or is listed twice.";
    PARALLEL_EXCEEDS_MAX = "K0803", "parallel-exceeds-max", "An experiment runs more trials in parallel than its maximum number of trials.";
    GRID_NEEDS_DISCRETE = "K0804", "grid-needs-discrete", "Grid search over a continuous parameter without a step.";
    BOUNDS_UNORDERED = "K0805", "bounds-unordered", "A search range has min > max (or min == max for a Float range), or a log-scale range does not start above zero.";
    TRIAL_PARAMETER_UNUSED = "K0806", "trial-parameter-unused", "A search-space parameter is never used by the trial job.";
    TRIAL_PARAMETER_UNKNOWN = "K0807", "trial-parameter-unknown", "A trial job refers to a trial parameter that is not in the search space.";
    CANARY_OUT_OF_RANGE = "K0808", "canary-out-of-range", "A canary traffic percentage is outside 0..100.";
    REPLICAS_UNORDERED = "K0809", "replicas-unordered", "Minimum replicas exceed maximum replicas.";
    STORAGE_URI_SCHEME = "K0810", "storage-uri-scheme", "A storageUri uses a scheme KServe cannot load (s3, gs, pvc, hf, oci, https).";
    WORLD_SIZE_MISMATCH = "K0811", "world-size-mismatch", "World size, workers x processes per worker and GPUs per worker disagree.";
    ELASTIC_UNORDERED = "K0812", "elastic-unordered", "An elastic policy has min > max, or workers outside min..max.";
    INVALID_ROLE = "K0813", "invalid-role", "A replica role does not exist for the training framework.";
    PREDICTOR_MISSING = "K0814", "predictor-missing", "An InferenceService needs exactly one of `model` or `container`.";
    RUNTIME_MISMATCH = "K0817", "runtime-mismatch", "A model names a ServingRuntime of the project that does not serve its format, or misspells one.";
    NAS_MISMATCH = "K0816", "nas-mismatch", "A NAS algorithm (darts, enas) without `nas`, or `nas` with another algorithm.";
    UNKNOWN_OBJECT_REFERENCE = "K0819", "unknown-object-reference", "A field names another object of the project that is not declared (a misspelling of a declared name), or one declared in another namespace or scope; or a well-known label value is misspelled.";
    GANG_EXCEEDS_PODS = "K0818", "gang-exceeds-pods", "Gang scheduling's min_available is larger than the number of pods the job can have.";
    INVALID_LOWERING_INPUT = "K0815", "invalid-lowering-input", "An emitted value does not have the shape its stdlib type promises (a kiln bug).";
}
