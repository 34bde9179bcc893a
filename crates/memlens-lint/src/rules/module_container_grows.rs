//! ML001 `module-container-grows`.
//!
//! ## What it does
//! Finds a module-level container that a function grows on every call while
//! nothing anywhere in the module ever shrinks it (clear, pop, remove,
//! discard, `del x[k]`, slice assignment, rebinding the global), and that is
//! not a bounded `deque(maxlen=…)`. "Grows on every call" means:
//! - a list or deque appended to, extended or inserted into (or `+=`),
//!   without a `len()` check or an `if x not in …` de-duplication of that
//!   container in the same function;
//! - a dict or set keyed by object identity (`table[id(obj)] = obj`,
//!   `seen.add(id(obj))`): one entry per object ever seen.
//!
//! Keyed inserts with other keys grow only with the number of distinct keys
//! (names, types, configured aliases), which in practice is bounded, and are
//! not reported; nor are registration APIs (`register…`, `add…`,
//! `install…`), plug-in set-up hooks (`setup`, `setup_…`, `async_setup_…`:
//! they run once per configured plug-in; `load_…` is not one here, since
//! loading is often per call), fills guarded by
//! an emptiness test of the container (`if not _instances:`: a one-time
//! initialisation), hooks that run once per class definition
//! (`__init_subclass__`, `__set_name__`), decorators (returning their argument or a nested wrapper)
//! and import-time helpers deleted at the top level, which grow with the
//! code, not the data.
//!
//! Growth directly in a constructor or start-up method of a class made
//! only once per process, or in a program entry point, is bounded and not
//! reported: the cross-module pass over every linted file
//! (`crate::instances`) decides it (see ML004).
//!
//! Test files found while walking directories (`tests/` and `test/`
//! folders, `test_*.py`, `*_test.py`, `conftest.py`) are not linted unless
//! `--include-tests` or `include-tests = true` asks: what a test makes lives
//! for one test, so its growth is not a process-lifetime leak.
//!
//! ## Why is this bad?
//! A module object lives until the interpreter exits: `sys.modules` holds
//! it, its `__dict__` holds the container, and the container holds every
//! element ever added. Each call of the growing function adds references the
//! garbage collector can never free, so memory grows with the number of
//! calls — the textbook "cache without eviction" leak.
//!
//! Functions that only run once per decorated definition (a registration
//! decorator that returns its argument) grow the container by the size of
//! the code, not of the data, and are not reported.
//!
//! ## Example
//! ```python
//! _seen = []
//!
//! def handle(request):
//!     _seen.append(request.id)
//! ```
//!
//! ## Use instead
//! Bound it (`collections.deque(maxlen=1000)`, `functools.lru_cache(maxsize=…)`),
//! clear it when the unit of work ends (in a `finally`), or key it weakly
//! (`weakref.WeakValueDictionary`, `weakref.WeakSet`):
//! ```python
//! _seen = collections.deque(maxlen=1000)
//! ```

use std::collections::HashMap;

use ruff_python_ast::{self as ast, Expr, Stmt};

use crate::patterns::{
    checks_size_or_membership, container_constructor, container_ops, is_identity_key,
    is_registration_api, span, ContainerKind, OpKind,
};
use crate::rules::Module;
use crate::scope::{for_each_function, for_each_shallow_stmt, Scope};
use crate::{Rule, Violation};

pub(crate) fn check(module: &Module<'_>) -> Vec<Violation> {
    let containers = module_level_containers(module);
    if containers.is_empty() {
        return Vec::new();
    }
    // name -> first growth (function name, range)
    let mut growth: HashMap<&str, (String, std::ops::Range<usize>)> = HashMap::new();
    let mut shrunk: std::collections::HashSet<&str> = std::collections::HashSet::new();

    // Module-level and class-body code: shrinking there counts (growth at
    // import time is bounded by the code and is not a leak).
    let mut top_level: Vec<&[Stmt]> = vec![module.body];
    collect_class_bodies(module.body, &mut top_level);
    for body in top_level {
        container_ops(body, &mut |op| {
            if let Expr::Name(name) = op.receiver {
                if op.kind == OpKind::Shrink {
                    shrunk.insert(name.id.as_str());
                }
            }
        });
        // `del x` at the top level drops the module's reference.
        for_each_shallow_stmt(body, &mut |stmt| {
            if let Stmt::Delete(delete) = stmt {
                for target in &delete.targets {
                    if let Expr::Name(name) = target {
                        shrunk.insert(name.id.as_str());
                    }
                }
            }
        });
    }

    let import_time_helpers = deleted_at_top_level(module.body);
    for_each_function(module.body, &mut |func, _class| {
        let scope = Scope::of_function(func);
        let bounded_by_code = returns_a_parameter_unchanged(func)
            || is_decorator_returning_wrapper(func)
            || is_registration_api(func.name.as_str())
            || is_plugin_setup(func.name.as_str())
            || runs_per_class_definition(func.name.as_str())
            || import_time_helpers.contains(func.name.as_str());
        container_ops(&func.body, &mut |op| {
            let Expr::Name(name) = op.receiver else {
                return;
            };
            let id = name.id.as_str();
            if !containers.contains_key(id) || scope.is_local(id) {
                return;
            }
            match op.kind {
                OpKind::Shrink => {
                    shrunk.insert(id);
                }
                OpKind::Rebind if scope.globals.contains(id) => {
                    shrunk.insert(id);
                }
                OpKind::Rebind => {}
                OpKind::Grow => {
                    let unbounded = match containers[id] {
                        ContainerKind::List | ContainerKind::Deque => op.sequence,
                        _ => op.key.is_some_and(is_identity_key),
                    };
                    if bounded_by_code || !unbounded {
                        return;
                    }
                    let (size_checked, deduplicated) = checks_size_or_membership(&func.body, id);
                    if size_checked
                        || (op.sequence && deduplicated)
                        || fills_only_when_empty(&func.body, id)
                    {
                        return;
                    }
                    growth
                        .entry(id)
                        .or_insert_with(|| (func.name.to_string(), span(&op.range)));
                }
            }
        });
    });

    let mut violations: Vec<Violation> = growth
        .into_iter()
        .filter(|(name, _)| !shrunk.contains(name))
        .map(|(name, (function, range))| Violation {
            rule: Rule::ModuleContainerGrows,
            message: format!(
                "module-level {} `{name}` grows in `{function}()` and is never shrunk in this module",
                containers[name].label()
            ),
            range,
        })
        .collect();
    violations.sort_by_key(|v| v.range.start);
    violations
}

/// Module-level names bound to an unbounded container (at the top level or
/// inside top-level `if`/`try`/`with` blocks).
fn module_level_containers<'a>(module: &Module<'a>) -> HashMap<&'a str, ContainerKind> {
    let mut containers = HashMap::new();
    let mut other_bindings: Vec<&str> = Vec::new();
    for_each_shallow_stmt(module.body, &mut |stmt| {
        let (targets, value): (Vec<&Expr>, Option<&Expr>) = match stmt {
            Stmt::Assign(assign) => (assign.targets.iter().collect(), Some(&assign.value)),
            Stmt::AnnAssign(ann) => (vec![&ann.target], ann.value.as_deref()),
            _ => return,
        };
        for target in targets {
            if let Expr::Name(name) = target {
                match value.and_then(|v| container_constructor(v, &module.imports)) {
                    Some(kind) => {
                        containers.entry(name.id.as_str()).or_insert(kind);
                    }
                    None => other_bindings.push(name.id.as_str()),
                }
            }
        }
    });
    // A name also bound to something else at module level (`x = None`
    // elsewhere) is not reliably a container.
    containers.retain(|name, _| !other_bindings.contains(name));
    containers
}

fn collect_class_bodies<'a>(body: &'a [Stmt], out: &mut Vec<&'a [Stmt]>) {
    for_each_shallow_stmt(body, &mut |stmt| {
        if let Stmt::ClassDef(class) = stmt {
            out.push(&class.body);
            collect_class_bodies(&class.body, out);
        }
    });
}

/// Names deleted at the top level: helpers used while the module is
/// imported (`def name_op(...)` … `del name_op`), which never run again.
fn deleted_at_top_level(body: &[Stmt]) -> std::collections::HashSet<&str> {
    let mut deleted = std::collections::HashSet::new();
    for_each_shallow_stmt(body, &mut |stmt| {
        if let Stmt::Delete(delete) = stmt {
            for target in &delete.targets {
                if let Expr::Name(name) = target {
                    deleted.insert(name.id.as_str());
                }
            }
        }
    });
    deleted
}

/// A plug-in's set-up hook (`setup(bot)`, Home Assistant's `setup_platform`,
/// `async_setup_entry`): it runs once per configured plug-in.
fn is_plugin_setup(name: &str) -> bool {
    let lower = name.trim_start_matches('_').to_ascii_lowercase();
    let lower = lower.strip_prefix("async_").unwrap_or(&lower);
    lower == "setup" || lower.starts_with("setup_")
}

/// Whether the function tests the container for emptiness (`if not _cache:`)
/// before filling it: a one-time initialisation, not growth per call.
fn fills_only_when_empty(body: &[Stmt], name: &str) -> bool {
    let mut found = false;
    for_each_shallow_stmt(body, &mut |stmt| {
        if let Stmt::If(if_stmt) = stmt {
            if let Expr::UnaryOp(op) = &*if_stmt.test {
                if op.op == ast::UnaryOp::Not
                    && matches!(&*op.operand, Expr::Name(n) if n.id.as_str() == name)
                {
                    found = true;
                }
            }
        }
    });
    found
}

/// Hooks Python calls once per class *definition* (`__init_subclass__`,
/// `__set_name__`): what they add grows with the code, not the data.
fn runs_per_class_definition(name: &str) -> bool {
    matches!(name, "__init_subclass__" | "__set_name__")
}

/// A decorator proper: one parameter (the decorated function) and a nested
/// wrapper returned; it runs once per decorated definition.
fn is_decorator_returning_wrapper(func: &ast::StmtFunctionDef) -> bool {
    let parameters = &func.parameters;
    let single = parameters.posonlyargs.len() + parameters.args.len() == 1
        && parameters.vararg.is_none()
        && parameters.kwonlyargs.is_empty();
    if !single {
        return false;
    }
    let mut nested: Vec<&str> = Vec::new();
    let mut returned: Vec<&str> = Vec::new();
    for_each_shallow_stmt(&func.body, &mut |stmt| match stmt {
        Stmt::FunctionDef(def) => nested.push(def.name.as_str()),
        Stmt::Return(ret) => {
            if let Some(Expr::Name(name)) = ret.value.as_deref() {
                returned.push(name.id.as_str());
            }
        }
        _ => {}
    });
    returned.iter().any(|name| nested.contains(name))
}

/// A registration decorator: `def register(cls): REGISTRY.append(cls); return cls`.
fn returns_a_parameter_unchanged(func: &ast::StmtFunctionDef) -> bool {
    let parameters: Vec<&str> = func.parameters.iter().map(|p| p.name().as_str()).collect();
    let mut returns_parameter = false;
    for_each_shallow_stmt(&func.body, &mut |stmt| {
        if let Stmt::Return(ret) = stmt {
            if let Some(Expr::Name(name)) = ret.value.as_deref() {
                if parameters.contains(&name.id.as_str()) {
                    returns_parameter = true;
                }
            }
        }
    });
    returns_parameter
}
