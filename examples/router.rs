//! Routes three kinds of Appwrite events to typed handlers with the framework-free `Router`.
//!
//! ```sh
//! cargo run --example router
//! ```

use appwrite_webhooks::models::Row;
use appwrite_webhooks::{Action, Event, EventKind, Router, Verifier, sender::DeliveryBuilder};

/// The user's own columns of the `orders` table.
#[derive(Debug, serde::Deserialize)]
struct Order {
    customer: String,
    total: f64,
}

const URL: &str = "https://hooks.example.com/appwrite";
const KEY: &str = "whsec_example";

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let router = Router::new()
        // 1. New orders, in either database vocabulary (tables/rows or collections/documents).
        .on(
            "databases.*.tables.orders.rows.*.create",
            |incoming| async move {
                let order: Row<Order> = incoming.delivery().json()?;
                println!(
                    "order {} for {} totalling {}",
                    order.id, order.data.customer, order.data.total
                );
                Ok(())
            },
        )?
        // 2. Email changes, typed.
        .on("users.*.update.email", |incoming| async move {
            if let Event::User {
                user, attribute, ..
            } = incoming.event()
            {
                println!(
                    "user {} changed {:?} to {}",
                    user.id,
                    attribute.as_deref(),
                    user.email
                );
            }
            Ok(())
        })?
        // 3. Every file event, by typed variant.
        .on_kind(EventKind::File, |incoming| async move {
            if let Event::File {
                bucket_id,
                action,
                file,
            } = incoming.event()
            {
                let verb = if *action == Action::Delete {
                    "removed"
                } else {
                    "stored"
                };
                println!(
                    "file {} ({} bytes) {verb} in bucket {bucket_id}",
                    file.name, file.size_original
                );
            }
            Ok(())
        })
        .fallback(|incoming| async move {
            println!(
                "ignored {}",
                incoming.name().map(|n| n.to_string()).unwrap_or_default()
            );
            Ok(())
        });

    let verifier = Verifier::new(KEY, URL);
    for (event, body) in samples() {
        let sent = DeliveryBuilder::new(KEY, URL, body)
            .event(&event.parse()?)
            .build();
        let delivery = verifier.verify(sent.headers(), sent.body())?.into_owned();
        let dispatched = router.dispatch(delivery).await?;
        println!("  -> ran {:?}", dispatched.ran());
    }
    Ok(())
}

/// Four deliveries' event names and bodies, as Appwrite encodes them.
fn samples() -> [(&'static str, String); 4] {
    const DATES: &str = r#""$createdAt":"2020-10-15T06:38:00.000+00:00","$updatedAt":"2020-10-15T06:38:00.000+00:00""#;
    [
        (
            "tablesdb.shop.tables.orders.rows.ord_1.create",
            format!(
                r#"{{"$id":"ord_1","$sequence":"1","$tableId":"orders","$databaseId":"shop",{DATES},"$permissions":[],"customer":"Zo\u00eb","total":42.5}}"#
            ),
        ),
        (
            "users.u1.update.email",
            format!(
                r#"{{"$id":"u1",{DATES},"name":"Ada","registration":"","status":true,"labels":[],"passwordUpdate":"","email":"ada@example.com","phone":"","emailVerification":false,"phoneVerification":false,"mfa":false,"prefs":[],"targets":[],"accessedAt":""}}"#
            ),
        ),
        (
            "buckets.avatars.files.f1.create",
            format!(
                r#"{{"$id":"f1","bucketId":"avatars",{DATES},"$permissions":[],"name":"ada.png","folder":"","key":"ada.png","signature":"","mimeType":"image\/png","sizeOriginal":1024,"sizeActual":1024,"chunksTotal":1,"chunksUploaded":1,"encryption":false,"compression":"none"}}"#
            ),
        ),
        (
            "teams.t1.delete",
            format!(r#"{{"$id":"t1",{DATES},"name":"Team","total":0,"prefs":{{}}}}"#),
        ),
    ]
}
