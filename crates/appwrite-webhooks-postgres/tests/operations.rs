//! Running it: migrations that are explicit, idempotent and refuse a newer schema; a stopped
//! database that makes the route answer 503 and a restarted one that works again; and
//! administration in bounded batches while receivers keep storing.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use appwrite_webhooks::inbox::{
    Inbox, InboxAdmin, InboxStore, Purge, Put, Received, State, Workers,
};
use appwrite_webhooks::{Delivery, Error, Fingerprint, LeaseToken, ReplayStore};
use appwrite_webhooks_postgres::{ADMIN_BATCH, MIGRATIONS, PostgresLedger, SCHEMA_VERSION};
use common::{PostgresServer, ledger};
use testkit::inbox_suite::{accept, stored, until};

const MINUTE: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrations_are_explicit_idempotent_and_refuse_a_newer_schema() {
    let server = PostgresServer::start();
    let ledger = PostgresLedger::connect(&server.database("fresh"))
        .await
        .unwrap();
    // Nothing is created behind the caller's back.
    let missing = ledger.check_schema().await.unwrap_err().to_string();
    assert!(missing.contains("migrate()"), "{missing}");
    let (probe, owner) = (Fingerprint::new(&[1; 20]), LeaseToken::new());
    let claim = ledger.claim(&probe, &owner, MINUTE);
    assert!(claim.await.is_err(), "nothing created on the fly");

    // Replicas starting together migrate at once; then again, and by hand: nothing changes.
    let other = PostgresLedger::connect_lazily(&server.url("fresh")).unwrap();
    let (a, b) = tokio::join!(ledger.migrate(), other.migrate());
    assert_eq!((a.unwrap(), b.unwrap()), (SCHEMA_VERSION, SCHEMA_VERSION));
    ledger.check_schema().await.unwrap();
    let id = stored(&Inbox::new(ledger.clone()), r#"{"$id":"kept"}"#).await;
    assert_eq!(ledger.migrate().await.unwrap(), SCHEMA_VERSION);
    // Every file again, in order, as a DBA re-running them would.
    for migration in MIGRATIONS {
        let by_hand = server.psql_file(
            "fresh",
            &common::migration_file().with_file_name(migration.name),
        );
        assert!(
            by_hand.status.success(),
            "{}: {}",
            migration.name,
            String::from_utf8_lossy(&by_hand.stderr)
        );
    }
    assert!(
        ledger.get(id).await.unwrap().is_some(),
        "migrations keep the data"
    );
    assert_eq!(
        server
            .psql(
                "fresh",
                "SELECT count(*) FROM appwrite_webhooks.schema_versions"
            )
            .stdout,
        format!("{SCHEMA_VERSION}\n").as_bytes()
    );

    // A database at version 2 (migrated by hand up to 002, holding a delivery) is brought to
    // the crate's version by migrate(), its data kept.
    let url = server.database("older");
    for migration in &MIGRATIONS[..2] {
        let file = common::migration_file().with_file_name(migration.name);
        assert!(server.psql_file("older", &file).status.success());
    }
    let older = PostgresLedger::connect(&url).await.unwrap();
    // Stored as a crate of that version would: with the schema's put() of 001.
    let delivery = Received {
        fingerprint: b"stored-at-version-2".to_vec(),
        received_at: std::time::SystemTime::now(),
        uri: "/hook".into(),
        headers: http::HeaderMap::new(),
        body: br#"{"$id":"old"}"#.to_vec().into(),
    };
    let Put::Stored(kept) = InboxStore::put(&older, delivery).await.unwrap() else {
        panic!("stored");
    };
    assert!(
        older
            .check_schema()
            .await
            .unwrap_err()
            .to_string()
            .contains("older")
    );
    assert_eq!(older.migrate().await.unwrap(), SCHEMA_VERSION);
    older.check_schema().await.unwrap();
    let row = older.get(kept).await.unwrap().unwrap();
    assert_eq!(row.state, State::Pending);
    assert_eq!(older.stats().await.unwrap().pending, 1);

    // A database a newer version of the crate migrated is refused, not misread.
    let newer = server.psql(
        "fresh",
        "INSERT INTO appwrite_webhooks.schema_versions (version) VALUES (99)",
    );
    assert!(newer.status.success());
    for refused in [
        ledger.migrate().await.unwrap_err().to_string(),
        ledger.check_schema().await.unwrap_err().to_string(),
    ] {
        assert!(refused.contains("newer"), "{refused}");
    }

    // The embedded migrations are the files, in order, the last one the crate's version.
    let mut files: Vec<String> =
        std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations"))
            .unwrap()
            .map(|entry| entry.unwrap().file_name().into_string().unwrap())
            .collect();
    files.sort();
    let embedded: Vec<&str> = MIGRATIONS.iter().map(|m| m.name).collect();
    assert_eq!(files, embedded);
    assert_eq!(MIGRATIONS.last().unwrap().version, SCHEMA_VERSION);
    for (n, migration) in MIGRATIONS.iter().enumerate() {
        assert_eq!(migration.version as usize, n + 1);
        let file = std::fs::read_to_string(common::migration_file().with_file_name(migration.name))
            .unwrap();
        assert_eq!(file, migration.sql);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_database_is_a_503_and_a_restarted_one_works_again() {
    let server = PostgresServer::start();
    let ledger = ledger(&server, "outage").await;
    let inbox = Inbox::new(ledger.clone());
    let first = stored(&inbox, r#"{"$id":"before"}"#).await;
    // Workers on another replica that poll once an hour: only their listener can wake them,
    // so they handle what arrives after the outage only if it listens again on its own.
    let handled = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&handled);
    let workers = Workers::new(
        Inbox::new(common::replica(&server, "outage")),
        testkit::inbox_suite::verifier(),
        move |_: Delivery| {
            let counter = Arc::clone(&counter);
            async move {
                counter.fetch_add(1, Ordering::SeqCst);
                Ok::<_, std::io::Error>(())
            }
        },
    )
    .with_poll_interval(Duration::from_secs(3600))
    .start();
    until("the first delivery handled", async || {
        handled.load(Ordering::SeqCst) == 1
    })
    .await;

    server.stop();
    let error = accept(&inbox, r#"{"$id":"during"}"#).await.unwrap_err();
    assert!(matches!(error, Error::InboxStore(_)), "{error:?}");
    assert_eq!(error.status(), 503);
    assert!(
        ledger
            .claim(&Fingerprint::new(&[2; 20]), &LeaseToken::new(), MINUTE)
            .await
            .is_err()
    );
    assert!(ledger.take("w", MINUTE).await.is_err());
    assert!(ledger.stats().await.is_err());

    // Back: broken connections are replaced, and nothing acknowledged was lost.
    server.resume();
    until("stores again", async || {
        accept(&inbox, r#"{"$id":"after"}"#).await.is_ok()
    })
    .await;
    let listed = ledger.list(None, 10).await.unwrap();
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0].id, first);
    until("the delivery after the outage handled", async || {
        handled.load(Ordering::SeqCst) == 2
    })
    .await;
    workers.shutdown(MINUTE).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn administration_works_in_batches_while_receivers_store() {
    let server = PostgresServer::start();
    let ledger = ledger(&server, "admin").await;
    let inbox = Inbox::new(ledger.clone());
    // More than two batches of each, written directly: 1,234 done and 1,100 dead.
    let rows = server.psql(
        "admin",
        "INSERT INTO appwrite_webhooks.deliveries
             (fingerprint, received_at_ms, uri, headers, body, state, attempts, due_at_ms,
              done_at_ms, keep_until_ms, last_error)
         SELECT decode(md5(kind || i), 'hex'), 0, '/hook', '\\x'::bytea, '\\x7b7d'::bytea,
                kind, 3, 0, 0, 9223372036854775807,
                CASE kind WHEN 'dead' THEN 'boom' END
         FROM generate_series(1, 1234) i, (VALUES ('done'), ('dead')) kinds (kind)
         WHERE kind = 'done' OR i <= 1100",
    );
    assert!(
        rows.status.success(),
        "{}",
        String::from_utf8_lossy(&rows.stderr)
    );
    let pending = stored(&inbox, r#"{"$id":"pending"}"#).await;
    let stats = ledger.stats().await.unwrap();
    assert_eq!((stats.done, stats.dead, stats.pending), (1234, 1100, 1));
    const { assert!(1100 > 2 * ADMIN_BATCH) };

    // Receivers store while the purge runs.
    let receiving = {
        let inbox = inbox.clone();
        tokio::spawn(async move {
            for i in 0..20 {
                stored(&inbox, &format!(r#"{{"$id":"during{i}"}}"#)).await;
            }
        })
    };
    assert_eq!(ledger.purge(Purge::Done).await.unwrap(), 1234);
    receiving.await.unwrap();
    assert_eq!(ledger.requeue_dead().await.unwrap(), 1100);
    let stats = ledger.stats().await.unwrap();
    assert_eq!(
        (stats.done, stats.dead, stats.pending),
        (0, 0, 1100 + 1 + 20)
    );
    let requeued = ledger.list(Some(State::Pending), 1).await.unwrap();
    assert_eq!(requeued[0].attempts, 0);
    assert!(ledger.get(pending).await.unwrap().is_some());

    // Pending deliveries are never purged.
    assert_eq!(ledger.purge(Purge::DoneAndDead).await.unwrap(), 0);
    assert_eq!(ledger.stats().await.unwrap().pending, 1121);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_rows_are_swept_and_expired_claims_can_be_claimed_again() {
    let server = PostgresServer::start();
    let ledger = ledger(&server, "sweep").await;
    let fingerprint = Fingerprint::new(&[9; 20]);
    let (first, second) = (LeaseToken::new(), LeaseToken::new());
    let short = Duration::from_millis(50);
    assert_eq!(
        ledger.claim(&fingerprint, &first, short).await.unwrap(),
        appwrite_webhooks::ClaimOutcome::Claimed
    );
    tokio::time::sleep(Duration::from_millis(100)).await;
    // The first lease ran out: the delivery is claimable again, and the stale owner cannot
    // release the new claim.
    assert_eq!(
        ledger.claim(&fingerprint, &second, MINUTE).await.unwrap(),
        appwrite_webhooks::ClaimOutcome::Claimed
    );
    assert!(!ledger.release(&fingerprint, &first).await.unwrap());
    assert!(
        ReplayStore::complete(&ledger, &fingerprint, &second, short)
            .await
            .unwrap()
    );

    // A delivery whose fingerprint is held only by rows past their time is stored anew, before
    // any sweep: a claim whose lease ran out, then a done delivery past its retention.
    let delivery = |fingerprint: &Fingerprint| Received {
        fingerprint: fingerprint.as_bytes().to_vec(),
        received_at: std::time::SystemTime::now(),
        uri: "/hook".into(),
        headers: http::HeaderMap::new(),
        body: b"{}".to_vec().into(),
    };
    let (lapsed, retained) = (Fingerprint::new(&[10; 20]), Fingerprint::new(&[11; 20]));
    let owner = LeaseToken::new();
    let claimed = ledger.claim(&lapsed, &owner, short).await.unwrap();
    assert_eq!(claimed, appwrite_webhooks::ClaimOutcome::Claimed);
    let Put::Stored(first_id) = InboxStore::put(&ledger, delivery(&retained)).await.unwrap() else {
        panic!("stored");
    };
    let taken = ledger.take("w", MINUTE).await.unwrap().expect("due");
    assert!(
        InboxStore::complete(&ledger, &taken.lease, short)
            .await
            .unwrap()
    );
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(matches!(
        InboxStore::put(&ledger, delivery(&lapsed)).await.unwrap(),
        Put::Stored(_)
    ));
    match InboxStore::put(&ledger, delivery(&retained)).await.unwrap() {
        Put::Stored(id) => assert_ne!(id, first_id, "a new row"),
        other => panic!("{other:?}"),
    }
    for stored in [lapsed, retained] {
        let taken = ledger.take("w", MINUTE).await.unwrap().expect("due");
        assert_eq!(taken.received.fingerprint, stored.as_bytes());
        assert!(
            InboxStore::complete(&ledger, &taken.lease, short)
                .await
                .unwrap()
        );
    }

    // Done rows past their retention are deleted by a sweep (the first operation runs one).
    let fresh = PostgresLedger::connect_lazily(&server.url("sweep")).unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(fresh.take("w", MINUTE).await.unwrap().is_none());
    until("the expired row swept", async || {
        server
            .psql("sweep", "SELECT count(*) FROM appwrite_webhooks.deliveries")
            .stdout
            == b"0\n"
    })
    .await;
}
