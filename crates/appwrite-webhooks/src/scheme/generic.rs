//! The opt-in generic scheme: `X-Webhook-Signature: sha256=<hex HMAC-SHA256 of the raw body>`,
//! with `X-Webhook-Id`, `X-Webhook-Event`, and a body `{ "id", "type", "created_at", "data" }`.

use http::HeaderName;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use time::OffsetDateTime;

use crate::error::Error;
use crate::events::event::Event;
use crate::headers::{
    DeliveryHeaders, GENERIC_EVENT, GENERIC_ID, GENERIC_SIGNATURE, Scanned, Text, required,
};
use crate::models::datetime;

pub(super) const SIGNATURE: HeaderName = GENERIC_SIGNATURE;

/// The webhook id and the event type; this scheme has no name, project or user headers.
pub(super) fn parse_headers(headers: &Scanned<'_>) -> Result<DeliveryHeaders, Error> {
    Ok(DeliveryHeaders {
        timestamp: None,
        webhook_id: required(headers, &GENERIC_ID)?,
        webhook_name: None,
        project_id: Text::Empty,
        user_id: None,
        events: required(headers, &GENERIC_EVENT)?,
        delivery_id: None,
    })
}

/// The body of a [`Scheme::Generic`](crate::Scheme::Generic) delivery:
/// `{ "id", "type", "created_at", "data" }`, with `data` as your own type (JSON by default).
///
/// ```
/// use appwrite_webhooks::GenericEnvelope;
///
/// #[derive(serde::Deserialize)]
/// struct User { id: String, email: String }
///
/// let body = br#"{"id":"evt_abc123","type":"user.created","created_at":"2023-12-01T15:30:00Z",
///   "data":{"id":"usr_789","email":"john@example.com"}}"#;
/// let envelope: GenericEnvelope<User> = GenericEnvelope::parse(body)?;
/// assert_eq!((envelope.kind.as_str(), envelope.data.email.as_str()), ("user.created", "john@example.com"));
/// # Ok::<(), appwrite_webhooks::Error>(())
/// ```
#[derive(Debug, Clone, Deserialize)]
#[non_exhaustive]
pub struct GenericEnvelope<T = serde_json::Value> {
    /// The event's id: the same across retries, so the replay guard keys on it.
    pub id: String,
    /// The event type (`user.created`), also sent as `X-Webhook-Event`.
    #[serde(rename = "type")]
    pub kind: String,
    /// When the event happened.
    #[serde(with = "datetime")]
    pub created_at: OffsetDateTime,
    /// The event's data.
    pub data: T,
}

impl<T: DeserializeOwned> GenericEnvelope<T> {
    /// Parses a verified body. Not JSON, or missing a field: [`Error::InvalidPayload`].
    pub fn parse(body: &[u8]) -> Result<Self, Error> {
        serde_json::from_slice(body).map_err(Error::InvalidPayload)
    }
}

/// The scheme's events are not Appwrite's: [`Event::Unknown`] with the envelope's type and data.
pub(super) fn event(body: &[u8]) -> Result<Event, Error> {
    let envelope = GenericEnvelope::<serde_json::Value>::parse(body)?;
    Ok(Event::Unknown {
        name: envelope.kind,
        raw: envelope.data,
    })
}

/// The envelope's `type`, read without parsing the rest: the signed name of the event.
pub(super) fn event_type(body: &[u8]) -> Option<String> {
    #[derive(Deserialize)]
    struct Typed {
        #[serde(rename = "type")]
        kind: String,
    }
    serde_json::from_slice::<Typed>(body).ok().map(|t| t.kind)
}

/// The envelope's `id`, for de-duplication; only that field is kept while parsing.
pub(super) fn event_id(body: &[u8]) -> Option<String> {
    #[derive(Deserialize)]
    struct Identified {
        id: String,
    }
    serde_json::from_slice::<Identified>(body)
        .ok()
        .map(|e| e.id)
}

/// Computes the generic scheme's `X-Webhook-Signature`: `sha256=` and the lower-case hex
/// HMAC-SHA256 of the body.
///
/// ```
/// let sig = appwrite_webhooks::sign_generic("secret", b"{}");
/// assert!(sig.starts_with("sha256=") && sig.len() == 71);
/// ```
#[cfg(feature = "sender")]
pub fn sign_generic(key: impl Into<crate::crypto::key::SigningKey>, body: &[u8]) -> String {
    use crate::crypto::hex::hex;
    use crate::crypto::mac::{Hash, KeyedMac};
    let mut mac = KeyedMac::new(Hash::Sha256, &key.into());
    mac.update(body);
    format!("sha256={}", hex(&mac.finalize()))
}

/// The webhook id, the first event name as the event type, and the signature.
#[cfg(feature = "sender")]
pub(super) fn signed_headers(out: &super::Outgoing<'_>) -> Vec<(HeaderName, String)> {
    vec![
        (GENERIC_ID, out.webhook_id.to_owned()),
        (
            GENERIC_EVENT,
            out.events.split(',').next().unwrap_or("").to_owned(),
        ),
        (SIGNATURE, sign_generic(out.key, out.body)),
    ]
}
