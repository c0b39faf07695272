//! `cargo bench -p kiln-reconciler --bench apply`: kiln's apply against the real control plane
//! (the shared kube-apiserver + etcd of kiln-testsupport), with `kubectl` as the peer measured
//! in the same run. Targets: a no-op apply of 1,000 objects makes 0 writes and at most one LIST
//! per kind and namespace, in under 1 s, and is at least 10x faster than
//! `kubectl apply --server-side` (issue 5); a first apply is at least 4x faster than kubectl's,
//! and a no-op apply after a comment-only edit of every source file makes 0 writes and 0 dry
//! runs in under 0.5 s (issue 9).
//!
//! Two workloads:
//! * the 1,000-object set below (ConfigMaps, Notebooks, PyTorchJobs in one namespace);
//! * kiln sources: `bench/gen.py repo DIR 200` (200 team workloads in two files, about 1,000
//!   manifests of 8 kinds in 20 namespaces: notebooks with workspace PVCs, PyTorchJobs,
//!   InferenceServices, ConfigMaps, scheduled pipelines), compiled by kiln; first apply against
//!   `kubectl apply --server-side` of the same compiled manifests, then a comment line added
//!   at the top of every file, compiled again and applied (the no-op target);
//! * and `examples/team`'s first apply, which waits for its Profile's namespace (created by
//!   [`kiln_testsupport::StandInProfileController`], standing in for Kubeflow's profile
//!   controller, 2 s after the Profile appears, as the real one takes a moment).
//!
//! The set: 1,000 objects (500 ConfigMaps, 250 Notebooks, 250 PyTorchJobs) in one namespace.
//! Measured, kiln and kubectl alternating run by run so that load from elsewhere hits both:
//! * first apply, once in each of [`FIRST_RUNS`] fresh namespaces (kiln's and kubectl's apart);
//! * no-op apply, [`RUNS`] times: kiln's `reconcile` vs `kubectl apply --server-side`;
//! * plan of an unchanged set, [`RUNS`] times: kiln's `plan_cluster` vs `kubectl diff --server-side`.
//!
//! Each kiln run is a child process of this binary doing what one `kiln apply` / `kiln plan`
//! does (a new client, API discovery, inventory GET, LISTs, writes), so its peak RSS (VmHWM) is
//! one kiln operation's, without the CRD installation this parent does. kubectl's time is the
//! wall time of its process. Timings are reported, not asserted (the machine is shared); the
//! request targets are asserted: the bench exits non-zero when a no-op apply (or a plan) writes,
//! or makes more LISTs than there are (kind, namespace) pairs. The load average is printed at
//! start and end to judge noise.
//!
//! Run by `cargo bench` only: `cargo test --all-targets` builds it and runs it without
//! `--bench`, which does nothing.

use kiln_reconciler::counting::counting;
use kiln_reconciler::{ApplySetRef, Cluster, Manifest, Options, plan_cluster, reconcile};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// Fresh namespaces for the first apply, per tool.
const FIRST_RUNS: usize = 3;
/// Runs of each no-op apply and plan, per tool.
const RUNS: usize = 5;
/// How many objects of the set.
const OBJECTS: usize = 1_000;
/// The environment variable that makes this binary a kiln child: `first`, `noop` or `plan`.
const CHILD_ENV: &str = "KILN_BENCH_CHILD";
/// The child's namespace.
const NAMESPACE_ENV: &str = "KILN_BENCH_NAMESPACE";
/// A folder of .kiln files the child compiles instead of the generated set.
const SOURCES_ENV: &str = "KILN_BENCH_SOURCES";
/// Team workloads of the generated kiln sources (about 5 manifests each).
const SOURCE_WORKLOADS: usize = 200;

/// Compiles every .kiln file of `dir` (named by file name, as `kiln apply DIR` names them
/// relative to the project root) into manifests.
fn compile_sources(dir: &Path) -> Vec<Manifest> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("sources folder")
        .map(|e| e.expect("entry").file_name().into_string().expect("UTF-8 name"))
        .filter(|n| n.ends_with(".kiln"))
        .collect();
    names.sort();
    let mut loader = kiln_compiler::source::MemoryLoader::new();
    for n in &names {
        loader.insert(n, &std::fs::read_to_string(dir.join(n)).expect("source"));
    }
    let compiled = kiln_compiler::compile(&loader, &names, &kiln_compiler::Options::default());
    if compiled.has_errors() {
        fail(&format!(
            "{} does not compile: {:?}",
            dir.display(),
            compiled.diagnostics
        ));
    }
    let built = kiln_compiler::build::build(&compiled, None);
    if built.diagnostics.iter().any(|d| d.is_error()) {
        fail(&format!(
            "{} does not build: {:?}",
            dir.display(),
            built.diagnostics
        ));
    }
    built
        .manifests
        .iter()
        .map(|m| Manifest::new(m.value().clone()).expect("valid manifest"))
        .collect()
}

/// Writes `bench/gen.py repo` sources into `dir`, namespaces `team-N` renamed `<prefix>-team-N`
/// (so kiln's and kubectl's runs each start in fresh namespaces); returns the namespaces.
fn generated_sources(dir: &Path, prefix: &str) -> Vec<String> {
    let raw = dir.join("raw");
    if !raw.is_dir() {
        let gen_py = kiln_testsupport::workspace_root().join("bench").join("gen.py");
        let status = Command::new("python3")
            .arg(&gen_py)
            .args([
                "repo",
                raw.to_str().expect("UTF-8"),
                SOURCE_WORKLOADS.to_string().as_str(),
            ])
            .status()
            .unwrap_or_else(|e| fail(&format!("cannot run python3 {}: {e}", gen_py.display())));
        if !status.success() {
            fail(&format!("{} failed ({status})", gen_py.display()));
        }
    }
    let out = dir.join(prefix);
    std::fs::create_dir_all(&out).expect("sources folder");
    for entry in std::fs::read_dir(&raw).expect("generated sources") {
        let path = entry.expect("entry").path();
        let text = std::fs::read_to_string(&path).expect("source");
        let renamed = text.replace("\"team-", &format!("\"{prefix}-team-"));
        std::fs::write(out.join(path.file_name().expect("name")), renamed).expect("write source");
    }
    (0..20).map(|i| format!("{prefix}-team-{i}")).collect()
}

/// A copy of `src`'s .kiln files in `dst`, each edited by `edit`.
fn copy_edited(src: &Path, dst: &Path, edit: impl Fn(&str) -> String) {
    std::fs::create_dir_all(dst).expect("folder");
    for entry in std::fs::read_dir(src).expect("sources") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "kiln") {
            let text = std::fs::read_to_string(&path).expect("source");
            std::fs::write(dst.join(path.file_name().expect("name")), edit(&text)).expect("write");
        }
    }
}

fn objects(ns: &str) -> Vec<Value> {
    let mut out = Vec::new();
    for i in 0..OBJECTS / 2 {
        out.push(json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": format!("cfg-{i:04}"), "namespace": ns},
            "data": {"index": i.to_string(), "payload": "x".repeat(200)}}));
    }
    for i in 0..OBJECTS / 4 {
        out.push(json!({"apiVersion": "kubeflow.org/v1", "kind": "Notebook",
            "metadata": {"name": format!("nb-{i:04}"), "namespace": ns},
            "spec": {"template": {"spec": {"containers": [{"name": "notebook",
                "image": "kubeflownotebookswg/jupyter-scipy:v1.9.0",
                "resources": {"requests": {"cpu": "500m", "memory": "1Gi"}}}]}}}}));
    }
    for i in 0..OBJECTS / 4 {
        out.push(json!({"apiVersion": "kubeflow.org/v1", "kind": "PyTorchJob",
            "metadata": {"name": format!("train-{i:04}"), "namespace": ns},
            "spec": {"pytorchReplicaSpecs": {"Master": {"replicas": 1, "restartPolicy": "OnFailure",
                "template": {"spec": {"containers": [{"name": "pytorch",
                    "image": "docker.io/kubeflowkatib/pytorch-mnist:v1beta1-45c5727",
                    "command": ["python3", "/opt/pytorch-mnist/mnist.py", "--epochs=1"]}]}}}}}}));
    }
    out
}

/// The (kind, namespace) pairs of the set: the bound on a no-op's LISTs.
fn kind_namespace_pairs(objects: &[Value]) -> usize {
    let pair = |o: &Value| {
        (
            o["apiVersion"].to_string(),
            o["kind"].to_string(),
            o["metadata"]["namespace"].to_string(),
        )
    };
    objects.iter().map(pair).collect::<BTreeSet<_>>().len()
}

/// This process's peak resident set (VmHWM), in KiB.
fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let line = status.lines().find_map(|l| l.strip_prefix("VmHWM:"));
    line.and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn load_average() -> String {
    let text = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    text.split_whitespace().take(3).collect::<Vec<_>>().join(" ")
}

/// What one kiln run did, as the child reports it on stdout (one JSON line).
#[derive(Debug, Clone, Copy)]
struct KilnRun {
    time: Duration,
    writes: usize,
    lists: usize,
    gets: usize,
    dry_runs: usize,
    requests: usize,
    rss_kib: u64,
    /// Objects in the desired set.
    objects: usize,
    /// Compiling the sources (kiln sources only; not in `time`).
    compile: Duration,
}

/// The child: one kiln operation on `$KILN_BENCH_NAMESPACE`, as a fresh `kiln` process does it.
async fn child(op: &str) {
    let ns = std::env::var(NAMESPACE_ENV).expect("the parent names the namespace");
    let compile_start = Instant::now();
    let desired: Vec<Manifest> = match std::env::var_os(SOURCES_ENV) {
        Some(dir) => compile_sources(Path::new(&dir)),
        None => objects(&ns)
            .into_iter()
            .map(|v| Manifest::new(v).expect("valid manifest"))
            .collect(),
    };
    let compile = compile_start.elapsed();
    // Kiln sources get an ApplySet of their own in kiln-system: the team example's namespace
    // must not be created by kiln (it is its Profile's, created by the profile controller).
    let opts = if std::env::var_os(SOURCES_ENV).is_some() {
        Options::new(ApplySetRef::new(&ns, "kiln-system"))
    } else {
        Options::new(ApplySetRef::new("bench", &ns))
    };
    let start = Instant::now();
    let tc = kiln_testsupport::cluster()
        .await
        .expect("the parent passes its kubeconfig");
    let (client, log) = counting(tc.client().clone());
    let mut cluster = Cluster::new(client);
    let summary = if op == "plan" {
        let planned = plan_cluster(&mut cluster, &desired, &opts)
            .await
            .expect("plan runs");
        planned.plan.summary()
    } else {
        let report = reconcile(&mut cluster, &desired, &opts)
            .await
            .expect("apply runs");
        assert!(report.success(), "kiln {op} apply failed: {:#?}", report.errors);
        report.plan.summary()
    };
    let time = start.elapsed();
    let expected = if op == "first" {
        summary.create
    } else {
        summary.unchanged
    };
    assert_eq!(expected, desired.len(), "kiln {op}: unexpected plan {summary:?}");
    let records = log.records();
    let out = json!({
        "ms": time.as_secs_f64() * 1000.0,
        "writes": log.writes().len(),
        "lists": log.lists(),
        "gets": records.iter().filter(|r| r.method == "GET" && !r.is_list()).count(),
        "dry_runs": log.dry_runs(),
        "requests": records.len(),
        "rss_kib": peak_rss_kib(),
        "objects": desired.len(),
        "compile_ms": compile.as_secs_f64() * 1000.0,
    });
    println!("{out}");
}

/// Runs one kiln operation in a child process of this binary.
fn kiln(op: &str, ns: &str, kubeconfig: &Path) -> KilnRun {
    kiln_on(op, ns, kubeconfig, None)
}

/// Runs one kiln operation in a child process, on the kiln sources in `sources` if given.
fn kiln_on(op: &str, ns: &str, kubeconfig: &Path, sources: Option<&Path>) -> KilnRun {
    let exe = std::env::current_exe().expect("own path");
    let mut command = Command::new(exe);
    command
        .env(CHILD_ENV, op)
        .env(NAMESPACE_ENV, ns)
        .env(kiln_testsupport::cluster::KUBECONFIG_ENV, kubeconfig);
    if let Some(dir) = sources {
        command.env(SOURCES_ENV, dir);
    }
    let out = command.output().expect("the bench binary runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        fail(&format!(
            "kiln {op} in {ns} failed ({}):\n{stdout}{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let v: Value =
        serde_json::from_str(stdout.lines().last().unwrap_or_default()).expect("child's JSON line");
    let n = |k: &str| v[k].as_u64().expect("counts are numbers") as usize;
    KilnRun {
        time: Duration::from_secs_f64(v["ms"].as_f64().expect("ms") / 1000.0),
        writes: n("writes"),
        lists: n("lists"),
        gets: n("gets"),
        dry_runs: n("dry_runs"),
        requests: n("requests"),
        rss_kib: n("rss_kib") as u64,
        objects: n("objects"),
        compile: Duration::from_secs_f64(v["compile_ms"].as_f64().expect("compile_ms") / 1000.0),
    }
}

/// Wall time of one kubectl process; `diff` must find no differences.
fn kubectl(kubeconfig: &Path, args: &[&str]) -> Duration {
    let start = Instant::now();
    let out = Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(args)
        .output()
        .unwrap_or_else(|e| fail(&format!("cannot run kubectl: {e}")));
    let time = start.elapsed();
    if !out.status.success() {
        fail(&format!(
            "kubectl {} failed ({}; `diff` exits 1 when it finds differences):\n{}{}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    time
}

/// Writes the set for `ns` as one kubectl List file.
fn manifest_file(dir: &Path, ns: &str) -> PathBuf {
    list_file(dir, ns, objects(ns))
}

/// Writes `items` as one kubectl List file `<dir>/<name>.json`.
fn list_file(dir: &Path, name: &str, items: Vec<Value>) -> PathBuf {
    let file = dir.join(format!("{name}.json"));
    let list = json!({"apiVersion": "v1", "kind": "List", "items": items});
    std::fs::write(&file, serde_json::to_vec(&list).expect("JSON")).expect("temp file written");
    file
}

fn fail(message: &str) -> ! {
    eprintln!("\nkiln apply benchmark FAILED: {message}");
    std::process::exit(1)
}

/// "median ms (min-max)" of the runs.
fn spread(times: &[Duration]) -> String {
    format!(
        "{:>6.0} ms ({:.0}-{:.0})",
        ms(median(times)),
        ms(min(times)),
        ms(max(times))
    )
}

fn median(times: &[Duration]) -> Duration {
    let mut sorted = times.to_vec();
    sorted.sort();
    sorted[sorted.len() / 2]
}

fn min(times: &[Duration]) -> Duration {
    times.iter().copied().min().unwrap_or_default()
}

fn max(times: &[Duration]) -> Duration {
    times.iter().copied().max().unwrap_or_default()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// The table row of one operation, kiln against its kubectl peer.
fn row(label: &str, kiln: &[KilnRun], peer: &[Duration], target: &str) {
    let times: Vec<Duration> = kiln.iter().map(|r| r.time).collect();
    let ratio = median(peer).as_secs_f64() / median(&times).as_secs_f64();
    let rss = kiln.iter().map(|r| r.rss_kib).max().unwrap_or(0);
    println!(
        "{label:<18} {:<26} {:<26} {ratio:>11.1}x {:>8.1} MiB  {target}",
        spread(&times),
        spread(peer),
        mib(rss)
    );
}

/// Where runs of `op` missed the request targets: no writes, at most one LIST per (kind,
/// namespace) pair.
fn missed<'a>(op: &'a str, runs: &'a [KilnRun], pairs: usize) -> impl Iterator<Item = String> + 'a {
    runs.iter().enumerate().flat_map(move |(i, r)| {
        let run = i + 1;
        let writes = (r.writes != 0).then(|| format!("{op} run {run} made {} writes (target 0)", r.writes));
        let lists = (r.lists > pairs).then(|| {
            format!(
                "{op} run {run} made {} LISTs for {pairs} (kind, namespace) pairs",
                r.lists
            )
        });
        writes.into_iter().chain(lists)
    })
}

async fn parent() {
    let load_start = load_average();
    let Some(tc) = kiln_testsupport::cluster().await else {
        return;
    };
    kiln_testsupport::install_crds(tc.client())
        .await
        .expect("CRDs installed");
    let kc = tc.kubeconfig().to_path_buf();
    let dir = std::env::temp_dir().join(format!("kiln-bench-apply-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let pairs = kind_namespace_pairs(&objects("any"));

    // First apply: kiln and kubectl alternately, each into fresh namespaces.
    let (mut kiln_first, mut kubectl_first) = (Vec::new(), Vec::new());
    let (mut kiln_ns, mut kubectl_file) = (String::new(), PathBuf::new());
    for _ in 0..FIRST_RUNS {
        kiln_ns = tc.namespace("bench-kiln").await.expect("namespace");
        kiln_first.push(kiln("first", &kiln_ns, &kc));
        kubectl_file = manifest_file(&dir, &tc.namespace("bench-kubectl").await.expect("namespace"));
        let f = kubectl_file.to_str().expect("UTF-8 temp path");
        kubectl_first.push(kubectl(&kc, &["apply", "--server-side", "-f", f]));
    }
    // No-op apply and plan, on the last namespaces of the first apply.
    let f = kubectl_file.to_str().expect("UTF-8 temp path");
    let (mut kiln_noop, mut kubectl_noop, mut kiln_plan, mut kubectl_diff) = (vec![], vec![], vec![], vec![]);
    for _ in 0..RUNS {
        kiln_noop.push(kiln("noop", &kiln_ns, &kc));
        kubectl_noop.push(kubectl(&kc, &["apply", "--server-side", "-f", f]));
    }
    for _ in 0..RUNS {
        kiln_plan.push(kiln("plan", &kiln_ns, &kc));
        kubectl_diff.push(kubectl(&kc, &["diff", "--server-side", "-f", f]));
    }

    // Kiln sources: the first apply of the compiled generated repository, kiln against kubectl
    // on the same manifests (fresh namespaces each), then a comment line at the top of every
    // file: compiled again, the apply must write nothing and dry-run nothing.
    let (mut src_kiln_first, mut src_kubectl_first) = (Vec::new(), Vec::new());
    let (mut src_dir, mut src_ns) = (PathBuf::new(), String::new());
    for _ in 0..FIRST_RUNS {
        let prefix = kiln_testsupport::unique_name("bk");
        let namespaces = generated_sources(&dir, &prefix);
        create_namespaces(tc.client(), &namespaces).await;
        src_dir = dir.join(&prefix);
        src_ns = namespaces[0].clone();
        src_kiln_first.push(kiln_on("first", &src_ns, &kc, Some(&src_dir)));
        let prefix = kiln_testsupport::unique_name("bc");
        let namespaces = generated_sources(&dir, &prefix);
        create_namespaces(tc.client(), &namespaces).await;
        let manifests: Vec<Value> = compile_sources(&dir.join(&prefix))
            .into_iter()
            .map(Manifest::into_value)
            .collect();
        let f = list_file(&dir, &prefix, manifests);
        src_kubectl_first.push(kubectl(
            &kc,
            &[
                "apply",
                "--server-side",
                "-f",
                f.to_str().expect("UTF-8 temp path"),
            ],
        ));
    }
    let commented = dir.join("commented");
    copy_edited(&src_dir, &commented, |t| {
        format!("# a comment that changes no object\n{t}")
    });
    let src_comment: Vec<KilnRun> = (0..RUNS)
        .map(|_| kiln_on("noop", &src_ns, &kc, Some(&commented)))
        .collect();

    // examples/team's first apply: the Profile, the wait for its namespace (created by the
    // stand-in for Kubeflow's profile controller), then the objects in it.
    let profile = kiln_testsupport::unique_name("bt").replace("kiln-", "k");
    let team_dir = dir.join("team");
    copy_edited(
        &kiln_testsupport::workspace_root().join("examples").join("team"),
        &team_dir,
        |t| t.replace("\"team-churn\"", &format!("\"{profile}\"")),
    );
    let controller = kiln_testsupport::StandInProfileController::start(tc.client().clone(), &profile);
    let team = {
        let (profile, kc, team_dir) = (profile.clone(), kc.clone(), team_dir.clone());
        tokio::task::spawn_blocking(move || kiln_on("first", &profile, &kc, Some(&team_dir)))
            .await
            .expect("team run")
    };
    drop(controller);
    let _ = std::fs::remove_dir_all(&dir);

    println!(
        "\nkiln apply benchmark: 1,000 objects (500 ConfigMaps, 250 Notebooks, 250 PyTorchJobs) in \
         one namespace, against {}",
        kc.display()
    );
    println!("load average at start: {load_start}");
    println!(
        "{:<18} {:<26} {:<26} {:>12} {:>12}  target",
        "operation", "kiln median (min-max)", "kubectl median (min-max)", "kubectl/kiln", "kiln RSS"
    );
    row(
        &format!("first apply (x{FIRST_RUNS})"),
        &kiln_first,
        &kubectl_first,
        ">= 4x",
    );
    row(
        &format!("no-op apply (x{RUNS})"),
        &kiln_noop,
        &kubectl_noop,
        "kiln < 1000 ms; >= 10x",
    );
    row(&format!("plan vs diff (x{RUNS})"), &kiln_plan, &kubectl_diff, "");
    println!(
        "kubectl: `kubectl apply --server-side` (first apply, no-op) and `kubectl diff --server-side`, \
         wall time of the process"
    );
    println!(
        "kiln: one operation as `kiln apply` / `kiln plan` runs it (new client, discovery, inventory, \
         LISTs, writes), timed inside a child process; kiln RSS = the largest peak RSS (VmHWM) of those \
         child processes (kubectl runs in its own processes and is not in it)"
    );
    let most = |count: fn(&KilnRun) -> usize| kiln_noop.iter().map(count).max().unwrap_or(0);
    println!(
        "kiln no-op apply requests (most in one of the {RUNS} runs): {} writes (target 0), {} LISTs for \
         {pairs} (kind, namespace) pairs (target <= {pairs}), {} GETs (discovery + inventory), {} dry \
         runs, {} in all",
        most(|r| r.writes),
        most(|r| r.lists),
        most(|r| r.gets),
        most(|r| r.dry_runs),
        most(|r| r.requests)
    );
    println!(
        "\nkiln sources: `bench/gen.py repo DIR {SOURCE_WORKLOADS}` ({} files), {} manifests in 20 \
         namespaces, compiled by kiln in {:.0} ms",
        std::fs::read_dir(&src_dir).map(|d| d.count()).unwrap_or(0),
        src_kiln_first.last().map_or(0, |r| r.objects),
        src_kiln_first.last().map_or(0.0, |r| ms(r.compile)),
    );
    row(
        &format!("first apply (x{FIRST_RUNS})"),
        &src_kiln_first,
        &src_kubectl_first,
        ">= 4x",
    );
    let comment_times: Vec<Duration> = src_comment.iter().map(|r| r.time).collect();
    let most = |count: fn(&KilnRun) -> usize| src_comment.iter().map(count).max().unwrap_or(0);
    println!(
        "{:<18} {:<26} writes {} (target 0), dry runs {} (target 0), LISTs {}, compile {:.0} ms; target < 500 ms",
        format!("comment edit (x{RUNS})"),
        spread(&comment_times),
        most(|r| r.writes),
        most(|r| r.dry_runs),
        most(|r| r.lists),
        src_comment.last().map_or(0.0, |r| ms(r.compile)),
    );
    println!(
        "\nexamples/team first apply: {} objects in {:.0} ms, waiting for the Profile's namespace (the \
         stand-in profile controller creates it {} s after the Profile appears); {} writes, {} requests",
        team.objects,
        ms(team.time),
        kiln_testsupport::StandInProfileController::delay().as_secs(),
        team.writes,
        team.requests,
    );
    println!("load average at end:   {}", load_average());

    let comment_misses = src_comment
        .iter()
        .enumerate()
        .filter(|(_, r)| r.writes != 0 || r.dry_runs != 0)
        .map(|(i, r)| {
            format!(
                "comment-edit run {} made {} writes and {} dry runs (target 0)",
                i + 1,
                r.writes,
                r.dry_runs
            )
        });
    let violations: Vec<String> = missed("no-op apply", &kiln_noop, pairs)
        .chain(missed("plan", &kiln_plan, pairs))
        .chain(comment_misses)
        .collect();
    if !violations.is_empty() {
        fail(&violations.join("; "));
    }
}

/// Creates the namespaces (the generated sources declare none: they are a team's namespaces).
async fn create_namespaces(client: &kube::Client, names: &[String]) {
    let api: kube::Api<k8s_openapi::api::core::v1::Namespace> = kube::Api::all(client.clone());
    for name in names {
        let ns = serde_json::from_value(json!({"apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": name, "labels": {"kiln.dev/test": "true"}}}))
        .expect("namespace object");
        api.create(&kube::api::PostParams::default(), &ns)
            .await
            .unwrap_or_else(|e| fail(&format!("cannot create namespace {name}: {e}")));
    }
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    if let Ok(op) = std::env::var(CHILD_ENV) {
        runtime.block_on(child(&op));
    } else if std::env::args().any(|a| a == "--bench") {
        runtime.block_on(parent());
    } else {
        println!("kiln apply benchmark: run by `cargo bench -p kiln-reconciler --bench apply`; skipped");
    }
}
