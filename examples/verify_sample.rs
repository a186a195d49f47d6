//! Verifies an Appwrite-identical delivery and rejects a forged one, without a server.
//!
//! ```sh
//! cargo run --example verify_sample
//! ```

use appwrite_webhooks::{Verifier, sender::DeliveryBuilder};

fn main() {
    let url = "https://hooks.example.com/appwrite";
    let key = "whsec_a819408ce5010ca2e09ef59ac3d89f5ff8595d02b524e61b";
    // A body as PHP's json_encode writes it: `\/` and `\u00eb` escapes, which a re-serialiser
    // would change.
    let body = r#"{"$id":"ord_1042","customer":"Zo\u00eb","note":"https:\/\/example.com"}"#;

    let genuine = DeliveryBuilder::new(key, url, body)
        .events([
            "databases.shop.tables.orders.rows.ord_1042.create",
            "databases.*.tables.*.rows.*.create",
        ])
        .project_id("proj_acme")
        .build();
    let forged = DeliveryBuilder::new("not-the-key", url, body).build();

    let verifier = Verifier::new(key, url);
    for (label, sent) in [("genuine", &genuine), ("forged", &forged)] {
        match verifier.verify(sent.headers(), sent.body()) {
            Ok(delivery) => println!(
                "{label}: accepted {} for project {}",
                delivery.events().next().unwrap_or("?"),
                delivery.project_id()
            ),
            Err(error) => println!("{label}: rejected with {} ({error})", error.status()),
        }
    }
}
