//! The workspace's root package: it owns the top-level `examples/` and the conformance tests in
//! `tests/`, which run against the data in `../shared/appwrite`. Not published; depend on the
//! `appwrite-webhooks` crates instead.
//!
//! [`demo`] is the client side the examples share: it plays Appwrite against a receiver.

#![forbid(unsafe_code)]

pub mod demo {
    //! Plays Appwrite against a receiver on loopback: one genuine delivery and two forgeries.

    use std::process::ExitCode;

    use appwrite_webhooks::sender::{DeliveryBuilder, SignedDelivery};

    /// The signing key the examples use in self-test mode.
    pub const KEY: &str = "whsec_a819408ce5010ca2e09ef59ac3d89f5ff8595d02b524e61b";

    /// A row-created body exactly as Appwrite's PHP encodes it: `\/` and `\u00eb` escapes.
    pub const ROW_BODY: &str = r#"{"$id":"ord_1042","$sequence":"1","$tableId":"orders","$databaseId":"shop","$createdAt":"2020-10-15T06:38:00.000+00:00","$updatedAt":"2020-10-15T06:38:00.000+00:00","$permissions":["read(\"any\")"],"customer":"Zo\u00eb M\u00fcller","note":"ships to https:\/\/example.com\/a\/b","total":10}"#;

    /// Sends `body` (or the delivery's own) with every header the delivery carries.
    pub async fn post(
        client: &reqwest::Client,
        sent: &SignedDelivery,
        body: Option<String>,
    ) -> Result<(u16, String), reqwest::Error> {
        let mut request = client.post(sent.url());
        for (name, value) in sent.headers() {
            // The client computes the length of what it actually sends.
            if name != "content-length" {
                request = request.header(name, value);
            }
        }
        let body = body.map_or_else(|| sent.body().to_vec(), String::into_bytes);
        let response = request.body(body).send().await?;
        let status = response.status().as_u16();
        Ok((status, response.text().await.unwrap_or_default()))
    }

    /// Sends a genuine delivery for `url`, one signed with a wrong key, and one whose body was
    /// re-serialised after signing; prints each outcome. Success when the first is accepted
    /// (2xx) and both forgeries get 401.
    pub async fn run(url: &str) -> ExitCode {
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
        let reencoded = ROW_BODY.replace("\\/", "/");

        let client = reqwest::Client::new();
        let cases = [
            ("genuine delivery", &genuine, None, true),
            ("forged signature", &forged, None, false),
            ("re-serialised body", &genuine, Some(reencoded), false),
        ];
        let mut as_expected = true;
        for (label, sent, body, should_accept) in cases {
            println!("sending {label}");
            let (status, text) = match post(&client, sent, body).await {
                Ok(answer) => answer,
                Err(error) => {
                    println!("  request failed: {error}");
                    return ExitCode::FAILURE;
                }
            };
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
}
