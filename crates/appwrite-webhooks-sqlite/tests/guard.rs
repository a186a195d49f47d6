//! The synchronous replay guard over a SqliteLedger: the delivery guarantee on every failure
//! path through a real server, and what only a file gives — a handled delivery stays handled
//! across a restart, and a crashed receiver's claim runs out with its lease.

mod common;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::Duration;

use appwrite_webhooks::sender::DeliveryBuilder;
use appwrite_webhooks::{Admission, ReplayGuard, Verifier};
use appwrite_webhooks_sqlite::SqliteLedger;
use appwrite_webhooks_tower::{AppwriteWebhookLayer, ResponseBody};
use bytes::Bytes;
use common::{eventually, path};
use http::{Request, Response};
use http_body_util::{BodyExt as _, Either, Full};
use testkit::at_least_once::{self, Act, BEHAVIOUR, Handler, Paths};
use tower::ServiceBuilder;

const KEY: &str = "k";
const URL: &str = "https://example.com/hook";

/// The tower layer on `POST /hook` around a service that acts as the suite's handler says.
async fn spawn(verifier: Verifier, handler: Handler) -> SocketAddr {
    let inner = move |request: Request<Full<Bytes>>| {
        let handler = handler.clone();
        async move {
            let behaviour = request
                .headers()
                .get(BEHAVIOUR)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let body = request.into_body().collect().await.unwrap().to_bytes();
            match handler.act(behaviour.as_deref(), &body).await {
                Act::Status(status) => Ok(Response::builder()
                    .status(status)
                    .body(Full::<Bytes>::default())
                    .unwrap()),
                Act::Err => Err(std::io::Error::other("the handler failed")),
            }
        }
    };
    let layered = ServiceBuilder::new()
        .timeout(Duration::from_secs(300))
        .layer(AppwriteWebhookLayer::new(verifier))
        .service_fn(inner);
    let service = tower::service_fn(move |request: Request<hyper::body::Incoming>| {
        let layered = layered.clone();
        async move {
            let response: Response<ResponseBody<Full<Bytes>>> =
                match tower::ServiceExt::oneshot(layered, request).await {
                    Ok(response) => response,
                    Err(_) => Response::builder()
                        .status(500)
                        .body(Either::Right(Full::default()))
                        .unwrap(),
                };
            Ok::<_, Infallible>(response)
        }
    });
    testkit::net::serve_tower(service).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_failure_path_gives_the_delivery_back() {
    let ledger = SqliteLedger::open(path("guard-suite")).unwrap();
    let handler = Handler::new();
    let addr = spawn(
        at_least_once::verifier(ReplayGuard::new(ledger)),
        handler.clone(),
    )
    .await;
    at_least_once::run(
        addr,
        &handler,
        Paths {
            err: true,
            cancels_on_disconnect: true,
        },
    )
    .await;
    at_least_once::concurrent_copies(addr, &handler, 16).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_receivers_sharing_one_file_handle_each_delivery_once() {
    let file = path("guard-replicas");
    let handler = Handler::new();
    let mut receivers = Vec::new();
    for _ in 0..2 {
        let guard = ReplayGuard::new(SqliteLedger::open(&file).unwrap());
        receivers.push(spawn(at_least_once::verifier(guard), handler.clone()).await);
    }
    for i in 0..10 {
        let sent = at_least_once::delivery(&format!("replica-{i}"));
        let (a, b) = tokio::join!(
            at_least_once::deliver(receivers[0], &handler, &sent, "ok"),
            at_least_once::deliver(receivers[1], &handler, &sent, "ok"),
        );
        let mut statuses = [a, b];
        statuses.sort();
        assert!(
            statuses == [200, 204] || statuses == [204, 409],
            "{statuses:?}"
        );
        assert_eq!(handler.successes(sent.body()), 1);
    }
}

fn guard_over(file: &std::path::Path, lease: Duration) -> ReplayGuard {
    ReplayGuard::new(SqliteLedger::open(file).unwrap()).with_lease(lease)
}

#[tokio::test]
async fn a_handled_delivery_is_remembered_across_a_restart() {
    let file = path("guard-restart");
    let sent = DeliveryBuilder::new(KEY, URL, r#"{"$id":"u1"}"#).build();
    let verifier = Verifier::new(KEY, URL);
    let delivery = verifier.verify(sent.headers(), sent.body()).unwrap();

    let guard = guard_over(&file, Duration::from_secs(30));
    let claim = at_least_once::admit(&guard, &delivery).await.unwrap();
    claim.complete().await;
    assert!(matches!(
        at_least_once::admit(&guard, &delivery).await,
        Err(Admission::Duplicate { .. })
    ));
    drop(guard);

    // The process restarts: a new guard over the same file.
    let guard = guard_over(&file, Duration::from_secs(30));
    assert!(matches!(
        at_least_once::admit(&guard, &delivery).await,
        Err(Admission::Duplicate { .. })
    ));
    // Another delivery is handled as usual.
    let other = DeliveryBuilder::new(KEY, URL, r#"{"$id":"u2"}"#).build();
    let other = verifier.verify(other.headers(), other.body()).unwrap();
    at_least_once::admit(&guard, &other)
        .await
        .unwrap()
        .release()
        .await;
    at_least_once::admit(&guard, &other)
        .await
        .unwrap()
        .complete()
        .await;
}

#[tokio::test]
async fn a_crashed_receivers_claim_runs_out_with_its_lease() {
    let file = path("guard-crash");
    let sent = DeliveryBuilder::new(KEY, URL, r#"{"$id":"u1"}"#).build();
    let verifier = Verifier::new(KEY, URL);
    let delivery = verifier.verify(sent.headers(), sent.body()).unwrap();

    let guard = guard_over(&file, Duration::from_millis(300));
    let claim = at_least_once::admit(&guard, &delivery).await.unwrap();
    // The process dies mid-handler: nothing settles the claim, nothing releases it.
    std::mem::forget(claim);
    drop(guard);

    let guard = guard_over(&file, Duration::from_secs(30));
    // Until the lease runs out, copies are in progress (409), never a 2xx.
    assert!(matches!(
        at_least_once::admit(&guard, &delivery).await,
        Err(Admission::InProgress)
    ));
    let mut claim = None;
    eventually(
        "the crashed claim's lease to run out",
        async || match at_least_once::admit(&guard, &delivery).await {
            Ok(next) => {
                claim = Some(next);
                true
            }
            Err(Admission::InProgress) => false,
            Err(other) => panic!("{other:?}"),
        },
    )
    .await;
    // The next copy is handled, then remembered.
    claim.unwrap().complete().await;
    assert!(matches!(
        at_least_once::admit(&guard, &delivery).await,
        Err(Admission::Duplicate { .. })
    ));
}
