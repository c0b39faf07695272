//! Facts for editors (`kiln lsp`): what the checker learned about positions in the source while
//! it checked them: which declaration a name resolves to and its type, which type a record
//! literal or a value is expected to have, and what every module exports.
//!
//! Recording is off unless asked for ([`crate::compile_with_facts`]), so `kiln check` and
//! `kiln build` pay one branch per hook. The checker's types live behind `Rc` and stay on the
//! checking thread; [`Recorder::finish`] turns them into the plain, `Send` data of [`Facts`],
//! sharing each record, enum or union shape once however often it is expected.

use std::collections::HashMap;
use std::rc::Rc;

use kiln_lang::{FileId, Span};

use super::{Checker, Global, State};
use crate::types::Ty;

/// Everything the checker recorded, in plain data (see the module doc).
#[derive(Debug, Clone, Default)]
pub struct Facts {
    /// Names, field accesses, record keys and type paths: where used, what they resolve to.
    pub names: Vec<NameFact>,
    /// Expressions checked against an expected type (values and record literal bodies).
    pub expected: Vec<ExpectedFact>,
    /// The shapes `expected` points into (one per distinct record, enum or union type).
    pub shapes: Vec<Shape>,
    /// Every module of the compilation, in load order.
    pub modules: Vec<ModuleFact>,
}

/// What a name is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameKind {
    Let,
    Fn,
    Type,
    Field,
    Local,
    Module,
}

/// One use of a name.
#[derive(Debug, Clone)]
pub struct NameFact {
    /// The name as written at the use.
    pub span: Span,
    /// The declaration's name (`None` for locals, whose declarations are not recorded).
    pub def: Option<Span>,
    /// The type, as messages print it (`Memory`, `List<String>`, `Notebook`).
    pub ty: String,
    pub kind: NameKind,
}

/// An expression checked against an expected type.
#[derive(Debug, Clone)]
pub struct ExpectedFact {
    pub span: Span,
    pub ty: String,
    /// Index into [`Facts::shapes`] when the type is a record, an enum or a union.
    pub shape: Option<usize>,
}

/// The part of a type completion needs.
#[derive(Debug, Clone)]
pub enum Shape {
    /// Fields in declaration order.
    Record(Vec<FieldFact>),
    /// The literals, as written in kiln (`"pytorch"`, `3`, `true`).
    Enum(Vec<String>),
    /// Variant tags, in declaration order, with their fields.
    Union(Vec<(String, Vec<FieldFact>)>),
}

#[derive(Debug, Clone)]
pub struct FieldFact {
    pub name: String,
    pub ty: String,
    /// Neither optional nor defaulted.
    pub required: bool,
    /// The field's name in its declaration (for its doc comment and default).
    pub span: Span,
}

/// A module: its import aliases and the names it defines.
#[derive(Debug, Clone)]
pub struct ModuleFact {
    pub name: String,
    pub file: FileId,
    pub is_stdlib: bool,
    /// Alias -> index into [`Facts::modules`] (`None` when the import failed).
    pub imports: Vec<(String, Option<usize>)>,
    /// Top-level `let`s, `fn`s and `type`s, in source order.
    pub members: Vec<MemberFact>,
}

#[derive(Debug, Clone)]
pub struct MemberFact {
    pub name: String,
    pub kind: NameKind,
    pub span: Span,
    pub ty: String,
}

/// The checker-side recording, in the checker's own types.
#[derive(Default)]
pub(super) struct Recorder {
    names: Vec<(Span, Option<Span>, Ty, NameKind)>,
    expected: Vec<(Span, Ty)>,
}

impl<'a> Checker<'a> {
    /// Records a use of a name (no-op unless recording).
    pub(super) fn note_name(&mut self, span: Span, def: Option<Span>, ty: &Ty, kind: NameKind) {
        if let Some(r) = &mut self.recorder {
            r.names.push((span, def, ty.clone(), kind));
        }
    }

    /// Records that `span` was checked against `ty` (no-op unless recording).
    pub(super) fn note_expected(&mut self, span: Span, ty: &Ty) {
        if let Some(r) = &mut self.recorder {
            r.expected.push((span, ty.clone()));
        }
    }

    /// The declaration of a global, for [`NameFact::def`].
    pub(super) fn global_def(&self, g: Global) -> Option<(Span, NameKind)> {
        match g {
            Global::Let(id) => Some((self.lets[id].name.span, NameKind::Let)),
            Global::Fn(id) => Some((self.fns[id].name.span, NameKind::Fn)),
            Global::Type(id) => Some((self.tys[id].name.span, NameKind::Type)),
            Global::Import(_) => None,
        }
    }

    /// Turns the recording into [`Facts`] (after checking, on the checking thread).
    pub(super) fn finish_facts(&mut self) -> Option<Facts> {
        let recorder = self.recorder.take()?;
        let mut facts = Facts::default();
        let mut shapes = ShapeTable::default();
        facts.names = recorder
            .names
            .into_iter()
            .map(|(span, def, ty, kind)| NameFact {
                span,
                def,
                ty: ty.to_string(),
                kind,
            })
            .collect();
        facts.expected = recorder
            .expected
            .into_iter()
            .map(|(span, ty)| ExpectedFact {
                span,
                shape: shapes.of(&ty, &mut facts.shapes),
                ty: ty.to_string(),
            })
            .collect();
        for (m, module) in self.modules.iter().enumerate() {
            let mut members: Vec<MemberFact> = self.scopes[m]
                .iter()
                .filter_map(|(name, g)| {
                    let (span, kind) = self.global_def(*g)?;
                    let ty = match *g {
                        Global::Let(id) => match &self.lets[id].state {
                            State::Done(t) => t.to_string(),
                            _ => "?".to_string(),
                        },
                        Global::Fn(id) => match &self.fns[id].sig {
                            Some(sig) => {
                                let params: Vec<String> = sig
                                    .params
                                    .iter()
                                    .map(|(n, t, has_default)| {
                                        format!("{n}: {t}{}", if *has_default { " = .." } else { "" })
                                    })
                                    .collect();
                                format!("fn {name}({}) -> {}", params.join(", "), sig.ret)
                            }
                            None => format!("fn {name}"),
                        },
                        Global::Type(id) => match &self.tys[id].state {
                            State::Done(t) => type_summary(t),
                            _ => "type".to_string(),
                        },
                        Global::Import(_) => return None,
                    };
                    Some(MemberFact {
                        name: name.to_string(),
                        kind,
                        span,
                        ty,
                    })
                })
                .collect();
            members.sort_by_key(|m| m.span);
            // A declaration is a use of itself, so hovering over it works too.
            facts.names.extend(members.iter().map(|m| NameFact {
                span: m.span,
                def: Some(m.span),
                ty: m.ty.clone(),
                kind: m.kind,
            }));
            facts.modules.push(ModuleFact {
                name: module.name.clone(),
                file: module.file,
                is_stdlib: module.is_stdlib,
                imports: module
                    .imports
                    .iter()
                    .map(|(alias, _, target)| (alias.clone(), *target))
                    .collect(),
                members,
            });
        }
        Some(facts)
    }
}

/// `type Notebook = { image: String, ... }` as hover shows a type: its kind and field count.
fn type_summary(t: &Ty) -> String {
    match t.base() {
        Ty::Record(r) => format!("type {t}: a record of {} fields", r.fields.len()),
        Ty::Enum(_) => format!("type {t}: one of {}", EnumValues(t)),
        Ty::Union(u) => {
            let tags: Vec<&str> = u.variants.keys().map(|k| &**k).collect();
            format!("type {t}: a tagged union of {}", tags.join(" | "))
        }
        other => format!("type = {other}"),
    }
}

struct EnumValues<'a>(&'a Ty);

impl std::fmt::Display for EnumValues<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Ty::Enum(e) = self.0.base() {
            let values: Vec<String> = e.values.iter().map(ToString::to_string).collect();
            write!(f, "{}", values.join(" | "))?;
        }
        Ok(())
    }
}

/// Deduplicates shapes by the identity of the checker's `Rc`s.
#[derive(Default)]
struct ShapeTable {
    seen: HashMap<*const (), usize>,
}

impl ShapeTable {
    fn of(&mut self, ty: &Ty, shapes: &mut Vec<Shape>) -> Option<usize> {
        let (key, make): (*const (), Box<dyn FnOnce() -> Shape + '_>) = match ty.base() {
            Ty::Record(r) => (
                Rc::as_ptr(r).cast(),
                Box::new(|| Shape::Record(fields(&r.fields))),
            ),
            Ty::Enum(e) => (
                Rc::as_ptr(e).cast(),
                Box::new(|| Shape::Enum(e.values.iter().map(ToString::to_string).collect())),
            ),
            Ty::Union(u) => (
                Rc::as_ptr(u).cast(),
                Box::new(|| {
                    Shape::Union(
                        u.variants
                            .iter()
                            .map(|(tag, r)| (tag.to_string(), fields(&r.fields)))
                            .collect(),
                    )
                }),
            ),
            _ => return None,
        };
        if let Some(&i) = self.seen.get(&key) {
            return Some(i);
        }
        shapes.push(make());
        self.seen.insert(key, shapes.len() - 1);
        Some(shapes.len() - 1)
    }
}

fn fields(fields: &indexmap::IndexMap<crate::types::Name, crate::types::FieldTy>) -> Vec<FieldFact> {
    fields
        .iter()
        .map(|(name, f)| FieldFact {
            name: name.to_string(),
            ty: f.ty.to_string(),
            required: f.required(),
            span: f.span,
        })
        .collect()
}
