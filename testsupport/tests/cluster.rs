//! Integration tests of the test support itself, against the shared cluster: namespaces,
//! strict dry runs, and that API `Warning` headers really reach the caller.

use kiln_testsupport::raw::{self, DryRunVerb};
use serde_json::json;

#[tokio::test]
async fn warnings_and_strict_rejections_are_visible() {
    let Some(cluster) = kiln_testsupport::cluster().await else {
        return;
    };
    let ns = cluster.namespace("testsupport").await.expect("namespace");
    let client = cluster.client();

    let good =
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "ok"}, "data": {"a": "b"}});
    let (verb, outcome) = raw::dry_run(client, &good, &ns, "kiln").await.expect("dry run");
    assert_eq!(verb, DryRunVerb::Apply);
    assert!(outcome.is_success() && outcome.warnings.is_empty(), "{outcome:?}");

    let bad = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "bad"}, "dataa": {}});
    let (_, outcome) = raw::dry_run(client, &bad, &ns, "kiln").await.expect("dry run");
    // (server-side apply of a built-in type answers 500 "field not declared in schema")
    assert!(!outcome.is_success(), "{outcome:?}");
    assert!(outcome.message().contains("dataa"), "{outcome:?}");

    // a deprecated node label is accepted with a Warning header
    let warned = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "warned"},
        "spec": {"nodeSelector": {"beta.kubernetes.io/arch": "amd64"},
                 "containers": [{"name": "c", "image": "busybox"}]}});
    let (_, outcome) = raw::dry_run(client, &warned, &ns, "kiln").await.expect("dry run");
    assert!(outcome.is_success(), "{outcome:?}");
    assert!(
        outcome
            .warnings
            .iter()
            .any(|w| w.contains("beta.kubernetes.io/arch")),
        "{outcome:?}"
    );
}
