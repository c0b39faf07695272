//! Progress events: what a run is waiting for, as data. The engine never prints; a caller
//! that wants to show progress (the CLI's live display on a terminal, one line per event in
//! a pipe) passes a [`ProgressSink`] in [`crate::Options`]. Events are sent only when a state
//! changes, so a sink that prints each one prints one line per state change.

use crate::object::ObjectId;
use crate::wait::health::Health;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// One state change of a run.
#[derive(Debug, Clone, PartialEq)]
pub enum Progress {
    /// Objects in `namespace` wait until it exists: Kubeflow's profile controller creates it
    /// for Profile `profile`, after the Profile was applied.
    NamespaceWaiting {
        namespace: String,
        profile: ObjectId,
        /// How many objects wait for it.
        objects: usize,
        timeout: Duration,
    },
    /// The namespace appeared after `after`.
    NamespaceReady { namespace: String, after: Duration },
    /// The namespace did not appear in time (the run reports the error).
    NamespaceMissing { namespace: String },
    /// `--wait`: an object's health changed (first observation included).
    Health { id: ObjectId, health: Health },
    /// `--wait`: every object has settled (healthy, failed or timed out).
    WaitDone,
}

/// A function receiving progress events.
type Receiver = dyn Fn(&Progress) + Send + Sync;

/// Where progress events go. The default drops them.
#[derive(Clone, Default)]
pub struct ProgressSink(Option<Arc<Receiver>>);

impl ProgressSink {
    /// A sink calling `f` for each event (from the task running the reconcile).
    pub fn new(f: impl Fn(&Progress) + Send + Sync + 'static) -> ProgressSink {
        ProgressSink(Some(Arc::new(f)))
    }

    /// Sends one event.
    pub fn send(&self, event: Progress) {
        if let Some(f) = &self.0 {
            f(&event);
        }
    }
}

impl fmt::Debug for ProgressSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_some() {
            "ProgressSink(..)"
        } else {
            "ProgressSink(none)"
        })
    }
}
