//! The token-slice input type that nom runs over, and the parser's error type.

use std::borrow::Cow;

use nom::error::{ErrorKind, ParseError};
use nom::{IResult, Needed};

use super::Cx;
use crate::lexer::{Token, TokenKind};

/// A position in the token stream plus the shared context. `Copy`, so nom can backtrack freely.
/// `pos..end` is the window nom sees; `end` only shrinks when nom's `take` asks for a prefix.
#[derive(Clone, Copy)]
pub(crate) struct In<'a> {
    pub cx: &'a Cx<'a>,
    pub pos: usize,
    end: usize,
    /// Newline-sensitive regime: true at top level and inside `{ }`, false inside `( )`, `[ ]`
    /// and `${ }`, where a newline is plain whitespace.
    pub nl: bool,
}

pub(crate) type PResult<'a, T> = IResult<In<'a>, T, PErr>;

/// A parse failure at token `pos`: "expected {expected}, found <token at pos>".
#[derive(Debug, Clone)]
pub(crate) struct PErr {
    pub pos: usize,
    pub expected: Cow<'static, str>,
    pub help: Option<String>,
    /// Already turned into a diagnostic (e.g. K0008): recovery must not report it again.
    pub reported: bool,
}

impl PErr {
    /// A cheap error for a failed alternative (no allocation).
    pub fn expected(pos: usize, what: &'static str) -> PErr {
        PErr {
            pos,
            expected: Cow::Borrowed(what),
            help: None,
            reported: false,
        }
    }

    pub fn new(pos: usize, expected: &str, help: Option<&str>) -> PErr {
        PErr {
            pos,
            expected: Cow::Owned(expected.to_string()),
            help: help.map(str::to_string),
            reported: false,
        }
    }
}

impl<'a> ParseError<In<'a>> for PErr {
    fn from_error_kind(input: In<'a>, _kind: ErrorKind) -> Self {
        PErr::expected(input.pos, "something else")
    }

    fn append(_input: In<'a>, _kind: ErrorKind, other: Self) -> Self {
        other
    }

    /// Of two failed alternatives, the one that got further explains the problem best.
    fn or(self, other: Self) -> Self {
        if other.pos > self.pos { other } else { self }
    }
}

impl<'a> nom::Input for In<'a> {
    type Item = &'a Token;
    type Iter = std::slice::Iter<'a, Token>;
    type IterIndices = std::iter::Enumerate<std::slice::Iter<'a, Token>>;

    fn input_len(&self) -> usize {
        self.end - self.pos
    }

    fn take(&self, index: usize) -> Self {
        In {
            end: self.pos + index,
            ..*self
        }
    }

    fn take_from(&self, index: usize) -> Self {
        In {
            pos: self.pos + index,
            ..*self
        }
    }

    fn take_split(&self, index: usize) -> (Self, Self) {
        (self.take_from(index), self.take(index))
    }

    fn position<P>(&self, predicate: P) -> Option<usize>
    where
        P: Fn(Self::Item) -> bool,
    {
        self.window().iter().position(predicate)
    }

    fn iter_elements(&self) -> Self::Iter {
        self.window().iter()
    }

    fn iter_indices(&self) -> Self::IterIndices {
        self.window().iter().enumerate()
    }

    fn slice_index(&self, count: usize) -> Result<usize, Needed> {
        if count <= self.input_len() {
            Ok(count)
        } else {
            Err(Needed::new(count - self.input_len()))
        }
    }
}

impl<'a> In<'a> {
    pub fn new(cx: &'a Cx<'a>) -> In<'a> {
        In {
            cx,
            pos: 0,
            end: cx.toks.len(),
            nl: true,
        }
    }

    fn window(&self) -> &'a [Token] {
        &self.cx.toks[self.pos..self.end]
    }

    /// The current token; the final `Eof` when past the window (never panics).
    pub fn peek(&self) -> &'a Token {
        self.peek_at(0)
    }

    pub fn peek_at(&self, n: usize) -> &'a Token {
        let toks = self.cx.toks;
        let p = self.pos + n;
        if p < self.end {
            &toks[p]
        } else {
            &toks[toks.len() - 1]
        }
    }

    pub fn at(&self, kind: TokenKind) -> bool {
        self.peek().kind == kind
    }

    pub fn at_str(&self) -> bool {
        matches!(self.peek().kind, TokenKind::StrStart { .. })
    }

    /// Moves past the current token (never past `Eof`).
    pub fn advance(self) -> In<'a> {
        if self.pos + 1 < self.end {
            In {
                pos: self.pos + 1,
                ..self
            }
        } else {
            self
        }
    }

    pub fn at_pos(self, pos: usize) -> In<'a> {
        In {
            pos: pos.min(self.end.saturating_sub(1)),
            ..self
        }
    }

    /// End offset of the last consumed token (the end of the node being built).
    pub fn prev_end(&self) -> u32 {
        if self.pos == 0 {
            0
        } else {
            self.cx.toks[self.pos - 1].span.end
        }
    }

    pub fn with_nl(self, nl: bool) -> In<'a> {
        In { nl, ..self }
    }
}
