//! `inspect` and `send` with delivery ids: `inspect` names the delivery id (or says there is
//! none) and quotes a hostile capture inert; `send --delivery-id` sets it, `--replay` keeps it.

mod common;

use appwrite_webhooks::sender::SignedDelivery;
use common::hostile::{BODY, KEY, NAME, URL, assert_inert, hostile};
use common::{run, stderr, stdout, temp_file};

/// `inspect` names the delivery id, says when there is none, and quotes a hostile capture
/// inert and on one line per finding.
#[test]
fn inspect_names_the_delivery_id_and_prints_captures_inert() {
    let capture = |sent: &SignedDelivery| {
        let headers: serde_json::Map<String, serde_json::Value> = sent
            .headers()
            .iter()
            .map(|(k, v)| (k.to_string(), String::from_utf8_lossy(v.as_bytes()).into()))
            .collect();
        serde_json::json!({ "url": URL, "headers": headers, "body": BODY }).to_string()
    };
    let inspect = |capture: String| {
        let out = run(&["inspect", "--key", KEY, "-"], capture.as_bytes());
        (out.status.code(), stdout(&out), stderr(&out))
    };
    let (code, out, err) = inspect(capture(&hostile(Some("d-1"))));
    assert_eq!(code, Some(0), "{out}{err}");
    assert_inert(&out);
    assert!(out.contains("  delivery id: d-1 — not signed"), "{out}");
    let (code, out, _) = inspect(capture(&hostile(None)));
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("  delivery id: none — "), "{out}");

    // Malformed (a space): named, and the receivers' 400 explained.
    let (url, mut headers, body) = hostile(None).into_parts();
    headers.insert(
        "x-appwrite-webhook-delivery-id",
        http::HeaderValue::from_static("has space"),
    );
    let (code, out, err) = inspect(capture(&SignedDelivery::from_parts(url, headers, body)));
    assert_eq!(code, Some(1), "{out}{err}");
    assert!(
        out.contains("  delivery id: has\\u{20}space — not signed"),
        "{out}"
    );
    assert!(out.contains("X-Appwrite-Webhook-Delivery-Id"), "{out}");
    assert!(out.contains("(receivers answer 400)"), "{out}");

    // A forged capture whose URL quotes escapes and line breaks: one line per finding.
    let mut forged: serde_json::Value = serde_json::from_str(&capture(&hostile(None))).unwrap();
    forged["url"] = "https://hooks.example.com/hook\u{9b}2J\nforged ✔ signature matches".into();
    let (code, out, _) = inspect(forged.to_string());
    assert_eq!(code, Some(1), "{out}");
    assert_inert(&out);
    assert!(
        out.lines()
            .all(|l| l.starts_with("✘ ") || l.starts_with("  ")),
        "{out}"
    );
}

/// `send --delivery-id` sets the header; `--replay` keeps the one recorded.
#[test]
fn send_sets_and_replays_delivery_ids() {
    let mut listener = common::Listener::start(KEY, URL);
    let out = run(
        &[
            "send",
            "--key",
            KEY,
            "--url",
            URL,
            "--to",
            &listener.address(),
            "--event",
            "users.[userId].create",
            "--param",
            "userId=u1",
            "--delivery-id",
            "6762a0f1b3c4d5e6f7a8",
            "-",
        ],
        br#"{"$id":"u1"}"#,
    );
    common::assert_sent(&out, 0, "204");
    assert_eq!(listener.next_json()["delivery_id"], "6762a0f1b3c4d5e6f7a8");

    let recorded = hostile(Some("d-recorded"));
    let headers: serde_json::Map<String, serde_json::Value> = recorded
        .headers()
        .iter()
        .map(|(k, v)| (k.to_string(), String::from_utf8_lossy(v.as_bytes()).into()))
        .collect();
    let file = temp_file(
        "replay-delivery-id.json",
        serde_json::json!({ "url": URL, "headers": headers, "body": BODY })
            .to_string()
            .as_bytes(),
    );
    let out = run(
        &[
            "send",
            "--replay",
            file.to_str().unwrap(),
            "--to",
            &listener.address(),
        ],
        b"",
    );
    common::assert_sent(&out, 0, "204");
    let line = listener.next_json();
    assert_eq!(line["delivery_id"], "d-recorded");
    assert_eq!(line["webhook_name"], NAME);

    // Usage errors: another scheme sends none, a replay keeps its own, a header must carry it.
    for args in [
        &[
            "send",
            "--key",
            KEY,
            "--scheme",
            "generic",
            "--to",
            "http://127.0.0.1:9/",
            "--delivery-id",
            "d1",
            "-",
        ][..],
        &[
            "send",
            "--replay",
            file.to_str().unwrap(),
            "--delivery-id",
            "d1",
        ],
        &[
            "send",
            "--key",
            KEY,
            "--url",
            URL,
            "--delivery-id",
            "d\u{1}1",
            "-",
        ],
    ] {
        let out = run(args, b"{}");
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert_inert(&stderr(&out));
    }
}
