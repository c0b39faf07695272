//! The pure planning core: desired objects + live state + inventory -> a [`Plan`].
//!
//! No I/O happens here. The live state arrives from one LIST per kind and namespace
//! ([`crate::live`]) plus, for the few objects that need one, a server-side apply dry run.
//! [`dry_run_requests`] says which objects need a dry run, so the I/O layer never guesses.
//!
//! Decision per desired object:
//!
//! * not live: **create**; a finished run recorded in the inventory and since removed (by
//!   its TTL) is **skip**ped, never re-created.
//! * live, same content hash, every applied field still owned by manager `kiln`: **unchanged**
//!   (no request at all).
//! * live, same hash, some field now owned by someone else: the dry run (forced, since these
//!   are fields kiln applied last time) is compared with live on kiln's fields; a difference
//!   is **update** marked as drift, otherwise unchanged (the other manager set the same value).
//! * live, different hash: **update** with the dry-run diff. A conflict with another manager
//!   (when not forcing) or any other rejection is **blocked** with a one-paragraph reason; an
//!   immutable-field rejection is **recreate** only when the policy allows it (never for
//!   PersistentVolumeClaims, whose data would go with them).
//! * run-like objects are never updated in place: the same hash is unchanged; a different hash
//!   under the same name is recreate when allowed, else blocked.
//!
//! Per live member no longer desired: **prune**, unless the desired set is partial (skip:
//! nothing is deleted), pruning is off (skip), or the object is protected (PVCs unless
//! annotated `kiln.dev/prune: enabled`, anything annotated `kiln.dev/prune: disabled`):
//! **keep-protected**. Too many prunes at once (see [`PlanPolicy`]) block every prune.

use crate::diff::{differs, object_diff};
use crate::error::{ApiFailure, Cause, ReconcileError};
use crate::inventory::{Inventory, PART_OF};
use crate::managed::{coverage, fields_of, other_managers, project};
use crate::object::{CONTENT_HASH, FIELD_MANAGER, Manifest, ObjectId, annotation, strip_provenance};
use crate::order::apply_key;
use crate::runs::{id_is_run_like, is_finished};
use serde::Serialize;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// The result of a server-side apply dry run.
#[derive(Debug, Clone, PartialEq)]
pub enum DryRun {
    /// The object as the server would store it.
    Applied(Value),
    /// The server refused.
    Rejected(ApiFailure),
}

/// What the cluster holds, as far as the plan needs to know.
#[derive(Debug, Clone, Default)]
pub struct LiveState {
    /// Members of the ApplySet (objects labelled `part-of` the set), from the LISTs.
    pub objects: BTreeMap<ObjectId, Value>,
    /// Dry-run results for the objects [`dry_run_requests`] named.
    pub dry_runs: BTreeMap<ObjectId, DryRun>,
}

/// Knobs of a plan. `Default` is the safe setting.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlanPolicy {
    /// Delete members no longer desired.
    pub prune: bool,
    /// False when the desired set is partial (compilation failed, a source was unreadable):
    /// then nothing is pruned, since a missing object may only be missing from the input.
    pub desired_complete: bool,
    /// Prune PVCs and objects annotated `kiln.dev/prune: disabled` too.
    pub allow_prune_protected: bool,
    /// Allow prunes beyond the mass-prune limits.
    pub allow_mass_prune: bool,
    /// More prunes than this in one run is a mass prune.
    pub mass_prune_max_objects: usize,
    /// Pruning more than this percentage of the inventory (and more than one object) is a
    /// mass prune.
    pub mass_prune_max_percent: usize,
    /// Take ownership of fields other managers own (`--force-conflicts`).
    pub force_conflicts: bool,
    /// Put back fields kiln applied that another manager changed since (drift).
    pub revert_drift: bool,
    /// Delete and re-create objects whose change hits an immutable field, and runs whose spec
    /// changed under the same name. Off by default: it throws away the object's state.
    pub allow_recreate: bool,
}

impl Default for PlanPolicy {
    fn default() -> Self {
        PlanPolicy {
            prune: true,
            desired_complete: true,
            allow_prune_protected: false,
            allow_mass_prune: false,
            mass_prune_max_objects: 10,
            mass_prune_max_percent: 25,
            force_conflicts: false,
            revert_drift: true,
            allow_recreate: false,
        }
    }
}

/// What happens to one object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    Create,
    Update,
    Recreate,
    Unchanged,
    Prune,
    KeepProtected,
    Skip,
    Blocked,
}

impl Action {
    /// The word printed in plans.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Create => "create",
            Action::Update => "update",
            Action::Recreate => "recreate",
            Action::Unchanged => "unchanged",
            Action::Prune => "prune",
            Action::KeepProtected => "keep-protected",
            Action::Skip => "skip",
            Action::Blocked => "blocked",
        }
    }

    /// Whether the action writes to the cluster.
    pub fn writes(self) -> bool {
        matches!(
            self,
            Action::Create | Action::Update | Action::Recreate | Action::Prune
        )
    }
}

/// One object's planned action.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Change {
    pub id: ObjectId,
    pub action: Action,
    /// Why, for anything but a plain create/update/unchanged/prune.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// An update that puts back fields another manager changed.
    pub drift: bool,
    /// Apply with `force` (drift reclaim, or `force_conflicts`).
    pub force: bool,
    /// Masked unified diff of the fields that change (empty when none are shown); for a
    /// create, the whole manifest (shown with `--show-creates`).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub diff: String,
    /// For a create: a one-line summary (images, resources; [`crate::summary`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    /// For `blocked`: the failure, as data.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ReconcileError>,
}

impl Change {
    pub(crate) fn new(id: ObjectId, action: Action) -> Change {
        Change {
            id,
            action,
            reason: None,
            drift: false,
            force: false,
            diff: String::new(),
            summary: None,
            error: None,
        }
    }

    pub(crate) fn because(mut self, reason: impl Into<String>) -> Change {
        self.reason = Some(reason.into());
        self
    }

    pub(crate) fn blocked(id: ObjectId, error: ReconcileError) -> Change {
        let mut c = Change::new(id, Action::Blocked);
        c.reason = Some(error.to_string());
        c.error = Some(error);
        c
    }
}

impl fmt::Display for Change {
    /// `Kind/namespace/name action`, with the reason in parentheses when there is one.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.id, self.action.as_str())?;
        if self.drift {
            f.write_str(" (drift)")?;
        }
        if let Some(r) = &self.reason {
            write!(f, " ({r})")?;
        }
        Ok(())
    }
}

/// Counts per action.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub create: usize,
    pub update: usize,
    pub recreate: usize,
    pub unchanged: usize,
    pub prune: usize,
    pub keep_protected: usize,
    pub skip: usize,
    pub blocked: usize,
}

/// The plan: every desired object in apply order, then every member no longer desired in
/// deletion order.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Plan {
    /// The ApplySet id the plan is for.
    pub applyset_id: String,
    pub changes: Vec<Change>,
    /// Runs known to have finished (desired ones only), for the inventory parent.
    #[serde(skip)]
    pub completed_runs: BTreeSet<ObjectId>,
}

impl Plan {
    /// Counts per action.
    pub fn summary(&self) -> Summary {
        let mut s = Summary::default();
        for c in &self.changes {
            *match c.action {
                Action::Create => &mut s.create,
                Action::Update => &mut s.update,
                Action::Recreate => &mut s.recreate,
                Action::Unchanged => &mut s.unchanged,
                Action::Prune => &mut s.prune,
                Action::KeepProtected => &mut s.keep_protected,
                Action::Skip => &mut s.skip,
                Action::Blocked => &mut s.blocked,
            } += 1;
        }
        s
    }

    /// Whether applying would write anything.
    pub fn has_changes(&self) -> bool {
        self.changes.iter().any(|c| c.action.writes())
    }

    /// Whether some change cannot be made (conflict, mass prune, immutable field, ...).
    pub fn is_blocked(&self) -> bool {
        self.changes.iter().any(|c| c.action == Action::Blocked)
    }

    /// The change for an object.
    pub fn get(&self, id: &ObjectId) -> Option<&Change> {
        self.changes.iter().find(|c| &c.id == id)
    }
}

impl fmt::Display for Plan {
    /// One line per object.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in &self.changes {
            writeln!(f, "{c}")?;
        }
        Ok(())
    }
}

/// Why a plan could not be made at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error("{0} is declared twice in the desired set; every object must be declared once")]
    Duplicate(ObjectId),
    #[error(
        "{0} is kiln's own inventory parent (ApplySet) and cannot be declared in the spec; choose another name"
    )]
    ParentDeclared(ObjectId),
}

/// The body kiln applies for a manifest: the manifest plus the ApplySet membership label.
pub fn apply_body(manifest: &Manifest, applyset_id: &str) -> Value {
    let mut body = manifest.value().clone();
    crate::object::set_label(&mut body, PART_OF, applyset_id);
    body
}

/// A server-side dry run the planner needs.
#[derive(Debug, Clone, PartialEq)]
pub struct DryRunRequest {
    pub id: ObjectId,
    /// What to send (from [`apply_body`]).
    pub body: Value,
    /// Whether to force (reclaiming drifted fields, or `force_conflicts`).
    pub force: bool,
}

/// How a live object relates to its desired manifest before any dry run.
enum Assessment {
    /// Same hash and every applied field owned by kiln.
    Clean,
    /// Same hash, but these applied fields are no longer kiln's.
    Drifted(Vec<String>),
    /// Different content hash.
    Changed,
}

fn assess(manifest: &Manifest, body: &Value, live: &Value) -> Assessment {
    if annotation(live, CONTENT_HASH) != Some(manifest.hash()) {
        return Assessment::Changed;
    }
    let uncovered = match fields_of(live, FIELD_MANAGER) {
        Some(fs) => coverage(&fs, body).1,
        None => vec!["(kiln owns no fields)".into()],
    };
    if uncovered.is_empty() {
        Assessment::Clean
    } else {
        Assessment::Drifted(uncovered)
    }
}

/// The dry runs [`plan`] needs: objects whose hash changed, and objects whose applied fields
/// kiln no longer fully owns. Runs and creates need none.
pub fn dry_run_requests(
    desired: &[Manifest],
    live: &LiveState,
    inventory: &Inventory,
    policy: &PlanPolicy,
) -> Vec<DryRunRequest> {
    let id = inventory.id();
    let mut out = Vec::new();
    for m in desired {
        let oid = m.id();
        let Some(l) = live.objects.get(&oid) else {
            continue;
        };
        if id_is_run_like(&oid) {
            continue;
        }
        let body = apply_body(m, &id);
        let force = match assess(m, &body, l) {
            Assessment::Clean => continue,
            Assessment::Drifted(_) if !policy.revert_drift => continue,
            Assessment::Drifted(_) => true,
            Assessment::Changed => policy.force_conflicts,
        };
        out.push(DryRunRequest { id: oid, body, force });
    }
    out
}

/// Metadata the apiserver adds that is never part of a diff.
fn without_noise(v: &Value) -> Value {
    let mut v = v.clone();
    if let Some(meta) = v.get_mut("metadata").and_then(Value::as_object_mut) {
        for k in [
            "managedFields",
            "resourceVersion",
            "uid",
            "generation",
            "creationTimestamp",
            "selfLink",
        ] {
            meta.remove(k);
        }
    }
    if let Some(o) = v.as_object_mut() {
        o.remove("status");
    }
    v
}

/// Plans the reconciliation (see the module docs).
pub fn plan(
    desired: &[Manifest],
    live: &LiveState,
    inventory: &Inventory,
    policy: &PlanPolicy,
) -> Result<Plan, PlanError> {
    let applyset_id = inventory.id();
    let parent = inventory.parent.object_id();
    let mut seen = BTreeSet::new();
    for m in desired {
        let id = m.id();
        if id == parent {
            return Err(PlanError::ParentDeclared(id));
        }
        if !seen.insert(id.clone()) {
            return Err(PlanError::Duplicate(id));
        }
    }

    let mut ordered: Vec<&Manifest> = desired.iter().collect();
    let ids: Vec<ObjectId> = ordered.iter().map(|m| m.id()).collect();
    let mut order: Vec<usize> = (0..ordered.len()).collect();
    order.sort_by(|&a, &b| apply_key(&ids[a]).cmp(&apply_key(&ids[b])));
    ordered = order.iter().map(|&i| ordered[i]).collect();

    let mut changes = Vec::new();
    let mut completed_runs = BTreeSet::new();
    for m in ordered {
        let id = m.id();
        let body = apply_body(m, &applyset_id);
        let change = match live.objects.get(&id) {
            None => plan_create(&id, &body, inventory),
            Some(l) if id_is_run_like(&id) => {
                if is_finished(&id, l) {
                    completed_runs.insert(id.clone());
                }
                plan_run(&id, m, l, policy)
            }
            Some(l) => plan_existing(&id, m, &body, l, live.dry_runs.get(&id), policy),
        };
        if id_is_run_like(&id) && inventory.completed_runs.contains(&id) {
            completed_runs.insert(id.clone());
        }
        changes.push(change);
    }

    // Objects in the namespace of a Profile created by this run are created once Kubeflow's
    // profile controller has made that namespace: say so, so the plan reads as what happens.
    let profiles = crate::profiles::profile_namespaces(seen.iter());
    let new_profiles: BTreeSet<String> = changes
        .iter()
        .filter(|c| c.action == Action::Create && crate::profiles::is_profile(&c.id))
        .map(|c| c.id.name.clone())
        .collect();
    for c in &mut changes {
        if c.action == Action::Create
            && c.reason.is_none()
            && let Some(profile) = profiles.get(&c.id.namespace)
            && new_profiles.contains(&profile.name)
        {
            c.reason = Some(format!(
                "after namespace {}, which Kubeflow's profile controller creates for Profile {}",
                c.id.namespace, profile.name
            ));
        }
    }

    changes.extend(crate::prune::plan_prunes(&seen, live, policy, desired.is_empty()));
    Ok(Plan {
        applyset_id,
        changes,
        completed_runs,
    })
}

fn plan_create(id: &ObjectId, body: &Value, inventory: &Inventory) -> Change {
    if id_is_run_like(id) && inventory.completed_runs.contains(id) {
        return Change::new(id.clone(), Action::Skip).because(
            "run finished earlier and was removed since (e.g. by its TTL); finished runs are not re-created",
        );
    }
    let mut c = Change::new(id.clone(), Action::Create);
    c.diff = object_diff(id, &json!({}), &without_noise(body));
    c.summary = crate::summary::create_summary(id, body);
    c
}

fn plan_run(id: &ObjectId, m: &Manifest, live: &Value, policy: &PlanPolicy) -> Change {
    if annotation(live, CONTENT_HASH) == Some(m.hash()) {
        return Change::new(id.clone(), Action::Unchanged);
    }
    let why = "a run's spec changed under the same name; runs are never updated in place (the compiler names a changed run anew, so a new run is created instead)";
    if policy.allow_recreate {
        Change::new(id.clone(), Action::Recreate).because(why)
    } else {
        Change::blocked(
            id.clone(),
            ReconcileError::object(
                id,
                "update",
                Cause::Immutable {
                    detail: format!("{why}; rename it, or allow recreate to delete and re-run it"),
                },
            ),
        )
    }
}

fn plan_existing(
    id: &ObjectId,
    m: &Manifest,
    body: &Value,
    live: &Value,
    dry_run: Option<&DryRun>,
    policy: &PlanPolicy,
) -> Change {
    let uncovered = match assess(m, body, live) {
        Assessment::Clean => return Change::new(id.clone(), Action::Unchanged),
        Assessment::Drifted(_) if !policy.revert_drift => {
            return Change::new(id.clone(), Action::Unchanged)
                .because("fields changed by other managers are left alone (drift revert off)");
        }
        Assessment::Drifted(paths) => Some(paths),
        Assessment::Changed => None,
    };
    let drift = uncovered.is_some();
    match dry_run {
        Some(DryRun::Applied(after)) => {
            let fs = fields_of(after, FIELD_MANAGER).unwrap_or_else(|| json!({}));
            // Provenance (the source trace) is not content: never a reason to write.
            let before = strip_provenance(secret_data(id, live, project(live, &fs)));
            let after_p = strip_provenance(secret_data(id, after, project(after, &fs)));
            if drift && !differs(&before, &after_p) {
                // Another manager set the same values kiln applied: ownership is shared,
                // nothing to write.
                return Change::new(id.clone(), Action::Unchanged);
            }
            let mut c = Change::new(id.clone(), Action::Update);
            c.diff = object_diff(id, &before, &after_p);
            c.drift = drift;
            c.force = drift || policy.force_conflicts;
            if let Some(paths) = uncovered {
                c.reason = Some(drift_reason(live, body, &paths));
            }
            c
        }
        Some(DryRun::Rejected(failure)) => {
            let cause = Cause::from_failure(failure);
            let recreate_ok =
                policy.allow_recreate && !(id.group.is_empty() && id.kind == "PersistentVolumeClaim");
            match cause {
                Cause::Immutable { .. } if recreate_ok => Change::new(id.clone(), Action::Recreate)
                    .because(format!("immutable field: {}", failure.message)),
                cause => Change::blocked(id.clone(), ReconcileError::object(id, "dry-run apply", cause)),
            }
        }
        None => {
            // No dry run was possible (its kind is not served yet, because its CRD is created
            // by this same apply): compare the body with live on the body's own fields.
            let mut c = Change::new(id.clone(), Action::Update);
            let fs = fields_of(live, FIELD_MANAGER).unwrap_or_else(|| json!({}));
            c.diff = object_diff(
                id,
                &strip_provenance(project(live, &fs)),
                &strip_provenance(without_noise(body)),
            );
            c.drift = drift;
            c.force = drift || policy.force_conflicts;
            c
        }
    }
}

/// A Secret's `stringData` is write-only: the server folds it into `data`, so kiln's managed
/// `stringData` fields never show a value. Compare `data` as well (it is masked in diffs).
fn secret_data(id: &ObjectId, full: &Value, mut projected: Value) -> Value {
    if id.group.is_empty()
        && id.kind == "Secret"
        && let (Some(data), Some(p)) = (full.get("data"), projected.as_object_mut())
    {
        p.insert("data".into(), data.clone());
    }
    projected
}

/// Names the managers now owning fields kiln applied.
fn drift_reason(live: &Value, body: &Value, uncovered: &[String]) -> String {
    let mut who: Vec<String> = Vec::new();
    for (manager, fs) in other_managers(live, FIELD_MANAGER) {
        let (covered, _) = coverage(&fs, body);
        // A path the other manager owns as a whole (an atomic member) takes every uncovered
        // leaf below it: name the member, as the apiserver does.
        let taken: Vec<&String> = covered
            .iter()
            .filter(|p| {
                uncovered.iter().any(|u| {
                    u == *p
                        || u.strip_prefix(p.as_str())
                            .is_some_and(|rest| rest.starts_with('.') || rest.starts_with('['))
                })
            })
            .collect();
        if !taken.is_empty() {
            who.push(format!(
                "{manager:?} changed {}",
                taken.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
            ));
        }
    }
    if who.is_empty() {
        format!(
            "fields kiln applied were changed or removed: {}",
            uncovered.join(", ")
        )
    } else {
        format!("reverting drift: {}", who.join("; "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::ApplySetRef;
    use serde_json::json;

    fn inv() -> Inventory {
        Inventory::empty(ApplySetRef::new("t", "kiln-system"))
    }

    fn cm(name: &str, data: Value) -> Manifest {
        Manifest::new(json!({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":name,"namespace":"n"},"data":data})).unwrap()
    }

    /// What the server holds after kiln applied `m`: the body plus managedFields of kiln
    /// covering exactly the body, plus server noise.
    fn applied(m: &Manifest) -> Value {
        let mut v = apply_body(m, &inv().id());
        let fs = fieldset(&v);
        v["metadata"]["managedFields"] =
            json!([{"manager":"kiln","operation":"Apply","apiVersion":"v1","fieldsV1":fs}]);
        v["metadata"]["uid"] = json!("u-1");
        v["metadata"]["resourceVersion"] = json!("7");
        v
    }

    fn fieldset(v: &Value) -> Value {
        fn go(v: &Value) -> Value {
            match v {
                Value::Object(m) if !m.is_empty() => {
                    Value::Object(m.iter().map(|(k, c)| (format!("f:{k}"), go(c))).collect())
                }
                _ => json!({}),
            }
        }
        let mut out = serde_json::Map::new();
        for (k, c) in v.as_object().unwrap() {
            match k.as_str() {
                "apiVersion" | "kind" => {}
                "metadata" => {
                    let mut meta = serde_json::Map::new();
                    for mk in ["labels", "annotations"] {
                        if let Some(x) = c.get(mk) {
                            meta.insert(format!("f:{mk}"), go(x));
                        }
                    }
                    out.insert("f:metadata".into(), Value::Object(meta));
                }
                _ => {
                    out.insert(format!("f:{k}"), go(c));
                }
            }
        }
        Value::Object(out)
    }

    fn live_of(objs: &[Value]) -> LiveState {
        LiveState {
            objects: objs
                .iter()
                .map(|o| (ObjectId::from_value(o).unwrap(), o.clone()))
                .collect(),
            dry_runs: BTreeMap::new(),
        }
    }

    fn last_reason(p: &Plan) -> &str {
        p.changes.last().and_then(|c| c.reason.as_deref()).unwrap_or("")
    }

    fn actions(p: &Plan) -> Vec<String> {
        p.changes
            .iter()
            .map(|c| format!("{} {}", c.id, c.action.as_str()))
            .collect()
    }

    #[test]
    fn create_then_unchanged_without_any_dry_run() {
        let a = cm("a", json!({"k":"v"}));
        let p = plan(
            std::slice::from_ref(&a),
            &LiveState::default(),
            &inv(),
            &PlanPolicy::default(),
        )
        .unwrap();
        assert_eq!(actions(&p), ["ConfigMap/n/a create"]);
        assert!(p.changes[0].diff.contains("+  k: v"), "{}", p.changes[0].diff);
        let live = live_of(&[applied(&a)]);
        assert!(dry_run_requests(std::slice::from_ref(&a), &live, &inv(), &PlanPolicy::default()).is_empty());
        let p = plan(&[a], &live, &inv(), &PlanPolicy::default()).unwrap();
        assert_eq!(actions(&p), ["ConfigMap/n/a unchanged"]);
        assert!(!p.has_changes());
    }

    #[test]
    fn a_changed_source_trace_alone_is_no_change_and_needs_no_request() {
        let mut before = cm("a", json!({"k":"v"})).value().clone();
        before["metadata"]["annotations"] = json!({"kiln.dev/source": "/home/alice/team/main.kiln:3"});
        let before = Manifest::new(before).unwrap();
        let mut after = before.value().clone();
        after["metadata"]["annotations"]["kiln.dev/source"] = json!("main.kiln:4");
        let after = Manifest::new(after).unwrap();
        assert_eq!(before.hash(), after.hash(), "the trace is not hashed");
        let mut live = live_of(&[applied(&before)]);
        assert!(
            dry_run_requests(
                std::slice::from_ref(&after),
                &live,
                &inv(),
                &PlanPolicy::default()
            )
            .is_empty()
        );
        let p = plan(
            std::slice::from_ref(&after),
            &live,
            &inv(),
            &PlanPolicy::default(),
        )
        .unwrap();
        assert_eq!(actions(&p), ["ConfigMap/n/a unchanged"]);

        // Even when a dry run is made for another reason (another manager took the trace,
        // same value elsewhere), a difference in the trace alone is not an update.
        let l = live.objects.get_mut(&after.id()).unwrap();
        l["metadata"]["managedFields"][0]["fieldsV1"]["f:metadata"]["f:annotations"]
            .as_object_mut()
            .unwrap()
            .remove("f:kiln.dev/source");
        let reqs = dry_run_requests(
            std::slice::from_ref(&after),
            &live,
            &inv(),
            &PlanPolicy::default(),
        );
        assert!(reqs.is_empty(), "who owns the trace is not drift: {reqs:?}");
        live.dry_runs.insert(after.id(), DryRun::Applied(applied(&after)));
        let mut drifted = applied(&before);
        drifted["data"]["k"] = json!("edited");
        drifted["metadata"]["managedFields"][0]["fieldsV1"]
            .as_object_mut()
            .unwrap()
            .remove("f:data");
        let live = LiveState {
            dry_runs: live.dry_runs.clone(),
            ..live_of(&[drifted])
        };
        let p = plan(
            std::slice::from_ref(&after),
            &live,
            &inv(),
            &PlanPolicy::default(),
        )
        .unwrap();
        let c = &p.changes[0];
        assert_eq!(c.action, Action::Update, "{c}");
        assert!(c.diff.contains("k: edited"), "{}", c.diff);
        assert!(!c.diff.contains("kiln.dev/source"), "trace listed: {}", c.diff);
    }

    #[test]
    fn changed_hash_updates_with_dry_run_diff() {
        let old = cm("a", json!({"k":"v","same":"s"}));
        let new = cm("a", json!({"k":"v2","same":"s"}));
        let mut live = live_of(&[applied(&old)]);
        let reqs = dry_run_requests(std::slice::from_ref(&new), &live, &inv(), &PlanPolicy::default());
        assert_eq!(reqs.len(), 1);
        assert!(!reqs[0].force);
        live.dry_runs.insert(new.id(), DryRun::Applied(applied(&new)));
        let p = plan(&[new], &live, &inv(), &PlanPolicy::default()).unwrap();
        assert_eq!(actions(&p), ["ConfigMap/n/a update"]);
        let d = &p.changes[0].diff;
        assert!(d.contains("-  k: v\n") && d.contains("+  k: v2\n"), "{d}");
        assert!(!d.contains("same"), "{d}");
        assert!(
            !d.contains("resourceVersion") && !d.contains("managedFields"),
            "{d}"
        );
    }

    #[test]
    fn drift_by_another_manager_is_an_update_that_forces() {
        let a = cm("a", json!({"k":"v"}));
        let mut l = applied(&a);
        // kubectl edit changed .data.k: ownership moved.
        l["data"]["k"] = json!("edited");
        // As the apiserver records it: kiln's granular `.data` lost its only member, so the
        // node is gone from kiln's set (it never stays behind as `{}`, which would mean
        // "owns all of .data").
        l["metadata"]["managedFields"][0]["fieldsV1"]
            .as_object_mut()
            .unwrap()
            .remove("f:data");
        l["metadata"]["managedFields"]
            .as_array_mut()
            .unwrap()
            .push(json!({"manager":"kubectl-edit","operation":"Update","fieldsV1":{"f:data":{"f:k":{}}}}));
        let mut live = live_of(&[l]);
        let reqs = dry_run_requests(std::slice::from_ref(&a), &live, &inv(), &PlanPolicy::default());
        assert_eq!(reqs.len(), 1);
        assert!(reqs[0].force, "drift reclaim forces");
        live.dry_runs.insert(a.id(), DryRun::Applied(applied(&a)));
        let p = plan(&[a], &live, &inv(), &PlanPolicy::default()).unwrap();
        let c = &p.changes[0];
        assert_eq!(c.action, Action::Update);
        assert!(c.drift && c.force);
        assert!(
            c.reason
                .as_deref()
                .unwrap()
                .contains("\"kubectl-edit\" changed .data.k"),
            "{c}"
        );
        assert!(
            c.diff.contains("-  k: edited") && c.diff.contains("+  k: v"),
            "{}",
            c.diff
        );
        assert_eq!(c.to_string().lines().count(), 1);
    }

    #[test]
    fn conflict_blocks_naming_the_manager() {
        let old = cm("a", json!({"k":"v"}));
        let new = cm("a", json!({"k":"v","owned-by-other":"x"}));
        let mut live = live_of(&[applied(&old)]);
        live.dry_runs.insert(
            new.id(),
            DryRun::Rejected(ApiFailure {
                code: 409,
                reason: "Conflict".into(),
                message:
                    "Apply failed with 1 conflict: conflict with \"other\" using v1: .data.owned-by-other"
                        .into(),
            }),
        );
        let p = plan(&[new], &live, &inv(), &PlanPolicy::default()).unwrap();
        let c = &p.changes[0];
        assert_eq!(c.action, Action::Blocked);
        assert!(p.is_blocked());
        let r = c.reason.as_deref().unwrap();
        assert!(
            r.contains("\"other\" owns .data.owned-by-other") && r.contains("--force-conflicts"),
            "{r}"
        );
    }

    #[test]
    fn immutable_field_is_blocked_unless_recreate_allowed_and_never_for_pvcs() {
        let old = cm("a", json!({"k":"v"}));
        let new = cm("a", json!({"k":"w"}));
        let mut live = live_of(&[applied(&old)]);
        let rejected = DryRun::Rejected(ApiFailure {
            code: 422,
            reason: "Invalid".into(),
            message:
                "ConfigMap \"a\" is invalid: data: Forbidden: field is immutable when `immutable` is set"
                    .into(),
        });
        live.dry_runs.insert(new.id(), rejected.clone());
        let p = plan(std::slice::from_ref(&new), &live, &inv(), &PlanPolicy::default()).unwrap();
        assert_eq!(p.changes[0].action, Action::Blocked);
        let allow = PlanPolicy {
            allow_recreate: true,
            ..Default::default()
        };
        let p = plan(&[new], &live, &inv(), &allow).unwrap();
        assert_eq!(p.changes[0].action, Action::Recreate);

        let pvc_old = Manifest::new(json!({"apiVersion":"v1","kind":"PersistentVolumeClaim","metadata":{"name":"ws","namespace":"n"},"spec":{"resources":{"requests":{"storage":"1Gi"}}}})).unwrap();
        let pvc_new = Manifest::new(json!({"apiVersion":"v1","kind":"PersistentVolumeClaim","metadata":{"name":"ws","namespace":"n"},"spec":{"storageClassName":"fast","resources":{"requests":{"storage":"1Gi"}}}})).unwrap();
        let mut live = live_of(&[applied(&pvc_old)]);
        live.dry_runs.insert(pvc_new.id(), rejected);
        let p = plan(&[pvc_new], &live, &inv(), &allow).unwrap();
        assert_eq!(p.changes[0].action, Action::Blocked);
    }

    fn job(name: &str, image: &str) -> Manifest {
        Manifest::new(json!({"apiVersion":"kubeflow.org/v1","kind":"PyTorchJob","metadata":{"name":name,"namespace":"n"},"spec":{"image":image}})).unwrap()
    }

    #[test]
    fn runs_are_never_updated_in_place_and_finished_runs_not_recreated() {
        let j1 = job("train-aaaa", "img:1");
        let mut l = applied(&j1);
        l["status"] = json!({"conditions":[{"type":"Succeeded","status":"True"}]});
        let p = plan(
            std::slice::from_ref(&j1),
            &live_of(&[l]),
            &inv(),
            &PlanPolicy::default(),
        )
        .unwrap();
        assert_eq!(p.changes[0].action, Action::Unchanged);
        assert!(p.completed_runs.contains(&j1.id()), "finished run recorded");

        // The TTL removed it; the inventory remembers it finished.
        let mut inventory = inv();
        inventory.completed_runs = p.completed_runs.clone();
        let p = plan(
            std::slice::from_ref(&j1),
            &LiveState::default(),
            &inventory,
            &PlanPolicy::default(),
        )
        .unwrap();
        assert_eq!(p.changes[0].action, Action::Skip);
        assert!(p.completed_runs.contains(&j1.id()), "kept while desired");

        // Same name, different spec: blocked (or recreate when allowed), never an update.
        let j1b = job("train-aaaa", "img:2");
        let live = live_of(&[applied(&j1)]);
        let p = plan(std::slice::from_ref(&j1b), &live, &inv(), &PlanPolicy::default()).unwrap();
        assert_eq!(p.changes[0].action, Action::Blocked);
        assert!(dry_run_requests(&[j1b], &live, &inv(), &PlanPolicy::default()).is_empty());

        // The compiler's rule: a changed spec gets a new name -> create the new, prune the old.
        let j2 = job("train-bbbb", "img:2");
        let p = plan(&[j2], &live, &inv(), &PlanPolicy::default()).unwrap();
        assert_eq!(
            actions(&p),
            ["PyTorchJob/n/train-bbbb create", "PyTorchJob/n/train-aaaa prune"]
        );
    }

    fn many(n: usize) -> Vec<Manifest> {
        (0..n)
            .map(|i| cm(&format!("c{i:02}"), json!({"i": i.to_string()})))
            .collect()
    }

    /// The objects a plan prunes, in its order.
    fn pruned_ids(p: &Plan) -> Vec<String> {
        p.changes
            .iter()
            .filter(|c| c.action == Action::Prune)
            .map(|c| c.id.to_string())
            .collect()
    }

    #[test]
    fn prune_deletes_only_members_no_longer_desired_in_reverse_order() {
        let mut all = many(8);
        let ns =
            Manifest::new(json!({"apiVersion":"v1","kind":"Namespace","metadata":{"name":"n"}})).unwrap();
        all.push(ns.clone());
        let live = live_of(&all.iter().map(applied).collect::<Vec<_>>());
        let keep: Vec<Manifest> = all[1..8].to_vec();
        let p = plan(&keep, &live, &inv(), &PlanPolicy::default()).unwrap();
        let pruned = pruned_ids(&p);
        // The namespace still holds desired objects, so it is not deleted with them.
        assert_eq!(pruned, ["ConfigMap/n/c00"]);
        assert_eq!(p.summary().unchanged, 7);
        assert_eq!(
            p.get(&ns.id()).unwrap().to_string(),
            "Namespace/n keep-protected (namespace n still holds ConfigMap/n/c01, which is kept; deleting the Namespace would delete it with everything in the namespace)"
        );
        // Nothing left in it: the ConfigMaps go before their namespace.
        let other = cm_in("elsewhere", "x");
        let policy = PlanPolicy {
            allow_mass_prune: true,
            ..Default::default()
        };
        let p = plan(std::slice::from_ref(&other), &live, &inv(), &policy).unwrap();
        let pruned = pruned_ids(&p);
        assert_eq!(pruned.len(), 9, "{pruned:?}");
        assert_eq!(pruned.last().map(String::as_str), Some("Namespace/n"));
    }

    fn cm_in(ns: &str, name: &str) -> Manifest {
        Manifest::new(
            json!({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":name,"namespace":ns},"data":{}}),
        )
        .unwrap()
    }

    #[test]
    fn a_namespace_or_profile_holding_a_kept_pvc_is_kept_with_it() {
        let pvc = Manifest::new(json!({"apiVersion":"v1","kind":"PersistentVolumeClaim","metadata":{"name":"ws","namespace":"team"}})).unwrap();
        let profile = Manifest::new(
            json!({"apiVersion":"kubeflow.org/v1","kind":"Profile","metadata":{"name":"team"},"spec":{}}),
        )
        .unwrap();
        let other = cm_in("elsewhere", "x");
        let live = live_of(&[applied(&pvc), applied(&profile), applied(&other)]);
        let policy = PlanPolicy {
            allow_mass_prune: true,
            ..Default::default()
        };
        let p = plan(std::slice::from_ref(&other), &live, &inv(), &policy).unwrap();
        assert_eq!(p.summary().prune, 0, "{p}");
        let profile_line = p.get(&profile.id()).unwrap().to_string();
        assert!(
            profile_line.starts_with("Profile/team keep-protected (namespace team still holds PersistentVolumeClaim/team/ws, which is kept"),
            "{profile_line}"
        );
        let all_in = PlanPolicy {
            allow_prune_protected: true,
            ..policy
        };
        let p = plan(std::slice::from_ref(&other), &live, &inv(), &all_in).unwrap();
        assert_eq!(p.summary().prune, 2, "{p}");
    }

    #[test]
    fn partial_desired_set_prunes_nothing() {
        let all = many(4);
        let live = live_of(&all.iter().map(applied).collect::<Vec<_>>());
        let policy = PlanPolicy {
            desired_complete: false,
            ..Default::default()
        };
        let p = plan(&all[..3], &live, &inv(), &policy).unwrap();
        assert_eq!(p.summary().prune, 0);
        assert_eq!(p.summary().skip, 1);
        assert!(last_reason(&p).contains("partial"));
    }

    #[test]
    fn pvcs_and_prune_disabled_are_kept_unless_opted_in() {
        let pvc = Manifest::new(json!({"apiVersion":"v1","kind":"PersistentVolumeClaim","metadata":{"name":"ws","namespace":"n"}})).unwrap();
        let pvc_opt_in = Manifest::new(json!({"apiVersion":"v1","kind":"PersistentVolumeClaim","metadata":{"name":"scratch","namespace":"n","annotations":{"kiln.dev/prune":"enabled"}}})).unwrap();
        let cm_disabled = Manifest::new(json!({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"keep","namespace":"n","annotations":{"kiln.dev/prune":"disabled"}}})).unwrap();
        let mut all = many(10);
        all.extend([pvc, pvc_opt_in, cm_disabled]);
        let live = live_of(&all.iter().map(applied).collect::<Vec<_>>());
        let p = plan(&all[..10], &live, &inv(), &PlanPolicy::default()).unwrap();
        let tail: Vec<String> = actions(&p)[10..].to_vec();
        assert_eq!(
            tail,
            [
                "PersistentVolumeClaim/n/ws keep-protected",
                "PersistentVolumeClaim/n/scratch prune",
                "ConfigMap/n/keep keep-protected",
            ]
        );
        let all_in = PlanPolicy {
            allow_prune_protected: true,
            ..Default::default()
        };
        let p = plan(&all[..10], &live, &inv(), &all_in).unwrap();
        assert_eq!(p.summary().prune, 3);
    }

    #[test]
    fn mass_prune_guard() {
        // 12 of 40 (more than 10 objects).
        let all = many(40);
        let live = live_of(&all.iter().map(applied).collect::<Vec<_>>());
        let p = plan(&all[12..], &live, &inv(), &PlanPolicy::default()).unwrap();
        assert_eq!(p.summary().prune, 0);
        assert_eq!(p.summary().blocked, 12);
        assert!(last_reason(&p).contains("--allow-mass-prune"));
        let allow = PlanPolicy {
            allow_mass_prune: true,
            ..Default::default()
        };
        assert_eq!(
            plan(&all[12..], &live, &inv(), &allow).unwrap().summary().prune,
            12
        );

        // 3 of 8 (more than 25%), and a single prune is never a mass prune.
        let small = many(8);
        let live = live_of(&small.iter().map(applied).collect::<Vec<_>>());
        assert_eq!(
            plan(&small[3..], &live, &inv(), &PlanPolicy::default())
                .unwrap()
                .summary()
                .blocked,
            3
        );
        assert_eq!(
            plan(&small[2..], &live, &inv(), &PlanPolicy::default())
                .unwrap()
                .summary()
                .prune,
            2
        );
        assert_eq!(
            plan(&small[1..], &live, &inv(), &PlanPolicy::default())
                .unwrap()
                .summary()
                .prune,
            1
        );

        // An empty desired set never prunes without confirmation.
        let one = many(1);
        let live = live_of(&one.iter().map(applied).collect::<Vec<_>>());
        assert_eq!(
            plan(&[], &live, &inv(), &PlanPolicy::default())
                .unwrap()
                .summary()
                .blocked,
            1
        );
    }

    #[test]
    fn duplicates_and_parent_are_rejected() {
        let a = cm("a", json!({}));
        assert!(matches!(
            plan(
                &[a.clone(), a],
                &LiveState::default(),
                &inv(),
                &PlanPolicy::default()
            ),
            Err(PlanError::Duplicate(_))
        ));
        let parent = Manifest::new(json!({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"kiln-t","namespace":"kiln-system"}})).unwrap();
        assert!(matches!(
            plan(&[parent], &LiveState::default(), &inv(), &PlanPolicy::default()),
            Err(PlanError::ParentDeclared(_))
        ));
    }

    #[test]
    fn plan_order_and_lines_are_deterministic() {
        let ns =
            Manifest::new(json!({"apiVersion":"v1","kind":"Namespace","metadata":{"name":"n"}})).unwrap();
        let dep = Manifest::new(
            json!({"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web","namespace":"n"}}),
        )
        .unwrap();
        let a = cm("a", json!({}));
        let p1 = plan(
            &[dep.clone(), a.clone(), ns.clone()],
            &LiveState::default(),
            &inv(),
            &PlanPolicy::default(),
        )
        .unwrap();
        let p2 = plan(
            &[ns, a, dep],
            &LiveState::default(),
            &inv(),
            &PlanPolicy::default(),
        )
        .unwrap();
        assert_eq!(p1.to_string(), p2.to_string());
        assert_eq!(
            p1.to_string(),
            "Namespace/n create\nConfigMap/n/a create\nDeployment/n/web create\n"
        );
    }

    #[test]
    fn objects_in_a_new_profiles_namespace_are_creates_that_follow_it() {
        let profile = Manifest::new(json!({"apiVersion":"kubeflow.org/v1","kind":"Profile","metadata":{"name":"n"},"spec":{"owner":{"kind":"User","name":"a@b.c"}}})).unwrap();
        let a = cm("a", json!({}));
        let p = plan(
            &[a.clone(), profile.clone()],
            &LiveState::default(),
            &inv(),
            &PlanPolicy::default(),
        )
        .unwrap();
        assert_eq!(
            p.to_string(),
            "Profile/n create\nConfigMap/n/a create (after namespace n, which Kubeflow's profile controller creates for Profile n)\n"
        );
        assert!(!p.is_blocked());
        // Once the Profile exists, its namespace does too: a plain create.
        let live = live_of(&[applied(&profile)]);
        let p = plan(&[a, profile], &live, &inv(), &PlanPolicy::default()).unwrap();
        assert_eq!(p.to_string(), "Profile/n unchanged\nConfigMap/n/a create\n");
    }

    #[test]
    fn secret_values_stay_out_of_plans_and_json() {
        let s = Manifest::new(json!({"apiVersion":"v1","kind":"Secret","metadata":{"name":"creds","namespace":"n"},"stringData":{"token":"super-secret-value"}})).unwrap();
        let p = plan(&[s], &LiveState::default(), &inv(), &PlanPolicy::default()).unwrap();
        let json = serde_json::to_string(&p).unwrap();
        assert!(!json.contains("super-secret-value"), "{json}");
        assert!(p.changes[0].diff.contains("token: (secret value hidden"));
    }
}
