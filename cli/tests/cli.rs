//! End-to-end behaviour of the `kiln` binary: exit codes, output formats, formatting, examples.

mod common;

use common::{kiln, kiln_in, repo_root, scratch};

/// Every example file is its own project (`examples/team/` files import each other but each
/// checks on its own), so each is checked separately: one name may be used in two examples.
#[test]
fn every_example_checks_cleanly() {
    let mut files = Vec::new();
    collect(&repo_root().join("examples"), &mut files);
    files.sort();
    assert!(!files.is_empty(), "examples/ has .kiln files");
    let failures: Vec<String> = files
        .iter()
        .filter_map(|file| {
            let output = kiln(&["check", file.to_str().expect("utf-8 path")]);
            (output.code != 0).then(|| format!("{}:\n{}", file.display(), output.stderr))
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} examples fail:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

fn collect(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read examples dir") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            collect(&path, out);
        } else if path.extension().is_some_and(|e| e == "kiln") {
            out.push(path);
        }
    }
}

#[test]
fn check_reports_several_errors_and_exits_1() {
    let dir = scratch("several-errors");
    std::fs::write(
        dir.join("bad.kiln"),
        "type T = { memory: Memory }\nT \"a\" { memroy = 1Gi }\nT \"b\" { memory = \"16Gi\" }\n",
    )
    .expect("write");
    let output = kiln_in(&dir, &["check", "bad.kiln"]);
    assert_eq!(output.code, 1, "{}", output.stderr);
    assert!(output.stderr.contains("K0203"), "{}", output.stderr);
    assert!(output.stderr.contains("K0301"), "{}", output.stderr);
    assert!(output.stderr.contains("bad.kiln:2:"), "{}", output.stderr);
    assert!(!output.stderr.contains("panicked"), "{}", output.stderr);
}

#[test]
fn json_diagnostics_are_machine_readable() {
    let dir = scratch("json-diagnostics");
    std::fs::write(dir.join("bad.kiln"), "let x = 8Gi + 2h\n").expect("write");
    let output = kiln_in(&dir, &["check", "--format", "json", "bad.kiln"]);
    assert_eq!(output.code, 1);
    let doc: serde_json::Value = serde_json::from_str(&output.stderr).expect("JSON on stderr");
    let first = &doc["diagnostics"][0];
    assert_eq!(first["code"], "K0303");
    assert_eq!(first["severity"], "error");
    assert_eq!(first["file"], "bad.kiln");
    assert_eq!(first["line"], 1);
    assert!(first["column"].as_u64().is_some());
    assert!(first["span"]["start"].as_u64().is_some());
    assert!(first["help"].is_string() || first["help"].is_null());
}

#[test]
fn eval_prints_yaml_and_json() {
    let dir = scratch("eval");
    std::fs::write(
        dir.join("main.kiln"),
        "type S = { memory: Memory, n: Int = 2 }\nS \"web\" { memory = 1.5Gi }\n",
    )
    .expect("write");
    let yaml = kiln_in(&dir, &["eval", "main.kiln"]);
    assert_eq!(yaml.code, 0, "{}", yaml.stderr);
    assert!(yaml.stdout.contains("memory: 1536Mi"), "{}", yaml.stdout);
    let json = kiln_in(&dir, &["eval", "--output", "json", "main.kiln"]);
    let doc: serde_json::Value = serde_json::from_str(&json.stdout).expect("JSON");
    assert_eq!(doc[0]["name"], "web");
    assert_eq!(doc[0]["value"]["n"], 2);
}

#[test]
fn build_format_json_prints_a_manifest_list_and_json_diagnostics() {
    let dir = scratch("build-json");
    std::fs::write(
        dir.join("main.kiln"),
        "import \"kubeflow\" as kf\nkf.Profile \"team-a\" { owner = \"a@acme.com\" }\n",
    )
    .expect("write");
    let json = kiln_in(&dir, &["build", "--format", "json", "main.kiln"]);
    assert_eq!(json.code, 0, "{}", json.stderr);
    let doc: serde_json::Value = serde_json::from_str(&json.stdout).expect("JSON manifests");
    assert_eq!(doc["kind"], "List");
    assert_eq!(doc["items"][0]["kind"], "Profile");
    // A project type has no Kubernetes form: the error comes back as JSON too.
    std::fs::write(dir.join("bad.kiln"), "type T = { a: Int }\nT \"x\" { a = 1 }\n").expect("write");
    let bad = kiln_in(&dir, &["build", "--format", "json", "bad.kiln"]);
    assert_eq!(bad.code, 1);
    let diagnostics: serde_json::Value = serde_json::from_str(&bad.stderr).expect("JSON diagnostics");
    assert_eq!(diagnostics["diagnostics"][0]["code"], "K0703");
}

#[test]
fn fmt_check_flags_unformatted_files_and_fmt_fixes_them() {
    let dir = scratch("fmt");
    std::fs::write(dir.join("a.kiln"), "let   x =   1 # keep me\n").expect("write");
    let check = kiln_in(&dir, &["fmt", "--check", "a.kiln"]);
    assert_eq!(check.code, 1, "{}", check.stdout);
    assert!(check.stdout.contains("a.kiln"));
    assert_eq!(kiln_in(&dir, &["fmt", "a.kiln"]).code, 0);
    let formatted = std::fs::read_to_string(dir.join("a.kiln")).expect("read");
    assert!(formatted.contains("# keep me"), "comments are kept: {formatted}");
    assert_eq!(kiln_in(&dir, &["fmt", "--check", "a.kiln"]).code, 0, "idempotent");
}

#[test]
fn missing_file_is_a_clear_error() {
    let output = kiln(&["check", "does/not/exist.kiln"]);
    assert_eq!(output.code, 1);
    assert!(output.stderr.contains("does/not/exist.kiln"), "{}", output.stderr);
}

#[test]
fn an_internal_error_is_one_line_with_its_own_exit_code() {
    let dir = scratch("internal");
    std::fs::write(dir.join("a.kiln"), "let x = 1\n").expect("write");
    let output = kiln_in(&dir, &["debug-internal-error", "a.kiln"]);
    assert_eq!(output.code, 3, "{}", output.stderr);
    assert_eq!(output.stderr.trim().lines().count(), 1, "{}", output.stderr);
    assert!(
        output.stderr.contains("a.kiln") && output.stderr.contains("report"),
        "{}",
        output.stderr
    );
    assert!(!output.stderr.contains("RUST_BACKTRACE"), "{}", output.stderr);
}

#[test]
fn hostile_nesting_is_a_diagnostic_not_a_crash() {
    let dir = scratch("deep");
    std::fs::write(dir.join("deep.kiln"), format!("let x = {}", "[".repeat(100_000))).expect("write");
    let output = kiln_in(&dir, &["check", "deep.kiln"]);
    assert_eq!(output.code, 1, "{}", output.stderr);
    assert!(output.stderr.contains("K0008"), "{}", output.stderr);
}
