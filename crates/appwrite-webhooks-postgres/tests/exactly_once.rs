//! Exactly-once effects and per-resource ordering on a real Postgres: a handler's writes commit
//! with its delivery's `done` or not at all (error, panic, timeout), and a mirror fed random
//! interleavings of copies ends equal to the newest state of every resource. Leases are in
//! `exactly_once_leases.rs`, the synchronous path in `exactly_once_guard.rs`.

mod common;
mod once_support;

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use appwrite_webhooks::inbox::{
    Attempt, Handled, Inbox, InboxHandler, InboxStore, Put, RetryPolicy, State, Taken, Workers,
};
use appwrite_webhooks_postgres::{LedgerTransaction, PostgresLedger};
use common::PostgresServer;
use once_support::*;

/// A handler that writes, then fails its first attempt as `how` says; the second succeeds.
async fn first_attempt_fails(how: &'static str) {
    let server = PostgresServer::start();
    let ledger = with_tables(&server, "rollback").await;
    let inbox = Inbox::new(ledger.clone());
    let handler = ledger.exactly_once(move |_delivery, tx| {
        Box::pin(async move {
            let (id, attempt) = (tx.delivery_id() as i64, tx.attempt() as i32);
            tx.execute(
                "INSERT INTO effects (delivery_id, attempt) VALUES ($1, $2)",
                &[&id, &attempt],
            )
            .await?;
            if attempt == 1 {
                match how {
                    "error" => return Err("the first attempt fails".into()),
                    "panic" => panic!("the first attempt panics"),
                    _ => tokio::time::sleep(Duration::from_millis(1500)).await,
                }
            }
            Ok(())
        })
    });
    let sent = Outgoing {
        delivery_id: "d1".into(),
        event: "users.u1.create".into(),
        body: r#"{"$id":"u1","name":"Ada"}"#.into(),
    };
    let Put::Stored(id) = accept(&inbox, &sent).await else {
        panic!("not stored")
    };
    let workers = Workers::new(inbox.clone(), verifier(), handler)
        .with_poll_interval(Duration::from_millis(5))
        .with_retry(
            RetryPolicy::default()
                .with_max_attempts(3)
                .with_initial_backoff(Duration::from_millis(1))
                .with_max_backoff(Duration::from_millis(5))
                // Short only where the timeout is the failure: a panic's backtrace on a busy
                // machine can take longer than that.
                .with_attempt_timeout(Duration::from_millis(match how {
                    "timeout" => 300,
                    _ => 20_000,
                })),
        )
        .start();
    drained(&inbox, Duration::from_secs(30)).await;
    workers.shutdown(Duration::from_secs(5)).await;
    let row = inbox.admin().get(id).await.unwrap().unwrap();
    assert_eq!(
        (row.state, row.attempts),
        (State::Done, 2),
        "{how}: {row:?}"
    );
    let error = row.last_error.unwrap_or_default();
    let expected = match how {
        "error" => "the first attempt fails",
        "panic" => "panicked",
        _ => "timed out",
    };
    assert!(error.contains(expected), "{how}: {error}");
    // Only the second attempt's write is there: the first one's was rolled back.
    assert_eq!(
        count(&server, "rollback", "SELECT count(*) FROM effects"),
        1,
        "{how}: the failed attempt's write persisted"
    );
    assert_eq!(
        count(&server, "rollback", "SELECT max(attempt) FROM effects"),
        2,
        "{how}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handler_error_rolls_its_writes_back() {
    first_attempt_fails("error").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handler_panic_rolls_its_writes_back() {
    first_attempt_fails("panic").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handler_timeout_rolls_its_writes_back() {
    first_attempt_fails("timeout").await;
}

/// Property: for random histories of users (create, updates, deletes, re-creates), each change
/// sent as several copies (redeliveries and distinct deliveries), shuffled, handled by
/// concurrent workers on two replicas whose handler fails some first attempts after its
/// writes, the mirrored table ends equal to every user's newest state; every applied
/// delivery's effect is there exactly once; late copies are settled stale, and none is left
/// pending or dead.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_interleavings_mirror_the_newest_state() {
    let server = PostgresServer::start();
    let mut stale_seen = 0;
    for seed in 0..12u64 {
        let mut rng = Rng::new(seed);
        let users_in_burst = 1 + rng.below(4) as usize;
        let (sends, expected) = burst(&mut rng, users_in_burst);
        let name = format!("prop{seed}");
        let ledger = with_tables(&server, &name).await;
        let inbox = Inbox::new(ledger.clone());
        // Half of the burst before the workers start, half while they run.
        let (early, late) = sends.split_at(sends.len() / 2);
        for send in early {
            accept(&inbox, send).await;
        }
        let failures = Arc::new(AtomicU32::new(0));
        let fail_some = move |point: &str, tx: &LedgerTransaction<'_>| {
            if point == "between"
                && tx.attempt() == 1
                && (tx.delivery_id() + seed).is_multiple_of(3)
            {
                failures.fetch_add(1, Ordering::Relaxed);
                return Err("a first attempt fails after its writes".into());
            }
            Ok(())
        };
        let replicas = [ledger.clone(), common::replica(&server, &name)];
        let mut workers = Vec::new();
        for replica in replicas {
            let handler = mirror(&replica, fail_some.clone());
            workers.push(
                Workers::new(Inbox::new(replica), verifier(), handler)
                    .with_concurrency(2)
                    .with_poll_interval(Duration::from_millis(5))
                    .with_retry(
                        RetryPolicy::default()
                            .with_initial_backoff(Duration::from_millis(1))
                            .with_max_backoff(Duration::from_millis(4)),
                    )
                    .start(),
            );
        }
        for send in late {
            accept(&inbox, send).await;
        }
        drained(&inbox, Duration::from_secs(60)).await;
        for workers in workers {
            workers.shutdown(Duration::from_secs(5)).await;
        }

        assert_eq!(users(&server, &name), live(&expected), "seed {seed}");
        let stats = inbox.admin().stats().await.unwrap();
        assert_eq!(
            (stats.pending, stats.dead),
            (0, 0),
            "seed {seed}: {stats:?}"
        );
        let rows = inbox.admin().list(None, usize::MAX).await.unwrap();
        let effects = effects(&server, &name);
        for row in &rows {
            let applied = effects.get(&row.id).copied().unwrap_or(0);
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

/// A delete is never undone by a late create or update of the same `$updatedAt`; a delivery
/// with no `$updatedAt` passes through; stale deliveries are counted, found and say why, and
/// their attempts are recorded `stale`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delete_outranks_a_late_update_of_the_same_moment() {
    let server = PostgresServer::start();
    let ledger = with_tables(&server, "order").await;
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
        .with_poll_interval(Duration::from_millis(5))
        .start();
    let mut first = None;
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
        let first = *first.get_or_insert(id);
        drained(&inbox, Duration::from_secs(20)).await;
        let row = inbox.admin().get(id).await.unwrap().unwrap();
        assert_eq!(row.state, state, "{}", sent.delivery_id);
        if state == State::Stale {
            // `inbox show` says why.
            let why = row.last_error.unwrap_or_default();
            assert!(why.starts_with("stale: users.u1 ("), "{why}");
            assert!(
                why.contains("Delete") && why.contains(&format!("delivery {first}")),
                "{why}"
            );
            let attempts = inbox.admin().attempts(id).await.unwrap().unwrap();
            assert_eq!(
                attempts.last().unwrap().outcome,
                appwrite_webhooks::inbox::AttemptOutcome::Stale,
                "{attempts:?}"
            );
        }
        assert!(users(&server, "order").is_empty(), "{}", sent.delivery_id);
    }
    // No version: it passes through (and here, writes the user again).
    let id = accept(&inbox, &send("d5", "update", "Bob", None))
        .await
        .id()
        .unwrap();
    drained(&inbox, Duration::from_secs(20)).await;
    assert_eq!(
        inbox.admin().get(id).await.unwrap().unwrap().state,
        State::Done
    );
    assert_eq!(users(&server, "order").len(), 1);
    // Created again later: applied.
    accept(&inbox, &send("d6", "create", "Cy", Some(&timestamp(6)))).await;
    drained(&inbox, Duration::from_secs(20)).await;
    assert_eq!(users(&server, "order")["u1"].as_deref(), Some("Cy"));
    let stats = inbox.admin().stats().await.unwrap();
    assert_eq!(
        (stats.done, stats.stale, stats.stored),
        (3, 3, 6),
        "{stats:?}"
    );
    // The operator's search finds them by state.
    let filter = appwrite_webhooks::inbox::Filter::default().with_state(State::Stale);
    let page = inbox.admin().find(&filter, None, 10).await.unwrap();
    assert_eq!(page.items.len(), 3, "{page:?}");
    workers.shutdown(Duration::from_secs(5)).await;
}

/// Two deliveries of one resource seen for the first time, on two replicas at once: the older
/// one waits for the newer one's transaction (there is no version row yet to lock), then finds
/// it applied and is settled stale; it never overwrites the newer state.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_deliveries_of_one_resource_on_two_replicas_wait_for_each_other() {
    let server = PostgresServer::start();
    let ledger = with_tables(&server, "first").await;
    let replica = common::replica(&server, "first");
    let inbox = Inbox::new(ledger.clone());
    let inside = Arc::new(tokio::sync::Notify::new());
    // Upserts the user; the newer delivery's handler stays inside its transaction a while
    // after writing, so the older one arrives while it is open.
    let upsert = |ledger: &PostgresLedger| {
        let inside = Arc::clone(&inside);
        ledger
            .exactly_once(move |delivery, tx| {
                let inside = Arc::clone(&inside);
                Box::pin(async move {
                    #[derive(serde::Deserialize)]
                    struct User {
                        #[serde(rename = "$id")]
                        id: String,
                        name: String,
                    }
                    let user: User = delivery.json()?;
                    tx.execute(
                        "INSERT INTO users (id, name, updated_at) VALUES ($1, $2, '')
                         ON CONFLICT (id) DO UPDATE SET name = excluded.name",
                        &[&user.id, &user.name],
                    )
                    .await?;
                    if user.name == "newer" {
                        inside.notify_one();
                        tokio::time::sleep(Duration::from_millis(300)).await;
                    }
                    Ok(())
                })
            })
            .with_ordering()
    };
    let send = |id: &str, action: &str, name: &str, at: u64| Outgoing {
        delivery_id: id.into(),
        event: format!("users.u1.{action}"),
        body: format!(
            r#"{{"$id":"u1","name":"{name}","$updatedAt":"{}"}}"#,
            timestamp(at)
        ),
    };
    accept(&inbox, &send("d1", "update", "newer", 2)).await;
    accept(&inbox, &send("d2", "create", "older", 1)).await;
    let mut taken = Vec::new();
    while let Some(t) = ledger.take("w", Duration::from_secs(60)).await.unwrap() {
        taken.push(t);
    }
    taken.sort_by_key(|t| t.lease.id);
    let [newer, older] = <[_; 2]>::try_from(taken).unwrap();
    let attempt = |t: &Taken| {
        Attempt::new(
            t.lease.clone(),
            t.attempt,
            Duration::from_secs(3600),
            std::time::Instant::now() + Duration::from_secs(30),
        )
    };
    let verifier = verifier();
    let (newer_delivery, older_delivery) = (
        verifier.verify_stored(&newer.received).await.unwrap(),
        verifier.verify_stored(&older.received).await.unwrap(),
    );
    let first = Arc::new(upsert(&ledger)).handle_attempt(newer_delivery, attempt(&newer));
    let first = tokio::spawn(first);
    inside.notified().await;
    let second = Arc::new(upsert(&replica))
        .handle_attempt(older_delivery, attempt(&older))
        .await
        .unwrap();
    let first = first.await.unwrap().unwrap();
    assert_eq!((first, second), (Handled::Done, Handled::Stale));
    assert_eq!(users(&server, "first")["u1"].as_deref(), Some("newer"));
}
