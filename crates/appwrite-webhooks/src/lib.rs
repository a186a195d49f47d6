//! Receive [Appwrite](https://appwrite.io) webhooks safely: verify the signature over the raw
//! bytes, then read typed events.
//!
//! Appwrite signs each delivery with `base64(HMAC-SHA1(key, url ++ body))`, where `url` is the
//! webhook URL exactly as configured and `body` the raw bytes of PHP's `json_encode` output. A
//! receiver must therefore check the bytes it received, *before* parsing: re-serialised JSON
//! (`\/` becomes `/`, `\u00e9` becomes `é`) no longer matches.
//!
//! ```
//! use appwrite_webhooks::{Verifier, sender::DeliveryBuilder};
//!
//! let url = "https://example.com/hooks/appwrite";
//! let verifier = Verifier::new("whsec_…", url);
//!
//! # let sent = DeliveryBuilder::new("whsec_…", url, r#"{"$id":"u1"}"#).events(["users.u1.create"]).build();
//! # let (headers, body) = (sent.headers(), sent.body());
//! // In your handler, with the request's headers and raw body:
//! let delivery = verifier.verify(headers, body)?;
//! println!("{} from project {}", delivery.events().next().unwrap_or(""), delivery.project_id());
//! # Ok::<(), appwrite_webhooks::Error>(())
//! ```
//!
//! Framework adapters (`appwrite-webhooks-axum`, `-actix`, `-tower`) wrap this in one line.
//!
//! # Replays
//! The signature has no timestamp: a captured delivery verifies forever, and Appwrite itself may
//! send a delivery again byte for byte. [`ReplayGuard`] de-duplicates; see its contract.
//!
//! # Other schemes
//! [`Verifier::timestamped`] and [`Verifier::generic`] verify two opt-in schemes (a
//! timestamped HMAC-SHA256 and `X-Webhook-Signature: sha256=…`) with the same API; see
//! [`Scheme`] for how they compare.
//!
//! # The public API, in one place
//! | concern | items |
//! |---|---|
//! | verifying | [`Verifier`] ([`receive`](Verifier::receive), [`verify`](Verifier::verify), [`verify_body`](Verifier::verify_body), [`verify_signature`](Verifier::verify_signature)), [`SigningKey`], [`Signature`], [`ProxyHeaders`], [`DEFAULT_BODY_LIMIT`] |
//! | what failed | [`Error`] (with [`Error::status`]), [`MalformedSignature`], [`EmptyKey`] |
//! | schemes | [`Scheme`], [`UnknownScheme`], [`TimestampedEnvelope`], [`GenericEnvelope`] |
//! | a verified delivery | [`Delivery`], [`headers`] (the header names) |
//! | events | [`EventName`], [`InvalidEventName`], [`MAX_ID_PAIRS`], [`Pattern`], [`Event`], [`EventKind`], [`Action`], [`DatabaseApi`], [`TokenKind`], [`DeploymentOwner`], [`models`] |
//! | handing events to code | [`FromDelivery`], [`Payload`], [`Router`], [`Incoming`], [`HandlerError`], [`Dispatched`], [`DispatchError`] |
//! | de-duplication | [`ReplayGuard`], [`Claim`], [`ReplayStore`], [`ClaimOutcome`], [`ClaimToken`], [`MemoryStore`], [`Fingerprint`], [`StoreError`], [`StoreFailure`], [`StoreFuture`], [`MAX_TTL`] |
//! | sending, for tests and tools (feature `sender`) | `sender::{DeliveryBuilder, SignedDelivery}`, `sign`, `sign_timestamped`, `sign_generic` |

#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod crypto;
mod delivery;
mod error;
mod events;
mod extract;
pub mod headers;
pub mod models;
mod replay;
mod router;
mod scheme;
#[cfg(feature = "sender")]
pub mod sender;
mod verify;

pub use crypto::key::SigningKey;
pub use crypto::signature::Signature;
pub use delivery::{Delivery, Fingerprint};
pub use error::{EmptyKey, Error, MalformedSignature, StoreError};
pub use events::event::{Action, DatabaseApi, DeploymentOwner, Event, TokenKind};
pub use events::kind::EventKind;
pub use events::name::{EventName, InvalidEventName, MAX_ID_PAIRS};
pub use events::pattern::Pattern;
pub use extract::{FromDelivery, Payload};
pub use replay::{
    Claim, ClaimOutcome, ClaimToken, MAX_TTL, MemoryStore, ReplayGuard, ReplayStore, StoreFailure,
    StoreFuture,
};
pub use router::{DispatchError, Dispatched, HandlerError, Incoming, Router};
pub use scheme::{GenericEnvelope, Scheme, TimestampedEnvelope, UnknownScheme};
#[cfg(feature = "sender")]
pub use scheme::{sign, sign_generic, sign_timestamped};
pub use verify::url::ProxyHeaders;
pub use verify::verifier::{DEFAULT_BODY_LIMIT, Verifier};
