//! Per-resource ordering on a real file: a mirror fed random interleavings of copies ends equal
//! to the newest state of every resource, and a delete is never undone by a late update.

mod once_support;

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use appwrite_webhooks::inbox::{Inbox, RetryPolicy, State, Workers};
use appwrite_webhooks_sqlite::SqliteLedger;
use once_support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_interleavings_mirror_the_newest_state() {
    let mut stale_seen = 0;
    for seed in 0..24u64 {
        let mut rng = Rng::new(seed);
        let users_in_burst = 1 + rng.below(4) as usize;
        let (sends, expected) = burst(&mut rng, users_in_burst);
        let file = path(&format!("prop-{seed}"));
        let ledger = SqliteLedger::open(&file).unwrap();
        ledger.execute_batch(TABLES).await.unwrap();
        let inbox = Inbox::new(ledger.clone());
        // Half of the burst before the workers start, half while they run.
        let (early, late) = sends.split_at(sends.len() / 2);
        for send in early {
            accept(&inbox, send).await;
        }
        let failures = Arc::new(AtomicU32::new(0));
        let fail_some = {
            let failures = Arc::clone(&failures);
            move |point: &str, tx: &appwrite_webhooks_sqlite::LedgerTransaction<'_>| {
                if point == "between"
                    && tx.attempt() == 1
                    && (tx.delivery_id() + seed).is_multiple_of(3)
                {
                    failures.fetch_add(1, Ordering::Relaxed);
                    return Err("a first attempt fails after its writes".into());
                }
                Ok(())
            }
        };
        let workers = Workers::new(inbox.clone(), verifier(), mirror(&ledger, fail_some))
            .with_concurrency(3)
            .with_poll_interval(Duration::from_millis(2))
            .with_retry(
                RetryPolicy::default()
                    .with_initial_backoff(Duration::from_millis(1))
                    .with_max_backoff(Duration::from_millis(4)),
            )
            .start();
        for send in late {
            accept(&inbox, send).await;
        }
        drained(&inbox, Duration::from_secs(30)).await;
        workers.shutdown(Duration::from_secs(5)).await;

        assert_eq!(users(&file), live(&expected), "seed {seed}");
        let stats = inbox.admin().stats().await.unwrap();
        assert_eq!(
            (stats.pending, stats.dead),
            (0, 0),
            "seed {seed}: {stats:?}"
        );
        let rows = inbox.admin().list(None, usize::MAX).await.unwrap();
        let effects = effects(&file);
        for row in &rows {
            let applied = effects.get(&(row.id as i64)).copied().unwrap_or(0);
            match row.state {
                State::Done => assert_eq!(applied, 1, "seed {seed}: {row:?}"),
                State::Stale => assert_eq!(applied, 0, "seed {seed}: {row:?}"),
                state => panic!("seed {seed}: {state:?}"),
            }
        }
        let listed_stale = inbox
            .admin()
            .list(Some(State::Stale), usize::MAX)
            .await
            .unwrap();
        assert_eq!(listed_stale.len() as u64, stats.stale, "seed {seed}");
        assert!(listed_stale.iter().all(|row| row.state == State::Stale));
        let listed_done = inbox
            .admin()
            .list(Some(State::Done), usize::MAX)
            .await
            .unwrap();
        assert_eq!(listed_done.len() as u64, stats.done, "seed {seed}");
        stale_seen += stats.stale;
    }
    assert!(stale_seen > 0, "the bursts never produced a stale copy");
}

/// A delete is never undone by a late create or update of the same `$updatedAt`, and a
/// delivery with no `$updatedAt` passes through.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delete_outranks_a_late_update_of_the_same_moment() {
    let file = path("delete-wins");
    let ledger = SqliteLedger::open(&file).unwrap();
    ledger.execute_batch(TABLES).await.unwrap();
    let inbox = Inbox::new(ledger.clone());
    let at = timestamp(5);
    let send = |id: &str, action: &str, name: &str, stamp: Option<&str>| Outgoing {
        delivery_id: id.into(),
        event: format!("users.u1.{action}"),
        body: match stamp {
            Some(stamp) => format!(r#"{{"$id":"u1","name":"{name}","$updatedAt":"{stamp}"}}"#),
            None => format!(r#"{{"$id":"u1","name":"{name}"}}"#),
        },
    };
    let workers = Workers::new(inbox.clone(), verifier(), mirror(&ledger, |_, _| Ok(())))
        .with_concurrency(1)
        .with_poll_interval(Duration::from_millis(2))
        .start();
    for (sent, state) in [
        (send("d1", "delete", "Ada", Some(&at)), State::Done),
        (send("d2", "update", "Ada", Some(&at)), State::Stale),
        (send("d3", "create", "Ada", Some(&at)), State::Stale),
        (
            send("d4", "create", "Ada", Some(&timestamp(4))),
            State::Stale,
        ),
    ] {
        let id = accept(&inbox, &sent).await.id().unwrap();
        drained(&inbox, Duration::from_secs(10)).await;
        let row = inbox.admin().get(id).await.unwrap().unwrap();
        assert_eq!(row.state, state, "{}", sent.delivery_id);
        if state == State::Stale {
            // `inbox show` says why.
            let why = row.last_error.unwrap_or_default();
            assert!(why.starts_with("stale: users.u1 ("), "{why}");
            assert!(
                why.contains("Delete") && why.contains("delivery 1"),
                "{why}"
            );
        }
        assert!(users(&file).is_empty(), "{}", sent.delivery_id);
    }
    // No version: it passes through (and here, writes the user again).
    let id = accept(&inbox, &send("d5", "update", "Bob", None))
        .await
        .id()
        .unwrap();
    drained(&inbox, Duration::from_secs(10)).await;
    assert_eq!(
        inbox.admin().get(id).await.unwrap().unwrap().state,
        State::Done
    );
    assert_eq!(users(&file).len(), 1);
    // Created again later: applied.
    accept(&inbox, &send("d6", "create", "Cy", Some(&timestamp(6)))).await;
    drained(&inbox, Duration::from_secs(10)).await;
    assert_eq!(users(&file)["u1"].as_deref(), Some("Cy"));
    let stats = inbox.admin().stats().await.unwrap();
    assert_eq!(
        (stats.done, stats.stale, stats.stored),
        (3, 3, 6),
        "{stats:?}"
    );
    workers.shutdown(Duration::from_secs(5)).await;
}
