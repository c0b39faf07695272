//! `--crds`: apps with `validate = true` are validated against the upstream CRDs (the real
//! Notebook CRD of `$KILN_SHARED/crds`, installed in the control plane), and a commit whose
//! objects break the schema is refused like a broken commit: the last good commit stays, nothing
//! of the commit is applied, status and an Event say why; the fix converges. An app with
//! `validate = false` is not held to the schema.

mod common;

use std::time::Duration;

use common::{Controller, Settings, TestRepo, config_map};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::Api;
use kube::api::DynamicObject;
use kube::discovery::ApiResource;
use serde_json::Value;

const LIMIT: Duration = Duration::from_secs(90);

/// A Notebook whose pod spec's `activeDeadlineSeconds` is `deadline` (an integer in the schema).
fn notebook(ns: &str, deadline: &str) -> String {
    format!(
        "\nkf.Object \"lab\" = kf.Object {{\n  api_version = \"kubeflow.org/v1\"\n  kind = \"Notebook\"\n  namespace = \"{ns}\"\n  \
         spec = {{ template = {{ spec = {{ activeDeadlineSeconds = {deadline}, containers = [{{ name = \"lab\", image = \"jupyter:1\" }}] }} }} }}\n}}\n"
    )
}

fn applied(s: &Value, app: &str) -> Option<String> {
    s["apps"][app]["last_applied_commit"].as_str().map(str::to_string)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_schema_invalid_commit_is_refused_like_a_broken_one() {
    let Some(cluster) = kiln_testsupport::cluster().await else {
        return;
    };
    kiln_testsupport::install_crds(cluster.client()).await.unwrap();
    let crds = kiln_testsupport::shared_dir().unwrap().join("crds/notebooks");
    let ns = cluster.namespace("ctl-crds").await.unwrap();
    let ns_sys = cluster.namespace("ctl-crds-sys").await.unwrap();
    let mut repo = TestRepo::new("crds");
    repo.write(
        "kiln.toml",
        &format!(
            "[[app]]\nname = \"a\"\npaths = [\"apps/a\"]\nnamespace = \"{ns_sys}\"\n\n\
             [[app]]\nname = \"loose\"\npaths = [\"apps/loose\"]\nnamespace = \"{ns_sys}\"\nvalidate = false\n"
        ),
    )
    .write(
        "apps/a/main.kiln",
        &(config_map("flags", &ns, &[("V", "1")]) + &notebook(&ns, "3600")),
    )
    .write("apps/loose/main.kiln", &config_map("loose", &ns, &[("V", "1")]));
    let c1 = repo.commit("valid");
    let crds_arg = crds.to_str().unwrap().to_string();
    let ctl = Controller::start(&Settings {
        repo: &repo,
        kubeconfig: cluster.kubeconfig(),
        lease_namespace: &ns_sys,
        identity: "crds",
        interval: "300ms",
        resync: "1h",
        secret: None,
        url: None,
        extra: &["--crds", &crds_arg],
        env: &[],
    });
    let s = ctl.wait_for("the valid commit", LIMIT, |s| {
        applied(s, "a").as_deref() == Some(&c1) || s["apps"]["a"]["condition"] == "Stalled"
    });
    assert_eq!(s["apps"]["a"]["condition"], "Ready", "{s:#}");
    let cms: Api<ConfigMap> = Api::namespaced(cluster.client().clone(), &ns);
    let notebooks: Api<DynamicObject> = Api::namespaced_with(
        cluster.client().clone(),
        &ns,
        &ApiResource::from_gvk(&kube::api::GroupVersionKind::gvk(
            "kubeflow.org",
            "v1",
            "Notebook",
        )),
    );
    notebooks.get("lab").await.unwrap();

    // 1. A string where the schema wants an integer, and a ConfigMap change in the same commit:
    //    refused at build time, so not even the ConfigMap is written. An app that opted out of
    //    validation is not held to the schema.
    repo.write(
        "apps/a/main.kiln",
        &(config_map("flags", &ns, &[("V", "2")]) + &notebook(&ns, "\"soon\"")),
    )
    .write("apps/loose/main.kiln", &config_map("loose", &ns, &[("V", "2")]));
    let c2 = repo.commit("schema-invalid");
    let s = ctl.wait_for("the refusal", LIMIT, |s| {
        s["apps"]["a"]["last_attempted_commit"].as_str() == Some(&c2)
            && s["apps"]["a"]["condition"] == "Stalled"
            && applied(s, "loose").as_deref() == Some(&c2)
    });
    assert_eq!(applied(&s, "a").as_deref(), Some(c1.as_str()), "{s:#}");
    let message = s["apps"]["a"]["message"].as_str().unwrap();
    assert!(
        message.contains("activeDeadlineSeconds") && message.contains("nothing is pruned"),
        "{message}"
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        cms.get("flags").await.unwrap().data.unwrap()["V"],
        "1",
        "nothing applied"
    );
    assert_eq!(cms.get("loose").await.unwrap().data.unwrap()["V"], "2");
    common::wait_for_event(
        cluster.client(),
        &ns_sys,
        "kiln-a",
        "Refused",
        "activeDeadlineSeconds",
    )
    .await;
    let (_, metrics) = common::http(&ctl.addr, "GET", "/metrics", &[], b"");
    assert!(
        metrics.contains("kiln_controller_errors_total{app=\"a\",kind=\"compile\"} 1"),
        "{metrics}"
    );

    // 2. The fix converges.
    repo.write(
        "apps/a/main.kiln",
        &(config_map("flags", &ns, &[("V", "3")]) + &notebook(&ns, "7200")),
    );
    let c3 = repo.commit("fixed");
    let s = ctl.wait_for("the fix", LIMIT, |s| applied(s, "a").as_deref() == Some(&c3));
    assert_eq!(s["apps"]["a"]["condition"], "Ready", "{s:#}");
    assert_eq!(cms.get("flags").await.unwrap().data.unwrap()["V"], "3");
    let live = notebooks.get("lab").await.unwrap();
    assert_eq!(
        live.data["spec"]["template"]["spec"]["activeDeadlineSeconds"],
        7200
    );
}
