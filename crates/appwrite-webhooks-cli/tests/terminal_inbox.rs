//! `inbox list` and `inbox show` over a SQLite inbox print stored hostile deliveries — their
//! unsigned headers and a handler's error quoting them — inert.

mod common;

use std::time::{Duration, Instant};

use common::hostile::{KEY, NAME, URL, assert_inert, dir, hostile, listen, post, printed};
use common::{run, stderr, stdout};

/// A handler's error quoting the delivery, as `inbox list` and `show` print it.
const HANDLER_ERROR: &str = "bad name \x1b]0;pwned\x07\nforged row\r\tx";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inbox_list_and_show_print_stored_hostile_deliveries_inert() {
    use appwrite_webhooks::inbox::{Inbox, RetryPolicy, Workers};
    use appwrite_webhooks_sqlite::SqliteLedger;

    let file = dir("hostile").join("inbox.db");
    let (child, port) = listen(&["--inbox-sqlite", file.to_str().unwrap()]);
    assert_eq!(post(&hostile(Some("d-1")), port), 202);
    assert_eq!(post(&hostile(None), port), 202);
    let listened = printed(child);
    assert_inert(&listened);
    assert!(
        listened.contains("✔ stored 1 (delivery d-1)\n"),
        "{listened}"
    );
    assert!(listened.contains("✔ stored 2\n"), "{listened}");

    // Delivery 1 fails its one attempt with an error quoting hostile text.
    let inbox = Inbox::new(SqliteLedger::open(&file).unwrap());
    let failing = |_: appwrite_webhooks::Delivery| async {
        Err::<(), _>(std::io::Error::other(HANDLER_ERROR))
    };
    let workers = Workers::new(
        inbox.clone(),
        appwrite_webhooks::Verifier::new(KEY, URL),
        failing,
    )
    .with_retry(RetryPolicy::default().with_max_attempts(1))
    .start();
    let deadline = Instant::now() + Duration::from_secs(20);
    while inbox.admin().stats().await.unwrap().dead < 2 {
        assert!(Instant::now() < deadline, "not dead");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    workers.shutdown(Duration::from_secs(1)).await;

    let store = ["--sqlite", file.to_str().unwrap()];
    let out = run(&[&["inbox", "list"][..], &store].concat(), b"");
    assert!(out.status.success(), "{}", stderr(&out));
    let listed = stdout(&out);
    assert_inert(&listed);
    let lines: Vec<&str> = listed.lines().collect();
    assert_eq!(
        lines.len(),
        3,
        "a header and one line per delivery: {listed}"
    );
    assert!(lines[0].contains("delivery-id"), "{listed}");
    for (line, id) in lines[1..].iter().zip(["d-1", "-"]) {
        let columns: Vec<&str> = line.split_whitespace().collect();
        // id, state, attempts, received, bytes, delivery id, event, then the error.
        assert_eq!(&columns[1..3], ["dead", "1"], "{line}");
        assert_eq!(columns[5], id, "{line}");
        assert_eq!(columns[6], "users.u1.create", "{line}");
        assert!(
            line.ends_with("bad name \\u{1b}]0;pwned\\u{7}\\nforged row\\r\\tx"),
            "{line}"
        );
    }

    let out = run(&[&["inbox", "list", "--json"][..], &store].concat(), b"");
    let json = stdout(&out);
    assert_inert(&json);
    let rows: Vec<serde_json::Value> = json
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 2, "{json}");
    assert_eq!(rows[0]["delivery_id"], "d-1");
    assert!(rows[1]["delivery_id"].is_null());
    assert_eq!(rows[0]["last_error"], HANDLER_ERROR);

    let out = run(&[&["inbox", "show", "1"][..], &store].concat(), b"");
    assert!(out.status.success(), "{}", stderr(&out));
    let shown = stdout(&out);
    assert_inert(&shown);
    let (head, body) = shown
        .split_once("\n\n")
        .expect("headers, a blank line, the body");
    assert!(head.contains("\ndelivery id: d-1\n"), "{shown}");
    assert!(
        head.contains("\nlast error: bad name \\u{1b}]0;pwned\\u{7}\\nforged row\\r\\tx\n"),
        "{shown}"
    );
    assert!(
        head.contains("\nx-appwrite-webhook-delivery-id: d-1\n"),
        "{shown}"
    );
    assert!(
        head.contains(
            "\nx-appwrite-webhook-name: \\u{9b}2J\"Dev\", project evil\\u{85}\\u{202e}gnp.exe\\tx\n"
        ),
        "{shown}"
    );
    // Every head line is a known one or a header: none forged.
    for line in head.lines() {
        assert!(
            ["delivery ", "last error: ", "received "]
                .iter()
                .any(|p| line.starts_with(p))
                || line
                    .split_once(": ")
                    .is_some_and(|(name, _)| http::HeaderName::from_bytes(name.as_bytes()).is_ok()),
            "{line:?} in {shown}"
        );
    }
    assert!(body.contains("\\u{9b}2J\\u{85}\\u{202e}x"), "{body}");
    let out = run(&[&["inbox", "show", "2"][..], &store].concat(), b"");
    assert!(
        stdout(&out).contains("\ndelivery id: -\n"),
        "{}",
        stdout(&out)
    );
    let out = run(
        &[&["inbox", "show", "1", "--json"][..], &store].concat(),
        b"",
    );
    let one = stdout(&out);
    assert_inert(&one);
    let one: serde_json::Value = serde_json::from_str(&one).unwrap();
    assert_eq!(one["delivery_id"], "d-1");
    assert_eq!(one["headers"]["x-appwrite-webhook-name"], NAME);
}
