//! A control plane of a test's own, for tests that take the API server away.
//!
//! The shared instance ([`crate::cluster()`]) serves every test of a run, so no test may stop
//! it. [`DedicatedControlPlane`] starts another kube-apiserver + etcd with
//! `scripts/control-plane.sh up` in a state dir of its own (`<target dir>/kiln-control-plane-<name>`)
//! and can stop and restart just its kube-apiserver (same port, certificates and etcd, so the
//! stored objects survive). Dropping it runs `down`, also when the test panics; the state dir is
//! then kept for its logs. A run killed before the drop leaves the instance running; the next
//! `start` with the same name adopts it (`up` reuses a healthy instance, restarts a broken one)
//! and the drop stops it.
//!
//! Skipping follows [`crate::cluster()`]: only outside CI, and only when a prerequisite is
//! missing.

use crate::cluster::{TestCluster, client_for, control_plane_script, skip_or_panic, target_dir};
use std::path::{Path, PathBuf};

/// A running kube-apiserver + etcd that only the test holding it uses; stopped on drop.
pub struct DedicatedControlPlane {
    state: PathBuf,
    kubeconfig: PathBuf,
}

impl DedicatedControlPlane {
    /// Starts (or adopts, see the module docs) the instance called `name`; `None` when the
    /// test is skipped (a banner saying why has then been printed).
    ///
    /// Blocks while the script runs (seconds; minutes when the binaries are built first).
    ///
    /// # Panics
    /// When the instance cannot be started and skipping is not allowed.
    pub fn start(name: &str) -> Option<DedicatedControlPlane> {
        let state = target_dir().join(format!("kiln-control-plane-{name}"));
        eprintln!(
            "[kiln-testsupport] starting a dedicated control plane (state in {})",
            state.display()
        );
        if let Err(unavailable) = control_plane_script(&state, "up", &[]) {
            skip_or_panic(&unavailable, "Install the missing piece.");
            return None;
        }
        let kubeconfig = state.join("kubeconfig");
        assert!(kubeconfig.is_file(), "`up` wrote no {}", kubeconfig.display());
        Some(DedicatedControlPlane { state, kubeconfig })
    }

    /// The kubeconfig of this instance.
    pub fn kubeconfig(&self) -> &Path {
        &self.kubeconfig
    }

    /// A fresh client for this instance (a new connection pool, as a new `kiln` process has).
    pub async fn cluster(&self) -> TestCluster {
        let client = client_for(&self.kubeconfig)
            .await
            .unwrap_or_else(|e| panic!("cannot build a client from {}: {e}", self.kubeconfig.display()));
        TestCluster::new(client, self.kubeconfig.clone())
    }

    /// Stops kube-apiserver (SIGTERM, as `systemctl stop` or a node drain does) and returns
    /// once the process is gone; etcd keeps running. Runs on a blocking thread, so requests
    /// of the calling test keep going meanwhile.
    ///
    /// # Panics
    /// When the script fails.
    pub async fn stop_apiserver(&self) {
        self.script("stop-apiserver").await;
    }

    /// Starts kube-apiserver again on the same port against the same etcd and returns once it
    /// is ready.
    ///
    /// # Panics
    /// When the script fails (its output, with the log's tail, is in the message).
    pub async fn start_apiserver(&self) {
        self.script("start-apiserver").await;
    }

    async fn script(&self, command: &'static str) {
        let state = self.state.clone();
        tokio::task::spawn_blocking(move || control_plane_script(&state, command, &[]))
            .await
            .expect("the script runner does not panic")
            .unwrap_or_else(|e| panic!("control-plane.sh {command}: {}", e.why()));
    }
}

impl Drop for DedicatedControlPlane {
    fn drop(&mut self) {
        // Keep the logs of a failed test; the processes are stopped either way.
        let keep = if std::thread::panicking() { "1" } else { "0" };
        if let Err(e) = control_plane_script(&self.state, "down", &[("CP_KEEP", keep)]) {
            eprintln!(
                "[kiln-testsupport] stopping the control plane failed: {}\nstop it with CP_STATE_DIR={} \
                 scripts/control-plane.sh down",
                e.why(),
                self.state.display()
            );
        }
    }
}
