//! Expressions: precedence climbing for binary operators, postfix chains, literals and strings,
//! records and comprehensions, `if`, `match`, lambdas, calls.

use nom::Parser;
use nom::combinator::{cut, opt};
use nom::sequence::preceded;

use super::{
    In, PErr, PResult, Seq, expect, ident, name_or_keyword, path, recover, seq, skip_deep, tok, types,
};
use crate::ast::{
    Arg, BinOp, CompClause, Expr, ExprKind, Key, Literal, MatchArm, Param, Pattern, RecordEntry, StrLit,
    StrPart, UnaryOp,
};
use crate::codes;
use crate::diagnostic::Diagnostic;
use crate::lexer::TokenKind;
use crate::span::Span;

/// Restrictions on the expression being parsed.
#[derive(Clone, Copy, Default)]
pub(crate) struct R {
    /// In `match x {`, the `{` opens the arms, so `x {` must not be read as a construct.
    no_construct: bool,
}

const RECORD: Seq = Seq {
    close: TokenKind::RBrace,
    newline_sep: true,
    rest: false,
    missing_sep: "`,` or a new line after the field",
};
const LIST: Seq = Seq {
    close: TokenKind::RBracket,
    newline_sep: false,
    rest: false,
    missing_sep: "`,` or `]` after the list element",
};
const ARGS: Seq = Seq {
    close: TokenKind::RParen,
    newline_sep: false,
    rest: false,
    missing_sep: "`,` or `)` after the argument",
};
const ARMS: Seq = Seq {
    close: TokenKind::RBrace,
    newline_sep: true,
    rest: false,
    missing_sep: "`,` or a new line after the match arm",
};

fn mk(kind: ExprKind, span: Span) -> Expr {
    Expr { kind, span }
}

fn too_deep<T>(i: In<'_>) -> PResult<'_, T> {
    i.cx.report_too_deep(i.pos);
    Err(nom::Err::Failure(PErr {
        reported: true,
        ..PErr::expected(i.pos, "less nesting")
    }))
}

pub(crate) fn expr(i: In<'_>) -> PResult<'_, Expr> {
    expr_r(i, R::default())
}

fn expr_r(i: In<'_>, r: R) -> PResult<'_, Expr> {
    super::grow(|| expr_level(i, r))
}

fn expr_level(i: In<'_>, r: R) -> PResult<'_, Expr> {
    let cx = i.cx;
    let Some(_guard) = cx.enter() else {
        let (rest, span) = skip_deep(i);
        return Ok((rest, mk(ExprKind::Error, span)));
    };
    match i.peek().kind {
        TokenKind::If => if_expr(i),
        TokenKind::Match => match_expr(i),
        TokenKind::Ident if i.peek_at(1).kind == TokenKind::Arrow => {
            let (j, name) = ident(i)?;
            let (j, body) = expr(j.advance())?;
            let span = name.span.to(body.span);
            let param = Param {
                span: name.span,
                name,
                ty: None,
                default: None,
            };
            Ok((
                j,
                mk(
                    ExprKind::Lambda {
                        params: vec![param],
                        body: Box::new(body),
                    },
                    span,
                ),
            ))
        }
        _ => with_expr(i, r),
    }
}

/// `binary (with { ... })*`
fn with_expr(i: In<'_>, r: R) -> PResult<'_, Expr> {
    let (mut i, mut e) = binary(i, 0, r)?;
    let mut guard = i.cx.chain();
    // `with = ...` at a line start is a field named `with`, not a patch.
    while i.at(TokenKind::With) && i.peek_at(1).kind != TokenKind::Eq {
        if !guard.bump() {
            return too_deep(i);
        }
        if i.peek_at(1).kind != TokenKind::LBrace {
            return Err(nom::Err::Failure(PErr::new(
                i.pos + 1,
                "`{` after `with`",
                Some("`with` takes a record patch: `base with { field = value }`"),
            )));
        }
        let (rest, (patch, span)) = record_entries(i.advance())?;
        let span = e.span.to(span);
        e = mk(
            ExprKind::With {
                base: Box::new(e),
                patch,
            },
            span,
        );
        i = rest;
    }
    Ok((i, e))
}

fn binop(kind: &TokenKind) -> Option<BinOp> {
    Some(match kind {
        TokenKind::Plus => BinOp::Add,
        TokenKind::Minus => BinOp::Sub,
        TokenKind::Star => BinOp::Mul,
        TokenKind::Slash => BinOp::Div,
        TokenKind::EqEq => BinOp::Eq,
        TokenKind::Ne => BinOp::Ne,
        TokenKind::Lt => BinOp::Lt,
        TokenKind::Le => BinOp::Le,
        TokenKind::Gt => BinOp::Gt,
        TokenKind::Ge => BinOp::Ge,
        TokenKind::AndAnd => BinOp::And,
        TokenKind::OrOr => BinOp::Or,
        _ => return None,
    })
}

/// Precedence climbing: operators binding at least as tight as `min`. Left-associative; the
/// left operand grows in a loop (depth-counted), the right one recurses one level up.
fn binary(i: In<'_>, min: u8, r: R) -> PResult<'_, Expr> {
    let (mut i, mut lhs) = unary(i, r)?;
    let mut guard = i.cx.chain();
    loop {
        let t = i.peek();
        let Some(op) = binop(&t.kind) else { break };
        // A line starting with `-` inside `{ }` or at top level is not a continuation.
        if op == BinOp::Sub && i.nl && t.newline_before {
            break;
        }
        let prec = op.precedence();
        if prec < min {
            break;
        }
        if prec == 3 && matches!(&lhs.kind, ExprKind::Binary { op, .. } if op.precedence() == 3) {
            return Err(nom::Err::Failure(PErr::new(
                i.pos,
                "`&&` or `||` between comparisons",
                Some("comparisons do not chain: write `a < b && b < c`"),
            )));
        }
        if !guard.bump() {
            return too_deep(i);
        }
        let (rest, rhs) = binary(i.advance(), prec + 1, r)?;
        let span = lhs.span.to(rhs.span);
        lhs = mk(
            ExprKind::Binary {
                op,
                lhs: Box::new(lhs),
                rhs: Box::new(rhs),
            },
            span,
        );
        i = rest;
    }
    Ok((i, lhs))
}

fn unary(i: In<'_>, r: R) -> PResult<'_, Expr> {
    let op = match i.peek().kind {
        TokenKind::Minus => UnaryOp::Neg,
        TokenKind::Bang => UnaryOp::Not,
        _ => return postfix(i, r),
    };
    let Some(_guard) = i.cx.enter() else {
        return too_deep(i);
    };
    let start = i.peek().span;
    let (j, operand) = super::grow(|| unary(i.advance(), r))?;
    let span = start.to(operand.span);
    Ok((
        j,
        mk(
            ExprKind::Unary {
                op,
                operand: Box::new(operand),
            },
            span,
        ),
    ))
}

/// `primary ( .name | [index] | (args) )*`; `[` and `(` only on the same line.
fn postfix(i: In<'_>, r: R) -> PResult<'_, Expr> {
    let (mut i, mut e) = primary(i, r)?;
    let mut guard = i.cx.chain();
    loop {
        let t = i.peek();
        let same_line = !t.newline_before;
        match t.kind {
            TokenKind::Dot => {}
            TokenKind::LBracket | TokenKind::LParen if same_line => {}
            _ => break,
        }
        if !guard.bump() {
            return too_deep(i);
        }
        let start = e.span;
        match t.kind {
            TokenKind::Dot => {
                let (rest, field) = cut(name_or_keyword)
                    .parse(i.advance())
                    .map_err(|_| nom::Err::Failure(PErr::new(i.pos + 1, "a field name after `.`", None)))?;
                e = mk(
                    ExprKind::Field {
                        target: Box::new(e),
                        field,
                    },
                    i.cx.span(start.start, rest.prev_end()),
                );
                i = rest;
            }
            TokenKind::LBracket => {
                let outer = i.nl;
                let (j, index) = expr(i.advance().with_nl(false))?;
                let (j, close) = expect(j, TokenKind::RBracket, "`]` after the index", None)?;
                e = mk(
                    ExprKind::Index {
                        target: Box::new(e),
                        index: Box::new(index),
                    },
                    start.to(close),
                );
                i = j.with_nl(outer);
            }
            _ => {
                let (j, (args, end)) = args(i)?;
                e = mk(
                    ExprKind::Call {
                        callee: Box::new(e),
                        args,
                    },
                    i.cx.span(start.start, end),
                );
                i = j;
            }
        }
    }
    Ok((i, e))
}

fn primary(i: In<'_>, r: R) -> PResult<'_, Expr> {
    let cx = i.cx;
    let t = i.peek();
    let lit = |kind: ExprKind| Ok((i.advance(), mk(kind, t.span)));
    match &t.kind {
        TokenKind::Int(v) => lit(ExprKind::Int(*v)),
        TokenKind::Float(v) => lit(ExprKind::Float(*v)),
        TokenKind::Unit(unit) => lit(ExprKind::Unit {
            text: cx.text(t.span).to_string(),
            unit: *unit,
        }),
        TokenKind::True => lit(ExprKind::Bool(true)),
        TokenKind::False => lit(ExprKind::Bool(false)),
        TokenKind::Error => lit(ExprKind::Error),
        TokenKind::StrStart { .. } => {
            let (j, s) = string_lit(i)?;
            let span = s.span;
            Ok((j, mk(ExprKind::Str(s), span)))
        }
        TokenKind::Ident => name_or_construct(i, r),
        TokenKind::LBracket => list(i),
        TokenKind::LBrace => brace_expr(i),
        TokenKind::LParen => paren_or_lambda(i),
        // Not in the grammar's `primary`, but unambiguous: accept `1 + if c then 2 else 3`.
        TokenKind::If | TokenKind::Match => expr_r(i, r),
        TokenKind::Regex => Err(nom::Err::Failure(PErr::new(
            i.pos,
            "an expression",
            Some("a regular expression is only allowed in a type refinement: `String(/^[a-z]+$/)`"),
        ))),
        _ => Err(nom::Err::Error(PErr::expected(i.pos, "an expression"))),
    }
}

/// A name, or `a.b.C { ... }` (a construct) when a `{` follows the path on the same line.
fn name_or_construct(i: In<'_>, r: R) -> PResult<'_, Expr> {
    if !r.no_construct {
        let mut n = 1;
        while i.peek_at(n).kind == TokenKind::Dot
            && (i.peek_at(n + 1).kind == TokenKind::Ident || i.peek_at(n + 1).kind.is_keyword())
        {
            n += 2;
        }
        let t = i.peek_at(n);
        if t.kind == TokenKind::LBrace && !t.newline_before {
            let (j, ty) = path(i)?;
            let (j, (fields, body)) = record_entries(j)?;
            let span = ty.span.to(body);
            return Ok((j, mk(ExprKind::Construct { ty, fields }, span)));
        }
    }
    let (j, name) = ident(i)?;
    let span = name.span;
    Ok((j, mk(ExprKind::Name(name), span)))
}

// ----- strings -----

/// A string literal with its interpolations. The lexer guarantees `StrStart .. StrEnd` and
/// `InterpStart .. InterpEnd` come in balanced pairs, so recovery inside `${ }` can always resync.
pub(crate) fn string_lit(i: In<'_>) -> PResult<'_, StrLit> {
    let cx = i.cx;
    let open = i.peek();
    let TokenKind::StrStart { multiline } = open.kind else {
        return Err(nom::Err::Error(PErr::expected(i.pos, "a string")));
    };
    let outer = i.nl;
    let mut j = i.advance();
    let mut parts: Vec<StrPart> = Vec::new();
    loop {
        let t = j.peek();
        match &t.kind {
            TokenKind::Text(index) => {
                let s = &cx.texts[*index as usize];
                if !s.is_empty() {
                    match parts.last_mut() {
                        Some(StrPart::Text(prev)) => prev.push_str(s),
                        _ => parts.push(StrPart::Text(s.clone())),
                    }
                }
                j = j.advance();
            }
            TokenKind::InterpStart => {
                let k = j.advance().with_nl(false);
                let (k, e) = match expr(k) {
                    Ok((k, e)) if k.at(TokenKind::InterpEnd) => (k.advance(), e),
                    Ok((k, e)) => {
                        cx.report(&PErr::new(k.pos, "`}` to close the interpolation", None));
                        (skip_interp(k), e)
                    }
                    Err(nom::Err::Error(err) | nom::Err::Failure(err)) => {
                        cx.report(&err);
                        (skip_interp(k), mk(ExprKind::Error, t.span))
                    }
                    Err(nom::Err::Incomplete(_)) => (skip_interp(k), mk(ExprKind::Error, t.span)),
                };
                parts.push(StrPart::Interp(e));
                j = k.with_nl(outer);
            }
            TokenKind::StrEnd => {
                j = j.advance();
                break;
            }
            _ => break,
        }
    }
    Ok((
        j,
        StrLit {
            parts,
            multiline,
            span: cx.span(open.span.start, j.prev_end()),
        },
    ))
}

/// Skips to just past the `InterpEnd` closing the current interpolation.
fn skip_interp(i: In<'_>) -> In<'_> {
    let toks = i.cx.toks;
    let mut level = 0usize;
    let mut p = i.pos;
    while toks[p].kind != TokenKind::Eof {
        match toks[p].kind {
            TokenKind::InterpStart => level += 1,
            TokenKind::InterpEnd if level == 0 => return i.at_pos(p + 1),
            TokenKind::InterpEnd => level -= 1,
            _ => {}
        }
        p += 1;
    }
    i.at_pos(p)
}

// ----- records -----

/// `{ key = value ... }` (record bodies of constructs, emits and `with`). Returns the entries
/// and the span of the braces.
pub(crate) fn record_entries(i: In<'_>) -> PResult<'_, (Vec<RecordEntry>, Span)> {
    let outer = i.nl;
    let (j, open) = expect(i, TokenKind::LBrace, "`{`", None)?;
    let (j, entries, end) = seq(j.with_nl(true), open, &RECORD, Vec::new(), entry);
    Ok((j.with_nl(outer), (entries, i.cx.span(open.start, end))))
}

/// A record key: a name (keywords allowed: `type = "x"`) or a plain string.
pub(crate) fn key(i: In<'_>) -> PResult<'_, Key> {
    if i.at_str() {
        let (j, s) = string_lit(i)?;
        return match s.as_plain() {
            Some(value) => Ok((j, Key::Str { value, span: s.span })),
            None => Err(nom::Err::Failure(PErr::new(
                i.pos,
                "a plain string as the key",
                Some(
                    "keys cannot use `${...}`; build a map with a comprehension: `{ \"${k}\" = v for k, v in m }`",
                ),
            ))),
        };
    }
    match name_or_keyword(i) {
        Ok((j, name)) => Ok((j, Key::Ident(name))),
        Err(_) => Err(nom::Err::Error(PErr::expected(i.pos, "a field name"))),
    }
}

fn entry(i: In<'_>) -> PResult<'_, RecordEntry> {
    let (j, key) = key(i)?;
    let (j, value) = entry_value(j, key.name())?;
    let span = key.span().to(value.span);
    Ok((j, RecordEntry { key, value, span }))
}

/// `= value` after a key; `: value` is the YAML habit (K0004), reported and accepted.
fn entry_value<'a>(i: In<'a>, name: &str) -> PResult<'a, Expr> {
    let t = i.peek();
    match t.kind {
        TokenKind::Eq => {}
        TokenKind::Colon => i.cx.push(
            Diagnostic::error(
                codes::YAML_COLON,
                format!("expected `=` after field name `{name}`, found `:`"),
                t.span,
                "YAML-style `:`",
            )
            .with_help(format!("kiln records use `=`: write `{name} = value`")),
        ),
        _ => {
            return Err(nom::Err::Failure(PErr::new(
                i.pos,
                &format!("`=` after field name `{name}`"),
                Some(&format!("write `{name} = value`")),
            )));
        }
    }
    expr(i.advance())
}

/// Does a record entry (`key =` or `key:`) start here?
fn entry_start(i: In<'_>) -> bool {
    let t = i.peek();
    let after = if t.kind == TokenKind::Ident || t.kind.is_keyword() {
        1
    } else if i.at_str() {
        // Past the whole string, interpolations included.
        let toks = i.cx.toks;
        let mut level = 0usize;
        let mut p = i.pos;
        loop {
            match toks[p].kind {
                TokenKind::StrStart { .. } => level += 1,
                TokenKind::StrEnd => {
                    level -= 1;
                    if level == 0 {
                        break;
                    }
                }
                TokenKind::Eof => return false,
                _ => {}
            }
            p += 1;
        }
        p + 1 - i.pos
    } else {
        return false;
    };
    matches!(i.peek_at(after).kind, TokenKind::Eq | TokenKind::Colon)
}

/// `{` in expression position: a record literal or a map comprehension.
fn brace_expr<'a>(i: In<'a>) -> PResult<'a, Expr> {
    let cx = i.cx;
    let outer = i.nl;
    let (j, open) = tok(TokenKind::LBrace)(i)?;
    let open = open.span;
    let j = j.with_nl(true);
    let done = |k: In<'a>, kind: ExprKind, end: u32| -> PResult<'a, Expr> {
        Ok((k.with_nl(outer), mk(kind, cx.span(open.start, end))))
    };
    if !entry_start(j) {
        if j.at(TokenKind::RBrace) {
            let (k, entries, end) = seq(j, open, &RECORD, Vec::new(), entry);
            return done(k, ExprKind::Record(entries), end);
        }
        // `{ key_expr = value for ... }`
        let (k, key) = expr(j)?;
        let (k, _) = expect(k, TokenKind::Eq, "`=` after the computed key", None)?;
        let (k, value) = expr(k)?;
        if !k.at(TokenKind::For) {
            return Err(nom::Err::Failure(PErr::new(
                k.pos,
                "`for` after the value",
                Some("a computed key is only allowed in a map comprehension: `{ k = v for k, v in m }`"),
            )));
        }
        return map_comp(k, key, value, outer, open);
    }
    // The first entry is parsed with its key as an expression, in case a `for` follows.
    let start = j.pos;
    let (k, key_expr) = if j.at_str() {
        let (k, s) = string_lit(j)?;
        let span = s.span;
        (k, mk(ExprKind::Str(s), span))
    } else {
        let (k, name) = name_or_keyword(j)?;
        let span = name.span;
        (k, mk(ExprKind::Name(name), span))
    };
    let key_name = match &key_expr.kind {
        ExprKind::Name(n) => n.name.clone(),
        ExprKind::Str(s) => s.as_plain().unwrap_or_default(),
        _ => String::new(),
    };
    let (k, value) = entry_value(k, &key_name)?;
    if k.at(TokenKind::For) && k.peek_at(1).kind != TokenKind::Eq {
        return map_comp(k, key_expr, value, outer, open);
    }
    let key = match key_expr.kind {
        ExprKind::Name(n) => Key::Ident(n),
        ExprKind::Str(s) => {
            if s.as_plain().is_none() {
                cx.report(&PErr::new(
                    start,
                    "a plain string as the key",
                    Some("keys cannot use `${...}` outside a comprehension"),
                ));
            }
            Key::Str {
                value: key_name,
                span: s.span,
            }
        }
        _ => Key::Str {
            value: key_name,
            span: key_expr.span,
        },
    };
    let first = RecordEntry {
        span: key.span().to(value.span),
        key,
        value,
    };
    let (k, entries, end) = seq(k, open, &RECORD, vec![first], entry);
    done(k, ExprKind::Record(entries), end)
}

fn map_comp<'a>(i: In<'a>, key: Expr, value: Expr, outer: bool, open: Span) -> PResult<'a, Expr> {
    let (i, clauses) = comp_clauses(i)?;
    let (i, end) = close_comprehension(i, TokenKind::RBrace)?;
    Ok((
        i.with_nl(outer),
        mk(
            ExprKind::RecordComp {
                key: Box::new(key),
                value: Box::new(value),
                clauses,
            },
            i.cx.span(open.start, end),
        ),
    ))
}

fn close_comprehension(mut i: In<'_>, close: TokenKind) -> PResult<'_, u32> {
    while i.at(TokenKind::Comma) || i.at(TokenKind::Semi) {
        i = i.advance();
    }
    let what = if close == TokenKind::RBrace {
        "`}` to close the comprehension"
    } else {
        "`]` to close the comprehension"
    };
    let (i, span) = expect(
        i,
        close,
        what,
        Some("a comprehension continues only with `for` or `if` clauses"),
    )?;
    Ok((i, span.end))
}

/// `(for x in e | for k, v in e | if cond)+`
fn comp_clauses(mut i: In<'_>) -> PResult<'_, Vec<CompClause>> {
    let mut clauses = Vec::new();
    loop {
        let t = i.peek();
        match t.kind {
            TokenKind::For if i.peek_at(1).kind != TokenKind::Eq => {
                let (j, first) = ident(i.advance()).map_err(|_| {
                    nom::Err::Failure(PErr::new(i.pos + 1, "a variable name after `for`", None))
                })?;
                let (j, second) = opt(preceded(tok(TokenKind::Comma), cut(ident))).parse(j)?;
                let (j, _) = expect(
                    j,
                    TokenKind::In,
                    "`in` after the loop variables",
                    Some("write `for x in xs`"),
                )?;
                let (j, iter) = expr(j)?;
                let mut vars = vec![first];
                vars.extend(second);
                clauses.push(CompClause::For {
                    vars,
                    span: t.span.to(iter.span),
                    iter,
                });
                i = j;
            }
            TokenKind::If => {
                let (j, cond) = expr(i.advance())?;
                clauses.push(CompClause::If {
                    span: t.span.to(cond.span),
                    cond,
                });
                i = j;
            }
            _ => return Ok((i, clauses)),
        }
    }
}

// ----- lists, parens, lambdas, calls -----

fn list<'a>(i: In<'a>) -> PResult<'a, Expr> {
    let cx = i.cx;
    let outer = i.nl;
    let (j, open) = tok(TokenKind::LBracket)(i)?;
    let open = open.span;
    let j = j.with_nl(false);
    let finish = |k: In<'a>, kind: ExprKind, end: u32| -> PResult<'a, Expr> {
        Ok((k.with_nl(outer), mk(kind, cx.span(open.start, end))))
    };
    if j.at(TokenKind::RBracket) || j.at(TokenKind::Eof) {
        let (k, items, end) = seq(j, open, &LIST, Vec::new(), expr);
        return finish(k, ExprKind::List(items), end);
    }
    let start = j.pos;
    match expr(j) {
        Ok((k, first)) if k.at(TokenKind::For) => {
            let (k, clauses) = comp_clauses(k)?;
            let (k, end) = close_comprehension(k, TokenKind::RBracket)?;
            finish(
                k,
                ExprKind::ListComp {
                    body: Box::new(first),
                    clauses,
                },
                end,
            )
        }
        Ok((k, first)) => {
            let (k, items, end) = seq(k, open, &LIST, vec![first], expr);
            finish(k, ExprKind::List(items), end)
        }
        Err(nom::Err::Error(e) | nom::Err::Failure(e)) => {
            cx.report(&e);
            let k = recover(j, start, e.pos, false);
            let (k, items, end) = seq(k, open, &LIST, Vec::new(), expr);
            finish(k, ExprKind::List(items), end)
        }
        Err(e) => Err(e),
    }
}

/// `(e)`, or a lambda `(a, b: Int) -> body` / `() -> body`, told apart without backtracking by
/// what follows the `(`.
fn paren_or_lambda(i: In<'_>) -> PResult<'_, Expr> {
    let cx = i.cx;
    let outer = i.nl;
    let (j, open) = tok(TokenKind::LParen)(i)?;
    let open = open.span;
    let j = j.with_nl(false);
    let next = &j.peek_at(1).kind;
    let lambda = j.at(TokenKind::RParen)
        || (j.at(TokenKind::Ident)
            && (matches!(next, TokenKind::Colon | TokenKind::Comma | TokenKind::Eq)
                || (*next == TokenKind::RParen && j.peek_at(2).kind == TokenKind::Arrow)));
    if lambda {
        let (k, params) = params(j, open);
        let (k, _) = expect(
            k.with_nl(outer),
            TokenKind::Arrow,
            "`->` after the lambda parameters",
            Some("a lambda is written `(x, y) -> x + y`"),
        )?;
        let (k, body) = expr(k)?;
        let span = open.to(body.span);
        return Ok((
            k,
            mk(
                ExprKind::Lambda {
                    params,
                    body: Box::new(body),
                },
                span,
            ),
        ));
    }
    let (k, inner) = expr(j)?;
    let (k, close) = expect(k, TokenKind::RParen, "`)`", None)?;
    Ok((
        k.with_nl(outer),
        mk(ExprKind::Paren(Box::new(inner)), cx.span(open.start, close.end)),
    ))
}

/// Parameters after `(` (at `open`), through the closing `)`.
pub(crate) fn params(i: In<'_>, open: Span) -> (In<'_>, Vec<Param>) {
    const PARAMS: Seq = Seq {
        close: TokenKind::RParen,
        newline_sep: false,
        rest: false,
        missing_sep: "`,` or `)` after the parameter",
    };
    let outer = i.nl;
    let (j, params, _) = seq(i.with_nl(false), open, &PARAMS, Vec::new(), param);
    (j.with_nl(outer), params)
}

fn param(i: In<'_>) -> PResult<'_, Param> {
    let (j, name) = ident(i).map_err(|_| nom::Err::Error(PErr::expected(i.pos, "a parameter name")))?;
    let (j, ty) = opt(preceded(tok(TokenKind::Colon), cut(types::ty))).parse(j)?;
    let (j, default) = opt(preceded(tok(TokenKind::Eq), cut(expr))).parse(j)?;
    let span = i.cx.span(name.span.start, j.prev_end());
    Ok((
        j,
        Param {
            name,
            ty,
            default,
            span,
        },
    ))
}

/// `(args)` at `i`; returns the arguments and the end offset of `)`.
fn args(i: In<'_>) -> PResult<'_, (Vec<Arg>, u32)> {
    let outer = i.nl;
    let (j, open) = tok(TokenKind::LParen)(i)?;
    let (j, args, end) = seq(j.with_nl(false), open.span, &ARGS, Vec::new(), arg);
    Ok((j.with_nl(outer), (args, end)))
}

fn arg(i: In<'_>) -> PResult<'_, Arg> {
    if i.at(TokenKind::Ident) && i.peek_at(1).kind == TokenKind::Eq {
        let (j, name) = ident(i)?;
        let (j, value) = cut(expr).parse(j.advance())?;
        return Ok((
            j,
            Arg {
                name: Some(name),
                value,
            },
        ));
    }
    let (j, value) = expr(i)?;
    Ok((j, Arg { name: None, value }))
}

// ----- if / match -----

fn if_expr(i: In<'_>) -> PResult<'_, Expr> {
    let (i, kw) = tok(TokenKind::If)(i)?;
    let (i, cond) = expr(i)?;
    let (i, _) = expect(
        i,
        TokenKind::Then,
        "`then` after the condition",
        Some("write `if cond then a else b`"),
    )?;
    let (i, then_branch) = expr(i)?;
    let (i, _) = expect(
        i,
        TokenKind::Else,
        "`else` after the `then` branch",
        Some("kiln has no null: an `if` needs an `else` branch"),
    )?;
    let (i, else_branch) = expr(i)?;
    let span = kw.span.to(else_branch.span);
    Ok((
        i,
        mk(
            ExprKind::If {
                cond: Box::new(cond),
                then_branch: Box::new(then_branch),
                else_branch: Box::new(else_branch),
            },
            span,
        ),
    ))
}

fn match_expr(i: In<'_>) -> PResult<'_, Expr> {
    let outer = i.nl;
    let (i, kw) = tok(TokenKind::Match)(i)?;
    let (i, scrutinee) = expr_r(i, R { no_construct: true })?;
    let (i, open) = expect(
        i,
        TokenKind::LBrace,
        "`{` after the matched value",
        Some("write `match x { A a => ..., _ => ... }`"),
    )?;
    let (i, arms, end) = seq(i.with_nl(true), open, &ARMS, Vec::new(), arm);
    Ok((
        i.with_nl(outer),
        mk(
            ExprKind::Match {
                scrutinee: Box::new(scrutinee),
                arms,
            },
            i.cx.span(kw.span.start, end),
        ),
    ))
}

fn arm(i: In<'_>) -> PResult<'_, MatchArm> {
    let start = i.peek().span.start;
    let (j, pattern) = pattern(i)?;
    let (j, _) = expect(
        j,
        TokenKind::FatArrow,
        "`=>` after the pattern",
        Some("write `pattern => value`"),
    )?;
    let (j, body) = expr(j)?;
    let span = i.cx.span(start, body.span.end);
    Ok((j, MatchArm { pattern, body, span }))
}

fn pattern(i: In<'_>) -> PResult<'_, Pattern> {
    let cx = i.cx;
    let t = i.peek();
    match &t.kind {
        TokenKind::Ident if cx.text(t.span) == "_" => Ok((i.advance(), Pattern::Wildcard(t.span))),
        TokenKind::Ident => {
            let (j, tag) = ident(i)?;
            let next = j.peek();
            if next.kind == TokenKind::Ident && !next.newline_before {
                let (j, binding) = ident(j)?;
                return Ok((
                    j,
                    Pattern::Variant {
                        tag,
                        binding: Some(binding),
                    },
                ));
            }
            Ok((j, Pattern::Variant { tag, binding: None }))
        }
        _ => {
            let (j, (value, span)) = literal(i).map_err(|_| {
                nom::Err::Error(PErr::expected(
                    i.pos,
                    "a pattern (a variant name, a literal or `_`)",
                ))
            })?;
            Ok((j, Pattern::Literal { value, span }))
        }
    }
}

/// A literal for patterns and literal types: string (plain), number (optionally negative), bool.
pub(crate) fn literal<'a>(i: In<'a>) -> PResult<'a, (Literal, Span)> {
    let t = i.peek();
    let done = |j: In<'a>, l: Literal| -> PResult<'a, (Literal, Span)> {
        Ok((j, (l, i.cx.span(t.span.start, j.prev_end()))))
    };
    match &t.kind {
        TokenKind::Int(v) => done(i.advance(), Literal::Int(*v)),
        TokenKind::Float(v) => done(i.advance(), Literal::Float(*v)),
        TokenKind::True => done(i.advance(), Literal::Bool(true)),
        TokenKind::False => done(i.advance(), Literal::Bool(false)),
        TokenKind::Minus => match i.peek_at(1).kind {
            TokenKind::Int(v) => done(i.advance().advance(), Literal::Int(v.wrapping_neg())),
            TokenKind::Float(v) => done(i.advance().advance(), Literal::Float(-v)),
            _ => Err(nom::Err::Error(PErr::expected(i.pos, "a literal"))),
        },
        TokenKind::StrStart { .. } => {
            let (j, s) = string_lit(i)?;
            match s.as_plain() {
                Some(text) => done(j, Literal::Str(text)),
                None => Err(nom::Err::Failure(PErr::new(
                    i.pos,
                    "a plain string",
                    Some("`${...}` is not allowed in a literal pattern or type"),
                ))),
            }
        }
        _ => Err(nom::Err::Error(PErr::expected(i.pos, "a literal"))),
    }
}
