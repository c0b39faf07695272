//! Semantic types: what the checker computes for every expression.
//!
//! Types are cheap to clone (compound types are behind `Rc`) and carry what messages need: the
//! declared name of record, enum and union types and the span of their declaration. Record types
//! are compared by identity first (a named type declared once) and structurally otherwise (see
//! `check::assign`). [`Ty::Error`] stands for "already reported": it is compatible with
//! everything, which stops one mistake from cascading into many diagnostics.

use std::fmt;
use std::rc::Rc;

use indexmap::IndexMap;
use kiln_lang::Span;

use crate::eval::RVal;

/// An identifier shared between the AST-derived structures (cheap to clone).
pub type Name = Rc<str>;

/// Index into the table of record-field default expressions.
pub type DefaultId = u32;

#[derive(Debug, Clone)]
pub enum Ty {
    Int,
    Float,
    Bool,
    String,
    /// CPU: a quantity written with `m` or a plain number.
    Cpu,
    /// Bytes (memory and storage): written with `Ki..Ei` or `k M G T P E`.
    Memory,
    /// Any Kubernetes quantity.
    Quantity,
    Duration,
    Percent,
    List(Rc<Ty>),
    /// String keys, values of one type; keeps insertion order.
    Map(Rc<Ty>),
    /// A typed name of another field (`steps.prep.outputs.data`), checked statically and
    /// represented at run time by its dotted path, which lowering resolves (see
    /// `check::reference`).
    Ref(Rc<Ty>),
    Record(Rc<RecordTy>),
    /// A union of literals: `"pytorch" | "tensorflow"`.
    Enum(Rc<EnumTy>),
    /// A tagged union: `S3 { .. } | Pvc { .. }`.
    Union(Rc<UnionTy>),
    Refined(Rc<RefinedTy>),
    Function(Rc<FnTy>),
    /// The open-record escape hatch of the stdlib: any value.
    Any,
    /// An Int or a String (Kubernetes `int-or-string`: ports by number or name, `25%`).
    IntOrString,
    /// The element type of `[]`: assignable to everything.
    Never,
    /// Already reported; silences follow-up errors.
    Error,
}

/// `module.Name` of a declared type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypeName {
    pub module: Name,
    pub name: Name,
    /// Declared in the standard library, which users reach through `import "kubeflow" as kf`.
    pub stdlib: bool,
}

impl TypeName {
    /// The name as users write it: `kf.Notebook` for a stdlib type (the alias every example and
    /// `kiln init` use), the bare name for the user's own.
    pub fn shown(&self) -> String {
        if self.stdlib {
            format!("kf.{}", self.name)
        } else {
            self.name.to_string()
        }
    }
}

/// `a` or `an` before `word` (by its first letter, as it is read: `an Algorithm`, `a kf.Notebook`).
pub fn article(word: &str) -> &'static str {
    match word.chars().next() {
        Some(c) if "aeiouAEIOU".contains(c) => "an",
        _ => "a",
    }
}

#[derive(Debug, Clone)]
pub struct FieldTy {
    pub ty: Ty,
    /// `f?: T`: may be absent.
    pub optional: bool,
    pub default: Option<DefaultId>,
    /// The field's declaration (for secondary labels).
    pub span: Span,
}

impl FieldTy {
    pub fn required(&self) -> bool {
        !self.optional && self.default.is_none()
    }
}

#[derive(Debug, Clone)]
pub struct RecordTy {
    pub name: Option<TypeName>,
    pub fields: IndexMap<Name, FieldTy>,
    /// Written with a trailing `..`: unknown fields are accepted and kept.
    pub open: bool,
    /// The declaration, when the type was written in a user file (never the stdlib).
    pub decl: Option<Span>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum LitVal {
    Int(i64),
    Bool(bool),
    Str(Name),
}

impl fmt::Display for LitVal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LitVal::Int(i) => write!(f, "{i}"),
            LitVal::Bool(b) => write!(f, "{b}"),
            LitVal::Str(s) => write!(f, "{s:?}"),
        }
    }
}

#[derive(Debug, Clone)]
pub struct EnumTy {
    pub name: Option<TypeName>,
    pub values: Vec<LitVal>,
}

impl EnumTy {
    /// The underlying scalar type of the literals (all literals of one enum share it).
    pub fn base(&self) -> Ty {
        match self.values.first() {
            Some(LitVal::Int(_)) => Ty::Int,
            Some(LitVal::Bool(_)) => Ty::Bool,
            _ => Ty::String,
        }
    }
}

#[derive(Debug, Clone)]
pub struct UnionTy {
    pub name: Option<TypeName>,
    /// Variant tag -> its record type (named `Union.Tag`).
    pub variants: IndexMap<Name, Rc<RecordTy>>,
    pub decl: Option<Span>,
}

#[derive(Debug, Clone)]
pub enum Refinement {
    /// Inclusive bounds, already converted to the base type's values; for strings, lists and
    /// maps the bounds are on the length.
    Range { lo: Option<RVal>, hi: Option<RVal> },
    /// A pattern that must be found in the string (search semantics, as in JSON Schema and CRD
    /// `pattern`; write `^...$` to match the whole string).
    Regex(Rc<regex::Regex>),
}

#[derive(Debug, Clone)]
pub struct RefinedTy {
    pub base: Ty,
    pub refinement: Refinement,
    /// The refinement as written (`1..100`, `/^[a-z]+$/`) for messages.
    pub text: String,
}

#[derive(Debug, Clone)]
pub struct FnTy {
    pub params: Vec<Ty>,
    pub ret: Ty,
}

impl Ty {
    /// Strips refinements: the type values are represented as.
    pub fn base(&self) -> &Ty {
        match self {
            Ty::Refined(r) => r.base.base(),
            other => other,
        }
    }

    pub fn is_error(&self) -> bool {
        matches!(self, Ty::Error)
    }

    /// Cpu, Memory or Quantity.
    pub fn is_quantity(&self) -> bool {
        matches!(self.base(), Ty::Cpu | Ty::Memory | Ty::Quantity)
    }

    /// A type whose values have a unit (quantities, durations, percentages).
    pub fn is_unit(&self) -> bool {
        self.is_quantity() || matches!(self.base(), Ty::Duration | Ty::Percent)
    }

    pub fn is_numeric(&self) -> bool {
        matches!(self.base(), Ty::Int | Ty::Float)
    }

    /// "a Memory quantity", "an Int", "a List<String>": the phrase used in messages.
    pub fn describe(&self) -> String {
        match self {
            Ty::Int => "an Int".into(),
            Ty::Float => "a Float".into(),
            Ty::Bool => "a Bool".into(),
            Ty::String => "a String".into(),
            Ty::Cpu => "a Cpu quantity".into(),
            Ty::Memory => "a Memory quantity".into(),
            Ty::Quantity => "a Quantity".into(),
            Ty::Duration => "a Duration".into(),
            Ty::Percent => "a Percent".into(),
            Ty::List(_) | Ty::Map(_) => format!("a {self}"),
            Ty::Ref(t) => match &**t {
                Ty::Any => "a reference".into(),
                t => format!("a reference to {}", t.describe()),
            },
            Ty::Record(r) => match &r.name {
                Some(n) => format!("{} {} record", article(&n.shown()), n.shown()),
                None => format!("the record {self}"),
            },
            Ty::Enum(e) => match &e.name {
                Some(n) => format!(
                    "{} {} ({self_})",
                    article(&n.shown()),
                    n.shown(),
                    self_ = EnumList(e)
                ),
                None => format!("one of {self}"),
            },
            Ty::Union(u) => match &u.name {
                Some(n) => format!("{} {}", article(&n.shown()), n.shown()),
                None => format!("one of {self}"),
            },
            Ty::Refined(r) => format!("{} in {}", r.base.describe(), r.text),
            Ty::Function(_) => format!("a function {self}"),
            Ty::Any => "any value".into(),
            Ty::IntOrString => "an Int or a String".into(),
            Ty::Never => "nothing".into(),
            Ty::Error => "an unknown type".into(),
        }
    }
}

struct EnumList<'a>(&'a EnumTy);

impl fmt::Display for EnumList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, v) in self.0.values.iter().enumerate() {
            if i > 0 {
                write!(f, " | ")?;
            }
            write!(f, "{v}")?;
        }
        Ok(())
    }
}

impl fmt::Display for Ty {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Ty::Int => write!(f, "Int"),
            Ty::Float => write!(f, "Float"),
            Ty::Bool => write!(f, "Bool"),
            Ty::String => write!(f, "String"),
            Ty::Cpu => write!(f, "Cpu"),
            Ty::Memory => write!(f, "Memory"),
            Ty::Quantity => write!(f, "Quantity"),
            Ty::Duration => write!(f, "Duration"),
            Ty::Percent => write!(f, "Percent"),
            Ty::List(t) => write!(f, "List<{t}>"),
            Ty::Map(t) => write!(f, "Map<{t}>"),
            Ty::Ref(t) => write!(f, "Ref<{t}>"),
            Ty::Record(r) => match &r.name {
                Some(n) => write!(f, "{}", n.shown()),
                None => {
                    write!(f, "{{ ")?;
                    for (i, (name, field)) in r.fields.iter().enumerate() {
                        if i == 4 {
                            write!(f, ", ..")?;
                            break;
                        }
                        if i > 0 {
                            write!(f, ", ")?;
                        }
                        let q = if field.optional { "?" } else { "" };
                        write!(f, "{name}{q}: {}", field.ty)?;
                    }
                    if r.open && r.fields.len() <= 4 {
                        write!(f, ", ..")?;
                    }
                    write!(f, " }}")
                }
            },
            Ty::Enum(e) => match &e.name {
                Some(n) => write!(f, "{}", n.shown()),
                None => write!(f, "{}", EnumList(e)),
            },
            Ty::Union(u) => match &u.name {
                Some(n) => write!(f, "{}", n.shown()),
                None => {
                    for (i, tag) in u.variants.keys().enumerate() {
                        if i > 0 {
                            write!(f, " | ")?;
                        }
                        write!(f, "{tag} {{ .. }}")?;
                    }
                    Ok(())
                }
            },
            Ty::Refined(r) => write!(f, "{}({})", r.base, r.text),
            Ty::Function(func) => {
                write!(f, "(")?;
                for (i, p) in func.params.iter().enumerate() {
                    if i > 0 {
                        write!(f, ", ")?;
                    }
                    write!(f, "{p}")?;
                }
                write!(f, ") -> {}", func.ret)
            }
            Ty::Any => write!(f, "Any"),
            Ty::IntOrString => write!(f, "IntOrString"),
            Ty::Never => write!(f, "Never"),
            Ty::Error => write!(f, "?"),
        }
    }
}

/// Checks a value against a refinement; `Err` holds a phrase for the message ("is 0, below the
/// minimum 1").
pub fn check_refinement(r: &Refinement, value: &RVal) -> Result<(), String> {
    match r {
        Refinement::Regex(re) => match value {
            RVal::Str(s) if re.is_match(s) => Ok(()),
            RVal::Str(s) => Err(format!("{s:?} does not match /{}/", display_regex(re))),
            _ => Ok(()),
        },
        Refinement::Range { lo, hi } => {
            let measured = match value {
                RVal::Str(s) => Some(RVal::Int(s.chars().count() as i64)),
                RVal::List(l) => Some(RVal::Int(l.len() as i64)),
                RVal::Map(m) => Some(RVal::Int(m.len() as i64)),
                _ => None,
            };
            let what = if measured.is_some() { "has length " } else { "is " };
            let v = measured.as_ref().unwrap_or(value);
            if let Some(lo) = lo
                && v.compare(lo) == Some(std::cmp::Ordering::Less)
            {
                return Err(format!("{what}{}, below the minimum {}", v.show(), lo.show()));
            }
            if let Some(hi) = hi
                && v.compare(hi) == Some(std::cmp::Ordering::Greater)
            {
                return Err(format!("{what}{}, above the maximum {}", v.show(), hi.show()));
            }
            Ok(())
        }
    }
}

/// The user's pattern without the anchors the checker adds.
fn display_regex(re: &regex::Regex) -> &str {
    let s = re.as_str();
    s.strip_prefix("^(?:")
        .and_then(|s| s.strip_suffix(")$"))
        .unwrap_or(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn displays() {
        assert_eq!(Ty::List(Rc::new(Ty::String)).to_string(), "List<String>");
        assert_eq!(Ty::Memory.describe(), "a Memory quantity");
        assert_eq!(Ty::Map(Rc::new(Ty::Int)).describe(), "a Map<Int>");
        let e = Ty::Enum(Rc::new(EnumTy {
            name: None,
            values: vec![LitVal::Str("a".into()), LitVal::Str("b".into())],
        }));
        assert_eq!(e.to_string(), "\"a\" | \"b\"");
        let f = Ty::Function(Rc::new(FnTy {
            params: vec![Ty::Int],
            ret: Ty::Bool,
        }));
        assert_eq!(f.to_string(), "(Int) -> Bool");
    }

    #[test]
    fn refinement_checks() {
        let r = Refinement::Range {
            lo: Some(RVal::Int(1)),
            hi: Some(RVal::Int(10)),
        };
        assert!(check_refinement(&r, &RVal::Int(5)).is_ok());
        assert_eq!(
            check_refinement(&r, &RVal::Int(0)).unwrap_err(),
            "is 0, below the minimum 1"
        );
        assert!(check_refinement(&r, &RVal::Str("abcdefghijkl".into())).is_err());
        let re = Refinement::Regex(Rc::new(regex::Regex::new("^[a-z]+$").unwrap()));
        assert!(check_refinement(&re, &RVal::Str("abc".into())).is_ok());
        assert!(check_refinement(&re, &RVal::Str("aB".into())).is_err());
    }
}
