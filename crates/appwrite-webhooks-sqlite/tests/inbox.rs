//! The SQLite inbox and the workers over it, on real files: the suite every store passes, and
//! what only a file does (reopening, a size cap, an edit from outside).

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use appwrite_webhooks::inbox::{Inbox, Put, Received, Workers};
use appwrite_webhooks::{Delivery, Error, sender::DeliveryBuilder};
use appwrite_webhooks_sqlite::SqliteLedger;
use testkit::inbox_suite::{self, KEY, URL, accept, stored, until, verifier};

fn path(name: &str) -> PathBuf {
    testkit::scratch::dir(&format!("sqlite-{name}")).join("inbox.db")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behaves_as_every_inbox_must() {
    inbox_suite::run_all(|name| Inbox::new(SqliteLedger::open(path(name)).unwrap())).await;
}

#[tokio::test]
async fn what_is_stored_survives_reopening_the_file() {
    let file = path("reopen");
    let inbox = Inbox::new(SqliteLedger::open(&file).unwrap());
    let body = r#"{"$id":"u1"}"#;
    let id = stored(&inbox, body).await;
    drop(inbox);
    let reopened = Inbox::new(SqliteLedger::builder(&file).existing().open().unwrap());
    let row = reopened.admin().get(id).await.unwrap().unwrap();
    assert_eq!(&row.received.body[..], body.as_bytes());
    verifier().verify_stored(&row.received).await.unwrap();
    // A re-send after the restart is still recognised.
    assert_eq!(accept(&reopened, body).await.unwrap(), Put::Duplicate(id));
}

#[tokio::test]
async fn opening_a_missing_inbox_as_existing_fails() {
    let file = path("missing");
    let error = SqliteLedger::builder(&file).existing().open().unwrap_err();
    assert!(error.to_string().contains("inbox.db"), "{error}");
    assert!(!file.exists());
}

#[tokio::test]
async fn a_full_inbox_stores_nothing_and_says_so() {
    let file = path("full");
    let inbox = Inbox::new(
        SqliteLedger::builder(&file)
            .max_bytes(64 * 1024)
            .open()
            .unwrap(),
    );
    let big = format!(r#"{{"$id":"u1","pad":"{}"}}"#, "x".repeat(20_000));
    let mut stored = 0;
    let error = loop {
        match accept(&inbox, &big.replace("u1", &format!("u{stored}"))).await {
            Ok(Put::Stored(_)) => stored += 1,
            Ok(put) => panic!("{put:?}"),
            Err(error) => break error,
        }
        assert!(stored < 10, "the cap was not applied");
    };
    assert!(matches!(error, Error::InboxStore(_)), "{error:?}");
    assert_eq!(error.status(), 503);
    // Nothing half-way: what is there is whole and verifies.
    let stats = inbox.admin().stats().await.unwrap();
    assert_eq!(stats.stored, stored);
    for row in inbox.admin().list(None, 100).await.unwrap() {
        verifier().verify_stored(&row.received).await.unwrap();
    }
}

#[tokio::test]
async fn a_delivery_edited_in_the_store_is_never_handled() {
    let file = path("edited");
    let inbox = Inbox::new(SqliteLedger::open(&file).unwrap());
    let Put::Stored(id) = accept(&inbox, r#"{"$id":"u1","role":"user"}"#)
        .await
        .unwrap()
    else {
        panic!()
    };
    let edit = rusqlite::Connection::open(&file).unwrap();
    edit.execute(
        "UPDATE deliveries SET body = CAST(? AS BLOB) WHERE id = ?",
        rusqlite::params![r#"{"$id":"u1","role":"admin"}"#, id as i64],
    )
    .unwrap();
    let ran = Arc::new(AtomicU32::new(0));
    let handler = {
        let ran = Arc::clone(&ran);
        move |_: Delivery| {
            ran.fetch_add(1, Ordering::SeqCst);
            async { Ok::<_, std::io::Error>(()) }
        }
    };
    let workers = Workers::new(inbox.clone(), verifier(), handler).start();
    until("dead", async || {
        inbox.admin().stats().await.unwrap().dead == 1
    })
    .await;
    workers.shutdown(Duration::from_secs(1)).await;
    assert_eq!(ran.load(Ordering::SeqCst), 0);
    let row = inbox.admin().get(id).await.unwrap().unwrap();
    assert!(row.last_error.unwrap().starts_with("no longer verifies"));
}

#[test]
fn received_keeps_no_credentials() {
    let sent = DeliveryBuilder::new(KEY, URL, "{}").build();
    let mut headers = sent.headers().clone();
    headers.insert("authorization", "Basic dTpw".parse().unwrap());
    headers.insert("cookie", "a=b".parse().unwrap());
    let delivery = verifier()
        .verify(&headers, sent.body())
        .unwrap()
        .into_owned();
    let received = Received::new(&"/hook".parse().unwrap(), &headers, &delivery);
    assert!(!received.headers.contains_key("authorization"));
    assert!(!received.headers.contains_key("cookie"));
    assert!(received.headers.contains_key("x-appwrite-webhook-events"));
}

/// Existing callers name the ledger by its former names; those keep compiling (deprecated).
#[test]
#[allow(deprecated)]
fn the_former_names_still_open_a_ledger() {
    use appwrite_webhooks_sqlite::{SqliteInbox, SqliteInboxBuilder, SqliteLedger};
    let file = path("former-names");
    let builder: SqliteInboxBuilder = SqliteInbox::builder(&file).max_bytes(1 << 20);
    let inbox: SqliteInbox = builder.open().unwrap();
    let ledger: SqliteLedger = inbox;
    drop(ledger);
    drop(SqliteInbox::open(&file).unwrap());
}
