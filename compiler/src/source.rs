//! Sources: the one I/O boundary of the compiler ([`SourceLoader`]) and the map of loaded files.
//!
//! The compiler never touches the file system itself. The CLI passes a loader that reads files;
//! tests pass a [`MemoryLoader`]. Standard-library modules are embedded in the binary and never
//! go through the loader. [`confined`] holds the rules every loader of untrusted projects applies
//! (no path out of the project root, no special files, a size limit before reading).
//!
//! **File names.** The compiler names every file by its path relative to the project root
//! (`examples/team/project.kiln`), whatever the working directory: that name is what the source
//! trace (`kiln.dev/source`) records. Diagnostics may show another name ([`SourceMap::show_as`]:
//! the CLI shows paths relative to the working directory, as rustc and ruff do).

pub mod confined;

use std::collections::BTreeMap;

use kiln_lang::{Code, FileId};

use crate::codes;

/// Why a source could not be loaded: a stable code, the reason in words for the user (`no such
/// file`, `permission denied`) and a help line. Never any content of the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadError {
    pub code: Code,
    pub reason: String,
    pub help: Option<String>,
}

impl LoadError {
    /// A file that could not be read (K0102).
    pub fn new(reason: impl Into<String>) -> LoadError {
        LoadError {
            code: codes::UNKNOWN_IMPORT,
            reason: reason.into(),
            help: None,
        }
    }
}

impl From<confined::Refusal> for LoadError {
    fn from(refusal: confined::Refusal) -> LoadError {
        LoadError {
            code: refusal.code(),
            reason: refusal.reason(),
            help: refusal.help(),
        }
    }
}

/// Reads source files by path. Paths are project paths (relative to the project root,
/// `/`-separated, normalised: see [`confined::ProjectPath`]).
pub trait SourceLoader {
    fn load(&self, path: &str) -> Result<String, LoadError>;
}

/// An in-memory loader for tests and for embedding.
#[derive(Debug, Clone, Default)]
pub struct MemoryLoader {
    files: BTreeMap<String, String>,
}

impl MemoryLoader {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn with(mut self, path: &str, text: &str) -> Self {
        self.insert(path, text);
        self
    }

    pub fn insert(&mut self, path: &str, text: &str) {
        self.files.insert(normalize_path(path), text.to_string());
    }
}

impl SourceLoader for MemoryLoader {
    fn load(&self, path: &str) -> Result<String, LoadError> {
        self.files
            .get(&normalize_path(path))
            .cloned()
            .ok_or_else(|| LoadError::new("no such file"))
    }
}

/// One loaded file.
#[derive(Debug, Clone)]
pub struct SourceFile {
    /// The path as shown to the user in diagnostics (`project.kiln` when run in its folder).
    pub name: String,
    /// The path relative to the project root (`examples/team/project.kiln`,
    /// `<stdlib>/kubeflow.kiln`): what the source trace records, the same from any directory.
    pub path: String,
    pub text: String,
    /// Byte offset of the start of each line, so positions are a binary search, not a scan.
    line_starts: Vec<usize>,
}

/// Every file loaded during one compilation, indexed by [`FileId`].
#[derive(Debug, Clone, Default)]
pub struct SourceMap {
    files: Vec<SourceFile>,
}

impl SourceMap {
    /// Adds a file by its project path (also its shown name until [`SourceMap::show_as`]).
    pub fn add(&mut self, name: impl Into<String>, text: impl Into<String>) -> FileId {
        let text = text.into();
        let name = name.into();
        let line_starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        self.files.push(SourceFile {
            path: name.clone(),
            name,
            text,
            line_starts,
        });
        FileId((self.files.len() - 1) as u32)
    }

    pub fn get(&self, id: FileId) -> Option<&SourceFile> {
        self.files.get(id.0 as usize)
    }

    pub fn name(&self, id: FileId) -> &str {
        self.get(id).map_or("<unknown>", |f| f.name.as_str())
    }

    /// The project path of a file (see [`SourceFile::path`]).
    pub fn path(&self, id: FileId) -> &str {
        self.get(id).map_or("<unknown>", |f| f.path.as_str())
    }

    /// Renames files for display: `show` maps a project path to the name diagnostics show.
    /// Embedded files (`<stdlib>/...`) keep their name.
    pub fn show_as(&mut self, show: impl Fn(&str) -> String) {
        for file in &mut self.files {
            if !file.path.starts_with('<') {
                file.name = show(&file.path);
            }
        }
    }

    pub fn text(&self, id: FileId) -> &str {
        self.get(id).map_or("", |f| f.text.as_str())
    }

    pub fn find(&self, name: &str) -> Option<FileId> {
        self.files
            .iter()
            .position(|f| f.name == name)
            .map(|i| FileId(i as u32))
    }

    pub fn iter(&self) -> impl Iterator<Item = (FileId, &SourceFile)> {
        self.files.iter().enumerate().map(|(i, f)| (FileId(i as u32), f))
    }

    /// The 0-based line holding byte `offset`, and the byte range of that line (without its
    /// line break). A binary search: rendering many diagnostics never rescans the file.
    pub fn line_at(&self, id: FileId, offset: usize) -> (usize, std::ops::Range<usize>) {
        let Some(file) = self.get(id) else {
            return (0, 0..0);
        };
        let offset = offset.min(file.text.len());
        let line = file.line_starts.partition_point(|&start| start <= offset) - 1;
        (line, self.line_range(id, line))
    }

    /// Number of lines of a file (a final line without a break counts; the empty rest after a
    /// final line break does not).
    pub fn line_count(&self, id: FileId) -> usize {
        self.get(id).map_or(0, |f| {
            let trailing = f.text.ends_with('\n') as usize;
            f.line_starts.len() - trailing
        })
    }

    /// The byte range of 0-based line `line` (without its line break; empty past the end).
    pub fn line_range(&self, id: FileId, line: usize) -> std::ops::Range<usize> {
        let Some(file) = self.get(id) else { return 0..0 };
        let Some(&start) = file.line_starts.get(line) else {
            return file.text.len()..file.text.len();
        };
        let end = file
            .line_starts
            .get(line + 1)
            .map_or(file.text.len(), |next| next - 1);
        let end = if file.text[start..end].ends_with('\r') {
            end - 1
        } else {
            end
        };
        start..end.max(start)
    }

    /// 1-based line and column (in characters) of a byte offset.
    pub fn line_col(&self, id: FileId, offset: usize) -> (usize, usize) {
        let Some(file) = self.get(id) else { return (1, 1) };
        let offset = floor_char_boundary(&file.text, offset.min(file.text.len()));
        let line = file.line_starts.partition_point(|&start| start <= offset);
        let start = file.line_starts[line - 1];
        (line, file.text[start..offset].chars().count() + 1)
    }
}

fn floor_char_boundary(text: &str, mut offset: usize) -> usize {
    while offset > 0 && !text.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}

/// Normalizes `a/./b/../c.kiln` to `a/c.kiln` (purely textual; no file system access).
pub fn normalize_path(path: &str) -> String {
    let absolute = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." if parts.last().is_some_and(|p| *p != "..") => {
                parts.pop();
            }
            ".." if absolute => {}
            _ => parts.push(part),
        }
    }
    let joined = parts.join("/");
    if absolute { format!("/{joined}") } else { joined }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes() {
        assert_eq!(normalize_path("a/./b/../c.kiln"), "a/c.kiln");
        assert_eq!(normalize_path("../x/y.kiln"), "../x/y.kiln");
    }

    #[test]
    fn line_col_counts_chars() {
        let mut map = SourceMap::default();
        let id = map.add("f", "ab\nçd = 1");
        assert_eq!(map.line_col(id, 0), (1, 1));
        assert_eq!(map.line_col(id, 3), (2, 1));
        assert_eq!(map.line_col(id, 6), (2, 3));
    }
}
