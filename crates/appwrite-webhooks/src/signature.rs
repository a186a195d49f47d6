//! The signature header's value: Appwrite's `base64(HMAC-SHA1(key, url ++ body))`, or the
//! hex HMAC-SHA256 tags of the opt-in schemes.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha1::Sha1;

use crate::error::MalformedSignature;
use crate::scheme::{hex, unhex};
use crate::{Scheme, SigningKey};

pub(crate) type HmacSha1 = Hmac<Sha1>;

/// Length of an HMAC-SHA1 tag in bytes.
pub const TAG_LEN: usize = 20;

/// Computes the signature Appwrite sends for `body` posted to `url`.
///
/// `url` is the webhook URL exactly as configured in Appwrite; the HMAC runs over the URL's bytes
/// immediately followed by the raw body's bytes, with no separator. The result is standard base64
/// with padding (28 characters), the value of `X-Appwrite-Webhook-Signature`.
///
/// ```
/// let sig = appwrite_webhooks::sign("secret", "https://example.com/hook", br#"{"a":1}"#);
/// assert_eq!(sig.len(), 28);
/// ```
pub fn sign(key: impl Into<SigningKey>, url: &str, body: &[u8]) -> String {
    let key = key.into();
    let mut mac = keyed_mac(&key);
    mac.update(url.as_bytes());
    mac.update(body);
    STANDARD.encode(mac.finalize().into_bytes())
}

/// An HMAC-SHA1 state with the key already absorbed.
pub(crate) fn keyed_mac(key: &SigningKey) -> HmacSha1 {
    match <HmacSha1 as Mac>::new_from_slice(key.expose_bytes()) {
        Ok(mac) => mac,
        // RFC 2104: keys longer than the block are hashed, shorter ones padded; `hmac` only
        // returns an error for fixed-key-size MACs, which HMAC is not.
        Err(_) => unreachable!("HMAC accepts keys of any length"),
    }
}

/// A decoded signature: the HMAC tag carried in the signature header — 20 bytes of HMAC-SHA1
/// in Appwrite's base64, or 32 bytes of HMAC-SHA256 in hex for the opt-in
/// [`Scheme`](crate::Scheme)s.
///
/// It has no `PartialEq`: tags are compared in constant time by the verifier, never with `==`.
///
/// ```
/// use appwrite_webhooks::Signature;
///
/// let sig: Signature = "73HVjq6EFDqxMRzMDoRH96HHWAM=".parse()?;
/// assert_eq!(sig.to_string(), "73HVjq6EFDqxMRzMDoRH96HHWAM=");
/// assert!("not base64!".parse::<Signature>().is_err());
/// # Ok::<(), appwrite_webhooks::MalformedSignature>(())
/// ```
#[derive(Clone, Copy)]
pub struct Signature {
    tag: [u8; SHA256_LEN],
    len: usize,
    format: Format,
}

const SHA256_LEN: usize = 32;

/// How the tag was written in its header, to write it back the same way.
#[derive(Clone, Copy)]
enum Format {
    Base64,
    Hex,
    PrefixedHex,
}

impl Signature {
    /// Decodes an Appwrite header value: standard base64 with padding, exactly 20 bytes once
    /// decoded.
    ///
    /// ```
    /// let sig = appwrite_webhooks::Signature::from_header_bytes(b"73HVjq6EFDqxMRzMDoRH96HHWAM=");
    /// assert!(sig.is_ok());
    /// ```
    pub fn from_header_bytes(value: &[u8]) -> Result<Self, MalformedSignature> {
        // Base64 of 20 bytes is 28 characters; reject anything longer before decoding so a
        // hostile header cannot make us allocate.
        if value.len() != 28 {
            return match STANDARD.decode(value) {
                Ok(bytes) if value.len() <= 64 => Err(MalformedSignature::WrongLength(bytes.len())),
                _ if value.len() > 64 => Err(MalformedSignature::WrongLength(value.len() * 3 / 4)),
                _ => Err(MalformedSignature::NotBase64),
            };
        }
        let mut tag = [0u8; SHA256_LEN];
        match STANDARD.decode_slice(value, &mut tag[..TAG_LEN]) {
            Ok(TAG_LEN) => Ok(Self {
                tag,
                len: TAG_LEN,
                format: Format::Base64,
            }),
            Ok(n) => Err(MalformedSignature::WrongLength(n)),
            Err(_) => Err(MalformedSignature::NotBase64),
        }
    }

    /// Decodes a signature header value as `scheme` writes it: base64 for
    /// [`Scheme::Appwrite`], 64 hex digits for [`Scheme::Timestamped`], `sha256=` and 64 hex
    /// digits for [`Scheme::Generic`].
    ///
    /// ```
    /// use appwrite_webhooks::{Scheme, Signature, sign_generic};
    ///
    /// let header = sign_generic("k", b"{}");
    /// let sig = Signature::parse(Scheme::Generic, header.as_bytes())?;
    /// assert_eq!(sig.as_bytes().len(), 32);
    /// assert_eq!(sig.to_string(), header);
    /// # Ok::<(), appwrite_webhooks::MalformedSignature>(())
    /// ```
    pub fn parse(scheme: Scheme, value: &[u8]) -> Result<Self, MalformedSignature> {
        let (hex, format) = match scheme {
            Scheme::Appwrite => return Self::from_header_bytes(value),
            Scheme::Timestamped { .. } => (value, Format::Hex),
            Scheme::Generic => match value.strip_prefix(b"sha256=") {
                Some(hex) => (hex, Format::PrefixedHex),
                None => return Err(MalformedSignature::MissingPrefix("sha256=")),
            },
        };
        let mut tag = [0u8; SHA256_LEN];
        if hex.len() != 2 * SHA256_LEN {
            return Err(MalformedSignature::WrongHexLength(hex.len()));
        }
        unhex(hex, &mut tag).ok_or(MalformedSignature::NotHex)?;
        Ok(Self {
            tag,
            len: SHA256_LEN,
            format,
        })
    }

    /// The raw tag: 20 bytes (HMAC-SHA1) or 32 bytes (HMAC-SHA256).
    ///
    /// ```
    /// let sig: appwrite_webhooks::Signature = "73HVjq6EFDqxMRzMDoRH96HHWAM=".parse().unwrap();
    /// assert_eq!(sig.as_bytes().len(), 20);
    /// ```
    pub fn as_bytes(&self) -> &[u8] {
        &self.tag[..self.len]
    }
}

impl std::str::FromStr for Signature {
    type Err = MalformedSignature;

    /// Parses Appwrite's base64 form; see [`Signature::parse`] for the other schemes.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::from_header_bytes(s.as_bytes())
    }
}

impl fmt::Display for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.format {
            Format::Base64 => f.write_str(&STANDARD.encode(self.as_bytes())),
            Format::Hex => f.write_str(&hex(self.as_bytes())),
            Format::PrefixedHex => write!(f, "sha256={}", hex(self.as_bytes())),
        }
    }
}

impl fmt::Debug for Signature {
    // The signature is not secret (it travels in a header), so showing it helps debugging.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Signature({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_vector() {
        // From ../shared/appwrite/signature-vectors.json, "empty body".
        assert_eq!(
            sign("secret", "https://example.com/hook", b""),
            "73HVjq6EFDqxMRzMDoRH96HHWAM="
        );
    }

    #[test]
    fn malformed_values_say_why() {
        assert_eq!(
            Signature::from_str_err("abc"),
            MalformedSignature::NotBase64
        );
        assert_eq!(
            Signature::from_str_err("AAAA"),
            MalformedSignature::WrongLength(3)
        );
        assert_eq!(
            Signature::from_str_err("%%%%%%%%%%%%%%%%%%%%%%%%%%%="),
            MalformedSignature::NotBase64
        );
        let long = "A".repeat(10_000);
        assert!(matches!(
            Signature::from_str_err(&long),
            MalformedSignature::WrongLength(_)
        ));
        // 28 characters that decode to fewer than 20 bytes.
        assert_eq!(
            Signature::from_str_err("AAAAAAAAAAAAAAAAAAAAAAAAAA=="),
            MalformedSignature::WrongLength(19)
        );
    }

    impl Signature {
        fn from_str_err(s: &str) -> MalformedSignature {
            match s.parse::<Signature>() {
                Ok(_) => panic!("{s} parsed"),
                Err(e) => e,
            }
        }
    }
}
