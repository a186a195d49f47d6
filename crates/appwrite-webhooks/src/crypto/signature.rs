//! The decoded value of a signature header.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::crypto::hex::{hex, unhex};
use crate::error::MalformedSignature;

/// The longest tag a scheme uses: HMAC-SHA256's 32 bytes.
const MAX_TAG: usize = 32;

/// A decoded signature: the HMAC tag carried in the signature header — 20 bytes of HMAC-SHA1
/// in Appwrite's base64, or 32 bytes of HMAC-SHA256 in hex for the opt-in
/// [`Scheme`](crate::Scheme)s. Each scheme decodes its own header form ([`Signature::parse`]).
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
    tag: [u8; MAX_TAG],
    len: usize,
    form: Form,
}

/// How the tag was written in its header, to write it back the same way.
#[derive(Clone, Copy)]
pub(crate) enum Form {
    Base64,
    Hex,
    /// `sha256=` then hex.
    PrefixedHex,
    /// No signature header: an unsigned alert a verifier was told to accept.
    Unsigned,
}

impl Signature {
    /// A tag decoded from `form`; `bytes` is at most 32 bytes (the caller checked the length).
    pub(crate) fn from_tag(bytes: &[u8], form: Form) -> Self {
        let mut tag = [0; MAX_TAG];
        tag[..bytes.len()].copy_from_slice(bytes);
        Self {
            tag,
            len: bytes.len(),
            form,
        }
    }

    /// A 32-byte tag written as 64 hex digits of either case (the hex schemes' form).
    pub(crate) fn from_hex(hex: &[u8], form: Form) -> Result<Self, MalformedSignature> {
        let mut tag = [0u8; MAX_TAG];
        if hex.len() != 2 * MAX_TAG {
            return Err(MalformedSignature::WrongHexLength(hex.len()));
        }
        unhex(hex, &mut tag).ok_or(MalformedSignature::NotHex)?;
        Ok(Self::from_tag(&tag, form))
    }

    /// `sha256=` then 64 hex digits of either case: the form of the generic and alert schemes
    /// (Appwrite writes lower case).
    pub(crate) fn from_prefixed_hex(value: &[u8]) -> Result<Self, MalformedSignature> {
        const PREFIX: &str = "sha256=";
        let hex = value
            .strip_prefix(PREFIX.as_bytes())
            .ok_or(MalformedSignature::MissingPrefix(PREFIX))?;
        Self::from_hex(hex, Form::PrefixedHex)
    }

    /// The stand-in for an alert sent without a signature: no tag, shown as nothing. Only a
    /// verifier that [accepts unsigned alerts](crate::Verifier::with_unsigned_alerts) makes it.
    pub(crate) fn unsigned() -> Self {
        Self::from_tag(&[], Form::Unsigned)
    }

    /// Whether this stands for a missing signature ([`unsigned`](Self::unsigned)).
    pub(crate) fn is_unsigned(&self) -> bool {
        matches!(self.form, Form::Unsigned)
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

impl fmt::Display for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.form {
            Form::Base64 => f.write_str(&STANDARD.encode(self.as_bytes())),
            Form::Hex => f.write_str(&hex(self.as_bytes())),
            Form::PrefixedHex => write!(f, "sha256={}", hex(self.as_bytes())),
            Form::Unsigned => Ok(()),
        }
    }
}

impl fmt::Debug for Signature {
    // The signature is not secret (it travels in a header), so showing it helps debugging.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Signature({self})")
    }
}
