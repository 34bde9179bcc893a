//! Numbers as people read them: `12.4 MiB`, `17,700,000`, `5.21 s`.

/// Bytes in binary units with one decimal (`512 B`, `12.4 MiB`), rounded to
/// a whole byte first (sampled figures are estimates); the formatting is
/// [`memlens_heap::human_bytes`], the one memlens uses everywhere.
pub fn bytes(value: f64) -> String {
    let sign = if value < 0.0 { "-" } else { "" };
    format!(
        "{sign}{}",
        memlens_heap::human_bytes(value.abs().round() as u64)
    )
}

/// A whole number with thousands separators (`17,700,000`), rounded first
/// ([`memlens_heap::group_thousands`]).
pub fn count(value: f64) -> String {
    memlens_heap::group_thousands(value.round() as i64)
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

    #[test]
    fn reports_and_heap_tables_agree_just_below_a_unit() {
        // GIVEN a size one byte short of 1 MiB, which rounds to 1024.0 KiB
        // THEN reports say what the heap tables say: the next unit
        assert_eq!(bytes(1_048_575.0), "1.0 MiB");
        assert_eq!(bytes(1_048_575.0), memlens_heap::human_bytes(1_048_575));
        assert_eq!(bytes(-1_048_575.4), "-1.0 MiB");
    }
}
