//! How the SQLite ledger counts a body's labels: from the rows of its deliveries and claims,
//! found by the body key their identities begin with, plus the `labels` table for what those
//! rows cannot say (a label recorded alone, a file written before, a row deleted early).

mod common;

use std::time::Duration;

use appwrite_webhooks::inbox::{InboxAdmin, InboxStore, Purge, Put, Received};
use appwrite_webhooks::{ClaimOutcome, Fingerprint, LabelStore, LeaseToken, ReplayStore};
use appwrite_webhooks_sqlite::SqliteLedger;
use common::{path, query, received, take};

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
        ..received(0, 64)
    }
}

async fn put(ledger: &SqliteLedger, body: &Fingerprint, label: &Fingerprint) -> Put {
    ledger
        .label_and_put(body, label, (LIMIT, WEEK), delivery(label))
        .await
        .unwrap()
}

async fn claim(
    ledger: &SqliteLedger,
    body: &Fingerprint,
    label: &Fingerprint,
    owner: &LeaseToken,
) -> Option<ClaimOutcome> {
    ledger
        .label_and_claim(body, label, owner, (LIMIT, WEEK), MINUTE)
        .await
        .unwrap()
}

#[tokio::test]
async fn deliveries_are_their_bodys_labels_with_nothing_written_beside_them() {
    let file = path("labels-rows");
    let ledger = SqliteLedger::open(&file).unwrap();
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
    assert_eq!(query(&file, "SELECT count(*) FROM labels"), 0);
}

#[tokio::test]
async fn a_released_claim_still_counts_until_its_label_expires() {
    let ledger = SqliteLedger::open(path("labels-released")).unwrap();
    let b = body(3);
    // Each label's handler failed: its claim is released, its row deleted.
    for n in 0..LIMIT as u8 {
        let owner = LeaseToken::new();
        let outcome = claim(&ledger, &b, &label(&b, n), &owner).await;
        assert_eq!(outcome, Some(ClaimOutcome::Claimed), "label {n}");
        assert!(ledger.release(&label(&b, n), &owner).await.unwrap());
    }
    let owner = LeaseToken::new();
    assert_eq!(claim(&ledger, &b, &label(&b, 99), &owner).await, None);
    assert_eq!(put(&ledger, &b, &label(&b, 99)).await, Put::OverLabelLimit);
    // A label it already had may be claimed again: the failed delivery is retried.
    let again = claim(&ledger, &b, &label(&b, 0), &owner).await;
    assert_eq!(again, Some(ClaimOutcome::Claimed));
}

#[tokio::test]
async fn a_purged_delivery_still_counts_until_its_label_expires() {
    let file = path("labels-purged");
    let ledger = SqliteLedger::open(&file).unwrap();
    let b = body(4);
    for n in 0..LIMIT as u8 {
        assert!(matches!(
            put(&ledger, &b, &label(&b, n)).await,
            Put::Stored(_)
        ));
        let taken = take(&ledger, "w").await;
        assert!(
            InboxStore::complete(&ledger, &taken.lease, WEEK)
                .await
                .unwrap()
        );
    }
    assert_eq!(ledger.purge(Purge::Done).await.unwrap(), u64::from(LIMIT));
    assert_eq!(query(&file, "SELECT count(*) FROM deliveries"), 0);
    assert_eq!(put(&ledger, &b, &label(&b, 77)).await, Put::OverLabelLimit);
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

/// Labels recorded alone, or by a version of this crate that kept every label in the `labels`
/// table (keyed by the whole body key), count with the rows.
#[tokio::test]
async fn labels_kept_in_the_table_count_with_the_rows() {
    let ledger = SqliteLedger::open(path("labels-table")).unwrap();
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

/// A label recorded alone (`LabelStore::label`) counts the labels the rows hold, and a label
/// that is not its delivery's fingerprint is kept in the table: the limit holds on both paths.
#[tokio::test]
async fn labels_recorded_apart_from_their_rows_keep_the_limit() {
    let ledger = SqliteLedger::open(path("labels-apart")).unwrap();
    let b = body(12);
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

/// An identity that does not begin with its body key (a store fed by hand, another scheme) is
/// labelled in the table, as before.
#[tokio::test]
async fn an_identity_without_its_body_key_is_labelled_in_the_table() {
    let file = path("labels-other");
    let ledger = SqliteLedger::open(&file).unwrap();
    let b = body(7);
    for n in 0..LIMIT as u8 {
        let unrelated = Fingerprint::new(&[n + 100; 32]);
        assert!(matches!(put(&ledger, &b, &unrelated).await, Put::Stored(_)));
    }
    let unrelated = Fingerprint::new(&[250; 32]);
    assert_eq!(put(&ledger, &b, &unrelated).await, Put::OverLabelLimit);
    assert_eq!(
        query(&file, "SELECT count(*) FROM labels"),
        i64::from(LIMIT)
    );
}

/// The range that finds a body's labels holds at its ends: a body key of all ones, labels of
/// all ones and all zeros after it, next to a body one below.
#[tokio::test]
async fn the_labels_of_a_body_key_at_the_end_of_the_range_are_all_found() {
    let ledger = SqliteLedger::open(path("labels-edges")).unwrap();
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

/// One file counts a body's labels once for both paths: a captured body claimed by the guard
/// under some labels and stored by the inbox under others is admitted `LIMIT` times in all.
#[tokio::test]
async fn the_guard_and_the_inbox_count_one_bodys_labels_together() {
    let ledger = SqliteLedger::open(path("labels-both")).unwrap();
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
