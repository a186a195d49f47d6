//! The quickstart's receiver for real deliveries: key, URL and port from the environment,
//! Prometheus `/metrics`, one log line per delivery, optional HTTP Basic auth.
//!
//! ```sh
//! APPWRITE_WEBHOOK_KEY=whsec_… APPWRITE_WEBHOOK_URL=https://your.domain/hooks/appwrite \
//!   PORT=3000 cargo run --example serve --features serve
//! ```
//!
//! `/metrics` is in Prometheus text format (`metrics-exporter-prometheus`); logs go to stderr
//! (`tracing-subscriber`, filtered by `RUST_LOG`, e.g. `RUST_LOG=debug` or
//! `RUST_LOG=info,appwrite_webhooks=debug`, default `info`). HTTP Basic credentials are required
//! when `APPWRITE_WEBHOOK_HTTP_USER` and `APPWRITE_WEBHOOK_HTTP_PASS` are set (the webhook's
//! username and password in Appwrite). The feature `serve` is what pulls in the exporter and the
//! log formatting, so that `cargo run --example quickstart` does not compile them.

use std::process::ExitCode;
use std::time::Duration;

use appwrite_webhooks::{Event, ReplayGuard, Verifier};
use appwrite_webhooks_axum::{AppwriteWebhookLayer, Webhook};
use axum::Router;
use axum::http::StatusCode;
use axum::routing::{get, post};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// The receiver: one handler on `path`, the verifier in state, and the layer that settles the
/// replay guard's claims with the handler's outcome. `/metrics` is outside the layer: it is not
/// a delivery.
fn app(path: &str, verifier: Verifier, metrics: PrometheusHandle) -> Router {
    Router::new()
        .route(path, post(on_event))
        .route_layer(AppwriteWebhookLayer::new(verifier.clone()))
        .with_state(verifier)
        .route("/metrics", get(move || async move { metrics.render() }))
}

async fn on_event(Webhook(event): Webhook) -> StatusCode {
    match event {
        Event::Row {
            table_id,
            row,
            action,
            ..
        } => println!("row {} in {table_id}: {action:?}", row.id),
        Event::User { user, action, .. } => println!("user {} {action:?}", user.id),
        other => println!("{:?} event", other.kind()),
    }
    // Answer fast; Appwrite waits at most 15 s and counts >= 400 as a failed attempt.
    StatusCode::NO_CONTENT
}

/// Installs the Prometheus recorder the crates' metrics go to, with histogram buckets around
/// Appwrite's 15 s limit, and keeps its histograms drained.
fn prometheus() -> PrometheusHandle {
    let seconds = [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 15.0];
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &seconds)
        .and_then(|builder| builder.install_recorder())
        .expect("the first and only metrics recorder");
    appwrite_webhooks::observe::describe_metrics();
    let upkeep = handle.clone();
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_secs(5)).await;
            upkeep.run_upkeep();
        }
    });
    handle
}

/// Logs to stderr, filtered by `RUST_LOG` (`info` when unset).
fn logs() {
    use tracing_subscriber::filter::Targets;
    use tracing_subscriber::prelude::*;
    let default = tracing::Level::INFO;
    let filter = match std::env::var("RUST_LOG") {
        Ok(directives) => directives.parse::<Targets>().unwrap_or_else(|error| {
            eprintln!("RUST_LOG={directives:?} is not understood ({error}); logging at {default}");
            Targets::new().with_default(default)
        }),
        Err(_) => Targets::new().with_default(default),
    };
    tracing_subscriber::registry()
        .with(tracing_subscriber::fmt::layer().with_writer(std::io::stderr))
        .with(filter)
        .init();
}

/// HTTP Basic credentials from the environment, when the webhook has them.
fn basic_auth(verifier: Verifier) -> Result<Verifier, String> {
    match (
        std::env::var("APPWRITE_WEBHOOK_HTTP_USER"),
        std::env::var("APPWRITE_WEBHOOK_HTTP_PASS"),
    ) {
        (Ok(user), Ok(password)) if !user.is_empty() && !password.is_empty() => {
            Ok(verifier.with_basic_auth(&user, &password))
        }
        (Err(_), Err(_)) => Ok(verifier),
        _ => Err(
            "set both APPWRITE_WEBHOOK_HTTP_USER and APPWRITE_WEBHOOK_HTTP_PASS, \
                  non-empty (Appwrite sends credentials only when both are set), or neither"
                .into(),
        ),
    }
}

/// Serves on `PORT` (default 3000) with the key and URL from the environment until Ctrl-C.
#[tokio::main]
async fn main() -> ExitCode {
    let (Ok(key), Ok(url)) = (
        std::env::var("APPWRITE_WEBHOOK_KEY"),
        std::env::var("APPWRITE_WEBHOOK_URL"),
    ) else {
        eprintln!(
            "set APPWRITE_WEBHOOK_KEY and APPWRITE_WEBHOOK_URL (the URL exactly as configured in Appwrite)"
        );
        return ExitCode::from(2);
    };
    // Appwrite posts to the URL as configured: serve its path, or every delivery is a 404.
    let Some(path) = url
        .parse::<axum::http::Uri>()
        .ok()
        .filter(|uri| uri.scheme().is_some())
        .map(|uri| uri.path().to_owned())
    else {
        eprintln!("APPWRITE_WEBHOOK_URL is not an absolute URL: {url:?}");
        return ExitCode::from(2);
    };
    // `try_new` refuses an empty key (a set-but-empty variable would accept forgeries). The
    // replay guard: Appwrite re-sends deliveries, and a captured one verifies forever.
    let verifier = match Verifier::try_new(key, url.as_str()) {
        Ok(verifier) => verifier
            .with_replay_guard(ReplayGuard::in_memory())
            .with_body_timeout(Duration::from_secs(10)),
        Err(error) => {
            eprintln!("APPWRITE_WEBHOOK_KEY: {error}");
            return ExitCode::from(2);
        }
    };
    let verifier = match basic_auth(verifier) {
        Ok(verifier) => verifier,
        Err(error) => {
            eprintln!("{error}");
            return ExitCode::from(2);
        }
    };
    logs();
    let metrics = prometheus();
    let port = std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(3000u16);
    let listener = match tokio::net::TcpListener::bind(("0.0.0.0", port)).await {
        Ok(listener) => listener,
        Err(error) => {
            eprintln!("cannot listen on port {port}: {error}");
            return ExitCode::FAILURE;
        }
    };
    println!(
        "verifying deliveries for {url} on port {port}, path {path}{}; metrics at /metrics; Ctrl-C stops",
        if verifier.requires_basic_auth() {
            ", with HTTP Basic credentials"
        } else {
            ""
        }
    );
    let shutdown = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    match axum::serve(listener, app(&path, verifier, metrics))
        .with_graceful_shutdown(shutdown)
        .await
    {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("server error: {error}");
            ExitCode::FAILURE
        }
    }
}
