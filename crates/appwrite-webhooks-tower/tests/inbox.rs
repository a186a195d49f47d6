//! `InboxService` under a plain hyper server on loopback, storing into a real SQLite file.

use appwrite_webhooks_tower::InboxService;
use testkit::{http_suite, inbox_suite};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stores_every_version_once_and_refuses_forgeries() {
    let inbox = inbox_suite::sqlite_inbox("tower-suite", None);
    let addr = testkit::net::serve_tower(InboxService::new(
        http_suite::suite_verifier(),
        inbox.clone(),
    ))
    .await;
    testkit::inbox_http::over_http(addr, &inbox).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_store_is_a_503_and_nothing_half_way() {
    let inbox = inbox_suite::sqlite_inbox("tower-full", Some(64 * 1024));
    let addr = testkit::net::serve_tower(InboxService::new(
        http_suite::suite_verifier(),
        inbox.clone(),
    ))
    .await;
    testkit::inbox_http::answers_503_when_the_store_fails(addr, &inbox).await;
}
