//! A Redis that may drop what a store keeps is refused when the store connects (or, connected
//! lazily, on its first command, until it is fixed), with an error naming the setting and the
//! fix — unless the store was built with `allow_data_loss()`. Each against a real
//! `redis-server` started with the setting under test.

use std::time::Duration;

use appwrite_webhooks::inbox::{Inbox, InboxAdmin, Put};
use appwrite_webhooks::{ClaimOutcome, Error, Fingerprint, LeaseToken, ReplayStore, StoreError};
use appwrite_webhooks_redis::{DataLossRisk, RedisInbox, RedisStore};
use testkit::inbox_suite::{accept, stored};
use testkit::redis::RedisServer;

fn risk(error: &StoreError) -> &DataLossRisk {
    DataLossRisk::of(error).unwrap_or_else(|| panic!("not a DataLossRisk: {error}"))
}

async fn claims(store: &RedisStore) -> Result<ClaimOutcome, StoreError> {
    let fingerprint = Fingerprint::new(&[7; 20]);
    store
        .claim(&fingerprint, &LeaseToken::new(), Duration::from_secs(60))
        .await
}

#[tokio::test]
async fn an_evicting_redis_is_refused_by_both_stores() {
    for policy in [
        "allkeys-lru",
        "allkeys-random",
        "volatile-lru",
        "volatile-ttl",
    ] {
        let redis = RedisServer::start_with(&["--maxmemory-policy", policy]);
        let url = redis.url();

        let error = RedisStore::connect(&url).await.unwrap_err();
        assert_eq!(
            risk(&error),
            &DataLossRisk::Eviction {
                policy: policy.into()
            }
        );
        let message = error.to_string() + &error.0.to_string();
        assert!(message.contains("maxmemory-policy noeviction"), "{message}");
        assert!(message.contains("allow_data_loss"), "{message}");

        let error = RedisInbox::connect(&url).await.unwrap_err();
        assert!(matches!(risk(&error), DataLossRisk::Eviction { .. }));

        // Connected lazily: the first commands fail the same way, and nothing is written.
        let store = RedisStore::connect_lazily(&url).unwrap();
        assert!(matches!(
            risk(&claims(&store).await.unwrap_err()),
            DataLossRisk::Eviction { .. }
        ));
        let inbox = Inbox::new(RedisInbox::connect_lazily(&url).unwrap());
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
async fn an_inbox_refuses_redis_without_an_append_only_file() {
    let redis = RedisServer::start_with(&["--appendonly", "no"]);
    let error = RedisInbox::connect(&redis.url()).await.unwrap_err();
    assert_eq!(
        risk(&error),
        &DataLossRisk::NoAppendOnly {
            appendonly: "no".into()
        }
    );
    assert!(error.0.to_string().contains("appendonly yes"), "{error}");
    let lazy = RedisInbox::connect_lazily(&redis.url()).unwrap();
    assert!(matches!(
        risk(&lazy.stats().await.unwrap_err()),
        DataLossRisk::NoAppendOnly { .. }
    ));

    // The replay guard's records only de-duplicate: a restart that forgets them means a copy
    // is handled again (at least once, as always), so it needs no append-only file.
    let store = RedisStore::connect(&redis.url()).await.unwrap();
    assert_eq!(claims(&store).await.unwrap(), ClaimOutcome::Claimed);
}

#[tokio::test]
async fn a_redis_whose_settings_cannot_be_read_is_refused_with_how_to_opt_in() {
    let redis = RedisServer::start_with(&["--rename-command", "CONFIG", ""]);
    let error = RedisInbox::connect(&redis.url()).await.unwrap_err();
    assert!(matches!(
        risk(&error),
        DataLossRisk::ConfigUnavailable { .. }
    ));
    let message = error.0.to_string();
    assert!(
        message.contains("CONFIG") && message.contains("allow_data_loss"),
        "{message}"
    );
    let error = RedisStore::connect(&redis.url()).await.unwrap_err();
    assert!(matches!(
        risk(&error),
        DataLossRisk::ConfigUnavailable { .. }
    ));

    // Opted in: both work, without reading the settings.
    let store = RedisStore::builder(redis.url())
        .allow_data_loss()
        .connect()
        .await
        .unwrap();
    assert_eq!(claims(&store).await.unwrap(), ClaimOutcome::Claimed);
    let inbox = Inbox::new(
        RedisInbox::builder(redis.url())
            .allow_data_loss()
            .connect()
            .await
            .unwrap(),
    );
    stored(&inbox, r#"{"$id":"u1"}"#).await;
}

#[tokio::test]
async fn an_explicit_opt_in_accepts_an_unsafe_redis() {
    let redis =
        RedisServer::start_with(&["--maxmemory-policy", "allkeys-lru", "--appendonly", "no"]);
    let url = redis.url();
    let store = RedisStore::builder(&url)
        .allow_data_loss()
        .connect()
        .await
        .unwrap();
    assert_eq!(claims(&store).await.unwrap(), ClaimOutcome::Claimed);
    let lazy = RedisStore::connect_lazily(&url).unwrap().allow_data_loss();
    assert_eq!(claims(&lazy).await.unwrap(), ClaimOutcome::InProgress);

    let inbox = Inbox::new(
        RedisInbox::builder(&url)
            .allow_data_loss()
            .prefix("opted-in:")
            .connect()
            .await
            .unwrap(),
    );
    let id = stored(&inbox, r#"{"$id":"u1"}"#).await;
    let lazy = Inbox::new(
        RedisInbox::connect_lazily(&url)
            .unwrap()
            .prefix("opted-in:")
            .allow_data_loss(),
    );
    assert_eq!(
        accept(&lazy, r#"{"$id":"u1"}"#).await.unwrap(),
        Put::Duplicate(id)
    );
}

#[tokio::test]
async fn a_safe_redis_is_accepted_and_a_lazy_store_recovers_once_it_is_fixed() {
    let safe = RedisServer::start();
    let store = RedisStore::connect(&safe.url()).await.unwrap();
    assert_eq!(claims(&store).await.unwrap(), ClaimOutcome::Claimed);
    let inbox = Inbox::new(RedisInbox::connect(&safe.url()).await.unwrap());
    stored(&inbox, r#"{"$id":"u1"}"#).await;

    // A lazy inbox refuses until the operator fixes the server, then works without a restart.
    let redis = RedisServer::start_with(&["--maxmemory-policy", "allkeys-lru"]);
    let inbox = Inbox::new(RedisInbox::connect_lazily(&redis.url()).unwrap());
    assert!(accept(&inbox, r#"{"$id":"u1"}"#).await.is_err());
    assert_eq!(
        redis.cli(&["CONFIG", "SET", "maxmemory-policy", "noeviction"]),
        "OK"
    );
    stored(&inbox, r#"{"$id":"u1"}"#).await;
    let store = RedisStore::connect_lazily(&redis.url()).unwrap();
    assert_eq!(claims(&store).await.unwrap(), ClaimOutcome::Claimed);
}
