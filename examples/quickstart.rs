//! A complete Appwrite webhook receiver with axum.
//!
//! ```sh
//! cargo run --example quickstart              # self-test: serve, send a real signed delivery
//!                                             # and a forged one, print what happened, exit
//! APPWRITE_WEBHOOK_KEY=whsec_… APPWRITE_WEBHOOK_URL=https://your.domain/hooks/appwrite \
//!   PORT=3000 cargo run --example quickstart -- --serve
//! ```
//!
//! `--serve` also answers `GET /metrics` (Prometheus text format), logs one line per delivery
//! to stderr (`RUST_LOG`, e.g. `RUST_LOG=debug` or `RUST_LOG=info,appwrite_webhooks=debug`,
//! default `info`), and requires HTTP Basic credentials when `APPWRITE_WEBHOOK_HTTP_USER` and
//! `APPWRITE_WEBHOOK_HTTP_PASS` are set (the webhook's username and password in Appwrite).

use std::process::ExitCode;

use std::time::Duration;

use appwrite_webhooks::{Action, Event, ReplayGuard, Verifier};
use appwrite_webhooks_axum::{AppwriteWebhookLayer, Webhook};
use axum::Router;
use axum::http::StatusCode;
use axum::routing::{get, post};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use testkit::demo;

/// The receiver: one handler on `path`, the verifier in state, and the layer that settles the
/// replay guard's claims with the handler's outcome. Everything else is the extractor's job.
/// `/metrics` is outside the layer: it is not a delivery.
fn app(path: &str, verifier: Verifier, metrics: PrometheusHandle) -> Router {
    Router::new()
        .route(path, post(on_event))
        .route_layer(AppwriteWebhookLayer::new(verifier.clone()))
        .with_state(verifier)
        .route("/metrics", get(move || async move { metrics.render() }))
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
fn logs(default: tracing::Level) {
    use tracing_subscriber::filter::Targets;
    use tracing_subscriber::prelude::*;
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

/// What every receiver here adds to its key and URL: an in-memory replay guard — Appwrite
/// re-sends deliveries, and a captured one verifies forever, relabelled or not — and a bound on
/// how long a body may take to arrive.
fn guarded(verifier: Verifier) -> Verifier {
    verifier
        .with_replay_guard(ReplayGuard::in_memory())
        .with_body_timeout(Duration::from_secs(10))
}

async fn on_event(Webhook(event): Webhook) -> StatusCode {
    match event {
        Event::Row {
            table_id,
            action: Action::Create,
            row,
            ..
        } => {
            println!(
                "  handler: new row {} in {table_id}: {}",
                row.id,
                columns(&row.data)
            );
        }
        Event::User { user, action, .. } => println!("  handler: user {} {action:?}", user.id),
        other => println!("  handler: {:?} event", other.kind()),
    }
    // Answer fast; Appwrite waits at most 15 s and counts >= 400 as a failed attempt.
    StatusCode::NO_CONTENT
}

/// The row's own columns, for printing.
fn columns(map: &appwrite_webhooks::models::JsonMap) -> String {
    map.iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[tokio::main]
async fn main() -> ExitCode {
    if std::env::args().any(|a| a == "--serve") {
        serve().await
    } else {
        self_test().await
    }
}

/// Serves on `PORT` (default 3000) with the key and URL from the environment until Ctrl-C.
async fn serve() -> ExitCode {
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
    let verifier = match Verifier::try_new(key, url.as_str()) {
        Ok(verifier) => guarded(verifier),
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
    logs(tracing::Level::INFO);
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

/// Starts the receiver on a free loopback port and plays Appwrite against it with a real HTTP
/// client: a genuine delivery, a forged one, and one whose body was re-serialised.
async fn self_test() -> ExitCode {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a loopback port");
    let addr = listener.local_addr().expect("local address");
    let url = format!("http://{addr}/hooks/appwrite");
    let verifier = guarded(Verifier::new(demo::KEY, url.as_str()));
    if std::env::var_os("RUST_LOG").is_some() {
        logs(tracing::Level::WARN);
    }
    let metrics = prometheus();
    let app = app("/hooks/appwrite", verifier, metrics.clone());
    tokio::spawn(axum::serve(listener, app).into_future());
    println!("receiver listening at {url}\n");
    let code = demo::run(addr, &url).await;
    // What an operator's dashboard would show for the deliveries above (GET /metrics):
    println!("\nmetrics (GET /metrics with --serve):");
    for line in metrics.render().lines() {
        if line.starts_with(appwrite_webhooks::observe::DELIVERIES) {
            println!("  {line}");
        }
    }
    code
}
