//! `cargo bench -p kiln-compiler --bench compile`: parse, check and evaluate a generated
//! 100,000-line spec (records, lists, functions, imports, comprehensions) and report each phase
//! and the peak resident memory. Target (issue 2): all three under 300 ms, peak under 200 MB.
//! Then the build step users run after them (lower, stamp, YAML) on 5,000 GPU PyTorchJobs checked
//! against a NodePool (issue 16: stopping before the build had hidden a quadratic GPU check).

mod workload;

use std::time::{Duration, Instant};

use kiln_compiler::source::{MemoryLoader, SourceMap};
use kiln_compiler::{Options, compile, resolve};

/// A library module imported by the main file: types and functions.
fn library() -> String {
    let mut s = String::new();
    s.push_str("## Shared types for the generated benchmark.\n");
    s.push_str("type Tier = \"gold\" | \"silver\" | \"bronze\"\n");
    s.push_str("type Service = {\n  image: String\n  replicas: Int(0..1000) = 1\n  cpu: Cpu = 1\n  memory: Memory\n  tier: Tier = \"silver\"\n  ports: List<Int> = []\n  env: Map<String> = {}\n}\n");
    s.push_str("fn image(name: String, tag: String) -> String = \"ghcr.io/acme/${name}:${tag}\"\n");
    s.push_str("fn mem(n: Int) -> Memory = n * 256Mi\n");
    s
}

/// `blocks` services of 20 lines each, plus lets with comprehensions.
fn main_file(blocks: usize) -> String {
    let mut s = String::with_capacity(blocks * 600);
    s.push_str("import \"./lib.kiln\" as lib\n\n");
    for i in 0..blocks {
        s.push_str(&format!(
            "let ports_{i} = [p + {i} for p in [8000, 8001, 8002, 8003] if p > 8000]\n\
             let base_{i} = lib.Service {{\n\
             \x20 image = lib.image(\"svc-{i}\", \"1.{i}\")\n\
             \x20 replicas = {r}\n\
             \x20 memory = lib.mem({m})\n\
             \x20 ports = ports_{i}\n\
             \x20 env = {{\n\
             \x20   INDEX = \"{i}\"\n\
             \x20   NAME = \"svc-{i}\"\n\
             \x20 }}\n\
             }}\n\
             lib.Service \"svc-{i}\" = base_{i} with {{\n\
             \x20 cpu = 500m\n\
             \x20 tier = \"gold\"\n\
             \x20 env = {{ \"K_${{k}}\" = v for k, v in base_{i}.env }}\n\
             }}\n\
             # service {i}\n\
             let total_{i} = base_{i}.memory + 1Gi\n\
             let big_{i} = if total_{i} > 2Gi then \"big\" else \"small\"\n\n",
            r = i % 7,
            m = i % 13 + 1,
        ));
    }
    s
}

fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn main() {
    let main_text = main_file(5_000);
    let lines = main_text.lines().count() + library().lines().count();
    let loader = MemoryLoader::new()
        .with("bench/lib.kiln", &library())
        .with("bench/main.kiln", &main_text);
    let roots = vec!["bench/main.kiln".to_string()];
    let budget = Options::default().budget;

    // Each phase separately (best of 5), then the whole pipeline as users run it.
    let (mut load, mut check, mut eval, mut total) =
        (Duration::MAX, Duration::MAX, Duration::MAX, Duration::MAX);
    for _ in 0..5 {
        // Phase results are dropped before `compile()` runs, so the peak RSS is one compilation's.
        {
            let mut sources = SourceMap::default();
            let mut diagnostics = Vec::new();
            let start = Instant::now();
            let modules = resolve::load(
                &loader,
                resolve::STDLIB,
                &roots,
                budget.max_source_bytes,
                &mut sources,
                &mut diagnostics,
            );
            load = load.min(start.elapsed());
            assert!(
                diagnostics.is_empty(),
                "generated spec must parse: {:?}",
                diagnostics.first()
            );

            let start = Instant::now();
            let (program, diagnostics) = kiln_compiler::check::check(&modules);
            check = check.min(start.elapsed());
            assert!(
                diagnostics.is_empty(),
                "generated spec must check: {:?}",
                diagnostics.first()
            );

            let start = Instant::now();
            let objects = kiln_compiler::eval::Evaluator::new(&program, budget)
                .run()
                .expect("evaluates");
            eval = eval.min(start.elapsed());
            assert_eq!(objects.len(), 5_000);
        }

        let start = Instant::now();
        let compiled = compile(&loader, &roots, &Options::default());
        total = total.min(start.elapsed());
        assert!(!compiled.has_errors() && compiled.objects.len() == 5_000);
    }
    println!("kiln compile benchmark: {lines} lines, 5000 emitted objects (best of 5)");
    println!("  load + parse  {:8.1} ms", ms(load));
    println!("  check         {:8.1} ms", ms(check));
    println!("  evaluate      {:8.1} ms", ms(eval));
    println!(
        "  compile()     {:8.1} ms  (all three, as the CLI runs them)",
        ms(total)
    );
    println!("  peak RSS      {:8.1} MB", peak_rss_mb());

    let jobs = workload::gpu_jobs(5_000, true);
    let mut build = Duration::MAX;
    let mut yaml_bytes = 0;
    for _ in 0..5 {
        let start = Instant::now();
        let (manifests, bytes) = workload::build_yaml(&jobs);
        build = build.min(start.elapsed());
        assert_eq!(manifests, 5_000);
        yaml_bytes = bytes;
    }
    println!(
        "  kiln build    {:8.1} ms  (5,000 GPU PyTorchJobs and a NodePool: compile, lower, stamp, {:.1} MB of YAML)",
        ms(build),
        yaml_bytes as f64 / 1e6
    );
}
