//! `kiln plan` / `kiln apply` when something goes wrong, end to end: the real binary against
//! the project's real control plane (kiln-testsupport), with real kubeconfigs, real
//! credentials, real RBAC, a real admission policy and real object status.
//!
//! Every failure the issue names (the wrong context, an unreachable cluster, rejected
//! credentials, an RBAC denial, an admission rejection, an object that reports failure or never
//! becomes healthy under `--wait`) must exit 1 and print one `error: ` paragraph per failure on
//! stderr that names the object (when there is one) and the cause in plain words: no Rust debug
//! output, no backtrace. [`assert_failure`] checks that shape; each test checks the content.

mod common;
// A folder of its own, so cargo does not take it for a test target.
#[path = "apply_failures/tls.rs"]
mod tls;

use base64::Engine as _;
use common::{Output, kiln_env, scratch};
use k8s_openapi::api::admissionregistration::v1::{
    ValidatingAdmissionPolicy, ValidatingAdmissionPolicyBinding, ValidatingWebhookConfiguration,
};
use k8s_openapi::api::authentication::v1::TokenRequest;
use k8s_openapi::api::core::v1::{ConfigMap, ServiceAccount};
use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
use k8s_openapi::serde::de::DeserializeOwned;
use kiln_testsupport::TestCluster;
use kube::api::{Api, ApiResource, DeleteParams, DynamicObject, ListParams, Patch, PatchParams, PostParams};
use kube::config::Kubeconfig;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// A server address where nothing listens (port 1 is privileged and never bound in tests).
const NOWHERE: &str = "https://127.0.0.1:1";

/// Asserts a failed run: exit 1 and exactly `paragraphs` lines on stderr, each one
/// `error: ...` paragraph free of Rust debug output, together containing every needle.
/// Returns stderr (for the report of sample messages).
fn assert_failure(out: &Output, paragraphs: usize, needles: &[&str]) -> String {
    assert_eq!(
        out.code, 1,
        "exit code 1 expected\nstdout:\n{}\nstderr:\n{}",
        out.stdout, out.stderr
    );
    let text = out.stderr.trim_end();
    // Progress of `--wait` (one line per event in a pipe) comes first; the failures are the
    // `error:` lines, and nothing else may be there.
    let lines: Vec<&str> = text.lines().filter(|l| l.starts_with("error: ")).collect();
    for line in text.lines().filter(|l| !l.starts_with("error: ")) {
        assert!(
            line == "wait done"
                || line.starts_with("waiting for namespace ")
                || line.starts_with("namespace ")
                || [": progressing: ", ": failed: ", ": ready", ": succeeded"]
                    .iter()
                    .any(|state| line.contains(state)),
            "neither a failure nor a progress line: {line}\n{text}"
        );
    }
    assert_eq!(lines.len(), paragraphs, "one line per failure:\n{text}");
    for line in &lines {
        assert!(line.starts_with("error: "), "{line}");
        assert!(
            line.ends_with('.') && !line.ends_with(".."),
            "one sentence end: {line}"
        );
    }
    // What leaks when an error is printed with `{:?}` or a panic escapes.
    for debug in [
        "Status {",
        "Error {",
        "ErrorResponse",
        "ApiError",
        "HyperError",
        "kube::",
        "Some(",
        "panicked",
        "backtrace",
    ] {
        assert!(!text.contains(debug), "debug output `{debug}` in:\n{text}");
    }
    for needle in needles {
        assert!(text.contains(needle), "`{needle}` missing from:\n{text}");
    }
    text.to_string()
}

/// A scratch project directory holding `main.kiln`.
fn project(name: &str, kiln: &str) -> PathBuf {
    let dir = scratch(name);
    std::fs::write(dir.join("main.kiln"), kiln).expect("write main.kiln");
    dir
}

/// A project of one ConfigMap `settings` in `ns`, in the scratch directory `name`.
fn settings_project(name: &str, ns: &str) -> PathBuf {
    project(name, &kiln_file(&[config_map(ns, "settings", "{}")]))
}

/// A ConfigMap `name` in `ns`, with `labels` (a kiln record literal).
fn config_map(ns: &str, name: &str, labels: &str) -> String {
    format!(
        "kf.Object \"{name}\" = kf.config_map({{ FLAG = \"on\" }}) with {{ namespace = \"{ns}\", labels = {labels} }}\n"
    )
}

fn notebook(ns: &str) -> String {
    format!(
        "kf.Notebook \"dev\" {{\n  namespace = \"{ns}\"\n  image = \"ghcr.io/kubeflow/kubeflow/notebook-servers/jupyter-scipy:v1.10.0\"\n  cpu = 1\n  memory = 1Gi\n}}\n"
    )
}

fn kiln_file(parts: &[String]) -> String {
    format!("import \"kubeflow\" as kf\n\n{}", parts.join("\n"))
}

/// `kiln <args..> --applyset-namespace <ns>` in `dir`, logged for failing tests.
fn run(dir: &Path, ns: &str, args: &[&str], vars: &[(&str, &str)]) -> Output {
    let mut all = args.to_vec();
    all.extend_from_slice(&["--applyset-namespace", ns]);
    let started = Instant::now();
    let out = kiln_env(dir, &all, vars);
    eprintln!(
        "$ kiln {}\nexit {} after {:.1}s\n{}{}",
        all.join(" "),
        out.code,
        started.elapsed().as_secs_f64(),
        out.stdout,
        out.stderr
    );
    out
}

/// The shared cluster's entry (server and CA) and its admin user, as kubeconfig JSON.
fn shared_access(tc: &TestCluster) -> (Value, Value) {
    let kc = Kubeconfig::read_from(tc.kubeconfig()).expect("the test kubeconfig reads");
    let kc = serde_json::to_value(kc).expect("kubeconfigs serialise");
    let current = kc["current-context"]
        .as_str()
        .expect("a current context")
        .to_string();
    let named = |list: &str, name: &str, field: &str| -> Value {
        kc[list]
            .as_array()
            .and_then(|items| items.iter().find(|i| i["name"] == name))
            .map(|i| i[field].clone())
            .unwrap_or_else(|| panic!("no {list} entry {name} in the test kubeconfig"))
    };
    let context = named("contexts", &current, "context");
    let cluster = named(
        "clusters",
        context["cluster"].as_str().expect("cluster"),
        "cluster",
    );
    let user = named("users", context["user"].as_str().expect("user"), "user");
    (cluster, user)
}

/// Writes a kubeconfig (JSON, which every kubeconfig reader accepts) with one context per
/// `(name, cluster, user)` entry; the first is the current context. Returns its path.
fn write_kubeconfig(path: &Path, contexts: &[(&str, Value, Value)]) -> String {
    let doc = json!({
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": contexts[0].0,
        "clusters": contexts.iter().map(|(n, c, _)| json!({"name": n, "cluster": c})).collect::<Vec<_>>(),
        "users": contexts.iter().map(|(n, _, u)| json!({"name": n, "user": u})).collect::<Vec<_>>(),
        "contexts": contexts
            .iter()
            .map(|(n, _, _)| json!({"name": n, "context": {"cluster": n, "user": n}}))
            .collect::<Vec<_>>(),
    });
    std::fs::write(path, serde_json::to_string_pretty(&doc).expect("JSON")).expect("write kubeconfig");
    path.to_str().expect("utf-8 path").to_string()
}

fn has_line(out: &Output, line: &str) {
    assert!(
        out.stdout
            .lines()
            .any(|l| l == line || l.strip_prefix(line).is_some_and(|rest| rest.starts_with(": "))),
        "no line `{line}` in:\n{}",
        out.stdout
    );
}

/// Runs `kiln` off the async runtime, so servers and API calls of the test keep running.
async fn run_async(dir: &Path, ns: &str, args: &[&str]) -> (Output, Duration) {
    let (dir, ns) = (dir.to_path_buf(), ns.to_string());
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let started = Instant::now();
        let out = run(&dir, &ns, &args, &[]);
        (out, started.elapsed())
    })
    .await
    .expect("kiln ran")
}

/// `kiln apply --wait --timeout <timeout>` with the shared cluster's admin kubeconfig, off the
/// runtime (see [`run_async`]); with how long it took.
fn apply_and_wait(
    tc: &TestCluster,
    dir: &Path,
    ns: &str,
    timeout: &'static str,
) -> impl Future<Output = (Output, Duration)> + Send + 'static {
    let kubeconfig = tc.kubeconfig().to_str().expect("utf-8 path").to_string();
    let (dir, ns) = (dir.to_path_buf(), ns.to_string());
    async move {
        let args = [
            "apply",
            ".",
            "--kubeconfig",
            &kubeconfig,
            "--wait",
            "--timeout",
            timeout,
        ];
        run_async(&dir, &ns, &args).await
    }
}

/// Creates an object from JSON with the admin client.
async fn create<K>(api: &Api<K>, object: Value) -> K
where
    K: kube::Resource + Clone + std::fmt::Debug + DeserializeOwned + k8s_openapi::serde::Serialize + 'static,
{
    let object: K = serde_json::from_value(object).expect("a valid object");
    api.create(&PostParams::default(), &object)
        .await
        .expect("created")
}

// 1. Contexts: `--context` picks the cluster, an unknown name is an error, KUBECONFIG is read.
#[tokio::test]
async fn context_selects_the_cluster_and_kubeconfig_env_is_honoured() {
    let Some((tc, ns)) = common::cluster_and_namespace("cli-context", false).await else {
        return;
    };
    let dir = settings_project(&format!("failures-context-{ns}"), &ns);
    let (cluster, admin) = shared_access(&tc);
    // The current context points nowhere: only `--context good` reaches the cluster.
    let kubeconfig = write_kubeconfig(
        &dir.join("kubeconfig"),
        &[
            ("down", json!({"server": NOWHERE}), admin.clone()),
            ("good", cluster, admin),
        ],
    );
    let with_file = |extra: &[&str]| {
        let mut args = vec!["plan", ".", "--detailed-exitcode", "--kubeconfig", &kubeconfig];
        args.extend_from_slice(extra);
        run(&dir, &ns, &args, &[])
    };

    let good = with_file(&["--context", "good"]);
    assert_eq!(good.code, 2, "{}", good.stderr);
    has_line(&good, &format!("ConfigMap/{ns}/settings create"));

    let current = with_file(&[]);
    assert_failure(
        &current,
        1,
        &["cluster https://127.0.0.1:1: ", "could not be reached"],
    );

    let unknown = with_file(&["--context", "nosuch"]);
    assert_failure(
        &unknown,
        1,
        &[&kubeconfig, "has no context `nosuch` (it has: down, good)"],
    );

    // No --kubeconfig: KUBECONFIG names the file (here a list of two, merged as kubectl does,
    // the first file's current context winning).
    let other = write_kubeconfig(
        &dir.join("other"),
        &[("elsewhere", json!({"server": NOWHERE}), json!({"token": "t"}))],
    );
    let list = format!("{kubeconfig}:{other}");
    let env = [("KUBECONFIG", list.as_str())];
    let good = run(
        &dir,
        &ns,
        &["plan", ".", "--detailed-exitcode", "--context", "good"],
        &env,
    );
    assert_eq!(good.code, 2, "{}", good.stderr);
    has_line(&good, &format!("ConfigMap/{ns}/settings create"));
    let current = run(&dir, &ns, &["plan", "."], &env);
    assert_failure(
        &current,
        1,
        &["cluster https://127.0.0.1:1: ", "could not be reached"],
    );
    let unknown = run(&dir, &ns, &["plan", ".", "--context", "nosuch"], &env);
    assert_failure(
        &unknown,
        1,
        &[&format!(
            "KUBECONFIG={list} has no context `nosuch` (it has: down, good, elsewhere)"
        )],
    );
}

// 1b. Kubeconfig problems are caught before any request, each named with its file.
#[test]
fn kubeconfig_problems_name_the_file_in_one_sentence() {
    let dir = settings_project("failures-kubeconfig", "team");
    let path = |name: &str| dir.join(name).to_str().expect("utf-8 path").to_string();
    std::fs::write(path("broken"), "apiVersion: v1\nclusters: [\n  - name: {\n").unwrap();
    std::fs::write(
        path("no-current"),
        r#"{"apiVersion": "v1", "kind": "Config", "contexts": []}"#,
    )
    .unwrap();
    let missing = path("missing");
    // (flags, environment, the start of the message)
    type Case<'a> = (&'a [&'a str], &'a [(&'a str, &'a str)], String);
    let cases: [Case; 5] = [
        (
            &["--kubeconfig", &missing],
            &[],
            format!("error: cannot read the kubeconfig {missing}: No such file"),
        ),
        (
            &["--context", "x"],
            &[("KUBECONFIG", &missing)],
            format!("error: cannot read the kubeconfig {missing}: No such file"),
        ),
        (
            &["--kubeconfig", &path("broken")],
            &[],
            format!(
                "error: cannot load the kubeconfig {}: failed to parse kubeconfig YAML: error: line 3 column 3",
                path("broken")
            ),
        ),
        (
            &["--kubeconfig", &path("no-current")],
            &[],
            format!(
                "error: the kubeconfig {} sets no current-context; pass --context NAME.",
                path("no-current")
            ),
        ),
        // No flag, no KUBECONFIG, no ~/.kube/config and not in a pod.
        (
            &[],
            &[
                ("KUBECONFIG", ""),
                ("HOME", dir.to_str().unwrap()),
                ("KUBERNETES_SERVICE_HOST", ""),
                ("KUBERNETES_SERVICE_PORT", ""),
            ],
            format!(
                "error: no cluster configured: cannot read the kubeconfig {}/.kube/config: No such file",
                dir.display()
            ),
        ),
    ];
    for (flags, vars, expected) in cases {
        let out = run(&dir, "team", &[&["plan", "."], flags].concat(), vars);
        assert_failure(&out, 1, &[&expected]);
    }
}

// 2a. Nothing listening: a clear error at once, not a hang.
#[test]
fn an_unreachable_cluster_fails_fast_in_one_paragraph() {
    let dir = settings_project("failures-unreachable", "team");
    let kubeconfig = write_kubeconfig(
        &dir.join("kubeconfig"),
        &[("x", json!({"server": NOWHERE}), json!({"token": "t"}))],
    );
    for command in ["plan", "apply"] {
        let started = Instant::now();
        let out = run(&dir, "team", &[command, ".", "--kubeconfig", &kubeconfig], &[]);
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{command} took {:?}",
            started.elapsed()
        );
        assert_failure(
            &out,
            1,
            &[
                "error: cluster https://127.0.0.1:1: API discovery failed: the Kubernetes API server could not be reached",
                "Connection refused",
            ],
        );
        assert!(
            out.stdout.is_empty(),
            "no plan without a cluster:\n{}",
            out.stdout
        );
    }
}

// 2b. A server that takes the connection but never answers (a hung API server or load
// balancer): `--request-timeout` bounds the wait, both before TLS and after it.
#[tokio::test]
async fn a_silent_server_is_bounded_by_request_timeout() {
    let dir = settings_project("failures-silent", "team");
    // The kernel completes TCP handshakes into the backlog of a socket nobody accepts from.
    let backlog = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let no_tls = format!("https://{}", backlog.local_addr().expect("address"));
    let certs = tls::certs(&dir);
    let no_http = tls::mute_server(&certs).await;
    for (server, cause) in [(no_tls, "deadline has elapsed"), (no_http, "timed out")] {
        let cluster = json!({"server": server, "certificate-authority-data":
            base64::engine::general_purpose::STANDARD.encode(&certs.ca_pem)});
        let kubeconfig = write_kubeconfig(&dir.join("kubeconfig"), &[("x", cluster, json!({"token": "t"}))]);
        let args = [
            "plan",
            ".",
            "--kubeconfig",
            &kubeconfig,
            "--request-timeout",
            "2s",
        ];
        // Without the bound kiln would hang for good: fail instead of hanging the test run.
        let (out, took) = tokio::time::timeout(Duration::from_secs(60), run_async(&dir, "team", &args))
            .await
            .unwrap_or_else(|_| panic!("kiln hung on {server}"));
        assert!(
            took < Duration::from_secs(10),
            "{server}: bounded by --request-timeout, took {took:?}"
        );
        assert_failure(
            &out,
            1,
            &[
                &format!("cluster {server}: API discovery failed"),
                "could not be reached",
                cause,
            ],
        );
    }
    drop(backlog);
}

// 3. Rejected credentials (401): a bearer token the API server does not know (an expired or
// revoked one looks the same), and a credential plugin that fails.
#[tokio::test]
async fn rejected_credentials_are_one_paragraph() {
    let Some((tc, ns)) = common::cluster_and_namespace("cli-401", false).await else {
        return;
    };
    let dir = settings_project(&format!("failures-401-{ns}"), &ns);
    let (cluster, _) = shared_access(&tc);
    let server = cluster["server"]
        .as_str()
        .expect("server")
        .trim_end_matches('/')
        .to_string();
    let kubeconfig = write_kubeconfig(
        &dir.join("kubeconfig"),
        &[
            (
                "expired",
                cluster.clone(),
                json!({"token": "expired-or-revoked-token"}),
            ),
            (
                "plugin",
                cluster,
                json!({"exec": {
                    "apiVersion": "client.authentication.k8s.io/v1",
                    "command": "kiln-test-no-such-credential-plugin",
                    "interactiveMode": "Never",
                }}),
            ),
        ],
    );
    for command in ["plan", "apply"] {
        let out = run(&dir, &ns, &[command, ".", "--kubeconfig", &kubeconfig], &[]);
        assert_failure(
            &out,
            1,
            &[&format!(
                "cluster {server}: API discovery failed: the API server rejected kiln's credentials (401 Unauthorized: Unauthorized)"
            )],
        );
    }
    let out = run(
        &dir,
        &ns,
        &["apply", ".", "--kubeconfig", &kubeconfig, "--context", "plugin"],
        &[],
    );
    assert_failure(
        &out,
        1,
        &[&format!(
            "error: cluster {server}: the kubeconfig's credential plugin `kiln-test-no-such-credential-plugin` failed ("
        )],
    );
    let configmaps: Api<ConfigMap> = Api::namespaced(tc.client().clone(), &ns);
    assert!(
        configmaps.get_opt("settings").await.unwrap().is_none(),
        "nothing written"
    );
}

// 4. RBAC (403): a ServiceAccount, with a real token from the TokenRequest API, that may read
// everything in its namespace and write ConfigMaps there, but not Notebooks.
#[tokio::test]
async fn an_rbac_denial_names_the_object_the_verb_and_the_identity() {
    let Some((tc, ns)) = common::cluster_and_namespace("cli-403", true).await else {
        return;
    };
    let client = tc.client().clone();
    let accounts: Api<ServiceAccount> = Api::namespaced(client.clone(), &ns);
    create(&accounts, json!({"metadata": {"name": "deployer"}})).await;
    create(
        &Api::<Role>::namespaced(client.clone(), &ns),
        json!({"metadata": {"name": "deployer"}, "rules": [
            {"apiGroups": ["*"], "resources": ["*"], "verbs": ["get", "list", "watch"]},
            {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["create", "patch", "update"]},
        ]}),
    )
    .await;
    create(
        &Api::<RoleBinding>::namespaced(client.clone(), &ns),
        json!({"metadata": {"name": "deployer"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "deployer"},
            "subjects": [{"kind": "ServiceAccount", "name": "deployer", "namespace": ns}]}),
    )
    .await;
    let request: TokenRequest =
        serde_json::from_value(json!({"spec": {"audiences": [], "expirationSeconds": 600}})).unwrap();
    let token = accounts
        .create_token_request("deployer", &PostParams::default(), &request)
        .await
        .expect("TokenRequest served (the API server signs service-account tokens)")
        .status
        .expect("a token")
        .token;
    let (cluster, _) = shared_access(&tc);
    let dir = project(
        &format!("failures-403-{ns}"),
        &kiln_file(&[config_map(&ns, "settings", "{}"), notebook(&ns)]),
    );
    let kubeconfig = write_kubeconfig(
        &dir.join("kubeconfig"),
        &[("deployer", cluster, json!({"token": token}))],
    );
    let identity = format!("User \"system:serviceaccount:{ns}:deployer\"");

    // Reading is allowed, so the deployer can plan.
    let plan = run(
        &dir,
        &ns,
        &["plan", ".", "--kubeconfig", &kubeconfig, "--detailed-exitcode"],
        &[],
    );
    assert_eq!(plan.code, 2, "{}", plan.stderr);
    has_line(&plan, &format!("Notebook/{ns}/dev create"));

    // Applying writes the ConfigMap and is refused the Notebook, which the error names.
    let apply = run(&dir, &ns, &["apply", ".", "--kubeconfig", &kubeconfig], &[]);
    assert_failure(
        &apply,
        1,
        &[
            &format!("error: Notebook/{ns}/dev: apply failed: RBAC denied the request (403 Forbidden: "),
            &identity,
            "cannot patch resource \"notebooks\" in API group \"kubeflow.org\"",
            "Grant the identity kiln runs as this verb on this resource",
        ],
    );
    let configmaps: Api<ConfigMap> = Api::namespaced(client.clone(), &ns);
    configmaps
        .get("settings")
        .await
        .expect("the permitted ConfigMap was applied");

    // The ApplySet parent in a namespace the deployer cannot read: the parent is named.
    let plan = run(
        &dir,
        "kiln-system",
        &["plan", ".", "--kubeconfig", &kubeconfig, "--applyset", "team"],
        &[],
    );
    assert_failure(
        &plan,
        1,
        &[
            "error: ConfigMap/kiln-system/kiln-team: read inventory failed: RBAC denied the request",
            &identity,
            "cannot get resource \"configmaps\"",
        ],
    );
}

/// The admission cases: admission refuses ConfigMaps carrying `label`, saying `cause`. A project
/// with an ordinary ConfigMap and a labelled one: apply writes the first and names the second
/// with `cause`; then labelling the first too is an update the plan's server-side dry run sees
/// refused, so `kiln plan` exits 1 naming it, and `kiln apply` writes nothing.
async fn assert_admission_refuses(tc: &TestCluster, ns: &str, label: &str, cause: &[&str]) {
    let configmaps: Api<ConfigMap> = Api::namespaced(tc.client().clone(), ns);
    // Admission configuration reaches the API server's caches asynchronously: wait until a
    // labelled ConfigMap (a dry run) is refused.
    let deadline = Instant::now() + Duration::from_secs(30);
    let probe: ConfigMap =
        serde_json::from_value(json!({"metadata": {"name": "probe", "labels": {label: "true"}}})).unwrap();
    let dry_run = PostParams {
        dry_run: true,
        ..PostParams::default()
    };
    while configmaps.create(&dry_run, &probe).await.is_ok() {
        assert!(
            Instant::now() < deadline,
            "admission for {label} never became active"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    let kubeconfig = tc.kubeconfig().to_str().expect("utf-8 path").to_string();
    let labelled = format!("{{ \"{label}\" = \"true\" }}");
    let dir = project(
        &format!("failures-admission-{ns}"),
        &kiln_file(&[
            config_map(ns, "ordinary", "{}"),
            config_map(ns, "refused", &labelled),
        ]),
    );
    let apply = run(&dir, ns, &["apply", ".", "--kubeconfig", &kubeconfig], &[]);
    let mut needles = vec![format!(
        "error: ConfigMap/{ns}/refused: apply failed: an admission webhook or policy rejected the object: "
    )];
    needles.extend(cause.iter().map(|c| c.to_string()));
    assert_failure(&apply, 1, &needles.iter().map(String::as_str).collect::<Vec<_>>());
    configmaps
        .get("ordinary")
        .await
        .expect("the other ConfigMap was applied");
    assert!(configmaps.get_opt("refused").await.unwrap().is_none());

    std::fs::write(
        dir.join("main.kiln"),
        kiln_file(&[config_map(ns, "ordinary", &labelled)]),
    )
    .unwrap();
    needles[0] = format!(
        "error: ConfigMap/{ns}/ordinary: dry-run apply failed: an admission webhook or policy rejected the object: "
    );
    let needles: Vec<&str> = needles.iter().map(String::as_str).collect();
    let plan = run(&dir, ns, &["plan", ".", "--kubeconfig", &kubeconfig], &[]);
    assert_failure(&plan, 1, &needles);
    assert!(
        plan.stdout
            .lines()
            .any(|l| l.starts_with(&format!("ConfigMap/{ns}/ordinary blocked"))),
        "{}",
        plan.stdout
    );
    let apply = run(&dir, ns, &["apply", ".", "--kubeconfig", &kubeconfig], &[]);
    assert_failure(&apply, 1, &needles);
    let live = configmaps.get("ordinary").await.expect("still there");
    assert!(
        !live.metadata.labels.unwrap_or_default().contains_key(label),
        "the refused update was not written"
    );
}

// 5a. Admission by a ValidatingAdmissionPolicy: CEL in the API server itself.
#[tokio::test]
async fn an_admission_policy_rejection_names_the_object_and_the_policy_message() {
    let Some((tc, ns)) = common::cluster_and_namespace("cli-vap", false).await else {
        return;
    };
    let name = format!("kiln-test-{ns}");
    let message = "ConfigMaps labelled kiln-test/vap are not allowed in this namespace";
    let policies: Api<ValidatingAdmissionPolicy> = Api::all(tc.client().clone());
    let bindings: Api<ValidatingAdmissionPolicyBinding> = Api::all(tc.client().clone());
    create(&policies, json!({
        "metadata": {"name": name},
        "spec": {
            "failurePolicy": "Fail",
            "matchConstraints": {"resourceRules": [{"apiGroups": [""], "apiVersions": ["v1"],
                "operations": ["CREATE", "UPDATE"], "resources": ["configmaps"]}]},
            "validations": [{
                "expression": "!has(object.metadata.labels) || !('kiln-test/vap' in object.metadata.labels)",
                "message": message,
            }],
        },
    }))
    .await;
    // Bound to this test's namespace only: other tests share the control plane.
    create(&bindings, json!({
        "metadata": {"name": name},
        "spec": {"policyName": name, "validationActions": ["Deny"],
            "matchResources": {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": ns}}}},
    }))
    .await;
    assert_admission_refuses(
        &tc,
        &ns,
        "kiln-test/vap",
        &[&format!("ValidatingAdmissionPolicy '{name}'"), message],
    )
    .await;
    bindings
        .delete(&name, &DeleteParams::default())
        .await
        .expect("binding deleted");
    policies
        .delete(&name, &DeleteParams::default())
        .await
        .expect("policy deleted");
}

// 5b. Admission by a validating webhook: a real HTTPS server the API server calls. Two
// worker threads: the webhook must answer while the test blocks on the kiln process.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_rejection_names_the_object_and_the_webhook_message() {
    let Some((tc, ns)) = common::cluster_and_namespace("cli-webhook", false).await else {
        return;
    };
    let (cluster, _) = shared_access(&tc);
    let server = cluster["server"].as_str().unwrap_or_default();
    if !server.starts_with("https://127.0.0.1:") {
        // An external cluster (KILN_TEST_KUBECONFIG) cannot call back to this machine.
        eprintln!("SKIPPED: the API server {server} cannot reach a webhook on 127.0.0.1");
        return;
    }
    let dir = scratch(&format!("failures-webhook-certs-{ns}"));
    let certs = tls::certs(&dir);
    let message = "storage class gold is reserved for production";
    let url = tls::refusing_webhook(&certs, message).await;
    let name = format!("kiln-test-{ns}");
    let webhooks: Api<ValidatingWebhookConfiguration> = Api::all(tc.client().clone());
    create(&webhooks, json!({
        "metadata": {"name": name},
        "webhooks": [{
            "name": "deny.kiln.test",
            "clientConfig": {"url": url, "caBundle": base64::engine::general_purpose::STANDARD.encode(&certs.ca_pem)},
            "rules": [{"apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE", "UPDATE"],
                "resources": ["configmaps"], "scope": "Namespaced"}],
            // Only labelled ConfigMaps of this test's namespace reach the webhook.
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": ns}},
            "objectSelector": {"matchExpressions": [{"key": "kiln-test/webhook", "operator": "Exists"}]},
            "failurePolicy": "Fail",
            "sideEffects": "None",
            "admissionReviewVersions": ["v1"],
            "timeoutSeconds": 5,
        }],
    }))
    .await;
    assert_admission_refuses(
        &tc,
        &ns,
        "kiln-test/webhook",
        &["admission webhook \"deny.kiln.test\" denied the request", message],
    )
    .await;
    webhooks
        .delete(&name, &DeleteParams::default())
        .await
        .expect("webhook configuration deleted");
}

fn resource(group: &str, version: &str, kind: &str, plural: &str) -> ApiResource {
    ApiResource {
        group: group.into(),
        version: version.into(),
        api_version: format!("{group}/{version}"),
        kind: kind.into(),
        plural: plural.into(),
    }
}

// 6a. `--wait` ends as soon as an object reports failure, with the object's own condition
// message. No training operator runs here, so the test plays its part: once the job exists it
// writes the Failed condition the operator would, through the status subresource.
#[tokio::test]
async fn wait_reports_a_failed_run_with_its_own_condition_message() {
    let Some((tc, ns)) = common::cluster_and_namespace("cli-wait-failed", true).await else {
        return;
    };
    let dir = project(
        &format!("failures-wait-failed-{ns}"),
        &format!(
            "import \"kubeflow\" as kf\n\nkf.TrainingJob \"train\" {{\n  namespace = \"{ns}\"\n  framework = \"pytorch\"\n  image = \"ghcr.io/acme/train:1.0\"\n  command = [\"python\", \"train.py\"]\n  workers = 2\n}}\n"
        ),
    );
    // kiln runs meanwhile: it creates the job, then polls its health until the failure shows.
    let kiln = tokio::spawn(apply_and_wait(&tc, &dir, &ns, "2m"));
    let jobs: Api<DynamicObject> = Api::namespaced_with(
        tc.client().clone(),
        &ns,
        &resource("kubeflow.org", "v1", "PyTorchJob", "pytorchjobs"),
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    let name = loop {
        if let Some(job) = jobs
            .list(&ListParams::default())
            .await
            .expect("list")
            .items
            .first()
        {
            break job.metadata.name.clone().expect("a name");
        }
        assert!(Instant::now() < deadline, "kiln never created the PyTorchJob");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let failure = format!("PyTorchJob {ns}/{name} is failed because 1 Worker replica(s) failed.");
    let status = json!({"status": {"conditions": [
        {"type": "Created", "status": "True", "reason": "PyTorchJobCreated", "message": "created"},
        {"type": "Failed", "status": "True", "reason": "PyTorchJobFailed", "message": failure},
    ]}});
    jobs.patch_status(&name, &PatchParams::default(), &Patch::Merge(&status))
        .await
        .expect("status written");
    let (out, took) = kiln.await.expect("kiln task");
    assert!(
        took < Duration::from_secs(60),
        "a failure ends the wait long before --timeout 2m: {took:?}"
    );
    assert_failure(
        &out,
        1,
        &[&format!(
            "error: PyTorchJob/{ns}/{name}: wait failed: the object reports failure: Failed (PyTorchJobFailed): {failure}"
        )],
    );
}

// 6b. `--timeout` bounds the wait; each object still pending is named with its last status,
// the object's own condition message where it has one.
#[tokio::test]
async fn wait_timeout_names_each_pending_object_with_its_last_status() {
    let Some((tc, ns)) = common::cluster_and_namespace("cli-wait-timeout", true).await else {
        return;
    };
    let isvc = format!(
        "kf.InferenceService \"llm\" {{\n  namespace = \"{ns}\"\n  model = kf.sklearn(\"gs://kfserving-examples/models/sklearn/1.0/model\")\n}}\n"
    );
    let dir = project(
        &format!("failures-wait-timeout-{ns}"),
        &kiln_file(&[isvc, notebook(&ns)]),
    );
    let kubeconfig = tc.kubeconfig().to_str().expect("utf-8 path").to_string();
    let apply = run(&dir, &ns, &["apply", ".", "--kubeconfig", &kubeconfig], &[]);
    assert_eq!(apply.code, 0, "{}", apply.stderr);
    // What KServe reports when the predictor cannot be scheduled.
    let reason = "RevisionMissing";
    let message = "Revision \"llm-predictor-00001\" failed with message: 0/3 nodes are available: 3 Insufficient nvidia.com/gpu.";
    let services: Api<DynamicObject> = Api::namespaced_with(
        tc.client().clone(),
        &ns,
        &resource(
            "serving.kserve.io",
            "v1beta1",
            "InferenceService",
            "inferenceservices",
        ),
    );
    let status = json!({"status": {"conditions": [
        {"type": "Ready", "status": "False", "reason": reason, "message": message},
    ]}});
    services
        .patch_status("llm", &PatchParams::default(), &Patch::Merge(&status))
        .await
        .expect("status written");

    let (out, took) = apply_and_wait(&tc, &dir, &ns, "3s").await;
    assert!(
        took >= Duration::from_secs(3) && took < Duration::from_secs(30),
        "--timeout 3s bounds the wait: {took:?}"
    );
    assert_failure(
        &out,
        2,
        &[
            &format!(
                "error: InferenceService/{ns}/llm: wait failed: not healthy after 3s; last status: Ready ({reason}): {message}"
            ),
            &format!(
                "error: Notebook/{ns}/dev: wait failed: not healthy after 3s; last status: waiting for a ready notebook replica"
            ),
        ],
    );
}
