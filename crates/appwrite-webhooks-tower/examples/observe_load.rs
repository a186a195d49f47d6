//! Load on loopback: the layer with and without observability installed, each in its own
//! `bench_server` process (a subscriber and a recorder are process-wide), answering the same
//! correctly signed 1 KiB delivery.
//!
//! ```sh
//! cargo build --release -p appwrite-webhooks-tower --example bench_server --example observe_load
//! target/release/examples/observe_load      # ROUNDS=7 REQUESTS=30000
//! ```
//!
//! Modes run in turn (`layer`, `observed`, `prometheus`, `layer`, …) for several rounds, so a
//! drift in the machine's speed hits them alike; it prints each round, the median requests/s
//! per mode and the ratios against `layer` from the same run. Not a test: run by hand, results
//! in BENCHMARKS.md.

use std::net::SocketAddr;
use std::process::{Child, Command};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use appwrite_webhooks::sender::{DeliveryBuilder, SignedDelivery};
use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

const URL: &str = "http://127.0.0.1/hooks/appwrite";
const KEY: &str = "whsec_bench";
const CONNECTIONS: usize = 32;
const MODES: [&str; 3] = ["layer", "observed", "prometheus"];

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A bench_server child in `mode` on `port`, killed on drop.
struct Server(Child);

impl Server {
    async fn start(mode: &str, port: u16) -> Self {
        let binary = std::env::current_exe()
            .unwrap()
            .with_file_name("bench_server");
        assert!(
            binary.exists(),
            "build it first: cargo build --release -p appwrite-webhooks-tower --example bench_server"
        );
        let child = Command::new(binary)
            .args([mode, &port.to_string()])
            .spawn()
            .unwrap();
        while tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
        {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Self(child)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn delivery() -> SignedDelivery {
    let pad = "a".repeat(1000);
    DeliveryBuilder::new(
        KEY,
        URL,
        format!(r#"{{"$id":"t1","name":"{pad}","total":1}}"#),
    )
    .event(&"teams.t1.create".parse().unwrap())
    .webhook_id("wh_bench")
    .project_id("bench")
    .build()
}

/// Sends `requests` copies over [`CONNECTIONS`] concurrent clients; returns requests/s.
async fn drive(addr: SocketAddr, requests: usize) -> f64 {
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let sent = Arc::new(delivery());
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let workers: Vec<_> = (0..CONNECTIONS)
        .map(|_| {
            let (client, sent, next) = (client.clone(), Arc::clone(&sent), Arc::clone(&next));
            tokio::spawn(async move {
                while next.fetch_add(1, Ordering::Relaxed) < requests {
                    let request = testkit::net::request(&sent, addr);
                    let response = client.request(request).await.expect("a response");
                    assert_eq!(response.status(), 204);
                    let _ = response.into_body().collect().await;
                }
            })
        })
        .collect();
    for worker in workers {
        worker.await.unwrap();
    }
    requests as f64 / started.elapsed().as_secs_f64()
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let rounds = env_or("ROUNDS", 7);
    let requests = env_or("REQUESTS", 30_000);
    let base_port = env_or("PORT", 18180) as u16;
    let mut results: Vec<Vec<f64>> = vec![Vec::new(); MODES.len()];
    for round in 0..=rounds {
        let mut line = format!("round {round}:");
        // Each round starts with another mode, so no mode always runs first.
        for step in 0..MODES.len() {
            let i = (step + round) % MODES.len();
            let mode = MODES[i];
            let port = base_port + i as u16;
            let _server = Server::start(mode, port).await;
            let addr = ([127, 0, 0, 1], port).into();
            drive(addr, 2_000).await; // warm-up: connections, allocator
            let rps = drive(addr, requests).await;
            line.push_str(&format!("  {mode} {rps:.0}"));
            if round > 0 {
                results[i].push(rps); // round 0 is a warm-up
            }
        }
        println!("{line}");
    }
    let medians: Vec<f64> = results.into_iter().map(median).collect();
    println!(
        "\nmedian of {rounds} rounds, {requests} requests of 1 KiB, {CONNECTIONS} connections:"
    );
    for (mode, rps) in MODES.iter().zip(&medians) {
        println!(
            "  {mode:<10} {rps:>9.0} req/s   {:.3}x of layer",
            rps / medians[0]
        );
    }
}
