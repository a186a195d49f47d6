//! The checks every adapter must pass, run with a real HTTP client against a real server on
//! loopback.
//!
//! The server under test must:
//! - verify with [`suite_verifier`] (every sample URL and key, body limit [`LIMIT`]);
//! - answer every path with its adapter, and on success `200` with the body
//!   `"{kind:?} {primary event name}"` (see [`expected_body`]);
//! - answer rejections with the adapter's status.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use appwrite_webhooks::Verifier;
use appwrite_webhooks::sender::DeliveryBuilder;
use bytes::Bytes;
use futures_util::{StreamExt, stream};

use crate::net::{send, send_body};
use crate::{SampleDelivery, deliveries, delivery_of_model, expected_kind};

/// The body limit the server under test must use.
pub const LIMIT: usize = 64 * 1024;

/// A verifier that accepts every sample delivery, of main and of every release: all their URLs
/// and keys.
pub fn suite_verifier() -> Verifier {
    let all = deliveries();
    let releases = crate::versions::versioned_deliveries();
    let mut urls: Vec<&str> = all.iter().map(|d| d.url.as_str()).collect();
    urls.extend(releases.iter().map(|d| d.url.as_str()));
    urls.sort();
    urls.dedup();
    let mut keys: Vec<&str> = all.iter().map(|d| d.signature_key.as_str()).collect();
    keys.extend(releases.iter().map(|d| d.signature_key.as_str()));
    keys.sort();
    keys.dedup();
    let mut verifier = Verifier::new(keys[0], urls[0]).with_keys(keys[1..].iter().copied());
    for url in &urls[1..] {
        verifier = verifier.with_url(*url);
    }
    verifier.with_body_limit(LIMIT)
}

/// What the server answers for an accepted delivery of `event`: kind and primary name.
pub fn expected_body(
    event: &appwrite_webhooks::Event,
    name: Option<&appwrite_webhooks::EventName>,
) -> String {
    format!(
        "{:?} {}",
        event.kind(),
        name.map(|n| n.as_str()).unwrap_or("")
    )
}

/// Posts a sample delivery's headers with `body` to the server at its URL's path and query.
async fn post(addr: SocketAddr, d: &SampleDelivery, body: impl Into<Bytes>) -> (u16, String) {
    send(&d.signed_with_body(body), addr).await
}

fn with_header(d: &SampleDelivery, name: &str, value: Option<&str>) -> SampleDelivery {
    let mut d = d.clone();
    d.headers.retain(|(k, _)| !k.eq_ignore_ascii_case(name));
    if let Some(value) = value {
        d.headers.push((name.to_owned(), value.to_owned()));
    }
    d
}

/// Every sample delivery is accepted with the right typed event.
pub async fn accepts_every_delivery(addr: SocketAddr) {
    for d in deliveries() {
        let (status, body) = post(addr, &d, d.body.clone()).await;
        assert_eq!(status, 200, "{}: {body}", d.name);
        let (kind, name) = body
            .split_once(' ')
            .unwrap_or_else(|| panic!("{}: body {body:?}", d.name));
        assert_eq!(kind, format!("{:?}", expected_kind(&d.model)), "{}", d.name);
        assert!(
            d.events().contains(&name),
            "{}: primary {name} not in the header",
            d.name
        );
    }
}

/// Tampering of any kind is a 401; a malformed payload under a valid signature is a 400.
pub async fn rejects_tampering(addr: SocketAddr) {
    let all = deliveries();
    let d = &all[0];
    let sig = d.header("X-Appwrite-Webhook-Signature").to_owned();

    let tampered = d.body.replacen("\\/", "/", 1).replacen("true", "false", 1);
    assert_ne!(tampered, d.body);
    assert_eq!(
        post(addr, d, Bytes::from(tampered)).await.0,
        401,
        "tampered body"
    );

    let mut flipped = sig.clone().into_bytes();
    flipped[3] = if flipped[3] == b'A' { b'B' } else { b'A' };
    let forged = with_header(
        d,
        "X-Appwrite-Webhook-Signature",
        Some(std::str::from_utf8(&flipped).unwrap()),
    );
    assert_eq!(
        post(addr, &forged, d.body.clone()).await.0,
        401,
        "tampered signature"
    );

    let wrong_key = appwrite_webhooks::sign("not-the-key", &d.url, d.body.as_bytes());
    let wrong = with_header(d, "X-Appwrite-Webhook-Signature", Some(&wrong_key));
    assert_eq!(post(addr, &wrong, d.body.clone()).await.0, 401, "wrong key");

    let missing = with_header(d, "X-Appwrite-Webhook-Signature", None);
    let (status, text) = post(addr, &missing, d.body.clone()).await;
    assert_eq!(status, 401, "missing signature");
    assert!(
        text.to_lowercase().contains("signature"),
        "reason given: {text:?}"
    );
    assert!(
        !text.contains(&d.signature_key),
        "no secret in the rejection"
    );

    let garbage = with_header(d, "X-Appwrite-Webhook-Signature", Some("not base64!"));
    assert_eq!(
        post(addr, &garbage, d.body.clone()).await.0,
        401,
        "malformed signature"
    );

    // Signed correctly, but not the session JSON the event promises.
    let bad_json = "{\"$id\":";
    let resigned = appwrite_webhooks::sign(d.signature_key.as_str(), &d.url, bad_json.as_bytes());
    let signed = with_header(d, "X-Appwrite-Webhook-Signature", Some(&resigned));
    assert_eq!(
        post(addr, &signed, Bytes::from(bad_json)).await.0,
        400,
        "malformed JSON"
    );

    let no_events = with_header(d, "X-Appwrite-Webhook-Events", None);
    assert_eq!(
        post(addr, &no_events, d.body.clone()).await.0,
        400,
        "missing events header"
    );
}

/// A body over the limit is refused with 413, without the server reading it all: once with a
/// declared length, once as an unbounded chunked stream whose progress is counted.
pub async fn refuses_large_bodies_early(addr: SocketAddr) {
    let d = &deliveries()[0];

    let declared = vec![b' '; LIMIT + 1];
    let signed = with_header(
        d,
        "X-Appwrite-Webhook-Signature",
        Some(&appwrite_webhooks::sign(
            d.signature_key.as_str(),
            &d.url,
            &declared,
        )),
    );
    assert_eq!(
        post(addr, &signed, Bytes::from(declared)).await.0,
        413,
        "declared length"
    );

    // A chunked body of up to 256 MiB, produced lazily: count what the server pulled.
    const CHUNK: usize = 16 * 1024;
    const CHUNKS: usize = 16 * 1024;
    let produced = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&produced);
    let body = stream::iter(0..CHUNKS).then(move |_| {
        let counter = Arc::clone(&counter);
        async move {
            counter.fetch_add(CHUNK, Ordering::SeqCst);
            // Pace the producer so "stopped early" is observable, not a race with the socket.
            tokio::time::sleep(Duration::from_micros(200)).await;
            Ok::<_, std::io::Error>(Bytes::from(vec![b' '; CHUNK]))
        }
    });
    let frames = Box::pin(body.map(|chunk| chunk.map(http_body::Frame::data)));
    let result = send_body(&d.signed(), addr, http_body_util::StreamBody::new(frames)).await;
    let sent = produced.load(Ordering::SeqCst);
    match result {
        Ok((status, _)) => assert_eq!(status, 413, "chunked over the limit"),
        // The server may close the connection as it answers; the point is it stopped reading.
        Err(error) => eprintln!("chunked upload ended by the server: {error}"),
    }
    assert!(
        sent < 16 * 1024 * 1024,
        "the server read {sent} bytes of a body that exceeded {LIMIT} after the first few chunks"
    );
}

/// Hundreds of concurrent requests, bounded, all answered correctly.
pub async fn handles_concurrency(addr: SocketAddr) {
    let all = deliveries();
    let jobs: Vec<(SampleDelivery, bool)> = (0..400)
        .map(|i| (all[i % all.len()].clone(), i % 5 == 0))
        .collect();
    let results: Vec<(bool, u16)> = stream::iter(jobs)
        .map(|(d, forge)| async move {
            let body = if forge {
                d.body.replacen('{', "{ ", 1)
            } else {
                d.body.clone()
            };
            (forge, post(addr, &d, body).await.0)
        })
        .buffer_unordered(64)
        .collect()
        .await;
    for (forged, status) in results {
        assert_eq!(status, if forged { 401 } else { 200 });
    }
}

/// Runs every check.
/// A captured row delivery replayed with its (unsigned) events header naming another database
/// and table is still signed, but its typed event contradicts the signed body: 400, never the
/// handler's 200.
pub async fn rejects_contradicting_headers(addr: SocketAddr) {
    let d = delivery_of_model("row");
    let events = d.header("X-Appwrite-Webhook-Events").to_owned();
    let primary = d
        .events()
        .into_iter()
        .find(|n| !n.contains('*'))
        .unwrap()
        .to_owned();
    let name: appwrite_webhooks::EventName = primary.parse().unwrap();
    let (database, table) = (name.database_id().unwrap(), name.table_id().unwrap());
    let forged = events
        .replace(&format!(".{database}."), ".other.")
        .replace(&format!(".{table}."), ".admins.");
    assert_ne!(forged, events);
    let (status, body) = post(
        addr,
        &with_header(&d, "X-Appwrite-Webhook-Events", Some(&forged)),
        d.body.clone(),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("contradicts the signed body"), "{body}");
}

/// Every delivery of every released Appwrite (`data/appwrite/versions/`, local files
/// included: posted to their percent-escaped URL as typed) is accepted with the kind of its
/// payload model and Appwrite's primary event — never refused for its version's shape.
pub async fn accepts_every_version(addr: SocketAddr) {
    for d in crate::versions::versioned_deliveries() {
        let (status, body) = send(&d.signed(), addr).await;
        assert_eq!(status, 200, "{}: {body}", d.label());
        let (kind, name) = body
            .split_once(' ')
            .unwrap_or_else(|| panic!("{}: body {body:?}", d.label()));
        assert_eq!(kind, format!("{:?}", d.expected_kind()), "{}", d.label());
        assert_eq!(name, d.expected_primary, "{}", d.label());
    }
}

/// Every check above.
pub async fn run_all(addr: SocketAddr) {
    accepts_every_delivery(addr).await;
    accepts_every_version(addr).await;
    rejects_tampering(addr).await;
    rejects_contradicting_headers(addr).await;
    refuses_large_bodies_early(addr).await;
    handles_concurrency(addr).await;
}

/// A correctly signed delivery for a URL, for proxy tests.
pub fn signed_for(url: &str, key: &str) -> appwrite_webhooks::sender::SignedDelivery {
    let body = delivery_of_model("team").body;
    let id = serde_json::from_str::<serde_json::Value>(&body).expect("JSON")["$id"]
        .as_str()
        .expect("a team has an id")
        .to_owned();
    DeliveryBuilder::new(key, url, body)
        .event(&format!("teams.{id}.create").parse().expect("name"))
        .build()
}
