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
//! send a delivery again byte for byte. De-duplicate on the signature if handling twice matters.
//!
//! # Other schemes
//! [`Verifier::timestamped`] and [`Verifier::generic`] verify two opt-in schemes (a
//! timestamped HMAC-SHA256 and `X-Webhook-Signature: sha256=…`) with the same API; see
//! [`Scheme`] for how they compare.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod delivery;
mod envelope;
mod error;
mod event;
mod event_name;
mod extract;
pub mod headers;
mod key;
pub mod models;
mod pattern;
mod replay;
mod router;
mod scheme;
pub mod sender;
mod signature;
mod url;
mod verification;
mod verifier;

pub use delivery::Delivery;
pub use envelope::{GenericEnvelope, TimestampedEnvelope};
pub use error::{Error, MalformedSignature};
pub use event::{Action, DatabaseApi, DeploymentOwner, Event, EventKind, TokenKind};
pub use event_name::{EventName, InvalidEventName};
pub use extract::{FromDelivery, Payload};
pub use key::SigningKey;
pub use pattern::Pattern;
pub use replay::{
    Claim, MemoryStore, ReplayGuard, ReplayStore, StoreError, StoreFailure, StoreFuture,
};
pub use router::{DispatchError, Dispatched, HandlerError, Incoming, Router};
pub use scheme::{Scheme, UnknownScheme, sign_generic, sign_timestamped};
pub use signature::{Signature, TAG_LEN, sign};
pub use url::ProxyHeaders;
pub use verification::Verification;
pub use verifier::{DEFAULT_BODY_LIMIT, Verifier};
