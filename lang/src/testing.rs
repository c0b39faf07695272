//! Test helpers shared by this crate's tests and by other crates (`kiln_lang::testing::...`).
//!
//! Public and always compiled (they are tiny) so integration tests and the compiler's tests can
//! use them without a feature flag.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::ast::SourceFile;
use crate::diagnostic::{Diagnostic, Severity};
use crate::span::{FileId, Span};

/// The `Debug` form of `value` with every [`Span`] replaced by `_`: two trees that differ only
/// in positions print the same. Works for any AST node.
pub fn strip_spans<T: std::fmt::Debug>(value: &T) -> String {
    let text = format!("{value:?}");
    let needle = "Span { file: FileId(";
    let mut out = String::with_capacity(text.len());
    let mut rest = text.as_str();
    while let Some(at) = rest.find(needle) {
        out.push_str(&rest[..at]);
        out.push('_');
        let after = &rest[at..];
        // A span prints as `Span { file: FileId(N), start: N, end: N }`: skip to its `}`.
        let close = after.find('}').map_or(after.len(), |i| i + 1);
        rest = &after[close..];
    }
    out.push_str(rest);
    out
}

/// True when two files have the same items (docs included) ignoring spans.
pub fn same_items(a: &SourceFile, b: &SourceFile) -> bool {
    strip_spans(&a.items) == strip_spans(&b.items)
}

/// Every `.kiln` file under `dir` (recursively), sorted; empty when `dir` does not exist.
pub fn kiln_files(dir: &Path) -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "kiln") {
                out.push(path);
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, &mut out);
    out.sort();
    out
}

/// 1-based line and column (in characters) of a byte offset.
pub fn line_col(source: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(source.len());
    let before = source.get(..offset).unwrap_or(source);
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() + 1)
}

/// Diagnostics in a simple, stable text form for snapshots:
/// `error[K0001] 3:5: message` then indented `label`, secondary labels, notes and `help`.
pub fn render_plain(source: &str, diagnostics: &[Diagnostic]) -> String {
    let mut out = String::new();
    let at = |span: Span| {
        let (l, c) = line_col(source, span.start as usize);
        let text = source.get(span.range()).unwrap_or("");
        let text: String = text.chars().take(40).collect();
        format!("{l}:{c} `{}`", text.escape_debug())
    };
    for d in diagnostics {
        let severity = match d.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        let (l, c) = line_col(source, d.primary.span.start as usize);
        let _ = writeln!(out, "{severity}[{}] {l}:{c}: {}", d.code.id, d.message);
        let _ = writeln!(out, "  label {}: {}", at(d.primary.span), d.primary.message);
        for label in &d.secondary {
            let _ = writeln!(out, "  also  {}: {}", at(label.span), label.message);
        }
        for note in &d.notes {
            let _ = writeln!(out, "  note: {note}");
        }
        if let Some(help) = &d.help {
            let _ = writeln!(out, "  help: {help}");
        }
    }
    out
}

/// Parses `source` (as file 0) and renders its diagnostics with [`render_plain`].
pub fn parse_diagnostics(source: &str) -> String {
    let parsed = crate::parse(FileId(0), source);
    render_plain(source, &parsed.diagnostics)
}

/// Parses `source` expecting no diagnostics; panics with them otherwise.
pub fn parse_ok(source: &str) -> SourceFile {
    let parsed = crate::parse(FileId(0), source);
    assert!(
        parsed.diagnostics.is_empty(),
        "unexpected diagnostics:\n{}",
        render_plain(source, &parsed.diagnostics)
    );
    parsed.file
}

/// A compact s-expression of an expression, for precedence and shape assertions in tests:
/// `a + b * c` -> `(+ a (* b c))`.
pub fn sexpr(e: &crate::ast::Expr) -> String {
    use crate::ast::{ExprKind as K, StrPart};
    let list = |items: &[crate::ast::Expr]| items.iter().map(sexpr).collect::<Vec<_>>().join(" ");
    let entries = |es: &[crate::ast::RecordEntry]| {
        es.iter()
            .map(|en| format!("{}={}", en.key.name(), sexpr(&en.value)))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let clauses = |cs: &[crate::ast::CompClause]| {
        cs.iter()
            .map(|c| match c {
                crate::ast::CompClause::For { vars, iter, .. } => {
                    let vars: Vec<&str> = vars.iter().map(|v| v.name.as_str()).collect();
                    format!("(for {} {})", vars.join(","), sexpr(iter))
                }
                crate::ast::CompClause::If { cond, .. } => format!("(if {})", sexpr(cond)),
            })
            .collect::<Vec<_>>()
            .join(" ")
    };
    match &e.kind {
        K::Int(v) => v.to_string(),
        K::Float(v) => format!("{v:?}"),
        K::Bool(v) => v.to_string(),
        K::Str(s) => {
            let parts: Vec<String> = s
                .parts
                .iter()
                .map(|p| match p {
                    StrPart::Text(t) => format!("{t:?}"),
                    StrPart::Interp(e) => format!("${{{}}}", sexpr(e)),
                })
                .collect();
            format!("(str {})", parts.join(" "))
        }
        K::Unit { text, unit } => format!("{text}:{unit:?}"),
        K::Name(n) => n.name.clone(),
        K::Field { target, field } => format!("(. {} {})", sexpr(target), field.name),
        K::Index { target, index } => format!("([] {} {})", sexpr(target), sexpr(index)),
        K::Call { callee, args } => {
            let args: Vec<String> = args
                .iter()
                .map(|a| match &a.name {
                    Some(n) => format!("{}={}", n.name, sexpr(&a.value)),
                    None => sexpr(&a.value),
                })
                .collect();
            format!("(call {} {})", sexpr(callee), args.join(" "))
        }
        K::List(items) => format!("[{}]", list(items)),
        K::ListComp { body, clauses: cs } => format!("[{} {}]", sexpr(body), clauses(cs)),
        K::Record(es) => format!("{{{}}}", entries(es)),
        K::RecordComp {
            key,
            value,
            clauses: cs,
        } => {
            format!("{{{}={} {}}}", sexpr(key), sexpr(value), clauses(cs))
        }
        K::Construct { ty, fields } => {
            let path: Vec<&str> = ty.segments.iter().map(|s| s.name.as_str()).collect();
            format!("({} {{{}}})", path.join("."), entries(fields))
        }
        K::With { base, patch } => format!("(with {} {{{}}})", sexpr(base), entries(patch)),
        K::If {
            cond,
            then_branch,
            else_branch,
        } => format!(
            "(if {} {} {})",
            sexpr(cond),
            sexpr(then_branch),
            sexpr(else_branch)
        ),
        K::Binary { op, lhs, rhs } => format!("({} {} {})", op.as_str(), sexpr(lhs), sexpr(rhs)),
        K::Unary { op, operand } => {
            let op = match op {
                crate::ast::UnaryOp::Neg => "-",
                crate::ast::UnaryOp::Not => "!",
            };
            format!("({op} {})", sexpr(operand))
        }
        K::Match { scrutinee, arms } => {
            let arms: Vec<String> = arms
                .iter()
                .map(|a| format!("{:?} => {}", a.pattern, sexpr(&a.body)))
                .collect();
            format!("(match {} {})", sexpr(scrutinee), strip_spans(&arms))
        }
        K::Lambda { params, body } => {
            let ps: Vec<&str> = params.iter().map(|p| p.name.name.as_str()).collect();
            format!("(fn ({}) {})", ps.join(" "), sexpr(body))
        }
        K::Paren(inner) => format!("({})", sexpr(inner)),
        K::Error => "<error>".to_string(),
    }
}

/// Parses `let x = <source>` and returns the s-expression of the value (panics on diagnostics).
pub fn expr_sexpr(source: &str) -> String {
    let text = format!("let x = {source}");
    let file = parse_ok(&text);
    match &file.items[0].kind {
        crate::ast::ItemKind::Let { value, .. } => sexpr(value),
        _ => unreachable!("a let item"),
    }
}

/// Checks the formatter's contract on `source` (which must parse without errors other than
/// K0003): the output parses without errors to the same items (ignoring spans), keeps every
/// comment's text in order, and is a fixed point. Returns the formatted text, or what broke.
pub fn check_format(source: &str) -> Result<String, String> {
    let formatted = crate::format::format_source(FileId(0), source)
        .map_err(|d| format!("input does not format:\n{}", render_plain(source, &d)))?;
    let before = crate::parse(FileId(0), source);
    let after = crate::parse(FileId(0), &formatted);
    if after.diagnostics.iter().any(Diagnostic::is_error) {
        return Err(format!(
            "formatted output has errors:\n{}\n--- output ---\n{formatted}",
            render_plain(&formatted, &after.diagnostics)
        ));
    }
    if !same_items(&before.file, &after.file) {
        let (a, b) = (strip_spans(&before.file.items), strip_spans(&after.file.items));
        let at = a
            .bytes()
            .zip(b.bytes())
            .position(|(x, y)| x != y)
            .unwrap_or(a.len().min(b.len()));
        let from = at.saturating_sub(200);
        return Err(format!(
            "formatting changed the AST near:\n  before: {}\n  after:  {}\n--- output ---\n{formatted}",
            a.get(from..(at + 200).min(a.len())).unwrap_or(""),
            b.get(from..(at + 200).min(b.len())).unwrap_or("")
        ));
    }
    // As written (`#` or `##` plus text): a `##` after code is a plain comment whose text starts
    // with `#`, and stays the same characters if formatting moves it to its own line.
    let texts = |f: &SourceFile| {
        f.comments
            .iter()
            .map(|c| format!("{}{}", if c.doc { "##" } else { "#" }, c.text))
            .collect::<Vec<_>>()
    };
    if texts(&before.file) != texts(&after.file) {
        return Err(format!(
            "comments changed: {:?} -> {:?}\n--- output ---\n{formatted}",
            texts(&before.file),
            texts(&after.file)
        ));
    }
    let again =
        crate::format::format_source(FileId(0), &formatted).map_err(|d| render_plain(&formatted, &d))?;
    if again != formatted {
        return Err(format!(
            "not idempotent:\n--- first ---\n{formatted}\n--- second ---\n{again}"
        ));
    }
    Ok(formatted)
}

/// One random edit of a source text (property tests and the compiler's mutation test).
#[derive(Debug, Clone)]
pub enum Edit {
    /// Delete up to `n` bytes at `at` (both taken modulo the text).
    Delete(usize, usize),
    /// Repeat up to `n` bytes at `at`.
    Duplicate(usize, usize),
    Insert(usize, char),
}

/// Nearest char boundary at or before `at % (len + 1)`.
fn boundary(s: &str, at: usize) -> usize {
    if s.is_empty() {
        return 0;
    }
    let mut i = at % (s.len() + 1);
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// `s` with `edits` applied in order; positions wrap, so any edit applies to any text.
pub fn mutate(mut s: String, edits: &[Edit]) -> String {
    for e in edits {
        match *e {
            Edit::Delete(at, n) => {
                let a = boundary(&s, at);
                let b = boundary(&s, a + n).max(a).min(s.len());
                s.replace_range(a..b, "");
            }
            Edit::Duplicate(at, n) => {
                let a = boundary(&s, at);
                let b = boundary(&s, (a + n).min(s.len())).max(a);
                let piece = s[a..b].to_string();
                s.insert_str(b, &piece);
            }
            Edit::Insert(at, c) => {
                let a = boundary(&s, at);
                s.insert(a, c);
            }
        }
    }
    s
}
