//! The events header (`X-Appwrite-Webhook-Events`): which of the names Appwrite lists is the
//! event itself.

use crate::events::name::{EventName, MAX_SEGMENTS};

/// The most specific concrete name in a comma-joined events header (most segments; the first
/// among equals, as Appwrite lists the primary name first), parsed; `None` if it does not parse.
/// A `tablesdb.` name is preferred to an equally specific `databases.` one: TablesDB deliveries
/// carry both families, in either order (Appwrite PR #13597 keeps the legacy `databases.`
/// aliases), and the event is the same whichever comes first.
pub(crate) fn primary(events: &str) -> Option<EventName> {
    let mut best: Option<(&str, (usize, bool))> = None;
    for name in events.split(',').filter(|e| !e.is_empty()) {
        if name.split('.').any(|s| s == "*") {
            continue;
        }
        let len = name.split('.').count();
        // A name past the bound cannot parse; it must not hide the real one.
        if len > MAX_SEGMENTS {
            continue;
        }
        let rank = (len, name.starts_with("tablesdb."));
        if best.is_none_or(|(_, r)| rank > r) {
            best = Some((name, rank));
        }
    }
    best.and_then(|(name, _)| EventName::parse(name).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn primary_prefers_the_most_specific() {
        let names = "users.u1.update,users.*.update,users.u1.update.email,users.u1";
        assert_eq!(
            primary(names).map(|n| n.to_string()),
            Some("users.u1.update.email".to_owned())
        );
        assert_eq!(primary("users.*"), None);
        // Both database families, either order: the tablesdb name.
        for names in [
            "databases.db.create,tablesdb.db.create,databases.db,tablesdb.db",
            "tablesdb.db.create,databases.db.create,tablesdb.db,databases.db",
        ] {
            assert_eq!(
                primary(names).map(|n| n.to_string()),
                Some("tablesdb.db.create".to_owned())
            );
        }
        assert_eq!(primary(""), None);
    }
}
