//! Manifest output, content hash and validation against the upstream schemas in `$KILN_SHARED`
//! (`crds/`, `katib-openapi/swagger.json`, `upstream-examples/`).
//!
//! `$KILN_SHARED` defaults to `../shared` next to the workspace. When it is missing the shared
//! tests fail under CI (`CI` set) and are skipped with a loud message otherwise, so a developer
//! without the folder can still run the rest.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Instant;

use kiln_compiler::manifest::hash::{hash_form, set_source};
use kiln_compiler::manifest::{
    CONTENT_HASH, Manifest, NoSchema, SOURCE, SchemaSet, content_hash, content_name, name_by_content, stamp,
    to_json, to_yaml,
};
use serde_json::{Value, json};

/// `$KILN_SHARED` or `../shared`; `None` (after saying so) when absent outside CI.
fn shared_dir() -> Option<PathBuf> {
    let (dir, how) = match std::env::var_os("KILN_SHARED").filter(|v| !v.is_empty()) {
        Some(d) => (PathBuf::from(d), "from KILN_SHARED"),
        None => (
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("..")
                .join("..")
                .join("shared"),
            "the default ../shared next to the workspace; set KILN_SHARED to override",
        ),
    };
    if dir.is_dir() {
        return Some(dir);
    }
    let msg = format!(
        "the shared reference folder {} ({how}) does not exist",
        dir.display()
    );
    if std::env::var_os("CI").is_some() {
        panic!("{msg}");
    }
    eprintln!("\n!!!!!!!! SKIPPED: {msg}; upstream schema tests did not run !!!!!!!!\n");
    None
}

fn files(dir: &Path, ext: &[&str], out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            files(&path, ext, out);
        } else if path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| ext.contains(&e))
        {
            out.push(path);
        }
    }
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// Every CRD of `crds/` plus Katib's OpenAPI document.
fn load_schemas() -> Option<SchemaSet> {
    let shared = shared_dir()?;
    let mut paths = Vec::new();
    files(&shared.join("crds"), &["yaml", "yml"], &mut paths);
    let texts: Vec<(String, String)> = paths.iter().map(|p| (p.display().to_string(), read(p))).collect();
    let mut set =
        SchemaSet::from_crd_yaml(texts.iter().map(|(o, t)| (o.as_str(), t.as_str()))).expect("CRDs load");
    let swagger = shared.join("katib-openapi").join("swagger.json");
    set.add_katib_openapi(&swagger.display().to_string(), &read(&swagger))
        .expect("Katib OpenAPI loads");
    Some(set)
}

/// [`load_schemas`], once for all tests.
fn schemas() -> Option<&'static SchemaSet> {
    static SET: OnceLock<Option<SchemaSet>> = OnceLock::new();
    SET.get_or_init(load_schemas).as_ref()
}

/// Every document of `upstream-examples/`, with a `file#index` label.
fn upstream_examples() -> Vec<(String, Manifest)> {
    let shared = shared_dir().expect("checked by the caller");
    let base = shared.join("upstream-examples");
    let mut paths = Vec::new();
    files(&base, &["yaml", "yml", "json"], &mut paths);
    let mut out = Vec::new();
    for path in paths {
        let rel = path.strip_prefix(&base).unwrap_or(&path).display().to_string();
        let docs = Manifest::parse_stream(&read(&path)).unwrap_or_else(|e| panic!("{rel}: {e}"));
        for (i, m) in docs.into_iter().enumerate() {
            out.push((format!("{rel}#{i}"), m));
        }
    }
    out
}

#[test]
fn every_upstream_example_validates() {
    let Some(set) = schemas() else { return };
    set.compile_all().expect("every schema compiles");
    let examples = upstream_examples();
    let (mut checked, mut failures, mut unchecked) = (0, Vec::new(), Vec::new());
    for (label, m) in &examples {
        match set.validate(m) {
            Ok(v) if v.is_empty() => checked += 1,
            Ok(v) => failures.push(format!(
                "{label} ({}):\n{}",
                m.gvk(),
                v.iter()
                    .map(|v| format!("    {v}"))
                    .collect::<Vec<_>>()
                    .join("\n")
            )),
            Err(NoSchema(gvk)) => unchecked.push(format!("{label} ({gvk})")),
        }
    }
    eprintln!(
        "upstream examples: {} documents, {checked} valid, {} invalid, {} without a schema{}",
        examples.len(),
        failures.len(),
        unchecked.len(),
        unchecked
            .iter()
            .map(|u| format!("\n    no schema: {u}"))
            .collect::<String>()
    );
    assert!(
        failures.is_empty(),
        "{} upstream examples do not validate:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(checked >= 50, "only {checked} documents were checked");
}

/// The upstream PyTorchJob sample (`training-operator/pytorch/simple.yaml`), for mutation.
fn pytorch_job() -> Manifest {
    let shared = shared_dir().expect("checked by the caller");
    let path = shared.join("upstream-examples/training-operator/pytorch/simple.yaml");
    Manifest::parse_stream(&read(&path)).expect("parses").remove(0)
}

fn mutate(m: &Manifest, pointer: &str, value: Value) -> Manifest {
    let mut v = m.value().clone();
    let (parent, field) = pointer.rsplit_once('/').expect("a pointer");
    v.pointer_mut(parent).expect("parent exists")[field] = value;
    Manifest::new(v).expect("still a manifest")
}

fn pointers(set: &SchemaSet, m: &Manifest) -> Vec<(String, String)> {
    set.validate(m)
        .expect("has a schema")
        .into_iter()
        .map(|v| (v.pointer, v.message))
        .collect()
}

#[test]
fn unknown_field_is_reported_at_its_pointer() {
    let Some(set) = schemas() else { return };
    let job = pytorch_job();
    assert_eq!(pointers(set, &job), []);
    let bad = mutate(&job, "/spec/pytorchReplicaSpecs/Worker/replicaz", json!(3));
    assert_eq!(
        pointers(set, &bad),
        [(
            "/spec/pytorchReplicaSpecs/Worker/replicaz".into(),
            "unknown field \"spec.pytorchReplicaSpecs.Worker.replicaz\"".into()
        )]
    );
    let bad_meta = mutate(&job, "/metadata/labelz", json!({}));
    assert_eq!(pointers(set, &bad_meta)[0].0, "/metadata/labelz");
}

#[test]
fn wrong_type_is_reported() {
    let Some(set) = schemas() else { return };
    let bad = mutate(
        &pytorch_job(),
        "/spec/pytorchReplicaSpecs/Worker/replicas",
        json!("two"),
    );
    assert_eq!(
        pointers(set, &bad),
        [(
            "/spec/pytorchReplicaSpecs/Worker/replicas".into(),
            "expected integer, found \"two\"".into()
        )]
    );
    let label = mutate(&pytorch_job(), "/metadata/labels", json!({"team": 7}));
    assert_eq!(
        pointers(set, &label),
        [("/metadata/labels/team".into(), "expected string, found 7".into())]
    );
}

#[test]
fn int_or_string_accepts_both_and_nothing_else() {
    let Some(set) = schemas() else { return };
    let limits = "/spec/pytorchReplicaSpecs/Master/template/spec/containers/0/resources";
    for (cpu, ok) in [
        (json!(2), true),
        (json!("500m"), true),
        (json!(0.5), false),
        (json!(true), false),
    ] {
        let m = mutate(&pytorch_job(), limits, json!({"limits": {"cpu": cpu}}));
        let v = pointers(set, &m);
        assert_eq!(v.is_empty(), ok, "cpu {cpu}: {v:?}");
        if !ok {
            assert_eq!(v[0].0, format!("{limits}/limits/cpu"));
        }
    }
}

#[test]
fn preserve_unknown_fields_accepts_anything() {
    let Some(set) = schemas() else { return };
    let pv = Manifest::new(json!({
        "apiVersion": "pipelines.kubeflow.org/v2beta1", "kind": "PipelineVersion",
        "metadata": {"name": "p-v1"},
        "spec": {"pipelineName": "p", "pipelineSpec": {"anything": [1, "x", {"deep": {"er": null}}], "n": 1.5}}
    }))
    .unwrap();
    assert_eq!(pointers(set, &pv), []);
    let bad = mutate(&pv, "/spec/pipelineNam", json!("p"));
    assert_eq!(pointers(set, &bad)[0].0, "/spec/pipelineNam");
}

#[test]
fn katib_experiment_is_checked_against_the_openapi_document() {
    let Some(set) = schemas() else { return };
    let shared = shared_dir().expect("checked above");
    let text = read(&shared.join("upstream-examples/katib/hp-tuning/random.yaml"));
    let exp = Manifest::parse_stream(&text).unwrap().remove(0);
    assert_eq!(pointers(set, &exp), []);
    // The trial template's spec is Unstructured: open.
    let open = mutate(&exp, "/spec/trialTemplate/trialSpec/anything", json!({"x": 1}));
    assert_eq!(pointers(set, &open), []);
    let bad = mutate(&exp, "/spec/objective/goall", json!(0.99));
    assert_eq!(
        pointers(set, &bad),
        [(
            "/spec/objective/goall".into(),
            "unknown field \"spec.objective.goall\"".into()
        )]
    );
    let typed = mutate(&exp, "/spec/parallelTrialCount", json!("3"));
    assert_eq!(pointers(set, &typed)[0].0, "/spec/parallelTrialCount");
}

#[test]
fn core_kinds_have_no_schema() {
    let Some(set) = schemas() else { return };
    let cm =
        Manifest::new(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}})).unwrap();
    let err = set.validate(&cm).unwrap_err();
    assert_eq!(err.to_string(), "no schema for v1 ConfigMap: not validated");
}

/// Validation throughput: the upstream examples repeated to 10,000 documents. Run it with
/// `cargo test --release -p kiln-compiler --test schemas -- --ignored --nocapture throughput`.
#[test]
#[ignore = "timing; run in release on purpose"]
fn throughput() {
    let t = Instant::now();
    let Some(set) = load_schemas() else { return };
    let load = t.elapsed();
    let set = &set;
    let examples: Vec<Manifest> = upstream_examples().into_iter().map(|(_, m)| m).collect();
    let t = Instant::now();
    set.compile_all().unwrap();
    let compile = t.elapsed();
    let docs: Vec<&Manifest> = examples.iter().cycle().take(10_000).collect();
    let (t, cpu) = (Instant::now(), thread_cpu());
    let mut violations = 0;
    for m in &docs {
        violations += set.validate(m).map(|v| v.len()).unwrap_or(0);
    }
    let elapsed = t.elapsed();
    let cpu = thread_cpu().zip(cpu).map(|(b, a)| b - a);
    let mut broken: Vec<Manifest> = Vec::new();
    for m in examples.iter().filter(|m| set.contains(&m.gvk())) {
        let mut v = m.value().clone();
        v["spec"]["kilnUnknown"] = json!(1);
        broken.push(Manifest::new(v).unwrap());
    }
    let t = Instant::now();
    let mut reported = 0;
    for m in broken.iter().cycle().take(10_000) {
        reported += set.validate(m).map(|v| v.len()).unwrap_or(0);
    }
    let invalid = t.elapsed();
    eprintln!(
        "load (parse + convert) all CRDs and the Katib document: {load:?}; compile all {} schemas: {compile:?}; validate 10,000 valid documents: {elapsed:?} (CPU {cpu:?}; {violations} violations); \
         10,000 invalid documents: {invalid:?} ({reported} violations)",
        set.len()
    );
    assert_eq!(violations, 0);
}

/// CPU time of the calling thread (Linux; `None` elsewhere): wall time on a loaded machine says
/// little.
fn thread_cpu() -> Option<std::time::Duration> {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let nanos: u64 = stat.split_whitespace().next()?.parse().ok()?;
    Some(std::time::Duration::from_nanos(nanos))
}

fn sample() -> Manifest {
    Manifest::new(json!({
        "apiVersion": "kubeflow.org/v1",
        "kind": "PyTorchJob",
        "metadata": {"name": "train", "namespace": "ml", "labels": {"team": "search"}},
        "spec": {"pytorchReplicaSpecs": {"Worker": {"replicas": 2, "template": {"spec": {"containers": [
            {"name": "pytorch", "image": "ghcr.io/acme/train:1.0", "args": ["--lr", "0.01"],
             "resources": {"limits": {"nvidia.com/gpu": 1, "memory": "16Gi"}}}
        ]}}}}}
    }))
    .unwrap()
}

/// The same object built with every map in the reverse insertion order.
fn reversed(v: &Value) -> Value {
    match v {
        Value::Object(map) => {
            Value::Object(map.iter().rev().map(|(k, v)| (k.clone(), reversed(v))).collect())
        }
        Value::Array(items) => Value::Array(items.iter().map(reversed).collect()),
        s => s.clone(),
    }
}

#[test]
fn content_hash_is_stable() {
    // Golden: changing it changes every deployed object's hash (and every run's name); do that
    // only on purpose.
    let form = r#"{"apiVersion":"kubeflow.org/v1","kind":"PyTorchJob","metadata":{"labels":{"team":"search"},"name":"train","namespace":"ml"},"spec":{"pytorchReplicaSpecs":{"Worker":{"replicas":2,"template":{"spec":{"containers":[{"args":["--lr","0.01"],"image":"ghcr.io/acme/train:1.0","name":"pytorch","resources":{"limits":{"memory":"16Gi","nvidia.com/gpu":1}}}]}}}}}}"#;
    assert_eq!(String::from_utf8(hash_form(sample().value())).unwrap(), form);
    assert_eq!(
        content_hash(sample().value()),
        "21c8e335f260e4aa1b50e8cf47b0aa37bb3704131ffebda8c05dde45ad9987b5"
    );
}

#[test]
fn content_hash_ignores_key_order_and_unhashed_annotations() {
    let m = sample();
    let hash = content_hash(m.value());
    assert_eq!(content_hash(&reversed(m.value())), hash);
    let mut annotated = m.clone();
    set_source(&mut annotated, "train.kiln:12");
    assert_eq!(annotated.annotation(SOURCE), Some("train.kiln:12"));
    assert_eq!(stamp(&mut annotated), hash);
    assert_eq!(annotated.annotation(CONTENT_HASH), Some(hash.as_str()));
    set_source(&mut annotated, "train.kiln:40");
    assert_eq!(
        content_hash(annotated.value()),
        hash,
        "moving the declaration is not a change"
    );
    assert_eq!(hash_form(annotated.value()), hash_form(m.value()));
    let mut other = m.clone();
    other.set_annotation("team", "x");
    assert_ne!(content_hash(other.value()), hash, "other annotations count");
    let changed = mutate(&m, "/spec/pytorchReplicaSpecs/Worker/replicas", json!(3));
    assert_ne!(content_hash(changed.value()), hash);
}

#[test]
fn run_names_carry_the_content_hash() {
    let mut a = sample();
    let name = name_by_content(&mut a).unwrap();
    let mut b_src = sample();
    set_source(&mut b_src, "elsewhere.kiln:1");
    let mut b = Manifest::new(reversed(b_src.value())).unwrap();
    assert_eq!(name_by_content(&mut b).unwrap(), name, "same content, same run");
    assert_eq!(name, content_name("train", &content_hash(sample().value())));
    assert_eq!(a.name(), Some(name.as_str()));
    let mut c = mutate(&sample(), "/spec/pytorchReplicaSpecs/Worker/replicas", json!(4));
    assert_ne!(
        name_by_content(&mut c).unwrap(),
        name,
        "a changed spec is a new run"
    );
    assert_eq!(
        content_name(&"x".repeat(100), &content_hash(sample().value())).len(),
        63
    );
}

#[test]
fn canonical_output_is_byte_identical() {
    let one = vec![
        sample(),
        Manifest::new(json!({"kind": "ConfigMap", "apiVersion": "v1", "data": {"b": "on", "a": "1"}}))
            .unwrap(),
    ];
    let two: Vec<Manifest> = one
        .iter()
        .map(|m| Manifest::new(reversed(m.value())).unwrap())
        .collect();
    assert_eq!(to_yaml(&one), to_yaml(&two));
    assert_eq!(to_json(&one), to_json(&two));
    let yaml = to_yaml(&one);
    assert!(yaml.starts_with(
        "apiVersion: kubeflow.org/v1\nkind: PyTorchJob\nmetadata:\n  name: train\n  namespace: ml\n"
    ));
    assert!(
        yaml.contains("\n---\napiVersion: v1\nkind: ConfigMap\ndata:\n  a: '1'\n  b: 'on'\n"),
        "{yaml}"
    );
    // Reading the output back gives the same objects.
    let back = Manifest::parse_stream(&yaml).unwrap();
    assert_eq!(
        back.iter().map(|m| content_hash(m.value())).collect::<Vec<_>>(),
        one.iter().map(|m| content_hash(m.value())).collect::<Vec<_>>()
    );
}
