//! Leader election on a `coordination.k8s.io/v1` Lease, as client-go's leaderelection does it,
//! so that two replicas never apply at once.
//!
//! Every `duration / 3` the candidate reads the Lease and either renews it (it holds it),
//! takes it (nobody holds it, or the holder's `renewTime + leaseDurationSeconds` has passed), or
//! stands by. Every write is a replace carrying the `resourceVersion` that was read, so of two
//! candidates racing for an expired lease the API server lets exactly one win (409 for the other).
//!
//! A leader that cannot renew (API server unreachable) gives up leadership once two thirds of the
//! lease duration passed since its last renewal, before any other candidate may take the lease
//! (client-go's renew deadline): the two never overlap as long as clocks agree within a third
//! of the duration. Losing the lease is signalled at once on the `watch` channel; the loop drops
//! the write in progress. On shutdown the lease is released (holder cleared), so a successor
//! takes over at its next try instead of waiting for expiry.

use std::time::{Duration, Instant};

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::Api;
use kube::api::PostParams;
use tokio::sync::watch;

/// Which Lease, and who we are.
#[derive(Debug, Clone)]
pub struct LeaseConfig {
    pub namespace: String,
    pub name: String,
    pub identity: String,
    pub duration: Duration,
}

/// Runs the election until `shutdown` turns true; then releases the lease if held.
pub async fn run(
    client: kube::Client,
    cfg: LeaseConfig,
    leader: watch::Sender<bool>,
    mut shutdown: watch::Receiver<bool>,
) {
    let api: Api<Lease> = Api::namespaced(client, &cfg.namespace);
    let period = cfg.duration / 3;
    let renew_deadline = cfg.duration * 2 / 3;
    let mut last_renew: Option<Instant> = None;
    loop {
        let held = match try_acquire_or_renew(&api, &cfg).await {
            Ok(true) => {
                last_renew = Some(Instant::now());
                true
            }
            Ok(false) => false,
            // Unreachable: keep leading only until the renew deadline.
            Err(_) => last_renew.is_some_and(|t| t.elapsed() < renew_deadline),
        };
        if !held {
            last_renew = None;
        }
        leader.send_if_modified(|l| std::mem::replace(l, held) != held);
        tokio::select! {
            _ = tokio::time::sleep(period) => {}
            _ = shutdown.wait_for(|s| *s) => break,
        }
    }
    if *leader.borrow() {
        leader.send_replace(false);
        release(&api, &cfg).await;
    }
}

fn now() -> MicroTime {
    MicroTime(Timestamp::now())
}

/// One round: `Ok(true)` when we hold the lease afterwards.
async fn try_acquire_or_renew(api: &Api<Lease>, cfg: &LeaseConfig) -> Result<bool, kube::Error> {
    let seconds = i32::try_from(cfg.duration.as_secs().max(1)).unwrap_or(i32::MAX);
    let Some(mut lease) = api.get_opt(&cfg.name).await? else {
        let lease = Lease {
            metadata: ObjectMeta {
                name: Some(cfg.name.clone()),
                namespace: Some(cfg.namespace.clone()),
                ..ObjectMeta::default()
            },
            spec: Some(LeaseSpec {
                holder_identity: Some(cfg.identity.clone()),
                lease_duration_seconds: Some(seconds),
                acquire_time: Some(now()),
                renew_time: Some(now()),
                lease_transitions: Some(0),
                ..LeaseSpec::default()
            }),
        };
        return conflict_is_false(api.create(&PostParams::default(), &lease).await);
    };
    let spec = lease.spec.get_or_insert_with(LeaseSpec::default);
    let holder = spec.holder_identity.clone().filter(|h| !h.is_empty());
    if holder.as_deref() == Some(cfg.identity.as_str()) {
        spec.renew_time = Some(now());
        spec.lease_duration_seconds = Some(seconds);
    } else {
        let expired = match (&spec.renew_time, spec.lease_duration_seconds) {
            (Some(renewed), Some(d)) => {
                renewed.0 + SignedDuration::from_secs(i64::from(d)) < Timestamp::now()
            }
            _ => true,
        };
        if holder.is_some() && !expired {
            return Ok(false);
        }
        spec.holder_identity = Some(cfg.identity.clone());
        spec.acquire_time = Some(now());
        spec.renew_time = Some(now());
        spec.lease_duration_seconds = Some(seconds);
        spec.lease_transitions = Some(spec.lease_transitions.unwrap_or(0) + 1);
    }
    // The resourceVersion read above makes this a compare-and-swap.
    conflict_is_false(api.replace(&cfg.name, &PostParams::default(), &lease).await)
}

fn conflict_is_false(r: Result<Lease, kube::Error>) -> Result<bool, kube::Error> {
    match r {
        Ok(_) => Ok(true),
        Err(kube::Error::Api(s)) if s.code == 409 => Ok(false),
        Err(e) => Err(e),
    }
}

/// Clears the holder, if it is still us.
async fn release(api: &Api<Lease>, cfg: &LeaseConfig) {
    let Ok(Some(mut lease)) = api.get_opt(&cfg.name).await else {
        return;
    };
    let Some(spec) = lease.spec.as_mut() else { return };
    if spec.holder_identity.as_deref() != Some(cfg.identity.as_str()) {
        return;
    }
    spec.holder_identity = None;
    spec.renew_time = Some(now());
    let _ = api.replace(&cfg.name, &PostParams::default(), &lease).await;
}
