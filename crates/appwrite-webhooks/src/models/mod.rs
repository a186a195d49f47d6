//! Typed payloads: Appwrite's response models, as the body of a delivery carries them.
//!
//! Generated from Appwrite's `models.json` (`crates/testkit/data/appwrite/`) by
//! `scripts/gen_models.py`, one module per resource family. Field names follow Rust conventions
//! and are renamed to Appwrite's on the wire (`$id` → `id`, `$createdAt` → `created_at`,
//! `emailVerification` → `email_verification`).
//!
//! Decisions that keep receivers working as Appwrite evolves (every release sends a slightly
//! different body: fields are added, dropped and reshaped over time, nested models included):
//! - only identity fields are required: a model's `$id` (where every release sends one: an
//!   [`Index`] of 1.4 has none), and the parent id that decides the payload's kind (a [`Row`]'s
//!   `$tableId`, a [`Document`]'s `$collectionId`). A body without them, or with one that is not
//!   a string, does not fit its model: [`Event::Unparsed`](crate::Event::Unparsed);
//! - every other field is lenient, at the top level and in nested models alike: absent, `null`,
//!   or of an unexpected JSON type, it reads as `None` (an `Option` field) or its type's default
//!   (`""`, `0`, `false`, an empty list or map), silently. Lists keep the items that fit and drop
//!   the others (a user's `targets`), and a nested model that does not fit (a subscriber's
//!   `target`) is `None`. The raw value stays available through
//!   [`Delivery::json`](crate::Delivery::json);
//! - fields Appwrite marks optional or nullable, or that a release leaves out, are `Option`;
//!   fields every release sends keep their plain type (defaulted as above);
//! - unknown fields are ignored (or kept, in [`Row`], [`Document`], [`Column`], [`Attribute`]);
//! - enumerations are `String`s, documented with their current values, so a new value does not
//!   break deserialization;
//! - dates are `Option<OffsetDateTime>` and read an absent field, an empty string, `null`, or a
//!   value that is not a date as `None` (Appwrite's own example for a proxy rule's `renewAt` is
//!   the string `"datetime"`).
//!
//! ```
//! use appwrite_webhooks::models::User;
//!
//! // An older release's user: no `mfa`, no `targets`; a later one's nested target lacks a field.
//! let body = r#"{"$id":"u1","name":"Zoë","status":"yes","targets":[
//!   {"$id":"t1","providerType":"email","identifier":"zoe@example.com"},{"broken":true}]}"#;
//! let user: User = serde_json::from_str(body)?;
//! assert_eq!((user.id.as_str(), user.name.as_str()), ("u1", "Zoë"));
//! assert!(!user.status, "a value of another type reads as the default");
//! assert_eq!((user.mfa, user.created_at), (None, None));
//! assert_eq!(user.targets.len(), 1, "the target without an `$id` is dropped");
//! assert_eq!(user.targets[0].identifier, "zoe@example.com");
//! # Ok::<(), serde_json::Error>(())
//! ```
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

    /// A model's dates: like [`option`], and a value that is not a string (a number, a list)
    /// is `None` too rather than an error.
    pub(crate) mod lenient {
        use super::*;

        pub(crate) use super::option::serialize;

        pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
            d: D,
        ) -> Result<Option<OffsetDateTime>, D::Error> {
            Ok(match serde_json::Value::deserialize(d)? {
                serde_json::Value::String(text) => OffsetDateTime::parse(&text, &Rfc3339).ok(),
                _ => None,
            })
        }
    }
}

/// Lenient fields: every field but a model's identity reads any JSON value without failing the
/// model. A value of the expected shape is kept; any other one is `None` or the type's default,
/// silently (one wrong field must not turn a whole event into `Unparsed`, nor flood the logs).
pub(crate) mod lenient {
    use serde::de::DeserializeOwned;
    use serde::{Deserialize, Deserializer};
    use serde_json::Value;

    /// The field as `T`, or `T::default()` for a value of another shape (`null` included).
    pub(crate) fn or_default<'de, D, T>(d: D) -> Result<T, D::Error>
    where
        D: Deserializer<'de>,
        T: DeserializeOwned + Default,
    {
        Ok(T::deserialize(Value::deserialize(d)?).unwrap_or_default())
    }

    /// The field as `Some(T)`, or `None` for `null` or a value of another shape.
    pub(crate) fn option<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
    where
        D: Deserializer<'de>,
        T: DeserializeOwned,
    {
        Ok(match Value::deserialize(d)? {
            Value::Null => None,
            value => T::deserialize(value).ok(),
        })
    }

    /// A list: the items that fit `T`, in order; empty for a value that is not a list.
    pub(crate) fn list<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
    where
        D: Deserializer<'de>,
        T: DeserializeOwned,
    {
        Ok(match Value::deserialize(d)? {
            Value::Array(items) => items
                .into_iter()
                .filter_map(|item| T::deserialize(item).ok())
                .collect(),
            _ => Vec::new(),
        })
    }

    /// An id declared as a string (`$sequence`): a string in current payloads, a number in
    /// older ones (written in decimal); empty for any other value.
    pub(crate) fn id<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
        Ok(match Value::deserialize(d)? {
            Value::String(text) => text,
            Value::Number(number) => number.to_string(),
            _ => String::new(),
        })
    }
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
