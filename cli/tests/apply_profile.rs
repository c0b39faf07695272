//! `kiln apply examples/team` as a new user runs it, against the real control plane: the
//! Profile's namespace is created by Kubeflow's profile controller, which the Go module proxy
//! does not serve, so [`StandInProfileController`] stands in for it where a test needs it.
//!
//! * Without the controller: exit 1 with one error naming the namespace it waited for and the
//!   `--namespace-timeout` it waited, the wait shown on stderr, nothing created in the namespace.
//! * With the stand-in: the wait is shown line by line (stderr is a pipe), creates are one line
//!   each with their summary, the apply succeeds, and a plan from another working directory
//!   (human and `-o json`) finds nothing to change.
//! * `--namespace-timeout` takes durations (`3s`, `5m`) and refuses anything else.

mod common;

use common::{kiln_in, scratch};
use kiln_testsupport::{StandInProfileController, unique_name, workspace_root};
use std::path::{Path, PathBuf};

/// `examples/team` copied to a scratch folder, its Profile (and so its namespace) renamed to a
/// fresh name so every run starts from a fresh cluster state.
fn team_copy(tag: &str) -> (PathBuf, String) {
    let profile = unique_name(tag).replace("kiln-", "k");
    let dir = scratch(&format!("apply-profile-{profile}"));
    let src = workspace_root().join("examples").join("team");
    for entry in std::fs::read_dir(&src).expect("examples/team") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "kiln") {
            let text = std::fs::read_to_string(&path).expect("read example");
            let renamed = text.replace("\"team-churn\"", &format!("\"{profile}\""));
            std::fs::write(dir.join(path.file_name().expect("name")), renamed).expect("write");
        }
    }
    (dir, profile)
}

fn run(cwd: &Path, args: &[&str]) -> common::Output {
    let out = kiln_in(cwd, args);
    eprintln!(
        "$ kiln {}\nexit {}\n{}{}",
        args.join(" "),
        out.code,
        out.stdout,
        out.stderr
    );
    out
}

#[tokio::test]
async fn without_the_profile_controller_apply_exits_1_naming_the_namespace_it_waited_for() {
    let Some((tc, _)) = common::cluster_and_namespace("cli-profile", true).await else {
        return;
    };
    let (dir, ns) = team_copy("nopc");
    let kubeconfig = tc.kubeconfig().to_string_lossy().into_owned();
    let path = dir.to_string_lossy().into_owned();
    let out = run(
        &dir,
        &[
            "apply",
            &path,
            "--kubeconfig",
            &kubeconfig,
            "--applyset",
            &ns,
            "--namespace-timeout",
            "3s",
        ],
    );
    assert_eq!(out.code, 1, "{}", out.stderr);
    let errors: Vec<&str> = out.stderr.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(errors.len(), 1, "one error: {errors:#?}");
    assert!(
        errors[0].contains(&format!(
            "Profile {ns} was applied, but namespace {ns} did not appear within 3s: Kubeflow's profile controller creates it; is it running?"
        )),
        "{}",
        errors[0]
    );
    assert!(
        out.stderr
            .lines()
            .any(|l| l.starts_with(&format!("waiting for namespace {ns} "))),
        "the wait is shown: {}",
        out.stderr
    );
    // kiln never creates a Profile's namespace, so nothing in it can have been created.
    let namespaces: kube::Api<k8s_openapi::api::core::v1::Namespace> = kube::Api::all(tc.client().clone());
    assert!(namespaces.get_opt(&ns).await.unwrap().is_none());
    assert!(
        out.stdout.contains("Applied 1 object(s)"),
        "only the Profile: {}",
        out.stdout
    );
}

// Multi-threaded: the stand-in runs on the test's runtime while a worker waits for `kiln`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_profile_controller_apply_waits_visibly_and_a_plan_elsewhere_is_clean() {
    let Some((tc, _)) = common::cluster_and_namespace("cli-profile", true).await else {
        return;
    };
    let (dir, ns) = team_copy("pc");
    let _controller = StandInProfileController::start(tc.client().clone(), &ns);
    let kubeconfig = tc.kubeconfig().to_string_lossy().into_owned();
    let path = dir.to_string_lossy().into_owned();
    let common_args = ["--kubeconfig", kubeconfig.as_str(), "--applyset", ns.as_str()];
    let mut apply = vec!["apply", path.as_str()];
    apply.extend(common_args);
    let out = run(&dir, &apply);
    assert_eq!(out.code, 0, "{}", out.stderr);
    // Creates are one line each with a summary; their manifests are not printed.
    assert!(
        out.stdout.lines().any(|l| l.starts_with(&format!(
            "Notebook/{ns}/churn-dev create: image ghcr.io/acme/jupyter-torch:2.4, cpu 4"
        ))),
        "{}",
        out.stdout
    );
    assert!(
        !out.stdout.contains("+++ desired"),
        "no manifests: {}",
        out.stdout
    );
    let waited: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| l.contains(&format!("namespace {ns}")))
        .collect();
    assert_eq!(waited.len(), 2, "waiting, then appeared: {waited:#?}");
    assert!(waited[0].starts_with(&format!(
        "waiting for namespace {ns} (Kubeflow's profile controller creates it for Profile {ns};"
    )));
    assert!(waited[1].starts_with(&format!("namespace {ns} appeared after ")));

    // A plan from another working directory: nothing to change, in both formats.
    let elsewhere = scratch(&format!("apply-profile-cwd-{ns}"));
    let mut plan = vec!["plan", path.as_str(), "--detailed-exitcode"];
    plan.extend(common_args);
    let out = run(&elsewhere, &plan);
    assert_eq!(out.code, 0, "{}", out.stdout);
    plan.extend(["-o", "json"]);
    let out = run(&elsewhere, &plan);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).expect("JSON plan on stdout");
    assert_eq!(v["has_changes"], false, "{}", out.stdout);
    assert!(v["summary"]["unchanged"].as_u64().unwrap() >= 9, "{}", out.stdout);
    // A second apply writes nothing; its result in JSON is on stdout, alone.
    let mut again = vec!["apply", path.as_str(), "-o", "json"];
    again.extend(common_args);
    let out = run(&elsewhere, &again);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).expect("JSON result on stdout");
    assert_eq!(v["success"], true, "{}", out.stdout);
    assert_eq!(v["applied"].as_array().map(Vec::len), Some(0), "{}", out.stdout);
    assert_eq!(v["summary"]["create"], 0, "{}", out.stdout);
    // The manifest of a create is there on request.
    let mut fresh = vec!["plan", path.as_str(), "--show-creates"];
    fresh.extend(["--kubeconfig", kubeconfig.as_str(), "--applyset", "other-set"]);
    let out = run(&elsewhere, &fresh);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout
            .contains(&format!("+++ desired Notebook/{ns}/churn-dev")),
        "{}",
        out.stdout
    );
}

#[test]
fn namespace_timeout_takes_durations_and_refuses_anything_else() {
    let dir = scratch("apply-profile-flag");
    let out = kiln_in(&dir, &["apply", ".", "--namespace-timeout", "soon"]);
    // A usage error (64), never 2, which `plan --detailed-exitcode` uses for changes pending.
    assert_eq!(out.code, 64, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("`soon` is not a duration (examples: 90s, 5min, 5m, 1h30m, 2d)"),
        "{}",
        out.stderr
    );
    let help = kiln_in(&dir, &["apply", "--help"]);
    assert!(
        help.stdout.contains("--namespace-timeout <NAMESPACE_TIMEOUT>")
            && help.stdout.contains("[default: 60s]"),
        "{}",
        help.stdout
    );
}

/// On a terminal (a pty from util-linux `script`), the wait is a live view redrawn in place
/// (terminal control sequences), ending in the row's final state; the error follows it.
#[tokio::test]
async fn on_a_terminal_the_wait_is_a_live_view() {
    let Some((tc, _)) = common::cluster_and_namespace("cli-profile", true).await else {
        return;
    };
    let (dir, ns) = team_copy("tty");
    let (code, screen) = common::kiln_on_a_terminal(
        &dir,
        &format!(
            "apply {} --kubeconfig {} --applyset {ns} --namespace-timeout 3s",
            dir.display(),
            tc.kubeconfig().display()
        ),
        &[],
    );
    assert_eq!(code, Some(1), "{screen}");
    assert!(screen.contains("\x1b["), "redrawn in place: {screen:?}");
    assert!(
        screen.contains(&format!("Namespace/{ns}"))
            && screen.contains(&format!("namespace {ns} did not appear")),
        "{screen}"
    );
    assert!(
        screen.contains(&format!("error: Profile/{ns}: wait for its namespace failed")),
        "{screen}"
    );
}
