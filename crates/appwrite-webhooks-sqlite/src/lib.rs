//! A durable [`InboxStore`] in one SQLite file: zero setup, survives restarts, inspectable with
//! `sqlite3`.
//!
//! A route in inbox mode answers `202` only once the delivery is committed here; workers take
//! it, run your handler with retries, and record the outcome. Several processes may share one
//! file (a receiver and separate workers, say): every change is one transaction.
//!
//! **Durability.** The file is in WAL mode. With [`Durability::Full`] (the default) a stored
//! delivery's commit runs with `synchronous = FULL`: it is flushed to disk before the `202`, so
//! an acknowledged delivery survives a killed process *and* a power loss or OS crash.
//! Concurrent deliveries share one commit and one flush (group commit), so the flush is paid per
//! batch, not per request. Workers' changes (taking a delivery, recording its outcome) commit
//! with `synchronous = NORMAL`, unflushed until the next stored delivery's or a checkpoint: a
//! power loss may undo the last outcomes, and those deliveries are handled again, which
//! at-least-once allows. [`Durability::Normal`] commits everything that way: a killed process
//! still loses nothing, but a power loss may lose the last deliveries before the `202`s they
//! answered.
//!
//! **Bounded.** [`SqliteInboxBuilder::max_bytes`] caps the file; a full inbox fails the write,
//! and the route answers `503` (nothing stored half-way) rather than filling the disk.
//!
//! ```
//! use std::time::Duration;
//! use appwrite_webhooks::inbox::{Inbox, Put, Workers};
//! use appwrite_webhooks::{Delivery, Verifier, sender::DeliveryBuilder};
//! use appwrite_webhooks_sqlite::SqliteInbox;
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let dir = std::env::temp_dir().join(format!("aw-doc-{}", std::process::id()));
//! # std::fs::create_dir_all(&dir)?; let path = dir.join("inbox.db"); let _ = std::fs::remove_file(&path);
//! let url = "https://example.com/hook";
//! let verifier = Verifier::new("k", url);
//! let inbox = Inbox::new(SqliteInbox::open(&path)?);
//!
//! // The route (an adapter's InboxService does this): verify, store, answer 202.
//! let (parts, body) = DeliveryBuilder::new("k", url, "{}").build().into_request().into_parts();
//! let body = http_body_util::Full::new(body);
//! assert!(matches!(inbox.accept(&verifier, &parts.uri, &parts.headers, body).await?, Put::Stored(_)));
//!
//! // The workers: your handler (or a Router), with retries and dead letters.
//! let workers = Workers::new(inbox.clone(), verifier, |delivery: Delivery| async move {
//!     println!("handling {}", delivery.events_header());
//!     Ok::<_, std::io::Error>(())
//! })
//! .start();
//! # while inbox.store().stats().await?.done == 0 { tokio::time::sleep(Duration::from_millis(5)).await; }
//! workers.shutdown(Duration::from_secs(10)).await;
//! assert_eq!(inbox.store().stats().await?.done, 1);
//! # std::fs::remove_dir_all(&dir)?; Ok(()) }
//! ```

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod schema;
mod writer;

use std::fmt;
use std::hash::{BuildHasher, RandomState};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use appwrite_webhooks::StoreFuture;
use appwrite_webhooks::inbox::{
    InboxStore, Lease, Purge, Put, Received, State, Stats, Stored, Taken, from_unix_millis,
    unix_millis,
};
use rusqlite::{Connection, OptionalExtension, Row, params};

use crate::writer::Writer;

/// How hard each commit is flushed; see the crate docs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// `synchronous = FULL`: every commit survives a power loss. The default.
    #[default]
    Full,
    /// `synchronous = NORMAL`: every commit survives a killed process; a power loss may lose
    /// the last ones.
    Normal,
}

/// The options of a [`SqliteInbox`], set before it opens.
///
/// ```
/// use appwrite_webhooks_sqlite::{Durability, SqliteInbox};
///
/// # let path = std::env::temp_dir().join(format!("aw-doc-builder-{}.db", std::process::id()));
/// let store = SqliteInbox::builder(&path)
///     .durability(Durability::Full)
///     .max_bytes(1 << 30)
///     .open()?;
/// # drop(store); let _ = std::fs::remove_file(&path);
/// # Ok::<(), appwrite_webhooks::StoreError>(())
/// ```
#[derive(Debug, Clone)]
pub struct SqliteInboxBuilder {
    path: PathBuf,
    durability: Durability,
    max_bytes: Option<u64>,
    create: bool,
}

impl SqliteInboxBuilder {
    /// How hard commits are flushed ([`Durability::Full`] unless set).
    pub fn durability(mut self, durability: Durability) -> Self {
        self.durability = durability;
        self
    }

    /// The largest the database may grow to; writes past it fail (answered `503`).
    pub fn max_bytes(mut self, bytes: u64) -> Self {
        self.max_bytes = Some(bytes);
        self
    }

    /// Opens only an inbox that exists (for tools that inspect one): a missing file is an
    /// error rather than a new, empty inbox.
    pub fn existing(mut self) -> Self {
        self.create = false;
        self
    }

    /// Opens (creating unless [`existing`](Self::existing)) the file and its schema.
    pub fn open(self) -> Result<SqliteInbox, appwrite_webhooks::StoreError> {
        let connection = schema::open(&self.path, self.durability, self.max_bytes, self.create)
            .map_err(|e| store_error(&self.path, e))?;
        Ok(SqliteInbox {
            writer: Writer::start(connection, self.durability == Durability::Full),
            path: Arc::new(self.path),
            last_sweep: Arc::new(AtomicU64::new(0)),
        })
    }
}

/// An [`InboxStore`] in a SQLite file.
///
/// One connection, on a thread of its own, runs every change; requests that arrive together
/// are committed together.
#[derive(Clone)]
pub struct SqliteInbox {
    writer: Writer,
    path: Arc<PathBuf>,
    /// When expired done deliveries were last deleted (unix ms).
    last_sweep: Arc<AtomicU64>,
}

/// How often expired done deliveries are deleted.
const SWEEP_EVERY: Duration = Duration::from_secs(60);

impl SqliteInbox {
    /// Opens the inbox at `path`, creating it if needed, with the default options.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, appwrite_webhooks::StoreError> {
        Self::builder(path).open()
    }

    /// Options for the inbox at `path`.
    pub fn builder(path: impl AsRef<Path>) -> SqliteInboxBuilder {
        SqliteInboxBuilder {
            path: path.as_ref().to_owned(),
            durability: Durability::default(),
            max_bytes: None,
            create: true,
        }
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `work` in the next transaction; only a `put`, which a `202` depends on, waits for
    /// a flush.
    fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> StoreFuture<'_, T> {
        self.run_flushed(false, work)
    }

    fn run_flushed<T: Send + 'static>(
        &self,
        flush: bool,
        work: impl FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> StoreFuture<'_, T> {
        let reply = self.writer.submit(flush, work);
        let path = Arc::clone(&self.path);
        Box::pin(async move { reply.await.map_err(|e| store_error(&path, e)) })
    }
}

impl fmt::Debug for SqliteInbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteInbox")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

fn store_error(path: &Path, error: rusqlite::Error) -> appwrite_webhooks::StoreError {
    appwrite_webhooks::StoreError(format!("SQLite inbox {}: {error}", path.display()).into())
}

fn now_ms() -> i64 {
    millis(SystemTime::now())
}

fn millis(at: SystemTime) -> i64 {
    i64::try_from(unix_millis(at)).unwrap_or(i64::MAX)
}

fn ms(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

/// A fresh owner token for one attempt.
fn token() -> String {
    format!("{:016x}", RandomState::new().hash_one(std::process::id()))
}

const RECEIVED: &str = "fingerprint, received_at_ms, uri, headers, body";

fn received(row: &Row<'_>, at: usize) -> rusqlite::Result<Received> {
    let headers: Vec<u8> = row.get(at + 3)?;
    let received_at: i64 = row.get(at + 1)?;
    Ok(Received {
        fingerprint: row.get(at)?,
        received_at: from_unix_millis(u64::try_from(received_at).unwrap_or(0)),
        uri: row.get(at + 2)?,
        headers: Received::parse_header_block(&headers).map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(3, rusqlite::types::Type::Blob, e.into())
        })?,
        body: row.get::<_, Vec<u8>>(at + 4)?.into(),
    })
}

fn stored(row: &Row<'_>) -> rusqlite::Result<Stored> {
    let state: String = row.get(1)?;
    Ok(Stored {
        id: row.get::<_, i64>(0)? as u64,
        state: State::parse(&state).map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(1, rusqlite::types::Type::Text, e.into())
        })?,
        attempts: row.get(2)?,
        last_error: row.get(3)?,
        received: received(row, 4)?,
    })
}

/// Applies an outcome only while `lease` holds the delivery.
fn settle<'a>(
    store: &'a SqliteInbox,
    lease: &Lease,
    set: &'static str,
    bind: impl FnOnce(i64) -> Vec<rusqlite::types::Value> + Send + 'static,
) -> StoreFuture<'a, bool> {
    let (id, token) = (lease.id, lease.token.clone());
    store.run(move |db| {
        let mut values = bind(now_ms());
        values.push(rusqlite::types::Value::Integer(
            i64::try_from(id).unwrap_or(-1),
        ));
        values.push(rusqlite::types::Value::Text(token));
        let n = values.len();
        let sql = format!(
            "UPDATE deliveries SET lease = NULL, {set} WHERE id = ?{} AND lease = ?{n}",
            n - 1
        );
        // One statement per outcome kind: prepared once, like the rest of the hot path.
        Ok(db
            .prepare_cached(&sql)?
            .execute(rusqlite::params_from_iter(values))?
            == 1)
    })
}

impl InboxStore for SqliteInbox {
    fn put(&self, received: Received) -> StoreFuture<'_, Put> {
        self.run_flushed(true, move |db| {
            let now = now_ms();
            // A done delivery past its retention no longer counts as a duplicate.
            db.prepare_cached(
                "DELETE FROM deliveries WHERE fingerprint = ?1 AND state = 'done' AND keep_until_ms <= ?2",
            )?
            .execute(params![received.fingerprint, now])?;
            let at = millis(received.received_at);
            let inserted = db
                .prepare_cached(
                    "INSERT INTO deliveries (fingerprint, received_at_ms, uri, headers, body, state, attempts, due_at_ms)
                     VALUES (?1, ?2, ?3, ?4, ?5, 'pending', 0, ?2) ON CONFLICT (fingerprint) DO NOTHING",
                )?
                .execute(params![
                    received.fingerprint,
                    at,
                    received.uri,
                    received.header_block(),
                    &received.body[..],
                ])?;
            if inserted == 1 {
                return Ok(Put::Stored(db.last_insert_rowid() as u64));
            }
            let id: i64 = db
                .prepare_cached("SELECT id FROM deliveries WHERE fingerprint = ?1")?
                .query_row(params![received.fingerprint], |row| row.get(0))?;
            Ok(Put::Duplicate(id as u64))
        })
    }

    fn take(&self, worker: &str, visibility: Duration) -> StoreFuture<'_, Option<Taken>> {
        let worker = worker.to_owned();
        let last_sweep = Arc::clone(&self.last_sweep);
        self.run(move |db| {
            let now = now_ms();
            let swept = last_sweep.load(Ordering::Relaxed);
            if now.saturating_sub(swept as i64) >= ms(SWEEP_EVERY) {
                last_sweep.store(now as u64, Ordering::Relaxed);
                db.execute(
                    "DELETE FROM deliveries WHERE state = 'done' AND keep_until_ms <= ?1",
                    params![now],
                )?;
            }
            let token = token();
            db.prepare_cached(&format!(
                "UPDATE deliveries SET lease = ?1, worker = ?2, attempts = attempts + 1, due_at_ms = ?3 + ?4
                 WHERE id = (SELECT id FROM deliveries WHERE state = 'pending' AND due_at_ms <= ?3
                             ORDER BY due_at_ms, id LIMIT 1)
                 RETURNING id, attempts, {RECEIVED}"
            ))?
            .query_row(params![token, worker, now, ms(visibility)], |row| {
                Ok(Taken {
                    lease: Lease {
                        id: row.get::<_, i64>(0)? as u64,
                        token: token.clone(),
                    },
                    attempt: row.get(1)?,
                    received: received(row, 2)?,
                })
            })
            .optional()
        })
    }

    fn complete(&self, lease: &Lease, retention: Duration) -> StoreFuture<'_, bool> {
        let keep = ms(retention);
        settle(
            self,
            lease,
            "state = 'done', done_at_ms = ?1, keep_until_ms = ?1 + ?2",
            move |now| vec![now.into(), keep.into()],
        )
    }

    fn retry_at(&self, lease: &Lease, error: &str, at: SystemTime) -> StoreFuture<'_, bool> {
        let (error, at) = (error.to_owned(), millis(at));
        settle(self, lease, "due_at_ms = ?2, last_error = ?3", move |now| {
            vec![now.into(), at.into(), error.into()]
        })
    }

    fn dead(&self, lease: &Lease, error: &str) -> StoreFuture<'_, bool> {
        let error = error.to_owned();
        settle(
            self,
            lease,
            "state = 'dead', done_at_ms = ?1, last_error = ?2",
            move |now| vec![now.into(), error.into()],
        )
    }

    fn hand_back(&self, lease: &Lease) -> StoreFuture<'_, bool> {
        settle(
            self,
            lease,
            "due_at_ms = ?1, attempts = max(attempts - 1, 0)",
            move |now| vec![now.into()],
        )
    }

    fn stats(&self) -> StoreFuture<'_, Stats> {
        self.run(|db| {
            let mut stats = Stats::default();
            let mut query = db.prepare_cached(
                "SELECT state, count(*), coalesce(sum(lease IS NOT NULL AND due_at_ms > ?1), 0)
                 FROM deliveries GROUP BY state",
            )?;
            let mut rows = query.query(params![now_ms()])?;
            while let Some(row) = rows.next()? {
                let (state, count, leased): (String, i64, i64) =
                    (row.get(0)?, row.get(1)?, row.get(2)?);
                let (count, leased) = (count as u64, leased as u64);
                match state.as_str() {
                    "pending" => {
                        stats.pending = count;
                        stats.in_flight = leased;
                    }
                    "done" => stats.done = count,
                    _ => stats.dead += count,
                }
            }
            stats.stored = stats.pending + stats.done + stats.dead;
            Ok(stats)
        })
    }

    fn list(&self, state: Option<State>, limit: usize) -> StoreFuture<'_, Vec<Stored>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.run(move |db| {
            let mut query = db.prepare_cached(&format!(
                "SELECT id, state, attempts, last_error, {RECEIVED} FROM deliveries
                 WHERE ?1 IS NULL OR state = ?1 ORDER BY id LIMIT ?2"
            ))?;
            query
                .query_map(params![state.map(State::as_str), limit], stored)?
                .collect()
        })
    }

    fn get(&self, id: u64) -> StoreFuture<'_, Option<Stored>> {
        self.run(move |db| {
            db.prepare_cached(&format!(
                "SELECT id, state, attempts, last_error, {RECEIVED} FROM deliveries WHERE id = ?1"
            ))?
            .query_row(params![id as i64], stored)
            .optional()
        })
    }

    fn retry(&self, id: u64) -> StoreFuture<'_, bool> {
        self.run(move |db| {
            Ok(db.execute(
                "UPDATE deliveries SET state = 'pending', attempts = 0, due_at_ms = ?1, lease = NULL
                 WHERE id = ?2 AND state = 'dead'",
                params![now_ms(), id as i64],
            )? == 1)
        })
    }

    fn retry_all_dead(&self) -> StoreFuture<'_, u64> {
        self.run(|db| {
            Ok(db.execute(
                "UPDATE deliveries SET state = 'pending', attempts = 0, due_at_ms = ?1, lease = NULL
                 WHERE state = 'dead'",
                params![now_ms()],
            )? as u64)
        })
    }

    fn purge(&self, what: Purge) -> StoreFuture<'_, u64> {
        let states = match what {
            Purge::Done => "('done')",
            Purge::DoneAndDead => "('done', 'dead')",
        };
        self.run(move |db| {
            Ok(db.execute(
                &format!("DELETE FROM deliveries WHERE state IN {states}"),
                [],
            )? as u64)
        })
    }
}
