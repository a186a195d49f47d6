//! A cluster of the test's own, and ledgers on fresh databases in it.

#![allow(dead_code)]

use std::path::PathBuf;
use std::time::Duration;

use appwrite_webhooks_postgres::PostgresLedger;
pub use testkit::postgres::PostgresServer;

/// The migration file an operator would run by hand.
pub fn migration_file() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("migrations/001_ledger.sql")
}

/// A fresh database `name`, migrated by hand with `psql -f`, file after file, as a DBA would;
/// its URL.
pub fn migrated_by_hand(server: &PostgresServer, name: &str) -> String {
    let url = server.database(name);
    for migration in appwrite_webhooks_postgres::MIGRATIONS {
        let output = server.psql_file(name, &migration_file().with_file_name(migration.name));
        assert!(
            output.status.success(),
            "{}: {}",
            migration.name,
            String::from_utf8_lossy(&output.stderr)
        );
    }
    url
}

/// A ledger on a fresh database `name`, migrated with `migrate()`.
pub async fn ledger(server: &PostgresServer, name: &str) -> PostgresLedger {
    let ledger = PostgresLedger::connect(&server.database(name))
        .await
        .unwrap();
    assert_eq!(
        ledger.migrate().await.unwrap(),
        appwrite_webhooks_postgres::SCHEMA_VERSION
    );
    ledger
}

/// A second ledger (another replica: its own pool and listener) on the same database.
pub fn replica(server: &PostgresServer, name: &str) -> PostgresLedger {
    PostgresLedger::builder(server.url(name))
        .with_timeout(Duration::from_secs(10))
        .connect_lazily()
        .unwrap()
}
