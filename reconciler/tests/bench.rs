//! Benchmark against the real control plane (ignored by default; it takes a minute):
//!
//! ```sh
//! cargo test --release -p kiln-reconciler --test bench -- --ignored --nocapture
//! ```
//!
//! 1,000 objects (500 ConfigMaps, 250 Notebooks, 250 PyTorchJobs): kiln's first apply, no-op
//! apply (time and request counts), and plan; then the same manifests (in a second namespace)
//! through `kubectl apply --server-side` and `kubectl diff --server-side`, and kiln's peak RSS.

use kiln_reconciler::counting::counting;
use kiln_reconciler::{ApplySetRef, Cluster, Manifest, Options, plan_cluster, reconcile};
use serde_json::{Value, json};
use std::process::Command;
use std::time::{Duration, Instant};

fn objects(ns: &str) -> Vec<Value> {
    let mut out = Vec::new();
    for i in 0..500 {
        out.push(json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": format!("cfg-{i:04}"), "namespace": ns},
            "data": {"index": i.to_string(), "payload": "x".repeat(200)}}));
    }
    for i in 0..250 {
        out.push(json!({"apiVersion": "kubeflow.org/v1", "kind": "Notebook",
            "metadata": {"name": format!("nb-{i:04}"), "namespace": ns},
            "spec": {"template": {"spec": {"containers": [{"name": "notebook",
                "image": "kubeflownotebookswg/jupyter-scipy:v1.9.0",
                "resources": {"requests": {"cpu": "500m", "memory": "1Gi"}}}]}}}}));
    }
    for i in 0..250 {
        out.push(json!({"apiVersion": "kubeflow.org/v1", "kind": "PyTorchJob",
            "metadata": {"name": format!("train-{i:04}"), "namespace": ns},
            "spec": {"pytorchReplicaSpecs": {"Master": {"replicas": 1, "restartPolicy": "OnFailure",
                "template": {"spec": {"containers": [{"name": "pytorch",
                    "image": "docker.io/kubeflowkatib/pytorch-mnist:v1beta1-45c5727",
                    "command": ["python3", "/opt/pytorch-mnist/mnist.py", "--epochs=1"]}]}}}}}}));
    }
    out
}

fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map(|kb| kb / 1024.0)
        .unwrap_or(f64::NAN)
}

fn kubectl(kubeconfig: &std::path::Path, args: &[&str]) -> Duration {
    let start = Instant::now();
    let out = Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(args)
        .output()
        .expect("kubectl runs");
    // kubectl diff exits 1 when there are differences; anything above is an error.
    assert!(
        out.status.code().unwrap_or(2) <= 1,
        "kubectl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    start.elapsed()
}

fn ms(d: Duration) -> String {
    format!("{:.0} ms", d.as_secs_f64() * 1000.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: run with --ignored --nocapture"]
async fn bench_1000_objects() {
    let Some(tc) = kiln_testsupport::cluster().await else {
        return;
    };
    kiln_testsupport::install_crds(tc.client()).await.unwrap();
    let ns = tc.namespace("bench").await.unwrap();
    let (client, log) = counting(tc.client().clone());
    let mut cluster = Cluster::new(client);
    let opts = Options::new(ApplySetRef::new("bench", &ns));
    let desired: Vec<Manifest> = objects(&ns)
        .into_iter()
        .map(|v| Manifest::new(v).unwrap())
        .collect();

    let t = Instant::now();
    let report = reconcile(&mut cluster, &desired, &opts).await.unwrap();
    let first = t.elapsed();
    assert!(report.success(), "{:#?}", report.errors);
    assert_eq!(report.plan.summary().create, 1000);

    log.reset();
    let t = Instant::now();
    let report = reconcile(&mut cluster, &desired, &opts).await.unwrap();
    let noop = t.elapsed();
    assert_eq!(report.plan.summary().unchanged, 1000);
    let (writes, lists, total) = (log.writes().len(), log.lists(), log.records().len());

    let t = Instant::now();
    let planned = plan_cluster(&mut cluster, &desired, &opts).await.unwrap();
    let plan_time = t.elapsed();
    assert!(!planned.plan.has_changes());

    // The same objects through kubectl, in a second namespace.
    let ns2 = tc.namespace("bench-kubectl").await.unwrap();
    let dir = std::env::temp_dir().join(format!("kiln-bench-{ns2}"));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("all.json");
    let list = json!({"apiVersion": "v1", "kind": "List", "items": objects(&ns2)});
    std::fs::write(&file, serde_json::to_vec(&list).unwrap()).unwrap();
    let f = file.to_str().unwrap();
    let kc = tc.kubeconfig();
    let kubectl_first = kubectl(kc, &["apply", "--server-side", "-f", f]);
    let kubectl_noop = kubectl(kc, &["apply", "--server-side", "-f", f]);
    let kubectl_diff = kubectl(kc, &["diff", "--server-side", "-f", f]);

    let ratio = |a: Duration, b: Duration| a.as_secs_f64() / b.as_secs_f64();
    println!(
        "\n=== kiln reconciler benchmark: 1,000 objects (500 ConfigMaps, 250 Notebooks, 250 PyTorchJobs) ==="
    );
    println!("kiln first apply:            {}", ms(first));
    println!(
        "kiln no-op apply:            {} ({writes} writes, {lists} LISTs, {total} requests in all)",
        ms(noop)
    );
    println!("kiln plan (no changes):      {}", ms(plan_time));
    println!(
        "kubectl apply --server-side: first {}, no-op {}",
        ms(kubectl_first),
        ms(kubectl_noop)
    );
    println!("kubectl diff --server-side:  {}", ms(kubectl_diff));
    println!(
        "no-op speed-up vs kubectl apply: {:.1}x; plan vs kubectl diff: {:.1}x",
        ratio(kubectl_noop, noop),
        ratio(kubectl_diff, plan_time)
    );
    println!("peak RSS of the kiln process: {:.0} MiB", peak_rss_mib());
    assert_eq!(writes, 0);
    assert!(lists <= 3, "one LIST per kind and namespace");
}
