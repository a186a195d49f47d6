//! Reading a delivery's signed body: as JSON into your own type, or as the typed event its
//! events header names, checked against the body.

use serde::de::DeserializeOwned;

use crate::delivery::Delivery;
use crate::error::Error;
use crate::events::event::Event;
use crate::events::name::EventName;
#[cfg(doc)]
use crate::scheme::Scheme;

impl<B: AsRef<[u8]>> Delivery<B> {
    /// Deserializes the verified body into your own type.
    ///
    /// ```
    /// #[derive(serde::Deserialize)]
    /// struct User { #[serde(rename = "$id")] id: String }
    ///
    /// # let d = appwrite_webhooks::sender::example_delivery();
    /// let user: User = d.json()?;
    /// assert_eq!(user.id, "u1");
    /// # Ok::<(), appwrite_webhooks::Error>(())
    /// ```
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, Error> {
        serde_json::from_slice(self.body()).map_err(Error::InvalidPayload)
    }

    /// The primary event: the most specific concrete name in the events header (Appwrite lists
    /// it first; for `update.email`-style events the attribute form is the more specific one).
    /// `None` if no concrete name parses.
    ///
    /// ```
    /// # let d = appwrite_webhooks::sender::example_delivery();
    /// let name = d.primary_event().unwrap();
    /// assert_eq!((name.service(), name.user_id()), ("users", Some("u1")));
    /// ```
    pub fn primary_event(&self) -> Option<EventName> {
        crate::events::header::primary(self.meta.events.as_str())
    }

    /// Checks the ids the (unsigned) events header names against the signed body (`$id`,
    /// `$databaseId`, `$tableId`/`$collectionId`), as [`event`](Self::event) does, without
    /// parsing the payload: [`Error::EventContradictsBody`] (400) when they differ. The receive
    /// sequence and the inbox run it before a claim or a write. The opt-in schemes sign their
    /// event name, so there is nothing to check.
    ///
    /// ```
    /// use appwrite_webhooks::{Error, Verifier, sender::DeliveryBuilder};
    /// let url = "https://example.com/hook";
    /// let sent = DeliveryBuilder::new("k", url, r#"{"$id":"t2"}"#)
    ///     .event(&"teams.t1.create".parse().unwrap()) // names another team
    ///     .build();
    /// let delivery = Verifier::new("k", url).verify(sent.headers(), sent.body())?;
    /// assert!(matches!(delivery.check_event_ids(), Err(Error::EventContradictsBody { .. })));
    /// # Ok::<(), Error>(())
    /// ```
    pub fn check_event_ids(&self) -> Result<(), Error> {
        self.scheme
            .check_event_ids(self.primary_event().as_ref(), self.body.as_ref())
    }

    /// The typed event: the variant is decided by [`primary_event`](Self::primary_event) and
    /// the signed body, which is parsed into the model Appwrite's catalogue gives that event.
    ///
    /// - The ids the (unsigned) events header names are checked against the body:
    ///   [`Error::EventContradictsBody`] (400) when they differ.
    /// - A body that is JSON but does not fit the model — an Appwrite version the models do not
    ///   know — is [`Event::Unparsed`], logged at warn: model drift must never cost a webhook
    ///   (Appwrite disables it after ten answers of 400 or more in a row). See
    ///   [`event_strict`](Self::event_strict) to refuse it instead.
    /// - A body that is not JSON is [`Error::InvalidPayload`] (400).
    ///
    /// ```
    /// use appwrite_webhooks::Event;
    /// # let d = appwrite_webhooks::sender::example_delivery();
    /// if let Event::User { user, .. } = d.event()? {
    ///     assert_eq!(user.name, "Ada");
    /// }
    /// # Ok::<(), appwrite_webhooks::Error>(())
    /// ```
    ///
    /// For [`Scheme::Timestamped`] the body is an envelope and the event is its typed
    /// `payload` (see [`TimestampedEnvelope`](crate::TimestampedEnvelope)); for [`Scheme::Generic`], whose events are not
    /// Appwrite's, it is [`Event::Unknown`] with the envelope's `type` and `data` (see
    /// [`GenericEnvelope`](crate::GenericEnvelope) to type the data yourself).
    pub fn event(&self) -> Result<Event, Error> {
        let primary = self.primary_event();
        self.scheme.event(primary.as_ref(), self.body(), false)
    }

    /// [`event`](Self::event), but a body that does not fit its model is
    /// [`Error::InvalidPayload`] (400) instead of [`Event::Unparsed`]: for receivers that would
    /// rather have Appwrite retry (and, after ten failures, disable the webhook) than see a
    /// payload their code does not model.
    ///
    /// ```
    /// use appwrite_webhooks::{Event, Verifier, sender::DeliveryBuilder};
    /// let url = "https://example.com/hook";
    /// let sent = DeliveryBuilder::new("k", url, r#"{"$id":17,"name":"t1"}"#)
    ///     .events(["teams.t1.create"])
    ///     .build();
    /// let delivery = Verifier::new("k", url).verify(sent.headers(), sent.body())?;
    /// assert!(matches!(delivery.event()?, Event::Unparsed { .. }));
    /// assert_eq!(delivery.event_strict().unwrap_err().status(), 400);
    /// # Ok::<(), appwrite_webhooks::Error>(())
    /// ```
    pub fn event_strict(&self) -> Result<Event, Error> {
        let primary = self.primary_event();
        self.scheme.event(primary.as_ref(), self.body(), true)
    }
}
