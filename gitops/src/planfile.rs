//! The plan file (`kiln plan --git-base .. --git-head .. --cluster --out plan.json`): what was
//! reviewed, so that `kiln apply plan.json` applies exactly that or nothing.
//!
//! It records the base and head commits (and the ref the head was read from), and per app its
//! ApplySet, every desired object's content hash and planned action, and the resourceVersion of
//! every object the plan read from the cluster (desired objects and inventory members). It holds
//! no manifest bodies, so no secret value: apply compiles the recorded head commit again and
//! checks that every object hashes as recorded.
//!
//! A plan is stale, and apply refuses it touching nothing, when ([`stale_reasons`]):
//! * the ref moved past the planned head commit, or
//! * the head compiles to other objects or hashes than recorded, or
//! * a planned object's resourceVersion changed, or an object appeared or disappeared in the
//!   cluster since the plan.
//!
//! Every reason names what moved.

use std::collections::BTreeMap;

use kiln_reconciler::{LiveState, Manifest, Plan};
use serde::{Deserialize, Serialize};

use crate::review::CommitRef;

/// `kind` of a plan file.
pub const PLAN_FILE_KIND: &str = "kiln.dev/plan";
/// Version of the plan file's shape.
pub const PLAN_FILE_VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanFile {
    pub kind: String,
    pub version: u32,
    /// The repository: a local path, or the remote URL without user-info.
    pub repo: String,
    pub base: CommitRef,
    pub head: CommitRef,
    pub apps: Vec<PlannedApp>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlannedApp {
    pub name: String,
    pub applyset: String,
    pub applyset_namespace: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub context: Option<String>,
    pub prune: bool,
    pub objects: Vec<PlannedObject>,
    /// resourceVersion of every live object the plan read (`Kind/namespace/name` -> version).
    pub live: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlannedObject {
    pub id: String,
    pub content_hash: String,
    pub action: String,
}

fn resource_version(v: &serde_json::Value) -> String {
    v.pointer("/metadata/resourceVersion")
        .and_then(serde_json::Value::as_str)
        .unwrap_or("")
        .to_string()
}

/// What one app's plan read and decided.
pub fn record_app(
    app: &crate::project::App,
    prune: bool,
    desired: &[Manifest],
    plan: &Plan,
    live: &LiveState,
) -> PlannedApp {
    PlannedApp {
        name: app.name.clone(),
        applyset: app.applyset.clone(),
        applyset_namespace: app.applyset_namespace.clone(),
        context: app.context.clone(),
        prune,
        objects: desired
            .iter()
            .map(|m| PlannedObject {
                id: m.id().to_string(),
                content_hash: m.hash().to_string(),
                action: plan
                    .get(&m.id())
                    .map_or("unknown", |c| c.action.as_str())
                    .to_string(),
            })
            .collect(),
        live: live
            .objects
            .iter()
            .map(|(id, v)| (id.to_string(), resource_version(v)))
            .collect(),
    }
}

/// Why the recorded app no longer matches what applying now would do (empty: not stale).
/// `desired` is the head compiled again; `live` what the cluster holds now.
pub fn stale_reasons(recorded: &PlannedApp, desired: &[Manifest], live: &LiveState) -> Vec<String> {
    let mut reasons = Vec::new();
    let now: BTreeMap<String, &str> = desired.iter().map(|m| (m.id().to_string(), m.hash())).collect();
    let then: BTreeMap<&str, &str> = recorded
        .objects
        .iter()
        .map(|o| (o.id.as_str(), o.content_hash.as_str()))
        .collect();
    for (id, hash) in &now {
        match then.get(id.as_str()) {
            None => reasons.push(format!("{id} was not in the plan")),
            Some(h) if h != hash => reasons.push(format!("{id} compiles to other content than planned")),
            _ => {}
        }
    }
    for id in then.keys() {
        if !now.contains_key(*id) {
            reasons.push(format!("{id} is in the plan but no longer compiled"));
        }
    }
    let live_now: BTreeMap<String, String> = live
        .objects
        .iter()
        .map(|(id, v)| (id.to_string(), resource_version(v)))
        .collect();
    for (id, rv) in &live_now {
        match recorded.live.get(id) {
            None => reasons.push(format!("{id} appeared in the cluster since the plan")),
            Some(then) if then != rv => reasons.push(format!(
                "{id} changed in the cluster since the plan (resourceVersion {then} -> {rv})"
            )),
            _ => {}
        }
    }
    for id in recorded.live.keys() {
        if !live_now.contains_key(id) {
            reasons.push(format!("{id} was deleted from the cluster since the plan"));
        }
    }
    reasons
}

#[cfg(test)]
mod tests {
    use super::*;
    use kiln_reconciler::ObjectId;
    use serde_json::json;

    fn cm(name: &str, data: &str) -> Manifest {
        Manifest::new(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": "n"}, "data": {"k": data}})).unwrap()
    }

    fn live(rv: &str) -> LiveState {
        let v = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a", "namespace": "n", "resourceVersion": rv}});
        let mut l = LiveState::default();
        l.objects.insert(ObjectId::from_value(&v).unwrap(), v);
        l
    }

    fn recorded(desired: &[Manifest], rv: &str) -> PlannedApp {
        let plan = Plan {
            applyset_id: "x".into(),
            changes: Vec::new(),
            completed_runs: Default::default(),
        };
        let app = crate::review::implicit_app(&["apps".to_string()]);
        record_app(&app, false, desired, &plan, &live(rv))
    }

    #[test]
    fn same_objects_and_versions_are_fresh() {
        let d = [cm("a", "1")];
        assert!(stale_reasons(&recorded(&d, "7"), &d, &live("7")).is_empty());
    }

    #[test]
    fn a_changed_resource_version_is_named() {
        let d = [cm("a", "1")];
        assert_eq!(
            stale_reasons(&recorded(&d, "7"), &d, &live("9")),
            vec!["ConfigMap/n/a changed in the cluster since the plan (resourceVersion 7 -> 9)"]
        );
    }

    #[test]
    fn other_content_is_named() {
        let r = recorded(&[cm("a", "1")], "7");
        assert_eq!(
            stale_reasons(&r, &[cm("a", "2")], &live("7")),
            vec!["ConfigMap/n/a compiles to other content than planned"]
        );
    }
}
