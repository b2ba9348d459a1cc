//! Reconnect delays: exponential backoff with jitter.

use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Delays between connection attempts: `initial × 2^failures`, capped at `max`, spread by
/// ± `jitter` (a fraction) so cameras behind one uplink do not reconnect in lockstep.
#[derive(Debug)]
pub struct Backoff {
    initial: Duration,
    max: Duration,
    jitter: f64,
    /// xorshift state; seeded per process.
    rng: AtomicU64,
}

impl Clone for Backoff {
    fn clone(&self) -> Self {
        Backoff::new(self.initial, self.max, self.jitter)
    }
}

impl PartialEq for Backoff {
    fn eq(&self, other: &Self) -> bool {
        self.initial == other.initial && self.max == other.max && self.jitter == other.jitter
    }
}

impl Backoff {
    /// `jitter` is clamped to `0.0..1.0`.
    pub fn new(initial: Duration, max: Duration, jitter: f64) -> Backoff {
        let seed = std::collections::hash_map::RandomState::new()
            .build_hasher()
            .finish()
            | 1;
        Backoff {
            initial,
            max: max.max(initial),
            jitter: jitter.clamp(0.0, 0.999),
            rng: AtomicU64::new(seed),
        }
    }

    /// The delay before the attempt that follows `failures` failed attempts in a row
    /// (0 → about `initial`).
    pub fn delay(&self, failures: u32) -> Duration {
        let base = self
            .initial
            .checked_mul(1u32.checked_shl(failures.min(31)).unwrap_or(u32::MAX))
            .unwrap_or(self.max)
            .min(self.max);
        if self.jitter == 0.0 {
            return base;
        }
        // Uniform in [-1, 1).
        let unit = (self.next_random() >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0;
        base.mul_f64(1.0 + self.jitter * unit)
    }

    fn next_random(&self) -> u64 {
        let mut x = self.rng.load(Ordering::Relaxed);
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.rng.store(x, Ordering::Relaxed);
        x
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_and_caps() {
        let b = Backoff::new(Duration::from_millis(500), Duration::from_secs(30), 0.0);
        let delays: Vec<u64> = (0..10).map(|n| b.delay(n).as_millis() as u64).collect();
        assert_eq!(
            delays,
            [
                500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000, 30000
            ]
        );
        assert_eq!(b.delay(u32::MAX), Duration::from_secs(30));
    }

    #[test]
    fn jitter_stays_within_bounds_and_varies() {
        let b = Backoff::new(Duration::from_secs(1), Duration::from_secs(30), 0.2);
        let delays: Vec<Duration> = (0..200).map(|_| b.delay(0)).collect();
        assert!(
            delays
                .iter()
                .all(|d| *d >= Duration::from_millis(800) && *d <= Duration::from_millis(1200))
        );
        let distinct: std::collections::HashSet<_> = delays.iter().collect();
        assert!(distinct.len() > 50, "jitter should spread delays");
    }
}
