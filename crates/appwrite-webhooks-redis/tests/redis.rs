//! Against a real `redis-server` started by the test on a free loopback port (`.ci/run`
//! installs it; the tests fail with a clear message when it is missing).

use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use appwrite_webhooks::{Delivery, Fingerprint, ReplayGuard, ReplayStore, StoreFailure, Verifier};
use appwrite_webhooks_redis::RedisStore;
use appwrite_webhooks_tower::AppwriteWebhookLayer;
use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use testkit::http_suite;
use tower::ServiceBuilder;

/// A `redis-server` child process, killed on drop.
struct Redis {
    port: u16,
    child: Child,
}

impl Redis {
    fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        Self::start_on(port)
    }

    fn start_on(port: u16) -> Self {
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server must be installed for these tests (`apt-get install -y redis-server`; .ci/run does it)");
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "redis-server did not start on port {port}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Self { port, child }
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.kill();
    }
}

#[tokio::test]
async fn claims_are_atomic_expire_and_release() {
    let redis = Redis::start();
    let store = RedisStore::connect(&redis.url())
        .await
        .unwrap()
        .prefix("test:");
    let fingerprint = Fingerprint::new(&[1; 20]);
    assert!(
        store
            .claim(&fingerprint, Duration::from_secs(60))
            .await
            .unwrap()
    );
    assert!(
        !store
            .claim(&fingerprint, Duration::from_secs(60))
            .await
            .unwrap()
    );
    store.release(&fingerprint).await.unwrap();
    assert!(
        store
            .claim(&fingerprint, Duration::from_millis(150))
            .await
            .unwrap()
    );
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(
        store
            .claim(&fingerprint, Duration::from_secs(60))
            .await
            .unwrap(),
        "expired by PX"
    );

    // Concurrent claims of one fingerprint from separate connections: exactly one wins.
    let other = RedisStore::connect(&redis.url())
        .await
        .unwrap()
        .prefix("test:");
    let contested = Fingerprint::new(&[2; 20]);
    let (a, b) = tokio::join!(
        store.claim(&contested, Duration::from_secs(60)),
        other.claim(&contested, Duration::from_secs(60))
    );
    assert_ne!(a.unwrap(), b.unwrap());

    // Prefixes separate receivers.
    let separate = RedisStore::connect(&redis.url())
        .await
        .unwrap()
        .prefix("other:");
    assert!(
        separate
            .claim(&contested, Duration::from_secs(60))
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

async fn deliver(addr: SocketAddr, sent: &appwrite_webhooks::sender::SignedDelivery) -> u16 {
    testkit::net::send(sent, addr).await.0
}

const URL: &str = "https://hooks.example.com/hook";

/// A distinct, correctly signed delivery per `n`.
fn team_created(n: u32) -> appwrite_webhooks::sender::SignedDelivery {
    appwrite_webhooks::sender::DeliveryBuilder::new("k", URL, format!(r#"{{"$id":"t{n}"}}"#))
        .event(&format!("teams.t{n}.create").parse().unwrap())
        .build()
}

fn verifier(store: RedisStore, policy: StoreFailure) -> Verifier {
    Verifier::new("k", URL).replay_guard(ReplayGuard::new(store).on_store_failure(policy))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_sharing_redis_handle_each_delivery_once() {
    let redis = Redis::start();
    let handled = Arc::new(AtomicUsize::new(0));
    let a = spawn_receiver(
        verifier(
            RedisStore::connect(&redis.url()).await.unwrap(),
            StoreFailure::Reject,
        ),
        Arc::clone(&handled),
        0,
    )
    .await;
    let b = spawn_receiver(
        verifier(
            RedisStore::connect(&redis.url()).await.unwrap(),
            StoreFailure::Reject,
        ),
        Arc::clone(&handled),
        0,
    )
    .await;

    // Twenty distinct deliveries, each raced to both replicas at once.
    for i in 0..20 {
        let sent = team_created(i);
        let (sa, sb) = tokio::join!(deliver(a, &sent), deliver(b, &sent));
        let mut statuses = [sa, sb];
        statuses.sort();
        assert_eq!(
            statuses,
            [200, 204],
            "one replica handled it (204), the other answered duplicate (200)"
        );
    }
    assert_eq!(handled.load(Ordering::SeqCst), 20);

    // And a delivery seen before, sent again to either replica, is still a duplicate.
    let sent = team_created(7);
    assert_eq!(deliver(a, &sent).await, 200);
    assert_eq!(deliver(b, &sent).await, 200);
    assert_eq!(handled.load(Ordering::SeqCst), 20);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_handler_releases_the_claim_for_the_retry() {
    let redis = Redis::start();
    let handled = Arc::new(AtomicUsize::new(0));
    let store = RedisStore::connect(&redis.url()).await.unwrap();
    let addr = spawn_receiver(
        verifier(store, StoreFailure::Reject),
        Arc::clone(&handled),
        1,
    )
    .await;
    let sent = http_suite::signed_for(URL, "k");
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
    let mut redis = Redis::start();
    let port = redis.port;
    let closed_count = Arc::new(AtomicUsize::new(0));
    let open_count = Arc::new(AtomicUsize::new(0));
    let receiver = |policy, count: &Arc<AtomicUsize>| {
        let (url, count) = (redis.url(), Arc::clone(count));
        async move {
            let store = RedisStore::connect(&url).await.unwrap();
            let store = store.timeout(Duration::from_millis(300));
            spawn_receiver(verifier(store, policy), count, 0).await
        }
    };
    let closed = receiver(StoreFailure::Reject, &closed_count).await;
    let open = receiver(StoreFailure::Accept, &open_count).await;
    assert_eq!(deliver(closed, &team_created(1)).await, 204);

    redis.kill();
    // Fail-closed: 503, handler not run. Fail-open: handled without de-duplication.
    let fresh = team_created(2);
    assert_eq!(deliver(closed, &fresh).await, 503);
    assert_eq!(closed_count.load(Ordering::SeqCst), 1);
    assert_eq!(deliver(open, &fresh).await, 204);
    assert_eq!(open_count.load(Ordering::SeqCst), 1);

    // Redis comes back on the same port: the fail-closed receiver recovers by itself.
    let _redis = Redis::start_on(port);
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
