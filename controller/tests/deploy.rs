//! `examples/kiln-system`, the controller's own deployment, against the real API server: built
//! as `kiln build` builds it (the same output as its golden file), server-side applied as
//! `kiln apply examples/kiln-system --applyset kiln-system` applies it, every object accepted.
//! Then the controller runs as a process with a token of the example's ServiceAccount (a
//! TokenRequest to the real API server, which authorizes with RBAC): it leads, applies, prunes,
//! annotates and writes Events with nothing but the example's Role and ClusterRole, so a verb
//! missing from them fails this test.

mod common;

use std::path::PathBuf;
use std::time::Duration;

use common::{Controller, Settings, TestRepo, config_map, pvc};
use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{ConfigMap, PersistentVolumeClaim, Service, ServiceAccount};
use k8s_openapi::api::events::v1::Event;
use kiln_compiler::source::MemoryLoader;
use kiln_reconciler::{ApplySetRef, Cluster, Manifest, Options};
use kube::Api;
use kube::api::{DynamicObject, PostParams};
use kube::config::Kubeconfig;
use kube::discovery::Discovery;
use serde_json::{Value, json};

const LIMIT: Duration = Duration::from_secs(60);
const EXAMPLE: &str = "examples/kiln-system/controller.kiln";
const GOLDEN: &str = "tests/golden/kiln-system/controller.yaml";
/// The example's namespace and ServiceAccount.
const SYSTEM: &str = "kiln-system";
const ACCOUNT: &str = "kiln-controller";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The example's manifests, compiled and built by the library `kiln build` runs.
fn build_example() -> Vec<Value> {
    let text = std::fs::read_to_string(root().join(EXAMPLE)).unwrap();
    let loader = MemoryLoader::new().with(EXAMPLE, &text);
    let compiled = kiln_compiler::compile(&loader, &[EXAMPLE.to_string()], &Default::default());
    assert!(!compiled.has_errors(), "{:?}", compiled.diagnostics);
    let built = kiln_compiler::build::build(&compiled, None);
    assert!(!built.has_errors(), "{:?}", built.diagnostics);
    built.manifests.into_iter().map(|m| m.into_value()).collect()
}

/// A kubeconfig for the same API server that authenticates with `token` alone.
fn token_kubeconfig(admin: &std::path::Path, token: &str, out: &std::path::Path) {
    let kc = Kubeconfig::read_from(admin).unwrap();
    let cluster = kc.clusters[0].cluster.clone().unwrap();
    let doc = json!({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "c", "cluster": {
            "server": cluster.server,
            "certificate-authority-data": cluster.certificate_authority_data,
        }}],
        "users": [{"name": ACCOUNT, "user": {"token": token}}],
        "contexts": [{"name": "sa", "context": {"cluster": "c", "user": ACCOUNT}}],
        "current-context": "sa",
    });
    std::fs::write(out, serde_json::to_vec_pretty(&doc).unwrap()).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_example_is_accepted_and_its_rbac_is_all_the_controller_needs() {
    let Some(cluster) = kiln_testsupport::cluster().await else {
        return;
    };
    let client = cluster.client().clone();

    // 1. Build as `kiln build` does: the golden file pins exactly this output.
    let manifests = build_example();
    let golden = kiln_testsupport::manifests::load_file(&root().join(GOLDEN)).unwrap();
    let golden: Vec<Value> = golden.into_iter().map(|d| d.value).collect();
    assert_eq!(manifests, golden, "the example builds to its golden file");
    let kinds: Vec<&str> = manifests.iter().map(|m| m["kind"].as_str().unwrap()).collect();
    for kind in [
        "Namespace",
        "ServiceAccount",
        "Role",
        "RoleBinding",
        "ClusterRole",
        "ClusterRoleBinding",
        "Deployment",
        "Service",
    ] {
        assert!(kinds.contains(&kind), "the example has a {kind}: {kinds:?}");
    }

    // 2. Server-side apply, as `kiln apply examples/kiln-system --applyset kiln-system`: every
    //    object accepted (the API server validates each against its own schema).
    let desired: Vec<Manifest> = manifests
        .iter()
        .cloned()
        .map(|m| Manifest::new(m).unwrap())
        .collect();
    let opts = Options::new(ApplySetRef::new(SYSTEM, SYSTEM));
    let mut kiln = Cluster::new(client.clone());
    let report = kiln_reconciler::reconcile(&mut kiln, &desired, &opts)
        .await
        .unwrap();
    let errors: Vec<String> = report.errors.iter().map(ToString::to_string).collect();
    assert!(
        report.success(),
        "refused by the API server:\n{}",
        errors.join("\n")
    );
    let discovery = Discovery::new(client.clone()).run().await.unwrap();
    for m in &manifests {
        let (group, version) = match m["apiVersion"].as_str().unwrap().split_once('/') {
            Some((g, v)) => (g, v),
            None => ("", m["apiVersion"].as_str().unwrap()),
        };
        let gvk = kube::api::GroupVersionKind::gvk(group, version, m["kind"].as_str().unwrap());
        let (resource, caps) = discovery.resolve_gvk(&gvk).unwrap();
        let name = m["metadata"]["name"].as_str().unwrap();
        let api: Api<DynamicObject> = match m["metadata"]["namespace"].as_str() {
            Some(ns) if caps.scope == kube::discovery::Scope::Namespaced => {
                Api::namespaced_with(client.clone(), ns, &resource)
            }
            _ => Api::all_with(client.clone(), &resource),
        };
        let live = api
            .get(name)
            .await
            .unwrap_or_else(|e| panic!("{gvk:?} {name}: {e}"));
        assert_eq!(
            live.metadata.labels.unwrap_or_default()["app.kubernetes.io/part-of"],
            "kiln"
        );
    }

    // 3. A token of the example's ServiceAccount, from the API server's TokenRequest.
    let accounts: Api<ServiceAccount> = Api::namespaced(client.clone(), SYSTEM);
    let request = TokenRequest {
        spec: Some(TokenRequestSpec {
            audiences: Some(vec![]),
            expiration_seconds: Some(3600),
            ..TokenRequestSpec::default()
        }),
        ..TokenRequest::default()
    };
    let issued: TokenRequest = accounts
        .create_subresource("token", ACCOUNT, &PostParams::default(), &request)
        .await
        .unwrap();
    let token = issued.status.unwrap().token.unwrap();

    // 4. The controller under that token: an app with a Namespace, ConfigMaps, a Service, a
    //    ServiceAccount and a PVC (kinds the ClusterRole names), its ApplySet parent and the
    //    Lease in kiln-system (the Role).
    let ns = kiln_testsupport::unique_name("ctl-rbac");
    let app = kiln_testsupport::unique_name("rbac");
    let lease = kiln_testsupport::unique_name("lease");
    let mut repo = TestRepo::new("rbac");
    let kubeconfig = repo.base.join("sa-kubeconfig");
    token_kubeconfig(cluster.kubeconfig(), &token, &kubeconfig);
    let objects = format!(
        "import \"kubeflow\" as kf\n\n\
         kf.Object \"{ns}\" = kf.Object {{ api_version = \"v1\"\n  kind = \"Namespace\" }}\n\
         kf.Object \"runner\" = kf.Object {{ api_version = \"v1\"\n  kind = \"ServiceAccount\"\n  namespace = \"{ns}\" }}\n\
         kf.Object \"web\" = kf.Object {{ api_version = \"v1\"\n  kind = \"Service\"\n  namespace = \"{ns}\"\n  \
         spec = {{ ports = [{{ port = 80 }}], selector = {{ app = \"web\" }} }} }}\n"
    ) + &pvc("data", &ns);
    repo.write(
        "kiln.toml",
        &format!("[[app]]\nname = \"{app}\"\npaths = [\"apps/a\"]\nnamespace = \"{SYSTEM}\"\n"),
    )
    .write("apps/a/objects.kiln", &objects)
    .write("apps/a/one.kiln", &config_map("one", &ns, &[("V", "1")]))
    .write("apps/a/two.kiln", &config_map("two", &ns, &[("V", "1")]));
    let c1 = repo.commit("first");
    let ctl = Controller::start(&Settings {
        repo: &repo,
        kubeconfig: &kubeconfig,
        lease_namespace: SYSTEM,
        identity: "sa",
        interval: "300ms",
        resync: "1h",
        secret: None,
        url: None,
        extra: &["--lease-name", &lease],
        env: &[],
    });
    let applied = |s: &Value| {
        s["apps"][&app]["last_applied_commit"]
            .as_str()
            .map(str::to_string)
    };
    let s = ctl.wait_for("the first commit under the ServiceAccount", LIMIT, |s| {
        applied(s).as_deref() == Some(&c1) || s["apps"][&app]["condition"] == "Stalled"
    });
    assert_eq!(s["apps"][&app]["condition"], "Ready", "{s:#}");
    assert_eq!(s["leader"], true, "{s:#}");
    // The cluster-wide list of ApplySet parents (apps removed while no controller ran).
    assert_eq!(s["orphan_scan_error"], Value::Null, "{s:#}");
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), &ns);
    cms.get("one").await.unwrap();
    Api::<Service>::namespaced(client.clone(), &ns)
        .get("web")
        .await
        .unwrap();
    Api::<ServiceAccount>::namespaced(client.clone(), &ns)
        .get("runner")
        .await
        .unwrap();
    let pvcs: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), &ns);
    pvcs.get("data").await.unwrap();

    // 5. A change and a removal: patch and delete are granted.
    repo.write("apps/a/one.kiln", &config_map("one", &ns, &[("V", "2")]));
    repo.remove("apps/a/two.kiln");
    let c2 = repo.commit("change one, drop two");
    let s = ctl.wait_for("the second commit", LIMIT, |s| {
        applied(s).as_deref() == Some(&c2) || s["apps"][&app]["condition"] == "Stalled"
    });
    assert_eq!(s["apps"][&app]["condition"], "Ready", "{s:#}");
    assert_eq!(s["apps"][&app]["pruned"], 1, "{s:#}");
    assert_eq!(cms.get("one").await.unwrap().data.unwrap()["V"], "2");
    assert!(cms.get_opt("two").await.unwrap().is_none(), "two is pruned");

    // 6. The status annotations on the parent (configmaps patch) and Events (events create).
    //    Both are written after /status shows the commit: poll.
    let parents: Api<ConfigMap> = Api::namespaced(client.clone(), SYSTEM);
    let events: Api<Event> = Api::namespaced(client.clone(), SYSTEM);
    let object_events: Api<Event> = Api::namespaced(client.clone(), &ns);
    let parent_name = format!("kiln-{app}");
    let start = std::time::Instant::now();
    loop {
        let parent = parents.get(&parent_name).await.unwrap();
        let annotated = parent
            .metadata
            .annotations
            .unwrap_or_default()
            .get("status.kiln.dev/last-applied-commit")
            == Some(&c2);
        // A repeated reason is one Event whose series counts on (events patch).
        let reasons = |list: Vec<Event>, name: Option<&str>| -> Vec<String> {
            list.into_iter()
                .filter(|e| name.is_none() || e.regarding.as_ref().and_then(|r| r.name.as_deref()) == name)
                .flat_map(|e| {
                    let n = e.series.as_ref().map_or(1, |s| s.count.max(1));
                    std::iter::repeat_n(e.reason.unwrap_or_default(), n as usize)
                })
                .collect()
        };
        let on_parent = reasons(
            events.list(&Default::default()).await.unwrap().items,
            Some(&parent_name),
        );
        let on_objects = reasons(object_events.list(&Default::default()).await.unwrap().items, None);
        if annotated && on_parent.len() >= 2 && on_objects.iter().any(|r| r == "Pruned") {
            break;
        }
        assert!(
            start.elapsed() < LIMIT,
            "annotated: {annotated}; Events on the parent: {on_parent:?}, on objects: {on_objects:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // 7. The Lease is renewed (leases update), and nothing failed on the way.
    let leases: Api<Lease> = Api::namespaced(client.clone(), SYSTEM);
    let renewed = || async {
        leases
            .get(&lease)
            .await
            .unwrap()
            .spec
            .unwrap()
            .renew_time
            .unwrap()
            .0
    };
    let first = renewed().await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert!(renewed().await > first, "the lease is renewed");
    assert_eq!(ctl.status()["leader"], true);
    let (_, metrics) = common::http(&ctl.addr, "GET", "/metrics", &[], b"");
    assert!(!metrics.contains("kiln_controller_errors_total{"), "{metrics}");
}
