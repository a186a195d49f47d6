//! A receiver that shares its replay claims through Redis: the tower layer under hyper on
//! `127.0.0.1:$PORT`, verifying `POST /hook` deliveries for `$APPWRITE_WEBHOOK_URL` with
//! `$APPWRITE_WEBHOOK_KEY`, claims in `$REDIS_URL` with a lease of `$LEASE_MS` (default 30 000).
//! A delivery whose `x-test-behaviour` header is `hang` is never answered; others get 204.
//!
//! ```sh
//! REDIS_URL=redis://127.0.0.1:6379/ PORT=3000 APPWRITE_WEBHOOK_KEY=k \
//!   APPWRITE_WEBHOOK_URL=http://example.com/hook cargo run -p appwrite-webhooks-redis --example redis_receiver
//! ```
//!
//! Run as a process by the tests, which kill it mid-handler to show that a dead replica's
//! claims expire with their lease.

use std::convert::Infallible;
use std::time::Duration;

use appwrite_webhooks::{ReplayGuard, Verifier};
use appwrite_webhooks_redis::RedisLedger;
use appwrite_webhooks_tower::AppwriteWebhookLayer;
use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use tower::ServiceBuilder;

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set"))
}

#[tokio::main]
async fn main() {
    let lease = std::env::var("LEASE_MS")
        .ok()
        .and_then(|ms| ms.parse().ok())
        .map_or(Duration::from_secs(30), Duration::from_millis);
    let ledger = RedisLedger::connect(&env("REDIS_URL"))
        .await
        .expect("connect to Redis");
    let verifier = Verifier::new(env("APPWRITE_WEBHOOK_KEY"), env("APPWRITE_WEBHOOK_URL"))
        .with_replay_guard(ReplayGuard::new(ledger).with_lease(lease));
    let service = ServiceBuilder::new()
        .layer(AppwriteWebhookLayer::new(verifier))
        .service_fn(|request: Request<Full<Bytes>>| async move {
            if request
                .headers()
                .get("x-test-behaviour")
                .is_some_and(|v| v == "hang")
            {
                std::future::pending::<()>().await;
            }
            let mut response = Response::new(Full::<Bytes>::default());
            *response.status_mut() = StatusCode::NO_CONTENT;
            Ok::<_, Infallible>(response)
        });
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", env("PORT").parse().unwrap()))
        .await
        .expect("bind the port");
    println!("listening");
    loop {
        let (stream, _) = listener.accept().await.expect("accept");
        let service = hyper_util::service::TowerToHyperService::new(service.clone());
        tokio::spawn(async move {
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                .await;
        });
    }
}
