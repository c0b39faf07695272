//! The controller as a process against the real control plane, a local bare repository as its
//! remote (`kiln_testsupport::git`: commits made by the test with the git CLI), and a tiny
//! HTTP/1.1 client for its endpoints.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

pub use kiln_testsupport::git::{TestRepo, config_map};

/// A PersistentVolumeClaim declaration (append to a file that imports kubeflow as kf).
pub fn pvc(name: &str, ns: &str) -> String {
    format!(
        "\nkf.Object \"{name}\" = kf.Object {{\n  api_version = \"v1\"\n  kind = \"PersistentVolumeClaim\"\n  namespace = \"{ns}\"\n  spec = {{ accessModes = [\"ReadWriteOnce\"], resources = {{ requests = {{ storage = \"1Gi\" }} }} }}\n}}\n"
    )
}

/// A running `kiln-controller` process.
pub struct Controller {
    pub child: Child,
    pub addr: String,
    pub log: PathBuf,
}

pub struct Settings<'a> {
    pub repo: &'a TestRepo,
    pub kubeconfig: &'a Path,
    pub lease_namespace: &'a str,
    pub identity: &'a str,
    pub interval: &'a str,
    pub resync: &'a str,
    pub secret: Option<&'a str>,
    /// The URL to follow instead of the bare remote's path (a network transport).
    pub url: Option<&'a str>,
    /// More command-line arguments (`--lease-name`, `--crds`, ...).
    pub extra: &'a [&'a str],
    /// Environment of the process (`KILN_GIT_SSH_KEY`, ...).
    pub env: &'a [(&'a str, &'a str)],
}

impl Controller {
    pub fn start(s: &Settings<'_>) -> Controller {
        let log = s.repo.base.join(format!("{}.log", s.identity));
        let cache = s.repo.base.join(format!("cache-{}", s.identity));
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_kiln-controller"));
        let url = s.url.unwrap_or_else(|| s.repo.remote.to_str().unwrap());
        cmd.args(["--repo", url, "--branch", "main"])
            .args([
                "--interval",
                s.interval,
                "--resync",
                s.resync,
                "--listen",
                "127.0.0.1:0",
            ])
            .arg("--kubeconfig")
            .arg(s.kubeconfig)
            .arg("--cache-dir")
            .arg(&cache)
            .args([
                "--lease-namespace",
                s.lease_namespace,
                "--lease-duration",
                "6s",
                "--identity",
                s.identity,
            ]);
        cmd.args(s.extra).envs(s.env.iter().copied());
        if let Some(secret) = s.secret {
            let file = s.repo.base.join(format!("secret-{}", s.identity));
            std::fs::write(&file, format!("{secret}\n")).unwrap();
            cmd.arg("--webhook-secret-file").arg(file);
        }
        let mut child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start kiln-controller");
        // The first line names the address; the rest is copied to a log file.
        let mut stderr = BufReader::new(child.stderr.take().unwrap());
        let mut first = String::new();
        stderr.read_line(&mut first).unwrap();
        let addr = first
            .split(" listening on ")
            .nth(1)
            .and_then(|r| r.split(',').next())
            .unwrap_or_else(|| panic!("no address in {first:?}"))
            .to_string();
        let log_path = log.clone();
        std::thread::spawn(move || {
            let mut rest = String::new();
            let _ = stderr.read_to_string(&mut rest);
            let _ = std::fs::write(log_path, rest);
        });
        Controller { child, addr, log }
    }

    pub fn status(&self) -> Value {
        let (code, body) = http(&self.addr, "GET", "/status", &[], b"");
        assert_eq!(code, 200, "{body}");
        serde_json::from_str(&body).unwrap()
    }

    /// Polls /status until `pred` holds, or fails after `limit` with the last status.
    pub fn wait_for(&self, what: &str, limit: Duration, pred: impl Fn(&Value) -> bool) -> Value {
        let start = Instant::now();
        loop {
            let s = self.status();
            if pred(&s) {
                return s;
            }
            assert!(
                start.elapsed() < limit,
                "timed out waiting for {what}; status: {s:#}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        self.child.wait().unwrap()
    }
}

impl Drop for Controller {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One HTTP/1.1 request; returns the status code and body.
pub fn http(addr: &str, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).expect("connect to the controller");
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    stream.write_all(req.as_bytes()).unwrap();
    stream.write_all(body).unwrap();
    let mut out = Vec::new();
    let _ = stream.read_to_end(&mut out);
    let text = String::from_utf8_lossy(&out).to_string();
    let code = text.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (code, body)
}

/// GitHub's `X-Hub-Signature-256` of `body`.
pub fn github_signature(secret: &str, body: &[u8]) -> String {
    use hmac::{Hmac, Mac};
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    let bytes = mac.finalize().into_bytes();
    format!(
        "sha256={}",
        bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()
    )
}

/// Waits (up to a minute) for an Event with `reason` about the object `name` in `ns` whose
/// note contains `note`, and returns the note. Events are written after /status shows the run
/// they tell of, so tests poll for them.
pub async fn wait_for_event(client: &kube::Client, ns: &str, name: &str, reason: &str, note: &str) -> String {
    let events: kube::Api<k8s_openapi::api::events::v1::Event> = kube::Api::namespaced(client.clone(), ns);
    let start = Instant::now();
    loop {
        let seen: Vec<(String, String)> = events
            .list(&Default::default())
            .await
            .unwrap()
            .items
            .into_iter()
            .filter(|e| e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some(name))
            .map(|e| (e.reason.unwrap_or_default(), e.note.unwrap_or_default()))
            .collect();
        if let Some((_, n)) = seen.iter().find(|(r, n)| r == reason && n.contains(note)) {
            return n.clone();
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "no {reason} Event on {ns}/{name} with {note:?}; Events on it: {seen:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
