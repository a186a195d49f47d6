//! Payloads from releases we have not seen are typed: a genuine delivery keeps its kind whatever
//! a release does to the fields that do not decide that kind. Starting from every release's
//! deliveries (`crates/testkit/data/appwrite/versions/`, whatever files are there), each test changes the
//! body the way another release could — a field left out, a field of another JSON type, fields
//! added — at the top level and inside nested models (a user's `targets`, a subscriber's
//! `target`, a table's `columns`, a function's `vars`, …), re-signs it, and checks that the event
//! keeps its kind and never becomes `Unparsed`.
//!
//! The identity fields are left alone: the top-level `$id` (the name's last id, and what tells a
//! user event from an MFA body announced under a user's name) and `$tableId` / `$collectionId`
//! (what tells a row from a document). A body whose identity does not fit is `Unparsed` on
//! purpose (`typed_events.rs`).
//!
//! Single changes are exhaustive (every field of every delivery, every other JSON type); a
//! property test adds combined changes, with a fixed seed so that a run is reproducible.

use std::collections::BTreeSet;

use appwrite_webhooks::{Event, EventKind, Verifier, sign};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRng, TestRunner};
use serde_json::{Value, json};
use testkit::versions::{VersionedDelivery, rawurldecode, versioned_deliveries};

/// The top-level fields that decide a payload's kind.
const IDENTITY: [&str; 3] = ["$id", "$tableId", "$collectionId"];

/// One step into a JSON value.
#[derive(Debug, Clone)]
enum Step {
    Key(String),
    Item(usize),
}

/// One release's delivery, ready to be changed and re-signed.
struct Case {
    delivery: VersionedDelivery,
    verifier: Verifier,
    signed_url: String,
    body: Value,
    kind: EventKind,
}

impl Case {
    /// The kind of the event `body` makes when the release signs it.
    fn kind_of(&self, body: &Value) -> EventKind {
        self.event_of(body).kind()
    }

    /// The event `body` makes when the release signs it.
    fn event_of(&self, body: &Value) -> Event {
        let bytes = serde_json::to_vec(body).unwrap();
        let key = self.delivery.signature_key.as_str();
        let mut headers = self.delivery.header_map();
        headers.insert(
            "x-appwrite-webhook-signature",
            sign(key, &self.signed_url, &bytes).parse().unwrap(),
        );
        let delivery = self
            .verifier
            .verify(&headers, &bytes)
            .unwrap_or_else(|e| panic!("{}: {e}", self.delivery.label()));
        match delivery.event() {
            Ok(event) => event,
            Err(error) => panic!("{}: refused: {error}", self.delivery.label()),
        }
    }

    /// Asserts `body` keeps the delivery's kind.
    fn assert_kept(&self, body: &Value, change: impl FnOnce() -> String) {
        let kind = self.kind_of(body);
        assert_eq!(
            kind,
            self.kind,
            "{}: {} gives {kind:?}",
            self.delivery.label(),
            change()
        );
    }
}

/// Every release's deliveries, once per (release, entry): the `.local.json` twins carry the same
/// bodies under another URL. Each one's unchanged body, re-serialised, is typed as its model.
fn cases() -> Vec<Case> {
    let mut seen = BTreeSet::new();
    let mut cases = Vec::new();
    for d in versioned_deliveries() {
        if !seen.insert((d.version.clone(), d.name.clone())) {
            continue;
        }
        let signed_url = match d.signing_url_rule.as_str() {
            "raw" => d.url.clone(),
            _ => rawurldecode(&d.url),
        };
        let case = Case {
            verifier: Verifier::new(d.signature_key.as_str(), d.url.as_str()),
            signed_url,
            body: serde_json::from_str(&d.body).unwrap(),
            kind: d.expected_kind(),
            delivery: d,
        };
        case.assert_kept(&case.body, || "the body as sent".to_owned());
        cases.push(case);
    }
    let versions: BTreeSet<&str> = cases.iter().map(|c| c.delivery.version.as_str()).collect();
    assert!(versions.len() >= 4, "{versions:?}");
    cases
}

/// Every place in `body` another release could change: each object member (at any depth,
/// except the top-level identity fields), and each list item.
fn paths(body: &Value) -> Vec<Vec<Step>> {
    fn walk(value: &Value, at: &mut Vec<Step>, out: &mut Vec<Vec<Step>>) {
        match value {
            Value::Object(map) => {
                for (key, inner) in map {
                    at.push(Step::Key(key.clone()));
                    if !(at.len() == 1 && IDENTITY.contains(&key.as_str())) {
                        out.push(at.clone());
                    }
                    walk(inner, at, out);
                    at.pop();
                }
            }
            Value::Array(items) => {
                for (i, inner) in items.iter().enumerate() {
                    at.push(Step::Item(i));
                    out.push(at.clone());
                    walk(inner, at, out);
                    at.pop();
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(body, &mut Vec::new(), &mut out);
    out
}

fn is_field(path: &[Step]) -> bool {
    matches!(path.last(), Some(Step::Key(_)))
}

fn show(path: &[Step]) -> String {
    path.iter()
        .map(|step| match step {
            Step::Key(key) => format!(".{key}"),
            Step::Item(i) => format!("[{i}]"),
        })
        .collect()
}

/// The value at `path`, if it is still there.
fn at_mut<'a>(value: &'a mut Value, path: &[Step]) -> Option<&'a mut Value> {
    path.iter().try_fold(value, |value, step| match step {
        Step::Key(key) => value.get_mut(key.as_str()),
        Step::Item(i) => value.get_mut(*i),
    })
}

/// Removes the member at `path` (a field); returns whether it was there.
fn remove(body: &mut Value, path: &[Step]) -> bool {
    let (Some(Step::Key(key)), parent) = (path.last(), &path[..path.len() - 1]) else {
        return false;
    };
    at_mut(body, parent)
        .and_then(Value::as_object_mut)
        .is_some_and(|map| map.remove(key).is_some())
}

/// One value of each JSON type.
fn samples() -> [Value; 6] {
    [
        json!("drift"),
        json!(42),
        json!({ "drift": [1] }),
        json!(["drift", 2]),
        Value::Null,
        json!(true),
    ]
}

fn json_type(value: &Value) -> u8 {
    match value {
        Value::Null => 0,
        Value::Bool(_) => 1,
        Value::Number(_) => 2,
        Value::String(_) => 3,
        Value::Array(_) => 4,
        Value::Object(_) => 5,
    }
}

/// A release leaves a field out (one that an older release did not have yet, or a newer one
/// dropped), at the top level or inside a nested model: the event keeps its kind.
#[test]
fn a_missing_field_never_untypes_an_event() {
    let mut changes = 0;
    for case in cases() {
        for path in paths(&case.body).into_iter().filter(|p| is_field(p)) {
            let mut body = case.body.clone();
            assert!(remove(&mut body, &path));
            case.assert_kept(&body, || format!("removing {}", show(&path)));
            changes += 1;
        }
    }
    assert!(changes > 1000, "{changes} changes");
}

/// A release sends a field (or a list item) as another JSON type — string, number, object,
/// list, null, boolean — at the top level or inside a nested model: the event keeps its kind.
#[test]
fn a_field_of_another_type_never_untypes_an_event() {
    let mut changes = 0;
    for case in cases() {
        for path in paths(&case.body) {
            let current = json_type(at_mut(&mut case.body.clone(), &path).unwrap());
            for sample in samples().into_iter().filter(|s| json_type(s) != current) {
                let mut body = case.body.clone();
                let shown = sample.to_string();
                *at_mut(&mut body, &path).unwrap() = sample;
                case.assert_kept(&body, || format!("{} = {shown}", show(&path)));
                changes += 1;
            }
        }
    }
    assert!(changes > 5000, "{changes} changes");
}

/// The case: an older release's nested models lack fields a later release added (a
/// user's `targets`, a subscriber's `target`). Only the nested `$id` and `identifier` are left:
/// the event keeps its kind *and* its nested models, with what they do carry.
#[test]
fn nested_models_without_later_fields_are_kept() {
    fn strip(target: &mut Value) {
        if let Value::Object(map) = target {
            map.retain(|key, _| key == "$id" || key == "identifier");
        }
    }
    let mut seen = 0;
    for case in cases() {
        let mut body = case.body.clone();
        if let Some(Value::Array(targets)) = body.get_mut("targets") {
            targets.iter_mut().for_each(strip);
        }
        if let Some(target) = body.get_mut("target") {
            strip(target);
        }
        if body == case.body {
            continue;
        }
        let wanted = |field: &str| {
            let targets = case.body[field].as_array().cloned();
            targets.unwrap_or_else(|| vec![case.body[field].clone()])
        };
        match case.event_of(&body) {
            Event::User { user, .. } => {
                let sent = wanted("targets");
                assert_eq!(user.targets.len(), sent.len(), "{}", case.delivery.label());
                for (typed, sent) in user.targets.iter().zip(&sent) {
                    assert_eq!(typed.id, sent["$id"].as_str().unwrap());
                    assert_eq!(typed.identifier, sent["identifier"].as_str().unwrap());
                    assert_eq!((typed.created_at, typed.expired), (None, false));
                }
            }
            Event::Subscriber { subscriber, .. } => {
                let target = subscriber.target.expect("the target is kept");
                assert_eq!(target.id, wanted("target")[0]["$id"].as_str().unwrap());
                assert_eq!(target.provider_id, None);
            }
            other => panic!("{}: {:?}", case.delivery.label(), other.kind()),
        }
        seen += 1;
    }
    assert!(seen >= 4, "{seen} deliveries with nested targets");
}

/// Adds a field no release sends to `value` (if it is an object) and to every object in it.
fn add_everywhere(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.values_mut().for_each(add_everywhere);
            map.insert(
                "fieldFromTheFuture".to_owned(),
                json!({ "nested": [1, "two", null, { "deep": true }] }),
            );
            map.insert("$internalFromTheFuture".to_owned(), json!(7));
        }
        Value::Array(items) => items.iter_mut().for_each(add_everywhere),
        _ => {}
    }
}

/// A release adds fields, at the top level and inside every nested model (one object at a time,
/// and all at once): the event keeps its kind.
#[test]
fn unknown_fields_at_every_level_never_untype_an_event() {
    for case in cases() {
        let mut everywhere = case.body.clone();
        add_everywhere(&mut everywhere);
        case.assert_kept(&everywhere, || "unknown fields in every object".to_owned());

        let objects = std::iter::once(Vec::new()).chain(paths(&case.body));
        for path in objects {
            let mut body = case.body.clone();
            let Some(Value::Object(map)) = at_mut(&mut body, &path) else {
                continue;
            };
            map.insert("fieldFromTheFuture".to_owned(), json!([{ "x": 1 }]));
            case.assert_kept(&body, || format!("a new field in {}", show(&path)));
        }
    }
}

/// What one change does.
#[derive(Debug, Clone)]
enum Change {
    Remove,
    Replace(usize),
    AddField,
}

/// Several changes at once (a release that differs in many places): removals, values of
/// another JSON type and new fields, anywhere but the identity fields. Sampled: 512 cases of up to
/// 12 changes each over all deliveries, from a fixed seed (the run is the same every time).
#[test]
fn combined_changes_never_untype_an_event() {
    let cases = cases();
    let change = prop_oneof![
        Just(Change::Remove),
        (0..samples().len()).prop_map(Change::Replace),
        Just(Change::AddField),
    ];
    let strategy = (
        any::<prop::sample::Index>(),
        prop::collection::vec((any::<prop::sample::Index>(), change), 1..12),
    );
    let config = Config {
        cases: 512,
        failure_persistence: None,
        ..Config::default()
    };
    let rng = TestRng::deterministic_rng(config.rng_algorithm);
    let mut runner = TestRunner::new_with_rng(config, rng);
    runner
        .run(&strategy, |(which, changes)| {
            let case = &cases[which.index(cases.len())];
            let paths = paths(&case.body);
            if paths.is_empty() {
                return Ok(());
            }
            let mut body = case.body.clone();
            let mut done = Vec::new();
            for (at, change) in changes {
                let path = &paths[at.index(paths.len())];
                let applied = match &change {
                    Change::Remove => remove(&mut body, path),
                    // Another type, as a release could send: a string for a string would be
                    // another value (another `$databaseId` contradicts the header: refused).
                    Change::Replace(i) => match at_mut(&mut body, path) {
                        Some(value) if json_type(value) != json_type(&samples()[*i]) => {
                            *value = samples()[*i].clone();
                            true
                        }
                        _ => false,
                    },
                    Change::AddField => match at_mut(&mut body, path) {
                        Some(Value::Object(map)) => {
                            map.insert("fieldFromTheFuture".to_owned(), json!(1));
                            true
                        }
                        _ => false,
                    },
                };
                if applied {
                    done.push(format!("{change:?} {}", show(path)));
                }
            }
            let kind = case.kind_of(&body);
            prop_assert_eq!(
                kind,
                case.kind,
                "{}: {:?} gives {:?}",
                case.delivery.label(),
                done,
                kind
            );
            Ok(())
        })
        .unwrap();
}
