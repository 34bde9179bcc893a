//! Recognising the shapes the rules talk about: container constructors,
//! calls that grow or shrink a container, imported names, callables.

use std::collections::HashMap;
use std::ops::Range;

use ruff_python_ast::visitor::{self, Visitor};
use ruff_python_ast::{self as ast, Expr, Operator, Stmt};
use ruff_text_size::{Ranged, TextRange};

use crate::scope::for_each_shallow_stmt;

/// Methods that add entries to a list, dict, set or deque.
pub(crate) const GROW_METHODS: &[&str] = &[
    "append",
    "extend",
    "add",
    "insert",
    "update",
    "setdefault",
    "appendleft",
    "extendleft",
];

/// Methods that remove entries (a reference to one, called or not, counts:
/// `atexit.register(cache.clear)` bounds the container too).
pub(crate) const SHRINK_METHODS: &[&str] = &[
    "clear",
    "pop",
    "popitem",
    "popleft",
    "remove",
    "discard",
    "difference_update",
    "intersection_update",
    "symmetric_difference_update",
    "__delitem__",
];

/// Byte range of a node, for a [`crate::Violation`].
pub(crate) fn span(node: &impl Ranged) -> Range<usize> {
    let range: TextRange = node.range();
    range.start().to_usize()..range.end().to_usize()
}

/// `a.b.c` for a chain of names and attributes.
pub(crate) fn dotted_name(expr: &Expr) -> Option<String> {
    match expr {
        Expr::Name(name) => Some(name.id.to_string()),
        Expr::Attribute(attr) => Some(format!(
            "{}.{}",
            dotted_name(&attr.value)?,
            attr.attr.as_str()
        )),
        _ => None,
    }
}

/// The last segment of a name or attribute (`c` for `a.b.c`).
pub(crate) fn last_segment(expr: &Expr) -> Option<&str> {
    match expr {
        Expr::Name(name) => Some(name.id.as_str()),
        Expr::Attribute(attr) => Some(attr.attr.as_str()),
        _ => None,
    }
}

/// What the module imported, so `lru_cache`, `functools.lru_cache` and
/// `ft.lru_cache` all resolve to `functools.lru_cache`.
#[derive(Debug, Default)]
pub(crate) struct Imports {
    bound: HashMap<String, String>,
}

impl Imports {
    /// Collects every `import` and `from … import` in the module, at any depth.
    pub(crate) fn collect(body: &[Stmt]) -> Self {
        struct Collector(Imports);
        impl<'a> Visitor<'a> for Collector {
            fn visit_stmt(&mut self, stmt: &'a Stmt) {
                match stmt {
                    Stmt::Import(import) => {
                        for alias in &import.names {
                            let full = alias.name.as_str();
                            match &alias.asname {
                                Some(asname) => {
                                    self.0.bound.insert(asname.to_string(), full.to_string())
                                }
                                None => {
                                    let top = full.split('.').next().unwrap_or(full);
                                    self.0.bound.insert(top.to_string(), top.to_string())
                                }
                            };
                        }
                    }
                    Stmt::ImportFrom(import) if import.level == 0 => {
                        if let Some(module) = &import.module {
                            for alias in &import.names {
                                let local = alias.asname.as_ref().unwrap_or(&alias.name);
                                self.0.bound.insert(
                                    local.to_string(),
                                    format!("{}.{}", module.as_str(), alias.name.as_str()),
                                );
                            }
                        }
                    }
                    _ => {}
                }
                visitor::walk_stmt(self, stmt);
            }
            fn visit_expr(&mut self, _: &'a Expr) {}
        }
        let mut collector = Collector(Imports::default());
        visitor::walk_body(&mut collector, body);
        collector.0
    }

    /// Whether an import statement binds `name` in the module.
    pub(crate) fn binds(&self, name: &str) -> bool {
        self.bound.contains_key(name)
    }

    /// The fully qualified name an expression refers to, through imports;
    /// unimported names resolve to themselves (builtins, locals).
    pub(crate) fn resolve(&self, expr: &Expr) -> Option<String> {
        let dotted = dotted_name(expr)?;
        let (head, rest) = dotted
            .split_once('.')
            .map_or((dotted.as_str(), None), |(h, r)| (h, Some(r)));
        let base = self.bound.get(head).map_or(head, String::as_str);
        Some(match rest {
            Some(rest) => format!("{base}.{rest}"),
            None => base.to_string(),
        })
    }
}

/// The kind of container a constructor expression makes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ContainerKind {
    List,
    Dict,
    Set,
    Deque,
    DefaultDict,
    Counter,
    OrderedDict,
}

impl ContainerKind {
    pub(crate) fn label(self) -> &'static str {
        match self {
            ContainerKind::List => "list",
            ContainerKind::Dict => "dict",
            ContainerKind::Set => "set",
            ContainerKind::Deque => "deque",
            ContainerKind::DefaultDict => "defaultdict",
            ContainerKind::Counter => "Counter",
            ContainerKind::OrderedDict => "OrderedDict",
        }
    }
}

/// The unbounded container `expr` constructs, if it is one: a list, dict or
/// set display or comprehension, or a call of a container type. A `deque`
/// with a `maxlen` is bounded and so is not one.
pub(crate) fn container_constructor(expr: &Expr, imports: &Imports) -> Option<ContainerKind> {
    match expr {
        Expr::List(_) | Expr::ListComp(_) => Some(ContainerKind::List),
        Expr::Dict(_) | Expr::DictComp(_) => Some(ContainerKind::Dict),
        Expr::Set(_) | Expr::SetComp(_) => Some(ContainerKind::Set),
        Expr::Call(call) => {
            let name = imports.resolve(&call.func)?;
            let kind = match name.as_str() {
                "list" => ContainerKind::List,
                "dict" => ContainerKind::Dict,
                "set" => ContainerKind::Set,
                "collections.deque" => ContainerKind::Deque,
                "collections.defaultdict" => ContainerKind::DefaultDict,
                "collections.Counter" => ContainerKind::Counter,
                "collections.OrderedDict" => ContainerKind::OrderedDict,
                _ => return None,
            };
            let bounded = kind == ContainerKind::Deque
                && (call
                    .arguments
                    .find_keyword("maxlen")
                    .is_some_and(|kw| !kw.value.is_none_literal_expr())
                    || call.arguments.args.len() >= 2);
            (!bounded).then_some(kind)
        }
        _ => None,
    }
}

/// What an operation does to the container it is applied to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum OpKind {
    /// Adds entries (append, item assignment, `+=`, …).
    Grow,
    /// Removes entries (clear, pop, `del x[k]`, slice assignment, …).
    Shrink,
    /// Binds the name or attribute to a new object (`x = []`, `del x`).
    Rebind,
}

/// One operation on a container-valued expression.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ContainerOp<'a> {
    /// The container expression: `x` in `x.append(1)` or `x[k] = v`.
    pub(crate) receiver: &'a Expr,
    pub(crate) kind: OpKind,
    /// The whole operation, for reporting.
    pub(crate) range: TextRange,
    /// The value added, when there is exactly one (`append(v)`, `x[k] = v`).
    pub(crate) value: Option<&'a Expr>,
    /// The key of a keyed insert: `k` in `x[k] = v`, `x.add(k)`, `x.setdefault(k, v)`.
    pub(crate) key: Option<&'a Expr>,
    /// A growth that adds an element on every call whatever its value
    /// (append, extend, insert, `+=`), as opposed to a keyed insert that
    /// only grows with distinct keys.
    pub(crate) sequence: bool,
}

/// Calls `f` on every container operation in `body`, not entering nested
/// functions, classes or lambdas.
pub(crate) fn container_ops<'a>(body: &'a [Stmt], f: &mut dyn FnMut(ContainerOp<'a>)) {
    for stmt in body {
        OpFinder { f, descend: false }.visit_stmt(stmt);
    }
}

/// Like [`container_ops`] over one expression (a lambda body).
pub(crate) fn container_ops_in_expr<'a>(expr: &'a Expr, f: &mut dyn FnMut(ContainerOp<'a>)) {
    OpFinder { f, descend: false }.visit_expr(expr);
}

/// Like [`container_ops`], entering every nested scope too.
pub(crate) fn container_ops_deep<'a>(body: &'a [Stmt], f: &mut dyn FnMut(ContainerOp<'a>)) {
    let mut finder = OpFinder { f, descend: true };
    visitor::walk_body(&mut finder, body);
}

struct OpFinder<'f, 'a> {
    f: &'f mut dyn FnMut(ContainerOp<'a>),
    descend: bool,
}

impl<'a> OpFinder<'_, 'a> {
    fn emit(
        &mut self,
        receiver: &'a Expr,
        kind: OpKind,
        range: TextRange,
        value: Option<&'a Expr>,
    ) {
        (self.f)(ContainerOp {
            receiver,
            kind,
            range,
            value,
            key: None,
            sequence: false,
        });
    }

    fn emit_growth(
        &mut self,
        receiver: &'a Expr,
        range: TextRange,
        value: Option<&'a Expr>,
        key: Option<&'a Expr>,
        sequence: bool,
    ) {
        (self.f)(ContainerOp {
            receiver,
            kind: OpKind::Grow,
            range,
            value,
            key,
            sequence,
        });
    }

    fn store_target(&mut self, target: &'a Expr, range: TextRange, value: Option<&'a Expr>) {
        match target {
            Expr::Subscript(sub) => {
                if sub.slice.is_slice_expr() {
                    self.emit(&sub.value, OpKind::Shrink, range, value);
                } else {
                    self.emit_growth(&sub.value, range, value, Some(&sub.slice), false);
                }
            }
            Expr::Name(_) | Expr::Attribute(_) => self.emit(target, OpKind::Rebind, range, value),
            Expr::Tuple(tuple) => tuple
                .elts
                .iter()
                .for_each(|elt| self.store_target(elt, range, None)),
            Expr::List(list) => list
                .elts
                .iter()
                .for_each(|elt| self.store_target(elt, range, None)),
            Expr::Starred(starred) => self.store_target(&starred.value, range, None),
            _ => {}
        }
    }
}

impl<'a> Visitor<'a> for OpFinder<'_, 'a> {
    fn visit_stmt(&mut self, stmt: &'a Stmt) {
        match stmt {
            Stmt::FunctionDef(func) if !self.descend => {
                for decorator in &func.decorator_list {
                    self.visit_expr(&decorator.expression);
                }
                return;
            }
            Stmt::ClassDef(_) if !self.descend => return,
            Stmt::Assign(assign) => {
                let value = (assign.targets.len() == 1).then_some(&*assign.value);
                for target in &assign.targets {
                    self.store_target(target, assign.range, value);
                }
            }
            Stmt::AnnAssign(ann) => {
                if let Some(value) = &ann.value {
                    self.store_target(&ann.target, ann.range, Some(value));
                }
            }
            Stmt::AugAssign(aug) => match &*aug.target {
                Expr::Subscript(sub) => self.emit_growth(
                    &sub.value,
                    aug.range,
                    Some(&aug.value),
                    Some(&sub.slice),
                    false,
                ),
                target => match aug.op {
                    Operator::Add => {
                        self.emit_growth(target, aug.range, Some(&aug.value), None, true)
                    }
                    Operator::BitOr => {
                        self.emit_growth(target, aug.range, Some(&aug.value), None, false)
                    }
                    Operator::Sub | Operator::BitAnd => {
                        self.emit(target, OpKind::Shrink, aug.range, Some(&aug.value))
                    }
                    _ => self.emit(target, OpKind::Rebind, aug.range, Some(&aug.value)),
                },
            },
            Stmt::Delete(delete) => {
                for target in &delete.targets {
                    match target {
                        Expr::Subscript(sub) => {
                            self.emit(&sub.value, OpKind::Shrink, delete.range, None)
                        }
                        Expr::Name(_) | Expr::Attribute(_) => {
                            self.emit(target, OpKind::Rebind, delete.range, None)
                        }
                        _ => {}
                    }
                }
            }
            _ => {}
        }
        visitor::walk_stmt(self, stmt);
    }

    fn visit_expr(&mut self, expr: &'a Expr) {
        match expr {
            Expr::Lambda(_) if !self.descend => return,
            Expr::Call(call) => {
                if let Expr::Attribute(attr) = &*call.func {
                    let method = attr.attr.as_str();
                    if GROW_METHODS.contains(&method) {
                        let args = &call.arguments.args;
                        let value = (args.len() == 1).then(|| &args[0]);
                        let value = if method == "insert" {
                            args.get(1)
                        } else {
                            value
                        };
                        let key = match method {
                            "add" | "setdefault" => args.first(),
                            _ => None,
                        };
                        let sequence = matches!(
                            method,
                            "append" | "extend" | "insert" | "appendleft" | "extendleft"
                        );
                        self.emit_growth(&attr.value, call.range(), value, key, sequence);
                    } else if SHRINK_METHODS.contains(&method) {
                        self.emit(&attr.value, OpKind::Shrink, call.range(), None);
                    }
                }
                for arg in &call.arguments.args {
                    self.visit_expr(arg);
                }
                for keyword in &call.arguments.keywords {
                    self.visit_expr(&keyword.value);
                }
                match &*call.func {
                    Expr::Attribute(attr) => self.visit_expr(&attr.value),
                    func => self.visit_expr(func),
                }
                return;
            }
            Expr::Attribute(attr) if SHRINK_METHODS.contains(&attr.attr.as_str()) => {
                self.emit(&attr.value, OpKind::Shrink, attr.range, None);
            }
            _ => {}
        }
        visitor::walk_expr(self, expr);
    }
}

/// Whether `expr` mentions `name` as a value (not merely by calling it:
/// `f(x)` does not mention `f` as a value, `register(f)` does).
pub(crate) fn mentions_as_value(expr: &Expr, wanted: &dyn Fn(&Expr) -> bool) -> bool {
    struct Finder<'w> {
        wanted: &'w dyn Fn(&Expr) -> bool,
        found: bool,
    }
    impl<'a> Visitor<'a> for Finder<'_> {
        fn visit_expr(&mut self, expr: &'a Expr) {
            if self.found {
                return;
            }
            if (self.wanted)(expr) {
                self.found = true;
                return;
            }
            match expr {
                Expr::Call(call) => {
                    if let Expr::Attribute(attr) = &*call.func {
                        self.visit_expr(&attr.value);
                    }
                    visitor::walk_arguments(self, &call.arguments);
                }
                Expr::Lambda(_) => {}
                _ => visitor::walk_expr(self, expr),
            }
        }
    }
    let mut finder = Finder {
        wanted,
        found: false,
    };
    finder.visit_expr(expr);
    finder.found
}

/// Whether any name or attribute name in `expr`, lower-cased, satisfies
/// `wanted` (`if not self._registered:`, `f"{pid}"`, …).
pub(crate) fn names_identifier(expr: &Expr, wanted: &dyn Fn(&str) -> bool) -> bool {
    struct Finder<'w> {
        wanted: &'w dyn Fn(&str) -> bool,
        found: bool,
    }
    impl<'a> Visitor<'a> for Finder<'_> {
        fn visit_expr(&mut self, expr: &'a Expr) {
            let identifier = match expr {
                Expr::Attribute(attr) => Some(attr.attr.as_str()),
                Expr::Name(name) => Some(name.id.as_str()),
                _ => None,
            };
            if identifier.is_some_and(|id| (self.wanted)(&id.to_ascii_lowercase())) {
                self.found = true;
            }
            visitor::walk_expr(self, expr);
        }
    }
    let mut finder = Finder {
        wanted,
        found: false,
    };
    finder.visit_expr(expr);
    finder.found
}

/// The first positional parameter of a method (`self` or `cls` by
/// convention), unless it is a staticmethod.
pub(crate) fn first_parameter<'a>(
    func: &'a ast::StmtFunctionDef,
    imports: &Imports,
) -> Option<&'a str> {
    let is_static = func.decorator_list.iter().any(|d| {
        imports
            .resolve(&d.expression)
            .is_some_and(|n| n == "staticmethod")
    });
    if is_static {
        return None;
    }
    let parameters = &func.parameters;
    parameters
        .posonlyargs
        .iter()
        .chain(parameters.args.iter())
        .next()
        .map(|p| p.parameter.name.as_str())
}

/// Whether `expr` is `sys.exc_info()`-like: a traceback or frame object or
/// something holding one.
pub(crate) fn holds_traceback(expr: &Expr, imports: &Imports) -> Option<&'static str> {
    match expr {
        Expr::Call(call) => match imports.resolve(&call.func)?.as_str() {
            "sys.exc_info" => Some("sys.exc_info()"),
            "sys._getframe" => Some("sys._getframe()"),
            "inspect.currentframe" => Some("inspect.currentframe()"),
            "inspect.stack" => Some("inspect.stack()"),
            "inspect.trace" => Some("inspect.trace()"),
            _ => None,
        },
        Expr::Subscript(sub) => holds_traceback(&sub.value, imports),
        Expr::Attribute(attr) => match attr.attr.as_str() {
            "__traceback__" => Some("an exception's __traceback__"),
            "tb_frame" => Some("a traceback's tb_frame"),
            "f_back" => Some("a frame"),
            _ => None,
        },
        _ => None,
    }
}

/// Whether a function's name says it registers something (`register`,
/// `add_…`, `install…`): registries grow with the code that calls them, not
/// with the data a program processes.
pub(crate) fn is_registration_api(name: &str) -> bool {
    let lower = name.trim_start_matches('_').to_ascii_lowercase();
    ["register", "add", "install", "define", "declare"]
        .iter()
        .any(|p| lower.starts_with(p))
        || lower.contains("register")
}

/// A subscript key that can take only one value (`x["MAIL"]`, `x[0]`).
pub(crate) fn is_constant_key(expr: &Expr) -> bool {
    match expr {
        Expr::StringLiteral(_)
        | Expr::NumberLiteral(_)
        | Expr::BytesLiteral(_)
        | Expr::BooleanLiteral(_)
        | Expr::NoneLiteral(_) => true,
        Expr::Tuple(tuple) => tuple.elts.iter().all(is_constant_key),
        _ => false,
    }
}

/// A key that is an object's identity (`id(obj)`): one entry per object
/// ever seen, the signature of a table that pins objects.
pub(crate) fn is_identity_key(expr: &Expr) -> bool {
    match expr {
        Expr::Call(call) => matches!(&*call.func, Expr::Name(n) if n.id.as_str() == "id"),
        Expr::Tuple(tuple) => tuple.elts.iter().any(is_identity_key),
        _ => false,
    }
}

/// Whether `body` checks the size of, or membership in, the container
/// named `name` (`len(name)`, `x in name`, `x not in name`).
pub(crate) fn checks_size_or_membership(body: &[Stmt], name: &str) -> (bool, bool) {
    struct Checks<'n> {
        name: &'n str,
        size: bool,
        membership: bool,
    }
    impl<'a> Visitor<'a> for Checks<'_> {
        fn visit_expr(&mut self, expr: &'a Expr) {
            match expr {
                Expr::Call(call)
                    if matches!(&*call.func, Expr::Name(f) if f.id.as_str() == "len")
                        && call
                            .arguments
                            .args
                            .iter()
                            .any(|a| matches!(a, Expr::Name(n) if n.id.as_str() == self.name)) =>
                {
                    self.size = true;
                }
                Expr::Compare(compare) => {
                    let in_ops = compare
                        .ops
                        .iter()
                        .any(|op| matches!(op, ast::CmpOp::In | ast::CmpOp::NotIn));
                    if in_ops
                        && compare
                            .comparators
                            .iter()
                            .any(|c| matches!(c, Expr::Name(n) if n.id.as_str() == self.name))
                    {
                        self.membership = true;
                    }
                }
                _ => {}
            }
            visitor::walk_expr(self, expr);
        }
    }
    let mut checks = Checks {
        name,
        size: false,
        membership: false,
    };
    visitor::walk_body(&mut checks, body);
    (checks.size, checks.membership)
}

/// Names that assignments directly in `body` (not in nested functions or
/// classes) bind to an unbounded container, with the container's kind.
pub(crate) fn containers_bound_in<'a>(
    body: &'a [Stmt],
    imports: &Imports,
) -> HashMap<&'a str, ContainerKind> {
    let mut containers = HashMap::new();
    for_each_shallow_stmt(body, &mut |stmt| {
        let (targets, value): (Vec<&Expr>, Option<&Expr>) = match stmt {
            Stmt::Assign(assign) => (assign.targets.iter().collect(), Some(&assign.value)),
            Stmt::AnnAssign(ann) => (vec![&ann.target], ann.value.as_deref()),
            _ => return,
        };
        let Some(kind) = value.and_then(|v| container_constructor(v, imports)) else {
            return;
        };
        for target in targets {
            if let Expr::Name(name) = target {
                containers.insert(name.id.as_str(), kind);
            }
        }
    });
    containers
}

/// A test or test fixture (`test_*`, `setUp`, `tearDown`, a function
/// decorated `@…fixture`, any method of a test case class — `Test…`,
/// `…Tests`, a `TestCase` subclass): it runs once per test, so whatever it
/// registers or lets escape lives for one test, not for the process.
pub(crate) fn is_test_function(
    func: &ast::StmtFunctionDef,
    class: Option<&ast::StmtClassDef>,
) -> bool {
    let name = func.name.as_str();
    let in_test_case = class.is_some_and(|class| {
        let class_name = class.name.as_str();
        class_name.starts_with("Test")
            || class_name.ends_with("Test")
            || class_name.ends_with("Tests")
            || class
                .bases()
                .iter()
                .any(|base| last_segment(base).is_some_and(|b| b.ends_with("TestCase")))
    });
    in_test_case
        || name.starts_with("test")
        || matches!(
            name,
            "setUp" | "tearDown" | "setUpClass" | "tearDownClass" | "asyncSetUp" | "asyncTearDown"
        )
        || func.decorator_list.iter().any(|d| {
            let callee = match &d.expression {
                Expr::Call(call) => &*call.func,
                other => other,
            };
            last_segment(callee).is_some_and(|n| n.ends_with("fixture"))
        })
}
