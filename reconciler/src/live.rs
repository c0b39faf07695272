//! Gathering live state: the inventory parent (one GET), the members (one LIST per kind and
//! namespace, selected by the ApplySet label), and the server-side dry runs the planner asks
//! for. Nothing here decides anything; see [`crate::plan`].

use crate::cluster::{Cluster, Resource, bounded, not_served};
use crate::error::{ApiFailure, Cause, ReconcileError};
use crate::inventory::{ApplySetRef, Inventory, PART_OF};
use crate::object::{FIELD_MANAGER, GroupKind, Manifest, ObjectId};
use crate::plan::{DryRun, DryRunRequest, LiveState};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, ListParams, Patch, PatchParams};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// Reads the ApplySet parent (absent on the first run).
pub async fn read_inventory(cluster: &Cluster, parent: &ApplySetRef) -> Result<Inventory, ReconcileError> {
    let api: Api<ConfigMap> = Api::namespaced(cluster.client().clone(), &parent.namespace);
    let live = api
        .get_opt(&parent.name)
        .await
        .map_err(|e| ReconcileError::kube(Some(&parent.object_id()), "read inventory", &e))?;
    let live = live.map(|cm| serde_json::to_value(cm).expect("ConfigMaps serialise"));
    Inventory::from_parent(parent.clone(), live.as_ref()).map_err(|detail| {
        ReconcileError::object(&parent.object_id(), "read inventory", Cause::Other { detail })
    })
}

/// Kinds whose CRD is itself in the desired set (so they may not be served yet).
pub fn kinds_defined_by(desired: &[Manifest]) -> BTreeSet<GroupKind> {
    desired
        .iter()
        .filter(|m| {
            let id = m.id();
            id.group == "apiextensions.k8s.io" && id.kind == "CustomResourceDefinition"
        })
        .filter_map(|m| {
            let v = m.value();
            Some(GroupKind {
                group: v.pointer("/spec/group")?.as_str()?.to_string(),
                kind: v.pointer("/spec/names/kind")?.as_str()?.to_string(),
            })
        })
        .collect()
}

/// What the LISTs found, plus the desired kinds not served yet (their CRD is applied first).
pub struct Listing {
    pub live: LiveState,
    pub pending: BTreeSet<GroupKind>,
    /// How many LIST requests were made.
    pub lists: usize,
}

/// Lists every member of the set: for each kind in the inventory or the desired set, one LIST
/// per namespace (or one for cluster-scoped kinds) with the `part-of` label selector. Also
/// checks each desired object's scope against discovery.
pub async fn list_members(
    cluster: &Cluster,
    inventory: &Inventory,
    desired: &[Manifest],
) -> Result<Listing, ReconcileError> {
    let defined = kinds_defined_by(desired);
    // Desired kinds with the version the spec uses; inventory kinds at the preferred version.
    let mut kinds: BTreeMap<GroupKind, Option<String>> = inventory
        .group_kinds
        .iter()
        .map(|gk| (gk.clone(), None))
        .collect();
    let mut namespaces = inventory.namespaces.clone();
    let mut first_of_kind: BTreeMap<GroupKind, ObjectId> = BTreeMap::new();
    for m in desired {
        let id = m.id();
        kinds.insert(id.group_kind(), Some(id.version.clone()));
        if !id.namespace.is_empty() {
            namespaces.insert(id.namespace.clone());
        }
        first_of_kind.entry(id.group_kind()).or_insert(id);
    }

    let mut pending = BTreeSet::new();
    let mut resolved: Vec<(GroupKind, Resource)> = Vec::new();
    for (gk, version) in &kinds {
        match cluster.resolve(gk, version.as_deref()) {
            Some(r) => resolved.push((gk.clone(), r)),
            None if defined.contains(gk) => {
                pending.insert(gk.clone());
            }
            // A kind only the inventory mentions and the server no longer serves (its CRD was
            // removed): no member of it can exist any more.
            None if !first_of_kind.contains_key(gk) => {}
            None => return Err(not_served(&first_of_kind[gk])),
        }
    }
    for m in desired {
        let id = m.id();
        if let Some((_, r)) = resolved.iter().find(|(gk, _)| *gk == id.group_kind()) {
            check_scope(&id, r)?;
        }
    }

    let selector = format!("{PART_OF}={}", inventory.id());
    let mut jobs: Vec<(GroupKind, Resource, String)> = Vec::new();
    for (gk, r) in resolved {
        if r.namespaced {
            for ns in &namespaces {
                jobs.push((gk.clone(), r.clone(), ns.clone()));
            }
        } else {
            jobs.push((gk, r, String::new()));
        }
    }
    let lists = jobs.len();
    let results = bounded(jobs, |(gk, r, ns)| {
        let api = cluster.api(&r, &ns);
        let lp = ListParams::default().labels(&selector);
        async move {
            let result = api.list(&lp).await;
            (gk, r, ns, result)
        }
    })
    .await;
    let mut live = LiveState::default();
    for (gk, r, ns, result) in results {
        let list = result.map_err(|e| {
            let mut err = ReconcileError::kube(None, "list", &e);
            err.operation = if ns.is_empty() {
                format!("list {gk}")
            } else {
                format!("list {gk} in namespace {ns}")
            };
            err
        })?;
        for item in list.items {
            let mut v = serde_json::to_value(item).expect("objects serialise");
            if let Some(o) = v.as_object_mut() {
                o.insert("apiVersion".into(), Value::String(r.api.api_version.clone()));
                o.insert("kind".into(), Value::String(r.api.kind.clone()));
            }
            if let Ok(id) = ObjectId::from_value(&v) {
                live.objects.insert(id, v);
            }
        }
    }
    Ok(Listing { live, pending, lists })
}

/// A namespaced object needs a namespace, and a cluster-scoped one must not have one: both
/// would otherwise fail later with a less clear message.
pub fn check_scope(id: &ObjectId, r: &Resource) -> Result<(), ReconcileError> {
    let detail = match (r.namespaced, id.namespace.is_empty()) {
        (true, true) => format!(
            "{} is namespaced but the object has no metadata.namespace; set one in the spec",
            id.kind
        ),
        (false, false) => format!(
            "{} is cluster-scoped but the object sets metadata.namespace {:?}; remove it",
            id.kind, id.namespace
        ),
        _ => return Ok(()),
    };
    Err(ReconcileError::object(id, "check", Cause::Invalid { detail }))
}

/// Server-side apply parameters for kiln.
pub fn apply_params(force: bool, dry_run: bool) -> PatchParams {
    PatchParams {
        dry_run,
        force,
        field_manager: Some(FIELD_MANAGER.into()),
        ..PatchParams::default()
    }
}

/// Runs the dry runs the planner asked for. Rejections are data for the planner; transport
/// and credential failures end the run (a plan made without them would be wrong).
pub async fn dry_runs(
    cluster: &Cluster,
    requests: Vec<DryRunRequest>,
) -> Result<BTreeMap<ObjectId, DryRun>, ReconcileError> {
    let mut jobs = Vec::new();
    for req in requests {
        let r = cluster.resolve_id(&req.id)?;
        jobs.push((cluster.api(&r, &req.id.namespace), req));
    }
    let results = bounded(jobs, |(api, req)| async move {
        let pp = apply_params(req.force, true);
        let res = api.patch(&req.id.name, &pp, &Patch::Apply(&req.body)).await;
        (req.id, res)
    })
    .await;
    let mut out = BTreeMap::new();
    for (id, res) in results {
        let outcome = match res {
            Ok(obj) => DryRun::Applied(serde_json::to_value(obj).expect("objects serialise")),
            // A rejection of this one object (conflict, invalid, webhook, RBAC) is planned as
            // blocked; only rejected credentials end the run.
            Err(kube::Error::Api(s)) if s.code != 401 => DryRun::Rejected(ApiFailure {
                code: s.code,
                reason: s.reason.clone(),
                message: s.message.clone(),
            }),
            Err(e) => return Err(ReconcileError::kube(Some(&id), "dry-run apply", &e)),
        };
        out.insert(id, outcome);
    }
    Ok(out)
}
