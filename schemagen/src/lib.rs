//! OpenAPI v3 schemas -> kiln schema modules (`stdlib/schemas/`, imported as `k8s/<group>/<version>`).
//!
//! Inputs: every CRD version of `$KILN_SHARED/crds` (inlined structural schemas), Katib's OpenAPI
//! document (`$KILN_SHARED/katib-openapi/swagger.json`, `$ref`-based) and the Kubernetes API's
//! `/openapi/v3` documents of the pinned kube-apiserver (`$ref`-based). One module per API group
//! and version; every kind of that group version is a record type with the fields of its
//! schema (`status` aside: the server writes it) plus kiln's `api_version`, `kind`, `namespace`
//! (namespaced kinds only), `labels` and `annotations`, which lower exactly like `kf.Object`.
//!
//! Mapping (see docs/schemas.md):
//! - an object with `properties` -> a closed record type, hoisted to a named type; identical
//!   schemas of one module share one name, so Argo's many inlined pod specs become one `Container`;
//! - `required` -> required fields, other fields are optional (`f?: T`); `description` -> `##`
//!   docs; `default` -> a `Default:` line in the docs (the API server applies it, so output keeps
//!   to what the user wrote);
//! - `enum` -> a literal union; `x-kubernetes-int-or-string` -> `Quantity` when the schema's
//!   pattern is the quantity pattern (or the `$ref` is `resource.Quantity`), else `IntOrString`;
//! - `x-kubernetes-preserve-unknown-fields` -> an open record (`..`) with the known fields;
//! - `additionalProperties` -> `Map<T>`; `items` -> `List<T>`; a schema-less value -> `Any`;
//! - a `$ref` back to a type still being generated (recursive schemas such as
//!   `JSONSchemaProps`) -> `Any` on that edge, with a doc line saying so.
//!
//! The output is formatted with kiln's own formatter, so it is `kiln fmt`-clean by construction,
//! and it is deterministic: sources are read in sorted order and types are emitted in the order
//! they are first reached.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;

/// The folder of generated modules, relative to the repository root.
pub const OUT_DIR: &str = "stdlib/schemas";
/// Import paths of generated modules start with this.
pub const MODULE_PREFIX: &str = "k8s/";

/// The Kubernetes API groups whose `/openapi/v3` documents are turned into modules.
pub const CORE_API_PATHS: &[&str] = &[
    "api/v1",
    "apis/apps/v1",
    "apis/batch/v1",
    "apis/autoscaling/v2",
    "apis/networking.k8s.io/v1",
    "apis/policy/v1",
    "apis/rbac.authorization.k8s.io/v1",
    "apis/scheduling.k8s.io/v1",
    "apis/storage.k8s.io/v1",
];

/// One OpenAPI v3 document (`components.schemas`) fetched from a kube-apiserver.
#[derive(Debug, Clone)]
pub struct OpenApiDoc {
    /// What it is, for the header (`kube-apiserver v1.36.3 /openapi/v3/api/v1`).
    pub label: String,
    pub doc: Value,
}

/// Everything the generator reads.
#[derive(Debug, Clone, Default)]
pub struct Inputs {
    /// The shared reference folder (`crds/` and `katib-openapi/` are read from it).
    pub shared: PathBuf,
    /// The Kubernetes API documents (none: the core modules are not generated).
    pub core: Vec<OpenApiDoc>,
}

/// Generated files: path relative to [`OUT_DIR`] -> content.
pub type Output = BTreeMap<String, String>;

/// Runs the generator.
///
/// # Errors
/// A file that cannot be read or parsed, or generated text that does not format (a bug).
pub fn generate(inputs: &Inputs) -> Result<Output, String> {
    let mut g = Generator::default();
    // Core API first: CRD and Katib modules are self-contained, core modules import each other.
    for doc in &inputs.core {
        g.openapi_core(doc)?;
    }
    let katib = inputs.shared.join("katib-openapi/swagger.json");
    let text = std::fs::read_to_string(&katib).map_err(|e| format!("{}: {e}", katib.display()))?;
    let doc: Value = serde_json::from_str(&text).map_err(|e| format!("{}: {e}", katib.display()))?;
    g.openapi_katib(&doc, "shared/katib-openapi/swagger.json (kubeflow/katib v0.19.0)");
    for file in crd_files(&inputs.shared.join("crds")) {
        let rel = file
            .strip_prefix(&inputs.shared)
            .unwrap_or(&file)
            .display()
            .to_string();
        let text = std::fs::read_to_string(&file).map_err(|e| format!("{}: {e}", file.display()))?;
        for doc in serde_norway::Deserializer::from_str(&text) {
            let v = Value::deserialize(doc).map_err(|e| format!("{}: {e}", file.display()))?;
            if v.get("kind").and_then(Value::as_str) == Some("CustomResourceDefinition") {
                g.crd(&v, &format!("shared/{rel}"));
            }
        }
    }
    g.finish()
}

fn crd_files(dir: &Path) -> Vec<PathBuf> {
    files_under(dir, &["yaml", "yml"])
}

/// The files under `dir` (recursively) whose extension is one of `extensions`, sorted.
fn files_under(dir: &Path, extensions: &[&str]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p
                .extension()
                .is_some_and(|x| extensions.iter().any(|want| x == *want))
            {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// One generated module.
#[derive(Default)]
struct Module {
    sources: BTreeSet<String>,
    /// Imported module -> alias.
    imports: BTreeMap<String, String>,
    decls: Vec<Decl>,
    names: HashSet<String>,
    /// Canonical schema text -> type name (inlined CRD schemas).
    by_shape: HashMap<String, String>,
    /// `$ref` key -> type name.
    by_ref: HashMap<String, String>,
    /// Kinds already defined (a kind from Katib's OpenAPI wins over its schemaless CRD).
    kinds: HashSet<String>,
}

struct Decl {
    name: String,
    doc: Vec<String>,
    body: String,
}

/// Where `$ref`s of the document being read point, and which refs are being generated.
struct RefCtx<'d> {
    schemas: &'d serde_json::Map<String, Value>,
    /// `$ref` key -> module it is generated into.
    place: &'d dyn Fn(&str) -> String,
    busy: HashSet<String>,
}

#[derive(Default)]
struct Generator {
    modules: BTreeMap<String, Module>,
}

// Names that must not be shadowed by a generated type (the generated text uses them).
use kiln_lang::BUILTIN_TYPES as RESERVED;

impl Generator {
    fn module(&mut self, name: &str) -> &mut Module {
        self.modules.entry(name.to_string()).or_default()
    }

    /// One CRD: every served version with a schema.
    fn crd(&mut self, crd: &Value, source: &str) {
        let spec = &crd["spec"];
        let group = spec["group"].as_str().unwrap_or_default();
        let kind = spec["names"]["kind"].as_str().unwrap_or_default();
        let namespaced = spec["scope"].as_str() != Some("Cluster");
        for version in spec["versions"].as_array().into_iter().flatten() {
            let v = version["name"].as_str().unwrap_or_default();
            let Some(schema) = version.pointer("/schema/openAPIV3Schema") else {
                continue;
            };
            let module = module_name(group, v);
            if self.module(&module).kinds.contains(kind) {
                continue;
            }
            self.module(&module).sources.insert(source.to_string());
            let mut ctx = None;
            self.kind(&module, group, v, kind, namespaced, schema, &mut ctx);
        }
    }

    /// Katib's OpenAPI document: its kinds (group kubeflow.org, version v1beta1), with every type
    /// they reach generated into the same module (self-contained: it carries its own copies of
    /// the core types it was published with).
    fn openapi_katib(&mut self, doc: &Value, source: &str) {
        let Some(schemas) = doc.pointer("/components/schemas").and_then(Value::as_object) else {
            return;
        };
        let module = module_name("kubeflow.org", "v1beta1");
        self.module(&module).sources.insert(source.to_string());
        let place_module = module.clone();
        let place = move |_: &str| place_module.clone();
        let mut ctx = Some(RefCtx {
            schemas,
            place: &place,
            busy: HashSet::new(),
        });
        for (key, schema) in schemas {
            let kind = key.rsplit('.').next().unwrap_or(key);
            if is_kind_schema(schema) && key.trim_start_matches('.').starts_with("v1beta1.") {
                self.kind(&module, "kubeflow.org", "v1beta1", kind, true, schema, &mut ctx);
            }
        }
    }

    /// One Kubernetes API document: kinds by `x-kubernetes-group-version-kind`, types placed in
    /// the module of their API group (`io.k8s.api.core.v1.Pod` -> `k8s/core/v1`, the
    /// apimachinery meta types -> `k8s/meta/v1`).
    fn openapi_core(&mut self, doc: &OpenApiDoc) -> Result<(), String> {
        let schemas = doc
            .doc
            .pointer("/components/schemas")
            .and_then(Value::as_object)
            .ok_or_else(|| format!("{}: no components.schemas", doc.label))?;
        // Package -> group, from the kinds; namespaced kinds from the paths.
        let mut package_group: HashMap<String, (String, String)> = HashMap::new();
        let mut kinds: Vec<(String, String, String, String)> = Vec::new();
        for (key, schema) in schemas {
            let Some(gvk) = schema["x-kubernetes-group-version-kind"]
                .as_array()
                .and_then(|a| a.first())
            else {
                continue;
            };
            let (g, v, k) = (
                gvk["group"].as_str().unwrap_or_default().to_string(),
                gvk["version"].as_str().unwrap_or_default().to_string(),
                gvk["kind"].as_str().unwrap_or_default().to_string(),
            );
            let package = key.rsplit_once('.').map_or("", |p| p.0).to_string();
            if key.starts_with("io.k8s.api.") {
                package_group.insert(package, (g.clone(), v.clone()));
            }
            if is_kind_schema(schema) && key.starts_with("io.k8s.api.") {
                kinds.push((key.clone(), g, v, k));
            }
        }
        let mut namespaced: HashSet<String> = HashSet::new();
        for (path, item) in doc.doc["paths"].as_object().into_iter().flatten() {
            if !path.contains("/namespaces/{namespace}/") {
                continue;
            }
            for op in item.as_object().into_iter().flatten().map(|(_, o)| o) {
                if let Some(k) = op
                    .pointer("/x-kubernetes-group-version-kind/kind")
                    .and_then(Value::as_str)
                {
                    namespaced.insert(k.to_string());
                }
            }
        }
        let place = |key: &str| -> String {
            let package = key.rsplit_once('.').map_or("", |p| p.0);
            if let Some((g, v)) = package_group.get(package) {
                return module_name(g, v);
            }
            if let Some(rest) = package.strip_prefix("io.k8s.apimachinery.pkg.apis.meta.") {
                return format!("{MODULE_PREFIX}meta/{rest}");
            }
            let short = package.rsplit('.').take(2).collect::<Vec<_>>();
            format!(
                "{MODULE_PREFIX}{}/{}",
                short.get(1).unwrap_or(&"misc"),
                short.first().unwrap_or(&"v1")
            )
        };
        let mut ctx = Some(RefCtx {
            schemas,
            place: &place,
            busy: HashSet::new(),
        });
        for (key, g, v, k) in kinds {
            let module = module_name(&g, &v);
            self.module(&module).sources.insert(doc.label.clone());
            if let Some(schema) = schemas.get(&key) {
                let ns = namespaced.contains(&k);
                self.kind(&module, &g, &v, &k, ns, schema, &mut ctx);
            }
        }
        Ok(())
    }

    /// The record type of one kind.
    #[allow(clippy::too_many_arguments)]
    fn kind(
        &mut self,
        module: &str,
        group: &str,
        version: &str,
        kind: &str,
        namespaced: bool,
        schema: &Value,
        ctx: &mut Option<RefCtx>,
    ) {
        let api_version = if group.is_empty() {
            version.to_string()
        } else {
            format!("{group}/{version}")
        };
        let mut fields = vec![
            format!(
                "## The API version: always `{api_version}`.\napi_version: \"{api_version}\" = \"{api_version}\""
            ),
            format!("## The kind: always `{kind}`.\nkind: \"{kind}\" = \"{kind}\""),
        ];
        if namespaced {
            fields.push("## `metadata.namespace`.\nnamespace?: String".to_string());
        }
        fields.push("## `metadata.labels`.\nlabels: Map<String> = {}".to_string());
        fields.push("## `metadata.annotations`.\nannotations: Map<String> = {}".to_string());
        let schema = self.deref(schema, ctx);
        let required = required_of(&schema);
        let open = match schema.get("properties").and_then(Value::as_object) {
            Some(props) => {
                for (name, prop) in props {
                    if matches!(name.as_str(), "apiVersion" | "kind" | "metadata" | "status") {
                        continue;
                    }
                    let t = self.ty(module, prop, name, kind, ctx);
                    fields.push(field_text(name, prop, &t, required.contains(name)));
                }
                preserves_unknown(&schema)
            }
            None => true,
        };
        let mut doc = doc_lines(&schema);
        if open
            && schema
                .get("properties")
                .is_none_or(|p| p.as_object().is_some_and(|o| o.len() <= 4))
        {
            doc.push("Upstream publishes no schema for this kind's body: its fields are not checked.".into());
        }
        let name = self.reserve_name(module, kind, "");
        let m = self.module(module);
        m.kinds.insert(kind.to_string());
        m.decls.push(Decl {
            name,
            doc,
            body: record_text(&fields, open),
        });
    }

    /// Follows a lone `allOf: [{$ref}]` / `$ref` for the kind's own schema.
    fn deref(&self, schema: &Value, ctx: &Option<RefCtx>) -> Value {
        if let (Some(key), Some(c)) = (ref_key(schema), ctx.as_ref())
            && let Some(s) = c.schemas.get(key)
        {
            return s.clone();
        }
        schema.clone()
    }

    /// The type expression of `schema` used in `module`; records are hoisted to named types
    /// (named after `hint`, the field they were found under, within `parent`).
    fn ty(
        &mut self,
        module: &str,
        schema: &Value,
        hint: &str,
        parent: &str,
        ctx: &mut Option<RefCtx>,
    ) -> String {
        if let Some(key) = ref_key(schema) {
            return self.ref_ty(module, key, ctx);
        }
        let types: Vec<&str> = match &schema["type"] {
            Value::String(s) => vec![s.as_str()],
            Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        if schema["x-kubernetes-int-or-string"] == Value::Bool(true) {
            return if is_quantity_pattern(schema) {
                "Quantity".into()
            } else {
                "IntOrString".into()
            };
        }
        if let Some(values) = schema["enum"].as_array() {
            let lits: Vec<String> = values
                .iter()
                .filter_map(|v| match v {
                    Value::String(s) => Some(string_lit(s)),
                    Value::Number(n) if n.is_i64() => Some(n.to_string()),
                    _ => None,
                })
                .collect();
            if !lits.is_empty() && lits.len() == values.len() {
                return lits.join(" | ");
            }
        }
        match types.first().copied() {
            Some("string") => "String".into(),
            Some("integer") => "Int".into(),
            Some("number") => "Float".into(),
            Some("boolean") => "Bool".into(),
            Some("array") => {
                let item_hint = singular(hint);
                let item = match schema.get("items") {
                    Some(items) => self.ty(module, items, &item_hint, parent, ctx),
                    None => "Any".into(),
                };
                format!("List<{item}>")
            }
            Some("object") | None => self.object_ty(module, schema, hint, parent, ctx),
            Some(_) => "Any".into(),
        }
    }

    fn object_ty(
        &mut self,
        module: &str,
        schema: &Value,
        hint: &str,
        parent: &str,
        ctx: &mut Option<RefCtx>,
    ) -> String {
        let props = schema
            .get("properties")
            .and_then(Value::as_object)
            .filter(|p| !p.is_empty());
        let open = preserves_unknown(schema);
        if props.is_none() {
            return match schema.get("additionalProperties") {
                Some(Value::Bool(false)) => "{}".into(),
                Some(a @ Value::Object(_)) => {
                    let t = self.ty(module, a, &singular(hint), parent, ctx);
                    format!("Map<{t}>")
                }
                _ if open => "{ .. }".into(),
                _ if schema.get("type").is_none() => "Any".into(),
                _ => "Map<Any>".into(),
            };
        }
        let shape = serde_json::to_string(schema).unwrap_or_default();
        if let Some(name) = self.module(module).by_shape.get(&shape) {
            return name.clone();
        }
        let name = self.reserve_name(module, &pascal(hint), parent);
        self.module(module).by_shape.insert(shape, name.clone());
        let body = self.record_body(module, schema, &name, ctx);
        self.module(module).decls.push(Decl {
            name: name.clone(),
            doc: Vec::new(),
            body,
        });
        name
    }

    fn record_body(&mut self, module: &str, schema: &Value, name: &str, ctx: &mut Option<RefCtx>) -> String {
        let required = required_of(schema);
        let mut fields = Vec::new();
        for (fname, prop) in schema["properties"].as_object().into_iter().flatten() {
            let t = self.ty(module, prop, fname, name, ctx);
            fields.push(field_text(fname, prop, &t, required.contains(fname)));
        }
        record_text(&fields, preserves_unknown(schema))
    }

    /// A `$ref`: well-known scalars map to built-in types; other schemas become a named type in
    /// the module the reference is placed in (imported when that is another module).
    fn ref_ty(&mut self, module: &str, key: &str, ctx: &mut Option<RefCtx>) -> String {
        match key {
            "io.k8s.apimachinery.pkg.api.resource.Quantity" => return "Quantity".into(),
            "io.k8s.apimachinery.pkg.util.intstr.IntOrString" => return "IntOrString".into(),
            "io.k8s.apimachinery.pkg.apis.meta.v1.Time"
            | "io.k8s.apimachinery.pkg.apis.meta.v1.MicroTime" => {
                return "String".into();
            }
            "io.k8s.apimachinery.pkg.runtime.RawExtension"
            | "io.k8s.apimachinery.pkg.apis.meta.v1.unstructured.Unstructured" => return "{ .. }".into(),
            _ => {}
        }
        let Some(c) = ctx.as_mut() else {
            return "Any".into();
        };
        let target = (c.place)(key);
        let qualify = |g: &mut Generator, name: String| -> String {
            if target == module {
                name
            } else {
                let alias = alias_of(&target);
                g.module(module).imports.insert(target.clone(), alias.clone());
                format!("{alias}.{name}")
            }
        };
        if c.busy.contains(key) {
            // A recursive schema (`JSONSchemaProps`): kiln types are not recursive, so the back
            // edge is any value.
            return "Any".into();
        }
        if let Some(name) = self.module(&target).by_ref.get(key).cloned() {
            return qualify(self, name);
        }
        let Some(schema) = c.schemas.get(key).cloned() else {
            return "Any".into();
        };
        c.busy.insert(key.to_string());
        let local = key.rsplit('.').next().unwrap_or(key);
        let out = if schema
            .get("properties")
            .and_then(Value::as_object)
            .is_some_and(|p| !p.is_empty())
        {
            let name = self.reserve_name(&target, &pascal(local), "");
            self.module(&target).by_ref.insert(key.to_string(), name.clone());
            let body = self.record_body(&target, &schema, &name, ctx);
            self.module(&target).decls.push(Decl {
                name: name.clone(),
                doc: doc_lines(&schema),
                body,
            });
            qualify(self, name)
        } else {
            self.ty(&target, &schema, local, "", ctx)
        };
        if let Some(c) = ctx.as_mut() {
            c.busy.remove(key);
        }
        out
    }

    /// A free type name in `module`: `hint`, else `parent` + `hint`, else numbered.
    fn reserve_name(&mut self, module: &str, hint: &str, parent: &str) -> String {
        let m = self.module(module);
        let base = if hint.is_empty() {
            "Value".to_string()
        } else {
            hint.to_string()
        };
        let mut candidates = vec![base.clone()];
        if !parent.is_empty() {
            candidates.push(format!("{parent}{base}"));
        }
        for c in candidates {
            if !m.names.contains(&c) && !RESERVED.contains(&c.as_str()) {
                m.names.insert(c.clone());
                return c;
            }
        }
        let stem = if parent.is_empty() {
            base
        } else {
            format!("{parent}{base}")
        };
        let mut n = 2;
        loop {
            let c = format!("{stem}{n}");
            if !m.names.contains(&c) {
                m.names.insert(c.clone());
                return c;
            }
            n += 1;
        }
    }

    fn finish(self) -> Result<Output, String> {
        let mut out = Output::new();
        for (name, m) in &self.modules {
            let mut text = String::new();
            text.push_str(&format!(
                "# Generated by kiln-schemagen (scripts/gen-schemas.sh): do not edit.\n# Module `{name}`, from:\n"
            ));
            for s in &m.sources {
                text.push_str(&format!("# - {s}\n"));
            }
            text.push('\n');
            for (target, alias) in &m.imports {
                text.push_str(&format!("import \"{target}\" as {alias}\n"));
            }
            if !m.imports.is_empty() {
                text.push('\n');
            }
            for d in &m.decls {
                for line in &d.doc {
                    text.push_str(&doc_comment(line));
                }
                text.push_str(&format!("type {} = {}\n\n", d.name, d.body));
            }
            let formatted = kiln_lang::format::format_source(kiln_lang::FileId(0), &text).map_err(|d| {
                format!(
                    "generated module {name} does not parse: {}",
                    d.first().map(|d| d.message.clone()).unwrap_or_default()
                )
            })?;
            let rel = format!("{}.kiln", name.trim_start_matches(MODULE_PREFIX));
            out.insert(rel, formatted);
        }
        Ok(out)
    }
}

/// `k8s/<group>/<version>`; the core group is `core`.
pub fn module_name(group: &str, version: &str) -> String {
    let g = if group.is_empty() { "core" } else { group };
    format!("{MODULE_PREFIX}{g}/{version}")
}

/// The import alias of a generated module in another generated module: `k8s/meta/v1` -> `meta_v1`.
fn alias_of(module: &str) -> String {
    module
        .trim_start_matches(MODULE_PREFIX)
        .split(['/', '.', '-'])
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join("_")
}

fn ref_key(schema: &Value) -> Option<&str> {
    if let Some(r) = schema["$ref"].as_str() {
        return r.strip_prefix("#/components/schemas/");
    }
    match schema["allOf"].as_array() {
        Some(all) if all.len() == 1 => ref_key(&all[0]),
        _ => None,
    }
}

/// A kind's schema: `apiVersion`, `kind` and an object `metadata` (list kinds have `ListMeta`).
fn is_kind_schema(schema: &Value) -> bool {
    let p = &schema["properties"];
    if p.get("apiVersion").is_none() || p.get("kind").is_none() {
        return false;
    }
    let meta = ref_key(&p["metadata"]).unwrap_or_default();
    meta.ends_with("meta.v1.ObjectMeta") && p.get("items").is_none()
}

fn required_of(schema: &Value) -> BTreeSet<String> {
    schema["required"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_string)
        .collect()
}

fn preserves_unknown(schema: &Value) -> bool {
    schema["x-kubernetes-preserve-unknown-fields"] == Value::Bool(true)
}

/// The Kubernetes quantity pattern (controller-gen writes it on every `resource.Quantity`).
fn is_quantity_pattern(schema: &Value) -> bool {
    schema["pattern"]
        .as_str()
        .is_some_and(|p| p.contains("[KMGTPE]i") && p.contains("[numkMGTPE]"))
}

fn field_text(name: &str, schema: &Value, ty: &str, required: bool) -> String {
    let mut out = String::new();
    for line in doc_lines(schema) {
        out.push_str(&doc_comment(&line));
    }
    let key = if is_ident(name) {
        name.to_string()
    } else {
        string_lit(name)
    };
    let q = if required { "" } else { "?" };
    out.push_str(&format!("{key}{q}: {ty}"));
    out
}

fn record_text(fields: &[String], open: bool) -> String {
    if fields.is_empty() {
        return if open { "{ .. }".into() } else { "{}".into() };
    }
    let mut out = String::from("{\n");
    for f in fields {
        out.push_str(f);
        out.push('\n');
    }
    if open {
        out.push_str("..\n");
    }
    out.push('}');
    out
}

/// The description (and the default) as doc lines.
fn doc_lines(schema: &Value) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let desc = schema["description"].as_str().or_else(|| {
        schema["allOf"]
            .as_array()
            .and_then(|a| a.first())
            .and_then(|s| s["description"].as_str())
    });
    if let Some(d) = desc {
        out.extend(d.trim().lines().map(|l| l.trim_end().to_string()));
    }
    if let Some(d) = schema.get("default") {
        out.push(format!("Default: `{d}`."));
    }
    out
}

fn doc_comment(line: &str) -> String {
    if line.is_empty() {
        "##\n".into()
    } else {
        format!("## {line}\n")
    }
}

fn is_ident(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// A kiln string literal (`$` escaped: kiln strings interpolate `${...}`).
fn string_lit(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '$' => out.push_str("\\$"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `initContainers` -> `InitContainers`, `x-kubernetes-foo` -> `XKubernetesFoo`.
fn pascal(s: &str) -> String {
    let mut out = String::new();
    let mut upper = true;
    for c in s.chars() {
        if c.is_ascii_alphanumeric() {
            if upper {
                out.push(c.to_ascii_uppercase());
            } else {
                out.push(c);
            }
            upper = false;
        } else {
            upper = true;
        }
    }
    if out.chars().next().is_none_or(|c| c.is_ascii_digit()) {
        out.insert(0, 'T');
    }
    out
}

/// The element name of a list field: `containers` -> `container`, `policies` -> `policy`.
fn singular(s: &str) -> String {
    if let Some(stem) = s.strip_suffix("ies") {
        format!("{stem}y")
    } else if s.ends_with("ses") || s.ends_with("ss") {
        s.to_string()
    } else if let Some(stem) = s.strip_suffix('s') {
        stem.to_string()
    } else {
        s.to_string()
    }
}

/// Fetches the [`CORE_API_PATHS`] documents from a kube-apiserver through `fetch`
/// (`path -> JSON`), labelled with the server's version.
///
/// # Errors
/// What `fetch` reports.
pub fn core_docs(
    version: &str,
    mut fetch: impl FnMut(&str) -> Result<Value, String>,
) -> Result<Vec<OpenApiDoc>, String> {
    CORE_API_PATHS
        .iter()
        .map(|p| {
            Ok(OpenApiDoc {
                label: format!("kube-apiserver {version} /openapi/v3/{p}"),
                doc: fetch(&format!("/openapi/v3/{p}"))?,
            })
        })
        .collect()
}

/// Fetches the core documents from the project's own kube-apiserver (started through
/// `kiln-testsupport`, i.e. `scripts/control-plane.sh`). `None` when no cluster is available.
///
/// # Errors
/// A request that fails.
pub async fn fetch_core_from_cluster() -> Result<Option<Vec<OpenApiDoc>>, String> {
    let Some(cluster) = kiln_testsupport::cluster().await else {
        return Ok(None);
    };
    let client = cluster.client();
    let get = async |path: &str| -> Result<Value, String> {
        let out =
            kiln_testsupport::raw::send(client, http::Method::GET, path, "application/json", Vec::new())
                .await
                .map_err(|e| format!("GET {path}: {e}"))?;
        if !out.is_success() {
            return Err(format!("GET {path}: HTTP {}: {}", out.status, out.message()));
        }
        Ok(out.body)
    };
    let version = get("/version").await?;
    let version = version["gitVersion"].as_str().unwrap_or("unknown").to_string();
    let mut docs = Vec::new();
    for p in CORE_API_PATHS {
        let path = format!("/openapi/v3/{p}");
        docs.push(OpenApiDoc {
            label: format!("kube-apiserver {version} {path}"),
            doc: get(&path).await?,
        });
    }
    Ok(Some(docs))
}

/// Writes `output` under `root/stdlib/schemas`, removing generated files that are no longer produced.
///
/// # Errors
/// File-system errors.
pub fn write(root: &Path, output: &Output) -> Result<(), String> {
    let dir = root.join(OUT_DIR);
    for old in existing(&dir) {
        let rel = old.strip_prefix(&dir).unwrap_or(&old).display().to_string();
        if !output.contains_key(&rel) {
            std::fs::remove_file(&old).map_err(|e| format!("{}: {e}", old.display()))?;
        }
    }
    for (rel, text) in output {
        let path = dir.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
        }
        std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(())
}

/// The generated files now under `dir` (sorted).
pub fn existing(dir: &Path) -> Vec<PathBuf> {
    files_under(dir, &["kiln"])
}

/// The generated files under `root` that differ from `output` (changed, missing or extra).
pub fn stale(root: &Path, output: &Output) -> Vec<String> {
    let dir = root.join(OUT_DIR);
    let mut out = Vec::new();
    for (rel, text) in output {
        match std::fs::read_to_string(dir.join(rel)) {
            Ok(t) if &t == text => {}
            Ok(_) => out.push(format!("{OUT_DIR}/{rel} differs")),
            Err(_) => out.push(format!("{OUT_DIR}/{rel} is missing")),
        }
    }
    for f in existing(&dir) {
        let rel = f.strip_prefix(&dir).unwrap_or(&f).display().to_string();
        if !output.contains_key(&rel) {
            out.push(format!("{OUT_DIR}/{rel} is no longer generated"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names_and_literals() {
        assert_eq!(pascal("initContainers"), "InitContainers");
        assert_eq!(singular("policies"), "policy");
        assert_eq!(singular("containers"), "container");
        assert_eq!(string_lit("a$b\"c"), "\"a\\$b\\\"c\"");
        assert_eq!(
            alias_of("k8s/rbac.authorization.k8s.io/v1"),
            "rbac_authorization_k8s_io_v1"
        );
    }

    #[test]
    fn crd_schema_maps_to_closed_records() {
        let crd = json!({
            "kind": "CustomResourceDefinition",
            "spec": {"group": "example.com", "scope": "Namespaced", "names": {"kind": "Widget"},
              "versions": [{"name": "v1", "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                "apiVersion": {"type": "string"}, "kind": {"type": "string"}, "metadata": {"type": "object"},
                "spec": {"type": "object", "required": ["size"], "properties": {
                  "size": {"x-kubernetes-int-or-string": true, "anyOf": [{"type": "integer"}, {"type": "string"}],
                           "pattern": "^(\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))))?$"},
                  "port": {"x-kubernetes-int-or-string": true},
                  "mode": {"type": "string", "enum": ["a", "b"], "default": "a", "description": "The mode."},
                  "extra": {"type": "object", "x-kubernetes-preserve-unknown-fields": true},
                  "tags": {"type": "object", "additionalProperties": {"type": "string"}},
                  "items": {"type": "array", "items": {"type": "object", "properties": {"name": {"type": "string"}}}}
                }}}}}}]}
        });
        let mut g = Generator::default();
        g.crd(&crd, "test");
        let out = g.finish().unwrap();
        let text = &out["example.com/v1.kiln"];
        for expected in [
            "type Widget = {",
            "api_version: \"example.com/v1\" = \"example.com/v1\"",
            "namespace?: String",
            "spec?: Spec",
            "size: Quantity",
            "port?: IntOrString",
            "## The mode.\n  ## Default: `\"a\"`.\n  mode?: \"a\" | \"b\"",
            "extra?: { .. }",
            "tags?: Map<String>",
            "items?: List<Item>",
            "type Item = {\n  name?: String\n}",
        ] {
            assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
        }
    }

    #[test]
    fn recursive_refs_are_cut_and_cross_module_refs_imported() {
        let doc = json!({"components": {"schemas": {
            "io.k8s.api.x.v1.Thing": {"type": "object",
              "x-kubernetes-group-version-kind": [{"group": "x", "version": "v1", "kind": "Thing"}],
              "properties": {"apiVersion": {"type": "string"}, "kind": {"type": "string"},
                "metadata": {"allOf": [{"$ref": "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"}]},
                "schema": {"$ref": "#/components/schemas/io.k8s.api.x.v1.Props"}}},
            "io.k8s.api.x.v1.Props": {"type": "object", "properties": {
                "properties": {"type": "object", "additionalProperties": {"$ref": "#/components/schemas/io.k8s.api.x.v1.Props"}},
                "selector": {"$ref": "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelector"}}},
            "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta": {"type": "object", "properties": {"name": {"type": "string"}}},
            "io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelector": {"type": "object", "properties": {
                "matchLabels": {"type": "object", "additionalProperties": {"type": "string"}}}}
        }}, "paths": {}});
        let mut g = Generator::default();
        g.openapi_core(&OpenApiDoc {
            label: "t".into(),
            doc,
        })
        .unwrap();
        let out = g.finish().unwrap();
        let x = &out["x/v1.kiln"];
        assert!(x.contains("import \"k8s/meta/v1\" as meta_v1"), "{x}");
        assert!(x.contains("properties?: Map<Any>"), "{x}");
        assert!(x.contains("selector?: meta_v1.LabelSelector"), "{x}");
        assert!(!x.contains("namespace?"), "cluster-scoped: {x}");
        assert!(out["meta/v1.kiln"].contains("type LabelSelector = {"));
    }
}
