//! Typed payloads: Appwrite's response models, as the body of a delivery carries them.
//!
//! Generated from `../shared/appwrite/models.json` by `scripts/gen_models.py`, one module per
//! resource family. Field names follow Rust conventions and are renamed to Appwrite's on the
//! wire (`$id` → `id`, `$createdAt` → `created_at`, `emailVerification` → `email_verification`).
//!
//! Decisions that keep receivers working as Appwrite evolves:
//! - unknown fields are ignored (or kept, in [`Row`], [`Document`], [`Column`], [`Attribute`]);
//! - fields Appwrite marks optional or nullable are `Option`;
//! - enumerations are `String`s, documented with their current values, so a new value does not
//!   break deserialization;
//! - `$createdAt`/`$updatedAt` are [`OffsetDateTime`]; other dates are `Option<OffsetDateTime>`
//!   and read an empty string, `null`, or a value that is not a date as `None` (Appwrite's own
//!   example for a proxy rule's `renewAt` is the string `"datetime"`); the raw value stays
//!   available through [`Delivery::json`](crate::Delivery::json).
//!
//! ```
//! use appwrite_webhooks::models::Row;
//!
//! #[derive(serde::Deserialize)]
//! struct Order { customer: String, total: f64 }
//!
//! let body = r#"{"$id":"o1","$sequence":"1","$tableId":"orders","$databaseId":"shop",
//!   "$createdAt":"2020-10-15T06:38:00.000+00:00","$updatedAt":"2020-10-15T06:38:00.000+00:00",
//!   "$permissions":[],"customer":"Zo\u00eb","total":10}"#;
//! let row: Row<Order> = serde_json::from_str(body)?;
//! assert_eq!((row.id.as_str(), row.data.customer.as_str(), row.data.total), ("o1", "Zoë", 10.0));
//! # Ok::<(), serde_json::Error>(())
//! ```

mod databases;
mod functions;
mod messaging;
mod proxy;
mod reports;
mod schedules;
mod sites;
mod storage;
mod teams;
mod users;

pub use databases::*;
pub use functions::*;
pub use messaging::*;
pub use proxy::*;
pub use reports::*;
pub use schedules::*;
pub use sites::*;
pub use storage::*;
pub use teams::*;
pub use users::*;

pub use time::OffsetDateTime;

/// A JSON object: the default for user data in rows, documents and preferences.
pub type JsonMap = serde_json::Map<String, serde_json::Value>;

/// A user's or team's preferences: free-form JSON.
///
/// PHP's `json_encode` writes an empty preferences map as `[]`; both `{}` and `[]` read as empty.
///
/// ```
/// use appwrite_webhooks::models::Preferences;
/// let empty: Preferences = serde_json::from_str("[]")?;
/// assert!(empty.0.is_empty());
/// let prefs: Preferences = serde_json::from_str(r#"{"theme":"dark"}"#)?;
/// assert_eq!(prefs.0["theme"], "dark");
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
#[serde(transparent)]
pub struct Preferences(pub JsonMap);

impl<'de> serde::Deserialize<'de> for Preferences {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(serde::Deserialize)]
        #[serde(untagged)]
        enum Wire {
            Map(JsonMap),
            List(Vec<serde_json::Value>),
        }
        match Wire::deserialize(d)? {
            Wire::Map(map) => Ok(Self(map)),
            Wire::List(list) if list.is_empty() => Ok(Self::default()),
            Wire::List(_) => Err(serde::de::Error::custom("preferences must be an object")),
        }
    }
}

/// Appwrite's dates: ISO 8601 with milliseconds and offset (`2020-10-15T06:38:00.000+00:00`).
pub(crate) mod datetime {
    use serde::{Deserialize, Deserializer, Serializer, de::Error as _};
    use time::OffsetDateTime;
    use time::format_description::well_known::Rfc3339;

    pub(crate) fn serialize<S: Serializer>(
        value: &OffsetDateTime,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        let text = value.format(&Rfc3339).map_err(serde::ser::Error::custom)?;
        s.serialize_str(&text)
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<OffsetDateTime, D::Error> {
        let text = std::borrow::Cow::<str>::deserialize(d)?;
        OffsetDateTime::parse(&text, &Rfc3339).map_err(D::Error::custom)
    }

    /// Optional dates: absent, `null`, `""` and anything that is not a date are all `None`.
    pub(crate) mod option {
        use super::*;

        pub(crate) fn serialize<S: Serializer>(
            value: &Option<OffsetDateTime>,
            s: S,
        ) -> Result<S::Ok, S::Error> {
            match value {
                Some(value) => super::serialize(value, s),
                None => s.serialize_none(),
            }
        }

        pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
            d: D,
        ) -> Result<Option<OffsetDateTime>, D::Error> {
            let text = Option::<std::borrow::Cow<str>>::deserialize(d)?;
            Ok(text.and_then(|text| OffsetDateTime::parse(&text, &Rfc3339).ok()))
        }
    }
}

/// `$sequence` is declared an id: a string in current payloads, a number in older ones.
pub(crate) fn string_or_number<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    use serde::Deserialize;
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Id {
        Text(String),
        Number(serde_json::Number),
    }
    Ok(match Id::deserialize(d)? {
        Id::Text(text) => text,
        Id::Number(number) => number.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn optional_dates_accept_empty_and_null() {
        let json = |v: &str| {
            format!(
                r#"{{"$id":"u","$createdAt":"2020-10-15T06:38:00.000+00:00","$updatedAt":"2020-10-15T06:38:00.000+00:00","userId":"u","secret":"","expire":{v},"phrase":""}}"#
            )
        };
        for empty in ["\"\"", "null", "\"datetime\""] {
            let token: Token = serde_json::from_str(&json(empty)).unwrap();
            assert_eq!(token.expire, None);
        }
        let token: Token =
            serde_json::from_str(&json("\"2021-01-01T00:00:00.000+00:00\"")).unwrap();
        assert_eq!(token.expire.unwrap().year(), 2021);
    }
}
