//! Lexer unit tests: token kinds, units, strings, trivia, and lexical diagnostics.

use kiln_lang::FileId;
use kiln_lang::ast::UnitKind;
use kiln_lang::lexer::{TokenKind as T, lex};

/// Token kinds of `src`, without the final `Eof`.
fn kinds(src: &str) -> Vec<T> {
    let mut k: Vec<T> = lex(FileId(0), src).tokens.into_iter().map(|t| t.kind).collect();
    assert_eq!(k.pop(), Some(T::Eof));
    k
}

fn codes(src: &str) -> Vec<&'static str> {
    lex(FileId(0), src)
        .diagnostics
        .iter()
        .map(|d| d.code.id)
        .collect()
}

/// The decoded texts of the string pieces of `src`, in order.
fn texts(src: &str) -> Vec<String> {
    lex(FileId(0), src).texts
}

#[test]
fn keywords_idents_punctuation() {
    assert_eq!(
        kinds("let x_1 = a.b -> c => d .. e == f != g <= h >= i && j || !k"),
        vec![
            T::Let,
            T::Ident,
            T::Eq,
            T::Ident,
            T::Dot,
            T::Ident,
            T::Arrow,
            T::Ident,
            T::FatArrow,
            T::Ident,
            T::DotDot,
            T::Ident,
            T::EqEq,
            T::Ident,
            T::Ne,
            T::Ident,
            T::Le,
            T::Ident,
            T::Ge,
            T::Ident,
            T::AndAnd,
            T::Ident,
            T::OrOr,
            T::Bang,
            T::Ident
        ]
    );
}

#[test]
fn numbers_and_units() {
    assert_eq!(
        kinds("1_000 1.5 1e-3 2.5E10"),
        vec![T::Int(1000), T::Float(1.5), T::Float(1e-3), T::Float(2.5e10)]
    );
    let q = T::Unit(UnitKind::Quantity);
    let d = T::Unit(UnitKind::Duration);
    assert_eq!(kinds("16Gi 500m 1.5G 2E 1Ei"), vec![q; 5]);
    assert_eq!(kinds("30s 90min 2h 1d 100ms"), vec![d; 5]);
    assert_eq!(
        kinds("10% 2.5%"),
        vec![T::Unit(UnitKind::Percent), T::Unit(UnitKind::Percent)]
    );
}

#[test]
fn range_is_not_a_decimal() {
    assert_eq!(kinds("1..10"), vec![T::Int(1), T::DotDot, T::Int(10)]);
}

#[test]
fn bad_suffix_and_overflow_are_k0006() {
    let lexed = lex(FileId(0), "16gb");
    assert_eq!(lexed.diagnostics[0].code.id, "K0006");
    assert_eq!(
        lexed.diagnostics[0].help.as_deref(),
        Some("did you mean 16Gi or 16G?")
    );
    assert_eq!(codes("99999999999999999999"), vec!["K0006"]);
    assert_eq!(codes("1e3Gi"), vec!["K0006"]);
}

#[test]
fn strings_with_nested_interpolation() {
    assert_eq!(texts(r#""a ${ f("b ${c}") } d""#), ["a ", "b ", " d"]);
    assert_eq!(
        kinds(r#""a ${ f("b ${c}") } d""#),
        vec![
            T::StrStart { multiline: false },
            T::Text(0),
            T::InterpStart,
            T::Ident,
            T::LParen,
            T::StrStart { multiline: false },
            T::Text(1),
            T::InterpStart,
            T::Ident,
            T::InterpEnd,
            T::StrEnd,
            T::RParen,
            T::InterpEnd,
            T::Text(2),
            T::StrEnd
        ]
    );
    // Braces inside an interpolation do not end it.
    assert_eq!(
        kinds(r#""${ {a = 1}.a }""#),
        vec![
            T::StrStart { multiline: false },
            T::InterpStart,
            T::LBrace,
            T::Ident,
            T::Eq,
            T::Int(1),
            T::RBrace,
            T::Dot,
            T::Ident,
            T::InterpEnd,
            T::StrEnd
        ]
    );
}

#[test]
fn escapes() {
    assert_eq!(texts(r#""q\"b\\n\n\t\$\u{e9}""#), ["q\"b\\n\n\t$é"]);
    assert_eq!(codes(r#""\q""#), vec!["K0011"]);
    assert_eq!(codes(r#""\u{110000}""#), vec!["K0011"]);
}

#[test]
fn multiline_dedent() {
    let src = "\"\"\"\n    hello\n      world\n    \"\"\"";
    assert_eq!(texts(src), ["hello\n  world\n"]);
    // The closing line counts towards the indentation.
    let src = "\"\"\"\n    a\n  \"\"\"";
    assert_eq!(texts(src), ["  a\n"]);
    // Interpolation inside; indentation measured on raw text.
    let src = "\"\"\"\n  x ${y}\n  z\"\"\"";
    assert_eq!(
        kinds(src),
        vec![
            T::StrStart { multiline: true },
            T::Text(0),
            T::InterpStart,
            T::Ident,
            T::InterpEnd,
            T::Text(1),
            T::StrEnd
        ]
    );
    assert_eq!(texts(src), ["x ", "\nz"]);
    // Quotes inside.
    assert_eq!(texts("\"\"\"a \"b\" c\"\"\""), ["a \"b\" c"]);
}

#[test]
fn unterminated_strings_are_closed() {
    let k = kinds("\"abc\nlet");
    assert_eq!(
        k,
        vec![T::StrStart { multiline: false }, T::Text(0), T::StrEnd, T::Let]
    );
    assert_eq!(codes("\"abc\nlet"), vec!["K0002"]);
    assert_eq!(codes("\"a ${ b"), vec!["K0002"]);
    assert_eq!(kinds("\"a ${ b").last(), Some(&T::StrEnd));
}

#[test]
fn comments_are_trivia() {
    let lexed = lex(FileId(0), "## doc\n# plain  \nx = 1 ## trailing\n");
    let c: Vec<(&str, bool)> = lexed.comments.iter().map(|c| (c.text.as_str(), c.doc)).collect();
    assert_eq!(c, vec![(" doc", true), (" plain", false), ("# trailing", false)]);
    assert_eq!(lexed.tokens.len(), 4);
}

#[test]
fn newline_before_flags() {
    let lexed = lex(FileId(0), "a b\n  c # x\n\nd");
    let flags: Vec<bool> = lexed.tokens.iter().map(|t| t.newline_before).collect();
    assert_eq!(flags, vec![true, false, true, true, true]);
}

#[test]
fn tabs_helm_unknown() {
    assert_eq!(codes("\tx\n\ty"), vec!["K0003"]);
    assert_eq!(kinds("\tx"), vec![T::Ident]);
    assert_eq!(codes("x = {{ .Values.x }}"), vec!["K0005"]);
    assert_eq!(kinds("x = {{ .Values.x }}"), vec![T::Ident, T::Eq, T::Error]);
    let lexed = lex(FileId(0), r#""{{ x }}""#);
    assert_eq!(lexed.diagnostics[0].code.id, "K0005");
    assert!(!lexed.diagnostics[0].is_error());
    assert_eq!(codes("a ^ b"), vec!["K0007"]);
    assert_eq!(codes("a µµ b"), vec!["K0007"]);
}

#[test]
fn regex_only_after_paren() {
    assert_eq!(
        kinds("String(/^[a-z\"]+$/)"),
        vec![T::Ident, T::LParen, T::Regex, T::RParen]
    );
    assert_eq!(kinds("a / b"), vec![T::Ident, T::Slash, T::Ident]);
}

#[test]
fn never_panics_on_odd_input() {
    for src in [
        "\"", "\"\"\"", "\"${", "\"${\"", "1.", "1e", "1e+", "\\", "é", "\"\\u{", "\"\\", "##", "{{", "/",
        "(/",
    ] {
        let _ = lex(FileId(0), src);
    }
}
