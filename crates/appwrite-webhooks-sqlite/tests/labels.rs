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
