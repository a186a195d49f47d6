//! What the crates tell operators: one [`tracing`] span per delivery, and metrics through the
//! [`metrics`] facade (install any recorder — Prometheus, StatsD, OpenTelemetry — or none, and
//! they cost next to nothing).
//!
//! # The span
//! `appwrite_webhook` (level INFO), entered while the delivery is verified and while the
//! handler runs (under the tower layer, axum's `route_layer`, the actix-web middleware and the
//! inbox routes; a bare extractor's span covers verification only, since the handler runs
//! outside it, and its outcome is `verified`). Its fields: `delivery_id` (Appwrite's `X-Appwrite-Webhook-Delivery-Id`, recorded once the
//! signature verified), `webhook_id` and `project_id` (as the unsigned headers claim
//! them, when they look like Appwrite ids), `event` (the primary event, once verified),
//! `scheme`, `key` (the verifying key's label, or its index), `outcome`, `reason` (why it was
//! rejected), `body_len` and `duration_ms`. Never a key, a signature, credentials or body
//! content. Each delivery ends with one event: INFO when accepted, enqueued or a duplicate,
//! WARN when the handler failed or a store is down, DEBUG for other rejections.
//!
//! # Metrics
//! Label values are bounded: outcomes and reasons ([`Outcome`], [`Error::reason`]) are fixed
//! lists, keys are your labels (or indexes), and webhook ids, the one id label, are capped at
//! [`MAX_TRACKED_WEBHOOKS`]. The same table is in the guide's
//! [operating](crate::guide::operating) chapter (a test keeps them equal).
//!
//! [`Error::reason`]: crate::Error::reason
//!
//! | name | type | labels | what |
//! |---|---|---|---|
//! | `appwrite_webhooks_deliveries_total` | counter | `outcome`, `reason` | every request that reached a verifier, by `Outcome` (`accepted`, `enqueued`, `verified`, `duplicate`, `in_progress`, `rejected`, `handler_failed`, `cancelled`) and, for `rejected`, `Error::reason` (`none` otherwise) |
//! | `appwrite_webhooks_delivery_duration_seconds` | histogram | `outcome` | from the first byte read to the answer: verification and handler |
//! | `appwrite_webhooks_verified_total` | counter | `key` | verified deliveries by the key that verified them: when the old key's count stops growing, drop it |
//! | `appwrite_webhooks_unparsed_payloads_total` | counter | — | payloads that did not fit their model and were handed on as `Event::Unparsed` |
//! | `appwrite_webhooks_consecutive_failures` | gauge | `webhook` | failed answers (status ≥ 400, or none) in a row per verified webhook id, and under `unverified` for requests that failed verification (reset by any verified success); Appwrite disables a webhook at 10 — a WARN log from 7 on |
//! | `appwrite_webhooks_inbox_deliveries` | gauge | `state` | the inbox's deliveries by state: `pending` (waiting or held by a worker), `in_flight` (held), `done`, `dead` (dead letters), `stale` (settled without their handler: an older version of a resource than one applied), read every 5 s |
//! | `appwrite_webhooks_inbox_attempts_total` | counter | `outcome` | worker attempts: `done`, `retry`, `dead`, `handed_back` (unfinished at shutdown); for a handler that settles its own attempt (exactly-once, or `RedisLedger::ordered`), `stale` (a newer version of the resource was already applied; handler not run) and `lease_lost` (its lease passed to another attempt; nothing committed) |
//! | `appwrite_webhooks_inbox_attempt_duration_seconds` | histogram | `outcome` | one worker attempt: verification again and the handler |
//!
//! Call [`describe_metrics`] once after installing a recorder to give each a help text.

pub(crate) mod health;
pub(crate) mod observation;

pub use health::{DISABLE_THRESHOLD, MAX_TRACKED_WEBHOOKS, WARN_THRESHOLD};
pub(crate) use observation::Observation;
pub use observation::Outcome;

/// `appwrite_webhooks_deliveries_total{outcome, reason}`.
pub const DELIVERIES: &str = "appwrite_webhooks_deliveries_total";
/// `appwrite_webhooks_delivery_duration_seconds{outcome}`.
pub const DELIVERY_DURATION: &str = "appwrite_webhooks_delivery_duration_seconds";
/// `appwrite_webhooks_verified_total{key}`.
pub const VERIFIED: &str = "appwrite_webhooks_verified_total";
/// `appwrite_webhooks_unparsed_payloads_total`.
pub const UNPARSED: &str = "appwrite_webhooks_unparsed_payloads_total";
/// `appwrite_webhooks_consecutive_failures{webhook}`.
pub const CONSECUTIVE_FAILURES: &str = "appwrite_webhooks_consecutive_failures";
/// `appwrite_webhooks_inbox_deliveries{state}`.
pub const INBOX_DELIVERIES: &str = "appwrite_webhooks_inbox_deliveries";
/// `appwrite_webhooks_inbox_attempts_total{outcome}`.
pub const INBOX_ATTEMPTS: &str = "appwrite_webhooks_inbox_attempts_total";
/// `appwrite_webhooks_inbox_attempt_duration_seconds{outcome}`.
pub const INBOX_ATTEMPT_DURATION: &str = "appwrite_webhooks_inbox_attempt_duration_seconds";

/// Gives every metric above its unit and help text in the installed recorder (a Prometheus
/// exporter prints them as `# HELP`). Optional; call it once after installing the recorder.
///
/// ```
/// appwrite_webhooks::observe::describe_metrics();
/// ```
pub fn describe_metrics() {
    use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
    describe_counter!(
        DELIVERIES,
        Unit::Count,
        "Appwrite deliveries by outcome and rejection reason"
    );
    describe_histogram!(
        DELIVERY_DURATION,
        Unit::Seconds,
        "Time to verify and handle one Appwrite delivery"
    );
    describe_counter!(
        VERIFIED,
        Unit::Count,
        "Verified Appwrite deliveries by the key that verified them"
    );
    describe_counter!(
        UNPARSED,
        Unit::Count,
        "Appwrite payloads that did not fit their model (Event::Unparsed)"
    );
    describe_gauge!(
        CONSECUTIVE_FAILURES,
        Unit::Count,
        "Failed answers in a row per webhook; Appwrite disables a webhook at 10"
    );
    describe_gauge!(
        INBOX_DELIVERIES,
        Unit::Count,
        "Deliveries in the inbox by state"
    );
    describe_counter!(
        INBOX_ATTEMPTS,
        Unit::Count,
        "Inbox worker attempts by outcome"
    );
    describe_histogram!(
        INBOX_ATTEMPT_DURATION,
        Unit::Seconds,
        "Time of one inbox worker attempt"
    );
}
