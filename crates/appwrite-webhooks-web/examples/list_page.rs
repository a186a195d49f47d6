//! Times the list page's server work with 100 000 deliveries stored in SQLite: 100 requests per
//! page kind through the router (no network), after one warm-up each. Recorded in
//! BENCHMARKS.md ("The inbox web view").
//!
//! ```sh
//! cargo run -p appwrite-webhooks-web --example list_page -- [DELIVERIES]
//! ```

use std::time::{Duration, Instant, SystemTime};

use appwrite_webhooks::headers::{WEBHOOK_DELIVERY_ID, WEBHOOK_EVENTS};
use appwrite_webhooks::inbox::{Inbox, InboxStore as _, Received};
use appwrite_webhooks_sqlite::{Durability, SqliteLedger};
use appwrite_webhooks_web::InboxView;
use http::{HeaderMap, HeaderValue, Request, StatusCode};
use http_body_util::BodyExt as _;
use tower::ServiceExt as _;

const RUNS: usize = 100;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let count: u64 = std::env::args()
        .nth(1)
        .map(|n| n.parse())
        .transpose()?
        .unwrap_or(100_000);
    let dir = std::env::temp_dir().join(format!("aw-web-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let path = dir.join("inbox.db");
    let _ = std::fs::remove_file(&path);
    let ledger = SqliteLedger::builder(&path)
        .durability(Durability::Normal)
        .open()?;

    let started = Instant::now();
    let mut pending = tokio::task::JoinSet::new();
    let ledger = std::sync::Arc::new(ledger);
    for n in 0..count {
        let ledger = std::sync::Arc::clone(&ledger);
        pending.spawn(async move { ledger.put(delivery(n)).await });
        // Up to 256 puts in flight: they share commits (group commit).
        if pending.len() >= 256 {
            pending.join_next().await.ok_or("no task")???;
        }
    }
    while let Some(put) = pending.join_next().await {
        put??;
    }
    println!("stored {count} deliveries in {:.1?}", started.elapsed());
    let ledger = std::sync::Arc::try_unwrap(ledger).map_err(|_| "ledger still shared")?;
    // The oldest tenth are dead letters, as an operator would look for them.
    let dead = kill_oldest_tenth(&ledger, count).await?;
    println!("{dead} dead letters");
    let app = InboxView::new(Inbox::new(ledger)).router();

    for (what, uri) in [
        ("newest page", "/deliveries".to_owned()),
        (
            "a page deep in the cursor",
            format!("/deliveries?before={}", count / 2),
        ),
        ("dead letters", "/dead".to_owned()),
        (
            "event pattern",
            "/deliveries?event=users.*.create".to_owned(),
        ),
        (
            "one resource (a bounded window of ids)",
            "/deliveries?resource=u42".to_owned(),
        ),
    ] {
        let mut times = Vec::with_capacity(RUNS);
        for run in 0..=RUNS {
            let request = Request::get(uri.as_str()).body(axum::body::Body::empty())?;
            let at = Instant::now();
            let response = app.clone().oneshot(request).await?;
            assert_eq!(response.status(), StatusCode::OK);
            let body = response.into_body().collect().await?.to_bytes();
            let took = at.elapsed();
            assert!(body.len() > 1000);
            if run > 0 {
                times.push(took);
            }
        }
        times.sort();
        let mean = times.iter().sum::<Duration>() / RUNS as u32;
        println!(
            "{what:<40} median {:>8.2?}  mean {:>8.2?}  p95 {:>8.2?}  max {:>8.2?}",
            times[RUNS / 2],
            mean,
            times[RUNS * 95 / 100],
            times[RUNS - 1]
        );
    }
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}

/// A user-created delivery of about 400 bytes, told apart by `n`.
fn delivery(n: u64) -> Received {
    let mut headers = HeaderMap::new();
    let event = if n.is_multiple_of(3) {
        "create"
    } else {
        "update"
    };
    headers.insert(
        WEBHOOK_EVENTS,
        HeaderValue::from_str(&format!(
            "users.u{n}.{event},users.*.{event},users.u{n},users.*"
        ))
        .expect("a header value"),
    );
    headers.insert(
        WEBHOOK_DELIVERY_ID,
        HeaderValue::from_str(&format!("dlv-{n}")).expect("a header value"),
    );
    let body = serde_json::json!({
        "$id": format!("u{n}"),
        "name": format!("User {n}"),
        "email": format!("u{n}@example.com"),
        "status": true,
        "labels": ["beta"],
        "prefs": {"theme": "dark"},
        "$createdAt": "2026-12-05T16:00:00.000+00:00",
        "$updatedAt": "2026-12-05T16:00:00.000+00:00",
    });
    Received {
        fingerprint: format!("bench-{n}").into_bytes(),
        received_at: SystemTime::now(),
        uri: "/hooks".into(),
        headers,
        body: body.to_string().into(),
    }
}

/// Takes the oldest tenth of the deliveries and makes them dead letters, through the store's own protocol (their attempts recorded).
async fn kill_oldest_tenth(
    ledger: &SqliteLedger,
    count: u64,
) -> Result<u64, Box<dyn std::error::Error>> {
    let mut dead = 0;
    for _ in 0..count / 10 {
        let Some(taken) = ledger.take("bench", Duration::from_secs(60)).await? else {
            break;
        };
        if ledger.dead(&taken.lease, "the handler failed").await? {
            dead += 1;
        }
    }
    Ok(dead)
}
