//! The history of attempts (schema version 2): every take and settle leaves its row, written
//! by the database itself, and the view's counts per minute read them — as every store that
//! keeps a history shows it (`testkit::history_suite`).

mod common;

use common::{PostgresServer, ledger};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attempts_are_recorded_with_their_outcome_duration_and_error() {
    let server = PostgresServer::start();
    let ledger = ledger(&server, "history").await;
    testkit::history_suite::records_attempts(ledger).await;
}
