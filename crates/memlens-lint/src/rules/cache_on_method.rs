//! ML005 `cache-on-method`.
//!
//! ## What it does
//! Finds an unbounded method cache — `functools.cache` or
//! `functools.lru_cache(maxsize=None)` — decorating a method that takes
//! `self` (not a `staticmethod`, `classmethod`, `__new__`, or a method whose
//! first parameter is `cls`). Enums (their members live as long as the
//! class) are not reported, nor are classes made only once per process —
//! decided by the cross-module pass over every linted file (`crate::instances`):
//! each place that makes the class runs once — at import
//! (`registry = Registry()`), in `main` or a plug-in's `setup`, in the
//! constructor of another class made once, or under a lazy-initialisation
//! guard (`if self._registry is None: self._registry = Registry()`) — and
//! the class is never passed around as a value. Their one instance lives as long
//! as the module anyway. Nor are methods whose cache the module clears
//! (`self.resolver.cache_clear()` when the configuration changes).
//!
//! A bounded `lru_cache` (the default `maxsize=128`, or `maxsize=N`) is not
//! reported: it pins at most N instances, which flake8-bugbear's B019
//! already flags, and memlens reports growth without bound.
//!
//! Test files found while walking directories (`tests/` and `test/`
//! folders, `test_*.py`, `*_test.py`, `conftest.py`) are not linted unless
//! `--include-tests` or `include-tests = true` asks: what a test makes lives
//! for one test, so its growth is not a process-lifetime leak.
//!
//! ## Why is this bad?
//! The cache belongs to the function object, which lives in the class, which
//! lives as long as its module. `self` is part of every cache key, so the
//! cache holds a strong reference to every instance the method was ever
//! called on; those instances (and everything they reference) are never
//! freed while their entries stay — forever with `cache` or
//! `lru_cache(maxsize=None)`, until `maxsize` newer calls evict them
//! otherwise.
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
    let cleared_cell = std::cell::OnceCell::new();
    let cleared = || cleared_cell.get_or_init(|| cleared_caches(module.body));
    let is_enum = |class: &ruff_python_ast::StmtClassDef| {
        class.bases().iter().any(|base| {
            crate::patterns::last_segment(base)
                .is_some_and(|name| name.ends_with("Enum") || matches!(name, "Flag" | "IntFlag"))
        })
    };
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
        if not_instance_method || implicit_classmethod || !takes_self || is_enum(class) {
            return;
        }
        // `self.method.cache_clear()` somewhere in the module: the cache is
        // emptied when what it depends on changes.
        if !decorators.is_empty() && cleared().contains(func.name.as_str()) {
            return;
        }
        for (name, decorator) in &decorators {
            let which = match name.as_str() {
                "functools.cache" => "functools.cache",
                "functools.lru_cache" => match lru_cache_bound(&decorator.expression) {
                    Bound::Unbounded => "functools.lru_cache(maxsize=None)",
                    // At most `maxsize` instances: see the rule's docs.
                    Bound::NoCache | Bound::Entries => continue,
                },
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

/// How many entries an `lru_cache` decorator keeps.
enum Bound {
    Unbounded,
    NoCache,
    Entries,
}

/// `lru_cache(maxsize=None)` / `lru_cache(None)` keep everything, `maxsize=0`
/// nothing; a bare `lru_cache` and `lru_cache()` default to 128 entries.
fn lru_cache_bound(decorator: &Expr) -> Bound {
    let Expr::Call(call) = decorator else {
        return Bound::Entries;
    };
    match call.arguments.find_argument_value("maxsize", 0) {
        Some(value) if value.is_none_literal_expr() => Bound::Unbounded,
        Some(Expr::NumberLiteral(number)) if matches!(&number.value, ruff_python_ast::Number::Int(int) if int.as_u64() == Some(0)) => {
            Bound::NoCache
        }
        _ => Bound::Entries,
    }
}

/// Names of functions whose cache the module clears (`x.name.cache_clear()`).
fn cleared_caches(body: &[ruff_python_ast::Stmt]) -> std::collections::HashSet<&str> {
    use ruff_python_ast::visitor::{self, Visitor};
    struct Clears<'a>(std::collections::HashSet<&'a str>);
    impl<'a> Visitor<'a> for Clears<'a> {
        fn visit_expr(&mut self, expr: &'a Expr) {
            if let Expr::Attribute(outer) = expr {
                if outer.attr.as_str() == "cache_clear" {
                    if let Expr::Attribute(inner) = &*outer.value {
                        self.0.insert(inner.attr.as_str());
                    }
                }
            }
            visitor::walk_expr(self, expr);
        }
    }
    let mut clears = Clears(std::collections::HashSet::new());
    visitor::walk_body(&mut clears, body);
    clears.0
}
