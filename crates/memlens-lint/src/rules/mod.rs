//! One file per rule, named for the bad pattern it finds.
//!
//! Every rule is a function from a parsed module to violations. They share
//! the [`Module`] context: the syntax tree and what it imports.

pub mod cache_on_method;
pub mod class_attribute_mutated;
pub mod closure_grows_captured;
pub mod exception_stored;
pub mod listener_never_removed;
pub mod logger_per_call;
pub mod module_container_grows;
pub mod unreadable_source;

use ruff_python_ast::Stmt;

use crate::patterns::Imports;
use crate::{Rule, RuleSelection, Violation};

/// A parsed module, as the rules see it.
pub(crate) struct Module<'a> {
    pub(crate) body: &'a [Stmt],
    pub(crate) imports: Imports,
}

/// Runs the selected rules over one module.
pub(crate) fn check_module(body: &[Stmt], selection: &RuleSelection) -> Vec<Violation> {
    let module = Module {
        body,
        imports: Imports::collect(body),
    };
    let mut violations = Vec::new();
    for &rule in selection.rules() {
        let check: fn(&Module<'_>) -> Vec<Violation> = match rule {
            Rule::UnreadableSource => continue,
            Rule::ModuleContainerGrows => module_container_grows::check,
            Rule::ClassAttributeMutated => class_attribute_mutated::check,
            Rule::ClosureGrowsCaptured => closure_grows_captured::check,
            Rule::ListenerNeverRemoved => listener_never_removed::check,
            Rule::CacheOnMethod => cache_on_method::check,
            Rule::LoggerPerCall => logger_per_call::check,
            Rule::ExceptionStored => exception_stored::check,
        };
        violations.extend(check(&module));
    }
    violations
}
