//! The verifier's configuration and its three entry points: bytes in hand ([`Verifier::verify`]),
//! a streaming body ([`Verifier::verify_body`]) and a signature alone
//! ([`Verifier::verify_signature`]).

use std::fmt;
use std::sync::Arc;

use std::time::Duration;

use crate::clock::SystemClock;
use crate::crypto::key::SigningKey;
use crate::error::EmptyKey;
use crate::observe::health::Health;
use crate::replay::ReplayGuard;
use crate::scheme::Scheme;
use crate::verify::config::{Config, Urls};
use crate::verify::keys::{KeyRing, KeySet};
use crate::verify::url::ProxyHeaders;

/// Appwrite reads at most 5 MB of a response; we bound what a receiver buffers the same way.
/// Appwrite's own payloads are a few KiB; a row with large columns can be more.
pub const DEFAULT_BODY_LIMIT: usize = 5 * 1024 * 1024;

/// Checks that deliveries were signed by Appwrite with one of your webhook's keys.
///
/// Build it once from the webhook's signing key and its URL **exactly as configured in
/// Appwrite** — scheme, host as typed, port if typed, path, trailing slash if typed, query
/// string if typed — and share it (it is cheap to clone). Then hand each request's headers and
/// raw body bytes to [`verify`](Self::verify), or its streaming body to
/// [`verify_body`](Self::verify_body), before anything parses the body.
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
/// # URL pitfalls
/// - `https://example.com/hook` and `https://example.com/hook/` are different URLs to the
///   signature, although many servers route them alike.
/// - A query string typed in Appwrite (`?tenant=acme`) is part of the signed URL, in the order
///   typed; a receiver that sees it reordered or decoded cannot rebuild it.
/// - Behind a proxy the request this server sees (`http://10.0.0.5:3000/hook`) is not the URL
///   Appwrite used (`https://hooks.example.com/hook`). The configured URL is unaffected; see
///   [`for_request_url`](Self::for_request_url) for the alternative and its risks.
#[derive(Clone)]
pub struct Verifier {
    pub(crate) inner: Arc<Config>,
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
    /// (change it with [`tolerance`](Self::tolerance)). No URL is signed.
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

    /// A verifier that rebuilds the signed URL from each request instead of using a configured
    /// one: scheme, `Host`, path and query, optionally as a trusted proxy reports them.
    ///
    /// Prefer [`new`](Self::new). Rebuilding is for receivers that cannot know their public URL
    /// in advance; it fails closed (signature mismatch) when the request does not show the URL
    /// Appwrite used. With [`ProxyHeaders::Trust`], clients that can reach this server without
    /// passing your proxy choose the URL that gets verified — still not enough to forge a
    /// signature without the key, but enough to replay a delivery captured for another URL.
    ///
    /// Such a verifier needs the request URI: use [`verify_body`](Self::verify_body), which
    /// takes it ([`verify`](Self::verify) answers [`Error::UrlUnavailable`](crate::Error::UrlUnavailable)).
    ///
    /// ```
    /// use appwrite_webhooks::{ProxyHeaders, Verifier, sender::DeliveryBuilder};
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let verifier = Verifier::for_request_url("secret", ProxyHeaders::Ignore);
    /// let sent = DeliveryBuilder::new("secret", "http://localhost:3000/hook", "{}").build();
    /// let (mut parts, body) = sent.into_request().into_parts();
    /// parts.headers.insert("host", "localhost:3000".parse().unwrap());
    /// let body = http_body_util::Full::new(body);
    /// assert!(verifier.verify_body(&parts.uri, &parts.headers, body).await.is_ok());
    /// # }
    /// ```
    pub fn for_request_url(key: impl Into<SigningKey>, proxy: ProxyHeaders) -> Self {
        Self::build(Scheme::Appwrite, key, Urls::FromRequest(proxy))
    }

    fn build(scheme: Scheme, key: impl Into<SigningKey>, urls: Urls) -> Self {
        Self::empty(scheme, urls).with_key(key)
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
            health: Arc::new(Health::default()),
        };
        Self {
            inner: Arc::new(config),
        }
    }
}

/// Configuration: keys, URLs, limits and the replay guard, set once when the verifier is built.
impl Verifier {
    /// Sets how far a [`Scheme::Timestamped`] delivery's timestamp may be from this server's
    /// clock, either way (default [`Scheme::DEFAULT_TOLERANCE`], five minutes). The other
    /// schemes sign no timestamp, and keep no tolerance: there it changes nothing.
    ///
    /// ```
    /// use std::time::Duration;
    /// let verifier = appwrite_webhooks::Verifier::timestamped("k").tolerance(Duration::from_secs(60));
    /// assert_eq!(verifier.scheme().tolerance(), Some(Duration::from_secs(60)));
    /// ```
    pub fn tolerance(mut self, tolerance: Duration) -> Self {
        let config = Arc::make_mut(&mut self.inner);
        config.scheme = config.scheme.with_tolerance(tolerance);
        config.rebuild(config.keys.current().keys.clone());
        self
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

    /// Also accepts deliveries signed for `url`: for a receiver that several webhooks reach
    /// under different names (`https://a.example/hook`, `https://b.example/hook`). Each extra
    /// URL costs one more HMAC per key and request. Only Appwrite's scheme signs the URL; the
    /// others, and a verifier that rebuilds the URL from the request, ignore it.
    ///
    /// ```
    /// let verifier = appwrite_webhooks::Verifier::new("k", "https://a.example/hook")
    ///     .also_accept_url("https://b.example/hook");
    /// ```
    pub fn also_accept_url(mut self, url: impl Into<String>) -> Self {
        let config = Arc::make_mut(&mut self.inner);
        if let Urls::Configured(urls) = &mut config.urls {
            urls.push(url.into());
        }
        config.rebuild(config.keys.current().keys.clone());
        if let Some(resolving) = &config.resolver {
            // Cached sets were prepared for the old URLs: start afresh.
            config.resolver = Some(Arc::new(resolving.with_fresh_cache()));
        }
        self
    }

    /// Sets the largest body accepted, in bytes (default [`DEFAULT_BODY_LIMIT`](crate::DEFAULT_BODY_LIMIT), 5 MiB).
    /// Larger bodies fail with [`Error::BodyTooLarge`](crate::Error::BodyTooLarge) (413) — before reading when the request
    /// declares its `Content-Length`, and as soon as the limit is passed otherwise.
    ///
    /// ```
    /// let verifier = appwrite_webhooks::Verifier::new("k", "https://example.com/hook")
    ///     .with_body_limit(256 * 1024);
    /// assert_eq!(verifier.body_limit(), 256 * 1024);
    /// ```
    pub fn with_body_limit(mut self, bytes: usize) -> Self {
        Arc::make_mut(&mut self.inner).body_limit = bytes;
        self
    }

    /// The largest body accepted, in bytes.
    ///
    /// ```
    /// let verifier = appwrite_webhooks::Verifier::new("k", "https://example.com/hook");
    /// assert_eq!(verifier.body_limit(), appwrite_webhooks::DEFAULT_BODY_LIMIT);
    /// ```
    pub fn body_limit(&self) -> usize {
        self.inner.body_limit
    }

    /// Gives up on a request body that has not fully arrived `timeout` after reading began:
    /// [`Error::BodyTimeout`](crate::Error::BodyTimeout) (408), and the connection is closed rather than held by a sender
    /// that stopped sending. Off by default; Appwrite itself gives up after 15 s, so anything
    /// from a few seconds up to that suits. Applies to [`verify_body`](Self::verify_body) and
    /// [`receive`](Self::receive) (every adapter), and needs a Tokio runtime with time enabled.
    ///
    /// This bounds the body only; bound slow headers on the server (hyper's
    /// `http1::Builder::header_read_timeout`, actix-web's `HttpServer::client_request_timeout`).
    ///
    /// ```
    /// use std::time::Duration;
    /// let verifier = appwrite_webhooks::Verifier::new("k", "https://example.com/hook")
    ///     .with_body_timeout(Duration::from_secs(10));
    /// assert_eq!(verifier.body_timeout(), Some(Duration::from_secs(10)));
    /// ```
    pub fn with_body_timeout(mut self, timeout: Duration) -> Self {
        Arc::make_mut(&mut self.inner).body_timeout = Some(timeout);
        self
    }

    /// The body timeout set by [`with_body_timeout`](Self::with_body_timeout), if any.
    pub fn body_timeout(&self) -> Option<Duration> {
        self.inner.body_timeout
    }

    /// The scheme this verifier checks.
    ///
    /// ```
    /// use appwrite_webhooks::{Scheme, Verifier};
    /// assert_eq!(Verifier::new("k", "https://example.com/hook").scheme(), Scheme::Appwrite);
    /// assert_eq!(Verifier::generic("k").scheme(), Scheme::Generic);
    /// ```
    pub fn scheme(&self) -> Scheme {
        self.inner.scheme
    }

    /// De-duplicates verified deliveries with `guard`: [`receive`](Self::receive) claims each
    /// one, and the adapters that see the handler's outcome (the tower layer, under axum too,
    /// and the actix-web middleware) settle the claim with it. See [`ReplayGuard`] for the
    /// guarantee.
    ///
    /// ```
    /// use appwrite_webhooks::{ReplayGuard, Verifier};
    /// let verifier = Verifier::new("k", "https://example.com/hook").replay_guard(ReplayGuard::in_memory());
    /// ```
    pub fn replay_guard(mut self, guard: ReplayGuard) -> Self {
        Arc::make_mut(&mut self.inner).replay_guard = Some(guard);
        self
    }

    /// Whether a [`replay_guard`](Self::replay_guard) is set.
    ///
    /// ```
    /// use appwrite_webhooks::{ReplayGuard, Verifier};
    /// let verifier = Verifier::new("k", "https://example.com/hook");
    /// assert!(!verifier.has_replay_guard());
    /// assert!(verifier.replay_guard(ReplayGuard::in_memory()).has_replay_guard());
    /// ```
    pub fn has_replay_guard(&self) -> bool {
        self.inner.replay_guard.is_some()
    }
}

impl fmt::Debug for Verifier {
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
    fn tolerance_never_panics_and_applies_only_where_the_scheme_has_one() {
        let minute = Duration::from_secs(60);
        assert_eq!(
            Verifier::new("k", URL).tolerance(minute).scheme(),
            Scheme::Appwrite
        );
        assert_eq!(
            Verifier::generic("k").tolerance(minute).scheme(),
            Scheme::Generic
        );
        assert_eq!(
            Verifier::timestamped("k")
                .tolerance(minute)
                .scheme()
                .tolerance(),
            Some(minute)
        );
    }
}
