//! The [`InboxStore`] operations: each one script call, or for administration a loop of
//! bounded ones, and the arguments and rows that pass between Rust and the scripts.

use std::time::{Duration, SystemTime};

use appwrite_webhooks::inbox::{
    AttemptOutcome, AttemptRecord, InboxAdmin, InboxStore, Lease, Minute, Purge, Put, Received,
    State, Stats, Stored, Taken, empty_minutes, from_unix_millis, unix_millis,
};
use appwrite_webhooks::{Fingerprint, LeaseToken, StoreError, StoreFuture};

use super::scripts::{BATCH, SCRIPTS};
use super::{Arg, Sent};
use crate::connection::boxed;
use crate::ledger::RedisLedger;

pub(super) fn now() -> String {
    unix_millis(SystemTime::now()).to_string()
}

/// `duration` in milliseconds as an argument to Redis: at least 1, and at most 2^52 (about
/// 142,000 years), so a `Duration::MAX` visibility or retention stays within what `PEXPIRE`
/// and `XAUTOCLAIM` accept, and adding it to the time now stays exact in Lua's doubles.
pub(super) fn millis(duration: Duration) -> String {
    u64::try_from(duration.as_millis())
        .unwrap_or(u64::MAX)
        .clamp(1, 1 << 52)
        .to_string()
}

/// A lease's token is `"{entry} {nonce} {consumer}"`: the stream entry, the nonce its take
/// wrote into the delivery, and the consumer holding it (last, as a worker's name may hold
/// spaces). A token of another shape matches no attempt.
fn lease_token(entry: &str, nonce: &str, consumer: &str) -> String {
    format!("{entry} {nonce} {consumer}")
}

/// The outcome scripts' `ARGV[2..5]`: id, entry, consumer, nonce.
pub(super) fn lease_args(lease: &Lease) -> Vec<Arg> {
    let mut parts = lease.token.splitn(3, ' ');
    let entry = parts.next().unwrap_or("");
    let nonce = parts.next().unwrap_or("");
    let consumer = parts.next().unwrap_or("");
    vec![
        lease.id.to_string().into(),
        entry.into(),
        consumer.into(),
        nonce.into(),
    ]
}

/// What the take, get and list scripts return per delivery.
type Row = (
    u64,
    String,
    u32,
    Option<String>,
    Vec<u8>,
    u64,
    String,
    Vec<u8>,
    Vec<u8>,
);

fn stored(row: Row) -> Result<Stored, StoreError> {
    let (id, state, attempts, last_error, fingerprint, at, uri, headers, body) = row;
    Ok(Stored {
        id,
        state: State::parse(&state).map_err(boxed)?,
        attempts,
        last_error: last_error.filter(|e| !e.is_empty()),
        received: Received {
            fingerprint,
            received_at: from_unix_millis(at),
            uri,
            headers: Received::parse_header_block(&headers).map_err(boxed)?,
            body: body.into(),
        },
    })
}

/// One recorded attempt, as the scripts write it: `[attempt, worker, started ms, ended ms or
/// null, outcome, error or null]`.
fn attempt_record(json: &[u8]) -> Result<AttemptRecord, StoreError> {
    type Written = (
        u32,
        Option<String>,
        u64,
        Option<u64>,
        String,
        Option<String>,
    );
    let (attempt, worker, started, ended, outcome, error): Written =
        serde_json::from_slice(json).map_err(boxed)?;
    let outcome = AttemptOutcome::parse(&outcome)
        .ok_or_else(|| StoreError(format!("unknown attempt outcome {outcome:?}").into()))?;
    Ok(AttemptRecord {
        attempt,
        worker,
        started_at: from_unix_millis(started),
        duration: ended
            .map(|ended| std::time::Duration::from_millis(ended.saturating_sub(started))),
        outcome,
        error,
    })
}

impl RedisLedger {
    /// Runs a script that may settle delivery `id` (an outcome, or ordering's `BEGIN` and
    /// `DONE`) with `args` and then a nonce of this call's own, which the script writes as the
    /// delivery's `settled`. Returns its answer, and whether this call settled the delivery
    /// though the answer says otherwise (`not_taken`): sent twice, its first call did.
    pub(super) async fn settling<T: redis::FromRedisValue>(
        &self,
        script: &redis::Script,
        mut args: Vec<Arg>,
        id: u64,
        not_taken: impl Fn(&T) -> bool,
    ) -> Result<(T, bool), StoreError> {
        let call = LeaseToken::new().to_string();
        args.push(call.as_str().into());
        let (answer, sent) = self.script_sent::<T>(script, args).await?;
        let first_call_settled = sent == Sent::Twice
            && not_taken(&answer)
            && self.holds_nonce(id, "settled", &call).await;
        Ok((answer, first_call_settled))
    }

    /// Runs an outcome script: the lease, then `extra` (then the call's nonce, see
    /// [`settling`](Self::settling)).
    fn outcome<'a>(
        &'a self,
        script: &'static redis::Script,
        lease: &Lease,
        extra: Vec<Arg>,
    ) -> StoreFuture<'a, bool> {
        let mut args = lease_args(lease);
        args.extend(extra);
        let id = lease.id;
        Box::pin(async move {
            let (taken, first_call_settled) = self
                .settling(script, args, id, |taken: &i64| *taken != 1)
                .await?;
            Ok(taken == 1 || first_call_settled)
        })
    }

    /// Runs `script` (`PUT`, or `LABELLED` then `PUT`) with `args` ending with `nonce`, and
    /// answers as the other stores would: a put sent twice whose first call stored the
    /// delivery is "stored", not a duplicate of itself.
    async fn put_with(
        &self,
        script: &redis::Script,
        args: Vec<Arg>,
        nonce: &str,
    ) -> Result<Put, StoreError> {
        let ((stored, id), sent): ((i64, u64), Sent) = self.script_sent(script, args).await?;
        Ok(match stored {
            1 => Put::Stored(id),
            -1 => Put::OverLabelLimit,
            _ if sent == Sent::Twice && self.holds_nonce(id, "put", nonce).await => Put::Stored(id),
            _ => Put::Duplicate(id),
        })
    }
}

/// `PUT`'s arguments for `received`, ending with `nonce`, this call's own: `PUT` keeps it as
/// the delivery's `put`.
fn put_args(received: &Received, nonce: &str) -> Vec<Arg> {
    vec![
        Fingerprint::new(&received.fingerprint).to_string().into(),
        Arg::Bytes(received.fingerprint.clone()),
        received.received_at_millis().to_string().into(),
        received.uri.as_str().into(),
        Arg::Bytes(received.header_block()),
        Arg::Bytes(received.body.to_vec()),
        nonce.into(),
    ]
}

impl InboxStore for RedisLedger {
    fn put(&self, received: Received) -> StoreFuture<'_, Put> {
        // Unique per call (random and counted, as a lease's nonce).
        let nonce = LeaseToken::new().to_string();
        Box::pin(async move {
            let args = put_args(&received, &nonce);
            self.put_with(&SCRIPTS.put, args, &nonce).await
        })
    }

    /// One script, so one round trip: the label in the body's set (shared with the guard),
    /// then the delivery.
    fn label_and_put<'a>(
        &'a self,
        body: &'a Fingerprint,
        fingerprint: &'a Fingerprint,
        (limit, keep): (u32, Duration),
        received: Received,
    ) -> StoreFuture<'a, Put> {
        let nonce = LeaseToken::new().to_string();
        Box::pin(async move {
            let mut args = put_args(&received, &nonce);
            args.extend([
                self.labels_key(body).into(),
                Arg::Bytes(fingerprint.as_bytes().to_vec()),
                limit.to_string().into(),
                millis(keep).into(),
            ]);
            self.put_with(&SCRIPTS.label_and_put, args, &nonce).await
        })
    }

    fn take(&self, worker: &str, visibility: Duration) -> StoreFuture<'_, Option<Taken>> {
        // Unique per attempt (128 bits, random and counted): what makes this attempt's lease its
        // own, whoever takes the delivery next.
        let nonce = LeaseToken::new().to_string();
        let args = vec![
            worker.into(),
            now().into(),
            millis(visibility).into(),
            nonce.as_str().into(),
        ];
        let worker = worker.to_owned();
        Box::pin(async move {
            let (taken, sent): (Option<(String, Row)>, Sent) =
                self.script_sent(&SCRIPTS.take, args).await?;
            if sent == Sent::Twice {
                // The first call may have taken a delivery too, its answer lost: nobody holds
                // that lease. Give it back now; if this fails, the visibility timeout does.
                let kept = taken.as_ref().map_or("", |(entry, _)| entry.as_str());
                let args = vec![worker.as_str().into(), nonce.as_str().into(), kept.into()];
                let _ = self.script::<u64>(&SCRIPTS.give_back_lost_take, args).await;
            }
            let Some((entry, row)) = taken else {
                return Ok(None);
            };
            let stored = stored(row)?;
            Ok(Some(Taken {
                lease: Lease {
                    id: stored.id,
                    token: lease_token(&entry, &nonce, &worker),
                },
                attempt: stored.attempts,
                received: stored.received,
            }))
        })
    }

    fn complete(&self, lease: &Lease, retention: Duration) -> StoreFuture<'_, bool> {
        self.outcome(
            &SCRIPTS.complete,
            lease,
            vec![now().into(), millis(retention).into()],
        )
    }

    fn fail(&self, lease: &Lease, error: &str, at: SystemTime) -> StoreFuture<'_, bool> {
        let due = unix_millis(at).to_string();
        self.outcome(&SCRIPTS.retry_at, lease, vec![due.into(), error.into()])
    }

    fn dead(&self, lease: &Lease, error: &str) -> StoreFuture<'_, bool> {
        self.outcome(&SCRIPTS.dead, lease, vec![error.into()])
    }

    fn hand_back(&self, lease: &Lease) -> StoreFuture<'_, bool> {
        self.outcome(&SCRIPTS.hand_back, lease, Vec::new())
    }
}

impl InboxAdmin for RedisLedger {
    fn stats(&self) -> StoreFuture<'_, Stats> {
        Box::pin(async move {
            let (pending, in_flight, done, dead, stale): (u64, u64, u64, u64, u64) =
                self.script(&SCRIPTS.stats, vec![now().into()]).await?;
            Ok(Stats {
                stored: pending + done + dead + stale,
                pending,
                in_flight,
                done,
                dead,
                stale,
            })
        })
    }

    fn list(&self, state: Option<State>, limit: usize) -> StoreFuture<'_, Vec<Stored>> {
        let state = state.map_or("", State::as_str);
        Box::pin(async move {
            let mut out = Vec::new();
            let mut cursor = "0".to_owned();
            while out.len() < limit {
                let left = (limit - out.len()).to_string();
                let args = vec![state.into(), left.into(), cursor.into()];
                let (more, next, rows): (u8, String, Vec<Row>) =
                    self.script(&SCRIPTS.list, args).await?;
                for row in rows {
                    out.push(stored(row)?);
                }
                if more == 0 {
                    break;
                }
                cursor = next;
            }
            Ok(out)
        })
    }

    fn get(&self, id: u64) -> StoreFuture<'_, Option<Stored>> {
        Box::pin(async move {
            let row: Option<Row> = self
                .script(&SCRIPTS.get, vec![id.to_string().into()])
                .await?;
            row.map(stored).transpose()
        })
    }

    fn attempts(&self, id: u64) -> StoreFuture<'_, Option<Vec<AttemptRecord>>> {
        Box::pin(async move {
            let records: Vec<Vec<u8>> = self
                .script(&SCRIPTS.attempts, vec![id.to_string().into()])
                .await?;
            records
                .iter()
                .map(|json| attempt_record(json))
                .collect::<Result<Vec<_>, _>>()
                .map(Some)
        })
    }

    fn activity(&self, since: SystemTime) -> StoreFuture<'_, Option<Vec<Minute>>> {
        Box::pin(async move {
            let now = SystemTime::now();
            let mut minutes = empty_minutes(since, now);
            let Some(start) = minutes.first().map(|m| m.start_millis / 60_000) else {
                return Ok(Some(minutes));
            };
            let asked = minutes.len();
            let counts: Vec<u64> = self
                .script(
                    &SCRIPTS.activity,
                    vec![start.to_string().into(), asked.to_string().into()],
                )
                .await?;
            for (minute, c) in minutes.iter_mut().zip(counts.chunks_exact(4)) {
                (minute.received, minute.done, minute.retried, minute.failed) =
                    (c[0], c[1], c[2], c[3]);
            }
            Ok(Some(minutes))
        })
    }

    fn requeue(&self, id: u64) -> StoreFuture<'_, bool> {
        Box::pin(async move {
            Ok(self
                .script::<i64>(&SCRIPTS.retry, vec![id.to_string().into()])
                .await?
                == 1)
        })
    }

    fn requeue_dead(&self) -> StoreFuture<'_, u64> {
        Box::pin(async move { self.over_dead_letters(&SCRIPTS.retry_dead).await })
    }

    fn delete_dead(&self, id: u64) -> StoreFuture<'_, bool> {
        Box::pin(async move {
            Ok(self
                .script::<i64>(&SCRIPTS.delete_dead, vec![id.to_string().into()])
                .await?
                == 1)
        })
    }

    fn purge(&self, what: Purge) -> StoreFuture<'_, u64> {
        Box::pin(async move {
            let mut deleted = 0;
            // What is done when the purge starts, a batch at a time; deliveries completed
            // meanwhile are purged too, up to a bound, so a purge ends however busy the inbox.
            let mut batches_left = None;
            loop {
                let (gone, looked_at, left): (u64, usize, usize) =
                    self.script(&SCRIPTS.purge_done, vec![now().into()]).await?;
                deleted += gone;
                let bound = batches_left.get_or_insert(left / BATCH + 2);
                *bound -= 1;
                if looked_at < BATCH || *bound == 0 {
                    break;
                }
            }
            if what == Purge::DoneAndDead {
                deleted += self.over_dead_letters(&SCRIPTS.purge_dead).await?;
            }
            Ok(deleted)
        })
    }
}
