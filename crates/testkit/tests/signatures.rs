//! Conformance: the signature vectors and deliveries produced by Appwrite's own PHP code.

use appwrite_webhooks::{Error, SigningKey, Verifier, sign};
use http::{HeaderMap, HeaderValue};
use proptest::prelude::*;
use testkit::{SignatureVector, deliveries, signature_vectors};

const SIGNATURE: &str = "x-appwrite-webhook-signature";

/// Headers carrying only a signature, for verifying a bare vector.
fn signed_headers(signature: &str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(SIGNATURE, HeaderValue::from_str(signature).unwrap());
    for name in [
        "x-appwrite-webhook-id",
        "x-appwrite-webhook-project-id",
        "x-appwrite-webhook-events",
    ] {
        headers.insert(name, HeaderValue::from_static("x"));
    }
    headers
}

/// Whether a verifier for `key` and `url` accepts the signature; no verifier can be made for an
/// empty key, so nothing verifies under one.
fn verifies(key: &[u8], url: &str, body: &[u8], signature: &str) -> bool {
    Verifier::try_new(SigningKey::from(key), url)
        .is_ok_and(|verifier| verifier.verify(&signed_headers(signature), body).is_ok())
}

#[test]
fn every_vector_signs_and_verifies() {
    let vectors = signature_vectors();
    assert_eq!(vectors.len(), 25);
    for v in &vectors {
        assert_eq!(
            sign(v.key.as_slice(), &v.url, &v.body),
            v.signature,
            "{}",
            v.name
        );
        // Appwrite signs with an empty key if it has one; a receiver never accepts that: HMAC
        // with an empty key is public.
        assert_eq!(
            verifies(&v.key, &v.url, &v.body, &v.signature),
            !v.key.is_empty(),
            "{}",
            v.name
        );
    }
}

#[test]
fn every_delivery_verifies_with_its_headers() {
    let all = deliveries();
    assert_eq!(all.len(), 149);
    for d in &all {
        let verifier = Verifier::new(d.signature_key.as_str(), d.url.as_str());
        let delivery = verifier
            .verify(&d.header_map(), d.body.as_bytes())
            .unwrap_or_else(|e| panic!("{}: {e}", d.name));
        assert_eq!(delivery.webhook_id(), d.header("X-Appwrite-Webhook-Id"));
        assert_eq!(
            delivery.project_id(),
            d.header("X-Appwrite-Webhook-Project-Id")
        );
        assert_eq!(
            delivery.webhook_name().unwrap_or(""),
            d.header("X-Appwrite-Webhook-Name")
        );
        assert_eq!(
            delivery.user_id().unwrap_or(""),
            d.header("X-Appwrite-Webhook-User-Id")
        );
        assert_eq!(delivery.events().collect::<Vec<_>>(), d.events());
        assert_eq!(
            delivery.signature().to_string(),
            d.header("X-Appwrite-Webhook-Signature")
        );
        assert_eq!(delivery.body(), d.body.as_bytes());
    }
}

#[test]
fn every_delivery_fails_for_the_url_with_or_without_a_trailing_slash() {
    for d in deliveries() {
        let other = match d.url.strip_suffix('/') {
            Some(without) => without.to_owned(),
            None if d.url.contains('?') => d.url.replacen('?', "/?", 1),
            None => format!("{}/", d.url),
        };
        let verifier = Verifier::new(d.signature_key.as_str(), other.as_str());
        let result = verifier.verify(&d.header_map(), d.body.as_bytes());
        assert!(
            matches!(result, Err(Error::SignatureMismatch)),
            "{} verified for {other}",
            d.name
        );
    }
}

#[test]
fn header_names_are_case_insensitive() {
    // `http` normalises names; a delivery whose header names arrive in any case still verifies.
    let d = &deliveries()[0];
    let mut headers = HeaderMap::new();
    for (name, value) in &d.headers {
        let odd_case: String = name
            .chars()
            .enumerate()
            .map(|(i, c)| {
                if i % 2 == 0 {
                    c.to_ascii_uppercase()
                } else {
                    c.to_ascii_lowercase()
                }
            })
            .collect();
        let name = http::HeaderName::from_bytes(odd_case.as_bytes()).unwrap();
        headers.insert(name, HeaderValue::from_str(value).unwrap());
    }
    assert!(
        Verifier::new(d.signature_key.as_str(), d.url.as_str())
            .verify(&headers, d.body.as_bytes())
            .is_ok()
    );
}

#[test]
fn missing_signature_is_an_error() {
    let d = &deliveries()[0];
    let mut headers = d.header_map();
    headers.remove(SIGNATURE);
    let result =
        Verifier::new(d.signature_key.as_str(), d.url.as_str()).verify(&headers, d.body.as_bytes());
    assert!(matches!(result, Err(Error::MissingSignature)));
}

/// Flips bit `bit` of `bytes` (wrapping over the length); returns false for empty input.
fn flip(bytes: &mut [u8], bit: usize) -> bool {
    if bytes.is_empty() {
        return false;
    }
    let bit = bit % (bytes.len() * 8);
    bytes[bit / 8] ^= 1 << (bit % 8);
    true
}

/// The small vectors (the 1 MiB one makes each case slow without testing anything new).
fn small_vectors() -> Vec<SignatureVector> {
    signature_vectors()
        .into_iter()
        .filter(|v| v.body.len() <= 64 * 1024)
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn any_single_bit_flip_fails(index in any::<prop::sample::Index>(), part in 0..4u8, bit in any::<usize>()) {
        let vectors = small_vectors();
        let v = index.get(&vectors);
        let (mut key, mut url, mut body, mut sig) =
            (v.key.clone(), v.url.clone().into_bytes(), v.body.clone(), v.signature.clone().into_bytes());
        let flipped = match part {
            0 => flip(&mut key, bit),
            1 => flip(&mut url, bit),
            2 => flip(&mut body, bit),
            _ => flip(&mut sig, bit),
        };
        prop_assume!(flipped);
        // A flipped URL or signature may stop being UTF-8 / a header value: that must fail too.
        let url = String::from_utf8_lossy(&url).into_owned();
        let sig = String::from_utf8_lossy(&sig).into_owned();
        let ok = HeaderValue::from_str(&sig).is_ok() && verifies(&key, &url, &body, &sig);
        prop_assert!(!ok, "{} still verified after flipping bit {} of part {}", v.name, bit, part);
    }
}
