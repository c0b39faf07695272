//! Conformance of manifests against a real kube-apiserver.
//!
//! Every manifest under `$KILN_SHARED/upstream-examples` and under the workspace's
//! `tests/golden/` (recursively, `*.yaml`/`*.yml`/`*.json`, multi-document) is sent to the API
//! server as a dry run with `fieldValidation=Strict` and field manager `kiln`: server-side
//! apply, or create for objects that only have a `generateName`. Each must be accepted with
//! no `Warning` header. The reference CRDs are installed first; namespaced objects go to a
//! fresh test namespace. All failures are reported together.
//!
//! Two things a user would do before applying are done here too, and printed as notes:
//! envsubst-style placeholders such as `${PODDEFAULT_NAME}` are filled with a DNS-safe value,
//! and a document with neither `metadata.name` nor `generateName` is named after its file
//! (upstream's argo-workflows/k8s-jobs.yaml has its `name:` inside an annotation's text).
//! A golden manifest whose kind the server does not know (no reference CRD in
//! `$KILN_SHARED/crds`, e.g. a Prometheus ServiceMonitor) is listed as not checked.

use std::path::Path;
use std::time::Instant;

use kiln_testsupport::manifests::{self, Document};
use kiln_testsupport::raw::{self, DryRunVerb};

/// Field manager of the dry runs: the reconciler's own.
const FIELD_MANAGER: &str = "kiln";

/// What a user would fill in before applying `doc`; returns notes about what was done.
fn prepare(doc: &Document, label: &str) -> (serde_json::Value, Vec<String>) {
    let mut value = doc.value.clone();
    let mut notes = Vec::new();
    let filled = manifests::fill_placeholders(&mut value);
    if !filled.is_empty() {
        notes.push(format!("{label}: filled placeholders {}", filled.join(", ")));
    }
    if let Some(meta) = value.get_mut("metadata").and_then(|m| m.as_object_mut())
        && !meta.contains_key("name")
        && !meta.contains_key("generateName")
    {
        let stem = doc.file.file_stem().and_then(|s| s.to_str()).unwrap_or("unnamed");
        let name = kiln_compiler::lower::dns_label(stem, 63);
        notes.push(format!("{label}: no name or generateName; named it {name}"));
        meta.insert("name".into(), name.into());
    }
    (value, notes)
}

/// Loads every document under `dir`; parse errors are added to `failures`.
fn collect(dir: &Path, base: &Path, docs: &mut Vec<Document>, failures: &mut Vec<String>) -> usize {
    let files = manifests::manifest_files(dir);
    for file in &files {
        match manifests::load_file(file) {
            Ok(d) => docs.extend(d),
            Err(e) => failures.push(format!(
                "{}: {e}",
                file.strip_prefix(base).unwrap_or(file).display()
            )),
        }
    }
    files.len()
}

#[tokio::test]
async fn upstream_examples_and_golden_files_are_accepted_by_the_api_server() {
    let Some(cluster) = kiln_testsupport::cluster().await else {
        return;
    };
    let shared = kiln_testsupport::shared_dir().unwrap_or_else(|e| panic!("{e}"));
    let examples = shared.join("upstream-examples");
    assert!(
        examples.is_dir(),
        "{} does not exist: the conformance corpus is missing",
        examples.display()
    );
    let root = kiln_testsupport::workspace_root();

    let mut docs = Vec::new();
    let mut failures = Vec::new();
    let example_files = collect(&examples, &shared, &mut docs, &mut failures);
    let golden_files = collect(
        &root.join("tests").join("golden"),
        &root,
        &mut docs,
        &mut failures,
    );
    assert!(example_files > 0, "no manifest under {}", examples.display());

    let t0 = Instant::now();
    let crds = kiln_testsupport::install_crds(cluster.client())
        .await
        .unwrap_or_else(|e| panic!("installing CRDs: {e}"));
    let ns = cluster
        .namespace("conformance")
        .await
        .unwrap_or_else(|e| panic!("creating the test namespace: {e}"));

    let crd_time = t0.elapsed();

    let t1 = Instant::now();
    let (mut applied, mut created) = (0usize, 0usize);
    let mut notes = Vec::new();
    let mut unchecked = Vec::new();
    for doc in &docs {
        let base = if doc.file.starts_with(&shared) {
            &shared
        } else {
            &root
        };
        let label = doc.label(base);
        let (value, doc_notes) = prepare(doc, &label);
        notes.extend(doc_notes);
        // A golden manifest of a kind with no reference CRD (say a Prometheus ServiceMonitor)
        // cannot be checked here; upstream examples must all resolve.
        if !doc.file.starts_with(&shared) {
            let api_version = value["apiVersion"].as_str().unwrap_or_default();
            let kind = value["kind"].as_str().unwrap_or_default();
            if raw::resolve(cluster.client(), api_version, kind).await.is_err() {
                unchecked.push(format!(
                    "{label}: not checked: the API server does not serve {api_version} {kind} \
                     (no CRD for it under {})",
                    shared.join("crds").display()
                ));
                continue;
            }
        }
        match raw::dry_run(cluster.client(), &value, &ns, FIELD_MANAGER).await {
            Err(e) => failures.push(format!("{label}: {e}")),
            Ok((_, outcome)) if !outcome.is_success() => failures.push(format!(
                "{label}: rejected with HTTP {}: {}",
                outcome.status,
                outcome.message()
            )),
            Ok((_, outcome)) if !outcome.warnings.is_empty() => failures.push(format!(
                "{label}: accepted with warnings: {}",
                outcome.warnings.join(" | ")
            )),
            Ok((DryRunVerb::Apply, _)) => applied += 1,
            Ok((DryRunVerb::Create, _)) => created += 1,
        }
    }
    for note in &notes {
        eprintln!("note: {note}");
    }
    for line in &unchecked {
        eprintln!("WARNING: {line}");
    }
    eprintln!(
        "conformance: CRDs ready in {:.1}s, dry runs took {:.1}s",
        crd_time.as_secs_f64(),
        t1.elapsed().as_secs_f64()
    );
    eprintln!(
        "conformance: {} documents from {example_files} upstream example files and {golden_files} golden files \
         ({} CRDs installed, namespace {ns}): {applied} accepted by server-side apply, \
         {created} by create (generateName only), {} not checked, {} failures",
        docs.len(),
        crds.len(),
        unchecked.len(),
        failures.len()
    );
    assert!(
        failures.is_empty(),
        "{} manifest(s) not accepted cleanly:\n  {}",
        failures.len(),
        failures.join("\n  ")
    );
}
