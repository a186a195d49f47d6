//! The history of attempts every store that keeps one must show the same way (the web view's
//! delivery page and chart read it): each take and settle leaves its record, and the counts per
//! minute are read from them.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, SystemTime};

use appwrite_webhooks::Delivery;
use appwrite_webhooks::inbox::{
    AttemptOutcome, Inbox, InboxAdmin, InboxStore, Minute, Purge, Workers,
};

use crate::inbox_suite::{fast, stored, until, verifier};

/// A lease handed back, one that ran out (its worker died), a failure and a success are
/// recorded in order with worker, duration and error; the last hour counts one received, one
/// retried and one done; a purged delivery takes its history with it.
pub async fn records_attempts<S>(ledger: S)
where
    S: InboxStore + InboxAdmin + Clone,
{
    let inbox = Inbox::new(ledger.clone());
    let id = stored(&inbox, r#"{"$id":"u1"}"#).await;

    let taken = ledger
        .take("w1", Duration::from_secs(60))
        .await
        .unwrap()
        .unwrap();
    assert!(ledger.hand_back(&taken.lease).await.unwrap());
    let lost = ledger
        .take("w2", Duration::from_millis(1))
        .await
        .unwrap()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    let calls = Arc::new(AtomicU32::new(0));
    let handler = {
        let calls = Arc::clone(&calls);
        move |_: Delivery| {
            let first = calls.fetch_add(1, Ordering::SeqCst) == 0;
            async move {
                match first {
                    true => Err(std::io::Error::other("the database is down")),
                    false => Ok(()),
                }
            }
        }
    };
    // A short lease: Redis reclaims an entry idle for the *claimer's* lease, so the lost
    // attempt above is taken over once it has been idle that long.
    let workers = Workers::new(inbox.clone(), verifier(), handler)
        .with_retry(fast())
        .with_lease(Duration::from_millis(300))
        .start();
    until("done", async || {
        inbox.admin().stats().await.unwrap().done == 1
    })
    .await;
    workers.shutdown(Duration::from_secs(1)).await;
    assert!(
        !ledger
            .complete(&lost.lease, Duration::from_secs(60))
            .await
            .unwrap(),
        "the abandoned lease settles nothing"
    );

    let history = ledger.attempts(id).await.unwrap().expect("a history");
    let outcomes: Vec<AttemptOutcome> = history.iter().map(|a| a.outcome).collect();
    assert_eq!(
        outcomes,
        [
            AttemptOutcome::HandedBack,
            AttemptOutcome::Abandoned,
            AttemptOutcome::Retry,
            AttemptOutcome::Done
        ]
    );
    assert_eq!(history[0].worker.as_deref(), Some("w1"));
    assert_eq!(history[1].worker.as_deref(), Some("w2"));
    assert_eq!(history[1].duration, None, "abandoned: no outcome recorded");
    assert_eq!(history[2].error.as_deref(), Some("the database is down"));
    assert!(history[3].duration.is_some() && history[3].error.is_none());

    let minutes = ledger
        .activity(SystemTime::now() - Duration::from_secs(3600))
        .await
        .unwrap()
        .expect("counts");
    assert_eq!(
        minutes.len(),
        61,
        "one entry per minute of the hour, and this one"
    );
    let sum = |f: fn(&Minute) -> u64| minutes.iter().map(f).sum::<u64>();
    assert_eq!(
        (
            sum(|m| m.received),
            sum(|m| m.retried),
            sum(|m| m.done),
            sum(|m| m.failed)
        ),
        (1, 1, 1, 0)
    );

    assert_eq!(ledger.purge(Purge::Done).await.unwrap(), 1);
    assert_eq!(ledger.attempts(id).await.unwrap(), Some(Vec::new()));
}
