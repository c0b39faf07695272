//! Emitted Kubernetes objects: the [`Manifest`] newtype, canonical output, content hashing and
//! validation against upstream schemas.
//!
//! This layer sits after lowering and knows nothing of the kiln language: it takes
//! `serde_json` values (and schema texts the CLI has read from disk) and never touches the file
//! system, so the compiler stays pure.
//!
//! - [`canonical`]: deterministic key order, YAML (multi-document) and JSON rendering;
//!   [`yaml`]: the YAML emitter (quotes what YAML 1.1 readers such as kubectl would re-type).
//! - [`hash`]: the `kiln.dev/content-hash` annotation, the `kiln.dev/source` trace annotation
//!   and content-derived names for run-like objects.
//! - [`validate`]: CRD `openAPIV3Schema` / OpenAPI definitions turned into JSON Schema and
//!   checked like the apiserver does with strict field validation.

pub mod canonical;
pub mod hash;
pub mod validate;
pub mod yaml;

use std::fmt;

use serde::Deserialize;
use serde_json::{Map, Value};

pub use canonical::{to_json, to_json_doc, to_yaml, to_yaml_doc};
pub use hash::{CONTENT_HASH, SOURCE, content_hash, content_name, name_by_content, stamp};
pub use validate::{NoSchema, SchemaError, SchemaSet, Violation};

/// Group, version and kind: the key schemas are indexed by. The core group is `""`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Gvk {
    pub group: String,
    pub version: String,
    pub kind: String,
}

impl Gvk {
    pub fn new(group: &str, version: &str, kind: &str) -> Gvk {
        Gvk {
            group: group.into(),
            version: version.into(),
            kind: kind.into(),
        }
    }

    /// From an `apiVersion` (`group/version`, or `version` for the core group) and a kind.
    pub fn from_api_version(api_version: &str, kind: &str) -> Gvk {
        let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
        Gvk::new(group, version, kind)
    }

    /// `group/version` (or `version` for the core group).
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }
}

impl fmt::Display for Gvk {
    /// `apiVersion Kind`, e.g. `kubeflow.org/v1 PyTorchJob`: how users write it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.api_version(), self.kind)
    }
}

/// Why a value is not a manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ManifestError {
    /// The value is not a JSON object.
    NotAnObject,
    /// `apiVersion` or `kind` is missing or not a non-empty string.
    MissingField(&'static str),
    /// A YAML document could not be read (message from the YAML parser).
    Yaml(String),
}

impl fmt::Display for ManifestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ManifestError::NotAnObject => f.write_str("a manifest must be a mapping"),
            ManifestError::MissingField(field) => write!(f, "a manifest needs a non-empty string `{field}`"),
            ManifestError::Yaml(msg) => write!(f, "invalid YAML: {msg}"),
        }
    }
}

impl std::error::Error for ManifestError {}

/// One Kubernetes object: a JSON object whose `apiVersion` and `kind` are non-empty strings.
///
/// `metadata.name` is not required here because upstream objects may use `generateName` and
/// run-like objects get their name from their content ([`name_by_content`]).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(transparent)]
pub struct Manifest(Value);

impl Manifest {
    /// Checks the shape (object, `apiVersion`, `kind`).
    pub fn new(value: Value) -> Result<Manifest, ManifestError> {
        let obj = value.as_object().ok_or(ManifestError::NotAnObject)?;
        for field in ["apiVersion", "kind"] {
            match obj.get(field).and_then(Value::as_str) {
                Some(s) if !s.is_empty() => {}
                _ => return Err(ManifestError::MissingField(field)),
            }
        }
        Ok(Manifest(value))
    }

    /// Reads every non-empty document of a (multi-document) YAML or JSON text.
    ///
    /// Empty documents (a trailing `---`, a comment-only document) are skipped, as kubectl does.
    pub fn parse_stream(text: &str) -> Result<Vec<Manifest>, ManifestError> {
        let mut out = Vec::new();
        for doc in serde_norway::Deserializer::from_str(text) {
            let value = Value::deserialize(doc).map_err(|e| ManifestError::Yaml(e.to_string()))?;
            if !value.is_null() {
                out.push(Manifest::new(value)?);
            }
        }
        Ok(out)
    }

    pub fn value(&self) -> &Value {
        &self.0
    }

    pub fn into_value(self) -> Value {
        self.0
    }

    /// The top-level object (infallible: checked in [`Manifest::new`]).
    pub fn as_object(&self) -> &Map<String, Value> {
        self.0.as_object().expect("checked in Manifest::new")
    }

    /// Mutable access for lowering passes. Callers must keep `apiVersion` and `kind` strings.
    pub fn as_object_mut(&mut self) -> &mut Map<String, Value> {
        self.0.as_object_mut().expect("checked in Manifest::new")
    }

    pub fn api_version(&self) -> &str {
        self.str_field("apiVersion")
    }

    pub fn kind(&self) -> &str {
        self.str_field("kind")
    }

    pub fn gvk(&self) -> Gvk {
        Gvk::from_api_version(self.api_version(), self.kind())
    }

    pub fn metadata(&self) -> Option<&Map<String, Value>> {
        self.0.get("metadata")?.as_object()
    }

    pub fn name(&self) -> Option<&str> {
        self.metadata()?.get("name")?.as_str()
    }

    pub fn generate_name(&self) -> Option<&str> {
        self.metadata()?.get("generateName")?.as_str()
    }

    pub fn namespace(&self) -> Option<&str> {
        self.metadata()?.get("namespace")?.as_str()
    }

    pub fn annotation(&self, key: &str) -> Option<&str> {
        self.metadata()?.get("annotations")?.get(key)?.as_str()
    }

    pub fn label(&self, key: &str) -> Option<&str> {
        self.metadata()?.get("labels")?.get(key)?.as_str()
    }

    /// Sets `metadata.name`, creating `metadata` when needed.
    pub fn set_name(&mut self, name: &str) {
        self.metadata_mut()
            .insert("name".into(), Value::String(name.into()));
    }

    /// Sets an annotation, creating `metadata.annotations` when needed.
    pub fn set_annotation(&mut self, key: &str, value: &str) {
        self.meta_map_mut("annotations")
            .insert(key.into(), Value::String(value.into()));
    }

    /// Removes an annotation; drops `metadata.annotations` when it becomes empty so that an
    /// object never carries a meaningless `annotations: {}`.
    pub fn remove_annotation(&mut self, key: &str) -> Option<Value> {
        let meta = self.0.get_mut("metadata")?.as_object_mut()?;
        let annotations = meta.get_mut("annotations")?.as_object_mut()?;
        let removed = annotations.shift_remove(key);
        if annotations.is_empty() {
            meta.shift_remove("annotations");
        }
        removed
    }

    /// Sets a label, creating `metadata.labels` when needed.
    pub fn set_label(&mut self, key: &str, value: &str) {
        self.meta_map_mut("labels")
            .insert(key.into(), Value::String(value.into()));
    }

    fn str_field(&self, field: &str) -> &str {
        self.0
            .get(field)
            .and_then(Value::as_str)
            .expect("checked in Manifest::new")
    }

    fn metadata_mut(&mut self) -> &mut Map<String, Value> {
        let meta = self
            .as_object_mut()
            .entry("metadata")
            .or_insert_with(|| Value::Object(Map::new()));
        if !meta.is_object() {
            *meta = Value::Object(Map::new());
        }
        meta.as_object_mut().expect("just made an object")
    }

    fn meta_map_mut(&mut self, field: &str) -> &mut Map<String, Value> {
        let map = self
            .metadata_mut()
            .entry(field)
            .or_insert_with(|| Value::Object(Map::new()));
        if !map.is_object() {
            *map = Value::Object(Map::new());
        }
        map.as_object_mut().expect("just made an object")
    }
}

impl TryFrom<Value> for Manifest {
    type Error = ManifestError;

    fn try_from(value: Value) -> Result<Manifest, ManifestError> {
        Manifest::new(value)
    }
}

impl From<Manifest> for Value {
    fn from(m: Manifest) -> Value {
        m.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn accessors_and_gvk() {
        let mut m = Manifest::new(json!({"apiVersion": "kubeflow.org/v1", "kind": "PyTorchJob"})).unwrap();
        assert_eq!(m.gvk(), Gvk::new("kubeflow.org", "v1", "PyTorchJob"));
        assert_eq!(m.name(), None);
        m.set_name("train");
        m.set_annotation("a", "1");
        m.set_label("l", "2");
        assert_eq!(
            (m.name(), m.annotation("a"), m.label("l")),
            (Some("train"), Some("1"), Some("2"))
        );
        assert_eq!(m.remove_annotation("a"), Some(json!("1")));
        assert!(m.metadata().unwrap().get("annotations").is_none());
        assert_eq!(
            Gvk::from_api_version("v1", "ConfigMap").to_string(),
            "v1 ConfigMap"
        );
    }

    #[test]
    fn rejects_non_objects() {
        assert_eq!(Manifest::new(json!([1])), Err(ManifestError::NotAnObject));
        assert_eq!(
            Manifest::new(json!({"kind": "X"})),
            Err(ManifestError::MissingField("apiVersion"))
        );
        assert_eq!(
            Manifest::new(json!({"apiVersion": "v1", "kind": ""})),
            Err(ManifestError::MissingField("kind"))
        );
    }

    #[test]
    fn parse_stream_skips_empty_documents() {
        let ms =
            Manifest::parse_stream("---\n# only a comment\n---\napiVersion: v1\nkind: A\n---\n").unwrap();
        assert_eq!(ms.len(), 1);
        assert!(Manifest::parse_stream("apiVersion: v1\n").is_err());
    }
}
