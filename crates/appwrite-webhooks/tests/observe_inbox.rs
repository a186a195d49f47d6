//! Inbox mode's metrics and spans: enqueued and duplicate deliveries, worker attempts by
//! outcome, and the inbox's depth and dead letters as gauges (a test recorder and subscriber,
//! process-wide: this binary runs one test).

use std::time::Duration;

use appwrite_webhooks::MemoryLedger;
use appwrite_webhooks::inbox::{Inbox, Workers};
use appwrite_webhooks::observe::{
    DELIVERIES, INBOX_ATTEMPT_DURATION, INBOX_ATTEMPTS, INBOX_DELIVERIES,
};
use appwrite_webhooks::{Delivery, HandlerError};
use testkit::inbox_suite::{self, accept, fast, stored, until, verifier};
use testkit::observe_suite::Capture;

#[tokio::test]
async fn the_inbox_reports_its_outcomes_depth_and_dead_letters() {
    let capture = Capture::install();
    let inbox = Inbox::new(MemoryLedger::default());
    let good = stored(&inbox, r#"{"$id":"u1","name":"good"}"#).await;
    let bad = stored(&inbox, r#"{"$id":"u1","name":"bad"}"#).await;
    assert_ne!(good, bad);
    accept(&inbox, r#"{"$id":"u1","name":"good"}"#)
        .await
        .unwrap();
    let enqueued = [("outcome", "enqueued"), ("reason", "none")];
    let duplicate = [("outcome", "duplicate"), ("reason", "none")];
    assert_eq!(capture.counter(DELIVERIES, &enqueued), 2);
    assert_eq!(capture.counter(DELIVERIES, &duplicate), 1);

    let workers = Workers::new(inbox.clone(), verifier(), |delivery: Delivery| async move {
        if delivery.body().windows(3).any(|w| w == b"bad") {
            Err(HandlerError::from("the handler refuses it"))
        } else {
            Ok(())
        }
    })
    .with_retry(fast().with_max_attempts(3))
    .with_stats_interval(Duration::from_millis(20))
    .start();
    let attempts = |outcome| capture.counter(INBOX_ATTEMPTS, &[("outcome", outcome)]);
    until("the bad delivery is dead", async || attempts("dead") == 1).await;
    assert_eq!(attempts("done"), 1);
    assert_eq!(attempts("retry"), 2, "attempts 1 and 2 of 3 are retried");
    let depth = |state| capture.gauge(INBOX_DELIVERIES, &[("state", state)]);
    until("the gauges show it", async || {
        depth("dead") == Some(1.0) && depth("done") == Some(1.0) && depth("pending") == Some(0.0)
    })
    .await;
    assert_eq!(
        capture
            .histogram(INBOX_ATTEMPT_DURATION, &[("outcome", "retry")])
            .len(),
        2
    );
    workers.shutdown(Duration::from_secs(1)).await;

    // A payload that does not fit its model (its `$id` is not a string; any other field may be
    // of any shape) is counted (and still handed on).
    let url = "https://example.com/hook";
    let misfit =
        appwrite_webhooks::sender::DeliveryBuilder::new("k", url, r#"{"$id":5,"name":"t"}"#)
            .event(&"teams.t1.create".parse().unwrap())
            .build();
    let delivery = appwrite_webhooks::Verifier::new("k", url)
        .verify(misfit.headers(), misfit.body())
        .unwrap();
    assert!(matches!(
        delivery.event(),
        Ok(appwrite_webhooks::Event::Unparsed { .. })
    ));
    assert_eq!(
        capture.counter(appwrite_webhooks::observe::UNPARSED, &[]),
        1
    );

    let logs = capture.logs();
    assert!(
        logs.contains("appwrite_webhook_attempt{") && logs.contains("attempt=3"),
        "{logs}"
    );
    assert!(logs.contains("the handler refuses it"), "{logs}");
    assert!(!logs.contains(inbox_suite::KEY), "{logs}");
}
