//! `cargo bench -p kiln-compiler --bench scaling`: the whole build (load, check, evaluate,
//! lower, stamp, YAML) of 5,000 and of 50,000 GPU PyTorchJobs, with and without a declared
//! NodePool, and an assertion that the cost grows linearly: 10x the objects may cost at most
//! 11x the time (issue 16: a per-object scan of every object once made it 40x).
//! Times are the best of 3 runs, so that a noisy neighbour on the machine does not fail it.

mod workload;

use std::time::{Duration, Instant};

fn best_of(runs: usize, text: &str, expect: usize) -> Duration {
    let mut best = Duration::MAX;
    for _ in 0..runs {
        let start = Instant::now();
        let (manifests, _) = workload::build_yaml(text);
        best = best.min(start.elapsed());
        assert_eq!(manifests, expect);
    }
    best
}

fn main() {
    const SMALL: usize = 5_000;
    const LARGE: usize = 50_000;
    const MAX_RATIO: f64 = 11.0;
    let mut failed = Vec::new();
    for pool in [true, false] {
        let small = best_of(3, &workload::gpu_jobs(SMALL, pool), SMALL);
        let large = best_of(3, &workload::gpu_jobs(LARGE, pool), LARGE);
        let ratio = large.as_secs_f64() / small.as_secs_f64();
        let what = if pool {
            "with a NodePool"
        } else {
            "without a NodePool"
        };
        println!(
            "build of GPU PyTorchJobs {what}: {SMALL} in {:.1} ms, {LARGE} in {:.1} ms: {ratio:.2}x for 10x the objects (limit {MAX_RATIO}x)",
            small.as_secs_f64() * 1000.0,
            large.as_secs_f64() * 1000.0
        );
        if ratio > MAX_RATIO {
            failed.push(what);
        }
    }
    assert!(
        failed.is_empty(),
        "the build grows faster than linearly {failed:?}"
    );
}
