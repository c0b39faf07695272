//! Snapshot of every syntax diagnostic code (K0001-K0011): the input, then each diagnostic in
//! the plain text form of `kiln_lang::testing::render_plain` (code, position, message, labels,
//! help). The pretty rendering is the compiler's job and tested there.

use kiln_lang::testing::parse_diagnostics;

fn check(name: &str, src: &str) {
    let out = parse_diagnostics(src);
    insta::assert_snapshot!(name, format!("{src}\n----\n{out}"));
}

#[test]
fn k0001_unexpected_token() {
    check(
        "K0001_missing_eq",
        "kf.Notebook \"dev\" {\n  image \"jupyter\"\n}\n",
    );
    check("K0001_missing_comma", "let xs = [1 2, 3]\n");
    check("K0001_missing_else", "let x = if a then 1\nlet y = 2\n");
    check("K0001_chained_comparison", "let ok = 1 < x < 3\n");
    check("K0001_not_an_item", "x = 1\n");
    check(
        "K0001_several",
        "let a = \nlet b = (1 +)\nkf.N \"n\" {\n  x = 1 2\n  y = )\n  z = 3\n}\nlet c = 1\n",
    );
}

#[test]
fn k0002_unterminated_string() {
    check("K0002_unterminated", "let s = \"abc\nlet t = 1\n");
    check("K0002_multiline", "let s = \"\"\"\n  abc\n");
}

#[test]
fn k0003_tab() {
    check("K0003_tab", "kf.N \"n\" {\n\tcpu = 1\n\tmemory = 2Gi\n}\n");
}

#[test]
fn k0004_yaml_colon() {
    check("K0004_yaml_colon", "kf.Notebook \"dev\" {\n  memory: 16Gi\n}\n");
}

#[test]
fn k0005_helm() {
    check("K0005_code", "kf.N \"n\" {\n  image = {{ .Values.image }}\n}\n");
    check("K0005_string", "let s = \"{{ .Values.image }}\"\n");
}

#[test]
fn k0006_invalid_number() {
    check("K0006_suffix", "let m = 16gb\n");
    check("K0006_overflow", "let n = 99999999999999999999\n");
}

#[test]
fn k0007_unknown_character() {
    check("K0007_unknown", "let a = b ^ c\nlet q = 'x'\n");
}

#[test]
fn k0008_too_deep() {
    check(
        "K0008_too_deep",
        &format!("let x = {}1{}\n", "[".repeat(300), "]".repeat(300)),
    );
}

#[test]
fn k0009_too_many() {
    check("K0009_too_many", &format!("let x = [{}]\n", "1 ".repeat(60)));
}

#[test]
fn k0010_unclosed() {
    check("K0010_unclosed_brace", "kf.N \"n\" {\n  cpu = 1\n\nlet x = 2\n");
    check("K0010_unclosed_eof", "let x = [1, 2\n");
}

#[test]
fn k0011_invalid_escape() {
    check("K0011_escape", "let s = \"C:\\path\"\n");
}
