//! The abstract syntax tree: what the parser produces and every later stage reads.
//!
//! Every node carries a byte [`Span`]. The tree is untyped and unresolved: names are plain
//! identifiers, type expressions are syntax. Comments are not in the tree; the parser returns
//! them beside it (see [`Comment`]) so the formatter can put them back.
//!
//! Invariants:
//! - A node's span covers exactly its own text (for a binary expression, from the start of the
//!   left operand to the end of the right one).
//! - After a syntax error the parser still returns a tree; the broken part is an
//!   [`ExprKind::Error`] / [`TypeExprKind::Error`] node or a skipped item, never a panic.

use crate::span::Span;

/// One parsed `.kiln` file.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceFile {
    pub items: Vec<Item>,
    /// All comments in source order, including doc comments (which are also attached to nodes).
    pub comments: Vec<Comment>,
    pub span: Span,
}

/// A `# ...` line comment; `## ...` is a doc comment (attached to the next declaration or field).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Comment {
    /// The text after the `#` (or `##`), without the trailing newline.
    pub text: String,
    pub doc: bool,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Ident {
    pub name: String,
    pub span: Span,
}

/// `a.b.c`: a name, possibly qualified by an import alias or a type (`kf.Notebook`, `Storage.S3`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Path {
    pub segments: Vec<Ident>,
    pub span: Span,
}

/// A top-level declaration.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    pub kind: ItemKind,
    /// Joined text of the `##` doc comments directly above, if any.
    pub doc: Option<String>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ItemKind {
    /// `import "kubeflow" as kf` or `import "./common.kiln" as common`.
    Import { path: StrLit, alias: Ident },
    /// `let name: Type = value` (the type is optional). Binds a name; emits nothing.
    Let {
        name: Ident,
        ty: Option<TypeExpr>,
        value: Expr,
    },
    /// `type Name = TypeExpr`.
    Type { name: Ident, ty: TypeExpr },
    /// `fn name(a: A, b: B = default) -> R = body`. No recursion: the call graph must be acyclic.
    Fn {
        name: Ident,
        params: Vec<Param>,
        ret: Option<TypeExpr>,
        body: Expr,
    },
    /// An output object: `kf.Notebook "churn-dev" { ... }` (the record body form, stored as a
    /// [`ExprKind::Construct`] of `ty`) or `kf.TrainingJob "churn-ddp" = expr` (any expression of
    /// type `ty`). `name` is a string expression (interpolation allowed).
    Emit { ty: Path, name: Expr, value: Expr },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Param {
    pub name: Ident,
    /// Required on `fn` parameters; a lambda parameter may omit it when the expected type is known.
    pub ty: Option<TypeExpr>,
    pub default: Option<Expr>,
    pub span: Span,
}

/// A type as written.
#[derive(Debug, Clone, PartialEq)]
pub struct TypeExpr {
    pub kind: TypeExprKind,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum TypeExprKind {
    /// `Int`, `Memory`, `kf.Gpu`, `List<String>`, `Map<Int>`.
    Named { path: Path, args: Vec<TypeExpr> },
    /// `{ a: Int, b?: String, c: Int = 3 }`; closed unless `open` (written with a trailing `..`).
    Record { fields: Vec<FieldDecl>, open: bool },
    /// A single literal as a type: `"pytorch"`, `3`, `true`. Used in unions (enums).
    Literal(Literal),
    /// `"a" | "b" | "c"` (an enum of literals) or `S3 { ... } | Pvc { ... }` (tagged variants).
    /// The checker rejects unions that mix the two or that use plain named types.
    Union(Vec<TypeExpr>),
    /// A tagged-union variant inside a [`TypeExprKind::Union`]: `S3 { bucket: String }`.
    Variant { tag: Ident, fields: Vec<FieldDecl> },
    /// `Int(1..100)`, `Memory(1Gi..)`, `String(/^[a-z]+$/)`, `List<T>(1..5)`.
    Refined {
        base: Box<TypeExpr>,
        refinement: Refinement,
    },
    /// `(A, B) -> R`: the type of a lambda parameter.
    Function {
        params: Vec<TypeExpr>,
        ret: Box<TypeExpr>,
    },
    /// Placeholder after a syntax error.
    Error,
}

/// A field of a record type or variant.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldDecl {
    pub doc: Option<String>,
    pub name: Key,
    /// Written `name?: T`: may be absent; absent fields are left out of the output.
    pub optional: bool,
    pub ty: TypeExpr,
    /// Written `name: T = expr`.
    pub default: Option<Expr>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Refinement {
    /// `lo..hi`, `lo..`, `..hi` (inclusive bounds) on numbers, quantities, durations, or on the
    /// length of lists, maps and strings.
    Range {
        lo: Option<Box<Expr>>,
        hi: Option<Box<Expr>>,
    },
    /// `/regex/` on strings (whole-string match).
    Regex { pattern: String, span: Span },
}

/// A record key: a bare identifier or a quoted string (`"app.kubernetes.io/name" = ...`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Key {
    Ident(Ident),
    Str { value: String, span: Span },
}

impl Key {
    pub fn name(&self) -> &str {
        match self {
            Key::Ident(i) => &i.name,
            Key::Str { value, .. } => value,
        }
    }

    pub fn span(&self) -> Span {
        match self {
            Key::Ident(i) => i.span,
            Key::Str { span, .. } => *span,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    Int(i64),
    Float(f64),
    Bool(bool),
    Str(String),
}

/// A string literal, possibly with `${...}` interpolations. `"..."` or `"""..."""` (multi-line).
#[derive(Debug, Clone, PartialEq)]
pub struct StrLit {
    pub parts: Vec<StrPart>,
    /// `"""` form: the formatter keeps it.
    pub multiline: bool,
    pub span: Span,
}

impl StrLit {
    /// The text if the literal has no interpolation.
    pub fn as_plain(&self) -> Option<String> {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                StrPart::Text(t) => out.push_str(t),
                StrPart::Interp(_) => return None,
            }
        }
        Some(out)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum StrPart {
    /// Literal text with escapes already decoded.
    Text(String),
    Interp(Expr),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Expr {
    pub kind: ExprKind,
    pub span: Span,
}

/// The unit family a unit literal was written in; the checker decides its dimension.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UnitKind {
    /// Kubernetes quantity suffix: `m`, `k`, `M`, `G`, `T`, `P`, `E`, `Ki` .. `Ei`, or an exponent
    /// (`1e3` is a float, `1E3`? see docs/language.md). Example: `16Gi`, `500m`, `1.5G`.
    Quantity,
    /// `ms`, `s`, `min`, `h`, `d`. Example: `30s`, `2h`.
    Duration,
    /// `%`. Example: `10%`.
    Percent,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ExprKind {
    Int(i64),
    Float(f64),
    Bool(bool),
    Str(StrLit),
    /// A number with a unit suffix, kept as written (`"16Gi"`); the number part may be a decimal.
    Unit {
        text: String,
        unit: UnitKind,
    },
    /// A bare name: a local, a parameter, a sibling field, a `let`, a function, an import alias.
    Name(Ident),
    /// `target.field`.
    Field {
        target: Box<Expr>,
        field: Ident,
    },
    /// `target[index]` (map lookup by string, list by int).
    Index {
        target: Box<Expr>,
        index: Box<Expr>,
    },
    /// `f(a, b, name = c)`.
    Call {
        callee: Box<Expr>,
        args: Vec<Arg>,
    },
    /// `[a, b, c]`.
    List(Vec<Expr>),
    /// `[body for x in xs if cond]`.
    ListComp {
        body: Box<Expr>,
        clauses: Vec<CompClause>,
    },
    /// `{ a = 1, "b.c" = 2 }`: a record, or a map when the expected type is a `Map`.
    /// Entries are separated by newlines, `,` or `;`. Inside, sibling fields are in scope.
    Record(Vec<RecordEntry>),
    /// `{ key = value for k, v in m if cond }`: builds a map; `key` is an expression here.
    RecordComp {
        key: Box<Expr>,
        value: Box<Expr>,
        clauses: Vec<CompClause>,
    },
    /// `kf.Gpu { model = "a100" }` or `Storage.S3 { bucket = "b" }`: a record checked against a
    /// named type (defaults filled, unknown fields rejected).
    Construct {
        ty: Path,
        fields: Vec<RecordEntry>,
    },
    /// `base with { a = 1, b = { c = 2 } }`: typed deep merge; nested records merge, other values replace.
    With {
        base: Box<Expr>,
        patch: Vec<RecordEntry>,
    },
    /// `if cond then a else b`.
    If {
        cond: Box<Expr>,
        then_branch: Box<Expr>,
        else_branch: Box<Expr>,
    },
    Binary {
        op: BinOp,
        lhs: Box<Expr>,
        rhs: Box<Expr>,
    },
    Unary {
        op: UnaryOp,
        operand: Box<Expr>,
    },
    /// `match e { S3 s => ..., Pvc p => ..., "x" => ..., _ => ... }`.
    Match {
        scrutinee: Box<Expr>,
        arms: Vec<MatchArm>,
    },
    /// `x -> body` or `(x: Int, y) -> body`.
    Lambda {
        params: Vec<Param>,
        body: Box<Expr>,
    },
    /// `(e)`, kept so the formatter reproduces the user's grouping.
    Paren(Box<Expr>),
    /// Placeholder after a syntax error; the checker ignores it silently.
    Error,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Arg {
    pub name: Option<Ident>,
    pub value: Expr,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RecordEntry {
    pub key: Key,
    pub value: Expr,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum CompClause {
    /// `for x in e` or `for k, v in e` (over a map, or index and item over a list).
    For {
        vars: Vec<Ident>,
        iter: Expr,
        span: Span,
    },
    /// `if cond`.
    If { cond: Expr, span: Span },
}

#[derive(Debug, Clone, PartialEq)]
pub struct MatchArm {
    pub pattern: Pattern,
    pub body: Expr,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Pattern {
    /// `S3 s`: a tagged-union variant, binding its record to `s` (binding optional: `S3`).
    Variant { tag: Ident, binding: Option<Ident> },
    /// `"pytorch"`, `3`, `true`.
    Literal { value: Literal, span: Span },
    /// `_`.
    Wildcard(Span),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    And,
    Or,
}

impl BinOp {
    pub fn as_str(self) -> &'static str {
        match self {
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
            BinOp::Eq => "==",
            BinOp::Ne => "!=",
            BinOp::Lt => "<",
            BinOp::Le => "<=",
            BinOp::Gt => ">",
            BinOp::Ge => ">=",
            BinOp::And => "&&",
            BinOp::Or => "||",
        }
    }

    /// Binding strength, higher binds tighter: `||` 1, `&&` 2, comparisons 3, `+ -` 4, `* /` 5.
    pub fn precedence(self) -> u8 {
        match self {
            BinOp::Or => 1,
            BinOp::And => 2,
            BinOp::Eq | BinOp::Ne | BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge => 3,
            BinOp::Add | BinOp::Sub => 4,
            BinOp::Mul | BinOp::Div => 5,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UnaryOp {
    Neg,
    Not,
}
