//! One app's reconcile, kube-rs style: [`reconcile`] returns the next [`Action`], and
//! [`error_policy`] turns a failure into a backoff. The loop ([`crate::controller`]) calls them.

use std::time::{Duration, Instant};

use kiln_gitops::App;
use kiln_reconciler::{ApplySetRef, Cluster, Manifest, Options, Report};
use tokio::sync::watch;

use crate::Shared;
use crate::status::{Condition, MAX_OBJECT_EVENTS, Publisher, now};

/// What to do with an app next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Reconcile again after this long (the resync interval, or a backoff).
    Requeue(Duration),
}

/// Why a reconcile failed; each kind is a label of the errors metric.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Error {
    /// Planning could not start or finish (cluster unreachable, inventory unreadable).
    #[error("{0}")]
    Plan(String),
    /// Some objects could not be applied or pruned, or the plan was refused by a rail (mass
    /// prune, protected objects, field conflicts); the rest was done.
    #[error("{0}")]
    Apply(String),
    /// The lease was lost mid-run: the write in progress was dropped.
    #[error("the lease was lost during the run; the new leader reconciles")]
    LostLease,
}

impl Error {
    pub fn kind(&self) -> &'static str {
        match self {
            Error::Plan(_) => "plan",
            Error::Apply(_) => "apply",
            Error::LostLease => "lease",
        }
    }
}

/// An app as the loop holds it.
#[derive(Debug, Clone)]
pub struct AppTarget {
    pub app: App,
    /// The last good build: its commit and manifests. Never a failed or partial build, so
    /// pruning against it is safe.
    pub desired: Option<(String, Vec<Manifest>)>,
    /// The commit last reconciled successfully.
    pub synced: Option<String>,
    pub due: Instant,
    pub failures: u32,
    /// Removed from kiln.toml with `prune_removed_apps`: its desired set is empty, and the
    /// mass-prune guard is confirmed by that setting.
    pub removed: bool,
}

/// The shortest and longest backoff.
pub const BACKOFF_MIN: Duration = Duration::from_secs(1);
pub const BACKOFF_MAX: Duration = Duration::from_secs(300);

/// Exponential backoff with full jitter: `rand(0.5..1.0) * min(max, min * 2^failures)`, so
/// apps failing together do not retry in lockstep.
pub fn error_policy(error: &Error, failures: u32) -> Action {
    if matches!(error, Error::LostLease) {
        return Action::Requeue(BACKOFF_MIN);
    }
    let exp = BACKOFF_MIN.saturating_mul(1u32 << failures.min(16));
    let capped = exp.min(BACKOFF_MAX);
    Action::Requeue(capped.mul_f64(0.5 + fastrand::f64() * 0.5))
}

/// Brings one app's objects to its last good build.
pub async fn reconcile(
    target: &AppTarget,
    cluster: &mut Cluster,
    shared: &Shared,
    publisher: &Publisher,
    mut leader: watch::Receiver<bool>,
) -> Result<Action, Error> {
    let app = &target.app;
    // 1. Nothing to do before the app first compiled.
    let Some((commit, desired)) = &target.desired else {
        return Ok(Action::Requeue(shared.resync));
    };
    let resync = target.synced.as_deref() == Some(commit.as_str());
    // 2. Plan and apply with every rail of the reconciler: prune on (the desired set is a
    //    complete, successful build), PVCs and `kiln.dev/prune: disabled` kept, mass prunes
    //    refused, conflicts with other managers refused, kiln's own fields put back (drift).
    let mut opts = Options::new(ApplySetRef::new(&app.applyset, &app.applyset_namespace));
    opts.policy.prune = true;
    opts.policy.desired_complete = true;
    opts.policy.allow_mass_prune = target.removed;
    let started = Instant::now();
    // 3. Only while leading: losing the lease drops the run at its next await point.
    let report: Report = tokio::select! {
        r = kiln_reconciler::reconcile(cluster, desired, &opts) => r.map_err(|e| Error::Plan(e.to_string()))?,
        _ = leader.wait_for(|l| !*l) => return Err(Error::LostLease),
    };
    let label = crate::metrics::Metrics::app(&app.name);
    shared
        .metrics
        .reconcile_duration
        .get_or_create(&label)
        .observe(started.elapsed().as_secs_f64());
    // 4. Count and record what was done.
    let summary = report.plan.summary();
    let applied = report.applied.len();
    let pruned = report.pruned.len();
    shared
        .metrics
        .applied
        .get_or_create(&label)
        .inc_by(applied as u64);
    shared.metrics.pruned.get_or_create(&label).inc_by(pruned as u64);
    shared
        .metrics
        .unchanged
        .get_or_create(&label)
        .inc_by(summary.unchanged as u64);
    let (reason, verb) = if resync {
        ("DriftCorrected", "corrected drift of")
    } else {
        ("Applied", "applied")
    };
    for id in report.applied.iter().take(MAX_OBJECT_EVENTS) {
        publisher
            .event(
                id,
                false,
                reason,
                "Apply",
                format!("kiln {verb} this object from commit {commit}"),
            )
            .await;
    }
    let failed = !report.success();
    let message = if failed {
        let errors: Vec<String> = report.errors.iter().map(ToString::to_string).collect();
        format!(
            "{} error(s) at commit {commit}: {}",
            errors.len(),
            errors.join("\n")
        )
    } else {
        format!(
            "commit {commit}: {applied} applied, {} unchanged, {pruned} pruned",
            summary.unchanged
        )
    };
    let snapshot = {
        let mut status = shared.status.write().await;
        let s = status.apps.entry(app.name.clone()).or_default();
        s.reconciles += 1;
        s.objects_written += (applied + pruned) as u64;
        // A run that wrote nothing at the commit already applied (a resync without drift)
        // keeps the counts and message of the last run that did: the status annotation then
        // stays as it is, so such a resync writes nothing at all (its time is in last_sync).
        let no_op = !failed
            && applied == 0
            && pruned == 0
            && s.condition == Condition::Ready
            && s.last_applied_commit.as_deref() == Some(commit.as_str());
        if !no_op {
            s.applied = applied;
            s.unchanged = summary.unchanged;
            s.pruned = pruned;
            s.message = message.clone();
        }
        if failed {
            s.condition = Condition::Stalled;
            s.last_error = Some(message.clone());
        } else {
            s.condition = Condition::Ready;
            s.last_error = None;
            s.last_applied_commit = Some(commit.clone());
            s.last_sync = Some(now());
            s.failures = 0;
        }
        let snapshot = s.clone();
        status.writes.objects += (applied + pruned) as u64;
        snapshot
    };
    if !failed {
        let secs = k8s_openapi::jiff::Timestamp::now().as_second();
        shared.metrics.last_sync.get_or_create(&label).set(secs);
    }
    // 5. Tell kubectl: annotations and Events on the ApplySet parent.
    publisher.annotate(&snapshot).await;
    if applied > 0 || !resync {
        publisher
            .parent_event(&snapshot, false, reason, message.clone())
            .await;
    }
    for id in report.pruned.iter().take(MAX_OBJECT_EVENTS) {
        publisher
            .event(
                id,
                false,
                "Pruned",
                "Delete",
                format!("kiln pruned this object: it is not in commit {commit}"),
            )
            .await;
    }
    if failed {
        return Err(Error::Apply(message));
    }
    Ok(Action::Requeue(shared.resync))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_with_jitter_and_is_capped() {
        let e = Error::Plan("x".into());
        for failures in 0..20 {
            let Action::Requeue(d) = error_policy(&e, failures);
            let ceiling = BACKOFF_MIN.saturating_mul(1 << failures.min(16)).min(BACKOFF_MAX);
            assert!(
                d <= ceiling && d >= ceiling / 2,
                "{failures}: {d:?} not in [{:?}, {ceiling:?}]",
                ceiling / 2
            );
        }
        let spread: std::collections::BTreeSet<_> = (0..20)
            .map(|_| error_policy(&e, 5))
            .map(|Action::Requeue(d)| d)
            .collect();
        assert!(spread.len() > 1, "jitter varies the delay");
    }
}
