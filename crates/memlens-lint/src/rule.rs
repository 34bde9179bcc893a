//! The rule table: every code memlens lint knows, in one place.

use std::fmt;

use crate::Error;

/// A lint rule. Codes are stable; names are kebab-case descriptions of the bad pattern.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Rule {
    /// ML000: the file could not be linted (syntax error, not UTF-8, binary).
    UnreadableSource,
    /// ML001: see [`crate::rules::module_container_grows`].
    ModuleContainerGrows,
    /// ML002: see [`crate::rules::class_attribute_mutated`].
    ClassAttributeMutated,
    /// ML003: see [`crate::rules::closure_grows_captured`].
    ClosureGrowsCaptured,
    /// ML004: see [`crate::rules::listener_never_removed`].
    ListenerNeverRemoved,
    /// ML005: see [`crate::rules::cache_on_method`].
    CacheOnMethod,
    /// ML006: see [`crate::rules::logger_per_call`].
    LoggerPerCall,
    /// ML007: see [`crate::rules::exception_stored`].
    ExceptionStored,
}

/// One row of the rule table.
struct RuleInfo {
    rule: Rule,
    code: &'static str,
    name: &'static str,
    summary: &'static str,
}

/// All codes in one table; the README's table mirrors it.
const TABLE: [RuleInfo; 8] = [
    RuleInfo { rule: Rule::UnreadableSource, code: "ML000", name: "unreadable-source", summary: "The file could not be parsed as UTF-8 Python 3 source, so it was not checked." },
    RuleInfo { rule: Rule::ModuleContainerGrows, code: "ML001", name: "module-container-grows", summary: "A module-level container grows inside a function and is never shrunk anywhere in the module." },
    RuleInfo { rule: Rule::ClassAttributeMutated, code: "ML002", name: "class-attribute-mutated", summary: "A mutable class attribute is grown through `self`, `cls` or the class name: one container shared by every instance." },
    RuleInfo { rule: Rule::ClosureGrowsCaptured, code: "ML003", name: "closure-grows-captured", summary: "An escaping closure grows a container captured from its enclosing function on every call." },
    RuleInfo { rule: Rule::ListenerNeverRemoved, code: "ML004", name: "listener-never-removed", summary: "A closure, bound method or partial is registered in a function with no matching removal anywhere in the module." },
    RuleInfo { rule: Rule::CacheOnMethod, code: "ML005", name: "cache-on-method", summary: "`functools.cache` or `functools.lru_cache(maxsize=None)` on a method keeps every `self` it saw alive." },
    RuleInfo { rule: Rule::LoggerPerCall, code: "ML006", name: "logger-per-call", summary: "A logger with a dynamic name, or a handler added per call or per instance: loggers and handlers are never freed." },
    RuleInfo { rule: Rule::ExceptionStored, code: "ML007", name: "exception-stored", summary: "An exception, traceback or frame is stored in a long-lived place, keeping every frame's locals alive." },
];

impl Rule {
    /// Every rule, ML000 first.
    pub const ALL: [Rule; 8] = [
        Rule::UnreadableSource,
        Rule::ModuleContainerGrows,
        Rule::ClassAttributeMutated,
        Rule::ClosureGrowsCaptured,
        Rule::ListenerNeverRemoved,
        Rule::CacheOnMethod,
        Rule::LoggerPerCall,
        Rule::ExceptionStored,
    ];

    fn info(self) -> &'static RuleInfo {
        TABLE
            .iter()
            .find(|info| info.rule == self)
            .expect("every rule has a table row")
    }

    /// The stable code, e.g. `ML001`.
    pub fn code(self) -> &'static str {
        self.info().code
    }

    /// The kebab-case name, e.g. `module-container-grows`.
    pub fn name(self) -> &'static str {
        self.info().name
    }

    /// One sentence saying what the rule finds.
    pub fn summary(self) -> &'static str {
        self.info().summary
    }

    /// The rule with this exact code, if any.
    pub fn from_code(code: &str) -> Option<Rule> {
        TABLE
            .iter()
            .find(|info| info.code.eq_ignore_ascii_case(code))
            .map(|info| info.rule)
    }

    /// Whether the rule reports a file it could not check rather than a pattern.
    pub fn is_error(self) -> bool {
        self == Rule::UnreadableSource
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// Which pattern rules run: `--select` / `--ignore` resolved against the table.
///
/// ML000 cannot be deselected: a file that was not checked is always said.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleSelection {
    enabled: Vec<Rule>,
}

impl Default for RuleSelection {
    fn default() -> Self {
        Self {
            enabled: Rule::ALL.to_vec(),
        }
    }
}

impl RuleSelection {
    /// Resolves selectors (exact codes or prefixes such as `ML00`, `ALL`):
    /// start from `select` (all rules when `None`), then drop `ignore`.
    pub fn new(select: Option<&[String]>, ignore: &[String]) -> Result<Self, Error> {
        let mut enabled: Vec<Rule> = match select {
            None => Rule::ALL.to_vec(),
            Some(selectors) => {
                let mut rules = vec![Rule::UnreadableSource];
                for selector in selectors {
                    for rule in expand(selector)? {
                        if !rules.contains(&rule) {
                            rules.push(rule);
                        }
                    }
                }
                rules
            }
        };
        for selector in ignore {
            let dropped = expand(selector)?;
            enabled.retain(|rule| rule.is_error() || !dropped.contains(rule));
        }
        enabled.sort();
        Ok(Self { enabled })
    }

    /// Whether `rule` runs.
    pub fn is_enabled(&self, rule: Rule) -> bool {
        self.enabled.contains(&rule)
    }

    /// The enabled rules, in code order.
    pub fn rules(&self) -> &[Rule] {
        &self.enabled
    }
}

fn expand(selector: &str) -> Result<Vec<Rule>, Error> {
    let selector = selector.trim();
    if selector.eq_ignore_ascii_case("ALL") {
        return Ok(Rule::ALL.to_vec());
    }
    let upper = selector.to_ascii_uppercase();
    let rules: Vec<Rule> = Rule::ALL
        .into_iter()
        .filter(|rule| rule.code().starts_with(&upper))
        .collect();
    if rules.is_empty() || upper.len() < 2 {
        return Err(Error::UnknownSelector(selector.to_string()));
    }
    Ok(rules)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codes(selection: &RuleSelection) -> Vec<&'static str> {
        selection.rules().iter().map(|rule| rule.code()).collect()
    }

    #[test]
    fn given_no_selectors_when_resolved_then_every_rule_runs() {
        let selection = RuleSelection::new(None, &[]).unwrap();
        assert_eq!(selection.rules().len(), Rule::ALL.len());
    }

    #[test]
    fn given_select_and_ignore_when_resolved_then_ignore_wins_and_ml000_stays() {
        let selection =
            RuleSelection::new(Some(&["ML00".into()]), &["ML002".into(), "ML000".into()]).unwrap();
        assert_eq!(
            codes(&selection),
            ["ML000", "ML001", "ML003", "ML004", "ML005", "ML006", "ML007"]
        );
    }

    #[test]
    fn given_an_unknown_code_when_resolved_then_it_is_an_error_naming_it() {
        let err = RuleSelection::new(Some(&["XY1".into()]), &[]).unwrap_err();
        assert!(err.to_string().contains("`XY1`"), "{err}");
    }

    #[test]
    fn every_code_round_trips_through_the_table() {
        for rule in Rule::ALL {
            assert_eq!(Rule::from_code(rule.code()), Some(rule));
        }
    }
}
