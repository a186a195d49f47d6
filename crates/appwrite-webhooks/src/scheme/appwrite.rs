//! Appwrite's own scheme: `X-Appwrite-Webhook-Signature: base64(HMAC-SHA1(key, url ++ body))`,
//! where `url` is the webhook URL as configured in Appwrite — or, in every release up to and
//! including 1.9.6, `rawurldecode` of it (`src/Appwrite/Platform/Workers/Webhooks.php`; the
//! unreleased main branch signs it as typed, PR #13196). The two differ only when the URL holds a
//! `%` escape, so only such a URL costs a second MAC, and the body is still read once.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use http::HeaderName;

use crate::crypto::signature::{Form, Signature};
use crate::error::{Error, MalformedSignature};
use crate::fingerprint::Fingerprint;
use crate::headers::{
    DeliveryHeaders, Scanned, WEBHOOK_EVENTS, WEBHOOK_ID, WEBHOOK_NAME, WEBHOOK_PROJECT_ID,
    WEBHOOK_SIGNATURE, WEBHOOK_USER_ID, delivery_id, optional, required,
};

pub(super) const SIGNATURE: HeaderName = WEBHOOK_SIGNATURE;

/// Length of an HMAC-SHA1 tag in bytes.
const TAG_LEN: usize = 20;

/// Standard base64 with padding, exactly 20 bytes once decoded.
pub(super) fn parse_signature(value: &[u8]) -> Result<Signature, MalformedSignature> {
    // Base64 of 20 bytes is 28 characters; judge anything else by its length before decoding
    // more than a few bytes, so a hostile header cannot make us allocate.
    if value.len() != 28 {
        return match STANDARD.decode(value) {
            Ok(bytes) if value.len() <= 64 => Err(MalformedSignature::WrongLength(bytes.len())),
            _ if value.len() > 64 => Err(MalformedSignature::WrongLength(value.len() * 3 / 4)),
            _ => Err(MalformedSignature::NotBase64),
        };
    }
    let mut tag = [0u8; TAG_LEN];
    match STANDARD.decode_slice(value, &mut tag) {
        Ok(TAG_LEN) => Ok(Signature::from_tag(&tag, Form::Base64)),
        Ok(n) => Err(MalformedSignature::WrongLength(n)),
        Err(_) => Err(MalformedSignature::NotBase64),
    }
}

/// What a message may start with for these URLs (configured, or rebuilt from the request):
/// each URL as typed, and — where it holds a `%` escape — the `rawurldecode` form released
/// Appwrite signs.
pub(super) fn url_prefixes(urls: &[String]) -> Vec<Vec<u8>> {
    let mut prefixes: Vec<Vec<u8>> = Vec::with_capacity(urls.len());
    for url in urls {
        for prefix in [url.as_bytes().to_vec(), rawurldecode(url).into_owned()] {
            if !prefixes.contains(&prefix) {
                prefixes.push(prefix);
            }
        }
    }
    prefixes
}

/// PHP's `rawurldecode`, which every Appwrite release up to 1.9.6 applies to the webhook URL
/// before signing: each `%XX` with two hex digits (either case) becomes that byte; `+` stays a
/// `+` (unlike form decoding) and a `%` without two hex digits stays as it is. The result is
/// bytes: `%FF` is not UTF-8.
///
/// ```
/// use appwrite_webhooks::rawurldecode;
/// assert_eq!(&*rawurldecode("https://x/%7Eacme?tenant=acme%2Beu+x"), b"https://x/~acme?tenant=acme+eu+x");
/// assert_eq!(&*rawurldecode("https://x/100%"), b"https://x/100%");
/// ```
pub fn rawurldecode(url: &str) -> std::borrow::Cow<'_, [u8]> {
    let bytes = url.as_bytes();
    if !bytes.contains(&b'%') {
        return std::borrow::Cow::Borrowed(bytes);
    }
    let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(&[high, low]) = bytes.get(i + 1..i + 3)
            && let (Some(high), Some(low)) = (hex(high), hex(low))
        {
            out.push(high << 4 | low);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    std::borrow::Cow::Owned(out)
}

/// Appwrite always sends the id, project and events headers; name and user may be empty.
pub(super) fn parse_headers(headers: &Scanned<'_>) -> Result<DeliveryHeaders, Error> {
    Ok(DeliveryHeaders {
        timestamp: None,
        webhook_id: required(headers, &WEBHOOK_ID)?,
        webhook_name: optional(headers, &WEBHOOK_NAME)?,
        project_id: required(headers, &WEBHOOK_PROJECT_ID)?,
        user_id: optional(headers, &WEBHOOK_USER_ID)?,
        events: required(headers, &WEBHOOK_EVENTS)?,
        delivery_id: delivery_id(headers)?,
    })
}

/// Appwrite's identity of a delivery: the first [`Fingerprint::BODY_KEY_PREFIX`] bytes of the
/// [`body_key`], then the first 16 bytes of SHA-256 over the signature and its label — the
/// delivery id when the server sends one, else the events header as sent. The signature is an
/// HMAC over URL and body under the verifying key, so the identity is keyed too and tells a
/// reader of a shared store nothing about payloads; the label's kind is part of the hash, so an
/// id can never equal an events header.
///
/// The body key comes first so that a body's labels sit next to each other in an ordered
/// index: a store can count them among the identities it holds, with no second index keyed
/// by body (the SQLite ledger does; a second randomly keyed index cost it 40 % of its
/// throughput, BENCHMARKS.md). 16 bytes of each half keep collisions out of reach.
pub(super) fn fingerprint(
    signature: &Signature,
    meta: &DeliveryHeaders,
    body_key: &Fingerprint,
) -> Fingerprint {
    use sha2::Digest as _;
    let (kind, label) = match &meta.delivery_id {
        Some(id) => (b'd', id.as_str()),
        None => (b'e', meta.events.as_str()),
    };
    let mut hash = sha2::Sha256::new();
    hash.update(b"appwrite\0");
    hash.update(signature.as_bytes());
    hash.update([kind]);
    hash.update(label.as_bytes());
    let mut identity = [0; Fingerprint::MAX_LEN];
    let (body, labelled) = identity.split_at_mut(Fingerprint::BODY_KEY_PREFIX);
    body.copy_from_slice(&body_key.as_bytes()[..Fingerprint::BODY_KEY_PREFIX]);
    labelled
        .copy_from_slice(&hash.finalize()[..Fingerprint::MAX_LEN - Fingerprint::BODY_KEY_PREFIX]);
    Fingerprint::new(&identity)
}

/// The signed body's key, for counting its labels: SHA-256 of the signature (keyed by it, as
/// the identity is), never the signature itself in a shared store.
pub(super) fn body_key(signature: &Signature) -> Fingerprint {
    use sha2::Digest as _;
    let mut hash = sha2::Sha256::new();
    hash.update(b"appwrite body\0");
    hash.update(signature.as_bytes());
    Fingerprint::new(&hash.finalize())
}

/// Computes the signature Appwrite sends for `body` posted to `url`.
///
/// `url` is the webhook URL exactly as configured in Appwrite; the HMAC runs over the URL's bytes
/// immediately followed by the raw body's bytes, with no separator. The result is standard base64
/// with padding (28 characters), the value of `X-Appwrite-Webhook-Signature`.
///
/// ```
/// let sig = appwrite_webhooks::sign("secret", "https://example.com/hook", br#"{"a":1}"#);
/// assert_eq!(sig.len(), 28);
/// ```
#[cfg(feature = "sender")]
pub fn sign(key: impl Into<crate::crypto::key::SigningKey>, url: &str, body: &[u8]) -> String {
    sign_over(key.into(), url.as_bytes(), body)
}

/// The signature released Appwrite (every version up to and including 1.9.6) sends: over
/// [`rawurldecode`]`(url)` ++ body, while it posts to `url` as typed. The same as [`sign`] for a
/// URL without `%` escapes.
///
/// ```
/// use appwrite_webhooks::{sign, sign_rawurldecoded};
/// let url = "https://example.com/hook?tenant=acme%2Beu";
/// assert_eq!(sign_rawurldecoded("k", url, b"{}"), sign("k", "https://example.com/hook?tenant=acme+eu", b"{}"));
/// ```
#[cfg(feature = "sender")]
pub fn sign_rawurldecoded(
    key: impl Into<crate::crypto::key::SigningKey>,
    url: &str,
    body: &[u8],
) -> String {
    sign_over(key.into(), &rawurldecode(url), body)
}

#[cfg(feature = "sender")]
fn sign_over(key: crate::crypto::key::SigningKey, url: &[u8], body: &[u8]) -> String {
    use crate::crypto::mac::{Hash, KeyedMac};
    let mut mac = KeyedMac::new(Hash::Sha1, &key).absorbing(url);
    mac.update(body);
    STANDARD.encode(mac.finalize())
}

/// Every header Appwrite sends, in its order.
#[cfg(feature = "sender")]
pub(super) fn signed_headers(out: &super::Outgoing<'_>) -> Vec<(HeaderName, String)> {
    let mut headers = vec![
        (WEBHOOK_ID, out.webhook_id.to_owned()),
        (WEBHOOK_EVENTS, out.events.to_owned()),
        (WEBHOOK_NAME, out.webhook_name.to_owned()),
        (WEBHOOK_USER_ID, out.user_id.to_owned()),
        (WEBHOOK_PROJECT_ID, out.project_id.to_owned()),
    ];
    if let Some(id) = out.delivery_id {
        headers.push((crate::headers::WEBHOOK_DELIVERY_ID, id.to_owned()));
    }
    headers.push((SIGNATURE, sign(out.key, out.url, out.body)));
    headers
}

#[cfg(test)]
mod tests {
    use super::*;

    fn malformed(value: &str) -> MalformedSignature {
        match parse_signature(value.as_bytes()) {
            Ok(_) => panic!("{value} parsed"),
            Err(e) => e,
        }
    }

    #[test]
    fn malformed_values_say_why() {
        assert_eq!(malformed("abc"), MalformedSignature::NotBase64);
        assert_eq!(malformed("AAAA"), MalformedSignature::WrongLength(3));
        assert_eq!(
            malformed("%%%%%%%%%%%%%%%%%%%%%%%%%%%="),
            MalformedSignature::NotBase64
        );
        assert!(matches!(
            malformed(&"A".repeat(10_000)),
            MalformedSignature::WrongLength(_)
        ));
        // 28 characters that decode to fewer than 20 bytes.
        assert_eq!(
            malformed("AAAAAAAAAAAAAAAAAAAAAAAAAA=="),
            MalformedSignature::WrongLength(19)
        );
    }

    #[cfg(feature = "sender")]
    #[test]
    fn known_vector() {
        // From Appwrite's signature-vectors.json (crates/testkit/data/appwrite/), "empty body".
        assert_eq!(
            sign("secret", "https://example.com/hook", b""),
            "73HVjq6EFDqxMRzMDoRH96HHWAM="
        );
    }

    #[cfg(feature = "sender")]
    mod identity {
        use crate::sender::{DeliveryBuilder, SignedDelivery};
        use crate::{Error, Fingerprint, Verifier};

        const URL: &str = "https://example.com/hook";
        const BODY: &str = r#"{"$id":"u1","name":"Ada"}"#;

        fn sent(events: &str, delivery_id: Option<&str>) -> SignedDelivery {
            let builder = DeliveryBuilder::new("k", URL, BODY).events([events]);
            match delivery_id {
                Some(id) => builder.delivery_id(id),
                None => builder,
            }
            .build()
        }

        fn identity(sent: &SignedDelivery) -> Result<Fingerprint, Error> {
            let verifier = Verifier::new("k", URL);
            Ok(*verifier.verify(sent.headers(), sent.body())?.fingerprint())
        }

        #[test]
        fn without_delivery_ids_the_events_header_tells_deliveries_apart() {
            let created = identity(&sent("users.u1.create", None)).unwrap();
            let deleted = identity(&sent("users.u1.delete", None)).unwrap();
            assert_ne!(
                created, deleted,
                "one body under two events is two deliveries"
            );
            assert_eq!(created, identity(&sent("users.u1.create", None)).unwrap());
        }

        #[test]
        fn a_delivery_id_decides_whatever_the_events_header_says() {
            let first = identity(&sent("users.u1.create", Some("d1"))).unwrap();
            assert_eq!(
                first,
                identity(&sent("users.u1.create", Some("d1"))).unwrap()
            );
            assert_eq!(
                first,
                identity(&sent("users.u1.delete", Some("d1"))).unwrap()
            );
            assert_ne!(
                first,
                identity(&sent("users.u1.create", Some("d2"))).unwrap()
            );
            // An id never collides with an events header of the same text.
            assert_ne!(
                identity(&sent("d1", None)).unwrap(),
                identity(&sent("users.u1.create", Some("d1"))).unwrap()
            );
        }

        /// What lets a ledger count a body's labels among the identities it holds: every label
        /// of one body begins with that body's key, and another body's do not.
        #[test]
        fn an_identity_begins_with_its_body_key() {
            let verifier = Verifier::new("k", URL);
            let body_key = |sent: &SignedDelivery| {
                let delivery = verifier.verify(sent.headers(), sent.body()).unwrap();
                delivery.body_key().unwrap()
            };
            let created = sent("users.u1.create", None);
            let key = body_key(&created);
            for sent in [&created, &sent("users.u1.delete", Some("d9"))] {
                assert_eq!(body_key(sent), key, "one body, one key");
                assert!(identity(sent).unwrap().carries_body_key(&key));
            }
            let other = DeliveryBuilder::new("k", URL, r#"{"$id":"u2"}"#)
                .events(["users.u2.create"])
                .build();
            assert!(!identity(&other).unwrap().carries_body_key(&key));
        }

        #[test]
        fn identities_are_keyed_by_the_signature() {
            let other_key = DeliveryBuilder::new("k2", URL, BODY)
                .events(["users.u1.create"])
                .build();
            let verifier = Verifier::new("k", URL).with_key("k2");
            let theirs = *verifier
                .verify(other_key.headers(), other_key.body())
                .unwrap()
                .fingerprint();
            assert_ne!(theirs, identity(&sent("users.u1.create", None)).unwrap());
        }

        #[test]
        fn a_malformed_delivery_id_is_a_clear_400_and_an_empty_one_is_absent() {
            for bad in ["has space", "tab\there", "é", &"x".repeat(129)] {
                let mut request = sent("users.u1.create", None);
                let (url, mut headers, body) = request.into_parts();
                headers.insert(
                    crate::headers::WEBHOOK_DELIVERY_ID,
                    http::HeaderValue::from_bytes(bad.as_bytes()).unwrap(),
                );
                request = SignedDelivery::from_parts(url, headers, body);
                let error = identity(&request).unwrap_err();
                assert_eq!(error.status(), 400, "{bad:?}: {error}");
                assert!(error.to_string().contains("X-Appwrite-Webhook-Delivery-Id"));
            }
            let longest = "x".repeat(128);
            assert!(identity(&sent("users.u1.create", Some(&longest))).is_ok());
            assert_eq!(
                identity(&sent("users.u1.create", Some(""))).unwrap(),
                identity(&sent("users.u1.create", None)).unwrap()
            );
            // Repeated: which one did Appwrite send?
            let (url, mut headers, body) = sent("users.u1.create", Some("d1")).into_parts();
            headers.append(
                crate::headers::WEBHOOK_DELIVERY_ID,
                http::HeaderValue::from_static("d2"),
            );
            let repeated = SignedDelivery::from_parts(url, headers, body);
            assert_eq!(identity(&repeated).unwrap_err().status(), 400);
        }

        #[test]
        fn a_forgery_with_a_malformed_delivery_id_is_still_a_401() {
            let (url, mut headers, body) = sent("users.u1.create", Some("bad id")).into_parts();
            headers.insert(
                crate::headers::WEBHOOK_SIGNATURE,
                http::HeaderValue::from_static("AAAAAAAAAAAAAAAAAAAAAAAAAAA="),
            );
            let forged = SignedDelivery::from_parts(url, headers, body);
            assert_eq!(identity(&forged).unwrap_err().status(), 401);
        }
    }
}
