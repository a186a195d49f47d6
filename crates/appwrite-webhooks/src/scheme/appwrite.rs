//! Appwrite's own scheme: `X-Appwrite-Webhook-Signature: base64(HMAC-SHA1(key, url ++ body))`,
//! where `url` is the webhook URL as configured in Appwrite — or, in every release up to and
//! including 1.9.6, `rawurldecode` of it (`src/Appwrite/Platform/Workers/Webhooks.php`; the
//! unreleased main branch signs it as typed, PR #13196). The two differ only when the URL holds a
//! `%` escape, so only such a URL costs a second MAC, and the body is still read once.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use http::{HeaderMap, HeaderName};

use crate::crypto::signature::{Form, Signature};
use crate::error::{Error, MalformedSignature};
use crate::headers::{
    DeliveryHeaders, WEBHOOK_EVENTS, WEBHOOK_ID, WEBHOOK_NAME, WEBHOOK_PROJECT_ID,
    WEBHOOK_SIGNATURE, WEBHOOK_USER_ID, optional, required,
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
pub(super) fn parse_headers(headers: &HeaderMap) -> Result<DeliveryHeaders, Error> {
    Ok(DeliveryHeaders {
        timestamp: None,
        webhook_id: required(headers, &WEBHOOK_ID)?,
        webhook_name: optional(headers, &WEBHOOK_NAME)?,
        project_id: required(headers, &WEBHOOK_PROJECT_ID)?,
        user_id: optional(headers, &WEBHOOK_USER_ID)?,
        events: required(headers, &WEBHOOK_EVENTS)?,
    })
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
    vec![
        (WEBHOOK_ID, out.webhook_id.to_owned()),
        (WEBHOOK_EVENTS, out.events.to_owned()),
        (WEBHOOK_NAME, out.webhook_name.to_owned()),
        (WEBHOOK_USER_ID, out.user_id.to_owned()),
        (WEBHOOK_PROJECT_ID, out.project_id.to_owned()),
        (SIGNATURE, sign(out.key, out.url, out.body)),
    ]
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
        // From ../shared/appwrite/signature-vectors.json, "empty body".
        assert_eq!(
            sign("secret", "https://example.com/hook", b""),
            "73HVjq6EFDqxMRzMDoRH96HHWAM="
        );
    }
}
