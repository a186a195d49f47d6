//! The time a verifier checks against: the system clock, or one a test or a tool sets.

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

/// Where a [`Verifier`](crate::Verifier) reads the time: for the timestamped scheme's
/// tolerance, the replay guard's [`max_age`](crate::ReplayGuard::with_max_age), a key's
/// [`not_after`](crate::SigningKey::not_after) and the key cache. [`SystemClock`] by default;
/// [`ManualClock`] for deterministic tests and for checking old deliveries as of a given time.
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use appwrite_webhooks::Clock;
///
/// #[derive(Debug)]
/// struct OneHourAhead;
/// impl Clock for OneHourAhead {
///     fn now(&self) -> SystemTime { SystemTime::now() + Duration::from_secs(3600) }
/// }
/// let verifier = appwrite_webhooks::Verifier::timestamped("k").with_clock(OneHourAhead);
/// ```
pub trait Clock: fmt::Debug + Send + Sync + 'static {
    /// The current time.
    fn now(&self) -> SystemTime;
}

/// The operating system's clock.
///
/// ```
/// use appwrite_webhooks::{Clock, SystemClock};
/// assert!(SystemClock.now() > std::time::UNIX_EPOCH);
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}

/// A clock that stands still until it is set or advanced; clones share the time.
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// use appwrite_webhooks::{Clock, ManualClock};
///
/// let clock = ManualClock::at(UNIX_EPOCH + Duration::from_secs(1_700_000_000));
/// let shared = clock.clone();
/// clock.advance(Duration::from_secs(60));
/// assert_eq!(shared.now(), UNIX_EPOCH + Duration::from_secs(1_700_000_060));
/// ```
#[derive(Debug, Clone)]
pub struct ManualClock(Arc<Mutex<SystemTime>>);

impl ManualClock {
    /// A clock showing `time`.
    pub fn at(time: SystemTime) -> Self {
        Self(Arc::new(Mutex::new(time)))
    }

    /// Shows `time` from now on.
    pub fn set(&self, time: SystemTime) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = time;
    }

    /// Moves the time forward by `by`.
    pub fn advance(&self, by: Duration) {
        let mut time = self.0.lock().unwrap_or_else(|e| e.into_inner());
        *time = time.checked_add(by).unwrap_or(*time);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> SystemTime {
        *self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Unix seconds of `time` (0 before the epoch).
pub(crate) fn unix_seconds(time: SystemTime) -> u64 {
    time.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
