//! Upstream fidelity of pipelines: every upstream Argo Workflows example and every Kubeflow
//! Pipelines manifest has a kiln equivalent under `examples/upstream/`, written with the
//! pipeline types, whose output matches the upstream object after normalisation.
//!
//! - `argo-workflows/X.kiln` lowers (Argo target) to the objects of
//!   `$KILN_SHARED/upstream-examples/argo-workflows/X.yaml`, compared semantically.
//! - `kubeflow-pipelines/proposals/.../X.kiln` lowers (KFP target) to the Pipeline or
//!   PipelineVersion of the upstream file (the objects of the same kind are compared).
//! - `kfp-ir/X.kiln` and `kubeflow-pipelines/test_data/compiled-workflows/X.kiln` lower to a
//!   PipelineVersion whose `spec.pipelineSpec` matches `$KILN_SHARED/kfp-ir/examples/X.yaml` in
//!   structure (the compiled Argo workflows are kfp's backend output; the IR is what kiln emits).
//!
//! Normalisation, on both sides: key order; kiln's own `kiln.dev/` labels and annotations;
//! lists of named entries (templates, tasks, parameters, artifacts, steps of one parallel group)
//! compared as maps keyed by name, which is how Argo reads them; IR `sdkVersion`; executor
//! command bodies (`command`, and multi-line program texts in `args`). A Workflow whose upstream
//! has neither `name` nor `generateName` (k8s-jobs.yaml: its `name:` line is indented into the
//! annotation block above it, an upstream slip) is compared without them.
//!
//! The shared folder is `$KILN_SHARED`, default `../shared` next to the workspace.

mod common;

use std::path::{Path, PathBuf};

use kiln_compiler::source::{LoadError, SourceLoader};
use kiln_compiler::{Options, compile};
use serde_json::{Map, Value};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn shared() -> PathBuf {
    let dir = std::env::var("KILN_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|_| workspace().join("../shared"));
    assert!(
        dir.join("upstream-examples").is_dir() && dir.join("kfp-ir").is_dir(),
        "the shared upstream folder is missing: set KILN_SHARED to the folder holding \
         upstream-examples/ and kfp-ir/ (default ../shared next to the workspace; tried {})",
        dir.display()
    );
    dir
}

/// Loads sources from a folder (examples import each other by relative path).
struct Files(PathBuf);

impl SourceLoader for Files {
    fn load(&self, path: &str) -> Result<String, LoadError> {
        std::fs::read_to_string(self.0.join(path)).map_err(|e| LoadError::new(e.to_string()))
    }
}

/// Compiles one example and lowers every object it emits.
fn build(rel: &str) -> Vec<Value> {
    let path = workspace().join("examples/upstream").join(rel);
    assert!(path.is_file(), "missing example {}", path.display());
    let loader = Files(workspace().join("examples/upstream"));
    let compiled = compile(&loader, &[rel.to_string()], &Options::default());
    assert!(
        !compiled.has_errors(),
        "{rel} does not compile:\n{}",
        kiln_compiler::render::render_plain(&compiled.diagnostics, &compiled.sources, 100)
    );
    // The stages `kiln build` runs, so this tests what users get (stamps are normalised away).
    let built = kiln_compiler::build::build(&compiled, None);
    assert!(
        !built.has_errors(),
        "{rel} does not lower:\n{}",
        kiln_compiler::render::render_plain(&built.diagnostics, &compiled.sources, 100)
    );
    built.manifests.into_iter().map(|m| m.value().clone()).collect()
}

fn yaml_docs(path: &Path) -> Vec<Value> {
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let mut out = Vec::new();
    for doc in serde_norway::Deserializer::from_str(&text) {
        let v: Value = serde::Deserialize::deserialize(doc).unwrap();
        if !v.is_null() {
            out.push(v);
        }
    }
    out
}

/// The name of a named entry, when it is one.
fn entry_name(v: &Value) -> Option<&str> {
    v.get("name").and_then(Value::as_str)
}

fn normalise(v: &Value, key: &str) -> Value {
    match v {
        Value::Object(m) => {
            let mut out = Map::new();
            for (k, x) in m {
                if x.is_null() {
                    continue;
                }
                if matches!(k.as_str(), "labels" | "annotations") && key == "metadata" {
                    if let Some(kept) = common::without_kiln_keys(x) {
                        out.insert(k.clone(), Value::Object(kept));
                    }
                    continue;
                }
                out.insert(k.clone(), normalise(x, k));
            }
            let mut keys: Vec<String> = out.keys().cloned().collect();
            keys.sort();
            Value::Object(keys.into_iter().map(|k| (k.clone(), out[&k].clone())).collect())
        }
        Value::Array(a) => {
            let mut items: Vec<Value> = a.iter().map(|x| normalise(x, key)).collect();
            if !items.is_empty() && items.iter().all(|x| entry_name(x).is_some()) {
                items.sort_by(|x, y| entry_name(x).cmp(&entry_name(y)));
            }
            Value::Array(items)
        }
        _ => v.clone(),
    }
}

/// IR numbers are protobuf `Value` numbers, which are doubles (kfp writes `constant: 9.0` for an
/// integer input).
fn doubles(v: &mut Value) {
    match v {
        Value::Number(n) => *v = Value::from(n.as_f64().unwrap_or(f64::NAN)),
        Value::Array(a) => a.iter_mut().for_each(doubles),
        Value::Object(m) => m.values_mut().for_each(doubles),
        _ => {}
    }
}

/// Sets executor command bodies aside and drops the compiler version.
fn ir_structure(ir: &Value) -> Value {
    let mut ir = ir.clone();
    if let Some(m) = ir.as_object_mut() {
        m.remove("sdkVersion");
    }
    if let Some(execs) = ir
        .pointer_mut("/deploymentSpec/executors")
        .and_then(Value::as_object_mut)
    {
        for e in execs.values_mut() {
            let Some(c) = e.get_mut("container").and_then(Value::as_object_mut) else {
                continue;
            };
            c.remove("command");
            if let Some(Value::Array(args)) = c.get_mut("args") {
                for a in args.iter_mut() {
                    if a.as_str().is_some_and(|s| s.contains('\n')) {
                        *a = Value::from("<program>");
                    }
                }
            }
        }
    }
    doubles(&mut ir);
    normalise(&ir, "")
}

/// The first difference between two values, as a JSON pointer and both sides.
fn first_diff(a: &Value, b: &Value, at: &str) -> Option<String> {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for k in x.keys().chain(y.keys()) {
                let p = format!("{at}/{k}");
                match (x.get(k), y.get(k)) {
                    (Some(u), Some(v)) => {
                        if let Some(d) = first_diff(u, v, &p) {
                            return Some(d);
                        }
                    }
                    (u, v) => return Some(format!("{p}: kiln {u:?}, upstream {v:?}")),
                }
            }
            None
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => x
            .iter()
            .zip(y)
            .enumerate()
            .find_map(|(i, (u, v))| first_diff(u, v, &format!("{at}/{i}"))),
        _ if a == b => None,
        _ => Some(format!("{at}: kiln {a}, upstream {b}")),
    }
}

fn assert_same(rel: &str, ours: &[Value], theirs: &[Value]) {
    if ours != theirs {
        let diff = if ours.len() == theirs.len() {
            ours.iter()
                .zip(theirs)
                .enumerate()
                .find_map(|(i, (a, b))| first_diff(a, b, &format!("/{i}")))
                .unwrap_or_default()
        } else {
            format!("kiln has {} objects, upstream {}", ours.len(), theirs.len())
        };
        panic!(
            "{rel} differs from upstream: {diff}\n  kiln:     {}\n  upstream: {}",
            serde_json::to_string(ours).unwrap(),
            serde_json::to_string(theirs).unwrap()
        );
    }
}

/// `argo-workflows/<rel>.kiln` against `upstream-examples/argo-workflows/<rel>.yaml`.
fn argo(rel: &str) {
    let up = shared()
        .join("upstream-examples/argo-workflows")
        .join(rel)
        .with_extension("yaml");
    let theirs: Vec<Value> = yaml_docs(&up).iter().map(|d| normalise(d, "")).collect();
    let ours: Vec<Value> = build(&format!("argo-workflows/{rel}.kiln"))
        .into_iter()
        .enumerate()
        .map(|(i, mut o)| {
            let tm = &theirs.get(i).unwrap_or(&Value::Null)["metadata"];
            if tm.is_object()
                && tm.get("name").is_none()
                && tm.get("generateName").is_none()
                && let Some(m) = o["metadata"].as_object_mut()
            {
                m.remove("name");
                m.remove("generateName");
            }
            normalise(&o, "")
        })
        .collect();
    assert_same(rel, &ours, &theirs);
}

/// `kubeflow-pipelines/<rel>.kiln` against the objects of the same kinds in the upstream file.
fn kfp_objects(rel: &str) {
    let up = shared()
        .join("upstream-examples/kubeflow-pipelines")
        .join(rel)
        .with_extension("yaml");
    let theirs: Vec<Value> = yaml_docs(&up).iter().map(structural).collect();
    let kinds: Vec<&Value> = theirs.iter().map(|t| &t["kind"]).collect();
    let ours: Vec<Value> = build(&format!("kubeflow-pipelines/{rel}.kiln"))
        .iter()
        .filter(|o| kinds.contains(&&o["kind"]))
        .map(structural)
        .collect();
    assert_same(rel, &ours, &theirs);
}

/// An object with its embedded IR (if any) reduced to structure.
fn structural(o: &Value) -> Value {
    let mut o = normalise(o, "");
    if let Some(ir) = o.pointer_mut("/spec/pipelineSpec") {
        *ir = ir_structure(ir);
    }
    o
}

/// `<kiln>` lowers to a PipelineVersion whose IR matches `kfp-ir/examples/<ir>.yaml`.
fn kfp_ir(kiln: &str, ir: &str) {
    let up = shared().join("kfp-ir/examples").join(ir).with_extension("yaml");
    let theirs: Vec<Value> = yaml_docs(&up).iter().map(ir_structure).collect();
    let ours: Vec<Value> = build(kiln)
        .iter()
        .filter(|o| o["kind"] == "PipelineVersion")
        .map(|o| ir_structure(&o["spec"]["pipelineSpec"]))
        .collect();
    assert_same(kiln, &ours, &theirs);
}

macro_rules! argo_tests {
    ($($test:ident: $rel:literal;)*) => {
        $( #[test] fn $test() { argo($rel) } )*
        const ARGO: &[&str] = &[$($rel),*];
    };
}

argo_tests! {
    argo_artifact_passing: "artifact-passing";
    argo_cluster_workflow_templates: "cluster-workflow-template/clustertemplates";
    argo_coinflip: "coinflip";
    argo_dag_diamond_steps: "dag-diamond-steps";
    argo_dag_diamond: "dag-diamond";
    argo_hello_world: "hello-world";
    argo_k8s_jobs: "k8s-jobs";
    argo_loops_dag: "loops-dag";
    argo_output_artifact_s3: "output-artifact-s3";
    argo_steps: "steps";
    argo_workflow_templates: "workflow-template/templates";
}

macro_rules! kfp_object_tests {
    ($($test:ident: $rel:literal;)*) => {
        $( #[test] fn $test() { kfp_objects($rel) } )*
        const KFP_OBJECTS: &[&str] = &[$($rel),*];
    };
}

kfp_object_tests! {
    kfp_proposal_pipeline: "proposals/11551-kubernetes-native-api/example-pipeline";
    kfp_proposal_pipeline_version: "proposals/11551-kubernetes-native-api/example-pipelineversion";
}

macro_rules! kfp_ir_tests {
    ($($test:ident: $kiln:literal => $ir:literal;)*) => {
        $( #[test] fn $test() { kfp_ir($kiln, $ir) } )*
        const KFP_IR: &[&str] = &[$($kiln),*];
    };
}

kfp_ir_tests! {
    ir_artifacts_simple: "kfp-ir/artifacts_simple.kiln" => "artifacts_simple";
    ir_flip_coin: "kfp-ir/flip_coin.kiln" => "flip_coin";
    ir_hello_world: "kfp-ir/hello_world.kiln" => "hello_world";
    ir_pipeline_with_exit_handler: "kfp-ir/pipeline_with_exit_handler.kiln" => "pipeline_with_exit_handler";
    ir_pipeline_with_loops: "kfp-ir/pipeline_with_loops.kiln" => "pipeline_with_loops";
    compiled_artifacts_simple: "kubeflow-pipelines/test_data/compiled-workflows/artifacts_simple.kiln" => "artifacts_simple";
    compiled_hello_world: "kubeflow-pipelines/test_data/compiled-workflows/hello_world.kiln" => "hello_world";
    compiled_pipeline_with_loops: "kubeflow-pipelines/test_data/compiled-workflows/pipeline_with_loops.kiln" => "pipeline_with_loops";
}

fn files(dir: &Path, ext: &str, out: &mut Vec<String>, base: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            files(&p, ext, out, base);
        } else if p.extension().is_some_and(|x| x == ext) {
            let rel = p.strip_prefix(base).unwrap().with_extension("");
            out.push(rel.to_string_lossy().replace('\\', "/"));
        }
    }
    out.sort();
}

/// Every upstream pipeline file has a test above, and every kiln file in these folders is one.
#[test]
fn every_upstream_pipeline_file_is_tested() {
    let shared = shared();
    let examples = workspace().join("examples/upstream");
    let mut tested: Vec<String> = ARGO.iter().map(|r| format!("argo-workflows/{r}")).collect();
    tested.extend(KFP_OBJECTS.iter().map(|r| format!("kubeflow-pipelines/{r}")));
    tested.extend(KFP_IR.iter().map(|k| k.trim_end_matches(".kiln").to_string()));
    tested.sort();
    let mut upstream = Vec::new();
    let up = shared.join("upstream-examples");
    for d in ["argo-workflows", "kubeflow-pipelines"] {
        files(&up.join(d), "yaml", &mut upstream, &up);
    }
    let ir = shared.join("kfp-ir/examples");
    let mut irs = Vec::new();
    files(&ir, "yaml", &mut irs, &ir);
    upstream.extend(irs.into_iter().map(|n| format!("kfp-ir/{n}")));
    upstream.sort();
    assert_eq!(tested, upstream, "tests and upstream files differ");
    let mut kiln = Vec::new();
    for d in ["argo-workflows", "kubeflow-pipelines", "kfp-ir"] {
        files(&examples.join(d), "kiln", &mut kiln, &examples);
    }
    kiln.sort();
    assert_eq!(tested, kiln, "tests and kiln examples differ");
}
