//! One `RedisLedger` as the replay guard's store and the inbox at once, on today's keys; and
//! the deprecated `RedisStore` and `RedisInbox`, which keep their defaults and their keys, so
//! what they wrote is read by a ledger.

use std::time::Duration;

use appwrite_webhooks::inbox::{Inbox, InboxAdmin, State, Workers};
use appwrite_webhooks::{
    Admission, ClaimOutcome, Delivery, Fingerprint, LeaseToken, ReplayGuard, ReplayStore,
};
use appwrite_webhooks_redis::{
    DEFAULT_INBOX_PREFIX, DEFAULT_LEDGER_TIMEOUT, DEFAULT_REPLAY_PREFIX, DataLossRisk, RedisLedger,
};
use testkit::at_least_once;
use testkit::inbox_suite::{self, stored, until};
use testkit::redis::RedisServer;

const MINUTE: Duration = Duration::from_secs(60);

/// The keys matching `pattern`, sorted.
fn keys(redis: &RedisServer, pattern: &str) -> Vec<String> {
    let mut keys: Vec<String> = redis
        .cli(&["KEYS", pattern])
        .lines()
        .map(str::to_owned)
        .filter(|k| !k.is_empty())
        .collect();
    keys.sort();
    keys
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_ledger_serves_a_replay_guard_and_an_inbox_at_once() {
    let redis = RedisServer::start();
    let ledger = RedisLedger::connect(&redis.url()).await.unwrap();
    assert_eq!(
        (ledger.replay_prefix(), ledger.inbox_prefix()),
        (DEFAULT_REPLAY_PREFIX, DEFAULT_INBOX_PREFIX)
    );
    assert_eq!(ledger.timeout(), DEFAULT_LEDGER_TIMEOUT);
    ledger.check_inbox().await.unwrap();

    let guard = ReplayGuard::new(ledger.clone());
    let inbox = Inbox::new(ledger.clone());
    let handled = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = handled.clone();
    let workers = Workers::new(
        inbox.clone(),
        inbox_suite::verifier(),
        move |_: Delivery| {
            let counter = counter.clone();
            async move {
                counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                Ok::<_, std::io::Error>(())
            }
        },
    )
    .start();

    // Both uses at the same moment, on one connection.
    let sent = at_least_once::delivery("sync");
    let verifier = at_least_once::verifier(guard.clone());
    let delivery = verifier.verify(sent.headers(), sent.body()).unwrap();
    let (claim, id) = tokio::join!(
        at_least_once::admit(&guard, &delivery),
        stored(&inbox, r#"{"$id":"u1"}"#)
    );
    claim
        .expect("the guard's first copy is handled")
        .complete()
        .await;
    until("the inbox's delivery handled", async || {
        inbox.admin().stats().await.unwrap().done == 1
    })
    .await;
    workers.shutdown(MINUTE).await;
    assert_eq!(handled.load(std::sync::atomic::Ordering::SeqCst), 1);

    // Claims and deliveries on their own keys, where a RedisStore and a RedisInbox kept them.
    let claim_key = format!("{DEFAULT_REPLAY_PREFIX}{}", delivery.fingerprint());
    assert!(redis.cli(&["GET", &claim_key]).starts_with("d:"));
    assert_eq!(
        redis.cli(&["HGET", &format!("{DEFAULT_INBOX_PREFIX}d:{id}"), "state"]),
        "done"
    );
    // One label set per body for both uses (two bodies here), under the replay prefix: a body
    // replayed to the guard and to the inbox shares its limit.
    assert_eq!(
        keys(&redis, &format!("{DEFAULT_REPLAY_PREFIX}labels:*")).len(),
        2
    );
    assert!(keys(&redis, &format!("{DEFAULT_INBOX_PREFIX}labels:*")).is_empty());

    // A copy of each is a copy; the guard's record is no inbox delivery.
    assert!(matches!(
        at_least_once::admit(&guard, &delivery).await,
        Err(Admission::Duplicate { .. })
    ));
    assert!(matches!(
        inbox_suite::accept(&inbox, r#"{"$id":"u1"}"#).await.unwrap(),
        appwrite_webhooks::inbox::Put::Duplicate(same) if same == id
    ));
    let listed = ledger.list(None, 10).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].state, State::Done);
}

#[tokio::test]
#[allow(deprecated)]
async fn the_deprecated_names_keep_todays_keys_and_a_ledger_reads_them() {
    use appwrite_webhooks_redis::{DEFAULT_PREFIX, RedisInbox, RedisStore};
    let redis = RedisServer::start();
    let url = redis.url();
    let fingerprint = Fingerprint::new(&[3; 20]);
    let owner = LeaseToken::new();

    // Written with the old names and their default prefixes...
    let store = RedisStore::connect(&url).await.unwrap();
    assert_eq!(
        store.claim(&fingerprint, &owner, MINUTE).await.unwrap(),
        ClaimOutcome::Claimed
    );
    assert!(store.complete(&fingerprint, &owner, MINUTE).await.unwrap());
    let id = stored(&Inbox::new(RedisInbox::connect(&url).await.unwrap()), "{}").await;
    assert_eq!(
        redis.cli(&["GET", &format!("{DEFAULT_PREFIX}{fingerprint}")]),
        format!("d:{owner}")
    );
    assert_eq!(
        keys(&redis, "appwrite-webhooks:inbox:d:*"),
        [format!("appwrite-webhooks:inbox:d:{id}")]
    );

    // ... read by a ledger with its defaults.
    let ledger = RedisLedger::connect(&url).await.unwrap();
    assert_eq!(
        ledger
            .claim(&fingerprint, &LeaseToken::new(), MINUTE)
            .await
            .unwrap(),
        ClaimOutcome::Done
    );
    assert_eq!(ledger.get(id).await.unwrap().unwrap().state, State::Pending);

    // Custom prefixes map one to one.
    let store = RedisStore::builder(&url)
        .prefix("a:")
        .connect()
        .await
        .unwrap();
    assert_eq!(
        store.claim(&fingerprint, &owner, MINUTE).await.unwrap(),
        ClaimOutcome::Claimed
    );
    let old_inbox = RedisInbox::connect_lazily(&url).unwrap().prefix("b:");
    let id = stored(&Inbox::new(old_inbox), "{}").await;
    let ledger = RedisLedger::builder(&url)
        .with_replay_prefix("a:")
        .with_inbox_prefix("b:")
        .connect()
        .await
        .unwrap();
    assert_eq!(
        ledger
            .claim(&fingerprint, &LeaseToken::new(), MINUTE)
            .await
            .unwrap(),
        ClaimOutcome::InProgress
    );
    assert!(
        ledger.release(&fingerprint, &owner).await.unwrap(),
        "the same claim"
    );
    assert!(ledger.get(id).await.unwrap().is_some());

    // The old defaults are kept: their timeouts, their prefixes.
    let store = RedisLedger::from(RedisStore::connect_lazily(&url).unwrap());
    assert_eq!(
        (store.timeout(), store.replay_prefix()),
        (Duration::from_secs(1), DEFAULT_PREFIX)
    );
    let inbox = RedisLedger::from(
        RedisInbox::builder(&url)
            .prefix("c:")
            .allow_data_loss()
            .connect_lazily()
            .unwrap(),
    );
    assert_eq!(
        (
            inbox.timeout(),
            inbox.inbox_prefix(),
            inbox.data_loss_allowed()
        ),
        (Duration::from_secs(2), "c:", true)
    );
}

#[tokio::test]
#[allow(deprecated)]
async fn the_deprecated_inbox_still_refuses_appendonly_no_when_it_connects() {
    use appwrite_webhooks_redis::{RedisInbox, RedisStore};
    let redis = RedisServer::start_with(&["--appendonly", "no"]);
    let error = RedisInbox::connect(&redis.url()).await.unwrap_err();
    assert!(matches!(
        DataLossRisk::of(&error),
        Some(DataLossRisk::NoAppendOnly { .. })
    ));
    assert!(
        RedisInbox::builder(redis.url())
            .allow_data_loss()
            .connect()
            .await
            .is_ok()
    );
    let store = RedisStore::connect(&redis.url()).await.unwrap();
    assert_eq!(
        store
            .claim(&Fingerprint::new(&[1; 20]), &LeaseToken::new(), MINUTE)
            .await
            .unwrap(),
        ClaimOutcome::Claimed
    );
}
