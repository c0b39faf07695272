//! The reviewed plan is the applied plan: `kiln plan --git-base .. --git-head .. --cluster
//! --out plan.json` then `kiln apply plan.json`, against a local bare Git remote (commits made
//! here) and the project's real control plane. A plan is refused, touching nothing, when the
//! branch moved past the planned commit, or when a planned object changed in the cluster since.

mod common;

use common::{kiln_logged, scratch};
use k8s_openapi::api::core::v1::ConfigMap;
use kiln_testsupport::git::{TestRepo, config_map};
use kube::api::{Api, Patch, PatchParams};

/// Commits a new value of the one ConfigMap of app `a` and pushes it.
fn commit(repo: &mut TestRepo, ns: &str, flag: &str) {
    repo.write("apps/a/main.kiln", &config_map("settings", ns, &[("FLAG", flag)]));
    repo.commit(flag);
}

#[tokio::test]
async fn a_plan_file_applies_as_reviewed_and_stale_plans_are_refused() {
    let Some((tc, ns)) = common::cluster_and_namespace("git-apply", false).await else {
        return;
    };
    let dir = scratch(&format!("git-apply-{ns}"));
    let mut repo = TestRepo::new(&format!("git-apply-{ns}"));
    let remote = repo.remote.clone();
    repo.write(
        "kiln.toml",
        &format!(
            "[[app]]\nname = \"a\"\npaths = [\"apps/a\"]\napplyset = \"git-apply\"\nnamespace = \"{ns}\"\n"
        ),
    );
    let kubeconfig = tc.kubeconfig().to_string_lossy().into_owned();
    let remote_arg = remote.to_string_lossy().into_owned();
    let cache = dir.join("cache").to_string_lossy().into_owned();
    let run = |args: &[&str]| kiln_logged(&dir, args, &["--kubeconfig", &kubeconfig, "--cache-dir", &cache]);
    let plan = |base: &str| {
        run(&[
            "plan",
            "--git-base",
            base,
            "--git-head",
            "main",
            "--repo",
            &remote_arg,
            "--cluster",
            "--out",
            "plan.json",
        ])
    };
    let configmaps: Api<ConfigMap> = Api::namespaced(tc.client().clone(), &ns);
    let flag = || async {
        configmaps
            .get("settings")
            .await
            .ok()
            .and_then(|c| c.data)
            .map(|d| d["FLAG"].clone())
    };

    // 1. Plan and apply the first commit.
    commit(&mut repo, &ns, "one");
    let out = plan("main");
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout.contains(&format!("ConfigMap/{ns}/settings create")),
        "{}",
        out.stdout
    );
    let file: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("plan.json")).unwrap()).unwrap();
    assert_eq!(file["apps"][0]["objects"][0]["action"], "create");
    assert!(
        !std::fs::read_to_string(dir.join("plan.json"))
            .unwrap()
            .contains("FLAG"),
        "no manifest bodies in the plan file"
    );
    assert_eq!(flag().await, None, "planning wrote nothing");
    let out = run(&["apply", "plan.json"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(flag().await.as_deref(), Some("one"));

    // 2. The branch moves after the plan: refused, nothing changed.
    commit(&mut repo, &ns, "two");
    let out = plan("main~1");
    assert_eq!(out.code, 0, "{}", out.stderr);
    commit(&mut repo, &ns, "three");
    let out = run(&["apply", "plan.json"]);
    assert_eq!(out.code, 1, "{}", out.stdout);
    assert!(
        out.stderr.contains("is stale, nothing was changed"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains("`main` (refs/heads/main) moved from the planned commit"),
        "{}",
        out.stderr
    );
    assert_eq!(
        flag().await.as_deref(),
        Some("one"),
        "a stale plan touches nothing"
    );

    // 3. A planned object changes in the cluster after the plan: refused, nothing changed.
    let out = plan("main~1");
    assert_eq!(out.code, 0, "{}", out.stderr);
    // Another manager labels the object: kiln's fields are untouched, but it is not the object
    // the plan read any more.
    configmaps
        .patch(
            "settings",
            &PatchParams::default(),
            &Patch::Merge(&serde_json::json!({"metadata": {"labels": {"edited-by": "hand"}}})),
        )
        .await
        .expect("edit by another manager");
    let out = run(&["apply", "plan.json"]);
    assert_eq!(out.code, 1, "{}", out.stdout);
    assert!(
        out.stderr.contains(&format!(
            "ConfigMap/{ns}/settings changed in the cluster since the plan (resourceVersion "
        )),
        "{}",
        out.stderr
    );
    assert_eq!(
        flag().await.as_deref(),
        Some("one"),
        "a stale plan touches nothing"
    );

    // 4. A fresh plan of the same head applies.
    let out = plan("main~1");
    assert_eq!(out.code, 0, "{}", out.stderr);
    let out = run(&["apply", "plan.json"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(flag().await.as_deref(), Some("three"));
}
