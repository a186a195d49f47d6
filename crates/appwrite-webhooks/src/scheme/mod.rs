//! Signing schemes: Appwrite's (the default) and two opt-in schemes from the wider world.
//!
//! Each scheme lives in its own module and owns everything that differs between schemes: its
//! header names, how its signature header is written, what its HMAC covers before the body,
//! which headers a delivery must carry, what the replay guard keys on, its envelope, and how a
//! sender signs. This file is the only place that chooses between them.

mod alert;
mod appwrite;
mod generic;
pub(crate) mod identity;
mod parse;
mod timestamped;

use std::time::Duration;

use http::HeaderName;

use crate::crypto::mac::Hash;
use crate::crypto::signature::Signature;
use crate::error::{Error, MalformedSignature};
use crate::events::event::Event;
use crate::events::name::EventName;
use crate::events::signed_ids::check_signed_ids;
use crate::headers::{DeliveryHeaders, Repeated, Scanned};

pub use generic::GenericEnvelope;
pub use parse::UnknownScheme;
pub use timestamped::TimestampedEnvelope;

#[cfg(feature = "sender")]
pub use alert::sign_alert;
pub use appwrite::rawurldecode;
#[cfg(feature = "sender")]
pub use appwrite::{sign, sign_rawurldecoded};
#[cfg(feature = "sender")]
pub use generic::sign_generic;
#[cfg(feature = "sender")]
pub use timestamped::sign_timestamped;

/// How deliveries are signed. [`Scheme::Appwrite`] is what Appwrite's server sends for events,
/// [`Scheme::Alert`] what its notifications worker sends for alerts; the other two are opt-in.
///
/// | scheme | signature header | what is signed | replay protection |
/// |---|---|---|---|
/// | [`Scheme::Appwrite`] | `X-Appwrite-Webhook-Signature: base64(HMAC-SHA1)` | URL ++ raw body | none in the scheme; [`ReplayGuard`](crate::ReplayGuard) on the signature with the delivery id (or events) |
/// | [`Scheme::Alert`] (Appwrite's alerts) | `X-Appwrite-Webhook-Signature: sha256=hex(HMAC-SHA256)` + `X-Appwrite-Webhook-Timestamp`; none when the channel has no secret (refused unless [allowed](crate::Verifier::with_unsigned_alerts)) | `"{timestamp}.{raw body}"` | tolerance window (300 s default); guard on the alert's `deduplicationKey` |
/// | [`Scheme::Timestamped`] (seed `003_*`) | `X-Appwrite-Webhook-Signature: hex(HMAC-SHA256)` + `X-Appwrite-Webhook-Timestamp` | `"{timestamp}.{raw body}"` | tolerance window (300 s default); guard on the envelope's `$id` |
/// | [`Scheme::Generic`] | `X-Webhook-Signature: sha256=hex(HMAC-SHA256)` | raw body | none in the scheme; guard on the envelope's event `id` |
///
/// The alert and timestamped schemes sign the same string with the same hash; they differ in
/// the header's form (`sha256=` before the hex, or bare hex) and the body (an alert, or the
/// `{ "$id", "event", "timestamp", "payload" }` envelope the seed document `003_*` describes).
/// Appwrite's own notifications worker sends the alert form; the timestamped scheme is the
/// seed's, for senders that follow that document. Both verify.
///
/// All of them share the [`Verifier`](crate::Verifier)'s key rotation, body limit, errors,
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
    /// Appwrite's alerts: `X-Appwrite-Webhook-Timestamp` (unix seconds) and
    /// `X-Appwrite-Webhook-Signature: sha256=<lower-case hex HMAC-SHA256 over
    /// "{timestamp}.{raw body}">`, a body typed as [`Alert`](crate::Alert), no URL signed.
    /// Deliveries whose timestamp is further than `tolerance` from this server's clock are
    /// rejected, as for [`Scheme::Timestamped`].
    Alert {
        /// How far the timestamp may be from now, either way. Appwrite sets none: the
        /// timestamp is the send time.
        tolerance: Duration,
    },
}

impl Scheme {
    /// The tolerance [`Scheme::timestamped`] uses: five minutes, as Stripe and Standard
    /// Webhooks do.
    pub const DEFAULT_TOLERANCE: Duration = Duration::from_secs(300);

    /// The timestamped scheme with the default tolerance of five minutes.
    ///
    /// ```
    /// assert_eq!(appwrite_webhooks::Scheme::timestamped().tolerance(), Some(std::time::Duration::from_secs(300)));
    /// ```
    pub fn timestamped() -> Self {
        Self::Timestamped {
            tolerance: Self::DEFAULT_TOLERANCE,
        }
    }

    /// Appwrite's alert scheme with the default tolerance of five minutes.
    ///
    /// ```
    /// assert_eq!(appwrite_webhooks::Scheme::alert().tolerance(), Some(std::time::Duration::from_secs(300)));
    /// ```
    pub fn alert() -> Self {
        Self::Alert {
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
            Self::Appwrite => "appwrite",
            Self::Timestamped { .. } => "timestamped",
            Self::Generic => "generic",
            Self::Alert { .. } => "alert",
        }
    }

    /// The header that carries the signature.
    ///
    /// ```
    /// use appwrite_webhooks::Scheme;
    /// assert_eq!(Scheme::Appwrite.signature_header(), "x-appwrite-webhook-signature");
    /// assert_eq!(Scheme::Generic.signature_header(), "x-webhook-signature");
    /// ```
    pub fn signature_header(&self) -> HeaderName {
        match self {
            Self::Appwrite => appwrite::SIGNATURE,
            Self::Timestamped { .. } => timestamped::SIGNATURE,
            Self::Generic => generic::SIGNATURE,
            Self::Alert { .. } => alert::SIGNATURE,
        }
    }

    /// How far a timestamp may be from now; `None` for schemes that sign no timestamp.
    ///
    /// ```
    /// assert_eq!(appwrite_webhooks::Scheme::Appwrite.tolerance(), None);
    /// ```
    pub fn tolerance(&self) -> Option<Duration> {
        match self {
            Self::Timestamped { tolerance } | Self::Alert { tolerance } => Some(*tolerance),
            Self::Appwrite | Self::Generic => None,
        }
    }

    /// The timestamped or alert scheme with `tolerance`.
    ///
    /// # Panics
    /// On the other schemes, which sign no timestamp: a tolerance there would change nothing.
    ///
    /// ```
    /// use appwrite_webhooks::Scheme;
    /// use std::time::Duration;
    /// let minute = Duration::from_secs(60);
    /// assert_eq!(Scheme::timestamped().with_tolerance(minute).tolerance(), Some(minute));
    /// ```
    ///
    /// ```should_panic
    /// let scheme = appwrite_webhooks::Scheme::Generic.with_tolerance(std::time::Duration::from_secs(60));
    /// ```
    #[track_caller]
    pub fn with_tolerance(self, tolerance: Duration) -> Self {
        match self {
            Self::Timestamped { .. } => Self::Timestamped { tolerance },
            Self::Alert { .. } => Self::Alert { tolerance },
            other => panic!(
                "with_tolerance on the {other} scheme: only the timestamped and alert schemes sign a timestamp"
            ),
        }
    }

    /// The headers naming the delivery's tenant: its webhook id, and its project id where the
    /// scheme sends one. A key resolver chooses keys from them.
    pub(crate) fn tenant_headers(&self) -> (HeaderName, Option<HeaderName>) {
        match self {
            // Alerts carry neither; a per-tenant verifier is Appwrite's scheme only.
            Self::Appwrite | Self::Timestamped { .. } | Self::Alert { .. } => (
                crate::headers::WEBHOOK_ID,
                Some(crate::headers::WEBHOOK_PROJECT_ID),
            ),
            Self::Generic => (crate::headers::GENERIC_ID, None),
        }
    }

    /// The hash the scheme's HMAC runs on.
    pub(crate) fn hash(&self) -> Hash {
        match self {
            Self::Appwrite => Hash::Sha1,
            Self::Timestamped { .. } | Self::Generic | Self::Alert { .. } => Hash::Sha256,
        }
    }

    /// Decodes a signature header value written the scheme's way.
    pub(crate) fn parse_signature(&self, value: &[u8]) -> Result<Signature, MalformedSignature> {
        match self {
            Self::Appwrite => appwrite::parse_signature(value),
            Self::Timestamped { .. } => timestamped::parse_signature(value),
            Self::Generic | Self::Alert { .. } => Signature::from_prefixed_hex(value),
        }
    }

    /// What the signed message starts with before the body, for every request alike: the
    /// verifier absorbs these into its keyed states once, when it is built.
    pub(crate) fn fixed_prefixes(&self, configured_urls: &[String]) -> Vec<Vec<u8>> {
        match self {
            Self::Appwrite => appwrite::url_prefixes(configured_urls),
            Self::Generic => vec![Vec::new()],
            Self::Timestamped { .. } | Self::Alert { .. } => Vec::new(),
        }
    }

    /// What the signed message starts with that only the request tells: the URLs rebuilt from
    /// it (Appwrite's scheme), or the checked timestamp (the timestamped scheme, which also
    /// returns the timestamp).
    pub(crate) fn request_prefixes(
        &self,
        headers: &Scanned<'_>,
        rebuilt_urls: &[String],
        at: Option<u64>,
    ) -> Result<(Vec<Vec<u8>>, Option<u64>), Error> {
        match self {
            Self::Appwrite => Ok((appwrite::url_prefixes(rebuilt_urls), None)),
            Self::Timestamped { tolerance } | Self::Alert { tolerance } => {
                timestamped::request_prefix(headers, *tolerance, at)
            }
            Self::Generic => Ok((Vec::new(), None)),
        }
    }

    /// The signature header's one value, decoded.
    pub(crate) fn signature_from(&self, headers: &Scanned<'_>) -> Result<Signature, Error> {
        let value = headers
            .one(&self.signature_header())
            .map_err(|Repeated| MalformedSignature::Repeated)?
            .ok_or(Error::MissingSignature)?;
        Ok(self.parse_signature(value.as_bytes())?)
    }

    /// The headers a verified delivery of this scheme must carry, parsed once.
    pub(crate) fn parse_headers(
        &self,
        headers: &Scanned<'_>,
        timestamp: Option<u64>,
    ) -> Result<DeliveryHeaders, Error> {
        match self {
            Self::Appwrite => appwrite::parse_headers(headers),
            Self::Timestamped { .. } => timestamped::parse_headers(headers, timestamp),
            Self::Generic => generic::parse_headers(headers),
            Self::Alert { .. } => Ok(alert::parse_headers(timestamp)),
        }
    }

    /// The event names a verified delivery carries, where the scheme signs them: the opt-in
    /// schemes' envelopes name their event (`event`, `type`), and that signed name replaces the
    /// unsigned header's (empty when the envelope has none). `None` for Appwrite's scheme,
    /// which signs no name: its events header stays, checked against the body where typed.
    pub(crate) fn signed_event_names(&self, body: &[u8]) -> Option<String> {
        match self {
            Self::Appwrite => None,
            Self::Timestamped { .. } => Some(timestamped::event_name(body).unwrap_or_default()),
            Self::Generic => Some(generic::event_type(body).unwrap_or_default()),
            Self::Alert { .. } => Some(alert::event_names(body)),
        }
    }

    /// The typed event of a verified body.
    /// Checks the ids an unsigned events header names against the signed body. Only Appwrite's
    /// scheme has such a header: the opt-in schemes sign their envelope's event name.
    pub(crate) fn check_event_ids(
        &self,
        primary: Option<&EventName>,
        body: &[u8],
    ) -> Result<(), Error> {
        match (self, primary) {
            (Self::Appwrite, Some(name)) => check_signed_ids(name, body).map(drop),
            _ => Ok(()),
        }
    }

    pub(crate) fn event(
        &self,
        primary: Option<&EventName>,
        body: &[u8],
        strict: bool,
    ) -> Result<Event, Error> {
        match self {
            Self::Appwrite => Event::from_parts(primary, body, strict),
            Self::Timestamped { .. } => TimestampedEnvelope::parse(body).map(|e| e.payload),
            Self::Generic => generic::event(body),
            Self::Alert { .. } => crate::events::alert::Alert::parse(body).map(Event::Alert),
        }
    }

    /// Signs `outgoing` and returns every header the scheme sends, in the sender's order.
    #[cfg(feature = "sender")]
    pub(crate) fn signed_headers(&self, outgoing: &Outgoing<'_>) -> Vec<(HeaderName, String)> {
        match self {
            Self::Appwrite => appwrite::signed_headers(outgoing),
            Self::Timestamped { .. } => timestamped::signed_headers(outgoing),
            Self::Generic => generic::signed_headers(outgoing),
            Self::Alert { .. } => alert::signed_headers(outgoing),
        }
    }
}

/// What a sender signs and sends, whatever the scheme.
#[cfg(feature = "sender")]
pub(crate) struct Outgoing<'a> {
    pub(crate) key: &'a crate::crypto::key::SigningKey,
    pub(crate) url: &'a str,
    pub(crate) body: &'a [u8],
    pub(crate) webhook_id: &'a str,
    pub(crate) webhook_name: &'a str,
    pub(crate) project_id: &'a str,
    pub(crate) user_id: &'a str,
    /// Comma-joined event names.
    pub(crate) events: &'a str,
    /// Appwrite's delivery id, sent only when set.
    pub(crate) delivery_id: Option<&'a str>,
    pub(crate) timestamp: Option<u64>,
}
