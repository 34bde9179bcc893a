//! Turning file bytes into text, and byte offsets into lines and columns.

use std::ops::Range;

/// Line starts of a text, for offset → (line, column) lookups.
pub(crate) struct LineIndex<'a> {
    text: &'a str,
    starts: Vec<usize>,
}

impl<'a> LineIndex<'a> {
    pub(crate) fn new(text: &'a str) -> Self {
        let mut starts = vec![0];
        for (offset, byte) in text.bytes().enumerate() {
            if byte == b'\n' {
                starts.push(offset + 1);
            }
        }
        Self { text, starts }
    }

    /// 1-based line and character column of a byte offset.
    pub(crate) fn location(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let line = self.starts.partition_point(|&start| start <= offset) - 1;
        let start = self.starts[line];
        let column = self
            .text
            .get(start..offset)
            .map_or(offset - start, |s| s.chars().count());
        (line + 1, column + 1)
    }

    /// The text of a 1-based line, without `\r\n` / `\n`.
    pub(crate) fn line_text(&self, line: usize) -> &'a str {
        let start = self.starts[line - 1];
        let end = self.starts.get(line).copied().unwrap_or(self.text.len());
        self.text[start..end].trim_end_matches(['\n', '\r'])
    }
}

/// Why bytes are not lintable text, and where the trouble starts.
pub(crate) struct Undecodable {
    pub(crate) message: String,
    /// Byte offset into the valid prefix (which is UTF-8).
    pub(crate) offset: usize,
}

/// Decodes file bytes as UTF-8 Python source (a UTF-8 BOM is dropped).
///
/// Binary files (a NUL byte in the first 8 KiB) and other encodings are
/// refused with a located message; the valid prefix is returned alongside so
/// the caller can show the offending line.
pub(crate) fn decode(bytes: &[u8]) -> Result<&str, (Undecodable, &str)> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let head = &bytes[..bytes.len().min(8192)];
    if let Some(nul) = head.iter().position(|&b| b == 0) {
        let prefix = valid_prefix(&bytes[..nul]);
        return Err((
            Undecodable {
                message: "binary file (contains a NUL byte), not Python source".into(),
                offset: prefix.len(),
            },
            prefix,
        ));
    }
    match std::str::from_utf8(bytes) {
        Ok(text) => Ok(text),
        Err(err) => {
            let prefix = valid_prefix(&bytes[..err.valid_up_to()]);
            let declared = declared_encoding(prefix)
                .map(|encoding| {
                    format!(" (the file declares `coding: {encoding}`; memlens reads UTF-8 only)")
                })
                .unwrap_or_default();
            Err((
                Undecodable {
                    message: format!("not valid UTF-8: byte 0x{:02X} cannot start or continue a character{declared}", bytes[err.valid_up_to()]),
                    offset: prefix.len(),
                },
                prefix,
            ))
        }
    }
}

fn valid_prefix(bytes: &[u8]) -> &str {
    match std::str::from_utf8(bytes) {
        Ok(text) => text,
        Err(err) => std::str::from_utf8(&bytes[..err.valid_up_to()]).unwrap_or_default(),
    }
}

/// The PEP 263 `coding:` declaration on one of the first two lines, if any.
fn declared_encoding(text: &str) -> Option<&str> {
    text.lines()
        .take(2)
        .filter(|line| line.trim_start().starts_with('#'))
        .find_map(|line| {
            let at = line.find("coding")?;
            let rest = line[at + "coding".len()..]
                .strip_prefix([':', '='])?
                .trim_start();
            let end = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.'))
                .unwrap_or(rest.len());
            Some(&rest[..end]).filter(|name| !name.is_empty())
        })
}

/// Whether source that failed to parse looks like Python 2 (a `print`
/// statement or `except X, e:`), to say so in the error.
pub(crate) fn looks_like_python2(text: &str, error_range: Range<usize>) -> bool {
    let start = text[..error_range.start.min(text.len())]
        .rfind('\n')
        .map_or(0, |i| i + 1);
    let end = text[start..].find('\n').map_or(text.len(), |i| start + i);
    let line = text[start..end].trim_start();
    let print_statement = line.strip_prefix("print").is_some_and(|rest| {
        rest.starts_with([' ', '\t']) && !rest.trim_start().starts_with(['(', '=', '.'])
    });
    let old_except = line.starts_with("except")
        && line.contains(',')
        && line.trim_end().ends_with(':')
        && !line.contains('(');
    let old_raise = line.starts_with("raise ") && line.contains(',');
    let backticks_or_ne = line.contains('`') || line.contains("<>");
    let long_literal = line
        .split(|c: char| !c.is_ascii_alphanumeric())
        .any(|token| {
            token.len() > 1
                && token.ends_with(['L', 'l'])
                && token[..token.len() - 1].bytes().all(|b| b.is_ascii_digit())
        });
    let exec_statement = line.starts_with("exec ") && !line.starts_with("exec (");
    print_statement || old_except || old_raise || backticks_or_ne || long_literal || exec_statement
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn given_a_multibyte_line_when_locating_then_columns_count_characters() {
        let index = LineIndex::new("a = 1\né = [x]\n");
        assert_eq!(index.location(6), (2, 1));
        assert_eq!(index.location("a = 1\né = ".len()), (2, 5));
        assert_eq!(index.line_text(2), "é = [x]");
    }

    #[test]
    fn given_latin1_bytes_with_a_coding_line_when_decoding_then_the_error_names_the_encoding() {
        let (err, prefix) = decode(b"# -*- coding: latin-1 -*-\nname = '\xe9'\n").unwrap_err();
        assert!(err.message.contains("coding: latin-1"), "{}", err.message);
        assert_eq!(prefix, "# -*- coding: latin-1 -*-\nname = '");
    }

    #[test]
    fn given_a_nul_byte_when_decoding_then_it_is_called_binary() {
        let (err, _) = decode(b"\x7fELF\x02\x01\x00\x00").unwrap_err();
        assert!(err.message.starts_with("binary file"));
    }

    #[test]
    fn python2_lines_are_recognised_and_python3_lines_are_not() {
        for line in [
            "print \"hi\"",
            "except ValueError, e:",
            "x = 10L",
            "raise E, 'm'",
        ] {
            assert!(looks_like_python2(line, 0..1), "{line}");
        }
        for line in ["print(\"hi\")", "except (A, B) as e:", "x = 10"] {
            assert!(!looks_like_python2(line, 0..1), "{line}");
        }
    }
}
