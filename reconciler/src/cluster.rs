//! The cluster handle: a kube client plus API discovery (which resource and scope serves a
//! kind), refreshed after CRDs are created.
//!
//! Discovery uses the aggregated discovery API (two requests for every group) and falls back
//! to per-group discovery on servers without it.

use crate::error::{Cause, ReconcileError};
use crate::object::{GroupKind, ObjectId};
use kube::Client;
use kube::api::{Api, ApiResource, DynamicObject};
use kube::discovery::{Discovery, Scope};
use std::future::Future;
use tokio::task::JoinSet;

/// How many requests run at once: enough to hide latency, few enough not to trip API
/// priority and fairness on a small control plane.
pub const CONCURRENCY: usize = 16;

/// Runs `f` over `items` with at most [`CONCURRENCY`] in flight; results in completion order.
pub async fn bounded<T, O, Fut>(items: impl IntoIterator<Item = T>, f: impl Fn(T) -> Fut) -> Vec<O>
where
    Fut: Future<Output = O> + Send + 'static,
    O: Send + 'static,
{
    let mut set = JoinSet::new();
    let mut out = Vec::new();
    let mut queue = items.into_iter();
    loop {
        while set.len() < CONCURRENCY {
            let Some(item) = queue.next() else { break };
            set.spawn(f(item));
        }
        match set.join_next().await {
            Some(done) => out.push(done.expect("request tasks do not panic")),
            None => break,
        }
    }
    out
}

/// A resolved kind: how to reach it and whether it is namespaced.
#[derive(Debug, Clone)]
pub struct Resource {
    pub api: ApiResource,
    pub namespaced: bool,
}

/// A client and its discovery cache.
pub struct Cluster {
    client: Client,
    discovery: Option<Discovery>,
}

impl Cluster {
    /// Wraps a client; discovery runs on first use.
    pub fn new(client: Client) -> Cluster {
        Cluster {
            client,
            discovery: None,
        }
    }

    /// The client.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// (Re-)reads which kinds the server serves.
    pub async fn refresh(&mut self) -> Result<(), ReconcileError> {
        let d = match Discovery::new(self.client.clone()).run_aggregated().await {
            Ok(d) => d,
            Err(kube::Error::Api(s)) if matches!(s.code, 404 | 406 | 415) => {
                Discovery::new(self.client.clone())
                    .run()
                    .await
                    .map_err(|e| ReconcileError::kube(None, "API discovery", &e))?
            }
            Err(e) => return Err(ReconcileError::kube(None, "API discovery", &e)),
        };
        self.discovery = Some(d);
        Ok(())
    }

    /// Discovery, running it if it has not run yet.
    pub async fn ensure_discovery(&mut self) -> Result<(), ReconcileError> {
        if self.discovery.is_none() {
            self.refresh().await?;
        }
        Ok(())
    }

    /// The resource serving a group/kind, at `version` when given and served, else at the
    /// most stable version that serves this kind.
    ///
    /// Not `ApiGroup::recommended_kind`: that looks only at the group's preferred version, and
    /// a group's kinds need not share versions. In `kubeflow.org` the preferred version is `v1`
    /// (Profile, Notebook, PyTorchJob) while Katib's Experiment and KFP's ScheduledWorkflow are
    /// served only at `v1beta1`; with `recommended_kind` an inventory kind of those would
    /// resolve to nothing, its members would not be listed, and prune would miss them.
    pub fn resolve(&self, gk: &GroupKind, version: Option<&str>) -> Option<Resource> {
        let group = self.discovery.as_ref()?.get(&gk.group)?;
        let found = version
            .and_then(|v| {
                group
                    .versioned_resources(v)
                    .into_iter()
                    .find(|(ar, _)| ar.kind == gk.kind)
            })
            .or_else(|| {
                group
                    .resources_by_stability()
                    .into_iter()
                    .find(|(ar, _)| ar.kind == gk.kind)
            })?;
        let (api, caps) = found;
        Some(Resource {
            api,
            namespaced: matches!(caps.scope, Scope::Namespaced),
        })
    }

    /// The resource for an object id, or a "kind not served" error naming it.
    pub fn resolve_id(&self, id: &ObjectId) -> Result<Resource, ReconcileError> {
        self.resolve(&id.group_kind(), Some(&id.version))
            .ok_or_else(|| not_served(id))
    }

    /// An API handle for a resource in a namespace ("" for cluster-scoped or all).
    pub fn api(&self, r: &Resource, namespace: &str) -> Api<DynamicObject> {
        if r.namespaced && !namespace.is_empty() {
            Api::namespaced_with(self.client.clone(), namespace, &r.api)
        } else {
            Api::all_with(self.client.clone(), &r.api)
        }
    }
}

/// The error for an object whose kind the server does not serve.
pub fn not_served(id: &ObjectId) -> ReconcileError {
    ReconcileError::object(
        id,
        "resolve kind",
        Cause::KindNotServed {
            detail: format!("no API serves {} {}", id.api_version(), id.kind),
        },
    )
}
