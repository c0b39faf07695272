//! `profile.Profile` -> kubeflow.org/v1 Profile (cluster-scoped; its name is the namespace),
//! with its ResourceQuota, and the per-namespace quota check (K0502): the namespace's
//! long-running requests (notebooks, serving min replicas) plus its experiments' parallel trials
//! must fit the quota. Training jobs and pipelines are not counted (they are transient).

use serde_json::{Map, Value, json};

use super::pod::Usage;
use super::{
    LowerContext, LowerError, LowerInput, check_name, codes, fmt_cpu, fmt_memory, list, metadata, obj, s,
};

pub fn lower(input: &LowerInput, ctx: &LowerContext, errs: &mut Vec<LowerError>) -> Vec<Value> {
    check_name(input, 63, errs);
    let v = input.value;
    let mut spec = Map::new();
    spec.insert(
        "owner".into(),
        json!({"kind": s(v, "owner_kind").unwrap_or("User"), "name": v.get("owner")}),
    );
    if let Some(q) = v.get("quota") {
        let gpu_res = s(q, "gpu_resource").unwrap_or("nvidia.com/gpu");
        let mut hard = Map::new();
        if let Some(x) = q.get("cpu") {
            hard.insert("requests.cpu".into(), x.clone());
        }
        if let Some(x) = q.get("memory") {
            hard.insert("requests.memory".into(), x.clone());
        }
        if let Some(x) = q.get("gpu") {
            hard.insert(format!("requests.{gpu_res}"), json!(super::num_string(x)));
        }
        if let Some(x) = q.get("storage") {
            hard.insert("requests.storage".into(), x.clone());
        }
        if let Some(x) = q.get("pods") {
            hard.insert("pods".into(), json!(super::num_string(x)));
        }
        if let Some(extra) = obj(q, "extra") {
            hard.extend(extra.clone());
        }
        spec.insert("resourceQuotaSpec".into(), json!({ "hard": hard }));
        check_quota(input.name, q, gpu_res, ctx, errs);
    }
    if let Some(p) = list(v, "plugins") {
        spec.insert("plugins".into(), Value::Array(p.clone()));
    }
    vec![json!({
        "apiVersion": "kubeflow.org/v1",
        "kind": "Profile",
        "metadata": metadata(input, false),
        "spec": spec,
    })]
}

/// K0506 (a warning): a workload the quota check counts (notebook, service, experiment) in a
/// namespace that none of the project's Profiles creates. Said once per workload, and only when
/// the project declares Profiles at all (a project without any manages quota elsewhere).
pub fn check_namespace_has_profile(input: &LowerInput, ctx: &LowerContext, errs: &mut Vec<LowerError>) {
    if !matches!(
        super::kind_of(input.ty),
        "Notebook" | "InferenceService" | "Experiment"
    ) {
        return;
    }
    let profiles: Vec<&str> = ctx.profile_names().iter().map(String::as_str).collect();
    if profiles.is_empty() {
        return;
    }
    let ns = s(input.value, "namespace");
    if ns.is_some_and(|ns| profiles.contains(&ns)) {
        return;
    }
    let (at, what) = match ns {
        Some(ns) => ("/namespace", format!("namespace `{ns}`")),
        None => ("", "the default namespace".to_string()),
    };
    let mut e = LowerError::new(
        codes::QUOTA_UNCHECKED,
        at,
        format!(
            "{what} has no Profile in this project, so the quota of `{}` is not checked",
            input.name
        ),
    );
    e = match ns.and_then(|ns| kiln_lang::diagnostic::did_you_mean(ns, profiles.iter().copied())) {
        Some(m) => e.with_help(format!(
            "did you mean `{m}`? declared Profiles: {}",
            profiles.join(", ")
        )),
        None => e.with_help(format!(
            "declare `kf.Profile \"{}\"` with its quota, or use one of: {}",
            ns.unwrap_or("<namespace>"),
            profiles.join(", ")
        )),
    };
    errs.push(e.warning());
}

/// One workload's share of a namespace's requests.
struct Contribution {
    what: String,
    /// The workload: its stdlib type and name.
    ty: String,
    name: String,
    usage: Usage,
    /// How the GPU figure was obtained (`2 parallel trials x 8`).
    detail: Option<String>,
}

fn contributions(ns: &str, gpu_res: &str, ctx: &LowerContext) -> Vec<Contribution> {
    let mut out = Vec::new();
    for o in ctx.workloads_in(ns) {
        match super::kind_of(&o.ty) {
            "Notebook" => {
                let stopped = o.value.get("stopped").and_then(Value::as_bool) == Some(true);
                let usage = if stopped {
                    Usage::default()
                } else {
                    super::notebook::usage(&o.value, gpu_res)
                };
                out.push(Contribution {
                    ty: o.ty.clone(),
                    name: o.name.clone(),
                    what: format!("notebook {}", o.name),
                    usage,
                    detail: stopped.then(|| "stopped".to_string()),
                });
            }
            "InferenceService" => {
                let (usage, min) = super::kserve::usage(&o.value, gpu_res);
                out.push(Contribution {
                    ty: o.ty.clone(),
                    name: o.name.clone(),
                    what: format!("service {}", o.name),
                    usage,
                    detail: (min == 0).then(|| "scales to zero".to_string()),
                });
            }
            "Experiment" => {
                let (per_trial, parallel) = super::katib::trial_usage(&o.value, gpu_res);
                out.push(Contribution {
                    ty: o.ty.clone(),
                    name: o.name.clone(),
                    what: format!("experiment {}", o.name),
                    usage: per_trial.times(parallel),
                    detail: Some(format!("{parallel} parallel trials x {{}}")),
                });
            }
            _ => {}
        }
    }
    out
}

fn check_quota(ns: &str, q: &Value, gpu_res: &str, ctx: &LowerContext, errs: &mut Vec<LowerError>) {
    let parts = contributions(ns, gpu_res, ctx);
    let total = parts.iter().fold(Usage::default(), |a, c| a.plus(c.usage));
    type Dim = (&'static str, &'static str, fn(&Usage) -> i128, fn(i128) -> String);
    let dims: [Dim; 3] = [
        (
            "gpu",
            gpu_res_label(),
            |u| i128::from(u.gpu) * 1000,
            |m| (m / 1000).to_string(),
        ),
        ("cpu", "cpu", |u| u.cpu, fmt_cpu),
        ("memory", "memory", |u| u.memory, fmt_memory),
    ];
    for (field, label, get, fmt) in dims {
        let Some(limit) = q.get(field).and_then(super::quantity_milli) else {
            continue;
        };
        let want = get(&total);
        if want <= limit {
            continue;
        }
        let label = if field == "gpu" {
            gpu_res.to_string()
        } else {
            label.to_string()
        };
        let note: Vec<String> = parts
            .iter()
            .map(|c| {
                let amount = fmt(get(&c.usage));
                match &c.detail {
                    Some(d) if d.contains("{}") => {
                        let n: i64 = d.split(' ').next().and_then(|x| x.parse().ok()).unwrap_or(1);
                        let each = fmt(get(&c.usage) / i128::from(n.max(1)));
                        format!("{} {} = {amount}", c.what, d.replace("{}", &each))
                    }
                    Some(d) => format!("{} {amount} ({d})", c.what),
                    None => format!("{} {amount}", c.what),
                }
            })
            .collect();
        let experiment = parts
            .iter()
            .find(|c| c.what.starts_with("experiment ") && get(&c.usage) > 0);
        let fix = match experiment {
            Some(e) => format!(
                "lower `parallel` of {}, or raise the quota in Profile `{ns}`",
                e.what
            ),
            None => format!("lower the requests, or raise the quota in Profile `{ns}`"),
        };
        let mut e = LowerError::new(
            codes::QUOTA_EXCEEDED,
            format!("/quota/{field}"),
            format!(
                "namespace `{ns}` would request {} {label}; its Profile quota is {}",
                fmt(want),
                fmt(limit)
            ),
        )
        .with_help(format!("{}\n{fix}", note.join(", ")));
        // Point at the workloads that hold the quota, largest first (the first one alone is
        // over it, or the top few together are).
        let mut holders: Vec<&Contribution> = parts.iter().filter(|c| get(&c.usage) > 0).collect();
        holders.sort_by_key(|c| std::cmp::Reverse(get(&c.usage)));
        for c in holders.into_iter().take(3) {
            e = e.with_related(super::Related {
                ty: c.ty.clone(),
                name: c.name.clone(),
                pointer: String::new(),
                message: format!("{} requests {} {label}", c.what, fmt(get(&c.usage))),
            });
        }
        errs.push(e);
    }
}

fn gpu_res_label() -> &'static str {
    "gpu"
}

#[cfg(test)]
mod tests {
    use super::super::{LowerContext, codes, lower_one};
    use serde_json::json;

    #[test]
    fn profile_lowers_owner_and_quota() {
        let v = json!({"owner": "alice@acme.com", "owner_kind": "User", "quota": {"cpu": "64", "memory": "512Gi", "gpu": 16, "gpu_resource": "nvidia.com/gpu", "extra": {}}, "plugins": [], "labels": {}, "annotations": {}});
        let out = lower_one("kubeflow.Profile", "team-churn", &v, &LowerContext::default()).unwrap();
        assert_eq!(
            out[0],
            json!({"apiVersion": "kubeflow.org/v1", "kind": "Profile", "metadata": {"name": "team-churn"},
                "spec": {"owner": {"kind": "User", "name": "alice@acme.com"},
                    "resourceQuotaSpec": {"hard": {"requests.cpu": "64", "requests.memory": "512Gi", "requests.nvidia.com/gpu": "16"}}}})
        );
    }

    #[test]
    fn quota_counts_notebooks_services_and_parallel_trials() {
        let profile = json!({"owner": "alice@acme.com", "quota": {"gpu": 16}});
        let gpu =
            |n: i64| json!({"accelerator": {"resource": "nvidia.com/gpu", "model": "a100"}, "count": n});
        let ctx = LowerContext::new(vec![
            ("kubeflow.Profile", "team-churn", profile.clone()),
            (
                "kubeflow.Notebook",
                "churn-dev",
                json!({"namespace": "team-churn", "image": "x", "gpu": gpu(1)}),
            ),
            (
                "kubeflow.InferenceService",
                "churn",
                json!({"namespace": "team-churn", "min_replicas": 0, "model": {"format": "sklearn", "resources": {"gpu": gpu(1)}}}),
            ),
            (
                "kubeflow.InferenceService",
                "other",
                json!({"namespace": "team-churn", "model": {"format": "sklearn", "resources": {"gpu": gpu(1)}}}),
            ),
            (
                "kubeflow.Experiment",
                "churn-hpo",
                json!({"namespace": "team-churn", "parallel": 2, "trial": {"Training": {"job": {"framework": "pytorch", "image": "x", "workers": 1, "per_worker": {"gpu": gpu(8)}}}}}),
            ),
        ]);
        let err = lower_one("kubeflow.Profile", "team-churn", &profile, &ctx).unwrap_err();
        assert_eq!(err[0].code, codes::QUOTA_EXCEEDED);
        assert_eq!(
            err[0].message,
            "namespace `team-churn` would request 18 nvidia.com/gpu; its Profile quota is 16"
        );
        let help = err[0].help.as_deref().unwrap();
        assert!(help.contains("notebook churn-dev 1"), "{help}");
        assert!(
            help.contains("experiment churn-hpo 2 parallel trials x 8 = 16"),
            "{help}"
        );
        assert!(help.contains("service churn 0 (scales to zero)"), "{help}");
        assert!(
            help.contains("lower `parallel` of experiment churn-hpo"),
            "{help}"
        );
    }

    #[test]
    fn quota_that_fits_is_fine() {
        let profile = json!({"owner": "a", "quota": {"cpu": "8", "memory": "32Gi"}});
        // The facts of a project that declares this Profile and one notebook in it.
        let ctx = LowerContext::new(vec![
            ("kubeflow.Profile", "ns", profile.clone()),
            (
                "kubeflow.Notebook",
                "nb",
                json!({"namespace": "ns", "image": "x", "cpu": "4", "memory": "16Gi"}),
            ),
        ]);
        assert!(lower_one("kubeflow.Profile", "ns", &profile, &ctx).is_ok());
        let small = json!({"owner": "a", "quota": {"memory": "8Gi"}});
        let err = lower_one("kubeflow.Profile", "ns", &small, &ctx).unwrap_err();
        assert_eq!(
            err[0].message,
            "namespace `ns` would request 16Gi memory; its Profile quota is 8Gi"
        );
    }
}
