//! The verifier's entry points besides [`Verifier::serve`]: a streaming body verified and
//! admitted ([`Verifier::receive`]) or turned into a handler's argument
//! ([`Verifier::extract`]), the replay guard's step alone ([`Verifier::admit`]), a delivery
//! kept in an inbox ([`Verifier::verify_stored`]) — for every verifier — and, for a verifier
//! with fixed keys only, bytes in hand ([`Verifier::verify`]) and a signature alone
//! ([`Verifier::verify_signature`]).

use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderMap, Uri};

use crate::delivery::Delivery;
use crate::error::Error;
use crate::extract::FromDelivery;
use crate::inbox::record::Received;
use crate::observe::{Observation, Outcome};
use crate::replay::{Admission, Claim};
use crate::verify::source::KeySource;
use crate::verify::streaming::Verification;
use crate::verify::verifier::Verifier;

/// The asynchronous entry points, which every verifier has.
impl<K: KeySource> Verifier<K> {
    /// Verifies a request and admits it through the replay guard: the first half of
    /// [`serve`](Self::serve), for integrations that run the handler themselves. Reads and
    /// verifies the body as it arrives, checks the ids its
    /// events header names against the body ([`Delivery::check_event_ids`]), then asks the
    /// guard ([`admit`](Self::admit)). On [`Admission::Handle`], run the handler and settle the
    /// [`Claim`](crate::Claim) with its outcome; dropping it unsettled (a panic, a cancelled
    /// request) gives the delivery back.
    ///
    /// ```
    /// use appwrite_webhooks::{Admission, ReplayGuard, Verifier, sender::DeliveryBuilder};
    /// use http_body_util::Full;
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let url = "https://example.com/hook";
    /// let verifier = Verifier::new("k", url).with_replay_guard(ReplayGuard::in_memory());
    /// let (parts, body) = DeliveryBuilder::new("k", url, "{}").build().into_request().into_parts();
    /// let receive = || verifier.receive(&parts.uri, &parts.headers, Full::new(body.clone()));
    ///
    /// let Ok((_delivery, Admission::Handle(claim))) = receive().await else { panic!() };
    /// // While the handler runs, another copy is not acknowledged:
    /// assert!(matches!(receive().await, Ok((_, Admission::InProgress))));
    /// claim.settle(/* handler succeeded: */ true).await;
    /// assert!(matches!(receive().await, Ok((_, Admission::Duplicate { .. }))));
    /// # }
    /// ```
    pub async fn receive<B>(
        &self,
        uri: &Uri,
        headers: &HeaderMap,
        body: B,
    ) -> Result<(Delivery<Bytes>, Admission), Error>
    where
        B: http_body::Body,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let delivery = self.verify_body(uri, headers, body).await?;
        // Before the claim: a copy relabelled to name another resource is a 400, not a
        // delivery of its own.
        delivery.check_event_ids()?;
        let admission = self.admit(&delivery).await?;
        Ok((delivery, admission))
    }

    /// The time by the verifier's [`Clock`](crate::Clock): what `max_age`, tolerances, key
    /// expiry, an inbox's arrival times and its workers' retry times read.
    pub(crate) fn now(&self) -> std::time::SystemTime {
        self.inner.clock.now()
    }

    /// Starts observing one request: its span (with the webhook and project ids its headers
    /// claim) and its clock; see [`Observation`].
    pub(crate) fn observe(&self, headers: &HeaderMap) -> Observation {
        Observation::start(self.scheme(), headers, Arc::clone(&self.inner.health))
    }

    /// What a bare framework extractor runs (no layer or middleware around the handler): verify
    /// the body as it arrives, then build `T` from the delivery, in the delivery's span and
    /// counted with the outcome `verified` (or the rejection). It never de-duplicates: only a
    /// layer or middleware sees the handler's outcome, which settling a claim needs.
    ///
    /// ```
    /// use appwrite_webhooks::{Delivery, Verifier, sender::DeliveryBuilder};
    /// use http_body_util::Full;
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), appwrite_webhooks::Error> {
    /// let url = "https://example.com/hook";
    /// let sent = DeliveryBuilder::new("k", url, r#"{"$id":"t1","name":"T"}"#)
    ///     .event(&"teams.t1.create".parse().unwrap())
    ///     .build();
    /// let (parts, body) = sent.into_request().into_parts();
    /// let delivery: Delivery = Verifier::new("k", url).extract(&parts.uri, &parts.headers, Full::new(body)).await?;
    /// assert_eq!(delivery.events().next(), Some("teams.t1.create"));
    /// # Ok(()) }
    /// ```
    pub async fn extract<T, B>(&self, uri: &Uri, headers: &HeaderMap, body: B) -> Result<T, Error>
    where
        T: FromDelivery,
        B: http_body::Body,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        use tracing::Instrument as _;

        let mut observation = self.observe(headers);
        let span = observation.span().clone();
        async {
            let extracted = self
                .verify_body(uri, headers, body)
                .await
                .and_then(|delivery| {
                    observation.verified(&delivery);
                    T::from_delivery(delivery)
                });
            observation.finish(match &extracted {
                Ok(_) => Outcome::Verified,
                Err(error) => Outcome::of_error(error),
            });
            extracted
        }
        .instrument(span)
        .await
    }

    /// Applies the replay guard, if one is configured, to a verified delivery: the second step
    /// of [`receive`](Self::receive), with `max_age` measured by the verifier's
    /// [`Clock`](crate::Clock). On [`Admission::Handle`], settle the claim with the handler's
    /// outcome.
    ///
    /// ```
    /// use appwrite_webhooks::{Admission, ReplayGuard, Verifier, sender::DeliveryBuilder};
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let url = "https://example.com/hook";
    /// let verifier = Verifier::new("k", url).with_replay_guard(ReplayGuard::in_memory());
    /// let sent = DeliveryBuilder::new("k", url, "{}").build();
    /// let delivery = verifier.verify(sent.headers(), sent.body()).unwrap();
    ///
    /// let Ok(Admission::Handle(claim)) = verifier.admit(&delivery).await else { panic!() };
    /// assert!(matches!(verifier.admit(&delivery).await, Ok(Admission::InProgress)));
    /// claim.release().await; // handling failed: let the retry through
    /// assert!(matches!(verifier.admit(&delivery).await, Ok(Admission::Handle(_))));
    /// # }
    /// ```
    pub async fn admit<B: AsRef<[u8]>>(&self, delivery: &Delivery<B>) -> Result<Admission, Error> {
        match &self.inner.replay_guard {
            Some(guard) => guard.admit_at(delivery, self.inner.clock.now()).await,
            None => Ok(Admission::Handle(Claim::none())),
        }
    }

    /// Reads an [`http_body::Body`] and verifies it as it arrives: what [`receive`](Self::receive),
    /// [`extract`](Self::extract) and [`serve`](Self::serve) start with. The HMAC advances with every chunk and the body is held once (a
    /// single-chunk body is not copied at all). Reading stops at the first chunk past the body
    /// limit ([`Error::BodyTooLarge`]), or before reading at all when the declared
    /// `Content-Length` is over it or the signature header is missing or malformed. Trailers
    /// are ignored. `uri` is only read by a verifier made with
    /// [`for_request_url`](Verifier::for_request_url).
    pub(crate) async fn verify_body<B>(
        &self,
        uri: &Uri,
        headers: &HeaderMap,
        body: B,
    ) -> Result<Delivery<Bytes>, Error>
    where
        B: http_body::Body,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        self.inner.authorize(headers)?;
        let keys = self.inner.keys_for(headers).await?;
        let verification = self.inner.start(Some(uri), headers, keys, None)?;
        let read = read_into(verification, body);
        let verification = match self.inner.body_timeout {
            Some(timeout) => tokio::time::timeout(timeout, read)
                .await
                .map_err(|_| Error::BodyTimeout { timeout })??,
            None => read.await?,
        };
        verification.finish()
    }

    /// Verifies a delivery an inbox kept, again: the signature over the stored URI, headers and
    /// body, and for the timestamped scheme the tolerance as of when it was received (so a
    /// delivery handled an hour later still verifies). A worker runs this before a handler, so
    /// nothing written into the store by anyone but a verifier reaches a handler. HTTP Basic
    /// credentials were checked on arrival and are not stored, so they are not checked again;
    /// keys are resolved as now (a key past its not-after time no longer verifies).
    ///
    /// ```
    /// use appwrite_webhooks::{Verifier, inbox::Received, sender::DeliveryBuilder};
    ///
    /// let url = "https://example.com/hook";
    /// let verifier = Verifier::new("k", url);
    /// let sent = DeliveryBuilder::new("k", url, "{}").build();
    /// let delivery = verifier.verify(sent.headers(), sent.body())?.into_owned();
    /// let mut received = Received::new(&"/hook".parse()?, sent.headers(), &delivery);
    /// # tokio::runtime::Builder::new_current_thread().enable_time().build()?.block_on(async {
    /// assert_eq!(verifier.verify_stored(&received).await?.body(), b"{}");
    ///
    /// received.body = "{ }".into(); // edited in the store
    /// assert!(verifier.verify_stored(&received).await.is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(()) })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub async fn verify_stored(&self, received: &Received) -> Result<Delivery<Bytes>, Error> {
        let uri: Uri = received
            .uri
            .parse()
            .map_err(|_| Error::UrlUnavailable("the stored request URI is invalid"))?;
        let at = received.received_at_millis() / 1000;
        let keys = self.inner.keys_for(&received.headers).await?;
        let mut verification = self
            .inner
            .start(Some(&uri), &received.headers, keys, Some(at))?;
        verification.update(received.body.clone())?;
        verification.finish()
    }
}

/// The synchronous entry points, which need the keys at hand: a verifier with fixed keys only.
impl Verifier {
    /// Verifies a delivery whose raw body is in hand, and parses its headers.
    ///
    /// `body` must be the raw bytes as received: not parsed and re-serialised, not decoded.
    /// For the raw body already in hand (a serverless function, a test); a server that
    /// receives a streaming body uses [`serve`](Verifier::serve) or [`extract`](Verifier::extract).
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
        self.inner.authorize(headers)?;
        let keys = self.inner.fixed_keys();
        let mut verification = self.inner.start(None, headers, keys, None)?;
        verification.update_slice(body)?;
        verification.finish_with(body)
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
        let keys = self.inner.fixed_keys();
        let mut verification = self.inner.start(None, headers, keys, None)?;
        verification.update_slice(body)?;
        verification.matching_key()
    }
}

/// Feeds every data frame of `body` into `verification`; trailers are ignored.
async fn read_into<B>(mut verification: Verification, body: B) -> Result<Verification, Error>
where
    B: http_body::Body,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    use http_body_util::BodyExt as _;

    let mut body = std::pin::pin!(body);
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| Error::ReadBody(e.into()))?;
        if let Ok(mut data) = frame.into_data() {
            // `copy_to_bytes` is free when the chunk already is `Bytes` (hyper, axum).
            let len = bytes::Buf::remaining(&data);
            verification.update(bytes::Buf::copy_to_bytes(&mut data, len))?;
        }
    }
    Ok(verification)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sender::DeliveryBuilder;

    const URL: &str = "https://example.com/hook";

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
