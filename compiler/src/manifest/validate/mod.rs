//! Validation of manifests against upstream schemas, as the apiserver would with strict field
//! validation.
//!
//! A [`SchemaSet`] indexes schemas by (group, version, kind): CRD `openAPIV3Schema`s
//! ([`SchemaSet::add_crd_yaml`]) and definitions of an OpenAPI document
//! ([`SchemaSet::add_openapi_json`], used for Katib, whose CRDs are schemaless upstream; a
//! schema from an OpenAPI document wins over a CRD's for the same kind). Schemas are converted
//! to JSON Schema ([`structural`], [`openapi`]) and compiled by the `jsonschema` crate lazily,
//! once per kind, on first use; a `SchemaSet` is `Sync`, so one set can serve parallel callers.
//!
//! Before checking, `null` members of objects are dropped, as the apiserver prunes nulls of
//! non-nullable fields (a `null` where a value is required is then reported as missing).
//!
//! All inputs are texts or values: reading a `--crds DIR` is the CLI's job.

pub mod openapi;
pub mod structural;

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, OnceLock};

use jsonschema::error::{TypeKind, ValidationErrorKind};
use jsonschema::{Draft, PatternOptions, ValidationError, Validator};
use serde::Deserialize;
use serde_json::Value;

use super::{Gvk, Manifest};

/// One problem in one object.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Violation {
    /// JSON pointer (RFC 6901) into the object, e.g. `/spec/pytorchReplicaSpecs/Worker/replicaz`;
    /// `""` is the object itself. For a missing required field it points at that field.
    pub pointer: String,
    pub message: String,
}

impl Violation {
    /// The pointer as a dotted path (`spec.containers[0].name`), the apiserver's spelling.
    pub fn path(&self) -> String {
        dotted(&self.pointer)
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = self.path();
        if path.is_empty() {
            write!(f, "{}", self.message)
        } else {
            write!(f, "{path}: {}", self.message)
        }
    }
}

/// The object's kind has no schema in the set (core kinds such as ConfigMap, or a CRD that was
/// not supplied): it was not checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoSchema(pub Gvk);

impl fmt::Display for NoSchema {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "no schema for {}: not validated", self.0)
    }
}

/// A schema source that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaError {
    /// The caller's label for the source (usually a file name).
    pub origin: String,
    pub message: String,
}

impl fmt::Display for SchemaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.origin, self.message)
    }
}

impl std::error::Error for SchemaError {}

enum Source {
    /// A converted CRD schema.
    Crd(Value),
    /// A definition of a shared OpenAPI document, converted on first use.
    OpenApi { doc: Arc<Value>, definition: String },
}

struct Entry {
    origin: String,
    source: Source,
    compiled: OnceLock<Result<Validator, String>>,
}

impl Entry {
    fn new(origin: &str, source: Source) -> Entry {
        Entry {
            origin: origin.into(),
            source,
            compiled: OnceLock::new(),
        }
    }

    fn validator(&self) -> Result<&Validator, String> {
        self.compiled
            .get_or_init(|| compile(&self.source))
            .as_ref()
            .map_err(Clone::clone)
    }
}

fn compile(source: &Source) -> Result<Validator, String> {
    let converted;
    let schema = match source {
        Source::Crd(schema) => schema,
        Source::OpenApi { doc, definition } => {
            converted = openapi::convert_definition_root(doc, definition)?;
            &converted
        }
    };
    jsonschema::options()
        .with_draft(Draft::Draft4)
        .should_validate_formats(false)
        // Kubernetes patterns are Go RE2 syntax; the `regex` crate is RE2-like and linear-time.
        .with_pattern_options(PatternOptions::regex())
        .build(schema)
        .map_err(|e| e.to_string())
}

/// Schemas by kind; see the module doc.
#[derive(Default)]
pub struct SchemaSet {
    entries: BTreeMap<Gvk, Entry>,
}

impl fmt::Debug for SchemaSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.entries.iter().map(|(k, e)| (k.to_string(), &e.origin)))
            .finish()
    }
}

impl SchemaSet {
    pub fn new() -> SchemaSet {
        SchemaSet::default()
    }

    /// A set from CRD files given as `(origin, text)`; see [`SchemaSet::add_crd_yaml`].
    pub fn from_crd_yaml<'a>(
        texts: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<SchemaSet, SchemaError> {
        let mut set = SchemaSet::new();
        for (origin, text) in texts {
            set.add_crd_yaml(origin, text)?;
        }
        Ok(set)
    }

    /// Adds every CustomResourceDefinition of a (multi-document) YAML or JSON text; other
    /// documents are ignored, so a folder of mixed manifests can be passed. Returns the number
    /// of (group, version, kind) schemas added. A later CRD for the same kind replaces an
    /// earlier one.
    pub fn add_crd_yaml(&mut self, origin: &str, text: &str) -> Result<usize, SchemaError> {
        let err = |message: String| SchemaError {
            origin: origin.into(),
            message,
        };
        let mut added = 0;
        for doc in serde_norway::Deserializer::from_str(text) {
            let value = Value::deserialize(doc).map_err(|e| err(format!("invalid YAML: {e}")))?;
            if value.get("kind").and_then(Value::as_str) == Some("CustomResourceDefinition") {
                added += self.add_crd(origin, &value)?;
            }
        }
        Ok(added)
    }

    /// Adds one CRD (apiextensions.k8s.io/v1, or v1beta1's `spec.validation`); returns the
    /// number of versions added.
    pub fn add_crd(&mut self, origin: &str, crd: &Value) -> Result<usize, SchemaError> {
        let err = |message: String| SchemaError {
            origin: origin.into(),
            message,
        };
        let spec = crd.get("spec").ok_or_else(|| err("CRD without spec".into()))?;
        let group = spec
            .get("group")
            .and_then(Value::as_str)
            .ok_or_else(|| err("CRD without spec.group".into()))?;
        let kind = spec
            .pointer("/names/kind")
            .and_then(Value::as_str)
            .ok_or_else(|| err("CRD without spec.names.kind".into()))?;
        let shared = spec.pointer("/validation/openAPIV3Schema");
        let versions = spec
            .get("versions")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default();
        let mut added = 0;
        for version in versions {
            let name = version
                .get("name")
                .and_then(Value::as_str)
                .ok_or_else(|| err(format!("{kind}: a version without a name")))?;
            let schema = version
                .pointer("/schema/openAPIV3Schema")
                .or(shared)
                .ok_or_else(|| err(format!("{group}/{name} {kind} has no openAPIV3Schema")))?;
            let gvk = Gvk::new(group, name, kind);
            if matches!(
                self.entries.get(&gvk),
                Some(Entry {
                    source: Source::OpenApi { .. },
                    ..
                })
            ) {
                continue;
            }
            let converted = structural::convert_crd_root(schema);
            self.entries
                .insert(gvk, Entry::new(origin, Source::Crd(converted)));
            added += 1;
        }
        Ok(added)
    }

    /// Adds kinds described by definitions of an OpenAPI 3 / Swagger 2 JSON document:
    /// `bindings` maps definition names to kinds (for Katib: [`openapi::katib_bindings`]).
    /// These replace CRD schemas of the same kinds (which, for Katib, are schemaless).
    pub fn add_openapi_json(
        &mut self,
        origin: &str,
        text: &str,
        bindings: &[(String, Gvk)],
    ) -> Result<(), SchemaError> {
        let err = |message: String| SchemaError {
            origin: origin.into(),
            message,
        };
        let doc: Value = serde_json::from_str(text).map_err(|e| err(format!("invalid JSON: {e}")))?;
        let doc = Arc::new(doc);
        for (definition, gvk) in bindings {
            // Converting now reports a missing or dangling definition at load time; the result
            // is cheap to recompute, so only the document is kept.
            openapi::convert_definition_root(&doc, definition).map_err(err)?;
            let source = Source::OpenApi {
                doc: Arc::clone(&doc),
                definition: definition.clone(),
            };
            self.entries.insert(gvk.clone(), Entry::new(origin, source));
        }
        Ok(())
    }

    /// Katib's `swagger.json`: Experiment, Trial and Suggestion (kubeflow.org/v1beta1).
    pub fn add_katib_openapi(&mut self, origin: &str, text: &str) -> Result<(), SchemaError> {
        self.add_openapi_json(origin, text, &openapi::katib_bindings())
    }

    pub fn contains(&self, gvk: &Gvk) -> bool {
        self.entries.contains_key(gvk)
    }

    /// The kinds with a schema, sorted, each with the origin of its schema.
    pub fn kinds(&self) -> impl Iterator<Item = (&Gvk, &str)> {
        self.entries.iter().map(|(g, e)| (g, e.origin.as_str()))
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Compiles every schema now (they are otherwise compiled on first use); reports the first
    /// that fails.
    pub fn compile_all(&self) -> Result<(), SchemaError> {
        for (gvk, entry) in &self.entries {
            entry.validator().map_err(|message| SchemaError {
                origin: entry.origin.clone(),
                message: format!("{gvk}: {message}"),
            })?;
        }
        Ok(())
    }

    /// Checks one object against the schema of its kind. The violations are sorted by pointer;
    /// none means valid. A schema that does not compile is reported as a violation at the root.
    pub fn validate(&self, manifest: &Manifest) -> Result<Vec<Violation>, NoSchema> {
        let gvk = manifest.gvk();
        let entry = self.entries.get(&gvk).ok_or(NoSchema(gvk))?;
        let validator = match entry.validator() {
            Ok(v) => v,
            Err(message) => {
                let message = format!("the schema from {} does not compile: {message}", entry.origin);
                return Ok(vec![Violation {
                    pointer: String::new(),
                    message,
                }]);
            }
        };
        let instance: Cow<'_, Value> = if has_null_member(manifest.value()) {
            Cow::Owned(without_nulls(manifest.value()))
        } else {
            Cow::Borrowed(manifest.value())
        };
        if validator.is_valid(&instance) {
            return Ok(Vec::new());
        }
        let mut out = Vec::new();
        for error in validator.iter_errors(&instance) {
            violations(&error, &mut out);
        }
        out.sort();
        out.dedup();
        Ok(out)
    }
}

/// Turns one `jsonschema` error into violations with kiln's wording.
fn violations(error: &ValidationError<'_>, out: &mut Vec<Violation>) {
    let at = error.instance_path().as_str();
    let child = |name: &str| format!("{at}/{}", name.replace('~', "~0").replace('/', "~1"));
    match error.kind() {
        ValidationErrorKind::AdditionalProperties { unexpected } => {
            for name in unexpected {
                let pointer = child(name);
                let message = format!("unknown field \"{}\"", dotted(&pointer));
                out.push(Violation { pointer, message });
            }
        }
        ValidationErrorKind::Required { property } => {
            let name = property
                .as_str()
                .map_or_else(|| property.to_string(), str::to_string);
            out.push(Violation {
                pointer: child(&name),
                message: "required field is missing".into(),
            });
        }
        ValidationErrorKind::Type { kind } => {
            let expected = match kind {
                TypeKind::Single(t) => t.to_string(),
                TypeKind::Multiple(ts) => ts.iter().map(|t| t.to_string()).collect::<Vec<_>>().join(" or "),
            };
            let message = format!("expected {expected}, found {}", describe(error.instance()));
            out.push(Violation {
                pointer: at.into(),
                message,
            });
        }
        ValidationErrorKind::Enum { options } => {
            let allowed = options.as_array().map_or_else(
                || options.to_string(),
                |o| o.iter().map(Value::to_string).collect::<Vec<_>>().join(", "),
            );
            let message = format!("must be one of {allowed}; found {}", describe(error.instance()));
            out.push(Violation {
                pointer: at.into(),
                message,
            });
        }
        _ => out.push(Violation {
            pointer: at.into(),
            message: error.masked().to_string(),
        }),
    }
}

/// A short description of a value for messages: scalars in full, containers by type only (an
/// object can be large).
fn describe(value: &Value) -> String {
    match value {
        Value::Object(_) => "an object".into(),
        Value::Array(_) => "an array".into(),
        Value::String(s) if s.len() > 80 => format!("a string of {} bytes", s.len()),
        scalar => scalar.to_string(),
    }
}

/// `/spec/containers/0/name` -> `spec.containers[0].name`.
fn dotted(pointer: &str) -> String {
    let mut out = String::new();
    for segment in pointer.split('/').skip(1) {
        let segment = segment.replace("~1", "/").replace("~0", "~");
        if !segment.is_empty() && segment.bytes().all(|b| b.is_ascii_digit()) {
            out.push_str(&format!("[{segment}]"));
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(&segment);
        }
    }
    out
}

fn has_null_member(value: &Value) -> bool {
    match value {
        Value::Object(map) => map.values().any(|v| v.is_null() || has_null_member(v)),
        Value::Array(items) => items.iter().any(has_null_member),
        _ => false,
    }
}

fn without_nulls(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k.clone(), without_nulls(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(without_nulls).collect()),
        scalar => scalar.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const CRD: &str = r#"
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
spec:
  group: example.com
  names: {kind: Thing}
  versions:
  - name: v1
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            required: [size]
            properties:
              size: {x-kubernetes-int-or-string: true, anyOf: [{type: integer}, {type: string}]}
              count: {type: integer, nullable: true}
              mode: {type: string, enum: [a, b]}
              extra: {type: object, x-kubernetes-preserve-unknown-fields: true}
"#;

    fn check(spec: Value) -> Vec<Violation> {
        let set = SchemaSet::from_crd_yaml([("thing.yaml", CRD)]).unwrap();
        let m = Manifest::new(json!({"apiVersion": "example.com/v1", "kind": "Thing",
            "metadata": {"name": "t", "creationTimestamp": null}, "spec": spec}))
        .unwrap();
        set.validate(&m).unwrap()
    }

    #[test]
    fn extensions_and_strictness() {
        assert_eq!(
            check(json!({"size": 1, "count": null, "extra": {"any": [1, {"x": null}]}})),
            []
        );
        assert_eq!(check(json!({"size": "1Gi", "mode": "a"})), []);
        let v = check(json!({"size": 1.5, "mode": "c", "sise": 1}));
        let got: Vec<(&str, &str)> = v
            .iter()
            .map(|v| (v.pointer.as_str(), v.message.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                ("/spec/mode", "must be one of \"a\", \"b\"; found \"c\""),
                ("/spec/sise", "unknown field \"spec.sise\""),
                ("/spec/size", "expected integer or string, found 1.5"),
            ]
        );
        assert_eq!(
            check(json!({})),
            [Violation {
                pointer: "/spec/size".into(),
                message: "required field is missing".into()
            }]
        );
    }

    #[test]
    fn unknown_kind_is_no_schema() {
        let set = SchemaSet::from_crd_yaml([("thing.yaml", CRD)]).unwrap();
        let cm = Manifest::new(json!({"apiVersion": "v1", "kind": "ConfigMap"})).unwrap();
        assert_eq!(set.validate(&cm), Err(NoSchema(Gvk::new("", "v1", "ConfigMap"))));
        assert_eq!(set.len(), 1);
        set.compile_all().unwrap();
    }

    #[test]
    fn dotted_paths() {
        assert_eq!(dotted("/spec/containers/0/a~1b"), "spec.containers[0].a/b");
        assert_eq!(dotted(""), "");
    }
}
