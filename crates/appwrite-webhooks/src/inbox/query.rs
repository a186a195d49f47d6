//! What an operator's view asks of an inbox beyond [`InboxAdmin`](crate::inbox::InboxAdmin)'s
//! basics: filtered pages under a cursor, the history of a delivery's attempts, and activity
//! per minute.

use std::time::{Duration, SystemTime};

use crate::events::name::EventName;
use crate::events::pattern::Pattern;
use crate::headers::{WEBHOOK_DELIVERY_ID, WEBHOOK_EVENTS};
use crate::inbox::record::{State, Stored, unix_millis};

/// The most deliveries the provided implementations of
/// [`InboxAdmin::find`](crate::inbox::InboxAdmin::find) read from
/// [`list`](crate::inbox::InboxAdmin::list) per call (they see the oldest this many), and the
/// most rows a store's own `find` examines for one page before it answers with what it found
/// and a cursor to go on from.
pub const FIND_SCAN_LIMIT: usize = 10_000;

/// Which deliveries a page holds. Every condition set must hold; an empty filter matches all.
///
/// ```
/// use appwrite_webhooks::inbox::{Filter, State};
/// let filter = Filter::default().with_state(State::Dead).with_event("users.*.create")?;
/// assert_eq!(filter.event().map(|p| p.as_str()), Some("users.*.create"));
/// # Ok::<(), appwrite_webhooks::InvalidEventName>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    state: Option<State>,
    event: Option<Pattern>,
    resource: Option<String>,
    delivery_id: Option<String>,
    since: Option<SystemTime>,
    until: Option<SystemTime>,
}

impl Filter {
    /// Only deliveries in `state`.
    pub fn with_state(mut self, state: State) -> Self {
        self.state = Some(state);
        self
    }

    /// Only deliveries whose events header names an event `pattern` matches
    /// (`users.*.create`), as Appwrite matches a subscription. Fails if it does not parse.
    pub fn with_event(mut self, pattern: &str) -> Result<Self, crate::InvalidEventName> {
        self.event = Some(Pattern::parse(pattern)?);
        Ok(self)
    }

    /// Only deliveries about the resource with this id: an id in one of its event names
    /// (`users.<id>.create`, a row's id in `databases.*.tables.*.rows.<id>.update`).
    pub fn with_resource(mut self, id: impl Into<String>) -> Self {
        self.resource = Some(id.into());
        self
    }

    /// Only the delivery with this `X-Appwrite-Webhook-Delivery-Id`.
    pub fn with_delivery_id(mut self, id: impl Into<String>) -> Self {
        self.delivery_id = Some(id.into());
        self
    }

    /// Only deliveries received at or after `at`.
    pub fn with_since(mut self, at: SystemTime) -> Self {
        self.since = Some(at);
        self
    }

    /// Only deliveries received before `at`.
    pub fn with_until(mut self, at: SystemTime) -> Self {
        self.until = Some(at);
        self
    }

    /// The state condition.
    pub fn state(&self) -> Option<State> {
        self.state
    }

    /// The event pattern condition.
    pub fn event(&self) -> Option<&Pattern> {
        self.event.as_ref()
    }

    /// The resource id condition.
    pub fn resource(&self) -> Option<&str> {
        self.resource.as_deref()
    }

    /// The delivery id condition.
    pub fn delivery_id(&self) -> Option<&str> {
        self.delivery_id.as_deref()
    }

    /// The start of the time range, in milliseconds since the Unix epoch.
    pub fn since_millis(&self) -> Option<u64> {
        self.since.map(unix_millis)
    }

    /// The end of the time range (excluded), in milliseconds since the Unix epoch.
    pub fn until_millis(&self) -> Option<u64> {
        self.until.map(unix_millis)
    }

    /// Whether `stored` meets every condition: what a store's own `find` applies to the rows
    /// it could not select by index.
    pub fn matches(&self, stored: &Stored) -> bool {
        if self.state.is_some_and(|state| state != stored.state) {
            return false;
        }
        let at = stored.received.received_at_millis();
        if self.since_millis().is_some_and(|since| at < since)
            || self.until_millis().is_some_and(|until| at >= until)
        {
            return false;
        }
        let header = |name: &http::HeaderName| {
            stored
                .received
                .headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_owned()
        };
        if let Some(id) = &self.delivery_id
            && header(&WEBHOOK_DELIVERY_ID) != *id
        {
            return false;
        }
        if self.event.is_none() && self.resource.is_none() {
            return true;
        }
        let events = header(&WEBHOOK_EVENTS);
        let names: Vec<&str> = events
            .split(',')
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .collect();
        if let Some(pattern) = &self.event {
            let matched = pattern.matches_expanded(&names)
                || names
                    .iter()
                    .filter_map(|n| EventName::parse(n).ok())
                    .any(|name| pattern.matches(&name));
            if !matched {
                return false;
            }
        }
        if let Some(id) = &self.resource {
            // An id is a segment between dots; `*` segments are patterns, not ids.
            let named = names
                .iter()
                .any(|n| n.split('.').any(|segment| segment == id));
            if !named {
                return false;
            }
        }
        true
    }
}

/// One page of [`InboxAdmin::find`](crate::inbox::InboxAdmin::find): newest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Page {
    /// The deliveries, highest id first.
    pub items: Vec<Stored>,
    /// Pass as `before` for the next page; `None` when there is none.
    pub next: Option<u64>,
}

/// How one attempt at a delivery ended. Stores may learn new outcomes: match with a wildcard.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AttemptOutcome {
    /// Still running (its lease has not been settled).
    Running,
    /// The handler succeeded.
    Done,
    /// The handler failed and the delivery was scheduled again.
    Retry,
    /// The handler failed for the last time: a dead letter.
    Dead,
    /// The worker gave the attempt back unfinished (shutting down).
    HandedBack,
    /// Its lease ran out without an outcome (the worker died) and another attempt took it.
    Abandoned,
    /// Settled without its handler: a newer version of its resource was already applied
    /// ([`State::Stale`](crate::inbox::State::Stale)).
    Stale,
}

impl AttemptOutcome {
    /// `running`, `done`, `retry`, `dead`, `handed back`, `abandoned` or `stale`: how stores
    /// write it.
    pub fn as_str(self) -> &'static str {
        match self {
            AttemptOutcome::Running => "running",
            AttemptOutcome::Done => "done",
            AttemptOutcome::Retry => "retry",
            AttemptOutcome::Dead => "dead",
            AttemptOutcome::HandedBack => "handed back",
            AttemptOutcome::Abandoned => "abandoned",
            AttemptOutcome::Stale => "stale",
        }
    }

    /// Reads [`as_str`](Self::as_str) back.
    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "running" => AttemptOutcome::Running,
            "done" => AttemptOutcome::Done,
            "retry" => AttemptOutcome::Retry,
            "dead" => AttemptOutcome::Dead,
            "handed back" => AttemptOutcome::HandedBack,
            "abandoned" => AttemptOutcome::Abandoned,
            "stale" => AttemptOutcome::Stale,
            _ => return None,
        })
    }
}

impl std::fmt::Display for AttemptOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One recorded attempt at a delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptRecord {
    /// Which attempt this was (from 1; a requeue starts again at 1).
    pub attempt: u32,
    /// The worker that took it.
    pub worker: Option<String>,
    /// When it was taken.
    pub started_at: SystemTime,
    /// How long it ran until its outcome was recorded; `None` while running or abandoned.
    pub duration: Option<Duration>,
    /// How it ended.
    pub outcome: AttemptOutcome,
    /// The handler's error, when it failed.
    pub error: Option<String>,
}

/// What happened in one minute: deliveries received, attempts that succeeded, failed and were
/// retried, and failed for good (dead letters).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Minute {
    /// The minute's start, in milliseconds since the Unix epoch (a multiple of 60 000).
    pub start_millis: u64,
    /// Deliveries received in it: of those still stored (SQLite, Postgres, memory), or every
    /// one stored then (Redis counts at arrival, kept a week, purges included).
    pub received: u64,
    /// Attempts that ended `done` in it.
    pub done: u64,
    /// Attempts that failed in it and were scheduled again.
    pub retried: u64,
    /// Attempts that failed in it for the last time.
    pub failed: u64,
}

impl Minute {
    /// Counts `n` attempts that ended with `outcome` in this minute: `done`, `retry` and
    /// `dead` are charted (as done, retried, failed); other outcomes are not.
    pub fn count_ended(&mut self, outcome: AttemptOutcome, n: u64) {
        match outcome {
            AttemptOutcome::Done => self.done += n,
            AttemptOutcome::Retry => self.retried += n,
            AttemptOutcome::Dead => self.failed += n,
            _ => {}
        }
    }
}

/// The entry of `minutes` (as [`empty_minutes`] makes them: consecutive, oldest first) for
/// `minute`, counted in minutes since the Unix epoch; `None` outside them.
pub fn minute_of(minutes: &mut [Minute], minute: u64) -> Option<&mut Minute> {
    let first = minutes.first()?.start_millis / 60_000;
    let index = usize::try_from(minute.checked_sub(first)?).ok()?;
    minutes.get_mut(index)
}

/// The most minutes [`InboxAdmin::activity`](crate::inbox::InboxAdmin::activity) answers
/// with: a week. An older `since` is read as a week ago, so a caller asking from 1970 gets a
/// bounded answer, not 29 million entries.
pub const ACTIVITY_MINUTES_MAX: u32 = 7 * 24 * 60;

/// Empty minutes from the one `since` falls in to the one holding `now` (one if `since` is
/// not earlier), at most [`ACTIVITY_MINUTES_MAX`] — the newest: what an
/// [`activity`](crate::inbox::InboxAdmin::activity) answer fills in.
pub fn empty_minutes(since: SystemTime, now: SystemTime) -> Vec<Minute> {
    let span = now.duration_since(since).unwrap_or_default();
    let minutes = u32::try_from(span.as_secs() / 60 + 1)
        .unwrap_or(u32::MAX)
        .min(ACTIVITY_MINUTES_MAX);
    let last = unix_millis(now) / 60_000;
    let first = last.saturating_sub(u64::from(minutes) - 1);
    (first..=last)
        .map(|m| Minute {
            start_millis: m * 60_000,
            ..Minute::default()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inbox::record::Received;
    use http::HeaderMap;

    fn stored(events: &str, delivery: &str) -> Stored {
        let mut headers = HeaderMap::new();
        headers.insert(WEBHOOK_EVENTS, events.parse().unwrap());
        headers.insert(WEBHOOK_DELIVERY_ID, delivery.parse().unwrap());
        Stored {
            id: 1,
            state: State::Dead,
            attempts: 1,
            last_error: None,
            received: Received {
                fingerprint: vec![1],
                received_at: SystemTime::UNIX_EPOCH + Duration::from_secs(100),
                uri: "/".into(),
                headers,
                body: "{}".into(),
            },
        }
    }

    #[test]
    fn filters_by_pattern_resource_delivery_state_and_time() {
        let row = stored("users.u1.create,users.*.create,users.*", "d1");
        assert!(Filter::default().matches(&row));
        let f = |p: &str| Filter::default().with_event(p).unwrap();
        assert!(f("users.*.create").matches(&row));
        assert!(!f("users.*.delete").matches(&row));
        // A header with only the concrete name still matches its patterns.
        assert!(f("users.*.create").matches(&stored("users.u1.create", "d1")));
        assert!(Filter::default().with_resource("u1").matches(&row));
        assert!(!Filter::default().with_resource("u2").matches(&row));
        assert!(Filter::default().with_delivery_id("d1").matches(&row));
        assert!(!Filter::default().with_delivery_id("d2").matches(&row));
        assert!(!Filter::default().with_state(State::Done).matches(&row));
        let at = SystemTime::UNIX_EPOCH + Duration::from_secs(100);
        assert!(Filter::default().with_since(at).matches(&row));
        assert!(!Filter::default().with_until(at).matches(&row));
    }

    #[test]
    fn empty_minutes_end_with_now() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(3600);
        let minutes = empty_minutes(now - Duration::from_secs(59 * 60), now);
        assert_eq!(minutes.len(), 60);
        assert_eq!(minutes.last().unwrap().start_millis, 3_600_000);
        assert_eq!(empty_minutes(now + Duration::from_secs(60), now).len(), 1);
        let far = SystemTime::UNIX_EPOCH + Duration::from_secs(1 << 40);
        assert_eq!(
            empty_minutes(SystemTime::UNIX_EPOCH, far).len(),
            ACTIVITY_MINUTES_MAX as usize,
            "bounded, whatever `since` is"
        );
    }

    #[test]
    fn minute_of_finds_the_entry_and_ended_attempts_count_by_outcome() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(3600);
        let mut minutes = empty_minutes(now - Duration::from_secs(59 * 60), now);
        assert!(minute_of(&mut minutes, 0).is_none(), "before the first");
        assert!(minute_of(&mut minutes, 61).is_none(), "after the last");
        let m = minute_of(&mut minutes, 60).unwrap();
        assert_eq!(m.start_millis, 3_600_000);
        m.count_ended(AttemptOutcome::Done, 2);
        m.count_ended(AttemptOutcome::Retry, 3);
        m.count_ended(AttemptOutcome::Dead, 4);
        m.count_ended(AttemptOutcome::Abandoned, 5);
        assert_eq!((m.done, m.retried, m.failed), (2, 3, 4));
        assert_eq!(minute_of(&mut minutes, 1).unwrap().start_millis, 60_000);
    }

    #[tokio::test]
    async fn the_provided_find_pages_newest_first() {
        use crate::MemoryLedger;
        use crate::inbox::{InboxAdmin, InboxStore};
        let ledger = MemoryLedger::with_capacity(100);
        for n in 0..5u8 {
            let mut row = stored(
                if n % 2 == 0 {
                    "users.u1.create"
                } else {
                    "users.u2.delete"
                },
                "d",
            );
            row.received.fingerprint = vec![n];
            ledger.put(row.received).await.unwrap();
        }
        let all = Filter::default();
        let first = ledger.find(&all, None, 2).await.unwrap();
        let ids: Vec<u64> = first.items.iter().map(|s| s.id).collect();
        assert_eq!(ids.len(), 2);
        assert!(ids[0] > ids[1]);
        let second = ledger.find(&all, first.next, 10).await.unwrap();
        assert_eq!(second.items.len(), 3);
        assert_eq!(second.next, None);
        assert!(second.items.iter().all(|s| s.id < ids[1]));
        let creates = Filter::default().with_event("users.*.create").unwrap();
        assert_eq!(
            ledger.find(&creates, None, 10).await.unwrap().items.len(),
            3
        );
        // The memory ledger keeps a history (the provided `attempts` would say `None`).
        assert_eq!(ledger.attempts(ids[0]).await.unwrap(), Some(Vec::new()));
        assert_eq!(
            ledger
                .activity(SystemTime::now())
                .await
                .unwrap()
                .map(|m| m.len()),
            Some(1)
        );
        // Not a dead letter: nothing deleted.
        assert!(!ledger.delete_dead(ids[0]).await.unwrap());
    }
}
