//! Where tests get their cluster from, and per-test namespaces.
//!
//! Order of preference:
//! 1. `KILN_TEST_KUBECONFIG`: a kubeconfig file for a cluster someone else runs.
//! 2. The project's local control plane: `scripts/control-plane.sh up` with its state in
//!    `<target dir>/kiln-control-plane`. The script takes a file lock and reuses an instance
//!    that is already up and healthy, so all test binaries of one `cargo test` run (and later
//!    runs) share one kube-apiserver + etcd. It keeps running after the tests; stop it with
//!    `CP_STATE_DIR=target/kiln-control-plane scripts/control-plane.sh down`.
//!
//! When the control plane cannot be started because a prerequisite is missing (no Go
//! toolchain, no openssl, ...), tests fail with the missing piece named. Only outside CI
//! (`CI` unset or false) and without `KILN_TEST_REQUIRE_CLUSTER=1` do they skip instead,
//! printing a loud banner. Any other failure to start fails the test.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};

/// Environment variable naming an external cluster's kubeconfig.
pub const KUBECONFIG_ENV: &str = "KILN_TEST_KUBECONFIG";

/// Exit code of `scripts/control-plane.sh` when a prerequisite (go, openssl, curl) is missing.
const EXIT_MISSING_PREREQUISITE: i32 = 3;

/// Why no cluster could be had.
#[derive(Debug, Clone)]
pub(crate) enum Unavailable {
    /// A prerequisite is missing on this machine; may be skipped outside CI.
    Missing(String),
    /// Anything else; always a test failure.
    Failed(String),
}

impl Unavailable {
    /// The description.
    pub(crate) fn why(&self) -> &str {
        match self {
            Unavailable::Missing(why) | Unavailable::Failed(why) => why,
        }
    }
}

static KUBECONFIG: OnceLock<Result<PathBuf, Unavailable>> = OnceLock::new();

/// A cluster handle for one test: a client bound to the calling test's runtime.
#[derive(Clone)]
pub struct TestCluster {
    client: Client,
    kubeconfig: PathBuf,
}

impl TestCluster {
    pub(crate) fn new(client: Client, kubeconfig: PathBuf) -> TestCluster {
        TestCluster { client, kubeconfig }
    }

    /// The client (built for the current tokio runtime; do not share across tests).
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The kubeconfig file in use (for tools run as subprocesses).
    pub fn kubeconfig(&self) -> &Path {
        &self.kubeconfig
    }

    /// Creates a fresh namespace `kiln-<prefix>-<random>` and returns its name.
    ///
    /// Namespaces are not deleted: leftovers help when debugging (the local control plane runs
    /// kube-controller-manager, so a deleted namespace does finish terminating).
    pub async fn namespace(&self, prefix: &str) -> Result<String, kube::Error> {
        let name = namespace_name(prefix);
        let ns: Namespace = serde_json::from_value(serde_json::json!({
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": name, "labels": {"kiln.dev/test": "true"}},
        }))
        .expect("static namespace object");
        Api::<Namespace>::all(self.client.clone())
            .create(&PostParams::default(), &ns)
            .await?;
        Ok(name)
    }
}

/// Returns a cluster for the calling test, or `None` when the test should be skipped
/// (a banner saying why has then been printed).
///
/// # Panics
/// When no cluster can be had and skipping is not allowed (see the module docs).
pub async fn cluster() -> Option<TestCluster> {
    let kubeconfig = match kubeconfig_path_result() {
        Ok(path) => path.clone(),
        Err(unavailable) => {
            skip_or_panic(
                unavailable,
                &format!(
                    "Set {KUBECONFIG_ENV}=<kubeconfig> to use an existing cluster, or install the missing piece."
                ),
            );
            return None;
        }
    };
    let client = client_for(&kubeconfig)
        .await
        .unwrap_or_else(|e| panic!("cannot build a client from {}: {e}", kubeconfig.display()));
    Some(TestCluster::new(client, kubeconfig))
}

/// The kubeconfig of the shared cluster, starting the local control plane if needed.
///
/// # Errors
/// A description of why no cluster is available.
pub fn kubeconfig_path() -> Result<PathBuf, String> {
    kubeconfig_path_result().clone().map_err(|e| e.why().to_string())
}

/// Prints the loud skip banner when skipping is allowed (see the module docs), else panics.
pub(crate) fn skip_or_panic(unavailable: &Unavailable, advice: &str) {
    match unavailable {
        Unavailable::Missing(why) if skipping_allowed() => eprintln!(
            "\n{bar}\nSKIPPED: this test needs a Kubernetes API server.\n{why}\n{advice}\n\
             With CI=true (or KILN_TEST_REQUIRE_CLUSTER=1) this is a failure.\n{bar}\n",
            bar = "*".repeat(78)
        ),
        other => panic!("no Kubernetes API server for this test: {}", other.why()),
    }
}

fn kubeconfig_path_result() -> &'static Result<PathBuf, Unavailable> {
    KUBECONFIG.get_or_init(|| {
        if let Some(path) = std::env::var_os(KUBECONFIG_ENV).filter(|v| !v.is_empty()) {
            let path = PathBuf::from(path);
            return if path.is_file() {
                Ok(path)
            } else {
                Err(Unavailable::Failed(format!(
                    "{KUBECONFIG_ENV}={} is not a readable file",
                    path.display()
                )))
            };
        }
        start_local_control_plane()
    })
}

pub(crate) async fn client_for(kubeconfig: &Path) -> Result<Client, String> {
    let kc = Kubeconfig::read_from(kubeconfig).map_err(|e| e.to_string())?;
    let config = Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
        .await
        .map_err(|e| e.to_string())?;
    Client::try_from(config).map_err(|e| e.to_string())
}

/// The workspace root (the folder of the root `Cargo.toml`).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("testsupport lives inside the workspace")
        .to_path_buf()
}

/// Where the shared local control plane keeps its state: `<target dir>/kiln-control-plane`.
pub fn state_dir() -> PathBuf {
    target_dir().join("kiln-control-plane")
}

/// The cargo target dir (`CARGO_TARGET_DIR`, else `<workspace>/target`).
pub(crate) fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR").filter(|v| !v.is_empty()) {
        Some(dir) => workspace_root().join(dir), // join keeps absolute paths as they are
        None => workspace_root().join("target"),
    }
}

fn truthy(var: &str) -> bool {
    std::env::var(var)
        .map(|v| !v.is_empty() && v != "0" && !v.eq_ignore_ascii_case("false"))
        .unwrap_or(false)
}

fn skipping_allowed() -> bool {
    !truthy("CI") && !truthy("KILN_TEST_REQUIRE_CLUSTER")
}

fn start_local_control_plane() -> Result<PathBuf, Unavailable> {
    let state = state_dir();
    eprintln!(
        "[kiln-testsupport] starting or reusing the local control plane (state in {})",
        state.display()
    );
    control_plane_script(&state, "up", &[])?;
    let kubeconfig = state.join("kubeconfig");
    if kubeconfig.is_file() {
        Ok(kubeconfig)
    } else {
        Err(Unavailable::Failed(format!(
            "`up` wrote no {}",
            kubeconfig.display()
        )))
    }
}

/// Runs `scripts/control-plane.sh <command>` on the instance in `state` with the extra
/// variables `env` (`CP_KEEP`, ...), forwarding its progress (a first build takes minutes) to
/// stderr.
pub(crate) fn control_plane_script(
    state: &Path,
    command: &str,
    env: &[(&str, &str)],
) -> Result<(), Unavailable> {
    let script = workspace_root().join("scripts").join("control-plane.sh");
    if !script.is_file() {
        return Err(Unavailable::Failed(format!("{} is missing", script.display())));
    }
    let mut child = Command::new("bash")
        .arg(&script)
        .arg(command)
        .env("CP_STATE_DIR", state)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| Unavailable::Missing(format!("cannot run bash: {e}")))?;
    // Forward the progress and keep its tail for the error message.
    let mut tail: Vec<String> = Vec::new();
    if let Some(stderr) = child.stderr.take() {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            eprintln!("{line}");
            tail.push(line);
            if tail.len() > 30 {
                tail.remove(0);
            }
        }
    }
    let status = child
        .wait()
        .map_err(|e| Unavailable::Failed(format!("waiting for {}: {e}", script.display())))?;
    match status.code() {
        Some(0) => Ok(()),
        Some(EXIT_MISSING_PREREQUISITE) => Err(Unavailable::Missing(format!(
            "the local control plane cannot be built or started: {}",
            tail.iter()
                .rev()
                .find(|l| l.contains("ERROR"))
                .cloned()
                .unwrap_or_else(|| tail.join("\n"))
        ))),
        _ => Err(Unavailable::Failed(format!(
            "`{} {command}` failed ({status}); last output:\n{}",
            script.display(),
            tail.join("\n")
        ))),
    }
}

/// `kiln-<prefix>-<8 hex>`, a valid DNS-1123 label of at most 63 characters.
/// A unique DNS label `kiln-<prefix>-<random>` (for namespaces and Profiles of one test).
pub fn unique_name(prefix: &str) -> String {
    namespace_name(prefix)
}

fn namespace_name(prefix: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let clean = kiln_compiler::lower::dns_label(prefix, 40);
    let mut h = RandomState::new().build_hasher();
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    h.write_u32(std::process::id());
    if let Ok(d) = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
        h.write_u128(d.as_nanos());
    }
    let suffix = h.finish() & 0xffff_ffff;
    if clean.is_empty() {
        format!("kiln-{suffix:08x}")
    } else {
        format!("kiln-{clean}-{suffix:08x}")
    }
}

#[cfg(test)]
mod tests {
    use super::namespace_name;

    #[test]
    fn namespace_names_are_dns_labels_and_unique() {
        let a = namespace_name("Conformance_Test/with a very long name that goes on and on");
        let b = namespace_name("Conformance_Test/with a very long name that goes on and on");
        assert_ne!(a, b);
        for n in [&a, &b, &namespace_name(""), &namespace_name("--")] {
            assert!(n.len() <= 63, "{n}");
            assert!(
                n.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'),
                "{n}"
            );
            assert!(!n.ends_with('-') && n.starts_with("kiln-"), "{n}");
        }
    }
}
