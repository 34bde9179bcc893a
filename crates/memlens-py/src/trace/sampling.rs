//! Poisson sampling by bytes.
//!
//! Every allocated byte is equally likely to be sampled: the distance (in
//! bytes) to the next sample point is exponentially distributed with the
//! configured mean, so an allocation of `s` bytes is sampled with
//! probability `1 - exp(-s / mean)` whatever came before it. Each thread
//! keeps its own countdown, so the hot path is one subtraction.
//!
//! A sampled block of `s` bytes stands for [`estimated_bytes`]`(s, mean)`
//! bytes (and for `estimated_bytes(s, mean) / s` blocks), which makes sums of
//! sampled sizes and counts unbiased estimates of the real ones.

/// The default mean sampling interval: 512 KiB.
pub const DEFAULT_MEAN_BYTES: u64 = 512 * 1024;

/// The unbiased estimate of the bytes a sampled block of `size` bytes
/// stands for, under sampling with mean interval `mean` bytes.
pub fn estimated_bytes(size: u64, mean: u64) -> f64 {
    let size = size as f64;
    let probability = -(-size / mean.max(1) as f64).exp_m1();
    if probability <= 0.0 {
        return mean as f64;
    }
    size / probability
}

/// A xorshift64* generator: fast, good enough to space samples.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Rng(pub u64);

impl Rng {
    /// A uniform float in (0, 1].
    #[inline]
    fn next_unit(&mut self) -> f64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        let bits = x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11;
        (bits as f64 + 1.0) / (1u64 << 53) as f64
    }

    /// The bytes until the next sample point, drawn from Exp(mean).
    #[inline]
    pub(crate) fn next_interval(&mut self, mean: u64) -> i64 {
        let interval = -self.next_unit().ln() * mean as f64;
        (interval as i64).max(1)
    }
}

/// A seed that differs between threads and runs.
pub(crate) fn seed(salt: u64) -> u64 {
    let time = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    (time ^ salt.rotate_left(32) ^ 0x9E37_79B9_7F4A_7C15) | 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn estimate_of_a_tiny_block_is_about_the_mean() {
        // GIVEN a block much smaller than the interval
        // WHEN estimating
        let estimate = estimated_bytes(16, 512 * 1024);
        // THEN it stands for about one interval of bytes
        assert!((estimate - 512.0 * 1024.0).abs() < 16.0);
    }

    #[test]
    fn estimate_of_a_huge_block_is_its_size() {
        // GIVEN a block far larger than the interval (always sampled)
        // THEN it stands for itself
        let estimate = estimated_bytes(100 << 20, 512 * 1024);
        assert!((estimate - (100u64 << 20) as f64).abs() < 1.0);
    }

    #[test]
    fn intervals_have_the_configured_mean() {
        // GIVEN a generator
        let mut rng = Rng(seed(7));
        // WHEN drawing many intervals
        let n = 200_000;
        let sum: i64 = (0..n).map(|_| rng.next_interval(1000)).sum();
        // THEN their mean is close to the configured one
        let mean = sum as f64 / n as f64;
        assert!((mean - 1000.0).abs() < 20.0, "mean {mean}");
    }
}
