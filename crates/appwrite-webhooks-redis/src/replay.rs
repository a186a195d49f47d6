//! The ledger as a [`ReplayStore`]: see the crate docs for its keys and scripts.

use std::time::Duration;

use crate::connection::bounded;
use crate::durability;
use crate::labels::ADMIT;
use crate::ledger::RedisLedger;
use appwrite_webhooks::{
    ClaimOutcome, Fingerprint, LeaseToken, ReplayStore, StoreError, StoreFuture,
};

impl RedisLedger {
    fn key(&self, fingerprint: &Fingerprint) -> String {
        format!("{}{fingerprint}", self.prefixes.replay)
    }

    /// Runs `command`, bounded by the timeout.
    async fn query<T: redis::FromRedisValue>(&self, command: redis::Cmd) -> Result<T, StoreError> {
        self.pass(durability::REPLAY).await?;
        let mut connection = self.connection.clone();
        bounded(self.timeout, command.query_async(&mut connection)).await
    }

    /// Runs `script` on the claim's key with `args`, bounded by the timeout.
    async fn run(
        &self,
        script: &redis::Script,
        fingerprint: &Fingerprint,
        args: &[&str],
    ) -> Result<i64, StoreError> {
        self.pass(durability::REPLAY).await?;
        let mut invocation = script.key(self.key(fingerprint));
        for arg in args {
            invocation.arg(*arg);
        }
        let mut connection = self.connection.clone();
        bounded(self.timeout, invocation.invoke_async(&mut connection)).await
    }
}

/// Claims: 1 when this owner now holds the key as pending, 2 when it is done, 0 when another
/// attempt holds it as pending.
const CLAIM: &str = r"
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end
local held = redis.call('GET', KEYS[1])
if held and string.sub(held, 1, 2) == 'd:' then return 2 end
return 0
";

/// A new delivery's label and claim in one round trip: -1 when the body (KEYS[1], its label
/// set) already has ARGV[2] other labels; otherwise the label (ARGV[1]) is recorded for ARGV[3]
/// ms and the claim (KEYS[2]) answered as `CLAIM` does, with ARGV[4] and ARGV[5].
const LABEL_AND_CLAIM: &str = r"
if not admit(KEYS[1], ARGV[1], ARGV[2], ARGV[3]) then return -1 end
if redis.call('SET', KEYS[2], ARGV[4], 'NX', 'PX', ARGV[5]) then return 1 end
local held = redis.call('GET', KEYS[2])
if held and string.sub(held, 1, 2) == 'd:' then return 2 end
return 0
";

/// Marks done when this owner holds the key as pending, or nobody does: 1 if it did.
const COMPLETE: &str = r"
local held = redis.call('GET', KEYS[1])
if held == false or held == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
  return 1
end
return 0
";

/// Deletes the key when this owner holds it as pending: 1 if it did.
const RELEASE: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
";

/// The scripts, hashed once (`EVALSHA`, falling back to `EVAL` when the server lacks them).
struct Scripts {
    claim: redis::Script,
    label_and_claim: redis::Script,
    complete: redis::Script,
    release: redis::Script,
}

static SCRIPTS: std::sync::LazyLock<Scripts> = std::sync::LazyLock::new(|| Scripts {
    claim: redis::Script::new(CLAIM),
    label_and_claim: redis::Script::new(&format!("{ADMIT}{LABEL_AND_CLAIM}")),
    complete: redis::Script::new(COMPLETE),
    release: redis::Script::new(RELEASE),
});

fn millis(duration: Duration) -> String {
    // Redis refuses expiry times past about 292 million years; the guard's longest is 100.
    u64::try_from(duration.min(appwrite_webhooks::MAX_TTL).as_millis())
        .unwrap_or(u64::MAX)
        .max(1)
        .to_string()
}

fn pending(owner: &LeaseToken) -> String {
    format!("p:{owner}")
}

impl ReplayStore for RedisLedger {
    fn claim<'a>(
        &'a self,
        fingerprint: &'a Fingerprint,
        owner: &'a LeaseToken,
        lease: Duration,
    ) -> StoreFuture<'a, ClaimOutcome> {
        Box::pin(async move {
            // A new delivery is the common case: a plain `SET NX PX` claims it. Only when the
            // key exists does the script run, to tell a pending claim from a done one.
            let mut set = redis::cmd("SET");
            set.arg(self.key(fingerprint))
                .arg(pending(owner))
                .arg("NX")
                .arg("PX")
                .arg(millis(lease));
            if self.query::<Option<String>>(set).await?.is_some() {
                return Ok(ClaimOutcome::Claimed);
            }
            let reply = self
                .run(
                    &SCRIPTS.claim,
                    fingerprint,
                    &[&pending(owner), &millis(lease)],
                )
                .await?;
            Ok(match reply {
                1 => ClaimOutcome::Claimed,
                2 => ClaimOutcome::Done,
                _ => ClaimOutcome::InProgress,
            })
        })
    }

    /// One round trip: the label set and the claim in one script.
    fn label_and_claim<'a>(
        &'a self,
        body: &'a Fingerprint,
        fingerprint: &'a Fingerprint,
        owner: &'a LeaseToken,
        (limit, keep): (u32, Duration),
        lease: Duration,
    ) -> StoreFuture<'a, Option<ClaimOutcome>> {
        Box::pin(async move {
            self.pass(durability::REPLAY).await?;
            let mut invocation = SCRIPTS.label_and_claim.prepare_invoke();
            invocation
                .key(self.labels_key(body))
                .key(self.key(fingerprint))
                .arg(fingerprint.as_bytes())
                .arg(limit)
                .arg(millis(keep))
                .arg(pending(owner))
                .arg(millis(lease));
            let mut connection = self.connection.clone();
            let reply: i64 =
                bounded(self.timeout, invocation.invoke_async(&mut connection)).await?;
            Ok(match reply {
                -1 => None,
                1 => Some(ClaimOutcome::Claimed),
                2 => Some(ClaimOutcome::Done),
                _ => Some(ClaimOutcome::InProgress),
            })
        })
    }

    fn complete<'a>(
        &'a self,
        fingerprint: &'a Fingerprint,
        owner: &'a LeaseToken,
        ttl: Duration,
    ) -> StoreFuture<'a, bool> {
        Box::pin(async move {
            let done = format!("d:{owner}");
            let reply = self
                .run(
                    &SCRIPTS.complete,
                    fingerprint,
                    &[&pending(owner), &done, &millis(ttl)],
                )
                .await?;
            Ok(reply == 1)
        })
    }

    fn release<'a>(
        &'a self,
        fingerprint: &'a Fingerprint,
        owner: &'a LeaseToken,
    ) -> StoreFuture<'a, bool> {
        Box::pin(async move {
            let reply = self
                .run(&SCRIPTS.release, fingerprint, &[&pending(owner)])
                .await?;
            Ok(reply == 1)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn keys_are_prefixed_hex() {
        let ledger = RedisLedger::connect_lazily("redis://127.0.0.1:1/")
            .unwrap()
            .with_replay_prefix("p:");
        assert_eq!(
            ledger.key(&Fingerprint::new(&[0xab; 20])),
            format!("p:{}", "ab".repeat(20))
        );
    }
}
