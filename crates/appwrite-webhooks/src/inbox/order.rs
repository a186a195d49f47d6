//! Per-resource ordering: which resource a delivery is about, and which version of it.
//!
//! Appwrite gives no order across deliveries: retries, several workers and redeliveries
//! reorder them. Every resource carries `$updatedAt`, and a `delete` carries the resource as it
//! was, so a store that remembers, per resource, the newest version it applied can answer a
//! late copy as *stale* instead of running its handler ([`State::Stale`](crate::inbox::State::Stale)).
//! This module only says what a version is; stores that keep the ordering state compare them
//! (`appwrite-webhooks-sqlite` and `appwrite-webhooks-postgres` in the transaction of their
//! exactly-once handlers, `appwrite-webhooks-redis` around any handler, without exactly-once).

use std::cmp::Ordering;

use serde::Deserialize;

use crate::delivery::Delivery;

/// What happened to a resource, in the order that decides between two deliveries with the
/// same `$updatedAt`: `Create < Update < Delete`.
///
/// A resource created and updated within one millisecond reads the update as newer; a
/// `delete` carries the resource as it was last updated (the same `$updatedAt` as that
/// update), so it must outrank the update, or a late copy of the update would bring a deleted
/// resource back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Change {
    /// `create`
    Create,
    /// `update`, `update.<attribute>`, `upsert`, or an action this version does not know.
    Update,
    /// `delete`
    Delete,
}

impl Change {
    /// `0`, `1`, `2`: how stores write it (and compare it).
    pub fn rank(self) -> u8 {
        match self {
            Change::Create => 0,
            Change::Update => 1,
            Change::Delete => 2,
        }
    }

    /// Reads [`rank`](Self::rank) back; anything else is an update.
    pub fn from_rank(rank: u8) -> Self {
        match rank {
            0 => Change::Create,
            2 => Change::Delete,
            _ => Change::Update,
        }
    }
}

/// The version of one resource a delivery carries: which resource (its kind and ids, from the
/// primary event), when it was last updated (the payload's `$updatedAt`), and what happened.
///
/// Versions of one resource are ordered by `(updated_at, change)`. A store that applies
/// deliveries in this order applies one only if no *newer* version was applied: an older one
/// is stale (answered `2xx`, never handled), an equal one is applied again (the same state;
/// keep the effect an upsert). So a delete is never undone by a late create or update of the
/// same or an older `$updatedAt`, while a resource re-created later (a newer `$updatedAt`) is
/// applied.
///
/// Deliveries without a version — no concrete primary event, no JSON object body, no
/// `$updatedAt` (executions, alerts, the opt-in schemes' envelopes) — are not ordered: they
/// pass through.
///
/// ```
/// use appwrite_webhooks::{Verifier, inbox::{Change, ResourceVersion}, sender::DeliveryBuilder};
///
/// let url = "https://example.com/hook";
/// let body = r#"{"$id":"r1","$databaseId":"shop","$tableId":"orders","$updatedAt":"2025-01-02T03:04:05.678+00:00"}"#;
/// let sent = DeliveryBuilder::new("k", url, body)
///     .events(["databases.shop.collections.orders.documents.r1.update"])
///     .build();
/// let delivery = Verifier::new("k", url).verify(sent.headers(), sent.body())?;
/// let version = ResourceVersion::of(&delivery).unwrap();
/// // The twins' vocabularies name one resource.
/// assert_eq!(version.resource, "databases.shop.tables.orders.rows.r1");
/// assert_eq!(version.change, Change::Update);
/// assert_eq!(version.updated_at, 1_735_787_045_678_000);
/// # Ok::<(), appwrite_webhooks::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ResourceVersion {
    /// The resource: the primary event's `(resource, id)` pairs joined with `.`, with
    /// Appwrite's twin words made one (`tablesdb` → `databases`, `collections` → `tables`,
    /// `documents` → `rows`, `attributes` → `columns`), e.g. `users.u1` or
    /// `databases.shop.tables.orders.rows.r1`.
    pub resource: String,
    /// The payload's `$updatedAt`, in microseconds since the Unix epoch.
    pub updated_at: i64,
    /// What happened.
    pub change: Change,
}

impl ResourceVersion {
    /// The version `delivery` carries, if it has one (see the type's docs).
    pub fn of<B: AsRef<[u8]>>(delivery: &Delivery<B>) -> Option<Self> {
        #[derive(Deserialize)]
        struct Stamp {
            #[serde(rename = "$updatedAt")]
            updated_at: Option<String>,
        }
        let name = delivery.primary_event()?;
        if !name.is_concrete() {
            return None;
        }
        let stamp: Stamp = serde_json::from_slice(delivery.body()).ok()?;
        let at = time::OffsetDateTime::parse(
            stamp.updated_at.as_deref()?,
            &time::format_description::well_known::Rfc3339,
        )
        .ok()?;
        let updated_at = i64::try_from(at.unix_timestamp_nanos() / 1000).ok()?;
        let mut resource = String::new();
        for (word, id) in name.path() {
            if !resource.is_empty() {
                resource.push('.');
            }
            resource.push_str(canonical(word));
            resource.push('.');
            resource.push_str(id);
        }
        let change = match name.action() {
            Some("create") => Change::Create,
            Some("delete") => Change::Delete,
            _ => Change::Update,
        };
        Some(Self {
            resource,
            updated_at,
            change,
        })
    }

    /// Whether this version is older than `applied`, the newest applied to the same resource:
    /// then the delivery is stale.
    ///
    /// ```
    /// use appwrite_webhooks::inbox::{Change, ResourceVersion};
    /// let at = |updated_at, change| ResourceVersion { resource: "users.u1".into(), updated_at, change };
    /// assert!(at(5, Change::Update).is_older_than(&at(5, Change::Delete)));
    /// assert!(at(4, Change::Delete).is_older_than(&at(5, Change::Create)));
    /// assert!(!at(5, Change::Update).is_older_than(&at(5, Change::Update)), "equal: applied again");
    /// assert!(!at(6, Change::Create).is_older_than(&at(5, Change::Delete)), "re-created later");
    /// ```
    pub fn is_older_than(&self, applied: &ResourceVersion) -> bool {
        self.cmp_version(applied.updated_at, applied.change) == Ordering::Less
    }

    /// Compares this version with `(updated_at, change)`.
    pub fn cmp_version(&self, updated_at: i64, change: Change) -> Ordering {
        (self.updated_at, self.change).cmp(&(updated_at, change))
    }
}

/// One word for each of Appwrite's twinned names.
fn canonical(word: &str) -> &str {
    match word {
        "tablesdb" => "databases",
        "collections" => "tables",
        "documents" => "rows",
        "attributes" => "columns",
        other => other,
    }
}
