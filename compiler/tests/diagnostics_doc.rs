//! `docs/diagnostics.md` is the registry's documentation and its fixture file (Ruff style):
//! every registered code must have a section there, each section's example must produce that
//! code, and the rendered output (input plus diagnostics, no colour, fixed width) is an insta
//! snapshot, so a change to any message shows up in review.

use std::path::{Path, PathBuf};

use kiln_compiler::manifest::validate::SchemaSet;
use kiln_compiler::source::MemoryLoader;
use kiln_compiler::{Options, build, codes, compile, render};

struct Section {
    code: String,
    example: Option<Vec<(String, String)>>,
}

/// Splits the document into `## KXXXX name` sections and takes each one's first ```kiln block,
/// whose `#- file: NAME` lines separate files (the first file is the root).
fn sections(markdown: &str) -> Vec<Section> {
    let mut out: Vec<Section> = Vec::new();
    let mut in_block = false;
    for line in markdown.lines() {
        if let Some(rest) = line.strip_prefix("## ") {
            let code = rest.split_whitespace().next().unwrap_or("").to_string();
            out.push(Section { code, example: None });
            continue;
        }
        let Some(section) = out.last_mut() else { continue };
        if line.starts_with("```kiln") && section.example.is_none() {
            in_block = true;
            section.example = Some(Vec::new());
            continue;
        }
        if in_block {
            if line.starts_with("```") {
                in_block = false;
                continue;
            }
            let files = section.example.as_mut().expect("block open");
            if let Some(name) = line.strip_prefix("#- file:") {
                files.push((name.trim().to_string(), String::new()));
                continue;
            }
            if files.is_empty() {
                files.push(("example.kiln".to_string(), String::new()));
            }
            let last = files.last_mut().expect("a file");
            last.1.push_str(line);
            last.1.push('\n');
        }
    }
    out
}

fn doc() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/diagnostics.md");
    std::fs::read_to_string(path).expect("docs/diagnostics.md exists")
}

#[test]
fn every_code_is_documented() {
    let sections = sections(&doc());
    let missing: Vec<&str> = codes::registry()
        .iter()
        .map(|c| c.id)
        .filter(|id| !sections.iter().any(|s| s.code == *id))
        .collect();
    assert!(
        missing.is_empty(),
        "codes without a section in docs/diagnostics.md: {missing:?}"
    );
    let unknown: Vec<&str> = sections
        .iter()
        .map(|s| s.code.as_str())
        .filter(|id| !other_crate(id))
        .filter(|id| !codes::registry().iter().any(|c| c.id == *id))
        .collect();
    assert!(
        unknown.is_empty(),
        "sections for codes that do not exist: {unknown:?}"
    );
}

/// Codes that no input can trigger on purpose: an internal error is a bug by definition, and
/// K0808/K0810 are lowering safety nets behind stdlib refinements that report K0206/K0603 first,
/// K0421 the pod check's net behind lowerings that declare every volume they mount.
const NOT_TRIGGERABLE: &[&str] = &["K0901", "K0808", "K0810", "K0421"];

/// Codes that need a real file system (symlinks, FIFOs, huge files, an output folder): their
/// sections show a shell session, and `cli/tests/confined.rs` produces each one through the
/// binary and snapshots its output.
const NEEDS_A_FILE_SYSTEM: &[&str] = &["K0111", "K0112", "K0113", "K0114", "K0705", "K0706", "K0707"];

/// Code families registered and tested by crates downstream of the compiler: `K11xx` (project
/// file and Git source) by `kiln-gitops` (`gitops/tests/project_file.rs`).
fn other_crate(code: &str) -> bool {
    code.starts_with("K11")
}

#[test]
fn every_documented_example_produces_its_code() {
    let mut failures = Vec::new();
    for section in sections(&doc()) {
        if NOT_TRIGGERABLE.contains(&section.code.as_str())
            || NEEDS_A_FILE_SYSTEM.contains(&section.code.as_str())
            || other_crate(&section.code)
        {
            continue;
        }
        let Some(files) = section.example else {
            failures.push(format!("{}: no ```kiln example", section.code));
            continue;
        };
        let mut loader = MemoryLoader::new();
        for (name, text) in &files {
            loader.insert(name, text);
        }
        let compiled = compile(&loader, &[files[0].0.clone()], &Options::default());
        // Lowering and schema codes come from `kiln build`, which runs after a clean compile.
        let mut diagnostics = compiled.diagnostics.clone();
        if !compiled.has_errors() {
            diagnostics.extend(build::build(&compiled, schemas()).diagnostics);
        }
        if !diagnostics.iter().any(|d| d.code.id == section.code) {
            let got: Vec<&str> = diagnostics.iter().map(|d| d.code.id).collect();
            failures.push(format!("{}: example produced {got:?}", section.code));
            continue;
        }
        let mut snapshot = String::new();
        for (name, text) in &files {
            snapshot.push_str(&format!("--- {name}\n{text}"));
        }
        snapshot.push_str("--- diagnostics\n");
        snapshot.push_str(&render::render_plain(&diagnostics, &compiled.sources, 100));
        insta::assert_snapshot!(format!("diagnostic_{}", section.code), snapshot);
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The upstream schemas from `$KILN_SHARED` (default `../shared` beside the workspace), for the
/// schema-violation examples. Missing shared data is an error: the examples cannot be checked.
fn schemas() -> Option<&'static SchemaSet> {
    static SET: std::sync::OnceLock<SchemaSet> = std::sync::OnceLock::new();
    Some(SET.get_or_init(|| {
        let shared = std::env::var_os("KILN_SHARED")
            .map(PathBuf::from)
            .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared"));
        assert!(
            shared.is_dir(),
            "the shared reference folder {} is missing (set KILN_SHARED)",
            shared.display()
        );
        let mut set = SchemaSet::new();
        let mut stack = vec![shared.join("crds")];
        let mut crds = Vec::new();
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).expect("read crds dir") {
                let path = entry.expect("entry").path();
                if path.is_dir() {
                    stack.push(path);
                } else if path.extension().is_some_and(|e| e == "yaml") {
                    crds.push(path);
                }
            }
        }
        crds.sort();
        for path in crds {
            let text = std::fs::read_to_string(&path).expect("read CRD");
            set.add_crd_yaml(&path.display().to_string(), &text)
                .expect("CRD loads");
        }
        let swagger = shared.join("katib-openapi/swagger.json");
        let text = std::fs::read_to_string(&swagger).expect("read Katib OpenAPI");
        set.add_katib_openapi(&swagger.display().to_string(), &text)
            .expect("Katib OpenAPI loads");
        set
    }))
}
