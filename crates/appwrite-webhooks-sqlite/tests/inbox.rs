//! The SQLite inbox and the workers over it, on real files.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use appwrite_webhooks::inbox::{Inbox, Purge, Put, Received, RetryPolicy, State, Workers};
use appwrite_webhooks::{Delivery, Error, Verifier, sender::DeliveryBuilder};
use appwrite_webhooks_sqlite::SqliteInbox;
use http_body_util::Full;

const URL: &str = "https://example.com/hook";
const KEY: &str = "inbox-key";

fn path(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("aw-sqlite-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir.join("inbox.db")
}

fn verifier() -> Verifier {
    Verifier::new(KEY, URL)
}

async fn accept(inbox: &Inbox, body: &str) -> Result<Put, Error> {
    let request = DeliveryBuilder::new(KEY, URL, body.to_owned())
        .events(["users.u1.create", "users.*.create", "users.u1", "users.*"])
        .build()
        .into_request();
    let (parts, body) = request.into_parts();
    inbox
        .accept(&verifier(), &parts.uri, &parts.headers, Full::new(body))
        .await
}

fn fast() -> RetryPolicy {
    RetryPolicy::default()
        .initial_backoff(Duration::from_millis(5))
        .max_backoff(Duration::from_millis(20))
        .attempt_timeout(Duration::from_secs(5))
}

async fn until(what: &str, mut done: impl AsyncFnMut() -> bool) {
    for _ in 0..2000 {
        if done().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("timed out waiting for {what}");
}

#[tokio::test]
async fn stores_exactly_what_was_received_once_and_survives_reopening() {
    let file = path("store");
    let inbox = Inbox::new(SqliteInbox::open(&file).unwrap());
    let body = r#"{"$id":"u1","name":"caf\u00e9 \/ x"}"#;
    let first = accept(&inbox, body).await.unwrap();
    let Put::Stored(id) = first else {
        panic!("{first:?}")
    };
    // A byte-identical re-send is recognised, not stored again.
    assert_eq!(accept(&inbox, body).await.unwrap(), Put::Duplicate(id));
    assert!(matches!(accept(&inbox, "{}").await.unwrap(), Put::Stored(other) if other != id));
    // Refused deliveries are not stored.
    let sent = DeliveryBuilder::new("wrong", URL, "{}")
        .build()
        .into_request();
    let (parts, bytes) = sent.into_parts();
    let refused = inbox
        .accept(&verifier(), &parts.uri, &parts.headers, Full::new(bytes))
        .await;
    assert!(matches!(refused, Err(Error::SignatureMismatch)));
    drop(inbox);

    let reopened = Inbox::new(SqliteInbox::builder(&file).existing().open().unwrap());
    let stats = reopened.store().stats().await.unwrap();
    assert_eq!(
        (stats.stored, stats.pending, stats.done, stats.dead),
        (2, 2, 0, 0)
    );
    let stored = reopened.store().get(id).await.unwrap().unwrap();
    assert_eq!(stored.state, State::Pending);
    assert_eq!(&stored.received.body[..], body.as_bytes());
    assert!(
        stored
            .received
            .headers
            .contains_key("x-appwrite-webhook-signature")
    );
    // It verifies again from what was kept.
    let delivery = verifier().verify_stored(&stored.received).unwrap();
    assert_eq!(delivery.events().next(), Some("users.u1.create"));
    assert_eq!(reopened.store().list(None, 10).await.unwrap().len(), 2);
    assert!(reopened.store().get(9999).await.unwrap().is_none());
}

#[tokio::test]
async fn opening_a_missing_inbox_as_existing_fails() {
    let file = path("missing");
    let error = SqliteInbox::builder(&file).existing().open().unwrap_err();
    assert!(error.to_string().contains("inbox.db"), "{error}");
    assert!(!file.exists());
}

#[tokio::test]
async fn workers_handle_each_delivery_once_and_resends_after_are_duplicates() {
    let inbox = Inbox::new(SqliteInbox::open(path("handle")).unwrap());
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let handler = {
        let seen = Arc::clone(&seen);
        move |delivery: Delivery| {
            let seen = Arc::clone(&seen);
            async move {
                seen.lock().unwrap().push(delivery.body().to_vec());
                Ok::<_, std::io::Error>(())
            }
        }
    };
    let workers = Workers::new(inbox.clone(), verifier(), handler)
        .concurrency(3)
        .retry(fast())
        .start();
    for n in 0..20 {
        accept(&inbox, &format!(r#"{{"$id":"u{n}"}}"#))
            .await
            .unwrap();
    }
    until("20 done", async || {
        inbox.store().stats().await.unwrap().done == 20
    })
    .await;
    assert!(matches!(
        accept(&inbox, r#"{"$id":"u3"}"#).await.unwrap(),
        Put::Duplicate(_)
    ));
    workers.shutdown(Duration::from_secs(5)).await;
    let mut seen = seen.lock().unwrap().clone();
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 20, "every delivery handled");
    let stats = inbox.store().stats().await.unwrap();
    assert_eq!((stats.pending, stats.done), (0, 20));
}

#[tokio::test]
async fn failing_handlers_end_in_the_dead_letters_and_a_retry_completes_them() {
    let inbox = Inbox::new(SqliteInbox::open(path("dead")).unwrap());
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
        .retry(fast().max_attempts(3))
        .start();
    until("a dead letter", async || {
        inbox.store().stats().await.unwrap().dead == 1
    })
    .await;
    workers.shutdown(Duration::from_secs(1)).await;
    assert_eq!(
        calls.load(Ordering::SeqCst),
        3,
        "exactly the configured attempts"
    );
    let dead = inbox.store().get(id).await.unwrap().unwrap();
    assert_eq!((dead.state, dead.attempts), (State::Dead, 3));
    assert_eq!(dead.last_error.as_deref(), Some("database is down"));
    assert_eq!(
        inbox
            .store()
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

    assert!(inbox.store().retry(id).await.unwrap());
    assert!(!inbox.store().retry(id).await.unwrap(), "no longer dead");
    let workers = Workers::new(inbox.clone(), verifier(), |_: Delivery| async {
        Ok::<_, std::io::Error>(())
    })
    .retry(fast())
    .start();
    until("done after retry", async || {
        inbox.store().get(id).await.unwrap().unwrap().state == State::Done
    })
    .await;
    workers.shutdown(Duration::from_secs(1)).await;
    assert_eq!(inbox.store().purge(Purge::Done).await.unwrap(), 1);
    assert_eq!(inbox.store().stats().await.unwrap().stored, 0);
}

#[tokio::test]
async fn panics_and_timeouts_are_failed_attempts_with_their_reason() {
    let inbox = Inbox::new(SqliteInbox::open(path("panic")).unwrap());
    let Put::Stored(panicked) = accept(&inbox, r#"{"$id":"panic"}"#).await.unwrap() else {
        panic!()
    };
    let Put::Stored(slow) = accept(&inbox, r#"{"$id":"slow"}"#).await.unwrap() else {
        panic!()
    };
    let handler = |delivery: Delivery| async move {
        if delivery.body().starts_with(br#"{"$id":"panic""#) {
            panic!("bad row");
        }
        tokio::time::sleep(Duration::from_secs(60)).await;
        Ok::<_, std::io::Error>(())
    };
    let workers = Workers::new(inbox.clone(), verifier(), handler)
        .concurrency(2)
        .retry(
            fast()
                .max_attempts(2)
                .attempt_timeout(Duration::from_millis(100)),
        )
        .start();
    until("both dead", async || {
        inbox.store().stats().await.unwrap().dead == 2
    })
    .await;
    workers.shutdown(Duration::from_secs(1)).await;
    let error = |id| {
        let inbox = inbox.clone();
        async move {
            inbox
                .store()
                .get(id)
                .await
                .unwrap()
                .unwrap()
                .last_error
                .unwrap()
        }
    };
    assert_eq!(error(panicked).await, "handler panicked: bad row");
    assert!(
        error(slow).await.starts_with("handler timed out"),
        "{}",
        error(slow).await
    );
}

#[tokio::test]
async fn a_dead_workers_delivery_is_taken_again_after_the_visibility_timeout() {
    let inbox = Inbox::new(SqliteInbox::open(path("visibility")).unwrap());
    accept(&inbox, "{}").await.unwrap();
    let store = inbox.store();
    let first = store
        .take("a", Duration::from_millis(200))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(first.attempt, 1);
    assert!(
        store
            .take("b", Duration::from_millis(200))
            .await
            .unwrap()
            .is_none(),
        "hidden"
    );
    assert_eq!(store.stats().await.unwrap().in_flight, 1);
    tokio::time::sleep(Duration::from_millis(250)).await;
    let second = store
        .take("b", Duration::from_secs(5))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(second.attempt, 2);
    // The first worker's late outcome is not taken: the delivery is someone else's now.
    assert!(
        !store
            .complete(&first.lease, Duration::from_secs(60))
            .await
            .unwrap()
    );
    assert!(
        store
            .complete(&second.lease, Duration::from_secs(60))
            .await
            .unwrap()
    );
}

#[tokio::test]
async fn shutdown_finishes_quick_attempts_and_hands_back_slow_ones_uncounted() {
    let inbox = Inbox::new(SqliteInbox::open(path("shutdown")).unwrap());
    let Put::Stored(quick) = accept(&inbox, r#"{"$id":"quick"}"#).await.unwrap() else {
        panic!()
    };
    let Put::Stored(slow) = accept(&inbox, r#"{"$id":"slow"}"#).await.unwrap() else {
        panic!()
    };
    let started = Arc::new(AtomicU32::new(0));
    let handler = {
        let started = Arc::clone(&started);
        move |delivery: Delivery| {
            started.fetch_add(1, Ordering::SeqCst);
            let wait = if delivery.body().starts_with(br#"{"$id":"quick""#) {
                300
            } else {
                60_000
            };
            async move {
                tokio::time::sleep(Duration::from_millis(wait)).await;
                Ok::<_, std::io::Error>(())
            }
        }
    };
    let workers = Workers::new(inbox.clone(), verifier(), handler)
        .concurrency(2)
        .retry(fast())
        .start();
    until("both started", async || started.load(Ordering::SeqCst) == 2).await;
    workers.shutdown(Duration::from_secs(1)).await;
    let store = inbox.store();
    assert_eq!(store.get(quick).await.unwrap().unwrap().state, State::Done);
    let handed_back = store.get(slow).await.unwrap().unwrap();
    assert_eq!(
        (handed_back.state, handed_back.attempts),
        (State::Pending, 0)
    );
    // Due at once, for the next worker.
    let next = store
        .take("next", Duration::from_secs(5))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((next.lease.id, next.attempt), (slow, 1));
}

#[tokio::test]
async fn a_full_inbox_stores_nothing_and_says_so() {
    let file = path("full");
    let inbox = Inbox::new(
        SqliteInbox::builder(&file)
            .max_bytes(64 * 1024)
            .open()
            .unwrap(),
    );
    let big = format!(r#"{{"$id":"u1","pad":"{}"}}"#, "x".repeat(20_000));
    let mut stored = 0;
    let error = loop {
        match accept(&inbox, &big.replace("u1", &format!("u{stored}"))).await {
            Ok(Put::Stored(_)) => stored += 1,
            Ok(put) => panic!("{put:?}"),
            Err(error) => break error,
        }
        assert!(stored < 10, "the cap was not applied");
    };
    assert!(matches!(error, Error::InboxStore(_)), "{error:?}");
    assert_eq!(error.status(), 503);
    // Nothing half-way: what is there is whole and verifies.
    let stats = inbox.store().stats().await.unwrap();
    assert_eq!(stats.stored, stored);
    for row in inbox.store().list(None, 100).await.unwrap() {
        verifier().verify_stored(&row.received).unwrap();
    }
}

#[tokio::test]
async fn a_delivery_edited_in_the_store_is_never_handled() {
    let file = path("edited");
    let inbox = Inbox::new(SqliteInbox::open(&file).unwrap());
    let Put::Stored(id) = accept(&inbox, r#"{"$id":"u1","role":"user"}"#)
        .await
        .unwrap()
    else {
        panic!()
    };
    let edit = rusqlite::Connection::open(&file).unwrap();
    edit.execute(
        "UPDATE deliveries SET body = CAST(? AS BLOB) WHERE id = ?",
        rusqlite::params![r#"{"$id":"u1","role":"admin"}"#, id as i64],
    )
    .unwrap();
    let ran = Arc::new(AtomicU32::new(0));
    let handler = {
        let ran = Arc::clone(&ran);
        move |_: Delivery| {
            ran.fetch_add(1, Ordering::SeqCst);
            async { Ok::<_, std::io::Error>(()) }
        }
    };
    let workers = Workers::new(inbox.clone(), verifier(), handler).start();
    until("dead", async || {
        inbox.store().stats().await.unwrap().dead == 1
    })
    .await;
    workers.shutdown(Duration::from_secs(1)).await;
    assert_eq!(ran.load(Ordering::SeqCst), 0);
    let row = inbox.store().get(id).await.unwrap().unwrap();
    assert!(row.last_error.unwrap().starts_with("no longer verifies"));
}

#[test]
fn received_keeps_no_credentials() {
    let sent = DeliveryBuilder::new(KEY, URL, "{}").build();
    let mut headers = sent.headers().clone();
    headers.insert("authorization", "Basic dTpw".parse().unwrap());
    headers.insert("cookie", "a=b".parse().unwrap());
    let delivery = verifier()
        .verify(&headers, sent.body())
        .unwrap()
        .into_owned();
    let received = Received::new(&"/hook".parse().unwrap(), &headers, &delivery);
    assert!(!received.headers.contains_key("authorization"));
    assert!(!received.headers.contains_key("cookie"));
    assert!(received.headers.contains_key("x-appwrite-webhook-events"));
}
