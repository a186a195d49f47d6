//! An inbox file written before the ledger (schema version 1) opens, is upgraded once, and
//! keeps every delivery, id and state.

mod common;

use std::path::Path;
use std::time::Duration;

use appwrite_webhooks::inbox::{InboxAdmin, InboxStore, Put, Received, State};
use appwrite_webhooks::sender::DeliveryBuilder;
use appwrite_webhooks::{ClaimOutcome, Fingerprint, LeaseToken, ReplayStore, Verifier};
use appwrite_webhooks_sqlite::SqliteLedger;
use common::{path, query, take};

/// The schema as appwrite-webhooks-sqlite 0.1 created it.
const V1: &str = "
CREATE TABLE IF NOT EXISTS deliveries (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    fingerprint    BLOB    NOT NULL UNIQUE,
    received_at_ms INTEGER NOT NULL,
    uri            TEXT    NOT NULL,
    headers        BLOB    NOT NULL,
    body           BLOB    NOT NULL,
    state          TEXT    NOT NULL CHECK (state IN ('pending', 'done', 'dead')),
    attempts       INTEGER NOT NULL DEFAULT 0,
    due_at_ms      INTEGER NOT NULL,
    lease          TEXT,
    worker         TEXT,
    last_error     TEXT,
    done_at_ms     INTEGER,
    keep_until_ms  INTEGER
);
CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries (state, due_at_ms, id);
";

const URL: &str = "https://example.com/hook";

fn signed(n: u32) -> Received {
    let sent = DeliveryBuilder::new("k", URL, format!(r#"{{"$id":"u{n}"}}"#)).build();
    let delivery = Verifier::new("k", URL)
        .verify(sent.headers(), sent.body())
        .unwrap()
        .into_owned();
    Received::new(&"/hook".parse().unwrap(), sent.headers(), &delivery)
}

/// A version-1 file holding a pending, a dead and a done delivery (ids 1, 2, 5) whose id
/// sequence reached 9 (ids 3, 4, 6–9 were purged).
fn v1_file(file: &Path) -> Vec<Received> {
    let db = rusqlite::Connection::open(file).unwrap();
    db.execute_batch("PRAGMA journal_mode = WAL;").unwrap();
    db.execute_batch(V1).unwrap();
    let rows = [(1, "pending", 0), (2, "dead", 3), (5, "done", 1)];
    let mut kept = Vec::new();
    for (id, state, attempts) in rows {
        let received = signed(id);
        db.execute(
            "INSERT INTO deliveries (id, fingerprint, received_at_ms, uri, headers, body, state,
                                     attempts, due_at_ms, last_error, keep_until_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 0, ?9, 9000000000000000)",
            rusqlite::params![
                id,
                received.fingerprint,
                received.received_at_millis() as i64,
                received.uri,
                received.header_block(),
                &received.body[..],
                state,
                attempts,
                (state == "dead").then_some("database is down"),
            ],
        )
        .unwrap();
        kept.push(received);
    }
    db.execute(
        "UPDATE sqlite_sequence SET seq = 9 WHERE name = 'deliveries'",
        [],
    )
    .unwrap();
    kept
}

#[tokio::test]
async fn an_inbox_file_of_the_first_schema_is_upgraded_in_place() {
    let file = path("v1");
    let kept = v1_file(&file);
    assert_eq!(query(&file, "PRAGMA user_version"), 0);

    let ledger = SqliteLedger::builder(&file).existing().open().unwrap();
    assert_eq!(query(&file, "PRAGMA user_version"), 3);
    let stats = ledger.stats().await.unwrap();
    assert_eq!((stats.pending, stats.dead, stats.done), (1, 1, 1));
    let verifier = Verifier::new("k", URL);
    for (id, state) in [(1, State::Pending), (2, State::Dead), (5, State::Done)] {
        let row = ledger.get(id).await.unwrap().unwrap();
        assert_eq!(row.state, state);
        verifier.verify_stored(&row.received).await.unwrap();
    }
    assert_eq!(
        ledger.get(2).await.unwrap().unwrap().last_error.as_deref(),
        Some("database is down")
    );
    // Re-sends of what it held are still recognised; a new delivery gets a never-used id.
    assert_eq!(
        ledger.put(kept[2].clone()).await.unwrap(),
        Put::Duplicate(5)
    );
    let Put::Stored(new) = ledger.put(signed(10)).await.unwrap() else {
        panic!("a new delivery")
    };
    assert!(new > 9, "id {new} was used before the upgrade");
    // Workers carry on, and the guard's claims live beside the deliveries now.
    let taken = take(&ledger, "w").await;
    assert_eq!(taken.lease.id, 1);
    assert!(
        InboxStore::complete(&ledger, &taken.lease, Duration::from_secs(60))
            .await
            .unwrap()
    );
    let owner = LeaseToken::new();
    let claimed = ledger
        .claim(&Fingerprint::new(&[1; 20]), &owner, Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(claimed, ClaimOutcome::Claimed);
    drop(ledger);

    // Opening again changes nothing (the upgrade ran once); so does opening twice at once.
    let before = query(&file, "SELECT count(*) FROM deliveries");
    let (a, b) = (
        SqliteLedger::open(&file).unwrap(),
        SqliteLedger::open(&file).unwrap(),
    );
    assert_eq!(query(&file, "SELECT count(*) FROM deliveries"), before);
    assert_eq!(a.stats().await.unwrap(), b.stats().await.unwrap());
    assert_eq!(
        query(
            &file,
            "SELECT count(*) FROM sqlite_master WHERE name = 'deliveries_v2'"
        ),
        0
    );
}

#[tokio::test]
async fn a_file_from_a_newer_version_is_refused_not_misread() {
    let file = path("v99");
    drop(SqliteLedger::open(&file).unwrap());
    rusqlite::Connection::open(&file)
        .unwrap()
        .execute_batch("PRAGMA user_version = 99")
        .unwrap();
    let error = SqliteLedger::open(&file).unwrap_err();
    assert!(error.to_string().contains("newer"), "{error}");
}
