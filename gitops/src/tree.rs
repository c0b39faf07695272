//! One commit's files, read from the object database: the [`SourceLoader`] the compiler reads a
//! commit through, and the [`RepoTree`] the project file is checked against.
//!
//! Confinement (a pull request is untrusted input): every path is resolved inside the commit's
//! tree only, component by component.
//! * An absolute path, or one whose `..` climbs above the root, is refused.
//! * A symbolic link (a blob of mode 120000) is followed inside the tree: its target is joined
//!   to the link's directory and resolved again, at most [`MAX_LINKS`] times; an absolute
//!   target or one that climbs above the root is refused. The machine's file system is never
//!   read, whatever the link says.
//! * Only regular blobs (modes 100644, 100755) are read; submodules and directories are refused.
//! * The size is read from the object header before the blob: a file above [`MAX_FILE_BYTES`]
//!   is refused without being loaded.
//!
//! Refusals say what rule was broken, never a link's target or a file's content. Every file
//! loaded (or that failed to load) is recorded with its blob id ([`Snapshot::take_loaded`]): that list is an app's
//! dependencies for incremental replanning ([`crate::incremental`]).

use std::cell::RefCell;

use git2::{ObjectType, Oid, Repository, Tree};
use kiln_compiler::source::{LoadError, SourceLoader, normalize_path};

use crate::project::{EntryKind, RepoTree};

/// The largest spec file read (a spec this big is certainly not hand-written).
pub const MAX_FILE_BYTES: usize = 4 * 1024 * 1024;
/// Symbolic links followed while resolving one path (as Linux's `MAXSYMLINKS`).
pub const MAX_LINKS: u32 = 40;

const MODE_TREE: i32 = 0o040000;
const MODE_BLOB: i32 = 0o100644;
const MODE_EXEC: i32 = 0o100755;
const MODE_LINK: i32 = 0o120000;
const MODE_COMMIT: i32 = 0o160000;

/// The files of one commit.
pub struct Snapshot<'r> {
    repo: &'r Repository,
    tree: Tree<'r>,
    commit: Oid,
    loaded: RefCell<Vec<(String, Oid)>>,
}

/// What a path resolves to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolved {
    Blob(Oid),
    Tree(Oid),
}

impl<'r> Snapshot<'r> {
    pub(crate) fn new(repo: &'r Repository, tree: Tree<'r>, commit: Oid) -> Snapshot<'r> {
        Snapshot {
            repo,
            tree,
            commit,
            loaded: RefCell::new(Vec::new()),
        }
    }

    pub fn commit(&self) -> Oid {
        self.commit
    }

    /// The files loaded through [`SourceLoader::load`] since the last call, with their blobs.
    pub fn take_loaded(&self) -> Vec<(String, Oid)> {
        std::mem::take(&mut self.loaded.borrow_mut())
    }

    /// Resolves a repository-relative path under the confinement rules (module docs).
    pub fn resolve(&self, path: &str) -> Result<Resolved, LoadError> {
        self.resolve_in(path, 0)
    }

    fn resolve_in(&self, path: &str, links: u32) -> Result<Resolved, LoadError> {
        let refused = |why: &str| Err(LoadError::new(why.to_string()));
        if path.starts_with('/') {
            return refused("an absolute path cannot be read from a repository");
        }
        let normal = normalize_path(path);
        if normal == ".." || normal.starts_with("../") {
            return refused("the path leaves the repository");
        }
        if normal.is_empty() {
            return Ok(Resolved::Tree(self.tree.id()));
        }
        let parts: Vec<&str> = normal.split('/').collect();
        let mut tree = self.tree.clone();
        for (i, part) in parts.iter().enumerate() {
            let last = i + 1 == parts.len();
            let Some((mode, id)) = tree.get_name(part).map(|e| (e.filemode(), e.id())) else {
                return refused("no such file");
            };
            match mode {
                MODE_TREE if last => return Ok(Resolved::Tree(id)),
                MODE_TREE => {
                    tree = self
                        .repo
                        .find_tree(id)
                        .map_err(|_| LoadError::new("the repository is damaged (missing tree)"))?;
                }
                MODE_BLOB | MODE_EXEC if last => return Ok(Resolved::Blob(id)),
                MODE_BLOB | MODE_EXEC => return refused("no such file (a file is used as a directory)"),
                MODE_LINK => {
                    if links >= MAX_LINKS {
                        return refused("too many levels of symbolic links");
                    }
                    let target = self.read_blob(id, 4096, "a symbolic link")?;
                    if target.starts_with('/') {
                        return refused("a symbolic link that points outside the repository");
                    }
                    let dir = parts[..i].join("/");
                    let mut next = if dir.is_empty() {
                        target
                    } else {
                        format!("{dir}/{target}")
                    };
                    for rest in &parts[i + 1..] {
                        next.push('/');
                        next.push_str(rest);
                    }
                    let next = normalize_path(&next);
                    if next == ".." || next.starts_with("../") {
                        return refused("a symbolic link that points outside the repository");
                    }
                    return self.resolve_in(&next, links + 1);
                }
                MODE_COMMIT => return refused("a submodule, not a regular file"),
                _ => return refused("not a regular file"),
            }
        }
        Ok(Resolved::Tree(tree.id()))
    }

    /// Reads a blob as UTF-8, checking its size from the header first.
    fn read_blob(&self, oid: Oid, limit: usize, what: &str) -> Result<String, LoadError> {
        let odb = self
            .repo
            .odb()
            .map_err(|_| LoadError::new("the repository cannot be read"))?;
        let (size, kind) = odb
            .read_header(oid)
            .map_err(|_| LoadError::new("the repository is damaged (missing blob)"))?;
        if kind != ObjectType::Blob {
            return Err(LoadError::new("not a regular file"));
        }
        if size > limit {
            return Err(LoadError::new(format!(
                "{what} larger than {limit} bytes is not read"
            )));
        }
        let blob = self
            .repo
            .find_blob(oid)
            .map_err(|_| LoadError::new("the repository is damaged (missing blob)"))?;
        String::from_utf8(blob.content().to_vec()).map_err(|_| LoadError::new("the file is not valid UTF-8"))
    }

    fn walk(&self, tree: &Tree<'_>, prefix: &str, out: &mut Vec<String>) {
        for entry in tree.iter() {
            let Some(name) = entry.name() else { continue };
            let path = if prefix.is_empty() {
                name.to_string()
            } else {
                format!("{prefix}/{name}")
            };
            match entry.filemode() {
                MODE_TREE => {
                    if let Ok(sub) = self.repo.find_tree(entry.id()) {
                        self.walk(&sub, &path, out);
                    }
                }
                MODE_BLOB | MODE_EXEC if name.ends_with(".kiln") => out.push(path),
                _ => {}
            }
        }
    }

    /// The text of a repository file (for `kiln.toml`), under the same rules as specs.
    pub fn read(&self, path: &str) -> Result<String, LoadError> {
        match self.resolve(path)? {
            Resolved::Blob(oid) => self.read_blob(oid, MAX_FILE_BYTES, "a file"),
            Resolved::Tree(_) => Err(LoadError::new("is a directory")),
        }
    }
}

impl SourceLoader for Snapshot<'_> {
    fn load(&self, path: &str) -> Result<String, LoadError> {
        // A failed load is recorded too (blob id zero): the file may exist in another commit.
        let resolved = self.resolve(path);
        let oid = match resolved {
            Ok(Resolved::Blob(oid)) => oid,
            _ => Oid::zero(),
        };
        self.loaded.borrow_mut().push((normalize_path(path), oid));
        match resolved? {
            Resolved::Blob(oid) => self.read_blob(oid, MAX_FILE_BYTES, "a file"),
            Resolved::Tree(_) => Err(LoadError::new("is a directory")),
        }
    }
}

impl RepoTree for Snapshot<'_> {
    fn entry(&self, path: &str) -> Option<EntryKind> {
        match self.resolve(path).ok()? {
            Resolved::Blob(_) => Some(EntryKind::File),
            Resolved::Tree(_) => Some(EntryKind::Dir),
        }
    }

    fn kiln_files(&self, dir: &str) -> Vec<String> {
        let Ok(Resolved::Tree(oid)) = self.resolve(dir) else {
            return Vec::new();
        };
        let Ok(tree) = self.repo.find_tree(oid) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        self.walk(&tree, &normalize_path(dir), &mut out);
        out.sort();
        out
    }
}
