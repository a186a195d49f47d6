//! The history of attempts on Redis, as every store that keeps one shows it
//! (`testkit::history_suite`): the web view's delivery page and chart read it. Against a real
//! `redis-server`.

use appwrite_webhooks::inbox::{AttemptOutcome, InboxAdmin, InboxStore, Put, Received};
use appwrite_webhooks_redis::RedisLedger;
use std::time::{Duration, SystemTime};
use testkit::redis::RedisServer;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_redis_ledger_records_attempts() {
    let redis = RedisServer::start();
    let ledger = RedisLedger::connect(&redis.url()).await.unwrap();
    testkit::history_suite::records_attempts(ledger).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_history_keeps_the_newest_attempts_and_goes_with_its_dead_letter() {
    let redis = RedisServer::start();
    let ledger = RedisLedger::connect(&redis.url()).await.unwrap();
    let received = Received {
        fingerprint: vec![7],
        received_at: SystemTime::now(),
        uri: "/hook".into(),
        headers: http::HeaderMap::new(),
        body: r#"{"$id":"u1"}"#.into(),
    };
    let Put::Stored(id) = ledger.put(received).await.unwrap() else {
        panic!("stored")
    };
    // 70 failures, a worker name with a quote and a newline, an error with JSON in it.
    for n in 0..70 {
        let taken = ledger
            .take("w \"1\"\n", Duration::from_secs(60))
            .await
            .unwrap()
            .unwrap();
        let error = format!(r#"{{"n":{n}}} <b>"#);
        assert!(
            ledger
                .fail(&taken.lease, &error, SystemTime::now())
                .await
                .unwrap()
        );
    }
    let history = ledger.attempts(id).await.unwrap().unwrap();
    assert_eq!(history.len(), 64, "the newest 64 attempts");
    assert_eq!(history[0].attempt, 7);
    assert_eq!(history[63].attempt, 70);
    assert_eq!(history[63].worker.as_deref(), Some("w \"1\"\n"));
    assert_eq!(history[63].error.as_deref(), Some(r#"{"n":69} <b>"#));
    assert!(history.iter().all(|a| a.outcome == AttemptOutcome::Retry));

    let taken = ledger
        .take("w2", Duration::from_secs(60))
        .await
        .unwrap()
        .unwrap();
    assert!(ledger.dead(&taken.lease, "gave up").await.unwrap());
    assert_eq!(
        ledger
            .attempts(id)
            .await
            .unwrap()
            .unwrap()
            .last()
            .unwrap()
            .outcome,
        AttemptOutcome::Dead
    );
    assert!(ledger.delete_dead(id).await.unwrap());
    assert_eq!(ledger.attempts(id).await.unwrap(), Some(Vec::new()));
    assert_eq!(
        redis.cli(&["EXISTS", &format!("appwrite-webhooks:inbox:a:{id}")]),
        "0",
        "the history is deleted with its delivery"
    );
}
