//! The cross-module pass: where each class is made and how often each
//! function and method runs, over every linted file.
//!
//! Some findings are bounded when the code around them runs once per
//! process: a listener registered in a constructor (ML004), a class-level
//! registry filled per instance (ML002), a cache on a method keeping `self`
//! alive (ML005), a module-level list appended to (ML001), a handler added
//! to a logger (ML006). One file cannot show how often that code runs, so
//! every file contributes [`FileFacts`] while it is linted, and
//! [`Index::runs_once`] decides once all files are in.
//!
//! What runs once:
//! - code at import (module level and class bodies; a module-level `for`
//!   builds import-time tables), in a program entry point (a module-level
//!   `main`, a plug-in's `setup` / `async_setup`), or in a module-level
//!   function whose decorator runs its body once (`functools.cache` on a
//!   function without parameters, a `singleton` decorator);
//! - a module-level function that has at least one call in the linted
//!   files, every call of which runs once, and that is never used as a value
//!   (passed, stored, decorated: whoever holds it may call it again);
//! - a method of a class made once, when the method runs once per instance:
//!   a constructor or start-up method by name (`__init__`, `start…`,
//!   `setup…`, …), or a method whose every call is `self.m(…)` from a
//!   method that runs once per instance, or `x.m(…)` on a fresh instance
//!   (`x = C(…)` in the same block), or a call that runs once per process;
//! - a class made only in places that run once, or in a method guarded so
//!   that it runs once per instance (`if self.x is None: self.x = C()`, or
//!   after `if self.x is not None: return self.x`).
//!
//! The bodies of loops and comprehensions in functions, of `while` loops
//! anywhere, of lambdas and nested functions run any number of times.
//!
//! The pass is conservative. A class never made in the linted files, made
//! anywhere else, passed around as a value (`factory=Handler`, `[A, B]`),
//! that makes copies of itself (`type(self)(…)`), or whose subclasses are
//! made elsewhere is not made once. A function or method with no call in
//! the linted files (a framework's hook) does not run once. A method name
//! called, or read as a value, on a receiver the pass cannot type
//! (`conn.start()`, `callback=obj.run`) anywhere in the same package (the
//! tree of folders with an `__init__.py` around the file) counts against
//! every method of that name there, outside code that runs at import.
//! Names are resolved through each file's imports (relative imports to
//! files, absolute ones to module suffixes); classes and functions of the
//! same name in different modules are told apart that way, and a reference
//! that cannot be resolved counts for all of them. Only CapWords names are
//! followed as classes (PEP 8 class names).

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
    /// Any module of the distributions these star imports come from
    /// (`from x import *` may have bound the name, re-exported from
    /// anywhere in `x`'s top-level package).
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
    /// Directly in this module's top-level function of that name.
    Function(String),
    /// Directly in a method (second field) of this module's top-level class.
    Method(String, String),
    /// In a method of this module's top-level class, guarded to run once per
    /// instance (`if self.x is None: self.x = C()`).
    Instance(String),
    /// Anywhere else: may run any number of times.
    Elsewhere,
}

/// A context, as an index into [`FileFacts::contexts`] (sites are many,
/// contexts few: one per function and method).
type ContextId = u32;

/// Where a class is instantiated.
#[derive(Debug)]
struct Site {
    class: NameRef,
    context: ContextId,
    /// `C.make(…)`: made through this class attribute (a factory, perhaps).
    via: Option<String>,
}

/// A call of a module-level function, resolved through imports.
#[derive(Debug)]
struct Call {
    callee: NameRef,
    context: ContextId,
}

/// `self.m(…)` or `super().m(…)` in a method of this module's top-level class.
#[derive(Debug)]
struct SelfCall {
    class: String,
    method: u64,
    context: ContextId,
}

/// `x.m(…)` where `x` is a local bound to `C(…)` in the same function.
#[derive(Debug)]
struct InstanceCall {
    class: NameRef,
    method: u64,
    context: ContextId,
    /// The call runs exactly where the instance is made (same block kind),
    /// so it runs once per instance.
    fresh: bool,
}

#[derive(Debug)]
struct ClassFact {
    name: String,
    bases: Vec<NameRef>,
    methods: HashSet<String>,
    /// Methods with a decorator that may hand them to a framework.
    decorated: HashSet<String>,
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
    /// A decorator that may hand the function to a framework.
    decorated: bool,
}

/// What one file tells the cross-module pass.
#[derive(Debug, Default)]
pub(crate) struct FileFacts {
    stem: PathBuf,
    /// The outermost package folder around the file (its own folder when it
    /// is not in a package): unknown receivers are matched within it.
    root: PathBuf,
    classes: Vec<ClassFact>,
    functions: Vec<FunctionFact>,
    /// The contexts sites and calls refer to.
    contexts: Vec<Context>,
    sites: Vec<Site>,
    /// Classes used as values (passed, stored, returned): made who knows where.
    escapes: Vec<NameRef>,
    calls: Vec<Call>,
    /// Module-level functions used as values.
    function_escapes: Vec<NameRef>,
    self_calls: Vec<SelfCall>,
    instance_calls: Vec<InstanceCall>,
    /// Hashes of attribute names called on a receiver the pass cannot type
    /// outside import-time code, or read as values (`callback=obj.run`):
    /// sorted, without duplicates.
    unknown: Vec<u64>,
}

/// The code a finding sits in, whose run count bounds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum FindingScope {
    /// Directly in a method of this file's top-level class.
    Method { class: String, method: String },
    /// Anywhere in this file's top-level class (a cache on a method keeps
    /// one entry per instance, whatever the method).
    Class(String),
    /// Directly in this file's top-level function.
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

/// A stable 64-bit FNV-1a hash of a name (method names are kept as hashes:
/// a collision only makes the pass more conservative).
fn name_hash(name: &str) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in name.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
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
/// method or a module-level function. Inside a nested function or lambda
/// the finding may run any number of times, and no scope is returned.
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

/// The outermost folder with an `__init__.py` in the chain of folders
/// around `path`, or the file's own folder.
fn package_root(path: &Path) -> PathBuf {
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let Some(mut root) = absolute.parent().map(Path::to_path_buf) else {
        return absolute;
    };
    let mut folder = root.clone();
    while folder.join("__init__.py").is_file() {
        root = folder.clone();
        if !folder.pop() {
            break;
        }
    }
    root
}

/// Decorators that neither hand a function to anyone nor change how often
/// its body runs.
fn is_marker_decorator(expr: &Expr) -> bool {
    let name = match expr {
        Expr::Name(n) => n.id.as_str(),
        Expr::Attribute(a) => a.attr.as_str(),
        _ => return false,
    };
    matches!(
        name,
        "staticmethod" | "classmethod" | "abstractmethod" | "override" | "final"
    )
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
    local_functions: HashSet<&'a str>,
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
    /// Locals of the current function bound once to `C(…)`, with the
    /// context of that binding (`None` once rebound).
    fresh: HashMap<&'a str, Option<(NameRef, ContextId)>>,
    /// Locals of the current function bound to a class (`kind = A if x else B`).
    class_aliases: HashMap<&'a str, Vec<NameRef>>,
    /// Names the current function declares `global`.
    globals: HashSet<&'a str>,
    /// Attributes of the receiver (`self.x`) and globals known to be unset
    /// at this point (inside `if self.x is None:`, after `if self.x: return`).
    unset: Vec<(bool, &'a str)>,
    unknown: HashSet<u64>,
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
            match stmt {
                Stmt::ClassDef(class) => {
                    self.local_classes.insert(class.name.as_str());
                }
                Stmt::FunctionDef(func) => {
                    self.local_functions.insert(func.name.as_str());
                }
                _ => {}
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

    /// The module-level function a name refers to (`f` defined here or
    /// imported by name), if it is not a class name.
    fn function_ref(&self, name: &str) -> Option<NameRef> {
        if is_class_name(name) {
            return None;
        }
        if self.local_functions.contains(name) {
            return Some(NameRef {
                name: name.to_string(),
                target: Target::File(self.stem.clone()),
            });
        }
        match self.bindings.get(name)? {
            Binding::Name(target, original) => Some(NameRef {
                name: original.clone(),
                target: target.clone(),
            }),
            Binding::Module(_) => None,
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

    /// Whether `expr` certainly names a module (`import x` binds it), rather
    /// than an object imported from one.
    fn is_module(&self, expr: &Expr) -> bool {
        match expr {
            Expr::Name(name) => matches!(
                self.bindings.get(name.id.as_str()),
                Some(Binding::Module(_))
            ),
            Expr::Attribute(attr) => self.is_module(&attr.value),
            _ => false,
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

    /// An attribute name used on a receiver the pass cannot type.
    fn unknown_use(&mut self, name: &str, called: bool) {
        if called && self.context == Context::Once {
            return;
        }
        self.unknown.insert(name_hash(name));
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
        let outer_fresh = std::mem::take(&mut self.fresh);
        let outer_aliases = std::mem::take(&mut self.class_aliases);
        let outer_globals = std::mem::replace(&mut self.globals, globals);
        let outer_unset = std::mem::take(&mut self.unset);
        self.visit_body(&func.body);
        self.restore_context(outer);
        self.in_function = outer_function;
        self.in_class_body = outer_class_body;
        self.fresh = outer_fresh;
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
                    let context = if top_level {
                        Context::Method(class.name.to_string(), method.name.to_string())
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
        let mut decorated = HashSet::new();
        let mut factories = HashSet::new();
        for stmt in &class.body {
            if let Stmt::FunctionDef(func) = stmt {
                methods.insert(func.name.to_string());
                if func
                    .decorator_list
                    .iter()
                    .any(|d| !is_marker_decorator(&d.expression))
                {
                    decorated.insert(func.name.to_string());
                }
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
            decorated,
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
        let decorated = !once
            && func
                .decorator_list
                .iter()
                .any(|d| !is_marker_decorator(&d.expression));
        self.facts.functions.push(FunctionFact {
            name: func.name.to_string(),
            once,
            decorated,
        });
        let context = if once {
            Context::Once
        } else {
            Context::Function(func.name.to_string())
        };
        self.visit_function(func, context);
    }

    /// An expression whose value is only used as a receiver (`x` in `x.y`,
    /// `x[i]`, `x.m()`): reading an attribute of it does not pass it on.
    fn visit_receiver(&mut self, expr: &'a Expr) {
        match expr {
            // `C.attribute`, `alias.attribute`, `module.f(…)`: reads, no escape.
            Expr::Name(_) => {}
            // `self.x.y`: `x` is read to reach `y`, not passed on.
            Expr::Attribute(attr) => {
                if self.class_ref(expr).is_some() || self.class_ref(&attr.value).is_some() {
                    return;
                }
                self.visit_receiver(&attr.value);
            }
            Expr::Subscript(subscript) => self.visit_subscript(subscript),
            other => self.visit_expr(other),
        }
    }

    /// `x[i]`: `x` is a receiver, except that `C[int]` may be called or
    /// passed on like `C` itself.
    fn visit_subscript(&mut self, subscript: &'a ast::ExprSubscript) {
        match self.class_ref(&subscript.value) {
            Some(class) => self.facts.escapes.push(class),
            None => self.visit_receiver(&subscript.value),
        }
        self.visit_expr(&subscript.slice);
    }

    /// A call of `func(…)`: instantiations, function calls, method calls.
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
            Expr::Name(name) => {
                let id = name.id.as_str();
                if let Some(classes) = self.class_aliases.get(id) {
                    for class in classes.clone() {
                        self.facts.sites.push(Site {
                            class,
                            context: here,
                            via: None,
                        });
                    }
                } else if let Some(callee) = self.function_ref(id) {
                    self.facts.calls.push(Call {
                        callee,
                        context: here,
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
                if !classes.is_empty() {
                    for class in classes {
                        self.facts.sites.push(Site {
                            class,
                            context: here,
                            via: Some(method.to_string()),
                        });
                    }
                    self.unknown_use(method, true);
                    return;
                }
                let is_receiver =
                    matches!(value, Expr::Name(n) if Some(n.id.as_str()) == self.receiver);
                let is_super = matches!(value, Expr::Call(c) if is_name(&c.func, "super"));
                if let (true, Some(class)) = (is_receiver || is_super, self.class) {
                    self.facts.self_calls.push(SelfCall {
                        class: class.to_string(),
                        method: name_hash(method),
                        context: here,
                    });
                    if is_super {
                        self.visit_expr(value);
                    }
                    return;
                }
                if let Expr::Name(n) = value {
                    if let Some(Some((class, made_in))) = self.fresh.get(n.id.as_str()) {
                        let made_in = *made_in;
                        let fresh = made_in == here;
                        self.facts.instance_calls.push(InstanceCall {
                            class: class.clone(),
                            method: name_hash(method),
                            context: here,
                            fresh,
                        });
                        return;
                    }
                }
                if let Some(target) = self.module_of(value) {
                    self.facts.calls.push(Call {
                        callee: NameRef {
                            name: method.to_string(),
                            target,
                        },
                        context: here,
                    });
                    if self.is_module(value) {
                        return;
                    }
                }
                self.unknown_use(method, true);
                self.visit_receiver(value);
            }
            other => self.visit_expr(other),
        }
    }

    /// Records `x = C(…)` (a fresh instance) and `x = A if t else B` (a
    /// class alias) for the current function; any other binding of `x`
    /// forgets both. Returns whether the value was an alias (not a use of
    /// the classes as values).
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
            self.fresh.insert(id, None);
            return true;
        }
        self.class_aliases.remove(id);
        let made = value.and_then(|value| match value {
            Expr::Call(call) => self.class_ref(&call.func),
            _ => None,
        });
        match (made, self.fresh.contains_key(id)) {
            (Some(class), false) => {
                let here = self.here();
                self.fresh.insert(id, Some((class, here)));
            }
            _ => {
                self.fresh.insert(id, None);
            }
        }
        false
    }

    fn forget_targets(&mut self, target: &'a Expr) {
        match target {
            Expr::Name(name) => {
                self.fresh.insert(name.id.as_str(), None);
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
                } else if let Some(function) = self.function_ref(id) {
                    self.facts.function_escapes.push(function);
                }
            }
            Expr::Attribute(attr) => {
                if attr.ctx != ExprContext::Load {
                    self.visit_receiver(&attr.value);
                    return;
                }
                if let Some(class) = self.class_ref(expr) {
                    self.facts.escapes.push(class);
                    return;
                }
                // `C.attribute` reads the class; it does not pass it on.
                if self.class_ref(&attr.value).is_some() {
                    return;
                }
                if let Some(target) = self.module_of(&attr.value) {
                    self.facts.function_escapes.push(NameRef {
                        name: attr.attr.to_string(),
                        target,
                    });
                    if self.is_module(&attr.value) {
                        return;
                    }
                }
                self.unknown_use(attr.attr.as_str(), false);
                self.visit_receiver(&attr.value);
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
        local_functions: HashSet::new(),
        star_imports: Vec::new(),
        context: Context::Once,
        context_id: None,
        interned: HashMap::new(),
        in_function: false,
        in_class_body: false,
        class: None,
        receiver: None,
        fresh: HashMap::new(),
        class_aliases: HashMap::new(),
        globals: HashSet::new(),
        unset: Vec::new(),
        unknown: HashSet::new(),
        facts: FileFacts {
            stem,
            root: package_root(path),
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
    let mut unknown: Vec<u64> = collector.unknown.into_iter().collect();
    unknown.sort_unstable();
    collector.facts.unknown = unknown;
    collector.facts
}

/// A class or function definition: (file, index into its classes or functions).
type DefId = (usize, usize);

/// Every file's facts, indexed by name.
pub(crate) struct Index<'f> {
    files: &'f [&'f FileFacts],
    definitions: HashMap<&'f str, Vec<DefId>>,
    functions: HashMap<&'f str, Vec<DefId>>,
    /// Sites by class name: (file, index into its sites).
    sites: HashMap<&'f str, Vec<(usize, usize)>>,
    escapes: HashMap<&'f str, Vec<(usize, usize)>>,
    calls: HashMap<&'f str, Vec<(usize, usize)>>,
    function_escapes: HashMap<&'f str, Vec<(usize, usize)>>,
    self_calls: HashMap<u64, Vec<(usize, usize)>>,
    instance_calls: HashMap<u64, Vec<(usize, usize)>>,
    /// Subclass definitions by the name of a base.
    subclasses: HashMap<&'f str, Vec<(DefId, usize)>>,
    /// Files by package root.
    roots: HashMap<&'f Path, Vec<usize>>,
    classes_memo: RefCell<HashMap<DefId, bool>>,
    methods_memo: RefCell<HashMap<(DefId, u64), bool>>,
    functions_memo: RefCell<HashMap<DefId, bool>>,
}

impl<'f> Index<'f> {
    pub(crate) fn new(files: &'f [&'f FileFacts]) -> Self {
        let mut index = Index {
            files,
            definitions: HashMap::new(),
            functions: HashMap::new(),
            sites: HashMap::new(),
            escapes: HashMap::new(),
            calls: HashMap::new(),
            function_escapes: HashMap::new(),
            self_calls: HashMap::new(),
            instance_calls: HashMap::new(),
            subclasses: HashMap::new(),
            roots: HashMap::new(),
            classes_memo: RefCell::new(HashMap::new()),
            methods_memo: RefCell::new(HashMap::new()),
            functions_memo: RefCell::new(HashMap::new()),
        };
        for (f, facts) in files.iter().enumerate() {
            index.roots.entry(facts.root.as_path()).or_default().push(f);
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
            for (i, function) in facts.functions.iter().enumerate() {
                index
                    .functions
                    .entry(function.name.as_str())
                    .or_default()
                    .push((f, i));
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
            for (i, call) in facts.calls.iter().enumerate() {
                index
                    .calls
                    .entry(call.callee.name.as_str())
                    .or_default()
                    .push((f, i));
            }
            for (i, escape) in facts.function_escapes.iter().enumerate() {
                index
                    .function_escapes
                    .entry(escape.name.as_str())
                    .or_default()
                    .push((f, i));
            }
            for (i, call) in facts.self_calls.iter().enumerate() {
                index
                    .self_calls
                    .entry(call.method)
                    .or_default()
                    .push((f, i));
            }
            for (i, call) in facts.instance_calls.iter().enumerate() {
                index
                    .instance_calls
                    .entry(call.method)
                    .or_default()
                    .push((f, i));
            }
        }
        index
    }

    fn class(&self, (f, c): DefId) -> &'f ClassFact {
        &self.files[f].classes[c]
    }

    /// Whether a reference to `name` in `target` points at the definition in
    /// the file `def_file`, among `same_name` definitions of that name. A
    /// reference to a module no definition of that name lives in (a
    /// re-export through a package, `from pkg import C`) counts for every
    /// definition below it.
    fn points_to(&self, target: &Target, def_file: usize, same_name: &[DefId]) -> bool {
        let def = self.files[def_file];
        if let Target::Star(targets) = target {
            // Whatever the star-imported modules define or re-export, from
            // anywhere in their top-level package.
            return targets.iter().any(|t| match t {
                Target::File(path) => path.starts_with(&def.root),
                Target::Module(parts) => contains_parts(&def.stem, &parts[..1.min(parts.len())]),
                Target::Star(_) => true,
            });
        }
        let stem = &def.stem;
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

    fn refers_to(&self, reference: &NameRef, def: DefId) -> bool {
        let same_name = self
            .definitions
            .get(reference.name.as_str())
            .map_or(&[][..], Vec::as_slice);
        self.points_to(&reference.target, def.0, same_name)
    }

    fn refers_to_function(&self, reference: &NameRef, def: DefId) -> bool {
        let same_name = self
            .functions
            .get(reference.name.as_str())
            .map_or(&[][..], Vec::as_slice);
        self.points_to(&reference.target, def.0, same_name)
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

    /// The definition's bases, transitively, as far as the linted files define them.
    fn ancestors(&self, def: DefId) -> Vec<DefId> {
        let mut ancestors: Vec<DefId> = Vec::new();
        let mut pending = vec![def];
        while let Some(member) = pending.pop() {
            for base in &self.class(member).bases {
                for &candidate in self
                    .definitions
                    .get(base.name.as_str())
                    .map_or(&[][..], Vec::as_slice)
                {
                    if candidate != def
                        && !ancestors.contains(&candidate)
                        && self.refers_to(base, candidate)
                    {
                        ancestors.push(candidate);
                        pending.push(candidate);
                    }
                }
            }
        }
        ancestors
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

    fn function_in(&self, file: usize, name: &str) -> Option<DefId> {
        self.functions
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
                self.context_once(file, &Context::Method(class.clone(), method.clone()))
            }
            FindingScope::Function(name) => self
                .function_in(file, name)
                .is_some_and(|def| self.function_once(def)),
        }
    }

    fn context_at(&self, file: usize, id: ContextId) -> &'f Context {
        &self.files[file].contexts[id as usize]
    }

    fn context_once(&self, file: usize, context: &Context) -> bool {
        match context {
            Context::Once => true,
            Context::Elsewhere => false,
            Context::Function(name) => self
                .function_in(file, name)
                .is_some_and(|def| self.function_once(def)),
            Context::Method(class, method) => self
                .class_in(file, class)
                .is_some_and(|def| self.made_once(def) && self.once_per_instance(def, method)),
            Context::Instance(class) => self
                .class_in(file, class)
                .is_some_and(|def| self.made_once(def)),
        }
    }

    /// Whether an attribute of this name is used on a receiver the pass
    /// cannot type anywhere in the package of `file`.
    fn used_unknowingly(&self, file: usize, name: u64) -> bool {
        let root = self.files[file].root.as_path();
        self.roots
            .get(root)
            .into_iter()
            .flatten()
            .any(|&f| self.files[f].unknown.binary_search(&name).is_ok())
    }

    fn made_once(&self, def: DefId) -> bool {
        if let Some(&known) = self.classes_memo.borrow().get(&def) {
            return known;
        }
        // A cycle (A made in B's constructor, B in A's) is not once.
        self.classes_memo.borrow_mut().insert(def, false);
        let answer = self.decide_class(def);
        self.classes_memo.borrow_mut().insert(def, answer);
        answer
    }

    fn decide_class(&self, def: DefId) -> bool {
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
                if !self.context_once(f, self.context_at(f, site.context)) {
                    return false;
                }
            }
        }
        seen
    }

    /// Whether the method `method` of the class runs at most once per
    /// instance: by name (constructors, start-up methods), or because every
    /// call of it does.
    fn once_per_instance(&self, def: DefId, method: &str) -> bool {
        if is_lifecycle_method(method) {
            return true;
        }
        if method.starts_with("__") && method.ends_with("__") {
            return false;
        }
        let hash = name_hash(method);
        if let Some(&known) = self.methods_memo.borrow().get(&(def, hash)) {
            return known;
        }
        self.methods_memo.borrow_mut().insert((def, hash), false);
        let answer = self.decide_method(def, method, hash);
        self.methods_memo.borrow_mut().insert((def, hash), answer);
        answer
    }

    fn decide_method(&self, def: DefId, method: &str, hash: u64) -> bool {
        let family = self.family(def);
        let mut lineage = family.clone();
        lineage.extend(self.ancestors(def));
        if lineage
            .iter()
            .any(|&member| self.class(member).decorated.contains(method))
        {
            return false;
        }
        if lineage.iter().any(|&(f, _)| self.used_unknowingly(f, hash)) {
            return false;
        }
        let mut seen = false;
        for &(f, i) in self.self_calls.get(&hash).map_or(&[][..], Vec::as_slice) {
            let call = &self.files[f].self_calls[i];
            let Some(caller) = self.class_in(f, &call.class) else {
                continue;
            };
            if !lineage.contains(&caller) {
                continue;
            }
            seen = true;
            let once = match self.context_at(f, call.context) {
                Context::Method(class, from) => self
                    .class_in(f, class)
                    .is_some_and(|from_def| self.once_per_instance(from_def, from)),
                Context::Instance(_) | Context::Once => true,
                other => self.context_once(f, other),
            };
            if !once {
                return false;
            }
        }
        for &(f, i) in self
            .instance_calls
            .get(&hash)
            .map_or(&[][..], Vec::as_slice)
        {
            let call = &self.files[f].instance_calls[i];
            if !family
                .iter()
                .any(|&member| self.refers_to(&call.class, member))
            {
                continue;
            }
            seen = true;
            if !(call.fresh || self.context_once(f, self.context_at(f, call.context))) {
                return false;
            }
        }
        seen
    }

    fn function_once(&self, def: DefId) -> bool {
        if let Some(&known) = self.functions_memo.borrow().get(&def) {
            return known;
        }
        self.functions_memo.borrow_mut().insert(def, false);
        let answer = self.decide_function(def);
        self.functions_memo.borrow_mut().insert(def, answer);
        answer
    }

    fn decide_function(&self, def: DefId) -> bool {
        let function = &self.files[def.0].functions[def.1];
        if function.once {
            return true;
        }
        if function.decorated {
            return false;
        }
        let name = function.name.as_str();
        if self.used_unknowingly(def.0, name_hash(name)) {
            return false;
        }
        for &(f, e) in self
            .function_escapes
            .get(name)
            .map_or(&[][..], Vec::as_slice)
        {
            if self.refers_to_function(&self.files[f].function_escapes[e], def) {
                return false;
            }
        }
        let mut seen = false;
        for &(f, c) in self.calls.get(name).map_or(&[][..], Vec::as_slice) {
            let call = &self.files[f].calls[c];
            if !self.refers_to_function(&call.callee, def) {
                continue;
            }
            seen = true;
            if !self.context_once(f, self.context_at(f, call.context)) {
                return false;
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
