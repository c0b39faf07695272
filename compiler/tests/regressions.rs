//! Regression fixtures (issue 13: nothing the user wrote is silently dropped or silently wrong):
//! each `fixtures/regressions/*.kiln` is one finding, compiled and built as `kiln build` does.
//! Its snapshot is the input, every diagnostic rendered as the user sees it, and the parts of the
//! output named by the fixture's `# show: KIND /json/pointer` lines (the corrected output), so a
//! finding that comes back, or a message that changes, shows up in review.

use std::path::Path;

use kiln_compiler::source::MemoryLoader;
use kiln_compiler::{Options, build, compile, render};

#[test]
fn every_regression_fixture_matches_its_snapshot() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/regressions");
    let files = kiln_lang::testing::kiln_files(&dir);
    assert!(!files.is_empty(), "no fixtures in {}", dir.display());
    for path in files {
        let name = path.file_name().unwrap().to_str().unwrap().to_string();
        let text = std::fs::read_to_string(&path).unwrap();
        let loader = MemoryLoader::new().with(&name, &text);
        let compiled = compile(&loader, std::slice::from_ref(&name), &Options::default());
        let mut diagnostics = compiled.diagnostics.clone();
        let mut manifests = Vec::new();
        if !compiled.has_errors() {
            let built = build::build(&compiled, None);
            diagnostics.extend(built.diagnostics);
            manifests = built.manifests;
        }
        let mut snapshot = format!("--- {name}\n{text}--- diagnostics\n");
        snapshot.push_str(&render::render_plain(&diagnostics, &compiled.sources, 100));
        for line in text.lines() {
            let Some(show) = line.strip_prefix("# show: ") else {
                continue;
            };
            let (kind, pointer) = show.split_once(' ').expect("`# show: KIND /pointer`");
            snapshot.push_str(&format!("--- {kind} {pointer}\n"));
            let found: Vec<String> = manifests
                .iter()
                .filter(|m| m.value()["kind"] == kind)
                .filter_map(|m| m.value().pointer(pointer))
                .map(|v| serde_json::to_string_pretty(v).unwrap())
                .collect();
            assert!(!found.is_empty(), "{name}: no {kind} has {pointer}");
            snapshot.push_str(&found.join("\n"));
            snapshot.push('\n');
        }
        let stem = name.trim_end_matches(".kiln").to_string();
        insta::assert_snapshot!(stem, snapshot);
    }
}
