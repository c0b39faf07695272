//! `kiln plan` / `kiln apply` with a project file: kiln.toml names the apps, the command-line
//! paths (or `--app`) select one, and the app's own settings (paths, ApplySet, namespace of its
//! parent, validation) are what runs, so the command line and the controller agree on what an
//! app is. The selection errors need no cluster; the rest runs against the real control plane.

mod common;

use common::{kiln_in, kiln_logged, scratch};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::Api;
use std::path::{Path, PathBuf};

fn write(dir: &Path, path: &str, text: &str) {
    let full = dir.join(path);
    std::fs::create_dir_all(full.parent().unwrap()).unwrap();
    std::fs::write(full, text).unwrap();
}

fn config_map(ns: &str, name: &str, value: &str) -> String {
    format!(
        "import \"kubeflow\" as kf\n\nkf.Object \"{name}\" = kf.config_map({{ VALUE = \"{value}\" }}) with {{ namespace = \"{ns}\" }}\n"
    )
}

/// A Git work tree (its own project root) with two apps, `a` (two files) and `b`.
fn repository(name: &str, ns: &str) -> PathBuf {
    let dir = scratch(name);
    let init = std::process::Command::new("git")
        .args(["init", "-q"])
        .current_dir(&dir)
        .status()
        .expect("git init");
    assert!(init.success());
    write(
        &dir,
        "kiln.toml",
        &format!(
            "[[app]]\nname = \"a\"\npaths = [\"apps/a\"]\napplyset = \"team-a\"\nnamespace = \"{ns}\"\n\n[[app]]\nname = \"b\"\npaths = [\"apps/b\"]\nnamespace = \"{ns}\"\n"
        ),
    );
    write(&dir, "apps/a/one.kiln", &config_map(ns, "a-one", "1"));
    write(&dir, "apps/a/two.kiln", &config_map(ns, "a-two", "2"));
    write(&dir, "apps/b/main.kiln", &config_map(ns, "b-main", "1"));
    write(&dir, "stray/x.kiln", &config_map(ns, "stray", "1"));
    dir
}

#[test]
fn the_paths_or_app_select_exactly_one_app_of_kiln_toml() {
    let dir = repository("project-select", "kiln-select");
    let usage = |args: &[&str], says: &str| {
        let out = kiln_in(&dir, args);
        assert_eq!(out.code, 64, "kiln {args:?}: {}{}", out.stdout, out.stderr);
        assert!(out.stderr.contains(says), "kiln {args:?}: {}", out.stderr);
        assert!(out.stdout.is_empty(), "kiln {args:?}: {}", out.stdout);
    };
    usage(
        &["plan"],
        "kiln.toml has several apps (a, b); choose one with --app NAME",
    );
    usage(&["plan", "."], "the paths cover several apps of kiln.toml (a, b)");
    usage(
        &["plan", "apps/a", "apps/b/main.kiln"],
        "the paths cover several apps of kiln.toml (a, b)",
    );
    usage(
        &["apply", "stray/x.kiln"],
        "`stray/x.kiln` belongs to no app of kiln.toml (apps: a, b)",
    );
    usage(&["plan", "--app", "c"], "kiln.toml has no app `c` (it has: a, b)");
    usage(
        &["plan", "--app", "b", "apps/a"],
        "`apps/a` is not part of app `b`",
    );
    usage(
        &["apply", "apps/a", "--applyset", "other"],
        "app `a` of kiln.toml is managed as ApplySet `team-a`; --applyset other would manage the same objects under a second inventory",
    );
    usage(
        &["apply", "apps/b", "--applyset-namespace", "elsewhere"],
        "app `b` of kiln.toml keeps its ApplySet in namespace `kiln-select`",
    );
    // From a folder inside the app, its path selects it the same way.
    let out = kiln_in(&dir.join("apps/a"), &["plan", "--applyset", "other", "."]);
    assert_eq!(out.code, 64, "{}", out.stderr);
    assert!(out.stderr.contains("app `a` of kiln.toml"), "{}", out.stderr);
}

#[test]
fn a_broken_project_file_is_a_diagnostic_on_its_own_text_and_nothing_runs() {
    let dir = repository("project-broken", "kiln-broken");
    write(
        &dir,
        "kiln.toml",
        "[[app]]\nname = \"a\"\npaths = [\"apps/a\"]\napplyzet = \"x\"\n",
    );
    let out = kiln_in(&dir, &["apply", "apps/a"]);
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    assert!(out.stderr.contains("K1102"), "{}", out.stderr);
    assert!(out.stderr.contains("applyset"), "did-you-mean: {}", out.stderr);
    assert!(
        out.stderr.contains("kiln.toml:4"),
        "labelled on the file: {}",
        out.stderr
    );
    // JSON output means JSON diagnostics.
    let out = kiln_in(&dir, &["plan", "apps/a", "-o", "json"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    let v: serde_json::Value = serde_json::from_str(out.stderr.trim()).expect("JSON diagnostics");
    assert!(v.to_string().contains("K1102"), "{v}");
}

#[test]
fn without_a_project_file_app_is_a_usage_error_and_paths_work_as_before() {
    let dir = scratch("project-none");
    write(&dir, "main.kiln", &config_map("kiln-none", "x", "1"));
    let out = kiln_in(&dir, &["plan", "--app", "a"]);
    assert_eq!(out.code, 64, "{}", out.stderr);
    assert!(
        out.stderr.contains("this project has no kiln.toml"),
        "{}",
        out.stderr
    );
    let out = kiln_in(&dir, &["plan"]);
    assert_eq!(out.code, 64, "{}", out.stderr);
    assert!(
        out.stderr.contains("give the .kiln files or directories"),
        "{}",
        out.stderr
    );
}

/// One file of app `a` given on the command line: the whole app is planned and applied, under
/// the app's ApplySet (`team-a`) in its namespace, and `--prune` of one file never prunes the
/// other file's objects.
#[tokio::test]
async fn a_path_selects_its_app_which_is_applied_whole_under_its_applyset() {
    let Some((tc, ns)) = common::cluster_and_namespace("cli-project", false).await else {
        return;
    };
    let dir = repository(&format!("project-{ns}"), &ns);
    let kubeconfig = tc.kubeconfig().to_string_lossy().into_owned();
    let run = |args: &[&str]| kiln_logged(&dir, args, &["--kubeconfig", &kubeconfig]);
    let configmaps: Api<ConfigMap> = Api::namespaced(tc.client().clone(), &ns);

    let plan = run(&["plan", "apps/a/one.kiln", "--detailed-exitcode"]);
    assert_eq!(plan.code, 2, "{}", plan.stderr);
    assert!(
        plan.stdout.contains(&format!("ConfigMap/{ns}/a-one create")),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout.contains(&format!("ConfigMap/{ns}/a-two create")),
        "the whole app: {}",
        plan.stdout
    );
    assert!(!plan.stdout.contains("b-main"), "only app a: {}", plan.stdout);

    let apply = run(&["apply", "apps/a/two.kiln", "--prune"]);
    assert_eq!(apply.code, 0, "{}", apply.stderr);
    for name in ["a-one", "a-two"] {
        configmaps
            .get(name)
            .await
            .unwrap_or_else(|_| panic!("{name} applied"));
    }
    assert!(configmaps.get_opt("b-main").await.unwrap().is_none());
    // The app's ApplySet, in the app's namespace: the parent is kiln-team-a in `ns`.
    let parent = configmaps
        .get("kiln-team-a")
        .await
        .expect("ApplySet parent of app a");
    assert!(
        parent
            .metadata
            .labels
            .unwrap_or_default()
            .contains_key("applyset.kubernetes.io/id")
    );

    // The same app by name from anywhere inside the repository: nothing to do.
    let out = kiln_in(
        &dir.join("apps/b"),
        &[
            "plan",
            "--app",
            "a",
            "--detailed-exitcode",
            "--prune",
            "--kubeconfig",
            &kubeconfig,
        ],
    );
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);

    // App b defaults its ApplySet to its name.
    let apply = run(&["apply", "--app", "b"]);
    assert_eq!(apply.code, 0, "{}", apply.stderr);
    configmaps.get("kiln-b").await.expect("ApplySet parent of app b");
    configmaps.get("b-main").await.expect("b-main applied");
}
