//! HTTP Basic auth as Appwrite sends it, checked through a real server on loopback with a raw
//! HTTP/1.1 client, so the test sees every response header and can send a request's head
//! without its body.
//!
//! The server under test must verify with [`verifier`] on `POST /hooks/auth` and answer a
//! verified delivery with any 2xx.

use std::net::SocketAddr;
use std::time::Duration;

use appwrite_webhooks::Verifier;
use appwrite_webhooks::sender::{DeliveryBuilder, SignedDelivery};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

/// The URL the suite's deliveries are signed for; the server serves its path.
pub const URL: &str = "http://localhost/hooks/auth";
/// The suite's signing key.
pub const KEY: &str = "auth-suite-key";
/// The webhook's HTTP user name in Appwrite.
pub const USER: &str = "appwrite";
/// The accepted passwords: a rotation, new and old.
pub const PASSWORDS: [&str; 2] = ["new-Pa55:word", "old-password"];
/// The realm the challenge must name.
pub const REALM: &str = "appwrite test";

/// The verifier the server under test must use.
pub fn verifier() -> Verifier {
    PASSWORDS
        .iter()
        .fold(Verifier::new(KEY, URL), |v, p| v.with_basic_auth(USER, p))
        .with_basic_auth_realm(REALM)
}

/// A delivery every extractor accepts.
pub fn delivery() -> SignedDelivery {
    DeliveryBuilder::new(KEY, URL, r#"{"$id":"t1","name":"Auth team"}"#)
        .event(&"teams.t1.create".parse().unwrap())
        .build()
}

/// `Basic base64(user:password)`.
pub fn basic(user: &str, password: &str) -> String {
    format!("Basic {}", STANDARD.encode(format!("{user}:{password}")))
}

/// A response as the raw client read it.
#[derive(Debug)]
pub struct Answer {
    /// The status code.
    pub status: u16,
    /// Every header line, `name: value`, names lower-cased.
    pub headers: Vec<(String, String)>,
    /// The body as text.
    pub body: String,
}

impl Answer {
    /// The value of the first header `name` (lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Sends `sent` with these `authorization` headers over a fresh connection. With
/// `send_body == false` only the head goes out (its `Content-Length` still announces the body):
/// an answer then proves the server decided without reading the body.
pub async fn post(
    addr: SocketAddr,
    sent: &SignedDelivery,
    authorization: &[&str],
    send_body: bool,
) -> Answer {
    let mut head = format!(
        "POST {} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\ncontent-length: {}\r\n",
        crate::net::path_and_query(sent.url()),
        sent.body().len()
    );
    for (name, value) in sent.headers() {
        if name != http::header::CONTENT_LENGTH {
            head.push_str(&format!("{name}: {}\r\n", value.to_str().unwrap()));
        }
    }
    for value in authorization {
        head.push_str(&format!("authorization: {value}\r\n"));
    }
    head.push_str("\r\n");
    let exchange = async {
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        stream.write_all(head.as_bytes()).await.unwrap();
        if send_body {
            stream.write_all(sent.body()).await.unwrap();
        }
        read_answer(&mut stream).await
    };
    // A liveness bound, not a speed check: a server waiting for the body never answers.
    tokio::time::timeout(Duration::from_secs(20), exchange)
        .await
        .unwrap_or_else(|_| panic!("no answer from {addr} (send_body: {send_body})"))
}

/// Reads one response: head, then `Content-Length` bytes of body (or to the end).
async fn read_answer(stream: &mut tokio::net::TcpStream) -> Answer {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        let n = stream.read(&mut chunk).await.unwrap();
        assert!(n > 0, "connection closed before a response: {buf:?}");
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .expect("a status line");
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let mut body = buf[head_end + 4..].to_vec();
    let len = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .and_then(|(_, v)| v.parse::<usize>().ok());
    while len.is_none_or(|len| body.len() < len) {
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(n) => body.extend_from_slice(&chunk[..n]),
        }
    }
    Answer {
        status,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    }
}

/// Every check: right (each pair), wrong, missing, malformed, repeated, decided before the
/// body, and a right password that does not excuse a bad signature.
pub async fn run_all(addr: SocketAddr) {
    let sent = delivery();
    let challenge = format!("Basic realm=\"{REALM}\", charset=\"UTF-8\"");
    for password in PASSWORDS {
        let answer = post(addr, &sent, &[&basic(USER, password)], true).await;
        assert!(
            (200..300).contains(&answer.status),
            "accepted pair: {answer:?}"
        );
    }
    let refused: [(&str, Vec<String>); 7] = [
        ("missing", vec![]),
        ("wrong password", vec![basic(USER, "wrong")]),
        ("wrong user", vec![basic("someone", PASSWORDS[0])]),
        ("password prefix", vec![basic(USER, &PASSWORDS[0][..5])]),
        ("malformed base64", vec!["Basic !!not*base64".into()]),
        ("another scheme", vec![format!("Bearer {}", PASSWORDS[0])]),
        (
            "repeated",
            vec![basic(USER, PASSWORDS[0]), basic(USER, PASSWORDS[0])],
        ),
    ];
    for (case, values) in &refused {
        let values: Vec<&str> = values.iter().map(String::as_str).collect();
        for send_body in [true, false] {
            let answer = post(addr, &sent, &values, send_body).await;
            assert_eq!(
                answer.status, 401,
                "{case} (body sent: {send_body}): {answer:?}"
            );
            assert_eq!(
                answer.header("www-authenticate"),
                Some(challenge.as_str()),
                "{case}: {answer:?}"
            );
            for password in PASSWORDS {
                assert!(!answer.body.contains(password), "{case}: {answer:?}");
            }
        }
    }
    // Credentials are an extra layer: with the right ones, a forged signature still fails,
    // and its 401 is the signature's (no Basic challenge).
    let forged = DeliveryBuilder::new("not-the-key", URL, sent.body().to_vec())
        .event(&"teams.t1.create".parse().unwrap())
        .build();
    let answer = post(addr, &forged, &[&basic(USER, PASSWORDS[0])], true).await;
    assert_eq!(answer.status, 401, "{answer:?}");
    assert_eq!(answer.header("www-authenticate"), None, "{answer:?}");
}
