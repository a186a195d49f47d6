//! What the exactly-once tests share: a seeded generator of bursts of user deliveries (copies,
//! redeliveries, shuffled) — the same as the SQLite ledger's tests use —, the mirroring
//! handler on Postgres, and readers of the mirrored tables.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use appwrite_webhooks::inbox::{Inbox, Put};
use appwrite_webhooks::{Delivery, HandlerError, Verifier, sender::DeliveryBuilder};
use appwrite_webhooks_postgres::{Effects, ExactlyOnce, LedgerTransaction, PostgresLedger};
use testkit::postgres::PostgresServer;

pub const URL: &str = "https://example.com/hook";
pub const KEY: &str = "once-key";

pub fn verifier() -> Verifier {
    Verifier::new(KEY, URL)
}

/// xorshift64*: a small seeded PRNG, so every failure names the seed that reproduces it.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i as u64 + 1) as usize;
            items.swap(i, j);
        }
    }
}

/// `ms` milliseconds into 2025, as Appwrite writes `$updatedAt`.
pub fn timestamp(ms: u64) -> String {
    let (h, rest) = (ms / 3_600_000, ms % 3_600_000);
    let (m, rest) = (rest / 60_000, rest % 60_000);
    let (s, milli) = (rest / 1000, rest % 1000);
    format!("2025-01-01T{h:02}:{m:02}:{s:02}.{milli:03}+00:00")
}

/// One delivery to send: its request parts.
pub struct Outgoing {
    pub delivery_id: String,
    pub event: String,
    pub body: String,
}

impl Outgoing {
    pub fn request(&self) -> http::Request<bytes::Bytes> {
        DeliveryBuilder::new(KEY, URL, self.body.clone())
            .events([self.event.as_str()])
            .delivery_id(self.delivery_id.clone())
            .build()
            .into_request()
    }
}

/// A burst: every user's history (create, updates, maybe a delete, maybe created again),
/// each change sent one to three times — as the same delivery (a redelivery: the same
/// delivery id) or as another (a second webhook, a replica: a new id) — all shuffled. Returns
/// the sends and each user's final state (`None`: deleted).
pub fn burst(rng: &mut Rng, users: usize) -> (Vec<Outgoing>, BTreeMap<String, Option<String>>) {
    let mut sends = Vec::new();
    let mut expected = BTreeMap::new();
    let mut next_id = 0u64;
    for u in 0..users {
        let user = format!("u{u}");
        let mut at = rng.below(1000);
        let mut changes = Vec::new();
        let mut lives = 0;
        loop {
            lives += 1;
            changes.push(("create", at, format!("{user}-v{}", changes.len())));
            for _ in 0..rng.below(4) {
                // Updates may share the create's millisecond, never each other's.
                at += if changes.len() == 1 {
                    rng.below(2)
                } else {
                    1 + rng.below(3)
                };
                changes.push(("update", at, format!("{user}-v{}", changes.len())));
            }
            if !rng.chance(50) {
                break;
            }
            // A delete carries the resource as it was: the last change's $updatedAt.
            let last = changes.last().unwrap().2.clone();
            changes.push(("delete", at, last));
            if lives == 2 || !rng.chance(40) {
                break;
            }
            at += 1 + rng.below(3);
        }
        let last = changes.last().unwrap();
        expected.insert(user.clone(), (last.0 != "delete").then(|| last.2.clone()));
        for (action, at, name) in changes {
            let body = format!(
                r#"{{"$id":"{user}","name":"{name}","$updatedAt":"{}"}}"#,
                timestamp(at)
            );
            let event = format!("users.{user}.{action}");
            let copies = 1 + rng.below(3);
            let mut id = None;
            for _ in 0..copies {
                if id.is_none() || rng.chance(50) {
                    next_id += 1;
                    id = Some(format!("d{next_id}"));
                }
                sends.push(Outgoing {
                    delivery_id: id.clone().unwrap(),
                    event: event.clone(),
                    body: body.clone(),
                });
            }
        }
    }
    rng.shuffle(&mut sends);
    (sends, expected)
}

pub async fn accept(inbox: &Inbox, send: &Outgoing) -> Put {
    let (parts, body) = send.request().into_parts();
    inbox
        .accept(
            &verifier(),
            &parts.uri,
            &parts.headers,
            http_body_util::Full::new(body),
        )
        .await
        .unwrap()
}

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
