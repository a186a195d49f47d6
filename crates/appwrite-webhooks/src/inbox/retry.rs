//! How failed attempts are retried: exponential backoff with jitter, a maximum number of
//! attempts, and a timeout per attempt.

use std::hash::{BuildHasher, RandomState};
use std::time::Duration;

/// How failed attempts are retried.
///
/// The wait before attempt `n + 1` is `initial_backoff × 2^(n-1)`, capped at `max_backoff`,
/// of which a random half is jitter (so deliveries that failed together do not retry together).
///
/// ```
/// use std::time::Duration;
/// use appwrite_webhooks::inbox::RetryPolicy;
///
/// let policy = RetryPolicy::default().max_attempts(5).attempt_timeout(Duration::from_secs(10));
/// let wait = policy.backoff(3);
/// assert!(wait >= Duration::from_secs(2) && wait <= Duration::from_secs(4));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    pub(crate) max_attempts: u32,
    initial_backoff: Duration,
    max_backoff: Duration,
    pub(crate) attempt_timeout: Duration,
}

impl Default for RetryPolicy {
    /// 8 attempts, backoff from 1 s doubling to at most 10 min (about 20 min in all), 30 s per
    /// attempt.
    fn default() -> Self {
        Self {
            max_attempts: 8,
            initial_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(600),
            attempt_timeout: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// Attempts before a delivery is dead (at least 1).
    pub fn with_max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts.max(1);
        self
    }

    /// The wait after the first failed attempt.
    pub fn with_initial_backoff(mut self, wait: Duration) -> Self {
        self.initial_backoff = wait;
        self
    }

    /// The longest wait between attempts.
    pub fn with_max_backoff(mut self, wait: Duration) -> Self {
        self.max_backoff = wait;
        self
    }

    /// How long one attempt may run before it is cancelled and counted as failed.
    pub fn with_attempt_timeout(mut self, timeout: Duration) -> Self {
        self.attempt_timeout = timeout;
        self
    }

    /// Renamed [`with_max_attempts`](Self::with_max_attempts).
    #[deprecated(note = "use with_max_attempts")]
    pub fn max_attempts(self, attempts: u32) -> Self {
        self.with_max_attempts(attempts)
    }

    /// Renamed [`with_initial_backoff`](Self::with_initial_backoff).
    #[deprecated(note = "use with_initial_backoff")]
    pub fn initial_backoff(self, wait: Duration) -> Self {
        self.with_initial_backoff(wait)
    }

    /// Renamed [`with_max_backoff`](Self::with_max_backoff).
    #[deprecated(note = "use with_max_backoff")]
    pub fn max_backoff(self, wait: Duration) -> Self {
        self.with_max_backoff(wait)
    }

    /// Renamed [`with_attempt_timeout`](Self::with_attempt_timeout).
    #[deprecated(note = "use with_attempt_timeout")]
    pub fn attempt_timeout(self, timeout: Duration) -> Self {
        self.with_attempt_timeout(timeout)
    }

    /// The wait after failed attempt `attempt` (from 1), jitter included.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let doubled = self.initial_backoff.saturating_mul(
            1u32.checked_shl(attempt.saturating_sub(1))
                .unwrap_or(u32::MAX),
        );
        let cap = doubled.min(self.max_backoff);
        let half = cap / 2;
        // RandomState is seeded randomly: a fresh one hashes to an unpredictable value.
        let random = RandomState::new().hash_one(attempt);
        let jitter_nanos = u64::try_from(half.as_nanos()).unwrap_or(u64::MAX);
        half + Duration::from_nanos(random.checked_rem(jitter_nanos + 1).unwrap_or(0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_with_jitter_and_is_capped() {
        let policy = RetryPolicy::default()
            .with_initial_backoff(Duration::from_secs(1))
            .with_max_backoff(Duration::from_secs(8));
        for _ in 0..100 {
            let first = policy.backoff(1);
            assert!(first >= Duration::from_millis(500) && first <= Duration::from_secs(1));
            let fourth = policy.backoff(4);
            assert!(fourth >= Duration::from_secs(4) && fourth <= Duration::from_secs(8));
            assert!(policy.backoff(200) <= Duration::from_secs(8));
        }
        let spread: std::collections::HashSet<_> = (0..20).map(|_| policy.backoff(3)).collect();
        assert!(spread.len() > 1, "jitter varies");
        assert_eq!(RetryPolicy::default().with_max_attempts(0).max_attempts, 1);
    }
}
