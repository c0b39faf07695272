//! Every ```kiln block of the user docs (docs/language.md, docs/cookbook.md,
//! docs/getting-started.md, README.md) runs through the real binary (Nickel style: the docs
//! cannot drift from the language). A plain block must check clean; `kiln,fails=KXXXX` must fail
//! with that code; `kiln,builds=KindA+KindB` must also build to exactly those kinds, in order;
//! `file=NAME` names the file (as the diagnostics will show it).
//!
//! The README's sample diagnostic is the text `kiln check` prints today for the block above it.

mod common;

use common::{Block, kiln, kiln_in, repo_root, scratch};

/// A fenced ```kiln block: where it starts, its info string and its body.
struct Fenced {
    line: usize,
    info: String,
    body: String,
}

fn fenced(markdown: &str, language: &str) -> Vec<Fenced> {
    let mut out = Vec::new();
    let mut current: Option<Fenced> = None;
    let open = format!("```{language}");
    for (number, line) in markdown.lines().enumerate() {
        match &mut current {
            None => {
                if let Some(info) = line.strip_prefix(&open)
                    && (info.is_empty() || info.starts_with(','))
                {
                    current = Some(Fenced {
                        line: number + 1,
                        info: info.to_string(),
                        body: String::new(),
                    });
                }
            }
            Some(block) => {
                if line.starts_with("```") {
                    out.extend(current.take());
                } else {
                    block.body.push_str(line);
                    block.body.push('\n');
                }
            }
        }
    }
    out
}

fn attribute<'a>(info: &'a str, name: &str) -> Option<&'a str> {
    info.split(',')
        .find_map(|part| part.trim().strip_prefix(name)?.strip_prefix('='))
}

/// Runs every kiln block of one doc; returns the failures, each naming `doc:line`.
fn run_blocks(doc: &str, min_blocks: usize) -> Vec<String> {
    let markdown = std::fs::read_to_string(repo_root().join(doc)).unwrap_or_else(|_| panic!("{doc}"));
    let blocks = fenced(&markdown, "kiln");
    assert!(
        blocks.len() >= min_blocks,
        "{doc}: expected at least {min_blocks} kiln blocks, found {}",
        blocks.len()
    );
    let mut failures = Vec::new();
    for fenced in &blocks {
        let block = Block::new(fenced.line, &fenced.info, &fenced.body);
        let dir = scratch(&format!("docs-{}-{}", doc.replace('/', "-"), fenced.line));
        let mut files = block.files.clone();
        if let Some(name) = attribute(&fenced.info, "file") {
            files[0].0 = name.to_string();
        }
        for (name, text) in &files {
            std::fs::write(dir.join(name), text).expect("write block file");
        }
        let root = files[0].0.as_str();
        let at = format!("{doc}:{}", fenced.line);
        let output = kiln_in(&dir, &["check", "--output", "json", root]);
        let diagnostics: serde_json::Value =
            serde_json::from_str(&output.stdout).unwrap_or(serde_json::json!({"diagnostics": []}));
        let codes: Vec<String> = diagnostics["diagnostics"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|d| d["code"].as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default();
        match &block.expected_code {
            None if output.code != 0 => failures.push(format!(
                "{at}: expected success, got exit {} with {:?}\n{}",
                output.code,
                codes,
                kiln_in(&dir, &["check", root]).stderr
            )),
            Some(code) if output.code != 1 || !codes.contains(code) => failures.push(format!(
                "{at}: expected {code}, got exit {} with {codes:?}",
                output.code
            )),
            _ => {}
        }
        if let Some(kinds) = attribute(&fenced.info, "builds") {
            let built = kiln_in(&dir, &["build", "-o", "json", root]);
            let list: serde_json::Value = serde_json::from_str(&built.stdout).unwrap_or_default();
            let got: Vec<&str> = list["items"]
                .as_array()
                .map(|items| items.iter().filter_map(|m| m["kind"].as_str()).collect())
                .unwrap_or_default();
            let want: Vec<&str> = kinds.split('+').collect();
            if got != want {
                failures.push(format!(
                    "{at}: expected kiln build to emit {want:?}, got {got:?} (exit {})\n{}",
                    built.code, built.stderr
                ));
            }
        }
    }
    failures
}

#[test]
fn every_language_doc_example_behaves_as_documented() {
    let failures = run_blocks("docs/language.md", 20);
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn every_cookbook_recipe_checks_and_builds_what_it_says() {
    let failures = run_blocks("docs/cookbook.md", 6);
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    // The recipes the issue asks for are all there.
    let cookbook = std::fs::read_to_string(repo_root().join("docs/cookbook.md")).expect("cookbook");
    for topic in [
        "Conditions",
        "Loops",
        "Output parameters",
        "early stopping",
        "Canary",
        "GPUs",
    ] {
        assert!(
            cookbook.contains(topic),
            "docs/cookbook.md has no recipe for {topic}"
        );
    }
}

#[test]
fn the_getting_started_guide_checks_as_written() {
    let failures = run_blocks("docs/getting-started.md", 2);
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// The README shows a spec and the diagnostic `kiln check` prints for it: both are run, and the
/// diagnostic must be byte for byte what kiln prints today.
#[test]
fn the_readme_sample_diagnostic_is_what_kiln_prints() {
    let failures = run_blocks("README.md", 1);
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    let readme = std::fs::read_to_string(repo_root().join("README.md")).expect("README.md");
    let sample = fenced(&readme, "kiln")
        .into_iter()
        .find(|b| attribute(&b.info, "fails").is_some())
        .expect("a failing sample in README.md");
    let file = attribute(&sample.info, "file").unwrap_or("main.kiln");
    let dir = scratch("docs-readme-sample");
    std::fs::write(dir.join(file), &sample.body).expect("write");
    let printed = kiln_in(&dir, &["check", file]).stderr;
    let shown = fenced(&readme, "text")
        .into_iter()
        .find(|b| b.line > sample.line)
        .expect("the diagnostic after the sample, in a ```text block");
    assert_eq!(
        shown.body, printed,
        "README.md:{}: the sample diagnostic is out of date",
        shown.line
    );
}

/// The README keeps exactly the two set-up commands.
#[test]
fn the_readme_has_the_two_set_up_commands() {
    let readme = std::fs::read_to_string(repo_root().join("README.md")).expect("README.md");
    let setup = fenced(&readme, "sh").into_iter().next().expect("a set-up block");
    let commands: Vec<&str> = setup
        .body
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.split('#').next().unwrap_or("").trim())
        .collect();
    assert_eq!(
        commands,
        [
            "cargo run -q -p kiln-cli -- eval examples/tour/main.kiln",
            "cargo test --workspace"
        ]
    );
    // The example the first one runs evaluates.
    assert_eq!(kiln(&["eval", "examples/tour/main.kiln"]).code, 0);
}
