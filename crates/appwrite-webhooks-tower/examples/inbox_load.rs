//! Load on loopback for inbox mode: the same route answering `204` with no inbox (the
//! verifying layer and an empty handler), and `InboxService` storing into SQLite (WAL,
//! `synchronous = FULL`, the default) and into Redis Streams (a `redis-server` it starts itself
//! with `appendonly yes`, `appendfsync always`) — and SQLite with `Durability::Normal` for
//! comparison — each sent unique, correctly signed 1 KiB
//! deliveries. Then the workers: how many stored deliveries per second 4 workers settle with a
//! handler that does nothing.
//!
//! ```sh
//! cargo run --release -p appwrite-webhooks-tower --example inbox_load   # ROUNDS=5 REQUESTS=10000 CONNECTIONS=32
//! ```
//!
//! Modes run in turn for several rounds, so a drift in the machine's speed hits them alike; it
//! prints each round, then per mode the median requests/s, the ratio against the no-inbox
//! route, and the median p50/p99 answer latency. Not a test: run by hand, results in
//! BENCHMARKS.md.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use appwrite_webhooks::inbox::{Inbox, Workers};
use appwrite_webhooks::{Delivery, Verifier};
use appwrite_webhooks_redis::RedisLedger;
use appwrite_webhooks_sqlite::{Durability, SqliteLedger};
use appwrite_webhooks_tower::{AppwriteWebhookLayer, InboxService};
use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use testkit::load::{KEY, Run, URL, deliveries, drive, env_or, median_of};
use testkit::redis::{RedisServer, free_port};
use tower::ServiceBuilder;

async fn serve_plain() -> SocketAddr {
    let service = ServiceBuilder::new()
        .layer(AppwriteWebhookLayer::new(Verifier::new(KEY, URL)))
        .service_fn(|_request: Request<Full<Bytes>>| async {
            let mut response = Response::new(Full::<Bytes>::default());
            *response.status_mut() = StatusCode::NO_CONTENT;
            Ok::<_, Infallible>(response)
        });
    testkit::net::serve_tower(service).await
}

async fn serve_inbox(inbox: Inbox) -> SocketAddr {
    testkit::net::serve_tower(InboxService::new(Verifier::new(KEY, URL), inbox)).await
}

/// How many stored deliveries per second `workers` settle with a handler that does nothing.
async fn work_off(inbox: &Inbox, workers: usize) -> f64 {
    let before = inbox.admin().stats().await.unwrap();
    let started = Instant::now();
    let running = Workers::new(
        inbox.clone(),
        Verifier::new(KEY, URL),
        |_: Delivery| async { Ok::<_, Infallible>(()) },
    )
    .with_concurrency(workers)
    .with_poll_interval(Duration::from_millis(5))
    .start();
    loop {
        let stats = inbox.admin().stats().await.unwrap();
        if stats.pending == 0 {
            running.shutdown(Duration::from_secs(5)).await;
            return (stats.done - before.done) as f64 / started.elapsed().as_secs_f64();
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::main]
async fn main() {
    let rounds = env_or("ROUNDS", 5);
    let requests = env_or("REQUESTS", 10_000);
    let connections = env_or("CONNECTIONS", 32);
    let dir = std::env::temp_dir().join(format!("inbox-load-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let sqlite = Inbox::new(SqliteLedger::open(dir.join("inbox.db")).expect("SQLite"));
    let sqlite_normal = Inbox::new(
        SqliteLedger::builder(dir.join("normal.db"))
            .durability(Durability::Normal)
            .open()
            .expect("SQLite"),
    );
    let redis = RedisServer::start_on(free_port(), true);
    let redis_inbox = Inbox::new(RedisLedger::connect(&redis.url()).await.expect("Redis"));
    let servers = [
        ("no inbox (204)", serve_plain().await, 204),
        ("SQLite inbox", serve_inbox(sqlite.clone()).await, 202),
        (
            "SQLite, Normal",
            serve_inbox(sqlite_normal.clone()).await,
            202,
        ),
        ("Redis inbox", serve_inbox(redis_inbox.clone()).await, 202),
    ];
    // Warm-up: connections, allocator, SQLite pages, Redis scripts loaded.
    for (i, (_, addr, status)) in servers.iter().enumerate() {
        drive(
            *addr,
            deliveries(2_000, &format!("w{i}")),
            connections,
            *status,
        )
        .await;
    }
    let mut runs: Vec<Vec<Run>> = servers.iter().map(|_| Vec::new()).collect();
    for round in 1..=rounds {
        let mut line = format!("round {round}:");
        for (i, (name, addr, status)) in servers.iter().enumerate() {
            let run = drive(
                *addr,
                deliveries(requests, &format!("r{round}m{i}")),
                connections,
                *status,
            )
            .await;
            line.push_str(&format!(
                "  {name} {:.0} req/s p50 {:.2} ms p99 {:.2} ms;",
                run.rps,
                run.p50.as_secs_f64() * 1e3,
                run.p99.as_secs_f64() * 1e3
            ));
            runs[i].push(run);
        }
        println!("{line}");
    }
    println!(
        "\nmedian of {rounds} rounds, {requests} unique 1 KiB deliveries each, {connections} connections:"
    );
    let base = median_of(runs[0].iter().map(|r| r.rps).collect());
    for ((name, _, _), runs) in servers.iter().zip(&runs) {
        let rps = median_of(runs.iter().map(|r| r.rps).collect());
        let p50 = median_of(runs.iter().map(|r| r.p50).collect());
        let p99 = median_of(runs.iter().map(|r| r.p99).collect());
        println!(
            "  {name:<15} {rps:>8.0} req/s  {:.2}x of no inbox   p50 {:.2} ms   p99 {:.2} ms",
            rps / base,
            p50.as_secs_f64() * 1e3,
            p99.as_secs_f64() * 1e3
        );
    }
    for (name, inbox) in [
        ("SQLite", &sqlite),
        ("SQLite, Normal", &sqlite_normal),
        ("Redis", &redis_inbox),
    ] {
        let pending = inbox.admin().stats().await.unwrap().pending;
        let rate = work_off(inbox, 4).await;
        println!(
            "  workers ({name}, 4 concurrent, no-op handler): {rate:.0} deliveries/s over {pending} stored"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
