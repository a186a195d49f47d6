//! A call whose answer is lost with its connection: the ledger sends it again once the
//! connection manager has reconnected, and the second call must answer as the first did — a
//! `put` that stored the delivery is still "stored" (not a duplicate of itself), an outcome that
//! settled the attempt is still taken (not a lost lease) — while a separate second call still
//! gets the answer every store gives it. Between the ledger and a real `redis-server` sits a
//! loopback proxy that, when told, swallows the next answer and closes the connection, as a
//! broken network or a restarted proxy does after Redis ran the script. Each case is a test of
//! its own, so each is seen to fail without what it tests.

mod ordering_support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

use appwrite_webhooks::Fingerprint;
use appwrite_webhooks::inbox::{
    AttemptOutcome, Handled, Inbox, InboxAdmin, InboxHandler, InboxStore, Lease, Put, Received,
    State,
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

/// A `redis-server`, the proxy before it, and a ledger (with an inbox on it) through the proxy.
struct Setup {
    redis: RedisServer,
    proxy: Proxy,
    ledger: RedisLedger,
    inbox: Inbox,
}

async fn setup() -> Setup {
    let redis = RedisServer::start();
    warm(&redis).await;
    let proxy = Proxy::start(redis.port()).await;
    let ledger = RedisLedger::connect(&proxy.url())
        .await
        .unwrap()
        .with_prefix("lost:")
        .with_data_loss_allowed(true);
    let inbox = Inbox::new(ledger.clone());
    Setup {
        redis,
        proxy,
        ledger,
        inbox,
    }
}

/// Runs every script whose answer these tests lose once, directly and under another prefix, so
/// that Redis holds them all: the ledger's client sends `EVALSHA` first and loads a script only
/// when told `NOSCRIPT`, and a lost `NOSCRIPT` would be an answer lost before the script ran.
async fn warm(redis: &RedisServer) {
    let ledger = RedisLedger::connect(&redis.url())
        .await
        .unwrap()
        .with_prefix("warm:")
        .with_data_loss_allowed(true);
    let far = SystemTime::now() + HOUR;
    for n in [1, 3, 4] {
        ledger.put(received(n)).await.unwrap();
    }
    let (body, label) = labels(2);
    let put = ledger.label_and_put(&body, &label, (4, HOUR), received(2));
    put.await.unwrap();
    // One delivery for each outcome.
    for settle in [
        Settle::Complete,
        Settle::Fail,
        Settle::Dead,
        Settle::HandBack,
    ] {
        let taken = ledger.take("warm", HOUR).await.unwrap().unwrap();
        assert!(settle.run(&ledger, &taken.lease, far).await);
    }
    // Ordering's scripts, on an inbox of their own (the one above holds a delivery handed back):
    // the newer version done, the older one stale.
    let ledger = ledger.with_prefix("warm-ordered:");
    let inbox = Inbox::new(ledger.clone());
    let handler: Arc<dyn InboxHandler> =
        Arc::new(ledger.ordered(|_: Delivery| std::future::ready(Ok::<(), HandlerError>(()))));
    for (id, stamp) in [("d6", 6), ("d5", 5)] {
        let user = Outgoing::user(id, "update", id, Some(&timestamp(stamp)));
        accept(&inbox, &user).await;
    }
    for expected in [Handled::Done, Handled::Stale] {
        let (_, handled) = attempt(&inbox, &handler).await;
        assert_eq!(handled.unwrap(), expected);
    }
}

/// A body's key and a label for delivery `n`, for `label_and_put`.
fn labels(n: u64) -> (Fingerprint, Fingerprint) {
    (
        Fingerprint::new(format!("body {n}, a key longer than sixteen bytes").as_bytes()),
        Fingerprint::new(&n.to_be_bytes()),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_put_whose_answer_was_lost_is_still_stored() {
    let Setup {
        redis: _redis,
        proxy,
        ledger,
        ..
    } = setup().await; // (a field left out would be dropped, and the server with it)
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
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_labelled_put_whose_answer_was_lost_is_still_stored() {
    let Setup {
        redis: _redis,
        proxy,
        ledger,
        ..
    } = setup().await; // (a field left out would be dropped, and the server with it)
    let (body, label) = labels(1);
    proxy.lose_next_answer();
    let put = ledger.label_and_put(&body, &label, (4, HOUR), received(1));
    let put = put.await.unwrap();
    assert!(proxy.lost(), "the first answer was dropped");
    let Put::Stored(id) = put else {
        panic!("the labelled put that stored it, sent again, answered {put:?}")
    };
    let again = ledger.label_and_put(&body, &label, (4, HOUR), received(1));
    assert_eq!(again.await.unwrap(), Put::Duplicate(id));
}

/// The four outcomes a worker sends.
#[derive(Debug, Clone, Copy)]
enum Settle {
    Complete,
    Fail,
    Dead,
    HandBack,
}

impl Settle {
    async fn run(self, ledger: &RedisLedger, lease: &Lease, due: SystemTime) -> bool {
        match self {
            Settle::Complete => ledger.complete(lease, HOUR).await,
            Settle::Fail => ledger.fail(lease, "boom", due).await,
            Settle::Dead => ledger.dead(lease, "broken").await,
            Settle::HandBack => ledger.hand_back(lease).await,
        }
        .unwrap()
    }
}

/// `settle`'s answer lost: sent again, it is still taken, and took effect once; sent once
/// more by the caller, it is not taken (as on every store).
async fn an_outcome_whose_answer_was_lost(settle: Settle, state: State, attempts: u32) {
    let Setup {
        redis: _redis,
        proxy,
        ledger,
        ..
    } = setup().await; // (a field left out would be dropped, and the server with it)
    let id = match ledger.put(received(1)).await.unwrap() {
        Put::Stored(id) => id,
        other => panic!("{other:?}"),
    };
    let due = SystemTime::now() + HOUR;
    let taken = ledger.take("w", HOUR).await.unwrap().unwrap();
    proxy.lose_next_answer();
    let taken_now = settle.run(&ledger, &taken.lease, due).await;
    assert!(proxy.lost(), "the first answer was dropped");
    assert!(
        taken_now,
        "{settle:?}, sent again, was answered \"not taken\""
    );
    let row = ledger.get(id).await.unwrap().unwrap();
    assert_eq!((row.state, row.attempts), (state, attempts), "{settle:?}");
    assert!(
        !settle.run(&ledger, &taken.lease, due).await,
        "a separate second call is not taken"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_completion_whose_answer_was_lost_is_still_taken() {
    an_outcome_whose_answer_was_lost(Settle::Complete, State::Done, 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failure_whose_answer_was_lost_is_still_taken() {
    an_outcome_whose_answer_was_lost(Settle::Fail, State::Pending, 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_letter_whose_answer_was_lost_is_still_taken() {
    an_outcome_whose_answer_was_lost(Settle::Dead, State::Dead, 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hand_back_whose_answer_was_lost_is_still_taken() {
    // Handed back, the attempt is not counted.
    an_outcome_whose_answer_was_lost(Settle::HandBack, State::Pending, 0).await;
}

/// A hand back whose answer was lost, then a new attempt: the old attempt's lease settles
/// nothing, whichever outcome it sends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_lost_answer_the_next_attempt_holds_the_delivery() {
    let Setup {
        redis: _redis,
        proxy,
        ledger,
        ..
    } = setup().await; // (a field left out would be dropped, and the server with it)
    ledger.put(received(1)).await.unwrap();
    let due = SystemTime::now() + HOUR;
    let first = ledger.take("w", HOUR).await.unwrap().unwrap();
    proxy.lose_next_answer();
    assert!(Settle::HandBack.run(&ledger, &first.lease, due).await);
    assert!(proxy.lost());
    let second = ledger.take("w", HOUR).await.unwrap().unwrap();
    assert_eq!(second.lease.id, first.lease.id);
    for settle in [
        Settle::Complete,
        Settle::Fail,
        Settle::Dead,
        Settle::HandBack,
    ] {
        assert!(!settle.run(&ledger, &first.lease, due).await, "{settle:?}");
    }
    assert!(Settle::Complete.run(&ledger, &second.lease, due).await);
}

/// A take whose answer was lost: the delivery its first call took, which no worker holds, is
/// given back at once (that attempt not counted), not left until the visibility timeout; the
/// delivery the second call took stays with its worker.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_take_whose_answer_was_lost_gives_back_what_it_took() {
    let Setup {
        redis: _redis,
        proxy,
        ledger,
        ..
    } = setup().await;
    let mut ids = Vec::new();
    for n in 1..=2 {
        match ledger.put(received(n)).await.unwrap() {
            Put::Stored(id) => ids.push(id),
            other => panic!("{other:?}"),
        }
    }
    proxy.lose_next_answer();
    let second = ledger.take("w", HOUR).await.unwrap().unwrap();
    assert!(proxy.lost(), "the first answer was dropped");
    assert_eq!((second.lease.id, second.attempt), (ids[1], 1));
    let again = ledger.take("w", HOUR).await.unwrap();
    let again = again.expect("the first call's delivery is due again now, not in an hour");
    assert_eq!((again.lease.id, again.attempt), (ids[0], 1));
    let history = ledger.attempts(ids[0]).await.unwrap().unwrap();
    let outcomes: Vec<_> = history.iter().map(|a| a.outcome).collect();
    assert_eq!(
        outcomes,
        [AttemptOutcome::HandedBack, AttemptOutcome::Running]
    );
    assert!(
        Settle::Complete
            .run(&ledger, &second.lease, SystemTime::now())
            .await
    );
    assert!(
        Settle::Complete
            .run(&ledger, &again.lease, SystemTime::now())
            .await
    );
}

/// A handler for per-resource ordering that, its work done, has the answer to the script that
/// settles it lost.
fn losing(setup: &Setup) -> Arc<dyn InboxHandler> {
    let proxy = setup.proxy.clone();
    Arc::new(setup.ledger.ordered(move |_: Delivery| {
        proxy.lose_next_answer();
        std::future::ready(Ok::<(), HandlerError>(()))
    }))
}

/// Per-resource ordering's `DONE`, after the handler: sent again after a lost answer, it is
/// still done, not "lease lost" (which would say nothing was recorded).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ordered_completion_whose_answer_was_lost_is_still_done() {
    let setup = setup().await;
    let handler = losing(&setup);
    let user = Outgoing::user("d6", "update", "six", Some(&timestamp(6)));
    accept(&setup.inbox, &user).await;
    let (_, handled) = attempt(&setup.inbox, &handler).await;
    assert!(setup.proxy.lost());
    assert_eq!(handled.unwrap(), Handled::Done);
    let stats = setup.inbox.admin().stats().await.unwrap();
    assert_eq!((stats.done, stats.pending), (1, 0), "{stats:?}");
}

/// Per-resource ordering's `BEGIN`, finding a delivery older than what was applied: it
/// settles it stale, and sent again after a lost answer it still says stale.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ordered_stale_settlement_whose_answer_was_lost_is_still_stale() {
    let setup = setup().await;
    let handler = losing(&setup);
    for (id, stamp) in [("d6", 6), ("d5", 5)] {
        let user = Outgoing::user(id, "update", id, Some(&timestamp(stamp)));
        accept(&setup.inbox, &user).await;
    }
    let (_, newer) = attempt(&setup.inbox, &handler).await;
    assert_eq!(newer.unwrap(), Handled::Done);
    let taken = setup.inbox.store().take("w", HOUR).await.unwrap().unwrap();
    let delivery = verifier().verify_stored(&taken.received).await.unwrap();
    setup.proxy.lose_next_answer();
    let handled = Arc::clone(&handler)
        .handle_attempt(delivery, attempt_for(&taken))
        .await;
    assert!(setup.proxy.lost());
    assert_eq!(handled.unwrap(), Handled::Stale);
    let stats = setup.inbox.admin().stats().await.unwrap();
    assert_eq!((stats.done, stats.stale), (1, 1), "{stats:?}");
}
