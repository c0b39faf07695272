//! Webhooks (bad signature: 401 and no fetch; good: reconciled without waiting for the
//! interval), drift corrected at resync, and two controller processes sharing a Lease.

mod common;

use std::time::Duration;

use common::{Controller, Settings, TestRepo, config_map, github_signature, http};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::Api;
use kube::api::{Patch, PatchParams};
use serde_json::{Value, json};

const LIMIT: Duration = Duration::from_secs(60);

fn applied(s: &Value, app: &str) -> Option<String> {
    s["apps"][app]["last_applied_commit"].as_str().map(str::to_string)
}

fn project(ns_sys: &str) -> String {
    format!("[[app]]\nname = \"a\"\npaths = [\"apps/a\"]\nnamespace = \"{ns_sys}\"\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_are_authenticated_and_drift_is_corrected_at_resync() {
    let Some(cluster) = kiln_testsupport::cluster().await else {
        return;
    };
    let ns = cluster.namespace("ctl-hook").await.unwrap();
    let ns_sys = cluster.namespace("ctl-hook-sys").await.unwrap();
    let mut repo = TestRepo::new("webhook");
    repo.write("kiln.toml", &project(&ns_sys))
        .write("apps/a/main.kiln", &config_map("flags", &ns, &[("V", "1")]));
    let c1 = repo.commit("first");
    // The interval is an hour: only a webhook makes it fetch again.
    let ctl = Controller::start(&Settings {
        repo: &repo,
        kubeconfig: cluster.kubeconfig(),
        lease_namespace: &ns_sys,
        identity: "hook",
        interval: "1h",
        resync: "2s",
        secret: Some("s3cret"),
        url: None,
        extra: &[],
        env: &[],
    });
    ctl.wait_for("the first commit", LIMIT, |s| {
        applied(s, "a").as_deref() == Some(&c1)
    });
    let cms: Api<ConfigMap> = Api::namespaced(cluster.client().clone(), &ns);

    // 1. Another field manager edits a kiln-owned field: put back at the next resync.
    let patch = json!({"data": {"V": "edited"}});
    let pp = PatchParams {
        field_manager: Some("intruder".into()),
        ..Default::default()
    };
    cms.patch("flags", &pp, &Patch::Merge(&patch)).await.unwrap();
    let start = std::time::Instant::now();
    loop {
        if cms.get("flags").await.unwrap().data.unwrap()["V"] == "1" {
            break;
        }
        assert!(start.elapsed() < LIMIT, "drift not corrected: {:#}", ctl.status());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    common::wait_for_event(cluster.client(), &ns, "flags", "DriftCorrected", "").await;
    let s = ctl.status();
    assert!(s["apps"]["a"]["objects_written"].as_u64().unwrap() >= 2, "{s:#}");

    // 2. Resyncs without drift (every 2 s) write nothing: no object, annotation or Event (the
    //    counts of /status), and neither the object nor the ApplySet parent changes. Counted
    //    from the correction's own status annotation on, so the first resync after a writing
    //    run is included (its counts differ from the correction's, and must not be written).
    let reconciles = |s: &Value| s["apps"]["a"]["reconciles"].as_u64().unwrap();
    let parents: Api<ConfigMap> = Api::namespaced(cluster.client().clone(), &ns_sys);
    let start = std::time::Instant::now();
    loop {
        let parent = parents.get("kiln-a").await.unwrap();
        let objects = parent
            .metadata
            .annotations
            .unwrap_or_default()
            .get("status.kiln.dev/objects")
            .cloned()
            .unwrap_or_default();
        if objects.starts_with("applied=1 ") {
            break;
        }
        assert!(
            start.elapsed() < LIMIT,
            "no annotation of the correction: {objects}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let base = ctl.status();
    let rv = |cm: ConfigMap| cm.metadata.resource_version.unwrap();
    let (object_rv, parent_rv) = (
        rv(cms.get("flags").await.unwrap()),
        rv(parents.get("kiln-a").await.unwrap()),
    );
    let later = ctl.wait_for("two more resyncs", LIMIT, |s| {
        reconciles(s) >= reconciles(&base) + 2
    });
    assert_eq!(later["writes"], base["writes"], "{later:#}");
    assert_eq!(
        later["apps"]["a"]["objects_written"],
        base["apps"]["a"]["objects_written"]
    );
    assert_eq!(rv(cms.get("flags").await.unwrap()), object_rv);
    assert_eq!(rv(parents.get("kiln-a").await.unwrap()), parent_rv);

    // 3. A push with a bad signature: 401, nothing fetched.
    repo.write("apps/a/main.kiln", &config_map("flags", &ns, &[("V", "2")]));
    let c2 = repo.commit("second");
    let body = br#"{"ref":"refs/heads/main"}"#;
    let fetches = ctl.status()["fetches"].as_u64().unwrap();
    let bad = github_signature("wrong", body);
    let (code, _) = http(
        &ctl.addr,
        "POST",
        "/webhook",
        &[("X-GitHub-Event", "push"), ("X-Hub-Signature-256", &bad)],
        body,
    );
    assert_eq!(code, 401);
    let (code, _) = http(
        &ctl.addr,
        "POST",
        "/webhook",
        &[("X-Gitlab-Event", "Push Hook"), ("X-Gitlab-Token", "nope")],
        body,
    );
    assert_eq!(code, 401);
    let (code, _) = http(&ctl.addr, "POST", "/webhook", &[("X-GitHub-Event", "push")], body);
    assert_eq!(code, 401, "no signature");
    // An authentic event that is not a push: 202, ignored.
    let (code, _) = http(
        &ctl.addr,
        "POST",
        "/webhook",
        &[
            ("X-GitHub-Event", "issues"),
            ("X-Hub-Signature-256", &github_signature("s3cret", body)),
        ],
        body,
    );
    assert_eq!(code, 202);
    // Too large a body: refused before anything else.
    let big = vec![b' '; 2 * 1024 * 1024];
    let (code, _) = http(
        &ctl.addr,
        "POST",
        "/webhook",
        &[
            ("X-GitHub-Event", "push"),
            ("X-Hub-Signature-256", &github_signature("s3cret", &big)),
        ],
        &big,
    );
    assert_eq!(code, 413);
    tokio::time::sleep(Duration::from_secs(1)).await;
    let s = ctl.status();
    assert_eq!(s["fetches"].as_u64().unwrap(), fetches, "nothing fetched: {s:#}");
    assert_eq!(applied(&s, "a").as_deref(), Some(c1.as_str()));

    // 4. A good signature: reconciled without waiting for the interval.
    let good = github_signature("s3cret", body);
    let (code, _) = http(
        &ctl.addr,
        "POST",
        "/webhook",
        &[("X-GitHub-Event", "push"), ("X-Hub-Signature-256", &good)],
        body,
    );
    assert_eq!(code, 202);
    ctl.wait_for("the webhook's commit", Duration::from_secs(20), |s| {
        applied(s, "a").as_deref() == Some(&c2)
    });
    assert_eq!(cms.get("flags").await.unwrap().data.unwrap()["V"], "2");
    // GitLab's format works too.
    repo.write("apps/a/main.kiln", &config_map("flags", &ns, &[("V", "3")]));
    let c3 = repo.commit("third");
    let (code, _) = http(
        &ctl.addr,
        "POST",
        "/webhook",
        &[("X-Gitlab-Event", "Push Hook"), ("X-Gitlab-Token", "s3cret")],
        body,
    );
    assert_eq!(code, 202);
    ctl.wait_for("the GitLab webhook's commit", Duration::from_secs(20), |s| {
        applied(s, "a").as_deref() == Some(&c3)
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_leader_writes_and_a_follower_takes_over() {
    let Some(cluster) = kiln_testsupport::cluster().await else {
        return;
    };
    let ns = cluster.namespace("ctl-lease").await.unwrap();
    let ns_sys = cluster.namespace("ctl-lease-sys").await.unwrap();
    let mut repo = TestRepo::new("lease");
    repo.write("kiln.toml", &project(&ns_sys))
        .write("apps/a/main.kiln", &config_map("flags", &ns, &[("V", "1")]));
    let c1 = repo.commit("first");
    let settings = |identity| Settings {
        repo: &repo,
        kubeconfig: cluster.kubeconfig(),
        lease_namespace: &ns_sys,
        identity,
        interval: "300ms",
        resync: "1h",
        secret: None,
        url: None,
        extra: &[],
        env: &[],
    };
    let mut one = Controller::start(&settings("one"));
    one.wait_for("one to lead and apply", LIMIT, |s| {
        s["leader"] == true && applied(s, "a").as_deref() == Some(&c1)
    });
    let two = Controller::start(&settings("two"));
    two.wait_for("two to compile", LIMIT, |s| s["ready"] == true);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let s2 = two.status();
    assert_eq!(s2["leader"], false, "{s2:#}");
    assert_eq!(
        s2["apps"]["a"]["reconciles"], 0,
        "the follower writes nothing: {s2:#}"
    );

    // A push while one leads: one applies it, two still writes nothing.
    repo.write("apps/a/main.kiln", &config_map("flags", &ns, &[("V", "2")]));
    let c2 = repo.commit("second");
    one.wait_for("one to apply the push", LIMIT, |s| {
        applied(s, "a").as_deref() == Some(&c2)
    });
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(two.status()["apps"]["a"]["reconciles"], 0);

    // Kill the leader (no release): two takes over within the lease duration and converges.
    one.child.kill().unwrap();
    one.child.wait().unwrap();
    let killed = std::time::Instant::now();
    repo.write("apps/a/main.kiln", &config_map("flags", &ns, &[("V", "3")]));
    let c3 = repo.commit("third");
    two.wait_for("two to take over", Duration::from_secs(30), |s| {
        s["leader"] == true && applied(s, "a").as_deref() == Some(&c3)
    });
    assert!(
        killed.elapsed() < Duration::from_secs(6 + 2 + 10),
        "took {:?}",
        killed.elapsed()
    );
    let cms: Api<ConfigMap> = Api::namespaced(cluster.client().clone(), &ns);
    assert_eq!(cms.get("flags").await.unwrap().data.unwrap()["V"], "3");

    // SIGTERM: a clean exit that releases the lease.
    let mut two = two;
    let status = two.terminate();
    assert!(status.success(), "{status:?}");
    let leases: Api<k8s_openapi::api::coordination::v1::Lease> =
        Api::namespaced(cluster.client().clone(), &ns_sys);
    let lease = leases.get("kiln-controller").await.unwrap();
    assert_eq!(lease.spec.unwrap().holder_identity, None, "released on SIGTERM");
}
