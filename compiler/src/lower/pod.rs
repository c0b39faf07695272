//! Shared lowering of `core` types into pod parts: containers, resources (with accelerators,
//! their nodeSelector and tolerations), environment, volumes; the GPU and node-pool checks
//! (K0501, K0503, K0504, K0505); and resource usage for the quota check.

use kiln_lang::diagnostic::did_you_mean;
use serde_json::{Map, Value, json};

use super::{
    LowerContext, LowerError, boolean, codes, duration_secs, fmt_cpu, fmt_memory, int, list, obj, ptr,
    quantity_milli, s, variant,
};

/// Where a pod must run, and the extra volumes its resources need.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Placement {
    pub node_selector: Map<String, Value>,
    pub tolerations: Vec<Value>,
    pub volumes: Vec<Value>,
    /// The size of the shared memory (`/dev/shm`) the resources ask for. Kept apart from
    /// `volumes` so that the container that mounts it can name its volume without colliding
    /// with the user's own volumes (see [`shm_volume`]).
    pub shm: Option<Value>,
}

impl Placement {
    pub fn merge(&mut self, other: Placement) {
        self.node_selector.extend(other.node_selector);
        for t in other.tolerations {
            if !self.tolerations.contains(&t) {
                self.tolerations.push(t);
            }
        }
        for v in other.volumes {
            if !self.volumes.contains(&v) {
                self.volumes.push(v);
            }
        }
        if other.shm.is_some() {
            self.shm = other.shm;
        }
    }
}

/// The implicit shared-memory volume of `size` and its `/dev/shm` mount, named `dshm` (the name
/// upstream examples use) unless one of `taken` already is, then `kiln-dshm`: a user volume
/// named `dshm` is the user's, never merged with or shadowed by the implicit one.
pub fn shm_volume(size: &Value, taken: &[&str]) -> (Value, Value) {
    let name = ["dshm", "kiln-dshm", "kiln-shm-0"]
        .into_iter()
        .find(|n| !taken.contains(n))
        .unwrap_or("kiln-shm-0");
    (
        json!({"name": name, "emptyDir": {"medium": "Memory", "sizeLimit": size}}),
        json!({"mountPath": "/dev/shm", "name": name}),
    )
}

/// A lowered container and what its pod needs for it.
pub struct ContainerParts {
    pub container: Value,
    pub placement: Placement,
}

/// The node label that carries an accelerator's model.
fn model_label(resource: &str) -> &'static str {
    if resource.starts_with("amd.com/") {
        "amd.com/gpu.product-name"
    } else {
        "nvidia.com/gpu.product"
    }
}

/// The declared node pools (emitted `NodePool`s): (name, value).
fn pools(ctx: &LowerContext) -> Vec<(&str, &Value)> {
    ctx.node_pools()
        .iter()
        .map(|o| (o.name.as_str(), &o.value))
        .collect()
}

fn same_accelerator(a: &Value, b: &Value) -> bool {
    s(a, "resource").unwrap_or("nvidia.com/gpu") == s(b, "resource").unwrap_or("nvidia.com/gpu")
        && (s(a, "model").is_none() || s(b, "model").is_none() || s(a, "model") == s(b, "model"))
}

fn describe(acc: &Value) -> String {
    match s(acc, "model") {
        Some(m) => format!("{} model `{m}`", s(acc, "resource").unwrap_or("nvidia.com/gpu")),
        None => s(acc, "resource").unwrap_or("nvidia.com/gpu").to_string(),
    }
}

/// Lowers `core.Resources` at pointer `p`: the container `resources` (or `None` when empty)
/// and the placement its accelerators and shared memory need.
pub fn resources(
    res: &Value,
    p: &str,
    ctx: &LowerContext,
    errs: &mut Vec<LowerError>,
) -> (Option<Value>, Placement) {
    let mut requests = Map::new();
    let mut limits = Map::new();
    let mut placement = Placement::default();
    for (field, key) in [
        ("cpu", "cpu"),
        ("memory", "memory"),
        ("ephemeral_storage", "ephemeral-storage"),
    ] {
        if let Some(v) = res.get(field) {
            requests.insert(key.into(), v.clone());
        }
    }
    if let Some(l) = res.get("limits") {
        for (field, key) in [
            ("cpu", "cpu"),
            ("memory", "memory"),
            ("ephemeral_storage", "ephemeral-storage"),
        ] {
            if let Some(v) = l.get(field) {
                if let (Some(lim), Some(req)) =
                    (quantity_milli(v), requests.get(key).and_then(quantity_milli))
                    && lim < req
                {
                    errs.push(
                        LowerError::new(
                            codes::LIMIT_BELOW_REQUEST,
                            ptr(&ptr(p, "limits"), field),
                            format!(
                                "the {key} limit {} is lower than the request {}",
                                num(v),
                                num(&requests[key])
                            ),
                        )
                        .with_help("raise the limit, or lower the request"),
                    );
                }
                limits.insert(key.into(), v.clone());
            }
        }
    }
    if boolean(res, "guaranteed") == Some(true) {
        if !requests.contains_key("cpu") && !requests.contains_key("memory") {
            errs.push(
                LowerError::new(
                    codes::FIELD_HAS_NO_EFFECT,
                    ptr(p, "guaranteed"),
                    "`guaranteed` has no effect without a cpu or memory request",
                )
                .with_help("set `cpu` and `memory`: guaranteed copies them into the limits")
                .warning(),
            );
        }
        for key in ["cpu", "memory"] {
            if let Some(v) = requests.get(key) {
                limits.entry(key.to_string()).or_insert_with(|| v.clone());
            }
        }
    }
    if let Some(gpu) = res.get("gpu") {
        let acc = gpu.get("accelerator").cloned().unwrap_or_else(|| json!({}));
        let resource = s(&acc, "resource").unwrap_or("nvidia.com/gpu").to_string();
        let count = int(gpu, "count").unwrap_or(1);
        requests.insert(resource.clone(), json!(count));
        limits.insert(resource.clone(), json!(count));
        let gp = ptr(p, "gpu");
        check_gpu(gpu, &acc, count, res, &gp, ctx, errs);
        if let Some(pool) = gpu.get("pool") {
            if let Some(labels) = obj(pool, "labels") {
                placement.node_selector.extend(labels.clone());
            } else if let Some(model) = s(&acc, "model") {
                placement
                    .node_selector
                    .insert(model_label(&resource).into(), json!(model));
            }
            placement.tolerations.extend(tolerations(pool));
        } else if let Some(model) = s(&acc, "model") {
            // A request for a model targets that model's nodes and tolerates the usual GPU
            // taint; a bare count only asks for the resource.
            placement
                .node_selector
                .insert(model_label(&resource).into(), json!(model));
            placement
                .tolerations
                .push(json!({"key": resource, "operator": "Exists", "effect": "NoSchedule"}));
        }
    }
    if let Some(shm) = res.get("shm") {
        placement.shm = Some(shm.clone());
    }
    let mut out = Map::new();
    if !limits.is_empty() {
        out.insert("limits".into(), Value::Object(limits));
    }
    if !requests.is_empty() {
        out.insert("requests".into(), Value::Object(requests));
    }
    ((!out.is_empty()).then_some(Value::Object(out)), placement)
}

fn num(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// K0501 (model not in any declared pool), K0503 (does not fit one node), K0505 (pool of
/// another accelerator). Returns the pool the request lands on, when one is known.
pub(crate) fn check_gpu<'c>(
    gpu: &'c Value,
    acc: &Value,
    count: i64,
    res: &Value,
    p: &str,
    ctx: &'c LowerContext,
    errs: &mut Vec<LowerError>,
) -> Option<&'c Value> {
    if let Some(pool) = gpu.get("pool") {
        let pacc = pool.get("accelerator").cloned().unwrap_or_else(|| json!({}));
        if !same_accelerator(acc, &pacc) {
            errs.push(
                LowerError::new(
                    codes::POOL_ACCELERATOR_MISMATCH,
                    ptr(p, "pool"),
                    format!(
                        "the request is for {} but the node pool provides {}",
                        describe(acc),
                        describe(&pacc)
                    ),
                )
                .with_help("use `kf.gpus(pool, n)`, which takes the accelerator from the pool"),
            );
        }
        check_fit(pool, "its node pool", count, res, p, errs);
        return Some(pool);
    }
    let declared = pools(ctx);
    if declared.is_empty() {
        return None;
    }
    let matching: Vec<_> = declared
        .iter()
        .filter(|(_, v)| v.get("accelerator").is_some_and(|a| same_accelerator(acc, a)))
        .collect();
    if matching.is_empty() {
        let available: Vec<String> = declared
            .iter()
            .map(|(n, v)| {
                format!(
                    "`{n}` ({})",
                    describe(v.get("accelerator").unwrap_or(&Value::Null))
                )
            })
            .collect();
        let mut e = LowerError::new(
            codes::GPU_MODEL_UNKNOWN,
            ptr(p, "accelerator"),
            format!("no declared NodePool provides {}", describe(acc)),
        );
        // A misspelled model, or (for a bare count) a misspelled resource name.
        let (wanted, field) = match s(acc, "model") {
            Some(m) => (m, "model"),
            None => (s(acc, "resource").unwrap_or("nvidia.com/gpu"), "resource"),
        };
        let best = did_you_mean(
            wanted,
            declared
                .iter()
                .filter_map(|(_, v)| v.get("accelerator").and_then(|a| s(a, field))),
        );
        e = match best {
            Some(m) => e.with_help(format!(
                "did you mean `{m}`? declared pools: {}",
                available.join(", ")
            )),
            None => e.with_help(format!("declared pools: {}", available.join(", "))),
        };
        errs.push(e);
        return None;
    }
    let best = matching
        .iter()
        .max_by_key(|(_, v)| int(v, "per_node").unwrap_or(0));
    if let Some((name, pool)) = best {
        check_fit(pool, &format!("node pool `{name}`"), count, res, p, errs);
        return Some(*pool);
    }
    None
}

/// The tolerations a pod needs to run on `pool`'s nodes: one per taint.
pub(crate) fn tolerations(pool: &Value) -> Vec<Value> {
    list(pool, "taints")
        .into_iter()
        .flatten()
        .map(|t| {
            let mut tol = Map::new();
            tol.insert("key".into(), t.get("key").cloned().unwrap_or(Value::Null));
            match t.get("value") {
                Some(v) => {
                    tol.insert("operator".into(), json!("Equal"));
                    tol.insert("value".into(), v.clone());
                }
                None => {
                    tol.insert("operator".into(), json!("Exists"));
                }
            }
            tol.insert(
                "effect".into(),
                t.get("effect").cloned().unwrap_or(json!("NoSchedule")),
            );
            Value::Object(tol)
        })
        .collect()
}

fn check_fit(pool: &Value, what: &str, count: i64, res: &Value, p: &str, errs: &mut Vec<LowerError>) {
    let per_node = int(pool, "per_node").unwrap_or(i64::MAX);
    if count > per_node {
        errs.push(
            LowerError::new(
                codes::DOES_NOT_FIT_NODE,
                ptr(p, "count"),
                format!("one pod requests {count} accelerators but a node of {what} has {per_node}"),
            )
            .with_help(format!(
                "use at most {per_node} per pod and more workers (for example {} workers x {per_node})",
                (count + per_node.max(1) - 1) / per_node.max(1)
            )),
        );
    }
    // Shared memory is a memory-backed volume: it counts against the node's memory.
    let shm = res.get("shm").and_then(quantity_milli).unwrap_or(0);
    for (field, fmt) in [("cpu", fmt_cpu as fn(i128) -> String), ("memory", fmt_memory)] {
        let extra = if field == "memory" { shm } else { 0 };
        let asked = res.get(field).and_then(quantity_milli);
        if let (Some(want), Some(have)) = (
            (asked.is_some() || extra > 0).then(|| asked.unwrap_or(0) + extra),
            pool.get(field).and_then(quantity_milli),
        ) && want > have
        {
            let how = if extra > 0 {
                format!(
                    " ({} plus {} of shared memory, which is memory-backed)",
                    fmt(asked.unwrap_or(0)),
                    fmt(extra)
                )
            } else {
                String::new()
            };
            errs.push(
                LowerError::new(
                    codes::DOES_NOT_FIT_NODE,
                    ptr(
                        p.trim_end_matches("/gpu"),
                        if extra > 0 && asked.is_none() {
                            "shm"
                        } else {
                            field
                        },
                    ),
                    format!(
                        "one pod requests {} {field}{how} but a node of {what} has {}",
                        fmt(want),
                        fmt(have)
                    ),
                )
                .with_help(format!(
                    "request at most {} per pod, shared memory included",
                    fmt(have)
                )),
            );
        }
    }
}

/// Lowers `core.Env`: (env, envFrom).
pub fn env(e: &Value) -> (Vec<Value>, Vec<Value>) {
    let mut out = Vec::new();
    let mut from = Vec::new();
    for (k, v) in obj(e, "values").into_iter().flatten() {
        out.push(json!({"name": k, "value": v}));
    }
    for (k, v) in obj(e, "secrets").into_iter().flatten() {
        let mut r = Map::new();
        r.insert("name".into(), v.get("name").cloned().unwrap_or(Value::Null));
        r.insert("key".into(), v.get("key").cloned().unwrap_or(Value::Null));
        if let Some(o) = v.get("optional") {
            r.insert("optional".into(), o.clone());
        }
        out.push(json!({"name": k, "valueFrom": {"secretKeyRef": r}}));
    }
    for (k, v) in obj(e, "config_maps").into_iter().flatten() {
        out.push(json!({"name": k, "valueFrom": {"configMapKeyRef": {"name": v.get("name"), "key": v.get("key")}}}));
    }
    for n in list(e, "from_config_maps").into_iter().flatten() {
        from.push(json!({"configMapRef": {"name": n}}));
    }
    for n in list(e, "from_secrets").into_iter().flatten() {
        from.push(json!({"secretRef": {"name": n}}));
    }
    (out, from)
}

/// Lowers `core.Volume`: (pod volume, container volumeMount).
pub fn volume(v: &Value) -> (Value, Value) {
    let name = v.get("name").cloned().unwrap_or(Value::Null);
    let mut vol = Map::new();
    vol.insert("name".into(), name.clone());
    let mut read_only = boolean(v, "read_only");
    if let Some((tag, f)) = v.get("source").and_then(variant) {
        match tag {
            "Pvc" => {
                let mut c = Map::new();
                c.insert("claimName".into(), f.get("claim").cloned().unwrap_or(Value::Null));
                if boolean(f, "read_only") == Some(true) {
                    c.insert("readOnly".into(), json!(true));
                }
                vol.insert("persistentVolumeClaim".into(), Value::Object(c));
            }
            "EmptyDir" => {
                let mut c = Map::new();
                if let Some(m) = f.get("medium") {
                    c.insert("medium".into(), m.clone());
                }
                if let Some(m) = f.get("size_limit") {
                    c.insert("sizeLimit".into(), m.clone());
                }
                vol.insert("emptyDir".into(), Value::Object(c));
            }
            "SecretVolume" => {
                let mut c = Map::new();
                c.insert(
                    "secretName".into(),
                    f.get("secret").cloned().unwrap_or(Value::Null),
                );
                if let Some(o) = f.get("optional") {
                    c.insert("optional".into(), o.clone());
                }
                vol.insert("secret".into(), Value::Object(c));
            }
            "ConfigMapVolume" => {
                let mut c = Map::new();
                c.insert("name".into(), f.get("config_map").cloned().unwrap_or(Value::Null));
                if let Some(o) = f.get("optional") {
                    c.insert("optional".into(), o.clone());
                }
                vol.insert("configMap".into(), Value::Object(c));
            }
            "HostPath" => {
                vol.insert("hostPath".into(), json!({"path": f.get("path")}));
            }
            "ServiceAccountToken" => {
                let mut t = Map::new();
                t.insert(
                    "path".into(),
                    f.get("token_path").cloned().unwrap_or(json!("token")),
                );
                if let Some(secs) = f.get("expiration").and_then(duration_secs) {
                    t.insert("expirationSeconds".into(), json!(secs));
                }
                if let Some(a) = f.get("audience") {
                    t.insert("audience".into(), a.clone());
                }
                vol.insert(
                    "projected".into(),
                    json!({"sources": [{"serviceAccountToken": t}]}),
                );
                read_only = read_only.or(Some(true));
            }
            _ => {}
        }
    }
    let mut mount = Map::new();
    mount.insert("mountPath".into(), v.get("path").cloned().unwrap_or(Value::Null));
    mount.insert("name".into(), name);
    if let Some(sp) = v.get("sub_path") {
        mount.insert("subPath".into(), sp.clone());
    }
    if let Some(ro) = read_only {
        mount.insert("readOnly".into(), json!(ro));
    }
    (Value::Object(vol), Value::Object(mount))
}

/// Lowers `core.Probe`.
fn lower_probe(p: &Value) -> Value {
    let mut out = Map::new();
    if p.get("path").is_some() || p.get("port").is_some() {
        out.insert(
            "httpGet".into(),
            Value::Object(super::renamed(p, &[("path", "path"), ("port", "port")])),
        );
    }
    out.extend(super::renamed(
        p,
        &[
            ("initial_delay", "initialDelaySeconds"),
            ("period", "periodSeconds"),
            ("timeout", "timeoutSeconds"),
            ("failure_threshold", "failureThreshold"),
        ],
    ));
    Value::Object(out)
}

/// Lowers `core.Security` to a securityContext.
fn security(sec: &Value) -> Value {
    let mut out = super::renamed(
        sec,
        &[
            ("allow_privilege_escalation", "allowPrivilegeEscalation"),
            ("privileged", "privileged"),
            ("run_as_non_root", "runAsNonRoot"),
            ("run_as_user", "runAsUser"),
            ("run_as_group", "runAsGroup"),
            ("read_only_root_filesystem", "readOnlyRootFilesystem"),
        ],
    );
    let mut caps = Map::new();
    if let Some(d) = list(sec, "drop_capabilities") {
        caps.insert("drop".into(), Value::Array(d.clone()));
    }
    if let Some(a) = list(sec, "add_capabilities") {
        caps.insert("add".into(), Value::Array(a.clone()));
    }
    if !caps.is_empty() {
        out.insert("capabilities".into(), Value::Object(caps));
    }
    Value::Object(out)
}

/// The parts of a container, each optional: used by every workload.
#[derive(Default)]
pub struct ContainerSpec<'a> {
    pub name: Option<&'a str>,
    pub image: Option<&'a Value>,
    pub pull_policy: Option<&'a Value>,
    pub command: Option<&'a Value>,
    pub args: Option<&'a Value>,
    pub working_dir: Option<&'a Value>,
    pub env: Option<&'a Value>,
    pub resources: Option<&'a Value>,
    pub volumes: Vec<&'a Value>,
    pub ports: Option<&'a Value>,
    pub security: Option<&'a Value>,
    pub liveness: Option<&'a Value>,
    pub readiness: Option<&'a Value>,
}

impl<'a> ContainerSpec<'a> {
    /// The spec of a `core.Container` value.
    pub fn of(c: &'a Value) -> ContainerSpec<'a> {
        ContainerSpec {
            name: s(c, "name"),
            image: c.get("image"),
            pull_policy: c.get("pull_policy"),
            command: c.get("command"),
            args: c.get("args"),
            working_dir: c.get("working_dir"),
            env: c.get("env"),
            resources: c.get("resources"),
            volumes: list(c, "volumes").map(|l| l.iter().collect()).unwrap_or_default(),
            ports: c.get("ports"),
            security: c.get("security"),
            liveness: c.get("liveness"),
            readiness: c.get("readiness"),
        }
    }

    /// Lowers the container; `p` points at the record the resources were written in.
    pub fn lower(
        &self,
        default_name: &str,
        p: &str,
        res_ptr: &str,
        ctx: &LowerContext,
        errs: &mut Vec<LowerError>,
    ) -> ContainerParts {
        let mut c = Map::new();
        c.insert("name".into(), json!(self.name.unwrap_or(default_name)));
        if let Some(i) = self.image {
            c.insert("image".into(), i.clone());
        }
        if let Some(pp) = self.pull_policy {
            c.insert("imagePullPolicy".into(), pp.clone());
        }
        if let Some(x) = self.command {
            c.insert("command".into(), x.clone());
        }
        if let Some(x) = self.args {
            c.insert("args".into(), x.clone());
        }
        if let Some(x) = self.working_dir {
            c.insert("workingDir".into(), x.clone());
        }
        if let Some(e) = self.env {
            let (env, from) = env(e);
            if !env.is_empty() {
                c.insert("env".into(), Value::Array(env));
            }
            if !from.is_empty() {
                c.insert("envFrom".into(), Value::Array(from));
            }
        }
        if let Some(ports) = self.ports.and_then(Value::as_array).filter(|l| !l.is_empty()) {
            let ports: Vec<Value> = ports
                .iter()
                .map(|pt| {
                    let mut m = Map::new();
                    super::copy(&mut m, pt, "name", "name");
                    super::copy(&mut m, pt, "port", "containerPort");
                    super::copy(&mut m, pt, "protocol", "protocol");
                    Value::Object(m)
                })
                .collect();
            c.insert("ports".into(), Value::Array(ports));
        }
        let mut placement = Placement::default();
        if let Some(r) = self.resources {
            let (res, pl) = resources(r, res_ptr, ctx, errs);
            if let Some(res) = res {
                c.insert("resources".into(), res);
            }
            placement = pl;
        }
        let mut mounts = Vec::new();
        for v in &self.volumes {
            let (vol, mount) = volume(v);
            mounts.push(mount);
            placement.volumes.push(vol);
        }
        if let Some(size) = placement.shm.take() {
            let taken: Vec<&str> = self.volumes.iter().filter_map(|v| s(v, "name")).collect();
            let (vol, mount) = shm_volume(&size, &taken);
            mounts.push(mount);
            placement.volumes.push(vol);
        }
        if !mounts.is_empty() {
            c.insert("volumeMounts".into(), Value::Array(mounts));
        }
        if let Some(sec) = self.security {
            c.insert("securityContext".into(), security(sec));
        }
        for (key, probe) in [
            ("livenessProbe", self.liveness),
            ("readinessProbe", self.readiness),
        ] {
            if let Some(pr) = probe {
                c.insert(key.into(), lower_probe(pr));
            }
        }
        let _ = p;
        ContainerParts {
            container: Value::Object(c),
            placement,
        }
    }
}

/// A pod spec from containers, placement, `core.PodSettings` and a restart policy.
pub fn pod_spec(
    containers: Vec<Value>,
    placement: &Placement,
    settings: Option<&Value>,
    restart_policy: Option<&str>,
) -> Value {
    let mut spec = Map::new();
    spec.insert("containers".into(), Value::Array(containers));
    if let Some(rp) = restart_policy {
        spec.insert("restartPolicy".into(), json!(rp));
    }
    let mut node_selector = placement.node_selector.clone();
    if let Some(st) = settings {
        if let Some(sa) = st.get("service_account") {
            spec.insert("serviceAccountName".into(), sa.clone());
        }
        if let Some(ns) = obj(st, "node_selector") {
            node_selector.extend(ns.clone());
        }
        if let Some(ps) = list(st, "image_pull_secrets") {
            spec.insert(
                "imagePullSecrets".into(),
                Value::Array(ps.iter().map(|n| json!({"name": n})).collect()),
            );
        }
        if let Some(pc) = st.get("priority_class") {
            spec.insert("priorityClassName".into(), pc.clone());
        }
    }
    if !node_selector.is_empty() {
        spec.insert("nodeSelector".into(), Value::Object(node_selector));
    }
    if !placement.tolerations.is_empty() {
        spec.insert("tolerations".into(), Value::Array(placement.tolerations.clone()));
    }
    if !placement.volumes.is_empty() {
        spec.insert("volumes".into(), Value::Array(placement.volumes.clone()));
    }
    Value::Object(spec)
}

/// A pod template (`{ metadata?, spec }`) with the labels/annotations of `core.PodSettings`.
pub fn pod_template(spec: Value, settings: Option<&Value>) -> Value {
    let mut t = Map::new();
    let mut meta = Map::new();
    if let Some(st) = settings {
        if let Some(l) = obj(st, "labels") {
            meta.insert("labels".into(), Value::Object(l.clone()));
        }
        if let Some(a) = obj(st, "annotations") {
            meta.insert("annotations".into(), Value::Object(a.clone()));
        }
    }
    if !meta.is_empty() {
        t.insert("metadata".into(), Value::Object(meta));
    }
    t.insert("spec".into(), spec);
    Value::Object(t)
}

/// Requests of one pod for the quota check.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct Usage {
    /// Milli-cores.
    pub cpu: i128,
    /// Milli-bytes.
    pub memory: i128,
    pub gpu: i64,
}

impl Usage {
    pub fn times(self, n: i64) -> Usage {
        Usage {
            cpu: self.cpu * i128::from(n),
            memory: self.memory * i128::from(n),
            gpu: self.gpu * n,
        }
    }

    pub fn plus(self, o: Usage) -> Usage {
        Usage {
            cpu: self.cpu + o.cpu,
            memory: self.memory + o.memory,
            gpu: self.gpu + o.gpu,
        }
    }
}

/// The requests of a `core.Resources` value (a limit stands for a missing request, as in
/// Kubernetes); GPUs only when they are of `gpu_resource`.
pub fn usage(res: Option<&Value>, gpu_resource: &str) -> Usage {
    let Some(res) = res else { return Usage::default() };
    let pick = |field: &str| {
        res.get(field)
            .or_else(|| res.get("limits").and_then(|l| l.get(field)))
            .and_then(quantity_milli)
            .unwrap_or(0)
    };
    let gpu = res
        .get("gpu")
        .filter(|g| {
            g.get("accelerator")
                .and_then(|a| s(a, "resource"))
                .unwrap_or("nvidia.com/gpu")
                == gpu_resource
        })
        .map(|g| int(g, "count").unwrap_or(1))
        .unwrap_or(0);
    Usage {
        cpu: pick("cpu"),
        memory: pick("memory"),
        gpu,
    }
}
