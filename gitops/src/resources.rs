//! What a set of manifests asks of the cluster: CPU, memory and accelerators per namespace,
//! at the declared replica counts, and what that costs where node pools declare prices.
//!
//! Pod templates are found structurally, so every kind that embeds one counts (Deployments,
//! training jobs' replica specs, Notebooks, InferenceService components, Katib trial templates,
//! Argo templates): any object with a `containers` list is a pod spec. Its requests count (a
//! limit stands for a missing request, as in Kubernetes), multiplied by the `replicas` (or
//! `minReplicas`, `parallelism`, `parallelTrialCount`) of the objects that hold it. An
//! accelerator is named by its model (the `nvidia.com/gpu.product` or `amd.com/gpu.product-name`
//! node selector the compiler sets), else by its resource name.

use std::collections::BTreeMap;

use kiln_compiler::units::Quantity;
use serde::Serialize;
use serde_json::Value;

use crate::incremental::NodePoolPrice;

/// Requests of one namespace. CPU in millicores, memory in bytes.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Usage {
    pub cpu_milli: i128,
    pub memory_bytes: i128,
    /// Accelerators by model.
    pub gpus: BTreeMap<String, i64>,
}

impl Usage {
    fn add(&mut self, other: &Usage, times: i64) {
        self.cpu_milli += other.cpu_milli * i128::from(times);
        self.memory_bytes += other.memory_bytes * i128::from(times);
        for (m, n) in &other.gpus {
            *self.gpus.entry(m.clone()).or_default() += n * times;
        }
    }

    pub fn is_zero(&self) -> bool {
        self.cpu_milli == 0 && self.memory_bytes == 0 && self.gpus.values().all(|n| *n == 0)
    }

    /// `self - base`.
    pub fn minus(&self, base: &Usage) -> Usage {
        let mut out = self.clone();
        out.add(base, -1);
        out.gpus.retain(|_, n| *n != 0);
        out
    }
}

/// Requests per namespace (cluster-scoped objects under `""`).
pub fn usage_by_namespace(manifests: &[Value]) -> BTreeMap<String, Usage> {
    let mut out: BTreeMap<String, Usage> = BTreeMap::new();
    for m in manifests {
        let ns = m["metadata"]["namespace"].as_str().unwrap_or("").to_string();
        let mut usage = Usage::default();
        walk(m, 1, &mut usage);
        if !usage.is_zero() {
            out.entry(ns).or_default().add(&usage, 1);
        }
    }
    out
}

const MULTIPLIERS: &[&str] = &["replicas", "minReplicas", "parallelism", "parallelTrialCount"];

fn walk(v: &Value, times: i64, usage: &mut Usage) {
    match v {
        Value::Object(map) => {
            let here = MULTIPLIERS
                .iter()
                .find_map(|k| map.get(*k).and_then(Value::as_i64))
                .map_or(times, |n| times.saturating_mul(n.max(0)));
            if let Some(Value::Array(containers)) = map.get("containers") {
                let model = map.get("nodeSelector").and_then(model_of);
                let mut pod = Usage::default();
                for c in containers {
                    pod.add(&container(c, model.as_deref()), 1);
                }
                usage.add(&pod, here);
            }
            for (k, child) in map {
                if k != "containers" {
                    walk(child, here, usage);
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|i| walk(i, times, usage)),
        _ => {}
    }
}

fn model_of(selector: &Value) -> Option<String> {
    ["nvidia.com/gpu.product", "amd.com/gpu.product-name"]
        .iter()
        .find_map(|k| selector.get(*k).and_then(Value::as_str))
        .map(str::to_string)
}

fn container(c: &Value, model: Option<&str>) -> Usage {
    let res = &c["resources"];
    let pick = |key: &str| res["requests"].get(key).or_else(|| res["limits"].get(key));
    let milli = |v: Option<&Value>| -> i128 {
        match v {
            Some(Value::String(s)) => Quantity::parse(s).map_or(0, |q| q.milli),
            Some(Value::Number(n)) => n.as_f64().map_or(0, |f| (f * 1000.0) as i128),
            _ => 0,
        }
    };
    let mut usage = Usage {
        cpu_milli: milli(pick("cpu")),
        memory_bytes: milli(pick("memory")) / 1000,
        gpus: BTreeMap::new(),
    };
    let mut keys: Vec<&String> = Vec::new();
    for side in ["limits", "requests"] {
        if let Some(m) = res[side].as_object() {
            keys.extend(m.keys());
        }
    }
    keys.sort();
    keys.dedup();
    for key in keys {
        if key.ends_with("/gpu") || key.contains("/mig-") {
            let n = milli(pick(key)) / 1000;
            if n > 0 {
                let name = model.map_or_else(|| key.clone(), str::to_string);
                *usage.gpus.entry(name).or_default() += n as i64;
            }
        }
    }
    usage
}

/// The cost per hour of `gpus` accelerators by model, from the pools that declare a price:
/// whole nodes are not assumed, a share of a node costs its share of the price. Models without
/// a priced pool are listed in the second value.
pub fn cost_per_hour(gpus: &BTreeMap<String, i64>, pools: &[NodePoolPrice]) -> (f64, Vec<String>) {
    let mut total = 0.0;
    let mut unpriced = Vec::new();
    for (model, n) in gpus {
        match pools
            .iter()
            .find(|p| p.model.eq_ignore_ascii_case(model) && p.price_per_hour.is_some())
        {
            Some(pool) => total += *n as f64 / pool.per_node as f64 * pool.price_per_hour.unwrap_or(0.0),
            None => unpriced.push(model.clone()),
        }
    }
    (total, unpriced)
}

/// `1500m` -> `1.5`, `4000m` -> `4`.
pub fn format_cpu(milli: i128) -> String {
    signed(milli, |m| {
        if m % 1000 == 0 {
            format!("{}", m / 1000)
        } else {
            format!("{}", m as f64 / 1000.0)
        }
    })
}

/// Bytes in the largest binary unit that divides them (`34359738368` -> `32Gi`).
pub fn format_memory(bytes: i128) -> String {
    signed(bytes, |b| {
        for (unit, size) in [
            ("Ti", 1i128 << 40),
            ("Gi", 1 << 30),
            ("Mi", 1 << 20),
            ("Ki", 1 << 10),
        ] {
            if b >= size && b % size == 0 {
                return format!("{}{unit}", b / size);
            }
        }
        if b >= 1 << 30 {
            return format!("{:.1}Gi", b as f64 / (1u64 << 30) as f64);
        }
        format!("{b}")
    })
}

fn signed(v: i128, f: impl Fn(i128) -> String) -> String {
    if v < 0 { format!("-{}", f(-v)) } else { f(v) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn replicas_multiply_and_models_name_gpus() {
        let job = json!({"kind": "PyTorchJob", "metadata": {"namespace": "ml"}, "spec": {"pytorchReplicaSpecs": {
            "Master": {"replicas": 1, "template": {"spec": {"containers": [{"resources": {"requests": {"cpu": "4", "memory": "16Gi"}}}]}}},
            "Worker": {"replicas": 3, "template": {"spec": {"nodeSelector": {"nvidia.com/gpu.product": "a100"},
                "containers": [{"resources": {"requests": {"cpu": "500m"}, "limits": {"nvidia.com/gpu": "2", "memory": "8Gi"}}}]}}}}}});
        let u = &usage_by_namespace(&[job])["ml"];
        assert_eq!(u.cpu_milli, 4000 + 3 * 500);
        assert_eq!(u.memory_bytes, (16 + 3 * 8) << 30);
        assert_eq!(u.gpus["a100"], 6);
        assert_eq!(format_cpu(u.cpu_milli), "5.5");
        assert_eq!(format_memory(u.memory_bytes), "40Gi");
        let pools = [NodePoolPrice {
            name: "p".into(),
            model: "a100".into(),
            per_node: 8,
            price_per_hour: Some(32.0),
        }];
        assert_eq!(cost_per_hour(&u.gpus, &pools), (24.0, vec![]));
    }
}
