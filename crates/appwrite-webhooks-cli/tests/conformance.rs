//! `conformance` against real receivers on loopback: every adapter of this workspace (and
//! `listen`) passes, and two receivers written the way common snippets are — Python's
//! `http.server` and Node's `http` — fail, with the right checks named. Main's deliveries carry
//! a delivery id per delivery and are redelivered with it; `--scheme alert` grades alert
//! receivers (the workspace's pass, a naive one fails the unsigned, stale and future checks).

mod common;

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use appwrite_webhooks::MemoryLedger;
use appwrite_webhooks::inbox::Inbox;
use appwrite_webhooks::{Delivery, ReplayGuard, Verifier};
use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Full;
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_appwrite-webhooks");
const KEY: &str = "whsec_conformance";

/// The URL the adapters are configured with (their public URL; `--to` says where they listen):
/// percent-encoding in the path and the query, so releases' `rawurldecode(url)` and main's URL
/// as typed differ.
const URL: &str = "https://hooks.example.com/hooks/appwrite/%7Eacme?tenant=acme%2Beu&x=%7Euser";

fn verifier() -> Verifier {
    Verifier::new(KEY, URL)
        .with_replay_guard(ReplayGuard::in_memory())
        .with_body_timeout(Duration::from_secs(2))
}

/// Runs `conformance --json` against `addr`; the exit code and the report.
fn grade(addr: SocketAddr, url: &str, extra: &[&str]) -> (Option<i32>, Value, Output) {
    let output = Command::new(BIN)
        .args([
            "conformance",
            "--to",
            &addr.to_string(),
            "--url",
            url,
            "--key",
            KEY,
            "--json",
        ])
        .args(["--stall-seconds", "6"])
        .args(extra)
        .output()
        .unwrap();
    let report: Value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", common::stderr(&output)));
    (output.status.code(), report, output)
}

fn failed(report: &Value, required: bool) -> BTreeSet<String> {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["result"] == "fail" && c["required"] == required)
        .map(|c| c["id"].as_str().unwrap().to_owned())
        .collect()
}

/// How many genuine deliveries were sent.
fn genuine(report: &Value) -> usize {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["group"] == "genuine")
        .count()
}

fn result<'a>(report: &'a Value, id: &str) -> &'a Value {
    &report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("no check {id}"))["result"]
}

/// Every adapter passes every required check, and the optional replay and stall checks.
fn assert_passes(name: &str, addr: SocketAddr, url: &str) {
    let (code, report, output) = grade(addr, url, &[]);
    assert_eq!(
        failed(&report, true),
        BTreeSet::new(),
        "{name}: {}",
        common::stdout(&output)
    );
    assert_eq!(code, Some(0), "{name}");
    assert_eq!(report["format"], "appwrite-webhooks-conformance/1");
    assert_eq!(report["passed"], true, "{name}");
    let genuine = genuine(&report);
    assert!(genuine >= 529, "{name}: {genuine} genuine deliveries");
    // The redelivery: main's last delivery again, with its delivery id (the crate's replay
    // guard knows it by that id, and answers the repeat 2xx).
    for id in [
        "optional/replay",
        "optional/stalled-body",
        "optional/redelivery",
    ] {
        assert_eq!(result(&report, id), "pass", "{name}: {id}");
    }
}

async fn typed(delivery: &Delivery) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::<Bytes>::default());
    *response.status_mut() = match delivery.event() {
        Ok(_) => http::StatusCode::NO_CONTENT,
        Err(error) => error.status(),
    };
    response
}

fn free_port() -> u16 {
    common::free_port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_adapter_of_the_workspace_passes() {
    // tower: the layer, the typed event in the inner service.
    let service = tower::ServiceBuilder::new()
        .layer(appwrite_webhooks_tower::AppwriteWebhookLayer::new(
            verifier(),
        ))
        .service_fn(|request: Request<Full<Bytes>>| async move {
            let delivery = request.extensions().get::<Delivery>().unwrap().clone();
            Ok::<_, std::convert::Infallible>(typed(&delivery).await)
        });
    let tower_addr = testkit::net::serve_tower(service).await;

    // axum: the extractor under the layer.
    let app = axum::Router::new()
        .fallback(axum::routing::post(
            |appwrite_webhooks_axum::Webhook(_event): appwrite_webhooks_axum::Webhook| async {
                axum::http::StatusCode::NO_CONTENT
            },
        ))
        .layer(appwrite_webhooks_axum::AppwriteWebhookLayer::new(verifier()))
        .with_state(verifier());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let axum_addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    // Inbox mode: the tower route over a memory inbox.
    let inbox = Inbox::new(MemoryLedger::default());
    let stored = appwrite_webhooks_tower::InboxService::new(verifier(), inbox);
    let inbox_addr = testkit::net::serve_tower(stored).await;

    // actix-web: the extractor behind the middleware, on its own runtime.
    let actix_port = free_port();
    std::thread::spawn(move || {
        use actix_web::{App, HttpResponse, HttpServer, middleware::from_fn, web};
        actix_web::rt::System::new().block_on(async move {
            let data = web::Data::new(verifier());
            HttpServer::new(move || {
                App::new()
                    .app_data(data.clone())
                    .wrap(from_fn(appwrite_webhooks_actix::require_signature))
                    .default_service(web::post().to(
                        |appwrite_webhooks_actix::Webhook(_event): appwrite_webhooks_actix::Webhook| async {
                            HttpResponse::NoContent().finish()
                        },
                    ))
            })
            .workers(2)
            .bind(("127.0.0.1", actix_port))
            .unwrap()
            .run()
            .await
            .unwrap();
        });
    });
    let actix_addr: SocketAddr = ([127, 0, 0, 1], actix_port).into();
    wait_for(actix_addr);

    // listen, the CLI's own receiver.
    let listen_port = free_port();
    let listen = Spawned::new(
        Command::new(BIN).args([
            "listen",
            "--key",
            KEY,
            "--url",
            URL,
            "--port",
            &listen_port.to_string(),
            "--body-timeout",
            "2",
            "--quiet",
        ]),
        listen_port,
    );

    let receivers = [
        ("tower", tower_addr),
        ("axum", axum_addr),
        ("inbox", inbox_addr),
        ("actix", actix_addr),
        ("listen", listen.addr),
    ];
    let graded = tokio::task::spawn_blocking(move || {
        for (name, addr) in receivers {
            assert_passes(name, addr, URL);
        }
    });
    graded.await.unwrap();
    drop(listen);
}

fn wait_for(addr: SocketAddr) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(addr).is_err() {
        assert!(Instant::now() < deadline, "{addr} never listened");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A receiver process on `port`, killed on drop.
struct Spawned {
    child: Child,
    addr: SocketAddr,
}

impl Spawned {
    fn new(command: &mut Command, port: u16) -> Self {
        let child = command
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let addr = ([127, 0, 0, 1], port).into();
        wait_for(addr);
        Self { child, addr }
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn naive(program: &str, script: &str) -> (Spawned, String) {
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}/hooks/appwrite");
    let path = format!("{}/tests/receivers/{script}", env!("CARGO_MANIFEST_DIR"));
    let spawned = Spawned::new(
        Command::new(program)
            .arg(path)
            .env("KEY", KEY)
            .env("URL", &url)
            .env("PORT", port.to_string()),
        port,
    );
    (spawned, url)
}

/// The report names every check of `failing` and none of `passing` among the failed required
/// ones, and the genuine deliveries with PHP's escapes fail (not all of them).
fn assert_named(report: &Value, failing: &[&str], passing: &[&str]) {
    let failed = failed(report, true);
    for id in failing {
        assert!(failed.contains(*id), "{id} not named: {failed:?}");
    }
    for id in passing {
        assert!(!failed.contains(*id), "{id} named");
    }
    assert_escaped_genuine_fail(report);
}

/// The genuine deliveries whose bodies carry PHP's escapes are refused by a receiver that
/// re-serialises before verifying; the others pass.
fn assert_escaped_genuine_fail(report: &Value) {
    let genuine_failed = failed(report, true)
        .into_iter()
        .filter(|id| id.starts_with("genuine/"))
        .count();
    let genuine = genuine(report);
    assert!(
        genuine_failed > 0 && genuine_failed < genuine,
        "{genuine_failed} of {genuine}"
    );
    let diagnoses = report["diagnoses"].to_string();
    assert!(diagnoses.contains("re-serialised JSON"), "{diagnoses}");
}

#[test]
fn a_python_snippet_receiver_fails_with_the_right_checks_named() {
    let (receiver, url) = naive("python3", "naive_python.py");
    let junit = std::env::temp_dir().join(format!("conformance-{}.xml", std::process::id()));
    let junit_path = junit.to_str().unwrap();
    let (code, report, _) = grade(
        receiver.addr,
        &url,
        &["--no-optional", "--junit", junit_path],
    );
    assert_eq!(code, Some(1));
    assert_eq!(report["passed"], false);
    assert_named(
        &report,
        &[
            "forgery/signature-missing",
            "forgery/signature-empty",
            "forgery/reencoded-pretty",
            "forgery/appended-whitespace",
            "forgery/events-relabelled",
            "oversized/declared",
        ],
        &[
            "forgery/wrong-key",
            "forgery/tampered-byte",
            "forgery/url-scheme",
        ],
    );
    assert!(
        report["diagnoses"]
            .to_string()
            .contains("without a signature")
    );
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(xml.contains("<testsuite name=\"forgery\""), "{xml}");
    assert!(xml.contains("name=\"signature-missing\"><failure"), "{xml}");
    let _ = std::fs::remove_file(junit);
}

#[test]
fn a_node_snippet_receiver_fails_with_the_right_checks_named() {
    let (receiver, url) = naive("node", "naive_node.js");
    let (code, report, _) = grade(receiver.addr, &url, &["--no-optional"]);
    assert_eq!(code, Some(1));
    assert_named(
        &report,
        &[
            "forgery/reencoded-pretty",
            "forgery/appended-whitespace",
            "forgery/events-relabelled",
            "oversized/declared",
            "oversized/chunked",
        ],
        &[
            "forgery/signature-missing",
            "forgery/wrong-key",
            "forgery/url-trailing-slash",
        ],
    );
}

#[test]
fn the_text_report_says_what_was_sent_expected_received_and_what_it_means() {
    let (receiver, url) = naive("node", "naive_node.js");
    let output = Command::new(BIN)
        .args([
            "conformance",
            "--to",
            &receiver.addr.to_string(),
            "--url",
            &url,
            "--key",
            KEY,
        ])
        .args(["--no-optional", "--appwrite-version", "main"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let text = common::stdout(&output);
    for line in [
        "FAIL forgery/reencoded-pretty",
        "sent:     a genuine delivery's body pretty-printed",
        "expected: not 2xx (401 is right)",
        "got:      200 \"ok\"",
        "means:    the receiver verifies re-serialised JSON",
        "genuine deliveries of Appwrite main:",
        "what to fix:",
    ] {
        assert!(text.contains(line), "{line:?} missing in\n{text}");
    }
    assert!(!text.contains("Appwrite 1.9.6"), "only main was asked for");
}

#[test]
fn usage_errors_and_an_unreachable_receiver() {
    let port = free_port();
    let unreachable = Command::new(BIN)
        .args([
            "conformance",
            "--to",
            &format!("127.0.0.1:{port}"),
            "--url",
            "http://x/h",
            "--key",
            KEY,
        ])
        .output()
        .unwrap();
    assert_eq!(
        unreachable.status.code(),
        Some(3),
        "{}",
        common::stderr(&unreachable)
    );
    let unknown = Command::new(BIN)
        .args([
            "conformance",
            "--to",
            "127.0.0.1:1",
            "--url",
            "http://x/h",
            "--key",
            KEY,
            "--appwrite-version",
            "0.9",
        ])
        .output()
        .unwrap();
    assert_eq!(unknown.status.code(), Some(2));
    assert!(
        common::stderr(&unknown).contains("1.9.6"),
        "{}",
        common::stderr(&unknown)
    );
    let no_key = Command::new(BIN)
        .args(["conformance", "--to", "127.0.0.1:1", "--url", "http://x/h"])
        .env_remove("APPWRITE_WEBHOOK_KEY")
        .output()
        .unwrap();
    assert_eq!(no_key.status.code(), Some(2));
}

/// A receiver that takes connections and never answers is not waited for 550 times: after
/// three silent requests the rest are reported as not sent, and the run fails.
#[test]
fn a_receiver_that_never_answers_is_given_up_on() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().flatten() {
            held.push(stream); // read nothing, answer nothing
        }
    });
    let (code, report, _) = grade(addr, URL, &["--timeout", "1", "--no-optional"]);
    assert_eq!(code, Some(1));
    let got: Vec<&str> = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["got"].as_str().unwrap())
        .collect();
    assert_eq!(&got[..3], ["no answer in time"; 3]);
    assert!(
        got[3..]
            .iter()
            .all(|g| *g == "not sent: the receiver stopped answering"),
        "{:?}",
        &got[3..6]
    );
}

/// The header lines and body of one request a raw receiver saw.
type Seen = (Vec<(String, String)>, Vec<u8>);
type Handler = dyn Fn(&Seen) -> u16 + Send + Sync;

/// A receiver on plain `std` sockets, one request at a time: `handler` gives the status of each
/// request read whole (a body that stops coming is closed on after 2 s); every request is
/// recorded.
fn raw_receiver(
    handler: Box<Handler>,
) -> (SocketAddr, std::sync::Arc<std::sync::Mutex<Vec<Seen>>>) {
    use std::io::{BufRead as _, BufReader, Read as _, Write as _};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let record = seen.clone();
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            stream
                .set_read_timeout(Some(Duration::from_secs(2)))
                .unwrap();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut headers = Vec::new();
            let mut line = String::new();
            let _ = reader.read_line(&mut line); // the request line
            loop {
                line.clear();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some((name, value)) = line.trim_end().split_once(':') {
                    headers.push((name.to_owned(), value.trim().to_owned()));
                }
            }
            let length: usize = headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
                .and_then(|(_, v)| v.parse().ok())
                .unwrap_or(0);
            if length > 1 << 20 {
                let _ = stream.write_all(b"HTTP/1.1 413 Payload Too Large\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
                continue;
            }
            let mut body = vec![0; length];
            if reader.read_exact(&mut body).is_err() {
                continue; // stalled or chunked: closed
            }
            let request = (headers, body);
            let status = handler(&request);
            record.lock().unwrap().push(request);
            let _ = stream.write_all(
                format!("HTTP/1.1 {status} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                    .as_bytes(),
            );
        }
    });
    (addr, seen)
}

fn header<'a>(seen: &'a Seen, name: &str) -> Option<&'a str> {
    seen.0
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// Main's genuine deliveries carry `X-Appwrite-Webhook-Delivery-Id` as Appwrite after 1.9.6
/// sends it — a fresh id per delivery — and the redelivery repeats one with the same id and the
/// same bytes; releases up to 1.9.6 send none, and then there is no redelivery to check.
#[test]
fn main_sends_one_delivery_id_per_delivery_and_redelivers_with_it() {
    let (addr, seen) = raw_receiver(Box::new(|_| 204));
    let (_, report, _) = grade(addr, URL, &["--appwrite-version", "main"]);
    let genuine_main = genuine(&report);
    let with_ids: Vec<(String, Vec<u8>)> = seen
        .lock()
        .unwrap()
        .iter()
        .filter_map(|s| {
            header(s, "X-Appwrite-Webhook-Delivery-Id").map(|id| (id.to_owned(), s.1.clone()))
        })
        .collect();
    let distinct: BTreeSet<&str> = with_ids.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(distinct.len(), genuine_main, "one id per genuine delivery");
    assert!(distinct.iter().all(|id| id.len() == 20), "{distinct:?}");
    // The replay and the redelivery: ids seen before, each with the bytes it was first sent with.
    assert_eq!(with_ids.len(), genuine_main + 2);
    for (id, body) in &with_ids[genuine_main..] {
        let first = with_ids.iter().find(|(i, _)| i == id).unwrap();
        assert_eq!(&first.1, body, "{id}: another body under the same id");
    }
    assert_eq!(result(&report, "optional/redelivery"), "pass");

    let (addr, seen) = raw_receiver(Box::new(|_| 204));
    let (_, report, _) = grade(addr, URL, &["--appwrite-version", "1.9.6"]);
    assert!(
        seen.lock()
            .unwrap()
            .iter()
            .all(|s| header(s, "X-Appwrite-Webhook-Delivery-Id").is_none())
    );
    assert_eq!(result(&report, "optional/redelivery"), "skip");
}

/// A receiver that refuses every redelivery by its id (409, "already seen") fails the
/// redelivery check, and only that one among the optional ones it could pass.
#[test]
fn a_receiver_refusing_redeliveries_fails_the_redelivery_check() {
    let ids = std::sync::Mutex::new(BTreeSet::new());
    let (addr, _) = raw_receiver(Box::new(move |s: &Seen| {
        match header(s, "X-Appwrite-Webhook-Delivery-Id") {
            Some(id) if !ids.lock().unwrap().insert(id.to_owned()) => 409,
            _ => 204,
        }
    }));
    let (_, report, _) = grade(addr, URL, &["--appwrite-version", "main"]);
    assert_eq!(result(&report, "optional/redelivery"), "fail");
}

const ALERT_URL: &str = "https://hooks.example.com/appwrite/alerts";

const ALERT_FORGERIES: [&str; 5] = [
    "forgery/alert-tampered-byte",
    "forgery/alert-stale",
    "forgery/alert-future",
    "forgery/alert-wrong-key",
    "forgery/alert-unsigned",
];

/// The workspace's alert receivers — the tower layer over `Verifier::alert` and
/// `listen --scheme alert` — pass every alert check.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_workspace_alert_receivers_pass() {
    let service = tower::ServiceBuilder::new()
        .layer(appwrite_webhooks_tower::AppwriteWebhookLayer::new(
            Verifier::alert(KEY).with_replay_guard(ReplayGuard::in_memory()),
        ))
        .service_fn(|request: Request<Full<Bytes>>| async move {
            let delivery = request.extensions().get::<Delivery>().unwrap().clone();
            assert!(matches!(
                delivery.event(),
                Ok(appwrite_webhooks::Event::Alert(_))
            ));
            Ok::<_, std::convert::Infallible>(typed(&delivery).await)
        });
    let tower_addr = testkit::net::serve_tower(service).await;
    let listen_port = free_port();
    let listen = Spawned::new(
        Command::new(BIN).args([
            "listen",
            "--scheme",
            "alert",
            "--key",
            KEY,
            "--port",
            &listen_port.to_string(),
            "--quiet",
        ]),
        listen_port,
    );
    let receivers = [("tower", tower_addr), ("listen", listen.addr)];
    tokio::task::spawn_blocking(move || {
        for (name, addr) in receivers {
            let (code, report, output) = grade(addr, ALERT_URL, &["--scheme", "alert"]);
            assert_eq!(
                failed(&report, true),
                BTreeSet::new(),
                "{name}: {}",
                common::stdout(&output)
            );
            assert_eq!(code, Some(0), "{name}");
            assert_eq!(genuine(&report), 4, "{name}: the four signed alerts");
            for id in ALERT_FORGERIES.iter().chain(&["optional/alert-replay"]) {
                assert_eq!(result(&report, id), "pass", "{name}: {id}");
            }
            // Alerts only: none of the event deliveries' checks.
            assert!(
                report["checks"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .all(|c| c["id"].as_str().unwrap().contains("alert")),
                "{name}"
            );
        }
    })
    .await
    .unwrap();
    drop(listen);
}

/// An alert receiver written the naive way — it checks a signature when there is one, and
/// never the timestamp — fails the unsigned, stale and future-dated checks, in every report.
#[test]
fn a_naive_alert_receiver_fails_the_unsigned_stale_and_future_checks() {
    let naive = |s: &Seen| {
        let Some(signature) = header(s, "X-Appwrite-Webhook-Signature") else {
            return 200; // "no secret configured": accepted
        };
        let timestamp: u64 = header(s, "X-Appwrite-Webhook-Timestamp")
            .and_then(|t| t.parse().ok())
            .unwrap_or(0);
        if appwrite_webhooks::sign_alert(KEY, timestamp, &s.1) == signature {
            200
        } else {
            401
        }
    };
    let (addr, _) = raw_receiver(Box::new(naive));
    let junit = std::env::temp_dir().join(format!("conformance-alert-{}.xml", std::process::id()));
    let (code, report, _) = grade(
        addr,
        ALERT_URL,
        &["--scheme", "alert", "--junit", junit.to_str().unwrap()],
    );
    assert_eq!(code, Some(1));
    assert_eq!(report["passed"], false);
    assert_eq!(
        failed(&report, true),
        BTreeSet::from(
            [
                "forgery/alert-unsigned",
                "forgery/alert-stale",
                "forgery/alert-future"
            ]
            .map(str::to_owned)
        )
    );
    for id in ["forgery/alert-wrong-key", "forgery/alert-tampered-byte"] {
        assert_eq!(result(&report, id), "pass", "{id}");
    }
    let diagnoses = report["diagnoses"].to_string();
    assert!(diagnoses.contains("without a signature"), "{diagnoses}");
    assert!(diagnoses.contains("receiver's clock"), "{diagnoses}");
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(xml.contains("name=\"alert-unsigned\"><failure"), "{xml}");
    assert!(xml.contains("name=\"alert-stale\"><failure"), "{xml}");
    let _ = std::fs::remove_file(junit);

    let output = Command::new(BIN)
        .args(["conformance", "--to", &addr.to_string(), "--url", ALERT_URL])
        .args(["--key", KEY, "--scheme", "alert"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let text = common::stdout(&output);
    for line in [
        "PASS genuine alerts of Appwrite: 4/4 accepted",
        "FAIL forgery/alert-unsigned",
        "FAIL forgery/alert-stale",
        "PASS forgery/alert-wrong-key",
        "expected: not 2xx (401 is right)",
    ] {
        assert!(text.contains(line), "{line:?} missing in\n{text}");
    }
}

#[test]
fn scheme_alert_is_a_usage_error_with_a_version_and_other_schemes_are_refused() {
    for extra in [
        &["--scheme", "alert", "--appwrite-version", "main"][..],
        &["--scheme", "generic"][..],
    ] {
        let output = Command::new(BIN)
            .args(["conformance", "--to", "127.0.0.1:1", "--url", ALERT_URL])
            .args(["--key", KEY])
            .args(extra)
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "{extra:?}");
    }
}
