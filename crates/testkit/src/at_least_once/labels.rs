//! One body under several labels: the identity of a delivery is its signature with its label
//! (events header, delivery id), and a captured body relabelled is handled a bounded number of
//! times.

use std::net::SocketAddr;

use appwrite_webhooks::sender::{DeliveryBuilder, SignedDelivery};

use crate::at_least_once::{Handler, KEY, URL, deliver};

/// One signed team body sent for `action` (`create`, `delete`, …), with Appwrite's delivery id
/// when `delivery_id` is set: the same `name` gives the same body, whatever the label.
pub fn labelled(name: &str, action: &str, delivery_id: Option<&str>) -> SignedDelivery {
    let builder = DeliveryBuilder::new(KEY, URL, format!(r#"{{"$id":"{name}","name":"{name}"}}"#))
        .event(&format!("teams.{name}.{action}").parse().unwrap());
    match delivery_id {
        Some(id) => builder.delivery_id(id),
        None => builder,
    }
    .build()
}

/// The delivery's identity is the signature *with* its label: Appwrite sends one body under
/// several events (a team created, then deleted unchanged), and each is handled; its
/// redeliveries repeat the label (the same delivery id, or the same events header from servers
/// without ids) and are duplicates once handled.
pub async fn one_body_under_several_labels(addr: SocketAddr, handler: &Handler) {
    // Servers without delivery ids: the events header tells the deliveries apart.
    let name = format!("labels-{}", appwrite_webhooks::LeaseToken::new());
    let (created, deleted) = (
        labelled(&name, "create", None),
        labelled(&name, "delete", None),
    );
    assert_eq!(created.body(), deleted.body());
    assert_eq!(deliver(addr, handler, &created, "ok").await, 204, "create");
    assert_eq!(
        deliver(addr, handler, &deleted, "ok").await,
        204,
        "delete, same body"
    );
    assert_eq!(
        deliver(addr, handler, &created, "ok").await,
        200,
        "create again"
    );
    assert_eq!(
        deliver(addr, handler, &deleted, "ok").await,
        200,
        "delete again"
    );
    assert_eq!(handler.successes(created.body()), 2);

    // Servers with delivery ids: the id decides. A failed first attempt is handled on
    // Appwrite's redelivery (same id), then it is a duplicate; another id is another delivery.
    let name = format!("ids-{}", appwrite_webhooks::LeaseToken::new());
    let first = labelled(&name, "create", Some("delivery-1"));
    assert_eq!(deliver(addr, handler, &first, "fail").await, 500);
    assert_eq!(
        deliver(addr, handler, &first, "ok").await,
        204,
        "redelivery after a failure"
    );
    assert_eq!(
        deliver(addr, handler, &first, "ok").await,
        200,
        "redelivery after a success"
    );
    let deleted = labelled(&name, "delete", Some("delivery-2"));
    assert_eq!(
        deliver(addr, handler, &deleted, "ok").await,
        204,
        "another id"
    );
    assert_eq!(deliver(addr, handler, &deleted, "ok").await, 200);
    assert_eq!(handler.successes(first.body()), 2);

    // A captured body under invented delivery ids: handled under at most a few labels, every
    // other copy answered 2xx without the handler.
    let name = format!("replayed-{}", appwrite_webhooks::LeaseToken::new());
    let limit = appwrite_webhooks::MAX_LABELS_PER_BODY as usize;
    for n in 0..limit + 4 {
        let forged_label = labelled(&name, "delete", Some(&format!("invented-{n}")));
        let status = deliver(addr, handler, &forged_label, "ok").await;
        assert!(status == 200 || status == 204, "label {n}: {status}");
    }
    let replayed = labelled(&name, "delete", None);
    assert_eq!(handler.successes(replayed.body()), limit);
}
