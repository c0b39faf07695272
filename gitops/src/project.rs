//! The project file, `kiln.toml` at the repository root: which apps the repository holds.
//!
//! ```toml
//! prune_removed_apps = false     # optional: `kiln controller` prunes the objects of an app
//!                                # removed from this file (default: keeps them, reports it)
//!
//! [[app]]
//! name = "team-a"                # unique; also the default ApplySet name
//! paths = ["apps/team-a"]        # files or directories (searched for *.kiln), from the root
//! applyset = "team-a"            # optional, default: the name
//! namespace = "kiln-system"      # optional: namespace of the ApplySet parent
//! context = "prod"               # optional: kubeconfig context to apply to
//! validate = true                # optional: validate against the upstream schemas
//! ```
//!
//! `kiln plan`, `kiln apply` and the controller all read it through [`parse`], so they agree on
//! what an app is. Every problem is a diagnostic labelled on the file's own text (codes
//! `K11xx`, [`crate::codes`]); several are reported per run. Path checks go through
//! [`RepoTree`], so the same rules hold for a work tree on disk and for a commit's tree.

use std::collections::BTreeMap;

use kiln_compiler::source::confined::{self, Entry, ProjectPath, Refusal, Tree};
use kiln_compiler::source::{SourceMap, normalize_path};
use kiln_lang::diagnostic::did_you_mean;
use kiln_lang::{Diagnostic, FileId, Span};
use serde::Serialize;
use toml_edit::{Document, Item, TableLike};

use crate::codes;

/// The project file's name, at the repository root.
pub const PROJECT_FILE: &str = "kiln.toml";
/// Namespace of the ApplySet parent when an app names none (as `kiln apply`'s default).
pub const DEFAULT_APPLYSET_NAMESPACE: &str = "kiln-system";

/// One app: a set of spec files applied together as one ApplySet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct App {
    pub name: String,
    /// Repository-relative, normalised, `/`-separated; files or directories.
    pub paths: Vec<String>,
    pub applyset: String,
    pub applyset_namespace: String,
    /// Kubeconfig context; `None`: the current one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context: Option<String>,
    /// Validate manifests against the upstream schemas.
    pub validate: bool,
}

impl App {
    /// Whether `path` (repository-relative, normalised) belongs to this app.
    pub fn owns(&self, path: &str) -> bool {
        self.paths.iter().any(|p| within(path, p))
    }
}

/// The apps of a repository, in file order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Project {
    pub apps: Vec<App>,
    /// `kiln controller` prunes the objects of an app removed from the file (docs/controller.md);
    /// default false: they are kept and the app is reported as orphaned.
    pub prune_removed_apps: bool,
}

impl Project {
    pub fn app(&self, name: &str) -> Option<&App> {
        self.apps.iter().find(|a| a.name == name)
    }
}

/// What a path names in a repository.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    File,
    Dir,
}

/// A read-only view of a repository's files: a work tree on disk or a commit's tree.
pub trait RepoTree {
    /// What `path` (repository-relative, normalised, `""` for the root) is, if it exists as a
    /// regular file or a directory inside the repository.
    fn entry(&self, path: &str) -> Option<EntryKind>;
    /// The `*.kiln` files under `dir` (recursively), sorted. Entries that are not regular
    /// files or directories are skipped.
    fn kiln_files(&self, dir: &str) -> Vec<String>;
    /// The `*.kiln` files an app's paths name: files as given, directories searched (sorted).
    fn app_roots(&self, app: &App) -> Vec<String> {
        let mut out = Vec::new();
        for p in &app.paths {
            match self.entry(p) {
                Some(EntryKind::File) => out.push(p.clone()),
                Some(EntryKind::Dir) => out.extend(self.kiln_files(p)),
                None => {}
            }
        }
        out
    }
}

/// A [`RepoTree`] over any confined tree (a work tree on disk, a commit's tree), so the project
/// file's path checks follow exactly the rules the compiler reads sources by.
pub struct Confined<'a>(pub &'a dyn Tree);

impl RepoTree for Confined<'_> {
    fn entry(&self, path: &str) -> Option<EntryKind> {
        let path = ProjectPath::parse(path).ok()?;
        match confined::resolve(self.0, &path).ok()?.entry {
            Entry::File { .. } => Some(EntryKind::File),
            Entry::Dir => Some(EntryKind::Dir),
            _ => None,
        }
    }

    /// Through the compiler's folder scan: symlinked folders inside the tree are followed, each
    /// real file counts once, refused entries are left out.
    fn kiln_files(&self, dir: &str) -> Vec<String> {
        let Ok(dir) = ProjectPath::parse(dir) else {
            return Vec::new();
        };
        confined::scan(self.0, &dir)
            .map(|scan| {
                scan.files
                    .into_iter()
                    .map(|f| f.path.as_str().to_string())
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// The project file of a tree, read and parsed.
pub struct ProjectFile {
    /// `None` when the file has errors.
    pub project: Option<Project>,
    pub diagnostics: Vec<Diagnostic>,
    /// Holds the file, for rendering the diagnostics.
    pub sources: SourceMap,
}

/// Reads `kiln.toml` at the root of `tree` under the confinement rules and parses it; `None`
/// when there is none. A project file that cannot be read (a symlink out of the tree, not
/// UTF-8, too large) is one diagnostic.
pub fn load(tree: &dyn Tree, limit: u64) -> Option<ProjectFile> {
    let path = ProjectPath::parse(PROJECT_FILE).expect("a plain file name");
    let mut sources = SourceMap::default();
    match confined::read_text(tree, &path, limit) {
        Err(Refusal::NotFound) => None,
        Err(refusal) => {
            let file = sources.add(PROJECT_FILE, String::new());
            let mut d = Diagnostic::error(
                refusal.code(),
                format!("cannot read {PROJECT_FILE}: {}", refusal.reason()),
                Span::new(file, 0, 0),
                "the project file",
            );
            d.help = refusal.help();
            Some(ProjectFile {
                project: None,
                diagnostics: vec![d],
                sources,
            })
        }
        Ok(text) => {
            let file = sources.add(PROJECT_FILE, text.clone());
            let (project, diagnostics) = parse(&text, file, &Confined(tree));
            Some(ProjectFile {
                project,
                diagnostics,
                sources,
            })
        }
    }
}

/// Whether `path` is `dir` or inside it (both normalised; `""` is the root).
pub fn within(path: &str, dir: &str) -> bool {
    dir.is_empty() || path == dir || path.strip_prefix(dir).is_some_and(|rest| rest.starts_with('/'))
}

const TOP_KEYS: &[&str] = &["app", "prune_removed_apps"];
const APP_KEYS: &[&str] = &["name", "paths", "applyset", "namespace", "context", "validate"];

/// Parses `kiln.toml` (already added to a source map as `file`). Returns the project when the
/// file has no error, and every diagnostic found either way.
pub fn parse(text: &str, file: FileId, tree: &dyn RepoTree) -> (Option<Project>, Vec<Diagnostic>) {
    let mut diags = Vec::new();
    let span = |r: Option<std::ops::Range<usize>>| {
        let r = r.unwrap_or(0..0);
        Span::new(file, r.start, r.end)
    };
    let doc = match Document::parse(text) {
        Ok(doc) => doc,
        Err(e) => {
            let message = e.message().trim().to_string();
            diags.push(
                Diagnostic::error(
                    codes::PROJECT_SYNTAX,
                    "kiln.toml is not valid TOML",
                    span(e.span()),
                    message,
                )
                .with_help("see docs/gitops.md for the format of kiln.toml"),
            );
            return (None, diags);
        }
    };
    let root = doc.as_table();
    unknown_keys(root, TOP_KEYS, "at the top of kiln.toml", &span, &mut diags);
    let mut apps: Vec<(App, AppSpans)> = Vec::new();
    match root.get("app") {
        None => {}
        Some(Item::ArrayOfTables(tables)) => {
            for table in tables.iter() {
                if let Some(app) = parse_app(table, &span, tree, &mut diags) {
                    apps.push(app);
                }
            }
        }
        Some(other) => diags.push(
            Diagnostic::error(
                codes::INVALID_PROJECT_VALUE,
                "`app` must be a list of tables",
                span(other.span()),
                format!("this is {}", article(other.type_name())),
            )
            .with_help("write each app as its own `[[app]]` table"),
        ),
    }
    let prune_removed_apps = match root.get_key_value("prune_removed_apps") {
        None => false,
        Some((k, item)) => item.as_bool().unwrap_or_else(|| {
            diags.push(wrong_type(
                "prune_removed_apps",
                "true or false",
                item,
                span(k.span()).to(span(item.span())),
            ));
            false
        }),
    };
    check_names(&apps, &mut diags);
    check_claims(&apps, &mut diags);
    let failed = diags.iter().any(Diagnostic::is_error);
    let project = Project {
        apps: apps.into_iter().map(|(a, _)| a).collect(),
        prune_removed_apps,
    };
    (if failed { None } else { Some(project) }, diags)
}

/// Where an app's parts were written, for diagnostics that span two apps.
struct AppSpans {
    name: Span,
    paths: Vec<Span>,
}

fn parse_app(
    table: &dyn TableLike,
    span: &dyn Fn(Option<std::ops::Range<usize>>) -> Span,
    tree: &dyn RepoTree,
    diags: &mut Vec<Diagnostic>,
) -> Option<(App, AppSpans)> {
    unknown_keys(table, APP_KEYS, "in an `[[app]]` table", span, diags);
    let errors_before = diags.iter().filter(|d| d.is_error()).count();
    let string = |key: &str, diags: &mut Vec<Diagnostic>| -> Option<(String, Span)> {
        let (k, item) = table.get_key_value(key)?;
        match item.as_str() {
            Some(s) => Some((s.to_string(), span(item.span()))),
            None => {
                diags.push(wrong_type(
                    key,
                    "a string",
                    item,
                    span(k.span()).to(span(item.span())),
                ));
                None
            }
        }
    };
    let name = string("name", diags);
    let Some((name, name_span)) = name else {
        if table.get("name").is_none() {
            // The table has no span of its own; label its first key, or the header.
            let at = table
                .iter()
                .next()
                .and_then(|(k, _)| table.get_key_value(k))
                .map_or(Span::default(), |(k, _)| span(k.span()));
            diags.push(
                Diagnostic::error(
                    codes::INVALID_PROJECT_VALUE,
                    "an app has no `name`",
                    at,
                    "in this app",
                )
                .with_help("add `name = \"...\"`: a lowercase DNS label such as `team-a`"),
            );
        }
        return None;
    };
    if !is_dns_label(&name) {
        diags.push(
            Diagnostic::error(
                codes::INVALID_PROJECT_VALUE,
                format!("the app name `{name}` is not a lowercase DNS label"),
                name_span,
                "app name",
            )
            .with_help(
                "use lowercase letters, digits and `-`, starting and ending with a letter or digit, at most 50 characters (the ApplySet parent is `kiln-<name>`)",
            ),
        );
    }
    let mut paths = Vec::new();
    let mut path_spans = Vec::new();
    match table.get_key_value("paths") {
        None => diags.push(
            Diagnostic::error(
                codes::INVALID_PROJECT_VALUE,
                format!("the app `{name}` has no `paths`"),
                name_span,
                "this app",
            )
            .with_help("add `paths = [\"apps/NAME\"]`: the files or directories of its specs"),
        ),
        Some((k, item)) => match item.as_array() {
            Some(list) if !list.is_empty() => {
                for value in list.iter() {
                    let at = span(value.span());
                    match value.as_str() {
                        Some(p) => {
                            if let Some(p) = check_path(p, at, tree, diags) {
                                paths.push(p);
                                path_spans.push(at);
                            }
                        }
                        None => diags.push(
                            Diagnostic::error(
                                codes::INVALID_PROJECT_VALUE,
                                "a path must be a string",
                                at,
                                format!("this is {}", article(value.type_name())),
                            )
                            .with_help("write paths as strings relative to the repository root"),
                        ),
                    }
                }
            }
            Some(_) => diags.push(
                Diagnostic::error(
                    codes::INVALID_PROJECT_VALUE,
                    format!("the app `{name}` has an empty `paths`"),
                    span(item.span()),
                    "no paths",
                )
                .with_help("list at least one file or directory"),
            ),
            None => diags.push(wrong_type(
                "paths",
                "a list of strings",
                item,
                span(k.span()).to(span(item.span())),
            )),
        },
    }
    let applyset = string("applyset", diags);
    if let Some((a, at)) = &applyset
        && !is_dns_label(a)
    {
        diags.push(
            Diagnostic::error(
                codes::INVALID_PROJECT_VALUE,
                format!("the ApplySet name `{a}` is not a lowercase DNS label"),
                *at,
                "ApplySet name",
            )
            .with_help("use lowercase letters, digits and `-`, at most 50 characters"),
        );
    }
    let namespace = string("namespace", diags);
    let context = string("context", diags);
    let validate = match table.get_key_value("validate") {
        None => true,
        Some((k, item)) => match item.as_bool() {
            Some(b) => b,
            None => {
                diags.push(wrong_type(
                    "validate",
                    "true or false",
                    item,
                    span(k.span()).to(span(item.span())),
                ));
                true
            }
        },
    };
    if diags.iter().filter(|d| d.is_error()).count() > errors_before {
        return None;
    }
    Some((
        App {
            applyset: applyset.map_or_else(|| name.clone(), |(a, _)| a),
            name,
            paths,
            applyset_namespace: namespace.map_or_else(|| DEFAULT_APPLYSET_NAMESPACE.to_string(), |(n, _)| n),
            context: context.map(|(c, _)| c),
            validate,
        },
        AppSpans {
            name: name_span,
            paths: path_spans,
        },
    ))
}

/// Normalises a path and checks that it stays in the repository and names a file or a
/// directory holding `.kiln` files.
fn check_path(path: &str, at: Span, tree: &dyn RepoTree, diags: &mut Vec<Diagnostic>) -> Option<String> {
    let normal = normalize_path(path);
    if path.starts_with('/') || normal == ".." || normal.starts_with("../") {
        diags.push(
            Diagnostic::error(
                codes::MISSING_APP_PATH,
                format!("the path `{path}` leaves the repository"),
                at,
                "outside the repository",
            )
            .with_help("paths are relative to the repository root (where kiln.toml is)"),
        );
        return None;
    }
    match tree.entry(&normal) {
        Some(EntryKind::File) if normal.ends_with(".kiln") => Some(normal),
        Some(EntryKind::Dir) if !tree.kiln_files(&normal).is_empty() => Some(normal),
        Some(EntryKind::Dir) => {
            diags.push(
                Diagnostic::error(
                    codes::MISSING_APP_PATH,
                    format!("the directory `{path}` holds no .kiln file"),
                    at,
                    "no specs here",
                )
                .with_help("point the app at the directory of its .kiln files"),
            );
            None
        }
        Some(EntryKind::File) => {
            diags.push(
                Diagnostic::error(
                    codes::MISSING_APP_PATH,
                    format!("`{path}` is not a .kiln file"),
                    at,
                    "not a spec",
                )
                .with_help("name .kiln files or directories that hold them"),
            );
            None
        }
        None => {
            let mut d = Diagnostic::error(
                codes::MISSING_APP_PATH,
                format!("the path `{path}` does not exist in the repository"),
                at,
                "no such file or directory",
            );
            if let Some(hint) = sibling_hint(&normal, tree) {
                d = d.with_help(format!("did you mean `{hint}`?"));
            } else {
                d = d.with_help("paths are relative to the repository root (where kiln.toml is)");
            }
            diags.push(d);
            None
        }
    }
}

/// A close spelling among the existing paths of the same parent directory.
fn sibling_hint(path: &str, tree: &dyn RepoTree) -> Option<String> {
    let (parent, _) = path.rsplit_once('/').unwrap_or(("", path));
    let candidates: Vec<String> = tree
        .kiln_files(parent)
        .into_iter()
        .filter_map(|f| {
            let rest = f.strip_prefix(parent)?.trim_start_matches('/');
            let first = rest.split('/').next()?;
            Some(if parent.is_empty() {
                first.to_string()
            } else {
                format!("{parent}/{first}")
            })
        })
        .collect();
    did_you_mean(path, candidates.iter().map(String::as_str)).map(str::to_string)
}

fn check_names(apps: &[(App, AppSpans)], diags: &mut Vec<Diagnostic>) {
    let mut seen: BTreeMap<&str, Span> = BTreeMap::new();
    for (app, spans) in apps {
        if let Some(first) = seen.get(app.name.as_str()) {
            diags.push(
                Diagnostic::error(
                    codes::DUPLICATE_APP,
                    format!("two apps are named `{}`", app.name),
                    spans.name,
                    "second app with this name",
                )
                .with_label(*first, "first defined here")
                .with_help("give every app its own name; it names the app in plans and its ApplySet"),
            );
        } else {
            seen.insert(&app.name, spans.name);
        }
    }
}

/// A file may belong to one app only: the same path, or a path inside another app's directory.
fn check_claims(apps: &[(App, AppSpans)], diags: &mut Vec<Diagnostic>) {
    for (i, (a, sa)) in apps.iter().enumerate() {
        for (b, sb) in &apps[..i] {
            for (pa, at_a) in a.paths.iter().zip(&sa.paths) {
                for (pb, at_b) in b.paths.iter().zip(&sb.paths) {
                    if within(pa, pb) || within(pb, pa) {
                        let what = if pa == pb {
                            format!("the apps `{}` and `{}` both claim `{pa}`", b.name, a.name)
                        } else {
                            format!(
                                "the apps `{}` and `{}` overlap: `{}` is inside `{}`",
                                b.name,
                                a.name,
                                if within(pa, pb) { pa } else { pb },
                                if within(pa, pb) { pb } else { pa },
                            )
                        };
                        diags.push(
                            Diagnostic::error(
                                codes::PATH_CLAIMED_TWICE,
                                what,
                                *at_a,
                                format!("claimed by `{}`", a.name),
                            )
                            .with_label(*at_b, format!("claimed by `{}`", b.name))
                            .with_help(
                                "every spec file belongs to one app; move shared modules to a directory no app claims (apps import them)",
                            ),
                        );
                    }
                }
            }
        }
    }
}

fn unknown_keys(
    table: &dyn TableLike,
    known: &[&str],
    place: &str,
    span: &dyn Fn(Option<std::ops::Range<usize>>) -> Span,
    diags: &mut Vec<Diagnostic>,
) {
    for (key, _) in table.iter() {
        if known.contains(&key) {
            continue;
        }
        let at = table
            .get_key_value(key)
            .map_or(Span::default(), |(k, _)| span(k.span()));
        let mut d = Diagnostic::error(
            codes::UNKNOWN_PROJECT_KEY,
            format!("unknown key `{key}` {place}"),
            at,
            "unknown key",
        );
        d = match did_you_mean(key, known.iter().copied()) {
            Some(s) => d.with_help(format!("did you mean `{s}`?")),
            None => d.with_help(format!(
                "the keys here are: {}",
                known
                    .iter()
                    .map(|k| format!("`{k}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        };
        diags.push(d);
    }
}

fn wrong_type(key: &str, expected: &str, item: &Item, at: Span) -> Diagnostic {
    Diagnostic::error(
        codes::INVALID_PROJECT_VALUE,
        format!("`{key}` must be {expected}"),
        at,
        format!("this is {}", article(item.type_name())),
    )
}

fn article(type_name: &str) -> String {
    match type_name.chars().next() {
        Some('a' | 'e' | 'i' | 'o' | 'u') => format!("an {type_name}"),
        _ => format!("a {type_name}"),
    }
}

fn is_dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 50
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Files(Vec<&'static str>);
    impl RepoTree for Files {
        fn entry(&self, path: &str) -> Option<EntryKind> {
            if self.0.contains(&path) {
                Some(EntryKind::File)
            } else if self.0.iter().any(|f| within(f, path)) {
                Some(EntryKind::Dir)
            } else {
                None
            }
        }
        fn kiln_files(&self, dir: &str) -> Vec<String> {
            let mut v: Vec<String> = self
                .0
                .iter()
                .filter(|f| within(f, dir) && f.ends_with(".kiln"))
                .map(|f| f.to_string())
                .collect();
            v.sort();
            v
        }
    }

    #[test]
    fn defaults_and_ownership() {
        let tree = Files(vec!["apps/a/main.kiln", "apps/b/x.kiln"]);
        let text = "[[app]]\nname = \"a\"\npaths = [\"apps/a/\"]\n\n[[app]]\nname = \"b\"\npaths = [\"./apps/b\"]\napplyset = \"bee\"\nnamespace = \"ops\"\ncontext = \"prod\"\nvalidate = false\n";
        let (project, diags) = parse(text, FileId(0), &tree);
        assert!(diags.is_empty(), "{diags:?}");
        let project = project.unwrap();
        let a = project.app("a").unwrap();
        assert_eq!(a.paths, vec!["apps/a"]);
        assert_eq!(
            (a.applyset.as_str(), a.applyset_namespace.as_str()),
            ("a", "kiln-system")
        );
        assert!(a.validate && a.context.is_none());
        let b = project.app("b").unwrap();
        assert_eq!(
            (
                b.applyset.as_str(),
                b.applyset_namespace.as_str(),
                b.context.as_deref(),
                b.validate
            ),
            ("bee", "ops", Some("prod"), false)
        );
        assert!(a.owns("apps/a/main.kiln") && !a.owns("apps/ab/x.kiln"));
        assert!(!project.prune_removed_apps, "removed apps are kept by default");
    }

    #[test]
    fn prune_removed_apps_is_a_boolean() {
        let tree = Files(vec!["apps/a/main.kiln"]);
        let app = "[[app]]\nname = \"a\"\npaths = [\"apps/a\"]\n";
        let (project, diags) = parse(&format!("prune_removed_apps = true\n{app}"), FileId(0), &tree);
        assert!(diags.is_empty(), "{diags:?}");
        assert!(project.unwrap().prune_removed_apps);
        let (project, diags) = parse(&format!("prune_removed_apps = \"yes\"\n{app}"), FileId(0), &tree);
        assert!(project.is_none());
        assert_eq!(diags.len(), 1, "{diags:?}");
        assert!(diags[0].message.contains("must be true or false"), "{diags:?}");
    }
}
