//! The span, log line and metrics of the extractor under the layer, and of the bare extractor,
//! with a test subscriber and recorder installed (process-wide: this binary runs one test).

mod support;

use appwrite_webhooks::observe::DELIVERIES;
use support::spawn;
use testkit::at_least_once::{Handler, deliver, delivery};
use testkit::observe_suite::{self, Capture};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spans_logs_and_metrics_tell_what_happened() {
    let capture = Capture::install();
    let handler = Handler::new();
    let layered = spawn(observe_suite::verifier(), handler.clone(), true).await;
    observe_suite::run(layered, &handler, capture, true).await;

    // The bare extractor sees verification only: its outcome is `verified`, and it leaves the
    // webhook's failure count alone.
    let bare = spawn(observe_suite::verifier(), handler.clone(), false).await;
    assert_eq!(deliver(bare, &handler, &delivery("bare"), "ok").await, 204);
    let verified = [("outcome", "verified"), ("reason", "none")];
    assert_eq!(capture.counter(DELIVERIES, &verified), 1);
}
