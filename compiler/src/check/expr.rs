//! Expressions: literals and units (with the expected type deciding coercions), names, field
//! access, calls, operators with dimension-aware typing, comprehensions, lambdas and `match`.

use std::rc::Rc;

use kiln_lang::ast::{self, BinOp, CompClause, Expr, ExprKind, StrPart, UnaryOp, UnitKind};
use kiln_lang::diagnostic::did_you_mean;
use kiln_lang::{Diagnostic, Span};

use super::assign::{apply, compat, map_value_type};
use super::{BUILTINS, Checker, Global, Local, facts};
use crate::codes;
use crate::eval::RVal;
use crate::ir::*;
use crate::types::*;
use crate::units::{Duration, Format, Percent, Quantity, UnitError, quantity_from_f64};

/// A type path resolved to a type or to one variant of a tagged union.
pub(super) enum Named {
    Ty(Ty),
    Variant(Rc<UnionTy>, Name, Rc<RecordTy>),
}

fn unset() -> Ir {
    Ir::Lit(RVal::Unset)
}

impl<'a> Checker<'a> {
    /// Checks `e`, against `expected` when given. Returns the type (the expected one when it
    /// matched) and the lowered expression.
    pub(super) fn check(&mut self, e: &'a Expr, expected: Option<&Ty>) -> (Ty, Ir) {
        if !self.enter(e.span) {
            return (Ty::Error, Ir::Lit(RVal::Unset));
        }
        let result = self.check_nested(e, expected);
        self.depth -= 1;
        result
    }

    fn check_nested(&mut self, e: &'a Expr, expected: Option<&Ty>) -> (Ty, Ir) {
        if let Some(t) = expected {
            self.note_expected(e.span, t);
        }
        if let Some(Ty::Refined(r)) = expected {
            let (found, ir) = self.check(e, Some(&r.base));
            if found.is_error() {
                return (Ty::Error, ir);
            }
            if let Ir::Lit(v) = &ir {
                if let Err(why) = check_refinement(&r.refinement, v) {
                    self.push(
                        Diagnostic::error(
                            codes::REFINEMENT_VIOLATED,
                            format!("value {why}"),
                            e.span,
                            format!("must be in {}", r.text),
                        )
                        .with_note(format!("the expected type is {}", Ty::Refined(r.clone()))),
                    );
                }
                return (expected.cloned().unwrap_or(Ty::Error), ir);
            }
            return (Ty::Refined(r.clone()), apply(ir, Conv::Check(r.clone()), e.span));
        }
        let expected = expected.filter(|t| !matches!(t, Ty::Error | Ty::Any));
        if let Some(Ty::Ref(target)) = expected {
            return self.reference(e, target);
        }
        match &e.kind {
            ExprKind::Int(n) => self.int_literal(*n, e.span, expected),
            ExprKind::Float(f) => self.float_literal(*f, e.span, expected),
            ExprKind::Unit { text, unit } => self.unit_literal(text, *unit, e.span, expected),
            ExprKind::Str(s) => self.string(s, e.span, expected),
            ExprKind::Paren(inner) => self.check(inner, expected),
            _ => {
                let (found, ir) = self.infer(e, expected);
                match expected {
                    Some(exp) => self.coerce(found, exp, ir, e.span),
                    None => (found, ir),
                }
            }
        }
    }

    fn int_literal(&mut self, n: i64, span: Span, expected: Option<&Ty>) -> (Ty, Ir) {
        let lit = Ir::Lit(RVal::Int(n));
        match expected.map(Ty::base) {
            None | Some(Ty::Int) => (Ty::Int, lit),
            Some(Ty::Float) => (Ty::Float, Ir::Lit(RVal::Float(n as f64))),
            Some(t @ (Ty::Cpu | Ty::Quantity)) => (t.clone(), Ir::Lit(RVal::Quantity(Quantity::from_int(n)))),
            Some(t @ (Ty::Memory | Ty::Duration | Ty::Percent)) => {
                let t = t.clone();
                self.missing_unit(&t, &n.to_string(), span);
                (Ty::Error, lit)
            }
            Some(Ty::Enum(en)) if matches!(en.base(), Ty::Int) => self.enum_member(
                en,
                &LitVal::Int(n),
                span,
                expected.cloned().unwrap_or(Ty::Error),
                lit,
            ),
            Some(exp) => {
                let exp = exp.clone();
                self.coerce(Ty::Int, &exp, lit, span)
            }
        }
    }

    fn float_literal(&mut self, f: f64, span: Span, expected: Option<&Ty>) -> (Ty, Ir) {
        let lit = Ir::Lit(RVal::Float(f));
        match expected.map(Ty::base) {
            None | Some(Ty::Float) => (Ty::Float, lit),
            Some(t @ (Ty::Cpu | Ty::Quantity)) => match quantity_from_f64(f) {
                Ok(q) => (
                    t.clone(),
                    Ir::Lit(RVal::Quantity(Quantity::from_milli(q.milli, Format::DecimalSi))),
                ),
                Err(e) => {
                    self.unit_error(&f.to_string(), &e, span);
                    (Ty::Error, lit)
                }
            },
            Some(t @ (Ty::Memory | Ty::Duration | Ty::Percent)) => {
                let t = t.clone();
                self.missing_unit(&t, &f.to_string(), span);
                (Ty::Error, lit)
            }
            Some(exp) => {
                let exp = exp.clone();
                self.coerce(Ty::Float, &exp, lit, span)
            }
        }
    }

    /// K0302: a bare number `n` where `t` (Memory, Duration or Percent) is expected.
    fn missing_unit(&mut self, t: &Ty, n: &str, span: Span) {
        let help = match t {
            Ty::Memory => format!("write {n}Gi (binary) or {n}G (decimal)"),
            Ty::Duration => format!("write {n}s, {n}min or {n}h"),
            _ => format!("write {n}%"),
        };
        self.push(
            Diagnostic::error(
                codes::MISSING_UNIT,
                format!("expected {}, found the number {n}", t.describe()),
                span,
                "a number without a unit",
            )
            .with_help(help),
        );
    }

    fn unit_error(&mut self, text: &str, e: &UnitError, span: Span) {
        let (message, help) = match e {
            UnitError::TooPrecise => (
                format!("`{text}` has more than three decimals"),
                "Kubernetes quantities are exact to a thousandth: use a smaller unit (`100Mi`, not `0.0001Ti`)",
            ),
            UnitError::Overflow => (format!("`{text}` is too large"), "use a smaller value"),
            UnitError::UnknownSuffix(s) => (
                format!("`{text}` has an unknown unit `{s}`"),
                "quantities use Ki Mi Gi Ti Pi Ei or m k M G T P E; durations ms s min h d",
            ),
            UnitError::Syntax => (
                format!("`{text}` is not a valid unit literal"),
                "write a number and a unit, like `16Gi`",
            ),
        };
        self.push(
            Diagnostic::error(codes::INVALID_QUANTITY, message, span, "invalid literal").with_help(help),
        );
    }

    fn unit_literal(&mut self, text: &str, unit: UnitKind, span: Span, expected: Option<&Ty>) -> (Ty, Ir) {
        let (natural, value) = match unit {
            UnitKind::Quantity => match Quantity::parse(text) {
                Ok(q) => {
                    let milli_suffix = text.ends_with('m');
                    let t = if milli_suffix { Ty::Cpu } else { Ty::Memory };
                    (t, RVal::Quantity(q))
                }
                Err(e) => {
                    self.unit_error(text, &e, span);
                    return (Ty::Error, unset());
                }
            },
            UnitKind::Duration => match Duration::parse(text) {
                Ok(d) => (Ty::Duration, RVal::Duration(d)),
                Err(e) => {
                    self.unit_error(text, &e, span);
                    return (Ty::Error, unset());
                }
            },
            UnitKind::Percent => match Percent::parse(text) {
                Ok(p) => (Ty::Percent, RVal::Percent(p)),
                Err(e) => {
                    self.unit_error(text, &e, span);
                    return (Ty::Error, unset());
                }
            },
        };
        let lit = Ir::Lit(value);
        let Some(exp) = expected else {
            return (natural, lit);
        };
        let binary = text.ends_with('i');
        match (exp.base(), &natural) {
            (Ty::Quantity, Ty::Cpu | Ty::Memory) => (Ty::Quantity, lit),
            // A decimal suffix (`2k`) is a valid CPU count; a binary one is not.
            (Ty::Cpu, Ty::Memory) if !binary => (Ty::Cpu, lit),
            (Ty::Cpu, Ty::Memory) => {
                self.push(
                    Diagnostic::error(
                        codes::DIMENSION_MISMATCH,
                        format!("expected a Cpu quantity, found the Memory quantity {text}"),
                        span,
                        "a binary (memory) suffix",
                    )
                    .with_help("CPU is counted in cores: write `4` or `500m`"),
                );
                (Ty::Error, lit)
            }
            (Ty::Memory, Ty::Cpu) => {
                let n = &text[..text.len() - 1];
                self.push(
                    Diagnostic::error(
                        codes::DIMENSION_MISMATCH,
                        format!(
                            "expected a Memory quantity, found {text}, which is {n} thousandths of a byte"
                        ),
                        span,
                        "`m` means milli",
                    )
                    .with_help(format!("write {n}Mi (mebibytes) or {n}M (megabytes)")),
                );
                (Ty::Error, lit)
            }
            (Ty::Duration, Ty::Cpu | Ty::Memory) => {
                let help = match text.strip_suffix('m') {
                    Some(n) => format!("`m` is milli in Kubernetes quantities; write {n}min"),
                    None => "durations are written with ms, s, min, h or d: `30s`, `5min`, `2h`".to_string(),
                };
                self.push(
                    Diagnostic::error(
                        codes::DIMENSION_MISMATCH,
                        format!("expected a Duration, found the quantity {text}"),
                        span,
                        "a quantity, not a duration",
                    )
                    .with_help(help),
                );
                (Ty::Error, lit)
            }
            _ => {
                let exp = exp.clone();
                if let Ty::Enum(_) | Ty::String = exp.base() {
                    self.mismatch(&natural, &exp, span, Some(format!("the {} {text}", natural)));
                    return (Ty::Error, lit);
                }
                self.coerce(natural, &exp, lit, span)
            }
        }
    }

    fn string(&mut self, s: &'a ast::StrLit, span: Span, expected: Option<&Ty>) -> (Ty, Ir) {
        let plain = s.as_plain();
        let ir = match &plain {
            Some(p) => Ir::Lit(RVal::str(p)),
            None => {
                let mut parts = Vec::with_capacity(s.parts.len());
                for part in &s.parts {
                    match part {
                        StrPart::Text(t) => parts.push(Ir::Lit(RVal::str(t))),
                        StrPart::Interp(e) => {
                            let (t, ir) = self.check(e, None);
                            if !interpolable(&t) {
                                self.push(
                                    Diagnostic::error(
                                        codes::TYPE_MISMATCH,
                                        format!("cannot interpolate {} into a string", t.describe()),
                                        e.span,
                                        "not a scalar",
                                    )
                                    .with_help(
                                        "interpolate one of its fields, or build the text with `join`",
                                    ),
                                );
                            }
                            parts.push(ir);
                        }
                    }
                }
                Ir::Interp(parts)
            }
        };
        let Some(exp) = expected else {
            return (Ty::String, ir);
        };
        match exp.base() {
            Ty::String => (exp.clone(), ir),
            Ty::Enum(en) if matches!(en.base(), Ty::String) => match plain {
                Some(p) => {
                    let en = en.clone();
                    self.enum_member(&en, &LitVal::Str(Name::from(p.as_str())), span, exp.clone(), ir)
                }
                None => {
                    self.push(
                        Diagnostic::error(
                            codes::TYPE_MISMATCH,
                            format!("expected {}, found an interpolated string", exp.describe()),
                            span,
                            "may be any text",
                        )
                        .with_help("write one of the alternatives literally"),
                    );
                    (Ty::Error, ir)
                }
            },
            t if t.is_unit() => {
                let parses = plain.as_deref().is_some_and(|p| match t {
                    Ty::Duration => Duration::parse(p).is_ok(),
                    Ty::Percent => Percent::parse(p).is_ok(),
                    _ => Quantity::parse(p).is_ok(),
                });
                let found = match &plain {
                    Some(p) => format!("the string {:?}", kiln_lang::diagnostic::quote(p)),
                    None => "a string".to_string(),
                };
                let mut d = Diagnostic::error(
                    codes::STRING_FOR_QUANTITY,
                    format!("expected {}, found {found}", t.describe()),
                    span,
                    "a string",
                );
                d = match (&plain, parses) {
                    (Some(p), true) => d.with_help(format!("write {p} without quotes")),
                    _ => d.with_help(
                        "units are values, not strings: write a literal like `16Gi`, `500m` or `30s`",
                    ),
                };
                self.push(d);
                (Ty::Error, ir)
            }
            _ => {
                let exp = exp.clone();
                let what = plain.map(|p| format!("the string {:?}", kiln_lang::diagnostic::quote(&p)));
                if compat(&Ty::String, &exp).is_none() {
                    self.mismatch(&Ty::String, &exp, span, what);
                    return (Ty::Error, ir);
                }
                self.coerce(Ty::String, &exp, ir, span)
            }
        }
    }

    fn enum_member(&mut self, en: &Rc<EnumTy>, v: &LitVal, span: Span, exp: Ty, ir: Ir) -> (Ty, Ir) {
        if en.values.contains(v) {
            return (exp, ir);
        }
        let options: Vec<String> = en.values.iter().map(ToString::to_string).collect();
        let mut d = Diagnostic::error(
            codes::NOT_IN_ENUM,
            format!("{v} is not one of {}", Ty::Enum(en.clone())),
            span,
            "not an allowed value",
        );
        let text = v.to_string();
        match did_you_mean(&text, options.iter().map(String::as_str)) {
            Some(s) => d = d.with_help(format!("did you mean {s}?")),
            None => d = d.with_note(format!("allowed: {}", options.join(", "))),
        }
        self.push(d);
        (Ty::Error, ir)
    }

    /// Infers the type of a non-literal expression; `expected` guides records, lists, lambdas,
    /// branches and bare variant constructs.
    fn infer(&mut self, e: &'a Expr, expected: Option<&Ty>) -> (Ty, Ir) {
        match &e.kind {
            ExprKind::Error => (Ty::Error, unset()),
            ExprKind::Bool(b) => (Ty::Bool, Ir::Lit(RVal::Bool(*b))),
            ExprKind::Int(_)
            | ExprKind::Float(_)
            | ExprKind::Unit { .. }
            | ExprKind::Str(_)
            | ExprKind::Paren(_) => self.check(e, None),
            ExprKind::Name(ident) => self.lookup(ident),
            ExprKind::Field { target, field } => self.field(target, field, e.span),
            ExprKind::Index { target, index } => {
                let (t, tir) = self.check(target, None);
                let (elem, index_ir) = match t.base() {
                    Ty::List(el) => ((**el).clone(), self.check(index, Some(&Ty::Int)).1),
                    Ty::Map(el) => ((**el).clone(), self.check(index, Some(&Ty::String)).1),
                    Ty::Error => (Ty::Error, self.check(index, None).1),
                    other => {
                        let d = Diagnostic::error(
                            codes::TYPE_MISMATCH,
                            format!("cannot index {}", other.describe()),
                            target.span,
                            "not a List or Map",
                        );
                        let d = if let Ty::Record(_) = other {
                            d.with_help("read a record's field with `.name`")
                        } else {
                            d
                        };
                        self.push(d);
                        (Ty::Error, self.check(index, None).1)
                    }
                };
                (
                    elem,
                    Ir::Index {
                        target: Box::new(tir),
                        index: Box::new(index_ir),
                        span: e.span,
                    },
                )
            }
            ExprKind::Call { callee, args } => self.call(callee, args, e.span),
            ExprKind::List(items) => self.list(items, expected),
            ExprKind::ListComp { body, clauses } => {
                let elem = match expected.map(Ty::base) {
                    Some(Ty::List(el)) => Some((**el).clone()),
                    _ => None,
                };
                let depth = self.locals.len();
                let clauses_ir = self.clauses(clauses);
                let (t, body_ir) = self.check(body, elem.as_ref());
                self.locals.truncate(depth);
                (
                    Ty::List(Rc::new(t)),
                    Ir::Comp(Box::new(Comp {
                        clauses: clauses_ir,
                        body: CompBody::List(body_ir),
                        span: e.span,
                    })),
                )
            }
            ExprKind::RecordComp { key, value, clauses } => {
                let elem = match expected.map(Ty::base) {
                    Some(Ty::Map(el)) => Some((**el).clone()),
                    _ => None,
                };
                let depth = self.locals.len();
                let clauses_ir = self.clauses(clauses);
                let (_, key_ir) = self.check(key, Some(&Ty::String));
                let (t, value_ir) = self.check(value, elem.as_ref());
                self.locals.truncate(depth);
                (
                    Ty::Map(Rc::new(t)),
                    Ir::Comp(Box::new(Comp {
                        clauses: clauses_ir,
                        body: CompBody::Map {
                            key: key_ir,
                            value: value_ir,
                        },
                        span: e.span,
                    })),
                )
            }
            ExprKind::Record(entries) => self.record(entries, expected, e.span, None),
            ExprKind::Construct { ty, fields } => self.construct(ty, fields, expected, e.span),
            ExprKind::With { base, patch } => self.with(base, patch, expected, e.span),
            ExprKind::If {
                cond,
                then_branch,
                else_branch,
            } => {
                let (_, cond_ir) = self.check(cond, Some(&Ty::Bool));
                let (t, then_ir) = self.check(then_branch, expected);
                let target = if expected.is_some() || t.is_error() {
                    expected.cloned()
                } else {
                    Some(t.clone())
                };
                let (t2, else_ir) = self.check(else_branch, target.as_ref());
                let t = if t.is_error() { t2 } else { t };
                (
                    t,
                    Ir::If {
                        cond: Box::new(cond_ir),
                        then_branch: Box::new(then_ir),
                        else_branch: Box::new(else_ir),
                    },
                )
            }
            ExprKind::Binary { op, lhs, rhs } => self.binary(*op, lhs, rhs, e.span),
            ExprKind::Unary { op, operand } => match op {
                UnaryOp::Not => {
                    let (_, ir) = self.check(operand, Some(&Ty::Bool));
                    (Ty::Bool, Ir::Not(Box::new(ir)))
                }
                UnaryOp::Neg => {
                    let (t, ir) = self.check(operand, expected.filter(|t| t.is_numeric() || t.is_unit()));
                    if !(t.is_numeric() || t.is_unit() || t.is_error()) {
                        self.error(
                            codes::TYPE_MISMATCH,
                            format!("cannot negate {}", t.describe()),
                            operand.span,
                            "not a number",
                        );
                        return (Ty::Error, ir);
                    }
                    let folded = match &ir {
                        Ir::Lit(RVal::Int(i)) => i.checked_neg().map(RVal::Int),
                        Ir::Lit(RVal::Float(f)) => Some(RVal::Float(-f)),
                        Ir::Lit(RVal::Quantity(q)) => q.checked_neg().ok().map(RVal::Quantity),
                        Ir::Lit(RVal::Duration(d)) => d.checked_neg().ok().map(RVal::Duration),
                        Ir::Lit(RVal::Percent(p)) => p.checked_neg().ok().map(RVal::Percent),
                        _ => None,
                    };
                    match folded {
                        Some(v) => (t, Ir::Lit(v)),
                        None => (
                            t,
                            Ir::Neg {
                                operand: Box::new(ir),
                                span: e.span,
                            },
                        ),
                    }
                }
            },
            ExprKind::Match { scrutinee, arms } => self.match_expr(scrutinee, arms, expected, e.span),
            ExprKind::Lambda { params, body } => self.lambda(params, body, expected, e.span),
        }
    }

    fn field(&mut self, target: &'a Expr, field: &'a ast::Ident, span: Span) -> (Ty, Ir) {
        if let ExprKind::Name(alias) = &target.kind
            && let Some(m) = self.import_alias(&alias.name)
        {
            let Some(m) = m else { return (Ty::Error, unset()) };
            return match self.scopes[m].get(field.name.as_str()).copied() {
                Some(g @ (Global::Let(_) | Global::Fn(_) | Global::Type(_))) => {
                    let saved = std::mem::replace(&mut self.module, m);
                    let r = self.global_value(g, field);
                    self.module = saved;
                    if let Some((def, kind)) = self.global_def(g) {
                        self.note_name(field.span, Some(def), &r.0, kind);
                    }
                    r
                }
                _ => {
                    let mut names: Vec<&str> = self.scopes[m]
                        .iter()
                        .filter(|(_, g)| matches!(g, Global::Let(_) | Global::Fn(_)))
                        .map(|(n, _)| *n)
                        .collect();
                    names.sort_unstable();
                    let what = format!("name in module `{}`", self.modules[m].name);
                    self.unknown_name(field, names, &what);
                    (Ty::Error, unset())
                }
            };
        }
        if let ExprKind::Name(n) = &target.kind
            && let Some(found) = self.self_path(&n.name, field)
        {
            return found;
        }
        let (t, tir) = self.check(target, None);
        let ir = |tir| Ir::Field {
            target: Box::new(tir),
            name: Name::from(field.name.as_str()),
            span,
        };
        match t.base() {
            Ty::Error | Ty::Any => (t.clone(), ir(tir)),
            Ty::Record(r) => match r.fields.get(field.name.as_str()) {
                Some(f) => {
                    let (ty, def) = (f.ty.clone(), f.span);
                    self.note_name(field.span, Some(def), &ty, facts::NameKind::Field);
                    (ty, ir(tir))
                }
                None if r.open => (Ty::Any, ir(tir)),
                None => {
                    let r = r.clone();
                    self.unknown_field(&r, &field.name, field.span, &t);
                    (Ty::Error, ir(tir))
                }
            },
            Ty::Map(_) => {
                self.push(
                    Diagnostic::error(
                        codes::TYPE_MISMATCH,
                        format!("{} has no fields", t.describe()),
                        field.span,
                        "field access on a map",
                    )
                    .with_help(format!("look the key up with `[\"{}\"]`", field.name)),
                );
                (Ty::Error, ir(tir))
            }
            other => {
                let d = Diagnostic::error(
                    codes::TYPE_MISMATCH,
                    format!("{} has no field `{}`", other.describe(), field.name),
                    field.span,
                    "no such field",
                );
                self.push(d);
                (Ty::Error, ir(tir))
            }
        }
    }

    /// K0203 with did-you-mean and a label on the type's declaration (user files only).
    pub(super) fn unknown_field(&mut self, r: &Rc<RecordTy>, name: &str, span: Span, t: &Ty) {
        let mut d = Diagnostic::error(
            codes::UNKNOWN_FIELD,
            format!("unknown field `{name}` in {t}"),
            span,
            format!("not a field of {t}"),
        );
        if let Some(decl) = r.decl {
            d = d.with_label(decl, format!("{t} is declared here"));
        }
        match did_you_mean(name, r.fields.keys().map(|k| &**k)) {
            Some(s) => d = d.with_help(format!("did you mean `{s}`?")),
            None if r.fields.len() <= 12 => {
                let all: Vec<String> = r.fields.keys().map(|k| format!("`{k}`")).collect();
                d = d.with_note(format!("the fields of {t} are {}", all.join(", ")));
            }
            None => {}
        }
        self.push(d);
    }

    fn list(&mut self, items: &'a [Expr], expected: Option<&Ty>) -> (Ty, Ir) {
        let mut elem = match expected.map(Ty::base) {
            Some(Ty::List(el)) => Some((**el).clone()),
            _ => None,
        };
        let fixed = elem.is_some();
        let mut irs = Vec::with_capacity(items.len());
        for item in items {
            let (t, ir) = self.check(item, elem.as_ref());
            if !fixed && (elem.is_none() || elem.as_ref().is_some_and(Ty::is_error)) {
                elem = Some(t);
            }
            irs.push(ir);
        }
        let elem = elem.unwrap_or(Ty::Never);
        (Ty::List(Rc::new(elem)), Ir::List(irs))
    }

    /// Binds comprehension variables; returns the lowered clauses.
    fn clauses(&mut self, clauses: &'a [CompClause]) -> Vec<ClauseIr> {
        let mut out = Vec::with_capacity(clauses.len());
        for clause in clauses {
            match clause {
                CompClause::If { cond, .. } => {
                    let (_, ir) = self.check(cond, Some(&Ty::Bool));
                    out.push(ClauseIr::If(ir));
                }
                CompClause::For { vars, iter, .. } => {
                    let (mut t, mut ir) = self.check(iter, None);
                    if let Ty::Record(r) = t.base()
                        && let Some(elem) = map_value_type(r)
                    {
                        t = Ty::Map(Rc::new(elem));
                        ir = apply(ir, Conv::RecordToMap, iter.span);
                    }
                    let (first, second) = match t.base() {
                        Ty::List(el) => {
                            if vars.len() == 2 {
                                (Ty::Int, Some((**el).clone()))
                            } else {
                                ((**el).clone(), None)
                            }
                        }
                        Ty::Map(el) => (Ty::String, Some((**el).clone())),
                        Ty::Error => (Ty::Error, Some(Ty::Error)),
                        other => {
                            let d = Diagnostic::error(
                                codes::TYPE_MISMATCH,
                                format!("cannot iterate over {}", other.describe()),
                                iter.span,
                                "not a List or Map",
                            )
                            .with_help(
                                "a comprehension iterates over a List or a Map; for numbers use `range(n)`",
                            );
                            self.push(d);
                            (Ty::Error, Some(Ty::Error))
                        }
                    };
                    if vars.len() > 2 {
                        self.error(
                            codes::BAD_CALL,
                            "a `for` binds one or two names",
                            vars[2].span,
                            "extra name",
                        );
                    }
                    let n = vars.len().min(2);
                    if let Some(v) = vars.first() {
                        self.locals.push(Local {
                            name: &v.name,
                            ty: first,
                            field: None,
                        });
                    }
                    if let Some(v) = vars.get(1) {
                        self.locals.push(Local {
                            name: &v.name,
                            ty: second.unwrap_or(Ty::Error),
                            field: None,
                        });
                    }
                    out.push(ClauseIr::For {
                        vars: n as u32,
                        iter: ir,
                    });
                }
            }
        }
        out
    }

    fn binary(&mut self, op: BinOp, lhs: &'a Expr, rhs: &'a Expr, span: Span) -> (Ty, Ir) {
        let mk = |l: Ir, r: Ir| Ir::Binary {
            op,
            lhs: Box::new(l),
            rhs: Box::new(r),
            span,
        };
        match op {
            BinOp::And | BinOp::Or => {
                let (_, l) = self.check(lhs, Some(&Ty::Bool));
                let (_, r) = self.check(rhs, Some(&Ty::Bool));
                return (Ty::Bool, mk(l, r));
            }
            BinOp::Eq | BinOp::Ne => {
                let (lt, l) = self.check(lhs, None);
                // Comparing with a literal checks the literal against the other side's type
                // (an enum typo is caught here).
                if matches!(lt.base(), Ty::Enum(_)) {
                    let (_, r) = self.check(rhs, Some(&lt));
                    return (Ty::Bool, mk(l, r));
                }
                let (rt, r) = self.check(rhs, None);
                return match self.unify(lt, rt, l, r, span, op) {
                    Some((_, l, r)) => (Ty::Bool, mk(l, r)),
                    None => (Ty::Error, unset()),
                };
            }
            _ => {}
        }
        let (lt, l) = self.check(lhs, None);
        let (rt, r) = self.check(rhs, None);
        if lt.is_error() || rt.is_error() {
            return (Ty::Error, mk(l, r));
        }
        match op {
            BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge => match self.unify(lt, rt, l, r, span, op) {
                Some((t, l, r)) => {
                    let ordered =
                        matches!(t.base(), Ty::Int | Ty::Float | Ty::String | Ty::Error) || t.is_unit();
                    if !ordered {
                        self.error(
                            codes::TYPE_MISMATCH,
                            format!("cannot order values of type {t}"),
                            span,
                            "no ordering",
                        );
                    }
                    (Ty::Bool, mk(l, r))
                }
                None => (Ty::Error, unset()),
            },
            BinOp::Add | BinOp::Sub => {
                let (lb, rb) = (lt.base().clone(), rt.base().clone());
                let concat = op == BinOp::Add
                    && (matches!((&lb, &rb), (Ty::String | Ty::Enum(_), Ty::String | Ty::Enum(_)))
                        || matches!((&lb, &rb), (Ty::List(_), Ty::List(_))));
                match self.unify(lt, rt, l, r, span, op) {
                    Some((t, l, r)) => {
                        let ok = concat || t.is_numeric() || t.is_unit();
                        if !ok {
                            self.op_error(op, &lb, &rb, span);
                            return (Ty::Error, mk(l, r));
                        }
                        let t = if let Ty::Enum(_) = t.base() { Ty::String } else { t };
                        (t, mk(l, r))
                    }
                    None => (Ty::Error, unset()),
                }
            }
            BinOp::Mul | BinOp::Div => {
                let (lb, rb) = (lt.base().clone(), rt.base().clone());
                let t = match (&lb, &rb) {
                    (Ty::Int, Ty::Int) => Ty::Int,
                    (Ty::Float, Ty::Float) => Ty::Float,
                    (Ty::Int, Ty::Float) => {
                        return (Ty::Float, mk(apply(l, Conv::IntToFloat, span), r));
                    }
                    (Ty::Float, Ty::Int) => {
                        return (Ty::Float, mk(l, apply(r, Conv::IntToFloat, span)));
                    }
                    (u, Ty::Int) if u.is_unit() => u.clone(),
                    (Ty::Int, u) if u.is_unit() && op == BinOp::Mul => u.clone(),
                    (a, b) if op == BinOp::Div && a.is_unit() && same_dimension(a, b) => Ty::Float,
                    _ => {
                        self.op_error(op, &lb, &rb, span);
                        return (Ty::Error, mk(l, r));
                    }
                };
                (t, mk(l, r))
            }
            _ => unreachable!("handled above"),
        }
    }

    fn op_error(&mut self, op: BinOp, l: &Ty, r: &Ty, span: Span) {
        let verb = match op {
            BinOp::Add => format!("cannot add {l} and {r}"),
            BinOp::Sub => format!("cannot subtract {r} from {l}"),
            BinOp::Mul => format!("cannot multiply {l} by {r}"),
            BinOp::Div => format!("cannot divide {l} by {r}"),
            _ => format!("cannot compare {l} with {r}"),
        };
        let code = if l.is_unit() || r.is_unit() {
            codes::DIMENSION_MISMATCH
        } else {
            codes::TYPE_MISMATCH
        };
        let mut d = Diagnostic::error(code, verb, span, "incompatible operands");
        if l.is_unit() && r.is_unit() && matches!(op, BinOp::Mul) {
            d = d.with_help("a quantity can be multiplied by a whole number only");
        } else if (l.is_unit() && matches!(r, Ty::Float)) || (r.is_unit() && matches!(l, Ty::Float)) {
            d = d.with_help("quantities are exact: scale them by whole numbers (`x * 3 / 2`)");
        } else if (l.is_unit() && matches!(r, Ty::Int)) || (r.is_unit() && matches!(l, Ty::Int)) {
            d = d.with_help("give the number a unit, like `2Gi` or `30s`");
        } else if matches!((l, r), (Ty::String, _) | (_, Ty::String)) {
            d = d.with_help("build text with interpolation: \"${a}${b}\"");
        }
        self.push(d);
    }

    /// Makes two operand types agree (numeric promotion, Int -> Cpu, quantity families).
    fn unify(&mut self, lt: Ty, rt: Ty, l: Ir, r: Ir, span: Span, op: BinOp) -> Option<(Ty, Ir, Ir)> {
        let (lt, rt) = (lt.base().clone(), rt.base().clone());
        if lt.is_error() || rt.is_error() {
            return Some((Ty::Error, l, r));
        }
        if let Some(c) = compat(&rt, &lt) {
            let r = match c {
                Some(c) => apply(r, c, span),
                None => r,
            };
            return Some((lt, l, r));
        }
        if let Some(c) = compat(&lt, &rt) {
            let l = match c {
                Some(c) => apply(l, c, span),
                None => l,
            };
            return Some((rt, l, r));
        }
        let (lb, rb) = (lt.base().clone(), rt.base().clone());
        if lb.is_quantity() && rb.is_quantity() && op != BinOp::Add && op != BinOp::Sub {
            return Some((Ty::Quantity, l, r));
        }
        if matches!(
            (&lb, &rb),
            (Ty::Enum(_), Ty::String) | (Ty::String, Ty::Enum(_)) | (Ty::Enum(_), Ty::Enum(_))
        ) {
            return Some((Ty::String, l, r));
        }
        self.op_error(op, &lb, &rb, span);
        None
    }

    fn call(&mut self, callee: &'a Expr, args: &'a [ast::Arg], span: Span) -> (Ty, Ir) {
        // A top-level fn (here or in an imported module) or a builtin: named arguments allowed.
        let target = match &callee.kind {
            ExprKind::Name(n) if !self.locals.iter().any(|l| l.name == n.name) => {
                match self.scopes[self.module].get(n.name.as_str()).copied() {
                    Some(Global::Fn(id)) => Some((self.module, id, n)),
                    None if BUILTINS.contains(&n.name.as_str()) => return self.builtin(n, args, span),
                    _ => None,
                }
            }
            ExprKind::Field { target, field } => match &target.kind {
                ExprKind::Name(alias) => match self.import_alias(&alias.name) {
                    Some(Some(m)) => match self.scopes[m].get(field.name.as_str()).copied() {
                        Some(Global::Fn(id)) => Some((m, id, field)),
                        _ => None,
                    },
                    _ => None,
                },
                _ => None,
            },
            _ => None,
        };
        if let Some((_, id, name)) = target {
            let sig = self.fn_sig(id, name.span);
            if let Some(sig) = &sig {
                let def = self.fns[id].name.span;
                self.note_name(name.span, Some(def), &Self::fn_type(sig), facts::NameKind::Fn);
            }
            let Some(sig) = sig else {
                for a in args {
                    self.check(&a.value, None);
                }
                return (Ty::Error, unset());
            };
            let mut slots: Vec<Option<Ir>> = vec![None; sig.params.len()];
            let mut given = vec![false; sig.params.len()];
            let mut positional = 0;
            for a in args {
                let index = match &a.name {
                    None => {
                        let i = positional;
                        positional += 1;
                        if i >= sig.params.len() {
                            self.error(
                                codes::BAD_CALL,
                                format!(
                                    "`{}` takes {} argument(s), but more are given",
                                    name.name,
                                    sig.params.len()
                                ),
                                a.value.span,
                                "extra argument",
                            );
                            self.check(&a.value, None);
                            continue;
                        }
                        i
                    }
                    Some(n) => match sig.params.iter().position(|p| *p.0 == *n.name) {
                        Some(i) => i,
                        None => {
                            let mut d = Diagnostic::error(
                                codes::BAD_CALL,
                                format!("`{}` has no parameter `{}`", name.name, n.name),
                                n.span,
                                "unknown parameter",
                            );
                            if let Some(s) = did_you_mean(&n.name, sig.params.iter().map(|p| &*p.0)) {
                                d = d.with_help(format!("did you mean `{s}`?"));
                            }
                            self.push(d);
                            self.check(&a.value, None);
                            continue;
                        }
                    },
                };
                if given[index] {
                    self.error(
                        codes::BAD_CALL,
                        format!("argument `{}` is given twice", sig.params[index].0),
                        a.value.span,
                        "second value",
                    );
                }
                given[index] = true;
                let (_, ir) = self.check(&a.value, Some(&sig.params[index].1));
                slots[index] = Some(ir);
            }
            let missing: Vec<String> = sig
                .params
                .iter()
                .zip(&given)
                .filter(|(p, g)| !**g && !p.2)
                .map(|(p, _)| format!("`{}`", p.0))
                .collect();
            if !missing.is_empty() {
                self.error(
                    codes::BAD_CALL,
                    format!(
                        "missing argument(s) {} in the call of `{}`",
                        missing.join(", "),
                        name.name
                    ),
                    span,
                    "incomplete call",
                );
            }
            return (
                sig.ret.clone(),
                Ir::CallFn {
                    func: id as u32,
                    args: slots,
                    span,
                },
            );
        }
        let (t, callee_ir) = self.check(callee, None);
        match t.base() {
            Ty::Function(f) => {
                let f = f.clone();
                if args.len() != f.params.len() {
                    self.error(
                        codes::BAD_CALL,
                        format!(
                            "this function takes {} argument(s), {} given",
                            f.params.len(),
                            args.len()
                        ),
                        span,
                        "wrong number of arguments",
                    );
                }
                let mut irs = Vec::with_capacity(args.len());
                for (i, a) in args.iter().enumerate() {
                    if let Some(n) = &a.name {
                        self.error(
                            codes::BAD_CALL,
                            "a function value takes positional arguments only",
                            n.span,
                            "named argument",
                        );
                    }
                    let (_, ir) = self.check(&a.value, f.params.get(i));
                    irs.push(ir);
                }
                (
                    f.ret.clone(),
                    Ir::CallValue {
                        callee: Box::new(callee_ir),
                        args: irs,
                        span,
                    },
                )
            }
            Ty::Error => {
                for a in args {
                    self.check(&a.value, None);
                }
                (Ty::Error, unset())
            }
            other => {
                self.error(
                    codes::BAD_CALL,
                    format!("{} is not a function", other.describe()),
                    callee.span,
                    "called here",
                );
                (Ty::Error, unset())
            }
        }
    }

    fn builtin(&mut self, name: &ast::Ident, args: &'a [ast::Arg], span: Span) -> (Ty, Ir) {
        let (b, arity): (Builtin, &[usize]) = match name.name.as_str() {
            "len" => (Builtin::Len, &[1]),
            "range" => (Builtin::Range, &[1, 2]),
            "keys" => (Builtin::Keys, &[1]),
            "values" => (Builtin::Values, &[1]),
            "join" => (Builtin::Join, &[2]),
            _ => (Builtin::Str, &[1]),
        };
        if !arity.contains(&args.len()) {
            self.error(
                codes::BAD_CALL,
                format!(
                    "`{}` takes {} argument(s), {} given",
                    name.name,
                    arity[arity.len() - 1],
                    args.len()
                ),
                span,
                "wrong number of arguments",
            );
            return (Ty::Error, unset());
        }
        let mut types = Vec::new();
        let mut irs = Vec::new();
        for (i, a) in args.iter().enumerate() {
            let expected = match (b, i) {
                (Builtin::Range, _) => Some(Ty::Int),
                (Builtin::Join, 1) => Some(Ty::String),
                (Builtin::Join, 0) => Some(Ty::List(Rc::new(Ty::String))),
                _ => None,
            };
            let (t, ir) = self.check(&a.value, expected.as_ref());
            types.push(t);
            irs.push(ir);
        }
        let arg = types[0].base().clone();
        let bad = |c: &mut Self, want: &str| {
            c.error(
                codes::TYPE_MISMATCH,
                format!("`{}` needs {want}, found {}", name.name, arg.describe()),
                args[0].value.span,
                "wrong argument type",
            );
            (Ty::Error, unset())
        };
        let ret = match (b, &arg) {
            (_, Ty::Error) => Ty::Error,
            (Builtin::Len, Ty::String | Ty::List(_) | Ty::Map(_)) => Ty::Int,
            (Builtin::Len, _) => return bad(self, "a String, List or Map"),
            (Builtin::Range, _) => Ty::List(Rc::new(Ty::Int)),
            (Builtin::Keys, Ty::Map(_)) => Ty::List(Rc::new(Ty::String)),
            (Builtin::Values, Ty::Map(el)) => Ty::List(el.clone()),
            (Builtin::Keys | Builtin::Values, _) => return bad(self, "a Map"),
            (Builtin::Join, _) => Ty::String,
            (Builtin::Str, t) if interpolable(t) => Ty::String,
            (Builtin::Str, _) => return bad(self, "a scalar"),
        };
        (
            ret,
            Ir::CallBuiltin {
                builtin: b,
                args: irs,
                span,
            },
        )
    }

    fn lambda(
        &mut self,
        params: &'a [ast::Param],
        body: &'a Expr,
        expected: Option<&Ty>,
        span: Span,
    ) -> (Ty, Ir) {
        let exp = match expected.map(Ty::base) {
            Some(Ty::Function(f)) => Some(f.clone()),
            _ => None,
        };
        if let Some(f) = &exp
            && f.params.len() != params.len()
        {
            self.error(
                codes::BAD_CALL,
                format!(
                    "expected a function of {} parameter(s), this one has {}",
                    f.params.len(),
                    params.len()
                ),
                span,
                "wrong number of parameters",
            );
        }
        let depth = self.locals.len();
        let mut types = Vec::with_capacity(params.len());
        for (i, p) in params.iter().enumerate() {
            let from_expected = exp.as_ref().and_then(|f| f.params.get(i).cloned());
            let t = match (&p.ty, from_expected) {
                (Some(te), _) => self.resolve_type(te, None),
                (None, Some(t)) => t,
                (None, None) => {
                    self.push(
                        Diagnostic::error(
                            codes::CANNOT_INFER,
                            format!("cannot infer the type of parameter `{}`", p.name.name),
                            p.name.span,
                            "type unknown",
                        )
                        .with_help(format!("annotate it: `({}: Int) -> ...`", p.name.name)),
                    );
                    Ty::Error
                }
            };
            if p.default.is_some() {
                self.error(
                    codes::BAD_CALL,
                    "lambda parameters cannot have defaults",
                    p.span,
                    "default here",
                );
            }
            types.push(t.clone());
            self.locals.push(Local {
                name: &p.name.name,
                ty: t,
                field: None,
            });
        }
        let (ret, body_ir) = self.check(body, exp.as_ref().map(|f| &f.ret));
        self.locals.truncate(depth);
        (
            Ty::Function(Rc::new(FnTy { params: types, ret })),
            Ir::Lambda {
                params: params.len() as u32,
                body: Rc::new(body_ir),
            },
        )
    }

    fn match_expr(
        &mut self,
        scrutinee: &'a Expr,
        arms: &'a [ast::MatchArm],
        expected: Option<&Ty>,
        span: Span,
    ) -> (Ty, Ir) {
        let (st, s_ir) = self.check(scrutinee, None);
        let slot = self.locals.len();
        let mut result: Option<Ty> = expected.cloned();
        let mut arms_ir = Vec::with_capacity(arms.len());
        let mut covered_tags: Vec<Name> = Vec::new();
        let mut covered_lits: Vec<LitVal> = Vec::new();
        let mut wildcard = false;
        for arm in arms {
            let (pattern, bind) = match &arm.pattern {
                ast::Pattern::Wildcard(_) => {
                    wildcard = true;
                    (PatternIr::Wildcard, None)
                }
                ast::Pattern::Variant { tag, binding } => match st.base() {
                    Ty::Union(u) => match u.variants.get(tag.name.as_str()) {
                        Some(r) => {
                            covered_tags.push(Name::from(tag.name.as_str()));
                            (
                                PatternIr::Variant {
                                    tag: Name::from(tag.name.as_str()),
                                    bind: binding.is_some(),
                                },
                                binding.as_ref().map(|b| (b, Ty::Record(r.clone()))),
                            )
                        }
                        None => {
                            let mut d = Diagnostic::error(
                                codes::NOT_IN_ENUM,
                                format!("`{}` is not a variant of {}", tag.name, st),
                                tag.span,
                                "unknown variant",
                            );
                            d = match did_you_mean(&tag.name, u.variants.keys().map(|k| &**k)) {
                                Some(s) => d.with_help(format!("did you mean `{s}`?")),
                                None => d.with_help(self.union_help(u)),
                            };
                            self.push(d);
                            (PatternIr::Wildcard, binding.as_ref().map(|b| (b, Ty::Error)))
                        }
                    },
                    Ty::Error => (PatternIr::Wildcard, binding.as_ref().map(|b| (b, Ty::Error))),
                    other => {
                        // `x => ...` on a non-union: a binding pattern would be a catch-all;
                        // kiln asks for `_` to keep patterns unambiguous.
                        self.error(
                            codes::TYPE_MISMATCH,
                            format!(
                                "a variant pattern needs a tagged union, but the value is {}",
                                other.describe()
                            ),
                            tag.span,
                            "not a union",
                        );
                        (PatternIr::Wildcard, binding.as_ref().map(|b| (b, Ty::Error)))
                    }
                },
                ast::Pattern::Literal { value, span: lspan } => {
                    let lit_expr_value = match value {
                        ast::Literal::Int(i) => RVal::Int(*i),
                        ast::Literal::Float(f) => RVal::Float(*f),
                        ast::Literal::Bool(b) => RVal::Bool(*b),
                        ast::Literal::Str(s) => RVal::str(s),
                    };
                    let lit = match value {
                        ast::Literal::Int(i) => Some(LitVal::Int(*i)),
                        ast::Literal::Bool(b) => Some(LitVal::Bool(*b)),
                        ast::Literal::Str(s) => Some(LitVal::Str(Name::from(s.as_str()))),
                        ast::Literal::Float(_) => None,
                    };
                    let lit_ty = match value {
                        ast::Literal::Int(_) => Ty::Int,
                        ast::Literal::Float(_) => Ty::Float,
                        ast::Literal::Bool(_) => Ty::Bool,
                        ast::Literal::Str(_) => Ty::String,
                    };
                    match (st.base(), &lit) {
                        (Ty::Enum(en), Some(l)) if !en.values.contains(l) => {
                            let en = en.clone();
                            self.enum_member(&en, l, *lspan, Ty::Error, unset());
                        }
                        (Ty::Error, _) => {}
                        _ if compat(&lit_ty, &st).is_none() && compat(&st, &lit_ty).is_none() => {
                            self.mismatch(&lit_ty, &st, *lspan, None);
                        }
                        _ => {}
                    }
                    if let Some(l) = lit {
                        covered_lits.push(l);
                    }
                    (PatternIr::Lit(lit_expr_value), None)
                }
            };
            if let Some((b, t)) = bind {
                self.locals.push(Local {
                    name: &b.name,
                    ty: t,
                    field: None,
                });
            }
            let (t, body_ir) = self.check(&arm.body, result.as_ref());
            if result.is_none() && !t.is_error() {
                result = Some(t);
            }
            self.locals.truncate(slot);
            arms_ir.push((pattern, body_ir));
        }
        if !wildcard {
            let missing: Vec<String> = match st.base() {
                Ty::Union(u) => u
                    .variants
                    .keys()
                    .filter(|k| !covered_tags.contains(k))
                    .map(|k| format!("`{k}`"))
                    .collect(),
                Ty::Enum(en) => en
                    .values
                    .iter()
                    .filter(|v| !covered_lits.contains(v))
                    .map(ToString::to_string)
                    .collect(),
                Ty::Bool => [true, false]
                    .iter()
                    .filter(|b| !covered_lits.contains(&LitVal::Bool(**b)))
                    .map(ToString::to_string)
                    .collect(),
                Ty::Error => Vec::new(),
                _ => vec!["other values".to_string()],
            };
            if !missing.is_empty() {
                self.push(
                    Diagnostic::error(
                        codes::NON_EXHAUSTIVE,
                        format!("this match does not cover {}", missing.join(", ")),
                        scrutinee.span,
                        "not every case is handled",
                    )
                    .with_help("add an arm for each missing case, or a `_ => ...` arm"),
                );
            }
        }
        (
            result.unwrap_or(Ty::Error),
            Ir::Match(Box::new(MatchIr {
                scrutinee: s_ir,
                slot: slot as u32,
                arms: arms_ir,
                span,
            })),
        )
    }
}

/// Types that can be turned into text (interpolation, `str`).
fn interpolable(t: &Ty) -> bool {
    matches!(
        t.base(),
        // A reference as text is its path, for lowering to resolve (`tuning.trial`).
        Ty::Ref(_)
            | Ty::Int
            | Ty::Float
            | Ty::Bool
            | Ty::String
            | Ty::Cpu
            | Ty::Memory
            | Ty::Quantity
            | Ty::Duration
            | Ty::Percent
            | Ty::Enum(_)
            | Ty::Error
            | Ty::Any
            | Ty::IntOrString
    )
}

fn same_dimension(a: &Ty, b: &Ty) -> bool {
    match (a, b) {
        (Ty::Duration, Ty::Duration) | (Ty::Percent, Ty::Percent) => true,
        (x, y) if x.is_quantity() && y.is_quantity() => {
            std::mem::discriminant(x) == std::mem::discriminant(y)
                || matches!(x, Ty::Quantity)
                || matches!(y, Ty::Quantity)
        }
        _ => false,
    }
}
