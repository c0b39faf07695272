//! The confinement rules for reading a project: one pure implementation over a [`Tree`], so the
//! file system (the CLI) and a Git commit's tree apply exactly the same rules.
//!
//! A spec may come from an untrusted pull request. Whatever it imports or a folder scan finds,
//! kiln reads only what lies inside the project root:
//! - paths are [`ProjectPath`]s: relative to the root, `/`-separated, normalised lexically; a
//!   `..` past the root or an absolute path is refused ([`Refusal::OutsideProject`]);
//! - symlinks are resolved here, component by component, never by the operating system: a
//!   target inside the root is followed, a target outside (relative `..` past the root, or an
//!   absolute path the tree cannot place inside itself) is refused
//!   ([`Refusal::SymlinkOutside`]), and more than [`MAX_SYMLINK_HOPS`] links is a loop;
//! - only regular files are read; a directory, FIFO, socket or device is refused by its entry
//!   type before anything is opened ([`Refusal::NotRegularFile`]);
//! - the size is checked from the entry before reading, and the read itself stops at the limit
//!   (a file can grow between the two), so nothing larger is ever held in memory;
//! - sources are `.kiln` files (the name as written and the file it resolves to) outside `.git/`,
//!   so a parse error can never quote a non-source file such as `.git/config`;
//! - folder scans visit each real directory once, so symlinks to `.` cannot make them loop.
//!
//! Refusals never carry the content of what they refused: they are made before it is read.

use std::collections::{BTreeSet, VecDeque};
use std::fmt;

use kiln_lang::Code;

use crate::codes;

/// Symlinks followed while resolving one path before it counts as a loop (Linux uses 40).
pub const MAX_SYMLINK_HOPS: usize = 40;

/// A path inside the project: relative to its root, normalised (no `.`, no `..`, no empty
/// component), `/`-separated. The empty path is the root itself.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct ProjectPath(String);

impl ProjectPath {
    /// The project root.
    pub fn root() -> ProjectPath {
        ProjectPath(String::new())
    }

    /// Parses a path relative to the root (`team/project.kiln`, `./a/../b.kiln`).
    pub fn parse(path: &str) -> Result<ProjectPath, Refusal> {
        ProjectPath::root().join(path)
    }

    /// `relative` resolved against this directory, lexically. Refused when absolute or when a
    /// `..` climbs past the root.
    pub fn join(&self, relative: &str) -> Result<ProjectPath, Refusal> {
        if is_absolute(relative) {
            return Err(Refusal::OutsideProject { absolute: true });
        }
        let mut parts: Vec<&str> = self.components().collect();
        for part in relative.split(['/', '\\']) {
            match part {
                "" | "." => {}
                ".." => {
                    if parts.pop().is_none() {
                        return Err(Refusal::OutsideProject { absolute: false });
                    }
                }
                _ => parts.push(part),
            }
        }
        Ok(ProjectPath(parts.join("/")))
    }

    /// The path of an import written in the file at `self`: joined to that file's folder.
    pub fn import(&self, relative: &str) -> Result<ProjectPath, Refusal> {
        self.parent().unwrap_or_default().join(relative)
    }

    /// One more component (a name read from a directory listing, never `.`/`..`/empty).
    pub fn child(&self, name: &str) -> ProjectPath {
        if self.0.is_empty() {
            ProjectPath(name.to_string())
        } else {
            ProjectPath(format!("{}/{name}", self.0))
        }
    }

    /// The folder holding this path (`None` for the root).
    pub fn parent(&self) -> Option<ProjectPath> {
        if self.0.is_empty() {
            return None;
        }
        Some(match self.0.rfind('/') {
            Some(i) => ProjectPath(self.0[..i].to_string()),
            None => ProjectPath::root(),
        })
    }

    pub fn is_root(&self) -> bool {
        self.0.is_empty()
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The last component (empty for the root).
    pub fn file_name(&self) -> &str {
        self.0.rsplit('/').next().unwrap_or("")
    }

    pub fn components(&self) -> impl Iterator<Item = &str> {
        self.0.split('/').filter(|c| !c.is_empty())
    }

    /// Whether the path names a kiln source (`*.kiln`, not inside `.git`).
    pub fn is_kiln_source(&self) -> bool {
        self.file_name().len() > ".kiln".len()
            && self.0.ends_with(".kiln")
            && !self.components().any(|c| c == ".git")
    }
}

impl fmt::Display for ProjectPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            f.write_str(".")
        } else {
            f.write_str(&self.0)
        }
    }
}

/// `/x`, `\x` and `C:` paths are absolute (the last so that a Windows path is never taken for
/// a relative one).
fn is_absolute(path: &str) -> bool {
    let b = path.as_bytes();
    path.starts_with('/')
        || path.starts_with('\\')
        || (b.len() >= 2 && b[1] == b':' && b[0].is_ascii_alphabetic())
}

/// What kind of thing a special (non-regular, non-directory) entry is, for messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Special {
    Fifo,
    Socket,
    CharDevice,
    BlockDevice,
    Other,
}

impl Special {
    fn describe(self) -> &'static str {
        match self {
            Special::Fifo => "a FIFO (named pipe)",
            Special::Socket => "a socket",
            Special::CharDevice => "a character device",
            Special::BlockDevice => "a block device",
            Special::Other => "not a regular file",
        }
    }
}

/// One entry of a [`Tree`], as `lstat` sees it: a symlink is reported, not followed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    File { size: u64 },
    Dir,
    Symlink { target: String },
    Special(Special),
    Missing,
}

/// A read-only tree of files: a folder on disk, a Git commit, or memory. Implementations only
/// report what is there; every rule is applied by this module.
pub trait Tree {
    /// The entry at `path`, without following a symlink at its last component. Only asked for
    /// paths whose parent folders this module has already resolved to real directories.
    fn entry(&self, path: &ProjectPath) -> Result<Entry, String>;

    /// Reads the regular file at `path` (a resolved path: no symlink in it). Must never return
    /// more than `limit + 1` bytes, whatever the file's size when it is read.
    fn read(&self, path: &ProjectPath, limit: u64) -> Result<Vec<u8>, String>;

    /// The names in the directory `dir` (a resolved path), in any order.
    fn list(&self, dir: &ProjectPath) -> Result<Vec<String>, String>;

    /// An absolute symlink target as a path of this tree, when it lies inside it (a folder on
    /// disk can tell; a Git tree cannot and keeps the default: outside).
    fn absolute(&self, _target: &str) -> Option<ProjectPath> {
        None
    }
}

impl<T: Tree + ?Sized> Tree for &T {
    fn entry(&self, path: &ProjectPath) -> Result<Entry, String> {
        (**self).entry(path)
    }
    fn read(&self, path: &ProjectPath, limit: u64) -> Result<Vec<u8>, String> {
        (**self).read(path, limit)
    }
    fn list(&self, dir: &ProjectPath) -> Result<Vec<String>, String> {
        (**self).list(dir)
    }
    fn absolute(&self, target: &str) -> Option<ProjectPath> {
        (**self).absolute(target)
    }
}

/// Why a path was not read. Each maps to a stable code ([`Refusal::code`]); none holds any
/// content of the refused file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// `..` past the project root, or an absolute path.
    OutsideProject {
        absolute: bool,
    },
    /// A symlink on the way resolves outside the project. `link` is the symlink's own path in
    /// the project; its target is deliberately not kept, so no message can name a file outside.
    SymlinkOutside {
        link: ProjectPath,
    },
    /// More than [`MAX_SYMLINK_HOPS`] symlinks.
    SymlinkLoop {
        link: ProjectPath,
    },
    /// A directory, FIFO, socket or device.
    NotRegularFile {
        what: &'static str,
    },
    /// Larger than the limit (`size` as far as known: at least `limit + 1`).
    TooLarge {
        size: u64,
        limit: u64,
    },
    /// Not a `.kiln` file (by name, or the file a symlink leads to), or inside `.git`. Only
    /// whether a symlink led there is kept: the message names the path as written, never the
    /// file it was refused to read.
    NotASource {
        via_symlink: bool,
    },
    NotFound,
    /// A folder on the way is a file.
    NotADirectory,
    NotUtf8,
    /// Valid UTF-8 that starts with a byte-order mark (U+FEFF), which kiln's syntax does not
    /// allow: one clear refusal instead of a lexer error on an invisible character.
    ByteOrderMark,
    /// The tree failed to answer (permission denied, I/O error): its own words, no content.
    Io(String),
}

impl Refusal {
    pub fn code(&self) -> Code {
        match self {
            Refusal::OutsideProject { .. } => codes::OUTSIDE_PROJECT,
            Refusal::SymlinkOutside { .. } => codes::SYMLINK_OUTSIDE_PROJECT,
            Refusal::SymlinkLoop { .. } => codes::SYMLINK_LOOP,
            Refusal::NotRegularFile { .. } => codes::NOT_A_REGULAR_FILE,
            Refusal::TooLarge { .. } => codes::SOURCE_TOO_LARGE,
            Refusal::NotASource { .. } => codes::NOT_A_SOURCE_FILE,
            Refusal::NotFound
            | Refusal::NotADirectory
            | Refusal::NotUtf8
            | Refusal::ByteOrderMark
            | Refusal::Io(_) => codes::UNKNOWN_IMPORT,
        }
    }

    /// Why, in words for the user (completes "cannot import `x`: ...").
    pub fn reason(&self) -> String {
        match self {
            Refusal::OutsideProject { absolute: true } => "an absolute path leaves the project".to_string(),
            Refusal::OutsideProject { absolute: false } => {
                "the path climbs out of the project root".to_string()
            }
            Refusal::SymlinkOutside { link } => {
                format!("`{link}` is a symlink that leads outside the project")
            }
            Refusal::SymlinkLoop { link } => {
                format!("too many symlinks (a loop?) at `{link}`")
            }
            Refusal::NotRegularFile { what } => format!("it is {what}, not a regular file"),
            Refusal::TooLarge { size, limit } => {
                format!("the file has {size} bytes or more, over the limit of {limit} bytes")
            }
            Refusal::NotASource { via_symlink: true } => {
                "it is a symlink to a file that is not a .kiln source".to_string()
            }
            Refusal::NotASource { via_symlink: false } => "it is not a .kiln source".to_string(),
            Refusal::NotFound => "no such file".to_string(),
            Refusal::NotADirectory => "a folder on the way is a file".to_string(),
            Refusal::NotUtf8 => {
                "the file is not valid UTF-8 (a binary file, or another encoding)".to_string()
            }
            Refusal::ByteOrderMark => "the file starts with a UTF-8 byte-order mark".to_string(),
            Refusal::Io(e) => e.clone(),
        }
    }

    /// A full sentence on what to do instead, when there is one.
    pub fn help(&self) -> Option<String> {
        Some(match self {
            Refusal::OutsideProject { .. } => "kiln reads only files inside the project (the Git work tree, or the folder \
                 of the first path given); move the shared file into the project and import it by a relative path"
                .to_string(),
            Refusal::SymlinkOutside { .. } => "symlinks are followed only when they stay inside the project; copy the \
                 file into the project instead of linking to it"
                .to_string(),
            Refusal::SymlinkLoop { .. } => "make the symlink point at a real file".to_string(),
            Refusal::NotRegularFile { .. } => {
                "import a .kiln file; kiln never reads devices, pipes or sockets".to_string()
            }
            Refusal::TooLarge { .. } => {
                "split the file; sources this large are refused before they are read".to_string()
            }
            Refusal::NotASource { .. } => {
                "imports and folder scans read .kiln files only (never files inside .git)".to_string()
            }
            Refusal::NotUtf8 => "kiln sources are UTF-8 text; save the file as UTF-8, or leave binary files out of the project's .kiln files".to_string(),
            Refusal::ByteOrderMark => {
                "save the file as UTF-8 without a byte-order mark (editors call it `UTF-8`, not `UTF-8 with BOM`)".to_string()
            }
            _ => return None,
        })
    }
}

/// A path resolved through its symlinks: the real path in the tree and what is there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    pub path: ProjectPath,
    pub entry: Entry,
}

/// Follows `path` through its symlinks, inside the tree only. The result's entry is never a
/// symlink; it is [`Entry::Missing`] when the last component does not exist.
pub fn resolve(tree: &dyn Tree, path: &ProjectPath) -> Result<Resolved, Refusal> {
    let mut pending: VecDeque<String> = path.components().map(str::to_string).collect();
    let mut current = ProjectPath::root();
    let mut hops = 0;
    // `Some(link)` once a symlink's text is being followed: a `..` past the root is its fault.
    let mut via_link: Option<ProjectPath> = None;
    let mut entry = Entry::Dir;
    while let Some(part) = pending.pop_front() {
        if !matches!(entry, Entry::Dir) {
            return Err(Refusal::NotADirectory);
        }
        match part.as_str() {
            "" | "." => continue,
            ".." => {
                current = match current.parent() {
                    Some(parent) => parent,
                    None => {
                        return Err(match via_link {
                            Some(link) => Refusal::SymlinkOutside { link },
                            None => Refusal::OutsideProject { absolute: false },
                        });
                    }
                };
                continue;
            }
            _ => {}
        }
        let next = current.child(&part);
        match tree.entry(&next).map_err(Refusal::Io)? {
            Entry::Symlink { target } => {
                hops += 1;
                if hops > MAX_SYMLINK_HOPS {
                    return Err(Refusal::SymlinkLoop { link: next });
                }
                let mut parts: Vec<String> = if is_absolute(&target) {
                    match tree.absolute(&target) {
                        Some(inside) => {
                            current = ProjectPath::root();
                            inside.components().map(str::to_string).collect()
                        }
                        None => return Err(Refusal::SymlinkOutside { link: next }),
                    }
                } else {
                    target
                        .split(['/', '\\'])
                        .filter(|p| !p.is_empty())
                        .map(str::to_string)
                        .collect()
                };
                via_link = Some(next);
                while let Some(p) = parts.pop() {
                    pending.push_front(p);
                }
                entry = Entry::Dir;
            }
            Entry::Missing if !pending.is_empty() => return Err(Refusal::NotFound),
            found => {
                current = next;
                entry = found;
            }
        }
    }
    Ok(Resolved { path: current, entry })
}

/// Reads the source at `path` under every rule of this module, at most `limit` bytes.
pub fn read_source(tree: &dyn Tree, path: &ProjectPath, limit: u64) -> Result<String, Refusal> {
    if !path.is_kiln_source() {
        return Err(Refusal::NotASource { via_symlink: false });
    }
    let resolved = resolve(tree, path)?;
    if matches!(resolved.entry, Entry::File { .. }) && !resolved.path.is_kiln_source() {
        return Err(Refusal::NotASource { via_symlink: true });
    }
    read_resolved(tree, resolved, limit)
}

/// Reads a file that is not a spec (the project file `kiln.toml`) under the same rules as
/// [`read_source`]: inside the tree, a regular file, at most `limit` bytes, UTF-8.
pub fn read_text(tree: &dyn Tree, path: &ProjectPath, limit: u64) -> Result<String, Refusal> {
    read_resolved(tree, resolve(tree, path)?, limit)
}

fn read_resolved(tree: &dyn Tree, resolved: Resolved, limit: u64) -> Result<String, Refusal> {
    match resolved.entry {
        Entry::File { size } => {
            if size > limit {
                return Err(Refusal::TooLarge { size, limit });
            }
            let bytes = tree.read(&resolved.path, limit).map_err(Refusal::Io)?;
            if bytes.len() as u64 > limit {
                return Err(Refusal::TooLarge {
                    size: bytes.len() as u64,
                    limit,
                });
            }
            let text = String::from_utf8(bytes).map_err(|_| Refusal::NotUtf8)?;
            if text.starts_with('\u{feff}') {
                return Err(Refusal::ByteOrderMark);
            }
            Ok(text)
        }
        Entry::Dir => Err(Refusal::NotRegularFile { what: "a directory" }),
        Entry::Special(kind) => Err(Refusal::NotRegularFile {
            what: kind.describe(),
        }),
        Entry::Missing => Err(Refusal::NotFound),
        Entry::Symlink { .. } => Err(Refusal::Io("unresolved symlink".to_string())),
    }
}

/// One `.kiln` file found by a folder scan: the path it was found at (through symlinked
/// folders, as a user would name it) and the real file it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub path: ProjectPath,
    pub real: ProjectPath,
}

/// What a folder scan found: sources (sorted by path, each real file once) and the entries it
/// refused (a symlink leading out of the project, a `.kiln` FIFO, ...), also sorted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scan {
    pub files: Vec<Found>,
    pub refused: Vec<(ProjectPath, Refusal)>,
}

/// Scans the folder `dir` for `.kiln` sources, recursively. Symlinks are resolved with
/// [`resolve`]; each real directory is visited once (so links to `.` or to a parent are not
/// cycles) and `.git` is never entered. Iterative: deep trees cannot exhaust the stack.
pub fn scan(tree: &dyn Tree, dir: &ProjectPath) -> Result<Scan, Refusal> {
    let start = resolve(tree, dir)?;
    if start.entry != Entry::Dir {
        return Err(Refusal::NotFound);
    }
    let mut visited: BTreeSet<ProjectPath> = BTreeSet::new();
    visited.insert(start.path.clone());
    let mut out = Scan::default();
    // (path as found, real directory)
    let mut stack = vec![(dir.clone(), start.path)];
    while let Some((shown, real)) = stack.pop() {
        let mut names = tree.list(&real).map_err(Refusal::Io)?;
        names.sort();
        for name in names {
            if name == ".git" || name.is_empty() || name == "." || name == ".." {
                continue;
            }
            let path = shown.child(&name);
            let direct = tree.entry(&real.child(&name)).map_err(Refusal::Io)?;
            let (target, entry) = match direct {
                Entry::Symlink { .. } => match resolve(tree, &path) {
                    Ok(r) => (r.path, r.entry),
                    Err(refusal) => {
                        out.refused.push((path, refusal));
                        continue;
                    }
                },
                other => (real.child(&name), other),
            };
            match entry {
                Entry::Dir if visited.insert(target.clone()) => stack.push((path, target)),
                Entry::File { .. } if path.is_kiln_source() => {
                    if target.is_kiln_source() {
                        out.files.push(Found { path, real: target });
                    } else {
                        out.refused
                            .push((path, Refusal::NotASource { via_symlink: true }));
                    }
                }
                Entry::Special(kind) if path.is_kiln_source() => out.refused.push((
                    path,
                    Refusal::NotRegularFile {
                        what: kind.describe(),
                    },
                )),
                _ => {}
            }
        }
    }
    out.files.sort_by(|a, b| a.path.cmp(&b.path));
    let mut seen = BTreeSet::new();
    out.files.retain(|f| seen.insert(f.real.clone()));
    out.refused.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

/// A [`crate::source::SourceLoader`] over a [`Tree`]: every load goes through [`read_source`].
pub struct ConfinedLoader<T> {
    pub tree: T,
    /// The largest file read (bytes); checked before reading and enforced while reading.
    pub max_file_bytes: u64,
}

impl<T: Tree> crate::source::SourceLoader for ConfinedLoader<T> {
    fn load(&self, path: &str) -> Result<String, crate::source::LoadError> {
        let path = ProjectPath::parse(path).map_err(crate::source::LoadError::from)?;
        read_source(&self.tree, &path, self.max_file_bytes).map_err(crate::source::LoadError::from)
    }
}

#[cfg(test)]
mod tests_support {
    use super::*;
    use std::collections::BTreeMap;

    /// A tree in memory: files, folders (implied by paths), symlinks and special entries.
    #[derive(Default)]
    pub struct Mem(BTreeMap<String, Entry>, BTreeMap<String, String>);

    impl Mem {
        pub fn file(mut self, path: &str, text: &str) -> Self {
            self.0.insert(
                path.into(),
                Entry::File {
                    size: text.len() as u64,
                },
            );
            self.1.insert(path.into(), text.into());
            self
        }
        pub fn link(mut self, path: &str, target: &str) -> Self {
            self.0.insert(
                path.into(),
                Entry::Symlink {
                    target: target.into(),
                },
            );
            self
        }
        pub fn special(mut self, path: &str, kind: Special) -> Self {
            self.0.insert(path.into(), Entry::Special(kind));
            self
        }
    }

    impl Tree for Mem {
        fn entry(&self, path: &ProjectPath) -> Result<Entry, String> {
            if let Some(e) = self.0.get(path.as_str()) {
                return Ok(e.clone());
            }
            let prefix = format!("{}/", path.as_str());
            Ok(if self.0.keys().any(|k| k.starts_with(&prefix)) {
                Entry::Dir
            } else {
                Entry::Missing
            })
        }
        fn read(&self, path: &ProjectPath, limit: u64) -> Result<Vec<u8>, String> {
            let text = self.1.get(path.as_str()).ok_or("gone")?;
            Ok(text.as_bytes().iter().take(limit as usize + 1).copied().collect())
        }
        fn list(&self, dir: &ProjectPath) -> Result<Vec<String>, String> {
            let prefix = if dir.is_root() {
                String::new()
            } else {
                format!("{}/", dir.as_str())
            };
            let names: BTreeSet<String> = self
                .0
                .keys()
                .filter_map(|k| k.strip_prefix(&prefix))
                .map(|rest| rest.split('/').next().unwrap_or("").to_string())
                .collect();
            Ok(names.into_iter().collect())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::tests_support::Mem;
    use super::*;

    fn p(s: &str) -> ProjectPath {
        ProjectPath::parse(s).unwrap()
    }

    #[test]
    fn paths_normalise_and_never_leave_the_root() {
        assert_eq!(p("./a/./b/../c.kiln").as_str(), "a/c.kiln");
        assert_eq!(p("a/b.kiln").import("../c.kiln").unwrap().as_str(), "c.kiln");
        assert_eq!(
            p("a.kiln").import("../../etc/passwd"),
            Err(Refusal::OutsideProject { absolute: false })
        );
        assert_eq!(
            p("a.kiln").import("/etc/passwd"),
            Err(Refusal::OutsideProject { absolute: true })
        );
        assert_eq!(
            ProjectPath::parse("C:\\x"),
            Err(Refusal::OutsideProject { absolute: true })
        );
        assert!(p("a/b.kiln").is_kiln_source());
        assert!(!p(".git/x.kiln").is_kiln_source());
        assert!(!p("a/.kiln").is_kiln_source());
    }

    #[test]
    fn symlinks_are_followed_inside_and_refused_outside() {
        let tree = Mem::default()
            .file("lib/real.kiln", "let x = 1\n")
            .link("in.kiln", "lib/real.kiln")
            .link("up.kiln", "../secret.kiln")
            .link("abs.kiln", "/etc/passwd")
            .link("sub/back.kiln", "../lib/real.kiln")
            .link("loop.kiln", "loop.kiln")
            .link("dirlink", "lib")
            .link("conf.kiln", ".git/config")
            .file(".git/config", "token")
            .special("pipe.kiln", Special::Fifo);
        let read = |path: &str| read_source(&tree, &p(path), 1000);
        assert_eq!(read("in.kiln").unwrap(), "let x = 1\n");
        assert_eq!(read("sub/back.kiln").unwrap(), "let x = 1\n");
        assert_eq!(read("dirlink/real.kiln").unwrap(), "let x = 1\n");
        assert!(matches!(read("up.kiln"), Err(Refusal::SymlinkOutside { .. })));
        assert!(matches!(read("abs.kiln"), Err(Refusal::SymlinkOutside { .. })));
        assert!(matches!(read("loop.kiln"), Err(Refusal::SymlinkLoop { .. })));
        assert!(matches!(read("conf.kiln"), Err(Refusal::NotASource { .. })));
        assert!(matches!(read("pipe.kiln"), Err(Refusal::NotRegularFile { .. })));
        assert!(matches!(read("lib"), Err(Refusal::NotASource { .. })));
        assert_eq!(
            read_source(&tree, &p("lib/real.kiln"), 3),
            Err(Refusal::TooLarge { size: 10, limit: 3 })
        );
    }

    #[test]
    fn scans_visit_each_real_folder_once_and_report_refusals() {
        let tree = Mem::default()
            .file("a.kiln", "")
            .file("sub/b.kiln", "")
            .link("self1", ".")
            .link("self2", ".")
            .link("sub/up", "..")
            .link("alias.kiln", "a.kiln")
            .link("evil.kiln", "../../outside.kiln")
            .special("fifo.kiln", Special::Fifo)
            .file("notes.txt", "");
        let scan = scan(&tree, &ProjectPath::root()).unwrap();
        let found: Vec<&str> = scan.files.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(found, ["a.kiln", "sub/b.kiln"]);
        let refused: Vec<(&str, &str)> = scan
            .refused
            .iter()
            .map(|(path, r)| (path.as_str(), r.code().id))
            .collect();
        assert_eq!(refused, [("evil.kiln", "K0111"), ("fifo.kiln", "K0113")]);
    }
}

#[cfg(test)]
mod properties {
    //! Random trees of folders, files and symlinks (targets among `.`, `..`, siblings, deep
    //! climbs and absolute paths): resolution and scans always end, and never yield a path
    //! that is not a real regular `.kiln` file of the tree.
    use super::tests_support::Mem;
    use super::*;
    use proptest::prelude::*;

    fn target() -> impl Strategy<Value = String> {
        prop_oneof![
            Just(".".to_string()),
            Just("..".to_string()),
            Just("../..".to_string()),
            Just("../../../../x.kiln".to_string()),
            Just("/etc/passwd".to_string()),
            "[ab]{1,2}(/[ab]{1,2}){0,2}(\\.kiln)?",
            "\\.\\./[ab]{1,2}(\\.kiln)?",
        ]
    }

    fn entry() -> impl Strategy<Value = (String, Option<String>)> {
        ("[ab]{1,2}(/[ab]{1,2}){0,2}(\\.kiln)?", prop::option::of(target()))
    }

    proptest! {
        #[test]
        fn scans_and_reads_end_and_stay_inside(entries in prop::collection::vec(entry(), 0..24)) {
            let mut tree = Mem::default();
            for (path, link) in &entries {
                tree = match link {
                    Some(target) => tree.link(path, target),
                    None => tree.file(path, "let x = 1\n"),
                };
            }
            let scan = scan(&tree, &ProjectPath::root()).unwrap_or_default();
            for found in &scan.files {
                prop_assert!(found.real.is_kiln_source());
                let is_file = matches!(tree.entry(&found.real), Ok(Entry::File { .. }));
                prop_assert!(is_file, "{:?}", found);
            }
            for (path, _) in &entries {
                if let Ok(p) = ProjectPath::parse(path)
                    && let Ok(resolved) = resolve(&tree, &p)
                {
                    let unresolved = matches!(resolved.entry, Entry::Symlink { .. });
                    prop_assert!(!unresolved);
                    let _ = read_source(&tree, &p, 100);
                }
            }
        }
    }
}
