//! Property: random interleavings of create, update and delete copies with shuffled
//! `$updatedAt`, handled by concurrent workers through `RedisLedger::ordered`, against a real
//! `redis-server`, mirror the newest state per resource. Seeded and bounded; nothing asserts on
//! time.

mod ordering_support;

use std::collections::HashMap;
use std::time::Duration;

use appwrite_webhooks::inbox::{Put, State};
use ordering_support::{
    Fail, Rng, Seen, Shared, accept, burst, drained, ledger, live, mirror, workers,
};
use testkit::redis::RedisServer;

/// Property: for random histories of users (create, updates, deletes, re-creates), each change
/// sent as several copies (redeliveries and distinct deliveries), shuffled, handled by
/// concurrent workers whose handler fails some first calls (before or after its effect), the
/// mirror ends equal to every user's newest state; no delivery is left pending or dead; late
/// copies are settled stale, their handler not run; `stats` counts what `list` shows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_interleavings_mirror_the_newest_state() {
    let redis = RedisServer::start();
    let mut stale_seen = 0;
    for seed in 0..24u64 {
        let mut rng = Rng::new(seed);
        let users = 1 + rng.below(4) as usize;
        let (sends, expected) = burst(&mut rng, users);
        let (ledger, inbox) = ledger(&redis, &format!("prop{seed}:")).await;
        let seen = Shared::default();
        let fail = move |id: &str, call: u32| {
            let n: u64 = id.trim_start_matches('d').parse().unwrap_or(0);
            match (call, (n + seed) % 4) {
                (1, 0) => Fail::BeforeEffect,
                (1, 1) => Fail::AfterEffect,
                _ => Fail::No,
            }
        };
        // Half of the burst before the workers start, half while they run.
        let (early, late) = sends.split_at(sends.len() / 2);
        let mut ids = HashMap::new();
        for send in early {
            if let Put::Stored(id) = accept(&inbox, send).await {
                ids.insert(id, send.delivery_id.clone());
            }
        }
        let running = workers(&inbox, ledger.ordered(mirror(seen.clone(), fail)), 3).start();
        for send in late {
            if let Put::Stored(id) = accept(&inbox, send).await {
                ids.insert(id, send.delivery_id.clone());
            }
        }
        drained(&inbox).await;
        running.shutdown(Duration::from_secs(5)).await;

        let seen: Seen = std::mem::take(&mut *seen.lock().unwrap());
        assert_eq!(seen.users, live(&expected), "seed {seed}");
        let stats = inbox.admin().stats().await.unwrap();
        assert_eq!(
            (stats.pending, stats.dead),
            (0, 0),
            "seed {seed}: {stats:?}"
        );
        let rows = inbox.admin().list(None, usize::MAX).await.unwrap();
        assert_eq!(rows.len() as u64, stats.stored, "seed {seed}");
        for row in &rows {
            let id = &ids[&row.id];
            let effects = seen.effects.get(id).copied().unwrap_or(0);
            match row.state {
                State::Done => assert!(effects >= 1, "seed {seed}: {row:?}"),
                // A stale delivery's handler never ran — but for a first call that failed,
                // before it was found stale on its retry: its effect, if it failed after it,
                // is outside Redis (and a newer version applied after it overwrote it).
                State::Stale => {
                    let calls = seen.calls.get(id).copied().unwrap_or(0);
                    let (max_calls, max_effects) = match fail(id, 1) {
                        Fail::No => (0, 0),
                        Fail::BeforeEffect => (1, 0),
                        Fail::AfterEffect => (1, 1),
                    };
                    assert!(calls <= max_calls, "seed {seed}: {calls} calls: {row:?}");
                    assert!(effects <= max_effects, "seed {seed}: {row:?}");
                }
                state => panic!("seed {seed}: {state:?}"),
            }
        }
        for (state, count) in [(State::Stale, stats.stale), (State::Done, stats.done)] {
            let listed = inbox.admin().list(Some(state), usize::MAX).await.unwrap();
            assert_eq!(listed.len() as u64, count, "seed {seed}: {state:?}");
            assert!(listed.iter().all(|row| row.state == state));
        }
        stale_seen += stats.stale;
    }
    assert!(stale_seen > 0, "the bursts never produced a stale copy");
}
