//! `--verify-commits ssh --allowed-signers FILE`: keys made by the test with ssh-keygen, commits
//! signed by git itself (`gpg.format=ssh`). An unsigned head is refused with nothing applied; a
//! head signed by a trusted key converges and names its signer; a head signed by an untrusted
//! key, altered after signing, or unsigned, is refused while the last good commit stays (status, Event, metric); and a
//! trusted head after them converges.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{Controller, Settings, TestRepo, config_map};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::Api;
use serde_json::Value;

const LIMIT: Duration = Duration::from_secs(60);

fn keygen(dir: &Path, name: &str) -> PathBuf {
    let key = dir.join(name);
    let ok = std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", name, "-f"])
        .arg(&key)
        .status()
        .expect("ssh-keygen runs")
        .success();
    assert!(ok, "ssh-keygen failed");
    key
}

fn applied(s: &Value) -> Option<String> {
    s["apps"]["a"]["last_applied_commit"].as_str().map(str::to_string)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_heads_signed_by_an_allowed_key_are_applied() {
    let Some(cluster) = kiln_testsupport::cluster().await else {
        return;
    };
    let ns = cluster.namespace("ctl-sign").await.unwrap();
    let ns_sys = cluster.namespace("ctl-sign-sys").await.unwrap();
    let mut repo = TestRepo::new("signatures");
    let trusted = keygen(&repo.base, "trusted");
    let stranger = keygen(&repo.base, "stranger");
    let public = std::fs::read_to_string(trusted.with_extension("pub")).unwrap();
    let allowed = repo.base.join("allowed_signers");
    std::fs::write(
        &allowed,
        format!("release@example.com namespaces=\"git\" {public}"),
    )
    .unwrap();
    let project = format!("[[app]]\nname = \"a\"\npaths = [\"apps/a\"]\nnamespace = \"{ns_sys}\"\n");

    // 1. An unsigned head: refused before anything of it is compiled; nothing applied.
    repo.write("kiln.toml", &project)
        .write("apps/a/main.kiln", &config_map("flags", &ns, &[("V", "1")]));
    let c1 = repo.commit("unsigned");
    let allowed_arg = allowed.to_str().unwrap().to_string();
    let ctl = Controller::start(&Settings {
        repo: &repo,
        kubeconfig: cluster.kubeconfig(),
        lease_namespace: &ns_sys,
        identity: "sign",
        interval: "300ms",
        resync: "1h",
        secret: None,
        url: None,
        extra: &["--verify-commits", "ssh", "--allowed-signers", &allowed_arg],
        env: &[],
    });
    let s = ctl.wait_for("the unsigned head refused", LIMIT, |s| {
        s["head"].as_str() == Some(&c1) && s["head_error"].is_string()
    });
    let why = s["head_error"].as_str().unwrap();
    assert!(why.contains(&c1) && why.contains("not signed"), "{why}");
    assert_eq!(s["ready"], false, "{s:#}");
    let cms: Api<ConfigMap> = Api::namespaced(cluster.client().clone(), &ns);
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(cms.get_opt("flags").await.unwrap().is_none(), "nothing applied");

    // 2. Signed by the trusted key: applied, and the signer is named.
    repo.write("apps/a/main.kiln", &config_map("flags", &ns, &[("V", "2")]));
    let c2 = repo.commit_signed("signed", &trusted);
    let s = ctl.wait_for("the signed head", LIMIT, |s| applied(s).as_deref() == Some(&c2));
    assert_eq!(s["head_error"], Value::Null, "{s:#}");
    let signer = s["head_signer"].as_str().unwrap();
    assert!(
        signer.contains("release@example.com") && signer.contains("SHA256:"),
        "{signer}"
    );
    assert_eq!(cms.get("flags").await.unwrap().data.unwrap()["V"], "2");

    // 3. Signed by a key that is not allowed: refused, the last good commit stays; status, an
    //    Event on the app's parent and the metric say why.
    repo.write("apps/a/main.kiln", &config_map("flags", &ns, &[("V", "3")]));
    let c3 = repo.commit_signed("signed by a stranger", &stranger);
    let s = ctl.wait_for("the untrusted head refused", LIMIT, |s| {
        s["apps"]["a"]["last_attempted_commit"].as_str() == Some(&c3)
    });
    assert_eq!(s["apps"]["a"]["condition"], "Stalled", "{s:#}");
    assert_eq!(applied(&s).as_deref(), Some(c2.as_str()), "{s:#}");
    let why = s["head_error"].as_str().unwrap();
    assert!(why.contains("not in the allowed signers"), "{why}");
    common::wait_for_event(
        cluster.client(),
        &ns_sys,
        "kiln-a",
        "Refused",
        "not in the allowed signers",
    )
    .await;
    let (_, metrics) = common::http(&ctl.addr, "GET", "/metrics", &[], b"");
    assert!(
        metrics.contains("kiln_controller_errors_total{app=\"\",kind=\"signature\"}"),
        "{metrics}"
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(cms.get("flags").await.unwrap().data.unwrap()["V"], "2");

    // 4. A trusted commit altered after signing (its message changed, the signature kept):
    //    refused, the signature does not verify.
    let raw = repo.git(&["cat-file", "commit", &c2]);
    assert!(raw.contains("-----BEGIN SSH SIGNATURE-----"), "{raw}");
    let forged_file = repo.base.join("forged");
    std::fs::write(
        &forged_file,
        raw.replace("\nsigned\n", "\nsigned, then altered\n"),
    )
    .unwrap();
    let forged = repo
        .git(&["hash-object", "-t", "commit", "-w", forged_file.to_str().unwrap()])
        .trim()
        .to_string();
    assert_ne!(forged, c2);
    repo.git(&["update-ref", "refs/heads/main", &forged]);
    repo.git(&["push", "-q", "-f", "origin", "main"]);
    let s = ctl.wait_for("the altered head refused", LIMIT, |s| {
        s["apps"]["a"]["last_attempted_commit"].as_str() == Some(&forged)
    });
    let why = s["head_error"].as_str().unwrap();
    assert!(
        why.contains("does not verify") && why.contains("release@example.com"),
        "{why}"
    );
    assert_eq!(applied(&s).as_deref(), Some(c2.as_str()), "{s:#}");

    // 5. Unsigned again after a good one: refused too.
    repo.write("apps/a/main.kiln", &config_map("flags", &ns, &[("V", "4")]));
    let c4 = repo.commit("unsigned again");
    let s = ctl.wait_for("the unsigned head refused", LIMIT, |s| {
        s["apps"]["a"]["last_attempted_commit"].as_str() == Some(&c4)
    });
    assert!(s["head_error"].as_str().unwrap().contains("not signed"), "{s:#}");
    assert_eq!(cms.get("flags").await.unwrap().data.unwrap()["V"], "2");

    // 6. Trusted again: converges.
    repo.write("apps/a/main.kiln", &config_map("flags", &ns, &[("V", "5")]));
    let c5 = repo.commit_signed("signed again", &trusted);
    let s = ctl.wait_for("the trusted head", LIMIT, |s| applied(s).as_deref() == Some(&c5));
    assert_eq!(s["apps"]["a"]["condition"], "Ready", "{s:#}");
    assert_eq!(cms.get("flags").await.unwrap().data.unwrap()["V"], "5");
}
