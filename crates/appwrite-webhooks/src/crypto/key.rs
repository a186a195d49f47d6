//! The webhook's signing key, kept out of logs.

use std::fmt;

use subtle::ConstantTimeEq as _;

/// A webhook signing key (Appwrite calls it the webhook's "signature key").
///
/// The key is used as raw bytes, exactly as Appwrite's PHP `hash_hmac` uses the string. Its
/// `Debug` output is `SigningKey(***)`, so a key never reaches a log through `{:?}` on a
/// verifier or a configuration struct, and `==` compares in constant time (for keys of equal
/// length; the length is not secret).
///
/// ```
/// use appwrite_webhooks::SigningKey;
///
/// let key = SigningKey::from("whsec_secret");
/// assert_eq!(format!("{key:?}"), "SigningKey(***)");
/// ```
#[derive(Clone)]
pub struct SigningKey(Vec<u8>);

impl SigningKey {
    /// Wraps raw key bytes.
    ///
    /// ```
    /// let key = appwrite_webhooks::SigningKey::new(b"secret".to_vec());
    /// assert_eq!(key.expose_bytes(), b"secret");
    /// ```
    pub fn new(bytes: impl Into<Vec<u8>>) -> Self {
        Self(bytes.into())
    }

    /// The key's bytes. Named so that every use of the secret stands out in review.
    ///
    /// ```
    /// let key = appwrite_webhooks::SigningKey::from("k");
    /// assert_eq!(key.expose_bytes(), b"k");
    /// ```
    pub fn expose_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigningKey(***)")
    }
}

impl PartialEq for SigningKey {
    fn eq(&self, other: &Self) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

impl Eq for SigningKey {}

impl From<&str> for SigningKey {
    fn from(key: &str) -> Self {
        Self(key.as_bytes().to_vec())
    }
}

impl From<String> for SigningKey {
    fn from(key: String) -> Self {
        Self(key.into_bytes())
    }
}

impl From<&[u8]> for SigningKey {
    fn from(key: &[u8]) -> Self {
        Self(key.to_vec())
    }
}

impl From<Vec<u8>> for SigningKey {
    fn from(key: Vec<u8>) -> Self {
        Self(key)
    }
}

impl From<&SigningKey> for SigningKey {
    fn from(key: &SigningKey) -> Self {
        key.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_key() {
        let key = SigningKey::from("super-secret-value");
        let shown = format!("{key:?} {:?}", Some(&key));
        assert!(!shown.contains("super-secret"), "{shown}");
    }

    #[test]
    fn equality_compares_the_bytes() {
        assert_eq!(SigningKey::from("k1"), SigningKey::from(b"k1".to_vec()));
        assert_ne!(SigningKey::from("k1"), SigningKey::from("k2"));
        assert_ne!(SigningKey::from("k1"), SigningKey::from("k12"));
    }
}
