//! Per-resource ordering on Redis (`RedisLedger::ordered`), against a real `redis-server`: a
//! stale copy is settled stale without its handler, a delete outranks a late update of the same
//! moment, deliveries without a version pass through, and a failed handler records no version
//! (leases and locks: `ordering_leases.rs`; random interleavings: `ordering_property.rs`).
//! Loops are bounded; nothing asserts on time.

mod ordering_support;

use std::sync::Arc;
use std::time::Duration;

use appwrite_webhooks::inbox::{Filter, Handled, Inbox, InboxHandler, Purge, Put, State, Stats};
use appwrite_webhooks::observe::INBOX_ATTEMPTS;
use ordering_support::{
    Fail, Outgoing, Shared, accept, attempt, drained, ledger, mirror, timestamp, workers,
};
use testkit::observe_suite::Capture;
use testkit::redis::RedisServer;

/// Stores `send`, waits for the workers, and returns its row's state and last error.
async fn handled(inbox: &Inbox, send: &Outgoing) -> (State, Option<String>) {
    let id = accept(inbox, send).await.id().unwrap();
    drained(inbox).await;
    let row = inbox.admin().get(id).await.unwrap().unwrap();
    (row.state, row.last_error)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_copy_is_settled_stale_and_its_handler_is_not_run() {
    let capture = Capture::install();
    let stale_before = capture.counter(INBOX_ATTEMPTS, &[("outcome", "stale")]);
    let redis = RedisServer::start();
    let (ledger, inbox) = ledger(&redis, "stale:").await;
    let seen = Shared::default();
    let running = workers(
        &inbox,
        ledger.ordered(mirror(seen.clone(), |_, _| Fail::No)),
        1,
    )
    .start();

    let newer = Outgoing::user("d1", "update", "new", Some(&timestamp(6)));
    assert_eq!(handled(&inbox, &newer).await, (State::Done, None));
    let older = Outgoing::user("d2", "update", "old", Some(&timestamp(5)));
    let (state, why) = handled(&inbox, &older).await;
    assert_eq!(state, State::Stale);
    let why = why.unwrap();
    assert!(why.starts_with("stale: users.u1 (Update at "), "{why}");
    assert!(
        why.contains("older than the Update at") && why.ends_with("by delivery 1"),
        "{why}"
    );
    running.shutdown(Duration::from_secs(5)).await;

    {
        let seen = seen.lock().unwrap();
        assert_eq!(seen.users["u1"], "new");
        assert_eq!(
            seen.calls.get("d2"),
            None,
            "the stale copy's handler never ran"
        );
    }
    let stats = inbox.admin().stats().await.unwrap();
    assert_eq!(
        (stats.done, stats.stale, stats.stored),
        (1, 1, 2),
        "{stats:?}"
    );
    let stale = inbox.admin().list(Some(State::Stale), 10).await.unwrap();
    assert_eq!(stale.iter().map(|row| row.id).collect::<Vec<_>>(), [2]);
    let filter = Filter::default().with_state(State::Stale);
    let found = inbox.admin().find(&filter, None, 10).await.unwrap();
    assert_eq!(
        found.items.iter().map(|row| row.id).collect::<Vec<_>>(),
        [2]
    );
    assert_eq!(
        inbox
            .admin()
            .list(Some(State::Done), 10)
            .await
            .unwrap()
            .len(),
        1
    );
    // Its copies are answered as a handled delivery's: a duplicate, not stored again.
    assert!(matches!(accept(&inbox, &older).await, Put::Duplicate(2)));
    assert!(capture.counter(INBOX_ATTEMPTS, &[("outcome", "stale")]) > stale_before);
    // The version applied, as an operator finds it.
    assert_eq!(redis.cli(&["HGET", "stale:inbox:v:users.u1", "by"]), "1");
    assert_eq!(redis.cli(&["EXISTS", "stale:inbox:lock:users.u1"]), "0");
    assert_eq!(
        redis.cli(&["TTL", "stale:inbox:v:users.u1"]),
        "-1",
        "kept for ever"
    );
    // Purged with the done deliveries; the version stays.
    assert_eq!(inbox.admin().purge(Purge::Done).await.unwrap(), 2);
    assert_eq!(inbox.admin().stats().await.unwrap(), Stats::default());
    assert_eq!(redis.cli(&["EXISTS", "stale:inbox:stale"]), "0");
    assert_eq!(redis.cli(&["HGET", "stale:inbox:v:users.u1", "by"]), "1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_delivery_is_kept_for_the_retention_as_a_done_one_is() {
    let redis = RedisServer::start();
    let (ledger, inbox) = ledger(&redis, "kept:").await;
    let inbox = inbox.with_retention(Duration::from_millis(1));
    let seen = Shared::default();
    let handler = ledger.ordered(mirror(seen.clone(), |_, _| Fail::No));
    let running = workers(&inbox, handler, 1).start();
    let newer = Outgoing::user("d1", "update", "new", Some(&timestamp(6)));
    accept(&inbox, &newer).await;
    drained(&inbox).await;
    accept(
        &inbox,
        &Outgoing::user("d2", "update", "old", Some(&timestamp(5))),
    )
    .await;
    // Once both are settled and their retention has passed, neither is counted or held.
    for _ in 0..2000 {
        if inbox.admin().stats().await.unwrap() == Stats::default() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    running.shutdown(Duration::from_secs(5)).await;
    assert_eq!(inbox.admin().stats().await.unwrap(), Stats::default());
    assert_eq!(redis.cli(&["EXISTS", "kept:inbox:stale"]), "0");
    assert_eq!(seen.lock().unwrap().calls.get("d2"), None);
    // The version outlives the deliveries: a copy of the stale one arriving now is stale too.
    assert_eq!(redis.cli(&["HGET", "kept:inbox:v:users.u1", "by"]), "1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delete_is_not_undone_by_a_late_update_of_the_same_moment() {
    let redis = RedisServer::start();
    let (ledger, inbox) = ledger(&redis, "delete:").await;
    let seen = Shared::default();
    let running = workers(
        &inbox,
        ledger.ordered(mirror(seen.clone(), |_, _| Fail::No)),
        1,
    )
    .start();
    let at = timestamp(5);
    let created = Outgoing::user("d0", "create", "Ada", Some(&timestamp(4)));
    assert_eq!(handled(&inbox, &created).await.0, State::Done);
    assert_eq!(seen.lock().unwrap().users.len(), 1);
    for (send, state) in [
        (
            Outgoing::user("d1", "delete", "Ada", Some(&at)),
            State::Done,
        ),
        (
            Outgoing::user("d2", "update", "Ada", Some(&at)),
            State::Stale,
        ),
        (
            Outgoing::user("d3", "create", "Ada", Some(&at)),
            State::Stale,
        ),
        (
            Outgoing::user("d4", "update", "Ada", Some(&timestamp(4))),
            State::Stale,
        ),
    ] {
        let (got, why) = handled(&inbox, &send).await;
        assert_eq!(got, state, "{}", send.delivery_id);
        if state == State::Stale {
            let why = why.unwrap_or_default();
            assert!(
                why.contains("older than the Delete") && why.ends_with("delivery 2"),
                "{why}"
            );
        }
        assert!(
            seen.lock().unwrap().users.is_empty(),
            "{}",
            send.delivery_id
        );
    }
    // Created again later (a newer $updatedAt): applied.
    let again = Outgoing::user("d5", "create", "Cy", Some(&timestamp(6)));
    assert_eq!(handled(&inbox, &again).await.0, State::Done);
    assert_eq!(seen.lock().unwrap().users["u1"], "Cy");
    running.shutdown(Duration::from_secs(5)).await;
    let stats = inbox.admin().stats().await.unwrap();
    assert_eq!(
        (stats.done, stats.stale, stats.stored),
        (3, 3, 6),
        "{stats:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deliveries_without_a_version_pass_through() {
    let redis = RedisServer::start();
    let (ledger, inbox) = ledger(&redis, "unversioned:").await;
    let seen = Shared::default();
    let running = workers(
        &inbox,
        ledger.ordered(mirror(seen.clone(), |_, _| Fail::No)),
        1,
    )
    .start();
    let newer = Outgoing::user("d1", "update", "versioned", Some(&timestamp(9)));
    assert_eq!(handled(&inbox, &newer).await.0, State::Done);
    // No $updatedAt: not compared with the version applied, handled as any delivery.
    let bare = Outgoing::user("d2", "update", "bare", None);
    assert_eq!(handled(&inbox, &bare).await, (State::Done, None));
    assert_eq!(seen.lock().unwrap().users["u1"], "bare");
    // Nor is a delivery whose event names no concrete resource.
    let wild = Outgoing {
        delivery_id: "d3".into(),
        event: "users.*.update".into(),
        body: format!(
            r#"{{"$id":"u1","name":"wild","$updatedAt":"{}"}}"#,
            timestamp(1)
        ),
    };
    assert_eq!(handled(&inbox, &wild).await, (State::Done, None));
    assert_eq!(seen.lock().unwrap().users["u1"], "wild");
    running.shutdown(Duration::from_secs(5)).await;
    // Neither recorded a version: the one applied is still the first's.
    assert_eq!(
        redis.cli(&["HGET", "unversioned:inbox:v:users.u1", "by"]),
        "1"
    );
    let stats = inbox.admin().stats().await.unwrap();
    assert_eq!((stats.done, stats.stale), (3, 0), "{stats:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handler_error_records_no_version_and_the_retry_applies() {
    let redis = RedisServer::start();
    let (ledger, inbox) = ledger(&redis, "fails:").await;
    let seen = Shared::default();
    let fail_first = |id: &str, call: u32| {
        if (id, call) == ("d1", 1) {
            Fail::AfterEffect
        } else {
            Fail::No
        }
    };
    let handler: Arc<dyn InboxHandler> = Arc::new(ledger.ordered(mirror(seen.clone(), fail_first)));
    accept(
        &inbox,
        &Outgoing::user("d1", "update", "six", Some(&timestamp(6))),
    )
    .await;

    let (taken, handled) = attempt(&inbox, &handler).await;
    assert!(handled.is_err());
    assert_eq!(
        redis.cli(&["EXISTS", "fails:inbox:v:users.u1"]),
        "0",
        "no version recorded"
    );
    // The failed attempt lets go of the resource (in a task of its own).
    for _ in 0..2000 {
        if redis.cli(&["EXISTS", "fails:inbox:lock:users.u1"]) == "0" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(redis.cli(&["EXISTS", "fails:inbox:lock:users.u1"]), "0");
    // So an older copy arriving meanwhile is still applied: nothing newer was. (Its stream
    // entry is older than the retry's, so it is taken first.)
    accept(
        &inbox,
        &Outgoing::user("d2", "update", "five", Some(&timestamp(5))),
    )
    .await;
    let now = std::time::SystemTime::now();
    assert!(
        inbox
            .store()
            .fail(&taken.lease, "failed", now)
            .await
            .unwrap()
    );
    let (older, handled) = attempt(&inbox, &handler).await;
    assert_eq!((older.lease.id, handled.unwrap()), (2, Handled::Done));
    assert_eq!(seen.lock().unwrap().users["u1"], "five");
    assert_eq!(redis.cli(&["HGET", "fails:inbox:v:users.u1", "by"]), "2");

    // The retry is compared again, and applied: it is newer.
    let (retried, handled) = attempt(&inbox, &handler).await;
    assert_eq!((retried.lease.id, retried.attempt), (1, 2));
    assert_eq!(handled.unwrap(), Handled::Done);
    assert_eq!(seen.lock().unwrap().users["u1"], "six");
    assert_eq!(redis.cli(&["HGET", "fails:inbox:v:users.u1", "by"]), "1");
    let stats = inbox.admin().stats().await.unwrap();
    assert_eq!(
        (stats.done, stats.stale, stats.pending),
        (2, 0, 0),
        "{stats:?}"
    );
}
