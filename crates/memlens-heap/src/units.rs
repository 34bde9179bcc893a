//! Human-readable numbers: `12.4 MiB`, `1,234,567`.

/// Formats a byte count with binary units: `512 B`, `1.5 KiB`, `12.4 MiB`.
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 6] = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    // 1023.96 KiB would print as "1024.0 KiB": move to the next unit instead.
    if value >= 1023.95 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// Like [`human_bytes`] for a signed delta, always with a sign: `+1.5 KiB`, `-24 B`, `0 B`.
pub fn signed_human_bytes(delta: i64) -> String {
    match delta.signum() {
        0 => "0 B".to_string(),
        1 => format!("+{}", human_bytes(delta.unsigned_abs())),
        _ => format!("-{}", human_bytes(delta.unsigned_abs())),
    }
}

/// Formats an integer with thousands separators: `1234567` → `1,234,567`.
pub fn group_thousands(value: i64) -> String {
    let digits = value.unsigned_abs().to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    if value < 0 {
        out.push('-');
    }
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_use_binary_units_with_one_decimal() {
        let cases = [
            (0, "0 B"),
            (1023, "1023 B"),
            (1024, "1.0 KiB"),
            (1536, "1.5 KiB"),
            (13_002_342, "12.4 MiB"),
            (1024 * 1024 - 1, "1.0 MiB"),
            (3 * 1024 * 1024 * 1024, "3.0 GiB"),
        ];
        for (bytes, expected) in cases {
            assert_eq!(human_bytes(bytes), expected, "{bytes}");
        }
    }

    #[test]
    fn signed_deltas_always_carry_a_sign() {
        assert_eq!(signed_human_bytes(1536), "+1.5 KiB");
        assert_eq!(signed_human_bytes(-24), "-24 B");
        assert_eq!(signed_human_bytes(0), "0 B");
        assert_eq!(signed_human_bytes(i64::MIN), "-8.0 EiB");
    }

    #[test]
    fn thousands_are_grouped() {
        let cases = [
            (0, "0"),
            (999, "999"),
            (1000, "1,000"),
            (1_234_567, "1,234,567"),
            (-4200, "-4,200"),
        ];
        for (value, expected) in cases {
            assert_eq!(group_thousands(value), expected);
        }
        assert_eq!(group_thousands(i64::MIN), "-9,223,372,036,854,775,808");
    }
}
