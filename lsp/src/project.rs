//! Projects and their analyses: which files are compiled together, and what the compiler said.
//!
//! A file's project is what `kiln check DIR` would compile for it: every `.kiln` file under the
//! project directory. That directory is the highest ancestor of the file (inside the editor's
//! workspace folder) such that it and every directory down to the file hold a `.kiln` file, so
//! `team/lib/common.kiln` belongs to `team/` when `team/` has specs of its own, while the sibling
//! folders of `examples/` stay separate projects. Open documents shadow the disk
//! ([`OverlayLoader`]).
//!
//! An analysis is one run of the compiler itself (`compile_with_facts`, then `build::check`, the
//! lowering, identity and fit checks of `kiln check`), so the editor shows exactly the codes and
//! labels of the command line.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use kiln_compiler::check::facts::Facts;
use kiln_compiler::source::{LoadError, SourceLoader};
use kiln_compiler::{Compiled, Options};
use kiln_lang::{Diagnostic, FileId};

/// Reads the project's files by their names relative to the project directory (as the compiler
/// names files): open documents from the editor, everything else through `disk`.
pub struct OverlayLoader<'a> {
    pub dir: &'a Path,
    pub open: &'a HashMap<PathBuf, String>,
    pub disk: &'a dyn SourceLoader,
}

impl SourceLoader for OverlayLoader<'_> {
    fn load(&self, path: &str) -> Result<String, LoadError> {
        let full = self.dir.join(path);
        match self.open.get(&full) {
            Some(text) => Ok(text.clone()),
            None => self.disk.load(&full.to_string_lossy()),
        }
    }
}

/// Reads files from disk by the absolute paths the server compiles with. (The CLI's confined
/// loader names files relative to a project root; the editor sends absolute URIs, and a spec the
/// user opened in their own editor is not untrusted input.)
pub struct DiskLoader;

impl SourceLoader for DiskLoader {
    fn load(&self, path: &str) -> Result<String, LoadError> {
        std::fs::read_to_string(path).map_err(|e| {
            LoadError::new(match e.kind() {
                std::io::ErrorKind::NotFound => "no such file".to_string(),
                std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
                std::io::ErrorKind::InvalidData => "the file is not valid UTF-8".to_string(),
                _ => e.to_string(),
            })
        })
    }
}

/// One compilation of a project.
pub struct Analysis {
    /// The project directory; file names in the compilation are relative to it.
    pub dir: PathBuf,
    /// The project's root files (relative to `dir`, sorted).
    pub files: Vec<String>,
    pub compiled: Compiled,
    pub facts: Facts,
    /// Everything `kiln check` reports: compilation, then lowering and fit checks.
    pub diagnostics: Vec<Diagnostic>,
}

impl Analysis {
    pub fn run(
        dir: &Path,
        files: Vec<String>,
        open: &HashMap<PathBuf, String>,
        disk: &dyn SourceLoader,
    ) -> Analysis {
        let loader = OverlayLoader { dir, open, disk };
        let (compiled, facts) = kiln_compiler::compile_with_facts(&loader, &files, &Options::default());
        let mut diagnostics = compiled.diagnostics.clone();
        diagnostics.extend(kiln_compiler::build::check(&compiled, None));
        Analysis {
            dir: dir.to_path_buf(),
            files,
            compiled,
            facts,
            diagnostics,
        }
    }

    /// The id of a file of this compilation, by its absolute path or the compiler's name for it.
    pub fn file(&self, path: &str) -> Option<FileId> {
        let name = Path::new(path)
            .strip_prefix(&self.dir)
            .map_or(path.to_string(), |p| p.to_string_lossy().into_owned());
        self.compiled.sources.find(&name)
    }

    /// The URI of a file of this compilation, by the compiler's name for it.
    pub fn uri(&self, name: &str) -> Option<lsp_types::Url> {
        match name.strip_prefix("<stdlib>/") {
            Some(_) => crate::uri_of(name),
            None => lsp_types::Url::from_file_path(self.dir.join(name)).ok(),
        }
    }
}

/// The project directory of `file` (see the module doc); `workspace` bounds the search.
pub fn project_dir(file: &Path, workspace: Option<&Path>) -> PathBuf {
    let Some(mut dir) = file.parent().map(Path::to_path_buf) else {
        return PathBuf::from("/");
    };
    while let Some(parent) = dir.parent() {
        if workspace.is_some_and(|w| !parent.starts_with(w)) || !has_kiln_file(parent) {
            break;
        }
        dir = parent.to_path_buf();
    }
    dir
}

fn has_kiln_file(dir: &Path) -> bool {
    std::fs::read_dir(dir).is_ok_and(|entries| {
        entries
            .flatten()
            .any(|e| e.path().extension().is_some_and(|x| x == "kiln"))
    })
}

/// The root files of the project in `dir`, relative to it: every `.kiln` file below it (sorted,
/// as `kiln check` orders them), open documents that are not saved yet included. Hidden folders, `target` and
/// `node_modules` are skipped.
pub fn project_files(dir: &Path, open: &HashMap<PathBuf, String>) -> Vec<String> {
    let mut found = Vec::new();
    walk(dir, &mut found);
    for path in open.keys() {
        if path.starts_with(dir) && path.extension().is_some_and(|x| x == "kiln") {
            found.push(path.clone());
        }
    }
    let mut files: Vec<String> = found
        .iter()
        .filter_map(|p| p.strip_prefix(dir).ok())
        .map(|p| p.to_string_lossy().replace('\\', "/"))
        .collect();
    files.sort();
    files.dedup();
    files
}

fn walk(dir: &Path, found: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if path.is_dir() {
            if !(name.starts_with('.') || name == "target" || name == "node_modules") {
                walk(&path, found);
            }
        } else if path.extension().is_some_and(|x| x == "kiln") {
            found.push(path);
        }
    }
}
