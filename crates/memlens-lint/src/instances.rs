//! The cross-module pass: where each class is made, over every linted file.
//!
//! Some findings leak once per *instance* of a class: a listener registered
//! in a constructor (ML004), a class-level registry filled in `__init__`
//! (ML002), a cache on a method keeping `self` alive (ML005), a module list
//! or a logger handler added in a constructor (ML001, ML006). When the class
//! is made once per process those findings pin one object for the process,
//! not one per use, and are dropped; so are findings directly in a program
//! entry point. One file cannot show this, so every file contributes
//! [`FileFacts`] while it is linted, and [`Index::runs_once`] decides once
//! all files are in.
//!
//! A class is made once when every place that makes it (at least one) runs
//! once:
//! - code at import (module level and class bodies; a module-level `for`
//!   builds import-time tables), in a program entry point (a module-level
//!   `main`, a plug-in's `setup` / `async_setup`), or in a module-level
//!   function whose decorator runs its body once (a `singleton` decorator,
//!   `functools.cache` on a function without parameters);
//! - a constructor or start-up method (`__init__`, `start…`, `setup…`, …)
//!   of a class that is itself made once;
//! - a lazy initialisation, which runs once per instance (in any method:
//!   `if self._agent is None: self._agent = Agent()`, or after
//!   `if self._agent is not None: return self._agent`) or once per process
//!   (the same on a `global`), when the owner is made once.
//!
//! The bodies of loops and comprehensions in functions, of `while` loops
//! anywhere, of lambdas and nested functions run any number of times.
//!
//! The pass is conservative: a class never made in the linted files, made
//! anywhere else, passed around as a value (`factory=Handler`, `[A, B]`),
//! that makes copies of itself (`type(self)(…)`), or whose subclasses are
//! made elsewhere is not made once. A local alias read only for class
//! attributes (`kind = Error if strict else Warning; kind.get(code)`) does
//! not pass the class on; calling it makes instances there. Names are
//! resolved through each file's imports (relative imports to files,
//! absolute ones to module suffixes); classes of the same name in different
//! modules are told apart that way. A name a star import may have bound
//! counts for every class of that name the star-imported module's package
//! could re-export (for `from x.y import *`, anything in `x`). Only CapWords names are followed (PEP 8 class names).
//!
//! (A wider version that also followed calls — functions every call of
//! which runs once, methods called only through `self` from a constructor
//! or on a fresh instance — was measured on the precision corpora of
//! `benches/lint_precision.py` and removed no finding there, at about 15%
//! more CPU; it was not kept.)

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use ruff_python_ast::visitor::{self, Visitor};
use ruff_python_ast::{self as ast, Expr, ExprContext, Stmt};
use ruff_text_size::Ranged;

use crate::Rule;

/// Where a class or function reference points.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Target {
    /// A module file, by its path without `.py` (a package by its folder).
    File(PathBuf),
    /// An absolutely imported module, by its dotted parts.
    Module(Vec<String>),
    /// What these star imports may have bound: a name defined or
    /// re-exported in the package around a relative one, or anywhere in the
    /// top-level package of an absolute one.
    Star(Vec<Target>),
}

/// A class or a module-level function named `name` in the module `target`.
#[derive(Clone, Debug)]
struct NameRef {
    name: String,
    target: Target,
}

/// How often the code around a site runs.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Context {
    /// At import (module level, class bodies), in a program entry point, or
    /// in a function whose decorator runs it once.
    Once,
    /// In a constructor or start-up method of this module's top-level class
    /// of that name, or in a lazy initialisation in any of its methods: once
    /// per instance.
    Instance(String),
    /// Anywhere else: may run any number of times.
    Elsewhere,
}

/// A context, as an index into [`FileFacts::contexts`].
type ContextId = u32;

/// Where a class is instantiated.
#[derive(Debug)]
struct Site {
    class: NameRef,
    context: ContextId,
    /// `C.make(…)`: made through this class attribute (a factory, perhaps).
    via: Option<String>,
}

#[derive(Debug)]
struct ClassFact {
    name: String,
    bases: Vec<NameRef>,
    methods: HashSet<String>,
    /// Class methods that call `cls(…)`: factories.
    factories: HashSet<String>,
    /// Makes instances of itself from an instance (`type(self)(…)`,
    /// `self.__class__(…)`, a factory called through `self`/`cls`).
    replicates: bool,
}

#[derive(Debug)]
struct FunctionFact {
    name: String,
    /// An entry point, or a decorator that runs the body once.
    once: bool,
}

/// What one file tells the cross-module pass.
#[derive(Debug, Default)]
pub(crate) struct FileFacts {
    stem: PathBuf,
    classes: Vec<ClassFact>,
    functions: Vec<FunctionFact>,
    /// The contexts sites refer to.
    contexts: Vec<Context>,
    sites: Vec<Site>,
    /// Classes used as values (passed, stored, returned): made who knows where.
    escapes: Vec<NameRef>,
}

/// The code a finding sits in, whose run count bounds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum FindingScope {
    /// Directly in a method of this file's top-level class (counted only
    /// in a constructor or start-up method).
    Method { class: String, method: String },
    /// Anywhere in this file's top-level class (a cache on a method keeps
    /// one entry per instance, whatever the method).
    Class(String),
    /// Directly in this file's top-level function (counted only in an
    /// entry point or a function run once by its decorator).
    Function(String),
}

/// Program entry points: run once per process.
fn is_entry_point(name: &str) -> bool {
    matches!(name, "main" | "setup" | "async_setup")
}

/// Constructors and start-up methods: run once per instance.
pub(crate) fn is_lifecycle_method(name: &str) -> bool {
    if matches!(name, "__init__" | "__post_init__" | "__new__") {
        return true;
    }
    let lower = name.trim_start_matches('_').to_ascii_lowercase();
    let lower = lower.strip_prefix("async_").unwrap_or(&lower);
    matches!(lower, "start" | "init" | "initialize" | "setup" | "set_up")
        || ["start_", "init_", "setup_"]
            .iter()
            .any(|p| lower.starts_with(p))
}

fn is_class_name(name: &str) -> bool {
    name.chars().next().is_some_and(|c| c.is_ascii_uppercase())
        && name.chars().any(|c| c.is_ascii_lowercase())
}

/// Which rules' findings are bounded by how often their code runs.
pub(crate) fn uses_the_pass(rule: Rule) -> bool {
    matches!(
        rule,
        Rule::ModuleContainerGrows
            | Rule::ClassAttributeMutated
            | Rule::ListenerNeverRemoved
            | Rule::CacheOnMethod
            | Rule::LoggerPerCall
    )
}

/// The code whose run count bounds a finding of `rule` at `offset`, if any.
///
/// ML005 counts anywhere in a class (it keeps `self` alive whatever the
/// method); ML002 directly in a method; ML001, ML004 and ML006 directly in a
/// method or a module-level function ([`Index::runs_once`] counts only
/// constructors and start-up methods, and entry points). Inside a nested
/// function or lambda the finding may run any number of times, and no
/// scope is returned.
pub(crate) fn scope_of(body: &[Stmt], rule: Rule, offset: usize) -> Option<FindingScope> {
    if !uses_the_pass(rule) {
        return None;
    }
    let at = ruff_text_size::TextSize::try_from(offset).ok()?;
    let outer = body.iter().find(|stmt| stmt.range().contains(at))?;
    let (class, func) = match outer {
        Stmt::ClassDef(class) => {
            let method = class.body.iter().find_map(|stmt| match stmt {
                Stmt::FunctionDef(func) if func.range().contains(at) => Some(func),
                _ => None,
            });
            (Some(class), method)
        }
        Stmt::FunctionDef(func) => (None, Some(func)),
        _ => return None,
    };
    if rule == Rule::CacheOnMethod {
        return class.map(|c| FindingScope::Class(c.name.to_string()));
    }
    let func = func?;
    if class.is_none() && rule == Rule::ClassAttributeMutated {
        return None;
    }
    if nested_in(&func.body, at) {
        return None;
    }
    Some(match class {
        Some(class) => FindingScope::Method {
            class: class.name.to_string(),
            method: func.name.to_string(),
        },
        None => FindingScope::Function(func.name.to_string()),
    })
}

/// Whether `at` sits in a nested function, class or lambda of `body`.
fn nested_in(body: &[Stmt], at: ruff_text_size::TextSize) -> bool {
    struct Nested {
        at: ruff_text_size::TextSize,
        found: bool,
    }
    impl<'a> Visitor<'a> for Nested {
        fn visit_stmt(&mut self, stmt: &'a Stmt) {
            match stmt {
                Stmt::FunctionDef(f) if f.range().contains(self.at) => {
                    if f.body.iter().any(|s| s.range().contains(self.at)) {
                        self.found = true;
                    }
                }
                Stmt::ClassDef(c) if c.range().contains(self.at) => self.found = true,
                _ => visitor::walk_stmt(self, stmt),
            }
        }
        fn visit_expr(&mut self, expr: &'a Expr) {
            if let Expr::Lambda(l) = expr {
                if l.body.range().contains(self.at) {
                    self.found = true;
                }
            }
            visitor::walk_expr(self, expr);
        }
    }
    let mut nested = Nested { at, found: false };
    visitor::walk_body(&mut nested, body);
    nested.found
}

/// How a name bound by an import resolves.
#[derive(Debug)]
enum Binding {
    Module(Target),
    Name(Target, String),
}

impl Target {
    fn child(&self, name: &str) -> Target {
        match self {
            Target::File(path) => Target::File(path.join(name)),
            Target::Module(parts) => {
                let mut parts = parts.clone();
                parts.push(name.to_string());
                Target::Module(parts)
            }
            Target::Star(targets) => Target::Star(targets.clone()),
        }
    }
}

/// `path` without `.py`/`.pyi`; a package's `__init__` stands for its folder.
fn module_stem(path: &Path) -> PathBuf {
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let stem = absolute.with_extension("");
    if stem.file_name().is_some_and(|n| n == "__init__") {
        stem.parent().map(Path::to_path_buf).unwrap_or(stem)
    } else {
        stem
    }
}

/// A decorator that runs the function's body once per process: a
/// `singleton` decorator, or `functools.cache` / `lru_cache` on a function
/// without parameters.
fn is_once_decorator(expr: &Expr, func: &ast::StmtFunctionDef) -> bool {
    let callee = match expr {
        Expr::Call(call) => &*call.func,
        other => other,
    };
    let name = match callee {
        Expr::Name(n) => n.id.as_str(),
        Expr::Attribute(a) => a.attr.as_str(),
        _ => return false,
    };
    name == "singleton"
        || (matches!(name, "cache" | "lru_cache") && func.parameters.iter().next().is_none())
}

/// `x is None`, `x == None`, `not x`: the tested expression, when the test
/// is true only while `x` is unset.
fn unset_operand(test: &Expr) -> Option<&Expr> {
    match test {
        Expr::UnaryOp(unary) if unary.op == ast::UnaryOp::Not => Some(&unary.operand),
        Expr::Compare(compare)
            if compare.comparators.len() == 1
                && matches!(compare.ops[0], ast::CmpOp::Is | ast::CmpOp::Eq)
                && compare.comparators[0].is_none_literal_expr() =>
        {
            Some(&compare.left)
        }
        _ => None,
    }
}

/// `x is not None`, `x != None`, `x`: the tested expression, when the test
/// is true only once `x` is set.
fn set_operand(test: &Expr) -> Option<&Expr> {
    match test {
        Expr::Compare(compare)
            if compare.comparators.len() == 1
                && matches!(compare.ops[0], ast::CmpOp::IsNot | ast::CmpOp::NotEq)
                && compare.comparators[0].is_none_literal_expr() =>
        {
            Some(&compare.left)
        }
        Expr::Name(_) | Expr::Attribute(_) => Some(test),
        _ => None,
    }
}

/// Whether a block always leaves the function (its last statement returns
/// or raises).
fn leaves(body: &[Stmt]) -> bool {
    matches!(body.last(), Some(Stmt::Return(_) | Stmt::Raise(_)))
}

struct Collector<'a> {
    stem: PathBuf,
    /// The package relative imports start from.
    package: PathBuf,
    bindings: HashMap<&'a str, Binding>,
    local_classes: HashSet<&'a str>,
    star_imports: Vec<Target>,
    context: Context,
    /// `context` interned in `facts.contexts`, once a site needs it.
    context_id: Option<ContextId>,
    interned: HashMap<Context, ContextId>,
    /// Inside a function body (an entry point included).
    in_function: bool,
    /// Inside a class body (not in one of its methods).
    in_class_body: bool,
    /// The top-level class whose method (or a function nested in it) is
    /// being visited, and that method's instance parameter.
    class: Option<&'a str>,
    receiver: Option<&'a str>,
    /// Locals of the current function bound to a class (`kind = A if x else B`).
    class_aliases: HashMap<&'a str, Vec<NameRef>>,
    /// Names the current function declares `global`.
    globals: HashSet<&'a str>,
    /// Attributes of the receiver (`self.x`) and globals known to be unset
    /// at this point (inside `if self.x is None:`, after `if self.x: return`).
    unset: Vec<(bool, &'a str)>,
    facts: FileFacts,
}

impl<'a> Collector<'a> {
    fn relative(&self, level: u32, module: Option<&str>) -> Target {
        let mut base = self.package.clone();
        for _ in 1..level {
            base.pop();
        }
        if let Some(module) = module {
            for part in module.split('.') {
                base.push(part);
            }
        }
        Target::File(base)
    }

    fn collect_bindings(&mut self, body: &'a [Stmt]) {
        struct Imports<'c, 'a>(&'c mut Collector<'a>);
        impl<'a> Visitor<'a> for Imports<'_, 'a> {
            fn visit_stmt(&mut self, stmt: &'a Stmt) {
                match stmt {
                    Stmt::Import(import) => {
                        for alias in &import.names {
                            let full = alias.name.as_str();
                            let (local, parts): (&str, Vec<String>) = match &alias.asname {
                                Some(asname) => {
                                    (asname.as_str(), full.split('.').map(String::from).collect())
                                }
                                None => {
                                    let top = full.split('.').next().unwrap_or(full);
                                    (top, vec![top.to_string()])
                                }
                            };
                            self.0
                                .bindings
                                .insert(local, Binding::Module(Target::Module(parts)));
                        }
                    }
                    Stmt::ImportFrom(import) => {
                        let module = import.module.as_ref().map(|m| m.as_str());
                        let target = if import.level == 0 {
                            match module {
                                Some(m) => Target::Module(m.split('.').map(String::from).collect()),
                                None => return,
                            }
                        } else {
                            self.0.relative(import.level, module)
                        };
                        for alias in &import.names {
                            if alias.name.as_str() == "*" {
                                self.0.star_imports.push(target.clone());
                                continue;
                            }
                            let local = alias.asname.as_ref().unwrap_or(&alias.name);
                            self.0.bindings.insert(
                                local.as_str(),
                                Binding::Name(target.clone(), alias.name.to_string()),
                            );
                        }
                    }
                    _ => visitor::walk_stmt(self, stmt),
                }
            }
            fn visit_expr(&mut self, _: &'a Expr) {}
        }
        visitor::walk_body(&mut Imports(self), body);
        for stmt in body {
            if let Stmt::ClassDef(class) = stmt {
                self.local_classes.insert(class.name.as_str());
            }
        }
    }

    /// The class an expression names (`C`, `mod.C`, `pkg.mod.C`), if it is
    /// a CapWords name that resolves to a module.
    fn class_ref(&self, expr: &Expr) -> Option<NameRef> {
        match expr {
            Expr::Name(name) => {
                let name = name.id.as_str();
                if !is_class_name(name) {
                    return None;
                }
                if self.local_classes.contains(name) {
                    return Some(NameRef {
                        name: name.to_string(),
                        target: Target::File(self.stem.clone()),
                    });
                }
                match self.bindings.get(name) {
                    Some(Binding::Name(target, original)) => Some(NameRef {
                        name: original.clone(),
                        target: target.clone(),
                    }),
                    Some(Binding::Module(_)) => None,
                    None if !self.star_imports.is_empty() => Some(NameRef {
                        name: name.to_string(),
                        target: Target::Star(self.star_imports.clone()),
                    }),
                    None => None,
                }
            }
            Expr::Attribute(attr) => {
                let name = attr.attr.as_str();
                if !is_class_name(name) {
                    return None;
                }
                Some(NameRef {
                    name: name.to_string(),
                    target: self.module_of(&attr.value)?,
                })
            }
            _ => None,
        }
    }

    /// The module an expression names (`mod`, `pkg.mod`), through imports.
    fn module_of(&self, expr: &Expr) -> Option<Target> {
        match expr {
            Expr::Name(name) => match self.bindings.get(name.id.as_str())? {
                Binding::Module(target) => Some(target.clone()),
                Binding::Name(target, original) => Some(target.child(original)),
            },
            Expr::Attribute(attr) => Some(self.module_of(&attr.value)?.child(attr.attr.as_str())),
            _ => None,
        }
    }

    /// The current context's id, interned on first need.
    fn here(&mut self) -> ContextId {
        if let Some(id) = self.context_id {
            return id;
        }
        let next = ContextId::try_from(self.facts.contexts.len()).unwrap_or(ContextId::MAX);
        let id = *self.interned.entry(self.context.clone()).or_insert(next);
        if id == next {
            self.facts.contexts.push(self.context.clone());
        }
        self.context_id = Some(id);
        id
    }

    fn swap_context(&mut self, context: Context) -> (Context, Option<ContextId>) {
        let outer = std::mem::replace(&mut self.context, context);
        (outer, self.context_id.take())
    }

    fn restore_context(&mut self, (context, id): (Context, Option<ContextId>)) {
        self.context = context;
        self.context_id = id;
    }

    fn visit_function(&mut self, func: &'a ast::StmtFunctionDef, context: Context) {
        for decorator in &func.decorator_list {
            self.visit_expr(&decorator.expression);
        }
        for parameter in func.parameters.iter() {
            if let Some(default) = parameter.default() {
                self.visit_expr(default);
            }
        }
        let mut globals = HashSet::new();
        crate::scope::for_each_shallow_stmt(&func.body, &mut |stmt| {
            if let Stmt::Global(global) = stmt {
                globals.extend(global.names.iter().map(|n| n.as_str()));
            }
        });
        let outer = self.swap_context(context);
        let outer_function = std::mem::replace(&mut self.in_function, true);
        let outer_class_body = std::mem::replace(&mut self.in_class_body, false);
        let outer_aliases = std::mem::take(&mut self.class_aliases);
        let outer_globals = std::mem::replace(&mut self.globals, globals);
        let outer_unset = std::mem::take(&mut self.unset);
        self.visit_body(&func.body);
        self.restore_context(outer);
        self.in_function = outer_function;
        self.in_class_body = outer_class_body;
        self.class_aliases = outer_aliases;
        self.globals = outer_globals;
        self.unset = outer_unset;
    }

    /// A loop body in code that may otherwise run once: what it makes is
    /// made per item.
    fn visit_loop(&mut self, header: &'a Expr, body: &'a [Stmt], orelse: &'a [Stmt]) {
        self.visit_expr(header);
        let outer = self.swap_context(Context::Elsewhere);
        self.visit_body(body);
        self.restore_context(outer);
        self.visit_body(orelse);
    }

    /// A class statement; `top_level` when it sits directly in the module body.
    fn visit_class(&mut self, class: &'a ast::StmtClassDef, top_level: bool) {
        if let Some(arguments) = &class.arguments {
            for keyword in arguments.keywords.iter() {
                self.visit_expr(&keyword.value);
            }
            // Bases are not uses of the class as a value.
            for base in arguments.args.iter() {
                if self.class_ref(base).is_none() {
                    self.visit_expr(base);
                }
            }
        }
        for decorator in &class.decorator_list {
            self.visit_expr(&decorator.expression);
        }
        if top_level {
            let fact = self.class_fact(class);
            self.facts.classes.push(fact);
        }
        let outer_class =
            std::mem::replace(&mut self.class, top_level.then_some(class.name.as_str()));
        let outer_receiver = self.receiver.take();
        let outer_class_body = std::mem::replace(&mut self.in_class_body, true);
        for stmt in &class.body {
            match stmt {
                Stmt::FunctionDef(method) => {
                    let context = if top_level && is_lifecycle_method(method.name.as_str()) {
                        Context::Instance(class.name.to_string())
                    } else {
                        Context::Elsewhere
                    };
                    let is_static = method
                        .decorator_list
                        .iter()
                        .any(|d| matches!(&d.expression, Expr::Name(n) if n.id.as_str() == "staticmethod"));
                    self.receiver = if is_static {
                        None
                    } else {
                        method
                            .parameters
                            .posonlyargs
                            .iter()
                            .chain(method.parameters.args.iter())
                            .next()
                            .map(|p| p.parameter.name.as_str())
                    };
                    self.visit_function(method, context);
                    self.receiver = None;
                }
                other => self.visit_stmt(other),
            }
        }
        self.class = outer_class;
        self.receiver = outer_receiver;
        self.in_class_body = outer_class_body;
    }

    fn class_fact(&self, class: &'a ast::StmtClassDef) -> ClassFact {
        let bases = class
            .bases()
            .iter()
            .filter_map(|base| self.class_ref(base))
            .collect();
        let mut methods = HashSet::new();
        let mut factories = HashSet::new();
        for stmt in &class.body {
            if let Stmt::FunctionDef(func) = stmt {
                methods.insert(func.name.to_string());
                let classmethod = func.decorator_list.iter().any(
                    |d| matches!(&d.expression, Expr::Name(n) if n.id.as_str() == "classmethod"),
                );
                if classmethod && calls_matching(&func.body, &|f| is_name(f, "cls")) {
                    factories.insert(func.name.to_string());
                }
            }
        }
        let replicates = calls_matching(&class.body, &|f| match f {
            // type(self)(…)
            Expr::Call(inner) => {
                is_name(&inner.func, "type")
                    && inner
                        .arguments
                        .args
                        .first()
                        .is_some_and(|a| is_name(a, "self"))
            }
            // self.__class__(…), self.make(…) / cls.make(…) with `make` a factory
            Expr::Attribute(a) => {
                (a.attr.as_str() == "__class__" && is_name(&a.value, "self"))
                    || ((is_name(&a.value, "self") || is_name(&a.value, "cls"))
                        && factories.contains(a.attr.as_str()))
            }
            _ => false,
        });
        ClassFact {
            name: class.name.to_string(),
            bases,
            methods,
            factories,
            replicates,
        }
    }

    /// A module-level `def` (not in a class body, not nested in a function).
    fn visit_top_level_function(&mut self, func: &'a ast::StmtFunctionDef) {
        let once = is_entry_point(func.name.as_str())
            || func
                .decorator_list
                .iter()
                .any(|d| is_once_decorator(&d.expression, func));
        self.facts.functions.push(FunctionFact {
            name: func.name.to_string(),
            once,
        });
        let context = if once {
            Context::Once
        } else {
            Context::Elsewhere
        };
        self.visit_function(func, context);
    }

    /// `x[i]`: `x` is a receiver, except that `C[int]` may be called or
    /// passed on like `C` itself.
    fn visit_subscript(&mut self, subscript: &'a ast::ExprSubscript) {
        match self.class_ref(&subscript.value) {
            Some(class) => self.facts.escapes.push(class),
            None => self.visit_expr(&subscript.value),
        }
        self.visit_expr(&subscript.slice);
    }

    /// The callee of a call: instantiations (`C(…)`, `alias(…)`, a factory
    /// `C.make(…)`).
    fn visit_callee(&mut self, func: &'a Expr) {
        let here = self.here();
        if let Some(class) = self.class_ref(func) {
            self.facts.sites.push(Site {
                class,
                context: here,
                via: None,
            });
            return;
        }
        match func {
            Expr::Name(name) if self.class_aliases.contains_key(name.id.as_str()) => {
                for class in self.class_aliases[name.id.as_str()].clone() {
                    self.facts.sites.push(Site {
                        class,
                        context: here,
                        via: None,
                    });
                }
            }
            Expr::Attribute(attr) => {
                let method = attr.attr.as_str();
                let value = &*attr.value;
                // `C.make(…)`, `alias.make(…)`: through a class attribute.
                let classes: Vec<NameRef> = match value {
                    Expr::Name(n) if self.class_aliases.contains_key(n.id.as_str()) => {
                        self.class_aliases[n.id.as_str()].clone()
                    }
                    _ => self.class_ref(value).into_iter().collect(),
                };
                if classes.is_empty() {
                    self.visit_expr(func);
                }
                for class in classes {
                    self.facts.sites.push(Site {
                        class,
                        context: here,
                        via: Some(method.to_string()),
                    });
                }
            }
            other => self.visit_expr(other),
        }
    }

    /// Records `x = A if t else B` (a class alias) for the current function;
    /// any other binding of `x` forgets it. Returns whether the value was an
    /// alias (not a use of the classes as values).
    fn bind_local(&mut self, target: &'a Expr, value: Option<&'a Expr>) -> bool {
        let Expr::Name(name) = target else {
            self.forget_targets(target);
            return false;
        };
        let id = name.id.as_str();
        if !self.in_function {
            return false;
        }
        let aliased: Option<Vec<NameRef>> = value.and_then(|value| match value {
            Expr::If(if_exp) => {
                let a = self.class_ref(&if_exp.body)?;
                let b = self.class_ref(&if_exp.orelse)?;
                Some(vec![a, b])
            }
            Expr::Name(_) | Expr::Attribute(_) => self.class_ref(value).map(|c| vec![c]),
            _ => None,
        });
        if let Some(classes) = aliased {
            self.class_aliases.insert(id, classes);
            return true;
        }
        self.class_aliases.remove(id);
        false
    }

    fn forget_targets(&mut self, target: &'a Expr) {
        match target {
            Expr::Name(name) => {
                self.class_aliases.remove(name.id.as_str());
            }
            Expr::Tuple(t) => t.elts.iter().for_each(|e| self.forget_targets(e)),
            Expr::List(l) => l.elts.iter().for_each(|e| self.forget_targets(e)),
            Expr::Starred(s) => self.forget_targets(&s.value),
            _ => {}
        }
    }

    /// The key of an unset test's operand: `(true, "x")` for `self.x`,
    /// `(false, "x")` for a global `x`.
    fn guard_key(&self, expr: &'a Expr) -> Option<(bool, &'a str)> {
        match expr {
            Expr::Attribute(attr) => match &*attr.value {
                Expr::Name(n) if Some(n.id.as_str()) == self.receiver => {
                    Some((true, attr.attr.as_str()))
                }
                _ => None,
            },
            Expr::Name(n) if self.globals.contains(n.id.as_str()) => Some((false, n.id.as_str())),
            _ => None,
        }
    }

    /// The context of a lazy initialisation `target = …` that runs once per
    /// instance (`self.x`) or per process (a global), if `target` is known
    /// unset here.
    fn lazy_context(&self, target: &'a Expr) -> Option<Context> {
        let key = self.guard_key(target)?;
        if !self.unset.contains(&key) {
            return None;
        }
        match key {
            (true, _) => self.class.map(|c| Context::Instance(c.to_string())),
            (false, _) => Some(Context::Once),
        }
    }
}

fn is_name(expr: &Expr, wanted: &str) -> bool {
    matches!(expr, Expr::Name(n) if n.id.as_str() == wanted)
}

/// Whether any call anywhere in `body` has a callee matching `wanted`.
fn calls_matching(body: &[Stmt], wanted: &dyn Fn(&Expr) -> bool) -> bool {
    struct Calls<'w> {
        wanted: &'w dyn Fn(&Expr) -> bool,
        found: bool,
    }
    impl<'a> Visitor<'a> for Calls<'_> {
        fn visit_expr(&mut self, expr: &'a Expr) {
            if let Expr::Call(call) = expr {
                if (self.wanted)(&call.func) {
                    self.found = true;
                    return;
                }
            }
            visitor::walk_expr(self, expr);
        }
    }
    let mut calls = Calls {
        wanted,
        found: false,
    };
    visitor::walk_body(&mut calls, body);
    calls.found
}

impl<'a> Visitor<'a> for Collector<'a> {
    fn visit_body(&mut self, body: &'a [Stmt]) {
        let depth = self.unset.len();
        for stmt in body {
            self.visit_stmt(stmt);
            // After `if self.x is not None: return self.x`, `self.x` is unset.
            if let Stmt::If(if_stmt) = stmt {
                if if_stmt.elif_else_clauses.is_empty() && leaves(&if_stmt.body) {
                    if let Some(key) = set_operand(&if_stmt.test).and_then(|e| self.guard_key(e)) {
                        self.unset.push(key);
                    }
                }
            }
        }
        self.unset.truncate(depth);
    }

    fn visit_stmt(&mut self, stmt: &'a Stmt) {
        match stmt {
            Stmt::FunctionDef(func) => {
                if !self.in_function && !self.in_class_body {
                    self.visit_top_level_function(func);
                } else {
                    self.visit_function(func, Context::Elsewhere);
                }
            }
            Stmt::ClassDef(class) => self.visit_class(class, false),
            Stmt::While(ast::StmtWhile {
                test, body, orelse, ..
            }) if self.context != Context::Elsewhere => self.visit_loop(test, body, orelse),
            Stmt::For(ast::StmtFor {
                target,
                iter,
                body,
                orelse,
                is_async,
                ..
            }) if self.context != Context::Elsewhere && (self.in_function || *is_async) => {
                self.forget_targets(target);
                self.visit_expr(target);
                self.visit_loop(iter, body, orelse);
            }
            Stmt::If(if_stmt) => {
                self.visit_expr(&if_stmt.test);
                let key = unset_operand(&if_stmt.test).and_then(|e| self.guard_key(e));
                let depth = self.unset.len();
                if let Some(key) = key {
                    self.unset.push(key);
                }
                self.visit_body(&if_stmt.body);
                self.unset.truncate(depth);
                for clause in &if_stmt.elif_else_clauses {
                    if let Some(test) = &clause.test {
                        self.visit_expr(test);
                    }
                    self.visit_body(&clause.body);
                }
            }
            Stmt::Assign(assign) => {
                let lazy = match assign.targets.as_slice() {
                    [target] => self.lazy_context(target),
                    _ => None,
                };
                let aliased = match assign.targets.as_slice() {
                    [target] => self.bind_local(target, Some(&assign.value)),
                    targets => {
                        for target in targets {
                            self.forget_targets(target);
                        }
                        false
                    }
                };
                if !aliased {
                    match lazy {
                        Some(context) => {
                            let outer = self.swap_context(context);
                            self.visit_expr(&assign.value);
                            self.restore_context(outer);
                        }
                        None => self.visit_expr(&assign.value),
                    }
                }
                for target in &assign.targets {
                    self.visit_expr(target);
                }
            }
            Stmt::AnnAssign(assign) => {
                let aliased = self.bind_local(&assign.target, assign.value.as_deref());
                if let Some(value) = &assign.value {
                    if !aliased {
                        self.visit_expr(value);
                    }
                }
                self.visit_expr(&assign.target);
            }
            _ => visitor::walk_stmt(self, stmt),
        }
    }

    fn visit_annotation(&mut self, _: &'a Expr) {}

    fn visit_except_handler(&mut self, handler: &'a ast::ExceptHandler) {
        let ast::ExceptHandler::ExceptHandler(handler) = handler;
        // `except Error:` names a class without making or keeping it.
        self.visit_body(&handler.body);
    }

    fn visit_expr(&mut self, expr: &'a Expr) {
        match expr {
            Expr::Lambda(lambda) => {
                let outer = self.swap_context(Context::Elsewhere);
                self.visit_expr(&lambda.body);
                self.restore_context(outer);
            }
            Expr::ListComp(_) | Expr::SetComp(_) | Expr::DictComp(_) | Expr::Generator(_)
                if self.in_function && self.context != Context::Elsewhere =>
            {
                // Per item, like a loop in a function.
                let outer = self.swap_context(Context::Elsewhere);
                visitor::walk_expr(self, expr);
                self.restore_context(outer);
            }
            Expr::Call(call) => {
                self.visit_callee(&call.func);
                // `isinstance(x, C)` names a class without making or keeping it.
                let checks_type = matches!(&*call.func, Expr::Name(n)
                    if matches!(n.id.as_str(), "isinstance" | "issubclass" | "type"));
                for (i, arg) in call.arguments.args.iter().enumerate() {
                    if checks_type && i == 1 {
                        continue;
                    }
                    self.visit_expr(arg);
                }
                for keyword in call.arguments.keywords.iter() {
                    self.visit_expr(&keyword.value);
                }
            }
            Expr::Compare(compare) => {
                // `x is C`, `type(x) == C`: a test, not a use as a value.
                for operand in std::iter::once(&*compare.left).chain(compare.comparators.iter()) {
                    if self.class_ref(operand).is_none() {
                        self.visit_expr(operand);
                    }
                }
            }
            Expr::Subscript(subscript) => self.visit_subscript(subscript),
            Expr::Name(name) => {
                if name.ctx != ExprContext::Load {
                    return;
                }
                let id = name.id.as_str();
                if let Some(classes) = self.class_aliases.get(id) {
                    self.facts.escapes.extend(classes.iter().cloned());
                } else if let Some(class) = self.class_ref(expr) {
                    self.facts.escapes.push(class);
                }
            }
            Expr::Attribute(attr) => {
                if let Some(class) = self.class_ref(expr) {
                    self.facts.escapes.push(class);
                    return;
                }
                // `C.attribute`, `alias.attribute` read the class; they do not pass it on.
                let alias = matches!(&*attr.value, Expr::Name(n) if self.class_aliases.contains_key(n.id.as_str()));
                if !alias && self.class_ref(&attr.value).is_none() {
                    self.visit_expr(&attr.value);
                }
            }
            _ => visitor::walk_expr(self, expr),
        }
    }
}

/// Collects what `path`'s module tells the cross-module pass.
pub(crate) fn collect(path: &Path, body: &[Stmt]) -> FileFacts {
    let stem = module_stem(path);
    let is_package = std::path::absolute(path)
        .unwrap_or_else(|_| path.to_path_buf())
        .file_stem()
        .is_some_and(|n| n == "__init__");
    let package = if is_package {
        stem.clone()
    } else {
        stem.parent().map(Path::to_path_buf).unwrap_or_default()
    };
    let mut collector = Collector {
        stem: stem.clone(),
        package,
        bindings: HashMap::new(),
        local_classes: HashSet::new(),
        star_imports: Vec::new(),
        context: Context::Once,
        context_id: None,
        interned: HashMap::new(),
        in_function: false,
        in_class_body: false,
        class: None,
        receiver: None,
        class_aliases: HashMap::new(),
        globals: HashSet::new(),
        unset: Vec::new(),
        facts: FileFacts {
            stem,
            ..FileFacts::default()
        },
    };
    collector.collect_bindings(body);
    for stmt in body {
        match stmt {
            Stmt::ClassDef(class) => collector.visit_class(class, true),
            other => collector.visit_stmt(other),
        }
    }
    collector.facts
}

/// A class or function definition: (file, index into its classes or functions).
type DefId = (usize, usize);

/// Every file's facts, indexed by class name.
pub(crate) struct Index<'f> {
    files: &'f [&'f FileFacts],
    definitions: HashMap<&'f str, Vec<DefId>>,
    /// Sites by class name: (file, index into its sites).
    sites: HashMap<&'f str, Vec<(usize, usize)>>,
    escapes: HashMap<&'f str, Vec<(usize, usize)>>,
    /// Subclass definitions by the name of a base.
    subclasses: HashMap<&'f str, Vec<(DefId, usize)>>,
    memo: RefCell<HashMap<DefId, bool>>,
}

impl<'f> Index<'f> {
    pub(crate) fn new(files: &'f [&'f FileFacts]) -> Self {
        let mut index = Index {
            files,
            definitions: HashMap::new(),
            sites: HashMap::new(),
            escapes: HashMap::new(),
            subclasses: HashMap::new(),
            memo: RefCell::new(HashMap::new()),
        };
        for (f, facts) in files.iter().enumerate() {
            for (c, class) in facts.classes.iter().enumerate() {
                index
                    .definitions
                    .entry(class.name.as_str())
                    .or_default()
                    .push((f, c));
                for (b, base) in class.bases.iter().enumerate() {
                    index
                        .subclasses
                        .entry(base.name.as_str())
                        .or_default()
                        .push(((f, c), b));
                }
            }
            for (s, site) in facts.sites.iter().enumerate() {
                index
                    .sites
                    .entry(site.class.name.as_str())
                    .or_default()
                    .push((f, s));
            }
            for (e, escape) in facts.escapes.iter().enumerate() {
                index
                    .escapes
                    .entry(escape.name.as_str())
                    .or_default()
                    .push((f, e));
            }
        }
        index
    }

    fn class(&self, (f, c): DefId) -> &'f ClassFact {
        &self.files[f].classes[c]
    }

    /// Whether a reference points at this definition. A reference to a
    /// module no definition of that name lives in (a re-export through a
    /// package, `from pkg import C`) counts for every definition below it.
    fn refers_to(&self, reference: &NameRef, def: DefId) -> bool {
        let stem = &self.files[def.0].stem;
        let target = &reference.target;
        if let Target::Star(targets) = target {
            // Whatever the star-imported modules define or re-export: from
            // the package around a relative one, from anywhere in the
            // top-level package of an absolute one.
            return targets.iter().any(|t| match t {
                Target::File(path) => path.parent().is_some_and(|folder| stem.starts_with(folder)),
                Target::Module(parts) => contains_parts(stem, &parts[..1.min(parts.len())]),
                Target::Star(_) => true,
            });
        }
        let same_name: &[DefId] = self
            .definitions
            .get(reference.name.as_str())
            .map_or(&[], Vec::as_slice);
        let exact = |stem: &Path| match target {
            Target::File(path) => stem == path,
            Target::Module(parts) => ends_with_parts(stem, parts),
            Target::Star(_) => true,
        };
        if exact(stem) {
            return true;
        }
        if same_name.iter().any(|&d| exact(&self.files[d.0].stem)) {
            return false;
        }
        match target {
            Target::File(path) => stem.starts_with(path),
            Target::Module(parts) => contains_parts(stem, parts),
            Target::Star(_) => true,
        }
    }

    /// The definition and its subclasses, transitively.
    fn family(&self, def: DefId) -> Vec<DefId> {
        let mut family = vec![def];
        let mut i = 0;
        while i < family.len() {
            let member = family[i];
            let name = self.class(member).name.as_str();
            for &(child, base) in self.subclasses.get(name).map_or(&[][..], Vec::as_slice) {
                if !family.contains(&child)
                    && self.refers_to(&self.class(child).bases[base], member)
                {
                    family.push(child);
                }
            }
            i += 1;
        }
        family
    }

    /// The class `name` as this file defines it (the last definition is in force).
    fn class_in(&self, file: usize, name: &str) -> Option<DefId> {
        self.definitions
            .get(name)?
            .iter()
            .rev()
            .find(|&&(f, _)| f == file)
            .copied()
    }

    /// Whether the code a finding sits in runs once per process (see the
    /// module docs). `file` is the position of the facts in the slice given
    /// to [`Index::new`].
    pub(crate) fn runs_once(&self, file: usize, scope: &FindingScope) -> bool {
        match scope {
            FindingScope::Class(class) => self
                .class_in(file, class)
                .is_some_and(|def| self.made_once(def)),
            FindingScope::Method { class, method } => {
                is_lifecycle_method(method)
                    && self
                        .class_in(file, class)
                        .is_some_and(|def| self.made_once(def))
            }
            FindingScope::Function(name) => self.files[file]
                .functions
                .iter()
                .rev()
                .find(|f| f.name == *name)
                .is_some_and(|f| f.once),
        }
    }

    fn context_once(&self, file: usize, id: ContextId) -> bool {
        match &self.files[file].contexts[id as usize] {
            Context::Once => true,
            Context::Elsewhere => false,
            Context::Instance(class) => self
                .class_in(file, class)
                .is_some_and(|def| self.made_once(def)),
        }
    }

    fn made_once(&self, def: DefId) -> bool {
        if let Some(&known) = self.memo.borrow().get(&def) {
            return known;
        }
        // A cycle (A made in B's constructor, B in A's) is not once.
        self.memo.borrow_mut().insert(def, false);
        let answer = self.decide(def);
        self.memo.borrow_mut().insert(def, answer);
        answer
    }

    fn decide(&self, def: DefId) -> bool {
        if !is_class_name(&self.class(def).name) {
            return false;
        }
        let family = self.family(def);
        let mut seen = false;
        for &member in &family {
            let class = self.class(member);
            if class.replicates {
                return false;
            }
            let name = class.name.as_str();
            for &(f, e) in self.escapes.get(name).map_or(&[][..], Vec::as_slice) {
                if self.refers_to(&self.files[f].escapes[e], member) {
                    return false;
                }
            }
            for &(f, s) in self.sites.get(name).map_or(&[][..], Vec::as_slice) {
                let site = &self.files[f].sites[s];
                if !self.refers_to(&site.class, member) {
                    continue;
                }
                if let Some(via) = &site.via {
                    // `C.helper(…)` with `helper` defined on C and not a factory makes nothing.
                    if class.methods.contains(via) && !class.factories.contains(via) {
                        continue;
                    }
                }
                seen = true;
                if !self.context_once(f, site.context) {
                    return false;
                }
            }
        }
        seen
    }
}

fn ends_with_parts(stem: &Path, parts: &[String]) -> bool {
    let components: Vec<&std::ffi::OsStr> = stem.iter().collect();
    components.len() >= parts.len()
        && components[components.len() - parts.len()..]
            .iter()
            .zip(parts)
            .all(|(c, p)| *c == p.as_str())
}

fn contains_parts(stem: &Path, parts: &[String]) -> bool {
    let components: Vec<&std::ffi::OsStr> = stem.iter().collect();
    !parts.is_empty()
        && components
            .windows(parts.len())
            .any(|w| w.iter().zip(parts).all(|(c, p)| *c == p.as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constructors_and_start_up_methods_are_lifecycle_methods() {
        for name in [
            "__init__",
            "__post_init__",
            "start",
            "async_start",
            "_async_start_monitor",
            "start_listen",
            "initialize",
            "async_initialize",
            "setup",
            "set_up",
            "init_hooks",
        ] {
            assert!(is_lifecycle_method(name), "{name}");
        }
        for name in [
            "poll",
            "restart",
            "handle_start",
            "__call__",
            "load",
            "run",
            "update",
        ] {
            assert!(!is_lifecycle_method(name), "{name}");
        }
    }

    #[test]
    fn module_paths_match_file_stems_by_their_last_components() {
        let stem = Path::new("/site/bokeh/core/validation/issue");
        let parts = |dotted: &str| dotted.split('.').map(String::from).collect::<Vec<_>>();
        assert!(ends_with_parts(stem, &parts("bokeh.core.validation.issue")));
        assert!(ends_with_parts(stem, &parts("validation.issue")));
        assert!(!ends_with_parts(stem, &parts("bokeh.core.validation")));
        assert!(contains_parts(stem, &parts("bokeh.core.validation")));
        assert!(!contains_parts(stem, &parts("core.issue")));
    }

    #[test]
    fn only_cap_words_names_are_followed_as_classes() {
        assert!(is_class_name("Feeder"));
        assert!(is_class_name("HTTPServer"));
        assert!(!is_class_name("feeder"));
        assert!(!is_class_name("MAX_SIZE"));
    }
}
