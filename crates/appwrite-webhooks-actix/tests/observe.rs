//! The middleware's span, log line and metrics, with a test subscriber and recorder installed
//! (process-wide: this binary runs one test).

mod support;

use testkit::at_least_once::Handler;
use testkit::observe_suite::{self, Capture};

#[actix_web::test]
async fn spans_logs_and_metrics_tell_what_happened() {
    let capture = Capture::install();
    let handler = Handler::new();
    let addr = support::start(observe_suite::verifier(), handler.clone(), true);
    // actix-web lets a handler whose client hung up run to its end: nothing is cancelled.
    observe_suite::run(addr, &handler, capture, false).await;
}
