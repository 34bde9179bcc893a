//! ML006 `logger-per-call`.
//!
//! ## What it does
//! Finds, inside a function or method, `logging.getLogger(name)` where the
//! name is built at run time from data (an f-string, `+`, `%` or `.format()`
//! over something other than `__name__`-like constants), and
//! `logger.addHandler(handler)` in a function body when the module never
//! calls `removeHandler` and the call is not guarded by a check of the
//! logger's existing handlers or configuration (an `if` whose test names
//! handlers, such as `if not logger.handlers:` or
//! `if not has_level_handler(logger):`, around the add or returning early
//! before it, as in `if self._is_configured(logger): return`). The receiver
//! must look like a logger (`getLogger()`, or a name saying log/logger/root:
//! other classes have `addHandler` methods too) and not be built in the same
//! function with `logging.Logger(…)`, which bypasses the manager's table.
//! A run-time name is reported only when it is built from an identity that
//! takes a new value per process, thread, request or object (`pid`, a thread
//! `ident`, a `uuid`, `…_id`, `id(…)`, a time, a counter): names built from
//! configuration keys (a plug-in, script, camera or file name) are bounded
//! by the configuration.
//! An `addHandler` after the function resets the logger's handlers
//! (`logger.handlers = []`), under a test of a registered flag
//! (`if not already_registered:`), or in `main()` or a function named for
//! logging set-up (`…_logging`, `…_logs`, also with an `async_` prefix) is
//! not reported.
//! Not reported either: cached functions (`@functools.cache`, which run
//! once per argument set), logger factories (`def get_logger(name)`,
//! forwarding the caller's name), functions named for configuring (`setup_…`,
//! `configure…`, `enable_…`, `install_…`), which run at start-up like
//! `logging.basicConfig`, and helpers that add to a logger their caller
//! passes in (`def add_default_handler(logger)`), where the caller decides
//! whether the add repeats.
//!
//! A logger or handler added directly in a constructor or start-up method
//! of a class made only once per process is added once and not reported:
//! the cross-module pass over every linted file (`crate::instances`)
//! decides it (see ML004).
//!
//! Test files found while walking directories (`tests/` and `test/`
//! folders, `test_*.py`, `*_test.py`, `conftest.py`) are not linted unless
//! `--include-tests` or `include-tests = true` asks: what a test makes lives
//! for one test, so its growth is not a process-lifetime leak.
//!
//! ## Why is this bad?
//! `logging` keeps every logger it ever created in
//! `logging.Logger.manager.loggerDict` and never frees one: a name per
//! request, user or instance adds a logger per request, user or instance.
//! A handler added per call or per instance stays on the (immortal) logger,
//! keeps its stream or file open and its formatter alive, and every record is
//! emitted once per accumulated handler.
//!
//! ## Example
//! ```python
//! class Job:
//!     def __init__(self, job_id):
//!         self.log = logging.getLogger(f"jobs.{job_id}")
//!         self.log.addHandler(logging.StreamHandler())
//! ```
//!
//! ## Use instead
//! One module-level `logging.getLogger(__name__)`; put per-call context in a
//! `LoggerAdapter` or `extra=`; configure handlers once at start-up.

use ruff_python_ast::visitor::{self, Visitor};
use ruff_python_ast::{self as ast, Expr, Operator, Stmt};

use crate::patterns::{dotted_name, names_identifier, span, Imports};
use crate::rules::Module;
use crate::scope::for_each_function;
use crate::{Rule, Violation};

pub(crate) fn check(module: &Module<'_>) -> Vec<Violation> {
    let removes_handlers = mentions_attribute(module.body, "removeHandler");
    let mut violations = Vec::new();
    for_each_function(module.body, &mut |func, _| {
        // A cached function (`@functools.cache`) runs once per argument set,
        // and a logger factory (`def get_logger(name)`) forwards its
        // caller's name: neither creates loggers or handlers per call.
        let cached = func.decorator_list.iter().any(|d| {
            let callee = match &d.expression {
                Expr::Call(call) => &*call.func,
                other => other,
            };
            crate::patterns::last_segment(callee)
                .is_some_and(|n| matches!(n, "cache" | "lru_cache"))
        });
        let logger_factory = func.name.to_ascii_lowercase().contains("logger");
        if cached || logger_factory {
            return;
        }
        // `if self._is_configured(logger): return` before the add makes it run once.
        let returns_early = func.body.iter().any(|stmt| {
            matches!(stmt, Stmt::If(if_stmt)
                if checks_handlers(&if_stmt.test)
                    && matches!(if_stmt.body.last(), Some(Stmt::Return(_))))
        });
        let mut finder = Finder {
            imports: &module.imports,
            removes_handlers,
            guarded: usize::from(returns_early),
            function: func,
            out: &mut violations,
        };
        for stmt in &func.body {
            finder.visit_stmt(stmt);
        }
    });
    violations.sort_by_key(|v| v.range.start);
    violations
}

struct Finder<'m, 'a> {
    imports: &'m Imports,
    removes_handlers: bool,
    guarded: usize,
    function: &'a ast::StmtFunctionDef,
    out: &'m mut Vec<Violation>,
}

impl<'a> Visitor<'a> for Finder<'_, 'a> {
    fn visit_stmt(&mut self, stmt: &'a Stmt) {
        match stmt {
            Stmt::FunctionDef(_) | Stmt::ClassDef(_) => {}
            Stmt::If(if_stmt) if checks_handlers(&if_stmt.test) => {
                self.guarded += 1;
                visitor::walk_stmt(self, stmt);
                self.guarded -= 1;
            }
            _ => visitor::walk_stmt(self, stmt),
        }
    }

    fn visit_expr(&mut self, expr: &'a Expr) {
        if let Expr::Call(call) = expr {
            let is_get_logger = crate::patterns::last_segment(&call.func) == Some("getLogger")
                && self.imports.resolve(&call.func).as_deref() == Some("logging.getLogger");
            if is_get_logger {
                if let Some(name) = call.arguments.find_argument_value("name", 0) {
                    if is_data_dependent_name(name) && names_an_identity(name) {
                        self.out.push(Violation {
                            rule: Rule::LoggerPerCall,
                            message: format!(
                                "`logging.getLogger()` with a name built at run time in `{}()`: every distinct name creates a logger that is never freed",
                                self.function.name.as_str()
                            ),
                            range: span(call),
                        });
                    }
                }
            } else if let Expr::Attribute(attr) = &*call.func {
                if attr.attr.as_str() == "addHandler"
                    && !self.removes_handlers
                    && self.guarded == 0
                    && !is_configuration_entry_point(self.function.name.as_str())
                    && !resets_handlers(self.function)
                    && !is_callers_logger(&attr.value, self.function)
                    && is_managed_logger(&attr.value, self.function, self.imports)
                {
                    let where_ = if self.function.name.as_str() == "__init__" {
                        "per instance"
                    } else {
                        "per call"
                    };
                    self.out.push(Violation {
                        rule: Rule::LoggerPerCall,
                        message: format!(
                            "`{}.addHandler()` runs {where_} in `{}()` and no handler is ever removed: handlers accumulate on a logger that is never freed",
                            dotted_name(&attr.value).unwrap_or_else(|| "logger".into()),
                            self.function.name.as_str()
                        ),
                        range: span(call),
                    });
                }
            }
        }
        if !matches!(expr, Expr::Lambda(_)) {
            visitor::walk_expr(self, expr);
        }
    }
}

/// A function named for configuring (`setup_logging`, `configure_…`,
/// `enable_pretty_logging`, `install_…`): it runs at start-up, like
/// `logging.basicConfig`. (`setUp`, run per test, is not one of them.)
fn is_configuration_entry_point(name: &str) -> bool {
    let lower = name.trim_start_matches('_').to_ascii_lowercase();
    let lower = lower.strip_prefix("async_").unwrap_or(&lower);
    ["setup_", "configure", "enable_", "install_"]
        .iter()
        .any(|prefix| lower.starts_with(prefix))
        || lower == "main"
        || lower.ends_with("_logging")
        || lower.ends_with("_logs")
}

/// Whether a logger name is built from an identity that takes a new value
/// per process, thread, request or object (`pid`, `ident`, `uuid`, `…_id`,
/// `id(…)`, a time or a counter), as opposed to a configuration key (a
/// plug-in, script or camera name) whose values the configuration bounds.
fn names_an_identity(expr: &Expr) -> bool {
    names_identifier(expr, &|id| {
        id == "id"
            || id.ends_with("_id")
            || [
                "pid", "ident", "uuid", "time", "count", "thread", "request", "session",
            ]
            .iter()
            .any(|word| id.contains(word))
    })
}

/// Whether the function resets a logger's handlers (`logger.handlers = []`):
/// what it then adds replaces the old set instead of accumulating.
fn resets_handlers(function: &ast::StmtFunctionDef) -> bool {
    let mut resets = false;
    crate::scope::for_each_shallow_stmt(&function.body, &mut |stmt| {
        if let Stmt::Assign(assign) = stmt {
            if assign
                .targets
                .iter()
                .any(|t| matches!(t, Expr::Attribute(a) if a.attr.as_str() == "handlers"))
            {
                resets = true;
            }
        }
    });
    resets
}

/// `def add_default_handler(logger): logger.addHandler(…)`: the logger is
/// the caller's (a parameter never rebound here), and whether the add
/// repeats is the caller's decision (often `if not logger.handlers:`), which
/// one function cannot see.
fn is_callers_logger(receiver: &Expr, function: &ast::StmtFunctionDef) -> bool {
    let Expr::Name(name) = receiver else {
        return false;
    };
    let id = name.id.as_str();
    let is_parameter = function.parameters.iter().any(|p| p.name().as_str() == id);
    let mut rebound = false;
    crate::scope::for_each_shallow_stmt(&function.body, &mut |stmt| {
        if let Stmt::Assign(assign) = stmt {
            if assign
                .targets
                .iter()
                .any(|t| matches!(t, Expr::Name(n) if n.id.as_str() == id))
            {
                rebound = true;
            }
        }
    });
    is_parameter && !rebound
}

/// Whether `receiver` looks like a logger that `logging` keeps forever: a
/// `getLogger()` call, or a name whose last part says log/logger/root (other
/// objects have `addHandler` methods too: XMPP stream managers, routers), and
/// not one the function builds with `logging.Logger(…)` directly (such a
/// logger is not in the manager's table and dies with its owner).
fn is_managed_logger(receiver: &Expr, function: &ast::StmtFunctionDef, imports: &Imports) -> bool {
    if let Expr::Call(call) = receiver {
        return crate::patterns::last_segment(&call.func) == Some("getLogger");
    }
    let Some(name) = crate::patterns::last_segment(receiver) else {
        return false;
    };
    let lower = name.to_ascii_lowercase();
    if !(lower.contains("log") || lower.contains("root")) {
        return false;
    }
    let target = dotted_name(receiver);
    let mut constructed = false;
    crate::scope::for_each_shallow_stmt(&function.body, &mut |stmt| {
        if let Stmt::Assign(assign) = stmt {
            if let Expr::Call(call) = &*assign.value {
                let direct = imports
                    .resolve(&call.func)
                    .is_some_and(|f| f == "logging.Logger" || f == "logging.RootLogger");
                if direct && assign.targets.iter().any(|t| dotted_name(t) == target) {
                    constructed = true;
                }
            }
        }
    });
    !constructed
}

/// `if not logger.handlers:`, `if not log.hasHandlers():`, `if not has_level_handler(log):`,
/// `if self._is_configured(logger):`: any test naming handlers or
/// configuration guards the add.
fn checks_handlers(test: &Expr) -> bool {
    names_identifier(test, &|id| {
        id.contains("handler") || id.contains("configured") || id.contains("regist")
    })
}

fn mentions_attribute(body: &[Stmt], wanted: &str) -> bool {
    struct Finds<'w>(&'w str, bool);
    impl<'a> Visitor<'a> for Finds<'_> {
        fn visit_expr(&mut self, expr: &'a Expr) {
            if let Expr::Attribute(attr) = expr {
                if attr.attr.as_str() == self.0 {
                    self.1 = true;
                }
            }
            visitor::walk_expr(self, expr);
        }
    }
    let mut finds = Finds(wanted, false);
    visitor::walk_body(&mut finds, body);
    finds.1
}

/// A name composed at run time from something other than module or class
/// names (which are bounded by the code).
fn is_data_dependent_name(expr: &Expr) -> bool {
    match expr {
        Expr::FString(_) | Expr::BinOp(_) => !is_code_bounded(expr),
        Expr::Call(call) => match &*call.func {
            Expr::Attribute(attr) if matches!(attr.attr.as_str(), "format" | "join") => {
                call.arguments.args.iter().any(|a| !is_code_bounded(a))
                    || call
                        .arguments
                        .keywords
                        .iter()
                        .any(|k| !is_code_bounded(&k.value))
            }
            _ => false,
        },
        _ => false,
    }
}

/// Constants, `__name__`, `cls.__qualname__`, `type(self).__name__`,
/// `self.__class__.__module__`, and strings composed only of those.
fn is_code_bounded(expr: &Expr) -> bool {
    match expr {
        Expr::StringLiteral(_) | Expr::NumberLiteral(_) => true,
        Expr::Name(name) => matches!(
            name.id.as_str(),
            "__name__" | "__qualname__" | "__module__" | "__package__"
        ),
        Expr::Attribute(attr) => matches!(
            attr.attr.as_str(),
            "__name__" | "__qualname__" | "__module__"
        ),
        Expr::FString(fstring) => fstring
            .value
            .elements()
            .filter_map(|element| element.as_interpolation())
            .all(|interpolation| is_code_bounded(&interpolation.expression)),
        Expr::BinOp(binop) if matches!(binop.op, Operator::Add | Operator::Mod) => {
            let right_bounded = match (&*binop.right, binop.op) {
                (Expr::Tuple(tuple), Operator::Mod) => tuple.elts.iter().all(is_code_bounded),
                (right, _) => is_code_bounded(right),
            };
            is_code_bounded(&binop.left) && right_bounded
        }
        _ => false,
    }
}
