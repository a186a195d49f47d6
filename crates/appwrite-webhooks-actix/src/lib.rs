//! [actix-web] integration for Appwrite webhooks: a [`Webhook<T>`] extractor for handlers, and
//! the [`require_signature`] middleware for routes that only need "signed by Appwrite".
//!
//! Both read the [`Verifier`] from application data (`App::app_data(web::Data::new(verifier))`;
//! a `Verifier` with fixed keys or a `Verifier<PerTenant>`),
//! read the payload with the verifier's limit (`413` as soon as it is passed), verify the raw
//! bytes as they arrive, and answer failures through [`WebhookError`]: `401`, `400` or `413`
//! with a one-line reason.
//!
//! # Duplicates, and the delivery guarantee
//! [`require_signature`] runs the core's receive sequence
//! ([`Verifier::receive`]) and settles the claim with the handler's outcome: with a
//! [`ReplayGuard`](appwrite_webhooks::ReplayGuard) on the verifier, repeats of a handled
//! delivery get the duplicate status (200) without running the handler, copies of one being
//! handled get `409`, and an error response, an `Err`, a panic or a dropped request gives the
//! delivery back so Appwrite's next copy is handled. If any copy got a 2xx, the handler
//! succeeded with it. (actix-web lets a handler run on when its client disconnects; its claim
//! stays pending until it finishes, and copies arriving meanwhile get `409`.) Put it on the route with one line,
//! `.wrap(actix_web::middleware::from_fn(require_signature))`; the [`Webhook`] extractor then
//! takes the delivery the middleware verified.
//!
//! The extractor alone cannot see the handler's result, so it verifies but **does not
//! de-duplicate**: every verified copy reaches the handler (at least once, without setup), and
//! it logs a warning once if the verifier has a replay guard that nothing settles.
//!
//! # Inbox mode
//! [`inbox_route`] answers `202` once a delivery is stored durably and leaves the handling to
//! workers with retries and dead letters: `App::new().route("/hooks", inbox_route(verifier, inbox))`.
//!
//! # Slow senders
//! Set [`Verifier::with_body_timeout`] so a body that stops arriving is answered `408`, and
//! `HttpServer::client_request_timeout` for slow headers.
//!
//! ```no_run
//! use actix_web::{App, HttpResponse, HttpServer, web};
//! use appwrite_webhooks::{Event, Verifier};
//! use appwrite_webhooks_actix::Webhook;
//!
//! async fn on_event(Webhook(event): Webhook) -> HttpResponse {
//!     if let Event::Row { table_id, row, .. } = event {
//!         println!("{table_id}: {}", row.id);
//!     }
//!     HttpResponse::NoContent().finish()
//! }
//!
//! # async fn run() -> std::io::Result<()> {
//! let verifier = Verifier::new("whsec_…", "https://example.com/hooks/appwrite")
//!     .with_replay_guard(appwrite_webhooks::ReplayGuard::in_memory());
//! let verifier = web::Data::new(verifier);
//! HttpServer::new(move || {
//!     App::new().app_data(verifier.clone()).service(
//!         web::resource("/hooks/appwrite")
//!             .wrap(actix_web::middleware::from_fn(appwrite_webhooks_actix::require_signature))
//!             .route(web::post().to(on_event)),
//!     )
//! })
//! .bind(("127.0.0.1", 8080))?
//! .run()
//! .await
//! # }
//! ```
//!
//! [actix-web]: https://docs.rs/actix-web

#![forbid(unsafe_code)]
#![deny(missing_docs)]

use std::fmt;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::guard::{Guard, GuardContext};
use actix_web::middleware::Next;
use actix_web::{FromRequest, HttpMessage, HttpRequest, HttpResponse, ResponseError, web};
use appwrite_webhooks::inbox::Inbox;
use appwrite_webhooks::{
    Answer, Delivery, Error, Event, FromDelivery, KeySource, PerTenant, Scheme, Served, Verifier,
};
use futures_util::StreamExt as _;
use futures_util::future::{Either, LocalBoxFuture};

/// Extracts a verified Appwrite delivery as `T`: the typed [`Event`] by default, or any
/// [`FromDelivery`] type ([`Delivery`], [`Payload<T>`](appwrite_webhooks::Payload), a pair).
///
/// Behind [`require_signature`], it takes the delivery the middleware verified.
#[derive(Debug, Clone)]
pub struct Webhook<T = Event>(pub T);

impl<T: FromDelivery + 'static> FromRequest for Webhook<T> {
    type Error = WebhookError;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(request: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let verified = request.extensions_mut().remove::<Delivery>();
        let verifier = configured_verifier(request);
        let head = Head::of(request);
        let payload = payload.take();
        Box::pin(async move {
            // Under the middleware, the middleware verified and observes the whole request.
            if let Some(delivery) = verified {
                return T::from_delivery(delivery)
                    .map(Webhook)
                    .map_err(WebhookError::from);
            }
            let verifier = verifier?;
            if verifier.has_replay_guard() {
                warn_no_middleware();
            }
            let body = body_of(payload);
            match verifier {
                Configured::Fixed(verifier) => {
                    verifier.extract(&head.uri, &head.headers, body).await
                }
                Configured::PerTenant(verifier) => {
                    verifier.extract(&head.uri, &head.headers, body).await
                }
            }
            .map(Webhook)
            .map_err(WebhookError::from)
        })
    }
}

/// Middleware for `actix_web::middleware::from_fn`: verifies every request before the service
/// runs, stores the [`Delivery`] in the request extensions and gives the service the same body.
///
/// ```no_run
/// use actix_web::{App, HttpResponse, middleware::from_fn, web};
/// use appwrite_webhooks::Verifier;
/// use appwrite_webhooks_actix::require_signature;
///
/// let verifier = web::Data::new(Verifier::new("whsec_…", "https://example.com/hooks/appwrite"));
/// let app = App::new().app_data(verifier).service(
///     web::resource("/hooks/appwrite")
///         .wrap(from_fn(require_signature))
///         .route(web::post().to(|| async { HttpResponse::NoContent().finish() })),
/// );
/// ```
pub async fn require_signature<B: MessageBody>(
    mut request: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<EitherBody<B>>, actix_web::Error> {
    let verifier = configured_verifier(request.request())?;
    let parts = Head::of(request.request()).into_parts();
    let body = body_of(request.take_payload());
    // The handler takes the request out of the slot; when it does not run, the answer goes
    // back on it. (A clone of the request held meanwhile would break actix-web's own
    // unique-ownership checks.)
    let mut slot = Some(request);
    let handler = |delivery: Delivery, _| match slot.take() {
        Some(mut request) => {
            request.set_payload(Payload::from(delivery.bytes().clone()));
            request.extensions_mut().insert(delivery);
            Either::Left(next.call(request))
        }
        // `serve` calls its handler at most once; never reached.
        None => Either::Right(std::future::ready(Err(taken()))),
    };
    let status = |response: &ServiceResponse<B>| response.status().as_u16();
    let served = match verifier {
        Configured::Fixed(verifier) => verifier.serve(parts, body, handler, status).await,
        Configured::PerTenant(verifier) => verifier.serve(parts, body, handler, status).await,
    };
    Ok(match served? {
        Served::Handled(response) => response.map_into_left_body(),
        Served::Answered(answer) => match slot.take() {
            Some(request) => request
                .into_response(respond(&answer))
                .map_into_right_body(),
            // `serve` answers only when its handler did not run; never reached.
            None => return Err(taken()),
        },
    })
}

fn taken() -> actix_web::Error {
    actix_web::error::ErrorInternalServerError("the request was taken twice")
}

/// A status in actix-web's `http` 0.2 type.
fn status_of(status: http::StatusCode) -> actix_web::http::StatusCode {
    actix_web::http::StatusCode::from_u16(status.as_u16())
        .unwrap_or(actix_web::http::StatusCode::INTERNAL_SERVER_ERROR)
}

/// An [`Answer`] as an actix-web response: its status, text and challenge.
fn respond(answer: &Answer) -> HttpResponse {
    let mut response = HttpResponse::build(status_of(answer.status()));
    response.content_type(Answer::CONTENT_TYPE);
    if let Some(challenge) = answer.www_authenticate() {
        response.insert_header(("WWW-Authenticate", challenge.as_bytes()));
    }
    response.body(answer.text().to_owned())
}

/// A route in inbox mode: verifies each delivery as it arrives, writes it to `inbox`, and only
/// then answers `202 Accepted` (a re-send of one already held also gets `202`, without being
/// stored again); `503` when the store fails, so nothing is acknowledged that is not stored.
/// Workers handle the deliveries later (see [`appwrite_webhooks::inbox`]). The verifier's
/// replay guard, if any, is not used: the inbox de-duplicates. One line:
///
/// ```
/// use actix_web::App;
/// use appwrite_webhooks::{MemoryLedger, Verifier, inbox::Inbox};
/// use appwrite_webhooks_actix::inbox_route;
///
/// let verifier = Verifier::new("whsec_…", "https://example.com/hooks/appwrite");
/// let inbox = Inbox::new(MemoryLedger::default()); // SqliteLedger::open("inbox.db")?
/// let app = App::new().route("/hooks/appwrite", inbox_route(verifier, inbox));
/// ```
pub fn inbox_route<K: KeySource>(verifier: Verifier<K>, inbox: Inbox) -> actix_web::Route {
    web::post().to(move |request: HttpRequest, payload: web::Payload| {
        let (verifier, inbox) = (verifier.clone(), inbox.clone());
        async move {
            let head = Head::of(&request);
            let accepted = inbox
                .accept(&verifier, &head.uri, &head.headers, body_of(payload))
                .await;
            Ok::<_, actix_web::Error>(respond(&Answer::from(accepted)))
        }
    })
}

/// Once per process: a replay guard without the middleware that settles its claims.
fn warn_no_middleware() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        tracing::warn!(
            "the verifier has a replay guard, but the route has no require_signature middleware: \
             deliveries are verified but not de-duplicated; add \
             `.wrap(actix_web::middleware::from_fn(require_signature))`"
        )
    });
}

/// A guard that matches requests carrying Appwrite's signature header, to route Appwrite
/// deliveries and other traffic on one path apart. It checks presence only: it proves nothing
/// about who sent the request — pair it with [`Webhook`] or [`require_signature`].
///
/// ```
/// use actix_web::web;
/// let route = web::post().guard(appwrite_webhooks_actix::AppwriteDelivery);
/// ```
#[derive(Debug, Clone, Copy)]
pub struct AppwriteDelivery;

impl Guard for AppwriteDelivery {
    fn check(&self, ctx: &GuardContext<'_>) -> bool {
        ctx.head()
            .headers()
            .contains_key(Scheme::Appwrite.signature_header().as_str())
    }
}

/// The verifier in the application data: one with fixed keys, or one resolving them per tenant.
enum Configured {
    Fixed(Verifier),
    PerTenant(Verifier<PerTenant>),
}

impl Configured {
    fn has_replay_guard(&self) -> bool {
        match self {
            Configured::Fixed(verifier) => verifier.has_replay_guard(),
            Configured::PerTenant(verifier) => verifier.has_replay_guard(),
        }
    }
}

fn configured_verifier(request: &HttpRequest) -> Result<Configured, WebhookError> {
    fn find<K: KeySource>(request: &HttpRequest) -> Option<Verifier<K>> {
        request
            .app_data::<web::Data<Verifier<K>>>()
            .map(|data| data.get_ref().clone())
            .or_else(|| request.app_data::<Verifier<K>>().cloned())
    }
    find(request)
        .map(Configured::Fixed)
        .or_else(|| find(request).map(Configured::PerTenant))
        .ok_or(WebhookError::NotConfigured)
}

/// The request head in `http` 1.x types, which the core speaks (actix-web 4 uses `http` 0.2).
struct Head {
    uri: http::Uri,
    headers: http::HeaderMap,
}

impl Head {
    /// The head as the core's receive sequence takes it.
    fn into_parts(self) -> http::request::Parts {
        let (mut parts, ()) = http::Request::new(()).into_parts();
        parts.uri = self.uri;
        parts.headers = self.headers;
        parts
    }

    fn of(request: &HttpRequest) -> Self {
        let headers = request
            .headers()
            .iter()
            .filter_map(|(name, value)| {
                let name = http::HeaderName::from_bytes(name.as_str().as_bytes()).ok()?;
                let value = http::HeaderValue::from_bytes(value.as_bytes()).ok()?;
                Some((name, value))
            })
            .collect();
        let uri = request.uri().to_string().parse().unwrap_or_default();
        Self { uri, headers }
    }
}

/// The actix payload as an [`http_body::Body`], for the core's streaming entry points.
fn body_of(
    payload: impl futures_util::Stream<
        Item = Result<actix_web::web::Bytes, actix_web::error::PayloadError>,
    >,
) -> impl http_body::Body<Data = actix_web::web::Bytes, Error = actix_web::error::PayloadError> {
    http_body_util::StreamBody::new(payload.map(|chunk| chunk.map(http_body::Frame::data)))
}

/// Why a request was refused. Renders as the status and a one-line reason, never a key.
///
/// ```
/// use actix_web::ResponseError;
/// use appwrite_webhooks_actix::WebhookError;
///
/// let error = WebhookError::from(appwrite_webhooks::Error::SignatureMismatch);
/// assert_eq!(error.status_code(), 401);
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum WebhookError {
    /// The delivery failed a check; see [`Error`].
    Rejected(Error),
    /// No `web::Data<Verifier>` (or `Verifier`, or either as `Verifier<PerTenant>`) in the
    /// application data: a server bug, `500`.
    NotConfigured,
}

impl From<Error> for WebhookError {
    fn from(error: Error) -> Self {
        WebhookError::Rejected(error)
    }
}

impl fmt::Display for WebhookError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WebhookError::Rejected(error) => fmt::Display::fmt(error, f),
            WebhookError::NotConfigured => f.write_str("webhook verifier not configured"),
        }
    }
}

impl std::error::Error for WebhookError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            WebhookError::Rejected(error) => Some(error),
            WebhookError::NotConfigured => None,
        }
    }
}

impl ResponseError for WebhookError {
    fn status_code(&self) -> actix_web::http::StatusCode {
        match self {
            WebhookError::Rejected(error) => status_of(error.status()),
            WebhookError::NotConfigured => actix_web::http::StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            WebhookError::Rejected(error) => respond(&Answer::from(error)),
            WebhookError::NotConfigured => HttpResponse::InternalServerError()
                .content_type(Answer::CONTENT_TYPE)
                .body(self.to_string()),
        }
    }
}
