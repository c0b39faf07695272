//! The checked program: what the checker produces and the evaluator runs.
//!
//! Names are resolved (locals are slots in one environment vector, globals are indices),
//! coercions are explicit ([`Conv`]), record layouts are decided (typed records in the type's
//! field order with defaults filled, untyped ones in source order), and sibling fields carry the
//! order in which they must be evaluated. Nothing here can be ill-typed: the evaluator trusts it.

use std::rc::Rc;

use kiln_lang::Span;
use kiln_lang::ast::BinOp;

use crate::eval::RVal;
use crate::types::{DefaultId, Name, RefinedTy};

pub type GlobalId = u32;
pub type FnId = u32;
/// An absolute index into the evaluator's environment vector.
pub type Slot = u32;

#[derive(Debug, Clone)]
pub enum Ir {
    Lit(RVal),
    Local(Slot),
    Global(GlobalId),
    /// A top-level `fn` used as a value.
    FnRef(FnId),
    Field {
        target: Box<Ir>,
        name: Name,
        span: Span,
    },
    Index {
        target: Box<Ir>,
        index: Box<Ir>,
        span: Span,
    },
    /// A call of a top-level `fn`; `None` arguments take the parameter's default.
    CallFn {
        func: FnId,
        args: Vec<Option<Ir>>,
        span: Span,
    },
    /// A call of a function value (lambda or `fn` reference); positional arguments.
    CallValue {
        callee: Box<Ir>,
        args: Vec<Ir>,
        span: Span,
    },
    CallBuiltin {
        builtin: Builtin,
        args: Vec<Ir>,
        span: Span,
    },
    List(Vec<Ir>),
    Comp(Box<Comp>),
    Record(Box<RecordIr>),
    /// A tagged-union value.
    Tag {
        tag: Name,
        value: Box<Ir>,
    },
    With {
        base: Box<Ir>,
        patch: Vec<PatchEntry>,
    },
    If {
        cond: Box<Ir>,
        then_branch: Box<Ir>,
        else_branch: Box<Ir>,
    },
    Binary {
        op: BinOp,
        lhs: Box<Ir>,
        rhs: Box<Ir>,
        span: Span,
    },
    Not(Box<Ir>),
    Neg {
        operand: Box<Ir>,
        span: Span,
    },
    Match(Box<MatchIr>),
    Lambda {
        params: u32,
        body: Rc<Ir>,
    },
    Interp(Vec<Ir>),
    Convert {
        value: Box<Ir>,
        conv: Rc<Conv>,
        span: Span,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Builtin {
    /// `len(x)`: characters of a string, elements of a list, entries of a map.
    Len,
    /// `range(n)` or `range(a, b)`: `[a, a+1, .., b-1]`.
    Range,
    /// `keys(m)`: the keys of a map in order.
    Keys,
    /// `values(m)`: the values of a map in order.
    Values,
    /// `join(list, sep)`.
    Join,
    /// `str(x)`: a scalar as text (as in interpolation).
    Str,
}

#[derive(Debug, Clone)]
pub struct Comp {
    pub clauses: Vec<ClauseIr>,
    pub body: CompBody,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub enum ClauseIr {
    /// Binds one or two variables at the next slots (`for x in xs`, `for i, x in xs`,
    /// `for k, v in m`, `for k in m`).
    For {
        vars: u32,
        iter: Ir,
    },
    If(Ir),
}

#[derive(Debug, Clone)]
pub enum CompBody {
    List(Ir),
    Map { key: Ir, value: Ir },
}

#[derive(Debug, Clone)]
pub struct RecordIr {
    /// First slot of the sibling fields (one per entry, in source order).
    pub base: Slot,
    /// The entries' values, in source order.
    pub entries: Vec<Ir>,
    /// Entry indices in evaluation order (dependencies first).
    pub order: Vec<u32>,
    /// The output layout.
    pub out: Vec<(Name, FieldSource)>,
    /// Build a map (string keys) rather than a record.
    pub as_map: bool,
}

#[derive(Debug, Clone)]
pub enum FieldSource {
    Entry(u32),
    Default(DefaultId),
    /// An optional field that was not given.
    Absent,
}

#[derive(Debug, Clone)]
pub struct PatchEntry {
    pub name: Name,
    pub op: PatchOp,
}

#[derive(Debug, Clone)]
pub enum PatchOp {
    Replace(Ir),
    /// A nested record literal merged into the base field.
    Merge(Vec<PatchEntry>),
}

#[derive(Debug, Clone)]
pub struct MatchIr {
    pub scrutinee: Ir,
    /// Where a pattern binding lives.
    pub slot: Slot,
    pub arms: Vec<(PatternIr, Ir)>,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub enum PatternIr {
    Variant { tag: Name, bind: bool },
    Lit(RVal),
    Wildcard,
}

/// A value conversion the checker inserted where an expected type asks for it.
#[derive(Debug, Clone)]
pub enum Conv {
    IntToFloat,
    /// `cpu = 4`.
    IntToCpu,
    /// `cpu = 0.25` computed at run time (literals are converted statically).
    FloatToCpu,
    /// A refinement checked at run time (K0603).
    Check(Rc<RefinedTy>),
    List(Rc<Conv>),
    Map(Rc<Conv>),
    /// An anonymous record used as a map (`for k, v in { a = 1, b = 2 }`).
    RecordToMap,
    /// Re-layout a record for another record type.
    Record(Vec<(Name, RecordConvField)>),
    Seq(Vec<Conv>),
}

#[derive(Debug, Clone)]
pub enum RecordConvField {
    /// Take the source field with this name, converting it.
    Take(Option<Rc<Conv>>),
    Default(DefaultId),
    Absent,
}

/// A top-level `fn`.
#[derive(Debug, Clone)]
pub struct FnIr {
    pub name: Name,
    /// Default expressions, evaluated in the callee's environment (earlier parameters bound).
    pub defaults: Vec<Option<Ir>>,
    pub body: Ir,
}

#[derive(Debug, Clone)]
pub struct EmitIr {
    pub ty: String,
    /// The type is declared in the standard library (see `Emitted::stdlib`).
    pub stdlib: bool,
    pub name: Ir,
    pub value: Ir,
    pub span: Span,
    /// Emits of imported modules are checked but not output.
    pub output: bool,
}

/// Everything the evaluator needs.
#[derive(Debug, Clone, Default)]
pub struct Program {
    /// Top-level `let`s (evaluated lazily, once).
    pub globals: Vec<(Name, Span, Ir)>,
    pub fns: Vec<FnIr>,
    /// Record-type field defaults (evaluated lazily, once; module scope).
    pub defaults: Vec<Ir>,
    pub emits: Vec<EmitIr>,
}
