//! The typed view of an evaluated `pipeline.Pipeline` value, shared by both targets.
//!
//! [`Pipeline::parse`] reads the JSON form of the value, builds the step tree (groups are a flat
//! map with `group = "parent"` links, because kiln types cannot be recursive), resolves every
//! reference (`from` strings and `$(...)` placeholders), derives the dependencies between
//! siblings, and runs the pipeline checks: unknown references with did-you-mean (K0413),
//! artifact and parameter type mismatches (K0411), dependency cycles (K0412), malformed steps
//! (K0414) and constants that do not fit their type (K0415).
//!
//! # References
//! Evaluated kiln values carry no provenance (`steps.prep.outputs.data` would evaluate to a copy
//! of the output's declaration), so a runtime reference is written by name and resolved here:
//! `from = "steps.prep.outputs.data"` binds an input, and `$(...)` placeholders inside strings
//! (args, command, scripts, input values, manifests) are translated per target:
//! `$(params.lr)`, `$(steps.prep.outputs.data)`, `$(inputs.message)`, `$(inputs.data.path)`,
//! `$(outputs.model.path)`, `$(item)`, `$(item.key)`. `$(...)` whose content does not start
//! with one of these roots (`$(date)`) is left alone. Step, group and template names may be
//! written with `_` or `-`; output names use `-` (`flip_coin` -> `flip-coin`), as kfp does.

use serde_json::{Map, Value};

use super::codes;
use crate::lower::{LowerError, ptr};

/// The two lowering targets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Engine {
    Kfp,
    Argo,
}

/// How a DAG scope is rendered on Argo: a `dag` template or sequential `steps` groups.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    Dag,
    Steps,
}

/// Parameter and artifact types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IoType {
    String,
    Int,
    Float,
    Bool,
    List,
    Struct,
    Dataset,
    Model,
    Metrics,
    ClassificationMetrics,
    Html,
    Markdown,
    Artifact,
}

impl IoType {
    pub(crate) fn parse(s: &str) -> Option<IoType> {
        Some(match s {
            "String" => IoType::String,
            "Int" => IoType::Int,
            "Float" => IoType::Float,
            "Bool" => IoType::Bool,
            "List" => IoType::List,
            "Struct" => IoType::Struct,
            "Dataset" => IoType::Dataset,
            "Model" => IoType::Model,
            "Metrics" => IoType::Metrics,
            "ClassificationMetrics" => IoType::ClassificationMetrics,
            "HTML" => IoType::Html,
            "Markdown" => IoType::Markdown,
            "Artifact" => IoType::Artifact,
            _ => return None,
        })
    }

    pub(crate) fn is_artifact(self) -> bool {
        !matches!(
            self,
            IoType::String | IoType::Int | IoType::Float | IoType::Bool | IoType::List | IoType::Struct
        )
    }

    /// The kiln spelling, for messages.
    /// "an Int", "a Dataset", "an HTML": the type's name with its article, for messages.
    pub(crate) fn with_article(self) -> String {
        let name = self.kiln();
        let article = if name.starts_with(['A', 'E', 'I', 'O', 'U', 'H']) {
            "an"
        } else {
            "a"
        };
        format!("{article} {name}")
    }

    pub(crate) fn kiln(self) -> &'static str {
        match self {
            IoType::String => "String",
            IoType::Int => "Int",
            IoType::Float => "Float",
            IoType::Bool => "Bool",
            IoType::List => "List",
            IoType::Struct => "Struct",
            IoType::Dataset => "Dataset",
            IoType::Model => "Model",
            IoType::Metrics => "Metrics",
            IoType::ClassificationMetrics => "ClassificationMetrics",
            IoType::Html => "HTML",
            IoType::Markdown => "Markdown",
            IoType::Artifact => "Artifact",
        }
    }

    /// Whether a consumer declared `self` accepts a producer of type `given`.
    fn accepts(self, given: IoType) -> bool {
        self == given
            || (self == IoType::Artifact && given.is_artifact())
            || (self == IoType::Float && given == IoType::Int)
    }
}

/// A runtime reference, parsed from a `from` string or a `$(...)` placeholder.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum Ref {
    Param(String),
    Output {
        step: String,
        output: String,
    },
    Item(Option<String>),
    /// The step's (or template's) own input; `attr` is `path` or `uri`.
    Input {
        name: String,
        attr: Option<String>,
    },
    /// The step's own output.
    Own {
        name: String,
        attr: Option<String>,
    },
    /// A global of the run (`workflow.name`, `workflow.status`): see [`GLOBALS`].
    Global(String),
}

/// A global of the run a step may read as `workflow.NAME` (in a `from`, a `when` or a `$(...)`
/// placeholder): the Argo variable it lowers to, the KFP placeholder when KFP has one, and
/// whether Argo sets it only while the exit handler runs.
pub(crate) struct Global {
    pub name: &'static str,
    pub argo: &'static str,
    pub kfp: Option<&'static str>,
    pub exit_only: bool,
}

/// The run globals kiln knows, as `workflow.NAME` (Argo's names; KFP's SDK placeholders where
/// KFP has the same value).
pub(crate) const GLOBALS: &[Global] = &[
    Global {
        name: "name",
        argo: "workflow.name",
        kfp: Some("{{$.pipeline_job_name}}"),
        exit_only: false,
    },
    Global {
        name: "namespace",
        argo: "workflow.namespace",
        kfp: None,
        exit_only: false,
    },
    Global {
        name: "uid",
        argo: "workflow.uid",
        kfp: Some("{{$.pipeline_job_uuid}}"),
        exit_only: false,
    },
    Global {
        name: "creation_timestamp",
        argo: "workflow.creationTimestamp",
        kfp: Some("{{$.pipeline_job_create_time_utc}}"),
        exit_only: false,
    },
    Global {
        name: "duration",
        argo: "workflow.duration",
        kfp: None,
        exit_only: false,
    },
    Global {
        name: "status",
        argo: "workflow.status",
        kfp: None,
        exit_only: true,
    },
    Global {
        name: "failures",
        argo: "workflow.failures",
        kfp: None,
        exit_only: true,
    },
];

/// The global `workflow.NAME`, when kiln knows it.
pub(crate) fn global(name: &str) -> Option<&'static Global> {
    GLOBALS.iter().find(|g| g.name == name)
}

/// The roots a reference or a `$(...)` placeholder may start with.
pub(crate) const REFERENCE_ROOTS: &[&str] = &["params", "steps", "item", "inputs", "outputs", "workflow"];

/// Parses `params.x`, `steps.s.outputs.o`, `item`, `item.k`, `inputs.x[.path]`, `outputs.x[.path]`,
/// `workflow.g`.
pub(crate) fn parse_ref(s: &str) -> Option<Ref> {
    let parts: Vec<&str> = s.trim().split('.').collect();
    let ok = |p: &str| {
        !p.is_empty()
            && p.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    };
    if !parts.iter().all(|p| ok(p)) {
        return None;
    }
    match parts.as_slice() {
        ["params", p] => Some(Ref::Param((*p).into())),
        ["steps", st, "outputs", o] => Some(Ref::Output {
            step: norm(st),
            output: (*o).into(),
        }),
        ["item"] => Some(Ref::Item(None)),
        ["item", k] => Some(Ref::Item(Some((*k).into()))),
        ["workflow", g] => Some(Ref::Global((*g).into())),
        ["inputs", n] => Some(Ref::Input {
            name: (*n).into(),
            attr: None,
        }),
        ["inputs", n, a] => Some(Ref::Input {
            name: (*n).into(),
            attr: Some((*a).into()),
        }),
        ["outputs", n] => Some(Ref::Own {
            name: (*n).into(),
            attr: None,
        }),
        ["outputs", n, a] => Some(Ref::Own {
            name: (*n).into(),
            attr: Some((*a).into()),
        }),
        _ => None,
    }
}

/// A piece of a string with placeholders.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Seg {
    Lit(String),
    Ref(Ref),
}

/// Splits a string at its `$(...)` placeholders. Unknown `$(...)` stays literal text.
pub(crate) fn segments(s: &str) -> Vec<Seg> {
    let mut out = Vec::new();
    let mut lit = String::new();
    let mut rest = s;
    while let Some(i) = rest.find("$(") {
        let after = &rest[i + 2..];
        match after.find(')') {
            Some(j) if parse_ref(&after[..j]).is_some() => {
                lit.push_str(&rest[..i]);
                if !lit.is_empty() {
                    out.push(Seg::Lit(std::mem::take(&mut lit)));
                }
                out.push(Seg::Ref(parse_ref(&after[..j]).unwrap_or(Ref::Item(None))));
                rest = &after[j + 1..];
            }
            _ => {
                lit.push_str(&rest[..i + 2]);
                rest = after;
            }
        }
    }
    lit.push_str(rest);
    if !lit.is_empty() {
        out.push(Seg::Lit(lit));
    }
    out
}

/// The contents of the `$(...)` of `s` that are not placeholders ([`segments`] keeps them as text)
/// but look like one: a dotted path of names (`$(workflw.name)`), or a name close to a root.
/// Shell command substitution (`$(date)`, `$(nproc --all)`) is not reported.
pub(crate) fn unresolved_placeholders(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = s;
    while let Some(i) = rest.find("$(") {
        rest = &rest[i + 2..];
        let Some(j) = rest.find(')') else { break };
        let text = rest[..j].trim();
        let names: Vec<&str> = text.split('.').collect();
        let is_name = |n: &str| {
            !n.is_empty()
                && n.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        };
        let looks_like = names.iter().all(|n| is_name(n))
            && (names.len() > 1 || did_you_mean(names[0], REFERENCE_ROOTS.iter().copied()).is_some());
        if parse_ref(text).is_none() && looks_like {
            out.push(text.to_string());
        }
        rest = &rest[j..];
    }
    out
}

/// K0413 for `$(text)`, which [`unresolved_placeholders`] found: an error when it starts with (or
/// close to) a reference root, else a warning that it is passed through as text.
fn unresolved_placeholder(text: &str, pointer: &str) -> LowerError {
    let root = text.split('.').next().unwrap_or(text);
    let roots = "`params.`, `steps.STEP.outputs.`, `inputs.`, `outputs.`, `item` and `workflow.`";
    if REFERENCE_ROOTS.contains(&root) {
        return LowerError::new(
            codes::UNKNOWN_PIPELINE_REFERENCE,
            pointer,
            format!("`$({text})` is not a pipeline placeholder"),
        )
        .with_help(format!(
            "placeholders are {roots} followed by a name, such as `$(steps.prep.outputs.data)`"
        ));
    }
    match did_you_mean(root, REFERENCE_ROOTS.iter().copied()) {
        Some(best) => LowerError::new(
            codes::UNKNOWN_PIPELINE_REFERENCE,
            pointer,
            format!("`$({text})` is not a pipeline placeholder"),
        )
        .with_help(format!("did you mean `{best}`? Placeholders start with {roots}.")),
        None => LowerError::new(
            codes::UNKNOWN_PIPELINE_REFERENCE,
            pointer,
            format!("`$({text})` is not a pipeline placeholder; it is passed through as text"),
        )
        .with_help(format!(
            "placeholders start with {roots}; if this is the shell's command substitution, it runs only when a shell runs the string"
        ))
        .warning(),
    }
}

/// The fields of a step that describe its own container (see `Reader::step`).
const CONTAINER_FIELDS: &[&str] = &[
    "command",
    "args",
    "script",
    "env",
    "working_dir",
    "cpu",
    "memory",
    "cpu_limit",
    "memory_limit",
    "gpu",
    "node_selector",
    "timeout",
    "retries",
];

/// Whether a field was written (defaults of maps and lists are empty).
fn is_written(v: &Value) -> bool {
    match v {
        Value::Object(m) => !m.is_empty(),
        Value::Array(l) => !l.is_empty(),
        Value::Null => false,
        _ => true,
    }
}

/// Step, group and template names in output: `_` becomes `-`.
pub(crate) fn norm(s: &str) -> String {
    s.replace('_', "-")
}

/// A pipeline parameter.
#[derive(Debug, Clone)]
pub(crate) struct Param {
    pub name: String,
    pub ty: IoType,
    /// The default, already converted to the parameter's JSON type.
    pub default: Option<Value>,
    pub description: Option<String>,
}

/// A declared input of a step or template, with its binding when it has one.
#[derive(Debug, Clone)]
pub(crate) struct Input {
    pub name: String,
    pub ptr: String,
    /// The declared type (`None`: taken from the template, the producer, or String).
    pub declared: Option<IoType>,
    /// The effective type after resolution.
    pub ty: IoType,
    pub value: Option<String>,
    pub from: Option<Ref>,
    pub list: bool,
    pub optional: bool,
    pub path: Option<String>,
    pub description: Option<String>,
}

/// A declared output.
#[derive(Debug, Clone)]
pub(crate) struct Output {
    pub name: String,
    pub ty: IoType,
    pub raw: Value,
}

impl Output {
    /// An Argo implicit `result` (stdout) rather than a declared output.
    pub(crate) fn stdout(&self) -> bool {
        self.raw.get("stdout").and_then(Value::as_bool).unwrap_or(false)
    }
}

/// A `when` condition: `<ref> <op> <value>`.
#[derive(Debug, Clone)]
pub(crate) struct Cond {
    pub left: Ref,
    pub op: String,
    pub right: String,
    pub ptr: String,
}

/// A parallel-for loop.
#[derive(Debug, Clone)]
pub(crate) struct Loop {
    pub items: Option<Vec<Value>>,
    pub from: Option<Ref>,
    pub item_type: Option<IoType>,
    pub parallelism: Option<i64>,
    pub ptr: String,
}

/// What a leaf step runs.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Run {
    Container,
    Script,
    Resource,
    Template(String),
    TemplateRef,
}

/// A leaf step (or a reusable template: the same record without bindings).
#[derive(Debug, Clone)]
pub(crate) struct Step {
    pub name: String,
    pub ptr: String,
    pub run: Run,
    pub raw: Value,
    pub inputs: Vec<Input>,
    pub outputs: Vec<Output>,
    pub cache: bool,
}

/// A node of a DAG scope: a leaf step or a group (sub-DAG with a condition, a loop, or both).
#[derive(Debug, Clone)]
pub(crate) struct Node {
    pub name: String,
    pub ptr: String,
    pub step: Option<Step>,
    pub when: Option<Cond>,
    pub for_each: Option<Loop>,
    /// Index of the parent group; `None` at the scope's top level.
    pub parent: Option<usize>,
    pub children: Vec<usize>,
    /// Explicit `after`, as written (resolved into `deps`).
    pub after: Vec<(String, String)>,
    /// Siblings this node depends on (indices), in declaration order.
    pub deps: Vec<usize>,
    /// KFP: this step is the exit task (runs after the exit-handler group, whatever happened).
    pub exit_task: bool,
}

impl Node {
    /// A top-level node that runs `step`, with no condition, loop or dependency yet.
    pub(crate) fn of_step(step: &Step) -> Node {
        Node {
            name: step.name.clone(),
            ptr: step.ptr.clone(),
            step: Some(step.clone()),
            when: None,
            for_each: None,
            parent: None,
            children: Vec::new(),
            after: Vec::new(),
            deps: Vec::new(),
            exit_task: false,
        }
    }

    pub(crate) fn is_group(&self) -> bool {
        self.step.is_none()
    }
}

/// One DAG scope: the pipeline's steps, or a template's own steps.
#[derive(Debug, Clone, Default)]
pub(crate) struct Dag {
    pub nodes: Vec<Node>,
    /// Top-level nodes in declaration order.
    pub top: Vec<usize>,
    pub mode: Option<Mode>,
}

impl Dag {
    pub(crate) fn find(&self, name: &str) -> Option<usize> {
        self.nodes.iter().position(|n| n.name == name)
    }

    /// The chain of ancestors from the top level down to `i` (inclusive).
    pub(crate) fn path(&self, i: usize) -> Vec<usize> {
        let mut p = vec![i];
        let mut cur = i;
        while let Some(par) = self.nodes[cur].parent {
            p.push(par);
            cur = par;
        }
        p.reverse();
        p
    }

    /// The loop group of `i` or of its nearest ancestor that loops (the item's source).
    pub(crate) fn enclosing_loop(&self, i: usize) -> Option<usize> {
        self.path(i)
            .into_iter()
            .rev()
            .find(|&n| self.nodes[n].for_each.is_some())
    }

    pub(crate) fn siblings(&self, parent: Option<usize>) -> Vec<usize> {
        match parent {
            None => self.top.clone(),
            Some(p) => self.nodes[p].children.clone(),
        }
    }
}

/// A reusable template (Argo `templates`; on KFP a template is inlined into each task's component).
#[derive(Debug, Clone)]
pub(crate) struct Template {
    pub step: Step,
    pub dag: Option<Dag>,
}

/// The whole pipeline.
#[derive(Debug, Clone)]
pub(crate) struct Pipeline {
    pub name: String,
    pub raw: Value,
    pub engine: Engine,
    pub params: Vec<Param>,
    pub dag: Dag,
    pub templates: Vec<Template>,
    pub on_exit: Option<Step>,
    /// Warnings of the checks (a `$(...)` passed through as text); errors make `parse` fail.
    pub warnings: Vec<LowerError>,
    pub outputs: Vec<Input>,
}

/// Reads values and collects errors.
pub(crate) struct Reader {
    pub errs: Vec<LowerError>,
    /// Whether the references being checked are the exit handler's (`workflow.status` is set).
    pub in_exit: bool,
}

fn str_of<'a>(v: &'a Value, k: &str) -> Option<&'a str> {
    v.get(k).and_then(Value::as_str)
}

fn entries(v: &Value, k: &str) -> Vec<(String, Value)> {
    v.get(k)
        .and_then(Value::as_object)
        .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default()
}

/// The best did-you-mean candidate among `options` (the one rule of all kiln diagnostics).
pub(crate) fn did_you_mean<'a>(name: &str, options: impl IntoIterator<Item = &'a str>) -> Option<String> {
    kiln_lang::diagnostic::did_you_mean(name, options).map(String::from)
}

fn unknown(pointer: &str, what: &str, name: &str, options: &[String]) -> LowerError {
    let e = LowerError::new(
        codes::UNKNOWN_PIPELINE_REFERENCE,
        pointer,
        format!("unknown {what} `{name}`"),
    );
    match did_you_mean(name, options.iter().map(String::as_str)) {
        Some(s) => e.with_help(format!("did you mean `{s}`?")),
        None if options.is_empty() => e.with_help(format!("there is no {what} to refer to here")),
        None => e.with_help(format!("known: {}", options.join(", "))),
    }
}

/// Converts a textual constant to the JSON type of `ty` (K0415 when it does not parse).
pub(crate) fn constant(ty: IoType, text: &str) -> Option<Value> {
    match ty {
        IoType::Int => text.trim().parse::<i64>().ok().map(Value::from),
        IoType::Float => text.trim().parse::<f64>().ok().map(Value::from),
        IoType::Bool => match text.trim() {
            "true" | "True" => Some(Value::Bool(true)),
            "false" | "False" => Some(Value::Bool(false)),
            _ => None,
        },
        IoType::List => serde_json::from_str::<Value>(text).ok().filter(Value::is_array),
        IoType::Struct => serde_json::from_str::<Value>(text).ok().filter(Value::is_object),
        _ => Some(Value::String(text.into())),
    }
}

impl Reader {
    fn io_type(&mut self, v: &Value, key: &str, pointer: &str) -> Option<IoType> {
        let s = str_of(v, key)?;
        match IoType::parse(s) {
            Some(t) => Some(t),
            None => {
                self.errs.push(LowerError::new(
                    codes::INVALID_PIPELINE_VALUE,
                    ptr(pointer, key),
                    format!("`{s}` is not a pipeline type"),
                ));
                None
            }
        }
    }

    fn reference(&mut self, s: &str, pointer: &str) -> Option<Ref> {
        let r = parse_ref(s);
        if r.is_none() {
            self.errs.push(
                LowerError::new(
                    codes::UNKNOWN_PIPELINE_REFERENCE,
                    pointer,
                    format!("`{s}` is not a pipeline reference"),
                )
                .with_help("write `params.NAME`, `steps.STEP.outputs.NAME` or `inputs.NAME`"),
            );
        }
        r
    }

    fn input(&mut self, name: &str, v: &Value, pointer: &str) -> Input {
        let declared = self.io_type(v, "kind", pointer);
        let item = str_of(v, "item_key").map(|k| Ref::Item(Some(k.into())));
        let item = item.or_else(|| (v.get("item") == Some(&Value::Bool(true))).then_some(Ref::Item(None)));
        let from = str_of(v, "from").and_then(|s| self.reference(s, &ptr(pointer, "from")));
        if from.is_some() && item.is_some() {
            self.errs.push(
                LowerError::new(
                    codes::INVALID_STEP,
                    pointer,
                    "an input takes `from` or `item`, not both",
                )
                .with_help("keep the one that says where the value comes from"),
            );
        }
        let from = from.or(item);
        Input {
            name: name.into(),
            ptr: pointer.into(),
            declared,
            ty: declared.unwrap_or(IoType::String),
            value: str_of(v, "value").map(String::from),
            from,
            list: v.get("list").and_then(Value::as_bool).unwrap_or(false),
            optional: v.get("optional").and_then(Value::as_bool).unwrap_or(false),
            path: str_of(v, "path").map(String::from),
            description: str_of(v, "description").map(String::from),
        }
    }

    fn cond(&mut self, v: &Value, pointer: &str) -> Option<Cond> {
        let left = self.reference(str_of(v, "ref").unwrap_or(""), &ptr(pointer, "ref"))?;
        let right = match v.get("value") {
            Some(Value::String(s)) => s.clone(),
            Some(other) => other.to_string(),
            None => String::new(),
        };
        Some(Cond {
            left,
            op: str_of(v, "op").unwrap_or("==").into(),
            right,
            ptr: pointer.into(),
        })
    }

    fn for_each(&mut self, v: &Value, pointer: &str) -> Loop {
        let items = ["items", "numbers", "records"]
            .iter()
            .find_map(|k| v.get(*k).and_then(Value::as_array).cloned());
        let from = str_of(v, "from").and_then(|s| self.reference(s, &ptr(pointer, "from")));
        let given = ["items", "numbers", "records", "from"]
            .iter()
            .filter(|k| v.get(**k).is_some())
            .count();
        if given != 1 || items.is_none() == from.is_none() {
            self.errs.push(
                LowerError::new(
                    codes::INVALID_STEP,
                    pointer,
                    "a loop needs exactly one of `items`, `numbers`, `records` or `from`",
                )
                .with_help("for example `for_each = { items = [\"a\", \"b\"] }`"),
            );
        }
        Loop {
            items,
            from,
            item_type: self.io_type(v, "item_type", pointer),
            parallelism: v.get("parallelism").and_then(Value::as_i64),
            ptr: pointer.into(),
        }
    }

    /// A leaf step or a template.
    pub(crate) fn step(&mut self, key: &str, v: &Value, pointer: &str, is_template: bool) -> Step {
        let name = norm(key);
        let mut kinds = Vec::new();
        for (field, run) in [
            ("image", Run::Container),
            ("resource", Run::Resource),
            ("template", Run::Template(String::new())),
            ("template_ref", Run::TemplateRef),
        ] {
            if v.get(field).is_some() {
                kinds.push((field, run));
            }
        }
        // A script needs an image too: `image` + `script` is a script step.
        if v.get("script").is_some() {
            if let Some(k) = kinds.iter_mut().find(|k| k.0 == "image") {
                k.1 = Run::Script;
            } else {
                kinds.push(("script", Run::Script));
            }
        }
        let has_steps = is_template
            && v.get("steps")
                .and_then(Value::as_object)
                .is_some_and(|m| !m.is_empty());
        let run = match kinds.as_slice() {
            [(_, Run::Template(_))] => Run::Template(name_of(str_of(v, "template").unwrap_or(""))),
            [(_, r)] => r.clone(),
            [] if has_steps => Run::Container,
            [] => {
                self.errs.push(
                    LowerError::new(codes::INVALID_STEP, pointer, format!("step `{name}` runs nothing"))
                        .with_help("give it an `image` (with `command`/`args` or `script`), a `resource`, a `template` or a `template_ref`"),
                );
                Run::Container
            }
            many => {
                let names: Vec<&str> = many.iter().map(|k| k.0).collect();
                self.errs.push(
                    LowerError::new(
                        codes::INVALID_STEP,
                        pointer,
                        format!(
                            "step `{name}` sets {}; a step runs exactly one thing",
                            names.join(" and ")
                        ),
                    )
                    .with_help("keep one of them"),
                );
                many[0].1.clone()
            }
        };
        // A template of another WorkflowTemplate brings its own container: fields of one here
        // would be dropped.
        if run == Run::TemplateRef {
            for field in CONTAINER_FIELDS {
                if v.get(*field).is_some_and(is_written) {
                    self.errs.push(
                        LowerError::new(
                            codes::INVALID_STEP,
                            ptr(pointer, field),
                            format!(
                                "step `{name}` calls a template of another WorkflowTemplate (`template_ref`), which brings its own container: `{field}` would be ignored"
                            ),
                        )
                        .with_help("set it on the referenced template, or run the container in this pipeline"),
                    );
                }
            }
        }
        if run == Run::Script && v.get("image").is_none() {
            self.errs.push(LowerError::new(
                codes::INVALID_STEP,
                ptr(pointer, "script"),
                format!("script step `{name}` needs an `image` to run the script in"),
            ));
        }
        let inputs = entries(v, "inputs")
            .iter()
            .map(|(k, iv)| self.input(k, iv, &ptr(&ptr(pointer, "inputs"), k)))
            .collect();
        let outputs = entries(v, "outputs")
            .iter()
            .map(|(k, ov)| {
                let p = ptr(&ptr(pointer, "outputs"), k);
                let ty = self.io_type(ov, "kind", &p).unwrap_or(IoType::String);
                // A fixed S3 key is where an artifact is saved; a parameter is passed by value.
                if ov.get("s3").is_some() && !ty.is_artifact() {
                    self.errs.push(
                        LowerError::new(
                            codes::INVALID_STEP,
                            ptr(&p, "s3"),
                            format!("output `{k}` is a parameter, and only artifacts are saved to S3"),
                        )
                        .with_help("declare it as an artifact (`kind = \"Artifact\"`, or Dataset, Model, ...), or drop `s3`"),
                    );
                }
                Output {
                    name: k.clone(),
                    ty,
                    raw: ov.clone(),
                }
            })
            .collect();
        Step {
            name,
            ptr: pointer.into(),
            run,
            raw: v.clone(),
            inputs,
            outputs,
            cache: v.get("cache").and_then(Value::as_bool).unwrap_or(true),
        }
    }

    /// Builds a DAG scope from `steps` and `groups` maps.
    fn dag(&mut self, owner: &Value, pointer: &str, engine: Engine) -> Dag {
        let mut dag = Dag {
            mode: match str_of(owner, "mode") {
                Some("steps") => Some(Mode::Steps),
                Some(_) => Some(Mode::Dag),
                None => None,
            },
            ..Dag::default()
        };
        let mut parents: Vec<Option<(String, String)>> = Vec::new();
        let gptr = ptr(pointer, "groups");
        for (k, gv) in entries(owner, "groups") {
            let p = ptr(&gptr, &k);
            let when = gv.get("when").and_then(|c| self.cond(c, &ptr(&p, "when")));
            let for_each = gv.get("for_each").map(|l| self.for_each(l, &ptr(&p, "for_each")));
            dag.nodes.push(Node {
                name: norm(&k),
                ptr: p.clone(),
                step: None,
                when,
                for_each,
                parent: None,
                children: Vec::new(),
                after: after_of(&gv, &p),
                deps: Vec::new(),
                exit_task: false,
            });
            parents.push(str_of(&gv, "group").map(|g| (name_of(g), ptr(&p, "group"))));
        }
        let sptr = ptr(pointer, "steps");
        let mut step_nodes = Vec::new();
        for (k, sv) in entries(owner, "steps") {
            let p = ptr(&sptr, &k);
            let step = self.step(&k, &sv, &p, false);
            let when = sv.get("when").and_then(|c| self.cond(c, &ptr(&p, "when")));
            let for_each = sv.get("for_each").map(|l| self.for_each(l, &ptr(&p, "for_each")));
            step_nodes.push(dag.nodes.len());
            dag.nodes.push(Node {
                name: step.name.clone(),
                ptr: p.clone(),
                step: Some(step),
                when,
                for_each,
                parent: None,
                children: Vec::new(),
                after: after_of(&sv, &p),
                deps: Vec::new(),
                exit_task: false,
            });
            parents.push(str_of(&sv, "group").map(|g| (name_of(g), ptr(&p, "group"))));
        }
        // Names must be unique after `_` -> `-`.
        for i in 0..dag.nodes.len() {
            if let Some(j) = (0..i).find(|&j| dag.nodes[j].name == dag.nodes[i].name) {
                self.errs.push(
                    LowerError::new(
                        codes::INVALID_STEP,
                        dag.nodes[i].ptr.clone(),
                        format!(
                            "`{}` is used twice (step and group names are spelled with `-` in the output)",
                            dag.nodes[i].name
                        ),
                    )
                    .with_help(format!(
                        "rename one of them; the other is at {}",
                        dag.nodes[j].ptr
                    )),
                );
            }
        }
        let group_names: Vec<String> = dag
            .nodes
            .iter()
            .filter(|n| n.is_group())
            .map(|n| n.name.clone())
            .collect();
        for (i, par) in parents.iter().enumerate() {
            if let Some((g, p)) = par {
                match dag.nodes.iter().position(|n| n.is_group() && &n.name == g) {
                    Some(gi) if gi != i => dag.nodes[i].parent = Some(gi),
                    Some(_) => self.errs.push(LowerError::new(
                        codes::PIPELINE_CYCLE,
                        p.clone(),
                        format!("group `{g}` is inside itself"),
                    )),
                    None => self.errs.push(unknown(p, "group", g, &group_names)),
                }
            }
        }
        // Group nesting must be a tree.
        for i in 0..dag.nodes.len() {
            let mut seen = vec![i];
            let mut cur = i;
            while let Some(p) = dag.nodes[cur].parent {
                if seen.contains(&p) {
                    let names: Vec<&str> = seen.iter().map(|&n| dag.nodes[n].name.as_str()).collect();
                    self.errs.push(LowerError::new(
                        codes::PIPELINE_CYCLE,
                        dag.nodes[i].ptr.clone(),
                        format!(
                            "groups are nested in a cycle: {} -> {}",
                            names.join(" -> "),
                            dag.nodes[p].name
                        ),
                    ));
                    dag.nodes[i].parent = None;
                    break;
                }
                seen.push(p);
                cur = p;
            }
        }
        // KFP runs loops as groups: a loop on a leaf step gets its own group.
        if engine == Engine::Kfp {
            for si in step_nodes {
                if let Some(l) = dag.nodes[si].for_each.take() {
                    let g = dag.nodes.len();
                    let name = format!("for-loop-{}", dag.nodes[si].name);
                    let parent = dag.nodes[si].parent;
                    let after = std::mem::take(&mut dag.nodes[si].after);
                    dag.nodes.push(Node {
                        name,
                        ptr: dag.nodes[si].ptr.clone(),
                        step: None,
                        when: None,
                        for_each: Some(l),
                        parent,
                        children: Vec::new(),
                        after,
                        deps: Vec::new(),
                        exit_task: false,
                    });
                    dag.nodes[si].parent = Some(g);
                }
            }
        }
        for i in 0..dag.nodes.len() {
            match dag.nodes[i].parent {
                Some(p) => dag.nodes[p].children.push(i),
                None => dag.top.push(i),
            }
        }
        // Steps first, then groups, at each level: the order steps were declared in.
        dag
    }
}

/// The step, group or template a typed reference names (`steps.prep`, `groups.loop`,
/// `templates.echo`: the checker verified the path), as written in the output.
fn name_of(reference: &str) -> String {
    let name = ["steps.", "groups.", "templates."]
        .iter()
        .find_map(|p| reference.strip_prefix(p))
        .unwrap_or(reference);
    norm(name)
}

fn after_of(v: &Value, pointer: &str) -> Vec<(String, String)> {
    v.get("after")
        .and_then(Value::as_array)
        .map(|l| {
            l.iter()
                .enumerate()
                .filter_map(|(i, x)| x.as_str().map(|s| (name_of(s), format!("{pointer}/after/{i}"))))
                .collect()
        })
        .unwrap_or_default()
}

impl Pipeline {
    /// Reads and checks a pipeline value. Errors are K041x diagnostics with JSON pointers.
    pub(crate) fn parse(name: &str, v: &Value) -> Result<Pipeline, Vec<LowerError>> {
        let mut r = Reader {
            errs: Vec::new(),
            in_exit: false,
        };
        let engine = match str_of(v, "engine") {
            Some("argo") => Engine::Argo,
            _ => Engine::Kfp,
        };
        let mut params = Vec::new();
        for (k, tagged) in entries(v, "params") {
            // A tagged value: `{"Float": {"default": 0.001}}`; the tag is the parameter's type.
            let (tag, pv) = match tagged.as_object().and_then(|m| m.iter().next()) {
                Some((tag, body)) => (tag.clone(), body.clone()),
                None => ("String".to_string(), tagged.clone()),
            };
            let p = ptr(&ptr("/params", &k), &tag);
            let ty = IoType::parse(&tag).unwrap_or(IoType::String);
            if ty.is_artifact() {
                r.errs.push(LowerError::new(
                    codes::INVALID_PIPELINE_VALUE,
                    ptr(&p, "kind"),
                    format!("pipeline parameter `{k}` cannot be an artifact ({})", ty.kiln()),
                ));
            }
            let default = match pv.get("default") {
                Some(Value::String(s)) => match constant(ty, s) {
                    Some(c) => Some(c),
                    None => {
                        r.errs.push(LowerError::new(
                            codes::INVALID_PIPELINE_VALUE,
                            ptr(&p, "default"),
                            format!("default `{s}` of parameter `{k}` is not {}", ty.with_article()),
                        ));
                        None
                    }
                },
                Some(other) => Some(other.clone()),
                None => None,
            };
            params.push(Param {
                name: k,
                ty,
                default,
                description: str_of(&pv, "description").map(String::from),
            });
        }
        let mut dag = r.dag(v, "", engine);
        let mut templates = Vec::new();
        for (k, tv) in entries(v, "templates") {
            let p = ptr("/templates", &k);
            let step = r.step(&k, &tv, &p, true);
            let has = tv
                .get("steps")
                .and_then(Value::as_object)
                .is_some_and(|m| !m.is_empty());
            let tdag = has.then(|| r.dag(&tv, &p, engine));
            // A template with steps has no container of its own to read outputs from, and kiln
            // has no way to say which of its steps' outputs it would pass on.
            if has && tv.get("outputs").is_some_and(is_written) {
                r.errs.push(
                    LowerError::new(
                        codes::INVALID_STEP,
                        ptr(&p, "outputs"),
                        format!("template `{k}` runs steps, so it has no outputs of its own"),
                    )
                    .with_help("declare the outputs on the steps inside it, and read them there"),
                );
            }
            templates.push(Template { step, dag: tdag });
        }
        let on_exit = v.get("on_exit").map(|e| {
            let key = str_of(e, "name").unwrap_or("exit-handler");
            let exit = r.step(key, e, "/on_exit", false);
            // Nothing runs after the exit handler, so nothing reads its outputs; one that calls a
            // template has that template's outputs anyway.
            if matches!(exit.run, Run::Template(_) | Run::TemplateRef) && e.get("outputs").is_some_and(is_written) {
                r.errs.push(
                    LowerError::new(
                        codes::INVALID_STEP,
                        "/on_exit/outputs",
                        "the exit handler calls a template, whose outputs are its own",
                    )
                    .with_help("declare the outputs on the template, or drop them: nothing runs after the exit handler"),
                );
            }
            exit
        });
        // KFP: the exit handler wraps all top-level steps in a group and runs after it.
        if engine == Engine::Kfp
            && let Some(exit) = &on_exit
        {
            let g = dag.nodes.len();
            let gname = v
                .get("kfp")
                .and_then(|k| str_of(k, "exit_handler"))
                .unwrap_or("exit-handler-1")
                .to_string();
            let top = std::mem::take(&mut dag.top);
            for &t in &top {
                dag.nodes[t].parent = Some(g);
            }
            dag.nodes.push(Node {
                name: gname,
                ptr: "/on_exit".into(),
                step: None,
                when: None,
                for_each: None,
                parent: None,
                children: top,
                after: Vec::new(),
                deps: Vec::new(),
                exit_task: false,
            });
            let e = dag.nodes.len();
            dag.nodes.push(Node {
                deps: vec![g],
                exit_task: true,
                ..Node::of_step(exit)
            });
            dag.top = vec![g, e];
        }
        let outputs = entries(v, "outputs")
            .iter()
            .map(|(k, ov)| r.input(k, ov, &ptr("/outputs", k)))
            .collect();
        let mut p = Pipeline {
            name: name.into(),
            raw: v.clone(),
            engine,
            params,
            dag,
            templates,
            on_exit,
            outputs,
            warnings: Vec::new(),
        };
        p.resolve(&mut r);
        if r.errs.iter().any(LowerError::is_error) {
            return Err(r.errs);
        }
        p.warnings = r.errs;
        Ok(p)
    }

    pub(crate) fn template(&self, name: &str) -> Option<&Template> {
        self.templates.iter().find(|t| t.step.name == name)
    }

    pub(crate) fn param(&self, name: &str) -> Option<&Param> {
        self.params.iter().find(|p| p.name == name)
    }

    /// The output `o` of step `s` in `dag`: its type and whether the step produces it.
    pub(crate) fn output_of(&self, step: &Step, name: &str) -> Option<Output> {
        if let Some(o) = step.outputs.iter().find(|o| o.name == name) {
            return Some(o.clone());
        }
        if let Run::Template(t) = &step.run {
            return self
                .template(t)
                .and_then(|t| t.step.outputs.iter().find(|o| o.name == name).cloned());
        }
        None
    }

    fn output_names(&self, step: &Step) -> Vec<String> {
        let mut v: Vec<String> = step.outputs.iter().map(|o| o.name.clone()).collect();
        if let Run::Template(t) = &step.run
            && let Some(t) = self.template(t)
        {
            v.extend(t.step.outputs.iter().map(|o| o.name.clone()));
        }
        v
    }

    /// The type a reference has when read from node `at` of `dag`.
    pub(crate) fn ref_type(&self, dag: &Dag, at: Option<usize>, r: &Ref) -> Option<(IoType, bool)> {
        match r {
            Ref::Param(p) => self.param(p).map(|p| (p.ty, false)),
            Ref::Output { step, output } => {
                let i = dag.find(step)?;
                let o = self.output_of(dag.nodes[i].step.as_ref()?, output)?;
                // Read from outside a loop that contains the producer: a list (fan-in).
                let lp = dag.enclosing_loop(i);
                let fan_in = match (lp, at) {
                    (Some(l), Some(a)) => !dag.path(a).contains(&l),
                    (Some(_), None) => true,
                    _ => false,
                };
                Some((
                    if fan_in && !o.ty.is_artifact() {
                        IoType::List
                    } else {
                        o.ty
                    },
                    fan_in,
                ))
            }
            Ref::Item(key) => {
                let l = dag.enclosing_loop(at?)?;
                let lp = dag.nodes[l].for_each.as_ref()?;
                if key.is_some() {
                    return Some((IoType::String, false));
                }
                Some((item_type(lp), false))
            }
            Ref::Global(g) => global(g).map(|_| (IoType::String, false)),
            Ref::Input { .. } | Ref::Own { .. } => None,
        }
    }

    /// Resolves references, types inputs, derives dependencies and checks for cycles.
    fn resolve(&mut self, r: &mut Reader) {
        let mut dag = std::mem::take(&mut self.dag);
        self.resolve_dag(&mut dag, None, r);
        self.dag = dag;
        // Template DAGs may call other templates: resolve each with the others in view.
        for ti in 0..self.templates.len() {
            // A template's own inputs are in scope of its steps.
            let own: Vec<Input> = self.templates[ti].step.inputs.clone();
            if let Some(mut d) = self.templates[ti].dag.take() {
                self.resolve_dag(&mut d, Some(&own), r);
                self.templates[ti].dag = Some(d);
            }
        }
        // On KFP the exit handler is a task of the DAG, checked with it.
        if let Some(exit) = self.on_exit.as_ref().filter(|_| self.engine == Engine::Argo) {
            let own_names: Vec<String> = exit.inputs.iter().map(|i| i.name.clone()).collect();
            r.in_exit = true;
            self.check_placeholders(exit, &own_names, None, &Dag::default(), r);
            for inp in &exit.inputs {
                if let Some(rf @ Ref::Global(_)) = &inp.from {
                    self.check_ref(&Dag::default(), None, rf, &ptr(&inp.ptr, "from"), None, r);
                }
            }
            r.in_exit = false;
        }
        let dag = self.dag.clone();
        let mut outs = std::mem::take(&mut self.outputs);
        for o in &mut outs {
            if let Some(rf) = o.from.clone() {
                self.check_ref(&dag, None, &rf, &o.ptr, None, r);
                if let Some((t, _)) = self.ref_type(&dag, None, &rf) {
                    o.ty = o.declared.unwrap_or(t);
                }
            }
        }
        self.outputs = outs;
    }

    fn resolve_dag(&self, dag: &mut Dag, own: Option<&[Input]>, r: &mut Reader) {
        let own_names: Vec<String> = own
            .map(|o| o.iter().map(|i| i.name.clone()).collect())
            .unwrap_or_default();
        let n = dag.nodes.len();
        let mut edges: Vec<(usize, usize)> = Vec::new(); // (consumer, producer) among siblings
        for i in 0..n {
            let node = dag.nodes[i].clone();
            // KFP runs the exit handler as a task of the root DAG.
            r.in_exit = node.exit_task;
            let mut refs: Vec<(Ref, String)> = Vec::new();
            if let Some(c) = &node.when {
                refs.push((c.left.clone(), ptr(&c.ptr, "ref")));
            }
            if let Some(l) = &node.for_each
                && let Some(f) = &l.from
            {
                refs.push((f.clone(), ptr(&l.ptr, "from")));
            }
            // The checker resolved the names of steps and parameters; globals and loop items are
            // the run's, checked here (a condition or loop source has no channel for a global on
            // KFP, so it cannot be carried there).
            for (rf, p) in &refs {
                if matches!(rf, Ref::Global(_) | Ref::Item(_)) {
                    self.check_ref(dag, Some(i), rf, p, None, r);
                }
                if let Ref::Global(g) = rf
                    && self.engine == Engine::Kfp
                    && global(g).is_some_and(|g| g.kfp.is_some())
                {
                    r.errs.push(
                        LowerError::new(
                            codes::UNSUPPORTED_ON_TARGET,
                            p.clone(),
                            format!("a KFP condition or loop cannot read `workflow.{g}`"),
                        )
                        .with_help("use `engine = \"argo\"`, or pass it to a step as an input and test that step's output"),
                    );
                }
            }
            if let Some(step) = &node.step {
                let tmpl = match &step.run {
                    Run::Template(t) => match self.template(t) {
                        Some(t) => Some(t),
                        None => {
                            let names: Vec<String> =
                                self.templates.iter().map(|t| t.step.name.clone()).collect();
                            r.errs
                                .push(unknown(&ptr(&step.ptr, "template"), "template", t, &names));
                            None
                        }
                    },
                    _ => None,
                };
                let mut inputs = step.inputs.clone();
                for inp in &mut inputs {
                    let tdecl = tmpl.and_then(|t| t.step.inputs.iter().find(|ti| ti.name == inp.name));
                    if let Some(t) = tmpl
                        && tdecl.is_none()
                    {
                        let names: Vec<String> = t.step.inputs.iter().map(|x| x.name.clone()).collect();
                        r.errs.push(unknown(
                            &inp.ptr,
                            &format!("input of template `{}`", t.step.name),
                            &inp.name,
                            &names,
                        ));
                    }
                    let expected = inp.declared.or(tdecl.and_then(|d| d.declared));
                    if let Some(rf) = inp.from.clone() {
                        self.check_ref(dag, Some(i), &rf, &ptr(&inp.ptr, "from"), Some(&own_names), r);
                        refs.push((rf.clone(), ptr(&inp.ptr, "from")));
                        let got = match &rf {
                            Ref::Input { name, .. } => own
                                .and_then(|o| o.iter().find(|x| &x.name == name))
                                .map(|x| (x.ty, false)),
                            other => self.ref_type(dag, Some(i), other),
                        };
                        if let Some((gt, fan_in)) = got {
                            if let Some(et) = expected
                                && !et.accepts(gt)
                            {
                                r.errs.push(
                                    LowerError::new(
                                        codes::ARTIFACT_TYPE_MISMATCH,
                                        ptr(&inp.ptr, "from"),
                                        format!(
                                            "input `{}` of step `{}` needs {}, but `{}` is {} {}",
                                            inp.name,
                                            step.name,
                                            et.with_article(),
                                            ref_text(&rf),
                                            gt.with_article(),
                                            if gt.is_artifact() { "artifact" } else { "parameter" }
                                        ),
                                    )
                                    .with_help(format!(
                                        "bind an output of type {}, or change the input's type",
                                        et.kiln()
                                    )),
                                );
                            }
                            if fan_in && gt.is_artifact() && !inp.list {
                                r.errs.push(
                                    LowerError::new(
                                        codes::ARTIFACT_TYPE_MISMATCH,
                                        ptr(&inp.ptr, "from"),
                                        format!("input `{}` of step `{}` reads `{}` from outside its loop, which is a list of {} artifacts", inp.name, step.name, ref_text(&rf), gt.kiln()),
                                    )
                                    .with_help("declare the input with `list = true` to collect every iteration's artifact"),
                                );
                            }
                            inp.ty = expected.unwrap_or(gt);
                        } else {
                            inp.ty = expected.unwrap_or(IoType::String);
                        }
                    } else {
                        inp.ty = expected.unwrap_or(IoType::String);
                        if let Some(val) = &inp.value {
                            if inp.ty.is_artifact() {
                                r.errs.push(LowerError::new(
                                    codes::INVALID_PIPELINE_VALUE,
                                    ptr(&inp.ptr, "value"),
                                    format!(
                                        "artifact input `{}` needs `from`, not a constant value",
                                        inp.name
                                    ),
                                ));
                            } else if segments(val).iter().all(|s| matches!(s, Seg::Lit(_)))
                                && constant(inp.ty, val).is_none()
                            {
                                r.errs.push(LowerError::new(
                                    codes::INVALID_PIPELINE_VALUE,
                                    ptr(&inp.ptr, "value"),
                                    format!(
                                        "`{val}` is not {} (input `{}` of step `{}`)",
                                        inp.ty.with_article(),
                                        inp.name,
                                        step.name
                                    ),
                                ));
                            }
                            for s in segments(val) {
                                if let Seg::Ref(rf) = s {
                                    self.check_ref(
                                        dag,
                                        Some(i),
                                        &rf,
                                        &ptr(&inp.ptr, "value"),
                                        Some(&own_names),
                                        r,
                                    );
                                    refs.push((rf, ptr(&inp.ptr, "value")));
                                }
                            }
                        }
                    }
                }
                if let Some(t) = tmpl {
                    for ti in &t.step.inputs {
                        if !ti.optional && ti.value.is_none() && !inputs.iter().any(|x| x.name == ti.name) {
                            r.errs.push(
                                LowerError::new(
                                    codes::UNKNOWN_PIPELINE_REFERENCE,
                                    ptr(&step.ptr, "inputs"),
                                    format!(
                                        "step `{}` does not bind input `{}` of template `{}`",
                                        step.name, ti.name, t.step.name
                                    ),
                                )
                                .with_help(format!(
                                    "add `{} = {{ value = \"...\" }}` to its inputs",
                                    ti.name
                                )),
                            );
                        }
                    }
                }
                let step_names: Vec<String> = inputs.iter().map(|x| x.name.clone()).collect();
                let mut st = step.clone();
                st.inputs = inputs;
                refs.extend(self.check_placeholders(&st, &step_names, Some(i), dag, r));
                dag.nodes[i].step = Some(st);
            }
            // Dependencies from data references.
            for (rf, p) in &refs {
                if let Ref::Output { step, .. } = rf
                    && let Some(pi) = dag.find(step)
                {
                    self.edge(dag, i, pi, p, &mut edges, r);
                }
            }
            for (a, p) in &node.after {
                match dag.find(a) {
                    Some(pi) => self.edge(dag, i, pi, p, &mut edges, r),
                    None => {
                        let names: Vec<String> = dag.nodes.iter().map(|n| n.name.clone()).collect();
                        r.errs.push(unknown(p, "step or group", a, &names));
                    }
                }
            }
        }
        r.in_exit = false;
        for (c, p) in edges {
            if !dag.nodes[c].deps.contains(&p) {
                dag.nodes[c].deps.push(p);
            }
        }
        for node in &mut dag.nodes {
            node.deps.sort_unstable();
        }
        // Cycles among siblings.
        if let Some(cycle) = find_cycle(dag) {
            let names: Vec<&str> = cycle.iter().map(|&i| dag.nodes[i].name.as_str()).collect();
            r.errs.push(
                LowerError::new(
                    codes::PIPELINE_CYCLE,
                    dag.nodes[cycle[0]].ptr.clone(),
                    format!(
                        "steps depend on each other in a cycle: {} -> {}",
                        names.join(" -> "),
                        names[0]
                    ),
                )
                .with_help("remove one of the references or `after` entries in the cycle"),
            );
        }
    }

    /// Records that `consumer` depends on `producer`, at the level where their paths split.
    fn edge(
        &self,
        dag: &Dag,
        consumer: usize,
        producer: usize,
        p: &str,
        edges: &mut Vec<(usize, usize)>,
        r: &mut Reader,
    ) {
        let cp = dag.path(consumer);
        let pp = dag.path(producer);
        let mut k = 0;
        while k < cp.len() && k < pp.len() && cp[k] == pp[k] {
            k += 1;
        }
        if k == cp.len() || k == pp.len() {
            r.errs.push(LowerError::new(
                codes::PIPELINE_CYCLE,
                p,
                format!(
                    "`{}` depends on `{}`, which {} it",
                    dag.nodes[consumer].name,
                    dag.nodes[producer].name,
                    if k == pp.len() { "contains" } else { "is inside" }
                ),
            ));
            return;
        }
        edges.push((cp[k], pp[k]));
    }

    /// Checks a reference; returns nothing, errors go to `r`.
    fn check_ref(
        &self,
        dag: &Dag,
        at: Option<usize>,
        rf: &Ref,
        p: &str,
        own: Option<&[String]>,
        r: &mut Reader,
    ) {
        match rf {
            Ref::Param(name) => {
                if self.param(name).is_none() {
                    let names: Vec<String> = self.params.iter().map(|p| p.name.clone()).collect();
                    r.errs.push(unknown(p, "pipeline parameter", name, &names));
                }
            }
            Ref::Output { step, output } => match dag.find(step) {
                Some(i) => match &dag.nodes[i].step {
                    Some(s) => {
                        if self.output_of(s, output).is_none() {
                            r.errs.push(unknown(
                                p,
                                &format!("output of step `{step}`"),
                                output,
                                &self.output_names(s),
                            ));
                        }
                    }
                    None => r.errs.push(
                        LowerError::new(
                            codes::UNKNOWN_PIPELINE_REFERENCE,
                            p,
                            format!("`{step}` is a group; groups have no outputs"),
                        )
                        .with_help("refer to the output of a step inside the group"),
                    ),
                },
                None => {
                    let names: Vec<String> = dag
                        .nodes
                        .iter()
                        .filter(|n| !n.is_group())
                        .map(|n| n.name.clone())
                        .collect();
                    r.errs.push(unknown(p, "step", step, &names));
                }
            },
            Ref::Item(_) => {
                if at.and_then(|a| dag.enclosing_loop(a)).is_none() {
                    r.errs.push(
                        LowerError::new(
                            codes::UNKNOWN_PIPELINE_REFERENCE,
                            p,
                            "`item` is used outside a loop",
                        )
                        .with_help("give the step (or its group) a `for_each`"),
                    );
                }
            }
            Ref::Input { name, .. } => {
                if let Some(own) = own
                    && !own.iter().any(|o| o == name)
                {
                    r.errs.push(unknown(p, "input", name, own));
                }
            }
            Ref::Own { .. } => {}
            Ref::Global(name) => match global(name) {
                None => {
                    let names: Vec<String> = GLOBALS.iter().map(|g| format!("workflow.{}", g.name)).collect();
                    r.errs
                        .push(unknown(p, "run global", &format!("workflow.{name}"), &names));
                }
                Some(g) if g.exit_only && !r.in_exit => r.errs.push(
                    LowerError::new(
                        codes::UNKNOWN_PIPELINE_REFERENCE,
                        p,
                        format!("`workflow.{name}` is only set while the exit handler runs"),
                    )
                    .with_help("read it in the pipeline's `on_exit` step, which runs when the pipeline ends"),
                ),
                Some(g) if self.engine == Engine::Kfp && g.kfp.is_none() => r.errs.push(
                    LowerError::new(
                        codes::UNSUPPORTED_ON_TARGET,
                        p,
                        format!("`workflow.{name}` has no equivalent on the KFP engine"),
                    )
                    .with_help(format!(
                        "use `engine = \"argo\"`, or one of the globals KFP has: {}",
                        GLOBALS
                            .iter()
                            .filter(|g| g.kfp.is_some())
                            .map(|g| format!("`workflow.{}`", g.name))
                            .collect::<Vec<_>>()
                            .join(", ")
                    )),
                ),
                Some(_) => {}
            },
        }
    }

    /// Checks the `$(...)` placeholders of a step's command, args, script, env and manifest.
    fn check_placeholders(
        &self,
        step: &Step,
        own: &[String],
        at: Option<usize>,
        dag: &Dag,
        r: &mut Reader,
    ) -> Vec<(Ref, String)> {
        let mut found = Vec::new();
        let mut inputs: Vec<String> = own.to_vec();
        let mut outputs: Vec<String> = step.outputs.iter().map(|o| o.name.clone()).collect();
        if let Run::Template(t) = &step.run
            && let Some(t) = self.template(t)
        {
            inputs.extend(t.step.inputs.iter().map(|i| i.name.clone()));
            outputs.extend(t.step.outputs.iter().map(|o| o.name.clone()));
        }
        let mut strings: Vec<(String, String)> = Vec::new();
        for f in ["command", "args"] {
            if let Some(l) = step.raw.get(f).and_then(Value::as_array) {
                for (k, x) in l.iter().enumerate() {
                    if let Some(s) = x.as_str() {
                        strings.push((s.into(), format!("{}/{f}/{k}", step.ptr)));
                    }
                }
            }
        }
        if let Some(s) = str_of(&step.raw, "script") {
            strings.push((s.into(), ptr(&step.ptr, "script")));
        }
        if let Some(s) = step.raw.get("resource").and_then(|x| str_of(x, "manifest")) {
            strings.push((s.into(), ptr(&ptr(&step.ptr, "resource"), "manifest")));
        }
        if let Some(m) = step.raw.get("env").and_then(Value::as_object) {
            for (k, x) in m {
                if let Some(s) = x.as_str() {
                    strings.push((s.into(), ptr(&ptr(&step.ptr, "env"), k)));
                }
            }
        }
        for (s, p) in strings {
            for text in unresolved_placeholders(&s) {
                r.errs.push(unresolved_placeholder(&text, &p));
            }
            for seg in segments(&s) {
                if let Seg::Ref(rf) = seg {
                    match &rf {
                        Ref::Input { name, .. } if !inputs.contains(name) => {
                            r.errs.push(unknown(
                                &p,
                                &format!("input of step `{}`", step.name),
                                name,
                                &inputs,
                            ));
                        }
                        Ref::Own { name, .. } if !outputs.contains(name) => {
                            r.errs.push(unknown(
                                &p,
                                &format!("output of step `{}`", step.name),
                                name,
                                &outputs,
                            ));
                        }
                        Ref::Input { .. } | Ref::Own { .. } => {}
                        other => {
                            self.check_ref(dag, at, other, &p, None, r);
                            found.push((other.clone(), p.clone()));
                        }
                    }
                }
            }
        }
        found
    }
}

/// The text of a reference, as the user writes it.
pub(crate) fn ref_text(r: &Ref) -> String {
    match r {
        Ref::Param(p) => format!("params.{p}"),
        Ref::Output { step, output } => format!("steps.{step}.outputs.{output}"),
        Ref::Item(None) => "item".into(),
        Ref::Item(Some(k)) => format!("item.{k}"),
        Ref::Input { name, attr: None } => format!("inputs.{name}"),
        Ref::Input { name, attr: Some(a) } => format!("inputs.{name}.{a}"),
        Ref::Own { name, attr: None } => format!("outputs.{name}"),
        Ref::Own { name, attr: Some(a) } => format!("outputs.{name}.{a}"),
        Ref::Global(g) => format!("workflow.{g}"),
    }
}

/// The type of a loop's items: declared, or inferred from literal items.
pub(crate) fn item_type(l: &Loop) -> IoType {
    if let Some(t) = l.item_type {
        return t;
    }
    match l.items.as_ref().and_then(|i| i.first()) {
        Some(Value::Number(n)) if n.is_i64() => IoType::Int,
        Some(Value::Number(_)) => IoType::Float,
        Some(Value::Bool(_)) => IoType::Bool,
        Some(Value::Object(_)) => IoType::Struct,
        Some(Value::Array(_)) => IoType::List,
        _ => IoType::String,
    }
}

/// A cycle among sibling dependencies, if any (node indices in order).
fn find_cycle(dag: &Dag) -> Option<Vec<usize>> {
    let n = dag.nodes.len();
    let mut state = vec![0u8; n];
    let mut stack: Vec<usize> = Vec::new();
    fn visit(i: usize, dag: &Dag, state: &mut [u8], stack: &mut Vec<usize>) -> Option<Vec<usize>> {
        state[i] = 1;
        stack.push(i);
        for &d in &dag.nodes[i].deps {
            if state[d] == 1 {
                let pos = stack.iter().position(|&x| x == d).unwrap_or(0);
                let mut c: Vec<usize> = stack[pos..].to_vec();
                c.reverse();
                return Some(c);
            }
            if state[d] == 0
                && let Some(c) = visit(d, dag, state, stack)
            {
                return Some(c);
            }
        }
        stack.pop();
        state[i] = 2;
        None
    }
    for i in 0..n {
        if state[i] == 0
            && let Some(c) = visit(i, dag, &mut state, &mut stack)
        {
            return Some(c);
        }
    }
    None
}

/// Python `json.dumps` spelling (`[1, 2]`, `{"a": "1"}`), as kfp writes loop items.
pub(crate) fn py_json(v: &Value) -> String {
    match v {
        Value::Array(a) => format!("[{}]", a.iter().map(py_json).collect::<Vec<_>>().join(", ")),
        Value::Object(m) => format!(
            "{{{}}}",
            m.iter()
                .map(|(k, v)| format!("{}: {}", Value::String(k.clone()), py_json(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        other => other.to_string(),
    }
}

/// Orders a JSON object's entries by key (kfp writes maps sorted).
pub(crate) fn sorted(m: Map<String, Value>) -> Map<String, Value> {
    let mut v: Vec<(String, Value)> = m.into_iter().collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v.into_iter().collect()
}
