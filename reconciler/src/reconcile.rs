//! The two entry points the CLI calls: [`plan_cluster`] (`kiln plan`, `kiln apply --dry-run`)
//! and [`reconcile`] (`kiln apply`), which is [`plan_cluster`] followed by [`apply_plan`].
//! Each reads as the steps it takes; the decisions live in [`crate::plan`].

use crate::apply::{ApplyItem, apply_all};
use crate::cluster::Cluster;
use crate::error::{Cause, ReconcileError};
use crate::inventory::{ApplySetRef, Inventory};
use crate::live::{check_scope, dry_runs, list_members, read_inventory};
use crate::object::{GroupKind, Manifest, ObjectId};
use crate::order::{Stage, stage};
use crate::plan::{Action, LiveState, Plan, PlanPolicy, apply_body, dry_run_requests, plan};
use crate::profiles::{NamespaceWait, await_namespaces, profile_namespaces};
use crate::progress::{Progress, ProgressSink};
use serde::Serialize;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

/// Everything a run needs besides the manifests.
#[derive(Debug, Clone)]
pub struct Options {
    /// Where the inventory parent lives.
    pub applyset: ApplySetRef,
    pub policy: PlanPolicy,
    /// Wait for every desired object to be healthy, up to this long (`--wait --timeout`).
    pub wait: Option<Duration>,
    /// How long to wait for created CRDs to be Established, and for a recreated object's old
    /// copy to disappear.
    pub step_timeout: Duration,
    /// How long objects wait for the namespace of their Profile (created by Kubeflow's
    /// profile controller, see [`crate::profiles`]).
    pub namespace_timeout: Duration,
    /// Where progress events go (nothing is printed by the engine).
    pub progress: ProgressSink,
}

impl Options {
    /// Defaults: the safe [`PlanPolicy`], no health wait, one minute per step.
    pub fn new(applyset: ApplySetRef) -> Options {
        Options {
            applyset,
            policy: PlanPolicy::default(),
            wait: None,
            step_timeout: Duration::from_secs(60),
            namespace_timeout: Duration::from_secs(60),
            progress: ProgressSink::default(),
        }
    }
}

/// A plan together with the state it was made from (needed to apply it).
#[derive(Debug, Clone)]
pub struct Planned {
    pub plan: Plan,
    pub inventory: Inventory,
    pub live: LiveState,
    /// Desired kinds whose CRD this run creates (not served when planning).
    pub pending: BTreeSet<GroupKind>,
    /// LIST requests made.
    pub lists: usize,
    /// Dry-run requests made.
    pub dry_runs: usize,
}

/// What an apply did.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub plan: Plan,
    pub applied: Vec<ObjectId>,
    pub pruned: Vec<ObjectId>,
    /// Every failure, one paragraph each (blocked plan entries included).
    pub errors: Vec<ReconcileError>,
}

impl Report {
    /// Whether everything planned was done.
    pub fn success(&self) -> bool {
        self.errors.is_empty()
    }
}

/// Plans against the cluster without changing it.
pub async fn plan_cluster(
    cluster: &mut Cluster,
    desired: &[Manifest],
    opts: &Options,
) -> Result<Planned, ReconcileError> {
    // 1. Learn which kinds the server serves (two requests with aggregated discovery).
    cluster.ensure_discovery().await?;
    // 2. Read the inventory parent: which kinds and namespaces members may be in.
    let inventory = read_inventory(cluster, &opts.applyset).await?;
    // 3. List the members: one LIST per kind and namespace, by the ApplySet label.
    let listing = list_members(cluster, &inventory, desired).await?;
    let mut live = listing.live;
    // 4. Dry-run only what the planner cannot decide from hashes and field ownership.
    let requests = dry_run_requests(desired, &live, &inventory, &opts.policy);
    let dry_run_count = requests.len();
    live.dry_runs = dry_runs(cluster, requests).await?;
    // 5. Decide (pure).
    let plan = plan(desired, &live, &inventory, &opts.policy).map_err(|e| {
        ReconcileError::run(
            "plan",
            Cause::Invalid {
                detail: e.to_string(),
            },
        )
    })?;
    Ok(Planned {
        plan,
        inventory,
        live,
        pending: listing.pending,
        lists: listing.lists,
        dry_runs: dry_run_count,
    })
}

/// Plans and applies.
pub async fn reconcile(
    cluster: &mut Cluster,
    desired: &[Manifest],
    opts: &Options,
) -> Result<Report, ReconcileError> {
    let planned = plan_cluster(cluster, desired, opts).await?;
    apply_plan(cluster, desired, planned, opts).await
}

/// Carries out a plan made by [`plan_cluster`] from the same `desired` set.
///
/// Returns `Err` only when the run could not start (the inventory parent could not be
/// written); per-object failures are collected in [`Report::errors`].
pub async fn apply_plan(
    cluster: &mut Cluster,
    desired: &[Manifest],
    planned: Planned,
    opts: &Options,
) -> Result<Report, ReconcileError> {
    let Planned {
        plan,
        inventory,
        live,
        pending,
        ..
    } = planned;
    let mut report = Report {
        plan,
        applied: Vec::new(),
        pruned: Vec::new(),
        errors: Vec::new(),
    };
    // Blocked entries are failures of this run (conflicts, immutable fields, mass prune).
    report
        .errors
        .extend(report.plan.changes.iter().filter_map(|c| c.error.clone()));

    // 1. Widen the parent first, so an interrupted run still knows every kind and namespace
    //    it may have created objects in (kubectl does the same). No write when unchanged.
    let desired_ids: Vec<ObjectId> = desired.iter().map(Manifest::id).collect();
    let widened = inventory.superset(desired_ids.iter());
    if widened.differs_from(&inventory) {
        write_parent(cluster, &widened, !inventory.exists).await?;
    }

    // 2. Apply stage by stage in the fixed order.
    let by_id: BTreeMap<ObjectId, &Manifest> = desired.iter().map(|m| (m.id(), m)).collect();
    let applyset_id = inventory.id();
    let mut stages: BTreeMap<Stage, Vec<ApplyItem>> = BTreeMap::new();
    for c in &report.plan.changes {
        if !matches!(c.action, Action::Create | Action::Update | Action::Recreate) {
            continue;
        }
        let Some(m) = by_id.get(&c.id) else { continue };
        stages
            .entry(stage(&c.id.group, &c.id.kind))
            .or_default()
            .push(ApplyItem {
                id: c.id.clone(),
                body: apply_body(m, &applyset_id),
                force: c.force,
                recreate_uid: (c.action == Action::Recreate)
                    .then(|| uid(live.objects.get(&c.id)))
                    .flatten(),
            });
    }
    let profiles = profile_namespaces(&desired_ids);
    let mut missing_namespaces: Option<BTreeSet<String>> = None;
    // The objects written after the first stage (what may wait for a Profile's namespace).
    let stages_after: Vec<ObjectId> = stages
        .iter()
        .filter(|(stage, _)| **stage > Stage::Namespaces)
        .flat_map(|(_, items)| items.iter().map(|i| i.id.clone()))
        .collect();
    let mut discovery_stale = false;
    for (stage, mut items) in stages {
        // Kinds defined by CRDs of this run become servable only after the CRD stage.
        if discovery_stale {
            cluster.refresh().await?;
            discovery_stale = false;
        }
        // 2b. After the first stage (namespaces and Profiles): objects in a Profile's
        //     namespace wait until its controller has created it; in a namespace that does
        //     not appear, nothing is attempted.
        if stage > Stage::Namespaces {
            let missing = match &missing_namespaces {
                Some(m) => m,
                None => {
                    let later: Vec<&ObjectId> = stages_after.iter().collect();
                    let waits = namespace_waits(&profiles, &later);
                    let (m, errors) =
                        await_namespaces(cluster, &waits, opts.namespace_timeout, &opts.progress).await;
                    report.errors.extend(errors);
                    missing_namespaces.insert(m)
                }
            };
            items.retain(|item| !missing.contains(&item.id.namespace));
        }
        let items = check_pending_scopes(cluster, items, &pending, &mut report.errors);
        let (applied, errors) = apply_all(cluster, items, opts.step_timeout).await;
        let fatal = errors.iter().any(|e| e.cause.ends_run());
        report.errors.extend(errors);
        if stage == Stage::Crds {
            // 2a. CRDs must be Established before any of their objects is sent.
            let crds: Vec<ObjectId> = applied.iter().map(|(id, _)| id.clone()).collect();
            report.errors.extend(
                crate::wait::wait_healthy(cluster, &crds, opts.step_timeout, &ProgressSink::default()).await,
            );
            discovery_stale = !crds.is_empty();
        }
        report.applied.extend(applied.into_iter().map(|(id, _)| id));
        if fatal {
            // The cluster is unreachable or the credentials were rejected: stop here rather
            // than fail every remaining object the same way. A re-run converges.
            return Ok(report);
        }
    }

    // 3. Prune, only when everything before succeeded: a half-applied run must not also
    //    delete (the next run, with the same input, will).
    let targets: Vec<(ObjectId, Option<String>)> = report
        .plan
        .changes
        .iter()
        .filter(|c| c.action == Action::Prune)
        .map(|c| (c.id.clone(), uid(live.objects.get(&c.id))))
        .collect();
    let clean = report.errors.is_empty();
    if clean && !targets.is_empty() {
        let (pruned, errors) = crate::prune::execute(cluster, targets).await;
        report.pruned = pruned;
        report.errors.extend(errors);
    }

    // 4. Narrow the parent to what remains and record finished runs (only when the run went
    //    through; otherwise the widened parent keeps tracking everything).
    if report.errors.is_empty() {
        let remaining: Vec<&ObjectId> = report
            .plan
            .changes
            .iter()
            .map(|c| &c.id)
            .filter(|id| !report.pruned.contains(id))
            .collect();
        let narrowed = inventory.latest(remaining, report.plan.completed_runs.clone());
        if narrowed.differs_from(&widened) {
            write_parent(cluster, &narrowed, false).await?;
        }
    }

    // 5. Wait for health if asked, reporting each object's own condition message.
    if let Some(timeout) = opts.wait
        && report.errors.is_empty()
    {
        let ids: Vec<ObjectId> = report
            .plan
            .changes
            .iter()
            .filter(|c| {
                matches!(
                    c.action,
                    Action::Create | Action::Update | Action::Recreate | Action::Unchanged
                )
            })
            .map(|c| c.id.clone())
            .collect();
        report
            .errors
            .extend(crate::wait::wait_healthy(cluster, &ids, timeout, &opts.progress).await);
        opts.progress.send(Progress::WaitDone);
    }
    Ok(report)
}

/// The Profile namespaces that objects written after the first stage are in, with how many.
fn namespace_waits(profiles: &BTreeMap<String, ObjectId>, later: &[&ObjectId]) -> Vec<NamespaceWait> {
    profiles
        .iter()
        .filter_map(|(ns, profile)| {
            let objects = later.iter().filter(|id| &id.namespace == ns).count();
            (objects > 0).then(|| NamespaceWait {
                namespace: ns.clone(),
                profile: profile.clone(),
                objects,
            })
        })
        .collect()
}

fn uid(live: Option<&Value>) -> Option<String> {
    live?.pointer("/metadata/uid")?.as_str().map(String::from)
}

/// Objects of kinds that were not served at planning time get their scope checked now.
fn check_pending_scopes(
    cluster: &Cluster,
    items: Vec<ApplyItem>,
    pending: &BTreeSet<GroupKind>,
    errors: &mut Vec<ReconcileError>,
) -> Vec<ApplyItem> {
    items
        .into_iter()
        .filter(|item| {
            if !pending.contains(&item.id.group_kind()) {
                return true;
            }
            match cluster
                .resolve_id(&item.id)
                .and_then(|r| check_scope(&item.id, &r))
            {
                Ok(()) => true,
                Err(e) => {
                    errors.push(e);
                    false
                }
            }
        })
        .collect()
}

/// Writes the ApplySet parent (server-side apply, forced: the parent is kiln's alone).
async fn write_parent(cluster: &Cluster, inventory: &Inventory, first: bool) -> Result<(), ReconcileError> {
    let parent_id = inventory.parent.object_id();
    let client = cluster.client().clone();
    if first {
        // The parent's namespace may not exist on the very first run.
        let ns_api: kube::Api<k8s_openapi::api::core::v1::Namespace> = kube::Api::all(client.clone());
        let ns = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": inventory.parent.namespace}});
        if ns_api
            .get_opt(&inventory.parent.namespace)
            .await
            .map_err(|e| ReconcileError::kube(Some(&parent_id), "write inventory", &e))?
            .is_none()
        {
            ns_api
                .patch(
                    &inventory.parent.namespace,
                    &crate::live::apply_params(true, false),
                    &kube::api::Patch::Apply(&ns),
                )
                .await
                .map_err(|e| ReconcileError::kube(Some(&parent_id), "create inventory namespace", &e))?;
        }
    }
    let api: kube::Api<k8s_openapi::api::core::v1::ConfigMap> =
        kube::Api::namespaced(client, &inventory.parent.namespace);
    api.patch(
        &inventory.parent.name,
        &crate::live::apply_params(true, false),
        &kube::api::Patch::Apply(&inventory.parent_object()),
    )
    .await
    .map_err(|e| ReconcileError::kube(Some(&parent_id), "write inventory", &e))?;
    Ok(())
}
