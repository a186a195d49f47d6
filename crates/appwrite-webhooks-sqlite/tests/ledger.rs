//! The ledger as a replay store (the contract `MemoryLedger` keeps), and the one table it
//! shares with the inbox: how claims and deliveries of one fingerprint meet.

mod common;

use std::time::Duration;

use appwrite_webhooks::inbox::{InboxAdmin, InboxStore, Put, Received, State};
use appwrite_webhooks::{ClaimOutcome, Fingerprint, LeaseToken, ReplayStore};
use appwrite_webhooks_sqlite::SqliteLedger;
use common::{eventually, path, put_new, query, received, take};

const MINUTE: Duration = Duration::from_secs(60);
const SHORT: Duration = Duration::from_millis(50);

fn fp(n: u8) -> Fingerprint {
    Fingerprint::new(&[n; 20])
}

/// A delivery whose inbox fingerprint is `fingerprint`'s bytes: what a store fed by hand (or a
/// future scheme) would hold under one fingerprint for both uses.
fn delivery_of(fingerprint: &Fingerprint) -> Received {
    Received {
        fingerprint: fingerprint.as_bytes().to_vec(),
        ..received(0, 64)
    }
}

async fn claim(ledger: &SqliteLedger, f: &Fingerprint, owner: &LeaseToken) -> ClaimOutcome {
    ledger.claim(f, owner, MINUTE).await.unwrap()
}

#[tokio::test]
async fn claims_are_atomic_owned_and_expire() {
    let ledger = SqliteLedger::open(path("claims")).unwrap();
    let (a, b) = (LeaseToken::new(), LeaseToken::new());
    let f = fp(1);
    assert_eq!(claim(&ledger, &f, &a).await, ClaimOutcome::Claimed);
    assert_eq!(claim(&ledger, &f, &b).await, ClaimOutcome::InProgress);
    // Only the owner finishes or releases a pending claim.
    assert!(!ledger.release(&f, &b).await.unwrap());
    assert!(
        !ReplayStore::complete(&ledger, &f, &b, MINUTE)
            .await
            .unwrap()
    );
    assert!(ledger.release(&f, &a).await.unwrap());
    assert!(!ledger.release(&f, &a).await.unwrap(), "released once");
    assert_eq!(claim(&ledger, &f, &b).await, ClaimOutcome::Claimed);
    assert!(
        ReplayStore::complete(&ledger, &f, &b, MINUTE)
            .await
            .unwrap()
    );
    assert!(
        !ledger.release(&f, &b).await.unwrap(),
        "done is not released"
    );
    assert!(
        !ReplayStore::complete(&ledger, &f, &b, MINUTE)
            .await
            .unwrap(),
        "done once"
    );
    assert_eq!(claim(&ledger, &f, &a).await, ClaimOutcome::Done);

    // A lease runs out by itself: the claim of a process that died is claimed again.
    let leased = fp(2);
    assert_eq!(
        ledger.claim(&leased, &a, SHORT).await.unwrap(),
        ClaimOutcome::Claimed
    );
    eventually("the lease to run out", async || {
        ledger.claim(&leased, &b, MINUTE).await.unwrap() == ClaimOutcome::Claimed
    })
    .await;
    assert!(
        !ReplayStore::complete(&ledger, &leased, &a, MINUTE)
            .await
            .unwrap(),
        "b holds it now"
    );
    assert!(!ledger.release(&leased, &a).await.unwrap());

    // A lapsed lease nobody claimed again still completes: the handler succeeded.
    let lapsed = fp(3);
    assert_eq!(
        ledger.claim(&lapsed, &a, Duration::ZERO).await.unwrap(),
        ClaimOutcome::Claimed
    );
    assert!(
        ReplayStore::complete(&ledger, &lapsed, &a, MINUTE)
            .await
            .unwrap()
    );
    assert_eq!(claim(&ledger, &lapsed, &b).await, ClaimOutcome::Done);

    // A done claim past its TTL counts as absent.
    let kept = fp(4);
    assert_eq!(claim(&ledger, &kept, &a).await, ClaimOutcome::Claimed);
    assert!(
        ReplayStore::complete(&ledger, &kept, &a, SHORT)
            .await
            .unwrap()
    );
    eventually("the TTL to run out", async || {
        claim(&ledger, &kept, &b).await == ClaimOutcome::Claimed
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_claims_from_two_handles_have_one_winner() {
    let file = path("contested");
    let (x, y) = (
        SqliteLedger::open(&file).unwrap(),
        SqliteLedger::open(&file).unwrap(),
    );
    for round in 0..50u8 {
        let f = fp(round);
        let claims: Vec<_> = (0..8)
            .map(|i| {
                let (ledger, owner) = (
                    if i % 2 == 0 { x.clone() } else { y.clone() },
                    LeaseToken::new(),
                );
                tokio::spawn(async move { ledger.claim(&f, &owner, MINUTE).await.unwrap() })
            })
            .collect();
        let mut winners = 0;
        for claimed in claims {
            winners += usize::from(claimed.await.unwrap() == ClaimOutcome::Claimed);
        }
        assert_eq!(winners, 1, "round {round}");
    }
}

#[tokio::test]
async fn claims_are_not_deliveries_workers_and_inspection_never_see_them() {
    let file = path("claims-hidden");
    let ledger = SqliteLedger::open(&file).unwrap();
    let owner = LeaseToken::new();
    assert_eq!(
        ledger.claim(&fp(1), &owner, SHORT).await.unwrap(),
        ClaimOutcome::Claimed
    );
    assert_eq!(claim(&ledger, &fp(2), &owner).await, ClaimOutcome::Claimed);
    assert!(
        ReplayStore::complete(&ledger, &fp(2), &owner, MINUTE)
            .await
            .unwrap()
    );
    // fp(1)'s lease runs out; a worker still never takes it: a claim has nothing to handle.
    eventually("the claim's lease to run out", async || {
        query(&file, "SELECT count(*) FROM deliveries WHERE body IS NULL AND due_at_ms <= CAST(strftime('%s','now') AS INTEGER) * 1000") == 1
    })
    .await;
    assert!(ledger.take("w", MINUTE).await.unwrap().is_none());
    assert_eq!(ledger.stats().await.unwrap().stored, 0);
    assert!(ledger.list(None, 10).await.unwrap().is_empty());
    assert_eq!(query(&file, "SELECT count(*) FROM deliveries"), 2);
    let first_id = query(&file, "SELECT min(id) FROM deliveries");
    assert!(
        ledger
            .get(u64::try_from(first_id).unwrap())
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn a_claim_meets_the_inbox_delivery_of_its_fingerprint() {
    let ledger = SqliteLedger::open(path("claim-meets-delivery")).unwrap();
    let (f, owner) = (fp(1), LeaseToken::new());
    let id = put_new(&ledger, delivery_of(&f)).await;
    // Pending, held by a worker, or a dead letter: no handler has succeeded, so no 2xx.
    assert_eq!(claim(&ledger, &f, &owner).await, ClaimOutcome::InProgress);
    let taken = take(&ledger, "w").await;
    assert_eq!(claim(&ledger, &f, &owner).await, ClaimOutcome::InProgress);
    assert!(
        !ledger.release(&f, &owner).await.unwrap(),
        "not the claim's"
    );
    assert!(
        !ReplayStore::complete(&ledger, &f, &owner, MINUTE)
            .await
            .unwrap(),
        "a worker holds it"
    );
    assert!(ledger.dead(&taken.lease, "failed").await.unwrap());
    assert_eq!(claim(&ledger, &f, &owner).await, ClaimOutcome::InProgress);
    assert!(ledger.requeue(id).await.unwrap());
    let taken = take(&ledger, "w").await;
    assert!(
        InboxStore::complete(&ledger, &taken.lease, MINUTE)
            .await
            .unwrap()
    );
    // Handled by a worker: a copy at the guard is a duplicate.
    assert_eq!(claim(&ledger, &f, &owner).await, ClaimOutcome::Done);
}

#[tokio::test]
async fn a_delivery_meets_the_claim_of_its_fingerprint() {
    let ledger = SqliteLedger::open(path("delivery-meets-claim")).unwrap();
    let owner = LeaseToken::new();

    // A completed claim: the put is a duplicate, nothing stored, nothing for workers.
    let done = fp(1);
    assert_eq!(claim(&ledger, &done, &owner).await, ClaimOutcome::Claimed);
    assert!(
        ReplayStore::complete(&ledger, &done, &owner, MINUTE)
            .await
            .unwrap()
    );
    assert!(matches!(
        ledger.put(delivery_of(&done)).await.unwrap(),
        Put::Duplicate(_)
    ));
    assert!(ledger.take("w", MINUTE).await.unwrap().is_none());

    // A pending claim that then completes: a duplicate, and done with it.
    let completes = fp(2);
    assert_eq!(
        claim(&ledger, &completes, &owner).await,
        ClaimOutcome::Claimed
    );
    let Put::Duplicate(id) = ledger.put(delivery_of(&completes)).await.unwrap() else {
        panic!("a held fingerprint is a duplicate")
    };
    assert!(
        ledger.take("w", MINUTE).await.unwrap().is_none(),
        "the claim holds it"
    );
    assert!(
        ReplayStore::complete(&ledger, &completes, &owner, MINUTE)
            .await
            .unwrap()
    );
    assert_eq!(ledger.get(id).await.unwrap().unwrap().state, State::Done);
    assert!(ledger.take("w", MINUTE).await.unwrap().is_none());

    // A pending claim that is then released: the 202 the put answered is honoured by workers.
    let released = fp(3);
    assert_eq!(
        claim(&ledger, &released, &owner).await,
        ClaimOutcome::Claimed
    );
    let Put::Duplicate(id) = ledger.put(delivery_of(&released)).await.unwrap() else {
        panic!()
    };
    assert!(ledger.release(&released, &owner).await.unwrap());
    let taken = take(&ledger, "w").await;
    assert_eq!((taken.lease.id, taken.attempt), (id, 1));
    assert_eq!(taken.received.body.len(), 64);

    // A pending claim whose process died: once its lease runs out, workers handle it.
    let crashed = fp(4);
    assert_eq!(
        ledger.claim(&crashed, &owner, SHORT).await.unwrap(),
        ClaimOutcome::Claimed
    );
    let Put::Duplicate(id) = ledger.put(delivery_of(&crashed)).await.unwrap() else {
        panic!()
    };
    let mut again = None;
    eventually("the claim's lease to run out", async || {
        again = ledger.take("w", MINUTE).await.unwrap();
        again.is_some()
    })
    .await;
    assert_eq!(again.unwrap().lease.id, id);
    assert!(
        !ledger.release(&crashed, &owner).await.unwrap(),
        "a worker holds it"
    );
}
