//! How every ledger counts a signed body's labels: one limit
//! ([`MAX_LABELS_PER_BODY`](appwrite_webhooks::MAX_LABELS_PER_BODY)) for the guard's claims,
//! the inbox's deliveries and labels recorded alone, whatever happens to the rows afterwards (a
//! released claim, a purge), and whichever way the store keeps them (the SQLite and Postgres
//! ledgers count their rows, Redis keeps a set, memory a group). Each store's own tests add what
//! only it can show (what it writes, its sweep, its upgrades).

use std::time::{Duration, SystemTime};

use appwrite_webhooks::inbox::{InboxAdmin, InboxStore, Purge, Put, Received};
use appwrite_webhooks::{ClaimOutcome, Fingerprint, LabelStore, LeaseToken, ReplayStore};
use http::HeaderMap;

const LIMIT: u32 = appwrite_webhooks::MAX_LABELS_PER_BODY;
const WEEK: Duration = Duration::from_secs(7 * 24 * 3600);
const MINUTE: Duration = Duration::from_secs(60);

/// What the suite asks of a ledger: both uses and labels recorded alone.
pub trait Ledger: InboxStore + InboxAdmin + ReplayStore + LabelStore {}
impl<T: InboxStore + InboxAdmin + ReplayStore + LabelStore> Ledger for T {}

/// A body key, as Appwrite's scheme makes one (32 bytes).
pub fn body(n: u8) -> Fingerprint {
    Fingerprint::new(&[n; 32])
}

/// Label `n` of `body`: an identity that begins with the body key, as Appwrite's do.
pub fn label(body: &Fingerprint, n: u8) -> Fingerprint {
    let mut bytes = [n; 32];
    bytes[..Fingerprint::BODY_KEY_PREFIX]
        .copy_from_slice(&body.as_bytes()[..Fingerprint::BODY_KEY_PREFIX]);
    Fingerprint::new(&bytes)
}

/// A delivery whose fingerprint is `fingerprint` (not signed: for what the store does).
pub fn delivery(fingerprint: &Fingerprint) -> Received {
    Received {
        fingerprint: fingerprint.as_bytes().to_vec(),
        received_at: SystemTime::now(),
        uri: "/hook".into(),
        headers: HeaderMap::new(),
        body: vec![b'x'; 64].into(),
    }
}

/// The inbox's store of a new delivery: its label, then the delivery, in one call.
pub async fn put(ledger: &impl Ledger, body: &Fingerprint, label: &Fingerprint) -> Put {
    ledger
        .label_and_put(body, label, (LIMIT, WEEK), delivery(label))
        .await
        .unwrap()
}

/// The guard's claim of a new delivery: its label, then the claim, in one call.
pub async fn claim(
    ledger: &impl Ledger,
    body: &Fingerprint,
    label: &Fingerprint,
    owner: &LeaseToken,
) -> Option<ClaimOutcome> {
    ledger
        .label_and_claim(body, label, owner, (LIMIT, WEEK), MINUTE)
        .await
        .unwrap()
}

/// Claims `MAX_LABELS_PER_BODY` new labels of `body`, each under a 1 ms lease: handlers that
/// never finish (their process killed), whose claims a store's sweep then deletes.
pub async fn abandon_claims_of_every_label(ledger: &impl Ledger, body: &Fingerprint) {
    for n in 0..LIMIT as u8 {
        let owner = LeaseToken::new();
        let brief = Duration::from_millis(1);
        let outcome = ledger
            .label_and_claim(body, &label(body, n), &owner, (LIMIT, WEEK), brief)
            .await
            .unwrap();
        assert_eq!(outcome, Some(ClaimOutcome::Claimed), "label {n}");
    }
}

/// Every case, each on a ledger of its own from `fresh` (given a name to tell them apart).
pub async fn a_bodys_labels_are_counted_once_for_every_path<L: Ledger>(
    mut fresh: impl AsyncFnMut(&str) -> L,
) {
    the_limit_counts_deliveries_and_claims_and_a_copy_is_a_duplicate(&fresh("rows").await).await;
    a_released_claim_still_counts(&fresh("released").await).await;
    a_purged_delivery_still_counts(&fresh("purged").await).await;
    labels_recorded_alone_count_with_deliveries(&fresh("alone").await).await;
    an_identity_without_its_body_key_is_bounded(&fresh("other").await).await;
    the_labels_of_a_body_key_at_the_end_of_the_range_are_all_found(&fresh("edges").await).await;
    the_guard_and_the_inbox_count_one_bodys_labels_together(&fresh("both").await).await;
    labels_recorded_apart_from_their_rows_keep_the_limit(&fresh("apart").await).await;
    only_labels_count(&fresh("unlabelled").await).await;
}

async fn the_limit_counts_deliveries_and_claims_and_a_copy_is_a_duplicate(ledger: &impl Ledger) {
    let b = body(1);
    for n in 0..LIMIT as u8 {
        assert!(matches!(
            put(ledger, &b, &label(&b, n)).await,
            Put::Stored(_)
        ));
    }
    assert_eq!(put(ledger, &b, &label(&b, 200)).await, Put::OverLabelLimit);
    // A copy of a label it has is a duplicate, not over the limit.
    assert!(matches!(
        put(ledger, &b, &label(&b, 3)).await,
        Put::Duplicate(_)
    ));
    // The guard's claims count against the same limit.
    let owner = LeaseToken::new();
    assert_eq!(claim(ledger, &b, &label(&b, 201), &owner).await, None);
    // Another body is not affected.
    let other = body(2);
    assert!(matches!(
        put(ledger, &other, &label(&other, 0)).await,
        Put::Stored(_)
    ));
}

async fn a_released_claim_still_counts(ledger: &impl Ledger) {
    let b = body(3);
    // Each label's handler failed: its claim is released.
    for n in 0..LIMIT as u8 {
        let owner = LeaseToken::new();
        let outcome = claim(ledger, &b, &label(&b, n), &owner).await;
        assert_eq!(outcome, Some(ClaimOutcome::Claimed), "label {n}");
        assert!(ledger.release(&label(&b, n), &owner).await.unwrap());
    }
    let owner = LeaseToken::new();
    assert_eq!(claim(ledger, &b, &label(&b, 99), &owner).await, None);
    assert_eq!(put(ledger, &b, &label(&b, 99)).await, Put::OverLabelLimit);
    // A label it already had may be claimed again: the failed delivery is retried.
    let again = claim(ledger, &b, &label(&b, 0), &owner).await;
    assert_eq!(again, Some(ClaimOutcome::Claimed));
}

async fn a_purged_delivery_still_counts(ledger: &impl Ledger) {
    let b = body(4);
    for n in 0..LIMIT as u8 {
        assert!(matches!(
            put(ledger, &b, &label(&b, n)).await,
            Put::Stored(_)
        ));
        let taken = ledger.take("w", MINUTE).await.unwrap().expect("due");
        assert!(
            InboxStore::complete(ledger, &taken.lease, WEEK)
                .await
                .unwrap()
        );
    }
    assert_eq!(ledger.purge(Purge::Done).await.unwrap(), u64::from(LIMIT));
    assert_eq!(put(ledger, &b, &label(&b, 77)).await, Put::OverLabelLimit);
}

/// Labels recorded alone count with the deliveries' labels, and a label recorded alone is the
/// body's own: its delivery is stored.
async fn labels_recorded_alone_count_with_deliveries(ledger: &impl Ledger) {
    let b = body(6);
    for n in 0..LIMIT as u8 / 2 {
        assert!(ledger.label(&b, &label(&b, n), LIMIT, WEEK).await.unwrap());
    }
    let mut stored = 0;
    for n in 100..100 + LIMIT as u8 {
        if let Put::Stored(_) = put(ledger, &b, &label(&b, n)).await {
            stored += 1;
        }
    }
    assert_eq!(stored, LIMIT / 2);
    assert!(matches!(
        put(ledger, &b, &label(&b, 0)).await,
        Put::Stored(_)
    ));
}

/// An identity that does not begin with its body key (a store fed by hand, another scheme) is
/// bounded all the same.
async fn an_identity_without_its_body_key_is_bounded(ledger: &impl Ledger) {
    let b = body(7);
    for n in 0..LIMIT as u8 {
        let unrelated = Fingerprint::new(&[n + 100; 32]);
        assert!(matches!(put(ledger, &b, &unrelated).await, Put::Stored(_)));
    }
    let unrelated = Fingerprint::new(&[250; 32]);
    assert_eq!(put(ledger, &b, &unrelated).await, Put::OverLabelLimit);
}

/// A body key of all ones, labels of all ones and all zeros after it, next to a body one
/// below: where a store finds a body's labels by a range of identities, the range holds at
/// its ends.
async fn the_labels_of_a_body_key_at_the_end_of_the_range_are_all_found(ledger: &impl Ledger) {
    let (last, below) = (body(0xff), body(0xfe));
    assert!(matches!(
        put(ledger, &below, &label(&below, 0xff)).await,
        Put::Stored(_)
    ));
    for n in [0xff, 0x00].into_iter().chain(1..LIMIT as u8 - 1) {
        assert!(
            matches!(put(ledger, &last, &label(&last, n)).await, Put::Stored(_)),
            "{n}"
        );
    }
    assert_eq!(
        put(ledger, &last, &label(&last, 0xee)).await,
        Put::OverLabelLimit
    );
    assert!(matches!(
        put(ledger, &last, &label(&last, 0xff)).await,
        Put::Duplicate(_)
    ));
    assert!(matches!(
        put(ledger, &below, &label(&below, 0)).await,
        Put::Stored(_)
    ));
}

/// A captured body claimed by the guard under some labels and stored by the inbox under others
/// is admitted `LIMIT` times in all.
async fn the_guard_and_the_inbox_count_one_bodys_labels_together(ledger: &impl Ledger) {
    let b = body(8);
    let (mut claimed, mut stored) = (0, 0);
    for n in 0..LIMIT as u8 + 4 {
        if n % 2 == 0 {
            let owner = LeaseToken::new();
            if let Some(ClaimOutcome::Claimed) = claim(ledger, &b, &label(&b, n), &owner).await {
                claimed += 1;
                assert!(
                    ReplayStore::complete(ledger, &label(&b, n), &owner, WEEK)
                        .await
                        .unwrap()
                );
            }
        } else if let Put::Stored(_) = put(ledger, &b, &label(&b, n)).await {
            stored += 1;
        }
    }
    assert_eq!(claimed + stored, LIMIT);
}

/// A label recorded alone counts the labels the deliveries hold, and a delivery whose
/// fingerprint is not its label is bounded by its label: the limit holds on every path.
async fn labels_recorded_apart_from_their_rows_keep_the_limit(ledger: &impl Ledger) {
    let b = body(12);
    for n in 0..LIMIT as u8 / 2 {
        assert!(matches!(
            put(ledger, &b, &label(&b, n)).await,
            Put::Stored(_)
        ));
    }
    // The body's own label is admitted; so are new ones up to the limit.
    assert!(ledger.label(&b, &label(&b, 0), LIMIT, WEEK).await.unwrap());
    let mut admitted = 0;
    for n in 100..100 + LIMIT as u8 / 4 {
        if ledger.label(&b, &label(&b, n), LIMIT, WEEK).await.unwrap() {
            admitted += 1;
        }
    }
    assert_eq!(admitted, LIMIT / 4);
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
    assert_eq!(claim(ledger, &b, &label(&b, 251), &owner).await, None);
}

/// Only labels count: deliveries stored without one (a plain `put`), a delivery whose
/// fingerprint is not its label (one label, not two), and another body's deliveries that share
/// a short body key's bytes take none of a body's places.
async fn only_labels_count(ledger: &impl Ledger) {
    let b = body(20);
    for n in 0..LIMIT as u8 {
        let stored = InboxStore::put(ledger, delivery(&label(&b, n)))
            .await
            .unwrap();
        assert!(matches!(stored, Put::Stored(_)));
    }
    let mut stored = 0;
    for n in 100..100 + LIMIT as u8 {
        // Each under a label of its own, stored under a fingerprint that carries the body key.
        let put = ledger
            .label_and_put(
                &b,
                &label(&b, n),
                (LIMIT, WEEK),
                delivery(&label(&b, n + 50)),
            )
            .await
            .unwrap();
        if let Put::Stored(_) = put {
            stored += 1;
        }
    }
    assert_eq!(stored, LIMIT);
    assert_eq!(put(ledger, &b, &label(&b, 250)).await, Put::OverLabelLimit);

    // A body key of 8 bytes: no identity carries it, so its labels are its own alone.
    let short = Fingerprint::new(&[21; 8]);
    for n in 0..LIMIT as u8 {
        let mut shared = [n; 32];
        shared[..8].copy_from_slice(short.as_bytes());
        let other = Fingerprint::new(&[22; 32]);
        let fingerprint = Fingerprint::new(&shared);
        let put = ledger
            .label_and_put(&other, &fingerprint, (LIMIT, WEEK), delivery(&fingerprint))
            .await
            .unwrap();
        assert!(matches!(put, Put::Stored(_)), "{n}");
    }
    let mut admitted = 0;
    for n in 0..LIMIT as u8 + 2 {
        if ledger
            .label(&short, &Fingerprint::new(&[n; 32]), LIMIT, WEEK)
            .await
            .unwrap()
        {
            admitted += 1;
        }
    }
    assert_eq!(admitted, LIMIT);
}
