//! kiln controller: the in-cluster reconcile loop (`kiln controller`).
//!
//! It follows one branch of one repository whose `kiln.toml` names the apps, and keeps the
//! cluster equal to it: fetch at `--interval` and on push webhooks; per new commit, compile only
//! the apps whose inputs changed ([`source`], gitops' incremental mechanism) and reconcile them
//! with every rail of the reconciler ([`reconcile`]); resync each app at `--resync`, writing
//! only drifted objects. A commit that breaks an app keeps that app's last good commit applied,
//! prunes nothing and is reported; other apps go on. Only the holder of a Lease writes
//! ([`leader`]).
//!
//! * [`source`]: fetch, incremental compile (blocking, on tokio's blocking pool).
//! * [`controller`]: the loop: when to fetch, which app is due.
//! * [`reconcile`]: one app: `reconcile` / `error_policy` / `Action`, as kube-rs.
//! * [`status`]: per-app status (`/status`, annotations on the ApplySet parent, Events).
//! * [`http`]: `/webhook`, `/status`, `/metrics`, `/healthz`, `/readyz`.
//! * [`metrics`]: Prometheus families.
//! * [`leader`]: Lease-based leader election.
//! * [`verify`]: commit signature verification (SSH signatures, allowed signers).

pub mod controller;
pub mod http;
pub mod leader;
pub mod metrics;
pub mod reconcile;
pub mod source;
pub mod status;
pub mod verify;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use tokio::sync::{Notify, RwLock};

/// `kiln controller` arguments.
#[derive(clap::Args, Debug, Clone)]
pub struct Args {
    /// Repository URL (https://, ssh://, git@host:path) or a local path; fetched into --cache-dir.
    #[arg(long)]
    pub repo: String,
    /// Branch to follow.
    #[arg(long, default_value = "main")]
    pub branch: String,
    /// How often to fetch (e.g. 30s, 5m); webhooks fetch at once.
    #[arg(long, value_parser = kiln_compiler::units::Duration::parse_command_line, default_value = "1m")]
    pub interval: Duration,
    /// How often each app is reconciled again without a new commit (drift self-heal).
    #[arg(long, value_parser = kiln_compiler::units::Duration::parse_command_line, default_value = "10m")]
    pub resync: Duration,
    /// Address of the HTTP endpoints (/webhook, /status, /metrics, /healthz, /readyz).
    #[arg(long, default_value = "0.0.0.0:8080")]
    pub listen: SocketAddr,
    /// File holding the webhook secret (GitHub's HMAC key, or GitLab's token). Without it every
    /// webhook is refused.
    #[arg(long)]
    pub webhook_secret_file: Option<PathBuf>,
    /// Kubeconfig file (default: KUBECONFIG, ~/.kube/config, else in-cluster configuration).
    #[arg(long)]
    pub kubeconfig: Option<PathBuf>,
    /// Where the Git mirror and the build cache live.
    #[arg(long)]
    pub cache_dir: Option<PathBuf>,
    /// File holding an HTTPS token for the repository (else KILN_GIT_TOKEN_FILE and friends,
    /// docs/gitops.md).
    #[arg(long)]
    pub git_token_file: Option<PathBuf>,
    /// Validate the manifests of apps with `validate = true` (kiln.toml) against the CRDs under
    /// this folder (`*.yaml`, `*.yml`), as `kiln plan --git-base --crds` does; a commit whose
    /// objects break a schema is refused like one that does not compile.
    #[arg(long)]
    pub crds: Option<PathBuf>,
    /// Verify the signature of each new head before anything of it is compiled or applied:
    /// `ssh` checks SSH signatures (`gpg.format=ssh`) against --allowed-signers. An unsigned,
    /// untrusted or OpenPGP-signed head is refused and reported; the last good commit stays.
    #[arg(long, value_enum)]
    pub verify_commits: Option<VerifyCommits>,
    /// The trusted keys, in OpenSSH's allowed-signers format (git's
    /// `gpg.ssh.allowedSignersFile`); read at start.
    #[arg(long, requires = "verify_commits")]
    pub allowed_signers: Option<PathBuf>,
    /// Namespace of the leader-election Lease.
    #[arg(long, default_value = "kiln-system")]
    pub lease_namespace: String,
    /// Name of the leader-election Lease.
    #[arg(long, default_value = "kiln-controller")]
    pub lease_name: String,
    /// How long a lease holds without renewal.
    #[arg(long, value_parser = kiln_compiler::units::Duration::parse_command_line, default_value = "15s")]
    pub lease_duration: Duration,
    /// This replica's identity in the Lease (default: $POD_NAME, else $HOSTNAME, else the pid).
    #[arg(long)]
    pub identity: Option<String>,
}

/// What `--verify-commits` checks.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum VerifyCommits {
    /// SSH signatures against `--allowed-signers`.
    Ssh,
}

/// State shared by the loop and the HTTP handlers.
pub struct Shared {
    pub status: RwLock<status::Status>,
    pub metrics: metrics::Metrics,
    /// Wakes the loop to fetch now (a push webhook).
    pub wake: Notify,
    /// A push webhook arrived: checked between apps, so a pass under way stops to fetch.
    pub pushed: std::sync::atomic::AtomicBool,
    pub webhook_secret: Option<Vec<u8>>,
    pub branch: String,
    pub resync: Duration,
    /// The loop's publisher, for the write counts of /status (set once the loop starts).
    pub publisher: std::sync::OnceLock<status::Publisher>,
}

/// Runs the controller until SIGTERM or SIGINT.
pub fn main(args: Args) -> ExitCode {
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(controller::run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
