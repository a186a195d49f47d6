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

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use appwrite_webhooks::inbox::{Inbox, RetryPolicy, Workers};
use appwrite_webhooks::sender::DeliveryBuilder;
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
        burst().await
    }
}

/// One change Appwrite reports: `users.<id>.<action>` with the user as it is (for a delete:
/// as it was) at `$updatedAt`.
struct Change {
    id: &'static str,
    action: &'static str,
    name: &'static str,
    email: &'static str,
    at: &'static str,
}

/// What happened, in order. The table must end as the last change of each user left it.
const HISTORY: &[Change] = &[
    Change {
        id: "ada",
        action: "create",
        name: "Ada",
        email: "ada@example.com",
        at: "10:00:00.000",
    },
    Change {
        id: "ada",
        action: "update",
        name: "Ada Lovelace",
        email: "ada@example.com",
        at: "10:00:01.000",
    },
    Change {
        id: "ada",
        action: "update",
        name: "Ada Lovelace",
        email: "ada@analytical.engine",
        at: "10:00:02.500",
    },
    Change {
        id: "bob",
        action: "create",
        name: "Bob",
        email: "bob@example.com",
        at: "10:00:00.200",
    },
    Change {
        id: "bob",
        action: "update",
        name: "Robert",
        email: "bob@example.com",
        at: "10:00:03.000",
    },
    // A delete carries the user as last updated: the same $updatedAt as that update.
    Change {
        id: "bob",
        action: "delete",
        name: "Robert",
        email: "bob@example.com",
        at: "10:00:03.000",
    },
    Change {
        id: "cy",
        action: "create",
        name: "Cy",
        email: "cy@example.com",
        at: "10:00:00.400",
    },
    // Created and updated within one millisecond: create < update.
    Change {
        id: "cy",
        action: "update",
        name: "Cyrus",
        email: "cy@example.com",
        at: "10:00:00.400",
    },
    Change {
        id: "dee",
        action: "create",
        name: "Dee",
        email: "dee@example.com",
        at: "10:00:00.600",
    },
    Change {
        id: "dee",
        action: "delete",
        name: "Dee",
        email: "dee@example.com",
        at: "10:00:00.600",
    },
    // Deleted, then signed up again with the same id, later.
    Change {
        id: "dee",
        action: "create",
        name: "Dee Again",
        email: "dee2@example.com",
        at: "10:00:05.000",
    },
];

/// Plays Appwrite: every change delivered, in a scrambled order, with copies.
async fn burst() -> ExitCode {
    let dir = std::env::temp_dir().join(format!("appwrite-exactly-once-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    if let Err(error) = std::fs::create_dir_all(&dir) {
        eprintln!("cannot create {}: {error}", dir.display());
        return ExitCode::FAILURE;
    }
    let file = dir.join("users.db");
    let ledger = SqliteLedger::open(&file).expect("a fresh ledger file");
    ledger.execute_batch(USERS).await.expect("the users table");
    let inbox = Inbox::new(ledger.clone());
    let (key, url) = ("whsec_example", "https://example.com/hooks/appwrite");
    let verifier = Verifier::new(key, url);

    // Each change is one delivery with its own id; Appwrite may send it again byte for byte
    // (a duplicate: recognised at the door), and a late copy may come under another id (a
    // redelivery long after, a second webhook to this URL): only ordering catches those.
    let deliver = |change: &Change, delivery_id: String| {
        let body = format!(
            r#"{{"$id":"{}","name":"{}","email":"{}","$updatedAt":"2025-06-01T{}+00:00"}}"#,
            change.id, change.name, change.email, change.at
        );
        DeliveryBuilder::new(key, url, body)
            .events([format!("users.{}.{}", change.id, change.action)])
            .delivery_id(delivery_id)
            .build()
    };
    let mut sends = Vec::new();
    for (n, change) in HISTORY.iter().enumerate() {
        sends.push(deliver(change, format!("d{n}")));
        sends.push(deliver(change, format!("d{n}"))); // a duplicate
        sends.push(deliver(change, format!("late-{n}"))); // a copy under another id
    }
    // A scrambled order (a fixed shuffle, so every run is the same).
    let mut seed = 0x2545_F491_4F6C_DD1Du64;
    for i in (1..sends.len()).rev() {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        sends.swap(i, (seed % (i as u64 + 1)) as usize);
    }

    // The first half arrives before the workers start, the rest while they run. What the
    // route does for each (InboxService): verify, store, answer 202.
    let (early, late) = sends.split_at(sends.len() / 2);
    let mut answered = 0;
    for sent in early {
        let (parts, body) = sent.clone().into_request().into_parts();
        let body = http_body_util::Full::new(body);
        inbox
            .accept(&verifier, &parts.uri, &parts.headers, body)
            .await
            .expect("stored");
        answered += 1;
    }
    let database_down = Arc::new(AtomicU32::new(3));
    let running = workers(
        inbox.clone(),
        verifier.clone(),
        mirror(&ledger, Arc::clone(&database_down)),
    )
    .start();
    for sent in late {
        let (parts, body) = sent.clone().into_request().into_parts();
        let body = http_body_util::Full::new(body);
        inbox
            .accept(&verifier, &parts.uri, &parts.headers, body)
            .await
            .expect("stored");
        answered += 1;
    }
    let mut stats = inbox.admin().stats().await.expect("stats");
    for _ in 0..500 {
        if stats.pending == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        stats = inbox.admin().stats().await.expect("stats");
    }
    running.shutdown(Duration::from_secs(5)).await;

    println!("{answered} deliveries answered 202 (duplicates included)");
    println!(
        "inbox: stored {}, done {}, stale {} (older than a version already applied: not handled), dead {}, pending {}",
        stats.stored, stats.done, stats.stale, stats.dead, stats.pending
    );
    println!(
        "the handler failed {} attempts after writing; their writes were rolled back and retried",
        3 - database_down.load(Ordering::SeqCst)
    );

    let mut expected = BTreeMap::new();
    for change in HISTORY {
        if change.action == "delete" {
            expected.remove(change.id);
        } else {
            expected.insert(
                change.id.to_owned(),
                (change.name.to_owned(), change.email.to_owned()),
            );
        }
    }
    let mirrored = table(&ledger).await;
    println!("\nusers in {}:", file.display());
    for (id, (name, email)) in &mirrored {
        println!("  {id:<4} {name:<14} {email}");
    }
    drop((inbox, ledger));
    let _ = std::fs::remove_dir_all(&dir);
    if mirrored == expected && stats.pending == 0 && stats.dead == 0 {
        println!(
            "\nthe users table equals the users' final state: each change applied once, late copies skipped"
        );
        ExitCode::SUCCESS
    } else {
        println!("\nthe users table differs from the final state: expected {expected:?}");
        ExitCode::FAILURE
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
