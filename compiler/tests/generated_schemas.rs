//! The generated schema modules (`stdlib/schemas/`, imported as `k8s/<group>/<version>`): each
//! one type-checks, its kinds are emitted directly with every field checked at check time
//! (unknown fields are K0203 with a did-you-mean), and a module nobody imports is never loaded.

use kiln_compiler::source::MemoryLoader;
use kiln_compiler::{Compiled, Options, build, compile, resolve};

fn compile_one(src: &str) -> Compiled {
    let loader = MemoryLoader::new().with("main.kiln", src);
    compile(&loader, &["main.kiln".to_string()], &Options::default())
}

fn codes(c: &Compiled) -> Vec<String> {
    c.diagnostics.iter().map(|d| d.code.id.to_string()).collect()
}

#[test]
fn every_generated_module_checks() {
    let generated: Vec<&str> = resolve::STDLIB
        .iter()
        .map(|(n, _)| *n)
        .filter(|n| n.starts_with("k8s/"))
        .collect();
    assert!(generated.len() >= 20, "generated modules: {generated:?}");
    for name in generated {
        let c = compile_one(&format!("import \"{name}\" as m\n"));
        let errors: Vec<String> = c
            .diagnostics
            .iter()
            .filter(|d| d.is_error())
            .map(|d| format!("{}: {}", d.code.id, d.message))
            .collect();
        assert!(errors.is_empty(), "{name}: {errors:?}");
    }
}

#[test]
fn unused_generated_modules_are_not_loaded() {
    let c = compile_one("import \"kubeflow\" as kf\nlet x = 1\n");
    assert!(!c.has_errors(), "{:?}", c.diagnostics);
    let loaded: Vec<&str> = c.sources.iter().map(|(_, f)| f.name.as_str()).collect();
    assert!(loaded.iter().all(|n| !n.contains("k8s/")), "{loaded:?}");
    let c = compile_one("import \"k8s/apps/v1\" as apps\nlet x = 1\n");
    let loaded: Vec<&str> = c.sources.iter().map(|(_, f)| f.name.as_str()).collect();
    assert!(loaded.contains(&"<stdlib>/k8s/apps/v1.kiln"), "{loaded:?}");
    assert!(
        loaded.contains(&"<stdlib>/k8s/core/v1.kiln"),
        "apps imports core: {loaded:?}"
    );
    assert!(!loaded.iter().any(|n| n.contains("argoproj")), "{loaded:?}");
}

const WORKFLOW: &str = r#"import "k8s/argoproj.io/v1alpha1" as argo

argo.Workflow "hello" {
  namespace = "team"
  spec = {
    entrypoint = "main"
    templates = [{
      name = "main"
      container = { image = "alpine:3", command = ["echo", "hi"], ports = [{ containerPort = 8080, name = "http" }] }
      volumes = [{ name = "scratch", emptyDir = { medium = "Memory" } }]
    }]
  }
}
"#;

#[test]
fn a_typed_argo_workflow_builds_with_full_fidelity() {
    let c = compile_one(WORKFLOW);
    assert!(!c.has_errors(), "{:?}", c.diagnostics);
    let built = build::build(&c, None);
    assert!(!built.has_errors(), "{:?}", built.diagnostics);
    let m = &built.manifests[0].value();
    assert_eq!(m["apiVersion"], "argoproj.io/v1alpha1");
    assert_eq!(m["kind"], "Workflow");
    assert_eq!(m["metadata"]["name"], "hello");
    assert_eq!(m["metadata"]["namespace"], "team");
    assert_eq!(
        m["spec"]["templates"][0]["volumes"][0]["emptyDir"]["medium"],
        "Memory"
    );
    assert_eq!(
        m["spec"]["templates"][0]["container"]["ports"][0]["containerPort"],
        8080
    );
}

#[test]
fn a_misspelled_argo_template_volume_field_is_caught_at_check_time() {
    let c = compile_one(&WORKFLOW.replace("emptyDir", "emptyDri"));
    assert_eq!(codes(&c), ["K0203"], "{:?}", c.diagnostics);
    let d = &c.diagnostics[0];
    assert!(d.message.contains("emptyDri"), "{}", d.message);
    assert!(
        d.help.as_deref().is_some_and(|h| h.contains("emptyDir")),
        "{:?}",
        d.help
    );
}

#[test]
fn a_misspelled_pod_default_sidecar_field_is_caught_at_check_time() {
    let src = r#"import "k8s/kubeflow.org/v1alpha1" as kfv1a1

kfv1a1.PodDefault "proxy" {
  namespace = "team"
  spec = {
    selector = { matchLabels = { proxy = "true" } }
    sidecars = [{ name = "proxy", imagePullPolcy = "Always" }]
  }
}
"#;
    let c = compile_one(src);
    assert_eq!(codes(&c), ["K0203"], "{:?}", c.diagnostics);
    assert!(
        c.diagnostics[0]
            .help
            .as_deref()
            .is_some_and(|h| h.contains("imagePullPolicy")),
        "{:?}",
        c.diagnostics[0]
    );
    let fixed = compile_one(&src.replace("imagePullPolcy", "imagePullPolicy"));
    assert!(!fixed.has_errors(), "{:?}", fixed.diagnostics);
}

#[test]
fn enums_int_or_string_and_quantities_are_typed() {
    let base = r#"import "k8s/core/v1" as core

core.Service "web" {
  spec = { selector = { app = "web" }, ports = [{ port = 80, targetPort = TARGET }], type = "ClusterIP" }
}

core.Pod "p" {
  spec = { containers = [{ name = "c", image = "x", resources = { limits = { memory = 1Gi, cpu = 500m, "nvidia.com/gpu" = 1 } } }] }
}
"#;
    for ok in ["8080", "\"http\""] {
        let c = compile_one(&base.replace("TARGET", ok));
        assert!(!c.has_errors(), "{ok}: {:?}", c.diagnostics);
    }
    let c = compile_one(&base.replace("TARGET", "true"));
    assert_eq!(codes(&c), ["K0201"], "{:?}", c.diagnostics);
    let c = compile_one(
        &base
            .replace("TARGET", "80")
            .replace("\"ClusterIP\"", "\"ClusterIp\""),
    );
    assert_eq!(codes(&c), ["K0205"], "{:?}", c.diagnostics);
    let c = compile_one(&base.replace("TARGET", "80"));
    let built = build::build(&c, None);
    assert!(!built.has_errors(), "{:?}", built.diagnostics);
    let pod = &built.manifests[1].value();
    assert_eq!(
        pod["spec"]["containers"][0]["resources"]["limits"]["memory"],
        "1Gi"
    );
    assert_eq!(pod["spec"]["containers"][0]["resources"]["limits"]["cpu"], "500m");
    assert!(pod["metadata"].get("namespace").is_none());
}

#[test]
fn cluster_scoped_kinds_have_no_namespace() {
    let c = compile_one(
        "import \"k8s/rbac.authorization.k8s.io/v1\" as rbac\nrbac.ClusterRole \"r\" { namespace = \"x\" }\n",
    );
    assert_eq!(codes(&c), ["K0203"], "{:?}", c.diagnostics);
}
