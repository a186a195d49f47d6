//! A route in inbox mode (`post_service(InboxService)`) under axum on loopback, storing into a
//! real SQLite file.

use appwrite_webhooks::inbox::Inbox;
use appwrite_webhooks_axum::InboxService;
use axum::Router;
use axum::routing::post_service;
use testkit::{http_suite, inbox_suite};

async fn serve(inbox: &Inbox) -> std::net::SocketAddr {
    // Every sample's path: the route is the fallback, as `post_service` on one path would be.
    let app = Router::new().fallback_service(post_service(InboxService::new(
        http_suite::suite_verifier(),
        inbox.clone(),
    )));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stores_every_version_once_and_refuses_forgeries() {
    let inbox = inbox_suite::sqlite_inbox("axum-suite", None);
    testkit::inbox_http::over_http(serve(&inbox).await, &inbox).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_store_is_a_503_and_nothing_half_way() {
    let inbox = inbox_suite::sqlite_inbox("axum-full", Some(64 * 1024));
    testkit::inbox_http::answers_503_when_the_store_fails(serve(&inbox).await, &inbox).await;
}
