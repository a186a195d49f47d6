//! Ack fast, process later: an axum route in inbox mode over a SQLite file, and workers running
//! a `Router` with retries and dead letters.
//!
//! ```sh
//! cargo run --example inbox               # self-test: store, re-send, forge, a failing first
//!                                         # attempt retried, print the inbox's counts, exit
//! APPWRITE_WEBHOOK_KEY=whsec_… APPWRITE_WEBHOOK_URL=https://your.domain/hooks/appwrite \
//!   PORT=3000 INBOX=inbox.db cargo run --example inbox -- --serve
//! appwrite-webhooks inbox stats --sqlite inbox.db
//! ```

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use appwrite_webhooks::inbox::{Inbox, RetryPolicy, Workers};
use appwrite_webhooks::sender::DeliveryBuilder;
use appwrite_webhooks::{EventKind, HandlerError, Router, Verifier};
use appwrite_webhooks_axum::InboxService;
use appwrite_webhooks_sqlite::SqliteLedger;
use axum::routing::post_service;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

/// The key the webhook has in Appwrite (here, a made-up one: both sides are in this file).
const KEY: &str = "whsec_a819408ce5010ca2e09ef59ac3d89f5ff8595d02b524e61b";

/// A row-created body exactly as Appwrite's PHP encodes it: `\/` and `\u00eb` escapes.
const ROW_BODY: &str = r#"{"$id":"ord_1042","$sequence":"1","$tableId":"orders","$databaseId":"shop","$createdAt":"2020-10-15T06:38:00.000+00:00","$updatedAt":"2020-10-15T06:38:00.000+00:00","$permissions":["read(\"any\")"],"customer":"Zo\u00eb M\u00fcller","note":"ships to https:\/\/example.com\/a\/b","total":10}"#;

/// The route: verify, store durably, answer 202 (503 if the store failed). One line.
fn app(path: &str, verifier: Verifier, inbox: Inbox) -> axum::Router {
    axum::Router::new().route(path, post_service(InboxService::new(verifier, inbox)))
}

/// The handlers the workers run. `database_down` makes the first attempt at each row fail, as
/// a database that is briefly away would: the worker retries it after a backoff.
fn handlers(database_down: Arc<AtomicU32>) -> Router {
    Router::new().on_kind(EventKind::Row, move |incoming| {
        let database_down = Arc::clone(&database_down);
        async move {
            if database_down.fetch_sub(1, Ordering::SeqCst) > 0 {
                return Err(HandlerError::from("orders database unavailable"));
            }
            let name = incoming
                .name()
                .map_or("(no concrete event)", |n| n.as_str());
            println!("  worker: handled {name}");
            Ok(())
        }
    })
}

fn workers(inbox: Inbox, verifier: Verifier, router: Router) -> Workers {
    Workers::new(inbox, verifier, router)
        .with_concurrency(4)
        .with_retry(
            RetryPolicy::default()
                .with_max_attempts(8)
                .with_initial_backoff(Duration::from_millis(200))
                .with_attempt_timeout(Duration::from_secs(30)),
        )
}

#[tokio::main]
async fn main() -> ExitCode {
    if std::env::args().any(|a| a == "--serve") {
        serve().await
    } else {
        self_test().await
    }
}

/// Serves on `PORT` into the SQLite file `INBOX` with workers, until Ctrl-C; then stops taking
/// requests and gives the workers 10 s to finish (what does not finish is handed back).
async fn serve() -> ExitCode {
    let (Ok(key), Ok(url)) = (
        std::env::var("APPWRITE_WEBHOOK_KEY"),
        std::env::var("APPWRITE_WEBHOOK_URL"),
    ) else {
        eprintln!("set APPWRITE_WEBHOOK_KEY and APPWRITE_WEBHOOK_URL");
        return ExitCode::from(2);
    };
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
        Ok(verifier) => verifier.with_body_timeout(Duration::from_secs(10)),
        Err(error) => {
            eprintln!("APPWRITE_WEBHOOK_KEY: {error}");
            return ExitCode::from(2);
        }
    };
    let file = std::env::var("INBOX").unwrap_or_else(|_| "inbox.db".into());
    let inbox = match SqliteLedger::open(&file) {
        Ok(store) => Inbox::new(store),
        Err(error) => {
            eprintln!("{error}");
            return ExitCode::FAILURE;
        }
    };
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
    let running = workers(
        inbox.clone(),
        verifier.clone(),
        handlers(Arc::new(AtomicU32::new(0))),
    )
    .start();
    println!("storing deliveries for {url} into {file} on port {port}, path {path}; Ctrl-C stops");
    let served = axum::serve(listener, app(&path, verifier, inbox))
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await;
    running.shutdown(Duration::from_secs(10)).await;
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("server error: {error}");
            ExitCode::FAILURE
        }
    }
}

/// Plays Appwrite against the route on loopback, with a fresh inbox file.
async fn self_test() -> ExitCode {
    let dir = std::env::temp_dir().join(format!("appwrite-webhooks-inbox-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    if let Err(error) = std::fs::create_dir_all(&dir) {
        eprintln!("cannot create {}: {error}", dir.display());
        return ExitCode::FAILURE;
    }
    let file = dir.join("inbox.db");
    let inbox = Inbox::new(SqliteLedger::open(&file).expect("a fresh inbox file"));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a loopback port");
    let addr = listener.local_addr().expect("local address");
    let url = format!("http://{addr}/hooks/appwrite");
    let verifier = Verifier::new(KEY, url.as_str()).with_body_timeout(Duration::from_secs(10));
    tokio::spawn(async move {
        let _ = axum::serve(listener, app("/hooks/appwrite", verifier, inbox)).await;
    });
    println!("inbox at {}\n", file.display());

    let event = "tablesdb.shop.tables.orders.rows.ord_1042.create"
        .parse()
        .expect("an event name");
    let genuine = DeliveryBuilder::new(KEY, url.as_str(), ROW_BODY)
        .event(&event)
        .build();
    let forged = DeliveryBuilder::new("a-guessed-key", url.as_str(), ROW_BODY)
        .event(&event)
        .build();
    let mut as_expected = true;
    for (label, sent, expected) in [
        ("genuine delivery", &genuine, 202),
        ("the same delivery again (Appwrite re-sends)", &genuine, 202),
        ("forged signature", &forged, 401),
    ] {
        let (status, text) = match send(addr, sent).await {
            Ok(answer) => answer,
            Err(error) => {
                eprintln!("cannot reach the route at {addr}: {error}");
                return ExitCode::FAILURE;
            }
        };
        println!("sent {label}\n  answered {status} {text}\n");
        as_expected &= status == expected;
    }

    // The workers, in this process here; any process sharing the file would do.
    let inbox = Inbox::new(SqliteLedger::open(&file).expect("the inbox file"));
    let verifier = Verifier::new(KEY, url.as_str());
    let first_attempt_fails = Arc::new(AtomicU32::new(1));
    let running = workers(inbox.clone(), verifier, handlers(first_attempt_fails)).start();
    let mut stats = inbox.admin().stats().await.expect("stats");
    for _ in 0..200 {
        if stats.done == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
        stats = inbox.admin().stats().await.expect("stats");
    }
    running.shutdown(Duration::from_secs(5)).await;
    let row = inbox
        .admin()
        .get(1)
        .await
        .expect("get")
        .expect("delivery 1");
    println!(
        "inbox: stored {} done {} dead {}; delivery 1 took {} attempts (the first failed: {})",
        stats.stored,
        stats.done,
        stats.dead,
        row.attempts,
        row.last_error.as_deref().unwrap_or("-")
    );
    as_expected &= stats.stored == 1 && stats.done == 1 && row.attempts == 2;
    let _ = std::fs::remove_dir_all(&dir);
    if as_expected {
        println!("\nall as expected: stored once, answered 202 before handling, retried, handled");
        ExitCode::SUCCESS
    } else {
        println!("\nsomething was not as expected");
        ExitCode::FAILURE
    }
}

/// Sends `sent` to `addr` (a POST) at its URL's path, as HTTP/1.1 over a fresh connection: the body byte
/// for byte and every header. The status and the body.
async fn send(
    addr: std::net::SocketAddr,
    sent: &appwrite_webhooks::sender::SignedDelivery,
) -> std::io::Result<(u16, String)> {
    let path = sent
        .url()
        .parse::<axum::http::Uri>()
        .ok()
        .and_then(|uri| uri.path_and_query().map(|p| p.as_str().to_owned()))
        .unwrap_or_else(|| "/".to_owned());
    let mut request =
        format!("POST {path} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n").into_bytes();
    for (name, value) in sent.headers() {
        request.extend_from_slice(name.as_str().as_bytes());
        request.extend_from_slice(b": ");
        request.extend_from_slice(value.as_bytes());
        request.extend_from_slice(b"\r\n");
    }
    request.extend_from_slice(b"\r\n");
    request.extend_from_slice(sent.body());
    let mut stream = tokio::net::TcpStream::connect(addr).await?;
    stream.write_all(&request).await?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await?;
    let response = String::from_utf8_lossy(&response);
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0);
    let body = response.split_once("\r\n\r\n").map_or("", |(_, body)| body);
    Ok((status, body.trim().to_owned()))
}
