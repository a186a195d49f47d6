//! The self-check: a scripted history of users, delivered the way Appwrite may deliver it —
//! scrambled, with duplicates, redeliveries, late stale copies and a failing handler — and the
//! table compared with the users' final state.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use appwrite_webhooks::Verifier;
use appwrite_webhooks::inbox::Inbox;
use appwrite_webhooks::sender::DeliveryBuilder;
use appwrite_webhooks_sqlite::SqliteLedger;

use crate::{USERS, mirror, table, workers};

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
pub(crate) async fn burst() -> ExitCode {
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
