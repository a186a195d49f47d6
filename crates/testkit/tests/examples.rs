//! The examples, run as a newcomer runs them: as processes.
//!
//! `cargo test` builds the examples before running tests; `testkit::example` finds them beside
//! the test binary (`target/<profile>/examples/`), or builds them when `--all-targets` did not.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use appwrite_webhooks::sender::{DeliveryBuilder, SignedDelivery};
use testkit::{demo, example};

fn run_to_completion(name: &str) -> String {
    let output = Command::new(example(name)).output().expect("run example");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{name} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

#[test]
fn quickstart_accepts_the_genuine_delivery_and_rejects_forgeries() {
    demo::check_self_test("quickstart");
}

#[test]
fn the_inbox_example_stores_once_answers_202_and_retries_to_done() {
    let out = run_to_completion("inbox");
    assert!(out.contains("answered 202 stored 1"), "{out}");
    assert!(out.contains("answered 202 duplicate of 1"), "{out}");
    assert!(out.contains("answered 401"), "{out}");
    assert!(
        out.contains("delivery 1 took 2 attempts") && out.contains("orders database unavailable"),
        "{out}"
    );
}

#[test]
fn verify_sample_and_router_examples_run() {
    let stdout = run_to_completion("verify_sample");
    assert!(stdout.contains("genuine: accepted"), "{stdout}");
    assert!(stdout.contains("forged: rejected with 401"), "{stdout}");
    let stdout = run_to_completion("router");
    assert!(
        stdout.contains("order ord_1 for Zoë totalling 42.5"),
        "{stdout}"
    );
    assert!(stdout.contains("ran [\"fallback\"]"), "{stdout}");
}

/// `exactly_once` mirrors a scrambled burst (duplicates, redeliveries, late stale copies, a
/// handler failing after its writes) into its users table and says the table is the final
/// state — it exits non-zero when it is not.
#[test]
fn the_exactly_once_example_ends_with_the_final_state() {
    let out = run_to_completion("exactly_once");
    assert!(
        out.contains("the users table equals the users' final state"),
        "{out}"
    );
    assert!(out.contains("stale"), "{out}");
}

/// `quickstart --serve` was the `serve` example's job; it says where that went.
#[test]
fn quickstart_serve_points_to_the_serve_example() {
    let output = Command::new(example("quickstart"))
        .arg("--serve")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("--example serve --features serve"),
        "{stderr}"
    );
}

/// The `serve` example on a free port with `url` as `APPWRITE_WEBHOOK_URL`; killed on drop.
struct Serving {
    child: std::process::Child,
    addr: std::net::SocketAddr,
}

impl Serving {
    fn start(url: &str) -> Self {
        Self::start_with(url, &[], Stdio::null())
    }

    /// With more environment variables, and stderr (the logs) going to `stderr`.
    fn start_with(url: &str, env: &[(&str, &str)], stderr: Stdio) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(example("serve"))
            .env("PORT", port.to_string())
            .env("APPWRITE_WEBHOOK_KEY", "whsec_serve_test")
            .env("APPWRITE_WEBHOOK_URL", url)
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .expect("start the serve example");
        Self {
            child,
            addr: ([127, 0, 0, 1], port).into(),
        }
    }

    /// Posts `sent` (at its URL's path) once the server answers.
    async fn deliver(&self, sent: &SignedDelivery) -> u16 {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let body = http_body_util::Full::new(bytes_of(sent));
            match testkit::net::send_body(sent, self.addr, body).await {
                Ok((status, _)) => return status,
                Err(_) if Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(100)).await
                }
                Err(error) => panic!("the serve example never answered: {error}"),
            }
        }
    }
}

impl Drop for Serving {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `GET path` over a fresh connection; the whole response as text.
async fn get(addr: std::net::SocketAddr, path: &str) -> String {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    response
}

fn row_created(url: &str) -> SignedDelivery {
    DeliveryBuilder::new("whsec_serve_test", url, demo::ROW_BODY)
        .event(
            &"tablesdb.shop.tables.orders.rows.ord_1042.create"
                .parse()
                .unwrap(),
        )
        .build()
}

#[tokio::test]
async fn serve_serves_with_key_and_url_from_the_environment() {
    // The delivery is signed for the public URL but sent to the local port, at its path.
    let public_url = "https://hooks.example.com/hooks/appwrite";
    let serving = Serving::start(public_url);
    assert_eq!(serving.deliver(&row_created(public_url)).await, 204);
}

/// Appwrite posts to the path of the URL it is configured with: the example serves that path,
/// whatever it is, and no other.
#[tokio::test]
async fn serve_serves_the_path_of_its_configured_url() {
    let public_url = "https://hooks.example.com/webhooks/appwrite";
    let serving = Serving::start(public_url);
    assert_eq!(serving.deliver(&row_created(public_url)).await, 204);
    let (_, headers, body) = row_created(public_url).into_parts();
    let elsewhere = SignedDelivery::from_parts(
        "https://hooks.example.com/hooks/appwrite".into(),
        headers,
        body,
    );
    assert_eq!(serving.deliver(&elsewhere).await, 404);
}

/// A body that stops arriving is answered 408 and its connection closed (Appwrite itself gives
/// up after 15 s; the example after 10).
#[tokio::test]
async fn serve_closes_a_stalled_body() {
    use std::io::{Read, Write};
    let public_url = "https://hooks.example.com/hooks/appwrite";
    let serving = Serving::start(public_url);
    // Wait until it answers, then stall a body.
    assert_eq!(serving.deliver(&row_created(public_url)).await, 204);
    let addr = serving.addr;
    let answer = tokio::task::spawn_blocking(move || {
        let mut stream = std::net::TcpStream::connect(addr).unwrap();
        let signature = "A".repeat(27) + "=";
        write!(
            stream,
            "POST /hooks/appwrite HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\
             X-Appwrite-Webhook-Signature: {signature}\r\n\r\n{{\""
        )
        .unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        let mut answer = Vec::new();
        stream
            .read_to_end(&mut answer)
            .expect("closed by the server");
        String::from_utf8_lossy(&answer).into_owned()
    })
    .await
    .unwrap();
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
}

#[test]
fn serve_refuses_an_empty_key_and_a_relative_url() {
    for (key, url, named) in [
        ("", "https://hooks.example.com/hook", "empty signing key"),
        ("k", "/hook", "not an absolute URL"),
    ] {
        let output = Command::new(example("serve"))
            .env("APPWRITE_WEBHOOK_KEY", key)
            .env("APPWRITE_WEBHOOK_URL", url)
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2));
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(named), "{stderr}");
    }
}

#[test]
fn serve_without_configuration_is_a_usage_error() {
    let output = Command::new(example("serve"))
        .env_remove("APPWRITE_WEBHOOK_KEY")
        .env_remove("APPWRITE_WEBHOOK_URL")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("APPWRITE_WEBHOOK_KEY"));
}

fn bytes_of(sent: &SignedDelivery) -> axum::body::Bytes {
    axum::body::Bytes::copy_from_slice(sent.body())
}

/// `serve` with the operating pieces on: HTTP Basic credentials from the environment,
/// Prometheus `/metrics`, and one log line per delivery on stderr honouring `RUST_LOG`.
#[tokio::test]
async fn serve_exposes_metrics_logs_and_basic_auth() {
    let public_url = "https://hooks.example.com/hooks/appwrite";
    let logs = testkit::scratch::dir("serve-logs").join("stderr.log");
    let serving = Serving::start_with(
        public_url,
        &[
            ("APPWRITE_WEBHOOK_HTTP_USER", "appwrite"),
            ("APPWRITE_WEBHOOK_HTTP_PASS", "serve-pass"),
            ("RUST_LOG", "info"),
        ],
        Stdio::from(std::fs::File::create(&logs).unwrap()),
    );
    let sent = row_created(public_url);
    // Without credentials: 401 (and the server is up once this answers).
    assert_eq!(serving.deliver(&sent).await, 401);
    let basic: &'static str =
        Box::leak(testkit::auth_suite::basic("appwrite", "serve-pass").into_boxed_str());
    let authorized = testkit::net::with_headers(&sent, &[("authorization", basic)]);
    assert_eq!(serving.deliver(&authorized).await, 204);
    let wrong = testkit::net::with_headers(&sent, &[("authorization", "Basic d3Jvbmc6d3Jvbmc=")]);
    assert_eq!(serving.deliver(&wrong).await, 401);

    let metrics = get(serving.addr, "/metrics").await;
    assert!(metrics.starts_with("HTTP/1.1 200"), "{metrics}");
    for line in [
        r#"appwrite_webhooks_deliveries_total{outcome="accepted",reason="none"} 1"#,
        r#"appwrite_webhooks_deliveries_total{outcome="rejected",reason="basic_auth"} 2"#,
        r#"appwrite_webhooks_verified_total{key="0"} 1"#,
        "# TYPE appwrite_webhooks_delivery_duration_seconds histogram",
        "# HELP appwrite_webhooks_deliveries_total",
    ] {
        assert!(metrics.contains(line), "{line} missing in\n{metrics}");
    }
    let text = std::fs::read_to_string(&logs).unwrap();
    assert!(text.contains("Appwrite delivery answered"), "{text}");
    assert!(
        !text.contains("serve-pass") && !text.contains("whsec_serve_test"),
        "{text}"
    );
    let _ = std::fs::remove_file(&logs);
}
