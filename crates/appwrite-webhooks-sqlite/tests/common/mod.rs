//! What the SQLite tests share: a fresh file per test, deliveries made to measure, and a way
//! to look into the file from outside, as an operator's `sqlite3` would.

// Each test binary uses a part of this.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use appwrite_webhooks::inbox::{InboxStore, Put, Received, Taken};
use http::HeaderMap;

/// A path in an empty temporary directory of its own, named for `name` and this process.
pub fn path(name: &str) -> PathBuf {
    testkit::scratch::dir(&format!("sqlite-{name}")).join("ledger.db")
}

/// A delivery as an inbox stores it, `size` bytes of body, told apart by `n`. Not signed: for
/// what the store does, not for workers (which verify).
pub fn received(n: u64, size: usize) -> Received {
    let mut fingerprint = b"test-delivery-".to_vec();
    fingerprint.extend_from_slice(&n.to_be_bytes());
    Received {
        fingerprint,
        received_at: SystemTime::now(),
        uri: format!("/hook?n={n}"),
        headers: HeaderMap::new(),
        body: vec![b'x'; size].into(),
    }
}

/// Stores `received`, which must be new, and returns its id.
pub async fn put_new(store: &dyn InboxStore, received: Received) -> u64 {
    match store.put(received).await {
        Ok(Put::Stored(id)) => id,
        other => panic!("{other:?}"),
    }
}

/// Takes a delivery that must be due.
pub async fn take(store: &dyn InboxStore, worker: &str) -> Taken {
    store
        .take(worker, Duration::from_secs(60))
        .await
        .unwrap()
        .expect("a due delivery")
}

/// One value read with a connection of its own (WAL lets it read beside the ledger's writer).
pub fn query(file: &Path, sql: &str) -> i64 {
    let db = rusqlite::Connection::open(file).unwrap();
    db.busy_timeout(Duration::from_secs(5)).unwrap();
    db.query_row(sql, [], |row| row.get(0)).unwrap()
}

/// Polls `ready` every 10 ms, 1000 times at most (a bound, not an assertion about time).
pub async fn eventually(what: &str, mut ready: impl AsyncFnMut() -> bool) {
    for _ in 0..1000 {
        if ready().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("never happened: {what}");
}
