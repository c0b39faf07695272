//! Argo Workflows target: an `argoproj.io/v1alpha1` WorkflowTemplate (or, when
//! `argo.kind` says so, a Workflow or ClusterWorkflowTemplate), plus a CronWorkflow when the
//! pipeline has a `schedule`.
//!
//! Each inline step becomes a template named after the step, each `templates` entry a template
//! of its own, each group a `dag` template invoked by a task; the pipeline's steps form the
//! entry template (`entrypoint`, default the pipeline name) as a `dag` or, with
//! `mode = "steps"`, as sequential `steps` groups derived from the dependencies. `$(...)`
//! placeholders become Argo expressions (`{{inputs.parameters.x}}`, `{{tasks.a.outputs.result}}`,
//! `{{workflow.parameters.p}}`, `{{item}}`).

use serde_json::{Map, Value, json};

use super::codes;
use super::model::{Dag, IoType, Mode, Pipeline, Ref, Run, Seg, Step, segments};
use crate::lower::LowerError;

struct Argo<'a> {
    p: &'a Pipeline,
    /// The tolerations of the tainted node pools steps' GPUs land on, per step pointer.
    tolerations: &'a super::Tolerations,
    templates: Vec<Value>,
    errs: Vec<LowerError>,
}

/// Context of a DAG scope while rendering expressions.
struct Scope<'a> {
    dag: &'a Dag,
    mode: Mode,
    /// The inputs of the enclosing template (for `$(inputs.x)` inside a template's own steps).
    own: Vec<(String, IoType)>,
}

fn obj(m: Map<String, Value>) -> Value {
    Value::Object(m)
}

impl<'a> Argo<'a> {
    /// `$(...)` in a template body (command, args, script, env, manifest).
    fn body_text(&mut self, s: &str, step: &Step) -> String {
        let mut out = String::new();
        for seg in segments(s) {
            match seg {
                Seg::Lit(t) => out.push_str(&t),
                Seg::Ref(Ref::Input { name, attr }) => {
                    let art = self.input_type(step, &name).is_artifact();
                    if art {
                        let a = attr.unwrap_or_else(|| "path".into());
                        out.push_str(&format!("{{{{inputs.artifacts.{name}.{a}}}}}"));
                    } else {
                        out.push_str(&format!("{{{{inputs.parameters.{name}}}}}"));
                    }
                }
                Seg::Ref(Ref::Own { name, attr }) => {
                    let ty = self
                        .p
                        .output_of(step, &name)
                        .map(|o| o.ty)
                        .unwrap_or(IoType::String);
                    let a = attr.unwrap_or_else(|| "path".into());
                    let kind = if ty.is_artifact() {
                        "artifacts"
                    } else {
                        "parameters"
                    };
                    out.push_str(&format!("{{{{outputs.{kind}.{name}.{a}}}}}"));
                }
                Seg::Ref(Ref::Param(p)) => out.push_str(&format!("{{{{workflow.parameters.{p}}}}}")),
                Seg::Ref(Ref::Item(None)) => out.push_str("{{item}}"),
                Seg::Ref(Ref::Item(Some(k))) => out.push_str(&format!("{{{{item.{k}}}}}")),
                Seg::Ref(Ref::Global(g)) => out.push_str(&global_expr(&g)),
                Seg::Ref(r @ Ref::Output { .. }) => {
                    self.errs.push(
                        LowerError::new(
                            codes::UNSUPPORTED_ON_TARGET,
                            step.ptr.clone(),
                            format!("step `{}` reads `{}` in its command; Argo templates only see their own inputs", step.name, super::model::ref_text(&r)),
                        )
                        .with_help("bind it as an input (`inputs = { x = { from = steps.STEP.outputs.NAME } }`) and write `$(inputs.x)`"),
                    );
                }
            }
        }
        out
    }

    fn input_type(&self, step: &Step, name: &str) -> IoType {
        if let Some(i) = step.inputs.iter().find(|i| i.name == name) {
            return i.ty;
        }
        if let Run::Template(t) = &step.run
            && let Some(i) = self
                .p
                .template(t)
                .and_then(|t| t.step.inputs.iter().find(|i| i.name == name))
        {
            return i.declared.unwrap_or(IoType::String);
        }
        IoType::String
    }

    /// `$(...)` in a task's argument or condition, read in `scope`.
    fn task_text(&mut self, s: &str, scope: &Scope, at_ptr: &str) -> String {
        let mut out = String::new();
        for seg in segments(s) {
            match seg {
                Seg::Lit(t) => out.push_str(&t),
                Seg::Ref(r) => out.push_str(&self.expr(&r, scope, at_ptr)),
            }
        }
        out
    }

    /// The Argo expression of a reference read by a task in `scope`.
    fn expr(&mut self, r: &Ref, scope: &Scope, at_ptr: &str) -> String {
        match r {
            Ref::Param(p) => format!("{{{{workflow.parameters.{p}}}}}"),
            Ref::Item(None) => "{{item}}".into(),
            Ref::Item(Some(k)) => format!("{{{{item.{k}}}}}"),
            Ref::Global(g) => global_expr(g),
            Ref::Input { name, attr } => {
                let art = scope
                    .own
                    .iter()
                    .find(|(n, _)| n == name)
                    .is_some_and(|(_, t)| t.is_artifact());
                if art {
                    match attr {
                        Some(a) => format!("{{{{inputs.artifacts.{name}.{a}}}}}"),
                        None => format!("{{{{inputs.artifacts.{name}}}}}"),
                    }
                } else {
                    format!("{{{{inputs.parameters.{name}}}}}")
                }
            }
            Ref::Own { name, .. } => format!("{{{{outputs.parameters.{name}}}}}"),
            Ref::Output { step, output } => {
                let prefix = if scope.mode == Mode::Steps {
                    "steps"
                } else {
                    "tasks"
                };
                let Some(i) = scope.dag.find(step) else {
                    return String::new();
                };
                let o = scope.dag.nodes[i]
                    .step
                    .as_ref()
                    .and_then(|s| self.p.output_of(s, output));
                let top = scope.dag.path(i)[0];
                if top != i {
                    self.errs.push(
                        LowerError::new(
                            codes::UNSUPPORTED_ON_TARGET,
                            at_ptr,
                            format!("the Argo target cannot read `steps.{step}.outputs.{output}` from outside its group yet"),
                        )
                        .with_help("move the consumer into the same group, or use `engine = \"kfp\"`"),
                    );
                }
                match o {
                    Some(o) if o.stdout() => format!("{{{{{prefix}.{step}.outputs.result}}}}"),
                    Some(o) if o.ty.is_artifact() => {
                        format!("{{{{{prefix}.{step}.outputs.artifacts.{output}}}}}")
                    }
                    _ => format!("{{{{{prefix}.{step}.outputs.parameters.{output}}}}}"),
                }
            }
        }
    }

    /// A template from a step or template record.
    fn template(&mut self, step: &Step, dag_body: Option<Value>, defaults: bool) -> Value {
        let v = &step.raw;
        let mut t = Map::new();
        t.insert("name".into(), json!(step.name));
        let mut ip = Vec::new();
        let mut ia = Vec::new();
        for i in &step.inputs {
            if i.ty.is_artifact() {
                let mut a = Map::new();
                a.insert("name".into(), json!(i.name));
                a.insert(
                    "path".into(),
                    json!(
                        i.path
                            .clone()
                            .unwrap_or_else(|| format!("/tmp/inputs/{}", i.name))
                    ),
                );
                if i.optional {
                    a.insert("optional".into(), json!(true));
                }
                ia.push(obj(a));
            } else {
                let mut pm = Map::new();
                pm.insert("name".into(), json!(i.name));
                // A template's own constant is its default; a step's constant is passed as an argument.
                if defaults && let Some(val) = &i.value {
                    let val = self.body_text(val, step);
                    pm.insert("value".into(), json!(val));
                }
                if let Some(d) = &i.description {
                    pm.insert("description".into(), json!(d));
                }
                ip.push(obj(pm));
            }
        }
        let mut inputs = Map::new();
        if !ip.is_empty() {
            inputs.insert("parameters".into(), Value::Array(ip));
        }
        if !ia.is_empty() {
            inputs.insert("artifacts".into(), Value::Array(ia));
        }
        if !inputs.is_empty() {
            t.insert("inputs".into(), obj(inputs));
        }
        let mut op = Vec::new();
        let mut oa = Vec::new();
        for o in &step.outputs {
            if o.stdout() {
                continue;
            }
            let mut m = Map::new();
            m.insert("name".into(), json!(o.name));
            if o.ty.is_artifact() {
                if let Some(pth) = o.raw.get("path") {
                    m.insert("path".into(), pth.clone());
                }
                if let Some(s3) = o.raw.get("s3") {
                    let mut s = Map::new();
                    for (k, to) in [
                        ("endpoint", "endpoint"),
                        ("bucket", "bucket"),
                        ("region", "region"),
                        ("key", "key"),
                    ] {
                        if let Some(x) = s3.get(k) {
                            s.insert(to.into(), x.clone());
                        }
                    }
                    for (k, to) in [
                        ("access_key", "accessKeySecret"),
                        ("secret_key", "secretKeySecret"),
                    ] {
                        if let Some(x) = s3.get(k) {
                            s.insert(to.into(), x.clone());
                        }
                    }
                    m.insert("s3".into(), obj(s));
                }
                oa.push(obj(m));
            } else {
                let mut vf = Map::new();
                for (k, to) in [
                    ("path", "path"),
                    ("json_path", "jsonPath"),
                    ("jq_filter", "jqFilter"),
                ] {
                    if let Some(x) = o.raw.get(k) {
                        vf.insert(to.into(), x.clone());
                    }
                }
                if !vf.is_empty() {
                    m.insert("valueFrom".into(), obj(vf));
                }
                op.push(obj(m));
            }
        }
        let mut outputs = Map::new();
        if !op.is_empty() {
            outputs.insert("parameters".into(), Value::Array(op));
        }
        if !oa.is_empty() {
            outputs.insert("artifacts".into(), Value::Array(oa));
        }
        if !outputs.is_empty() {
            t.insert("outputs".into(), obj(outputs));
        }
        if let Some(body) = dag_body {
            if let Value::Object(b) = body {
                t.extend(b);
            }
        } else {
            match step.run {
                Run::Resource => {
                    let r = v.get("resource").cloned().unwrap_or(json!({}));
                    let mut m = Map::new();
                    m.insert(
                        "action".into(),
                        r.get("action").cloned().unwrap_or(json!("create")),
                    );
                    for (k, to) in [
                        ("success_condition", "successCondition"),
                        ("failure_condition", "failureCondition"),
                        ("set_owner_reference", "setOwnerReference"),
                        ("merge_strategy", "mergeStrategy"),
                    ] {
                        if let Some(x) = r.get(k) {
                            m.insert(to.into(), x.clone());
                        }
                    }
                    if let Some(man) = r.get("manifest").and_then(Value::as_str) {
                        m.insert("manifest".into(), json!(self.body_text(man, step)));
                    }
                    t.insert("resource".into(), obj(m));
                }
                _ => {
                    let mut c = Map::new();
                    c.insert("image".into(), v.get("image").cloned().unwrap_or(json!("")));
                    for f in ["command", "args"] {
                        if let Some(l) = v.get(f).and_then(Value::as_array) {
                            let items: Vec<Value> = l
                                .iter()
                                .map(|x| json!(self.body_text(x.as_str().unwrap_or_default(), step)))
                                .collect();
                            c.insert(f.into(), Value::Array(items));
                        }
                    }
                    if let Some(w) = v.get("working_dir") {
                        c.insert("workingDir".into(), w.clone());
                    }
                    if let Some(env) = v.get("env").and_then(Value::as_object).filter(|m| !m.is_empty()) {
                        let list: Vec<Value> = env
                            .iter()
                            .map(|(k, x)| json!({ "name": k, "value": self.body_text(x.as_str().unwrap_or_default(), step) }))
                            .collect();
                        c.insert("env".into(), Value::Array(list));
                    }
                    if let Some(r) = resources(v) {
                        c.insert("resources".into(), r);
                    }
                    if step.run == Run::Script {
                        let src = v.get("script").and_then(Value::as_str).unwrap_or_default();
                        c.insert("source".into(), json!(self.body_text(src, step)));
                        t.insert("script".into(), obj(c));
                    } else {
                        t.insert("container".into(), obj(c));
                    }
                }
            }
        }
        if let Some(r) = v.get("retries") {
            let mut rs = Map::new();
            rs.insert("limit".into(), r.get("limit").cloned().unwrap_or(json!(0)));
            if let Some(pol) = r.get("policy") {
                rs.insert("retryPolicy".into(), pol.clone());
            }
            let mut b = Map::new();
            for (k, to) in [
                ("backoff", "duration"),
                ("factor", "factor"),
                ("max_backoff", "maxDuration"),
            ] {
                if let Some(x) = r.get(k) {
                    b.insert(to.into(), x.clone());
                }
            }
            if !b.is_empty() {
                rs.insert("backoff".into(), obj(b));
            }
            t.insert("retryStrategy".into(), obj(rs));
        }
        if let Some(ns) = v
            .get("node_selector")
            .filter(|x| x.as_object().is_some_and(|m| !m.is_empty()))
        {
            t.insert("nodeSelector".into(), ns.clone());
        }
        if let Some(tol) = self.tolerations.get(&step.ptr) {
            t.insert("tolerations".into(), json!(tol));
        }
        if let Some(d) = v.get("timeout").and_then(crate::lower::duration_secs) {
            t.insert("activeDeadlineSeconds".into(), json!(d));
        }
        obj(t)
    }

    /// The DAG task (or steps entry) of node `i`.
    fn task(&mut self, i: usize, scope: &Scope) -> Value {
        let node = &scope.dag.nodes[i];
        let mut t = Map::new();
        t.insert("name".into(), json!(node.name));
        if scope.mode == Mode::Dag && !node.deps.is_empty() {
            let mut deps: Vec<usize> = node.deps.clone();
            deps.sort_by_key(|d| scope.dag.siblings(node.parent).iter().position(|x| x == d));
            let names: Vec<&str> = deps.iter().map(|&d| scope.dag.nodes[d].name.as_str()).collect();
            t.insert("depends".into(), json!(names.join(" && ")));
        }
        let mut ap = Vec::new();
        let mut aa = Vec::new();
        match &node.step {
            Some(step) => {
                match &step.run {
                    Run::Template(name) => {
                        t.insert("template".into(), json!(name));
                    }
                    Run::TemplateRef => {
                        let r = step.raw.get("template_ref").cloned().unwrap_or(json!({}));
                        let mut m = Map::new();
                        m.insert("name".into(), r.get("name").cloned().unwrap_or(json!("")));
                        m.insert("template".into(), r.get("template").cloned().unwrap_or(json!("")));
                        if r.get("cluster_scope").and_then(Value::as_bool).unwrap_or(false) {
                            m.insert("clusterScope".into(), json!(true));
                        }
                        t.insert("templateRef".into(), obj(m));
                    }
                    _ => {
                        t.insert("template".into(), json!(step.name));
                    }
                }
                for inp in &step.inputs {
                    let val = match (&inp.from, &inp.value) {
                        (Some(r), _) => Some(self.expr(r, scope, &inp.ptr)),
                        (None, Some(v)) => Some(self.task_text(v, scope, &inp.ptr)),
                        _ => None,
                    };
                    let Some(val) = val else { continue };
                    if inp.ty.is_artifact() {
                        aa.push(json!({ "name": inp.name, "from": val }));
                    } else {
                        ap.push(json!({ "name": inp.name, "value": val }));
                    }
                }
            }
            None => {
                t.insert("template".into(), json!(node.name));
            }
        }
        let mut args = Map::new();
        if !ap.is_empty() {
            args.insert("parameters".into(), Value::Array(ap));
        }
        if !aa.is_empty() {
            args.insert("artifacts".into(), Value::Array(aa));
        }
        if !args.is_empty() {
            t.insert("arguments".into(), obj(args));
        }
        if let Some(c) = &node.when {
            let lhs = self.expr(&c.left, scope, &c.ptr);
            t.insert("when".into(), json!(format!("{lhs} {} {}", c.op, c.right)));
        }
        if let Some(l) = &node.for_each {
            if let Some(items) = &l.items {
                t.insert("withItems".into(), Value::Array(items.clone()));
            } else if let Some(r) = &l.from {
                let e = self.expr(r, scope, &l.ptr);
                t.insert("withParam".into(), json!(e));
            }
        }
        obj(t)
    }

    /// The body (`dag` or `steps`) of a level, adding group templates as it goes.
    fn level(&mut self, level: &[usize], scope: &Scope) -> Value {
        for &i in level {
            let node = &scope.dag.nodes[i];
            if node.is_group() {
                let children = node.children.clone();
                let body = self.level(&children, scope);
                let gstep = Step {
                    name: node.name.clone(),
                    ptr: node.ptr.clone(),
                    run: Run::Container,
                    raw: json!({}),
                    inputs: Vec::new(),
                    outputs: Vec::new(),
                    cache: true,
                };
                let t = self.template(&gstep, Some(body), false);
                self.templates.push(t);
            } else if let Some(step) = &node.step
                && matches!(step.run, Run::Container | Run::Script | Run::Resource)
            {
                let t = self.template(step, None, false);
                self.templates.push(t);
            }
        }
        match scope.mode {
            Mode::Dag => {
                let tasks: Vec<Value> = level.iter().map(|&i| self.task(i, scope)).collect();
                json!({ "dag": { "tasks": tasks } })
            }
            Mode::Steps => {
                // Sequential groups: a step runs in the group after all of its dependencies.
                let mut depth = vec![0usize; scope.dag.nodes.len()];
                let mut order: Vec<usize> = level.to_vec();
                for _ in 0..order.len() {
                    for &i in &order {
                        let d = scope.dag.nodes[i]
                            .deps
                            .iter()
                            .map(|&x| depth[x] + 1)
                            .max()
                            .unwrap_or(0);
                        depth[i] = d;
                    }
                }
                order.sort_by_key(|&i| depth[i]);
                let mut groups: Vec<Vec<Value>> = Vec::new();
                for &i in &order {
                    let d = depth[i];
                    while groups.len() <= d {
                        groups.push(Vec::new());
                    }
                    let t = self.task(i, scope);
                    groups[d].push(t);
                }
                json!({ "steps": groups.into_iter().filter(|g| !g.is_empty()).collect::<Vec<_>>() })
            }
        }
    }
}

/// Argo container resources (`cpu`, `memory`, limits, `gpu`).
fn resources(v: &Value) -> Option<Value> {
    let mut req = Map::new();
    let mut lim = Map::new();
    let s = |k: &str| v.get(k).map(crate::lower::num_string);
    if let Some(c) = s("cpu") {
        req.insert("cpu".into(), json!(c));
    }
    if let Some(m) = s("memory") {
        req.insert("memory".into(), json!(m));
    }
    if let Some(c) = s("cpu_limit") {
        lim.insert("cpu".into(), json!(c));
    }
    if let Some(m) = s("memory_limit") {
        lim.insert("memory".into(), json!(m));
    }
    if let Some(g) = v.get("gpu").and_then(Value::as_i64).filter(|g| *g > 0) {
        let ty = v
            .get("gpu_resource")
            .and_then(Value::as_str)
            .unwrap_or("nvidia.com/gpu");
        req.insert(ty.into(), json!(g.to_string()));
        lim.insert(ty.into(), json!(g.to_string()));
    }
    let mut r = Map::new();
    if !lim.is_empty() {
        r.insert("limits".into(), obj(lim));
    }
    if !req.is_empty() {
        r.insert("requests".into(), obj(req));
    }
    (!r.is_empty()).then(|| obj(r))
}

/// The Argo objects of a checked pipeline.
pub(crate) fn lower(
    p: &Pipeline,
    namespace: Option<&str>,
    tolerations: &super::Tolerations,
) -> Result<Vec<Value>, Vec<LowerError>> {
    let mut a = Argo {
        p,
        tolerations,
        templates: Vec::new(),
        errs: Vec::new(),
    };
    let argo = p.raw.get("argo").cloned().unwrap_or(json!({}));
    let kind = argo
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or("WorkflowTemplate")
        .to_string();
    let entry = p
        .raw
        .get("entrypoint")
        .and_then(Value::as_str)
        .map(super::model::norm)
        .or_else(|| (!p.dag.top.is_empty()).then(|| p.name.clone()));
    // The pipeline's own steps: the entry template.
    if !p.dag.top.is_empty() {
        let scope = Scope {
            dag: &p.dag,
            mode: p.dag.mode.unwrap_or(Mode::Dag),
            own: Vec::new(),
        };
        let top = p.dag.top.clone();
        let body = a.level(&top, &scope);
        let root = Step {
            name: entry.clone().unwrap_or_else(|| p.name.clone()),
            ptr: String::new(),
            run: Run::Container,
            raw: json!({}),
            inputs: Vec::new(),
            outputs: Vec::new(),
            cache: true,
        };
        let t = a.template(&root, Some(body), false);
        a.templates.insert(0, t);
    }
    for t in &p.templates {
        let body = t.dag.as_ref().map(|d| {
            let scope = Scope {
                dag: d,
                mode: d.mode.unwrap_or(Mode::Dag),
                own: t.step.inputs.iter().map(|i| (i.name.clone(), i.ty)).collect(),
            };
            let top = d.top.clone();
            a.level(&top, &scope)
        });
        let tv = a.template(&t.step, body, true);
        a.templates.push(tv);
    }
    if let Some(exit) = &p.on_exit {
        // Argo calls the exit handler without arguments, so its inputs carry their values as
        // defaults: a constant, or a run global (`from = workflow.status`).
        let mut exit = exit.clone();
        for i in &mut exit.inputs {
            if let Some(Ref::Global(g)) = &i.from {
                i.value = Some(format!("$(workflow.{g})"));
                i.from = None;
            }
        }
        // A condition on the exit handler (`when = { ref = workflow.status, value = "Failed" }`):
        // Argo has none on `onExit`, so the handler becomes a one-step template whose step has it.
        let when = exit.raw.get("when").and_then(|c| {
            let left = super::model::parse_ref(c.get("ref")?.as_str()?)?;
            let op = c.get("op").and_then(Value::as_str).unwrap_or("==").to_string();
            let right = match c.get("value") {
                Some(Value::String(v)) => v.clone(),
                Some(other) => other.to_string(),
                None => String::new(),
            };
            Some((left, op, right))
        });
        if let Some((left, _, _)) = &when
            && !matches!(left, Ref::Global(_) | Ref::Param(_))
        {
            a.errs.push(
                LowerError::new(
                    codes::UNSUPPORTED_ON_TARGET,
                    "/on_exit/when/ref",
                    "the exit handler's condition can only read the run's globals and parameters",
                )
                .with_help("test `workflow.status` or `workflow.failures`, or a pipeline parameter"),
            );
        }
        if when.is_some() && !matches!(exit.run, Run::Template(_) | Run::TemplateRef) {
            // The handler's own template under another name, called by the wrapper below.
            let mut body = exit.clone();
            body.name = format!("{}-body", exit.name);
            let tv = a.template(&body, None, true);
            a.templates.push(tv);
            exit.run = Run::Template(body.name.clone());
            exit.inputs.clear();
        }
        let tv = match &exit.run {
            // `on_exit = { name = "notify", template = templates.notify }`: `onExit` names the
            // template itself (a wrapper of the same name would be a second `notify`).
            Run::Template(t) if *t == exit.name && when.is_none() && exit.inputs.is_empty() => None,
            // An exit handler that calls a template of this pipeline or of another
            // WorkflowTemplate: `onExit` names a template of this workflow, so it is a one-step
            // `steps` template that calls it with the handler's inputs (never an empty container).
            Run::Template(_) | Run::TemplateRef => {
                let dag = Dag {
                    nodes: vec![super::model::Node::of_step(&exit)],
                    top: vec![0],
                    mode: Some(Mode::Steps),
                };
                let scope = Scope {
                    dag: &dag,
                    mode: Mode::Steps,
                    own: Vec::new(),
                };
                let mut call = a.task(0, &scope);
                if let (Some((left, op, right)), Some(m)) = (&when, call.as_object_mut()) {
                    let lhs = a.expr(left, &scope, "/on_exit/when");
                    m.insert("when".into(), json!(format!("{lhs} {op} {right}")));
                }
                Some(json!({ "name": exit.name, "steps": [[call]] }))
            }
            _ => Some(a.template(&exit, None, true)),
        };
        a.templates.extend(tv);
    }
    if !a.errs.is_empty() {
        return Err(a.errs);
    }
    let mut spec = Map::new();
    if let Some(e) = &entry {
        spec.insert("entrypoint".into(), json!(e));
    }
    let params: Vec<Value> = p
        .params
        .iter()
        .map(|prm| {
            let mut m = Map::new();
            m.insert("name".into(), json!(prm.name));
            if let Some(d) = &prm.default {
                let text = match d {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                m.insert("value".into(), json!(text));
            }
            if let Some(desc) = &prm.description {
                m.insert("description".into(), json!(desc));
            }
            obj(m)
        })
        .collect();
    if !params.is_empty() {
        spec.insert("arguments".into(), json!({ "parameters": params }));
    }
    if let Some(sa) = argo.get("service_account") {
        spec.insert("serviceAccountName".into(), sa.clone());
    }
    if let Some(exit) = &p.on_exit {
        spec.insert("onExit".into(), json!(exit.name));
    }
    spec.insert("templates".into(), Value::Array(a.templates));
    let cluster = kind == "ClusterWorkflowTemplate";
    let mut meta = Map::new();
    if kind == "Workflow"
        && argo
            .get("generate_name")
            .and_then(Value::as_bool)
            .unwrap_or(false)
    {
        meta.insert("generateName".into(), json!(format!("{}-", p.name)));
    } else {
        meta.insert("name".into(), json!(p.name));
    }
    if !cluster && let Some(ns) = namespace {
        meta.insert("namespace".into(), json!(ns));
    }
    for f in ["labels", "annotations"] {
        if let Some(x) = p.raw.get(f).and_then(Value::as_object).filter(|x| !x.is_empty()) {
            meta.insert(f.into(), Value::Object(x.clone()));
        }
    }
    let schedule = p.raw.get("schedule").and_then(Value::as_str);
    let mut out = Vec::new();
    let wf = json!({
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": kind,
        "metadata": Value::Object(meta),
        "spec": Value::Object(spec.clone()),
    });
    if let Some(cron) = schedule {
        let workflow_spec = if kind == "Workflow" {
            Value::Object(spec)
        } else {
            out.push(wf);
            let mut r = Map::new();
            r.insert("name".into(), json!(p.name));
            if cluster {
                r.insert("clusterScope".into(), json!(true));
            }
            json!({ "workflowTemplateRef": Value::Object(r) })
        };
        let mut cmeta = Map::new();
        cmeta.insert("name".into(), json!(p.name));
        if let Some(ns) = namespace {
            cmeta.insert("namespace".into(), json!(ns));
        }
        let mut cspec = Map::new();
        cspec.insert("schedules".into(), json!([cron]));
        if let Some(tz) = p.raw.get("timezone") {
            cspec.insert("timezone".into(), tz.clone());
        }
        cspec.insert("workflowSpec".into(), workflow_spec);
        out.push(json!({
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "CronWorkflow",
            "metadata": Value::Object(cmeta),
            "spec": Value::Object(cspec),
        }));
    } else {
        out.push(wf);
    }
    Ok(out)
}

/// The Argo expression of the run global `workflow.{name}` (`{{workflow.status}}`); an unknown
/// one is reported by the model and written as the user spelled it.
fn global_expr(name: &str) -> String {
    let var = super::model::global(name).map_or_else(|| format!("workflow.{name}"), |g| g.argo.to_string());
    format!("{{{{{var}}}}}")
}
