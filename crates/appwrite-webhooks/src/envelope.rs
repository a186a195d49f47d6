//! The bodies of the opt-in schemes: an envelope around the event's data.

use bytes::Bytes;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::value::RawValue;
use time::OffsetDateTime;

use crate::models::datetime;
use crate::{Delivery, Error, Event, EventName, FromDelivery, Scheme};

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
        let payload = match Event::from_parts(name.as_ref(), wire.payload.get().as_bytes())? {
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

impl FromDelivery for TimestampedEnvelope {
    fn from_delivery(delivery: Delivery<Bytes>) -> Result<Self, Error> {
        Self::parse(delivery.body())
    }
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

impl<T: DeserializeOwned> FromDelivery for GenericEnvelope<T> {
    fn from_delivery(delivery: Delivery<Bytes>) -> Result<Self, Error> {
        Self::parse(delivery.body())
    }
}

/// The timestamped envelope's `event` name, without parsing its payload.
pub(crate) fn event_name(body: &[u8]) -> Option<String> {
    #[derive(Deserialize)]
    struct Named {
        event: String,
    }
    serde_json::from_slice::<Named>(body).ok().map(|e| e.event)
}

/// The envelope's event id, for de-duplication (`$id` for the timestamped scheme, `id` for the
/// generic one); `None` if the body has none. Only that field is kept while parsing.
pub(crate) fn event_id(body: &[u8], scheme: Scheme) -> Option<String> {
    #[derive(Deserialize)]
    struct Timestamped {
        #[serde(rename = "$id")]
        id: String,
    }
    #[derive(Deserialize)]
    struct Generic {
        id: String,
    }
    match scheme {
        Scheme::Timestamped { .. } => serde_json::from_slice::<Timestamped>(body)
            .ok()
            .map(|e| e.id),
        Scheme::Generic => serde_json::from_slice::<Generic>(body).ok().map(|e| e.id),
        _ => None,
    }
}
