//! Against a real `redis-server` started by the test on a free loopback port (`.ci/run`
//! installs it): the store's own semantics, and the ways Redis fails under a receiver — killed,
//! slow (`CLIENT PAUSE`), shared by replicas, outliving a receiver process that was killed.

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use appwrite_webhooks::sender::SignedDelivery;
use appwrite_webhooks::{
    ClaimOutcome, Delivery, Fingerprint, LeaseToken, ReplayGuard, ReplayStore, StoreFailure,
    Verifier,
};
use appwrite_webhooks_redis::{DEFAULT_REPLAY_PREFIX, RedisLedger};
use appwrite_webhooks_tower::AppwriteWebhookLayer;
use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use testkit::at_least_once::{self, BEHAVIOUR};
use testkit::redis::{RedisServer, free_port};
use tower::ServiceBuilder;

const MINUTE: Duration = Duration::from_secs(60);

#[tokio::test]
async fn claims_are_atomic_owned_and_expire() {
    let redis = RedisServer::start();
    let store = RedisLedger::connect(&redis.url())
        .await
        .unwrap()
        .with_replay_prefix("test:");
    let fingerprint = Fingerprint::new(&[1; 20]);
    let (a, b) = (LeaseToken::new(), LeaseToken::new());
    assert_eq!(
        store.claim(&fingerprint, &a, MINUTE).await.unwrap(),
        ClaimOutcome::Claimed
    );
    assert_eq!(
        store.claim(&fingerprint, &b, MINUTE).await.unwrap(),
        ClaimOutcome::InProgress
    );
    // Only the owner finishes or releases a pending claim.
    assert!(!store.release(&fingerprint, &b).await.unwrap());
    assert!(!store.complete(&fingerprint, &b, MINUTE).await.unwrap());
    assert!(store.release(&fingerprint, &a).await.unwrap());
    assert_eq!(
        store.claim(&fingerprint, &b, MINUTE).await.unwrap(),
        ClaimOutcome::Claimed
    );
    assert!(store.complete(&fingerprint, &b, MINUTE).await.unwrap());
    assert!(
        !store.release(&fingerprint, &b).await.unwrap(),
        "done is not released"
    );
    assert_eq!(
        store.claim(&fingerprint, &a, MINUTE).await.unwrap(),
        ClaimOutcome::Done
    );

    // A lease runs out by itself (PX): the claim of a process that died.
    let leased = Fingerprint::new(&[3; 20]);
    let lease = Duration::from_millis(150);
    assert_eq!(
        store.claim(&leased, &a, lease).await.unwrap(),
        ClaimOutcome::Claimed
    );
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(
        store.claim(&leased, &b, MINUTE).await.unwrap(),
        ClaimOutcome::Claimed
    );
    assert!(
        !store.complete(&leased, &a, MINUTE).await.unwrap(),
        "b holds it now"
    );

    // Concurrent claims of one fingerprint from separate connections: exactly one wins.
    let other = RedisLedger::connect(&redis.url())
        .await
        .unwrap()
        .with_replay_prefix("test:");
    let contested = Fingerprint::new(&[2; 20]);
    let (x, y) = tokio::join!(
        store.claim(&contested, &a, MINUTE),
        other.claim(&contested, &b, MINUTE)
    );
    let mut outcomes = [x.unwrap(), y.unwrap()];
    outcomes.sort_by_key(|o| *o == ClaimOutcome::Claimed);
    assert_eq!(outcomes, [ClaimOutcome::InProgress, ClaimOutcome::Claimed]);

    // Prefixes separate receivers; a far-future TTL is accepted.
    let separate = RedisLedger::connect(&redis.url())
        .await
        .unwrap()
        .with_replay_prefix("other:");
    assert_eq!(
        separate.claim(&contested, &a, Duration::MAX).await.unwrap(),
        ClaimOutcome::Claimed
    );
    assert!(
        separate
            .complete(&contested, &a, Duration::MAX)
            .await
            .unwrap()
    );
}

/// A hyper + tower receiver counting how often its handler ran; fails the first `fail_first`
/// deliveries with a 500.
async fn spawn_receiver(
    verifier: Verifier,
    handled: Arc<AtomicUsize>,
    fail_first: usize,
) -> SocketAddr {
    let service = ServiceBuilder::new()
        .layer(AppwriteWebhookLayer::new(verifier))
        .service_fn(move |request: Request<Full<Bytes>>| {
            let handled = Arc::clone(&handled);
            async move {
                assert!(request.extensions().get::<Delivery>().is_some());
                let n = handled.fetch_add(1, Ordering::SeqCst);
                let status = if n < fail_first {
                    StatusCode::INTERNAL_SERVER_ERROR
                } else {
                    StatusCode::NO_CONTENT
                };
                let mut response = Response::new(Full::<Bytes>::default());
                *response.status_mut() = status;
                Ok::<_, std::convert::Infallible>(response)
            }
        });
    testkit::net::serve_tower(service).await
}

async fn deliver(addr: SocketAddr, sent: &SignedDelivery) -> u16 {
    testkit::net::send(sent, addr).await.0
}

fn verifier(store: RedisLedger, policy: StoreFailure) -> Verifier {
    at_least_once::verifier(ReplayGuard::new(store).with_store_failure(policy))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_sharing_redis_handle_each_delivery_once() {
    let redis = RedisServer::start();
    let handled = Arc::new(AtomicUsize::new(0));
    let mut replicas = Vec::new();
    for _ in 0..2 {
        let store = RedisLedger::connect(&redis.url()).await.unwrap();
        let verifier = verifier(store, StoreFailure::Reject);
        replicas.push(spawn_receiver(verifier, Arc::clone(&handled), 0).await);
    }
    let (a, b) = (replicas[0], replicas[1]);

    // Twenty distinct deliveries, each raced to both replicas at once: one handles it, the
    // other answers 409 (still being handled) or 200 (handled), never a second 204.
    let sent: Vec<_> = (0..20)
        .map(|i| at_least_once::delivery(&format!("r{i}")))
        .collect();
    for delivery in &sent {
        let (sa, sb) = tokio::join!(deliver(a, delivery), deliver(b, delivery));
        let mut statuses = [sa, sb];
        statuses.sort();
        assert!(
            statuses == [200, 204] || statuses == [204, 409],
            "one replica handled it: {statuses:?}"
        );
    }
    assert_eq!(handled.load(Ordering::SeqCst), 20);

    // A delivery seen before, sent again to either replica, is a duplicate.
    assert_eq!(deliver(a, &sent[7]).await, 200);
    assert_eq!(deliver(b, &sent[7]).await, 200);
    assert_eq!(handled.load(Ordering::SeqCst), 20);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_handler_releases_the_claim_for_the_retry() {
    let redis = RedisServer::start();
    let handled = Arc::new(AtomicUsize::new(0));
    let store = RedisLedger::connect(&redis.url()).await.unwrap();
    let addr = spawn_receiver(
        verifier(store, StoreFailure::Reject),
        Arc::clone(&handled),
        1,
    )
    .await;
    let sent = at_least_once::delivery("retry");
    assert_eq!(
        deliver(addr, &sent).await,
        500,
        "first attempt fails in the handler"
    );
    assert_eq!(deliver(addr, &sent).await, 204, "the retry is handled");
    assert_eq!(deliver(addr, &sent).await, 200, "then it is a duplicate");
    assert_eq!(handled.load(Ordering::SeqCst), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_down_applies_the_policy_and_recovers() {
    let mut redis = RedisServer::start();
    let port = redis.port();
    let closed_count = Arc::new(AtomicUsize::new(0));
    let open_count = Arc::new(AtomicUsize::new(0));
    let receiver = |policy, count: &Arc<AtomicUsize>| {
        let (url, count) = (redis.url(), Arc::clone(count));
        async move {
            let store = RedisLedger::connect(&url).await.unwrap();
            let store = store.with_timeout(Duration::from_millis(300));
            spawn_receiver(verifier(store, policy), count, 0).await
        }
    };
    let closed = receiver(StoreFailure::Reject, &closed_count).await;
    let open = receiver(StoreFailure::Accept, &open_count).await;
    assert_eq!(deliver(closed, &at_least_once::delivery("up")).await, 204);

    redis.kill();
    // Fail-closed: 503, handler not run. Fail-open: handled without de-duplication.
    let fresh = at_least_once::delivery("down");
    assert_eq!(deliver(closed, &fresh).await, 503);
    assert_eq!(closed_count.load(Ordering::SeqCst), 1);
    assert_eq!(deliver(open, &fresh).await, 204);
    assert_eq!(open_count.load(Ordering::SeqCst), 1);

    // Redis comes back on the same port: the fail-closed receiver recovers by itself.
    let _redis = RedisServer::start_on(port, false);
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        let status = deliver(closed, &fresh).await;
        if status != 503 || Instant::now() > deadline {
            break status;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(status, 204, "handled once Redis is back");
    assert_eq!(
        deliver(closed, &fresh).await,
        200,
        "and de-duplicated again"
    );
}

/// Sends `sent` until it is not 409 or 503 (the store catching up after a pause), bounded.
async fn settled(addr: SocketAddr, sent: &SignedDelivery) -> u16 {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let status = deliver(addr, sent).await;
        if ![409, 503].contains(&status) || Instant::now() > deadline {
            return status;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A Redis slower than the client's timeout: the claim's outcome is unknown to the receiver
/// (Redis may apply the `SET` after the client gave up). Whatever Redis did, the claim is given
/// back by its owner token, so the retry is handled — never answered as a duplicate of a
/// delivery no handler finished.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_redis_leaves_no_claim_behind() {
    let redis = RedisServer::start();
    for (policy, fail_first, first_status) in [
        (StoreFailure::Reject, 0, 503),
        (StoreFailure::Accept, 1, 500),
    ] {
        let handled = Arc::new(AtomicUsize::new(0));
        let store = RedisLedger::connect(&redis.url())
            .await
            .unwrap()
            .with_timeout(Duration::from_millis(200));
        let addr = spawn_receiver(verifier(store, policy), Arc::clone(&handled), fail_first).await;
        let sent = at_least_once::delivery("paused");
        assert_eq!(redis.cli(&["CLIENT", "PAUSE", "1000", "ALL"]), "OK");
        assert_eq!(
            deliver(addr, &sent).await,
            first_status,
            "{policy:?} while paused"
        );
        tokio::time::sleep(Duration::from_millis(1200)).await;
        assert_eq!(
            settled(addr, &sent).await,
            204,
            "{policy:?}: the retry is handled"
        );
        assert_eq!(
            deliver(addr, &sent).await,
            200,
            "{policy:?}: then a duplicate"
        );
        assert_eq!(handled.load(Ordering::SeqCst), fail_first + 1, "{policy:?}");
    }
}

/// The `redis_receiver` example as a process, killed on drop.
struct Receiver(Child, SocketAddr);

impl Receiver {
    /// Started once it says "listening"; a port taken by a parallel test between choosing and
    /// binding makes it exit before saying so: another port is tried.
    fn start(redis: &RedisServer, lease_ms: u64) -> Self {
        for _ in 0..5 {
            let port = free_port();
            let child = Command::new(testkit::example("redis_receiver"))
                .env("REDIS_URL", redis.url())
                .env("PORT", port.to_string())
                .env("APPWRITE_WEBHOOK_KEY", at_least_once::KEY)
                .env("APPWRITE_WEBHOOK_URL", at_least_once::URL)
                .env("LEASE_MS", lease_ms.to_string())
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .expect("start the redis_receiver example");
            let mut receiver = Self(child, ([127, 0, 0, 1], port).into());
            let mut line = String::new();
            let stdout = receiver.0.stdout.as_mut().unwrap();
            let _ = std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut line);
            if line.trim() == "listening" {
                return receiver;
            }
        }
        panic!("the redis_receiver example did not start on any of 5 free ports");
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A receiver process killed (SIGKILL) while its handler runs leaves a pending claim: copies
/// get 409 — never 2xx — until its lease runs out, then the next replica handles it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_receivers_claims_expire_with_their_lease() {
    let redis = RedisServer::start();
    let sent = at_least_once::delivery("killed");
    let hanging = testkit::net::with_headers(&sent, &[(BEHAVIOUR, "hang")]);
    let first = Receiver::start(&redis, 1500);
    let addr = first.1;
    let request = tokio::spawn(async move { testkit::net::send(&hanging, addr).await });
    // Wait for the claim to be in Redis (not only the body's label set, written first), then
    // kill the process mid-handler.
    let deadline = Instant::now() + Duration::from_secs(10);
    let claimed = || {
        redis
            .cli(&["KEYS", &format!("{DEFAULT_REPLAY_PREFIX}*")])
            .lines()
            .any(|key| !key.is_empty() && !key.contains(":labels:"))
    };
    while !claimed() {
        assert!(
            Instant::now() < deadline,
            "the receiver never claimed the delivery"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    drop(first);
    request.abort();

    let second = Receiver::start(&redis, 1500);
    assert_eq!(
        deliver(second.1, &sent).await,
        409,
        "the dead receiver's claim is pending"
    );
    tokio::time::sleep(Duration::from_millis(1700)).await;
    assert_eq!(
        deliver(second.1, &sent).await,
        204,
        "handled once the lease ran out"
    );
    assert_eq!(deliver(second.1, &sent).await, 200);
}
