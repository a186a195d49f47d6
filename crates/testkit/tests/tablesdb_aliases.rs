//! TablesDB deliveries after Appwrite PR #13597: `tablesdb.…` names with their legacy
//! `databases.…` aliases in one events header, in either order, and database
//! create/update/delete with that context too. Built from real row, table and database
//! deliveries of main: whatever the order, one typed event with the same ids and one primary
//! event, the `tablesdb` name — through `Delivery` and through the axum adapter.

use std::sync::{Arc, Mutex};

use appwrite_webhooks::{
    DatabaseApi, Delivery, Event, EventName, Verifier, sender::DeliveryBuilder,
};
use testkit::{SampleDelivery, delivery_named};

const KEY: &str = "tablesdb-key";
const URL: &str = "https://hooks.example.com/tablesdb";

/// The delivery's names split into the two families; a family the delivery lacks (the legacy
/// `databases.databaseId.*` deliveries, from before databases gained the context) is made from
/// the other by its service segment, as the PR does.
fn families(d: &SampleDelivery) -> (Vec<String>, Vec<String>) {
    let names: Vec<String> = d.events().into_iter().map(str::to_owned).collect();
    let of = |service: &str| -> Vec<String> {
        names
            .iter()
            .filter(|n| n.starts_with(&format!("{service}.")))
            .cloned()
            .collect()
    };
    let (mut tablesdb, mut databases) = (of("tablesdb"), of("databases"));
    if tablesdb.is_empty() {
        tablesdb = databases
            .iter()
            .map(|n| n.replacen("databases.", "tablesdb.", 1))
            .collect();
    }
    if databases.is_empty() {
        databases = tablesdb
            .iter()
            .map(|n| n.replacen("tablesdb.", "databases.", 1))
            .collect();
    }
    assert!(
        tablesdb.len() + databases.len() >= names.len(),
        "{}: only the two families",
        d.name
    );
    (tablesdb, databases)
}

/// The headers of one delivery: tablesdb first, databases first, and Appwrite's own interleaving
/// when it has both.
fn orders(d: &SampleDelivery) -> Vec<Vec<String>> {
    let (tablesdb, databases) = families(d);
    let mut orders = vec![
        [tablesdb.clone(), databases.clone()].concat(),
        [databases, tablesdb].concat(),
    ];
    let real: Vec<String> = d.events().into_iter().map(str::to_owned).collect();
    if real.iter().any(|n| n.starts_with("tablesdb."))
        && real.iter().any(|n| n.starts_with("databases."))
    {
        orders.push(real);
    }
    orders
}

fn deliver(d: &SampleDelivery, events: &[String]) -> Delivery {
    let sent = DeliveryBuilder::new(KEY, URL, d.body.clone())
        .events(events)
        .build();
    Verifier::new(KEY, URL)
        .verify(sent.headers(), sent.body())
        .unwrap_or_else(|e| panic!("{}: {e}", d.name))
        .into_owned()
}

const SAMPLES: [&str; 8] = [
    "tablesdb.databaseId.tables.tableId.rows.rowId.create",
    "tablesdb.databaseId.tables.tableId.rows.rowId.delete",
    "tablesdb.databaseId.tables.tableId.create",
    "tablesdb.databaseId.tables.tableId.update",
    "tablesdb.databaseId.create",
    "tablesdb.databaseId.delete",
    "databases.databaseId.create",
    "databases.databaseId.update",
];

/// The ids a typed event carries, and its API.
fn ids(event: &Event) -> (Option<DatabaseApi>, String) {
    match event {
        Event::Row {
            api,
            database_id,
            table_id,
            row,
            ..
        } => (
            Some(*api),
            format!("row {database_id}/{table_id}/{}", row.id),
        ),
        Event::Table {
            api,
            database_id,
            table,
            ..
        } => (Some(*api), format!("table {database_id}/{}", table.id)),
        Event::Database { api, database, .. } => (Some(*api), format!("database {}", database.id)),
        other => panic!("not a TablesDB event: {other:?}"),
    }
}

#[test]
fn both_name_families_in_either_order_give_one_event_and_one_primary_name() {
    for name in SAMPLES {
        let d = delivery_named(name);
        let mut seen: Option<(Event, EventName)> = None;
        for events in orders(&d) {
            let delivery = deliver(&d, &events);
            let event = delivery.event().unwrap_or_else(|e| panic!("{name}: {e}"));
            let primary = delivery.primary_event().expect("a primary name");
            assert_eq!(primary.service(), "tablesdb", "{name}: {events:?}");
            let (api, ids) = ids(&event);
            assert_eq!(api, Some(DatabaseApi::TablesDb), "{name}: {events:?}");
            assert!(ids.contains("shop"), "{name}: {ids}");
            match &seen {
                None => seen = Some((event, primary)),
                Some((first, first_primary)) => {
                    assert_eq!(&event, first, "{name}: {events:?}");
                    assert_eq!(&primary, first_primary, "{name}: {events:?}");
                }
            }
        }
    }
}

/// The same through the axum adapter: the layer verifies, the extractor types the event.
#[tokio::test]
async fn the_axum_adapter_gives_the_same_event_for_either_order() {
    type Seen = Vec<(Event, Option<EventName>)>;
    let got: Arc<Mutex<Seen>> = Arc::default();
    let record = got.clone();
    let verifier = Verifier::new(KEY, URL);
    let app = axum::Router::new()
        .fallback(axum::routing::post(
            move |delivery: axum::Extension<Delivery>,
                  appwrite_webhooks_axum::Webhook(event): appwrite_webhooks_axum::Webhook| {
                let record = record.clone();
                async move {
                    record.lock().unwrap().push((event, delivery.primary_event()));
                    axum::http::StatusCode::NO_CONTENT
                }
            },
        ))
        .layer(appwrite_webhooks_axum::AppwriteWebhookLayer::new(verifier.clone()))
        .with_state(verifier);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    for name in SAMPLES {
        let d = delivery_named(name);
        let orders = orders(&d);
        for events in &orders {
            let sent = DeliveryBuilder::new(KEY, URL, d.body.clone())
                .events(events)
                .build();
            let (status, body) = testkit::net::send(&sent, addr).await;
            assert_eq!(status, 204, "{name}: {body}");
        }
        let got = std::mem::take(&mut *got.lock().unwrap());
        assert_eq!(got.len(), orders.len(), "{name}");
        for (event, primary) in &got {
            assert_eq!((event, primary), (&got[0].0, &got[0].1), "{name}");
            assert_eq!(ids(event).0, Some(DatabaseApi::TablesDb), "{name}");
            assert_eq!(primary.as_ref().map(EventName::service), Some("tablesdb"));
        }
    }
}
