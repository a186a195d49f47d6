//! One verification in progress: the HMAC states advance with each chunk of the body, the body
//! is held once, and reading stops as soon as the limit is passed.

use bytes::{Bytes, BytesMut};
use http::header;

use std::sync::Arc;

use crate::crypto::mac::Candidates;
use crate::crypto::signature::Signature;
use crate::delivery::Delivery;
use crate::error::Error;
use crate::headers::{DeliveryHeaders, Scanned};
use crate::scheme::Scheme;
use crate::scheme::identity::Identity;
use crate::verify::keys::KeySet;

/// The `Content-Length` a request declares, if it is a number.
pub(crate) fn declared_len(headers: &Scanned<'_>) -> Option<u64> {
    headers
        .get(&header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
}

/// Refuses a body of `len` bytes over `limit`.
pub(crate) fn check_len(len: u64, limit: usize) -> Result<(), Error> {
    if len > limit as u64 {
        return Err(Error::BodyTooLarge { limit });
    }
    Ok(())
}

/// The key label of an alert accepted without a signature.
pub(crate) const UNSIGNED_LABEL: &str = "unsigned";

/// The most a delivery's buffer reserves ahead of what has arrived: a declared `Content-Length`
/// is the sender's word, not bytes, and before the signature is checked it earns no memory.
const UNVERIFIED_RESERVE: usize = 64 * 1024;

/// A delivery being verified while its body is read.
pub(crate) struct Verification {
    scheme: Scheme,
    candidates: Candidates,
    signature: Signature,
    /// Parsed before the body, reported after the signature: an unsigned request learns
    /// nothing about which headers it lacks.
    headers: Result<DeliveryHeaders, Error>,
    limit: usize,
    /// The `Content-Length` the sender declared (already within the limit), to size the buffer.
    declared_len: usize,
    /// Bytes fed so far.
    read: usize,
    body: Body,
    /// The keys tried: their key-only HMAC states, for schemes whose fingerprint is keyed, and
    /// their labels.
    keys: Arc<KeySet>,
}

/// The body read so far: the first chunk as given, a buffer from the second on.
enum Body {
    Empty,
    One(Bytes),
    Many(BytesMut),
}

impl Verification {
    pub(crate) fn new(
        scheme: Scheme,
        candidates: Candidates,
        signature: Signature,
        headers: Result<DeliveryHeaders, Error>,
        limit: usize,
        declared_len: Option<u64>,
        keys: Arc<KeySet>,
    ) -> Self {
        let declared_len = declared_len.map_or(0, |len| (len as usize).min(limit));
        Self {
            scheme,
            candidates,
            signature,
            headers,
            limit,
            declared_len,
            read: 0,
            body: Body::Empty,
            keys,
        }
    }

    /// Feeds bytes the caller keeps: only the MACs and the count advance.
    pub(crate) fn update_slice(&mut self, bytes: &[u8]) -> Result<(), Error> {
        check_len(self.read as u64 + bytes.len() as u64, self.limit)?;
        self.read += bytes.len();
        self.candidates.update(bytes);
        Ok(())
    }

    /// Feeds the next chunk and keeps it. Fails with [`Error::BodyTooLarge`] when the body read
    /// so far exceeds the limit; stop reading then.
    pub(crate) fn update(&mut self, chunk: Bytes) -> Result<(), Error> {
        if chunk.is_empty() {
            return Ok(());
        }
        self.update_slice(&chunk)?;
        self.body = match std::mem::replace(&mut self.body, Body::Empty) {
            Body::Empty => Body::One(chunk),
            Body::One(first) => {
                // Size the buffer for the declared body, up to a small cap: it grows with what
                // arrives, not with what an unverified sender promises.
                let reserve = self.declared_len.min(UNVERIFIED_RESERVE);
                let mut buf = BytesMut::with_capacity(reserve.max(first.len() + chunk.len()));
                buf.extend_from_slice(&first);
                buf.extend_from_slice(&chunk);
                Body::Many(buf)
            }
            Body::Many(mut buf) => {
                buf.extend_from_slice(&chunk);
                Body::Many(buf)
            }
        };
        Ok(())
    }

    /// The index of the key whose tag over everything fed equals the signature. An unsigned
    /// alert has none: [`Error::MissingSignature`].
    pub(crate) fn matching_key(self) -> Result<usize, Error> {
        if self.signature.is_unsigned() {
            return Err(Error::MissingSignature);
        }
        self.candidates.matching_key(&self.signature)
    }

    /// Checks the signature, then the headers, and returns the delivery around `body`.
    pub(crate) fn finish_with<B: AsRef<[u8]>>(self, body: B) -> Result<Delivery<B>, Error> {
        // An unsigned alert reaches here only from a verifier told to accept them: no key
        // verified it, which its key label says.
        let (key_index, key_label) = match self.signature.is_unsigned() {
            true => (0, Some(std::sync::Arc::from(UNSIGNED_LABEL))),
            false => {
                let index = self.candidates.matching_key(&self.signature)?;
                (index, self.keys.label(index))
            }
        };
        let mut meta = self.headers?;
        if let Some(signed) = self.scheme.signed_event_names(body.as_ref()) {
            meta.events = signed.into();
        }
        // The opt-in schemes key their identity with the verifying key, which only this step
        // holds; Appwrite's is a hash of the signature and a label, computed when asked for.
        let identity = std::sync::OnceLock::new();
        if let Some(keyed) =
            self.scheme
                .envelope_fingerprint(&self.signature, &meta, body.as_ref(), || {
                    self.keys.keyed[key_index].clone()
                })
        {
            let _ = identity.set(Identity::signed(keyed));
        }
        Ok(Delivery {
            scheme: self.scheme,
            meta,
            signature: self.signature,
            identity,
            key_index,
            key_label,
            body,
        })
    }

    /// Checks the signature over everything fed, then returns the delivery with the body kept
    /// by [`update`](Self::update).
    pub(crate) fn finish(mut self) -> Result<Delivery<Bytes>, Error> {
        let body = match std::mem::replace(&mut self.body, Body::Empty) {
            Body::Empty => Bytes::new(),
            Body::One(bytes) => bytes,
            Body::Many(buf) => buf.freeze(),
        };
        self.finish_with(body)
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use http::Uri;

    use crate::error::Error;
    use crate::sender::DeliveryBuilder;
    use crate::verify::verifier::Verifier;

    const URL: &str = "https://example.com/hook";

    /// A body that arrives in the given chunks.
    fn chunked(chunks: Vec<Vec<u8>>) -> impl http_body::Body<Data = Bytes, Error = Error> {
        let frames = chunks
            .into_iter()
            .map(|c| Ok(http_body::Frame::data(Bytes::from(c))));
        http_body_util::StreamBody::new(futures_util::stream::iter(frames))
    }

    #[tokio::test]
    async fn every_chunking_gives_the_same_result() {
        let body: Vec<u8> = (0..300u32).map(|i| (i % 251) as u8).collect();
        let sent = DeliveryBuilder::new("k", URL, body.clone()).build();
        let verifier = Verifier::new("k", URL);
        for size in [1, 2, 7, 64, 299, 300, 1000] {
            let chunks = body.chunks(size).map(<[u8]>::to_vec).collect();
            let delivery = verifier
                .verify_body(&Uri::default(), sent.headers(), chunked(chunks))
                .await
                .unwrap();
            assert_eq!(delivery.body(), &body[..], "chunk size {size}");
        }
    }

    #[tokio::test]
    async fn one_chunk_is_not_copied() {
        let sent = DeliveryBuilder::new("k", URL, "{}").build();
        let mut headers = sent.headers().clone();
        headers.remove(http::header::CONTENT_LENGTH);
        let chunk = Bytes::from(b"{}".to_vec());
        let ptr = chunk.as_ptr();
        let body = http_body_util::Full::new(chunk);
        let delivery = Verifier::new("k", URL)
            .verify_body(&Uri::default(), &headers, body)
            .await
            .unwrap();
        assert_eq!(delivery.body().as_ptr(), ptr);
    }

    #[tokio::test]
    async fn reading_stops_at_the_first_chunk_past_the_limit() {
        let sent = DeliveryBuilder::new("k", URL, vec![b' '; 64]).build();
        let mut headers = sent.headers().clone();
        headers.remove(http::header::CONTENT_LENGTH); // a chunked upload declares no length
        let verifier = Verifier::new("k", URL).with_body_limit(50);
        let body = chunked(vec![vec![b' '; 32], vec![b' '; 32]]);
        let error = verifier
            .verify_body(&Uri::default(), &headers, body)
            .await
            .unwrap_err();
        assert!(matches!(error, Error::BodyTooLarge { limit: 50 }));
    }
}
