//! The verifier: its type, and the constructors of a verifier with fixed keys, one per scheme
//! and signed-URL source.

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

use crate::clock::SystemClock;
use crate::crypto::key::SigningKey;
use crate::error::EmptyKey;
use crate::observe::health::Health;
use crate::scheme::Scheme;
use crate::verify::config::{Config, Urls};
use crate::verify::keys::{KeyRing, KeySet};
use crate::verify::source::{AnyKeys, FixedKeys, KeySource};
use crate::verify::url::ProxyHeaders;

/// Appwrite reads at most 5 MB of a response; we bound what a receiver buffers the same way.
/// Appwrite's own payloads are a few KiB; a row with large columns can be more.
pub const DEFAULT_BODY_LIMIT: usize = 5 * 1024 * 1024;

/// Checks that deliveries were signed by Appwrite with one of your webhook's keys.
///
/// Build it once from the webhook's signing key and its URL **exactly as configured in
/// Appwrite** — scheme, host as typed, port if typed, path, trailing slash if typed, query
/// string if typed — and share it (it is cheap to clone). Then hand each request to one entry
/// point, before anything parses the body.
///
/// ```
/// use appwrite_webhooks::{Verifier, sender::DeliveryBuilder};
///
/// let url = "https://example.com/hooks/appwrite";
/// let verifier = Verifier::new("whsec_new", url).with_key("whsec_old");
///
/// // A delivery still signed with the old key during a rotation:
/// let sent = DeliveryBuilder::new("whsec_old", url, "{}").build();
/// let delivery = verifier.verify(sent.headers(), sent.body())?;
/// assert_eq!(delivery.key_index(), 1);
///
/// // The same bytes presented for another URL do not verify:
/// let elsewhere = Verifier::new("whsec_old", "https://example.com/hooks/appwrite/");
/// assert!(elsewhere.verify(sent.headers(), sent.body()).is_err());
/// # Ok::<(), appwrite_webhooks::Error>(())
/// ```
///
/// # Entry points, one per use
/// | entry point | for | keys |
/// |---|---|---|
/// | [`serve`](Self::serve) | adapters with a layer or middleware (tower, axum's `route_layer`, actix-web's `require_signature`): verify, admit, run the handler, settle, answer | any |
/// | [`extract`](Self::extract) | bare framework extractors: verify a streaming body and build a [`FromDelivery`](crate::FromDelivery) type | any |
/// | [`receive`](Self::receive) | custom integrations that run the handler themselves: verify a streaming body, then admit it | any |
/// | [`admit`](Self::admit) | custom integrations holding a verified delivery: the replay guard's step alone | any |
/// | [`verify`](Self::verify) | the raw body already in hand (serverless functions, tests) | fixed |
/// | [`verify_signature`](Self::verify_signature) | a signature and a body without a request (the CLI's `verify`) | fixed |
/// | [`verify_stored`](Self::verify_stored) | inbox workers: a delivery kept in a store, verified again | any |
///
/// # Options
/// Setters consume the verifier and read `with_<option>(value)`; getters read `<option>()`.
/// Options of one scheme or one key source exist only where they apply:
///
/// | option | where |
/// |---|---|
/// | [`with_key`](Self::with_key), [`with_keys`](Self::with_keys), [`replace_keys`](Self::replace_keys) | fixed keys (`Verifier`); a [`PerTenant`](crate::PerTenant) verifier has none: compile error |
/// | [`with_key_cache_ttl`](Verifier::with_key_cache_ttl), [`forget_cached_keys`](Verifier::forget_cached_keys) | [`Verifier<PerTenant>`](crate::PerTenant) only: compile error elsewhere |
/// | [`with_url`](Self::with_url) | Appwrite's scheme with configured URLs: a panic when the verifier is built otherwise |
/// | [`with_tolerance`](Self::with_tolerance) | the timestamped scheme: a panic when the verifier is built otherwise |
/// | [`with_body_limit`](Self::with_body_limit), [`with_body_timeout`](Self::with_body_timeout), [`with_replay_guard`](Self::with_replay_guard), [`with_basic_auth`](Self::with_basic_auth), [`with_basic_auth_realm`](Self::with_basic_auth_realm), [`with_clock`](Self::with_clock) | every verifier |
///
/// # URL pitfalls
/// - `https://example.com/hook` and `https://example.com/hook/` are different URLs to the
///   signature, although many servers route them alike.
/// - A query string typed in Appwrite (`?tenant=acme`) is part of the signed URL, in the order
///   typed; a receiver that sees it reordered or decoded cannot rebuild it.
/// - Behind a proxy the request this server sees (`http://10.0.0.5:3000/hook`) is not the URL
///   Appwrite used (`https://hooks.example.com/hook`). The configured URL is unaffected; see
///   [`for_request_url`](Self::for_request_url) for the alternative and its risks.
pub struct Verifier<K: KeySource = FixedKeys> {
    pub(crate) inner: Arc<Config>,
    source: PhantomData<fn() -> K>,
}

impl<K: KeySource> Clone for Verifier<K> {
    fn clone(&self) -> Self {
        Self::from_inner(Arc::clone(&self.inner))
    }
}

impl<K: KeySource> Verifier<K> {
    pub(crate) fn from_inner(inner: Arc<Config>) -> Self {
        Self {
            inner,
            source: PhantomData,
        }
    }

    /// The same verifier, for code that only runs asynchronous entry points on it.
    pub(crate) fn any_keys(&self) -> Verifier<AnyKeys> {
        Verifier::from_inner(Arc::clone(&self.inner))
    }

    pub(crate) fn empty(scheme: Scheme, urls: Urls) -> Self {
        let config = Config {
            scheme,
            urls,
            keys: Arc::new(KeyRing::new(KeySet::new(scheme, &[], Vec::new()))),
            resolver: None,
            body_limit: DEFAULT_BODY_LIMIT,
            body_timeout: None,
            replay_guard: None,
            basic_auth: None,
            clock: Arc::new(SystemClock),
            unsigned_alerts: false,
            health: Arc::new(Health::default()),
        };
        Self::from_inner(Arc::new(config))
    }
}

impl Verifier {
    /// A verifier for one key and the webhook URL as configured in Appwrite.
    ///
    /// # Panics
    /// On an empty key ([`EmptyKey`]): it would accept forged deliveries. The panic happens at
    /// start-up, where the key is given; [`try_new`](Self::try_new) returns the error instead.
    ///
    /// ```
    /// let verifier = appwrite_webhooks::Verifier::new("whsec_…", "https://example.com/hook");
    /// ```
    pub fn new(key: impl Into<SigningKey>, url: impl Into<String>) -> Self {
        Self::build(Scheme::Appwrite, key, Urls::Configured(vec![url.into()]))
    }

    /// Like [`new`](Self::new), but an empty key is an error rather than a panic: for keys read
    /// from configuration.
    ///
    /// ```
    /// use appwrite_webhooks::Verifier;
    /// let key = std::env::var("APPWRITE_WEBHOOK_KEY").unwrap_or_default();
    /// match Verifier::try_new(key, "https://example.com/hook") {
    ///     Ok(verifier) => { /* serve */ }
    ///     Err(error) => eprintln!("{error}"),
    /// }
    /// ```
    pub fn try_new(key: impl Into<SigningKey>, url: impl Into<String>) -> Result<Self, EmptyKey> {
        let key = key.into();
        if key.expose_bytes().is_empty() {
            return Err(EmptyKey);
        }
        Ok(Self::new(key, url))
    }

    /// A verifier for the opt-in timestamped scheme ([`Scheme::Timestamped`]): hex
    /// HMAC-SHA256 over `"{timestamp}.{raw body}"`, with the default five-minute tolerance
    /// (change it with [`with_tolerance`](Self::with_tolerance)). No URL is signed.
    ///
    /// ```
    /// use appwrite_webhooks::{Scheme, Verifier, sender::DeliveryBuilder};
    ///
    /// let body = r#"{"$id":"e1","event":"users.u1.create","timestamp":"2025-01-15T10:30:00.000Z","payload":{}}"#;
    /// let sent = DeliveryBuilder::new("k", "https://example.com/hook", body).scheme(Scheme::timestamped()).build();
    /// let delivery = Verifier::timestamped("k").verify(sent.headers(), sent.body())?;
    /// assert!(delivery.timestamp().is_some());
    /// # Ok::<(), appwrite_webhooks::Error>(())
    /// ```
    pub fn timestamped(key: impl Into<SigningKey>) -> Self {
        Self::build(Scheme::timestamped(), key, Urls::Configured(Vec::new()))
    }

    /// A verifier for the opt-in generic scheme ([`Scheme::Generic`]):
    /// `X-Webhook-Signature: sha256=<hex HMAC-SHA256 of the raw body>`.
    ///
    /// ```
    /// use appwrite_webhooks::{Scheme, Verifier, sender::DeliveryBuilder};
    ///
    /// let body = r#"{"id":"evt_1","type":"user.created","created_at":"2023-12-01T15:30:00Z","data":{}}"#;
    /// let sent = DeliveryBuilder::new("k", "https://example.com/hook", body)
    ///     .scheme(Scheme::Generic)
    ///     .events(["user.created"])
    ///     .build();
    /// let delivery = Verifier::generic("k").verify(sent.headers(), sent.body())?;
    /// assert_eq!(delivery.events_header(), "user.created");
    /// # Ok::<(), appwrite_webhooks::Error>(())
    /// ```
    pub fn generic(key: impl Into<SigningKey>) -> Self {
        Self::build(Scheme::Generic, key, Urls::Configured(Vec::new()))
    }

    /// A verifier for Appwrite's alerts ([`Scheme::Alert`]), which its notifications worker
    /// sends — "Webhook deliveries have been paused", usage thresholds — signed with the alert
    /// channel's secret: `sha256=` and hex HMAC-SHA256 over `"{timestamp}.{raw body}"`, with
    /// the default five-minute tolerance (change it with [`with_tolerance`](Self::with_tolerance);
    /// it is read from the verifier's [`Clock`](crate::Clock)). No URL is signed. The typed
    /// event is [`Event::Alert`](crate::Event::Alert). Alerts sent without a signature (a
    /// channel with no secret) are refused with `401`; see
    /// [`with_unsigned_alerts`](Self::with_unsigned_alerts).
    ///
    /// ```
    /// use appwrite_webhooks::{Event, Scheme, Verifier, sender::DeliveryBuilder};
    ///
    /// let body = r#"{"subject":"Webhook deliveries have been paused","body":"…","template":"","params":[],"project":"p1","deduplicationKey":"webhook:wh_01:paused:2026-11-30T08:12:44.120+00:00","events":[]}"#;
    /// let sent = DeliveryBuilder::new("alert-secret", "https://example.com/alerts", body).scheme(Scheme::alert()).build();
    /// let delivery = Verifier::alert("alert-secret").verify(sent.headers(), sent.body())?;
    /// let Event::Alert(alert) = delivery.event()? else { panic!("an alert") };
    /// assert_eq!(alert.project.as_deref(), Some("p1"));
    /// # Ok::<(), appwrite_webhooks::Error>(())
    /// ```
    pub fn alert(key: impl Into<SigningKey>) -> Self {
        Self::build(Scheme::alert(), key, Urls::Configured(Vec::new()))
    }

    /// A verifier for the alerts of a channel with **no secret**, which Appwrite sends without a
    /// signature header: it accepts them, with the tolerance and typing of
    /// [`alert`](Self::alert). **Anyone who can reach the URL can then post alerts**: nothing
    /// proves they come from Appwrite. It has no key, so a signed alert does not verify
    /// (`401`) until one is added with [`with_key`](Self::with_key). Prefer giving the channel
    /// a secret and [`alert`](Self::alert).
    ///
    /// ```
    /// use appwrite_webhooks::{Scheme, Verifier, sender::DeliveryBuilder};
    ///
    /// let body = r#"{"subject":"s","body":"b","template":"","params":[],"project":null,"deduplicationKey":"","events":[]}"#;
    /// let sent = DeliveryBuilder::new("ignored", "https://example.com/alerts", body).scheme(Scheme::alert()).build();
    /// let (url, mut headers, body) = sent.into_parts();
    /// headers.remove("x-appwrite-webhook-signature"); // as a channel without a secret sends it
    /// let delivery = Verifier::alert_unsigned().verify(&headers, &body)?;
    /// assert!(!delivery.is_signed());
    /// assert!(Verifier::alert("secret").verify(&headers, &body).is_err()); // 401 by default
    /// # Ok::<(), appwrite_webhooks::Error>(())
    /// ```
    pub fn alert_unsigned() -> Self {
        Self::empty(Scheme::alert(), Urls::Configured(Vec::new())).with_unsigned_alerts(true)
    }

    /// A verifier that rebuilds the signed URL from each request instead of using a configured
    /// one: scheme, `Host`, path and query, optionally as a trusted proxy reports them.
    ///
    /// Prefer [`new`](Self::new). Rebuilding is for receivers that cannot know their public URL
    /// in advance; it fails closed (signature mismatch) when the request does not show the URL
    /// Appwrite used. With [`ProxyHeaders::Trust`], clients that can reach this server without
    /// passing your proxy choose the URL that gets verified — still not enough to forge a
    /// signature without the key, but enough to replay a delivery captured for another URL.
    ///
    /// Such a verifier needs the request URI: use an entry point that takes it
    /// ([`serve`](Self::serve), [`extract`](Self::extract), [`receive`](Self::receive));
    /// [`verify`](Self::verify) answers [`Error::UrlUnavailable`](crate::Error::UrlUnavailable).
    ///
    /// ```
    /// use appwrite_webhooks::{Delivery, ProxyHeaders, Verifier, sender::DeliveryBuilder};
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let verifier = Verifier::for_request_url("secret", ProxyHeaders::Ignore);
    /// let sent = DeliveryBuilder::new("secret", "http://localhost:3000/hook", "{}").build();
    /// let (mut parts, body) = sent.into_request().into_parts();
    /// parts.headers.insert("host", "localhost:3000".parse().unwrap());
    /// let body = http_body_util::Full::new(body);
    /// let delivery: Result<Delivery, _> = verifier.extract(&parts.uri, &parts.headers, body).await;
    /// assert!(delivery.is_ok());
    /// # }
    /// ```
    pub fn for_request_url(key: impl Into<SigningKey>, proxy: ProxyHeaders) -> Self {
        Self::build(Scheme::Appwrite, key, Urls::FromRequest(proxy))
    }

    /// Also accepts deliveries signed with `key`: for a key rotation, add the new key beside the
    /// old one, regenerate the key in Appwrite, then drop the old key once
    /// [`Delivery::key_index`](crate::Delivery::key_index) stops reporting it. Each extra key costs one more HMAC per
    /// request.
    ///
    /// # Panics
    /// On an empty key ([`EmptyKey`]), like [`new`](Self::new).
    ///
    /// ```
    /// let verifier = appwrite_webhooks::Verifier::new("new", "https://example.com/hook").with_key("old");
    /// ```
    pub fn with_key(mut self, key: impl Into<SigningKey>) -> Self {
        let key = key.into();
        if key.expose_bytes().is_empty() {
            // Where the key is given, at start-up: never a verifier that accepts forgeries.
            panic!("{EmptyKey}");
        }
        let config = Arc::make_mut(&mut self.inner);
        let mut keys = config.keys.current().keys.clone();
        keys.push(key);
        config.rebuild(keys);
        self
    }

    /// Adds several keys at once, in order; see [`with_key`](Self::with_key).
    ///
    /// ```
    /// let verifier = appwrite_webhooks::Verifier::new("k1", "https://example.com/hook")
    ///     .with_keys(["k2", "k3"]);
    /// ```
    pub fn with_keys<K: Into<SigningKey>>(self, keys: impl IntoIterator<Item = K>) -> Self {
        keys.into_iter().fold(self, Self::with_key)
    }

    fn build(scheme: Scheme, key: impl Into<SigningKey>, urls: Urls) -> Self {
        Self::empty(scheme, urls).with_key(key)
    }
}

impl<K: KeySource> fmt::Debug for Verifier<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Verifier")
            .field("scheme", &self.inner.scheme)
            .field("keys", &self.inner.keys.current().keys)
            .field("resolver", &self.inner.resolver)
            .field("basic_auth", &self.inner.basic_auth)
            .field("clock", &self.inner.clock)
            .field("urls", &self.inner.urls)
            .field("body_limit", &self.inner.body_limit)
            .field("body_timeout", &self.inner.body_timeout)
            .field("replay_guard", &self.inner.replay_guard)
            .field("unsigned_alerts", &self.inner.unsigned_alerts)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const URL: &str = "https://example.com/hook";

    #[test]
    fn empty_keys_are_refused_where_they_are_given() {
        assert_eq!(Verifier::try_new("", URL).err(), Some(EmptyKey));
        assert!(Verifier::try_new("k", URL).is_ok());
        for build in [
            (|| drop(Verifier::new("", URL))) as fn(),
            || drop(Verifier::new("k", URL).with_key("")),
            || drop(Verifier::new("k", URL).with_keys(["k2", ""])),
            || drop(Verifier::timestamped(Vec::<u8>::new())),
            || drop(Verifier::generic("")),
            || drop(Verifier::for_request_url("", ProxyHeaders::Ignore)),
        ] {
            let panic = std::panic::catch_unwind(build).expect_err("an empty key must be refused");
            let message = panic.downcast_ref::<String>().cloned().unwrap_or_default();
            assert!(message.contains("empty signing key"), "{message}");
        }
    }

    #[test]
    fn debug_hides_keys() {
        let shown = format!("{:?}", Verifier::new("top-secret-key", URL));
        assert!(!shown.contains("top-secret"), "{shown}");
        assert!(shown.contains(URL));
    }

    #[test]
    fn a_per_tenant_verifier_is_its_own_type() {
        fn fixed(_: &Verifier<FixedKeys>) {}
        fixed(&Verifier::new("k", URL));
        let tenant = Verifier::per_tenant(
            |_: crate::Tenant| async { Ok::<_, crate::StoreError>(vec![]) },
            URL,
        );
        let _: Verifier<crate::PerTenant> = tenant.clone();
        assert!(format!("{tenant:?}").contains("resolver"));
    }
}
