//! Formatter tests: idempotence and parse-equivalence over the fixtures and over every `.kiln`
//! file of the repository (`examples/`, `stdlib/`), plus focused style checks.

use std::path::Path;

use kiln_lang::FileId;
use kiln_lang::format::format_source;
use kiln_lang::testing::{check_format, kiln_files};

#[test]
fn fixtures_examples_and_stdlib_round_trip() {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = kiln_files(&manifest.join("tests/fixtures"));
    files.extend(kiln_files(&manifest.join("../examples")));
    files.extend(kiln_files(&manifest.join("../stdlib")));
    assert!(files.iter().any(|f| f.ends_with("all_constructs.kiln")));
    let mut failures = Vec::new();
    for path in &files {
        let source = std::fs::read_to_string(path).unwrap();
        if let Err(e) = check_format(&source) {
            failures.push(format!("{}: {e}", path.display()));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn fixture_snapshot() {
    let source = include_str!("fixtures/all_constructs.kiln");
    insta::assert_snapshot!(check_format(source).unwrap());
}

fn fmt(src: &str) -> String {
    check_format(src).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn canonical_spacing_and_layout() {
    assert_eq!(fmt("let   x=1+2*3"), "let x = 1 + 2 * 3\n");
    assert_eq!(
        fmt("kf.N \"n\" {cpu=4;memory=16Gi}"),
        "kf.N \"n\" { cpu = 4, memory = 16Gi }\n"
    );
    assert_eq!(
        fmt("kf.N \"n\" {\ncpu=4;memory=16Gi}"),
        "kf.N \"n\" {\n  cpu = 4\n  memory = 16Gi\n}\n"
    );
    assert_eq!(fmt("let xs = [\n1,2]"), "let xs = [\n  1,\n  2,\n]\n");
    assert_eq!(fmt("let a = 1\n\n\n\nlet b = 2"), "let a = 1\n\nlet b = 2\n");
    assert_eq!(fmt("let f = (x) -> x"), "let f = x -> x\n");
    // Too long for the line, fits on the next: hung after `=`.
    let long = format!("let value = f({})", "a".repeat(90));
    assert_eq!(fmt(&long), format!("let value =\n  f({})\n", "a".repeat(90)));
}

#[test]
fn long_groups_break() {
    let long = format!(
        "let xs = [{}]",
        (0..40)
            .map(|i| format!("\"item{i}\""))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let out = fmt(&long);
    assert!(out.lines().all(|l| l.chars().count() <= 100), "{out}");
    assert!(out.starts_with("let xs = [\n  \"item0\",\n"));
}

#[test]
fn comments_are_kept() {
    assert_eq!(
        fmt("# head\n\nlet a = 1 # t\n# tail"),
        "# head\n\nlet a = 1  # t\n# tail\n"
    );
    assert_eq!(
        fmt("kf.N \"n\" { # open\n  a = 1, # one\n  # before b\n  b = 2\n  # end\n}\n"),
        "kf.N \"n\" {  # open\n  a = 1  # one\n  # before b\n  b = 2\n  # end\n}\n"
    );
    // A comment in the middle of an expression moves to the next line-level position.
    assert_eq!(
        fmt("let a = 1 + # c\n  2\nlet b = 3"),
        "let a = 1 + 2\n# c\nlet b = 3\n"
    );
    assert_eq!(fmt("# only a comment"), "# only a comment\n");
    // A doc comment moved out of an item must not become the next item's doc (found by fuzzing).
    assert_eq!(
        fmt("type A =\n## moved\nInt\ntype B = Int"),
        "type A = Int\n## moved\n\ntype B = Int\n"
    );
    assert_eq!(fmt(""), "");
}

#[test]
fn strings_are_reencoded() {
    assert_eq!(fmt(r#"let s = "a\u{41}\$b""#), "let s = \"aA$b\"\n");
    assert_eq!(fmt("let s = \"\\${x}\""), "let s = \"\\${x}\"\n");
    assert_eq!(
        fmt("let s = \"\"\"\n      a\n    b\n    \"\"\""),
        "let s = \"\"\"\n    a\n  b\n  \"\"\"\n"
    );
    // Every line indented: the leading space is escaped so the value survives.
    let src = "let s = \"\"\"\n  \\u{20}a\n  \\u{20}b\"\"\"\n";
    assert_eq!(fmt(src), src);
    assert_eq!(
        fmt("let s = \"\"\"\n    a\n   b\"\"\""),
        "let s = \"\"\"\n   a\n  b\"\"\"\n"
    );
}

#[test]
fn tabs_alone_do_not_block_formatting() {
    assert_eq!(
        format_source(FileId(0), "kf.N \"n\" {\n\tcpu = 1\n}\n").unwrap(),
        "kf.N \"n\" {\n  cpu = 1\n}\n"
    );
    assert!(format_source(FileId(0), "let x = ").is_err());
}
