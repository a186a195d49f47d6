//! The checks every adapter must pass for the opt-in schemes, with a real HTTP client against a
//! real server on loopback.
//!
//! The server under test must:
//! - verify with [`timestamped_verifier`], [`generic_verifier`] or [`alert_verifier`] (two
//!   keys, body limit [`LIMIT`], an in-memory replay guard);
//! - answer `POST /hook` with its adapter, and on success `200` with the body
//!   [`expected_body`] of the delivery's event;
//! - answer rejections with the adapter's status and the error's text.

use std::net::SocketAddr;
use std::time::{SystemTime, UNIX_EPOCH};

use appwrite_webhooks::sender::{DeliveryBuilder, SignedDelivery};
use appwrite_webhooks::{ManualClock, ReplayGuard, Scheme, Verifier};
use bytes::Bytes;
use http::HeaderMap;

use crate::alerts::{ALERT_KEY, DATA_NOW, alerts, data_now};
use crate::http_suite::{LIMIT, expected_body};

/// The current key.
pub const KEY: &str = "whsec_scheme_suite_new";
/// The key being rotated out.
pub const OLD_KEY: &str = "whsec_scheme_suite_old";

/// The verifier a timestamped-scheme server under test uses.
pub fn timestamped_verifier() -> Verifier {
    Verifier::timestamped(KEY)
        .with_key(OLD_KEY)
        .with_body_limit(LIMIT)
        .with_replay_guard(ReplayGuard::in_memory())
}

/// The verifier a generic-scheme server under test uses.
pub fn generic_verifier() -> Verifier {
    Verifier::generic(KEY)
        .with_key(OLD_KEY)
        .with_body_limit(LIMIT)
        .with_replay_guard(ReplayGuard::in_memory())
}

/// The verifier an alert-scheme server under test uses: Appwrite's alert data's key and an
/// old one, its clock at the data's time ([`DATA_NOW`]) so the fixed timestamps are within the
/// default tolerance.
pub fn alert_verifier() -> Verifier {
    Verifier::alert(ALERT_KEY)
        .with_key(OLD_KEY)
        .with_body_limit(LIMIT)
        .with_replay_guard(ReplayGuard::in_memory())
        .with_clock(ManualClock::at(data_now()))
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// The timestamped scheme's documented example envelope, with its own event id.
pub fn timestamped_body(id: &str) -> String {
    format!(
        r#"{{"$id":"{id}","event":"databases.main.tables.orders.rows.order_456.create","timestamp":"2025-01-15T10:30:00.000Z","payload":{{"$id":"order_456","$tableId":"orders","$databaseId":"main","$createdAt":"2025-01-15T10:30:00.000Z","$updatedAt":"2025-01-15T10:30:00.000Z","customer":"Jos\u00e9 \/ Doe","total":99.99}}}}"#
    )
}

/// The generic scheme's documented example envelope, with its own event id.
pub fn generic_body(id: &str) -> String {
    format!(
        r#"{{"id":"{id}","type":"user.created","created_at":"2023-12-01T15:30:00Z","data":{{"id":"usr_789","name":"John Doe","email":"john@example.com","created_at":"2023-12-01T15:30:00Z"}}}}"#
    )
}

fn timestamped(key: &str, body: &str, timestamp: u64) -> SignedDelivery {
    DeliveryBuilder::new(key, "http://receiver.test/hook", body.to_owned())
        .scheme(Scheme::timestamped())
        .webhook_id("wh_suite")
        .timestamp(timestamp)
        .build()
}

fn generic(key: &str, body: &str) -> SignedDelivery {
    DeliveryBuilder::new(key, "http://receiver.test/hook", body.to_owned())
        .scheme(Scheme::Generic)
        .webhook_id("wh_123456")
        .events(["user.created"])
        .build()
}

/// What the server must answer for a delivery `verifier` accepts.
fn expected(verifier: &Verifier, sent: &SignedDelivery) -> String {
    let delivery = verifier
        .verify(sent.headers(), sent.body())
        .expect("the suite's own delivery verifies");
    expected_body(
        &delivery.event().expect("typed"),
        delivery.primary_event().as_ref(),
    )
}

/// Posts `headers` and `body` to the server's `/hook`.
async fn post(addr: SocketAddr, headers: &HeaderMap, body: impl Into<Bytes>) -> (u16, String) {
    let sent = SignedDelivery::from_parts(
        "http://receiver.test/hook".into(),
        headers.clone(),
        body.into(),
    );
    crate::net::send(&sent, addr).await
}

async fn send(addr: SocketAddr, sent: &SignedDelivery) -> (u16, String) {
    crate::net::send(sent, addr).await
}

/// Every check for a server verifying with [`timestamped_verifier`].
pub async fn run_timestamped(addr: SocketAddr) {
    let verifier = timestamped_verifier();
    let t = now();

    // Accepted, typed from the envelope's payload, with either key.
    let sent = timestamped(KEY, &timestamped_body("evt_ts_1"), t);
    assert_eq!(send(addr, &sent).await, (200, expected(&verifier, &sent)));
    assert!(expected(&verifier, &sent).starts_with("Row databases.main.tables.orders"));
    let old = timestamped(OLD_KEY, &timestamped_body("evt_ts_2"), t);
    assert_eq!(send(addr, &old).await.0, 200);

    // A retry of the same event with a fresh timestamp and signature: answered as a duplicate.
    let retry = timestamped(KEY, &timestamped_body("evt_ts_1"), t + 1);
    assert_eq!(
        send(addr, &retry).await,
        (200, "duplicate delivery: already handled".into())
    );

    // Outside the tolerance window (300 s), either way: their own error, 401. A minute past
    // it, from a fresh clock reading: `t` is whole seconds and some time old by now, and a
    // second's drift once put `t + 301` inside the window on a loaded machine.
    for (timestamp, word) in [(now() - 360, "past"), (now() + 360, "future")] {
        let sent = timestamped(KEY, &timestamped_body("evt_ts_3"), timestamp);
        let (status, text) = send(addr, &sent).await;
        assert_eq!(status, 401, "{text}");
        assert!(text.contains(word) && text.contains("tolerance"), "{text}");
    }

    // The timestamp is signed: moving it breaks the signature.
    let sent = timestamped(KEY, &timestamped_body("evt_ts_4"), t);
    let mut moved = sent.headers().clone();
    moved.insert("x-appwrite-webhook-timestamp", (t - 1).into());
    assert_eq!(post(addr, &moved, sent.body().to_vec()).await.0, 401);
    let mut missing = sent.headers().clone();
    missing.remove("x-appwrite-webhook-timestamp");
    let (status, text) = post(addr, &missing, sent.body().to_vec()).await;
    assert_eq!((status, text.contains("Timestamp")), (401, true), "{text}");

    // Tampered, wrong key, and re-serialised (what `JSON.stringify(req.body)` receivers do).
    let tampered = sent
        .body()
        .to_vec()
        .into_iter()
        .map(|b| if b == b'9' { b'8' } else { b })
        .collect::<Vec<_>>();
    assert_eq!(post(addr, sent.headers(), tampered).await.0, 401);
    let wrong = timestamped("whsec_other", &timestamped_body("evt_ts_5"), t);
    assert_eq!(send(addr, &wrong).await.0, 401);
    let value: serde_json::Value = serde_json::from_slice(sent.body()).unwrap();
    let reserialised = serde_json::to_vec(&value).unwrap();
    assert_ne!(reserialised, sent.body().to_vec());
    assert_eq!(post(addr, sent.headers(), reserialised).await.0, 401);

    // Signed but not an envelope: 400. Over the limit: 413.
    let garbage = timestamped(KEY, r#"{"event":1}"#, t);
    assert_eq!(send(addr, &garbage).await.0, 400);
    let big = timestamped(KEY, &" ".repeat(LIMIT + 1), t);
    assert_eq!(send(addr, &big).await.0, 413);
}

/// Every check for a server verifying with [`generic_verifier`].
pub async fn run_generic(addr: SocketAddr) {
    let verifier = generic_verifier();

    let sent = generic(KEY, &generic_body("evt_g_1"));
    let expected_text = expected(&verifier, &sent);
    assert!(expected_text.starts_with("Unknown"), "{expected_text}");
    assert_eq!(send(addr, &sent).await, (200, expected_text));
    assert_eq!(
        send(addr, &generic(OLD_KEY, &generic_body("evt_g_2")))
            .await
            .0,
        200
    );

    // The same event id again: a duplicate.
    assert_eq!(
        send(addr, &sent).await,
        (200, "duplicate delivery: already handled".into())
    );

    // No `sha256=` prefix, wrong key, tampered body, re-serialised body: 401.
    let fresh = generic(KEY, &generic_body("evt_g_3"));
    let mut bare = fresh.headers().clone();
    let value = bare["x-webhook-signature"].to_str().unwrap()["sha256=".len()..].to_owned();
    bare.insert("x-webhook-signature", value.parse().unwrap());
    let (status, text) = post(addr, &bare, fresh.body().to_vec()).await;
    assert_eq!((status, text.contains("sha256=")), (401, true), "{text}");
    assert_eq!(
        send(addr, &generic("whsec_other", &generic_body("evt_g_4")))
            .await
            .0,
        401
    );
    let mut tampered = fresh.body().to_vec();
    tampered[10] ^= 1;
    assert_eq!(post(addr, fresh.headers(), tampered).await.0, 401);
    let value: serde_json::Value = serde_json::from_slice(fresh.body()).unwrap();
    let pretty = serde_json::to_vec_pretty(&value).unwrap();
    assert_eq!(post(addr, fresh.headers(), pretty).await.0, 401);

    // Appwrite's signature header is not this scheme's: missing signature, 401.
    let appwrite =
        DeliveryBuilder::new(KEY, "http://receiver.test/hook", generic_body("evt_g_5")).build();
    assert_eq!(send(addr, &appwrite).await.0, 401);

    // Signed, but without the event header: 400. Over the limit: 413.
    let mut no_event = fresh.headers().clone();
    no_event.remove("x-webhook-event");
    assert_eq!(post(addr, &no_event, fresh.body().to_vec()).await.0, 400);
    assert_eq!(
        send(addr, &generic(KEY, &" ".repeat(LIMIT + 1))).await.0,
        413
    );
}

/// A captured alert as sent, to the server's `/hook`.
fn at_hook(sample: &crate::alerts::SampleAlert) -> SignedDelivery {
    SignedDelivery::from_parts(
        "http://receiver.test/hook".into(),
        sample.header_map(),
        sample.body.clone().into(),
    )
}

fn alert(key: &str, body: &str, timestamp: u64) -> SignedDelivery {
    DeliveryBuilder::new(key, "http://receiver.test/hook", body.to_owned())
        .scheme(Scheme::alert())
        .timestamp(timestamp)
        .build()
}

/// Every check for a server verifying with [`alert_verifier`].
pub async fn run_alert(addr: SocketAddr) {
    let verifier = alert_verifier();
    let data = alerts();

    // Every alert Appwrite signed, byte for byte, typed as an alert; each once.
    for sample in data.iter().filter(|a| a.signed) {
        // Posted to the server's `/hook`: no URL is signed.
        let sent = at_hook(sample);
        let expected_text = expected(&verifier, &sent);
        assert!(expected_text.starts_with("Alert"), "{expected_text}");
        assert_eq!(
            send(addr, &sent).await,
            (200, expected_text),
            "{}",
            sample.name
        );
        // A copy (same deduplication key, or same signature): a duplicate.
        assert_eq!(
            send(addr, &sent).await,
            (200, "duplicate delivery: already handled".into()),
            "{}",
            sample.name
        );
    }

    // Appwrite's alert resent later with a fresh timestamp and signature: the same alert.
    let paused = &data[0];
    let resent = alert(ALERT_KEY, &paused.body, DATA_NOW - 5);
    assert_eq!(
        send(addr, &resent).await,
        (200, "duplicate delivery: already handled".into())
    );
    // The key being rotated out still verifies.
    let body = paused.body.replace("wh_01:paused", "wh_09:paused");
    assert_eq!(send(addr, &alert(OLD_KEY, &body, DATA_NOW)).await.0, 200);

    // Unsigned (a channel without a secret): refused, as this verifier was not told otherwise.
    let unsigned = data.iter().find(|a| !a.signed).expect("an unsigned alert");
    let (status, text) = send(addr, &at_hook(unsigned)).await;
    assert_eq!(
        (status, text.contains("missing signature")),
        (401, true),
        "{text}"
    );

    // Outside the tolerance, either way; the timestamp moved; tampered; wrong key: 401.
    for (timestamp, word) in [(DATA_NOW - 301, "past"), (DATA_NOW + 301, "future")] {
        let (status, text) = send(addr, &alert(ALERT_KEY, &body, timestamp)).await;
        assert_eq!(status, 401, "{text}");
        assert!(text.contains(word) && text.contains("tolerance"), "{text}");
    }
    let fresh = alert(ALERT_KEY, &body.replace("wh_09", "wh_10"), DATA_NOW);
    let mut moved = fresh.headers().clone();
    moved.insert("x-appwrite-webhook-timestamp", (DATA_NOW - 1).into());
    assert_eq!(post(addr, &moved, fresh.body().to_vec()).await.0, 401);
    let tampered = fresh
        .body()
        .to_vec()
        .into_iter()
        .map(|b| if b == b'1' { b'2' } else { b });
    assert_eq!(
        post(addr, fresh.headers(), tampered.collect::<Vec<_>>())
            .await
            .0,
        401
    );
    assert_eq!(
        send(addr, &alert("whsec_other", &body, DATA_NOW)).await.0,
        401
    );
    // Bare hex (the timestamped scheme's form) is not an alert signature.
    let mut bare = fresh.headers().clone();
    let hex = bare["x-appwrite-webhook-signature"].to_str().unwrap()["sha256=".len()..].to_owned();
    bare.insert("x-appwrite-webhook-signature", hex.parse().unwrap());
    let (status, text) = post(addr, &bare, fresh.body().to_vec()).await;
    assert_eq!((status, text.contains("sha256=")), (401, true), "{text}");

    // Signed but not an alert: 400. Over the limit: 413.
    assert_eq!(
        send(addr, &alert(ALERT_KEY, r#"{"subject":1}"#, DATA_NOW))
            .await
            .0,
        400
    );
    assert_eq!(
        send(addr, &alert(ALERT_KEY, &" ".repeat(LIMIT + 1), DATA_NOW))
            .await
            .0,
        413
    );
}
