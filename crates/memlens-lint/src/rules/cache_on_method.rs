//! ML005 `cache-on-method`.
//!
//! ## What it does
//! Finds an unbounded method cache — `functools.cache` or
//! `functools.lru_cache(maxsize=None)` — decorating a method that takes `self` (not a
//! `staticmethod`, `classmethod`, `__new__`, or a method whose first
//! parameter is `cls`). Classes the module itself instantiates at top level
//! (singletons such as `registry = Registry()`) are not reported: their
//! instance lives as long as the module anyway. A bounded `lru_cache`
//! (the default `maxsize=128`) pins at most that many instances and is left
//! to flake8-bugbear's B019: memlens reports growth without bound.
//!
//! ## Why is this bad?
//! The cache belongs to the function object, which lives in the class, which
//! lives as long as its module. `self` is part of every cache key, so the
//! cache holds a strong reference to every instance the method was ever
//! called on; those instances (and everything they reference) are never
//! freed while their entries stay — forever with `cache` or
//! `lru_cache(maxsize=None)`, until evicted otherwise.
//!
//! ## Example
//! ```python
//! class Report:
//!     @functools.cache
//!     def totals(self):
//!         ...
//! ```
//!
//! ## Use instead
//! `functools.cached_property` (stored on the instance, freed with it), a
//! per-instance cache created in `__init__`, or a module-level cached function
//! keyed on plain values rather than `self`.

use ruff_python_ast::Expr;

use crate::patterns::span;
use crate::rules::Module;
use crate::scope::for_each_function;
use crate::{Rule, Violation};

pub(crate) fn check(module: &Module<'_>) -> Vec<Violation> {
    let singletons = instantiated_at_top_level(module.body);
    let mut violations = Vec::new();
    for_each_function(module.body, &mut |func, class| {
        let Some(class) = class else { return };
        let decorators: Vec<(String, &ruff_python_ast::Decorator)> = func
            .decorator_list
            .iter()
            .filter_map(|d| {
                let callee = match &d.expression {
                    Expr::Call(call) => &*call.func,
                    other => other,
                };
                module.imports.resolve(callee).map(|name| (name, d))
            })
            .collect();
        let not_instance_method = decorators
            .iter()
            .any(|(name, _)| name == "staticmethod" || name == "classmethod");
        let first = func
            .parameters
            .posonlyargs
            .iter()
            .chain(func.parameters.args.iter())
            .next();
        let takes_self = first.is_some_and(|p| {
            !matches!(
                p.parameter.name.as_str(),
                "cls" | "mcs" | "mcls" | "metacls" | "klass"
            )
        });
        let implicit_classmethod = matches!(
            func.name.as_str(),
            "__new__" | "__init_subclass__" | "__class_getitem__"
        );
        if not_instance_method
            || implicit_classmethod
            || !takes_self
            || singletons.contains(class.name.as_str())
        {
            return;
        }
        for (name, decorator) in &decorators {
            let which = match name.as_str() {
                "functools.lru_cache" if is_unbounded_lru_cache(&decorator.expression) => {
                    "functools.lru_cache(maxsize=None)"
                }
                "functools.cache" => "functools.cache",
                _ => continue,
            };
            violations.push(Violation {
                rule: Rule::CacheOnMethod,
                message: format!(
                    "`{which}` on method `{}.{}` keeps every instance it is called on alive through the cache",
                    class.name.as_str(),
                    func.name.as_str()
                ),
                range: span(*decorator),
            });
        }
    });
    violations
}

/// Classes instantiated by a top-level statement of the module
/// (`apps = Apps()`): such instances live as long as the module, so a cache
/// pinning them pins nothing extra.
fn instantiated_at_top_level(body: &[ruff_python_ast::Stmt]) -> std::collections::HashSet<&str> {
    let mut classes = std::collections::HashSet::new();
    crate::scope::for_each_shallow_stmt(body, &mut |stmt| {
        let value = match stmt {
            ruff_python_ast::Stmt::Assign(assign) => &*assign.value,
            ruff_python_ast::Stmt::AnnAssign(ann) => match ann.value.as_deref() {
                Some(value) => value,
                None => return,
            },
            _ => return,
        };
        if let Expr::Call(call) = value {
            if let Expr::Name(name) = &*call.func {
                classes.insert(name.id.as_str());
            }
        }
    });
    classes
}

/// `lru_cache(maxsize=None)` or `lru_cache(None)`; a bare `lru_cache` and
/// `lru_cache()` default to 128 entries.
fn is_unbounded_lru_cache(decorator: &Expr) -> bool {
    let Expr::Call(call) = decorator else {
        return false;
    };
    call.arguments
        .find_argument_value("maxsize", 0)
        .is_some_and(Expr::is_none_literal_expr)
}
