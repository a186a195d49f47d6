//! The size cap: a full ledger refuses what arrives and keeps draining what it holds, and one
//! delivery too big for the room left never costs its neighbours in the same commit theirs.

mod common;

use std::time::{Duration, SystemTime};

use appwrite_webhooks::inbox::{Inbox, InboxAdmin, InboxStore, Purge, Put, State};
use appwrite_webhooks::{ClaimOutcome, Error, Fingerprint, LeaseToken, ReplayStore};
use appwrite_webhooks_sqlite::SqliteLedger;
use common::{path, put_new, query, received, take};

const MINUTE: Duration = Duration::from_secs(60);

/// Stores 2 KB deliveries until the ledger refuses one; returns how many it took.
async fn fill(store: &dyn InboxStore) -> u64 {
    for n in 0..10_000 {
        match store.put(received(n, 2_000)).await {
            Ok(Put::Stored(_)) => {}
            Ok(other) => panic!("{other:?}"),
            Err(_) => return n,
        }
    }
    panic!("the cap was never reached");
}

#[tokio::test]
async fn a_full_ledger_refuses_new_deliveries_but_drains_and_purge_makes_room() {
    let file = path("full-drains");
    let ledger = SqliteLedger::builder(&file)
        .max_bytes(256 * 1024)
        .open()
        .unwrap();
    let store: &dyn InboxStore = &ledger;
    let held = fill(store).await;
    assert!(held > 10, "only {held} fit");

    // Full: a new delivery is refused (the route answers 503), stores nothing, and says why.
    let error = store.put(received(held + 1, 2_000)).await.unwrap_err();
    assert!(error.to_string().contains("full"), "{error}");
    let inbox = Inbox::new(ledger.clone());
    let refused = inbox.put(received(held + 2, 2_000)).await.unwrap_err();
    assert!(matches!(refused, Error::InboxStore(_)), "{refused:?}");
    assert_eq!(refused.status(), 503);
    assert_eq!(InboxAdmin::stats(&ledger,).await.unwrap().stored, held);
    // A re-send of a delivery it holds is still recognised: nothing to store.
    assert_eq!(
        store.put(received(0, 2_000)).await.unwrap(),
        Put::Duplicate(1)
    );

    // Every outcome still records at the cap.
    let first = take(store, "w").await;
    assert!(store.hand_back(&first.lease).await.unwrap());
    let again = take(store, "w").await;
    assert!(
        store
            .fail(&again.lease, "try later", SystemTime::now())
            .await
            .unwrap()
    );
    let third = take(store, "w").await;
    assert!(store.dead(&third.lease, "gave up").await.unwrap());
    assert!(InboxAdmin::requeue(&ledger, third.lease.id).await.unwrap());

    // Workers drain everything with take + complete.
    let mut drained = 0;
    while let Some(taken) = store.take("w", MINUTE).await.unwrap() {
        assert!(store.complete(&taken.lease, MINUTE).await.unwrap());
        drained += 1;
        assert!(drained <= held, "took more than was stored");
    }
    assert_eq!(drained, held);
    let stats = InboxAdmin::stats(&ledger).await.unwrap();
    assert_eq!((stats.pending, stats.done), (0, held));
    // Handled deliveries are still kept (for re-sends), so the ledger is still full…
    assert!(store.put(received(held + 3, 2_000)).await.is_err());
    // …until a purge: what it frees is reused at once.
    assert_eq!(InboxAdmin::purge(&ledger, Purge::Done).await.unwrap(), held);
    let id = put_new(store, received(held + 4, 2_000)).await;
    assert_eq!(
        InboxAdmin::get(&ledger, id).await.unwrap().unwrap().state,
        State::Pending
    );
    // And it fills up to about the same number again: the cap counts pages in use.
    let refilled = fill(store).await;
    assert!(
        refilled + 2 >= held,
        "{refilled} after purge, {held} before"
    );
}

#[tokio::test]
async fn the_cap_does_not_count_the_wal_and_does_not_stop_settling_a_busy_full_ledger() {
    let file = path("full-busy");
    let ledger = SqliteLedger::builder(&file)
        .max_bytes(128 * 1024)
        .open()
        .unwrap();
    let store: &dyn InboxStore = &ledger;
    let held = fill(store).await;
    // Many rounds of taking and handing back at the cap: each is a WAL commit, none is refused.
    for _ in 0..2_000 {
        let taken = take(store, "w").await;
        assert!(store.hand_back(&taken.lease).await.unwrap());
    }
    assert_eq!(InboxAdmin::stats(&ledger,).await.unwrap().pending, held);
    assert!(store.put(received(held + 1, 2_000)).await.is_err());
}

#[tokio::test]
async fn a_full_ledger_refuses_new_claims_but_settles_held_ones() {
    let file = path("full-claims");
    let ledger = SqliteLedger::builder(&file)
        .max_bytes(128 * 1024)
        .open()
        .unwrap();
    let (early, owner) = (Fingerprint::new(&[1; 20]), LeaseToken::new());
    assert_eq!(
        ledger.claim(&early, &owner, MINUTE).await.unwrap(),
        ClaimOutcome::Claimed
    );
    let held = fill(&ledger).await;
    // Claims are small: a few more may fit in the pages in use, then they are refused too.
    let mut claims = 0u32;
    let late = loop {
        let fingerprint = Fingerprint::new(&[&[2; 16][..], &claims.to_be_bytes()].concat());
        match ledger.claim(&fingerprint, &owner, MINUTE).await {
            Ok(ClaimOutcome::Claimed) => claims += 1,
            Ok(other) => panic!("{other:?}"),
            Err(_) => break fingerprint,
        }
        assert!(claims < 1_000, "claims were never refused");
    };
    assert!(ledger.claim(&late, &owner, MINUTE).await.is_err());
    assert!(ledger.put(received(held + 1, 2_000)).await.is_err());
    // The claim made before the ledger filled still completes, and is remembered.
    assert!(
        ReplayStore::complete(&ledger, &early, &owner, MINUTE)
            .await
            .unwrap()
    );
    assert_eq!(
        ledger
            .claim(&early, &LeaseToken::new(), MINUTE)
            .await
            .unwrap(),
        ClaimOutcome::Done
    );
    assert_eq!(
        ledger.purge(Purge::Done).await.unwrap(),
        1,
        "done claims go with done deliveries; pending ones stay"
    );
    assert_eq!(ledger.purge(Purge::DoneAndDead).await.unwrap(), 0);
    assert_eq!(ledger.stats().await.unwrap().pending, held);
}

#[tokio::test]
async fn a_cap_of_zero_or_a_few_bytes_opens_and_refuses_every_new_delivery() {
    for (name, cap) in [("cap-0", 0), ("cap-1", 1), ("cap-page", 4096)] {
        let file = path(name);
        let ledger = SqliteLedger::builder(&file).max_bytes(cap).open().unwrap();
        assert_eq!(ledger.max_bytes(), Some(cap));
        assert!(ledger.put(received(1, 10)).await.is_err(), "{name}");
        let claimed = ledger
            .claim(&Fingerprint::new(&[1; 20]), &LeaseToken::new(), MINUTE)
            .await;
        assert!(claimed.is_err(), "{name}");
        assert_eq!(ledger.stats().await.unwrap().stored, 0);
        assert!(ledger.take("w", MINUTE).await.unwrap().is_none());
        assert_eq!(ledger.purge(Purge::DoneAndDead).await.unwrap(), 0);
        assert_eq!(ledger.requeue_dead().await.unwrap(), 0);
        // Reopened without the cap, the same file takes deliveries.
        drop(ledger);
        let uncapped = SqliteLedger::open(&file).unwrap();
        put_new(&uncapped, received(1, 10)).await;
    }
    let huge = SqliteLedger::builder(path("cap-max"))
        .max_bytes(u64::MAX)
        .open()
        .unwrap();
    put_new(&huge, received(1, 10_000)).await;
}

/// Deliveries that arrive together share one transaction; one too big for the room left is
/// refused alone, and the small ones beside it — before and after it in the batch — are stored.
#[tokio::test]
async fn group_commit_refuses_only_the_delivery_that_does_not_fit() {
    let file = path("mixed-batch");
    let ledger = SqliteLedger::builder(&file)
        .max_bytes(512 * 1024)
        .open()
        .unwrap();
    // About 330 KiB of 512 in use: room for small deliveries, not for a 400 KB one (which an
    // empty ledger would take).
    for n in 0..40 {
        put_new(&ledger, received(n, 8_000)).await;
    }
    // Another connection holds the write lock, so the deliveries below queue up and the
    // writer commits them together once it is released.
    let blocker = rusqlite::Connection::open(&file).unwrap();
    blocker.execute_batch("BEGIN IMMEDIATE").unwrap();
    let pilot = ledger.put(received(100, 1_000));
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut batch = Vec::new();
    for n in 101..106 {
        batch.push((n, ledger.put(received(n, 2_000))));
    }
    let big = ledger.put(received(200, 400_000));
    for n in 106..111 {
        batch.push((n, ledger.put(received(n, 2_000))));
    }
    blocker.execute_batch("COMMIT").unwrap();
    drop(blocker);

    pilot.await.unwrap();
    assert!(big.await.is_err(), "400 KB does not fit");
    let mut ids = Vec::new();
    for (n, put) in batch {
        match put.await {
            Ok(Put::Stored(id)) => ids.push(id),
            other => panic!("small delivery {n} refused beside the big one: {other:?}"),
        }
    }
    // Exactly what was answered Stored is there, whole; nothing of the refused one.
    assert_eq!(ledger.stats().await.unwrap().stored, 40 + 1 + 10);
    for id in ids {
        let row = ledger.get(id).await.unwrap().unwrap();
        assert_eq!(row.received.body.len(), 2_000);
    }
    assert_eq!(
        query(
            &file,
            "SELECT count(*) FROM deliveries WHERE length(body) > 100000"
        ),
        0
    );
    // The refused delivery was not half-stored under its fingerprint either: it stores now
    // that room is made.
    assert_eq!(ledger.purge(Purge::Done).await.unwrap(), 0);
    let mut drained = 0;
    while let Some(taken) = ledger.take("w", MINUTE).await.unwrap() {
        assert!(
            InboxStore::complete(&ledger, &taken.lease, MINUTE)
                .await
                .unwrap()
        );
        drained += 1;
        assert!(drained <= 51);
    }
    assert_eq!(ledger.purge(Purge::Done).await.unwrap(), 51);
    put_new(&ledger, received(200, 400_000)).await;
}
