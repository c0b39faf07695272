//! Every ```kiln block in docs/language.md runs through the real binary (Nickel style: the docs
//! cannot drift from the language). `kiln,fails=KXXXX` blocks must fail with that code.

mod common;

use common::{Block, kiln, repo_root};

fn blocks(markdown: &str) -> Vec<Block> {
    let mut out = Vec::new();
    let mut current: Option<(usize, String, String)> = None;
    for (number, line) in markdown.lines().enumerate() {
        match &mut current {
            None => {
                if let Some(info) = line.strip_prefix("```kiln") {
                    current = Some((number + 1, info.to_string(), String::new()));
                }
            }
            Some((start, info, body)) => {
                if line.starts_with("```") {
                    out.push(Block::new(*start, info, body));
                    current = None;
                } else {
                    body.push_str(line);
                    body.push('\n');
                }
            }
        }
    }
    out
}

#[test]
fn every_language_doc_example_behaves_as_documented() {
    let markdown = std::fs::read_to_string(repo_root().join("docs/language.md")).expect("docs/language.md");
    let blocks = blocks(&markdown);
    assert!(
        blocks.len() >= 20,
        "expected the guide to have an example per feature"
    );
    let mut failures = Vec::new();
    for block in &blocks {
        let dir = block.write_files();
        let output = kiln(&["check", "--format", "json", &block.root(&dir)]);
        let diagnostics: serde_json::Value =
            serde_json::from_str(&output.stderr).unwrap_or(serde_json::json!({"diagnostics": []}));
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
                "docs/language.md:{}: expected success, got exit {} with {:?}\n{}",
                block.line, output.code, codes, output.stderr
            )),
            Some(code) if output.code != 1 || !codes.contains(code) => failures.push(format!(
                "docs/language.md:{}: expected {code}, got exit {} with {:?}\n{}",
                block.line, output.code, codes, output.stderr
            )),
            _ => {}
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
