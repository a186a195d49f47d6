//! Plays Appwrite against a receiver on loopback, for the self-testing examples: one genuine
//! delivery, two forgeries, a repeat the receiver's replay guard must catch, and a captured copy
//! relabelled to name another row, which the receiver must refuse.

use std::net::SocketAddr;
use std::process::ExitCode;

use appwrite_webhooks::sender::{DeliveryBuilder, SignedDelivery};
use bytes::Bytes;

use crate::net::send;

/// The signing key the examples use in self-test mode.
pub const KEY: &str = "whsec_a819408ce5010ca2e09ef59ac3d89f5ff8595d02b524e61b";

/// A row-created body exactly as Appwrite's PHP encodes it: `\/` and `\u00eb` escapes.
pub const ROW_BODY: &str = r#"{"$id":"ord_1042","$sequence":"1","$tableId":"orders","$databaseId":"shop","$createdAt":"2020-10-15T06:38:00.000+00:00","$updatedAt":"2020-10-15T06:38:00.000+00:00","$permissions":["read(\"any\")"],"customer":"Zo\u00eb M\u00fcller","note":"ships to https:\/\/example.com\/a\/b","total":10}"#;

/// Sends a genuine delivery for `url` (a receiver listening at `addr`, with an in-memory replay
/// guard), one signed with a wrong key, one whose body was re-serialised after signing, the
/// genuine one again, and a copy of it whose (unsigned) events header names another row;
/// prints each outcome. Success when the first is accepted (2xx), both forgeries get 401, the
/// repeat is a duplicate (200, the handler not run) and the relabelled copy a 400.
pub async fn run(addr: SocketAddr, url: &str) -> ExitCode {
    let event = match "tablesdb.shop.tables.orders.rows.ord_1042.create".parse() {
        Ok(event) => event,
        Err(error) => {
            eprintln!("{error}");
            return ExitCode::FAILURE;
        }
    };
    let genuine = DeliveryBuilder::new(KEY, url, ROW_BODY)
        .event(&event)
        .webhook_name("Orders sync")
        .build();
    let forged = DeliveryBuilder::new("a-guessed-key", url, ROW_BODY)
        .event(&event)
        .build();
    // What a framework that parses and re-serialises JSON before verifying would pass on.
    let (url, headers, _) = genuine.clone().into_parts();
    let reencoded =
        SignedDelivery::from_parts(url, headers, Bytes::from(ROW_BODY.replace("\\/", "/")));

    // A captured copy replayed with its (unsigned) events header turned into the deletion of
    // another row: the signed body contradicts it.
    let (url, mut headers, body) = genuine.clone().into_parts();
    headers.insert(
        appwrite_webhooks::headers::WEBHOOK_EVENTS,
        http::HeaderValue::from_static("tablesdb.shop.tables.orders.rows.ord_1.delete"),
    );
    let relabelled = SignedDelivery::from_parts(url, headers, body);

    let cases = [
        ("genuine delivery", &genuine, Expect::Handled),
        ("forged signature", &forged, Expect::Unauthorized),
        ("re-serialised body", &reencoded, Expect::Unauthorized),
        (
            "the same delivery again (Appwrite re-sends)",
            &genuine,
            Expect::Duplicate,
        ),
        (
            "a captured copy relabelled as another row's delete",
            &relabelled,
            Expect::Malformed,
        ),
    ];
    let mut as_expected = true;
    for (label, sent, expect) in cases {
        println!("sending {label}");
        let (status, text) = send(sent, addr).await;
        let verdict = match status {
            200 if text.contains("duplicate") => "duplicate, not handled again",
            200..300 => "accepted",
            _ => "rejected",
        };
        println!("  {verdict}: {status} {text}\n");
        as_expected &= match expect {
            Expect::Handled => (200..300).contains(&status) && !text.contains("duplicate"),
            Expect::Unauthorized => status == 401,
            Expect::Duplicate => status == 200 && text.contains("duplicate"),
            Expect::Malformed => status == 400,
        };
    }
    if as_expected {
        println!(
            "all as expected: the genuine delivery was handled once, the forgeries and the relabelled copy rejected"
        );
        ExitCode::SUCCESS
    } else {
        println!("unexpected result");
        ExitCode::FAILURE
    }
}

/// What a case of the self-test must get.
enum Expect {
    /// 2xx from the handler.
    Handled,
    /// 401.
    Unauthorized,
    /// 200 from the replay guard, the handler not run.
    Duplicate,
    /// 400: the events header contradicts the signed body.
    Malformed,
}

/// Runs the self-testing example `name` as a process (built by `cargo test`) and checks what it
/// printed: the genuine delivery accepted with 204, both forgeries rejected with 401.
pub fn check_self_test(name: &str) {
    let output = std::process::Command::new(crate::example(name))
        .output()
        .expect("run example");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{name} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("all as expected"), "{name}:\n{stdout}");
    assert!(stdout.contains("accepted: 204"), "{name}:\n{stdout}");
    assert_eq!(
        stdout.matches("rejected: 401").count(),
        2,
        "{name}:\n{stdout}"
    );
    assert_eq!(
        stdout.matches("duplicate, not handled again: 200").count(),
        1,
        "{name}:\n{stdout}"
    );
    assert_eq!(
        stdout.matches("rejected: 400").count(),
        1,
        "{name}:\n{stdout}"
    );
    assert_eq!(
        stdout.matches("  handler:").count(),
        1,
        "the handler ran once:\n{stdout}"
    );
}
