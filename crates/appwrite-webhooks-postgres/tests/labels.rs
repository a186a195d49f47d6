//! How the Postgres ledger counts a body's labels (schema version 5): from the rows of its
//! deliveries and claims, found by the body key their identities begin with, plus the `labels`
//! table for what those rows cannot say (a label recorded alone, a database written before, a
//! row deleted early). The same cases as the SQLite ledger's `tests/labels.rs`, on one cluster,
//! a database each.

mod common;

use std::time::{Duration, SystemTime};

use appwrite_webhooks::inbox::{InboxAdmin, InboxStore, Purge, Put, Received};
use appwrite_webhooks::{ClaimOutcome, Fingerprint, LabelStore, LeaseToken, ReplayStore};
use appwrite_webhooks_postgres::{MIGRATIONS, PostgresLedger};
use common::{PostgresServer, ledger};
use http::HeaderMap;

const LIMIT: u32 = appwrite_webhooks::MAX_LABELS_PER_BODY;
const WEEK: Duration = Duration::from_secs(7 * 24 * 3600);
const MINUTE: Duration = Duration::from_secs(60);

/// A body key, as Appwrite's scheme makes one (32 bytes).
fn body(n: u8) -> Fingerprint {
    Fingerprint::new(&[n; 32])
}

/// Label `n` of `body`: an identity that begins with the body key, as Appwrite's do.
fn label(body: &Fingerprint, n: u8) -> Fingerprint {
    let mut bytes = [n; 32];
    bytes[..Fingerprint::BODY_KEY_PREFIX]
        .copy_from_slice(&body.as_bytes()[..Fingerprint::BODY_KEY_PREFIX]);
    Fingerprint::new(&bytes)
}

fn delivery(label: &Fingerprint) -> Received {
    Received {
        fingerprint: label.as_bytes().to_vec(),
        received_at: SystemTime::now(),
        uri: "/hook".into(),
        headers: HeaderMap::new(),
        body: vec![b'x'; 64].into(),
    }
}

async fn put(ledger: &PostgresLedger, body: &Fingerprint, label: &Fingerprint) -> Put {
    ledger
        .label_and_put(body, label, (LIMIT, WEEK), delivery(label))
        .await
        .unwrap()
}

async fn claim(
    ledger: &PostgresLedger,
    body: &Fingerprint,
    label: &Fingerprint,
    owner: &LeaseToken,
) -> Option<ClaimOutcome> {
    ledger
        .label_and_claim(body, label, owner, (LIMIT, WEEK), MINUTE)
        .await
        .unwrap()
}

/// One number that `sql` selects in `database`.
fn count(server: &PostgresServer, database: &str, sql: &str) -> i64 {
    let output = server.psql(database, sql);
    assert!(
        output.status.success(),
        "{sql}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout)
        .trim()
        .parse()
        .unwrap()
}

const LABELS: &str = "SELECT count(*) FROM appwrite_webhooks.labels";

async fn deliveries_are_their_bodys_labels_with_nothing_written_beside_them(
    server: &PostgresServer,
) {
    let ledger = ledger(server, "rows").await;
    let b = body(1);
    for n in 0..LIMIT as u8 {
        assert!(matches!(
            put(&ledger, &b, &label(&b, n)).await,
            Put::Stored(_)
        ));
    }
    assert_eq!(put(&ledger, &b, &label(&b, 200)).await, Put::OverLabelLimit);
    // A copy of a label it has is a duplicate, not over the limit.
    assert!(matches!(
        put(&ledger, &b, &label(&b, 3)).await,
        Put::Duplicate(_)
    ));
    // The guard's claims count in the same rows.
    let owner = LeaseToken::new();
    assert_eq!(claim(&ledger, &b, &label(&b, 201), &owner).await, None);
    // Another body is not affected, and nothing went to the labels table.
    let other = body(2);
    assert!(matches!(
        put(&ledger, &other, &label(&other, 0)).await,
        Put::Stored(_)
    ));
    assert_eq!(count(server, "rows", LABELS), 0);
}

async fn a_released_claim_still_counts_until_its_label_expires(server: &PostgresServer) {
    let ledger = ledger(server, "released").await;
    let b = body(3);
    // Each label's handler failed: its claim is released, its row deleted.
    for n in 0..LIMIT as u8 {
        let owner = LeaseToken::new();
        let outcome = claim(&ledger, &b, &label(&b, n), &owner).await;
        assert_eq!(outcome, Some(ClaimOutcome::Claimed), "label {n}");
        assert!(ledger.release(&label(&b, n), &owner).await.unwrap());
    }
    assert_eq!(count(server, "released", LABELS), i64::from(LIMIT));
    let owner = LeaseToken::new();
    assert_eq!(claim(&ledger, &b, &label(&b, 99), &owner).await, None);
    assert_eq!(put(&ledger, &b, &label(&b, 99)).await, Put::OverLabelLimit);
    // A label it already had may be claimed again: the failed delivery is retried.
    let again = claim(&ledger, &b, &label(&b, 0), &owner).await;
    assert_eq!(again, Some(ClaimOutcome::Claimed));
}

async fn a_purged_delivery_still_counts_until_its_label_expires(server: &PostgresServer) {
    let ledger = ledger(server, "purged").await;
    let b = body(4);
    for n in 0..LIMIT as u8 {
        assert!(matches!(
            put(&ledger, &b, &label(&b, n)).await,
            Put::Stored(_)
        ));
        let taken = ledger.take("w", MINUTE).await.unwrap().expect("due");
        assert!(
            InboxStore::complete(&ledger, &taken.lease, WEEK)
                .await
                .unwrap()
        );
    }
    assert_eq!(ledger.purge(Purge::Done).await.unwrap(), u64::from(LIMIT));
    let rows = "SELECT count(*) FROM appwrite_webhooks.deliveries";
    assert_eq!(count(server, "purged", rows), 0);
    assert_eq!(put(&ledger, &b, &label(&b, 77)).await, Put::OverLabelLimit);
}

async fn a_label_whose_time_is_up_is_not_kept_for_a_deleted_row(server: &PostgresServer) {
    let ledger = ledger(server, "expired").await;
    let b = body(5);
    // Kept for no time at all: a released claim leaves nothing behind.
    let owner = LeaseToken::new();
    let admitted = ledger
        .label_and_claim(&b, &label(&b, 0), &owner, (LIMIT, Duration::ZERO), MINUTE)
        .await
        .unwrap();
    assert_eq!(admitted, Some(ClaimOutcome::Claimed));
    assert!(ledger.release(&label(&b, 0), &owner).await.unwrap());
    assert_eq!(count(server, "expired", LABELS), 0);
}

/// Labels recorded alone, or by a version of this crate that kept every label in the `labels`
/// table (keyed by the whole body key), count with the rows.
async fn labels_kept_in_the_table_count_with_the_rows(server: &PostgresServer) {
    let ledger = ledger(server, "table").await;
    let b = body(6);
    for n in 0..LIMIT as u8 / 2 {
        assert!(ledger.label(&b, &label(&b, n), LIMIT, WEEK).await.unwrap());
    }
    let mut stored = 0;
    for n in 100..100 + LIMIT as u8 {
        if let Put::Stored(_) = put(&ledger, &b, &label(&b, n)).await {
            stored += 1;
        }
    }
    assert_eq!(stored, LIMIT / 2);
    // A label from the table is the body's own: its delivery is stored.
    assert!(matches!(
        put(&ledger, &b, &label(&b, 0)).await,
        Put::Stored(_)
    ));
}

/// An identity that does not begin with its body key (a store fed by hand, another scheme) is
/// labelled in the table, as before.
async fn an_identity_without_its_body_key_is_labelled_in_the_table(server: &PostgresServer) {
    let ledger = ledger(server, "other").await;
    let b = body(7);
    for n in 0..LIMIT as u8 {
        let unrelated = Fingerprint::new(&[n + 100; 32]);
        assert!(matches!(put(&ledger, &b, &unrelated).await, Put::Stored(_)));
    }
    let unrelated = Fingerprint::new(&[250; 32]);
    assert_eq!(put(&ledger, &b, &unrelated).await, Put::OverLabelLimit);
    assert_eq!(count(server, "other", LABELS), i64::from(LIMIT));
}

/// The range that finds a body's labels holds at its ends: a body key of all ones, labels of
/// all ones and all zeros after it, next to a body one below.
async fn the_labels_of_a_body_key_at_the_end_of_the_range_are_all_found(server: &PostgresServer) {
    let ledger = ledger(server, "edges").await;
    let (last, below) = (body(0xff), body(0xfe));
    assert!(matches!(
        put(&ledger, &below, &label(&below, 0xff)).await,
        Put::Stored(_)
    ));
    for n in [0xff, 0x00].into_iter().chain(1..LIMIT as u8 - 1) {
        assert!(
            matches!(put(&ledger, &last, &label(&last, n)).await, Put::Stored(_)),
            "{n}"
        );
    }
    assert_eq!(
        put(&ledger, &last, &label(&last, 0xee)).await,
        Put::OverLabelLimit
    );
    assert!(matches!(
        put(&ledger, &last, &label(&last, 0xff)).await,
        Put::Duplicate(_)
    ));
    assert!(matches!(
        put(&ledger, &below, &label(&below, 0)).await,
        Put::Stored(_)
    ));
}

/// One database counts a body's labels once for both paths: a captured body claimed by the
/// guard under some labels and stored by the inbox under others is admitted `LIMIT` times.
async fn the_guard_and_the_inbox_count_one_bodys_labels_together(server: &PostgresServer) {
    let ledger = ledger(server, "both").await;
    let b = body(8);
    let (mut claimed, mut stored) = (0, 0);
    for n in 0..LIMIT as u8 + 4 {
        if n % 2 == 0 {
            let owner = LeaseToken::new();
            if let Some(ClaimOutcome::Claimed) = claim(&ledger, &b, &label(&b, n), &owner).await {
                claimed += 1;
                assert!(
                    ReplayStore::complete(&ledger, &label(&b, n), &owner, WEEK)
                        .await
                        .unwrap()
                );
            }
        } else if let Put::Stored(_) = put(&ledger, &b, &label(&b, n)).await {
            stored += 1;
        }
    }
    assert_eq!(claimed + stored, LIMIT);
}

/// A database at version 4 (every label a row of `labels`, keyed by the whole body key) is
/// brought up to date by `migrate()`, and the labels it kept still count.
async fn a_database_from_before_is_upgraded_and_its_labels_still_count(server: &PostgresServer) {
    let url = server.database("upgrade");
    for migration in &MIGRATIONS[..4] {
        let file = common::migration_file().with_file_name(migration.name);
        assert!(server.psql_file("upgrade", &file).status.success());
    }
    let b = body(9);
    let older = PostgresLedger::connect(&url).await.unwrap();
    for n in 0..LIMIT as u8 - 1 {
        assert!(older.label(&b, &label(&b, n), LIMIT, WEEK).await.unwrap());
    }
    assert_eq!(
        older.migrate().await.unwrap(),
        appwrite_webhooks_postgres::SCHEMA_VERSION
    );
    let ledger = PostgresLedger::connect(&url).await.unwrap();
    assert!(matches!(
        put(&ledger, &b, &label(&b, 100)).await,
        Put::Stored(_)
    ));
    assert_eq!(put(&ledger, &b, &label(&b, 101)).await, Put::OverLabelLimit);
}

/// Claims whose lease ran out (their process was killed) hold their labels after the sweep
/// deleted their rows.
async fn an_abandoned_claim_still_counts_after_it_is_swept(server: &PostgresServer) {
    let ledger = ledger(server, "abandoned").await;
    let b = body(10);
    for n in 0..LIMIT as u8 {
        let owner = LeaseToken::new();
        let outcome = ledger
            .label_and_claim(
                &b,
                &label(&b, n),
                &owner,
                (LIMIT, WEEK),
                Duration::from_millis(1),
            )
            .await
            .unwrap();
        assert_eq!(outcome, Some(ClaimOutcome::Claimed), "label {n}");
    }
    tokio::time::sleep(Duration::from_millis(20)).await;
    // The sweep's statement, as a replica runs it once a minute.
    let swept = server.psql(
        "abandoned",
        "DELETE FROM appwrite_webhooks.deliveries
         WHERE state = 'pending' AND body IS NULL
           AND due_at_ms <= appwrite_webhooks.now_ms()",
    );
    assert!(swept.status.success());
    let rows = "SELECT count(*) FROM appwrite_webhooks.deliveries";
    assert_eq!(count(server, "abandoned", rows), 0, "swept");
    let owner = LeaseToken::new();
    assert_eq!(claim(&ledger, &b, &label(&b, 99), &owner).await, None);
}

/// A label recorded alone (`LabelStore::label`) counts the labels the rows hold, and a label
/// that is not its delivery's fingerprint is kept in the table: the limit holds on both paths.
async fn labels_recorded_apart_from_their_rows_keep_the_limit(server: &PostgresServer) {
    let ledger = ledger(server, "apart").await;
    let b = body(13);
    for n in 0..LIMIT as u8 / 2 {
        assert!(matches!(
            put(&ledger, &b, &label(&b, n)).await,
            Put::Stored(_)
        ));
    }
    // The body's own label, held by a row, is admitted; so are new ones up to the limit.
    assert!(ledger.label(&b, &label(&b, 0), LIMIT, WEEK).await.unwrap());
    let mut admitted = 0;
    for n in 100..100 + LIMIT as u8 / 4 {
        if ledger.label(&b, &label(&b, n), LIMIT, WEEK).await.unwrap() {
            admitted += 1;
        }
    }
    assert_eq!(admitted, LIMIT / 4);
    // Deliveries whose fingerprint is not their label.
    let mut stored = 0;
    for n in 150..150 + LIMIT as u8 {
        let elsewhere = Fingerprint::new(&[n; 32]);
        let put = ledger
            .label_and_put(&b, &label(&b, n), (LIMIT, WEEK), delivery(&elsewhere))
            .await
            .unwrap();
        if let Put::Stored(_) = put {
            stored += 1;
        }
    }
    assert_eq!(stored, LIMIT - LIMIT / 2 - LIMIT / 4);
    assert!(
        !ledger
            .label(&b, &label(&b, 250), LIMIT, WEEK)
            .await
            .unwrap()
    );
    let owner = LeaseToken::new();
    assert_eq!(claim(&ledger, &b, &label(&b, 251), &owner).await, None);
}

/// During an upgrade a replica of schema version 4 runs its own statement — `label()`, then
/// `put()` — beside this version's: the body still gets no more than the limit.
async fn a_replica_of_the_previous_version_keeps_the_limit(server: &PostgresServer) {
    let ledger = ledger(server, "mixed").await;
    let b = body(14);
    let hex = |bytes: &[u8]| {
        let digits: String = bytes.iter().map(|byte| format!("{byte:02x}")).collect();
        format!("'\\x{digits}'::bytea")
    };
    let older = |n: u8| {
        let (body, label) = (hex(b.as_bytes()), hex(label(&b, n).as_bytes()));
        // The statement of appwrite-webhooks-postgres at schema version 4.
        let sql = format!(
            "SELECT CASE WHEN appwrite_webhooks.label({body}, {label}, {LIMIT}, 604800000) THEN (
                 SELECT p.outcome FROM appwrite_webhooks.put(
                     {label}, 0, '/hook', ''::bytea, '{{}}'::bytea) p
             ) END"
        );
        let output = server.psql("mixed", &sql);
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).trim() == "stored"
    };
    let mut stored = 0;
    for n in 0..LIMIT as u8 + 4 {
        let admitted = if n % 2 == 0 {
            older(n)
        } else {
            matches!(put(&ledger, &b, &label(&b, n)).await, Put::Stored(_))
        };
        if admitted {
            stored += 1;
        }
    }
    assert_eq!(stored, LIMIT);
}

/// Two replicas storing new labels of one body at once admit no more than the limit: the row
/// that holds a label is inserted under the body's lock. Eight bodies, so that a race has
/// many chances to show.
async fn racing_replicas_pass_no_more_labels_than_the_limit(server: &PostgresServer) {
    let first = ledger(server, "racing").await;
    let second = common::replica(server, "racing");
    for b in (12..20).map(body) {
        let mut puts = tokio::task::JoinSet::new();
        for n in 0..4 * LIMIT as u8 {
            let ledger = if n % 2 == 0 {
                first.clone()
            } else {
                second.clone()
            };
            puts.spawn(async move { put(&ledger, &b, &label(&b, n)).await });
        }
        let stored = puts
            .join_all()
            .await
            .into_iter()
            .filter(|put| matches!(put, Put::Stored(_)))
            .count();
        assert_eq!(stored, LIMIT as usize, "body {:?}", b.as_bytes()[0]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bodys_labels_are_counted_from_its_rows() {
    let server = PostgresServer::start();
    deliveries_are_their_bodys_labels_with_nothing_written_beside_them(&server).await;
    a_released_claim_still_counts_until_its_label_expires(&server).await;
    a_purged_delivery_still_counts_until_its_label_expires(&server).await;
    a_label_whose_time_is_up_is_not_kept_for_a_deleted_row(&server).await;
    labels_kept_in_the_table_count_with_the_rows(&server).await;
    an_identity_without_its_body_key_is_labelled_in_the_table(&server).await;
    the_labels_of_a_body_key_at_the_end_of_the_range_are_all_found(&server).await;
    the_guard_and_the_inbox_count_one_bodys_labels_together(&server).await;
    a_database_from_before_is_upgraded_and_its_labels_still_count(&server).await;
    an_abandoned_claim_still_counts_after_it_is_swept(&server).await;
    racing_replicas_pass_no_more_labels_than_the_limit(&server).await;
    labels_recorded_apart_from_their_rows_keep_the_limit(&server).await;
    a_replica_of_the_previous_version_keeps_the_limit(&server).await;
}
