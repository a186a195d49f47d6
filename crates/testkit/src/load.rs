//! A load generator for the hand-run benchmarks (`examples/*_load.rs`): unique signed
//! deliveries sent over loopback by concurrent hyper clients, with requests/s and latency
//! percentiles per run.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use appwrite_webhooks::sender::{DeliveryBuilder, SignedDelivery};
use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

/// The URL every load delivery is signed for.
pub const URL: &str = "http://127.0.0.1/hook";
/// The key every load delivery is signed with.
pub const KEY: &str = "whsec_load";

/// `name` from the environment as a number, or `default`.
pub fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// `n` distinct `users.<id>.create` deliveries with 1 KiB bodies (`$id`, `name`,
/// `$updatedAt`), signed for [`URL`] with [`KEY`]; `tag` keeps runs apart.
pub fn deliveries(n: usize, tag: &str) -> Vec<SignedDelivery> {
    (0..n)
        .map(|i| {
            let id = format!("{tag}-{i}");
            let stamp = "2026-01-02T03:04:05.678+00:00";
            let pad = "a".repeat(1024 - 70 - id.len() - stamp.len());
            let body = format!(r#"{{"$id":"{id}","name":"{pad}","$updatedAt":"{stamp}"}}"#);
            DeliveryBuilder::new(KEY, URL, body)
                .event(&format!("users.{id}.create").parse().expect("an event"))
                .build()
        })
        .collect()
}

/// What one run measured.
#[derive(Debug, Clone, Copy)]
pub struct Run {
    /// Requests answered per second.
    pub rps: f64,
    /// Median answer latency.
    pub p50: Duration,
    /// 99th percentile answer latency.
    pub p99: Duration,
}

/// Sends every delivery once to `addr` over `connections` concurrent clients, each answer
/// expected to be `status`.
pub async fn drive(
    addr: SocketAddr,
    sent: Vec<SignedDelivery>,
    connections: usize,
    status: u16,
) -> Run {
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let sent = Arc::new(sent);
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let clients: Vec<_> = (0..connections)
        .map(|_| {
            let (client, sent, next) = (client.clone(), Arc::clone(&sent), Arc::clone(&next));
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(delivery) = sent.get(i) else {
                        return latencies;
                    };
                    let asked = Instant::now();
                    let request = crate::net::request(delivery, addr);
                    let response = client.request(request).await.expect("a response");
                    let got = response.status();
                    let answer = response.into_body().collect().await;
                    if got != status {
                        let text = answer.map(|b| b.to_bytes()).unwrap_or_default();
                        panic!(
                            "{addr} answered {got}, not {status} (every delivery is new): {}",
                            String::from_utf8_lossy(&text)
                        );
                    }
                    latencies.push(asked.elapsed());
                }
            })
        })
        .collect();
    let mut latencies = Vec::new();
    for each in clients {
        latencies.extend(each.await.expect("a client task"));
    }
    let rps = sent.len() as f64 / started.elapsed().as_secs_f64();
    latencies.sort();
    let at = |q: f64| latencies[((latencies.len() - 1) as f64 * q) as usize];
    Run {
        rps,
        p50: at(0.50),
        p99: at(0.99),
    }
}

/// The median of `values` (the upper one of an even count).
pub fn median_of<T: Copy + PartialOrd>(mut values: Vec<T>) -> T {
    values.sort_by(|a, b| a.partial_cmp(b).expect("comparable"));
    values[values.len() / 2]
}
