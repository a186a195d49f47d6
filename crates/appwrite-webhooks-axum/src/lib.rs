//! An [axum] extractor for Appwrite webhooks: verified, typed events in a handler's arguments.
//!
//! ```
//! use appwrite_webhooks::{Event, Verifier};
//! use appwrite_webhooks_axum::Webhook;
//! use axum::{Router, http::StatusCode, routing::post};
//!
//! async fn on_event(Webhook(event): Webhook) -> StatusCode {
//!     if let Event::User { user, .. } = event {
//!         println!("user {}", user.id);
//!     }
//!     StatusCode::NO_CONTENT
//! }
//!
//! let verifier = Verifier::new("whsec_…", "https://example.com/hooks/appwrite");
//! let app: Router = Router::new().route("/hooks/appwrite", post(on_event)).with_state(verifier);
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
//! # Duplicates
//! With a [`ReplayGuard`](appwrite_webhooks::ReplayGuard) on the verifier, a repeated delivery
//! is answered with the guard's duplicate status (200 by default) and the handler does not run.
//! An extractor cannot see whether the handler then succeeded, so it keeps the claim; to have
//! failed handlers release it (at-least-once), add `AppwriteWebhookLayer` from
//! `appwrite-webhooks-tower` to the route — the extractor then reuses its verification.
//!
//! [axum]: https://docs.rs/axum

#![forbid(unsafe_code)]
#![deny(missing_docs)]

use std::fmt;

use appwrite_webhooks::{Delivery, Error, Event, FromDelivery, Verifier};
use axum::extract::{FromRef, FromRequest, Request};
use axum::http::{StatusCode, header};
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
        let delivery = match parts.extensions.remove::<Delivery>() {
            Some(delivery) => delivery,
            None => {
                let verifier = Verifier::from_ref(state);
                let delivery = verifier
                    .verify_body(&parts.uri, &parts.headers, body)
                    .await
                    .map_err(WebhookRejection::new)?;
                // The claim is kept whatever the handler does: see "Duplicates" above.
                drop(
                    verifier
                        .admit(&delivery)
                        .await
                        .map_err(WebhookRejection::new)?,
                );
                delivery
            }
        };
        T::from_delivery(delivery)
            .map(Webhook)
            .map_err(WebhookRejection::new)
    }
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
        tracing::debug!(status = %error.status(), %error, "rejected Appwrite delivery");
        Self { error }
    }

    /// The HTTP status from [`Error::status`]: 401, 400 or 413, the guard's duplicate status,
    /// or 503 when the replay store is unreachable.
    pub fn status(&self) -> StatusCode {
        self.error.status()
    }

    /// The response body: the reason, in one line.
    pub fn body_text(&self) -> String {
        self.error.to_string()
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
        (
            self.status(),
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            self.body_text(),
        )
            .into_response()
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
