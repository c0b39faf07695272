//! The file system side of the CLI: finding `.kiln` files and the loader the compiler reads through.

use std::path::{Path, PathBuf};

use kiln_compiler::manifest::Manifest;
use kiln_compiler::manifest::validate::SchemaSet;
use kiln_compiler::source::{LoadError, SourceLoader};

/// Reads sources from disk. Paths are used as given (relative to the working directory).
pub struct FsLoader;

impl SourceLoader for FsLoader {
    fn load(&self, path: &str) -> Result<String, LoadError> {
        std::fs::read_to_string(path).map_err(|e| {
            LoadError(match e.kind() {
                std::io::ErrorKind::NotFound => "no such file".to_string(),
                std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
                std::io::ErrorKind::InvalidData => "the file is not valid UTF-8".to_string(),
                _ => e.to_string(),
            })
        })
    }
}

/// Expands the command-line paths: files as given, directories searched recursively for `*.kiln`
/// (sorted, so the order of outputs never depends on the file system).
pub fn collect_kiln_files(paths: &[PathBuf]) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    for path in paths {
        if path.is_dir() {
            let mut found = Vec::new();
            walk(path, &mut found).map_err(|e| format!("cannot read directory {}: {e}", path.display()))?;
            found.sort();
            if found.is_empty() {
                return Err(format!("no .kiln files in {}", path.display()));
            }
            out.extend(found);
        } else if path.exists() {
            out.push(display(path));
        } else {
            return Err(format!("{}: no such file or directory", path.display()));
        }
    }
    Ok(out)
}

fn walk(dir: &Path, found: &mut Vec<String>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            walk(&path, found)?;
        } else if path.extension().is_some_and(|e| e == "kiln") {
            found.push(display(&path));
        }
    }
    Ok(())
}

fn display(path: &Path) -> String {
    path.to_string_lossy().replace('\\', "/")
}

/// Reads every CRD (`*.yaml`, recursively, sorted) under `dir`, and optionally Katib's OpenAPI
/// document, into a schema set. The compiler stays pure: it only ever sees the texts.
pub fn load_schemas(dir: &Path, katib_openapi: Option<&Path>) -> Result<SchemaSet, String> {
    let mut found = Vec::new();
    walk_ext(dir, &["yaml", "yml"], &mut found).map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
    found.sort();
    if found.is_empty() {
        return Err(format!("no CRD files (*.yaml) in {}", dir.display()));
    }
    let mut set = SchemaSet::new();
    for path in &found {
        let text =
            std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        set.add_crd_yaml(&path.display().to_string(), &text)
            .map_err(|e| format!("{}: {e}", path.display()))?;
    }
    if let Some(path) = katib_openapi {
        let text =
            std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        set.add_katib_openapi(&path.display().to_string(), &text)
            .map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(set)
}

fn walk_ext(dir: &Path, extensions: &[&str], found: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            walk_ext(&path, extensions, found)?;
        } else if path
            .extension()
            .is_some_and(|e| extensions.iter().any(|x| e == *x))
        {
            found.push(path);
        }
    }
    Ok(())
}

/// Writes one file per manifest, named `<kind>-<namespace>-<name>.<ext>` (lower-case), so a
/// directory diff in review shows exactly which objects changed.
pub fn write_manifests(
    dir: &Path,
    manifests: &[Manifest],
    json: bool,
    render: &dyn Fn(&[Manifest]) -> String,
) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let extension = if json { "json" } else { "yaml" };
    for manifest in manifests {
        let name = format!(
            "{}-{}-{}.{extension}",
            manifest.kind().to_lowercase(),
            manifest.namespace().unwrap_or("cluster"),
            manifest.name().or(manifest.generate_name()).unwrap_or("unnamed")
        );
        let path = dir.join(name);
        std::fs::write(&path, render(std::slice::from_ref(manifest)))
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    Ok(())
}
