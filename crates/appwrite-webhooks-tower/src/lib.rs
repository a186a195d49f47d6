//! A [tower] layer that verifies Appwrite webhook deliveries before the inner service runs.
//!
//! The layer reads the request body (bounded by the verifier's limit), checks the signature
//! over the raw bytes as they arrive, and then calls the inner service with the verified
//! [`Delivery`] in the request extensions and the same bytes as the request body — shared, not
//! copied. Rejections are answered by the layer: `401` for a missing or wrong signature, `400`
//! for malformed requests, `413` for bodies over the limit, each with a short text body.
//!
//! With a [`ReplayGuard`](appwrite_webhooks::ReplayGuard) on the verifier, the layer runs the
//! core's receive sequence ([`Verifier::receive`]) and settles the claim with the inner
//! service's outcome: a success (`1xx`–`3xx`) marks the delivery done, so repeats are answered
//! with the duplicate status without calling the inner service; an error status, an `Err`, a
//! panic, or a request dropped before it finished (a timeout layer, a client that hung up)
//! releases it, so Appwrite's next copy is handled. Copies arriving while one is being handled
//! are answered `409`. If any copy got a 2xx, the inner service succeeded with it.
//!
//! Set [`Verifier::with_body_timeout`] so a body that stops arriving is answered `408` and its
//! connection closed, and bound header reading on the server (hyper's
//! `http1::Builder::header_read_timeout`).
//!
//! Generic over the request body ([`http_body::Body`]), so it works under axum, hyper and tonic
//! alike.
//!
//! ```
//! use appwrite_webhooks::{Delivery, Verifier};
//! use appwrite_webhooks_tower::AppwriteWebhookLayer;
//! use tower::ServiceBuilder;
//!
//! let verifier = Verifier::new("whsec_…", "https://example.com/hooks/appwrite");
//! let service = ServiceBuilder::new()
//!     .layer(AppwriteWebhookLayer::new(verifier))
//!     .service_fn(|request: http::Request<http_body_util::Full<bytes::Bytes>>| async move {
//!         let delivery = request.extensions().get::<Delivery>().expect("set by the layer");
//!         println!("verified {}", delivery.events_header());
//!         Ok::<_, std::convert::Infallible>(http::Response::new(http_body_util::Full::<bytes::Bytes>::default()))
//!     });
//! # let _ = service;
//! ```
//!
//! # Inbox mode
//! [`InboxService`] is a whole route instead of a layer: it verifies, stores the delivery in an
//! [`Inbox`](appwrite_webhooks::inbox::Inbox) and answers `202`, or `503` when the store
//! fails; workers handle it later (see [`appwrite_webhooks::inbox`]).
//!
//! [tower]: https://docs.rs/tower

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod inbox;

pub use inbox::InboxService;

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use appwrite_webhooks::{Answer, Delivery, Error, FixedKeys, KeySource, Served, Verifier};
use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{Either, Full};
use tower_layer::Layer;
use tower_service::Service;

/// Verifies Appwrite deliveries for the services it wraps.
///
/// Configure everything — keys and rotation, the configured or rebuilt URL, the body limit — on
/// the [`Verifier`]; the layer adds no options of its own. A verifier of either [`KeySource`]
/// will do, fixed keys or [`Verifier::per_tenant`] (`K` is inferred from it).
#[derive(Clone, Debug)]
pub struct AppwriteWebhookLayer<K: KeySource = FixedKeys> {
    verifier: Verifier<K>,
}

impl<K: KeySource> AppwriteWebhookLayer<K> {
    /// A layer that verifies with `verifier`.
    pub fn new(verifier: Verifier<K>) -> Self {
        Self { verifier }
    }
}

impl<S, K: KeySource> Layer<S> for AppwriteWebhookLayer<K> {
    type Service = AppwriteWebhook<S, K>;

    fn layer(&self, inner: S) -> Self::Service {
        AppwriteWebhook {
            inner,
            verifier: self.verifier.clone(),
        }
    }
}

/// The service made by [`AppwriteWebhookLayer`].
#[derive(Clone, Debug)]
pub struct AppwriteWebhook<S, K: KeySource = FixedKeys> {
    inner: S,
    verifier: Verifier<K>,
}

/// The response body: the inner service's, or the layer's own short rejection text.
pub type ResponseBody<B> = Either<B, Full<Bytes>>;

impl<S, K, ReqBody, ResBody> Service<Request<ReqBody>> for AppwriteWebhook<S, K>
where
    K: KeySource,
    S: Service<Request<Full<Bytes>>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send,
    ReqBody: http_body::Body + Send + 'static,
    ReqBody::Data: Send,
    ReqBody::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    ResBody: Send + 'static,
{
    type Response = Response<ResponseBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<ResBody, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        // The inner service was made ready by `poll_ready`; keep that one and leave a fresh
        // clone in its place, as tower's docs recommend for services used in a future.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let verifier = self.verifier.clone();
        ResponseFuture(Box::pin(async move {
            let (parts, body) = request.into_parts();
            let handler = |delivery: Delivery, mut parts: http::request::Parts| {
                let body = Full::new(delivery.bytes().clone());
                parts.extensions.insert(delivery);
                inner.call(Request::from_parts(parts, body))
            };
            let status = |response: &Response<ResBody>| response.status().as_u16();
            Ok(match verifier.serve(parts, body, handler, status).await? {
                Served::Handled(response) => response.map(Either::Left),
                Served::Answered(answer) => respond(answer).map(Either::Right),
            })
        }))
    }
}

/// An [`Answer`] as this crate's responses carry it.
pub(crate) fn respond(answer: Answer) -> Response<Full<Bytes>> {
    answer.into_response().map(Full::new)
}

/// The response for a rejected delivery: the error's [`Answer`] — its status and one-line
/// public reason, with a `WWW-Authenticate` challenge when HTTP Basic credentials were missing
/// or wrong.
///
/// ```
/// let response = appwrite_webhooks_tower::rejection(&appwrite_webhooks::Error::SignatureMismatch);
/// assert_eq!(response.status(), 401);
/// ```
pub fn rejection(error: &Error) -> Response<Full<Bytes>> {
    respond(Answer::from(error))
}

type BoxedResponse<B, E> =
    Pin<Box<dyn Future<Output = Result<Response<ResponseBody<B>>, E>> + Send>>;

/// The future returned by [`AppwriteWebhook`].
pub struct ResponseFuture<B, E>(BoxedResponse<B, E>);

impl<B, E> Future for ResponseFuture<B, E> {
    type Output = Result<Response<ResponseBody<B>>, E>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.0.as_mut().poll(cx)
    }
}

impl<B, E> fmt::Debug for ResponseFuture<B, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}
