//! The inbox suite's dead letters: failing handlers end there, an operator requeues one or all,
//! deletes one alone, and purges; pending deliveries are never touched.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use appwrite_webhooks::Delivery;
use appwrite_webhooks::inbox::{Inbox, Purge, Put, State, Workers};

use crate::inbox_suite::{accept, fast, stored, until, verifier};

/// See the name.
pub async fn failing_handlers_end_in_the_dead_letters_and_a_retry_completes_them(inbox: Inbox) {
    let Put::Stored(id) = accept(&inbox, r#"{"$id":"u1"}"#).await.unwrap() else {
        panic!()
    };
    let calls = Arc::new(AtomicU32::new(0));
    let failing = {
        let calls = Arc::clone(&calls);
        move |_: Delivery| {
            calls.fetch_add(1, Ordering::SeqCst);
            async { Err::<(), _>(std::io::Error::other("database is down")) }
        }
    };
    let workers = Workers::new(inbox.clone(), verifier(), failing)
        .with_retry(fast().with_max_attempts(3))
        .start();
    until("a dead letter", async || {
        inbox.admin().stats().await.unwrap().dead == 1
    })
    .await;
    workers.shutdown(Duration::from_secs(1)).await;
    assert_eq!(
        calls.load(Ordering::SeqCst),
        3,
        "exactly the configured attempts"
    );
    let dead = inbox.admin().get(id).await.unwrap().unwrap();
    assert_eq!((dead.state, dead.attempts), (State::Dead, 3));
    assert_eq!(dead.last_error.as_deref(), Some("database is down"));
    assert_eq!(
        inbox
            .admin()
            .list(Some(State::Dead), 10)
            .await
            .unwrap()
            .len(),
        1
    );
    // A re-send of a dead letter is not stored again either.
    assert_eq!(
        accept(&inbox, r#"{"$id":"u1"}"#).await.unwrap(),
        Put::Duplicate(id)
    );

    assert!(inbox.admin().requeue(id).await.unwrap());
    assert!(!inbox.admin().requeue(id).await.unwrap(), "no longer dead");
    let workers = Workers::new(inbox.clone(), verifier(), |_: Delivery| async {
        Ok::<_, std::io::Error>(())
    })
    .with_retry(fast())
    .start();
    until("done after retry", async || {
        inbox.admin().get(id).await.unwrap().unwrap().state == State::Done
    })
    .await;
    workers.shutdown(Duration::from_secs(1)).await;
    assert_eq!(inbox.admin().purge(Purge::Done).await.unwrap(), 1);
    assert_eq!(inbox.admin().stats().await.unwrap().stored, 0);
}

/// `requeue_dead` revives every dead letter; purging never touches pending deliveries.
pub async fn retry_all_and_purge(inbox: Inbox) {
    for n in 0..3 {
        stored(&inbox, &format!(r#"{{"$id":"u{n}"}}"#)).await;
    }
    let failing = |_: Delivery| async { Err::<(), _>(std::io::Error::other("no")) };
    let workers = Workers::new(inbox.clone(), verifier(), failing)
        .with_retry(fast().with_max_attempts(1))
        .start();
    until("3 dead", async || {
        inbox.admin().stats().await.unwrap().dead == 3
    })
    .await;
    workers.shutdown(Duration::from_secs(1)).await;
    stored(&inbox, r#"{"$id":"waiting"}"#).await;
    assert_eq!(inbox.admin().purge(Purge::Done).await.unwrap(), 0);
    assert_eq!(inbox.admin().requeue_dead().await.unwrap(), 3);
    let stats = inbox.admin().stats().await.unwrap();
    assert_eq!((stats.pending, stats.dead), (4, 0));
    let ok = |_: Delivery| async { Ok::<_, std::io::Error>(()) };
    let workers = Workers::new(inbox.clone(), verifier(), ok)
        .with_retry(fast())
        .start();
    until("4 done", async || {
        inbox.admin().stats().await.unwrap().done == 4
    })
    .await;
    workers.shutdown(Duration::from_secs(1)).await;
    stored(&inbox, r#"{"$id":"late"}"#).await;
    assert_eq!(inbox.admin().purge(Purge::DoneAndDead).await.unwrap(), 4);
    let stats = inbox.admin().stats().await.unwrap();
    assert_eq!(
        (stats.stored, stats.pending),
        (1, 1),
        "the pending one is kept"
    );
}

/// `delete_dead` deletes one dead letter and nothing else: not another dead letter, not a
/// pending delivery, not twice.
pub async fn one_dead_letter_is_deleted_alone(inbox: Inbox) {
    for n in 0..2 {
        stored(&inbox, &format!(r#"{{"$id":"gone{n}"}}"#)).await;
    }
    let failing = |_: Delivery| async { Err::<(), _>(std::io::Error::other("no")) };
    let workers = Workers::new(inbox.clone(), verifier(), failing)
        .with_retry(fast().with_max_attempts(1))
        .start();
    until("2 dead", async || {
        inbox.admin().stats().await.unwrap().dead == 2
    })
    .await;
    workers.shutdown(Duration::from_secs(1)).await;
    let pending = stored(&inbox, r#"{"$id":"waiting"}"#).await;
    let dead = inbox.admin().list(Some(State::Dead), 10).await.unwrap();
    let (one, other) = (dead[0].id, dead[1].id);
    assert!(inbox.admin().delete_dead(one).await.unwrap());
    assert!(
        !inbox.admin().delete_dead(one).await.unwrap(),
        "already gone"
    );
    assert!(
        !inbox.admin().delete_dead(pending).await.unwrap(),
        "not dead"
    );
    assert!(inbox.admin().get(one).await.unwrap().is_none());
    assert_eq!(
        inbox.admin().get(other).await.unwrap().map(|d| d.state),
        Some(State::Dead)
    );
    let stats = inbox.admin().stats().await.unwrap();
    assert_eq!((stats.dead, stats.pending), (1, 1));
}
