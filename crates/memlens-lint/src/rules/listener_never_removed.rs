//! ML004 `listener-never-removed`.
//!
//! ## What it does
//! Finds a callback registered inside a function or method — `add_listener`,
//! `add_handler`, `connect`, `subscribe`, `on`, `register`,
//! `add_done_callback`, an application-bus `listen` / `async_listen` /
//! `…_once` (Home Assistant's `self.hass.bus`: only from a method, on a bus
//! reached through an attribute the object was handed, with the returned
//! handle dropped), or an append to a plain (not weak) observer list
//! such as `self._listeners` — when the module contains no matching
//! removal: `remove_listener`, `remove_handler`, `disconnect`,
//! `unsubscribe`, `off`, `unregister`, `remove_done_callback`, or a
//! `remove`/`discard`/`clear` of the observer list.
//! The callback must pin something: a lambda or nested closure, a bound
//! method, a `functools.partial`, or a callback parameter (`callback`,
//! `handler`, …); a module-level function pins nothing and is not reported.
//! A generic `.register(…)` (singledispatch, codecs, tkinter) is reported
//! only with a bound method, and not under a name given before it
//! (`services.register("light", f"{name}_on", self.turn_on)`: a second
//! registration of a name replaces the first, so it grows with the distinct
//! names, which ML001 and ML002 do not report either); `add_done_callback`
//! only on a module-level future (futures drop their callbacks when they
//! complete). Not reported
//! either: registrations into the object's own registry (`self.x.register`,
//! collected with it, and so through a parameter the method keeps on the
//! object: `self._button = button; button.subscribe(self.on_press)` is
//! `self._button.subscribe(…)`), onto an emitter the function itself creates
//! (`button = Button(); button.clicked.connect(self.apply)`: the emitter is
//! owned by whoever keeps it, usually the registering object), in set-up
//! functions named for registering or plug-in set-up (`setup`, `init_…`,
//! Home Assistant's `async_setup_entry`), under an `if` that checks a
//! registered/connected flag, one-shots (`…_once`) under a test of the
//! application's run state or after an `if` on it that returns
//! (`if hass.state is running: …; return` — they fire at start-up and are
//! dropped), registrations whose result is kept
//! (`unsub = bus.subscribe(…)`, `entry.async_on_unload(node.on(…))`, a list
//! of them: APIs that return an unsubscribe handle are undone through it,
//! which no removal call by name shows), onto an emitter
//! opened by a `with` in the same function, Django/blinker/Scrapy (PyDispatcher)
//! `connect` without `weak=False` and mitmproxy's `connect` (those signals
//! hold weak references), and
//! bound methods `connect`ed in modules using matplotlib (its
//! `CallbackRegistry` keeps them weakly). Observer lists count when they are
//! module-level or class-level (shared by every instance); a list each
//! instance binds for itself (`self._listeners = []` in `__init__`) lives
//! exactly as long as its emitter, which one module cannot tell is
//! long-lived.
//! `signal.signal` is not reported: it replaces the previous handler, so it
//! pins at most one object per signal rather than accumulating.
//! `atexit.register` is not reported either: it registers the exit cleanup
//! of an object meant to live until exit, and runs it once. Tests and fixtures (`test_*`,
//! `setUp`, `@fixture`, methods of `Test…`/`…Tests`/`TestCase` classes) are
//! skipped: what they register lives for one test.
//! Registrations at module level run once at import and are not reported;
//! `addHandler` is reported by ML006.
//!
//! A registration directly in a constructor or start-up method (`__init__`,
//! `start…`, `async_start…`, `init…`/`initialize`, `setup…`) of a class made
//! only once per process is not reported: the cross-module pass over every
//! linted file (`crate::instances`) sees that each place making the class
//! runs once — at import, in `main` or a plug-in's `setup`/`async_setup`
//! or a function a `singleton` decorator runs once, in the constructor of
//! another class made once (a singleton's scanner, its feeder), or under a
//! lazy-initialisation guard (`if self._agent is None: self._agent =
//! Agent()`) in a class made once — and that the class is never passed on
//! as a value nor subclassed and made elsewhere. One instance registered
//! once pins nothing that grows. A class made in
//! `async_setup_entry` is not once: a config entry can be reloaded any
//! number of times, which is how entities and coordinators leak.
//!
//! Test files found while walking directories (`tests/` and `test/`
//! folders, `test_*.py`, `*_test.py`, `conftest.py`) are not linted unless
//! `--include-tests` or `include-tests = true` asks: what a test makes lives
//! for one test, so its growth is not a process-lifetime leak.
//!
//! ## Why is this bad?
//! The registry (an event emitter, a signal, a long-lived future) holds a strong reference to the callback. A bound method holds
//! its `__self__`, a closure holds its cells, so the object that registered
//! stays alive as long as the registry — usually forever — and a function
//! that registers on every call adds one more each time. When the callback
//! is a bound method the message names the class whose instances are kept.
//!
//! ## Example
//! ```python
//! class Widget:
//!     def __init__(self, bus):
//!         bus.subscribe("tick", self.on_tick)
//! ```
//!
//! ## Use instead
//! Unregister when the object is done (`close()`, `__exit__`, a `finally`),
//! or register a `weakref.WeakMethod` / keep observers in a `weakref.WeakSet`.

use std::collections::HashSet;

use ruff_python_ast::visitor::{self, Visitor};
use ruff_python_ast::{self as ast, Expr, Stmt};

use crate::patterns::{
    container_ops, container_ops_deep, dotted_name, is_registration_api, last_segment,
    names_identifier, span, OpKind,
};
use crate::rules::Module;
use crate::scope::{
    for_each_block, for_each_function, for_each_shallow_expr, for_each_shallow_stmt, Scope,
};
use crate::{Rule, Violation};

/// Method names that register a callback, with the names that undo them.
pub(crate) const REGISTRATIONS: &[(&str, &[&str])] = &[
    ("add_listener", &["remove_listener", "remove_all_listeners"]),
    ("add_handler", &["remove_handler"]),
    ("connect", &["disconnect"]),
    ("subscribe", &["unsubscribe"]),
    ("on", &["off", "remove_listener", "remove_all_listeners"]),
    ("register", &["unregister"]),
    ("add_done_callback", &["remove_done_callback"]),
    // An application bus (Home Assistant's `hass.bus`): reported only from a
    // method, on a bus reached through an attribute the object was handed
    // (see `HANDED_IN_ONLY`).
    ("listen", &["unlisten", "remove_listener"]),
    ("listen_once", &["unlisten", "remove_listener"]),
    (
        "async_listen",
        &["async_remove_listener", "remove_listener"],
    ),
    (
        "async_listen_once",
        &["async_remove_listener", "remove_listener"],
    ),
];

/// Registrations reported only in a method whose emitter is reached through
/// an attribute of `self` that the class did not make (`self.hass.bus`, set
/// by the framework or from a parameter): on the application corpus these
/// names elsewhere were module-level `event.listen(target, …)` calls
/// (SQLAlchemy attribute events, which live with the mapped class) and
/// start/stop one-shots in set-up functions; registered per entity on the
/// application's bus, they keep every entity ever added alive. A one-shot
/// under a test of the run state (`if hass.state is not running:`) fires
/// at start-up and is dropped, and is not reported.
const HANDED_IN_ONLY: &[&str] = &["listen", "listen_once", "async_listen", "async_listen_once"];

/// The registering method names alone.
pub(crate) const REGISTER_METHODS: &[&str] = &[
    "add_listener",
    "add_handler",
    "connect",
    "subscribe",
    "on",
    "register",
    "add_done_callback",
    "addHandler",
];

/// Attribute names that hold observers when they are plain lists or sets.
const OBSERVER_LISTS: &[&str] = &[
    "listeners",
    "observers",
    "callbacks",
    "handlers",
    "subscribers",
    "hooks",
    "watchers",
];

pub(crate) fn check(module: &Module<'_>) -> Vec<Violation> {
    // Whole-module facts, each computed the first time a candidate needs it:
    // most modules register nothing.
    let called_cell = std::cell::OnceCell::new();
    let called = || called_cell.get_or_init(|| called_names(module.body));
    let defined = defined_functions(module.body);
    let weak_cell = std::cell::OnceCell::new();
    let weak_lists = || weak_cell.get_or_init(|| weak_observer_lists(module));
    let shrunk_cell = std::cell::OnceCell::new();
    let shrunk_lists = || shrunk_cell.get_or_init(|| shrunk_observer_lists(module.body));
    let weak_signals = module_uses_weak_signals(module.body);
    let weak_bound_methods = module_imports(module.body, "matplotlib");
    let mut violations = Vec::new();

    for_each_function(module.body, &mut |func, class| {
        // A test's registrations live for that test (its emitter is local).
        if crate::patterns::is_test_function(func, class) {
            return;
        }
        // Computed on first need: most functions register nothing.
        let scope_cell = std::cell::OnceCell::new();
        let scope = || scope_cell.get_or_init(|| Scope::of_function(func));
        let types_cell = std::cell::OnceCell::new();
        let instance_types = || types_cell.get_or_init(|| local_instance_types(func));
        let class_name = class.map(|c| c.name.as_str());
        let receiver = class.and_then(|_| crate::patterns::first_parameter(func, &module.imports));
        let describe = |callback: &Expr| -> String {
            describe_callback(callback, receiver, class_name, instance_types())
        };
        let made_cell = std::cell::OnceCell::new();
        let made_here = || made_cell.get_or_init(|| locals_bound_to_calls(func));
        let kept_cell = std::cell::OnceCell::new();
        let kept_parameters = || {
            kept_cell.get_or_init(|| match receiver {
                Some(receiver) => parameters_kept_on(func, receiver),
                None => HashSet::new(),
            })
        };
        // Scopes of the function and its closures, on first need.
        let local_cell = std::cell::OnceCell::new();
        let local = || local_cell.get_or_init(|| LocalCallables::of(func));
        let guarded = guarded_ranges(func);
        let discarded_cell = std::cell::OnceCell::new();
        let discarded = || discarded_cell.get_or_init(|| discarded_calls(func));
        let registers_by_name =
            is_registration_api(func.name.as_str()) || is_setup_hook(func.name.as_str());
        let callable = |expr: &Expr| looks_callable(expr, local(), &defined, &module.imports);

        for_each_shallow_expr(&func.body, &mut |expr| {
            let Expr::Call(call) = expr else { return };
            let method = last_segment(&call.func);
            // Resolving through imports allocates; only two names need it.
            let qualified = if method == Some("register") {
                module.imports.resolve(&call.func)
            } else {
                None
            };
            let (label, removals): (String, &[&str]) = match (qualified.as_deref(), method) {
                // Exit cleanups of objects meant to live until exit: see the docs.
                (Some("atexit.register"), _) => return,
                (_, Some(m)) if matches!(&*call.func, Expr::Attribute(_)) => {
                    match REGISTRATIONS.iter().find(|(name, _)| *name == m) {
                        Some((name, removals)) => ((*name).to_string(), removals),
                        None => return,
                    }
                }
                _ => return,
            };
            // A function whose name says it registers (`register_readline`)
            // runs at set-up; an `if` that checks a registered/connected flag
            // makes it run once; an object's own registry (`self.x.register`)
            // dies with it.
            let call_range = ruff_text_size::Ranged::range(call);
            let self_attribute = match &*call.func {
                Expr::Attribute(a) => dotted_name(&a.value).and_then(|d| {
                    d.strip_prefix("self.")
                        .map(|rest| rest.split('.').next().unwrap_or(rest).to_string())
                }),
                _ => None,
            };
            let handed_in_only = HANDED_IN_ONLY.contains(&label.as_str());
            if label.ends_with("_once")
                && run_state_ranges(func)
                    .iter()
                    .any(|r| r.contains_range(call_range))
            {
                return;
            }
            if handed_in_only {
                // Only `self.<handed-in>.…listen(…)` in a method.
                let handed_in = class.is_some_and(|c| {
                    self_attribute
                        .as_deref()
                        .is_some_and(|attr| !attributes_made_by_class(c).contains(attr))
                });
                if !handed_in {
                    return;
                }
            }
            let own_registry = !handed_in_only
                && matches!(&*call.func, Expr::Attribute(a) if dotted_name(&a.value).is_some_and(|d| d == "self" || d.starts_with("self.")));
            // `self._button = button; button.subscribe(self.on_press)`: the
            // object keeps the emitter it was handed, as `self._button`, and
            // registering through that name is its own registry (above).
            let kept_emitter = !handed_in_only
                && matches!(&*call.func, Expr::Attribute(a)
                    if matches!(&*a.value, Expr::Name(n) if kept_parameters().contains(n.id.as_str())));
            // `button = Button(); button.clicked.connect(self.apply)`: the
            // emitter is made here and owned by whoever keeps it (usually the
            // registering object), so it does not outlive the callback's owner.
            let local_emitter = matches!(&*call.func, Expr::Attribute(a)
                if root_name(&a.value).is_some_and(|root| made_here().contains(root)));
            // A registration whose result is kept (`unsub = bus.subscribe(…)`,
            // `entry.async_on_unload(node.on(…))`, a list of them) holds the
            // handle that undoes it: APIs that return one are removed through it.
            let result_kept = !discarded().contains(&call_range);
            if registers_by_name
                || own_registry
                || kept_emitter
                || local_emitter
                || result_kept
                || guarded.iter().any(|g| g.contains_range(call_range))
            {
                return;
            }
            // Callbacks are passed positionally (`connect(cb, sender=…)`);
            // keywords such as `factory=` are configuration, not listeners.
            let callback = call.arguments.args.iter().find(|arg| callable(arg));
            let Some(callback) = callback else { return };
            // Django and blinker signals hold weak references unless `weak=False`.
            // matplotlib's CallbackRegistry keeps bound methods weakly.
            if label == "connect" && weak_bound_methods && matches!(callback, Expr::Attribute(_)) {
                return;
            }
            if label == "connect"
                && weak_signals
                && !call
                    .arguments
                    .find_keyword("weak")
                    .is_some_and(|k| matches!(&k.value, Expr::BooleanLiteral(b) if !b.value))
            {
                return;
            }
            // A generic `register` (singledispatch, codecs, tkinter) pins
            // something only when handed a bound method; a future drops its
            // callbacks when it completes, so only a module-level one keeps them.
            if label == "register" && !matches!(callback, Expr::Attribute(_)) {
                return;
            }
            // `services.register(DOMAIN, f"{name}_create", entity.create)`:
            // registered under a name, which a second registration replaces;
            // it grows with the distinct names, as keyed inserts do (ML001).
            if label == "register" {
                let named = call
                    .arguments
                    .args
                    .iter()
                    .take_while(|arg| !std::ptr::eq(*arg, callback))
                    .any(|arg| matches!(arg, Expr::StringLiteral(_) | Expr::FString(_)));
                if named {
                    return;
                }
            }
            if label == "add_done_callback" {
                let global_future = matches!(&*call.func, Expr::Attribute(a) if matches!(&*a.value, Expr::Name(n) if !scope().is_local(n.id.as_str())));
                if !global_future {
                    return;
                }
            }
            if removals.iter().any(|r| called().contains(*r)) {
                return;
            }
            violations.push(Violation {
                rule: Rule::ListenerNeverRemoved,
                message: format!(
                    "`{label}` registers {}; nothing in this module removes it (no {})",
                    describe(callback),
                    removals.join("/")
                ),
                range: span(call),
            });
        });

        // Observer lists: self._listeners.append(callback)
        container_ops(&func.body, &mut |op| {
            if op.kind != OpKind::Grow {
                return;
            }
            let Some(list) = last_segment(op.receiver) else {
                return;
            };
            let plain = list.trim_start_matches('_');
            if !OBSERVER_LISTS.contains(&plain)
                || weak_lists().contains(list)
                || shrunk_lists().contains(list)
            {
                return;
            }
            if matches!(op.receiver, Expr::Name(name) if scope().is_local(name.id.as_str())) {
                return;
            }
            // `self._listeners` bound per instance is the emitter's own list:
            // it lives exactly as long as the emitter, which this module
            // cannot tell is long-lived. A module-level list, or one in the
            // class body (shared by every instance), lives for the process.
            let on_instance = matches!(op.receiver, Expr::Attribute(attr)
                if matches!(&*attr.value, Expr::Name(owner) if Some(owner.id.as_str()) == receiver));
            if on_instance && !class.is_some_and(|c| class_level_names(c).contains(list)) {
                return;
            }
            // `handlers[key] = h` replaces per key; only appends accumulate.
            let keyed = op
                .key
                .is_some_and(|k| !op.value.is_some_and(|v| std::ptr::eq(k, v)));
            if keyed {
                return;
            }
            let Some(callback) = op.value.filter(|v| callable(v)) else {
                return;
            };
            violations.push(Violation {
                rule: Rule::ListenerNeverRemoved,
                message: format!(
                    "observer list `{}` gets {}; nothing in this module removes entries from it",
                    dotted_name(op.receiver).unwrap_or_else(|| list.to_string()),
                    describe(callback)
                ),
                range: span(&op.range),
            });
        });
    });
    violations.sort_by_key(|v| v.range.start);
    violations
}

/// Every name called or referenced as an attribute anywhere (`x.off(...)`, `x.off`).
fn called_names(body: &[Stmt]) -> HashSet<&str> {
    struct Names<'a>(HashSet<&'a str>);
    impl<'a> Visitor<'a> for Names<'a> {
        fn visit_expr(&mut self, expr: &'a Expr) {
            match expr {
                Expr::Attribute(attr) => {
                    self.0.insert(attr.attr.as_str());
                }
                Expr::Name(name) => {
                    self.0.insert(name.id.as_str());
                }
                _ => {}
            }
            visitor::walk_expr(self, expr);
        }
    }
    let mut names = Names(HashSet::new());
    visitor::walk_body(&mut names, body);
    names.0
}

fn defined_functions(body: &[Stmt]) -> HashSet<&str> {
    let mut defined = HashSet::new();
    for_each_function(body, &mut |func, _| {
        // `obj.address` where `address` is a property is a value, not a bound method.
        let is_property = func.decorator_list.iter().any(|d| {
            last_segment(&d.expression).is_some_and(|name| {
                matches!(name, "property" | "cached_property" | "setter" | "getter")
            })
        });
        if !is_property {
            defined.insert(func.name.as_str());
        }
    });
    defined
}

/// Observer-list attribute names ever bound to a `Weak…` container.
fn weak_observer_lists<'a>(module: &Module<'a>) -> HashSet<&'a str> {
    let mut weak = HashSet::new();
    container_ops_deep(module.body, &mut |op| {
        if op.kind == OpKind::Rebind {
            if let (Some(name), Some(Expr::Call(call))) = (last_segment(op.receiver), op.value) {
                if module
                    .imports
                    .resolve(&call.func)
                    .is_some_and(|f| f.contains("Weak"))
                {
                    weak.insert(name);
                }
            }
        }
    });
    weak
}

/// Observer-list names that something in the module shrinks, or rebinds
/// outside `__init__` (`callbacks, self._callbacks = self._callbacks, []`
/// empties the list after notifying).
fn shrunk_observer_lists(body: &[Stmt]) -> HashSet<&str> {
    let mut shrunk = HashSet::new();
    container_ops_deep(body, &mut |op| {
        if op.kind == OpKind::Shrink {
            if let Some(name) = last_segment(op.receiver) {
                shrunk.insert(name);
            }
        }
    });
    for_each_function(body, &mut |func, _| {
        if func.name.as_str() == "__init__" {
            return;
        }
        container_ops(&func.body, &mut |op| {
            if op.kind == OpKind::Rebind && matches!(op.receiver, Expr::Attribute(_)) {
                if let Some(name) = last_segment(op.receiver) {
                    shrunk.insert(name);
                }
            }
        });
    });
    shrunk
}

/// Attributes of `self` that the class binds to something it makes (a call,
/// a container literal: `self._bus = EventBus()`); an emitter reached through
/// one of them dies with the object.
fn attributes_made_by_class(class: &ast::StmtClassDef) -> HashSet<&str> {
    let mut made = HashSet::new();
    for_each_function(&class.body, &mut |func, _| {
        for_each_shallow_stmt(&func.body, &mut |stmt| {
            let (targets, value): (Vec<&Expr>, Option<&Expr>) = match stmt {
                Stmt::Assign(assign) => (assign.targets.iter().collect(), Some(&assign.value)),
                Stmt::AnnAssign(ann) => (vec![&ann.target], ann.value.as_deref()),
                _ => return,
            };
            if !matches!(
                value,
                Some(Expr::Call(_) | Expr::List(_) | Expr::Dict(_) | Expr::Set(_))
            ) {
                return;
            }
            for target in targets {
                if let Expr::Attribute(attr) = target {
                    made.insert(attr.attr.as_str());
                }
            }
        });
    });
    made
}

/// The name at the root of an attribute chain (`a` in `a.b.c`).
fn root_name(expr: &Expr) -> Option<&str> {
    match expr {
        Expr::Name(name) => Some(name.id.as_str()),
        Expr::Attribute(attr) => root_name(&attr.value),
        _ => None,
    }
}

/// Parameters the method stores on its instance (`self._button = button`).
fn parameters_kept_on<'a>(func: &'a ast::StmtFunctionDef, receiver: &str) -> HashSet<&'a str> {
    let parameters: HashSet<&str> = func.parameters.iter().map(|p| p.name().as_str()).collect();
    let mut kept = HashSet::new();
    for_each_shallow_stmt(&func.body, &mut |stmt| {
        let Stmt::Assign(assign) = stmt else { return };
        let Expr::Name(value) = &*assign.value else {
            return;
        };
        let on_instance = assign.targets.iter().any(|t| {
            matches!(t, Expr::Attribute(a) if matches!(&*a.value, Expr::Name(n) if n.id.as_str() == receiver))
        });
        if on_instance && parameters.contains(value.id.as_str()) && value.id.as_str() != receiver {
            kept.insert(value.id.as_str());
        }
    });
    kept
}

/// Names the function binds to the result of a call (`click = Gtk.GestureClick()`,
/// `with Listener() as client:`).
fn locals_bound_to_calls(func: &ast::StmtFunctionDef) -> HashSet<&str> {
    let mut names = HashSet::new();
    for_each_shallow_stmt(&func.body, &mut |stmt| {
        if let Stmt::With(with) = stmt {
            for item in &with.items {
                if let (Expr::Call(_), Some(Expr::Name(name))) =
                    (&item.context_expr, item.optional_vars.as_deref())
                {
                    names.insert(name.id.as_str());
                }
            }
        }
        if let Stmt::Assign(assign) = stmt {
            if matches!(&*assign.value, Expr::Call(_)) {
                for target in &assign.targets {
                    if let Expr::Name(name) = target {
                        names.insert(name.id.as_str());
                    }
                }
            }
        }
    });
    names
}

/// Local names bound to `SomeClass(...)` in the function, for naming the
/// type a bound-method callback keeps alive.
fn local_instance_types(func: &ast::StmtFunctionDef) -> Vec<(&str, String)> {
    let mut types = Vec::new();
    for_each_shallow_stmt(&func.body, &mut |stmt| {
        if let Stmt::Assign(assign) = stmt {
            if let (Some(Expr::Name(target)), Expr::Call(call)) =
                (assign.targets.first(), &*assign.value)
            {
                if let Some(callee) = last_segment(&call.func) {
                    if callee.chars().next().is_some_and(char::is_uppercase) {
                        types.push((target.id.as_str(), callee.to_string()));
                    }
                }
            }
        }
    });
    types
}

/// Parameter names that conventionally hold a callback.
fn is_callback_parameter(name: &str) -> bool {
    let name = name.trim_start_matches('_').to_ascii_lowercase();
    [
        "callback",
        "cb",
        "func",
        "fn",
        "function",
        "handler",
        "listener",
        "observer",
        "subscriber",
        "hook",
        "receiver",
        "slot",
        "target",
        "callable",
    ]
    .iter()
    .any(|word| name == *word || name.ends_with(&format!("_{word}")))
}

/// What can be registered and pin something: a lambda or closure (its
/// captures), a `functools.partial`, a bound method (its instance), or a
/// callback handed in by the caller. A module-level function pins nothing.
fn looks_callable(
    expr: &Expr,
    local: &LocalCallables<'_>,
    methods: &HashSet<&str>,
    imports: &crate::patterns::Imports,
) -> bool {
    match expr {
        Expr::Lambda(lambda) => local.captures(lambda),
        Expr::Call(call) => imports
            .resolve(&call.func)
            .is_some_and(|f| f == "functools.partial"),
        Expr::Name(name) => {
            let id = name.id.as_str();
            local.nested.contains(id)
                || (local.parameters.contains(id) && is_callback_parameter(id))
        }
        Expr::Attribute(attr) => {
            let method = attr.attr.as_str();
            let is_method_name = method.starts_with("on_")
                || method.starts_with("_on_")
                || method.starts_with("handle")
                || method.starts_with("_handle")
                || methods.contains(method);
            matches!(&*attr.value, Expr::Name(_)) && is_method_name
        }
        _ => false,
    }
}

/// Closures defined in, and parameters of, the registering function.
struct LocalCallables<'a> {
    nested: HashSet<&'a str>,
    parameters: HashSet<&'a str>,
    scope: Scope<'a>,
}

impl<'a> LocalCallables<'a> {
    /// Only closures that capture something of the function count: one that
    /// uses nothing but its own arguments and globals pins nothing.
    fn of(func: &'a ast::StmtFunctionDef) -> Self {
        let outer = Scope::of_function(func);
        let mut nested = HashSet::new();
        for_each_shallow_stmt(&func.body, &mut |stmt| {
            if let Stmt::FunctionDef(def) = stmt {
                let own = Scope::of_function(def);
                if uses_any(&def.body, &|name| {
                    outer.is_local(name) && !own.is_local(name)
                }) {
                    nested.insert(def.name.as_str());
                }
            }
        });
        let parameters = func.parameters.iter().map(|p| p.name().as_str()).collect();
        Self {
            nested,
            parameters,
            scope: outer,
        }
    }

    /// Whether a lambda uses a name of the function (it then pins it).
    fn captures(&self, lambda: &ast::ExprLambda) -> bool {
        let own = Scope::of_lambda(lambda);
        reads_local(&lambda.body, &self.scope, &own)
    }
}

/// Whether `expr` reads a name local to the function but not to the lambda
/// itself (`lambda: dialog.update()` captures `dialog`).
fn reads_local(expr: &Expr, outer: &Scope<'_>, own: &Scope<'_>) -> bool {
    struct Finds<'s, 'a>(&'s Scope<'a>, &'s Scope<'a>, bool);
    impl<'v> Visitor<'v> for Finds<'_, '_> {
        fn visit_expr(&mut self, expr: &'v Expr) {
            if let Expr::Name(name) = expr {
                let id = name.id.as_str();
                if self.0.is_local(id) && !self.1.is_local(id) {
                    self.2 = true;
                }
            }
            visitor::walk_expr(self, expr);
        }
    }
    let mut finds = Finds(outer, own, false);
    finds.visit_expr(expr);
    finds.2
}

/// Names bound directly in a class body (class attributes).
fn class_level_names(class: &ast::StmtClassDef) -> HashSet<&str> {
    crate::patterns::containers_bound_in(&class.body, &crate::patterns::Imports::default())
        .into_keys()
        .collect()
}

/// Whether `body` (nested scopes included) reads a name `wanted` accepts.
fn uses_any(body: &[Stmt], wanted: &dyn Fn(&str) -> bool) -> bool {
    struct Uses<'w>(&'w dyn Fn(&str) -> bool, bool);
    impl<'a> Visitor<'a> for Uses<'_> {
        fn visit_expr(&mut self, expr: &'a Expr) {
            if let Expr::Name(name) = expr {
                if (self.0)(name.id.as_str()) {
                    self.1 = true;
                }
            }
            visitor::walk_expr(self, expr);
        }
    }
    let mut uses = Uses(wanted, false);
    visitor::walk_body(&mut uses, body);
    uses.1
}

/// A function that runs once when a plug-in is loaded (`setup(app)` for
/// Sphinx, `load_ipython_extension(ip)`, `setup_…`, `init_…`, and their
/// `async_` forms such as Home Assistant's `async_setup_entry`): what it
/// registers grows with the plug-ins, not with the data.
fn is_setup_hook(name: &str) -> bool {
    if name.starts_with("__") && name.ends_with("__") {
        return false;
    }
    let lower = name.trim_start_matches('_').to_ascii_lowercase();
    // Home Assistant's `async_setup_entry` / `async_setup_platform`.
    let lower = lower.strip_prefix("async_").unwrap_or(&lower);
    lower == "setup"
        || ["setup_", "load_", "init_"]
            .iter()
            .any(|prefix| lower.starts_with(prefix))
        || lower.ends_with("_extension")
}

/// Ranges of the calls whose result the function throws away: the whole
/// value of an expression statement (`bus.subscribe(cb)`, `await x.on(…)`,
/// `yield x.connect(…)`).
fn discarded_calls(func: &ast::StmtFunctionDef) -> HashSet<ruff_text_size::TextRange> {
    let mut calls = HashSet::new();
    for_each_shallow_stmt(&func.body, &mut |stmt| {
        let Stmt::Expr(expr) = stmt else { return };
        let mut value = &*expr.value;
        loop {
            match value {
                Expr::Await(inner) => value = &inner.value,
                Expr::Yield(ast::ExprYield {
                    value: Some(inner), ..
                }) => value = inner,
                _ => break,
            }
        }
        if let Expr::Call(call) = value {
            calls.insert(ruff_text_size::Ranged::range(call));
        }
    });
    calls
}

/// Ranges of `if` statements whose test checks the application's run state
/// (`if self.hass.state is not CoreState.running:`, `… else:` included): a
/// one-shot start-up listener registered there fires, and is dropped, soon.
/// After such an `if` whose body always leaves the function
/// (`if hass.state is running: …; return`), the rest of the block runs only
/// in that state too, and is included.
fn run_state_ranges(func: &ast::StmtFunctionDef) -> Vec<ruff_text_size::TextRange> {
    let names_state = |test: &Expr| {
        let mut found = false;
        for_each_name(test, &mut |id| {
            let id = id.to_ascii_lowercase();
            if id == "state" || id.contains("running") || id.contains("started") {
                found = true;
            }
        });
        found
    };
    let mut ranges = Vec::new();
    for_each_block(&func.body, &mut |block| {
        for (i, stmt) in block.iter().enumerate() {
            let Stmt::If(if_stmt) = stmt else { continue };
            if !names_state(&if_stmt.test) {
                continue;
            }
            ranges.push(if_stmt.range);
            let leaves = matches!(if_stmt.body.last(), Some(Stmt::Return(_) | Stmt::Raise(_)));
            if leaves && if_stmt.elif_else_clauses.is_empty() {
                if let (Some(first), Some(last)) = (block.get(i + 1), block.last()) {
                    ranges.push(ruff_text_size::TextRange::new(
                        ruff_text_size::Ranged::start(first),
                        ruff_text_size::Ranged::end(last),
                    ));
                }
            }
        }
    });
    ranges
}

/// Every name and attribute name in `expr`.
fn for_each_name(expr: &Expr, f: &mut dyn FnMut(&str)) {
    struct Names<'f>(&'f mut dyn FnMut(&str));
    impl<'a> Visitor<'a> for Names<'_> {
        fn visit_expr(&mut self, expr: &'a Expr) {
            match expr {
                Expr::Attribute(a) => (self.0)(a.attr.as_str()),
                Expr::Name(n) => (self.0)(n.id.as_str()),
                _ => {}
            }
            visitor::walk_expr(self, expr);
        }
    }
    Names(f).visit_expr(expr);
}

/// Ranges of `if` statements whose test checks a registration flag
/// (`if not self._registered:`, `if not connected:`), inside which a
/// registration runs once.
fn guarded_ranges(func: &ast::StmtFunctionDef) -> Vec<ruff_text_size::TextRange> {
    let mut ranges = Vec::new();
    for_each_shallow_stmt(&func.body, &mut |stmt| {
        if let Stmt::If(if_stmt) = stmt {
            if names_flag(&if_stmt.test) {
                ranges.push(if_stmt.range);
            }
        }
    });
    ranges
}

fn names_flag(test: &Expr) -> bool {
    names_identifier(test, &|id| {
        [
            "regist",
            "connected",
            "subscribed",
            "listening",
            "installed",
        ]
        .iter()
        .any(|w| id.contains(w))
    })
}

/// Whether the module imports `package` or one of its modules.
fn module_imports(body: &[Stmt], package: &str) -> bool {
    let mut found = false;
    let dotted = format!("{package}.");
    for_each_shallow_stmt(body, &mut |stmt| {
        let names: Vec<&str> = match stmt {
            Stmt::ImportFrom(import) => import.module.iter().map(|m| m.as_str()).collect(),
            Stmt::Import(import) => import.names.iter().map(|a| a.name.as_str()).collect(),
            _ => Vec::new(),
        };
        if names
            .iter()
            .any(|m| *m == package || m.starts_with(&dotted))
        {
            found = true;
        }
    });
    found
}

/// Whether the module uses Django's, blinker's, Scrapy's (PyDispatcher) or
/// mitmproxy's signals, whose `connect` keeps only a weak reference to the
/// receiver by default (mitmproxy's always).
fn module_uses_weak_signals(body: &[Stmt]) -> bool {
    let mut weak = false;
    for_each_shallow_stmt(body, &mut |stmt| {
        let module = match stmt {
            Stmt::ImportFrom(import) => import.module.as_ref().map(|m| m.as_str()),
            Stmt::Import(import) => import.names.first().map(|a| a.name.as_str()),
            _ => None,
        };
        if module.is_some_and(|m| {
            ["django", "blinker", "scrapy", "pydispatch", "mitmproxy"]
                .iter()
                .any(|weak| m == *weak || m.starts_with(&format!("{weak}.")))
        }) {
            weak = true;
        }
    });
    weak
}

fn describe_callback(
    callback: &Expr,
    receiver: Option<&str>,
    class_name: Option<&str>,
    locals: &[(&str, String)],
) -> String {
    match callback {
        Expr::Lambda(_) => "a lambda (and everything it captures)".to_string(),
        Expr::Attribute(attr) => {
            let Expr::Name(owner) = &*attr.value else {
                return "a callback".into();
            };
            let text = format!("{}.{}", owner.id.as_str(), attr.attr.as_str());
            if receiver == Some(owner.id.as_str()) {
                if let Some(class_name) = class_name {
                    return format!(
                        "bound method `{text}`, keeping every `{class_name}` instance alive"
                    );
                }
            }
            match locals.iter().find(|(name, _)| *name == owner.id.as_str()) {
                Some((_, type_name)) => {
                    format!("bound method `{text}`, keeping the `{type_name}` instance alive")
                }
                None => format!("bound method `{text}`"),
            }
        }
        Expr::Call(_) => "a functools.partial (and its bound arguments)".to_string(),
        Expr::Name(name) => format!("`{}`", name.id.as_str()),
        _ => "a callback".to_string(),
    }
}
