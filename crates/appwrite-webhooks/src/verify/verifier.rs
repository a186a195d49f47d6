//! The verifier's configuration and its three entry points: bytes in hand ([`Verifier::verify`]),
//! a streaming body ([`Verifier::verify_body`]) and a signature alone
//! ([`Verifier::verify_signature`]).

use std::fmt;
use std::sync::Arc;

use std::time::Duration;

use crate::clock::{Clock, SystemClock};
use crate::crypto::key::SigningKey;
use crate::error::EmptyKey;
use crate::observe::health::Health;
use crate::replay::ReplayGuard;
use crate::scheme::Scheme;
use crate::verify::basic::{BasicAuth, valid_realm};
use crate::verify::config::{Config, Urls};
use crate::verify::keys::{KeyRing, KeySet};
use crate::verify::resolver::{KeyResolver, Resolving};
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

    /// A verifier for Appwrite's scheme that asks `resolver` for the keys of each delivery's
    /// webhook and project ([`Tenant`](crate::Tenant)): one receiver for many Appwrite projects
    /// and webhooks, posting to `url` (add more with [`also_accept_url`](Self::also_accept_url)).
    ///
    /// Answers are cached per tenant for [`key_cache_ttl`](Self::key_cache_ttl) (60 s; "no
    /// keys" for 5 s), a resolver that fails or takes over 5 s gives `503` (Appwrite retries),
    /// an unknown tenant `401`, and one delivery tries at most
    /// [`MAX_KEYS_PER_DELIVERY`](crate::MAX_KEYS_PER_DELIVERY) keys.
    ///
    /// The webhook and project ids are unsigned headers. That is safe: they only choose which
    /// keys to try, and keys chosen for the wrong tenant did not sign the body, so a sender who
    /// changes them fails verification. Only ids shaped like Appwrite's reach the resolver.
    ///
    /// Resolving is asynchronous: use [`receive`](Self::receive) or
    /// [`verify_body`](Self::verify_body) (every adapter does); [`verify`](Self::verify)
    /// answers [`Error::KeysNeedAsync`](crate::Error::KeysNeedAsync).
    ///
    /// ```
    /// use appwrite_webhooks::{SigningKey, StoreError, Tenant, Verifier, sender::DeliveryBuilder};
    /// use http_body_util::Full;
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let url = "https://hooks.example.com/appwrite";
    /// let verifier = Verifier::per_tenant(
    ///     |tenant: Tenant| async move {
    ///         // Look the keys up in your database:
    ///         Ok::<_, StoreError>(match tenant.project_id.as_str() {
    ///             "shop" => vec![SigningKey::from("whsec_shop")],
    ///             "blog" => vec![SigningKey::from("whsec_blog")],
    ///             _ => vec![],
    ///         })
    ///     },
    ///     url,
    /// );
    /// let sent = DeliveryBuilder::new("whsec_blog", url, "{}").project_id("blog").build();
    /// let (parts, body) = sent.into_request().into_parts();
    /// let delivery = verifier.verify_body(&parts.uri, &parts.headers, Full::new(body)).await.unwrap();
    /// assert_eq!(delivery.project_id(), "blog");
    /// # }
    /// ```
    pub fn per_tenant(resolver: impl KeyResolver, url: impl Into<String>) -> Self {
        let mut verifier = Self::empty(Scheme::Appwrite, Urls::Configured(vec![url.into()]));
        Arc::make_mut(&mut verifier.inner).resolver = Some(Arc::new(Resolving::new(resolver)));
        verifier
    }

    fn build(scheme: Scheme, key: impl Into<SigningKey>, urls: Urls) -> Self {
        Self::empty(scheme, urls).with_key(key)
    }

    fn empty(scheme: Scheme, urls: Urls) -> Self {
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

    /// Requires HTTP Basic credentials on every delivery, as Appwrite sends them when the
    /// webhook has a username and a password (`Authorization: Basic …`, only when both are
    /// set). Call it again to accept more pairs, for a rotation: change them in Appwrite, then
    /// drop the old pair. Credentials are compared in constant time, checked before the body is
    /// read, and never logged; a missing, malformed or wrong header is `401` with
    /// `WWW-Authenticate: Basic realm="…"` ([`Error::BasicAuth`](crate::Error::BasicAuth)).
    ///
    /// It is an extra layer, not a replacement for the signature: the password travels with
    /// every request, so it proves less than the HMAC does. Deliveries kept in an
    /// [`inbox`](crate::inbox) are checked when they arrive, not again by the workers.
    ///
    /// # Panics
    /// On an empty user name or password: Appwrite would send no credentials at all.
    ///
    /// ```
    /// use appwrite_webhooks::Verifier;
    /// let verifier = Verifier::new("k", "https://example.com/hook")
    ///     .require_basic_auth("appwrite", "new-password")
    ///     .require_basic_auth("appwrite", "old-password");
    /// ```
    pub fn require_basic_auth(mut self, user: &str, password: &str) -> Self {
        assert!(
            !user.is_empty() && !password.is_empty(),
            "empty HTTP Basic user name or password: Appwrite sends credentials only when both are set"
        );
        Arc::make_mut(&mut self.inner)
            .basic_auth
            .get_or_insert_with(BasicAuth::new)
            .accept(user, password);
        self
    }

    /// The realm the `WWW-Authenticate` challenge names (default `appwrite-webhooks`).
    ///
    /// # Panics
    /// On a realm that cannot be a quoted string: empty, over 128 bytes, or with `"`, `\` or
    /// control characters.
    ///
    /// ```
    /// let verifier = appwrite_webhooks::Verifier::new("k", "https://example.com/hook")
    ///     .require_basic_auth("appwrite", "s3cret")
    ///     .basic_auth_realm("Appwrite webhooks");
    /// ```
    pub fn basic_auth_realm(mut self, realm: &str) -> Self {
        assert!(valid_realm(realm), "invalid HTTP Basic realm {realm:?}");
        Arc::make_mut(&mut self.inner)
            .basic_auth
            .get_or_insert_with(BasicAuth::new)
            .realm = realm.into();
        self
    }

    /// Whether HTTP Basic credentials are required.
    pub fn requires_basic_auth(&self) -> bool {
        self.inner.basic_auth.is_some()
    }

    /// Reads the time from `clock` instead of the system's: for the timestamped scheme's
    /// tolerance, the replay guard's [`max_age`](ReplayGuard::max_age), keys'
    /// [`not_after`](SigningKey::not_after) and the key cache. For deterministic tests, and for
    /// tools that check deliveries as of another time.
    ///
    /// ```
    /// use std::time::{Duration, UNIX_EPOCH};
    /// use appwrite_webhooks::{ManualClock, Scheme, Verifier, sender::DeliveryBuilder};
    ///
    /// let clock = ManualClock::at(UNIX_EPOCH + Duration::from_secs(1_700_000_000));
    /// let verifier = Verifier::timestamped("k").with_clock(clock.clone());
    /// let body = r#"{"$id":"e1","event":"users.u1.create","timestamp":"2023-11-14T22:13:20.000Z","payload":{}}"#;
    /// let sent = DeliveryBuilder::new("k", "https://example.com/hook", body)
    ///     .scheme(Scheme::timestamped())
    ///     .timestamp(1_700_000_000)
    ///     .build();
    /// assert!(verifier.verify(sent.headers(), sent.body()).is_ok());
    /// clock.advance(Duration::from_secs(301)); // past the five-minute tolerance
    /// assert!(verifier.verify(sent.headers(), sent.body()).is_err());
    /// ```
    pub fn with_clock(mut self, clock: impl Clock) -> Self {
        Arc::make_mut(&mut self.inner).clock = Arc::new(clock);
        self
    }

    /// How long a [`per_tenant`](Self::per_tenant) verifier reuses a resolver's answer
    /// (default 60 s). Shorter picks up new keys sooner; every expiry costs one resolver call
    /// per tenant. A verifier without a resolver ignores it.
    ///
    /// ```
    /// # use appwrite_webhooks::{StoreError, Tenant, Verifier};
    /// let verifier = Verifier::per_tenant(|_: Tenant| async { Ok::<_, StoreError>(vec![]) }, "https://example.com/hook")
    ///     .key_cache_ttl(std::time::Duration::from_secs(10));
    /// ```
    pub fn key_cache_ttl(mut self, ttl: Duration) -> Self {
        let config = Arc::make_mut(&mut self.inner);
        if let Some(resolving) = &config.resolver {
            let mut fresh = resolving.with_fresh_cache();
            fresh.ttl = ttl;
            config.resolver = Some(Arc::new(fresh));
        }
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

/// Changing keys while the server runs.
impl Verifier {
    /// Replaces the keys this verifier — and every clone of it — tries, without a restart:
    /// requests that already started keep the keys they started with, the next ones use
    /// `keys`. For a rotation, pass the new key and the old one (with a
    /// [`not_after`](SigningKey::not_after) to end the window by itself), then the new key
    /// alone. Refuses an empty list or an empty key, leaving the keys as they were. A
    /// [`per_tenant`](Self::per_tenant) verifier has no fixed keys: use
    /// [`forget_cached_keys`](Self::forget_cached_keys).
    ///
    /// ```
    /// use appwrite_webhooks::{Verifier, sender::DeliveryBuilder};
    ///
    /// let url = "https://example.com/hook";
    /// let verifier = Verifier::new("old", url);
    /// let serving = verifier.clone(); // e.g. held by the server's router
    /// let sent = DeliveryBuilder::new("new", url, "{}").build();
    /// assert!(serving.verify(sent.headers(), sent.body()).is_err());
    ///
    /// verifier.replace_keys(["new", "old"])?;
    /// assert_eq!(serving.verify(sent.headers(), sent.body())?.key_index(), 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn replace_keys<K: Into<SigningKey>>(
        &self,
        keys: impl IntoIterator<Item = K>,
    ) -> Result<(), EmptyKey> {
        let keys: Vec<SigningKey> = keys.into_iter().map(Into::into).collect();
        if keys.is_empty() || keys.iter().any(|k| k.expose_bytes().is_empty()) {
            return Err(EmptyKey);
        }
        self.inner.keys.replace(self.inner.key_set(keys));
        Ok(())
    }

    /// Forgets every key set a [`per_tenant`](Self::per_tenant) verifier cached: the next
    /// delivery of each tenant asks the resolver again. Call it after changing a tenant's
    /// keys in your store. Does nothing without a resolver.
    pub fn forget_cached_keys(&self) {
        if let Some(resolving) = &self.inner.resolver {
            resolving.clear();
        }
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
