//! Generated workloads shared by the benches: N GPU PyTorchJobs shaped like `bench/gen.py jobs`
//! (Master 1 replica, Worker 0-3, env, resources, one GPU per container), with or without a
//! declared NodePool that every GPU model is checked against.

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use kiln_compiler::source::MemoryLoader;
use kiln_compiler::{Budget, Options, compile};

/// The source of `n` GPU training jobs, in one file.
pub fn gpu_jobs(n: usize, pool: bool) -> String {
    let mut s = String::with_capacity(n * 400);
    s.push_str("import \"kubeflow\" as kf\n\n");
    if pool {
        s.push_str(
            "kf.NodePool \"a100\" {\n  accelerator = kf.nvidia(\"a100-80gb\")\n  per_node = 8\n  cpu = 96\n  memory = 1024Gi\n}\n\n",
        );
    }
    for i in 0..n {
        s.push_str(&format!(
            "kf.TrainingJob \"job-{i}\" {{\n  namespace = \"team-{ns}\"\n  framework = \"pytorch\"\n  \
             image = \"ghcr.io/acme/train:{tag}.1\"\n  command = [\"torchrun\", \"train.py\"]\n  \
             env = {{ values = {{ EPOCHS = \"10\", SHARD = \"{i}\" }} }}\n  workers = {workers}\n  \
             per_worker = {{ cpu = 8, memory = 32Gi, gpu = kf.gpu(kf.nvidia(\"a100-80gb\"), 1) }}\n}}\n\n",
            ns = i % 20,
            tag = i % 9,
            workers = 1 + i % 4,
        ));
    }
    s
}

/// Compiles and builds `text` as `kiln build` does (load, check, evaluate, lower, stamp) and
/// renders the YAML stream; returns the number of manifests and the bytes of YAML.
pub fn build_yaml(text: &str) -> (usize, usize) {
    let loader = MemoryLoader::new().with("jobs.kiln", text);
    // The default budget is sized for untrusted specs (64 MiB of output); 50,000 jobs are a
    // trusted repository several times that size, so the bench raises it.
    let budget = Budget {
        max_steps: 2_000_000_000,
        max_output_values: 400_000_000,
        max_alloc_bytes: 8 << 30,
        max_output_bytes: 4 << 30,
        max_source_bytes: 1 << 30,
        ..Budget::default()
    };
    let compiled = compile(&loader, &["jobs.kiln".to_string()], &Options { budget });
    assert!(!compiled.has_errors(), "{:?}", compiled.diagnostics.first());
    let built = kiln_compiler::build::build(&compiled, None);
    assert!(!built.has_errors(), "{:?}", built.diagnostics.first());
    let yaml = kiln_compiler::manifest::canonical::to_yaml(&built.manifests);
    (built.manifests.len(), yaml.len())
}
