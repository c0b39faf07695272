//! Kubernetes structural schemas (a CRD's `openAPIV3Schema`) turned into JSON Schema (draft 4,
//! whose boolean `exclusiveMinimum`/`exclusiveMaximum` match OpenAPI 3.0).
//!
//! What the apiserver does beyond plain JSON Schema, and how it is expressed here:
//! - `x-kubernetes-int-or-string: true`: `type: [integer, string]`.
//! - `nullable: true`: `null` added to `type` (and `enum`). Nulls in non-nullable fields are
//!   pruned by the apiserver before validation; [`super`] prunes them the same way.
//! - Unknown fields: with strict field validation the apiserver rejects any field that pruning
//!   would drop. So every object schema (`type: object` or with `properties`) gets
//!   `additionalProperties: false` unless it has `x-kubernetes-preserve-unknown-fields: true`
//!   or an `additionalProperties` of its own (a map).
//! - `x-kubernetes-embedded-resource: true`: `apiVersion` and `kind` (strings) are required and
//!   allowed, `metadata` is checked as ObjectMeta (when the schema does not spell it out).
//! - The root `metadata` is always ObjectMeta ([`object_meta`]), whatever the CRD says (CRDs
//!   only say `type: object` there); root `apiVersion`/`kind` are always allowed.
//! - Inside `allOf`/`anyOf`/`oneOf`/`not`, structural schemas may only add value checks, and
//!   their `properties` only repeat the main schema's: closing objects there would reject fields
//!   the main schema allows, so junctor branches are converted without it.
//!
//! Not checked: `format` (the apiserver checks a few formats only), CEL
//! `x-kubernetes-validations`, list-type uniqueness (`x-kubernetes-list-type: set/map`).

use serde_json::{Map, Value, json};

/// Validation keywords copied as they are (their values hold no sub-schemas).
const PLAIN: [&str; 15] = [
    "required",
    "enum",
    "pattern",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "minLength",
    "maxLength",
    "minItems",
    "maxItems",
    "uniqueItems",
    "multipleOf",
    "minProperties",
    "maxProperties",
];

/// Converts a CRD version's `openAPIV3Schema` to a root JSON Schema.
pub fn convert_crd_root(schema: &Value) -> Value {
    let mut root = Converter::crd().convert(schema, false);
    close_root(&mut root);
    root
}

/// Root treatment shared with OpenAPI definitions: ObjectMeta, apiVersion and kind.
pub(super) fn close_root(root: &mut Value) {
    let Some(obj) = root.as_object_mut() else { return };
    obj.insert("type".into(), json!("object"));
    let props = obj.entry("properties").or_insert_with(|| json!({}));
    if let Some(props) = props.as_object_mut() {
        props.insert("apiVersion".into(), json!({"type": "string"}));
        props.insert("kind".into(), json!({"type": "string"}));
        props.insert("metadata".into(), object_meta());
    }
}

/// The conversion, shared by CRD schemas and OpenAPI definitions (which differ in two ways,
/// both fields here).
pub(super) struct Converter {
    /// Close `type: object` schemas without `properties` too. True for CRDs (the apiserver
    /// prunes every field of such an object); false for OpenAPI documents generated from Go
    /// types, where a bare object is an opaque value (`RawExtension`, `FieldsV1`).
    pub close_bare_objects: bool,
    /// OpenAPI only: rewrites a `$ref` and records the definition it needs.
    pub refs: Option<RefRewriter>,
}

/// Rewrites `$ref`s of an OpenAPI document to `#/definitions/NAME` in the generated schema.
pub(super) struct RefRewriter {
    /// `#/components/schemas/` (OpenAPI 3) or `#/definitions/` (Swagger 2).
    pub prefix: String,
    /// Definition names referenced so far (the caller converts each once).
    pub seen: Vec<String>,
    /// Definitions replaced by a fixed schema (Kubernetes types with custom JSON forms).
    pub fixed: fn(&str) -> Option<Value>,
}

impl Converter {
    pub fn crd() -> Converter {
        Converter {
            close_bare_objects: true,
            refs: None,
        }
    }

    /// One schema node. `in_junctor`: inside `allOf`/`anyOf`/`oneOf`/`not` (see the module doc).
    pub fn convert(&mut self, node: &Value, in_junctor: bool) -> Value {
        let Some(src) = node.as_object() else {
            return node.clone();
        };
        if let Some(reference) = src.get("$ref").and_then(Value::as_str) {
            return self.reference(reference);
        }
        // OpenAPI documents generated from Go wrap every reference as `allOf: [{$ref}]` to attach
        // a description or default; the wrapper is the reference.
        if let Some([only]) = src.get("allOf").and_then(Value::as_array).map(Vec::as_slice)
            && only.get("$ref").is_some()
            && src.get("properties").is_none()
        {
            return self.convert(only, in_junctor);
        }
        let flag = |key: &str| src.get(key).and_then(Value::as_bool).unwrap_or(false);
        let preserve = flag("x-kubernetes-preserve-unknown-fields");
        let mut out = Map::new();

        let int_or_string = flag("x-kubernetes-int-or-string");
        if int_or_string {
            out.insert("type".into(), json!(["integer", "string"]));
        } else if let Some(t) = src.get("type") {
            out.insert("type".into(), t.clone());
        }
        for key in PLAIN {
            if let Some(v) = src.get(key) {
                out.insert(key.into(), v.clone());
            }
        }
        if let Some(props) = src.get("properties").and_then(Value::as_object) {
            let converted: Map<String, Value> = props
                .iter()
                .map(|(k, v)| (k.clone(), self.convert(v, in_junctor)))
                .collect();
            out.insert("properties".into(), Value::Object(converted));
        }
        match src.get("additionalProperties") {
            Some(Value::Bool(b)) => {
                out.insert("additionalProperties".into(), Value::Bool(*b));
            }
            Some(schema @ Value::Object(_)) => {
                let converted = self.convert(schema, in_junctor);
                out.insert("additionalProperties".into(), converted);
            }
            _ => {}
        }
        if let Some(items) = src.get("items") {
            let items = match items {
                Value::Array(list) => {
                    Value::Array(list.iter().map(|i| self.convert(i, in_junctor)).collect())
                }
                single => self.convert(single, in_junctor),
            };
            out.insert("items".into(), items);
        }
        for key in ["allOf", "anyOf", "oneOf"] {
            if let Some(list) = src.get(key).and_then(Value::as_array) {
                // `anyOf: [{type: integer}, {type: string}]` beside int-or-string repeats the
                // type union above and would only double every type error.
                let only_types = list.iter().all(|b| {
                    b.as_object()
                        .is_some_and(|o| o.len() == 1 && o.contains_key("type"))
                });
                if int_or_string && only_types {
                    continue;
                }
                let converted = list.iter().map(|s| self.convert(s, true)).collect();
                out.insert(key.into(), Value::Array(converted));
            }
        }
        if let Some(not) = src.get("not") {
            let converted = self.convert(not, true);
            out.insert("not".into(), converted);
        }

        if flag("x-kubernetes-embedded-resource") {
            embed(&mut out);
        }
        if flag("nullable") {
            allow_null(&mut out);
        }
        let typed_object = out.contains_key("properties");
        let bare_object = out.get("type").and_then(Value::as_str) == Some("object")
            || out
                .get("type")
                .and_then(Value::as_array)
                .is_some_and(|ts| ts.contains(&json!("object")));
        let close = typed_object || (bare_object && self.close_bare_objects);
        if close && !in_junctor && !preserve && !out.contains_key("additionalProperties") {
            out.insert("additionalProperties".into(), Value::Bool(false));
        }
        Value::Object(out)
    }

    fn reference(&mut self, reference: &str) -> Value {
        let Some(refs) = self.refs.as_mut() else {
            // CRD schemas cannot hold references; keep it so that compiling reports it.
            return json!({"$ref": reference});
        };
        let Some(name) = reference.strip_prefix(refs.prefix.as_str()) else {
            return json!({"$ref": reference});
        };
        if let Some(fixed) = (refs.fixed)(name) {
            return fixed;
        }
        if !refs.seen.iter().any(|n| n == name) {
            refs.seen.push(name.to_string());
        }
        json!({"$ref": format!("#/definitions/{}", name.replace('~', "~0").replace('/', "~1"))})
    }
}

/// An embedded resource: apiVersion/kind required, metadata is ObjectMeta.
fn embed(out: &mut Map<String, Value>) {
    let props = out.entry("properties").or_insert_with(|| json!({}));
    if let Some(props) = props.as_object_mut() {
        props
            .entry("apiVersion")
            .or_insert_with(|| json!({"type": "string"}));
        props.entry("kind").or_insert_with(|| json!({"type": "string"}));
        let spelled_out = props
            .get("metadata")
            .is_some_and(|m| m.get("properties").is_some());
        if !spelled_out {
            props.insert("metadata".into(), object_meta());
        }
    }
    let required = out.entry("required").or_insert_with(|| json!([]));
    if let Some(list) = required.as_array_mut() {
        for field in ["apiVersion", "kind"] {
            if !list.contains(&json!(field)) {
                list.push(json!(field));
            }
        }
    }
}

fn allow_null(out: &mut Map<String, Value>) {
    match out.get_mut("type") {
        Some(Value::String(t)) => {
            let t = std::mem::take(t);
            out.insert("type".into(), json!([t, "null"]));
        }
        Some(Value::Array(ts)) if !ts.contains(&Value::Null) => ts.push(json!("null")),
        _ => {}
    }
    if let Some(Value::Array(options)) = out.get_mut("enum")
        && !options.contains(&Value::Null)
    {
        options.push(Value::Null);
    }
}

/// ObjectMeta as a client may send it (apimachinery `meta/v1`), closed like any typed object.
pub(super) fn object_meta() -> Value {
    let string_map = json!({"type": "object", "additionalProperties": {"type": "string"}});
    json!({
        "type": "object",
        "additionalProperties": false,
        "properties": {
            "name": {"type": "string"},
            "generateName": {"type": "string"},
            "namespace": {"type": "string"},
            "labels": string_map,
            "annotations": string_map,
            "finalizers": {"type": "array", "items": {"type": "string"}},
            "ownerReferences": {"type": "array", "items": {
                "type": "object",
                "additionalProperties": false,
                "required": ["apiVersion", "kind", "name", "uid"],
                "properties": {
                    "apiVersion": {"type": "string"},
                    "kind": {"type": "string"},
                    "name": {"type": "string"},
                    "uid": {"type": "string"},
                    "controller": {"type": "boolean"},
                    "blockOwnerDeletion": {"type": "boolean"}
                }
            }},
            "uid": {"type": "string"},
            "resourceVersion": {"type": "string"},
            "generation": {"type": "integer"},
            "selfLink": {"type": "string"},
            "creationTimestamp": {"type": ["string", "null"]},
            "deletionTimestamp": {"type": "string"},
            "deletionGracePeriodSeconds": {"type": "integer"},
            "managedFields": {"type": "array", "items": {"type": "object"}}
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closes_typed_objects_only() {
        let s = json!({"type": "object", "properties": {
            "a": {"type": "object", "properties": {"x": {"type": "string"}}},
            "m": {"type": "object", "additionalProperties": {"type": "string"}},
            "p": {"type": "object", "x-kubernetes-preserve-unknown-fields": true},
            "q": {"x-kubernetes-int-or-string": true, "anyOf": [{"type": "integer"}, {"type": "string"}]},
            "n": {"type": "string", "nullable": true, "enum": ["a"]}
        }});
        let c = convert_crd_root(&s);
        assert_eq!(c["additionalProperties"], json!(false));
        assert_eq!(c["properties"]["a"]["additionalProperties"], json!(false));
        assert_eq!(
            c["properties"]["m"]["additionalProperties"],
            json!({"type": "string"})
        );
        assert!(c["properties"]["p"].get("additionalProperties").is_none());
        assert_eq!(c["properties"]["q"]["type"], json!(["integer", "string"]));
        assert_eq!(
            c["properties"]["n"],
            json!({"type": ["string", "null"], "enum": ["a", null]})
        );
        assert_eq!(c["properties"]["metadata"], object_meta());
    }

    #[test]
    fn schemaless_root_stays_open() {
        let c = convert_crd_root(&json!({"type": "object", "x-kubernetes-preserve-unknown-fields": true}));
        assert!(c.get("additionalProperties").is_none());
        assert_eq!(c["properties"]["metadata"], object_meta());
    }
}
