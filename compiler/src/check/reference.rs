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
use crate::lower::pipeline::model::GLOBALS;
use crate::types::{FieldTy, Name, RecordTy, Ty};

/// Where a reference path starts: a field's written value and type (`field` says which), or a
/// local holding a reference.
struct Root<'a> {
    written: Option<&'a Expr>,
    ty: Ty,
    field: Option<(usize, usize)>,
}

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

/// The names of the run a reference may start with when no enclosing field has that name: the
/// current item of a pipeline loop (`item`, `item.lang` for a loop over records; its keys are
/// checked by lowering against the loop) and the run's globals (`workflow.status`), whose names
/// are lowering's [`GLOBALS`], so the checker and both engines know the same set.
const RUN_ROOTS: [&str; 2] = ["item", "workflow"];

/// The type of run root `name` (see [`RUN_ROOTS`]).
fn run_root(name: &str) -> Option<Ty> {
    match name {
        "item" => Some(Ty::Any),
        "workflow" => {
            let fields = GLOBALS
                .iter()
                .map(|g| {
                    let field = FieldTy {
                        ty: Ty::String,
                        optional: false,
                        default: None,
                        span: Span::default(),
                    };
                    (Name::from(g.name), field)
                })
                .collect();
            Some(Ty::Record(Rc::new(RecordTy {
                name: None,
                fields,
                open: false,
                decl: None,
            })))
        }
        _ => None,
    }
}

/// How many `let`s a reference follows through values (`a = b`, `b = c`, ...) before it stops
/// looking: enough for real specs, and a bound for hostile ones.
const MAX_LETS_FOLLOWED: u32 = 16;

impl<'a> Checker<'a> {
    /// The entries written literally in `e`, outermost last (`base with { patch }` has both). A
    /// top-level `let` of this module is followed (`search = search` in an Experiment), unless a
    /// local of that name might shadow it; `lets` counts the ones followed, so lets that name
    /// each other (a cycle, reported as K0106 elsewhere) cannot make this loop.
    fn written_entries(&self, e: &'a Expr, own: Option<(usize, usize)>, lets: u32) -> Vec<&'a [RecordEntry]> {
        match &e.kind {
            ExprKind::Record(entries) | ExprKind::Construct { fields: entries, .. } => vec![entries],
            ExprKind::With { base, patch } => {
                let mut out = vec![patch.as_slice()];
                out.extend(self.written_entries(base, own, lets));
                out
            }
            ExprKind::Paren(inner) => self.written_entries(inner, own, lets),
            ExprKind::Name(_) if lets < MAX_LETS_FOLLOWED => self
                .let_value(e, own)
                .map(|v| self.written_entries(v, None, lets + 1))
                .unwrap_or_default(),
            _ => Vec::new(),
        }
    }

    /// Whether every entry of `e` is written literally (so a missing key is really missing).
    fn fully_written(&self, e: &'a Expr, own: Option<(usize, usize)>, lets: u32) -> bool {
        match &e.kind {
            ExprKind::Record(_) | ExprKind::Construct { .. } => true,
            ExprKind::With { base, .. } | ExprKind::Paren(base) => self.fully_written(base, own, lets),
            ExprKind::Name(_) if lets < MAX_LETS_FOLLOWED => self
                .let_value(e, own)
                .is_some_and(|v| self.fully_written(v, None, lets + 1)),
            _ => false,
        }
    }

    /// The value of the top-level `let` a bare name refers to, when no local can shadow it. `own`
    /// is the field whose value `e` is (not in scope in its own value), as are the fields being
    /// defined.
    fn let_value(&self, e: &Expr, own: Option<(usize, usize)>) -> Option<&'a Expr> {
        let ExprKind::Name(ident) = &e.kind else {
            return None;
        };
        let shadowed = self.locals.iter().any(|l| {
            l.name == ident.name
                && !matches!(l.field, Some((f, i)) if self.frames[f].current == Some(i) || own == Some((f, i)))
        });
        match self.scopes[self.module].get(ident.name.as_str()) {
            Some(super::Global::Let(id)) if !shadowed => Some(self.lets[*id].value),
            _ => None,
        }
    }

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
        if let [Root { field: None, ty, .. }] = roots.as_slice()
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
        for root in roots {
            if self.follow(&path, root, target, e.span) {
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
    fn follow(&mut self, path: &[Segment<'_>], root: Root<'a>, target: &Ty, span: Span) -> bool {
        let (mut written, mut ty, mut own) = (root.written, root.ty, root.field);
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
            let entries = written
                .map(|w| self.written_entries(w, own, 0))
                .unwrap_or_default();
            let entry = entries
                .iter()
                .flat_map(|es| es.iter())
                .find(|en| en.key.name() == seg.name);
            if entry.is_none() && !known && written.is_some_and(|w| self.fully_written(w, own, 0)) {
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
            own = None;
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
    fn reference_roots(&mut self, path: &[Segment<'a>], target: &Ty) -> Option<Vec<Root<'a>>> {
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
                    return Some(vec![Root {
                        written: None,
                        ty: local.ty.clone(),
                        field: None,
                    }]);
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
        if let Some(ty) = run_root(root.name) {
            return Some(vec![Root {
                written: None,
                ty,
                field: None,
            }]);
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
                    "a reference is resolved inside the object it is written in: write it there \
                     (`from = steps.prep.outputs.data` in a pipeline, `kf.trial(search.lr)` in an \
                     Experiment), or patch the part built outside with `with { ... }` there",
                ),
            );
            return None;
        }
        let mut candidates: Vec<&str> = self
            .locals
            .iter()
            .filter(|l| l.field.is_some())
            .map(|l| l.name)
            .collect();
        candidates.extend(RUN_ROOTS);
        let mut d = Diagnostic::error(
            codes::UNKNOWN_REFERENCE,
            format!("unknown reference `{}`", ident.name),
            ident.span,
            "not a field of an enclosing record",
        );
        d = match did_you_mean(&ident.name, candidates.iter().copied()) {
            Some(s) => d.with_help(format!("did you mean `{s}`?")),
            None => d.with_help(
                "a reference starts with a field of the record it is written in (`steps`, `params`, \
                 `templates`, `search`) or with a name of the run (`item`, `workflow`)",
            ),
        };
        self.push(d);
        None
    }

    /// The written value and type of entry `e` of frame `f`.
    fn field_root(&self, f: usize, e: usize) -> Root<'a> {
        let entry = &self.frames[f].entries[e];
        let ty = match (&entry.expected, &entry.state) {
            (Some(t), _) => t.clone(),
            (None, super::State::Done(t)) => t.clone(),
            (None, _) => Ty::Any,
        };
        Root {
            written: Some(entry.value),
            ty,
            field: Some((f, e)),
        }
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
