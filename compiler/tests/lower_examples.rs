//! The standard library type-checks, and every example under `examples/kinds`, `examples/team`
//! and `examples/upstream` (except the pipeline ones, tested with the pipeline lowering)
//! compiles and lowers to manifests without diagnostics.

use std::path::{Path, PathBuf};

use kiln_compiler::lower::{LowerContext, LowerInput, lower};
use kiln_compiler::source::MemoryLoader;
use kiln_compiler::{Compiled, Options, compile_with_stdlib};

/// Stand-in for `stdlib/pipeline.kiln` while it is being written elsewhere (kubeflow.kiln
/// re-exports its types).
const PIPELINE_STUB: &str = "type Pipeline = {}\ntype Step = {}\ntype Dataset = {}\ntype Model = {}\n\
type Metrics = {}\ntype ClassificationMetrics = {}\ntype HTML = {}\ntype Markdown = {}\ntype Artifact = {}\n";

fn stdlib() -> Vec<(&'static str, &'static str)> {
    let mut lib: Vec<(&str, &str)> = kiln_compiler::resolve::STDLIB.to_vec();
    if !lib.iter().any(|(n, _)| *n == "pipeline") {
        lib.push(("pipeline", PIPELINE_STUB));
    }
    lib
}

fn compile(loader: &MemoryLoader, roots: &[String], options: &Options) -> Compiled {
    compile_with_stdlib(loader, roots, options, &stdlib())
}

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

/// The example files of a folder, recursively, sorted.
fn kiln_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<_> = entries.flatten().map(|e| e.path()).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if !matches!(name, "argo-workflows" | "kubeflow-pipelines" | "kfp-ir") {
                kiln_files(&p, out);
            }
        } else if p.extension().is_some_and(|e| e == "kiln") && !p.ends_with("pipeline.kiln") {
            out.push(p);
        }
    }
}

/// Compiles and lowers one example file; returns its manifests or a readable failure.
fn build(path: &Path) -> Result<Vec<serde_json::Value>, String> {
    let text = std::fs::read_to_string(path).unwrap();
    let loader = MemoryLoader::new().with("main.kiln", &text);
    let compiled = compile(&loader, &["main.kiln".to_string()], &Options::default());
    if compiled.has_errors() {
        return Err(render(&compiled));
    }
    let ctx = LowerContext::new(
        compiled
            .objects
            .iter()
            .map(|o| (o.ty.clone(), o.name.clone(), o.value.to_json())),
    );
    let mut out = Vec::new();
    let mut errs = Vec::new();
    for o in &ctx.objects {
        match lower(
            &LowerInput {
                ty: &o.ty,
                name: &o.name,
                value: &o.value,
            },
            &ctx,
        ) {
            Ok(m) => out.extend(m),
            Err(e) => errs.extend(e.into_iter().map(|e| {
                format!(
                    "{} {} at {}: {} ({:?})",
                    e.code.id, o.name, e.pointer, e.message, e.help
                )
            })),
        }
    }
    if errs.is_empty() {
        Ok(out)
    } else {
        Err(errs.join("\n"))
    }
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
