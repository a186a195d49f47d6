//! `send` and `listen`, run as processes on loopback.

mod common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::process::Command;
use std::time::{Duration, Instant};

use common::{Listener, USER, assert_sent, cli_env, free_port, run, stdout, temp_file, text};

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
    let deliveries = testkit::data_dir().join("deliveries.json");
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
/// A one-request HTTP server on loopback that answers `response` and returns the request it read.
fn capture_one(response: &'static [u8]) -> (u16, std::thread::JoinHandle<String>) {
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
        stream.write_all(response).unwrap();
        String::from_utf8(request).unwrap()
    });
    (port, capture)
}

#[test]
fn send_writes_the_request_appwrite_writes() {
    let pass_file = temp_file("http-pass", b"s3cret\n");
    let pass_file = pass_file.to_str().unwrap();
    // Flags, environment, and whether Appwrite's `Authorization` header is sent.
    type AuthCase<'a> = (&'a [&'a str], &'a [(&'a str, &'a str)], bool);
    let cases: [AuthCase; 4] = [
        (&["--http-user", "ops", "--http-pass", "s3cret"], &[], true),
        (
            &["--http-user", "ops", "--http-pass-file", pass_file],
            &[],
            true,
        ),
        (
            &["--http-user", "ops"],
            &[("APPWRITE_WEBHOOK_HTTP_PASS", "s3cret")],
            true,
        ),
        (&["--http-user", "ops"], &[], false),
    ];
    for (auth, env, expect_auth) in cases {
        let (port, capture) = capture_one(b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n");
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
        let out = cli_env(&args, b"{\"$id\":\"t1\"}", env);
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

/// A receiver's answer is printed with its control characters escaped: it cannot clear the
/// screen, retitle the terminal or hide text with carriage returns.
#[test]
fn send_prints_a_hostile_answer_safely() {
    let (port, capture) = capture_one(
        b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 23\r\n\r\nno\x1b[2J\x1b]0;pwned\x07\rhidden",
    );
    let url = format!("http://127.0.0.1:{port}/hook");
    let out = run(
        &[
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
        ],
        b"{\"$id\":\"t1\"}",
    );
    capture.join().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let printed = stdout(&out);
    assert!(
        !printed.contains('\x1b') && !printed.contains('\x07') && !printed.contains('\r'),
        "{printed:?}"
    );
    assert!(
        printed.contains("no\\u{1b}[2J\\u{1b}]0;pwned\\u{7}\\rhidden"),
        "{printed:?}"
    );
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

/// A signed delivery whose body does not fit its model (its `$id` is not a string) is accepted,
/// reported with a 2xx status and the kind `Unparsed`, never refused: a refusal would count
/// towards Appwrite disabling the webhook.
#[test]
fn listen_accepts_a_payload_that_does_not_fit_its_model() {
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
            "teams.[teamId].create",
            "--param",
            "teamId=t1",
            "-",
        ],
        br#"{"$id":17,"name":"t1","total":"many"}"#,
    );
    assert_sent(&sent, 0, "204");
    let line = listener.next_json();
    assert_eq!(line["status"], 204, "{line}");
    assert_eq!(line["kind"], "Unparsed", "{line}");
    assert_eq!(line["event"], "teams.t1.create", "{line}");
}
