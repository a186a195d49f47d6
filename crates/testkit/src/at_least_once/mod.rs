//! The delivery guarantee, checked on every path through a real server on loopback: **if any
//! copy of a delivery was answered 2xx, a handler finished successfully with it**, and a copy
//! that failed in any way is handled when it comes again.
//!
//! The server under test must:
//! - verify with [`verifier`] (a replay guard of the test's choosing) on `POST /hook`;
//! - run [`Handler::act`] with the request's [`BEHAVIOUR`] header and its verified body, and
//!   answer with the [`Act`] it returns (`Act::Err` as the service's `Err` where the framework
//!   has one).
//!
//! The behaviour header is not signed, so one signed delivery can be sent again and again with a
//! different outcome each time: that is what Appwrite's retries look like to a receiver whose
//! handler first fails, then works.

mod labels;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use appwrite_webhooks::sender::{DeliveryBuilder, SignedDelivery};
use appwrite_webhooks::{ReplayGuard, Verifier};

use crate::net::with_headers;

pub use self::labels::{labelled, one_body_under_several_labels};

/// The URL the suite's deliveries are signed for; the server serves its path, `/hook`.
pub const URL: &str = "http://example.com/hook";
/// The suite's signing key.
pub const KEY: &str = "at-least-once";
/// The (unsigned) request header that tells [`Handler::act`] what to do.
pub const BEHAVIOUR: &str = "x-test-behaviour";

/// A verifier for the suite's deliveries, with `guard`.
pub fn verifier(guard: ReplayGuard) -> Verifier {
    Verifier::new(KEY, URL).with_replay_guard(guard)
}

/// Asks `guard` about a verified delivery, as a verifier with that guard does: `Ok` with the
/// claim to settle when the delivery is to be handled, `Err` with the copy's outcome
/// ([`Admission::Duplicate`](appwrite_webhooks::Admission::Duplicate), [`Admission::InProgress`](appwrite_webhooks::Admission::InProgress)); a refusal panics.
pub async fn admit<B: AsRef<[u8]>>(
    guard: &ReplayGuard,
    delivery: &appwrite_webhooks::Delivery<B>,
) -> Result<appwrite_webhooks::Claim, appwrite_webhooks::Admission> {
    let verifier = Verifier::new(KEY, URL).with_replay_guard(guard.clone());
    match verifier.admit(delivery).await {
        Ok(appwrite_webhooks::Admission::Handle(claim)) => Ok(claim),
        Ok(copy) => Err(copy),
        Err(error) => panic!("the guard refused the delivery: {error}"),
    }
}

/// What the handler under test answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Act {
    /// Answer with this status.
    Status(u16),
    /// Fail with the service's error (tower's `Err`).
    Err,
}

/// The handler's side: does what the behaviour header says, and counts per body how often it
/// started and how often it succeeded.
#[derive(Clone, Default)]
pub struct Handler {
    started: Arc<Mutex<HashMap<Vec<u8>, usize>>>,
    succeeded: Arc<Mutex<HashMap<Vec<u8>, usize>>>,
}

impl Handler {
    /// A handler that has run nothing yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Acts on `behaviour`: `ok` (or none) 204; `fail` 500; `reject` 422; `err` the service's
    /// error; `panic` panics; `slow` waits 1.5 s then 204; `slow-fail` waits 1.5 s then 500;
    /// `hang` waits 60 s (to be cancelled). Successes (204) are counted for `body`.
    pub async fn act(&self, behaviour: Option<&str>, body: &[u8]) -> Act {
        *self
            .started
            .lock()
            .unwrap()
            .entry(body.to_vec())
            .or_default() += 1;
        let act = match behaviour.unwrap_or("ok") {
            "fail" => Act::Status(500),
            "reject" => Act::Status(422),
            "err" => Act::Err,
            "panic" => panic!("the handler under test panics (on purpose)"),
            "slow" => {
                tokio::time::sleep(Duration::from_millis(1500)).await;
                Act::Status(204)
            }
            "slow-fail" => {
                tokio::time::sleep(Duration::from_millis(1500)).await;
                Act::Status(500)
            }
            "hang" => {
                tokio::time::sleep(Duration::from_secs(60)).await;
                Act::Status(204)
            }
            _ => Act::Status(204),
        };
        if act == Act::Status(204) {
            *self
                .succeeded
                .lock()
                .unwrap()
                .entry(body.to_vec())
                .or_default() += 1;
        }
        act
    }

    /// How often the handler finished successfully with `body`.
    pub fn successes(&self, body: &[u8]) -> usize {
        self.succeeded
            .lock()
            .unwrap()
            .get(body)
            .copied()
            .unwrap_or(0)
    }

    /// How often the handler started with `body`.
    pub fn starts(&self, body: &[u8]) -> usize {
        self.started.lock().unwrap().get(body).copied().unwrap_or(0)
    }
}

/// Which failure paths the server's framework can express.
#[derive(Debug, Clone, Copy)]
pub struct Paths {
    /// The service can return `Err` (tower).
    pub err: bool,
    /// The server drops a handler whose client disconnected (hyper, axum). actix-web lets it
    /// run to the end: its copies then wait on its outcome.
    pub cancels_on_disconnect: bool,
}

/// A distinct, correctly signed delivery for each `name`: a team whose id is `name`.
pub fn delivery(name: &str) -> SignedDelivery {
    let unique = format!("{name}-{}", appwrite_webhooks::LeaseToken::new());
    DeliveryBuilder::new(KEY, URL, format!(r#"{{"$id":"{unique}","name":"{name}"}}"#))
        .event(&format!("teams.{unique}.create").parse().unwrap())
        .build()
}

/// A signed team delivery whose (unsigned) events header names another team than its body:
/// every extractor refuses it with 400, so no claim may survive it.
pub fn contradicted_delivery() -> SignedDelivery {
    DeliveryBuilder::new(KEY, URL, r#"{"$id":"t2","name":"Acme"}"#)
        .event(&"teams.t1.create".parse().unwrap())
        .build()
}

/// Sends `sent` with `behaviour` and checks the guarantee on the answer: a 2xx only after a
/// success. Returns the status (0 when the connection failed, e.g. after a panic).
pub async fn deliver(
    addr: SocketAddr,
    handler: &Handler,
    sent: &SignedDelivery,
    behaviour: &'static str,
) -> u16 {
    let sent = with_headers(sent, &[(BEHAVIOUR, behaviour)]);
    let body = http_body_util::Full::new(bytes::Bytes::copy_from_slice(sent.body()));
    let status = match crate::net::send_body(&sent, addr, body).await {
        Ok((status, _)) => status,
        Err(_) => 0,
    };
    if (200..300).contains(&status) {
        assert!(
            handler.successes(sent.body()) >= 1,
            "answered {status} for a copy ({behaviour}) although no handler succeeded with it"
        );
    }
    status
}

/// Waits until the handler has started `sent` `n` times.
async fn started(handler: &Handler, sent: &SignedDelivery, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while handler.starts(sent.body()) < n {
        assert!(Instant::now() < deadline, "the handler never started");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Sends `ok` copies until one is not `409` (the server may take a moment to notice that a
/// client went away and drop its handler), and returns that status.
pub async fn once_settled(addr: SocketAddr, handler: &Handler, sent: &SignedDelivery) -> u16 {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let status = deliver(addr, handler, sent, "ok").await;
        if status != 409 || Instant::now() > deadline {
            return status;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Every failure path, with de-duplication on (a layer or middleware settles the claims).
pub async fn run(addr: SocketAddr, handler: &Handler, paths: Paths) {
    one_body_under_several_labels(addr, handler).await;

    // An error status, 5xx or 4xx, gives the delivery back: the retry is handled, then it is a
    // duplicate (200) and the handler does not run again.
    for failure in ["fail", "reject"] {
        let sent = delivery(failure);
        assert!(
            deliver(addr, handler, &sent, failure).await >= 400,
            "{failure}"
        );
        assert_eq!(
            deliver(addr, handler, &sent, "ok").await,
            204,
            "retry after {failure}"
        );
        assert_eq!(
            deliver(addr, handler, &sent, "ok").await,
            200,
            "duplicate after {failure}"
        );
        assert_eq!(handler.successes(sent.body()), 1, "{failure}");
    }

    // A panicking handler: the connection fails or a 5xx; the retry is handled.
    let sent = delivery("panic");
    let status = deliver(addr, handler, &sent, "panic").await;
    assert!(status == 0 || status >= 500, "panic answered {status}");
    assert_eq!(
        once_settled(addr, handler, &sent).await,
        204,
        "retry after a panic"
    );
    assert_eq!(deliver(addr, handler, &sent, "ok").await, 200);

    if paths.err {
        let sent = delivery("err");
        let status = deliver(addr, handler, &sent, "err").await;
        assert!(status == 0 || status >= 500, "Err answered {status}");
        // The dropped claim is released by a task: a networked store's release may land a
        // moment after the answer, as after a panic.
        assert_eq!(
            once_settled(addr, handler, &sent).await,
            204,
            "retry after Err"
        );
    }

    // The sender disconnects while the handler runs (Appwrite gives up at 15 s): the server
    // drops the handler (or, where it lets it run, the handler fails later), and the retry is
    // handled. A handler left hanging would never let it through: that proves the drop.
    let sent = delivery("disconnect");
    let abandoned = if paths.cancels_on_disconnect {
        "hang"
    } else {
        "slow-fail"
    };
    let first = {
        let (sent, handler) = (sent.clone(), handler.clone());
        tokio::spawn(async move { deliver(addr, &handler, &sent, abandoned).await })
    };
    started(handler, &sent, 1).await;
    first.abort();
    assert_eq!(
        once_settled(addr, handler, &sent).await,
        204,
        "retry after the sender disconnected"
    );

    // A copy arriving while the first is still being handled is never acknowledged before the
    // first succeeds: 409, then the first's outcome decides.
    for (first_behaviour, then) in [("slow-fail", 204), ("slow", 200)] {
        let sent = delivery(first_behaviour);
        let first = {
            let (sent, handler) = (sent.clone(), handler.clone());
            tokio::spawn(async move { deliver(addr, &handler, &sent, first_behaviour).await })
        };
        started(handler, &sent, 1).await;
        assert_eq!(
            deliver(addr, handler, &sent, "ok").await,
            409,
            "a copy while {first_behaviour} runs"
        );
        let first = first.await.unwrap();
        assert_eq!(first, if first_behaviour == "slow" { 204 } else { 500 });
        assert_eq!(
            deliver(addr, handler, &sent, "ok").await,
            then,
            "after {first_behaviour}"
        );
        assert_eq!(handler.successes(sent.body()), 1, "{first_behaviour}");
    }
}

/// Without a layer or middleware, an extractor verifies but does not de-duplicate: every copy
/// reaches the handler, whatever happened to the copies before it.
pub async fn run_without_deduplication(addr: SocketAddr, handler: &Handler) {
    let sent = delivery("bare");
    assert_eq!(deliver(addr, handler, &sent, "fail").await, 500);
    assert_eq!(deliver(addr, handler, &sent, "ok").await, 204);
    assert_eq!(deliver(addr, handler, &sent, "ok").await, 204);
    assert_eq!(handler.successes(sent.body()), 2);
}

/// The guarantee under concurrency: `copies` identical copies at once, each handler succeeding,
/// are answered with exactly one 204 and otherwise 409 or 200, never a 2xx before the success.
pub async fn concurrent_copies(addr: SocketAddr, handler: &Handler, copies: usize) {
    let sent = delivery("concurrent");
    let answers =
        futures_util::future::join_all((0..copies).map(|_| deliver(addr, handler, &sent, "ok")))
            .await;
    assert_eq!(
        answers.iter().filter(|s| **s == 204).count(),
        1,
        "{answers:?}"
    );
    assert!(
        answers.iter().all(|s| [200, 204, 409].contains(s)),
        "{answers:?}"
    );
    assert_eq!(handler.successes(sent.body()), 1);
}
