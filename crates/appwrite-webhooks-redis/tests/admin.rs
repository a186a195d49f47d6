//! Administration over many deliveries runs in bounded batches, so receivers keep storing
//! deliveries while it runs (Redis runs one script at a time: one script over every key would
//! hold every `put` until it ended). Against a real `redis-server`; count-based, no timing.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use appwrite_webhooks::inbox::{InboxAdmin, InboxStore, Purge, Put, Received, State};
use appwrite_webhooks_redis::RedisLedger;
use testkit::redis::RedisServer;

const HOUR: Duration = Duration::from_secs(3600);

fn received(n: u64) -> Received {
    Received {
        fingerprint: n.to_be_bytes().to_vec(),
        received_at: SystemTime::now(),
        uri: "/hook".into(),
        headers: http::HeaderMap::new(),
        body: format!(r#"{{"$id":"u{n}"}}"#).into(),
    }
}

/// Stores deliveries `from..to`, each taken and then completed (`done`) or dead, from 16
/// tasks at once.
async fn seed(store: &Arc<RedisLedger>, from: u64, to: u64, done: bool) {
    let tasks: Vec<_> = (0..16)
        .map(|task| {
            let store = Arc::clone(store);
            tokio::spawn(async move {
                for n in (from + task..to).step_by(16) {
                    assert!(matches!(
                        store.put(received(n)).await.unwrap(),
                        Put::Stored(_)
                    ));
                    let taken = store.take("seed", HOUR).await.unwrap().unwrap();
                    let settled = if done {
                        store.complete(&taken.lease, HOUR).await
                    } else {
                        store.dead(&taken.lease, "failed").await
                    };
                    assert!(settled.unwrap());
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
}

fn count_keys(redis: &RedisServer, pattern: &str) -> String {
    redis.cli(&["EVAL", "return #redis.call('KEYS', ARGV[1])", "0", pattern])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn purging_twenty_thousand_deliveries_never_holds_up_receivers() {
    const DONE: u64 = 20_000;
    let redis = RedisServer::start();
    let store = Arc::new(
        RedisLedger::connect(&redis.url())
            .await
            .unwrap()
            .with_inbox_prefix("many:")
            .with_timeout(Duration::from_secs(30)),
    );
    seed(&store, 0, DONE, true).await;
    assert_eq!(store.stats().await.unwrap().done, DONE);

    // Listing the pending among them looks through every id, a batch per call.
    let late = match store.put(received(DONE)).await.unwrap() {
        Put::Stored(id) => id,
        other => panic!("{other:?}"),
    };
    let pending = store.list(Some(State::Pending), 10).await.unwrap();
    assert_eq!(pending.iter().map(|s| s.id).collect::<Vec<_>>(), [late]);
    assert_eq!(store.list(None, 1234).await.unwrap().len(), 1234);

    // Purge on one handle; a receiver keeps storing on another connection meanwhile.
    let purging = tokio::spawn({
        let store = Arc::clone(&store);
        async move { store.purge(Purge::Done).await.unwrap() }
    });
    let receiver = RedisLedger::connect(&redis.url())
        .await
        .unwrap()
        .with_inbox_prefix("many:");
    let mut done_after_each_put = Vec::new();
    for n in 1..=200 {
        let put = receiver.put(received(DONE + n)).await.unwrap();
        assert!(matches!(put, Put::Stored(_)), "{put:?}");
        let done = receiver.stats().await.unwrap().done;
        done_after_each_put.push(done);
        if done == 0 {
            break;
        }
    }
    // Puts were answered while the purge was part-way: one script over every key would have
    // answered them either before it started (all 20 000 left) or after it ended (none).
    assert!(
        done_after_each_put
            .iter()
            .any(|&done| 0 < done && done < DONE),
        "{done_after_each_put:?}"
    );
    assert_eq!(purging.await.unwrap(), DONE, "every done delivery purged");

    let stats = store.stats().await.unwrap();
    assert_eq!(stats.done, 0);
    let stored = 1 + done_after_each_put.len();
    assert_eq!(stats.pending, stored as u64, "what was pending is kept");
    assert_eq!(count_keys(&redis, "many:d:*"), stored.to_string());
    assert_eq!(count_keys(&redis, "many:fp:*"), stored.to_string());
    assert_eq!(store.list(None, usize::MAX).await.unwrap().len(), stored);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retrying_and_purging_more_dead_letters_than_a_batch() {
    const DEAD: u64 = 1_234;
    let redis = RedisServer::start();
    let store = Arc::new(
        RedisLedger::connect(&redis.url())
            .await
            .unwrap()
            .with_inbox_prefix("letters:")
            .with_timeout(Duration::from_secs(30)),
    );
    seed(&store, 0, DEAD, false).await;
    seed(&store, DEAD, DEAD + 700, true).await;
    assert_eq!(store.stats().await.unwrap().dead, DEAD);
    assert_eq!(
        store
            .list(Some(State::Dead), usize::MAX)
            .await
            .unwrap()
            .len(),
        DEAD as usize
    );

    assert_eq!(store.requeue_dead().await.unwrap(), DEAD);
    let stats = store.stats().await.unwrap();
    assert_eq!((stats.dead, stats.pending), (0, DEAD));
    assert_eq!(store.requeue_dead().await.unwrap(), 0);

    // Dead again, then purged with the done ones.
    for _ in 0..DEAD {
        let taken = store.take("w", HOUR).await.unwrap().unwrap();
        assert_eq!(taken.attempt, 1, "attempts were reset");
        assert!(store.dead(&taken.lease, "again").await.unwrap());
    }
    assert_eq!(store.purge(Purge::DoneAndDead).await.unwrap(), DEAD + 700);
    assert_eq!(store.stats().await.unwrap(), Default::default());
    assert_eq!(count_keys(&redis, "letters:d:*"), "0");
    assert_eq!(redis.cli(&["XLEN", "letters:dead"]), "0");
}
