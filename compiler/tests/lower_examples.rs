//! The standard library type-checks, and every example under `examples/kinds`, `examples/team`
//! and `examples/upstream` (except the pipeline ones, tested with the pipeline lowering)
//! compiles and lowers to manifests without diagnostics; the upstream ones are semantically equal
//! to the upstream manifests they reproduce.

mod common;

use std::path::{Path, PathBuf};

use kiln_compiler::lower::parse_quantity;
use kiln_compiler::source::MemoryLoader;
use kiln_compiler::{Compiled, Options, compile};
use serde_json::{Map, Value};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn render(compiled: &Compiled) -> String {
    kiln_compiler::render::render_plain(&compiled.diagnostics, &compiled.sources, 100)
}

#[test]
fn every_stdlib_module_checks_cleanly() {
    let dir = root().join("stdlib");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        // the hand-written modules; the generated ones under `schemas/` are checked by
        // `generated_schemas::every_generated_module_checks`
        .filter(|e| e.path().extension().is_some_and(|x| x == "kiln"))
        .filter_map(|e| e.path().file_stem().and_then(|s| s.to_str()).map(str::to_string))
        .collect();
    names.sort();
    let mut failures = Vec::new();
    for name in &names {
        let src = format!("import \"{name}\" as m\n");
        let loader = MemoryLoader::new().with("main.kiln", &src);
        let compiled = compile(&loader, &["main.kiln".to_string()], &Options::default());
        if !compiled.diagnostics.is_empty() {
            failures.push(format!("stdlib `{name}`:\n{}", render(&compiled)));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// The example files of a folder, recursively, sorted; pipelines are tested by
/// `pipeline_fidelity.rs`.
fn kiln_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let pipeline = |p: &Path| {
        p.ends_with("pipeline.kiln")
            || p.components().any(|c| {
                matches!(
                    c.as_os_str().to_str(),
                    Some("argo-workflows" | "kubeflow-pipelines" | "kfp-ir")
                )
            })
    };
    out.extend(
        kiln_lang::testing::kiln_files(dir)
            .into_iter()
            .filter(|p| !pipeline(p)),
    );
}

/// Compiles and lowers one example file; returns its manifests or a readable failure.
fn build(path: &Path) -> Result<Vec<serde_json::Value>, String> {
    let text = std::fs::read_to_string(path).unwrap();
    let loader = MemoryLoader::new().with("main.kiln", &text);
    let compiled = compile(&loader, &["main.kiln".to_string()], &Options::default());
    if compiled.has_errors() {
        return Err(render(&compiled));
    }
    // The stages `kiln build` runs, so this tests what users get (stamps are normalised away).
    let built = kiln_compiler::build::build(&compiled, None);
    if built.has_errors() {
        let lines: Vec<String> = built
            .diagnostics
            .iter()
            .map(|d| format!("{} {} ({:?})", d.code.id, d.message, d.help))
            .collect();
        return Err(lines.join("\n"));
    }
    Ok(built.manifests.into_iter().map(|m| m.value().clone()).collect())
}

#[test]
fn examples_compile_and_lower() {
    let mut files = Vec::new();
    for d in ["examples/kinds", "examples/team", "examples/upstream"] {
        kiln_files(&root().join(d), &mut files);
    }
    assert!(!files.is_empty());
    let mut failures = Vec::new();
    for f in &files {
        match build(f) {
            Ok(manifests) if manifests.is_empty() && !f.ends_with("nodepool.kiln") => {
                failures.push(format!("{}: no manifests", f.display()))
            }
            Ok(_) => {}
            Err(e) => failures.push(format!("{}:\n{e}", f.display())),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} examples fail:\n{}",
        failures.len(),
        files.len(),
        failures.join("\n\n")
    );
}

#[test]
fn team_project_lowers_to_the_expected_kinds() {
    let manifests = build(&root().join("examples/team/project.kiln")).unwrap();
    let kinds: Vec<&str> = manifests.iter().filter_map(|m| m["kind"].as_str()).collect();
    assert_eq!(
        kinds,
        [
            "Profile",
            "Notebook",
            "PersistentVolumeClaim",
            "PyTorchJob",
            "Experiment",
            "InferenceService"
        ]
    );
    let exp = &manifests[4];
    let args = &exp["spec"]["trialTemplate"]["trialSpec"]["spec"]["pytorchReplicaSpecs"]["Master"]["template"]
        ["spec"]["containers"][0]["args"];
    assert_eq!(args[0], "--lr=${trialParameters.lr}");
    assert_eq!(manifests[5]["spec"]["predictor"]["canaryTrafficPercent"], 10);
}

#[test]
fn quota_overflow_in_kiln_is_reported() {
    let src = r#"
import "kubeflow" as kf
kf.Profile "ns" { owner = "a@b.c", quota = { gpu = 1 } }
kf.Notebook "nb" { namespace = "ns", image = "jupyter:1", gpu = kf.gpu(kf.nvidia("t4"), 2) }
"#;
    let dir = std::env::temp_dir().join("kiln-lower-quota.kiln");
    std::fs::write(&dir, src).unwrap();
    let err = build(&dir).unwrap_err();
    assert!(err.starts_with("K0502"), "{err}");
}

#[test]
#[ignore]
fn dump() {
    let f = std::env::var("KILN_DUMP").unwrap();
    let m = build(Path::new(&f)).unwrap();
    println!("{}", serde_json::to_string_pretty(&m).unwrap());
}

/// The diagnostic codes of compiling `body` after `import "kubeflow" as kf`.
fn codes_of(body: &str) -> Vec<String> {
    let src = format!("import \"kubeflow\" as kf\n{body}\n");
    let loader = MemoryLoader::new().with("main.kiln", &src);
    let compiled = compile(&loader, &["main.kiln".to_string()], &Options::default());
    compiled
        .diagnostics
        .iter()
        .map(|d| d.code.id.to_string())
        .collect()
}

#[test]
fn refinements_check_ml_fields_statically() {
    // Canary traffic is a Percent(0%..100%).
    let isvc =
        |extra: &str| format!("kf.InferenceService \"s\" {{ model = kf.sklearn(\"s3://m/v1\"), {extra} }}");
    assert_eq!(
        codes_of(&isvc(
            "canary = { model = kf.sklearn(\"s3://m/v2\"), traffic = 120% }"
        )),
        ["K0206"]
    );
    // storageUri schemes.
    assert_eq!(
        codes_of("kf.InferenceService \"s\" { model = kf.sklearn(\"ftp://m/v1\") }"),
        ["K0603"]
    );
    // Replicas are non-negative.
    assert_eq!(codes_of(&isvc("min_replicas = -1")), ["K0206"]);
    // GPU counts are whole numbers of at least one.
    assert_eq!(
        codes_of(
            "kf.Notebook \"n\" { image = \"jupyter:1\", gpu = { accelerator = kf.nvidia(\"t4\"), count = 0 } }"
        ),
        ["K0206"]
    );
    // Images are validated references.
    assert_eq!(
        codes_of("kf.Notebook \"n\" { image = \"Not An Image\" }"),
        ["K0206"]
    );
    // Namespaces are DNS-1123 labels.
    assert_eq!(
        codes_of("kf.Notebook \"n\" { image = \"jupyter:1\", namespace = \"Team_A\" }"),
        ["K0206"]
    );
    // Unknown fields are errors (closed records).
    assert_eq!(
        codes_of("kf.Notebook \"n\" { image = \"jupyter:1\", memroy = 16Gi }"),
        ["K0203"]
    );
    // Frameworks are an enum.
    assert_eq!(
        codes_of("kf.TrainingJob \"t\" { framework = \"pytorch2\", image = \"x:1\" }"),
        ["K0205"]
    );
    // Katib search spaces: step is positive.
    assert_eq!(
        codes_of(
            "let s: Map<kf.Parameter> = { lr = kf.Parameter { space = kf.Space.DoubleRange { min = 0.1, max = 0.2, step = -0.1 } } }"
        ),
        ["K0206"]
    );
}

// ---------------------------------------------------------------------------------------------
// Upstream fidelity: every `examples/upstream/<path>.kiln` (ML kinds; the pipeline examples are
// tested by the pipeline lowering) lowers to objects semantically equal to the upstream
// manifests in `$KILN_SHARED/upstream-examples/<path>.yaml` (default `../shared`).
//
// Normalisation applied to both sides: key order, `null`s, kiln's own labels, the
// content-derived name suffix of run-like objects, `metadata.generation`, quantity spelling
// (`1Gi` = `1024Mi`, `0.5` = `500m`, `1` = `"1"`), extended-resource requests equal to their
// limits (Kubernetes defaults them), and the CRD defaults of Trainer's `runtimeRef`.

fn shared() -> Option<PathBuf> {
    let dir = std::env::var("KILN_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|_| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared"));
    dir.join("upstream-examples").is_dir().then_some(dir)
}

/// Keys whose values are Kubernetes quantities.
fn is_quantity_key(key: &str, parent: &str) -> bool {
    matches!(parent, "limits" | "requests" | "hard") || matches!(key, "sizeLimit" | "storage")
}

fn normalise(v: &Value, key: &str, parent: &str) -> Value {
    match v {
        Value::Object(m) => {
            let mut out = Map::new();
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            for k in keys {
                let x = &m[k];
                if x.is_null() || k == "generation" {
                    continue;
                }
                if matches!(k.as_str(), "labels" | "annotations") && key == "metadata" {
                    if let Some(kept) = common::without_kiln_keys(x) {
                        out.insert(k.clone(), normalise(&Value::Object(kept), k, key));
                    }
                    continue;
                }
                out.insert(k.clone(), normalise(x, k, key));
            }
            // Extended resources: requests default to limits.
            if key == "resources"
                && let (Some(Value::Object(lim)), Some(Value::Object(req))) =
                    (out.get("limits").cloned(), out.get_mut("requests"))
            {
                req.retain(|k, v| k == "cpu" || k == "memory" || lim.get(k) != Some(v));
                if req.is_empty() {
                    out.remove("requests");
                }
            }
            if key == "runtimeRef" {
                if out.get("apiGroup") == Some(&Value::from("trainer.kubeflow.org")) {
                    out.remove("apiGroup");
                }
                if out.get("kind") == Some(&Value::from("ClusterTrainingRuntime")) {
                    out.remove("kind");
                }
            }
            Value::Object(out)
        }
        Value::Array(a) => Value::Array(a.iter().map(|x| normalise(x, key, parent)).collect()),
        Value::String(s) if is_quantity_key(key, parent) => {
            parse_quantity(s).map_or_else(|| v.clone(), |q| Value::from(q as i64))
        }
        Value::Number(n) if is_quantity_key(key, parent) => {
            Value::from((n.as_f64().unwrap_or(0.0) * 1000.0).round() as i64)
        }
        _ => v.clone(),
    }
}

/// Removes the content-derived suffix from run-like names.
fn strip_run_name(mut v: Value) -> Value {
    let run_of = v["metadata"]["labels"]["kiln.dev/run-of"]
        .as_str()
        .map(str::to_string);
    if let Some(base) = run_of {
        v["metadata"]["name"] = Value::from(base);
    }
    v
}

/// Upstream files that are templates filled by `envsubst` before use, and the values their kiln
/// versions use.
const ENVSUBST: &[(&str, &str, &str)] = &[
    ("poddefault-basic.yaml", "${PODDEFAULT_NAME}", "test-poddefault"),
    ("poddefault-basic.yaml", "${NAMESPACE}", "poddefault-test"),
];

fn upstream_docs(path: &Path) -> Vec<Value> {
    let mut text = std::fs::read_to_string(path).unwrap();
    for (file, var, value) in ENVSUBST {
        if path.ends_with(file) {
            text = text.replace(var, value);
        }
    }
    let mut out = Vec::new();
    for doc in serde_norway::Deserializer::from_str(&text) {
        let v: Value = serde::Deserialize::deserialize(doc).unwrap();
        if !v.is_null() {
            out.push(v);
        }
    }
    out
}

#[test]
fn upstream_examples_are_equivalent() {
    let Some(shared) = shared() else {
        eprintln!("KILN_SHARED (default ../shared) is absent: upstream fidelity not checked");
        return;
    };
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/upstream");
    let mut files = Vec::new();
    kiln_files(&examples, &mut files);
    assert!(files.len() >= 30, "only {} upstream examples", files.len());
    let mut failures = Vec::new();
    for f in &files {
        let rel = f.strip_prefix(&examples).unwrap().with_extension("yaml");
        let up = shared.join("upstream-examples").join(&rel);
        if !up.exists() {
            failures.push(format!("{}: no upstream file {}", rel.display(), up.display()));
            continue;
        }
        let ours = match build(f) {
            Ok(o) => o,
            Err(e) => {
                failures.push(format!("{}: {e}", rel.display()));
                continue;
            }
        };
        let ours: Vec<Value> = ours
            .into_iter()
            .map(|o| normalise(&strip_run_name(o), "", ""))
            .collect();
        let theirs: Vec<Value> = upstream_docs(&up).iter().map(|o| normalise(o, "", "")).collect();
        if ours != theirs {
            failures.push(format!(
                "{}:\n  kiln:     {}\n  upstream: {}",
                rel.display(),
                serde_json::to_string(&ours).unwrap(),
                serde_json::to_string(&theirs).unwrap()
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} upstream examples differ:\n{}",
        failures.len(),
        files.len(),
        failures.join("\n\n")
    );
}
