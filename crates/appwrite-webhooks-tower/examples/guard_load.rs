//! Load on loopback: the tower layer without a replay guard, with the in-memory guard
//! (`MemoryLedger`), with a Redis guard (a `redis-server` it starts itself) and with SQLite
//! guards (`SqliteLedger` in a temporary file: the default `Durability::Full`, and
//! `Durability::Normal`), each answering unique, correctly signed 1 KiB deliveries — every
//! request is a new delivery, so the guard labels and claims (one round trip) and completes each.
//!
//! ```sh
//! cargo run --release -p appwrite-webhooks-tower --example guard_load   # ROUNDS=5 REQUESTS=20000
//! MODES=off,memory,redis cargo run --release -p appwrite-webhooks-tower --example guard_load
//! ```
//!
//! Modes (`MODES`, default `off,memory,redis,sqlite,sqlite-normal`; `off` is always there, the
//! baseline) run in turn for several rounds — in order in odd rounds, in reverse in even ones —
//! so a drift in the machine's speed hits them alike; it prints each round, then the median
//! requests/s per mode and the ratios against "off" from the same run, and the paired ratio (the
//! median over rounds of the mode's rate over that round's "off"). Not a test: run by hand, results in BENCHMARKS.md.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use appwrite_webhooks::sender::{DeliveryBuilder, SignedDelivery};
use appwrite_webhooks::{ReplayGuard, Verifier};
use appwrite_webhooks_redis::RedisLedger;
use appwrite_webhooks_sqlite::{Durability, SqliteLedger};
use appwrite_webhooks_tower::AppwriteWebhookLayer;
use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt as _, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use testkit::redis::RedisServer;
use tower::ServiceBuilder;

const URL: &str = "http://127.0.0.1/hook";
const KEY: &str = "whsec_load";
const CONNECTIONS: usize = 32;

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// `n` distinct deliveries with 1 KiB bodies, signed for [`URL`].
fn deliveries(n: usize, round: usize, mode: &str) -> Vec<SignedDelivery> {
    (0..n)
        .map(|i| {
            let id = format!("{mode}-{round}-{i}");
            let pad = "a".repeat(1024 - 40 - id.len());
            let body = format!(r#"{{"$id":"{id}","name":"{pad}","total":1}}"#);
            DeliveryBuilder::new(KEY, URL, body)
                .event(&format!("teams.{id}.create").parse().unwrap())
                .build()
        })
        .collect()
}

async fn serve(verifier: Verifier) -> SocketAddr {
    let service = ServiceBuilder::new()
        .layer(AppwriteWebhookLayer::new(verifier))
        .service_fn(|_request: Request<Full<Bytes>>| async {
            let mut response = Response::new(Full::<Bytes>::default());
            *response.status_mut() = StatusCode::NO_CONTENT;
            Ok::<_, Infallible>(response)
        });
    testkit::net::serve_tower(service).await
}

/// Sends every delivery once over [`CONNECTIONS`] concurrent clients; returns requests/s.
async fn drive(addr: SocketAddr, sent: Vec<SignedDelivery>) -> f64 {
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let sent = Arc::new(sent);
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let workers: Vec<_> = (0..CONNECTIONS)
        .map(|_| {
            let (client, sent, next) = (client.clone(), Arc::clone(&sent), Arc::clone(&next));
            tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(delivery) = sent.get(i) else { return };
                    let request = testkit::net::request(delivery, addr);
                    let response = client.request(request).await.expect("a response");
                    assert_eq!(response.status(), 204, "every delivery is new");
                    let _ = response.into_body().collect().await;
                }
            })
        })
        .collect();
    for worker in workers {
        worker.await.unwrap();
    }
    sent.len() as f64 / started.elapsed().as_secs_f64()
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

#[tokio::main]
async fn main() {
    let rounds = env_or("ROUNDS", 5);
    let requests = env_or("REQUESTS", 20_000);
    let wanted: Vec<String> = std::env::var("MODES")
        .unwrap_or_else(|_| "off,memory,redis,sqlite,sqlite-normal".into())
        .split(',')
        .map(str::trim)
        .filter(|m| !m.is_empty() && *m != "off")
        .map(String::from)
        .collect();
    let dir = std::env::temp_dir().join(format!("guard-load-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let mut redis = None;
    let mut modes: Vec<(&str, Verifier)> = vec![("off", Verifier::new(KEY, URL))];
    for mode in &wanted {
        let guard = match mode.as_str() {
            "memory" => ReplayGuard::in_memory(),
            "redis" => {
                let server = RedisServer::start();
                let store = RedisLedger::connect(&server.url()).await.expect("Redis");
                redis = Some(server);
                ReplayGuard::new(store)
            }
            // The default durability: every claim's commit is flushed.
            "sqlite" => ReplayGuard::new(SqliteLedger::open(dir.join("full.db")).expect("SQLite")),
            "sqlite-normal" => ReplayGuard::new(
                SqliteLedger::builder(dir.join("normal.db"))
                    .durability(Durability::Normal)
                    .open()
                    .expect("SQLite"),
            ),
            other => panic!("unknown mode {other}: off, memory, redis, sqlite, sqlite-normal"),
        };
        let name: &'static str = Box::leak(mode.clone().into_boxed_str());
        modes.push((name, Verifier::new(KEY, URL).with_replay_guard(guard)));
    }
    let mut servers = Vec::new();
    for (name, verifier) in modes {
        servers.push((name, serve(verifier).await));
    }
    // Warm-up: connections, allocator, Redis scripts loaded.
    for (name, addr) in &servers {
        drive(*addr, deliveries(2_000, 0, name)).await;
    }
    let mut results: Vec<Vec<f64>> = vec![Vec::new(); servers.len()];
    for round in 1..=rounds {
        // Odd rounds run the modes in order, even rounds in reverse: no mode always runs
        // right after another (a drift within a round hits them alike over the rounds).
        let mut order: Vec<usize> = (0..servers.len()).collect();
        if round % 2 == 0 {
            order.reverse();
        }
        let mut rates = vec![0.0; servers.len()];
        for i in order {
            let (name, addr) = &servers[i];
            rates[i] = drive(*addr, deliveries(requests, round, name)).await;
        }
        let mut line = format!("round {round}:");
        for (i, (name, _)) in servers.iter().enumerate() {
            line.push_str(&format!("  {name} {:.0} req/s", rates[i]));
            results[i].push(rates[i]);
        }
        println!("{line}");
    }
    let medians: Vec<f64> = results.iter().cloned().map(median).collect();
    println!(
        "\nmedian of {rounds} rounds, {requests} unique 1 KiB deliveries each, {CONNECTIONS} connections:"
    );
    for ((name, _), rps) in servers.iter().zip(&medians) {
        println!(
            "  {name:<13} {rps:>9.0} req/s   {:.2}x of off",
            rps / medians[0]
        );
    }
    // Each round's rate over that round's "off", then the median over the rounds.
    println!("paired (median over rounds of mode / off in the same round):");
    for (i, (name, _)) in servers.iter().enumerate().skip(1) {
        let paired = median(
            (0..rounds)
                .map(|round| results[i][round] / results[0][round])
                .collect(),
        );
        println!("  {name:<13} {paired:.2}x");
    }
    drop(redis);
    let _ = std::fs::remove_dir_all(&dir);
}
