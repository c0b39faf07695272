//! `kiln init [DIR]`: writes a small starter project, the `cue mod init` of kiln. The files are
//! templates in `cli/templates/init/` with the team's name (from DIR's name) filled in;
//! cli/tests/cli.rs proves that what it writes passes `check`, `fmt --check` and `build`.
//!
//! It never overwrites: if any of its files already exists, nothing is written. Files are
//! created exclusively and without following a symlink.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::EXIT_DIAGNOSTICS;

/// What `kiln init` writes: (path in DIR, template).
const FILES: &[(&str, &str)] = &[
    ("kiln.toml", include_str!("../templates/init/kiln.toml")),
    ("README.md", include_str!("../templates/init/README.md")),
    ("specs/team.kiln", include_str!("../templates/init/team.kiln")),
    (
        "specs/pipeline.kiln",
        include_str!("../templates/init/pipeline.kiln"),
    ),
    (
        "specs/training.kiln",
        include_str!("../templates/init/training.kiln"),
    ),
];

/// The placeholder the templates hold for the team's name.
const TEAM: &str = "__TEAM__";

pub fn init(dir: &Path) -> ExitCode {
    let team = team_name(dir);
    let existing: Vec<String> = FILES
        .iter()
        .filter(|(path, _)| std::fs::symlink_metadata(dir.join(path)).is_ok())
        .map(|(path, _)| dir.join(path).display().to_string())
        .collect();
    if !existing.is_empty() {
        eprintln!(
            "error: kiln init writes nothing into a folder that already has its files: {} exists\n  help: run it in an empty folder, or give a new one: `kiln init my-team`",
            existing.join(", ")
        );
        return ExitCode::from(EXIT_DIAGNOSTICS);
    }
    for (path, template) in FILES {
        let target = dir.join(path);
        if let Err(e) = write_new(&target, &template.replace(TEAM, &team)) {
            eprintln!("error: cannot write {}: {e}", target.display());
            return ExitCode::from(EXIT_DIAGNOSTICS);
        }
    }
    let shown = dir.display();
    eprintln!(
        "wrote a starter project for team `{team}` in {shown}; next: `cd {shown} && kiln check specs` (see README.md)"
    );
    ExitCode::SUCCESS
}

/// The team's name: DIR's name (of the working directory for `.`) as a lowercase DNS label,
/// or `my-team` when nothing of it is usable.
fn team_name(dir: &Path) -> String {
    let full: PathBuf = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
    let base = full
        .components()
        .filter_map(|c| match c {
            std::path::Component::Normal(name) => name.to_str(),
            _ => None,
        })
        .next_back()
        .unwrap_or("");
    let mut name = String::new();
    for c in base.chars() {
        if c.is_ascii_alphanumeric() {
            name.push(c.to_ascii_lowercase());
        } else if !name.ends_with('-') {
            name.push('-');
        }
    }
    let name: String = name.trim_matches('-').chars().take(40).collect();
    let name = name.trim_end_matches('-');
    if name.is_empty() || !name.starts_with(|c: char| c.is_ascii_lowercase()) {
        "my-team".to_string()
    } else {
        name.to_string()
    }
}

fn write_new(path: &Path, text: &str) -> std::io::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)?;
    file.write_all(text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn team_names_are_dns_labels() {
        assert_eq!(team_name(Path::new("/x/Team_Vision")), "team-vision");
        assert_eq!(team_name(Path::new("/x/ml platform/")), "ml-platform");
        assert_eq!(team_name(Path::new("/x/42")), "my-team");
        assert_eq!(team_name(Path::new("/")), "my-team");
    }
}
