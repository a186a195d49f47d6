//! Why a delivery was rejected, and the HTTP status that says so.

use std::sync::Arc;

use http::{HeaderValue, StatusCode};

/// Why a delivery was rejected. Each variant names the check that failed.
///
/// Adapters answer with [`Error::status`], so every framework maps a failure the same way:
/// `401` when the request is not proven to come from Appwrite, `400` when it is signed but
/// malformed, `413` when the body exceeds the configured limit.
///
/// The `Display` text is short, safe to send back to the caller and to log: it never contains a
/// key, and it does not say which of several keys or URLs came closest.
///
/// ```
/// use appwrite_webhooks::Error;
/// use http::StatusCode;
///
/// assert_eq!(Error::SignatureMismatch.status(), StatusCode::UNAUTHORIZED);
/// assert_eq!(Error::BodyTooLarge { limit: 10 }.status(), StatusCode::PAYLOAD_TOO_LARGE);
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The request has no signature header (`X-Appwrite-Webhook-Signature`, or
    /// `X-Webhook-Signature` for [`Scheme::Generic`](crate::Scheme::Generic)).
    #[error("missing signature header")]
    MissingSignature,

    /// The signature header is present but cannot be a signature of the verifier's scheme.
    #[error("malformed signature header: {0}")]
    MalformedSignature(#[from] MalformedSignature),

    /// [`Scheme::Timestamped`](crate::Scheme::Timestamped): the `X-Appwrite-Webhook-Timestamp`
    /// header is missing or not a unix time in seconds, so the signature cannot be checked.
    #[error("invalid X-Appwrite-Webhook-Timestamp header: {0}")]
    InvalidTimestamp(&'static str),

    /// [`Scheme::Timestamped`](crate::Scheme::Timestamped): the delivery's timestamp is
    /// further from this server's clock than the tolerance — a replay of an old delivery, or a
    /// sender (or receiver) clock that is off.
    #[error(
        "timestamp is {} s in the {}, outside the {} s tolerance",
        skew.unsigned_abs(),
        if *skew >= 0 { "past" } else { "future" },
        tolerance.as_secs()
    )]
    TimestampOutOfTolerance {
        /// Seconds between the timestamp and now: positive when in the past, negative when in
        /// the future.
        skew: i64,
        /// The tolerance in force.
        tolerance: std::time::Duration,
    },

    /// The signature is well formed but no configured key and URL produce it: the body, URL or
    /// key differ from what Appwrite signed (or the request is forged).
    #[error("signature does not match the body, URL and key(s)")]
    SignatureMismatch,

    /// A header Appwrite always sends is absent (the signature itself was valid).
    #[error("missing {0} header")]
    MissingHeader(&'static str),

    /// A header is present but unusable: not UTF-8, or repeated.
    #[error("invalid {name} header: {reason}")]
    InvalidHeader {
        /// The header's name.
        name: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },

    /// The body is larger than the verifier's limit (see [`Verifier::with_body_limit`](crate::Verifier::with_body_limit)).
    #[error("body exceeds the limit of {limit} bytes")]
    BodyTooLarge {
        /// The limit in force, in bytes.
        limit: usize,
    },

    /// The verifier reconstructs the URL from the request, and the request does not carry enough
    /// to do so (no `Host`, or no request URI was given).
    #[error("cannot reconstruct the webhook URL: {0}")]
    UrlUnavailable(&'static str),

    /// The request body could not be read (the client went away, or sent a broken chunked
    /// encoding).
    #[error("cannot read the request body: {0}")]
    ReadBody(#[source] Box<dyn std::error::Error + Send + Sync>),

    /// The body stopped arriving for longer than the verifier's
    /// [`with_body_timeout`](crate::Verifier::with_body_timeout): `408`.
    #[error("the request body stalled for longer than {} ms", timeout.as_millis())]
    BodyTimeout {
        /// The timeout in force.
        timeout: std::time::Duration,
    },

    /// The (unsigned) events header names a resource that the signed body contradicts, e.g.
    /// `databases.other.tables.admins.rows.r1.create` over a row whose `$tableId` is `orders`.
    /// The header was altered after signing: `400`.
    #[error(
        "events header contradicts the signed body: {field} is {body:?} in the body, {header:?} in the header"
    )]
    EventContradictsBody {
        /// The body's field, e.g. `$tableId`.
        field: &'static str,
        /// The signed body's value.
        body: String,
        /// The header's value.
        header: String,
    },

    /// The payload's `$updatedAt`/`$createdAt` is older than the replay guard's maximum age.
    #[error("delivery is stale: its payload is {}s old", age.as_secs())]
    Stale {
        /// How old the payload is.
        age: std::time::Duration,
    },

    /// The replay guard's store is unavailable and the guard fails closed.
    #[error("{0}")]
    ReplayStore(#[source] StoreError),

    /// The inbox could not store a verified delivery, so it is not acknowledged: answered
    /// `503`, Appwrite counts a failed attempt and the delivery is not lost silently.
    #[error("inbox could not store the delivery: {0}")]
    InboxStore(#[source] StoreError),

    /// The body was verified but is not the JSON its event promises.
    #[error("payload is not valid JSON for this event: {0}")]
    InvalidPayload(#[source] serde_json::Error),

    /// The verifier requires HTTP Basic credentials
    /// ([`with_basic_auth`](crate::Verifier::with_basic_auth)) and the request's are
    /// missing, malformed or not an accepted pair: `401` with
    /// [`www_authenticate`](Self::www_authenticate). Checked before the body is read.
    #[error("HTTP Basic authentication failed: {failure}")]
    BasicAuth {
        /// What was wrong with the credentials (never the credentials themselves).
        failure: BasicAuthFailure,
        /// The realm the challenge names.
        realm: Arc<str>,
    },

    /// A verifier that resolves keys per tenant
    /// ([`per_tenant`](crate::Verifier::per_tenant)) has no keys for the delivery's webhook
    /// and project ids (or they are not Appwrite ids): `401`, like any unverifiable request.
    #[error("no signing keys for this webhook and project")]
    UnknownTenant,

    /// The key resolver failed or did not answer in time: `503`, so Appwrite tries again.
    #[error("key resolver unavailable: {0}")]
    KeyResolver(#[source] StoreError),
}

/// Why HTTP Basic credentials were refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BasicAuthFailure {
    /// No `Authorization` header.
    #[error("no credentials")]
    Missing,
    /// Not one `Authorization: Basic <base64 of user:password>` header.
    #[error("malformed Authorization header")]
    Malformed,
    /// Well formed, but not an accepted pair.
    #[error("wrong credentials")]
    Wrong,
}

impl Error {
    /// The HTTP status a receiver should answer with.
    ///
    /// ```
    /// use appwrite_webhooks::Error;
    ///
    /// assert_eq!(Error::MissingSignature.status().as_u16(), 401);
    /// assert_eq!(Error::MissingHeader("X-Appwrite-Webhook-Events").status().as_u16(), 400);
    /// ```
    pub fn status(&self) -> StatusCode {
        match self {
            Error::MissingSignature
            | Error::MalformedSignature(_)
            | Error::SignatureMismatch
            | Error::InvalidTimestamp(_)
            | Error::TimestampOutOfTolerance { .. }
            | Error::Stale { .. }
            | Error::BasicAuth { .. }
            | Error::UnknownTenant => StatusCode::UNAUTHORIZED,
            Error::BodyTimeout { .. } => StatusCode::REQUEST_TIMEOUT,
            Error::ReplayStore(_) | Error::InboxStore(_) | Error::KeyResolver(_) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            Error::BodyTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Error::MissingHeader(_)
            | Error::InvalidHeader { .. }
            | Error::UrlUnavailable(_)
            | Error::ReadBody(_)
            | Error::InvalidPayload(_)
            | Error::EventContradictsBody { .. } => StatusCode::BAD_REQUEST,
        }
    }
}

impl Error {
    /// The `WWW-Authenticate` header a `401` for missing or wrong Basic credentials carries
    /// (`Basic realm="…", charset="UTF-8"`); `None` for every other error. Every adapter sends
    /// it.
    ///
    /// ```
    /// use appwrite_webhooks::{Verifier, sender::DeliveryBuilder};
    ///
    /// let url = "https://example.com/hook";
    /// let verifier = Verifier::new("k", url).with_basic_auth("appwrite", "s3cret");
    /// let sent = DeliveryBuilder::new("k", url, "{}").build(); // no Authorization header
    /// let error = verifier.verify(sent.headers(), sent.body()).unwrap_err();
    /// assert_eq!(error.status(), 401);
    /// assert_eq!(error.www_authenticate().unwrap(), r#"Basic realm="appwrite-webhooks", charset="UTF-8""#);
    /// ```
    pub fn www_authenticate(&self) -> Option<HeaderValue> {
        match self {
            Error::BasicAuth { realm, .. } => Some(challenge(realm)),
            _ => None,
        }
    }

    /// A short, stable name for the check that failed, for metrics and logs: the `reason`
    /// label of `appwrite_webhooks_deliveries_total` (see [`observe`](crate::observe)).
    ///
    /// ```
    /// assert_eq!(appwrite_webhooks::Error::SignatureMismatch.reason(), "signature_mismatch");
    /// ```
    pub fn reason(&self) -> &'static str {
        match self {
            Error::MissingSignature => "missing_signature",
            Error::MalformedSignature(_) => "malformed_signature",
            Error::InvalidTimestamp(_) => "invalid_timestamp",
            Error::TimestampOutOfTolerance { .. } => "timestamp_out_of_tolerance",
            Error::SignatureMismatch => "signature_mismatch",
            Error::MissingHeader(_) => "missing_header",
            Error::InvalidHeader { .. } => "invalid_header",
            Error::BodyTooLarge { .. } => "body_too_large",
            Error::UrlUnavailable(_) => "url_unavailable",
            Error::ReadBody(_) => "read_body",
            Error::BodyTimeout { .. } => "body_timeout",
            Error::EventContradictsBody { .. } => "event_contradicts_body",
            Error::Stale { .. } => "stale",
            Error::ReplayStore(_) => "replay_store",
            Error::InboxStore(_) => "inbox_store",
            Error::InvalidPayload(_) => "invalid_payload",
            Error::BasicAuth { .. } => "basic_auth",
            Error::UnknownTenant => "unknown_tenant",
            Error::KeyResolver(_) => "key_resolver",
        }
    }
}

impl Error {
    /// The text an answer to the sender carries: the `Display` text, except where that holds
    /// something internal — a store's, a key resolver's or the body reader's error — which
    /// only the log gets. Safe for an unauthenticated caller.
    ///
    /// ```
    /// use appwrite_webhooks::{Error, StoreError};
    /// let error = Error::ReplayStore(StoreError(Box::from("redis://10.0.0.7:6379 refused")));
    /// assert_eq!(error.public_text(), "service unavailable: try again later");
    /// assert!(error.to_string().contains("10.0.0.7")); // for the log
    /// ```
    pub fn public_text(&self) -> std::borrow::Cow<'static, str> {
        match self {
            Error::ReplayStore(_) | Error::InboxStore(_) | Error::KeyResolver(_) => {
                "service unavailable: try again later".into()
            }
            Error::ReadBody(_) => "cannot read the request body".into(),
            Error::InvalidPayload(_) => "payload is not valid JSON for this event".into(),
            other => other.to_string().into(),
        }
    }
}

/// The `WWW-Authenticate` value for `realm`.
fn challenge(realm: &str) -> HeaderValue {
    HeaderValue::try_from(format!("Basic realm=\"{realm}\", charset=\"UTF-8\""))
        .unwrap_or_else(|_| HeaderValue::from_static("Basic"))
}

/// A store's failure (connection lost, timeout, disk full): a replay guard applies its
/// [`StoreFailure`](crate::StoreFailure) policy; an inbox answers `503`.
#[derive(Debug, thiserror::Error)]
#[error("store unavailable: {0}")]
pub struct StoreError(#[source] pub Box<dyn std::error::Error + Send + Sync>);

/// A verifier was given an empty signing key. HMAC with an empty key is public: anyone could
/// sign deliveries that verify. Usually the key's environment variable is set but empty.
///
/// ```
/// use appwrite_webhooks::{EmptyKey, Verifier};
/// assert!(matches!(Verifier::try_new("", "https://example.com/hook"), Err(EmptyKey)));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(
    "empty signing key: HMAC with an empty key is public, so anyone could sign deliveries \
     (is the key's environment variable set but empty?)"
)]
pub struct EmptyKey;

/// Why a signature header value is not a tag of the verifier's scheme.
///
/// ```
/// use appwrite_webhooks::{MalformedSignature, Signature};
///
/// assert_eq!("AAAA".parse::<Signature>().unwrap_err(), MalformedSignature::WrongLength(3));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MalformedSignature {
    /// Not standard, padded base64.
    #[error("not base64")]
    NotBase64,
    /// Decodes to this many bytes instead of 20.
    #[error("decodes to {0} bytes, expected 20")]
    WrongLength(usize),
    /// Hex tags ([`Scheme::Timestamped`](crate::Scheme::Timestamped),
    /// [`Scheme::Generic`](crate::Scheme::Generic)): not hexadecimal digits.
    #[error("not hex")]
    NotHex,
    /// Hex tags: this many characters instead of the 64 of an HMAC-SHA256 tag.
    #[error("{0} hex digits, expected 64")]
    WrongHexLength(usize),
    /// [`Scheme::Generic`](crate::Scheme::Generic): the value does not start with this prefix.
    #[error("does not start with {0:?}")]
    MissingPrefix(&'static str),
    /// The header appears more than once, so it is unclear which one Appwrite sent.
    #[error("header repeated")]
    Repeated,
}
