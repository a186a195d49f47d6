//! Appwrite's own scheme: `X-Appwrite-Webhook-Signature: base64(HMAC-SHA1(key, url ++ body))`,
//! where `url` is the webhook URL as configured in Appwrite.

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

/// The configured URLs are what the message starts with.
pub(super) fn url_prefixes(urls: &[String]) -> Vec<&[u8]> {
    urls.iter().map(|url| url.as_bytes()).collect()
}

/// The URLs rebuilt from the request, for a verifier that rebuilds them.
pub(super) fn rebuilt_prefixes(urls: &[String]) -> Vec<Vec<u8>> {
    urls.iter().map(|url| url.as_bytes().to_vec()).collect()
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
    use crate::crypto::mac::{Hash, KeyedMac};
    let mut mac = KeyedMac::new(Hash::Sha1, &key.into()).absorbing(url.as_bytes());
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
