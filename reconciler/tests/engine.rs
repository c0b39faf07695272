//! The reconciler against a real kube-apiserver (kiln-testsupport): the scenario
//! create -> no-op (zero writes) -> one change (one write) -> drift -> conflict -> prune ->
//! PVC kept -> partial desired set -> mass-prune guard; CRDs and their objects in one apply;
//! run-like objects; and the error paths (unreachable, 401, 403). The API server stopping in
//! the middle of an apply has a control plane of its own: `apiserver_stop.rs`.

mod common;

use common::{cm, pvc};
use k8s_openapi::api::core::v1::{ConfigMap, PersistentVolumeClaim};
use kiln_reconciler::counting::{RequestLog, counting};
use kiln_reconciler::inventory::{CONTAINS_GROUP_KINDS, ID_LABEL, PART_OF, TOOLING};
use kiln_reconciler::{
    Action, ApplySetRef, Cause, Cluster, Manifest, Options, Plan, plan_cluster, reconcile,
};
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};
use serde_json::{Value, json};
use std::path::Path;
use std::time::Duration;

fn secret(ns: &str) -> Manifest {
    Manifest::new(json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "creds", "namespace": ns},
        "stringData": {"token": "s3cr3t-value"},
    }))
    .unwrap()
}

/// The applyset parent lives in the test's own namespace, so tests never share one.
fn options(ns: &str) -> Options {
    Options::new(ApplySetRef::new("test", ns))
}

/// A batch Job (run-like, and served without any CRD) running `command`.
fn batch_job(ns: &str, name: &str, command: &str) -> Manifest {
    Manifest::new(json!({
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": {"name": name, "namespace": ns},
        "spec": {"template": {"spec": {"restartPolicy": "Never",
            "containers": [{"name": "t", "image": "busybox", "command": [command]}]}}},
    }))
    .unwrap()
}

/// A test cluster, a fresh namespace, a kiln cluster handle and options for that namespace;
/// `None` when the test is skipped (testsupport has printed why).
async fn setup(prefix: &str) -> Option<(kiln_testsupport::TestCluster, String, Cluster, Options)> {
    let tc = kiln_testsupport::cluster().await?;
    let ns = tc.namespace(prefix).await.unwrap();
    let cluster = Cluster::new(tc.client().clone());
    let opts = options(&ns);
    Some((tc, ns, cluster, opts))
}

fn line(plan: &Plan, id: &str) -> String {
    plan.changes
        .iter()
        .find(|c| c.id.to_string() == id)
        .map(|c| c.to_string())
        .unwrap_or_else(|| panic!("{id} not in plan:\n{plan}"))
}

async fn client_from(kubeconfig: &Path, tweak: impl FnOnce(&mut Config)) -> Client {
    let kc = Kubeconfig::read_from(kubeconfig).unwrap();
    let mut config = Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
        .await
        .unwrap();
    tweak(&mut config);
    Client::try_from(config).unwrap()
}

async fn data(client: &Client, ns: &str, name: &str) -> Option<Value> {
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), ns);
    api.get_opt(name)
        .await
        .unwrap()
        .map(|c| serde_json::to_value(c.data).unwrap())
}

/// Reconciles and asserts it went through.
async fn apply_ok(cluster: &mut Cluster, desired: &[Manifest], opts: &Options) -> kiln_reconciler::Report {
    let report = reconcile(cluster, desired, opts).await.unwrap();
    assert_success(&report);
    report
}

fn assert_success(report: &kiln_reconciler::Report) {
    let errors: Vec<String> = report.errors.iter().map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "errors: {errors:#?}\nplan:\n{}", report.plan);
}

#[tokio::test]
async fn scenario_create_noop_change_drift_conflict_prune_guards() {
    let Some(tc) = kiln_testsupport::cluster().await else {
        return;
    };
    let ns = tc.namespace("rec").await.unwrap();
    let (client, log): (Client, RequestLog) = counting(tc.client().clone());
    let mut cluster = Cluster::new(client.clone());
    let opts = options(&ns);

    let mut desired: Vec<Manifest> = (0..6)
        .map(|i| cm(&ns, &format!("c{i}"), json!({"k": format!("v{i}")})))
        .collect();
    desired.push(secret(&ns));
    desired.push(pvc(&ns));

    // 1. Create.
    let report = apply_ok(&mut cluster, &desired, &opts).await;
    assert_eq!(report.plan.summary().create, 8, "{}", report.plan);
    let parent: Api<ConfigMap> = Api::namespaced(client.clone(), &ns);
    let parent = serde_json::to_value(parent.get("kiln-test").await.unwrap()).unwrap();
    let id = opts.applyset.id();
    assert_eq!(parent["metadata"]["labels"][ID_LABEL], json!(id));
    assert_eq!(parent["metadata"]["annotations"][TOOLING], "kiln/v0.1.0");
    assert_eq!(
        parent["metadata"]["annotations"][CONTAINS_GROUP_KINDS],
        "ConfigMap,PersistentVolumeClaim,Secret"
    );
    let c0 = serde_json::to_value(
        Api::<ConfigMap>::namespaced(client.clone(), &ns)
            .get("c0")
            .await
            .unwrap(),
    )
    .unwrap();
    assert_eq!(c0["metadata"]["labels"][PART_OF], json!(id));
    assert!(c0["metadata"]["annotations"]["kiln.dev/content-hash"].is_string());

    // 2. No-op: zero writes, no dry runs, one LIST per kind (one namespace).
    log.reset();
    let report = apply_ok(&mut cluster, &desired, &opts).await;
    assert_eq!(report.plan.summary().unchanged, 8, "{}", report.plan);
    assert!(log.writes().is_empty(), "no-op wrote: {:#?}", log.writes());
    assert_eq!(log.dry_runs(), 0);
    assert_eq!(log.lists(), 3, "{:#?}", log.records());

    // 3. One changed field: one write.
    desired[2] = cm(&ns, "c2", json!({"k": "changed"}));
    log.reset();
    let report = apply_ok(&mut cluster, &desired, &opts).await;
    assert_eq!(
        line(&report.plan, &format!("ConfigMap/{ns}/c2")),
        format!("ConfigMap/{ns}/c2 update")
    );
    assert_eq!(report.plan.summary().unchanged, 7);
    let diff = &report.plan.get(&desired[2].id()).unwrap().diff;
    assert!(
        diff.contains("-  k: v2") && diff.contains("+  k: changed"),
        "{diff}"
    );
    assert_eq!(log.writes().len(), 1, "{:#?}", log.writes());
    assert_eq!(data(&client, &ns, "c2").await.unwrap()["k"], "changed");

    // 4. Drift by another field manager: the plan shows it, apply reverts it.
    Api::<ConfigMap>::namespaced(client.clone(), &ns)
        .patch(
            "c3",
            &PatchParams {
                field_manager: Some("kubectl-edit".into()),
                ..Default::default()
            },
            &Patch::Merge(json!({"data": {"k": "edited"}})),
        )
        .await
        .unwrap();
    let planned = plan_cluster(&mut cluster, &desired, &opts).await.unwrap();
    let c3 = line(&planned.plan, &format!("ConfigMap/{ns}/c3"));
    assert!(
        c3.contains("update (drift)") && c3.contains("\"kubectl-edit\" changed .data.k"),
        "{c3}"
    );
    let diff = &planned.plan.get(&desired[3].id()).unwrap().diff;
    assert!(
        diff.contains("-  k: edited") && diff.contains("+  k: v3"),
        "{diff}"
    );
    assert_eq!(planned.plan.summary().update, 1, "{}", planned.plan);
    apply_ok(&mut cluster, &desired, &opts).await;
    assert_eq!(data(&client, &ns, "c3").await.unwrap()["k"], "v3");
    log.reset();
    let report = reconcile(&mut cluster, &desired, &opts).await.unwrap();
    assert_eq!(report.plan.summary().unchanged, 8, "{}", report.plan);
    assert!(log.writes().is_empty());

    // 5. Conflict: another manager owns a field kiln now wants; blocked with who and what,
    //    then taken over with force_conflicts.
    Api::<ConfigMap>::namespaced(client.clone(), &ns)
        .patch(
            "c1",
            &PatchParams::apply("other-team").force(),
            &Patch::Apply(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c1", "labels": {"team": "other"}}})),
        )
        .await
        .unwrap();
    let mut c1 = desired[1].value().clone();
    c1["metadata"]["labels"] = json!({"team": "kiln"});
    desired[1] = Manifest::new(c1).unwrap();
    let report = reconcile(&mut cluster, &desired, &opts).await.unwrap();
    let c1_line = line(&report.plan, &format!("ConfigMap/{ns}/c1"));
    assert!(c1_line.contains(" blocked "), "{c1_line}");
    assert_eq!(report.errors.len(), 1);
    let msg = report.errors[0].to_string();
    assert!(
        msg.contains(&format!("ConfigMap/{ns}/c1"))
            && msg.contains("\"other-team\" owns .metadata.labels.team")
            && msg.contains("--force-conflicts"),
        "{msg}"
    );
    assert!(matches!(report.errors[0].cause, Cause::Conflict { .. }));
    let mut forced = opts.clone();
    forced.policy.force_conflicts = true;
    let report = apply_ok(&mut cluster, &desired, &forced).await;
    assert_eq!(report.plan.get(&desired[1].id()).unwrap().action, Action::Update);

    // 6. Remove a spec: pruned.
    let c5 = desired.remove(5);
    let report = apply_ok(&mut cluster, &desired, &opts).await;
    assert_eq!(
        line(&report.plan, &format!("ConfigMap/{ns}/c5")),
        format!("ConfigMap/{ns}/c5 prune")
    );
    assert_eq!(report.pruned, vec![c5.id()]);
    assert!(data(&client, &ns, "c5").await.is_none());

    // 7. Remove the PVC: kept.
    desired.retain(|m| m.id().kind != "PersistentVolumeClaim");
    let report = apply_ok(&mut cluster, &desired, &opts).await;
    let l = line(&report.plan, &format!("PersistentVolumeClaim/{ns}/workspace"));
    assert!(l.contains("keep-protected"), "{l}");
    let pvcs: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), &ns);
    assert!(pvcs.get_opt("workspace").await.unwrap().is_some());

    // 8. A partial desired set (compile error upstream): nothing deleted.
    let mut partial = opts.clone();
    partial.policy.desired_complete = false;
    let report = apply_ok(&mut cluster, &desired[..2], &partial).await;
    assert_eq!(report.plan.summary().prune, 0, "{}", report.plan);
    assert!(report.pruned.is_empty());
    for name in ["c2", "c3", "c4"] {
        assert!(data(&client, &ns, name).await.is_some(), "{name} deleted");
    }

    // 9. Mass prune: 4 of 7 inventory objects -> blocked, nothing deleted.
    log.reset();
    let report = reconcile(&mut cluster, &desired[..2], &opts).await.unwrap();
    assert_eq!(report.plan.summary().blocked, 4, "{}", report.plan);
    assert!(report.pruned.is_empty());
    assert!(report.errors[0].to_string().contains("--allow-mass-prune"));
    assert!(log.writes().is_empty(), "{:#?}", log.writes());
    for name in ["c2", "c3", "c4"] {
        assert!(data(&client, &ns, name).await.is_some(), "{name} deleted");
    }
    // Confirmed: done.
    let mut mass = opts.clone();
    mass.policy.allow_mass_prune = true;
    let report = apply_ok(&mut cluster, &desired[..2], &mass).await;
    assert_eq!(report.pruned.len(), 4);
    assert!(data(&client, &ns, "c4").await.is_none());
}

#[tokio::test]
async fn secrets_never_appear_in_plans() {
    let Some((_tc, ns, mut cluster, opts)) = setup("rec-secret").await else {
        return;
    };
    apply_ok(&mut cluster, &[secret(&ns)], &opts).await;
    let changed = Manifest::new(json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "creds", "namespace": ns},
        "stringData": {"token": "n3w-value"},
    }))
    .unwrap();
    let planned = plan_cluster(&mut cluster, std::slice::from_ref(&changed), &opts)
        .await
        .unwrap();
    let text = kiln_reconciler::output::render_text(&planned.plan, false);
    let json = kiln_reconciler::output::render_json(&planned.plan);
    assert!(text.contains("value changed"), "{text}");
    for leak in ["s3cr3t", "n3w-value", "czNjcjN0LXZhbHVl", "bjN3LXZhbHVl"] {
        assert!(
            !text.contains(leak) && !json.contains(leak),
            "{leak} leaked:\n{text}"
        );
    }
}

#[tokio::test]
async fn crd_and_its_objects_in_one_apply() {
    let Some((_tc, ns, mut cluster, opts)) = setup("rec-crd").await else {
        return;
    };
    // A CRD unique to this test run (CRDs are cluster-scoped).
    let group = format!("{ns}.kiln.dev");
    let crd = Manifest::new(json!({
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": format!("widgets.{group}")},
        "spec": {
            "group": group, "scope": "Namespaced",
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
            "versions": [{"name": "v1", "served": true, "storage": true,
                "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                    "spec": {"type": "object", "properties": {"size": {"type": "integer"}}}}}}}],
        },
    }))
    .unwrap();
    let widget = Manifest::new(json!({
        "apiVersion": format!("{group}/v1"), "kind": "Widget",
        "metadata": {"name": "w", "namespace": ns},
        "spec": {"size": 3},
    }))
    .unwrap();
    let desired = vec![widget.clone(), crd];
    let report = apply_ok(&mut cluster, &desired, &opts).await;
    // CRD first, then the widget.
    let order: Vec<&str> = report.applied.iter().map(|id| id.kind.as_str()).collect();
    assert_eq!(order, ["CustomResourceDefinition", "Widget"]);
    let again = reconcile(&mut cluster, &desired, &opts).await.unwrap();
    assert_eq!(again.plan.summary().unchanged, 2, "{}", again.plan);
}

#[tokio::test]
async fn finished_runs_are_recorded_and_not_recreated() {
    let Some((tc, ns, mut cluster, opts)) = setup("rec-run").await else {
        return;
    };
    let client = tc.client().clone();
    // A batch Job is run-like and needs no CRD; the local control plane runs no controllers,
    // so the test writes the Complete condition itself.
    let job = batch_job(&ns, "train-0a1b", "true");
    apply_ok(&mut cluster, std::slice::from_ref(&job), &opts).await;
    let jobs: Api<DynamicObject> = Api::namespaced_with(
        client.clone(),
        &ns,
        &kube::api::ApiResource::erase::<k8s_openapi::api::batch::v1::Job>(&()),
    );
    let now = "2025-01-01T00:00:00Z";
    jobs.patch_status(
        "train-0a1b",
        &PatchParams::default(),
        &Patch::Merge(json!({"status": {
            "startTime": now, "completionTime": now, "succeeded": 1,
            "conditions": [
                {"type": "SuccessCriteriaMet", "status": "True", "lastTransitionTime": now},
                {"type": "Complete", "status": "True", "lastTransitionTime": now}]}})),
    )
    .await
    .unwrap();
    // The next run records it as finished.
    let report = apply_ok(&mut cluster, std::slice::from_ref(&job), &opts).await;
    assert!(report.plan.completed_runs.contains(&job.id()));
    // Its TTL deletes it; kiln does not bring it back.
    // Background propagation: the default for Jobs (orphan) needs the garbage collector,
    // which the test control plane does not run.
    jobs.delete("train-0a1b", &kube::api::DeleteParams::background())
        .await
        .unwrap();
    let report = apply_ok(&mut cluster, std::slice::from_ref(&job), &opts).await;
    let l = line(&report.plan, &format!("Job/{ns}/train-0a1b"));
    assert!(l.contains(" skip ") && l.contains("not re-created"), "{l}");
    assert!(jobs.get_opt("train-0a1b").await.unwrap().is_none());
    // A changed spec arrives under a new name: a new run is created.
    let mut next = job.value().clone();
    next["metadata"]["name"] = json!("train-9f8e");
    next["metadata"]["annotations"] = json!({});
    next["spec"]["template"]["spec"]["containers"][0]["command"] = json!(["false"]);
    let next = Manifest::new(next).unwrap();
    let report = apply_ok(&mut cluster, std::slice::from_ref(&next), &opts).await;
    assert_eq!(
        line(&report.plan, &format!("Job/{ns}/train-9f8e")),
        format!("Job/{ns}/train-9f8e create")
    );
}

#[tokio::test]
async fn failures_are_one_paragraph_naming_the_cause() {
    let Some((tc, ns, _, opts)) = setup("rec-err").await else {
        return;
    };
    let desired = [cm(&ns, "a", json!({"k": "v"}))];

    // Each client is the test cluster's with one thing broken; each failure must be one
    // paragraph naming the cause and what to do.
    type Case = (fn(&mut Config), fn(&Cause) -> bool, &'static str);
    let cases: [Case; 3] = [
        // Unreachable: nothing listens on port 1.
        (
            |c| c.cluster_url = "https://127.0.0.1:1".parse().unwrap(),
            |c| matches!(c, Cause::Unreachable { .. }),
            "could not be reached",
        ),
        // 401: a token the server does not know.
        (
            |c| {
                c.auth_info.token = Some("not-a-valid-token".to_string().into());
                c.auth_info.client_certificate_data = None;
                c.auth_info.client_key_data = None;
            },
            |c| matches!(c, Cause::Unauthorized { .. }),
            "credentials",
        ),
        // 403: an identity without RBAC permissions (impersonated).
        (
            |c| c.auth_info.impersonate = Some("kiln-test-nobody".into()),
            |c| matches!(c, Cause::Forbidden { .. }),
            "RBAC denied",
        ),
    ];
    for (breakage, expected, words) in cases {
        let client = client_from(tc.kubeconfig(), breakage).await;
        let err = plan_cluster(&mut Cluster::new(client), &desired, &opts)
            .await
            .unwrap_err();
        let text = err.to_string();
        assert!(expected(&err.cause), "{text}");
        assert!(text.contains(words) && !text.contains('\n'), "{text}");
    }
}

#[tokio::test]
async fn wait_reports_the_objects_own_condition_message() {
    let Some((tc, ns, mut cluster, mut opts)) = setup("rec-wait").await else {
        return;
    };
    // The test control plane runs no controllers: a Deployment never rolls out, and the
    // Job's failure is written by the test, as the job controller would.
    let deployment = Manifest::new(json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": ns},
        "spec": {"selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]}}},
    }))
    .unwrap();
    opts.wait = Some(Duration::from_secs(2));
    let report = reconcile(&mut cluster, std::slice::from_ref(&deployment), &opts)
        .await
        .unwrap();
    assert_eq!(report.errors.len(), 1, "{:#?}", report.errors);
    let text = report.errors[0].to_string();
    assert!(
        text.starts_with(&format!("Deployment/{ns}/web: wait failed: not healthy after 2s"))
            && text.contains("waiting for the controller"),
        "{text}"
    );

    let job = batch_job(&ns, "train-1234", "false");
    opts.wait = None;
    apply_ok(&mut cluster, std::slice::from_ref(&job), &opts).await;
    let jobs: Api<DynamicObject> = Api::namespaced_with(
        tc.client().clone(),
        &ns,
        &kube::api::ApiResource::erase::<k8s_openapi::api::batch::v1::Job>(&()),
    );
    let now = "2025-01-01T00:00:00Z";
    jobs.patch_status(
        "train-1234",
        &PatchParams::default(),
        &Patch::Merge(json!({"status": {"startTime": now, "failed": 1, "conditions": [
            {"type": "FailureTarget", "status": "True", "lastTransitionTime": now,
             "reason": "BackoffLimitExceeded", "message": "Job has reached the specified backoff limit"},
            {"type": "Failed", "status": "True", "lastTransitionTime": now,
             "reason": "BackoffLimitExceeded", "message": "Job has reached the specified backoff limit"}]}})),
    )
    .await
    .unwrap();
    opts.wait = Some(Duration::from_secs(30));
    let started = std::time::Instant::now();
    let report = reconcile(&mut cluster, std::slice::from_ref(&job), &opts)
        .await
        .unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "a failure ends the wait at once"
    );
    let text = report.errors[0].to_string();
    assert!(
        text.contains(
            "reports failure: Failed (BackoffLimitExceeded): Job has reached the specified backoff limit"
        ),
        "{text}"
    );
}
