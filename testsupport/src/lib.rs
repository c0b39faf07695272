//! Test support for kiln's integration tests against a real Kubernetes API server.
//!
//! * [`cluster`] gives a [`TestCluster`]: the cluster named by `KILN_TEST_KUBECONFIG`, or
//!   else the project's own control plane (kube-apiserver + etcd built by
//!   `scripts/control-plane.sh`), started once and shared by every test binary of a run.
//! * [`TestCluster::namespace`] creates a fresh namespace per test, so tests run in parallel.
//! * [`install_crds`] installs the CRDs of `$KILN_SHARED/crds` and waits until they are
//!   Established.
//! * [`DedicatedControlPlane`] is a control plane of one test's own, whose kube-apiserver the
//!   test may stop and start again (the shared one must never be stopped).
//! * [`raw`] sends requests whose API `Warning` headers are kept (kube-rs drops them).
//! * [`StandInProfileController`]: a clearly named stand-in for Kubeflow's profile controller
//!   (creates a Profile's namespace a moment after the Profile appears).
//! * [`hostile`] runs a command as a child with an address-space cap and measures its wall
//!   time and peak memory (GNU `time`, `timeout`, `prlimit`).
//! * [`manifests`] loads multi-document YAML/JSON manifests from a folder tree.
//! * [`git`]: test repositories (fixed authors and dates) and the real Git transports that
//!   serve them (`git http-backend` behind a loopback HTTP server, `sshd` on loopback).
//!
//! ```no_run
//! # async fn demo() {
//! let Some(cluster) = kiln_testsupport::cluster().await else { return }; // skipped loudly
//! kiln_testsupport::install_crds(cluster.client()).await.unwrap();
//! let ns = cluster.namespace("my-test").await.unwrap();
//! # let _ = ns;
//! # }
//! ```

pub mod cluster;
pub mod crds;
pub mod dedicated;
pub mod git;
pub mod hostile;
pub mod manifests;
pub mod profile_controller;
pub mod raw;

pub use cluster::{TestCluster, cluster, kubeconfig_path, state_dir, unique_name, workspace_root};
pub use crds::{install_crds, shared_dir};
pub use dedicated::DedicatedControlPlane;
pub use profile_controller::StandInProfileController;
