//! The labels each signed body was delivered under, one set per body, for both uses of the
//! ledger: a captured body is handled under at most
//! [`MAX_LABELS_PER_BODY`](appwrite_webhooks::MAX_LABELS_PER_BODY) labels.

use std::time::Duration;

use appwrite_webhooks::{Fingerprint, LabelStore, StoreFuture};

use crate::connection::bounded;
use crate::durability;
use crate::ledger::RedisLedger;

/// A Lua function every script that labels begins with, so the guard's claims, the inbox's
/// deliveries and labels recorded alone count alike: `admit(set, label, limit, keep)` is true
/// when `label` is (now) in the body's `set`, false when the set has `limit` others without
/// it. A new label keeps the set at least `keep` ms more: a short time (the guard's TTL) never
/// cuts a longer one (the inbox's retention) that another label asked for.
pub(crate) const ADMIT: &str = r"
local function admit(set, label, limit, keep)
  if redis.call('SISMEMBER', set, label) == 1 then return true end
  if redis.call('SCARD', set) >= tonumber(limit) then return false end
  redis.call('SADD', set, label)
  if redis.call('PTTL', set) < tonumber(keep) then redis.call('PEXPIRE', set, keep) end
  return true
end
";

/// 1 when the label is (now) in the body's set (KEYS[1]), 0 when the set is full without it.
const LABEL: &str = r"
return admit(KEYS[1], ARGV[1], ARGV[2], ARGV[3]) and 1 or 0
";

static SCRIPT: std::sync::LazyLock<redis::Script> =
    std::sync::LazyLock::new(|| redis::Script::new(&format!("{ADMIT}{LABEL}")));

impl RedisLedger {
    /// The key of `body`'s label set, under the replay prefix: a body replayed to the guard
    /// and to the inbox shares its limit.
    pub(crate) fn labels_key(&self, body: &Fingerprint) -> String {
        format!("{}labels:{body}", self.prefixes.replay)
    }
}

/// One set per body under the replay prefix, for both uses of the ledger: a body replayed to
/// the guard and to the inbox shares its limit. Labels need no append-only file (a lost set
/// only forgets which labels were seen; the inbox checks its own needs when it stores).
impl LabelStore for RedisLedger {
    fn label<'a>(
        &'a self,
        body: &'a Fingerprint,
        label: &'a Fingerprint,
        limit: u32,
        keep: Duration,
    ) -> StoreFuture<'a, bool> {
        Box::pin(async move {
            self.pass(durability::REPLAY).await?;
            // Redis refuses expiry times past about 292 million years; keep within the guard's
            // longest.
            let keep = u64::try_from(keep.min(appwrite_webhooks::MAX_TTL).as_millis())
                .unwrap_or(u64::MAX)
                .max(1);
            let mut invocation = SCRIPT.key(self.labels_key(body));
            invocation.arg(label.as_bytes()).arg(limit).arg(keep);
            let mut connection = self.connection.clone();
            let reply: i64 =
                bounded(self.timeout, invocation.invoke_async(&mut connection)).await?;
            Ok(reply == 1)
        })
    }
}
