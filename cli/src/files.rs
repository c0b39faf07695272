//! The file system side of the CLI: the project root, the confined loader the compiler reads
//! through, folder scans, and the writers (`build --out-dir`, `fmt`) that never write through a symlink.
//!
//! Every rule about what may be read lives in `kiln_compiler::source::confined`; this file only
//! tells it what the disk holds ([`FsTree`]), so a Git tree gets exactly the same rules.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::{Component, Path, PathBuf};

use kiln_compiler::manifest::Manifest;
use kiln_compiler::manifest::validate::SchemaSet;
use kiln_compiler::source::SourceMap;
use kiln_compiler::source::confined::{
    self, ConfinedLoader, Entry, Found, ProjectPath, Refusal, Special, Tree,
};
use kiln_lang::{Diagnostic, Span};

/// Where the project root comes from, in the order it is looked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RootKind {
    /// The enclosing Git work tree of the first path (a folder holding `.git`).
    GitWorkTree,
    /// No work tree: the nearest folder above the first path that holds `kiln.toml`.
    ProjectFile,
    /// No work tree and no project file: the folder of the first path (the path itself when it is a folder).
    FirstPath,
}

/// The folder no import or scan may leave. Canonical (no symlink in it), so that "inside" is a
/// prefix test on real paths.
#[derive(Debug, Clone)]
pub struct ProjectRoot {
    pub dir: PathBuf,
    pub kind: RootKind,
}

impl ProjectRoot {
    /// The root for a run whose first path is `first` (absolute, its folders canonical).
    pub fn discover(first: &Path) -> ProjectRoot {
        let start = if first.is_dir() {
            first.to_path_buf()
        } else {
            first
                .parent()
                .map_or_else(|| PathBuf::from("/"), Path::to_path_buf)
        };
        let holding = |name: &str| {
            start
                .ancestors()
                .find(|dir| std::fs::symlink_metadata(dir.join(name)).is_ok())
                .map(Path::to_path_buf)
        };
        if let Some(dir) = holding(".git") {
            return ProjectRoot {
                dir,
                kind: RootKind::GitWorkTree,
            };
        }
        if let Some(dir) = holding(kiln_gitops::project::PROJECT_FILE) {
            return ProjectRoot {
                dir,
                kind: RootKind::ProjectFile,
            };
        }
        ProjectRoot {
            dir: start,
            kind: RootKind::FirstPath,
        }
    }
}

/// A project folder on disk as a [`Tree`]: reports entries as `lstat` sees them and reads
/// regular files without following a symlink, without blocking on a FIFO, and never past the
/// limit.
pub struct FsTree {
    root: PathBuf,
}

impl FsTree {
    pub fn new(root: &Path) -> FsTree {
        FsTree {
            root: root.to_path_buf(),
        }
    }

    fn full(&self, path: &ProjectPath) -> PathBuf {
        if path.is_root() {
            self.root.clone()
        } else {
            self.root.join(path.as_str())
        }
    }
}

impl Tree for FsTree {
    fn entry(&self, path: &ProjectPath) -> Result<Entry, String> {
        let full = self.full(path);
        let meta = match std::fs::symlink_metadata(&full) {
            Ok(meta) => meta,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Entry::Missing),
            Err(e) => return Err(io_reason(&e)),
        };
        let ty = meta.file_type();
        Ok(if ty.is_symlink() {
            let target = std::fs::read_link(&full).map_err(|e| io_reason(&e))?;
            Entry::Symlink {
                target: target
                    .to_str()
                    .ok_or("a symlink target that is not UTF-8")?
                    .to_string(),
            }
        } else if ty.is_dir() {
            Entry::Dir
        } else if ty.is_file() {
            Entry::File { size: meta.len() }
        } else if ty.is_fifo() {
            Entry::Special(Special::Fifo)
        } else if ty.is_socket() {
            Entry::Special(Special::Socket)
        } else if ty.is_char_device() {
            Entry::Special(Special::CharDevice)
        } else if ty.is_block_device() {
            Entry::Special(Special::BlockDevice)
        } else {
            Entry::Special(Special::Other)
        })
    }

    fn read(&self, path: &ProjectPath, limit: u64) -> Result<Vec<u8>, String> {
        // The path was resolved by `confined`, but the file may have been swapped since:
        // O_NOFOLLOW refuses a symlink now at its end, O_NONBLOCK keeps a FIFO from blocking
        // the open, and the type is checked again on the open file.
        let file = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY)
            .open(self.full(path))
            .map_err(|e| io_reason(&e))?;
        let meta = file.metadata().map_err(|e| io_reason(&e))?;
        if !meta.file_type().is_file() {
            return Err("not a regular file".to_string());
        }
        let mut bytes = Vec::with_capacity(meta.len().min(limit) as usize);
        file.take(limit.saturating_add(1))
            .read_to_end(&mut bytes)
            .map_err(|e| io_reason(&e))?;
        Ok(bytes)
    }

    fn list(&self, dir: &ProjectPath) -> Result<Vec<String>, String> {
        let entries = std::fs::read_dir(self.full(dir)).map_err(|e| io_reason(&e))?;
        let mut names = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| io_reason(&e))?;
            // A name that is not UTF-8 cannot be a path kiln names; it is not a source.
            if let Some(name) = entry.file_name().to_str() {
                names.push(name.to_string());
            }
        }
        Ok(names)
    }

    fn absolute(&self, target: &str) -> Option<ProjectPath> {
        let relative = lexical(Path::new(target))
            .strip_prefix(&self.root)
            .ok()?
            .to_path_buf();
        ProjectPath::parse(relative.to_str()?).ok()
    }
}

/// An I/O error in words, without the path (the caller names it as written).
fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file".to_string(),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
        _ => e.to_string(),
    }
}

/// `path` with `.` and `..` applied lexically (`..` at `/` stays at `/`).
fn lexical(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

/// One run's project: its root, the tree the compiler reads, and how paths are shown.
pub struct Project {
    pub root: ProjectRoot,
    pub tree: FsTree,
    /// The working directory (canonical): diagnostics show paths relative to it.
    cwd: PathBuf,
    /// The first path was absolute: show absolute paths, as the user did.
    absolute: bool,
}

/// The largest source file read: the whole source budget (K0601 counts all files together).
pub fn max_file_bytes() -> u64 {
    kiln_compiler::Budget::default().max_source_bytes
}

impl Project {
    /// The project at `root`, with paths shown relative to `cwd` (absolute when the user gave
    /// absolute paths).
    pub fn new(root: ProjectRoot, cwd: PathBuf, absolute: bool) -> Project {
        Project {
            tree: FsTree::new(&root.dir),
            root,
            cwd,
            absolute,
        }
    }

    /// A loader that applies the confinement rules to every import.
    pub fn loader(&self) -> ConfinedLoader<&FsTree> {
        ConfinedLoader {
            tree: &self.tree,
            max_file_bytes: max_file_bytes(),
        }
    }

    /// How diagnostics name the file at `path`: relative to the working directory (absolute
    /// when the user gave absolute paths), like rustc and ruff.
    pub fn show(&self, path: &str) -> String {
        let full = self.root.dir.join(path);
        if self.absolute {
            return full.to_string_lossy().into_owned();
        }
        relative(&self.cwd, &full)
    }

    /// The real file on disk behind a project path (symlinks resolved by the confined rules).
    pub fn real_file(&self, found: &Found) -> PathBuf {
        self.root.dir.join(found.real.as_str())
    }
}

/// `to` relative to the folder `from` (both absolute): `../b/c.kiln`.
fn relative(from: &Path, to: &Path) -> String {
    let from: Vec<Component> = from.components().collect();
    let to: Vec<Component> = to.components().collect();
    let common = from.iter().zip(&to).take_while(|(a, b)| a == b).count();
    let mut parts: Vec<String> = vec!["..".to_string(); from.len() - common];
    parts.extend(
        to[common..]
            .iter()
            .map(|c| c.as_os_str().to_string_lossy().into_owned()),
    );
    if parts.is_empty() {
        ".".to_string()
    } else {
        parts.join("/")
    }
}

/// What the command-line paths name: the project, its sources (files as given, folders
/// scanned) and every refusal, as diagnostics on a map of the paths (never of contents).
pub struct Inputs {
    pub project: Project,
    pub files: Vec<Found>,
    pub refused: Vec<Diagnostic>,
    /// The files the refusals are labelled in (each holds only the path, never content).
    pub refused_sources: SourceMap,
}

impl Inputs {
    /// The root paths to compile (project paths).
    pub fn roots(&self) -> Vec<String> {
        self.files.iter().map(|f| f.path.as_str().to_string()).collect()
    }

    /// Moves the refusals into a compilation's diagnostics (and their files into its map).
    pub fn report_into(&self, sources: &mut SourceMap, diagnostics: &mut Vec<Diagnostic>) {
        for d in &self.refused {
            let mut d = d.clone();
            let name = self.refused_sources.name(d.primary.span.file).to_string();
            let file = sources.add(name, String::new());
            d.primary.span = Span::new(file, 0, 0);
            diagnostics.push(d);
        }
    }
}

/// The diagnostic of a refused path, labelled on a file that holds nothing (its name is the path
/// as the user would write it).
pub fn refusal(sources: &mut SourceMap, shown: &str, label: &str, refusal: &Refusal) -> Diagnostic {
    let file = sources.add(shown.to_string(), String::new());
    let mut d = Diagnostic::error(
        refusal.code(),
        format!("cannot read `{shown}`: {}", refusal.reason()),
        Span::new(file, 0, 0),
        label,
    );
    d.help = refusal.help();
    d
}

/// Finds the project of the command-line paths and what they name. Files are taken as given
/// (their rules are applied when they are read); folders are scanned for `*.kiln` (sorted, each
/// real file once). A path outside the root of the first is refused. Fails (with a message) only
/// when a path does not exist.
pub fn inputs(paths: &[PathBuf]) -> Result<Inputs, String> {
    let cwd = std::env::current_dir().map_err(|e| format!("cannot read the working directory: {e}"))?;
    let cwd = std::fs::canonicalize(&cwd).unwrap_or(cwd);
    let mut absolute_paths = Vec::new();
    for path in paths {
        absolute_paths.push(command_line_path(&cwd, path)?);
    }
    let first = absolute_paths.first().ok_or("no path given")?;
    let root = ProjectRoot::discover(first);
    let project = Project::new(root, cwd, paths.first().is_some_and(|p| p.is_absolute()));
    let mut files = Vec::new();
    let mut refused = Vec::new();
    let mut refused_sources = SourceMap::default();
    for (typed, full) in paths.iter().zip(&absolute_paths) {
        let typed = typed.to_string_lossy().replace('\\', "/");
        let inside = full
            .strip_prefix(&project.root.dir)
            .ok()
            .and_then(|rel| rel.to_str())
            .and_then(|rel| ProjectPath::parse(rel).ok());
        let Some(path) = inside else {
            let mut d = refusal(
                &mut refused_sources,
                &typed,
                "given on the command line",
                &Refusal::OutsideProject { absolute: false },
            );
            d.message = format!(
                "`{typed}` is outside the project root `{}`",
                project.root.dir.display()
            );
            d.help = Some(format!(
                "the project root is {}; run kiln once per project",
                match project.root.kind {
                    RootKind::GitWorkTree => "the Git work tree of the first path",
                    RootKind::ProjectFile => "the folder of kiln.toml above the first path",
                    RootKind::FirstPath => "the folder of the first path (there is no Git work tree)",
                }
            ));
            refused.push(d);
            continue;
        };
        if full.is_dir() {
            match confined::scan(&project.tree, &path) {
                Ok(scan) => {
                    if scan.files.is_empty() && scan.refused.is_empty() {
                        return Err(format!("no .kiln files in {typed}"));
                    }
                    files.extend(scan.files);
                    for (at, why) in &scan.refused {
                        let found = format!("found by scanning `{typed}`");
                        let d = refusal(&mut refused_sources, &project.show(at.as_str()), &found, why);
                        refused.push(d.with_note(found));
                    }
                }
                Err(why) => refused.push(refusal(&mut refused_sources, &typed, "given here", &why)),
            }
        } else {
            let real = match confined::resolve(&project.tree, &path) {
                Ok(resolved) => resolved.path,
                Err(_) => path.clone(),
            };
            files.push(Found { path, real });
        }
    }
    let mut seen = std::collections::BTreeSet::new();
    files.retain(|f| seen.insert(f.real.clone()));
    Ok(Inputs {
        project,
        files,
        refused,
        refused_sources,
    })
}

/// A command-line path made absolute: folders (the user's choice) canonical, a file's folder
/// canonical and its last component as given, so the confined rules decide about it.
pub fn command_line_path(cwd: &Path, path: &Path) -> Result<PathBuf, String> {
    let full = lexical(&cwd.join(path));
    if full.is_dir() {
        return std::fs::canonicalize(&full).map_err(|e| format!("{}: {e}", path.display()));
    }
    let missing = || format!("{}: no such file or directory", path.display());
    if std::fs::symlink_metadata(&full).is_err() {
        return Err(missing());
    }
    let (Some(parent), Some(name)) = (full.parent(), full.file_name()) else {
        return Err(missing());
    };
    Ok(std::fs::canonicalize(parent).map_err(|_| missing())?.join(name))
}

/// Replaces the file `dir/name` with `bytes` without ever writing through a symlink: the bytes
/// go to a new file in `dir` (created exclusively, not following links), which is then renamed
/// over `name`. A symlink at `name` is replaced, its target never touched.
pub fn replace_file(dir: &Path, name: &str, bytes: &[u8]) -> std::io::Result<()> {
    let temp = dir.join(format!(".{name}.kiln-tmp-{}", std::process::id()));
    let result = (|| {
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&temp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&temp, dir.join(name))
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    result
}

/// Rewrites a source file in place (`kiln fmt`): `path` is a resolved real path inside the
/// project; the write opens it without following a symlink (one swapped in since is refused),
/// and keeps its permissions.
pub fn rewrite_source(path: &Path, text: &str) -> std::io::Result<()> {
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)?;
    if !file.metadata()?.file_type().is_file() {
        return Err(std::io::Error::other("not a regular file"));
    }
    file.write_all(text.as_bytes())
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

/// The file `kiln build --out-dir` writes a manifest to: `<kind>_<namespace>_<name>.<ext>`, or
/// `<kind>_<name>.<ext>` for cluster-scoped objects, lower-case. Each part is escaped (every
/// byte other than `a-z 0-9 . -` becomes `%XX`), so `_` only ever separates parts and no part
/// can hold `/`: two different (kind, namespace, name) never share a name, and no name leaves
/// the folder. Names longer than a file system allows end in a hash of the whole identity.
pub fn output_file_name(manifest: &Manifest, extension: &str) -> String {
    let mut parts = vec![escape(&manifest.kind().to_lowercase())];
    if let Some(ns) = manifest.namespace() {
        parts.push(escape(ns));
    }
    parts.push(escape(manifest.name().or(manifest.generate_name()).unwrap_or("")));
    let mut stem = parts.join("_");
    // 255 bytes is the usual limit; leave room for the extension and the temporary prefix.
    const MAX_STEM: usize = 200;
    if stem.len() > MAX_STEM {
        let hash = blake3::hash(stem.as_bytes()).to_hex();
        stem.truncate(MAX_STEM - 17);
        stem = format!("{stem}-{}", &hash[..16]);
    }
    format!("{stem}.{extension}")
}

fn escape(part: &str) -> String {
    let mut out = String::with_capacity(part.len());
    for b in part.bytes() {
        if b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-' {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    if out.is_empty() { "%00".to_string() } else { out }
}

/// Writes one file per manifest into `dir` (see [`output_file_name`]), so a directory diff in
/// review shows exactly which objects changed. Nothing is written when two objects would share
/// a file (K0705: same kind in two API groups, or kinds differing only in case, which
/// case-insensitive file systems fold), or when `dir` is a symlink (K0706). Files are replaced,
/// never written through (see [`replace_file`]).
pub fn write_manifests(
    dir: &Path,
    manifests: &[Manifest],
    json: bool,
    render: &dyn Fn(&[Manifest]) -> String,
) -> Result<(), (SourceMap, Vec<Diagnostic>)> {
    let extension = if json { "json" } else { "yaml" };
    let mut sources = SourceMap::default();
    let shown = dir.to_string_lossy().into_owned();
    if let Some(link) = symlinked_component(dir) {
        let file = sources.add(shown.clone(), String::new());
        let d = Diagnostic::error(
            kiln_compiler::codes::OUTPUT_THROUGH_SYMLINK,
            format!(
                "the output folder `{shown}` goes through the symlink `{}`",
                link.display()
            ),
            Span::new(file, 0, 0),
            "given to --out-dir",
        )
        .with_help("kiln build writes into a real folder only; remove the symlink or pick another folder");
        return Err((sources, vec![d]));
    }
    let mut by_file: BTreeMap<String, Vec<&Manifest>> = BTreeMap::new();
    let mut names = Vec::new();
    for manifest in manifests {
        let name = output_file_name(manifest, extension);
        by_file.entry(name.to_lowercase()).or_default().push(manifest);
        names.push(name);
    }
    let mut problems = Vec::new();
    for (name, sharing) in &by_file {
        if sharing.len() > 1 {
            let file = sources.add(shown.clone(), String::new());
            let who: Vec<String> = sharing
                .iter()
                .map(|m| {
                    format!(
                        "{} {}/{}",
                        m.api_version(),
                        m.kind(),
                        [m.namespace().unwrap_or("-"), m.name().unwrap_or("")].join("/")
                    )
                })
                .collect();
            problems.push(
                Diagnostic::error(
                    kiln_compiler::codes::OUTPUT_COLLISION,
                    format!("{} would be written to the same file `{name}`", who.join(" and ")),
                    Span::new(file, 0, 0),
                    "in this output folder",
                )
                .with_help(
                    "give the objects different names, or build them to the standard output (no --out-dir)",
                ),
            );
        }
    }
    if !problems.is_empty() {
        return Err((sources, problems));
    }
    let io_error = |sources: &mut SourceMap, message: String| {
        let file = sources.add(shown.clone(), String::new());
        Diagnostic::error(
            kiln_compiler::codes::OUTPUT_WRITE_FAILED,
            message,
            Span::new(file, 0, 0),
            "given to --out-dir",
        )
        .with_help("check that the folder can be created and written to")
    };
    if let Err(e) = std::fs::create_dir_all(dir) {
        let d = io_error(&mut sources, format!("cannot create {shown}: {e}"));
        return Err((sources, vec![d]));
    }
    for (manifest, name) in manifests.iter().zip(&names) {
        if let Err(e) = replace_file(dir, name, render(std::slice::from_ref(manifest)).as_bytes()) {
            let d = io_error(&mut sources, format!("cannot write {name} in {shown}: {e}"));
            return Err((sources, vec![d]));
        }
    }
    Ok(())
}

/// The first symlink among the components of `dir` that the user did not type as an absolute
/// prefix: for a relative `dir`, each of its prefixes; for an absolute one, `dir` itself.
fn symlinked_component(dir: &Path) -> Option<PathBuf> {
    let is_link = |p: &Path| std::fs::symlink_metadata(p).is_ok_and(|m| m.file_type().is_symlink());
    if dir.is_absolute() {
        return is_link(dir).then(|| dir.to_path_buf());
    }
    let mut prefix = PathBuf::new();
    for c in dir.components() {
        prefix.push(c);
        if matches!(c, Component::Normal(_)) && is_link(&prefix) {
            return Some(prefix);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn manifest(kind: &str, ns: Option<&str>, name: &str) -> Manifest {
        let mut meta = json!({"name": name});
        if let Some(ns) = ns {
            meta["namespace"] = json!(ns);
        }
        Manifest::new(json!({"apiVersion": "v1", "kind": kind, "metadata": meta})).unwrap()
    }

    #[test]
    fn output_names_are_injective_and_stay_in_the_folder() {
        let a = output_file_name(&manifest("ConfigMap", Some("a-b"), "c"), "yaml");
        let b = output_file_name(&manifest("ConfigMap", Some("a"), "b-c"), "yaml");
        assert_eq!(a, "configmap_a-b_c.yaml");
        assert_eq!(b, "configmap_a_b-c.yaml");
        let evil = output_file_name(&manifest("ConfigMap", None, "evil/../../ESCAPED"), "yaml");
        assert_eq!(evil, "configmap_evil%2F..%2F..%2F%45%53%43%41%50%45%44.yaml");
        assert!(!evil.contains('/'));
        let cluster = output_file_name(&manifest("Namespace", None, "x_y"), "yaml");
        assert_eq!(cluster, "namespace_x%5Fy.yaml");
        let long = output_file_name(&manifest("ConfigMap", Some("n"), &"a".repeat(253)), "yaml");
        assert!(long.len() <= 205, "{}", long.len());
    }

    #[test]
    fn relative_paths_climb_as_needed() {
        assert_eq!(relative(Path::new("/r/a"), Path::new("/r/a/b.kiln")), "b.kiln");
        assert_eq!(
            relative(Path::new("/r/a"), Path::new("/r/c/d.kiln")),
            "../c/d.kiln"
        );
        assert_eq!(relative(Path::new("/r"), Path::new("/r")), ".");
    }
}
