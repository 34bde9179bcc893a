//! The cross-module pass: where each class is instantiated, over every
//! linted file.
//!
//! Some findings leak once per *instance* of a class: a listener registered
//! in `__init__` (ML004), a class-level registry filled in `__init__`
//! (ML002), a cache on a method keeping `self` alive (ML005). When the class
//! is made once per process — at import (a module constant), in a program
//! entry point (`main`, a plug-in's `setup` / `async_setup`), or in the
//! constructor of another such class — those findings pin one object for
//! the process, not one per use, and are dropped. (Inside those places, a
//! `while` loop's body, and any loop's body in `main`, runs per item and
//! does not count as once.) One file cannot show this,
//! so every file contributes [`FileFacts`] while it is linted, and
//! [`Index::is_made_once`] decides once all files are in.
//!
//! The pass is conservative: a class is "made once" only if every place that
//! makes it is one of those, and at least one is seen. A class never made in
//! the linted files, made in any other function, passed around as a value
//! (`factory=Handler`, `[A, B]`: someone may call it later), that makes
//! copies of itself (`type(self)(…)`), or whose subclasses are made
//! elsewhere keeps its findings. Names are resolved through each file's
//! imports (relative imports to files, absolute ones to module suffixes);
//! classes of the same name in different modules are told apart that way,
//! and a reference that cannot be resolved counts for all of them. Only
//! CapWords names are followed (PEP 8 class names).

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use ruff_python_ast::visitor::{self, Visitor};
use ruff_python_ast::{self as ast, Expr, Stmt};
use ruff_text_size::Ranged;

use crate::Rule;

/// Where a class reference points.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Target {
    /// A module file, by its path without `.py` (a package by its folder).
    File(PathBuf),
    /// An absolutely imported module, by its dotted parts.
    Module(Vec<String>),
    /// Could be any module (a `from x import *` may have bound it).
    Anywhere,
}

/// A class named `name` in the module `target`.
#[derive(Clone, Debug)]
struct ClassRef {
    name: String,
    target: Target,
}

/// How often the code around an instantiation runs.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Context {
    /// At import (module level, class bodies) or in a program entry point.
    Once,
    /// In a constructor or start-up method of this module's class of that name.
    Lifecycle(String),
    /// Anywhere else: may run any number of times.
    Elsewhere,
}

#[derive(Debug)]
struct Site {
    class: ClassRef,
    context: Context,
    /// `C.make(…)`: made through this class attribute (a factory, perhaps).
    via: Option<String>,
}

#[derive(Debug)]
struct ClassFact {
    name: String,
    bases: Vec<ClassRef>,
    methods: HashSet<String>,
    /// Class methods that call `cls(…)`: factories.
    factories: HashSet<String>,
    /// Makes instances of itself from an instance (`type(self)(…)`,
    /// `self.__class__(…)`, a factory called through `self`/`cls`).
    replicates: bool,
}

/// What one file tells the cross-module pass.
#[derive(Debug, Default)]
pub(crate) struct FileFacts {
    stem: PathBuf,
    classes: Vec<ClassFact>,
    sites: Vec<Site>,
    /// Classes used as values (passed, stored, returned): made who knows where.
    escapes: Vec<ClassRef>,
}

/// A finding that leaks once per instance of this file's module-level class.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct PerInstance {
    pub(crate) class: String,
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

/// Which findings scale with instances of the enclosing class, and of which class.
///
/// ML004 and ML002 count when they sit directly in a constructor or
/// start-up method (run once per instance); ML005 in any method (it keeps
/// `self` alive whatever the method).
pub(crate) fn per_instance(body: &[Stmt], rule: Rule, offset: usize) -> Option<PerInstance> {
    let lifecycle_only = match rule {
        Rule::ListenerNeverRemoved | Rule::ClassAttributeMutated => true,
        Rule::CacheOnMethod => false,
        _ => return None,
    };
    let at = ruff_text_size::TextSize::try_from(offset).ok()?;
    let class = body.iter().find_map(|stmt| match stmt {
        Stmt::ClassDef(class) if class.range().contains(at) => Some(class),
        _ => None,
    })?;
    let method = class.body.iter().find_map(|stmt| match stmt {
        Stmt::FunctionDef(func) if func.range().contains(at) => Some(func),
        _ => None,
    })?;
    if lifecycle_only {
        if !is_lifecycle_method(method.name.as_str()) {
            return None;
        }
        // A nested function or lambda may run any number of times.
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
        visitor::walk_body(&mut nested, &method.body);
        if nested.found {
            return None;
        }
    }
    Some(PerInstance {
        class: class.name.to_string(),
    })
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
            Target::Anywhere => Target::Anywhere,
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

struct Collector<'a> {
    stem: PathBuf,
    /// The package relative imports start from.
    package: PathBuf,
    bindings: HashMap<&'a str, Binding>,
    local_classes: HashSet<&'a str>,
    star_import: bool,
    context: Context,
    /// Inside a function body (an entry point included).
    in_function: bool,
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
                                self.0.star_import = true;
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
    fn class_ref(&self, expr: &Expr) -> Option<ClassRef> {
        match expr {
            Expr::Name(name) => {
                let name = name.id.as_str();
                if !is_class_name(name) {
                    return None;
                }
                if self.local_classes.contains(name) {
                    return Some(ClassRef {
                        name: name.to_string(),
                        target: Target::File(self.stem.clone()),
                    });
                }
                match self.bindings.get(name) {
                    Some(Binding::Name(target, original)) => Some(ClassRef {
                        name: original.clone(),
                        target: target.clone(),
                    }),
                    Some(Binding::Module(_)) => None,
                    None if self.star_import => Some(ClassRef {
                        name: name.to_string(),
                        target: Target::Anywhere,
                    }),
                    None => None,
                }
            }
            Expr::Attribute(attr) => {
                let name = attr.attr.as_str();
                if !is_class_name(name) {
                    return None;
                }
                Some(ClassRef {
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

    fn visit_function(&mut self, func: &'a ast::StmtFunctionDef, context: Context) {
        for decorator in &func.decorator_list {
            self.visit_expr(&decorator.expression);
        }
        for parameter in func.parameters.iter() {
            if let Some(default) = parameter.default() {
                self.visit_expr(default);
            }
        }
        let outer = std::mem::replace(&mut self.context, context);
        let outer_function = std::mem::replace(&mut self.in_function, true);
        self.visit_body(&func.body);
        self.context = outer;
        self.in_function = outer_function;
    }

    /// A loop body in code that otherwise runs once: `while` (a server's
    /// accept loop) and, inside `main`, any `for` run per item, so what
    /// they make is not made once. A module-level `for` builds import-time
    /// tables (`for name in NAMES: COLOURS[name] = Colour(name)`) and stays once.
    fn visit_loop(&mut self, header: &'a Expr, body: &'a [Stmt], orelse: &'a [Stmt]) {
        self.visit_expr(header);
        let outer = std::mem::replace(&mut self.context, Context::Elsewhere);
        self.visit_body(body);
        self.context = outer;
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
        for stmt in &class.body {
            match stmt {
                Stmt::FunctionDef(method) => {
                    let context = if top_level && is_lifecycle_method(method.name.as_str()) {
                        Context::Lifecycle(class.name.to_string())
                    } else {
                        Context::Elsewhere
                    };
                    self.visit_function(method, context);
                }
                other => self.visit_stmt(other),
            }
        }
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
    fn visit_stmt(&mut self, stmt: &'a Stmt) {
        match stmt {
            Stmt::FunctionDef(func) => {
                // Only a module-level `def main()`: a nested one is a callback.
                let context = match self.context {
                    Context::Once if !self.in_function && is_entry_point(func.name.as_str()) => {
                        Context::Once
                    }
                    _ => Context::Elsewhere,
                };
                self.visit_function(func, context);
            }
            Stmt::ClassDef(class) => self.visit_class(class, false),
            Stmt::While(ast::StmtWhile {
                test, body, orelse, ..
            }) if self.context == Context::Once => self.visit_loop(test, body, orelse),
            Stmt::For(ast::StmtFor {
                target,
                iter,
                body,
                orelse,
                is_async,
                ..
            }) if self.context == Context::Once && (self.in_function || *is_async) => {
                self.visit_expr(target);
                self.visit_loop(iter, body, orelse);
            }
            Stmt::AnnAssign(assign) => {
                self.visit_expr(&assign.target);
                if let Some(value) = &assign.value {
                    self.visit_expr(value);
                }
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
                let outer = std::mem::replace(&mut self.context, Context::Elsewhere);
                self.visit_expr(&lambda.body);
                self.context = outer;
            }
            Expr::Call(call) => {
                if let Some(class) = self.class_ref(&call.func) {
                    self.facts.sites.push(Site {
                        class,
                        context: self.context.clone(),
                        via: None,
                    });
                } else if let Some(class) = match &*call.func {
                    Expr::Attribute(a) => self.class_ref(&a.value).map(|c| (c, a)),
                    _ => None,
                } {
                    let (class, attr) = class;
                    self.facts.sites.push(Site {
                        class,
                        context: self.context.clone(),
                        via: Some(attr.attr.to_string()),
                    });
                } else {
                    self.visit_expr(&call.func);
                }
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
            Expr::Name(_) | Expr::Attribute(_) => {
                if let Some(class) = self.class_ref(expr) {
                    self.facts.escapes.push(class);
                } else if let Expr::Attribute(attr) = expr {
                    // `C.attribute` reads the class; it does not pass it on.
                    if self.class_ref(&attr.value).is_none() {
                        self.visit_expr(&attr.value);
                    }
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
        star_import: false,
        context: Context::Once,
        in_function: false,
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

/// A class definition: (file, index into its classes).
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
    memo: std::cell::RefCell<HashMap<DefId, bool>>,
}

impl<'f> Index<'f> {
    pub(crate) fn new(files: &'f [&'f FileFacts]) -> Self {
        let mut index = Index {
            files,
            definitions: HashMap::new(),
            sites: HashMap::new(),
            escapes: HashMap::new(),
            subclasses: HashMap::new(),
            memo: std::cell::RefCell::new(HashMap::new()),
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
    fn refers_to(&self, reference: &ClassRef, def: DefId) -> bool {
        let stem = &self.files[def.0].stem;
        let same_name: &[DefId] = self
            .definitions
            .get(reference.name.as_str())
            .map_or(&[], Vec::as_slice);
        let exact = |stem: &Path| match &reference.target {
            Target::File(path) => stem == path,
            Target::Module(parts) => ends_with_parts(stem, parts),
            Target::Anywhere => true,
        };
        if exact(stem) {
            return true;
        }
        if same_name.iter().any(|&d| exact(&self.files[d.0].stem)) {
            return false;
        }
        match &reference.target {
            Target::File(path) => stem.starts_with(path),
            Target::Module(parts) => contains_parts(stem, parts),
            Target::Anywhere => true,
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

    /// Whether the class `name` defined in the file with these facts is made
    /// only once per process (see the module docs).
    /// `file` is the position of the facts in the slice given to [`Index::new`].
    pub(crate) fn is_made_once(&self, file: usize, name: &str) -> bool {
        // The last definition of a name in a module is the one in force.
        let Some(&def) = self
            .definitions
            .get(name)
            .and_then(|defs| defs.iter().rev().find(|&&(f, _)| f == file))
        else {
            return false;
        };
        self.made_once(def)
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
                let once = match &site.context {
                    Context::Once => true,
                    Context::Elsewhere => false,
                    Context::Lifecycle(owner) => self.is_made_once(f, owner),
                };
                if !once {
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
