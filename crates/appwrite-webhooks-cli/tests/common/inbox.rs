//! `listen` in inbox mode, run as a process, and what the inbox tests send it and ask of it.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use appwrite_webhooks::Verifier;
use appwrite_webhooks::sender::{DeliveryBuilder, SignedDelivery};

use super::{BIN, run, stderr, stdout};

/// The key the inbox tests sign with.
pub const KEY: &str = "whsec_inbox";
/// The URL the webhook is configured with: public, whatever port a receiver listens on.
pub const URL: &str = "https://hooks.example.com/hooks";

pub fn dir(name: &str) -> PathBuf {
    testkit::scratch::dir(&format!("cli-inbox-{name}"))
}

/// `listen` in inbox mode on a port it picks; stdout is discarded so a burst never blocks it.
pub fn listen(store: &[&str]) -> (Child, u16) {
    let (child, addr) = super::started(
        Command::new(BIN)
            .args(["listen", "--key", KEY, "--url", URL, "--port", "0"])
            .args(store)
            .stdout(Stdio::null()),
    );
    (child, addr.port())
}

pub fn delivery(n: usize) -> SignedDelivery {
    let body = format!(r#"{{"$id":"u{n}","name":"Zo\u00eb","site":"https:\/\/example.com\/{n}"}}"#);
    DeliveryBuilder::new(KEY, URL, body)
        .events([format!("users.u{n}.create"), "users.*.create".into()])
        .build()
}

pub async fn post(sent: &SignedDelivery, port: u16) -> Option<(u16, String)> {
    let addr = ([127, 0, 0, 1], port).into();
    let body = http_body_util::Full::new(bytes::Bytes::copy_from_slice(sent.body()));
    testkit::net::send_body(sent, addr, body).await.ok()
}

pub fn id_of(text: &str) -> u64 {
    text.split(' ')
        .find_map(|w| w.trim_end_matches(',').parse().ok())
        .unwrap_or_else(|| panic!("an id in {text:?}"))
}

pub fn stats(store: &[&str]) -> serde_json::Value {
    let out = run(&[&["inbox", "stats", "--json"], store].concat(), b"");
    assert!(out.status.success(), "{}", stderr(&out));
    serde_json::from_str(&stdout(&out)).unwrap()
}

pub fn verifier() -> Verifier {
    Verifier::new(KEY, URL)
}
