//! A store that fails (down, full, unreachable): every page and every action answers `503`
//! with the failure shown as text, escaped like every stored value, and nothing is changed.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

use appwrite_webhooks::inbox::{
    Inbox, InboxAdmin, InboxStore, Lease, Purge, Put, Received, State, Stats, Stored, Taken,
};
use appwrite_webhooks::{Fingerprint, LabelStore, MemoryLedger, StoreError, StoreFuture};
use common::*;
use http::StatusCode;

/// What the failing store says: markup, to see it escaped.
const FAILURE: &str = "connection refused <b>db-7</b>";
/// How the view shows it.
const ESCAPED: &str = "connection refused &lt;b&gt;db-7&lt;/b&gt;";

/// A memory ledger that fails every call while `down` is set.
#[derive(Clone, Default)]
struct Flaky {
    ledger: MemoryLedger,
    down: Arc<AtomicBool>,
}

impl Flaky {
    /// Calls the ledger only while up (the memory ledger acts when called, not when polled).
    fn gate<'a, T: Send + 'a>(
        &'a self,
        call: impl FnOnce(&'a MemoryLedger) -> StoreFuture<'a, T>,
    ) -> StoreFuture<'a, T> {
        if self.down.load(Ordering::SeqCst) {
            Box::pin(async { Err(StoreError(FAILURE.into())) })
        } else {
            call(&self.ledger)
        }
    }
}

impl LabelStore for Flaky {
    fn label<'a>(
        &'a self,
        body: &'a Fingerprint,
        label: &'a Fingerprint,
        limit: u32,
        keep: Duration,
    ) -> StoreFuture<'a, bool> {
        self.gate(|l| l.label(body, label, limit, keep))
    }
}

impl InboxStore for Flaky {
    fn put(&self, received: Received) -> StoreFuture<'_, Put> {
        self.gate(|l| l.put(received))
    }
    fn take(&self, worker: &str, lease: Duration) -> StoreFuture<'_, Option<Taken>> {
        self.gate(|l| l.take(worker, lease))
    }
    fn complete(&self, lease: &Lease, retention: Duration) -> StoreFuture<'_, bool> {
        self.gate(|l| InboxStore::complete(l, lease, retention))
    }
    fn fail(&self, lease: &Lease, error: &str, at: SystemTime) -> StoreFuture<'_, bool> {
        self.gate(|l| l.fail(lease, error, at))
    }
    fn dead(&self, lease: &Lease, error: &str) -> StoreFuture<'_, bool> {
        self.gate(|l| l.dead(lease, error))
    }
    fn hand_back(&self, lease: &Lease) -> StoreFuture<'_, bool> {
        self.gate(|l| l.hand_back(lease))
    }
}

impl InboxAdmin for Flaky {
    fn stats(&self) -> StoreFuture<'_, Stats> {
        self.gate(|l| l.stats())
    }
    fn list(&self, state: Option<State>, limit: usize) -> StoreFuture<'_, Vec<Stored>> {
        self.gate(|l| l.list(state, limit))
    }
    fn get(&self, id: u64) -> StoreFuture<'_, Option<Stored>> {
        self.gate(|l| l.get(id))
    }
    fn requeue(&self, id: u64) -> StoreFuture<'_, bool> {
        self.gate(|l| l.requeue(id))
    }
    fn requeue_dead(&self) -> StoreFuture<'_, u64> {
        self.gate(|l| l.requeue_dead())
    }
    fn delete_dead(&self, id: u64) -> StoreFuture<'_, bool> {
        self.gate(|l| l.delete_dead(id))
    }
    fn purge(&self, what: Purge) -> StoreFuture<'_, u64> {
        self.gate(|l| l.purge(what))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_store_is_answered_503_on_every_page_and_action() {
    let store = Flaky::default();
    let inbox = Inbox::new(store.clone());
    let id = user_created(&inbox, "u1", "Ada").await;
    kill_next(&inbox, "no").await;
    let addr = serve_view(&inbox).await;
    let token = get(addr, "/dead").await.csrf();

    store.down.store(true, Ordering::SeqCst);
    for path in [
        "/".to_owned(),
        "/deliveries".to_owned(),
        "/dead".to_owned(),
        format!("/deliveries/{id}"),
        format!("/deliveries/{id}/body"),
    ] {
        let page = get(addr, &path).await;
        assert_eq!(page.status, StatusCode::SERVICE_UNAVAILABLE, "GET {path}");
        let text = page.text();
        assert!(
            text.contains(ESCAPED) && !text.contains("<b>db-7</b>"),
            "GET {path}: the failure is shown, as text, not markup: {text}"
        );
    }
    for path in [
        format!("/deliveries/{id}/requeue"),
        format!("/deliveries/{id}/delete"),
        "/dead/requeue".to_owned(),
        "/dead/delete".to_owned(),
    ] {
        let answer = post_form(addr, &path, &token, "").await;
        assert_eq!(
            answer.status,
            StatusCode::SERVICE_UNAVAILABLE,
            "POST {path}"
        );
        let text = answer.text();
        assert!(
            text.contains(ESCAPED) && !text.contains("<b>db-7</b>"),
            "POST {path}: {text}"
        );
    }

    // Nothing changed while it was down; back up, the view works again.
    store.down.store(false, Ordering::SeqCst);
    assert_eq!(
        inbox.admin().get(id).await.unwrap().unwrap().state,
        State::Dead
    );
    assert_eq!(get(addr, "/dead").await.status, StatusCode::OK);
}
