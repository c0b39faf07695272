//! Record literals (typed, map-shaped or anonymous), constructs of named types and variants,
//! and `with` patches.
//!
//! A record literal's entries are in scope for each other; each entry is checked on demand
//! (see `Checker::sibling`), so the order in which entries finish is their evaluation order.
//! Typed records take the type's field order, with defaults filled and absent optional fields
//! marked; anonymous records keep the literal's order.

use std::collections::HashMap;
use std::rc::Rc;

use kiln_lang::ast::{self, Expr, ExprKind, RecordEntry};
use kiln_lang::{Diagnostic, Span};

use super::expr::Named;
use super::{Checker, Frame, FrameEntry, Local, State, path_text};
use crate::codes;
use crate::eval::RVal;
use crate::ir::*;
use crate::types::*;

enum Mode {
    Typed(Rc<RecordTy>, Ty),
    Map(Ty),
    Anon,
}

impl<'a> Checker<'a> {
    /// Reports duplicate keys; returns which entries are duplicates (skipped in the output).
    fn duplicates(&mut self, entries: &'a [RecordEntry]) -> Vec<bool> {
        let mut seen: HashMap<&str, Span> = HashMap::with_capacity(entries.len());
        let mut dup = vec![false; entries.len()];
        for (i, e) in entries.iter().enumerate() {
            let name = e.key.name();
            if let Some(first) = seen.get(name) {
                self.push(
                    Diagnostic::error(
                        codes::DUPLICATE_DEFINITION,
                        format!("field `{name}` is given twice"),
                        e.key.span(),
                        "second value",
                    )
                    .with_label(*first, "first value here")
                    .with_help("remove one of them"),
                );
                dup[i] = true;
            } else {
                seen.insert(name, e.key.span());
            }
        }
        dup
    }

    pub(super) fn record(
        &mut self,
        entries: &'a [RecordEntry],
        expected: Option<&Ty>,
        span: Span,
        construct: Option<&'a ast::Path>,
    ) -> (Ty, Ir) {
        if let Some(t) = expected {
            self.note_expected(span, t);
        }
        let mode = match expected.map(Ty::base) {
            Some(Ty::Record(r)) => Mode::Typed(r.clone(), expected.cloned().unwrap_or(Ty::Error)),
            Some(Ty::Map(t)) => Mode::Map((**t).clone()),
            _ => Mode::Anon,
        };
        let owner = self.next_owner.take();
        let dup = self.duplicates(entries);
        let base = self.locals.len();
        let f = self.frames.len();
        let mut frame_entries = Vec::with_capacity(entries.len());
        for e in entries {
            let name = e.key.name();
            let expected = match &mode {
                Mode::Typed(r, t) => match r.fields.get(name) {
                    Some(field) => {
                        let (ty, def) = (field.ty.clone(), field.span);
                        self.note_name(e.key.span(), Some(def), &ty, super::facts::NameKind::Field);
                        Some(ty)
                    }
                    None => {
                        if !r.open {
                            let (r, t) = (r.clone(), t.clone());
                            self.unknown_field(&r, name, e.key.span(), &t);
                        }
                        None
                    }
                },
                Mode::Map(t) => Some(t.clone()),
                Mode::Anon => None,
            };
            frame_entries.push(FrameEntry {
                name,
                span: e.key.span(),
                value: &e.value,
                expected,
                state: State::Todo,
                ir: None,
            });
        }
        self.frames.push(Frame {
            base,
            entries: frame_entries,
            current: None,
            busy: Vec::new(),
            order: Vec::with_capacity(entries.len()),
            owner,
        });
        for e in entries {
            self.locals.push(Local {
                name: e.key.name(),
                ty: Ty::Error,
                field: Some((f, self.locals.len() - base)),
            });
        }
        for i in 0..entries.len() {
            if matches!(self.frames[f].entries[i].state, State::Todo) {
                self.check_field(f, i);
            }
        }
        self.locals.truncate(base);
        let frame = self.frames.pop().expect("frame pushed above");
        let mut types = Vec::with_capacity(entries.len());
        let mut irs = Vec::with_capacity(entries.len());
        for fe in frame.entries {
            types.push(match fe.state {
                State::Done(t) => t,
                _ => Ty::Error,
            });
            irs.push(fe.ir.unwrap_or(Ir::Lit(RVal::Unset)));
        }
        let mk = |out, as_map| {
            Ir::Record(Box::new(RecordIr {
                base: base as u32,
                entries: irs,
                order: frame.order,
                out,
                as_map,
            }))
        };
        match mode {
            Mode::Typed(r, t) => {
                let mut out = Vec::with_capacity(r.fields.len());
                let mut missing = Vec::new();
                for (name, field) in &r.fields {
                    let given = entries
                        .iter()
                        .enumerate()
                        .position(|(i, e)| !dup[i] && e.key.name() == &**name);
                    let src = match (given, field.default) {
                        (Some(i), _) => FieldSource::Entry(i as u32),
                        (None, Some(d)) => FieldSource::Default(d),
                        (None, None) if field.optional => FieldSource::Absent,
                        (None, None) => {
                            missing.push(name.clone());
                            FieldSource::Absent
                        }
                    };
                    out.push((name.clone(), src));
                }
                if r.open {
                    for (i, e) in entries.iter().enumerate() {
                        if !dup[i] && !r.fields.contains_key(e.key.name()) {
                            out.push((Name::from(e.key.name()), FieldSource::Entry(i as u32)));
                        }
                    }
                }
                if !missing.is_empty() {
                    let list: Vec<String> = missing.iter().map(|m| format!("`{m}`")).collect();
                    let s = if missing.len() == 1 { "" } else { "s" };
                    let at = construct.map_or(span, |p| p.span);
                    let mut d = Diagnostic::error(
                        codes::MISSING_FIELD,
                        format!("missing field{s} {} in {t}", list.join(", ")),
                        at,
                        format!("missing {}", list.join(", ")),
                    )
                    .with_help(format!(
                        "add {}",
                        missing
                            .iter()
                            .map(|m| format!("`{m} = ...`"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ));
                    if let Some(decl) = r.decl {
                        d = d.with_label(decl, format!("{t} is declared here"));
                    }
                    self.push(d);
                }
                (t, mk(out, false))
            }
            Mode::Map(t) => {
                let out = entries
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| !dup[*i])
                    .map(|(i, e)| (Name::from(e.key.name()), FieldSource::Entry(i as u32)))
                    .collect();
                (Ty::Map(Rc::new(t)), mk(out, true))
            }
            Mode::Anon => {
                let mut fields = indexmap::IndexMap::with_capacity(entries.len());
                let mut out = Vec::with_capacity(entries.len());
                for (i, e) in entries.iter().enumerate() {
                    if dup[i] {
                        continue;
                    }
                    let name = Name::from(e.key.name());
                    fields.insert(
                        name.clone(),
                        FieldTy {
                            ty: types[i].clone(),
                            optional: false,
                            default: None,
                            span: e.key.span(),
                        },
                    );
                    out.push((name, FieldSource::Entry(i as u32)));
                }
                let rt = RecordTy {
                    name: None,
                    fields,
                    open: false,
                    decl: None,
                };
                (Ty::Record(Rc::new(rt)), mk(out, false))
            }
        }
    }

    pub(super) fn construct(
        &mut self,
        path: &'a ast::Path,
        fields: &'a [RecordEntry],
        expected: Option<&Ty>,
        span: Span,
    ) -> (Ty, Ir) {
        let variant_of = match expected.map(Ty::base) {
            Some(Ty::Union(u)) => Some(u.clone()),
            _ => None,
        };
        match self.type_path(path, variant_of.as_ref()) {
            Some(Named::Ty(t @ Ty::Record(_))) => self.record(fields, Some(&t), span, Some(path)),
            Some(Named::Variant(u, tag, r)) => {
                let (_, ir) = self.record(fields, Some(&Ty::Record(r)), span, Some(path));
                (
                    Ty::Union(u),
                    Ir::Tag {
                        tag,
                        value: Box::new(ir),
                    },
                )
            }
            Some(Named::Ty(Ty::Union(u))) => {
                let first = u
                    .variants
                    .keys()
                    .next()
                    .map_or("Tag".to_string(), |k| k.to_string());
                self.push(
                    Diagnostic::error(
                        codes::TYPE_MISMATCH,
                        format!(
                            "`{}` is a tagged union; build one of its variants",
                            path_text(path)
                        ),
                        path.span,
                        "not a record type",
                    )
                    .with_help(format!("write `{}.{first} {{ ... }}`", path_text(path))),
                );
                let (_, ir) = self.record(fields, None, span, None);
                (Ty::Error, ir)
            }
            Some(Named::Ty(Ty::Error)) | None => {
                let (_, ir) = self.record(fields, None, span, None);
                (Ty::Error, ir)
            }
            Some(Named::Ty(other)) => {
                self.push(Diagnostic::error(
                    codes::TYPE_MISMATCH,
                    format!("`{}` is {}, not a record type", path_text(path), other.describe()),
                    path.span,
                    "not a record type",
                ));
                let (_, ir) = self.record(fields, None, span, None);
                (Ty::Error, ir)
            }
        }
    }

    pub(super) fn with(
        &mut self,
        base: &'a Expr,
        patch: &'a [RecordEntry],
        expected: Option<&Ty>,
        span: Span,
    ) -> (Ty, Ir) {
        let _ = span;
        let (bt, bir) = self.check(base, expected);
        let entries = match bt.base() {
            Ty::Record(r) => {
                let r = r.clone();
                self.patch(&r, &bt, patch)
            }
            Ty::Error => {
                for e in patch {
                    self.check(&e.value, None);
                }
                Vec::new()
            }
            other => {
                self.push(
                    Diagnostic::error(
                        codes::TYPE_MISMATCH,
                        format!("`with` needs a record, found {}", other.describe()),
                        base.span,
                        "not a record",
                    )
                    .with_help("`base with { field = value }` patches the fields of a record"),
                );
                for e in patch {
                    self.check(&e.value, None);
                }
                return (Ty::Error, bir);
            }
        };
        (
            bt,
            Ir::With {
                base: Box::new(bir),
                patch: entries,
            },
        )
    }

    fn patch(&mut self, r: &Rc<RecordTy>, rt: &Ty, patch: &'a [RecordEntry]) -> Vec<PatchEntry> {
        let dup = self.duplicates(patch);
        let mut out = Vec::with_capacity(patch.len());
        for (i, e) in patch.iter().enumerate() {
            let name = e.key.name();
            let Some(field) = r.fields.get(name) else {
                if !r.open {
                    self.unknown_field(r, name, e.key.span(), rt);
                }
                let (_, ir) = self.check(&e.value, None);
                out.push(PatchEntry {
                    name: Name::from(name),
                    op: PatchOp::Replace(ir),
                });
                continue;
            };
            let field = field.clone();
            let op = match (&e.value.kind, field.ty.base(), field.optional) {
                (ExprKind::Record(inner), Ty::Record(ir_), false) => {
                    let inner_ty = field.ty.clone();
                    PatchOp::Merge(self.patch(&ir_.clone(), &inner_ty, inner))
                }
                (ExprKind::Record(inner), Ty::Map(t), false) => {
                    let t = (**t).clone();
                    let inner_dup = self.duplicates(inner);
                    let mut entries = Vec::with_capacity(inner.len());
                    for (j, ie) in inner.iter().enumerate() {
                        let (_, ir) = self.check(&ie.value, Some(&t));
                        if !inner_dup[j] {
                            entries.push(PatchEntry {
                                name: Name::from(ie.key.name()),
                                op: PatchOp::Replace(ir),
                            });
                        }
                    }
                    PatchOp::Merge(entries)
                }
                _ => PatchOp::Replace(self.check(&e.value, Some(&field.ty)).1),
            };
            if !dup[i] {
                out.push(PatchEntry {
                    name: Name::from(name),
                    op,
                });
            }
        }
        out
    }
}
