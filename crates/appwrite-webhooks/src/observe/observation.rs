//! One delivery's observation: the span it runs in, and the metrics and log line written when
//! its answer is known.

use std::sync::Arc;
use std::time::Instant;

use http::{HeaderMap, HeaderValue};
use tracing::Span;
use tracing::field::Empty;

use crate::delivery::Delivery;
use crate::error::Error;
use crate::headers::claimed_id;
use crate::observe::health::Health;
use crate::observe::{DELIVERIES, DELIVERY_DURATION, VERIFIED};
use crate::scheme::Scheme;

/// How a delivery ended, as the metrics and the span's `outcome` field name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Outcome {
    /// Verified and handled: answered with the handler's success.
    Accepted,
    /// Verified and stored in an inbox: `202`.
    Enqueued,
    /// Verified and handed to a handler this crate does not see the end of: a bare
    /// extractor's. The handler's answer is not known, so it moves no failure count.
    Verified,
    /// A copy of a delivery already handled (or already held by the inbox).
    Duplicate,
    /// A copy of a delivery being handled right now: `409`.
    InProgress,
    /// Refused before the handler, for this [`Error::reason`].
    Rejected(&'static str),
    /// Verified, but the handler answered an error status, returned `Err` or panicked.
    HandlerFailed,
    /// The request ended without an answer: the client hung up, or a timeout dropped it.
    Cancelled,
}

impl Outcome {
    /// The outcome of a request refused with `error`.
    ///
    /// ```
    /// use appwrite_webhooks::{Error, observe::Outcome};
    /// assert_eq!(Outcome::of_error(&Error::SignatureMismatch), Outcome::Rejected("signature_mismatch"));
    /// ```
    pub fn of_error(error: &Error) -> Self {
        Self::Rejected(error.reason())
    }

    /// The outcome of a handler that answered `status`.
    pub fn of_status(status: http::StatusCode) -> Self {
        if status.is_client_error() || status.is_server_error() {
            Self::HandlerFailed
        } else {
            Self::Accepted
        }
    }

    /// The `outcome` label value.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Accepted => "accepted",
            Self::Enqueued => "enqueued",
            Self::Verified => "verified",
            Self::Duplicate => "duplicate",
            Self::InProgress => "in_progress",
            Self::Rejected(_) => "rejected",
            Self::HandlerFailed => "handler_failed",
            Self::Cancelled => "cancelled",
        }
    }

    /// Whether Appwrite counts this answer as a failed attempt (status ≥ 400, or none).
    pub fn is_failure(&self) -> bool {
        matches!(
            self,
            Self::InProgress | Self::Rejected(_) | Self::HandlerFailed | Self::Cancelled
        )
    }
}

/// One delivery's span and metrics, from its first byte to its answer. The receive sequences
/// ([`Verifier::serve`](crate::Verifier::serve), [`Verifier::extract`](crate::Verifier::extract),
/// an inbox's `accept`) make one per request with `Verifier::observe`, run verification and the
/// handler inside [`span`](Self::span), and [`finish`](Self::finish) it with the outcome;
/// dropped unfinished it records [`Outcome::HandlerFailed`] while a panic unwinds, and
/// [`Outcome::Cancelled`] otherwise (the request was dropped: a client that hung up, a timeout).
#[derive(Debug)]
pub(crate) struct Observation {
    span: Span,
    started: Instant,
    health: Arc<Health>,
    /// The webhook id the headers claim, for the consecutive-failures gauge.
    webhook_id: Option<HeaderValue>,
    /// Whether the signature was verified: only then does the claimed webhook id name a metric
    /// label, so a forger cannot raise (or reset) a real webhook's failure count.
    verified: bool,
    finished: bool,
}

impl Observation {
    /// The observation of one request under `scheme`: its span, with the webhook and project
    /// ids its headers claim, and its clock; failures are counted in `health`.
    pub(crate) fn start(scheme: Scheme, headers: &HeaderMap, health: Arc<Health>) -> Self {
        let span = tracing::info_span!(
            "appwrite_webhook",
            webhook_id = Empty,
            project_id = Empty,
            delivery_id = Empty,
            event = Empty,
            scheme = scheme.name(),
            key = Empty,
            outcome = Empty,
            reason = Empty,
            body_len = Empty,
            duration_ms = Empty,
        );
        let (webhook, project) = scheme.tenant_headers();
        let webhook_id = headers.get(webhook);
        if !span.is_disabled() {
            const NOT_AN_ID: &str = "(not an Appwrite id)";
            let project_id = project.map_or(Some(""), |p| claimed_id(headers.get(p)));
            span.record("webhook_id", claimed_id(webhook_id).unwrap_or(NOT_AN_ID));
            span.record("project_id", project_id.unwrap_or(NOT_AN_ID));
        }
        Observation {
            span,
            started: Instant::now(),
            health,
            // Checked and capped as a label in `Health::record`.
            webhook_id: webhook_id.cloned(),
            verified: false,
            finished: false,
        }
    }

    /// The delivery's span: run verification and the handler in it.
    pub fn span(&self) -> &Span {
        &self.span
    }

    /// Records what verification established: the event, the key and the body's length.
    pub fn verified<B: AsRef<[u8]>>(&mut self, delivery: &Delivery<B>) {
        self.verified = true;
        const INDEXES: [&str; 8] = ["0", "1", "2", "3", "4", "5", "6", "7"];
        let key: metrics::SharedString = match (&delivery.key_label, delivery.key_index) {
            (Some(label), _) => Arc::clone(label).into(),
            (None, index) if index < INDEXES.len() => {
                metrics::SharedString::const_str(INDEXES[index])
            }
            (None, index) => index.to_string().into(),
        };
        if !self.span.is_disabled() {
            let event = PrimaryEvent(delivery.events_header());
            self.span.record("event", tracing::field::display(&event));
            // Validated as visible ASCII when the headers were read: safe in any log line.
            if let Some(id) = delivery.delivery_id() {
                self.span.record("delivery_id", id);
            }
            self.span.record("key", &*key);
            self.span.record("body_len", delivery.body().len());
        }
        metrics::counter!(VERIFIED, "key" => key).increment(1);
    }

    /// Records the outcome: the span's last fields, one log event, the metrics and the
    /// webhook's consecutive-failures count.
    pub fn finish(mut self, outcome: Outcome) {
        self.record(outcome);
    }

    fn record(&mut self, outcome: Outcome) {
        self.finished = true;
        let elapsed = self.started.elapsed();
        let reason = match outcome {
            Outcome::Rejected(reason) => reason,
            _ => "none",
        };
        let span = &self.span;
        if !span.is_disabled() {
            span.record("outcome", outcome.as_str());
            if reason != "none" {
                span.record("reason", reason);
            }
            span.record("duration_ms", elapsed.as_secs_f64() * 1000.0);
            match outcome {
                Outcome::Verified => tracing::debug!(
                    parent: span,
                    outcome = outcome.as_str(),
                    "Appwrite delivery verified"
                ),
                Outcome::Accepted | Outcome::Enqueued | Outcome::Duplicate => tracing::info!(
                    parent: span,
                    outcome = outcome.as_str(),
                    "Appwrite delivery answered"
                ),
                Outcome::HandlerFailed | Outcome::Cancelled => tracing::warn!(
                    parent: span,
                    outcome = outcome.as_str(),
                    "Appwrite delivery not handled"
                ),
                Outcome::Rejected("replay_store" | "inbox_store" | "key_resolver") => {
                    tracing::warn!(
                        parent: span,
                        reason,
                        "Appwrite delivery refused: a store is unavailable"
                    )
                }
                Outcome::InProgress | Outcome::Rejected(_) => tracing::debug!(
                    parent: span,
                    outcome = outcome.as_str(),
                    reason,
                    "Appwrite delivery refused"
                ),
            }
        }
        metrics::counter!(DELIVERIES, "outcome" => outcome.as_str(), "reason" => reason)
            .increment(1);
        metrics::histogram!(DELIVERY_DURATION, "outcome" => outcome.as_str())
            .record(elapsed.as_secs_f64());
        if outcome != Outcome::Verified {
            let failed = outcome.is_failure();
            if self.verified {
                self.health
                    .record(claimed_id(self.webhook_id.as_ref()), failed);
            }
            // Requests that failed verification count under one label, whatever webhook they
            // claim (a wrong key fails every genuine delivery: it shows here); any verified
            // success shows the key works again.
            if !self.verified || !failed {
                self.health.record(Some(UNVERIFIED), failed);
            }
        }
    }
}

/// The `webhook` label of requests that failed verification.
const UNVERIFIED: &str = "unverified";

/// The primary event of an events header, found only when a subscriber formats it: a
/// subscriber that keeps no field values pays nothing for it.
pub(crate) struct PrimaryEvent<'a>(pub(crate) &'a str);

impl std::fmt::Display for PrimaryEvent<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match crate::events::header::primary(self.0) {
            Some(name) => std::fmt::Display::fmt(&name, f),
            None => Ok(()),
        }
    }
}

impl Drop for Observation {
    fn drop(&mut self) {
        if !self.finished {
            // Unwinding from the handler's panic, or dropped with the request.
            self.record(if std::thread::panicking() {
                Outcome::HandlerFailed
            } else {
                Outcome::Cancelled
            });
        }
    }
}
