//! A delivery's identity: what every ledger (a replay guard's store, an inbox) keys on. Each
//! scheme defines it ([`Delivery::fingerprint`](crate::Delivery::fingerprint)).

use std::fmt;

use crate::crypto::hex::hex;

/// A delivery's identity, what every ledger keys on: up to 32 bytes, chosen by the delivery's
/// scheme (see [`Delivery::fingerprint`](crate::Delivery::fingerprint)). Its `Display` is lower-case hex, for stores that key on text.
///
/// ```
/// use appwrite_webhooks::Fingerprint;
/// let fingerprint = Fingerprint::new(&[0xab; 20]);
/// assert_eq!(fingerprint.as_bytes().len(), 20);
/// assert_eq!(fingerprint.to_string(), "ab".repeat(20));
/// ```
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Fingerprint {
    bytes: [u8; Self::MAX_LEN],
    len: u8,
}

impl Fingerprint {
    /// The longest fingerprint, in bytes.
    pub const MAX_LEN: usize = 32;

    /// How many leading bytes of a delivery's identity are its body key's, where the scheme
    /// counts labels per body (Appwrite's: see [`LabelStore`](crate::LabelStore)). A store may
    /// find every label of a body among the identities it holds by this prefix.
    pub const BODY_KEY_PREFIX: usize = 16;

    /// A fingerprint of `bytes`; bytes past [`MAX_LEN`](Self::MAX_LEN) are not kept. For
    /// stores' tests; the guard computes deliveries' fingerprints itself.
    pub fn new(bytes: &[u8]) -> Self {
        let len = bytes.len().min(Self::MAX_LEN);
        let mut fingerprint = Self {
            bytes: [0; Self::MAX_LEN],
            len: len as u8,
        };
        fingerprint.bytes[..len].copy_from_slice(&bytes[..len]);
        fingerprint
    }

    /// The fingerprint's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }

    /// Whether this delivery identity begins with `body`'s first
    /// [`BODY_KEY_PREFIX`](Self::BODY_KEY_PREFIX) bytes: the identity of a delivery of that
    /// body, in a scheme whose identities carry their body key.
    ///
    /// ```
    /// use appwrite_webhooks::Fingerprint;
    /// let body = Fingerprint::new(&[7; 32]);
    /// let mut identity = [7; 32];
    /// identity[16..].fill(1);
    /// assert!(Fingerprint::new(&identity).carries_body_key(&body));
    /// assert!(!Fingerprint::new(&[1; 32]).carries_body_key(&body));
    /// ```
    pub fn carries_body_key(&self, body: &Fingerprint) -> bool {
        let prefix = Self::BODY_KEY_PREFIX;
        self.len == body.len
            && usize::from(self.len) > prefix
            && self.bytes[..prefix] == body.bytes[..prefix]
    }
}

/// Hashes the first and the last 8 of the 32 bytes (zero past a shorter fingerprint's end) and
/// the length, not all 32: a fingerprint is a hash or an HMAC tag already, so these bytes are
/// as spread as the rest, and a map keyed by fingerprints (`SipHash` with a random key, as the
/// standard library's) hashes a quarter of the input. Both ends, because an identity that begins with its body key
/// shares its first bytes with the body's other labels. Equal fingerprints have equal bytes,
/// so this agrees with `Eq`.
impl std::hash::Hash for Fingerprint {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        let (mut first, mut last) = ([0; 8], [0; 8]);
        first.copy_from_slice(&self.bytes[..8]);
        last.copy_from_slice(&self.bytes[Self::MAX_LEN - 8..]);
        state.write_u64(u64::from_le_bytes(first) ^ u64::from_le_bytes(last));
        state.write_u8(self.len);
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex(self.as_bytes()))
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Fingerprint({self})")
    }
}
