//! Conformance: the unsigned headers cannot decide what a handler acts on. A captured, validly
//! signed delivery replayed with its events header changed is refused where the signed body
//! contradicts it, and no events header — however deep or long — costs unbounded work.

use appwrite_webhooks::sender::DeliveryBuilder;
use appwrite_webhooks::{
    Error, Event, EventName, MAX_ID_PAIRS, Pattern, Router, Scheme, Verifier, headers,
};
use http::HeaderValue;
use testkit::deliveries;

const URL: &str = "https://hooks.example.com/hook";

/// The issue's example: a row created in `shop.orders`, replayed as a deletion in
/// `other.admins`. The signature still verifies (the header is not signed), but the typed event
/// is refused.
#[test]
fn a_row_cannot_be_moved_to_another_table_by_the_header() {
    let body = r#"{"$id":"r1","$sequence":"1","$tableId":"orders","$databaseId":"shop","$createdAt":"2025-01-01T00:00:00.000+00:00","$updatedAt":"2025-01-01T00:00:00.000+00:00","$permissions":[]}"#;
    let genuine: EventName = "databases.shop.tables.orders.rows.r1.create"
        .parse()
        .unwrap();
    let sent = DeliveryBuilder::new("k", URL, body).event(&genuine).build();
    let verifier = Verifier::new("k", URL);
    assert!(matches!(
        verifier
            .verify(sent.headers(), sent.body())
            .unwrap()
            .event(),
        Ok(Event::Row { .. })
    ));

    for (forged, field) in [
        (
            "databases.other.tables.admins.rows.r1.delete",
            "$databaseId",
        ),
        ("databases.shop.tables.admins.rows.r1.delete", "$tableId"),
        (
            "databases.shop.collections.admins.documents.r1.delete",
            "$tableId",
        ),
        ("databases.shop.tables.orders.rows.r2.delete", "$id"),
    ] {
        let mut headers = sent.headers().clone();
        headers.insert(headers::WEBHOOK_EVENTS, HeaderValue::from_static(forged));
        let delivery = verifier
            .verify(&headers, sent.body())
            .expect("still signed");
        match delivery.event() {
            Err(error @ Error::EventContradictsBody { .. }) => {
                assert_eq!(error.status(), 400);
                assert!(error.to_string().contains(field), "{forged}: {error}");
            }
            other => panic!("{forged}: {other:?}"),
        }
    }
}

/// Every sample delivery whose body carries its own `$id`: naming another id in the header is
/// refused; the genuine header is accepted (no false alarm on any of Appwrite's events).
#[test]
fn every_resource_id_is_checked_against_its_signed_body() {
    let mut checked = 0;
    for d in deliveries() {
        let verifier = Verifier::new(d.signature_key.as_str(), d.url.as_str());
        let genuine = verifier.verify(&d.header_map(), d.body.as_bytes()).unwrap();
        assert!(genuine.event().is_ok(), "{}", d.name);
        let name = genuine.primary_event().unwrap();
        let body: serde_json::Value = serde_json::from_str(&d.body).unwrap();
        let leaf = name.path().last().unwrap().1;
        if body.get("$id").and_then(|v| v.as_str()) != Some(leaf) {
            continue;
        }
        // The leaf id is the last id: replace that occurrence, not a parent's.
        let at = name.as_str().rfind(&format!(".{leaf}")).unwrap();
        let rest = &name.as_str()[at + leaf.len() + 1..];
        let forged = format!("{}.forged-id{rest}", &name.as_str()[..at]);
        let mut headers = d.header_map();
        headers.insert(headers::WEBHOOK_EVENTS, forged.parse().unwrap());
        let delivery = verifier.verify(&headers, d.body.as_bytes()).unwrap();
        assert!(
            matches!(
                delivery.event(),
                Err(Error::EventContradictsBody { field: "$id", .. })
            ),
            "{}: {forged}",
            d.name
        );
        checked += 1;
    }
    assert!(
        checked > 100,
        "only {checked} deliveries carry their own $id"
    );
}

/// The opt-in schemes sign their event's name in the envelope: that name decides, whatever the
/// unsigned headers say.
#[test]
fn the_opt_in_schemes_route_on_the_signed_envelope() {
    let body = br#"{"$id":"evt_1","event":"teams.t1.create","timestamp":"2025-01-15T10:30:00.000Z","payload":{"$id":"t1","name":"Acme","total":1,"prefs":{},"$createdAt":"2025-01-01T00:00:00.000+00:00","$updatedAt":"2025-01-01T00:00:00.000+00:00"}}"#;
    let sent = DeliveryBuilder::new("k", URL, &body[..])
        .scheme(Scheme::timestamped())
        .events(["users.victim.delete"])
        .build();
    let delivery = Verifier::timestamped("k")
        .verify(sent.headers(), sent.body())
        .unwrap();
    assert_eq!(
        delivery.primary_event().unwrap().as_str(),
        "teams.t1.create"
    );
    assert_eq!(delivery.events().collect::<Vec<_>>(), ["teams.t1.create"]);

    let body = br#"{"id":"evt_2","type":"user.created","created_at":"2025-01-15T10:30:00.000Z","data":{}}"#;
    let sent = DeliveryBuilder::new("k", URL, &body[..])
        .scheme(Scheme::Generic)
        .events(["user.deleted"])
        .build();
    let delivery = Verifier::generic("k")
        .verify(sent.headers(), sent.body())
        .unwrap();
    assert_eq!(delivery.events().collect::<Vec<_>>(), ["user.created"]);
}

/// A name with more id pairs than any Appwrite event is refused at parse time, so expansion and
/// matching stay small; 32 or more pairs (which once overflowed a shift) too.
#[test]
fn deep_names_are_refused_not_expanded() {
    let deep = |pairs: usize| {
        (0..pairs)
            .map(|i| format!("r{i}.id{i}"))
            .collect::<Vec<_>>()
            .join(".")
            + ".create"
    };
    assert!(EventName::parse(&deep(MAX_ID_PAIRS)).is_ok());
    for pairs in [MAX_ID_PAIRS + 1, 20, 32, 64, 10_000] {
        assert!(EventName::parse(&deep(pairs)).is_err(), "{pairs} pairs");
        assert!(Pattern::parse(&deep(pairs)).is_err(), "{pairs} pairs");
    }
    // The deepest allowed name expands to a bounded set.
    let name = EventName::parse(&deep(MAX_ID_PAIRS)).unwrap();
    assert!(name.expand().len() <= (2 * (MAX_ID_PAIRS + 2)) << MAX_ID_PAIRS);
}

/// A captured team delivery with a 1 MiB events header of deep names appended: the primary
/// event is still the genuine one, and the router dispatches it at once.
#[tokio::test]
async fn a_huge_events_header_does_not_cost_unbounded_work() {
    let d = testkit::delivery_of_model("team");
    let verifier = Verifier::new(d.signature_key.as_str(), d.url.as_str());
    let pairs20 = (0..20)
        .map(|i| format!("teams.t{i}"))
        .collect::<Vec<_>>()
        .join(".");
    let mut events = d.header("X-Appwrite-Webhook-Events").to_owned();
    while events.len() < 1024 * 1024 {
        events.push(',');
        events.push_str(&pairs20);
    }
    let mut headers = d.header_map();
    headers.insert(headers::WEBHOOK_EVENTS, events.parse().unwrap());
    let delivery = verifier.verify(&headers, d.body.as_bytes()).unwrap();
    let primary = delivery.primary_event().unwrap();
    assert!(primary.path().count() <= MAX_ID_PAIRS, "{primary}");
    let router = Router::new().on("teams.*", |_| async { Ok(()) }).unwrap();
    let dispatched = router.dispatch(delivery.into_owned()).await.unwrap();
    assert_eq!(dispatched.ran(), ["teams.*"]);
}
