//! Typed references (`Ref<T>`): a field names another field by its path, as in
//! `from = steps.prep.outputs.data`.
//!
//! A reference is not evaluated: it is checked where it is written and becomes the text of its
//! path, which lowering resolves against the object (a pipeline's steps, a template's inputs).
//! So a reference creates no evaluation order between fields (a step may name a later step) and
//! no cycle error (K0105); a data cycle between steps is a pipeline error (K0412).
//!
//! The check follows the path through the record literals as written, so the keys of a map
//! (the steps of a pipeline, the outputs of a step) are known even though their type, `Map<T>`,
//! does not list them. Where a value is not written literally (a call, a `let`), the keys follow
//! from the type alone and lowering checks the rest.

use std::rc::Rc;

use kiln_lang::Span;
use kiln_lang::ast::{Expr, ExprKind, RecordEntry, StrPart};
use kiln_lang::diagnostic::did_you_mean;
use kiln_lang::{Diagnostic, ast};

use super::Checker;
use super::assign::compat;
use crate::codes;
use crate::eval::RVal;
use crate::ir::Ir;
use crate::types::Ty;

/// One name of a reference path, as written.
struct Segment<'a> {
    name: &'a str,
    span: Span,
}

/// `steps.prep.outputs["hello-art"]` as its names; `None` when the expression is not a path.
fn path_of(e: &Expr) -> Option<Vec<Segment<'_>>> {
    match &e.kind {
        ExprKind::Name(ident) => Some(vec![Segment {
            name: &ident.name,
            span: ident.span,
        }]),
        ExprKind::Field { target, field } => {
            let mut path = path_of(target)?;
            path.push(Segment {
                name: &field.name,
                span: field.span,
            });
            Some(path)
        }
        ExprKind::Index { target, index } => {
            let ExprKind::Str(lit) = &index.kind else {
                return None;
            };
            let [StrPart::Text(key)] = lit.parts.as_slice() else {
                return None;
            };
            let mut path = path_of(target)?;
            path.push(Segment {
                name: key,
                span: index.span,
            });
            Some(path)
        }
        ExprKind::Paren(inner) => path_of(inner),
        _ => None,
    }
}

/// The entries written literally in `e`, outermost last (`base with { patch }` has both).
fn written_entries(e: &Expr) -> Vec<&[RecordEntry]> {
    match &e.kind {
        ExprKind::Record(entries) | ExprKind::Construct { fields: entries, .. } => vec![entries],
        ExprKind::With { base, patch } => {
            let mut out = vec![patch.as_slice()];
            out.extend(written_entries(base));
            out
        }
        ExprKind::Paren(inner) => written_entries(inner),
        _ => Vec::new(),
    }
}

/// Whether every entry of `e` is written literally (so a missing key is really missing).
fn fully_written(e: &Expr) -> bool {
    match &e.kind {
        ExprKind::Record(_) | ExprKind::Construct { .. } => true,
        ExprKind::With { base, .. } => fully_written(base),
        ExprKind::Paren(inner) => fully_written(inner),
        _ => false,
    }
}

impl<'a> Checker<'a> {
    /// Checks `e` where a `Ref<target>` is expected; see the module doc.
    pub(super) fn reference(&mut self, e: &'a Expr, target: &Ty) -> (Ty, Ir) {
        let ref_ty = Ty::Ref(Rc::new(target.clone()));
        let unset = || Ir::Lit(RVal::Unset);
        let Some(path) = path_of(e) else {
            self.not_a_reference(e, target);
            return (Ty::Error, unset());
        };
        let Some(roots) = self.reference_roots(&path, target) else {
            return (Ty::Error, unset());
        };
        if let [(None, ty)] = roots.as_slice()
            && let Ty::Ref(_) = ty.base()
        {
            // A reference passed on (a function's `Ref` parameter): checked where it was written.
            let (found, ir) = self.check(e, None);
            return self.coerce(found, &ref_ty, ir, e.span);
        }
        // Records nest (a template's steps inside a pipeline's), so a name may be a field of
        // several enclosing records: the innermost one the whole path resolves in wins, and when
        // none does, the innermost one's error is reported.
        let mark = self.diags.len();
        let mut first_errors = None;
        for (written, ty) in roots {
            if self.follow(&path, written, ty, target, e.span) {
                self.diags.truncate(mark);
                let text: Vec<&str> = path.iter().map(|s| s.name).collect();
                return (ref_ty, Ir::Lit(RVal::Str(text.join(".").into())));
            }
            let errors = self.diags.split_off(mark);
            first_errors.get_or_insert(errors);
        }
        self.diags.extend(first_errors.unwrap_or_default());
        (Ty::Error, unset())
    }

    /// Follows `path` from one root (its written value and type); reports and returns false when
    /// a name is missing or the end is not a `target`.
    fn follow(
        &mut self,
        path: &[Segment<'_>],
        root: Option<&'a Expr>,
        ty: Ty,
        target: &Ty,
        span: Span,
    ) -> bool {
        let (mut written, mut ty) = (root, ty);
        for (i, seg) in path.iter().enumerate().skip(1) {
            let (next_ty, known) = match ty.base() {
                Ty::Record(r) => match r.fields.get(seg.name) {
                    Some(f) => (f.ty.clone(), true),
                    None if r.open => (Ty::Any, false),
                    None => {
                        let r = r.clone();
                        self.unknown_field(&r, seg.name, seg.span, &ty);
                        return false;
                    }
                },
                Ty::Map(v) => ((**v).clone(), false),
                Ty::Any | Ty::Error => (Ty::Any, false),
                other => {
                    let message = format!("{} has no field `{}`", other.describe(), seg.name);
                    self.error(codes::TYPE_MISMATCH, message, seg.span, "no such field");
                    return false;
                }
            };
            let entries = written.map(written_entries).unwrap_or_default();
            let entry = entries
                .iter()
                .flat_map(|es| es.iter())
                .find(|en| en.key.name() == seg.name);
            if entry.is_none() && !known && written.is_some_and(fully_written) {
                let keys: Vec<&str> = entries
                    .iter()
                    .flat_map(|es| es.iter())
                    .map(|en| en.key.name())
                    .collect();
                let of: Vec<&str> = path[..i].iter().map(|s| s.name).collect();
                self.unknown_entry(seg, &of.join("."), &keys);
                return false;
            }
            written = entry.map(|en| &en.value);
            ty = next_ty;
        }
        if compat(&ty, target).is_none() {
            let text: Vec<&str> = path.iter().map(|s| s.name).collect();
            self.push(
                Diagnostic::error(
                    codes::TYPE_MISMATCH,
                    format!(
                        "`{}` is {}, not {}",
                        text.join("."),
                        ty.describe(),
                        target.describe()
                    ),
                    span,
                    format!("expected a reference to {}", target.describe()),
                )
                .with_help("name a field of the expected type"),
            );
            return false;
        }
        true
    }

    /// The roots the first name of a reference may start at, innermost first: fields of
    /// enclosing record literals (the field being defined included: `steps.prep` inside
    /// `steps = { .. }` names that literal's `prep`), or one local holding a reference. `None`
    /// when there is none (reported).
    fn reference_roots(&mut self, path: &[Segment<'a>], target: &Ty) -> Option<Vec<(Option<&'a Expr>, Ty)>> {
        let root = &path[0];
        let mut roots = Vec::new();
        for local in self.locals.iter().rev() {
            if local.name != root.name {
                continue;
            }
            match local.field {
                // The field being defined, as a whole, is its own value: not a reference.
                Some((f, e)) if path.len() == 1 && self.frames[f].current == Some(e) => {}
                Some((f, e)) => roots.push(self.field_root(f, e)),
                None if !roots.is_empty() => break,
                None if matches!(local.ty.base(), Ty::Ref(_)) && path.len() == 1 => {
                    return Some(vec![(None, local.ty.clone())]);
                }
                None => {
                    let message = format!(
                        "`{}` is {}, not a field of an enclosing record",
                        root.name,
                        local.ty.describe()
                    );
                    self.push(
                        Diagnostic::error(codes::NOT_A_REFERENCE, message, root.span, "not a field")
                            .with_help(format!(
                                "a reference names a field by its path, such as `steps.prep.outputs.data`; \
                                 to pass one through a function, declare the parameter as {}",
                                Ty::Ref(Rc::new(target.clone()))
                            )),
                    );
                    return None;
                }
            }
        }
        if !roots.is_empty() {
            return Some(roots);
        }
        let ident = ast::Ident {
            name: root.name.to_string(),
            span: root.span,
        };
        if self.scopes[self.module].contains_key(root.name) {
            self.push(
                Diagnostic::error(
                    codes::NOT_A_REFERENCE,
                    format!(
                        "`{}` is a top-level definition, not a field of an enclosing record",
                        root.name
                    ),
                    root.span,
                    "not a field",
                )
                .with_help(
                    "a reference is resolved inside the object it is written in: write it inside \
                     that object, for example as `steps.prep.outputs.data` in a step",
                ),
            );
            return None;
        }
        let candidates: Vec<&str> = self
            .locals
            .iter()
            .filter(|l| l.field.is_some())
            .map(|l| l.name)
            .collect();
        self.unknown_name(&ident, candidates, "field");
        None
    }

    /// The written value and type of entry `e` of frame `f`.
    fn field_root(&self, f: usize, e: usize) -> (Option<&'a Expr>, Ty) {
        let entry = &self.frames[f].entries[e];
        let ty = match (&entry.expected, &entry.state) {
            (Some(t), _) => t.clone(),
            (None, super::State::Done(t)) => t.clone(),
            (None, _) => Ty::Any,
        };
        (Some(entry.value), ty)
    }

    /// K0108: a key that the written map or record does not have, with a did-you-mean.
    fn unknown_entry(&mut self, seg: &Segment<'_>, of: &str, keys: &[&str]) {
        let mut d = Diagnostic::error(
            codes::UNKNOWN_REFERENCE,
            format!("`{of}` has no entry `{}`", seg.name),
            seg.span,
            format!("not in `{of}`"),
        );
        match did_you_mean(seg.name, keys.iter().copied()) {
            Some(s) => d = d.with_help(format!("did you mean `{s}`?")),
            None if keys.is_empty() => d = d.with_help(format!("`{of}` is empty")),
            None => d = d.with_note(format!("`{of}` has: {}", keys.join(", "))),
        }
        self.push(d);
    }

    /// K0109: a string or another expression where a reference is expected.
    fn not_a_reference(&mut self, e: &Expr, target: &Ty) {
        let plain = match &e.kind {
            ExprKind::Str(lit) => lit.as_plain(),
            _ => None,
        };
        let is_path = |p: &str| {
            !p.is_empty()
                && p.split('.')
                    .all(|s| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
        };
        let (what, help) = match plain {
            Some(p) if is_path(&p) => (
                format!("the string {p:?}"),
                format!("references are names, not strings: write {p} without quotes"),
            ),
            Some(p) => (
                format!("the string {p:?}"),
                "references are names, not strings: write the path of the field, such as \
                 `steps.prep.outputs.data`"
                    .to_string(),
            ),
            None => (
                "an expression".to_string(),
                "write the path of the field, such as `steps.prep.outputs.data`".to_string(),
            ),
        };
        self.push(
            Diagnostic::error(
                codes::NOT_A_REFERENCE,
                format!(
                    "expected {}, found {what}",
                    Ty::Ref(Rc::new(target.clone())).describe()
                ),
                e.span,
                "not a reference",
            )
            .with_help(help),
        );
    }
}
