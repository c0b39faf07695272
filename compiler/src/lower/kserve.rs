//! `serving.InferenceService` -> KServe serving.kserve.io/v1beta1 InferenceService;
//! `serving.ServingRuntime` -> ServingRuntime / ClusterServingRuntime (v1alpha1);
//! `serving.InferenceGraph` -> InferenceGraph (v1alpha1).
//!
//! A canary lowers the KServe way: the predictor carries the new model and
//! `canaryTrafficPercent`; the previous revision (the `model` kiln was given) keeps the rest.
//! Checks: exactly one predictor (K0814), canary traffic 0..100 (K0808), min <= max replicas
//! (K0809), storageUri scheme (K0810).

use kiln_lang::diagnostic::did_you_mean;
use serde_json::{Map, Value, json};

use super::pod::{ContainerSpec, Placement, Usage, usage as res_usage};
use super::refs::{ObjectRef, other_namespace};
use super::{
    LowerContext, LowerError, LowerInput, boolean, check_name, codes, int, list, metadata_with, obj, percent,
    s, variant,
};

/// `GraphStep` fields and their InferenceGraph names.
const GRAPH_STEP_FIELDS: &[(&str, &str)] = &[
    ("name", "name"),
    ("service", "serviceName"),
    ("node", "nodeName"),
    ("data", "data"),
    ("weight", "weight"),
    ("condition", "condition"),
    ("dependency", "dependency"),
];

const SCHEMES: &[&str] = &["s3", "gs", "pvc", "hf", "oci", "https", "http"];

/// Requests of a service at its minimum scale, and that minimum (for quota).
pub fn usage(v: &Value, gpu_resource: &str) -> (Usage, i64) {
    let min = int(v, "min_replicas").unwrap_or(1);
    let model = v
        .get("canary")
        .and_then(|c| c.get("model"))
        .or_else(|| v.get("model"));
    let res = model
        .and_then(|m| m.get("resources"))
        .or_else(|| v.get("container").and_then(|c| c.get("resources")));
    let mut u = res_usage(res, gpu_resource).times(min);
    if let Some(t) = v.get("transformer") {
        let tmin = int(t, "min_replicas").unwrap_or(min);
        u = u.plus(res_usage(t.get("container").and_then(|c| c.get("resources")), gpu_resource).times(tmin));
    }
    (u, min)
}

/// K0810 for the model URI at `pointer`.
fn check_uri(uri: Option<&str>, pointer: &str, errs: &mut Vec<LowerError>) {
    if let Some(uri) = uri {
        let scheme = uri.split_once("://").map(|(s, _)| s);
        if !scheme.is_some_and(|sc| SCHEMES.contains(&sc)) {
            errs.push(
                LowerError::new(
                    codes::STORAGE_URI_SCHEME,
                    pointer,
                    format!("KServe cannot load the model from `{uri}`"),
                )
                .with_help("use an s3://, gs://, pvc://, hf://, oci:// or https:// URI"),
            );
        }
    }
}

fn check_replicas(v: &Value, p: &str, errs: &mut Vec<LowerError>) {
    if let (Some(min), Some(max)) = (int(v, "min_replicas"), int(v, "max_replicas"))
        && max > 0
        && min > max
    {
        errs.push(
            LowerError::new(
                codes::REPLICAS_UNORDERED,
                format!("{p}/min_replicas"),
                format!("min_replicas {min} is greater than max_replicas {max}"),
            )
            .with_help("swap them, or raise max_replicas"),
        );
    }
}

/// The names a graph's steps call: a `service` is an InferenceService of the graph's namespace
/// (checked when the project declares it, see `super::refs`), a `node` one of the graph's own
/// nodes (always declared here, so an unknown one is an error).
fn check_graph_refs(v: &Value, ctx: &LowerContext, errs: &mut Vec<LowerError>) {
    let ns = s(v, "namespace");
    let nodes: Vec<&str> = obj(v, "nodes")
        .into_iter()
        .flatten()
        .map(|(k, _)| k.as_str())
        .collect();
    for (node, n) in obj(v, "nodes").into_iter().flatten() {
        for (i, st) in list(n, "steps").into_iter().flatten().enumerate() {
            let at = format!("{}/steps/{i}", super::ptr("/nodes", node));
            if let Some(service) = s(st, "service") {
                let reference = ObjectRef {
                    what: "InferenceService",
                    name: service,
                    pointer: format!("{at}/service"),
                    code: codes::UNKNOWN_OBJECT_REFERENCE,
                };
                reference.resolve(ctx.declared("InferenceService"), |o| other_namespace(o, ns), errs);
            }
            if let Some(target) = s(st, "node")
                && !nodes.contains(&target)
            {
                let mut e = LowerError::new(
                    codes::UNKNOWN_OBJECT_REFERENCE,
                    format!("{at}/node"),
                    format!("the graph has no node `{target}`"),
                );
                e = match did_you_mean(target, nodes.iter().copied()) {
                    Some(best) => e.with_help(format!("did you mean `{best}`?")),
                    None => e.with_help(format!("its nodes are: {}", nodes.join(", "))),
                };
                errs.push(e);
            }
        }
    }
}

/// A runtime named by a model: when the project declares it, it must serve the model's format;
/// a name that is not declared but close to one that is, is a typo (KServe would leave the
/// service without a runtime at run time). Other names are runtimes installed in the cluster.
fn check_runtime(
    name: &str,
    format: &str,
    pointer: &str,
    ns: Option<&str>,
    ctx: &LowerContext,
    errs: &mut Vec<LowerError>,
) {
    let reference = ObjectRef {
        what: "runtime",
        name,
        pointer: pointer.to_string(),
        code: codes::RUNTIME_MISMATCH,
    };
    // A ClusterServingRuntime serves every namespace; a ServingRuntime its own.
    let unusable = |o: &super::facts::ContextObject| {
        (boolean(&o.value, "cluster") != Some(true))
            .then(|| other_namespace(o, ns))
            .flatten()
    };
    let Some(runtime) = reference.resolve(ctx.serving_runtimes(), unusable, errs) else {
        return;
    };
    let formats: Vec<&str> = runtime
        .value
        .get("formats")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|f| s(f, "name"))
        .collect();
    if !formats.iter().any(|f| f.eq_ignore_ascii_case(format)) {
        errs.push(
            LowerError::new(
                codes::RUNTIME_MISMATCH,
                pointer,
                format!(
                    "runtime `{name}` does not serve `{format}` models (it serves: {})",
                    formats.join(", ")
                ),
            )
            .with_help(format!(
                "add `{{ name = \"{format}\" }}` to the runtime's `formats`, or pick another runtime"
            )),
        );
    }
}

/// The predictor fields of a model: `(key, body)`, e.g. `("sklearn", {...})`.
fn model_fields(
    m: &Value,
    p: &str,
    ns: Option<&str>,
    ctx: &LowerContext,
    errs: &mut Vec<LowerError>,
    placement: &mut Placement,
) -> (String, Value) {
    let format = s(m, "format").unwrap_or("sklearn");
    let model_style = s(m, "style") == Some("model") || m.get("runtime").is_some();
    let mut out = Map::new();
    if model_style {
        let mut mf = Map::new();
        mf.insert("name".into(), json!(format));
        super::copy(&mut mf, m, "format_version", "version");
        out.insert("modelFormat".into(), Value::Object(mf));
        super::copy(&mut out, m, "runtime", "runtime");
        if let Some(runtime) = s(m, "runtime") {
            check_runtime(runtime, format, &format!("{p}/runtime"), ns, ctx, errs);
        }
    }
    super::copy(&mut out, m, "container_name", "name");
    super::copy(&mut out, m, "protocol", "protocolVersion");
    super::copy(&mut out, m, "runtime_version", "runtimeVersion");
    super::copy(&mut out, m, "storage_uri", "storageUri");
    super::copy(&mut out, m, "args", "args");
    let spec = ContainerSpec {
        env: m.get("env"),
        resources: m.get("resources"),
        ..ContainerSpec::default()
    };
    let parts = spec.lower("kserve-container", p, &format!("{p}/resources"), ctx, errs);
    for k in ["env", "envFrom", "resources", "volumeMounts"] {
        if let Some(x) = parts.container.get(k) {
            out.insert(k.into(), x.clone());
        }
    }
    placement.merge(parts.placement);
    let key = if model_style {
        "model".to_string()
    } else {
        format.to_string()
    };
    (key, Value::Object(out))
}

fn component_placement(out: &mut Map<String, Value>, placement: &Placement) {
    if !placement.node_selector.is_empty() {
        out.insert(
            "nodeSelector".into(),
            Value::Object(placement.node_selector.clone()),
        );
    }
    if !placement.tolerations.is_empty() {
        out.insert("tolerations".into(), Value::Array(placement.tolerations.clone()));
    }
    if !placement.volumes.is_empty() {
        out.insert("volumes".into(), Value::Array(placement.volumes.clone()));
    }
}

pub fn lower(input: &LowerInput, ctx: &LowerContext, errs: &mut Vec<LowerError>) -> Vec<Value> {
    // Knative revisions and routes add suffixes to the name.
    check_name(input, 45, errs);
    let v = input.value;
    let mut pred = Map::new();
    super::copy(&mut pred, v, "min_replicas", "minReplicas");
    super::copy(&mut pred, v, "max_replicas", "maxReplicas");
    check_replicas(v, "", errs);
    if let Some(a) = v.get("autoscaling") {
        super::copy(&mut pred, a, "metric", "scaleMetric");
        super::copy(&mut pred, a, "target", "scaleTarget");
    }
    super::copy(&mut pred, v, "container_concurrency", "containerConcurrency");
    super::copy(&mut pred, v, "timeout", "timeout");
    super::copy(&mut pred, v, "service_account", "serviceAccountName");
    if let Some(l) = v.get("logger") {
        let mut lg = Map::new();
        super::copy(&mut lg, l, "url", "url");
        super::copy(&mut lg, l, "mode", "mode");
        pred.insert("logger".into(), Value::Object(lg));
    }
    let mut placement = Placement::default();
    match (v.get("model"), v.get("container")) {
        (Some(_), Some(_)) | (None, None) => errs.push(
            LowerError::new(
                codes::PREDICTOR_MISSING,
                "",
                format!("InferenceService `{}` needs exactly one of `model` or `container`", input.name),
            )
            .with_help("use `model = kf.sklearn(\"s3://...\")` for a built-in format, or `container` for a custom server"),
        ),
        (Some(m), None) => {
            check_uri(s(m, "storage_uri"), "/model/storage_uri", errs);
            let (model, mp) = match v.get("canary") {
                Some(c) => {
                    let t = c.get("traffic").and_then(percent).unwrap_or(0.0);
                    if !(0.0..=100.0).contains(&t) {
                        errs.push(
                            LowerError::new(
                                codes::CANARY_OUT_OF_RANGE,
                                "/canary/traffic",
                                format!("canary traffic {t}% is outside 0..100%"),
                            )
                            .with_help("give the canary between 0% and 100% of the traffic"),
                        );
                    }
                    let traffic = if t.fract() == 0.0 { json!(t as i64) } else { json!(t.round() as i64) };
                    pred.insert("canaryTrafficPercent".into(), traffic);
                    let cm = c.get("model").unwrap_or(m);
                    check_uri(s(cm, "storage_uri"), "/canary/model/storage_uri", errs);
                    if cm != m {
                        // The manifest has room for one model: KServe keeps the previous revision
                        // itself, so `model` is served only if it is what the cluster runs now.
                        errs.push(
                            LowerError::new(
                                codes::FIELD_HAS_NO_EFFECT,
                                "/model",
                                "`model` of an InferenceService with a canary is not in the manifest: \
                                 KServe sends the rest of the traffic to the revision it ran before",
                            )
                            .with_help(
                                "the rest goes to `model` only if it was applied before the canary: \
                                 apply the service with `model` alone first, then add `canary`",
                            )
                            .warning(),
                        );
                    }
                    (cm, "/canary/model")
                }
                None => (m, "/model"),
            };
            let (k, body) = model_fields(model, mp, s(v, "namespace"), ctx, errs, &mut placement);
            pred.insert(k, body);
        }
        (None, Some(c)) => {
            let parts = ContainerSpec::of(c).lower("kserve-container", "/container", "/container/resources", ctx, errs);
            pred.insert("containers".into(), json!([parts.container]));
            placement.merge(parts.placement);
        }
    }
    component_placement(&mut pred, &placement);
    if let Some(pod) = v.get("pod") {
        if let Some(ns) = obj(pod, "node_selector") {
            let sel = pred.entry("nodeSelector").or_insert_with(|| json!({}));
            if let Some(m) = sel.as_object_mut() {
                m.extend(ns.clone());
            }
        }
        if let Some(pc) = pod.get("priority_class") {
            pred.insert("priorityClassName".into(), pc.clone());
        }
        // The rest of `core.PodSettings`: the predictor is a pod spec plus KServe's component
        // extension (`labels`, `annotations` of its pods). The service's own `service_account`
        // wins over the pod's.
        if let Some(sa) = pod.get("service_account") {
            pred.entry("serviceAccountName").or_insert_with(|| sa.clone());
        }
        if let Some(ps) = list(pod, "image_pull_secrets").filter(|l| !l.is_empty()) {
            pred.insert(
                "imagePullSecrets".into(),
                Value::Array(ps.iter().map(|n| json!({ "name": n })).collect()),
            );
        }
        for key in ["labels", "annotations"] {
            if let Some(m) = obj(pod, key).filter(|m| !m.is_empty()) {
                pred.insert(key.into(), Value::Object(m.clone()));
            }
        }
    }

    let mut spec = Map::new();
    spec.insert("predictor".into(), Value::Object(pred));
    if let Some(t) = v.get("transformer") {
        check_replicas(t, "/transformer", errs);
        let mut tr = Map::new();
        super::copy(&mut tr, t, "min_replicas", "minReplicas");
        super::copy(&mut tr, t, "max_replicas", "maxReplicas");
        let c = t.get("container").cloned().unwrap_or(json!({}));
        let parts = ContainerSpec::of(&c).lower(
            "kserve-container",
            "/transformer/container",
            "/transformer/container/resources",
            ctx,
            errs,
        );
        tr.insert("containers".into(), json!([parts.container]));
        component_placement(&mut tr, &parts.placement);
        spec.insert("transformer".into(), Value::Object(tr));
    }
    if let Some((tag, e)) = v.get("explainer").and_then(variant) {
        let mut ex = Map::new();
        match tag {
            "Art" => {
                let mut art = Map::new();
                super::copy(&mut art, e, "kind", "type");
                if let Some(cfg) = obj(e, "config") {
                    art.insert("config".into(), Value::Object(cfg.clone()));
                }
                if let Some(r) = e.get("resources") {
                    let (res, pl) = super::pod::resources(r, "/explainer/Art/resources", ctx, errs);
                    if let Some(res) = res {
                        art.insert("resources".into(), res);
                    }
                    component_placement(&mut ex, &pl);
                }
                ex.insert("art".into(), Value::Object(art));
            }
            _ => {
                let c = e.get("container").cloned().unwrap_or(json!({}));
                let parts = ContainerSpec::of(&c).lower(
                    "kserve-container",
                    "/explainer",
                    "/explainer/CustomExplainer/container/resources",
                    ctx,
                    errs,
                );
                ex.insert("containers".into(), json!([parts.container]));
                component_placement(&mut ex, &parts.placement);
            }
        }
        spec.insert("explainer".into(), Value::Object(ex));
    }
    let mut annotations = Map::new();
    if let Some(m) = s(v, "deployment_mode") {
        annotations.insert("serving.kserve.io/deploymentMode".into(), json!(m));
    }
    vec![json!({
        "apiVersion": "serving.kserve.io/v1beta1",
        "kind": "InferenceService",
        "metadata": metadata_with(input, true, Map::new(), annotations),
        "spec": spec,
    })]
}

pub fn lower_runtime(input: &LowerInput, ctx: &LowerContext, errs: &mut Vec<LowerError>) -> Vec<Value> {
    check_name(input, 63, errs);
    let v = input.value;
    let cluster = boolean(v, "cluster") == Some(true);
    let mut spec = Map::new();
    if let Some(a) = obj(v, "pod_annotations") {
        spec.insert("annotations".into(), Value::Object(a.clone()));
    }
    let formats: Vec<Value> = list(v, "formats")
        .into_iter()
        .flatten()
        .map(|f| {
            Value::Object(super::renamed(
                f,
                &[
                    ("name", "name"),
                    ("version", "version"),
                    ("auto_select", "autoSelect"),
                    ("priority", "priority"),
                ],
            ))
        })
        .collect();
    spec.insert("supportedModelFormats".into(), Value::Array(formats));
    if let Some(p) = list(v, "protocols") {
        spec.insert("protocolVersions".into(), Value::Array(p.clone()));
    }
    super::copy(&mut spec, v, "multi_model", "multiModel");
    super::copy(&mut spec, v, "disabled", "disabled");
    let mut containers = Vec::new();
    let mut placement = Placement::default();
    for (i, c) in list(v, "containers").into_iter().flatten().enumerate() {
        let p = format!("/containers/{i}");
        let parts = ContainerSpec::of(c).lower("kserve-container", &p, &format!("{p}/resources"), ctx, errs);
        containers.push(parts.container);
        placement.merge(parts.placement);
    }
    spec.insert("containers".into(), Value::Array(containers));
    component_placement(&mut spec, &placement);
    let kind = if cluster {
        "ClusterServingRuntime"
    } else {
        "ServingRuntime"
    };
    vec![json!({
        "apiVersion": "serving.kserve.io/v1alpha1",
        "kind": kind,
        "metadata": metadata_with(input, !cluster, Map::new(), Map::new()),
        "spec": spec,
    })]
}

pub fn lower_graph(input: &LowerInput, ctx: &LowerContext, errs: &mut Vec<LowerError>) -> Vec<Value> {
    check_name(input, 63, errs);
    let v = input.value;
    check_graph_refs(v, ctx, errs);
    let mut nodes = Map::new();
    for (name, n) in obj(v, "nodes").into_iter().flatten() {
        let mut node = Map::new();
        super::copy(&mut node, n, "router", "routerType");
        let steps: Vec<Value> = list(n, "steps")
            .into_iter()
            .flatten()
            .map(|st| Value::Object(super::renamed(st, GRAPH_STEP_FIELDS)))
            .collect();
        node.insert("steps".into(), Value::Array(steps));
        nodes.insert(name.clone(), Value::Object(node));
    }
    vec![json!({
        "apiVersion": "serving.kserve.io/v1alpha1",
        "kind": "InferenceGraph",
        "metadata": metadata_with(input, true, Map::new(), Map::new()),
        "spec": {"nodes": nodes},
    })]
}

pub fn lower_llm(input: &LowerInput, ctx: &LowerContext, errs: &mut Vec<LowerError>) -> Vec<Value> {
    check_name(input, 45, errs);
    let v = input.value;
    check_uri(s(v, "model_uri"), "/model_uri", errs);
    let mut model = Map::new();
    super::copy(&mut model, v, "model_uri", "uri");
    super::copy(&mut model, v, "model_name", "name");
    let mut spec = Map::new();
    spec.insert("model".into(), Value::Object(model));
    super::copy(&mut spec, v, "replicas", "replicas");
    if boolean(v, "router") == Some(true) {
        spec.insert(
            "router".into(),
            json!({"scheduler": {}, "route": {}, "gateway": {}}),
        );
    }
    let c = v.get("container").cloned().unwrap_or(json!({}));
    let parts = ContainerSpec::of(&c).lower("main", "/container", "/container/resources", ctx, errs);
    let mut template = Map::new();
    template.insert("containers".into(), json!([parts.container]));
    component_placement(&mut template, &parts.placement);
    spec.insert("template".into(), Value::Object(template));
    vec![json!({
        "apiVersion": "serving.kserve.io/v1alpha1",
        "kind": "LLMInferenceService",
        "metadata": metadata_with(input, true, Map::new(), Map::new()),
        "spec": spec,
    })]
}

#[cfg(test)]
mod tests {
    use super::super::{LowerContext, codes, lower_one};
    use serde_json::{Value, json};

    fn run(v: &Value) -> Result<Vec<Value>, Vec<super::super::LowerError>> {
        lower_one("kubeflow.InferenceService", "churn", v, &LowerContext::default())
    }

    #[test]
    fn sklearn_with_canary_scaling_to_zero() {
        let v = json!({"namespace": "team-churn",
            "model": {"format": "sklearn", "storage_uri": "s3://models/churn/v3", "style": "framework", "env": {}, "resources": {}},
            "min_replicas": 0, "max_replicas": 10,
            "canary": {"model": {"format": "sklearn", "storage_uri": "s3://models/churn/v4", "style": "framework"}, "traffic": "10%"},
            "pod": {}, "labels": {}, "annotations": {}});
        let out = run(&v).unwrap();
        assert_eq!(
            out[0],
            json!({"apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceService",
                "metadata": {"name": "churn", "namespace": "team-churn"},
                "spec": {"predictor": {"minReplicas": 0, "maxReplicas": 10, "canaryTrafficPercent": 10,
                    "sklearn": {"storageUri": "s3://models/churn/v4"}}}})
        );
    }

    #[test]
    fn a_canary_of_another_model_says_where_model_went() {
        let v = json!({"model": {"format": "sklearn", "storage_uri": "s3://m/v3", "style": "framework"},
            "canary": {"model": {"format": "sklearn", "storage_uri": "s3://m/v4", "style": "framework"}, "traffic": "10%"}});
        let (out, problems) = super::super::lower_all(
            &super::super::LowerInput {
                ty: "kubeflow.InferenceService",
                name: "churn",
                value: &v,
            },
            &LowerContext::default(),
        );
        assert_eq!(out[0]["spec"]["predictor"]["sklearn"]["storageUri"], "s3://m/v4");
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].code, codes::FIELD_HAS_NO_EFFECT);
        assert_eq!(problems[0].pointer, "/model");
        assert!(!problems[0].is_error());
    }

    #[test]
    fn canary_must_be_a_percentage() {
        let v = json!({"model": {"format": "sklearn", "storage_uri": "s3://m"}, "canary": {"model": {"format": "sklearn", "storage_uri": "s3://n"}, "traffic": 120}});
        let err = run(&v).unwrap_err();
        assert_eq!(err[0].code, codes::CANARY_OUT_OF_RANGE);
        assert_eq!(err[0].pointer, "/canary/traffic");
    }

    #[test]
    fn replicas_must_be_ordered() {
        let v = json!({"model": {"format": "sklearn", "storage_uri": "s3://m"}, "min_replicas": 5, "max_replicas": 2});
        assert_eq!(run(&v).unwrap_err()[0].code, codes::REPLICAS_UNORDERED);
    }

    #[test]
    fn storage_uri_scheme_is_checked() {
        let v = json!({"model": {"format": "sklearn", "storage_uri": "ftp://m/x"}});
        let err = run(&v).unwrap_err();
        assert_eq!(err[0].code, codes::STORAGE_URI_SCHEME);
        assert_eq!(err[0].pointer, "/model/storage_uri");
    }

    #[test]
    fn exactly_one_predictor() {
        let v = json!({});
        assert_eq!(run(&v).unwrap_err()[0].code, codes::PREDICTOR_MISSING);
    }

    #[test]
    fn gpu_model_style_and_explainer() {
        let v = json!({"model": {"format": "huggingface", "style": "model", "storage_uri": "hf://meta/llama",
            "resources": {"gpu": {"accelerator": {"resource": "nvidia.com/gpu", "model": "l4"}, "count": 1}}},
            "explainer": {"Art": {"kind": "SquareAttack", "config": {"nb_classes": "10"}}},
            "deployment_mode": "RawDeployment"});
        let out = run(&v).unwrap();
        let p = &out[0]["spec"]["predictor"];
        assert_eq!(p["model"]["modelFormat"], json!({"name": "huggingface"}));
        assert_eq!(p["model"]["resources"]["limits"]["nvidia.com/gpu"], 1);
        assert_eq!(p["nodeSelector"], json!({"nvidia.com/gpu.product": "l4"}));
        assert_eq!(
            out[0]["spec"]["explainer"],
            json!({"art": {"type": "SquareAttack", "config": {"nb_classes": "10"}}})
        );
        assert_eq!(
            out[0]["metadata"]["annotations"]["serving.kserve.io/deploymentMode"],
            "RawDeployment"
        );
    }

    #[test]
    fn runtime_and_graph() {
        let v = json!({"cluster": true, "formats": [{"name": "sklearn", "version": "1", "auto_select": true, "priority": 1}],
            "protocols": ["v1", "v2"], "pod_annotations": {"prometheus.kserve.io/port": "8080"},
            "containers": [{"name": "kserve-container", "image": "kserve-sklearnserver:replace", "args": ["--model_dir=/mnt/models"],
                "security": {"run_as_non_root": true, "drop_capabilities": ["ALL"]},
                "resources": {"cpu": "1", "memory": "2Gi", "guaranteed": true}}]});
        let out = lower_one(
            "kubeflow.ServingRuntime",
            "kserve-sklearnserver",
            &v,
            &LowerContext::default(),
        )
        .unwrap();
        assert_eq!(out[0]["kind"], "ClusterServingRuntime");
        let c = &out[0]["spec"]["containers"][0];
        assert_eq!(
            c["resources"],
            json!({"limits": {"cpu": "1", "memory": "2Gi"}, "requests": {"cpu": "1", "memory": "2Gi"}})
        );
        assert_eq!(
            c["securityContext"],
            json!({"runAsNonRoot": true, "capabilities": {"drop": ["ALL"]}})
        );
        let g = json!({"nodes": {"root": {"router": "Sequence", "steps": [{"service": "sklearn-iris"}, {"service": "xgboost-iris", "data": "$request"}]}}});
        let out = lower_one(
            "kubeflow.InferenceGraph",
            "model-chainer",
            &g,
            &LowerContext::default(),
        )
        .unwrap();
        assert_eq!(
            out[0]["spec"],
            json!({"nodes": {"root": {"routerType": "Sequence", "steps": [{"serviceName": "sklearn-iris"}, {"serviceName": "xgboost-iris", "data": "$request"}]}}})
        );
    }

    #[test]
    fn llm_inference_service() {
        let v = json!({"model_uri": "hf://facebook/opt-125m", "model_name": "facebook/opt-125m", "replicas": 1, "router": true,
            "container": {"name": "main", "image": "vllm:1", "liveness": {"initial_delay": 30, "failure_threshold": 5}}});
        let out = lower_one(
            "kubeflow.LLMInferenceService",
            "opt",
            &v,
            &LowerContext::default(),
        )
        .unwrap();
        assert_eq!(
            out[0]["spec"],
            json!({"model": {"uri": "hf://facebook/opt-125m", "name": "facebook/opt-125m"}, "replicas": 1,
                "router": {"scheduler": {}, "route": {}, "gateway": {}},
                "template": {"containers": [{"name": "main", "image": "vllm:1", "livenessProbe": {"initialDelaySeconds": 30, "failureThreshold": 5}}]}})
        );
        let bad = json!({"model_uri": "ftp://x", "container": {"image": "vllm:1"}});
        let err = lower_one(
            "kubeflow.LLMInferenceService",
            "opt",
            &bad,
            &LowerContext::default(),
        )
        .unwrap_err();
        assert_eq!(err[0].pointer, "/model_uri");
    }
}
