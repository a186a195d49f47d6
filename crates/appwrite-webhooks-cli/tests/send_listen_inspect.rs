//! `send`, `listen` and `inspect`, run as processes on loopback.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};

use common::{BIN, run, text};
use std::time::{Duration, Instant};

/// Checks that `send` exited with `code` and printed the receiver's `status` first.
fn assert_sent(output: &std::process::Output, code: i32, status: &str) {
    assert_eq!(output.status.code(), Some(code), "{}", text(&output.stderr));
    let stdout = text(&output.stdout);
    assert!(stdout.starts_with(status), "{stdout}");
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `listen --json` in the background, with its stdout lines readable.
struct Listener {
    child: Child,
    lines: std::io::Lines<BufReader<std::process::ChildStdout>>,
    port: u16,
}

impl Listener {
    fn start(key: &str, url: &str) -> Self {
        Self::start_with(&["--key", key, "--url", url])
    }

    fn start_with(options: &[&str]) -> Self {
        let port = free_port();
        let mut child = Command::new(BIN)
            .args(["listen", "--json", "--port", &port.to_string()])
            .args(options)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "listen did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        let lines = BufReader::new(child.stdout.take().unwrap()).lines();
        Self { child, lines, port }
    }

    fn next_json(&mut self) -> serde_json::Value {
        let line = self.lines.next().expect("a line from listen").unwrap();
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("{line}: {e}"))
    }

    fn address(&self) -> String {
        format!("http://127.0.0.1:{}/hooks/appwrite", self.port)
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const USER: &str = r#"{"$id":"u1","$createdAt":"2020-10-15T06:38:00.000+00:00","$updatedAt":"2020-10-15T06:38:00.000+00:00","name":"Zo\u00eb","registration":"","status":true,"labels":[],"passwordUpdate":"","email":"a@b.c","phone":"","emailVerification":true,"phoneVerification":false,"mfa":false,"prefs":[],"targets":[],"accessedAt":""}"#;

#[test]
fn send_a_built_delivery_to_listen() {
    let public = "https://hooks.example.com/appwrite";
    let mut listener = Listener::start("whsec_1", public);
    let sent = run(
        &[
            "send",
            "--key",
            "whsec_1",
            "--url",
            public,
            "--to",
            &listener.address(),
            "--event",
            "users.[userId].update.email",
            "--param",
            "userId=u1",
            "--webhook-name",
            "Dev",
            "--user-id",
            "u1",
            "-",
        ],
        USER.as_bytes(),
    );
    assert_sent(&sent, 0, "204");

    let line = listener.next_json();
    assert_eq!(line["status"], 204);
    assert_eq!(line["event"], "users.u1.update.email");
    assert_eq!(line["kind"], "User");
    assert_eq!(line["ids"]["users"], "u1");
    assert_eq!(line["webhook_name"], "Dev");
    assert_eq!(line["user_id"], "u1");
    assert_eq!(line["payload"]["name"], "Zoë");
    let events: Vec<&str> = line["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e.as_str().unwrap())
        .collect();
    assert!(
        events.contains(&"users.*.update") && events.contains(&"users.*"),
        "{events:?}"
    );

    // Signed with another key: the receiver refuses, send exits 1 and says why.
    let refused = run(
        &[
            "send",
            "--key",
            "other",
            "--url",
            public,
            "--to",
            &listener.address(),
            "-",
        ],
        USER.as_bytes(),
    );
    assert_sent(&refused, 1, "401");
    let line = listener.next_json();
    assert_eq!(line["status"], 401);
}

#[test]
fn replay_a_recorded_delivery() {
    let deliveries = testkit::shared_dir().join("deliveries.json");
    let sample = testkit::delivery_named("users.userId.create");
    let mut listener = Listener::start(&sample.signature_key, &sample.url);
    let out = run(
        &[
            "send",
            "--replay",
            deliveries.to_str().unwrap(),
            "--name",
            "users.userId.create",
            "--to",
            &listener.address(),
        ],
        b"",
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let line = listener.next_json();
    assert_eq!(line["kind"], "User");
    assert_eq!(line["webhook_id"], sample.header("X-Appwrite-Webhook-Id"));

    let ambiguous = run(
        &[
            "send",
            "--replay",
            deliveries.to_str().unwrap(),
            "--to",
            &listener.address(),
        ],
        b"",
    );
    assert_eq!(ambiguous.status.code(), Some(2));
}

#[test]
fn connection_failure_and_usage_errors() {
    let port = free_port();
    let out = run(
        &[
            "send",
            "--key",
            "k",
            "--url",
            &format!("http://127.0.0.1:{port}/x"),
            "-",
        ],
        b"{}",
    );
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(
        text(&out.stderr).lines().count(),
        1,
        "{}",
        text(&out.stderr)
    );
    let missing_param = run(
        &[
            "send",
            "--key",
            "k",
            "--url",
            "http://127.0.0.1:1/",
            "--event",
            "users.[userId].create",
            "-",
        ],
        b"{}",
    );
    assert_eq!(missing_param.status.code(), Some(2));
    assert!(text(&missing_param.stderr).contains("--param userId=VALUE"));
}

/// What `send` puts on the wire, read by a bare TCP server: Appwrite's header names (title
/// case), order and values, and basic auth only when both user and password are given.
#[test]
fn send_writes_the_request_appwrite_writes() {
    for (auth, expect_auth) in [
        (&["--http-user", "ops", "--http-pass", "s3cret"][..], true),
        (&["--http-user", "ops"][..], false),
    ] {
        let server = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = server.local_addr().unwrap().port();
        let capture = std::thread::spawn(move || {
            let (mut stream, _) = server.accept().unwrap();
            stream
                .set_read_timeout(Some(Duration::from_secs(10)))
                .unwrap();
            let mut request = Vec::new();
            let mut buf = [0u8; 4096];
            loop {
                let n = stream.read(&mut buf).unwrap();
                request.extend_from_slice(&buf[..n]);
                if let Some(end) = request.windows(4).position(|w| w == b"\r\n\r\n") {
                    let head = String::from_utf8_lossy(&request[..end]).to_lowercase();
                    let len: usize = head
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length: "))
                        .unwrap()
                        .trim()
                        .parse()
                        .unwrap();
                    if request.len() >= end + 4 + len {
                        break;
                    }
                }
            }
            stream
                .write_all(b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n")
                .unwrap();
            String::from_utf8(request).unwrap()
        });
        let url = format!("http://127.0.0.1:{port}/hooks/appwrite?tenant=acme");
        let mut args = vec![
            "send",
            "--key",
            "k",
            "--url",
            &url,
            "--event",
            "teams.[teamId].create",
            "--param",
            "teamId=t1",
            "-",
        ];
        args.extend_from_slice(auth);
        let out = run(&args, b"{\"$id\":\"t1\"}");
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        let request = capture.join().unwrap();
        assert!(
            request.starts_with("POST /hooks/appwrite?tenant=acme HTTP/1.1\r\n"),
            "{request}"
        );
        let names: Vec<&str> = request
            .lines()
            .skip(1)
            .take_while(|l| !l.is_empty())
            .filter_map(|l| l.split_once(':').map(|(n, _)| n))
            .collect();
        let appwrite: Vec<&str> = names
            .iter()
            .copied()
            .filter(|n| !["Host", "Accept", "Authorization"].contains(n))
            .collect();
        assert_eq!(
            appwrite,
            [
                "Content-Type",
                "Content-Length",
                "User-Agent",
                "X-Appwrite-Webhook-Id",
                "X-Appwrite-Webhook-Events",
                "X-Appwrite-Webhook-Name",
                "X-Appwrite-Webhook-User-Id",
                "X-Appwrite-Webhook-Project-Id",
                "X-Appwrite-Webhook-Signature",
            ],
            "{request}"
        );
        assert!(
            request.contains("\r\nUser-Agent: Appwrite-Server v"),
            "{request}"
        );
        assert!(
            request.contains(
                "\r\nX-Appwrite-Webhook-Events: teams.t1.create,teams.*.create,teams.t1,teams.*\r\n"
            ),
            "{request}"
        );
        let signature = appwrite_webhooks::sign("k", &url, b"{\"$id\":\"t1\"}");
        assert!(
            request.contains(&format!(
                "\r\nX-Appwrite-Webhook-Signature: {signature}\r\n"
            )),
            "{request}"
        );
        assert_eq!(
            request.contains("\r\nAuthorization: Basic b3BzOnMzY3JldA==\r\n"),
            expect_auth,
            "{request}"
        );
        assert!(request.ends_with("\r\n\r\n{\"$id\":\"t1\"}"));
    }
}

#[test]
fn ctrl_c_stops_listen_cleanly() {
    let mut listener = Listener::start("k", "http://example.com/");
    let pid = listener.child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-INT", &pid])
            .status()
            .unwrap()
            .success()
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(status) = listener.child.try_wait().unwrap() {
            assert_eq!(status.code(), Some(0));
            break;
        }
        assert!(Instant::now() < deadline, "listen did not stop on SIGINT");
        std::thread::sleep(Duration::from_millis(20));
    }
}

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
    let deliveries = testkit::shared_dir().join("deliveries.json");
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
fn other_schemes_send_to_listen_and_pin_their_errors() {
    const KEY: &str = "whsec_cli_schemes";
    let envelope = r#"{"$id":"evt_cli_1","event":"users.u1.create","timestamp":"2025-01-15T10:30:00.000Z","payload":{"$id":"u1","$createdAt":"2020-10-15T06:38:00.000+00:00","$updatedAt":"2020-10-15T06:38:00.000+00:00","name":"Zo\u00eb","registration":"","status":true,"labels":[],"passwordUpdate":"","email":"a@b.c","phone":"","emailVerification":true,"phoneVerification":false,"mfa":false,"prefs":[],"targets":[],"accessedAt":""}}"#;
    let mut listener = Listener::start_with(&["--key", KEY, "--scheme", "timestamped"]);
    let out = run(
        &[
            "send",
            "--key",
            KEY,
            "--scheme",
            "timestamped",
            "--url",
            &listener.address(),
            "-",
        ],
        envelope.as_bytes(),
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let seen = listener.next_json();
    assert_eq!(seen["status"], 204, "{seen}");
    assert_eq!(seen["kind"], "User", "{seen}");
    assert_eq!(seen["event"], "users.u1.create", "{seen}");

    // An old timestamp: the listener refuses it, and send reports the 401 with exit 1.
    let out = run(
        &[
            "send",
            "--key",
            KEY,
            "--scheme",
            "timestamped",
            "--timestamp",
            "1700000000",
            "--url",
            &listener.address(),
            "-",
        ],
        envelope.as_bytes(),
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stdout).contains("401"), "{}", text(&out.stdout));
    assert!(
        text(&out.stdout).contains("outside the 300 s tolerance"),
        "{}",
        text(&out.stdout)
    );
    drop(listener);

    let generic = r#"{"id":"evt_abc123","type":"user.created","created_at":"2023-12-01T15:30:00Z","data":{"id":"usr_789"}}"#;
    let mut listener = Listener::start_with(&["--key", KEY, "--scheme", "generic"]);
    let out = run(
        &[
            "send",
            "--key",
            KEY,
            "--scheme",
            "generic",
            "--event",
            "user.created",
            "--to",
            &listener.address(),
            "-",
        ],
        generic.as_bytes(),
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let seen = listener.next_json();
    assert_eq!(
        (seen["status"].as_u64(), seen["kind"].as_str()),
        (Some(204), Some("Unknown")),
        "{seen}"
    );
    drop(listener);

    // sign and verify agree, with the pinned exit codes.
    let sig = run(
        &["sign", "--key", KEY, "--scheme", "generic", "-"],
        generic.as_bytes(),
    );
    assert_eq!(sig.status.code(), Some(0));
    let sig = text(&sig.stdout).trim().to_owned();
    assert!(sig.starts_with("sha256="), "{sig}");
    let verify = |key: &str| {
        let args = [
            "verify",
            "--key",
            key,
            "--scheme",
            "generic",
            "--signature",
            &sig,
            "-",
        ];
        run(&args, generic.as_bytes())
    };
    let ok = verify(KEY);
    assert_eq!(
        (ok.status.code(), text(&ok.stdout)),
        (Some(0), "valid\n".to_owned())
    );
    assert_eq!(verify("other").status.code(), Some(1));

    let sig = run(
        &[
            "sign",
            "--key",
            KEY,
            "--scheme",
            "timestamped",
            "--timestamp",
            "1700000000",
            "-",
        ],
        b"{}",
    );
    let sig = text(&sig.stdout).trim().to_owned();
    assert_eq!(sig.len(), 64);
    let old = run(
        &[
            "verify",
            "--key",
            KEY,
            "--scheme",
            "timestamped",
            "--timestamp",
            "1700000000",
            "--signature",
            &sig,
            "-",
        ],
        b"{}",
    );
    assert_eq!(old.status.code(), Some(1));
    assert!(
        text(&old.stderr).contains("tolerance"),
        "{}",
        text(&old.stderr)
    );
    let wide = run(
        &[
            "verify",
            "--key",
            KEY,
            "--scheme",
            "timestamped",
            "--timestamp",
            "1700000000",
            "--tolerance",
            "999999999",
            "--signature",
            &sig,
            "-",
        ],
        b"{}",
    );
    assert_eq!(wide.status.code(), Some(0), "{}", text(&wide.stderr));

    // Usage errors: exit 2.
    for args in [
        &[
            "verify",
            "--key",
            KEY,
            "--scheme",
            "timestamped",
            "--signature",
            &sig,
            "-",
        ][..],
        &["sign", "--key", KEY, "--scheme", "sha1", "-"][..],
        &["sign", "--key", KEY, "-"][..],
        &[
            "sign",
            "--key",
            KEY,
            "--scheme",
            "generic",
            "--timestamp",
            "1",
            "-",
        ][..],
    ] {
        assert_eq!(run(args, b"{}").status.code(), Some(2), "{args:?}");
    }
}
