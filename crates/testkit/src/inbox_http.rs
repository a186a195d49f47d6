//! What every route in inbox mode must do over a real connection, run by each adapter's tests:
//! every Appwrite version stored byte for byte once, forgeries and oversized bodies refused, a
//! sender that hangs up half-way stores nothing, and a full store is a `503` with nothing
//! stored half-way.

use std::time::Duration;

use appwrite_webhooks::inbox::Inbox;
use appwrite_webhooks::sender::DeliveryBuilder;

use crate::inbox_suite::user_events;

/// What a route in inbox mode must do, over HTTP: the server at `addr` verifies with
/// [`suite_verifier`](crate::http_suite::suite_verifier) and stores into `inbox` (empty).
/// Every sample delivery, of main and of every release, is answered `202` and stored byte for
/// byte, once however often it is sent; forgeries and oversized bodies are refused and store
/// nothing.
pub async fn over_http(addr: std::net::SocketAddr, inbox: &Inbox) {
    use crate::net::send;
    let verifier = crate::http_suite::suite_verifier();
    let mut sent: Vec<appwrite_webhooks::sender::SignedDelivery> =
        crate::deliveries().iter().map(|d| d.signed()).collect();
    sent.extend(
        crate::versions::versioned_deliveries()
            .iter()
            .map(|d| d.signed()),
    );
    let mut ids = std::collections::BTreeSet::new();
    for d in &sent {
        let (status, text) = send(d, addr).await;
        assert_eq!(status, 202, "{}: {text}", d.url());
        let id: u64 = text
            .rsplit(' ')
            .find_map(|w| w.trim_end_matches(',').parse().ok())
            .unwrap_or_else(|| panic!("an id in {text:?}"));
        let row = inbox.admin().get(id).await.unwrap().expect("stored");
        assert_eq!(&row.received.body[..], d.body(), "{}", d.url());
        verifier.verify_stored(&row.received).await.unwrap();
        ids.insert(id);
    }
    let stored = inbox.admin().stats().await.unwrap().stored;
    assert_eq!(stored, ids.len() as u64);
    // Appwrite's re-sends: answered 202, not stored again.
    for d in sent.iter().step_by(7) {
        let (status, text) = send(d, addr).await;
        assert_eq!(
            (status, text.starts_with("duplicate")),
            (202, true),
            "{text}"
        );
    }
    // Forgeries and oversized bodies: refused, nothing stored.
    let genuine = &sent[0];
    let (url, headers, body) = genuine.clone().into_parts();
    let mut tampered = body.to_vec();
    tampered.push(b' ');
    let tampered = appwrite_webhooks::sender::SignedDelivery::from_parts(
        url.clone(),
        headers.clone(),
        tampered.into(),
    );
    assert_eq!(send(&tampered, addr).await.0, 401);
    let wrong_key = DeliveryBuilder::new("not-the-key", url.as_str(), body.clone()).build();
    assert_eq!(send(&wrong_key, addr).await.0, 401);
    let huge = vec![b' '; crate::http_suite::LIMIT + 1];
    let oversized =
        appwrite_webhooks::sender::SignedDelivery::from_parts(url, headers, huge.into());
    assert_eq!(send(&oversized, addr).await.0, 413);
    // A sender that hangs up half-way through a genuine body: nothing stored.
    hang_up_half_way(addr, genuine).await;
    assert_eq!(inbox.admin().stats().await.unwrap().stored, stored);
}

/// Sends `sent`'s request line, headers and half its body, then closes the connection, and
/// gives the server a moment to notice.
async fn hang_up_half_way(
    addr: std::net::SocketAddr,
    sent: &appwrite_webhooks::sender::SignedDelivery,
) {
    use tokio::io::AsyncWriteExt as _;
    let mut head = format!(
        "POST {} HTTP/1.1\r\nhost: {addr}\r\ncontent-length: {}\r\n",
        crate::net::path_and_query(sent.url()),
        sent.body().len()
    )
    .into_bytes();
    for (name, value) in sent.headers() {
        if name != http::header::CONTENT_LENGTH && name != http::header::HOST {
            head.extend_from_slice(name.as_str().as_bytes());
            head.extend_from_slice(b": ");
            head.extend_from_slice(value.as_bytes());
            head.extend_from_slice(b"\r\n");
        }
    }
    head.extend_from_slice(b"\r\n");
    head.extend_from_slice(&sent.body()[..sent.body().len() / 2]);
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    stream.write_all(&head).await.expect("write");
    drop(stream);
    tokio::time::sleep(Duration::from_millis(200)).await;
}

/// A route in inbox mode whose store fails answers `503` and stores nothing half-way: the
/// server at `addr` (as for [`over_http`]) stores into an inbox capped at about 64 KiB, which
/// fills after a few 20 KB deliveries.
pub async fn answers_503_when_the_store_fails(addr: std::net::SocketAddr, inbox: &Inbox) {
    let sample = &crate::deliveries()[0];
    let mut accepted = Vec::new();
    let failed = loop {
        let body = format!(
            r#"{{"$id":"r{}","pad":"{}"}}"#,
            accepted.len(),
            "x".repeat(20_000)
        );
        let sent = DeliveryBuilder::new(
            sample.signature_key.as_str(),
            sample.url.as_str(),
            body.clone(),
        )
        .events(user_events(&body))
        .build();
        let (status, text) = crate::net::send(&sent, addr).await;
        match status {
            202 => accepted.push(body),
            503 => break text,
            other => panic!("{other} {text}"),
        }
        assert!(accepted.len() < 20, "the store never filled");
    };
    // The caller learns that the service is unavailable, not why (a path, a store's error).
    assert_eq!(failed, "service unavailable: try again later");
    let rows = inbox.admin().list(None, 100).await.unwrap();
    let bodies: Vec<_> = rows
        .iter()
        .map(|r| String::from_utf8(r.received.body.to_vec()).unwrap())
        .collect();
    assert_eq!(
        bodies, accepted,
        "exactly the acknowledged deliveries, whole"
    );
}
