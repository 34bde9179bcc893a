//! ML002 `class-attribute-mutated`.
//!
//! ## What it does
//! Finds a mutable container assigned in a class body (`items = []`) that a
//! method of the same class grows through `self`, `cls` or the class name
//! (`self.items.append(x)`), when no method gives instances their own
//! attribute of that name (`self.items = []`). Containers the module also
//! empties or resets (`.clear()`, `.pop()`, `del x.items[k]`,
//! `Cls.items = []`), writes to a constant key (`self.limits["MAIL"] = …`),
//! growth in a method that tests membership in, looks up by key in, or
//! checks the size of the container (memo caches keyed by a small domain:
//! `self.cache.get(key)`, `try: self.cache[key] except KeyError`;
//! de-duplicated or bounded lists), registration methods (`register…`,
//! `add…`), growth in methods that run once per class definition
//! (`__init_subclass__`, `__set_name__`, a metaclass's `__init__`/`__new__`:
//! a registry of subclasses grows with the code), and classes defined inside
//! a function (each call makes a new class and container, which die with
//! that call's objects) are not
//! reported. Keyed growth (`self.table[k] = v`, `self.names.add(n)`,
//! `update`) grows with the number of distinct keys — queue, contract or
//! format names that the configuration bounds — and is reported only when
//! keyed by identity (`id(obj)`, `self`) or when it stores the instance
//! itself (`Cls.instances[key] = self`: a table of every instance ever made);
//! appends, extends and inserts are always reported. `NamedTuple` classes are
//! skipped: their class-level values are field defaults.
//!
//! Growth in a constructor or start-up method (`__init__`, `__post_init__`,
//! `start…`, `init…`, `setup…`) of a class made only once per process is
//! not reported either: the cross-module pass over every linted file
//! (`crate::instances`) sees that each place making the class runs once (at
//! import, as module constants such as `RED = Colour("red")`; in `main` or
//! a plug-in's `setup`/`async_setup`; in the constructor of another class
//! made once; under a lazy-initialisation guard), and that the class is
//! never passed on as a value nor subclassed and made elsewhere. A class
//! reached through a local alias only to read its attributes
//! (`kind = Error if strict else Warning; kind.get_by_code(c)`) is not
//! passed on. The container then holds one entry per constant.
//!
//! Test files found while walking directories (`tests/` and `test/`
//! folders, `test_*.py`, `*_test.py`, `conftest.py`) are not linted unless
//! `--include-tests` or `include-tests = true` asks: what a test makes lives
//! for one test, so its growth is not a process-lifetime leak.
//!
//! ## Why is this bad?
//! The class body runs once; the container it creates is stored in the
//! class's `__dict__`. `self.items` finds no instance attribute and falls back
//! to the class, so every instance appends to the *same* list. The class
//! lives as long as its module, so everything any instance ever added stays
//! reachable after the instances are gone.
//!
//! `ClassVar` annotations do not change this at run time; they only silence
//! other linters' declaration-site checks.
//!
//! ## Example
//! ```python
//! class Session:
//!     history = []
//!
//!     def record(self, event):
//!         self.history.append(event)
//! ```
//!
//! ## Use instead
//! Make it an instance attribute:
//! ```python
//! class Session:
//!     def __init__(self):
//!         self.history = []
//! ```

use std::collections::HashMap;

use ruff_python_ast::{Expr, Stmt};

use crate::patterns::{
    container_ops, container_ops_deep, first_parameter, is_constant_key, is_identity_key,
    is_registration_api, span, ContainerKind, OpKind,
};
use crate::rules::Module;
use crate::scope::for_each_function;
use crate::{Rule, Violation};

pub(crate) fn check(module: &Module<'_>) -> Vec<Violation> {
    let mut violations = Vec::new();
    let mut classes = Vec::new();
    // A class statement inside a function makes a new class (and a new
    // container) on every call: it lives as long as that call's objects.
    let mut per_call_classes: Vec<*const ruff_python_ast::StmtClassDef> = Vec::new();
    for_each_function(module.body, &mut |func, _| {
        crate::scope::for_each_shallow_stmt(&func.body, &mut |stmt| {
            if let Stmt::ClassDef(inner) = stmt {
                per_call_classes.push(std::ptr::from_ref(inner));
            }
        });
    });
    for_each_function(module.body, &mut |_, class| {
        // A NamedTuple's class-level values are field defaults: `self.x` is the
        // instance's own field, not a class attribute.
        let is_named_tuple = |c: &ruff_python_ast::StmtClassDef| {
            c.bases()
                .iter()
                .any(|b| crate::patterns::last_segment(b) == Some("NamedTuple"))
        };
        if let Some(class) = class
            .filter(|c| !per_call_classes.contains(&std::ptr::from_ref(*c)) && !is_named_tuple(c))
        {
            if !classes
                .iter()
                .any(|c: &&ruff_python_ast::StmtClassDef| std::ptr::eq(*c, class))
            {
                classes.push(class);
            }
        }
    });
    for class in classes {
        let attributes = class_level_containers(class, module);
        if attributes.is_empty() {
            continue;
        }
        let class_name = class.name.as_str();
        let mut instance_bound: Vec<&str> = Vec::new();
        let mut growth: Vec<(&str, std::ops::Range<usize>, String)> = Vec::new();
        for stmt in &class.body {
            let Stmt::FunctionDef(method) = stmt else {
                continue;
            };
            let receiver = first_parameter(method, &module.imports);
            container_ops(&method.body, &mut |op| {
                let Expr::Attribute(attr) = op.receiver else {
                    return;
                };
                let Expr::Name(owner) = &*attr.value else {
                    return;
                };
                let attribute = attr.attr.as_str();
                let via_receiver = receiver == Some(owner.id.as_str());
                let via_class = owner.id.as_str() == class_name;
                if !(via_receiver || via_class) || !attributes.contains_key(attribute) {
                    return;
                }
                let one_slot = op.key.is_some_and(is_constant_key)
                    || (op.key.is_some() && attributes[attribute] == ContainerKind::List);
                // Keyed growth (items, set members, `update`) grows with the
                // number of distinct keys — queue names, contract names,
                // formats — which the configuration bounds; it is reported
                // only when keyed by object identity or storing the instance
                // itself (a table of every instance ever made).
                let per_object = op.sequence
                    || op
                        .key
                        .is_some_and(|key| is_identity_key(key) || is_receiver(key, receiver))
                    || op.value.is_some_and(|value| is_receiver(value, receiver));
                match op.kind {
                    OpKind::Rebind if via_receiver => instance_bound.push(attribute),
                    OpKind::Grow
                        if !one_slot
                            && per_object
                            && !is_registration_api(method.name.as_str())
                            && !runs_per_class_definition(method.name.as_str(), class)
                            && !checks_attribute(&method.body, attribute) =>
                    {
                        growth.push((attribute, span(&op.range), owner.id.to_string()));
                    }
                    _ => {}
                }
            });
        }
        let emptied = emptied_attributes(module);
        let mut reported: Vec<&str> = Vec::new();
        for (attribute, range, owner) in growth {
            if instance_bound.contains(&attribute)
                || emptied.contains(attribute)
                || reported.contains(&attribute)
            {
                continue;
            }
            reported.push(attribute);
            violations.push(Violation {
                rule: Rule::ClassAttributeMutated,
                message: format!(
                    "class-level {} `{class_name}.{attribute}` is grown through `{owner}`: one container shared by every instance, alive as long as the class",
                    attributes[attribute].label()
                ),
                range,
            });
        }
    }
    violations
}

/// Methods Python runs once per class *definition*: `__init_subclass__`,
/// `__set_name__`, and a metaclass's `__new__`/`__init__` (a class whose
/// bases include `type` or a `…Meta`). What they add grows with the code (one
/// entry per subclass), not with the data.
fn runs_per_class_definition(method: &str, class: &ruff_python_ast::StmtClassDef) -> bool {
    let is_metaclass = || {
        class.bases().iter().any(|base| {
            crate::patterns::last_segment(base).is_some_and(|b| b == "type" || b.ends_with("Meta"))
        })
    };
    matches!(method, "__init_subclass__" | "__set_name__")
        || (matches!(method, "__new__" | "__init__") && is_metaclass())
}

/// `self` (or whatever the method's first parameter is called) as a key or value.
fn is_receiver(expr: &Expr, receiver: Option<&str>) -> bool {
    matches!(expr, Expr::Name(name) if Some(name.id.as_str()) == receiver)
}

fn class_level_containers<'a>(
    class: &'a ruff_python_ast::StmtClassDef,
    module: &Module<'_>,
) -> HashMap<&'a str, ContainerKind> {
    crate::patterns::containers_bound_in(&class.body, &module.imports)
}

/// Attribute names that something in the module shrinks (`x.items.clear()`,
/// `del self.items[k]`) or resets through an object (`Cls.items = []`):
/// such a container is being managed, not only grown.
fn emptied_attributes<'a>(module: &Module<'a>) -> std::collections::HashSet<&'a str> {
    let mut emptied = std::collections::HashSet::new();
    container_ops_deep(module.body, &mut |op| {
        if let Expr::Attribute(attr) = op.receiver {
            if matches!(op.kind, OpKind::Shrink | OpKind::Rebind) {
                emptied.insert(attr.attr.as_str());
            }
        }
    });
    emptied
}

/// Whether a method tests membership in, reads by key from, or checks the
/// size of `x.<attribute>` (`if key not in self.cache:`,
/// `self.cache.get(key)`, `try: self.cache[key]`, `len(cls.items) < N`): a
/// memo cache keyed by a domain, or a bounded or de-duplicated list.
fn checks_attribute(body: &[Stmt], attribute: &str) -> bool {
    use ruff_python_ast::visitor::{self, Visitor};
    struct Checks<'n>(&'n str, bool);
    impl<'a> Visitor<'a> for Checks<'_> {
        fn visit_expr(&mut self, expr: &'a Expr) {
            let names_attribute =
                |e: &Expr| matches!(e, Expr::Attribute(a) if a.attr.as_str() == self.0);
            match expr {
                Expr::Compare(compare)
                    if compare.ops.iter().any(|op| {
                        matches!(
                            op,
                            ruff_python_ast::CmpOp::In | ruff_python_ast::CmpOp::NotIn
                        )
                    }) && compare.comparators.iter().any(names_attribute) =>
                {
                    self.1 = true;
                }
                Expr::Call(call)
                    if matches!(&*call.func, Expr::Name(f) if f.id.as_str() == "len")
                        && call.arguments.args.iter().any(names_attribute) =>
                {
                    self.1 = true;
                }
                Expr::Call(call) if matches!(&*call.func, Expr::Attribute(get) if get.attr.as_str() == "get" && names_attribute(&get.value)) =>
                {
                    self.1 = true;
                }
                Expr::Subscript(sub) if sub.ctx.is_load() && names_attribute(&sub.value) => {
                    self.1 = true;
                }
                _ => {}
            }
            visitor::walk_expr(self, expr);
        }
    }
    let mut checks = Checks(attribute, false);
    visitor::walk_body(&mut checks, body);
    checks.1
}
