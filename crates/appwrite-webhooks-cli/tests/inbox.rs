//! `listen --inbox-sqlite` / `--inbox-redis` and `inbox …`, run as processes: what got a `202`
//! survives SIGKILL byte for byte and is handled after a restart; dead letters are listed and
//! retried; bad input is refused clearly.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use appwrite_webhooks::Delivery;
use appwrite_webhooks::inbox::{Inbox, RetryPolicy, State, Workers};
use appwrite_webhooks::sender::SignedDelivery;
use appwrite_webhooks_sqlite::SqliteLedger;
use common::inbox::{delivery, dir, id_of, listen, post, stats, verifier};
use common::{run, stderr, stdout};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_202_survives_a_sigkill_mid_burst_byte_for_byte() {
    let file = dir("burst").join("inbox.db");
    let store = ["--inbox-sqlite", file.to_str().unwrap()];
    let (mut child, port) = listen(&store);
    let sent: Vec<SignedDelivery> = (0..400).map(delivery).collect();
    let sent = Arc::new(sent);
    let answers = Arc::new(std::sync::Mutex::new(Vec::new()));
    let mut clients = Vec::new();
    for client in 0..8 {
        let (sent, answers) = (Arc::clone(&sent), Arc::clone(&answers));
        clients.push(tokio::spawn(async move {
            for n in (client..sent.len()).step_by(8) {
                match post(&sent[n], port).await {
                    Some((202, text)) => answers.lock().unwrap().push((n, id_of(&text))),
                    Some((status, text)) => panic!("{status} {text}"),
                    None => break, // the receiver is gone
                }
            }
        }));
    }
    // Kill it mid-burst, without warning.
    let deadline = Instant::now() + Duration::from_secs(60);
    while answers.lock().unwrap().len() < 100 {
        assert!(Instant::now() < deadline, "the burst stalled");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    child.kill().unwrap();
    child.wait().unwrap();
    for client in clients {
        client.await.unwrap();
    }
    let answers = answers.lock().unwrap().clone();
    assert!(
        answers.len() >= 100 && answers.len() < 400,
        "killed mid-burst: {}",
        answers.len()
    );

    let inbox = ["--sqlite", file.to_str().unwrap()];
    let counts = stats(&inbox);
    assert!(
        counts["stored"].as_u64().unwrap() >= answers.len() as u64,
        "{counts}"
    );
    assert_eq!(counts["pending"], counts["stored"]);
    for (n, id) in answers {
        let out = run(
            &[
                "inbox",
                "show",
                &id.to_string(),
                "--body",
                inbox[0],
                inbox[1],
            ],
            b"",
        );
        assert!(out.status.success(), "{}", stderr(&out));
        assert_eq!(out.stdout, sent[n].body(), "delivery {n} as stored {id}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delivery_stored_by_a_killed_receiver_is_handled_after_restart_as_received() {
    let file = dir("restart").join("inbox.db");
    let store = ["--inbox-sqlite", file.to_str().unwrap()];
    let (mut child, port) = listen(&store);
    let sent = delivery(7);
    let (status, text) = post(&sent, port).await.unwrap();
    assert_eq!(status, 202, "{text}");
    child.kill().unwrap(); // before any worker ran
    child.wait().unwrap();

    // The restart: a receiver again (the re-send is recognised) and workers this time.
    let (mut again, port2) = listen(&store);
    let resent = SignedDelivery::from_parts(
        sent.url().to_owned(),
        sent.headers().clone(),
        bytes::Bytes::copy_from_slice(sent.body()),
    );
    let (status, text) = post(&resent, port2).await.unwrap();
    assert_eq!(
        (status, text.starts_with("duplicate")),
        (202, true),
        "{text}"
    );
    again.kill().unwrap();
    again.wait().unwrap();

    let inbox = Inbox::new(SqliteLedger::builder(&file).existing().open().unwrap());
    let handled = Arc::new(std::sync::Mutex::new(Vec::new()));
    let handler = {
        let handled = Arc::clone(&handled);
        move |delivery: Delivery| {
            handled.lock().unwrap().push((
                delivery.body().to_vec(),
                delivery.events_header().to_owned(),
                delivery.signature().to_string(),
            ));
            async { Ok::<_, std::io::Error>(()) }
        }
    };
    let workers = Workers::new(inbox.clone(), verifier(), handler).start();
    let deadline = Instant::now() + Duration::from_secs(20);
    while inbox.admin().stats().await.unwrap().done < 1 {
        assert!(Instant::now() < deadline, "not handled");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    workers.shutdown(Duration::from_secs(5)).await;
    let events = sent.headers()[appwrite_webhooks::headers::WEBHOOK_EVENTS]
        .to_str()
        .unwrap()
        .to_owned();
    let signature = sent.headers()[appwrite_webhooks::headers::WEBHOOK_SIGNATURE]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        *handled.lock().unwrap(),
        [(sent.body().to_vec(), events, signature)],
        "handled once, exactly as received"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_letters_are_listed_retried_from_the_cli_and_completed_by_a_fixed_handler() {
    let file = dir("dead").join("inbox.db");
    let (mut child, port) = listen(&["--inbox-sqlite", file.to_str().unwrap()]);
    let sent = delivery(1);
    let id = id_of(&post(&sent, port).await.unwrap().1);
    child.kill().unwrap();
    child.wait().unwrap();
    let inbox = Inbox::new(SqliteLedger::open(&file).unwrap());
    let policy = RetryPolicy::default()
        .with_max_attempts(3)
        .with_initial_backoff(Duration::from_millis(5))
        .with_max_backoff(Duration::from_millis(10));
    let failing = |_: Delivery| async { Err::<(), _>(std::io::Error::other("orders DB is down")) };
    let workers = Workers::new(inbox.clone(), verifier(), failing)
        .with_retry(policy)
        .start();
    let deadline = Instant::now() + Duration::from_secs(20);
    while inbox.admin().stats().await.unwrap().dead < 1 {
        assert!(Instant::now() < deadline, "not dead");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    workers.shutdown(Duration::from_secs(1)).await;

    let store = ["--sqlite", file.to_str().unwrap()];
    let out = run(
        &[&["inbox", "list", "--state", "dead"][..], &store].concat(),
        b"",
    );
    let listed = stdout(&out);
    assert!(
        listed.contains(&format!("{id:>6}  dead")) && listed.contains("orders DB is down"),
        "{listed}"
    );
    let out = run(&[&["inbox", "list", "--json"][..], &store].concat(), b"");
    let row: serde_json::Value =
        serde_json::from_str(stdout(&out).lines().next().unwrap()).unwrap();
    assert_eq!(
        (
            row["state"].as_str(),
            row["attempts"].as_u64(),
            row["last_error"].as_str()
        ),
        (Some("dead"), Some(3), Some("orders DB is down"))
    );
    assert_eq!(stats(&store)["dead"], 1);

    let out = run(
        &[&["inbox", "retry", &id.to_string()][..], &store].concat(),
        b"",
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stats(&store)["pending"], 1);
    let fixed = |_: Delivery| async { Ok::<_, std::io::Error>(()) };
    let workers = Workers::new(inbox.clone(), verifier(), fixed)
        .with_poll_interval(Duration::from_millis(20))
        .start();
    while inbox.admin().get(id).await.unwrap().unwrap().state != State::Done {
        assert!(Instant::now() < deadline, "not completed after the retry");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    workers.shutdown(Duration::from_secs(1)).await;
    let counts = stats(&store);
    assert_eq!(
        (counts["done"].as_u64(), counts["dead"].as_u64()),
        (Some(1), Some(0))
    );
    let out = run(
        &[&["inbox", "retry", "--all-dead"][..], &store].concat(),
        b"",
    );
    assert_eq!(stdout(&out).trim(), "0 dead letter(s) pending again");
    let out = run(&[&["inbox", "purge"][..], &store].concat(), b"");
    assert_eq!(stdout(&out).trim(), "purged 1 delivery");
    assert_eq!(stats(&store)["stored"], 0);
}

#[test]
fn bad_input_gets_a_clear_error_and_a_non_zero_exit() {
    let missing = dir("bad").join("nothing-here.db");
    let cases: [(&[&str], i32, &str); 6] = [
        (&["inbox", "stats"], 2, "give --sqlite PATH or --redis URL"),
        (
            &["inbox", "stats", "--sqlite", missing.to_str().unwrap()],
            2,
            "no inbox at",
        ),
        (
            &[
                "inbox",
                "stats",
                "--sqlite",
                "x.db",
                "--redis",
                "redis://127.0.0.1:1/",
            ],
            2,
            "cannot be used with",
        ),
        (
            &["inbox", "stats", "--redis", "redis://127.0.0.1:1/"],
            3,
            "cannot reach Redis",
        ),
        (&["inbox", "retry"], 2, "<ID>"),
        (
            &["inbox", "list", "--state", "lost", "--sqlite", "x.db"],
            2,
            "expected pending, done, dead or stale",
        ),
    ];
    for (args, code, message) in cases {
        let out = run(args, b"");
        assert_eq!(out.status.code(), Some(code), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(message), "{args:?}: {}", stderr(&out));
    }
    assert!(!missing.exists(), "inspecting never creates an inbox");

    let file = dir("unknown").join("inbox.db");
    drop(SqliteLedger::open(&file).unwrap());
    let store = ["--sqlite", file.to_str().unwrap()];
    for (args, message) in [
        (&["inbox", "show", "42"][..], "no delivery 42 in the inbox"),
        (&["inbox", "retry", "42"][..], "no delivery 42 in the inbox"),
    ] {
        let out = run(&[args, &store].concat(), b"");
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        assert!(stderr(&out).contains(message), "{}", stderr(&out));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listen_and_inspect_a_redis_inbox() {
    let redis = testkit::redis::RedisServer::start();
    let url = redis.url();
    let (mut child, port) = listen(&["--inbox-redis", &url, "--inbox-prefix", "cli:"]);
    let sent = delivery(3);
    let (status, text) = post(&sent, port).await.unwrap();
    assert_eq!(status, 202, "{text}");
    child.kill().unwrap();
    child.wait().unwrap();
    let store = ["--redis", url.as_str(), "--prefix", "cli:"];
    let counts = stats(&store);
    assert_eq!(
        (counts["stored"].as_u64(), counts["pending"].as_u64()),
        (Some(1), Some(1))
    );
    let out = run(
        &[
            &["inbox", "show", &id_of(&text).to_string(), "--body"][..],
            &store,
        ]
        .concat(),
        b"",
    );
    assert_eq!(out.stdout, sent.body());
    // Another prefix is another inbox.
    assert_eq!(stats(&["--redis", url.as_str()])["stored"], 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listen_and_operate_a_postgres_inbox() {
    let server = testkit::postgres::PostgresServer::start();
    let url = server.database("cli");
    // Inspecting a database listen never prepared is refused, and creates nothing.
    let out = run(&["inbox", "stats", "--postgres", &url], b"");
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("no inbox at"), "{}", stderr(&out));

    let (mut child, port) = listen(&["--inbox-postgres", &url]);
    let sent = delivery(4);
    let (status, text) = post(&sent, port).await.unwrap();
    assert_eq!(status, 202, "{text}");
    assert!(text.starts_with("stored "), "{text}");
    let id = id_of(&text);
    let (status, again) = post(&sent, port).await.unwrap();
    assert_eq!(status, 202);
    assert_eq!(again, format!("duplicate of {id}, already stored"));
    child.kill().unwrap();
    child.wait().unwrap();

    let store = ["--postgres", url.as_str()];
    let counts = stats(&store);
    assert_eq!(
        (counts["stored"].as_u64(), counts["pending"].as_u64()),
        (Some(1), Some(1))
    );
    let out = run(
        &[&["inbox", "show", &id.to_string(), "--body"][..], &store].concat(),
        b"",
    );
    assert_eq!(out.stdout, sent.body());
    let out = run(&[&["inbox", "list", "--json"][..], &store].concat(), b"");
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out).lines().count(), 1);

    // A dead letter, retried from the CLI; the handled delivery purged.
    let marked = server.psql(
        "cli",
        "UPDATE appwrite_webhooks.deliveries SET state = 'dead', last_error = 'boom'",
    );
    assert!(marked.status.success());
    let out = run(
        &[&["inbox", "retry", "--all-dead"][..], &store].concat(),
        b"",
    );
    assert_eq!(stdout(&out).trim(), "1 dead letter(s) pending again");
    let done = server.psql(
        "cli",
        "UPDATE appwrite_webhooks.deliveries SET state = 'done', keep_until_ms = 0",
    );
    assert!(done.status.success());
    let out = run(&[&["inbox", "purge"][..], &store].concat(), b"");
    assert_eq!(stdout(&out).trim(), "purged 1 delivery");
    assert_eq!(stats(&store)["stored"], 0);

    // The inbox's flags exclude each other; an unreachable database is exit 3.
    let out = run(
        &[
            "inbox",
            "stats",
            "--redis",
            "redis://127.0.0.1:1/",
            "--postgres",
            &url,
        ],
        b"",
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("cannot be used with"),
        "{}",
        stderr(&out)
    );
    let out = run(
        &[
            "inbox",
            "stats",
            "--postgres",
            "postgres://nobody:secret@127.0.0.1:1/db",
        ],
        b"",
    );
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("cannot reach Postgres"),
        "{}",
        stderr(&out)
    );
    assert!(!stderr(&out).contains("secret"), "{}", stderr(&out));
}
