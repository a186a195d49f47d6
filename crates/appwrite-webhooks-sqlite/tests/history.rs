//! Schema version 3: every attempt is recorded when it is taken and when it is settled, pages
//! are found under a keyset cursor, and activity is counted per minute.

mod common;

use std::time::{Duration, SystemTime};

use appwrite_webhooks::inbox::{AttemptOutcome, Filter, InboxAdmin, InboxStore, State};
use appwrite_webhooks_sqlite::SqliteLedger;
use common::{path, put_new, query, received, take};
use http::HeaderValue;

#[tokio::test]
async fn attempts_are_recorded_with_outcomes_and_durations() {
    let file = path("history-attempts");
    let ledger = SqliteLedger::open(&file).unwrap();
    let id = put_new(&ledger, received(1, 10)).await;

    let first = take(&ledger, "w1").await;
    assert!(
        ledger
            .fail(&first.lease, "boom <b>", SystemTime::now())
            .await
            .unwrap()
    );
    let second = take(&ledger, "w2").await;
    assert!(ledger.dead(&second.lease, "gave up").await.unwrap());
    assert!(ledger.requeue(id).await.unwrap());
    let third = take(&ledger, "w1").await;
    assert!(
        ledger
            .complete(&third.lease, Duration::from_secs(60))
            .await
            .unwrap()
    );

    let attempts = ledger.attempts(id).await.unwrap().expect("recorded");
    let outcomes: Vec<_> = attempts.iter().map(|a| (a.attempt, a.outcome)).collect();
    assert_eq!(
        outcomes,
        [
            (1, AttemptOutcome::Retry),
            (2, AttemptOutcome::Dead),
            (1, AttemptOutcome::Done)
        ]
    );
    assert_eq!(attempts[0].error.as_deref(), Some("boom <b>"));
    assert_eq!(attempts[0].worker.as_deref(), Some("w1"));
    assert!(attempts.iter().all(|a| a.duration.is_some()));

    let minutes = ledger
        .activity(SystemTime::now() - Duration::from_secs(3600))
        .await
        .unwrap()
        .expect("counted");
    assert_eq!(minutes.len(), 61);
    let total =
        |f: fn(&appwrite_webhooks::inbox::Minute) -> u64| minutes.iter().map(f).sum::<u64>();
    assert_eq!(total(|m| m.received), 1);
    assert_eq!(total(|m| m.done), 1);
    assert_eq!(total(|m| m.retried), 1);
    assert_eq!(total(|m| m.failed), 1);

    // A purge takes the history with the delivery.
    ledger
        .purge(appwrite_webhooks::inbox::Purge::Done)
        .await
        .unwrap();
    assert_eq!(query(&file, "SELECT count(*) FROM attempts"), 0);
}

#[tokio::test]
async fn an_attempt_whose_lease_ran_out_is_abandoned() {
    let file = path("history-abandoned");
    let ledger = SqliteLedger::open(&file).unwrap();
    let id = put_new(&ledger, received(1, 10)).await;
    let _lost = ledger.take("w1", Duration::ZERO).await.unwrap().unwrap();
    let again = take(&ledger, "w2").await;
    assert!(
        ledger
            .complete(&again.lease, Duration::from_secs(60))
            .await
            .unwrap()
    );
    let attempts = ledger.attempts(id).await.unwrap().unwrap();
    assert_eq!(attempts[0].outcome, AttemptOutcome::Abandoned);
    assert_eq!(attempts[1].outcome, AttemptOutcome::Done);
}

#[tokio::test]
async fn pages_follow_a_keyset_cursor_under_filters() {
    let file = path("history-find");
    let ledger = SqliteLedger::open(&file).unwrap();
    for n in 0..25u64 {
        let mut delivery = received(n, 4);
        let event = if n.is_multiple_of(2) {
            "users.u1.create"
        } else {
            "users.u2.delete"
        };
        delivery.headers.insert(
            appwrite_webhooks::headers::WEBHOOK_EVENTS,
            HeaderValue::from_static(event),
        );
        put_new(&ledger, delivery).await;
    }
    let filter = Filter::default().with_event("users.*.create").unwrap();
    let mut seen = Vec::new();
    let mut before = None;
    loop {
        let page = ledger.find(&filter, before, 5).await.unwrap();
        seen.extend(page.items.iter().map(|s| s.id));
        match page.next {
            Some(next) => before = Some(next),
            None => break,
        }
    }
    let expected: Vec<u64> = (1..=25).rev().filter(|id| id % 2 == 1).collect();
    assert_eq!(seen, expected);

    let resource = Filter::default()
        .with_resource("u2")
        .with_state(State::Pending);
    assert_eq!(
        ledger.find(&resource, None, 100).await.unwrap().items.len(),
        12
    );
    let dead = Filter::default().with_state(State::Dead);
    assert!(
        ledger
            .find(&dead, None, 100)
            .await
            .unwrap()
            .items
            .is_empty()
    );
}

#[tokio::test]
async fn one_dead_letter_is_deleted_and_nothing_else() {
    let file = path("history-delete");
    let ledger = SqliteLedger::open(&file).unwrap();
    let pending = put_new(&ledger, received(1, 4)).await;
    let dead = put_new(&ledger, received(2, 4)).await;
    let taken = take(&ledger, "w").await;
    assert_eq!(taken.lease.id, pending);
    assert!(ledger.hand_back(&taken.lease).await.unwrap());
    // Take until the second one is held, and kill it.
    let first = take(&ledger, "w").await;
    let second = take(&ledger, "w").await;
    let lease = if first.lease.id == dead {
        first.lease
    } else {
        second.lease
    };
    assert!(ledger.dead(&lease, "no").await.unwrap());
    assert!(!ledger.delete_dead(pending).await.unwrap());
    assert!(ledger.delete_dead(dead).await.unwrap());
    assert!(ledger.get(dead).await.unwrap().is_none());
    assert!(ledger.get(pending).await.unwrap().is_some());
}

#[tokio::test]
async fn a_filtered_page_reads_a_bounded_window_and_says_where_to_go_on() {
    use appwrite_webhooks::inbox::FIND_SCAN_LIMIT;
    let file = path("history-window");
    let ledger = SqliteLedger::builder(&file)
        .durability(appwrite_webhooks_sqlite::Durability::Normal)
        .open()
        .unwrap();
    let total = FIND_SCAN_LIMIT as u64 + 500;
    for n in 0..total {
        let mut delivery = received(n, 1);
        let id = if n == 3 {
            "old".to_owned()
        } else {
            format!("r{n}")
        };
        delivery.headers.insert(
            appwrite_webhooks::headers::WEBHOOK_EVENTS,
            HeaderValue::from_str(&format!("users.{id}.create")).unwrap(),
        );
        put_new(&ledger, delivery).await;
    }
    // Only the fourth delivery matches: the first page reads FIND_SCAN_LIMIT ids and stops.
    let filter = Filter::default().with_resource("old");
    let first = ledger.find(&filter, None, 10).await.unwrap();
    assert!(first.items.is_empty());
    let next = first.next.expect("a cursor to go on from");
    assert_eq!(next, total + 1 - FIND_SCAN_LIMIT as u64);
    let second = ledger.find(&filter, Some(next), 10).await.unwrap();
    assert_eq!(second.items.iter().map(|s| s.id).collect::<Vec<_>>(), [4]);
    assert_eq!(second.next, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_history_every_store_shows() {
    let ledger = SqliteLedger::open(path("history-suite")).unwrap();
    testkit::history_suite::records_attempts(ledger).await;
}
