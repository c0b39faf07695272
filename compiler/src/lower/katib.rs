//! `tuning.Experiment` -> Katib kubeflow.org/v1beta1 Experiment (run-like: content-derived
//! name). The trial template embeds a lowered TrainingJob, TrainJob or batch Job whose strings
//! carry Katib's `${trialParameters.x}` placeholders (typed references made by `tuning.trial`,
//! resolved here to the trial parameter names).
//!
//! Checks: parallel <= max trials (K0803), grid search needs stepped or discrete parameters
//! (K0804), ordered bounds (K0805), every parameter used (K0806) and every placeholder declared
//! (K0807), objective metrics reported by the trial job and not repeated (K0802).

use kiln_lang::diagnostic::did_you_mean;
use serde_json::{Map, Value, json};

use super::pod::{ContainerSpec, Usage, pod_spec, pod_template};
use super::{
    LowerContext, LowerError, LowerInput, check_name, codes, int, list, metadata, num_string, obj, ptr, s,
    variant,
};

const PLACEHOLDER: &str = "${trialParameters.";

/// The trial name of each search parameter: (search key, trial parameter name, parameter).
fn trial_names(v: &Value) -> Vec<(String, String, &Value)> {
    obj(v, "search")
        .into_iter()
        .flatten()
        .map(|(k, p)| {
            let tn = s(p, "trial_name").filter(|t| !t.is_empty()).unwrap_or(k);
            (k.clone(), tn.to_string(), p)
        })
        .collect()
}

/// Requests of one trial and the number of trials running at once (for quota).
pub fn trial_usage(v: &Value, gpu_resource: &str) -> (Usage, i64) {
    let parallel = int(v, "parallel").unwrap_or(3);
    let per = match v.get("trial").and_then(variant) {
        Some(("Training", t)) => t.get("job").map(|j| super::training::job_usage(j, gpu_resource)),
        Some(("Trainer", t)) => t.get("job").map(|j| super::trainjob::job_usage(j, gpu_resource)),
        Some(("Batch", t)) => t
            .get("container")
            .map(|c| super::pod::usage(c.get("resources"), gpu_resource)),
        _ => None,
    };
    (per.unwrap_or_default(), parallel)
}

fn parameter(name: &str, p: &Value, ptr_: &str, grid: bool, errs: &mut Vec<LowerError>) -> Value {
    let mut out = Map::new();
    out.insert("name".into(), json!(name));
    let Some((tag, f)) = p.get("space").and_then(variant) else {
        errs.push(LowerError::new(
            codes::INVALID_LOWERING_INPUT,
            ptr_,
            "a parameter without a space",
        ));
        return Value::Object(out);
    };
    let sp = ptr(&ptr(ptr_, "space"), tag);
    let mut fs = Map::new();
    // An int range may be a single value (`min == max`, as Katib's Hyperband example writes its
    // resource parameter); a float range of one point samples nothing.
    let mut check_range = |min: f64, max: f64, log: bool, int: bool| {
        if min > max || (min == max && !int) {
            let (why, help) = if min > max {
                ("min must not be above max", "swap the bounds")
            } else {
                (
                    "a float range needs min below max",
                    "for a fixed value use `kf.discrete([value])`, or widen the range",
                )
            };
            errs.push(
                LowerError::new(
                    codes::BOUNDS_UNORDERED,
                    ptr(&sp, "min"),
                    format!(
                        "parameter `{name}` ranges from {} to {}: {why}",
                        num_string(&f["min"]),
                        num_string(&f["max"])
                    ),
                )
                .with_help(help),
            );
        } else if log && min <= 0.0 {
            errs.push(
                LowerError::new(
                    codes::BOUNDS_UNORDERED,
                    ptr(&sp, "min"),
                    format!(
                        "log-scale parameter `{name}` must start above zero, not at {}",
                        num_string(&f["min"])
                    ),
                )
                .with_help("use a small positive lower bound such as 1e-6"),
            );
        }
    };
    match tag {
        "DoubleRange" | "IntRange" => {
            let min = f.get("min").and_then(Value::as_f64).unwrap_or(0.0);
            let max = f.get("max").and_then(Value::as_f64).unwrap_or(0.0);
            let log = f.get("log").and_then(Value::as_bool) == Some(true);
            check_range(min, max, log, tag == "IntRange");
            if grid && tag == "DoubleRange" && f.get("step").is_none() {
                errs.push(
                    LowerError::new(
                        codes::GRID_NEEDS_DISCRETE,
                        sp.clone(),
                        format!("grid search cannot enumerate the continuous parameter `{name}`"),
                    )
                    .with_help("give it a step (`kf.uniform_step(min, max, step)`), or use discrete values"),
                );
            }
            out.insert(
                "parameterType".into(),
                json!(if tag == "IntRange" { "int" } else { "double" }),
            );
            fs.insert("min".into(), json!(num_string(&f["min"])));
            fs.insert("max".into(), json!(num_string(&f["max"])));
            if let Some(st) = f.get("step") {
                fs.insert("step".into(), json!(num_string(st)));
            }
            if log {
                fs.insert("distribution".into(), json!("logUniform"));
            }
        }
        "Categorical" | "Discrete" => {
            out.insert(
                "parameterType".into(),
                json!(if tag == "Categorical" {
                    "categorical"
                } else {
                    "discrete"
                }),
            );
            let values: Vec<Value> = list(f, "values")
                .into_iter()
                .flatten()
                .map(|x| json!(num_string(x)))
                .collect();
            fs.insert("list".into(), Value::Array(values));
        }
        _ => {}
    }
    out.insert("feasibleSpace".into(), Value::Object(fs));
    Value::Object(out)
}

fn algorithm(a: Option<&Value>) -> Value {
    let (tag, f) = a.and_then(variant).unwrap_or(("Random", &Value::Null));
    let name = match tag {
        "Grid" => "grid",
        "Bayesian" => "bayesianoptimization",
        "Tpe" => "tpe",
        "MultivariateTpe" => "multivariate-tpe",
        "Cmaes" => "cmaes",
        "Hyperband" => "hyperband",
        "Darts" => "darts",
        "Enas" => "enas",
        _ => "random",
    };
    let settings: Vec<Value> = f
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| json!({"name": k, "value": num_string(v)}))
        .collect();
    let mut out = Map::new();
    out.insert("algorithmName".into(), json!(name));
    if !settings.is_empty() {
        out.insert("algorithmSettings".into(), Value::Array(settings));
    }
    Value::Object(out)
}

fn metrics_collector(m: &Value, ctx: &LowerContext, errs: &mut Vec<LowerError>) -> Value {
    let (tag, f) = variant(m).unwrap_or(("StdOut", &Value::Null));
    let filter = |f: &Value| list(f, "format").map(|l| json!({"metricsFormat": l}));
    let mut out = Map::new();
    let mut source = Map::new();
    match tag {
        "File" => {
            if let Some(fl) = filter(f) {
                source.insert("filter".into(), fl);
            }
            let mut fsp = Map::new();
            fsp.insert("path".into(), f.get("path").cloned().unwrap_or(Value::Null));
            fsp.insert("kind".into(), json!("File"));
            if f.get("json").and_then(Value::as_bool) == Some(true) {
                fsp.insert("format".into(), json!("JSON"));
            }
            source.insert("fileSystemPath".into(), Value::Object(fsp));
        }
        "TensorFlowEvent" => {
            source.insert(
                "fileSystemPath".into(),
                json!({"path": f.get("dir"), "kind": "Directory"}),
            );
        }
        "StdOut" => {
            if let Some(fl) = filter(f) {
                source.insert("filter".into(), fl);
            }
        }
        _ => {}
    }
    if !source.is_empty() {
        out.insert("source".into(), Value::Object(source));
    }
    let mut collector = Map::new();
    collector.insert("kind".into(), json!(tag));
    if tag == "Custom"
        && let Some(c) = f.get("container")
    {
        let parts = ContainerSpec::of(c).lower(
            "metrics-collector",
            "/metrics_collector",
            "/metrics_collector/Custom/container/resources",
            ctx,
            errs,
        );
        collector.insert("customCollector".into(), parts.container);
        // Katib runs the collector as a sidecar of each trial pod: a container, with no pod of
        // its own to declare volumes, shared memory or a node placement in.
        let pl = &parts.placement;
        let written =
            |v: Option<&Value>| v.is_some_and(|x| !x.is_null() && x.as_array().is_none_or(|l| !l.is_empty()));
        for (what, given, field) in [
            ("volumes", written(c.get("volumes")), "volumes"),
            (
                "shared memory",
                written(c.get("resources").and_then(|r| r.get("shm"))),
                "resources/shm",
            ),
            (
                "a node placement (its GPU pool)",
                !pl.node_selector.is_empty() || !pl.tolerations.is_empty(),
                "resources/gpu",
            ),
        ] {
            if given {
                errs.push(
                    LowerError::new(
                        codes::FIELD_NOT_SUPPORTED,
                        format!("/metrics_collector/Custom/container/{field}"),
                        format!("a custom metrics collector cannot have {what}: Katib adds it to each trial pod as a sidecar container"),
                    )
                    .with_help("give the trial's own container the volume or placement, and read the metrics from a path they share"),
                );
            }
        }
    }
    out.insert("collector".into(), Value::Object(collector));
    Value::Object(out)
}

/// `nasConfig` of a `tuning.Nas` value.
fn nas_config(n: &Value, errs: &mut Vec<LowerError>) -> Value {
    let mut graph = Map::new();
    super::copy(&mut graph, n, "layers", "numLayers");
    if let Some(l) = list(n, "input_sizes") {
        graph.insert("inputSizes".into(), Value::Array(l.clone()));
    }
    if let Some(l) = list(n, "output_sizes") {
        graph.insert("outputSizes".into(), Value::Array(l.clone()));
    }
    let ops: Vec<Value> = list(n, "operations")
        .into_iter()
        .flatten()
        .enumerate()
        .map(|(i, op)| {
            let mut o = Map::new();
            super::copy(&mut o, op, "kind", "operationType");
            let params: Vec<Value> = obj(op, "parameters")
                .into_iter()
                .flatten()
                .map(|(k, p)| {
                    parameter(
                        k,
                        p,
                        &ptr(&format!("/nas/operations/{i}/parameters"), k),
                        false,
                        errs,
                    )
                })
                .collect();
            if !params.is_empty() {
                o.insert("parameters".into(), Value::Array(params));
            }
            Value::Object(o)
        })
        .collect();
    json!({"graphConfig": graph, "operations": ops})
}

/// Turns the typed references of `tuning.trial` (`${trialParameters.search.lr}`: the checker
/// verified the path) into Katib's placeholders (`${trialParameters.learningRate}`).
fn resolve_references(v: &mut Value, names: &[(String, String, &Value)]) {
    match v {
        Value::String(s) if s.contains(PLACEHOLDER) => {
            let mut out = String::with_capacity(s.len());
            let mut rest = s.as_str();
            while let Some(i) = rest.find(PLACEHOLDER) {
                let after = &rest[i + PLACEHOLDER.len()..];
                out.push_str(&rest[..i + PLACEHOLDER.len()]);
                rest = after;
                if let Some(key) = after.strip_prefix("search.")
                    && let Some(end) = key.find('}')
                {
                    let key = &key[..end];
                    let name = names
                        .iter()
                        .find(|(k, _, _)| k == key)
                        .map_or(key, |(_, tn, _)| tn);
                    out.push_str(name);
                    rest = &after["search.".len() + end..];
                }
            }
            out.push_str(rest);
            *s = out;
        }
        Value::Array(a) => a.iter_mut().for_each(|x| resolve_references(x, names)),
        Value::Object(m) => m.values_mut().for_each(|x| resolve_references(x, names)),
        _ => {}
    }
}

/// Every `${trialParameters.x}` name in the strings of `v`.
fn placeholders(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => {
            let mut rest = s.as_str();
            while let Some(i) = rest.find(PLACEHOLDER) {
                rest = &rest[i + PLACEHOLDER.len()..];
                if let Some(end) = rest.find('}') {
                    out.push(rest[..end].to_string());
                    rest = &rest[end..];
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|x| placeholders(x, out)),
        Value::Object(m) => m.values().for_each(|x| placeholders(x, out)),
        _ => {}
    }
}

pub fn lower(input: &LowerInput, ctx: &LowerContext, errs: &mut Vec<LowerError>) -> Vec<Value> {
    check_name(input, 40, errs);
    let v = input.value;
    let parallel = int(v, "parallel").unwrap_or(3);
    let max = int(v, "max_trials").unwrap_or(12);
    if parallel > max {
        errs.push(
            LowerError::new(
                codes::PARALLEL_EXCEEDS_MAX,
                "/parallel",
                format!("{parallel} parallel trials exceed the maximum of {max} trials"),
            )
            .with_help(format!("use parallel <= {max}, or raise max_trials")),
        );
    }
    let grid = matches!(v.get("algorithm").and_then(variant), Some(("Grid", _)));

    // Objective.
    let o = v.get("objective").cloned().unwrap_or(json!({}));
    let metric = s(&o, "metric").unwrap_or("");
    let additional: Vec<&str> = list(&o, "additional_metrics")
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    if additional.contains(&metric) {
        errs.push(LowerError::new(
            codes::OBJECTIVE_METRIC_UNDECLARED,
            "/objective/additional_metrics",
            format!("`{metric}` is the objective metric; do not list it again in additional_metrics"),
        ));
    }
    let mut objective = Map::new();
    objective.insert(
        "type".into(),
        o.get("direction").cloned().unwrap_or(json!("maximize")),
    );
    super::copy(&mut objective, &o, "goal", "goal");
    objective.insert("objectiveMetricName".into(), json!(metric));
    if !additional.is_empty() {
        objective.insert("additionalMetricNames".into(), json!(additional));
    }

    // Trial template.
    let (tag, t) = v
        .get("trial")
        .and_then(variant)
        .unwrap_or(("Batch", &Value::Null));
    let tp = format!("/trial/{tag}");
    let (body, primary) = match tag {
        "Training" => {
            let job = t.get("job").cloned().unwrap_or(json!({}));
            let declared: Vec<&str> = list(&job, "metrics")
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            if !declared.is_empty() {
                for (i, m) in std::iter::once(metric)
                    .chain(additional.iter().copied())
                    .enumerate()
                {
                    if !declared.contains(&m) {
                        let at = if i == 0 {
                            "/objective/metric".to_string()
                        } else {
                            format!("/objective/additional_metrics/{}", i - 1)
                        };
                        let best = did_you_mean(m, declared.iter().copied());
                        let mut e = LowerError::new(
                            codes::OBJECTIVE_METRIC_UNDECLARED,
                            at,
                            format!("the trial job does not report the metric `{m}`"),
                        );
                        e = match best {
                            Some(b) => e.with_help(format!(
                                "did you mean `{b}`? the job reports: {}",
                                declared.join(", ")
                            )),
                            None => e.with_help(format!("the job reports: {}", declared.join(", "))),
                        };
                        errs.push(e);
                    }
                }
            }
            let body = super::training::job_body(&job, &format!("{tp}/job"), ctx, errs);
            (body, super::training::container_name(&job).to_string())
        }
        "Trainer" => {
            let job = t.get("job").cloned().unwrap_or(json!({}));
            (
                super::trainjob::job_body(&job, &format!("{tp}/job"), ctx, errs),
                "node".to_string(),
            )
        }
        _ => {
            let c = t.get("container").cloned().unwrap_or(json!({}));
            let name = s(&c, "name").unwrap_or("training-container").to_string();
            let parts =
                ContainerSpec::of(&c).lower(&name, &tp, &format!("{tp}/container/resources"), ctx, errs);
            let pod = pod_spec(
                vec![parts.container],
                &parts.placement,
                t.get("pod"),
                Some(s(t, "restart_policy").unwrap_or("Never")),
            );
            let body = json!({"apiVersion": "batch/v1", "kind": "Job", "spec": {"template": pod_template(pod, t.get("pod"))}});
            (body, name)
        }
    };

    // Parameters and their use.
    let names = trial_names(v);
    let mut body = body;
    resolve_references(&mut body, &names);
    let mut used = Vec::new();
    placeholders(&body, &mut used);
    let mut parameters = Vec::new();
    let mut trial_parameters = Vec::new();
    for (key, tn, p) in &names {
        let pp = ptr("/search", key);
        parameters.push(parameter(key, p, &pp, grid, errs));
        if !used.contains(tn) {
            errs.push(
                LowerError::new(
                    codes::TRIAL_PARAMETER_UNUSED,
                    pp,
                    format!("the search parameter `{key}` is never used by the trial job"),
                )
                .with_help(format!(
                    "pass it to the job (for example `\"--{key}=${{kf.trial(search.{key})}}\"`), or remove it"
                )),
            );
        }
        let mut tpm = Map::new();
        tpm.insert("name".into(), json!(tn));
        if let Some(d) = s(p, "description").filter(|d| !d.is_empty()) {
            tpm.insert("description".into(), json!(d));
        }
        tpm.insert("reference".into(), json!(key));
        trial_parameters.push(Value::Object(tpm));
    }
    let mut known: Vec<String> = names.iter().map(|(_, tn, _)| tn.clone()).collect();
    let algo = v.get("algorithm").and_then(variant).map_or("Random", |(t, _)| t);
    let nas_algo = matches!(algo, "Darts" | "Enas");
    let nas = v.get("nas").map(|n| nas_config(n, errs));
    if nas_algo != nas.is_some() {
        errs.push(
            LowerError::new(
                codes::NAS_MISMATCH,
                "/algorithm",
                if nas_algo {
                    "a neural architecture search algorithm needs a `nas` search space".to_string()
                } else {
                    "`nas` needs the Darts or Enas algorithm".to_string()
                },
            )
            .with_help("use `algorithm = kf.Algorithm.Darts {}` together with `nas = { ... }`"),
        );
    }
    if nas.is_some() {
        let label = algo.to_uppercase();
        for (name, reference, description) in [
            (
                "algorithmSettings",
                "algorithm-settings",
                format!("Algorithm settings of {label} Experiment"),
            ),
            (
                "searchSpace",
                "search-space",
                format!("Search Space of {label} Experiment"),
            ),
            (
                "numberLayers",
                "num-layers",
                "Number of Neural Network layers".to_string(),
            ),
        ] {
            if !used.iter().any(|u| u == name) {
                errs.push(
                    LowerError::new(
                        codes::TRIAL_PARAMETER_UNUSED,
                        "/nas",
                        format!("the NAS trial parameter `{name}` is never used by the trial job"),
                    )
                    .with_help(
                        "pass the `kf.nas_params()` placeholders to the job (`kf.nas_params().search_space`)",
                    ),
                );
            }
            trial_parameters.push(json!({"name": name, "description": description, "reference": reference}));
            known.push(name.to_string());
        }
    }
    let mut reported = Vec::new();
    for u in &used {
        if !known.contains(u) && !reported.contains(u) {
            reported.push(u.clone());
            let best = did_you_mean(u, names.iter().map(|(_, tn, _)| tn.as_str()));
            let mut e = LowerError::new(
                codes::TRIAL_PARAMETER_UNKNOWN,
                tp.clone(),
                format!("the trial job uses `${{trialParameters.{u}}}`, which is not a search parameter"),
            );
            if let Some(b) = best {
                e = e.with_help(format!("did you mean `{b}`?"));
            }
            errs.push(e);
        }
    }

    let mut template = Map::new();
    if let Some(r) = v.get("retain") {
        template.insert("retain".into(), r.clone());
    }
    template.insert(
        "primaryContainerName".into(),
        json!(s(v, "primary_container").map(str::to_string).unwrap_or(primary)),
    );
    template.insert("trialParameters".into(), Value::Array(trial_parameters));
    template.insert("trialSpec".into(), body);

    let mut spec = Map::new();
    spec.insert("objective".into(), Value::Object(objective));
    spec.insert("algorithm".into(), algorithm(v.get("algorithm")));
    if let Some(es) = v.get("early_stopping") {
        let settings: Vec<Value> = es
            .as_object()
            .into_iter()
            .flatten()
            .map(|(k, v)| json!({"name": k, "value": num_string(v)}))
            .collect();
        let mut e = Map::new();
        e.insert("algorithmName".into(), json!("medianstop"));
        if !settings.is_empty() {
            e.insert("algorithmSettings".into(), Value::Array(settings));
        }
        spec.insert("earlyStopping".into(), Value::Object(e));
    }
    spec.insert("parallelTrialCount".into(), json!(parallel));
    spec.insert("maxTrialCount".into(), json!(max));
    super::copy(&mut spec, v, "max_failed", "maxFailedTrialCount");
    if let Some(m) = v.get("metrics_collector") {
        spec.insert("metricsCollectorSpec".into(), metrics_collector(m, ctx, errs));
    }
    super::copy(&mut spec, v, "resume_policy", "resumePolicy");
    if let Some(n) = nas {
        spec.insert("nasConfig".into(), n);
    }
    if !parameters.is_empty() {
        spec.insert("parameters".into(), Value::Array(parameters));
    }
    spec.insert("trialTemplate".into(), Value::Object(template));
    let exp = json!({
        "apiVersion": "kubeflow.org/v1beta1",
        "kind": "Experiment",
        "metadata": metadata(input, true),
        "spec": spec,
    });
    vec![super::name_run_of(input, exp)]
}

#[cfg(test)]
mod tests {
    use super::super::{LowerContext, codes, lower_one};
    use serde_json::{Value, json};

    fn experiment() -> Value {
        json!({
            "namespace": "kubeflow",
            "objective": {"direction": "minimize", "metric": "loss", "goal": 0.001, "additional_metrics": []},
            "algorithm": {"Random": {}},
            "search": {
                "lr": {"space": {"DoubleRange": {"min": 0.01, "max": 0.05, "log": false}}, "trial_name": "learningRate", "description": "Learning rate for the training model"},
                "momentum": {"space": {"DoubleRange": {"min": 0.5, "max": 0.9, "log": false}}, "trial_name": "", "description": "Momentum for the training model"}
            },
            "parallel": 3, "max_trials": 12, "max_failed": 3,
            "trial": {"Training": {"job": {"framework": "pytorch", "image": "ghcr.io/kubeflow/katib/pytorch-mnist-cpu:v0.19.0",
                "command": ["python3", "/opt/pytorch-mnist/mnist.py", "--lr=${trialParameters.learningRate}", "--momentum=${trialParameters.momentum}"],
                "workers": 2, "restart_policy": "OnFailure", "metrics": ["loss", "accuracy"]}}},
            "labels": {}, "annotations": {}
        })
    }

    fn run(v: &Value) -> Result<Vec<Value>, Vec<super::super::LowerError>> {
        lower_one(
            "kubeflow.Experiment",
            "pytorchjob-mnist",
            v,
            &LowerContext::default(),
        )
    }

    #[test]
    fn experiment_with_pytorch_trial() {
        let out = run(&experiment()).unwrap();
        let spec = &out[0]["spec"];
        assert_eq!(
            spec["objective"],
            json!({"type": "minimize", "goal": 0.001, "objectiveMetricName": "loss"})
        );
        assert_eq!(spec["algorithm"], json!({"algorithmName": "random"}));
        assert_eq!(
            spec["parameters"],
            json!([
                {"name": "lr", "parameterType": "double", "feasibleSpace": {"min": "0.01", "max": "0.05"}},
                {"name": "momentum", "parameterType": "double", "feasibleSpace": {"min": "0.5", "max": "0.9"}}
            ])
        );
        assert_eq!(spec["trialTemplate"]["primaryContainerName"], "pytorch");
        assert_eq!(
            spec["trialTemplate"]["trialParameters"],
            json!([
                {"name": "learningRate", "description": "Learning rate for the training model", "reference": "lr"},
                {"name": "momentum", "description": "Momentum for the training model", "reference": "momentum"}
            ])
        );
        let ts = &spec["trialTemplate"]["trialSpec"];
        assert_eq!(ts["kind"], "PyTorchJob");
        assert!(ts.get("metadata").is_none());
        assert_eq!(ts["spec"]["pytorchReplicaSpecs"]["Worker"]["replicas"], 1);
        assert!(
            out[0]["metadata"]["name"]
                .as_str()
                .unwrap()
                .starts_with("pytorchjob-mnist-")
        );
    }

    #[test]
    fn parallel_must_not_exceed_max() {
        let mut v = experiment();
        v["parallel"] = json!(20);
        let err = run(&v).unwrap_err();
        assert_eq!(err[0].code, codes::PARALLEL_EXCEEDS_MAX);
        assert_eq!(err[0].pointer, "/parallel");
    }

    #[test]
    fn grid_needs_steps() {
        let mut v = experiment();
        v["algorithm"] = json!({"Grid": {}});
        let err = run(&v).unwrap_err();
        assert_eq!(err[0].code, codes::GRID_NEEDS_DISCRETE);
        assert_eq!(err[0].pointer, "/search/lr/space/DoubleRange");
        v["search"]["lr"]["space"]["DoubleRange"]["step"] = json!(0.005);
        v["search"]["momentum"]["space"] = json!({"Discrete": {"values": [0.5, 0.9]}});
        let out = run(&v).unwrap();
        assert_eq!(out[0]["spec"]["parameters"][0]["feasibleSpace"]["step"], "0.005");
        assert_eq!(
            out[0]["spec"]["parameters"][1],
            json!({"name": "momentum", "parameterType": "discrete", "feasibleSpace": {"list": ["0.5", "0.9"]}})
        );
    }

    #[test]
    fn bounds_must_be_ordered() {
        let mut v = experiment();
        v["search"]["lr"]["space"] = json!({"DoubleRange": {"min": 0.1, "max": 0.01, "log": false}});
        let err = run(&v).unwrap_err();
        assert_eq!(err[0].code, codes::BOUNDS_UNORDERED);
        v["search"]["lr"]["space"] = json!({"DoubleRange": {"min": 0.0, "max": 0.01, "log": true}});
        let err = run(&v).unwrap_err();
        assert_eq!(err[0].code, codes::BOUNDS_UNORDERED);
        assert!(err[0].message.contains("above zero"));
        v["search"]["lr"]["space"] = json!({"DoubleRange": {"min": 0.1, "max": 0.1, "log": false}});
        let err = run(&v).unwrap_err();
        assert_eq!(err[0].code, codes::BOUNDS_UNORDERED);
        assert!(err[0].help.as_deref().unwrap().contains("kf.discrete"));
    }

    #[test]
    fn an_int_range_may_be_one_value() {
        // Katib's Hyperband example: `resource_name` ranges over min == max.
        let mut v = experiment();
        v["search"]["lr"]["space"] = json!({"IntRange": {"min": 9, "max": 9}});
        let out = run(&v).unwrap();
        let p = &out[0]["spec"]["parameters"][0];
        assert_eq!(p["parameterType"], "int");
        assert_eq!(p["feasibleSpace"], json!({"min": "9", "max": "9"}));
    }

    #[test]
    fn every_parameter_is_used_and_declared() {
        let mut v = experiment();
        v["search"]["batch"] =
            json!({"space": {"Categorical": {"values": ["32", "64"]}}, "trial_name": "", "description": ""});
        let err = run(&v).unwrap_err();
        assert_eq!(err[0].code, codes::TRIAL_PARAMETER_UNUSED);
        assert_eq!(err[0].pointer, "/search/batch");
        let mut v = experiment();
        v["trial"]["Training"]["job"]["args"] = json!(["--m=${trialParameters.momentun}"]);
        let err = run(&v).unwrap_err();
        assert_eq!(err[0].code, codes::TRIAL_PARAMETER_UNKNOWN);
        assert_eq!(err[0].help.as_deref(), Some("did you mean `momentum`?"));
    }

    #[test]
    fn objective_metric_must_be_reported() {
        let mut v = experiment();
        v["objective"]["metric"] = json!("acuracy");
        let err = run(&v).unwrap_err();
        assert_eq!(err[0].code, codes::OBJECTIVE_METRIC_UNDECLARED);
        assert!(
            err[0]
                .help
                .as_deref()
                .unwrap()
                .starts_with("did you mean `accuracy`?")
        );
    }

    #[test]
    fn batch_trials_algorithms_and_collectors() {
        let mut v = experiment();
        v["trial"] = json!({"Batch": {"container": {"name": "training-container", "image": "x:1", "command": ["python3", "--lr=${trialParameters.learningRate}", "--m=${trialParameters.momentum}"],
            "resources": {"limits": {"memory": "1Gi", "cpu": "500m"}}}, "restart_policy": "Never", "pod": {}}});
        v["algorithm"] = json!({"Tpe": {"n_startup_trials": 5}});
        v["early_stopping"] = json!({"min_trials_required": 2});
        v["metrics_collector"] = json!({"File": {"path": "/katib/mnist.log", "format": ["{metricName: ([\\w|-]+)}"], "json": false}});
        let out = run(&v).unwrap();
        let spec = &out[0]["spec"];
        assert_eq!(
            spec["algorithm"],
            json!({"algorithmName": "tpe", "algorithmSettings": [{"name": "n_startup_trials", "value": "5"}]})
        );
        assert_eq!(spec["earlyStopping"]["algorithmName"], "medianstop");
        assert_eq!(spec["metricsCollectorSpec"]["collector"], json!({"kind": "File"}));
        assert_eq!(
            spec["metricsCollectorSpec"]["source"]["fileSystemPath"],
            json!({"path": "/katib/mnist.log", "kind": "File"})
        );
        assert_eq!(spec["trialTemplate"]["trialSpec"]["kind"], "Job");
        assert_eq!(
            spec["trialTemplate"]["trialSpec"]["spec"]["template"]["spec"]["restartPolicy"],
            "Never"
        );
        assert_eq!(
            spec["trialTemplate"]["primaryContainerName"],
            "training-container"
        );
    }

    #[test]
    fn nas_experiments_lower_nas_config_and_fixed_trial_parameters() {
        let v = json!({
            "objective": {"direction": "maximize", "metric": "Best-Genotype"},
            "algorithm": {"Darts": {"num_epochs": 3}},
            "search": {},
            "nas": {"layers": 3, "operations": [
                {"kind": "separable_convolution", "parameters": {"filter_size": {"space": {"Categorical": {"values": ["3"]}}, "trial_name": "", "description": ""}}},
                {"kind": "skip_connection", "parameters": {}}
            ]},
            "parallel": 1, "max_trials": 1,
            "trial": {"Batch": {"container": {"name": "training-container", "image": "x:1", "command": [
                "--a=${trialParameters.algorithmSettings}", "--s=${trialParameters.searchSpace}", "--n=${trialParameters.numberLayers}"]}}}
        });
        let out = lower_one("kubeflow.Experiment", "darts-gpu", &v, &LowerContext::default()).unwrap();
        let spec = &out[0]["spec"];
        assert_eq!(
            spec["algorithm"],
            json!({"algorithmName": "darts", "algorithmSettings": [{"name": "num_epochs", "value": "3"}]})
        );
        assert_eq!(
            spec["nasConfig"],
            json!({"graphConfig": {"numLayers": 3}, "operations": [
                {"operationType": "separable_convolution", "parameters": [{"name": "filter_size", "parameterType": "categorical", "feasibleSpace": {"list": ["3"]}}]},
                {"operationType": "skip_connection"}
            ]})
        );
        assert!(spec.get("parameters").is_none());
        assert_eq!(
            spec["trialTemplate"]["trialParameters"][1],
            json!({"name": "searchSpace", "description": "Search Space of DARTS Experiment", "reference": "search-space"})
        );
        let mut v2 = v.clone();
        v2["algorithm"] = json!({"Random": {}});
        let err = lower_one("kubeflow.Experiment", "darts-gpu", &v2, &LowerContext::default()).unwrap_err();
        assert_eq!(err[0].code, codes::NAS_MISMATCH);
    }
}
