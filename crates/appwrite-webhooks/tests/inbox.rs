//! The in-memory inbox passes the suite every store passes (and so exercises the workers).

use appwrite_webhooks::MemoryLedger;
use appwrite_webhooks::inbox::Inbox;

#[tokio::test]
async fn the_memory_inbox_behaves_as_every_inbox_must() {
    testkit::inbox_suite::run_all(|_| Inbox::new(MemoryLedger::default())).await;
}
