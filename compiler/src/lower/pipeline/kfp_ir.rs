//! KFP v2 target: the pipeline IR (`PipelineSpec`, schema 2.1.0, as the kfp SDK compiles it),
//! carried by a `pipelines.kubeflow.org/v2beta1` Pipeline and PipelineVersion (the IR goes in
//! the version's `spec.pipelineSpec`), plus a `kubeflow.org/v1beta1` ScheduledWorkflow when the
//! pipeline has a `schedule`.
//!
//! Layout follows the kfp compiler so that the IR matches what kfp itself writes: one component
//! `comp-<task>` and one executor `exec-<task>` per leaf step; groups (conditions, loops, the
//! exit handler) are sub-DAG components whose inputs are `pipelinechannel--...` channels
//! threaded from the parent; artifacts produced inside a loop are collected (fan-in) through the
//! group's `dag.outputs` with `isArtifactList`; maps are written with sorted keys.

use serde_json::{Map, Value, json};

use super::codes;
use super::model::{
    Dag, Engine, IoType, Loop, Pipeline, Ref, Run, Seg, Step, constant, global, item_type, py_json, segments,
    sorted,
};
use crate::lower::LowerError;

/// A value that flows into a task or group.
#[derive(Debug, Clone, PartialEq)]
enum Chan {
    Param(String),
    Out { prod: usize, output: String },
    Item(usize),
}

#[derive(Debug, Clone)]
struct ChanInfo {
    ty: IoType,
    list: bool,
}

/// Outputs a group surfaces from inside: (dag artifact outputs, dag parameter outputs,
/// artifact definitions, parameter definitions).
type Surfaced = (
    Map<String, Value>,
    Map<String, Value>,
    Map<String, Value>,
    Map<String, Value>,
);

/// A component input: name, type, list, optional, default, description.
type Decl = (String, IoType, bool, bool, Option<Value>, Option<String>);

struct Kfp<'a> {
    p: &'a Pipeline,
    dag: &'a Dag,
    /// Per group: the channels it takes as inputs (name -> type).
    needs: Vec<Map<String, Value>>,
    /// Per group: how its parent binds each channel.
    bindings: Vec<(Map<String, Value>, Map<String, Value>)>,
    /// Per group: outputs surfaced from inside (fan-in).
    surfaced: Vec<Surfaced>,
    /// Per leaf: its task (without the DAG-level fields filled later).
    tasks: Vec<Option<Value>>,
    components: Map<String, Value>,
    executors: Map<String, Value>,
    errs: Vec<LowerError>,
}

/// The kfp parameter type name.
pub(crate) fn param_type(t: IoType) -> &'static str {
    match t {
        IoType::Int => "NUMBER_INTEGER",
        IoType::Float => "NUMBER_DOUBLE",
        IoType::Bool => "BOOLEAN",
        IoType::List => "LIST",
        IoType::Struct => "STRUCT",
        _ => "STRING",
    }
}

fn artifact_type(t: IoType) -> Value {
    let title = match t {
        IoType::Html => "HTML".to_string(),
        other => other.kiln().to_string(),
    };
    json!({ "schemaTitle": format!("system.{title}"), "schemaVersion": "0.0.1" })
}

fn definition(t: IoType, list: bool) -> Value {
    if t.is_artifact() {
        let mut m = Map::new();
        m.insert("artifactType".into(), artifact_type(t));
        if list {
            m.insert("isArtifactList".into(), json!(true));
        }
        Value::Object(m)
    } else {
        json!({ "parameterType": param_type(if list { IoType::List } else { t }) })
    }
}

fn put(m: &mut Map<String, Value>, section: &str, key: &str, v: Value) {
    let e = m.entry(section.to_string()).or_insert_with(|| json!({}));
    if let Some(o) = e.as_object_mut() {
        o.insert(key.into(), v);
    }
}

/// Sorts the maps kfp writes sorted (one level of sections, and the sections themselves).
fn sort_sections(m: Map<String, Value>) -> Value {
    let m: Map<String, Value> = m
        .into_iter()
        .map(|(k, v)| match v {
            Value::Object(o) => (k, Value::Object(sorted(o))),
            other => (k, other),
        })
        .collect();
    Value::Object(sorted(m))
}

/// Go duration (`1m30s`) or seconds -> protobuf duration (`90s`).
fn proto_duration(v: &Value) -> Option<String> {
    crate::lower::duration_secs(v).map(|s| format!("{s}s"))
}

impl<'a> Kfp<'a> {
    fn name_of(&self, c: &Chan) -> String {
        match c {
            Chan::Param(p) => format!("pipelinechannel--{p}"),
            Chan::Out { prod, output } => format!("pipelinechannel--{}-{output}", self.dag.nodes[*prod].name),
            Chan::Item(l) => {
                let node = &self.dag.nodes[*l];
                match node.for_each.as_ref().and_then(|f| f.from.clone()) {
                    Some(Ref::Param(p)) => format!("pipelinechannel--{p}-loop-item"),
                    Some(Ref::Output { step, output }) => {
                        format!("pipelinechannel--{step}-{output}-loop-item")
                    }
                    _ => match node
                        .name
                        .strip_prefix("for-loop-")
                        .and_then(|n| n.parse::<u32>().ok())
                    {
                        Some(n) if n > 0 => format!("pipelinechannel--loop-item-param-{}", n - 1),
                        _ => format!("pipelinechannel--{}-loop-item", node.name),
                    },
                }
            }
        }
    }

    fn info(&self, c: &Chan) -> ChanInfo {
        match c {
            Chan::Param(p) => ChanInfo {
                ty: self.p.param(p).map(|p| p.ty).unwrap_or(IoType::String),
                list: false,
            },
            Chan::Out { prod, output } => {
                let ty = self.dag.nodes[*prod]
                    .step
                    .as_ref()
                    .and_then(|s| self.p.output_of(s, output))
                    .map(|o| o.ty)
                    .unwrap_or(IoType::String);
                ChanInfo { ty, list: false }
            }
            Chan::Item(l) => ChanInfo {
                ty: self.dag.nodes[*l]
                    .for_each
                    .as_ref()
                    .map(item_type)
                    .unwrap_or(IoType::String),
                list: false,
            },
        }
    }

    fn chan_of(&self, r: &Ref, at: usize) -> Option<Chan> {
        match r {
            Ref::Param(p) => Some(Chan::Param(p.clone())),
            Ref::Output { step, output } => self.dag.find(step).map(|prod| Chan::Out {
                prod,
                output: output.clone(),
            }),
            Ref::Item(_) => self.dag.enclosing_loop(at).map(Chan::Item),
            _ => None,
        }
    }

    /// Group `g` takes channel `c` as an input; its parent binds it.
    fn need(&mut self, g: usize, c: &Chan, list: bool) {
        let name = self.name_of(c);
        if self.needs[g].contains_key(&name) {
            return;
        }
        let info = self.info(c);
        self.needs[g].insert(name.clone(), definition(info.ty, list || info.list));
        if let Chan::Item(l) = c
            && *l == g
        {
            return; // provided by the loop itself
        }
        let parent = self.dag.nodes[g].parent;
        let (b, art) = self.bind(parent, c);
        if art {
            self.bindings[g].1.insert(name, b);
        } else {
            self.bindings[g].0.insert(name, b);
        }
    }

    /// How a task or group directly inside `parent` reads channel `c`: (binding, is artifact).
    fn bind(&mut self, parent: Option<usize>, c: &Chan) -> (Value, bool) {
        let name = self.name_of(c);
        let info = self.info(c);
        let art = info.ty.is_artifact();
        let input_key = if art {
            "componentInputArtifact"
        } else {
            "componentInputParameter"
        };
        match c {
            Chan::Param(p) => match parent {
                None => (json!({ "componentInputParameter": p }), false),
                Some(g) => {
                    self.need(g, c, false);
                    (json!({ "componentInputParameter": name }), false)
                }
            },
            Chan::Item(l) => {
                if let Some(g) = parent
                    && g != *l
                {
                    self.need(g, c, false);
                }
                (json!({ "componentInputParameter": name }), false)
            }
            Chan::Out { prod, output } => {
                let pp = self.dag.path(*prod);
                let start = match parent {
                    None => Some(0),
                    Some(g) => pp.iter().position(|&x| x == g).map(|i| i + 1),
                };
                match start {
                    Some(i) if i < pp.len() => {
                        let s = pp[i];
                        let (task, key, list) = if s == *prod {
                            (self.dag.nodes[s].name.clone(), output.clone(), false)
                        } else {
                            let list = self.surface(&pp[i..], output, &name);
                            (self.dag.nodes[s].name.clone(), name.clone(), list)
                        };
                        let _ = list;
                        if art {
                            (
                                json!({ "taskOutputArtifact": { "outputArtifactKey": key, "producerTask": task } }),
                                true,
                            )
                        } else {
                            (
                                json!({ "taskOutputParameter": { "outputParameterKey": key, "producerTask": task } }),
                                false,
                            )
                        }
                    }
                    _ => {
                        let g = parent.unwrap_or(0);
                        let list = self
                            .dag
                            .enclosing_loop(*prod)
                            .is_some_and(|l| !self.dag.path(g).contains(&l));
                        self.need(g, c, list);
                        (json!({ input_key: name }), art)
                    }
                }
            }
        }
    }

    /// Surfaces an output through the groups of `path` (group ... producer); returns whether it
    /// became a list (a loop was crossed).
    fn surface(&mut self, path: &[usize], output: &str, chan: &str) -> bool {
        let prod = path[path.len() - 1];
        let ty = self.dag.nodes[prod]
            .step
            .as_ref()
            .and_then(|s| self.p.output_of(s, output))
            .map(|o| o.ty)
            .unwrap_or(IoType::String);
        let mut list = false;
        for k in (0..path.len() - 1).rev() {
            let g = path[k];
            list |= self.dag.nodes[g].for_each.is_some();
            let next = path[k + 1];
            let key = if next == prod {
                output.to_string()
            } else {
                chan.to_string()
            };
            let sub = self.dag.nodes[next].name.clone();
            if ty.is_artifact() {
                self.surfaced[g].0.insert(
                    chan.into(),
                    json!({ "artifactSelectors": [ { "outputArtifactKey": key, "producerSubtask": sub } ] }),
                );
                self.surfaced[g].2.insert(chan.into(), definition(ty, list));
            } else {
                self.surfaced[g].1.insert(
                    chan.into(),
                    json!({ "valueFromParameter": { "outputParameterKey": key, "producerSubtask": sub } }),
                );
                self.surfaced[g].3.insert(chan.into(), definition(ty, list));
            }
        }
        list
    }

    /// A `$(...)` string as seen from inside a component (executor command and args).
    fn placeholder_text(
        &mut self,
        s: &str,
        step: &Step,
        at: usize,
        comp_inputs: &mut Map<String, Value>,
        task_inputs: &mut Map<String, Value>,
    ) -> String {
        let mut out = String::new();
        for seg in segments(s) {
            match seg {
                Seg::Lit(t) => out.push_str(&t),
                Seg::Ref(Ref::Input { name, attr }) => {
                    let inp = self.input_type(step, &name);
                    if inp.0.is_artifact() {
                        match attr.as_deref() {
                            None if inp.1 => out.push_str(&format!("{{{{$.inputs.artifacts['{name}']}}}}")),
                            None | Some("path") => {
                                out.push_str(&format!("{{{{$.inputs.artifacts['{name}'].path}}}}"))
                            }
                            Some(a) => out.push_str(&format!("{{{{$.inputs.artifacts['{name}'].{a}}}}}")),
                        }
                    } else {
                        out.push_str(&format!("{{{{$.inputs.parameters['{name}']}}}}"));
                    }
                }
                Seg::Ref(Ref::Own { name, attr }) => {
                    let ty = self
                        .p
                        .output_of(step, &name)
                        .map(|o| o.ty)
                        .unwrap_or(IoType::String);
                    if ty.is_artifact() {
                        let a = attr.unwrap_or_else(|| "path".into());
                        out.push_str(&format!("{{{{$.outputs.artifacts['{name}'].{a}}}}}"));
                    } else {
                        out.push_str(&format!("{{{{$.outputs.parameters['{name}'].output_file}}}}"));
                    }
                }
                Seg::Ref(Ref::Global(g)) => out.push_str(global(&g).and_then(|g| g.kfp).unwrap_or_default()),
                Seg::Ref(r) => {
                    if let Some(c) = self.chan_of(&r, at) {
                        let name = self.name_of(&c);
                        let info = self.info(&c);
                        comp_inputs.insert(name.clone(), definition(info.ty, false));
                        let parent = self.dag.nodes[at].parent;
                        let (b, _) = self.bind(parent, &c);
                        task_inputs.insert(name.clone(), b);
                        out.push_str(&format!("{{{{$.inputs.parameters['{name}']}}}}"));
                    }
                }
            }
        }
        out
    }

    /// The declared type of an input of `step` (own or from its template) and whether it is a list.
    fn input_type(&self, step: &Step, name: &str) -> (IoType, bool) {
        if let Some(i) = step.inputs.iter().find(|i| i.name == name) {
            return (i.ty, i.list);
        }
        if let Run::Template(t) = &step.run
            && let Some(i) = self
                .p
                .template(t)
                .and_then(|t| t.step.inputs.iter().find(|i| i.name == name))
        {
            return (i.declared.unwrap_or(IoType::String), i.list);
        }
        (IoType::String, false)
    }

    /// Leaf task `i`: its component, executor and task.
    fn leaf(&mut self, i: usize) {
        let node = self.dag.nodes[i].clone();
        let Some(step) = node.step.clone() else { return };
        let parent = node.parent;
        let (body, tmpl_inputs, tmpl_outputs) = match &step.run {
            Run::Template(t) => match self.p.template(t) {
                Some(t) if t.dag.is_none() => {
                    (t.step.raw.clone(), t.step.inputs.clone(), t.step.outputs.clone())
                }
                _ => {
                    self.errs.push(
                        LowerError::new(
                            codes::UNSUPPORTED_ON_TARGET,
                            step.ptr.clone(),
                            format!("step `{}` uses a template with its own steps, which the KFP target does not support", step.name),
                        )
                        .with_help("use groups (`groups = { ... }` and `group = \"...\"`) or set `engine = \"argo\"`"),
                    );
                    return;
                }
            },
            Run::Resource | Run::TemplateRef => {
                self.errs.push(
                    LowerError::new(
                        codes::UNSUPPORTED_ON_TARGET,
                        step.ptr.clone(),
                        format!(
                            "step `{}` is a {} step, which KFP cannot run",
                            step.name,
                            if step.run == Run::Resource {
                                "resource"
                            } else {
                                "template_ref"
                            }
                        ),
                    )
                    .with_help(
                        "set `engine = \"argo\"` on the pipeline, or run `kubectl` in a container step",
                    ),
                );
                return;
            }
            _ => (step.raw.clone(), Vec::new(), Vec::new()),
        };
        let comp = format!("comp-{}", step.name);
        let exec = format!("exec-{}", step.name);
        let mut comp_params = Map::new();
        let mut comp_arts = Map::new();
        let mut task_params = Map::new();
        let mut task_arts = Map::new();
        // Declarations: the step's own inputs, then the template's.
        let mut declared: Vec<Decl> = Vec::new();
        for ti in &tmpl_inputs {
            let default = ti
                .value
                .as_ref()
                .and_then(|v| constant(ti.declared.unwrap_or(IoType::String), v));
            declared.push((
                ti.name.clone(),
                ti.declared.unwrap_or(IoType::String),
                ti.list,
                ti.optional || default.is_some(),
                default,
                ti.description.clone(),
            ));
        }
        for si in &step.inputs {
            if let Some(d) = declared.iter_mut().find(|d| d.0 == si.name) {
                d.1 = si.ty;
                d.2 |= si.list;
            } else {
                declared.push((
                    si.name.clone(),
                    si.ty,
                    si.list,
                    si.optional,
                    None,
                    si.description.clone(),
                ));
            }
        }
        for (name, ty, list, optional, default, description) in &declared {
            let mut d = match definition(*ty, *list) {
                Value::Object(m) => m,
                _ => Map::new(),
            };
            if let Some(dv) = default {
                d.insert("defaultValue".into(), dv.clone());
            }
            if *optional {
                d.insert("isOptional".into(), json!(true));
            }
            if let Some(desc) = description {
                d.insert("description".into(), json!(desc));
            }
            if ty.is_artifact() {
                comp_arts.insert(name.clone(), Value::Object(d));
            } else {
                comp_params.insert(name.clone(), Value::Object(d));
            }
        }
        // Bindings.
        for si in &step.inputs {
            if let Some(Ref::Global(g)) = &si.from {
                // A run global is a placeholder KFP's driver fills in (as kfp's SDK writes it).
                if let Some(placeholder) = global(g).and_then(|g| g.kfp) {
                    task_params.insert(
                        si.name.clone(),
                        json!({ "runtimeValue": { "constant": placeholder } }),
                    );
                }
                continue;
            }
            if let Some(r) = &si.from {
                let Some(c) = self.chan_of(r, i) else { continue };
                let (mut b, art) = self.bind(parent, &c);
                if let (Ref::Item(Some(k)), Some(o)) = (r, b.as_object_mut()) {
                    o.insert(
                        "parameterExpressionSelector".into(),
                        json!(format!("parseJson(string_value)[\"{k}\"]")),
                    );
                }
                if art {
                    task_arts.insert(si.name.clone(), b);
                } else {
                    task_params.insert(si.name.clone(), b);
                }
            } else if let Some(v) = &si.value {
                let segs = segments(v);
                if segs.iter().all(|s| matches!(s, Seg::Lit(_))) {
                    let c = constant(si.ty, v).unwrap_or_else(|| json!(v));
                    task_params.insert(si.name.clone(), json!({ "runtimeValue": { "constant": c } }));
                } else {
                    let mut text = String::new();
                    for seg in segs {
                        match seg {
                            Seg::Lit(t) => text.push_str(&t),
                            Seg::Ref(Ref::Global(g)) => {
                                text.push_str(global(&g).and_then(|g| g.kfp).unwrap_or_default())
                            }
                            Seg::Ref(r) => {
                                if let Some(c) = self.chan_of(&r, i) {
                                    let name = self.name_of(&c);
                                    let (b, _) = self.bind(parent, &c);
                                    task_params.insert(name.clone(), b);
                                    text.push_str(&format!("{{{{$.inputs.parameters['{name}']}}}}"));
                                }
                            }
                        }
                    }
                    task_params.insert(si.name.clone(), json!({ "runtimeValue": { "constant": text } }));
                }
            }
        }
        // Outputs.
        let mut out_params = Map::new();
        let mut out_arts = Map::new();
        for o in tmpl_outputs.iter().chain(step.outputs.iter()) {
            let mut d = definition(o.ty, false);
            if let (Some(desc), Some(m)) = (o.raw.get("description"), d.as_object_mut()) {
                m.insert("description".into(), desc.clone());
            }
            if o.ty.is_artifact() {
                out_arts.insert(o.name.clone(), d);
            } else {
                out_params.insert(o.name.clone(), d);
            }
        }
        // Executor.
        let mut container = Map::new();
        let mut extra_inputs = Map::new();
        let mut extra_task = Map::new();
        for f in ["args", "command"] {
            let mut items: Vec<Value> = Vec::new();
            if let Some(l) = body.get(f).and_then(Value::as_array) {
                for x in l {
                    let s = x.as_str().unwrap_or_default().to_string();
                    items.push(json!(self.placeholder_text(
                        &s,
                        &step,
                        i,
                        &mut extra_inputs,
                        &mut extra_task
                    )));
                }
            }
            if f == "command"
                && let Some(src) = body.get("script").and_then(Value::as_str)
            {
                items.push(json!(self.placeholder_text(
                    src,
                    &step,
                    i,
                    &mut extra_inputs,
                    &mut extra_task
                )));
            }
            if !items.is_empty() {
                container.insert(f.into(), Value::Array(items));
            }
        }
        if let Some(env) = body
            .get("env")
            .and_then(Value::as_object)
            .filter(|m| !m.is_empty())
        {
            let mut list = Vec::new();
            for (k, v) in env {
                let s = v.as_str().unwrap_or_default().to_string();
                list.push(json!({ "name": k, "value": self.placeholder_text(&s, &step, i, &mut extra_inputs, &mut extra_task) }));
            }
            container.insert("env".into(), Value::Array(list));
        }
        container.insert("image".into(), body.get("image").cloned().unwrap_or(json!("")));
        if let Some(r) = resources(&step.raw).or_else(|| resources(&body)) {
            container.insert("resources".into(), r);
        }
        comp_params.extend(extra_inputs);
        task_params.extend(extra_task);
        let mut c = Map::new();
        c.insert("executorLabel".into(), json!(exec));
        let mut ins = Map::new();
        if !comp_arts.is_empty() {
            ins.insert("artifacts".into(), Value::Object(comp_arts));
        }
        if !comp_params.is_empty() {
            ins.insert("parameters".into(), Value::Object(comp_params));
        }
        if !ins.is_empty() {
            c.insert("inputDefinitions".into(), sort_sections(ins));
        }
        let mut outs = Map::new();
        if !out_arts.is_empty() {
            outs.insert("artifacts".into(), Value::Object(out_arts));
        }
        if !out_params.is_empty() {
            outs.insert("parameters".into(), Value::Object(out_params));
        }
        if !outs.is_empty() {
            c.insert("outputDefinitions".into(), sort_sections(outs));
        }
        self.components.insert(comp.clone(), Value::Object(c));
        self.executors
            .insert(exec, json!({ "container": Value::Object(sorted(container)) }));
        // Task.
        let mut t = Map::new();
        t.insert(
            "cachingOptions".into(),
            if step.cache {
                json!({ "enableCache": true })
            } else {
                json!({})
            },
        );
        t.insert("componentRef".into(), json!({ "name": comp }));
        let mut inputs = Map::new();
        if !task_arts.is_empty() {
            inputs.insert("artifacts".into(), Value::Object(task_arts));
        }
        if !task_params.is_empty() {
            inputs.insert("parameters".into(), Value::Object(task_params));
        }
        if !inputs.is_empty() {
            t.insert("inputs".into(), sort_sections(inputs));
        }
        if let Some(r) = step.raw.get("retries").or_else(|| body.get("retries")) {
            let mut rp = Map::new();
            rp.insert(
                "maxRetryCount".into(),
                r.get("limit").cloned().unwrap_or(json!(0)),
            );
            if let Some(d) = r.get("backoff").and_then(proto_duration) {
                rp.insert("backoffDuration".into(), json!(d));
            }
            if let Some(f) = r.get("factor") {
                rp.insert("backoffFactor".into(), json!(f.as_f64().unwrap_or(2.0)));
            }
            if let Some(d) = r.get("max_backoff").and_then(proto_duration) {
                rp.insert("backoffMaxDuration".into(), json!(d));
            }
            t.insert("retryPolicy".into(), Value::Object(sorted(rp)));
        }
        self.tasks[i] = Some(Value::Object(t));
    }

    /// The condition string of node `i` (`inputs.parameter_values['ch'] == 'heads'`), threading the channel.
    fn condition(&mut self, i: usize) -> Option<String> {
        let cond = self.dag.nodes[i].when.clone()?;
        let c = self.chan_of(&cond.left, i)?;
        let name = self.name_of(&c);
        let info = self.info(&c);
        if self.dag.nodes[i].is_group() {
            self.need(i, &c, false);
        } else {
            let parent = self.dag.nodes[i].parent;
            let (b, _) = self.bind(parent, &c);
            if let Some(Value::Object(t)) = self.tasks[i].as_mut() {
                let ins = t.entry("inputs").or_insert_with(|| json!({}));
                if let Some(o) = ins.as_object_mut() {
                    let p = o.entry("parameters").or_insert_with(|| json!({}));
                    if let Some(p) = p.as_object_mut() {
                        p.insert(name.clone(), b);
                    }
                }
            }
        }
        let lhs = format!("inputs.parameter_values['{name}']");
        let (lhs, rhs) = match info.ty {
            IoType::Int => (format!("int({lhs})"), cond.right.clone()),
            IoType::Float => (format!("float({lhs})"), cond.right.clone()),
            IoType::Bool => (lhs, cond.right.to_lowercase()),
            _ => (lhs, format!("'{}'", cond.right.replace('\'', "\\'"))),
        };
        Some(format!("{lhs} {} {rhs}", cond.op))
    }

    fn loop_input(&mut self, g: usize, l: &Loop) -> Value {
        let item = self.name_of(&Chan::Item(g));
        let ity = item_type(l);
        self.needs[g].insert(item.clone(), definition(ity, false));
        let items = match (&l.items, &l.from) {
            (Some(items), _) => json!({ "raw": py_json(&Value::Array(items.clone())) }),
            (None, Some(r)) => match self.chan_of(r, g) {
                Some(c) => {
                    let name = self.name_of(&c);
                    self.needs[g].insert(name.clone(), definition(IoType::List, false));
                    let parent = self.dag.nodes[g].parent;
                    let (b, _) = self.bind(parent, &c);
                    self.bindings[g].0.insert(name.clone(), b);
                    json!({ "inputParameter": name })
                }
                None => json!({}),
            },
            _ => json!({}),
        };
        json!({ "itemInput": item, "items": items })
    }

    /// The task of a group, and its component.
    fn group(&mut self, g: usize) -> Value {
        let node = self.dag.nodes[g].clone();
        let comp = format!("comp-{}", node.name);
        let mut t = Map::new();
        t.insert("componentRef".into(), json!({ "name": comp }));
        let iter = node.for_each.as_ref().map(|l| self.loop_input(g, l));
        let cond = self.condition(g);
        // Nested condition groups also take the channels of their ancestors' conditions.
        if node.when.is_some() {
            for a in self.dag.path(g) {
                if a != g
                    && let Some(c) = self.dag.nodes[a].when.clone()
                    && let Some(ch) = self.chan_of(&c.left, a)
                {
                    self.need(g, &ch, false);
                }
            }
        }
        let children = self.dag.nodes[g].children.clone();
        let tasks = self.tasks_of(&children);
        let mut dagm = Map::new();
        let (so_a, so_p, od_a, od_p) = self.surfaced[g].clone();
        let mut outs = Map::new();
        if !so_a.is_empty() {
            outs.insert("artifacts".into(), Value::Object(so_a));
        }
        if !so_p.is_empty() {
            outs.insert("parameters".into(), Value::Object(so_p));
        }
        if !outs.is_empty() {
            dagm.insert("outputs".into(), sort_sections(outs));
        }
        dagm.insert("tasks".into(), tasks);
        let mut c = Map::new();
        c.insert("dag".into(), Value::Object(dagm));
        let mut ins_p = Map::new();
        let mut ins_a = Map::new();
        for (k, v) in self.needs[g].clone() {
            if v.get("artifactType").is_some() {
                ins_a.insert(k, v);
            } else {
                ins_p.insert(k, v);
            }
        }
        let mut ins = Map::new();
        if !ins_a.is_empty() {
            ins.insert("artifacts".into(), Value::Object(ins_a));
        }
        if !ins_p.is_empty() {
            ins.insert("parameters".into(), Value::Object(ins_p));
        }
        if !ins.is_empty() {
            c.insert("inputDefinitions".into(), sort_sections(ins));
        }
        let mut od = Map::new();
        if !od_a.is_empty() {
            od.insert("artifacts".into(), Value::Object(od_a));
        }
        if !od_p.is_empty() {
            od.insert("parameters".into(), Value::Object(od_p));
        }
        if !od.is_empty() {
            c.insert("outputDefinitions".into(), sort_sections(od));
        }
        self.components.insert(comp, Value::Object(c));
        let (bp, ba) = self.bindings[g].clone();
        let mut inputs = Map::new();
        if !ba.is_empty() {
            inputs.insert("artifacts".into(), Value::Object(ba));
        }
        if !bp.is_empty() {
            inputs.insert("parameters".into(), Value::Object(bp));
        }
        if !inputs.is_empty() {
            t.insert("inputs".into(), sort_sections(inputs));
        }
        if let Some(it) = iter {
            t.insert("parameterIterator".into(), it);
        }
        if let Some(n) = node.for_each.as_ref().and_then(|l| l.parallelism) {
            t.insert("iteratorPolicy".into(), json!({ "parallelismLimit": n }));
        }
        if let Some(c) = cond {
            t.insert("triggerPolicy".into(), json!({ "condition": c }));
        }
        Value::Object(t)
    }

    /// The `tasks` map of a DAG level.
    fn tasks_of(&mut self, level: &[usize]) -> Value {
        let mut tasks = Map::new();
        // Groups first so that their needs are known before their siblings' bindings are final.
        for &i in level {
            let node = self.dag.nodes[i].clone();
            let mut t = if node.is_group() {
                match self.group(i) {
                    Value::Object(m) => m,
                    _ => Map::new(),
                }
            } else {
                if let Some(c) = self.condition(i)
                    && let Some(Value::Object(t)) = self.tasks[i].as_mut()
                {
                    t.insert("triggerPolicy".into(), json!({ "condition": c }));
                }
                match self.tasks[i].clone() {
                    Some(Value::Object(m)) => m,
                    _ => Map::new(),
                }
            };
            let mut deps: Vec<String> = node
                .deps
                .iter()
                .map(|&d| self.dag.nodes[d].name.clone())
                .collect();
            deps.sort();
            deps.dedup();
            if !deps.is_empty() {
                t.insert("dependentTasks".into(), json!(deps));
            }
            t.insert("taskInfo".into(), json!({ "name": node.name }));
            if node.exit_task {
                t.insert(
                    "triggerPolicy".into(),
                    json!({ "strategy": "ALL_UPSTREAM_TASKS_COMPLETED" }),
                );
            }
            tasks.insert(node.name.clone(), Value::Object(sorted(t)));
        }
        Value::Object(sorted(tasks))
    }
}

/// kfp container resources of a step (`cpu`, `memory`, `cpu_limit`, `memory_limit`, `gpu`).
fn resources(v: &Value) -> Option<Value> {
    let mut r = Map::new();
    let s = |k: &str| v.get(k).map(crate::lower::num_string);
    if let Some(c) = s("cpu") {
        r.insert("resourceCpuRequest".into(), json!(c));
    }
    if let Some(c) = s("cpu_limit") {
        r.insert("resourceCpuLimit".into(), json!(c));
    }
    if let Some(m) = s("memory") {
        r.insert("resourceMemoryRequest".into(), json!(m));
    }
    if let Some(m) = s("memory_limit") {
        r.insert("resourceMemoryLimit".into(), json!(m));
    }
    if let Some(g) = v.get("gpu").and_then(Value::as_i64).filter(|g| *g > 0) {
        let ty = v
            .get("gpu_resource")
            .and_then(Value::as_str)
            .unwrap_or("nvidia.com/gpu");
        r.insert(
            "accelerator".into(),
            json!({ "resourceCount": g.to_string(), "resourceType": ty }),
        );
    }
    (!r.is_empty()).then(|| Value::Object(sorted(r)))
}

/// The PipelineSpec IR of a checked pipeline.
pub(crate) fn pipeline_spec(p: &Pipeline) -> Result<Value, Vec<LowerError>> {
    debug_assert_eq!(p.engine, Engine::Kfp);
    let n = p.dag.nodes.len();
    let mut k = Kfp {
        p,
        dag: &p.dag,
        needs: vec![Map::new(); n],
        bindings: vec![(Map::new(), Map::new()); n],
        surfaced: vec![(Map::new(), Map::new(), Map::new(), Map::new()); n],
        tasks: vec![None; n],
        components: Map::new(),
        executors: Map::new(),
        errs: Vec::new(),
    };
    for i in 0..n {
        if !p.dag.nodes[i].is_group() {
            k.leaf(i);
        }
    }
    // Process groups bottom-up so that nested needs propagate before the parents are written:
    // a first pass collects every need, a second writes the components with the final maps.
    let top = p.dag.top.clone();
    let _ = k.tasks_of(&top);
    let mut k2 = Kfp {
        p,
        dag: &p.dag,
        needs: k.needs.clone(),
        bindings: k.bindings.clone(),
        surfaced: k.surfaced.clone(),
        tasks: k.tasks.clone(),
        components: Map::new(),
        executors: k.executors.clone(),
        errs: Vec::new(),
    };
    for i in 0..n {
        if !p.dag.nodes[i].is_group() {
            k2.leaf(i);
        }
    }
    let root_tasks = k2.tasks_of(&top);
    if !k.errs.is_empty() {
        return Err(k.errs);
    }
    let mut root_dag = Map::new();
    let mut root_out_defs = Map::new();
    let mut outs_a = Map::new();
    let mut outs_p = Map::new();
    for o in &p.outputs {
        let Some(r) = &o.from else { continue };
        if let Some(c) = k2.chan_of(r, 0) {
            let (b, art) = k2.bind(None, &c);
            let list = matches!(&c, Chan::Out { prod, .. } if p.dag.enclosing_loop(*prod).is_some());
            if art {
                let (key, task) = (
                    b["taskOutputArtifact"]["outputArtifactKey"].clone(),
                    b["taskOutputArtifact"]["producerTask"].clone(),
                );
                outs_a.insert(
                    o.name.clone(),
                    json!({ "artifactSelectors": [ { "outputArtifactKey": key, "producerSubtask": task } ] }),
                );
                put(&mut root_out_defs, "artifacts", &o.name, definition(o.ty, list));
            } else {
                let (key, task) = (
                    b["taskOutputParameter"]["outputParameterKey"].clone(),
                    b["taskOutputParameter"]["producerTask"].clone(),
                );
                outs_p.insert(
                    o.name.clone(),
                    json!({ "valueFromParameter": { "outputParameterKey": key, "producerSubtask": task } }),
                );
                put(&mut root_out_defs, "parameters", &o.name, definition(o.ty, list));
            }
        }
    }
    // Surfacing for root outputs may have added group outputs: rewrite those components.
    let root_tasks = if p.outputs.is_empty() {
        root_tasks
    } else {
        k2.tasks_of(&top)
    };
    let mut ro = Map::new();
    if !outs_a.is_empty() {
        ro.insert("artifacts".into(), Value::Object(outs_a));
    }
    if !outs_p.is_empty() {
        ro.insert("parameters".into(), Value::Object(outs_p));
    }
    if !ro.is_empty() {
        root_dag.insert("outputs".into(), sort_sections(ro));
    }
    root_dag.insert("tasks".into(), root_tasks);
    let mut root = Map::new();
    root.insert("dag".into(), Value::Object(root_dag));
    let mut params = Map::new();
    for prm in &p.params {
        let mut d = Map::new();
        if let Some(dv) = &prm.default {
            d.insert("defaultValue".into(), dv.clone());
            d.insert("isOptional".into(), json!(true));
        }
        if let Some(desc) = &prm.description {
            d.insert("description".into(), json!(desc));
        }
        d.insert("parameterType".into(), json!(param_type(prm.ty)));
        params.insert(prm.name.clone(), Value::Object(sorted(d)));
    }
    if !params.is_empty() {
        root.insert(
            "inputDefinitions".into(),
            json!({ "parameters": Value::Object(sorted(params)) }),
        );
    }
    if !root_out_defs.is_empty() {
        root.insert("outputDefinitions".into(), sort_sections(root_out_defs));
    }
    let mut info = Map::new();
    let kfp = p.raw.get("kfp");
    let opt = |k: &str| kfp.and_then(|o| o.get(k)).filter(|v| !v.is_null());
    if let Some(d) = opt("info_description").or_else(|| p.raw.get("description")) {
        info.insert("description".into(), d.clone());
    }
    if let Some(d) = p.raw.get("display_name") {
        info.insert("displayName".into(), d.clone());
    }
    info.insert(
        "name".into(),
        opt("info_name").cloned().unwrap_or_else(|| json!(p.name)),
    );
    let mut spec = Map::new();
    spec.insert("components".into(), Value::Object(sorted(k2.components)));
    spec.insert(
        "deploymentSpec".into(),
        json!({ "executors": Value::Object(sorted(k2.executors)) }),
    );
    spec.insert("pipelineInfo".into(), Value::Object(info));
    spec.insert("root".into(), Value::Object(root));
    spec.insert("schemaVersion".into(), json!("2.1.0"));
    spec.insert(
        "sdkVersion".into(),
        json!(concat!("kiln-", env!("CARGO_PKG_VERSION"))),
    );
    Ok(Value::Object(spec))
}

/// The Pipeline, PipelineVersion (and ScheduledWorkflow) objects.
/// The kfp-kubernetes platform config of the leaf steps (`platformSpec`), as kfp's
/// `kubernetes.add_toleration` and `add_node_selector` write it: per executor, the tolerations
/// of the tainted node pool its GPUs land on and its `node_selector` (its own, else its
/// template's). `None` when no step needs one.
fn platform_spec(p: &Pipeline, tolerations: &super::Tolerations) -> Option<Value> {
    let mut executors = Map::new();
    for node in &p.dag.nodes {
        let Some(step) = &node.step else { continue };
        let template = match &step.run {
            Run::Template(t) => p.template(t).map(|t| &t.step),
            _ => None,
        };
        let mut config = Map::new();
        let tol = tolerations
            .get(&step.ptr)
            .or_else(|| template.and_then(|t| tolerations.get(&t.ptr)));
        if let Some(tol) = tol {
            config.insert("tolerations".into(), json!(tol));
        }
        let selector = [Some(step), template]
            .into_iter()
            .flatten()
            .filter_map(|s| s.raw.get("node_selector").and_then(Value::as_object))
            .find(|m| !m.is_empty());
        if let Some(labels) = selector {
            config.insert("nodeSelector".into(), json!({ "labels": labels }));
        }
        if !config.is_empty() {
            executors.insert(format!("exec-{}", step.name), Value::Object(config));
        }
    }
    (!executors.is_empty()).then(|| {
        json!({ "platforms": { "kubernetes": { "deploymentSpec": { "executors": Value::Object(sorted(executors)) } } } })
    })
}

pub(crate) fn lower(
    p: &Pipeline,
    namespace: Option<&str>,
    tolerations: &super::Tolerations,
) -> Result<Vec<Value>, Vec<LowerError>> {
    let spec = pipeline_spec(p)?;
    let meta = |name: &str| {
        let mut m = Map::new();
        m.insert("name".into(), json!(name));
        if let Some(ns) = namespace {
            m.insert("namespace".into(), json!(ns));
        }
        for f in ["labels", "annotations"] {
            if let Some(x) = p.raw.get(f).and_then(Value::as_object).filter(|x| !x.is_empty()) {
                m.insert(f.into(), Value::Object(x.clone()));
            }
        }
        m
    };
    let mut pspec = Map::new();
    if let Some(d) = p.raw.get("description") {
        pspec.insert("description".into(), d.clone());
    }
    if let Some(d) = p.raw.get("display_name") {
        pspec.insert("displayName".into(), d.clone());
    }
    let mut out = Vec::new();
    let mut pipe = Map::new();
    pipe.insert("apiVersion".into(), json!("pipelines.kubeflow.org/v2beta1"));
    pipe.insert("kind".into(), json!("Pipeline"));
    pipe.insert("metadata".into(), Value::Object(meta(&p.name)));
    if !pspec.is_empty() {
        pipe.insert("spec".into(), Value::Object(pspec.clone()));
    }
    out.push(Value::Object(pipe));
    let mut vspec = Map::new();
    vspec.insert("pipelineName".into(), json!(p.name));
    vspec.extend(pspec);
    vspec.insert("pipelineSpec".into(), spec.clone());
    if let Some(platform) = platform_spec(p, tolerations) {
        vspec.insert("platformSpec".into(), platform);
    }
    let mut ver = Map::new();
    ver.insert("apiVersion".into(), json!("pipelines.kubeflow.org/v2beta1"));
    ver.insert("kind".into(), json!("PipelineVersion"));
    ver.insert("metadata".into(), Value::Object(meta(&p.name)));
    ver.insert("spec".into(), Value::Object(vspec));
    let version = p
        .raw
        .get("kfp")
        .and_then(|k| k.get("version"))
        .and_then(Value::as_str);
    let ver = match version {
        Some(v) => {
            let mut ver = ver;
            if let Some(m) = ver.get_mut("metadata").and_then(Value::as_object_mut) {
                m.insert("name".into(), json!(format!("{}-{v}", p.name)));
            }
            Value::Object(ver)
        }
        None => crate::lower::name_run(&p.name, Value::Object(ver)),
    };
    let version_name = ver["metadata"]["name"].clone();
    out.push(ver);
    if let Some(cron) = p.raw.get("schedule").and_then(Value::as_str) {
        let mut swf = Map::new();
        swf.insert("apiVersion".into(), json!("kubeflow.org/v1beta1"));
        swf.insert("kind".into(), json!("ScheduledWorkflow"));
        swf.insert("metadata".into(), Value::Object(meta(&p.name)));
        swf.insert(
            "spec".into(),
            json!({
                "enabled": true,
                "maxConcurrency": 1,
                "pipelineName": p.name,
                "pipelineVersionName": version_name,
                // kfp's cron has a leading seconds field.
                "trigger": { "cronSchedule": { "cron": format!("0 {cron}") } },
                "workflow": { "spec": spec },
            }),
        );
        // The upstream CRD has no status subresource and lists `status` as required, so the
        // API server rejects a ScheduledWorkflow without one; the controller fills it in.
        swf.insert("status".into(), json!({}));
        out.push(Value::Object(swf));
    }
    Ok(out)
}
