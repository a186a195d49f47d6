//! A Redis that may drop what the ledger keeps is refused when the ledger connects (or,
//! connected lazily, on its first command, until it is fixed), with an error naming the setting
//! and the fix — unless the ledger was built with `with_data_loss_allowed(true)`. The inbox's
//! `appendonly yes` is asked only of a ledger used as an inbox. Each against a real
//! `redis-server` started with the setting under test.

use std::time::Duration;

use appwrite_webhooks::inbox::{Inbox, InboxAdmin, Put};
use appwrite_webhooks::{ClaimOutcome, Error, Fingerprint, LeaseToken, ReplayStore, StoreError};
use appwrite_webhooks_redis::{DataLossRisk, RedisLedger};
use testkit::inbox_suite::{accept, stored};
use testkit::redis::RedisServer;

fn risk(error: &StoreError) -> &DataLossRisk {
    DataLossRisk::of(error).unwrap_or_else(|| panic!("not a DataLossRisk: {error}"))
}

async fn claims(store: &RedisLedger) -> Result<ClaimOutcome, StoreError> {
    let fingerprint = Fingerprint::new(&[7; 20]);
    store
        .claim(&fingerprint, &LeaseToken::new(), Duration::from_secs(60))
        .await
}

#[tokio::test]
async fn an_evicting_redis_is_refused_for_both_uses() {
    for policy in [
        "allkeys-lru",
        "allkeys-random",
        "volatile-lru",
        "volatile-ttl",
    ] {
        let redis = RedisServer::start_with(&["--maxmemory-policy", policy]);
        let url = redis.url();

        let error = RedisLedger::connect(&url).await.unwrap_err();
        assert_eq!(
            risk(&error),
            &DataLossRisk::Eviction {
                policy: policy.into()
            }
        );
        let message = error.to_string() + &error.0.to_string();
        assert!(message.contains("maxmemory-policy noeviction"), "{message}");
        assert!(
            message.contains("with_data_loss_allowed(true)"),
            "{message}"
        );

        // Connected lazily: the first commands fail the same way, and nothing is written.
        let store = RedisLedger::connect_lazily(&url).unwrap();
        assert!(matches!(
            risk(&claims(&store).await.unwrap_err()),
            DataLossRisk::Eviction { .. }
        ));
        let inbox = Inbox::new(RedisLedger::connect_lazily(&url).unwrap());
        let error = accept(&inbox, r#"{"$id":"u1"}"#).await.unwrap_err();
        let Error::InboxStore(inner) = &error else {
            panic!("{error:?}")
        };
        assert!(matches!(risk(inner), DataLossRisk::Eviction { .. }));
        assert_eq!(error.status(), 503, "not acknowledged");
        assert_eq!(redis.cli(&["DBSIZE"]), "0", "{policy}: nothing written");
    }
}

#[tokio::test]
async fn only_the_inbox_asks_for_an_append_only_file() {
    let redis = RedisServer::start_with(&["--appendonly", "no"]);
    // The replay guard's records only de-duplicate: a restart that forgets them means a copy
    // is handled again (at least once, as always), so it needs no append-only file.
    let ledger = RedisLedger::connect(&redis.url()).await.unwrap();
    assert_eq!(claims(&ledger).await.unwrap(), ClaimOutcome::Claimed);

    // The same ledger as an inbox: refused at start-up, and on every command, nothing written.
    let error = ledger.check_inbox().await.unwrap_err();
    assert_eq!(
        risk(&error),
        &DataLossRisk::NoAppendOnly {
            appendonly: "no".into()
        }
    );
    assert!(error.0.to_string().contains("appendonly yes"), "{error}");
    let inbox = Inbox::new(ledger.clone());
    let error = accept(&inbox, r#"{"$id":"u1"}"#).await.unwrap_err();
    assert_eq!(error.status(), 503, "not acknowledged");
    assert!(matches!(
        risk(&ledger.stats().await.unwrap_err()),
        DataLossRisk::NoAppendOnly { .. }
    ));
    assert_eq!(redis.cli(&["KEYS", "appwrite-webhooks:inbox:*"]), "");
    // ... while the guard goes on.
    assert_eq!(claims(&ledger).await.unwrap(), ClaimOutcome::InProgress);
    let lazy = RedisLedger::connect_lazily(&redis.url()).unwrap();
    assert!(matches!(
        risk(&lazy.stats().await.unwrap_err()),
        DataLossRisk::NoAppendOnly { .. }
    ));

    // Fixed without a restart: the inbox works from its next command.
    assert_eq!(redis.cli(&["CONFIG", "SET", "appendonly", "yes"]), "OK");
    ledger.check_inbox().await.unwrap();
    stored(&inbox, r#"{"$id":"u1"}"#).await;
    assert_eq!(lazy.stats().await.unwrap().pending, 1);
}

#[tokio::test]
async fn a_redis_whose_settings_cannot_be_read_is_refused_with_how_to_opt_in() {
    let redis = RedisServer::start_with(&["--rename-command", "CONFIG", ""]);
    let error = RedisLedger::connect(&redis.url()).await.unwrap_err();
    assert!(matches!(
        risk(&error),
        DataLossRisk::ConfigUnavailable { .. }
    ));
    let message = error.0.to_string();
    assert!(
        message.contains("CONFIG") && message.contains("with_data_loss_allowed(true)"),
        "{message}"
    );
    let lazy = RedisLedger::connect_lazily(&redis.url()).unwrap();
    let error = lazy.check_inbox().await.unwrap_err();
    assert!(matches!(
        risk(&error),
        DataLossRisk::ConfigUnavailable { .. }
    ));

    // Opted in: both uses work, without reading the settings.
    let ledger = RedisLedger::builder(redis.url())
        .with_data_loss_allowed(true)
        .connect()
        .await
        .unwrap();
    assert_eq!(claims(&ledger).await.unwrap(), ClaimOutcome::Claimed);
    ledger.check_inbox().await.unwrap();
    stored(&Inbox::new(ledger), r#"{"$id":"u1"}"#).await;
}

#[tokio::test]
async fn an_explicit_opt_in_accepts_an_unsafe_redis() {
    let redis =
        RedisServer::start_with(&["--maxmemory-policy", "allkeys-lru", "--appendonly", "no"]);
    let url = redis.url();
    let ledger = RedisLedger::builder(&url)
        .with_data_loss_allowed(true)
        .with_prefix("opted-in:")
        .connect()
        .await
        .unwrap();
    assert!(ledger.data_loss_allowed());
    assert_eq!(claims(&ledger).await.unwrap(), ClaimOutcome::Claimed);
    let lazy = RedisLedger::connect_lazily(&url)
        .unwrap()
        .with_prefix("opted-in:")
        .with_data_loss_allowed(true);
    assert_eq!(claims(&lazy).await.unwrap(), ClaimOutcome::InProgress);

    let id = stored(&Inbox::new(ledger), r#"{"$id":"u1"}"#).await;
    let lazy = Inbox::new(lazy);
    assert_eq!(
        accept(&lazy, r#"{"$id":"u1"}"#).await.unwrap(),
        Put::Duplicate(id)
    );
}

#[tokio::test]
async fn a_safe_redis_is_accepted_and_a_lazy_ledger_recovers_once_it_is_fixed() {
    let safe = RedisServer::start();
    let ledger = RedisLedger::connect(&safe.url()).await.unwrap();
    assert_eq!(claims(&ledger).await.unwrap(), ClaimOutcome::Claimed);
    ledger.check_inbox().await.unwrap();
    stored(&Inbox::new(ledger), r#"{"$id":"u1"}"#).await;

    // A lazy inbox refuses until the operator fixes the server, then works without a restart.
    let redis = RedisServer::start_with(&["--maxmemory-policy", "allkeys-lru"]);
    let inbox = Inbox::new(RedisLedger::connect_lazily(&redis.url()).unwrap());
    assert!(accept(&inbox, r#"{"$id":"u1"}"#).await.is_err());
    assert_eq!(
        redis.cli(&["CONFIG", "SET", "maxmemory-policy", "noeviction"]),
        "OK"
    );
    stored(&inbox, r#"{"$id":"u1"}"#).await;
    let store = RedisLedger::connect_lazily(&redis.url()).unwrap();
    assert_eq!(claims(&store).await.unwrap(), ClaimOutcome::Claimed);
}
