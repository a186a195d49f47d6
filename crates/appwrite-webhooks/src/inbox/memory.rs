//! An inbox store in this process's memory: for tests and examples, not for production (it
//! is not durable — a restart loses what it holds).

#![allow(deprecated)] // the type keeps its former public name as a deprecated alias

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use crate::fingerprint::Fingerprint;
use crate::inbox::admin::InboxAdmin;
use crate::inbox::query::{AttemptOutcome, AttemptRecord, Minute, empty_minutes, minute_of};
use crate::inbox::record::{Lease, Purge, Received, State, Stats, Stored, Taken};
use crate::inbox::store::{InboxStore, Put};
use crate::replay::labels::LabelStore;
use crate::replay::memory::MemoryStore;
use crate::replay::store::StoreFuture;

/// An [`InboxStore`] in memory, with the same semantics as the durable stores but none of
/// their durability: use it to test handlers and routes.
///
/// ```
/// use appwrite_webhooks::inbox::{Inbox, Put};
/// use appwrite_webhooks::{MemoryLedger, Verifier, sender::DeliveryBuilder};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), appwrite_webhooks::Error> {
/// let url = "https://example.com/hook";
/// let (inbox, verifier) = (Inbox::new(MemoryLedger::default()), Verifier::new("k", url));
/// let (parts, body) = DeliveryBuilder::new("k", url, "{}").build().into_request().into_parts();
/// let accept = || inbox.accept(&verifier, &parts.uri, &parts.headers, http_body_util::Full::new(body.clone()));
/// assert_eq!(accept().await?, Put::Stored(1));
/// assert_eq!(accept().await?, Put::Duplicate(1));
/// # Ok(()) }
/// ```
#[derive(Debug, Default)]
#[deprecated(note = "use MemoryLedger: one memory store for the guard and the inbox")]
pub struct MemoryInbox {
    held: Mutex<Held>,
    /// Only its label counts: a standalone inbox's (a `MemoryLedger` counts in its claims).
    labels: MemoryStore,
}

#[derive(Debug, Default)]
struct Held {
    next_id: u64,
    rows: BTreeMap<u64, Row>,
    by_fingerprint: HashMap<Vec<u8>, u64>,
    tokens: u64,
}

#[derive(Debug)]
struct Row {
    stored: Stored,
    due: SystemTime,
    lease: Option<String>,
    keep_until: Option<SystemTime>,
    /// The newest [`HISTORY`] attempts, oldest first, the last one `Running` while leased.
    history: Vec<AttemptRecord>,
}

/// How many attempts a delivery's history keeps: a delivery retried for days keeps its latest.
const HISTORY: usize = 64;

impl Row {
    /// Ends the attempt still running, if any.
    fn end_attempt(&mut self, outcome: AttemptOutcome, error: Option<&str>) {
        if let Some(last) = self.history.last_mut()
            && last.outcome == AttemptOutcome::Running
        {
            last.outcome = outcome;
            if outcome != AttemptOutcome::Abandoned {
                last.duration = Some(
                    SystemTime::now()
                        .duration_since(last.started_at)
                        .unwrap_or_default(),
                );
            }
            last.error = error.map(str::to_owned);
        }
    }
}

impl MemoryInbox {
    fn with<T: Send + 'static>(&self, f: impl FnOnce(&mut Held) -> T) -> StoreFuture<'_, T> {
        let result = f(&mut self.held.lock().unwrap_or_else(|e| e.into_inner()));
        Box::pin(async move { Ok(result) })
    }

    fn settle(
        &self,
        lease: &Lease,
        outcome: AttemptOutcome,
        error: Option<&str>,
        f: impl FnOnce(&mut Row),
    ) -> StoreFuture<'_, bool> {
        self.with(|held| match held.rows.get_mut(&lease.id) {
            Some(row) if row.lease.as_deref() == Some(lease.token.as_str()) => {
                row.lease = None;
                row.end_attempt(outcome, error);
                f(row);
                true
            }
            _ => false,
        })
    }
}

impl Held {
    fn forget_expired(&mut self, now: SystemTime) {
        let expired: Vec<u64> = self
            .rows
            .iter()
            .filter(|(_, row)| row.keep_until.is_some_and(|t| t <= now))
            .map(|(id, _)| *id)
            .collect();
        for id in expired {
            if let Some(row) = self.rows.remove(&id) {
                self.by_fingerprint.remove(&row.stored.received.fingerprint);
            }
        }
    }
}

impl InboxStore for MemoryInbox {
    fn put(&self, received: Received) -> StoreFuture<'_, Put> {
        self.with(|held| {
            held.forget_expired(SystemTime::now());
            if let Some(id) = held.by_fingerprint.get(&received.fingerprint) {
                return Put::Duplicate(*id);
            }
            held.next_id += 1;
            let id = held.next_id;
            held.by_fingerprint.insert(received.fingerprint.clone(), id);
            let due = received.received_at;
            let stored = Stored {
                id,
                state: State::Pending,
                attempts: 0,
                last_error: None,
                received,
            };
            let row = Row {
                stored,
                due,
                lease: None,
                keep_until: None,
                history: Vec::new(),
            };
            held.rows.insert(id, row);
            Put::Stored(id)
        })
    }

    fn take(&self, worker: &str, lease: Duration) -> StoreFuture<'_, Option<Taken>> {
        self.with(|held| {
            let now = SystemTime::now();
            held.tokens += 1;
            let token = held.tokens.to_string();
            let row = held
                .rows
                .values_mut()
                .filter(|row| row.stored.state == State::Pending && row.due <= now)
                .min_by_key(|row| (row.due, row.stored.id))?;
            row.lease = Some(token.clone());
            // Saturating: a lease of `Duration::MAX` must not panic.
            row.due = now.checked_add(lease).unwrap_or(now + crate::MAX_TTL);
            row.stored.attempts += 1;
            // A lease that ran out without an outcome: its worker died.
            row.end_attempt(AttemptOutcome::Abandoned, None);
            if row.history.len() == HISTORY {
                row.history.remove(0);
            }
            row.history.push(AttemptRecord {
                attempt: row.stored.attempts,
                worker: Some(worker.to_owned()),
                started_at: now,
                duration: None,
                outcome: AttemptOutcome::Running,
                error: None,
            });
            Some(Taken {
                lease: Lease {
                    id: row.stored.id,
                    token,
                },
                attempt: row.stored.attempts,
                received: row.stored.received.clone(),
            })
        })
    }

    fn complete(&self, lease: &Lease, retention: Duration) -> StoreFuture<'_, bool> {
        self.settle(lease, AttemptOutcome::Done, None, |row| {
            row.stored.state = State::Done;
            row.keep_until = SystemTime::now().checked_add(retention);
        })
    }

    fn fail(&self, lease: &Lease, error: &str, at: SystemTime) -> StoreFuture<'_, bool> {
        self.settle(lease, AttemptOutcome::Retry, Some(error), |row| {
            row.due = at;
            row.stored.last_error = Some(error.to_owned());
        })
    }

    fn dead(&self, lease: &Lease, error: &str) -> StoreFuture<'_, bool> {
        self.settle(lease, AttemptOutcome::Dead, Some(error), |row| {
            row.stored.state = State::Dead;
            row.stored.last_error = Some(error.to_owned());
        })
    }

    fn hand_back(&self, lease: &Lease) -> StoreFuture<'_, bool> {
        self.settle(lease, AttemptOutcome::HandedBack, None, |row| {
            row.due = SystemTime::now();
            row.stored.attempts = row.stored.attempts.saturating_sub(1);
        })
    }
}

impl LabelStore for MemoryInbox {
    fn label<'a>(
        &'a self,
        body: &'a Fingerprint,
        label: &'a Fingerprint,
        limit: u32,
        keep: Duration,
    ) -> StoreFuture<'a, bool> {
        let labelled = self.labels.label_now(body, label, limit, keep);
        Box::pin(std::future::ready(Ok(labelled)))
    }
}

impl InboxAdmin for MemoryInbox {
    fn stats(&self) -> StoreFuture<'_, Stats> {
        self.with(|held| {
            let now = SystemTime::now();
            held.forget_expired(now);
            let mut stats = Stats::default();
            for row in held.rows.values() {
                match row.stored.state {
                    State::Pending => {
                        stats.pending += 1;
                        stats.in_flight += u64::from(row.lease.is_some() && row.due > now);
                    }
                    State::Done => stats.done += 1,
                    State::Dead => stats.dead += 1,
                    State::Stale => stats.stale += 1,
                }
            }
            stats.stored = stats.pending + stats.done + stats.dead + stats.stale;
            stats
        })
    }

    fn list(&self, state: Option<State>, limit: usize) -> StoreFuture<'_, Vec<Stored>> {
        self.with(|held| {
            held.rows
                .values()
                .filter(|row| state.is_none_or(|s| row.stored.state == s))
                .take(limit)
                .map(|row| row.stored.clone())
                .collect()
        })
    }

    fn get(&self, id: u64) -> StoreFuture<'_, Option<Stored>> {
        self.with(|held| held.rows.get(&id).map(|row| row.stored.clone()))
    }

    fn requeue(&self, id: u64) -> StoreFuture<'_, bool> {
        self.with(|held| match held.rows.get_mut(&id) {
            Some(row) if row.stored.state == State::Dead => {
                revive(row);
                true
            }
            _ => false,
        })
    }

    fn requeue_dead(&self) -> StoreFuture<'_, u64> {
        self.with(|held| {
            let mut n = 0;
            for row in held.rows.values_mut() {
                if row.stored.state == State::Dead {
                    revive(row);
                    n += 1;
                }
            }
            n
        })
    }

    fn delete_dead(&self, id: u64) -> StoreFuture<'_, bool> {
        self.with(|held| match held.rows.get(&id) {
            Some(row) if row.stored.state == State::Dead => {
                let row = held.rows.remove(&id).expect("just seen");
                held.by_fingerprint.remove(&row.stored.received.fingerprint);
                true
            }
            _ => false,
        })
    }

    fn attempts(&self, id: u64) -> StoreFuture<'_, Option<Vec<AttemptRecord>>> {
        self.with(|held| {
            Some(
                held.rows
                    .get(&id)
                    .map(|row| row.history.clone())
                    .unwrap_or_default(),
            )
        })
    }

    fn activity(&self, since: SystemTime) -> StoreFuture<'_, Option<Vec<Minute>>> {
        self.with(|held| {
            let mut minutes = empty_minutes(since, SystemTime::now());
            let minute = |at: SystemTime| crate::inbox::record::unix_millis(at) / 60_000;
            for row in held.rows.values() {
                if let Some(m) = minute_of(&mut minutes, minute(row.stored.received.received_at)) {
                    m.received += 1;
                }
                for attempt in &row.history {
                    if let Some(ended) = attempt.duration.map(|d| attempt.started_at + d)
                        && let Some(m) = minute_of(&mut minutes, minute(ended))
                    {
                        m.count_ended(attempt.outcome, 1);
                    }
                }
            }
            Some(minutes)
        })
    }

    fn purge(&self, what: Purge) -> StoreFuture<'_, u64> {
        self.with(|held| {
            let doomed: Vec<u64> = held
                .rows
                .iter()
                .filter(|(_, row)| match row.stored.state {
                    State::Done | State::Stale => true,
                    State::Dead => what == Purge::DoneAndDead,
                    State::Pending => false,
                })
                .map(|(id, _)| *id)
                .collect();
            for id in &doomed {
                if let Some(row) = held.rows.remove(id) {
                    held.by_fingerprint.remove(&row.stored.received.fingerprint);
                }
            }
            doomed.len() as u64
        })
    }
}

fn revive(row: &mut Row) {
    row.stored.state = State::Pending;
    row.stored.attempts = 0;
    row.lease = None;
    row.due = SystemTime::now();
}
