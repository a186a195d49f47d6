//! The memory ledger keeps the history of attempts as the durable ledgers do, so the web view's
//! delivery page and chart work over it too (the shared suite: `testkit::history_suite`).

use appwrite_webhooks::MemoryLedger;

#[tokio::test]
async fn the_memory_ledger_records_attempts() {
    testkit::history_suite::records_attempts(MemoryLedger::default()).await;
}
