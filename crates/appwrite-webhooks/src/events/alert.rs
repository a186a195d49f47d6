//! The typed body of an Appwrite alert ([`Scheme::Alert`](crate::Scheme::Alert)).

use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value};

use crate::error::Error;

/// An alert from Appwrite's notifications worker — "Webhook deliveries have been paused", a
/// usage threshold — as [`Scheme::Alert`](crate::Scheme::Alert) delivers it: PHP's
/// `json_encode({subject, body, template, params, project, deduplicationKey, events})`.
///
/// [`Delivery::event`](crate::Delivery::event) gives it as [`Event::Alert`](crate::Event::Alert);
/// it is also a [`FromDelivery`](crate::FromDelivery) type of its own, for
/// `Webhook<Alert>` in the extractors. Fields a newer Appwrite adds are kept in
/// [`extra`](Self::extra).
///
/// ```
/// use appwrite_webhooks::Alert;
///
/// let body = br#"{"subject":"Usage at 90%","body":"Bandwidth 90\/100 GB","template":"","params":[],"project":null,"deduplicationKey":"usage:bandwidth:90:2026-12","events":[]}"#;
/// let alert = Alert::parse(body)?;
/// assert_eq!(alert.body, "Bandwidth 90/100 GB");
/// assert!(alert.params.is_empty()); // PHP's `[]` for an empty object
/// assert_eq!(alert.project, None);
/// assert_eq!(alert.deduplication_key, "usage:bandwidth:90:2026-12");
/// # Ok::<(), appwrite_webhooks::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct Alert {
    /// The alert's subject line.
    pub subject: String,
    /// Its text; may be HTML (escape it before showing it anywhere that renders HTML).
    pub body: String,
    /// The template it was rendered from; empty when none.
    #[serde(default)]
    pub template: String,
    /// The template's parameters. PHP encodes an empty one as `[]`, read here as an empty map;
    /// a list is read as a map keyed by index, as PHP arrays are.
    #[serde(default, deserialize_with = "php_object")]
    pub params: Map<String, Value>,
    /// The project it concerns, `None` for alerts about no project (`null`).
    #[serde(default)]
    pub project: Option<String>,
    /// Appwrite's stable key for this alert (for a paused webhook
    /// `webhook:<webhookId>:paused:<$updatedAt>`), the same on every copy; may be empty. The
    /// delivery's [`fingerprint`](crate::Delivery::fingerprint) keys on it when it is not.
    #[serde(rename = "deduplicationKey", default)]
    pub deduplication_key: String,
    /// Event names the alert is about; often empty.
    #[serde(default)]
    pub events: Vec<String>,
    /// Fields this version does not know, kept as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Alert {
    /// Parses a verified body. Not JSON, or without `subject` and `body`:
    /// [`Error::InvalidPayload`] (400).
    pub fn parse(body: &[u8]) -> Result<Self, Error> {
        serde_json::from_slice(body).map_err(Error::InvalidPayload)
    }
}

/// A JSON object, or a PHP array that `json_encode` wrote as a list (`[]` when empty).
fn php_object<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Map<String, Value>, D::Error> {
    match Value::deserialize(deserializer)? {
        Value::Object(map) => Ok(map),
        Value::Null => Ok(Map::new()),
        Value::Array(items) => Ok(items
            .into_iter()
            .enumerate()
            .map(|(index, item)| (index.to_string(), item))
            .collect()),
        other => Err(serde::de::Error::custom(format!(
            "params: expected an object or an array, found {other}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_read_as_php_writes_them() {
        let parse = |params: &str| {
            Alert::parse(format!(r#"{{"subject":"s","body":"b","params":{params}}}"#).as_bytes())
        };
        assert!(parse("[]").unwrap().params.is_empty());
        assert!(parse("null").unwrap().params.is_empty());
        assert_eq!(parse(r#"{"a":1}"#).unwrap().params["a"], 1);
        assert_eq!(parse(r#"["x","y"]"#).unwrap().params["1"], "y");
        assert_eq!(parse("3").unwrap_err().status(), 400);
    }

    #[test]
    fn unknown_fields_are_kept_and_missing_optional_ones_default() {
        let alert = Alert::parse(br#"{"subject":"s","body":"b","severity":"high"}"#).unwrap();
        assert_eq!(alert.extra["severity"], "high");
        assert_eq!((alert.project, alert.events.len()), (None, 0));
        assert_eq!(alert.deduplication_key, "");
        assert_eq!(
            Alert::parse(br#"{"subject":"s"}"#).unwrap_err().status(),
            400
        );
        assert_eq!(Alert::parse(b"not json").unwrap_err().status(), 400);
    }
}
