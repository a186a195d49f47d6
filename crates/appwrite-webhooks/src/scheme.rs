//! Signing schemes: Appwrite's (the default) and two opt-in schemes from the wider world.

use std::fmt;
use std::time::Duration;

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::SigningKey;

pub(crate) type HmacSha256 = Hmac<Sha256>;

/// How deliveries are signed. [`Scheme::Appwrite`] is what Appwrite's server sends; the other
/// two are opt-in.
///
/// | scheme | signature header | what is signed | replay protection |
/// |---|---|---|---|
/// | [`Scheme::Appwrite`] | `X-Appwrite-Webhook-Signature: base64(HMAC-SHA1)` | URL ++ raw body | none in the scheme; [`ReplayGuard`](crate::ReplayGuard) on the signature |
/// | [`Scheme::Timestamped`] | `X-Appwrite-Webhook-Signature: hex(HMAC-SHA256)` + `X-Appwrite-Webhook-Timestamp` | `"{timestamp}.{raw body}"` | tolerance window (300 s default); guard on the envelope's `$id` |
/// | [`Scheme::Generic`] | `X-Webhook-Signature: sha256=hex(HMAC-SHA256)` | raw body | none in the scheme; guard on the envelope's event `id` |
///
/// All three share the [`Verifier`](crate::Verifier)'s key rotation, body limit, errors,
/// streaming verification and adapters. The documents describing the other two compute their
/// example HMAC over `JSON.stringify(req.body)` — JSON parsed and serialised again. That only
/// works when the sender's serialiser happens to produce the same bytes (key order, spacing,
/// escapes such as `\/`, number formats); PHP's `json_encode` does not. This crate always
/// verifies the raw bytes received.
///
/// ```
/// use appwrite_webhooks::Scheme;
/// use std::time::Duration;
///
/// assert_eq!(Scheme::timestamped(), Scheme::Timestamped { tolerance: Duration::from_secs(300) });
/// assert_eq!("generic".parse::<Scheme>(), Ok(Scheme::Generic));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Scheme {
    /// `X-Appwrite-Webhook-Signature` = base64 HMAC-SHA1 over the webhook URL followed by the
    /// raw body.
    #[default]
    Appwrite,
    /// `X-Appwrite-Webhook-Timestamp` (unix seconds) and `X-Appwrite-Webhook-Signature` = hex
    /// HMAC-SHA256 over `"{timestamp}.{raw body}"`. Deliveries whose timestamp is further than
    /// `tolerance` from this server's clock, in either direction, are rejected.
    Timestamped {
        /// How far the timestamp may be from now. Too short rejects honest deliveries from a
        /// sender with a skewed clock or a slow retry; too long widens the replay window.
        tolerance: Duration,
    },
    /// `X-Webhook-Signature: sha256=<hex HMAC-SHA256 of the raw body>`, with `X-Webhook-Id`
    /// (the webhook) and `X-Webhook-Event` (the event type).
    Generic,
}

impl Scheme {
    /// The tolerance [`Scheme::timestamped`] uses: five minutes, as Stripe and Standard
    /// Webhooks do.
    pub const DEFAULT_TOLERANCE: Duration = Duration::from_secs(300);

    /// The timestamped scheme with the default tolerance of five minutes.
    pub fn timestamped() -> Self {
        Self::Timestamped {
            tolerance: Self::DEFAULT_TOLERANCE,
        }
    }

    /// The scheme's name as the CLI's `--scheme` spells it.
    ///
    /// ```
    /// assert_eq!(appwrite_webhooks::Scheme::timestamped().name(), "timestamped");
    /// ```
    pub fn name(&self) -> &'static str {
        match self {
            Scheme::Appwrite => "appwrite",
            Scheme::Timestamped { .. } => "timestamped",
            Scheme::Generic => "generic",
        }
    }
}

impl fmt::Display for Scheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The scheme name was not one of `appwrite`, `timestamped`, `generic`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown scheme {0:?}: expected appwrite, timestamped or generic")]
pub struct UnknownScheme(String);

impl std::str::FromStr for Scheme {
    type Err = UnknownScheme;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "appwrite" => Ok(Self::Appwrite),
            "timestamped" => Ok(Self::timestamped()),
            "generic" => Ok(Self::Generic),
            other => Err(UnknownScheme(other.to_owned())),
        }
    }
}

/// Computes the timestamped scheme's `X-Appwrite-Webhook-Signature`: lower-case hex
/// HMAC-SHA256 over `"{timestamp}.{body}"`.
///
/// ```
/// let sig = appwrite_webhooks::sign_timestamped("secret", 1_700_000_000, b"{}");
/// assert_eq!(sig.len(), 64);
/// ```
pub fn sign_timestamped(key: impl Into<SigningKey>, timestamp: u64, body: &[u8]) -> String {
    let mut mac = keyed_sha256(&key.into());
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    hex(&mac.finalize().into_bytes())
}

/// Computes the generic scheme's `X-Webhook-Signature`: `sha256=` and the lower-case hex
/// HMAC-SHA256 of the body.
///
/// ```
/// let sig = appwrite_webhooks::sign_generic("secret", b"{}");
/// assert!(sig.starts_with("sha256=") && sig.len() == 71);
/// ```
pub fn sign_generic(key: impl Into<SigningKey>, body: &[u8]) -> String {
    let mut mac = keyed_sha256(&key.into());
    mac.update(body);
    format!("sha256={}", hex(&mac.finalize().into_bytes()))
}

/// An HMAC-SHA256 state with the key already absorbed.
pub(crate) fn keyed_sha256(key: &SigningKey) -> HmacSha256 {
    match <HmacSha256 as Mac>::new_from_slice(key.expose_bytes()) {
        Ok(mac) => mac,
        Err(_) => unreachable!("HMAC accepts keys of any length"),
    }
}

/// Lower-case hex; a dependency would be more code than this.
pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 0x0f)] as char);
    }
    out
}

/// Decodes hex of either case into `out`; `None` unless `text` is exactly `2 * out.len()` hex
/// digits.
pub(crate) fn unhex(text: &[u8], out: &mut [u8]) -> Option<()> {
    fn digit(c: u8) -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            b'A'..=b'F' => Some(c - b'A' + 10),
            _ => None,
        }
    }
    if text.len() != out.len() * 2 {
        return None;
    }
    for (byte, pair) in out.iter_mut().zip(text.chunks_exact(2)) {
        *byte = (digit(pair[0])? << 4) | digit(pair[1])?;
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trips() {
        let bytes: Vec<u8> = (0..=255).collect();
        let text = hex(&bytes);
        let mut back = vec![0; 256];
        unhex(text.as_bytes(), &mut back).unwrap();
        assert_eq!(back, bytes);
        unhex(text.to_uppercase().as_bytes(), &mut back).unwrap();
        assert_eq!(back, bytes);
        assert!(unhex(b"0g", &mut [0]).is_none());
        assert!(unhex(b"000", &mut [0]).is_none());
    }

    #[test]
    fn names_round_trip() {
        for scheme in [Scheme::Appwrite, Scheme::timestamped(), Scheme::Generic] {
            assert_eq!(scheme.name().parse::<Scheme>(), Ok(scheme));
        }
        assert!("sha1".parse::<Scheme>().is_err());
    }
}
