//! `object.Object` (the escape hatch) -> the object itself: `api_version` and `kind` become
//! `apiVersion` and `kind`, namespace, labels and annotations go to `metadata`, every other
//! field is copied verbatim in source order. A field that would replace what kiln sets from the
//! checked fields (`apiVersion`, `metadata`) is an error (K0704), not an override: the name and
//! namespace decide where the object goes, so they are never taken unchecked.

use serde_json::{Map, Value, json};

use super::{LowerContext, LowerError, LowerInput, codes, metadata, s};

pub fn lower(input: &LowerInput, _ctx: &LowerContext, errs: &mut Vec<LowerError>) -> Vec<Value> {
    let v = input.value;
    if !super::is_dns_label(input.name) {
        // Many kinds accept DNS-1123 subdomains (dots); only reject what no kind accepts.
        let ok = !input.name.is_empty()
            && input.name.len() <= 253
            && input.name.split('.').all(super::is_dns_label);
        if !ok {
            super::check_name(input, 253, errs);
        }
    }
    for (field, instead) in RESERVED {
        if v.get(*field).is_some() {
            errs.push(
                LowerError::new(
                    codes::RESERVED_FIELD,
                    super::ptr("", field),
                    format!("`{field}` cannot be a field of kf.Object: kiln sets it from the checked fields"),
                )
                .with_help(*instead),
            );
        }
    }
    if !errs.is_empty() {
        return Vec::new();
    }
    let mut m = Map::new();
    m.insert("apiVersion".into(), json!(s(v, "api_version")));
    m.insert("kind".into(), json!(s(v, "kind")));
    m.insert("metadata".into(), metadata(input, true));
    for (k, x) in v.as_object().into_iter().flatten() {
        if !matches!(
            k.as_str(),
            "api_version" | "kind" | "namespace" | "labels" | "annotations"
        ) {
            m.insert(k.clone(), x.clone());
        }
    }
    vec![Value::Object(m)]
}

/// Manifest fields that kiln writes itself, and where their content belongs instead.
const RESERVED: &[(&str, &str)] = &[
    (
        "apiVersion",
        "write `api_version = \"group/version\"`: that field is checked",
    ),
    (
        "metadata",
        "the name is the declaration's (`kf.Object \"name\" { ... }`); write `namespace`, `labels` and \
         `annotations` as fields of the object, where they are checked",
    ),
];

#[cfg(test)]
mod tests {
    use super::super::{LowerContext, lower_one};
    use serde_json::json;

    #[test]
    fn objects_pass_through() {
        let v = json!({"api_version": "v1", "kind": "ConfigMap", "namespace": "ns", "labels": {"a": "b"}, "annotations": {}, "data": {"k": "v"}});
        let out = lower_one("kubeflow.Object", "settings", &v, &LowerContext::default()).unwrap();
        assert_eq!(
            out[0],
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings", "namespace": "ns", "labels": {"a": "b"}}, "data": {"k": "v"}})
        );
    }

    #[test]
    fn metadata_and_api_version_fields_are_refused() {
        let v = json!({"api_version": "v1", "kind": "ConfigMap", "labels": {}, "annotations": {},
            "metadata": {"name": "evil/../../ESCAPED", "namespace": "kube-system"}, "apiVersion": "x"});
        let errs = lower_one("kubeflow.Object", "settings", &v, &LowerContext::default()).unwrap_err();
        let got: Vec<(&str, &str)> = errs.iter().map(|e| (e.code.id, e.pointer.as_str())).collect();
        assert_eq!(got, [("K0704", "/apiVersion"), ("K0704", "/metadata")]);
    }
}
