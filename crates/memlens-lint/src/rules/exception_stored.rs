//! ML007 `exception-stored`.
//!
//! ## What it does
//! Finds tracebacks and frames stored where they outlive the function:
//! `sys.exc_info()`, `e.__traceback__`, `sys._getframe()` or
//! `inspect.currentframe()` assigned to an attribute, an item or a global, or
//! added to a module-level container, where an attribute must hang off
//! `self`, `cls`, the class or a global (an attribute of a parameter or
//! local object lives as long as that object, which one function cannot
//! tell); a container captured from an
//! enclosing function lives only as long as that call, and an exception's
//! own `__traceback__` slot is where Python keeps it anyway); and exceptions caught with
//! `except … as e` added to a module-level container or a class-level one
//! (through `cls`, `self` or the class name). A store that the module undoes
//! (the same attribute set to `None` or deleted somewhere) is not reported.
//!
//! Test files found while walking directories (`tests/` and `test/`
//! folders, `test_*.py`, `*_test.py`, `conftest.py`) are not linted unless
//! `--include-tests` or `include-tests = true` asks: what a test makes lives
//! for one test, so its growth is not a process-lifetime leak.
//!
//! ## Why is this bad?
//! An exception holds its traceback (`__traceback__`), the traceback holds a
//! frame per level, and every frame holds all of its local variables. Storing
//! any of them in a long-lived place keeps every object that was local
//! anywhere on the failing call stack alive — often request bodies, large
//! arrays or database rows — and frames that refer back to the exception
//! create reference cycles that only the cyclic GC can break, if at all.
//!
//! ## Example
//! ```python
//! ERRORS = []
//!
//! def process(item):
//!     try:
//!         work(item)
//!     except Exception as e:
//!         ERRORS.append(e)
//! ```
//!
//! ## Use instead
//! Keep what you need as plain data (`repr(e)`, `traceback.format_exc()`,
//! `traceback.TracebackException(…, capture_locals=False)`), or clear it in a
//! `finally` (`del tb`, `self.exc_info = None`).

use std::collections::HashSet;

use ruff_python_ast::{self as ast, Expr, Stmt};

use crate::patterns::{
    container_ops, container_ops_deep, dotted_name, holds_traceback, span, OpKind,
};
use crate::rules::Module;
use crate::scope::{for_each_function, for_each_shallow_stmt, Scope};
use crate::{Rule, Violation};

pub(crate) fn check(module: &Module<'_>) -> Vec<Violation> {
    let module_cleared = cleared_places(module.body);
    let mut class_cleared: std::collections::HashMap<*const ast::StmtClassDef, HashSet<String>> =
        std::collections::HashMap::new();
    let module_containers = module_level_names(module.body);
    let mut violations = Vec::new();
    for_each_function(module.body, &mut |func, class| {
        let scope = Scope::of_function(func);
        let caught = caught_exception_names(func);
        let receiver = class.and_then(|_| crate::patterns::first_parameter(func, &module.imports));
        let class_containers: HashSet<&str> = class.map(class_level_names).unwrap_or_default();
        // `self.x = None` clears `self.x` only within the same class.
        let cleared = match class {
            None => &module_cleared,
            Some(c) => &*class_cleared
                .entry(std::ptr::from_ref(c))
                .or_insert_with(|| {
                    let mut cleared = cleared_places(&c.body);
                    cleared.extend(module_cleared.iter().filter(|p| !p.contains('.')).cloned());
                    cleared
                }),
        };
        container_ops(&func.body, &mut |op| {
            let Some(value) = op.value else { return };
            let stores_exception = matches!(value, Expr::Name(n) if caught.contains(n.id.as_str()));
            if !stores_exception && !might_hold_traceback(value) {
                return;
            }
            let place = dotted_name(op.receiver).unwrap_or_else(|| "a container".into());
            let long_lived = match op.receiver {
                Expr::Name(name) => {
                    let id = name.id.as_str();
                    if op.kind == OpKind::Rebind {
                        scope.globals.contains(id)
                    } else {
                        // A container captured from an enclosing function
                        // lives as long as that call, not the process.
                        !scope.is_local(id)
                            && (module_containers.contains(id)
                                || scope.globals.contains(id)
                                || module.imports.binds(id))
                    }
                }
                // `exc.__traceback__ = tb`: the exception's own slot, where
                // Python puts it anyway.
                Expr::Attribute(attr) => {
                    attr.attr.as_str() != "__traceback__"
                        && attribute_root_is_long_lived(
                            op.receiver,
                            &scope,
                            receiver,
                            class.map(|c| c.name.as_str()),
                        )
                }
                _ => op.kind != OpKind::Rebind,
            };
            if !long_lived || cleared.contains(place.as_str()) {
                return;
            }
            if let Some(what) = holds_traceback(value, &module.imports) {
                if matches!(op.kind, OpKind::Rebind | OpKind::Grow) {
                    violations.push(Violation {
                        rule: Rule::ExceptionStored,
                        message: format!(
                            "{what} stored in `{place}`, which outlives `{}()`: the frames it references keep every local variable on that stack alive",
                            func.name.as_str()
                        ),
                        range: span(&op.range),
                    });
                }
                return;
            }
            // except … as e: e added to a module- or class-level container
            let Expr::Name(value_name) = value else {
                return;
            };
            if op.kind != OpKind::Grow || !caught.contains(value_name.id.as_str()) {
                return;
            }
            let shared = match op.receiver {
                Expr::Name(name) => {
                    !scope.is_local(name.id.as_str())
                        && module_containers.contains(name.id.as_str())
                }
                Expr::Attribute(attr) => match &*attr.value {
                    Expr::Name(owner) => {
                        let via_class = class.is_some_and(|c| c.name.as_str() == owner.id.as_str());
                        let via_receiver = receiver == Some(owner.id.as_str());
                        (via_class || via_receiver) && class_containers.contains(attr.attr.as_str())
                    }
                    _ => false,
                },
                _ => false,
            };
            if shared {
                violations.push(Violation {
                    rule: Rule::ExceptionStored,
                    message: format!(
                        "caught exception `{}` added to long-lived `{place}`: its traceback keeps every frame and local variable of the failure alive",
                        value_name.id.as_str()
                    ),
                    range: span(&op.range),
                });
            }
        });
    });
    violations.sort_by_key(|v| v.range.start);
    violations
}

/// Whether an attribute chain hangs off something that outlives the call:
/// the instance or class (`self.x`, `cls.x`, `Cls.x`) or a global. An
/// attribute of a parameter or local (`result.error = exc`) lives as long
/// as that object, which one function cannot tell.
fn attribute_root_is_long_lived(
    target: &Expr,
    scope: &Scope<'_>,
    receiver: Option<&str>,
    class_name: Option<&str>,
) -> bool {
    let mut root = target;
    while let Expr::Attribute(attr) = root {
        root = &attr.value;
    }
    match root {
        Expr::Name(name) => {
            let id = name.id.as_str();
            Some(id) == receiver || Some(id) == class_name || !scope.is_local(id)
        }
        _ => false,
    }
}

/// A cheap syntactic pre-check before resolving names through imports.
fn might_hold_traceback(expr: &Expr) -> bool {
    match expr {
        Expr::Call(call) => matches!(
            crate::patterns::last_segment(&call.func),
            Some("exc_info" | "_getframe" | "currentframe" | "stack" | "trace")
        ),
        Expr::Subscript(sub) => might_hold_traceback(&sub.value),
        Expr::Attribute(attr) => {
            matches!(attr.attr.as_str(), "__traceback__" | "tb_frame" | "f_back")
        }
        _ => false,
    }
}

/// Places the module sets to `None` or deletes: a store there is undone.
fn cleared_places(body: &[Stmt]) -> HashSet<String> {
    let mut cleared = HashSet::new();
    container_ops_deep(body, &mut |op| {
        let undone = match op.kind {
            OpKind::Rebind => op.value.is_none_or(Expr::is_none_literal_expr),
            OpKind::Shrink => true,
            OpKind::Grow => false,
        };
        if undone {
            if let Some(place) = dotted_name(op.receiver) {
                cleared.insert(place);
            }
        }
    });
    cleared
}

fn module_level_names(body: &[Stmt]) -> HashSet<&str> {
    let mut names = HashSet::new();
    for_each_shallow_stmt(body, &mut |stmt| match stmt {
        Stmt::Assign(assign) => {
            for target in &assign.targets {
                if let Expr::Name(name) = target {
                    names.insert(name.id.as_str());
                }
            }
        }
        Stmt::AnnAssign(ann) => {
            if let Expr::Name(name) = &*ann.target {
                names.insert(name.id.as_str());
            }
        }
        _ => {}
    });
    names
}

fn class_level_names(class: &ast::StmtClassDef) -> HashSet<&str> {
    module_level_names(&class.body)
}

fn caught_exception_names(func: &ast::StmtFunctionDef) -> HashSet<&str> {
    let mut names = HashSet::new();
    for_each_shallow_stmt(&func.body, &mut |stmt| {
        if let Stmt::Try(try_stmt) = stmt {
            for handler in &try_stmt.handlers {
                let ast::ExceptHandler::ExceptHandler(handler) = handler;
                if let Some(name) = &handler.name {
                    names.insert(name.as_str());
                }
            }
        }
    });
    names
}
