//! `inspect`, run as a process on captured requests.

mod common;

use common::{run, text};

/// A raw capture as a proxy log shows it, for `inspect`.
fn raw_capture(signed_for: &str, path: &str, body: &str, drop_header: Option<&str>) -> String {
    let sent = appwrite_webhooks::sender::DeliveryBuilder::new("k", signed_for, body.to_owned())
        .event(&"teams.t1.create".parse().unwrap())
        .build();
    let mut out = format!("POST {path} HTTP/1.1\r\nHost: hooks.example.com\r\n");
    for (name, value) in sent.headers() {
        if Some(name.as_str()) != drop_header {
            out.push_str(&format!("{name}: {}\r\n", value.to_str().unwrap()));
        }
    }
    out.push_str("\r\n");
    out.push_str(body);
    out
}

fn inspect(url: &str, capture: &str) -> (i32, String) {
    let out = run(
        &["inspect", "--key", "k", "--url", url, "-"],
        capture.as_bytes(),
    );
    (out.status.code().unwrap(), text(&out.stdout))
}

#[test]
fn inspect_explains_each_mismatch() {
    let body = r#"{"$id":"t1","note":"https:\/\/example.com \u00eb"}"#;

    let (code, out) = inspect(
        "https://hooks.example.com/hook",
        &raw_capture("https://hooks.example.com/hook", "/hook", body, None),
    );
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("signature matches key #0"), "{out}");

    // Configured without the slash, Appwrite had it — and the other way round.
    let (code, out) = inspect(
        "https://hooks.example.com/hook",
        &raw_capture("https://hooks.example.com/hook/", "/hook/", body, None),
    );
    assert_eq!(code, 1);
    assert!(
        out.contains(
            "signed for https://hooks.example.com/hook/, not https://hooks.example.com/hook"
        ),
        "{out}"
    );
    assert!(out.contains("ends with a trailing slash"), "{out}");
    let (code, out) = inspect(
        "https://hooks.example.com/hook/",
        &raw_capture("https://hooks.example.com/hook", "/hook", body, None),
    );
    assert_eq!(code, 1);
    assert!(out.contains("has no trailing slash"), "{out}");

    // A body re-serialised by a JSON library: escapes gone.
    let signed = raw_capture(
        "https://hooks.example.com/hook",
        "/hook",
        body,
        Some("content-length"),
    );
    let reencoded = signed.replace(body, r#"{"$id":"t1","note":"https://example.com ë"}"#);
    let (code, out) = inspect("https://hooks.example.com/hook", &reencoded);
    assert_eq!(code, 1);
    assert!(out.contains("re-encoded"), "{out}");
    assert!(
        out.contains("`\\/` escapes and `\\uXXXX` escapes are missing"),
        "{out}"
    );

    // A wrong key: nothing else explains it.
    let other = run(
        &[
            "inspect",
            "--key",
            "not-k",
            "--url",
            "https://hooks.example.com/hook",
            "-",
        ],
        raw_capture("https://hooks.example.com/hook", "/hook", body, None).as_bytes(),
    );
    assert_eq!(other.status.code(), Some(1));
    assert!(
        text(&other.stdout).contains("the key differs"),
        "{}",
        text(&other.stdout)
    );

    // Missing headers: the signature's is reported alone; any other after the signature holds.
    for (dropped, reported, signature_holds) in [
        (
            "x-appwrite-webhook-signature",
            "X-Appwrite-Webhook-Signature",
            false,
        ),
        (
            "x-appwrite-webhook-events",
            "X-Appwrite-Webhook-Events",
            true,
        ),
        ("x-appwrite-webhook-id", "X-Appwrite-Webhook-Id", true),
        (
            "x-appwrite-webhook-project-id",
            "X-Appwrite-Webhook-Project-Id",
            true,
        ),
    ] {
        let url = "https://hooks.example.com/hook";
        let (code, out) = inspect(url, &raw_capture(url, "/hook", body, Some(dropped)));
        assert_eq!(code, 1, "{out}");
        assert!(
            out.contains(&format!("{reported} header is missing")),
            "{out}"
        );
        assert_eq!(out.contains("signature matches"), signature_holds, "{out}");
    }

    // JSON captures (the shape of deliveries.json) carry their own URL.
    let deliveries = testkit::data_dir().join("deliveries.json");
    let sample = testkit::delivery_named("teams.teamId.create");
    let out = run(
        &[
            "inspect",
            "--key",
            &sample.signature_key,
            "--name",
            "teams.teamId.create",
            deliveries.to_str().unwrap(),
        ],
        b"",
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
}

#[test]
fn inspect_honours_the_scheme() {
    let body = r#"{"id":"evt_1","type":"user.created","created_at":"2023-12-01T15:30:00Z","data":{"a":"b\/c"}}"#;
    let capture = |body: &str, event: Option<&str>| {
        let mut headers = serde_json::json!({
            "X-Webhook-Id": "wh_1",
            "X-Webhook-Signature": appwrite_webhooks::sign_generic("k", body.as_bytes()),
        });
        if let Some(event) = event {
            headers["X-Webhook-Event"] = event.into();
        }
        serde_json::json!({ "headers": headers, "body": body }).to_string()
    };
    let inspect = |capture: String| {
        let out = run(
            &["inspect", "--key", "k", "--scheme", "generic", "-"],
            capture.as_bytes(),
        );
        (out.status.code(), text(&out.stdout))
    };

    let (code, out) = inspect(capture(body, Some("user.created")));
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("signature matches key #0 over"), "{out}");

    // The scheme's own required header, named as the core names it.
    let (code, out) = inspect(capture(body, None));
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("X-Webhook-Event header is missing"), "{out}");

    // A body re-encoded after signing is recognised in this scheme too.
    let signed = capture(body, Some("user.created"));
    let reencoded = signed.replacen(r#"b\\/c"#, "b/c", 1);
    assert_ne!(signed, reencoded);
    let (code, out) = inspect(reencoded);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("re-encoded"), "{out}");
}
