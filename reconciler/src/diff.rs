//! Per-object diffs of only the fields that change, with secrets masked.
//!
//! The inputs are already limited to the fields kiln manages (see [`crate::managed::project`]),
//! so apiserver defaults and status never show. Both sides are then cut down to the fields
//! whose values differ (keeping their parents for context), rendered as YAML with sorted keys
//! and compared line by line with `similar`.
//!
//! Masking happens before anything is rendered: Secret `data`/`stringData` values and every
//! field named by the `kiln.dev/secret-fields` annotation (comma-separated JSON pointers) are
//! replaced by placeholders that say whether the value changed, so no secret value can reach
//! the terminal, the JSON output or a CI log.

use crate::object::{ObjectId, SECRET_FIELDS, annotation};
use serde_json::{Map, Value};
use similar::TextDiff;

/// Placeholder for a secret value that is the same on both sides.
pub const MASK: &str = "(secret value hidden)";
/// Placeholder for the new side of a secret value that changes.
pub const MASK_CHANGED: &str = "(secret value hidden; value changed)";

/// The JSON pointers to mask for an object: Secret data plus the annotation's list, read from
/// either side (the annotation may be new, or just removed).
pub fn secret_pointers(id: &ObjectId, sides: &[&Value]) -> Vec<String> {
    let mut out = Vec::new();
    if id.group.is_empty() && id.kind == "Secret" {
        out.push("/data/*".to_string());
        out.push("/stringData/*".to_string());
    }
    for side in sides {
        if let Some(list) = annotation(side, SECRET_FIELDS) {
            for p in list.split(',').map(str::trim).filter(|p| p.starts_with('/')) {
                if !out.iter().any(|o| o == p) {
                    out.push(p.to_string());
                }
            }
        }
    }
    out
}

/// Replaces secret values on both sides. A pointer ending in `/*` masks each key of the map
/// separately, so added and removed keys stay visible while values never are.
pub fn mask(before: &mut Value, after: &mut Value, pointers: &[String]) {
    for p in pointers {
        if let Some(parent) = p.strip_suffix("/*") {
            let mut keys: Vec<String> = Vec::new();
            for side in [&*before, &*after] {
                if let Some(m) = side.pointer(parent).and_then(Value::as_object) {
                    keys.extend(m.keys().cloned());
                }
            }
            keys.sort();
            keys.dedup();
            for k in keys {
                mask_one(before, after, &format!("{parent}/{}", escape(&k)));
            }
        } else {
            mask_one(before, after, p);
        }
    }
}

fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

fn mask_one(before: &mut Value, after: &mut Value, pointer: &str) {
    let same = before.pointer(pointer) == after.pointer(pointer);
    if let Some(b) = before.pointer_mut(pointer) {
        *b = Value::String(MASK.into());
    }
    if let Some(a) = after.pointer_mut(pointer) {
        *a = Value::String(if same { MASK } else { MASK_CHANGED }.into());
    }
}

/// Cuts both sides down to the differing fields and their parents. Lists are compared as a
/// whole (a list that differs is shown whole), which keeps list diffs readable.
pub fn changed_only(before: &Value, after: &Value) -> (Value, Value) {
    match (before, after) {
        (Value::Object(b), Value::Object(a)) => {
            let mut ob = Map::new();
            let mut oa = Map::new();
            let mut keys: Vec<&String> = b.keys().chain(a.keys()).collect();
            keys.sort();
            keys.dedup();
            for k in keys {
                match (b.get(k), a.get(k)) {
                    (Some(x), Some(y)) if x == y => {}
                    (Some(x @ Value::Object(_)), Some(y @ Value::Object(_))) => {
                        let (cx, cy) = changed_only(x, y);
                        ob.insert(k.clone(), cx);
                        oa.insert(k.clone(), cy);
                    }
                    (x, y) => {
                        if let Some(x) = x {
                            ob.insert(k.clone(), x.clone());
                        }
                        if let Some(y) = y {
                            oa.insert(k.clone(), y.clone());
                        }
                    }
                }
            }
            (Value::Object(ob), Value::Object(oa))
        }
        _ => (before.clone(), after.clone()),
    }
}

/// Sorts map keys at every level, so both sides render in the same order.
pub fn sorted(v: &Value) -> Value {
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            Value::Object(keys.into_iter().map(|k| (k.clone(), sorted(&m[k]))).collect())
        }
        Value::Array(items) => Value::Array(items.iter().map(sorted).collect()),
        other => other.clone(),
    }
}

fn yaml(v: &Value) -> String {
    match v {
        Value::Object(m) if m.is_empty() => String::new(),
        Value::Null => String::new(),
        _ => serde_norway::to_string(&sorted(v)).unwrap_or_else(|e| format!("<unrenderable: {e}>\n")),
    }
}

/// A masked unified diff of the fields that differ between `before` (live, or nothing for a
/// create) and `after` (what kiln would write). Empty when nothing differs.
pub fn object_diff(id: &ObjectId, before: &Value, after: &Value) -> String {
    let pointers = secret_pointers(id, &[before, after]);
    let mut b = before.clone();
    let mut a = after.clone();
    mask(&mut b, &mut a, &pointers);
    let (cb, ca) = changed_only(&b, &a);
    let (tb, ta) = (yaml(&cb), yaml(&ca));
    if tb == ta {
        return String::new();
    }
    TextDiff::from_lines(&tb, &ta)
        .unified_diff()
        .context_radius(3)
        .header(&format!("live {id}"), &format!("desired {id}"))
        .to_string()
}

/// Whether two objects differ anywhere (used to decide drift after projection).
pub fn differs(before: &Value, after: &Value) -> bool {
    let (cb, ca) = changed_only(before, after);
    cb != ca
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn id(kind: &str) -> ObjectId {
        ObjectId::from_value(
            &json!({"apiVersion": "v1", "kind": kind, "metadata": {"name": "x", "namespace": "n"}}),
        )
        .unwrap()
    }

    #[test]
    fn only_changed_fields_appear() {
        let live = json!({"data": {"a": "1", "b": "2", "c": "3"}, "metadata": {"labels": {"app": "x"}}});
        let desired = json!({"data": {"a": "1", "b": "20", "c": "3"}, "metadata": {"labels": {"app": "x"}}});
        let d = object_diff(&id("ConfigMap"), &live, &desired);
        assert!(d.contains("-  b: '2'"), "{d}");
        assert!(d.contains("+  b: '20'"), "{d}");
        assert!(!d.contains("a: '1'"), "{d}");
        assert!(!d.contains("labels"), "{d}");
    }

    #[test]
    fn secret_values_never_appear() {
        let live = json!({"data": {"password": "aHVudGVyMg==", "user": "YWRtaW4="}});
        let desired = json!({"data": {"password": "czNjcjN0", "user": "YWRtaW4=", "token": "dG9r"}, "stringData": {"extra": "plain"}});
        let d = object_diff(&id("Secret"), &live, &desired);
        for secret in ["aHVudGVyMg==", "czNjcjN0", "dG9r", "plain", "YWRtaW4="] {
            assert!(!d.contains(secret), "leaked {secret}: {d}");
        }
        assert!(
            d.contains("password: (secret value hidden; value changed)"),
            "{d}"
        );
        assert!(d.contains("+  token: (secret value hidden"), "{d}");
        assert!(!d.contains("user"), "unchanged key shown: {d}");
    }

    #[test]
    fn secret_fields_annotation_masks_any_field() {
        let ann = json!({"kiln.dev/secret-fields": "/spec/auth/token, /spec/url"});
        let live = json!({"metadata": {"annotations": ann}, "spec": {"auth": {"token": "old-tok"}, "url": "s3://a"}});
        let desired = json!({"metadata": {"annotations": ann}, "spec": {"auth": {"token": "new-tok"}, "url": "s3://a"}});
        let nb = id("ConfigMap");
        let d = object_diff(&nb, &live, &desired);
        assert!(
            !d.contains("tok\n") && !d.contains("old-tok") && !d.contains("new-tok"),
            "{d}"
        );
        assert!(d.contains("value changed"), "{d}");
        assert!(!d.contains("s3://a"), "{d}");
    }

    #[test]
    fn no_diff_when_equal() {
        let v = json!({"data": {"a": "1"}});
        assert_eq!(object_diff(&id("ConfigMap"), &v, &v), "");
        assert!(!differs(&v, &v));
    }
}
