//! Names of other objects: one mechanism for every field that names another object by its name
//! (an InferenceGraph step's `service`, a TrainJob's `runtime`, a Notebook's `pod_defaults`, a
//! model's `runtime`). The name is checked against the objects of that kind the project declares
//! ([`ProjectFacts::declared`](super::facts::ProjectFacts::declared)):
//!
//! - declared, and it can be the target (same namespace, the scope the field asks for): the
//!   reference is to that object, which the caller may check further (a runtime serves the
//!   model's format);
//! - declared with that name but unusable (another namespace, a namespaced runtime where a
//!   cluster one is asked for): an error saying why;
//! - not declared, but close to a declared name (did-you-mean): an error, since the operator
//!   would accept the object and leave it waiting for something that never appears;
//! - otherwise external: an object installed in the cluster outside this project (KServe's
//!   built-in runtimes, a platform team's ClusterTrainingRuntimes), taken as written. Declaring
//!   the object in the project makes the reference checked. Names of one family (`model-a`
//!   beside a declared `model-b`) are not taken for misspellings.

use kiln_lang::Code;
use kiln_lang::diagnostic::did_you_mean;
use serde_json::Value;

use super::facts::ContextObject;
use super::{LowerError, codes, s};

/// One field's name of another object.
pub(crate) struct ObjectRef<'a> {
    /// What the field names, for messages (`InferenceService`, `PodDefault`).
    pub what: &'a str,
    /// The name as written.
    pub name: &'a str,
    /// The field (a JSON pointer into the referring object).
    pub pointer: String,
    /// The code of a name that does not resolve (K0817 for serving runtimes, else K0819).
    pub code: Code,
}

impl ObjectRef<'_> {
    /// The declared object `self` names among `declared`, or `None` when it is external or
    /// misspelled (reported to `errs`). `unusable` says why an object with the right name cannot
    /// be the target (`None` when it can).
    pub(crate) fn resolve<'c>(
        &self,
        declared: &'c [ContextObject],
        unusable: impl Fn(&ContextObject) -> Option<String>,
        errs: &mut Vec<LowerError>,
    ) -> Option<&'c ContextObject> {
        let named: Vec<&ContextObject> = declared.iter().filter(|o| o.name == self.name).collect();
        if let Some(o) = named.iter().find(|o| unusable(o).is_none()) {
            return Some(o);
        }
        if let Some(why) = named.first().and_then(|o| unusable(o)) {
            errs.push(
                LowerError::new(
                    self.code,
                    self.pointer.clone(),
                    format!(
                        "{} `{}` is declared in this project, but {why}",
                        self.what, self.name
                    ),
                )
                .with_help(format!(
                    "name a {} this object can use, or change the declaration",
                    self.what
                )),
            );
            return None;
        }
        let usable = declared
            .iter()
            .filter(|o| unusable(o).is_none())
            .map(|o| o.name.as_str());
        if let Some(best) = did_you_mean(self.name, usable)
            && !siblings(self.name, best)
        {
            errs.push(
                LowerError::new(
                    self.code,
                    self.pointer.clone(),
                    format!("{} `{}` is not declared in this project", self.what, self.name),
                )
                .with_help(format!(
                    "did you mean `{best}`? (A name that is not close to a declared one is taken to be a {} installed in the cluster.)",
                    self.what
                )),
            );
        }
        None
    }
}

/// Whether `a` and `b` are names of a family rather than a misspelling: the same `-`-separated
/// parts but one, which is short in both and not the other's letters swapped (`model-a` /
/// `model-b`, `llama-7b` / `llama-8b`, but not `gcp` / `gpc`).
fn siblings(a: &str, b: &str) -> bool {
    let (pa, pb): (Vec<&str>, Vec<&str>) = (a.split('-').collect(), b.split('-').collect());
    let differing: Vec<(&str, &str)> = pa
        .iter()
        .zip(&pb)
        .filter(|(x, y)| x != y)
        .map(|(x, y)| (*x, *y))
        .collect();
    let letters = |s: &str| {
        let mut l: Vec<char> = s.chars().collect();
        l.sort_unstable();
        l
    };
    pa.len() == pb.len()
        && matches!(differing.as_slice(), [(x, y)] if x.len() <= 3 && y.len() <= 3 && letters(x) != letters(y))
}

/// Why `o` is not in namespace `ns` (the referring object's), when it is not.
pub(crate) fn other_namespace(o: &ContextObject, ns: Option<&str>) -> Option<String> {
    let theirs = s(&o.value, "namespace");
    (theirs != ns).then(|| {
        format!(
            "in namespace `{}`, not `{}`",
            theirs.unwrap_or("(none)"),
            ns.unwrap_or("(none)")
        )
    })
}

/// A value of an open label (`trainer.kubeflow.org/framework`) close to a well-known one but not
/// equal to it: a warning (other values are custom ones, taken as written).
pub(crate) fn well_known(
    field: &str,
    value: &str,
    known: &[&str],
    pointer: String,
    errs: &mut Vec<LowerError>,
) {
    if known.contains(&value) {
        return;
    }
    if let Some(best) = did_you_mean(value, known.iter().copied()) {
        errs.push(
            LowerError::new(
                codes::UNKNOWN_OBJECT_REFERENCE,
                pointer,
                format!("{field} `{value}` is not one of the well-known values"),
            )
            .with_help(format!("did you mean `{best}`? Known: {}.", known.join(", ")))
            .warning(),
        );
    }
}

/// The names of a list field of strings (`pod_defaults`), with their index.
pub(crate) fn names(v: &Value, field: &str) -> Vec<(usize, String)> {
    v.get(field)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
        .filter_map(|(i, x)| x.as_str().map(|n| (i, n.to_string())))
        .collect()
}
