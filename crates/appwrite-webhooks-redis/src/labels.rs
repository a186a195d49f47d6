//! The labels each signed body was delivered under, one set per body, for both uses of the
//! ledger: a captured body is handled under at most
//! [`MAX_LABELS_PER_BODY`](appwrite_webhooks::MAX_LABELS_PER_BODY) labels.

use std::time::Duration;

use appwrite_webhooks::{Fingerprint, LabelStore, StoreFuture};

use crate::connection::bounded;
use crate::durability;
use crate::ledger::RedisLedger;

/// 1 when the label is (now) in the body's set, 0 when the set is full without it. The set
/// expires `keep` after its last new label.
const LABEL: &str = r"
if redis.call('SISMEMBER', KEYS[1], ARGV[1]) == 1 then return 1 end
if redis.call('SCARD', KEYS[1]) >= tonumber(ARGV[2]) then return 0 end
redis.call('SADD', KEYS[1], ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
";

static SCRIPT: std::sync::LazyLock<redis::Script> =
    std::sync::LazyLock::new(|| redis::Script::new(LABEL));

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
            let mut invocation = SCRIPT.key(format!("{}labels:{body}", self.prefixes.replay));
            invocation.arg(label.as_bytes()).arg(limit).arg(keep);
            let mut connection = self.connection.clone();
            let reply: i64 =
                bounded(self.timeout, invocation.invoke_async(&mut connection)).await?;
            Ok(reply == 1)
        })
    }
}
