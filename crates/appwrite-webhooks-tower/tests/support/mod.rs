//! The server the at-least-once and observability tests drive: the layer on `POST /hook`
//! around a service running the suite's [`Handler`].

use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::Duration;

use appwrite_webhooks::Verifier;
use appwrite_webhooks_tower::{AppwriteWebhookLayer, ResponseBody};
use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt as _, Either, Full};
use testkit::at_least_once::{Act, BEHAVIOUR, Handler};
use tower::ServiceBuilder;

/// The layer around a service that acts as the suite's handler says; an `Err` from it (or the
/// timeout layer outside it) becomes a 500, as a server would answer.
pub async fn spawn(verifier: Verifier, handler: Handler, timeout: Option<Duration>) -> SocketAddr {
    let inner = move |request: Request<Full<Bytes>>| {
        let handler = handler.clone();
        async move {
            let behaviour = request
                .headers()
                .get(BEHAVIOUR)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let body = request.into_body().collect().await.unwrap().to_bytes();
            match handler.act(behaviour.as_deref(), &body).await {
                Act::Status(status) => Ok(Response::builder()
                    .status(status)
                    .body(Full::<Bytes>::default())
                    .unwrap()),
                Act::Err => Err(std::io::Error::other("the handler failed")),
            }
        }
    };
    let layered = ServiceBuilder::new()
        // No timeout: longer than any handler of the suite runs.
        .timeout(timeout.unwrap_or(Duration::from_secs(300)))
        .layer(AppwriteWebhookLayer::new(verifier))
        .service_fn(inner);
    let service = tower::service_fn(move |request: Request<hyper::body::Incoming>| {
        let layered = layered.clone();
        async move {
            let response: Response<ResponseBody<Full<Bytes>>> =
                match tower::ServiceExt::oneshot(layered, request).await {
                    Ok(response) => response,
                    Err(_) => Response::builder()
                        .status(500)
                        .body(Either::Right(Full::default()))
                        .unwrap(),
                };
            Ok::<_, Infallible>(response)
        }
    });
    testkit::net::serve_tower(service).await
}
