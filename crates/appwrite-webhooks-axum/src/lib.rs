//! An [axum] extractor for Appwrite webhooks: verified, typed events in a handler's arguments.
//!
//! ```
//! use appwrite_webhooks::{Event, ReplayGuard, Verifier};
//! use appwrite_webhooks_axum::{AppwriteWebhookLayer, Webhook};
//! use axum::{Router, http::StatusCode, routing::post};
//!
//! async fn on_event(Webhook(event): Webhook) -> StatusCode {
//!     if let Event::User { user, .. } = event {
//!         println!("user {}", user.id);
//!     }
//!     StatusCode::NO_CONTENT
//! }
//!
//! let verifier = Verifier::new("whsec_…", "https://example.com/hooks/appwrite")
//!     .with_replay_guard(ReplayGuard::in_memory());
//! let app: Router = Router::new()
//!     .route("/hooks/appwrite", post(on_event))
//!     .route_layer(AppwriteWebhookLayer::new(verifier.clone())) // de-duplication, at least once
//!     .with_state(verifier);
//! ```
//!
//! The verifier comes from the router's state through [`FromRef`], so it can sit in a larger
//! state struct (`#[derive(FromRef)]` on it, or implement `FromRef<AppState> for Verifier`).
//! The body is read with the verifier's limit and verified as it arrives; the typed event is
//! only parsed once the signature holds. Failures answer with [`WebhookRejection`]: `401`, `400`
//! or `413` and a one-line reason.
//!
//! `Webhook<T>` yields any [`FromDelivery`] type: [`Event`] (the default), the raw
//! [`Delivery`], your own payload type through [`Payload<T>`](appwrite_webhooks::Payload), or a
//! `(Delivery, T)` pair. Under `appwrite-webhooks-tower`'s layer, the extractor takes the
//! delivery the layer already verified instead of verifying again.
//!
//! The state holds a `Verifier` with fixed keys. A verifier that resolves keys per tenant
//! ([`Verifier::per_tenant`], a `Verifier<PerTenant>`) goes in the layer —
//! `.route_layer(AppwriteWebhookLayer::new(per_tenant))` — and the handler takes the verified
//! delivery with `axum::Extension<Delivery>`.
//!
//! # Duplicates, and the delivery guarantee
//! De-duplication needs to know whether the handler succeeded, which an extractor cannot see:
//! the handler's response is made after the extractor has returned. So the one line
//! `.route_layer(AppwriteWebhookLayer::new(verifier.clone()))` (re-exported here from
//! `appwrite-webhooks-tower`) does it: the layer verifies, claims the delivery with the
//! verifier's [`ReplayGuard`](appwrite_webhooks::ReplayGuard), and settles the claim with the
//! response — repeats of a handled delivery get the duplicate status (200) without running the
//! handler, copies of one being handled get `409`, and an error response, a panic or a
//! cancelled request gives the delivery back. The extractor then reuses the layer's
//! verification.
//!
//! Without the layer, the extractor verifies on its own and **does not de-duplicate**: every
//! verified copy reaches the handler, so no delivery is ever acknowledged without a handler
//! having run (at least once, without setup). If the verifier has a replay guard, the extractor
//! logs a warning once that the layer is missing.
//!
//! # Slow senders
//! Set [`Verifier::with_body_timeout`] (for example 10 s) so a body that stops arriving is answered
//! `408`, and bound the time a connection may take to send its headers on the server.
//!
//! # Inbox mode: answer fast, handle later
//! [`InboxService`] (re-exported from `appwrite-webhooks-tower`) makes a route that verifies,
//! stores the delivery durably, and answers `202` (or `503` if the store failed); workers run
//! your handler later with retries and dead letters. One line:
//!
//! ```
//! use appwrite_webhooks::{MemoryLedger, Verifier, inbox::Inbox};
//! use appwrite_webhooks_axum::InboxService;
//! use axum::{Router, routing::post_service};
//!
//! let verifier = Verifier::new("whsec_…", "https://example.com/hooks/appwrite");
//! let inbox = Inbox::new(MemoryLedger::default()); // appwrite_webhooks_sqlite::SqliteLedger::open("inbox.db")?
//! let app: Router = Router::new()
//!     .route("/hooks/appwrite", post_service(InboxService::new(verifier, inbox)));
//! ```
//!
//! [axum]: https://docs.rs/axum

#![forbid(unsafe_code)]
#![deny(missing_docs)]

use std::fmt;

use appwrite_webhooks::{Answer, Delivery, Error, Event, FromDelivery, Verifier};
/// The layer that gives [`Webhook`] de-duplication with at-least-once delivery; see the crate
/// docs.
pub use appwrite_webhooks_tower::AppwriteWebhookLayer;
/// A route in inbox mode: verify, store, answer `202`; see the crate docs.
pub use appwrite_webhooks_tower::InboxService;
use axum::body::Body;
use axum::extract::{FromRef, FromRequest, Request};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

/// Extracts a verified Appwrite delivery as `T`: the typed [`Event`] by default.
///
/// Must be the last extractor of a handler, as it consumes the body.
#[derive(Debug, Clone)]
pub struct Webhook<T = Event>(pub T);

impl<S, T> FromRequest<S> for Webhook<T>
where
    Verifier: FromRef<S>,
    S: Send + Sync,
    T: FromDelivery,
{
    type Rejection = WebhookRejection;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let (mut parts, body) = request.into_parts();
        // Under the layer, the layer verified and observes the whole request.
        if let Some(delivery) = parts.extensions.remove::<Delivery>() {
            return T::from_delivery(delivery)
                .map(Webhook)
                .map_err(WebhookRejection::new);
        }
        let verifier = Verifier::from_ref(state);
        if verifier.has_replay_guard() {
            warn_no_layer();
        }
        verifier
            .extract(&parts.uri, &parts.headers, body)
            .await
            .map(Webhook)
            .map_err(WebhookRejection::new)
    }
}

/// Once per process: a replay guard without the layer that settles its claims.
fn warn_no_layer() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        tracing::warn!(
            "the verifier has a replay guard, but the route has no AppwriteWebhookLayer: \
             deliveries are verified but not de-duplicated; add \
             `.route_layer(AppwriteWebhookLayer::new(verifier.clone()))`"
        )
    });
}

/// Why [`Webhook`] refused a request; answers with the error's status and a one-line reason
/// that never contains a key.
///
/// ```
/// use appwrite_webhooks::Error;
/// use appwrite_webhooks_axum::WebhookRejection;
///
/// let rejection = WebhookRejection::from(Error::BodyTooLarge { limit: 1024 });
/// assert_eq!(rejection.status(), 413);
/// assert_eq!(rejection.body_text(), "body exceeds the limit of 1024 bytes");
/// ```
#[non_exhaustive]
pub struct WebhookRejection {
    error: Error,
}

impl WebhookRejection {
    fn new(error: Error) -> Self {
        Self { error }
    }

    /// The HTTP status from [`Error::status`]: 401, 400, 408 or 413, or 503 when a key
    /// resolver is unavailable.
    pub fn status(&self) -> StatusCode {
        self.error.status()
    }

    /// The response body: the reason, in one line, with nothing internal
    /// ([`Error::public_text`]).
    pub fn body_text(&self) -> String {
        self.error.public_text().into_owned()
    }

    /// The underlying error.
    pub fn error(&self) -> &Error {
        &self.error
    }
}

impl From<Error> for WebhookRejection {
    fn from(error: Error) -> Self {
        Self::new(error)
    }
}

impl IntoResponse for WebhookRejection {
    fn into_response(self) -> Response {
        Answer::from(&self.error).into_response().map(Body::from)
    }
}

impl fmt::Debug for WebhookRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookRejection")
            .field("error", &self.error)
            .finish()
    }
}

impl fmt::Display for WebhookRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.error, f)
    }
}

impl std::error::Error for WebhookRejection {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.error)
    }
}
