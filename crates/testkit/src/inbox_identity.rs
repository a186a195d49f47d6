//! What an inbox stores is keyed on the delivery's identity, as the replay guard's claims are:
//! one body under two events is two deliveries, a redelivery is a copy, and a captured body is
//! stored under at most `MAX_LABELS_PER_BODY` labels.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use appwrite_webhooks::inbox::{Inbox, Put, Workers};
use appwrite_webhooks::{Delivery, Error, sender::DeliveryBuilder};
use http_body_util::Full;

use crate::inbox_suite::{KEY, URL, fast, until, verifier};

/// One signed body with `events`, and Appwrite's delivery id when given, through
/// [`Inbox::accept`].
pub async fn accept_labelled(
    inbox: &Inbox,
    body: &str,
    events: &[&str],
    delivery_id: Option<&str>,
) -> Result<Put, Error> {
    let builder = DeliveryBuilder::new(KEY, URL, body.to_owned()).events(events);
    let builder = match delivery_id {
        Some(id) => builder.delivery_id(id),
        None => builder,
    };
    let (parts, body) = builder.build().into_request().into_parts();
    inbox
        .accept(&verifier(), &parts.uri, &parts.headers, Full::new(body))
        .await
}

/// The inbox keys on the delivery's identity, as the replay guard does: one body under two
/// events is two deliveries, both handled; a redelivery (same events, or same delivery id)
/// is a duplicate.
pub async fn one_body_under_several_labels_is_stored_per_label(inbox: Inbox) {
    let body = r#"{"$id":"u1","name":"Ada"}"#;
    let created = accept_labelled(&inbox, body, &["users.u1.create"], None).await;
    let deleted = accept_labelled(&inbox, body, &["users.u1.delete"], None).await;
    let (Ok(Put::Stored(created)), Ok(Put::Stored(deleted))) = (&created, &deleted) else {
        panic!("one body under two events must be stored twice: {created:?} {deleted:?}");
    };
    let (created, deleted) = (*created, *deleted);
    assert_ne!(created, deleted);
    for (events, id) in [("users.u1.create", created), ("users.u1.delete", deleted)] {
        let again = accept_labelled(&inbox, body, &[events], None)
            .await
            .unwrap();
        assert_eq!(again, Put::Duplicate(id), "{events} again");
    }

    let body = r#"{"$id":"u2","name":"Grace"}"#;
    let first = accept_labelled(&inbox, body, &["users.u2.create"], Some("d-1")).await;
    let Ok(Put::Stored(first)) = first else {
        panic!("{first:?}");
    };
    // Appwrite's redelivery repeats the id: a copy, whatever else it carries.
    let again = accept_labelled(&inbox, body, &["users.u2.create"], Some("d-1")).await;
    assert_eq!(again.unwrap(), Put::Duplicate(first));
    let other = accept_labelled(&inbox, body, &["users.u2.delete"], Some("d-2")).await;
    assert!(
        matches!(other, Ok(Put::Stored(id)) if id != first),
        "{other:?}"
    );

    // A captured body under invented delivery ids: stored under at most the limit of labels
    // (two of which it has), every other copy answered 202 and not stored.
    let limit = appwrite_webhooks::MAX_LABELS_PER_BODY as usize;
    let mut puts = Vec::new();
    for n in 0..limit + 2 {
        let id = format!("invented-{n}");
        puts.push(accept_labelled(&inbox, body, &["users.u2.delete"], Some(&id)).await);
    }
    let stored = puts
        .iter()
        .filter(|p| matches!(p, Ok(Put::Stored(_))))
        .count();
    assert_eq!(stored, limit - 2, "{puts:?}");
    assert!(
        puts.iter()
            .all(|p| matches!(p, Ok(Put::Stored(_) | Put::OverLabelLimit))),
        "{puts:?}"
    );

    let handled = Arc::new(AtomicU32::new(0));
    let workers = Workers::new(inbox.clone(), verifier(), {
        let handled = Arc::clone(&handled);
        move |_: Delivery| {
            handled.fetch_add(1, Ordering::SeqCst);
            async { Ok::<_, std::io::Error>(()) }
        }
    })
    .with_retry(fast())
    .start();
    let total = 2 + limit as u64;
    until("every stored label done", async || {
        inbox.admin().stats().await.unwrap().done == total
    })
    .await;
    workers.shutdown(Duration::from_secs(5)).await;
    assert_eq!(
        u64::from(handled.load(Ordering::SeqCst)),
        total,
        "each label handled once"
    );
}
