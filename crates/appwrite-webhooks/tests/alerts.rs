//! Appwrite's alert webhooks against deliveries made by Appwrite's own code
//! (`crates/testkit/data/appwrite/alerts/alerts.json`): verified byte for byte, typed,
//! de-duplicated by their `deduplicationKey`, with the tolerance read from the injected clock,
//! and unsigned alerts refused unless allowed.

use std::time::Duration;

use appwrite_webhooks::inbox::{Inbox, Put};
use appwrite_webhooks::sender::{DeliveryBuilder, SignedDelivery};
use appwrite_webhooks::{
    Alert, Error, Event, EventKind, ManualClock, MemoryLedger, Scheme, Signature, Verifier,
    sign_alert, sign_timestamped,
};
use http_body_util::Full;
use testkit::alerts::{ALERT_KEY, DATA_NOW, SampleAlert, alert, alerts, data_now};

/// An alert verifier whose clock stands at the data's time.
fn verifier() -> Verifier {
    Verifier::alert(ALERT_KEY).with_clock(ManualClock::at(data_now()))
}

fn typed(verifier: &Verifier, sample: &SampleAlert) -> Alert {
    let delivery = verifier
        .verify(&sample.header_map(), sample.body.as_bytes())
        .unwrap_or_else(|e| panic!("{}: {e}", sample.name));
    match delivery.event().unwrap() {
        Event::Alert(alert) => alert,
        other => panic!("{}: {other:?}", sample.name),
    }
}

fn resigned(key: &str, body: &str, timestamp: u64) -> SignedDelivery {
    DeliveryBuilder::new(
        key,
        "https://hooks.example.com/appwrite/alerts",
        body.to_owned(),
    )
    .scheme(Scheme::alert())
    .timestamp(timestamp)
    .build()
}

#[test]
fn every_signed_alert_verifies_byte_for_byte_and_is_typed() {
    let verifier = verifier();
    let signed: Vec<_> = alerts().into_iter().filter(|a| a.signed).collect();
    assert_eq!(signed.len(), 4);
    for sample in &signed {
        // Our signer writes exactly what Appwrite sent.
        assert_eq!(
            sign_alert(ALERT_KEY, sample.timestamp, sample.body.as_bytes()),
            sample.header_map()["x-appwrite-webhook-signature"],
            "{}",
            sample.name
        );
        let delivery = verifier
            .verify(&sample.header_map(), sample.body.as_bytes())
            .unwrap_or_else(|e| panic!("{}: {e}", sample.name));
        assert_eq!(delivery.scheme(), Scheme::alert());
        assert_eq!(delivery.timestamp(), Some(sample.timestamp));
        assert!(delivery.is_signed());
        assert_eq!(delivery.event().unwrap().kind(), EventKind::Alert);
        // Re-serialised JSON (`\/` → `/`, `\u00f6` → `ö`) no longer verifies.
        let value: serde_json::Value = serde_json::from_str(&sample.body).unwrap();
        let reserialised = serde_json::to_vec(&value).unwrap();
        if reserialised != sample.body.as_bytes() {
            assert!(matches!(
                verifier.verify(&sample.header_map(), &reserialised),
                Err(Error::SignatureMismatch)
            ));
        }
    }

    let paused = typed(&verifier, &alert("webhook-paused"));
    assert_eq!(paused.subject, "Webhook deliveries have been paused");
    assert!(paused.body.starts_with("<p>Webhook \"Payments\""));
    assert!(paused.body.contains("https://cloud.appwrite.io/console/"));
    assert!(paused.params.is_empty(), "PHP's [] is an empty map");
    assert_eq!(paused.project.as_deref(), Some("6571d0f5a1b2c3d4e5f6"));
    assert_eq!(
        paused.deduplication_key,
        "webhook:wh_01:paused:2026-11-30T08:12:44.120+00:00"
    );
    assert!(paused.events.is_empty() && paused.extra.is_empty());

    let unicode = typed(&verifier, &alert("webhook-paused-unicode"));
    assert_eq!(
        unicode.subject,
        "Webhook-Zustellungen pausiert \u{2013} Zahlungsstr\u{f6}me"
    );
    assert!(unicode.body.ends_with("\u{2713} \u{1f680}"));
    assert_eq!(unicode.template, "webhook-paused");
    assert_eq!(unicode.params["attempts"], 10);
    assert_eq!(
        unicode.params["url"],
        "https://hooks.example.com/a?b=c&d=%7Ee"
    );

    let usage = typed(&verifier, &alert("usage-alert-no-project"));
    assert_eq!(
        (usage.project, usage.body.as_str()),
        (None, "Bandwidth 90/100 GB")
    );

    let empty = typed(&verifier, &alert("empty-params"));
    assert_eq!(
        (empty.subject.as_str(), empty.deduplication_key.as_str()),
        ("", "")
    );
}

#[test]
fn the_fixed_timestamps_need_the_injected_clock_and_the_tolerance_is_read_from_it() {
    let sample = alert("webhook-paused");
    let (headers, body) = (sample.header_map(), sample.body.as_bytes());

    // This server's real clock is long past the data's time: out of tolerance, 401.
    let error = Verifier::alert(ALERT_KEY)
        .verify(&headers, body)
        .unwrap_err();
    assert!(
        matches!(error, Error::TimestampOutOfTolerance { .. }),
        "{error}"
    );
    assert_eq!(error.status(), 401);

    // At the edge of the default five minutes, either way; one second past it, refused.
    let clock = ManualClock::at(data_now() + Duration::from_secs(300));
    let verifier = Verifier::alert(ALERT_KEY).with_clock(clock.clone());
    assert!(verifier.verify(&headers, body).is_ok());
    clock.advance(Duration::from_secs(1));
    let error = verifier.verify(&headers, body).unwrap_err();
    assert!(
        matches!(error, Error::TimestampOutOfTolerance { skew: 301, .. }),
        "{error}"
    );
    assert_eq!(error.status(), 401);
    clock.set(data_now() - Duration::from_secs(301));
    let error = verifier.verify(&headers, body).unwrap_err();
    assert!(matches!(
        error,
        Error::TimestampOutOfTolerance { skew: -301, .. }
    ));

    // with_tolerance widens (or narrows) it for alerts too.
    let wide = verifier.with_tolerance(Duration::from_secs(600));
    assert_eq!(wide.scheme().tolerance(), Some(Duration::from_secs(600)));
    assert!(wide.verify(&headers, body).is_ok());
    let narrow = Verifier::alert(ALERT_KEY)
        .with_tolerance(Duration::from_secs(59))
        .with_clock(ManualClock::at(data_now()));
    let older = alert("webhook-paused-unicode"); // sent 60 s before DATA_NOW
    assert!(
        narrow
            .verify(&older.header_map(), older.body.as_bytes())
            .is_err()
    );
}

#[test]
fn unsigned_alerts_are_refused_unless_allowed_explicitly() {
    let unsigned = alert("unsigned");
    assert!(!unsigned.signed);
    let (headers, body) = (unsigned.header_map(), unsigned.body.as_bytes());

    // By default: 401, a missing signature.
    let error = verifier().verify(&headers, body).unwrap_err();
    assert!(matches!(error, Error::MissingSignature), "{error}");
    assert_eq!(error.status(), 401);
    assert!(!verifier().unsigned_alerts());

    // Allowed: accepted, typed, and marked as unsigned.
    for allowing in [
        verifier().with_unsigned_alerts(true),
        Verifier::alert_unsigned().with_clock(ManualClock::at(data_now())),
    ] {
        assert!(allowing.unsigned_alerts());
        let delivery = allowing.verify(&headers, body).unwrap();
        assert!(!delivery.is_signed());
        assert_eq!(delivery.key_label(), Some("unsigned"));
        assert_eq!(delivery.signature().to_string(), "");
        let Event::Alert(typed) = delivery.event().unwrap() else {
            panic!("an alert")
        };
        assert_eq!(typed.subject, "Webhook deliveries have been paused");
        // The tolerance still applies.
        let late = allowing.with_clock(ManualClock::at(data_now() + Duration::from_secs(301)));
        assert!(matches!(
            late.verify(&headers, body),
            Err(Error::TimestampOutOfTolerance { .. })
        ));
    }

    // Allowing unsigned alerts never lets a bad signature through.
    let allowing = verifier().with_unsigned_alerts(true);
    let signed = alert("webhook-paused");
    let mut forged = signed.header_map();
    forged.insert(
        "x-appwrite-webhook-signature",
        format!("sha256={}", "0".repeat(64)).parse().unwrap(),
    );
    assert!(matches!(
        allowing.verify(&forged, signed.body.as_bytes()),
        Err(Error::SignatureMismatch)
    ));
    forged.insert("x-appwrite-webhook-signature", "garbage".parse().unwrap());
    assert_eq!(
        allowing
            .verify(&forged, signed.body.as_bytes())
            .unwrap_err()
            .status(),
        401
    );
    // A keyless unsigned-only verifier cannot check a signature: refused until given the key.
    let keyless = Verifier::alert_unsigned().with_clock(ManualClock::at(data_now()));
    assert!(
        keyless
            .verify(&signed.header_map(), signed.body.as_bytes())
            .is_err()
    );
    let keyed = keyless.with_key(ALERT_KEY);
    assert!(
        keyed
            .verify(&signed.header_map(), signed.body.as_bytes())
            .is_ok()
    );
    // And verify_signature, which checks a signature, has none to check.
    assert!(matches!(
        allowing.verify_signature(&headers, body),
        Err(Error::MissingSignature)
    ));

    // Switching it off again refuses them.
    assert!(
        allowing
            .with_unsigned_alerts(false)
            .verify(&headers, body)
            .is_err()
    );
}

#[test]
fn unsigned_alerts_are_an_alert_only_option() {
    for make in [
        (|| drop(Verifier::new("k", "https://e.x/h").with_unsigned_alerts(true))) as fn(),
        || drop(Verifier::timestamped("k").with_unsigned_alerts(true)),
        || drop(Verifier::generic("k").with_unsigned_alerts(false)),
    ] {
        let panic = std::panic::catch_unwind(make).expect_err("refused at construction");
        let message = panic.downcast_ref::<String>().cloned().unwrap_or_default();
        assert!(
            message.contains("only alerts are sent unsigned"),
            "{message}"
        );
    }
}

#[test]
fn identity_is_the_deduplication_key_under_the_verifying_key_else_the_signature() {
    let verifier = verifier().with_key("old-secret");
    let identity = |sent: &SignedDelivery| {
        *verifier
            .verify(sent.headers(), sent.body())
            .unwrap()
            .fingerprint()
    };
    let paused = alert("webhook-paused");
    let original = identity(&paused.signed());
    // Appwrite sending the same alert again, later: another timestamp and signature, one alert.
    let again = resigned(ALERT_KEY, &paused.body, DATA_NOW - 30);
    assert_ne!(
        again.headers()["x-appwrite-webhook-signature"],
        paused.header_map()["x-appwrite-webhook-signature"]
    );
    assert_eq!(identity(&again), original);
    // Another alert: another identity.
    let other = paused.body.replace("wh_01:paused", "wh_02:paused");
    assert_ne!(identity(&resigned(ALERT_KEY, &other, DATA_NOW)), original);
    // The key is keyed by the verifying key: the same text under another key is not the same.
    assert_ne!(
        identity(&resigned("old-secret", &paused.body, DATA_NOW)),
        original
    );

    // An empty deduplicationKey: the signature decides, so a resend is a new delivery.
    let empty = alert("empty-params");
    let first = identity(&empty.signed());
    assert_eq!(
        first.as_bytes(),
        Signature::parse(
            Scheme::alert(),
            empty.header_map()["x-appwrite-webhook-signature"].as_bytes()
        )
        .unwrap()
        .as_bytes()
    );
    assert_ne!(
        identity(&resigned(ALERT_KEY, &empty.body, DATA_NOW - 1)),
        first
    );

    // Unsigned: the deduplication key too (unkeyed), never equal to a signed alert's identity.
    let allowing = Verifier::alert_unsigned().with_clock(ManualClock::at(data_now()));
    let unsigned = alert("unsigned");
    let unsigned_identity = |body: &str| {
        *allowing
            .verify(&unsigned.header_map(), body.as_bytes())
            .unwrap()
            .fingerprint()
    };
    let one = unsigned_identity(&unsigned.body);
    assert_eq!(one, unsigned_identity(&unsigned.body));
    assert_ne!(one, original);
    let other_key = unsigned.body.replace("wh_01:paused", "wh_03:paused");
    assert_ne!(unsigned_identity(&other_key), one);
}

#[test]
fn the_seed_timestamped_scheme_and_appwrite_alerts_sign_the_same_string_in_two_forms() {
    let sample = alert("webhook-paused");
    let body = sample.body.as_bytes();
    let hex = sign_timestamped(ALERT_KEY, sample.timestamp, body);
    assert_eq!(
        sign_alert(ALERT_KEY, sample.timestamp, body),
        format!("sha256={hex}")
    );
    let clock = ManualClock::at(data_now());
    // Each verifier reads its own form only.
    let timestamped = Verifier::timestamped(ALERT_KEY).with_clock(clock.clone());
    let error = timestamped.verify(&sample.header_map(), body).unwrap_err();
    assert_eq!(error.status(), 401, "{error}");
    let mut bare = sample.header_map();
    bare.insert("x-appwrite-webhook-signature", hex.parse().unwrap());
    let error = verifier().verify(&bare, body).unwrap_err();
    assert!(error.to_string().contains("sha256="), "{error}");
    // The seed's form verifies with the timestamped verifier (given the id header it requires).
    bare.insert("x-appwrite-webhook-id", "wh_01".parse().unwrap());
    assert!(timestamped.verify_signature(&bare, body).is_ok());
}

#[tokio::test]
async fn the_inbox_accepts_alerts_once_and_verifies_them_again_as_of_their_arrival() {
    let inbox = Inbox::new(MemoryLedger::default());
    let clock = ManualClock::at(data_now());
    let verifier = Verifier::alert(ALERT_KEY).with_clock(clock.clone());
    let accept = |sample: &SampleAlert| {
        let (parts, body) = sample.signed().into_request().into_parts();
        let (inbox, verifier) = (&inbox, &verifier);
        async move {
            inbox
                .accept(verifier, &parts.uri, &parts.headers, Full::new(body))
                .await
        }
    };
    let paused = alert("webhook-paused");
    let Put::Stored(id) = accept(&paused).await.unwrap() else {
        panic!("stored")
    };
    assert_eq!(accept(&paused).await.unwrap(), Put::Duplicate(id));
    // Unsigned and tampered alerts are refused at the door.
    assert_eq!(accept(&alert("unsigned")).await.unwrap_err().status(), 401);
    let mut tampered = alert("usage-alert-no-project");
    tampered.body = tampered.body.replace("90%", "99%");
    assert_eq!(accept(&tampered).await.unwrap_err().status(), 401);

    // A worker an hour later verifies it again as of when it arrived, and types it.
    clock.advance(Duration::from_secs(3600));
    let stored = inbox.admin().get(id).await.unwrap().expect("held");
    let delivery = verifier.verify_stored(&stored.received).await.unwrap();
    assert!(
        matches!(delivery.event().unwrap(), Event::Alert(a) if a.project.as_deref() == Some("6571d0f5a1b2c3d4e5f6"))
    );
}

/// The CLI embeds its own copy of Appwrite's alert deliveries (for `conformance --scheme alert`;
/// it must be inside the CLI's crate to be packaged): it must be the repository's, byte for
/// byte. (`.ci/run` keeps the repository's copy equal to `../shared`'s.)
#[test]
fn the_clis_alert_data_is_the_repositorys() {
    let ours = std::fs::read(testkit::alerts::alerts_path()).unwrap();
    let cli = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../appwrite-webhooks-cli/data/appwrite-alerts.json");
    assert_eq!(
        std::fs::read(cli).unwrap(),
        ours,
        "the CLI's copy differs from testkit's: run scripts/sync-shared.sh"
    );
}
