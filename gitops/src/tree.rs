//! One commit's files, read from the object database: the [`SourceLoader`] the compiler reads a
//! commit through, and the [`RepoTree`] the project file is checked against.
//!
//! Confinement (a pull request is untrusted input) is the compiler's own, shared with the file
//! system loader: [`GitTree`] only reports what a commit's tree holds (an entry of mode 120000 is
//! a symlink, 160000 a submodule, i.e. not a regular file; sizes come from the object header,
//! before any blob is read) and `kiln_compiler::source::confined` applies every rule: no path
//! leaves the tree, symlinks are resolved inside the tree only (a Git tree can place no absolute
//! target inside itself), only regular `.kiln` blobs are read, and nothing over
//! [`MAX_FILE_BYTES`] is loaded.
//!
//! Every file loaded (or that failed to load) is recorded with the blob it resolves to
//! ([`Snapshot::take_loaded`]): that list is an app's dependencies for incremental replanning
//! ([`crate::incremental`]).

use std::cell::RefCell;
use std::collections::HashMap;

use git2::{ObjectType, Oid, Repository, Tree};
use kiln_compiler::source::confined::{self, Entry, ProjectPath, Refusal, Special};
use kiln_compiler::source::{LoadError, SourceLoader};

use crate::project::{Confined, EntryKind, RepoTree};

/// The largest spec file read (a spec this big is certainly not hand-written).
pub const MAX_FILE_BYTES: u64 = 4 * 1024 * 1024;
/// The longest symlink target read (Linux's PATH_MAX).
const MAX_LINK_BYTES: usize = 4096;

const MODE_TREE: i32 = 0o040000;
const MODE_BLOB: i32 = 0o100644;
const MODE_EXEC: i32 = 0o100755;
const MODE_LINK: i32 = 0o120000;

/// A commit's tree as a `confined::Tree`: it reports entries, the rules are applied elsewhere.
///
/// Lookups are memoised: the confined rules resolve a path component by component and a plan
/// fingerprints every dependency of every app, so without the memo each lookup would walk (and
/// parse) every tree from the root again. Directory trees are found through their parent's
/// memoised tree; blob sizes are read once per object.
pub struct GitTree<'r> {
    repo: &'r Repository,
    tree: Tree<'r>,
    /// Directory path (`""`: the root) -> its tree, `None` when it is not a directory.
    dirs: RefCell<HashMap<String, Option<Tree<'r>>>>,
    sizes: RefCell<HashMap<Oid, (u64, ObjectType)>>,
}

impl<'r> GitTree<'r> {
    fn new(repo: &'r Repository, tree: Tree<'r>) -> GitTree<'r> {
        GitTree {
            repo,
            tree,
            dirs: RefCell::new(HashMap::new()),
            sizes: RefCell::new(HashMap::new()),
        }
    }

    /// The tree of the directory `dir` (`""`: the root), through its parent's.
    fn dir(&self, dir: &str) -> Option<Tree<'r>> {
        if dir.is_empty() {
            return Some(self.tree.clone());
        }
        if let Some(found) = self.dirs.borrow().get(dir) {
            return found.clone();
        }
        let (parent, name) = dir.rsplit_once('/').unwrap_or(("", dir));
        let found = self.dir(parent).and_then(|parent| {
            let entry = parent.get_name(name)?;
            (entry.filemode() == MODE_TREE)
                .then(|| self.repo.find_tree(entry.id()).ok())
                .flatten()
        });
        self.dirs.borrow_mut().insert(dir.to_string(), found.clone());
        found
    }

    /// The mode and object id at `path` (`None`: nothing there).
    fn at(&self, path: &ProjectPath) -> Option<(i32, Oid)> {
        if path.is_root() {
            return Some((MODE_TREE, self.tree.id()));
        }
        let (parent, name) = path.as_str().rsplit_once('/').unwrap_or(("", path.as_str()));
        let parent = self.dir(parent)?;
        let entry = parent.get_name(name)?;
        Some((entry.filemode(), entry.id()))
    }

    fn blob_size(&self, oid: Oid) -> Result<u64, String> {
        let known = self.sizes.borrow().get(&oid).copied();
        let (size, kind) = match known {
            Some(found) => found,
            None => {
                let odb = self.repo.odb().map_err(|e| e.message().to_string())?;
                let (size, kind) = odb.read_header(oid).map_err(|e| e.message().to_string())?;
                self.sizes.borrow_mut().insert(oid, (size as u64, kind));
                (size as u64, kind)
            }
        };
        if kind != ObjectType::Blob {
            return Err("the repository is damaged (an entry is not a blob)".to_string());
        }
        Ok(size)
    }
}

impl confined::Tree for GitTree<'_> {
    fn entry(&self, path: &ProjectPath) -> Result<Entry, String> {
        let Some((mode, oid)) = self.at(path) else {
            return Ok(Entry::Missing);
        };
        Ok(match mode {
            MODE_TREE => Entry::Dir,
            MODE_BLOB | MODE_EXEC => Entry::File {
                size: self.blob_size(oid)?,
            },
            MODE_LINK => {
                if self.blob_size(oid)? > MAX_LINK_BYTES as u64 {
                    return Err("a symlink target longer than 4096 bytes".to_string());
                }
                let blob = self.repo.find_blob(oid).map_err(|e| e.message().to_string())?;
                Entry::Symlink {
                    target: String::from_utf8_lossy(blob.content()).into_owned(),
                }
            }
            // 160000 is a submodule (a commit of another repository), never a file here.
            _ => Entry::Special(Special::Other),
        })
    }

    fn read(&self, path: &ProjectPath, limit: u64) -> Result<Vec<u8>, String> {
        let Some((_, oid)) = self.at(path) else {
            return Err("no such file".to_string());
        };
        if self.blob_size(oid)? > limit {
            // Say "too large" without loading it: one byte over is enough for the caller.
            return Ok(vec![0; limit as usize + 1]);
        }
        let blob = self.repo.find_blob(oid).map_err(|e| e.message().to_string())?;
        Ok(blob.content().to_vec())
    }

    fn list(&self, dir: &ProjectPath) -> Result<Vec<String>, String> {
        let Some((MODE_TREE, oid)) = self.at(dir) else {
            return Err("not a directory".to_string());
        };
        let tree = self.repo.find_tree(oid).map_err(|e| e.message().to_string())?;
        Ok(tree.iter().filter_map(|e| e.name().map(str::to_string)).collect())
    }
}

/// The files of one commit.
pub struct Snapshot<'r> {
    tree: GitTree<'r>,
    commit: Oid,
    loaded: RefCell<Vec<(String, Oid)>>,
}

impl<'r> Snapshot<'r> {
    pub(crate) fn new(repo: &'r Repository, tree: Tree<'r>, commit: Oid) -> Snapshot<'r> {
        Snapshot {
            tree: GitTree::new(repo, tree),
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

    /// Resolves a repository-relative path under the confinement rules.
    pub fn resolve(&self, path: &str) -> Result<confined::Resolved, Refusal> {
        confined::resolve(&self.tree, &ProjectPath::parse(path)?)
    }

    /// The blob `path` resolves to; zero when it resolves to no regular file. Two commits
    /// where every dependency has the same fingerprint compile an app the same way.
    pub fn fingerprint(&self, path: &str) -> Oid {
        match self.resolve(path) {
            Ok(confined::Resolved {
                path,
                entry: Entry::File { .. },
            }) => self.tree.at(&path).map_or(Oid::zero(), |(_, oid)| oid),
            _ => Oid::zero(),
        }
    }

    /// The commit's project file (`None`: it has none), read under the same rules.
    pub fn project_file(&self) -> Option<crate::project::ProjectFile> {
        crate::project::load(&self.tree, MAX_FILE_BYTES)
    }
}

impl SourceLoader for Snapshot<'_> {
    fn load(&self, path: &str) -> Result<String, LoadError> {
        // A failed load is recorded too (blob id zero): the file may exist in another commit.
        self.loaded
            .borrow_mut()
            .push((path.to_string(), self.fingerprint(path)));
        let path = ProjectPath::parse(path)?;
        Ok(confined::read_source(&self.tree, &path, MAX_FILE_BYTES)?)
    }
}

impl RepoTree for Snapshot<'_> {
    fn entry(&self, path: &str) -> Option<EntryKind> {
        Confined(&self.tree).entry(path)
    }

    fn kiln_files(&self, dir: &str) -> Vec<String> {
        Confined(&self.tree).kiln_files(dir)
    }
}
