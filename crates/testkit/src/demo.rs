//! Plays Appwrite against a receiver on loopback, for the self-testing examples: one genuine
//! delivery and two forgeries.

use std::net::SocketAddr;
use std::process::ExitCode;

use appwrite_webhooks::sender::{DeliveryBuilder, SignedDelivery};
use bytes::Bytes;

use crate::net::send;

/// The signing key the examples use in self-test mode.
pub const KEY: &str = "whsec_a819408ce5010ca2e09ef59ac3d89f5ff8595d02b524e61b";

/// A row-created body exactly as Appwrite's PHP encodes it: `\/` and `\u00eb` escapes.
pub const ROW_BODY: &str = r#"{"$id":"ord_1042","$sequence":"1","$tableId":"orders","$databaseId":"shop","$createdAt":"2020-10-15T06:38:00.000+00:00","$updatedAt":"2020-10-15T06:38:00.000+00:00","$permissions":["read(\"any\")"],"customer":"Zo\u00eb M\u00fcller","note":"ships to https:\/\/example.com\/a\/b","total":10}"#;

/// Sends a genuine delivery for `url` (a receiver listening at `addr`), one signed with a wrong
/// key, and one whose body was re-serialised after signing; prints each outcome. Success when
/// the first is accepted (2xx) and both forgeries get 401.
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

    let cases = [
        ("genuine delivery", &genuine, true),
        ("forged signature", &forged, false),
        ("re-serialised body", &reencoded, false),
    ];
    let mut as_expected = true;
    for (label, sent, should_accept) in cases {
        println!("sending {label}");
        let (status, text) = send(sent, addr).await;
        let accepted = (200..300).contains(&status);
        println!(
            "  {}: {status} {text}\n",
            if accepted { "accepted" } else { "rejected" }
        );
        as_expected &= if should_accept {
            accepted
        } else {
            status == 401
        };
    }
    if as_expected {
        println!("all as expected: the genuine delivery was accepted, the forgeries rejected");
        ExitCode::SUCCESS
    } else {
        println!("unexpected result");
        ExitCode::FAILURE
    }
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
}
