//! `# noqa` suppression comments.

use crate::Rule;

/// Whether the source line carries a `# noqa` that covers `rule`: a bare
/// `# noqa` covers every rule, `# noqa: ML001, ML004` only those listed.
/// Unreadable-source errors (ML000) are never suppressed.
pub(crate) fn suppresses(line: &str, rule: Rule) -> bool {
    if rule.is_error() {
        return false;
    }
    let lower = line.to_ascii_lowercase();
    let mut search_from = 0;
    while let Some(found) = lower[search_from..].find("noqa") {
        let at = search_from + found;
        search_from = at + 4;
        let before = lower[..at].trim_end();
        if !before.ends_with('#') {
            continue;
        }
        let rest = &line[at + 4..];
        let Some(codes) = rest.trim_start().strip_prefix(':') else {
            return true; // bare `# noqa`
        };
        return codes
            .split(|c: char| c == ',' || c.is_whitespace())
            .map(str::trim)
            .take_while(|code| {
                code.is_empty() || code.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
            })
            .any(|code| code.eq_ignore_ascii_case(rule.code()));
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn noqa_comments_suppress_what_they_name() {
        let table = [
            ("x.append(1)  # noqa", Rule::ModuleContainerGrows, true),
            (
                "x.append(1)  # noqa: ML001",
                Rule::ModuleContainerGrows,
                true,
            ),
            (
                "x.append(1)  # NOQA:ML002,ML001",
                Rule::ModuleContainerGrows,
                true,
            ),
            (
                "x.append(1)  # noqa: ML002",
                Rule::ModuleContainerGrows,
                false,
            ),
            ("x.append('noqa')", Rule::ModuleContainerGrows, false),
            ("x.append(1)", Rule::ModuleContainerGrows, false),
            ("x = (  # noqa", Rule::UnreadableSource, false),
        ];
        for (line, rule, expected) in table {
            assert_eq!(suppresses(line, rule), expected, "{line}");
        }
    }
}
