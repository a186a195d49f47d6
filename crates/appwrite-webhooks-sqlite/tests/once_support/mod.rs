//! What the exactly-once tests share: a seeded generator of bursts of user deliveries (copies,
//! redeliveries, shuffled), the mirroring handler, and readers of the mirrored table.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use appwrite_webhooks::Delivery;
use appwrite_webhooks::inbox::Inbox;
use appwrite_webhooks_sqlite::rusqlite::{self, params};
use appwrite_webhooks_sqlite::{ExactlyOnce, LedgerTransaction, SqliteLedger};

// The bursts every store's tests share; each test binary uses its own part of them.
#[allow(unused_imports)]
pub use testkit::burst::*;

pub fn path(name: &str) -> PathBuf {
    testkit::scratch::dir(&format!("once-{name}")).join("inbox.db")
}

pub const TABLES: &str = "
CREATE TABLE IF NOT EXISTS users (id TEXT PRIMARY KEY, name TEXT NOT NULL, updated_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS effects (delivery_id INTEGER NOT NULL, attempt INTEGER NOT NULL)";

/// The mirror: a user's create or update is an upsert, a delete a delete; every applied
/// delivery also leaves one row in `effects` (no unique key: a second application would show).
/// `hook` runs between the two writes (`"inside"`), before them (`"before"`) and after them
/// (`"between"`: nothing left but the commit); an `Err` from it fails the attempt.
pub fn mirror<H>(
    ledger: &SqliteLedger,
    hook: H,
) -> ExactlyOnce<
    impl Fn(&Delivery, &LedgerTransaction<'_>) -> Result<(), appwrite_webhooks::HandlerError>
    + Send
    + Sync
    + 'static,
>
where
    H: Fn(&str, &LedgerTransaction<'_>) -> Result<(), appwrite_webhooks::HandlerError>
        + Send
        + Sync
        + 'static,
{
    ledger
        .exactly_once(move |delivery: &Delivery, tx: &LedgerTransaction<'_>| {
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
            tx.execute(
                "INSERT INTO effects (delivery_id, attempt) VALUES (?1, ?2)",
                params![tx.delivery_id() as i64, tx.attempt()],
            )?;
            hook("inside", tx)?;
            let action = delivery
                .primary_event()
                .and_then(|e| e.action().map(str::to_owned));
            if action.as_deref() == Some("delete") {
                tx.execute("DELETE FROM users WHERE id = ?1", params![user.id])?;
            } else {
                tx.execute(
                    "INSERT INTO users (id, name, updated_at) VALUES (?1, ?2, ?3)
                     ON CONFLICT (id) DO UPDATE SET name = excluded.name,
                                                    updated_at = excluded.updated_at",
                    params![user.id, user.name, user.updated_at],
                )?;
            }
            hook("between", tx)?;
            Ok(())
        })
        .with_ordering()
}

/// The mirrored table, read through a connection of its own.
pub fn users(path: &Path) -> BTreeMap<String, Option<String>> {
    let db = rusqlite::Connection::open(path).unwrap();
    let mut query = db.prepare("SELECT id, name FROM users").unwrap();
    query
        .query_map([], |row| Ok((row.get(0)?, Some(row.get(1)?))))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

/// `expected` without its deleted users: what the table must hold.
pub fn live(expected: &BTreeMap<String, Option<String>>) -> BTreeMap<String, Option<String>> {
    expected
        .iter()
        .filter(|(_, name)| name.is_some())
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// Per delivery id, how many effects rows it left.
pub fn effects(path: &Path) -> BTreeMap<i64, i64> {
    let db = rusqlite::Connection::open(path).unwrap();
    let mut query = db
        .prepare("SELECT delivery_id, count(*) FROM effects GROUP BY delivery_id")
        .unwrap();
    query
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
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
