//! The opt-in schemes' identity: the replay guard keys on the signed envelope's event id,
//! scoped to the key that verified it.

use appwrite_webhooks::{Admission, ReplayGuard, Scheme, Verifier, sign_timestamped};

use crate::{now, timestamped_headers};

#[tokio::test]
async fn the_replay_guard_keys_on_the_event_id() {
    let verifier = Verifier::timestamped("k").with_replay_guard(ReplayGuard::in_memory());
    let body = br#"{"$id":"evt_1","event":"teams.t1.create","timestamp":"2025-01-15T10:30:00.000Z","payload":{}}"#;
    let t = now();
    let first = timestamped_headers(t, &sign_timestamped("k", t, body));
    // A retry: same event, new timestamp, new signature.
    let retry = timestamped_headers(t + 1, &sign_timestamped("k", t + 1, body));
    let delivery = verifier.verify(&first, body).unwrap();
    let Ok(Admission::Handle(claim)) = verifier.admit(&delivery).await else {
        panic!("the first copy is handled");
    };
    let retried = verifier.verify(&retry, body).unwrap();
    assert_eq!(retried.fingerprint(), delivery.fingerprint());
    assert!(matches!(
        verifier.admit(&retried).await,
        Ok(Admission::InProgress)
    ));
    claim.complete().await;
    assert!(matches!(
        verifier.admit(&retried).await,
        Ok(Admission::Duplicate { .. })
    ));

    // Another event id is another delivery.
    let other = br#"{"$id":"evt_2","event":"teams.t1.create","timestamp":"2025-01-15T10:30:00.000Z","payload":{}}"#;
    let headers = timestamped_headers(t, &sign_timestamped("k", t, other));
    let delivery = verifier.verify(&headers, other).unwrap();
    assert!(matches!(
        verifier.admit(&delivery).await,
        Ok(Admission::Handle(_))
    ));
}

/// The opt-in schemes' fingerprint is scoped to the key that verified the delivery: two
/// senders with different keys sharing one store never collide on an event id.
#[tokio::test]
async fn senders_sharing_a_store_do_not_collide_on_event_ids() {
    let shared = ReplayGuard::in_memory();
    let body = br#"{"id":"evt_1","type":"user.created","created_at":"2025-01-15T10:30:00.000Z","data":{}}"#;
    let mut claims = Vec::new();
    let mut fingerprints = Vec::new();
    for key in ["sender-a", "sender-b"] {
        let verifier = Verifier::generic(key).with_replay_guard(shared.clone());
        let sent = appwrite_webhooks::sender::DeliveryBuilder::new(key, "http://x/", &body[..])
            .scheme(Scheme::Generic)
            .build();
        let delivery = verifier.verify(sent.headers(), sent.body()).unwrap();
        fingerprints.push(*delivery.fingerprint());
        let admission = verifier.admit(&delivery).await;
        let Ok(Admission::Handle(claim)) = admission else {
            panic!("a delivery of its own: {admission:?}");
        };
        claims.push(claim);
    }
    assert_ne!(fingerprints[0], fingerprints[1]);
    // And the store never sees the id itself.
    assert!(!fingerprints[0].to_string().contains("evt_1"));
}
