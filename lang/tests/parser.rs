//! Parser unit tests: shapes, precedence, newline rules, spans, recovery, depth limits.

use kiln_lang::ast::{ExprKind, ItemKind, TypeExprKind};
use kiln_lang::testing::{expr_sexpr as s, parse_ok, strip_spans};
use kiln_lang::{FileId, parse};

fn codes(src: &str) -> Vec<&'static str> {
    parse(FileId(0), src)
        .diagnostics
        .iter()
        .map(|d| d.code.id)
        .collect()
}

#[test]
fn precedence_and_associativity() {
    assert_eq!(s("a + b * c"), "(+ a (* b c))");
    assert_eq!(s("a - b - c"), "(- (- a b) c)");
    assert_eq!(s("a || b && c == d + 1"), "(|| a (&& b (== c (+ d 1))))");
    assert_eq!(s("-a * !b"), "(* (- a) (! b))");
    assert_eq!(s("(a + b) * c"), "(* ((+ a b)) c)");
    assert_eq!(s("a.b[0](1, n = 2).c"), "(. (call ([] (. a b) 0) 1 n=2) c)");
}

#[test]
fn literals_and_collections() {
    assert_eq!(
        s("[1, 2.5, 16Gi, \"x\", true,]"),
        "[1 2.5 16Gi:Quantity (str \"x\") true]"
    );
    assert_eq!(s("{ a = 1; b = 2, \"c.d\" = 3 }"), "{a=1 b=2 c.d=3}");
    assert_eq!(s("{}"), "{}");
    assert_eq!(s("[]"), "[]");
    assert_eq!(
        s("[x * 2 for x in xs if x > 1]"),
        "[(* x 2) (for x xs) (if (> x 1))]"
    );
    assert_eq!(s("{ k = v for k, v in m }"), "{k=v (for k,v m)}");
    assert_eq!(
        s("{ \"${k}-x\" = v for k, v in m }"),
        "{(str ${k} \"-x\")=v (for k,v m)}"
    );
    assert_eq!(s("{ type = 1, if = 2 }"), "{type=1 if=2}");
}

#[test]
fn constructs_with_if_match_lambda() {
    assert_eq!(s("kf.Gpu { model = \"a\" }"), "(kf.Gpu {model=(str \"a\")})");
    assert_eq!(
        s("base with { a = 1 } with { b = 2 }"),
        "(with (with base {a=1}) {b=2})"
    );
    assert_eq!(s("if a then 1 else if b then 2 else 3"), "(if a 1 (if b 2 3))");
    assert_eq!(s("x -> x + 1"), "(fn (x) (+ x 1))");
    assert_eq!(s("(a, b: Int) -> a"), "(fn (a b) a)");
    assert_eq!(s("() -> 1"), "(fn () 1)");
    assert_eq!(s("(x) -> x"), "(fn (x) x)");
    assert!(s("match st { S3 s => s.bucket, Pvc => 1\n _ => 2 }").starts_with("(match st"));
    // `x {` after `match` opens the arms, not a construct.
    assert!(s("match x { _ => 1 }").starts_with("(match x "));
}

#[test]
fn newline_rules() {
    // Inside braces a newline ends the value; a leading `-` starts a new entry (here: an error).
    assert_eq!(s("{ a = 1\n b = 2 }"), "{a=1 b=2}");
    assert_eq!(s("{ a = 1 +\n 2 }"), "{a=(+ 1 2)}");
    assert_eq!(s("{ a = 1\n + 2 }"), "{a=(+ 1 2)}");
    assert_eq!(s("{ a = b\n with { c = 1 } }"), "{a=(with b {c=1})}");
    assert_eq!(s("[1\n - 2]"), "[(- 1 2)]");
    assert_eq!(codes("let x = { a = 1\n - 2 }"), vec!["K0001"]);
    // A call or index must start on the same line.
    assert_eq!(codes("let x = { a = f\n (1) }"), vec!["K0001"]);
}

#[test]
fn items_and_docs() {
    let file = parse_ok(
        "import \"kubeflow\" as kf\n## Doc one\n## Doc two\nlet a: Int = 1\ntype T = {\n  ## field doc\n  x?: Int = 3, .. }\nfn f(x: Int, y: Int = 2) -> Int = x\nkf.Notebook \"n\" { cpu = 1 }\nkf.Job \"j\" = base\n",
    );
    assert_eq!(file.items.len(), 6);
    assert_eq!(file.items[1].doc.as_deref(), Some("Doc one\nDoc two"));
    // Only comments directly above are docs: a blank line detaches them.
    assert_eq!(parse_ok("## header\n\nlet a = 1").items[0].doc, None);
    let ItemKind::Type { ty, .. } = &file.items[2].kind else {
        panic!()
    };
    let TypeExprKind::Record { fields, open } = &ty.kind else {
        panic!()
    };
    assert!(*open && fields[0].optional);
    assert_eq!(fields[0].doc.as_deref(), Some("field doc"));
    let ItemKind::Emit { value, .. } = &file.items[4].kind else {
        panic!()
    };
    assert!(matches!(value.kind, ExprKind::Construct { .. }));
    let ItemKind::Emit { value, .. } = &file.items[5].kind else {
        panic!()
    };
    assert!(matches!(value.kind, ExprKind::Name(_)));
}

#[test]
fn types() {
    let ty = |src: &str| {
        let file = parse_ok(&format!("type X = {src}"));
        let ItemKind::Type { ty, .. } = &file.items[0].kind else {
            panic!()
        };
        strip_spans(&ty.kind)
    };
    assert!(ty("\"a\" | \"b\"").starts_with("Union([TypeExpr { kind: Literal(Str(\"a\"))"));
    assert!(ty("| S3 { b: String }").starts_with("Union([TypeExpr { kind: Variant"));
    assert!(ty("Map<List<Int>>").starts_with("Named"));
    assert!(ty("Int(1..10)").contains("Range"));
    assert!(ty("Memory(1Gi..)").contains("hi: None"));
    assert!(ty("String(/^a\\/b$/)").contains("pattern: \"^a\\\\/b$\""));
    assert!(ty("(Int, String) -> Bool").starts_with("Function"));
}

#[test]
fn spans_cover_node_text() {
    let src = "let x = a + b * c";
    let file = parse_ok(src);
    let ItemKind::Let { value, .. } = &file.items[0].kind else {
        panic!()
    };
    assert_eq!(&src[value.span.range()], "a + b * c");
    let ExprKind::Binary { rhs, .. } = &value.kind else {
        panic!()
    };
    assert_eq!(&src[rhs.span.range()], "b * c");
    assert_eq!(&src[file.items[0].span.range()], src);
}

#[test]
fn yaml_colon_is_k0004_and_parsed_as_eq() {
    let parsed = parse(FileId(0), "kf.N \"n\" {\n  memory: 16Gi\n  cpu = 2\n}\n");
    assert_eq!(
        parsed.diagnostics.iter().map(|d| d.code.id).collect::<Vec<_>>(),
        vec!["K0004"]
    );
    let ItemKind::Emit { value, .. } = &parsed.file.items[0].kind else {
        panic!()
    };
    let ExprKind::Construct { fields, .. } = &value.kind else {
        panic!()
    };
    assert_eq!(fields.len(), 2);
}

#[test]
fn recovery_reports_several_errors() {
    let src = "let a = \nlet b = (1 +)\nkf.N \"n\" {\n  x = 1 2\n  y = )\n  z = 3\n}\nlet c = 1\n";
    let parsed = parse(FileId(0), src);
    assert!(parsed.diagnostics.len() >= 3, "{:?}", parsed.diagnostics);
    // The good item after the broken ones is still there.
    assert!(
        parsed
            .file
            .items
            .iter()
            .any(|i| matches!(&i.kind, ItemKind::Let { name, .. } if name.name == "c"))
    );
}

#[test]
fn error_cap_is_k0009() {
    let src = "let x = [".to_string() + &"1 ".repeat(200) + "]";
    let parsed = parse(FileId(0), &src);
    assert_eq!(parsed.diagnostics.len(), 51);
    assert_eq!(parsed.diagnostics.last().map(|d| d.code.id), Some("K0009"));
}

/// Runs `f` on a thread with a small (256 KiB) stack: deep input must not overflow it.
fn on_small_stack(f: impl FnOnce() + Send + 'static) {
    std::thread::Builder::new()
        .stack_size(256 << 10)
        .spawn(f)
        .unwrap()
        .join()
        .unwrap();
}

#[test]
fn deep_nesting_is_k0008_without_overflow() {
    on_small_stack(|| {
        for open in ["[", "(", "{", "-", "!", "\"${"] {
            let src = format!("let x = {}", open.repeat(100_000));
            let start = std::time::Instant::now();
            let parsed = parse(FileId(0), &src);
            assert!(
                parsed
                    .diagnostics
                    .iter()
                    .any(|d| d.code.id == "K0008" || d.code.id == "K0005"),
                "{open}"
            );
            assert!(start.elapsed().as_secs() < 5, "{open} took {:?}", start.elapsed());
        }
        let chain = format!("let x = a{}", " + a".repeat(100_000));
        assert!(codes(&chain).contains(&"K0008"));
        let chain = format!("let x = a{}", ".b".repeat(100_000));
        assert!(codes(&chain).contains(&"K0008"));
        // Balanced but too deep: one error, and the rest of the file still parses.
        let src = format!("let x = {}1{}\nlet y = 2\n", "[".repeat(300), "]".repeat(300));
        let parsed = parse(FileId(0), &src);
        assert_eq!(
            parsed.diagnostics.iter().map(|d| d.code.id).collect::<Vec<_>>(),
            vec!["K0008"]
        );
        assert_eq!(parsed.file.items.len(), 2);
    });
}

#[test]
fn moderately_deep_is_fine() {
    on_small_stack(|| {
        let src = format!("let x = {}1{}", "[".repeat(200), "]".repeat(200));
        assert!(codes(&src).is_empty());
    });
}
