//! What every inbox store must do, run by each store's tests over a fresh inbox per check:
//! de-duplication at the door, workers handling each delivery, retries into the dead letters and
//! back, panics and timeouts as failed attempts, reclaiming a dead worker's delivery, graceful
//! shutdown, and every Appwrite version stored and verified again.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use appwrite_webhooks::inbox::{Inbox, Put, RetryPolicy, State, Workers};
use appwrite_webhooks::{Delivery, Error, Verifier, sender::DeliveryBuilder};
use http_body_util::Full;

/// A fresh SQLite inbox in an empty temporary directory named for `name` and this process,
/// capped at `max_bytes` if given.
pub fn sqlite_inbox(name: &str, max_bytes: Option<u64>) -> Inbox {
    let dir = crate::scratch::dir(&format!("inbox-{name}"));
    let mut builder = appwrite_webhooks_sqlite::SqliteLedger::builder(dir.join("inbox.db"));
    if let Some(bytes) = max_bytes {
        builder = builder.max_bytes(bytes);
    }
    Inbox::new(builder.open().expect("a fresh SQLite inbox"))
}

/// The URL the suite's deliveries are signed for.
pub const URL: &str = "https://example.com/hook";
/// The key the suite's deliveries are signed with.
pub const KEY: &str = "inbox-key";

/// The suite's verifier.
pub fn verifier() -> Verifier {
    Verifier::new(KEY, URL)
}

/// A signed `users.*.create` delivery with `body`, through [`Inbox::accept`].
pub async fn accept(inbox: &Inbox, body: &str) -> Result<Put, Error> {
    let request = DeliveryBuilder::new(KEY, URL, body.to_owned())
        .events(user_events(body))
        .build()
        .into_request();
    let (parts, body) = request.into_parts();
    inbox
        .accept(&verifier(), &parts.uri, &parts.headers, Full::new(body))
        .await
}

/// The events Appwrite sends for a user created with `body`: its `$id` (`u1` if none).
pub(crate) fn user_events(body: &str) -> Vec<String> {
    let id = serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.get("$id").and_then(|id| id.as_str()).map(str::to_owned))
        .unwrap_or_else(|| "u1".to_owned());
    [
        format!("users.{id}.create"),
        "users.*.create".into(),
        format!("users.{id}"),
        "users.*".into(),
    ]
    .into()
}

/// Stores `body` and returns its new id.
pub async fn stored(inbox: &Inbox, body: &str) -> u64 {
    match accept(inbox, body).await {
        Ok(Put::Stored(id)) => id,
        other => panic!("{body}: {other:?}"),
    }
}

/// Millisecond backoff, so retries happen within a test.
pub fn fast() -> RetryPolicy {
    RetryPolicy::default()
        .with_initial_backoff(Duration::from_millis(5))
        .with_max_backoff(Duration::from_millis(20))
        .with_attempt_timeout(Duration::from_secs(5))
}

/// Polls `done` until it holds (10 s at most).
pub async fn until(what: &str, mut done: impl AsyncFnMut() -> bool) {
    for _ in 0..2000 {
        if done().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("timed out waiting for {what}");
}

/// Every check, each on a fresh inbox from `make(name)`.
pub async fn run_all(make: impl Fn(&str) -> Inbox) {
    stores_once_and_refuses_forgeries(make("once")).await;
    every_version_is_stored_and_verifies_again(make("versions")).await;
    workers_handle_each_delivery_once_and_resends_after_are_duplicates(make("handle")).await;
    crate::dead_letters::failing_handlers_end_in_the_dead_letters_and_a_retry_completes_them(make(
        "dead",
    ))
    .await;
    panics_and_timeouts_are_failed_attempts_with_their_reason(make("panic")).await;
    a_dead_workers_delivery_is_taken_again_after_the_visibility_timeout(make("visibility")).await;
    shutdown_finishes_quick_attempts_and_hands_back_slow_ones_uncounted(make("shutdown")).await;
    crate::dead_letters::retry_all_and_purge(make("purge")).await;
    crate::dead_letters::one_dead_letter_is_deleted_alone(make("delete-dead")).await;
    crate::inbox_identity::one_body_under_several_labels_is_stored_per_label(make("labels")).await;
}

/// A byte-identical re-send is a duplicate; a refused delivery stores nothing.
pub async fn stores_once_and_refuses_forgeries(inbox: Inbox) {
    let body = r#"{"$id":"u1","name":"caf\u00e9 \/ x"}"#;
    let id = stored(&inbox, body).await;
    assert_eq!(accept(&inbox, body).await.unwrap(), Put::Duplicate(id));
    let other = stored(&inbox, "{}").await;
    assert_ne!(other, id);
    let (parts, bytes) = DeliveryBuilder::new("wrong", URL, "{}")
        .build()
        .into_request()
        .into_parts();
    let refused = inbox
        .accept(&verifier(), &parts.uri, &parts.headers, Full::new(bytes))
        .await;
    assert!(matches!(refused, Err(Error::SignatureMismatch)));
    let stats = inbox.admin().stats().await.unwrap();
    assert_eq!(
        (stats.stored, stats.pending, stats.done, stats.dead),
        (2, 2, 0, 0)
    );
    // A resource created and deleted unchanged: one body and signature, two events, both kept.
    let created = DeliveryBuilder::new(KEY, URL, r#"{"$id":"s1"}"#)
        .events(["users.u1.sessions.s1.create"])
        .build();
    let (url, mut headers, bytes) = created.clone().into_parts();
    headers.insert(
        appwrite_webhooks::headers::WEBHOOK_EVENTS,
        http::HeaderValue::from_static("users.u1.sessions.s1.delete"),
    );
    let deleted = appwrite_webhooks::sender::SignedDelivery::from_parts(url, headers, bytes);
    let mut ids = Vec::new();
    for sent in [&created, &deleted, &created, &deleted] {
        let (parts, body) = sent.clone().into_request().into_parts();
        let put = inbox
            .accept(&verifier(), &parts.uri, &parts.headers, Full::new(body))
            .await
            .unwrap();
        ids.push(put);
    }
    assert!(
        matches!(ids[..], [Put::Stored(c), Put::Stored(d), Put::Duplicate(c2), Put::Duplicate(d2)] if c == c2 && d == d2 && c != d),
        "{ids:?}"
    );
    let stats = inbox.admin().stats().await.unwrap();
    assert_eq!(stats.stored, 4);
    let row = inbox.admin().get(id).await.unwrap().expect("stored");
    assert_eq!((row.state, row.attempts), (State::Pending, 0));
    assert_eq!(&row.received.body[..], body.as_bytes());
    let again = verifier().verify_stored(&row.received).await.unwrap();
    assert_eq!(again.events().next(), Some("users.u1.create"));
    let listed = inbox.admin().list(None, 10).await.unwrap();
    assert_eq!(
        listed.iter().map(|r| r.id).take(2).collect::<Vec<_>>(),
        [id, other]
    );
    assert_eq!(listed.len(), 4);
    assert_eq!(inbox.admin().list(None, 1).await.unwrap().len(), 1);
    assert!(
        inbox
            .admin()
            .list(Some(State::Dead), 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(inbox.admin().get(999_999).await.unwrap().is_none());
}

/// Deliveries made by every Appwrite release (and main) are stored byte for byte and verify
/// again from what was kept, typed as when they arrived.
pub async fn every_version_is_stored_and_verifies_again(inbox: Inbox) {
    for d in crate::versions::versioned_deliveries() {
        let verifier = Verifier::new(d.signature_key.as_str(), d.url.as_str());
        let (parts, body) = d.signed().into_request().into_parts();
        let put = inbox
            .accept(&verifier, &parts.uri, &parts.headers, Full::new(body))
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", d.label()));
        let row = inbox
            .admin()
            .get(put.id().expect("an id"))
            .await
            .unwrap()
            .expect("stored");
        assert_eq!(row.received.body, d.body.as_bytes(), "{}", d.label());
        let delivery = verifier
            .verify_stored(&row.received)
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", d.label()));
        let kind = delivery.event().map(|e| e.kind()).ok();
        assert_eq!(kind, Some(d.expected_kind()), "{}", d.label());
        let primary = delivery.primary_event().map(|n| n.to_string());
        assert_eq!(
            primary.as_deref(),
            Some(d.expected_primary.as_str()),
            "{}",
            d.label()
        );
    }
}

/// See the name.
pub async fn workers_handle_each_delivery_once_and_resends_after_are_duplicates(inbox: Inbox) {
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
        .with_concurrency(3)
        .with_retry(fast())
        .start();
    for n in 0..20 {
        accept(&inbox, &format!(r#"{{"$id":"u{n}"}}"#))
            .await
            .unwrap();
    }
    until("20 done", async || {
        inbox.admin().stats().await.unwrap().done == 20
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
    let stats = inbox.admin().stats().await.unwrap();
    assert_eq!((stats.pending, stats.done), (0, 20));
}

/// See the name.
pub async fn panics_and_timeouts_are_failed_attempts_with_their_reason(inbox: Inbox) {
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
        .with_concurrency(2)
        .with_retry(
            fast()
                .with_max_attempts(2)
                // Long enough for a panic's backtrace to be printed (slow in debug builds with
                // RUST_BACKTRACE set) before the attempt times out.
                .with_attempt_timeout(Duration::from_secs(2)),
        )
        .start();
    until("both dead", async || {
        inbox.admin().stats().await.unwrap().dead == 2
    })
    .await;
    workers.shutdown(Duration::from_secs(1)).await;
    let error = |id| {
        let inbox = inbox.clone();
        async move {
            inbox
                .admin()
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

/// See the name.
pub async fn a_dead_workers_delivery_is_taken_again_after_the_visibility_timeout(inbox: Inbox) {
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
    assert_eq!(inbox.admin().stats().await.unwrap().in_flight, 1);
    tokio::time::sleep(Duration::from_millis(250)).await;
    let second = store
        .take("b", Duration::from_millis(200))
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

/// See the name.
pub async fn shutdown_finishes_quick_attempts_and_hands_back_slow_ones_uncounted(inbox: Inbox) {
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
        .with_concurrency(2)
        .with_retry(fast())
        .start();
    until("both started", async || started.load(Ordering::SeqCst) == 2).await;
    workers.shutdown(Duration::from_secs(1)).await;
    let store = inbox.admin();
    assert_eq!(store.get(quick).await.unwrap().unwrap().state, State::Done);
    let handed_back = store.get(slow).await.unwrap().unwrap();
    assert_eq!(
        (handed_back.state, handed_back.attempts),
        (State::Pending, 0)
    );
    // Due at once, for the next worker.
    let next = inbox
        .store()
        .take("next", Duration::from_secs(5))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((next.lease.id, next.attempt), (slow, 1));
}
