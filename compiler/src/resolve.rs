//! Module loading: roots and their imports, through the [`SourceLoader`], parsed with
//! `kiln_lang::parse`.
//!
//! Relative imports (`./x.kiln`, `../x.kiln`) are joined to the importing file's path; other
//! import paths name embedded standard-library modules. Reported here: unknown imports (K0102,
//! with did-you-mean over stdlib names), import cycles (K0103, naming the whole cycle),
//! duplicate aliases (K0104) and the source-size budget (K0601). Each file is loaded and parsed
//! once, whatever the number of importers. Name resolution inside files is done by the checker.

use std::collections::HashMap;

use kiln_lang::ast::{ItemKind, SourceFile};
use kiln_lang::diagnostic::did_you_mean;
use kiln_lang::{Diagnostic, FileId, Span};

use crate::codes;
use crate::source::confined::{ProjectPath, Refusal};
use crate::source::{LoadError, SourceLoader, SourceMap, normalize_path};

pub type ModId = usize;

include!(concat!(env!("OUT_DIR"), "/stdlib.rs"));

/// One loaded and parsed file.
#[derive(Debug)]
pub struct Module {
    pub file: FileId,
    /// The stdlib module name or the file stem: the prefix of `Emitted::ty`.
    pub name: String,
    pub is_stdlib: bool,
    pub is_root: bool,
    pub ast: SourceFile,
    /// Import alias -> module, in source order (`None` when the import failed).
    pub imports: Vec<(String, Span, Option<ModId>)>,
}

enum State {
    Loading,
    Done(ModId),
}

struct Loader<'a> {
    loader: &'a dyn SourceLoader,
    stdlib: &'a [(&'a str, &'a str)],
    sources: &'a mut SourceMap,
    diags: &'a mut Vec<Diagnostic>,
    modules: Vec<Option<Module>>,
    by_path: HashMap<String, State>,
    /// Paths of the modules being loaded, outermost first (for cycle messages).
    stack: Vec<String>,
    bytes: u64,
    max_bytes: u64,
    budget_reported: bool,
}

/// Loads the roots and everything they import. Modules come back in load order (an import is
/// listed after its first importer); root modules have `is_root`.
pub fn load(
    loader: &dyn SourceLoader,
    stdlib: &[(&str, &str)],
    roots: &[String],
    max_source_bytes: u64,
    sources: &mut SourceMap,
    diags: &mut Vec<Diagnostic>,
) -> Vec<Module> {
    let mut l = Loader {
        loader,
        stdlib,
        sources,
        diags,
        modules: Vec::new(),
        by_path: HashMap::new(),
        stack: Vec::new(),
        bytes: 0,
        max_bytes: max_source_bytes,
        budget_reported: false,
    };
    for root in roots {
        let path = normalize_path(root);
        if let Some(State::Done(id)) = l.by_path.get(&path) {
            if let Some(m) = l.modules[*id].as_mut() {
                m.is_root = true;
            }
            continue;
        }
        match l.loader.load(&path) {
            Ok(text) => {
                if let Some(id) = l.add(&path, &path, text, false, None)
                    && let Some(m) = l.modules[id].as_mut()
                {
                    m.is_root = true;
                }
            }
            Err(e) => {
                let file = l.sources.add(root.clone(), String::new());
                let mut d = Diagnostic::error(
                    e.code,
                    format!("cannot read `{root}`: {}", e.reason),
                    Span::new(file, 0, 0),
                    "this file",
                );
                d.help = e.help;
                l.diags.push(d);
            }
        }
    }
    l.modules.into_iter().flatten().collect::<Vec<_>>()
}

/// How long a chain of imports may be (each file importing the next). Loading follows imports
/// recursively, so the chain is capped; real projects use a handful of levels.
pub const MAX_IMPORT_DEPTH: usize = 32;

/// The module name shown in output types: the file stem (`team/project.kiln` -> `project`).
pub fn file_stem(path: &str) -> String {
    let base = path.rsplit('/').next().unwrap_or(path);
    base.strip_suffix(".kiln").unwrap_or(base).to_string()
}

impl Loader<'_> {
    /// Adds one file (already read) and loads its imports. Returns its id.
    fn add(
        &mut self,
        key: &str,
        display: &str,
        text: String,
        stdlib: bool,
        from: Option<Span>,
    ) -> Option<ModId> {
        self.bytes += text.len() as u64;
        if self.bytes > self.max_bytes {
            let file = self.sources.add(display.to_string(), String::new());
            if !self.budget_reported {
                self.budget_reported = true;
                self.diags.push(
                    Diagnostic::error(
                        codes::BUDGET_EXCEEDED,
                        format!("the sources exceed the budget of {} bytes", self.max_bytes),
                        from.unwrap_or(Span::new(file, 0, 0)),
                        "loading this file goes over the limit",
                    )
                    .with_help("split the spec, or raise the source budget"),
                );
            }
            return None;
        }
        let file = self.sources.add(display.to_string(), text);
        let parsed = kiln_lang::parse(file, self.sources.text(file));
        self.diags.extend(parsed.diagnostics);
        let id = self.modules.len();
        self.modules.push(None);
        self.by_path.insert(key.to_string(), State::Loading);
        self.stack.push(display.to_string());
        let name = if stdlib {
            key.trim_start_matches("<stdlib>/").to_string()
        } else {
            file_stem(key)
        };
        let mut imports = Vec::new();
        let mut aliases: HashMap<String, Span> = HashMap::new();
        for item in &parsed.file.items {
            let ItemKind::Import { path, alias } = &item.kind else {
                continue;
            };
            if let Some(first) = aliases.get(&alias.name) {
                self.diags.push(
                    Diagnostic::error(
                        codes::DUPLICATE_DEFINITION,
                        format!("the import alias `{}` is defined twice", alias.name),
                        alias.span,
                        "second import with this name",
                    )
                    .with_label(*first, "first defined here"),
                );
                continue;
            }
            aliases.insert(alias.name.clone(), alias.span);
            let target = match path.as_plain() {
                Some(p) => self.import(key, &p, path.span),
                None => {
                    self.diags.push(Diagnostic::error(
                        codes::UNKNOWN_IMPORT,
                        "an import path cannot use interpolation",
                        path.span,
                        "write the path literally",
                    ));
                    None
                }
            };
            imports.push((alias.name.clone(), alias.span, target));
        }
        self.stack.pop();
        self.by_path.insert(key.to_string(), State::Done(id));
        self.modules[id] = Some(Module {
            file,
            name,
            is_stdlib: stdlib,
            is_root: false,
            ast: parsed.file,
            imports,
        });
        Some(id)
    }

    fn import(&mut self, from: &str, path: &str, span: Span) -> Option<ModId> {
        let relative = path.starts_with("./") || path.starts_with("../");
        let absolute = path.starts_with('/') || path.starts_with('\\');
        let (key, display, text, stdlib) = if relative || absolute {
            if from.starts_with("<stdlib>/") {
                return None;
            }
            // The confinement rules (`source::confined`): no `..` past the project root, no
            // absolute path. Refused here, before the loader is asked for anything.
            let key = match ProjectPath::parse(from).and_then(|f| f.import(path)) {
                Ok(key) if !key.is_kiln_source() => {
                    let refusal = Refusal::NotASource { via_symlink: false };
                    self.diags.push(refused(path, LoadError::from(refusal), span));
                    return None;
                }
                Ok(key) => key.as_str().to_string(),
                Err(refusal) => {
                    self.diags.push(refused(path, LoadError::from(refusal), span));
                    return None;
                }
            };
            (key.clone(), key, None, false)
        } else {
            match self.stdlib.iter().find(|(n, _)| *n == path) {
                Some((n, text)) => {
                    let key = format!("<stdlib>/{n}.kiln");
                    (key.clone(), key, Some(text.to_string()), true)
                }
                None => {
                    let mut d = Diagnostic::error(
                        codes::UNKNOWN_IMPORT,
                        format!("there is no standard-library module `{path}`"),
                        span,
                        "unknown module",
                    );
                    d = match did_you_mean(path, self.stdlib.iter().map(|(n, _)| *n)) {
                        Some(s) => d.with_help(format!("did you mean `{s}`?")),
                        None if path.ends_with(".kiln") => d.with_help(format!(
                            "relative imports start with `./` or `../`: write \"./{path}\""
                        )),
                        None => d.with_help(format!(
                            "the standard library has: {}",
                            self.stdlib
                                .iter()
                                .filter(|(n, _)| !n.starts_with("k8s/"))
                                .map(|(n, _)| format!("`{n}`"))
                                .collect::<Vec<_>>()
                                .join(", ")
                        )),
                    };
                    self.diags.push(d);
                    return None;
                }
            }
        };
        match self.by_path.get(&key) {
            Some(State::Done(id)) => return Some(*id),
            Some(State::Loading) => {
                let start = self.stack.iter().position(|p| *p == display).unwrap_or(0);
                let mut cycle: Vec<String> = self.stack[start..].to_vec();
                cycle.push(display.clone());
                self.diags.push(
                    Diagnostic::error(
                        codes::IMPORT_CYCLE,
                        format!("import cycle: {}", cycle.join(" -> ")),
                        span,
                        "this import closes the cycle",
                    )
                    .with_help("move what both files need into a third file that both import"),
                );
                return None;
            }
            None => {}
        }
        if self.stack.len() >= MAX_IMPORT_DEPTH {
            self.diags.push(
                Diagnostic::error(
                    codes::IMPORT_CHAIN_TOO_DEEP,
                    format!("imports chain deeper than {MAX_IMPORT_DEPTH} files"),
                    span,
                    "this import goes past the limit",
                )
                .with_help("import the files a module needs directly instead of through a long chain"),
            );
            return None;
        }
        let text = match text {
            Some(t) => t,
            None => match self.loader.load(&key) {
                Ok(t) => t,
                Err(e) => {
                    let mut d = refused(path, e, span);
                    if path.trim_start_matches("./") != key {
                        d.message.push_str(&format!(" (looked for `{key}`)"));
                    }
                    self.diags.push(d);
                    return None;
                }
            },
        };
        self.add(&key, &display, text, stdlib, Some(span))
    }
}

/// The diagnostic of an import that was not loaded. It names the path as written and the reason;
/// it never holds anything read from the file (a refused file is not read at all).
fn refused(path: &str, e: LoadError, span: Span) -> Diagnostic {
    let mut d = Diagnostic::error(
        e.code,
        format!("cannot import `{path}`: {}", e.reason),
        span,
        "imported here",
    );
    d.help = e.help;
    d
}
