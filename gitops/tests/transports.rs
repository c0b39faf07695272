//! The network transports against real servers on loopback: smart HTTP served by
//! `git http-backend` behind a server that demands a token (HTTP Basic), and SSH served by a
//! real `sshd` with keys made by the test. Fetches are incremental, and no error, message or
//! request line ever holds the token.

mod common;

use common::{TestRepo, config_map};
use kiln_gitops::git::Secret;
use kiln_gitops::review::{Request, plan_commits};
use kiln_gitops::{Credentials, GitSource};
use kiln_testsupport::git::{HttpGitServer, SshGitServer};

const TOKEN: &str = "tok-9f3c51e0-never-shown";
const PROJECT: &str = "[[app]]\nname = \"a\"\npaths = [\"apps/a\"]\n";

fn token(value: &str) -> Credentials {
    Credentials {
        token: Some(Secret::new(value)),
        username: Some("bot".to_string()),
        ..Credentials::default()
    }
}

fn request<'a>(base: &'a str, head: &'a str) -> Request<'a> {
    Request {
        base,
        head,
        app: None,
        paths: &[],
        schemas: None,
        cache: None,
    }
}

#[test]
fn http_with_a_token_fetches_incrementally_and_never_shows_the_token() {
    let mut repo = TestRepo::new("http");
    repo.write("kiln.toml", PROJECT)
        .write("apps/a/main.kiln", &config_map("flags", "team-a", &[("V", "1")]));
    let first = repo.commit("one");
    let server = HttpGitServer::start(&repo.base, "bot", TOKEN);
    let url = format!("{}/remote.git", server.url);
    let cache = repo.cache.join("git");

    // 1. The right token: the mirror has the branch, and plans work from it.
    let source = GitSource::fetch(&url, &cache, &token(TOKEN)).expect("fetch over http");
    assert_eq!(source.resolve("main").unwrap().commit.to_string(), first);
    assert!(
        server.requests().iter().any(|r| r.ends_with("-> 200")),
        "{:?}",
        server.requests()
    );

    // 2. A new commit: the next fetch brings it into the same mirror.
    repo.write("apps/a/main.kiln", &config_map("flags", "team-a", &[("V", "2")]));
    let second = repo.commit("two");
    let source = GitSource::fetch(&url, &cache, &token(TOKEN)).expect("second fetch");
    assert_eq!(source.resolve("main").unwrap().commit.to_string(), second);
    let plan = plan_commits(&source, &request("main~1", "main")).expect("a plan");
    assert_eq!(plan.totals().changed, 1);
    // Incremental: the second fetch negotiated from the first one's objects (one mirror).
    assert_eq!(std::fs::read_dir(&cache).unwrap().count(), 1);

    // 3. A wrong token and no token: refused, and the error names neither secret.
    let wrong = GitSource::fetch(&url, &repo.cache.join("other"), &token("tok-wrong-secret"))
        .err()
        .expect("a wrong token is refused");
    assert!(!wrong.0.contains("tok-wrong-secret"), "{wrong}");
    assert!(wrong.0.contains(&url), "the error names the remote: {wrong}");
    let none = GitSource::fetch(&url, &repo.cache.join("none"), &Credentials::default())
        .err()
        .expect("no token is refused");
    assert!(none.0.contains("KILN_GIT_TOKEN_FILE"), "{none}");

    // 4. A token written into the URL is never echoed back either.
    let with_userinfo = url.replace("http://", &format!("http://bot:{TOKEN}x@"));
    if let Err(e) = GitSource::fetch(
        &with_userinfo,
        &repo.cache.join("userinfo"),
        &Credentials::default(),
    ) {
        assert!(!e.0.contains(TOKEN), "{e}");
    }

    // The token only ever travelled in the Authorization header, never in a request line.
    let seen = server.requests();
    assert!(seen.iter().any(|r| r.ends_with("-> 401")), "{seen:?}");
    assert!(seen.iter().all(|r| !r.contains(TOKEN)), "{seen:?}");
}

#[test]
fn ssh_with_a_key_checks_the_host_key_and_fetches() {
    let mut repo = TestRepo::new("ssh");
    repo.write("kiln.toml", PROJECT)
        .write("apps/a/main.kiln", &config_map("flags", "team-a", &[("V", "1")]));
    let first = repo.commit("one");
    let Some(server) = SshGitServer::start(&repo.base.join("sshd")) else {
        return;
    };
    let url = server.url(&repo.remote);
    let creds = Credentials {
        ssh_key: Some(server.client_key.clone()),
        ssh_known_hosts: Some(server.known_hosts.clone()),
        ..Credentials::default()
    };
    let source = GitSource::fetch(&url, &repo.cache.join("git"), &creds).expect("fetch over ssh");
    assert_eq!(source.resolve("main").unwrap().commit.to_string(), first);

    repo.write("apps/a/main.kiln", &config_map("flags", "team-a", &[("V", "2")]));
    let second = repo.commit("two");
    let source = GitSource::fetch(&url, &repo.cache.join("git"), &creds).expect("second fetch");
    assert_eq!(source.resolve("main").unwrap().commit.to_string(), second);
    let plan = plan_commits(&source, &request("main~1", "main")).expect("a plan");
    assert_eq!(plan.totals().changed, 1);

    // A host key that is not the server's: refused before any credential is offered.
    let other = repo.base.join("other_known_hosts");
    std::fs::write(
        &other,
        std::fs::read_to_string(&server.known_hosts)
            .unwrap()
            .replace("AAAA", "BBBB"),
    )
    .unwrap();
    let refused = GitSource::fetch(
        &url,
        &repo.cache.join("mitm"),
        &Credentials {
            ssh_known_hosts: Some(other),
            ..creds.clone()
        },
    )
    .err()
    .expect("an unknown host key is refused");
    assert!(
        refused.0.contains("host key") || refused.0.contains("hostkey"),
        "{refused}"
    );

    // A key the server does not know: refused, naming the remote.
    let stranger = repo.base.join("stranger");
    let made = std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&stranger)
        .status()
        .unwrap();
    assert!(made.success());
    let refused = GitSource::fetch(
        &url,
        &repo.cache.join("stranger"),
        &Credentials {
            ssh_key: Some(stranger),
            ..creds
        },
    )
    .err()
    .expect("an unknown client key is refused");
    assert!(refused.0.contains("cannot fetch"), "{refused}");
}
