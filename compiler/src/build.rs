//! Build: evaluated objects -> stamped, validated manifests (`kiln build`).
//!
//! Steps, in order: reject objects of project-defined types (K0703: only stdlib types have a
//! Kubernetes form); lower every emitted object ([`crate::lower`]); stamp each manifest with its
//! source (`kiln.dev/source`) and content hash (`kiln.dev/content-hash`); reject two manifests
//! with the same identity; validate against the upstream schemas when the caller gave them.
//! Problems become diagnostics on the user's own text: a lowering error names a field of the
//! value, which [`locate`] finds in the declaration that wrote it.
//!
//! Pure like the rest of the compiler: schemas arrive as a [`SchemaSet`] built from texts the
//! caller read.

use std::collections::BTreeMap;

use kiln_lang::ast::{ExprKind, ItemKind, RecordEntry};
use kiln_lang::diagnostic::quote;
use kiln_lang::{Diagnostic, Span};

use crate::Compiled;
use crate::codes;
use crate::lower::{self, LowerInput, ProjectFacts};
use crate::manifest::validate::SchemaSet;
use crate::manifest::{Manifest, hash};
use crate::source::SourceMap;

/// The manifests of one build, in emit order (each object's manifests in lowering order).
#[derive(Debug, Default)]
pub struct Built {
    pub manifests: Vec<Manifest>,
    pub diagnostics: Vec<Diagnostic>,
    /// Manifests of kinds the schema set has no schema for (core kinds such as ConfigMap).
    pub unvalidated: Vec<String>,
}

impl Built {
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }
}

/// Lowers, stamps and (with `schemas`) validates the objects of a successful compilation. An
/// object of a user-defined type has no manifest form: K0703.
pub fn build(compiled: &Compiled, schemas: Option<&SchemaSet>) -> Built {
    run(compiled, schemas, Mode::Build)
}

/// The diagnostics of [`build`] for `kiln check`: the same lowering, identity and schema checks,
/// without stamping or keeping manifests; objects of user-defined types are language-level values
/// (`kiln eval` shows them), not an error.
pub fn check(compiled: &Compiled, schemas: Option<&SchemaSet>) -> Vec<Diagnostic> {
    run(compiled, schemas, Mode::Check).diagnostics
}

/// `Build` keeps stamped manifests and rejects project types; `Check` only wants diagnostics.
#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Build,
    Check,
}

fn run(compiled: &Compiled, schemas: Option<&SchemaSet>, mode: Mode) -> Built {
    let mut built = Built::default();
    if compiled.has_errors() {
        return built;
    }
    for object in compiled.objects.iter().filter(|o| !o.stdlib) {
        if mode == Mode::Build {
            built.diagnostics.push(
                Diagnostic::error(
                    codes::NOT_A_MANIFEST_TYPE,
                    format!(
                        "`{}` is a type of this project, which has no Kubernetes form",
                        object.ty
                    ),
                    locate(&compiled.sources, object.span, ""),
                    "kiln build cannot turn this into a manifest",
                )
                .with_help(
                    "emit a stdlib type (kf.Notebook, kf.TrainingJob, ...), or kf.Object for any other \
                     kind; keep project types for the values you build those from",
                ),
            );
        }
    }
    let objects: Vec<&crate::Emitted> = compiled.objects.iter().filter(|o| o.stdlib).collect();
    // One pass gathers what cross-object checks read (node pools, runtimes, quota workloads),
    // so lowering an object never scans the others: the build stays linear.
    let mut facts = ProjectFacts::for_types(objects.iter().map(|o| o.ty.as_str()));
    for object in &objects {
        if facts.records(&object.ty) {
            facts.add(object.ty.as_str(), object.name.as_str(), object.value.to_json());
        }
    }
    // Identity -> the declaration that produced it, to report duplicates on both.
    let mut seen: BTreeMap<String, Span> = BTreeMap::new();
    for object in &objects {
        // Each object's JSON lives only while it is lowered.
        let value = object.value.to_json();
        let input = LowerInput {
            ty: &object.ty,
            name: &object.name,
            value: &value,
        };
        let (lowered, problems) = lower::lower_all(&input, &facts);
        let failed = problems.iter().any(lower::LowerError::is_error);
        for error in problems {
            let span = locate(&compiled.sources, object.span, &error.pointer);
            let label = match error.pointer.as_str() {
                "" => format!("in {} `{}`", object.ty, quote(&object.name)),
                pointer => format!("at `{}`", dotted(pointer)),
            };
            let mut diagnostic = if error.is_error() {
                Diagnostic::error(error.code, error.message, span, label)
            } else {
                Diagnostic::warning(error.code, error.message, span, label)
            };
            diagnostic.help = error.help;
            for related in &error.related {
                if let Some(other) = objects
                    .iter()
                    .find(|o| o.ty == related.ty && o.name == related.name)
                {
                    let at = locate(&compiled.sources, other.span, &related.pointer);
                    diagnostic = diagnostic.with_label(at, related.message.clone());
                }
            }
            built.diagnostics.push(diagnostic);
        }
        if failed {
            continue;
        }
        // The file's project path, without a line: the trace must not change when only
        // unrelated lines move (see ARCHITECTURE.md, "Source trace").
        let source = compiled.sources.path(object.span.file).to_string();
        for value in lowered {
            let mut manifest = match Manifest::new(value) {
                Ok(m) => m,
                Err(e) => {
                    built.diagnostics.push(Diagnostic::error(
                        codes::INTERNAL,
                        format!("lowering produced an invalid manifest: {e}"),
                        object.span,
                        "while lowering this object",
                    ));
                    continue;
                }
            };
            // Every lowering checks the names it is given; this is the backstop for names it
            // derives or copies, since a name decides where the object goes (a file of
            // `kiln build -o`, a URL path of the API server).
            if let Some(problem) = identity_problem(&manifest) {
                let mut diagnostic = Diagnostic::error(
                    crate::lower::codes::INVALID_NAME,
                    problem,
                    locate(&compiled.sources, object.span, ""),
                    format!("in {} `{}`", object.ty, quote(&object.name)),
                );
                diagnostic.help = Some(
                    "names are DNS-1123 subdomains (lowercase letters, digits, `-` and `.`, at most 253) \
                     and namespaces DNS-1123 labels (at most 63, no `.`)"
                        .to_string(),
                );
                built.diagnostics.push(diagnostic);
                continue;
            }
            if mode == Mode::Build {
                hash::set_source(&mut manifest, &source);
                hash::stamp(&mut manifest);
            }
            let identity = identity(&manifest);
            if let Some(first) = seen.get(&identity) {
                // `locate` re-parses the file: only on this error path, never per object.
                let head = locate(&compiled.sources, object.span, "");
                let first = locate(&compiled.sources, *first, "");
                built.diagnostics.push(
                    Diagnostic::error(
                        codes::DUPLICATE_OBJECT,
                        format!("two declarations produce the object {identity}"),
                        head,
                        "produces it again",
                    )
                    .with_label(first, "first produced here")
                    .with_help("give the objects different names or namespaces"),
                );
                continue;
            }
            seen.insert(identity, object.span);
            if let Some(schemas) = schemas {
                validate(schemas, &manifest, &compiled.sources, object.span, &mut built);
            }
            if mode == Mode::Build {
                built.manifests.push(manifest);
            }
        }
    }
    built
}

fn validate(schemas: &SchemaSet, manifest: &Manifest, sources: &SourceMap, emit: Span, built: &mut Built) {
    match schemas.validate(manifest) {
        Ok(violations) => {
            for violation in violations {
                // Raw objects mirror the manifest, so the pointer often names the user's own key.
                let span = locate(sources, emit, &violation.pointer);
                built.diagnostics.push(
                    Diagnostic::error(
                        codes::SCHEMA_VIOLATION,
                        format!(
                            "{} `{}` does not match its upstream schema at `{}`: {}",
                            manifest.kind(),
                            manifest.name().unwrap_or(""),
                            violation.path(),
                            violation.message
                        ),
                        span,
                        "rejected by the upstream schema",
                    )
                    .with_help(
                        "the API server would reject this; fix the field, or report a bug in the stdlib \
                         if kiln produced it from valid input",
                    ),
                );
            }
        }
        Err(_) => built.unvalidated.push(identity(manifest)),
    }
}

/// `Kind/namespace/name` (apiVersion included, since two groups may share a kind).
fn identity(manifest: &Manifest) -> String {
    format!(
        "{} {}/{}/{}",
        manifest.api_version(),
        manifest.kind(),
        manifest.namespace().unwrap_or("-"),
        manifest.name().or(manifest.generate_name()).unwrap_or("")
    )
}

/// What is wrong with a manifest's name or namespace, as Kubernetes checks them: a namespace is
/// a DNS-1123 label; a name is a DNS-1123 subdomain, except for the RBAC kinds, whose names are
/// path segments (`system:controller:x`: anything but `/`, `%`, `.` and `..`).
fn identity_problem(manifest: &Manifest) -> Option<String> {
    if let Some(ns) = manifest.namespace()
        && !crate::lower::is_dns_label(ns)
    {
        return Some(format!("namespace `{}` is not a DNS-1123 label", quote(ns)));
    }
    // A `generateName` is a prefix (it may end in `-`); the server completes it.
    let (name, prefix) = match (manifest.name(), manifest.generate_name()) {
        (Some(name), _) => (name, false),
        (None, Some(prefix)) => (prefix, true),
        (None, None) => return None,
    };
    let rbac = prefix || manifest.api_version().starts_with("rbac.authorization.k8s.io/");
    let segment_ok =
        !name.is_empty() && name != "." && name != ".." && !name.contains(['/', '%']) && name.len() <= 253;
    let subdomain_ok = name.len() <= 253 && name.split('.').all(crate::lower::is_dns_label);
    let ok = if rbac {
        segment_ok
    } else {
        segment_ok && subdomain_ok
    };
    (!ok).then(|| format!("`{}` is not a valid name for a {}", quote(name), manifest.kind()))
}

/// `/spec/workers` -> `spec.workers`.
fn dotted(pointer: &str) -> String {
    pointer.trim_start_matches('/').replace('/', ".")
}

/// Finds the text that wrote the field at `pointer` inside the declaration at `emit`: it re-parses
/// the file and follows record keys as deep as they are written literally. When the field came
/// from elsewhere (a `let`, a function, a default), the deepest enclosing written key is used, and
/// failing that the declaration itself, so a label always lands on the user's text.
pub fn locate(sources: &SourceMap, emit: Span, pointer: &str) -> Span {
    let parsed = kiln_lang::parse(emit.file, sources.text(emit.file));
    let Some(item) = parsed
        .file
        .items
        .iter()
        .find(|i| i.span.start <= emit.start && emit.end <= i.span.end)
    else {
        return emit;
    };
    let ItemKind::Emit { value, ty, name } = &item.kind else {
        return emit;
    };
    // The declaration's head (`kf.Notebook "dev"`): one line, unlike the whole declaration.
    let mut best = ty.span.to(name.span);
    let mut entries: &[RecordEntry] = match &value.kind {
        ExprKind::Construct { fields, .. } | ExprKind::Record(fields) => fields,
        ExprKind::With { patch, .. } => patch,
        _ => return best,
    };
    // A tagged value (`Float { default = 0.1 }`) is `{"Float": {...}}` in the value: its tag is
    // a segment of the pointer that the text does not write as a key.
    let mut tag: Option<&str> = None;
    for segment in pointer.split('/').skip(1) {
        let segment = segment.replace("~1", "/").replace("~0", "~");
        if tag.take() == Some(segment.as_str()) {
            continue;
        }
        let Some(entry) = entries.iter().find(|e| e.key.name() == segment) else {
            break;
        };
        best = entry.key.span();
        entries = match &entry.value.kind {
            ExprKind::Construct { fields, ty } => {
                tag = ty.segments.last().map(|s| s.name.as_str());
                fields
            }
            ExprKind::Record(fields) => fields,
            ExprKind::With { patch, .. } => patch,
            _ => break,
        };
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::MemoryLoader;
    use crate::{Options, compile};

    fn compiled(text: &str) -> Compiled {
        let loader = MemoryLoader::new().with("main.kiln", text);
        compile(&loader, &["main.kiln".to_string()], &Options::default())
    }

    /// Each diagnostic as its code and help line.
    fn code_and_help(diagnostics: &[Diagnostic]) -> Vec<(&str, &str)> {
        diagnostics
            .iter()
            .map(|d| (d.code.id, d.help.as_deref().unwrap_or("")))
            .collect()
    }

    #[test]
    fn locate_follows_written_keys() {
        let text = "type T = { a: { b: Int } }\nT \"x\" {\n  a = { b = 1 }\n}\n";
        let c = compiled(text);
        assert!(!c.has_errors(), "{:?}", c.diagnostics);
        let span = locate(&c.sources, c.objects[0].span, "/a/b");
        assert_eq!(&text[span.range()], "b");
        let span = locate(&c.sources, c.objects[0].span, "/a/zzz");
        assert_eq!(&text[span.range()], "a");
        let span = locate(&c.sources, c.objects[0].span, "");
        assert_eq!(&text[span.range()], "T \"x\"");
    }

    #[test]
    fn one_name_in_two_namespaces_is_two_objects_but_one_namespace_is_a_duplicate() {
        let object = |ns: &str| {
            format!("kf.Object \"flags\" = kf.config_map({{ A = \"1\" }}) with {{ namespace = \"{ns}\" }}\n")
        };
        let text = format!("import \"kubeflow\" as kf\n{}{}", object("a"), object("b"));
        let c = compiled(&text);
        assert!(!c.has_errors(), "{:?}", c.diagnostics);
        let built = build(&c, None);
        assert!(built.diagnostics.is_empty(), "{:?}", built.diagnostics);
        assert_eq!(built.manifests.len(), 2);
        let text = format!("import \"kubeflow\" as kf\n{}{}", object("a"), object("a"));
        let built = build(&compiled(&text), None);
        let codes: Vec<&str> = built.diagnostics.iter().map(|d| d.code.id).collect();
        assert_eq!(codes, ["K0702"]);
    }

    #[test]
    fn trial_parameters_are_typed_references_checked_against_the_search_space() {
        let experiment = |arg: &str| {
            format!(
                "import \"kubeflow\" as kf\n\
                 let search: Map<kf.Parameter> = {{ lr = kf.log_uniform(0.001, 0.1) with {{ trial_name = \"learningRate\" }} }}\n\
                 kf.Experiment \"tune\" {{\n  namespace = \"team\"\n  objective = kf.maximize(\"accuracy\", goal = 0.9)\n  search = search\n  \
                 trial = kf.batch_trial({{ image = \"x:1\", command = [\"train\", \"--lr=${{kf.trial({arg})}}\"] }})\n}}\n"
            )
        };
        // The search space comes from a `let`, and the checker still knows its keys.
        let c = compiled(&experiment("search.rl"));
        assert_eq!(code_and_help(&c.diagnostics), [("K0108", "did you mean `lr`?")]);
        let c = compiled(&experiment("search.lr"));
        assert!(!c.has_errors(), "{:?}", c.diagnostics);
        let built = build(&c, None);
        assert!(built.diagnostics.is_empty(), "{:?}", built.diagnostics);
        let spec = &built.manifests[0].value()["spec"];
        assert_eq!(
            spec["trialTemplate"]["trialParameters"][0]["name"],
            "learningRate"
        );
        let command = spec["trialTemplate"]["trialSpec"].to_string();
        assert!(
            command.contains("--lr=${trialParameters.learningRate}"),
            "{command}"
        );
    }

    #[test]
    fn a_model_runtime_close_to_a_declared_one_is_a_typo_and_others_are_cluster_runtimes() {
        let text = |runtime: &str| {
            format!(
                "import \"kubeflow\" as kf\n\
                 kf.ServingRuntime \"acme-sklearn\" {{ namespace = \"ns\", formats = [{{ name = \"sklearn\" }}], \
                 containers = [{{ name = \"kserve-container\", image = \"x:1\" }}] }}\n\
                 kf.InferenceService \"m\" {{ namespace = \"ns\", model = kf.sklearn(\"s3://b/m\") with {{ runtime = \"{runtime}\" }} }}\n"
            )
        };
        let built = build(&compiled(&text("acme-sklean")), None);
        assert_eq!(
            code_and_help(&built.diagnostics),
            [(
                "K0817",
                "did you mean `acme-sklearn`? (A name that is not close to a declared one is taken to be a \
                 runtime installed in the cluster.)"
            )]
        );
        for fine in ["acme-sklearn", "kserve-sklearnserver"] {
            let built = build(&compiled(&text(fine)), None);
            assert!(built.diagnostics.is_empty(), "{fine}: {:?}", built.diagnostics);
        }
    }

    #[test]
    fn every_manifest_name_and_namespace_is_checked_whoever_made_it() {
        let m = |api: &str, ns: Option<&str>, name: &str| {
            let mut meta = serde_json::json!({ "name": name });
            if let Some(ns) = ns {
                meta["namespace"] = serde_json::json!(ns);
            }
            Manifest::new(serde_json::json!({"apiVersion": api, "kind": "K", "metadata": meta})).unwrap()
        };
        assert_eq!(identity_problem(&m("v1", Some("ns"), "a.b-c")), None);
        for (ns, name) in [
            (Some("ns"), "evil/../../x"),
            (Some("ns"), ".."),
            (Some("a.b"), "x"),
            (Some("../x"), "x"),
            (None, "Upper"),
        ] {
            assert!(identity_problem(&m("v1", ns, name)).is_some(), "{ns:?} {name}");
        }
        let rbac = "rbac.authorization.k8s.io/v1";
        assert_eq!(identity_problem(&m(rbac, None, "system:controller:x")), None);
        assert!(identity_problem(&m(rbac, None, "a/b")).is_some());
    }

    #[test]
    fn dotted_paths() {
        assert_eq!(dotted("/spec/workers"), "spec.workers");
    }
}
