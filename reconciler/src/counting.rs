//! A request-counting kube client, for tests and benchmarks that must prove a no-op apply
//! writes nothing and lists at most once per kind and namespace.
//!
//! It wraps any `kube::Client` (so it works with whatever auth the client was built with):
//! requests pass through unchanged and each one is recorded as method + path and query.

use kube::Client;
use std::sync::{Arc, Mutex};

/// What one request was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestRecord {
    pub method: String,
    /// Path and query.
    pub uri: String,
}

impl RequestRecord {
    /// A server-side dry run (persists nothing).
    pub fn is_dry_run(&self) -> bool {
        self.uri.contains("dryRun=All")
    }

    /// A request that changes the cluster.
    pub fn is_write(&self) -> bool {
        !matches!(self.method.as_str(), "GET" | "HEAD" | "OPTIONS") && !self.is_dry_run()
    }

    /// A LIST of objects (a GET on a collection, not discovery).
    pub fn is_list(&self) -> bool {
        self.method == "GET" && (self.uri.contains("labelSelector=") || self.uri.contains("limit="))
    }
}

/// The shared log of a counting client.
#[derive(Debug, Clone, Default)]
pub struct RequestLog(Arc<Mutex<Vec<RequestRecord>>>);

impl RequestLog {
    /// Every request so far.
    pub fn records(&self) -> Vec<RequestRecord> {
        self.0.lock().expect("not poisoned").clone()
    }

    /// Forgets what was recorded.
    pub fn reset(&self) {
        self.0.lock().expect("not poisoned").clear();
    }

    /// Requests that changed the cluster.
    pub fn writes(&self) -> Vec<RequestRecord> {
        self.records()
            .into_iter()
            .filter(RequestRecord::is_write)
            .collect()
    }

    /// LIST requests.
    pub fn lists(&self) -> usize {
        self.records().iter().filter(|r| r.is_list()).count()
    }

    /// Dry-run requests.
    pub fn dry_runs(&self) -> usize {
        self.records().iter().filter(|r| r.is_dry_run()).count()
    }
}

/// Wraps `client` so every request it sends is recorded in the returned log.
pub fn counting(client: Client) -> (Client, RequestLog) {
    let log = RequestLog::default();
    let recorder = log.clone();
    let ns = client.default_namespace().to_string();
    let svc = tower::service_fn(move |req: http::Request<kube::client::Body>| {
        recorder.0.lock().expect("not poisoned").push(RequestRecord {
            method: req.method().to_string(),
            uri: req
                .uri()
                .path_and_query()
                .map(|p| p.to_string())
                .unwrap_or_default(),
        });
        let inner = client.clone();
        async move { inner.send(req).await }
    });
    (Client::new(svc, ns), log)
}
