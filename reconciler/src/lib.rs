//! kiln reconciler: plans and applies desired manifests against a cluster, writing only what
//! changed, pruning only what it owns, and never showing a secret.
//!
//! Layout (pure core first, I/O at the edges):
//!
//! * [`object`]: identity ([`ObjectId`]), the desired-object newtype [`Manifest`], content hash.
//! * [`order`]: the fixed staged apply order (deletions reverse).
//! * [`managed`]: field ownership from managedFields (drift without requests).
//! * [`plan`]: the pure planner ([`plan::plan`]) and the dry runs it needs.
//! * [`diff`], [`output`]: masked per-object diffs, text/JSON output, exit codes.
//! * [`summary`]: the one-line summary of a create (images, resources).
//! * [`inventory`]: the ApplySet parent and id (KEP-3659, kubectl-compatible).
//! * [`runs`]: run-like objects (never updated in place; finished runs not re-created).
//! * [`wait`]: health per kind ([`wait::health`]) and waiting with a timeout.
//! * [`error`]: one-paragraph errors naming the object and the cause.
//! * I/O: [`cluster`] (client + discovery), [`live`] (inventory GET, member LISTs, dry runs),
//!   [`apply`], [`prune`], [`wait`], and [`reconcile`], whose [`plan_cluster`] and
//!   [`reconcile()`] are what `kiln plan` and `kiln apply` call.
//! * [`profiles`]: Kubeflow Profiles and the namespaces their controller creates.
//! * [`progress`]: progress events (what a run waits for), as data for the caller to show.
//! * [`counting`]: a request-counting client for tests and benchmarks.
//!
//! ```no_run
//! # async fn demo(client: kube::Client, docs: Vec<serde_json::Value>) -> Result<(), kiln_reconciler::ReconcileError> {
//! use kiln_reconciler::{ApplySetRef, Cluster, Manifest, Options, output, reconcile};
//! let desired: Vec<Manifest> = docs.into_iter().map(|d| Manifest::new(d).unwrap()).collect();
//! let mut cluster = Cluster::new(client);
//! let opts = Options::new(ApplySetRef::new("team-a", "kiln-system"));
//! let planned = kiln_reconciler::plan_cluster(&mut cluster, &desired, &opts).await?;
//! print!("{}", output::render_text(&planned.plan, true));
//! let report = kiln_reconciler::reconcile::apply_plan(&mut cluster, &desired, planned, &opts).await?;
//! for e in &report.errors { eprintln!("{e}"); }
//! # let _ = reconcile; Ok(()) }
//! ```
pub mod apply;
pub mod cluster;
pub mod counting;
pub mod diff;
pub mod error;
pub mod inventory;
pub mod live;
pub mod managed;
pub mod object;
pub mod order;
pub mod output;
pub mod plan;
pub mod profiles;
pub mod progress;
pub mod prune;
pub mod reconcile;
pub mod runs;
pub mod summary;
pub mod wait;

pub use cluster::Cluster;
pub use error::{Cause, ReconcileError};
pub use inventory::{ApplySetRef, Inventory};
pub use object::{Manifest, ObjectId, parse_documents};
pub use plan::{Action, Change, LiveState, Plan, PlanError, PlanPolicy, plan};
pub use progress::{Progress, ProgressSink};
pub use reconcile::{Options, Planned, Report, apply_plan, plan_cluster, reconcile};
