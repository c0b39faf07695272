//! Object identity and the desired-object newtype.
//!
//! Everything the engine decides is keyed by [`ObjectId`] (group, version, kind, namespace,
//! name). The version is carried for requests but ignored for identity comparisons between
//! desired and live state, because the same object is reachable under several versions.
//! [`Manifest`] wraps a `serde_json::Value` that has been checked to be a Kubernetes object
//! and carries its `kiln.dev/content-hash` (always recomputed here, see [`Manifest::new`], with
//! the compiler's [`kiln_compiler::manifest::hash::content_hash`]).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::cmp::Ordering;
use std::fmt;

/// The content hash (`kiln.dev/content-hash`) is the compiler's: one definition of the hash
/// form (sorted compact JSON without `kiln.dev/content-hash` and `kiln.dev/source`), so the
/// compiler's stamp and the reconciler's check always agree.
pub use kiln_compiler::manifest::hash::{CONTENT_HASH, content_hash};
/// Annotation opting an object out of pruning (`disabled`) or a PVC into it (`enabled`).
pub const PRUNE_ANNOTATION: &str = "kiln.dev/prune";
/// Annotation listing JSON pointers of fields whose values are never printed.
pub const SECRET_FIELDS: &str = "kiln.dev/secret-fields";
/// The field manager name kiln applies with.
pub const FIELD_MANAGER: &str = "kiln";
/// Annotations that record where an object came from, not what it is: the `kiln.dev/source`
/// trace. They are written along with a real change, but a difference in them alone is never
/// a change: it causes no dry run and no write, and plans never show it (editing a comment
/// moves line numbers; running kiln from another directory or machine changes nothing).
pub const PROVENANCE: [&str; 1] = [kiln_compiler::manifest::hash::SOURCE];

/// `metadata.<field>` without the provenance annotations (`field` is `labels` or
/// `annotations`; only annotations carry provenance).
pub fn without_provenance(field: &str, value: &Value) -> Value {
    let mut value = value.clone();
    if field == "annotations"
        && let Some(m) = value.as_object_mut()
    {
        for k in PROVENANCE {
            m.remove(k);
        }
    }
    value
}

/// An object with its provenance annotations removed (for comparisons and diffs). An
/// `annotations` map left empty is removed too, so it cannot show up as a change.
pub fn strip_provenance(mut obj: Value) -> Value {
    if let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut)
        && let Some(ann) = meta.get_mut("annotations").and_then(Value::as_object_mut)
    {
        for k in PROVENANCE {
            ann.remove(k);
        }
        if ann.is_empty() {
            meta.remove("annotations");
        }
    }
    obj
}

/// A group and kind, the unit the ApplySet parent records and the unit LISTs are made for.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct GroupKind {
    pub group: String,
    pub kind: String,
}

impl fmt::Display for GroupKind {
    /// `Kind.group`, or `Kind` for the core group: the format of kubectl's
    /// `applyset.kubernetes.io/contains-group-kinds`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.group.is_empty() {
            f.write_str(&self.kind)
        } else {
            write!(f, "{}.{}", self.kind, self.group)
        }
    }
}

impl GroupKind {
    /// Parses `Kind.group` / `Kind` (the inverse of `Display`).
    pub fn parse(s: &str) -> Option<GroupKind> {
        let s = s.trim();
        if s.is_empty() {
            return None;
        }
        Some(match s.split_once('.') {
            Some((kind, group)) => GroupKind {
                group: group.to_string(),
                kind: kind.to_string(),
            },
            None => GroupKind {
                group: String::new(),
                kind: s.to_string(),
            },
        })
    }
}

/// Identity of one object. Equality and order ignore `version` (see the module docs).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ObjectId {
    pub group: String,
    pub version: String,
    pub kind: String,
    /// Empty for cluster-scoped objects.
    pub namespace: String,
    pub name: String,
}

impl ObjectId {
    fn key(&self) -> (&str, &str, &str, &str) {
        (&self.group, &self.kind, &self.namespace, &self.name)
    }

    /// The group and kind.
    pub fn group_kind(&self) -> GroupKind {
        GroupKind {
            group: self.group.clone(),
            kind: self.kind.clone(),
        }
    }

    /// `group/version` or `version` for the core group.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// Reads the identity of any object-shaped value.
    pub fn from_value(v: &Value) -> Result<ObjectId, String> {
        let api_version = v
            .get("apiVersion")
            .and_then(Value::as_str)
            .ok_or("missing apiVersion")?;
        let kind = v
            .get("kind")
            .and_then(Value::as_str)
            .filter(|k| !k.is_empty())
            .ok_or("missing kind")?;
        let meta = v.get("metadata");
        let name = meta
            .and_then(|m| m.get("name"))
            .and_then(Value::as_str)
            .filter(|n| !n.is_empty())
            .ok_or_else(|| format!("{kind} without metadata.name (generateName is not supported: kiln needs stable names to find objects again)"))?;
        let namespace = meta
            .and_then(|m| m.get("namespace"))
            .and_then(Value::as_str)
            .unwrap_or("");
        let (group, version) = match api_version.split_once('/') {
            Some((g, v)) => (g, v),
            None => ("", api_version),
        };
        Ok(ObjectId {
            group: group.into(),
            version: version.into(),
            kind: kind.into(),
            namespace: namespace.into(),
            name: name.into(),
        })
    }
}

impl PartialEq for ObjectId {
    fn eq(&self, other: &Self) -> bool {
        self.key() == other.key()
    }
}
impl Eq for ObjectId {}
impl std::hash::Hash for ObjectId {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.key().hash(state)
    }
}
impl PartialOrd for ObjectId {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for ObjectId {
    fn cmp(&self, other: &Self) -> Ordering {
        self.key().cmp(&other.key())
    }
}

impl fmt::Display for ObjectId {
    /// `Kind/namespace/name`, or `Kind/name` for cluster-scoped objects.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.namespace.is_empty() {
            write!(f, "{}/{}", self.kind, self.name)
        } else {
            write!(f, "{}/{}/{}", self.kind, self.namespace, self.name)
        }
    }
}

/// One desired object: a JSON object with apiVersion, kind and metadata.name, whose
/// `kiln.dev/content-hash` annotation is present (added by [`Manifest::new`] when missing).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(transparent)]
pub struct Manifest(Value);

impl Manifest {
    /// Checks the shape and sets the content hash annotation to the hash of the content.
    ///
    /// A hash already present is recomputed, not trusted: a hand-edited manifest that kept
    /// a stale hash would otherwise be planned as unchanged and the edit would silently never
    /// reach the cluster. Hashing costs microseconds per object.
    pub fn new(mut value: Value) -> Result<Manifest, String> {
        if !value.is_object() {
            return Err("a manifest must be a JSON/YAML mapping".into());
        }
        ObjectId::from_value(&value)?;
        let hash = content_hash(&value);
        if annotation(&value, CONTENT_HASH) != Some(hash.as_str()) {
            set_annotation(&mut value, CONTENT_HASH, &hash);
        }
        Ok(Manifest(value))
    }

    /// The object.
    pub fn value(&self) -> &Value {
        &self.0
    }

    /// Consumes the newtype.
    pub fn into_value(self) -> Value {
        self.0
    }

    /// The identity (infallible: checked in [`Manifest::new`]).
    pub fn id(&self) -> ObjectId {
        ObjectId::from_value(&self.0).expect("checked in Manifest::new")
    }

    /// The `kiln.dev/content-hash` annotation (always present).
    pub fn hash(&self) -> &str {
        annotation(&self.0, CONTENT_HASH).unwrap_or_default()
    }
}

/// Reads manifests from YAML or JSON text: several `---`-separated documents, each an object
/// or a `kind: List` of objects; empty documents are skipped. For plain-manifest input
/// (`kiln apply` on a folder of YAML) until the compiler feeds objects directly.
pub fn parse_documents(text: &str) -> Result<Vec<Manifest>, String> {
    use serde::Deserialize as _;
    let mut out = Vec::new();
    for (i, doc) in serde_norway::Deserializer::from_str(text).enumerate() {
        let v = Value::deserialize(doc).map_err(|e| format!("document {}: {e}", i + 1))?;
        let items = match v {
            Value::Null => continue,
            Value::Object(ref m) if m.get("kind").and_then(Value::as_str) == Some("List") => m
                .get("items")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default(),
            other => vec![other],
        };
        for item in items {
            out.push(Manifest::new(item).map_err(|e| format!("document {}: {e}", i + 1))?);
        }
    }
    Ok(out)
}

/// An annotation's value.
pub fn annotation<'a>(obj: &'a Value, key: &str) -> Option<&'a str> {
    obj.get("metadata")?.get("annotations")?.get(key)?.as_str()
}

/// A label's value.
pub fn label<'a>(obj: &'a Value, key: &str) -> Option<&'a str> {
    obj.get("metadata")?.get("labels")?.get(key)?.as_str()
}

fn metadata_map<'a>(obj: &'a mut Value, field: &str) -> &'a mut Map<String, Value> {
    let meta = obj
        .as_object_mut()
        .expect("objects only")
        .entry("metadata")
        .or_insert_with(|| Value::Object(Map::new()));
    if !meta.is_object() {
        *meta = Value::Object(Map::new());
    }
    let m = meta
        .as_object_mut()
        .expect("just made an object")
        .entry(field)
        .or_insert_with(|| Value::Object(Map::new()));
    if !m.is_object() {
        *m = Value::Object(Map::new());
    }
    m.as_object_mut().expect("just made an object")
}

/// Sets an annotation, creating `metadata.annotations` when needed.
pub fn set_annotation(obj: &mut Value, key: &str, value: &str) {
    metadata_map(obj, "annotations").insert(key.into(), Value::String(value.into()));
}

/// Sets a label, creating `metadata.labels` when needed.
pub fn set_label(obj: &mut Value, key: &str, value: &str) {
    metadata_map(obj, "labels").insert(key.into(), Value::String(value.into()));
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn hash_ignores_key_order_and_its_own_annotation() {
        let a =
            json!({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a"},"data":{"x":"1","y":"2"}});
        let b = json!({"kind":"ConfigMap","data":{"y":"2","x":"1"},"metadata":{"name":"a","annotations":{CONTENT_HASH:"zzz"}},"apiVersion":"v1"});
        assert_eq!(content_hash(&a), content_hash(&b));
        let c =
            json!({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a"},"data":{"x":"2","y":"2"}});
        assert_ne!(content_hash(&a), content_hash(&c));
    }

    #[test]
    fn hash_is_the_compilers_and_ignores_the_source_trace() {
        let a = json!({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a"}});
        let b = json!({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a","annotations":{"kiln.dev/source":"x.kiln:3"}}});
        assert_eq!(content_hash(&a), content_hash(&b));
        assert_eq!(
            Manifest::new(b).unwrap().hash(),
            kiln_compiler::manifest::hash::content_hash(&a)
        );
    }

    #[test]
    fn manifest_sets_the_hash_of_its_content() {
        let m = Manifest::new(json!({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a"}})).unwrap();
        assert_eq!(m.hash().len(), 64);
        // A stale hash (hand-edited output) is replaced, so the edit is not planned away.
        let stale = Manifest::new(json!({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a","annotations":{CONTENT_HASH:"h1"}}})).unwrap();
        assert_eq!(stale.hash(), m.hash());
    }

    #[test]
    fn parses_multi_document_yaml_and_lists() {
        let text = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: n}\n---\n---\n{\"apiVersion\":\"v1\",\"kind\":\"List\",\"items\":[{\"apiVersion\":\"v1\",\"kind\":\"Secret\",\"metadata\":{\"name\":\"b\",\"namespace\":\"n\"}}]}\n";
        let ms = parse_documents(text).unwrap();
        let ids: Vec<String> = ms.iter().map(|m| m.id().to_string()).collect();
        assert_eq!(ids, ["ConfigMap/n/a", "Secret/n/b"]);
        let err = parse_documents("kind: ConfigMap\n").unwrap_err();
        assert!(err.starts_with("document 1: missing apiVersion"), "{err}");
    }

    #[test]
    fn manifest_rejects_non_objects_and_missing_names() {
        assert!(Manifest::new(json!([1])).is_err());
        let err =
            Manifest::new(json!({"apiVersion":"batch/v1","kind":"Job","metadata":{"generateName":"x-"}}))
                .unwrap_err();
        assert!(err.contains("generateName"), "{err}");
    }

    #[test]
    fn ids_compare_without_version_and_print_kind_namespace_name() {
        let a = ObjectId::from_value(&json!({"apiVersion":"kubeflow.org/v1","kind":"Notebook","metadata":{"name":"nb","namespace":"team"}})).unwrap();
        let mut b = a.clone();
        b.version = "v1beta1".into();
        assert_eq!(a, b);
        assert_eq!(a.to_string(), "Notebook/team/nb");
        assert_eq!(a.api_version(), "kubeflow.org/v1");
        let ns =
            ObjectId::from_value(&json!({"apiVersion":"v1","kind":"Namespace","metadata":{"name":"team"}}))
                .unwrap();
        assert_eq!(ns.to_string(), "Namespace/team");
    }

    #[test]
    fn group_kind_round_trips_kubectl_format() {
        for s in [
            "ConfigMap",
            "Deployment.apps",
            "InferenceService.serving.kserve.io",
        ] {
            assert_eq!(GroupKind::parse(s).unwrap().to_string(), s);
        }
    }
}
