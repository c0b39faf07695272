//! `kiln-controller` as a process against the real control plane, following a bare repository:
//! push → converge; a one-app change compiles and writes only that app's changed object; a
//! deleted spec file prunes exactly its objects and keeps its PVC; a broken commit keeps the last
//! good one (status, annotation and Event say why) and a fixed commit converges.

mod common;

use std::time::Duration;

use common::{Controller, Settings, TestRepo, config_map, pvc};
use k8s_openapi::api::core::v1::{ConfigMap, PersistentVolumeClaim};
use kube::Api;
use serde_json::Value;

const LIMIT: Duration = Duration::from_secs(60);

fn applied(s: &Value, app: &str) -> Option<String> {
    s["apps"][app]["last_applied_commit"].as_str().map(str::to_string)
}

async fn rv(api: &Api<ConfigMap>, name: &str) -> String {
    api.get(name).await.unwrap().metadata.resource_version.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn follows_the_branch_incrementally_and_keeps_the_last_good_commit() {
    let Some(cluster) = kiln_testsupport::cluster().await else {
        return;
    };
    let ns_a = cluster.namespace("ctl-a").await.unwrap();
    let ns_b = cluster.namespace("ctl-b").await.unwrap();
    let ns_sys = cluster.namespace("ctl-sys").await.unwrap();
    let mut repo = TestRepo::new("loop");
    repo.write(
        "kiln.toml",
        &format!(
            "[[app]]\nname = \"a\"\npaths = [\"apps/a\"]\nnamespace = \"{ns_sys}\"\n\n[[app]]\nname = \"b\"\npaths = [\"apps/b\"]\nnamespace = \"{ns_sys}\"\n"
        ),
    )
    .write("apps/a/one.kiln", &config_map("a1", &ns_a, &[("V", "1")]))
    .write("apps/a/two.kiln", &(config_map("a2", &ns_a, &[("W", "1")]) + &pvc("data", &ns_a)))
    .write("apps/a/three.kiln", &config_map("a3", &ns_a, &[("X", "1")]))
    .write("apps/b/main.kiln", &config_map("b1", &ns_b, &[("Y", "1")]));
    let c1 = repo.commit("first");
    let ctl = Controller::start(&Settings {
        repo: &repo,
        kubeconfig: cluster.kubeconfig(),
        lease_namespace: &ns_sys,
        identity: "solo",
        interval: "300ms",
        resync: "1h",
        secret: None,
        url: None,
        extra: &[],
        env: &[],
    });
    let cms_a: Api<ConfigMap> = Api::namespaced(cluster.client().clone(), &ns_a);
    let cms_b: Api<ConfigMap> = Api::namespaced(cluster.client().clone(), &ns_b);
    let pvcs: Api<PersistentVolumeClaim> = Api::namespaced(cluster.client().clone(), &ns_a);

    // 1. Push: everything converges.
    let s = ctl.wait_for("the first commit", LIMIT, |s| {
        applied(s, "a").as_deref() == Some(&c1) && applied(s, "b").as_deref() == Some(&c1)
    });
    assert_eq!(s["leader"], true);
    assert_eq!(
        s["discoveries"], 1,
        "one API discovery serves both apps' reconciles: {s:#}"
    );
    assert_eq!(s["apps"]["a"]["condition"], "Ready");
    assert_eq!(s["apps"]["a"]["applied"], 4, "{s:#}");
    for n in ["a1", "a2", "a3"] {
        cms_a.get(n).await.unwrap();
    }
    pvcs.get("data").await.unwrap();
    assert_eq!(cms_b.get("b1").await.unwrap().data.unwrap()["Y"], "1");
    let (code, _) = common::http(&ctl.addr, "GET", "/readyz", &[], b"");
    assert_eq!(code, 200);

    // 2. A change to one app: only it is compiled again, only its changed object is written.
    let (a2_before, a3_before, b1_before) = (
        rv(&cms_a, "a2").await,
        rv(&cms_a, "a3").await,
        rv(&cms_b, "b1").await,
    );
    repo.write("apps/a/one.kiln", &config_map("a1", &ns_a, &[("V", "2")]));
    let c2 = repo.commit("change a1");
    let s = ctl.wait_for("the one-app change", LIMIT, |s| {
        applied(s, "a").as_deref() == Some(&c2)
    });
    assert_eq!(s["apps"]["a"]["compiles"], 2, "{s:#}");
    assert_eq!(s["apps"]["b"]["compiles"], 1, "b was not touched: {s:#}");
    assert_eq!(s["apps"]["a"]["applied"], 1, "only a1 changed: {s:#}");
    // Written since start (the /status counts): a's four objects and then a1; b's one object.
    assert_eq!(s["apps"]["a"]["objects_written"], 5, "{s:#}");
    assert_eq!(s["apps"]["b"]["objects_written"], 1, "{s:#}");
    assert_eq!(s["writes"]["objects"], 6, "{s:#}");
    assert_eq!(s["apps"]["a"]["unchanged"], 3, "{s:#}");
    assert_eq!(
        s["apps"]["b"]["reconciles"], 1,
        "b is not reconciled again: {s:#}"
    );
    assert_eq!(
        applied(&s, "b").as_deref(),
        Some(c2.as_str()),
        "b's objects are those of the head"
    );
    assert_eq!(cms_a.get("a1").await.unwrap().data.unwrap()["V"], "2");
    assert_eq!(rv(&cms_a, "a2").await, a2_before);
    assert_eq!(rv(&cms_a, "a3").await, a3_before);
    assert_eq!(rv(&cms_b, "b1").await, b1_before);

    // 3. Delete a spec file: exactly its objects are pruned, its PVC is kept.
    repo.remove("apps/a/two.kiln");
    let c3 = repo.commit("drop two");
    let s = ctl.wait_for("the prune", LIMIT, |s| applied(s, "a").as_deref() == Some(&c3));
    assert_eq!(s["apps"]["a"]["pruned"], 1, "{s:#}");
    assert!(cms_a.get_opt("a2").await.unwrap().is_none(), "a2 is pruned");
    assert!(pvcs.get_opt("data").await.unwrap().is_some(), "the PVC is kept");
    cms_a.get("a1").await.unwrap();
    cms_a.get("a3").await.unwrap();

    // 4. A broken commit: the last good commit stays, nothing is pruned; status, the ApplySet
    //    parent's annotations and an Event say why.
    repo.remove("apps/a/three.kiln");
    repo.write("apps/a/one.kiln", "kf.Object \"a1\" = \n");
    let c4 = repo.commit("broken");
    let s = ctl.wait_for("the broken commit", LIMIT, |s| {
        s["apps"]["a"]["last_attempted_commit"].as_str() == Some(&c4)
            && s["apps"]["a"]["condition"] == "Stalled"
    });
    assert_eq!(applied(&s, "a").as_deref(), Some(c3.as_str()), "{s:#}");
    let message = s["apps"]["a"]["message"].as_str().unwrap();
    assert!(
        message.contains("does not compile")
            && message.contains(&c3)
            && message.contains("nothing is pruned"),
        "{message}"
    );
    assert_eq!(
        s["apps"]["b"]["condition"], "Ready",
        "one failing app does not block the other"
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(
        cms_a.get_opt("a3").await.unwrap().is_some(),
        "a3 is not pruned at a broken commit"
    );
    assert_eq!(cms_a.get("a1").await.unwrap().data.unwrap()["V"], "2");
    let parents: Api<ConfigMap> = Api::namespaced(cluster.client().clone(), &ns_sys);
    let parent = parents.get("kiln-a").await.unwrap();
    let ann = parent.metadata.annotations.unwrap();
    assert_eq!(ann["status.kiln.dev/condition"], "Stalled");
    assert_eq!(ann["status.kiln.dev/last-applied-commit"], c3);
    assert_eq!(ann["status.kiln.dev/last-attempted-commit"], c4);
    common::wait_for_event(cluster.client(), &ns_sys, "kiln-a", "Refused", "does not compile").await;
    let (_, metrics) = common::http(&ctl.addr, "GET", "/metrics", &[], b"");
    assert!(
        metrics.contains("kiln_controller_errors_total{app=\"a\",kind=\"compile\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("kiln_controller_reconcile_duration_seconds_count{app=\"a\"}"),
        "{metrics}"
    );

    // 5. The fix converges (and prunes a3, removed in the broken commit).
    repo.write("apps/a/one.kiln", &config_map("a1", &ns_a, &[("V", "3")]));
    let c5 = repo.commit("fixed");
    let s = ctl.wait_for("the fixed commit", LIMIT, |s| {
        applied(s, "a").as_deref() == Some(&c5)
    });
    assert_eq!(s["apps"]["a"]["condition"], "Ready");
    assert_eq!(cms_a.get("a1").await.unwrap().data.unwrap()["V"], "3");
    assert!(cms_a.get_opt("a3").await.unwrap().is_none());
    assert!(pvcs.get_opt("data").await.unwrap().is_some());
}
