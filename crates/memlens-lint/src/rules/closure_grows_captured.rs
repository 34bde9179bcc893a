//! ML003 `closure-grows-captured`.
//!
//! ## What it does
//! Finds a nested function or lambda that grows a container created in its
//! enclosing function (`cache = {}` … `cache[key] = value`), where the
//! closure escapes the call that made it: it is returned or yielded by a
//! module-level function (a factory's product) or is a decorator's wrapper
//! (it calls a parameter of the enclosing function) — a closure returned by
//! a method or nested function belongs to an object or a call, like a
//! per-document line cache — or it is stored on `self`, appended to
//! an attribute's container, or registered with a long-lived registry
//! (`signal.signal`, `connect`, `subscribe`, `on`, `add_listener`, …; not
//! `atexit.register`, which calls it once). "Stored on `self`" means the
//! closure itself, a display holding it or an object built from it (a class
//! or `partial` call) is assigned to an attribute of `self`; the result of an
//! ordinary call that merely uses the closure (`re.sub(p, closure, s)`) is
//! not, and neither is returning such a result (`return p.sub(closure, s)`).
//! Not reported: containers ever shrunk in the enclosing function, item
//! assignment into a captured list (which cannot grow it), a registration
//! undone in the same function (`add_handler` … `remove_handler`), a
//! closure stored on `self` only until a `finally` of the same call deletes
//! or replaces that attribute (`self.notify = hold` … `finally: del
//! self.notify`: it lives as long as the call), and closures made in tests and fixtures (`test_*`, `setUp`, `@fixture`,
//! methods of `Test…`/`…Tests`/`TestCase` classes), which live for one test.
//!
//! Test files found while walking directories (`tests/` and `test/`
//! folders, `test_*.py`, `*_test.py`, `conftest.py`) are not linted unless
//! `--include-tests` or `include-tests = true` asks: what a test makes lives
//! for one test, so its growth is not a process-lifetime leak.
//!
//! ## Why is this bad?
//! The closure keeps the container alive through a cell in its
//! `__closure__`. Once the closure escapes, it lives as long as whoever holds
//! it — often the whole process for decorators and callbacks — and every call
//! adds to a container no code can reach to empty. This is the shape of the
//! hand-written memoizing decorator with an unbounded cache.
//!
//! ## Example
//! ```python
//! def memoize(func):
//!     cache = {}
//!
//!     def wrapper(*args):
//!         if args not in cache:
//!             cache[args] = func(*args)
//!         return cache[args]
//!
//!     return wrapper
//! ```
//!
//! ## Use instead
//! Bound the cache (`functools.lru_cache(maxsize=…)`), clear it when the
//! unit of work ends, or capture a `weakref.ref` to the owner instead of
//! accumulating in the closure.

use std::collections::HashMap;

use ruff_python_ast::{self as ast, Expr, Stmt};

use crate::patterns::{
    container_ops, container_ops_deep, container_ops_in_expr, last_segment, mentions_as_value,
    span, ContainerKind, ContainerOp, OpKind, GROW_METHODS,
};
use crate::rules::listener_never_removed::REGISTER_METHODS;
use crate::rules::Module;
use crate::scope::{for_each_function, for_each_shallow_expr, for_each_shallow_stmt, Scope};
use crate::{Rule, Violation};

pub(crate) fn check(module: &Module<'_>) -> Vec<Violation> {
    let mut violations = Vec::new();
    let mut top_level: Vec<*const ast::StmtFunctionDef> = Vec::new();
    for_each_shallow_stmt(module.body, &mut |stmt| {
        if let Stmt::FunctionDef(func) = stmt {
            top_level.push(std::ptr::from_ref(func));
        }
    });
    for_each_function(module.body, &mut |outer, class| {
        // A test's closures live for that test.
        if !crate::patterns::is_test_function(outer, class) {
            let is_top_level = top_level.contains(&std::ptr::from_ref(outer));
            check_function(outer, is_top_level, module, &mut violations);
        }
    });
    violations
}

enum Closure<'a> {
    Def(&'a ast::StmtFunctionDef),
    Lambda(&'a ast::ExprLambda),
}

fn check_function<'a>(
    outer: &'a ast::StmtFunctionDef,
    is_top_level: bool,
    module: &Module<'_>,
    violations: &mut Vec<Violation>,
) {
    let containers = local_containers(outer, module);
    if containers.is_empty() {
        return;
    }
    let outer_scope = Scope::of_function(outer);

    // Containers shrunk anywhere in the enclosing function, nested scopes included.
    let mut shrunk: Vec<String> = Vec::new();
    container_ops_deep(&outer.body, &mut |op| {
        if let Expr::Name(name) = op.receiver {
            if op.kind == OpKind::Shrink {
                shrunk.push(name.id.to_string());
            }
        }
    });

    let mut closures: Vec<Closure<'a>> = Vec::new();
    for_each_shallow_stmt(&outer.body, &mut |stmt| {
        if let Stmt::FunctionDef(def) = stmt {
            closures.push(Closure::Def(def));
        }
    });
    for_each_shallow_expr(&outer.body, &mut |expr| {
        if let Expr::Lambda(lambda) = expr {
            closures.push(Closure::Lambda(lambda));
        }
    });

    for closure in closures {
        let (scope, name) = match &closure {
            Closure::Def(def) => (Scope::of_function(def), Some(def.name.as_str())),
            Closure::Lambda(lambda) => (Scope::of_lambda(lambda), None),
        };
        let mut first_growth: Option<(String, std::ops::Range<usize>)> = None;
        let mut on_op = |op: ContainerOp<'_>| {
            let Expr::Name(captured) = op.receiver else {
                return;
            };
            let id = captured.id.as_str();
            let list_slot = op.key.is_some()
                && matches!(
                    containers.get(id),
                    Some(ContainerKind::List | ContainerKind::Deque)
                );
            if op.kind != OpKind::Grow
                || list_slot
                || scope.is_local(id)
                || !containers.contains_key(id)
                || !outer_scope.is_local(id)
                || shrunk.iter().any(|s| s == id)
            {
                return;
            }
            first_growth.get_or_insert_with(|| (id.to_string(), span(&op.range)));
        };
        match &closure {
            Closure::Def(def) => container_ops(&def.body, &mut on_op),
            Closure::Lambda(lambda) => container_ops_in_expr(&lambda.body, &mut on_op),
        }
        let Some((captured, range)) = first_growth else {
            continue;
        };
        let Some(how) = escapes(&closure, name, outer, module) else {
            continue;
        };
        // A closure returned by a method or a nested function belongs to an
        // object or a call (a per-document line cache, a per-statement
        // naming function); one returned by a module-level factory, or a
        // decorator's wrapper (it calls the function it was given), is kept
        // by whoever asked for it, typically for the process.
        let returned = matches!(how, "returned" | "yielded");
        if returned && !is_top_level && !calls_a_parameter(&closure, outer) {
            continue;
        }
        let closure_label =
            name.map_or_else(|| "a lambda".to_string(), |n| format!("closure `{n}`"));
        violations.push(Violation {
            rule: Rule::ClosureGrowsCaptured,
            message: format!(
                "{closure_label} grows {} `{captured}` captured from `{}()` on every call, and the closure escapes ({how})",
                containers[captured.as_str()].label(),
                outer.name.as_str()
            ),
            range,
        });
    }
}

/// Names the enclosing function binds to an unbounded container.
fn local_containers<'a>(
    func: &'a ast::StmtFunctionDef,
    module: &Module<'_>,
) -> HashMap<&'a str, ContainerKind> {
    crate::patterns::containers_bound_in(&func.body, &module.imports)
}

/// Whether the closure calls a parameter of the enclosing function
/// (`def memoize(func): def wrapper(*a): … func(*a)`): a decorator's wrapper.
fn calls_a_parameter(closure: &Closure<'_>, outer: &ast::StmtFunctionDef) -> bool {
    use ruff_python_ast::visitor::{self, Visitor};
    struct Calls<'p>(Vec<&'p str>, bool);
    impl<'a> Visitor<'a> for Calls<'_> {
        fn visit_expr(&mut self, expr: &'a Expr) {
            if let Expr::Call(call) = expr {
                if matches!(&*call.func, Expr::Name(n) if self.0.contains(&n.id.as_str())) {
                    self.1 = true;
                }
            }
            visitor::walk_expr(self, expr);
        }
    }
    let parameters: Vec<&str> = outer.parameters.iter().map(|p| p.name().as_str()).collect();
    let mut calls = Calls(parameters, false);
    match closure {
        Closure::Def(def) => visitor::walk_body(&mut calls, &def.body),
        Closure::Lambda(lambda) => calls.visit_expr(&lambda.body),
    }
    calls.1
}

/// Whether the value stored keeps the closure: the closure itself, a
/// display containing it, or an object built from it (a call of a
/// capitalised class or `partial`). The result of an ordinary call
/// (`re.sub(pattern, closure, text)`) does not.
/// Whether a returned value is the closure or keeps it (`return wrapper`,
/// `return wraps(f)(wrapper)`, `return cache, wrapper`), as opposed to the
/// result of an ordinary call that only used it
/// (`return PATTERN.sub(create_key, text), table`).
fn returns_closure(value: &Expr, is_closure: &dyn Fn(&Expr) -> bool) -> bool {
    if let Expr::Call(call) = value {
        // A decorator applied to the closure returns a wrapper of it.
        if matches!(&*call.func, Expr::Call(_)) {
            return call.arguments.args.iter().any(|a| holds(a, is_closure));
        }
    }
    holds(value, is_closure)
}

fn holds(value: &Expr, is_closure: &dyn Fn(&Expr) -> bool) -> bool {
    match value {
        Expr::List(list) => list.elts.iter().any(|e| holds(e, is_closure)),
        Expr::Tuple(tuple) => tuple.elts.iter().any(|e| holds(e, is_closure)),
        Expr::Set(set) => set.elts.iter().any(|e| holds(e, is_closure)),
        Expr::Dict(dict) => dict.items.iter().any(|item| holds(&item.value, is_closure)),
        Expr::Call(call) => {
            let keeps_arguments = last_segment(&call.func).is_some_and(|name| {
                name == "partial" || name.chars().next().is_some_and(char::is_uppercase)
            });
            keeps_arguments
                && (call.arguments.args.iter().any(|a| holds(a, is_closure))
                    || call
                        .arguments
                        .keywords
                        .iter()
                        .any(|k| holds(&k.value, is_closure)))
        }
        other => is_closure(other),
    }
}

/// Whether the enclosing function also calls the removal matching a
/// registration (`add_handler` … `remove_handler`): the closure is
/// unregistered before the call ends.
fn removed_in(outer: &ast::StmtFunctionDef, method: Option<&str>) -> bool {
    let Some(method) = method else { return false };
    let Some((_, removals)) = crate::rules::listener_never_removed::REGISTRATIONS
        .iter()
        .find(|(name, _)| *name == method)
    else {
        return false;
    };
    let mut removed = false;
    for_each_shallow_expr(&outer.body, &mut |expr| {
        if let Expr::Call(call) = expr {
            if last_segment(&call.func).is_some_and(|m| removals.contains(&m)) {
                removed = true;
            }
        }
    });
    removed
}

/// Attributes of `self` that a `finally` block of `func` deletes or rebinds.
fn released_in_finally(func: &ast::StmtFunctionDef) -> std::collections::HashSet<&str> {
    let mut released = std::collections::HashSet::new();
    for_each_shallow_stmt(&func.body, &mut |stmt| {
        let Stmt::Try(try_stmt) = stmt else { return };
        for_each_shallow_stmt(&try_stmt.finalbody, &mut |inner| {
            let targets: Vec<&Expr> = match inner {
                Stmt::Delete(delete) => delete.targets.iter().collect(),
                Stmt::Assign(assign) => assign.targets.iter().collect(),
                _ => return,
            };
            for target in targets {
                if let Expr::Attribute(a) = target {
                    if matches!(&*a.value, Expr::Name(n) if n.id.as_str() == "self") {
                        released.insert(a.attr.as_str());
                    }
                }
            }
        });
    });
    released
}

/// How the closure leaves the enclosing call, if it does.
fn escapes(
    closure: &Closure<'_>,
    name: Option<&str>,
    outer: &ast::StmtFunctionDef,
    module: &Module<'_>,
) -> Option<&'static str> {
    let is_closure = |expr: &Expr| match (closure, expr) {
        (Closure::Def(_), Expr::Name(n)) => Some(n.id.as_str()) == name,
        (Closure::Lambda(lambda), Expr::Lambda(candidate)) => std::ptr::eq(*lambda, candidate),
        _ => false,
    };
    let mut how = None;
    for_each_shallow_stmt(&outer.body, &mut |stmt| {
        if how.is_some() {
            return;
        }
        match stmt {
            Stmt::Return(ret)
                if ret
                    .value
                    .as_deref()
                    .is_some_and(|v| returns_closure(v, &is_closure)) =>
            {
                how = Some("returned");
            }
            Stmt::Assign(assign) => {
                // Stored on `self` until a `finally` of this call deletes or
                // replaces it (`self.notify = hold` … `finally: del self.notify`):
                // the closure lives only as long as the call.
                let stored_on_self = assign.targets.iter().any(|t| {
                    matches!(t, Expr::Attribute(a)
                    if matches!(&*a.value, Expr::Name(n) if n.id.as_str() == "self")
                        && !released_in_finally(outer).contains(a.attr.as_str()))
                });
                if stored_on_self && holds(&assign.value, &is_closure) {
                    how = Some("stored on `self`");
                }
            }
            _ => {}
        }
    });
    if how.is_some() {
        return how;
    }
    for_each_shallow_expr(&outer.body, &mut |expr| {
        if how.is_some() {
            return;
        }
        match expr {
            Expr::Yield(y)
                if y.value
                    .as_deref()
                    .is_some_and(|v| returns_closure(v, &is_closure)) =>
            {
                how = Some("yielded")
            }
            Expr::Call(call) => {
                let method = last_segment(&call.func);
                let passes = call
                    .arguments
                    .args
                    .iter()
                    .any(|a| mentions_as_value(a, &is_closure))
                    || call
                        .arguments
                        .keywords
                        .iter()
                        .any(|k| mentions_as_value(&k.value, &is_closure));
                if !passes {
                    return;
                }
                let qualified = matches!(method, Some("register" | "signal"))
                    .then(|| module.imports.resolve(&call.func))
                    .flatten();
                // atexit calls its callbacks once: no growth from there.
                let registry_call = matches!(qualified.as_deref(), Some("signal.signal"))
                    || method.is_some_and(|m| {
                        REGISTER_METHODS.contains(&m) && m != "register" && m != "add_done_callback"
                    });
                if registry_call && !removed_in(outer, method) {
                    how = Some("registered as a callback");
                } else if method.is_some_and(|m| GROW_METHODS.contains(&m))
                    && matches!(&*call.func, Expr::Attribute(a) if !matches!(&*a.value, Expr::Name(_)))
                {
                    how = Some("added to a container");
                }
            }
            _ => {}
        }
    });
    how
}
