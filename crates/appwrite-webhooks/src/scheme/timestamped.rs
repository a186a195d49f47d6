//! The opt-in timestamped scheme: `X-Appwrite-Webhook-Timestamp` (unix seconds) and
//! `X-Appwrite-Webhook-Signature: hex(HMAC-SHA256(key, "{timestamp}.{body}"))`, with a body that
//! is an envelope `{ "$id", "event", "timestamp", "payload" }`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::HeaderName;
use serde::Deserialize;
use serde_json::value::RawValue;
use time::OffsetDateTime;

use crate::crypto::signature::{Form, Signature};
use crate::error::{Error, MalformedSignature};
use crate::events::event::Event;
use crate::events::name::EventName;
use crate::headers::{
    DeliveryHeaders, Repeated, Scanned, WEBHOOK_EVENTS, WEBHOOK_ID, WEBHOOK_NAME,
    WEBHOOK_PROJECT_ID, WEBHOOK_SIGNATURE, WEBHOOK_TIMESTAMP, WEBHOOK_USER_ID, optional, required,
};
use crate::models::datetime;

pub(super) const SIGNATURE: HeaderName = WEBHOOK_SIGNATURE;

/// 64 hex digits: an HMAC-SHA256 tag.
pub(super) fn parse_signature(value: &[u8]) -> Result<Signature, MalformedSignature> {
    Signature::from_hex(value, Form::Hex)
}

/// `"{timestamp}."`, the digits exactly as sent (the sender signed its own text), once the
/// timestamp is within `tolerance` of `at` (unix seconds; this server's clock when `None`).
pub(super) fn request_prefix(
    headers: &Scanned<'_>,
    tolerance: Duration,
    at: Option<u64>,
) -> Result<(Vec<Vec<u8>>, Option<u64>), Error> {
    let (text, timestamp) = timestamp_header(headers)?;
    check_tolerance(timestamp, tolerance, at.unwrap_or_else(now))?;
    let mut prefix = text.as_bytes().to_vec();
    prefix.push(b'.');
    Ok((vec![prefix], Some(timestamp)))
}

/// The timestamp header's digits and their value in unix seconds.
fn timestamp_header<'h>(headers: &Scanned<'h>) -> Result<(&'h str, u64), Error> {
    let value = headers
        .one(&WEBHOOK_TIMESTAMP)
        .map_err(|Repeated| Error::InvalidTimestamp("repeated"))?
        .ok_or(Error::InvalidTimestamp("missing"))?;
    let text = value
        .to_str()
        .ok()
        .filter(|t| !t.is_empty() && t.len() <= 19 && t.bytes().all(|b| b.is_ascii_digit()))
        .ok_or(Error::InvalidTimestamp("not unix seconds"))?;
    let seconds = text
        .parse()
        .map_err(|_| Error::InvalidTimestamp("not unix seconds"))?;
    Ok((text, seconds))
}

/// Now, in unix seconds.
pub(crate) fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Rejects timestamps further than `tolerance` from `now` (unix seconds), either way.
fn check_tolerance(timestamp: u64, tolerance: Duration, now: u64) -> Result<(), Error> {
    // Both fit in i64 for the next 292 billion years; saturate rather than trust the header.
    let skew = i64::try_from(now)
        .unwrap_or(i64::MAX)
        .saturating_sub(i64::try_from(timestamp).unwrap_or(i64::MAX));
    if skew.unsigned_abs() > tolerance.as_secs() {
        return Err(Error::TimestampOutOfTolerance { skew, tolerance });
    }
    Ok(())
}

/// The id is required; the scheme's document lists no project header, and events may be left
/// to the envelope.
pub(super) fn parse_headers(
    headers: &Scanned<'_>,
    timestamp: Option<u64>,
) -> Result<DeliveryHeaders, Error> {
    Ok(DeliveryHeaders {
        timestamp,
        webhook_id: required(headers, &WEBHOOK_ID)?,
        webhook_name: optional(headers, &WEBHOOK_NAME)?,
        project_id: optional(headers, &WEBHOOK_PROJECT_ID)?.unwrap_or_default(),
        user_id: optional(headers, &WEBHOOK_USER_ID)?,
        events: optional(headers, &WEBHOOK_EVENTS)?.unwrap_or_default(),
        delivery_id: None,
    })
}

/// The body of a [`Scheme::Timestamped`](crate::Scheme::Timestamped) delivery:
/// `{ "$id", "event", "timestamp", "payload" }`, with the payload parsed into the typed
/// [`Event`] its event name calls for (or [`Event::Unknown`]).
///
/// ```
/// use appwrite_webhooks::{Event, TimestampedEnvelope};
///
/// // The example from the document that describes the scheme:
/// let body = br#"{
///   "$id": "event_123",
///   "event": "databases.main.tables.orders.rows.order_456.create",
///   "timestamp": "2025-01-15T10:30:00.000Z",
///   "payload": {
///     "$id": "order_456", "$tableId": "orders", "$databaseId": "main",
///     "$createdAt": "2025-01-15T10:30:00.000Z", "$updatedAt": "2025-01-15T10:30:00.000Z",
///     "customer": "John Doe", "total": 99.99
///   }
/// }"#;
/// let envelope = TimestampedEnvelope::parse(body)?;
/// assert_eq!(envelope.id, "event_123");
/// let Event::Row { table_id, row, .. } = envelope.payload else { panic!("a row event") };
/// assert_eq!((table_id.as_str(), row.data["total"].as_f64()), ("orders", Some(99.99)));
/// # Ok::<(), appwrite_webhooks::Error>(())
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct TimestampedEnvelope {
    /// The event's id (`$id`): the same across retries, so the replay guard keys on it.
    pub id: String,
    /// The event name (`databases.main.tables.orders.rows.order_456.create`).
    pub event: String,
    /// When the event happened, as the envelope says (not the signed header timestamp).
    pub timestamp: OffsetDateTime,
    /// The payload, typed by the event name.
    pub payload: Event,
}

impl TimestampedEnvelope {
    /// Parses a verified body. Not JSON, or missing a field: [`Error::InvalidPayload`].
    pub fn parse(body: &[u8]) -> Result<Self, Error> {
        #[derive(Deserialize)]
        struct Wire<'a> {
            #[serde(rename = "$id")]
            id: String,
            event: String,
            #[serde(with = "datetime")]
            timestamp: OffsetDateTime,
            #[serde(borrow)]
            payload: &'a RawValue,
        }
        let wire: Wire<'_> = serde_json::from_slice(body).map_err(Error::InvalidPayload)?;
        let name = EventName::parse(&wire.event).ok();
        let payload = match Event::from_parts(name.as_ref(), wire.payload.get().as_bytes(), false)?
        {
            // Keep the name even when this version has no variant for it.
            Event::Unknown { raw, .. } => Event::Unknown {
                name: wire.event.clone(),
                raw,
            },
            typed => typed,
        };
        Ok(Self {
            id: wire.id,
            event: wire.event,
            timestamp: wire.timestamp,
            payload,
        })
    }
}

/// The envelope's `event` name, without parsing its payload.
/// The envelope's `event`, read without parsing the rest: the signed name of the event.
pub(super) fn event_name(body: &[u8]) -> Option<String> {
    #[derive(Deserialize)]
    struct Named {
        event: String,
    }
    serde_json::from_slice::<Named>(body).ok().map(|n| n.event)
}

/// The envelope's `$id`, for de-duplication; only that field is kept while parsing.
pub(super) fn event_id(body: &[u8]) -> Option<String> {
    #[derive(Deserialize)]
    struct Identified {
        #[serde(rename = "$id")]
        id: String,
    }
    serde_json::from_slice::<Identified>(body)
        .ok()
        .map(|e| e.id)
}

/// Computes the timestamped scheme's `X-Appwrite-Webhook-Signature`: lower-case hex
/// HMAC-SHA256 over `"{timestamp}.{body}"`.
///
/// ```
/// let sig = appwrite_webhooks::sign_timestamped("secret", 1_700_000_000, b"{}");
/// assert_eq!(sig.len(), 64);
/// ```
#[cfg(feature = "sender")]
pub fn sign_timestamped(
    key: impl Into<crate::crypto::key::SigningKey>,
    timestamp: u64,
    body: &[u8],
) -> String {
    use crate::crypto::hex::hex;
    use crate::crypto::mac::{Hash, KeyedMac};
    let prefix = format!("{timestamp}.");
    let mut mac = KeyedMac::new(Hash::Sha256, &key.into()).absorbing(prefix.as_bytes());
    mac.update(body);
    hex(&mac.finalize())
}

/// Id, events, name, timestamp and signature; the timestamp is now unless the sender set one.
#[cfg(feature = "sender")]
pub(super) fn signed_headers(out: &super::Outgoing<'_>) -> Vec<(HeaderName, String)> {
    let timestamp = out.timestamp.unwrap_or_else(now);
    vec![
        (WEBHOOK_ID, out.webhook_id.to_owned()),
        (WEBHOOK_EVENTS, out.events.to_owned()),
        (WEBHOOK_NAME, out.webhook_name.to_owned()),
        (WEBHOOK_TIMESTAMP, timestamp.to_string()),
        (SIGNATURE, sign_timestamped(out.key, timestamp, out.body)),
    ]
}
