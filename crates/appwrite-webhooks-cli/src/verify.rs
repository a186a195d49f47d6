//! `verify`: check a signature against a body (a pinned contract): `valid` and exit 0, or the
//! reason and exit 1.

use appwrite_webhooks::{Scheme, Signature, headers::WEBHOOK_TIMESTAMP};
use clap::Args;
use http::{HeaderMap, HeaderValue};

use crate::keys::{self, KeyArgs};
use crate::scheme::SchemeArgs;
use crate::{Failure, Input};

#[derive(Args)]
pub struct VerifyArgs {
    #[command(flatten)]
    keys: KeyArgs,
    #[command(flatten)]
    input: Input,
    /// The signature header's value to check.
    #[arg(long, value_name = "SIG")]
    signature: String,
    #[command(flatten)]
    scheme: SchemeArgs,
    /// Timestamped and alert schemes: the X-Appwrite-Webhook-Timestamp value (required).
    #[arg(long, value_name = "SECS")]
    timestamp: Option<u64>,
    /// Timestamped and alert schemes: how far the timestamp may be from now, in seconds.
    #[arg(long, value_name = "SECS", default_value_t = 300)]
    tolerance: u64,
}

pub fn run(args: VerifyArgs) -> Result<(), Failure> {
    let mut keys = args.keys.resolve()?.into_iter();
    let first = keys.next().ok_or_else(keys::missing)?;
    let scheme: Scheme = args.scheme.scheme;
    let verifier = args
        .scheme
        .verifier(first, args.input.url.as_deref(), args.tolerance)?
        .with_keys(keys)
        .with_body_limit(usize::MAX);
    if scheme.tolerance().is_some() != args.timestamp.is_some() {
        return Err(Failure::Usage(
            "--timestamp is required with --scheme timestamped or alert, and only there".into(),
        ));
    }
    let value = args.signature.trim();
    // Decoded first, so a malformed value is reported as such before any input is read.
    Signature::parse(scheme, value.as_bytes())
        .map_err(|e| Failure::Invalid(format!("malformed signature: {e}")))?;
    let mut headers = HeaderMap::new();
    let value = HeaderValue::from_str(value)
        .map_err(|_| Failure::Invalid("malformed signature: not a header value".into()))?;
    headers.insert(scheme.signature_header(), value);
    if let Some(timestamp) = args.timestamp {
        headers.insert(WEBHOOK_TIMESTAMP, HeaderValue::from(timestamp));
    }
    let body = args.input.read_body()?;
    verifier
        .verify_signature(&headers, &body)
        .map_err(|e| Failure::Invalid(e.to_string()))?;
    println!("valid");
    Ok(())
}
