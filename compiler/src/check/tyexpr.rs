//! Type expressions as written -> semantic [`Ty`]s: built-in names, declared and imported
//! types, record types (with defaults queued for checking), enums, tagged unions, refinements
//! and function types.

use std::rc::Rc;

use indexmap::IndexMap;
use kiln_lang::ast::{self, Expr, ExprKind, TypeExpr, TypeExprKind, UnaryOp, UnitKind};
use kiln_lang::diagnostic::did_you_mean;
use kiln_lang::{Diagnostic, Span};

use super::expr::Named;
use super::{BUILTIN_TYPES, Checker, Global};
use crate::codes;
use crate::eval::RVal;
use crate::ir::Ir;
use crate::types::*;
use crate::units::{Duration, Percent, Quantity};

impl<'a> Checker<'a> {
    /// Resolves a type expression; `name` is the `type` declaration it is the body of.
    pub(super) fn resolve_type(&mut self, te: &'a TypeExpr, name: Option<&'a ast::Ident>) -> Ty {
        if !self.enter(te.span) {
            return Ty::Error;
        }
        let ty = self.resolve_type_nested(te, name);
        self.depth -= 1;
        ty
    }

    fn resolve_type_nested(&mut self, te: &'a TypeExpr, name: Option<&'a ast::Ident>) -> Ty {
        let type_name = name.map(|n| TypeName {
            module: self.module_name(self.module),
            name: Name::from(n.name.as_str()),
            stdlib: self.is_stdlib(self.module),
        });
        let decl = match name {
            Some(n) if !self.is_stdlib(self.module) => Some(n.span),
            None if !self.is_stdlib(self.module) => Some(te.span),
            _ => None,
        };
        match &te.kind {
            TypeExprKind::Error => Ty::Error,
            TypeExprKind::Named { path, args } => self.named(path, args),
            TypeExprKind::Record { fields, open } => {
                Ty::Record(Rc::new(self.record_type(fields, *open, type_name, decl)))
            }
            TypeExprKind::Literal(l) => match lit_val(l) {
                Some(v) => Ty::Enum(Rc::new(EnumTy {
                    name: type_name,
                    values: vec![v],
                })),
                None => {
                    self.invalid_type(te.span, "a Float literal cannot be a type", None);
                    Ty::Error
                }
            },
            TypeExprKind::Variant { .. } => self.union(std::slice::from_ref(te), type_name, decl),
            TypeExprKind::Union(items) => self.union(items, type_name, decl),
            TypeExprKind::Refined { base, refinement } => {
                let base_ty = self.resolve_type(base, None);
                self.refine(base_ty, refinement, te.span)
            }
            TypeExprKind::Function { params, ret } => {
                let params = params.iter().map(|p| self.resolve_type(p, None)).collect();
                let ret = self.resolve_type(ret, None);
                Ty::Function(Rc::new(FnTy { params, ret }))
            }
        }
    }

    fn invalid_type(&mut self, span: Span, message: &str, help: Option<&str>) {
        let mut d = Diagnostic::error(codes::INVALID_TYPE, message.to_string(), span, "invalid type");
        if let Some(h) = help {
            d = d.with_help(h.to_string());
        }
        self.push(d);
    }

    fn named(&mut self, path: &'a ast::Path, args: &'a [TypeExpr]) -> Ty {
        if path.segments.len() == 1 {
            let n = path.segments[0].name.as_str();
            let builtin = match n {
                "Int" => Some(Ty::Int),
                "Float" => Some(Ty::Float),
                "Bool" => Some(Ty::Bool),
                "String" => Some(Ty::String),
                "Cpu" => Some(Ty::Cpu),
                "Memory" => Some(Ty::Memory),
                "Quantity" => Some(Ty::Quantity),
                "Duration" => Some(Ty::Duration),
                "Percent" => Some(Ty::Percent),
                "Any" => Some(Ty::Any),
                "IntOrString" => Some(Ty::IntOrString),
                "List" | "Map" | "Ref" => {
                    if args.len() != 1 {
                        self.invalid_type(
                            path.span,
                            &format!("`{n}` takes one type argument"),
                            Some(&format!("write `{n}<String>`")),
                        );
                        return Ty::Error;
                    }
                    let inner = Rc::new(self.resolve_type(&args[0], None));
                    return match n {
                        "List" => Ty::List(inner),
                        "Map" => Ty::Map(inner),
                        _ => Ty::Ref(inner),
                    };
                }
                _ => None,
            };
            if let Some(t) = builtin
                && !self.scopes[self.module].contains_key(n)
            {
                if !args.is_empty() {
                    self.invalid_type(path.span, &format!("`{n}` takes no type arguments"), None);
                }
                return t;
            }
        }
        if !args.is_empty() {
            self.invalid_type(
                path.span,
                "only `List`, `Map` and `Ref` take type arguments",
                None,
            );
        }
        match self.type_path(path, None) {
            Some(Named::Ty(t)) => t,
            Some(Named::Variant(_, _, r)) => Ty::Record(r),
            None => Ty::Error,
        }
    }

    /// Resolves `T`, `alias.T`, `Union.Tag` or `alias.Union.Tag`. `variant_of` lets a bare `Tag`
    /// name a variant of the expected union. Reports unknown names.
    pub(super) fn type_path(
        &mut self,
        path: &'a ast::Path,
        variant_of: Option<&Rc<UnionTy>>,
    ) -> Option<Named> {
        let segs = &path.segments;
        let first = segs.first()?;
        let mut module = self.module;
        let mut rest = &segs[..];
        if segs.len() > 1
            && let Some(Global::Import(target)) = self.scopes[self.module].get(first.name.as_str()).copied()
        {
            module = target?;
            rest = &segs[1..];
        }
        let head = &rest[0];
        let ty = match self.scopes[module].get(head.name.as_str()).copied() {
            Some(Global::Type(id)) => {
                let ty = self.named_type(id, head.span);
                let def = self.tys[id].name.span;
                self.note_name(head.span, Some(def), &ty, super::facts::NameKind::Type);
                ty
            }
            // A bare tag of the expected union, even one spelled like a built-in type
            // (`Float { default = 0.1 }` for a pipeline parameter).
            _ if rest.len() == 1
                && let Some(u) = variant_of
                && let Some(r) = u.variants.get(head.name.as_str()) =>
            {
                return Some(Named::Variant(
                    u.clone(),
                    Name::from(head.name.as_str()),
                    r.clone(),
                ));
            }
            _ if module == self.module && rest.len() == 1 && BUILTIN_TYPES.contains(&head.name.as_str()) => {
                return Some(Named::Ty(self.named(path, &[])));
            }
            _ => {
                let mut candidates: Vec<&str> = self.scopes[module]
                    .iter()
                    .filter(|(_, g)| matches!(g, Global::Type(_)))
                    .map(|(n, _)| *n)
                    .collect();
                candidates.sort_unstable();
                if module == self.module {
                    candidates.extend(BUILTIN_TYPES.iter().copied());
                }
                if let Some(u) = variant_of {
                    candidates.extend(u.variants.keys().map(|k| &**k));
                }
                let what = if module == self.module {
                    "type".to_string()
                } else {
                    format!("type in module `{}`", self.modules[module].name)
                };
                let mut d = Diagnostic::error(
                    codes::UNKNOWN_NAME,
                    format!("unknown {what} `{}`", head.name),
                    head.span,
                    "not a type",
                );
                if let Some(s) = did_you_mean(&head.name, candidates) {
                    d = d.with_help(format!("did you mean `{s}`?"));
                }
                self.push(d);
                return None;
            }
        };
        match (rest.len(), &ty) {
            (1, _) => Some(Named::Ty(ty)),
            (2, Ty::Union(u)) => {
                let tag = &rest[1];
                match u.variants.get(tag.name.as_str()) {
                    Some(r) => Some(Named::Variant(
                        u.clone(),
                        Name::from(tag.name.as_str()),
                        r.clone(),
                    )),
                    None => {
                        let mut d = Diagnostic::error(
                            codes::NOT_IN_ENUM,
                            format!("`{}` is not a variant of {}", tag.name, ty),
                            tag.span,
                            "unknown variant",
                        );
                        d = match did_you_mean(&tag.name, u.variants.keys().map(|k| &**k)) {
                            Some(s) => d.with_help(format!("did you mean `{s}`?")),
                            None => d.with_help(self.union_help(u)),
                        };
                        self.push(d);
                        None
                    }
                }
            }
            (_, Ty::Error) => None,
            _ => {
                self.error(
                    codes::UNKNOWN_NAME,
                    format!("`{}` has no member `{}`", head.name, rest[1].name),
                    rest[1].span,
                    "not found",
                );
                None
            }
        }
    }

    pub(super) fn record_type(
        &mut self,
        fields: &'a [ast::FieldDecl],
        open: bool,
        name: Option<TypeName>,
        decl: Option<Span>,
    ) -> RecordTy {
        let mut out: IndexMap<Name, FieldTy> = IndexMap::with_capacity(fields.len());
        for fd in fields {
            let fname = fd.name.name();
            if let Some(prev) = out.get(fname) {
                let d = Diagnostic::error(
                    codes::DUPLICATE_DEFINITION,
                    format!("field `{fname}` is declared twice"),
                    fd.name.span(),
                    "second declaration",
                )
                .with_label(prev.span, "first declared here");
                self.push(d);
                continue;
            }
            let ty = self.resolve_type(&fd.ty, None);
            let default = fd.default.as_ref().map(|expr| {
                let id = self.prog.defaults.len() as u32;
                self.prog.defaults.push(Ir::Lit(RVal::Unset));
                self.pending_defaults.push((self.module, expr, ty.clone(), id));
                id
            });
            out.insert(
                Name::from(fname),
                FieldTy {
                    ty,
                    optional: fd.optional,
                    default,
                    span: fd.name.span(),
                },
            );
        }
        RecordTy {
            name,
            fields: out,
            open,
            decl,
        }
    }

    fn union(&mut self, items: &'a [TypeExpr], name: Option<TypeName>, decl: Option<Span>) -> Ty {
        let all_literals = items.iter().all(|t| matches!(t.kind, TypeExprKind::Literal(_)));
        let all_variants = items
            .iter()
            .all(|t| matches!(t.kind, TypeExprKind::Variant { .. }));
        if all_literals {
            let mut values: Vec<LitVal> = Vec::new();
            for t in items {
                let TypeExprKind::Literal(l) = &t.kind else {
                    continue;
                };
                match lit_val(l) {
                    Some(v)
                        if values
                            .first()
                            .is_some_and(|f| std::mem::discriminant(f) != std::mem::discriminant(&v)) =>
                    {
                        self.invalid_type(
                            t.span,
                            "the alternatives of an enum must all be of one type",
                            None,
                        );
                    }
                    Some(v) if values.contains(&v) => {}
                    Some(v) => values.push(v),
                    None => self.invalid_type(t.span, "a Float literal cannot be a type", None),
                }
            }
            return Ty::Enum(Rc::new(EnumTy { name, values }));
        }
        if all_variants {
            let mut variants: IndexMap<Name, Rc<RecordTy>> = IndexMap::new();
            for t in items {
                let TypeExprKind::Variant { tag, fields } = &t.kind else {
                    continue;
                };
                if variants.contains_key(tag.name.as_str()) {
                    self.error(
                        codes::DUPLICATE_DEFINITION,
                        format!("variant `{}` is declared twice", tag.name),
                        tag.span,
                        "second declaration",
                    );
                    continue;
                }
                let vname = name.as_ref().map(|n| TypeName {
                    module: n.module.clone(),
                    name: Name::from(format!("{}.{}", n.name, tag.name)),
                    stdlib: n.stdlib,
                });
                let r = self.record_type(fields, false, vname, decl);
                variants.insert(Name::from(tag.name.as_str()), Rc::new(r));
            }
            return Ty::Union(Rc::new(UnionTy { name, variants, decl }));
        }
        let span = items
            .first()
            .map_or(Span::default(), |f| f.span)
            .to(items.last().map_or(Span::default(), |l| l.span));
        self.invalid_type(
            span,
            "a union must list either literals (`\"a\" | \"b\"`) or tagged variants (`A { .. } | B { .. }`)",
            Some("give each alternative a tag: `S3 { bucket: String } | Pvc { claim: String }`"),
        );
        Ty::Error
    }

    fn refine(&mut self, base: Ty, refinement: &'a ast::Refinement, span: Span) -> Ty {
        if base.is_error() {
            return Ty::Error;
        }
        match refinement {
            ast::Refinement::Regex { pattern, span: rspan } => {
                if !matches!(base.base(), Ty::String) {
                    self.invalid_type(
                        span,
                        &format!("a pattern refines a String, not {}", base.describe()),
                        None,
                    );
                    return Ty::Error;
                }
                // Search semantics, as in JSON Schema / CRD `pattern`: anchor with `^...$` explicitly.
                match regex::Regex::new(pattern) {
                    Ok(re) => Ty::Refined(Rc::new(RefinedTy {
                        base,
                        refinement: Refinement::Regex(Rc::new(re)),
                        text: format!("/{pattern}/"),
                    })),
                    Err(e) => {
                        let msg = e.to_string();
                        let last = msg.lines().last().unwrap_or("invalid pattern").trim().to_string();
                        self.push(Diagnostic::error(
                            codes::INVALID_TYPE,
                            format!("invalid regular expression: {last}"),
                            *rspan,
                            "this pattern",
                        ));
                        Ty::Error
                    }
                }
            }
            ast::Refinement::Range { lo, hi } => {
                let length = matches!(base.base(), Ty::String | Ty::List(_) | Ty::Map(_));
                let bound_ty = if length { Ty::Int } else { base.base().clone() };
                if !length && !matches!(bound_ty, Ty::Int | Ty::Float) && !bound_ty.is_unit() {
                    self.invalid_type(span, &format!("a range cannot refine {}", base.describe()), None);
                    return Ty::Error;
                }
                let bound = |c: &mut Self, e: &'a Option<Box<Expr>>| -> Result<Option<RVal>, ()> {
                    let Some(e) = e else { return Ok(None) };
                    match const_value(e).and_then(|v| convert_bound(v, &bound_ty)) {
                        Some(v) => Ok(Some(v)),
                        None => {
                            c.push(Diagnostic::error(
                                codes::INVALID_TYPE,
                                format!(
                                    "a bound of {} must be a literal of that type",
                                    bound_ty.describe()
                                ),
                                e.span,
                                "not a constant of the right type",
                            ));
                            Err(())
                        }
                    }
                };
                let (Ok(lo), Ok(hi)) = (bound(self, lo), bound(self, hi)) else {
                    return Ty::Error;
                };
                let show = |b: &Option<RVal>| b.as_ref().map_or(String::new(), RVal::show);
                let text = format!("{}..{}", show(&lo), show(&hi));
                Ty::Refined(Rc::new(RefinedTy {
                    base,
                    refinement: Refinement::Range { lo, hi },
                    text,
                }))
            }
        }
    }
}

fn lit_val(l: &ast::Literal) -> Option<LitVal> {
    match l {
        ast::Literal::Int(i) => Some(LitVal::Int(*i)),
        ast::Literal::Bool(b) => Some(LitVal::Bool(*b)),
        ast::Literal::Str(s) => Some(LitVal::Str(Name::from(s.as_str()))),
        ast::Literal::Float(_) => None,
    }
}

/// The value of a literal expression (numbers, units, strings, booleans, negation), if constant.
pub(super) fn const_value(e: &Expr) -> Option<RVal> {
    match &e.kind {
        ExprKind::Int(i) => Some(RVal::Int(*i)),
        ExprKind::Float(f) => Some(RVal::Float(*f)),
        ExprKind::Bool(b) => Some(RVal::Bool(*b)),
        ExprKind::Str(s) => s.as_plain().map(|s| RVal::str(&s)),
        ExprKind::Unit { text, unit } => match unit {
            UnitKind::Quantity => Quantity::parse(text).ok().map(RVal::Quantity),
            UnitKind::Duration => Duration::parse(text).ok().map(RVal::Duration),
            UnitKind::Percent => Percent::parse(text).ok().map(RVal::Percent),
        },
        ExprKind::Paren(inner) => const_value(inner),
        ExprKind::Unary {
            op: UnaryOp::Neg,
            operand,
        } => match const_value(operand)? {
            RVal::Int(i) => i.checked_neg().map(RVal::Int),
            RVal::Float(f) => Some(RVal::Float(-f)),
            RVal::Quantity(q) => q.checked_neg().ok().map(RVal::Quantity),
            RVal::Duration(d) => d.checked_neg().ok().map(RVal::Duration),
            RVal::Percent(p) => p.checked_neg().ok().map(RVal::Percent),
            _ => None,
        },
        _ => None,
    }
}

/// A range bound as a value of the refined base type (`1` for a Cpu range is one core).
fn convert_bound(v: RVal, ty: &Ty) -> Option<RVal> {
    match (v, ty) {
        (RVal::Int(i), Ty::Int) => Some(RVal::Int(i)),
        (RVal::Int(i), Ty::Float) => Some(RVal::Float(i as f64)),
        (RVal::Float(f), Ty::Float) => Some(RVal::Float(f)),
        (RVal::Int(i), Ty::Cpu | Ty::Quantity) => Some(RVal::Quantity(Quantity::from_int(i))),
        (RVal::Quantity(q), Ty::Cpu | Ty::Memory | Ty::Quantity) => Some(RVal::Quantity(q)),
        (RVal::Duration(d), Ty::Duration) => Some(RVal::Duration(d)),
        (RVal::Percent(p), Ty::Percent) => Some(RVal::Percent(p)),
        _ => None,
    }
}
