//! The examples, run as a newcomer runs them: as processes.
//!
//! `cargo test` builds the examples before running tests; this finds them beside the test
//! binary (`target/<profile>/examples/`).

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use appwrite_webhooks::sender::DeliveryBuilder;
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

#[tokio::test]
async fn quickstart_serves_with_key_and_url_from_the_environment() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let public_url = "https://hooks.example.com/hooks/appwrite";
    let mut child = Command::new(example("quickstart"))
        .arg("--serve")
        .env("PORT", port.to_string())
        .env("APPWRITE_WEBHOOK_KEY", "whsec_serve_test")
        .env("APPWRITE_WEBHOOK_URL", public_url)
        .stdout(Stdio::null())
        .spawn()
        .expect("start quickstart --serve");

    // The delivery is signed for the public URL but sent to the local port.
    let sent = DeliveryBuilder::new("whsec_serve_test", public_url, demo::ROW_BODY)
        .event(
            &"tablesdb.shop.tables.orders.rows.ord_1042.create"
                .parse()
                .unwrap(),
        )
        .build();
    let addr = ([127, 0, 0, 1], port).into();
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        let body = http_body_util::Full::new(bytes_of(&sent));
        match testkit::net::send_body(&sent, addr, body).await {
            Ok((status, _)) => break status,
            Err(_) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(100)).await
            }
            Err(error) => panic!("quickstart --serve never answered: {error}"),
        }
    };
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(status, 204);
}

#[test]
fn quickstart_serve_without_configuration_is_a_usage_error() {
    let output = Command::new(example("quickstart"))
        .arg("--serve")
        .env_remove("APPWRITE_WEBHOOK_KEY")
        .env_remove("APPWRITE_WEBHOOK_URL")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("APPWRITE_WEBHOOK_KEY"));
}

fn bytes_of(sent: &appwrite_webhooks::sender::SignedDelivery) -> axum::body::Bytes {
    axum::body::Bytes::copy_from_slice(sent.body())
}
