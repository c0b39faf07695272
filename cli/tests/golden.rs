//! Golden tests: `kiln build` of each example in `examples/team/` and `examples/kinds/` is
//! compared byte for byte with `tests/golden/<dir>/<name>.yaml`, built with validation against
//! the upstream CRDs. `UPDATE_GOLDEN=1 cargo test -p kiln-cli --test golden` rewrites the files
//! (do it on purpose, and say why in the commit). A golden file without its example fails.

mod common;

use std::path::{Path, PathBuf};

use common::{kiln, repo_root};

/// The example folders whose output is pinned.
const DIRS: &[&str] = &["examples/team", "examples/kinds", "examples/kiln-system"];

fn shared() -> PathBuf {
    let dir = std::env::var_os("KILN_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("../shared"));
    assert!(
        dir.is_dir(),
        "the shared reference folder {} is missing; set KILN_SHARED to its location",
        dir.display()
    );
    dir
}

fn kiln_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| entries.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    files.retain(|p| p.extension().is_some_and(|e| e == "kiln"));
    files.sort();
    files
}

fn golden_path(example: &Path) -> PathBuf {
    let relative = example
        .strip_prefix(repo_root().join("examples"))
        .expect("under examples/");
    repo_root()
        .join("tests/golden")
        .join(relative)
        .with_extension("yaml")
}

/// Builds one example and compares (or with UPDATE_GOLDEN=1, rewrites) its golden file.
fn check_golden(example: &Path) -> Result<(), String> {
    let shared = shared();
    let crds = shared.join("crds");
    let katib = shared.join("katib-openapi/swagger.json");
    let example_arg = example
        .strip_prefix(repo_root())
        .expect("in repo")
        .to_string_lossy()
        .into_owned();
    let output = kiln(&[
        "build",
        &example_arg,
        "--crds",
        crds.to_str().expect("utf-8"),
        "--katib-openapi",
        katib.to_str().expect("utf-8"),
    ]);
    if output.code != 0 {
        return Err(format!("kiln build {example_arg} failed:\n{}", output.stderr));
    }
    let golden = golden_path(example);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::create_dir_all(golden.parent().expect("parent")).expect("mkdir");
        std::fs::write(&golden, &output.stdout).expect("write golden");
        return Ok(());
    }
    let expected = std::fs::read_to_string(&golden).map_err(|_| {
        format!(
            "{} is missing; run with UPDATE_GOLDEN=1 to create it",
            golden.display()
        )
    })?;
    if expected != output.stdout {
        let diff = similar_lines(&expected, &output.stdout);
        return Err(format!(
            "{} differs from `kiln build {example_arg}` (UPDATE_GOLDEN=1 rewrites it):\n{diff}",
            golden.display()
        ));
    }
    Ok(())
}

/// The first differing lines, enough to see what changed without a diff crate.
fn similar_lines(expected: &str, actual: &str) -> String {
    let mut out = String::new();
    for (number, (e, a)) in expected.lines().zip(actual.lines()).enumerate() {
        if e != a {
            out.push_str(&format!("line {}:\n- {e}\n+ {a}\n", number + 1));
            if out.lines().count() > 15 {
                break;
            }
        }
    }
    if out.is_empty() {
        out = format!(
            "{} lines expected, {} produced",
            expected.lines().count(),
            actual.lines().count()
        );
    }
    out
}

#[test]
fn every_example_matches_its_golden_manifests() {
    let mut failures = Vec::new();
    let mut count = 0;
    for dir in DIRS {
        for example in kiln_files(&repo_root().join(dir)) {
            count += 1;
            if let Err(e) = check_golden(&example) {
                failures.push(e);
            }
        }
    }
    assert!(
        count >= 10,
        "expected the team project and one example per kind, found {count}"
    );
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn every_golden_file_has_its_example() {
    let mut orphans = Vec::new();
    for dir in DIRS {
        let golden_dir = repo_root()
            .join("tests/golden")
            .join(dir.trim_start_matches("examples/"));
        let Ok(entries) = std::fs::read_dir(&golden_dir) else {
            continue;
        };
        for entry in entries.filter_map(Result::ok) {
            let golden = entry.path();
            let example = repo_root()
                .join(dir)
                .join(golden.file_name().expect("name"))
                .with_extension("kiln");
            if !example.exists() {
                orphans.push(golden.display().to_string());
            }
        }
    }
    assert!(orphans.is_empty(), "golden files without an example: {orphans:?}");
}
