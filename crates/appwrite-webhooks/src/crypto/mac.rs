//! Keyed MACs: the HMAC states a verifier prepares once and clones per request, the candidates a
//! request's body goes into, and hex for the schemes that write tags that way.

use hmac::{Hmac, Mac};
use sha1::Sha1;
use sha2::Sha256;

use crate::crypto::key::SigningKey;
use crate::crypto::signature::Signature;
use crate::error::Error;

type HmacSha1 = Hmac<Sha1>;
type HmacSha256 = Hmac<Sha256>;

/// Which hash a scheme's HMAC runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Hash {
    Sha1,
    Sha256,
}

// `hmac` only returns an error for fixed-key-size MACs, which HMAC is not.
fn any_length<T>(_: hmac::digest::InvalidLength) -> T {
    unreachable!("HMAC accepts keys of any length")
}

/// An HMAC state of either hash, with the key (and possibly more) already absorbed.
#[derive(Clone)]
pub(crate) enum KeyedMac {
    Sha1(HmacSha1),
    Sha256(HmacSha256),
}

impl KeyedMac {
    /// A state with `key` absorbed. HMAC takes keys of any length (RFC 2104: longer keys are
    /// hashed, shorter ones padded), so this cannot fail.
    pub(crate) fn new(hash: Hash, key: &SigningKey) -> Self {
        let key = key.expose_bytes();
        match hash {
            Hash::Sha1 => Self::Sha1(HmacSha1::new_from_slice(key).unwrap_or_else(any_length)),
            Hash::Sha256 => {
                Self::Sha256(HmacSha256::new_from_slice(key).unwrap_or_else(any_length))
            }
        }
    }

    /// This state with `prefix` absorbed: what every message under it starts with.
    pub(crate) fn absorbing(&self, prefix: &[u8]) -> Self {
        let mut mac = self.clone();
        mac.update(prefix);
        mac
    }

    pub(crate) fn update(&mut self, bytes: &[u8]) {
        match self {
            Self::Sha1(mac) => mac.update(bytes),
            Self::Sha256(mac) => mac.update(bytes),
        }
    }

    /// The final tag: for signing, and for keyed fingerprints.
    pub(crate) fn finalize(self) -> Vec<u8> {
        match self {
            Self::Sha1(mac) => mac.finalize().into_bytes().to_vec(),
            Self::Sha256(mac) => mac.finalize().into_bytes().to_vec(),
        }
    }

    /// Compares the final tag with `tag` in constant time (`verify_slice` uses `subtle`); a tag
    /// of the other hash's length never matches.
    fn verify(self, tag: &[u8]) -> bool {
        match self {
            Self::Sha1(mac) => mac.verify_slice(tag).is_ok(),
            Self::Sha256(mac) => mac.verify_slice(tag).is_ok(),
        }
    }
}

/// HMAC states still waiting for the body: one per accepted (key, URL) pair, each tagged with
/// the index of its key.
pub(crate) struct Candidates(Vec<(usize, KeyedMac)>);

impl Candidates {
    pub(crate) fn with_capacity(n: usize) -> Self {
        Self(Vec::with_capacity(n))
    }

    pub(crate) fn push(&mut self, key_index: usize, mac: KeyedMac) {
        self.0.push((key_index, mac));
    }

    pub(crate) fn update(&mut self, bytes: &[u8]) {
        for (_, mac) in &mut self.0 {
            mac.update(bytes);
        }
    }

    /// The key whose tag equals `signature`, compared in constant time; no match is
    /// [`Error::SignatureMismatch`].
    pub(crate) fn matching_key(self, signature: &Signature) -> Result<usize, Error> {
        self.0
            .into_iter()
            .find_map(|(key_index, mac)| mac.verify(signature.as_bytes()).then_some(key_index))
            .ok_or(Error::SignatureMismatch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absorbing_a_prefix_equals_updating_with_it() {
        let key = SigningKey::from("k");
        for hash in [Hash::Sha1, Hash::Sha256] {
            let mut whole = KeyedMac::new(hash, &key);
            whole.update(b"prefix.body");
            let mut split = KeyedMac::new(hash, &key).absorbing(b"prefix.");
            split.update(b"body");
            assert_eq!(whole.finalize(), split.finalize());
        }
    }
}
