//! Evaluated values: plain trees with deterministic (source) key order.
//!
//! This is the output form of evaluation (what `kiln eval` prints and, later, what manifests
//! are lowered from). Quantities, durations and percentages stay typed so that they serialize
//! canonically: `1.5Gi` prints as `"1536Mi"`, `90s` as `"1m30s"`, `10%` as `"10%"`.
//! Tagged-union values are one-key records `{ Tag: { fields } }`; function values (which a
//! stdlib lowering consumes) print as the string `"<function>"`.

use crate::units::{Duration, Percent, Quantity};

/// A fully evaluated value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    /// A Kubernetes quantity (Cpu, Memory or any Quantity); serialized as its canonical string.
    Quantity(Quantity),
    /// Serialized as a Go duration string (`1h30m0s`).
    Duration(Duration),
    /// Serialized as `"10%"`.
    Percent(Percent),
    List(Vec<Value>),
    /// Records and maps, in source / insertion order.
    Record(indexmap::IndexMap<String, Value>),
}

impl Value {
    /// The JSON form used for `kiln eval` and, later, manifests.
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Value::Bool(b) => serde_json::Value::Bool(*b),
            Value::Int(i) => serde_json::Value::from(*i),
            Value::Float(f) => serde_json::Value::from(*f),
            Value::Str(s) => serde_json::Value::String(s.clone()),
            Value::Quantity(q) => serde_json::Value::String(q.canonical()),
            Value::Duration(d) => serde_json::Value::String(d.canonical()),
            Value::Percent(p) => serde_json::Value::String(p.canonical()),
            Value::List(items) => serde_json::Value::Array(items.iter().map(Value::to_json).collect()),
            Value::Record(fields) => {
                serde_json::Value::Object(fields.iter().map(|(k, v)| (k.clone(), v.to_json())).collect())
            }
        }
    }
}
