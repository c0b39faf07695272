//! The API server stops in the middle of an apply (issue 5, item 8), on a real control plane.
//!
//! A control plane of this test's own ([`DedicatedControlPlane`]; the shared one serves the
//! other tests and must stay up) holds a PVC and 50 ConfigMaps applied by kiln. The next apply
//! changes those 50, adds 350 and drops one; after 40 of its writes were sent, the real
//! kube-apiserver process is stopped. The apply must return promptly with a one-paragraph error
//! naming the cause, prune nothing, and leave everything already stored in place; once the
//! API server is back, a re-run converges and a third run writes nothing.

mod common;

use common::{cm, pvc};
use k8s_openapi::api::core::v1::{ConfigMap, PersistentVolumeClaim};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kiln_reconciler::counting::counting;
use kiln_reconciler::object::CONTENT_HASH;
use kiln_reconciler::{ApplySetRef, Cause, Cluster, Manifest, Options, Report, reconcile};
use kiln_testsupport::DedicatedControlPlane;
use kube::Client;
use kube::api::{Api, ListParams};
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::{Notify, watch};

/// ConfigMaps of the first (complete) apply; the interrupted one updates them all.
const EXISTING: usize = 50;
/// ConfigMaps of the interrupted apply.
const DESIRED: usize = 400;
/// Writes sent before the API server is stopped.
const STOP_AFTER: usize = 40;
/// Upper bound for one apply, however loaded the machine: the point is that it returns.
const APPLY_LIMIT: Duration = Duration::from_secs(300);

/// ConfigMap `c<i>` of the given version.
fn numbered_cm(ns: &str, i: usize, version: &str) -> Manifest {
    cm(
        ns,
        &format!("c{i:03}"),
        json!({"version": version, "index": i.to_string()}),
    )
}

/// Wraps `client` so that, once `after` writes have been sent, every further request waits
/// until `released` turns true; `reached` is notified when the first one is held. This makes
/// the stop land mid-apply at any machine speed: the writes in flight finish or fail as the
/// API server goes down, and the held ones then meet the stopped server, as the rest of an
/// apply would. Nothing is answered here; every request that is sent goes to the API server.
fn holding_client(
    client: Client,
    after: usize,
    reached: Arc<Notify>,
    released: watch::Receiver<bool>,
) -> Client {
    let writes = Arc::new(AtomicUsize::new(0));
    let ns = client.default_namespace().to_string();
    let svc = tower::service_fn(move |req: http::Request<kube::client::Body>| {
        let is_write =
            req.method() != http::Method::GET && !req.uri().query().unwrap_or("").contains("dryRun");
        let seen = if is_write {
            writes.fetch_add(1, Ordering::SeqCst)
        } else {
            writes.load(Ordering::SeqCst)
        };
        let hold = seen >= after;
        if hold {
            reached.notify_one();
        }
        let (inner, mut released) = (client.clone(), released.clone());
        async move {
            if hold {
                // An Err here means the sender is gone: the test is over anyway.
                let _ = released.wait_for(|r| *r).await;
            }
            inner.send(req).await
        }
    });
    Client::new(svc, ns)
}

/// The content hash of every ConfigMap and PVC in `ns`, by name ("" for the ApplySet parent,
/// which has none).
async fn stored_hashes(client: &Client, ns: &str) -> BTreeMap<String, String> {
    let hash = |meta: &ObjectMeta| {
        let h = meta
            .annotations
            .as_ref()
            .and_then(|a| a.get(CONTENT_HASH))
            .cloned();
        (meta.name.clone().unwrap(), h.unwrap_or_default())
    };
    let mut out: BTreeMap<String, String> = Api::<ConfigMap>::namespaced(client.clone(), ns)
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .iter()
        .map(|c| hash(&c.metadata))
        .collect();
    out.extend(
        Api::<PersistentVolumeClaim>::namespaced(client.clone(), ns)
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
            .iter()
            .map(|p| hash(&p.metadata)),
    );
    out
}

fn hash_of(desired: &[Manifest], name: &str) -> String {
    let m = desired
        .iter()
        .find(|m| m.id().name == name)
        .expect("a desired object");
    m.hash().to_string()
}

/// `reconcile`, failing the test if it does not return within [`APPLY_LIMIT`] or cannot start.
async fn bounded_reconcile(cluster: &mut Cluster, desired: &[Manifest], opts: &Options) -> Report {
    let started = Instant::now();
    let result = tokio::time::timeout(APPLY_LIMIT, reconcile(cluster, desired, opts))
        .await
        .unwrap_or_else(|_| panic!("the apply hung for {}s", APPLY_LIMIT.as_secs()));
    eprintln!("apply took {:.1}s", started.elapsed().as_secs_f64());
    result.unwrap_or_else(|e| panic!("the run could not start: {e}"))
}

fn errors(report: &Report) -> Vec<String> {
    report.errors.iter().map(ToString::to_string).collect()
}

#[tokio::test]
async fn apiserver_stopped_mid_apply_is_a_clear_error_and_a_rerun_converges() {
    let Some(cp) = DedicatedControlPlane::start("apiserver-stop") else {
        return;
    };
    let tc = cp.cluster().await;
    let ns = tc.namespace("stop").await.unwrap();
    let opts = Options::new(ApplySetRef::new("stop", &ns));

    // 1. A complete apply: the PVC, 50 ConfigMaps and one that the next apply drops.
    let mut first: Vec<Manifest> = (0..EXISTING).map(|i| numbered_cm(&ns, i, "v1")).collect();
    let dropped = cm(&ns, "dropped", json!({"k": "v"}));
    first.extend([pvc(&ns), dropped.clone()]);
    let report = bounded_reconcile(&mut Cluster::new(tc.client().clone()), &first, &opts).await;
    assert!(report.success(), "{:#?}", errors(&report));
    let before = stored_hashes(tc.client(), &ns).await;
    assert_eq!(before.len(), EXISTING + 3, "{before:#?}"); // + the ApplySet parent

    // 2. The interrupted apply: 50 updates and 350 creations; the API server stops after 40
    //    writes were sent.
    let mut desired: Vec<Manifest> = (0..DESIRED).map(|i| numbered_cm(&ns, i, "v2")).collect();
    desired.push(pvc(&ns));
    let reached = Arc::new(Notify::new());
    let (release, released) = watch::channel(false);
    let mut held = Cluster::new(holding_client(
        tc.client().clone(),
        STOP_AFTER,
        reached.clone(),
        released,
    ));
    let apply = bounded_reconcile(&mut held, &desired, &opts);
    tokio::pin!(apply);
    tokio::select! {
        report = &mut apply => panic!("the apply ended before the API server was stopped: {:#?}", errors(&report)),
        () = reached.notified() => {}
    }
    // The request tasks already started keep running meanwhile (they are spawned).
    cp.stop_apiserver().await;
    release.send(true).unwrap();
    let report = apply.await;
    let texts = errors(&report);
    eprintln!("the interrupted apply reported:\n{texts:#?}");
    assert!(!report.success());
    assert!(
        !report.applied.is_empty() && report.applied.len() <= STOP_AFTER,
        "applied {} of {}",
        report.applied.len(),
        desired.len()
    );
    assert!(report.pruned.is_empty(), "{:?}", report.pruned);
    // One paragraph naming the object, the cause and what to do, counting the objects not
    // applied (the first failure stopped the rest from being sent).
    assert_eq!(texts.len(), 1, "{texts:#?}");
    let error = &report.errors[0];
    assert!(matches!(error.cause, Cause::Unreachable { .. }), "{}", texts[0]);
    let failed = error.object.as_deref().expect("names the object");
    assert!(desired.iter().any(|m| &m.id() == failed) && !report.applied.contains(failed));
    assert_eq!(error.more, DESIRED - report.applied.len() - 1, "{}", texts[0]);
    assert!(
        texts[0].starts_with(&format!(
            "{failed}: apply failed: the Kubernetes API server could not be reached ("
        )) && texts[0].contains("Connection refused")
            && texts[0].contains("re-running converges")
            && texts[0].ends_with(&format!(
                "{} more objects were not applied for the same reason.",
                error.more
            ))
            && !texts[0].contains('\n'),
        "{}",
        texts[0]
    );

    // 3. Back up: exactly what the interrupted run reported as applied changed; everything
    //    else, the dropped ConfigMap and the PVC included, is as the first run left it.
    cp.start_apiserver().await;
    let tc = cp.cluster().await;
    let mut expected = before.clone();
    for id in &report.applied {
        expected.insert(id.name.clone(), hash_of(&desired, &id.name));
    }
    assert_eq!(stored_hashes(tc.client(), &ns).await, expected);

    // 4. A re-run (a new process: a new client) converges and now prunes the dropped one.
    let mut cluster = Cluster::new(tc.client().clone());
    let report = bounded_reconcile(&mut cluster, &desired, &opts).await;
    assert!(report.success(), "{:#?}", errors(&report));
    assert_eq!(report.pruned, [dropped.id()]);
    let mut expected: BTreeMap<String, String> = desired
        .iter()
        .map(|m| (m.id().name, m.hash().to_string()))
        .collect();
    expected.insert(opts.applyset.name.clone(), String::new());
    assert_eq!(stored_hashes(tc.client(), &ns).await, expected);

    // 5. A third run writes nothing.
    let (client, log) = counting(tc.client().clone());
    let report = bounded_reconcile(&mut Cluster::new(client), &desired, &opts).await;
    assert!(report.success(), "{:#?}", errors(&report));
    assert!(!report.plan.has_changes(), "{}", report.plan);
    assert!(log.writes().is_empty(), "{:#?}", log.writes());
}
