//! Project facts: what lowering one object may know about the others, gathered once per build.
//!
//! Some checks cross objects: a GPU request must match a declared `NodePool`, a model's runtime
//! a declared `ServingRuntime`, and a `Profile`'s quota must cover the workloads of its
//! namespace. Scanning every emitted object for these once per GPU container (or per Profile)
//! made the build quadratic in the number of objects (issue 16), so [`ProjectFacts`] is built in
//! one pass over the emitted objects and then only read: each check touches the few facts it
//! needs (the pools, the runtimes, one namespace's workloads), never the whole project.
//!
//! To add a fact: a field, the kinds it records in [`ProjectFacts::records`], a branch in
//! [`ProjectFacts::add`] and an accessor. Facts keep emit order, so diagnostics that list them
//! (declared pools, a namespace's workloads) are deterministic.

use std::collections::BTreeMap;

use serde_json::Value;

use super::{kind_of, s};

/// One emitted object kept as a fact: its stdlib type, emitted name and JSON value.
#[derive(Debug, Clone, PartialEq)]
pub struct ContextObject {
    pub ty: String,
    pub name: String,
    pub value: Value,
}

/// The facts of one project that cross-object checks read (see the module docs).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProjectFacts {
    /// Emitted objects other objects name (node pools, serving and training runtimes, inference
    /// services, PodDefaults: [`NAMED_KINDS`]), per kind, in emit order.
    named: BTreeMap<&'static str, Vec<ContextObject>>,
    /// Workloads that hold a namespace's quota while they run (notebooks, inference services,
    /// experiments), per namespace, in emit order. Only kept when the project has a `Profile`.
    workloads: BTreeMap<String, Vec<ContextObject>>,
    /// Whether any `Profile` was emitted (its quota check reads `workloads`).
    has_profiles: bool,
    /// The names of the emitted Profiles (the namespaces they create), in emit order.
    profiles: Vec<String>,
}

/// Kinds whose objects other objects name (see `super::refs`), so facts keep them.
pub const NAMED_KINDS: [&str; 5] = [
    "NodePool",
    "ServingRuntime",
    "InferenceService",
    "TrainingRuntime",
    "PodDefault",
];

/// Kinds whose objects count against their namespace's Profile quota.
const QUOTA_WORKLOADS: [&str; 3] = ["Notebook", "InferenceService", "Experiment"];

impl ProjectFacts {
    /// Facts from `(type, name, value)` triples of every emitted object (tests, small inputs);
    /// objects no fact needs are dropped.
    pub fn new<I, T, N>(objects: I) -> ProjectFacts
    where
        I: IntoIterator<Item = (T, N, Value)>,
        T: Into<String>,
        N: Into<String>,
    {
        let objects: Vec<(String, String, Value)> = objects
            .into_iter()
            .map(|(t, n, v)| (t.into(), n.into(), v))
            .collect();
        let mut facts = ProjectFacts::for_types(objects.iter().map(|(t, _, _)| t.as_str()));
        for (ty, name, value) in objects {
            facts.add(ty, name, value);
        }
        facts
    }

    /// Empty facts for a project that emits objects of these types: decides which kinds are
    /// recorded (a project without a Profile keeps no workloads), so that the caller converts
    /// only those objects to JSON for [`ProjectFacts::add`].
    pub fn for_types<'a>(types: impl IntoIterator<Item = &'a str>) -> ProjectFacts {
        ProjectFacts {
            has_profiles: types.into_iter().any(|t| kind_of(t) == "Profile"),
            ..ProjectFacts::default()
        }
    }

    /// Whether an object of stdlib type `ty` is a fact (so [`ProjectFacts::add`] wants it).
    pub fn records(&self, ty: &str) -> bool {
        let kind = kind_of(ty);
        NAMED_KINDS.contains(&kind)
            || kind == "Profile"
            || (self.has_profiles && QUOTA_WORKLOADS.contains(&kind))
    }

    /// Records one emitted object (ignored unless [`ProjectFacts::records`] its type).
    pub fn add(&mut self, ty: impl Into<String>, name: impl Into<String>, value: Value) {
        let ty = ty.into();
        if !self.records(&ty) {
            return;
        }
        let object = ContextObject {
            name: name.into(),
            value,
            ty,
        };
        let kind = kind_of(&object.ty);
        if kind == "Profile" {
            self.profiles.push(object.name);
            return;
        }
        if self.has_profiles
            && QUOTA_WORKLOADS.contains(&kind)
            && let Some(ns) = s(&object.value, "namespace")
        {
            self.workloads
                .entry(ns.to_string())
                .or_default()
                .push(object.clone());
        }
        if let Some(named) = NAMED_KINDS.iter().find(|k| **k == kind) {
            self.named.entry(named).or_default().push(object);
        }
    }

    /// The declared objects of `kind` (one of [`NAMED_KINDS`]), in emit order.
    pub fn declared(&self, kind: &str) -> &[ContextObject] {
        self.named.get(kind).map_or(&[], Vec::as_slice)
    }

    /// The declared node pools, in emit order.
    pub fn node_pools(&self) -> &[ContextObject] {
        self.declared("NodePool")
    }

    /// The declared serving runtimes, in emit order.
    pub fn serving_runtimes(&self) -> &[ContextObject] {
        self.declared("ServingRuntime")
    }

    /// The namespaces the project's Profiles create, in emit order.
    pub fn profile_names(&self) -> &[String] {
        &self.profiles
    }

    /// The quota-holding workloads (notebooks, inference services, experiments) of namespace
    /// `ns`, in emit order. Empty when the project has no Profile.
    pub fn workloads_in(&self, ns: &str) -> &[ContextObject] {
        self.workloads.get(ns).map_or(&[], Vec::as_slice)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn facts_keep_only_what_checks_read() {
        let facts = ProjectFacts::new(vec![
            ("kubeflow.NodePool", "a100", json!({})),
            ("kubeflow.Notebook", "nb", json!({"namespace": "team"})),
            ("kubeflow.TrainingJob", "job", json!({"namespace": "team"})),
        ]);
        assert_eq!(facts.node_pools().len(), 1);
        // No Profile: nobody reads the workloads, so none are kept.
        assert!(facts.workloads_in("team").is_empty());
        let facts = ProjectFacts::new(vec![
            ("kubeflow.Profile", "team", json!({})),
            ("kubeflow.Notebook", "nb", json!({"namespace": "team"})),
            ("kubeflow.TrainingJob", "job", json!({"namespace": "team"})),
            ("kubeflow.Notebook", "other", json!({"namespace": "elsewhere"})),
        ]);
        let names: Vec<&str> = facts
            .workloads_in("team")
            .iter()
            .map(|o| o.name.as_str())
            .collect();
        assert_eq!(names, ["nb"]);
    }
}
