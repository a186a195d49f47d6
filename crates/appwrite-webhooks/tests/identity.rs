//! The synchronous path and the inbox give the same answer to the same traffic: both key on the
//! delivery's identity ([`Delivery::fingerprint`](appwrite_webhooks::Delivery::fingerprint)), so
//! a delivery the replay guard handles is one the inbox stores, and a copy the guard answers as
//! a duplicate is one the inbox does not store again.

use appwrite_webhooks::inbox::{Inbox, MemoryInbox, Put};
use appwrite_webhooks::sender::{DeliveryBuilder, SignedDelivery};
use appwrite_webhooks::{Admission, ReplayGuard, Verifier};
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

    let guarded = Verifier::new("k", URL).replay_guard(ReplayGuard::in_memory());
    let inbox = Inbox::new(MemoryInbox::default());
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
            Put::Duplicate(_) => Answer::Copy,
        };
        assert_eq!(&by_guard, expected, "guard, #{n}");
        assert_eq!(&by_inbox, expected, "inbox, #{n}");
    }
}
