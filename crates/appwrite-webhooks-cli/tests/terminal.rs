//! What an operator sees on a terminal stays inert whatever a sender puts in a delivery: the
//! unsigned headers of any request, and the signed text of a genuine one (an Appwrite user
//! named `\x1b]0;pwned\x07`). `listen` (text and `--json`), `inbox list` and `inbox show` over
//! a SQLite inbox, and `inspect`, run as processes on loopback.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use appwrite_webhooks::sender::{DeliveryBuilder, SignedDelivery};
use common::{BIN, free_port, run, stderr, stdout, temp_file};

const KEY: &str = "whsec_terminal";
const URL: &str = "https://hooks.example.com/hook";

/// A webhook name as hostile as HTTP lets a header be (no C0 but tab): a C1 CSI that clears
/// the screen on some terminals, a NEL, a bidirectional override, a tab, and quotes and
/// separators that would forge fields of the line it is printed in.
const NAME: &str = "\u{9b}2J\"Dev\", project evil\u{85}\u{202e}gnp.exe\tx";
/// A user id forging the rest of its line.
const USER_ID: &str = "u1, key #9\u{9b}31m";
/// The events header: a genuine name first, then a hostile one.
const EVENTS: &str = "users.u1.create,users.*\u{9b}0m\u{85}forged";
/// A genuine, signed body: escapes and line breaks in JSON strings (`\u001b`, `\n`), HTML,
/// and C1 and bidirectional characters written raw (valid JSON).
const BODY: &str = "{\"$id\":\"u1\",\"name\":\"\\u001b]0;pwned\\u0007<img src=x onerror=alert(1)>\",\
                    \"bio\":\"line\\n\\rforged line\",\"raw\":\"\u{9b}2J\u{85}\u{202e}x\",\"prefs\":[]}";

/// The hostile delivery, signed for [`URL`].
fn hostile(delivery_id: Option<&str>) -> SignedDelivery {
    let mut builder = DeliveryBuilder::new(KEY, URL, BODY)
        .events([EVENTS])
        .webhook_name(NAME)
        .user_id(USER_ID);
    if let Some(id) = delivery_id {
        builder = builder.delivery_id(id);
    }
    let sent = builder.build();
    // Every hostile header made it into the request (the builder drops what HTTP cannot carry).
    assert!(sent.headers().contains_key("x-appwrite-webhook-name"));
    assert!(sent.headers().contains_key("x-appwrite-webhook-user-id"));
    sent
}

/// Characters a terminal acts on, and the Unicode ones that reorder or break lines.
fn unsafe_char(c: char) -> bool {
    (c.is_control() && c != '\n')
        || matches!(c, '\u{2028}' | '\u{2029}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

fn assert_inert(printed: &str) {
    let bad: Vec<char> = printed.chars().filter(|&c| unsafe_char(c)).collect();
    assert!(bad.is_empty(), "raw {bad:?} in {printed:?}");
}

/// POSTs `sent` to `port` byte for byte (headers as they are) and returns the status.
fn post(sent: &SignedDelivery, port: u16) -> u16 {
    post_raw(&post_request(sent), port)
}

/// The bytes of the POST of `sent`, its headers as they are.
fn post_request(sent: &SignedDelivery) -> Vec<u8> {
    let mut request = b"POST /hook HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n".to_vec();
    for (name, value) in sent.headers() {
        request.extend_from_slice(name.as_str().as_bytes());
        request.extend_from_slice(b": ");
        request.extend_from_slice(value.as_bytes());
        request.extend_from_slice(b"\r\n");
    }
    request.extend_from_slice(b"\r\n");
    request.extend_from_slice(sent.body());
    request
}

/// Writes `request` to `port` as it is and returns the status answered.
fn post_raw(request: &[u8], port: u16) -> u16 {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(15)))
        .unwrap();
    stream.write_all(request).unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).unwrap();
    let answer = String::from_utf8_lossy(&answer);
    answer
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status in {answer:?}"))
}

/// `listen` with `options` on a free port, stdout captured; a port taken between choosing and
/// binding makes it exit: choose again.
fn listen(options: &[&str]) -> (Running, u16) {
    for _ in 0..5 {
        let port = free_port();
        let mut child = Command::new(BIN)
            .args(["listen", "--key", KEY, "--url", URL, "--port"])
            .arg(port.to_string())
            .args(options)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return (Running(Some(child)), port);
            }
            if child.try_wait().unwrap().is_some() {
                break; // exited: the port was taken
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("listen did not start");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    panic!("listen could not bind a free port");
}

/// A `listen` process, killed when dropped (a failed assertion leaves none behind).
struct Running(Option<Child>);

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Stops `listen` and returns all it printed. Each line is printed before its request is
/// answered, so everything answered is in the pipe.
fn printed(mut running: Running) -> String {
    let mut child = running.0.take().unwrap();
    child.kill().unwrap();
    let mut out = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    child.wait().unwrap();
    out
}

fn dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("aw-cli-term-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

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

/// The same signed body under more delivery ids than a body may have: the fifth is answered
/// `202` without being stored, and `listen` says so in text and JSON.
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
