//! Evaluation: runs a checked [`Program`] to [`Value`] trees, within a [`Budget`].
//!
//! The evaluator trusts the checker: it never meets an ill-typed value, an unknown name or a
//! reference cycle among sibling fields (those are compile errors). What can still fail at run
//! time is reported as a diagnostic and stops evaluation: the budget (K0601, checked on every
//! step and charged for bulk work such as list concatenation, so a hostile spec stops quickly),
//! integer overflow (K0602), a refinement on a computed value (K0603), arithmetic that has no
//! exact answer (K0604), and a missing map key, list index or optional field (K0605).
//!
//! Runtime values ([`RVal`]) share structure through `Rc`, so passing records and lists around
//! is cheap; [`Evaluator::output`] turns them into plain [`Value`]s. Everything is ordered:
//! records keep their layout order, maps their insertion order.

use std::cmp::Ordering;
use std::rc::Rc;

use indexmap::IndexMap;
use kiln_lang::ast::BinOp;
use kiln_lang::{Diagnostic, Span};

use crate::Budget;
use crate::codes;
use crate::ir::*;
use crate::types::{Name, check_refinement};
use crate::units::{ArithError, Duration, Percent, Quantity, quantity_from_f64};
use crate::value::Value;

/// A runtime value.
#[derive(Debug, Clone)]
pub enum RVal {
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(Rc<str>),
    Quantity(Quantity),
    Duration(Duration),
    Percent(Percent),
    List(Rc<Vec<RVal>>),
    /// Fields in layout order; an optional field that was not given is [`RVal::Absent`].
    Record(Rc<Vec<(Name, RVal)>>),
    Map(Rc<IndexMap<Name, RVal>>),
    Tagged(Rc<(Name, RVal)>),
    Closure(Rc<Closure>),
    FnRef(FnId),
    Absent,
    /// A sibling slot not yet evaluated (never observed: the checker orders siblings).
    Unset,
}

#[derive(Debug)]
pub struct Closure {
    pub env: Vec<RVal>,
    pub params: u32,
    pub body: Rc<Ir>,
}

impl PartialEq for RVal {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (RVal::Bool(a), RVal::Bool(b)) => a == b,
            (RVal::Int(a), RVal::Int(b)) => a == b,
            (RVal::Float(a), RVal::Float(b)) => a == b,
            (RVal::Int(a), RVal::Float(b)) | (RVal::Float(b), RVal::Int(a)) => (*a as f64) == *b,
            (RVal::Str(a), RVal::Str(b)) => a == b,
            (RVal::Quantity(a), RVal::Quantity(b)) => a.milli == b.milli,
            (RVal::Duration(a), RVal::Duration(b)) => a == b,
            (RVal::Percent(a), RVal::Percent(b)) => a == b,
            (RVal::List(a), RVal::List(b)) => a == b,
            (RVal::Record(a), RVal::Record(b)) => {
                let present =
                    |r: &Rc<Vec<(Name, RVal)>>| r.iter().filter(|(_, v)| !matches!(v, RVal::Absent)).count();
                present(a) == present(b)
                    && a.iter()
                        .filter(|(_, v)| !matches!(v, RVal::Absent))
                        .all(|(k, v)| b.iter().any(|(k2, v2)| k == k2 && v == v2))
            }
            (RVal::Map(a), RVal::Map(b)) => a == b,
            (RVal::Tagged(a), RVal::Tagged(b)) => a.0 == b.0 && a.1 == b.1,
            (RVal::FnRef(a), RVal::FnRef(b)) => a == b,
            (RVal::Closure(a), RVal::Closure(b)) => Rc::ptr_eq(a, b),
            (RVal::Absent, RVal::Absent) => true,
            _ => false,
        }
    }
}

impl RVal {
    pub fn str(s: &str) -> RVal {
        RVal::Str(Rc::from(s))
    }

    /// Ordering of two scalars of one kind (numbers, units, strings).
    pub fn compare(&self, other: &RVal) -> Option<Ordering> {
        match (self, other) {
            (RVal::Int(a), RVal::Int(b)) => Some(a.cmp(b)),
            (RVal::Float(a), RVal::Float(b)) => a.partial_cmp(b),
            (RVal::Int(a), RVal::Float(b)) => (*a as f64).partial_cmp(b),
            (RVal::Float(a), RVal::Int(b)) => a.partial_cmp(&(*b as f64)),
            (RVal::Str(a), RVal::Str(b)) => Some(a.cmp(b)),
            (RVal::Quantity(a), RVal::Quantity(b)) => Some(a.milli.cmp(&b.milli)),
            (RVal::Duration(a), RVal::Duration(b)) => Some(a.cmp(b)),
            (RVal::Percent(a), RVal::Percent(b)) => Some(a.cmp(b)),
            _ => None,
        }
    }

    /// A short rendering for messages (`16Gi`, `"abc"`, `3`).
    pub fn show(&self) -> String {
        match self {
            RVal::Str(s) => format!("{:?}", kiln_lang::diagnostic::quote(s)),
            other => other.text().unwrap_or_else(|| "a value".to_string()),
        }
    }

    /// The text of a scalar as interpolated into a string.
    pub fn text(&self) -> Option<String> {
        Some(match self {
            RVal::Bool(b) => b.to_string(),
            RVal::Int(i) => i.to_string(),
            RVal::Float(f) => f.to_string(),
            RVal::Str(s) => s.to_string(),
            RVal::Quantity(q) => q.canonical(),
            RVal::Duration(d) => d.canonical(),
            RVal::Percent(p) => p.canonical(),
            _ => return None,
        })
    }

    fn field(&self, name: &str) -> Option<&RVal> {
        match self {
            RVal::Record(fields) => fields.iter().find(|(k, _)| &**k == name).map(|(_, v)| v),
            _ => None,
        }
    }
}

type R<T = RVal> = Result<T, Box<Diagnostic>>;

#[derive(Clone)]
enum Memo {
    Todo,
    Busy,
    Done(RVal),
}

/// Runs one [`Program`].
pub struct Evaluator<'p> {
    prog: &'p Program,
    env: Vec<RVal>,
    globals: Vec<Memo>,
    defaults: Vec<Memo>,
    steps: u64,
    /// Bytes allocated on behalf of the spec so far (see [`Budget::max_alloc_bytes`]).
    bytes: u64,
    /// Current nesting of [`Evaluator::eval`] (see [`Budget::max_eval_depth`]).
    depth: u32,
    budget: Budget,
    /// The innermost spanned node being evaluated (for budget messages).
    span: Span,
}

impl<'p> Evaluator<'p> {
    pub fn new(prog: &'p Program, budget: Budget) -> Self {
        Evaluator {
            prog,
            env: Vec::new(),
            globals: vec![Memo::Todo; prog.globals.len()],
            defaults: vec![Memo::Todo; prog.defaults.len()],
            steps: 0,
            bytes: 0,
            depth: 0,
            budget,
            span: Span::default(),
        }
    }

    /// Evaluates every emit of the program; returns the output ones.
    pub fn run(&mut self) -> R<Vec<crate::Emitted>> {
        let mut out = Vec::new();
        let mut outputs = OutputCount::default();
        for emit in &self.prog.emits {
            self.span = emit.span;
            let name = self.eval(&emit.name)?;
            let name = match name {
                RVal::Str(s) => s.to_string(),
                other => other.text().unwrap_or_default(),
            };
            let value = self.eval(&emit.value)?;
            if !emit.output {
                continue;
            }
            // One type and name may be emitted in two namespaces; the build stage checks object
            // identity (kind, namespace, name) and reports real duplicates as K0702.
            let value = self.output(&value, &mut outputs)?;
            out.push(crate::Emitted {
                ty: emit.ty.clone(),
                stdlib: emit.stdlib,
                name,
                value,
                span: emit.span,
            });
        }
        Ok(out)
    }

    fn budget_error(&self, what: &str) -> Box<Diagnostic> {
        Box::new(
            Diagnostic::error(
                codes::BUDGET_EXCEEDED,
                format!("evaluation budget exceeded: more than {what}"),
                self.span,
                "while evaluating this",
            )
            .with_help("the spec does too much work; look for comprehensions over large ranges or repeated concatenation"),
        )
    }

    /// Charges `bytes` of allocation against the budget; called before the allocation is made,
    /// so a spec that asks for too much stops before the memory is taken.
    fn alloc(&mut self, bytes: u64) -> R<()> {
        self.bytes = self.bytes.saturating_add(bytes);
        if self.bytes > self.budget.max_alloc_bytes {
            return Err(self.budget_error(&format!(
                "{} MiB of memory for strings, lists and records",
                self.budget.max_alloc_bytes >> 20
            )));
        }
        Ok(())
    }

    /// Charges a collection of `n` slots of `T`.
    fn alloc_slots<T>(&mut self, n: usize) -> R<()> {
        self.alloc((n as u64).saturating_mul(std::mem::size_of::<T>() as u64))
    }

    /// A float result must be a number: infinity and NaN have no form in a manifest.
    fn finite(&self, f: f64, span: Span) -> R {
        if f.is_finite() {
            Ok(RVal::Float(f))
        } else {
            Err(Box::new(
                Diagnostic::error(
                    codes::NON_FINITE_FLOAT,
                    format!("this float arithmetic has no finite result ({f})"),
                    span,
                    "computed here",
                )
                .with_help("divide by a value that cannot be zero, or keep the numbers smaller"),
            ))
        }
    }

    /// Counts `n` steps of work against the budget.
    fn charge(&mut self, n: u64) -> R<()> {
        self.steps = self.steps.saturating_add(n);
        if self.steps > self.budget.max_steps {
            return Err(self.budget_error(&format!("{} steps", self.budget.max_steps)));
        }
        Ok(())
    }

    fn err(&self, code: kiln_lang::Code, span: Span, message: String, label: &str) -> Box<Diagnostic> {
        Box::new(Diagnostic::error(code, message, span, label))
    }

    fn arith(&self, e: ArithError, span: Span) -> Box<Diagnostic> {
        match e {
            ArithError::Overflow => self.err(
                codes::INTEGER_OVERFLOW,
                span,
                "arithmetic overflow".into(),
                "the result does not fit",
            ),
            ArithError::DivisionByZero => self.err(
                codes::ARITHMETIC_ERROR,
                span,
                "division by zero".into(),
                "the divisor is zero",
            ),
            ArithError::Inexact => self.err(
                codes::ARITHMETIC_ERROR,
                span,
                "the division has no exact result".into(),
                "not a whole number of the smallest unit",
            ),
        }
    }

    fn global(&mut self, id: GlobalId) -> R {
        match &self.globals[id as usize] {
            Memo::Done(v) => return Ok(v.clone()),
            Memo::Busy => {
                let (name, span, _) = &self.prog.globals[id as usize];
                return Err(self.err(
                    codes::RECURSION,
                    *span,
                    format!("`{name}` depends on itself while being evaluated"),
                    "reached again here",
                ));
            }
            Memo::Todo => {}
        }
        self.globals[id as usize] = Memo::Busy;
        let saved = std::mem::take(&mut self.env);
        let result = self.eval(&self.prog.globals[id as usize].2);
        self.env = saved;
        let v = result?;
        self.globals[id as usize] = Memo::Done(v.clone());
        Ok(v)
    }

    fn default(&mut self, id: u32) -> R {
        match &self.defaults[id as usize] {
            Memo::Done(v) => return Ok(v.clone()),
            Memo::Busy => {
                return Err(self.err(
                    codes::RECURSION,
                    self.span,
                    "a field default depends on itself".into(),
                    "while evaluating this",
                ));
            }
            Memo::Todo => {}
        }
        self.defaults[id as usize] = Memo::Busy;
        let saved = std::mem::take(&mut self.env);
        let result = self.eval(&self.prog.defaults[id as usize]);
        self.env = saved;
        let v = result?;
        self.defaults[id as usize] = Memo::Done(v.clone());
        Ok(v)
    }

    /// Evaluates one node, counting a step and one level of nesting.
    pub fn eval(&mut self, ir: &Ir) -> R {
        self.charge(1)?;
        if self.depth >= self.budget.max_eval_depth {
            return Err(Box::new(
                Diagnostic::error(
                    codes::EVAL_TOO_DEEP,
                    format!(
                        "evaluation nests deeper than {} levels",
                        self.budget.max_eval_depth
                    ),
                    self.span,
                    "while evaluating this",
                )
                .with_help("a chain of lets, calls or field defaults this long is not a real configuration; shorten it"),
            ));
        }
        self.depth += 1;
        let result = self.eval_node(ir);
        self.depth -= 1;
        result
    }

    fn eval_node(&mut self, ir: &Ir) -> R {
        match ir {
            Ir::Lit(v) => Ok(v.clone()),
            Ir::Local(slot) => Ok(self.env[*slot as usize].clone()),
            Ir::Global(id) => self.global(*id),
            Ir::FnRef(f) => Ok(RVal::FnRef(*f)),
            Ir::Field { target, name, span } => {
                let t = self.eval(target)?;
                match t.field(name) {
                    Some(RVal::Absent) | None => Err(self.err(
                        codes::MISSING_VALUE,
                        *span,
                        format!("optional field `{name}` is not set"),
                        "read here",
                    )),
                    Some(v) => Ok(v.clone()),
                }
            }
            Ir::Index { target, index, span } => {
                let t = self.eval(target)?;
                let i = self.eval(index)?;
                match (&t, &i) {
                    (RVal::List(items), RVal::Int(n)) => {
                        let len = items.len();
                        usize::try_from(*n)
                            .ok()
                            .and_then(|n| items.get(n))
                            .cloned()
                            .ok_or_else(|| {
                                self.err(
                                    codes::MISSING_VALUE,
                                    *span,
                                    format!("index {n} is out of range for a list of length {len}"),
                                    "no such element",
                                )
                            })
                    }
                    (RVal::Map(m), RVal::Str(k)) => m.get(&**k).cloned().ok_or_else(|| {
                        let mut d = Diagnostic::error(
                            codes::MISSING_VALUE,
                            format!("the map has no key {:?}", kiln_lang::diagnostic::quote(k)),
                            *span,
                            "no such key",
                        );
                        if let Some(s) = kiln_lang::diagnostic::did_you_mean(k, m.keys().map(|k| &**k)) {
                            d = d.with_help(format!("did you mean {s:?}?"));
                        }
                        Box::new(d)
                    }),
                    _ => Err(self.internal(*span)),
                }
            }
            Ir::CallFn { func, args, span } => {
                self.span = *span;
                let mut vals = Vec::with_capacity(args.len());
                for a in args {
                    vals.push(match a {
                        Some(a) => Some(self.eval(a)?),
                        None => None,
                    });
                }
                self.call_fn(*func, vals)
            }
            Ir::CallValue { callee, args, span } => {
                self.span = *span;
                let f = self.eval(callee)?;
                let mut vals = Vec::with_capacity(args.len());
                for a in args {
                    vals.push(self.eval(a)?);
                }
                self.call_value(f, vals, *span)
            }
            Ir::CallBuiltin { builtin, args, span } => {
                let mut vals = Vec::with_capacity(args.len());
                for a in args {
                    vals.push(self.eval(a)?);
                }
                self.builtin(*builtin, vals, *span)
            }
            Ir::List(items) => {
                self.alloc_slots::<RVal>(items.len())?;
                let mut out = Vec::with_capacity(items.len());
                for item in items {
                    out.push(self.eval(item)?);
                }
                Ok(RVal::List(Rc::new(out)))
            }
            Ir::Comp(comp) => {
                self.span = comp.span;
                let mut list = Vec::new();
                let mut map = IndexMap::new();
                self.comp(comp, 0, &mut list, &mut map)?;
                Ok(match comp.body {
                    CompBody::List(_) => RVal::List(Rc::new(list)),
                    CompBody::Map { .. } => RVal::Map(Rc::new(map)),
                })
            }
            Ir::Record(rec) => self.record(rec),
            Ir::Tag { tag, value } => {
                let v = self.eval(value)?;
                self.alloc_slots::<(Name, RVal)>(1)?;
                Ok(RVal::Tagged(Rc::new((tag.clone(), v))))
            }
            Ir::With { base, patch } => {
                let b = self.eval(base)?;
                self.patch(b, patch)
            }
            Ir::If {
                cond,
                then_branch,
                else_branch,
            } => match self.eval(cond)? {
                RVal::Bool(true) => self.eval(then_branch),
                _ => self.eval(else_branch),
            },
            Ir::Binary { op, lhs, rhs, span } => self.binary(*op, lhs, rhs, *span),
            Ir::Not(e) => match self.eval(e)? {
                RVal::Bool(b) => Ok(RVal::Bool(!b)),
                _ => Err(self.internal(self.span)),
            },
            Ir::Neg { operand, span } => {
                let v = self.eval(operand)?;
                match v {
                    RVal::Int(i) => i
                        .checked_neg()
                        .map(RVal::Int)
                        .ok_or_else(|| self.arith(ArithError::Overflow, *span)),
                    RVal::Float(f) => self.finite(-f, *span),
                    RVal::Quantity(q) => q
                        .checked_neg()
                        .map(RVal::Quantity)
                        .map_err(|e| self.arith(e, *span)),
                    RVal::Duration(d) => d
                        .checked_neg()
                        .map(RVal::Duration)
                        .map_err(|e| self.arith(e, *span)),
                    RVal::Percent(p) => p
                        .checked_neg()
                        .map(RVal::Percent)
                        .map_err(|e| self.arith(e, *span)),
                    _ => Err(self.internal(*span)),
                }
            }
            Ir::Match(m) => self.matches(m),
            Ir::Lambda { params, body } => {
                self.alloc_slots::<RVal>(self.env.len())?;
                Ok(RVal::Closure(Rc::new(Closure {
                    env: self.env.clone(),
                    params: *params,
                    body: body.clone(),
                })))
            }
            Ir::Interp(parts) => {
                // Evaluate every part first (shared strings are not copied), then charge the
                // whole result before building it.
                self.alloc_slots::<RVal>(parts.len())?;
                let mut texts = Vec::with_capacity(parts.len());
                for p in parts {
                    texts.push(match self.eval(p)? {
                        RVal::Str(t) => t,
                        other => Rc::from(other.text().unwrap_or_default()),
                    });
                }
                self.concat(&texts, "")
            }
            Ir::Convert { value, conv, span } => {
                let v = self.eval(value)?;
                self.convert(v, conv, *span)
            }
        }
    }

    fn internal(&self, span: Span) -> Box<Diagnostic> {
        self.err(
            codes::INTERNAL,
            span,
            "internal error: the evaluator met a value the checker should have rejected".into(),
            "here",
        )
    }

    /// Joins strings, charging the bytes of the result before it is built.
    fn concat(&mut self, parts: &[Rc<str>], sep: &str) -> R {
        let total = parts.iter().map(|p| p.len() as u64).sum::<u64>()
            + (sep.len() as u64).saturating_mul(parts.len().saturating_sub(1) as u64);
        self.charge(total / 64)?;
        // Twice: the text is built in a `String`, then copied into its shared `Rc<str>`.
        self.alloc(total.saturating_mul(2))?;
        let mut s = String::with_capacity(total as usize);
        for (i, p) in parts.iter().enumerate() {
            if i > 0 {
                s.push_str(sep);
            }
            s.push_str(p);
        }
        Ok(RVal::Str(Rc::from(s)))
    }

    fn call_fn(&mut self, func: FnId, args: Vec<Option<RVal>>) -> R {
        self.alloc_slots::<RVal>(args.len())?;
        let f = &self.prog.fns[func as usize];
        let saved = std::mem::replace(&mut self.env, Vec::with_capacity(args.len()));
        let mut result = Ok(RVal::Unset);
        for (i, a) in args.into_iter().enumerate() {
            let v = match a {
                Some(v) => v,
                None => match f.defaults.get(i).and_then(Option::as_ref) {
                    Some(d) => match self.eval(d) {
                        Ok(v) => v,
                        Err(e) => {
                            result = Err(e);
                            break;
                        }
                    },
                    None => RVal::Absent,
                },
            };
            self.env.push(v);
        }
        if result.is_ok() {
            result = self.eval(&f.body);
        }
        self.env = saved;
        result
    }

    fn call_value(&mut self, f: RVal, args: Vec<RVal>, span: Span) -> R {
        match f {
            RVal::Closure(c) => {
                self.alloc_slots::<RVal>(c.env.len() + args.len())?;
                let mut env = c.env.clone();
                env.extend(args);
                self.charge(env.len() as u64 / 16)?;
                let saved = std::mem::replace(&mut self.env, env);
                let result = self.eval(&c.body);
                self.env = saved;
                result
            }
            RVal::FnRef(id) => self.call_fn(id, args.into_iter().map(Some).collect()),
            _ => Err(self.internal(span)),
        }
    }

    fn builtin(&mut self, b: Builtin, args: Vec<RVal>, span: Span) -> R {
        let mut args = args.into_iter();
        let a = args.next().unwrap_or(RVal::Unset);
        match (b, a) {
            (Builtin::Len, RVal::Str(s)) => Ok(RVal::Int(s.chars().count() as i64)),
            (Builtin::Len, RVal::List(l)) => Ok(RVal::Int(l.len() as i64)),
            (Builtin::Len, RVal::Map(m)) => Ok(RVal::Int(m.len() as i64)),
            (Builtin::Range, RVal::Int(a)) => {
                let (lo, hi) = match args.next() {
                    Some(RVal::Int(b)) => (a, b),
                    _ => (0, a),
                };
                let n = hi.saturating_sub(lo).max(0) as u64;
                self.charge(n)?;
                self.alloc_slots::<RVal>(n as usize)?;
                Ok(RVal::List(Rc::new((lo..hi).map(RVal::Int).collect())))
            }
            (Builtin::Keys, RVal::Map(m)) => {
                self.charge(m.len() as u64)?;
                self.alloc_slots::<RVal>(m.len())?;
                Ok(RVal::List(Rc::new(
                    m.keys().map(|k| RVal::Str(k.clone())).collect(),
                )))
            }
            (Builtin::Values, RVal::Map(m)) => {
                self.charge(m.len() as u64)?;
                self.alloc_slots::<RVal>(m.len())?;
                Ok(RVal::List(Rc::new(m.values().cloned().collect())))
            }
            (Builtin::Join, RVal::List(l)) => {
                let sep = match args.next() {
                    Some(RVal::Str(s)) => s,
                    _ => Rc::from(""),
                };
                self.charge(l.len() as u64)?;
                self.alloc_slots::<Rc<str>>(l.len())?;
                let parts: Vec<Rc<str>> = l
                    .iter()
                    .map(|v| match v {
                        RVal::Str(s) => s.clone(),
                        other => Rc::from(other.text().unwrap_or_default()),
                    })
                    .collect();
                self.concat(&parts, &sep)
            }
            (Builtin::Str, v) => {
                let text = v.text().unwrap_or_default();
                self.alloc(text.len() as u64)?;
                Ok(RVal::Str(Rc::from(text)))
            }
            _ => Err(self.internal(span)),
        }
    }

    fn comp(&mut self, comp: &Comp, i: usize, list: &mut Vec<RVal>, map: &mut IndexMap<Name, RVal>) -> R<()> {
        let Some(clause) = comp.clauses.get(i) else {
            match &comp.body {
                CompBody::List(body) => {
                    let v = self.eval(body)?;
                    self.alloc_slots::<RVal>(1)?;
                    list.push(v);
                }
                CompBody::Map { key, value } => {
                    let k = match self.eval(key)? {
                        RVal::Str(s) => s,
                        other => Rc::from(other.text().unwrap_or_default()),
                    };
                    let v = self.eval(value)?;
                    self.alloc((std::mem::size_of::<(Name, RVal)>() + k.len()) as u64)?;
                    map.insert(k, v);
                }
            }
            return Ok(());
        };
        match clause {
            ClauseIr::If(cond) => {
                if let RVal::Bool(true) = self.eval(cond)? {
                    self.comp(comp, i + 1, list, map)?;
                }
                Ok(())
            }
            ClauseIr::For { vars, iter } => {
                let it = self.eval(iter)?;
                let base = self.env.len();
                let mut run = |this: &mut Self, a: RVal, b: Option<RVal>| -> R<()> {
                    this.charge(1)?;
                    this.env.push(a);
                    if let Some(b) = b {
                        this.env.push(b);
                    }
                    let r = this.comp(comp, i + 1, list, map);
                    this.env.truncate(base);
                    r
                };
                match it {
                    RVal::List(items) => {
                        for (n, item) in items.iter().enumerate() {
                            if *vars == 2 {
                                run(self, RVal::Int(n as i64), Some(item.clone()))?;
                            } else {
                                run(self, item.clone(), None)?;
                            }
                        }
                    }
                    RVal::Map(m) => {
                        for (k, v) in m.iter() {
                            let second = (*vars == 2).then(|| v.clone());
                            run(self, RVal::Str(k.clone()), second)?;
                        }
                    }
                    _ => return Err(self.internal(comp.span)),
                }
                Ok(())
            }
        }
    }

    fn record(&mut self, rec: &RecordIr) -> R {
        let base = rec.base as usize;
        // The checker numbers slots from the environment depth at the literal.
        debug_assert_eq!(base, self.env.len());
        self.env.truncate(base);
        self.env.resize(base + rec.entries.len(), RVal::Unset);
        for &i in &rec.order {
            let v = match self.eval(&rec.entries[i as usize]) {
                Ok(v) => v,
                Err(e) => {
                    self.env.truncate(base);
                    return Err(e);
                }
            };
            self.env[base + i as usize] = v;
        }
        self.charge(rec.out.len() as u64)?;
        if let Err(e) = self.alloc_slots::<(Name, RVal)>(rec.out.len()) {
            self.env.truncate(base);
            return Err(e);
        }
        let result = if rec.as_map {
            let mut m = IndexMap::with_capacity(rec.out.len());
            for (name, src) in &rec.out {
                if let FieldSource::Entry(i) = src {
                    m.insert(name.clone(), self.env[base + *i as usize].clone());
                }
            }
            Ok(RVal::Map(Rc::new(m)))
        } else {
            let mut fields = Vec::with_capacity(rec.out.len());
            let mut failure = None;
            for (name, src) in &rec.out {
                let v = match src {
                    FieldSource::Entry(i) => self.env[base + *i as usize].clone(),
                    FieldSource::Absent => RVal::Absent,
                    FieldSource::Default(d) => match self.default(*d) {
                        Ok(v) => v,
                        Err(e) => {
                            failure = Some(e);
                            break;
                        }
                    },
                };
                fields.push((name.clone(), v));
            }
            match failure {
                Some(e) => Err(e),
                None => Ok(RVal::Record(Rc::new(fields))),
            }
        };
        self.env.truncate(base);
        result
    }

    fn patch(&mut self, base: RVal, patch: &[PatchEntry]) -> R {
        let RVal::Record(fields) = base else {
            return Err(self.internal(self.span));
        };
        self.charge(fields.len() as u64)?;
        self.alloc_slots::<(Name, RVal)>(fields.len() + patch.len())?;
        let mut fields: Vec<(Name, RVal)> = Rc::unwrap_or_clone(fields);
        for entry in patch {
            let pos = fields.iter().position(|(k, _)| *k == entry.name);
            let new = match &entry.op {
                PatchOp::Replace(ir) => self.eval(ir)?,
                PatchOp::Merge(inner) => {
                    let current = pos.map_or(RVal::Absent, |p| fields[p].1.clone());
                    match current {
                        RVal::Record(_) => self.patch(current, inner)?,
                        RVal::Map(m) => {
                            self.alloc_slots::<(Name, RVal)>(m.len() + inner.len())?;
                            let mut m = Rc::unwrap_or_clone(m);
                            for e in inner {
                                if let PatchOp::Replace(ir) = &e.op {
                                    let v = self.eval(ir)?;
                                    m.insert(e.name.clone(), v);
                                }
                            }
                            RVal::Map(Rc::new(m))
                        }
                        // An absent optional record: the patch must then be complete, which
                        // the checker ensured by treating it as a replacement.
                        _ => return Err(self.internal(self.span)),
                    }
                }
            };
            match pos {
                Some(p) => fields[p].1 = new,
                None => fields.push((entry.name.clone(), new)),
            }
        }
        Ok(RVal::Record(Rc::new(fields)))
    }

    fn binary(&mut self, op: BinOp, lhs: &Ir, rhs: &Ir, span: Span) -> R {
        self.span = span;
        if matches!(op, BinOp::And | BinOp::Or) {
            let l = matches!(self.eval(lhs)?, RVal::Bool(true));
            if (op == BinOp::And) != l {
                return Ok(RVal::Bool(l));
            }
            return self.eval(rhs);
        }
        let l = self.eval(lhs)?;
        let r = self.eval(rhs)?;
        let arith = |e| self.arith(e, span);
        use RVal as V;
        Ok(match op {
            BinOp::Eq => V::Bool(l == r),
            BinOp::Ne => V::Bool(l != r),
            BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge => {
                let ord = l.compare(&r).ok_or_else(|| self.internal(span))?;
                V::Bool(match op {
                    BinOp::Lt => ord == Ordering::Less,
                    BinOp::Le => ord != Ordering::Greater,
                    BinOp::Gt => ord == Ordering::Greater,
                    _ => ord != Ordering::Less,
                })
            }
            BinOp::Add => match (l, r) {
                (V::Int(a), V::Int(b)) => {
                    V::Int(a.checked_add(b).ok_or_else(|| arith(ArithError::Overflow))?)
                }
                (V::Float(a), V::Float(b)) => self.finite(a + b, span)?,
                (V::Quantity(a), V::Quantity(b)) => V::Quantity(a.checked_add(b).map_err(arith)?),
                (V::Duration(a), V::Duration(b)) => V::Duration(a.checked_add(b).map_err(arith)?),
                (V::Percent(a), V::Percent(b)) => V::Percent(a.checked_add(b).map_err(arith)?),
                (V::Str(a), V::Str(b)) => self.concat(&[a, b], "")?,
                (V::List(a), V::List(b)) => {
                    self.charge((a.len() + b.len()) as u64)?;
                    self.alloc_slots::<RVal>(a.len() + b.len())?;
                    let mut v = Rc::unwrap_or_clone(a);
                    v.extend(b.iter().cloned());
                    V::List(Rc::new(v))
                }
                _ => return Err(self.internal(span)),
            },
            BinOp::Sub => match (l, r) {
                (V::Int(a), V::Int(b)) => {
                    V::Int(a.checked_sub(b).ok_or_else(|| arith(ArithError::Overflow))?)
                }
                (V::Float(a), V::Float(b)) => self.finite(a - b, span)?,
                (V::Quantity(a), V::Quantity(b)) => V::Quantity(a.checked_sub(b).map_err(arith)?),
                (V::Duration(a), V::Duration(b)) => V::Duration(a.checked_sub(b).map_err(arith)?),
                (V::Percent(a), V::Percent(b)) => V::Percent(a.checked_sub(b).map_err(arith)?),
                _ => return Err(self.internal(span)),
            },
            BinOp::Mul => match (l, r) {
                (V::Int(a), V::Int(b)) => {
                    V::Int(a.checked_mul(b).ok_or_else(|| arith(ArithError::Overflow))?)
                }
                (V::Float(a), V::Float(b)) => self.finite(a * b, span)?,
                (V::Quantity(q), V::Int(n)) | (V::Int(n), V::Quantity(q)) => {
                    V::Quantity(q.checked_mul_int(n).map_err(arith)?)
                }
                (V::Duration(d), V::Int(n)) | (V::Int(n), V::Duration(d)) => {
                    V::Duration(d.checked_mul_int(n).map_err(arith)?)
                }
                (V::Percent(p), V::Int(n)) | (V::Int(n), V::Percent(p)) => {
                    V::Percent(p.checked_mul_int(n).map_err(arith)?)
                }
                _ => return Err(self.internal(span)),
            },
            BinOp::Div => match (l, r) {
                (V::Int(_), V::Int(0)) => return Err(arith(ArithError::DivisionByZero)),
                (V::Int(a), V::Int(b)) => {
                    V::Int(a.checked_div(b).ok_or_else(|| arith(ArithError::Overflow))?)
                }
                (V::Float(a), V::Float(b)) => self.finite(a / b, span)?,
                (V::Quantity(q), V::Int(n)) => V::Quantity(q.checked_div_int(n).map_err(arith)?),
                (V::Duration(d), V::Int(n)) => V::Duration(d.checked_div_int(n).map_err(arith)?),
                (V::Percent(p), V::Int(n)) => V::Percent(p.checked_div_int(n).map_err(arith)?),
                (V::Quantity(a), V::Quantity(b)) => V::Float(a.ratio(b).map_err(arith)?),
                (V::Duration(a), V::Duration(b)) => V::Float(a.ratio(b).map_err(arith)?),
                (V::Percent(a), V::Percent(b)) => V::Float(a.ratio(b).map_err(arith)?),
                _ => return Err(self.internal(span)),
            },
            BinOp::And | BinOp::Or => unreachable!("handled above"),
        })
    }

    fn matches(&mut self, m: &MatchIr) -> R {
        let v = self.eval(&m.scrutinee)?;
        for (pattern, body) in &m.arms {
            let bound = match (pattern, &v) {
                (PatternIr::Wildcard, _) => None,
                (PatternIr::Lit(l), _) if *l == v => None,
                (PatternIr::Variant { tag, bind }, RVal::Tagged(t)) if t.0 == *tag => {
                    if *bind {
                        Some(t.1.clone())
                    } else {
                        None
                    }
                }
                _ => continue,
            };
            let base = m.slot as usize;
            self.env.truncate(base);
            if let Some(b) = bound {
                self.env.push(b);
            }
            let r = self.eval(body);
            self.env.truncate(base);
            return r;
        }
        Err(self.internal(m.span))
    }

    fn convert(&mut self, v: RVal, conv: &Conv, span: Span) -> R {
        match conv {
            Conv::IntToFloat => match v {
                RVal::Int(i) => Ok(RVal::Float(i as f64)),
                other => Ok(other),
            },
            Conv::IntToCpu => match v {
                RVal::Int(i) => Ok(RVal::Quantity(Quantity::from_int(i))),
                other => Ok(other),
            },
            Conv::FloatToCpu => match v {
                RVal::Float(f) => quantity_from_f64(f).map(RVal::Quantity).map_err(|e| {
                    self.err(
                        codes::ARITHMETIC_ERROR,
                        span,
                        format!("{f} is not a Cpu quantity: {e}"),
                        "computed here",
                    )
                }),
                RVal::Int(i) => Ok(RVal::Quantity(Quantity::from_int(i))),
                other => Ok(other),
            },
            Conv::Check(r) => match check_refinement(&r.refinement, &v) {
                Ok(()) => Ok(v),
                Err(why) => Err(self.err(
                    codes::REFINEMENT_FAILED,
                    span,
                    format!("value {why}"),
                    &format!("must be in {}", r.text),
                )),
            },
            Conv::List(c) => match v {
                RVal::List(items) => {
                    self.charge(items.len() as u64)?;
                    self.alloc_slots::<RVal>(items.len())?;
                    let mut out = Vec::with_capacity(items.len());
                    for item in items.iter() {
                        out.push(self.convert(item.clone(), c, span)?);
                    }
                    Ok(RVal::List(Rc::new(out)))
                }
                other => Ok(other),
            },
            Conv::Map(c) => match v {
                RVal::Map(m) => {
                    self.charge(m.len() as u64)?;
                    self.alloc_slots::<(Name, RVal)>(m.len())?;
                    let mut out = IndexMap::with_capacity(m.len());
                    for (k, item) in m.iter() {
                        out.insert(k.clone(), self.convert(item.clone(), c, span)?);
                    }
                    Ok(RVal::Map(Rc::new(out)))
                }
                other => Ok(other),
            },
            Conv::Record(layout) => {
                self.charge(layout.len() as u64)?;
                self.alloc_slots::<(Name, RVal)>(layout.len())?;
                let mut out = Vec::with_capacity(layout.len());
                for (name, how) in layout {
                    let value = match how {
                        RecordConvField::Take(c) => match (v.field(name).cloned(), c) {
                            (Some(RVal::Absent) | None, _) => RVal::Absent,
                            (Some(x), Some(c)) => self.convert(x, c, span)?,
                            (Some(x), None) => x,
                        },
                        RecordConvField::Default(d) => self.default(*d)?,
                        RecordConvField::Absent => RVal::Absent,
                    };
                    out.push((name.clone(), value));
                }
                Ok(RVal::Record(Rc::new(out)))
            }
            Conv::RecordToMap => match v {
                RVal::Record(fields) => {
                    self.charge(fields.len() as u64)?;
                    self.alloc_slots::<(Name, RVal)>(fields.len())?;
                    let map = fields
                        .iter()
                        .filter(|(_, v)| !matches!(v, RVal::Absent))
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect();
                    Ok(RVal::Map(Rc::new(map)))
                }
                other => Ok(other),
            },
            Conv::Seq(convs) => {
                let mut v = v;
                for c in convs {
                    v = self.convert(v, c, span)?;
                }
                Ok(v)
            }
        }
    }

    /// Turns a runtime value into an output [`Value`], counting values, bytes and nesting
    /// against the budget before each part is copied. A value shared by several places is
    /// copied, and counted, once per place.
    pub fn output(&self, v: &RVal, count: &mut OutputCount) -> R<Value> {
        self.output_at(v, count, 0)
    }

    fn output_at(&self, v: &RVal, count: &mut OutputCount, depth: u32) -> R<Value> {
        if depth >= MAX_OUTPUT_DEPTH {
            return Err(Box::new(
                Diagnostic::error(
                    codes::EVAL_TOO_DEEP,
                    format!("an output value nests deeper than {MAX_OUTPUT_DEPTH} levels"),
                    self.span,
                    "this object's value",
                )
                .with_help("Kubernetes objects nest a few dozen levels at most; flatten the data"),
            ));
        }
        let text = match v {
            RVal::Str(s) => s.len(),
            RVal::Record(f) => f.iter().map(|(k, _)| k.len()).sum(),
            RVal::Map(f) => f.keys().map(|k| k.len()).sum(),
            RVal::Tagged(t) => t.0.len(),
            RVal::List(items) => items.len() * std::mem::size_of::<Value>(),
            _ => 0,
        };
        count.values += 1;
        count.bytes = count
            .bytes
            .saturating_add((std::mem::size_of::<Value>() + text) as u64);
        if count.values > self.budget.max_output_values {
            return Err(self.budget_error(&format!("{} output values", self.budget.max_output_values)));
        }
        if count.bytes > self.budget.max_output_bytes {
            return Err(self.budget_error(&format!("{} MiB of output", self.budget.max_output_bytes >> 20)));
        }
        let depth = depth + 1;
        Ok(match v {
            RVal::Bool(b) => Value::Bool(*b),
            RVal::Int(i) => Value::Int(*i),
            RVal::Float(f) => Value::Float(*f),
            RVal::Str(s) => Value::Str(s.to_string()),
            RVal::Quantity(q) => Value::Quantity(*q),
            RVal::Duration(d) => Value::Duration(*d),
            RVal::Percent(p) => Value::Percent(*p),
            RVal::List(items) => Value::List(
                items
                    .iter()
                    .map(|i| self.output_at(i, count, depth))
                    .collect::<R<_>>()?,
            ),
            RVal::Record(fields) => {
                let mut m = IndexMap::with_capacity(fields.len());
                for (k, v) in fields.iter() {
                    if !matches!(v, RVal::Absent) {
                        m.insert(k.to_string(), self.output_at(v, count, depth)?);
                    }
                }
                Value::Record(m)
            }
            RVal::Map(fields) => {
                let mut m = IndexMap::with_capacity(fields.len());
                for (k, v) in fields.iter() {
                    m.insert(k.to_string(), self.output_at(v, count, depth)?);
                }
                Value::Record(m)
            }
            RVal::Tagged(t) => {
                let mut m = IndexMap::with_capacity(1);
                m.insert(t.0.to_string(), self.output_at(&t.1, count, depth)?);
                Value::Record(m)
            }
            RVal::Closure(_) | RVal::FnRef(_) => Value::Str("<function>".to_string()),
            RVal::Absent | RVal::Unset => Value::Str(String::new()),
        })
    }
}

/// How deep an output value may nest. Every later stage (lowering, canonical JSON, YAML,
/// hashing) walks output values recursively, so this one cap bounds all of them; real
/// Kubernetes objects nest a few dozen levels.
pub const MAX_OUTPUT_DEPTH: u32 = 256;

/// What [`Evaluator::output`] has produced so far, across all emitted objects.
#[derive(Debug, Default, Clone, Copy)]
pub struct OutputCount {
    pub values: u64,
    pub bytes: u64,
}
