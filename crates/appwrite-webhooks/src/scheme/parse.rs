//! Reading a scheme's name (the CLI's `--scheme`) and a signature header in a scheme's form.

use std::fmt;

use super::Scheme;
use crate::crypto::signature::Signature;
use crate::error::MalformedSignature;

impl Signature {
    /// Decodes a signature header value as `scheme` writes it: base64 for
    /// [`Scheme::Appwrite`], 64 hex digits for [`Scheme::Timestamped`], `sha256=` and 64 hex
    /// digits for [`Scheme::Generic`] and [`Scheme::Alert`]. The one parser; `str::parse` is this for Appwrite's.
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
        scheme.parse_signature(value)
    }
}

impl std::str::FromStr for Signature {
    type Err = MalformedSignature;

    /// Parses Appwrite's base64 form; see [`Signature::parse`] for the other schemes.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(Scheme::Appwrite, s.as_bytes())
    }
}

impl fmt::Display for Scheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The scheme name was not one of `appwrite`, `alert`, `timestamped`, `generic`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown scheme {0:?}: expected appwrite, alert, timestamped or generic")]
pub struct UnknownScheme(String);

impl std::str::FromStr for Scheme {
    type Err = UnknownScheme;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "appwrite" => Ok(Self::Appwrite),
            "timestamped" => Ok(Self::timestamped()),
            "generic" => Ok(Self::Generic),
            "alert" => Ok(Self::alert()),
            other => Err(UnknownScheme(other.to_owned())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for scheme in [
            Scheme::Appwrite,
            Scheme::timestamped(),
            Scheme::Generic,
            Scheme::alert(),
        ] {
            assert_eq!(scheme.name().parse::<Scheme>(), Ok(scheme));
        }
        assert!("sha1".parse::<Scheme>().is_err());
    }
}
