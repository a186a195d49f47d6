//! The layer under a plain hyper server on loopback, driven by a real HTTP client.

use std::convert::Infallible;
use std::net::SocketAddr;

use appwrite_webhooks::{Delivery, ProxyHeaders, Verifier};
use appwrite_webhooks_tower::AppwriteWebhookLayer;
use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use testkit::{http_suite, scheme_suite};
use tower::ServiceBuilder;

/// The inner service: reads the verified delivery from the extensions, answers with its event.
async fn handler(request: Request<Full<Bytes>>) -> Result<Response<Full<Bytes>>, Infallible> {
    let delivery = request
        .extensions()
        .get::<Delivery>()
        .expect("the layer sets the delivery")
        .clone();
    // The body the inner service sees is the verified body itself, not a copy.
    let body = http_body_util::BodyExt::collect(request.into_body())
        .await
        .unwrap()
        .to_bytes();
    assert_eq!(body.as_ptr(), delivery.body().as_ptr());
    let response = match delivery.event() {
        Ok(event) => Response::new(Full::from(http_suite::expected_body(
            &event,
            delivery.primary_event().as_ref(),
        ))),
        Err(error) => {
            let mut response = Response::new(Full::from(error.to_string()));
            *response.status_mut() = error.status();
            response
        }
    };
    Ok(response)
}

async fn spawn(verifier: Verifier) -> SocketAddr {
    let service = ServiceBuilder::new()
        .layer(AppwriteWebhookLayer::new(verifier))
        .service_fn(handler);
    testkit::net::serve_tower(service).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_suite() {
    let addr = spawn(http_suite::suite_verifier()).await;
    http_suite::run_all(addr).await;
}

/// Posts `sent` with `extra` headers; `path` must be the path `sent` is signed for.
async fn post(
    addr: SocketAddr,
    path: &str,
    sent: &appwrite_webhooks::sender::SignedDelivery,
    extra: &[(&'static str, &'static str)],
) -> StatusCode {
    assert_eq!(testkit::net::path_and_query(sent.url()), path);
    let sent = testkit::net::with_headers(sent, extra);
    StatusCode::from_u16(testkit::net::send(&sent, addr).await.0).unwrap()
}

#[tokio::test]
async fn behind_a_proxy_the_configured_url_works_and_rebuilding_is_opt_in() {
    let public = "https://hooks.example.com/appwrite";
    let sent = http_suite::signed_for(public, "k");
    let forwarded = [
        ("x-forwarded-proto", "https"),
        ("x-forwarded-host", "hooks.example.com"),
    ];

    // Default: the configured public URL, whatever address the server listens on.
    let configured = spawn(Verifier::new("k", public)).await;
    assert_eq!(
        post(configured, "/appwrite", &sent, &[]).await,
        StatusCode::OK
    );
    assert_eq!(
        post(configured, "/appwrite", &sent, &forwarded).await,
        StatusCode::OK
    );

    // Rebuilding from a trusted proxy's headers: works with them, fails closed without.
    let trusting = spawn(Verifier::for_request_url("k", ProxyHeaders::Trust)).await;
    assert_eq!(
        post(trusting, "/appwrite", &sent, &forwarded).await,
        StatusCode::OK
    );
    assert_eq!(
        post(trusting, "/appwrite", &sent, &[]).await,
        StatusCode::UNAUTHORIZED
    );

    // Rebuilding without trusting proxies ignores the forwarded headers: the request is
    // verified for the address it actually reached.
    let direct = spawn(Verifier::for_request_url("k", ProxyHeaders::Ignore)).await;
    assert_eq!(
        post(direct, "/appwrite", &sent, &forwarded).await,
        StatusCode::UNAUTHORIZED
    );
    let local = http_suite::signed_for(&format!("http://{direct}/appwrite"), "k");
    assert_eq!(post(direct, "/appwrite", &local, &[]).await, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timestamped_scheme() {
    scheme_suite::run_timestamped(spawn(scheme_suite::timestamped_verifier()).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generic_scheme() {
    scheme_suite::run_generic(spawn(scheme_suite::generic_verifier()).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn appwrite_alerts() {
    scheme_suite::run_alert(spawn(scheme_suite::alert_verifier()).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_basic_auth_is_checked_before_the_body() {
    testkit::auth_suite::run_all(spawn(testkit::auth_suite::verifier()).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_basic_auth_in_inbox_mode() {
    let inbox = appwrite_webhooks::inbox::Inbox::new(appwrite_webhooks::MemoryLedger::default());
    let service =
        appwrite_webhooks_tower::InboxService::new(testkit::auth_suite::verifier(), inbox);
    testkit::auth_suite::run_all(testkit::net::serve_tower(service).await).await;
}
