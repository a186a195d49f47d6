//! `--scheme`, `--timestamp` and `--tolerance`: the options every command that signs or
//! verifies shares for the opt-in schemes.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use appwrite_webhooks::{Scheme, SigningKey, Verifier};
use clap::Args;

use crate::Failure;

#[derive(Args, Clone)]
pub struct SchemeArgs {
    /// Signing scheme: `appwrite` (base64 HMAC-SHA1 over URL and body, what Appwrite sends for
    /// events), `alert` (sha256=HEX HMAC-SHA256 over "TIMESTAMP.BODY", what Appwrite sends for
    /// alerts), `timestamped` (bare hex over "TIMESTAMP.BODY", the seed document's form) or
    /// `generic` (sha256=HEX over the body). Only `appwrite` needs --url.
    #[arg(long, default_value = "appwrite", value_parser = parse_scheme)]
    pub scheme: Scheme,
}

fn parse_scheme(text: &str) -> Result<Scheme, String> {
    text.parse()
        .map_err(|e: appwrite_webhooks::UnknownScheme| e.to_string())
}

impl SchemeArgs {
    /// `--url` when the scheme signs it; a usage error when it is needed and absent.
    pub fn signed_url<'a>(&self, url: Option<&'a str>) -> Result<Option<&'a str>, Failure> {
        match (self.scheme, url) {
            (Scheme::Appwrite, None) => Err(Failure::Usage(
                "--url is required: the appwrite scheme signs the webhook URL".into(),
            )),
            (Scheme::Appwrite, url) => Ok(url),
            (_, _) => Ok(None),
        }
    }

    /// A verifier of this scheme; `url` is used by the appwrite scheme only.
    pub fn verifier(
        &self,
        key: SigningKey,
        url: Option<&str>,
        tolerance: u64,
    ) -> Result<Verifier, Failure> {
        Ok(match self.scheme {
            Scheme::Appwrite => Verifier::new(key, self.signed_url(url)?.unwrap_or_default()),
            Scheme::Generic => Verifier::generic(key),
            Scheme::Alert { .. } => {
                Verifier::alert(key).with_tolerance(Duration::from_secs(tolerance))
            }
            _ => Verifier::timestamped(key).with_tolerance(Duration::from_secs(tolerance)),
        })
    }

    /// Whether the scheme signs a timestamp (`timestamped`, `alert`): `--timestamp` and
    /// `--tolerance` apply to it.
    pub fn timestamped(&self) -> bool {
        self.scheme.tolerance().is_some()
    }
}

/// Seconds since the epoch, for timestamps not given on the command line.
pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
