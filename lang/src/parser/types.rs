//! Type expressions: named types with arguments, record types, literal and tagged unions,
//! refinements and function types.

use nom::Parser;
use nom::combinator::{cut, opt};
use nom::sequence::preceded;

use super::expr::{self, key, literal};
use super::{In, PErr, PResult, Seq, expect, ident, path, seq, skip_deep, tok};
use crate::ast::{FieldDecl, Refinement, TypeExpr, TypeExprKind};
use crate::lexer::TokenKind;

const FIELDS: Seq = Seq {
    close: TokenKind::RBrace,
    newline_sep: true,
    rest: true,
    missing_sep: "`,` or a new line after the field",
};
const TYPE_ARGS: Seq = Seq {
    close: TokenKind::Gt,
    newline_sep: false,
    rest: false,
    missing_sep: "`,` or `>` after the type argument",
};
const FN_PARAMS: Seq = Seq {
    close: TokenKind::RParen,
    newline_sep: false,
    rest: false,
    missing_sep: "`,` or `)` after the parameter type",
};

/// `"|"? atom ("|" atom)*`; a single atom without a leading `|` is not a union.
pub(crate) fn ty(i: In<'_>) -> PResult<'_, TypeExpr> {
    let cx = i.cx;
    let start = i.peek().span.start;
    let (i, leading) = opt(tok(TokenKind::Pipe)).parse(i)?;
    let (mut i, first) = if leading.is_some() {
        cut(atom).parse(i)?
    } else {
        atom(i)?
    };
    if leading.is_none() && !i.at(TokenKind::Pipe) {
        return Ok((i, first));
    }
    let mut items = vec![first];
    while i.at(TokenKind::Pipe) {
        let (rest, a) = preceded(tok(TokenKind::Pipe), cut(atom)).parse(i)?;
        items.push(a);
        i = rest;
    }
    Ok((
        i,
        TypeExpr {
            kind: TypeExprKind::Union(items),
            span: cx.span(start, i.prev_end()),
        },
    ))
}

fn atom(i: In<'_>) -> PResult<'_, TypeExpr> {
    super::grow(|| atom_level(i))
}

fn atom_level(i: In<'_>) -> PResult<'_, TypeExpr> {
    let cx = i.cx;
    let Some(_guard) = cx.enter() else {
        let (rest, span) = skip_deep(i);
        return Ok((
            rest,
            TypeExpr {
                kind: TypeExprKind::Error,
                span,
            },
        ));
    };
    let t = i.peek();
    let start = t.span.start;
    let (i, kind) = match &t.kind {
        TokenKind::LBrace => {
            let (j, (fields, open)) = record_type(i)?;
            (j, TypeExprKind::Record { fields, open })
        }
        TokenKind::LParen => return fn_type(i),
        TokenKind::Ident => {
            let next = i.peek_at(1);
            if next.kind == TokenKind::LBrace && !next.newline_before {
                let (j, tag) = ident(i)?;
                let (j, (fields, open)) = record_type(j)?;
                if open {
                    cx.report(&PErr::new(
                        j.pos.saturating_sub(1),
                        "fields only",
                        Some("a variant's fields are closed: remove `..`"),
                    ));
                }
                (j, TypeExprKind::Variant { tag, fields })
            } else {
                let (j, path) = path(i)?;
                let (j, args) = if j.at(TokenKind::Lt) {
                    let (k, open) = tok(TokenKind::Lt)(j)?;
                    let (k, args, _) = seq(k.with_nl(false), open.span, &TYPE_ARGS, Vec::new(), ty);
                    (k.with_nl(j.nl), args)
                } else {
                    (j, Vec::new())
                };
                (j, TypeExprKind::Named { path, args })
            }
        }
        TokenKind::Error => (i.advance(), TypeExprKind::Error),
        _ => {
            let (j, (lit, _)) = literal(i).map_err(|e| match e {
                nom::Err::Failure(e) => nom::Err::Failure(e),
                _ => nom::Err::Error(PErr::expected(i.pos, "a type")),
            })?;
            (j, TypeExprKind::Literal(lit))
        }
    };
    let base = TypeExpr {
        kind,
        span: cx.span(start, i.prev_end()),
    };
    let t = i.peek();
    if t.kind == TokenKind::LParen && !t.newline_before {
        let (j, refinement) = refinement(i)?;
        return Ok((
            j,
            TypeExpr {
                kind: TypeExprKind::Refined {
                    base: Box::new(base),
                    refinement,
                },
                span: cx.span(start, j.prev_end()),
            },
        ));
    }
    Ok((i, base))
}

/// `{ a: T, b?: T = default, .. }`: the fields, and whether the record is open (`..`).
fn record_type(i: In<'_>) -> PResult<'_, (Vec<FieldDecl>, bool)> {
    let outer = i.nl;
    let (j, open) = tok(TokenKind::LBrace)(i)?;
    // `seq` flags a `..` entry; save and restore around nested record types.
    let saved = i.cx.saw_rest.replace(false);
    let (j, fields, _) = seq(j.with_nl(true), open.span, &FIELDS, Vec::new(), field);
    let is_open = i.cx.saw_rest.replace(saved);
    Ok((j.with_nl(outer), (fields, is_open)))
}

/// A field declaration (`..` is handled by [`seq`]).
fn field(i: In<'_>) -> PResult<'_, FieldDecl> {
    let cx = i.cx;
    let doc = cx.doc_before(i.pos);
    let (j, name) = key(i)?;
    let (j, optional) = opt(tok(TokenKind::Question)).parse(j)?;
    if !j.at(TokenKind::Colon) {
        let field = name.name();
        return Err(nom::Err::Failure(PErr::new(
            j.pos,
            &format!("`:` and a type after field name `{field}`"),
            Some(&format!(
                "record types declare fields as `{field}: Type` or `{field}: Type = default`"
            )),
        )));
    }
    let j = j.advance();
    let (j, ty) = ty(j)?;
    let (j, default) = opt(preceded(tok(TokenKind::Eq), cut(expr::expr))).parse(j)?;
    let span = cx.span(name.span().start, j.prev_end());
    Ok((
        j,
        FieldDecl {
            doc,
            name,
            optional: optional.is_some(),
            ty,
            default,
            span,
        },
    ))
}

/// `(A, B) -> R`
fn fn_type(i: In<'_>) -> PResult<'_, TypeExpr> {
    let cx = i.cx;
    let outer = i.nl;
    let (j, open) = tok(TokenKind::LParen)(i)?;
    let (j, params, _) = seq(j.with_nl(false), open.span, &FN_PARAMS, Vec::new(), ty);
    let (j, _) = expect(
        j.with_nl(outer),
        TokenKind::Arrow,
        "`->` after the parameter types",
        Some("a function type is written `(Int, String) -> Bool`"),
    )?;
    let (j, ret) = ty(j)?;
    Ok((
        j,
        TypeExpr {
            kind: TypeExprKind::Function {
                params,
                ret: Box::new(ret),
            },
            span: cx.span(open.span.start, j.prev_end()),
        },
    ))
}

/// `(lo..hi)`, `(lo..)`, `(..hi)` or `(/regex/)`.
fn refinement(i: In<'_>) -> PResult<'_, Refinement> {
    const HELP: &str =
        "write a range such as `Int(1..10)` or `Memory(1Gi..)`, or a pattern `String(/^[a-z]+$/)`";
    let cx = i.cx;
    let outer = i.nl;
    let (j, _) = tok(TokenKind::LParen)(i)?;
    let j = j.with_nl(false);
    if j.at(TokenKind::Regex) {
        let span = j.peek().span;
        let text = cx.text(span);
        let pattern = text[1..text.len() - 1].to_string();
        let (k, _) = expect(j.advance(), TokenKind::RParen, "`)` after the pattern", None)?;
        return Ok((k.with_nl(outer), Refinement::Regex { pattern, span }));
    }
    let (j, lo) = if j.at(TokenKind::DotDot) {
        (j, None)
    } else {
        expr::expr(j).map(|(k, e)| (k, Some(Box::new(e))))?
    };
    let (j, _) = expect(j, TokenKind::DotDot, "`..` in the refinement", Some(HELP))?;
    let (j, hi) = if j.at(TokenKind::RParen) {
        (j, None)
    } else {
        expr::expr(j).map(|(k, e)| (k, Some(Box::new(e))))?
    };
    let (j, _) = expect(j, TokenKind::RParen, "`)` after the range", Some(HELP))?;
    Ok((j.with_nl(outer), Refinement::Range { lo, hi }))
}
