//! The verifier's configuration and its entry points.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::{HeaderMap, Uri, header};

use crate::delivery::{Delivery, DeliveryHeaders};
use crate::headers::{GENERIC_SIGNATURE, WEBHOOK_SIGNATURE, WEBHOOK_TIMESTAMP};
use crate::scheme::keyed_sha256;
use crate::signature::keyed_mac;
use crate::url::{ProxyHeaders, reconstruct};
use crate::verification::{AnyMac, Candidates, Verification};
use crate::{Claim, Error, MalformedSignature, ReplayGuard, Scheme, Signature, SigningKey};

/// Appwrite reads at most 5 MB of a response; we bound what a receiver buffers the same way.
/// Appwrite's own payloads are a few KiB; a row with large columns can be more.
pub const DEFAULT_BODY_LIMIT: usize = 5 * 1024 * 1024;

/// Checks that deliveries were signed by Appwrite with one of your webhook's keys.
///
/// Build it once from the webhook's signing key and its URL **exactly as configured in
/// Appwrite** — scheme, host as typed, port if typed, path, trailing slash if typed, query
/// string if typed — and share it (it is cheap to clone). Then hand each request's headers and
/// raw body bytes to [`verify`](Self::verify), before anything parses the body.
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
///   [`with_request_url`](Self::with_request_url) for the alternative and its risks.
#[derive(Clone)]
pub struct Verifier {
    inner: Arc<Config>,
}

#[derive(Clone)]
struct Config {
    scheme: Scheme,
    keys: Vec<SigningKey>,
    /// One HMAC state per key, with the key absorbed: no per-request key setup.
    keyed: Vec<AnyMac>,
    urls: Vec<String>,
    /// The states a request starts from, with everything but per-request input absorbed: per
    /// (url, key) for Appwrite's scheme, per key for the generic one; the timestamped scheme
    /// adds the request's timestamp to `keyed` instead.
    prepared: Vec<(usize, AnyMac)>,
    request_url: Option<ProxyHeaders>,
    body_limit: usize,
    replay_guard: Option<ReplayGuard>,
}

impl Verifier {
    /// A verifier for one key and the webhook URL as configured in Appwrite.
    ///
    /// ```
    /// let verifier = appwrite_webhooks::Verifier::new("whsec_…", "https://example.com/hook");
    /// ```
    pub fn new(key: impl Into<SigningKey>, url: impl Into<String>) -> Self {
        Self::build(Scheme::Appwrite, key, vec![url.into()])
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
        Self::build(Scheme::timestamped(), key, Vec::new())
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
        Self::build(Scheme::Generic, key, Vec::new())
    }

    /// Sets how far a [`Scheme::Timestamped`] delivery's timestamp may be from this server's
    /// clock, either way (default [`Scheme::DEFAULT_TOLERANCE`], five minutes).
    ///
    /// # Panics
    /// On a verifier of another scheme: those have no timestamp, and a tolerance that silently
    /// did nothing would hide a configuration mistake.
    ///
    /// ```
    /// use std::time::Duration;
    /// let verifier = appwrite_webhooks::Verifier::timestamped("k").tolerance(Duration::from_secs(60));
    /// ```
    pub fn tolerance(mut self, tolerance: Duration) -> Self {
        let config = Arc::make_mut(&mut self.inner);
        match &mut config.scheme {
            Scheme::Timestamped { tolerance: t } => *t = tolerance,
            other => panic!("tolerance() applies to the timestamped scheme, not {other}"),
        }
        self
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

    fn build(scheme: Scheme, key: impl Into<SigningKey>, urls: Vec<String>) -> Self {
        let config = Config {
            scheme,
            keys: Vec::new(),
            keyed: Vec::new(),
            urls,
            prepared: Vec::new(),
            request_url: None,
            body_limit: DEFAULT_BODY_LIMIT,
            replay_guard: None,
        };
        Self {
            inner: Arc::new(config),
        }
        .with_key(key)
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
    /// Use [`verify_request`](Self::verify_request) or [`start`](Self::start): they see the URI.
    ///
    /// ```
    /// use appwrite_webhooks::{ProxyHeaders, Verifier, sender::DeliveryBuilder};
    ///
    /// let verifier = Verifier::with_request_url("secret", ProxyHeaders::Ignore);
    /// let sent = DeliveryBuilder::new("secret", "http://localhost:3000/hook", "{}").build();
    /// let uri: http::Uri = "/hook".parse().unwrap();
    /// let mut headers = sent.headers().clone();
    /// headers.insert("host", "localhost:3000".parse().unwrap());
    /// assert!(verifier.verify_request(&uri, &headers, sent.body()).is_ok());
    /// ```
    pub fn with_request_url(key: impl Into<SigningKey>, proxy: ProxyHeaders) -> Self {
        let mut verifier = Self::new(key, String::new());
        let config = Arc::make_mut(&mut verifier.inner);
        config.urls.clear();
        config.request_url = Some(proxy);
        config.rebuild();
        verifier
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
        Arc::make_mut(&mut self.inner).keys.push(key.into());
        Arc::make_mut(&mut self.inner).rebuild();
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
    /// others ignore it.
    ///
    /// ```
    /// let verifier = appwrite_webhooks::Verifier::new("k", "https://a.example/hook")
    ///     .also_accept_url("https://b.example/hook");
    /// ```
    pub fn also_accept_url(mut self, url: impl Into<String>) -> Self {
        Arc::make_mut(&mut self.inner).urls.push(url.into());
        Arc::make_mut(&mut self.inner).rebuild();
        self
    }

    /// Sets the largest body accepted, in bytes (default [`DEFAULT_BODY_LIMIT`], 5 MiB).
    /// Larger bodies fail with [`Error::BodyTooLarge`] (413) — before reading when the request
    /// declares its `Content-Length`, and as soon as the limit is passed otherwise.
    ///
    /// ```
    /// let verifier = appwrite_webhooks::Verifier::new("k", "https://example.com/hook")
    ///     .body_limit(256 * 1024);
    /// assert_eq!(verifier.max_body_len(), 256 * 1024);
    /// ```
    pub fn body_limit(mut self, bytes: usize) -> Self {
        Arc::make_mut(&mut self.inner).body_limit = bytes;
        self
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

    /// The largest body accepted, in bytes.
    ///
    /// ```
    /// let verifier = appwrite_webhooks::Verifier::new("k", "https://example.com/hook");
    /// assert_eq!(verifier.max_body_len(), appwrite_webhooks::DEFAULT_BODY_LIMIT);
    /// ```
    pub fn max_body_len(&self) -> usize {
        self.inner.body_limit
    }

    /// Verifies a delivery against the configured URL(s) and parses its headers.
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
        self.verify_inner(None, headers, body)
    }

    /// Like [`verify`](Self::verify), with the request URI, which a verifier made by
    /// [`with_request_url`](Self::with_request_url) needs to rebuild the URL.
    ///
    /// ```
    /// use appwrite_webhooks::{Verifier, sender::DeliveryBuilder};
    ///
    /// let sent = DeliveryBuilder::new("k", "https://example.com/hook", "{}").build();
    /// let uri: http::Uri = "/hook".parse().unwrap();
    /// let verifier = Verifier::new("k", "https://example.com/hook");
    /// assert!(verifier.verify_request(&uri, sent.headers(), sent.body()).is_ok());
    /// ```
    pub fn verify_request<'b>(
        &self,
        uri: &Uri,
        headers: &HeaderMap,
        body: &'b [u8],
    ) -> Result<Delivery<&'b [u8]>, Error> {
        self.verify_inner(Some(uri), headers, body)
    }

    fn verify_inner<'b>(
        &self,
        uri: Option<&Uri>,
        headers: &HeaderMap,
        body: &'b [u8],
    ) -> Result<Delivery<&'b [u8]>, Error> {
        let (mut candidates, signature, timestamp) = self.prepare(uri, headers)?;
        self.check_len(body.len() as u64)?;
        candidates.update(body);
        let key_index = candidates.matching_key(&signature)?;
        Ok(Delivery {
            meta: DeliveryHeaders::parse(headers, self.inner.scheme, timestamp)?,
            signature,
            key_index,
            body,
        })
    }

    /// Checks a signature over `body` for the configured URL(s) and returns the index of the
    /// key that produced it, without looking at any other header. For tools that hold a
    /// signature and a body but no request, like the CLI's `verify`. The timestamped scheme
    /// also needs its timestamp: use [`verify_signature_at`](Self::verify_signature_at).
    ///
    /// ```
    /// use appwrite_webhooks::{Verifier, sign};
    ///
    /// let url = "https://example.com/hook";
    /// let signature = sign("old", url, b"{}").parse()?;
    /// let verifier = Verifier::new("new", url).with_key("old");
    /// assert_eq!(verifier.verify_signature(&signature, b"{}")?, 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn verify_signature(&self, signature: &Signature, body: &[u8]) -> Result<usize, Error> {
        self.check_len(body.len() as u64)?;
        if matches!(self.inner.scheme, Scheme::Timestamped { .. }) {
            return Err(Error::InvalidTimestamp("missing"));
        }
        let mut candidates = self.configured_candidates();
        candidates.update(body);
        candidates.matching_key(signature)
    }

    /// [`verify_signature`](Self::verify_signature) for the timestamped scheme: checks the
    /// timestamp against the tolerance, then the signature over `"{timestamp}.{body}"`.
    ///
    /// ```
    /// use appwrite_webhooks::{Signature, Scheme, Verifier, sign_timestamped};
    ///
    /// let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    /// let signature = Signature::parse(Scheme::timestamped(), sign_timestamped("k", now, b"{}").as_bytes())?;
    /// assert_eq!(Verifier::timestamped("k").verify_signature_at(&signature, now, b"{}")?, 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn verify_signature_at(
        &self,
        signature: &Signature,
        timestamp: u64,
        body: &[u8],
    ) -> Result<usize, Error> {
        let mut headers = HeaderMap::new();
        headers.insert(WEBHOOK_TIMESTAMP, timestamp.into());
        self.check_len(body.len() as u64)?;
        let (mut candidates, _) = self.candidates(None, &headers)?;
        candidates.update(body);
        candidates.matching_key(signature)
    }

    /// Starts verifying a delivery whose body arrives in chunks: the HMAC is updated as each
    /// chunk is fed to [`Verification::update`], so the body is read once and held once.
    ///
    /// Checks what can be checked before reading: the signature header is present and well
    /// formed, and a declared `Content-Length` is within the limit.
    ///
    /// ```
    /// use appwrite_webhooks::{Verifier, sender::DeliveryBuilder};
    ///
    /// let url = "https://example.com/hook";
    /// let sent = DeliveryBuilder::new("k", url, r#"{"a":1,"b":2}"#).build();
    /// let verifier = Verifier::new("k", url);
    ///
    /// let mut verification = verifier.start(&"/hook".parse().unwrap(), sent.headers())?;
    /// for chunk in sent.body().chunks(4) {
    ///     verification.update(bytes::Bytes::copy_from_slice(chunk))?;
    /// }
    /// let delivery = verification.finish()?;
    /// assert_eq!(delivery.body(), sent.body());
    /// # Ok::<(), appwrite_webhooks::Error>(())
    /// ```
    pub fn start(&self, uri: &Uri, headers: &HeaderMap) -> Result<Verification, Error> {
        let (candidates, signature, timestamp) = self.prepare(Some(uri), headers)?;
        let declared = headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if let Some(len) = declared {
            self.check_len(len)?;
        }
        Ok(Verification::new(
            candidates,
            signature,
            DeliveryHeaders::parse(headers, self.inner.scheme, timestamp),
            self.inner.body_limit,
            declared,
        ))
    }

    /// Reads an [`http_body::Body`] and verifies it as it arrives: the one call an HTTP
    /// integration needs. Reading stops at the first chunk past the body limit
    /// ([`Error::BodyTooLarge`]), or before reading at all when the declared `Content-Length` is
    /// over it or the signature header is missing or malformed. Trailers are ignored.
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

        let mut verification = self.start(uri, headers)?;
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

    /// Refuses a body of `len` bytes over the limit.
    fn check_len(&self, len: u64) -> Result<(), Error> {
        if len > self.inner.body_limit as u64 {
            return Err(Error::BodyTooLarge {
                limit: self.inner.body_limit,
            });
        }
        Ok(())
    }

    /// The signature from the headers, the HMAC states that the body still has to go into, and
    /// the timestamp of the timestamped scheme.
    fn prepare(
        &self,
        uri: Option<&Uri>,
        headers: &HeaderMap,
    ) -> Result<(Candidates, Signature, Option<u64>), Error> {
        let signature = signature_header(headers, self.inner.scheme)?;
        let (candidates, timestamp) = self.candidates(uri, headers)?;
        Ok((candidates, signature, timestamp))
    }

    /// The HMAC states for this request, with everything before the body absorbed.
    fn candidates(
        &self,
        uri: Option<&Uri>,
        headers: &HeaderMap,
    ) -> Result<(Candidates, Option<u64>), Error> {
        let config = &*self.inner;
        let mut candidates = self.configured_candidates();
        match config.scheme {
            Scheme::Appwrite => {
                if let Some(proxy) = config.request_url {
                    let uri = uri.ok_or(Error::UrlUnavailable(
                        "no request URI given; use verify_request",
                    ))?;
                    for url in reconstruct(uri, headers, proxy)? {
                        for (key_index, keyed) in config.keyed.iter().enumerate() {
                            let mut mac = keyed.clone();
                            mac.update(url.as_bytes());
                            candidates.push(key_index, mac);
                        }
                    }
                }
                Ok((candidates, None))
            }
            Scheme::Timestamped { tolerance } => {
                let (text, timestamp) = timestamp_header(headers)?;
                check_tolerance(timestamp, tolerance)?;
                for (key_index, keyed) in config.keyed.iter().enumerate() {
                    let mut mac = keyed.clone();
                    // The digits exactly as sent: the sender signed its own text.
                    mac.update(text.as_bytes());
                    mac.update(b".");
                    candidates.push(key_index, mac);
                }
                Ok((candidates, Some(timestamp)))
            }
            Scheme::Generic => Ok((candidates, None)),
        }
    }

    /// A fresh copy of the states prepared for the configured URLs.
    fn configured_candidates(&self) -> Candidates {
        let config = &*self.inner;
        let mut candidates = Candidates::with_capacity(config.prepared.len() + config.keyed.len());
        for (key_index, mac) in &config.prepared {
            candidates.push(*key_index, mac.clone());
        }
        candidates
    }
}

fn signature_header(headers: &HeaderMap, scheme: Scheme) -> Result<Signature, Error> {
    let name = match scheme {
        Scheme::Generic => GENERIC_SIGNATURE,
        _ => WEBHOOK_SIGNATURE,
    };
    let mut values = headers.get_all(name).iter();
    let value = values.next().ok_or(Error::MissingSignature)?;
    if values.next().is_some() {
        return Err(MalformedSignature::Repeated.into());
    }
    Ok(Signature::parse(scheme, value.as_bytes())?)
}

/// The timestamp header's digits and their value in unix seconds.
fn timestamp_header(headers: &HeaderMap) -> Result<(&str, u64), Error> {
    let mut values = headers.get_all(WEBHOOK_TIMESTAMP).iter();
    let value = values.next().ok_or(Error::InvalidTimestamp("missing"))?;
    if values.next().is_some() {
        return Err(Error::InvalidTimestamp("repeated"));
    }
    let text = value
        .to_str()
        .ok()
        .filter(|t| !t.is_empty() && t.len() <= 19 && t.bytes().all(|b| b.is_ascii_digit()))
        .ok_or(Error::InvalidTimestamp("not unix seconds"))?;
    let seconds = text
        .parse()
        .map_err(|_| Error::InvalidTimestamp("not unix seconds"))?;
    Ok((text, seconds))
}

/// Rejects timestamps further than `tolerance` from this server's clock, either way.
fn check_tolerance(timestamp: u64, tolerance: Duration) -> Result<(), Error> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    // Both fit in i64 for the next 292 billion years; saturate rather than trust the header.
    let skew = i64::try_from(now)
        .unwrap_or(i64::MAX)
        .saturating_sub(i64::try_from(timestamp).unwrap_or(i64::MAX));
    if skew.unsigned_abs() > tolerance.as_secs() {
        return Err(Error::TimestampOutOfTolerance { skew, tolerance });
    }
    Ok(())
}

impl Config {
    fn rebuild(&mut self) {
        self.keyed = match self.scheme {
            Scheme::Appwrite => self
                .keys
                .iter()
                .map(|k| AnyMac::Sha1(keyed_mac(k)))
                .collect(),
            Scheme::Timestamped { .. } | Scheme::Generic => self
                .keys
                .iter()
                .map(|k| AnyMac::Sha256(keyed_sha256(k)))
                .collect(),
        };
        self.prepared = match self.scheme {
            Scheme::Appwrite => self
                .urls
                .iter()
                .flat_map(|url| {
                    self.keyed
                        .iter()
                        .enumerate()
                        .map(move |(key_index, keyed)| {
                            let mut mac = keyed.clone();
                            mac.update(url.as_bytes());
                            (key_index, mac)
                        })
                })
                .collect(),
            Scheme::Generic => self.keyed.iter().cloned().enumerate().collect(),
            Scheme::Timestamped { .. } => Vec::new(),
        };
    }
}

impl fmt::Debug for Verifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Verifier")
            .field("scheme", &self.inner.scheme)
            .field("keys", &self.inner.keys)
            .field("urls", &self.inner.urls)
            .field("request_url", &self.inner.request_url)
            .field("body_limit", &self.inner.body_limit)
            .field("replay_guard", &self.inner.replay_guard)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
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
        headers.remove(crate::headers::WEBHOOK_EVENTS);
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
        let verifier = Verifier::new("k", URL).body_limit(99);
        assert!(matches!(
            verifier.verify(sent.headers(), sent.body()),
            Err(Error::BodyTooLarge { limit: 99 })
        ));
        assert!(matches!(
            verifier.start(&Uri::default(), sent.headers()),
            Err(Error::BodyTooLarge { limit: 99 })
        ));
        assert!(
            Verifier::new("k", URL)
                .body_limit(100)
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
        let verifier = Verifier::with_request_url("k", ProxyHeaders::Ignore);
        assert!(matches!(
            verifier.verify(sent.headers(), sent.body()),
            Err(Error::UrlUnavailable(_))
        ));
    }
}
