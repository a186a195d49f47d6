//! Subscription patterns with `*`, matched the way Appwrite matches them.

use std::fmt;
use std::str::FromStr;

use crate::events::name::{EventName, InvalidEventName};

/// An event pattern as written in the Appwrite console: `users.*.create`,
/// `databases.*.tables.orders.rows.*`, `buckets.*`.
///
/// Appwrite matches a webhook's subscriptions by plain membership in the expanded names of an
/// event (see [`EventName::expand`]), so `*` stands for exactly one id, the action can be left
/// off to match every action on a resource, and `tables/rows` patterns match the mirrored
/// `collections/documents` names and vice versa. A pattern matches here exactly when Appwrite
/// would have sent the event to a webhook subscribed to it.
///
/// ```
/// use appwrite_webhooks::{EventName, Pattern};
///
/// let created: EventName = "databases.shop.tables.orders.rows.r1.create".parse()?;
/// assert!(Pattern::parse("databases.*.tables.orders.rows.*.create")?.matches(&created));
/// assert!(Pattern::parse("databases.*.collections.*.documents.*")?.matches(&created));
/// assert!(Pattern::parse("databases.shop")?.matches(&created));
/// assert!(!Pattern::parse("databases.*.tables.*.rows.*.delete")?.matches(&created));
/// assert!(!Pattern::parse("databases.*.create")?.matches(&created)); // a database event
/// # Ok::<(), appwrite_webhooks::InvalidEventName>(())
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Pattern(EventName);

impl Pattern {
    /// Parses a pattern: an event name whose ids may be `*`.
    ///
    /// ```
    /// assert!(appwrite_webhooks::Pattern::parse("users.*").is_ok());
    /// assert!(appwrite_webhooks::Pattern::parse("users.*.*").is_err()); // `*` is not an action
    /// ```
    pub fn parse(pattern: &str) -> Result<Self, InvalidEventName> {
        EventName::parse(pattern).map(Self)
    }

    /// Whether Appwrite would deliver `event` to a webhook subscribed to this pattern.
    ///
    /// ```
    /// use appwrite_webhooks::{EventName, Pattern};
    /// let email: EventName = "users.u1.update.email".parse()?;
    /// assert!(Pattern::parse("users.*.update")?.matches(&email));
    /// assert!(!Pattern::parse("users.*.update.name")?.matches(&email));
    /// # Ok::<(), appwrite_webhooks::InvalidEventName>(())
    /// ```
    pub fn matches(&self, event: &EventName) -> bool {
        self.matches_expanded(&event.expand())
    }

    /// Whether the pattern is among already expanded names, such as a delivery's events header
    /// or [`EventName::expand`]'s result: for matching many patterns against one event.
    ///
    /// ```
    /// use appwrite_webhooks::{EventName, Pattern};
    /// let names = EventName::parse("teams.t1.create")?.expand();
    /// assert!(Pattern::parse("teams.*")?.matches_expanded(&names));
    /// # Ok::<(), appwrite_webhooks::InvalidEventName>(())
    /// ```
    pub fn matches_expanded<S: AsRef<str>>(&self, names: &[S]) -> bool {
        names.iter().any(|n| n.as_ref() == self.as_str())
    }

    /// The pattern as written.
    ///
    /// ```
    /// assert_eq!(appwrite_webhooks::Pattern::parse("users.*")?.as_str(), "users.*");
    /// # Ok::<(), appwrite_webhooks::InvalidEventName>(())
    /// ```
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }
}

impl FromStr for Pattern {
    type Err = InvalidEventName;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Pattern({:?})", self.as_str())
    }
}
