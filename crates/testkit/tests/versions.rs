//! Conformance over every released Appwrite's deliveries (`crates/testkit/data/appwrite/versions/`, every
//! file there): each verifies under its release's URL rule, names the same primary event as
//! Appwrite's own rule, is typed by its payload model (never an `Unparsed` drift), and a
//! tampered copy is refused.

use appwrite_webhooks::{Error, Event, EventKind, Verifier, rawurldecode, sign};
use testkit::versions::{VersionedDelivery, versioned_deliveries};

fn verifier(d: &VersionedDelivery) -> Verifier {
    Verifier::new(d.signature_key.as_str(), d.url.as_str())
}

#[test]
fn every_release_is_covered() {
    let all = versioned_deliveries();
    let mut versions: Vec<&str> = all.iter().map(|d| d.version.as_str()).collect();
    versions.dedup();
    assert!(versions.len() >= 4, "{versions:?}");
    assert!(all.iter().any(|d| d.file.ends_with(".local.json")));
}

#[test]
fn every_delivery_verifies_under_its_releases_url_rule() {
    for d in versioned_deliveries() {
        let delivery = verifier(&d)
            .verify(&d.header_map(), d.body.as_bytes())
            .unwrap_or_else(|e| panic!("{}: {e}", d.label()));
        assert_eq!(delivery.key_index(), 0);
        let signature = delivery.signature().to_string();
        if d.url.contains('%') {
            // The percent escapes matter: the URL as typed does not give this signature.
            assert_ne!(
                signature,
                sign(d.signature_key.as_str(), &d.url, d.body.as_bytes())
            );
            assert_eq!(d.signing_url_rule, "rawurldecode", "{}", d.label());
            assert_ne!(&*rawurldecode(&d.url), d.url.as_bytes());
        }
    }
}

#[test]
fn tampered_copies_are_refused() {
    for d in versioned_deliveries() {
        let mut body = d.body.clone().into_bytes();
        let last = body.len() - 1;
        body.insert(last, b' ');
        assert!(
            matches!(
                verifier(&d).verify(&d.header_map(), &body),
                Err(Error::SignatureMismatch)
            ),
            "{}",
            d.label()
        );
        // Signed by a verifier with another key: refused too.
        let other = Verifier::new("another-key", d.url.as_str());
        assert!(other.verify(&d.header_map(), d.body.as_bytes()).is_err());
    }
}

#[test]
fn the_primary_event_is_appwrites_most_specific_name() {
    for d in versioned_deliveries() {
        let delivery = verifier(&d)
            .verify(&d.header_map(), d.body.as_bytes())
            .unwrap();
        assert_eq!(
            delivery.primary_event().map(|n| n.to_string()).as_deref(),
            Some(d.expected_primary.as_str()),
            "{}",
            d.label()
        );
    }
}

#[test]
fn every_delivery_is_typed_by_its_payload_model() {
    let mut failures = Vec::new();
    for d in versioned_deliveries() {
        let delivery = verifier(&d)
            .verify(&d.header_map(), d.body.as_bytes())
            .unwrap();
        match delivery.event_strict() {
            Ok(event) if event.kind() == d.expected_kind() => {
                if let (EventKind::User, Some(action)) = (event.kind(), event.action())
                    && d.name.contains("sessions")
                {
                    // Deleting a user's sessions leaves the user: never `Delete`.
                    assert_ne!(*action, appwrite_webhooks::Action::Delete, "{}", d.label());
                }
            }
            Ok(event) => failures.push(format!(
                "{}: {:?}, expected {:?}",
                d.label(),
                event.kind(),
                d.expected_kind()
            )),
            Err(error) => failures.push(format!("{}: {error}", d.label())),
        }
        // Lenient typing never refuses a signed delivery that names itself consistently.
        assert!(delivery.event().is_ok(), "{}", d.label());
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// A handler that deletes users on `Event::User { action: Delete }` must not fire for an MFA
/// authenticator deletion (announced as `users.U.delete` + `users.U.delete.mfa`, body `[]`).
#[test]
fn an_mfa_deletion_is_not_a_user_deletion() {
    let mut seen = 0;
    for d in versioned_deliveries().iter().filter(|d| d.model == "none") {
        let delivery = verifier(d)
            .verify(&d.header_map(), d.body.as_bytes())
            .unwrap();
        let event = delivery.event().unwrap();
        assert!(
            !matches!(event, Event::User { .. }),
            "{}: {event:?}",
            d.label()
        );
        assert_eq!(delivery.primary_event().unwrap().attribute(), Some("mfa"));
        seen += 1;
    }
    assert!(seen > 0, "no MFA deletion in the versioned data");
}

/// The header a row creation carries under each release's naming: ≤ 1.7 documents names only;
/// 1.8.0–1.9.0 documents names with their tables twins (one way); 1.9.5+ both vocabularies,
/// whichever the route used; and the `tablesdb.` form. `ids` are (database, table, row).
fn header_for(regime: usize, (db, table, row): (&str, &str, &str)) -> String {
    let documents = format!("databases.{db}.collections.{table}.documents.{row}.create");
    let rows = format!("databases.{db}.tables.{table}.rows.{row}.create");
    let tablesdb = format!("tablesdb.{db}.tables.{table}.rows.{row}.create");
    let expand = |name: &str| appwrite_webhooks::EventName::parse(name).unwrap().expand();
    let names: Vec<String> = match regime {
        0 => vec![
            documents.clone(),
            format!("databases.*.collections.*.documents.*.create"),
            format!("databases.{db}.collections.{table}"),
            format!("databases.{db}"),
        ],
        1 => vec![documents.clone(), rows.clone(), format!("databases.{db}")],
        2 => expand(&rows),
        _ => expand(&tablesdb),
    };
    names.join(",")
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(128))]

    /// However a release names a row creation, the typed event and its ids are the same, and
    /// a subscription to either vocabulary matches it.
    #[test]
    fn every_naming_regime_gives_the_same_typed_row(
        db in "[a-z][a-z0-9_]{0,11}",
        table in "[a-z][a-z0-9_]{0,11}",
        row in "[a-z0-9][a-z0-9_]{0,11}",
        regime in 0usize..4,
    ) {
        let body = format!(
            r#"{{"$id":"{row}","$sequence":"1","$tableId":"{table}","$databaseId":"{db}","$createdAt":"2025-01-01T00:00:00.000+00:00","$updatedAt":"2025-01-01T00:00:00.000+00:00","$permissions":[],"total":1}}"#
        );
        let url = "https://hooks.example.com/hook";
        let header = header_for(regime, (&db, &table, &row));
        let sent = appwrite_webhooks::sender::DeliveryBuilder::new("k", url, body)
            .events(header.split(','))
            .build();
        let delivery = Verifier::new("k", url).verify(sent.headers(), sent.body()).unwrap();
        match delivery.event_strict() {
            Ok(Event::Row { database_id, table_id, row: typed, action, .. }) => {
                proptest::prop_assert_eq!(&database_id, &db);
                proptest::prop_assert_eq!(&table_id, &table);
                proptest::prop_assert_eq!(&typed.id, &row);
                proptest::prop_assert_eq!(action, appwrite_webhooks::Action::Create);
            }
            other => proptest::prop_assert!(false, "regime {}: {:?}", regime, other),
        }
        let name = delivery.primary_event().unwrap();
        proptest::prop_assert_eq!(name.database_id(), Some(db.as_str()));
        proptest::prop_assert_eq!(name.table_id(), Some(table.as_str()));
        proptest::prop_assert_eq!(name.row_id(), Some(row.as_str()));
        for pattern in ["databases.*.tables.*.rows.*.create", "databases.*.collections.*.documents.*"] {
            let pattern = appwrite_webhooks::Pattern::parse(pattern).unwrap();
            proptest::prop_assert!(pattern.matches(&name), "regime {} {}", regime, name);
        }
    }
}
