//! The layer's span, log line and metrics, with a test subscriber and recorder installed
//! (process-wide: this binary runs one test).

mod support;

use testkit::at_least_once::Handler;
use testkit::observe_suite::{self, Capture};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spans_logs_and_metrics_tell_what_happened() {
    let capture = Capture::install();
    let handler = Handler::new();
    let addr = support::spawn(observe_suite::verifier(), handler.clone(), None).await;
    observe_suite::run(addr, &handler, capture, true).await;
}
