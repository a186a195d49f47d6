//! The ledger's key prefix and the two derived from it: the replay guard's and the inbox's.

/// The ledger's key prefix unless
/// [`RedisLedgerBuilder::with_prefix`](crate::RedisLedgerBuilder::with_prefix) sets another:
/// the replay guard's keys are under `<prefix>seen:` ([`DEFAULT_REPLAY_PREFIX`]), the inbox's
/// under `<prefix>inbox:` ([`DEFAULT_INBOX_PREFIX`]).
pub const DEFAULT_LEDGER_PREFIX: &str = "appwrite-webhooks:";

/// Where the replay guard's keys are unless set otherwise: [`DEFAULT_LEDGER_PREFIX`] then
/// `seen:`, the keys a `RedisStore` has always used.
pub const DEFAULT_REPLAY_PREFIX: &str = "appwrite-webhooks:seen:";

/// Where the inbox's keys are unless set otherwise: [`DEFAULT_LEDGER_PREFIX`] then `inbox:`,
/// the keys a `RedisInbox` has always used.
pub const DEFAULT_INBOX_PREFIX: &str = "appwrite-webhooks:inbox:";

/// What follows the ledger's prefix in the replay guard's prefix.
const REPLAY_SUFFIX: &str = "seen:";
/// What follows the ledger's prefix in the inbox's prefix.
const INBOX_SUFFIX: &str = "inbox:";

/// The ledger's prefix and the two derived from it unless set on their own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Prefixes {
    pub(crate) base: String,
    pub(crate) replay: String,
    pub(crate) inbox: String,
    replay_set: bool,
    inbox_set: bool,
}

impl Default for Prefixes {
    fn default() -> Self {
        Self {
            base: DEFAULT_LEDGER_PREFIX.to_owned(),
            replay: DEFAULT_REPLAY_PREFIX.to_owned(),
            inbox: DEFAULT_INBOX_PREFIX.to_owned(),
            replay_set: false,
            inbox_set: false,
        }
    }
}

impl Prefixes {
    pub(crate) fn set_base(&mut self, base: String) {
        if !self.replay_set {
            self.replay = format!("{base}{REPLAY_SUFFIX}");
        }
        if !self.inbox_set {
            self.inbox = format!("{base}{INBOX_SUFFIX}");
        }
        self.base = base;
    }

    pub(crate) fn set_replay(&mut self, prefix: String) {
        (self.replay, self.replay_set) = (prefix, true);
    }

    pub(crate) fn set_inbox(&mut self, prefix: String) {
        (self.inbox, self.inbox_set) = (prefix, true);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_default_prefixes_are_the_keys_of_old() {
        let ledger = crate::RedisLedger::connect_lazily("redis://127.0.0.1:1/").unwrap();
        assert_eq!(ledger.replay_prefix(), DEFAULT_REPLAY_PREFIX);
        assert_eq!(ledger.inbox_prefix(), DEFAULT_INBOX_PREFIX);
        assert_eq!(
            DEFAULT_REPLAY_PREFIX,
            format!("{DEFAULT_LEDGER_PREFIX}{REPLAY_SUFFIX}")
        );
        assert_eq!(
            DEFAULT_INBOX_PREFIX,
            format!("{DEFAULT_LEDGER_PREFIX}{INBOX_SUFFIX}")
        );
    }
}
