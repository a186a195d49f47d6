//! Failed answers in a row, per webhook: Appwrite disables a webhook after ten, so the count
//! is published as a gauge and logged as it nears that.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::observe::CONSECUTIVE_FAILURES;

/// Appwrite disables a webhook after this many failed attempts in a row.
pub const DISABLE_THRESHOLD: u32 = 10;

/// From this many failed answers in a row on, each further one is logged at WARN.
pub const WARN_THRESHOLD: u32 = 7;

/// The most webhook ids given their own `webhook` label value; later ones share `other`. The
/// id comes from an unsigned header, so without a cap a sender could grow the label set.
pub const MAX_TRACKED_WEBHOOKS: usize = 64;

/// The counts, per webhook label value.
#[derive(Debug, Default)]
pub(crate) struct Health {
    failures: Mutex<HashMap<String, u32>>,
}

impl Health {
    /// Records one answer to a delivery claiming `webhook_id` ([`claimed_id`]: `None` when
    /// the header cannot be an Appwrite id), failed or not, and publishes the new count.
    ///
    /// [`claimed_id`]: crate::headers::claimed_id
    pub(crate) fn record(&self, webhook_id: Option<&str>, failed: bool) {
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        let label = match webhook_id {
            None => "invalid",
            Some("") => "unknown",
            Some(id) if failures.contains_key(id) || failures.len() < MAX_TRACKED_WEBHOOKS => id,
            Some(_) => "other",
        };
        if !failed && !failures.contains_key(label) {
            // Never failed: nothing to publish, and no label spent on it.
            return;
        }
        let count = failures.entry(label.to_owned()).or_insert(0);
        *count = if failed { count.saturating_add(1) } else { 0 };
        let count = *count;
        drop(failures);
        metrics::gauge!(CONSECUTIVE_FAILURES, "webhook" => label.to_owned()).set(count);
        if count >= DISABLE_THRESHOLD {
            tracing::error!(
                webhook = label,
                failures = count,
                "{count} failed answers in a row: Appwrite disables a webhook after \
                 {DISABLE_THRESHOLD}; check it in the Appwrite console and re-enable it once \
                 deliveries succeed"
            );
        } else if count >= WARN_THRESHOLD {
            tracing::warn!(
                webhook = label,
                failures = count,
                "{count} failed answers in a row: Appwrite disables a webhook after {DISABLE_THRESHOLD}"
            );
        }
    }

    /// The current count for a label value, for tests.
    #[cfg(test)]
    pub(crate) fn count(&self, label: &str) -> Option<u32> {
        let failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        failures.get(label).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_reset_on_success_and_labels_are_capped() {
        let health = Health::default();
        health.record(Some("w1"), true);
        health.record(Some("w1"), true);
        assert_eq!(health.count("w1"), Some(2));
        health.record(Some("w1"), false);
        assert_eq!(health.count("w1"), Some(0));
        health.record(Some("ok"), false);
        assert_eq!(health.count("ok"), None);
        health.record(None, true);
        assert_eq!(health.count("invalid"), Some(1));
        health.record(Some(""), true);
        assert_eq!(health.count("unknown"), Some(1));
        for i in 0..200 {
            health.record(Some(&format!("w{i}")), true);
        }
        let failures = health.failures.lock().unwrap();
        assert!(
            failures.len() <= MAX_TRACKED_WEBHOOKS + 1,
            "{}",
            failures.len()
        );
        assert!(failures.contains_key("other"));
    }
}
