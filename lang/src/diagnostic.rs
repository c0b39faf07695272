//! Diagnostics as data (Gleam style): every stage returns these; rendering happens elsewhere.
//!
//! A [`Code`] is stable forever once released: tools and docs refer to it. The codes of the
//! syntax stage live in [`crate::codes`]; later stages define theirs in their own crates and the
//! compiler's registry lists them all.

use std::borrow::Cow;

use crate::span::Span;

/// A stable diagnostic code such as `K0203`, with a short kebab-case name and a one-line summary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Code {
    pub id: &'static str,
    pub name: &'static str,
    pub summary: &'static str,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Severity {
    Error,
    Warning,
}

/// A message attached to a span of the user's text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Label {
    pub span: Span,
    pub message: String,
}

/// One problem found in the user's input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub code: Code,
    pub severity: Severity,
    /// One sentence, lower-case start, no trailing period (rustc style).
    pub message: String,
    /// Where the problem is, on the user's own text.
    pub primary: Label,
    /// Other places that help explain it (the earlier definition, the other end of a cycle...).
    pub secondary: Vec<Label>,
    /// Extra facts (`= note: ...`).
    pub notes: Vec<String>,
    /// What to do about it: a full sentence a person can act on.
    pub help: Option<String>,
}

impl Diagnostic {
    pub fn error(code: Code, message: impl Into<String>, span: Span, label: impl Into<String>) -> Self {
        Diagnostic {
            code,
            severity: Severity::Error,
            message: clip_owned(message.into()),
            primary: Label {
                span,
                message: clip_owned(label.into()),
            },
            secondary: Vec::new(),
            notes: Vec::new(),
            help: None,
        }
    }

    pub fn warning(code: Code, message: impl Into<String>, span: Span, label: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(code, message, span, label)
        }
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(clip_owned(help.into()));
        self
    }

    pub fn with_label(mut self, span: Span, message: impl Into<String>) -> Self {
        self.secondary.push(Label {
            span,
            message: clip_owned(message.into()),
        });
        self
    }

    pub fn with_note(mut self, note: impl Into<String>) -> Self {
        self.notes.push(clip_owned(note.into()));
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// Longest text of one part of a diagnostic (its message, a label, a note, the help), in bytes.
/// Diagnostics quote names and values of the user's spec, which may be megabytes long (or hold
/// a secret the user pasted); the constructors and the renderer clip every part to this, so no
/// diagnostic ever echoes more than a few kilobytes.
pub const MAX_TEXT_BYTES: usize = 2_000;

/// Longest name or value quoted in a message by [`quote`], in characters.
pub const MAX_QUOTE_CHARS: usize = 80;

/// `text` cut to at most `max` bytes on a character boundary, with `…` and the full length
/// appended when it was cut.
pub fn clip(text: &str, max: usize) -> Cow<'_, str> {
    if text.len() <= max {
        return Cow::Borrowed(text);
    }
    let mut cut = max;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    Cow::Owned(format!("{}… ({} bytes in all)", &text[..cut], text.len()))
}

fn clip_owned(text: String) -> String {
    match clip(&text, MAX_TEXT_BYTES) {
        Cow::Borrowed(_) => text,
        Cow::Owned(cut) => cut,
    }
}

/// A user's name or value as a message quotes it: whole when short, else its first
/// [`MAX_QUOTE_CHARS`] characters and `…`. Cut on a character boundary.
pub fn quote(text: &str) -> Cow<'_, str> {
    match text.char_indices().nth(MAX_QUOTE_CHARS) {
        None => Cow::Borrowed(text),
        Some((cut, _)) => Cow::Owned(format!("{}…", &text[..cut])),
    }
}

/// Picks the candidate closest to `name` for a "did you mean" help line, if any is close enough.
pub fn did_you_mean<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let mut best: Option<(usize, &str)> = None;
    let name_chars = name.chars().count();
    for candidate in candidates {
        let candidate_chars = candidate.chars().count();
        // Allow about one edit per three characters, at least one.
        let limit = (name_chars.max(candidate_chars) / 3).max(1);
        // The distance is at least the difference in length: skip the quadratic comparison.
        if name_chars.abs_diff(candidate_chars) > limit {
            continue;
        }
        let distance = edit_distance(name, candidate);
        if distance <= limit && best.is_none_or(|(d, c)| distance < d || (distance == d && candidate < c)) {
            best = Some((distance, candidate));
        }
    }
    best.map(|(_, c)| c)
}

/// Optimal-string-alignment distance (Levenshtein plus adjacent transposition: `memroy` -> `memory` is 1).
pub fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut prev2: Vec<usize> = vec![0; b.len() + 1];
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for i in 1..=a.len() {
        let mut cur = vec![i; b.len() + 1];
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            cur[j] = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                cur[j] = cur[j].min(prev2[j - 2] + 1);
            }
        }
        prev2 = std::mem::replace(&mut prev, cur);
    }
    prev[b.len()]
}

/// How many syntax diagnostics one file reports before [`crate::codes::TOO_MANY_ERRORS`].
pub const MAX_SYNTAX_DIAGNOSTICS: usize = 50;

/// Collects the diagnostics of one file's lexing and parsing, keeping at most
/// [`MAX_SYNTAX_DIAGNOSTICS`] and then one K0009, so a garbage file cannot flood the user (or
/// memory) with millions of errors.
#[derive(Debug, Default)]
pub(crate) struct Sink {
    pub(crate) diagnostics: Vec<Diagnostic>,
    seen: usize,
}

impl Sink {
    pub(crate) fn push(&mut self, diagnostic: Diagnostic) {
        self.seen += 1;
        if self.seen <= MAX_SYNTAX_DIAGNOSTICS {
            self.diagnostics.push(diagnostic);
        } else if self.seen == MAX_SYNTAX_DIAGNOSTICS + 1 {
            self.diagnostics.push(
                Diagnostic::error(
                    crate::codes::TOO_MANY_ERRORS,
                    format!("too many syntax errors; only the first {MAX_SYNTAX_DIAGNOSTICS} are reported"),
                    diagnostic.primary.span,
                    "more errors from here on",
                )
                .with_help("fix the errors above and run again"),
            );
        }
    }

    /// True once the cap is reached: callers may skip building messages nobody will see.
    pub(crate) fn is_full(&self) -> bool {
        self.seen > MAX_SYNTAX_DIAGNOSTICS
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_transposition() {
        assert_eq!(did_you_mean("memroy", ["memory", "image", "cpu"]), Some("memory"));
    }

    #[test]
    fn clip_and_quote_cut_on_character_boundaries() {
        let long = "é".repeat(3000);
        let clipped = clip(&long, MAX_TEXT_BYTES);
        assert!(clipped.len() < MAX_TEXT_BYTES + 40, "{}", clipped.len());
        assert!(clipped.ends_with("… (6000 bytes in all)"), "{clipped}");
        assert!(!clipped.contains('\u{fffd}'));
        assert_eq!(clip("short", 10), "short");
        let quoted = quote(&long);
        assert_eq!(quoted.chars().count(), MAX_QUOTE_CHARS + 1);
        assert!(quoted.ends_with('…'));
        assert_eq!(quote("name"), "name");
        let d = Diagnostic::error(
            crate::codes::UNEXPECTED_TOKEN,
            long.clone(),
            Span::default(),
            long.clone(),
        )
        .with_help(long.clone())
        .with_note(long.clone())
        .with_label(Span::default(), long);
        for part in [
            &d.message,
            &d.primary.message,
            d.help.as_ref().unwrap(),
            &d.notes[0],
            &d.secondary[0].message,
        ] {
            assert!(part.len() < MAX_TEXT_BYTES + 40, "{}", part.len());
        }
    }

    #[test]
    fn no_suggestion_when_far() {
        assert_eq!(did_you_mean("zzz", ["memory", "image"]), None);
    }
}
