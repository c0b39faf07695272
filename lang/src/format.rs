//! Formatter: AST + comments -> canonical text (`kiln fmt`).
//!
//! The printer walks the AST and re-reads the source only for what the AST does not keep
//! verbatim: number and unit literals are reproduced as written (`1_000`, `1e-3`, `16Gi`), and
//! comments come from [`ast::SourceFile::comments`] by position.
//!
//! Canonical style:
//! - 2-space indentation; single spaces around `=`, binary operators, `->`, `=>`, `with`, and
//!   after `,` and `:`. No alignment of `=` across lines (alignment churns diffs).
//! - A bracketed group (record, record type, list, call arguments, parameters, comprehension,
//!   union after `=`/`:`) is printed on one line when it fits in 100 columns, unless the source
//!   had a line break right after its opening bracket (or before the union's first `|`) or the
//!   group contains a comment. Otherwise it is printed one entry per line: record entries and
//!   field declarations without separators, list elements and arguments with a trailing `,`.
//!   The rule depends only on the source, so formatting is idempotent and the author decides
//!   between `{ cpu = 4, memory = 16Gi }` and one entry per line.
//! - `match` arms are always one per line.
//! - Blank lines between items and between entries of a multi-line group are kept, at most one.
//! - Comments: a comment on its own line stays on its own line before the next item/entry (with
//!   its blank-line separation); a comment after code on the same line stays at the end of that
//!   line, two spaces after the code. A comment inside a construct printed on one line (such as
//!   the middle of a binary expression) moves to the start of the next line-level entry.
//! - Strings are re-encoded from their decoded value (`\n`, `\t`, `\"`, `\\`, `\$` before `{`,
//!   `\u{..}` for other control characters); `"""` strings stay multi-line, re-indented two
//!   spaces deeper than the line that opens them, closing `"""` on its own line when the value
//!   ends with a newline.
//! - Parentheses are kept as written; `(x) -> e` becomes `x -> e` (the same AST).

use crate::ast::{
    self, Arg, CompClause, Expr, ExprKind, FieldDecl, Item, ItemKind, Key, Literal, MatchArm, Param, Pattern,
    RecordEntry, Refinement, SourceFile, StrLit, StrPart, TypeExpr, TypeExprKind, UnaryOp,
};
use crate::codes;
use crate::diagnostic::Diagnostic;
use crate::span::{FileId, Span};

/// Maximum line width the formatter aims for (in characters).
pub const MAX_WIDTH: usize = 100;

/// Formats one file. `Err` with the diagnostics when the file has syntax errors, except that tab
/// indentation (K0003) alone does not block formatting: `kiln fmt` is how tabs get fixed.
pub fn format_source(file: FileId, source: &str) -> Result<String, Vec<Diagnostic>> {
    let parsed = crate::parse(file, source);
    if parsed
        .diagnostics
        .iter()
        .any(|d| d.is_error() && d.code != codes::TAB_INDENT)
    {
        return Err(parsed.diagnostics);
    }
    Ok(format_file(&parsed.file, source))
}

/// Prints an already parsed file (which must come from `source` without syntax errors).
pub fn format_file(file: &SourceFile, source: &str) -> String {
    let mut p = Printer {
        src: source,
        comments: &file.comments,
        next_comment: 0,
        out: String::with_capacity(source.len() + source.len() / 8),
        line_start: 0,
        indent: 0,
        flat: None,
        prev_end: 0,
    };
    p.file(file);
    p.out
}

/// Signals that a flat (one-line) attempt failed: too wide, or something that must break.
struct Break;

type R = Result<(), Break>;

struct Printer<'a> {
    src: &'a str,
    comments: &'a [ast::Comment],
    next_comment: usize,
    out: String,
    /// Byte index in `out` where the current line starts.
    line_start: usize,
    indent: usize,
    /// `Some(width)` while trying to print a group on one line.
    flat: Option<usize>,
    /// Source end of the last line-level element printed (for blank-line preservation).
    prev_end: usize,
}

/// How a bracketed group looks.
struct Group<'s> {
    open: &'s str,
    close: &'s str,
    /// Spaces inside the brackets when flat: `{ a = 1 }` vs `[1]`.
    pad: bool,
    /// Flat separator between entries.
    sep: &'s str,
    /// Broken layout ends each entry with `,`.
    trailing_comma: bool,
    /// A source offset before the opening bracket, on its line (to find the bracket).
    anchor: usize,
    /// Source offset of the closing bracket.
    close_pos: usize,
    force_break: bool,
    /// Printed after the entries (`..` of an open record type).
    tail: Option<&'s str>,
}

/// The entries of a comprehension, printed as one group.
enum CompPart<'e> {
    Body(&'e Expr),
    KeyValue(&'e Expr, &'e Expr),
    Clause(&'e CompClause),
}

impl CompPart<'_> {
    fn span(&self) -> Span {
        match self {
            CompPart::Body(e) => e.span,
            CompPart::KeyValue(k, v) => k.span.to(v.span),
            CompPart::Clause(CompClause::For { span, .. } | CompClause::If { span, .. }) => *span,
        }
    }
}

impl<'a> Printer<'a> {
    // ----- output primitives -----

    fn w(&mut self, s: &str) -> R {
        self.out.push_str(s);
        if let Some(width) = self.flat
            && (s.contains('\n')
                || (width != usize::MAX && self.out[self.line_start..].chars().count() > width))
        {
            return Err(Break);
        }
        Ok(())
    }

    /// Ends the line and indents the next one (no trailing spaces are left behind).
    fn newline(&mut self) {
        let trimmed = self.out.trim_end_matches(' ').len();
        self.out.truncate(trimmed);
        self.out.push('\n');
        self.line_start = self.out.len();
        for _ in 0..self.indent {
            self.out.push(' ');
        }
    }

    /// Runs `f` in one-line mode; on failure rolls the output back and returns false.
    fn try_flat(&mut self, width: usize, f: impl FnOnce(&mut Self) -> R) -> bool {
        let (len, line_start, next_comment, prev_end) =
            (self.out.len(), self.line_start, self.next_comment, self.prev_end);
        let saved = self.flat.replace(width);
        let ok = f(self).is_ok();
        self.flat = saved;
        if !ok {
            self.out.truncate(len);
            self.line_start = line_start;
            self.next_comment = next_comment;
            self.prev_end = prev_end;
        }
        ok
    }

    fn text(&self, span: Span) -> &'a str {
        self.src.get(span.range()).unwrap_or("")
    }

    // ----- comments -----

    fn has_comment_in(&self, start: usize, end: usize) -> bool {
        let i = self.comments.partition_point(|c| (c.span.start as usize) < start);
        self.comments
            .get(i)
            .is_some_and(|c| (c.span.start as usize) < end)
    }

    fn blank_between(&self, from: usize, to: usize) -> bool {
        from < to
            && self
                .src
                .get(from..to)
                .is_some_and(|gap| gap.matches('\n').count() >= 2)
    }

    fn write_comment(&mut self, c: &ast::Comment) {
        self.out.push_str(if c.doc { "##" } else { "#" });
        self.out.push_str(&c.text);
    }

    /// At the start of a fresh line: prints the comments before `start`, each on its own line,
    /// and the blank lines the source had (at most one at a time).
    ///
    /// A `##` comment moved here from inside the previous element is followed by a blank line:
    /// doc comments attach only when directly above, so it does not become the next one's doc.
    fn before_line_item(&mut self, start: usize, mut first: bool) {
        let element_end = self.prev_end;
        let mut moved_doc = false;
        while let Some(c) = self.comments.get(self.next_comment)
            && (c.span.start as usize) < start
        {
            let moved = (c.span.start as usize) < element_end;
            if (moved_doc && !moved) || (!first && self.blank_between(self.prev_end, c.span.start as usize)) {
                self.newline();
            }
            self.write_comment(c);
            self.newline();
            // `max`: a comment moved out of an expression ends before what was printed last.
            self.prev_end = self.prev_end.max(c.span.end as usize);
            self.next_comment += 1;
            moved_doc = moved && c.doc;
            first = false;
        }
        if moved_doc || (!first && self.blank_between(self.prev_end, start)) {
            self.newline();
        }
    }

    /// Appends a comment that follows `end` on the same source line (only `,`/`;` between).
    fn trailing_comment(&mut self, end: usize) {
        if let Some(c) = self.comments.get(self.next_comment)
            && (c.span.start as usize) >= end
            && self
                .src
                .get(end..c.span.start as usize)
                .is_some_and(|gap| gap.chars().all(|ch| matches!(ch, ' ' | '\t' | ',' | ';' | '\r')))
        {
            self.out.push_str("  ");
            self.write_comment(c);
            self.prev_end = c.span.end as usize;
            self.next_comment += 1;
        }
    }

    /// Prints the comments left before `end` (the closer of a group, or end of file), each on
    /// its own line.
    fn remaining_comments(&mut self, end: usize, first: bool) {
        let mut first = first;
        while let Some(c) = self.comments.get(self.next_comment)
            && (c.span.start as usize) < end
        {
            self.newline();
            if !first && self.blank_between(self.prev_end, c.span.start as usize) {
                self.newline();
            }
            self.write_comment(c);
            self.prev_end = self.prev_end.max(c.span.end as usize);
            self.next_comment += 1;
            first = false;
        }
    }

    // ----- file and items -----

    fn file(&mut self, file: &SourceFile) {
        for (k, item) in file.items.iter().enumerate() {
            if k > 0 {
                self.newline();
            }
            self.before_line_item(item.span.start as usize, k == 0);
            // Items never fail: only flat attempts do, and they are caught inside.
            let _ = self.item(item);
            self.trailing_comment(item.span.end as usize);
            self.prev_end = self.prev_end.max(item.span.end as usize);
        }
        self.remaining_comments(self.src.len() + 1, file.items.is_empty());
        let trimmed = self.out.trim_end().len();
        self.out.truncate(trimmed);
        if !self.out.is_empty() {
            self.out.push('\n');
        }
        // A file of only comments starts with the newline `remaining_comments` wrote.
        if file.items.is_empty() {
            let start = self.out.len() - self.out.trim_start_matches('\n').len();
            self.out.drain(..start);
        }
    }

    fn item(&mut self, item: &Item) -> R {
        match &item.kind {
            ItemKind::Import { path, alias } => {
                self.w("import ")?;
                self.string(path)?;
                self.w(" as ")?;
                self.w(&alias.name)
            }
            ItemKind::Let { name, ty, value } => {
                self.w("let ")?;
                self.w(&name.name)?;
                if let Some(ty) = ty {
                    self.w(":")?;
                    self.ty_after(ty)?;
                }
                self.w(" =")?;
                self.value_after_eq(value)
            }
            ItemKind::Type { name, ty } => {
                self.w("type ")?;
                self.w(&name.name)?;
                self.w(" =")?;
                self.ty_after(ty)
            }
            ItemKind::Fn {
                name,
                params,
                ret,
                body,
            } => {
                self.w("fn ")?;
                self.w(&name.name)?;
                self.params_group(params, name.span.end as usize)?;
                if let Some(ret) = ret {
                    self.w(" -> ")?;
                    self.ty(ret)?;
                }
                self.w(" =")?;
                self.value_after_eq(body)
            }
            ItemKind::Emit { ty, name, value } => {
                self.path(ty)?;
                self.w(" ")?;
                self.expr(name)?;
                match &value.kind {
                    ExprKind::Construct { ty: vty, fields } if same_path(ty, vty) => {
                        self.w(" ")?;
                        self.entries_group(fields, name.span.end as usize, value.span.end as usize - 1)
                    }
                    _ => {
                        self.w(" =")?;
                        self.value_after_eq(value)
                    }
                }
            }
        }
    }

    /// The value of an item after its `=`: on the same line if it fits; else on the next line,
    /// indented, if it fits there on one line; else on the same line, broken into groups.
    fn value_after_eq(&mut self, e: &Expr) -> R {
        if self.flat.is_some() {
            self.w(" ")?;
            return self.expr(e);
        }
        if self.try_flat(MAX_WIDTH, |p| {
            p.w(" ")?;
            p.expr(e)
        }) {
            return Ok(());
        }
        let (len, line_start) = (self.out.len(), self.line_start);
        self.indent += 2;
        self.newline();
        let hung = self.try_flat(MAX_WIDTH, |p| p.expr(e));
        self.indent -= 2;
        if hung {
            return Ok(());
        }
        self.out.truncate(len);
        self.line_start = line_start;
        self.w(" ")?;
        self.expr(e)
    }

    fn path(&mut self, path: &ast::Path) -> R {
        for (k, seg) in path.segments.iter().enumerate() {
            if k > 0 {
                self.w(".")?;
            }
            self.w(&seg.name)?;
        }
        Ok(())
    }

    // ----- groups -----

    /// Prints a bracketed group flat if allowed and it fits, else one entry per line.
    fn group<T>(
        &mut self,
        g: &Group<'_>,
        items: &[T],
        span_of: impl Fn(&T) -> Span,
        print: impl Fn(&mut Self, &T) -> R,
    ) -> R {
        let close_pos = g.close_pos.min(self.src.len());
        let anchor = g.anchor.min(close_pos);
        let open_ch = g.open.chars().last().unwrap_or('{');
        let opener_end = self.src[anchor..close_pos]
            .find(open_ch)
            .map_or(anchor, |i| anchor + i + 1);
        let first_start = items.first().map_or(close_pos, |it| span_of(it).start as usize);
        let must_break = g.force_break
            || self.has_comment_in(opener_end, close_pos)
            || (!items.is_empty()
                && self
                    .src
                    .get(opener_end..first_start)
                    .is_some_and(|gap| gap.contains('\n')));
        let flat = |p: &mut Self| -> R {
            p.w(g.open)?;
            if items.is_empty() && g.tail.is_none() {
                return p.w(g.close);
            }
            if g.pad {
                p.w(" ")?;
            }
            for (k, it) in items.iter().enumerate() {
                if k > 0 {
                    p.w(g.sep)?;
                }
                print(p, it)?;
            }
            if let Some(tail) = g.tail {
                if !items.is_empty() {
                    p.w(g.sep)?;
                }
                p.w(tail)?;
            }
            if g.pad {
                p.w(" ")?;
            }
            p.w(g.close)
        };
        if let Some(_width) = self.flat {
            return if must_break { Err(Break) } else { flat(self) };
        }
        if !must_break && self.try_flat(MAX_WIDTH, flat) {
            return Ok(());
        }
        // One entry per line.
        self.w(g.open)?;
        self.trailing_comment(opener_end);
        let saved_prev = self.prev_end;
        self.prev_end = opener_end;
        self.indent += 2;
        for (k, it) in items.iter().enumerate() {
            let span = span_of(it);
            self.newline();
            self.before_line_item(span.start as usize, k == 0);
            print(self, it)?;
            if g.trailing_comma {
                self.w(",")?;
            }
            self.trailing_comment(span.end as usize);
            self.prev_end = self.prev_end.max(span.end as usize);
        }
        if let Some(tail) = g.tail {
            self.newline();
            self.w(tail)?;
        }
        self.remaining_comments(close_pos, items.is_empty());
        self.indent -= 2;
        self.newline();
        self.prev_end = saved_prev;
        self.w(g.close)
    }

    fn braces(anchor: usize, close_pos: usize) -> Group<'static> {
        Group {
            open: "{",
            close: "}",
            pad: true,
            sep: ", ",
            trailing_comma: false,
            anchor,
            close_pos,
            force_break: false,
            tail: None,
        }
    }

    fn parens(open: &'static str, close: &'static str, anchor: usize, close_pos: usize) -> Group<'static> {
        Group {
            open,
            close,
            pad: false,
            sep: ", ",
            trailing_comma: true,
            anchor,
            close_pos,
            force_break: false,
            tail: None,
        }
    }

    fn entries_group(&mut self, entries: &[RecordEntry], anchor: usize, close_pos: usize) -> R {
        self.group(
            &Self::braces(anchor, close_pos),
            entries,
            |e| e.span,
            |p, e| p.entry(e),
        )
    }

    fn entry(&mut self, e: &RecordEntry) -> R {
        self.key(&e.key)?;
        self.w(" = ")?;
        self.expr(&e.value)
    }

    fn key(&mut self, key: &Key) -> R {
        match key {
            Key::Ident(i) => self.w(&i.name),
            Key::Str { value, .. } => {
                let quoted = quote(value);
                self.w(&quoted)
            }
        }
    }

    fn params_group(&mut self, params: &[Param], anchor: usize) -> R {
        let close_pos = self.close_after(params.last().map(|p| p.span.end as usize), anchor, ')');
        self.group(
            &Self::parens("(", ")", anchor, close_pos),
            params,
            |p| p.span,
            |p, param| p.param(param),
        )
    }

    /// The position of `close` after the last entry (or after `anchor` when there are none).
    fn close_after(&self, last_end: Option<usize>, anchor: usize, close: char) -> usize {
        let from = last_end.unwrap_or(anchor).min(self.src.len());
        self.src[from..].find(close).map_or(self.src.len(), |i| from + i)
    }

    fn param(&mut self, param: &Param) -> R {
        self.w(&param.name.name)?;
        if let Some(ty) = &param.ty {
            self.w(": ")?;
            self.ty(ty)?;
        }
        if let Some(default) = &param.default {
            self.w(" = ")?;
            self.expr(default)?;
        }
        Ok(())
    }

    fn comprehension(&mut self, g: Group<'_>, head: CompPart<'_>, clauses: &[CompClause]) -> R {
        let mut parts = vec![head];
        parts.extend(clauses.iter().map(CompPart::Clause));
        let g = Group {
            sep: " ",
            trailing_comma: false,
            ..g
        };
        self.group(&g, &parts, CompPart::span, |p, part| match part {
            CompPart::Body(e) => p.expr(e),
            CompPart::KeyValue(k, v) => {
                p.expr(k)?;
                p.w(" = ")?;
                p.expr(v)
            }
            CompPart::Clause(CompClause::For { vars, iter, .. }) => {
                p.w("for ")?;
                for (k, v) in vars.iter().enumerate() {
                    if k > 0 {
                        p.w(", ")?;
                    }
                    p.w(&v.name)?;
                }
                p.w(" in ")?;
                p.expr(iter)
            }
            CompPart::Clause(CompClause::If { cond, .. }) => {
                p.w("if ")?;
                p.expr(cond)
            }
        })
    }

    // ----- expressions -----

    fn expr(&mut self, e: &Expr) -> R {
        crate::parser::grow(|| self.expr_inner(e))
    }

    fn expr_inner(&mut self, e: &Expr) -> R {
        let start = e.span.start as usize;
        let close_pos = (e.span.end as usize).saturating_sub(1);
        match &e.kind {
            ExprKind::Int(_) | ExprKind::Float(_) | ExprKind::Unit { .. } | ExprKind::Error => {
                let text = self.text(e.span);
                self.w(text)
            }
            ExprKind::Bool(b) => self.w(if *b { "true" } else { "false" }),
            ExprKind::Str(s) => self.string(s),
            ExprKind::Name(n) => self.w(&n.name),
            ExprKind::Field { target, field } => {
                self.expr(target)?;
                self.w(".")?;
                self.w(&field.name)
            }
            ExprKind::Index { target, index } => {
                self.expr(target)?;
                self.w("[")?;
                self.expr(index)?;
                self.w("]")
            }
            ExprKind::Call { callee, args } => {
                self.expr(callee)?;
                let g = Self::parens("(", ")", callee.span.end as usize, close_pos);
                self.group(&g, args, arg_span, |p, a| p.arg(a))
            }
            ExprKind::List(items) => {
                let g = Self::parens("[", "]", start, close_pos);
                self.group(&g, items, |e| e.span, |p, e| p.expr(e))
            }
            ExprKind::ListComp { body, clauses } => self.comprehension(
                Self::parens("[", "]", start, close_pos),
                CompPart::Body(body),
                clauses,
            ),
            ExprKind::Record(entries) => self.entries_group(entries, start, close_pos),
            ExprKind::RecordComp { key, value, clauses } => self.comprehension(
                Self::braces(start, close_pos),
                CompPart::KeyValue(key, value),
                clauses,
            ),
            ExprKind::Construct { ty, fields } => {
                self.path(ty)?;
                self.w(" ")?;
                self.entries_group(fields, ty.span.end as usize, close_pos)
            }
            ExprKind::With { base, patch } => {
                self.expr(base)?;
                self.w(" with ")?;
                let anchor = base.span.end as usize;
                // The patch's `{` is after the `with` keyword.
                let anchor = self
                    .src
                    .get(anchor..close_pos)
                    .and_then(|gap| gap.find("with"))
                    .map_or(anchor, |i| anchor + i);
                self.entries_group(patch, anchor, close_pos)
            }
            ExprKind::If {
                cond,
                then_branch,
                else_branch,
            } => {
                self.w("if ")?;
                self.expr(cond)?;
                self.w(" then ")?;
                self.expr(then_branch)?;
                self.w(" else ")?;
                self.expr(else_branch)
            }
            ExprKind::Binary { op, lhs, rhs } => {
                self.expr(lhs)?;
                self.w(" ")?;
                self.w(op.as_str())?;
                self.w(" ")?;
                self.expr(rhs)
            }
            ExprKind::Unary { op, operand } => {
                self.w(match op {
                    UnaryOp::Neg => "-",
                    UnaryOp::Not => "!",
                })?;
                self.expr(operand)
            }
            ExprKind::Match { scrutinee, arms } => {
                self.w("match ")?;
                self.expr(scrutinee)?;
                self.w(" ")?;
                let g = Group {
                    force_break: true,
                    ..Self::braces(scrutinee.span.end as usize, close_pos)
                };
                self.group(&g, arms, |a| a.span, |p, a| p.arm(a))
            }
            ExprKind::Lambda { params, body } => {
                match params.as_slice() {
                    [p] if p.ty.is_none() && p.default.is_none() => self.w(&p.name.name)?,
                    _ => {
                        self.w("(")?;
                        for (k, param) in params.iter().enumerate() {
                            if k > 0 {
                                self.w(", ")?;
                            }
                            self.param(param)?;
                        }
                        self.w(")")?;
                    }
                }
                self.w(" -> ")?;
                self.expr(body)
            }
            ExprKind::Paren(inner) => {
                self.w("(")?;
                self.expr(inner)?;
                self.w(")")
            }
        }
    }

    fn arg(&mut self, a: &Arg) -> R {
        if let Some(name) = &a.name {
            self.w(&name.name)?;
            self.w(" = ")?;
        }
        self.expr(&a.value)
    }

    fn arm(&mut self, a: &MatchArm) -> R {
        match &a.pattern {
            Pattern::Variant { tag, binding } => {
                self.w(&tag.name)?;
                if let Some(b) = binding {
                    self.w(" ")?;
                    self.w(&b.name)?;
                }
            }
            Pattern::Literal { value, span } => self.literal(value, *span)?,
            Pattern::Wildcard(_) => self.w("_")?,
        }
        self.w(" => ")?;
        self.expr(&a.body)
    }

    fn literal(&mut self, value: &Literal, span: Span) -> R {
        match value {
            Literal::Int(_) | Literal::Float(_) => {
                // As written (`1e-3` stays `1e-3`), but a negative pattern's span also covers the
                // space between `-` and the digits: `- \t1` is written `-1`.
                let text = self.text(span);
                if text.contains(char::is_whitespace) && !text.contains('#') {
                    let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
                    return self.w(&compact);
                }
                self.w(text)
            }
            Literal::Bool(b) => self.w(if *b { "true" } else { "false" }),
            Literal::Str(s) => {
                let quoted = quote(s);
                self.w(&quoted)
            }
        }
    }

    // ----- strings -----

    fn string(&mut self, s: &StrLit) -> R {
        if s.multiline {
            return self.multiline_string(s);
        }
        self.w("\"")?;
        for part in &s.parts {
            match part {
                StrPart::Text(t) => {
                    let escaped = escape(t);
                    self.w(&escaped)?;
                }
                StrPart::Interp(e) => self.interpolation(e)?,
            }
        }
        self.w("\"")
    }

    /// `${e}`: on one line whatever its width when possible (it sits inside a string).
    fn interpolation(&mut self, e: &Expr) -> R {
        self.w("${")?;
        if self.flat.is_some() || !self.try_flat(usize::MAX, |p| p.expr(e)) {
            self.expr(e)?;
        }
        self.w("}")
    }

    fn multiline_string(&mut self, s: &StrLit) -> R {
        if self.flat.is_some() {
            return Err(Break);
        }
        // Lines of the value, interpolations standing for content (`\0`).
        let mut virtual_text = String::new();
        for part in &s.parts {
            match part {
                StrPart::Text(t) => virtual_text.push_str(t),
                StrPart::Interp(_) => virtual_text.push('\0'),
            }
        }
        let lines: Vec<&str> = virtual_text.split('\n').collect();
        let last_index = lines.len() - 1;
        // The lexer removes the smallest indentation among lines with content (and the closing
        // line). Every line is printed with `indent` spaces; when the value ends with a newline,
        // the closing line pins the removal to exactly `indent`. Otherwise, if every counted line
        // starts with a space, the first space of each is escaped (`\u{20}`) so they all start
        // right at `indent`.
        let counted = |k: usize| lines[k].contains(|c| c != ' ') || k == last_index;
        let escape_lead = !lines[last_index].is_empty()
            && (0..lines.len())
                .filter(|&k| counted(k))
                .all(|k| lines[k].starts_with(' '));

        let indent = self.indent_of_current_line() + 2;
        self.w("\"\"\"")?;
        self.raw_newline();
        let mut line = 0;
        let mut at_line_start = true;
        let total_parts = s.parts.len();
        for (part_index, part) in s.parts.iter().enumerate() {
            match part {
                StrPart::Text(t) => {
                    let mut chars = t.chars().peekable();
                    while let Some(c) = chars.next() {
                        if c == '\n' {
                            self.raw_newline();
                            line += 1;
                            at_line_start = true;
                            continue;
                        }
                        if at_line_start {
                            self.out.extend(std::iter::repeat_n(' ', indent));
                        }
                        if at_line_start && c == ' ' && escape_lead && counted(line) {
                            self.out.push_str("\\u{20}");
                            at_line_start = false;
                            continue;
                        }
                        at_line_start = false;
                        // A `"` is escaped when another follows or it ends the value, so no run
                        // of three can close the string early.
                        let next = chars.peek().copied();
                        let ends_value = next.is_none() && part_index + 1 == total_parts;
                        match c {
                            '"' if next == Some('"') || ends_value => self.out.push_str("\\\""),
                            '\\' => self.out.push_str("\\\\"),
                            '$' if next == Some('{') => self.out.push_str("\\$"),
                            '\t' => self.out.push_str("\\t"),
                            '\r' => self.out.push_str("\\r"),
                            c if c.is_control() => self.out.push_str(&format!("\\u{{{:x}}}", u32::from(c))),
                            c => self.out.push(c),
                        }
                    }
                }
                StrPart::Interp(e) => {
                    if at_line_start {
                        self.out.extend(std::iter::repeat_n(' ', indent));
                    }
                    at_line_start = false;
                    self.interpolation(e)?;
                }
            }
        }
        if at_line_start {
            self.out.extend(std::iter::repeat_n(' ', indent));
        }
        self.out.push_str("\"\"\"");
        Ok(())
    }

    /// A line break inside a string value: nothing trimmed, indentation written lazily.
    fn raw_newline(&mut self) {
        self.out.push('\n');
        self.line_start = self.out.len();
    }

    fn indent_of_current_line(&self) -> usize {
        self.out[self.line_start..]
            .chars()
            .take_while(|&c| c == ' ')
            .count()
    }

    // ----- types -----

    /// A type after `=` or `:` (the caller wrote the `=`/`:`): a union may go one variant per
    /// line, each starting with `|`.
    fn ty_after(&mut self, t: &TypeExpr) -> R {
        if let TypeExprKind::Union(items) = &t.kind {
            let start = t.span.start as usize;
            let line_before = self.src.get(..start).unwrap_or("").trim_end_matches(' ');
            let must_break = line_before.ends_with('\n') || self.has_comment_in(start, t.span.end as usize);
            let flat = |p: &mut Self| -> R {
                p.w(" ")?;
                p.ty(t)
            };
            if self.flat.is_some() {
                return if must_break { Err(Break) } else { flat(self) };
            }
            if !must_break && self.try_flat(MAX_WIDTH, flat) {
                return Ok(());
            }
            let saved_prev = self.prev_end;
            self.prev_end = start;
            self.indent += 2;
            for (k, item) in items.iter().enumerate() {
                self.newline();
                self.before_line_item(item.span.start as usize, k == 0);
                self.w("| ")?;
                self.ty(item)?;
                self.trailing_comment(item.span.end as usize);
                self.prev_end = item.span.end as usize;
            }
            self.indent -= 2;
            self.prev_end = saved_prev;
            return Ok(());
        }
        self.w(" ")?;
        self.ty(t)
    }

    fn ty(&mut self, t: &TypeExpr) -> R {
        crate::parser::grow(|| self.ty_inner(t))
    }

    fn ty_inner(&mut self, t: &TypeExpr) -> R {
        let start = t.span.start as usize;
        let close_pos = (t.span.end as usize).saturating_sub(1);
        match &t.kind {
            TypeExprKind::Named { path, args } => {
                self.path(path)?;
                if !args.is_empty() {
                    self.w("<")?;
                    for (k, a) in args.iter().enumerate() {
                        if k > 0 {
                            self.w(", ")?;
                        }
                        self.ty(a)?;
                    }
                    self.w(">")?;
                }
                Ok(())
            }
            TypeExprKind::Record { fields, open } => self.fields_group(fields, *open, start, close_pos),
            TypeExprKind::Variant { tag, fields } => {
                self.w(&tag.name)?;
                self.w(" ")?;
                self.fields_group(fields, false, tag.span.end as usize, close_pos)
            }
            TypeExprKind::Literal(l) => self.literal(l, t.span),
            TypeExprKind::Union(items) => {
                if items.len() == 1 {
                    self.w("| ")?;
                }
                for (k, item) in items.iter().enumerate() {
                    if k > 0 {
                        self.w(" | ")?;
                    }
                    self.ty(item)?;
                }
                Ok(())
            }
            TypeExprKind::Refined { base, refinement } => {
                self.ty(base)?;
                self.w("(")?;
                match refinement {
                    Refinement::Range { lo, hi } => {
                        if let Some(lo) = lo {
                            self.expr(lo)?;
                        }
                        self.w("..")?;
                        if let Some(hi) = hi {
                            self.expr(hi)?;
                        }
                    }
                    Refinement::Regex { pattern, .. } => {
                        self.w("/")?;
                        self.w(pattern)?;
                        self.w("/")?;
                    }
                }
                self.w(")")
            }
            TypeExprKind::Function { params, ret } => {
                self.w("(")?;
                for (k, p) in params.iter().enumerate() {
                    if k > 0 {
                        self.w(", ")?;
                    }
                    self.ty(p)?;
                }
                self.w(") -> ")?;
                self.ty(ret)
            }
            TypeExprKind::Error => {
                let text = self.text(t.span);
                self.w(text)
            }
        }
    }

    fn fields_group(&mut self, fields: &[FieldDecl], open: bool, anchor: usize, close_pos: usize) -> R {
        let g = Group {
            tail: open.then_some(".."),
            ..Self::braces(anchor, close_pos)
        };
        self.group(&g, fields, |f| f.span, |p, f| p.field(f))
    }

    fn field(&mut self, f: &FieldDecl) -> R {
        self.key(&f.name)?;
        if f.optional {
            self.w("?")?;
        }
        self.w(":")?;
        self.ty_after(&f.ty)?;
        if let Some(default) = &f.default {
            self.w(" = ")?;
            self.expr(default)?;
        }
        Ok(())
    }
}

fn arg_span(a: &Arg) -> Span {
    match &a.name {
        Some(n) => n.span.to(a.value.span),
        None => a.value.span,
    }
}

fn same_path(a: &ast::Path, b: &ast::Path) -> bool {
    a.segments.len() == b.segments.len() && a.segments.iter().zip(&b.segments).all(|(x, y)| x.name == y.name)
}

/// `"..."` with the value's characters escaped.
fn quote(value: &str) -> String {
    format!("\"{}\"", escape(value))
}

/// Escapes a decoded string value for a single-line literal.
fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut chars = value.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '$' if chars.peek() == Some(&'{') => out.push_str("\\$"),
            c if c.is_control() => out.push_str(&format!("\\u{{{:x}}}", u32::from(c))),
            c => out.push(c),
        }
    }
    out
}
