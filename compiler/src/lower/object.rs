//! `object.Object` (the escape hatch) -> the object itself: `api_version` and `kind` become
//! `apiVersion` and `kind`, namespace, labels and annotations go to `metadata`, every other
//! field is copied verbatim in source order.

use serde_json::{Map, Value, json};

use super::{LowerContext, LowerError, LowerInput, metadata, s};

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
}
