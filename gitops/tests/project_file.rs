//! `kiln.toml` diagnostics: every `K11xx` code has a section in `docs/diagnostics.md` whose
//! ```` ```toml ```` example produces it, and the rendered output is an insta snapshot.

use kiln_compiler::render;
use kiln_compiler::source::SourceMap;
use kiln_gitops::codes;
use kiln_gitops::project::{self, EntryKind, RepoTree, within};

/// The repository the documented examples are checked against.
struct ExampleTree;

const FILES: &[&str] = &[
    "apps/team-a/main.kiln",
    "apps/team-b/main.kiln",
    "lib/common.kiln",
];

impl RepoTree for ExampleTree {
    fn entry(&self, path: &str) -> Option<EntryKind> {
        if FILES.contains(&path) {
            Some(EntryKind::File)
        } else if FILES.iter().any(|f| within(f, path)) {
            Some(EntryKind::Dir)
        } else {
            None
        }
    }
    fn kiln_files(&self, dir: &str) -> Vec<String> {
        FILES
            .iter()
            .filter(|f| within(f, dir))
            .map(|f| f.to_string())
            .collect()
    }
}

/// `## K11xx name` sections and their first ```toml block.
fn sections() -> Vec<(String, Option<String>)> {
    let doc =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/diagnostics.md")).unwrap();
    let mut out: Vec<(String, Option<String>)> = Vec::new();
    let mut open = false;
    for line in doc.lines() {
        if let Some(rest) = line.strip_prefix("## ") {
            out.push((rest.split_whitespace().next().unwrap_or("").to_string(), None));
            open = false;
            continue;
        }
        let Some((_, example)) = out.last_mut() else {
            continue;
        };
        if line.starts_with("```toml") && example.is_none() {
            open = true;
            *example = Some(String::new());
        } else if open && line.starts_with("```") {
            open = false;
        } else if open && let Some(text) = example.as_mut() {
            text.push_str(line);
            text.push('\n');
        }
    }
    out.retain(|(code, _)| code.starts_with("K11"));
    out
}

#[test]
fn every_code_has_a_section_whose_example_produces_it() {
    let sections = sections();
    let mut failures = Vec::new();
    for code in codes::ALL {
        let Some((_, example)) = sections.iter().find(|(c, _)| c == code.id) else {
            failures.push(format!("{}: no section in docs/diagnostics.md", code.id));
            continue;
        };
        let Some(text) = example else {
            failures.push(format!("{}: no ```toml example", code.id));
            continue;
        };
        let mut sources = SourceMap::default();
        let file = sources.add("kiln.toml", text.clone());
        let (project, diags) = project::parse(text, file, &ExampleTree);
        assert!(
            project.is_none(),
            "{}: the example has errors, so no project",
            code.id
        );
        if !diags.iter().any(|d| d.code.id == code.id) {
            failures.push(format!(
                "{}: produced {:?}",
                code.id,
                diags.iter().map(|d| d.code.id).collect::<Vec<_>>()
            ));
            continue;
        }
        let snapshot = format!(
            "--- kiln.toml\n{text}--- diagnostics\n{}",
            render::render_plain(&diags, &sources, 100)
        );
        insta::assert_snapshot!(format!("diagnostic_{}", code.id), snapshot);
    }
    for (code, _) in &sections {
        if !codes::ALL.iter().any(|c| c.id == code) {
            failures.push(format!("{code}: a section for a code that does not exist"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn several_errors_are_reported_in_one_run() {
    let text = "[[app]]\nnme = \"a\"\n\n[[app]]\nname = \"b\"\npaths = [\"apps/nope\"]\nvalidate = 1\n";
    let mut sources = SourceMap::default();
    let file = sources.add("kiln.toml", text);
    let (_, diags) = project::parse(text, file, &ExampleTree);
    let ids: Vec<&str> = diags.iter().map(|d| d.code.id).collect();
    assert_eq!(ids, vec!["K1102", "K1103", "K1105", "K1103"], "{diags:#?}");
    assert_eq!(diags[0].help.as_deref(), Some("did you mean `name`?"));
}
