//! `cargo bench -p appwrite-webhooks --bench verify`
//!
//! Group `verify`: `raw_hmac_sha1` (HMAC-SHA1 of url ++ body with the `hmac` crate, nothing else:
//! the floor) against `verifier` (the full `Verifier::verify` with a real header map), at 1 KiB,
//! 64 KiB and 1 MiB. Keep these names: results are compared over time by them.
//! Groups `events` and `payload`: event-name parsing, expansion and matching, and typed payload
//! parsing, on the largest sample delivery in `crates/testkit/data/appwrite/deliveries.json`.

use std::hint::black_box;

use appwrite_webhooks::sender::DeliveryBuilder;
use appwrite_webhooks::{EventName, Pattern, Verifier};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use hmac::{Hmac, Mac};
use sha1::Sha1;

const KEY: &str = "whsec_a819408ce5010ca2e09ef59ac3d89f5ff8595d02b524e61b";
const URL: &str = "https://hooks.example.com/appwrite";

fn verify(c: &mut Criterion) {
    let mut group = c.benchmark_group("verify");
    for (label, size) in [("1KiB", 1024), ("64KiB", 64 * 1024), ("1MiB", 1024 * 1024)] {
        let body: Vec<u8> = (0..size)
            .map(|i| b"{\"a\":\"0123456789\\/\"}"[i % 20])
            .collect();
        let sent = DeliveryBuilder::new(KEY, URL, body.clone())
            .event(
                &"databases.shop.tables.orders.rows.ord_1042.create"
                    .parse()
                    .unwrap(),
            )
            .build();
        let verifier = Verifier::new(KEY, URL).with_body_limit(2 * 1024 * 1024);
        assert!(verifier.verify(sent.headers(), sent.body()).is_ok());
        group.throughput(Throughput::Bytes(size as u64));
        group.bench_with_input(
            BenchmarkId::new("raw_hmac_sha1", label),
            &body,
            |b, body| {
                b.iter(|| {
                    let mut mac = Hmac::<Sha1>::new_from_slice(KEY.as_bytes()).unwrap();
                    mac.update(URL.as_bytes());
                    mac.update(black_box(body));
                    black_box(mac.finalize().into_bytes())
                })
            },
        );
        group.bench_with_input(BenchmarkId::new("verifier", label), &sent, |b, sent| {
            b.iter(|| {
                black_box(
                    verifier
                        .verify(black_box(sent.headers()), black_box(sent.body()))
                        .is_ok(),
                )
            })
        });
    }
    group.finish();
}

fn largest_sample() -> testkit::SampleDelivery {
    testkit::deliveries()
        .into_iter()
        .max_by_key(|d| d.body.len())
        .unwrap()
}

fn events(c: &mut Criterion) {
    let sample = largest_sample();
    let header = sample.header("X-Appwrite-Webhook-Events").to_owned();
    let verifier = Verifier::new(sample.signature_key.as_str(), sample.url.as_str());
    let delivery = verifier
        .verify(&sample.header_map(), sample.body.as_bytes())
        .unwrap()
        .into_owned();
    let primary = delivery.primary_event().unwrap();
    let pattern = Pattern::parse("databases.*.tables.*.rows.*.create").unwrap();
    let mut group = c.benchmark_group("events");
    group.bench_function("primary_event", |b| {
        b.iter(|| black_box(delivery.primary_event()))
    });
    group.bench_function("parse_name", |b| {
        b.iter(|| EventName::parse(black_box(primary.as_str())).unwrap())
    });
    group.bench_function("expand", |b| b.iter(|| black_box(primary.expand())));
    group.bench_function("pattern_matches", |b| {
        b.iter(|| black_box(pattern.matches(black_box(&primary))))
    });
    group.bench_function("pattern_in_header", |b| {
        let names: Vec<&str> = header.split(',').collect();
        b.iter(|| black_box(pattern.matches_expanded(black_box(&names))))
    });
    group.finish();

    let mut group = c.benchmark_group("payload");
    group.throughput(Throughput::Bytes(sample.body.len() as u64));
    group.bench_function(format!("typed_event_{}", sample.model), |b| {
        b.iter(|| black_box(delivery.event().unwrap()))
    });
    group.bench_function("untyped_json_value", |b| {
        b.iter(|| black_box(delivery.json::<serde_json::Value>().unwrap()))
    });
    group.finish();
}

criterion_group!(benches, verify, events);
criterion_main!(benches);
