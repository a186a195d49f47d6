//! The synchronous path and the inbox give the same answer to the same traffic: both key on the
//! delivery's identity ([`Delivery::fingerprint`](appwrite_webhooks::Delivery::fingerprint)), so
//! a delivery the replay guard handles is one the inbox stores, and a copy the guard answers as
//! a duplicate is one the inbox does not store again.

use appwrite_webhooks::MemoryLedger;
use appwrite_webhooks::inbox::{Inbox, Put};
use appwrite_webhooks::sender::{DeliveryBuilder, SignedDelivery};
use appwrite_webhooks::{Admission, MAX_LABELS_PER_BODY, ReplayGuard, Verifier};
use http_body_util::Full;

const URL: &str = "https://example.com/hook";

fn sent(body: &str, events: &str, delivery_id: Option<&str>) -> SignedDelivery {
    let builder = DeliveryBuilder::new("k", URL, body.to_owned()).events(events.split(','));
    match delivery_id {
        Some(id) => builder.delivery_id(id),
        None => builder,
    }
    .build()
}

/// What each path made of a delivery: handled (stored), or a copy of one before it.
#[derive(Debug, PartialEq)]
enum Answer {
    New,
    Copy,
}

#[tokio::test]
async fn the_guard_and_the_inbox_tell_the_same_deliveries_apart() {
    let user = r#"{"$id":"u1","name":"Ada"}"#;
    let session = r#"{"$id":"s1","userId":"u1"}"#;
    let traffic = [
        // A user created, then deleted unchanged: one body, two deliveries.
        (
            sent(
                user,
                "users.u1.create,users.*.create,users.u1,users.*",
                None,
            ),
            Answer::New,
        ),
        (
            sent(
                user,
                "users.u1.delete,users.*.delete,users.u1,users.*",
                None,
            ),
            Answer::New,
        ),
        // Appwrite's re-sends: the same bytes and the same events.
        (
            sent(
                user,
                "users.u1.create,users.*.create,users.u1,users.*",
                None,
            ),
            Answer::Copy,
        ),
        (
            sent(
                user,
                "users.u1.delete,users.*.delete,users.u1,users.*",
                None,
            ),
            Answer::Copy,
        ),
        // Newer servers name each delivery; their redeliveries repeat the id.
        (
            sent(session, "users.u1.sessions.s1.create", Some("d-1")),
            Answer::New,
        ),
        (
            sent(session, "users.u1.sessions.s1.create", Some("d-1")),
            Answer::Copy,
        ),
        (
            sent(session, "users.u1.sessions.s1.delete", Some("d-2")),
            Answer::New,
        ),
        (
            sent(session, "users.u1.sessions.s1.delete", Some("d-2")),
            Answer::Copy,
        ),
    ];

    let guarded = Verifier::new("k", URL).with_replay_guard(ReplayGuard::in_memory());
    let inbox = Inbox::new(MemoryLedger::default());
    for (n, (sent, expected)) in traffic.iter().enumerate() {
        let delivery = guarded.verify(sent.headers(), sent.body()).unwrap();
        let by_guard = match guarded.admit(&delivery).await {
            Ok(Admission::Handle(claim)) => {
                claim.settle(true).await;
                Answer::New
            }
            Ok(Admission::Duplicate { .. }) => Answer::Copy,
            other => panic!("#{n}: {other:?}"),
        };
        let (parts, body) = sent.clone().into_request().into_parts();
        let put = inbox
            .accept(&guarded, &parts.uri, &parts.headers, Full::new(body))
            .await
            .unwrap();
        let by_inbox = match put {
            Put::Stored(_) => Answer::New,
            _ => Answer::Copy,
        };
        assert_eq!(&by_guard, expected, "guard, #{n}");
        assert_eq!(&by_inbox, expected, "inbox, #{n}");
    }
}

/// Labels are unsigned: a captured body replayed under invented delivery ids (or events) is a
/// new delivery each time — up to `MAX_LABELS_PER_BODY`, after which both paths answer it as a
/// copy (2xx, never a 4xx that would count against the webhook) without handling or storing it.
#[tokio::test]
async fn a_captured_body_is_handled_under_a_bounded_number_of_labels() {
    let body = r#"{"$id":"u9","name":"Mallory's target"}"#;
    let guarded = Verifier::new("k", URL).with_replay_guard(ReplayGuard::in_memory());
    let inbox = Inbox::new(MemoryLedger::default());
    let (mut handled, mut stored) = (0, 0);
    for n in 0..MAX_LABELS_PER_BODY + 5 {
        let sent = sent(body, "users.u9.delete", Some(&format!("invented-{n}")));
        let delivery = guarded.verify(sent.headers(), sent.body()).unwrap();
        match guarded.admit(&delivery).await.unwrap() {
            Admission::Handle(claim) => {
                handled += 1;
                claim.settle(true).await;
            }
            Admission::Duplicate { status } => assert_eq!(status, 200),
            other => panic!("{other:?}"),
        }
        let (parts, bytes) = sent.into_request().into_parts();
        match inbox
            .accept(&guarded, &parts.uri, &parts.headers, Full::new(bytes))
            .await
            .unwrap()
        {
            Put::Stored(_) => stored += 1,
            Put::OverLabelLimit => {}
            other => panic!("{other:?}"),
        }
    }
    let limit = appwrite_webhooks::MAX_LABELS_PER_BODY as usize;
    assert_eq!((handled, stored), (limit, limit));
    // A genuine redelivery of a label it was handled under is still recognised as a copy.
    let again = sent(body, "users.u9.delete", Some("invented-0"));
    let delivery = guarded.verify(again.headers(), again.body()).unwrap();
    assert!(matches!(
        guarded.admit(&delivery).await,
        Ok(Admission::Duplicate { .. })
    ));
}

/// One ledger counts a body's labels once for both paths: a captured body replayed to its guard
/// under some invented labels and to its inbox under others is handled at most
/// `MAX_LABELS_PER_BODY` times in all, not that many per path.
#[tokio::test]
async fn one_ledger_bounds_a_body_across_the_guard_and_the_inbox() {
    let body = r#"{"$id":"u8","name":"both ways"}"#;
    let ledger = MemoryLedger::default();
    let guarded = Verifier::new("k", URL).with_replay_guard(ReplayGuard::new(ledger.clone()));
    let inbox = Inbox::new(ledger);
    let half = MAX_LABELS_PER_BODY / 2;
    let (mut handled, mut stored) = (0, 0);
    for n in 0..MAX_LABELS_PER_BODY + 4 {
        let sent = sent(body, "users.u8.delete", Some(&format!("invented-{n}")));
        if n < half {
            let delivery = guarded.verify(sent.headers(), sent.body()).unwrap();
            if let Admission::Handle(claim) = guarded.admit(&delivery).await.unwrap() {
                handled += 1;
                claim.settle(true).await;
            }
        } else {
            let (parts, bytes) = sent.into_request().into_parts();
            let put = inbox
                .accept(&guarded, &parts.uri, &parts.headers, Full::new(bytes))
                .await
                .unwrap();
            if let Put::Stored(_) = put {
                stored += 1;
            }
        }
    }
    assert_eq!(handled, half as usize);
    assert_eq!(handled + stored, MAX_LABELS_PER_BODY as usize);
}

/// The memory ledger counts a body's labels once for the guard, the inbox and labels recorded
/// alone, as every ledger does.
#[tokio::test]
async fn the_memory_ledger_counts_a_bodys_labels_once_for_every_path() {
    testkit::label_suite::a_bodys_labels_are_counted_once_for_every_path(async |_| {
        MemoryLedger::default()
    })
    .await;
}
