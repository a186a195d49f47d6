//! Appwrite's alert scheme: what its notifications worker signs alerts with
//! (`Adapter/Webhook.php::process`, `Workers/Notifications.php::dispatchWebhook`):
//! `X-Appwrite-Webhook-Timestamp` (unix seconds) and
//! `X-Appwrite-Webhook-Signature: sha256=<hex HMAC-SHA256(key, "{timestamp}.{body}")>`, with a
//! body `{subject, body, template, params, project, deduplicationKey, events}` and no URL in
//! the signature. A channel without a secret sends its alerts with no signature header at all:
//! they are refused unless the verifier was told otherwise
//! ([`Verifier::with_unsigned_alerts`](crate::Verifier::with_unsigned_alerts)).

use http::HeaderName;
use serde::Deserialize;

use crate::fingerprint::Fingerprint;
use crate::headers::{DeliveryHeaders, Text, WEBHOOK_SIGNATURE};

pub(super) const SIGNATURE: HeaderName = WEBHOOK_SIGNATURE;

/// Alerts carry no webhook, project, user or events headers: only the timestamp, already
/// checked. What they are about is in the signed body (see [`Alert`](crate::Alert)).
pub(super) fn parse_headers(timestamp: Option<u64>) -> DeliveryHeaders {
    DeliveryHeaders {
        timestamp,
        webhook_id: Text::Empty,
        webhook_name: None,
        project_id: Text::Empty,
        user_id: None,
        events: Text::Empty,
        delivery_id: None,
    }
}

/// The fields of the body this scheme reads without typing the rest.
#[derive(Deserialize)]
struct Identity {
    #[serde(rename = "deduplicationKey", default)]
    deduplication_key: Option<String>,
    #[serde(default)]
    events: Option<Vec<String>>,
}

fn identity(body: &[u8]) -> Option<Identity> {
    serde_json::from_slice(body).ok()
}

/// The alert's `deduplicationKey` when it is not empty: Appwrite's stable key for the alert
/// (`webhook:<id>:paused:<updatedAt>`), the same however often the alert is sent.
pub(super) fn deduplication_key(body: &[u8]) -> Option<String> {
    identity(body)
        .and_then(|i| i.deduplication_key)
        .filter(|key| !key.is_empty())
}

/// The alert's `events`, comma-joined: the signed event names it is about (often none).
pub(super) fn event_names(body: &[u8]) -> String {
    identity(body)
        .and_then(|i| i.events)
        .unwrap_or_default()
        .join(",")
}

/// The identity of an unsigned alert, which has no key to make it keyed: SHA-256 over its
/// `deduplicationKey`, or, without one, over the timestamp and body (what its signature would
/// have covered). The kind of input is part of the hash, so the two never collide.
pub(super) fn unsigned_fingerprint(meta: &DeliveryHeaders, body: &[u8]) -> Fingerprint {
    use sha2::Digest as _;
    let mut hash = sha2::Sha256::new();
    hash.update(b"alert unsigned\0");
    match deduplication_key(body) {
        Some(key) => {
            hash.update(b"k");
            hash.update(key.as_bytes());
        }
        None => {
            hash.update(b"b");
            hash.update(meta.timestamp.unwrap_or_default().to_string().as_bytes());
            hash.update(b".");
            hash.update(body);
        }
    }
    Fingerprint::new(&hash.finalize())
}

/// Computes the alert scheme's `X-Appwrite-Webhook-Signature`, as Appwrite's notifications
/// worker does: `sha256=` and the lower-case hex HMAC-SHA256 over `"{timestamp}.{body}"`.
///
/// ```
/// let sig = appwrite_webhooks::sign_alert("secret", 1_764_921_600, b"{}");
/// assert!(sig.starts_with("sha256=") && sig.len() == 71);
/// ```
#[cfg(feature = "sender")]
pub fn sign_alert(
    key: impl Into<crate::crypto::key::SigningKey>,
    timestamp: u64,
    body: &[u8],
) -> String {
    format!(
        "sha256={}",
        super::timestamped::sign_timestamped(key, timestamp, body)
    )
}

/// Appwrite's alert headers: its user agent, the timestamp and the signature; the timestamp is
/// now unless the sender set one.
#[cfg(feature = "sender")]
pub(super) fn signed_headers(out: &super::Outgoing<'_>) -> Vec<(HeaderName, String)> {
    let timestamp = out.timestamp.unwrap_or_else(super::timestamped::now);
    vec![
        (http::header::USER_AGENT, USER_AGENT.to_owned()),
        (crate::headers::WEBHOOK_TIMESTAMP, timestamp.to_string()),
        (SIGNATURE, sign_alert(out.key, timestamp, out.body)),
    ]
}

/// The `User-Agent` Appwrite's alert webhooks carry.
#[cfg(feature = "sender")]
pub(crate) const USER_AGENT: &str = "Appwrite Webhook";
