//! The Redis Streams inbox against a real `redis-server` started by the test: the suite every
//! store passes, a worker process killed mid-handler whose delivery another replica completes,
//! a restart with `appendonly yes` that loses nothing acknowledged, and an outage.

use std::process::{Command, Stdio};
use std::time::Duration;

use appwrite_webhooks::inbox::{Inbox, Put, RetryPolicy, State, Workers};
use appwrite_webhooks::{Delivery, Error};
use appwrite_webhooks_redis::RedisLedger;
use testkit::inbox_suite::{self, accept, stored, until, verifier};
use testkit::redis::{RedisServer, free_port};

fn inbox(url: &str, prefix: &str) -> Inbox {
    Inbox::new(
        RedisLedger::connect_lazily(url)
            .unwrap()
            .with_inbox_prefix(prefix),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behaves_as_every_inbox_must() {
    let redis = RedisServer::start();
    inbox_suite::run_all(|name| inbox(&redis.url(), &format!("suite:{name}:"))).await;
}

/// Set for the child process of the test below: the Redis URL it works from.
const CHILD: &str = "AW_INBOX_CHILD_REDIS";

/// Not a test on its own: the worker replica the next test starts as a separate process and
/// kills. It takes one delivery, says so on stdout, and hangs in the handler.
#[tokio::test]
#[ignore = "run by a_killed_workers_delivery_is_completed_by_another_replica"]
async fn child_worker_that_hangs() {
    let Ok(url) = std::env::var(CHILD) else {
        return;
    };
    let handler = |delivery: Delivery| async move {
        println!("handling {}", delivery.body().len());
        std::future::pending::<()>().await;
        Ok::<_, std::io::Error>(())
    };
    let _workers = Workers::new(inbox(&url, "killed:"), verifier(), handler)
        .with_concurrency(1)
        .with_name("doomed")
        .with_lease(Duration::from_secs(1))
        .with_retry(RetryPolicy::default().with_attempt_timeout(Duration::from_secs(600)))
        .start();
    std::future::pending::<()>().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_workers_delivery_is_completed_by_another_replica() {
    let redis = RedisServer::start();
    let inbox = inbox(&redis.url(), "killed:");
    let id = stored(&inbox, r#"{"$id":"u1"}"#).await;

    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "child_worker_that_hangs",
            "--ignored",
            "--nocapture",
        ])
        .env(CHILD, redis.url())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let started = tokio::task::spawn_blocking(move || {
        use std::io::BufRead as _;
        std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .any(|line| line.starts_with("handling"))
    });
    assert!(
        tokio::time::timeout(Duration::from_secs(60), started)
            .await
            .unwrap()
            .unwrap(),
        "the child worker took the delivery"
    );
    let held = inbox.admin().stats().await.unwrap();
    assert_eq!(held.in_flight, 1);
    child.kill().unwrap(); // SIGKILL: no shutdown, no hand-back
    child.wait().unwrap();

    // Another replica, with its own consumer name, reclaims it once it has been idle for the
    // visibility timeout, and completes it.
    let handled = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let handler = {
        let handled = handled.clone();
        move |delivery: Delivery| {
            handled.lock().unwrap().push(delivery.body().to_vec());
            async { Ok::<_, std::io::Error>(()) }
        }
    };
    let replica = Workers::new(inbox.clone(), verifier(), handler)
        .with_concurrency(1)
        .with_name("survivor")
        .with_poll_interval(Duration::from_millis(50))
        .with_lease(Duration::from_secs(1))
        .with_retry(RetryPolicy::default().with_attempt_timeout(Duration::from_millis(500)))
        .start();
    until("the survivor completes it", async || {
        inbox.admin().get(id).await.unwrap().unwrap().state == State::Done
    })
    .await;
    replica.shutdown(Duration::from_secs(1)).await;
    assert_eq!(*handled.lock().unwrap(), [br#"{"$id":"u1"}"#.to_vec()]);
    let row = inbox.admin().get(id).await.unwrap().unwrap();
    assert_eq!(row.attempts, 2, "the killed attempt counts");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_appendonly_redis_keeps_every_acknowledged_delivery() {
    let port = free_port();
    let mut redis = RedisServer::start_on(port, true);
    let inbox = inbox(&redis.url(), "aof:");
    let mut sent = Vec::new();
    for n in 0..50 {
        let body = format!(r#"{{"$id":"u{n}","note":"caf\u00e9 \/"}}"#);
        let id = stored(&inbox, &body).await;
        sent.push((id, body));
    }
    // Partly worked: some done, one dead.
    let first = inbox
        .store()
        .take("w", Duration::from_secs(60))
        .await
        .unwrap()
        .unwrap();
    assert!(
        inbox
            .store()
            .complete(&first.lease, Duration::from_secs(3600))
            .await
            .unwrap()
    );
    let second = inbox
        .store()
        .take("w", Duration::from_secs(60))
        .await
        .unwrap()
        .unwrap();
    assert!(inbox.store().dead(&second.lease, "boom").await.unwrap());

    redis.kill(); // SIGKILL
    let redis = RedisServer::start_on(port, true);
    let stats = inbox.admin().stats().await.unwrap();
    assert_eq!(
        (stats.stored, stats.pending, stats.done, stats.dead),
        (50, 48, 1, 1)
    );
    for (id, body) in &sent {
        let row = inbox.admin().get(*id).await.unwrap().unwrap();
        assert_eq!(&row.received.body[..], body.as_bytes());
        verifier().verify_stored(&row.received).await.unwrap();
    }
    // And they are still recognised, and still workable.
    assert_eq!(
        accept(&inbox, &sent[5].1).await.unwrap(),
        Put::Duplicate(sent[5].0)
    );
    let next = inbox
        .store()
        .take("w", Duration::from_secs(60))
        .await
        .unwrap()
        .unwrap();
    assert!(
        inbox
            .store()
            .complete(&next.lease, Duration::from_secs(60))
            .await
            .unwrap()
    );
    drop(redis);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outage_refuses_to_acknowledge_and_recovers() {
    let port = free_port();
    let mut redis = RedisServer::start_on(port, true);
    let inbox = inbox(&redis.url(), "outage:");
    stored(&inbox, r#"{"$id":"before"}"#).await;
    redis.kill();
    let error = accept(&inbox, r#"{"$id":"during"}"#).await.unwrap_err();
    assert!(matches!(error, Error::InboxStore(_)), "{error:?}");
    assert_eq!(error.status(), 503);
    let _redis = RedisServer::start_on(port, true);
    let mut recovered = None;
    for _ in 0..100 {
        match accept(&inbox, r#"{"$id":"after"}"#).await {
            Ok(put) => {
                recovered = Some(put);
                break;
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
    assert!(matches!(recovered, Some(Put::Stored(_))));
    let bodies: Vec<_> = inbox
        .admin()
        .list(None, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|row| String::from_utf8(row.received.body.to_vec()).unwrap())
        .collect();
    assert_eq!(
        bodies,
        [r#"{"$id":"before"}"#, r#"{"$id":"after"}"#],
        "nothing half-way"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_redis_is_a_503_and_the_next_copy_is_held_exactly_once() {
    let redis = RedisServer::start();
    let inbox = Inbox::new(
        RedisLedger::connect(&redis.url())
            .await
            .unwrap()
            .with_inbox_prefix("slow:")
            .with_timeout(Duration::from_millis(200)),
    );
    let body = r#"{"$id":"paused"}"#;
    redis.cli(&["CLIENT", "PAUSE", "1000", "ALL"]);
    let error = accept(&inbox, body).await.unwrap_err();
    assert!(matches!(error, Error::InboxStore(_)), "{error:?}");
    assert_eq!(
        error.status(),
        503,
        "not acknowledged while its outcome is unknown"
    );
    // Whether Redis applied the write after the pause or dropped it with the timed-out
    // connection, Appwrite's next copy is answered 202 and the delivery is held exactly once.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    accept(&inbox, body).await.unwrap();
    assert!(matches!(
        accept(&inbox, body).await.unwrap(),
        Put::Duplicate(_)
    ));
    let stats = inbox.admin().stats().await.unwrap();
    assert_eq!((stats.stored, stats.pending), (1, 1));
}
