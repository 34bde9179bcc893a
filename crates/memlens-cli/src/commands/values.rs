//! Range-checked parsers for numeric options: a value no report can use
//! (`--limit 0`, `--min-percent nan`, a sample interval past any heap) is an
//! argument error naming the accepted range, not a silent empty report.

/// A count of at least one (`--limit`, `--max-depth`).
pub fn count(text: &str) -> Result<usize, String> {
    match text.trim().parse::<usize>() {
        Ok(0) => Err("must be at least 1".to_owned()),
        Ok(n) => Ok(n),
        Err(_) => Err(format!("`{text}` is not a whole number of at least 1")),
    }
}

/// A share in percent, finite, from 0 to 100 (`--min-percent`).
pub fn percent(text: &str) -> Result<f64, String> {
    let value: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("`{text}` is not a number"))?;
    if value.is_finite() && (0.0..=100.0).contains(&value) {
        Ok(value)
    } else {
        Err("must be a percentage from 0 to 100".to_owned())
    }
}

/// The largest mean sample interval: 1 TiB, already far beyond any sampled run.
pub const MAX_SAMPLE_INTERVAL: u64 = 1 << 40;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_refuse_zero_and_junk() {
        assert_eq!(count("3"), Ok(3));
        assert!(count("0").is_err());
        assert!(count("-1").is_err());
        assert!(count("ten").is_err());
    }

    #[test]
    fn percents_refuse_nan_infinity_and_out_of_range() {
        assert_eq!(percent("2.5"), Ok(2.5));
        assert_eq!(percent("0"), Ok(0.0));
        assert_eq!(percent("100"), Ok(100.0));
        for bad in ["nan", "NaN", "inf", "-5", "100.5", "1e400", "x"] {
            assert!(percent(bad).is_err(), "{bad}");
        }
    }
}
