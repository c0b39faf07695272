//! Nothing the user writes is silently dropped: every field of every lowered stdlib type either
//! changes the output or produces a diagnostic on that field.
//!
//! The fields come from the standard library itself, not from a hand-kept list: the test parses
//! `stdlib/*.kiln`, takes every record type `stdlib/kubeflow.kiln` re-exports that lowering
//! accepts as an object (the kinds), and walks each kind's type: record fields, tagged-union
//! variants, list elements and map entries, to any depth. The contexts are the example specs
//! (`examples/`), compiled and evaluated by the real compiler; each one is also tried with every
//! value of its top-level enum fields (the target selectors: `framework`, `engine`,
//! `deployment_mode`, ...), so a field a target ignores is caught on that target.
//!
//! For each field the test sets sample values of the field's type (in the JSON form lowering
//! reads) and lowers the whole file again. The field passes when the manifests change, or when a
//! new diagnostic (other than K0815, a malformed input) appears on the field's record or on
//! another object of the file (a NodePool's fields show up in the checks of the workloads on it).
//! Every (kind, target, field) exercised must pass: a new stdlib field that is neither lowered
//! nor listed in `compiler/src/lower/fields.rs` fails here.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use kiln_compiler::lower::{LowerContext, LowerInput, lower_all};
use kiln_compiler::source::MemoryLoader;
use kiln_compiler::{Options, compile};
use kiln_lang::FileId;
use kiln_lang::ast::{self, ExprKind, ItemKind, Literal, StrPart, TypeExpr, TypeExprKind};
use serde_json::{Map, Value, json};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

// ---------------------------------------------------------------------------------------------
// The stdlib's types, as the test needs them.

#[derive(Debug, Clone)]
enum Ty {
    Bool,
    Int { lo: Option<i64>, hi: Option<i64> },
    Float { lo: Option<f64>, hi: Option<f64> },
    Str(Option<regex::Regex>),
    Cpu,
    Memory,
    Quantity,
    Duration,
    Percent,
    Enum(Vec<Value>),
    Record(Vec<Field>),
    Union(Vec<(String, Vec<Field>)>),
    List(Box<Ty>),
    Map(Box<Ty>),
    Ref,
    Any,
}

#[derive(Debug, Clone)]
struct Field {
    name: String,
    ty: Ty,
    optional: bool,
    default: Option<Value>,
}

impl Field {
    fn required(&self) -> bool {
        !self.optional && self.default.is_none()
    }
}

struct Stdlib {
    /// module -> type name -> declaration.
    types: BTreeMap<String, BTreeMap<String, TypeExpr>>,
    /// module -> import alias -> module.
    imports: BTreeMap<String, BTreeMap<String, String>>,
}

impl Stdlib {
    fn load() -> Stdlib {
        let mut types = BTreeMap::new();
        let mut imports = BTreeMap::new();
        let dir = root().join("stdlib");
        for (i, path) in kiln_lang::testing::kiln_files(&dir).into_iter().enumerate() {
            let module = path.file_stem().unwrap().to_str().unwrap().to_string();
            let text = std::fs::read_to_string(&path).unwrap();
            let parsed = kiln_lang::parse(FileId(i as u32), &text);
            assert!(parsed.diagnostics.is_empty(), "stdlib {module} does not parse");
            let mut t = BTreeMap::new();
            let mut im = BTreeMap::new();
            for item in parsed.file.items {
                match item.kind {
                    ItemKind::Type { name, ty } => {
                        t.insert(name.name, ty);
                    }
                    ItemKind::Import { path, alias } => {
                        im.insert(alias.name, lit_text(&path));
                    }
                    _ => {}
                }
            }
            types.insert(module.clone(), t);
            imports.insert(module, im);
        }
        Stdlib { types, imports }
    }

    /// The type `name` of `module`, resolved (aliases followed).
    fn named(&self, module: &str, name: &str, depth: usize) -> Ty {
        let decl = self.types[module]
            .get(name)
            .unwrap_or_else(|| panic!("{module}.{name} is not declared"));
        self.resolve(module, decl, depth)
    }

    fn resolve(&self, module: &str, t: &TypeExpr, depth: usize) -> Ty {
        assert!(depth < 64, "type nesting too deep at {module}");
        match &t.kind {
            TypeExprKind::Named { path, args } => {
                let segs: Vec<&str> = path.segments.iter().map(|s| s.name.as_str()).collect();
                let arg = |i: usize| self.resolve(module, &args[i], depth + 1);
                match segs.as_slice() {
                    ["Bool"] => Ty::Bool,
                    ["Int"] => Ty::Int { lo: None, hi: None },
                    ["Float"] => Ty::Float { lo: None, hi: None },
                    ["String"] => Ty::Str(None),
                    ["Cpu"] => Ty::Cpu,
                    ["Memory"] => Ty::Memory,
                    ["Quantity"] => Ty::Quantity,
                    ["Duration"] => Ty::Duration,
                    ["Percent"] => Ty::Percent,
                    ["Any"] => Ty::Any,
                    ["List"] => Ty::List(Box::new(arg(0))),
                    ["Map"] => Ty::Map(Box::new(arg(0))),
                    ["Ref"] => Ty::Ref,
                    [name] => self.named(module, name, depth + 1),
                    [alias, name] => {
                        let m = self.imports[module][*alias].clone();
                        self.named(&m, name, depth + 1)
                    }
                    other => panic!("unexpected type path {other:?}"),
                }
            }
            TypeExprKind::Record { fields, .. } => Ty::Record(self.fields(module, fields, depth)),
            TypeExprKind::Literal(l) => Ty::Enum(vec![literal(l)]),
            TypeExprKind::Union(parts) => {
                if parts
                    .iter()
                    .all(|p| matches!(p.kind, TypeExprKind::Variant { .. }))
                {
                    Ty::Union(
                        parts
                            .iter()
                            .map(|p| match &p.kind {
                                TypeExprKind::Variant { tag, fields } => {
                                    (tag.name.clone(), self.fields(module, fields, depth))
                                }
                                _ => unreachable!(),
                            })
                            .collect(),
                    )
                } else {
                    let mut values = Vec::new();
                    for p in parts {
                        match self.resolve(module, p, depth + 1) {
                            Ty::Enum(v) => values.extend(v),
                            other => panic!("a union of {other:?}"),
                        }
                    }
                    Ty::Enum(values)
                }
            }
            TypeExprKind::Refined { base, refinement } => {
                let base = self.resolve(module, base, depth + 1);
                match (base, refinement) {
                    (Ty::Str(_), ast::Refinement::Regex { pattern, .. }) => {
                        Ty::Str(Some(regex::Regex::new(pattern).expect("a stdlib regex")))
                    }
                    (Ty::Int { .. }, ast::Refinement::Range { lo, hi }) => Ty::Int {
                        lo: lo.as_deref().and_then(int_of),
                        hi: hi.as_deref().and_then(int_of),
                    },
                    (Ty::Float { .. }, ast::Refinement::Range { lo, hi }) => Ty::Float {
                        lo: lo.as_deref().and_then(float_of),
                        hi: hi.as_deref().and_then(float_of),
                    },
                    // Length bounds on lists and maps, ranges of units: the samples fit them.
                    (other, _) => other,
                }
            }
            TypeExprKind::Variant { .. } | TypeExprKind::Function { .. } | TypeExprKind::Error => Ty::Any,
        }
    }

    fn fields(&self, module: &str, fields: &[ast::FieldDecl], depth: usize) -> Vec<Field> {
        fields
            .iter()
            .map(|f| Field {
                name: f.name.name().to_string(),
                ty: self.resolve(module, &f.ty, depth + 1),
                optional: f.optional,
                default: f.default.as_ref().and_then(default_value),
            })
            .collect()
    }
}

fn lit_text(s: &ast::StrLit) -> String {
    s.parts
        .iter()
        .map(|p| match p {
            StrPart::Text(t) => t.clone(),
            StrPart::Interp(_) => String::new(),
        })
        .collect()
}

fn literal(l: &Literal) -> Value {
    match l {
        Literal::Int(i) => json!(i),
        Literal::Float(f) => json!(f),
        Literal::Bool(b) => json!(b),
        Literal::Str(s) => json!(s),
    }
}

fn int_of(e: &ast::Expr) -> Option<i64> {
    match &e.kind {
        ExprKind::Int(i) => Some(*i),
        _ => None,
    }
}

fn float_of(e: &ast::Expr) -> Option<f64> {
    match &e.kind {
        ExprKind::Float(f) => Some(*f),
        ExprKind::Int(i) => Some(*i as f64),
        _ => None,
    }
}

/// The JSON form of a default that is a plain literal (other defaults count as absent).
fn default_value(e: &ast::Expr) -> Option<Value> {
    match &e.kind {
        ExprKind::Int(i) => Some(json!(i)),
        ExprKind::Float(f) => Some(json!(f)),
        ExprKind::Bool(b) => Some(json!(b)),
        ExprKind::Str(s) if s.parts.iter().all(|p| matches!(p, StrPart::Text(_))) => Some(json!(lit_text(s))),
        ExprKind::List(l) if l.is_empty() => Some(json!([])),
        ExprKind::List(l) => l
            .iter()
            .map(default_value)
            .collect::<Option<Vec<_>>>()
            .map(Value::Array),
        ExprKind::Record(r) if r.is_empty() => Some(json!({})),
        ExprKind::Construct { ty, fields } if fields.is_empty() => {
            let tag = ty.segments.last()?.name.clone();
            Some(json!({ tag: {} }))
        }
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------------
// Sample values.

const STRINGS: &[&str] = &[
    "sample",
    "other-value",
    "a1",
    "/sample/path",
    "/data",
    "/mnt/other",
    "nvidia.com/gpu",
    "amd.com/gpu",
    "nvidia.com/mig-1g.10gb",
    "hf://org/model",
    "s3://bucket/key",
    "gs://bucket/key",
    "ghcr.io/acme/sample:1.0",
    "busybox@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
    "0 4 * * *",
    "*/5 * * * *",
    "example.com/v1",
    "v1",
    "Sample",
    "sample.example.com",
];

const REFS: &[&str] = &[
    "steps.prep",
    "steps.prep.outputs.data",
    "steps.train",
    "params.lr",
    "params.epochs",
    "item",
];

/// Sample values of a scalar or leaf type, most telling first.
fn samples(ty: &Ty) -> Vec<Value> {
    match ty {
        Ty::Bool => vec![json!(true), json!(false)],
        Ty::Int { lo, hi } => {
            let lo_v = lo.unwrap_or(0);
            let hi_v = hi.unwrap_or(1000);
            let mut out = Vec::new();
            for c in [lo_v, hi_v, lo_v + 1, 2, 3, 8, 100, 65535, 1000] {
                if c >= lo_v && c <= hi_v && !out.contains(&json!(c)) {
                    out.push(json!(c));
                }
            }
            out
        }
        Ty::Float { lo, hi } => [0.5, 2.5, 1000.0, 0.0]
            .into_iter()
            .filter(|f| lo.is_none_or(|l| *f >= l) && hi.is_none_or(|h| *f <= h))
            .map(|f| json!(f))
            .collect(),
        Ty::Str(None) => vec![json!("sample"), json!("other-value")],
        Ty::Str(Some(re)) => STRINGS
            .iter()
            .filter(|s| re.is_match(s))
            .take(3)
            .map(|s| json!(s))
            .collect(),
        Ty::Cpu => vec![json!("250m"), json!("1000"), json!("3")],
        Ty::Memory => vec![json!("3Gi"), json!("100Ti"), json!("1Ki")],
        Ty::Quantity => vec![json!("5"), json!("3Gi")],
        Ty::Duration => vec![json!("2h0m0s"), json!("30s")],
        Ty::Percent => vec![json!("10%"), json!("55%")],
        Ty::Enum(v) => v.clone(),
        Ty::Ref => REFS.iter().map(|r| json!(r)).collect(),
        Ty::Any => vec![json!("sample"), json!({"k": "v"})],
        Ty::List(e) => samples(e)
            .into_iter()
            .take(2)
            .map(|x| json!([x]))
            .chain([json!([])])
            .collect(),
        Ty::Map(e) => samples(e)
            .into_iter()
            .take(2)
            .map(|x| json!({"SAMPLE_KEY": x}))
            .chain([json!({})])
            .collect(),
        Ty::Record(_) | Ty::Union(_) => vec![minimal(ty)],
    }
}

/// A value of `ty` with its required fields and literal defaults (as evaluation fills them).
fn minimal(ty: &Ty) -> Value {
    match ty {
        Ty::Record(fields) => Value::Object(minimal_fields(fields)),
        Ty::Union(variants) => {
            let (tag, fields) = &variants[0];
            json!({ tag: Value::Object(minimal_fields(fields)) })
        }
        Ty::List(_) => json!([]),
        Ty::Map(_) => json!({}),
        other => samples(other).into_iter().next().unwrap_or(Value::Null),
    }
}

fn minimal_fields(fields: &[Field]) -> Map<String, Value> {
    let mut m = Map::new();
    for f in fields {
        if let Some(d) = &f.default {
            m.insert(f.name.clone(), d.clone());
        } else if f.required() {
            m.insert(f.name.clone(), minimal_required(&f.ty));
        }
    }
    m
}

/// A required list or map gets one element (stdlib lists of records are often `(1..)`).
fn minimal_required(ty: &Ty) -> Value {
    match ty {
        Ty::List(e) => json!([minimal(e)]),
        other => minimal(other),
    }
}

// ---------------------------------------------------------------------------------------------
// Lowering one file of objects.

#[derive(Clone)]
struct Object {
    ty: String,
    name: String,
    value: Value,
}

/// Per object: its manifests and its problems `(code, pointer, is_error)`.
type Outcome = Vec<(Vec<Value>, BTreeSet<(String, String, bool)>)>;

fn outcome(objects: &[Object]) -> Outcome {
    let ctx = LowerContext::new(
        objects
            .iter()
            .map(|o| (o.ty.clone(), o.name.clone(), o.value.clone())),
    );
    objects
        .iter()
        .map(|o| {
            let (m, p) = lower_all(
                &LowerInput {
                    ty: &o.ty,
                    name: &o.name,
                    value: &o.value,
                },
                &ctx,
            );
            let p = p
                .into_iter()
                .map(|e| (e.code.id.to_string(), e.pointer.clone(), e.is_error()))
                .collect();
            (m, p)
        })
        .collect()
}

fn has_errors(o: &Outcome) -> bool {
    o.iter().any(|(_, p)| p.iter().any(|(_, _, e)| *e))
}

/// Whether `after` shows the changed field: the manifests or the diagnostics of the file differ
/// (lowering is deterministic and only the field changed, so the field was read and acted on),
/// unless the change only made the input malformed (K0815, a generator mistake).
fn shows(before: &Outcome, after: &Outcome) -> bool {
    let malformed = after
        .iter()
        .zip(before)
        .any(|(a, b)| a.1.iter().any(|x| x.0 == "K0815" && !b.1.contains(x)));
    !malformed && before != after
}

fn set(root: &mut Value, path: &[String], v: Option<Value>) {
    let (last, init) = path.split_last().expect("a field path");
    let mut cur = root;
    for seg in init {
        cur = match cur {
            Value::Array(l) => &mut l[seg.parse::<usize>().unwrap()],
            Value::Object(m) => m.get_mut(seg).expect("parent exists"),
            _ => panic!("not a container at {seg}"),
        };
    }
    match (cur, v) {
        (Value::Object(m), Some(v)) => {
            m.insert(last.clone(), v);
        }
        (Value::Object(m), None) => {
            m.remove(last);
        }
        (Value::Array(l), Some(v)) => l[last.parse::<usize>().unwrap()] = v,
        _ => panic!("cannot set {last}"),
    }
}

fn get<'a>(root: &'a Value, path: &[String]) -> Option<&'a Value> {
    let mut cur = root;
    for seg in path {
        cur = match cur {
            Value::Array(l) => l.get(seg.parse::<usize>().ok()?)?,
            Value::Object(m) => m.get(seg)?,
            _ => return None,
        };
    }
    Some(cur)
}

/// Results per `(kind, target, field)`: whether any context showed the field.
type Results = BTreeMap<(String, String, String), bool>;

struct Walk<'a> {
    objects: Vec<Object>,
    at: usize,
    kind: &'a str,
    target: String,
    results: &'a mut Results,
    lowerings: &'a mut u64,
    donors: &'a BTreeMap<String, Vec<Value>>,
}

impl Walk<'_> {
    fn record(&mut self, key: &str, ok: bool) {
        let e = self
            .results
            .entry((self.kind.to_string(), self.target.clone(), key.to_string()))
            .or_insert(false);
        *e |= ok;
    }

    fn lower(&mut self, objects: &[Object]) -> Outcome {
        *self.lowerings += 1;
        outcome(objects)
    }

    /// Tries the samples of one field (its value at `path`); true when one shows.
    fn try_field(&mut self, before: &Outcome, path: &[String], ty: &Ty, optional: bool) -> bool {
        let before_objs = self.objects.clone();
        let current = get(&self.objects[self.at].value, path).cloned();
        let mut candidates: Vec<Option<Value>> = samples(ty).into_iter().map(Some).collect();
        if let Ty::Union(variants) = ty {
            candidates = variants
                .iter()
                .map(|(tag, f)| Some(json!({ tag.clone(): Value::Object(minimal_fields(f)) })))
                .collect();
        }
        if optional && current.is_some() {
            candidates.push(None);
        }
        for c in candidates {
            if c == current {
                continue;
            }
            let mut objs = before_objs.clone();
            set(&mut objs[self.at].value, path, c);
            let after = self.lower(&objs);
            if shows(before, &after) {
                return true;
            }
        }
        false
    }

    /// Walks the fields of the record at `path` (which exists in the object); true when one of
    /// them shows. A record-typed field shows when it does or when one of its own fields does
    /// (a record whose fields all have defaults changes nothing by being written empty).
    fn fields(&mut self, path: &[String], fields: &[Field], key: &str, depth: usize) -> bool {
        let objs = self.objects.clone();
        let before = self.lower(&objs);
        let mut any = false;
        for f in fields {
            let mut fp = path.to_vec();
            fp.push(f.name.clone());
            let fkey = format!("{key}.{}", f.name);
            let mut ok = self.try_field(&before, &fp, &f.ty, f.optional || f.default.is_some());
            if depth < 10 {
                ok |= self.inner(&fp, &f.ty, &fkey, depth + 1);
            }
            self.record(&fkey, ok);
            any |= ok;
        }
        any
    }

    /// Walks inside a compound field at `path`, creating a minimal value when absent; true when
    /// a field inside shows.
    fn inner(&mut self, path: &[String], ty: &Ty, key: &str, depth: usize) -> bool {
        let saved = self.objects.clone();
        let current = get(&self.objects[self.at].value, path).cloned();
        let name = path.last().cloned().unwrap_or_default();
        let mut any = false;
        match ty {
            Ty::Record(fields) => {
                if current.as_ref().is_none_or(|c| !c.is_object()) {
                    let c = self.candidates(&name, minimal(ty), |v| v.is_object());
                    self.place(path, c);
                }
                any = self.fields(path, fields, key, depth);
            }
            Ty::Union(variants) => {
                for (tag, fields) in variants {
                    self.objects = saved.clone();
                    let same = current.as_ref().and_then(|c| c.get(tag)).is_some();
                    if !same {
                        let m = json!({ tag.clone(): Value::Object(minimal_fields(fields)) });
                        let c = self.candidates(&name, m, |v| v.get(tag).is_some());
                        self.place(path, c);
                    }
                    let mut vp = path.to_vec();
                    vp.push(tag.clone());
                    any |= self.fields(&vp, fields, &format!("{key}.{tag}"), depth);
                }
            }
            Ty::List(e) if matches!(**e, Ty::Record(_) | Ty::Union(_)) => {
                if current
                    .as_ref()
                    .and_then(Value::as_array)
                    .is_none_or(|l| l.is_empty())
                {
                    let c = self.candidates(&name, json!([minimal(e)]), |v| {
                        v.as_array().is_some_and(|l| !l.is_empty())
                    });
                    self.place(path, c);
                }
                let mut ep = path.to_vec();
                ep.push("0".into());
                any = self.inner(&ep, e, &format!("{key}[]"), depth);
            }
            Ty::Map(e) if matches!(**e, Ty::Record(_) | Ty::Union(_)) => {
                if current
                    .as_ref()
                    .and_then(Value::as_object)
                    .is_none_or(|m| m.is_empty())
                {
                    let mut c = self.candidates(&name, json!({"sample": minimal(e)}), |v| {
                        v.as_object().is_some_and(|m| !m.is_empty())
                    });
                    // Keys are often names the target checks (a framework's roles: `Worker`
                    // exists for every framework, `Master` not): also one entry under each key
                    // the examples use, with a minimal value and with theirs.
                    for d in self.donors.get(&name).into_iter().flatten() {
                        for (k, v) in d.as_object().into_iter().flatten() {
                            for one in [json!({ k.clone(): minimal(e) }), json!({ k.clone(): v.clone() })] {
                                if !c.contains(&one) {
                                    c.push(one);
                                }
                            }
                        }
                    }
                    self.place(path, c);
                }
                let first = get(&self.objects[self.at].value, path)
                    .and_then(Value::as_object)
                    .and_then(|m| m.keys().next().cloned())
                    .unwrap_or_default();
                let mut ep = path.to_vec();
                ep.push(first);
                any = self.inner(&ep, e, &format!("{key}{{}}"), depth);
            }
            _ => {}
        }
        self.objects = saved;
        any
    }

    /// The values to try for an absent compound field: its minimal value, then values the
    /// examples give fields of that name (a minimal pipeline step runs nothing, an example's
    /// does), so that the fields inside are tried in a context that lowers.
    fn candidates(&self, name: &str, minimal: Value, fits: impl Fn(&Value) -> bool) -> Vec<Value> {
        let mut out = vec![minimal];
        for d in self.donors.get(name).into_iter().flatten() {
            if fits(d) && !out.contains(d) {
                out.push(d.clone());
            }
        }
        out
    }

    /// Sets the first candidate with which the file lowers without errors (else the first).
    fn place(&mut self, path: &[String], candidates: Vec<Value>) {
        for c in &candidates {
            let mut objs = self.objects.clone();
            set(&mut objs[self.at].value, path, Some(c.clone()));
            if !has_errors(&self.lower(&objs)) {
                self.objects = objs;
                return;
            }
        }
        set(
            &mut self.objects[self.at].value,
            path,
            candidates.into_iter().next(),
        );
    }
}

/// Values of every field name in the examples (up to a few distinct ones per name).
fn donors(contexts: &[(PathBuf, Vec<Object>)]) -> BTreeMap<String, Vec<Value>> {
    fn walk(v: &Value, out: &mut BTreeMap<String, Vec<Value>>) {
        match v {
            Value::Object(m) => {
                for (k, x) in m {
                    let e = out.entry(k.clone()).or_default();
                    if e.len() < 6 && !e.contains(x) && (x.is_object() || x.is_array()) {
                        e.push(x.clone());
                    }
                    walk(x, out);
                }
            }
            Value::Array(l) => l.iter().for_each(|x| walk(x, out)),
            _ => {}
        }
    }
    let mut out = BTreeMap::new();
    for (_, objects) in contexts {
        for o in objects {
            walk(&o.value, &mut out);
        }
    }
    out
}

/// The example files, compiled: each a list of emitted objects.
fn contexts() -> Vec<(PathBuf, Vec<Object>)> {
    let mut files = Vec::new();
    for dir in [
        "examples/kinds",
        "examples/team",
        "examples/upstream",
        "compiler/tests/fixtures/coverage",
    ] {
        files.extend(kiln_lang::testing::kiln_files(&root().join(dir)));
    }
    files.sort();
    let mut out = Vec::new();
    for path in files {
        let text = std::fs::read_to_string(&path).unwrap();
        let name = path.file_name().unwrap().to_str().unwrap().to_string();
        let mut loader = MemoryLoader::new().with(&name, &text);
        // Sibling files an example imports (`./common.kiln`).
        if let Some(dir) = path.parent() {
            for sib in kiln_lang::testing::kiln_files(dir) {
                if sib != path
                    && let Some(n) = sib.file_name().and_then(|n| n.to_str())
                {
                    loader.insert(n, &std::fs::read_to_string(&sib).unwrap());
                }
            }
        }
        let compiled = compile(&loader, &[name], &Options::default());
        if compiled.has_errors() {
            continue;
        }
        let objects = compiled
            .objects
            .iter()
            .filter(|o| o.stdlib)
            .map(|o| Object {
                ty: o.ty.clone(),
                name: o.name.clone(),
                value: o.value.to_json(),
            })
            .collect();
        out.push((path, objects));
    }
    out
}

/// The kinds: record types `kubeflow.kiln` re-exports that lowering takes as objects.
fn kinds(stdlib: &Stdlib) -> BTreeMap<String, Ty> {
    let mut out = BTreeMap::new();
    for name in stdlib.types["kubeflow"].keys() {
        let ty = stdlib.named("kubeflow", name, 0);
        if !matches!(ty, Ty::Record(_)) {
            continue;
        }
        let qualified = format!("kubeflow.{name}");
        let (_, problems) = lower_all(
            &LowerInput {
                ty: &qualified,
                name: "x",
                value: &json!({}),
            },
            &LowerContext::default(),
        );
        let part = problems
            .iter()
            .any(|p| p.code.id == "K0815" && p.message.contains("part of an object"));
        if !part {
            out.insert(name.clone(), ty);
        }
    }
    out
}

/// The file `objects` as written, then once per value of each top-level enum field of object `at`
/// that always has a value (the target selectors: `framework`, `engine`, `policy`, `mode`), each
/// named by what it changed; variants that no longer lower cleanly are left out.
fn targets(objects: &[Object], at: usize, fields: &[Field]) -> Vec<(String, Vec<Object>)> {
    let mut out = vec![("as written".to_string(), objects.to_vec())];
    for f in fields.iter().filter(|f| !f.optional) {
        let Ty::Enum(values) = &f.ty else { continue };
        for v in values {
            if objects[at].value.get(&f.name) == Some(v) {
                continue;
            }
            let mut objs = objects.to_vec();
            set(
                &mut objs[at].value,
                std::slice::from_ref(&f.name),
                Some(v.clone()),
            );
            if !has_errors(&outcome(&objs)) {
                out.push((format!("{} = {v}", f.name), objs));
            }
        }
    }
    out
}

/// The `apiVersion` and `kind` of every manifest in a lowering outcome.
fn emitted_kinds(outcome: &Outcome) -> BTreeSet<(String, String)> {
    outcome
        .iter()
        .flat_map(|(manifests, _)| manifests)
        .map(|m| {
            let field = |k: &str| m.get(k).and_then(Value::as_str).unwrap_or("").to_string();
            (field("apiVersion"), field("kind"))
        })
        .collect()
}

/// `examples/kinds` shows every kind kiln can emit (issue 14): each manifest kind that any
/// example context yields under any target selector (a `TrainingJob` with every `framework`, a
/// pipeline with every `engine`, ...) is also emitted by some file of `examples/kinds` as
/// written, so the golden test builds and schema-validates it. A new target or lowering that
/// emits a kind without an example there fails here.
#[test]
fn every_emittable_kind_has_an_example_in_examples_kinds() {
    let stdlib = Stdlib::load();
    let kinds = kinds(&stdlib);
    let contexts = contexts();
    let in_examples: BTreeSet<(String, String)> = contexts
        .iter()
        .filter(|(path, _)| path.starts_with(root().join("examples/kinds")))
        .flat_map(|(_, objects)| emitted_kinds(&outcome(objects)))
        .collect();
    // Where each emittable kind was first seen, to say how to reach it.
    let mut emittable: BTreeMap<(String, String), String> = BTreeMap::new();
    for (path, objects) in &contexts {
        for (at, object) in objects.iter().enumerate() {
            let kind = object.ty.rsplit('.').next().unwrap();
            let Some(Ty::Record(fields)) = kinds.get(kind) else {
                continue;
            };
            for (target, objs) in targets(objects, at, fields) {
                for k in emitted_kinds(&outcome(&objs)) {
                    emittable.entry(k).or_insert_with(|| {
                        let file = path.strip_prefix(root()).unwrap_or(path).display();
                        format!("{file}: {kind} {:?} with {target}", object.name)
                    });
                }
            }
        }
    }
    let missing: Vec<String> = emittable
        .iter()
        .filter(|(k, _)| !in_examples.contains(*k))
        .map(|((api, kind), how)| format!("{api} {kind} (emitted by {how})"))
        .collect();
    eprintln!(
        "emittable kinds: {}; in examples/kinds: {}",
        emittable.len(),
        in_examples.len()
    );
    assert!(
        emittable.len() > 15,
        "too few emittable kinds found ({}): are the example contexts loading?",
        emittable.len()
    );
    assert!(
        missing.is_empty(),
        "kinds kiln can emit with no example in examples/kinds (add one, and its golden file):\n  {}",
        missing.join("\n  ")
    );
}

#[test]
fn every_field_of_every_lowered_kind_reaches_the_output_or_a_diagnostic() {
    let stdlib = Stdlib::load();
    let kinds = kinds(&stdlib);
    let contexts = contexts();
    let donors = donors(&contexts);
    let mut results = Results::new();
    let mut lowerings = 0u64;
    let mut covered_kinds = BTreeSet::new();
    for (_path, objects) in &contexts {
        if has_errors(&outcome(objects)) {
            continue;
        }
        for (at, object) in objects.iter().enumerate() {
            let kind = object.ty.rsplit('.').next().unwrap().to_string();
            let Some(Ty::Record(fields)) = kinds.get(&kind) else {
                continue;
            };
            covered_kinds.insert(kind.clone());
            for (target, objs) in targets(objects, at, fields) {
                let mut walk = Walk {
                    objects: objs,
                    at,
                    kind: &kind,
                    target,
                    results: &mut results,
                    lowerings: &mut lowerings,
                    donors: &donors,
                };
                walk.fields(&[], fields, &kind, 0);
            }
        }
    }
    let missing_kinds: Vec<&String> = kinds.keys().filter(|k| !covered_kinds.contains(*k)).collect();
    let fields: BTreeSet<(&String, &String)> = results.keys().map(|(k, _, f)| (k, f)).collect();
    let failures: BTreeSet<String> = results
        .iter()
        .filter(|(_, ok)| !**ok)
        .map(|((k, t, f), _)| format!("{k} | {t} | {f}"))
        .collect();
    eprintln!(
        "field coverage: {} kinds, {} distinct fields, {} (kind, target, field) cases, {} lowerings, {} failing",
        covered_kinds.len(),
        fields.len(),
        results.len(),
        lowerings,
        failures.len()
    );
    assert!(
        missing_kinds.is_empty(),
        "lowered kinds without an example to test their fields in: {missing_kinds:?}"
    );
    // The ratchet: the cases known not to show yet (real gaps, and contexts the generator
    // cannot build yet), one per line. A case failing that is not listed (a new field, or a
    // regression) fails; a listed case that now shows must be removed, so the list only shrinks.
    let gaps_path = root().join("compiler/tests/field_coverage.gaps");
    if std::env::var_os("KILN_UPDATE_GAPS").is_some() {
        let mut text = String::from(GAPS_HEADER);
        for f in &failures {
            text.push_str(f);
            text.push('\n');
        }
        std::fs::write(&gaps_path, text).unwrap();
        return;
    }
    let known: BTreeSet<String> = std::fs::read_to_string(&gaps_path)
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(str::to_string)
        .collect();
    let new: Vec<&String> = failures.difference(&known).collect();
    let fixed: Vec<&String> = known.difference(&failures).collect();
    assert!(
        new.is_empty(),
        "fields that neither change the output nor produce a diagnostic (lower them, or list them \
         with their target in compiler/src/lower/fields.rs):\n{}",
        new.iter().map(|s| s.as_str()).collect::<Vec<_>>().join("\n")
    );
    assert!(
        fixed.is_empty(),
        "cases of compiler/tests/field_coverage.gaps that now show (remove them, or rerun with \
         KILN_UPDATE_GAPS=1):\n{}",
        fixed.iter().map(|s| s.as_str()).collect::<Vec<_>>().join("\n")
    );
}

const GAPS_HEADER: &str = "\
# Known cases of the field-coverage test (compiler/tests/field_coverage.rs) that do not show
# yet: `kind | target | field`. Each is a field that is dropped for that target (a real gap to
# lower or list in compiler/src/lower/fields.rs), or a context the test cannot build yet (for
# example a role map entry valid for every framework). Regenerate with
# `KILN_UPDATE_GAPS=1 cargo test -p kiln-compiler --test field_coverage` and review the diff:
# the list may only shrink.
";
