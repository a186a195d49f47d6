//! Conformance: every catalogued event parses into its typed variant.

use std::collections::BTreeSet;

use appwrite_webhooks::{Error, Event, EventKind, Verifier, sender::DeliveryBuilder};
use testkit::{SampleDelivery, catalogue, deliveries, delivery_of_model};

fn verify(d: &SampleDelivery) -> appwrite_webhooks::Delivery {
    Verifier::new(d.signature_key.as_str(), d.url.as_str())
        .verify(&d.header_map(), d.body.as_bytes())
        .unwrap_or_else(|e| panic!("{}: {e}", d.name))
        .into_owned()
}

/// The variant each catalogue model maps to.
fn kind_for_model(model: &str) -> EventKind {
    match model {
        "user" => EventKind::User,
        "session" => EventKind::Session,
        "token" => EventKind::Token,
        "target" => EventKind::Target,
        "database" => EventKind::Database,
        "table" => EventKind::Table,
        "collection" => EventKind::Collection,
        "column" => EventKind::Column,
        "attribute" => EventKind::Attribute,
        "columnIndex" => EventKind::ColumnIndex,
        "index" => EventKind::Index,
        "row" => EventKind::Row,
        "document" => EventKind::Document,
        "bucket" => EventKind::Bucket,
        "file" => EventKind::File,
        "team" => EventKind::Team,
        "membership" => EventKind::Membership,
        "function" => EventKind::Function,
        "execution" => EventKind::Execution,
        "deployment" => EventKind::Deployment,
        "site" => EventKind::Site,
        "message" => EventKind::Message,
        "topic" => EventKind::Topic,
        "subscriber" => EventKind::Subscriber,
        "provider" => EventKind::Provider,
        "schedule" => EventKind::Schedule,
        "proxyRule" => EventKind::ProxyRule,
        "report" => EventKind::Report,
        "insight" => EventKind::Insight,
        other => panic!("catalogue model {other} has no variant"),
    }
}

#[test]
fn the_samples_cover_the_whole_catalogue() {
    let templates: BTreeSet<String> = catalogue().into_iter().map(|(t, _, _)| t).collect();
    let sampled: BTreeSet<String> = deliveries().into_iter().map(|d| d.template).collect();
    assert_eq!(templates, sampled);
}

#[test]
fn every_delivery_parses_into_its_typed_variant() {
    for d in deliveries() {
        let delivery = verify(&d);
        let event = delivery
            .event()
            .unwrap_or_else(|e| panic!("{}: {e}", d.name));
        assert_eq!(event.kind(), kind_for_model(&d.model), "{}", d.name);
        let name = delivery.primary_event().unwrap();
        let template_action = d
            .template
            .rsplit('.')
            .find(|s| !s.starts_with('['))
            .unwrap();
        assert!(
            d.template
                .ends_with(&format!(".{}", name.attribute().unwrap_or(template_action))),
            "{}: primary {name}",
            d.name
        );

        // The ids the variant carries are the event name's, checked against the signed body,
        // and the payload's own `$id` is the name's last id (columns and attributes have a key
        // instead). Parent ids the model carries come from the signed body.
        let leaf_id = name.path().last().unwrap().1.to_owned();
        let payload: serde_json::Value = delivery.json().unwrap();
        if let Some(id) = payload.get("$id") {
            assert_eq!(id.as_str(), Some(leaf_id.as_str()), "{}", d.name);
        }
        match &event {
            Event::Row {
                database_id,
                table_id,
                row,
                ..
            } => {
                assert_eq!(Some(database_id.as_str()), name.database_id());
                assert_eq!(Some(table_id.as_str()), name.table_id());
                assert_eq!(row.id, leaf_id);
                assert_eq!(&row.table_id, table_id);
                assert!(
                    row.data.contains_key("customer"),
                    "user columns kept: {:?}",
                    row.data.keys()
                );
            }
            Event::Document {
                collection_id,
                document,
                ..
            } => {
                assert_eq!(&document.collection_id, collection_id);
                assert_eq!(
                    document.data["note"],
                    "ships to https://example.com/a/b <fast> & \"tracked\""
                );
            }
            Event::Session {
                user_id, session, ..
            } => {
                assert_eq!(user_id, &session.user_id, "from the signed body");
                assert_eq!(session.id, leaf_id);
            }
            Event::User {
                user, attribute, ..
            } => {
                assert_eq!(user.id, leaf_id);
                assert_eq!(attribute.as_deref(), name.attribute());
                assert_eq!(
                    user.name, "Zo\u{eb} M\u{fc}ller",
                    "\\u escapes decoded after verifying"
                );
            }
            Event::Membership {
                team_id,
                attribute,
                membership,
                ..
            } => {
                assert_eq!(team_id, &membership.team_id, "from the signed body");
                assert_eq!(attribute.as_deref(), name.attribute());
            }
            Event::Column {
                column_id, column, ..
            } => {
                assert_eq!(Some(column_id.as_str()), name.id("columns"));
                assert!(!column.key.is_empty());
            }
            Event::File {
                bucket_id, file, ..
            } => {
                assert_eq!(bucket_id, &file.bucket_id, "from the signed body");
                assert_eq!(file.id, leaf_id);
            }
            Event::Unknown { .. } => panic!("{} is Unknown", d.name),
            _ => {}
        }
        assert!(event.action().is_some());
    }
}

#[test]
fn dates_are_parsed() {
    let d = delivery_of_model("user");
    let Event::User { user, .. } = verify(&d).event().unwrap() else {
        panic!()
    };
    let created_at = user.created_at.expect("a date");
    assert_eq!(created_at.year(), 2020);
    assert_eq!(created_at.offset().whole_seconds(), 0);
}

const URL: &str = "https://example.com/hook";

fn signed(events: &[&str], body: &str) -> appwrite_webhooks::Delivery {
    let sent = DeliveryBuilder::new("k", URL, body.to_owned())
        .events(events)
        .build();
    Verifier::new("k", URL)
        .verify(sent.headers(), sent.body())
        .unwrap()
        .into_owned()
}

#[test]
fn unknown_fields_are_tolerated() {
    let d = delivery_of_model("team");
    let body = d
        .body
        .replacen('{', r#"{"brandNewField":{"nested":[1,2]},"#, 1);
    let delivery = signed(&d.events(), &body);
    assert_eq!(delivery.event().unwrap().kind(), EventKind::Team);
}

#[test]
fn unknown_services_parse_as_unknown() {
    let delivery = signed(
        &[
            "widgets.w1.polish",
            "widgets.*.polish",
            "widgets.w1",
            "widgets.*",
        ],
        r#"{"shine":9}"#,
    );
    match delivery.event().unwrap() {
        Event::Unknown { name, raw } => {
            assert_eq!(name, "widgets.w1.polish");
            assert_eq!(raw["shine"], 9);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(delivery.primary_event().unwrap().action(), Some("polish"));
}

#[test]
fn bad_json_after_a_valid_signature_is_a_400() {
    for body in ["{not json", ""] {
        let delivery = signed(&["teams.t1.create", "teams.*.create"], body);
        for error in [
            delivery.event().unwrap_err(),
            delivery.event_strict().unwrap_err(),
        ] {
            assert!(
                matches!(error, Error::InvalidPayload(_)),
                "{body}: {error:?}"
            );
            assert_eq!(error.status(), 400);
        }
    }
}

/// A field of another shape than the model's, or missing, is not model drift that untypes the
/// event: it reads as `None` or its type's default, and the raw value stays in the body.
#[test]
fn a_field_of_another_shape_keeps_the_event_typed() {
    let body = r#"{"$id":"t1","name":17,"total":"many","$createdAt":5,"prefs":"dark"}"#;
    let delivery = signed(&["teams.t1.create", "teams.*.create"], body);
    for event in [delivery.event().unwrap(), delivery.event_strict().unwrap()] {
        let Event::Team { team, .. } = event else {
            panic!("{event:?}")
        };
        assert_eq!(team.id, "t1");
        assert_eq!((team.name.as_str(), team.total), ("", 0));
        assert_eq!(team.created_at, None);
        assert!(team.prefs.0.is_empty());
    }
    let raw: serde_json::Value = delivery.json().unwrap();
    assert_eq!(raw["name"], 17);
}

/// JSON that does not fit the model (model drift) reaches the handler as `Unparsed`, with the
/// name, the raw JSON and the reason; only strict parsing refuses it. Only the identity fields
/// (`$id`, and a row's `$tableId` or a document's `$collectionId`) can make a body misfit.
#[test]
fn a_body_that_does_not_fit_its_model_is_handed_on_unparsed() {
    let delivery = signed(&["teams.t1.create", "teams.*.create"], r#"{"$id":5}"#);
    match delivery.event().unwrap() {
        Event::Unparsed { name, raw, error } => {
            assert_eq!(name, "teams.t1.create");
            assert_eq!(raw["$id"], 5);
            assert!(!error.is_empty());
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        delivery.event().unwrap().kind(),
        appwrite_webhooks::EventKind::Unparsed
    );
    let strict = delivery.event_strict().unwrap_err();
    assert!(matches!(strict, Error::InvalidPayload(_)), "{strict:?}");
}
