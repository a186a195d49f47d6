//! Exactly-once effects: mirror Appwrite's users into a `users` table that lives in the
//! inbox's own SQLite file. The handler's writes and its delivery's `done` commit in one
//! transaction, and per-resource ordering answers late copies as *stale*, so the table ends
//! equal to the users' final state however the deliveries arrive.
//!
//! ```sh
//! cargo run --example exactly_once            # a burst with duplicates, redeliveries, late
//!                                             # stale copies and a failing handler; checks the
//!                                             # table, exits non-zero if it is wrong
//! APPWRITE_WEBHOOK_KEY=whsec_… APPWRITE_WEBHOOK_URL=https://your.domain/hooks/appwrite \
//!   PORT=3000 INBOX=users.db cargo run --example exactly_once -- --serve
//! sqlite3 users.db 'SELECT * FROM users'       # the mirror, beside the inbox
//! ```
//!
//! What is exactly once: the writes made through `tx`, in this file. What is not: anything
//! else a handler does (an e-mail, an HTTP call) — that still runs once per attempt.

mod burst;

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use appwrite_webhooks::inbox::{Inbox, RetryPolicy, Workers};
use appwrite_webhooks::{Delivery, HandlerError, Verifier};
use appwrite_webhooks_axum::InboxService;
use appwrite_webhooks_sqlite::rusqlite::params;
use appwrite_webhooks_sqlite::{ExactlyOnce, LedgerTransaction, SqliteLedger};
use axum::routing::post_service;

/// Your table, in the inbox's file.
const USERS: &str = "CREATE TABLE IF NOT EXISTS users (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, email TEXT NOT NULL, updated_at TEXT NOT NULL)";

/// What the handler reads of a user's payload.
#[derive(serde::Deserialize)]
struct User {
    #[serde(rename = "$id")]
    id: String,
    name: String,
    #[serde(default)]
    email: String,
    #[serde(rename = "$updatedAt", default)]
    updated_at: String,
}

/// The handler: a user's create or update is an upsert, a delete a delete — written through
/// `tx`, the ledger's transaction, which also records the delivery done. `database_down`
/// makes that many attempts fail *after* writing, as a handler that errors half-way would:
/// the writes roll back and the delivery is retried.
fn mirror(
    ledger: &SqliteLedger,
    database_down: Arc<AtomicU32>,
) -> ExactlyOnce<
    impl Fn(&Delivery, &LedgerTransaction<'_>) -> Result<(), HandlerError>
    + Send
    + Sync
    + 'static
    + use<>,
> {
    ledger
        .exactly_once(move |delivery: &Delivery, tx: &LedgerTransaction<'_>| {
            let user: User = delivery.json()?;
            let action = delivery.primary_event().and_then(|e| e.action().map(str::to_owned));
            if action.as_deref() == Some("delete") {
                tx.execute("DELETE FROM users WHERE id = ?1", params![user.id])?;
            } else {
                tx.execute(
                    "INSERT INTO users (id, name, email, updated_at) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (id) DO UPDATE SET
                         name = excluded.name, email = excluded.email, updated_at = excluded.updated_at",
                    params![user.id, user.name, user.email, user.updated_at],
                )?;
            }
            if database_down
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok()
            {
                // The upsert above is undone with the attempt.
                return Err("failed after writing (the write is rolled back)".into());
            }
            Ok(())
        })
        // Late copies (an older $updatedAt than the one applied) are settled `stale`.
        .with_ordering()
}

fn workers<H: appwrite_webhooks::inbox::InboxHandler>(
    inbox: Inbox,
    verifier: Verifier,
    handler: H,
) -> Workers {
    Workers::new(inbox, verifier, handler)
        .with_concurrency(4)
        .with_poll_interval(Duration::from_millis(20))
        .with_retry(
            RetryPolicy::default()
                .with_initial_backoff(Duration::from_millis(50))
                .with_max_backoff(Duration::from_millis(200))
                .with_attempt_timeout(Duration::from_secs(10)),
        )
}

/// The users table as `id → (name, email)`.
async fn table(ledger: &SqliteLedger) -> BTreeMap<String, (String, String)> {
    let path = ledger.path().to_owned();
    tokio::task::spawn_blocking(move || {
        let db = appwrite_webhooks_sqlite::rusqlite::Connection::open(path)?;
        let mut query = db.prepare("SELECT id, name, email FROM users ORDER BY id")?;
        let rows = query.query_map([], |row| Ok((row.get(0)?, (row.get(1)?, row.get(2)?))))?;
        rows.collect::<Result<BTreeMap<_, _>, _>>()
    })
    .await
    .expect("the reader")
    .expect("the users table")
}

#[tokio::main]
async fn main() -> ExitCode {
    if std::env::args().any(|a| a == "--serve") {
        serve().await
    } else {
        burst::burst().await
    }
}

/// Serves real deliveries on loopback `PORT` into the file `INBOX`, mirroring users into its
/// `users` table, until Ctrl-C; then prints the table.
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
    let file = std::env::var("INBOX").unwrap_or_else(|_| "users.db".into());
    let ledger = match SqliteLedger::open(&file) {
        Ok(ledger) => ledger,
        Err(error) => {
            eprintln!("{error}");
            return ExitCode::FAILURE;
        }
    };
    if let Err(error) = ledger.execute_batch(USERS).await {
        eprintln!("{error}");
        return ExitCode::FAILURE;
    }
    let inbox = Inbox::new(ledger.clone());
    let port = std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(3000u16);
    let listener = match tokio::net::TcpListener::bind(("127.0.0.1", port)).await {
        Ok(listener) => listener,
        Err(error) => {
            eprintln!("cannot listen on 127.0.0.1:{port}: {error}");
            return ExitCode::FAILURE;
        }
    };
    let running = workers(
        inbox.clone(),
        verifier.clone(),
        mirror(&ledger, Arc::new(AtomicU32::new(0))),
    )
    .start();
    let app = axum::Router::new().route(&path, post_service(InboxService::new(verifier, inbox)));
    println!(
        "mirroring users for {url} into {file} on 127.0.0.1:{port}, path {path} \
         (put a tunnel or a proxy in front); Ctrl-C stops"
    );
    let served = axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await;
    running.shutdown(Duration::from_secs(10)).await;
    println!("users in {file}:");
    for (id, (name, email)) in table(&ledger).await {
        println!("  {id:<20} {name:<24} {email}");
    }
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("server error: {error}");
            ExitCode::FAILURE
        }
    }
}
