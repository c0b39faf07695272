//! Root schemas built from an OpenAPI document's definitions (Katib's `swagger.json`), for kinds
//! whose CRDs are schemaless upstream.
//!
//! The root definition is converted with the CRD rules ([`super::structural`]) and every
//! definition it reaches is added under `definitions`, with `$ref`s rewritten to point there
//! (so recursive types need no inlining). Kubernetes types whose JSON form differs from their
//! Go struct are fixed: `Quantity` and `IntOrString` accept an integer or a string (the same as
//! `x-kubernetes-int-or-string` in CRDs, so a float `cpu: 0.5` is rejected here too). Unknown
//! fields are rejected in every typed object; bare `type: object` definitions (`RawExtension`,
//! `FieldsV1`) and `Unstructured` (`additionalProperties: true`) stay open.

use serde_json::{Map, Value, json};

use super::structural::{Converter, RefRewriter, close_root};
use crate::manifest::Gvk;

/// Katib v1beta1: definition names of its OpenAPI document (the leading dots are upstream's).
pub const KATIB_BINDINGS: [(&str, &str, &str, &str); 3] = [
    ("v1beta1.Experiment", "kubeflow.org", "v1beta1", "Experiment"),
    (".v1beta1.Trial", "kubeflow.org", "v1beta1", "Trial"),
    (".v1beta1.Suggestion", "kubeflow.org", "v1beta1", "Suggestion"),
];

/// Katib's bindings as (definition, kind) pairs for [`super::SchemaSet::add_openapi_json`].
pub fn katib_bindings() -> Vec<(String, Gvk)> {
    KATIB_BINDINGS
        .iter()
        .map(|(def, g, v, k)| (def.to_string(), Gvk::new(g, v, k)))
        .collect()
}

fn fixed(name: &str) -> Option<Value> {
    match name {
        "io.k8s.apimachinery.pkg.api.resource.Quantity"
        | "io.k8s.apimachinery.pkg.util.intstr.IntOrString" => Some(json!({"type": ["integer", "string"]})),
        _ => None,
    }
}

/// The definitions of an OpenAPI 3 (`components.schemas`) or Swagger 2 (`definitions`) document,
/// with the `$ref` prefix that points into them.
fn definitions(doc: &Value) -> Result<(&Map<String, Value>, &'static str), String> {
    if let Some(defs) = doc.pointer("/components/schemas").and_then(Value::as_object) {
        Ok((defs, "#/components/schemas/"))
    } else if let Some(defs) = doc.get("definitions").and_then(Value::as_object) {
        Ok((defs, "#/definitions/"))
    } else {
        Err("no `components.schemas` or `definitions` in the OpenAPI document".into())
    }
}

/// The JSON Schema for objects of definition `root` of `doc`.
pub fn convert_definition_root(doc: &Value, root: &str) -> Result<Value, String> {
    let (defs, prefix) = definitions(doc)?;
    let root_def = defs
        .get(root)
        .ok_or_else(|| format!("no definition `{root}` in the OpenAPI document"))?;
    let mut conv = Converter {
        close_bare_objects: false,
        refs: Some(RefRewriter {
            prefix: prefix.into(),
            seen: Vec::new(),
            fixed,
        }),
    };
    // The root metadata becomes ObjectMeta in `close_root`; dropping it first keeps the
    // document's ObjectMeta (and all it references) out of `definitions`.
    let mut root_def = root_def.clone();
    if let Some(props) = root_def.get_mut("properties").and_then(Value::as_object_mut) {
        props.shift_remove("metadata");
    }
    let mut schema = conv.convert(&root_def, false);
    close_root(&mut schema);
    let mut out_defs = Map::new();
    let mut next = 0;
    loop {
        let seen = &conv.refs.as_ref().expect("set above").seen;
        let Some(name) = seen.get(next).cloned() else {
            break;
        };
        next += 1;
        let def = defs
            .get(&name)
            .ok_or_else(|| format!("`{root}` refers to a missing definition `{name}`"))?;
        let converted = conv.convert(def, false);
        out_defs.insert(name, converted);
    }
    if let Some(obj) = schema.as_object_mut() {
        obj.insert("definitions".into(), Value::Object(out_defs));
    }
    Ok(schema)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_refs_and_fixes_kubernetes_types() {
        let doc = json!({"components": {"schemas": {
            "X": {"type": "object", "properties": {
                "spec": {"default": {}, "allOf": [{"$ref": "#/components/schemas/Spec"}]},
                "metadata": {"allOf": [{"$ref": "#/components/schemas/Meta"}]}}},
            "Spec": {"type": "object", "properties": {
                "cpu": {"$ref": "#/components/schemas/io.k8s.apimachinery.pkg.api.resource.Quantity"},
                "self": {"$ref": "#/components/schemas/Spec"},
                "raw": {"type": "object"}}},
            "Meta": {"type": "object", "properties": {}}
        }}});
        let s = convert_definition_root(&doc, "X").unwrap();
        assert_eq!(s["properties"]["spec"], json!({"$ref": "#/definitions/Spec"}));
        assert_eq!(s["additionalProperties"], json!(false));
        let spec = &s["definitions"]["Spec"];
        assert_eq!(spec["properties"]["cpu"], json!({"type": ["integer", "string"]}));
        assert_eq!(spec["additionalProperties"], json!(false));
        assert!(spec["properties"]["raw"].get("additionalProperties").is_none());
        // The root metadata is ObjectMeta, so `Meta` is never reached.
        assert_eq!(s["definitions"].as_object().unwrap().len(), 1);
        assert!(convert_definition_root(&doc, "Nope").is_err());
    }
}
