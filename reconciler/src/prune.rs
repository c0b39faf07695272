//! Prune: deleting ApplySet members that are no longer desired, guarded.
//!
//! Planning (pure): a member missing from the desired set is pruned unless the desired set is
//! partial (then nothing is deleted: a missing object may only be missing from a broken
//! input), pruning is off, or the object is protected: PersistentVolumeClaims (notebook
//! workspaces, checkpoints) unless annotated `kiln.dev/prune: enabled`, and anything annotated
//! `kiln.dev/prune: disabled`, unless the policy opts in. If the prunes would exceed the
//! mass-prune limits (more than N objects, more than P% of the inventory, or anything at all
//! from an empty desired set) every prune is blocked until confirmed with `allow_mass_prune`.
//!
//! Execution (I/O, [`execute`]): deletes in reverse apply order, each with the live object's
//! uid as a precondition, so an object re-created by someone else under the same name in the
//! meantime is never deleted by mistake.

use crate::cluster::{Cluster, bounded};
use crate::error::{Cause, ReconcileError};
use crate::object::{ObjectId, PRUNE_ANNOTATION, annotation};
use crate::order::sort_for_delete;
use crate::order::stage;
use crate::plan::{Action, Change, LiveState, PlanPolicy};
use kube::api::{DeleteParams, Preconditions};
use serde_json::Value;
use std::collections::BTreeSet;

fn is_protected(id: &ObjectId, live: &Value) -> Option<String> {
    match annotation(live, PRUNE_ANNOTATION) {
        Some("disabled") => Some(format!("annotated {PRUNE_ANNOTATION}: disabled")),
        Some("enabled") => None,
        _ if id.group.is_empty() && id.kind == "PersistentVolumeClaim" => Some(format!(
            "PersistentVolumeClaims hold data and are not pruned unless annotated {PRUNE_ANNOTATION}: enabled"
        )),
        _ => None,
    }
}

pub(crate) fn plan_prunes(
    desired: &BTreeSet<ObjectId>,
    live: &LiveState,
    policy: &PlanPolicy,
    desired_empty: bool,
) -> Vec<Change> {
    let mut gone: Vec<ObjectId> = live
        .objects
        .keys()
        .filter(|id| !desired.contains(id))
        .cloned()
        .collect();
    sort_for_delete(&mut gone);
    let mut out: Vec<Change> = gone
        .into_iter()
        .map(|id| {
            let l = &live.objects[&id];
            if !policy.desired_complete {
                Change::new(id, Action::Skip).because(
                    "not in the desired set, but the desired set is partial (compilation failed), so nothing is pruned",
                )
            } else if !policy.prune {
                Change::new(id, Action::Skip).because("no longer desired; pruning is off")
            } else if let Some(why) = is_protected(&id, l).filter(|_| !policy.allow_prune_protected) {
                Change::new(id, Action::KeepProtected).because(why)
            } else {
                Change::new(id, Action::Prune)
            }
        })
        .collect();

    keep_namespaces_of_kept(&mut out, desired);

    let count = out.iter().filter(|c| c.action == Action::Prune).count();
    let total = live.objects.len();
    let mass = count > policy.mass_prune_max_objects
        || (count > 1 && count * 100 > total * policy.mass_prune_max_percent)
        // An empty desired set that would delete anything is almost always a wrong path or
        // an empty checkout, not an intent.
        || (desired_empty && count > 0);
    if mass && !policy.allow_mass_prune {
        let why = format!(
            "mass prune: {count} of {total} inventory objects would be deleted (limits: more than {} objects or more than {}% of the inventory{}); nothing is pruned unless this is confirmed with --allow-mass-prune",
            policy.mass_prune_max_objects,
            policy.mass_prune_max_percent,
            if desired_empty {
                ", or an empty desired set"
            } else {
                ""
            }
        );
        for c in out.iter_mut().filter(|c| c.action == Action::Prune) {
            let err = ReconcileError::object(&c.id, "prune", Cause::Other { detail: why.clone() });
            *c = Change::blocked(c.id.clone(), err);
        }
    }
    out
}

/// Deleting a Namespace, or a Profile (its namespace is owned by it and collected with it),
/// deletes everything inside. So a namespace that still holds an object that is kept (a
/// protected PVC) or still desired is kept too, with the reason naming what it holds.
fn keep_namespaces_of_kept(out: &mut [Change], desired: &BTreeSet<ObjectId>) {
    let kept: Vec<ObjectId> = out
        .iter()
        .filter(|c| c.action != Action::Prune)
        .map(|c| c.id.clone())
        .chain(desired.iter().cloned())
        .filter(|id| !id.namespace.is_empty())
        .collect();
    for c in out.iter_mut().filter(|c| c.action == Action::Prune) {
        let namespace_kind =
            (c.id.group.is_empty() && c.id.kind == "Namespace") || crate::profiles::is_profile(&c.id);
        if !namespace_kind {
            continue;
        }
        if let Some(inside) = kept.iter().find(|id| id.namespace == c.id.name) {
            let why = format!(
                "namespace {} still holds {inside}, which is kept; deleting the {} would delete it with everything in the namespace",
                c.id.name, c.id.kind
            );
            *c = Change::new(c.id.clone(), Action::KeepProtected).because(why);
        }
    }
}

/// Deletes the objects (each with its live uid as precondition), stage by stage in reverse
/// apply order; objects of one stage are deleted concurrently. Already-gone objects count as
/// deleted. Returns the deleted ids and the failures.
pub async fn execute(
    cluster: &Cluster,
    mut targets: Vec<(ObjectId, Option<String>)>,
) -> (Vec<ObjectId>, Vec<ReconcileError>) {
    let mut deleted = Vec::new();
    let mut errors = Vec::new();
    targets.sort_by(|a, b| crate::order::apply_key(&b.0).cmp(&crate::order::apply_key(&a.0)));
    let mut i = 0;
    while i < targets.len() {
        let s = stage(&targets[i].0.group, &targets[i].0.kind);
        let mut j = i;
        while j < targets.len() && stage(&targets[j].0.group, &targets[j].0.kind) == s {
            j += 1;
        }
        let mut jobs = Vec::new();
        for (id, uid) in targets[i..j].iter().cloned() {
            match cluster.resolve_id(&id) {
                Ok(r) => jobs.push((cluster.api(&r, &id.namespace), id, uid)),
                Err(e) => errors.push(e),
            }
        }
        let results = bounded(jobs, |(api, id, uid)| async move {
            let dp = DeleteParams {
                preconditions: uid.map(|uid| Preconditions {
                    uid: Some(uid),
                    resource_version: None,
                }),
                ..DeleteParams::background()
            };
            match api.delete(&id.name, &dp).await {
                Ok(_) => Ok(id),
                Err(kube::Error::Api(s)) if s.code == 404 => Ok(id),
                Err(e) => Err(ReconcileError::kube(Some(&id), "prune (delete)", &e)),
            }
        })
        .await;
        for r in results {
            match r {
                Ok(id) => deleted.push(id),
                Err(e) => errors.push(e),
            }
        }
        i = j;
    }
    (deleted, errors)
}
