//! How the SQLite ledger counts a body's labels: from the rows of its deliveries and claims,
//! found by the body key their identities begin with, plus the `labels` table for what those
//! rows cannot say (a label recorded alone, a file written before, a row deleted early). What
//! every ledger does is `testkit::label_suite`; here, what only this one shows: what it writes,
//! its sweep and its upgrade.

mod common;

use std::time::Duration;

use appwrite_webhooks::inbox::Put;
use appwrite_webhooks::{ClaimOutcome, Fingerprint, LabelStore, LeaseToken, ReplayStore};
use appwrite_webhooks_sqlite::SqliteLedger;
use common::{path, query};
use testkit::label_suite::{abandon_claims_of_every_label, body, claim, label, put};

const LIMIT: u32 = appwrite_webhooks::MAX_LABELS_PER_BODY;
const WEEK: Duration = Duration::from_secs(7 * 24 * 3600);
const MINUTE: Duration = Duration::from_secs(60);

#[tokio::test]
async fn a_bodys_labels_are_counted_once_for_every_path() {
    testkit::label_suite::a_bodys_labels_are_counted_once_for_every_path(async |name| {
        SqliteLedger::open(path(&format!("suite-{name}"))).unwrap()
    })
    .await;
}

/// The rows are the labels: nothing is written beside a labelled delivery or claim, and a
/// released claim's label is kept in the table (by the trigger) until its time is up.
#[tokio::test]
async fn deliveries_and_claims_hold_their_labels_with_nothing_written_beside_them() {
    let file = path("labels-rows");
    let ledger = SqliteLedger::open(&file).unwrap();
    let b = body(1);
    for n in 0..LIMIT as u8 - 1 {
        assert!(matches!(
            put(&ledger, &b, &label(&b, n)).await,
            Put::Stored(_)
        ));
    }
    let owner = LeaseToken::new();
    let last = label(&b, 200);
    assert_eq!(
        claim(&ledger, &b, &last, &owner).await,
        Some(ClaimOutcome::Claimed)
    );
    assert_eq!(query(&file, "SELECT count(*) FROM labels"), 0);
    assert!(ledger.release(&last, &owner).await.unwrap());
    assert_eq!(query(&file, "SELECT count(*) FROM labels"), 1);
}

#[tokio::test]
async fn a_label_whose_time_is_up_is_not_kept_for_a_deleted_row() {
    let file = path("labels-expired");
    let ledger = SqliteLedger::open(&file).unwrap();
    let b = body(5);
    // Kept for no time at all: a released claim leaves nothing behind.
    let owner = LeaseToken::new();
    let admitted = ledger
        .label_and_claim(&b, &label(&b, 0), &owner, (LIMIT, Duration::ZERO), MINUTE)
        .await
        .unwrap();
    assert_eq!(admitted, Some(ClaimOutcome::Claimed));
    assert!(ledger.release(&label(&b, 0), &owner).await.unwrap());
    assert_eq!(query(&file, "SELECT count(*) FROM labels"), 0);
}

/// An identity that does not begin with its body key (a store fed by hand, another scheme) is
/// labelled in the table.
#[tokio::test]
async fn an_identity_without_its_body_key_is_labelled_in_the_table() {
    let file = path("labels-other");
    let ledger = SqliteLedger::open(&file).unwrap();
    let b = body(7);
    for n in 0..4 {
        let unrelated = Fingerprint::new(&[n + 100; 32]);
        assert!(matches!(put(&ledger, &b, &unrelated).await, Put::Stored(_)));
    }
    assert_eq!(query(&file, "SELECT count(*) FROM labels"), 4);
}

/// A file from before labels were counted from rows (no `label_until_ms`, no trigger, every
/// label a row of `labels` keyed by the whole body key) is brought up to date when opened, and
/// the labels it kept still count.
#[tokio::test]
async fn a_file_from_before_is_upgraded_and_its_labels_still_count() {
    let file = path("labels-upgrade");
    let b = body(9);
    {
        let ledger = SqliteLedger::open(&file).unwrap();
        for n in 0..LIMIT as u8 - 1 {
            assert!(ledger.label(&b, &label(&b, n), LIMIT, WEEK).await.unwrap());
        }
    }
    let db = rusqlite::Connection::open(&file).unwrap();
    db.execute_batch(
        "DROP TRIGGER labels_outlive_deliveries;
         ALTER TABLE deliveries DROP COLUMN label_until_ms;",
    )
    .unwrap();
    drop(db);
    let ledger = SqliteLedger::open(&file).unwrap();
    let has = |sql: &str| query(&file, sql);
    assert_eq!(
        has("SELECT count(*) FROM pragma_table_info('deliveries') WHERE name = 'label_until_ms'"),
        1
    );
    assert_eq!(
        has("SELECT count(*) FROM sqlite_master WHERE name = 'labels_outlive_deliveries'"),
        1
    );
    assert!(matches!(
        put(&ledger, &b, &label(&b, 100)).await,
        Put::Stored(_)
    ));
    assert_eq!(put(&ledger, &b, &label(&b, 101)).await, Put::OverLabelLimit);
}

/// A claim whose process was killed holds its label after its lease ran out and the row was
/// swept (a ledger opened afresh sweeps on its first claim).
#[tokio::test]
async fn an_abandoned_claim_still_counts_after_it_is_swept() {
    let file = path("labels-abandoned");
    let b = body(10);
    {
        let ledger = SqliteLedger::open(&file).unwrap();
        abandon_claims_of_every_label(&ledger, &b).await;
    }
    tokio::time::sleep(Duration::from_millis(20)).await;
    let ledger = SqliteLedger::open(&file).unwrap();
    let owner = LeaseToken::new();
    let other = body(11);
    assert!(
        claim(&ledger, &other, &label(&other, 0), &owner)
            .await
            .is_some()
    );
    // Every claim of body 10 (identities beginning 0x0a) is gone: only the labels table holds
    // its labels now.
    assert_eq!(
        query(
            &file,
            "SELECT count(*) FROM deliveries WHERE substr(fingerprint, 1, 1) = x'0a'"
        ),
        0,
        "swept"
    );
    assert_eq!(claim(&ledger, &b, &label(&b, 99), &owner).await, None);
}
