//! What an operator sees on a terminal stays inert whatever a sender puts in a delivery: the
//! unsigned headers of any request, and the signed text of a genuine one (an Appwrite user
//! named `\x1b]0;pwned\x07`). Here `listen` (text and `--json`); `inbox list`/`show` and
//! `inspect`/`send` have their own files.

mod common;

use appwrite_webhooks::sender::SignedDelivery;
use common::hostile::{
    EVENTS, NAME, USER_ID, assert_inert, dir, hostile, listen, post, post_raw, post_request,
    printed,
};

#[test]
fn listen_prints_hostile_deliveries_inert_and_on_their_own_lines() {
    let (child, port) = listen(&[]);
    assert_eq!(post(&hostile(Some("d-1")), port), 204);
    assert_eq!(post(&hostile(None), port), 204);
    // A forgery quoting the hostile headers back in its error: one line too.
    let mut forged = hostile(None);
    let (url, mut headers, body) = forged.into_parts();
    headers.insert(
        "x-appwrite-webhook-signature",
        http::HeaderValue::from_static("AAAAAAAAAAAAAAAAAAAAAAAAAAA="),
    );
    forged = SignedDelivery::from_parts(url, headers, body);
    assert_eq!(post(&forged, port), 401);
    // ESC and line breaks cannot travel in a header: the HTTP parser refuses them before
    // anything is printed.
    let raw = String::from_utf8(post_request(&hostile(None)))
        .unwrap()
        .replacen(
            "x-appwrite-webhook-name: ",
            "x-appwrite-webhook-name: \x1b]0;pwned\x07\x1b[2J",
            1,
        );
    assert_eq!(post_raw(raw.as_bytes(), port), 400);
    let out = printed(child);
    assert_inert(&out);

    // Each delivery starts one unindented line: nothing in it forged another.
    let starts: Vec<&str> = out.lines().filter(|l| !l.starts_with("  ")).collect();
    assert_eq!(starts.len(), 3, "{out}");
    assert!(starts[0].starts_with("✔ users.u1.create ("), "{out}");
    assert!(starts[2].starts_with("✘ 401"), "{out}");
    // The detail line: the name quoted, the user id one field, the delivery id shown.
    let details: Vec<&str> = out
        .lines()
        .filter(|l| l.starts_with("  webhook "))
        .collect();
    assert_eq!(details.len(), 2, "{out}");
    assert!(
        details[0].starts_with(
            "  webhook wh_test \"\\u{9b}2J\\\"Dev\\\", project evil\\u{85}\\u{202e}gnp.exe\\tx\", project "
        ),
        "{}",
        details[0]
    );
    assert!(
        details[0].contains(", user u1,\\u{20}key\\u{20}#9\\u{9b}31m, delivery d-1, key #0,"),
        "{}",
        details[0]
    );
    assert!(!details[1].contains("delivery "), "{}", details[1]);
    assert!(out.contains("\\u{9b}2J\\u{85}\\u{202e}x"), "{out}");
    assert!(
        out.contains("\\u001b]0;pwned\\u0007<img src=x onerror=alert(1)>"),
        "{out}"
    );
}

#[test]
fn listen_json_lines_are_inert_and_carry_the_values_as_sent() {
    let (child, port) = listen(&["--json"]);
    assert_eq!(post(&hostile(Some("d-1")), port), 204);
    assert_eq!(post(&hostile(None), port), 204);
    let out = printed(child);
    assert_inert(&out);
    let lines: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect();
    assert_eq!(lines.len(), 2, "{out}");
    // Escaped for the terminal, the same values for a program.
    assert_eq!(lines[0]["webhook_name"], NAME);
    assert_eq!(lines[0]["user_id"], USER_ID);
    assert_eq!(lines[0]["events"][1], EVENTS.split(',').nth(1).unwrap());
    assert_eq!(lines[0]["payload"]["raw"], "\u{9b}2J\u{85}\u{202e}x");
    assert_eq!(lines[0]["payload"]["bio"], "line\n\rforged line");
    assert_eq!(lines[0]["delivery_id"], "d-1");
    assert!(lines[1]["delivery_id"].is_null(), "{}", lines[1]);
    assert!(lines[1].as_object().unwrap().contains_key("delivery_id"));
}

/// The same signed body under more delivery ids than a body may have: the one past the limit
/// is answered `202` without being stored, and `listen` says so in text and JSON.
#[test]
fn listen_reports_a_body_over_its_label_limit() {
    let limit = appwrite_webhooks::MAX_LABELS_PER_BODY as usize;
    let ids: Vec<String> = (1..=limit + 1).map(|n| format!("d{n}")).collect();
    let over = &ids[limit];
    let file = dir("labels").join("inbox.db");
    let (child, port) = listen(&["--inbox-sqlite", file.to_str().unwrap()]);
    for id in &ids {
        assert_eq!(post(&hostile(Some(id)), port), 202);
    }
    let out = printed(child);
    assert_inert(&out);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), limit + 1, "{out}");
    assert_eq!(
        lines[limit - 1],
        format!("✔ stored {limit} (delivery d{limit})")
    );
    let expected = format!(
        "! duplicate body, not stored (delivery {over}): this signed body already came under {limit} other"
    );
    assert!(lines[limit].starts_with(&expected), "{out}");

    let file = dir("labels-json").join("inbox.db");
    let (child, port) = listen(&["--json", "--inbox-sqlite", file.to_str().unwrap()]);
    for id in &ids {
        assert_eq!(post(&hostile(Some(id)), port), 202);
    }
    // The first again: a copy, stored before.
    assert_eq!(post(&hostile(Some("d1")), port), 202);
    let out = printed(child);
    let lines: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), limit + 2, "{out}");
    assert_eq!(
        lines[0],
        serde_json::json!({"status": 202, "stored": 1, "duplicate": false, "over_label_limit": false, "delivery_id": "d1"})
    );
    assert_eq!(
        lines[limit],
        serde_json::json!({"status": 202, "stored": null, "duplicate": true, "over_label_limit": true, "delivery_id": over})
    );
    assert_eq!(
        lines[limit + 1],
        serde_json::json!({"status": 202, "stored": 1, "duplicate": true, "over_label_limit": false, "delivery_id": "d1"})
    );
}
