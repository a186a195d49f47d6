//! The verifier's configuration and its three entry points: bytes in hand ([`Verifier::verify`]),
//! a streaming body ([`Verifier::verify_body`]) and a signature alone
//! ([`Verifier::verify_signature`]).

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Uri};

use crate::delivery::Delivery;
use crate::error::Error;
use crate::replay::{Claim, ReplayGuard};
use crate::scheme::Scheme;
use crate::verify::key::SigningKey;
use crate::verify::mac::{Candidates, KeyedMac};
use crate::verify::streaming::{Verification, declared_len};
use crate::verify::url::{ProxyHeaders, reconstruct};

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
    inner: Arc<Config>,
}

#[derive(Clone)]
struct Config {
    scheme: Scheme,
    keys: Vec<SigningKey>,
    /// One HMAC state per key, with the key absorbed: no per-request key setup.
    keyed: Vec<KeyedMac>,
    urls: Urls,
    /// The states every request starts from, with all the scheme signs before the body
    /// absorbed where that is the same for every request (Appwrite's configured URLs).
    prepared: Vec<(usize, KeyedMac)>,
    body_limit: usize,
    replay_guard: Option<ReplayGuard>,
}

/// Where the signed URL comes from (only Appwrite's scheme signs one).
#[derive(Clone, Debug)]
enum Urls {
    Configured(Vec<String>),
    FromRequest(ProxyHeaders),
}

impl Verifier {
    /// A verifier for one key and the webhook URL as configured in Appwrite.
    ///
    /// ```
    /// let verifier = appwrite_webhooks::Verifier::new("whsec_…", "https://example.com/hook");
    /// ```
    pub fn new(key: impl Into<SigningKey>, url: impl Into<String>) -> Self {
        Self::build(Scheme::Appwrite, key, Urls::Configured(vec![url.into()]))
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
    /// takes it ([`verify`](Self::verify) answers [`Error::UrlUnavailable`]).
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
        let config = Config {
            scheme,
            keys: Vec::new(),
            keyed: Vec::new(),
            urls,
            prepared: Vec::new(),
            body_limit: DEFAULT_BODY_LIMIT,
            replay_guard: None,
        };
        Self {
            inner: Arc::new(config),
        }
        .with_key(key)
    }

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
        self
    }

    /// Also accepts deliveries signed with `key`: for a key rotation, add the new key beside the
    /// old one, regenerate the key in Appwrite, then drop the old key once
    /// [`Delivery::key_index`] stops reporting it. Each extra key costs one more HMAC per
    /// request.
    ///
    /// ```
    /// let verifier = appwrite_webhooks::Verifier::new("new", "https://example.com/hook").with_key("old");
    /// ```
    pub fn with_key(mut self, key: impl Into<SigningKey>) -> Self {
        let config = Arc::make_mut(&mut self.inner);
        config.keys.push(key.into());
        config.rebuild();
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
        config.rebuild();
        self
    }

    /// Sets the largest body accepted, in bytes (default [`DEFAULT_BODY_LIMIT`], 5 MiB).
    /// Larger bodies fail with [`Error::BodyTooLarge`] (413) — before reading when the request
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

    /// De-duplicates verified deliveries with `guard`: every adapter (the tower layer, the
    /// axum and actix-web extractors, the actix-web middleware) then answers repeats without
    /// running the handler. See [`ReplayGuard`] for the contract.
    ///
    /// ```
    /// use appwrite_webhooks::{ReplayGuard, Verifier};
    /// let verifier = Verifier::new("k", "https://example.com/hook").replay_guard(ReplayGuard::in_memory());
    /// ```
    pub fn replay_guard(mut self, guard: ReplayGuard) -> Self {
        Arc::make_mut(&mut self.inner).replay_guard = Some(guard);
        self
    }

    /// Applies the replay guard, if one is configured, to a verified delivery: the step adapters
    /// run between verifying and handling. Release the returned claim if handling fails.
    ///
    /// ```
    /// use appwrite_webhooks::{Error, ReplayGuard, Verifier, sender::DeliveryBuilder};
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let url = "https://example.com/hook";
    /// let verifier = Verifier::new("k", url).replay_guard(ReplayGuard::in_memory());
    /// let sent = DeliveryBuilder::new("k", url, "{}").build();
    /// let delivery = verifier.verify(sent.headers(), sent.body()).unwrap();
    ///
    /// let claim = verifier.admit(&delivery).await.unwrap();
    /// assert!(matches!(verifier.admit(&delivery).await, Err(Error::Duplicate { .. })));
    /// claim.release().await; // handling failed: let the retry through
    /// assert!(verifier.admit(&delivery).await.is_ok());
    /// # }
    /// ```
    pub async fn admit<B: AsRef<[u8]>>(&self, delivery: &Delivery<B>) -> Result<Claim, Error> {
        match &self.inner.replay_guard {
            Some(guard) => guard.admit(delivery).await,
            None => Ok(Claim::none()),
        }
    }

    /// Verifies a delivery whose raw body is in hand, and parses its headers.
    ///
    /// `body` must be the raw bytes as received: not parsed and re-serialised, not decoded.
    ///
    /// ```
    /// use appwrite_webhooks::{Error, Verifier, sender::DeliveryBuilder};
    ///
    /// let url = "https://example.com/hook";
    /// let sent = DeliveryBuilder::new("secret", url, r#"{"note":"a\/b"}"#).build();
    /// let verifier = Verifier::new("secret", url);
    /// assert!(verifier.verify(sent.headers(), sent.body()).is_ok());
    ///
    /// // Re-serialising the JSON changes `\/` to `/`, and the signature no longer matches:
    /// let reencoded = br#"{"note":"a/b"}"#;
    /// assert!(matches!(verifier.verify(sent.headers(), reencoded), Err(Error::SignatureMismatch)));
    /// ```
    pub fn verify<'b>(
        &self,
        headers: &HeaderMap,
        body: &'b [u8],
    ) -> Result<Delivery<&'b [u8]>, Error> {
        let mut verification = self.start(None, headers)?;
        verification.update_slice(body)?;
        let (meta, signature, key_index) = verification.finish_parts()?;
        Ok(Delivery {
            meta,
            signature,
            key_index,
            body,
        })
    }

    /// Reads an [`http_body::Body`] and verifies it as it arrives: the one call an HTTP
    /// integration needs. The HMAC advances with every chunk and the body is held once (a
    /// single-chunk body is not copied at all). Reading stops at the first chunk past the body
    /// limit ([`Error::BodyTooLarge`]), or before reading at all when the declared
    /// `Content-Length` is over it or the signature header is missing or malformed. Trailers
    /// are ignored. `uri` is only read by a verifier made with
    /// [`for_request_url`](Self::for_request_url).
    ///
    /// ```
    /// use appwrite_webhooks::{Verifier, sender::DeliveryBuilder};
    /// use http_body_util::Full;
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), appwrite_webhooks::Error> {
    /// let url = "https://example.com/hook";
    /// let request = DeliveryBuilder::new("k", url, "{}").build().into_request();
    /// let (parts, body) = request.into_parts();
    ///
    /// let delivery = Verifier::new("k", url).verify_body(&parts.uri, &parts.headers, Full::new(body)).await?;
    /// assert_eq!(delivery.body(), b"{}");
    /// # Ok(()) }
    /// ```
    pub async fn verify_body<B>(
        &self,
        uri: &Uri,
        headers: &HeaderMap,
        body: B,
    ) -> Result<Delivery<Bytes>, Error>
    where
        B: http_body::Body,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        use http_body_util::BodyExt as _;

        let mut verification = self.start(Some(uri), headers)?;
        let mut body = std::pin::pin!(body);
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| Error::ReadBody(e.into()))?;
            if let Ok(mut data) = frame.into_data() {
                // `copy_to_bytes` is free when the chunk already is `Bytes` (hyper, axum).
                let len = bytes::Buf::remaining(&data);
                verification.update(bytes::Buf::copy_to_bytes(&mut data, len))?;
            }
        }
        verification.finish()
    }

    /// Checks only the signature over `body` — and, for the timestamped scheme, its timestamp
    /// — from the scheme's signature (and timestamp) headers, and returns the index of the key
    /// that produced it. No other header is read. For tools that hold a signature and a body
    /// but no request, like the CLI's `verify`.
    ///
    /// ```
    /// use appwrite_webhooks::{Scheme, Verifier, sign};
    ///
    /// let url = "https://example.com/hook";
    /// let mut headers = http::HeaderMap::new();
    /// headers.insert(Scheme::Appwrite.signature_header(), sign("old", url, b"{}").parse()?);
    /// let verifier = Verifier::new("new", url).with_key("old");
    /// assert_eq!(verifier.verify_signature(&headers, b"{}")?, 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn verify_signature(&self, headers: &HeaderMap, body: &[u8]) -> Result<usize, Error> {
        let mut verification = self.start(None, headers)?;
        verification.update_slice(body)?;
        verification.matching_key()
    }

    /// Checks what can be checked before the body: the signature header is present and well
    /// formed, the scheme's per-request input (timestamp, rebuilt URL) is usable, and a
    /// declared `Content-Length` is within the limit. Returns the states the body goes into.
    fn start(&self, uri: Option<&Uri>, headers: &HeaderMap) -> Result<Verification, Error> {
        let config = &*self.inner;
        let signature = config.scheme.signature_from(headers)?;
        let rebuilt = match (&config.urls, uri) {
            (Urls::FromRequest(proxy), Some(uri)) => reconstruct(uri, headers, *proxy)?,
            (Urls::FromRequest(_), None) => {
                return Err(Error::UrlUnavailable(
                    "no request URI given; use verify_body",
                ));
            }
            (Urls::Configured(_), _) => Vec::new(),
        };
        let (prefixes, timestamp) = config.scheme.request_prefixes(headers, &rebuilt)?;
        let declared = declared_len(headers);
        if let Some(len) = declared {
            check_len(len, config.body_limit)?;
        }
        let mut candidates =
            Candidates::with_capacity(config.prepared.len() + prefixes.len() * config.keys.len());
        for (key_index, mac) in &config.prepared {
            candidates.push(*key_index, mac.clone());
        }
        for prefix in &prefixes {
            for (key_index, keyed) in config.keyed.iter().enumerate() {
                candidates.push(key_index, keyed.absorbing(prefix));
            }
        }
        Ok(Verification::new(
            candidates,
            signature,
            config.scheme.parse_headers(headers, timestamp),
            config.body_limit,
            declared,
        ))
    }
}

/// Refuses a body of `len` bytes over `limit`.
pub(crate) fn check_len(len: u64, limit: usize) -> Result<(), Error> {
    if len > limit as u64 {
        return Err(Error::BodyTooLarge { limit });
    }
    Ok(())
}

impl Config {
    /// Recomputes the keyed states and the prepared states after keys or URLs change.
    fn rebuild(&mut self) {
        let hash = self.scheme.hash();
        self.keyed = self.keys.iter().map(|k| KeyedMac::new(hash, k)).collect();
        let configured = match &self.urls {
            Urls::Configured(urls) => urls.as_slice(),
            Urls::FromRequest(_) => &[],
        };
        let prefixes = self.scheme.fixed_prefixes(configured);
        self.prepared = prefixes
            .iter()
            .flat_map(|prefix| {
                self.keyed
                    .iter()
                    .enumerate()
                    .map(move |(key_index, keyed)| (key_index, keyed.absorbing(prefix)))
            })
            .collect();
    }
}

impl fmt::Debug for Verifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Verifier")
            .field("scheme", &self.inner.scheme)
            .field("keys", &self.inner.keys)
            .field("urls", &self.inner.urls)
            .field("body_limit", &self.inner.body_limit)
            .field("replay_guard", &self.inner.replay_guard)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::MalformedSignature;
    use crate::headers::{WEBHOOK_EVENTS, WEBHOOK_SIGNATURE};
    use crate::sender::DeliveryBuilder;

    const URL: &str = "https://example.com/hook";

    #[test]
    fn debug_hides_keys() {
        let shown = format!("{:?}", Verifier::new("top-secret-key", URL));
        assert!(!shown.contains("top-secret"), "{shown}");
        assert!(shown.contains(URL));
    }

    #[test]
    fn signature_is_checked_before_other_headers() {
        let sent = DeliveryBuilder::new("k", URL, "{}").build();
        let mut headers = sent.headers().clone();
        headers.remove(WEBHOOK_EVENTS);
        let verifier = Verifier::new("other", URL);
        assert!(matches!(
            verifier.verify(&headers, sent.body()),
            Err(Error::SignatureMismatch)
        ));
        let verifier = Verifier::new("k", URL);
        assert!(matches!(
            verifier.verify(&headers, sent.body()),
            Err(Error::MissingHeader("X-Appwrite-Webhook-Events"))
        ));
    }

    #[test]
    fn repeated_signature_header_is_rejected() {
        let sent = DeliveryBuilder::new("k", URL, "{}").build();
        let mut headers = sent.headers().clone();
        let value = headers[WEBHOOK_SIGNATURE].clone();
        headers.append(WEBHOOK_SIGNATURE, value);
        assert!(matches!(
            Verifier::new("k", URL).verify(&headers, sent.body()),
            Err(Error::MalformedSignature(MalformedSignature::Repeated))
        ));
    }

    #[test]
    fn body_limit_applies_to_whole_bodies_and_declared_lengths() {
        let sent = DeliveryBuilder::new("k", URL, vec![b' '; 100]).build();
        let verifier = Verifier::new("k", URL).with_body_limit(99);
        assert!(matches!(
            verifier.verify(sent.headers(), sent.body()),
            Err(Error::BodyTooLarge { limit: 99 })
        ));
        assert!(matches!(
            verifier.start(Some(&Uri::default()), sent.headers()),
            Err(Error::BodyTooLarge { limit: 99 })
        ));
        let mut undeclared = sent.headers().clone();
        undeclared.remove(http::header::CONTENT_LENGTH);
        assert!(matches!(
            verifier.verify(&undeclared, sent.body()),
            Err(Error::BodyTooLarge { limit: 99 })
        ));
        assert!(
            Verifier::new("k", URL)
                .with_body_limit(100)
                .verify(sent.headers(), sent.body())
                .is_ok()
        );
    }

    #[test]
    fn extra_urls_are_accepted() {
        let sent = DeliveryBuilder::new("k", "https://b.example/hook", "{}").build();
        let verifier = Verifier::new("k", URL);
        assert!(verifier.verify(sent.headers(), sent.body()).is_err());
        let verifier = verifier.also_accept_url("https://b.example/hook");
        assert!(verifier.verify(sent.headers(), sent.body()).is_ok());
    }

    #[test]
    fn request_url_needs_a_uri() {
        let sent = DeliveryBuilder::new("k", URL, "{}").build();
        let verifier = Verifier::for_request_url("k", ProxyHeaders::Ignore);
        assert!(matches!(
            verifier.verify(sent.headers(), sent.body()),
            Err(Error::UrlUnavailable(_))
        ));
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

    #[test]
    fn signature_only_covers_every_scheme() {
        let body = br#"{"$id":"e1","id":"e1","event":"users.u1.create","type":"t","timestamp":"2025-01-15T10:30:00.000Z","created_at":"2025-01-15T10:30:00.000Z","payload":{},"data":{}}"#;
        for verifier in [
            Verifier::new("k", URL),
            Verifier::timestamped("k"),
            Verifier::generic("k"),
        ] {
            let sent = DeliveryBuilder::new("k", URL, &body[..])
                .scheme(verifier.scheme())
                .build();
            let mut only = HeaderMap::new();
            for name in [
                verifier.scheme().signature_header(),
                crate::headers::WEBHOOK_TIMESTAMP,
            ] {
                if let Some(value) = sent.headers().get(&name) {
                    only.insert(name, value.clone());
                }
            }
            assert_eq!(
                verifier.verify_signature(&only, body).unwrap(),
                0,
                "{}",
                verifier.scheme()
            );
            assert!(matches!(
                verifier.verify_signature(&only, b"{}"),
                Err(Error::SignatureMismatch)
            ));
        }
    }
}
