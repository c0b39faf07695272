//! Pod-level validity of every lowered manifest, before the cluster sees it.
//!
//! Kubernetes rejects a pod whose volumes share a name, whose container mounts two volumes at one
//! path or mounts a volume the pod does not declare, or whose containers share a name; a port or
//! environment variable given twice makes one of them silently lose. A spec that checks clean
//! must not produce such a pod, whichever kind lowered it, so the check runs on the output of
//! every lowering ([`super::lower_all`]): any JSON object with a `containers` list is a pod spec
//! (Notebook, training replicas, Katib trial jobs, KServe components, runtimes), and its
//! problems are reported on the user's text by finding the value that produced the offending
//! name in the lowered input (a volume, a port, an environment key).

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::{LowerError, codes, ptr};

/// Every problem of every pod spec inside `manifest`; `input` is the value it was lowered from
/// (to label the user's field).
pub fn check_manifest(input: &Value, manifest: &Value, errs: &mut Vec<LowerError>) {
    let mut pods = Vec::new();
    pod_specs(manifest, &mut pods);
    for pod in pods {
        check_pod(input, pod, errs);
    }
}

/// The objects under `v` that are pod specs (have a `containers` list), outermost first.
fn pod_specs<'a>(v: &'a Value, out: &mut Vec<&'a Map<String, Value>>) {
    match v {
        Value::Object(m) => {
            if m.get("containers").is_some_and(Value::is_array) {
                out.push(m);
            }
            for x in m.values() {
                pod_specs(x, out);
            }
        }
        Value::Array(l) => {
            for x in l {
                pod_specs(x, out);
            }
        }
        _ => {}
    }
}

fn containers(pod: &Map<String, Value>) -> impl Iterator<Item = &Value> {
    ["initContainers", "containers"]
        .into_iter()
        .filter_map(|k| pod.get(k).and_then(Value::as_array))
        .flatten()
}

fn str_of<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

fn check_pod(input: &Value, pod: &Map<String, Value>, errs: &mut Vec<LowerError>) {
    // Volume names.
    let mut volumes: BTreeMap<&str, usize> = BTreeMap::new();
    for v in pod.get("volumes").and_then(Value::as_array).into_iter().flatten() {
        let Some(name) = str_of(v, "name") else { continue };
        *volumes.entry(name).or_default() += 1;
    }
    for (name, n) in &volumes {
        if *n > 1 {
            errs.push(
                LowerError::new(
                    codes::DUPLICATE_VOLUME,
                    find(input, &["volumes"], "name", name).unwrap_or_default(),
                    format!("the pod has {n} volumes named `{name}`"),
                )
                .with_help(
                    "give each volume its own name; `shm` and `workspace` add volumes of their own \
                     (`dshm`, `workspace`)",
                ),
            );
        }
    }
    // Container names.
    let mut names: BTreeMap<&str, usize> = BTreeMap::new();
    for c in containers(pod) {
        if let Some(n) = str_of(c, "name") {
            *names.entry(n).or_default() += 1;
        }
    }
    for (name, n) in &names {
        if *n > 1 {
            let at = find(input, &["containers", "steps", "roles"], "name", name)
                .or_else(|| find(input, &[], "container_name", name));
            errs.push(
                LowerError::new(
                    codes::DUPLICATE_CONTAINER,
                    at.unwrap_or_default(),
                    format!("the pod has {n} containers named `{name}`"),
                )
                .with_help("give each container its own `name`"),
            );
        }
    }
    // Ports: a (number, protocol) pair and a name once per pod.
    let mut ports: BTreeMap<(i64, String), usize> = BTreeMap::new();
    let mut port_names: BTreeMap<&str, usize> = BTreeMap::new();
    for c in containers(pod) {
        for p in c.get("ports").and_then(Value::as_array).into_iter().flatten() {
            if let Some(n) = p.get("containerPort").and_then(Value::as_i64) {
                let proto = str_of(p, "protocol").unwrap_or("TCP").to_string();
                *ports.entry((n, proto)).or_default() += 1;
            }
            if let Some(n) = str_of(p, "name") {
                *port_names.entry(n).or_default() += 1;
            }
        }
    }
    for ((port, proto), n) in &ports {
        if *n > 1 {
            errs.push(
                LowerError::new(
                    codes::DUPLICATE_PORT,
                    find_num(input, "ports", "port", *port).unwrap_or_default(),
                    format!("port {port}/{proto} is declared {n} times in one pod"),
                )
                .with_help("declare each port once; containers of one pod share its network"),
            );
        }
    }
    for (name, n) in &port_names {
        if *n > 1 {
            errs.push(
                LowerError::new(
                    codes::DUPLICATE_PORT,
                    find(input, &["ports"], "name", name).unwrap_or_default(),
                    format!("{n} ports of one pod are named `{name}`"),
                )
                .with_help("give each port its own name"),
            );
        }
    }
    for c in containers(pod) {
        check_container(input, c, &volumes, errs);
    }
}

fn check_container(input: &Value, c: &Value, volumes: &BTreeMap<&str, usize>, errs: &mut Vec<LowerError>) {
    let container = str_of(c, "name").unwrap_or("");
    let mut paths: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for m in c
        .get("volumeMounts")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let name = str_of(m, "name").unwrap_or("");
        if let Some(path) = str_of(m, "mountPath") {
            paths.entry(path).or_default().push(name);
        }
        if !volumes.contains_key(name) {
            errs.push(
                LowerError::new(
                    codes::UNDECLARED_VOLUME,
                    find(input, &["volumes"], "name", name).unwrap_or_default(),
                    format!("container `{container}` mounts volume `{name}`, which its pod does not declare"),
                )
                .with_help("declare the volume on the same workload that mounts it"),
            );
        }
    }
    for (path, names) in &paths {
        if names.len() > 1 {
            let shm = *path == "/dev/shm";
            let at = find(input, &["volumes"], "path", path)
                .unwrap_or_else(|| if shm { "/shm".to_string() } else { String::new() });
            let help = if shm {
                "`shm` already mounts a memory-backed volume at /dev/shm: drop the volume, or drop `shm` and size the volume yourself"
            } else {
                "mount each volume at its own path (a `sub_path` mounts part of a volume)"
            };
            errs.push(
                LowerError::new(
                    codes::DUPLICATE_MOUNT_PATH,
                    at,
                    format!(
                        "container `{container}` mounts {} at `{path}`",
                        names
                            .iter()
                            .map(|n| format!("`{n}`"))
                            .collect::<Vec<_>>()
                            .join(" and ")
                    ),
                )
                .with_help(help),
            );
        }
    }
    let mut env: BTreeMap<&str, usize> = BTreeMap::new();
    for e in c.get("env").and_then(Value::as_array).into_iter().flatten() {
        if let Some(n) = str_of(e, "name") {
            *env.entry(n).or_default() += 1;
        }
    }
    for (name, n) in &env {
        let bad = name.is_empty() || name.contains('=') || name.chars().any(|ch| !ch.is_ascii_graphic());
        if bad || *n > 1 {
            let what = if bad {
                format!("`{name}` is not a valid environment variable name in container `{container}`")
            } else {
                format!(
                    "environment variable `{name}` is set {n} times in container `{container}` (one value silently wins)"
                )
            };
            let help = if bad {
                "use printable ASCII without `=` or spaces, for example `MY_VAR`"
            } else {
                "set each variable once: `values`, `secrets` and `config_maps` share one namespace"
            };
            errs.push(
                LowerError::new(
                    codes::INVALID_ENV_NAME,
                    find_key(input, name).unwrap_or_default(),
                    what,
                )
                .with_help(help),
            );
        }
    }
}

/// The JSON pointer of the last record in a list under one of `lists` (any list when empty)
/// whose `key` is the string `value`: the second of two duplicates, written last.
fn find(input: &Value, lists: &[&str], key: &str, value: &str) -> Option<String> {
    let mut found = None;
    walk(input, String::new(), None, &mut |v, at, parent| {
        if str_of(v, key) == Some(value) && (lists.is_empty() || parent.is_some_and(|p| lists.contains(&p))) {
            found = Some(ptr(at, key));
        }
    });
    found
}

fn find_num(input: &Value, list: &str, key: &str, value: i64) -> Option<String> {
    let mut found = None;
    walk(input, String::new(), None, &mut |v, at, parent| {
        if v.get(key).and_then(Value::as_i64) == Some(value) && parent == Some(list) {
            found = Some(ptr(at, key));
        }
    });
    found
}

/// The pointer of the last map key `key` (environment maps are records keyed by variable).
fn find_key(input: &Value, key: &str) -> Option<String> {
    let mut found = None;
    walk(input, String::new(), None, &mut |v, at, _| {
        if let Some(m) = v.as_object()
            && m.contains_key(key)
        {
            found = Some(ptr(at, key));
        }
    });
    found
}

/// Calls `f(value, pointer, key of the list holding it)` on every object under `v`.
fn walk(v: &Value, at: String, list: Option<&str>, f: &mut dyn FnMut(&Value, &str, Option<&str>)) {
    match v {
        Value::Object(m) => {
            f(v, &at, list);
            for (k, x) in m {
                walk(x, ptr(&at, k), Some(k), f);
            }
        }
        Value::Array(l) => {
            for (i, x) in l.iter().enumerate() {
                walk(x, format!("{at}/{i}"), list, f);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::super::{LowerContext, codes, lower_one};
    use serde_json::json;

    fn nb(extra: serde_json::Value) -> serde_json::Value {
        let mut v = json!({"image": "jupyter:1", "volumes": [], "env": {}});
        for (k, x) in extra.as_object().unwrap() {
            v[k] = x.clone();
        }
        v
    }

    #[test]
    fn a_user_volume_named_dshm_keeps_its_mount_and_shm_gets_its_own_volume() {
        let v = nb(
            json!({"shm": "8Gi", "volumes": [{"name": "dshm", "path": "/data", "source": {"EmptyDir": {}}}]}),
        );
        let out = lower_one("kubeflow.Notebook", "nb", &v, &LowerContext::default()).unwrap();
        let pod = &out[0]["spec"]["template"]["spec"];
        assert_eq!(
            pod["volumes"],
            json!([{"name": "dshm", "emptyDir": {}}, {"name": "kiln-dshm", "emptyDir": {"medium": "Memory", "sizeLimit": "8Gi"}}])
        );
        assert_eq!(
            pod["containers"][0]["volumeMounts"],
            json!([{"mountPath": "/data", "name": "dshm"}, {"mountPath": "/dev/shm", "name": "kiln-dshm"}])
        );
    }

    #[test]
    fn a_user_volume_named_dshm_without_shm_gets_no_second_mount() {
        let v = nb(
            json!({"volumes": [{"name": "dshm", "path": "/dev/shm", "source": {"EmptyDir": {"medium": "Memory"}}}]}),
        );
        let out = lower_one("kubeflow.Notebook", "nb", &v, &LowerContext::default()).unwrap();
        let mounts = &out[0]["spec"]["template"]["spec"]["containers"][0]["volumeMounts"];
        assert_eq!(mounts, &json!([{"mountPath": "/dev/shm", "name": "dshm"}]));
    }

    #[test]
    fn shm_and_a_user_volume_at_dev_shm_is_a_duplicate_mount_path() {
        let v = nb(
            json!({"shm": "8Gi", "volumes": [{"name": "dshm", "path": "/dev/shm", "source": {"EmptyDir": {"medium": "Memory"}}}]}),
        );
        let err = lower_one("kubeflow.Notebook", "nb", &v, &LowerContext::default()).unwrap_err();
        assert_eq!(err.len(), 1);
        assert_eq!(err[0].code, codes::DUPLICATE_MOUNT_PATH);
        assert_eq!(err[0].pointer, "/volumes/0/path");
    }

    #[test]
    fn duplicate_volume_names_and_mount_paths_are_reported_on_the_second_volume() {
        let v = nb(json!({"volumes": [
            {"name": "data", "path": "/data", "source": {"EmptyDir": {}}},
            {"name": "data", "path": "/data", "source": {"Pvc": {"claim": "c"}}}
        ]}));
        let err = lower_one("kubeflow.Notebook", "nb", &v, &LowerContext::default()).unwrap_err();
        let codes: Vec<_> = err.iter().map(|e| e.code.id).collect();
        assert_eq!(codes, ["K0419", "K0420"]);
        assert_eq!(err[0].pointer, "/volumes/1/name");
        assert_eq!(err[1].pointer, "/volumes/1/path");
    }

    #[test]
    fn env_set_twice_is_reported_on_the_key() {
        let v =
            nb(json!({"env": {"values": {"TOKEN": "x"}, "secrets": {"TOKEN": {"name": "s", "key": "k"}}}}));
        let err = lower_one("kubeflow.Notebook", "nb", &v, &LowerContext::default()).unwrap_err();
        assert_eq!(err[0].code, codes::INVALID_ENV_NAME);
        assert_eq!(err[0].pointer, "/env/secrets/TOKEN");
    }

    #[test]
    fn bad_env_names_are_reported() {
        let v = nb(json!({"env": {"values": {"A=B": "x"}}}));
        let err = lower_one("kubeflow.Notebook", "nb", &v, &LowerContext::default()).unwrap_err();
        assert_eq!(err[0].code, codes::INVALID_ENV_NAME);
        assert!(err[0].message.contains("`A=B` is not a valid"));
    }

    #[test]
    fn duplicate_container_names_and_ports_are_reported() {
        let c =
            |name: &str| json!({"name": name, "image": "x:1", "ports": [{"port": 8080, "protocol": "TCP"}]});
        let v = json!({"formats": [{"name": "sklearn"}], "containers": [c("a"), c("a")]});
        let err = lower_one("kubeflow.ServingRuntime", "rt", &v, &LowerContext::default()).unwrap_err();
        let got: Vec<_> = err.iter().map(|e| (e.code.id, e.pointer.as_str())).collect();
        assert_eq!(
            got,
            [
                ("K0422", "/containers/1/name"),
                ("K0423", "/containers/1/ports/0/port")
            ]
        );
    }
}
