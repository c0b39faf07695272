//! Parser: tokens -> [`ast::SourceFile`], with error recovery.
//!
//! The engine is nom 8 running over a token slice: [`input::In`] implements [`nom::Input`]
//! (items are `&Token`), the leaf parsers are token matchers, and sequencing uses nom's
//! combinators. Three things nom has no opinion on are done by hand, inside nom-shaped functions:
//! - binary operators: a precedence-climbing loop ([`expr`]);
//! - error recovery: bracketed sequences ([`seq`]) and the item loop report an error, skip to the
//!   next separator / line / item start, and go on, so one run reports several errors;
//! - nesting depth: a counter in the shared context caps recursion at [`MAX_DEPTH`] (K0008);
//!   past it the parser skips the over-deep region with a loop, never recursing further, so
//!   100,000 `[` cannot overflow the stack.
//!
//! Newline rules (spec "Newlines"): most are structural (an expression simply ends at the first
//! token that cannot continue it). The newline-sensitive decisions are: a call `(`, an index `[`
//! and a construct `{` must be on the same line as what precedes them, and inside `{ }` / at top
//! level a `-` starting a line begins a new entry rather than continuing a subtraction.
//! [`input::In::nl`] says which of the two regimes applies.

mod expr;
mod input;
mod types;

use std::cell::{Cell, RefCell};

use nom::Parser;
use nom::combinator::opt;
use nom::sequence::preceded;

use crate::Parsed;
use crate::ast::{self, Comment, Ident, Item, ItemKind};
use crate::codes;
use crate::diagnostic::{Diagnostic, Sink};
use crate::lexer::{self, Token, TokenKind};
use crate::span::{FileId, Span};

pub(crate) use input::{In, PErr, PResult};

/// Maximum nesting of brackets and expressions; deeper input is K0008.
pub const MAX_DEPTH: u32 = 256;

/// Runs `f` on a fresh stack segment when less than 64 KiB of stack is left. Called at every
/// nesting level of the recursive parsers and printers: with the [`MAX_DEPTH`] cap the total is
/// bounded, and this keeps it off the caller's stack, however small (a debug build uses about
/// 20 KiB per level).
pub(crate) fn grow<T>(f: impl FnOnce() -> T) -> T {
    stacker::maybe_grow(64 * 1024, 1024 * 1024, f)
}

/// State shared by every parser function through [`In::cx`]. Interior mutability keeps `In`
/// `Copy`, which nom's backtracking relies on.
pub(crate) struct Cx<'a> {
    pub file: FileId,
    pub src: &'a str,
    pub toks: &'a [Token],
    pub texts: &'a [String],
    pub comments: &'a [Comment],
    /// Set by [`seq`] when a `..` entry is found (read and reset by the record-type parser).
    pub saw_rest: Cell<bool>,
    /// Where the last doc-comment lookup ended: lookups go forward, so a cursor beats a search.
    doc_cursor: Cell<usize>,
    pub sink: RefCell<Sink>,
    pub depth: Cell<u32>,
    deep_reported: Cell<bool>,
    eof_unclosed_reported: Cell<bool>,
    /// Token index of the last K0001, so recovery does not report the same token twice.
    last_error_at: Cell<usize>,
    /// Closers of the brackets currently open, innermost last (to tell a stray closer from the
    /// closer of an enclosing bracket during recovery).
    open: RefCell<Vec<TokenKind>>,
}

/// Parses one file (see [`crate::parse`]).
pub fn parse_file(file: FileId, source: &str) -> Parsed {
    let (lexed, sink) = lexer::lex_into_sink(file, source);
    let cx = Cx {
        file,
        src: source,
        toks: &lexed.tokens,
        texts: &lexed.texts,
        comments: &lexed.comments,
        doc_cursor: Cell::new(0),
        saw_rest: Cell::new(false),
        sink: RefCell::new(sink),
        depth: Cell::new(0),
        deep_reported: Cell::new(false),
        eof_unclosed_reported: Cell::new(false),
        last_error_at: Cell::new(usize::MAX),
        open: RefCell::new(Vec::new()),
    };
    let items = items(In::new(&cx));
    let mut diagnostics = cx.sink.into_inner().diagnostics;
    let comments = lexed.comments;
    // Lexer and parser diagnostics interleave by position; K0009 stays last.
    diagnostics.sort_by_key(|d| (d.code == codes::TOO_MANY_ERRORS, d.primary.span.start));
    Parsed {
        file: ast::SourceFile {
            items,
            comments,
            span: Span::new(file, 0, source.len()),
        },
        diagnostics,
    }
}

// ----- the shared context -----

/// Undoes a depth increment when the parser function that made it returns (also on errors).
pub(crate) struct DepthGuard<'a> {
    cx: &'a Cx<'a>,
    added: u32,
}

impl DepthGuard<'_> {
    /// Counts one more level (a binary operator or postfix in a chain); false past the cap.
    pub fn bump(&mut self) -> bool {
        if self.cx.depth.get() >= MAX_DEPTH {
            return false;
        }
        self.cx.depth.set(self.cx.depth.get() + 1);
        self.added += 1;
        true
    }
}

impl Drop for DepthGuard<'_> {
    fn drop(&mut self) {
        self.cx.depth.set(self.cx.depth.get() - self.added);
    }
}

/// Pops the open-bracket stack when a bracketed parser returns.
pub(crate) struct OpenGuard<'a> {
    cx: &'a Cx<'a>,
}

impl Drop for OpenGuard<'_> {
    fn drop(&mut self) {
        self.cx.open.borrow_mut().pop();
    }
}

impl<'a> Cx<'a> {
    pub fn span(&self, start: u32, end: u32) -> Span {
        Span {
            file: self.file,
            start,
            end,
        }
    }

    pub fn text(&self, span: Span) -> &'a str {
        &self.src[span.range()]
    }

    pub fn push(&self, diagnostic: Diagnostic) {
        self.sink.borrow_mut().push(diagnostic);
    }

    /// Enters one nesting level, or `None` past [`MAX_DEPTH`].
    pub fn enter(&'a self) -> Option<DepthGuard<'a>> {
        let mut guard = DepthGuard { cx: self, added: 0 };
        guard.bump().then_some(guard)
    }

    /// A guard that counts the links of a chain (`a + b + c`, `x.y.z`) as nesting levels: the
    /// tree they build is that deep, and later stages recurse over it.
    pub fn chain(&'a self) -> DepthGuard<'a> {
        DepthGuard { cx: self, added: 0 }
    }

    pub fn open(&'a self, closer: TokenKind) -> OpenGuard<'a> {
        self.open.borrow_mut().push(closer);
        OpenGuard { cx: self }
    }

    /// Reports K0008 (once per file) at token `pos`.
    pub fn report_too_deep(&self, pos: usize) {
        if self.deep_reported.replace(true) {
            return;
        }
        self.push(
            Diagnostic::error(
                codes::TOO_DEEP,
                format!("nesting is deeper than {MAX_DEPTH} levels"),
                self.toks[pos].span,
                "too deeply nested",
            )
            .with_help("split the value into named `let` bindings"),
        );
    }

    /// Turns a parse error into a K0001 diagnostic, unless it is already reported or sits on an
    /// `Error` token (the lexer reported that one).
    pub fn report(&self, e: &PErr) {
        if e.reported || self.sink.borrow().is_full() {
            return;
        }
        let pos = e.pos.min(self.toks.len() - 1);
        let t = &self.toks[pos];
        if t.kind == TokenKind::Error || self.last_error_at.replace(pos) == pos {
            return;
        }
        let found = self.describe_found(t);
        let label = if t.kind == TokenKind::Eof {
            "the file ends here".to_string()
        } else {
            format!("expected {}", e.expected)
        };
        let mut d = Diagnostic::error(
            codes::UNEXPECTED_TOKEN,
            format!("expected {}, found {found}", e.expected),
            t.span,
            label,
        );
        if let Some(help) = &e.help {
            d = d.with_help(help.clone());
        }
        self.push(d);
    }

    pub fn describe_found(&self, t: &Token) -> String {
        match &t.kind {
            TokenKind::Ident => format!("`{}`", self.text(t.span)),
            TokenKind::Int(_) | TokenKind::Float(_) | TokenKind::Unit(_) => {
                format!("`{}`", self.text(t.span))
            }
            k if k.is_keyword() => format!("keyword {}", k.describe()),
            k => k.describe().to_string(),
        }
    }

    /// Reports a bracket that is never closed (only the first one found at end of file: the
    /// outer ones are the same story).
    fn report_unclosed(&self, open: Span, at: &Token) {
        if at.kind == TokenKind::Eof && self.eof_unclosed_reported.replace(true) {
            return;
        }
        let bracket = self.text(open);
        let closer = match bracket {
            "{" => "}",
            "[" => "]",
            "(" => ")",
            "<" => ">",
            _ => "}",
        };
        let mut d = Diagnostic::error(
            codes::UNCLOSED_DELIMITER,
            format!("unclosed `{bracket}`"),
            open,
            format!("this `{bracket}` is never closed"),
        )
        .with_help(format!("add `{closer}` where the value ends"));
        if at.kind != TokenKind::Eof {
            d = d.with_label(at.span, format!("expected `{closer}` before this"));
        }
        self.push(d);
    }

    /// True for a token at a line start that can only begin a new item: used to stop a runaway
    /// unclosed bracket from swallowing the rest of the file.
    fn is_item_keyword_line(&self, pos: usize) -> bool {
        let t = &self.toks[pos];
        t.newline_before
            && matches!(
                t.kind,
                TokenKind::Let | TokenKind::Fn | TokenKind::Import | TokenKind::Type
            )
            && !matches!(
                self.toks.get(pos + 1).map(|t| &t.kind),
                Some(TokenKind::Eq | TokenKind::Colon | TokenKind::Question)
            )
    }

    fn starts_at_column_0(&self, t: &Token) -> bool {
        t.span.start == 0 || self.src.as_bytes()[t.span.start as usize - 1] == b'\n'
    }

    /// The `##` doc comments directly above token `pos` (no blank line in between), joined
    /// with `\n`.
    pub fn doc_before(&self, pos: usize) -> Option<String> {
        let start = self.toks[pos].span.start;
        let prev_end = if pos == 0 { 0 } else { self.toks[pos - 1].span.end };
        // Usually the gap is a newline and some spaces: no comment, no search.
        if !self.src.as_bytes()[prev_end as usize..start as usize].contains(&b'#') {
            return None;
        }
        // First comment at or after `prev_end`: walk forward from the cursor, or search when the
        // parser went back.
        let mut lo = self.doc_cursor.get().min(self.comments.len());
        if lo > 0 && self.comments[lo - 1].span.start >= prev_end {
            lo = self.comments.partition_point(|c| c.span.start < prev_end);
        }
        while lo < self.comments.len() && self.comments[lo].span.start < prev_end {
            lo += 1;
        }
        let mut hi = lo;
        while hi < self.comments.len() && self.comments[hi].span.start < start {
            hi += 1;
        }
        self.doc_cursor.set(hi);
        // The doc comments directly above: consecutive `##` lines with no blank line between
        // them or before the token.
        let mut first_doc = hi;
        let mut next_start = start as usize;
        while first_doc > lo {
            let c = &self.comments[first_doc - 1];
            let gap = &self.src.as_bytes()[c.span.end as usize..next_start];
            if !c.doc || gap.iter().filter(|&&b| b == b'\n').count() > 1 {
                break;
            }
            first_doc -= 1;
            next_start = c.span.start as usize;
        }
        let docs = &self.comments[first_doc..hi];
        if docs.is_empty() {
            return None;
        }
        let lines: Vec<&str> = docs
            .iter()
            .map(|c| c.text.strip_prefix(' ').unwrap_or(&c.text))
            .collect();
        Some(lines.join("\n"))
    }
}

// ----- primitives -----

/// Matches one token of a payload-free kind.
pub(crate) fn tok<'a>(kind: TokenKind) -> impl Fn(In<'a>) -> PResult<'a, &'a Token> {
    move |i: In<'a>| {
        let t = i.peek();
        if t.kind == kind {
            Ok((i.advance(), t))
        } else {
            Err(nom::Err::Error(PErr::expected(i.pos, kind.describe())))
        }
    }
}

/// An identifier (not a keyword).
pub(crate) fn ident(i: In<'_>) -> PResult<'_, Ident> {
    let (rest, t) = tok(TokenKind::Ident)(i)?;
    Ok((
        rest,
        Ident {
            name: i.cx.text(t.span).to_string(),
            span: t.span,
        },
    ))
}

/// An identifier or a keyword used as a name (record keys, field access: `x.type`).
pub(crate) fn name_or_keyword(i: In<'_>) -> PResult<'_, Ident> {
    let t = i.peek();
    if t.kind == TokenKind::Ident || t.kind.is_keyword() {
        Ok((
            i.advance(),
            Ident {
                name: i.cx.text(t.span).to_string(),
                span: t.span,
            },
        ))
    } else {
        Err(nom::Err::Error(PErr::expected(i.pos, "a name")))
    }
}

/// `a.b.c`
pub(crate) fn path(i: In<'_>) -> PResult<'_, ast::Path> {
    let (mut i, first) = ident(i)?;
    let mut segments = Vec::with_capacity(2);
    segments.push(first);
    while i.at(TokenKind::Dot) {
        let (rest, seg) = nom::combinator::cut(preceded(tok(TokenKind::Dot), name_or_keyword)).parse(i)?;
        segments.push(seg);
        i = rest;
    }
    let span = segments[0].span.to(segments[segments.len() - 1].span);
    Ok((i, ast::Path { segments, span }))
}

/// Requires `kind` next, with a context-specific message when it is missing.
pub(crate) fn expect<'a>(
    i: In<'a>,
    kind: TokenKind,
    expected: &str,
    help: Option<&str>,
) -> PResult<'a, Span> {
    match tok(kind)(i) {
        Ok((rest, t)) => Ok((rest, t.span)),
        Err(_) => Err(nom::Err::Failure(PErr {
            pos: i.pos,
            expected: expected.to_string().into(),
            help: help.map(str::to_string),
            reported: false,
        })),
    }
}

// ----- recovery -----

/// What a bracketed, separated sequence looks like.
pub(crate) struct Seq {
    pub close: TokenKind,
    /// Newlines and `;` separate entries (`{ }` bodies); otherwise only `,` does.
    pub newline_sep: bool,
    /// "expected ..." when two entries are not separated.
    pub missing_sep: &'static str,
    /// Accepts `..` as an entry (open record types); seen ones are flagged in [`Cx::saw_rest`].
    pub rest: bool,
}

/// Parses the entries of a bracketed sequence after its opener (at `open`), up to and including
/// the closer. Never fails: a broken entry is reported and skipped. Returns the end offset of the
/// closer (or of the last token consumed when the closer is missing).
pub(crate) fn seq<'a, T>(
    mut i: In<'a>,
    open: Span,
    spec: &Seq,
    mut items: Vec<T>,
    mut entry: impl FnMut(In<'a>) -> PResult<'a, T>,
) -> (In<'a>, Vec<T>, u32) {
    let cx = i.cx;
    let _open = cx.open(spec.close);
    let mut after_entry = !items.is_empty();
    loop {
        let t = i.peek();
        if after_entry {
            after_entry = false;
            let separated = t.kind == TokenKind::Comma
                || t.kind == spec.close
                || t.kind.is_closer()
                || t.kind == TokenKind::Eof
                || (spec.newline_sep && (t.kind == TokenKind::Semi || t.newline_before));
            if !separated {
                cx.report(&PErr {
                    pos: i.pos,
                    expected: spec.missing_sep.into(),
                    help: Some("did you forget a `,`?".into()),
                    reported: false,
                });
            }
        }
        while i.at(TokenKind::Comma) || (spec.newline_sep && i.at(TokenKind::Semi)) {
            i = i.advance();
        }
        let t = i.peek();
        if t.kind == spec.close {
            return (i.advance(), items, t.span.end);
        }
        if t.kind == TokenKind::Eof || cx.is_item_keyword_line(i.pos) {
            cx.report_unclosed(open, t);
            return (i, items, i.prev_end());
        }
        if t.kind.is_closer() {
            let outer = cx.open.borrow().iter().rev().skip(1).any(|k| *k == t.kind);
            if outer || matches!(t.kind, TokenKind::InterpEnd | TokenKind::StrEnd) {
                cx.report_unclosed(open, t);
                return (i, items, i.prev_end());
            }
            cx.report(&PErr {
                pos: i.pos,
                expected: format!("{} or an entry", spec.close.describe()).into(),
                help: Some("remove the stray bracket".into()),
                reported: false,
            });
            i = i.advance();
            continue;
        }
        if spec.rest && t.kind == TokenKind::DotDot {
            cx.saw_rest.set(true);
            i = i.advance();
            after_entry = true;
            continue;
        }
        let start = i.pos;
        match entry(i) {
            Ok((rest, v)) => {
                items.push(v);
                i = rest;
                after_entry = true;
            }
            Err(nom::Err::Error(e) | nom::Err::Failure(e)) => {
                cx.report(&e);
                i = recover(i, start, e.pos, spec.newline_sep);
            }
            Err(nom::Err::Incomplete(_)) => i = recover(i, start, start, spec.newline_sep),
        }
    }
}

/// Skips a broken entry that started at `start` and failed at `failed`: forward (balancing
/// brackets from the entry start) to the next separator, line start (if newlines separate),
/// closer of the enclosing bracket, or end of file. Always moves past `start`.
pub(crate) fn recover(i: In<'_>, start: usize, failed: usize, newline_sep: bool) -> In<'_> {
    let cx = i.cx;
    let mut level = 0usize;
    let mut p = start;
    loop {
        let t = &cx.toks[p];
        let past = p > start && p >= failed;
        if t.kind == TokenKind::Eof {
            break;
        }
        if level == 0 && p > start {
            if t.kind.is_closer() || cx.is_item_keyword_line(p) {
                break;
            }
            if past && (t.kind == TokenKind::Comma || t.kind == TokenKind::Semi) {
                break;
            }
            if past && newline_sep && t.newline_before {
                break;
            }
        }
        if t.kind.is_opener() {
            level += 1;
        } else if t.kind.is_closer() {
            if level == 0 {
                break;
            }
            level -= 1;
        }
        p += 1;
    }
    // The loop always moves past `start` unless it is a closer or end of file, which the
    // callers handle without calling `recover` again.
    i.at_pos(p)
}

/// Skips the bracketed region starting at `i` (used past the depth cap): to the matching closer
/// inclusive, or end of file. A loop, never recursion.
pub(crate) fn skip_deep(i: In<'_>) -> (In<'_>, Span) {
    let cx = i.cx;
    cx.report_too_deep(i.pos);
    let start = i.pos;
    let first = i.peek();
    if !first.kind.is_opener() {
        let rest = if first.kind.is_closer() || first.kind == TokenKind::Eof {
            i
        } else {
            i.advance()
        };
        return (rest, first.span);
    }
    let mut level = 0usize;
    let mut p = start;
    while cx.toks[p].kind != TokenKind::Eof {
        let k = &cx.toks[p].kind;
        if k.is_opener() {
            level += 1;
        } else if k.is_closer() {
            level -= 1;
            if level == 0 {
                p += 1;
                break;
            }
        }
        p += 1;
    }
    let rest = i.at_pos(p);
    (rest, cx.span(first.span.start, rest.prev_end()))
}

// ----- items -----

fn items(mut i: In<'_>) -> Vec<Item> {
    let cx = i.cx;
    let mut out = Vec::new();
    loop {
        while i.at(TokenKind::Semi) {
            i = i.advance();
        }
        if i.at(TokenKind::Eof) {
            return out;
        }
        let start = i.pos;
        match item(i) {
            Ok((rest, it)) => {
                out.push(it);
                i = rest;
                let t = i.peek();
                if !(t.newline_before || matches!(t.kind, TokenKind::Eof | TokenKind::Semi)) {
                    let e = PErr {
                        pos: i.pos,
                        expected: "a new line after the item".into(),
                        help: Some("put each item on its own line".into()),
                        reported: false,
                    };
                    cx.report(&e);
                    i = recover_item(i, i.pos);
                }
            }
            Err(nom::Err::Error(e) | nom::Err::Failure(e)) => {
                cx.report(&e);
                i = recover_item(i, e.pos.max(start + 1));
            }
            Err(nom::Err::Incomplete(_)) => i = recover_item(i, start + 1),
        }
    }
}

/// Skips to the next line that starts an item: `import`/`let`/`type`/`fn`, or a name at column 0
/// (an emit). Brackets are not balanced here: an unclosed one must not hide the rest of the file.
fn recover_item(i: In<'_>, from: usize) -> In<'_> {
    let cx = i.cx;
    let mut p = from.min(cx.toks.len() - 1);
    while cx.toks[p].kind != TokenKind::Eof {
        let t = &cx.toks[p];
        if t.newline_before
            && (cx.is_item_keyword_line(p) || (t.kind == TokenKind::Ident && cx.starts_at_column_0(t)))
        {
            break;
        }
        p += 1;
    }
    i.at_pos(p)
}

fn item(i: In<'_>) -> PResult<'_, Item> {
    let cx = i.cx;
    let doc = cx.doc_before(i.pos);
    let start = i.peek().span.start;
    let (rest, kind) = match i.peek().kind {
        TokenKind::Import => import(i)?,
        TokenKind::Let => let_item(i)?,
        TokenKind::Type => type_item(i)?,
        TokenKind::Fn => fn_item(i)?,
        TokenKind::Ident => emit(i)?,
        _ => {
            return Err(nom::Err::Error(PErr {
                pos: i.pos,
                expected: "an item (`let`, `type`, `fn`, `import`, or an emit such as `kf.Notebook \"name\" { ... }`)"
                    .into(),
                help: None,
                reported: false,
            }));
        }
    };
    Ok((
        rest,
        Item {
            kind,
            doc,
            span: cx.span(start, rest.prev_end()),
        },
    ))
}

fn import(i: In<'_>) -> PResult<'_, ItemKind> {
    let (i, _) = tok(TokenKind::Import)(i)?;
    let (i, path) = match expr::string_lit(i) {
        Ok(ok) => ok,
        Err(_) => {
            return Err(nom::Err::Failure(PErr::new(
                i.pos,
                "a module path string after `import`",
                Some("write `import \"kubeflow\" as kf` or `import \"./common.kiln\" as common`"),
            )));
        }
    };
    let (i, _) = expect(
        i,
        TokenKind::As,
        "`as` and a name after the import path",
        Some("write `import \"kubeflow\" as kf`"),
    )?;
    let (i, alias) =
        ident(i).map_err(|_| nom::Err::Failure(PErr::new(i.pos, "a name for the imported module", None)))?;
    Ok((i, ItemKind::Import { path, alias }))
}

fn let_item(i: In<'_>) -> PResult<'_, ItemKind> {
    let (i, _) = tok(TokenKind::Let)(i)?;
    let (i, name) = ident(i).map_err(|_| nom::Err::Failure(PErr::new(i.pos, "a name after `let`", None)))?;
    let (i, ty) = opt(preceded(tok(TokenKind::Colon), types::ty)).parse(i)?;
    let help = format!("write `let {} = value`", name.name);
    let (i, _) = expect(
        i,
        TokenKind::Eq,
        &format!("`=` after `let {}`", name.name),
        Some(&help),
    )?;
    let (i, value) = expr::expr(i)?;
    Ok((i, ItemKind::Let { name, ty, value }))
}

fn type_item(i: In<'_>) -> PResult<'_, ItemKind> {
    let (i, _) = tok(TokenKind::Type)(i)?;
    let (i, name) =
        ident(i).map_err(|_| nom::Err::Failure(PErr::new(i.pos, "a type name after `type`", None)))?;
    let (i, _) = expect(i, TokenKind::Eq, &format!("`=` after `type {}`", name.name), None)?;
    let (i, ty) = types::ty(i)?;
    Ok((i, ItemKind::Type { name, ty }))
}

fn fn_item(i: In<'_>) -> PResult<'_, ItemKind> {
    let (i, _) = tok(TokenKind::Fn)(i)?;
    let (i, name) =
        ident(i).map_err(|_| nom::Err::Failure(PErr::new(i.pos, "a function name after `fn`", None)))?;
    let (i, open) = expect(
        i,
        TokenKind::LParen,
        &format!("`(` after `fn {}`", name.name),
        None,
    )?;
    let (i, params) = expr::params(i, open);
    let (i, ret) = opt(preceded(tok(TokenKind::Arrow), types::ty)).parse(i)?;
    let (i, _) = expect(
        i,
        TokenKind::Eq,
        "`=` before the function body",
        Some("write `fn name(x: Int) -> Int = x + 1`"),
    )?;
    let (i, body) = expr::expr(i)?;
    Ok((
        i,
        ItemKind::Fn {
            name,
            params,
            ret,
            body,
        },
    ))
}

/// `kf.Notebook "name" { ... }` or `kf.TrainingJob "name" = expr`.
fn emit(i: In<'_>) -> PResult<'_, ItemKind> {
    let cx = i.cx;
    if i.peek_at(1).kind == TokenKind::Eq {
        let name = cx.text(i.peek().span);
        return Err(nom::Err::Failure(PErr::new(
            i.pos,
            "an item",
            Some(&format!("to bind a name, write `let {name} = ...`")),
        )));
    }
    let (i, ty) = path(i)?;
    if !i.at_str() {
        return Err(nom::Err::Failure(PErr::new(
            i.pos,
            &format!("a name string after `{}`", cx.text(ty.span)),
            Some(&format!(
                "an emit names its object: `{} \"my-name\" {{ ... }}`",
                cx.text(ty.span)
            )),
        )));
    }
    let (i, name) = expr::string_lit(i)?;
    let name = ast::Expr {
        span: name.span,
        kind: ast::ExprKind::Str(name),
    };
    if i.at(TokenKind::LBrace) {
        let (i, (fields, span)) = expr::record_entries(i)?;
        let value = ast::Expr {
            kind: ast::ExprKind::Construct {
                ty: ty.clone(),
                fields,
            },
            span,
        };
        return Ok((i, ItemKind::Emit { ty, name, value }));
    }
    let (i, _) = expect(
        i,
        TokenKind::Eq,
        "`{` or `=` after the emitted object's name",
        Some("write `kf.Notebook \"name\" { ... }` or `kf.Notebook \"name\" = value`"),
    )?;
    let (i, value) = expr::expr(i)?;
    Ok((i, ItemKind::Emit { ty, name, value }))
}
