//! Event names (`users.u1.sessions.s1.create`): parsing and the accessors for their parts.

mod ids;

use std::fmt;
use std::str::FromStr;

/// Actions Appwrite puts after a resource. A name whose segment in this position is one of
/// these, followed by one more segment, has an attribute (`users.u1.update.email`).
pub(crate) const KNOWN_ACTIONS: [&str; 4] = ["create", "update", "delete", "upsert"];

/// The most `(resource, id)` pairs a name may have. Appwrite's deepest template has three
/// (`databases.D.tables.T.rows.R`) and its event tree four levels at most; the events header is
/// not signed, so without a bound a sender could make [`EventName::expand`] (2ⁿ variants) and
/// everything built on it arbitrarily expensive.
pub const MAX_ID_PAIRS: usize = 6;

/// The most segments a name may have: the pairs, then an action and an attribute.
pub(crate) const MAX_SEGMENTS: usize = 2 * MAX_ID_PAIRS + 2;

/// One event name, parsed into its parts: a service and its id, then nested resources with
/// their ids, then an optional action and attribute.
///
/// ```text
/// users . u1 . sessions . s1 . create
/// ^service ^id ^resource  ^id  ^action
/// users . u1 . update . email
///              ^action  ^attribute
/// ```
///
/// Names with unknown services, resources and actions parse too: Appwrite adds them over time.
/// An id may be `*` (then the name is a pattern, not [concrete](Self::is_concrete)).
///
/// ```
/// use appwrite_webhooks::EventName;
///
/// let name: EventName = "databases.shop.tables.orders.rows.ord_1.create".parse()?;
/// assert_eq!(name.service(), "databases");
/// assert_eq!(name.database_id(), Some("shop"));
/// assert_eq!(name.table_id(), Some("orders"));
/// assert_eq!(name.row_id(), Some("ord_1"));
/// assert_eq!(name.action(), Some("create"));
/// # Ok::<(), appwrite_webhooks::InvalidEventName>(())
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct EventName {
    raw: String,
    /// Byte ranges of the dot-separated segments of `raw`.
    segments: Vec<(usize, usize)>,
    /// How many leading segments are `(resource, id)` pairs, counted in segments (even).
    path_len: usize,
}

/// Why a string is not an event name.
///
/// ```
/// assert!("users".parse::<appwrite_webhooks::EventName>().is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid event name {name:?}: {reason}")]
pub struct InvalidEventName {
    name: String,
    reason: &'static str,
}

impl EventName {
    /// Parses a name; the same as `str::parse`.
    ///
    /// ```
    /// let name = appwrite_webhooks::EventName::parse("users.u1.update.email")?;
    /// assert_eq!(name.attribute(), Some("email"));
    /// # Ok::<(), appwrite_webhooks::InvalidEventName>(())
    /// ```
    pub fn parse(name: &str) -> Result<Self, InvalidEventName> {
        let invalid = |reason| InvalidEventName {
            name: name.to_owned(),
            reason,
        };
        let mut segments = Vec::with_capacity(8);
        let mut start = 0;
        for part in name.split('.') {
            if segments.len() == MAX_SEGMENTS {
                return Err(invalid("more id pairs than any Appwrite event has"));
            }
            if part.is_empty() {
                return Err(invalid("empty segment"));
            }
            if part.contains(['*', ',', ' ']) && part != "*" {
                return Err(invalid(
                    "`*` must stand alone in an id position; no `,` or spaces",
                ));
            }
            segments.push((start, start + part.len()));
            start += part.len() + 1;
        }
        if segments.len() < 2 {
            return Err(invalid("needs at least a service and an id"));
        }
        let seg = |i: usize| &name[segments[i].0..segments[i].1];
        // Everything after the first pair is pairs, then an optional action and attribute.
        let rest = segments.len() - 2;
        let path_len = if rest % 2 == 1 {
            segments.len() - 1
        } else if rest >= 2 && KNOWN_ACTIONS.contains(&seg(segments.len() - 2)) {
            segments.len() - 2
        } else {
            segments.len()
        };
        for i in 0..path_len {
            if i % 2 == 0 && seg(i) == "*" {
                return Err(invalid("`*` is only allowed in an id position"));
            }
        }
        for i in path_len..segments.len() {
            if seg(i) == "*" {
                return Err(invalid("`*` is only allowed in an id position"));
            }
        }
        Ok(Self {
            raw: name.to_owned(),
            segments,
            path_len,
        })
    }

    fn seg(&self, i: usize) -> &str {
        let (start, end) = self.segments[i];
        &self.raw[start..end]
    }

    /// The whole name.
    ///
    /// ```
    /// let name = appwrite_webhooks::EventName::parse("teams.t1.create")?;
    /// assert_eq!(name.as_str(), "teams.t1.create");
    /// # Ok::<(), appwrite_webhooks::InvalidEventName>(())
    /// ```
    pub fn as_str(&self) -> &str {
        &self.raw
    }

    /// The first segment: `users`, `databases`, `tablesdb`, `buckets`, `teams`, `functions`, …
    ///
    /// ```
    /// let name = appwrite_webhooks::EventName::parse("buckets.b1.files.f1.create")?;
    /// assert_eq!(name.service(), "buckets");
    /// # Ok::<(), appwrite_webhooks::InvalidEventName>(())
    /// ```
    pub fn service(&self) -> &str {
        self.seg(0)
    }

    /// The `(resource, id)` pairs from the service down, e.g. `[("users", "u1"), ("sessions", "s1")]`.
    ///
    /// ```
    /// let name = appwrite_webhooks::EventName::parse("users.u1.sessions.s1.create")?;
    /// let path: Vec<_> = name.path().collect();
    /// assert_eq!(path, [("users", "u1"), ("sessions", "s1")]);
    /// # Ok::<(), appwrite_webhooks::InvalidEventName>(())
    /// ```
    pub fn path(&self) -> impl ExactSizeIterator<Item = (&str, &str)> {
        (0..self.path_len / 2).map(|i| (self.seg(2 * i), self.seg(2 * i + 1)))
    }

    /// The action (`create`, `update`, `delete`, `upsert`, or one Appwrite adds later); `None`
    /// for parent-resource names like `users.u1`.
    ///
    /// ```
    /// let name = appwrite_webhooks::EventName::parse("users.u1.sessions.s1")?;
    /// assert_eq!(name.action(), None);
    /// # Ok::<(), appwrite_webhooks::InvalidEventName>(())
    /// ```
    pub fn action(&self) -> Option<&str> {
        (self.segments.len() > self.path_len).then(|| self.seg(self.path_len))
    }

    /// The attribute after the action: `email` in `users.u1.update.email`.
    ///
    /// ```
    /// let name = appwrite_webhooks::EventName::parse("teams.t1.update.prefs")?;
    /// assert_eq!((name.action(), name.attribute()), (Some("update"), Some("prefs")));
    /// # Ok::<(), appwrite_webhooks::InvalidEventName>(())
    /// ```
    pub fn attribute(&self) -> Option<&str> {
        (self.segments.len() > self.path_len + 1).then(|| self.seg(self.path_len + 1))
    }

    /// Whether every id is concrete (no `*`).
    ///
    /// ```
    /// use appwrite_webhooks::EventName;
    /// assert!(EventName::parse("users.u1.create")?.is_concrete());
    /// assert!(!EventName::parse("users.*.create")?.is_concrete());
    /// # Ok::<(), appwrite_webhooks::InvalidEventName>(())
    /// ```
    pub fn is_concrete(&self) -> bool {
        self.path().all(|(_, id)| id != "*")
    }

    /// The id following the first of the `resources` found in the path (the names twinned by
    /// Appwrite's mirroring count as one: `tables`/`collections`, `rows`/`documents`,
    /// `columns`/`attributes`). The service itself is a resource too.
    ///
    /// ```
    /// let name = appwrite_webhooks::EventName::parse("reports.r1.insights.i1.create")?;
    /// assert_eq!(name.id("insights"), Some("i1"));
    /// assert_eq!(name.id("reports"), Some("r1"));
    /// # Ok::<(), appwrite_webhooks::InvalidEventName>(())
    /// ```
    pub fn id(&self, resource: &str) -> Option<&str> {
        let twin = mirror_word(resource);
        self.path()
            .find(|(r, _)| *r == resource || Some(*r) == twin)
            .map(|(_, id)| id)
    }
}

impl FromStr for EventName {
    type Err = InvalidEventName;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl fmt::Display for EventName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.raw)
    }
}

impl fmt::Debug for EventName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EventName({:?})", self.raw)
    }
}

impl AsRef<str> for EventName {
    fn as_ref(&self) -> &str {
        &self.raw
    }
}

/// The twin resource word in the other database vocabulary.
pub(crate) fn mirror_word(word: &str) -> Option<&'static str> {
    Some(match word {
        "tables" => "collections",
        "collections" => "tables",
        "rows" => "documents",
        "documents" => "rows",
        "columns" => "attributes",
        "attributes" => "columns",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_shapes() {
        let n = EventName::parse("users.u1").unwrap();
        assert_eq!((n.action(), n.attribute(), n.path().len()), (None, None, 1));
        let n = EventName::parse("users.u1.create").unwrap();
        assert_eq!((n.action(), n.path().len()), (Some("create"), 1));
        let n = EventName::parse("teams.t.memberships.m.update.status").unwrap();
        assert_eq!(
            (n.action(), n.attribute(), n.path().len()),
            (Some("update"), Some("status"), 2)
        );
        // Unknown services and actions are kept.
        let n = EventName::parse("widgets.w1.gizmos.g1.polish").unwrap();
        assert_eq!(
            (n.service(), n.action(), n.id("gizmos")),
            ("widgets", Some("polish"), Some("g1"))
        );
    }

    #[test]
    fn rejects_malformed() {
        for bad in [
            "",
            "users",
            "users..create",
            "*.u1",
            "users.u1.*",
            "users.u*.create",
            "a.b c",
        ] {
            assert!(EventName::parse(bad).is_err(), "{bad:?} parsed");
        }
    }
}
