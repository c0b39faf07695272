//! Canonical key order and rendering of manifests as YAML or JSON.
//!
//! The order is a pure function of the object, never of how it was built, so output is
//! byte-identical across runs and machines:
//! - top level: `apiVersion`, `kind`, `metadata`, `spec` first (in that order, when present),
//!   then every other key sorted;
//! - inside the top-level `metadata`: `name`, `generateName`, `namespace` first, then sorted;
//! - everywhere else: keys sorted.
//!
//! "Sorted" is byte order of the UTF-8 key (Rust's `str` ordering): it does not depend on a
//! locale. Arrays keep their order (it is meaningful in Kubernetes). Pinning the identifying
//! keys first keeps files readable (`kubectl get -o yaml` shows the same head); the rest is
//! sorted because insertion order would leak lowering details into diffs.
//!
//! Rendering: YAML ([`super::yaml`], quoting for YAML 1.1 readers such as kubectl) is one
//! document per object separated by `---` lines; JSON is a `v1 List`
//! (which `kubectl apply -f` accepts) pretty-printed with two-space indentation. Both end with a
//! newline. The content hash uses a different, simpler form (fully sorted compact JSON, see
//! [`super::hash`]) so that it does not depend on these presentation choices.

use serde_json::{Map, Value};

use super::Manifest;

const TOP_FIRST: [&str; 4] = ["apiVersion", "kind", "metadata", "spec"];
const METADATA_FIRST: [&str; 3] = ["name", "generateName", "namespace"];

/// A copy of the object with its keys in canonical order (see the module doc).
pub fn canonicalize(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(ordered(map, &TOP_FIRST, |key, v| {
            if key == "metadata" {
                canonical_metadata(v)
            } else {
                sorted(v)
            }
        })),
        other => sorted(other),
    }
}

fn canonical_metadata(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(ordered(map, &METADATA_FIRST, |_, v| sorted(v))),
        other => sorted(other),
    }
}

/// Keys in `first` (those present, in that order), then the others sorted; values mapped by
/// `inner`.
fn ordered(
    map: &Map<String, Value>,
    first: &[&str],
    inner: impl Fn(&str, &Value) -> Value,
) -> Map<String, Value> {
    let mut out = Map::with_capacity(map.len());
    for key in first {
        if let Some(v) = map.get(*key) {
            out.insert((*key).to_string(), inner(key, v));
        }
    }
    let mut rest: Vec<(&String, &Value)> = map.iter().filter(|(k, _)| !first.contains(&k.as_str())).collect();
    rest.sort_unstable_by(|a, b| a.0.cmp(b.0));
    for (k, v) in rest {
        out.insert(k.clone(), inner(k, v));
    }
    out
}

/// Deep copy with every object's keys sorted.
fn sorted(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
            Value::Object(entries.into_iter().map(|(k, v)| (k.clone(), sorted(v))).collect())
        }
        Value::Array(items) => Value::Array(items.iter().map(sorted).collect()),
        scalar => scalar.clone(),
    }
}

/// One object as a YAML document (no `---` line), keys in canonical order.
pub fn to_yaml_doc(manifest: &Manifest) -> String {
    super::yaml::document(&canonicalize(manifest.value()))
}

/// Several objects as a multi-document YAML stream, in the given order, separated by `---`.
pub fn to_yaml(manifests: &[Manifest]) -> String {
    let mut out = String::new();
    for (i, m) in manifests.iter().enumerate() {
        if i > 0 {
            out.push_str("---\n");
        }
        out.push_str(&to_yaml_doc(m));
    }
    out
}

/// One object as pretty JSON with a trailing newline, keys in canonical order.
pub fn to_json_doc(manifest: &Manifest) -> String {
    let mut out = serde_json::to_string_pretty(&canonicalize(manifest.value())).expect("JSON value");
    out.push('\n');
    out
}

/// Several objects as one pretty JSON `v1 List` with a trailing newline.
pub fn to_json(manifests: &[Manifest]) -> String {
    let items: Vec<Value> = manifests.iter().map(|m| canonicalize(m.value())).collect();
    let mut list = Map::new();
    list.insert("apiVersion".into(), Value::String("v1".into()));
    list.insert("kind".into(), Value::String("List".into()));
    list.insert("items".into(), Value::Array(items));
    let mut out = serde_json::to_string_pretty(&Value::Object(list)).expect("JSON value");
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn m(v: Value) -> Manifest {
        Manifest::new(v).unwrap()
    }

    #[test]
    fn top_level_and_metadata_keys_first_rest_sorted() {
        let obj = m(json!({
            "status": {}, "spec": {"b": 1, "a": {"z": 1, "y": [{"d": 1, "c": 2}]}}, "data": 1,
            "metadata": {"labels": {"b": "1", "a": "2"}, "namespace": "n", "name": "x"},
            "kind": "K", "apiVersion": "v1"
        }));
        let keys = |v: &Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
        let c = canonicalize(obj.value());
        assert_eq!(
            keys(&c),
            ["apiVersion", "kind", "metadata", "spec", "data", "status"]
        );
        assert_eq!(keys(&c["metadata"]), ["name", "namespace", "labels"]);
        assert_eq!(keys(&c["metadata"]["labels"]), ["a", "b"]);
        assert_eq!(keys(&c["spec"]), ["a", "b"]);
        assert_eq!(keys(&c["spec"]["a"]["y"][0]), ["c", "d"]);
    }

    #[test]
    fn yaml_stream_and_json_list() {
        let a = m(json!({"kind": "A", "apiVersion": "v1", "metadata": {"name": "a"}}));
        let b = m(json!({"apiVersion": "v1", "kind": "B"}));
        assert_eq!(
            to_yaml(&[a.clone(), b.clone()]),
            "apiVersion: v1\nkind: A\nmetadata:\n  name: a\n---\napiVersion: v1\nkind: B\n"
        );
        assert_eq!(to_yaml(&[]), "");
        let json = to_json(&[a, b]);
        assert!(json.starts_with("{\n  \"apiVersion\": \"v1\",\n  \"kind\": \"List\",\n  \"items\": [\n"));
        assert!(json.ends_with("}\n"));
    }

    #[test]
    fn yaml_quotes_strings_that_other_parsers_would_retype() {
        // Kubernetes reads YAML 1.1 (go-yaml v2): `on`, `yes`, `y` are booleans there. A label
        // value "on" must stay a string after kubectl reads kiln's output.
        for s in [
            "on",
            "Off",
            "yes",
            "NO",
            "y",
            "n",
            "true",
            "null",
            "~",
            "1",
            "1.5",
            "1_000",
            "2024-01-01",
            "1:30",
            "",
        ] {
            let obj = m(json!({"apiVersion": "v1", "kind": "K", "v": s}));
            let yaml = to_yaml_doc(&obj);
            let line = yaml.lines().find(|l| l.starts_with("v:")).unwrap();
            assert!(
                line.contains('\'') || line.contains('"'),
                "{s:?} is not quoted: {line}"
            );
            let back: Value = serde_norway::from_str(&yaml).unwrap();
            assert_eq!(back["v"], json!(s));
        }
    }
}
