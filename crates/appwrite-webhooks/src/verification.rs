//! Verifying a body that arrives in chunks.

use std::fmt;

use bytes::{Bytes, BytesMut};
use hmac::Mac;

use crate::delivery::{Delivery, DeliveryHeaders};
use crate::scheme::HmacSha256;
use crate::signature::HmacSha1;
use crate::{Error, Signature};

/// An HMAC state of the scheme's hash.
#[derive(Clone)]
pub(crate) enum AnyMac {
    Sha1(HmacSha1),
    Sha256(HmacSha256),
}

impl AnyMac {
    pub(crate) fn update(&mut self, bytes: &[u8]) {
        match self {
            AnyMac::Sha1(mac) => mac.update(bytes),
            AnyMac::Sha256(mac) => mac.update(bytes),
        }
    }

    /// Compares the final tag with `tag` in constant time (`verify_slice` uses `subtle`); a
    /// tag of the other hash's length never matches.
    fn verify(self, tag: &[u8]) -> bool {
        match self {
            AnyMac::Sha1(mac) => mac.verify_slice(tag).is_ok(),
            AnyMac::Sha256(mac) => mac.verify_slice(tag).is_ok(),
        }
    }
}

/// HMAC states still waiting for the body: one per accepted (key, URL) pair.
pub(crate) struct Candidates(Vec<(usize, AnyMac)>);

impl Candidates {
    pub(crate) fn with_capacity(n: usize) -> Self {
        Self(Vec::with_capacity(n))
    }

    pub(crate) fn push(&mut self, key_index: usize, mac: AnyMac) {
        self.0.push((key_index, mac));
    }

    pub(crate) fn update(&mut self, bytes: &[u8]) {
        for (_, mac) in &mut self.0 {
            mac.update(bytes);
        }
    }

    /// The key whose tag equals `signature`, compared in constant time by `verify_slice`.
    pub(crate) fn matching_key(self, signature: &Signature) -> Result<usize, Error> {
        self.0
            .into_iter()
            .find_map(|(key_index, mac)| mac.verify(signature.as_bytes()).then_some(key_index))
            .ok_or(Error::SignatureMismatch)
    }
}

/// A delivery being verified while its body is read; made by [`Verifier::start`](crate::Verifier::start).
///
/// Feed each chunk to [`update`](Self::update) as it arrives, then call
/// [`finish`](Self::finish). The HMAC advances with every chunk, the body is kept exactly once
/// (a single-chunk body is not copied at all), and reading stops with
/// [`Error::BodyTooLarge`] as soon as the limit is passed.
///
/// ```
/// use appwrite_webhooks::{Error, Verifier, sender::DeliveryBuilder};
/// use bytes::Bytes;
///
/// let url = "https://example.com/hook";
/// let sent = DeliveryBuilder::new("k", url, vec![b' '; 64]).build();
/// let mut headers = sent.headers().clone();
/// headers.remove("content-length"); // a chunked upload declares no length
///
/// let verifier = Verifier::new("k", url).body_limit(50);
/// let mut verification = verifier.start(&"/hook".parse().unwrap(), &headers)?;
/// verification.update(Bytes::from_static(&[b' '; 32]))?;
/// let err = verification.update(Bytes::from_static(&[b' '; 32])).unwrap_err();
/// assert!(matches!(err, Error::BodyTooLarge { limit: 50 }));
/// # Ok::<(), Error>(())
/// ```
pub struct Verification {
    candidates: Candidates,
    signature: Signature,
    headers: Result<DeliveryHeaders, Error>,
    limit: usize,
    /// The `Content-Length` the sender declared (already within the limit), to size the buffer.
    declared_len: usize,
    body: Body,
}

/// The body read so far: the first chunk as given, a buffer from the second on.
enum Body {
    Empty,
    One(Bytes),
    Many(BytesMut),
}

impl Verification {
    pub(crate) fn new(
        candidates: Candidates,
        signature: Signature,
        headers: Result<DeliveryHeaders, Error>,
        limit: usize,
        declared_len: Option<u64>,
    ) -> Self {
        let declared_len = declared_len.map_or(0, |len| (len as usize).min(limit));
        Self {
            candidates,
            signature,
            headers,
            limit,
            declared_len,
            body: Body::Empty,
        }
    }

    /// Feeds the next chunk of the body.
    ///
    /// Fails with [`Error::BodyTooLarge`] when the body read so far exceeds the limit; stop
    /// reading then.
    ///
    /// ```
    /// # use appwrite_webhooks::{Verifier, sender::DeliveryBuilder};
    /// # let sent = DeliveryBuilder::new("k", "https://e.x/h", "{}").build();
    /// let mut verification = Verifier::new("k", "https://e.x/h").start(&"/h".parse().unwrap(), sent.headers())?;
    /// verification.update(bytes::Bytes::from_static(b"{}"))?;
    /// assert!(verification.finish().is_ok());
    /// # Ok::<(), appwrite_webhooks::Error>(())
    /// ```
    pub fn update(&mut self, chunk: Bytes) -> Result<(), Error> {
        if chunk.is_empty() {
            return Ok(());
        }
        if self.len().saturating_add(chunk.len()) > self.limit {
            return Err(Error::BodyTooLarge { limit: self.limit });
        }
        self.candidates.update(&chunk);
        self.body = match std::mem::replace(&mut self.body, Body::Empty) {
            Body::Empty => Body::One(chunk),
            Body::One(first) => {
                // Size the buffer for the whole declared body so it is not reallocated as it grows.
                let mut buf =
                    BytesMut::with_capacity(self.declared_len.max(first.len() + chunk.len()));
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

    /// Bytes of body fed so far.
    ///
    /// ```
    /// # use appwrite_webhooks::{Verifier, sender::DeliveryBuilder};
    /// # let sent = DeliveryBuilder::new("k", "https://e.x/h", "{}").build();
    /// let mut verification = Verifier::new("k", "https://e.x/h").start(&"/h".parse().unwrap(), sent.headers())?;
    /// verification.update(bytes::Bytes::from_static(b"{}"))?;
    /// assert_eq!(verification.len(), 2);
    /// # Ok::<(), appwrite_webhooks::Error>(())
    /// ```
    pub fn len(&self) -> usize {
        match &self.body {
            Body::Empty => 0,
            Body::One(bytes) => bytes.len(),
            Body::Many(buf) => buf.len(),
        }
    }

    /// Whether no body has been fed yet.
    ///
    /// ```
    /// # use appwrite_webhooks::{Verifier, sender::DeliveryBuilder};
    /// # let sent = DeliveryBuilder::new("k", "https://e.x/h", "{}").build();
    /// let verification = Verifier::new("k", "https://e.x/h").start(&"/h".parse().unwrap(), sent.headers())?;
    /// assert!(verification.is_empty());
    /// # Ok::<(), appwrite_webhooks::Error>(())
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Checks the signature over everything fed, then returns the delivery with its body.
    ///
    /// ```
    /// # use appwrite_webhooks::{Error, Verifier, sender::DeliveryBuilder};
    /// # let sent = DeliveryBuilder::new("k", "https://e.x/h", "{}").build();
    /// let mut verification = Verifier::new("k", "https://e.x/h").start(&"/h".parse().unwrap(), sent.headers())?;
    /// verification.update(bytes::Bytes::from_static(b"{ }"))?; // not what was signed
    /// assert!(matches!(verification.finish(), Err(Error::SignatureMismatch)));
    /// # Ok::<(), Error>(())
    /// ```
    pub fn finish(self) -> Result<Delivery<Bytes>, Error> {
        let key_index = self.candidates.matching_key(&self.signature)?;
        let body = match self.body {
            Body::Empty => Bytes::new(),
            Body::One(bytes) => bytes,
            Body::Many(buf) => buf.freeze(),
        };
        Ok(Delivery {
            meta: self.headers?,
            signature: self.signature,
            key_index,
            body,
        })
    }
}

impl fmt::Debug for Verification {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Verification")
            .field("signature", &self.signature)
            .field("read", &self.len())
            .field("limit", &self.limit)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use crate::Verifier;
    use crate::sender::DeliveryBuilder;
    use bytes::Bytes;

    #[test]
    fn every_chunking_gives_the_same_result() {
        let url = "https://example.com/hook";
        let body: Vec<u8> = (0..300u32).map(|i| (i % 251) as u8).collect();
        let sent = DeliveryBuilder::new("k", url, body.clone()).build();
        let verifier = Verifier::new("k", url);
        for size in [1, 2, 7, 64, 299, 300, 1000] {
            let mut v = verifier
                .start(&"/hook".parse().unwrap(), sent.headers())
                .unwrap();
            for chunk in body.chunks(size) {
                v.update(Bytes::copy_from_slice(chunk)).unwrap();
            }
            let delivery = v.finish().unwrap();
            assert_eq!(delivery.body(), &body[..], "chunk size {size}");
        }
    }

    #[test]
    fn one_chunk_is_not_copied() {
        let url = "https://example.com/hook";
        let sent = DeliveryBuilder::new("k", url, "{}").build();
        let mut headers = sent.headers().clone();
        headers.remove(http::header::CONTENT_LENGTH);
        let chunk = Bytes::from(b"{}".to_vec());
        let ptr = chunk.as_ptr();
        let mut v = Verifier::new("k", url)
            .start(&"/hook".parse().unwrap(), &headers)
            .unwrap();
        v.update(chunk).unwrap();
        assert_eq!(v.finish().unwrap().body().as_ptr(), ptr);
    }
}
