//! `conformance --scheme alert`: the workspace's alert receivers pass; a naive one fails the
//! unsigned, stale and future checks.

mod common;

use std::collections::BTreeSet;
use std::process::Command;

use appwrite_webhooks::{Delivery, ReplayGuard, Verifier};
use bytes::Bytes;
use common::BIN;
use common::grading::{
    KEY, Seen, Spawned, failed, genuine, grade, header, raw_receiver, result, typed,
};
use http::Request;
use http_body_util::Full;

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
    let listen = Spawned::new(
        Command::new(BIN).args(["listen", "--scheme", "alert", "--key", KEY, "--port", "0"]),
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
    let junit = testkit::scratch::dir("conformance-alert").join("report.xml");
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
