//! `conformance` against receivers written the way common snippets are — Python's
//! `http.server` and Node's `http` — which fail with the right checks named; the text report;
//! usage errors; a receiver that never answers.

mod common;

use std::process::Command;

use common::grading::{KEY, Spawned, URL, failed, genuine, grade};
use common::{BIN, free_port};
use serde_json::Value;

fn naive(program: &str, script: &str) -> (Spawned, String) {
    // The URL the receiver signs with is configuration, not where it listens.
    let url = "http://127.0.0.1/hooks/appwrite".to_owned();
    let path = format!("{}/tests/receivers/{script}", env!("CARGO_MANIFEST_DIR"));
    let spawned = Spawned::new(
        Command::new(program)
            .arg(path)
            .env("KEY", KEY)
            .env("URL", &url)
            .env("PORT", "0"),
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
    let junit = testkit::scratch::dir("conformance-naive").join("report.xml");
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
