//! kiln GitOps: the project file, the Git source, and plans between commits.
//!
//! * [`project`]: `kiln.toml`, which apps a repository holds (coded diagnostics on its text).
//! * [`git`]: a repository (local, or a remote mirrored into a cache) read at any commit,
//!   branch or tag without a work tree; credentials from files or the environment.
//! * [`tree`]: one commit's files as the compiler's `SourceLoader`, confined to the tree.
//! * [`incremental`]: per-app results with their dependencies, reused when nothing they read
//!   changed, and kept on disk between runs.
//! * [`review`]: desired-against-desired plans between two commits; [`resources`] for the
//!   resource, cost and quota deltas; [`render`] for text, Markdown (PR comment) and JSON.
//! * [`planfile`]: the reviewed plan `kiln apply plan.json` applies, or refuses when stale.
//! * [`codes`]: the `K11xx` diagnostic codes.
//!
//! Dependencies flow one way: this crate uses `kiln-compiler` and `kiln-reconciler`; the CLI
//! (and the controller) use it.

pub mod codes;
pub mod git;
pub mod incremental;
pub mod planfile;
pub mod project;
pub mod render;
pub mod resources;
pub mod review;
pub mod tree;

pub use git::{Credentials, GitError, GitSource, Revision};
pub use project::{App, Project};
pub use review::{ReviewPlan, plan_commits};
