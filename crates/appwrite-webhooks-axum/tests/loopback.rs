//! The extractor in a real axum server on loopback, driven by a real HTTP client.

use std::net::SocketAddr;

use appwrite_webhooks::{Delivery, Event, Verifier};
use appwrite_webhooks_axum::Webhook;
use axum::Router;
use axum::extract::FromRef;
use axum::routing::post;
use testkit::net::send;
use testkit::{http_suite, scheme_suite};

/// A larger application state holding the verifier, as real apps have.
#[derive(Clone)]
struct AppState {
    verifier: Verifier,
    greeting: &'static str,
}

impl FromRef<AppState> for Verifier {
    fn from_ref(state: &AppState) -> Self {
        state.verifier.clone()
    }
}

async fn on_event(Webhook((delivery, event)): Webhook<(Delivery, Event)>) -> String {
    http_suite::expected_body(&event, delivery.primary_event().as_ref())
}

async fn spawn(app: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_suite() {
    let state = AppState {
        verifier: http_suite::suite_verifier(),
        greeting: "hi",
    };
    assert_eq!(state.greeting, "hi");
    let app = Router::new().fallback(post(on_event)).with_state(state);
    http_suite::run_all(spawn(app).await).await;
}

#[tokio::test]
async fn default_type_is_the_typed_event() {
    async fn handler(Webhook(event): Webhook) -> String {
        format!("{:?}", event.kind())
    }
    let url = "http://example.com/hook";
    let app = Router::new()
        .route("/hook", post(handler))
        .with_state(Verifier::new("k", url));
    let addr = spawn(app).await;
    let sent = http_suite::signed_for(url, "k");
    assert_eq!(send(&sent, addr).await, (200, "Team".to_owned()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_the_tower_layer_the_extractor_reuses_its_verification() {
    use appwrite_webhooks_tower::AppwriteWebhookLayer;
    // The state's verifier would reject everything: only the layer's verification can pass.
    let state = AppState {
        verifier: Verifier::new("wrong-key", "http://nowhere/"),
        greeting: "hi",
    };
    let app = Router::new()
        .fallback(post(on_event))
        .layer(AppwriteWebhookLayer::new(http_suite::suite_verifier()))
        .with_state(state);
    let addr = spawn(app).await;
    http_suite::accepts_every_delivery(addr).await;
    http_suite::rejects_tampering(addr).await;
}

#[tokio::test]
async fn duplicates_are_answered_without_running_the_handler() {
    use appwrite_webhooks::ReplayGuard;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    let url = "http://example.com/hook";
    for (status, expected) in [
        (None, 200u16),
        (Some(axum::http::StatusCode::CONFLICT), 409),
    ] {
        let ran = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&ran);
        let guard = match status {
            Some(status) => ReplayGuard::in_memory().with_duplicate_status(status),
            None => ReplayGuard::in_memory(),
        };
        let app = Router::new()
            .route(
                "/hook",
                post(move |Webhook(_): Webhook| async move {
                    counter.fetch_add(1, Ordering::SeqCst);
                    axum::http::StatusCode::NO_CONTENT
                }),
            )
            .route_layer(appwrite_webhooks_axum::AppwriteWebhookLayer::new(
                Verifier::new("k", url).with_replay_guard(guard.clone()),
            ))
            .with_state(Verifier::new("k", url).with_replay_guard(guard));
        let addr = spawn(app).await;
        let sent = http_suite::signed_for(url, "k");
        assert_eq!(send(&sent, addr).await.0, 204);
        let (code, text) = send(&sent, addr).await;
        assert_eq!(code, expected);
        assert_eq!(text, "duplicate delivery: already handled");
        assert_eq!(ran.load(Ordering::SeqCst), 1);
    }
}

/// The extractor on `POST /hook` with `verifier` in state, under the layer that settles its
/// replay claims.
async fn spawn_hook(verifier: Verifier) -> SocketAddr {
    spawn(
        Router::new()
            .route("/hook", post(on_event))
            .route_layer(appwrite_webhooks_axum::AppwriteWebhookLayer::new(
                verifier.clone(),
            ))
            .with_state(verifier),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timestamped_scheme() {
    scheme_suite::run_timestamped(spawn_hook(scheme_suite::timestamped_verifier()).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generic_scheme() {
    scheme_suite::run_generic(spawn_hook(scheme_suite::generic_verifier()).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn appwrite_alerts() {
    scheme_suite::run_alert(spawn_hook(scheme_suite::alert_verifier()).await).await;
}

/// The bare extractor types an alert on its own: `Webhook<Alert>`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_extractor_hands_over_an_alert() {
    async fn on_alert(Webhook(alert): Webhook<appwrite_webhooks::Alert>) -> String {
        format!("{} / {:?}", alert.subject, alert.project)
    }
    let verifier = scheme_suite::alert_verifier();
    let addr = spawn(
        Router::new()
            .route("/hook", post(on_alert))
            .with_state(verifier),
    )
    .await;
    let sample = testkit::alerts::alert("usage-alert-no-project");
    let sent = appwrite_webhooks::sender::SignedDelivery::from_parts(
        "http://receiver.test/hook".into(),
        sample.header_map(),
        sample.body.clone().into(),
    );
    assert_eq!(send(&sent, addr).await, (200, "Usage at 90% / None".into()));
    let unsigned = testkit::alerts::alert("unsigned");
    let sent = appwrite_webhooks::sender::SignedDelivery::from_parts(
        "http://receiver.test/hook".into(),
        unsigned.header_map(),
        unsigned.body.clone().into(),
    );
    assert_eq!(send(&sent, addr).await.0, 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_basic_auth_is_checked_before_the_body() {
    let verifier = testkit::auth_suite::verifier();
    // The bare extractor, and the layer in front of it.
    let bare = spawn(
        Router::new()
            .route("/hooks/auth", post(on_event))
            .with_state(verifier.clone()),
    )
    .await;
    testkit::auth_suite::run_all(bare).await;
    let layered = spawn(
        Router::new()
            .route("/hooks/auth", post(on_event))
            .route_layer(appwrite_webhooks_axum::AppwriteWebhookLayer::new(
                verifier.clone(),
            ))
            .with_state(verifier.clone()),
    )
    .await;
    testkit::auth_suite::run_all(layered).await;
    let inbox = appwrite_webhooks::inbox::Inbox::new(appwrite_webhooks::MemoryLedger::default());
    let stored = spawn(Router::new().route(
        "/hooks/auth",
        axum::routing::post_service(appwrite_webhooks_axum::InboxService::new(verifier, inbox)),
    ))
    .await;
    testkit::auth_suite::run_all(stored).await;
}
