//! Lowering: evaluated values of stdlib types -> real Kubeflow / Katib / KServe manifests.
//!
//! Input is the JSON form of an emitted value ([`crate::value::Value::to_json`]): records are
//! objects in source order with absent optional fields left out, quantities and durations are
//! canonical strings, percentages are numbers or `"10%"` strings, tagged-union values are one-key
//! objects `{ "Tag": { fields } }`. [`lower`] dispatches on the last segment of the emitted type
//! (`kubeflow.Notebook` and `notebook.Notebook` are both `Notebook`), one file per target.
//! Cross-object checks (node pools, serving runtimes, Profile quota) read the [`ProjectFacts`],
//! gathered once per build ([`facts`]).
//!
//! # Names of run-like objects
//! Training jobs, TrainJobs and Katib Experiments cannot be updated in place once they run, so
//! their manifest name is `<name>-<h>` where `<h>` is the first 8 hex digits of the blake3 hash
//! of the lowered object without its name (see [`run_name`]); the base name is kept in the label
//! `kiln.dev/run-of`. A changed spec therefore creates a new run instead of a rejected update,
//! and an unchanged spec keeps its name.

pub mod codes;
pub mod facts;
pub mod fields;
pub mod katib;
pub mod kserve;
pub mod notebook;
pub mod object;
pub mod pipeline;
pub mod pod;
pub mod pod_check;
pub mod profile;
pub mod refs;
pub mod training;
pub mod trainjob;

use kiln_lang::{Code, Severity};
use serde_json::{Map, Value, json};

pub use facts::{ContextObject, ProjectFacts};

/// One emitted object to lower.
pub struct LowerInput<'a> {
    /// The emitted stdlib type, e.g. `kubeflow.Notebook` or `notebook.Notebook`; dispatch uses
    /// the last segment (build never passes a project-defined type, see `Emitted::stdlib`).
    pub ty: &'a str,
    /// The emitted name (`kf.Notebook "churn-dev"`).
    pub name: &'a str,
    /// The JSON form of the evaluated value.
    pub value: &'a Value,
}

/// The name lowering's signatures use for the [`ProjectFacts`] they read.
pub type LowerContext = ProjectFacts;

/// One problem found while lowering; the pointer is a JSON pointer into the lowered value (the
/// caller maps it back to the kiln source that produced the field). Most are errors; a warning
/// (for example a field the target ignores harmlessly, see [`fields`]) keeps the manifests.
#[derive(Debug, Clone, PartialEq)]
pub struct LowerError {
    pub code: Code,
    pub pointer: String,
    pub message: String,
    pub help: Option<String>,
    pub severity: Severity,
    /// Other objects the problem is about (the workloads over a quota), labelled where they
    /// are declared.
    pub related: Vec<Related>,
}

/// A field of another emitted object a problem points at, besides its own.
#[derive(Debug, Clone, PartialEq)]
pub struct Related {
    /// The object's stdlib type and name (as in `LowerInput`).
    pub ty: String,
    pub name: String,
    /// A JSON pointer into that object's value.
    pub pointer: String,
    pub message: String,
}

impl LowerError {
    pub fn new(code: Code, pointer: impl Into<String>, message: impl Into<String>) -> LowerError {
        LowerError {
            code,
            pointer: pointer.into(),
            message: message.into(),
            help: None,
            severity: Severity::Error,
            related: Vec::new(),
        }
    }

    /// The same problem as a warning: the output is still produced.
    pub fn warning(mut self) -> LowerError {
        self.severity = Severity::Warning;
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// Labels a field of another object (see [`Related`]).
    pub fn with_related(mut self, related: Related) -> LowerError {
        self.related.push(related);
        self
    }

    pub fn with_help(mut self, help: impl Into<String>) -> LowerError {
        self.help = Some(help.into());
        self
    }
}

/// Lowers one emitted object to its manifests (possibly none, e.g. a NodePool); `Err` holds
/// every problem when one of them is an error. Warnings are dropped here: use [`lower_all`].
pub fn lower(input: &LowerInput, ctx: &LowerContext) -> Result<Vec<Value>, Vec<LowerError>> {
    let (manifests, problems) = lower_all(input, ctx);
    if problems.iter().any(LowerError::is_error) {
        Err(problems)
    } else {
        Ok(manifests)
    }
}

/// Lowers one emitted object: its manifests (none when any problem is an error) and every
/// problem found, warnings included.
pub fn lower_all(input: &LowerInput, ctx: &LowerContext) -> (Vec<Value>, Vec<LowerError>) {
    let (out, mut problems) = lower_kind(input, ctx);
    if problems.iter().any(LowerError::is_error) {
        return (Vec::new(), problems);
    }
    // Pod-level validity of every pod the manifests contain (duplicate names, mounts, ports).
    for manifest in &out {
        pod_check::check_manifest(input.value, manifest, &mut problems);
    }
    if problems.iter().any(LowerError::is_error) {
        (Vec::new(), problems)
    } else {
        (out, problems)
    }
}

/// The kind's own lowering, then the fields its target does not carry ([`fields`]).
fn lower_kind(input: &LowerInput, ctx: &LowerContext) -> (Vec<Value>, Vec<LowerError>) {
    let mut errs = Vec::new();
    if !input.value.is_object() {
        let e = LowerError::new(
            codes::INVALID_LOWERING_INPUT,
            "",
            format!("the value of `{}` is not a record", input.name),
        );
        return (Vec::new(), vec![e]);
    }
    // A kind of a generated schema module (`k8s/argoproj.io/v1alpha1.Workflow`) is its own
    // manifest, lowered like `kf.Object`; its type already checked every field.
    if input.ty.starts_with(GENERATED_PREFIX) {
        let out = object::lower(input, ctx, &mut errs);
        return (out, errs);
    }
    let out = match kind_of(input.ty) {
        "Profile" => profile::lower(input, ctx, &mut errs),
        "Notebook" => notebook::lower(input, ctx, &mut errs),
        "PodDefault" => notebook::lower_pod_default(input, ctx, &mut errs),
        "TrainingJob" => training::lower(input, ctx, &mut errs),
        "TrainJob" => trainjob::lower(input, ctx, &mut errs),
        "TrainingRuntime" => trainjob::lower_runtime(input, ctx, &mut errs),
        "Experiment" => katib::lower(input, ctx, &mut errs),
        "InferenceService" => kserve::lower(input, ctx, &mut errs),
        "ServingRuntime" => kserve::lower_runtime(input, ctx, &mut errs),
        "InferenceGraph" => kserve::lower_graph(input, ctx, &mut errs),
        "LLMInferenceService" => kserve::lower_llm(input, ctx, &mut errs),
        "Object" => object::lower(input, ctx, &mut errs),
        "NodePool" => Vec::new(),
        "Pipeline" => {
            let (out, mut problems) = pipeline::lower(input, ctx);
            errs.append(&mut problems);
            out
        }
        other => {
            errs.push(
                LowerError::new(
                    codes::INVALID_LOWERING_INPUT,
                    "",
                    format!(
                        "a `{other}` is part of an object, not an object (emitted as `{}`)",
                        input.name
                    ),
                )
                .with_help(
                    "emit a stdlib type (kf.Notebook, kf.TrainingJob, ...) or kf.Object for any other kind",
                ),
            );
            Vec::new()
        }
    };
    fields::report_unsupported(input, &mut errs);
    profile::check_namespace_has_profile(input, ctx, &mut errs);
    (out, errs)
}

/// Module prefix of the generated schema modules (`stdlib/schemas/`, imported as `k8s/...`).
pub const GENERATED_PREFIX: &str = "k8s/";

/// The last segment of a qualified type name: `kubeflow.Notebook` -> `Notebook`.
pub fn kind_of(ty: &str) -> &str {
    ty.rsplit('.').next().unwrap_or(ty)
}

/// The name of a run-like object: `<name>-<8 hex digits of blake3(object)>`, where the hash
/// covers the lowered object with its `metadata.name` removed (see the module docs). The base
/// name is shortened so that the result stays a DNS-1123 label (63 characters).
pub fn run_name(name: &str, object: &Value) -> String {
    let mut hasher = blake3::Hasher::new();
    {
        // Streamed into the hasher: neither a copy of the object nor its bytes are kept.
        let mut writer = std::io::BufWriter::with_capacity(8192, &mut hasher);
        // Writing JSON to memory cannot fail.
        let _ = serde_json::to_writer(&mut writer, &WithoutName(object));
        let _ = std::io::Write::flush(&mut writer);
    }
    let hash = hasher.finalize().to_hex();
    let base: String = name.chars().take(63 - 9).collect();
    format!("{}-{}", base.trim_end_matches('-'), &hash[..8])
}

/// A lowered object serialized as its run-name hash covers it: compact JSON in insertion order
/// without `metadata.name`. The other metadata keys come in the order kiln has always hashed
/// them (it removed the name from a copy with a swap, which moves the last key into the name's
/// place); keeping that order keeps every existing run name.
struct WithoutName<'a>(&'a Value);

impl serde::Serialize for WithoutName<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let Some(top) = self.0.as_object() else {
            return self.0.serialize(serializer);
        };
        let mut map = serializer.serialize_map(Some(top.len()))?;
        for (key, value) in top {
            match value.as_object() {
                Some(meta) if key == "metadata" && meta.contains_key("name") => {
                    map.serialize_entry(key, &MetadataWithoutName(meta))?
                }
                _ => map.serialize_entry(key, value)?,
            }
        }
        map.end()
    }
}

/// `metadata` without `name`, the last key moved into its place (see [`WithoutName`]).
struct MetadataWithoutName<'a>(&'a Map<String, Value>);

impl serde::Serialize for MetadataWithoutName<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut entries: Vec<(&String, &Value)> = self.0.iter().collect();
        if let Some(at) = entries.iter().position(|(k, _)| k.as_str() == "name") {
            entries.swap_remove(at);
        }
        let mut map = serializer.serialize_map(Some(entries.len()))?;
        for (key, value) in entries {
            map.serialize_entry(key, value)?;
        }
        map.end()
    }
}

/// Names a lowered run-like object of `input`: its content-derived name (see [`run_name`]),
/// unless the user asked for the exact name (`exact_name = true`). Both carry the
/// `kiln.dev/run-of` label.
pub(crate) fn name_run_of(input: &LowerInput, object: Value) -> Value {
    if boolean(input.value, "exact_name") == Some(true) {
        let mut object = object;
        if let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut) {
            let labels = meta.entry("labels").or_insert_with(|| json!({}));
            if let Some(l) = labels.as_object_mut() {
                l.insert("kiln.dev/run-of".into(), json!(input.name));
            }
        }
        return object;
    }
    name_run(input.name, object)
}

/// Gives a lowered run-like object its content-derived name and the `kiln.dev/run-of` label.
pub(crate) fn name_run(name: &str, mut object: Value) -> Value {
    if let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut) {
        let labels = meta.entry("labels").or_insert_with(|| json!({}));
        if let Some(l) = labels.as_object_mut() {
            l.insert("kiln.dev/run-of".into(), json!(name));
        }
    }
    let full = run_name(name, &object);
    if let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut) {
        // `name` is already the first key; inserting keeps its position.
        meta.insert("name".into(), json!(full));
    }
    object
}

// ---------------------------------------------------------------------------------------------
// Reading values.

/// A string field.
pub(crate) fn s<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

/// An integer field.
pub(crate) fn int(v: &Value, key: &str) -> Option<i64> {
    v.get(key)
        .and_then(|x| x.as_i64().or_else(|| x.as_f64().map(|f| f as i64)))
}

/// A boolean field.
pub(crate) fn boolean(v: &Value, key: &str) -> Option<bool> {
    v.get(key).and_then(Value::as_bool)
}

/// A non-empty map/record field.
pub(crate) fn obj<'a>(v: &'a Value, key: &str) -> Option<&'a Map<String, Value>> {
    v.get(key).and_then(Value::as_object).filter(|m| !m.is_empty())
}

/// A non-empty list field.
pub(crate) fn list<'a>(v: &'a Value, key: &str) -> Option<&'a Vec<Value>> {
    v.get(key).and_then(Value::as_array).filter(|l| !l.is_empty())
}

/// A tagged-union value `{ "Tag": { fields } }` -> (tag, fields).
pub(crate) fn variant(v: &Value) -> Option<(&str, &Value)> {
    let m = v.as_object()?;
    if m.len() != 1 {
        return None;
    }
    m.iter().next().map(|(k, v)| (k.as_str(), v))
}

/// Copies a field when present (same key or renamed).
pub(crate) fn copy(out: &mut Map<String, Value>, v: &Value, from: &str, to: &str) {
    if let Some(x) = v.get(from) {
        out.insert(to.into(), x.clone());
    }
}

/// The fields of `v` named in `pairs` (`(kiln name, manifest name)`), renamed, in `pairs`
/// order; absent fields are left out.
pub(crate) fn renamed(v: &Value, pairs: &[(&str, &str)]) -> Map<String, Value> {
    let mut out = Map::new();
    for (from, to) in pairs {
        copy(&mut out, v, from, to);
    }
    out
}

/// A number rendered as a string (Katib feasible spaces, algorithm settings).
pub(crate) fn num_string(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                i.to_string()
            } else {
                let f = n.as_f64().unwrap_or(0.0);
                format!("{f}")
            }
        }
        Value::Bool(b) => b.to_string(),
        other => other.to_string(),
    }
}

/// A quantity in milli-units (`"1536Mi"`, `"500m"`, `4`), or `None` when not a quantity.
pub(crate) fn quantity_milli(v: &Value) -> Option<i128> {
    match v {
        Value::Number(n) => n
            .as_i64()
            .map(|i| i128::from(i) * 1000)
            .or_else(|| n.as_f64().map(|f| (f * 1000.0).round() as i128)),
        Value::String(s) => parse_quantity(s),
        _ => None,
    }
}

/// Parses a Kubernetes quantity to milli-units (exact for whole milli-units).
pub fn parse_quantity(s: &str) -> Option<i128> {
    let s = s.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-' || c == '+'))
        .unwrap_or(s.len());
    let (num, suffix) = s.split_at(split);
    if num.is_empty() {
        return None;
    }
    let (int_part, frac_part) = num.split_once('.').unwrap_or((num, ""));
    let negative = int_part.starts_with('-');
    let int_digits = int_part.trim_start_matches(['-', '+']);
    // value = digits / 10^scale
    let digits: String = format!("{int_digits}{frac_part}");
    let mantissa: i128 = if digits.is_empty() {
        0
    } else {
        digits.parse().ok()?
    };
    let scale = frac_part.len() as u32;
    let (num_factor, den_factor): (i128, i128) = match suffix {
        "" => (1000, 1),
        "m" => (1, 1),
        "k" => (1_000_000, 1),
        "M" => (1_000_000_000, 1),
        "G" => (1_000_000_000_000, 1),
        "T" => (1_000_000_000_000_000, 1),
        "P" => (1_000_000_000_000_000_000, 1),
        "E" => (1_000_000_000_000_000_000_000, 1),
        "Ki" => (1024 * 1000, 1),
        "Mi" => (1024i128.pow(2) * 1000, 1),
        "Gi" => (1024i128.pow(3) * 1000, 1),
        "Ti" => (1024i128.pow(4) * 1000, 1),
        "Pi" => (1024i128.pow(5) * 1000, 1),
        "Ei" => (1024i128.pow(6) * 1000, 1),
        _ => return None,
    };
    let value = mantissa.checked_mul(num_factor)? / (10i128.checked_pow(scale)? * den_factor);
    Some(if negative { -value } else { value })
}

/// A memory amount in milli-bytes as a readable quantity (`16Gi`, `1536Mi`, `500M`).
pub(crate) fn fmt_memory(milli: i128) -> String {
    let bytes = milli / 1000;
    if milli % 1000 != 0 {
        return format!("{milli}m");
    }
    for (suffix, f) in [
        ("Ti", 1024i128.pow(4)),
        ("Gi", 1024i128.pow(3)),
        ("Mi", 1024i128.pow(2)),
        ("Ki", 1024),
    ] {
        if bytes != 0 && bytes % f == 0 {
            return format!("{}{suffix}", bytes / f);
        }
    }
    bytes.to_string()
}

/// CPU in milli-cores as a readable quantity (`4`, `500m`).
pub(crate) fn fmt_cpu(milli: i128) -> String {
    if milli % 1000 == 0 {
        (milli / 1000).to_string()
    } else {
        format!("{milli}m")
    }
}

/// Seconds of a duration string: Go form (`1h30m0s`, `500ms`) or kiln form (`90min`, `2d`), or
/// a number of seconds.
pub(crate) fn duration_secs(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => {
            let mut rest = s.as_str();
            let mut total_ms: f64 = 0.0;
            if rest == "0" {
                return Some(0);
            }
            while !rest.is_empty() {
                let n_end = rest.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
                let n: f64 = rest[..n_end].parse().ok()?;
                rest = &rest[n_end..];
                let u_end = rest
                    .find(|c: char| c.is_ascii_digit() || c == '.')
                    .unwrap_or(rest.len());
                let factor = match &rest[..u_end] {
                    "ms" => 1.0,
                    "s" => 1000.0,
                    "m" | "min" => 60_000.0,
                    "h" => 3_600_000.0,
                    "d" => 86_400_000.0,
                    _ => return None,
                };
                total_ms += n * factor;
                rest = &rest[u_end..];
            }
            Some((total_ms / 1000.0).ceil() as i64)
        }
        _ => None,
    }
}

/// A percentage as a number: `10`, `10.5`, `"10%"`.
pub(crate) fn percent(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().trim_end_matches('%').parse().ok(),
        _ => None,
    }
}

/// A JSON pointer segment, escaped (`~0`, `~1`).
pub(crate) fn ptr(base: &str, key: &str) -> String {
    format!("{base}/{}", key.replace('~', "~0").replace('/', "~1"))
}

// ---------------------------------------------------------------------------------------------
// Building manifests.

/// Whether `s` is a DNS-1123 label.
pub(crate) fn is_dns_label(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && b[0] != b'-'
        && b[b.len() - 1] != b'-'
}

/// Checks the emitted name (and the namespace when given) are DNS-1123 labels (K0801).
/// `max` is the longest name the target accepts.
pub(crate) fn check_name(input: &LowerInput, max: usize, errs: &mut Vec<LowerError>) {
    if !is_dns_label(input.name) || input.name.len() > max {
        errs.push(
            LowerError::new(
                codes::INVALID_NAME,
                "",
                format!(
                    "`{}` is not a valid name: use at most {max} lowercase letters, digits and `-`, starting and ending with a letter or digit",
                    kiln_lang::diagnostic::quote(input.name)
                ),
            )
            .with_help(format!("for example `{}`", suggest_name(input.name, max))),
        );
    }
    if let Some(ns) = s(input.value, "namespace")
        && !is_dns_label(ns)
    {
        errs.push(
            LowerError::new(
                codes::INVALID_NAME,
                "/namespace",
                format!(
                    "namespace `{}` is not a DNS-1123 label",
                    kiln_lang::diagnostic::quote(ns)
                ),
            )
            .with_help(format!("for example `{}`", suggest_name(ns, 63))),
        );
    }
}

/// `s` as a DNS-1123 label of at most `max` characters: lowercase ASCII letters and digits,
/// anything else a `-`, no `-` at either end (empty when nothing is left).
pub fn dns_label(s: &str, max: usize) -> String {
    let mut out: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    out.truncate(max);
    out.trim_matches('-').to_string()
}

/// A DNS-1123 label close to `s`, for a help line.
fn suggest_name(s: &str, max: usize) -> String {
    let label = dns_label(s, max);
    if label.is_empty() { "name".into() } else { label }
}

/// `metadata` of a manifest: name, namespace (when given), labels and annotations (when any).
pub(crate) fn metadata(input: &LowerInput, namespaced: bool) -> Value {
    metadata_with(input, namespaced, Map::new(), Map::new())
}

/// `metadata` with extra labels and annotations placed before the user's own.
pub(crate) fn metadata_with(
    input: &LowerInput,
    namespaced: bool,
    mut labels: Map<String, Value>,
    mut annotations: Map<String, Value>,
) -> Value {
    let mut m = Map::new();
    m.insert("name".into(), json!(input.name));
    if namespaced && let Some(ns) = s(input.value, "namespace") {
        m.insert("namespace".into(), json!(ns));
    }
    if let Some(l) = obj(input.value, "labels") {
        labels.extend(l.clone());
    }
    if let Some(a) = obj(input.value, "annotations") {
        annotations.extend(a.clone());
    }
    if !labels.is_empty() {
        m.insert("labels".into(), Value::Object(labels));
    }
    if !annotations.is_empty() {
        m.insert("annotations".into(), Value::Object(annotations));
    }
    Value::Object(m)
}

/// [`lower`] of one value (tests).
#[cfg(test)]
pub(crate) fn lower_one(
    ty: &str,
    name: &str,
    value: &Value,
    ctx: &LowerContext,
) -> Result<Vec<Value>, Vec<LowerError>> {
    lower(&LowerInput { ty, name, value }, ctx)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities_parse_to_milli_units() {
        assert_eq!(parse_quantity("500m"), Some(500));
        assert_eq!(parse_quantity("4"), Some(4000));
        assert_eq!(parse_quantity("0.5"), Some(500));
        assert_eq!(parse_quantity("1536Mi"), Some(1536 * 1024 * 1024 * 1000));
        assert_eq!(parse_quantity("1.5Gi"), Some(1536 * 1024 * 1024 * 1000));
        assert_eq!(parse_quantity("2G"), Some(2_000_000_000_000));
        assert_eq!(parse_quantity("16gb"), None);
        assert_eq!(fmt_memory(parse_quantity("1536Mi").unwrap()), "1536Mi");
        assert_eq!(fmt_cpu(500), "500m");
    }

    #[test]
    fn durations_read_both_forms() {
        assert_eq!(duration_secs(&json!("1h30m0s")), Some(5400));
        assert_eq!(duration_secs(&json!("90min")), Some(5400));
        assert_eq!(duration_secs(&json!("2h")), Some(7200));
        assert_eq!(duration_secs(&json!(30)), Some(30));
    }

    #[test]
    fn percent_accepts_numbers_and_strings() {
        assert_eq!(percent(&json!(10)), Some(10.0));
        assert_eq!(percent(&json!("10%")), Some(10.0));
    }

    #[test]
    fn run_names_are_content_derived_and_stable() {
        let a = json!({"metadata": {"name": "x"}, "spec": {"a": 1}});
        let b = json!({"metadata": {"name": "y"}, "spec": {"a": 1}});
        let c = json!({"metadata": {"name": "x"}, "spec": {"a": 2}});
        assert_eq!(run_name("job", &a), run_name("job", &b));
        assert_ne!(run_name("job", &a), run_name("job", &c));
        assert!(run_name("job", &a).starts_with("job-"));
        assert_eq!(run_name(&"a".repeat(80), &a).len(), 63);
    }

    #[test]
    fn run_names_hash_the_object_as_a_copy_without_its_name_serializes() {
        // The form every existing run name was derived from: a copy, the name swap-removed.
        let copied = |object: &Value| {
            let mut obj = object.clone();
            obj["metadata"].as_object_mut().unwrap().remove("name");
            let hash = blake3::hash(&serde_json::to_vec(&obj).unwrap()).to_hex();
            format!("job-{}", &hash[..8])
        };
        for object in [
            json!({"apiVersion": "v1", "metadata": {"name": "x", "namespace": "n", "labels": {"a": "1"}, "annotations": {"b": "2"}}, "spec": {"z": 1, "a": [1, 2]}}),
            json!({"metadata": {"namespace": "n", "name": "x"}, "spec": {}}),
            json!({"metadata": {"name": "x"}}),
        ] {
            assert_eq!(run_name("job", &object), copied(&object), "{object}");
        }
    }

    #[test]
    fn unknown_types_are_reported() {
        let v = json!({});
        let err = lower_one("main.Foo", "x", &v, &LowerContext::default()).unwrap_err();
        assert_eq!(err[0].code, codes::INVALID_LOWERING_INPUT);
    }

    #[test]
    fn node_pools_lower_to_nothing() {
        let v = json!({"accelerator": {"resource": "nvidia.com/gpu", "model": "a100"}, "per_node": 8, "cpu": "96", "memory": "1Ti"});
        let out = lower_one("kubeflow.NodePool", "a100", &v, &LowerContext::default()).unwrap();
        assert!(out.is_empty());
    }
}
