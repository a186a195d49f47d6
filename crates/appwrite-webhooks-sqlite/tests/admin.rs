//! Administration over many rows never holds receivers back: a purge or a retry of every dead
//! letter works in bounded transactions, and deliveries are stored between them.

mod common;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use appwrite_webhooks::inbox::{InboxAdmin, Purge, State};
use appwrite_webhooks_sqlite::{ADMIN_BATCH, SqliteLedger};
use common::{path, put_new, query, received};

/// Writes `count` rows in `state` straight into the file (as a busy ledger would hold after a
/// week), in one transaction of the test's own.
fn seed(file: &Path, state: &str, count: u64) {
    let mut db = rusqlite::Connection::open(file).unwrap();
    let tx = db.transaction().unwrap();
    {
        let mut insert = tx
            .prepare(
                "INSERT INTO deliveries (fingerprint, received_at_ms, uri, headers, body, state,
                                         attempts, due_at_ms, done_at_ms, keep_until_ms, last_error)
                 VALUES (?1, 0, '/hook', X'', X'7B7D', ?2, 1, 0, 0, 9000000000000000, 'seeded')",
            )
            .unwrap();
        for n in 0..count {
            let fingerprint = format!("seeded-{state}-{n}");
            insert
                .execute(rusqlite::params![fingerprint.as_bytes(), state])
                .unwrap();
        }
    }
    tx.commit().unwrap();
}

/// What the receiving side saw while an operation ran: puts answered while it was still
/// running, and whether one of them was answered with the rows part-way done.
#[derive(Default)]
struct Observed {
    puts: AtomicU64,
    puts_during: AtomicU64,
    part_way: AtomicBool,
}

/// Four streams of puts, each put checked against the operation's progress (`remaining` rows
/// still to do, read from outside), until `finished`.
async fn puts_beside(
    ledger: &SqliteLedger,
    file: &Path,
    remaining_sql: &'static str,
    total: i64,
    finished: impl Fn() -> bool + Send + Sync + 'static,
) -> Arc<Observed> {
    let observed = Arc::new(Observed::default());
    let finished = Arc::new(finished);
    let mut streams = Vec::new();
    for stream in 0..4u64 {
        let (ledger, file) = (ledger.clone(), file.to_owned());
        let (observed, finished) = (Arc::clone(&observed), Arc::clone(&finished));
        streams.push(tokio::spawn(async move {
            for n in 0..100_000u64 {
                if finished() {
                    return;
                }
                put_new(&ledger, received(1_000_000 * (stream + 1) + n, 500)).await;
                observed.puts.fetch_add(1, Ordering::SeqCst);
                if !finished() {
                    observed.puts_during.fetch_add(1, Ordering::SeqCst);
                    let remaining = query(&file, remaining_sql);
                    if 0 < remaining && remaining < total {
                        observed.part_way.store(true, Ordering::SeqCst);
                    }
                }
            }
        }));
    }
    for stream in streams {
        stream.await.unwrap();
    }
    observed
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_purge_runs_in_batches_while_deliveries_keep_being_stored() {
    let file = path("purge-batches");
    let ledger = SqliteLedger::open(&file).unwrap();
    let pending = put_new(&ledger, received(1, 100)).await;
    seed(&file, "done", 20_000);
    seed(&file, "dead", 700);
    assert_eq!(ledger.stats().await.unwrap().done, 20_000);

    let purge = {
        let ledger = ledger.clone();
        tokio::spawn(async move { ledger.purge(Purge::Done).await })
    };
    let watching = purge.abort_handle();
    let observed = puts_beside(
        &ledger,
        &file,
        "SELECT count(*) FROM deliveries WHERE state = 'done'",
        20_000,
        move || watching.is_finished(),
    )
    .await;
    assert_eq!(purge.await.unwrap().unwrap(), 20_000, "every done row");

    let during = observed.puts_during.load(Ordering::SeqCst);
    assert!(during > 0, "no delivery was stored while the purge ran");
    assert!(
        observed.part_way.load(Ordering::SeqCst),
        "no delivery was stored between two of the purge's batches ({during} during it)"
    );
    // Only done rows went: the dead letters, the pending delivery and every put are there.
    let stats = ledger.stats().await.unwrap();
    assert_eq!((stats.done, stats.dead), (0, 700));
    let puts = observed.puts.load(Ordering::SeqCst);
    assert_eq!(stats.pending, 1 + puts, "{stats:?}");
    assert_eq!(
        ledger.get(pending).await.unwrap().unwrap().state,
        State::Pending
    );
    assert_eq!(ledger.purge(Purge::DoneAndDead).await.unwrap(), 700);
    assert_eq!(ledger.stats().await.unwrap().pending, 1 + puts);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retrying_every_dead_letter_runs_in_batches_while_deliveries_keep_being_stored() {
    let file = path("retry-batches");
    let ledger = SqliteLedger::open(&file).unwrap();
    let dead = 10 * ADMIN_BATCH as u64 + 7;
    seed(&file, "dead", dead);
    seed(&file, "done", 50);

    let retry = {
        let ledger = ledger.clone();
        tokio::spawn(async move { ledger.requeue_dead().await })
    };
    let watching = retry.abort_handle();
    let observed = puts_beside(
        &ledger,
        &file,
        "SELECT count(*) FROM deliveries WHERE state = 'dead'",
        i64::try_from(dead).unwrap(),
        move || watching.is_finished(),
    )
    .await;
    assert_eq!(retry.await.unwrap().unwrap(), dead);
    assert!(observed.puts_during.load(Ordering::SeqCst) > 0);
    assert!(observed.part_way.load(Ordering::SeqCst));

    let stats = ledger.stats().await.unwrap();
    assert_eq!((stats.dead, stats.done), (0, 50));
    // Each made pending once, attempts reset.
    assert_eq!(
        query(
            &file,
            "SELECT count(*) FROM deliveries WHERE last_error = 'seeded' AND state = 'pending' AND attempts = 0"
        ),
        i64::try_from(dead).unwrap()
    );
    assert_eq!(ledger.requeue_dead().await.unwrap(), 0);
}

#[tokio::test]
async fn a_purge_leaves_what_arrives_after_it_started_and_never_pending_rows() {
    let file = path("purge-bounds");
    let ledger = SqliteLedger::open(&file).unwrap();
    seed(&file, "done", 3);
    seed(&file, "pending", 2);
    assert_eq!(ledger.purge(Purge::DoneAndDead).await.unwrap(), 3);
    assert_eq!(ledger.stats().await.unwrap().pending, 2);
    assert_eq!(ledger.purge(Purge::Done).await.unwrap(), 0);
    // An empty ledger purges nothing, at once.
    let empty = SqliteLedger::open(path("purge-empty")).unwrap();
    assert_eq!(empty.purge(Purge::DoneAndDead).await.unwrap(), 0);
    assert_eq!(empty.requeue_dead().await.unwrap(), 0);
}
