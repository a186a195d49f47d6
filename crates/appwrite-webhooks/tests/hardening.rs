//! Hardening: arbitrary input never panics, and nothing verifies without the key.
//!
//! The property tests feed arbitrary bytes to every parser that sees attacker-controlled input
//! (headers, event names, patterns, bodies). The fuzz-style tests run thousands of random
//! requests — random header maps, random bodies, and random mutations of real deliveries —
//! through `Verifier::verify`, the streaming path and the typed-event parser.

use std::sync::LazyLock;

use appwrite_webhooks::{Error, EventName, Pattern, Scheme, Signature, Verifier};
use bytes::Bytes;
use futures_util::FutureExt as _;
use http::{HeaderMap, HeaderName, HeaderValue};
use proptest::prelude::*;
use testkit::{SampleDelivery, deliveries};

static DELIVERIES: LazyLock<Vec<SampleDelivery>> = LazyLock::new(deliveries);

const APPWRITE_HEADERS: [&str; 6] = [
    "x-appwrite-webhook-id",
    "x-appwrite-webhook-events",
    "x-appwrite-webhook-name",
    "x-appwrite-webhook-user-id",
    "x-appwrite-webhook-project-id",
    "x-appwrite-webhook-signature",
];

/// A header map from arbitrary (name, value) pairs: names drawn from Appwrite's headers (so the
/// parser is reached) and arbitrary tokens; values arbitrary bytes that `http` accepts.
fn header_maps() -> impl Strategy<Value = HeaderMap> {
    let name = prop_oneof![
        3 => proptest::sample::select(APPWRITE_HEADERS.to_vec()).prop_map(str::to_owned),
        1 => "[a-zA-Z0-9-]{1,24}",
    ];
    let value = proptest::collection::vec(any::<u8>(), 0..64);
    proptest::collection::vec((name, value), 0..12).prop_map(|pairs| {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            let Ok(name) = HeaderName::from_bytes(name.as_bytes()) else {
                continue;
            };
            if let Ok(value) = HeaderValue::from_bytes(&value) {
                headers.append(name, value);
            }
        }
        headers
    })
}

/// A verifier for a key the generators never produce.
fn verifier(url: &str) -> Verifier {
    Verifier::new("k-9f2c1e7b-not-in-any-input", url)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(10_000))]

    /// Random header maps and bodies: never a panic, never a success.
    #[test]
    fn random_requests_never_verify(headers in header_maps(), body in proptest::collection::vec(any::<u8>(), 0..512)) {
        let verifier = verifier("https://example.com/hook");
        let result = verifier.verify(&headers, &body);
        prop_assert!(result.is_err(), "verified without the key: {headers:?}");
        // The streaming path agrees with the one-shot path on every input.
        let chunks = body
            .chunks(7)
            .map(|chunk| Ok::<_, std::convert::Infallible>(http_body::Frame::data(Bytes::copy_from_slice(chunk))))
            .collect::<Vec<_>>();
        let stream = http_body_util::StreamBody::new(futures_util::stream::iter(chunks));
        // The body is all there: the future completes on its first poll.
        let streamed = verifier
            .extract::<appwrite_webhooks::Delivery, _>(&"/hook".parse().unwrap(), &headers, stream)
            .now_or_never()
            .expect("a body that is all there verifies at once");
        prop_assert!(streamed.is_err());
    }

    /// A real delivery with a random well-formed signature (20 bytes, base64): the odds of a
    /// match are 2^-160; any success is a bug.
    #[test]
    fn random_signatures_never_verify(index in 0usize..149, tag in any::<[u8; 20]>()) {
        let sample = &DELIVERIES[index];
        let mut headers = sample.header_map();
        let forged = base64_encode(&tag);
        prop_assume!(forged != sample.header("X-Appwrite-Webhook-Signature"));
        headers.insert("x-appwrite-webhook-signature", HeaderValue::from_str(&forged).unwrap());
        let result = Verifier::new(sample.signature_key.as_str(), sample.url.as_str())
            .verify(&headers, sample.body.as_bytes());
        prop_assert!(matches!(result, Err(Error::SignatureMismatch)));
    }

    /// A real delivery with random bytes overwritten in its body: rejected, unless the bytes
    /// happen to be the same.
    #[test]
    fn mutated_bodies_never_verify(index in 0usize..149, at in any::<prop::sample::Index>(), bytes in proptest::collection::vec(any::<u8>(), 1..8)) {
        let sample = &DELIVERIES[index];
        let mut body = sample.body.as_bytes().to_vec();
        let start = at.index(body.len());
        let end = (start + bytes.len()).min(body.len());
        body[start..end].copy_from_slice(&bytes[..end - start]);
        prop_assume!(body != sample.body.as_bytes());
        let result = Verifier::new(sample.signature_key.as_str(), sample.url.as_str())
            .verify(&sample.header_map(), &body);
        prop_assert!(matches!(result, Err(Error::SignatureMismatch)));
    }

    /// Signature header values of any bytes: parsed or rejected with a reason, never a panic.
    #[test]
    fn signature_header_parsing_never_panics(value in proptest::collection::vec(any::<u8>(), 0..80)) {
        match Signature::parse(Scheme::Appwrite, &value) {
            // Only canonical 28-character base64 of 20 bytes is accepted.
            Ok(signature) => prop_assert_eq!(signature.to_string().into_bytes(), value),
            Err(reason) => prop_assert!(!reason.to_string().is_empty()),
        }
    }

    /// Event names of any text: parsed or rejected, and a parsed name expands and matches
    /// itself as a pattern.
    #[test]
    fn event_name_parsing_never_panics(name in "\\PC{0,80}") {
        if let Ok(event) = EventName::parse(&name) {
            let expanded = event.expand();
            prop_assert!(expanded.contains(&event.to_string()));
            let own = Pattern::parse(&name).expect("a valid event name is a valid pattern");
            prop_assert!(own.matches(&event));
        }
    }

    /// Dotted names built from a small alphabet reach deep into the parser's cases (ids,
    /// wildcards, empty segments, actions, attributes).
    #[test]
    fn dotted_names_and_patterns_never_panic(
        name in proptest::collection::vec(prop_oneof!["users", "databases", "tables", "rows", "collections", "documents", "create", "update", "delete", "email", "\\*", "[a-z0-9]{0,3}"], 0..10),
        pattern in proptest::collection::vec(prop_oneof!["users", "databases", "tables", "rows", "collections", "documents", "create", "update", "\\*", "[a-z0-9]{0,3}"], 0..10),
    ) {
        let name = name.join(".");
        let pattern = pattern.join(".");
        if let (Ok(event), Ok(pattern)) = (EventName::parse(&name), Pattern::parse(&pattern)) {
            // `matches` is membership in the expansion, whichever way it is computed.
            prop_assert_eq!(pattern.matches(&event), pattern.matches_expanded(&event.expand()));
        }
    }

    /// Arbitrary bodies behind a valid signature: the typed parser answers with an event or a
    /// 400, never a panic.
    #[test]
    fn typed_parsing_of_signed_garbage_never_panics(index in 0usize..149, body in proptest::collection::vec(any::<u8>(), 0..256)) {
        let sample = &DELIVERIES[index];
        let signature = appwrite_webhooks::sign(sample.signature_key.as_str(), &sample.url, &body);
        let mut headers = sample.header_map();
        headers.insert("x-appwrite-webhook-signature", HeaderValue::from_str(&signature).unwrap());
        let verifier = Verifier::new(sample.signature_key.as_str(), sample.url.as_str());
        let delivery = verifier.verify(&headers, &body).expect("signed with the key");
        if let Err(error) = delivery.event() {
            prop_assert_eq!(error.status(), http::StatusCode::BAD_REQUEST);
        }
    }
}

fn base64_encode(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}
