//! The opt-in schemes against vectors from an independent implementation
//! (`scripts/gen_scheme_vectors.py`: Python's `hmac`, cross-checked with `openssl dgst`), and
//! the identity each gives a delivery ([`identity`]).

mod identity;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use appwrite_webhooks::headers::WEBHOOK_TIMESTAMP;
use appwrite_webhooks::sender::DeliveryBuilder;
use appwrite_webhooks::{
    Error, Event, GenericEnvelope, MalformedSignature, Scheme, TimestampedEnvelope, Verifier,
    sign_generic, sign_timestamped,
};
use http::{HeaderMap, HeaderValue};
use serde::Deserialize;

#[derive(Deserialize)]
struct Vector {
    name: String,
    key: String,
    timestamp: u64,
    body: String,
    timestamped_signature: String,
    generic_signature: String,
}

fn vectors() -> Vec<Vector> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/data/scheme-vectors.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn vector(name: &str) -> Vector {
    vectors().into_iter().find(|v| v.name == name).unwrap()
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
    pairs
        .iter()
        .map(|(k, v)| {
            (
                http::HeaderName::from_static(k),
                HeaderValue::from_str(v).unwrap(),
            )
        })
        .collect()
}

fn timestamped_headers(timestamp: u64, signature: &str) -> HeaderMap {
    headers(&[
        ("x-appwrite-webhook-id", "wh_1"),
        ("x-appwrite-webhook-timestamp", &timestamp.to_string()),
        ("x-appwrite-webhook-signature", signature),
    ])
}

fn generic_headers(signature: &str) -> HeaderMap {
    headers(&[
        ("x-webhook-id", "wh_123456"),
        ("x-webhook-event", "user.created"),
        ("x-webhook-signature", signature),
    ])
}

/// The vectors are old: a tolerance that accepts any timestamp isolates the signature check.
fn any_time(key: &str) -> Verifier {
    Verifier::timestamped(key).with_tolerance(Duration::from_secs(u64::MAX))
}

#[test]
fn signing_helpers_match_the_independent_vectors() {
    let vectors = vectors();
    assert_eq!(vectors.len(), 6);
    for v in &vectors {
        let key = v.key.as_str();
        let body = v.body.as_bytes();
        assert_eq!(
            sign_timestamped(key, v.timestamp, body),
            v.timestamped_signature,
            "{}",
            v.name
        );
        assert_eq!(sign_generic(key, body), v.generic_signature, "{}", v.name);
    }
}

#[test]
fn every_vector_verifies_and_any_change_fails() {
    for v in vectors() {
        let key = v.key.as_str();
        let body = v.body.as_bytes();
        let sent = timestamped_headers(v.timestamp, &v.timestamped_signature);
        let delivery = any_time(key).verify(&sent, body).unwrap();
        assert_eq!(delivery.timestamp(), Some(v.timestamp), "{}", v.name);
        assert_eq!(delivery.webhook_id(), "wh_1");

        let delivery = Verifier::generic(key)
            .verify(&generic_headers(&v.generic_signature), body)
            .unwrap();
        // The event is the signed envelope's `type`; a vector whose body is not an envelope
        // names none, whatever the unsigned `X-Webhook-Event` header says.
        let signed_type = serde_json::from_slice::<serde_json::Value>(body)
            .ok()
            .and_then(|v| v["type"].as_str().map(str::to_owned))
            .unwrap_or_default();
        assert_eq!(delivery.events_header(), signed_type, "{}", v.name);
        assert_eq!(delivery.scheme(), Scheme::Generic);

        // Upper-case hex is the same tag.
        let upper = v.timestamped_signature.to_uppercase();
        assert!(
            any_time(key)
                .verify(&timestamped_headers(v.timestamp, &upper), body)
                .is_ok()
        );

        // Another timestamp, body, key or tag: mismatch.
        let moved = timestamped_headers(v.timestamp + 1, &v.timestamped_signature);
        assert!(matches!(
            any_time(key).verify(&moved, body),
            Err(Error::SignatureMismatch)
        ));
        let mut longer = body.to_vec();
        longer.push(b' ');
        assert!(matches!(
            any_time(key).verify(&sent, &longer),
            Err(Error::SignatureMismatch)
        ));
        assert!(matches!(
            Verifier::generic(key).verify(&generic_headers(&v.generic_signature), &longer),
            Err(Error::SignatureMismatch)
        ));
        assert!(matches!(
            any_time("another key").verify(&sent, body),
            Err(Error::SignatureMismatch)
        ));
        // The generic tag is not the timestamped one, nor the reverse.
        let swapped = timestamped_headers(v.timestamp, &v.generic_signature["sha256=".len()..]);
        assert!(matches!(
            any_time(key).verify(&swapped, body),
            Err(Error::SignatureMismatch)
        ));
    }
}

#[test]
fn key_rotation_reports_the_matching_key() {
    let v = &vectors()[0];
    let verifier = Verifier::generic("new").with_key(v.key.as_str());
    let delivery = verifier
        .verify(&generic_headers(&v.generic_signature), v.body.as_bytes())
        .unwrap();
    assert_eq!(delivery.key_index(), 1);
    let verifier = any_time("new").with_key(v.key.as_str());
    let mut headers = http::HeaderMap::new();
    headers.insert(
        Scheme::timestamped().signature_header(),
        v.timestamped_signature.parse().unwrap(),
    );
    headers.insert(WEBHOOK_TIMESTAMP, v.timestamp.into());
    assert_eq!(
        verifier
            .verify_signature(&headers, v.body.as_bytes())
            .unwrap(),
        1
    );
}

#[test]
fn the_tolerance_window_rejects_old_and_future_timestamps() {
    let body = b"{}";
    let verifier = Verifier::timestamped("k");
    let check = |timestamp: u64| {
        let signature = sign_timestamped("k", timestamp, body);
        verifier.verify(&timestamped_headers(timestamp, &signature), body)
    };
    let t = now();
    assert!(check(t).is_ok());
    assert!(check(t - 290).is_ok());
    assert!(check(t + 290).is_ok());
    let Err(Error::TimestampOutOfTolerance { skew, tolerance }) = check(t - 400) else {
        panic!("an old timestamp is rejected")
    };
    assert!(skew >= 400 && tolerance == Scheme::DEFAULT_TOLERANCE);
    let Err(error @ Error::TimestampOutOfTolerance { skew, .. }) = check(t + 400) else {
        panic!("a future timestamp is rejected")
    };
    assert!(skew <= -399);
    assert_eq!(error.status(), 401);
    assert!(error.to_string().contains("in the future"), "{error}");
    // The sample vectors are years old.
    let v = &vectors()[0];
    assert!(matches!(
        Verifier::timestamped(v.key.as_str()).verify(
            &timestamped_headers(v.timestamp, &v.timestamped_signature),
            v.body.as_bytes()
        ),
        Err(Error::TimestampOutOfTolerance { .. })
    ));
    // A tighter window.
    let strict = Verifier::timestamped("k").with_tolerance(Duration::from_secs(10));
    let signature = sign_timestamped("k", t - 60, body);
    assert!(
        strict
            .verify(&timestamped_headers(t - 60, &signature), body)
            .is_err()
    );
}

#[test]
fn malformed_headers_say_why() {
    let verifier = Verifier::timestamped("k");
    let body = b"{}";
    let t = now();
    let good = sign_timestamped("k", t, body);
    for (timestamp, reason) in [
        ("", "not unix seconds"),
        ("-5", "not unix seconds"),
        ("1e9", "not unix seconds"),
        ("99999999999999999999", "not unix seconds"),
    ] {
        let sent = headers(&[
            ("x-appwrite-webhook-id", "wh"),
            ("x-appwrite-webhook-timestamp", timestamp),
            ("x-appwrite-webhook-signature", &good),
        ]);
        assert!(
            matches!(verifier.verify(&sent, body), Err(Error::InvalidTimestamp(r)) if r == reason),
            "{timestamp:?}"
        );
    }
    let no_timestamp = headers(&[
        ("x-appwrite-webhook-id", "wh"),
        ("x-appwrite-webhook-signature", &good),
    ]);
    assert!(matches!(
        verifier.verify(&no_timestamp, body),
        Err(Error::InvalidTimestamp("missing"))
    ));

    let short = timestamped_headers(t, &good[..63]);
    assert!(matches!(
        verifier.verify(&short, body),
        Err(Error::MalformedSignature(
            MalformedSignature::WrongHexLength(63)
        ))
    ));
    let not_hex = timestamped_headers(t, &"z".repeat(64));
    assert!(matches!(
        verifier.verify(&not_hex, body),
        Err(Error::MalformedSignature(MalformedSignature::NotHex))
    ));
    let bare = generic_headers(&sign_generic("k", body)["sha256=".len()..]);
    assert!(matches!(
        Verifier::generic("k").verify(&bare, body),
        Err(Error::MalformedSignature(
            MalformedSignature::MissingPrefix("sha256=")
        ))
    ));
    // Each scheme reads its own signature header.
    let appwrite = DeliveryBuilder::new("k", "https://e.x/h", "{}").build();
    assert!(matches!(
        Verifier::generic("k").verify(appwrite.headers(), appwrite.body()),
        Err(Error::MissingSignature)
    ));
}

#[test]
fn re_serialised_json_does_not_verify() {
    // What the documents' `JSON.stringify(req.body)` examples do: parse, then serialise again.
    let v = vector("php-escapes");
    let value: serde_json::Value = serde_json::from_str(&v.body).unwrap();
    let again = serde_json::to_string(&value).unwrap();
    assert_ne!(again, v.body, "`\\/` and `\\u00e9` are not re-created");
    assert!(matches!(
        any_time(v.key.as_str()).verify(
            &timestamped_headers(v.timestamp, &v.timestamped_signature),
            again.as_bytes()
        ),
        Err(Error::SignatureMismatch)
    ));
    assert!(matches!(
        Verifier::generic(v.key.as_str())
            .verify(&generic_headers(&v.generic_signature), again.as_bytes()),
        Err(Error::SignatureMismatch)
    ));
}

#[test]
fn envelopes_are_typed() {
    let v = vector("seed-row-envelope");
    let delivery = any_time(v.key.as_str())
        .verify(
            &timestamped_headers(v.timestamp, &v.timestamped_signature),
            v.body.as_bytes(),
        )
        .unwrap();
    let Event::Row {
        database_id,
        table_id,
        row,
        ..
    } = delivery.event().unwrap()
    else {
        panic!("a row event")
    };
    assert_eq!(
        (database_id.as_str(), table_id.as_str(), row.id.as_str()),
        ("main", "orders", "order_456")
    );
    assert_eq!(row.data["customer"], "John Doe");
    // Without an events header, the primary event is the envelope's.
    assert_eq!(
        delivery.primary_event().unwrap().as_str(),
        "databases.main.tables.orders.rows.order_456.create"
    );
    let envelope = TimestampedEnvelope::parse(delivery.body()).unwrap();
    assert_eq!(envelope.id, "event_123");
    assert_eq!(envelope.timestamp.unix_timestamp(), 1_736_937_000);

    #[derive(Deserialize)]
    struct User {
        email: String,
    }
    let v = vector("seed-generic-envelope");
    let envelope: GenericEnvelope<User> = GenericEnvelope::parse(v.body.as_bytes()).unwrap();
    assert_eq!(
        (envelope.id.as_str(), envelope.kind.as_str()),
        ("evt_abc123", "user.created")
    );
    assert_eq!(envelope.data.email, "john@example.com");
    let delivery = Verifier::generic(v.key.as_str())
        .verify(&generic_headers(&v.generic_signature), v.body.as_bytes())
        .unwrap();
    let Event::Unknown { name, raw } = delivery.event().unwrap() else {
        panic!("not an Appwrite event")
    };
    assert_eq!(
        (name.as_str(), raw["id"].as_str()),
        ("user.created", Some("usr_789"))
    );
}
