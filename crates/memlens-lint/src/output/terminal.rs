//! Text that is safe to print on a terminal.
//!
//! Source lines, file names, program arguments and function names come from
//! files memlens does not control. Printed raw, an escape sequence in any of
//! them can clear the screen, recolour the terminal, rewrite the title or
//! hide text; bidirectional overrides can make a line read differently from
//! what it is ("Trojan Source"). Every human-readable report memlens prints
//! goes through [`terminal_safe`] (JSON and SARIF escape on their own).

use std::borrow::Cow;
use std::fmt::Write;

/// `text` with every character that a terminal would act on rather than
/// show written as a Python-style escape: C0 controls other than tab and
/// newline (`\x1b`, `\r`…), DEL, the C1 controls (U+0080–U+009F) and the
/// bidirectional-formatting characters (`\u202e`…). Tab and newline are
/// kept; everything else is returned unchanged, borrowed when nothing needs
/// escaping.
///
/// ```
/// use memlens_lint::output::terminal_safe;
/// assert_eq!(terminal_safe("x = 1"), "x = 1");
/// assert_eq!(terminal_safe("\x1b[2Jboom\r"), "\\x1b[2Jboom\\r");
/// assert_eq!(terminal_safe("a\u{202e}b"), "a\\u202eb");
/// ```
pub fn terminal_safe(text: &str) -> Cow<'_, str> {
    let Some(first) = text.find(needs_escape) else {
        return Cow::Borrowed(text);
    };
    let mut out = String::with_capacity(text.len() + 8);
    out.push_str(&text[..first]);
    for c in text[first..].chars() {
        if !needs_escape(c) {
            out.push(c);
            continue;
        }
        let _ = match c {
            '\r' => write!(out, "\\r"),
            '\x0b' => write!(out, "\\x0b"),
            c if (c as u32) < 0x100 => write!(out, "\\x{:02x}", c as u32),
            c => write!(out, "\\u{:04x}", c as u32),
        };
    }
    Cow::Owned(out)
}

fn needs_escape(c: char) -> bool {
    match c {
        '\t' | '\n' => false,
        '\0'..='\x1f' | '\x7f'..='\u{9f}' => true,
        // Bidirectional formatting: marks, embeddings, overrides, isolates.
        '\u{061c}'
        | '\u{200e}'
        | '\u{200f}'
        | '\u{202a}'..='\u{202e}'
        | '\u{2066}'..='\u{2069}' => true,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_is_borrowed_and_unchanged() {
        for text in ["", "def f(x):", "naïve 名前 — ok\tand\ttabs\n", "│  ├─ box"] {
            assert!(matches!(terminal_safe(text), Cow::Borrowed(t) if t == text));
        }
    }

    #[test]
    fn controls_are_escaped_python_style() {
        assert_eq!(terminal_safe("\x1b]0;title\x07"), "\\x1b]0;title\\x07");
        assert_eq!(terminal_safe("a\rb\x0bc\x7fd"), "a\\rb\\x0bc\\x7fd");
        assert_eq!(terminal_safe("\u{9b}31m"), "\\x9b31m");
        assert_eq!(terminal_safe("\u{2066}x\u{2069}"), "\\u2066x\\u2069");
        assert_eq!(
            terminal_safe("\x7fELF\x02\x01\x01"),
            "\\x7fELF\\x02\\x01\\x01"
        );
    }

    #[test]
    fn nothing_a_terminal_acts_on_survives() {
        // Every char below U+3000: the output holds no C0/C1 control but tab and newline.
        let all: String = (0u32..0x3000).filter_map(char::from_u32).collect();
        let safe = terminal_safe(&all);
        assert!(!safe.chars().any(needs_escape));
        assert!(!safe.contains('\x1b'));
    }
}
