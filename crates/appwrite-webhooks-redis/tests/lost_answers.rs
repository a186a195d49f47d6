//! A call whose answer is lost with its connection: the ledger sends it again once the
//! connection manager has reconnected, and the second call must answer as the first did — a
//! `put` that stored the delivery is still "stored" (not a duplicate of itself), an outcome that
//! settled the attempt is still taken (not a lost lease). Between the ledger and a real
//! `redis-server` sits a loopback proxy that, when told, swallows the next answer and closes the
//! connection, as a broken network or a restarted proxy does after Redis ran the script.

mod ordering_support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

use appwrite_webhooks::Fingerprint;
use appwrite_webhooks::inbox::{
    Handled, Inbox, InboxAdmin, InboxHandler, InboxStore, Put, Received, State,
};
use appwrite_webhooks::{Delivery, HandlerError};
use appwrite_webhooks_redis::RedisLedger;
use ordering_support::{Outgoing, accept, attempt, attempt_for, timestamp, verifier};
use testkit::redis::RedisServer;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const HOUR: Duration = Duration::from_secs(3600);

/// A TCP proxy to `upstream` on loopback. [`Proxy::lose_next_answer`] makes the next bytes
/// Redis sends on any connection vanish, and that connection close.
#[derive(Clone)]
struct Proxy {
    port: u16,
    lose: Arc<AtomicBool>,
}

impl Proxy {
    async fn start(upstream: u16) -> Self {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let lose = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&lose);
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let server = TcpStream::connect(("127.0.0.1", upstream)).await.unwrap();
                tokio::spawn(relay(client, server, Arc::clone(&flag)));
            }
        });
        Self { port, lose }
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    fn lose_next_answer(&self) {
        self.lose.store(true, Ordering::SeqCst);
    }

    fn lost(&self) -> bool {
        !self.lose.load(Ordering::SeqCst)
    }
}

async fn relay(client: TcpStream, server: TcpStream, lose: Arc<AtomicBool>) {
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    let requests = tokio::spawn(async move {
        let _ = tokio::io::copy(&mut client_read, &mut server_write).await;
    });
    let mut buffer = vec![0; 64 * 1024];
    loop {
        match server_read.read(&mut buffer).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if lose.swap(false, Ordering::SeqCst) {
                    break; // the answer is dropped, and both ends closed below
                }
                if client_write.write_all(&buffer[..n]).await.is_err() {
                    break;
                }
            }
        }
    }
    requests.abort();
}

fn received(n: u64) -> Received {
    Received {
        fingerprint: n.to_be_bytes().to_vec(),
        received_at: SystemTime::now(),
        uri: "/hook".into(),
        headers: http::HeaderMap::new(),
        body: format!(r#"{{"$id":"u{n}","padding":"longer than a fingerprint"}}"#).into(),
    }
}

async fn ledger(proxy: &Proxy, prefix: &str) -> RedisLedger {
    let ledger = RedisLedger::connect(&proxy.url())
        .await
        .unwrap()
        .with_inbox_prefix(prefix)
        .with_data_loss_allowed(true);
    // Loads the scripts first, so a lost answer is never NOSCRIPT's.
    assert!(matches!(
        ledger.put(received(0)).await.unwrap(),
        Put::Stored(_)
    ));
    let taken = ledger.take("warm", HOUR).await.unwrap().unwrap();
    assert!(ledger.complete(&taken.lease, HOUR).await.unwrap());
    ledger
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_put_whose_answer_was_lost_is_still_stored() {
    let redis = RedisServer::start();
    let proxy = Proxy::start(redis.port()).await;
    let ledger = ledger(&proxy, "lost-put:").await;

    proxy.lose_next_answer();
    let put = ledger.put(received(1)).await.unwrap();
    assert!(proxy.lost(), "the first answer was dropped");
    let Put::Stored(id) = put else {
        panic!("the put that stored it, sent again, answered {put:?}")
    };
    // A copy is still a duplicate, and one delivery is held.
    assert_eq!(ledger.put(received(1)).await.unwrap(), Put::Duplicate(id));
    let pending = ledger.list(Some(State::Pending), 10).await.unwrap();
    assert_eq!(pending.iter().map(|row| row.id).collect::<Vec<_>>(), [id]);

    // The same through the labelled put an inbox of Appwrite's scheme uses.
    let body = Fingerprint::new(b"a body's key, longer than sixteen bytes");
    let label = Fingerprint::new(&2u64.to_be_bytes());
    proxy.lose_next_answer();
    let put = ledger
        .label_and_put(&body, &label, (4, HOUR), received(2))
        .await
        .unwrap();
    assert!(proxy.lost());
    assert!(matches!(put, Put::Stored(_)), "{put:?}");
    assert!(matches!(
        ledger
            .label_and_put(&body, &label, (4, HOUR), received(2))
            .await
            .unwrap(),
        Put::Duplicate(_)
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outcome_whose_answer_was_lost_is_still_taken() {
    let redis = RedisServer::start();
    let proxy = Proxy::start(redis.port()).await;
    let ledger = ledger(&proxy, "lost-outcome:").await;
    for n in 1..=4 {
        ledger.put(received(n)).await.unwrap();
    }
    let far = SystemTime::now() + HOUR;

    let complete = ledger.take("w", HOUR).await.unwrap().unwrap();
    proxy.lose_next_answer();
    assert!(ledger.complete(&complete.lease, HOUR).await.unwrap());
    assert!(proxy.lost());

    let fail = ledger.take("w", HOUR).await.unwrap().unwrap();
    proxy.lose_next_answer();
    assert!(ledger.fail(&fail.lease, "boom", far).await.unwrap());
    assert!(proxy.lost());

    let dead = ledger.take("w", HOUR).await.unwrap().unwrap();
    proxy.lose_next_answer();
    assert!(ledger.dead(&dead.lease, "broken").await.unwrap());
    assert!(proxy.lost());

    let hand_back = ledger.take("w", HOUR).await.unwrap().unwrap();
    proxy.lose_next_answer();
    assert!(ledger.hand_back(&hand_back.lease).await.unwrap());
    assert!(proxy.lost());

    // Each took effect once, and a later attempt's lease is not mistaken for the settled one.
    let state = |id| {
        let ledger = &ledger;
        async move { ledger.get(id).await.unwrap().unwrap() }
    };
    assert_eq!(state(complete.lease.id).await.state, State::Done);
    let retried = state(fail.lease.id).await;
    assert_eq!((retried.state, retried.attempts), (State::Pending, 1));
    assert_eq!(state(dead.lease.id).await.state, State::Dead);
    let again = ledger.take("w", HOUR).await.unwrap().unwrap();
    assert_eq!(again.lease.id, hand_back.lease.id);
    assert_eq!(
        again.attempt, 1,
        "handed back once, so this is its first attempt again"
    );
    assert!(!ledger.complete(&hand_back.lease, HOUR).await.unwrap());
    assert!(ledger.complete(&again.lease, HOUR).await.unwrap());
}

/// Per-resource ordering's two settling scripts: `DONE` after the handler, and `BEGIN` when it
/// finds the delivery stale. Sent again after a lost answer, each still answers as it did —
/// done, stale — not "lease lost", which would say that nothing was recorded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ordered_settlement_whose_answer_was_lost_is_still_taken() {
    let redis = RedisServer::start();
    let proxy = Proxy::start(redis.port()).await;
    let ledger = ledger(&proxy, "lost-ordered:").await;
    let inbox = Inbox::new(ledger.clone());
    // The handler's work done, the answer to the script that settles it is lost.
    let losing = proxy.clone();
    let handler: Arc<dyn InboxHandler> = Arc::new(ledger.ordered(move |_: Delivery| {
        losing.lose_next_answer();
        std::future::ready(Ok::<(), HandlerError>(()))
    }));
    accept(
        &inbox,
        &Outgoing::user("d6", "update", "six", Some(&timestamp(6))),
    )
    .await;
    let (_, handled) = attempt(&inbox, &handler).await;
    assert!(proxy.lost());
    assert_eq!(handled.unwrap(), Handled::Done);

    // An older version: `BEGIN` settles it stale, and its answer is lost.
    accept(
        &inbox,
        &Outgoing::user("d5", "update", "five", Some(&timestamp(5))),
    )
    .await;
    let taken = inbox.store().take("w", HOUR).await.unwrap().unwrap();
    let delivery = verifier().verify_stored(&taken.received).await.unwrap();
    proxy.lose_next_answer();
    let handled = Arc::clone(&handler)
        .handle_attempt(delivery, attempt_for(&taken))
        .await;
    assert!(proxy.lost());
    assert_eq!(handled.unwrap(), Handled::Stale);
    let stats = inbox.admin().stats().await.unwrap();
    assert_eq!(
        (stats.done, stats.stale, stats.pending),
        (2, 1, 0),
        "{stats:?}"
    );
}
