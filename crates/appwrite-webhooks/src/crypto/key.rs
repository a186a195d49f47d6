//! The webhook's signing key, kept out of logs, with the label and the end of validity a
//! rotation gives it.

use std::fmt;
use std::sync::Arc;
use std::time::SystemTime;

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
///
/// A key can carry a **label**, reported in the delivery's span and metrics instead of its
/// index (`"2026-q4"`; keep labels few and fixed, they are metric label values), and a
/// **not-after** time, past which the verifier no longer tries it: a rotation window that
/// closes by itself.
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use appwrite_webhooks::SigningKey;
///
/// let old = SigningKey::from("whsec_old")
///     .label("previous")
///     .not_after(SystemTime::now() + Duration::from_secs(7 * 24 * 3600));
/// assert_eq!(old.key_label(), Some("previous"));
/// assert_eq!(format!("{old:?}"), r#"SigningKey(***, label: "previous", not_after: set)"#);
/// ```
#[derive(Clone)]
pub struct SigningKey {
    bytes: Vec<u8>,
    label: Option<Arc<str>>,
    not_after: Option<SystemTime>,
}

impl SigningKey {
    /// Wraps raw key bytes.
    ///
    /// ```
    /// let key = appwrite_webhooks::SigningKey::new(b"secret".to_vec());
    /// assert_eq!(key.expose_bytes(), b"secret");
    /// ```
    pub fn new(bytes: impl Into<Vec<u8>>) -> Self {
        Self {
            bytes: bytes.into(),
            label: None,
            not_after: None,
        }
    }

    /// Names the key in spans and metrics (the `key` label) instead of its index.
    pub fn label(mut self, label: impl Into<Arc<str>>) -> Self {
        self.label = Some(label.into());
        self
    }

    /// The key is not tried for deliveries verified after `time` (by the verifier's
    /// [`Clock`](crate::Clock)): its deliveries then fail as
    /// [`SignatureMismatch`](crate::Error::SignatureMismatch).
    pub fn not_after(mut self, time: SystemTime) -> Self {
        self.not_after = Some(time);
        self
    }

    /// The label given by [`label`](Self::label).
    pub fn key_label(&self) -> Option<&str> {
        self.label.as_deref()
    }

    /// The time given by [`not_after`](Self::not_after).
    pub fn valid_until(&self) -> Option<SystemTime> {
        self.not_after
    }

    pub(crate) fn shared_label(&self) -> Option<Arc<str>> {
        self.label.clone()
    }

    /// Whether the key may still be tried at `now`.
    pub(crate) fn valid_at(&self, now: SystemTime) -> bool {
        self.not_after.is_none_or(|end| now <= end)
    }

    /// The key's bytes. Named so that every use of the secret stands out in review.
    ///
    /// ```
    /// let key = appwrite_webhooks::SigningKey::from("k");
    /// assert_eq!(key.expose_bytes(), b"k");
    /// ```
    pub fn expose_bytes(&self) -> &[u8] {
        &self.bytes
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigningKey(***")?;
        if let Some(label) = &self.label {
            write!(f, ", label: {label:?}")?;
        }
        if self.not_after.is_some() {
            f.write_str(", not_after: set")?;
        }
        f.write_str(")")
    }
}

impl PartialEq for SigningKey {
    fn eq(&self, other: &Self) -> bool {
        self.bytes.ct_eq(&other.bytes).into()
    }
}

impl Eq for SigningKey {}

impl From<&str> for SigningKey {
    fn from(key: &str) -> Self {
        Self::new(key.as_bytes())
    }
}

impl From<String> for SigningKey {
    fn from(key: String) -> Self {
        Self::new(key.into_bytes())
    }
}

impl From<&[u8]> for SigningKey {
    fn from(key: &[u8]) -> Self {
        Self::new(key)
    }
}

impl From<Vec<u8>> for SigningKey {
    fn from(key: Vec<u8>) -> Self {
        Self::new(key)
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
