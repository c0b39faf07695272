//! The controller follows a branch over a real network transport (`kiln_testsupport::git`'s
//! servers, the ones the gitops transport tests use): smart HTTP from `git http-backend` behind
//! a loopback server that demands a token, and SSH from a real `sshd` on loopback with keys made
//! by the test. Each push converges; the token is never shown.

mod common;

use std::time::Duration;

use common::{Controller, Settings, TestRepo, config_map};
use k8s_openapi::api::core::v1::ConfigMap;
use kiln_testsupport::git::{HttpGitServer, SshGitServer};
use kube::Api;
use serde_json::Value;

const LIMIT: Duration = Duration::from_secs(60);
const TOKEN: &str = "tok-5d1e77a2-never-shown";

fn applied(s: &Value) -> Option<String> {
    s["apps"]["a"]["last_applied_commit"].as_str().map(str::to_string)
}

fn project(ns_sys: &str) -> String {
    format!("[[app]]\nname = \"a\"\npaths = [\"apps/a\"]\nnamespace = \"{ns_sys}\"\n")
}

/// Pushes two commits and checks the controller applies each from `url`.
async fn follow(
    cluster: &kiln_testsupport::TestCluster,
    name: &str,
    mut settings: impl FnMut(&TestRepo) -> Controller,
) {
    let ns = cluster.namespace(name).await.unwrap();
    let ns_sys = cluster.namespace(&format!("{name}-sys")).await.unwrap();
    let mut repo = TestRepo::new(name);
    repo.write("kiln.toml", &project(&ns_sys))
        .write("apps/a/main.kiln", &config_map("flags", &ns, &[("V", "1")]));
    let c1 = repo.commit("first");
    let ctl = settings(&repo);
    let s = ctl.wait_for("the first commit", LIMIT, |s| applied(s).as_deref() == Some(&c1));
    assert_eq!(s["apps"]["a"]["condition"], "Ready", "{s:#}");
    let cms: Api<ConfigMap> = Api::namespaced(cluster.client().clone(), &ns);
    assert_eq!(cms.get("flags").await.unwrap().data.unwrap()["V"], "1");

    repo.write("apps/a/main.kiln", &config_map("flags", &ns, &[("V", "2")]));
    let c2 = repo.commit("second");
    let s = ctl.wait_for("the second commit", LIMIT, |s| applied(s).as_deref() == Some(&c2));
    assert_eq!(s["last_fetch_error"], Value::Null, "{s:#}");
    assert_eq!(cms.get("flags").await.unwrap().data.unwrap()["V"], "2");
    let shown = serde_json::to_string(&s).unwrap();
    assert!(!shown.contains(TOKEN), "{shown}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn follows_a_branch_over_http_with_a_token() {
    let Some(cluster) = kiln_testsupport::cluster().await else {
        return;
    };
    let mut server = None;
    follow(&cluster, "ctl-http", |repo| {
        let s = server.insert(HttpGitServer::start(&repo.base, "bot", TOKEN));
        let url = format!("{}/remote.git", s.url);
        let token_file = repo.base.join("git-token");
        std::fs::write(&token_file, format!("{TOKEN}\n")).unwrap();
        Controller::start(&Settings {
            repo,
            kubeconfig: cluster.kubeconfig(),
            lease_namespace: "default",
            identity: "http",
            interval: "300ms",
            resync: "1h",
            secret: None,
            url: Some(&url),
            extra: &[
                "--git-token-file",
                token_file.to_str().unwrap(),
                "--lease-name",
                &kiln_testsupport::unique_name("http"),
            ],
            env: &[("KILN_GIT_USERNAME", "bot")],
        })
    })
    .await;
    let seen = server.unwrap().requests();
    assert!(
        seen.iter()
            .any(|r| r.contains("git-upload-pack") && r.ends_with("-> 200")),
        "{seen:?}"
    );
    assert!(seen.iter().all(|r| !r.contains(TOKEN)), "{seen:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn follows_a_branch_over_ssh_with_a_key() {
    let Some(cluster) = kiln_testsupport::cluster().await else {
        return;
    };
    let dir = std::env::temp_dir().join(format!("kiln-ctl-sshd-{}", std::process::id()));
    let Some(server) = SshGitServer::start(&dir) else {
        return;
    };
    let key = server.client_key.to_str().unwrap().to_string();
    let known_hosts = server.known_hosts.to_str().unwrap().to_string();
    follow(&cluster, "ctl-ssh", |repo| {
        let url = server.url(&repo.remote);
        Controller::start(&Settings {
            repo,
            kubeconfig: cluster.kubeconfig(),
            lease_namespace: "default",
            identity: "ssh",
            interval: "300ms",
            resync: "1h",
            secret: None,
            url: Some(&url),
            extra: &["--lease-name", &kiln_testsupport::unique_name("ssh")],
            env: &[
                ("KILN_GIT_SSH_KEY", &key),
                ("KILN_GIT_SSH_KNOWN_HOSTS", &known_hosts),
            ],
        })
    })
    .await;
    drop(server);
    let _ = std::fs::remove_dir_all(dir);
}
