//! What the exactly-once tests share: a seeded generator of bursts of user deliveries (copies,
//! redeliveries, shuffled), the mirroring handler, and readers of the mirrored table.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use appwrite_webhooks::inbox::{Inbox, Put};
use appwrite_webhooks::{Delivery, Verifier, sender::DeliveryBuilder};
use appwrite_webhooks_sqlite::rusqlite::{self, params};
use appwrite_webhooks_sqlite::{ExactlyOnce, LedgerTransaction, SqliteLedger};

pub const URL: &str = "https://example.com/hook";
pub const KEY: &str = "once-key";

pub fn verifier() -> Verifier {
    Verifier::new(KEY, URL)
}

pub fn path(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("aw-once-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir.join("inbox.db")
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
