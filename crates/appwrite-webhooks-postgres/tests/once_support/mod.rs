//! What the exactly-once tests share: a seeded generator of bursts of user deliveries (copies,
//! redeliveries, shuffled) — the same as the SQLite ledger's tests use —, the mirroring
//! handler on Postgres, and readers of the mirrored tables.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use appwrite_webhooks::inbox::Inbox;
use appwrite_webhooks::{Delivery, HandlerError};
use appwrite_webhooks_postgres::{Effects, ExactlyOnce, LedgerTransaction, PostgresLedger};
use testkit::postgres::PostgresServer;

// The bursts every store's tests share; each test binary uses its own part of them.
#[allow(unused_imports)]
pub use testkit::burst::*;

/// A ledger on a fresh database `name` holding the mirror's tables.
pub async fn with_tables(server: &PostgresServer, name: &str) -> PostgresLedger {
    let ledger = crate::common::ledger(server, name).await;
    ledger.execute_batch(TABLES).await.unwrap();
    ledger
}

pub const TABLES: &str = "
CREATE TABLE IF NOT EXISTS users (id text PRIMARY KEY, name text NOT NULL, updated_at text NOT NULL);
CREATE TABLE IF NOT EXISTS effects (delivery_id bigint NOT NULL, attempt integer NOT NULL)";

/// The mirror: a user's create or update is an upsert, a delete a delete; every applied
/// delivery also leaves one row in `effects` (no unique key: a second application would show).
/// `hook` runs before the writes (`"before"`), between the two (`"inside"`) and after them
/// (`"between"`: nothing left but the commit); an `Err` from it fails the attempt.
pub fn mirror<H>(
    ledger: &PostgresLedger,
    hook: H,
) -> ExactlyOnce<
    impl for<'a> Fn(&'a Delivery, &'a LedgerTransaction<'a>) -> Effects<'a> + Send + Sync + 'static,
>
where
    H: Fn(&str, &LedgerTransaction<'_>) -> Result<(), HandlerError> + Send + Sync + 'static,
{
    let hook = Arc::new(hook);
    ledger
        .exactly_once(move |delivery, tx| {
            let hook = Arc::clone(&hook);
            Box::pin(async move {
                #[derive(serde::Deserialize)]
                struct User {
                    #[serde(rename = "$id")]
                    id: String,
                    name: String,
                    #[serde(rename = "$updatedAt", default)]
                    updated_at: String,
                }
                hook("before", tx)?;
                let user: User = delivery.json()?;
                let (id, attempt) = (tx.delivery_id() as i64, tx.attempt() as i32);
                tx.execute(
                    "INSERT INTO effects (delivery_id, attempt) VALUES ($1, $2)",
                    &[&id, &attempt],
                )
                .await?;
                hook("inside", tx)?;
                let action = delivery
                    .primary_event()
                    .and_then(|e| e.action().map(str::to_owned));
                if action.as_deref() == Some("delete") {
                    tx.execute("DELETE FROM users WHERE id = $1", &[&user.id])
                        .await?;
                } else {
                    tx.execute(
                        "INSERT INTO users (id, name, updated_at) VALUES ($1, $2, $3)
                         ON CONFLICT (id) DO UPDATE SET name = excluded.name,
                                                        updated_at = excluded.updated_at",
                        &[&user.id, &user.name, &user.updated_at],
                    )
                    .await?;
                }
                hook("between", tx)?;
                Ok(())
            })
        })
        .with_ordering()
}

/// The rows `sql` returns in database `name`, each as its `|`-separated columns (through
/// `psql`: a connection of its own, outside every ledger).
pub fn rows(server: &PostgresServer, name: &str, sql: &str) -> Vec<Vec<String>> {
    let output = server.psql(name, sql);
    assert!(
        output.status.success(),
        "{sql}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .filter(|line| !line.is_empty())
        .map(|line| line.split('|').map(str::to_owned).collect())
        .collect()
}

/// One number `sql` returns.
pub fn count(server: &PostgresServer, name: &str, sql: &str) -> i64 {
    rows(server, name, sql)[0][0].parse().unwrap()
}

/// The mirrored table.
pub fn users(server: &PostgresServer, name: &str) -> BTreeMap<String, Option<String>> {
    rows(server, name, "SELECT id, name FROM users")
        .into_iter()
        .map(|row| (row[0].clone(), Some(row[1].clone())))
        .collect()
}

/// Per delivery id, how many effects rows it left.
pub fn effects(server: &PostgresServer, name: &str) -> BTreeMap<u64, i64> {
    rows(
        server,
        name,
        "SELECT delivery_id, count(*) FROM effects GROUP BY delivery_id",
    )
    .into_iter()
    .map(|row| (row[0].parse().unwrap(), row[1].parse().unwrap()))
    .collect()
}

/// `expected` without its deleted users: what the table must hold.
pub fn live(expected: &BTreeMap<String, Option<String>>) -> BTreeMap<String, Option<String>> {
    expected
        .iter()
        .filter(|(_, name)| name.is_some())
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// Waits until nothing is pending (at most `limit`).
pub async fn drained(inbox: &Inbox, limit: Duration) {
    let started = std::time::Instant::now();
    loop {
        let stats = inbox.admin().stats().await.unwrap();
        if stats.pending == 0 {
            return;
        }
        assert!(
            started.elapsed() < limit,
            "still pending after {limit:?}: {stats:?}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}
