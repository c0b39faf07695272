//! `kiln plan` / `kiln apply` end to end: the real binary, a .kiln project in a scratch
//! directory and the project's real control plane (kiln-testsupport, which installs the
//! upstream CRDs). Create -> no changes -> one update with its diff -> a type error touches
//! nothing (not even with --prune) -> a removed object is pruned.

mod common;

use common::{kiln_in, scratch};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, ApiResource, DynamicObject};
use std::path::Path;

const IMAGE: &str = "ghcr.io/kubeflow/kubeflow/notebook-servers/jupyter-scipy:v1.10.0";

fn project(ns: &str, flag: &str, with_config: bool, notebook_cpu: &str) -> String {
    let mut text = String::from("import \"kubeflow\" as kf\n\n");
    if with_config {
        text.push_str(&format!(
            "kf.Object \"settings\" = kf.config_map({{ FLAG = \"{flag}\" }}) with {{ namespace = \"{ns}\" }}\n\n"
        ));
    }
    text.push_str(&format!(
        "kf.Notebook \"dev\" {{\n  namespace = \"{ns}\"\n  image = \"{IMAGE}\"\n  cpu = {notebook_cpu}\n  memory = 1Gi\n}}\n"
    ));
    text
}

/// Asserts that the command printed `line` as a whole line on stdout (a create's line may go
/// on with `: <summary>`).
fn has_line(out: &common::Output, line: &str) {
    assert!(
        out.stdout
            .lines()
            .any(|l| l == line || l.strip_prefix(line).is_some_and(|rest| rest.starts_with(": "))),
        "no line `{line}` in:\n{}",
        out.stdout
    );
}

struct Run<'a> {
    dir: &'a Path,
    kubeconfig: String,
    ns: &'a str,
}

impl Run<'_> {
    /// `kiln <command> <dir> --kubeconfig .. --applyset-namespace <ns> <extra>`; the ApplySet
    /// name is the default one (derived from the scratch directory).
    fn kiln(&self, command: &str, extra: &[&str]) -> common::Output {
        let dir = self.dir.to_str().expect("utf-8 path");
        let mut args = vec![
            command,
            dir,
            "--kubeconfig",
            &self.kubeconfig,
            "--applyset-namespace",
            self.ns,
        ];
        args.extend_from_slice(extra);
        let out = kiln_in(self.dir, &args);
        eprintln!(
            "$ kiln {}\nexit {}\n{}{}",
            args.join(" "),
            out.code,
            out.stdout,
            out.stderr
        );
        out
    }

    fn write(&self, text: &str) {
        std::fs::write(self.dir.join("main.kiln"), text).expect("write main.kiln");
    }
}

#[tokio::test]
async fn plan_apply_update_broken_spec_and_prune() {
    let Some((tc, ns)) = common::cluster_and_namespace("cli-apply", true).await else {
        return;
    };
    let dir = scratch(&format!("apply-{ns}"));
    let run = Run {
        dir: &dir,
        kubeconfig: tc.kubeconfig().to_string_lossy().into_owned(),
        ns: &ns,
    };
    let configmaps: Api<ConfigMap> = Api::namespaced(tc.client().clone(), &ns);
    let notebook = ApiResource {
        group: "kubeflow.org".into(),
        version: "v1".into(),
        api_version: "kubeflow.org/v1".into(),
        kind: "Notebook".into(),
        plural: "notebooks".into(),
    };
    let notebooks: Api<DynamicObject> = Api::namespaced_with(tc.client().clone(), &ns, &notebook);

    // 1. A fresh project: everything is a create; --detailed-exitcode says "changes" (2).
    run.write(&project(&ns, "on", true, "1"));
    let plan = run.kiln("plan", &["--detailed-exitcode"]);
    assert_eq!(plan.code, 2, "{}", plan.stderr);
    has_line(&plan, &format!("ConfigMap/{ns}/settings create: 1 key"));
    has_line(&plan, &format!("Notebook/{ns}/dev create"));
    assert!(
        plan.stdout
            .contains(&format!("Notebook/{ns}/dev create: image {IMAGE}, cpu 1")),
        "a create is one line with a summary:\n{}",
        plan.stdout
    );
    assert!(
        !plan.stdout.contains("+++ desired"),
        "no manifests:\n{}",
        plan.stdout
    );
    assert!(plan.stdout.contains("Plan: 2 to create"), "{}", plan.stdout);
    assert!(!plan.stdout.contains('\x1b'), "no colour off a terminal");
    assert!(
        configmaps.get_opt("settings").await.unwrap().is_none(),
        "plan wrote nothing"
    );

    // 2. Apply creates both; a second plan has nothing to do (0).
    let apply = run.kiln("apply", &[]);
    assert_eq!(apply.code, 0, "{}", apply.stderr);
    let cm = configmaps.get("settings").await.expect("ConfigMap created");
    assert_eq!(cm.data.unwrap()["FLAG"], "on");
    notebooks.get("dev").await.expect("Notebook created");
    let plan = run.kiln("plan", &["--detailed-exitcode"]);
    assert_eq!(plan.code, 0, "no changes after apply:\n{}", plan.stdout);

    // 3. One field edited: one update, with a diff of that field only.
    run.write(&project(&ns, "off", true, "1"));
    let plan = run.kiln("plan", &["--detailed-exitcode"]);
    assert_eq!(plan.code, 2, "{}", plan.stderr);
    let updates: Vec<&str> = plan.stdout.lines().filter(|l| l.ends_with(" update")).collect();
    assert_eq!(
        updates,
        [format!("ConfigMap/{ns}/settings update")],
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout.contains("-  FLAG: on") && plan.stdout.contains("+  FLAG: off"),
        "{}",
        plan.stdout
    );
    has_line(&plan, &format!("Notebook/{ns}/dev unchanged"));
    let json = run.kiln("plan", &["--output", "json"]);
    assert_eq!(json.code, 0, "{}", json.stderr);
    let v: serde_json::Value = serde_json::from_str(&json.stdout).expect("JSON plan");
    assert_eq!(v["summary"]["update"], 1);

    // 4. A type error (and the ConfigMap dropped): apply --prune exits 1 and touches nothing.
    run.write(&project(&ns, "off", false, "\"lots\""));
    let apply = run.kiln("apply", &["--prune"]);
    assert_eq!(apply.code, 1, "{}", apply.stdout);
    assert!(apply.stderr.contains("error"), "{}", apply.stderr);
    assert!(apply.stdout.is_empty(), "no plan printed:\n{}", apply.stdout);
    let cm = configmaps
        .get("settings")
        .await
        .expect("ConfigMap not pruned by a failed compile");
    assert_eq!(
        cm.data.unwrap()["FLAG"],
        "on",
        "nothing applied from a failed compile"
    );
    notebooks.get("dev").await.expect("Notebook kept");

    // 5. The ConfigMap removed from a valid spec: apply --prune deletes it, keeps the Notebook.
    run.write(&project(&ns, "off", false, "1"));
    let apply = run.kiln("apply", &["--prune"]);
    assert_eq!(apply.code, 0, "{}", apply.stderr);
    has_line(&apply, &format!("ConfigMap/{ns}/settings prune"));
    assert!(
        configmaps.get_opt("settings").await.unwrap().is_none(),
        "ConfigMap pruned"
    );
    notebooks.get("dev").await.expect("Notebook kept");
    let plan = run.kiln("plan", &["--detailed-exitcode", "--prune"]);
    assert_eq!(plan.code, 0, "converged:\n{}", plan.stdout);
}

/// `kiln apply --wait` on a terminal while objects become healthy (not a namespace wait): the
/// live view has a row per object with its current state, redrawn in place. The Notebook has no
/// controller here, so it stays progressing until the timeout, which fails the run naming it.
#[tokio::test]
async fn on_a_terminal_the_health_wait_is_a_live_view_of_each_object() {
    let Some((tc, ns)) = common::cluster_and_namespace("cli-wait-tty", true).await else {
        return;
    };
    let dir = scratch(&format!("wait-tty-{ns}"));
    std::fs::write(dir.join("main.kiln"), project(&ns, "on", true, "1")).expect("write main.kiln");
    let (code, screen) = common::kiln_on_a_terminal(
        &dir,
        &format!(
            "apply {} --kubeconfig {} --applyset-namespace {ns} --wait --timeout 4s",
            dir.display(),
            tc.kubeconfig().display()
        ),
        &[("COLUMNS", "160")],
    );
    assert_eq!(code, Some(1), "{screen}");
    assert!(screen.contains("\x1b["), "redrawn in place: {screen:?}");
    assert!(
        screen.contains(&format!("Notebook/{ns}/dev")) && screen.contains("progressing"),
        "a row for the Notebook with its state: {screen}"
    );
    assert!(
        screen.contains(&format!("ConfigMap/{ns}/settings")) && screen.contains("ready"),
        "a row for the ConfigMap, ready: {screen}"
    );
    assert!(
        screen
            .lines()
            .any(|l| l.starts_with("error:") && l.contains(&format!("Notebook/{ns}/dev"))),
        "the timeout names the Notebook: {screen}"
    );
}
