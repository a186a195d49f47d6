//! Names of the headers Appwrite sends with a delivery, and those of the opt-in
//! [`Scheme`](crate::Scheme)s.
//!
//! Header names are case-insensitive on the wire; `http` stores them lower-case, so these
//! constants match whatever case the sender used.

use http::{HeaderMap, HeaderName, HeaderValue};

use crate::error::Error;

/// `X-Appwrite-Webhook-Id`: the webhook's id.
pub const WEBHOOK_ID: HeaderName = HeaderName::from_static("x-appwrite-webhook-id");
/// `X-Appwrite-Webhook-Events`: every expanded event name, joined with `,`.
pub const WEBHOOK_EVENTS: HeaderName = HeaderName::from_static("x-appwrite-webhook-events");
/// `X-Appwrite-Webhook-Name`: the webhook's name (may be empty).
pub const WEBHOOK_NAME: HeaderName = HeaderName::from_static("x-appwrite-webhook-name");
/// `X-Appwrite-Webhook-User-Id`: the user who triggered the event, empty for API keys and guests.
pub const WEBHOOK_USER_ID: HeaderName = HeaderName::from_static("x-appwrite-webhook-user-id");
/// `X-Appwrite-Webhook-Project-Id`: the project id.
pub const WEBHOOK_PROJECT_ID: HeaderName = HeaderName::from_static("x-appwrite-webhook-project-id");
/// `X-Appwrite-Webhook-Signature`: `base64(HMAC-SHA1(key, url ++ body))`.
pub const WEBHOOK_SIGNATURE: HeaderName = HeaderName::from_static("x-appwrite-webhook-signature");
/// `X-Appwrite-Webhook-Delivery-Id`: one id per event and webhook, repeated by Appwrite's own
/// redeliveries of that delivery (Appwrite after 1.9.6; absent from older servers). Not signed.
pub const WEBHOOK_DELIVERY_ID: HeaderName =
    HeaderName::from_static("x-appwrite-webhook-delivery-id");
/// `X-Appwrite-Webhook-Timestamp`: unix seconds, [`Scheme::Timestamped`](crate::Scheme::Timestamped) only.
pub const WEBHOOK_TIMESTAMP: HeaderName = HeaderName::from_static("x-appwrite-webhook-timestamp");

/// `X-Webhook-Id`: the webhook's id, [`Scheme::Generic`](crate::Scheme::Generic).
pub const GENERIC_ID: HeaderName = HeaderName::from_static("x-webhook-id");
/// `X-Webhook-Event`: the event type (`user.created`), [`Scheme::Generic`](crate::Scheme::Generic).
pub const GENERIC_EVENT: HeaderName = HeaderName::from_static("x-webhook-event");
/// `X-Webhook-Signature`: `sha256=<hex>`, [`Scheme::Generic`](crate::Scheme::Generic).
pub const GENERIC_SIGNATURE: HeaderName = HeaderName::from_static("x-webhook-signature");

/// The display spelling of each header, used in error messages.
fn display_name(name: &HeaderName) -> &'static str {
    match name.as_str() {
        "x-appwrite-webhook-id" => "X-Appwrite-Webhook-Id",
        "x-appwrite-webhook-events" => "X-Appwrite-Webhook-Events",
        "x-appwrite-webhook-name" => "X-Appwrite-Webhook-Name",
        "x-appwrite-webhook-user-id" => "X-Appwrite-Webhook-User-Id",
        "x-appwrite-webhook-project-id" => "X-Appwrite-Webhook-Project-Id",
        "x-appwrite-webhook-signature" => "X-Appwrite-Webhook-Signature",
        "x-appwrite-webhook-timestamp" => "X-Appwrite-Webhook-Timestamp",
        "x-appwrite-webhook-delivery-id" => "X-Appwrite-Webhook-Delivery-Id",
        "x-webhook-id" => "X-Webhook-Id",
        "x-webhook-event" => "X-Webhook-Event",
        "x-webhook-signature" => "X-Webhook-Signature",
        _ => "unknown",
    }
}

/// The headers of one request, parsed once by its scheme. The values stay the request's own
/// bytes ([`Text`]): parsing them copies and allocates nothing.
#[derive(Clone, Debug)]
pub(crate) struct DeliveryHeaders {
    pub(crate) timestamp: Option<u64>,
    pub(crate) webhook_id: Text,
    pub(crate) webhook_name: Option<Text>,
    pub(crate) project_id: Text,
    pub(crate) user_id: Option<Text>,
    pub(crate) events: Text,
    /// Appwrite's delivery id, when the server sends one.
    pub(crate) delivery_id: Option<Text>,
}

/// A header's value as text: the request's own bytes, checked to be UTF-8 when the header was
/// parsed (a `HeaderValue` clone shares them, it does not copy), or text of our own (an
/// envelope's signed event name, an empty default).
#[derive(Clone, Default)]
pub(crate) enum Text {
    /// Checked to be UTF-8 when made ([`Text::header`]).
    Header(HeaderValue),
    #[default]
    Empty,
    Owned(String),
}

impl Text {
    /// The value of a header as text, if it is UTF-8.
    fn header(value: &HeaderValue) -> Option<Self> {
        let bytes = value.as_bytes();
        // Appwrite's headers are ASCII: the inlined word-at-a-time check answers them without
        // the general validator's call.
        (bytes.is_ascii() || std::str::from_utf8(bytes).is_ok())
            .then(|| Self::Header(value.clone()))
    }

    pub(crate) fn as_str(&self) -> &str {
        match self {
            // Checked when made, so never the empty fallback.
            Self::Header(value) => std::str::from_utf8(value.as_bytes()).unwrap_or_default(),
            Self::Empty => "",
            Self::Owned(text) => text,
        }
    }
}

impl From<String> for Text {
    fn from(text: String) -> Self {
        Self::Owned(text)
    }
}

impl std::fmt::Debug for Text {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self.as_str(), f)
    }
}

/// The headers the schemes read, found in one pass over a request's header map instead of one
/// hashed lookup per name: the first value of each, and whether it was repeated. Names it does
/// not track are looked up in the map.
pub(crate) struct Scanned<'h> {
    headers: &'h HeaderMap,
    found: [Found<'h>; TRACKED],
}

#[derive(Clone, Copy, Default)]
struct Found<'h> {
    first: Option<&'h HeaderValue>,
    repeated: bool,
}

/// How many names a scan keeps ([`tracked`]): every name a scheme reads, and `Content-Length`.
const TRACKED: usize = 12;

/// The slot of a tracked name: one `match`, which compiles to a jump on the length and one
/// comparison, not a search.
#[inline]
fn tracked(name: &str) -> Option<usize> {
    Some(match name {
        "x-appwrite-webhook-id" => 0,
        "x-appwrite-webhook-events" => 1,
        "x-appwrite-webhook-name" => 2,
        "x-appwrite-webhook-user-id" => 3,
        "x-appwrite-webhook-project-id" => 4,
        "x-appwrite-webhook-signature" => 5,
        "x-appwrite-webhook-delivery-id" => 6,
        "x-appwrite-webhook-timestamp" => 7,
        "x-webhook-id" => 8,
        "x-webhook-event" => 9,
        "x-webhook-signature" => 10,
        "content-length" => 11,
        _ => return None,
    })
}

impl<'h> Scanned<'h> {
    pub(crate) fn new(headers: &'h HeaderMap) -> Self {
        let mut found = [Found::default(); TRACKED];
        for (name, value) in headers {
            if let Some(slot) = tracked(name.as_str()) {
                let found = &mut found[slot];
                match found.first {
                    None => found.first = Some(value),
                    Some(_) => found.repeated = true,
                }
            }
        }
        Self { headers, found }
    }

    /// The map scanned.
    pub(crate) fn map(&self) -> &'h HeaderMap {
        self.headers
    }

    /// The first value of `name`, if any: `Content-Length`'s reading.
    pub(crate) fn get(&self, name: &HeaderName) -> Option<&'h HeaderValue> {
        match tracked(name.as_str()) {
            Some(slot) => self.found[slot].first,
            None => self.headers.get(name),
        }
    }

    /// The one value of `name`: `Ok(None)` when absent, `Err(())` when repeated.
    #[inline]
    pub(crate) fn one(&self, name: &HeaderName) -> Result<Option<&'h HeaderValue>, Repeated> {
        let found = match tracked(name.as_str()) {
            Some(slot) => self.found[slot],
            None => {
                let mut values = self.headers.get_all(name).iter();
                Found {
                    first: values.next(),
                    repeated: values.next().is_some(),
                }
            }
        };
        match found.repeated {
            true => Err(Repeated),
            false => Ok(found.first),
        }
    }
}

/// A header sent more than once where one value is expected.
#[derive(Debug)]
pub(crate) struct Repeated;

/// A header the scheme requires: present once, UTF-8 (webhook names can hold any text).
#[inline]
pub(crate) fn required(headers: &Scanned<'_>, name: &HeaderName) -> Result<Text, Error> {
    let value = single(headers, name)?.ok_or_else(|| Error::MissingHeader(display_name(name)))?;
    text(name, value)
}

/// A header that may be absent; Appwrite sends an empty value where there is none, and both
/// mean `None` here (checked on the bytes, before they are made text).
#[inline]
pub(crate) fn optional(headers: &Scanned<'_>, name: &HeaderName) -> Result<Option<Text>, Error> {
    single(headers, name)?
        .filter(|value| !value.is_empty())
        .map(|value| text(name, value))
        .transpose()
}

/// The one value of a header, or `None` if absent; repeated is an error.
#[inline]
fn single<'h>(headers: &Scanned<'h>, name: &HeaderName) -> Result<Option<&'h HeaderValue>, Error> {
    headers.one(name).map_err(|Repeated| Error::InvalidHeader {
        name: display_name(name),
        reason: "repeated",
    })
}

/// `name`'s value as text; not UTF-8 is an error.
#[inline]
fn text(name: &HeaderName, value: &HeaderValue) -> Result<Text, Error> {
    Text::header(value).ok_or_else(|| Error::InvalidHeader {
        name: display_name(name),
        reason: "not UTF-8",
    })
}

/// The longest delivery id accepted. Appwrite's format is not documented (ids of 20 to 36
/// characters today); anything past this is refused unread.
pub const MAX_DELIVERY_ID_LEN: usize = 128;

/// `X-Appwrite-Webhook-Delivery-Id`: absent or empty is `None` (older servers); present, it must
/// be 1 to [`MAX_DELIVERY_ID_LEN`] visible ASCII characters, or the request is malformed (400).
/// It is opaque: nothing but equality is read from it.
pub(crate) fn delivery_id(headers: &Scanned<'_>) -> Result<Option<Text>, Error> {
    let Some(value) = single(headers, &WEBHOOK_DELIVERY_ID)? else {
        return Ok(None);
    };
    let id = value.as_bytes();
    if id.is_empty() {
        return Ok(None);
    }
    if id.len() > MAX_DELIVERY_ID_LEN || !id.iter().all(|b| b.is_ascii_graphic()) {
        return Err(Error::InvalidHeader {
            name: display_name(&WEBHOOK_DELIVERY_ID),
            reason: "not 1 to 128 visible ASCII characters",
        });
    }
    // Visible ASCII is UTF-8.
    Ok(Text::header(value))
}

/// Appwrite ids: at most 36 of `a-z A-Z 0-9 . - _`. Anything longer is refused unread, with
/// room to spare.
const MAX_ID_LEN: usize = 64;

/// Whether `id` can be an Appwrite id (or is empty): at most [`MAX_ID_LEN`] of
/// `a-z A-Z 0-9 . - _`.
pub(crate) fn is_appwrite_id(id: &str) -> bool {
    id.len() <= MAX_ID_LEN
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
}

/// The id an (unsigned) header claims: `""` when the header is absent, `None` when it is present
/// but cannot be an Appwrite id (not text, too long, other characters).
pub(crate) fn claimed_id(value: Option<&HeaderValue>) -> Option<&str> {
    match value {
        None => Some(""),
        Some(value) => value.to_str().ok().filter(|id| is_appwrite_id(id)),
    }
}

#[cfg(test)]
mod claimed_tests {
    use super::*;

    #[test]
    fn claimed_ids_are_appwrite_ids_or_absent() {
        let value = |v: &str| HeaderValue::from_str(v).unwrap();
        assert_eq!(claimed_id(None), Some(""));
        for id in ["6650a1b2c3d4e5f6a7b8", "my-project_1.x"] {
            assert_eq!(claimed_id(Some(&value(id))), Some(id));
        }
        for hostile in ["a b", "w*1", "../etc", &"w".repeat(65)] {
            assert_eq!(claimed_id(Some(&value(hostile))), None, "{hostile:?}");
        }
        let not_text = HeaderValue::from_bytes("wé".as_bytes()).unwrap();
        assert_eq!(claimed_id(Some(&not_text)), None);
    }

    #[test]
    fn values_are_text_or_refused_and_empty_optional_ones_are_absent() {
        let mut headers = HeaderMap::new();
        headers.insert(WEBHOOK_ID, HeaderValue::from_static("w1"));
        headers.insert(
            WEBHOOK_NAME,
            HeaderValue::from_bytes("Zoë".as_bytes()).unwrap(),
        );
        headers.insert(WEBHOOK_USER_ID, HeaderValue::from_static(""));
        headers.insert(WEBHOOK_EVENTS, HeaderValue::from_bytes(b"a\xff").unwrap());
        headers.insert(
            WEBHOOK_PROJECT_ID,
            HeaderValue::from_bytes(b"\xe9").unwrap(),
        );
        let scanned = Scanned::new(&headers);
        assert_eq!(required(&scanned, &WEBHOOK_ID).unwrap().as_str(), "w1");
        let name = optional(&scanned, &WEBHOOK_NAME).unwrap().unwrap();
        assert_eq!(name.as_str(), "Zoë");
        assert!(optional(&scanned, &WEBHOOK_USER_ID).unwrap().is_none());
        assert!(optional(&scanned, &WEBHOOK_DELIVERY_ID).unwrap().is_none());
        for name in [WEBHOOK_EVENTS, WEBHOOK_PROJECT_ID] {
            assert!(matches!(
                required(&scanned, &name),
                Err(Error::InvalidHeader {
                    reason: "not UTF-8",
                    ..
                })
            ));
            assert!(matches!(
                optional(&scanned, &name),
                Err(Error::InvalidHeader {
                    reason: "not UTF-8",
                    ..
                })
            ));
        }
    }
}
