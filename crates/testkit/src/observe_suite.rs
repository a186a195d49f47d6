//! What an operator sees — the delivery's span and log line, and the metrics — checked through
//! a real server on loopback with a test subscriber and a test metrics recorder installed.
//!
//! The server under test must verify with [`verifier`] on `POST /hook` and run
//! [`Handler::act`](crate::at_least_once::Handler::act) with the request's
//! [`BEHAVIOUR`](crate::at_least_once::BEHAVIOUR) header, answering with its outcome. The
//! recorder and subscriber are process-wide: run one suite per test binary.

use std::collections::HashMap;
use std::io::Write;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use appwrite_webhooks::observe::{
    CONSECUTIVE_FAILURES, DELIVERIES, DELIVERY_DURATION, VERIFIED, WARN_THRESHOLD,
};
use appwrite_webhooks::sender::{DeliveryBuilder, SignedDelivery};
use appwrite_webhooks::{ReplayGuard, SigningKey, Verifier};
use metrics::{Counter, Gauge, Histogram, Key, KeyName, Metadata, SharedString, Unit};

use crate::at_least_once::{Handler, KEY, URL, deliver};
use crate::inbox_suite::until;

/// The previous key of the rotation the suite's verifier is in.
pub const OLD_KEY: &str = "observe-old-key";
/// The webhook id the suite's deliveries carry.
pub const WEBHOOK: &str = "whobserve0001";
/// A word in every delivery body, which no log line may contain.
const BODY_SECRET: &str = "body-content-never-logged";

/// The verifier the server must use: the current key labelled `current`, the old one
/// `previous`, and a replay guard.
pub fn verifier() -> Verifier {
    Verifier::new(SigningKey::from(KEY).label("current"), URL)
        .with_key(SigningKey::from(OLD_KEY).label("previous"))
        .with_replay_guard(ReplayGuard::in_memory())
}

/// A metric's name and its labels, sorted.
type MetricKey = (String, Vec<(String, String)>);

/// A metrics recorder for tests: keeps every counter, gauge and histogram it was given, by
/// name and labels, readable at any time.
#[derive(Default)]
pub struct TestRecorder {
    counters: Mutex<HashMap<MetricKey, Arc<AtomicU64>>>,
    gauges: Mutex<HashMap<MetricKey, Arc<AtomicU64>>>,
    histograms: Mutex<HashMap<MetricKey, Arc<Samples>>>,
}

/// A histogram's samples.
#[derive(Default)]
pub struct Samples(Mutex<Vec<f64>>);

impl metrics::HistogramFn for Samples {
    fn record(&self, value: f64) {
        self.0.lock().unwrap().push(value);
    }
}

fn metric_key(name: &str, labels: impl Iterator<Item = (String, String)>) -> MetricKey {
    let mut labels: Vec<(String, String)> = labels.collect();
    labels.sort();
    (name.to_owned(), labels)
}

fn key_of(key: &Key) -> MetricKey {
    metric_key(
        key.name(),
        key.labels()
            .map(|l| (l.key().to_owned(), l.value().to_owned())),
    )
}

impl metrics::Recorder for TestRecorder {
    fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}

    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
        let mut counters = self.counters.lock().unwrap();
        Counter::from_arc(Arc::clone(counters.entry(key_of(key)).or_default()))
    }

    fn register_gauge(&self, key: &Key, _: &Metadata<'_>) -> Gauge {
        let mut gauges = self.gauges.lock().unwrap();
        Gauge::from_arc(Arc::clone(gauges.entry(key_of(key)).or_default()))
    }

    fn register_histogram(&self, key: &Key, _: &Metadata<'_>) -> Histogram {
        let mut histograms = self.histograms.lock().unwrap();
        Histogram::from_arc(Arc::clone(histograms.entry(key_of(key)).or_default()))
    }
}

/// The installed test recorder and subscriber.
pub struct Capture {
    recorder: &'static TestRecorder,
    logs: Arc<Mutex<Vec<u8>>>,
}

#[derive(Clone)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Capture {
    /// Installs, once per process, the [`TestRecorder`] and a subscriber that writes every
    /// event at DEBUG and above, with its spans' fields, into memory.
    pub fn install() -> &'static Capture {
        static CAPTURE: OnceLock<Capture> = OnceLock::new();
        CAPTURE.get_or_init(|| {
            let recorder: &'static TestRecorder = Box::leak(Box::default());
            metrics::set_global_recorder(recorder).expect("the only metrics recorder");
            let logs = Arc::new(Mutex::new(Vec::new()));
            let writer = Logs(Arc::clone(&logs));
            let subscriber = tracing_subscriber::fmt()
                .with_max_level(tracing::Level::DEBUG)
                .with_ansi(false)
                .with_writer(move || writer.clone())
                .finish();
            tracing::subscriber::set_global_default(subscriber).expect("the only subscriber");
            Capture { recorder, logs }
        })
    }

    /// Everything logged so far.
    pub fn logs(&self) -> String {
        String::from_utf8_lossy(&self.logs.lock().unwrap()).into_owned()
    }

    fn key(name: &str, labels: &[(&str, &str)]) -> MetricKey {
        metric_key(
            name,
            labels
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        )
    }

    /// A counter's value (0 if never incremented).
    pub fn counter(&self, name: &str, labels: &[(&str, &str)]) -> u64 {
        let counters = self.recorder.counters.lock().unwrap();
        counters
            .get(&Self::key(name, labels))
            .map_or(0, |c| c.load(Ordering::SeqCst))
    }

    /// A gauge's value, if it was ever set.
    pub fn gauge(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let gauges = self.recorder.gauges.lock().unwrap();
        gauges
            .get(&Self::key(name, labels))
            .map(|g| f64::from_bits(g.load(Ordering::SeqCst)))
    }

    /// A histogram's samples.
    pub fn histogram(&self, name: &str, labels: &[(&str, &str)]) -> Vec<f64> {
        let histograms = self.recorder.histograms.lock().unwrap();
        histograms
            .get(&Self::key(name, labels))
            .map(|h| h.0.lock().unwrap().clone())
            .unwrap_or_default()
    }
}

/// Whether a log line shows `field` with a value starting with `value`, quoted or not.
fn has(line: &str, field: &str, value: &str) -> bool {
    line.contains(&format!("{field}={value}")) || line.contains(&format!("{field}=\"{value}"))
}

fn delivery(key: &str, name: &str) -> SignedDelivery {
    let unique = format!("{name}-{}", appwrite_webhooks::LeaseToken::new());
    DeliveryBuilder::new(
        key,
        URL,
        format!(r#"{{"$id":"{unique}","name":"{BODY_SECRET}"}}"#),
    )
    .event(&format!("teams.{unique}.create").parse().unwrap())
    .webhook_id(WEBHOOK)
    .project_id("observe-project")
    .delivery_id(format!("delivery-{unique}"))
    .build()
}

/// Sends accepted, duplicate, old-key, forged, failing and panicking deliveries — and, where the
/// server drops a request whose client hung up, a cancelled one — and checks every metric, label
/// and span field they produce, and that nothing secret is logged.
pub async fn run(
    addr: SocketAddr,
    handler: &Handler,
    capture: &Capture,
    cancels_on_disconnect: bool,
) {
    let outcome = |outcome: &str, reason: &str| {
        capture.counter(DELIVERIES, &[("outcome", outcome), ("reason", reason)])
    };
    let failures = || capture.gauge(CONSECUTIVE_FAILURES, &[("webhook", WEBHOOK)]);

    let first = delivery(KEY, "first");
    assert_eq!(deliver(addr, handler, &first, "ok").await, 204);
    assert_eq!(outcome("accepted", "none"), 1);
    assert_eq!(capture.counter(VERIFIED, &[("key", "current")]), 1);
    assert_eq!(deliver(addr, handler, &first, "ok").await, 200);
    assert_eq!(outcome("duplicate", "none"), 1);

    let forged = delivery("not-the-key", "forged");
    assert_eq!(deliver(addr, handler, &forged, "ok").await, 401);
    assert_eq!(outcome("rejected", "signature_mismatch"), 1);
    // A 401 is a failed answer to Appwrite, but the webhook id it claims is unsigned: it is
    // counted under `unverified`, never under the webhook it names.
    let unverified = || capture.gauge(CONSECUTIVE_FAILURES, &[("webhook", "unverified")]);
    assert_eq!(failures(), None, "a forgery moves no webhook's count");
    assert_eq!(
        unverified(),
        Some(1.0),
        "a 401 is a failed answer to Appwrite"
    );

    let old = delivery(OLD_KEY, "old");
    assert_eq!(deliver(addr, handler, &old, "ok").await, 204);
    assert_eq!(capture.counter(VERIFIED, &[("key", "previous")]), 1);
    assert_eq!(
        unverified(),
        Some(0.0),
        "a verified success resets the count"
    );

    for n in 1..=WARN_THRESHOLD {
        let failing = delivery(KEY, &format!("failing-{n}"));
        assert_eq!(deliver(addr, handler, &failing, "fail").await, 500);
        assert_eq!(failures(), Some(f64::from(n)));
    }
    assert_eq!(outcome("handler_failed", "none"), u64::from(WARN_THRESHOLD));
    assert_eq!(outcome("accepted", "none"), 2);
    let durations = capture.histogram(DELIVERY_DURATION, &[("outcome", "handler_failed")]);
    assert_eq!(durations.len(), WARN_THRESHOLD as usize);
    assert!(
        durations.iter().all(|d| *d > 0.0 && *d < 60.0),
        "{durations:?}"
    );

    // A handler that panics is a failed answer (the connection closes without a status).
    let panicking = delivery(KEY, "panicking");
    let _ = deliver(addr, handler, &panicking, "panic").await;
    let failed = u64::from(WARN_THRESHOLD) + 1;
    until("the panic is counted", async || {
        outcome("handler_failed", "none") == failed
    })
    .await;
    assert_eq!(failures(), Some(failed as f64));
    // A request dropped before its answer, its client gone, is `cancelled`: to Appwrite a
    // timeout, so a failed answer too.
    if cancels_on_disconnect {
        let hanging = delivery(KEY, "hanging");
        let gave_up = Duration::from_millis(300);
        let _ = tokio::time::timeout(gave_up, deliver(addr, handler, &hanging, "hang")).await;
        until("the cancellation is counted", async || {
            outcome("cancelled", "none") == 1
        })
        .await;
        assert_eq!(failures(), Some(failed as f64 + 1.0));
    }

    let logs = capture.logs();
    let warned = format!("{WARN_THRESHOLD} failed answers in a row");
    assert!(logs.contains(&warned) && logs.contains("WARN"), "{logs}");
    let accepted = logs
        .lines()
        .find(|l| has(l, "outcome", "accepted"))
        .unwrap_or_else(|| panic!("no accepted line in {logs}"));
    for (field, value) in [
        ("webhook_id", WEBHOOK),
        ("project_id", "observe-project"),
        ("delivery_id", "delivery-first-"),
        ("event", "teams.first-"),
        ("scheme", "appwrite"),
        ("key", "current"),
        ("outcome", "accepted"),
        ("body_len", ""),
        ("duration_ms", ""),
    ] {
        assert!(
            has(accepted, field, value),
            "{field}={value} missing in {accepted}"
        );
    }
    assert!(
        logs.lines()
            .any(|l| has(l, "outcome", "rejected") && has(l, "reason", "signature_mismatch")),
        "{logs}"
    );
    for secret in [
        KEY,
        OLD_KEY,
        BODY_SECRET,
        forged.headers()["x-appwrite-webhook-signature"]
            .to_str()
            .unwrap(),
    ] {
        assert!(!logs.contains(secret), "{secret:?} logged:\n{logs}");
    }
}
