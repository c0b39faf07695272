//! Field ownership from `metadata.managedFields` (server-side apply's `FieldsV1` sets).
//!
//! Two questions are answered here without talking to the cluster:
//!
//! * **Does kiln still own every field it applies?** After kiln's last apply, manager `kiln`
//!   owned each field of the applied body. Another manager changing one of them (an
//!   `kubectl edit`, a controller, a forced apply) moves ownership away. So when the live
//!   content hash equals the desired one and kiln's set still covers the whole body, nothing
//!   can have drifted and no request is needed. Only when coverage is lost does the engine
//!   spend a server-side dry run to see what changed. Values are deliberately not compared
//!   here: the apiserver normalises some (quantities, integers), which would be false drift.
//! * **What does kiln manage?** [`project`] keeps only the fields of a `FieldsV1` set, so a
//!   diff compares exactly the fields kiln manages, never defaults or status.
//!
//! `FieldsV1` keys: `f:<name>` for a map field, `k:<json>` for a list item by merge key,
//! `v:<json>` for a set item by value, `i:<n>` by index, `.` for the item itself.
//!
//! **A `FieldsV1` is a set of paths, serialised as a tree.** A node with no children (`{}`)
//! is a member: the manager owns the value at that path *as a whole*. That is how a scalar
//! is recorded, but also everything the schema makes atomic: structs and maps with
//! `x-kubernetes-map-type: atomic` (an RBAC `Subject`, a `nodeSelector`), lists with
//! `x-kubernetes-list-type: atomic` (or no list type), and `x-kubernetes-preserve-unknown-fields`
//! subtrees, which server-side apply treats as one opaque value (KFP IR in a
//! `ScheduledWorkflow`'s `spec`). A node with children is only a container of members (plus
//! `.` when the item itself is a member too). A granular map whose last member was taken by
//! another manager disappears from the set; it never stays behind as `{}`. So the walk below
//! follows the tree as far as the set goes and stops at a member: reading `{}` as "a map
//! with no owned keys" was the false drift of issue 9 (every atomic field of a Profile, a
//! Notebook or a ScheduledWorkflow reported as "changed or removed").
//!
//! Keys are map keys verbatim: `f:nvidia.com/gpu.product` is one key, never a path. Paths
//! printed for people quote such keys: `.spec.nodeSelector["nvidia.com/gpu.product"]`.
//!
//! Provenance annotations ([`crate::object::PROVENANCE`], the `kiln.dev/source` trace) are
//! not content: their coverage is not checked, so who owns them never causes a dry run.

use serde_json::{Map, Value};

/// The merged `FieldsV1` of every non-status entry of `manager` (several entries exist when
/// the manager applied under different API versions).
pub fn fields_of(obj: &Value, manager: &str) -> Option<Value> {
    let entries = obj.pointer("/metadata/managedFields")?.as_array()?;
    let mut merged: Option<Value> = None;
    for e in entries {
        if e.get("manager").and_then(Value::as_str) != Some(manager)
            || e.get("subresource")
                .and_then(Value::as_str)
                .is_some_and(|s| !s.is_empty())
        {
            continue;
        }
        if let Some(fs) = e.get("fieldsV1") {
            merged = Some(match merged {
                None => fs.clone(),
                Some(mut m) => {
                    merge(&mut m, fs);
                    m
                }
            });
        }
    }
    merged
}

/// Managers other than `except` with a non-status entry, with their `FieldsV1`.
pub fn other_managers(obj: &Value, except: &str) -> Vec<(String, Value)> {
    let mut out: Vec<(String, Value)> = Vec::new();
    let Some(entries) = obj.pointer("/metadata/managedFields").and_then(Value::as_array) else {
        return out;
    };
    for e in entries {
        let Some(name) = e.get("manager").and_then(Value::as_str) else {
            continue;
        };
        if name == except
            || e.get("subresource")
                .and_then(Value::as_str)
                .is_some_and(|s| !s.is_empty())
        {
            continue;
        }
        let Some(fs) = e.get("fieldsV1") else { continue };
        match out.iter_mut().find(|(n, _)| n == name) {
            Some((_, m)) => merge(m, fs),
            None => out.push((name.to_string(), fs.clone())),
        }
    }
    out
}

fn merge(into: &mut Value, from: &Value) {
    if let (Some(a), Some(b)) = (into.as_object_mut(), from.as_object()) {
        for (k, v) in b {
            match a.get_mut(k) {
                Some(existing) => merge(existing, v),
                None => {
                    a.insert(k.clone(), v.clone());
                }
            }
        }
    }
}

/// Leaf paths of `body` (the applied object) split into those `fields` covers and those it
/// does not. Paths use the apiserver's conflict notation: `.data.key`,
/// `.spec.containers[name="app"].image`.
pub fn coverage(fields: &Value, body: &Value) -> (Vec<String>, Vec<String>) {
    let mut covered = Vec::new();
    let mut uncovered = Vec::new();
    if let Some(map) = body.as_object() {
        for (k, v) in map {
            // Identity fields are never listed in managedFields.
            if matches!(k.as_str(), "apiVersion" | "kind" | "status") {
                continue;
            }
            if k == "metadata" {
                if let Some(meta) = v.as_object() {
                    for (mk, mv) in meta {
                        if matches!(mk.as_str(), "labels" | "annotations") {
                            let content = crate::object::without_provenance(mk, mv);
                            walk(
                                fields.get("f:metadata").and_then(|m| m.get(format!("f:{mk}"))),
                                &content,
                                &format!(".metadata.{mk}"),
                                &mut covered,
                                &mut uncovered,
                            );
                        }
                    }
                }
                continue;
            }
            walk(
                fields.get(format!("f:{k}")),
                v,
                &format!(".{k}"),
                &mut covered,
                &mut uncovered,
            );
        }
    }
    (covered, uncovered)
}

fn walk(fs: Option<&Value>, v: &Value, path: &str, covered: &mut Vec<String>, uncovered: &mut Vec<String>) {
    let Some(fs) = fs else {
        // Report the leaves, not the parent: another manager's set names leaves too, so the
        // two can be intersected to say who took which field.
        leaves(v, path, uncovered);
        return;
    };
    if is_member_leaf(fs) {
        // Owned as a whole (scalar, atomic struct/map/list, preserve-unknown-fields subtree).
        covered.push(path.to_string());
        return;
    }
    match v {
        Value::Object(map) if !map.is_empty() => {
            for (k, child) in map {
                walk(
                    fs.get(format!("f:{k}")),
                    child,
                    &child_path(path, k),
                    covered,
                    uncovered,
                );
            }
        }
        Value::Array(items) if is_granular(fs) => {
            for (i, item) in items.iter().enumerate() {
                match list_item(fs, item, i) {
                    Some((key, child)) => {
                        let p = format!("{path}[{key}]");
                        if item.is_object() {
                            walk(Some(child), item, &p, covered, uncovered);
                        } else {
                            covered.push(p);
                        }
                    }
                    None => uncovered.push(format!("{path}[{i}]")),
                }
            }
        }
        // Scalars, empty maps and atomic lists are owned as a whole.
        _ => covered.push(path.to_string()),
    }
}

fn leaves(v: &Value, path: &str, out: &mut Vec<String>) {
    match v {
        Value::Object(map) if !map.is_empty() => {
            for (k, child) in map {
                leaves(child, &child_path(path, k), out);
            }
        }
        _ => out.push(path.to_string()),
    }
}

/// Whether a `FieldsV1` node is a member with nothing below it: the whole value is owned.
fn is_member_leaf(fs: &Value) -> bool {
    fs.as_object().is_none_or(|m| m.is_empty())
}

/// `path.key`, or `path["key"]` when the key is not a plain name (dots, slashes, ...), so a
/// label such as `nvidia.com/gpu.product` reads as one key.
pub fn child_path(path: &str, key: &str) -> String {
    let plain = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '$');
    if plain {
        format!("{path}.{key}")
    } else {
        format!("{path}[{}]", Value::String(key.to_string()))
    }
}

/// Whether a list's field set names its items (otherwise the list is atomic).
fn is_granular(fs: &Value) -> bool {
    fs.as_object().is_some_and(|m| {
        m.keys()
            .any(|k| k.starts_with("k:") || k.starts_with("v:") || k.starts_with("i:"))
    })
}

/// Finds the field-set entry of a list item: by merge key, by value or by index.
/// Returns a printable key and the entry.
fn list_item<'a>(fs: &'a Value, item: &Value, index: usize) -> Option<(String, &'a Value)> {
    let m = fs.as_object()?;
    for (k, child) in m {
        if let Some(json) = k.strip_prefix("k:") {
            let Ok(Value::Object(key)) = serde_json::from_str::<Value>(json) else {
                continue;
            };
            if key_matches(&key, item) {
                let printable = key
                    .iter()
                    .map(|(kk, kv)| format!("{kk}={kv}"))
                    .collect::<Vec<_>>()
                    .join(",");
                return Some((printable, child));
            }
        } else if let Some(json) = k.strip_prefix("v:") {
            if serde_json::from_str::<Value>(json).ok().as_ref() == Some(item) {
                return Some((json.to_string(), child));
            }
        } else if let Some(i) = k.strip_prefix("i:")
            && i.parse::<usize>().ok() == Some(index)
        {
            return Some((i.to_string(), child));
        }
    }
    None
}

/// A merge key matches an item when every key field the item has is equal and at least one
/// is present. Key fields the item omits (for example a defaulted `protocol: TCP` of a
/// container port) are filled in by the server, so they are not held against the match.
fn key_matches(key: &Map<String, Value>, item: &Value) -> bool {
    let Some(obj) = item.as_object() else {
        return false;
    };
    let mut any = false;
    for (k, v) in key {
        match obj.get(k) {
            Some(x) if x == v => any = true,
            Some(_) => return false,
            None => {}
        }
    }
    any
}

/// The part of `obj` covered by the field set `fields`: what a manager owns. Used to compare
/// live and dry-run objects on kiln's fields only.
pub fn project(obj: &Value, fields: &Value) -> Value {
    let mut out = Map::new();
    if let Some(map) = obj.as_object() {
        for (k, v) in map {
            if let Some(fs) = fields.get(format!("f:{k}")) {
                out.insert(k.clone(), project_value(v, fs));
            }
        }
    }
    Value::Object(out)
}

fn project_value(v: &Value, fs: &Value) -> Value {
    let leaf = fs.as_object().is_none_or(|m| m.keys().all(|k| k == "."));
    match v {
        Value::Object(map) if !leaf => {
            let mut out = Map::new();
            for (k, child) in map {
                if let Some(cfs) = fs.get(format!("f:{k}")) {
                    out.insert(k.clone(), project_value(child, cfs));
                }
            }
            Value::Object(out)
        }
        Value::Array(items) if is_granular(fs) => Value::Array(
            items
                .iter()
                .enumerate()
                .filter_map(|(i, item)| list_item(fs, item, i).map(|(_, cfs)| project_value(item, cfs)))
                .collect(),
        ),
        _ => v.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn deployment_fields() -> Value {
        json!({
            "f:metadata": {"f:labels": {"f:app": {}}},
            "f:spec": {
                "f:replicas": {},
                "f:template": {"f:spec": {"f:containers": {
                    "k:{\"name\":\"app\"}": {".": {}, "f:image": {}, "f:name": {},
                        "f:ports": {"k:{\"containerPort\":80,\"protocol\":\"TCP\"}": {".": {}, "f:containerPort": {}}}}
                }}}
            }
        })
    }

    fn deployment_body(image: &str) -> Value {
        json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "t", "labels": {"app": "web"}},
            "spec": {"replicas": 2, "template": {"spec": {"containers": [
                {"name": "app", "image": image, "ports": [{"containerPort": 80}]}
            ]}}}
        })
    }

    #[test]
    fn full_coverage_means_no_request_needed() {
        let (_, uncovered) = coverage(&deployment_fields(), &deployment_body("nginx:1"));
        assert!(uncovered.is_empty(), "{uncovered:?}");
    }

    #[test]
    fn a_field_taken_by_another_manager_is_uncovered() {
        let mut fs = deployment_fields();
        fs["f:spec"].as_object_mut().unwrap().remove("f:replicas");
        let (_, uncovered) = coverage(&fs, &deployment_body("nginx:1"));
        assert_eq!(uncovered, [".spec.replicas"]);
    }

    #[test]
    fn a_lost_parent_reports_its_leaves() {
        let fs = json!({"f:metadata": {"f:labels": {"f:app": {}}}});
        let body = json!({"metadata": {"labels": {"app": "x"}}, "data": {"a": "1", "b": {"c": "2"}}});
        let (_, uncovered) = coverage(&fs, &body);
        assert_eq!(uncovered, [".data.a", ".data.b.c"]);
    }

    #[test]
    fn a_new_list_item_is_uncovered() {
        let mut body = deployment_body("nginx:1");
        body["spec"]["template"]["spec"]["containers"]
            .as_array_mut()
            .unwrap()
            .push(json!({"name": "sidecar", "image": "x"}));
        let (_, uncovered) = coverage(&deployment_fields(), &body);
        assert_eq!(uncovered, [".spec.template.spec.containers[1]"]);
    }

    /// The sets the apiserver recorded for kiln on the team example (kube-apiserver v1.36).
    #[test]
    fn atomic_members_own_their_whole_value() {
        // Profile: `spec.owner` is an rbac Subject, `x-kubernetes-map-type: atomic`.
        let profile = json!({"metadata": {"name": "team-churn"}, "spec": {
            "owner": {"kind": "User", "name": "alice@acme.com"},
            "resourceQuotaSpec": {"hard": {"requests.nvidia.com/gpu": "24"}}}});
        let fs = json!({"f:spec": {"f:owner": {}, "f:resourceQuotaSpec": {"f:hard": {"f:requests.nvidia.com/gpu": {}}}}});
        let (covered, uncovered) = coverage(&fs, &profile);
        assert!(uncovered.is_empty(), "{uncovered:?}");
        assert_eq!(
            covered,
            [
                ".spec.owner",
                ".spec.resourceQuotaSpec.hard[\"requests.nvidia.com/gpu\"]"
            ]
        );

        // Notebook: a pod template under preserve-unknown-fields; atomic map and lists.
        let nb = json!({"spec": {"template": {"spec": {
            "nodeSelector": {"nvidia.com/gpu.product": "A100"},
            "containers": [{"name": "x", "image": "i"}]}}}});
        let fs = json!({"f:spec": {"f:template": {"f:spec": {"f:containers": {}, "f:nodeSelector": {}}}}});
        assert!(coverage(&fs, &nb).1.is_empty());

        // ScheduledWorkflow: the whole spec is one opaque value (KFP IR inside).
        let swf = json!({"spec": {"enabled": true, "workflow": {"spec": {"root": {"dag": {}}}}}});
        assert!(coverage(&json!({"f:spec": {}}), &swf).1.is_empty());
    }

    #[test]
    fn keys_with_dots_and_slashes_are_one_key() {
        let body = json!({"spec": {"nodeSelector": {"nvidia.com/gpu.product": "A100", "zone": "a"}}});
        let fs = json!({"f:spec": {"f:nodeSelector": {"f:zone": {}}}});
        let (_, uncovered) = coverage(&fs, &body);
        assert_eq!(uncovered, [".spec.nodeSelector[\"nvidia.com/gpu.product\"]"]);
        let fs = json!({"f:spec": {"f:nodeSelector": {"f:nvidia.com/gpu.product": {}, "f:zone": {}}}});
        assert!(coverage(&fs, &body).1.is_empty());
        // `f:nvidia.com` with a child `f:gpu.product` is a different path, not this key.
        let fs = json!({"f:spec": {"f:nodeSelector": {"f:nvidia.com": {"f:gpu.product": {}}, "f:zone": {}}}});
        assert_eq!(coverage(&fs, &body).1.len(), 1);
    }

    #[test]
    fn lists_by_type_set_map_and_atomic() {
        // set: items by value; a value another manager replaced is no longer covered.
        let body = json!({"spec": {"finalizers": ["a", "b"]}});
        let set = json!({"f:spec": {"f:finalizers": {"v:\"a\"": {}, "v:\"b\"": {}}}});
        assert!(coverage(&set, &body).1.is_empty());
        let set_lost = json!({"f:spec": {"f:finalizers": {"v:\"a\"": {}}}});
        assert_eq!(coverage(&set_lost, &body).1, [".spec.finalizers[1]"]);
        // map: items by merge key, fields inside granular.
        let body = json!({"spec": {"ports": [{"name": "http", "port": 80}]}});
        let map = json!({"f:spec": {"f:ports": {"k:{\"name\":\"http\"}": {".": {}, "f:name": {}}}}});
        assert_eq!(coverage(&map, &body).1, [".spec.ports[name=\"http\"].port"]);
        // atomic: the list is one member.
        let atomic = json!({"f:spec": {"f:ports": {}}});
        assert!(coverage(&atomic, &body).1.is_empty());
    }

    #[test]
    fn the_source_trace_is_not_checked_for_ownership() {
        let body = json!({"metadata": {"annotations": {"kiln.dev/source": "a.kiln:1", "x": "1"}}});
        let fs = json!({"f:metadata": {"f:annotations": {"f:x": {}}}});
        let (covered, uncovered) = coverage(&fs, &body);
        assert!(uncovered.is_empty(), "{uncovered:?}");
        assert_eq!(covered, [".metadata.annotations.x"]);
    }

    #[test]
    fn fields_of_merges_entries_and_skips_status() {
        let obj = json!({"metadata": {"managedFields": [
            {"manager": "kiln", "operation": "Apply", "fieldsV1": {"f:data": {"f:a": {}}}},
            {"manager": "kiln", "operation": "Apply", "subresource": "status", "fieldsV1": {"f:status": {}}},
            {"manager": "kubectl-edit", "operation": "Update", "fieldsV1": {"f:data": {"f:b": {}}}},
        ]}});
        assert_eq!(fields_of(&obj, "kiln").unwrap(), json!({"f:data": {"f:a": {}}}));
        let others = other_managers(&obj, "kiln");
        assert_eq!(others.len(), 1);
        assert_eq!(others[0].0, "kubectl-edit");
    }

    #[test]
    fn projection_keeps_only_managed_fields() {
        let live = json!({
            "metadata": {"labels": {"app": "web", "other": "x"}, "uid": "u"},
            "spec": {"replicas": 2, "revisionHistoryLimit": 10, "template": {"spec": {"containers": [
                {"name": "app", "image": "nginx:1", "imagePullPolicy": "IfNotPresent", "ports": [{"containerPort": 80, "protocol": "TCP"}]}
            ]}}},
            "status": {"replicas": 2}
        });
        let p = project(&live, &deployment_fields());
        assert_eq!(
            p,
            json!({
                "metadata": {"labels": {"app": "web"}},
                "spec": {"replicas": 2, "template": {"spec": {"containers": [
                    {"name": "app", "image": "nginx:1", "ports": [{"containerPort": 80}]}
                ]}}}
            })
        );
    }
}
