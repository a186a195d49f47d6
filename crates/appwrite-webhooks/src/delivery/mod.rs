//! A verified delivery: the parsed Appwrite headers and the raw body they vouch for.

mod payload;

use std::fmt;

use bytes::Bytes;

use crate::crypto::signature::Signature;
use crate::fingerprint::Fingerprint;
use crate::headers::{DeliveryHeaders, Text};
use crate::scheme::Scheme;
use crate::scheme::identity::Identity;

/// A delivery whose signature has been verified.
///
/// Only a [`Verifier`](crate::Verifier) makes one, so holding a `Delivery` means the body is
/// exactly what Appwrite signed. `B` is the body: `&[u8]` borrowed from the caller by
/// [`Verifier::verify`](crate::Verifier::verify), or [`Bytes`] owned when the body was read
/// from a streaming body ([`Verifier::serve`](crate::Verifier::serve), [`Verifier::extract`](crate::Verifier::extract), [`Verifier::receive`](crate::Verifier::receive)).
///
/// **The headers are not signed.** Appwrite's signature covers the URL and the body only, so
/// the id, name, project, user and events headers are as trustworthy as the network path that
/// carried them. Decide what to do from the body where it matters.
///
/// ```
/// use appwrite_webhooks::{Verifier, sender::DeliveryBuilder};
///
/// let url = "https://example.com/hooks/appwrite";
/// let sent = DeliveryBuilder::new("secret", url, r#"{"$id":"u1"}"#)
///     .events(["users.u1.create", "users.*.create", "users.u1", "users.*"])
///     .build();
///
/// let delivery = Verifier::new("secret", url).verify(sent.headers(), sent.body())?;
/// assert_eq!(delivery.events().next(), Some("users.u1.create"));
/// assert_eq!(delivery.user_id(), None); // Appwrite sends "" for API keys and the console
/// assert_eq!(delivery.body(), br#"{"$id":"u1"}"#);
/// # Ok::<(), appwrite_webhooks::Error>(())
/// ```
#[derive(Clone)]
pub struct Delivery<B = Bytes> {
    pub(crate) scheme: Scheme,
    pub(crate) meta: DeliveryHeaders,
    pub(crate) signature: Signature,
    /// Computed when first asked for where it costs hashes over unsigned headers (Appwrite's
    /// scheme): a verifier without a guard or an inbox never pays for it.
    pub(crate) identity: std::sync::OnceLock<Identity>,
    pub(crate) key_index: usize,
    pub(crate) key_label: Option<std::sync::Arc<str>>,
    pub(crate) body: B,
}

impl<B: AsRef<[u8]>> Delivery<B> {
    /// The webhook's id (`X-Appwrite-Webhook-Id`; `X-Webhook-Id` for [`Scheme::Generic`]).
    ///
    /// ```
    /// # let d = appwrite_webhooks::sender::example_delivery();
    /// assert!(!d.webhook_id().is_empty());
    /// ```
    pub fn webhook_id(&self) -> &str {
        self.meta.webhook_id.as_str()
    }

    /// The webhook's name (`X-Appwrite-Webhook-Name`), `None` when empty.
    ///
    /// ```
    /// # let d = appwrite_webhooks::sender::example_delivery();
    /// assert_eq!(d.webhook_name(), Some("Example"));
    /// ```
    pub fn webhook_name(&self) -> Option<&str> {
        self.meta.webhook_name.as_ref().map(Text::as_str)
    }

    /// The project's id (`X-Appwrite-Webhook-Project-Id`); empty for the opt-in schemes when
    /// not sent.
    ///
    /// ```
    /// # let d = appwrite_webhooks::sender::example_delivery();
    /// assert_eq!(d.project_id(), "example-project");
    /// ```
    pub fn project_id(&self) -> &str {
        self.meta.project_id.as_str()
    }

    /// The user who triggered the event (`X-Appwrite-Webhook-User-Id`); `None` when Appwrite
    /// sent an empty value: the trigger was an API key, the console or a guest.
    ///
    /// ```
    /// # let d = appwrite_webhooks::sender::example_delivery();
    /// assert_eq!(d.user_id(), None);
    /// ```
    pub fn user_id(&self) -> Option<&str> {
        self.meta.user_id.as_ref().map(Text::as_str)
    }

    /// Every event name in `X-Appwrite-Webhook-Events`, in the order Appwrite sent them: the
    /// concrete name first, then wildcard variants and parent resources. That header is not
    /// signed; [`event`](Self::event) checks the ids it names against the signed body. For the
    /// opt-in schemes, whose envelopes sign their event's name, it is that one name (the
    /// envelope's `event` or `type`), whatever the unsigned headers say.
    ///
    /// ```
    /// # let d = appwrite_webhooks::sender::example_delivery();
    /// assert!(d.events().any(|e| e == "users.*"));
    /// ```
    pub fn events(&self) -> impl Iterator<Item = &str> {
        self.meta
            .events
            .as_str()
            .split(',')
            .filter(|e| !e.is_empty())
    }

    /// The events header as sent, comma-joined.
    ///
    /// ```
    /// # let d = appwrite_webhooks::sender::example_delivery();
    /// assert!(d.events_header().starts_with("users."));
    /// ```
    pub fn events_header(&self) -> &str {
        self.meta.events.as_str()
    }

    /// The verified signature.
    ///
    /// ```
    /// # let d = appwrite_webhooks::sender::example_delivery();
    /// assert_eq!(d.signature().to_string().len(), 28);
    /// ```
    pub fn signature(&self) -> &Signature {
        &self.signature
    }

    /// Whether the delivery carried a signature that verified: always, except for an alert a
    /// verifier [accepting unsigned alerts](crate::Verifier::with_unsigned_alerts) let in without
    /// one — anyone could have sent that. Its [`signature`](Self::signature) is then empty and
    /// its [`key_label`](Self::key_label) `"unsigned"`.
    ///
    /// ```
    /// # let d = appwrite_webhooks::sender::example_delivery();
    /// assert!(d.is_signed());
    /// ```
    pub fn is_signed(&self) -> bool {
        !self.signature.is_unsigned()
    }

    /// The scheme the delivery was verified with.
    ///
    /// ```
    /// # let d = appwrite_webhooks::sender::example_delivery();
    /// assert_eq!(d.scheme(), appwrite_webhooks::Scheme::Appwrite);
    /// ```
    pub fn scheme(&self) -> Scheme {
        self.scheme
    }

    /// The signed `X-Appwrite-Webhook-Timestamp` (unix seconds) of a [`Scheme::Timestamped`]
    /// or [`Scheme::Alert`] delivery, already checked against the tolerance; `None` for the
    /// other schemes.
    ///
    /// ```
    /// # let d = appwrite_webhooks::sender::example_delivery();
    /// assert_eq!(d.timestamp(), None);
    /// ```
    pub fn timestamp(&self) -> Option<u64> {
        self.meta.timestamp
    }

    /// Appwrite's id for this delivery (`X-Appwrite-Webhook-Delivery-Id`): one per event and
    /// webhook, repeated by Appwrite's own redeliveries. `None` from servers that do not send
    /// it (every release up to 1.9.6) and for the opt-in schemes. **Not signed**: it names a
    /// delivery, it does not prove one — see [`fingerprint`](Self::fingerprint).
    ///
    /// ```
    /// use appwrite_webhooks::{Verifier, sender::DeliveryBuilder};
    /// let url = "https://example.com/hook";
    /// let sent = DeliveryBuilder::new("k", url, "{}").delivery_id("6762a0f1b3c4d5e6f7a8").build();
    /// let delivery = Verifier::new("k", url).verify(sent.headers(), sent.body())?;
    /// assert_eq!(delivery.delivery_id(), Some("6762a0f1b3c4d5e6f7a8"));
    /// # Ok::<(), appwrite_webhooks::Error>(())
    /// ```
    pub fn delivery_id(&self) -> Option<&str> {
        self.meta.delivery_id.as_ref().map(Text::as_str)
    }

    /// The delivery's identity: what a replay guard and an inbox key on, so copies of one
    /// delivery are handled once. The scheme decides it: for Appwrite's, the signature with the
    /// delivery id when the server sends one, else with the events header as sent — so a
    /// resource created and then deleted unchanged (one body, two events) is two deliveries,
    /// and Appwrite's redeliveries (same bytes, same id or events) are copies. See
    /// [`Scheme`](crate::Scheme) for the table.
    ///
    /// The labels are not signed: a captured body replayed under another events header or
    /// delivery id is a new delivery to the ledger — never a forged body, and the ids it names
    /// are checked against the body — so handlers stay idempotent, and a destructive action
    /// deserves a check with Appwrite's API. [`ReplayGuard::with_max_age`](crate::ReplayGuard::with_max_age)
    /// still bounds how old a replayed body may be.
    ///
    /// ```
    /// use appwrite_webhooks::{Verifier, sender::DeliveryBuilder};
    /// let url = "https://example.com/hook";
    /// let verifier = Verifier::new("k", url);
    /// let body = r#"{"$id":"u1"}"#;
    /// let created = DeliveryBuilder::new("k", url, body).events(["users.u1.create"]).build();
    /// let deleted = DeliveryBuilder::new("k", url, body).events(["users.u1.delete"]).build();
    /// let identity = |sent: &appwrite_webhooks::sender::SignedDelivery| {
    ///     *verifier.verify(sent.headers(), sent.body()).unwrap().fingerprint()
    /// };
    /// let signature = |sent: &appwrite_webhooks::sender::SignedDelivery| sent.headers()["x-appwrite-webhook-signature"].clone();
    /// assert_eq!(signature(&created), signature(&deleted)); // one body, one signature
    /// assert_ne!(identity(&created), identity(&deleted)); // two deliveries
    /// assert_eq!(identity(&created), identity(&created.clone())); // a redelivery is a copy
    /// ```
    pub fn fingerprint(&self) -> &Fingerprint {
        &self.identity().fingerprint
    }

    /// The signed body's key where the delivery's labels are unsigned (Appwrite's scheme): a
    /// ledger lets one body be handled under at most
    /// [`MAX_LABELS_PER_BODY`](crate::MAX_LABELS_PER_BODY) labels.
    pub(crate) fn body_key(&self) -> Option<Fingerprint> {
        self.identity().body_key
    }

    fn identity(&self) -> &Identity {
        self.identity
            .get_or_init(|| self.scheme.labelled_identity(&self.signature, &self.meta))
    }

    /// Which key verified the delivery: its position among the verifier's keys, in the order
    /// they were added (`0` for the key given to [`Verifier::new`](crate::Verifier::new)).
    /// Watching this during a key rotation tells when the old key can be dropped.
    ///
    /// ```
    /// # let d = appwrite_webhooks::sender::example_delivery();
    /// assert_eq!(d.key_index(), 0);
    /// ```
    pub fn key_index(&self) -> usize {
        self.key_index
    }

    /// The [`label`](crate::SigningKey::label) of the key that verified the delivery, if it
    /// has one; the `key` label of the metrics is this, or the index.
    ///
    /// ```
    /// use appwrite_webhooks::{SigningKey, Verifier, sender::DeliveryBuilder};
    ///
    /// let url = "https://example.com/hook";
    /// let verifier = Verifier::new(SigningKey::from("new").label("current"), url)
    ///     .with_key(SigningKey::from("old").label("previous"));
    /// let sent = DeliveryBuilder::new("old", url, "{}").build();
    /// assert_eq!(verifier.verify(sent.headers(), sent.body())?.key_label(), Some("previous"));
    /// # Ok::<(), appwrite_webhooks::Error>(())
    /// ```
    pub fn key_label(&self) -> Option<&str> {
        self.key_label.as_deref()
    }

    /// The raw body bytes, exactly as signed.
    ///
    /// ```
    /// # let d = appwrite_webhooks::sender::example_delivery();
    /// assert!(d.body().starts_with(b"{"));
    /// ```
    pub fn body(&self) -> &[u8] {
        self.body.as_ref()
    }

    /// Gives up the headers and returns the body.
    ///
    /// ```
    /// # let d = appwrite_webhooks::sender::example_delivery();
    /// let body: bytes::Bytes = d.into_body();
    /// assert!(!body.is_empty());
    /// ```
    pub fn into_body(self) -> B {
        self.body
    }

    /// The same delivery with its body copied into [`Bytes`], to keep past the borrow.
    ///
    /// ```
    /// # let d = appwrite_webhooks::sender::example_delivery();
    /// let owned: appwrite_webhooks::Delivery = d.into_owned();
    /// ```
    pub fn into_owned(self) -> Delivery<Bytes> {
        Delivery {
            body: Bytes::copy_from_slice(self.body.as_ref()),
            scheme: self.scheme,
            meta: self.meta,
            signature: self.signature,
            identity: self.identity,
            key_index: self.key_index,
            key_label: self.key_label,
        }
    }
}

impl Delivery<Bytes> {
    /// The body as shared [`Bytes`]: cloning it does not copy the body.
    ///
    /// ```
    /// # let d = appwrite_webhooks::sender::example_delivery();
    /// let body: bytes::Bytes = d.bytes().clone();
    /// assert_eq!(body.as_ptr(), d.body().as_ptr());
    /// ```
    pub fn bytes(&self) -> &Bytes {
        &self.body
    }
}

impl<B: AsRef<[u8]>> fmt::Debug for Delivery<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Delivery")
            .field("scheme", &self.scheme)
            .field("timestamp", &self.meta.timestamp)
            .field("webhook_id", &self.meta.webhook_id)
            .field("webhook_name", &self.meta.webhook_name)
            .field("project_id", &self.meta.project_id)
            .field("user_id", &self.meta.user_id)
            .field("events", &self.meta.events)
            .field("delivery_id", &self.meta.delivery_id)
            .field("signature", &self.signature)
            .field("key_index", &self.key_index)
            .field("key_label", &self.key_label)
            .field("body_len", &self.body.as_ref().len())
            .finish()
    }
}
