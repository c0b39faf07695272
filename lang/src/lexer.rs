//! Lexer: source text -> tokens, comments (trivia) and lexical diagnostics.
//!
//! The lexer is a single forward pass with a small mode stack instead of recursion, so string
//! interpolation can nest (`"a ${ f("b ${c}") } d"`) to any depth without touching the call
//! stack. A string is emitted as `StrStart (Text | InterpStart tokens.. InterpEnd)* StrEnd`;
//! the lexer always closes what it opened (synthesising zero-width closers at end of file), so the
//! parser can rely on the pairs being balanced.
//!
//! Comments are not tokens: they go to [`Lexed::comments`] so the parser never has to skip them
//! and the formatter can put them back. Each token records whether a newline precedes it
//! ([`Token::newline_before`]), which is all the parser needs for kiln's newline rules.
//!
//! Multi-line strings (`"""`): the first newline after the opening quotes is dropped; the
//! indentation removed from every line is the smallest number of leading spaces over the lines
//! that contain a non-space character, plus the closing line when it holds only spaces before the
//! closing `"""`. Indentation is measured on the raw text (before escapes are decoded), so an
//! escape such as `\u{20}` at the start of a line is content, not indentation. `\r\n` inside
//! multi-line strings becomes `\n`.
//!
//! A tab in code is K0003 once per file (then treated as a space: `kiln fmt` fixes them all);
//! tabs inside strings and comments are content, not indentation, and are not reported.
//!
//! Errors never stop the lexer: a bad character or number becomes an [`TokenKind::Error`] token
//! (already reported, so the parser stays quiet about it) and lexing goes on.

use crate::ast::{Comment, UnitKind};
use crate::codes;
use crate::diagnostic::{Diagnostic, Sink};
use crate::span::{FileId, Span};

/// What a token is. Literal payloads are decoded here once; identifier text is read from the
/// source through the span (no allocation per identifier).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum TokenKind {
    Ident,
    // Keywords.
    Import,
    As,
    Let,
    Type,
    Fn,
    If,
    Then,
    Else,
    For,
    In,
    With,
    Match,
    True,
    False,
    // Literals.
    Int(i64),
    Float(f64),
    /// `16Gi`, `30s`, `10%`: the text is the token's source text.
    Unit(UnitKind),
    /// Opening `"` or `"""`.
    StrStart {
        multiline: bool,
    },
    /// Literal text inside a string: an index into [`Lexed::texts`], which holds it with
    /// escapes decoded (and dedented for `"""`). Kept out of line so a token stays 32 bytes.
    Text(u32),
    /// `${` inside a string.
    InterpStart,
    /// The `}` closing an interpolation.
    InterpEnd,
    /// Closing `"` or `"""` (zero-width when the string is unterminated).
    StrEnd,
    /// `/.../`, only lexed right after `(` (type refinements); the pattern is the text between
    /// the slashes.
    Regex,
    // Punctuation.
    LBrace,
    RBrace,
    LBracket,
    RBracket,
    LParen,
    RParen,
    Comma,
    Semi,
    Dot,
    Eq,
    Colon,
    Question,
    Pipe,
    Arrow,
    FatArrow,
    DotDot,
    Plus,
    Minus,
    Star,
    Slash,
    EqEq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    AndAnd,
    OrOr,
    Bang,
    At,
    /// Malformed input that has already been reported.
    Error,
    /// End of file (always the last token).
    Eof,
}

impl TokenKind {
    /// How the token is named in "expected ..., found ..." messages.
    pub fn describe(&self) -> &'static str {
        use TokenKind::*;
        match self {
            Ident => "a name",
            Import => "`import`",
            As => "`as`",
            Let => "`let`",
            Type => "`type`",
            Fn => "`fn`",
            If => "`if`",
            Then => "`then`",
            Else => "`else`",
            For => "`for`",
            In => "`in`",
            With => "`with`",
            Match => "`match`",
            True => "`true`",
            False => "`false`",
            Int(_) => "an integer",
            Float(_) => "a number",
            Unit(_) => "a unit literal",
            StrStart { .. } => "a string",
            Text(_) => "string text",
            InterpStart => "`${`",
            InterpEnd => "`}`",
            StrEnd => "the end of the string",
            Regex => "a regular expression",
            LBrace => "`{`",
            RBrace => "`}`",
            LBracket => "`[`",
            RBracket => "`]`",
            LParen => "`(`",
            RParen => "`)`",
            Comma => "`,`",
            Semi => "`;`",
            Dot => "`.`",
            Eq => "`=`",
            Colon => "`:`",
            Question => "`?`",
            Pipe => "`|`",
            Arrow => "`->`",
            FatArrow => "`=>`",
            DotDot => "`..`",
            Plus => "`+`",
            Minus => "`-`",
            Star => "`*`",
            Slash => "`/`",
            EqEq => "`==`",
            Ne => "`!=`",
            Lt => "`<`",
            Le => "`<=`",
            Gt => "`>`",
            Ge => "`>=`",
            AndAnd => "`&&`",
            OrOr => "`||`",
            Bang => "`!`",
            At => "`@`",
            Error => "invalid input",
            Eof => "end of file",
        }
    }

    /// The keyword spelled by `text`, if any.
    pub fn keyword(text: &str) -> Option<TokenKind> {
        use TokenKind::*;
        Some(match text {
            "import" => Import,
            "as" => As,
            "let" => Let,
            "type" => Type,
            "fn" => Fn,
            "if" => If,
            "then" => Then,
            "else" => Else,
            "for" => For,
            "in" => In,
            "with" => With,
            "match" => Match,
            "true" => True,
            "false" => False,
            _ => return None,
        })
    }

    pub fn is_keyword(&self) -> bool {
        use TokenKind::*;
        matches!(
            self,
            Import | As | Let | Type | Fn | If | Then | Else | For | In | With | Match | True | False
        )
    }

    /// Tokens that open a bracketed region (for skipping balanced input during recovery).
    pub fn is_opener(&self) -> bool {
        matches!(
            self,
            TokenKind::LBrace
                | TokenKind::LBracket
                | TokenKind::LParen
                | TokenKind::InterpStart
                | TokenKind::StrStart { .. }
        )
    }

    pub fn is_closer(&self) -> bool {
        matches!(
            self,
            TokenKind::RBrace
                | TokenKind::RBracket
                | TokenKind::RParen
                | TokenKind::InterpEnd
                | TokenKind::StrEnd
        )
    }
}

/// One token. `newline_before` is true when a line break (possibly with comments) separates it
/// from the previous token, and for the first token of the file.
#[derive(Debug, Clone, PartialEq)]
pub struct Token {
    pub kind: TokenKind,
    pub span: Span,
    pub newline_before: bool,
}

/// The lexer's output. `tokens` always ends with [`TokenKind::Eof`].
#[derive(Debug, Clone)]
pub struct Lexed {
    pub tokens: Vec<Token>,
    /// The decoded text of each [`TokenKind::Text`] token, by index.
    pub texts: Vec<String>,
    pub comments: Vec<Comment>,
    pub diagnostics: Vec<Diagnostic>,
}

/// Lexes a whole file. Never panics.
pub fn lex(file: FileId, source: &str) -> Lexed {
    let (lexed, sink) = lex_into_sink(file, source);
    Lexed {
        diagnostics: sink.diagnostics,
        ..lexed
    }
}

/// Like [`lex`] but hands back the capped sink so the parser keeps counting towards the same cap.
pub(crate) fn lex_into_sink(file: FileId, source: &str) -> (Lexed, Sink) {
    let mut lexer = Lexer {
        src: source,
        bytes: source.as_bytes(),
        pos: 0,
        file,
        tokens: Vec::with_capacity(source.len() / 4 + 1),
        texts: Vec::new(),
        comments: Vec::new(),
        sink: Sink::default(),
        newline_before: true,
        token_on_line: false,
        modes: Vec::new(),
        tab_reported: false,
        next_newline: 0,
        next_close_braces: 0,
    };
    lexer.run();
    let lexed = Lexed {
        tokens: lexer.tokens,
        texts: lexer.texts,
        comments: lexer.comments,
        diagnostics: Vec::new(),
    };
    (lexed, lexer.sink)
}

/// Where the lexer is: inside an interpolation (code, counting braces so the right `}` ends it)
/// or inside string text. The bottom of the stack (empty) is plain code.
enum Mode {
    Interp {
        depth: u32,
    },
    Str {
        multiline: bool,
        open: Span,
        /// `"""` only: indices of this string's `Text` tokens, decoded when the string closes
        /// (dedenting needs every line first).
        segments: Vec<usize>,
    },
}

struct Lexer<'s> {
    src: &'s str,
    bytes: &'s [u8],
    pos: usize,
    file: FileId,
    tokens: Vec<Token>,
    texts: Vec<String>,
    comments: Vec<Comment>,
    sink: Sink,
    newline_before: bool,
    /// A token was emitted on the current line (so a `##` here is a trailing comment, not a doc).
    token_on_line: bool,
    modes: Vec<Mode>,
    tab_reported: bool,
    /// Caches for forward searches, so a pathological line (100k `{{`) stays linear.
    next_newline: usize,
    next_close_braces: usize,
}

const QUANTITY_SUFFIXES: &[&str] = &[
    "m", "k", "M", "G", "T", "P", "E", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei",
];
const DURATION_SUFFIXES: &[&str] = &["ms", "s", "min", "h", "d"];

impl<'s> Lexer<'s> {
    fn span(&self, start: usize, end: usize) -> Span {
        Span::new(self.file, start, end)
    }

    fn peek_byte(&self, offset: usize) -> Option<u8> {
        self.bytes.get(self.pos + offset).copied()
    }

    fn push(&mut self, kind: TokenKind, start: usize, end: usize) {
        self.tokens.push(Token {
            kind,
            span: Span::new(self.file, start, end),
            newline_before: self.newline_before,
        });
        self.newline_before = false;
        // Separators alone do not make a `##` after them trailing: the formatter drops a
        // leading `,` and would otherwise turn such a comment into a doc comment.
        self.token_on_line |= !matches!(kind, TokenKind::Comma | TokenKind::Semi);
    }

    fn run(&mut self) {
        while self.pos < self.bytes.len() {
            if matches!(self.modes.last(), Some(Mode::Str { .. })) {
                self.string_part();
            } else {
                self.code_token();
            }
        }
        self.close_at_eof();
        let end = self.bytes.len();
        self.newline_before = true;
        self.push(TokenKind::Eof, end, end);
    }

    /// Synthesises the closers of everything still open at end of file and reports the outermost
    /// unterminated string once.
    fn close_at_eof(&mut self) {
        let end = self.bytes.len();
        let mut reported = false;
        while let Some(mode) = self.modes.pop() {
            match mode {
                Mode::Interp { .. } => self.push(TokenKind::InterpEnd, end, end),
                Mode::Str {
                    multiline,
                    open,
                    segments,
                } => {
                    if !reported {
                        reported = true;
                        self.report_unterminated(open, multiline);
                    }
                    if multiline {
                        self.finish_multiline(open, segments);
                    }
                    self.push(TokenKind::StrEnd, end, end);
                }
            }
        }
    }

    fn report_unterminated(&mut self, open: Span, multiline: bool) {
        let quote = if multiline { "\"\"\"" } else { "\"" };
        self.sink.push(
            Diagnostic::error(
                codes::UNTERMINATED_STRING,
                "unterminated string",
                open,
                "this string is never closed",
            )
            .with_help(format!("add the closing `{quote}`")),
        );
    }

    // ----- code -----

    fn code_token(&mut self) {
        let start = self.pos;
        let b = self.bytes[start];
        match b {
            b' ' | b'\r' => {
                self.pos += 1;
                while let Some(b' ' | b'\r') = self.peek_byte(0) {
                    self.pos += 1;
                }
            }
            b'\t' => {
                if !self.tab_reported {
                    self.tab_reported = true;
                    self.sink.push(
                        Diagnostic::error(
                            codes::TAB_INDENT,
                            "tab character in indentation",
                            self.span(start, start + 1),
                            "tab here",
                        )
                        .with_help("kiln indents with spaces; `kiln fmt` rewrites the file")
                        .with_note("later tabs in this file are not reported separately"),
                    );
                }
                self.pos += 1;
            }
            b'\n' => {
                self.pos += 1;
                self.newline_before = true;
                self.token_on_line = false;
            }
            b'#' => self.comment(),
            b'"' => self.string_start(),
            b'0'..=b'9' => self.number(),
            b'a'..=b'z' | b'A'..=b'Z' | b'_' => {
                let end = self.ident_end(start);
                let kind = TokenKind::keyword(&self.src[start..end]).unwrap_or(TokenKind::Ident);
                self.pos = end;
                self.push(kind, start, end);
            }
            b'{' => {
                if self.peek_byte(1) == Some(b'{') {
                    self.helm_in_code();
                } else {
                    if let Some(Mode::Interp { depth }) = self.modes.last_mut() {
                        *depth += 1;
                    }
                    self.single(TokenKind::LBrace, 1);
                }
            }
            b'}' => match self.modes.last_mut() {
                Some(Mode::Interp { depth: 0 }) => {
                    self.modes.pop();
                    self.single(TokenKind::InterpEnd, 1);
                }
                Some(Mode::Interp { depth }) => {
                    *depth -= 1;
                    self.single(TokenKind::RBrace, 1);
                }
                _ => self.single(TokenKind::RBrace, 1),
            },
            b'/' if matches!(self.tokens.last(), Some(t) if t.kind == TokenKind::LParen) => self.regex(),
            _ => {
                if let Some((kind, len)) = self.punct() {
                    self.single(kind, len);
                } else {
                    self.unknown_chars();
                }
            }
        }
    }

    fn single(&mut self, kind: TokenKind, len: usize) {
        let start = self.pos;
        self.pos += len;
        self.push(kind, start, start + len);
    }

    fn punct(&self) -> Option<(TokenKind, usize)> {
        use TokenKind::*;
        let b = self.bytes[self.pos];
        let next = self.peek_byte(1);
        let two = |kind: TokenKind| Some((kind, 2));
        match (b, next) {
            (b'-', Some(b'>')) => two(Arrow),
            (b'=', Some(b'>')) => two(FatArrow),
            (b'=', Some(b'=')) => two(EqEq),
            (b'!', Some(b'=')) => two(Ne),
            (b'<', Some(b'=')) => two(Le),
            (b'>', Some(b'=')) => two(Ge),
            (b'&', Some(b'&')) => two(AndAnd),
            (b'|', Some(b'|')) => two(OrOr),
            (b'.', Some(b'.')) => two(DotDot),
            _ => {
                let kind = match b {
                    b'[' => LBracket,
                    b']' => RBracket,
                    b'(' => LParen,
                    b')' => RParen,
                    b',' => Comma,
                    b';' => Semi,
                    b'.' => Dot,
                    b'=' => Eq,
                    b':' => Colon,
                    b'?' => Question,
                    b'|' => Pipe,
                    b'+' => Plus,
                    b'-' => Minus,
                    b'*' => Star,
                    b'/' => Slash,
                    b'<' => Lt,
                    b'>' => Gt,
                    b'!' => Bang,
                    b'@' => At,
                    _ => return None,
                };
                Some((kind, 1))
            }
        }
    }

    fn ident_end(&self, start: usize) -> usize {
        let mut end = start;
        while end < self.bytes.len() && (self.bytes[end].is_ascii_alphanumeric() || self.bytes[end] == b'_') {
            end += 1;
        }
        end
    }

    /// End of the current line (cached: one scan per line even when asked many times).
    fn line_end(&mut self, from: usize) -> usize {
        if self.next_newline < from || (self.next_newline == 0 && from == 0) {
            self.next_newline = self.src[from..].find('\n').map_or(self.bytes.len(), |i| from + i);
        }
        self.next_newline
    }

    fn comment(&mut self) {
        let start = self.pos;
        let doc = self.peek_byte(1) == Some(b'#') && !self.token_on_line;
        let text_start = if doc { start + 2 } else { start + 1 };
        let end = self.line_end(start);
        let text = self.src[text_start..end].trim_end();
        self.comments.push(Comment {
            text: text.to_string(),
            doc,
            span: self.span(start, text_start + text.len()),
        });
        self.pos = end;
    }

    /// `{{ ... }}` in code: Helm/Go template habit. One error and one `Error` token for the
    /// whole template (up to `}}` on the same line) so the parser does not pile on.
    fn helm_in_code(&mut self) {
        let start = self.pos;
        let line_end = self.line_end(start);
        if self.next_close_braces < start + 2 {
            self.next_close_braces = self.src[start + 2..]
                .find("}}")
                .map_or(usize::MAX, |i| start + 2 + i);
        }
        let end = if self.next_close_braces < line_end {
            self.next_close_braces + 2
        } else {
            start + 2
        };
        self.sink.push(
            Diagnostic::error(
                codes::HELM_TEMPLATE,
                "template syntax `{{ ... }}` is not kiln",
                self.span(start, end),
                "Helm/Go template",
            )
            .with_help("kiln has no text templating: write the value directly, or interpolate inside a string with \"${...}\""),
        );
        self.pos = end;
        self.push(TokenKind::Error, start, end);
    }

    fn regex(&mut self) {
        let start = self.pos;
        let line_end = self.line_end(start);
        let mut p = start + 1;
        while p < line_end {
            match self.bytes[p] {
                b'\\' => p += 2,
                b'/' => break,
                _ => p += 1,
            }
        }
        if p < line_end {
            self.pos = p + 1;
            self.push(TokenKind::Regex, start, p + 1);
        } else {
            self.sink.push(
                Diagnostic::error(
                    codes::UNTERMINATED_STRING,
                    "unterminated regular expression",
                    self.span(start, start + 1),
                    "this `/` is never closed on its line",
                )
                .with_help("close the pattern with `/`, as in `String(/^[a-z]+$/)`"),
            );
            self.pos = line_end;
            self.push(TokenKind::Error, start, line_end);
        }
    }

    fn unknown_chars(&mut self) {
        let start = self.pos;
        // One diagnostic for a run of unknown characters (`µµ`, a pasted emoji...).
        let starts_token = |c: char| {
            c.is_ascii() && (c.is_ascii_alphanumeric() || " \t\r\n#\"{}_[](),;.=:?|+-*/<>!@".contains(c))
        };
        let mut chars = self.src[start..].chars();
        let first = chars.next();
        let mut end = start + first.map_or(1, char::len_utf8);
        if first == Some('\'') {
            // A single-quoted string: one error for all of it.
            let line_end = self.line_end(start);
            if let Some(close) = self.src[start + 1..line_end].find('\'') {
                end = start + 1 + close + 1;
            }
        } else {
            for c in chars {
                if starts_token(c) || c == '&' || c == '\'' {
                    break;
                }
                end += c.len_utf8();
            }
        }
        let c = first.unwrap_or('\u{fffd}');
        let help = match c {
            '\'' => Some("kiln strings use double quotes: \"...\""),
            '\u{201c}' | '\u{201d}' | '\u{2018}' | '\u{2019}' => Some("use a straight double quote `\"`"),
            '\u{a0}' | '\u{2000}'..='\u{200b}' | '\u{3000}' => {
                Some("this is a non-breaking or special space; replace it with an ordinary space")
            }
            '$' => Some("`${...}` interpolates only inside a string: \"${name}\""),
            '&' => Some("the logical operators are `&&` and `||`"),
            '\\' => Some("a backslash only starts an escape inside a string"),
            _ => None,
        };
        let shown = if c.is_control() || c.is_whitespace() {
            format!("U+{:04X}", u32::from(c))
        } else {
            format!("`{c}`")
        };
        let mut d = Diagnostic::error(
            codes::UNKNOWN_CHARACTER,
            format!("unknown character {shown}"),
            self.span(start, end),
            "not part of kiln's syntax",
        );
        if let Some(help) = help {
            d = d.with_help(help);
        }
        self.sink.push(d);
        self.pos = end;
        self.push(TokenKind::Error, start, end);
    }

    // ----- numbers -----

    fn digits(&mut self) {
        while let Some(b'0'..=b'9' | b'_') = self.peek_byte(0) {
            self.pos += 1;
        }
    }

    fn number(&mut self) {
        let start = self.pos;
        self.digits();
        let mut is_float = false;
        if self.peek_byte(0) == Some(b'.') && matches!(self.peek_byte(1), Some(b'0'..=b'9')) {
            self.pos += 1;
            self.digits();
            is_float = true;
        }
        let mut exponent = false;
        if let Some(b'e' | b'E') = self.peek_byte(0) {
            let digit_at = |o: usize| matches!(self.peek_byte(o), Some(b'0'..=b'9'));
            let sign = matches!(self.peek_byte(1), Some(b'+' | b'-'));
            if digit_at(1) || (sign && digit_at(2)) {
                self.pos += if sign { 2 } else { 1 };
                self.digits();
                exponent = true;
            }
        }
        let num_end = self.pos;
        // Most numbers have no `_`: parse the source slice without allocating.
        let raw = &self.src[start..num_end];
        let cleaned;
        let number = if raw.contains('_') {
            cleaned = raw.replace('_', "");
            cleaned.as_str()
        } else {
            raw
        };

        // A suffix directly after the number: a unit, or a mistake.
        let suffix_end = match self.peek_byte(0) {
            Some(b'%') => num_end + 1,
            Some(b) if b.is_ascii_alphabetic() || b == b'_' => self.ident_end(num_end),
            _ => num_end,
        };
        if suffix_end > num_end {
            let suffix = &self.src[num_end..suffix_end];
            self.pos = suffix_end;
            let unit = if suffix == "%" {
                Some(UnitKind::Percent)
            } else if QUANTITY_SUFFIXES.contains(&suffix) {
                Some(UnitKind::Quantity)
            } else if DURATION_SUFFIXES.contains(&suffix) {
                Some(UnitKind::Duration)
            } else {
                None
            };
            match unit {
                Some(unit) if !exponent => self.push(TokenKind::Unit(unit), start, suffix_end),
                Some(_) => self.bad_number(
                    start,
                    suffix_end,
                    "a unit suffix cannot follow an exponent",
                    format!("write the number without an exponent, as in `1500{suffix}`"),
                ),
                None => {
                    let help = suffix_help(&self.src[start..num_end], suffix);
                    self.bad_number(
                        start,
                        suffix_end,
                        &format!("invalid unit suffix `{suffix}`"),
                        help,
                    );
                }
            }
            return;
        }

        if is_float || exponent {
            match number.parse::<f64>() {
                Ok(v) if v.is_finite() => self.push(TokenKind::Float(v), start, num_end),
                _ => self.bad_number(
                    start,
                    num_end,
                    "number out of range",
                    "use a smaller number".into(),
                ),
            }
        } else {
            match number.parse::<i64>() {
                Ok(v) => self.push(TokenKind::Int(v), start, num_end),
                Err(_) => self.bad_number(
                    start,
                    num_end,
                    "integer literal out of range",
                    format!("integers are 64-bit: at most {}", i64::MAX),
                ),
            }
        }
    }

    fn bad_number(&mut self, start: usize, end: usize, message: &str, help: String) {
        self.sink.push(
            Diagnostic::error(
                codes::INVALID_NUMBER,
                message,
                self.span(start, end),
                "invalid number",
            )
            .with_help(help),
        );
        self.push(TokenKind::Error, start, end);
    }

    // ----- strings -----

    fn string_start(&mut self) {
        let start = self.pos;
        let multiline = self.src[start..].starts_with("\"\"\"");
        let len = if multiline { 3 } else { 1 };
        self.pos += len;
        self.push(TokenKind::StrStart { multiline }, start, start + len);
        self.modes.push(Mode::Str {
            multiline,
            open: self.span(start, start + len),
            segments: Vec::new(),
        });
    }

    /// Lexes string text up to the next interpolation, the closing quote, or the end of the line
    /// (single-line strings) / file.
    fn string_part(&mut self) {
        let Some(Mode::Str { multiline, open, .. }) = self.modes.last() else {
            return;
        };
        let (multiline, open) = (*multiline, *open);
        let seg_start = self.pos;
        // Single-line strings decode as they go; `"""` strings decode at the end (dedent).
        let mut text = String::new();
        loop {
            let p = self.pos;
            let Some(&b) = self.bytes.get(p) else {
                // End of file: `close_at_eof` reports it.
                self.flush_text(seg_start, text, multiline);
                return;
            };
            match b {
                b'"' if !multiline || self.src[p..].starts_with("\"\"\"") => {
                    self.flush_text(seg_start, text, multiline);
                    self.end_string(p, if multiline { 3 } else { 1 });
                    return;
                }
                b'\n' if !multiline => {
                    self.flush_text(seg_start, text, multiline);
                    self.report_unterminated(open, false);
                    self.end_string(p, 0);
                    return;
                }
                b'\r' if !multiline && self.peek_byte(1) == Some(b'\n') => {
                    self.flush_text(seg_start, text, multiline);
                    self.report_unterminated(open, false);
                    self.end_string(p, 0);
                    return;
                }
                b'$' if self.peek_byte(1) == Some(b'{') => {
                    self.flush_text(seg_start, text, multiline);
                    self.pos = p + 2;
                    self.push(TokenKind::InterpStart, p, p + 2);
                    self.modes.push(Mode::Interp { depth: 0 });
                    return;
                }
                b'\\' => {
                    if multiline {
                        // Raw scan only; decoded in `finish_multiline`.
                        self.pos = p + 1 + self.src[p + 1..].chars().next().map_or(0, char::len_utf8);
                    } else {
                        self.pos = decode_escape(self.src, p, self.file, &mut text, &mut self.sink);
                    }
                }
                b'{' if self.peek_byte(1) == Some(b'{') => {
                    self.sink.push(
                        Diagnostic::warning(
                            codes::HELM_TEMPLATE,
                            "`{{` in a string looks like a Helm/Go template",
                            self.span(p, p + 2),
                            "kept literally",
                        )
                        .with_help("kiln interpolates with \"${name}\"; the `{{` text is kept as is"),
                    );
                    text.push_str("{{");
                    self.pos = p + 2;
                }
                _ => {
                    // A run of plain text in one copy (UTF-8 continuation bytes are never special).
                    let run = self.bytes[p..]
                        .iter()
                        .position(|&b| matches!(b, b'"' | b'\n' | b'\r' | b'$' | b'\\' | b'{'))
                        .map_or(self.bytes.len(), |n| p + n)
                        .max(p + 1);
                    let run = (run..=self.bytes.len())
                        .find(|&e| self.src.is_char_boundary(e))
                        .unwrap_or(run);
                    if !multiline {
                        text.push_str(&self.src[p..run]);
                    }
                    self.pos = run;
                }
            }
        }
    }

    fn flush_text(&mut self, start: usize, text: String, multiline: bool) {
        let end = self.pos;
        if end == start {
            return;
        }
        let index = self.texts.len() as u32;
        self.texts.push(if multiline { String::new() } else { text });
        self.push(TokenKind::Text(index), start, end);
        if multiline {
            let index = self.tokens.len() - 1;
            if let Some(Mode::Str { segments, .. }) = self.modes.last_mut() {
                segments.push(index);
            }
        }
    }

    fn end_string(&mut self, at: usize, len: usize) {
        if let Some(Mode::Str {
            multiline: true,
            open,
            segments,
        }) = self.modes.pop()
        {
            self.finish_multiline(open, segments);
        }
        self.pos = at + len;
        self.push(TokenKind::StrEnd, at, at + len);
    }

    /// Dedents and decodes the text segments of a `"""` string (see the module doc for the rule).
    fn finish_multiline(&mut self, open: Span, segments: Vec<usize>) {
        let content_start = open.end as usize;
        let segs: Vec<(usize, usize, usize)> = segments
            .iter()
            .map(|&t| {
                (
                    t,
                    self.tokens[t].span.start as usize,
                    self.tokens[t].span.end as usize,
                )
            })
            .collect();
        let bytes = self.bytes;
        let src = self.src;
        // The first newline right after the opening quotes is dropped.
        let mut first_start = content_start;
        let mut starts_on_new_line = false;
        if let Some(&(_, s, _)) = segs.first()
            && s == content_start
        {
            if bytes[s..].starts_with(b"\r\n") {
                first_start = s + 2;
                starts_on_new_line = true;
            } else if bytes[s..].starts_with(b"\n") {
                first_start = s + 1;
                starts_on_new_line = true;
            }
        }

        // Pass 1: the common indentation.
        let mut indent = usize::MAX;
        for (k, &(_, s, e)) in segs.iter().enumerate() {
            let s = if k == 0 { first_start } else { s };
            let mut line_start = if k == 0 && starts_on_new_line {
                Some(s)
            } else {
                None
            };
            let mut p = s;
            loop {
                if let Some(ls) = line_start.take() {
                    let mut q = ls;
                    while q < e && bytes[q] == b' ' {
                        q += 1;
                    }
                    let counts = if q < e {
                        bytes[q] != b'\n' && !(bytes[q] == b'\r' && bytes.get(q + 1) == Some(&b'\n'))
                    } else {
                        // Ends at the segment end: an interpolation follows (content), or the
                        // closing quotes do (the closing line counts too).
                        true
                    };
                    if counts {
                        indent = indent.min(q - ls);
                    }
                }
                match bytes[p..e].iter().position(|&b| b == b'\n') {
                    Some(i) => {
                        p += i + 1;
                        line_start = Some(p);
                    }
                    None => break,
                }
            }
        }
        if indent == usize::MAX {
            indent = 0;
        }

        // Pass 2: decode each segment, dropping `indent` spaces at each line start.
        for (k, &(token, s, e)) in segs.iter().enumerate() {
            let s = if k == 0 { first_start } else { s };
            let mut out = String::new();
            let mut p = s;
            let mut at_line_start = k == 0 && starts_on_new_line;
            while p < e {
                if at_line_start {
                    at_line_start = false;
                    let mut n = 0;
                    while n < indent && p < e && bytes[p] == b' ' {
                        p += 1;
                        n += 1;
                    }
                    continue;
                }
                match bytes[p] {
                    b'\r' if bytes.get(p + 1) == Some(&b'\n') => {
                        out.push('\n');
                        p += 2;
                        at_line_start = true;
                    }
                    b'\n' => {
                        out.push('\n');
                        p += 1;
                        at_line_start = true;
                    }
                    b'\\' => p = decode_escape(&src[..e], p, self.file, &mut out, &mut self.sink),
                    _ => {
                        let c = src[p..].chars().next().unwrap_or('\u{fffd}');
                        out.push(c);
                        p += c.len_utf8();
                    }
                }
            }
            if let TokenKind::Text(index) = self.tokens[token].kind {
                self.texts[index as usize] = out;
            }
        }
    }
}

/// Decodes the escape starting at `src[p] == '\\'` into `out`; returns the position after it.
/// Unknown escapes are K0011 and kept literally.
fn decode_escape(src: &str, p: usize, file: FileId, out: &mut String, sink: &mut Sink) -> usize {
    let bytes = src.as_bytes();
    let Some(&next) = bytes.get(p + 1) else {
        out.push('\\');
        return p + 1;
    };
    let simple = match next {
        b'"' => Some('"'),
        b'\\' => Some('\\'),
        b'n' => Some('\n'),
        b't' => Some('\t'),
        b'r' => Some('\r'),
        b'$' => Some('$'),
        _ => None,
    };
    if let Some(c) = simple {
        out.push(c);
        return p + 2;
    }
    if next == b'u' && bytes.get(p + 2) == Some(&b'{') {
        let digits_start = p + 3;
        let mut q = digits_start;
        while q < bytes.len() && q < digits_start + 7 && bytes[q].is_ascii_hexdigit() {
            q += 1;
        }
        if bytes.get(q) == Some(&b'}')
            && q > digits_start
            && q - digits_start <= 6
            && let Some(c) = u32::from_str_radix(&src[digits_start..q], 16)
                .ok()
                .and_then(char::from_u32)
        {
            out.push(c);
            return q + 1;
        }
        let end = if bytes.get(q) == Some(&b'}') { q + 1 } else { q };
        sink.push(
            Diagnostic::error(
                codes::INVALID_ESCAPE,
                "invalid unicode escape",
                Span::new(file, p, end),
                "not a valid `\\u{...}` escape",
            )
            .with_help("write 1 to 6 hex digits naming a Unicode scalar value, as in `\\u{e9}`"),
        );
        out.push_str(&src[p..end]);
        return end;
    }
    let c = src[p + 1..].chars().next().unwrap_or('\u{fffd}');
    let end = p + 1 + c.len_utf8();
    sink.push(
        Diagnostic::error(
            codes::INVALID_ESCAPE,
            format!("unknown escape `\\{c}`"),
            Span::new(file, p, end),
            "unknown escape",
        )
        .with_help("the escapes are \\\" \\\\ \\n \\t \\r \\$ and \\u{XXXX}; write `\\\\` for a backslash"),
    );
    out.push('\\');
    out.push(c);
    end
}

/// The help line for a number followed by an unknown suffix (`16gb`).
fn suffix_help(number: &str, suffix: &str) -> String {
    let lower = suffix.to_ascii_lowercase();
    let pair = |a: &str, b: &str| format!("did you mean {number}{a} or {number}{b}?");
    let one = |a: &str| format!("did you mean {number}{a}?");
    match lower.as_str() {
        "kb" | "kib" | "ki" => pair("Ki", "k"),
        "mb" | "mib" | "mi" => pair("Mi", "M"),
        "g" | "gb" | "gib" | "gi" => pair("Gi", "G"),
        "t" | "tb" | "tib" | "ti" => pair("Ti", "T"),
        "p" | "pb" | "pib" | "pi" => pair("Pi", "P"),
        "e" | "eb" | "eib" | "ei" => pair("Ei", "E"),
        "sec" | "secs" | "second" | "seconds" => one("s"),
        "mins" | "minute" | "minutes" => one("min"),
        "hr" | "hrs" | "hour" | "hours" => one("h"),
        "day" | "days" => one("d"),
        "msec" | "msecs" | "millis" => one("ms"),
        _ => "unit suffixes are Ki Mi Gi Ti Pi Ei (binary), m k M G T P E (decimal), ms s min h d \
              (durations) and %"
            .to_string(),
    }
}
