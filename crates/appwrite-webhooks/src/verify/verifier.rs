//! The verifier's configuration and its three entry points: bytes in hand ([`Verifier::verify`]),
//! a streaming body ([`Verifier::verify_body`]) and a signature alone
//! ([`Verifier::verify_signature`]).

use std::fmt;
use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderMap, Uri};

use crate::delivery::Delivery;
use crate::error::Error;
use crate::replay::Claim;
use crate::scheme::Scheme;
use crate::verify::config::{Config, Urls};
use crate::verify::key::SigningKey;
use crate::verify::streaming::Verification;
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
}

impl Verifier {
    /// Prepares one request; see [`Config::start`].
    fn start(&self, uri: Option<&Uri>, headers: &HeaderMap) -> Result<Verification, Error> {
        self.inner.start(uri, headers)
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
    use std::time::Duration;

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
