//! `InboxService` under a plain hyper server on loopback, storing into a real SQLite file.

use appwrite_webhooks::inbox::Inbox;
use appwrite_webhooks_sqlite::SqliteInbox;
use appwrite_webhooks_tower::InboxService;
use testkit::{http_suite, inbox_suite};

fn sqlite(name: &str, max_bytes: Option<u64>) -> Inbox {
    let dir = std::env::temp_dir().join(format!("aw-tower-inbox-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let mut builder = SqliteInbox::builder(dir.join("inbox.db"));
    if let Some(bytes) = max_bytes {
        builder = builder.max_bytes(bytes);
    }
    Inbox::new(builder.open().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stores_every_version_once_and_refuses_forgeries() {
    let inbox = sqlite("suite", None);
    let addr = testkit::net::serve_tower(InboxService::new(
        http_suite::suite_verifier(),
        inbox.clone(),
    ))
    .await;
    inbox_suite::over_http(addr, &inbox).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_store_is_a_503_and_nothing_half_way() {
    let inbox = sqlite("full", Some(64 * 1024));
    let addr = testkit::net::serve_tower(InboxService::new(
        http_suite::suite_verifier(),
        inbox.clone(),
    ))
    .await;
    inbox_suite::answers_503_when_the_store_fails(addr, &inbox).await;
}
