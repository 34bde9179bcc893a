//! Which names a function binds locally: enough scoping to tell a module
//! global or a captured variable from a local of the same name.

use std::collections::HashSet;

use ruff_python_ast::visitor::{self, Visitor};
use ruff_python_ast::{self as ast, Expr, Parameters, Stmt};

/// The names one function (or lambda) scope binds, and those it declares
/// `global` or `nonlocal`.
#[derive(Debug, Default)]
pub(crate) struct Scope<'a> {
    pub(crate) locals: HashSet<&'a str>,
    pub(crate) globals: HashSet<&'a str>,
    pub(crate) nonlocals: HashSet<&'a str>,
}

impl<'a> Scope<'a> {
    /// The scope of a `def`: its parameters and every name its body binds,
    /// without descending into nested functions, classes or comprehensions.
    pub(crate) fn of_function(func: &'a ast::StmtFunctionDef) -> Self {
        let mut scope = Scope::default();
        scope.add_parameters(&func.parameters);
        let mut collector = BindingCollector { scope: &mut scope };
        for stmt in &func.body {
            collector.visit_stmt(stmt);
        }
        scope.finish()
    }

    /// The scope of a `lambda`: its parameters (and walrus targets).
    pub(crate) fn of_lambda(lambda: &'a ast::ExprLambda) -> Self {
        let mut scope = Scope::default();
        if let Some(parameters) = &lambda.parameters {
            scope.add_parameters(parameters);
        }
        BindingCollector { scope: &mut scope }.visit_expr(&lambda.body);
        scope.finish()
    }

    fn add_parameters(&mut self, parameters: &'a Parameters) {
        for parameter in parameters.iter() {
            self.locals.insert(parameter.name().as_str());
        }
    }

    fn finish(mut self) -> Self {
        self.locals
            .retain(|name| !self.globals.contains(name) && !self.nonlocals.contains(name));
        self
    }

    /// Whether `name` read in this scope refers to this scope's own binding.
    pub(crate) fn is_local(&self, name: &str) -> bool {
        self.locals.contains(name)
    }
}

struct BindingCollector<'s, 'a> {
    scope: &'s mut Scope<'a>,
}

impl<'a> BindingCollector<'_, 'a> {
    fn bind_target(&mut self, target: &'a Expr) {
        match target {
            Expr::Name(name) => {
                self.scope.locals.insert(name.id.as_str());
            }
            Expr::Tuple(tuple) => tuple.elts.iter().for_each(|elt| self.bind_target(elt)),
            Expr::List(list) => list.elts.iter().for_each(|elt| self.bind_target(elt)),
            Expr::Starred(starred) => self.bind_target(&starred.value),
            _ => {}
        }
    }
}

impl<'a> Visitor<'a> for BindingCollector<'_, 'a> {
    fn visit_stmt(&mut self, stmt: &'a Stmt) {
        match stmt {
            Stmt::FunctionDef(func) => {
                self.scope.locals.insert(func.name.as_str());
                for decorator in &func.decorator_list {
                    self.visit_expr(&decorator.expression);
                }
                return;
            }
            Stmt::ClassDef(class) => {
                self.scope.locals.insert(class.name.as_str());
                return;
            }
            Stmt::Global(global) => {
                self.scope
                    .globals
                    .extend(global.names.iter().map(|n| n.as_str()));
            }
            Stmt::Nonlocal(nonlocal) => {
                self.scope
                    .nonlocals
                    .extend(nonlocal.names.iter().map(|n| n.as_str()));
            }
            Stmt::Assign(assign) => assign.targets.iter().for_each(|t| self.bind_target(t)),
            Stmt::AugAssign(aug) => self.bind_target(&aug.target),
            Stmt::AnnAssign(ann) => self.bind_target(&ann.target),
            Stmt::For(for_stmt) => self.bind_target(&for_stmt.target),
            Stmt::With(with) => {
                for item in &with.items {
                    if let Some(vars) = &item.optional_vars {
                        self.bind_target(vars);
                    }
                }
            }
            Stmt::Delete(delete) => delete.targets.iter().for_each(|t| self.bind_target(t)),
            Stmt::Import(import) => {
                for alias in &import.names {
                    let bound = alias.asname.as_ref().map_or_else(
                        || alias.name.as_str().split('.').next().unwrap_or_default(),
                        |asname| asname.as_str(),
                    );
                    self.scope.locals.insert(bound);
                }
            }
            Stmt::ImportFrom(import) => {
                for alias in &import.names {
                    self.scope
                        .locals
                        .insert(alias.asname.as_ref().unwrap_or(&alias.name).as_str());
                }
            }
            Stmt::Try(try_stmt) => {
                for handler in &try_stmt.handlers {
                    let ast::ExceptHandler::ExceptHandler(handler) = handler;
                    if let Some(name) = &handler.name {
                        self.scope.locals.insert(name.as_str());
                    }
                }
            }
            _ => {}
        }
        visitor::walk_stmt(self, stmt);
    }

    fn visit_expr(&mut self, expr: &'a Expr) {
        match expr {
            Expr::Lambda(_) => {}
            Expr::Named(named) => {
                self.bind_target(&named.target);
                self.visit_expr(&named.value);
            }
            // Comprehension variables are scoped to the comprehension, but a
            // walrus inside one binds in the enclosing function.
            _ => visitor::walk_expr(self, expr),
        }
    }
}

/// Walks statements without entering nested `def`, `class` or `lambda`
/// bodies (their decorators and default values are still visited).
pub(crate) fn for_each_shallow_expr<'a>(body: &'a [Stmt], f: &mut dyn FnMut(&'a Expr)) {
    struct Shallow<'f, 'a> {
        f: &'f mut dyn FnMut(&'a Expr),
    }
    impl<'a> Visitor<'a> for Shallow<'_, 'a> {
        fn visit_stmt(&mut self, stmt: &'a Stmt) {
            match stmt {
                Stmt::FunctionDef(func) => {
                    for decorator in &func.decorator_list {
                        self.visit_expr(&decorator.expression);
                    }
                }
                Stmt::ClassDef(_) => {}
                _ => visitor::walk_stmt(self, stmt),
            }
        }
        fn visit_expr(&mut self, expr: &'a Expr) {
            (self.f)(expr);
            if !matches!(expr, Expr::Lambda(_)) {
                visitor::walk_expr(self, expr);
            }
        }
    }
    let mut shallow = Shallow { f };
    for stmt in body {
        shallow.visit_stmt(stmt);
    }
}

/// Calls `f` on every statement of `body`, descending into compound
/// statements (if/for/while/try/with/match) but not into `def` or `class`
/// bodies; the `def`/`class` statements themselves are passed to `f`.
pub(crate) fn for_each_shallow_stmt<'a>(body: &'a [Stmt], f: &mut dyn FnMut(&'a Stmt)) {
    for stmt in body {
        f(stmt);
        for_each_child_block(stmt, &mut |block| for_each_shallow_stmt(block, f));
    }
}

/// Calls `f` on `body` and on every block nested in its compound statements
/// (not in nested `def` or `class` bodies), outer blocks first.
pub(crate) fn for_each_block<'a>(body: &'a [Stmt], f: &mut dyn FnMut(&'a [Stmt])) {
    f(body);
    for stmt in body {
        for_each_child_block(stmt, &mut |block| for_each_block(block, f));
    }
}

/// The blocks directly inside a compound statement (if/elif/else, for and
/// while with their else, with, try with its handlers, else and finally,
/// match cases), in source order; none for `def`, `class` or a simple
/// statement.
fn for_each_child_block<'a>(stmt: &'a Stmt, f: &mut dyn FnMut(&'a [Stmt])) {
    match stmt {
        Stmt::If(s) => {
            f(&s.body);
            for clause in &s.elif_else_clauses {
                f(&clause.body);
            }
        }
        Stmt::For(s) => {
            f(&s.body);
            f(&s.orelse);
        }
        Stmt::While(s) => {
            f(&s.body);
            f(&s.orelse);
        }
        Stmt::With(s) => f(&s.body),
        Stmt::Try(s) => {
            f(&s.body);
            for handler in &s.handlers {
                let ast::ExceptHandler::ExceptHandler(handler) = handler;
                f(&handler.body);
            }
            f(&s.orelse);
            f(&s.finalbody);
        }
        Stmt::Match(s) => {
            for case in &s.cases {
                f(&case.body);
            }
        }
        _ => {}
    }
}

/// Every function in the module, at any depth, with the class it is
/// directly defined in (for methods).
pub(crate) fn for_each_function<'a>(
    body: &'a [Stmt],
    f: &mut dyn FnMut(&'a ast::StmtFunctionDef, Option<&'a ast::StmtClassDef>),
) {
    fn walk<'a>(
        body: &'a [Stmt],
        class: Option<&'a ast::StmtClassDef>,
        f: &mut dyn FnMut(&'a ast::StmtFunctionDef, Option<&'a ast::StmtClassDef>),
    ) {
        let mut nested: Vec<&'a Stmt> = Vec::new();
        for_each_shallow_stmt(body, &mut |stmt| {
            if matches!(stmt, Stmt::FunctionDef(_) | Stmt::ClassDef(_)) {
                nested.push(stmt);
            }
        });
        for stmt in nested {
            match stmt {
                Stmt::FunctionDef(func) => {
                    f(func, class);
                    walk(&func.body, None, f);
                }
                Stmt::ClassDef(inner) => walk(&inner.body, Some(inner), f),
                _ => {}
            }
        }
    }
    walk(body, None, f);
}
