//! Shared helpers for the CLI tests: run the real `kiln` binary, write multi-file examples.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

pub struct Output {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Runs the `kiln` binary built for this test run.
pub fn kiln(args: &[&str]) -> Output {
    kiln_in(&repo_root(), args)
}

pub fn kiln_in(dir: &Path, args: &[&str]) -> Output {
    kiln_env(dir, args, &[])
}

/// Runs `kiln <args> <extra>` in `dir` and logs the command and what it printed (shown when a
/// test fails).
pub fn kiln_logged(dir: &Path, args: &[&str], extra: &[&str]) -> Output {
    let mut all = args.to_vec();
    all.extend_from_slice(extra);
    let out = kiln_in(dir, &all);
    eprintln!(
        "$ kiln {}\nexit {}\n{}{}",
        all.join(" "),
        out.code,
        out.stdout,
        out.stderr
    );
    out
}

/// Runs `kiln <args>` in `dir` on a pseudo-terminal (util-linux `script`), as a person at a
/// terminal would; returns the exit code and everything the terminal showed (logged).
pub fn kiln_on_a_terminal(dir: &Path, args: &str, vars: &[(&str, &str)]) -> (Option<i32>, String) {
    let command = format!("{} {args}", env!("CARGO_BIN_EXE_kiln"));
    let mut script = Command::new("script");
    script.args(["-qec", &command, "/dev/null"]).current_dir(dir);
    for (name, value) in vars {
        script.env(name, value);
    }
    let out = script.output().expect("util-linux `script` runs");
    let screen = String::from_utf8_lossy(&out.stdout).into_owned();
    eprintln!("{screen}");
    (out.status.code(), screen)
}

/// Runs `kiln` in `dir` with extra environment variables (e.g. `KUBECONFIG`); an empty value
/// removes the variable.
pub fn kiln_env(dir: &Path, args: &[&str], vars: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_kiln"));
    command
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env("COLUMNS", "100");
    for (name, value) in vars {
        if value.is_empty() {
            command.env_remove(name);
        } else {
            command.env(name, value);
        }
    }
    let output = command.output().expect("run kiln");
    Output {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// The shared test cluster (kiln-testsupport) and a fresh namespace `kiln-<prefix>-...`, with
/// the upstream CRDs installed when `crds`; `None` when cluster tests are skipped here.
pub async fn cluster_and_namespace(
    prefix: &str,
    crds: bool,
) -> Option<(kiln_testsupport::TestCluster, String)> {
    let tc = kiln_testsupport::cluster().await?;
    if crds {
        kiln_testsupport::install_crds(tc.client())
            .await
            .expect("CRDs installed");
    }
    let ns = tc.namespace(prefix).await.expect("test namespace");
    Some((tc, ns))
}

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

/// A fresh scratch directory under the target dir (no temp-dir crate needed).
pub fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

/// A code block from the docs: files separated by `#- file: NAME` lines; the first is the root.
pub struct Block {
    pub line: usize,
    pub expected_code: Option<String>,
    pub files: Vec<(String, String)>,
}

impl Block {
    pub fn new(line: usize, info: &str, body: &str) -> Block {
        let expected_code = info
            .split(',')
            .find_map(|part| part.trim().strip_prefix("fails="))
            .map(str::to_string);
        let mut files: Vec<(String, String)> = Vec::new();
        for text_line in body.lines() {
            if let Some(name) = text_line.strip_prefix("#- file:") {
                files.push((name.trim().to_string(), String::new()));
            } else {
                if files.is_empty() {
                    files.push(("main.kiln".to_string(), String::new()));
                }
                let last = files.last_mut().expect("a file");
                last.1.push_str(text_line);
                last.1.push('\n');
            }
        }
        Block {
            line,
            expected_code,
            files,
        }
    }

    pub fn write_files(&self) -> PathBuf {
        let dir = scratch(&format!("docs-block-{}", self.line));
        for (name, text) in &self.files {
            std::fs::write(dir.join(name), text).expect("write block file");
        }
        dir
    }

    pub fn root(&self, dir: &Path) -> String {
        dir.join(&self.files[0].0).to_string_lossy().into_owned()
    }
}
