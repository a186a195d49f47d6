//! `--scheme alert` (Appwrite's alert webhooks) through `sign`, `verify`, `send`, `listen` and
//! `inspect`, run as processes over Appwrite's own alert deliveries
//! (`crates/testkit/data/appwrite/alerts/alerts.json`).

mod common;

use std::io::{Read, Write};

use common::{Listener, run, text};
use testkit::alerts::{ALERT_KEY, alert, alerts_path};

/// Tolerance wide enough for the data's fixed 2025 timestamps against this machine's clock.
const WIDE: &str = "999999999";

/// Posts an alert exactly as captured (headers and body) to a listener, raw over TCP, and
/// returns the status code.
fn post_captured(listener: &Listener, name: &str) -> u16 {
    let sample = alert(name);
    let address = listener.address();
    let host = address
        .trim_start_matches("http://")
        .split('/')
        .next()
        .unwrap();
    let mut stream = std::net::TcpStream::connect(host).unwrap();
    let mut request =
        format!("POST /hooks/appwrite HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n");
    for (name, value) in &sample.headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(&sample.body);
    stream.write_all(request.as_bytes()).unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    answer
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("no status in {answer:?}"))
}

#[test]
fn sign_and_verify_reproduce_appwrites_alert_signatures() {
    for name in [
        "webhook-paused",
        "webhook-paused-unicode",
        "usage-alert-no-project",
        "empty-params",
    ] {
        let sample = alert(name);
        let timestamp = sample.timestamp.to_string();
        let sent = sample.header_map()["x-appwrite-webhook-signature"]
            .to_str()
            .unwrap()
            .to_owned();
        let sig = run(
            &[
                "sign",
                "--key",
                ALERT_KEY,
                "--scheme",
                "alert",
                "--timestamp",
                &timestamp,
                "-",
            ],
            sample.body.as_bytes(),
        );
        assert_eq!(sig.status.code(), Some(0), "{}", text(&sig.stderr));
        assert_eq!(text(&sig.stdout).trim(), sent, "{name}");

        let verify = |key: &str, signature: &str, tolerance: &str| {
            run(
                &[
                    "verify",
                    "--key",
                    key,
                    "--scheme",
                    "alert",
                    "--timestamp",
                    &timestamp,
                    "--tolerance",
                    tolerance,
                    "--signature",
                    signature,
                    "-",
                ],
                sample.body.as_bytes(),
            )
        };
        let ok = verify(ALERT_KEY, &sent, WIDE);
        assert_eq!(
            (ok.status.code(), text(&ok.stdout)),
            (Some(0), "valid\n".to_owned()),
            "{name}"
        );
        // The data's timestamps are long past: the default five minutes refuse them.
        let old = verify(ALERT_KEY, &sent, "300");
        assert_eq!(old.status.code(), Some(1));
        assert!(
            text(&old.stderr).contains("tolerance"),
            "{}",
            text(&old.stderr)
        );
        assert_eq!(verify("other-secret", &sent, WIDE).status.code(), Some(1));
        // The seed's bare hex is not this scheme's form.
        let bare = verify(ALERT_KEY, &sent["sha256=".len()..], WIDE);
        assert_eq!(bare.status.code(), Some(1));
        assert!(
            text(&bare.stderr).contains("sha256="),
            "{}",
            text(&bare.stderr)
        );
    }
    // --timestamp is required for alerts, like for the timestamped scheme: a usage error.
    let missing = run(
        &[
            "verify",
            "--key",
            ALERT_KEY,
            "--scheme",
            "alert",
            "--signature",
            "sha256=00",
            "-",
        ],
        b"{}",
    );
    assert_eq!(missing.status.code(), Some(2));
}

#[test]
fn listen_types_alerts_and_refuses_unsigned_ones_unless_told() {
    let mut listener =
        Listener::start_with(&["--key", ALERT_KEY, "--scheme", "alert", "--tolerance", WIDE]);
    // Appwrite's own alerts, byte for byte.
    assert_eq!(post_captured(&listener, "webhook-paused"), 204);
    let seen = listener.next_json();
    assert_eq!(
        (seen["status"].as_u64(), seen["kind"].as_str()),
        (Some(204), Some("Alert")),
        "{seen}"
    );
    assert_eq!(seen["signed"], true, "{seen}");
    assert_eq!(
        seen["payload"]["subject"], "Webhook deliveries have been paused",
        "{seen}"
    );
    assert_eq!(post_captured(&listener, "usage-alert-no-project"), 204);
    assert_eq!(listener.next_json()["kind"], "Alert");
    // Unsigned: refused.
    assert_eq!(post_captured(&listener, "unsigned"), 401);
    let seen = listener.next_json();
    assert_eq!(seen["status"], 401, "{seen}");

    // `send --scheme alert` signs with a fresh timestamp: accepted under the default tolerance.
    let mut fresh = Listener::start_with(&["--key", ALERT_KEY, "--scheme", "alert"]);
    let body = alert("webhook-paused").body;
    let out = run(
        &[
            "send",
            "--key",
            ALERT_KEY,
            "--scheme",
            "alert",
            "--to",
            &fresh.address(),
            "-",
        ],
        body.as_bytes(),
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let seen = fresh.next_json();
    assert_eq!(
        (seen["status"].as_u64(), seen["kind"].as_str()),
        (Some(204), Some("Alert")),
        "{seen}"
    );
    // An old timestamp: 401, and send exits 1.
    let out = run(
        &[
            "send",
            "--key",
            ALERT_KEY,
            "--scheme",
            "alert",
            "--timestamp",
            "1764921600",
            "--to",
            &fresh.address(),
            "-",
        ],
        body.as_bytes(),
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stdout).contains("401"), "{}", text(&out.stdout));
    drop(fresh);

    // Told to accept unsigned alerts: accepted and reported as unsigned.
    let mut open = Listener::start_with(&[
        "--key",
        ALERT_KEY,
        "--scheme",
        "alert",
        "--tolerance",
        WIDE,
        "--unsigned-alerts",
    ]);
    assert_eq!(post_captured(&open, "unsigned"), 204);
    let seen = open.next_json();
    assert_eq!(
        (seen["kind"].as_str(), seen["signed"].as_bool()),
        (Some("Alert"), Some(false)),
        "{seen}"
    );
    drop(open);

    // --unsigned-alerts belongs to the alert scheme only.
    let out = run(
        &[
            "listen",
            "--key",
            "k",
            "--scheme",
            "generic",
            "--unsigned-alerts",
        ],
        b"",
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
}

#[test]
fn inspect_explains_alerts() {
    let path = alerts_path();
    let path = path.to_str().unwrap();
    let inspect = |name: &str, tolerance: &str| {
        let out = run(
            &[
                "inspect",
                "--key",
                ALERT_KEY,
                "--scheme",
                "alert",
                "--tolerance",
                tolerance,
                "--name",
                name,
                path,
            ],
            b"",
        );
        (out.status.code(), text(&out.stdout))
    };
    let (code, out) = inspect("webhook-paused-unicode", WIDE);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("signature matches key #0"), "{out}");
    let (code, out) = inspect("webhook-paused", "300");
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("tolerance"), "{out}");
    let (code, out) = inspect("unsigned", WIDE);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("unsigned") && out.contains("no secret"),
        "{out}"
    );
}
