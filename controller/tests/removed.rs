//! Apps removed from kiln.toml: by default their objects are kept and the app is reported as
//! orphaned (status, the parent's annotation, a Warning Event, a metric); back in kiln.toml it is
//! managed again. With `prune_removed_apps = true` a removed app's objects are pruned (its PVC
//! kept) and the app is forgotten. An app removed while no controller ran is found by a new
//! controller from its parent's annotations.

mod common;

use std::time::Duration;

use common::{Controller, Settings, TestRepo, config_map, pvc};
use k8s_openapi::api::core::v1::{ConfigMap, PersistentVolumeClaim};
use kube::Api;
use serde_json::Value;

const LIMIT: Duration = Duration::from_secs(60);

fn project(ns_sys: &str, apps: &[&str], prune: bool) -> String {
    let mut out = String::new();
    if prune {
        out.push_str("prune_removed_apps = true\n\n");
    }
    for a in apps {
        out.push_str(&format!(
            "[[app]]\nname = \"{a}\"\npaths = [\"apps/{a}\"]\nnamespace = \"{ns_sys}\"\n\n"
        ));
    }
    out
}

fn applied(s: &Value, app: &str) -> Option<String> {
    s["apps"][app]["last_applied_commit"].as_str().map(str::to_string)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removed_apps_are_kept_and_reported_unless_kiln_toml_opts_in_to_pruning() {
    let Some(cluster) = kiln_testsupport::cluster().await else {
        return;
    };
    let ns = cluster.namespace("ctl-removed").await.unwrap();
    let ns_sys = cluster.namespace("ctl-removed-sys").await.unwrap();
    let mut repo = TestRepo::new("removed");
    repo.write("kiln.toml", &project(&ns_sys, &["a", "b", "c"], false))
        .write("apps/a/main.kiln", &config_map("a1", &ns, &[("V", "1")]))
        .write("apps/b/main.kiln", &config_map("b1", &ns, &[("V", "1")]))
        .write(
            "apps/c/main.kiln",
            &(config_map("c1", &ns, &[("V", "1")]) + &pvc("c-data", &ns)),
        )
        .write("apps/c/two.kiln", &config_map("c2", &ns, &[("V", "1")]));
    let c1 = repo.commit("three apps");
    let mut ctl = Controller::start(&Settings {
        repo: &repo,
        kubeconfig: cluster.kubeconfig(),
        lease_namespace: &ns_sys,
        identity: "removed",
        interval: "300ms",
        resync: "2s",
        secret: None,
        url: None,
        extra: &[],
        env: &[],
    });
    ctl.wait_for("the three apps", LIMIT, |s| {
        ["a", "b", "c"]
            .iter()
            .all(|a| applied(s, a).as_deref() == Some(&c1))
    });
    let cms: Api<ConfigMap> = Api::namespaced(cluster.client().clone(), &ns);
    let parents: Api<ConfigMap> = Api::namespaced(cluster.client().clone(), &ns_sys);

    // 1. b leaves kiln.toml (its files stay): kept, not reconciled, reported as orphaned.
    repo.write("kiln.toml", &project(&ns_sys, &["a", "c"], false));
    let c2 = repo.commit("drop app b");
    let s = ctl.wait_for("b orphaned", LIMIT, |s| s["apps"]["b"]["condition"] == "Orphaned");
    let message = s["apps"]["b"]["message"].as_str().unwrap();
    assert!(
        message.contains(&c2) && message.contains("kept") && message.contains("prune_removed_apps"),
        "{message}"
    );
    let reconciles = s["apps"]["b"]["reconciles"].as_u64().unwrap();
    // Drift on an orphan is not corrected: nothing reconciles it (resync is 2 s).
    cms.patch(
        "b1",
        &kube::api::PatchParams::default(),
        &kube::api::Patch::Merge(serde_json::json!({"data": {"V": "edited"}})),
    )
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_secs(4)).await;
    let s = ctl.status();
    assert_eq!(
        s["apps"]["b"]["reconciles"].as_u64().unwrap(),
        reconciles,
        "{s:#}"
    );
    assert_eq!(cms.get("b1").await.unwrap().data.unwrap()["V"], "edited");
    let ann = parents.get("kiln-b").await.unwrap().metadata.annotations.unwrap();
    assert_eq!(ann["status.kiln.dev/condition"], "Orphaned");
    common::wait_for_event(cluster.client(), &ns_sys, "kiln-b", "Orphaned", "kept").await;
    let (_, metrics) = common::http(&ctl.addr, "GET", "/metrics", &[], b"");
    assert!(
        metrics.contains("kiln_controller_app_orphaned{app=\"b\"} 1"),
        "{metrics}"
    );
    assert_eq!(s["apps"]["a"]["condition"], "Ready", "{s:#}");

    // 2. b comes back: managed again (its drift corrected), no longer orphaned.
    repo.write("kiln.toml", &project(&ns_sys, &["a", "b", "c"], false));
    let c3 = repo.commit("app b is back");
    ctl.wait_for("b managed again", LIMIT, |s| {
        applied(s, "b").as_deref() == Some(&c3) && s["apps"]["b"]["condition"] == "Ready"
    });
    assert_eq!(cms.get("b1").await.unwrap().data.unwrap()["V"], "1");
    let (_, metrics) = common::http(&ctl.addr, "GET", "/metrics", &[], b"");
    assert!(
        metrics.contains("kiln_controller_app_orphaned{app=\"b\"} 0"),
        "{metrics}"
    );

    // 3. kiln.toml opts in and c leaves: its objects are pruned, its PVC kept, it is forgotten.
    repo.write("kiln.toml", &project(&ns_sys, &["a", "b"], true));
    repo.remove("apps/c/main.kiln").remove("apps/c/two.kiln");
    repo.commit("drop app c, pruning");
    let s = ctl.wait_for("c pruned and forgotten", LIMIT, |s| s["apps"]["c"].is_null());
    assert!(cms.get_opt("c1").await.unwrap().is_none(), "c1 is pruned");
    assert!(cms.get_opt("c2").await.unwrap().is_none(), "c2 is pruned");
    let pvcs: Api<PersistentVolumeClaim> = Api::namespaced(cluster.client().clone(), &ns);
    assert!(pvcs.get_opt("c-data").await.unwrap().is_some(), "the PVC is kept");
    assert_eq!(s["apps"]["a"]["condition"], "Ready", "{s:#}");
    cms.get("a1").await.unwrap();
    cms.get("b1").await.unwrap();
    common::wait_for_event(
        cluster.client(),
        &ns_sys,
        "kiln-c",
        "Removed",
        "2 object(s) pruned",
    )
    .await;

    // 4. b is removed while no controller runs: a new controller finds it by its parent's
    //    annotations and reports it as orphaned, its objects kept.
    assert!(ctl.terminate().success());
    repo.write("kiln.toml", &project(&ns_sys, &["a"], false));
    let c5 = repo.commit("drop app b while the controller is down");
    let ctl = Controller::start(&Settings {
        repo: &repo,
        kubeconfig: cluster.kubeconfig(),
        lease_namespace: &ns_sys,
        identity: "removed-2",
        interval: "300ms",
        resync: "2s",
        secret: None,
        url: None,
        extra: &[],
        env: &[],
    });
    let s = ctl.wait_for("b found orphaned after a restart", LIMIT, |s| {
        s["apps"]["b"]["condition"] == "Orphaned"
    });
    assert!(s["apps"]["b"]["message"].as_str().unwrap().contains(&c5), "{s:#}");
    assert!(
        s["apps"]["c"].is_null(),
        "c, pruned before, is not taken up again: {s:#}"
    );
    assert_eq!(s["orphan_scan_error"], Value::Null, "{s:#}");
    tokio::time::sleep(Duration::from_secs(1)).await;
    cms.get("b1").await.unwrap();

    // 5. Opting in later prunes the orphan.
    repo.write("kiln.toml", &project(&ns_sys, &["a"], true));
    repo.commit("prune removed apps");
    ctl.wait_for("b pruned", LIMIT, |s| s["apps"]["b"].is_null());
    assert!(cms.get_opt("b1").await.unwrap().is_none(), "b1 is pruned");
    cms.get("a1").await.unwrap();
    let ann = parents.get("kiln-b").await.unwrap().metadata.annotations.unwrap();
    assert_eq!(ann["status.kiln.dev/condition"], "Removed");
    assert!(!ann.contains_key("status.kiln.dev/followed"), "{ann:?}");
}
