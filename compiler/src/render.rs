//! Rendering diagnostics: for people (miette, rustc-like) and for machines (JSON).
//!
//! Diagnostics stay data until here. Human output never contains colour unless asked, so
//! snapshots are stable; the width is fixed by the caller.

use std::fmt;

use kiln_lang::diagnostic::{MAX_TEXT_BYTES, clip};
use kiln_lang::{Diagnostic, Severity, Span};
use miette::{GraphicalReportHandler, GraphicalTheme, LabeledSpan, SourceCode};
use serde::Serialize;

use crate::source::SourceMap;

/// Options for human-readable output.
#[derive(Debug, Clone, Copy)]
pub struct HumanStyle {
    pub width: usize,
    pub color: bool,
}

impl Default for HumanStyle {
    fn default() -> Self {
        HumanStyle {
            width: 100,
            color: false,
        }
    }
}

/// Renders diagnostics without colour at a fixed width (used by tests and non-terminals).
pub fn render_plain(diagnostics: &[Diagnostic], sources: &SourceMap, width: usize) -> String {
    render_human(diagnostics, sources, HumanStyle { width, color: false })
}

/// Renders diagnostics rustc-style, one after another, followed by nothing else.
pub fn render_human(diagnostics: &[Diagnostic], sources: &SourceMap, style: HumanStyle) -> String {
    let mut out = String::new();
    for diagnostic in diagnostics {
        let mut theme = if style.color {
            GraphicalTheme::unicode()
        } else {
            GraphicalTheme::unicode_nocolor()
        };
        // rustc's header, `error[K0203]: message`, instead of miette's `×` marker and code line.
        theme.characters.error = format!("error[{}]:", diagnostic.code.id);
        theme.characters.warning = format!("warning[{}]:", diagnostic.code.id);
        let handler = GraphicalReportHandler::new_themed(theme)
            .with_width(style.width)
            .with_links(false)
            .with_context_lines(1);
        let report = Report::new(diagnostic, sources);
        if handler.render_report(&mut out, &report).is_err() {
            // The renderer only fails on fmt errors of a String, which cannot happen; fall back anyway.
            out.push_str(&format!(
                "{}: {}\n",
                diagnostic.code.id,
                clipped(&diagnostic.message)
            ));
        }
        out.push('\n');
    }
    out
}

/// A one-line summary such as `error: 2 errors, 1 warning` (empty when there are none).
pub fn summary(diagnostics: &[Diagnostic]) -> String {
    let errors = diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .count();
    let warnings = diagnostics.len() - errors;
    let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    match (errors, warnings) {
        (0, 0) => String::new(),
        (0, w) => format!("warning: {}", plural(w, "warning")),
        (e, 0) => format!("error: {}", plural(e, "error")),
        (e, w) => format!("error: {}, {}", plural(e, "error"), plural(w, "warning")),
    }
}

/// The machine-readable form of one diagnostic (`--format json`).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct JsonDiagnostic {
    pub code: &'static str,
    pub name: &'static str,
    pub severity: &'static str,
    pub message: String,
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub span: JsonSpan,
    pub label: String,
    pub help: Option<String>,
    pub notes: Vec<String>,
    pub related: Vec<JsonLabel>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct JsonSpan {
    pub start: usize,
    pub end: usize,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct JsonLabel {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub span: JsonSpan,
    pub message: String,
}

fn json_label(span: Span, message: &str, sources: &SourceMap) -> JsonLabel {
    let (line, column) = sources.line_col(span.file, span.start as usize);
    JsonLabel {
        file: sources.name(span.file).to_string(),
        line,
        column,
        span: JsonSpan {
            start: span.start as usize,
            end: span.end as usize,
        },
        message: clipped(message),
    }
}

/// A part of a diagnostic as it is printed: clipped (see [`MAX_TEXT_BYTES`]) even when a stage
/// built it by hand, so no rendering echoes megabytes of a spec.
fn clipped(text: &str) -> String {
    clip(text, MAX_TEXT_BYTES).into_owned()
}

pub fn to_json(diagnostic: &Diagnostic, sources: &SourceMap) -> JsonDiagnostic {
    let primary = json_label(diagnostic.primary.span, &diagnostic.primary.message, sources);
    JsonDiagnostic {
        code: diagnostic.code.id,
        name: diagnostic.code.name,
        severity: match diagnostic.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        },
        message: clipped(&diagnostic.message),
        file: primary.file,
        line: primary.line,
        column: primary.column,
        span: primary.span,
        label: primary.message,
        help: diagnostic.help.as_deref().map(clipped),
        notes: diagnostic.notes.iter().map(|n| clipped(n)).collect(),
        related: diagnostic
            .secondary
            .iter()
            .map(|l| json_label(l.span, &l.message, sources))
            .collect(),
    }
}

/// All diagnostics as one JSON document: `{"diagnostics": [...]}`.
pub fn render_json(diagnostics: &[Diagnostic], sources: &SourceMap) -> String {
    #[derive(Serialize)]
    struct Doc {
        diagnostics: Vec<JsonDiagnostic>,
    }
    let doc = Doc {
        diagnostics: diagnostics.iter().map(|d| to_json(d, sources)).collect(),
    };
    serde_json::to_string_pretty(&doc).unwrap_or_else(|_| "{\"diagnostics\":[]}".to_string())
}

/// Longest source line drawn, in characters: longer lines are cut around the label and marked
/// with `…`, so a label far to the right of a huge line renders (and renders quickly).
const MAX_LINE_CHARS: usize = 160;
/// Labels more lines than this away from the primary one are listed as notes instead.
const MAX_LABEL_DISTANCE: usize = 8;
/// Lines of a multi-line label drawn.
const MAX_LABEL_LINES: usize = 4;

/// Adapts one [`Diagnostic`] to miette. Labels in the primary file near the primary label are
/// drawn on the snippet; others become notes with their location, since a snippet shows a few
/// lines of one file.
struct Report<'a> {
    diagnostic: &'a Diagnostic,
    source: Snippet,
    labels: Vec<LabeledSpan>,
    footer: Option<String>,
}

impl<'a> Report<'a> {
    fn new(diagnostic: &'a Diagnostic, sources: &SourceMap) -> Self {
        let file = diagnostic.primary.span.file;
        let mut notes: Vec<String> = diagnostic
            .notes
            .iter()
            .map(|n| format!("note: {}", clip(n, MAX_TEXT_BYTES)))
            .collect();
        let (primary_line, _) = sources.line_at(file, diagnostic.primary.span.start as usize);
        let mut drawn = vec![(diagnostic.primary.span, diagnostic.primary.message.as_str(), true)];
        for label in &diagnostic.secondary {
            let (line, _) = sources.line_at(label.span.file, label.span.start as usize);
            if label.span.file == file && line.abs_diff(primary_line) <= MAX_LABEL_DISTANCE {
                drawn.push((label.span, label.message.as_str(), false));
            } else {
                let (line, col) = sources.line_col(label.span.file, label.span.start as usize);
                notes.push(format!(
                    "note: {} ({}:{line}:{col})",
                    clip(&label.message, MAX_TEXT_BYTES),
                    sources.name(label.span.file)
                ));
            }
        }
        let spans: Vec<Span> = drawn.iter().map(|(span, _, _)| *span).collect();
        let source = Snippet::new(sources, file, &spans);
        let labels = drawn
            .iter()
            .map(|(span, message, primary)| {
                let at = source.map_span(*span);
                if *primary {
                    LabeledSpan::new_primary_with_span(non_empty(message), at)
                } else {
                    LabeledSpan::new_with_span(non_empty(message), at)
                }
            })
            .collect();
        let footer = (!notes.is_empty()).then(|| notes.join("\n"));
        Report {
            diagnostic,
            source,
            labels,
            footer,
        }
    }
}

/// The few lines of a file one diagnostic shows, copied out (each cut to [`MAX_LINE_CHARS`]
/// around its labels), with what miette needs to print the real line and column numbers.
/// Building it costs the size of those lines, not of the file.
struct Snippet {
    name: String,
    text: String,
    /// 0-based number of the first line shown.
    first_line: usize,
    lines: Vec<SnippetLine>,
}

struct SnippetLine {
    /// Bytes of the real line that are shown.
    shown: std::ops::Range<usize>,
    /// Where the shown bytes start in `text`.
    at: usize,
    /// Characters of the real line before the shown ones (0 unless its start is cut).
    hidden_chars: usize,
}

impl Snippet {
    fn new(sources: &SourceMap, file: kiln_lang::FileId, spans: &[Span]) -> Snippet {
        let full = sources.text(file);
        let line_count = sources.line_count(file).max(1);
        let mut lo = usize::MAX;
        let mut hi = 0;
        for span in spans {
            let (start, _) = sources.line_at(file, span.start as usize);
            let (end, _) = sources.line_at(file, (span.end as usize).max(span.start as usize + 1) - 1);
            lo = lo.min(start);
            hi = hi.max(end.min(start + MAX_LABEL_LINES - 1));
        }
        let first_line = lo.saturating_sub(1);
        let last_line = (hi + 1).min(line_count - 1);
        let mut text = String::new();
        let mut lines = Vec::new();
        for line in first_line..=last_line {
            let range = sources.line_range(file, line);
            let real = &full[range.clone()];
            let (shown, prefix) = if real.len() <= MAX_LINE_CHARS {
                (range.clone(), false)
            } else {
                // Anchor the window at the first label that starts (or ends) on this line.
                let anchor = spans
                    .iter()
                    .map(|s| s.start as usize)
                    .find(|o| range.contains(o))
                    .or_else(|| spans.iter().map(|s| s.end as usize).find(|o| range.contains(o)))
                    .unwrap_or(range.start)
                    - range.start;
                let anchor = floor_boundary(real, anchor);
                let back = real[..anchor]
                    .char_indices()
                    .rev()
                    .take(MAX_LINE_CHARS / 4)
                    .last()
                    .map_or(anchor, |(i, _)| i);
                let end = real[back..]
                    .char_indices()
                    .nth(MAX_LINE_CHARS)
                    .map_or(real.len(), |(i, _)| back + i);
                (range.start + back..range.start + end, back > 0)
            };
            let hidden_chars = full[range.start..shown.start].chars().count();
            if prefix {
                text.push('…');
            }
            let at = text.len();
            text.push_str(&full[shown.clone()]);
            if shown.end < range.end {
                text.push('…');
            }
            text.push('\n');
            lines.push(SnippetLine {
                shown,
                at,
                hidden_chars,
            });
        }
        Snippet {
            name: sources.name(file).to_string(),
            text,
            first_line,
            lines,
        }
    }

    /// A real byte offset as an offset into the snippet (clamped to what is shown).
    fn map_offset(&self, offset: usize) -> usize {
        let Some(first) = self.lines.first() else { return 0 };
        if offset < first.shown.start {
            return first.at;
        }
        let i = self.lines.partition_point(|l| l.shown.start <= offset).max(1) - 1;
        let line = &self.lines[i];
        let within = offset.clamp(line.shown.start, line.shown.end) - line.shown.start;
        line.at + floor_boundary(&self.text[line.at..], within)
    }

    fn map_span(&self, span: Span) -> (usize, usize) {
        let start = self.map_offset(span.start as usize);
        let end = self.map_offset(span.end as usize).max(start);
        (start, end - start)
    }
}

fn floor_boundary(text: &str, mut offset: usize) -> usize {
    offset = offset.min(text.len());
    while offset > 0 && !text.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}

impl SourceCode for Snippet {
    fn read_span<'b>(
        &'b self,
        span: &miette::SourceSpan,
        before: usize,
        after: usize,
    ) -> Result<Box<dyn miette::SpanContents<'b> + 'b>, miette::MietteError> {
        let inner = self.text.read_span(span, before, after)?;
        let line = inner.line();
        // miette counts columns in bytes; the `file:line:col` header counts characters of the
        // real line (as the JSON form does), the cut ones included.
        let column = match self.lines.get(line) {
            Some(l) if inner.column() > 0 => {
                let offset = floor_boundary(&self.text, span.offset()).max(l.at);
                l.hidden_chars + self.text[l.at..offset].chars().count()
            }
            _ => 0,
        };
        Ok(Box::new(
            miette::MietteSpanContents::new_named(
                self.name.clone(),
                inner.data(),
                *inner.span(),
                line + self.first_line,
                column,
                inner.line_count(),
            )
            .with_language("kiln"),
        ))
    }
}

fn non_empty(message: &str) -> Option<String> {
    (!message.is_empty()).then(|| clipped(message))
}

impl fmt::Debug for Report<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", clip(&self.diagnostic.message, MAX_TEXT_BYTES))
    }
}

impl fmt::Display for Report<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", clip(&self.diagnostic.message, MAX_TEXT_BYTES))
    }
}

impl std::error::Error for Report<'_> {}

impl miette::Diagnostic for Report<'_> {
    fn severity(&self) -> Option<miette::Severity> {
        Some(match self.diagnostic.severity {
            Severity::Error => miette::Severity::Error,
            Severity::Warning => miette::Severity::Warning,
        })
    }

    fn help<'b>(&'b self) -> Option<Box<dyn fmt::Display + 'b>> {
        let help = self.diagnostic.help.as_deref().map(clipped);
        match (help, &self.footer) {
            (Some(help), Some(footer)) => Some(Box::new(format!("{help}\n{footer}"))),
            (Some(help), None) => Some(Box::new(help)),
            // miette prints the help as `help: ...`: the first note then reads as the help
            // itself (never `help: note: ...`), the others stay notes.
            (None, Some(footer)) => Some(Box::new(footer.strip_prefix("note: ").unwrap_or(footer))),
            (None, None) => None,
        }
    }

    fn source_code(&self) -> Option<&dyn SourceCode> {
        Some(&self.source)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        Some(Box::new(self.labels.iter().cloned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kiln_lang::codes;

    fn sample() -> (Vec<Diagnostic>, SourceMap) {
        let mut sources = SourceMap::default();
        let file = sources.add("team/project.kiln", "kf.Notebook \"dev\" {\n  memroy = 16Gi\n}\n");
        let diag = Diagnostic::error(
            codes::UNEXPECTED_TOKEN,
            "unknown field `memroy` in Notebook",
            Span::new(file, 22, 28),
            "not a field of Notebook",
        )
        .with_help("did you mean `memory`?");
        (vec![diag], sources)
    }

    #[test]
    fn plain_rendering_has_code_label_and_help() {
        let (diags, sources) = sample();
        let text = render_plain(&diags, &sources, 80);
        assert!(text.contains("K0001"), "{text}");
        assert!(text.contains("team/project.kiln:2:3"), "{text}");
        assert!(text.contains("not a field of Notebook"), "{text}");
        assert!(text.contains("did you mean `memory`?"), "{text}");
        assert!(!text.contains('\u{1b}'), "no colour codes: {text}");
    }

    #[test]
    fn json_has_position() {
        let (diags, sources) = sample();
        let json = to_json(&diags[0], &sources);
        assert_eq!((json.line, json.column), (2, 3));
        assert_eq!(json.span, JsonSpan { start: 22, end: 28 });
        assert_eq!(json.code, "K0001");
    }

    /// A label far into a line of multi-byte characters: the header and the JSON count the
    /// same characters, the cut line never splits a character, and a megabyte message is clipped.
    #[test]
    fn columns_count_characters_and_huge_text_is_clipped() {
        let mut sources = SourceMap::default();
        let text = format!("let é = \"{}\" + ü\n", "ä".repeat(500));
        let file = sources.add("m.kiln", text.clone());
        let at = text.find('ü').unwrap();
        let column = text[..at].chars().count() + 1;
        let d = Diagnostic::error(
            codes::UNEXPECTED_TOKEN,
            "bad",
            Span::new(file, at, at + 'ü'.len_utf8()),
            "here",
        );
        let mut huge = d.clone();
        huge.message = format!("bad `{}`", "x".repeat(1_000_000));
        huge.help = Some("y".repeat(1_000_000));
        for width in [40, 80, 100, 200] {
            let human = render_plain(&[d.clone(), huge.clone()], &sources, width);
            assert!(human.contains(&format!("m.kiln:1:{column}")), "{human}");
            assert!(!human.contains('\u{fffd}'), "a character was cut: {human}");
            assert!(human.contains('…'), "{human}");
            assert!(human.len() < 12_000, "{} bytes", human.len());
        }
        // Cuts around every position of the line: never a broken character.
        for start in (0..text.len()).filter(|&i| text.is_char_boundary(i)).step_by(7) {
            let d = Diagnostic::error(
                codes::UNEXPECTED_TOKEN,
                "x",
                Span::new(file, start, start + 1),
                "y",
            );
            let human = render_plain(&[d], &sources, 100);
            assert!(!human.contains('\u{fffd}'), "cut at {start}: {human}");
        }
        assert_eq!(to_json(&d, &sources).column, column);
        let json = render_json(&[huge], &sources);
        assert!(json.len() < 8_000, "{} bytes of JSON", json.len());
    }

    #[test]
    fn summary_counts() {
        let (diags, _) = sample();
        assert_eq!(summary(&diags), "error: 1 error");
        assert_eq!(summary(&[]), "");
    }
}
