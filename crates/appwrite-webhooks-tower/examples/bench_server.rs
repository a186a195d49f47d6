//! The server `bench/load.sh` and the `observe_load` example drive: the quickstart's axum app
//! with verification by the tower layer (`layer`), or by a handler doing the same HMAC by hand
//! (`inline`, the baseline). Two more modes run the layer with observability installed:
//! `observed` — a subscriber that takes every span (tracing-subscriber's registry, no output)
//! and the `metrics` no-op recorder — and `prometheus` — the Prometheus recorder the quickstart
//! uses, and a formatting subscriber at INFO writing each delivery's line to a sink.
//!
//! Two more compare the bare axum extractor with its hand-written equivalent, both ending in
//! the same typed model: `extractor` — a handler taking `Webhook<Event>` from
//! `appwrite-webhooks-axum` with the verifier as router state (no layer), answering 204 for an
//! `Event::Team` — and `hand` — the `inline` handler followed by
//! `serde_json::from_slice::<Team>` of the body (the model the extractor picks for a
//! `teams.*.create` delivery), answering 204 once it parses. They need a body that is a team
//! (`bench/load.sh` makes one).
//!
//! ```sh
//! cargo run --release --example bench_server -- layer 8080
//! ```

use appwrite_webhooks::models::Team;
use appwrite_webhooks::{Event, Verifier};
use appwrite_webhooks_axum::Webhook;
use appwrite_webhooks_tower::AppwriteWebhookLayer;
use axum::Router;
use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha1::Sha1;

const KEY: &str = "whsec_bench";
const URL: &str = "http://127.0.0.1/hooks/appwrite";

/// The hand-written baseline: what a careful receiver writes without this crate.
async fn inline(headers: HeaderMap, body: Bytes) -> StatusCode {
    let Some(signature) = headers.get("x-appwrite-webhook-signature") else {
        return StatusCode::UNAUTHORIZED;
    };
    let Ok(tag) = base64::engine::general_purpose::STANDARD.decode(signature.as_bytes()) else {
        return StatusCode::UNAUTHORIZED;
    };
    let mut mac = Hmac::<Sha1>::new_from_slice(KEY.as_bytes()).expect("any key length");
    mac.update(URL.as_bytes());
    mac.update(&body);
    if mac.verify_slice(&tag).is_err() {
        return StatusCode::UNAUTHORIZED;
    }
    StatusCode::NO_CONTENT
}

/// The hand-written twin of [`extractor`]: verify as [`inline`] does, then parse the body into
/// the same typed model the extractor yields for a `teams.*.create` delivery.
async fn hand(headers: HeaderMap, body: Bytes) -> StatusCode {
    let verified = inline(headers, body.clone()).await;
    if verified != StatusCode::NO_CONTENT {
        return verified;
    }
    match serde_json::from_slice::<Team>(&body) {
        Ok(team) => {
            std::hint::black_box(team);
            StatusCode::NO_CONTENT
        }
        Err(_) => StatusCode::BAD_REQUEST,
    }
}

/// The bare extractor: verification, header parsing and the typed event, no layer.
async fn extractor(Webhook(event): Webhook<Event>) -> StatusCode {
    match event {
        Event::Team { team, .. } => {
            std::hint::black_box(team);
            StatusCode::NO_CONTENT
        }
        // Not a team (or a team body that did not fit the model): make the load run fail.
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let mode = args.next().unwrap_or_else(|| "layer".into());
    let port: u16 = args.next().and_then(|p| p.parse().ok()).unwrap_or(8080);
    match mode.as_str() {
        "observed" => {
            use tracing_subscriber::prelude::*;
            tracing_subscriber::registry().init();
            metrics::set_global_recorder(metrics::NoopRecorder).expect("one recorder");
        }
        "prometheus" => {
            metrics_exporter_prometheus::PrometheusBuilder::new()
                .install_recorder()
                .expect("one recorder");
            tracing_subscriber::fmt()
                .with_max_level(tracing::Level::INFO)
                .with_writer(std::io::sink)
                .init();
        }
        _ => {}
    }
    let app = match mode.as_str() {
        // The same 5 MiB bound the verifier applies (axum's default is 2 MB).
        "inline" => Router::new().route("/hooks/appwrite", post(inline)).layer(
            axum::extract::DefaultBodyLimit::max(appwrite_webhooks::DEFAULT_BODY_LIMIT),
        ),
        "hand" => Router::new().route("/hooks/appwrite", post(hand)).layer(
            axum::extract::DefaultBodyLimit::max(appwrite_webhooks::DEFAULT_BODY_LIMIT),
        ),
        // The extractor reads the body itself, with the verifier's limit (the same 5 MiB).
        "extractor" => Router::new()
            .route("/hooks/appwrite", post(extractor))
            .with_state(Verifier::new(KEY, URL)),
        "layer" | "observed" | "prometheus" => Router::new()
            .route("/hooks/appwrite", post(|| async { StatusCode::NO_CONTENT }))
            .layer(AppwriteWebhookLayer::new(Verifier::new(KEY, URL))),
        other => panic!(
            "mode must be `layer`, `observed`, `prometheus`, `inline`, `extractor` or `hand`, \
             not {other}"
        ),
    };
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .expect("bind");
    axum::serve(listener, app).await.expect("serve");
}
