//! A lease belongs to one attempt, whoever took it and under whatever worker name; and no
//! option value, however extreme, overflows or panics.

mod common;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use appwrite_webhooks::inbox::{InboxAdmin, InboxStore, Put, State, Taken};
use appwrite_webhooks::{ClaimOutcome, Fingerprint, LeaseToken, ReplayStore};
use appwrite_webhooks_sqlite::SqliteLedger;
use common::{eventually, path, put_new, query, received, take};

const MINUTE: Duration = Duration::from_secs(60);

/// Takes the delivery again once `first`'s short visibility has passed.
async fn taken_again(store: &dyn InboxStore, worker: &str, first: &Taken) -> Taken {
    let mut again = None;
    eventually("the lease to pass", async || {
        again = store.take(worker, MINUTE).await.unwrap();
        again.is_some()
    })
    .await;
    let again = again.unwrap();
    assert_eq!(again.lease.id, first.lease.id);
    assert_eq!(again.attempt, first.attempt + 1);
    assert_ne!(again.lease.token, first.lease.token, "a token per attempt");
    again
}

/// Every outcome of the stale attempt is refused, and the current one is left as it was.
async fn stale_attempt_cannot_settle(
    store: &(impl InboxStore + InboxAdmin),
    stale: &Taken,
    current: &Taken,
) {
    assert!(!store.complete(&stale.lease, MINUTE).await.unwrap());
    assert!(
        !store
            .fail(&stale.lease, "stale", SystemTime::now())
            .await
            .unwrap()
    );
    assert!(!store.dead(&stale.lease, "stale").await.unwrap());
    assert!(!store.hand_back(&stale.lease).await.unwrap());
    let row = store.get(current.lease.id).await.unwrap().unwrap();
    assert_eq!(
        (row.state, row.attempts, row.last_error),
        (State::Pending, current.attempt, None)
    );
    let stats = store.stats().await.unwrap();
    assert_eq!(stats.in_flight, 1, "still held by the current attempt");
    assert!(store.take("anyone", MINUTE).await.unwrap().is_none());
}

#[tokio::test]
async fn two_handles_one_worker_name_a_stale_attempt_cannot_settle_the_next() {
    let file = path("same-name");
    let (a, b) = (
        SqliteLedger::open(&file).unwrap(),
        SqliteLedger::open(&file).unwrap(),
    );
    put_new(&a, received(1, 100)).await;
    let first = a
        .take("host-1-0", Duration::from_millis(50))
        .await
        .unwrap()
        .unwrap();
    let second = taken_again(&b, "host-1-0", &first).await;
    stale_attempt_cannot_settle(&a, &first, &second).await;
    stale_attempt_cannot_settle(&b, &first, &second).await;
    assert!(
        InboxStore::complete(&b, &second.lease, MINUTE)
            .await
            .unwrap()
    );
    let row = a.get(first.lease.id).await.unwrap().unwrap();
    assert_eq!((row.state, row.attempts), (State::Done, 2));
    // Settled once: the current attempt's lease is spent too.
    assert!(!b.hand_back(&second.lease).await.unwrap());
}

#[tokio::test]
async fn one_handle_one_worker_name_each_attempt_has_its_own_token() {
    let file = path("same-handle");
    let ledger = SqliteLedger::open(&file).unwrap();
    put_new(&ledger, received(1, 100)).await;
    let first = ledger
        .take("w", Duration::from_millis(20))
        .await
        .unwrap()
        .unwrap();
    let second = taken_again(&ledger, "w", &first).await;
    stale_attempt_cannot_settle(&ledger, &first, &second).await;
    // A made-up lease (right id, a token no attempt holds) is refused as well.
    let forged = appwrite_webhooks::inbox::Lease {
        id: second.lease.id,
        token: "w".to_owned(),
    };
    assert!(!ledger.dead(&forged, "forged").await.unwrap());
    assert!(
        ledger
            .fail(&second.lease, "later", UNIX_EPOCH)
            .await
            .unwrap()
    );
}

#[tokio::test]
async fn the_longest_visibility_and_retention_do_not_overflow() {
    let file = path("max-durations");
    let ledger = SqliteLedger::open(&file).unwrap();
    let id = put_new(&ledger, received(1, 100)).await;
    let taken = ledger.take("w", Duration::MAX).await.unwrap().unwrap();
    assert_eq!(ledger.stats().await.unwrap().in_flight, 1);
    assert!(ledger.take("w", Duration::ZERO).await.unwrap().is_none());
    assert!(
        InboxStore::complete(&ledger, &taken.lease, Duration::MAX)
            .await
            .unwrap()
    );
    // Kept "for ever": a re-send is a duplicate. The deadlines saturate as integers.
    assert_eq!(
        ledger.put(received(1, 100)).await.unwrap(),
        Put::Duplicate(id)
    );
    assert_eq!(
        query(
            &file,
            "SELECT count(*) FROM deliveries WHERE typeof(keep_until_ms) = 'integer' AND keep_until_ms = 9223372036854775807"
        ),
        1
    );
    assert_eq!(
        query(
            &file,
            "SELECT count(*) FROM deliveries WHERE typeof(due_at_ms) <> 'integer'"
        ),
        0
    );

    // The replay store: the longest lease and TTL.
    let (fingerprint, owner) = (Fingerprint::new(&[9; 20]), LeaseToken::new());
    assert_eq!(
        ledger
            .claim(&fingerprint, &owner, Duration::MAX)
            .await
            .unwrap(),
        ClaimOutcome::Claimed
    );
    assert!(
        ReplayStore::complete(&ledger, &fingerprint, &owner, Duration::MAX)
            .await
            .unwrap()
    );
    assert_eq!(
        ledger
            .claim(&fingerprint, &LeaseToken::new(), Duration::MAX)
            .await
            .unwrap(),
        ClaimOutcome::Done
    );
}

#[tokio::test]
async fn retries_at_the_far_future_and_at_the_epoch_are_kept_as_said() {
    let file = path("far-retries");
    let ledger = SqliteLedger::open(&file).unwrap();
    let x = put_new(&ledger, received(1, 100)).await;
    let y = put_new(&ledger, received(2, 100)).await;
    let far = [
        UNIX_EPOCH.checked_add(Duration::from_secs(i64::MAX as u64)),
        SystemTime::now().checked_add(Duration::from_secs(1 << 40)),
    ];
    for at in far.into_iter().flatten() {
        let taken = take(&ledger, "w").await;
        assert_eq!(taken.lease.id, x);
        assert!(ledger.fail(&taken.lease, "later", at).await.unwrap());
        // Not due: the next take is the other delivery, never this one.
        let other = take(&ledger, "w").await;
        assert_eq!(other.lease.id, y);
        assert!(ledger.hand_back(&other.lease).await.unwrap());
        // Put x back to the front for the next round.
        assert!(ledger.get(x).await.unwrap().is_some());
        let db = rusqlite::Connection::open(&file).unwrap();
        db.busy_timeout(MINUTE).unwrap();
        db.execute(
            "UPDATE deliveries SET due_at_ms = 0 WHERE id = ?1",
            [x as i64],
        )
        .unwrap();
    }
    // The epoch (or any past time): due at once.
    let taken = take(&ledger, "w").await;
    assert!(ledger.fail(&taken.lease, "now", UNIX_EPOCH).await.unwrap());
    assert_eq!(take(&ledger, "w").await.lease.id, taken.lease.id);
    // A delivery stamped far in the future is still due now, and reads back.
    let mut future = received(3, 100);
    future.received_at = far[1].unwrap();
    let z = put_new(&ledger, future).await;
    assert!(ledger.get(z).await.unwrap().unwrap().received.received_at > SystemTime::now());
    let mut seen = Vec::new();
    while let Some(taken) = ledger.take("w", MINUTE).await.unwrap() {
        seen.push(taken.lease.id);
        assert!(seen.len() < 10);
    }
    assert!(seen.contains(&z), "{seen:?}");
}

#[tokio::test]
async fn out_of_range_ids_and_limits_are_answered_plainly() {
    let ledger = SqliteLedger::open(path("ranges")).unwrap();
    put_new(&ledger, received(1, 100)).await;
    assert!(ledger.get(u64::MAX).await.unwrap().is_none());
    assert!(ledger.get(0).await.unwrap().is_none());
    assert!(!ledger.requeue(u64::MAX).await.unwrap());
    assert_eq!(ledger.list(None, usize::MAX).await.unwrap().len(), 1);
    assert!(ledger.list(None, 0).await.unwrap().is_empty());
    let bogus = appwrite_webhooks::inbox::Lease {
        id: u64::MAX,
        token: String::new(),
    };
    assert!(!ledger.hand_back(&bogus).await.unwrap());
    assert!(ledger.take("w", Duration::ZERO).await.unwrap().is_some());
}
