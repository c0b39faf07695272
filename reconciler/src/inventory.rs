//! The inventory: a KEP-3659 ApplySet, so kiln and `kubectl apply --prune --applyset` agree
//! on membership.
//!
//! * Members carry the label `applyset.kubernetes.io/part-of=<id>`.
//! * The parent is a ConfigMap (`kiln-<name>` in a kiln namespace) labelled
//!   `applyset.kubernetes.io/id=<id>`, annotated with `applyset.kubernetes.io/tooling`
//!   (`kiln/v<version>`), `applyset.kubernetes.io/contains-group-kinds` (sorted
//!   `Kind.group` list) and `applyset.kubernetes.io/additional-namespaces` (member
//!   namespaces other than the parent's).
//! * `<id>` is what kubectl computes: `applyset-` + base64url-unpadded(sha256(
//!   `<name>.<namespace>.<kind>.<group>`)) + `-v1`.
//!
//! The parent also keeps kiln's own record of finished runs (ConfigMap data key
//! `completed-runs`, one `Kind.group/namespace/name` a line), so a run deleted by its TTL
//! after finishing is not created again.
//!
//! Like kubectl, the parent's group-kinds and namespaces are widened to the union of old and
//! new before applying (so an interrupted run still lists everything it may have created) and
//! narrowed to what remains after a successful prune.

use crate::object::{GroupKind, ObjectId};
use base64::Engine;
use serde::Serialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;

/// Member label.
pub const PART_OF: &str = "applyset.kubernetes.io/part-of";
/// Parent label.
pub const ID_LABEL: &str = "applyset.kubernetes.io/id";
/// Parent annotation naming the tool that owns the set.
pub const TOOLING: &str = "applyset.kubernetes.io/tooling";
/// Parent annotation listing member group-kinds.
pub const CONTAINS_GROUP_KINDS: &str = "applyset.kubernetes.io/contains-group-kinds";
/// Parent annotation listing member namespaces besides the parent's.
pub const ADDITIONAL_NAMESPACES: &str = "applyset.kubernetes.io/additional-namespaces";
/// kiln's tooling value.
pub const TOOLING_VALUE: &str = concat!("kiln/v", env!("CARGO_PKG_VERSION"));
/// Parent data key recording finished runs.
pub const COMPLETED_RUNS_KEY: &str = "completed-runs";

/// Where the parent object lives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApplySetRef {
    /// The ConfigMap's name.
    pub name: String,
    /// The ConfigMap's namespace.
    pub namespace: String,
}

impl ApplySetRef {
    /// The parent for an applyset called `set` in `namespace` (ConfigMap `kiln-<set>`).
    pub fn new(set: &str, namespace: &str) -> ApplySetRef {
        ApplySetRef {
            name: format!("kiln-{set}"),
            namespace: namespace.to_string(),
        }
    }

    /// The ApplySet id, as kubectl computes it for a ConfigMap parent.
    pub fn id(&self) -> String {
        applyset_id(&self.name, &self.namespace, "ConfigMap", "")
    }

    /// The parent's identity.
    pub fn object_id(&self) -> ObjectId {
        ObjectId {
            group: String::new(),
            version: "v1".into(),
            kind: "ConfigMap".into(),
            namespace: self.namespace.clone(),
            name: self.name.clone(),
        }
    }
}

/// `applyset-<base64url(sha256(name.namespace.kind.group))>-v1` (KEP-3659, kubectl).
pub fn applyset_id(name: &str, namespace: &str, kind: &str, group: &str) -> String {
    let digest = Sha256::digest(format!("{name}.{namespace}.{kind}.{group}").as_bytes());
    format!(
        "applyset-{}-v1",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest)
    )
}

/// What the parent records.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Inventory {
    pub parent: ApplySetRef,
    /// Whether the parent exists in the cluster.
    pub exists: bool,
    pub group_kinds: BTreeSet<GroupKind>,
    /// Member namespaces, the parent's included.
    pub namespaces: BTreeSet<String>,
    /// Runs seen finished.
    pub completed_runs: BTreeSet<ObjectId>,
}

impl Inventory {
    /// A set that has never been applied.
    pub fn empty(parent: ApplySetRef) -> Inventory {
        let mut namespaces = BTreeSet::new();
        namespaces.insert(parent.namespace.clone());
        Inventory {
            parent,
            exists: false,
            group_kinds: BTreeSet::new(),
            namespaces,
            completed_runs: BTreeSet::new(),
        }
    }

    /// The ApplySet id.
    pub fn id(&self) -> String {
        self.parent.id()
    }

    /// Reads a live parent. Refuses a parent owned by another tool (KEP-3659: tools must not
    /// mutate each other's sets) or whose id label does not match its name.
    pub fn from_parent(parent: ApplySetRef, live: Option<&Value>) -> Result<Inventory, String> {
        let mut inv = Inventory::empty(parent);
        let Some(live) = live else { return Ok(inv) };
        inv.exists = true;
        let where_ = format!(
            "ApplySet parent ConfigMap/{}/{}",
            inv.parent.namespace, inv.parent.name
        );
        match crate::object::annotation(live, TOOLING) {
            Some(t) if t.starts_with("kiln/") => {}
            Some(t) => {
                return Err(format!(
                    "{where_} is managed by {t}, not kiln; kiln does not modify another tool's ApplySet. Choose another applyset name or remove that parent."
                ));
            }
            None => {
                return Err(format!(
                    "{where_} exists but has no {TOOLING} annotation, so it is not a kiln inventory. Choose another applyset name or remove that ConfigMap."
                ));
            }
        }
        let id = crate::object::label(live, ID_LABEL).unwrap_or_default();
        if id != inv.id() {
            return Err(format!(
                "{where_} has {ID_LABEL}={id:?} but its name implies {:?}; it was not created by kiln for this set.",
                inv.id()
            ));
        }
        if let Some(gks) = crate::object::annotation(live, CONTAINS_GROUP_KINDS) {
            inv.group_kinds = gks.split(',').filter_map(GroupKind::parse).collect();
        }
        if let Some(nss) = crate::object::annotation(live, ADDITIONAL_NAMESPACES) {
            inv.namespaces.extend(
                nss.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(String::from),
            );
        }
        if let Some(runs) = live
            .pointer(&format!("/data/{COMPLETED_RUNS_KEY}"))
            .and_then(Value::as_str)
        {
            inv.completed_runs = runs.lines().filter_map(parse_run).collect();
        }
        Ok(inv)
    }

    /// The parent ConfigMap as kiln applies it.
    pub fn parent_object(&self) -> Value {
        // Sorted as strings, as kubectl writes it, so both tools produce the same value.
        let mut gks: Vec<String> = self.group_kinds.iter().map(|g| g.to_string()).collect();
        gks.sort();
        let extra: Vec<&str> = self
            .namespaces
            .iter()
            .filter(|n| **n != self.parent.namespace)
            .map(String::as_str)
            .collect();
        let runs: Vec<String> = self.completed_runs.iter().map(format_run).collect();
        let mut data = serde_json::Map::new();
        if !runs.is_empty() {
            data.insert(COMPLETED_RUNS_KEY.into(), Value::String(runs.join("\n") + "\n"));
        }
        json!({
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {
                "name": self.parent.name,
                "namespace": self.parent.namespace,
                "labels": {ID_LABEL: self.id()},
                "annotations": {
                    TOOLING: TOOLING_VALUE,
                    CONTAINS_GROUP_KINDS: gks.join(","),
                    ADDITIONAL_NAMESPACES: extra.join(","),
                },
            },
            "data": data,
        })
    }

    /// Whether the parent, as recorded in the cluster, differs from `other` (so a write is
    /// needed).
    pub fn differs_from(&self, other: &Inventory) -> bool {
        self.group_kinds != other.group_kinds
            || self.namespaces != other.namespaces
            || self.completed_runs != other.completed_runs
            || self.exists != other.exists
    }

    /// Widened to also cover `ids` (before applying).
    pub fn superset<'a>(&self, ids: impl IntoIterator<Item = &'a ObjectId>) -> Inventory {
        let mut next = self.clone();
        for id in ids {
            next.group_kinds.insert(id.group_kind());
            if !id.namespace.is_empty() {
                next.namespaces.insert(id.namespace.clone());
            }
        }
        next.exists = true;
        next
    }

    /// Exactly `ids` (after a successful prune); finished runs only while still desired.
    pub fn latest<'a>(
        &self,
        ids: impl IntoIterator<Item = &'a ObjectId>,
        completed_runs: BTreeSet<ObjectId>,
    ) -> Inventory {
        let mut next = Inventory::empty(self.parent.clone()).superset(ids);
        next.completed_runs = completed_runs;
        next
    }
}

fn format_run(id: &ObjectId) -> String {
    format!("{}/{}/{}", id.group_kind(), id.namespace, id.name)
}

fn parse_run(line: &str) -> Option<ObjectId> {
    let mut parts = line.trim().splitn(3, '/');
    let gk = GroupKind::parse(parts.next()?)?;
    let namespace = parts.next()?.to_string();
    let name = parts.next()?.to_string();
    Some(ObjectId {
        group: gk.group,
        version: String::new(),
        kind: gk.kind,
        namespace,
        name,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn applyset_id_matches_kubectl() {
        let id = ApplySetRef::new("team", "kiln-system").id();
        assert!(id.starts_with("applyset-") && id.ends_with("-v1"), "{id}");
        // base64url of 32 bytes without padding is 43 characters.
        assert_eq!(id.len(), "applyset-".len() + 43 + "-v1".len());
        assert!(!id.contains('+') && !id.contains('/') && !id.contains('='));
        assert_eq!(
            applyset_id("kiln-team", "kiln-system", "ConfigMap", ""),
            crate::inventory::tests::reference_id()
        );
    }

    /// `printf 'kiln-team.kiln-system.ConfigMap.' | openssl dgst -sha256 -binary | openssl
    /// base64 -A | tr -d '=' | tr '/+' '_-'`, computed outside Rust,
    /// fixed here so the test fails if the format ever drifts from kubectl's.
    fn reference_id() -> String {
        "applyset-J6NiIv4N70WyVZrsy8dpC0uS3Edi5IHN1udfbd7g2sU-v1".to_string()
    }

    #[test]
    fn parent_round_trips() {
        let mut inv = Inventory::empty(ApplySetRef::new("team", "kiln-system"));
        let ids = [
            ObjectId::from_value(&json!({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a","namespace":"team"}})).unwrap(),
            ObjectId::from_value(&json!({"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"b","namespace":"team"}})).unwrap(),
            ObjectId::from_value(&json!({"apiVersion":"v1","kind":"Namespace","metadata":{"name":"team"}})).unwrap(),
        ];
        inv = inv.superset(ids.iter());
        inv.completed_runs.insert(ObjectId::from_value(&json!({"apiVersion":"kubeflow.org/v1","kind":"PyTorchJob","metadata":{"name":"t-1","namespace":"team"}})).unwrap());
        let obj = inv.parent_object();
        assert_eq!(
            obj["metadata"]["annotations"][CONTAINS_GROUP_KINDS],
            "ConfigMap,Deployment.apps,Namespace"
        );
        assert_eq!(obj["metadata"]["annotations"][ADDITIONAL_NAMESPACES], "team");
        assert_eq!(obj["metadata"]["annotations"][TOOLING], "kiln/v0.1.0");
        let back = Inventory::from_parent(inv.parent.clone(), Some(&obj)).unwrap();
        assert_eq!(back, inv);
    }

    #[test]
    fn refuses_another_tools_parent() {
        let inv = Inventory::empty(ApplySetRef::new("team", "kiln-system"));
        let mut obj = inv.parent_object();
        obj["metadata"]["annotations"][TOOLING] = json!("kubectl/v1.30");
        let err = Inventory::from_parent(inv.parent.clone(), Some(&obj)).unwrap_err();
        assert!(err.contains("kubectl/v1.30"), "{err}");
    }

    #[test]
    fn latest_narrows() {
        let inv = Inventory::empty(ApplySetRef::new("team", "kiln-system"));
        let a = ObjectId::from_value(
            &json!({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a","namespace":"x"}}),
        )
        .unwrap();
        let b = ObjectId::from_value(
            &json!({"apiVersion":"v1","kind":"Secret","metadata":{"name":"b","namespace":"y"}}),
        )
        .unwrap();
        let wide = inv.superset([&a, &b]);
        let narrow = wide.latest([&a], BTreeSet::new());
        assert_eq!(narrow.group_kinds.len(), 1);
        assert!(!narrow.namespaces.contains("y"));
        assert!(narrow.namespaces.contains("kiln-system"));
    }
}
