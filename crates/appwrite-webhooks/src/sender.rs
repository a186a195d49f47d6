//! Deliveries built exactly as Appwrite's server builds them: for testing your own handlers,
//! and for the CLI's `send`.
//!
//! ```
//! use appwrite_webhooks::{Verifier, sender::DeliveryBuilder};
//!
//! let url = "https://example.com/hooks/appwrite";
//! let sent = DeliveryBuilder::new("whsec_test", url, r#"{"$id":"u1"}"#)
//!     .events(["users.u1.create", "users.*.create", "users.u1", "users.*"])
//!     .user_id("u1")
//!     .build();
//!
//! // Hand `sent.into_request()` to your router, or check it directly:
//! let delivery = Verifier::new("whsec_test", url).verify(sent.headers(), sent.body())?;
//! assert_eq!(delivery.user_id(), Some("u1"));
//! # Ok::<(), appwrite_webhooks::Error>(())
//! ```

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Request, header};

use crate::crypto::key::SigningKey;
use crate::delivery::Delivery;
use crate::events::name::EventName;
use crate::scheme::{Outgoing, Scheme};
use crate::verify::verifier::Verifier;

/// The `User-Agent` Appwrite's webhook worker sends (version of the sample data).
pub const USER_AGENT: &str = "Appwrite-Server v1.9.6. Please report abuse at security@appwrite.io";

/// Builds a signed delivery with every header Appwrite sends, in Appwrite's order.
///
/// ```
/// use appwrite_webhooks::sender::DeliveryBuilder;
///
/// let sent = DeliveryBuilder::new("key", "https://example.com/hook", "{}")
///     .webhook_id("wh_1")
///     .webhook_name("Orders sync")
///     .project_id("proj_acme")
///     .build();
/// assert_eq!(sent.headers()["x-appwrite-webhook-name"], "Orders sync");
/// ```
#[derive(Debug, Clone)]
pub struct DeliveryBuilder {
    key: SigningKey,
    url: String,
    body: Bytes,
    webhook_id: String,
    webhook_name: String,
    project_id: String,
    user_id: String,
    events: String,
    delivery_id: Option<String>,
    scheme: Scheme,
    timestamp: Option<u64>,
}

impl DeliveryBuilder {
    /// A delivery of `body` to `url`, signed with `key`.
    ///
    /// ```
    /// let builder = appwrite_webhooks::sender::DeliveryBuilder::new("k", "https://e.x/h", "{}");
    /// ```
    pub fn new(key: impl Into<SigningKey>, url: impl Into<String>, body: impl Into<Bytes>) -> Self {
        Self {
            key: key.into(),
            url: url.into(),
            body: body.into(),
            webhook_id: "wh_test".into(),
            webhook_name: String::new(),
            project_id: "test-project".into(),
            user_id: String::new(),
            events: String::new(),
            delivery_id: None,
            scheme: Scheme::default(),
            timestamp: None,
        }
    }

    /// Signs with another [`Scheme`] (default [`Scheme::Appwrite`]). The URL is then only where
    /// the delivery goes; the headers are the scheme's: for [`Scheme::Timestamped`] id, events,
    /// name, timestamp and signature; for [`Scheme::Generic`] `X-Webhook-Id` (the webhook id),
    /// `X-Webhook-Event` (the first of [`events`](Self::events)) and `X-Webhook-Signature`.
    ///
    /// ```
    /// use appwrite_webhooks::{Scheme, Verifier, sender::DeliveryBuilder};
    ///
    /// let body = r#"{"id":"evt_1","type":"user.created","created_at":"2023-12-01T15:30:00Z","data":{}}"#;
    /// let sent = DeliveryBuilder::new("k", "https://example.com/hook", body)
    ///     .scheme(Scheme::Generic)
    ///     .events(["user.created"])
    ///     .build();
    /// assert!(sent.headers()["x-webhook-signature"].to_str().unwrap().starts_with("sha256="));
    /// assert!(Verifier::generic("k").verify(sent.headers(), sent.body()).is_ok());
    /// ```
    pub fn scheme(mut self, scheme: Scheme) -> Self {
        self.scheme = scheme;
        self
    }

    /// Sets the timestamp a [`Scheme::Timestamped`] delivery is signed with (default: now).
    ///
    /// ```
    /// use appwrite_webhooks::{Scheme, sender::DeliveryBuilder};
    /// let sent = DeliveryBuilder::new("k", "https://e.x/h", "{}")
    ///     .scheme(Scheme::timestamped())
    ///     .timestamp(1_700_000_000)
    ///     .build();
    /// assert_eq!(sent.headers()["x-appwrite-webhook-timestamp"], "1700000000");
    /// ```
    pub fn timestamp(mut self, unix_seconds: u64) -> Self {
        self.timestamp = Some(unix_seconds);
        self
    }

    /// Sets `X-Appwrite-Webhook-Id` (default `wh_test`).
    ///
    /// ```
    /// # use appwrite_webhooks::sender::DeliveryBuilder;
    /// let sent = DeliveryBuilder::new("k", "https://e.x/h", "{}").webhook_id("wh_9").build();
    /// assert_eq!(sent.headers()["x-appwrite-webhook-id"], "wh_9");
    /// ```
    pub fn webhook_id(mut self, id: impl Into<String>) -> Self {
        self.webhook_id = id.into();
        self
    }

    /// Sets `X-Appwrite-Webhook-Name` (default empty).
    ///
    /// ```
    /// # use appwrite_webhooks::sender::DeliveryBuilder;
    /// let sent = DeliveryBuilder::new("k", "https://e.x/h", "{}").webhook_name("Sync").build();
    /// assert_eq!(sent.headers()["x-appwrite-webhook-name"], "Sync");
    /// ```
    pub fn webhook_name(mut self, name: impl Into<String>) -> Self {
        self.webhook_name = name.into();
        self
    }

    /// Sets `X-Appwrite-Webhook-Project-Id` (default `test-project`).
    ///
    /// ```
    /// # use appwrite_webhooks::sender::DeliveryBuilder;
    /// let sent = DeliveryBuilder::new("k", "https://e.x/h", "{}").project_id("p").build();
    /// assert_eq!(sent.headers()["x-appwrite-webhook-project-id"], "p");
    /// ```
    pub fn project_id(mut self, id: impl Into<String>) -> Self {
        self.project_id = id.into();
        self
    }

    /// Sets `X-Appwrite-Webhook-User-Id` (default empty: an API key or the console acted).
    ///
    /// ```
    /// # use appwrite_webhooks::sender::DeliveryBuilder;
    /// let sent = DeliveryBuilder::new("k", "https://e.x/h", "{}").user_id("u1").build();
    /// assert_eq!(sent.headers()["x-appwrite-webhook-user-id"], "u1");
    /// ```
    pub fn user_id(mut self, id: impl Into<String>) -> Self {
        self.user_id = id.into();
        self
    }

    /// Sets `X-Appwrite-Webhook-Delivery-Id`, which Appwrite after 1.9.6 sends (one id per event
    /// and webhook, the same on its redeliveries); unset by default, as older servers send none.
    /// Appwrite's scheme only.
    ///
    /// ```
    /// # use appwrite_webhooks::sender::DeliveryBuilder;
    /// let sent = DeliveryBuilder::new("k", "https://e.x/h", "{}").delivery_id("d1").build();
    /// assert_eq!(sent.headers()["x-appwrite-webhook-delivery-id"], "d1");
    /// ```
    pub fn delivery_id(mut self, id: impl Into<String>) -> Self {
        self.delivery_id = Some(id.into());
        self
    }

    /// Sets the event names of `X-Appwrite-Webhook-Events`, concrete name first, as Appwrite
    /// lists them; [`event`](Self::event) fills in the full list Appwrite sends for one event.
    ///
    /// ```
    /// # use appwrite_webhooks::sender::DeliveryBuilder;
    /// let sent = DeliveryBuilder::new("k", "https://e.x/h", "{}").events(["teams.t1.create", "teams.*.create"]).build();
    /// assert_eq!(sent.headers()["x-appwrite-webhook-events"], "teams.t1.create,teams.*.create");
    /// ```
    pub fn events<S: AsRef<str>>(mut self, events: impl IntoIterator<Item = S>) -> Self {
        self.events = events
            .into_iter()
            .map(|e| e.as_ref().to_owned())
            .collect::<Vec<_>>()
            .join(",");
        self
    }

    /// Sets the events header to everything Appwrite sends for one concrete event: the name,
    /// its wildcard variants, parents and mirrors (see [`EventName::expand`]).
    ///
    /// ```
    /// # use appwrite_webhooks::sender::DeliveryBuilder;
    /// let name = "databases.shop.tables.orders.rows.r1.create".parse()?;
    /// let sent = DeliveryBuilder::new("k", "https://e.x/h", "{}").event(&name).build();
    /// let events = sent.headers()["x-appwrite-webhook-events"].to_str().unwrap();
    /// assert!(events.starts_with("databases.shop.tables.orders.rows.r1.create,"));
    /// assert!(events.contains(",databases.*.collections.*.documents.*.create,"));
    /// # Ok::<(), appwrite_webhooks::InvalidEventName>(())
    /// ```
    pub fn event(self, name: &EventName) -> Self {
        self.events(name.expand())
    }

    /// Signs and assembles the delivery.
    ///
    /// Header values that cannot travel in HTTP (control characters in a name or id) are left
    /// out, which a receiver reports as a missing header.
    ///
    /// ```
    /// # use appwrite_webhooks::sender::DeliveryBuilder;
    /// let sent = DeliveryBuilder::new("k", "https://e.x/h", "{}").build();
    /// assert_eq!(sent.headers()["content-length"], "2");
    /// ```
    pub fn build(self) -> SignedDelivery {
        let mut headers = HeaderMap::with_capacity(9);
        let mut put = |name, value: &str| {
            if let Ok(value) = HeaderValue::from_bytes(value.as_bytes()) {
                headers.insert(name, value);
            }
        };
        put(header::CONTENT_TYPE, "application/json");
        put(header::CONTENT_LENGTH, &self.body.len().to_string());
        put(header::USER_AGENT, USER_AGENT);
        let outgoing = Outgoing {
            key: &self.key,
            url: &self.url,
            body: &self.body,
            webhook_id: &self.webhook_id,
            webhook_name: &self.webhook_name,
            project_id: &self.project_id,
            user_id: &self.user_id,
            events: &self.events,
            delivery_id: self.delivery_id.as_deref(),
            timestamp: self.timestamp,
        };
        for (name, value) in self.scheme.signed_headers(&outgoing) {
            put(name, &value);
        }
        SignedDelivery {
            url: self.url,
            headers,
            body: self.body,
        }
    }
}

/// A signed delivery ready to send or to hand to a handler under test.
///
/// ```
/// # use appwrite_webhooks::sender::DeliveryBuilder;
/// let request = DeliveryBuilder::new("k", "https://example.com/hook", "{}").build().into_request();
/// assert_eq!(request.method(), http::Method::POST);
/// assert_eq!(request.uri().path(), "/hook");
/// ```
#[derive(Debug, Clone)]
pub struct SignedDelivery {
    url: String,
    headers: HeaderMap,
    body: Bytes,
}

impl SignedDelivery {
    /// The URL the delivery is signed for.
    ///
    /// ```
    /// # let sent = appwrite_webhooks::sender::DeliveryBuilder::new("k", "https://e.x/h", "{}").build();
    /// assert_eq!(sent.url(), "https://e.x/h");
    /// ```
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Every header, in the order Appwrite sends them.
    ///
    /// ```
    /// # let sent = appwrite_webhooks::sender::DeliveryBuilder::new("k", "https://e.x/h", "{}").build();
    /// assert_eq!(sent.headers().len(), 9);
    /// ```
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// The body bytes.
    ///
    /// ```
    /// # let sent = appwrite_webhooks::sender::DeliveryBuilder::new("k", "https://e.x/h", "{}").build();
    /// assert_eq!(sent.body(), b"{}");
    /// ```
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// A `POST` request to the URL with the headers and body. Falls back to the URI `/` when
    /// the URL does not parse as one (the signature still covers the URL string as given).
    ///
    /// ```
    /// # let sent = appwrite_webhooks::sender::DeliveryBuilder::new("k", "https://e.x/h?x=1", "{}").build();
    /// let request = sent.into_request();
    /// assert_eq!(request.uri().query(), Some("x=1"));
    /// ```
    pub fn into_request(self) -> Request<Bytes> {
        let mut request = Request::new(self.body);
        *request.method_mut() = http::Method::POST;
        *request.uri_mut() = self.url.parse().unwrap_or_default();
        *request.headers_mut() = self.headers;
        request
    }

    /// A delivery recorded elsewhere (say, captured from Appwrite), to send again as is. Nothing
    /// is re-signed: the headers are used exactly as given.
    ///
    /// ```
    /// # use appwrite_webhooks::sender::SignedDelivery;
    /// let recorded = SignedDelivery::from_parts("https://e.x/h".into(), http::HeaderMap::new(), "{}".into());
    /// assert_eq!(recorded.body(), b"{}");
    /// ```
    pub fn from_parts(url: String, headers: HeaderMap, body: Bytes) -> Self {
        Self { url, headers, body }
    }

    /// Splits into URL, headers and body.
    ///
    /// ```
    /// # let sent = appwrite_webhooks::sender::DeliveryBuilder::new("k", "https://e.x/h", "{}").build();
    /// let (url, headers, body) = sent.into_parts();
    /// ```
    pub fn into_parts(self) -> (String, HeaderMap, Bytes) {
        (self.url, self.headers, self.body)
    }
}

/// A verified delivery for documentation examples.
#[doc(hidden)]
pub fn example_delivery() -> Delivery {
    let url = "https://example.com/hook";
    let user = r#"{"$id":"u1","$createdAt":"2020-10-15T06:38:00.000+00:00","$updatedAt":"2020-10-15T06:38:00.000+00:00","name":"Ada","registration":"2020-10-15T06:38:00.000+00:00","status":true,"labels":[],"passwordUpdate":"","email":"ada@example.com","phone":"","emailVerification":true,"phoneVerification":false,"mfa":false,"prefs":{},"targets":[],"accessedAt":""}"#;
    let sent = DeliveryBuilder::new("k", url, user)
        .webhook_name("Example")
        .project_id("example-project")
        .events(["users.u1.create", "users.*.create", "users.u1", "users.*"])
        .build();
    match Verifier::new("k", url).verify(sent.headers(), sent.body()) {
        Ok(delivery) => delivery.into_owned(),
        Err(error) => unreachable!("the example delivery is signed for this verifier: {error}"),
    }
}
