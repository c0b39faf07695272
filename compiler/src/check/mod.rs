//! Static checking: names, types, units and references of every module, before evaluation.
//!
//! The checker walks the AST once, bidirectionally (an expected type flows into literals,
//! records, lists, lambdas and branches), and lowers it to the [`crate::ir`] program the
//! evaluator runs. Top-level `let`s, `fn`s and `type`s are checked on demand with a busy marker,
//! so definition order does not matter and cycles are found where they close (K0106, K0107).
//! Sibling fields of a record literal are checked the same way (K0105 for a cycle); the order in
//! which they finish is a valid evaluation order.
//!
//! Errors never stop the walk: a failed sub-expression gets [`Ty::Error`], which is compatible
//! with everything, so one mistake yields one diagnostic.
//!
//! Submodules: [`tyexpr`] (type expressions), [`assign`] (compatibility and coercions),
//! [`expr`] (expressions), [`record`] (record literals, constructs and `with`), [`reference`]
//! (typed references between fields).

mod assign;
mod expr;
pub mod facts;
mod record;
mod reference;
mod tyexpr;

use std::collections::HashMap;
use std::rc::Rc;

use kiln_lang::ast::{self, Expr, ExprKind, ItemKind};
use kiln_lang::diagnostic::did_you_mean;
use kiln_lang::{Code, Diagnostic, Span};

use crate::codes;
use crate::eval::RVal;
use crate::ir::{EmitIr, FnIr, Ir, Program};
use crate::resolve::{ModId, Module};
use crate::types::{FnTy, Name, Ty};

#[derive(Debug, Clone, Copy)]
enum Global {
    Let(usize),
    Fn(usize),
    Type(usize),
    Import(Option<ModId>),
}

#[derive(Debug, Clone)]
enum State {
    Todo,
    Busy,
    Done(Ty),
}

struct LetInfo<'a> {
    module: ModId,
    name: &'a ast::Ident,
    ty: Option<&'a ast::TypeExpr>,
    value: &'a Expr,
    state: State,
}

/// A checked `fn` signature.
#[derive(Debug, Clone)]
struct FnSig {
    params: Vec<(Name, Ty, bool)>,
    ret: Ty,
}

struct FnInfo<'a> {
    module: ModId,
    name: &'a ast::Ident,
    params: &'a [ast::Param],
    ret: Option<&'a ast::TypeExpr>,
    body: &'a Expr,
    busy: bool,
    sig: Option<Rc<FnSig>>,
}

struct TypeInfo<'a> {
    module: ModId,
    name: &'a ast::Ident,
    ty: &'a ast::TypeExpr,
    state: State,
}

/// What a cycle message names.
#[derive(Debug, Clone, Copy, PartialEq)]
enum GlobalKey {
    Let(usize),
    Fn(usize),
    Type(usize),
}

/// A local binding; its index in `locals` is its runtime slot.
#[derive(Debug, Clone)]
struct Local<'a> {
    name: &'a str,
    ty: Ty,
    /// A sibling field: (frame index, entry index); its type lives in the frame.
    field: Option<(usize, usize)>,
}

/// One record literal being checked (its entries are in scope for each other).
struct Frame<'a> {
    base: usize,
    entries: Vec<FrameEntry<'a>>,
    current: Option<usize>,
    busy: Vec<usize>,
    order: Vec<u32>,
    /// The field whose direct value this literal is: `steps.prep` inside `steps = { prep = .. }`
    /// reaches this literal's `prep`.
    owner: Option<(usize, usize)>,
}

struct FrameEntry<'a> {
    name: &'a str,
    span: Span,
    value: &'a Expr,
    expected: Option<Ty>,
    state: State,
    ir: Option<Ir>,
}

/// The built-in functions of the prelude.
const BUILTINS: &[&str] = &["len", "range", "keys", "values", "join", "str"];
// The built-in type names (defined by the language crate).
use kiln_lang::BUILTIN_TYPES;

pub struct Checker<'a> {
    modules: &'a [Module],
    pub diags: Vec<Diagnostic>,
    pub prog: Program,
    module: ModId,
    scopes: Vec<HashMap<&'a str, Global>>,
    lets: Vec<LetInfo<'a>>,
    fns: Vec<FnInfo<'a>>,
    tys: Vec<TypeInfo<'a>>,
    stack: Vec<GlobalKey>,
    locals: Vec<Local<'a>>,
    frames: Vec<Frame<'a>>,
    pending_defaults: Vec<(ModId, &'a Expr, Ty, u32)>,
    /// Set just before checking a field whose value is a record literal (see `Frame::owner`).
    next_owner: Option<(usize, usize)>,
    /// Nesting of `check` and `resolve_type`, which follow names on demand (a `let` checks the
    /// lets it uses first), so a long chain of definitions is deep recursion: capped at
    /// [`MAX_CHECK_DEPTH`] (K0607), reported once.
    depth: u32,
    too_deep: bool,
    /// Candidates left for did-you-mean searches: each unknown name compares against every
    /// visible name, so thousands of unknown names among thousands of definitions would be
    /// quadratic. Past this many comparisons, diagnostics come without a suggestion.
    suggestion_work: usize,
    /// Facts for editors, when asked for ([`check_recording`]).
    recorder: Option<Box<facts::Recorder>>,
}

/// How deeply checking may nest (expressions, and definitions followed through names).
/// A real project stays far below (a let chain of a few hundred is already unusual); the limit
/// keeps the checker's stack well inside its thread's stack in every build profile.
pub const MAX_CHECK_DEPTH: u32 = 3_000;

/// Total did-you-mean comparisons per check (see `Checker::suggestion_work`).
const MAX_SUGGESTION_WORK: usize = 200_000;

/// Checks all modules; returns the program and the diagnostics found.
pub fn check(modules: &[Module]) -> (Program, Vec<Diagnostic>) {
    let mut c = Checker::new(modules);
    c.run();
    (c.prog, c.diags)
}

/// [`check`], also recording the [`facts::Facts`] an editor needs (`kiln lsp`).
pub fn check_recording(modules: &[Module]) -> (Program, Vec<Diagnostic>, facts::Facts) {
    let mut c = Checker::new(modules);
    c.recorder = Some(Box::default());
    c.run();
    let facts = c.finish_facts().unwrap_or_default();
    (c.prog, c.diags, facts)
}

impl<'a> Checker<'a> {
    fn new(modules: &'a [Module]) -> Self {
        let mut c = Checker {
            modules,
            diags: Vec::new(),
            prog: Program::default(),
            module: 0,
            scopes: Vec::with_capacity(modules.len()),
            lets: Vec::new(),
            fns: Vec::new(),
            tys: Vec::new(),
            stack: Vec::new(),
            locals: Vec::new(),
            frames: Vec::new(),
            pending_defaults: Vec::new(),
            next_owner: None,
            depth: 0,
            too_deep: false,
            suggestion_work: MAX_SUGGESTION_WORK,
            recorder: None,
        };
        for (m, module) in modules.iter().enumerate() {
            let mut scope: HashMap<&'a str, Global> = HashMap::new();
            let mut first: HashMap<&'a str, Span> = HashMap::new();
            let mut defs: Vec<(&'a ast::Ident, Global)> = Vec::new();
            let mut imports = module.imports.iter();
            for item in &module.ast.items {
                match &item.kind {
                    ItemKind::Import { alias, .. } => {
                        // Duplicate aliases were reported (and skipped) by the loader.
                        let Some((_, _, target)) = imports.find(|(n, _, _)| *n == alias.name) else {
                            continue;
                        };
                        defs.push((alias, Global::Import(*target)));
                    }
                    ItemKind::Let { name, ty, value } => {
                        c.prog.globals.push((
                            Name::from(name.name.as_str()),
                            name.span,
                            Ir::Lit(RVal::Unset),
                        ));
                        c.lets.push(LetInfo {
                            module: m,
                            name,
                            ty: ty.as_ref(),
                            value,
                            state: State::Todo,
                        });
                        defs.push((name, Global::Let(c.lets.len() - 1)));
                    }
                    ItemKind::Fn {
                        name,
                        params,
                        ret,
                        body,
                    } => {
                        c.prog.fns.push(FnIr {
                            name: Name::from(name.name.as_str()),
                            defaults: Vec::new(),
                            body: Ir::Lit(RVal::Unset),
                        });
                        c.fns.push(FnInfo {
                            module: m,
                            name,
                            params,
                            ret: ret.as_ref(),
                            body,
                            busy: false,
                            sig: None,
                        });
                        defs.push((name, Global::Fn(c.fns.len() - 1)));
                    }
                    ItemKind::Type { name, ty } => {
                        c.tys.push(TypeInfo {
                            module: m,
                            name,
                            ty,
                            state: State::Todo,
                        });
                        defs.push((name, Global::Type(c.tys.len() - 1)));
                    }
                    ItemKind::Emit { .. } => {}
                }
            }
            for (name, g) in defs {
                if let Some(prev) = first.get(name.name.as_str()) {
                    c.diags.push(
                        Diagnostic::error(
                            codes::DUPLICATE_DEFINITION,
                            format!("`{}` is defined twice", name.name),
                            name.span,
                            "second definition",
                        )
                        .with_label(*prev, "first defined here")
                        .with_help("rename one of them"),
                    );
                    continue;
                }
                first.insert(&name.name, name.span);
                scope.insert(&name.name, g);
            }
            c.scopes.push(scope);
        }
        c
    }

    fn run(&mut self) {
        for (m, module) in self.modules.iter().enumerate() {
            for item in &module.ast.items {
                self.module = m;
                match &item.kind {
                    ItemKind::Import { .. } => {}
                    ItemKind::Let { name, .. } => {
                        if let Some(Global::Let(id)) = self.scopes[m].get(name.name.as_str()).copied() {
                            self.let_type(id, name.span);
                        }
                    }
                    ItemKind::Fn { name, .. } => {
                        if let Some(Global::Fn(id)) = self.scopes[m].get(name.name.as_str()).copied() {
                            self.fn_sig(id, name.span);
                        }
                    }
                    ItemKind::Type { name, .. } => {
                        if let Some(Global::Type(id)) = self.scopes[m].get(name.name.as_str()).copied() {
                            self.named_type(id, name.span);
                        }
                    }
                    ItemKind::Emit { ty, name, value } => {
                        self.emit(ty, name, value, item.span, module.is_root);
                    }
                }
            }
        }
        let mut i = 0;
        while i < self.pending_defaults.len() {
            let (m, expr, ty, id) = self.pending_defaults[i].clone();
            self.module = m;
            let saved = std::mem::take(&mut self.locals);
            let (_, ir) = self.check(expr, Some(&ty));
            self.locals = saved;
            self.prog.defaults[id as usize] = ir;
            i += 1;
        }
    }

    fn emit(&mut self, path: &'a ast::Path, name: &'a Expr, value: &'a Expr, span: Span, output: bool) {
        let (_, name_ir) = self.check(name, Some(&Ty::String));
        let ty = self.type_path(path, None);
        // Only stdlib types lower to manifests; a user type is never dispatched on its name.
        let stdlib = matches!(&ty, Some(expr::Named::Ty(Ty::Record(r))) if r.decl.is_none());
        let (qualified, ty) = match &ty {
            Some(expr::Named::Ty(Ty::Record(r))) => match &r.name {
                Some(n) => (format!("{}.{}", n.module, n.name), Ty::Record(r.clone())),
                None => (path_text(path), Ty::Record(r.clone())),
            },
            Some(expr::Named::Variant(u, tag, _)) => {
                let u_name = u
                    .name
                    .as_ref()
                    .map_or(String::new(), |n| format!("{}.{}.", n.module, n.name));
                (format!("{u_name}{tag}"), Ty::Error)
            }
            Some(expr::Named::Ty(Ty::Error)) | None => (String::new(), Ty::Error),
            Some(expr::Named::Ty(other)) => {
                self.error(
                    codes::TYPE_MISMATCH,
                    format!("`{}` is {}, not a record type", path_text(path), other.describe()),
                    path.span,
                    "an emitted object needs a record type",
                );
                (String::new(), Ty::Error)
            }
        };
        let value_ir = match (&value.kind, &ty) {
            (_, Ty::Error) => {
                let (_, ir) = self.check(value, None);
                ir
            }
            _ => self.check(value, Some(&ty)).1,
        };
        // Two emits with one type and name are fine when they differ in namespace; the build
        // stage checks the identity of the objects they produce (K0702).
        self.prog.emits.push(EmitIr {
            ty: qualified,
            stdlib,
            name: name_ir,
            value: value_ir,
            span,
            output,
        });
    }

    // ----- diagnostics helpers -----

    /// Enters one level of checking; false (after reporting K0607 once) past the cap.
    fn enter(&mut self, span: Span) -> bool {
        if self.depth >= MAX_CHECK_DEPTH {
            if !self.too_deep {
                self.too_deep = true;
                self.push(
                    Diagnostic::error(
                        codes::CHECK_TOO_DEEP,
                        format!("definitions nest deeper than {MAX_CHECK_DEPTH} levels"),
                        span,
                        "reached here",
                    )
                    .with_help("break the chain of lets, functions or types that refer to each other one after another; no real configuration needs this depth"),
                );
            }
            return false;
        }
        self.depth += 1;
        true
    }

    fn error(&mut self, code: Code, message: impl Into<String>, span: Span, label: impl Into<String>) {
        self.diags.push(Diagnostic::error(code, message, span, label));
    }

    fn push(&mut self, d: Diagnostic) {
        self.diags.push(d);
    }

    fn is_stdlib(&self, m: ModId) -> bool {
        self.modules[m].is_stdlib
    }

    fn module_name(&self, m: ModId) -> Name {
        Name::from(self.modules[m].name.as_str())
    }

    // ----- globals -----

    fn key_name(&self, k: GlobalKey) -> &'a str {
        match k {
            GlobalKey::Let(i) => &self.lets[i].name.name,
            GlobalKey::Fn(i) => &self.fns[i].name.name,
            GlobalKey::Type(i) => &self.tys[i].name.name,
        }
    }

    /// Reports a cycle among globals that closes at `key`.
    fn global_cycle(&mut self, key: GlobalKey, span: Span) {
        let start = self.stack.iter().position(|k| *k == key).unwrap_or(0);
        let mut names: Vec<&str> = self.stack[start..].iter().map(|k| self.key_name(*k)).collect();
        names.push(self.key_name(key));
        let path = names.join(" -> ");
        let (code, what, help) = match key {
            GlobalKey::Type(_) => (
                codes::RECURSIVE_TYPE,
                format!("the type `{}` refers to itself: {path}", self.key_name(key)),
                "kiln types are not recursive; describe the nested part with its own type",
            ),
            _ => (
                codes::RECURSION,
                format!("`{}` depends on itself: {path}", self.key_name(key)),
                "kiln has no recursion; compute repeated structure with a comprehension",
            ),
        };
        self.push(Diagnostic::error(code, what, span, "this reference closes the cycle").with_help(help));
    }

    /// The type of a top-level `let` (checking it now if needed).
    fn let_type(&mut self, id: usize, span: Span) -> Ty {
        match &self.lets[id].state {
            State::Done(t) => return t.clone(),
            State::Busy => {
                self.global_cycle(GlobalKey::Let(id), span);
                return Ty::Error;
            }
            State::Todo => {}
        }
        self.lets[id].state = State::Busy;
        self.stack.push(GlobalKey::Let(id));
        let saved_module = std::mem::replace(&mut self.module, self.lets[id].module);
        let saved_locals = std::mem::take(&mut self.locals);
        let declared = self.lets[id].ty.map(|t| self.resolve_type(t, None));
        let (ty, ir) = self.check(self.lets[id].value, declared.as_ref());
        let ty = declared.unwrap_or(ty);
        self.locals = saved_locals;
        self.module = saved_module;
        self.stack.pop();
        self.prog.globals[id].2 = ir;
        self.lets[id].state = State::Done(ty.clone());
        ty
    }

    /// The signature of a `fn` (checking its body now if needed).
    fn fn_sig(&mut self, id: usize, span: Span) -> Option<Rc<FnSig>> {
        if let Some(sig) = &self.fns[id].sig {
            return Some(sig.clone());
        }
        if self.fns[id].busy {
            self.global_cycle(GlobalKey::Fn(id), span);
            return None;
        }
        self.fns[id].busy = true;
        self.stack.push(GlobalKey::Fn(id));
        let saved_module = std::mem::replace(&mut self.module, self.fns[id].module);
        let saved_locals = std::mem::take(&mut self.locals);
        let info_params = self.fns[id].params;
        let mut params = Vec::new();
        let mut defaults = Vec::new();
        let mut seen: HashMap<&str, Span> = HashMap::new();
        for p in info_params {
            if let Some(prev) = seen.insert(&p.name.name, p.name.span) {
                self.push(
                    Diagnostic::error(
                        codes::DUPLICATE_DEFINITION,
                        format!("parameter `{}` is declared twice", p.name.name),
                        p.name.span,
                        "second declaration",
                    )
                    .with_label(prev, "first declared here"),
                );
            }
            let ty = match &p.ty {
                Some(t) => self.resolve_type(t, None),
                None => {
                    self.error(
                        codes::CANNOT_INFER,
                        format!(
                            "parameter `{}` of `{}` needs a type",
                            p.name.name, self.fns[id].name.name
                        ),
                        p.name.span,
                        "add `: Type` here",
                    );
                    Ty::Error
                }
            };
            let default = p.default.as_ref().map(|d| self.check(d, Some(&ty)).1);
            params.push((Name::from(p.name.name.as_str()), ty.clone(), default.is_some()));
            defaults.push(default);
            self.locals.push(Local {
                name: &p.name.name,
                ty,
                field: None,
            });
        }
        let declared = self.fns[id].ret.map(|t| self.resolve_type(t, None));
        let (ty, body) = self.check(self.fns[id].body, declared.as_ref());
        let ret = declared.unwrap_or(ty);
        self.locals = saved_locals;
        self.module = saved_module;
        self.stack.pop();
        self.prog.fns[id].defaults = defaults;
        self.prog.fns[id].body = body;
        let sig = Rc::new(FnSig { params, ret });
        self.fns[id].busy = false;
        self.fns[id].sig = Some(sig.clone());
        Some(sig)
    }

    fn fn_type(sig: &FnSig) -> Ty {
        Ty::Function(Rc::new(FnTy {
            params: sig.params.iter().map(|p| p.1.clone()).collect(),
            ret: sig.ret.clone(),
        }))
    }

    /// A declared `type` (resolving it now if needed).
    fn named_type(&mut self, id: usize, span: Span) -> Ty {
        match &self.tys[id].state {
            State::Done(t) => return t.clone(),
            State::Busy => {
                self.global_cycle(GlobalKey::Type(id), span);
                return Ty::Error;
            }
            State::Todo => {}
        }
        self.tys[id].state = State::Busy;
        self.stack.push(GlobalKey::Type(id));
        let saved_module = std::mem::replace(&mut self.module, self.tys[id].module);
        let info_name = self.tys[id].name;
        let ty = self.resolve_type(self.tys[id].ty, Some(info_name));
        self.module = saved_module;
        self.stack.pop();
        self.tys[id].state = State::Done(ty.clone());
        ty
    }

    // ----- names -----

    /// Names visible here, for did-you-mean.
    fn visible_names(&self) -> Vec<&'a str> {
        let mut names: Vec<&'a str> = Vec::new();
        for l in &self.locals {
            if let Some((f, i)) = l.field
                && self.frames[f].current == Some(i)
            {
                continue;
            }
            names.push(l.name);
        }
        let mut globals: Vec<&'a str> = self.scopes[self.module]
            .iter()
            .filter(|(_, g)| !matches!(g, Global::Type(_)))
            .map(|(n, _)| *n)
            .collect();
        globals.sort_unstable();
        names.extend(globals);
        names.extend(BUILTINS.iter().copied());
        names
    }

    fn unknown_name(&mut self, ident: &ast::Ident, candidates: Vec<&str>, what: &str) {
        let mut d = Diagnostic::error(
            codes::UNKNOWN_NAME,
            format!("unknown {what} `{}`", ident.name),
            ident.span,
            "not defined here",
        );
        if let Some(s) = did_you_mean(&ident.name, candidates.iter().copied()) {
            d = d.with_help(format!("did you mean `{s}`?"));
        }
        self.push(d);
    }

    /// Resolves a bare name used as a value.
    fn lookup(&mut self, ident: &'a ast::Ident) -> (Ty, Ir) {
        let name = ident.name.as_str();
        for i in (0..self.locals.len()).rev() {
            let local = &self.locals[i];
            if local.name != name {
                continue;
            }
            match local.field {
                Some((f, e)) if self.frames[f].current == Some(e) => continue,
                Some((f, e)) => {
                    let def = self.frames[f].entries[e].span;
                    let found = self.sibling(f, e, ident.span);
                    self.note_name(ident.span, Some(def), &found.0, facts::NameKind::Field);
                    return found;
                }
                None => {
                    let ty = local.ty.clone();
                    self.note_name(ident.span, None, &ty, facts::NameKind::Local);
                    return (ty, Ir::Local(i as u32));
                }
            }
        }
        if let Some(g) = self.scopes[self.module].get(name).copied() {
            let found = self.global_value(g, ident);
            if let Some((def, kind)) = self.global_def(g) {
                self.note_name(ident.span, Some(def), &found.0, kind);
            }
            return found;
        }
        if BUILTINS.contains(&name) {
            self.error(
                codes::BAD_CALL,
                format!("the built-in function `{name}` can only be called"),
                ident.span,
                "call it: `{name}(...)`",
            );
            return (Ty::Error, Ir::Lit(RVal::Unset));
        }
        let candidates = if self.suggestion_work > 0 {
            let names = self.visible_names();
            self.suggestion_work = self.suggestion_work.saturating_sub(names.len());
            names
        } else {
            Vec::new()
        };
        self.unknown_name(ident, candidates, "name");
        (Ty::Error, Ir::Lit(RVal::Unset))
    }

    fn global_value(&mut self, g: Global, ident: &ast::Ident) -> (Ty, Ir) {
        match g {
            Global::Let(id) => (self.let_type(id, ident.span), Ir::Global(id as u32)),
            Global::Fn(id) => match self.fn_sig(id, ident.span) {
                Some(sig) => (Self::fn_type(&sig), Ir::FnRef(id as u32)),
                None => (Ty::Error, Ir::FnRef(id as u32)),
            },
            Global::Type(_) => {
                self.error(
                    codes::TYPE_MISMATCH,
                    format!("`{}` is a type, not a value", ident.name),
                    ident.span,
                    "a type is used as a value",
                );
                self.diags.last_mut().expect("just pushed").help =
                    Some(format!("build a value of it with `{} {{ ... }}`", ident.name));
                (Ty::Error, Ir::Lit(RVal::Unset))
            }
            Global::Import(_) => {
                self.error(
                    codes::TYPE_MISMATCH,
                    format!("`{}` is an imported module, not a value", ident.name),
                    ident.span,
                    "a module is used as a value",
                );
                (Ty::Error, Ir::Lit(RVal::Unset))
            }
        }
    }

    /// Whether a bare name is an import alias here (and not shadowed by a local).
    fn import_alias(&self, name: &str) -> Option<Option<ModId>> {
        if self.locals.iter().any(|l| l.name == name) {
            return None;
        }
        match self.scopes[self.module].get(name) {
            Some(Global::Import(m)) => Some(*m),
            _ => None,
        }
    }

    /// `name.field` where `name` is the field being defined and its value is the record literal
    /// being checked: a reference to that literal's entry `field` (`steps.prep.outputs` inside
    /// `steps = { prep = .., train = { data = steps.prep.outputs } }`).
    fn self_path(&mut self, name: &str, field: &ast::Ident) -> Option<(Ty, Ir)> {
        let (f, e) = self.locals.iter().rev().find(|l| l.name == name)?.field?;
        if self.frames[f].current != Some(e) {
            return None;
        }
        let g = self.frames.iter().rposition(|fr| fr.owner == Some((f, e)))?;
        if self.locals.len() < self.frames[g].base + self.frames[g].entries.len() {
            return None;
        }
        let idx = self.frames[g]
            .entries
            .iter()
            .position(|en| en.name == field.name)?;
        Some(self.sibling(g, idx, field.span))
    }

    /// A reference to sibling field `e` of frame `f`.
    fn sibling(&mut self, f: usize, e: usize, span: Span) -> (Ty, Ir) {
        let slot = (self.frames[f].base + e) as u32;
        match &self.frames[f].entries[e].state {
            State::Done(t) => (t.clone(), Ir::Local(slot)),
            State::Busy => {
                let frame = &self.frames[f];
                let start = frame.busy.iter().position(|b| *b == e).unwrap_or(0);
                let mut names: Vec<&str> = frame.busy[start..]
                    .iter()
                    .map(|b| frame.entries[*b].name)
                    .collect();
                names.push(frame.entries[e].name);
                let d = Diagnostic::error(
                    codes::REFERENCE_CYCLE,
                    format!("fields refer to each other in a cycle: {}", names.join(" -> ")),
                    span,
                    "this reference closes the cycle",
                )
                .with_label(
                    frame.entries[e].span,
                    format!("`{}` is defined here", frame.entries[e].name),
                )
                .with_help("compute one of the fields from the others' inputs instead");
                self.push(d);
                (Ty::Error, Ir::Local(slot))
            }
            State::Todo => {
                self.check_field(f, e);
                match &self.frames[f].entries[e].state {
                    State::Done(t) => (t.clone(), Ir::Local(slot)),
                    _ => (Ty::Error, Ir::Local(slot)),
                }
            }
        }
    }

    /// Checks the value of entry `e` of frame `f` (in the scope of the record literal).
    fn check_field(&mut self, f: usize, e: usize) {
        let frame = &mut self.frames[f];
        let prev = frame.current.replace(e);
        frame.busy.push(e);
        frame.entries[e].state = State::Busy;
        let cut = frame.base + frame.entries.len();
        let value = frame.entries[e].value;
        let expected = frame.entries[e].expected.clone();
        let tail = self.locals.split_off(cut.min(self.locals.len()));
        if matches!(value.kind, ExprKind::Record(_) | ExprKind::Construct { .. }) {
            self.next_owner = Some((f, e));
        }
        let (ty, ir) = self.check(value, expected.as_ref());
        self.next_owner = None;
        self.locals.extend(tail);
        let frame = &mut self.frames[f];
        frame.current = prev;
        frame.busy.pop();
        frame.entries[e].state = State::Done(expected.unwrap_or(ty));
        frame.entries[e].ir = Some(ir);
        frame.order.push(e as u32);
    }
}

/// `kf.Notebook` as written.
pub(crate) fn path_text(path: &ast::Path) -> String {
    path.segments
        .iter()
        .map(|s| s.name.as_str())
        .collect::<Vec<_>>()
        .join(".")
}
