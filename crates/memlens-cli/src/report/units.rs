//! Numbers as people read them: `12.4 MiB`, `17,700,000`, `5.21 s`.

/// Bytes in binary units with one decimal (`512 B`, `12.4 MiB`).
pub fn bytes(value: f64) -> String {
    const UNITS: [&str; 7] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    let sign = if value < 0.0 { "-" } else { "" };
    let mut v = value.abs().round();
    if v < 1024.0 {
        return format!("{sign}{v:.0} B");
    }
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    format!("{sign}{v:.1} {}", UNITS[unit])
}

/// A whole number with thousands separators (`17,700,000`).
pub fn count(value: f64) -> String {
    let rounded = value.round();
    let sign = if rounded < 0.0 { "-" } else { "" };
    let digits = format!("{:.0}", rounded.abs());
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    format!("{sign}{out}")
}

/// A duration from nanoseconds (`812 ms`, `5.21 s`, `3 min 20 s`).
pub fn duration(ns: u64) -> String {
    let s = ns as f64 / 1e9;
    if s < 1.0 {
        format!("{:.0} ms", s * 1000.0)
    } else if s < 120.0 {
        format!("{s:.2} s")
    } else {
        format!("{} min {} s", (s / 60.0) as u64, (s % 60.0) as u64)
    }
}

/// A share of a whole (`41.2%`), `-` when the whole is zero.
pub fn percent(part: f64, whole: f64) -> String {
    if whole <= 0.0 {
        "-".to_string()
    } else {
        format!("{:.1}%", 100.0 * part / whole)
    }
}

/// `~` before estimates (sampled captures), nothing otherwise.
pub fn approx(estimate: bool) -> &'static str {
    if estimate {
        "~"
    } else {
        ""
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_read_like_a_person_writes_them() {
        let cases = [
            (0.0, "0 B"),
            (1023.0, "1023 B"),
            (1024.0, "1.0 KiB"),
            (13_002_342.0, "12.4 MiB"),
            (-2048.0, "-2.0 KiB"),
        ];
        for (value, expected) in cases {
            assert_eq!(bytes(value), expected);
        }
        assert_eq!(count(17_700_000.0), "17,700,000");
        assert_eq!(count(999.0), "999");
        assert_eq!(count(-1234.0), "-1,234");
        assert_eq!(duration(812_000_000), "812 ms");
        assert_eq!(duration(5_210_000_000), "5.21 s");
        assert_eq!(duration(200_000_000_000), "3 min 20 s");
        assert_eq!(percent(1.0, 0.0), "-");
    }
}
