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
//! * [`inventory`]: the ApplySet parent and id (KEP-3659, kubectl-compatible).
//! * [`runs`]: run-like objects (never updated in place; finished runs not re-created).
//! * [`wait`]: health per kind ([`wait::health`]) and waiting with a timeout.
//! * [`error`]: one-paragraph errors naming the object and the cause.
pub mod diff;
pub mod error;
pub mod inventory;
pub mod managed;
pub mod object;
pub mod order;
pub mod output;
pub mod plan;
pub mod runs;
pub mod wait;

pub use error::{Cause, ReconcileError};
pub use inventory::{ApplySetRef, Inventory};
pub use object::{Manifest, ObjectId};
pub use plan::{Action, Change, LiveState, Plan, PlanError, PlanPolicy, plan};
