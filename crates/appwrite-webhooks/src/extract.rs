//! What a framework extractor can hand a handler once a delivery is verified.

use bytes::Bytes;
use serde::de::DeserializeOwned;

use crate::delivery::Delivery;
use crate::error::Error;
use crate::events::alert::Alert;
use crate::events::event::Event;
use crate::scheme::{GenericEnvelope, TimestampedEnvelope};

/// A type made from a verified delivery: the typed [`Event`], the [`Delivery`] itself, your own
/// payload type through [`Payload`], or a pair of them.
///
/// The axum and actix-web extractors are generic over this trait, so every adapter offers the
/// same choices.
///
/// ```
/// use appwrite_webhooks::{Delivery, Event, FromDelivery, Payload};
///
/// # let delivery = appwrite_webhooks::sender::example_delivery();
/// let (delivery, event) = <(Delivery, Event)>::from_delivery(delivery)?;
/// let Payload(json) = Payload::<serde_json::Value>::from_delivery(delivery)?;
/// assert_eq!(json["$id"], "u1");
/// # Ok::<(), appwrite_webhooks::Error>(())
/// ```
pub trait FromDelivery: Sized {
    /// Builds `Self`; an error is answered with its [`Error::status`].
    fn from_delivery(delivery: Delivery<Bytes>) -> Result<Self, Error>;
}

impl FromDelivery for Delivery<Bytes> {
    fn from_delivery(delivery: Delivery<Bytes>) -> Result<Self, Error> {
        Ok(delivery)
    }
}

impl FromDelivery for Event {
    fn from_delivery(delivery: Delivery<Bytes>) -> Result<Self, Error> {
        delivery.event()
    }
}

/// The typed event, parsed strictly: a body that does not fit its model is refused with `400`
/// ([`Delivery::event_strict`]) instead of arriving as [`Event::Unparsed`]. Opt in only if a
/// failed attempt — and after ten, a disabled webhook — is what you want for model drift.
///
/// ```
/// use appwrite_webhooks::{FromDelivery, Strict};
/// # let delivery = appwrite_webhooks::sender::example_delivery();
/// let Strict(event) = Strict::from_delivery(delivery)?;
/// # Ok::<(), appwrite_webhooks::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Strict(pub Event);

impl FromDelivery for Strict {
    fn from_delivery(delivery: Delivery<Bytes>) -> Result<Self, Error> {
        delivery.event_strict().map(Strict)
    }
}

/// The verified body deserialized into your own type.
///
/// ```
/// use appwrite_webhooks::{FromDelivery, Payload, models::Row};
///
/// #[derive(serde::Deserialize)]
/// struct Order { total: f64 }
/// # let body = r#"{"$id":"o1","$sequence":"1","$tableId":"orders","$databaseId":"shop","$createdAt":"2020-10-15T06:38:00.000+00:00","$updatedAt":"2020-10-15T06:38:00.000+00:00","$permissions":[],"total":2}"#;
/// # let sent = appwrite_webhooks::sender::DeliveryBuilder::new("k", "https://e.x/h", body).events(["x.y.create"]).build();
/// # let delivery = appwrite_webhooks::Verifier::new("k", "https://e.x/h").verify(sent.headers(), sent.body())?.into_owned();
/// let Payload(row) = Payload::<Row<Order>>::from_delivery(delivery)?;
/// assert_eq!(row.data.total, 2.0);
/// # Ok::<(), appwrite_webhooks::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Payload<T>(pub T);

impl<T: DeserializeOwned> FromDelivery for Payload<T> {
    fn from_delivery(delivery: Delivery<Bytes>) -> Result<Self, Error> {
        delivery.json().map(Payload)
    }
}

impl<T: FromDelivery> FromDelivery for (Delivery<Bytes>, T) {
    fn from_delivery(delivery: Delivery<Bytes>) -> Result<Self, Error> {
        let other = T::from_delivery(delivery.clone())?;
        Ok((delivery, other))
    }
}

impl FromDelivery for TimestampedEnvelope {
    fn from_delivery(delivery: Delivery<Bytes>) -> Result<Self, Error> {
        Self::parse(delivery.body())
    }
}

/// An Appwrite alert, for `Webhook<Alert>` behind a [`Verifier::alert`](crate::Verifier::alert).
impl FromDelivery for Alert {
    fn from_delivery(delivery: Delivery<Bytes>) -> Result<Self, Error> {
        Self::parse(delivery.body())
    }
}

impl<T: DeserializeOwned> FromDelivery for GenericEnvelope<T> {
    fn from_delivery(delivery: Delivery<Bytes>) -> Result<Self, Error> {
        Self::parse(delivery.body())
    }
}
