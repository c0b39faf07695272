//! Compatibility of a found type with an expected one, and the conversions that make it so
//! (Int -> Float, Int -> Cpu, Memory/Cpu -> Quantity, record re-layout with defaults, run-time
//! refinement checks). Mismatches are reported with the most specific code: K0303 between
//! units, K0302 for a bare number where a unit is needed, K0301 for a string, K0201 otherwise.

use std::rc::Rc;

use kiln_lang::{Diagnostic, Span};

use super::Checker;
use crate::codes;
use crate::ir::{Conv, Ir, RecordConvField};
use crate::types::*;

/// `None`: incompatible. `Some(None)`: as is. `Some(Some(c))`: convert with `c`.
type Compat = Option<Option<Conv>>;

pub(super) fn same_record(a: &Rc<RecordTy>, b: &Rc<RecordTy>) -> bool {
    Rc::ptr_eq(a, b) || (a.name.is_some() && a.name == b.name)
}

/// Whether a value of type `found` can be used where `expected` is asked, and how.
pub(super) fn compat(found: &Ty, expected: &Ty) -> Compat {
    use Ty::*;
    match (found, expected) {
        (Error | Never, _) | (_, Error | Any) => Some(None),
        (Refined(a), Refined(b)) if Rc::ptr_eq(a, b) => Some(None),
        (_, Refined(r)) => {
            let inner = compat(found, &r.base)?;
            let check = Conv::Check(r.clone());
            Some(Some(match inner {
                None => check,
                Some(c) => Conv::Seq(vec![c, check]),
            }))
        }
        (Refined(r), _) => compat(&r.base, expected),
        (Int, Int) | (Float, Float) | (Bool, Bool) | (String, String) => Some(None),
        (Cpu, Cpu) | (Memory, Memory) | (Quantity, Quantity) | (Duration, Duration) | (Percent, Percent) => {
            Some(None)
        }
        (Cpu | Memory, Quantity) => Some(None),
        (Int | String | IntOrString, IntOrString) => Some(None),
        (Enum(e), IntOrString) if matches!(e.base(), String | Int) => Some(None),
        (Int, Float) => Some(Some(Conv::IntToFloat)),
        (Int, Cpu) => Some(Some(Conv::IntToCpu)),
        (Enum(e), String) if matches!(e.base(), String) => Some(None),
        (Enum(e), Int) if matches!(e.base(), Int) => Some(None),
        (Enum(e), Bool) if matches!(e.base(), Bool) => Some(None),
        (Enum(a), Enum(b)) => a.values.iter().all(|v| b.values.contains(v)).then_some(None),
        (List(a), List(b)) => match compat(a, b)? {
            None => Some(None),
            Some(c) => Some(Some(Conv::List(Rc::new(c)))),
        },
        (Map(a), Map(b)) => match compat(a, b)? {
            None => Some(None),
            Some(c) => Some(Some(Conv::Map(Rc::new(c)))),
        },
        (Ref(a), Ref(b)) => matches!(compat(a, b), Some(None)).then_some(None),
        (Record(a), Record(b)) => record_compat(a, b),
        (Record(a), Map(t)) if a.name.is_none() && !a.open => a
            .fields
            .values()
            .all(|f| !f.optional && matches!(compat(&f.ty, t), Some(None)))
            .then_some(Some(Conv::RecordToMap)),
        (Union(a), Union(b)) => (Rc::ptr_eq(a, b) || (a.name.is_some() && a.name == b.name)).then_some(None),
        (Function(a), Function(b)) => {
            let same_params = a.params.len() == b.params.len()
                && a.params
                    .iter()
                    .zip(&b.params)
                    .all(|(x, y)| matches!(compat(y, x), Some(None)) && matches!(compat(x, y), Some(None)));
            (same_params && matches!(compat(&a.ret, &b.ret), Some(None))).then_some(None)
        }
        _ => None,
    }
}

fn record_compat(a: &Rc<RecordTy>, b: &Rc<RecordTy>) -> Compat {
    if same_record(a, b) {
        return Some(None);
    }
    let mut layout = Vec::with_capacity(b.fields.len());
    let mut identity = a.fields.len() == b.fields.len();
    for (i, (name, bf)) in b.fields.iter().enumerate() {
        match a.fields.get_full(name) {
            Some((j, _, af)) => {
                if af.optional && bf.required() {
                    return None;
                }
                let c = compat(&af.ty, &bf.ty)?;
                identity &= c.is_none() && i == j && af.optional == bf.optional;
                layout.push((name.clone(), RecordConvField::Take(c.map(Rc::new))));
            }
            None => {
                identity = false;
                if let Some(d) = bf.default {
                    layout.push((name.clone(), RecordConvField::Default(d)));
                } else if bf.optional {
                    layout.push((name.clone(), RecordConvField::Absent));
                } else {
                    return None;
                }
            }
        }
    }
    if !b.open && a.fields.keys().any(|k| !b.fields.contains_key(k)) {
        return None;
    }
    if b.open && a.fields.keys().any(|k| !b.fields.contains_key(k)) {
        // Extra fields of an open target are kept as they are.
        for (k, _) in a.fields.iter().filter(|(k, _)| !b.fields.contains_key(*k)) {
            layout.push((k.clone(), RecordConvField::Take(None)));
        }
        identity = false;
    }
    if identity {
        Some(None)
    } else {
        Some(Some(Conv::Record(layout)))
    }
}

impl Checker<'_> {
    /// Uses `ir` (of type `found`) where `expected` is asked; reports a mismatch at `span`.
    pub(super) fn coerce(&mut self, found: Ty, expected: &Ty, ir: Ir, span: Span) -> (Ty, Ir) {
        match compat(&found, expected) {
            Some(None) => (expected.clone(), ir),
            Some(Some(conv)) => (expected.clone(), apply(ir, conv, span)),
            None => {
                self.mismatch(&found, expected, span, None);
                (Ty::Error, ir)
            }
        }
    }

    /// Reports that `found` is not `expected`; `what` describes the value ("the string \"x\"").
    pub(super) fn mismatch(&mut self, found: &Ty, expected: &Ty, span: Span, what: Option<String>) {
        let found_text = what.unwrap_or_else(|| found.describe());
        let message = format!("expected {}, found {found_text}", expected.describe());
        let exp = expected.base();
        let fnd = found.base();
        let d = if exp.is_unit() && fnd.is_unit() {
            let mut d = Diagnostic::error(
                codes::DIMENSION_MISMATCH,
                message,
                span,
                format!("this is {}", found.describe()),
            );
            if matches!(exp, Ty::Duration) {
                d = d.with_help("durations are written with ms, s, min, h or d: `30s`, `5min`, `2h`");
            }
            d
        } else if exp.is_unit() && matches!(fnd, Ty::Int | Ty::Float) {
            let unit = match exp {
                Ty::Duration => "1s",
                Ty::Percent => "1%",
                Ty::Cpu => "1m",
                _ => "1Gi",
            };
            Diagnostic::error(codes::MISSING_UNIT, message, span, "a number without a unit")
                .with_help(format!("multiply by a unit, for example `n * {unit}`"))
        } else if exp.is_unit() && matches!(fnd, Ty::String) {
            Diagnostic::error(codes::STRING_FOR_QUANTITY, message, span, "a string").with_help(
                "units are values, not strings: write the literal without quotes, like `16Gi` or `30s`",
            )
        } else {
            let mut d = Diagnostic::error(
                codes::TYPE_MISMATCH,
                message,
                span,
                format!("expected {expected}"),
            );
            if let (Ty::Record(e), Ty::Record(f)) = (exp, fnd) {
                let missing: Vec<String> = e
                    .fields
                    .iter()
                    .filter(|(k, fld)| fld.required() && !f.fields.contains_key(*k))
                    .map(|(k, _)| format!("`{k}`"))
                    .collect();
                if !missing.is_empty() {
                    d = d.with_note(format!("missing: {}", missing.join(", ")));
                }
                let extra: Vec<String> = f
                    .fields
                    .keys()
                    .filter(|k| !e.fields.contains_key(*k))
                    .map(|k| format!("`{k}`"))
                    .collect();
                if !extra.is_empty() && !e.open {
                    d = d.with_note(format!("not fields of {expected}: {}", extra.join(", ")));
                }
            }
            if matches!(exp, Ty::String) && !matches!(fnd, Ty::Record(_) | Ty::List(_) | Ty::Map(_)) {
                d = d.with_help("turn it into text with interpolation: \"${...}\"");
            }
            if let Ty::Union(u) = exp {
                d = d.with_help(self.union_help(u));
            }
            d
        };
        self.push(d);
    }
}

impl Checker<'_> {
    /// How to write a value of union `u`, for a newcomer who wrote something else: its variants
    /// as written (`kf.Algorithm.Bayesian { ... }`) and the stdlib functions that build one
    /// (`kf.bayesian()`), found by their declared return type.
    pub(super) fn union_help(&self, u: &UnionTy) -> String {
        let tags: Vec<&str> = u.variants.keys().map(|k| &**k).collect();
        let shown = u
            .name
            .as_ref()
            .map_or_else(|| "the union".to_string(), TypeName::shown);
        let first = tags.first().copied().unwrap_or("Tag");
        let mut help = format!(
            "write one of its variants, `{shown}.{first} {{ ... }}` ({shown} has: {})",
            tags.join(", ")
        );
        let helpers = u
            .name
            .as_ref()
            .map(|n| self.helpers_returning(n))
            .unwrap_or_default();
        if !helpers.is_empty() {
            help.push_str(&format!(", or call one of {}", helpers.join(", ")));
        }
        help
    }

    /// `kf.NAME()` for the functions the user-facing stdlib module declares with return type
    /// `n` (`fn bayesian() -> tuning.Algorithm`).
    fn helpers_returning(&self, n: &TypeName) -> Vec<String> {
        if !n.stdlib {
            return Vec::new();
        }
        self.fns
            .iter()
            .filter(|f| {
                self.is_stdlib(f.module) && self.module_name(f.module).trim_end_matches(".kiln") == "kubeflow"
            })
            .filter(|f| {
                f.ret.is_some_and(|t| match &t.kind {
                    kiln_lang::ast::TypeExprKind::Named { path, .. } => {
                        path.segments.last().is_some_and(|s| *s.name == *n.name)
                    }
                    _ => false,
                })
            })
            .map(|f| {
                let args = if f.params.is_empty() { "" } else { "..." };
                format!("`kf.{}({args})`", f.name.name)
            })
            .collect()
    }
}

/// The one value type of an anonymous record's fields, if they share one (so it can be used as
/// a map).
pub(super) fn map_value_type(r: &RecordTy) -> Option<Ty> {
    if r.name.is_some() || r.open {
        return None;
    }
    let mut elem = Ty::Never;
    for f in r.fields.values() {
        if matches!(compat(&f.ty, &elem), Some(None)) {
            continue;
        }
        if matches!(compat(&elem, &f.ty), Some(None)) {
            elem = f.ty.clone();
            continue;
        }
        return None;
    }
    Some(elem)
}

pub(super) fn apply(ir: Ir, conv: Conv, span: Span) -> Ir {
    Ir::Convert {
        value: Box::new(ir),
        conv: Rc::new(conv),
        span,
    }
}
